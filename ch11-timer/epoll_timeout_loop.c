/*
 * epoll_timeout_loop.c - Listing 11-4: a periodic timer from the timeout
 * of epoll_wait, around an echo server.
 *
 * Usage:   epoll_timeout_loop [-t PERIOD] IP PORT   (PERIOD default 5s)
 *
 * Shows:   the third way of chapter 11 to keep time: no signal, no timer
 *          fd, only the timeout argument of epoll_wait.  The catch is that
 *          a wait which returns events has not waited its whole timeout,
 *          so the loop measures how long it did wait (and worked), takes
 *          that off the timeout, and waits again for what is left.  When
 *          nothing is left, or the wait timed out, it does the periodic
 *          work ("tick") and starts a new PERIOD.
 *
 * Look at: with a client sending every PERIOD/3, almost no wait times
 *          out, yet a tick comes every PERIOD: the timeout printed before
 *          each wait shrinks (5000, 3333, 1666 ... for the default), then
 *          a tick.
 *          Without the subtraction, steady traffic would postpone the tick
 *          for ever.
 *
 * Peer:    any TCP client; what it sends is echoed back.
 *
 * Differs from the printed listing (a fragment):
 *  - it is a whole program, an echo server;
 *  - elapsed time is CLOCK_MONOTONIC milliseconds (the fragment's
 *    time(NULL) counts whole seconds, rounds most waits to 0 and lets
 *    steady traffic postpone the tick almost indefinitely);
 *  - EINTR is not taken for a count of events (the fragment goes on with -1);
 *  - the wait that times out does the periodic work too (the fragment only
 *    resets its timeout there);
 *  - SIGINT and SIGTERM end the loop, which closes everything.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-t PERIOD] IP PORT";
static const char HELP[] =
    "Echo server on IP:PORT that ticks every PERIOD: 600ms, 5s, 1.5\n"
    "(default 5s, at least 10ms) using only the timeout of epoll_wait.\n"
    "It prints the timeout before each wait and a line per tick.  PORT 0\n"
    "lets the kernel choose.\n";

enum { DEFAULT_PERIOD_MS = 5000, MIN_PERIOD_MS = 10 };
enum { MAX_PERIOD_MS = 3600 * 1000 };
enum { MAX_EVENTS = 64 };
enum { ECHO_BUF = 4096 }; /* per connection: read again once sent */
enum { LISTEN_BACKLOG = 5 };

struct conn {
    int fd;
    size_t off, len; /* buf[off..len) still to be echoed */
    struct conn *prev, *next;
    char buf[ECHO_BUF];
};

struct loop {
    int epfd, listen_fd;
    struct conn *conns;
};

static volatile sig_atomic_t stop_signal;

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
drop(struct loop *l, struct conn *c)
{
    if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL) < 0)
        hp_warn("epoll_ctl DEL fd %d", c->fd);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static int
watch(struct loop *l, struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what is buffered; what the socket will not take yet waits for
 * EPOLLOUT, and reading stops meanwhile.  -1: the connection is gone. */
static int
flush(struct loop *l, struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n > 0) {
            c->off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return watch(l, c, EPOLLOUT);
        hp_warn("fd %d: send", c->fd);
        return -1;
    }
    if (c->len) {
        printf("fd %d: echoed %zu byte(s)\n", c->fd, c->len);
        c->off = c->len = 0;
        return watch(l, c, EPOLLIN);
    }
    return 0;
}

static void
serve(struct loop *l, struct conn *c, uint32_t events)
{
    if (c->len == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n == 0) {
            printf("fd %d: closed by the peer\n", c->fd);
            drop(l, c);
            return;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* level-triggered: asked again next round */
            hp_warn("fd %d: recv", c->fd);
            drop(l, c);
            return;
        }
        c->len = (size_t)n;
    }
    if (flush(l, c) < 0)
        drop(l, c);
}

static void
accept_all(struct loop *l, uint64_t begin)
{
    for (;;) {
        char peer[HP_ADDRSTRLEN];
        struct sockaddr_in addr;
        socklen_t len = sizeof addr;
        int fd = accept4(l->listen_fd, (struct sockaddr *)&addr, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                hp_warn("accept");
            return;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            hp_warn("fd %d: no memory, closing", fd);
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            hp_warn("epoll_ctl ADD fd %d", fd);
            close(fd);
            free(c);
            continue;
        }
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        printf("fd %d: connection from %s at +%llu ms\n", fd,
               hp_addr_str((struct sockaddr *)&addr, peer, sizeof peer),
               (unsigned long long)(now_ms() - begin));
    }
}

int
main(int argc, char **argv)
{
    struct loop l;
    struct sockaddr_in addr;
    struct epoll_event events[MAX_EVENTS];
    long period = DEFAULT_PERIOD_MS;
    int opt, status = 0, ticks = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+ht:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 't':
            period = (long)hp_parse_duration(optarg, MIN_PERIOD_MS,
                                             MAX_PERIOD_MS, "period");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    if (hp_catch_term(&stop_signal) < 0)
        hp_die("sigaction");

    memset(&l, 0, sizeof l);
    l.listen_fd =
        hp_tcp_listener(&addr, LISTEN_BACKLOG, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (l.listen_fd < 0)
        hp_die("listen on %s:%s", argv[optind], argv[optind + 1]);
    l.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l.epfd < 0)
        hp_die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.listen_fd, &lev) < 0)
        hp_die("epoll_ctl ADD listener");
    if (hp_announce_listener(l.listen_fd) < 0)
        hp_die("getsockname");

    /* The listing's loop: TIMEOUT is what is left of the current period,
     * START when the time now being accounted for began. */
    uint64_t begin = now_ms(), last_tick = begin, start = begin;
    long timeout = period;
    while (!stop_signal) {
        printf("epoll_wait, timeout %ld ms\n", timeout);
        int n = epoll_wait(l.epfd, events, MAX_EVENTS, (int)timeout);
        if (n < 0) {
            if (errno != EINTR) {
                hp_warn("epoll_wait");
                status = 1;
                break;
            }
            if (stop_signal)
                break;
            n = 0; /* interrupted: no events, but the time still counts */
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                accept_all(&l, begin);
            else
                serve(&l, events[i].data.ptr, events[i].events);
        }
        /* take the time spent waiting and serving off the timeout */
        uint64_t end = now_ms();
        timeout -= (long)(end - start);
        start = end;
        if (timeout <= 0) {
            /* the periodic work, then a new period */
            ticks++;
            printf("tick %d at +%llu ms (%llu ms after the previous)\n", ticks,
                   (unsigned long long)(end - begin),
                   (unsigned long long)(end - last_tick));
            last_tick = end;
            timeout = period;
        }
    }
    if (stop_signal)
        printf("stopped by signal %d after %d tick(s)\n", (int)stop_signal,
               ticks);
    while (l.conns)
        drop(&l, l.conns);
    close(l.epfd);
    close(l.listen_fd);
    return status;
}
