/*
 * ch11_test.c - chapter 11, timers: one scenario per lesson.
 *
 * The three timer containers have unit and property tests of their own
 * (tests/unit/test_timer_*.c); here the programs built on them run
 * against loopback peers, and the scenarios measure time: when a connect
 * gives up, when an idle connection is closed, how far apart the ticks
 * of an epoll_wait timeout are.  Every time is taken by the harness on
 * CLOCK_MONOTONIC around what the program did (EOF on a socket, its
 * exit, each tick line as it arrives); the program's own figures are
 * shown, and only their shape is checked.  Deadlines and
 * tolerances stretch under valgrind and the sanitizers (hh_ms).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tolerance added to an upper time bound: scheduling, process start-up
 * and output pipes; scaled for slow builds. */
static long long
slack(struct hh_ctx *c, int ms)
{
    return hh_ms(c, ms);
}

/* ---- 11-1 connect with a timeout ---------------------------------------- */

static void
connect_timeout_expires(struct hh_ctx *c)
{
    struct sockaddr_in sa = hh_full_listener(c);
    char port[8];
    snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
    struct hh_proc *cap = NULL;
    if (c->show_capture || (c->sc->needs & HH_NEED_TCPDUMP))
        cap = hh_capture_start(c, ntohs(sa.sin_port));

    /* Times on the harness clock: from the spawn, and from the line the
     * program prints just before connect(), to its exit.  The spawn gives
     * the lower bound (the connect cannot have begun before it), the line
     * the upper one (start-up, slow under valgrind, is behind it).  The
     * program's own figure is only shown. */
    long long t0 = hh_now_ms();
    struct hh_proc *p = hh_start(c, "client", "connect_timeout", "-t", "1",
                                 "127.0.0.1", port, NULL);
    hh_expect_line(p, "^connecting to ", 5000);
    long long t_line = hh_now_ms();
    hh_expect_exit(p, 1, 5000);
    long long t_exit = hh_now_ms();
    HH_CHECK(c, hh_output_has(p, "^timed out after [0-9]+ ms: connect "
                                 "failed with EINPROGRESS "),
             "no timeout with EINPROGRESS reported");
    long long upper = 1000 + slack(c, 300);
    hh_note(c, "harness: %lld ms from the spawn to the exit, %lld ms from "
               "the line before connect() to the exit", t_exit - t0,
            t_exit - t_line);
    HH_CHECK(c, t_exit - t0 >= 950,
             "it gave up %lld ms after it was started, before the 1 s "
             "timeout", t_exit - t0);
    HH_CHECK(c, t_exit - t_line <= upper,
             "it exited %lld ms after it began to connect, want at most "
             "%lld for a 1 s timeout", t_exit - t_line, upper);
    if (cap) {
        /* the queue was full before the capture began: what it saw is
         * connect_timeout's SYN, and no answer */
        hh_capture_stop(cap);
        char ere[64];
        snprintf(ere, sizeof ere, "> 127\\.0\\.0\\.1\\.%s: Flags \\[S\\],",
                 port);
        int syn = hh_capture_count(cap, ere);
        int synack = hh_capture_count(cap, "Flags \\[S\\.\\]");
        hh_note(c, "tcpdump: %d SYN to the full listener, %d SYN-ACK", syn,
                synack);
        HH_CHECK(c, syn >= 1 && synack == 0,
                 "want the SYN unanswered: %d SYN, %d SYN-ACK", syn, synack);
    }
}

static void
connect_timeout_wire(struct hh_ctx *c)
{
    connect_timeout_expires(c);
}

static void
connect_timeout_refused(struct hh_ctx *c)
{
    char port[8];
    snprintf(port, sizeof port, "%u", hh_closed_port(c));
    long long t0 = hh_now_ms();
    struct hh_proc *p = hh_start(c, "client", "connect_timeout", "-t", "1",
                                 "127.0.0.1", port, NULL);
    hh_expect_err(p, "connect to 127\\.0\\.0\\.1:[0-9]+ failed after "
                     "([0-9]+) ms: .*\\(ECONNREFUSED\\)$", 3000);
    long took = atol(p->groups[1]);
    hh_expect_exit(p, 1, 3000);
    long long wall = hh_now_ms() - t0;
    HH_CHECK(c, !hh_output_has(p, "^timed out"),
             "a refused connect was reported as a timeout");
    HH_CHECK(c, took < 200, "refused after %ld ms: not at once", took);
    HH_CHECK(c, wall < 500 + (c->scale > 1 ? 3000 : 0),
             "the refused run took %lld ms", wall);
}

static void
connect_timeout_connects(struct hh_ctx *c)
{
    struct sockaddr_in sa;
    int lfd = hh_listen(c, 0, &sa, 5);
    char port[8];
    snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
    struct hh_proc *p = hh_start(c, "client", "connect_timeout", "-t", "1",
                                 "127.0.0.1", port, NULL);
    char want[64];
    snprintf(want, sizeof want, "^connected to 127\\.0\\.0\\.1:%s after "
                                "([0-9]+) ms$", port);
    hh_expect_line(p, want, 3000);
    HH_CHECK(c, atol(p->groups[1]) < 200, "connecting took %s ms",
             p->groups[1]);
    hh_expect_exit(p, 0, 3000);
    int fd = hh_accept(c, lfd, 2000);
    hh_expect_eof(c, fd, 2000); /* and it closed its socket */
}

/* In P's strace: a close() of the socket after its connect().  (Counting
 * close(3) lines would also count the dynamic loader's.) */
static bool
closed_after_connect(struct hh_ctx *c, struct hh_proc *p)
{
    size_t len;
    char *trace = hh_read_file(c, p->trace_path, &len);
    char *conn = strstr(trace, "connect(3, ");
    return conn && strstr(conn, "close(3) ") != NULL;
}

/* strace: SO_SNDTIMEO set, connect() -> EINPROGRESS after it, and the
 * socket closed on the failure paths too (valgrind only checks exit 0). */
