/*
 * echo_server.c - lab epoll-et, starter code: the echo server of the
 * multiplexer comparison (chapter 9), edge-triggered epoll by default.
 *
 * Usage:   echo_server [-R] [-m select|poll|epoll-lt|epoll-et|uring] IP PORT
 *
 * What it must do: echo every byte back to its sender over the backend
 * -m (mux_*.c, behind mux_backend.h; given).  Sockets are non-blocking;
 * each readiness event is drained until EAGAIN, which edge-triggered epoll
 * needs; what send() cannot take is queued and sent when the socket is
 * writable again.  Everything but the drain loop (echo_some) is written
 * for you; look for TODO(lab).  The handout is labs/epoll-et/README.md.
 */
#define _GNU_SOURCE
#include "hpsp.h"
#include "mux_backend.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static const char SYNOPSIS[] =
    "[-h] [-R] [-m select|poll|epoll-lt|epoll-et|uring] IP PORT";
static const char HELP[] =
    "Echo every byte back to its sender, over the I/O multiplexer -m\n"
    "(default epoll-et).  PORT 0 lets the kernel choose; the port is\n"
    "announced.  SIGINT/SIGTERM stop it and print the connection counts.\n"
    "-R: listen with SO_REUSEPORT, so that more echo_server -R processes\n"
    "can listen on the same IP:PORT and share its connections.\n"
    "Peers: loadgen, nc.\n";

/* The kernel caps the accept queue at net.core.somaxconn (4096 since
 * Linux 5.4). */
enum { ACCEPT_BACKLOG = 65535 };
/* The most events one wait hands back to the loop. */
enum { EVENTS_PER_WAIT = 1024 };
/* One recv() reads at most this much; it is echoed before the next. */
enum { RECV_CHUNK = 64 * 1024 };
/* Queued-but-unsent bytes above which a connection is not read. */
enum { ECHO_HIGH_WATER = 1024 * 1024 };

static const struct mux_ops *const backends[] = {
    &mux_select_ops,   &mux_poll_ops,  &mux_epoll_lt_ops,
    &mux_epoll_et_ops, &mux_uring_ops,
};

struct conn {
    int fd;
    unsigned watching; /* what the backend watches it for */
    bool eof;          /* the peer sent FIN: flush, then close */
    char *out;         /* bytes received and not yet sent back */
    size_t out_off, out_len, out_cap;
};

struct server {
    const struct mux_ops *ops;
    struct mux *mux;
    int lfd;
    int sigfd; /* SIGINT and SIGTERM, readable */
    int stop_signal;
    struct conn **conns; /* indexed by fd, grows with the highest fd */
    size_t conns_cap;
    long open, peak; /* connections open now, and at most */
    long accepted, refused;
    long queued_sends; /* sends that were short: the rest was queued */
    char buf[RECV_CHUNK];
};

/* SIGINT and SIGTERM as a readable fd: blocked, so they stay pending
 * until the loop reads them from the signalfd. */
static int
signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        hp_die("sigprocmask");
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        hp_die("signalfd");
    signal(SIGPIPE, SIG_IGN); /* a peer gone mid-send: EPIPE, not death */
    return fd;
}

/* A listener with SO_REUSEPORT set before bind(): every socket of the
 * group sets it, and the kernel hands each new connection to one of
 * them.  -1 (errno set) on failure. */
static int
reuseport_listener(const struct sockaddr_in *addr)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (const struct sockaddr *)addr, sizeof *addr) < 0 ||
        listen(fd, ACCEPT_BACKLOG) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* The signal that arrived, or 0 (a spurious wakeup). */
static int
read_signal(int sigfd)
{
    struct signalfd_siginfo si;
    ssize_t n = read(sigfd, &si, sizeof si);
    return n == (ssize_t)sizeof si ? (int)si.ssi_signo : 0;
}

