/*
 * reuse_addr_server.c - Listing 5-9: bind a port still held by TIME_WAIT.
 *
 * Usage:   reuse_addr_server [-n] IP PORT
 *          -n  leave SO_REUSEADDR unset, for contrast
 *
 * Shows:   sets SO_REUSEADDR before bind(), accepts one connection, prints
 *          the peer, closes the connection first and exits.  The side that
 *          closes first ends in TIME_WAIT, here the server's IP:PORT, for
 *          60 s on Linux.  SO_REUSEADDR lets a new listener bind that port
 *          anyway; without it bind() fails with EADDRINUSE.
 *
 * Look at: after a run, `ss -tan state time-wait` shows the server's port.
 *          Rerun at once on the same port: it works; with -n it fails with
 *          "Address already in use (EADDRINUSE)" and exits 1.  If the client
 *          closes first the TIME_WAIT is on the client's side and both
 *          reruns work.  (The sysctl tcp_tw_recycle the book mentions was
 *          removed in Linux 4.12.)
 *
 * Peer:    a client that connects and reads until EOF, e.g. `nc IP PORT`.
 *
 * Differs from the printed listing:
 *  - the setsockopt() result is checked;
 *  - a bind failure gives a message naming the address, not an assert;
 *  - -n is new; the connection is closed before the listener, on purpose.
 */
#include "hpsp.h"

#include <stdio.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-n] IP PORT";
static const char HELP[] =
    "Set SO_REUSEADDR (not with -n), bind IP:PORT, accept one connection,\n"
    "close it first (this side keeps TIME_WAIT) and exit.  Run it again at\n"
    "once on the same port: only with SO_REUSEADDR does bind() succeed.\n";

enum { LISTEN_BACKLOG = 5 };

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    int reuse = 1;
    int opt, fd, conn;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hn")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'n':
            reuse = 0;
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
    if (reuse &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) < 0)
        hp_die("setsockopt SO_REUSEADDR");
    printf("SO_REUSEADDR: %s\n", reuse ? "on" : "off");
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

    /* Close the connection first: its TIME_WAIT stays on this side. */
    close(conn);
    close(fd);
    printf("closed the connection first: TIME_WAIT is on this side\n");
    return 0;
}
