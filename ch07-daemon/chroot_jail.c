/*
 * chroot_jail.c - Chapter 7.5 (changing the root directory): what a
 * process can still reach after chroot().
 *
 * Usage:   chroot_jail JAIL [PATH...]        (as root)
 *
 * Shows:   chroot(JAIL) makes JAIL the "/" of this process: every absolute
 *          path, and "..", now resolve inside JAIL.  chroot() does not move
 *          the working directory, so chdir("/") must follow, or relative
 *          paths would still start outside.  The program tries to open each
 *          PATH (default /etc/hostname) before and after, and prints the
 *          first line of what it could read.
 *
 * Look at: `chroot_jail /srv/jail /etc/hostname /inside.txt ../../x`:
 *          before, /etc/hostname is the machine's; after, it is
 *          ENOENT unless JAIL has its own etc/hostname, /inside.txt is
 *          JAIL/inside.txt, and ".." stops at the new root.  A server does
 *          this after loading what it needs from outside (libraries, DNS
 *          and time-zone files), and then drops root: a process that keeps
 *          root can get out of a chroot.
 *
 * Peer:    none.
 *
 * Differs from the printed chapter:
 *  - the book only describes chroot(); this is the experiment;
 *  - not root, chroot() fails with EPERM, reported with the capability it
 *    needs (CAP_SYS_CHROOT), exit 1.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] JAIL [PATH...]";
static const char HELP[] =
    "As root: chroot(JAIL), chdir(\"/\"), and show which PATHs (default\n"
    "/etc/hostname) can be opened before and after.\n";

enum { SHOW_MAX = 80 }; /* bytes of a file's first line shown */

static void
try_open(const char *when, const char *path)
{
    char buf[SHOW_MAX + 1];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        int err = errno;
        const char *name = strerrorname_np(err);
        printf("%s: %s: not reachable: %s (%s)\n", when, path, strerror(err),
               name ? name : "?");
        return;
    }
    do {
        n = read(fd, buf, SHOW_MAX);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        int err = errno;
        close(fd);
        errno = err;
        hp_die("read %s", path);
    }
    close(fd);
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    printf("%s: %s: reachable: \"%s\"\n", when, path, buf);
}

int
main(int argc, char **argv)
{
    static const char *const default_paths[] = {"/etc/hostname", NULL};
    const char *jail;
    const char *const *paths;
    char cwd[PATH_MAX];
    int argi;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 1, INT_MAX);
    jail = argv[argi];
    paths =
        argi + 1 < argc ? (const char *const *)argv + argi + 1 : default_paths;

    for (const char *const *p = paths; *p != NULL; p++)
        try_open("before", *p);

    if (chroot(jail) < 0) {
        if (errno == EPERM)
            hp_die("chroot %s needs root (CAP_SYS_CHROOT)", jail);
        hp_die("chroot %s", jail);
    }
    /* chroot() left the working directory where it was: outside. */
    if (chdir("/") < 0)
        hp_die("chdir / in the jail");
    if (getcwd(cwd, sizeof cwd) == NULL)
        hp_die("getcwd");
    printf("chroot(\"%s\") and chdir(\"/\"): cwd is now %s\n", jail, cwd);

    for (const char *const *p = paths; *p != NULL; p++)
        try_open("after", *p);
    return 0;
}