/* The soft limit on open files up to the hard limit: 10,000 connections
 * need 10,000 descriptors, and the default soft limit is often 1024. */
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

/* UNWATCH: tell the backend first (at exit, destroying it is enough). */
static void
close_conn(struct server *s, struct conn *c, bool unwatch)
{
    if (unwatch && s->ops->del(s->mux, c->fd) < 0)
        hp_warn("%s: removing fd %d", s->ops->name, c->fd);
    close(c->fd);
    s->conns[c->fd] = NULL;
    s->open--;
    free(c->out);
    free(c);
}

/* Append LEN bytes to C's queue.  0, or -1 (out of memory). */
static int
queue_bytes(struct conn *c, const char *data, size_t len)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_off > 0 && c->out_len + len > c->out_cap) {
        /* compact first: the sent head is dead space */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return -1;
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

static size_t
pending(const struct conn *c)
{
    return c->out_len - c->out_off;
}

/* Send what is queued until it is gone or the socket is full.
 * 0, or -1 when the connection failed. */
static int
flush(struct conn *c)
{
    while (pending(c) > 0) {
        ssize_t n = send(c->fd, c->out + c->out_off, pending(c), MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        return -1;
    }
    /* all sent: give the memory back, 10,000 idle queues add up */
    free(c->out);
    c->out = NULL;
    c->out_off = c->out_len = c->out_cap = 0;
    return 0;
}

/*
 * One readiness event's worth of input on C: read it and send it back.
 * 0, or -1 when the connection failed (the caller closes it).
 *
 * TODO(lab): the drain loop.  An edge-triggered backend (the default,
 * epoll-et) reports a connection once per arrival, so everything that
 * has arrived must be read now, until the socket has no more (EAGAIN);
 * whatever is left is never reported again.  Read into s->buf, send each
 * chunk straight back, and queue with queue_bytes() what send() does not
 * take (serve() and flush() send the queue when the socket is writable
 * again; nothing may be sent past a non-empty queue, or bytes overtake
 * each other).  Stop reading at ECHO_HIGH_WATER queued bytes.  On the
 * peer's FIN set c->eof: serve() closes the connection once the queue is
 * sent.  EINTR is not an error; ECONNRESET and the like are.
 */
static int
echo_some(struct server *s, struct conn *c)
{
    (void)s;
    (void)queue_bytes; /* yours to call */
    c->eof = true;     /* stand-in: every connection is taken as closed */
    return 0;
}

/* Tell the backend what C waits for now: input unless it is over the
 * high-water mark or at EOF, output while something is queued. */
static int
update_watch(struct server *s, struct conn *c)
{
    unsigned want = 0;
    if (!c->eof && pending(c) < ECHO_HIGH_WATER)
        want |= MUX_IN;
    if (pending(c) > 0)
        want |= MUX_OUT;
    if (want == c->watching)
        return 0;
    if (s->ops->modify(s->mux, c->fd, want) < 0)
        return -1;
    c->watching = want;
    return 0;
}

/* One event on a connection: the loop body every backend shares. */
static void
serve(struct server *s, struct conn *c, unsigned events)
{
    if ((events & (MUX_OUT | MUX_ERR)) && pending(c) > 0 && flush(c) < 0)
        goto gone;
    /* readable, or no longer over the high-water mark: read on */
    if ((events & (MUX_IN | MUX_ERR)) || !(c->watching & MUX_IN)) {
        if (echo_some(s, c) < 0)
            goto gone;
    }
    if (c->eof && pending(c) == 0)
        goto gone;
    if (update_watch(s, c) < 0) {
        hp_warn("%s: watching fd %d", s->ops->name, c->fd);
        goto gone;
    }
    return;
gone:
    close_conn(s, c, true);
}

/* Accept until EAGAIN: with an edge-triggered backend, one readiness
 * event may stand for many queued connections. */
static void
accept_all(struct server *s)
{
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept4(s->lfd, (struct sockaddr *)&peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN)
                return;
            /* EMFILE and the like: the rest stay queued for now */
            hp_warn("accept");
            return;
        }
        char who[HP_ADDRSTRLEN];
        struct conn **t =
            mux_grow(s->conns, &s->conns_cap, sizeof *t, (size_t)fd);
        struct conn *c = t ? calloc(1, sizeof *c) : NULL;
        if (t)
            s->conns = t;
        if (!c) {
            hp_warnx("out of memory: connection on fd %d closed", fd);
            close(fd);
            s->refused++;
            continue;
        }
        if (s->ops->add(s->mux, fd, MUX_IN) < 0) {
            hp_warn("refused connection from %s on fd %d: %s cannot watch it",
                    hp_addr_str((struct sockaddr *)&peer, who, sizeof who), fd,
                    s->ops->name);
            close(fd);
            free(c);
            s->refused++;
            continue;
        }
        c->fd = fd;
        c->watching = MUX_IN;
        s->conns[fd] = c;
        s->accepted++;
        if (++s->open > s->peak)
            s->peak = s->open;
    }
}

