/*
 * stress_client.c - Listing 16-4: the book's stress tester for the web
 * server, fixed: many keep-alive connections sending GET requests, each
 * response read whole, for a set time, then a summary.
 *
 * Usage:   stress_client [-d TIME] [-c CONNS] [-p PATH] [-P DEPTH]
 *                        [-t TIMEOUT] IP PORT
 *
 * Shows:   CONNS non-blocking connects are started at once and finish in
 *          the epoll loop (EPOLLOUT, then SO_ERROR).  Each connection then
 *          keeps DEPTH requests "GET PATH HTTP/1.1" in flight (1: one at a
 *          time; more: pipelined), sending the next as soon as a response
 *          is complete.  A response is complete when its status line,
 *          headers and Content-Length bytes of body have arrived, however
 *          the bytes were cut into reads: a read may hold a piece of one
 *          response or the ends and starts of several.  After TIME (default
 *          5s) no new request is sent; those in flight are awaited, then
 *          every connection is closed and the summary printed:
 *            connections: opened, failed, reopened, open at the end
 *            requests: sent, completed, unanswered, requests/s
 *            responses: the count of each status code
 *            errors: the total, and by kind (connect, closed, reset,
 *                    bad_response, unexpected, stalled)
 *          A server's "Connection: close" is obeyed: the connection is
 *          closed after that response and a new one opened (while TIME
 *          lasts), which first sends again the pipelined requests the
 *          server left unanswered.  Any other end of a connection with a
 *          request in flight is an error, and that connection is not
 *          replaced.  Exit 1 if any error was counted.
 *
 * Look at: `strace -e trace=connect,epoll_ctl,sendto,recvfrom,close`: the
 *          connects all return EINPROGRESS at once (the book sleeps a
 *          second after each); recvfrom returning EAGAIN is just the end
 *          of what has arrived, not a failure; a connection the server
 *          ended is taken out of the epoll set (EPOLL_CTL_DEL) and only
 *          then closed, and its fd never appears in epoll_ctl again.
 *
 * Peer:    web_server, with a file at PATH in its root; or any HTTP/1.1
 *          server on loopback.  It is a load and correctness check, not a
 *          benchmark: ch15-pools/bench/http measures with wrk.
 *
 * Differs from the printed listing:
 *  - the request ends at its blank line (the book sends twelve junk bytes
 *    after it, which a server that honours pipelining must treat as the
 *    start of the next request and answer 400);
 *  - connects are non-blocking and all started at once (the book makes
 *    blocking connects, one a second);
 *  - a response is read to its last byte (status line, headers,
 *    Content-Length), across as many reads as it takes, and several
 *    responses in one read are each counted (the book reads once per
 *    response and prints whatever came);
 *  - EAGAIN ends a read, it is not a failure (the book counts it as one
 *    and closes the connection);
 *  - a connection that ends is removed from the epoll set, then closed,
 *    and never touched again (the book modifies it in epoll after close:
 *    EBADF, or worse a reused fd);
 *  - a duration (-d) and a summary, not an endless loop printing bytes;
 *    stop signals end the run early, still with the summary;
 *  - getopt and strictly parsed arguments instead of an assert on argc;
 *    PATH and the pipeline depth are options (the book hard-codes
 *    /index.html); loopback targets only.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-d TIME] [-c CONNS] [-p PATH] "
                               "[-P DEPTH] [-t TIMEOUT] IP PORT";
static const char HELP[] =
    "Open CONNS (default 10) keep-alive connections to the HTTP server at\n"
    "IP:PORT (loopback only) and send GET PATH (default /index.html) on\n"
    "each, DEPTH requests in flight (default 1), for TIME (default 5s);\n"
    "then wait for the answers, close, and print a summary.  A request or\n"
    "connect that makes no progress for TIMEOUT (default 5s) is an error.\n"
    "TIME and TIMEOUT are durations: 250ms, 2s, 1.5.  Exit 1 on any error.\n";

enum { MAX_CONNS = 10000, MAX_DEPTH = 64, MAX_PATH = 1024 };
#define MAX_RUN_MS (24 * 3600 * 1000LL)
/* The status line and headers of one response must fit in this. */
enum { HEAD_MAX = 8192 };
enum { RECV_CHUNK = 64 * 1024, EVENTS_PER_WAIT = 256 };
/* epoll_wait wakes at least this often to check the clock. */
enum { TICK_MS = 100 };
/* Connection problems printed one by one; the rest are only counted. */
enum { MAX_WARNINGS = 5 };

