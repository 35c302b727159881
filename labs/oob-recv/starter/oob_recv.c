/*
 * oob_recv.c - lab oob-recv, starter code: the receiver of Listing 5-7.
 *
 * Usage:   oob_recv [-d DELAY] IP PORT
 *
 * What it must do: accept one connection and make exactly three reads:
 * normal data, the urgent byte (MSG_OOB), normal data again.  Against
 * oob_send the three lines are "123ab", "c", "123".  Everything but the
 * last two reads is written for you; look for TODO(lab).  The handout is
 * labs/oob-recv/README.md.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-d DELAY] IP PORT";
static const char HELP[] =
    "Accept one connection on IP:PORT, wait DELAY (\"250ms\", \"2s\"; default\n"
    "0), then read: normal data, urgent data (MSG_OOB), normal data.\n"
    "PORT 0 lets the kernel choose; the port is announced.  Peer: oob_send.\n";

enum { MAX_DELAY_MS = 3600 * 1000 };
enum { LISTEN_BACKLOG = 5 };
enum { BUF_SIZE = 1024 };

/* "normal data: "123ab" (5 bytes)", or the end of the stream. */
static void
print_data(const char *kind, const char *buf, ssize_t n)
{
    char quoted[HP_QUOTED_SIZE(BUF_SIZE)];

    if (n == 0) {
        printf("%s data: EOF\n", kind);
        return;
    }
    hp_quote(quoted, sizeof quoted, buf, (size_t)n);
    printf("%s data: %s (%zd byte%s)\n", kind, quoted, n, n == 1 ? "" : "s");
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    long long delay_ms = 0;
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
            delay_ms = hp_parse_duration(optarg, 0, MAX_DELAY_MS, "delay");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        hp_die("socket");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        hp_die("bind %s", addr_text);
    if (listen(fd, LISTEN_BACKLOG) < 0)
        hp_die("listen");
    if (hp_announce_listener(fd) < 0)
        hp_die("getsockname");

    conn = accept(fd, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0)
        hp_die("accept");
    printf("accepted connection from %s\n",
           hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));

    left.tv_sec = delay_ms / 1000;
    left.tv_nsec = delay_ms % 1000 * 1000000L;
    while (nanosleep(&left, &left) < 0) {
        if (errno != EINTR)
            hp_die("nanosleep");
    }

    /* The first read: normal data.  With all three segments queued, it
     * stops at the urgent mark. */
    n = recv(conn, buf, sizeof buf, 0);
    if (n < 0)
        hp_die("recv");
    print_data("normal", buf, n);

    /* TODO(lab): read the urgent byte out of band and print it as
     * "urgent" data.  This read must never block, and it can fail (no
     * urgent byte is waiting): print the error on stdout as
     * "urgent data: recv failed: <text> (<ENAME>)" and end with status 1
     * instead of dying.  Then read once more, normally, and print what
     * came after the urgent byte. */

    close(conn);
    close(fd);
    return status;
}
