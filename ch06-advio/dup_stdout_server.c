/*
 * dup_stdout_server.c - Listing 6-1: point stdout at a socket, CGI style.
 *
 * Usage:   dup_stdout_server IP PORT
 *
 * Shows:   accepts one connection, makes fd 1 a duplicate of the connected
 *          socket, and then simply printf()s "abcd\n": the text goes to the
 *          client, not to the terminal.  A CGI server does the same so that
 *          the script it runs writes its reply with ordinary prints.
 *
 * Look at: the client receives exactly "abcd\n", then end of file.  This
 *          program's own stdout shows nothing after "listening on": once
 *          fd 1 is the socket, stdio does not know or care.  Under strace:
 *          dup2(4, 1) = 1, then write(1, "abcd\n", 5).
 *
 * Peer:    any client that reads to end of file, e.g. `nc IP PORT`.
 *
 * Differs from the printed listing:
 *  - stdout is flushed before the switch (text still buffered would go to
 *    the client) and after the print (a failed send is reported);
 *  - dup2() onto fd 1, checked, replaces close(1) + dup(), which silently
 *    picks another descriptor when fd 0 is closed;
 *  - the stale assert after accept is gone; both descriptors are closed.
 */
#include "hpsp.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT";
static const char HELP[] =
    "Accept one connection on IP:PORT, make it this program's stdout with\n"
    "dup2(), print \"abcd\" (which the client receives) and exit.\n";

enum { LISTEN_BACKLOG = 5 };

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN];
    int argi, fd, conn;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 2, 2);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    /* A client that leaves early must give EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);

    fd = hp_tcp_listener(&addr, LISTEN_BACKLOG, 0);
    if (fd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(fd) < 0)
        hp_die("getsockname");

    conn = accept(fd, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0)
        hp_die("accept");

    /* Whatever stdio still holds belongs to the old stdout. */
    if (fflush(stdout) == EOF)
        hp_die("flush stdout");
    /* The lesson: fd 1 now refers to the connection. */
    if (dup2(conn, STDOUT_FILENO) < 0)
        hp_die("dup2");
    if (printf("abcd\n") < 0 || fflush(stdout) == EOF)
        hp_die("send to the client through stdout");

    close(STDOUT_FILENO);
    close(conn);
    close(fd);
    return 0;
}
