/*
 * ch09_echo_test.c - chapter 9, the multiplexer comparison: one echo
 * server over select, poll, epoll (LT, ET) and io_uring, its load
 * generator, and the same service on libevent.
 *
 * Each scenario runs the programs against loopback peers and asserts on
 * what they did: bytes echoed back exactly, the connection counts the
 * server prints at exit, loadgen's report, and (strace) which wait call
 * each backend really makes.  The same table is the demo
 * (`make demo CH=ch09`: this binary runs after ch09_test).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The backends of echo_server, then the libevent peer. */
static const char *const backends[] = {"select",   "poll",  "epoll-lt",
                                       "epoll-et", "uring", "libevent"};
enum { N_MUX = 5, N_SERVERS = 6 };

/* ---- helpers ----------------------------------------------------------- */

/* Start an echo server: echo_server -m BACKEND, or libevent_echo. */
static struct hh_proc *
start_server(struct hh_ctx *c, const char *backend, const struct hh_spawn *o)
{
    struct hh_spawn opt = o ? *o : (struct hh_spawn){0};
    opt.role = opt.role ? opt.role : "server";
    struct hh_proc *p;
    if (strcmp(backend, "libevent") == 0) {
        const char *args[] = {"127.0.0.1", "0", NULL};
        p = hh_startv(c, &opt, "libevent_echo", args);
    } else if (strcmp(backend, "default") == 0) {
        const char *args[] = {"127.0.0.1", "0", NULL};
        p = hh_startv(c, &opt, "echo_server", args);
    } else {
        const char *args[] = {"-m", backend, "127.0.0.1", "0", NULL};
        /* without liburing the build has no io_uring backend */
        hh_need_built(c, backend);
        p = hh_startv(c, &opt, "echo_server", args);
    }
    hh_wait_listening(p);
    return p;
}

/* Stop a server with SIGTERM: exit 0, and its connection counts.  (The
 * count of short sends echo_server adds is not read: overflow_exchange
 * sees from the kernel's queues that the server held what send() did
 * not take, which proves more than the program's word.) */
struct counts {
    long accepted, refused, peak;
};

static struct counts
stop_server(struct hh_proc *p)
{
    hh_stop(p);
    hh_expect_line(p, "^stopped by signal 15$", 0);
    hh_expect_line(p,
                   "^connections: accepted ([0-9]+), refused ([0-9]+), "
                   "peak ([0-9]+) at once(; |$)",
                   0);
    struct counts k = {atol(p->groups[1]), atol(p->groups[2]),
                       atol(p->groups[3])};
    return k;
}

/* The value of KEY=... in LINE (loadgen's machine line), or -1. */
static double
kv(const char *line, const char *key)
{
    size_t n = strlen(key);
    for (const char *s = line; (s = strstr(s, key)); s += n)
        if ((s == line || s[-1] == ' ') && s[n] == '=')
            return atof(s + n + 1);
    return -1;
}

/* A pattern of pseudo-random bytes, at least LEN long (kept, reused). */
/*
 * A lower bound on the bytes the server on SERVER_PORT holds in its own
 * memory for the connection from FD: what it has read minus what it has
 * sent, each bounded from the kernel's queues (sock_diag) and the
 * SENT bytes the harness wrote.  Beyond one read chunk (64 KiB), what it
 * holds can only be a queue of bytes its send() did not take.
 * False if the kernel knows no such connection.
 */
static bool
server_held(int fd, in_port_t server_port, size_t sent, long *held)
{
    long ctx, crx, stx, srx;
    in_port_t mine = hh_local_port(fd);
    if (hh_tcp_info(mine, server_port, NULL, &ctx, &crx) < 0 ||
        hh_tcp_info(server_port, mine, NULL, &stx, &srx) < 0)
        return false;
    /* read by the server >= what it acknowledged - what it left unread;
     * sent by it <= its unacknowledged bytes + what arrived here (the
     * harness reads nothing meanwhile) */
    *held = ((long)sent - ctx - srx) - (stx + crx);
    return true;
}

enum { PATTERN_CYCLE = (1 << 20) + 7, SEND_STEP = 64 * 1024 };
/* What the server must hold before the harness takes it as queued: well
 * above one read chunk plus what can move between the two lookups. */
enum { HELD_PROOF = 256 * 1024 };
enum { OVERFLOW_MAX = 256 << 20 };
/* A live loopback echo moves every few ms: this long without a byte, the
 * server has stopped (it never resumed on EPOLLOUT). */
enum { QUIET_MS = 3000 };

/*
 * Send on FD without reading until the server holds more than HELD_PROOF
 * bytes that the kernel would not take (its send() came up short and it
 * queued the rest); then read everything back, byte for byte.
 */
