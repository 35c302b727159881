/*
 * loadgen.c - the suite's load generator for echo servers (chapter 9's
 * multiplexer comparison).
 *
 * Usage:   loadgen [-i IDLE] [-a ACTIVE] [-s SIZE] [-d TIME | -n COUNT]
 *                  [-w WARMUP] [-P PID] IP PORT
 *
 * Shows:   opens IDLE connections that are never used and ACTIVE ones that
 *          each do request/response echo: send SIZE bytes, wait until SIZE
 *          bytes came back, check them byte for byte, start again.  All of
 *          them live in one process on one epoll instance.  The active
 *          connections are opened first, then the idle ones, at most
 *          CONNECT_WINDOW handshakes at a time (so the server's accept
 *          queue never overflows); traffic starts when every connection is
 *          established, so they are all open at the same time.  The run
 *          lasts TIME (default 5s) after a WARMUP (default 0) whose
 *          requests are not counted, or until COUNT requests are
 *          done.  With -n COUNT equal to -a ACTIVE, every active
 *          connection makes exactly one request.  With -a 0 there is
 *          no traffic: loadgen opens the IDLE connections, prints
 *            connected=N connect_s=SECONDS errors=E
 *          once they are all established, and holds them until SIGINT or
 *          SIGTERM (or for TIME, with -d); bench/million runs a group of
 *          these to hold 10^6 connections.
 *
 * Look at: one human line and one machine line, e.g.
 *            requests=60120 seconds=3.000 rps=20040.0 p50_us=47.10
 *            p99_us=80.30 p999_us=140.20 max_us=950.00 errors=0 ...
 *          Latency is taken per request on CLOCK_MONOTONIC, from the
 *          first send to the last byte of the echo, into a log-linear
 *          histogram (under 0.4 % error).  errors counts failed connects,
 *          short echoes (the server closed mid-request), resets, wrong
 *          bytes, and requests that made no progress for 10 s; any error
 *          makes the exit status 1.  idle_closed counts idle connections
 *          the server closed (e.g. select refusing fds past FD_SETSIZE):
 *          reported, not an error.  echoed_conns counts active
 *          connections that completed at least one request.
 *          With -P PID (the server's process), it also reads CPU time
 *          when the counted window opens (the warm-up is over) and when
 *          it closes (before any connection is shut): the server's
 *          utime + stime (/proc/PID/stat), its own (CLOCK_PROCESS_
 *          CPUTIME_ID) and the machine's (/proc/stat), and adds
 *          server_cpu_s, cpu_us_per_req (server CPU per counted request),
 *          own_cpu_s, steal_pct and others_pct (busy time that was
 *          neither the server's nor loadgen's, as a share of all CPU
 *          time) to the machine line: what a benchmark needs to tell the
 *          server's cost from the machine's noise.
 *
 * Peer:    echo_server (every backend), libevent_echo.
 *
 * Differs from the book:
 *  - not in the book: it replaces the printed stress client (16-4) as a
 *    measuring tool;
 *  - loopback targets only (127.x), so nobody benchmarks someone else's
 *    server by mistake;
 *  - it raises its own RLIMIT_NOFILE to the hard limit.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-i IDLE] [-a ACTIVE] [-s SIZE] "
                               "[-d TIME | -n COUNT] [-w WARMUP] [-P PID] "
                               "IP PORT";
static const char HELP[] =
    "Open IDLE idle and ACTIVE active connections to the echo server at\n"
    "IP:PORT (loopback only); each active one sends SIZE bytes (default\n"
    "64), waits for the same bytes back, and repeats, for TIME (default\n"
    "5s, after WARMUP uncounted) or COUNT requests in all.  TIME and\n"
    "WARMUP are durations: 250ms, 2s, 1.5.  Prints the request rate,\n"
    "latency percentiles and errors; exit 1 on any error.  -a 0: no\n"
    "traffic; hold the IDLE connections until SIGTERM (or for TIME).\n"
    "-P PID: also\n"
    "report the CPU time process PID (the server) spent per counted\n"
    "request, and the machine's steal and other processes' share.\n";

enum { MAX_CONNS = 1000000 };
enum { MAX_SIZE = 64 * 1024 * 1024 };
#define MAX_RUN_MS (3600 * 1000LL)
/* Handshakes in flight at once: well under the accept queue (somaxconn). */
enum { CONNECT_WINDOW = 256 };
/* A connect or a request that makes no progress this long is an error. */
enum { STALL_MS = 10000 };
enum { EVENTS_PER_WAIT = 1024 };
/* epoll_wait wakes at least this often to check the clock. */
enum { TICK_MS = 100 };
/* The payload is a window into a pattern this much longer than SIZE, at
 * an offset that changes per request, so a stale echo cannot match. */
