/*
 * select_oob_recv.c - Listing 9-1: select() tells normal data from urgent
 * (out-of-band) data.
 *
 * Usage:   select_oob_recv [-i] IP PORT
 *
 * Shows:   one accepted connection, watched by select() in two sets at once:
 *          the read set (normal data is waiting) and the exception set (an
 *          urgent byte is waiting).  An exceptional socket gets a recv()
 *          with MSG_OOB, a readable one a normal recv(); each result is
 *          printed.  The program ends at end of file.
 *
 * Look at: against oob_send ("123", "abc" with MSG_OOB, "123") the urgent
 *          byte 'c' is reported through the exception set and read on its
 *          own; the normal reads give "123ab" (a read stops at the urgent
 *          mark) and "123".  When everything is queued before the first
 *          select(), both sets are ready at once: the exception set is
 *          served first, so 'c' comes out before "123ab".  -i sets
 *          SO_OOBINLINE: the urgent byte stays in the stream ("123ab",
 *          "c123") and MSG_OOB fails with EINVAL, while select() still
 *          reports the exception until the mark has been read past.
 *
 * Peer:    oob_send (Listing 5-6).
 *
 * Differs from the printed listing:
 *  - the exception set is tested before the read set: when both are ready,
 *    the book's normal read steps over the urgent byte, which is lost;
 *  - a connection on an fd >= FD_SETSIZE is refused before FD_SET;
 *  - a failed accept() ends the program (the book went on with fd -1);
 *  - output is bounded by what recv() returned, unprintable bytes quoted;
 *  - -i (SO_OOBINLINE) is new.
 * It serves one connection in plain accept/select/recv, so SIGTERM's
 * default action ends it (DESIGN.md, "Stopping").
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-i] IP PORT";
static const char HELP[] =
    "Accept one connection on IP:PORT and select() on it for normal data\n"
    "(read set) and urgent data (exception set) until end of file.\n"
    "  -i   set SO_OOBINLINE: urgent data stays in the normal stream\n"
    "PORT 0 lets the kernel choose; the port is announced.  Peer: oob_send.\n";

enum { LISTEN_BACKLOG = 5 };
enum { BUF_SIZE = 1024 };

/* "KIND data: "TEXT" (N bytes)", unprintable bytes escaped. */
static void
print_data(const char *kind, const char *buf, ssize_t n)
{
    char text[HP_QUOTED_SIZE(BUF_SIZE)];

    hp_quote(text, sizeof text, buf, (size_t)n);
    printf("%s data: %s (%zd byte%s)\n", kind, text, n, n == 1 ? "" : "s");
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    char buf[BUF_SIZE];
    fd_set read_fds, exception_fds;
    int opt, fd, conn, inline_oob = 0;
    ssize_t n;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hi")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'i':
            inline_oob = 1;
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    /* The listening socket is not this listing's lesson. */
    fd = hp_tcp_listener(&addr, LISTEN_BACKLOG, 0);
    if (fd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(fd) < 0)
        hp_die("getsockname");

    conn = accept(fd, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0)
        hp_die("accept"); /* the book went on with conn == -1 */
    printf("accepted connection from %s\n",
           hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));
    /* FD_SET on an fd >= FD_SETSIZE writes past the end of the fd_set. */
    if (conn >= FD_SETSIZE)
        hp_diex("fd %d is too large for select() (FD_SETSIZE is %d)", conn,
                FD_SETSIZE);
    if (inline_oob) {
        int one = 1;
        if (setsockopt(conn, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one) < 0)
            hp_die("setsockopt SO_OOBINLINE");
        printf("SO_OOBINLINE set: urgent data stays in the normal stream\n");
    }

    for (;;) {
        /* select() overwrites its sets: fill them again every time. */
        FD_ZERO(&read_fds);
        FD_ZERO(&exception_fds);
        FD_SET(conn, &read_fds);
        FD_SET(conn, &exception_fds);
        if (select(conn + 1, &read_fds, NULL, &exception_fds, NULL) < 0)
            hp_die("select");

        /* Exception first: a normal read at the urgent mark would skip
         * the urgent byte and lose it. */
        if (FD_ISSET(conn, &exception_fds)) {
            n = recv(conn, buf, sizeof buf, MSG_OOB);
            if (n < 0 && errno == EINVAL) {
                /* SO_OOBINLINE: there is no out-of-band byte to take */
                printf("urgent data: recv failed: %s (EINVAL)\n",
                       strerror(errno));
            } else if (n < 0) {
                hp_die("recv MSG_OOB");
            } else if (n > 0) {
                print_data("urgent", buf, n);
            }
        }
        if (FD_ISSET(conn, &read_fds)) {
            n = recv(conn, buf, sizeof buf, 0);
            if (n < 0)
                hp_die("recv");
            if (n == 0) {
                printf("normal data: EOF\n");
                break;
            }
            print_data("normal", buf, n);
        }
    }
    close(conn);
    close(fd);
    return 0;
}
