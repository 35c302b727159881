/*
 * oob_recv.c - Listing 5-7: receive out-of-band data with MSG_OOB.
 *
 * Usage:   oob_recv [-d MS] IP PORT
 *
 * Shows:   accepts one connection and makes exactly three reads: a normal
 *          recv(), a recv() with MSG_OOB, a normal recv().  Against oob_send
 *          they return "123ab", then "c", then "123": a normal read stops at
 *          the urgent mark, and the urgent byte comes only through MSG_OOB,
 *          taken out of the stream.
 *
 * Look at: that output needs all three segments queued before the first
 *          read.  MSG_OOB never blocks: before any urgent pointer arrived it
 *          fails with EINVAL, after the pointer but before the byte with
 *          EAGAIN.  -d MS waits MS milliseconds after accept() so the sender
 *          has finished (the test may freeze this program with SIGSTOP
 *          instead).  With no wait, the reads can split differently.
 *
 * Peer:    oob_send (Listing 5-6).
 *
 * Differs from the printed listing: each read prints its byte count and its
 * bytes, bounded by what recv() returned (the book relies on a zeroed
 * buffer) with unprintable bytes escaped; a failed read reports errno as
 * text; the -d wait is new; SIGINT/SIGTERM stop it cleanly (a normal
 * recv() is preceded by a wait in ppoll, hp_wait_until, so a stop signal
 * that comes just before it is not lost).
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-d MS] IP PORT";
static const char HELP[] =
    "Accept one connection on IP:PORT, wait MS milliseconds (default 0),\n"
    "then read: normal data, urgent data (MSG_OOB), normal data.\n"
    "PORT 0 lets the kernel choose; the port is announced.  Peer: oob_send.\n";

enum { MAX_DELAY_MS = 3600 * 1000 };
enum { LISTEN_BACKLOG = 5 };
enum { BUF_SIZE = 1024 };

static volatile sig_atomic_t stop_signal;

/* LEN bytes of BUF in double quotes, C-style escapes for the unprintable. */
static void
print_quoted(const char *buf, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (isprint(c))
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    putchar('"');
}

static void
print_data(const char *kind, const char *buf, ssize_t n)
{
    printf("%s data: ", kind);
    print_quoted(buf, (size_t)n);
    printf(" (%zd byte%s)\n", n, n == 1 ? "" : "s");
}

/* One normal recv(); false if a stop signal interrupted it. */
static int
read_normal(int conn, char *buf, size_t size)
{
    ssize_t n;

    do {
        /* Sleep in ppoll, not in recv: a stop signal that comes just
         * before it is not lost (see hp_wait_until). */
        if (hp_wait_until(conn, POLLIN, &stop_signal) < 0) {
            if (errno != EINTR)
                hp_die("wait for the sender");
            return 0; /* stopped */
        }
        n = recv(conn, buf, size, 0);
    } while (n < 0 && errno == EINTR && !stop_signal);
    if (n < 0 && stop_signal)
        return 0;
    if (n < 0)
        hp_die("recv");
    if (n == 0)
        printf("normal data: EOF\n");
    else
        print_data("normal", buf, n);
    return 1;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    long delay_ms = 0;
    struct timespec left;
    char buf[BUF_SIZE];
    ssize_t n;
    int opt, fd, conn, status = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hd:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'd':
            delay_ms = hp_parse_long(optarg, 0, MAX_DELAY_MS, "delay (ms)");
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

    /* The listening socket is not this listing's lesson. */
    fd = hp_tcp_listener(&addr, LISTEN_BACKLOG, 0);
    if (fd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(fd) < 0)
        hp_die("getsockname");

    conn = hp_accept_until(fd, &peer, &stop_signal);
    if (conn < 0 && errno != EINTR)
        hp_die("accept");
    if (conn >= 0)
        printf(
            "accepted connection from %s\n",
            hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));

    left.tv_sec = delay_ms / 1000;
    left.tv_nsec = delay_ms % 1000 * 1000000L;
    while (!stop_signal && nanosleep(&left, &left) < 0) {
        if (errno != EINTR)
            hp_die("nanosleep");
    }

    if (stop_signal || !read_normal(conn, buf, sizeof buf))
        goto stopped;

    /* Never blocks: fails at once if no urgent byte is waiting. */
    n = recv(conn, buf, sizeof buf, MSG_OOB);
    if (n < 0) {
        const char *name = strerrorname_np(errno);
        printf("urgent data: recv failed: %s (%s)\n", strerror(errno),
               name ? name : "?");
        status = 1;
    } else {
        print_data("urgent", buf, n);
    }

    if (!read_normal(conn, buf, sizeof buf))
        goto stopped;

    close(conn);
    close(fd);
    return status;

stopped:
    printf("stopped by signal %d\n", (int)stop_signal);
    if (conn >= 0)
        close(conn);
    close(fd);
    return 0;
}