enum state { CONNECTING, OPEN, DEAD };
enum part { STATUS_AND_HEADERS, BODY };

struct conn {
    int fd;
    enum state state;
    uint32_t watching;   /* epoll events registered */
    long long progress;  /* ns: the last byte moved (or connect start) */
    size_t unsent;       /* request bytes queued, not yet sent */
    size_t sent_off;     /* where in the request the next byte is */
    int in_flight;       /* requests sent or queued, not yet answered */
    bool closing;        /* the server said Connection: close */
    enum part part;
    size_t head_len;     /* bytes of status line and headers so far */
    unsigned long long body_left;
    int status;          /* of the response being read */
    char head[HEAD_MAX];
};

struct errors {
    long connect, closed, reset, bad_response, unexpected, stalled;
};

struct run {
    int epfd;
    struct sockaddr_in sa;
    struct conn *c;
    long n_conns;
    int depth;
    long long timeout_ns;
    char *reqs; /* DEPTH + 1 copies of the request, back to back */
    size_t req_len;
    bool sending; /* TIME not over: answered requests are replaced */
    /* the counts of the summary */
    long opened, reopened;
    long long resent; /* after a Connection: close, unanswered */
    long long sent, completed;
    long long by_status[1000];
    struct errors err;
    long warnings;
};

static volatile sig_atomic_t stop_signal;

static long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
warn_conn(struct run *r, long i, const char *what)
{
    if (r->warnings++ < MAX_WARNINGS)
        hp_warnx("connection %ld: %s", i + 1, what);
}

static void
watch(struct run *r, long i, uint32_t events)
{
    struct conn *c = &r->c[i];
    if (c->watching == events)
        return;
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)i};
    if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        hp_die("epoll_ctl(MOD, fd %d)", c->fd);
    c->watching = events;
}

/* Take C out of the epoll set, then close it: after close the fd number
 * is free for the next socket, and an epoll_ctl on it would act on that
 * one (or fail with EBADF). */
static void
drop(struct run *r, long i)
{
    struct conn *c = &r->c[i];
    if (c->state == DEAD)
        return;
    if (epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL) < 0)
        hp_die("epoll_ctl(DEL, fd %d)", c->fd);
    close(c->fd);
    c->fd = -1;
    c->state = DEAD;
    c->watching = 0;
}

