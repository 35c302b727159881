/*
 * epoll_lt_et.c - Listing 9-3: level-triggered (LT) and edge-triggered (ET)
 * epoll, side by side.
 *
 * Usage:   epoll_lt_et [-e] IP PORT
 *
 * Shows:   an epoll server that prints what its clients send, through a
 *          deliberately tiny buffer (10 bytes, so each recv() takes 9).
 *          Every wake-up for a connection prints a "triggered" line.  In LT
 *          mode (the default) each wake-up reads once and leaves the rest
 *          for the next epoll_wait(), which reports the fd again at once.
 *          With -e the connections are registered with EPOLLET: one
 *          wake-up per arrival, so the handler must read in a loop until
 *          recv() fails with EAGAIN, or the rest waits for the next
 *          arrival.
 *
 * Look at: send 40 bytes in one write (printf '%040d' 0 | nc IP PORT).  LT:
 *          5 "triggered" lines, each followed by one read (9, 9, 9, 9, 4).
 *          ET: 1 "triggered" line, 5 reads, then "read later (EAGAIN)".
 *          Under `strace -e epoll_wait,epoll_pwait` LT returns from the
 *          wait 5 times for the data, ET once.
 *
 * Peer:    any TCP client (nc; the test sends 40 bytes in one write).
 *
 * Differs from the printed listing:
 *  - -e picks the mode (the book edits which function main calls);
 *  - ET: a 0-byte read closes the socket and leaves the loop (the book
 *    reads the closed fd on and closes it twice);
 *  - the listener stays level-triggered, so connections that arrive
 *    together are all accepted (the book's ET listener took one a wake-up);
 *  - accept() is checked; a read error is reported and closes the socket;
 *  - SIGINT/SIGTERM close everything and exit 0 (epoll_pwait unblocks them
 *    only while it waits).
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-e] IP PORT";
static const char HELP[] =
    "An epoll server that prints what clients send, 9 bytes per recv().\n"
    "  -e   edge-triggered connections (default: level-triggered)\n"
    "PORT 0 lets the kernel choose; the port is announced.\n";

enum { MAX_EVENT_NUMBER = 1024 };
enum { BUFFER_SIZE = 10 }; /* tiny on purpose: several reads per arrival */
enum { LISTEN_BACKLOG = 5 };

static volatile sig_atomic_t stop_signal;

/* Connections still open, indexed by fd: closed at exit.  Sized from
 * RLIMIT_NOFILE, so every fd the kernel can give us fits. */
static unsigned char *conn_open;
static size_t conn_max;

static int
setnonblocking(int fd)
{
    int old_option = fcntl(fd, F_GETFL);
    if (old_option < 0 || fcntl(fd, F_SETFL, old_option | O_NONBLOCK) < 0)
        return -1;
    return old_option;
}

/* Watch FD for input, edge-triggered if ENABLE_ET; make it non-blocking. */
static void
addfd(int epollfd, int fd, int enable_et)
{
    struct epoll_event event;

    memset(&event, 0, sizeof event);
    event.data.fd = fd;
    event.events = EPOLLIN;
    if (enable_et)
        event.events |= EPOLLET;
    if (epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &event) < 0)
        hp_die("epoll_ctl ADD fd %d", fd);
    if (setnonblocking(fd) < 0)
        hp_die("fcntl O_NONBLOCK fd %d", fd);
}

static void
close_conn(int fd, const char *why)
{
    printf("fd %d: %s, closing\n", fd, why);
    close(fd);
    conn_open[fd] = 0;
}

static void
print_read(int fd, const char *buf, ssize_t n)
{
    char text[HP_QUOTED_SIZE(BUFFER_SIZE)];

    hp_quote(text, sizeof text, buf, (size_t)n);
    printf("fd %d: read %zd bytes: %s\n", fd, n, text);
}

/* One accept per wake-up: the listener is level-triggered, so epoll
 * reports it again while connections are still queued. */