static void
connect_timeout_trace(struct hh_ctx *c)
{
    struct sockaddr_in sa = hh_full_listener(c);
    char port[8], refused[8];
    snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
    snprintf(refused, sizeof refused, "%u", hh_closed_port(c));

    const char *targs[] = {"-t", "300ms", "127.0.0.1", port, NULL};
    struct hh_spawn opt = {.role = "timeout", .must_trace = true};
    struct hh_proc *t = hh_startv(c, &opt, "connect_timeout", targs);
    hh_expect_exit(t, 1, 5000);
    const char *rargs[] = {"-t", "300ms", "127.0.0.1", refused, NULL};
    opt.role = "refused";
    struct hh_proc *r = hh_startv(c, &opt, "connect_timeout", rargs);
    hh_expect_exit(r, 1, 5000);

    /* strace 6.1 shows the 64-bit timeval as bytes: 300000 = 0x0493e0 */
    int sndtimeo = hh_trace_count(t, "setsockopt\\(3, SOL_SOCKET, "
                                     "SO_SNDTIMEO(_OLD)?, (\\{tv_sec=0, "
                                     "tv_usec=300000\\}|\"(\\\\0){8}"
                                     "\\\\340\\\\223\\\\4(\\\\0){5}\"), "
                                     "16\\) += 0");
    int inprogress = hh_trace_count(t, "connect\\(3, .* = -1 EINPROGRESS");
    int closed_t = closed_after_connect(c, t);
    int refused_n = hh_trace_count(r, "connect\\(3, .* = -1 ECONNREFUSED");
    int closed_r = closed_after_connect(c, r);
    hh_note(c, "strace: SO_SNDTIMEO %d, connect EINPROGRESS %d, close %d "
               "(timeout); connect ECONNREFUSED %d, close %d (refused)",
            sndtimeo, inprogress, closed_t, refused_n, closed_r);
    HH_CHECK(c, sndtimeo == 1 && inprogress == 1,
             "want SO_SNDTIMEO {0, 300000} then connect = EINPROGRESS");
    HH_CHECK(c, closed_t == 1 && refused_n == 1 && closed_r == 1,
             "the socket must be closed after a timeout and a refusal");
}

/* ---- 11-3 idle connections ---------------------------------------------- */

enum { SLOT_MS = 300, IDLE_SLOTS = 3, ACTIVE_SLOTS = 5 };

/*
 * Wait until FD reads EOF or DEADLINE passes, reading SRV's output
 * meanwhile.  Returns the time of the EOF, or -1 at the deadline.  Data
 * or a reset instead of EOF fail the scenario.
 */
static long long
wait_eof(struct hh_ctx *c, struct hh_proc *srv, int fd, long long deadline)
{
    for (;;) {
        struct pollfd pf[3] = {{.fd = fd, .events = POLLIN},
                               {.fd = srv->out_fd, .events = POLLIN},
                               {.fd = srv->err_fd, .events = POLLIN}};
        long long left = deadline - hh_now_ms();
        int r = poll(pf, 3, left > 0 ? (int)left : 0);
        if (r < 0 && errno == EINTR)
            continue;
        HH_CHECK(c, r >= 0, "poll: %s", strerror(errno));
        if (pf[0].revents) {
            char b;
            ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
            if (n == 0) {
                long long t = hh_now_ms();
                hh_observe(c, 1); /* the server's line about it, first */
                return t;
            }
            HH_CHECK(c, n < 0, "the server sent data to a client");
            HH_CHECK(c, errno == EAGAIN || errno == EINTR,
                     "client socket: %s instead of EOF", strerror(errno));
        }
        if (pf[1].revents || pf[2].revents)
            hh_observe(c, 1); /* let the harness read and transcribe it */
        if (r == 0)
            return -1;
    }
}

/* The fd the server announced for the client on local port PORT. */
static int
server_fd_of(struct hh_proc *srv, in_port_t port)
{
    char ere[96];
    snprintf(ere, sizeof ere, "^fd ([0-9]+): connection from "
                              "127\\.0\\.0\\.1:%u at ", (unsigned)port);
    hh_expect_line(srv, ere, 3000);
    return atoi(srv->groups[1]);
}

static void
check_closed_for_idle(struct hh_ctx *c, struct hh_proc *srv, int fd,
                      in_port_t port, const char *who)
{
    char ere[128];
    snprintf(ere, sizeof ere, "^fd %d: idle timer expired at \\+[0-9]+ ms, "
                              "closing 127\\.0\\.0\\.1:%u$", fd,
             (unsigned)port);
    HH_CHECK(c, hh_output_has(srv, ere),
             "the server did not report closing fd %d (%s client) for "
             "idleness", fd, who);
}

/*
 * The line naming the container and the tick: the container's own name
 * (timer_queue_name), the wheel's slots, the slot, the tick's source and
 * the idle limit.  The back ends cannot be told apart by timing (each fires
 * a timer at the first tick at or after its expiry), so this line is what
 * says which one runs; idle_wheel_wraps adds what only a wheel can get
 * wrong.
 */
static void
expect_timers_line(struct hh_proc *srv, const char *backend, int slot_ms,
                   int idle_slots, bool timerfd)
{
    char ere[256], wheel[64] = "";
    if (strcmp(backend, "wheel") == 0)
        snprintf(wheel, sizeof wheel, " \\(60 slots of %d ms\\)", slot_ms);
    snprintf(ere, sizeof ere, "^timers: %s%s, tick every %d ms by %s, idle "
                              "timeout %d slots = %d ms$", backend, wheel,
             slot_ms, timerfd ? "timerfd" : "SIGALRM \\(setitimer\\)",
             idle_slots,
             idle_slots * slot_ms);
    hh_expect_line(srv, ere, 2000);
}

/*
 * One idle client and one that sends a byte every slot for 5 slots, then
 * falls silent, against idle_conn_server with the back end BACKEND (and
 * a timerfd instead of SIGALRM if TIMERFD).  Each must see EOF 3 to 4
 * slots after its last activity: never before, at most one slot late.
 */