enum { PATTERN_SPAN = 251 };
enum { RECV_CHUNK = 64 * 1024 };

/* log-linear latency histogram: exact below 256 ns, then 128 buckets per
 * power of two, so a bucket is less than 1/128 of its value wide */
enum { SUB_BITS = 7, SUB = 1 << SUB_BITS, N_BUCKETS = (64 - SUB_BITS) * SUB };

enum state { CONNECTING, WAITING, BUSY, DEAD };

struct lconn {
    int fd;
    bool active;
    enum state state;
    uint32_t watching; /* epoll events registered */
    long long since;   /* ns: connect start, or request start */
    size_t off, sent, rcvd;
    unsigned long seq; /* requests started on it */
    bool counted;      /* this request started after the warm-up */
    bool echoed;       /* completed at least one request */
};

struct errors {
    long connect, short_echo, reset, mismatch, stalled, unexpected;
};

/* Per-connection complaints printed, the rest only counted. */
enum { MAX_WARNINGS = 5 };

static volatile sig_atomic_t stop_signal;
static uint64_t hist[N_BUCKETS];
static long warnings;

static long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static unsigned
bucket_of(uint64_t v)
{
    if (v < 2 * SUB)
        return (unsigned)v;
    int msb = 63 - __builtin_clzll(v);
    int e = msb - SUB_BITS;
    return (unsigned)((e + 1) * SUB + (int)((v >> e) - SUB));
}

/* The middle of bucket I, in ns. */
static double
bucket_value(unsigned i)
{
    if (i < 2 * SUB)
        return i;
    int e = (int)(i / SUB) - 1;
    double lower = (double)((uint64_t)(SUB + i % SUB) << e);
    return lower + (double)((uint64_t)1 << e) / 2;
}

/* The quantile PPM (parts per million: 500000 is the median) of the N
 * recorded latencies, in µs: the value of the ceil(N * PPM / 10^6)-th
 * smallest. */
static double
percentile_us(uint64_t n, uint64_t ppm)
{
    if (n == 0)
        return 0;
    uint64_t rank = (n * ppm + 999999) / 1000000, seen = 0;
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < N_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank)
            return bucket_value(i) / 1000.0;
    }
    return 0;
}

/* CPU time at one edge of the counted window (-P). */
struct cpu_snap {
    long long server_ticks; /* utime + stime of the server, clock ticks */
    long long own_ns;       /* loadgen's own CPU time */
    long long total, busy, steal; /* /proc/stat "cpu" line, clock ticks */
};

/* utime + stime of PID in clock ticks, or -1. */
static long long
proc_ticks(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: skip to the last
     * ')'; then state is field 3, utime and stime fields 14 and 15 */
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 1,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* Fill S; false if /proc could not be read. */
static bool
cpu_snapshot(long pid, struct cpu_snap *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    s->own_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    s->server_ticks = proc_ticks(pid);
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return false;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                     &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (got < 8 || s->server_ticks < 0)
        return false;
    /* user nice system idle iowait irq softirq steal (guest time is
     * already inside user) */
    s->total = 0;
    for (int k = 0; k < 8; k++)
        s->total += (long long)v[k];
    s->busy = (long long)(v[0] + v[1] + v[2] + v[5] + v[6]);
    s->steal = (long long)v[7];
    return true;
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

struct run {
    int epfd;
    struct lconn *c;
    long n_conns;
    char *pattern;
    size_t size;
    char *scratch;
    struct errors err;
    long idle_closed;
    long n_active;
    long alive_active; /* active connections still up (traffic phase) */
    /* counting */
    bool by_count;
    long long count, issued, done; /* counted requests */
    long long t_warm;              /* ns: requests started after count */
    long long last_done;           /* ns: the last counted completion */
};

static void
watch(struct run *r, long i, uint32_t events)
{
    struct lconn *c = &r->c[i];
    if (c->watching == events)
        return;
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)i};
    if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        hp_die("epoll_ctl(MOD, fd %d)", c->fd);
    c->watching = events;
}

