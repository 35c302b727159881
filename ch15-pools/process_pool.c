/*
 * process_pool.c - Listing 15-1: the process pool (see process_pool.h).
 *
 * Differs from the printed listing:
 *  - the listener is edge-triggered in the parent, one notification per
 *    readiness, as printed; but the worker accepts until EAGAIN, so two
 *    connections that arrive as one readiness (the parent was busy or
 *    stopped) are both taken (the book's worker accepts once: the second
 *    waits for some later connection's readiness);
 *  - each worker closes the parent's ends of the earlier workers'
 *    socketpairs it inherited, and the parent's signal pipe (the book's
 *    workers keep them: a leak, and a worker could write to another's
 *    channel); every descriptor is close-on-exec;
 *  - connections live in a list of the worker's, with their state
 *    allocated per connection (the book has an array of 65536 handler
 *    objects per worker, indexed by fd and never checked);
 *  - fork and socketpair are checked (the book asserts); the signal
 *    message is one byte that holds the number; workers reset the
 *    parent's handlers and install their own on a pipe of their own;
 *  - a notification that finds its worker gone (EPIPE) or full (EAGAIN)
 *    goes to the next live worker; SIGCHLD reaps and the dead are skipped
 *    from then on;
 *  - no singleton: the pool is a value in pp_run's frame.
 */
#define _GNU_SOURCE
#include "process_pool.h"
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_EVENTS = 64, SIGNAL_BATCH = 64 };

/* The signals both loops serve, through the self-pipe. */
static const int handled[] = {SIGCHLD, SIGTERM, SIGINT};

/* The handler's end of this process's signal pipe (parent or worker: each
 * has its own), and the stop request kept beside its byte: a full pipe
 * drops the byte, never the request. */
static volatile sig_atomic_t sig_wr = -1;
static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    int saved = errno;
    unsigned char byte = (unsigned char)sig; /* the number itself */

    if (sig != SIGCHLD)
        stop_requested = sig;
    if (write(sig_wr, &byte, 1) < 0) {
        /* full: bytes enough are waiting to wake the loop */
    }
    errno = saved;
}

static void
set_handlers(void (*fn)(int))
{
    struct sigaction sa = {.sa_handler = fn, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
        if (sigaction(handled[i], &sa, NULL) < 0)
            hp_die("sigaction %s", sigabbrev_np(handled[i]));
}

static void
block_handled(int how, sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
        sigaddset(&set, handled[i]);
    sigprocmask(how, &set, old);
}

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void
describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "status 0x%x", (unsigned)status);
}

/* Tags of the epoll sources that are not connections. */
static char listener_tag, signals_tag, notes_tag;

struct worker {
    pid_t pid;
    int fd;     /* the parent's end of its socketpair, or -1 */
    bool alive; /* not yet reaped */
};

struct pool {
    const struct pp_handlers *h;
    int listener, epfd, nworkers, next;
    int sig[2];
    unsigned long readiness; /* notifications sent: "connection N" */
    struct worker w[PP_MAX_WORKERS];
};

/* ---- a worker ----------------------------------------------------------- */

struct pp_conn {
    struct pp_conn *prev, *next;
    int fd;
    int worker;
    bool want_write;
    pid_t child;        /* owned child, or 0 */
    long long deadline; /* CLOCK_MONOTONIC ms, 0: none */
    void *state;
    char peer[HP_ADDRSTRLEN];
};

struct worker_loop {
    struct pool *pool;
    int index, notes, epfd, sig[2];
    struct pp_conn *conns;
    int stop;
};

/* The running worker's loop, for the connection calls below: a worker is
 * one process with one loop, so this names it, never the pool. */
static struct worker_loop *current;

int
pp_conn_fd(const struct pp_conn *conn)
{
    return conn->fd;
}

void *
pp_conn_state(struct pp_conn *conn)
{
    return conn->state;
}

const char *
pp_conn_peer(const struct pp_conn *conn)
{
    return conn->peer;
}

int
pp_conn_worker(const struct pp_conn *conn)
{
    return conn->worker;
}