static void
idle_scenario(struct hh_ctx *c, const char *backend, bool timerfd)
{
    char slot[16];
    snprintf(slot, sizeof slot, "%dms", SLOT_MS);
    const char *args[8] = {"-b", backend, "-s", slot};
    int na = 4;
    if (timerfd)
        args[na++] = "-t";
    args[na++] = "127.0.0.1";
    args[na++] = "0";
    args[na] = NULL;
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *srv = hh_startv(c, &opt, "idle_conn_server", args);
    hh_wait_listening(srv);
    expect_timers_line(srv, backend, SLOT_MS, IDLE_SLOTS, timerfd);
    struct hh_proc *cap = NULL;
    if (c->show_capture && strcmp(backend, "list") == 0 && !timerfd)
        cap = hh_capture_start(c, ntohs(srv->addr.sin_port));

    const long long early = IDLE_SLOTS * SLOT_MS - 20; /* clock rounding */
    const long long late = (IDLE_SLOTS + 1) * SLOT_MS + slack(c, 100);

    /* connect half-way between two ticks, so every expiry falls between
     * ticks too: the timer fires at the next tick, 3.5 slots later */
    hh_expect_line(srv, "^tick at ", 2000);
    hh_observe(c, SLOT_MS / 2);
    int idle = hh_connect(c, &srv->addr, 2000);
    long long t_idle = hh_now_ms();
    int busy = hh_connect(c, &srv->addr, 2000);
    long long t_busy = hh_now_ms();
    int idle_fd = server_fd_of(srv, hh_local_port(idle));
    int busy_fd = server_fd_of(srv, hh_local_port(busy));
    hh_note(c, "harness: client on port %u (server fd %d) stays idle; "
               "client on port %u (fd %d) sends a byte every %d ms, %d "
               "times", hh_local_port(idle), idle_fd, hh_local_port(busy),
            busy_fd, SLOT_MS, ACTIVE_SLOTS);

    long long idle_eof = -1, last_send = t_busy;
    char sent[ACTIVE_SLOTS];
    for (int k = 1; k <= ACTIVE_SLOTS; k++) {
        long long send_at = t_busy + (long long)k * SLOT_MS;
        if (idle_eof < 0) {
            idle_eof = wait_eof(c, srv, idle, send_at);
            if (idle_eof >= 0)
                hh_note(c, "harness: EOF on the idle client %lld ms after "
                           "it connected", idle_eof - t_idle);
        }
        if (idle_eof >= 0 && hh_now_ms() < send_at)
            hh_observe(c, (int)(send_at - hh_now_ms()));
        char peek;
        ssize_t n = recv(busy, &peek, 1, MSG_DONTWAIT | MSG_PEEK);
        HH_CHECK(c, n < 0 && errno == EAGAIN,
                 "the active client was closed after %lld ms, although it "
                 "sent a byte every %d ms", hh_now_ms() - t_busy, SLOT_MS);
        sent[k - 1] = (char)('a' + k - 1);
        hh_send(c, busy, &sent[k - 1], 1, 1000);
        last_send = hh_now_ms();
    }
    if (idle_eof < 0)
        idle_eof = wait_eof(c, srv, idle, t_idle + late);
    HH_CHECK(c, idle_eof >= 0, "the idle client saw no EOF within %lld ms",
             late);
    HH_CHECK(c, idle_eof - t_idle >= early && idle_eof - t_idle <= late,
             "idle client closed after %lld ms, want %lld..%lld",
             idle_eof - t_idle, early, late);

    long long busy_eof = wait_eof(c, srv, busy, last_send + late);
    HH_CHECK(c, busy_eof >= 0, "the client gone silent saw no EOF within "
                               "%lld ms", late);
    hh_note(c, "harness: EOF on the other client %lld ms after its last "
               "byte", busy_eof - last_send);
    HH_CHECK(c, busy_eof - last_send >= early &&
                    busy_eof - last_send <= late,
             "silent client closed %lld ms after its last byte, want "
             "%lld..%lld", busy_eof - last_send, early, late);

    /* a third client is open when SIGTERM comes: it is closed too */
    int third = hh_connect(c, &srv->addr, 2000);
    server_fd_of(srv, hh_local_port(third));
    hh_stop(srv);
    HH_CHECK(c, hh_output_has(srv, "^stopped by signal 15, closing 1 "),
             "no clean stop with one connection open");
    hh_expect_eof(c, third, 2000);

    check_closed_for_idle(c, srv, idle_fd, hh_local_port(idle), "idle");
    check_closed_for_idle(c, srv, busy_fd, hh_local_port(busy), "active");
    for (int k = 0; k < ACTIVE_SLOTS; k++) {
        char ere[64];
        snprintf(ere, sizeof ere, "^fd %d: received 1 bytes: \"%c\"$",
                 busy_fd, sent[k]);
        HH_CHECK(c, hh_output_has(srv, ere), "byte '%c' not reported",
                 sent[k]);
    }
    char ere[64];
    snprintf(ere, sizeof ere, "^fd %d: timer pushed back to ", busy_fd);
    HH_CHECK(c, hh_output_has(srv, ere), "no timer adjustment reported");
    HH_CHECK(c, hh_output_has(srv, "^tick at \\+[0-9]+ ms: 1 expired"),
             "no tick reported an expired timer");
    if (cap)
        hh_capture_stop(cap);
}

static void
idle_list(struct hh_ctx *c)
{
    idle_scenario(c, "list", false);
}

static void
idle_wheel(struct hh_ctx *c)
{
    idle_scenario(c, "wheel", false);
}

static void
idle_heap(struct hh_ctx *c)
{
    idle_scenario(c, "heap", false);
}

static void
idle_timerfd(struct hh_ctx *c)
{
    idle_scenario(c, "heap", true);
}

/* ---- 11-5 the wheel's rotations ----------------------------------------- */

enum { WRAP_SLOT_MS = 50, WRAP_SLOTS = 70, WRAP_SPEAK_MS = 1000 };

/*
 * The wheel has 60 slots: a timer 70 slots away shares its slot with the
 * timers 10 slots away and must wait out a whole rotation there.  One
 * client stays idle from its connect; the other sends a byte after 1 s,
 * which moves its timer to a slot past the turn of the wheel.  Each must
 * see EOF 70 to 71 slots after its last activity, on the harness clock: a
 * wheel that ignored rotations would close them after 10 slots, one that
 * counted a rotation too many after 130.
 */
static void
idle_wheel_wraps(struct hh_ctx *c)
{
    char slot[16], idle[16];
    snprintf(slot, sizeof slot, "%dms", WRAP_SLOT_MS);
    snprintf(idle, sizeof idle, "%d", WRAP_SLOTS);
    struct hh_proc *srv =
        hh_start(c, "server", "idle_conn_server", "-b", "wheel", "-s", slot,
                 "-i", idle, "127.0.0.1", "0", NULL);
    hh_wait_listening(srv);
    expect_timers_line(srv, "wheel", WRAP_SLOT_MS, WRAP_SLOTS, false);

    const long long want = (long long)WRAP_SLOTS * WRAP_SLOT_MS;
    const long long early = want - 20; /* clock rounding */
    const long long late = want + WRAP_SLOT_MS + slack(c, 150);
    int quiet = hh_connect(c, &srv->addr, 2000);
    long long t_quiet = hh_now_ms();
    int speaker = hh_connect(c, &srv->addr, 2000);
    int quiet_fd = server_fd_of(srv, hh_local_port(quiet));
    int speaker_fd = server_fd_of(srv, hh_local_port(speaker));
    hh_note(c, "harness: %d-slot timers on a 60-slot wheel of %d ms slots: "
               "the client on port %u stays idle, the one on port %u sends "
               "a byte after %d ms",
            WRAP_SLOTS, WRAP_SLOT_MS, hh_local_port(quiet),
            hh_local_port(speaker), WRAP_SPEAK_MS);

    long long eof = wait_eof(c, srv, quiet, t_quiet + WRAP_SPEAK_MS);
    HH_CHECK(c, eof < 0, "the idle client was closed after %lld ms, want "
                         "%lld..%lld: a rotation early?",
             eof - t_quiet, early, late);
    hh_send(c, speaker, "x", 1, 1000);
    long long t_spoke = hh_now_ms();

    eof = wait_eof(c, srv, quiet, t_quiet + late);
    HH_CHECK(c, eof >= 0, "the idle client saw no EOF within %lld ms", late);
    hh_note(c, "harness: EOF on the idle client %lld ms after it connected",
            eof - t_quiet);
    HH_CHECK(c, eof - t_quiet >= early && eof - t_quiet <= late,
             "idle client closed after %lld ms, want %lld..%lld",
             eof - t_quiet, early, late);

    eof = wait_eof(c, srv, speaker, t_spoke + late);
    HH_CHECK(c, eof >= 0, "the other client saw no EOF within %lld ms of its "
                          "byte", late);
    hh_note(c, "harness: EOF on the other client %lld ms after its byte",
            eof - t_spoke);
    HH_CHECK(c, eof - t_spoke >= early && eof - t_spoke <= late,
             "the other client was closed %lld ms after its byte, want "
             "%lld..%lld", eof - t_spoke, early, late);
    hh_stop(srv);
    check_closed_for_idle(c, srv, quiet_fd, hh_local_port(quiet), "idle");
    check_closed_for_idle(c, srv, speaker_fd, hh_local_port(speaker),
                          "speaking");
}

