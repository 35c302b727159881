/*
 * ch10_test.c - chapter 10, signals: one scenario per lesson.
 *
 * The two unified-event-source servers (10-1 with a self-pipe, and the
 * same server over signalfd) run the same scenarios from one table: the
 * test sends them signals while clients are connected and checks that
 * each signal is reported by the loop, that the echo keeps working in
 * between, that SIGTERM and SIGINT end them cleanly and that children are
 * reaped; strace shows how the signal reached the loop (a handler's
 * one-byte write, or a signalfd read).  The echo is also driven hard: 1 MB,
 * messages back to back, a client that stops reading, and a neighbour
 * that must be served meanwhile.  That standard signals coalesce is shown
 * by the demo only: it is the kernel's doing.
 * 10-3 gets urgent data through SIGURG; sigpipe_demo shows SIGPIPE, SIG_IGN
 * and MSG_NOSIGNAL on a connection the peer has closed.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */

/* ---- 10-1 unified event source, over both servers ---------------------- */

struct server_kind {
    const char *prog;
    bool self_pipe; /* handlers + socketpair; else signalfd */
};

static const struct server_kind pipe_server = {"signal_pipe_server", true};
static const struct server_kind fd_server = {"signalfd_server", false};

/* What strace shows of each server when a scenario asserts on it. */
static const char PIPE_TRACE[] =
    "trace=socketpair,rt_sigaction,epoll_wait,epoll_pwait,write,read,"
    "rt_sigreturn";
static const char SIGNALFD_TRACE[] =
    "trace=rt_sigprocmask,signalfd,signalfd4,epoll_wait,epoll_pwait,read";

static struct hh_proc *
start_server(struct hh_ctx *c, const struct server_kind *k, bool reap,
             bool must_trace)
{
    const char *args[] = {reap ? "-r" : "127.0.0.1", reap ? "127.0.0.1" : "0",
                          reap ? "0" : NULL, NULL};
    struct hh_spawn opt = {
        .role = "server",
        .must_trace = must_trace,
        .trace = must_trace ? (k->self_pipe ? PIPE_TRACE : SIGNALFD_TRACE)
                            : NULL,
    };
    struct hh_proc *srv = hh_startv(c, &opt, k->prog, args);
    hh_wait_listening(srv);
    return srv;
}

/* A client, connected and accepted (the server said so). */
static int
client(struct hh_ctx *c, struct hh_proc *srv)
{
    int fd = hh_connect(c, &srv->addr, 3000);
    char ere[96];
    snprintf(ere, sizeof ere, "^accepted connection from 127\\.0\\.0\\.1:%u ",
             (unsigned)hh_local_port(fd));
    hh_expect_line(srv, ere, 3000);
    return fd;
}

/* Send MSG on FD and get the same bytes back. */
static void
echo(struct hh_ctx *c, int fd, const char *msg)
{
    size_t len = strlen(msg);
    char esc[600];
    hh_send(c, fd, msg, len, 2000);
    hh_echo_expect(c, fd, msg, len, 3000);
    hh_note(c, "harness < \"%s\" (%zu bytes, the echo)",
            hh_escape(msg, len, esc, sizeof esc), len);
}

/* The server is idle in epoll_wait: send it SIG.  A server of this
 * chapter sleeps ('S') only in epoll_wait, so SIG interrupts that call. */
static void
signal_idle(struct hh_ctx *c, struct hh_proc *srv, int sig)
{
    hh_wait_state(srv, "S", 3000);
    hh_note(c, "harness: kill -%s %d  (the server waits in epoll_wait)",
            sigabbrev_np(sig), (int)hh_pid(srv));
    hh_kill(srv, sig);
}

/* The loop's line for SIG. */
static void
expect_signal(struct hh_proc *srv, int sig)
{
    char ere[64];
    snprintf(ere, sizeof ere, "^signal %d \\(SIG%s\\)", sig, sigabbrev_np(sig));
    hh_expect_line(srv, ere, 3000);
}

/* SIG stops the server: the closing line counts OPEN connections, exit 0,
 * and each client in FDS sees the connection closed. */
static void
expect_clean_stop(struct hh_ctx *c, struct hh_proc *srv, int sig, int open,
                  const int *fds, int nfds)
{
    signal_idle(c, srv, sig);
    expect_signal(srv, sig);
    hh_expect_line(srv, "^closing ([0-9]+) connection", 3000);
    HH_CHECK(c, atoi(srv->groups[1]) == open,
             "the server closed %s connection(s) at exit, %d were open",
             srv->groups[1], open);
    hh_expect_exit(srv, 0, 3000);
    for (int i = 0; i < nfds; i++)
        hh_expect_eof(c, fds[i], 3000);
}

/* SIGHUP and SIGCHLD while two clients are connected, the echo in
 * between, one client leaving, then SIGTERM. */