static void
conn_watch(struct pp_conn *conn, int op)
{
    struct epoll_event ev = {
        .events = conn->want_write ? EPOLLOUT : EPOLLIN | EPOLLRDHUP,
        .data.ptr = conn};
    if (epoll_ctl(current->epfd, op, conn->fd, &ev) < 0)
        hp_die_child("epoll_ctl fd %d", conn->fd);
}

void
pp_conn_want_write(struct pp_conn *conn, bool on)
{
    if (conn->want_write == on || conn->fd < 0)
        return;
    conn->want_write = on;
    conn_watch(conn, EPOLL_CTL_MOD);
}

void
pp_conn_deadline(struct pp_conn *conn, long long ms)
{
    conn->deadline = ms > 0 ? now_ms() + ms : 0;
}

void
pp_conn_release_fd(struct pp_conn *conn)
{
    if (conn->fd < 0)
        return;
    if (epoll_ctl(current->epfd, EPOLL_CTL_DEL, conn->fd, NULL) < 0)
        hp_die_child("epoll_ctl DEL fd %d", conn->fd);
    close(conn->fd);
    conn->fd = -1;
}

void
pp_conn_own_child(struct pp_conn *conn, pid_t pid)
{
    conn->child = pid;
}

static void
conn_close(struct worker_loop *wl, struct pp_conn *conn)
{
    if (wl->pool->h->on_close)
        wl->pool->h->on_close(conn);
    pp_conn_release_fd(conn);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        wl->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    free(conn->state);
    free(conn);
}

static void
conn_open(struct worker_loop *wl, int fd, const struct sockaddr_in *sa)
{
    const struct pp_handlers *h = wl->pool->h;
    struct pp_conn *conn = calloc(1, sizeof *conn);
    void *state = calloc(1, h->conn_size ? h->conn_size : 1);
    if (conn == NULL || state == NULL) {
        hp_warn("worker %d: calloc: connection %s refused", wl->index,
                hp_addr_str((const struct sockaddr *)sa,
                            (char[HP_ADDRSTRLEN]){0}, HP_ADDRSTRLEN));
        free(conn);
        free(state);
        close(fd);
        return;
    }
    conn->fd = fd;
    conn->worker = wl->index;
    conn->state = state;
    hp_addr_str((const struct sockaddr *)sa, conn->peer, sizeof conn->peer);
    conn->next = wl->conns;
    if (wl->conns)
        wl->conns->prev = conn;
    wl->conns = conn;
    conn_watch(conn, EPOLL_CTL_ADD);
    if (h->on_open && h->on_open(conn) == PP_CLOSE)
        conn_close(wl, conn);
}

/* A notification: accept on the shared listener until EAGAIN. */
static void
accept_all(struct worker_loop *wl, int number)
{
    int got = 0;
    for (;;) {
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        int fd = accept4(wl->pool->listener, (struct sockaddr *)&sa, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                hp_warn("worker %d: accept4", wl->index);
            break;
        }
        got++;
        char peer[HP_ADDRSTRLEN];
        printf("worker %d (pid %d): connection %d: accepted %s\n", wl->index,
               (int)getpid(), number,
               hp_addr_str((struct sockaddr *)&sa, peer, sizeof peer));
        conn_open(wl, fd, &sa);
    }
    if (got == 0)
        printf("worker %d (pid %d): connection %d: nothing to accept "
               "(another worker took it)\n", wl->index, (int)getpid(),
               number);
}

static void
read_notes(struct worker_loop *wl)
{
    for (;;) {
        int number;
        ssize_t n = recv(wl->notes, &number, sizeof number, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            printf("worker %d (pid %d): the parent is gone; stopping\n",
                   wl->index, (int)getpid());
            wl->stop = SIGTERM;
            return;
        }
        if ((size_t)n == sizeof number)
            accept_all(wl, number);
    }
}

static struct pp_conn *
owner_of(struct worker_loop *wl, pid_t pid)
{
    for (struct pp_conn *c = wl->conns; c; c = c->next)
        if (c->child == pid)
            return c;
    return NULL;
}