/* Edge-triggered reads drain the socket: 300 bytes in one segment come
 * out as 64-byte reads, all of them, in order. */
static void
idle_et_drain(struct hh_ctx *c)
{
    struct hh_proc *srv = hh_start(c, "server", "idle_conn_server",
                                   "127.0.0.1", "0", NULL);
    hh_wait_listening(srv);
    int fd = hh_connect(c, &srv->addr, 2000);
    int sfd = server_fd_of(srv, hh_local_port(fd));
    char msg[300];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('A' + i % 26);
    hh_send(c, fd, msg, sizeof msg, 2000);
    char ere[64];
    snprintf(ere, sizeof ere, "^fd %d: timer pushed back to ", sfd);
    hh_expect_line(srv, ere, 3000);
    hh_close(c, fd);
    snprintf(ere, sizeof ere, "^fd %d: closed by the peer$", sfd);
    hh_expect_line(srv, ere, 3000);
    hh_stop(srv);

    /* reassemble what it printed, in order */
    char got[sizeof msg + 1];
    size_t len = 0, reads = 0, pos = 0;
    snprintf(ere, sizeof ere, "fd %d: received ", sfd);
    while (pos < srv->out.len) {
        char *line = srv->out.data + pos;
        char *nl = memchr(line, '\n', srv->out.len - pos);
        size_t n = nl ? (size_t)(nl - line) : srv->out.len - pos;
        pos += n + 1;
        if (n < strlen(ere) || strncmp(line, ere, strlen(ere)) != 0)
            continue;
        unsigned k;
        char *q = memchr(line, '"', n);
        HH_CHECK(c, q && sscanf(line + strlen(ere), "%u bytes", &k) == 1,
                 "cannot read: %.*s", (int)n, line);
        HH_CHECK(c, k <= 64 && len + k <= sizeof msg && q + 1 + k < line + n,
                 "read of %u bytes (after %zu)", k, len);
        memcpy(got + len, q + 1, k);
        len += k;
        reads++;
    }
    hh_note(c, "server: %zu bytes in %zu reads", len, reads);
    HH_CHECK(c, len == sizeof msg && memcmp(got, msg, len) == 0,
             "the server printed %zu of the %zu bytes sent, or not in order",
             len, sizeof msg);
    HH_CHECK(c, reads >= 5, "%zu reads for 300 bytes in 64-byte chunks",
             reads);
}

/* strace: SIGALRM interrupts epoll_wait, the handler sends one byte
 * holding 14, the loop reads it back; SIGTERM the same with 15. */
static void
idle_sigalrm_trace(struct hh_ctx *c)
{
    const char *args[] = {"-s", "100ms", "127.0.0.1", "0", NULL};
    struct hh_spawn opt = {.role = "server", .must_trace = true};
    struct hh_proc *srv = hh_startv(c, &opt, "idle_conn_server", args);
    hh_wait_listening(srv);
    for (int i = 0; i < 3; i++)
        hh_expect_line(srv, "^tick at ", 3000);
    hh_stop(srv);
    int itimer = hh_trace_count(srv, "setitimer\\(ITIMER_REAL, "
                                     "\\{it_interval=\\{tv_sec=0, "
                                     "tv_usec=100000\\}");
    int alrm = hh_trace_count(srv, "sendto\\([0-9]+, \"\\\\16\", 1, "
                                   "MSG_DONTWAIT, NULL, 0\\) += 1");
    int term = hh_trace_count(srv, "sendto\\([0-9]+, \"\\\\17\", 1, "
                                   "MSG_DONTWAIT, NULL, 0\\) += 1");
    int eintr = hh_trace_count(srv, "epoll_wait\\(.* = -1 EINTR");
    int back = hh_trace_count(srv, "recvfrom\\([0-9]+, \"(\\\\16)+\", 64, ");
    hh_note(c, "strace: setitimer %d, one-byte sends of 14 (SIGALRM) %d "
               "and 15 (SIGTERM) %d, epoll_wait EINTR %d, reads of the "
               "byte %d", itimer, alrm, term, eintr, back);
    HH_CHECK(c, itimer == 1, "no setitimer with a 100 ms interval");
    HH_CHECK(c, alrm >= 3 && back >= 1 && eintr >= 1,
             "want the handler's sends of byte 14, EINTR, and reads");
    HH_CHECK(c, term == 1, "SIGTERM must come through the pipe too");
}

/*
 * A SIGTERM whose byte the full signal pipe refuses still stops the
 * server.  Real signals sent to a stopped process coalesce, so the
 * harness cannot queue hundreds of SIGALRMs: it takes a copy of the
 * handler's end of the pipe (pidfd_getfd, as the server's parent may)
 * and, while the server is stopped, fills it with SIGALRM bytes, one
 * 1-byte send each, as a loop that fell behind its ticks would have left
 * it.  Then SIGTERM and SIGCONT: the handler's send fails with EAGAIN.
 */