static void
serve_signals(struct hh_ctx *c, const struct server_kind *k)
{
    struct hh_proc *srv = start_server(c, k, false, false);
    int a = client(c, srv), b = client(c, srv);
    echo(c, a, "hello from a\n");
    echo(c, b, "hello from b\n");

    signal_idle(c, srv, SIGHUP);
    expect_signal(srv, SIGHUP);
    echo(c, a, "after SIGHUP\n");
    echo(c, b, "after SIGHUP too\n");

    signal_idle(c, srv, SIGCHLD);
    expect_signal(srv, SIGCHLD);
    hh_expect_line(srv, "^  no exited child to reap$", 3000);
    echo(c, a, "after SIGCHLD\n");

    hh_note(c, "harness: client b closes its connection");
    in_port_t bport = hh_local_port(b);
    hh_close(c, b);
    char ere[96];
    snprintf(ere, sizeof ere, "^127\\.0\\.0\\.1:%u closed its connection",
             (unsigned)bport);
    hh_expect_line(srv, ere, 3000);
    echo(c, a, "still here\n");

    expect_clean_stop(c, srv, SIGTERM, 1, &a, 1);
}

/* SIGINT ends it the same way. */
static void
stop_on_sigint(struct hh_ctx *c, const struct server_kind *k)
{
    struct hh_proc *srv = start_server(c, k, false, false);
    int a = client(c, srv);
    echo(c, a, "ping\n");
    expect_clean_stop(c, srv, SIGINT, 1, &a, 1);
}

/* -r: SIGHUP forks a child, its SIGCHLD comes from the kernel, and the
 * loop reaps it: no zombie is left. */
static void
reap_child(struct hh_ctx *c, const struct server_kind *k)
{
    struct hh_proc *srv = start_server(c, k, true, false);
    int a = client(c, srv);
    signal_idle(c, srv, SIGHUP);
    expect_signal(srv, SIGHUP);
    hh_expect_line(srv, "^  started child ([0-9]+);", 3000);
    pid_t child = (pid_t)atoi(srv->groups[1]);
    expect_signal(srv, SIGCHLD);
    hh_expect_line(srv, "^  reaped child ([0-9]+): exit ([0-9]+)$", 3000);
    HH_CHECK(c, atoi(srv->groups[1]) == child && atoi(srv->groups[2]) == 0,
             "reaped %s (exit %s), the child was %d (exit 0)",
             srv->groups[1], srv->groups[2], (int)child);
    errno = 0;
    bool gone = kill(child, 0) < 0 && errno == ESRCH;
    hh_note(c, "kill(%d, 0): %s", (int)child,
            gone ? "ESRCH, the child is gone: no zombie" : "it still exists");
    HH_CHECK(c, gone, "child %d still exists after it was reported reaped",
             (int)child);
    echo(c, a, "after the child\n");
    expect_clean_stop(c, srv, SIGTERM, 1, &a, 1);
}

/* Three SIGHUPs while the server is stopped are one pending signal. */
static void
coalesce(struct hh_ctx *c, const struct server_kind *k)
{
    struct hh_proc *srv = start_server(c, k, false, false);
    int a = client(c, srv);
    hh_wait_state(srv, "S", 3000);
    hh_note(c, "harness: kill -STOP: the server cannot run");
    hh_kill(srv, SIGSTOP);
    hh_wait_state(srv, "Tt", 3000);
    hh_note(c, "harness: kill -HUP three times, then kill -CONT");
    for (int i = 0; i < 3; i++)
        hh_kill(srv, SIGHUP);
    hh_kill(srv, SIGCONT);
    expect_signal(srv, SIGHUP);
    /* the echo comes after every signal byte the loop will ever see for
     * those three: they were all delivered before the loop ran again */
    echo(c, a, "after three SIGHUPs\n");
    int n = hh_count_lines(srv, "^signal 1 \\(SIGHUP\\)");
    hh_note(c, "the server reported SIGHUP %d time(s) for 3 kills", n);
    HH_CHECK(c, n == 1, "expected one SIGHUP line for 3 coalesced signals, "
                        "got %d", n);
    expect_clean_stop(c, srv, SIGTERM, 1, &a, 1);
}

/*
 * A SIGTERM whose byte the full signal pipe refuses still stops the
 * server.  The pipe fills when the loop cannot drain it while signals
 * keep coming; standard signals sent to a stopped process coalesce, so
 * the harness cannot queue hundreds of them: it takes a copy of the
 * handlers' end of the pipe (pidfd_getfd, as its parent may) and, while
 * the server is stopped, fills it with SIGHUP bytes, as many 1-byte
 * writes as the socketpair takes, exactly what as many unread SIGHUPs
 * would have left.  Then SIGTERM and SIGCONT: the handler's write fails
 * with EAGAIN.  The server must serve the SIGHUPs, then stop anyway.
 */
static void
regress_10_1_stop_byte_dropped(struct hh_ctx *c)
{
    struct hh_proc *srv = start_server(c, &pipe_server, false, false);
    hh_expect_line(srv, "^signal pipe: handlers write to fd ([0-9]+),", 3000);
    int wr = atoi(srv->groups[1]);
    int a = client(c, srv);
    int bytes = hh_fill_fd_of(srv, wr, SIGHUP);
    hh_note(c, "harness: %d SIGHUP bytes in the handlers' pipe: it is full; "
               "kill -TERM, then kill -CONT", bytes);
    hh_kill(srv, SIGTERM);
    hh_kill(srv, SIGCONT);
    hh_expect_line(srv, "^closing ([0-9]+) connection", 5000);
    int hups = hh_count_lines(srv, "^signal 1 \\(SIGHUP\\)");
    int dropped = hh_count_lines(srv, "^signal 15 \\(SIGTERM\\): stopping "
                                   "\\(its byte was dropped");
    hh_note(c, "the loop served %d SIGHUP(s), then stopped on the flag: %s",
            hups, dropped ? "the SIGTERM byte was dropped" : "?");
    HH_CHECK(c, hups == bytes, "%d SIGHUP line(s) for %d bytes", hups, bytes);
    HH_CHECK(c, dropped == 1, "the stop was not reported as dropped from "
                              "the full pipe");
    hh_expect_exit(srv, 0, 3000);
    hh_expect_eof(c, a, 3000);
}