static void
worker_reap(struct worker_loop *wl)
{
    const struct pp_handlers *h = wl->pool->h;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct pp_conn *conn = owner_of(wl, pid);
        if (conn == NULL) {
            if (h->on_orphan)
                h->on_orphan(pid, status, h->arg);
            continue;
        }
        conn->child = 0;
        enum pp_verdict v =
            h->on_child ? h->on_child(conn, pid, status) : PP_CLOSE;
        if (v == PP_CLOSE)
            conn_close(wl, conn);
    }
}

static void
worker_signals(struct worker_loop *wl)
{
    unsigned char sig[SIGNAL_BATCH];
    ssize_t n;
    while ((n = read(wl->sig[0], sig, sizeof sig)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (sig[i] == SIGCHLD)
                worker_reap(wl);
            else
                wl->stop = sig[i];
        }
}

static void
worker_timeouts(struct worker_loop *wl, int *timeout)
{
    long long now = now_ms(), next = 0;
    struct pp_conn *conn = wl->conns;
    while (conn) {
        struct pp_conn *after = conn->next;
        if (conn->deadline && conn->deadline <= now) {
            conn->deadline = 0;
            const struct pp_handlers *h = wl->pool->h;
            if ((h->on_timeout ? h->on_timeout(conn) : PP_CLOSE) == PP_CLOSE)
                conn_close(wl, conn);
            after = wl->conns; /* the list may have changed: start over */
            now = now_ms();
            next = 0;
            conn = after;
            continue;
        }
        if (conn->deadline && (next == 0 || conn->deadline < next))
            next = conn->deadline;
        conn = after;
    }
    *timeout = next ? (int)(next - now) : -1;
}

static void
conn_event(struct worker_loop *wl, struct pp_conn *conn, uint32_t events)
{
    const struct pp_handlers *h = wl->pool->h;
    enum pp_verdict v = PP_KEEP;
    if ((events & EPOLLOUT) && h->on_writable)
        v = h->on_writable(conn);
    if (v == PP_KEEP && conn->fd >= 0 &&
        (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        v = h->on_readable(conn);
    if (v == PP_CLOSE)
        conn_close(wl, conn);
}

static void
watch(int epfd, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        hp_die_child("epoll_ctl ADD fd %d", fd);
}

static HP_NORETURN void
worker_main(struct pool *pool, int index, int notes)
{
    struct worker_loop wl = {.pool = pool, .index = index, .notes = notes};
    const struct pp_handlers *h = pool->h;
    struct epoll_event events[MAX_EVENTS];

    current = &wl;
    /* The parent's handlers write to the parent's pipe: not ours.  The
     * signals are still blocked (since before fork), so none ran here. */
    set_handlers(SIG_DFL);
    /* Nor are the parent's descriptors ours: its signal pipe, and its
     * ends of the socketpairs of the workers forked before us. */
    close(pool->sig[0]);
    close(pool->sig[1]);
    for (int k = 0; k < index; k++)
        if (pool->w[k].fd >= 0)
            close(pool->w[k].fd);
    /* What a child of ours leaves behind is reparented to us, not to
     * init: we reap it (and cgi_server kills it). */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        hp_die_child("prctl PR_SET_CHILD_SUBREAPER");
    if (pipe2(wl.sig, O_NONBLOCK | O_CLOEXEC) < 0)
        hp_die_child("pipe2");
    sig_wr = wl.sig[1];
    stop_requested = 0;
    set_handlers(on_signal);
    if (fcntl(notes, F_SETFL, O_NONBLOCK) < 0)
        hp_die_child("fcntl O_NONBLOCK");
    wl.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (wl.epfd < 0)
        hp_die_child("epoll_create1");
    watch(wl.epfd, notes, &notes_tag);
    watch(wl.epfd, wl.sig[0], &signals_tag);
    block_handled(SIG_UNBLOCK, NULL);
    if (h->worker_init && h->worker_init(index, h->arg) != 0) {
        fflush(stdout);
        _exit(1);
    }

    int timeout = -1;
    while (!wl.stop) {
        int n = epoll_wait(wl.epfd, events, MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno != EINTR)
                hp_die_child("worker %d: epoll_wait", index);
            n = 0; /* a handler ran: its byte is in the pipe */
        }
        bool signals = false;
        for (int i = 0; i < n && !wl.stop; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &notes_tag)
                read_notes(&wl);
            else if (tag == &signals_tag)
                signals = true; /* after the connections: a reap may
                                   close one whose event is still here */
            else
                conn_event(&wl, tag, events[i].events);
        }
        if (signals && !wl.stop)
            worker_signals(&wl);
        if (!wl.stop && stop_requested)
            wl.stop = stop_requested;
        if (!wl.stop)
            worker_timeouts(&wl, &timeout);
    }

    int open_conns = 0;
    while (wl.conns) {
        conn_close(&wl, wl.conns);
        open_conns++;
    }
    if (h->worker_exit)
        h->worker_exit(h->arg);
    printf("worker %d (pid %d): SIG%s: closed %d connection(s), exit 0\n",
           index, (int)getpid(), sigabbrev_np(wl.stop), open_conns);
    sig_wr = -1;
    close(wl.sig[0]);
    close(wl.sig[1]);
    close(wl.epfd);
    close(notes);
    close(pool->listener);
    fflush(stdout);
    _exit(0);
}

/* ---- the parent ----------------------------------------------------------- */

static int
live_workers(const struct pool *pool)
{
    int n = 0;
    for (int k = 0; k < pool->nworkers; k++)
        n += pool->w[k].alive;
    return n;
}

static void
worker_gone(struct pool *pool, int k, int status)
{
    struct worker *w = &pool->w[k];
    char how[48];
    describe_status(status, how, sizeof how);
    printf("worker %d (pid %d) ended: %s\n", k, (int)w->pid, how);
    w->alive = false;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
}

static void
parent_reap(struct pool *pool)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int k = 0;
        while (k < pool->nworkers && pool->w[k].pid != pid)
            k++;
        if (k == pool->nworkers)
            printf("reaped pid %d, not a worker\n", (int)pid);
        else
            worker_gone(pool, k, status);
    }
}

