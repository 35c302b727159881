/*
 * web_server.c - Listing 15-6: a static-file HTTP/1.1 server on the 15-3
 * thread pool, the book's design (-m pool), beside the design nginx and
 * h2o use (-m loops).  The connection itself (read, parse, respond,
 * write) is http_conn.c, 15-5; the request parser http_parser.c (8-3).
 *
 * Usage:   web_server [-t THREADS] [-m pool|loops] [-q JOBS] [-s cpu|hash]
 *                     [-i IDLE] IP PORT DOCROOT
 *
 * Shows:   -m pool (default): one thread does epoll, accept, read and
 *          write; when a connection has bytes to parse it is handed to a
 *          worker of the pool (THREADS of them, default 8), which parses
 *          and builds the response, and hands it back through a queue and
 *          an eventfd; the I/O thread writes it.  The pool's queue holds
 *          JOBS requests (-q, default 10000, the book's max_requests); a
 *          request that finds it full is answered 503 by the I/O thread
 *          at once, not left waiting.  Every connection is in
 *          epoll with EPOLLONESHOT, re-armed by the I/O thread once it has
 *          the connection back, so no event about a connection can come
 *          while a worker holds it.
 *          -m loops: THREADS threads (default: one per CPU), each with a
 *          listening socket of its own on the same port (SO_REUSEPORT: the
 *          kernel spreads the connections) and an epoll loop of its own
 *          that does everything for its connections.  No hand-off, no lock,
 *          no thread switch per request.  -s cpu (default) ties listener i
 *          to the i-th CPU (SO_INCOMING_CPU): a connection whose packets
 *          the kernel handles on that CPU goes to that loop, so a client
 *          and the loop that serves it tend to share a CPU and its cache;
 *          on loopback that is the CPU the client connected from.  -s hash
 *          leaves the choice to SO_REUSEPORT's hash of the addresses.
 *          A connection stays registered (level-triggered) from request
 *          to request, and each loop keeps the small files it served for
 *          the rest of its round of events (http_conn.h): a keep-alive
 *          request for a small file costs a recv and a writev.
 *          GET and HEAD, keep-alive and pipelining, Content-Type by
 *          extension, Last-Modified and 304; files up to 64 KiB are read
 *          and sent with the head in one writev, larger ones with
 *          sendfile.  A client gets IDLE (default 30s) to send a whole
 *          request, and may pause that long while it reads a response
 *          (what it has acknowledged counts, not only what the server
 *          could write); then the ch11 timer (the heap) closes the
 *          connection.
 *
 * Look at: `strace -f -e trace=accept4,epoll_ctl,recvfrom,writev,sendfile`:
 *          in pool mode the worker threads make no socket call at all,
 *          and the I/O thread re-arms every connection after every
 *          request (EPOLL_CTL_MOD); in loops mode, `strace -c -f` under
 *          wrk: about one recvfrom and one writev per request;
 *          `ls -l /proc/PID/fd` and `ss -tlnp` in loops mode: THREADS
 *          listening sockets on one port; `strace -f -e accept4` with
 *          clients started under `taskset -c 0` then `-c 1`: each CPU's
 *          connections accepted by one thread; `curl -v` a file twice on
 *          one connection, and with If-Modified-Since.
 *
 * Peer:    curl, wrk, stress_client (16-4), or any HTTP client.
 *
 * Differs from the printed listing:
 *  - no SO_LINGER {1, 0}: the book sets it on the listener, every
 *    accepted socket inherits it, and close() sends a RST that destroys
 *    what is still unsent (a client got 128 KB of a 3.9 MB file).  Here a
 *    last response ends with shutdown(SHUT_WR), a FIN, and the socket is
 *    closed once the client has closed its side;
 *  - the listener is level-triggered and accepted until EAGAIN (the
 *    book's is edge-triggered with one accept per event); when accept
 *    fails for want of descriptors (EMFILE, ENFILE) a reserve descriptor
 *    is closed to accept the connection, answer 503 and close it, so the
 *    loop neither spins on a listener it cannot empty nor leaves the
 *    client waiting; if even that fails, accepting pauses briefly.  And
 *    the last 8 descriptors below the limit are never kept by a
 *    connection: a connection that gets one is refused the same way, so
 *    a storm cannot leave the requests already taken without a
 *    descriptor to open their file;
 *  - connections are allocated, not an array of 65536 indexed by an
 *    unchecked fd;
 *  - workers never touch epoll, timers or a socket: a worker that closed
 *    a connection and re-armed its fd in epoll (fix (g) of 15-5) cannot
 *    happen, and the I/O thread never touches a connection a worker
 *    holds;
 *  - the "server busy" answer (a full job queue) is a real 503 response;
 *  - idle connections are closed (the book has no timeout);
 *  - SIGTERM and SIGINT (read from a signalfd) stop it: the pool drains
 *    and is joined, every connection is closed, exit 0.  The book's loop
 *    never ends.  SIGPIPE is ignored, as in the book;
 *  - TCP_NODELAY, set on the listener and inherited by every accepted
 *    socket: without it a large file's last, short segment waits for the
 *    client to acknowledge the ones before (Nagle); p99 of 1 MiB
 *    responses fell by about a fifth with it;
 *  - DOCROOT is an argument (the book hard-codes /var/www/html).
 */