static void
regress_11_3_stop_byte_dropped(struct hh_ctx *c)
{
    const char *args[] = {"-s", "200ms", "-i", "1000", "127.0.0.1", "0",
                          NULL};
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *srv = hh_startv(c, &opt, "idle_conn_server", args);
    hh_wait_listening(srv);
    hh_expect_line(srv, "^signal pipe: the handler writes to fd ([0-9]+),",
                   3000);
    int wr = atoi(srv->groups[1]);
    int a = hh_connect(c, &srv->addr, 3000);
    server_fd_of(srv, hh_local_port(a));
    hh_expect_line(srv, "^tick at ", 3000);
    int bytes = hh_fill_fd_of(srv, wr, SIGALRM);
    hh_note(c, "harness: %d SIGALRM bytes in the handler's pipe: it is "
               "full; kill -TERM, then kill -CONT", bytes);
    hh_kill(srv, SIGTERM);
    hh_kill(srv, SIGCONT);
    hh_expect_line(srv, "^signal 15: its byte was dropped \\(the signal pipe "
                        "was full\\)", 5000);
    hh_expect_line(srv, "^stopped by signal 15, closing 1 connection", 3000);
    hh_expect_exit(srv, 0, 3000);
    hh_expect_eof(c, a, 3000);
}

/* ---- 11-4 the epoll_wait timeout as a timer ----------------------------- */

enum { PERIOD_MS = 600, WINDOW_PERIODS = 4, MAX_TICKS = 64 };
enum { BULK_LEN = 1 << 20, STALL_LEN = 16 << 20 };

/* The server's tick lines, timed on the harness clock as they arrive. */
struct tick_watch {
    struct hh_proc *srv;
    size_t scan; /* srv->out before this was looked at */
    long long at[MAX_TICKS];
    int n;
};

/* Read what the programs printed and time each new tick line now: the
 * callers look often enough (every few ms) for now to be when it came. */
static void
watch_ticks(struct hh_ctx *c, struct tick_watch *w)
{
    hh_observe(c, 0);
    long long now = hh_now_ms();
    struct hh_buf *out = &w->srv->out;
    while (w->scan < out->len) {
        char *line = out->data + w->scan;
        char *nl = memchr(line, '\n', out->len - w->scan);
        if (nl == NULL)
            break;
        if (strncmp(line, "tick ", 5) == 0 && w->n < MAX_TICKS)
            w->at[w->n++] = now;
        w->scan = (size_t)(nl + 1 - out->data);
    }
}

/* Time tick lines into W until it holds N of them. */
static void
wait_ticks(struct hh_ctx *c, struct tick_watch *w, int n, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    while (w->n < n) {
        HH_CHECK(c, hh_now_ms() < deadline, "%d ticks seen, want %d within "
                                            "%d ms", w->n, n, timeout_ms);
        struct pollfd pf = {.fd = w->srv->out_fd, .events = POLLIN};
        poll(&pf, 1, 5);
        watch_ticks(c, w);
    }
}

/* Every gap between the ticks W saw must be PERIOD +- 20 % (more room
 * for slow builds); at least MIN_TICKS of them. */
static void
check_tick_gaps(struct hh_ctx *c, const struct tick_watch *w, int period,
                int min_ticks)
{
    long long lo = period * 8 / 10, hi = period * 12 / 10;
    /* a slow build makes the harness late to read a tick line as often
     * as the program late to print it, and a late reading shortens the
     * next gap: the window opens both ways there (the plain build, which
     * grades, keeps +-20 %) */
    if (c->scale > 1) {
        hi += slack(c, 100);
        lo -= slack(c, 100);
    }
    char gaps[512];
    size_t o = 0;
    gaps[0] = '\0';
    for (int i = 1; i < w->n && o < sizeof gaps - 16; i++)
        o += (size_t)snprintf(gaps + o, sizeof gaps - o, " %lld",
                              w->at[i] - w->at[i - 1]);
    hh_note(c, "harness: %d ticks seen; ms between them:%s", w->n, gaps);
    HH_CHECK(c, w->n >= min_ticks, "%d ticks seen, want at least %d", w->n,
             min_ticks);
    for (int i = 1; i < w->n; i++)
        HH_CHECK(c, w->at[i] - w->at[i - 1] >= lo &&
                        w->at[i] - w->at[i - 1] <= hi,
                 "tick %d came %lld ms after the previous, want %lld..%lld",
                 i + 1, w->at[i] - w->at[i - 1], lo, hi);
}

/* The timeouts printed before each wait, and how many tick lines came
 * before each: the program's own figures, shown and checked for shape. */
static int
read_waits(struct hh_proc *p, long *waits, int *wait_tick, int max)
{
    int n = 0, ticks = 0;
    size_t pos = 0;
    while (pos < p->out.len && n < max) {
        char *line = p->out.data + pos;
        char *nl = memchr(line, '\n', p->out.len - pos);
        size_t len = nl ? (size_t)(nl - line) : p->out.len - pos;
        pos += len + 1;
        long t;
        if (len > 5 && strncmp(line, "tick ", 5) == 0)
            ticks++;
        else if (sscanf(line, "epoll_wait, timeout %ld ms", &t) == 1) {
            waits[n] = t;
            wait_tick[n++] = ticks;
        }
    }
    return n;
}

/*
 * The echo of the bulk connection: what BACK holds so far must be the
 * start of the pattern.  Compared at the end, in one go.
 */
struct bulk {
    int fd;
    const char *data;
    char *back;
    size_t put, got;
};

/*
 * Traffic for WINDOW_PERIODS periods against SRV (epoll_timeout_loop -t
 * 600), the harness timing every tick line as it arrives (into W):
 *  - a byte every third of a period on one connection, echoed;
 *  - with BULK, also 1 MB on a second connection, sent at an even pace
 *    over three periods while reading the echo, except during the second
 *    period, when the harness stops reading it.
 * Every byte must come back; the caller checks the ticks.
 */