/*
 * A failed epoll_ctl ADD of a new connection is reported as epoll_ctl,
 * not as the accept4 that succeeded before it.  strace makes the third
 * epoll_ctl fail (after the listener's and the signal source's): the
 * kernel's ENOSPC when max_user_watches is reached.
 */
static void
regress_10_1_epoll_ctl_named(struct hh_ctx *c, const struct server_kind *k)
{
    const char *args[] = {"127.0.0.1", "0", NULL};
    struct hh_spawn opt = {
        .role = "server",
        .must_trace = true,
        .trace = "inject=epoll_ctl:error=ENOSPC:when=3",
    };
    struct hh_proc *srv = hh_startv(c, &opt, k->prog, args);
    hh_wait_listening(srv);
    hh_note(c, "harness: strace makes the next epoll_ctl (the connection's "
               "ADD) fail with ENOSPC");
    int fd = hh_connect(c, &srv->addr, 3000);
    char ere[128];
    snprintf(ere, sizeof ere, "^%s: epoll_ctl ADD connection fd [0-9]+: .* "
                              "\\(ENOSPC\\)$", k->prog);
    hh_expect_err(srv, ere, 3000);
    hh_expect_exit(srv, 1, 3000);
    hh_expect_eof(c, fd, 3000);
}

/* Strip strace -f's pid column. */
static const char *
trace_body(const char *line)
{
    while (*line >= '0' && *line <= '9')
        line++;
    while (*line == ' ')
        line++;
    return line;
}

/*
 * The self-pipe in strace: every "--- SIGxxx ---" is followed by exactly
 * one write of one byte, that signal's number, to the write end W, then
 * rt_sigreturn.  Returns how many signals were seen that way; fails on a
 * signal followed by anything else.
 */
static int
check_handler_writes(struct hh_ctx *c, struct hh_proc *srv, int w)
{
    FILE *f = fopen(srv->trace_path, "r");
    HH_CHECK(c, f != NULL, "cannot read the trace %s", srv->trace_path);
    char line[4096], want[96], sig[32];
    int seen = 0, pending = 0, after = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        const char *s = trace_body(line);
        if (sscanf(s, "--- SIG%31[A-Z] ", sig) == 1) {
            for (int n = 1; n < 32; n++)
                if (sigabbrev_np(n) && strcmp(sigabbrev_np(n), sig) == 0)
                    pending = n;
            after = 0;
            continue;
        }
        if (!pending)
            continue;
        if (after == 0) {
            /* strace prints the byte as an octal escape: "\1", "\21" */
            snprintf(want, sizeof want,
                     "^write\\(%d, \"\\\\%o\", 1\\) += 1$", w, pending);
            if (!hh_match(c, want, s, NULL)) {
                fclose(f);
                hh_fail(c, "after SIG%s the handler did not write one byte "
                           "to fd %d: %s", sigabbrev_np(pending), w, s);
            }
            after = 1;
        } else {
            if (!hh_match(c, "^rt_sigreturn\\(", s, NULL)) {
                fclose(f);
                hh_fail(c, "after its one write the handler for SIG%s did "
                           "more: %s", sigabbrev_np(pending), s);
            }
            seen++;
            pending = 0;
        }
    }
    fclose(f);
    return seen;
}