#define _GNU_SOURCE
#include "hpsp.h"
#include "http_conn.h"
#include "thread_pool.h"
#include "../ch11-timer/timer.h"
#include "../ch11-timer/timer_heap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

static const char SYNOPSIS[] =
    "[-h] [-t THREADS] [-m pool|loops] [-q JOBS] [-s cpu|hash] [-i IDLE] "
    "IP PORT DOCROOT";
static const char HELP[] =
    "Serve the files under DOCROOT over HTTP/1.1 (GET, HEAD) on IP:PORT\n"
    "(PORT 0: the kernel picks; announced).  SIGTERM or SIGINT: exit 0.\n"
    "  -m pool   one I/O thread, THREADS workers parse and respond (default)\n"
    "  -m loops  THREADS event loops, each with its own SO_REUSEPORT\n"
    "            listener: no hand-off\n"
    "  -q JOBS   pool: requests the queue holds for the workers; one that\n"
    "            finds it full gets 503 (default 10000)\n"
    "  -s cpu    loops: a connection goes to the loop tied to the CPU its\n"
    "            packets arrive on (SO_INCOMING_CPU; default)\n"
    "  -s hash   loops: the kernel's hash of the addresses picks the loop\n"
    "  -t N      threads: workers (pool, default 8), loops (default: CPUs)\n"
    "  -i IDLE   time to send a request, or to pause while reading a\n"
    "            response, before the connection is closed (default 30s)\n";

enum { LISTEN_BACKLOG = 1024 };
enum { MAX_EVENTS = 128 };
enum { DEFAULT_IDLE_MS = 30000 };
enum { LINGER_MS = 2000 };      /* longest wait for a client's FIN */
enum { ACCEPT_PAUSE_MS = 100 }; /* no descriptor even for a refusal */
enum { FILE_FDS = 8 };          /* kept for files: fd_ceiling */

/* One connection, as the loop sees it. */
struct conn {
    struct hc_conn *hc;
    struct loop *loop;
    struct conn *prev, *next; /* the loop's list: its thread only */
    struct timer timer;       /* its deadline: its loop's thread only */
    uint64_t deadline;
    enum hc_next want;        /* what the armed event is for */
    uint32_t armed;           /* loops mode: the events registered now */
    int unacked;              /* waiting to write: SIOCOUTQ at the wait's
                                 start, or since the client last read */
    enum hc_next handed;      /* a worker's hc_process result */
    struct conn *done_next;   /* in the hand-back queue */
};

/* One event loop: the only one in pool mode, one per thread in loops. */
struct loop {
    int epfd, lfd, reserve_fd;
    int wake_fd;   /* pool: workers' hand-backs; loops: the stop */
    int sfd;       /* pool mode: the signalfd; -1 */
    bool stop, paused;
    struct timer resume; /* accepting again after a pause */
    struct timer_queue *timers;
    struct conn *conns;
    long long idle_ms;
    const struct hc_root *root;
    /* loops mode: the small files served in this round of events */
    struct hc_cache cache;
    /* pool mode */
    struct tp_pool *pool;
    pthread_mutex_t done_lock;
    struct conn *done_head, *done_tail;
    pthread_t thread;
    /* what it did, for the last line */
    unsigned long accepted, requests, idle_closed, refused;
};

