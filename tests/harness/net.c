/*
 * net.c - the harness's own sockets, echo exchanges, and the kernel's
 * view of a connection (sock_diag).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>

/* An echo that moves no byte either way for this long has stopped: on
 * loopback a live exchange moves something every few milliseconds. */
#define NO_PROGRESS_MS 3000

int
hh_wait_fd(struct hh_ctx *c, int fd, short events, int timeout_ms)
{
    return hhi_wait_fd(c, fd, events, hh_now_ms() + hh_ms(c, timeout_ms));
}

/* ---- sockets ---------------------------------------------------------- */

int
hh_track_fd(struct hh_ctx *c, int fd)
{
    if (fd < 0)
        hh_fail(c, "socket: %s", strerror(errno));
    if (c->nfds == HH_MAX_FDS) {
        close(fd);
        hh_fail(c, "too many sockets in one scenario");
    }
    c->fds[c->nfds++] = fd;
    return fd;
}

static void
untrack_fd(struct hh_ctx *c, int fd)
{
    for (int i = 0; i < c->nfds; i++)
        if (c->fds[i] == fd) {
            c->fds[i] = c->fds[--c->nfds];
            return;
        }
}

int
hh_connect_start(struct hh_ctx *c, const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        hh_fail(c, "socket: %s", strerror(errno));
    hh_track_fd(c, fd);
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 &&
        errno != EINPROGRESS)
        hh_fail(c, "connect: %s", strerror(errno));
    return fd;
}

int
hh_connect(struct hh_ctx *c, const struct sockaddr_in *sa, int timeout_ms)
{
    int fd = hh_connect_start(c, sa);
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    if (!hhi_wait_fd(c, fd, POLLOUT, deadline))
        hh_fail(c, "connect to port %u: no answer within %d ms",
                ntohs(sa->sin_port), hh_ms(c, timeout_ms));
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err)
        hh_fail(c, "connect to port %u: %s", ntohs(sa->sin_port),
                strerror(err));
    hh_note(c, "harness: connected from port %u", hh_local_port(fd));
    return fd;
}

int
hh_listen(struct hh_ctx *c, in_port_t port, struct sockaddr_in *bound,
          int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        hh_fail(c, "socket: %s", strerror(errno));
    hh_track_fd(c, fd);
    memset(bound, 0, sizeof *bound);
    bound->sin_family = AF_INET;
    bound->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound->sin_port = htons(port);
    socklen_t len = sizeof *bound;
    int one = 1; /* a fixed port may still have a TIME_WAIT of a past run */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)bound, sizeof *bound) < 0) {
        int e = errno;
        hh_close(c, fd);
        errno = e;
        return -1;
    }
    if (listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)bound, &len) < 0)
        hh_fail(c, "harness listener: %s", strerror(errno));
    return fd;
}

int
hh_accept(struct hh_ctx *c, int lfd, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return hh_track_fd(c, fd);
        if (errno != EAGAIN && errno != EINTR)
            hh_fail(c, "accept: %s", strerror(errno));
        if (!hhi_wait_fd(c, lfd, POLLIN, deadline))
            hh_fail(c, "no connection to accept within %d ms",
                    hh_ms(c, timeout_ms));
    }
}

void
hh_send(struct hh_ctx *c, int fd, const void *buf, size_t len, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t put = 0;
    char esc[200];
    while (put < len) {
        ssize_t n = send(fd, (const char *)buf + put, len - put,
                         MSG_NOSIGNAL);
        if (n > 0) {
            put += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            hh_fail(c, "send: %s", strerror(errno));
        if (!hhi_wait_fd(c, fd, POLLOUT, deadline))
            hh_fail(c, "send: %zu of %zu bytes sent within %d ms", put, len,
                    hh_ms(c, timeout_ms));
    }
    hh_note(c, "harness > \"%s\"%s (%zu bytes)",
            hh_escape(buf, len < 40 ? len : 40, esc, sizeof esc),
            len > 40 ? "..." : "", len);
}

size_t
hh_recv_all(struct hh_ctx *c, int fd, void *buf, size_t cap, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t got = 0;
    char esc[400];
    for (;;) {
        char extra;
        ssize_t n = got < cap ? recv(fd, (char *)buf + got, cap - got, 0)
                              : recv(fd, &extra, 1, 0);
        if (n > 0 && got >= cap)
            hh_fail(c, "recv: more than the %zu bytes expected", cap);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            break;
        if (errno != EAGAIN && errno != EINTR)
            hh_fail(c, "recv: %s after %zu bytes", strerror(errno), got);
        if (!hhi_wait_fd(c, fd, POLLIN, deadline))
            hh_fail(c, "recv: no EOF within %d ms (%zu bytes so far)",
                    hh_ms(c, timeout_ms), got);
    }
    hh_note(c, "harness < \"%s\"%s (%zu bytes, then EOF)",
            hh_escape(buf, got < 60 ? got : 60, esc, sizeof esc),
            got > 60 ? "..." : "", got);
    return got;
}

void
hh_expect_eof(struct hh_ctx *c, int fd, int timeout_ms)
{
    char b[1];
    size_t n = hh_recv_all(c, fd, b, 0, timeout_ms);
    (void)n;
}

void
hh_close(struct hh_ctx *c, int fd)
{
    untrack_fd(c, fd);
    close(fd);
}

void
hh_abort(struct hh_ctx *c, int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
        hh_fail(c, "SO_LINGER: %s", strerror(errno));
    hh_note(c, "harness: close with SO_LINGER {1, 0} (sends RST)");
    hh_close(c, fd);
}

in_port_t
hh_local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return 0;
    return ntohs(sa.sin_port);
}