static const struct mux_ops *
parse_backend(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    hp_bad_usage("backend '%s': not one of select, poll, epoll-lt, "
                 "epoll-et, uring",
                 name);
}

int
main(int argc, char **argv)
{
    static struct server s; /* big (the receive buffer): not on the stack */
    static struct mux_event events[EVENTS_PER_WAIT];
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    bool reuseport = false;
    int opt;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    s.ops = &mux_epoll_et_ops;
    while ((opt = getopt(argc, argv, "+hRm:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'm':
            s.ops = parse_backend(optarg);
            break;
        case 'R':
            reuseport = true;
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    raise_nofile();
    s.sigfd = signal_fd();

    s.mux = s.ops->create(EVENTS_PER_WAIT);
    if (!s.mux)
        hp_die("%s: creating the multiplexer", s.ops->name);
    s.lfd = reuseport ? reuseport_listener(&addr)
                      : hp_tcp_listener(&addr, ACCEPT_BACKLOG,
                                        SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s.lfd < 0)
        hp_die("listen on %s", addr_text);
    if (s.ops->add(s.mux, s.lfd, MUX_IN) < 0 ||
        s.ops->add(s.mux, s.sigfd, MUX_IN) < 0)
        hp_die("%s: watching the listener", s.ops->name);
    printf("backend: %s (waits in %s)\n", s.ops->name, s.ops->wait_call);
    if (hp_announce_listener(s.lfd) < 0)
        hp_die("getsockname");

    while (!s.stop_signal) {
        int n = s.ops->wait(s.mux, events, EVENTS_PER_WAIT);
        if (n < 0) {
            if (errno == EINTR) /* SIGSTOP/SIGCONT, a debugger */
                continue;
            hp_die("%s", s.ops->wait_call);
        }
        for (int i = 0; i < n && !s.stop_signal; i++) {
            int fd = events[i].fd;
            if (fd == s.lfd)
                accept_all(&s);
            else if (fd == s.sigfd)
                s.stop_signal = read_signal(s.sigfd);
            else if (fd >= 0 && (size_t)fd < s.conns_cap && s.conns[fd])
                serve(&s, s.conns[fd], events[i].events);
            /* else: closed earlier in this batch; a stale event */
        }
    }

    printf("stopped by signal %d\n", s.stop_signal);
    printf("connections: accepted %ld, refused %ld, peak %ld at once; "
           "short sends queued: %ld\n",
           s.accepted, s.refused, s.peak, s.queued_sends);
    for (size_t fd = 0; fd < s.conns_cap; fd++)
        if (s.conns[fd])
            close_conn(&s, s.conns[fd], false);
    free(s.conns);
    s.ops->destroy(s.mux);
    close(s.lfd);
    close(s.sigfd);
    return 0;
}