/* strace: how the signals reached the loop. */
static void
syscalls(struct hh_ctx *c, const struct server_kind *k)
{
    struct hh_proc *srv = start_server(c, k, false, true);
    int w = -1, r = -1;
    if (k->self_pipe) {
        hh_expect_line(srv, "^signal pipe: handlers write to fd ([0-9]+), "
                            "the loop reads fd ([0-9]+)$", 3000);
        w = atoi(srv->groups[1]);
        r = atoi(srv->groups[2]);
    } else {
        hh_expect_line(srv, "^signalfd: fd ([0-9]+),", 3000);
        r = atoi(srv->groups[1]);
    }
    int a = client(c, srv);
    echo(c, a, "traced\n");
    const int sigs[] = {SIGHUP, SIGCHLD, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        signal_idle(c, srv, sigs[i]);
        expect_signal(srv, sigs[i]);
        echo(c, a, "between signals\n");
    }
    expect_clean_stop(c, srv, SIGTERM, 1, &a, 1);
    const int nsig = (int)(sizeof sigs / sizeof sigs[0]) + 1;

    int eintr = hh_trace_count(srv, "epoll_p?wait\\(.*\\) += -1 EINTR");
    char ere[96];
    if (k->self_pipe) {
        int handled = check_handler_writes(c, srv, w);
        snprintf(ere, sizeof ere, "read\\(%d, \"\\\\[0-7]+\", [0-9]+\\) += 1$",
                 r);
        int reads = hh_trace_count(srv, ere);
        hh_note(c, "strace: %d signals each ran the handler for one 1-byte "
                   "write to fd %d; epoll_wait failed with EINTR %d time(s); "
                   "the loop read %d signal byte(s) from fd %d",
                handled, w, eintr, reads, r);
        HH_CHECK(c, handled == nsig, "expected %d handler runs, each one "
                 "write, got %d", nsig, handled);
        HH_CHECK(c, eintr >= 1, "epoll_wait never returned EINTR");
        HH_CHECK(c, reads == nsig, "expected %d reads of one signal byte, "
                 "got %d", nsig, reads);
    } else {
        int blocked = hh_trace_count(srv, "rt_sigprocmask\\(SIG_BLOCK, "
                                          "\\[HUP INT TERM CHLD\\]");
        int created = hh_trace_count(srv, "signalfd4?\\(-1, \\[HUP INT TERM "
                                          "CHLD\\], .*\\) += [0-9]+$");
        snprintf(ere, sizeof ere, "read\\(%d, .*\\) += 128$", r);
        int reads = hh_trace_count(srv, ere);
        int delivered = hh_trace_count(srv, "^([0-9]+ +)?--- SIG(HUP|CHLD|"
                                            "TERM|INT) ");
        hh_note(c, "strace: signals blocked %d time(s), signalfd created %d; "
                   "%d reads of one 128-byte signalfd_siginfo; %d signal(s) "
                   "delivered to a handler; epoll_wait EINTR %d time(s)",
                blocked, created, reads, delivered, eintr);
        HH_CHECK(c, blocked == 1 && created == 1,
                 "expected one sigprocmask(SIG_BLOCK) and one signalfd for "
                 "HUP INT TERM CHLD, got %d and %d", blocked, created);
        HH_CHECK(c, reads == nsig, "expected %d signalfd reads of 128 bytes, "
                 "got %d", nsig, reads);
        HH_CHECK(c, delivered == 0 && eintr == 0,
                 "a blocked signal was delivered (%d) or interrupted "
                 "epoll_wait (%d)", delivered, eintr);
    }
}

/* ---- 10-1 the echo under load, over both servers ---------------------- */

/* Sizes: 1 MB per connection exercises the read-until-EAGAIN loop over
 * hundreds of 4 KB reads; the stalled reader sends until every buffer on
 * the way is full (about 7 MB here), far above what one read holds. */
enum { BULK_LEN = 1 << 20, STALL_LEN = 32 << 20, STALL_MS = 300 };
enum { MESSAGES = 64 }; /* back to back, about 64 KB in all */

static size_t
message_len(int i)
{
    return 1 + (size_t)(i * 613) % 2000;
}

/* MESSAGES messages sent back to back, one send() each, nothing read
 * until the last one is out; then every byte back, in order. */
static void
back_to_back(struct hh_ctx *c, int fd)
{
    size_t total = 0;
    for (int i = 0; i < MESSAGES; i++)
        total += message_len(i);
    const char *data = hh_pattern(c, total);
    size_t at = 0;
    for (int i = 0; i < MESSAGES; i++) {
        /* one send() per message, not hh_send: no transcript line each */
        ssize_t n = send(fd, data + at, message_len(i), MSG_NOSIGNAL);
        HH_CHECK(c, n == (ssize_t)message_len(i), "send of message %d: %s",
                 i, n < 0 ? strerror(errno) : "short");
        at += message_len(i);
    }
    hh_note(c, "harness > %d messages of 1 to 2000 bytes back to back (%zu "
               "bytes), nothing read yet", MESSAGES, total);
    hh_echo_expect(c, fd, data, total, 5000);
    hh_note(c, "harness < the %zu bytes, in order, byte for byte", total);
}

/* One client: 1 MB echoed while the harness reads, messages back to back,
 * then a second client that stops reading until everything is full. */
static void
bulk(struct hh_ctx *c, const struct server_kind *k)
{
    struct hh_proc *srv = start_server(c, k, false, false);
    int a = client(c, srv);
    hh_echo_exchange(c, a, hh_pattern(c, BULK_LEN), BULK_LEN, 20000);
    back_to_back(c, a);
    int b = client(c, srv);
    hh_echo_stalled(c, b, STALL_LEN, STALL_MS, 15000);
    echo(c, a, "a is still served\n");
    const int fds[] = {a, b};
    expect_clean_stop(c, srv, SIGTERM, 2, fds, 2);
}

/* Send the pattern on FD, reading nothing, until nothing more moves for
 * STALL_MS: the harness's receive buffer, the server's send buffer and
 * receive buffer and ours are full, and the server holds an echo it
 * cannot send.  Returns how many bytes went out. */