/* A sock_diag request for TCP over IPv4 on local port LPORT and remote
 * port RPORT (0: any), FLAGS in its netlink header. */
struct diag_query {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
};

static void
diag_query_init(struct diag_query *q, unsigned flags, in_port_t lport,
                in_port_t rport)
{
    memset(q, 0, sizeof *q);
    q->nlh.nlmsg_len = sizeof *q;
    q->nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    q->nlh.nlmsg_flags = (unsigned short)flags;
    q->req.sdiag_family = AF_INET;
    q->req.sdiag_protocol = IPPROTO_TCP;
    q->req.id.idiag_sport = htons(lport);
    q->req.id.idiag_dport = htons(rport);
}

int
hh_tcp_count(const char *state, in_port_t lport, in_port_t rport)
{
    /* One sock_diag dump, the kernel keeping only the sockets in STATE on
     * those ports: it walks each hash chain once, under its lock, so a
     * socket is counted once.  /proc/net/tcp cannot promise that: read 4
     * KB at a time, it resumes each read at the same position in a hash
     * chain, and when other programs open and close connections meanwhile
     * (make test runs two chapters at once) a line comes twice or never,
     * as four ESTABLISHED connections counted 5 there showed. */
    char *end;
    long st = strtol(state, &end, 16);
    if (*end || st <= 0 || st > TCP_CLOSING)
        return -1;
    struct diag_query q;
    diag_query_init(&q, NLM_F_REQUEST | NLM_F_DUMP, lport, rport);
    q.req.idiag_states = 1u << st; /* SYN_RECV brings request sockets */

    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -1;
    int n = -1;
    if (send(fd, &q, sizeof q, 0) == (ssize_t)sizeof q) {
        union {
            struct nlmsghdr nlh;
            char bytes[32768];
        } r;
        bool done = false;
        n = 0;
        while (!done && n >= 0) {
            ssize_t len = recv(fd, &r, sizeof r, 0);
            if (len <= 0) {
                n = -1;
                break;
            }
            size_t left = (size_t)len;
            for (struct nlmsghdr *h = &r.nlh; !done && NLMSG_OK(h, left);
                 h = NLMSG_NEXT(h, left)) {
                if (h->nlmsg_type == NLMSG_DONE)
                    done = true;
                else if (h->nlmsg_type == NLMSG_ERROR) {
                    n = -1;
                    done = true;
                } else if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
                    const struct inet_diag_msg *d = NLMSG_DATA(h);
                    /* the kernel filtered them: checked all the same */
                    if (d->idiag_state == st &&
                        (!lport || d->id.idiag_sport == htons(lport)) &&
                        (!rport || d->id.idiag_dport == htons(rport)))
                        n++;
                }
            }
        }
    }
    close(fd);
    return n;
}

int
hh_tcp_info(in_port_t lport, in_port_t rport, int *state, long *tx, long *rx)
{
    /* One sock_diag lookup of that exact socket: /proc/net/tcp lists
     * every socket, and after a C10K run it holds ten thousand lines. */
    struct diag_query q;
    diag_query_init(&q, NLM_F_REQUEST, lport, rport); /* one socket */
    q.req.idiag_states = ~0u;
    q.req.id.idiag_src[0] = htonl(INADDR_LOOPBACK);
    q.req.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
    q.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -1;
    union {
        struct nlmsghdr nlh;
        char bytes[8192];
    } r;
    ssize_t n = -1;
    if (send(fd, &q, sizeof q, 0) == (ssize_t)sizeof q)
        n = recv(fd, &r, sizeof r, 0);
    close(fd);
    if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct inet_diag_msg)) ||
        r.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY)
        return -1; /* NLMSG_ERROR: ENOENT */
    const struct inet_diag_msg *d = NLMSG_DATA(&r.nlh);
    /* the kernel's lookup falls back to a listener on LPORT when no
     * connection matches: that is not the socket asked for */
    if (d->id.idiag_sport != htons(lport) || d->id.idiag_dport != htons(rport))
        return -1;
    if (state)
        *state = d->idiag_state;
    if (tx)
        *tx = (long)d->idiag_wqueue;
    if (rx)
        *rx = (long)d->idiag_rqueue;
    return 0;
}