static void
start_connect(struct run *r, long i)
{
    struct conn *c = &r->c[i];
    memset(c, 0, offsetof(struct conn, head));
    c->state = CONNECTING;
    c->progress = now_ns();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        hp_die("socket (connection %ld)", i + 1);
    if (connect(c->fd, (const struct sockaddr *)&r->sa, sizeof r->sa) < 0 &&
        errno != EINPROGRESS) {
        if (r->warnings++ < MAX_WARNINGS)
            hp_warn("connect (connection %ld)", i + 1);
        r->err.connect++;
        close(c->fd); /* never added to the epoll set */
        c->fd = -1;
        c->state = DEAD;
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        hp_die("epoll_ctl(ADD, fd %d)", c->fd);
    c->watching = EPOLLOUT;
}

/* Send what is queued, as far as the socket takes it.  False if the
 * connection failed (and is gone). */
static bool
flush_requests(struct run *r, long i)
{
    struct conn *c = &r->c[i];
    while (c->unsent > 0) {
        ssize_t n = send(c->fd, r->reqs + c->sent_off, c->unsent,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break; /* the socket is full: EPOLLOUT says when to go on */
        if (n < 0) {
            warn_conn(r, i, strerror(errno));
            r->err.reset++;
            drop(r, i);
            return false;
        }
        c->unsent -= (size_t)n;
        c->sent_off = (c->sent_off + (size_t)n) % r->req_len;
        c->progress = now_ns();
    }
    watch(r, i, EPOLLIN | EPOLLRDHUP | (c->unsent ? EPOLLOUT : 0u));
    return true;
}

/* Queue requests until DEPTH are in flight. */
static bool
top_up(struct run *r, long i)
{
    struct conn *c = &r->c[i];
    while (r->sending && !c->closing && c->in_flight < r->depth) {
        c->in_flight++;
        c->unsent += r->req_len;
        r->sent++;
    }
    return flush_requests(r, i);
}

/* Whether WORD (lower case) is in V[0..LEN), any case. */
static bool
has_word(const char *v, size_t len, const char *word)
{
    size_t w = strlen(word);
    for (size_t k = 0; k + w <= len; k++)
        if (strncasecmp(v + k, word, w) == 0)
            return true;
    return false;
}

/* The status line and headers in C->head (C->head_len bytes, ending in
 * the blank line): the status and the body length.  False if they are
 * not a response this client can follow. */
static bool
parse_head(struct conn *c, const char **why)
{
    char *p = c->head, *end = c->head + c->head_len;
    if (c->head_len < 16 || memcmp(p, "HTTP/1.", 7) != 0 ||
        (p[7] != '0' && p[7] != '1') || p[8] != ' ') {
        *why = "no HTTP/1.x status line";
        return false;
    }
    int status = 0;
    for (int k = 9; k < 12; k++) {
        if (p[k] < '0' || p[k] > '9') {
            *why = "status not three digits";
            return false;
        }
        status = status * 10 + (p[k] - '0');
    }
    if (status < 100 || (p[12] != ' ' && p[12] != '\r')) {
        *why = "bad status code";
        return false;
    }
    bool have_length = false;
    unsigned long long length = 0;
    c->closing = p[7] == '0'; /* HTTP/1.0: closed unless it says otherwise */
    /* header lines: NAME ":" VALUE "\r\n", until the blank line */
    char *line = memchr(p, '\n', (size_t)(end - p)) + 1;
    while (line < end && *line != '\r') {
        char *eol = memchr(line, '\n', (size_t)(end - line));
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon || eol[-1] != '\r') {
            *why = "malformed header line";
            return false;
        }
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t name_len = (size_t)(colon - line);
        size_t vlen = (size_t)(eol - 1 - v);
        if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
            unsigned long long n = 0;
            size_t k = 0;
            for (; k < vlen && v[k] >= '0' && v[k] <= '9'; k++) {
                if (n > (1ULL << 50))
                    break;
                n = n * 10 + (unsigned)(v[k] - '0');
            }
            while (k < vlen && (v[k] == ' ' || v[k] == '\t'))
                k++;
            if (k == 0 || k != vlen || (have_length && n != length)) {
                *why = "bad Content-Length";
                return false;
            }
            have_length = true;
            length = n;
        } else if (name_len == 17 &&
                   strncasecmp(line, "Transfer-Encoding", 17) == 0) {
            *why = "Transfer-Encoding is not supported";
            return false;
        } else if (name_len == 10 &&
                   strncasecmp(line, "Connection", 10) == 0) {
            if (has_word(v, vlen, "close"))
                c->closing = true;
            else if (has_word(v, vlen, "keep-alive"))
                c->closing = false;
        }
        line = eol + 1;
    }
    if (line != end - 2) {
        *why = "malformed header line";
        return false;
    }
    /* 1xx, 204 and 304 never have a body (RFC 9112, 6.3) */
    bool bodiless = status < 200 || status == 204 || status == 304;
    if (!have_length && !bodiless) {
        *why = "no Content-Length";
        return false;
    }
    c->status = status;
    c->body_left = bodiless ? 0 : length;
    return true;
}

/* One whole response arrived on connection I.  False if that
 * connection is gone (closed, and perhaps replaced in its slot). */