static void
traffic_run(struct hh_ctx *c, struct hh_proc *srv, struct tick_watch *w,
            bool bulk)
{
    int small = hh_connect(c, &srv->addr, 2000);
    hh_expect_line(srv, "^fd [0-9]+: connection from ", 2000);
    struct bulk b = {.fd = -1};
    if (bulk) {
        b.fd = hh_connect(c, &srv->addr, 2000);
        hh_expect_line(srv, "^fd [0-9]+: connection from ", 2000);
        b.data = hh_pattern(c, BULK_LEN);
        b.back = hh_alloc(c, BULK_LEN);
    }
    const long long T = PERIOD_MS;
    const int trickle = WINDOW_PERIODS * 3 - 1; /* bytes, one per T/3 */
    hh_note(c, "harness: a byte every %lld ms for %lld ms%s", T / 3,
            WINDOW_PERIODS * T,
            bulk ? "; meanwhile 1 MB on a second connection over three "
                   "periods, its echo not read during the second"
                 : "");

    int sent = 0, echoed = 0;
    bool looked = false;
    long long t0 = hh_now_ms(), end = t0 + WINDOW_PERIODS * T;
    long long deadline = end + hh_ms(c, 5000);
    for (;;) {
        long long now = hh_now_ms();
        if (now >= end && echoed == sent && (!bulk || b.got == BULK_LEN))
            break;
        HH_CHECK(c, now < deadline, "traffic not done by the deadline: "
                                    "%d of %d bytes echoed; bulk: sent "
                                    "%zu, got %zu back",
                 echoed, sent, b.put, b.got);
        if (sent < trickle && now >= t0 + (sent + 1) * T / 3) {
            char ch = (char)('a' + sent);
            hh_send(c, small, &ch, 1, 1000);
            sent++;
        }
        bool paused = now >= t0 + T && now < t0 + 2 * T;
        size_t target = BULK_LEN;
        if (now < t0 + 3 * T)
            target = (size_t)((long long)BULK_LEN * (now - t0) / (3 * T));
        if (bulk && paused && !looked && now >= t0 + 2 * T - 50) {
            /* the server's side of the bulk connection, late in the
             * pause: what it could not send yet */
            int st;
            long tx, rx;
            if (hh_tcp_info(ntohs(srv->addr.sin_port), hh_local_port(b.fd),
                            &st, &tx, &rx) == 0)
                hh_note(c, "ss: the server's bulk socket holds %ld bytes "
                           "unsent or unacknowledged, %ld unread, after "
                           "%zu sent and %zu read back",
                        tx, rx, b.put, b.got);
            looked = true;
        }
        struct pollfd pf[3] = {{.fd = srv->out_fd, .events = POLLIN},
                               {.fd = small, .events = POLLIN},
                               {.fd = b.fd, .events = 0}};
        if (b.put < target)
            pf[2].events |= POLLOUT;
        if (!paused)
            pf[2].events |= POLLIN;
        int r = poll(pf, bulk ? 3 : 2, 5);
        if (r < 0 && errno == EINTR)
            continue;
        HH_CHECK(c, r >= 0, "poll: %s", strerror(errno));
        watch_ticks(c, w);
        if (pf[1].revents) {
            char in[16];
            ssize_t n = recv(small, in, sizeof in, MSG_DONTWAIT);
            HH_CHECK(c, n != 0, "EOF on the trickling connection");
            for (ssize_t i = 0; i < n; i++, echoed++)
                HH_CHECK(c, echoed < sent && in[i] == 'a' + echoed,
                         "byte %d of the trickle came back wrong", echoed);
        }
        if ((pf[2].revents & POLLOUT) && b.put < target) {
            ssize_t n = send(b.fd, b.data + b.put, target - b.put,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            HH_CHECK(c, n > 0 || errno == EAGAIN, "bulk send: %s",
                     strerror(errno));
            if (n > 0)
                b.put += (size_t)n;
        }
        if (!paused && (pf[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = recv(b.fd, b.back + b.got, BULK_LEN - b.got,
                             MSG_DONTWAIT);
            HH_CHECK(c, n != 0, "EOF on the bulk connection after %zu "
                                "bytes back", b.got);
            HH_CHECK(c, n > 0 || errno == EAGAIN, "bulk recv: %s",
                     strerror(errno));
            if (n > 0)
                b.got += (size_t)n;
        }
    }
    watch_ticks(c, w);
    hh_note(c, "harness: %d bytes trickled and echoed%s", sent,
            bulk ? "; 1048576 bytes sent and echoed on the bulk connection"
                 : "");
    if (bulk)
        for (size_t i = 0; i < BULK_LEN; i++)
            HH_CHECK(c, b.back[i] == b.data[i],
                     "the bulk echo differs at byte %zu", i);
}

/*
 * Echo LEN bytes of the pattern on FD, timing the ticks into W meanwhile.
 * STALL_MS < 0: read while sending.  Else send without reading until
 * nothing moved for STALL_MS (every buffer on the way full: the server
 * got EAGAIN and must have stopped reading), then read it all back while
 * sending the rest.  Byte for byte.  Like hh_echo_exchange and
 * hh_echo_stalled, but timing every tick line as it arrives, so that the
 * period is checked across the echo too.
 */
static void
echo_run(struct hh_ctx *c, struct tick_watch *w, int fd, size_t len,
         int stall_ms, int timeout_ms)
{
    const char *data = hh_pattern(c, len);
    char *got = hh_alloc(c, len);
    size_t put = 0, have = 0;
    bool reading = stall_ms < 0;
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    long long moved = hh_now_ms();
    while (have < len) {
        long long now = hh_now_ms();
        HH_CHECK(c, now < deadline, "echo of %zu bytes: sent %zu, got %zu "
                                    "back by the deadline",
                 len, put, have);
        if (!reading && now - moved >= stall_ms) {
            HH_CHECK(c, put < len, "all %zu bytes were taken with nothing "
                                   "read: never stalled", len);
            hh_note(c, "harness: sent %zu bytes without reading; nothing "
                       "moved for %d ms: every buffer on the way is full",
                    put, stall_ms);
            reading = true;
        }
        struct pollfd pf = {.fd = fd};
        if (put < len)
            pf.events |= POLLOUT;
        if (reading)
            pf.events |= POLLIN;
        int r = poll(&pf, 1, 5);
        HH_CHECK(c, r >= 0 || errno == EINTR, "poll: %s", strerror(errno));
        watch_ticks(c, w);
        if ((pf.revents & POLLOUT) && put < len) {
            ssize_t n = send(fd, data + put, len - put,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            HH_CHECK(c, n > 0 || errno == EAGAIN, "send after %zu bytes: %s",
                     put, strerror(errno));
            if (n > 0)
                put += (size_t)n, moved = hh_now_ms();
        }
        if (reading && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = recv(fd, got + have, len - have, MSG_DONTWAIT);
            HH_CHECK(c, n != 0, "EOF after %zu of %zu bytes back", have,
                     len);
            HH_CHECK(c, n > 0 || errno == EAGAIN, "recv after %zu bytes: %s",
                     have, strerror(errno));
            if (n > 0)
                have += (size_t)n;
        }
    }
    /* memcmp first: a byte loop over 16 MB in a TSan build of this test
     * takes about 400 ms, long enough to read a tick line late and see
     * the next gap short */
    if (memcmp(got, data, len) != 0)
        for (size_t i = 0; i < len; i++)
            HH_CHECK(c, got[i] == data[i], "the echo differs at byte %zu of "
                     "%zu", i, len);
    hh_note(c, "harness: %zu bytes echoed back, byte for byte%s", len,
            stall_ms < 0 ? ", read while sending" : "");
}

static struct hh_proc *
start_loop_server(struct hh_ctx *c, struct tick_watch *w)
{
    char period[16];
    snprintf(period, sizeof period, "%dms", PERIOD_MS);
    struct hh_proc *srv = hh_start(c, "server", "epoll_timeout_loop", "-t",
                                   period, "127.0.0.1", "0", NULL);
    hh_wait_listening(srv);
    *w = (struct tick_watch){.srv = srv, .scan = srv->out.len};
    return srv;
}

/* A byte every third of a period: the timeouts shrink, the ticks keep
 * their period on the harness clock. */
static void
epoll_timeout_ticks(struct hh_ctx *c)
{
    struct tick_watch w;
    struct hh_proc *srv = start_loop_server(c, &w);
    traffic_run(c, srv, &w, false);
    check_tick_gaps(c, &w, PERIOD_MS, WINDOW_PERIODS - 1);
    hh_stop(srv);
    /* between two ticks, no wait is longer than the one before (equal
     * when less than a millisecond passed), and most are shorter: the
     * program's own figures, the shape of the lesson */
    long waits[256];
    int wait_tick[256];
    int nwaits = read_waits(srv, waits, wait_tick, 256), shrinking = 0;
    for (int i = 1; i < nwaits; i++) {
        if (wait_tick[i] != wait_tick[i - 1])
            continue;
        HH_CHECK(c, waits[i] <= waits[i - 1],
                 "timeout %ld ms printed after %ld ms in the same period",
                 waits[i], waits[i - 1]);
        shrinking += waits[i] < waits[i - 1];
    }
    HH_CHECK(c, shrinking >= 3, "the timeout never shrank between ticks");
}

/* The same rhythm with 1 MB flowing beside the trickle, and a reader
 * that stops; then 1 MB echoed as fast as it goes, and a reader that
 * stalls until every buffer on the way is full (the server must stop
 * reading, wait for EPOLLOUT, and lose nothing).  The ticks are timed
 * through all of it, and keep their period. */
static void
epoll_timeout_bulk(struct hh_ctx *c)
{
    struct tick_watch w;
    /* the 16 MB pattern made now, before the ticks are timed: the harness
     * cannot watch them while it computes it */
    (void)hh_pattern(c, STALL_LEN);
    struct hh_proc *srv = start_loop_server(c, &w);
    traffic_run(c, srv, &w, true);
    int fd = hh_connect(c, &srv->addr, 2000);
    echo_run(c, &w, fd, BULK_LEN, -1, 10000);
    hh_close(c, fd);
    fd = hh_connect(c, &srv->addr, 2000);
    echo_run(c, &w, fd, STALL_LEN, 300, 15000);
    hh_close(c, fd);
    /* and the next two ticks: the gap across the echoes counts too */
    wait_ticks(c, &w, w.n + 2, 3 * PERIOD_MS);
    check_tick_gaps(c, &w, PERIOD_MS, WINDOW_PERIODS + 1);
    hh_stop(srv);
}

/* No traffic at all: every wait times out, and each timeout is a tick
 * (the fragment reset its timeout there without doing the work). */
static void
epoll_timeout_idle(struct hh_ctx *c)
{
    struct hh_proc *srv = hh_start(c, "server", "epoll_timeout_loop", "-t",
                                   "200ms", "127.0.0.1", "0", NULL);
    hh_wait_listening(srv);
    struct tick_watch w = {.srv = srv, .scan = srv->out.len};
    wait_ticks(c, &w, 5, 3000);
    hh_stop(srv);
    HH_CHECK(c, hh_output_has(srv, "^stopped by signal 15 after [0-9]+ "
                                   "tick"), "no clean stop reported");
    check_tick_gaps(c, &w, 200, 5);
    long waits[64];
    int wait_tick[64];
    int nwaits = read_waits(srv, waits, wait_tick, 64);
    for (int i = 0; i < nwaits; i++)
        HH_CHECK(c, waits[i] == 200, "an idle wait of %ld ms, want the "
                                     "whole period", waits[i]);
}

/* ---- the benchmark program ---------------------------------------------- */

static void
timer_bench_smoke(struct hh_ctx *c)
{
    const char *args[] = {"-n", "10,20", "-r", "1", NULL};
    struct hh_spawn opt = {.role = "bench", .raw = true};
    struct hh_proc *p = hh_startv(c, &opt, "timer_bench", args);
    hh_expect_exit(p, 0, 20000);
    int rows = 0;
    size_t pos = 0;
    bool header = false;
    while (pos < p->out.len) {
        char *line = p->out.data + pos;
        char *nl = memchr(line, '\n', p->out.len - pos);
        size_t len = nl ? (size_t)(nl - line) : p->out.len - pos;
        char buf[256], be[16], op[16];
        unsigned n, reps;
        double med, lo, hi;
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        pos += len + 1;
        if (strncmp(buf, "backend,op,n,", 13) == 0)
            header = true;
        if (sscanf(buf, "%15[a-z],%15[a-z],%u,%u,%lf,%lf,%lf", be, op, &n,
                   &reps, &med, &lo, &hi) == 7) {
            HH_CHECK(c, reps == 1 && lo > 0 && lo <= med && med <= hi,
                     "bad row: %s", buf);
            rows++;
        }
    }
    hh_note(c, "timer_bench: %d rows (4 back ends x 4 operations x 2 "
               "sizes)", rows);
    HH_CHECK(c, header && rows == 32, "want a header and 32 rows, got %d",
             rows);
}

/* ---- the table ---------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"connect_timeout_expires", "11-1",
     "SO_SNDTIMEO bounds a blocking connect: EINPROGRESS after 1 s",
     "the listener's queue was full, so its kernel dropped the SYN; after "
     "the 1 s send timeout connect() returned -1 with EINPROGRESS, the "
     "errno of a connect still under way.",
     0, connect_timeout_expires},
    {"connect_timeout_wire", "11-1",
     "on the wire: the SYN to the full listener is never answered",
     "no SYN-ACK comes back: the listener's kernel drops the SYN while its "
     "accept queue is full, and the client would retransmit it after 1 s.",
     HH_NEED_TCPDUMP | HH_TEST_ONLY, connect_timeout_wire},
    {"connect_timeout_refused", "11-1",
     "a closed port refuses at once: ECONNREFUSED is not a timeout",
     "the RST came back at once; the error is named, the socket closed.",
     0, connect_timeout_refused},
    {"connect_timeout_connects", "11-1",
     "a listener with room: connected at once, exit 0",
     "the handshake completes well inside the timeout; the socket is "
     "closed (the harness reads EOF on the accepted side).",
     0, connect_timeout_connects},
    {"connect_timeout_trace", "11-1",
     "strace: setsockopt(SO_SNDTIMEO), connect = EINPROGRESS, close",
     "the option carries the timeout; the socket is closed on the failure "
     "paths too, where the book leaked it.",
     HH_NEED_STRACE, connect_timeout_trace},
    {"idle_list", "11-2/11-3",
     "idle connections closed by a sorted timer list, ticked by SIGALRM",
     "connected half-way between ticks, the idle client got EOF 3.5 slots "
     "later: its 3-slot timer expired between ticks and the next tick found "
     "it (3 to 4 slots, never fewer).  The other's timer was pushed back "
     "on every byte; it was closed 3.5 slots after its last one.",
     0, idle_list},
    {"idle_wheel", "11-5/11-3",
     "the same with the time wheel (60 slots of one slot each)",
     "same timings: the wheel rounds an expiry up to its next tick, the "
     "tick the server checks anyway.",
     0, idle_wheel},
    {"idle_wheel_wraps", "11-5/11-3",
     "the wheel's rotations: a 70-slot timeout on a 60-slot wheel",
     "the timer waited in its slot through one whole rotation: EOF came "
     "70 to 71 slots after the last activity, not 10 (a wheel that "
     "ignores rotations) and not 130.",
     0, idle_wheel_wraps},
    {"idle_heap", "11-6/11-3", "the same with the min-heap",
     "same timings; the heap finds the earliest timer at its root.",
     0, idle_heap},
    {"idle_timerfd", "11-3",
     "the same, ticked by a timerfd in the epoll set instead of SIGALRM",
     "no signal, no handler, no pipe: the timerfd is readable once per "
     "slot and says how many slots passed.",
     0, idle_timerfd},
    {"idle_et_drain", "11-3",
     "edge-triggered reads drain the socket: 300 bytes as 64-byte reads",
     "the book read 63 bytes once per edge and stranded the rest; here "
     "every byte is printed, in order, over several reads.",
     HH_REGRESSION, idle_et_drain},
    {"idle_sigalrm_trace", "11-3",
     "strace: SIGALRM -> EINTR -> one byte (14) on the signal pipe",
     "each SIGALRM interrupts epoll_wait; its handler sends one byte "
     "holding 14, which the loop reads back and turns into a tick.",
     HH_NEED_STRACE, idle_sigalrm_trace},
    {"regress_11_3_stop_byte_dropped", "11-3",
     "a SIGTERM whose byte the full signal pipe refuses still stops it",
     "the pipe was full of SIGALRM bytes when SIGTERM came: the handler's "
     "send failed with EAGAIN, but its flag ended the loop, which closed "
     "the client and exited 0.",
     HH_REGRESSION, regress_11_3_stop_byte_dropped},
    {"epoll_timeout_ticks", "11-4",
     "epoll_wait's timeout as a timer: a tick every T under steady traffic",
     "the timeout printed before each wait shrinks as events arrive, and "
     "the harness, timing each tick line as it arrives, sees a tick every "
     "600 ms +- 20 %.",
     0, epoll_timeout_ticks},
    {"epoll_timeout_bulk", "11-4",
     "the same rhythm while 1 MB flows and a reader stalls; a full echo",
     "the server stops reading while it cannot send and resumes on "
     "EPOLLOUT; every byte comes back, and the ticks keep their period.",
     HH_TEST_ONLY, epoll_timeout_bulk},
    {"epoll_timeout_idle", "11-4",
     "no traffic: every wait times out, and each one is a tick",
     "the fragment reset its timeout on a 0-event return without doing "
     "the work; here a timeout is a tick.",
     0, epoll_timeout_idle},
    {"timer_bench_smoke", "bench", "timer_bench runs: 4 back ends x 4 "
                                   "operations at N = 10 and 20",
     "make bench runs it at N = 10^2 .. 10^6; see bench/results.md.",
     HH_TEST_ONLY, timer_bench_smoke},
};

/*
 * The programs: what TRACE=1 shows of each (the calls its listing
 * teaches), and its bad command lines (a bad_input_<name> scenario each).
 */
static const struct hh_program programs[] = {
    {.name = "connect_timeout", .listing = "11-1",
     .syscalls = "trace=setsockopt,connect,close", .args = HH_ARGS_IP_PORT,
     .opts = {"-t", "1"},
     HH_ROWS({{"-t", "x", "127.0.0.1", "1", NULL}, 2,
              "timeout 'x': not a duration"},
             {{"-t", "0", "127.0.0.1", "1", NULL}, 2,
              "timeout '0': out of range"},
             {{"-t", "0ms", "127.0.0.1", "1", NULL}, 2,
              "timeout '0ms': out of range"},
             {{"-t", "3601", "127.0.0.1", "1", NULL}, 2,
              "timeout '3601': out of range"},
             {{"-t", "0.0001", "127.0.0.1", "1", NULL}, 2,
              "timeout '0\\.0001': finer than a millisecond"})},
    {.name = "idle_conn_server", .listing = "11-3",
     .syscalls = "trace=setitimer,timerfd_settime,epoll_wait,sendto,"
                 "recvfrom",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     .opts = {"-b", "wheel"},
     HH_ROWS({{"-b", "tree", "127.0.0.1", "0", NULL}, 2, "'tree'"},
             {{"-s", "0", "127.0.0.1", "0", NULL}, 2,
              "slot '0': out of range"},
             {{"-s", "5ms", "127.0.0.1", "0", NULL}, 2,
              "slot '5ms': out of range"},
             {{"-s", "x", "127.0.0.1", "0", NULL}, 2,
              "slot 'x': not a duration"},
             {{"-s", "3601", "127.0.0.1", "0", NULL}, 2,
              "slot '3601': out of range"},
             {{"-i", "0", "127.0.0.1", "0", NULL}, 2,
              "idle.*'0': out of range"},
             {{"-i", "x", "127.0.0.1", "0", NULL}, 2,
              "idle.*'x': not a number"},
             {{"-i", "100001", "127.0.0.1", "0", NULL}, 2,
              "idle.*'100001': out of range"})},
    {.name = "epoll_timeout_loop", .listing = "11-4",
     .syscalls = "trace=epoll_wait", .flags = HH_PROG_SERVER,
     .args = HH_ARGS_IP_PORT, .opts = {"-t", "100ms"},
     HH_ROWS({{"-t", "5ms", "127.0.0.1", "0", NULL}, 2,
              "period '5ms': out of range"},
             {{"-t", "x", "127.0.0.1", "0", NULL}, 2,
              "period 'x': not a duration"},
             {{"-t", "2h", "127.0.0.1", "0", NULL}, 2,
              "period '2h': not a duration"})},
    {.name = "timer_bench", .listing = "bench", .args = HH_ARGS_HELP,
     HH_ROWS({{"extra", NULL}, 2, HH_USAGE}, {{"-n", "x", NULL}, 2, "N 'x'"},
             {{"-n", "5", NULL}, 2, "N '5'"},
             {{"-n", "100,,x", NULL}, 2, "N 'x'"},
             {{"-r", "0", NULL}, 2, "repetitions '0': out of range"},
             {{"-b", "tree", NULL}, 2, "'tree'"},
             {{"-c", "0", NULL}, 2, "cap '0': out of range"})},
};

static const struct hh_chapter chapter = {
    .name = "ch11-timer",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
