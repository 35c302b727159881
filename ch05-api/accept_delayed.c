/*
 * accept_delayed.c - Listing 5-5: accept() a connection whose client is gone.
 *
 * Usage:   accept_delayed [-d DELAY] IP PORT
 *          DELAY in seconds (default 20), or in milliseconds as "300ms".
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
 * Differs from the printed listing: the 20-second pause (missing from the
 * commonly cloned source, which defeats the experiment) is back, as -d; the
 * state of the accepted socket and the outcome of a first recv() are shown;
 * errors are text, not errno numbers; no assert on system calls; SIGINT and
 * SIGTERM stop it cleanly at any point: accept() and recv() are each
 * preceded by a wait in ppoll (hp_wait_until), so a stop signal that comes
 * just before them is not lost.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-d DELAY] IP PORT";
static const char HELP[] =
    "Listen on IP:PORT, wait DELAY, then accept one connection and show what\n"
    "became of it.  DELAY is seconds (default 20) or milliseconds with an\n"
    "\"ms\" suffix, at most 3600 s.  Make the client close or abort during\n"
    "the wait.  PORT 0 lets the kernel choose; the port is announced.\n";

enum { DEFAULT_DELAY_S = 20, MAX_DELAY_S = 3600 };
enum { LISTEN_BACKLOG = 5 };
enum { FIRST_RECV_SIZE = 64 };

static volatile sig_atomic_t stop_signal;

/* "20" is seconds, "300ms" milliseconds; returns milliseconds. */
static long
parse_delay_ms(const char *s)
{
    size_t len = strlen(s);
    char digits[32];

    if (len <= 2 || strcmp(s + len - 2, "ms") != 0)
        return hp_parse_long(s, 0, MAX_DELAY_S, "delay (seconds)") * 1000;
    if (len - 2 >= sizeof digits)
        hp_bad_usage("delay '%s': too long", s);
    memcpy(digits, s, len - 2);
    digits[len - 2] = '\0';
    return hp_parse_long(digits, 0, MAX_DELAY_S * 1000L, "delay (ms)");
}

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
    long delay_ms = DEFAULT_DELAY_S * 1000L;
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
            delay_ms = parse_delay_ms(optarg);
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
    printf("waiting %ld ms before accept\n", delay_ms);
    left.tv_sec = delay_ms / 1000;
    left.tv_nsec = delay_ms % 1000 * 1000000L;
    while (!stop_signal && nanosleep(&left, &left) < 0) {
        if (errno != EINTR)
            hp_die("nanosleep");
    }

    conn = -1;
    while (!stop_signal && conn < 0) {
        /* Sleep in ppoll, not in accept: a stop signal that comes just
         * after the test of the flag then ends the wait, not lost. */
        if (hp_wait_until(fd, POLLIN, &stop_signal) < 0) {
            if (errno != EINTR)
                hp_die("wait for a connection");
            break; /* stopped */
        }
        conn = accept(fd, (struct sockaddr *)&peer, &peer_len);
        if (conn < 0 && errno != EINTR)
            hp_die("accept");
    }
    if (stop_signal) {
        printf("stopped by signal %d\n", (int)stop_signal);
        if (conn >= 0)
            close(conn);
        close(fd);
        return 0;
    }
    printf("accepted connection from %s\n",
           hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));

    if (getsockopt(conn, IPPROTO_TCP, TCP_INFO, &info, &info_len) < 0)
        hp_die("getsockopt TCP_INFO");
    printf("state after accept: %s\n", tcp_state_name(info.tcpi_state));

    do {
        if (hp_wait_until(conn, POLLIN, &stop_signal) < 0) {
            if (errno != EINTR)
                hp_die("wait for the client");
            n = -1; /* stopped */
            break;
        }
        n = recv(conn, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR && !stop_signal);
    if (n < 0 && stop_signal) {
        printf("stopped by signal %d\n", (int)stop_signal);
    } else if (n < 0) {
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