static bool
complete(struct run *r, long i)
{
    struct conn *c = &r->c[i];
    c->part = STATUS_AND_HEADERS;
    c->head_len = 0;
    if (c->status < 200) /* interim (100 Continue): the real one follows */
        return true;
    c->in_flight--;
    r->completed++;
    r->by_status[c->status % 1000]++;
    if (c->closing) {
        /* pipelined requests after this one will not be answered here
         * (RFC 9112, 9.6): they go again on a new connection */
        int again = c->in_flight;
        drop(r, i);
        if (r->sending || again > 0) {
            r->reopened++;
            r->resent += again;
            start_connect(r, i);
            r->c[i].in_flight = again;
            r->c[i].unsent = (size_t)again * r->req_len;
        }
        return false;
    }
    return top_up(r, i);
}

/* The connection that was in slot I ended with a response (or its slot
 * now holds a new connection): N bytes that came after that response
 * answer nothing.  Returns false, for feed. */
static bool
after_last(struct run *r, long i, size_t n)
{
    if (n > 0) {
        warn_conn(r, i, "bytes after the response that closed it");
        r->err.unexpected++;
    }
    return false;
}

/* Bytes DATA[0..N) from connection I's socket: cut them into responses.
 * False if the connection is gone. */
static bool
feed(struct run *r, long i, const char *data, size_t n)
{
    struct conn *c = &r->c[i];
    while (n > 0) {
        if (c->in_flight == 0) {
            warn_conn(r, i, "bytes that answer no request");
            r->err.unexpected++;
            drop(r, i);
            return false;
        }
        if (c->part == BODY) {
            size_t take = c->body_left < n ? (size_t)c->body_left : n;
            c->body_left -= take;
            data += take;
            n -= take;
            if (c->body_left == 0 && !complete(r, i))
                return after_last(r, i, n);
            continue;
        }
        /* copy into head, look for the blank line from where it could
         * start (the \r\n\r\n may straddle two reads) */
        size_t room = HEAD_MAX - c->head_len;
        size_t take = n < room ? n : room;
        size_t from = c->head_len >= 3 ? c->head_len - 3 : 0;
        memcpy(c->head + c->head_len, data, take);
        c->head_len += take;
        char *blank = memmem(c->head + from, c->head_len - from,
                             "\r\n\r\n", 4);
        if (!blank) {
            data += take;
            n -= take;
            if (c->head_len == HEAD_MAX) {
                warn_conn(r, i, "status line and headers over 8 KB");
                r->err.bad_response++;
                drop(r, i);
                return false;
            }
            continue;
        }
        size_t head_end = (size_t)(blank + 4 - c->head);
        size_t used = take - (c->head_len - head_end);
        data += used;
        n -= used;
        c->head_len = head_end;
        const char *why = NULL;
        if (!parse_head(c, &why)) {
            warn_conn(r, i, why);
            r->err.bad_response++;
            drop(r, i);
            return false;
        }
        c->part = BODY;
        if (c->body_left == 0 && !complete(r, i))
            return after_last(r, i, n);
    }
    return true;
}

/* Read what connection I has, to EAGAIN. */
static void
on_readable(struct run *r, long i, char *buf)
{
    struct conn *c = &r->c[i];
    while (c->state == OPEN) {
        ssize_t n = recv(c->fd, buf, RECV_CHUNK, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; /* all that has come so far: not an error */
        if (n < 0) {
            warn_conn(r, i, strerror(errno));
            r->err.reset++;
            drop(r, i);
            return;
        }
        if (n == 0) {
            if (c->in_flight > 0 || c->part == BODY || c->head_len > 0) {
                warn_conn(r, i, "closed by the server before the answer");
                r->err.closed++;
            }
            drop(r, i);
            return;
        }
        c->progress = now_ns();
        if (!feed(r, i, buf, (size_t)n))
            return;
    }
}

static void
on_event(struct run *r, long i, uint32_t ev, char *buf)
{
    struct conn *c = &r->c[i];
    if (c->state == CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr) {
            errno = soerr;
            if (r->warnings++ < MAX_WARNINGS)
                hp_warn("connect (connection %ld)", i + 1);
            r->err.connect++;
            drop(r, i);
            return;
        }
        c->state = OPEN;
        c->progress = now_ns();
        r->opened++;
        top_up(r, i);
        return;
    }
    if ((ev & EPOLLOUT) && c->unsent > 0 && !flush_requests(r, i))
        return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        on_readable(r, i, buf);
}