static const char BUSY[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    "Content-Length: 12\r\nConnection: close\r\n\r\nserver busy\n";

static void dispatch(struct loop *l, struct conn *c, enum hc_next step);

/* ---- connections --------------------------------------------------------- */

static void
set_deadline(struct conn *c, uint64_t at)
{
    c->deadline = at;
    if (timer_adjust(c->loop->timers, &c->timer, at) < 0)
        hp_die("timer_adjust");
}

static void
resume_accept(struct loop *l)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->lfd};
    if (!l->paused)
        return;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->lfd, &ev) < 0)
        hp_die("epoll_ctl MOD listener");
    timer_del(l->timers, &l->resume);
    l->paused = false;
}

static void
conn_close(struct loop *l, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    timer_del(l->timers, &c->timer);
    l->requests += c->hc->requests;
    hc_close(c->hc);
    free(c);
    /* a descriptor is free again: for the reserve first, then accepts */
    if (l->reserve_fd < 0)
        l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    resume_accept(l);
}

/* Bytes on C's socket the client has not acknowledged yet, or -1. */
static int
unacked_bytes(const struct conn *c)
{
    int n;
    return ioctl(c->hc->fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

static void
idle_expired(struct timer *t, void *arg)
{
    struct conn *c = arg;
    (void)t;
    /* Waiting to write, the server's own writes are not the only sign of
     * a reader: a send buffer that has grown to megabytes (loopback) is
     * not writable again until a third of it is free, so a client may
     * read steadily, each pause shorter than IDLE, and yet not let the
     * server write for longer.  Fewer bytes unacknowledged than at the
     * last look (the wait's start, or the last extension): it has read
     * since, within IDLE.  A client that has stopped reading acknowledges
     * at most what was already on its way: closed within 2 x IDLE. */
    if (c->want == HC_NEXT_WRITE) {
        int now = unacked_bytes(c);
        if (now >= 0 && now < c->unacked) {
            c->unacked = now;
            set_deadline(c, timer_now_ms() + (uint64_t)c->loop->idle_ms);
            return;
        }
    }
    c->loop->idle_closed++;
    conn_close(c->loop, c);
}

/* The epoll events a connection of L is registered with for EVENTS:
 * one-shot in pool mode (see arm). */
static uint32_t
registration(const struct loop *l, uint32_t events)
{
    return l->pool ? events | EPOLLONESHOT : events;
}

/* Wait for EVENTS on C, meaning WANT.  Pool mode: a one-shot event,
 * armed again every time, since a worker may hold the connection.  Loops
 * mode: one thread owns C, so the registration stays, level-triggered,
 * and changes only when C switches between reading and writing: a
 * keep-alive request costs no epoll_ctl. */
static void
arm(struct loop *l, struct conn *c, uint32_t events, enum hc_next want)
{
    c->want = want;
    if (!l->pool && c->armed == events)
        return;
    struct epoll_event ev = {.events = registration(l, events),
                             .data.ptr = c};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->hc->fd, &ev) < 0)
        hp_die("epoll_ctl MOD fd %d", c->hc->fd);
    c->armed = events;
}

