/*
 * idle_conn_server.c - Listing 11-3: close connections that stay idle,
 * with a timer container driven by SIGALRM.
 *
 * Usage:   idle_conn_server [-b list|wheel|heap] [-s SLOT] [-i N] [-t]
 *                           IP PORT
 *          SLOT a duration: "300ms", "5s", "0.5" (default 5s); N the
 *          idle limit in slots (default 3).
 *
 * Shows:   the book's unified event source applied to timers.  A SIGALRM
 *          every SLOT (setitimer) is turned by its handler into one byte,
 *          the signal number, on a socketpair whose other end sits in the
 *          epoll set beside the listener and the clients.  When the loop
 *          reads that byte it runs the timer container's tick after the
 *          I/O of that round.  Each connection has a timer of N slots (3
 *          unless -i says otherwise), pushed back whenever it sends
 *          something; an expired timer closes the connection.  -b picks
 *          the container: the sorted list of 11-2 (default), the wheel of
 *          11-5 (60 slots of SLOT) or the heap of 11-6.  -t replaces
 *          SIGALRM with a timerfd in the epoll set: the same ticks, no
 *          signal handler, no pipe.  -i sets the idle limit: more than 60
 *          slots makes a wheel timer wait out a whole rotation in its
 *          slot (the test of the wheel's rotations uses -i 70).
 *
 * Look at: a client that says nothing is closed N to N+1 slots after it
 *          connected (the timer is checked once per slot, so it can fire
 *          up to one slot late, never early).  One that sends a byte
 *          every slot stays, each byte pushing its timer back, until it
 *          falls silent.  With strace: epoll_wait fails with EINTR at each
 *          SIGALRM, the handler's one-byte send, then the byte read back.
 *
 * Peer:    any TCP clients (nc, telnet, the test's scripted clients).
 *
 * Differs from the printed listing:
 *  - the timer callback uses the server's epoll fd (the book's main
 *    declares a local one that shadows it, so the callback's DEL fails);
 *  - edge-triggered reads drain the socket to EAGAIN (the book reads 63
 *    bytes once and strands the rest);
 *  - the signal byte holds the signal number (the book sends an int's low
 *    byte), on a non-blocking, close-on-exec socketpair;
 *  - a full pipe drops the byte (ticks coalesce anyway); SIGTERM and SIGINT
 *    also set a flag, so a stop whose byte was dropped still stops;
 *  - the client table is indexed by fd but grows (the book's has 65535
 *    entries, unchecked);
 *  - a client's timer lives in its record: no dangling timer pointer;
 *  - CLOCK_MONOTONIC milliseconds, not time(NULL); sub-second slots
 *    (setitimer, not alarm);
 *  - SIGTERM/SIGINT end the loop, which closes and frees everything; the
 *    listener accepts until EAGAIN; -b, -i and -t are new.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "timer.h"
#include "timer_heap.h"
#include "timer_list.h"
#include "timer_wheel.h"

static const char SYNOPSIS[] =
    "[-h] [-b list|wheel|heap] [-s SLOT] [-i N] [-t] IP PORT";
static const char HELP[] =
    "Serve IP:PORT with epoll; close a connection idle for N slots.\n"
    "  -b BACKEND  timer container: list (11-2, default), wheel (11-5, 60\n"
    "              slots of SLOT) or heap (11-6)\n"
    "  -s SLOT     the tick: 300ms, 5s, 0.5 (default 5s; 10ms to 3600s)\n"
    "  -i N        the idle limit, in slots (default 3, at most 100000)\n"
    "  -t          tick with a timerfd in the epoll set, not SIGALRM\n"
    "Received data is printed.  PORT 0 lets the kernel choose.\n";

enum { DEFAULT_SLOT_MS = 5000, MIN_SLOT_MS = 10, MAX_SLOT_MS = 3600 * 1000 };
enum { DEFAULT_IDLE_SLOTS = 3, MAX_IDLE_SLOTS = 100000 }; /* -i */
enum { MAX_EVENTS = 64 }; /* events taken per epoll_wait */
enum { RECV_CHUNK = 64 }; /* small, as in the book: ET must loop */
enum { LISTEN_BACKLOG = 5 };
enum { FIRST_TABLE_SIZE = 64 };

struct server;

struct client {
    struct server *srv;
    int fd;
    struct sockaddr_in addr;
    struct timer timer; /* its idle timeout: lives and dies with it */
};

