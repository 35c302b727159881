/*
 * rcvbuf_server.c - Listing 5-11: set the TCP receive buffer size (SO_RCVBUF).
 *
 * Usage:   rcvbuf_server IP PORT SIZE
 *
 * Shows:   asks for a SIZE-byte receive buffer with setsockopt(SO_RCVBUF) on
 *          the listening socket, before listen(), and reads the value back.
 *          The accepted connection inherits it.  It reads until EOF, counts
 *          the bytes and exits.
 *
 * Look at: the same rule as SO_SNDBUF: the request is doubled, capped at
 *          2 x net.core.rmem_max and raised to a floor (2304 on current
 *          x86-64 kernels), so 50 gives 2304 and 2000 gives 4000.  With
 *          `tcpdump -i lo -n -v tcp port PORT` the server's SYN-ACK
 *          advertises a small window with window scale 0 (1152 for a
 *          2304-byte buffer) instead of about 65 K with a scale; all the
 *          data still arrives.  Setting the size turns off receive-buffer
 *          autotuning for the socket.  It must be set before listen(): the
 *          window scale is chosen during the handshake.
 *
 * Peer:    sndbuf_client (Listing 5-10), or any client, e.g. `nc IP PORT`.
 *
 * Differs from the printed listing:
 *  - setsockopt() and getsockopt() are checked and use a socklen_t length;
 *  - SIZE is parsed strictly (no atoi);
 *  - the received bytes are counted and printed instead of discarded;
 *  - the inherited value of the accepted socket is shown.
 */
#include "hpsp.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT SIZE";
static const char HELP[] =
    "Set SO_RCVBUF to SIZE on the listening socket, show what the kernel\n"
    "made of it, accept one connection on IP:PORT and read it to EOF.\n"
    "PORT 0 lets the kernel choose; the port is announced.\n"
    "Peer: sndbuf_client.\n";

enum { LISTEN_BACKLOG = 5 };
enum { BUF_SIZE = 1024 };

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    char buf[BUF_SIZE];
    unsigned long long total = 0;
    int size, value;
    socklen_t len;
    ssize_t n;
    int argi, fd, conn;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 3, 3);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    size = (int)hp_parse_long(argv[argi + 2], 0, INT_MAX, "size");
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        hp_die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
        hp_die("setsockopt SO_RCVBUF");
    len = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &len) < 0)
        hp_die("getsockopt SO_RCVBUF");
    printf("SO_RCVBUF: asked for %d, kernel set %d\n", size, value);

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
    len = sizeof value;
    if (getsockopt(conn, SOL_SOCKET, SO_RCVBUF, &value, &len) < 0)
        hp_die("getsockopt SO_RCVBUF");
    printf("accepted socket SO_RCVBUF: %d (inherited)\n", value);

    while ((n = recv(conn, buf, sizeof buf, 0)) > 0)
        total += (unsigned long long)n;
    if (n < 0)
        hp_die("recv");
    printf("received %llu bytes\n", total);

    close(conn);
    close(fd);
    return 0;
}