static void
kill_conn(struct run *r, long i)
{
    struct lconn *c = &r->c[i];
    if (c->state == DEAD)
        return;
    if (c->active && c->state != CONNECTING)
        r->alive_active--;
    close(c->fd); /* also takes it out of the epoll set */
    c->fd = -1;
    c->state = DEAD;
}

/* Start a request on C if the count allows; false if it may not. */
static bool
start_request(struct run *r, long i, long long now)
{
    struct lconn *c = &r->c[i];
    bool counted = now >= r->t_warm;
    if (r->by_count && counted && r->issued >= r->count) {
        c->state = WAITING;
        watch(r, i, EPOLLIN | EPOLLRDHUP);
        return false;
    }
    if (counted)
        r->issued++;
    c->counted = counted;
    c->state = BUSY;
    c->since = now;
    c->sent = c->rcvd = 0;
    c->off = (size_t)((unsigned long)i * 17 + c->seq * 29) % PATTERN_SPAN;
    c->seq++;
    /* optimistic first send: usually all of it goes at once */
    ssize_t n = send(c->fd, r->pattern + c->off, r->size, MSG_NOSIGNAL);
    if (n > 0)
        c->sent = (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        r->err.reset++;
        kill_conn(r, i);
        return false;
    }
    watch(r, i, EPOLLIN | (c->sent < r->size ? EPOLLOUT : 0u));
    return true;
}

static void
finish_request(struct run *r, long i, long long now)
{
    struct lconn *c = &r->c[i];
    c->echoed = true;
    if (c->counted) {
        uint64_t ns = (uint64_t)(now - c->since);
        hist[bucket_of(ns)]++;
        r->done++;
        r->last_done = now;
    }
    start_request(r, i, now);
}

/* Traffic on an active connection. */
static void
on_active(struct run *r, long i, uint32_t ev, long long now)
{
    struct lconn *c = &r->c[i];
    if (c->state == BUSY && (ev & EPOLLOUT) && c->sent < r->size) {
        ssize_t n = send(c->fd, r->pattern + c->off + c->sent,
                         r->size - c->sent, MSG_NOSIGNAL);
        if (n > 0)
            c->sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            r->err.reset++;
            kill_conn(r, i);
            return;
        }
        if (c->sent == r->size)
            watch(r, i, EPOLLIN);
    }
    if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
        return;
    while (c->state == BUSY || c->state == WAITING) {
        size_t want = c->state == BUSY ? r->size - c->rcvd : 1;
        if (want > RECV_CHUNK)
            want = RECV_CHUNK;
        ssize_t n = recv(c->fd, r->scratch, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            r->err.reset++;
            kill_conn(r, i);
            return;
        }
        if (n == 0) {
            if (c->state == BUSY)
                r->err.short_echo++; /* closed in the middle of a request */
            else
                r->err.reset++; /* closed between requests */
            kill_conn(r, i);
            return;
        }
        if (c->state == WAITING) {
            r->err.unexpected++; /* bytes nobody asked for */
            kill_conn(r, i);
            return;
        }
        if (memcmp(r->scratch, r->pattern + c->off + c->rcvd, (size_t)n)) {
            r->err.mismatch++;
            kill_conn(r, i);
            return;
        }
        c->rcvd += (size_t)n;
        if (c->rcvd == r->size)
            finish_request(r, i, now);
    }
}

/* An idle connection only ever hears of its end. */
static void
on_idle(struct run *r, long i)
{
    char b;
    ssize_t n = recv(r->c[i].fd, &b, 1, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0)
        r->err.unexpected++;
    else
        r->idle_closed++; /* FIN or RST from the server */
    kill_conn(r, i);
}

