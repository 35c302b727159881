/*
 * libevent_echo.c - the echo service of echo_server, written on libevent:
 * the reference the multiplexer comparison measures itself against.
 *
 * Usage:   libevent_echo IP PORT
 *
 * Shows:   what the same service looks like on the library chapter 12 of
 *          the book introduces.  It uses libevent the way it is commonly
 *          used: an evconnlistener accepts (until EAGAIN), and each
 *          connection is a bufferevent whose read callback moves the whole
 *          input evbuffer to the output evbuffer (evbuffer_add_buffer moves
 *          the chunks, it does not copy the bytes); libevent sends it when
 *          the socket is writable and keeps what did not fit.  Above
 *          ECHO_HIGH_WATER queued bytes reading stops until the output has
 *          drained, as in echo_server.  libevent picks its own backend
 *          (epoll on Linux, level-triggered); the program prints which.
 *
 * Look at: the same contract as echo_server: `listening on`, echo byte
 *          for byte, SIGINT/SIGTERM end it (through libevent's own signal
 *          events) with the connection counts and exit 0, every
 *          bufferevent, the listener and the event base freed.
 *
 * Peer:    loadgen; nc.
 *
 * Differs from the book:
 *  - not a listing (the book's libevent example, 12-1, is a timer and a
 *    signal): this is the comparison peer of echo_server.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT";
static const char HELP[] =
    "Echo every byte back to its sender, on libevent bufferevents.\n"
    "PORT 0 lets the kernel choose; the port is announced.  SIGINT/SIGTERM\n"
    "stop it and print the connection counts.  Peers: loadgen, nc.\n";

enum { ACCEPT_BACKLOG = 65535 }; /* capped at net.core.somaxconn */
enum { ECHO_HIGH_WATER = 1024 * 1024 };

struct server;

/* Every live connection, so that all can be freed at exit. */
struct conn {
    struct server *s;
    struct bufferevent *bev;
    struct conn *prev, *next;
    bool eof; /* the peer sent FIN: flush, then close */
};

struct server {
    struct event_base *base;
    struct conn *conns;
    long open, peak, accepted;
    int stop_signal;
};

static void
conn_free(struct conn *c)
{
    struct server *s = c->s;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE closes the fd */
    free(c);
    s->open--;
}

static void
on_read(struct bufferevent *bev, void *p)
{
    (void)p;
    struct evbuffer *out = bufferevent_get_output(bev);
    if (evbuffer_add_buffer(out, bufferevent_get_input(bev)) < 0)
        hp_warnx("fd %d: cannot queue the echo", (int)bufferevent_getfd(bev));
    if (evbuffer_get_length(out) >= ECHO_HIGH_WATER)
        bufferevent_disable(bev, EV_READ); /* until the peer reads */
}

/* The output drained to its low-water mark (0): all sent. */
static void
on_written(struct bufferevent *bev, void *p)
{
    struct conn *c = p;
    if (c->eof)
        conn_free(c);
    else
        bufferevent_enable(bev, EV_READ);
}

static void
on_event(struct bufferevent *bev, short what, void *p)
{
    struct conn *c = p;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        c->eof = true; /* on_written closes it once the echo is out */
        bufferevent_disable(bev, EV_READ);
        return;
    }
    conn_free(c); /* EOF with nothing queued, or an error */
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
          int len, void *p)
{
    struct server *s = p;
    (void)l, (void)sa, (void)len;
    struct conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev =
        c ? bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        hp_warnx("out of memory: connection on fd %d closed", (int)fd);
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->s = s;
    c->bev = bev;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    bufferevent_setcb(bev, on_read, on_written, on_event, c);
    if (bufferevent_enable(bev, EV_READ) < 0)
        hp_warnx("fd %d: cannot watch it", (int)fd);
    s->accepted++;
    if (++s->open > s->peak)
        s->peak = s->open;
}

static void
on_accept_error(struct evconnlistener *l, void *p)
{
    (void)l, (void)p;
    hp_warn("accept"); /* EMFILE and the like: keep serving the others */
}

static void
on_signal(evutil_socket_t sig, short what, void *p)
{
    struct server *s = p;
    (void)what;
    s->stop_signal = (int)sig;
    event_base_loopbreak(s->base);
}

static void
raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        hp_die("getrlimit(RLIMIT_NOFILE)");
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            hp_die("setrlimit(RLIMIT_NOFILE, %llu)",
                   (unsigned long long)rl.rlim_max);
    }
    printf("open files limit: %llu (was %llu, hard limit %llu)\n",
           (unsigned long long)rl.rlim_cur, (unsigned long long)was,
           (unsigned long long)rl.rlim_max);
}

int
main(int argc, char **argv)
{
    struct server s = {0};
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    int first = hp_positional(argc, argv, 2, 2);
    hp_parse_sockaddr(&addr, argv[first], argv[first + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    s.base = event_base_new();
    if (!s.base)
        hp_diex("event_base_new failed");
    struct event *sigint = evsignal_new(s.base, SIGINT, on_signal, &s);
    struct event *sigterm = evsignal_new(s.base, SIGTERM, on_signal, &s);
    if (!sigint || !sigterm || event_add(sigint, NULL) < 0 ||
        event_add(sigterm, NULL) < 0)
        hp_diex("cannot watch SIGINT/SIGTERM");
    struct evconnlistener *l = evconnlistener_new_bind(
        s.base, on_accept, &s,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        ACCEPT_BACKLOG, (struct sockaddr *)&addr, sizeof addr);
    if (!l)
        hp_die("listen on %s", addr_text);
    evconnlistener_set_error_cb(l, on_accept_error);
    printf("backend: libevent %s, method %s\n", event_get_version(),
           event_base_get_method(s.base));
    if (hp_announce_listener(evconnlistener_get_fd(l)) < 0)
        hp_die("getsockname");

    if (event_base_dispatch(s.base) < 0)
        hp_diex("event_base_dispatch failed");

    printf("stopped by signal %d\n", s.stop_signal);
    printf("connections: accepted %ld, refused 0, peak %ld at once\n",
           s.accepted, s.peak);
    while (s.conns)
        conn_free(s.conns);
    evconnlistener_free(l);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(s.base);
    libevent_global_shutdown();
    return 0;
}
