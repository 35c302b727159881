/*
 * accept_delayed.c - Listing 5-5: accept() a connection whose client is gone.
 *
 * Usage:   accept_delayed [-d DELAY] IP PORT
 *          DELAY as "20" or "20s" (seconds, the default), "300ms", "1.5s".
 *
 * Shows:   accept() only takes an already established connection off the
 *          listener's queue; it does not care what happened to it since.
 *          The server listens, waits DELAY, then accepts one connection.
 *
 * Look at: connect a client during the wait and make it vanish: close it
 *          (FIN) or abort it (RST, SO_LINGER {1, 0}), or pull the cable.
 *          accept() still succeeds and prints the client's real address.
 *          After a FIN the socket is in CLOSE_WAIT and the first recv()
 *          returns 0; after an RST it is CLOSE and recv() fails with
 *          ECONNRESET.
 *
 * Peer:    any TCP client (nc, telnet, the test's scripted client).
 *
 * Differs from the printed listing:
 *  - the 20-second pause (missing from the commonly cloned source, which
 *    defeats the experiment) is back, as -d;
 *  - the state of the accepted socket and the outcome of a first recv()
 *    are shown;
 *  - errors are text, not errno numbers; no assert on system calls.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-d DELAY] IP PORT";
static const char HELP[] =
    "Listen on IP:PORT, wait DELAY, then accept one connection and show what\n"
    "became of it.  DELAY: \"20s\" (the default), \"300ms\", \"1.5s\" or bare\n"
    "seconds, at most 3600 s.  Make the client close or abort during the\n"
    "wait.  PORT 0 lets the kernel choose; the port is announced.\n";

enum { DEFAULT_DELAY_MS = 20 * 1000, MAX_DELAY_MS = 3600 * 1000 };
enum { LISTEN_BACKLOG = 5 };
enum { FIRST_RECV_SIZE = 64 };

static const char *
tcp_state_name(unsigned state)
{
    static const char *const names[] = {
        [TCP_ESTABLISHED] = "ESTABLISHED",
        [TCP_SYN_SENT] = "SYN_SENT",
        [TCP_SYN_RECV] = "SYN_RECV",
        [TCP_FIN_WAIT1] = "FIN_WAIT1",
        [TCP_FIN_WAIT2] = "FIN_WAIT2",
        [TCP_TIME_WAIT] = "TIME_WAIT",
        [TCP_CLOSE] = "CLOSE",
        [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
        [TCP_LAST_ACK] = "LAST_ACK",
        [TCP_LISTEN] = "LISTEN",
        [TCP_CLOSING] = "CLOSING",
    };

    if (state < sizeof names / sizeof names[0] && names[state] != NULL)
        return names[state];
    return "unknown";
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    long long delay_ms = DEFAULT_DELAY_MS;
    struct timespec left;
    struct tcp_info info;
    socklen_t info_len = sizeof info;
    char buf[FIRST_RECV_SIZE];
    ssize_t n;
    int opt, fd, conn;

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

    /* The lesson happens here: the client connects and vanishes. */
    printf("waiting %lld ms before accept\n", delay_ms);
    left.tv_sec = delay_ms / 1000;
    left.tv_nsec = delay_ms % 1000 * 1000000L;
    while (nanosleep(&left, &left) < 0) {
        if (errno != EINTR)
            hp_die("nanosleep");
    }

    conn = accept(fd, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0)
        hp_die("accept");
    printf("accepted connection from %s\n",
           hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));

    if (getsockopt(conn, IPPROTO_TCP, TCP_INFO, &info, &info_len) < 0)
        hp_die("getsockopt TCP_INFO");
    printf("state after accept: %s\n", tcp_state_name(info.tcpi_state));

    n = recv(conn, buf, sizeof buf, 0);
    if (n < 0) {
        const char *name = strerrorname_np(errno);
        printf("first recv failed: %s (%s)\n", strerror(errno),
               name ? name : "?");
    } else if (n == 0) {
        printf("first recv: 0 bytes (the peer had closed: FIN)\n");
    } else {
        printf("first recv: %zd bytes\n", n);
    }

    close(conn);
    close(fd);
    return 0;
}
