/*
 * connect_timeout.c - Listing 11-1: a connect() with a timeout, from
 * SO_SNDTIMEO.
 *
 * Usage:   connect_timeout [-t TIMEOUT] IP PORT
 *          TIMEOUT a duration: "300ms", "2s", "1.5" (default 10s).
 *
 * Shows:   a socket's send timeout also bounds a blocking connect().  When
 *          the handshake has not completed in time, connect() gives up and
 *          fails with EINPROGRESS: the same errno a non-blocking connect
 *          returns, because the attempt is, in the kernel's eyes, still
 *          under way.  No select, no alarm, no second thread.
 *
 * Look at: against a listener whose accept queue is full (the kernel drops
 *          the SYN and retransmits it after 1 s, 3 s ...) it reports the
 *          timeout after TIMEOUT, with EINPROGRESS.  A closed port refuses
 *          at once (ECONNREFUSED), which is not a timeout.  A listener with
 *          room answers at once.  Exit 0 only when connected.
 *
 * Peer:    any TCP listener (nc -l, listen_backlog of chapter 5 with its
 *          queue filled, the test's harness listener with backlog 0).
 *
 * Differs from the printed listing:
 *  - the socket is closed on every path (the book leaks it on failure and
 *    never closes it on success);
 *  - the setsockopt is checked, not asserted;
 *  - errors other than the timeout are named; the time connect() took is
 *    measured on CLOCK_MONOTONIC and shown;
 *  - SIGINT and SIGTERM stop a waiting connect() and exit 0.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-t TIMEOUT] IP PORT";
static const char HELP[] =
    "Connect to IP:PORT with SO_SNDTIMEO set to TIMEOUT: 300ms, 2s, 1.5\n"
    "(default 10s; 1ms to 3600s).  A connect that times out fails with\n"
    "EINPROGRESS.  Exit 0 when connected, 1 otherwise.\n";

enum { DEFAULT_TIMEOUT_MS = 10 * 1000, MAX_TIMEOUT_MS = 3600 * 1000 };

static volatile sig_atomic_t stop_signal;

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *
errname(int err)
{
    const char *name = strerrorname_np(err);
    return name ? name : "?";
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    long timeout_ms = DEFAULT_TIMEOUT_MS;
    struct timeval tv;
    uint64_t start, took;
    int opt, fd, rc, err, status;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+ht:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 't':
            timeout_ms =
                (long)hp_parse_duration(optarg, 1, MAX_TIMEOUT_MS, "timeout");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    if (hp_catch_term(&stop_signal) < 0)
        hp_die("sigaction");

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        hp_die("socket");

    /* From here on every path goes through the close() at the end. */
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = timeout_ms % 1000 * 1000;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
        hp_warn("setsockopt SO_SNDTIMEO");
        close(fd);
        return 1;
    }
    printf("connecting to %s, SO_SNDTIMEO %ld ms\n", addr_text, timeout_ms);

    start = now_ms();
    rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    err = errno;
    took = now_ms() - start;

    if (rc == 0) {
        printf("connected to %s after %llu ms\n", addr_text,
               (unsigned long long)took);
        status = 0;
    } else if (err == EINPROGRESS) {
        /* the send timeout ran out during the handshake */
        printf("timed out after %llu ms: connect failed with %s (%s)\n",
               (unsigned long long)took, errname(err), strerror(err));
        status = 1;
    } else if (err == EINTR && stop_signal) {
        printf("stopped by signal %d after %llu ms\n", (int)stop_signal,
               (unsigned long long)took);
        status = 0;
    } else {
        errno = err;
        hp_warn("connect to %s failed after %llu ms", addr_text,
                (unsigned long long)took);
        status = 1;
    }
    if (close(fd) < 0) {
        hp_warn("close");
        status = 1;
    }
    return status;
}