/* A worker's job: parse and respond, then hand the connection back. */
static void
process_job(void *arg)
{
    struct conn *c = arg;
    struct loop *l = c->loop;
    uint64_t one = 1;
    int rc;

    c->handed = hc_process(c->hc);
    c->done_next = NULL;
    if ((rc = pthread_mutex_lock(&l->done_lock)) != 0)
        hp_die_en(rc, "pthread_mutex_lock");
    if (l->done_tail)
        l->done_tail->done_next = c;
    else
        l->done_head = c;
    l->done_tail = c;
    if ((rc = pthread_mutex_unlock(&l->done_lock)) != 0)
        hp_die_en(rc, "pthread_mutex_unlock");
    /* a counter: a full one (EAGAIN) has woken the loop already */
    if (write(l->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        hp_die("write eventfd");
}

/* The connections the workers are done with, in the order they finished. */
static void
take_back(struct loop *l)
{
    uint64_t count;
    int rc;

    if (read(l->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
        hp_die("read eventfd");
    if ((rc = pthread_mutex_lock(&l->done_lock)) != 0)
        hp_die_en(rc, "pthread_mutex_lock");
    struct conn *c = l->done_head;
    l->done_head = l->done_tail = NULL;
    if ((rc = pthread_mutex_unlock(&l->done_lock)) != 0)
        hp_die_en(rc, "pthread_mutex_unlock");
    while (c) {
        struct conn *next = c->done_next;
        set_deadline(c, c->deadline); /* its clock runs again */
        dispatch(l, c, c->handed);
        c = next;
    }
}

/* Take C where STEP says, until it has to wait for an event. */
static void
dispatch(struct loop *l, struct conn *c, enum hc_next step)
{
    for (;;) {
        switch (step) {
        case HC_NEXT_READ:
            arm(l, c, EPOLLIN, HC_NEXT_READ);
            return;
        case HC_NEXT_PROCESS:
            if (!l->pool) {
                step = hc_process(c->hc);
                continue;
            }
            /* the worker has it now: no timer may fire for it, and its
             * fd is disarmed (one-shot) until it is back */
            timer_del(l->timers, &c->timer);
            if (tp_append(l->pool, process_job, c) == 0)
                return;
            set_deadline(c, c->deadline);
            step = hc_busy(c->hc);
            continue;
        case HC_NEXT_WRITE: {
            uint64_t before = c->hc->sent;
            step = hc_write(c->hc);
            /* a client that reads gets IDLE more from its last progress,
             * and a new request from the end of a response */
            if (c->hc->sent != before || step == HC_NEXT_READ ||
                step == HC_NEXT_PROCESS)
                set_deadline(c, timer_now_ms() + (uint64_t)l->idle_ms);
            if (step == HC_NEXT_WRITE) {
                c->unacked = unacked_bytes(c);
                arm(l, c, EPOLLOUT, HC_NEXT_WRITE);
                return;
            }
            continue;
        }
        case HC_NEXT_LINGER: {
            long long wait = l->idle_ms < LINGER_MS ? l->idle_ms : LINGER_MS;
            set_deadline(c, timer_now_ms() + (uint64_t)wait);
            arm(l, c, EPOLLIN, HC_NEXT_LINGER);
            return;
        }
        case HC_NEXT_CLOSE:
            conn_close(l, c);
            return;
        }
    }
}

/* An event on C (its one-shot fired). */
static void
conn_event(struct loop *l, struct conn *c)
{
    switch (c->want) {
    case HC_NEXT_READ:
        dispatch(l, c, hc_read(c->hc));
        break;
    case HC_NEXT_WRITE:
        dispatch(l, c, HC_NEXT_WRITE);
        break;
    case HC_NEXT_LINGER:
        if (hc_drain(c->hc) == HC_NEXT_LINGER)
            arm(l, c, EPOLLIN, HC_NEXT_LINGER);
        else
            conn_close(l, c);
        break;
    default:
        hp_diex("event for a connection in state %s", hc_next_name(c->want));
    }
}

/* ---- accepting ----------------------------------------------------------- */

static void
pause_expired(struct timer *t, void *arg)
{
    struct loop *l = arg;
    (void)t;
    if (l->reserve_fd < 0) /* another loop may have taken its slot */
        l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    resume_accept(l);
}

/* Stop watching the listener for a moment: a level-triggered listener
 * that cannot be emptied would wake the loop at once, for ever.  A
 * connection's close or the pause's end starts accepting again. */
static void
pause_accept(struct loop *l)
{
    struct epoll_event ev = {.events = 0, .data.ptr = &l->lfd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->lfd, &ev) < 0)
        hp_die("epoll_ctl MOD listener");
    l->paused = true;
    if (timer_adjust(l->timers, &l->resume,
                     timer_now_ms() + ACCEPT_PAUSE_MS) < 0)
        hp_die("timer_adjust");
}

/* Answer 503 on the socket FD just accepted and close it.  Best effort,
 * without waiting: one small send into an empty buffer, a FIN, and what
 * the client has sent already read and dropped, since closing a socket
 * with unread bytes sends a RST that may destroy the answer. */
static void
refuse(int fd)
{
    char sink[4096];
    (void)send(fd, BUSY, sizeof BUSY - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)shutdown(fd, SHUT_WR);
    for (int i = 0; i < 16; i++)
        if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
            break;
    close(fd);
}

/* accept failed with EMFILE or ENFILE.  Free the reserve descriptor to
 * take one connection and refuse it; false when even that failed and
 * accepting has been paused. */
static bool
fd_shortage(struct loop *l)
{
    if (l->reserve_fd >= 0) {
        close(l->reserve_fd);
        l->reserve_fd = -1;
        int fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            refuse(fd);
            l->refused++;
        }
        l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            return true;
    }
    pause_accept(l);
    return false;
}

/* The lowest descriptor a connection may not keep: the top FILE_FDS
 * below RLIMIT_NOFILE (read now: prlimit may change it under a running
 * server) stay free for the files its requests open.  Without them, a
 * storm of connections takes every descriptor, and each request it
 * accepted is answered 503 for want of one to open its file.  Under a
 * limit of 512 the margin shrinks (limit / 64), down to none. */
static int
fd_ceiling(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > INT_MAX)
        return INT_MAX;
    rlim_t margin = rl.rlim_cur / 64 < FILE_FDS ? rl.rlim_cur / 64 : FILE_FDS;
    return (int)(rl.rlim_cur - margin);
}

static void
accept_all(struct loop *l)
{
    int ceiling = fd_ceiling();
    for (;;) {
        int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= ceiling) { /* the last descriptors are for files */
            refuse(fd);
            l->refused++;
            continue;
        }
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EMFILE || errno == ENFILE) {
                if (fd_shortage(l))
                    continue;
                return;
            }
            if (errno == ENOBUFS || errno == ENOMEM) {
                hp_warn("accept4");
                pause_accept(l);
                return;
            }
            hp_die("accept4");
        }
        struct conn *c = calloc(1, sizeof *c);
        if (c)
            c->hc = hc_init(fd, l->root, l->pool ? NULL : &l->cache);
        if (!c || !c->hc) {
            hp_warn("connection on fd %d", fd);
            free(c);
            close(fd);
            continue;
        }
        c->loop = l;
        timer_init(&c->timer, idle_expired, c);
        c->want = HC_NEXT_READ;
        c->armed = EPOLLIN;
        struct epoll_event ev = {.events = registration(l, EPOLLIN),
                                 .data.ptr = c};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            hp_die("epoll_ctl ADD fd %d", fd);
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        set_deadline(c, timer_now_ms() + (uint64_t)l->idle_ms);
        l->accepted++;
    }
}