/* One readiness of the listener: one int to the next live worker. */
static void
notify(struct pool *pool)
{
    int number = (int)++pool->readiness;
    for (int tries = 0; tries < pool->nworkers; tries++) {
        int k = pool->next;
        pool->next = (pool->next + 1) % pool->nworkers;
        struct worker *w = &pool->w[k];
        if (!w->alive || w->fd < 0)
            continue; /* dead workers are skipped */
        /* logged first: the worker's own lines about it come after */
        printf("connection %d -> worker %d (pid %d)\n", number, k,
               (int)w->pid);
        ssize_t n = send(w->fd, &number, sizeof number, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof number)
            return;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            printf("worker %d (pid %d) has too many notifications unread: "
                   "the next worker\n", k, (int)w->pid);
            continue;
        }
        /* EPIPE: it died and SIGCHLD has not been read yet */
        printf("worker %d (pid %d): notification failed (%s): the next "
               "worker\n", k, (int)w->pid,
               n < 0 ? strerrorname_np(errno) : "short");
        close(w->fd);
        w->fd = -1;
    }
    printf("connection %d: no live worker to take it\n", number);
}

static int
parent_signals(struct pool *pool)
{
    unsigned char sig[SIGNAL_BATCH];
    ssize_t n;
    int stop = 0;
    while ((n = read(pool->sig[0], sig, sizeof sig)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (sig[i] == SIGCHLD)
                parent_reap(pool);
            else
                stop = sig[i];
        }
    return stop;
}

/* SIGTERM to every live worker, then wait for each: no zombie left. */
static void
stop_workers(struct pool *pool, int sig)
{
    int alive = live_workers(pool);
    printf("SIG%s: stopping, SIGTERM to %d worker(s)\n", sigabbrev_np(sig),
           alive);
    for (int k = 0; k < pool->nworkers; k++)
        if (pool->w[k].alive && kill(pool->w[k].pid, SIGTERM) < 0)
            hp_warn("kill %d", (int)pool->w[k].pid);
    for (int k = 0; k < pool->nworkers; k++) {
        int status;
        if (!pool->w[k].alive)
            continue;
        while (waitpid(pool->w[k].pid, &status, 0) < 0)
            if (errno != EINTR)
                hp_die("waitpid %d", (int)pool->w[k].pid);
        worker_gone(pool, k, status);
    }
}

static void
parent_close(struct pool *pool)
{
    for (int k = 0; k < pool->nworkers; k++)
        if (pool->w[k].fd >= 0)
            close(pool->w[k].fd);
    sig_wr = -1;
    close(pool->sig[0]);
    close(pool->sig[1]);
    if (pool->epfd >= 0)
        close(pool->epfd);
    set_handlers(SIG_DFL);
}

/* Fork the workers; 0, or -1 (the ones started are stopped). */
static int
start_workers(struct pool *pool)
{
    sigset_t old;
    /* blocked across fork: a signal between fork and the worker's own
     * handlers would run the parent's handler in the worker */
    block_handled(SIG_BLOCK, &old);
    for (int k = 0; k < pool->nworkers; k++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
            hp_warn("socketpair for worker %d", k);
            goto fail;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            hp_warn("fork worker %d", k);
            close(sv[0]);
            close(sv[1]);
            goto fail;
        }
        if (pid == 0) {
            close(sv[0]);
            worker_main(pool, k, sv[1]);
        }
        close(sv[1]);
        pool->w[k] = (struct worker){.pid = pid, .fd = sv[0], .alive = true};
        if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
            hp_warn("fcntl O_NONBLOCK");
            goto fail;
        }
        printf("worker %d started: pid %d\n", k, (int)pid);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return 0;
fail:
    sigprocmask(SIG_SETMASK, &old, NULL);
    stop_workers(pool, SIGTERM);
    return -1;
}

