/*
 * rlimit_nofile.c - Chapter 7.4 (system resource limits): RLIMIT_NOFILE,
 * seen by running into it.
 *
 * Usage:   rlimit_nofile [-n N]
 *
 * Shows:   getrlimit(RLIMIT_NOFILE) gives a soft limit (what the kernel
 *          enforces) and a hard limit (the ceiling for the soft one).  -n N
 *          sets the soft limit to N with setrlimit: anyone may lower it or
 *          raise it up to the hard limit; raising the hard limit too (N
 *          above it) needs root (CAP_SYS_RESOURCE) and stops at
 *          fs.nr_open.  Then the program opens /dev/null until open() fails,
 *          and reports how many descriptors it got and the errno: EMFILE,
 *          "too many open files", once every number below the soft limit
 *          is in use.  It closes them all before it exits.
 *
 * Look at: `rlimit_nofile -n 64`: with stdin, stdout and stderr already
 *          open it gets 61 more, fds 3 to 63, and the 62nd open fails with
 *          EMFILE.  `ulimit -n` in the shell is the same soft limit; a
 *          server sizes its fd-indexed tables from it.
 *
 * Peer:    none.
 *
 * Differs from the printed chapter:
 *  - the book only describes the calls; this is the experiment;
 *  - without -n it uses the current soft limit, if that is at most 1048576
 *    descriptors.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-n N]";
static const char HELP[] =
    "Show RLIMIT_NOFILE, set its soft limit to N (-n; above the hard limit\n"
    "needs root), then open /dev/null until open() fails with EMFILE and\n"
    "report how many descriptors that took.\n";

/* The most descriptors the experiment will try to open (fs.nr_open's
 * default): a soft limit of "unlimited" would never end. */
#define MAX_TRY 1048576L

static void
print_limit(const char *what, rlim_t v)
{
    if (v == RLIM_INFINITY)
        printf(" %s unlimited", what);
    else
        printf(" %s %llu", what, (unsigned long long)v);
}

int
main(int argc, char **argv)
{
    struct rlimit lim;
    long want = -1, already = 0, got = 0;
    bool raise_hard = false;
    int opt, fd, err, *fds;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hn:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'n':
            want = hp_parse_long(optarg, 1, MAX_TRY, "N");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc != optind)
        hp_usage(2);

    if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
        hp_die("getrlimit RLIMIT_NOFILE");
    printf("RLIMIT_NOFILE:");
    print_limit("soft", lim.rlim_cur);
    print_limit("hard", lim.rlim_max);
    printf("\n");

    if (want > 0) {
        lim.rlim_cur = (rlim_t)want;
        if (lim.rlim_max != RLIM_INFINITY && lim.rlim_cur > lim.rlim_max) {
            lim.rlim_max = lim.rlim_cur; /* root only (CAP_SYS_RESOURCE) */
            raise_hard = true;
        }
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
            hp_die("setrlimit RLIMIT_NOFILE soft %ld%s", want,
                   raise_hard ? " (raising the hard limit)" : "");
        printf("setrlimit: soft limit now %ld\n", want);
    }
    if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > (rlim_t)MAX_TRY)
        hp_diex("a soft limit above %ld is too many to open: give -n N",
                MAX_TRY);

    /* Which numbers below the limit are taken already (0, 1, 2 ...)? */
    for (long i = 0; i < (long)lim.rlim_cur; i++)
        if (fcntl((int)i, F_GETFD) != -1)
            already++;
    printf("already open: %ld\n", already);

    fds = calloc(lim.rlim_cur, sizeof *fds);
    if (fds == NULL)
        hp_die("calloc");
    for (;;) {
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        fds[got++] = fd;
    }
    err = errno;
    if (got > 0)
        printf("opened %ld descriptors, fds %d to %d\n", got, fds[0],
               fds[got - 1]);
    else
        printf("opened 0 descriptors\n");
    printf("open #%ld failed: %s (%s)\n", got + 1, strerror(err),
           strerrorname_np(err) ? strerrorname_np(err) : "?");
    for (long i = 0; i < got; i++)
        close(fds[i]);
    printf("closed all %ld\n", got);
    free(fds);
    if (err != EMFILE)
        hp_diex("expected EMFILE, the per-process limit");
    return 0;
}
