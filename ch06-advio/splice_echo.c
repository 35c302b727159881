/*
 * splice_echo.c - Listing 6-4: a zero-copy echo server with splice().
 *
 * Usage:   splice_echo IP PORT
 *
 * Shows:   accepts one connection and echoes everything it sends back to
 *          it through a pipe: splice() moves bytes from the socket into the
 *          pipe, a second splice() moves them from the pipe to the socket.
 *          The data never enters this program's memory; splice() needs a
 *          pipe on one side, so the pipe is the kernel-side buffer.  It ends
 *          when the client half-closes (the first splice returns 0).
 *
 * Look at: strace -e trace=splice,read,recvfrom,write,sendto shows only
 *          splice(4, NULL, 6, ...) and splice(5, NULL, 4, ...) moving the
 *          payload; no read, recv, write or send touches it.
 *
 * Peer:    any client that sends, half-closes and reads, e.g.
 *          `printf 'hello\n' | nc -N IP PORT`; or type lines into `nc`.
 *
 * Differs from the printed listing:
 *  - the book makes one round of at most 32 KB, so anything after the
 *    first chunk is never echoed; this one loops until the client closes;
 *  - each chunk is drained from the pipe in full (the second splice may
 *    move less than the first);
 *  - only the socket -> pipe splice is flagged SPLICE_F_MORE: on the way
 *    out it means MSG_MORE, and TCP would hold back a short reply;
 *  - splice() results are checked; the pipe is closed; the assert on a
 *    stale variable after accept is gone.  SPLICE_F_MOVE is kept, though
 *    the kernel treats it only as a hint.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT";
static const char HELP[] =
    "Accept one connection on IP:PORT and echo it back through a pipe with\n"
    "splice(), until the client closes its side.\n";

enum { LISTEN_BACKLOG = 5 };
enum { PIPE_CHUNK = 65536 }; /* a pipe's default capacity: 16 pages */

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    long long echoed = 0;
    int pipefd[2], argi, fd, conn, calls_in = 0, calls_out = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 2, 2);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    signal(SIGPIPE, SIG_IGN);

    fd = hp_tcp_listener(&addr, LISTEN_BACKLOG, 0);
    if (fd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(fd) < 0)
        hp_die("getsockname");
    conn = accept(fd, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0)
        hp_die("accept");
    printf("accepted connection from %s\n",
           hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        hp_die("pipe2");

    for (;;) {
        /* socket -> pipe: whatever has arrived, up to a pipeful */
        ssize_t n = splice(conn, NULL, pipefd[1], NULL, PIPE_CHUNK,
                           SPLICE_F_MORE | SPLICE_F_MOVE);
        if (n < 0)
            hp_die("splice socket -> pipe");
        if (n == 0) /* the client shut down its sending side */
            break;
        calls_in++;
        /* pipe -> socket: all of it, however many calls that takes */
        while (n > 0) {
            ssize_t m =
                splice(pipefd[0], NULL, conn, NULL, (size_t)n, SPLICE_F_MOVE);
            if (m < 0)
                hp_die("splice pipe -> socket");
            calls_out++;
            n -= m;
            echoed += m;
        }
    }
    printf("echoed %lld bytes: %d splice calls socket -> pipe, %d pipe -> "
           "socket\n",
           echoed, calls_in, calls_out);
    close(pipefd[0]);
    close(pipefd[1]);
    close(conn);
    close(fd);
    return 0;
}