int
pp_run(int listener, const struct pp_options *opt,
       const struct pp_handlers *h)
{
    struct pool pool = {.h = h, .listener = listener, .epfd = -1};
    struct epoll_event events[MAX_EVENTS];
    int stop = 0;

    pool.nworkers = opt && opt->workers ? opt->workers : PP_DEFAULT_WORKERS;
    if (pool.nworkers < 1 || pool.nworkers > PP_MAX_WORKERS) {
        hp_warnx("pp_run: %d workers: want 1 to %d", pool.nworkers,
                 PP_MAX_WORKERS);
        return 1;
    }
    for (int k = 0; k < PP_MAX_WORKERS; k++)
        pool.w[k].fd = -1;
    if (pipe2(pool.sig, O_NONBLOCK | O_CLOEXEC) < 0) {
        hp_warn("pipe2");
        return 1;
    }
    sig_wr = pool.sig[1];
    stop_requested = 0;
    signal(SIGPIPE, SIG_IGN);
    set_handlers(on_signal);
    if (start_workers(&pool) < 0) {
        parent_close(&pool);
        return 1;
    }
    /* created after the forks: no worker inherits it */
    pool.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET,
                              .data.ptr = &listener_tag};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &signals_tag};
    if (pool.epfd < 0 ||
        epoll_ctl(pool.epfd, EPOLL_CTL_ADD, listener, &lev) < 0 ||
        epoll_ctl(pool.epfd, EPOLL_CTL_ADD, pool.sig[0], &sev) < 0) {
        hp_warn("epoll");
        stop_workers(&pool, SIGTERM);
        parent_close(&pool);
        return 1;
    }

    while (!stop) {
        int n = epoll_wait(pool.epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno != EINTR) {
                hp_warn("epoll_wait");
                stop = SIGTERM;
                break;
            }
            n = 0; /* a handler ran: its byte is in the pipe */
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &listener_tag)
                notify(&pool);
            else if (events[i].data.ptr == &signals_tag)
                stop = parent_signals(&pool);
        }
        if (!stop && stop_requested)
            stop = stop_requested;
        if (!stop && live_workers(&pool) == 0) {
            printf("no worker left: the pool stops\n");
            parent_close(&pool);
            return 1;
        }
    }
    stop_workers(&pool, stop);
    parent_close(&pool);
    printf("every worker reaped; exit 0\n");
    return 0;
}