static void
overflow_exchange(struct hh_ctx *c, int fd, in_port_t server_port,
                  int timeout_ms)
{
    const char *pat = hh_pattern(c, PATTERN_CYCLE);
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t sent = 0;
    int proofs = 0;
    long held = 0;
    while (proofs < 2) { /* twice in a row: /proc is not one snapshot */
        HH_CHECK(c, server_held(fd, server_port, sent, &held),
                 "the kernel knows no connection %u -> %u", hh_local_port(fd),
                 server_port);
        proofs = held > HELD_PROOF ? proofs + 1 : 0;
        HH_CHECK(c, sent < OVERFLOW_MAX,
                 "sent %zu bytes without reading, "
                 "and the server never queued",
                 sent);
        HH_CHECK(c, hh_now_ms() < deadline,
                 "after %zu bytes sent in %d ms, "
                 "the server holds %ld bytes",
                 sent, hh_ms(c, timeout_ms), held);
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (poll(&pf, 1, 10) <= 0) /* full: look at the queues again */
            continue;
        size_t at = sent % PATTERN_CYCLE, step = PATTERN_CYCLE - at;
        ssize_t n = send(fd, pat + at, step < SEND_STEP ? step : SEND_STEP,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        HH_CHECK(c, n >= 0 || errno == EAGAIN, "send after %zu bytes: %s", sent,
                 strerror(errno));
        sent += n > 0 ? (size_t)n : 0;
    }
    hh_note(c,
            "harness: sent %zu bytes without reading; the kernel queues "
            "show the server holding at least %ld of them that its "
            "send() did not take",
            sent, held);

    char *got = hh_alloc(c, SEND_STEP);
    size_t have = 0;
    while (have < sent) {
        long long left = deadline - hh_now_ms();
        HH_CHECK(c, left > 0, "%zu of %zu bytes echoed back within %d ms", have,
                 sent, hh_ms(c, timeout_ms));
        /* a server that never resumes fails in seconds, not at the
         * deadline: on loopback a live echo moves every few ms */
        if (left > hh_ms(c, QUIET_MS))
            HH_CHECK(c, hh_wait_fd(c, fd, POLLIN, QUIET_MS),
                     "%zu of %zu bytes echoed back, then nothing for %d ms",
                     have, sent, hh_ms(c, QUIET_MS));
        else if (!hh_wait_fd(c, fd, POLLIN, (int)(left / c->scale) + 1))
            continue;
        size_t want = sent - have < SEND_STEP ? sent - have : SEND_STEP;
        ssize_t n = recv(fd, got, want, MSG_DONTWAIT);
        HH_CHECK(c, n != 0, "EOF after %zu of %zu echoed bytes", have, sent);
        HH_CHECK(c, n > 0 || errno == EAGAIN, "recv after %zu bytes: %s", have,
                 strerror(errno));
        for (ssize_t i = 0; i < n; i++, have++)
            HH_CHECK(c, got[i] == pat[have % PATTERN_CYCLE],
                     "echo differs at byte %zu of %zu", have, sent);
    }
    hh_note(c, "harness: read all %zu back, byte for byte", sent);
}

/* ---- one scenario per backend: echo, partial writes, SIGTERM ----------- */

static void
echo_backend(struct hh_ctx *c, const char *backend)
{
    struct hh_proc *srv = start_server(c, backend, NULL);
    HH_CHECK(c, hh_output_has(srv, "^open files limit: [0-9]+ "),
             "the server did not report its RLIMIT_NOFILE");
    if (strcmp(backend, "libevent") != 0) {
        char ere[64];
        snprintf(ere, sizeof ere, "^backend: %s \\(waits in ", backend);
        HH_CHECK(c, hh_output_has(srv, ere),
                 "the server does not say it "
                 "uses %s",
                 backend);
    }

    /* A: sizes from 1 byte to 1 MB, each echoed exactly */
    int a = hh_connect(c, &srv->addr, 3000);
    const size_t sizes[] = {1, 1000, 65536 + 7, 1000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        hh_echo_exchange(c, a, hh_pattern(c, sizes[i] + 8) + i, sizes[i], 10000);

    /* B: more than the kernel will buffer for a peer that does not
     * read: the server's send() comes up short and it must queue the
     * rest, stop reading at its high-water mark, and resume */
    int b = hh_connect(c, &srv->addr, 3000);
    overflow_exchange(c, b, ntohs(srv->addr.sin_port), 15000);

    /* C: pipelined: 100 requests back to back, then all the answers */
    int pc = hh_connect(c, &srv->addr, 3000);
    char msgs[100 * 8 + 1];
    for (int i = 0; i < 100; i++)
        snprintf(msgs + i * 8, 9, "msg-%03u|", (unsigned)i % 1000u);
    for (int i = 0; i < 100; i++) {
        ssize_t n = send(pc, msgs + i * 8, 8, MSG_NOSIGNAL);
        HH_CHECK(c, n == 8, "send of message %d: %s", i,
                 n < 0 ? strerror(errno) : "short");
    }
    hh_note(c, "harness > 100 messages \"msg-000|\" ... \"msg-099|\" in 100 "
               "sends, nothing read yet");
    char *back = hh_alloc(c, 800);
    long long deadline = hh_now_ms() + hh_ms(c, 5000);
    size_t have = 0;
    while (have < 800) {
        struct pollfd pf = {.fd = pc, .events = POLLIN};
        long long left = deadline - hh_now_ms();
        HH_CHECK(c, left > 0, "pipelined: %zu of 800 bytes back", have);
        if (poll(&pf, 1, (int)left) <= 0)
            continue;
        ssize_t n = recv(pc, back + have, 800 - have, MSG_DONTWAIT);
        HH_CHECK(c, n > 0 || (n < 0 && errno == EAGAIN),
                 "pipelined: recv after %zu bytes: %s", have,
                 n == 0 ? "EOF" : strerror(errno));
        have += n > 0 ? (size_t)n : 0;
    }
    HH_CHECK(c, memcmp(back, msgs, 800) == 0,
             "pipelined answers differ from the requests");
    hh_note(c, "harness < the 100 messages, in order (800 bytes)");

    /* D: half-close: the echo still comes back, then the server closes */
    int d = hh_connect(c, &srv->addr, 3000);
    hh_send(c, d, "last words", 10, 2000);
    HH_CHECK(c, shutdown(d, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    hh_note(c, "harness: shutdown(SHUT_WR): the server sees EOF");
    char tail[16];
    size_t n = hh_recv_all(c, d, tail, sizeof tail, 3000);
    HH_CHECK(c, n == 10 && memcmp(tail, "last words", 10) == 0,
             "after the half-close, expected \"last words\" then EOF");

    /* SIGTERM with A, B, C still open: exit 0, everything released
     * (valgrind --track-fds checks it under HPSP_VALGRIND=1) */
    struct counts k = stop_server(srv);
    HH_CHECK(c, k.accepted == 4 && k.peak == 4 && k.refused == 0,
             "server counted %ld accepted, %ld peak, %ld refused; expected "
             "4, 4, 0",
             k.accepted, k.peak, k.refused);
}

#define ECHO_SCENARIO(fn, name)                                                \
    static void fn(struct hh_ctx *c)                                           \
    {                                                                          \
        echo_backend(c, name);                                                 \
    }
ECHO_SCENARIO(echo_select, "select")
ECHO_SCENARIO(echo_poll, "poll")
ECHO_SCENARIO(echo_epoll_lt, "epoll-lt")
ECHO_SCENARIO(echo_epoll_et, "epoll-et")
ECHO_SCENARIO(echo_uring, "uring")
ECHO_SCENARIO(echo_libevent, "libevent")

/* ---- select and FD_SETSIZE --------------------------------------------- */

/* Sockets this file opens in bulk (more than the harness tracks): closed
 * at the end of the scenario, or at the start of the next if it failed. */
enum { BULK = FD_SETSIZE + 12 };
static int bulk[BULK + 1]; /* + the one after the refusals */
static int n_bulk;

static void
bulk_close(void)
{
    for (int i = 0; i < n_bulk; i++)
        if (bulk[i] >= 0)
            close(bulk[i]);
    n_bulk = 0;
}

static int
bulk_connect(struct hh_ctx *c, const struct sockaddr_in *sa)
{
    HH_CHECK(c, n_bulk < BULK + 1, "more bulk connections than planned");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    HH_CHECK(c, fd >= 0, "socket (connection %d): %s", n_bulk + 1,
             strerror(errno));
    bulk[n_bulk++] = fd;
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
        HH_CHECK(c, errno == EINPROGRESS, "connect (connection %d): %s", n_bulk,
                 strerror(errno));
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    HH_CHECK(c, poll(&pf, 1, hh_ms(c, 3000)) == 1,
             "connect (connection %d): no answer", n_bulk);
    return fd;
}

/* Send MSG on FD and wait for the echo (1) or the end of the connection
 * (0): EOF or a reset. */
static int
echo_or_end(struct hh_ctx *c, int fd, const char *msg)
{
    size_t len = strlen(msg), have = 0;
    char got[64];
    ssize_t n = send(fd, msg, len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
        return 0;
    HH_CHECK(c, n == (ssize_t)len, "send: %s", strerror(errno));
    long long deadline = hh_now_ms() + hh_ms(c, 3000);
    while (have < len) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        long long left = deadline - hh_now_ms();
        HH_CHECK(c, left > 0, "no echo and no EOF within %d ms",
                 hh_ms(c, 3000));
        if (poll(&pf, 1, (int)left) <= 0)
            continue;
        n = recv(fd, got + have, len - have, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 0;
        HH_CHECK(c, n > 0 || errno == EAGAIN, "recv: %s", strerror(errno));
        have += n > 0 ? (size_t)n : 0;
    }
    HH_CHECK(c, memcmp(got, msg, len) == 0, "echo of \"%s\" differs", msg);
    return 1;
}

/* Count the lines of P's stderr matching ERE; fill *LOW with the
 * smallest fd number in group 1. */
static int
count_refusals(struct hh_proc *p, long *low)
{
    int n = 0;
    *low = -1;
    const char *s = p->err.data ? p->err.data : "";
    const char *key = "refused connection from 127.0.0.1:";
    for (; (s = strstr(s, key)); s += strlen(key)) {
        const char *fd = strstr(s, " on fd ");
        const char *end = strchr(s, '\n');
        if (!fd || (end && fd > end) ||
            !strstr(fd, ": select cannot watch it: "))
            continue;
        long v = atol(fd + 7);
        if (*low < 0 || v < *low)
            *low = v;
        n++;
    }
    return n;
}

static void
select_fd_setsize(struct hh_ctx *c)
{
    bulk_close();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < BULK + 64)
        hh_skip(c, "the test needs %d open files; RLIMIT_NOFILE allows %llu",
                BULK + 64, (unsigned long long)rl.rlim_cur);

    struct hh_proc *srv = start_server(c, "select", NULL);
    hh_note(c,
            "harness: %d connections, one at a time, each sending "
            "\"conn N\" and waiting for its echo or its end",
            BULK);
    int served = 0, ended = 0, first_end = -1;
    for (int i = 0; i < BULK; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "conn %d\n", i + 1);
        int fd = bulk_connect(c, &srv->addr);
        if (echo_or_end(c, fd, msg)) {
            HH_CHECK(c, ended == 0,
                     "connection %d was echoed after "
                     "connection %d had been refused",
                     i + 1, first_end + 1);
            served++;
        } else {
            if (!ended)
                first_end = i;
            ended++;
        }
    }
    hh_note(c,
            "harness: %d connections echoed, then %d closed by the "
            "server (the first: connection %d)",
            served, ended, first_end + 1);
    HH_CHECK(c, served > FD_SETSIZE - 16 && served < FD_SETSIZE,
             "%d connections were served: expected all that fit below "
             "FD_SETSIZE (%d), less the server's own few fds",
             served, FD_SETSIZE);
    HH_CHECK(c, ended == BULK - served, "%d + %d != %d", served, ended, BULK);

    /* the earlier ones are still served */
    int again[] = {0, served / 2, served - 1};
    for (int k = 0; k < 3; k++)
        HH_CHECK(c, echo_or_end(c, bulk[again[k]], "still here?\n"),
                 "connection %d, accepted before the refusals, is no longer "
                 "echoed",
                 again[k] + 1);
    hh_note(c, "harness: connections 1, %d and %d still echo", again[1] + 1,
            again[2] + 1);

    /* free three fds below FD_SETSIZE: a new connection fits again */
    for (int k = 0; k < 3; k++) {
        HH_CHECK(c, shutdown(bulk[k], SHUT_WR) == 0, "shutdown: %s",
                 strerror(errno));
        char b;
        struct pollfd pf = {.fd = bulk[k], .events = POLLIN};
        HH_CHECK(c,
                 poll(&pf, 1, hh_ms(c, 3000)) == 1 &&
                     recv(bulk[k], &b, 1, 0) == 0,
                 "connection %d: no EOF after its half-close", k + 1);
    }
    hh_note(c, "harness: half-closed connections 1-3; the server closed "
               "them (EOF)");
    int fresh = bulk_connect(c, &srv->addr);
    HH_CHECK(c, echo_or_end(c, fresh, "a new one\n"),
             "a new connection after three were closed was not served");
    hh_note(c, "harness: a new connection is echoed: its fd is below "
               "FD_SETSIZE again");

    bulk_close();
    struct counts k = stop_server(srv);
    long low;
    int logged = count_refusals(srv, &low);
    hh_note(c, "server: %d refusals on stderr, the lowest on fd %ld", logged,
            low);
    HH_CHECK(c, logged == ended,
             "the server logged %d refusals, %d "
             "connections were closed",
             logged, ended);
    HH_CHECK(c, low == FD_SETSIZE,
             "the first refused fd was %ld, not "
             "FD_SETSIZE (%d)",
             low, FD_SETSIZE);
    HH_CHECK(c, k.refused == ended && k.accepted == served + 1,
             "server counts: accepted %ld refused %ld; expected %d and %d",
             k.accepted, k.refused, served + 1, ended);
}

/* ---- loadgen against every server -------------------------------------- */

/* Run loadgen with ARGS (then IP PORT of SRV); returns its machine line,
 * copied into LINE.  Exit status must be STATUS. */
static void
run_loadgen(struct hh_ctx *c, struct hh_proc *srv, const char *const *args,
            int status, int timeout_ms, char *line, size_t len)
{
    const char *argv[16];
    int n = 0;
    for (; args[n]; n++)
        argv[n] = args[n];
    argv[n++] = "127.0.0.1";
    argv[n++] = srv->port;
    argv[n] = NULL;
    struct hh_spawn opt = {.role = "loadgen"};
    struct hh_proc *lg = hh_startv(c, &opt, "loadgen", argv);
    hh_expect_line(lg, "^requests=[0-9]+ ", timeout_ms);
    snprintf(line, len, "%s", lg->line);
    hh_expect_exit(lg, status, 5000);
}

static void
loadgen_every_backend(struct hh_ctx *c)
{
    char rows[N_SERVERS][160];
    for (int i = 0; i < N_SERVERS; i++) {
        struct hh_proc *srv = start_server(c, backends[i], NULL);
        char pid[24];
        snprintf(pid, sizeof pid, "%ld", (long)hh_pid(srv));
        const char *args[] = {"-i", "100", "-a", "10", "-n", "2000",
                              "-P", pid,  NULL};
        char line[HH_GROUP_LEN];
        run_loadgen(c, srv, args, 0, 30000, line, sizeof line);
        HH_CHECK(c, kv(line, "requests") == 2000 && kv(line, "errors") == 0,
                 "%s: loadgen reports %g requests, %g errors", backends[i],
                 kv(line, "requests"), kv(line, "errors"));
        /* -P: the server's CPU time over the counted window, per request */
        HH_CHECK(c,
                 kv(line, "cpu_us_per_req") >= 0 &&
                     kv(line, "server_cpu_s") >= 0 &&
                     kv(line, "others_pct") >= 0 &&
                     kv(line, "others_pct") <= 100 &&
                     kv(line, "steal_pct") >= 0,
                 "%s: loadgen -P reports cpu_us_per_req=%g server_cpu_s=%g "
                 "others_pct=%g steal_pct=%g",
                 backends[i], kv(line, "cpu_us_per_req"),
                 kv(line, "server_cpu_s"), kv(line, "others_pct"),
                 kv(line, "steal_pct"));
        HH_CHECK(c,
                 kv(line, "connected") == 110 &&
                     kv(line, "echoed_conns") == 10 &&
                     kv(line, "idle_closed") == 0,
                 "%s: %g connected, %g active echoed, %g idle closed; "
                 "expected 110, 10, 0",
                 backends[i], kv(line, "connected"), kv(line, "echoed_conns"),
                 kv(line, "idle_closed"));
        struct counts k = stop_server(srv);
        HH_CHECK(c, k.accepted == 110 && k.peak == 110,
                 "%s: the server accepted %ld, peak %ld; expected 110",
                 backends[i], k.accepted, k.peak);
        snprintf(rows[i], sizeof rows[i],
                 "%-9s %6.0f req/s  p50 %7.1f us  "
                 "p99 %8.1f us  errors %g",
                 backends[i], kv(line, "rps"), kv(line, "p50_us"),
                 kv(line, "p99_us"), kv(line, "errors"));
    }
    hh_note(c, "summary (2000 requests of 64 bytes, 10 active + 100 idle; "
               "a smoke test, not a benchmark: see make bench):");
    for (int i = 0; i < N_SERVERS; i++)
        hh_note(c, "  %s", rows[i]);
}

/* ---- which system call each backend waits in --------------------------- */

#define WAIT_CALLS                                                             \
    "trace=select,pselect6,poll,ppoll,epoll_wait,epoll_pwait,epoll_pwait2,"    \
    "io_uring_enter"

/* The wait-call families, as strace names them. */
static const char *const families[] = {
    "(^|[ ])p?select6?\\(", "(^|[ ])p?poll\\(", "(^|[ ])epoll_p?wait2?\\(",
    "(^|[ ])io_uring_enter\\("};
static const char *const family_names[] = {"select", "poll", "epoll_wait",
                                           "io_uring_enter"};

static int
family_of(const char *backend)
{
    if (strcmp(backend, "select") == 0)
        return 0;
    if (strcmp(backend, "poll") == 0)
        return 1;
    if (strcmp(backend, "uring") == 0)
        return 3;
    return 2; /* epoll-lt, epoll-et, libevent */
}

/* The result of a strace line "call(...) = N ...", or -1. */
static long
result_of(const char *line)
{
    const char *r = NULL;
    for (const char *s = line; (s = strstr(s, ") = ")); s++)
        r = s;
    return r ? atol(r + 4) : -1;
}

/* Per call of the wait syscall: what the process handed the kernel to
 * look at (select: nfds, poll: the array length; uring: SQEs submitted)
 * and what came back ready.  Sums over the trace of P. */
static void
trace_sums(struct hh_proc *p, int family, long *calls, long *handed,
           long *ready)
{
    *calls = *handed = *ready = 0;
    FILE *f = fopen(p->trace_path, "r");
    HH_CHECK(p->ctx, f != NULL, "cannot read %s", p->trace_path);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        const char *call = NULL;
        long h = 0;
        if (family == 0 && (call = strstr(line, "select6(")))
            h = atol(call + 8);
        else if (family == 0 && (call = strstr(line, "select(")))
            h = atol(call + 7);
        else if (family == 1 && (call = strstr(line, "poll("))) {
            const char *arr = strstr(call, "], ");
            h = arr ? atol(arr + 3) : 0;
        } else if (family == 2 && (call = strstr(line, "epoll_wait(")))
            h = 0; /* the interest list is already in the kernel */
        else if (family == 2 && (call = strstr(line, "epoll_pwait(")))
            h = 0;
        else if (family == 3 && (call = strstr(line, "io_uring_enter("))) {
            const char *comma = strchr(call, ',');
            h = comma ? atol(comma + 1) : 0;
        }
        if (!call)
            continue;
        long got = result_of(call);
        (*calls)++;
        *handed += h;
        *ready += got > 0 ? got : 0;
    }
    fclose(f);
}

static void
syscalls_per_backend(struct hh_ctx *c)
{
    char rows[N_SERVERS][200];
    for (int i = 0; i < N_SERVERS; i++) {
        struct hh_spawn opt = {
            .role = "server", .trace = WAIT_CALLS, .must_trace = true};
        struct hh_proc *srv = start_server(c, backends[i], &opt);
        const char *args[] = {"-i", "50", "-a", "1", "-n", "100", NULL};
        char line[HH_GROUP_LEN];
        run_loadgen(c, srv, args, 0, 20000, line, sizeof line);
        long requests = (long)kv(line, "requests");
        stop_server(srv);
        int own = family_of(backends[i]);
        for (int f = 0; f < 4; f++) {
            int n = hh_trace_count(srv, families[f]);
            if (f == own)
                HH_CHECK(c, n > 0, "%s made no %s call", backends[i],
                         family_names[f]);
            else
                HH_CHECK(c, n == 0,
                         "%s made %d %s calls: not its "
                         "multiplexer",
                         backends[i], n, family_names[f]);
        }
        long calls, handed, ready;
        trace_sums(srv, own, &calls, &handed, &ready);
        double per_req = requests > 0 ? (double)calls / requests : 0;
        if (own == 0 || own == 1)
            snprintf(rows[i], sizeof rows[i],
                     "%-9s %-15s %4ld calls  %4.2f per request  each handed "
                     "the kernel %3.0f fds to check, got %3.1f back",
                     backends[i], family_names[own], calls, per_req,
                     calls ? (double)handed / calls : 0,
                     calls ? (double)ready / calls : 0);
        else if (own == 2)
            snprintf(rows[i], sizeof rows[i],
                     "%-9s %-15s %4ld calls  %4.2f per request  each handed "
                     "the kernel   0 fds to check, got %3.1f ready back",
                     backends[i], family_names[own], calls, per_req,
                     calls ? (double)ready / calls : 0);
        else
            snprintf(rows[i], sizeof rows[i],
                     "%-9s %-15s %4ld calls  %4.2f per request  each "
                     "submitted %3.1f poll requests; completions are read "
                     "from the shared ring",
                     backends[i], family_names[own], calls, per_req,
                     calls ? (double)handed / calls : 0);
    }
    hh_note(c, "per backend, serving 100 requests on 1 active connection "
               "while 50 others sit idle (51 accepts and 51 closes "
               "included):");
    for (int i = 0; i < N_SERVERS; i++)
        hh_note(c, "  %s", rows[i]);
}

/* ---- what the two epoll backends asked the kernel ----------------------- */

/*
 * -m epoll-lt and -m epoll-et echo the same bytes either way: both drain
 * every event to EAGAIN.  What sets them apart is the flag the kernel was
 * given.  epoll-et: EPOLLET on every registration (the listener, which
 * is accepted until EAGAIN, the signalfd, every connection) and every
 * EPOLL_CTL_MOD; epoll-lt: never.  A stalled reader makes each server
 * switch a connection to EPOLLOUT and back: MODs too.
 */
static void
epoll_flags_per_backend(struct hh_ctx *c)
{
    const char *const modes[] = {"epoll-lt", "epoll-et"};
    for (int et = 0; et < 2; et++) {
        struct hh_spawn opt = {
            .role = "server", .trace = "trace=epoll_ctl", .must_trace = true};
        struct hh_proc *srv = start_server(c, modes[et], &opt);
        int a = hh_connect(c, &srv->addr, 3000);
        hh_echo_exchange(c, a, hh_pattern(c, 100000), 100000, 20000);
        int b = hh_connect(c, &srv->addr, 3000);
        hh_echo_stalled(c, b, 16 << 20, hh_ms(c, 300), 15000);
        stop_server(srv);
        int adds = hh_epoll_ctl_count(srv, "ADD", -1, NULL);
        int mods = hh_epoll_ctl_count(srv, "MOD", -1, NULL);
        int adds_et = hh_epoll_ctl_count(srv, "ADD", -1, "EPOLLET");
        int mods_et = hh_epoll_ctl_count(srv, "MOD", -1, "EPOLLET");
        hh_note(c, "strace, %s: %d epoll_ctl ADD, %d of them with EPOLLET; "
                   "%d MOD, %d with EPOLLET", modes[et], adds, adds_et, mods,
                mods_et);
        HH_CHECK(c, adds >= 4 && mods >= 2,
                 "%s: %d ADD and %d MOD; expected the listener, the "
                 "signalfd and 2 connections added, and the stalled one "
                 "switched to EPOLLOUT and back",
                 modes[et], adds, mods);
        if (et)
            HH_CHECK(c, adds_et == adds && mods_et == mods,
                     "epoll-et: %d of %d ADD and %d of %d MOD without "
                     "EPOLLET: those fds are level-triggered",
                     adds - adds_et, adds, mods - mods_et, mods);
        else
            HH_CHECK(c, adds_et == 0 && mods_et == 0,
                     "epoll-lt: EPOLLET on %d ADD and %d MOD", adds_et,
                     mods_et);
    }
}

/* ---- loadgen is under test too ----------------------------------------- */

/*
 * Echo NREQ requests of SIZE bytes on FD, as a server would; in request
 * number BAD (1-based; 0: none) one byte is changed, BAD_AT bytes in.
 * Returns after the last echo, or when the peer closed.
 */
static int
harness_echo(struct hh_ctx *c, int fd, size_t size, int nreq, int bad,
             size_t bad_at)
{
    char *buf = hh_alloc(c, size);
    int served = 0;
    while (served < nreq) {
        size_t have = 0;
        while (have < size) {
            HH_CHECK(c, hh_wait_fd(c, fd, POLLIN, 10000) != 0,
                     "loadgen sent %zu of request %d's %zu bytes", have,
                     served + 1, size);
            ssize_t n = recv(fd, buf + have, size - have, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno == ECONNRESET))
                return served;
            HH_CHECK(c, n > 0 || errno == EAGAIN, "recv: %s",
                     strerror(errno));
            have += n > 0 ? (size_t)n : 0;
        }
        if (served + 1 == bad)
            buf[bad_at] ^= 0x20;
        size_t put = 0;
        while (put < size) {
            HH_CHECK(c, hh_wait_fd(c, fd, POLLOUT, 10000) != 0,
                     "loadgen does not read its echo");
            ssize_t n = send(fd, buf + put, size - put,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            HH_CHECK(c, n >= 0 || errno == EAGAIN, "send: %s",
                     strerror(errno));
            put += n > 0 ? (size_t)n : 0;
        }
        served++;
    }
    return served;
}

/*
 * Every scenario above trusts loadgen's "errors=0".  Here the harness is
 * the echo server, so what loadgen must say is known: first an honest
 * echo (0 errors, exit 0), then one that changes a single byte deep in
 * the second request (1 mismatch, exit 1).  A loadgen that counts bytes
 * without comparing them, or compares only the first request or the
 * first chunk, reports no error and fails here.
 */
static void
loadgen_catches_corruption(struct hh_ctx *c)
{
    enum { SIZE = 50000, NREQ = 3 };
    struct sockaddr_in sa;
    int lfd = hh_listen(c, 0, &sa, 16);
    HH_CHECK(c, lfd >= 0, "listen: %s", strerror(errno));
    char port[8], size[16], nreq[16];
    snprintf(port, sizeof port, "%u", (unsigned)ntohs(sa.sin_port));
    snprintf(size, sizeof size, "%d", SIZE);
    snprintf(nreq, sizeof nreq, "%d", NREQ);
    const char *args[] = {"-a", "1", "-n", nreq, "-s", size,
                          "127.0.0.1", port, NULL};
    for (int bad = 0; bad < 2; bad++) {
        struct hh_spawn opt = {.role = "loadgen"};
        struct hh_proc *lg = hh_startv(c, &opt, "loadgen", args);
        int fd = hh_accept(c, lfd, 5000);
        if (bad)
            hh_note(c, "harness: echoes request 1 as it came, then request "
                       "2 with byte %d changed", SIZE - 7);
        else
            hh_note(c, "harness: echoes every request as it came");
        int served = harness_echo(c, fd, SIZE, bad ? 2 : NREQ, bad ? 2 : 0,
                                  SIZE - 7);
        hh_expect_line(lg, "^requests=[0-9]+ ", 10000);
        char line[HH_GROUP_LEN];
        snprintf(line, sizeof line, "%s", lg->line);
        hh_expect_exit(lg, bad ? 1 : 0, 5000);
        hh_close(c, fd);
        HH_CHECK(c, served == (bad ? 2 : NREQ), "loadgen made %d requests",
                 served);
        if (bad)
            HH_CHECK(c, kv(line, "errors") == 1 &&
                            kv(line, "err_mismatch") == 1 &&
                            kv(line, "requests") == 1,
                     "loadgen reports %g errors, %g mismatches, %g requests "
                     "done; expected 1, 1 and 1 (the first request)",
                     kv(line, "errors"), kv(line, "err_mismatch"),
                     kv(line, "requests"));
        else
            HH_CHECK(c, kv(line, "errors") == 0 &&
                            kv(line, "requests") == NREQ,
                     "loadgen reports %g errors and %g requests against an "
                     "honest echo; expected 0 and %d",
                     kv(line, "errors"), kv(line, "requests"), NREQ);
    }
}

/* ---- C10K -------------------------------------------------------------- */

static void
c10k(struct hh_ctx *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max < 10000 + 64)
        hh_skip(c,
                "10,000 connections need a hard RLIMIT_NOFILE above "
                "10064 (it is %llu)",
                (unsigned long long)rl.rlim_max);
    /* light tracing only (TRACE=1): 10,000 of anything would drown it */
    struct hh_spawn opt = {.role = "server",
                           .trace = "trace=prlimit64,setrlimit,listen"};
    struct hh_proc *srv = start_server(c, "default", &opt);
    HH_CHECK(c, hh_output_has(srv, "^backend: epoll-et "),
             "the default backend is not epoll-et");
    const char *args[] = {"-a", "10000", "-n", "10000", "-s", "16", NULL};
    char line[HH_GROUP_LEN];
    run_loadgen(c, srv, args, 0, 30000, line, sizeof line);
    HH_CHECK(c,
             kv(line, "connected") == 10000 &&
                 kv(line, "echoed_conns") == 10000 &&
                 kv(line, "requests") == 10000 && kv(line, "errors") == 0,
             "loadgen: %g connected, %g echoed, %g requests, %g errors; "
             "expected 10000, 10000, 10000, 0",
             kv(line, "connected"), kv(line, "echoed_conns"),
             kv(line, "requests"), kv(line, "errors"));
    struct counts k = stop_server(srv);
    hh_note(c, "server: accepted %ld, at most %ld at once", k.accepted, k.peak);
    HH_CHECK(c, k.accepted == 10000 && k.peak >= 10000,
             "the server held %ld connections at once (accepted %ld); "
             "expected 10000",
             k.peak, k.accepted);
}

/* ---- what one idle connection costs the server ------------------------- */

/* VmRSS of PID in bytes (/proc/PID/status), or -1. */
static long
vm_rss(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* How many fds PID has open, or -1. */
static int
open_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/*
 * bench/conncost at the scale of a test: 300 idle connections to
 * echo_server (epoll-et), held until /proc shows the server with 300 more
 * fds and the kernel 300 ESTABLISHED sockets on its port; then the
 * server's RSS growth per connection.  echo_server keeps a small struct
 * and a table slot per connection (about 80 B, bench/results-conncost.md);
 * a server that gave each connection a 4 KB buffer up front would grow
 * by more than 4 KB each.  The bound is 1 KB, loose enough for the
 * sanitizer builds' allocator; under valgrind RSS is valgrind's, and only
 * the count is checked.
 */
enum { COST_CONNS = 300, COST_BOUND = 1024 };

static void
conn_cost_idle(struct hh_ctx *c)
{
    bulk_close();
    struct hh_proc *srv = start_server(c, "default", NULL);
    pid_t pid = hh_pid(srv);
    in_port_t port = ntohs(srv->addr.sin_port);
    int fds0 = open_fds(pid);
    long rss0 = vm_rss(pid);
    HH_CHECK(c, fds0 > 0 && rss0 > 0, "cannot read /proc/%d", (int)pid);

    for (int i = 0; i < COST_CONNS; i++)
        bulk_connect(c, &srv->addr);
    long long deadline = hh_now_ms() + hh_ms(c, 5000);
    int fds = 0, est = 0;
    for (;;) {
        fds = open_fds(pid) - fds0;
        est = hh_tcp_count("01", port, 0);
        if (fds == COST_CONNS && est == COST_CONNS)
            break;
        HH_CHECK(c, hh_now_ms() < deadline,
                 "after %d ms the server holds %d more fds and the kernel "
                 "shows %d ESTABLISHED on its port; expected %d and %d",
                 hh_ms(c, 5000), fds, est, COST_CONNS, COST_CONNS);
        hh_observe(c, 1); /* no event says "accepted" */
    }
    long rss1 = vm_rss(pid);
    long per = (rss1 - rss0) / COST_CONNS;
    hh_note(c,
            "/proc: the server holds %d more fds, the kernel %d ESTABLISHED "
            "sockets on port %u; its VmRSS grew from %ld to %ld KiB: %ld B "
            "per idle connection",
            fds, est, (unsigned)port, rss0 / 1024, rss1 / 1024, per);
    if (getenv("HPSP_VALGRIND") && *getenv("HPSP_VALGRIND"))
        hh_note(c, "under valgrind: RSS is valgrind's own, not bounded");
    else
        HH_CHECK(c, per < COST_BOUND,
                 "echo_server grew by %ld B of RSS per idle connection "
                 "(%ld KiB for %d); a bare connection costs it about 80 B",
                 per, (rss1 - rss0) / 1024, COST_CONNS);
    bulk_close();
    stop_server(srv);
}

/* ---- bench/million at the scale of a test ------------------------------ */

/*
 * make million's own code path, small: bench/million with two echo_server
 * -R processes and two `loadgen -a 0` processes holding 20,000
 * connections (10,000 and 20,000 in two steps, 10 active beside them),
 * in a network namespace it makes.  HOLD=1 makes it wait after the last
 * step, and the harness looks from outside: in that namespace the kernel
 * (sock_diag) shows 20,000 ESTABLISHED sockets on the port on each side
 * and two listeners; /proc shows the two servers sharing the 20,000
 * between them and each client holding its 10,000, every one of them in
 * the namespace.  Then, stdin closed, the script tears down: exit 0, every
 * process it named gone and no process left in the namespace, so the
 * namespace itself is gone.
 */
enum { MIL_CONNS = 20000, MIL_SERVER_FDS = 6, MIL_CLIENT_FDS = 4 };

/* The inode of PID's network namespace, or 0. */
static unsigned long
netns_of(pid_t pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* Whether PID's /proc/PID/comm is NAME. */
static bool
comm_is(pid_t pid, const char *name)
{
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    if (!fgets(comm, sizeof comm, f))
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, name) == 0;
}

/* Count TCP sockets as hh_tcp_count does, but in the network namespace
 * of PID; -1 if it cannot be entered. */
static int
tcp_count_in(struct hh_ctx *c, pid_t pid, const char *state, in_port_t lport,
             in_port_t rport)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    HH_CHECK(c, ns >= 0 && home >= 0, "open %s: %s", path, strerror(errno));
    int n = -1;
    if (setns(ns, CLONE_NEWNET) == 0) {
        n = hh_tcp_count(state, lport, rport);
        if (setns(home, CLONE_NEWNET) != 0)
            abort(); /* stuck in the wrong namespace: nothing else is safe */
    }
    close(ns);
    close(home);
    return n;
}

/* Split "1,2,3" into at most CAP pids; their count. */
static int
pid_list(const char *text, pid_t *out, int cap)
{
    int n = 0;
    for (const char *p = text; *p && n < cap;) {
        out[n++] = (pid_t)strtol(p, (char **)&p, 10);
        if (*p == ',')
            p++;
    }
    return n;
}

/* Whether any process of /proc is in the network namespace INO. */
static int
procs_in_netns(unsigned long ino)
{
    DIR *d = opendir("/proc");
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
            netns_of((pid_t)atoi(e->d_name)) == ino)
            n++;
    closedir(d);
    return n;
}