static void
accept_conn(int epollfd, int listenfd, int enable_et)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    char text[HP_ADDRSTRLEN];
    int conn = accept(listenfd, (struct sockaddr *)&peer, &len);

    if (conn < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
            return;
        hp_die("accept");
    }
    if ((size_t)conn >= conn_max)
        hp_diex("fd %d is beyond RLIMIT_NOFILE", conn);
    conn_open[conn] = 1;
    printf("accepted fd %d from %s\n", conn,
           hp_addr_str((struct sockaddr *)&peer, text, sizeof text));
    addfd(epollfd, conn, enable_et);
}

/* Level-triggered: read once; what is left makes epoll_wait report the fd
 * again straight away. */
static void
lt(const struct epoll_event *events, int number, int epollfd, int listenfd)
{
    char buf[BUFFER_SIZE];

    for (int i = 0; i < number; i++) {
        int sockfd = events[i].data.fd;
        if (sockfd == listenfd) {
            accept_conn(epollfd, listenfd, 0);
            continue;
        }
        printf("triggered: fd %d\n", sockfd);
        /* the book keeps a byte for a terminator: 9-byte reads */
        ssize_t ret = recv(sockfd, buf, BUFFER_SIZE - 1, 0);
        if (ret < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (ret < 0) {
            hp_warn("recv fd %d", sockfd);
            close_conn(sockfd, "read error");
        } else if (ret == 0) {
            close_conn(sockfd, "peer closed");
        } else {
            print_read(sockfd, buf, ret);
        }
    }
}

/* Edge-triggered: this is the only report for what has arrived, so read
 * until the socket is empty (EAGAIN). */
static void
et(const struct epoll_event *events, int number, int epollfd, int listenfd)
{
    char buf[BUFFER_SIZE];

    for (int i = 0; i < number; i++) {
        int sockfd = events[i].data.fd;
        if (sockfd == listenfd) {
            accept_conn(epollfd, listenfd, 1);
            continue;
        }
        printf("triggered: fd %d\n", sockfd);
        for (;;) {
            ssize_t ret = recv(sockfd, buf, BUFFER_SIZE - 1, 0);
            if (ret < 0 && errno == EINTR)
                continue;
            if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                printf("fd %d: read later (EAGAIN)\n", sockfd);
                break;
            }
            if (ret < 0) {
                hp_warn("recv fd %d", sockfd);
                close_conn(sockfd, "read error");
                break;
            }
            if (ret == 0) {
                close_conn(sockfd, "peer closed");
                break; /* the book carried on with the closed fd */
            }
            print_read(sockfd, buf, ret);
        }
    }
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    struct epoll_event events[MAX_EVENT_NUMBER];
    struct rlimit rl;
    sigset_t wait_mask;
    int opt, listenfd, epollfd, use_et = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+he")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'e':
            use_et = 1;
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        hp_die("getrlimit");
    conn_max = rl.rlim_cur;
    conn_open = calloc(conn_max, 1);
    if (conn_open == NULL)
        hp_die("calloc");

    /* Stop signals are delivered only inside epoll_pwait(): a SIGTERM can
     * not slip in between the test of the flag and the wait. */
    if (hp_block_term(&stop_signal, &wait_mask) < 0)
        hp_die("blocking SIGINT and SIGTERM");

    listenfd = hp_tcp_listener(&addr, LISTEN_BACKLOG, 0);
    if (listenfd < 0)
        hp_die("listen on %s", addr_text);
    epollfd = epoll_create1(EPOLL_CLOEXEC);
    if (epollfd < 0)
        hp_die("epoll_create1");
    addfd(epollfd, listenfd, 0); /* the listener: level-triggered */
    printf("mode: %s\n",
           use_et ? "edge-triggered (EPOLLET)" : "level-triggered");
    if (hp_announce_listener(listenfd) < 0)
        hp_die("getsockname");

    while (!stop_signal) {
        int ret =
            epoll_pwait(epollfd, events, MAX_EVENT_NUMBER, -1, &wait_mask);
        if (ret < 0) {
            if (errno == EINTR)
                continue;
            hp_die("epoll_wait");
        }
        if (use_et)
            et(events, ret, epollfd, listenfd);
        else
            lt(events, ret, epollfd, listenfd);
    }

    printf("stopped by signal %d\n", (int)stop_signal);
    for (size_t fd = 0; fd < conn_max; fd++)
        if (conn_open[fd])
            close((int)fd);
    free(conn_open);
    close(epollfd);
    close(listenfd);
    return 0;
}