static void
start_connect(struct run *r, long i, const struct sockaddr_in *sa,
              long long now)
{
    struct lconn *c = &r->c[i];
    c->active = i < r->n_active;
    c->state = CONNECTING;
    c->since = now;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        hp_die("socket (connection %ld)", i + 1);
    if (connect(c->fd, (const struct sockaddr *)sa, sizeof *sa) < 0 &&
        errno != EINPROGRESS) {
        if (warnings++ < MAX_WARNINGS)
            hp_warn("connect (connection %ld)", i + 1);
        r->err.connect++;
        close(c->fd);
        c->fd = -1;
        c->state = DEAD;
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        hp_die("epoll_ctl(ADD, fd %d)", c->fd);
    c->watching = EPOLLOUT;
}

/* Open every connection, CONNECT_WINDOW at a time.  Returns how many
 * are established. */
static long
connect_all(struct run *r, const struct sockaddr_in *sa)
{
    static struct epoll_event ev[EVENTS_PER_WAIT];
    long next = 0, inflight = 0, up = 0;
    long long last_check = now_ns();
    while (!stop_signal && (next < r->n_conns || inflight > 0)) {
        long long now = now_ns();
        while (next < r->n_conns && inflight < CONNECT_WINDOW) {
            start_connect(r, next, sa, now);
            inflight += r->c[next].state == CONNECTING;
            next++;
        }
        int n = epoll_wait(r->epfd, ev, EVENTS_PER_WAIT, TICK_MS);
        if (n < 0 && errno != EINTR)
            hp_die("epoll_wait");
        now = now_ns();
        for (int k = 0; k < n; k++) {
            long i = (long)ev[k].data.u64;
            struct lconn *c = &r->c[i];
            if (c->state == WAITING && c->active) /* closed by the server? */
                on_active(r, i, ev[k].events, now);
            else if (c->state == WAITING)
                on_idle(r, i);
            if (c->state != CONNECTING)
                continue;
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                soerr = errno;
            inflight--;
            if (soerr) {
                errno = soerr;
                if (warnings++ < MAX_WARNINGS)
                    hp_warn("connect (connection %ld)", i + 1);
                r->err.connect++;
                close(c->fd);
                c->fd = -1;
                c->state = DEAD;
                continue;
            }
            up++;
            c->state = WAITING; /* idle, or active before the start */
            watch(r, i, EPOLLIN | EPOLLRDHUP);
        }
        /* handshakes that hang (SYNs dropped) fail after STALL_MS */
        if (now - last_check < (long long)TICK_MS * 1000000)
            continue;
        last_check = now;
        for (long i = 0; i < next && inflight; i++) {
            struct lconn *c = &r->c[i];
            if (c->state == CONNECTING &&
                now - c->since > (long long)STALL_MS * 1000000) {
                if (warnings++ < MAX_WARNINGS)
                    hp_warnx("connect (connection %ld): no answer in %d ms",
                             i + 1, STALL_MS);
                r->err.connect++;
                kill_conn(r, i);
                inflight--;
            }
        }
    }
    r->alive_active = 0;
    for (long i = 0; i < r->n_active; i++)
        r->alive_active += r->c[i].state == WAITING;
    return up;
}

/* Fail the requests that made no progress for STALL_MS. */
static void
check_stalls(struct run *r, long long now)
{
    for (long i = 0; i < r->n_conns; i++) {
        struct lconn *c = &r->c[i];
        if (c->active && c->state == BUSY &&
            now - c->since > (long long)STALL_MS * 1000000) {
            if (warnings++ < MAX_WARNINGS)
                hp_warnx("connection %ld: no echo after %d ms (%zu of %zu "
                         "bytes)",
                         i + 1, STALL_MS, c->rcvd, r->size);
            r->err.stalled++;
            kill_conn(r, i);
        }
    }
}

int
main(int argc, char **argv)
{
    static struct epoll_event ev[EVENTS_PER_WAIT];
    static struct run r;
    long idle = 0, active = 1;
    long long duration_ms = -1, warm_ms = 0, count = -1;
    long server_pid = 0;
    struct cpu_snap snap0, snap1;
    bool snap_ok = false, snap_taken = false;
    struct sockaddr_in sa;
    int opt;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    r.size = 64;
    while ((opt = getopt(argc, argv, "+hi:a:s:d:n:w:P:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'i':
            idle = hp_parse_long(optarg, 0, MAX_CONNS, "IDLE");
            break;
        case 'a':
            active = hp_parse_long(optarg, 0, MAX_CONNS, "ACTIVE");
            break;
        case 's':
            r.size = (size_t)hp_parse_long(optarg, 1, MAX_SIZE, "SIZE");
            break;
        case 'd':
            duration_ms = hp_parse_duration(optarg, 1, MAX_RUN_MS, "TIME");
            break;
        case 'n':
            count = hp_parse_long(optarg, 1, 1000000000L, "COUNT");
            break;
        case 'w':
            warm_ms = hp_parse_duration(optarg, 0, MAX_RUN_MS, "WARMUP");
            break;
        case 'P':
            server_pid = hp_parse_long(optarg, 1, 1L << 30, "PID");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    if (duration_ms >= 0 && count >= 0)
        hp_bad_usage("-d and -n exclude each other");
    if (active == 0 && idle == 0)
        hp_bad_usage("-a 0 holds idle connections: give -i IDLE");
    if (active == 0 && count >= 0)
        hp_bad_usage("-n counts requests: -a 0 makes none");
    if (idle + active > MAX_CONNS)
        hp_bad_usage("%ld connections: the most is %d", idle + active,
                     MAX_CONNS);
    hp_parse_sockaddr(&sa, argv[optind], argv[optind + 1]);
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127)
        hp_bad_usage("IP '%s': only loopback (127.x.x.x) targets are "
                     "allowed",
                     argv[optind]);
    if (ntohs(sa.sin_port) == 0)
        hp_bad_usage("PORT 0: give the port the server announced");
    if (server_pid && proc_ticks(server_pid) < 0)
        hp_bad_usage("-P %ld: no such process in /proc", server_pid);
    bool hold = active == 0; /* idle only: until a signal, or for -d */
    if (duration_ms < 0 && count < 0 && !hold)
        duration_ms = 5000;
    r.by_count = count > 0;
    r.count = count;
    if (hp_catch_term(&stop_signal) < 0)
        hp_die("sigaction");

    rlim_t limit = raise_nofile();
    r.n_conns = idle + active;
    if ((rlim_t)r.n_conns + 16 > limit)
        hp_diex("%ld connections need %ld descriptors; RLIMIT_NOFILE allows "
                "%llu",
                r.n_conns, r.n_conns + 16, (unsigned long long)limit);
    r.c = calloc((size_t)r.n_conns, sizeof *r.c);
    r.pattern = malloc(r.size + PATTERN_SPAN);
    r.scratch = malloc(RECV_CHUNK);
    if (!r.c || !r.pattern || !r.scratch)
        hp_diex("out of memory for %ld connections of %zu bytes", r.n_conns,
                r.size);
    uint32_t x = 2463534242u;
    for (size_t k = 0; k < r.size + PATTERN_SPAN; k++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        r.pattern[k] = (char)(x >> 24);
    }
    r.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r.epfd < 0)
        hp_die("epoll_create1");

    long long t0 = now_ns();
    r.n_active = active;
    long up = connect_all(&r, &sa);
    long long t_conn = now_ns();
    if (hold)
        printf("connected=%ld connect_s=%.3f errors=%ld\n", up,
               (double)(t_conn - t0) / 1e9, r.err.connect);

    /* traffic: every active connection starts at once */
    long long t_start = now_ns();
    r.t_warm = t_start + warm_ms * 1000000;
    long long t_end = duration_ms >= 0 ? r.t_warm + duration_ms * 1000000
                                       : LLONG_MAX;
    for (long i = 0; i < active && !stop_signal; i++)
        if (r.c[i].state == WAITING)
            start_request(&r, i, t_start);
    long long t_stop = t_start, last_check = t_start;
    while (!stop_signal && (r.alive_active > 0 || hold)) {
        long long now = now_ns();
        if (server_pid && !snap_taken && now >= r.t_warm) {
            /* the warm-up is over: the counted window opens */
            snap_ok = cpu_snapshot(server_pid, &snap0);
            snap_taken = true;
        }
        if (!r.by_count && now >= t_end)
            break;
        if (r.by_count && r.done >= r.count)
            break;
        int wait_ms = TICK_MS;
        if (!r.by_count && t_end - now < (long long)wait_ms * 1000000)
            wait_ms = (int)((t_end - now) / 1000000) + 1;
        int n = epoll_wait(r.epfd, ev, EVENTS_PER_WAIT, wait_ms);
        if (n < 0 && errno != EINTR)
            hp_die("epoll_wait");
        now = now_ns();
        for (int k = 0; k < n; k++) {
            long i = (long)ev[k].data.u64;
            if (r.c[i].state == DEAD)
                continue;
            if (r.c[i].active)
                on_active(&r, i, ev[k].events, now);
            else
                on_idle(&r, i);
        }
        if (now - last_check > (long long)TICK_MS * 1000000) {
            check_stalls(&r, now);
            last_check = now;
        }
        t_stop = now;
    }
    /* the window closes: read before any connection is shut, so the
     * server's work on the closes is not counted */
    if (snap_ok)
        snap_ok = cpu_snapshot(server_pid, &snap1);
    if (r.by_count && r.done > 0)
        t_stop = r.last_done;
    if (!r.by_count && t_stop > t_end)
        t_stop = t_end;

    if (warnings > MAX_WARNINGS)
        hp_warnx("%ld more failures like these not shown",
                 warnings - MAX_WARNINGS);

    /* the report */
    long echoed = 0;
    for (long i = 0; i < active; i++)
        echoed += r.c[i].echoed;
    long errors = r.err.connect + r.err.short_echo + r.err.reset +
                  r.err.mismatch + r.err.stalled + r.err.unexpected;
    double secs = t_stop > r.t_warm ? (double)(t_stop - r.t_warm) / 1e9 : 0;
    double rps = secs > 0 ? (double)r.done / secs : 0;
    uint64_t nreq = (uint64_t)r.done;
    unsigned top = 0;
    for (unsigned i = 0; i < N_BUCKETS; i++)
        if (hist[i])
            top = i;
    double max_us = nreq ? bucket_value(top) / 1000.0 : 0;
    printf("%lld requests of %zu bytes in %.3f s on %ld active "
           "connections (%ld idle): %.0f req/s, latency p50 %.1f us, "
           "p99 %.1f us, p99.9 %.1f us; %ld errors%s\n",
           r.done, r.size, secs, active, idle, rps, percentile_us(nreq, 500000),
           percentile_us(nreq, 990000), percentile_us(nreq, 999000), errors,
           stop_signal ? " (stopped by a signal)" : "");
    printf("requests=%lld seconds=%.3f rps=%.1f p50_us=%.2f p99_us=%.2f "
           "p999_us=%.2f max_us=%.2f errors=%ld active=%ld idle=%ld size=%zu "
           "connected=%ld echoed_conns=%ld idle_closed=%ld connect_s=%.3f "
           "err_connect=%ld err_short=%ld err_reset=%ld err_mismatch=%ld "
           "err_stalled=%ld err_unexpected=%ld",
           r.done, secs, rps, percentile_us(nreq, 500000),
           percentile_us(nreq, 990000), percentile_us(nreq, 999000), max_us,
           errors, active, idle, r.size, up, echoed, r.idle_closed,
           (double)(t_conn - t0) / 1e9, r.err.connect, r.err.short_echo,
           r.err.reset, r.err.mismatch, r.err.stalled, r.err.unexpected);
    if (server_pid && snap_ok) {
        long clk = sysconf(_SC_CLK_TCK);
        double srv_s = (double)(snap1.server_ticks - snap0.server_ticks) /
                       (double)clk;
        double own_s = (double)(snap1.own_ns - snap0.own_ns) / 1e9;
        double total = (double)(snap1.total - snap0.total);
        double others = (double)(snap1.busy - snap0.busy) / (double)clk -
                        srv_s - own_s; /* seconds */
        if (others < 0)
            others = 0;
        printf(" server_cpu_s=%.3f cpu_us_per_req=%.2f own_cpu_s=%.3f "
               "steal_pct=%.2f others_pct=%.2f",
               srv_s, r.done ? srv_s * 1e6 / (double)r.done : 0.0, own_s,
               total > 0 ? 100.0 * (double)(snap1.steal - snap0.steal) / total
                         : 0.0,
               total > 0 ? 100.0 * others * (double)clk / total : 0.0);
    } else if (server_pid) {
        hp_warnx("could not read the CPU time of process %ld (-P): not "
                 "reported",
                 server_pid);
    }
    putchar('\n');

    for (long i = 0; i < r.n_conns; i++)
        if (r.c[i].state != DEAD)
            close(r.c[i].fd);
    close(r.epfd);
    free(r.c);
    free(r.pattern);
    free(r.scratch);
    return errors ? 1 : 0;
}