static void
million_small(struct hh_ctx *c)
{
    struct rlimit rl;
    if (geteuid() != 0)
        hh_skip(c, "bench/million needs root: a network namespace of its "
                   "own and /proc/slabinfo");
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < 10100)
        hh_skip(c, "10,000 connections per process need a hard "
                   "RLIMIT_NOFILE above 10100 (it is %llu)",
                (unsigned long long)rl.rlim_max);
    if (!hh_have("python3"))
        hh_skip(c, "bench/million is a python3 script: no python3");
    /* the script: in the tree make runs this from (the working
     * directory), else from this binary, build/VARIANT/tests/NAME.  (In a
     * chroot /proc/self/exe may name the path outside it: cwd first.) */
    char script[PATH_MAX + 64], self[PATH_MAX];
    if (!getcwd(self, sizeof self))
        self[0] = '\0';
    snprintf(script, sizeof script, "%s/ch09-multiplex/bench/million", self);
    if (access(script, X_OK) != 0) {
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        HH_CHECK(c, len > 0, "readlink /proc/self/exe: %s", strerror(errno));
        self[len] = '\0';
        for (int up = 0; up < 4 && strrchr(self, '/'); up++)
            *strrchr(self, '/') = '\0';
        snprintf(script, sizeof script, "%s/ch09-multiplex/bench/million",
                 self);
    }
    HH_CHECK(c, access(script, X_OK) == 0, "%s: %s", script, strerror(errno));
    char out[PATH_MAX], outvar[PATH_MAX + 8], path[PATH_MAX];
    char srvvar[PATH_MAX + 16], lgvar[PATH_MAX + 16];
    hh_tmpfile(c, "million", out, sizeof out);
    snprintf(outvar, sizeof outvar, "OUT=%s", out);
    /* the programs the harness would start (PROG_<name> included) */
    snprintf(srvvar, sizeof srvvar, "ECHO_SERVER=%s",
             hh_prog_path("echo_server", path, sizeof path));
    snprintf(lgvar, sizeof lgvar, "LOADGEN=%s",
             hh_prog_path("loadgen", path, sizeof path));
    const char *args[] = {"STEPS=10000 20000", "SERVERS=2",
                          "PER_CLIENT=10000", "ACTIVE=10",
                          "ACTIVE_TIME=0.5s", "HOLD=1", "HOLD_S=60",
                          outvar, srvvar, lgvar, script, NULL};
    struct hh_spawn opt = {.role = "million", .tool = true};
    struct hh_proc *m = hh_startv(c, &opt, "env", args);
    hh_expect_line(m,
                   "^holding port=([0-9]+) servers=([0-9,]+) "
                   "clients=([0-9,]+) netns=([0-9]+) held=([0-9]+)$",
                   hh_ms(c, 60000));
    in_port_t port = (in_port_t)atoi(m->groups[1]);
    pid_t srv[4], cli[4];
    int ns = pid_list(m->groups[2], srv, 4);
    int nc = pid_list(m->groups[3], cli, 4);
    unsigned long ino = strtoul(m->groups[4], NULL, 10);
    HH_CHECK(c, ns == 2 && nc == 2, "the script names %d servers and %d "
             "clients; expected 2 and 2", ns, nc);
    HH_CHECK(c, ino != netns_of(getpid()),
             "the script's programs run in the test's own network "
             "namespace");

    /* the kernel, in that namespace */
    int est_srv = tcp_count_in(c, srv[0], "01", port, 0);
    int est_cli = tcp_count_in(c, srv[0], "01", 0, port);
    int listeners = tcp_count_in(c, srv[0], "0A", port, 0);
    hh_note(c, "sock_diag in net:[%lu]: %d ESTABLISHED on port %u (server "
               "side), %d to it (client side), %d listeners on it",
            ino, est_srv, (unsigned)port, est_cli, listeners);
    HH_CHECK(c, est_srv == MIL_CONNS && est_cli == MIL_CONNS &&
                    listeners == 2,
             "expected %d, %d and 2 (two SO_REUSEPORT listeners)", MIL_CONNS,
             MIL_CONNS);
    /* /proc: who holds them */
    int held = 0;
    for (int i = 0; i < 2; i++) {
        int fds = open_fds(srv[i]) - MIL_SERVER_FDS;
        hh_note(c, "server %d (pid %d): %d connections", i + 1, (int)srv[i],
                fds);
        HH_CHECK(c, comm_is(srv[i], "echo_server") &&
                        netns_of(srv[i]) == ino && fds > MIL_CONNS / 4,
                 "pid %d: not an echo_server in net:[%lu] holding a fair "
                 "share (%d connections)",
                 (int)srv[i], ino, fds);
        held += fds;
        int cfds = open_fds(cli[i]) - MIL_CLIENT_FDS;
        HH_CHECK(c, comm_is(cli[i], "loadgen") && netns_of(cli[i]) == ino &&
                        cfds == MIL_CONNS / 2,
                 "pid %d: not a loadgen in net:[%lu] holding %d connections "
                 "(it holds %d)",
                 (int)cli[i], ino, MIL_CONNS / 2, cfds);
    }
    HH_CHECK(c, held == MIL_CONNS,
             "the two servers hold %d connections between them; expected "
             "%d",
             held, MIL_CONNS);

    /* the teardown: nothing left */
    hh_close_stdin(m);
    hh_expect_exit(m, 0, hh_ms(c, 60000));
    for (int i = 0; i < 2; i++)
        HH_CHECK(c, hh_wait_gone(c, srv[i], 1000) &&
                        hh_wait_gone(c, cli[i], 1000),
                 "a server or client of the script outlived it");
    int left = procs_in_netns(ino);
    hh_note(c, "after the script: %d process(es) in net:[%lu]", left, ino);
    HH_CHECK(c, left == 0, "%d process(es) left in the namespace", left);
    char csv[PATH_MAX + 16];
    snprintf(csv, sizeof csv, "%s/million.csv", out);
    size_t n;
    char *text = hh_read_file(c, csv, &n);
    int rows = 0;
    for (size_t k = 0; k < n; k++)
        rows += text[k] == '\n';
    HH_CHECK(c, rows == 3, "million.csv has %d lines; expected a header "
             "and two steps", rows);
}

