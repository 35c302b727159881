/*
 * splice_echo.c - lab splice-echo, starter code: the zero-copy echo server
 * of Listing 6-4.
 *
 * Usage:   splice_echo IP PORT
 *
 * What it must do: accept one connection and echo back everything the
 * client sends, moving the bytes socket -> pipe -> socket with splice(),
 * until the client half-closes; then print the "echoed ..." line and exit
 * 0.  Everything but the echo loop is written for you; look for TODO(lab).
 * The handout is labs/splice-echo/README.md.
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

    /* TODO(lab): echo everything the client sends back to it through
     * the pipe, without the bytes ever entering this program: kernel to
     * pipe, pipe to kernel, until the client shuts down its sending side.
     * Count the bytes echoed and the calls made in each direction for the
     * line below.  A reply must leave at once, not wait for more data. */

    printf("echoed %lld bytes: %d splice calls socket -> pipe, %d pipe -> "
           "socket\n",
           echoed, calls_in, calls_out);
    close(pipefd[0]);
    close(pipefd[1]);
    close(conn);
    close(fd);
    return 0;
}