struct server {
    int epfd;
    int listen_fd;
    int sig_fd[2]; /* [0] read by the loop, [1] written by the handler */
    int timer_fd;  /* -t, else -1 */
    struct timer_queue *timers;
    uint64_t slot_ms;
    uint64_t idle_ms;      /* a connection's timer: N slots */
    uint64_t start;        /* for the +ms in messages */
    struct client **by_fd; /* indexed by fd, grown on demand */
    size_t table_size;
    size_t open;
    int stop_signal;
};

/* Where the handler writes; set before the handler is installed. */
static int signal_write_fd = -1;
/* SIGTERM or SIGINT came: kept beside its byte, which a full pipe drops. */
static volatile sig_atomic_t stop_requested;

/* One byte, the signal number: every standard signal fits in a byte.
 * The fd is non-blocking, so a full pipe drops the byte rather than
 * blocking in a handler; errno is the interrupted code's. */
static void
on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;

    if (sig == SIGTERM || sig == SIGINT)
        stop_requested = sig;
    if (send(signal_write_fd, &b, 1, MSG_DONTWAIT) < 0) {
        /* full: a tick is lost (the next one catches up), a stop is not */
    }
    errno = saved;
}

static unsigned long long
since_start(const struct server *srv, uint64_t t)
{
    return (unsigned long long)(t - srv->start);
}

/* DATA as one line, quoted: \n, \r, \t, \\, \", other bytes as \xHH. */
static void
print_data(int fd, const char *data, size_t len)
{
    char text[HP_QUOTED_SIZE(RECV_CHUNK)];

    hp_quote(text, sizeof text, data, len);
    printf("fd %d: received %zu bytes: %s\n", fd, len, text);
}

static int
table_put(struct server *srv, struct client *c)
{
    if ((size_t)c->fd >= srv->table_size) {
        size_t n = srv->table_size ? srv->table_size : FIRST_TABLE_SIZE;
        while (n <= (size_t)c->fd)
            n *= 2;
        struct client **t = realloc(srv->by_fd, n * sizeof *t);
        if (t == NULL)
            return -1;
        memset(t + srv->table_size, 0, (n - srv->table_size) * sizeof *t);
        srv->by_fd = t;
        srv->table_size = n;
    }
    srv->by_fd[c->fd] = c;
    return 0;
}

static struct client *
table_get(const struct server *srv, int fd)
{
    return (size_t)fd < srv->table_size ? srv->by_fd[fd] : NULL;
}

/* Forget C everywhere: its timer, the epoll set, the table; close, free. */
static void
close_client(struct server *srv, struct client *c)
{
    timer_del(srv->timers, &c->timer); /* a no-op inside its callback */
    if (epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL) < 0)
        hp_warn("epoll_ctl DEL fd %d", c->fd);
    if (close(c->fd) < 0)
        hp_warn("close fd %d", c->fd);
    srv->by_fd[c->fd] = NULL;
    srv->open--;
    free(c);
}

/* The timer callback: the connection has been idle for N slots. */
static void
on_idle(struct timer *t, void *arg)
{
    struct client *c = arg;
    struct server *srv = c->srv;
    char peer[HP_ADDRSTRLEN];

    printf("fd %d: idle timer expired at +%llu ms, closing %s\n", c->fd,
           since_start(srv, timer_now_ms()),
           hp_addr_str((struct sockaddr *)&c->addr, peer, sizeof peer));
    (void)t;
    close_client(srv, c);
}

static void
accept_clients(struct server *srv)
{
    for (;;) {
        struct sockaddr_in addr;
        socklen_t len = sizeof addr;
        char peer[HP_ADDRSTRLEN];
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&addr, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                hp_warn("accept"); /* e.g. EMFILE: try again next time */
            return;
        }
        struct client *c = calloc(1, sizeof *c);
        if (c != NULL)
            c->fd = fd;
        if (c == NULL || table_put(srv, c) < 0) {
            hp_warn("fd %d: no memory for it, closing", fd);
            free(c);
            close(fd);
            continue;
        }
        c->srv = srv;
        c->addr = addr;
        timer_init(&c->timer, on_idle, c);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP,
                                 .data.fd = fd};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            hp_warn("epoll_ctl ADD fd %d", fd);
            srv->by_fd[fd] = NULL;
            free(c);
            close(fd);
            continue;
        }
        srv->open++;
        uint64_t now = timer_now_ms();
        uint64_t expire = now + srv->idle_ms;
        if (timer_add(srv->timers, &c->timer, expire) < 0) {
            hp_warn("fd %d: timer", fd);
            close_client(srv, c);
            continue;
        }
        printf("fd %d: connection from %s at +%llu ms, idle timer at "
               "+%llu ms\n",
               fd, hp_addr_str((struct sockaddr *)&addr, peer, sizeof peer),
               since_start(srv, now), since_start(srv, c->timer.expire));
    }
}