/* ---- the loop ------------------------------------------------------------ */

static void
watch(struct loop *l, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        hp_die("epoll_ctl ADD fd %d", fd);
}

static void
loop_init(struct loop *l, int lfd, int wake_fd, int sfd,
          const struct hc_root *root, long long idle_ms)
{
    memset(l, 0, sizeof *l);
    l->lfd = lfd;
    l->wake_fd = wake_fd;
    l->sfd = sfd;
    l->root = root;
    l->idle_ms = idle_ms;
    if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        hp_die("epoll_create1");
    if (!(l->timers = timer_heap_new(0)))
        hp_die("timer_heap_new");
    timer_init(&l->resume, pause_expired, l);
    if ((l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        hp_die("open /dev/null");
    int rc = pthread_mutex_init(&l->done_lock, NULL);
    if (rc != 0)
        hp_die_en(rc, "pthread_mutex_init");
    watch(l, lfd, &l->lfd);
    watch(l, wake_fd, &l->wake_fd);
    if (sfd >= 0)
        watch(l, sfd, &l->sfd);
}

/* Whether the signalfd holds a stop signal (it holds only those). */
static bool
stop_signalled(int sfd)
{
    struct signalfd_siginfo si;
    ssize_t n = read(sfd, &si, sizeof si);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return false;
    if (n < 0)
        hp_die("read signalfd");
    return n == sizeof si;
}

static void *
run_loop(void *arg)
{
    struct loop *l = arg;
    struct epoll_event events[MAX_EVENTS];

    while (!l->stop) {
        uint64_t now = timer_now_ms(), next = timer_next(l->timers);
        int timeout = -1;
        if (next != TIMER_NEVER)
            timeout = next <= now ? 0 : next - now > 60000 ? 60000
                                                           : (int)(next - now);
        int n = epoll_wait(l->epfd, events, MAX_EVENTS, timeout);
        if (n < 0 && errno == EINTR) /* a stop and SIGCONT, see signal(7) */
            continue;
        if (n < 0)
            hp_die("epoll_wait");
        for (int i = 0; i < n; i++) {
            void *src = events[i].data.ptr;
            if (src == &l->lfd)
                accept_all(l);
            else if (src == &l->sfd)
                l->stop = stop_signalled(l->sfd) || l->stop;
            else if (src == &l->wake_fd && l->pool)
                take_back(l);
            else if (src == &l->wake_fd)
                l->stop = true; /* loops: main's stop, never read */
            else
                conn_event(l, src);
        }
        hc_cache_flush(&l->cache);
        timer_tick(l->timers, timer_now_ms());
    }
    return NULL;
}

/* After the loop (and in pool mode the pool) has stopped. */
static void
loop_destroy(struct loop *l)
{
    while (l->conns)
        conn_close(l, l->conns);
    timer_queue_destroy(l->timers);
    pthread_mutex_destroy(&l->done_lock);
    if (l->reserve_fd >= 0)
        close(l->reserve_fd);
    close(l->epfd);
    close(l->lfd);
}

/* ---- start-up ------------------------------------------------------------ */

/* The listener, with SO_REUSEPORT in loops mode: every loop binds one of
 * its own to the same address, and the kernel spreads connections over
 * them by a hash of the client's address and port.  CPU >= 0: a connection
 * whose SYN the kernel handles on CPU comes to this one instead (Linux
 * 6.1 and later; before, the option is taken and the hash decides). */
static int
make_listener(const struct sockaddr_in *sa, bool reuseport, int cpu)
{
    char text[HP_ADDRSTRLEN];
    int on = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    hp_addr_str((const struct sockaddr *)sa, text, sizeof text);
    if (fd < 0)
        hp_die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
        hp_die("setsockopt SO_REUSEADDR");
    if (reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0)
        hp_die("setsockopt SO_REUSEPORT");
    /* every accepted socket inherits it: a response's last, short
     * segment leaves at once instead of waiting for the client to
     * acknowledge the ones before (Nagle) */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0)
        hp_die("setsockopt TCP_NODELAY");
    if (cpu >= 0 &&
        setsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, sizeof cpu) < 0)
        hp_die("setsockopt SO_INCOMING_CPU %d", cpu);
    if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
        hp_die("bind %s", text);
    if (listen(fd, LISTEN_BACKLOG) < 0)
        hp_die("listen %s", text);
    return fd;
}