/* ---- the table --------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"echo_select", "mux",
     "echo_server -m select: echo from 1 B to 1 MB, "
     "partial writes, pipelining, SIGTERM",
     "every size comes back byte for byte; the megabytes the harness did "
     "not read made the server's send() come up short and queue the rest "
     "(the kernel's queues show it holding more than 256 KiB); SIGTERM "
     "with connections open still exits 0.",
     0, echo_select},
    {"echo_poll", "mux", "echo_server -m poll: the same checks", NULL, 0,
     echo_poll},
    {"echo_epoll_lt", "mux", "echo_server -m epoll-lt: the same checks", NULL,
     0, echo_epoll_lt},
    {"echo_epoll_et", "mux",
     "echo_server -m epoll-et: the same checks, edge-triggered",
     "edge-triggered works because every event is drained to EAGAIN, and "
     "EPOLL_CTL_MOD re-arms a socket whose reading was paused.",
     0, echo_epoll_et},
    {"echo_uring", "mux",
     "echo_server -m uring: the same checks, readiness from io_uring",
     "multishot IORING_OP_POLL_ADD stands in for epoll; recv/send are the "
     "same calls as in every other backend.",
     0, echo_uring},
    {"echo_libevent", "mux",
     "libevent_echo: the same service on libevent bufferevents",
     "the reference of the comparison passes the same checks.", 0,
     echo_libevent},
    {"select_fd_setsize", "mux",
     "select cannot watch fd 1024: those connections are refused, the rest "
     "served",
     "connections on fds below FD_SETSIZE keep echoing; each one on fd "
     ">= 1024 is logged and closed instead of overflowing the fd_set; a "
     "freed low fd lets a new connection in.",
     0, select_fd_setsize},
    {"loadgen_every_backend", "mux",
     "loadgen against every backend: 2000 requests, 110 connections, 0 "
     "errors",
     "loadgen checks every echoed byte; the rates are a smoke test on a "
     "shared machine, not the benchmark (make bench).",
     0, loadgen_every_backend},
    {"syscalls_per_backend", "mux",
     "strace: each backend waits in its own system call, and what it costs",
     "select and poll hand the kernel every connection on every call (~55 "
     "fds) to get about one back; epoll_wait hands it nothing and gets "
     "only the ready; io_uring often needs no call at all, since "
     "completions land in the shared ring while the loop is busy in "
     "recv/send.  The number of calls depends on timing (under strace the "
     "next request often arrives while the server is still in its read "
     "loop); what one call costs does not.",
     HH_NEED_STRACE, syscalls_per_backend},
    {"epoll_flags_per_backend", "mux",
     "strace: epoll-et registers every fd with EPOLLET, epoll-lt none",
     "the same echo, the same bytes: only epoll_ctl's events tell the two "
     "modes apart.  Every ADD and MOD of epoll-et carries EPOLLET; "
     "epoll-lt's never do.",
     HH_NEED_STRACE, epoll_flags_per_backend},
    {"loadgen_catches_corruption", "mux",
     "loadgen against a harness echo that changes one byte: error, exit 1",
     "against an honest echo loadgen reports 0 errors; when one byte of "
     "the second request comes back changed it reports err_mismatch=1 and "
     "exits 1.  Its errors=0 elsewhere is worth something.",
     0, loadgen_catches_corruption},
    {"conn_cost_idle", "mux",
     "300 idle connections: what each costs the server in RSS",
     "/proc shows the server holding all 300 (fds, and ESTABLISHED sockets "
     "on its port); its VmRSS grows by well under 1 KB per idle "
     "connection: a small struct and a table slot, no buffer until data "
     "comes (bench/conncost measures it at 10,000, kernel included).",
     0, conn_cost_idle},
    {"c10k", "mux",
     "C10K: 10,000 connections open at once, each echoed, on epoll-et",
     "one process, one thread: 10,000 sockets connected before the first "
     "request, every one echoed once; the server's peak is 10,000.",
     0, c10k},
    {"million_small", "mux",
     "make million, small: 20,000 connections over 2 servers and 2 clients",
     "bench/million's own path at a test's scale, in a network namespace "
     "of its own: the kernel shows 20,000 ESTABLISHED on each side and two "
     "SO_REUSEPORT listeners, the two echo_server -R processes share the "
     "connections, each loadgen -a 0 holds its 10,000; afterwards no "
     "process is left in the namespace.",
     0, million_small},
};

/*
 * The programs: what TRACE=1 shows of each, the setup it makes (the wait
 * calls are counted by syscalls_per_backend; listing thousands of them
 * would bury the transcript), and its bad command lines (a
 * bad_input_<name> scenario each).
 */