/* Fail the connections that made no progress for TIMEOUT. */
static void
check_stalls(struct run *r, long long now)
{
    for (long i = 0; i < r->n_conns; i++) {
        struct conn *c = &r->c[i];
        if (c->state == DEAD || now - c->progress <= r->timeout_ns)
            continue;
        if (c->state == CONNECTING) {
            warn_conn(r, i, "connect: no answer in time");
            r->err.connect++;
            drop(r, i);
        } else if (c->in_flight > 0) {
            warn_conn(r, i, "no answer in time");
            r->err.stalled++;
            drop(r, i);
        }
    }
}

/* Whether any connection still waits for a connect or an answer. */
static bool
anything_pending(const struct run *r)
{
    for (long i = 0; i < r->n_conns; i++)
        if (r->c[i].state == CONNECTING ||
            (r->c[i].state == OPEN && r->c[i].in_flight > 0))
            return true;
    return false;
}

static rlim_t
raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        hp_die("getrlimit(RLIMIT_NOFILE)");
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            hp_die("setrlimit(RLIMIT_NOFILE, %llu)",
                   (unsigned long long)rl.rlim_max);
    }
    return rl.rlim_cur;
}

/* PATH goes into the request line as it is: it must be one token. */
static void
check_path(const char *path)
{
    if (path[0] != '/')
        hp_bad_usage("PATH '%s': must start with /", path);
    if (strlen(path) > MAX_PATH)
        hp_bad_usage("PATH: longer than %d bytes", MAX_PATH);
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            hp_bad_usage("PATH: a space or control byte at offset %d",
                         (int)(p - path));
}

static void
print_summary(const struct run *r, double secs)
{
    long open_now = 0;
    for (long i = 0; i < r->n_conns; i++)
        open_now += r->c[i].state != DEAD;
    printf("connections: %ld opened, %ld failed to connect, %ld reopened "
           "after Connection: close, %ld open at the end\n",
           r->opened, r->err.connect, r->reopened, open_now);
    printf("requests: %lld sent, %lld completed, %lld unanswered, %lld "
           "sent again after Connection: close; %.1f requests/s\n",
           r->sent, r->completed, r->sent - r->completed, r->resent,
           secs > 0 ? (double)r->completed / secs : 0.0);
    printf("responses:");
    bool any = false;
    for (int s = 0; s < 1000; s++)
        if (r->by_status[s]) {
            printf("%s %d: %lld", any ? "," : "", s, r->by_status[s]);
            any = true;
        }
    printf("%s\n", any ? "" : " none");
    const struct errors *e = &r->err;
    long total = e->connect + e->closed + e->reset + e->bad_response +
                 e->unexpected + e->stalled;
    printf("errors: %ld (connect %ld, closed %ld, reset %ld, bad_response "
           "%ld, unexpected %ld, stalled %ld)\n",
           total, e->connect, e->closed, e->reset, e->bad_response,
           e->unexpected, e->stalled);
}