const char *
hh_tcp_state_name(int state)
{
    static const char *const names[] = {
        [TCP_ESTABLISHED] = "ESTABLISHED", [TCP_SYN_SENT] = "SYN_SENT",
        [TCP_SYN_RECV] = "SYN_RECV",       [TCP_FIN_WAIT1] = "FIN_WAIT1",
        [TCP_FIN_WAIT2] = "FIN_WAIT2",     [TCP_TIME_WAIT] = "TIME_WAIT",
        [TCP_CLOSE] = "CLOSE",             [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
        [TCP_LAST_ACK] = "LAST_ACK",       [TCP_LISTEN] = "LISTEN",
        [TCP_CLOSING] = "CLOSING",
    };
    if (state >= 0 && (size_t)state < sizeof names / sizeof names[0] &&
        names[state])
        return names[state];
    return "?";
}

/* ---- echo exchanges --------------------------------------------------- */

static char *pattern_buf;
static size_t pattern_len;
static char *scratch_buf;
static size_t scratch_len;

const char *
hh_pattern(struct hh_ctx *c, size_t len)
{
    if (len > pattern_len) {
        char *p = realloc(pattern_buf, len);
        HH_CHECK(c, p != NULL, "out of memory for %zu bytes", len);
        uint32_t x = 2654435761u; /* xorshift: no byte repeats in step */
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            p[i] = (char)(x >> 24);
        }
        pattern_buf = p;
        pattern_len = len;
    }
    return pattern_buf;
}

static char *
scratch(struct hh_ctx *c, size_t len)
{
    if (len > scratch_len) {
        char *p = realloc(scratch_buf, len);
        HH_CHECK(c, p != NULL, "out of memory for %zu bytes", len);
        scratch_buf = p;
        scratch_len = len;
    }
    return scratch_buf;
}

/* Move bytes both ways on FD until GOT has LEN bytes back: send from
 * DATA+*PUT, read into GOT+*HAVE while READING.  Returns
 * when the echo is complete, or false when nothing moved for IDLE_MS
 * (-1: never) before the deadline. */