/* Edge-triggered: read until EAGAIN, or the event is not reported again. */
static void
serve_client(struct server *srv, struct client *c)
{
    char buf[RECV_CHUNK];
    bool got = false;

    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            print_data(c->fd, buf, (size_t)n);
            got = true;
            continue;
        }
        if (n == 0) {
            printf("fd %d: closed by the peer\n", c->fd);
            close_client(srv, c);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        hp_warn("fd %d: recv", c->fd);
        close_client(srv, c);
        return;
    }
    if (got) {
        uint64_t now = timer_now_ms();
        /* adjust, not delete + add: the container moves it in place */
        if (timer_adjust(srv->timers, &c->timer, now + srv->idle_ms) < 0) {
            hp_warn("fd %d: timer", c->fd);
            close_client(srv, c);
            return;
        }
        printf("fd %d: timer pushed back to +%llu ms\n", c->fd,
               since_start(srv, c->timer.expire));
    }
}

/* Read the signal bytes the handler sent; true if one was SIGALRM. */
static bool
read_signals(struct server *srv)
{
    unsigned char sigs[64];
    bool alarm = false;

    for (;;) {
        ssize_t n = recv(srv->sig_fd[0], sigs, sizeof sigs, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EAGAIN: all read */
        for (ssize_t i = 0; i < n; i++) {
            if (sigs[i] == SIGALRM)
                alarm = true;
            else if (sigs[i] == SIGTERM || sigs[i] == SIGINT)
                srv->stop_signal = sigs[i];
        }
    }
    return alarm;
}

static bool
read_timerfd(struct server *srv)
{
    uint64_t expirations;
    ssize_t n = read(srv->timer_fd, &expirations, sizeof expirations);

    if (n != (ssize_t)sizeof expirations)
        return false; /* EAGAIN: another reader was faster (none here) */
    if (expirations > 1)
        printf("timerfd: %llu slots passed since the last read\n",
               (unsigned long long)expirations);
    return true;
}

static void
tick(struct server *srv)
{
    uint64_t now = timer_now_ms();
    size_t fired = timer_tick(srv->timers, now);

    printf("tick at +%llu ms: %zu expired, %zu open\n", since_start(srv, now),
           fired, srv->open);
}

static int
add_in(struct server *srv, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void
start_ticking(struct server *srv, bool use_timerfd)
{
    struct itimerval it;
    struct itimerspec its;

    if (use_timerfd) {
        srv->timer_fd =
            timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (srv->timer_fd < 0)
            hp_die("timerfd_create");
        its.it_interval.tv_sec = (time_t)(srv->slot_ms / 1000);
        its.it_interval.tv_nsec = (long)(srv->slot_ms % 1000) * 1000000L;
        its.it_value = its.it_interval;
        if (timerfd_settime(srv->timer_fd, 0, &its, NULL) < 0)
            hp_die("timerfd_settime");
        if (add_in(srv, srv->timer_fd) < 0)
            hp_die("epoll_ctl ADD timerfd");
        return;
    }
    /* alarm() counts whole seconds; setitimer gives sub-second slots */
    it.it_interval.tv_sec = (time_t)(srv->slot_ms / 1000);
    it.it_interval.tv_usec = (suseconds_t)(srv->slot_ms % 1000) * 1000;
    it.it_value = it.it_interval;
    if (setitimer(ITIMER_REAL, &it, NULL) < 0)
        hp_die("setitimer");
}

static void
catch_signal(int sig)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: epoll_wait is never restarted anyway */
    if (sigaction(sig, &sa, NULL) < 0)
        hp_die("sigaction %d", sig);
}

static struct timer_queue *
make_timers(const char *backend, uint64_t now, uint64_t slot_ms)
{
    struct timer_queue *q = NULL;

    if (strcmp(backend, "list") == 0)
        q = timer_list_new();
    else if (strcmp(backend, "wheel") == 0)
        q = timer_wheel_new(now, TIMER_WHEEL_BOOK_SLOTS, slot_ms);
    else if (strcmp(backend, "heap") == 0)
        q = timer_heap_new(0);
    else
        hp_bad_usage("back end '%s': want list, wheel or heap", backend);
    if (q == NULL)
        hp_die("timer container");
    return q;
}

static void
shut_down(struct server *srv)
{
    struct itimerval off;

    memset(&off, 0, sizeof off);
    if (srv->timer_fd < 0 && setitimer(ITIMER_REAL, &off, NULL) < 0)
        hp_warn("setitimer off");
    for (size_t fd = 0; fd < srv->table_size; fd++)
        if (srv->by_fd[fd])
            close_client(srv, srv->by_fd[fd]);
    free(srv->by_fd);
    timer_queue_destroy(srv->timers);
    if (srv->timer_fd >= 0)
        close(srv->timer_fd);
    close(srv->sig_fd[0]);
    close(srv->sig_fd[1]);
    close(srv->listen_fd);
    close(srv->epfd);
}

int
main(int argc, char **argv)
{
    struct server srv;
    struct sockaddr_in addr;
    struct epoll_event events[MAX_EVENTS];
    const char *backend = "list";
    long slot_ms = DEFAULT_SLOT_MS;
    long idle_slots = DEFAULT_IDLE_SLOTS;
    bool use_timerfd = false;
    int opt, status = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hb:s:i:t")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'b':
            backend = optarg;
            break;
        case 's':
            slot_ms = (long)hp_parse_duration(optarg, MIN_SLOT_MS, MAX_SLOT_MS,
                                              "slot");
            break;
        case 'i':
            idle_slots =
                hp_parse_long(optarg, 1, MAX_IDLE_SLOTS, "idle limit (slots)");
            break;
        case 't':
            use_timerfd = true;
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);

    memset(&srv, 0, sizeof srv);
    srv.timer_fd = -1;
    srv.slot_ms = (uint64_t)slot_ms;
    srv.idle_ms = (uint64_t)idle_slots * srv.slot_ms;
    srv.start = timer_now_ms();
    srv.timers = make_timers(backend, srv.start, srv.slot_ms);

    srv.listen_fd =
        hp_tcp_listener(&addr, LISTEN_BACKLOG, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (srv.listen_fd < 0)
        hp_die("listen on %s:%s", argv[optind], argv[optind + 1]);
    srv.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv.epfd < 0)
        hp_die("epoll_create1");
    if (add_in(&srv, srv.listen_fd) < 0)
        hp_die("epoll_ctl ADD listener");

    /* The signal pipe: both ends non-blocking; the loop reads [0]. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   srv.sig_fd) < 0)
        hp_die("socketpair");
    if (add_in(&srv, srv.sig_fd[0]) < 0)
        hp_die("epoll_ctl ADD signal pipe");
    signal_write_fd = srv.sig_fd[1];
    catch_signal(SIGTERM);
    catch_signal(SIGINT);
    if (!use_timerfd)
        catch_signal(SIGALRM);

    if (hp_announce_listener(srv.listen_fd) < 0)
        hp_die("getsockname");
    printf("timers: %s", timer_queue_name(srv.timers));
    if (strcmp(backend, "wheel") == 0)
        printf(" (%d slots of %ld ms)", TIMER_WHEEL_BOOK_SLOTS, slot_ms);
    printf(", tick every %ld ms by %s, idle timeout %ld slots = %llu ms\n",
           slot_ms, use_timerfd ? "timerfd" : "SIGALRM (setitimer)", idle_slots,
           (unsigned long long)srv.idle_ms);
    printf("signal pipe: the handler writes to fd %d, the loop reads fd "
           "%d\n",
           srv.sig_fd[1], srv.sig_fd[0]);
    start_ticking(&srv, use_timerfd);

    while (!srv.stop_signal) {
        bool timeout = false;
        int n = epoll_wait(srv.epfd, events, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            hp_warn("epoll_wait");
            status = 1;
            break;
        }
        /* EINTR: the handler's byte (if the pipe took it) is waiting */
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == srv.listen_fd) {
                accept_clients(&srv);
            } else if (fd == srv.sig_fd[0]) {
                timeout |= read_signals(&srv);
            } else if (fd == srv.timer_fd) {
                timeout |= read_timerfd(&srv);
            } else {
                struct client *c = table_get(&srv, fd);
                if (c)
                    serve_client(&srv, c);
            }
        }
        /* timers after I/O: a client that spoke in this round is not
         * closed for having been idle */
        if (!srv.stop_signal && stop_requested) {
            /* its byte, if the pipe took it, comes first */
            timeout |= read_signals(&srv);
            if (!srv.stop_signal) {
                srv.stop_signal = stop_requested;
                printf("signal %d: its byte was dropped (the signal pipe "
                       "was full); stopping on the handler's flag\n",
                       srv.stop_signal);
            }
        }
        if (timeout && !srv.stop_signal)
            tick(&srv);
    }
    if (srv.stop_signal)
        printf("stopped by signal %d, closing %zu connection(s)\n",
               srv.stop_signal, srv.open);
    shut_down(&srv);
    return status;
}