static const struct hh_program programs[] = {
    {.name = "echo_server", .listing = "mux",
     .syscalls = "trace=prlimit64,setrlimit,signalfd4,epoll_create1,"
                 "io_uring_setup,listen",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-m", "kqueue", "127.0.0.1", "0", NULL}, 2,
              "backend 'kqueue'"},
             {{"-m", NULL}, 2, HH_USAGE},
             HH_SERVER_IN_USE("-m", "select", ),
             HH_SERVER_IN_USE("-R", ))},
    {.name = "libevent_echo", .listing = "mux",
     .syscalls = "trace=prlimit64,setrlimit,epoll_create1,listen",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT},
    {.name = "loadgen", .listing = "mux",
     .syscalls = "trace=prlimit64,setrlimit,epoll_create1",
     .args = HH_ARGS_HELP,
     HH_ROWS({{NULL}, 2, HH_USAGE},
             {{"127.0.0.1", "x", NULL}, 2, "port 'x'"},
             {{"10.0.0.1", "80", NULL}, 2, "only loopback"},
             {{"192.168.1.1", "80", NULL}, 2, "only loopback"},
             {{"127.0.0.1", "0", NULL}, 2, "PORT 0"},
             {{"-d", "1", "-n", "5", "127.0.0.1", "9", NULL}, 2, "exclude"},
             {{"-a", "0", "127.0.0.1", "9", NULL}, 2,
              "-a 0 holds idle connections: give -i"},
             {{"-a", "0", "-i", "5", "-n", "5", "127.0.0.1", "9", NULL}, 2,
              "-a 0 makes none"},
             {{"-a", "-1", "127.0.0.1", "9", NULL}, 2, "ACTIVE '-1'"},
             {{"-i", "-1", "127.0.0.1", "9", NULL}, 2, "IDLE '-1'"},
             {{"-s", "0", "127.0.0.1", "9", NULL}, 2, "SIZE '0'"},
             {{"-d", "soon", "127.0.0.1", "9", NULL}, 2,
              "TIME 'soon': not a duration"},
             {{"-d", "0", "127.0.0.1", "9", NULL}, 2,
              "TIME '0': out of range"},
             {{"-w", "-1", "127.0.0.1", "9", NULL}, 2,
              "WARMUP '-1': not a duration"},
             {{"-n", "x", "127.0.0.1", "9", NULL}, 2, "COUNT 'x'"},
             {{"-a", "2", "-n", "5", "127.0.0.1", HH_PORT_CLOSED, NULL}, 1,
              "connect.*\\(ECONNREFUSED\\)"})},
};

static const struct hh_chapter chapter = {
    .name = "ch09-multiplex (echo comparison)",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
    .bad_exit_ms = 5000, /* loadgen's connects */
};

int
main(int argc, char **argv)
{
    int rc = hh_run_chapter(argc, argv, &chapter);
    bulk_close();
    return rc;
}