static size_t
send_unread(struct hh_ctx *c, int fd, size_t len, int timeout_ms)
{
    const char *data = hh_pattern(c, len);
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t sent = 0;
    while (hh_wait_fd(c, fd, POLLOUT, STALL_MS) & POLLOUT) {
        HH_CHECK(c, hh_now_ms() < deadline,
                 "still sending after %zu bytes and %d ms", sent,
                 hh_ms(c, timeout_ms));
        ssize_t n = send(fd, data + sent, len - sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        HH_CHECK(c, n >= 0 || errno == EAGAIN, "send after %zu bytes: %s",
                 sent, strerror(errno));
        sent += n > 0 ? (size_t)n : 0;
        HH_CHECK(c, sent < len, "all %zu bytes were taken with nothing "
                 "read: nothing stalled (send more)", len);
    }
    return sent;
}

/* Two clients at once: while b has stopped reading and the server holds
 * its echo, a is echoed and a signal is served; then b gets all of its
 * bytes back.  One loop serves everybody only if nothing in it waits for
 * one client. */
static void
stalled_neighbour(struct hh_ctx *c, const struct server_kind *k)
{
    struct hh_proc *srv = start_server(c, k, false, false);
    int a = client(c, srv), b = client(c, srv);
    size_t sent = send_unread(c, b, STALL_LEN, 10000);
    hh_note(c, "harness: client b sent %zu bytes and reads nothing; "
               "nothing more moved for %d ms", sent, STALL_MS);
    hh_echo_exchange(c, a, hh_pattern(c, BULK_LEN), BULK_LEN, 20000);
    signal_idle(c, srv, SIGHUP);
    expect_signal(srv, SIGHUP);
    echo(c, a, "after SIGHUP\n");
    hh_note(c, "harness: client b reads its echo now");
    hh_echo_expect(c, b, hh_pattern(c, sent), sent, 10000);
    hh_note(c, "harness < all %zu bytes back on b, byte for byte", sent);
    const int fds[] = {a, b};
    expect_clean_stop(c, srv, SIGTERM, 2, fds, 2);
}

#define FOR_BOTH(fn)                                                           \
    static void fn##_pipe(struct hh_ctx *c)                                    \
    {                                                                          \
        fn(c, &pipe_server);                                                   \
    }                                                                          \
    static void fn##_signalfd(struct hh_ctx *c)                                \
    {                                                                          \
        fn(c, &fd_server);                                                     \
    }

FOR_BOTH(serve_signals)
FOR_BOTH(stop_on_sigint)
FOR_BOTH(reap_child)
FOR_BOTH(coalesce)
FOR_BOTH(syscalls)
FOR_BOTH(bulk)
FOR_BOTH(stalled_neighbour)
FOR_BOTH(regress_10_1_epoll_ctl_named)

/* ---- 10-3 SIGURG ------------------------------------------------------- */

/* The client of 10-3: waits for the ready line, then "123", "abc" with
 * MSG_OOB, "123", 10 ms apart, and closes. */
static void
send_urgent(struct hh_ctx *c, struct hh_proc *srv)
{
    int fd = hh_connect(c, &srv->addr, 3000);
    hh_expect_line(srv, "^ready: ", 3000);
    hh_send(c, fd, "123", 3, 2000);
    hh_observe(c, 10); /* spacing: one segment each */
    ssize_t n = send(fd, "abc", 3, MSG_OOB | MSG_NOSIGNAL);
    HH_CHECK(c, n == 3, "send MSG_OOB: %s",
             n < 0 ? strerror(errno) : "short send");
    hh_note(c, "harness > \"abc\" with MSG_OOB (3 bytes)");
    hh_observe(c, 10);
    hh_send(c, fd, "123", 3, 2000);
    hh_note(c, "harness: close");
    hh_close(c, fd);
}

/* After the server exited: its normal data joined, and its urgent lines. */
static void
check_urgent_output(struct hh_ctx *c, struct hh_proc *srv)
{
    char normal[256] = "";
    int urgent = 0, urgent_c = 0;
    regex_t re;
    regmatch_t m[3];
    HH_CHECK(c, regcomp(&re, "^normal data: \"(.*)\" \\(([0-9]+) bytes?\\)$",
                        REG_EXTENDED) == 0, "regcomp");
    size_t pos = 0;
    while (pos < srv->out.len) {
        const char *start = srv->out.data + pos;
        const char *nl = memchr(start, '\n', srv->out.len - pos);
        size_t len = nl ? (size_t)(nl - start) : srv->out.len - pos;
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)len, start);
        pos += len + 1;
        if (regexec(&re, line, 3, m, 0) == 0) {
            int bytes = (int)(m[1].rm_eo - m[1].rm_so);
            if (atoi(line + m[2].rm_so) != bytes) {
                regfree(&re);
                hh_fail(c, "count does not match the data: %s", line);
            }
            strncat(normal, line + m[1].rm_so,
                    (size_t)bytes < sizeof normal - strlen(normal) - 1
                        ? (size_t)bytes
                        : sizeof normal - strlen(normal) - 1);
        } else if (strncmp(line, "urgent data:", 12) == 0) {
            urgent++;
            urgent_c += strcmp(line, "urgent data: \"c\" (1 byte)") == 0;
        }
    }
    regfree(&re);
    hh_note(c, "normal data joined: \"%s\"; urgent lines: %d", normal,
            urgent);
    HH_CHECK(c, urgent == 1 && urgent_c == 1,
             "expected one urgent line, \"c\" (1 byte); got %d line(s), %d "
             "of them right", urgent, urgent_c);
    HH_CHECK(c, strcmp(normal, "123ab123") == 0,
             "the normal data joins up to \"%s\", expected \"123ab123\"",
             normal);
}