int
main(int argc, char **argv)
{
    static struct epoll_event ev[EVENTS_PER_WAIT];
    static struct run r;
    long long duration_ms = 5000, timeout_ms = 5000;
    const char *path = "/index.html";
    int opt;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    r.n_conns = 10;
    r.depth = 1;
    while ((opt = getopt(argc, argv, "+hd:c:p:P:t:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'd':
            duration_ms = hp_parse_duration(optarg, 1, MAX_RUN_MS, "TIME");
            break;
        case 'c':
            r.n_conns = hp_parse_long(optarg, 1, MAX_CONNS, "CONNS");
            break;
        case 'p':
            path = optarg;
            check_path(path);
            break;
        case 'P':
            r.depth = (int)hp_parse_long(optarg, 1, MAX_DEPTH, "DEPTH");
            break;
        case 't':
            timeout_ms = hp_parse_duration(optarg, 1, MAX_RUN_MS, "TIMEOUT");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&r.sa, argv[optind], argv[optind + 1]);
    if ((ntohl(r.sa.sin_addr.s_addr) >> 24) != 127)
        hp_bad_usage("IP '%s': only loopback (127.x.x.x) targets are "
                     "allowed", argv[optind]);
    if (ntohs(r.sa.sin_port) == 0)
        hp_bad_usage("PORT 0: give the port the server announced");
    r.timeout_ns = timeout_ms * 1000000;
    if (hp_catch_term(&stop_signal) < 0)
        hp_die("sigaction");

    rlim_t limit = raise_nofile();
    if ((rlim_t)r.n_conns + 16 > limit)
        hp_diex("%ld connections need %ld descriptors; RLIMIT_NOFILE allows "
                "%llu", r.n_conns, r.n_conns + 16, (unsigned long long)limit);

    /* the request, ending at its blank line; DEPTH + 1 copies so that
     * any DEPTH requests from any offset are one contiguous send */
    char one[MAX_PATH + 256];
    int len = snprintf(one, sizeof one,
                       "GET %s HTTP/1.1\r\nHost: %s:%s\r\n"
                       "User-Agent: stress_client\r\n"
                       "Connection: keep-alive\r\n\r\n",
                       path, argv[optind], argv[optind + 1]);
    r.req_len = (size_t)len;
    r.reqs = malloc(r.req_len * (size_t)(r.depth + 1));
    r.c = calloc((size_t)r.n_conns, sizeof *r.c);
    char *buf = malloc(RECV_CHUNK);
    if (!r.reqs || !r.c || !buf)
        hp_diex("out of memory for %ld connections", r.n_conns);
    for (int k = 0; k <= r.depth; k++)
        memcpy(r.reqs + (size_t)k * r.req_len, one, r.req_len);
    r.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r.epfd < 0)
        hp_die("epoll_create1");

    long long t0 = now_ns();
    long long t_end = t0 + duration_ms * 1000000, last_check = t0;
    r.sending = true;
    for (long i = 0; i < r.n_conns; i++)
        start_connect(&r, i);
    /* run for TIME, then until every answer is in (or TIMEOUT passes) */
    while (!stop_signal) {
        long long now = now_ns();
        if (r.sending && now >= t_end)
            r.sending = false; /* answered requests are no more replaced */
        if (!r.sending && !anything_pending(&r))
            break;
        int wait_ms = TICK_MS;
        if (r.sending && (t_end - now) / 1000000 < wait_ms)
            wait_ms = (int)((t_end - now) / 1000000) + 1;
        int n = epoll_wait(r.epfd, ev, EVENTS_PER_WAIT, wait_ms);
        if (n < 0 && errno != EINTR)
            hp_die("epoll_wait");
        for (int k = 0; k < n; k++) {
            long i = (long)ev[k].data.u64;
            if (r.c[i].state != DEAD)
                on_event(&r, i, ev[k].events, buf);
        }
        now = now_ns();
        if (now - last_check >= (long long)TICK_MS * 1000000) {
            check_stalls(&r, now);
            last_check = now;
        }
        bool alive = false;
        for (long i = 0; i < r.n_conns && !alive; i++)
            alive = r.c[i].state != DEAD;
        if (!alive)
            break; /* every connection failed: nothing left to run */
    }
    long long t_stop = now_ns();

    if (r.warnings > MAX_WARNINGS)
        hp_warnx("%ld more problems like these not shown",
                 r.warnings - MAX_WARNINGS);
    if (stop_signal)
        hp_warnx("stopped by signal %d", (int)stop_signal);
    print_summary(&r, (double)(t_stop - t0) / 1e9);
    for (long i = 0; i < r.n_conns; i++)
        drop(&r, i);
    close(r.epfd);
    free(r.c);
    free(r.reqs);
    free(buf);
    const struct errors *e = &r.err;
    return e->connect + e->closed + e->reset + e->bad_response +
                   e->unexpected + e->stalled
               ? 1
               : 0;
}