static bool
pump_echo(struct hh_ctx *c, int fd, const char *data, size_t len, char *got,
          size_t *put, size_t *have, bool reading, int idle_ms,
          long long deadline)
{
    long long quiet_since = hh_now_ms();
    while (*have < len) {
        struct pollfd pf = {.fd = fd, .events = 0};
        if (*put < len)
            pf.events |= POLLOUT;
        if (reading)
            pf.events |= POLLIN;
        long long now = hh_now_ms();
        if (idle_ms >= 0 && now - quiet_since >= idle_ms)
            return false;
        /* a server that stopped echoing fails now, not at the deadline */
        HH_CHECK(c, !reading || now - quiet_since < hh_ms(c, NO_PROGRESS_MS),
                 "echo of %zu bytes: sent %zu, got %zu back, then nothing "
                 "moved either way for %d ms", len, *put, *have,
                 hh_ms(c, NO_PROGRESS_MS));
        HH_CHECK(c, now < deadline,
                 "echo of %zu bytes: sent %zu, got %zu back by the deadline",
                 len, *put, *have);
        long long until = deadline;
        if (idle_ms >= 0 && quiet_since + idle_ms < until)
            until = quiet_since + idle_ms;
        /* the programs' output is read meanwhile: a server that prints
         * as it echoes must not block on a full stdout pipe */
        pf.revents = (short)hhi_wait_fd(c, fd, pf.events, until);
        if (!pf.revents)
            continue;
        if ((pf.revents & POLLOUT) && *put < len) {
            ssize_t n = send(fd, data + *put, len - *put,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            HH_CHECK(c, n >= 0 || errno == EAGAIN,
                     "send after %zu of %zu bytes: %s", *put, len,
                     strerror(errno));
            if (n > 0)
                *put += (size_t)n, quiet_since = hh_now_ms();
        }
        if (reading && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = recv(fd, got + *have, len - *have, MSG_DONTWAIT);
            HH_CHECK(c, n != 0, "EOF after %zu of %zu echoed bytes", *have,
                     len);
            HH_CHECK(c, n > 0 || errno == EAGAIN,
                     "recv after %zu of %zu bytes: %s", *have, len,
                     strerror(errno));
            /* compared as it comes: a lost or changed byte fails at
             * once, not when the deadline runs out on a short echo */
            for (ssize_t i = 0; i < n; i++, ++*have)
                HH_CHECK(c, got[*have] == data[*have],
                         "echo differs at byte %zu of %zu: sent 0x%02x, "
                         "got 0x%02x", *have, len,
                         (unsigned char)data[*have],
                         (unsigned char)got[*have]);
            if (n > 0)
                quiet_since = hh_now_ms();
        }
        HH_CHECK(c, !(pf.revents & (POLLHUP | POLLERR)) || reading,
                 "the connection failed after %zu bytes sent", *put);
    }
    return true;
}

void
hh_echo_exchange(struct hh_ctx *c, int fd, const void *data, size_t len,
                 int timeout_ms)
{
    char *got = scratch(c, len);
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t put = 0, have = 0;
    pump_echo(c, fd, data, len, got, &put, &have, true, -1, deadline);
    hh_note(c, "harness: %zu bytes sent while reading, %zu echoed back, "
               "byte for byte", len, len);
}

void
hh_echo_expect(struct hh_ctx *c, int fd, const void *data, size_t len,
               int timeout_ms)
{
    char *got = scratch(c, len);
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t put = len, have = 0; /* all sent already: only read */
    pump_echo(c, fd, data, len, got, &put, &have, true, -1, deadline);
}

size_t
hh_echo_stalled(struct hh_ctx *c, int fd, size_t len, int stall_ms,
                int timeout_ms)
{
    const char *data = hh_pattern(c, len);
    char *got = scratch(c, len);
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t put = 0, have = 0;
    bool done = pump_echo(c, fd, data, len, got, &put, &have, false,
                          stall_ms, deadline);
    HH_CHECK(c, !done && put < len,
             "all %zu bytes were taken with nothing read: the exchange "
             "never stalled (send more)", len);
    size_t unread = put;
    hh_note(c, "harness: sent %zu bytes without reading; nothing more moved "
               "for %d ms (every buffer on the way is full)", put, stall_ms);
    pump_echo(c, fd, data, len, got, &put, &have, true, -1, deadline);
    hh_note(c, "harness: then read while sending the rest: all %zu bytes "
               "echoed back, byte for byte", len);
    return unread;
}

in_port_t
hh_closed_port(struct hh_ctx *c)
{
    struct sockaddr_in sa;
    int lfd = hh_listen(c, 0, &sa, 1);
    hh_close(c, lfd);
    return ntohs(sa.sin_port);
}

struct sockaddr_in
hh_full_listener(struct hh_ctx *c)
{
    struct sockaddr_in sa;
    hh_listen(c, 0, &sa, 0); /* closed at teardown */
    hh_note(c, "harness: a listener with backlog 0 on port %u; one "
               "connection fills its accept queue", ntohs(sa.sin_port));
    hh_connect(c, &sa, 2000);
    return sa;
}


void
hhi_net_free(void)
{
    free(pattern_buf);
    free(scratch_buf);
    pattern_buf = scratch_buf = NULL;
    pattern_len = scratch_len = 0;
}

/* ---- a program's own descriptors ---------------------------------------- */

int
hh_copy_fd_of(struct hh_proc *p, int fd)
{
    struct hh_ctx *c = p->ctx;
    int pidfd = (int)syscall(SYS_pidfd_open, hh_pid(p), 0);
    HH_CHECK(c, pidfd >= 0, "pidfd_open: %s", strerror(errno));
    int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    int err = errno;
    close(pidfd);
    if (copy < 0 && (err == EPERM || err == ENOSYS))
        hh_skip(c, "pidfd_getfd of %s's fd %d: %s", p->role, fd,
                strerror(err));
    HH_CHECK(c, copy >= 0, "pidfd_getfd: %s", strerror(err));
    return copy;
}

int
hh_fill_fd_of(struct hh_proc *p, int fd, unsigned char byte)
{
    struct hh_ctx *c = p->ctx;
    hh_wait_state(p, "S", 3000);
    hh_note(c, "harness: kill -STOP %s: its loop cannot drain fd %d", p->role,
            fd);
    hh_kill(p, SIGSTOP);
    hh_wait_state(p, "Tt", 3000);
    int copy = hh_copy_fd_of(p, fd);
    int bytes = 0;
    ssize_t n;
    /* MSG_DONTWAIT: never block, whatever the program set on its fd */
    while ((n = send(copy, &byte, 1, MSG_DONTWAIT)) == 1)
        bytes++;
    int err = errno;
    close(copy);
    HH_CHECK(c, n < 0 && (err == EAGAIN || err == EWOULDBLOCK) && bytes > 0,
             "filling %s's fd %d: %d byte(s), then %s", p->role, fd, bytes,
             n < 0 ? strerror(err) : "a short send");
    return bytes;
}