static void
sigurg_exchange(struct hh_ctx *c, bool wire, bool trace)
{
    const char *args[] = {"127.0.0.1", "0", NULL};
    struct hh_spawn opt = {.role = "server", .must_trace = trace};
    struct hh_proc *srv = hh_startv(c, &opt, "sigurg_recv", args);
    hh_wait_listening(srv);
    struct hh_proc *cap = NULL;
    if (wire || c->show_capture)
        cap = hh_capture_start(c, ntohs(srv->addr.sin_port));
    send_urgent(c, srv);
    hh_expect_line(srv, "^normal data: EOF$", 3000);
    hh_expect_exit(srv, 0, 3000);
    check_urgent_output(c, srv);
    if (cap) {
        hh_capture_expect(cap, "Flags \\[F", 3000);
        hh_capture_stop(cap);
    }
    if (wire) {
        int urgent = hh_capture_count(cap, "Flags \\[[^]]*U[^]]*\\].*urg 3.* "
                                           "length 3$");
        int any_urg = hh_capture_count(cap, "Flags \\[[^]]*U");
        int data = hh_capture_count(cap, " length 3$");
        HH_CHECK(c, urgent == 1 && any_urg == 1,
                 "expected exactly one segment with URG and urg 3 (got %d "
                 "with URG, %d of them 'urg 3 ... length 3')", any_urg,
                 urgent);
        HH_CHECK(c, data == 3, "expected three 3-byte data segments, got %d",
                 data);
    }
    if (trace) {
        int owner = hh_trace_count(srv, "fcntl\\([0-9]+, F_SETOWN, [1-9][0-9]*"
                                        "\\) += 0$");
        int sigurg = hh_trace_count(srv, "--- SIGURG ");
        int oob = hh_trace_count(srv, "recvfrom\\([0-9]+, \"c\", [0-9]+, "
                                      "MSG_OOB, NULL, NULL\\) += 1$");
        hh_note(c, "strace: F_SETOWN %d, SIGURG delivered %d, recv(MSG_OOB) "
                   "of \"c\" %d", owner, sigurg, oob);
        HH_CHECK(c, owner == 1 && sigurg == 1 && oob == 1,
                 "expected one F_SETOWN to our pid, one SIGURG and one "
                 "recv(MSG_OOB) of \"c\"; got %d, %d, %d", owner, sigurg,
                 oob);
    }
}

static void
sigurg_oob(struct hh_ctx *c)
{
    sigurg_exchange(c, false, false);
}

static void
sigurg_on_the_wire(struct hh_ctx *c)
{
    sigurg_exchange(c, true, false);
}

static void
sigurg_syscalls(struct hh_ctx *c)
{
    sigurg_exchange(c, false, true);
}

/* ---- 10.3.3 SIGPIPE ---------------------------------------------------- */

/* sigpipe_demo MODE against a harness peer that closes at once (or, with
 * HALF, only shuts down its writing side).  Returns the client. */
static struct hh_proc *
sigpipe_run(struct hh_ctx *c, const char *mode, bool half, bool trace,
            int *peer)
{
    struct sockaddr_in sa;
    int lfd = hh_listen(c, 0, &sa, 1);
    char port[8];
    snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
    hh_note(c, "harness: a peer on 127.0.0.1:%s that closes without "
               "reading", port);
    const char *args[6];
    int n = 0;
    if (mode)
        args[n++] = mode;
    if (half) {
        args[n++] = "-t";
        args[n++] = "200ms";
    }
    args[n++] = "127.0.0.1";
    args[n++] = port;
    args[n] = NULL;
    struct hh_spawn opt = {
        .role = "client",
        .must_trace = trace,
        .trace = trace ? "trace=connect,read,write,sendto,poll" : NULL,
    };
    struct hh_proc *cli = hh_startv(c, &opt, "sigpipe_demo", args);
    int fd = hh_accept(c, lfd, 3000);
    hh_expect_line(cli, "^connected to ", 3000);
    if (half) {
        hh_note(c, "harness: shutdown(SHUT_WR): FIN, but it still reads");
        HH_CHECK(c, shutdown(fd, SHUT_WR) == 0, "shutdown: %s",
                 strerror(errno));
        *peer = fd;
    } else {
        hh_note(c, "harness: close (FIN)");
        hh_close(c, fd);
    }
    hh_expect_line(cli, "^read: EOF", 3000);
    hh_expect_line(cli, "^write 1: 6 of 6 bytes accepted$", 3000);
    if (!half)
        hh_expect_line(cli, "^poll:.*POLLHUP.*RST", 3000);
    return cli;
}