/* The CPUs this process may run on, at most MAX of them, lowest first:
 * listener i is tied to cpus[i].  Their count. */
static int
loop_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        hp_die("sched_getaffinity");
    for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
        if (CPU_ISSET(cpu, &set))
            cpus[n++] = cpu;
    return n;
}

static void
print_summary(const struct loop *loops, int n)
{
    unsigned long acc = 0, req = 0, idle = 0, ref = 0;
    for (int i = 0; i < n; i++) {
        acc += loops[i].accepted;
        req += loops[i].requests;
        idle += loops[i].idle_closed;
        ref += loops[i].refused;
    }
    printf("stopped: %lu connections, %lu requests, %lu closed idle, "
           "%lu refused for want of descriptors\n",
           acc, req, idle, ref);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    struct hc_root root;
    sigset_t mask;
    long long idle_ms = DEFAULT_IDLE_MS;
    bool loops_mode = false, steer_cpu = true, steer_given = false;
    int opt, threads = 0, jobs = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+ht:m:q:s:i:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 't':
            threads = (int)hp_parse_long(optarg, 1, TP_MAX_THREADS,
                                         "THREADS");
            break;
        case 'm':
            if (strcmp(optarg, "loops") == 0)
                loops_mode = true;
            else if (strcmp(optarg, "pool") == 0)
                loops_mode = false;
            else
                hp_bad_usage("MODE '%s': pool or loops", optarg);
            break;
        case 'q':
            jobs = (int)hp_parse_long(optarg, 1, TP_MAX_REQUESTS, "JOBS");
            break;
        case 's':
            if (strcmp(optarg, "cpu") == 0)
                steer_cpu = true;
            else if (strcmp(optarg, "hash") == 0)
                steer_cpu = false;
            else
                hp_bad_usage("-s '%s': cpu or hash", optarg);
            steer_given = true;
            break;
        case 'i':
            idle_ms = hp_parse_duration(optarg, 10, 86400000LL, "IDLE");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 3)
        hp_usage(2);
    if (steer_given && !loops_mode)
        hp_bad_usage("-s is for -m loops: pool mode has one listener");
    if (jobs > 0 && loops_mode)
        hp_bad_usage("-q is for -m pool: the loops have no queue");
    steer_cpu = steer_cpu && loops_mode;
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    if (hc_root_init(&root, argv[optind + 2]) < 0)
        hp_die("DOCROOT %s", argv[optind + 2]);
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = !loops_mode ? TP_DEFAULT_THREADS
                  : cpus < 1  ? 1
                  : cpus > TP_MAX_THREADS ? TP_MAX_THREADS
                              : (int)cpus;
    }

    /* A client that closes early must not kill the server with SIGPIPE. */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    if (sigaction(SIGPIPE, &ign, NULL) < 0)
        hp_die("sigaction SIGPIPE");
    /* Blocked before any thread starts, so every thread inherits the
     * mask and the stop signals are only ever read from the signalfd. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        hp_die("sigprocmask");
    /* pool mode: in the I/O thread's epoll set; loops mode: the main
     * thread blocks in read() on it */
    int sfd = signalfd(-1, &mask, (loops_mode ? 0 : SFD_NONBLOCK) |
                                      SFD_CLOEXEC);
    if (sfd < 0)
        hp_die("signalfd");

    int nloops = loops_mode ? threads : 1;
    struct loop *loops = calloc((size_t)nloops, sizeof *loops);
    if (!loops)
        hp_die("calloc");
    int cpus[TP_MAX_THREADS];
    int ncpus = steer_cpu ? loop_cpus(cpus, nloops) : 0;
    int first = make_listener(&addr, loops_mode, ncpus > 0 ? cpus[0] : -1);
    if (loops_mode) {
        /* the others bind the port the first one got (PORT 0) */
        socklen_t len = sizeof addr;
        if (getsockname(first, (struct sockaddr *)&addr, &len) < 0)
            hp_die("getsockname");
    }
    int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake < 0)
        hp_die("eventfd");
    for (int i = 0; i < nloops; i++) {
        int lfd = i == 0 ? first
                         : make_listener(&addr, true, i < ncpus ? cpus[i] : -1);
        loop_init(&loops[i], lfd, wake, loops_mode ? -1 : sfd, &root,
                  idle_ms);
    }
    /* every thread runs before the announcement: whoever reads it finds
     * the server complete */
    int rc;
    if (!loops_mode) {
        if ((rc = tp_create(&loops[0].pool, threads, jobs)) != 0)
            hp_die_en(rc, "tp_create");
    } else {
        for (int i = 0; i < nloops; i++)
            if ((rc = pthread_create(&loops[i].thread, NULL, run_loop,
                                     &loops[i])) != 0)
                hp_die_en(rc, "pthread_create");
    }
    if (hp_announce_listener(first) < 0)
        hp_die("getsockname");
    printf("mode %s: %d %s; idle %lld ms; root %s\n",
           loops_mode ? "loops" : "pool", threads,
           loops_mode ? "event loops, one SO_REUSEPORT listener each"
                      : threads == 1 ? "worker behind 1 I/O thread"
                                     : "workers behind 1 I/O thread",
           idle_ms, root.path);
    if (!loops_mode)
        printf("queue: %d jobs at most; a request that finds it full gets "
               "503\n", jobs > 0 ? jobs : TP_DEFAULT_REQUESTS);
    if (loops_mode) {
        printf("steering: %s", ncpus > 0 ? "by CPU, listener i on CPU"
                                         : "by the hash of the addresses");
        for (int i = 0; i < ncpus; i++)
            printf(" %d", cpus[i]);
        printf("%s\n", ncpus > 0 && ncpus < nloops ? ", the others by hash"
                                                   : "");
    }

    if (!loops_mode) {
        run_loop(&loops[0]);
        /* the jobs still queued run and hand their connections back to
         * a queue nobody reads now: loop_destroy closes them all */
        if ((rc = tp_destroy(loops[0].pool)) != 0)
            hp_die_en(rc, "tp_destroy");
    } else {
        /* this thread's whole job now: wait for the stop signal */
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) < 0)
            if (errno != EINTR)
                hp_die("read signalfd");
        uint64_t one = 1;
        if (write(wake, &one, sizeof one) < 0)
            hp_die("write eventfd");
        for (int i = 0; i < nloops; i++)
            if ((rc = pthread_join(loops[i].thread, NULL)) != 0)
                hp_die_en(rc, "pthread_join");
    }
    printf("closing %d open connection(s)\n", atomic_load(&hc_users));
    for (int i = 0; i < nloops; i++)
        loop_destroy(&loops[i]);
    print_summary(loops, nloops);
    free(loops);
    close(wake);
    close(sfd);
    hc_root_close(&root);
    return 0;
}