static void
sigpipe_default(struct hh_ctx *c)
{
    struct hh_proc *cli = sigpipe_run(c, NULL, false, false, NULL);
    int st = hh_wait_exit(cli, 3000);
    HH_CHECK(c, WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE,
             "expected death by SIGPIPE (13), got %s %d",
             WIFSIGNALED(st) ? "signal" : "exit",
             WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    HH_CHECK(c, !hh_output_has(cli, "^write 2 failed"),
             "write 2 returned to the program: SIGPIPE did not kill it");
}

static void
sigpipe_epipe(struct hh_ctx *c, const char *mode)
{
    struct hh_proc *cli = sigpipe_run(c, mode, false, false, NULL);
    hh_expect_line(cli, "^write 2 failed: Broken pipe \\(EPIPE\\)", 3000);
    hh_expect_exit(cli, 0, 3000);
}

static void
sigpipe_ignored(struct hh_ctx *c)
{
    sigpipe_epipe(c, "-i");
}

static void
sigpipe_nosignal(struct hh_ctx *c)
{
    sigpipe_epipe(c, "-m");
}

static void
sigpipe_half_close(struct hh_ctx *c)
{
    int peer = -1;
    struct hh_proc *cli = sigpipe_run(c, NULL, true, false, &peer);
    hh_expect_line(cli, "^poll: no RST within 200 ms", 3000);
    hh_expect_line(cli, "^write 2: 6 of 6 bytes accepted$", 3000);
    hh_expect_exit(cli, 0, 3000);
    char got[16];
    size_t n = hh_recv_all(c, peer, got, sizeof got, 3000);
    HH_CHECK(c, n == 12 && memcmp(got, "hello\nhello\n", 12) == 0,
             "the half-closed peer read %zu bytes, expected both writes "
             "(12 bytes)", n);
}

static void
sigpipe_syscalls(struct hh_ctx *c)
{
    struct hh_proc *cli = sigpipe_run(c, NULL, false, true, NULL);
    int st = hh_wait_exit(cli, 5000);
    HH_CHECK(c, WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE,
             "expected death by SIGPIPE under strace");
    int epipe = hh_trace_count(cli, "write\\([0-9]+, \"hello\\\\n\", 6\\) += "
                                    "-1 EPIPE");
    int sig = hh_trace_count(cli, "--- SIGPIPE \\{si_signo=SIGPIPE, "
                                  "si_code=SI_USER");
    int killed = hh_trace_count(cli, "\\+\\+\\+ killed by SIGPIPE");
    hh_note(c, "strace, default: write = -1 EPIPE %d, SIGPIPE %d, killed "
               "%d", epipe, sig, killed);
    HH_CHECK(c, epipe == 1 && sig == 1 && killed == 1,
             "expected write() = -1 EPIPE, then SIGPIPE, then death; got "
             "%d, %d, %d", epipe, sig, killed);

    cli = sigpipe_run(c, "-m", false, true, NULL);
    hh_expect_exit(cli, 0, 5000);
    epipe = hh_trace_count(cli, "sendto\\([0-9]+, \"hello\\\\n\", 6, "
                                "MSG_NOSIGNAL, NULL, 0\\) += -1 EPIPE");
    sig = hh_trace_count(cli, "--- SIGPIPE ");
    hh_note(c, "strace, -m: send(MSG_NOSIGNAL) = -1 EPIPE %d, SIGPIPE %d",
            epipe, sig);
    HH_CHECK(c, epipe == 1 && sig == 0,
             "expected send(MSG_NOSIGNAL) = -1 EPIPE and no SIGPIPE; got "
             "%d, %d", epipe, sig);
}

/* ---- the table --------------------------------------------------------- */

#define SERVER_SCENARIOS(suffix, how, syscalls_look_at)                        \
    {"signals_" #suffix, "10-1",                                               \
     "unified event source (" how "): SIGHUP, SIGCHLD, SIGTERM in one "        \
     "loop with the echo",                                                     \
     "each signal is a line from the same loop that echoes the clients; "      \
     "SIGCHLD reaps (nothing yet); SIGTERM closes the one connection left, "   \
     "the listener and the signal source, and the server exits 0.",            \
     0, serve_signals_##suffix},                                               \
    {"sigint_" #suffix, "10-1",                                                \
     "unified event source (" how "): SIGINT ends it cleanly too",             \
     "the client sees EOF: the server closed its connection before exiting "   \
     "0.",                                                                     \
     0, stop_on_sigint_##suffix},                                              \
    {"reap_" #suffix, "10-1",                                                  \
     "unified event source (" how "): SIGCHLD reaps the child (-r)",           \
     "SIGHUP forks a child that exits at once; the kernel's SIGCHLD reaches "  \
     "the loop, waitpid(WNOHANG) collects it: no zombie.",                     \
     0, reap_child_##suffix},                                                  \
    {"coalesce_" #suffix, "10-1",                                              \
     "unified event source (" how "): standard signals do not queue",          \
     "three SIGHUPs sent while the server was stopped arrive as one: count "   \
     "kinds of signals, never signals.",                                       \
     HH_DEMO_ONLY, coalesce_##suffix},                                         \
    {"syscalls_" #suffix, "10-1",                                              \
     "unified event source (" how "): the system calls", syscalls_look_at,     \
     HH_NEED_STRACE, syscalls_##suffix},                                       \
    {"bulk_" #suffix, "10-1",                                                  \
     "unified event source (" how "): 1 MB, messages back to back, a "        \
     "reader that stops",                                                      \
     "every byte comes back in order: the loop reads until EAGAIN, keeps "     \
     "what send() refused for the next EPOLLOUT, and stops reading a client "  \
     "whose echo is pending.",                                                 \
     0, bulk_##suffix},                                                        \
    {"stalled_neighbour_" #suffix, "10-1",                                     \
     "unified event source (" how "): a client that stops reading holds up "  \
     "nobody",                                                                 \
     "while b's echo waits for b to read, a is echoed and SIGHUP is served; "  \
     "then b gets every byte back.",                                           \
     0, stalled_neighbour_##suffix},                                           \
    {"regress_10_1_epoll_ctl_named_" #suffix, "10-1",                          \
     "unified event source (" how "): a failed epoll_ctl is named as such",   \
     "epoll_ctl ADD of the new connection fails (ENOSPC, by strace): the "     \
     "message names epoll_ctl, not accept4, and the server exits 1.",          \
     HH_NEED_STRACE | HH_REGRESSION, regress_10_1_epoll_ctl_named_##suffix}

static const struct hh_scenario scenarios[] = {
    SERVER_SCENARIOS(pipe, "self-pipe",
                     "each signal: epoll_wait fails with EINTR (it is never "
                     "restarted, SA_RESTART or not), the handler makes one "
                     "1-byte write, the loop reads that byte."),
    {"regress_10_1_stop_byte_dropped", "10-1",
     "a SIGTERM whose byte the full signal pipe refuses still stops it",
     "the pipe was full of SIGHUP bytes when SIGTERM came: the handler's "
     "write failed with EAGAIN, but its flag ended the loop after the "
     "SIGHUPs.",
     HH_REGRESSION, regress_10_1_stop_byte_dropped},
    SERVER_SCENARIOS(signalfd, "signalfd",
                     "the signals are blocked, so no handler runs and "
                     "epoll_wait is never interrupted: each signal is one "
                     "128-byte read from the signalfd."),
    {"sigurg_oob", "10-3",
     "SIGURG: the kernel signals the socket's owner when urgent data comes",
     "the handler read \"c\" with MSG_OOB and wrote its line with write(2); "
     "the normal reads give \"123\", \"ab\" (stopped at the urgent mark), "
     "\"123\".",
     0, sigurg_oob},
    {"sigurg_on_the_wire", "10-3",
     "SIGURG on the wire: one segment carries URG, urg 3",
     "only the \"abc\" segment has the URG flag, and its pointer marks the "
     "'c' as the one urgent byte.",
     HH_NEED_TCPDUMP, sigurg_on_the_wire},
    {"sigurg_syscalls", "10-3",
     "SIGURG in the system calls: F_SETOWN, the signal, recv(MSG_OOB)",
     "fcntl(F_SETOWN, our pid) makes us the owner; the SIGURG handler's "
     "recv(MSG_OOB) returns the 1 byte \"c\".",
     HH_NEED_STRACE, sigurg_syscalls},
    {"sigpipe_default", "10.3.3",
     "SIGPIPE: writing to a connection the peer has reset kills the writer",
     "the first write after the peer's close went out and brought back a "
     "RST; the second one raised SIGPIPE, and the program died at once "
     "(status 141 in a shell).",
     0, sigpipe_default},
    {"sigpipe_ignored", "10.3.3",
     "SIGPIPE ignored (-i): the same write fails with EPIPE instead",
     "with SIG_IGN the process lives and write() returns -1, EPIPE.", 0,
     sigpipe_ignored},
    {"sigpipe_nosignal", "10.3.3",
     "MSG_NOSIGNAL (-m): no signal for this one send, EPIPE instead",
     "send(MSG_NOSIGNAL) suppresses SIGPIPE per call, whatever the "
     "disposition; the error is EPIPE.",
     0, sigpipe_nosignal},
    {"sigpipe_half_close", "10.3.3",
     "a half-closed peer (shutdown SHUT_WR) still reads: no RST, no SIGPIPE",
     "EOF says only that the peer will not write; both writes arrived.", 0,
     sigpipe_half_close},
    {"sigpipe_syscalls", "10.3.3",
     "SIGPIPE in the system calls: EPIPE and the signal, or EPIPE alone",
     "by default strace shows write() = -1 EPIPE, --- SIGPIPE ---, +++ "
     "killed by SIGPIPE +++; with MSG_NOSIGNAL only the error.",
     HH_NEED_STRACE, sigpipe_syscalls},
};

/*
 * The programs: what TRACE=1 shows of each (the calls its listing
 * teaches), and its bad command lines (a bad_input_<name> scenario each).
 */
static const struct hh_program programs[] = {
    {.name = "signal_pipe_server", .listing = "10-1", .syscalls = PIPE_TRACE,
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-r", "127.0.0.1", "x", NULL}, 2, "port 'x'"},
             {{"-r", "::1", "0", NULL}, 2, "IP '::1'"})},
    {.name = "signalfd_server", .listing = "10-1",
     .syscalls = SIGNALFD_TRACE, .flags = HH_PROG_SERVER,
     .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-r", "127.0.0.1", "x", NULL}, 2, "port 'x'"},
             {{"-r", "::1", "0", NULL}, 2, "IP '::1'"})},
    {.name = "sigurg_recv", .listing = "10-3",
     .syscalls = "trace=fcntl,recvfrom",
     .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM,
     .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-r", "127.0.0.1", "0", NULL}, 2, HH_USAGE})},
    {.name = "sigpipe_demo", .listing = "10.3.3",
     .syscalls = "trace=connect,read,write,sendto,poll",
     .flags = HH_PROG_DIES_OF_TERM, .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-m", "127.0.0.1", "x", NULL}, 2, "port 'x'"},
             {{"127.0.0.1", HH_PORT_CLOSED, NULL}, 1, "\\(ECONNREFUSED\\)"},
             {{"-i", "-m", "127.0.0.1", "1", NULL}, 2, "exclude each other"},
             {{"-m", "-i", "127.0.0.1", "1", NULL}, 2, "exclude each other"},
             {{"-t", "x", "127.0.0.1", "1", NULL}, 2,
              "RST wait 'x': not a duration"},
             {{"-t", "-1", "127.0.0.1", "1", NULL}, 2,
              "RST wait '-1': not a duration"},
             {{"-t", NULL}, 2, HH_USAGE})},
};

static const struct hh_chapter chapter = {
    .name = "ch10-signal",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
