/*
 * ch09_test.c - chapter 9, I/O multiplexing: the listings 9-1 ... 9-8.
 *
 * One scenario per lesson, and one regression scenario per bug of the
 * printed listings that the port fixes (regress_9_N_...).  Each runs the
 * chapter's programs against loopback peers and asserts on what they did:
 * bytes received, compared exactly; the lines they printed; their exit
 * status; the system calls strace saw; CPU time from /proc.  The same
 * table is the chapter's demo (`make demo CH=ch09`).
 *
 * The multiplexer comparison of this chapter (echo_server, loadgen) has
 * its own test binary, tests/ch09_echo_test.c.
 *
 * The test binary doubles as a small launcher, for the cases that need a
 * program started in a prepared process (see "the launcher" at the end):
 *   ch09_test --exec-fds NOFILE LOWEST PROG ARGS...   descriptors 3 ..
 *       LOWEST-1 taken and RLIMIT_NOFILE set to NOFILE, so the program's
 *       next descriptor is LOWEST (FD_SETSIZE checks, EMFILE from accept);
 *   ch09_test --exec-netns LOW HIGH UDPPORT PROG ARGS...   in a new network
 *       namespace whose ephemeral port range is LOW..HIGH, with UDP port
 *       UDPPORT taken (the port-0 retry of 9-8).  Needs root.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOCAL "127.0.0.1"
#define LOCAL_RE "127\\.0\\.0\\.1"

/* ---- small tools --------------------------------------------------------- */

/* strcat into DST of CAP bytes, cut to fit. */
static void
append(char *dst, size_t cap, const char *src)
{
    size_t d = strlen(dst), n = strlen(src);
    if (n > cap - d - 1)
        n = cap - d - 1;
    memcpy(dst + d, src, n);
    dst[d + n] = '\0';
}

/* utime + stime of PID, in milliseconds. */
static long
cpu_ms(struct hh_ctx *c, pid_t pid)
{
    char path[64], buf[1024];
    unsigned long utime, stime;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    HH_CHECK(c, f != NULL, "open %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after "(comm)": state ppid pgrp session tty tpgid flags
     * minflt cminflt majflt cmajflt utime stime */
    const char *s = strrchr(buf, ')');
    HH_CHECK(c, s && sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                   "%*u %lu %lu", &utime, &stime) == 2,
             "cannot parse %s", path);
    return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* CPU time PROC uses over MS milliseconds of doing nothing. */
static long
idle_cpu_ms(struct hh_proc *p, int ms)
{
    pid_t pid = hh_pid(p);
    long before = cpu_ms(p->ctx, pid);
    hh_observe(p->ctx, ms);
    return cpu_ms(p->ctx, pid) - before;
}

/* This test binary, to run as the launcher: /proc/PID/exe works even if
 * the file has been rebuilt (replaced) since the test started. */
static const char *
self_path(char *buf, size_t len)
{
    snprintf(buf, len, "/proc/%d/exe", (int)getpid());
    return buf;
}

/*
 * Start PROG through this binary's --exec-fds launcher: its descriptors
 * 3 .. LOWEST-1 are taken and RLIMIT_NOFILE is NOFILE.  Always under
 * strace (TRACE is its -e spec): that also keeps valgrind out, whose own
 * descriptors would upset the count.
 */
static struct hh_proc *
start_with_fds(struct hh_ctx *c, int nofile, int lowest, const char *trace,
               const char *prog, const char *const *args)
{
    char self[512], path[512], nf[16], lo[16];
    const char *argv[16];
    int k = 0;

    snprintf(nf, sizeof nf, "%d", nofile);
    snprintf(lo, sizeof lo, "%d", lowest);
    argv[k++] = "--exec-fds";
    argv[k++] = nf;
    argv[k++] = lo;
    argv[k++] = hh_prog_path(prog, path, sizeof path);
    for (int i = 0; args[i] && k < 15; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    hh_note(c, "harness: %s starts through this test's launcher, with "
               "descriptors 3..%d taken and RLIMIT_NOFILE %d", prog,
            lowest - 1, nofile);
    struct hh_spawn opt = {.role = prog, .trace = trace, .must_trace = true};
    struct hh_proc *p = hh_startv(c, &opt, self_path(self, sizeof self),
                                  argv);
    hh_expect_err(p, "^launcher: (ready|cannot .*)$", 5000);
    if (strcmp(p->groups[1], "ready") != 0)
        hh_skip(c, "%s", p->groups[1]);
    return p;
}

/* A server that must fail its accept() with EMFILE: it gets FREE
 * descriptors, all used before the first client comes. */
static void
accept_emfile(struct hh_ctx *c, const char *prog, int free_fds)
{
    const char *args[] = {LOCAL, "0", NULL};
    enum { NOFILE = 64 };
    struct hh_proc *srv = start_with_fds(c, NOFILE, NOFILE - free_fds,
                                         "trace=accept,accept4", prog, args);
    hh_wait_listening(srv);
    /* not waited for: the server may fail its accept, exit and reset the
     * connection before the harness has seen it established */
    hh_connect_start(c, &srv->addr);
    hh_expect_err(srv, "accept.*\\(EMFILE\\)", 3000);
    hh_expect_exit(srv, 1, 3000);
    int failed = hh_trace_count(srv, "accept4?\\(.*\\) += -1 EMFILE");
    int calls = hh_trace_count(srv, "accept4?\\(");
    hh_note(c, "strace: %d accept call(s), %d failed with EMFILE", calls,
            failed);
    HH_CHECK(c, failed == 1 && calls == 1,
             "expected one accept failing with EMFILE and no more, got %d "
             "calls, %d EMFILE", calls, failed);
}

/* Freeze SRV, connect N clients and send "hi" on each, then let it go:
 * every connection must be accepted and read, although the kernel
 * reports them together. */
static void
listener_burst(struct hh_ctx *c, const char *prog, const char *const *args,
               const char *read_re)
{
    enum { N = 4 };
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *srv = hh_startv(c, &opt, prog, args);
    hh_wait_listening(srv);
    hh_note(c, "harness: SIGSTOP the server; %d clients connect and send "
               "while it is frozen", N);
    hh_kill(srv, SIGSTOP);
    in_port_t ports[N];
    for (int i = 0; i < N; i++) {
        int fd = hh_connect(c, &srv->addr, 2000);
        ports[i] = hh_local_port(fd);
        hh_send(c, fd, "hi", 2, 2000);
    }
    hh_note(c, "harness: SIGCONT the server");
    hh_kill(srv, SIGCONT);
    for (int i = 0; i < N; i++)
        hh_expect_line(srv, read_re, 3000);
    for (int i = 0; i < N; i++) {
        char re[96];
        snprintf(re, sizeof re, "^(tcp: )?accepted fd [0-9]+ from " LOCAL_RE
                                ":%u$", (unsigned)ports[i]);
        HH_CHECK(c, hh_count_lines(srv, re) == 1,
                 "the client on port %u was not accepted", ports[i]);
    }
    hh_stop(srv);
}

/* ---- 9-1 select: normal data and urgent data ----------------------------- */

/* select_oob_recv [-i] against oob_send; with FREEZE, the receiver is
 * stopped until all three segments are queued. */
static struct hh_proc *
oob_exchange(struct hh_ctx *c, bool inline_oob, bool freeze)
{
    const char *args[4];
    int k = 0;
    if (inline_oob)
        args[k++] = "-i";
    args[k++] = LOCAL;
    args[k++] = "0";
    args[k] = NULL;
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *rcv = hh_startv(c, &opt, "select_oob_recv", args);
    hh_wait_listening(rcv);
    hh_maybe_capture(c, ntohs(rcv->addr.sin_port)); /* stopped at teardown */
    if (freeze) {
        hh_note(c, "harness: SIGSTOP the receiver, so everything is queued "
                   "before its first select");
        hh_kill(rcv, SIGSTOP);
    }
    struct hh_proc *snd = hh_start(c, "client", "oob_send", LOCAL, rcv->port,
                                   NULL);
    hh_expect_line(snd, "^sent 3 bytes with MSG_OOB: \"abc\"$", 3000);
    hh_expect_exit(snd, 0, 3000);
    if (freeze) {
        hh_note(c, "harness: SIGCONT the receiver");
        hh_kill(rcv, SIGCONT);
    }
    return rcv;
}

/* The next data line of P must be KIND data TEXT. */
static void
expect_data(struct hh_proc *p, const char *kind, const char *text)
{
    hh_expect_line(p, "^(normal|urgent) data: \"(.*)\" \\(([0-9]+) bytes?\\)$",
                   3000);
    HH_CHECK(p->ctx,
             strcmp(p->groups[1], kind) == 0 &&
                 strcmp(p->groups[2], text) == 0 &&
                 atoi(p->groups[3]) == (int)strlen(text),
             "expected %s data \"%s\", got %s data \"%s\" (%s bytes)", kind,
             text, p->groups[1], p->groups[2], p->groups[3]);
}

/* Every normal read of P joined, and the urgent ones joined. */
static void
oob_totals(struct hh_proc *p, char *normal, char *urgent, size_t cap,
           int *nurgent)
{
    char line[HH_GROUP_LEN], g[HH_MAX_GROUPS][HH_GROUP_LEN];
    size_t pos = 0;

    normal[0] = urgent[0] = '\0';
    *nurgent = 0;
    while (hh_next_line(p, &pos, line, sizeof line)) {
        if (!hh_match(p->ctx, "^(normal|urgent) data: \"(.*)\" \\(", line,
                      g))
            continue;
        char *to = strcmp(g[1], "normal") == 0 ? normal : urgent;
        *nurgent += to == urgent;
        append(to, cap, g[2]);
    }
}

static void
select_oob(struct hh_ctx *c)
{
    struct hh_proc *rcv = oob_exchange(c, false, false);
    hh_expect_line(rcv, "^normal data: EOF$", 3000);
    hh_expect_exit(rcv, 0, 3000);
    char normal[64], urgent[64];
    int nurgent;
    oob_totals(rcv, normal, urgent, sizeof normal, &nurgent);
    hh_note(c, "normal data in all: \"%s\"; urgent data: \"%s\" in %d "
               "read(s)", normal, urgent, nurgent);
    HH_CHECK(c, strcmp(normal, "123ab123") == 0,
             "normal reads gave \"%s\", expected \"123ab123\"", normal);
    HH_CHECK(c, strcmp(urgent, "c") == 0 && nurgent == 1,
             "expected 'c' once through MSG_OOB, got \"%s\" in %d reads",
             urgent, nurgent);
}

static void
regress_9_1_exception_set_first(struct hh_ctx *c)
{
    struct hh_proc *rcv = oob_exchange(c, false, true);
    /* both sets ready at once: the exception set goes first */
    expect_data(rcv, "urgent", "c");
    expect_data(rcv, "normal", "123ab");
    expect_data(rcv, "normal", "123");
    hh_expect_line(rcv, "^normal data: EOF$", 3000);
    hh_expect_exit(rcv, 0, 3000);
}

static void
select_oob_inline(struct hh_ctx *c)
{
    struct hh_proc *rcv = oob_exchange(c, true, true);
    hh_expect_line(rcv, "^SO_OOBINLINE set", 3000);
    hh_expect_line(rcv, "^normal data: EOF$", 3000);
    hh_expect_exit(rcv, 0, 3000);
    char normal[64], urgent[64];
    int nurgent;
    oob_totals(rcv, normal, urgent, sizeof normal, &nurgent);
    int einval =
        hh_count_lines(rcv, "^urgent data: recv failed: .*\\(EINVAL\\)$");
    HH_CHECK(c, strcmp(normal, "123abc123") == 0 && nurgent == 0,
             "with SO_OOBINLINE expected all of \"123abc123\" as normal data "
             "and nothing urgent, got \"%s\" and \"%s\"", normal, urgent);
    HH_CHECK(c,
             hh_count_lines(rcv, "^normal data: \"c123\" \\(4 bytes\\)$") ==
                 1,
             "expected the urgent byte to start a normal read \"c123\"");
    HH_CHECK(c, einval >= 1, "expected MSG_OOB to fail with EINVAL");
    hh_note(c, "the urgent byte stayed in the stream; select still "
               "reported the exception, and MSG_OOB failed %d time(s) with "
               "EINVAL", einval);
}

static void
regress_9_1_fd_setsize_refused(struct hh_ctx *c)
{
    const char *args[] = {LOCAL, "0", NULL};
    struct hh_proc *srv = start_with_fds(c, 2048, 1024, "trace=select,pselect6",
                                         "select_oob_recv", args);
    hh_wait_listening(srv);
    hh_connect(c, &srv->addr, 2000);
    hh_expect_err(srv, "fd 10[0-9][0-9] is too large for select\\(\\) "
                       "\\(FD_SETSIZE is 1024\\)", 3000);
    hh_expect_exit(srv, 1, 3000);
    int selects = hh_trace_count(srv, "select6?\\(");
    HH_CHECK(c, selects == 0,
             "select was called %d time(s) with an fd beyond FD_SETSIZE",
             selects);
}

static void
regress_9_1_accept_failure(struct hh_ctx *c)
{
    accept_emfile(c, "select_oob_recv", 1);
}

/* ---- 9-3 level-triggered and edge-triggered epoll ------------------------ */

static const char FORTY[] = "0123456789abcdefghijklmnopqrstuvwxyzABCD";

static struct hh_proc *
start_lt_et(struct hh_ctx *c, bool et, bool trace)
{
    const char *args[4];
    int k = 0;
    if (et)
        args[k++] = "-e";
    args[k++] = LOCAL;
    args[k++] = "0";
    args[k] = NULL;
    struct hh_spawn opt = {
        .role = "server",
        .trace = trace ? "trace=epoll_ctl,epoll_wait,epoll_pwait,recvfrom,"
                         "close"
                       : NULL,
        .must_trace = trace};
    struct hh_proc *srv = hh_startv(c, &opt, "epoll_lt_et", args);
    hh_wait_listening(srv);
    return srv;
}

/* Connect to SRV; returns the client fd, and the server's fd in *CONN. */
static int
connect_accepted(struct hh_proc *srv, const char *prefix, int *conn)
{
    struct hh_ctx *c = srv->ctx;
    int fd = hh_connect(c, &srv->addr, 2000);
    char re[128];
    snprintf(re, sizeof re, "^%saccepted fd ([0-9]+) from " LOCAL_RE ":%u$",
             prefix, (unsigned)hh_local_port(fd));
    hh_expect_line(srv, re, 3000);
    *conn = atoi(srv->groups[1]);
    return fd;
}

/* One 40-byte write to epoll_lt_et; returns the number of wake-ups it
 * took to read it all.  Leaves the connection open in *FD. */
static int
forty_bytes(struct hh_proc *srv, bool et, int *fd, int *conn)
{
    struct hh_ctx *c = srv->ctx;
    char re[160], data[64] = "", sizes[64] = "";
    int triggers = 0, got = 0, reads = 0;

    *fd = connect_accepted(srv, "", conn);
    snprintf(re, sizeof re, "^triggered: fd %d$", *conn);
    int before = hh_count_lines(srv, re); /* an earlier client on this fd */
    hh_send(c, *fd, FORTY, 40, 2000);
    snprintf(re, sizeof re, "^(triggered: fd %d|fd %d: read ([0-9]+) bytes: "
                            "\"(.*)\")$", *conn, *conn);
    while (got < 40 && reads < 10) {
        hh_expect_line(srv, re, 3000);
        if (strncmp(srv->groups[1], "triggered", 9) == 0) {
            triggers++;
            continue;
        }
        int n = atoi(srv->groups[2]);
        got += n;
        reads++;
        append(data, sizeof data, srv->groups[3]);
        snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), "%s%d",
                 reads > 1 ? ", " : "", n);
    }
    if (et) {
        snprintf(re, sizeof re, "^fd %d: read later \\(EAGAIN\\)$", *conn);
        hh_expect_line(srv, re, 3000);
    }
    HH_CHECK(c, strcmp(data, FORTY) == 0, "the server read \"%s\", the "
                                          "harness sent \"%s\"", data, FORTY);
    HH_CHECK(c, strcmp(sizes, "9, 9, 9, 9, 4") == 0,
             "reads of %s bytes, expected 9, 9, 9, 9, 4", sizes);
    /* no more wake-ups come for data that has been read */
    hh_observe(c, 200);
    snprintf(re, sizeof re, "^triggered: fd %d$", *conn);
    int total = hh_count_lines(srv, re) - before;
    HH_CHECK(c, total == triggers, "%d more wake-up(s) after all was read",
             total - triggers);
    hh_note(c, "%s: %d wake-up(s) for one 40-byte arrival; reads of %s "
               "bytes", et ? "ET" : "LT", triggers, sizes);
    return triggers;
}

static void
lt_et_run(struct hh_ctx *c, bool et)
{
    int fd, conn;
    struct hh_proc *srv = start_lt_et(c, et, false);
    struct hh_proc *cap = hh_maybe_capture(c, ntohs(srv->addr.sin_port));
    int triggers = forty_bytes(srv, et, &fd, &conn);
    HH_CHECK(c, triggers == (et ? 1 : 5),
             "%s: %d wake-ups for the 40 bytes, expected %d",
             et ? "ET" : "LT", triggers, et ? 1 : 5);
    hh_close(c, fd);
    char re[64];
    snprintf(re, sizeof re, "^fd %d: peer closed, closing$", conn);
    hh_expect_line(srv, re, 3000);
    hh_stop(srv);
    hh_capture_stop(cap);
}

static void
epoll_lt(struct hh_ctx *c)
{
    lt_et_run(c, false);
}

static void
epoll_et(struct hh_ctx *c)
{
    lt_et_run(c, true);
}

/* Both modes under strace: how often epoll_wait returned with events,
 * and what each epoll_ctl asked for. */
static void
epoll_lt_et_syscalls(struct hh_ctx *c)
{
    int returns[2];
    for (int et = 0; et < 2; et++) {
        int fd, conn;
        struct hh_proc *srv = start_lt_et(c, et, true);
        forty_bytes(srv, et, &fd, &conn);
        hh_close(c, fd);
        hh_expect_line(srv, "peer closed, closing$", 3000);
        hh_stop(srv);
        returns[et] =
            hh_trace_count(srv, "epoll_p?wait\\(.*\\) += [1-9][0-9]*$");
        /* the two modes print the same when the reads drain to EAGAIN
         * either way: only the registration tells them apart */
        int adds = hh_epoll_ctl_count(srv, "ADD", -1, NULL);
        int conn_adds = hh_epoll_ctl_count(srv, "ADD", conn, NULL);
        int conn_et = hh_epoll_ctl_count(srv, "ADD", conn, "EPOLLET");
        int any_et = hh_epoll_ctl_count(srv, "(ADD|MOD)", -1, "EPOLLET");
        hh_note(c, "strace, %s: %d epoll_ctl ADD (listener, connection fd "
                   "%d); EPOLLET on the connection %d time(s), on any fd %d",
                et ? "-e" : "no -e", adds, conn, conn_et, any_et);
        HH_CHECK(c, adds == 2 && conn_adds == 1,
                 "%s: %d epoll_ctl ADD (%d of fd %d); expected the listener "
                 "and the connection, once each",
                 et ? "ET" : "LT", adds, conn_adds, conn);
        HH_CHECK(c, conn_et == et,
                 "%s: the connection was registered %s EPOLLET",
                 et ? "ET" : "LT", et ? "without" : "with");
        HH_CHECK(c, any_et == et,
                 "%s: EPOLLET on %d registration(s); expected %s", et ? "ET" :
                 "LT", any_et, et ? "the connection's only (the listener "
                 "stays level-triggered)" : "none");
    }
    hh_note(c, "strace: epoll_wait returned with events %d times in LT, %d "
               "in ET (each: 1 for accept, 1 for the close, the rest for "
               "the 40 bytes)", returns[0], returns[1]);
    HH_CHECK(c, returns[0] == 7 && returns[1] == 3,
             "expected 7 (LT) and 3 (ET) returns with events, got %d and %d",
             returns[0], returns[1]);
}

static void
regress_9_3_et_close_breaks(struct hh_ctx *c)
{
    int fd, conn;
    struct hh_proc *srv = start_lt_et(c, true, true);
    forty_bytes(srv, true, &fd, &conn);
    hh_close(c, fd);
    char re[96];
    snprintf(re, sizeof re, "^fd %d: peer closed, closing$", conn);
    hh_expect_line(srv, re, 3000);
    /* the server goes on working after the close */
    forty_bytes(srv, true, &fd, &conn);
    hh_stop(srv);
    snprintf(re, sizeof re, "close\\(%d\\) += 0", conn);
    int closes = hh_trace_count(srv, re);
    int ebadf = hh_trace_count(srv, "= -1 EBADF");
    hh_note(c, "strace: close(%d) %d time(s) for two connections, %d call(s) "
               "failing with EBADF", conn, closes, ebadf);
    HH_CHECK(c, ebadf == 0, "%d system call(s) on a closed fd (EBADF)", ebadf);
    HH_CHECK(c, closes == 2, "expected close(%d) twice (two connections, "
                             "both on fd %d), got %d", conn, conn, closes);
}

static void
regress_9_3_listener_burst(struct hh_ctx *c)
{
    const char *args[] = {"-e", LOCAL, "0", NULL};
    listener_burst(c, "epoll_lt_et", args, "^fd [0-9]+: read 2 bytes: \"hi\"$");
}

static void
regress_9_3_accept_failure(struct hh_ctx *c)
{
    accept_emfile(c, "epoll_lt_et", 2); /* listener, epoll */
}

/* ---- 9-4 EPOLLONESHOT ---------------------------------------------------- */

enum { MAX_CONNS = 16 };

/* What epoll_oneshot's output says about each connection. */
struct conn_view {
    int fd;          /* the server's fd */
    int sock;        /* the harness's socket */
    char sent[64];   /* what the harness sent on it */
    char data[256];  /* what the workers read from it, in order */
    int active;      /* workers between start and end on it */
    int workers;     /* workers started on it */
    int overlaps;    /* starts while another worker was active on it */
};

struct oneshot_view {
    struct conn_view conn[MAX_CONNS];
    int n;
    int max_concurrent; /* workers active at once, any fds */
    int starts, ends;
};

static struct conn_view *
view_of(struct hh_ctx *c, struct oneshot_view *v, int fd)
{
    for (int i = 0; i < v->n; i++)
        if (v->conn[i].fd == fd)
            return &v->conn[i];
    hh_fail(c, "a worker used fd %d, which no client has", fd);
}

/* Read the server's output from the start. */
static void
oneshot_analyze(struct hh_proc *srv, struct oneshot_view *v)
{
    struct hh_ctx *c = srv->ctx;
    char line[HH_GROUP_LEN], g[HH_MAX_GROUPS][HH_GROUP_LEN];
    size_t pos = 0;
    int active = 0;

    for (int i = 0; i < v->n; i++) {
        struct conn_view *cv = &v->conn[i];
        cv->data[0] = '\0';
        cv->active = cv->workers = cv->overlaps = 0;
    }
    v->max_concurrent = v->starts = v->ends = 0;
    while (hh_next_line(srv, &pos, line, sizeof line)) {
        if (hh_match(c, "^worker [0-9]+: start on fd ([0-9]+)$", line, g)) {
            struct conn_view *cv = view_of(c, v, atoi(g[1]));
            cv->overlaps += cv->active > 0;
            cv->active++;
            cv->workers++;
            v->starts++;
            if (++active > v->max_concurrent)
                v->max_concurrent = active;
        } else if (hh_match(c, "^worker [0-9]+: fd ([0-9]+): read [0-9]+ "
                               "bytes: \"(.*)\"$",
                            line, g)) {
            struct conn_view *cv = view_of(c, v, atoi(g[1]));
            append(cv->data, sizeof cv->data, g[2]);
        } else if (hh_match(c, "^worker [0-9]+: end on fd ([0-9]+) ", line,
                            g)) {
            view_of(c, v, atoi(g[1]))->active--;
            active--;
            v->ends++;
        }
    }
}

/* Wait until every worker started has ended and each connection's data
 * is all read (sorted, if ANY_ORDER: with -n two workers race). */
static void
oneshot_settle(struct hh_proc *srv, struct oneshot_view *v, bool any_order)
{
    for (int rounds = 0;; rounds++) {
        oneshot_analyze(srv, v);
        bool done = v->starts == v->ends;
        for (int i = 0; done && i < v->n; i++) {
            struct conn_view *cv = &v->conn[i];
            done = strlen(cv->data) == strlen(cv->sent) &&
                   (any_order || strcmp(cv->data, cv->sent) == 0);
        }
        if (done)
            return;
        HH_CHECK(srv->ctx, rounds < 4 * MAX_CONNS + 10,
                 "the workers do not settle");
        hh_expect_line(srv, "^worker [0-9]+: end on fd ", 3000);
    }
}

static struct hh_proc *
start_oneshot_traced(struct hh_ctx *c, bool oneshot, int work_ms,
                     const char *trace)
{
    char w[16];
    snprintf(w, sizeof w, "%dms", work_ms);
    const char *args[6];
    int k = 0;
    if (!oneshot)
        args[k++] = "-n";
    args[k++] = "-w";
    args[k++] = w;
    args[k++] = LOCAL;
    args[k++] = "0";
    args[k] = NULL;
    struct hh_spawn opt = {
        .role = "server", .trace = trace, .must_trace = trace != NULL};
    struct hh_proc *srv = hh_startv(c, &opt, "epoll_oneshot", args);
    hh_wait_listening(srv);
    return srv;
}

static struct hh_proc *
start_oneshot(struct hh_ctx *c, bool oneshot, int work_ms)
{
    return start_oneshot_traced(c, oneshot, work_ms, NULL);
}

static void
oneshot_connect(struct hh_proc *srv, struct oneshot_view *v, int n)
{
    v->n = n;
    for (int i = 0; i < n; i++) {
        memset(&v->conn[i], 0, sizeof v->conn[i]);
        v->conn[i].sock = connect_accepted(srv, "", &v->conn[i].fd);
    }
}

static void
oneshot_send(struct hh_ctx *c, struct conn_view *cv, const char *text)
{
    hh_send(c, cv->sock, text, strlen(text), 2000);
    append(cv->sent, sizeof cv->sent, text);
}

/* Wait until every connection's data so far has been read, in order. */
static void
oneshot_wait_reads(struct hh_proc *srv, struct oneshot_view *v)
{
    for (int rounds = 0;; rounds++) {
        oneshot_analyze(srv, v);
        bool done = true;
        for (int i = 0; done && i < v->n; i++)
            done = strcmp(v->conn[i].data, v->conn[i].sent) == 0;
        if (done)
            return;
        HH_CHECK(srv->ctx, rounds < 4 * MAX_CONNS, "reads do not add up");
        hh_expect_line(srv, "^worker [0-9]+: fd [0-9]+: read ", 3000);
    }
}

/* Wait for a worker's read of TEXT on CV's fd. */
static void
expect_read(struct hh_proc *srv, struct conn_view *cv, const char *text)
{
    char re[128];
    snprintf(re, sizeof re, "^worker ([0-9]+): fd %d: read [0-9]+ bytes: "
                            "\"%s\"$", cv->fd, text);
    hh_expect_line(srv, re, 3000);
}

/* Client A sends "a", then "b" and "c" while the worker sleeps; client B
 * sends "x" meanwhile.  Returns the settled view. */
static void
oneshot_two_clients(struct hh_ctx *c, struct hh_proc *srv,
                    struct oneshot_view *v)
{
    oneshot_connect(srv, v, 2);
    struct conn_view *a = &v->conn[0], *b = &v->conn[1];
    oneshot_send(c, a, "a");
    expect_read(srv, a, "a");
    oneshot_send(c, b, "x");
    hh_note(c, "harness: \"b\" and \"c\" while the worker is busy with \"a\"");
    oneshot_send(c, a, "b");
    oneshot_send(c, a, "c");
}

static void
epoll_oneshot_one_worker(struct hh_ctx *c)
{
    struct oneshot_view v;
    struct hh_proc *srv = start_oneshot(c, true, hh_ms(c, 500));
    oneshot_two_clients(c, srv, &v);
    oneshot_settle(srv, &v, false);
    struct conn_view *a = &v.conn[0];
    hh_note(c, "fd %d: %d worker(s), read \"%s\", %d overlap(s); at most %d "
               "workers at once", a->fd, a->workers, a->data, a->overlaps,
            v.max_concurrent);
    HH_CHECK(c, a->overlaps == 0 && v.conn[1].overlaps == 0,
             "a second worker started on a connection that had one");
    HH_CHECK(c, a->workers == 1 && strcmp(a->data, "abc") == 0,
             "expected one worker to read \"a\" then \"bc\", got %d "
             "worker(s) reading \"%s\"", a->workers, a->data);
    HH_CHECK(c, v.max_concurrent >= 2,
             "the two clients were not served at the same time");
    hh_stop(srv);
}

static void
epoll_oneshot_off_overlaps(struct hh_ctx *c)
{
    struct oneshot_view v;
    struct hh_proc *srv = start_oneshot(c, false, hh_ms(c, 500));
    oneshot_two_clients(c, srv, &v);
    oneshot_settle(srv, &v, true);
    struct conn_view *a = &v.conn[0];
    hh_note(c, "without EPOLLONESHOT, fd %d: %d workers, %d of them started "
               "while another was busy with it", a->fd, a->workers,
            a->overlaps);
    HH_CHECK(c, a->overlaps >= 1,
             "with -n no second worker started on fd %d while the first "
             "was busy", a->fd);
    hh_stop(srv);
}

/*
 * What epoll_oneshot asked the kernel, with and without -n: every
 * connection edge-triggered, one-shot unless -n; the listener neither;
 * and one EPOLL_CTL_MOD re-arm per worker that finished its job (ran out
 * of data: "read later"), none without -n.  Output alone cannot show a
 * missing re-arm until a later message is lost, nor ONESHOT's absence
 * unless two workers happen to overlap.
 */
static void
epoll_oneshot_flags(struct hh_ctx *c)
{
    for (int os = 1; os >= 0; os--) {
        struct oneshot_view v;
        struct hh_proc *srv =
            start_oneshot_traced(c, os, hh_ms(c, 200), "trace=epoll_ctl");
        oneshot_two_clients(c, srv, &v);
        oneshot_settle(srv, &v, !os);
        hh_stop(srv); /* joins the workers: every re-arm is in the trace */
        int jobs = hh_count_lines(srv, "^worker [0-9]+: end on fd [0-9]+ "
                                    "\\(read later\\)$");
        int adds = hh_epoll_ctl_count(srv, "ADD", -1, NULL);
        int mods = hh_epoll_ctl_count(srv, "MOD", -1, NULL);
        int mods_os = hh_epoll_ctl_count(srv, "MOD", -1, "EPOLLONESHOT");
        int mods_et = hh_epoll_ctl_count(srv, "MOD", -1, "EPOLLET");
        int any_os = hh_epoll_ctl_count(srv, "ADD", -1, "EPOLLONESHOT");
        int any_et = hh_epoll_ctl_count(srv, "ADD", -1, "EPOLLET");
        hh_note(c, "strace, %s: %d ADD (%d with EPOLLET, %d with "
                   "EPOLLONESHOT); %d MOD (%d with EPOLLONESHOT) for %d "
                   "finished worker job(s)",
                os ? "ONESHOT" : "-n", adds, any_et, any_os, mods, mods_os,
                jobs);
        HH_CHECK(c, adds == 3, "%d epoll_ctl ADD; expected 3 (the listener "
                               "and two connections)", adds);
        for (int i = 0; i < v.n; i++) {
            int fd = v.conn[i].fd;
            HH_CHECK(c, hh_epoll_ctl_count(srv, "ADD", fd, NULL) == 1 &&
                            hh_epoll_ctl_count(srv, "ADD", fd, "EPOLLET") == 1,
                     "connection fd %d was not registered once, "
                     "edge-triggered", fd);
            HH_CHECK(c,
                     hh_epoll_ctl_count(srv, "ADD", fd, "EPOLLONESHOT") == os,
                     "%s: connection fd %d registered %s EPOLLONESHOT",
                     os ? "ONESHOT" : "-n", fd, os ? "without" : "with");
        }
        HH_CHECK(c, any_et == 2 && any_os == (os ? 2 : 0),
                 "the listener was registered with EPOLLET or "
                 "EPOLLONESHOT: one accept per report needs it "
                 "level-triggered and always armed");
        HH_CHECK(c, jobs >= 2, "only %d worker job(s) ended with "
                               "\"read later\"", jobs);
        if (os)
            HH_CHECK(c, mods == jobs && mods_os == mods && mods_et == mods,
                     "%d EPOLL_CTL_MOD (%d with EPOLLONESHOT, %d with "
                     "EPOLLET) for %d finished jobs: expected one "
                     "EPOLLIN|EPOLLET|EPOLLONESHOT re-arm per job",
                     mods, mods_os, mods_et, jobs);
        else
            HH_CHECK(c, mods == 0, "-n: %d EPOLL_CTL_MOD; nothing to "
                                   "re-arm without EPOLLONESHOT", mods);
    }
}

static void
regress_9_4_thread_arg_copied(struct hh_ctx *c)
{
    enum { N = 8 };
    struct oneshot_view v;
    struct hh_proc *srv = start_oneshot(c, true, hh_ms(c, 200));
    oneshot_connect(srv, &v, N);
    char text[16];
    for (int i = 0; i < N; i++) { /* all at once */
        snprintf(text, sizeof text, "c%d-a", i);
        oneshot_send(c, &v.conn[i], text);
    }
    oneshot_wait_reads(srv, &v);
    for (int i = 0; i < N; i++)
        oneshot_send(c, &v.conn[i], "b");
    for (int i = 0; i < N; i++)
        oneshot_send(c, &v.conn[i], "c");
    oneshot_settle(srv, &v, false);
    int overlaps = 0, workers = 0;
    for (int i = 0; i < N; i++) {
        overlaps += v.conn[i].overlaps;
        workers += v.conn[i].workers;
        HH_CHECK(c, strcmp(v.conn[i].data, v.conn[i].sent) == 0,
                 "fd %d: the workers read \"%s\", its client sent \"%s\"",
                 v.conn[i].fd, v.conn[i].data, v.conn[i].sent);
    }
    for (int i = 0; i < N; i++)
        hh_close(c, v.conn[i].sock);
    for (int i = 0; i < N; i++)
        hh_expect_line(srv, "^worker [0-9]+: end on fd [0-9]+ \\(peer "
                            "closed, closing\\)$", 3000);
    oneshot_analyze(srv, &v);
    overlaps = 0;
    for (int i = 0; i < N; i++)
        overlaps += v.conn[i].overlaps;
    hh_note(c, "%d connections, %d data workers, up to %d at once; every "
               "connection's bytes read by its own workers, %d overlap(s)",
            N, workers, v.max_concurrent, overlaps);
    HH_CHECK(c, overlaps == 0, "%d time(s) a worker started on a connection "
                               "that had one", overlaps);
    HH_CHECK(c, v.max_concurrent >= 2, "the connections were not served "
                                       "at the same time");
    hh_stop(srv);
}

static void
regress_9_4_workers_joined(struct hh_ctx *c)
{
    struct oneshot_view v;
    struct hh_proc *srv = start_oneshot(c, true, 60000);
    oneshot_connect(srv, &v, 1);
    oneshot_send(c, &v.conn[0], "work");
    expect_read(srv, &v.conn[0], "work");
    hh_note(c, "harness: SIGTERM while the worker is in its 60 s of work");
    long long t0 = hh_now_ms();
    hh_stop(srv);
    long long ms = hh_now_ms() - t0;
    HH_CHECK(c, hh_output_has(srv, "^worker [0-9]+: end on fd [0-9]+ "
                                   "\\(stopping\\)$"),
             "the busy worker did not stop");
    HH_CHECK(c, hh_output_has(srv, "^stopped by signal 15: joined 1 "
                                   "worker\\(s\\)$"),
             "the worker was not joined");
    HH_CHECK(c, ms < hh_ms(c, 1500), "stopping took %lld ms", ms);
}

static void
regress_9_4_recv_error_closes(struct hh_ctx *c)
{
    struct oneshot_view v;
    struct hh_proc *srv = start_oneshot(c, true, hh_ms(c, 200));
    oneshot_connect(srv, &v, 1);
    oneshot_send(c, &v.conn[0], "a");
    expect_read(srv, &v.conn[0], "a");
    hh_abort(c, v.conn[0].sock); /* while the worker is busy */
    char re[128];
    snprintf(re, sizeof re, "^worker [0-9]+: fd %d: recv failed: .* "
                            "\\(ECONNRESET\\)$", v.conn[0].fd);
    hh_expect_line(srv, re, 3000);
    snprintf(re, sizeof re, "^worker [0-9]+: end on fd %d \\(error, "
                            "closing\\)$", v.conn[0].fd);
    hh_expect_line(srv, re, 3000);
    /* and the server carries on */
    oneshot_connect(srv, &v, 1);
    oneshot_send(c, &v.conn[0], "next");
    expect_read(srv, &v.conn[0], "next");
    hh_stop(srv);
}

static void
regress_9_4_next_read_is_clean(struct hh_ctx *c)
{
    struct oneshot_view v;
    struct hh_proc *srv = start_oneshot(c, true, 0);
    oneshot_connect(srv, &v, 1);
    struct conn_view *cv = &v.conn[0];
    oneshot_send(c, cv, "abcdefgh");
    expect_read(srv, cv, "abcdefgh");
    char re[96];
    snprintf(re, sizeof re, "^worker [0-9]+: end on fd %d \\(read later\\)$",
             cv->fd);
    hh_expect_line(srv, re, 3000);
    hh_note(c, "harness: a shorter message, after the fd was re-armed");
    oneshot_send(c, cv, "y");
    snprintf(re, sizeof re, "^worker [0-9]+: fd %d: read ([0-9]+) bytes: "
                            "\"(.*)\"$", cv->fd);
    hh_expect_line(srv, re, 3000);
    HH_CHECK(c, strcmp(srv->groups[1], "1") == 0 &&
                    strcmp(srv->groups[2], "y") == 0,
             "the second read gave %s bytes \"%s\", expected 1 byte \"y\"",
             srv->groups[1], srv->groups[2]);
    hh_stop(srv);
}

static void
regress_9_4_listener_burst(struct hh_ctx *c)
{
    const char *args[] = {"-w", "0", LOCAL, "0", NULL};
    listener_burst(c, "epoll_oneshot", args,
                   "^worker [0-9]+: fd [0-9]+: read 2 bytes: \"hi\"$");
}

/*
 * -n and a reused descriptor.  Client A's connection has two workers busy
 * ("a" and "b"), then A closes: a third worker sees the end at once.  If
 * it closed the fd then, the next client, B, could be given the same
 * number, and A's busy workers, waking, would recv (and at their end
 * close) B's connection, or fail with EBADF on the closed number.  From
 * the output, by generation of each fd number (an "accepted fd N" line
 * starts one): every worker started on A's connection must read only A's
 * bytes and end by seeing A's end (peer closed), exactly one of them
 * closing it; B's bytes go to B's workers only; and afterwards B's
 * connection is still established (sock_diag) and still served.
 */
enum { MAX_WORKER_IDS = 64 };

struct reuse_view {
    int a_fd, b_fd;
    int a_workers, a_ended, a_closes, starts, ends;
    char a_data[64], b_data[64];
    char wrong[HH_GROUP_LEN]; /* the first line that shows a mix-up */
};

static void
reuse_analyze(struct hh_proc *srv, struct reuse_view *v)
{
    struct hh_ctx *c = srv->ctx;
    char line[HH_GROUP_LEN], g[HH_MAX_GROUPS][HH_GROUP_LEN];
    int gen[2] = {0, 0};                 /* generations of a_fd, b_fd */
    int owner[MAX_WORKER_IDS + 1] = {0}; /* 1: A's, 2: B's, 0: other */
    size_t pos = 0;

    v->a_workers = v->a_ended = v->a_closes = v->starts = v->ends = 0;
    v->a_data[0] = v->b_data[0] = v->wrong[0] = '\0';
    while (hh_next_line(srv, &pos, line, sizeof line)) {
        int fd, k;
        if (hh_match(c, "^accepted fd ([0-9]+) ", line, g)) {
            fd = atoi(g[1]);
            gen[0] += fd == v->a_fd;
            gen[1] += fd == v->b_fd;
        } else if (hh_match(c, "^worker ([0-9]+): start on fd ([0-9]+)$",
                                line, g)) {
            k = atoi(g[1]), fd = atoi(g[2]);
            HH_CHECK(c, k >= 1 && k <= MAX_WORKER_IDS, "worker id %d", k);
            v->starts++;
            /* A's connection is the first generation of a_fd; B's is the
             * latest of b_fd (the same number, if it was reused) */
            owner[k] = fd == v->b_fd && gen[1] > (v->b_fd == v->a_fd) ? 2
                       : fd == v->a_fd && gen[0] == 1                  ? 1
                                                                       : 0;
            v->a_workers += owner[k] == 1;
        } else if (hh_match(c, "^worker ([0-9]+): fd [0-9]+: read [0-9]+ "
                                   "bytes: \"(.*)\"$", line, g)) {
            k = atoi(g[1]);
            if (k >= 1 && k <= MAX_WORKER_IDS && owner[k] == 1)
                append(v->a_data, sizeof v->a_data, g[2]);
            else if (k >= 1 && k <= MAX_WORKER_IDS && owner[k] == 2)
                append(v->b_data, sizeof v->b_data, g[2]);
        } else if (hh_match(c, "^worker ([0-9]+): end on fd [0-9]+ "
                                   "\\((.*)\\)$", line, g)) {
            k = atoi(g[1]);
            v->ends++;
            if (k < 1 || k > MAX_WORKER_IDS || owner[k] != 1)
                continue;
            v->a_ended++;
            v->a_closes += strcmp(g[2], "peer closed, closing") == 0;
            if (strncmp(g[2], "peer closed, ", 13) != 0 && !v->wrong[0])
                snprintf(v->wrong, sizeof v->wrong, "%s", line);
        }
        if (hh_match(c, "recv failed", line, NULL) && !v->wrong[0])
            snprintf(v->wrong, sizeof v->wrong, "%s", line);
    }
}

static void
regress_9_4_n_fd_not_reused_early(struct hh_ctx *c)
{
    struct oneshot_view v;
    struct reuse_view r = {.b_fd = -1};
    int work = hh_ms(c, 1000);
    struct hh_proc *srv = start_oneshot(c, false, work);
    oneshot_connect(srv, &v, 1);
    struct conn_view *a = &v.conn[0];
    r.a_fd = a->fd;
    oneshot_send(c, a, "a");
    expect_read(srv, a, "a");
    oneshot_send(c, a, "b");
    expect_read(srv, a, "b"); /* a second worker, -n */
    hh_note(c, "harness: client A closes while two workers are busy with "
               "its fd %d for %d ms", a->fd, work);
    hh_close(c, a->sock);
    char re[128];
    snprintf(re, sizeof re, "^worker [0-9]+: end on fd %d \\(peer closed, ",
             a->fd);
    hh_expect_line(srv, re, 3000);
    int b_sock = connect_accepted(srv, "", &r.b_fd);
    hh_note(c, "harness: client B connects at once: the server gave it fd "
               "%d", r.b_fd);
    hh_send(c, b_sock, "hi", 2, 2000);
    snprintf(re, sizeof re, "^worker [0-9]+: fd %d: read 2 bytes: \"hi\"$",
             r.b_fd);
    hh_expect_line(srv, re, 3000);
    /* wait for A's busy workers (and B's) to end */
    for (int rounds = 0;; rounds++) {
        reuse_analyze(srv, &r);
        if (r.starts == r.ends && r.a_ended >= 3)
            break;
        HH_CHECK(c, rounds < 20, "the workers do not settle");
        hh_expect_line(srv, "^worker [0-9]+: end on fd ", 3000);
    }
    hh_note(c, "A's fd %d: %d worker(s), read \"%s\", %d close(s); B's fd "
               "%d: read \"%s\"", r.a_fd, r.a_workers, r.a_data, r.a_closes,
            r.b_fd, r.b_data);
    HH_CHECK(c, r.wrong[0] == '\0',
             "a worker started on A's connection did not end on A's end of "
             "file: \"%s\" (its fd %d had been handed on)", r.wrong, r.a_fd);
    HH_CHECK(c, strcmp(r.a_data, "ab") == 0 && r.a_closes == 1,
             "A's workers read \"%s\" (want \"ab\") and closed it %d "
             "time(s) (want 1)", r.a_data, r.a_closes);
    HH_CHECK(c, strcmp(r.b_data, "hi") == 0,
             "B's workers read \"%s\", B sent \"hi\"", r.b_data);
    int st = -1;
    HH_CHECK(c, hh_tcp_info(hh_local_port(b_sock), ntohs(srv->addr.sin_port),
                            &st, NULL, NULL) == 0 &&
                    st == TCP_ESTABLISHED,
             "client B's connection is %s: the server closed it, B did "
             "not", st < 0 ? "gone" : hh_tcp_state_name(st));
    hh_send(c, b_sock, "more", 4, 2000);
    snprintf(re, sizeof re, "^worker [0-9]+: fd %d: read 4 bytes: \"more\"$",
             r.b_fd);
    hh_expect_line(srv, re, 3000);
    hh_stop(srv);
}

/* ---- 9-5 non-blocking connect with a timeout ----------------------------- */

static struct hh_proc *
start_connect(struct hh_ctx *c, const char *timeout, const char *ip,
              in_port_t port, const char *trace)
{
    char p[8];
    snprintf(p, sizeof p, "%u", (unsigned)port);
    const char *args[] = {"-t", timeout, ip, p, NULL};
    struct hh_spawn opt = {.role = "client", .trace = trace,
                           .must_trace = trace != NULL};
    return hh_startv(c, &opt, "nonblock_connect", args);
}

static void
connect_ok(struct hh_ctx *c, const char *trace, struct hh_proc **out)
{
    struct sockaddr_in sa;
    int lfd = hh_listen(c, 0, &sa, 5);
    struct hh_proc *cap = hh_maybe_capture(c, ntohs(sa.sin_port));
    struct hh_proc *p = start_connect(c, "2", LOCAL, ntohs(sa.sin_port),
                                      trace);
    /* even on loopback: the book's "connected at once" branch is dead */
    hh_expect_line(p, "^connect: in progress \\(EINPROGRESS\\), waiting up "
                      "to 2 s$", 3000);
    hh_expect_line(p, "^connected to " LOCAL_RE ":[0-9]+ after ([0-9.]+) s$",
                   3000);
    hh_expect_exit(p, 0, 3000);
    hh_accept(c, lfd, 2000); /* it was a real connection */
    hh_capture_stop(cap);
    *out = p;
}

static void
nonblock_connect_ok(struct hh_ctx *c)
{
    struct hh_proc *p;
    connect_ok(c, NULL, &p);
}

static void
nonblock_connect_refused(struct hh_ctx *c)
{
    in_port_t port = hh_closed_port(c);
    hh_note(c, "harness: port %u is closed", port);
    struct hh_proc *cap = hh_maybe_capture(c, port);
    struct hh_proc *p = start_connect(c, "2", LOCAL, port, NULL);
    hh_expect_line(p, "^connection failed after ([0-9.]+) s: .* "
                      "\\(ECONNREFUSED\\)$", 3000);
    double t = atof(p->groups[1]);
    HH_CHECK(c, t < hh_ms(c, 200) / 1000.0,
             "the refusal took %.3f s; the RST comes back at once", t);
    hh_expect_exit(p, 1, 3000);
    hh_capture_stop(cap);
}

static void
nonblock_connect_timeout(struct hh_ctx *c)
{
    struct sockaddr_in sa = hh_full_listener(c);
    in_port_t port = ntohs(sa.sin_port);
    struct hh_proc *cap = hh_maybe_capture(c, port);
    long long t0 = hh_now_ms();
    struct hh_proc *p = start_connect(c, "1500ms", LOCAL, port, NULL);
    hh_expect_line(p, "^connect: in progress \\(EINPROGRESS\\), waiting up "
                      "to 1500 ms$", 3000);
    hh_observe(c, 300);
    int syn_sent = hh_tcp_count("02", 0, port);
    int syn_recv = hh_tcp_count("03", port, 0);
    hh_note(c, "kernel, after 300 ms: %d SYN_SENT to port %u, %d "
               "SYN_RECV on it: the SYN was dropped", syn_sent, port,
            syn_recv);
    HH_CHECK(c, syn_sent == 1 && syn_recv == 0,
             "expected the client in SYN_SENT and nothing in SYN_RECV, got "
             "%d and %d", syn_sent, syn_recv);
    hh_expect_line(p, "^connection timed out after ([0-9.]+) s$", 5000);
    double t = atof(p->groups[1]);
    hh_expect_exit(p, 1, 3000);
    long long wall = hh_now_ms() - t0;
    hh_note(c, "timed out after %.3f s (-t 1500ms); the harness saw %lld ms",
            t, wall);
    HH_CHECK(c, t >= 1.2 && t <= 1.8, "timed out after %.3f s, expected "
                                      "1.5 s +- 0.3 s", t);
    HH_CHECK(c, wall >= 1200, "the client ended after %lld ms", wall);
    hh_capture_stop(cap);
    if (cap && (c->sc->needs & HH_NEED_TCPDUMP)) {
        int syn = hh_capture_count(cap, "Flags \\[S\\]");
        int answers = hh_capture_count(cap, "Flags \\[(S\\.|R)");
        hh_note(c, "tcpdump: %d SYN(s) from the client, %d answer(s) "
                   "(SYN-ACK or RST)", syn, answers);
        HH_CHECK(c, syn >= 1 && answers == 0,
                 "expected SYNs and no answer, saw %d SYNs, %d answers", syn,
                 answers);
    }
}

static void
nonblock_connect_syn_dropped(struct hh_ctx *c)
{
    nonblock_connect_timeout(c);
}

static void
regress_9_5_write_set_initialised(struct hh_ctx *c)
{
    struct hh_proc *p;
    size_t pos = 0;
    connect_ok(c, "trace=select,pselect6", &p);
    /* select(NFDS, NULL, [FD], NULL, ...): only our socket in the set */
    HH_CHECK(c, hh_trace_next(p, &pos, "select6?\\(([0-9]+), NULL, "
                                       "\\[([0-9 ]+)\\], NULL, "),
             "no select with a write set in the trace");
    const char *nfds = p->groups[1], *set = p->groups[2];
    hh_note(c, "strace: select(%s, NULL, [%s], NULL, ...)", nfds, set);
    HH_CHECK(c, atoi(nfds) == atoi(set) + 1 && !strchr(set, ' '),
             "the write set is [%s] with nfds %s: expected just the socket",
             set, nfds);
}

static void
regress_9_5_immediate_failure(struct hh_ctx *c)
{
    char re[64];
    size_t pos = 0;
    /* a TCP connect to the broadcast address fails in connect() itself */
    struct hh_proc *p = start_connect(c, "2", "255.255.255.255", 9,
                                      "trace=socket,connect,close");
    hh_expect_line(p, "^connect failed at once: .* \\(ENETUNREACH\\)$", 3000);
    hh_expect_exit(p, 1, 3000);
    HH_CHECK(c, hh_trace_next(p, &pos, "connect\\(([0-9]+), .* ENETUNREACH"),
             "no failing connect in the trace");
    int fd = atoi(p->groups[1]);
    /* the search goes on after the failed connect */
    snprintf(re, sizeof re, "close\\(%d\\) += 0", fd);
    HH_CHECK(c, hh_trace_next(p, &pos, re), "the socket fd %d was not closed",
             fd);
    hh_note(c, "strace: connect(%d) failed with ENETUNREACH, then close(%d)",
            fd, fd);
}

static void
regress_9_5_fd_setsize_refused(struct hh_ctx *c)
{
    struct sockaddr_in sa;
    int lfd = hh_listen(c, 0, &sa, 5);
    (void)lfd;
    char port[8];
    snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
    const char *args[] = {LOCAL, port, NULL};
    struct hh_proc *p = start_with_fds(c, 2048, 1024,
                                       "trace=connect,select,pselect6",
                                       "nonblock_connect", args);
    hh_expect_line(p, "^fd 1024 is too large for select\\(\\) \\(FD_SETSIZE "
                      "is 1024\\)$", 3000);
    hh_expect_exit(p, 1, 3000);
    int calls = hh_trace_count(p, "(connect|select6?)\\(");
    HH_CHECK(c, calls == 0, "%d connect/select call(s) with fd 1024", calls);
}

/* ---- 9-6 / 9-7 the poll chat room ---------------------------------------- */

/* Room for the test's chat traffic: carved per scenario, never freed. */
enum { ARENA_SIZE = 16 << 20 };
static char arena[ARENA_SIZE];
static size_t arena_used;

static char *
arena_get(struct hh_ctx *c, size_t n)
{
    static const struct hh_scenario *owner;
    if (owner != c->sc) { /* a new scenario: start again */
        owner = c->sc;
        arena_used = 0;
    }
    if (n > ARENA_SIZE - arena_used)
        hh_fail(c, "the test's arena is too small");
    char *p = arena + arena_used;
    arena_used += n;
    return p;
}

struct chatter {
    int fd;
    in_port_t port;
    const char *tx; /* to send: tx[tx_off .. tx_len) */
    size_t tx_len, tx_off;
    char *rx; /* received so far; want more until rx_want */
    size_t rx_len, rx_want;
};

/* Send every chatter's TX while reading what each receives, until each
 * has RX_WANT bytes; the programs' output keeps flowing meanwhile. */
static void
chat_pump(struct hh_ctx *c, struct chatter *ch, int n, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    struct pollfd pf[64 + 2 * HH_MAX_PROCS];

    HH_CHECK(c, n <= 64, "too many chatters");
    for (;;) {
        int m = 0;
        bool done = true;
        for (int i = 0; i < n; i++) {
            short ev = 0;
            if (ch[i].tx_off < ch[i].tx_len)
                ev |= POLLOUT;
            if (ch[i].rx_len < ch[i].rx_want)
                ev |= POLLIN;
            done = done && ev == 0;
            pf[m++] = (struct pollfd){.fd = ch[i].fd, .events = ev};
        }
        if (done)
            return;
        for (int i = 0; i < c->nprocs; i++) {
            if (c->procs[i].out_fd >= 0)
                pf[m++] = (struct pollfd){c->procs[i].out_fd, POLLIN, 0};
            if (c->procs[i].err_fd >= 0)
                pf[m++] = (struct pollfd){c->procs[i].err_fd, POLLIN, 0};
        }
        long long left = deadline - hh_now_ms();
        if (left <= 0) {
            for (int i = 0; i < n; i++)
                if (ch[i].rx_len < ch[i].rx_want ||
                    ch[i].tx_off < ch[i].tx_len)
                    hh_fail(c, "chatter %d (port %u): sent %zu of %zu, "
                               "received %zu of %zu bytes in %d ms", i,
                            ch[i].port, ch[i].tx_off, ch[i].tx_len,
                            ch[i].rx_len, ch[i].rx_want,
                            hh_ms(c, timeout_ms));
        }
        if (poll(pf, m, (int)left) < 0 && errno != EINTR)
            hh_fail(c, "poll: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct chatter *h = &ch[i];
            if (pf[i].revents & POLLOUT) {
                ssize_t w = send(h->fd, h->tx + h->tx_off,
                                 h->tx_len - h->tx_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno != EAGAIN && errno != EINTR)
                    hh_fail(c, "chatter %d: send: %s", i, strerror(errno));
                h->tx_off += w > 0 ? (size_t)w : 0;
            }
            if ((pf[i].revents & (POLLHUP | POLLERR)) &&
                h->rx_len == h->rx_want)
                hh_fail(c, "chatter %d (port %u): the connection broke",
                        i, h->port);
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = recv(h->fd, h->rx + h->rx_len,
                                 h->rx_want - h->rx_len, MSG_DONTWAIT);
                if (r == 0)
                    hh_fail(c, "chatter %d (port %u): EOF after %zu of %zu "
                               "bytes", i, h->port, h->rx_len, h->rx_want);
                if (r < 0 && errno != EAGAIN && errno != EINTR)
                    hh_fail(c, "chatter %d: recv: %s", i, strerror(errno));
                h->rx_len += r > 0 ? (size_t)r : 0;
            }
        }
        for (int k = n; k < m; k++)
            if (pf[k].revents) {
                hh_observe(c, 1);
                break;
            }
    }
}

/* Nothing more must arrive for CH within a short while. */
static void
chat_expect_quiet(struct hh_ctx *c, struct chatter *ch, int n)
{
    char extra[64];
    hh_observe(c, 100);
    for (int i = 0; i < n; i++) {
        ssize_t r = recv(ch[i].fd, extra, sizeof extra, MSG_DONTWAIT);
        HH_CHECK(c, r < 0 && errno == EAGAIN,
                 "chatter %d (port %u) received %zd bytes more than expected",
                 i, ch[i].port, r);
    }
}

static struct hh_proc *
start_chat_server(struct hh_ctx *c, const char *const *opts)
{
    const char *args[8];
    int k = 0;
    for (; opts && opts[k]; k++)
        args[k] = opts[k];
    args[k++] = LOCAL;
    args[k++] = "0";
    args[k] = NULL;
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *srv = hh_startv(c, &opt, "poll_chat_server", args);
    hh_wait_listening(srv);
    return srv;
}

/* A harness user of SRV; waits for the server's "joined" line. */
static void
chat_join(struct hh_proc *srv, struct chatter *h, int rcvbuf)
{
    struct hh_ctx *c = srv->ctx;
    char re[96];

    memset(h, 0, sizeof *h);
    if (rcvbuf > 0) {
        /* set before connect, so the window is small from the start */
        h->fd = hh_track_fd(c, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        HH_CHECK(c, setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                               sizeof rcvbuf) == 0 &&
                        connect(h->fd, (struct sockaddr *)&srv->addr,
                                sizeof srv->addr) == 0,
                 "slow client: %s", strerror(errno));
        hh_note(c, "harness: a slow client with SO_RCVBUF %d, port %u",
                rcvbuf, hh_local_port(h->fd));
    } else {
        h->fd = hh_connect(c, &srv->addr, 2000);
    }
    h->port = hh_local_port(h->fd);
    snprintf(re, sizeof re, "^user joined: " LOCAL_RE ":%u, fd ",
             (unsigned)h->port);
    hh_expect_line(srv, re, 3000);
}

/* Send TEXT as chatter FROM and expect exactly TEXT at each of TO[0..n). */
static void
chat_say(struct hh_ctx *c, struct chatter *ch, int from, const int *to, int n,
         const char *text)
{
    struct chatter all[16];
    size_t len = strlen(text);

    HH_CHECK(c, n <= 16, "too many listeners");
    for (int i = 0; i < n; i++) {
        all[i] = ch[to[i]];
        all[i].tx_len = all[i].tx_off = 0;
        all[i].rx = arena_get(c, len);
        all[i].rx_len = 0;
        all[i].rx_want = len;
    }
    hh_send(c, ch[from].fd, text, len, 2000);
    chat_pump(c, all, n, 3000);
    for (int i = 0; i < n; i++) {
        char esc[256];
        HH_CHECK(c, memcmp(all[i].rx, text, len) == 0,
                 "port %u received \"%s\"", all[i].port,
                 hh_escape(all[i].rx, len, esc, sizeof esc));
    }
    hh_note(c, "harness: port %u said \"%.*s\"; %d other user(s) received "
               "exactly that", ch[from].port, (int)len - 1, text, n);
}

/* Message K of user U: "uUU mKKKK " and FILLER letters made from U and K,
 * then '\n'.  Returns its length. */
static size_t
make_message(char *out, int u, int k, size_t filler)
{
    int n = sprintf(out, "u%02d m%04d ", u, k);
    for (size_t j = 0; j < filler; j++)
        out[n + j] = (char)('a' + (u * 7 + k * 3 + (int)j) % 26);
    out[n + filler] = '\n';
    return n + filler + 1;
}

static size_t
filler_of(int u, int k, size_t base, size_t spread)
{
    return base + (spread ? (size_t)(u * 13 + k * 7) % spread : 0);
}

/* Give each of CH[0..n) MSGS messages to send (their user numbers are
 * their indexes); each is to receive those of the others in READERS. */
static void
chat_script(struct hh_ctx *c, struct chatter *ch, int n, int msgs,
            size_t base, size_t spread)
{
    char msg[4200];
    size_t total = 0;

    for (int u = 0; u < n; u++) {
        size_t len = 0;
        for (int k = 0; k < msgs; k++)
            len += make_message(msg, u, k, filler_of(u, k, base, spread));
        char *tx = arena_get(c, len);
        ch[u].tx = tx;
        ch[u].tx_len = len;
        for (int k = 0; k < msgs; k++)
            tx += make_message(tx, u, k, filler_of(u, k, base, spread));
        total += len;
    }
    for (int u = 0; u < n; u++) {
        ch[u].rx_want = total - ch[u].tx_len; /* everybody else's */
        ch[u].rx = arena_get(c, ch[u].rx_want);
    }
}

/* What SELF received must be every message of users 0..NUSERS-1 other
 * than itself, each exactly once, each user's in order, and whole. */
static void
chat_verify(struct hh_ctx *c, int self, const struct chatter *h, int nusers,
            int msgs, size_t base, size_t spread)
{
    int next[64] = {0};
    char want[4200];
    size_t pos = 0;

    while (pos < h->rx_len) {
        const char *line = h->rx + pos;
        const char *nl = memchr(line, '\n', h->rx_len - pos);
        int u, k;
        HH_CHECK(c, nl != NULL, "user %d: a line cut short", self);
        HH_CHECK(c, sscanf(line, "u%2d m%4d ", &u, &k) == 2 && u >= 0 &&
                        u < nusers,
                 "user %d received a garbled line \"%.40s\"", self, line);
        HH_CHECK(c, u != self, "user %d received its own message %d", self,
                 k);
        HH_CHECK(c, k == next[u], "user %d: from user %d got message %d, "
                                  "expected %d", self, u, k, next[u]);
        size_t len = make_message(want, u, k, filler_of(u, k, base, spread));
        HH_CHECK(c, (size_t)(nl - line) + 1 == len &&
                        memcmp(line, want, len) == 0,
                 "user %d: message %d of user %d arrived mangled", self, k,
                 u);
        next[u]++;
        pos += len;
    }
    for (int u = 0; u < nusers; u++)
        HH_CHECK(c, u == self || next[u] == msgs,
                 "user %d got %d of user %d's %d messages", self, next[u], u,
                 msgs);
}

static void
chat_relay(struct hh_ctx *c)
{
    struct chatter ch[3];
    struct hh_proc *srv = start_chat_server(c, NULL);
    for (int i = 0; i < 3; i++)
        chat_join(srv, &ch[i], 0);
    const int bc[] = {1, 2}, ac[] = {0, 2};
    chat_say(c, ch, 0, bc, 2, "hello from A\n");
    chat_say(c, ch, 1, ac, 2, "hello from B\n");
    chat_expect_quiet(c, ch, 3); /* nobody hears its own message */
    hh_expect_line(srv,
                   "^fd [0-9]+ says: \"hello from B\\\\n\" \\(13 bytes\\)$",
                   2000);
    hh_stop(srv);
}

static void
chat_user_limit(struct hh_ctx *c)
{
    struct chatter ch[6];
    char re[128], buf[64];
    struct hh_proc *srv = start_chat_server(c, NULL);
    for (int i = 0; i < 5; i++)
        chat_join(srv, &ch[i], 0);
    hh_note(c, "harness: a 6th user, beyond the book's limit of 5");
    int extra = hh_connect(c, &srv->addr, 2000);
    size_t n = hh_recv_all(c, extra, buf, sizeof buf, 3000);
    HH_CHECK(c, n == 15 && memcmp(buf, "too many users\n", 15) == 0,
             "the 6th user got %zu bytes, not the refusal then EOF", n);
    snprintf(re, sizeof re, "^refused " LOCAL_RE ":%u: too many users",
             (unsigned)hh_local_port(extra));
    hh_expect_line(srv, re, 2000);
    hh_close(c, ch[0].fd);
    snprintf(re, sizeof re, "^user left: " LOCAL_RE ":%u, fd [0-9]+ "
                            "\\(left\\) \\(4 of 5\\)$", (unsigned)ch[0].port);
    hh_expect_line(srv, re, 3000);
    hh_note(c, "harness: a user left: its slot is free again");
    chat_join(srv, &ch[5], 0);
    const int others[] = {1, 2, 3, 4};
    chat_say(c, ch, 5, others, 4, "I got in\n");
    hh_stop(srv);
}

static void
regress_9_7_user_limit_option(struct hh_ctx *c)
{
    struct chatter ch[2];
    char buf[64];
    const char *opts[] = {"-u", "2", NULL};
    struct hh_proc *srv = start_chat_server(c, opts);
    HH_CHECK(c, hh_output_has(srv, "^room for 2 users$"), "not -u 2");
    chat_join(srv, &ch[0], 0);
    chat_join(srv, &ch[1], 0);
    int extra = hh_connect(c, &srv->addr, 2000);
    size_t n = hh_recv_all(c, extra, buf, sizeof buf, 3000);
    HH_CHECK(c, n == 15 && memcmp(buf, "too many users\n", 15) == 0,
             "the 3rd user of -u 2 got %zu bytes, not the refusal", n);
    hh_stop(srv);
}

static void
regress_9_7_no_busy_loop(struct hh_ctx *c)
{
    struct chatter ch[3];
    struct hh_proc *srv = start_chat_server(c, NULL);
    for (int i = 0; i < 3; i++)
        chat_join(srv, &ch[i], 0);
    /* once POLLOUT has been set and cleared, the book's |= ~POLLOUT had
     * every bit set: poll() returned at once, for ever */
    const int bc[] = {1, 2};
    chat_say(c, ch, 0, bc, 2, "ping\n");
    long ms = idle_cpu_ms(srv, 1000);
    hh_note(c, "the server used %ld ms of CPU in 1 s of idling after the "
               "message", ms);
    HH_CHECK(c, ms < 50, "the idle server used %ld ms of CPU in 1 s", ms);
    hh_stop(srv);
}

static void
regress_9_7_broadcast_not_overwritten(struct hh_ctx *c)
{
    struct chatter ch[3];
    struct hh_proc *srv = start_chat_server(c, NULL);
    for (int i = 0; i < 3; i++)
        chat_join(srv, &ch[i], 0);
    /* three messages back to back: the book's one buffer per sender was
     * overwritten by the next before the others were sent the last */
    const int bc[] = {1, 2};
    chat_say(c, ch, 0, bc, 2, "one\ntwo\nthree\n");
    chat_expect_quiet(c, ch, 3);
    hh_expect_line(srv, "says: \"one\\\\n\"", 2000);
    hh_expect_line(srv, "says: \"two\\\\n\"", 2000);
    hh_expect_line(srv, "says: \"three\\\\n\"", 2000);
    hh_stop(srv);
}

static void
regress_9_7_many_users(struct hh_ctx *c)
{
    enum { USERS = 24, MSGS = 10, BASE = 20, SPREAD = 40 };
    struct chatter ch[USERS];
    const char *opts[] = {"-q", "-u", "32", NULL};
    struct hh_proc *srv = start_chat_server(c, opts);
    for (int i = 0; i < USERS; i++)
        chat_join(srv, &ch[i], 0);
    chat_script(c, ch, USERS, MSGS, BASE, SPREAD);
    hh_note(c, "harness: %d users send %d lines each, all at once", USERS,
            MSGS);
    chat_pump(c, ch, USERS, 10000);
    for (int i = 0; i < USERS; i++)
        chat_verify(c, i, &ch[i], USERS, MSGS, BASE, SPREAD);
    chat_expect_quiet(c, ch, USERS);
    hh_note(c, "every user received the other %d users' %d lines, each "
               "once, in order, whole; none its own", USERS - 1, MSGS);
    hh_stop(srv);
}

static void
regress_9_7_slow_user(struct hh_ctx *c)
{
    enum { FAST = 4, MSGS = 160, BASE = 1000, SPREAD = 0 };
    struct chatter ch[FAST + 1];
    const char *opts[] = {"-q", "-u", "8", NULL};
    struct hh_proc *srv = start_chat_server(c, opts);
    for (int i = 0; i < FAST; i++)
        chat_join(srv, &ch[i], 0);
    struct chatter *slow = &ch[FAST];
    chat_join(srv, slow, 4096);
    chat_script(c, ch, FAST, MSGS, BASE, SPREAD);
    slow->rx_want = 0;
    for (int i = 0; i < FAST; i++)
        slow->rx_want += ch[i].tx_len;
    slow->rx = arena_get(c, slow->rx_want);
    hh_note(c, "harness: %d users send %d lines of %d bytes each; the slow "
               "user reads nothing yet", FAST, MSGS, BASE + 11);
    chat_pump(c, ch, FAST, 10000);
    for (int i = 0; i < FAST; i++)
        chat_verify(c, i, &ch[i], FAST, MSGS, BASE, SPREAD);
    char re[96];
    snprintf(re, sizeof re, "^user left: " LOCAL_RE ":%u,",
             (unsigned)slow->port);
    HH_CHECK(c, hh_count_lines(srv, re) == 0, "the slow user was dropped");
    hh_note(c, "the %d fast users got all %zu bytes each while the slow "
               "one read nothing; now it reads", FAST, ch[0].rx_want);
    chat_pump(c, slow, 1, 10000);
    chat_verify(c, FAST, slow, FAST + 1, MSGS, BASE, SPREAD);
    hh_note(c, "the slow user received all %zu bytes, in order",
            slow->rx_len);
    hh_stop(srv);
}

static void
regress_9_7_vanished_user(struct hh_ctx *c)
{
    struct chatter ch[3];
    char re[128];
    const char *opts[] = {"-u", "8", NULL};
    struct hh_proc *srv = start_chat_server(c, opts);
    for (int i = 0; i < 3; i++)
        chat_join(srv, &ch[i], 0);
    const int a[] = {0};
    chat_say(c, ch, 1, a, 1, "queued for the one who vanishes\n");
    hh_send(c, ch[2].fd, "half a li", 9, 1000);
    hh_abort(c, ch[2].fd); /* mid-line, with unread data: RST */
    snprintf(re, sizeof re, "^user left: " LOCAL_RE ":%u, fd [0-9]+ "
                            "\\((ECONNRESET|EPIPE|POLLERR|left)\\)",
             (unsigned)ch[2].port);
    hh_expect_line(srv, re, 3000);
    const int b[] = {1};
    chat_say(c, ch, 0, b, 1, "still here?\n");
    chat_expect_quiet(c, ch, 2); /* and not "half a li" */
    hh_stop(srv);
}

static void
regress_9_7_message_before_leaving(struct hh_ctx *c)
{
    struct chatter ch[2];
    struct hh_proc *srv = start_chat_server(c, NULL);
    chat_join(srv, &ch[0], 0);
    chat_join(srv, &ch[1], 0);
    hh_note(c, "harness: SIGSTOP the server; a user says \"bye\" and closes");
    hh_kill(srv, SIGSTOP);
    hh_send(c, ch[0].fd, "bye\n", 4, 1000);
    hh_close(c, ch[0].fd);
    hh_kill(srv, SIGCONT);
    /* POLLIN and the FIN in one round: the line is relayed first */
    ch[1].rx = arena_get(c, 4);
    ch[1].rx_want = 4;
    chat_pump(c, &ch[1], 1, 3000);
    HH_CHECK(c, memcmp(ch[1].rx, "bye\n", 4) == 0, "the last words were "
                                                   "lost");
    hh_expect_line(srv, "^user left: .* \\(left\\)", 3000);
    hh_stop(srv);
}

/* Wait until the server's end of the connection from PORT is in STATE,
 * or (STATE -1) has left the kernel's table of connections (a reset
 * socket is unhashed at once, even before its program closes it; the
 * lookup then finds the listener). */
static void
await_server_state(struct hh_ctx *c, in_port_t server_port, in_port_t port,
                   int state)
{
    long long deadline = hh_now_ms() + hh_ms(c, 3000);
    for (;;) {
        int st = -1;
        if (hh_tcp_info(server_port, port, &st, NULL, NULL) < 0 ||
            st == TCP_LISTEN)
            st = -1;
        if (st == state)
            return;
        HH_CHECK(c, hh_now_ms() < deadline,
                 "the server's socket from port %u is %s, not %s",
                 (unsigned)port, st < 0 ? "gone" : hh_tcp_state_name(st),
                 state < 0 ? "gone" : hh_tcp_state_name(state));
        hh_observe(c, 1);
    }
}

/*
 * Peers that vanish with a reset, and the server lives on.  First a user
 * who does not read, with the server's queue for it backed up, resets
 * the connection; then, while the room is full and the server frozen, a
 * refused user half-closes and resets before the server answers it: the
 * connection the server accepts is already reset in CLOSE_WAIT, and its
 * refusal line is a send() that fails with EPIPE.  Without SIGPIPE
 * ignored (or MSG_NOSIGNAL) that send kills the server.  How it survives
 * is its business; that it does, and keeps relaying, is the test.
 */
static void
regress_9_7_reset_peers(struct hh_ctx *c)
{
    enum { MSGS = 300, BASE = 1000 };
    struct chatter ch[3];
    char re[128];
    const char *opts[] = {"-q", "-u", "3", NULL};
    struct hh_proc *srv = start_chat_server(c, opts);
    in_port_t sport = ntohs(srv->addr.sin_port);
    chat_join(srv, &ch[0], 0);
    chat_join(srv, &ch[1], 0);
    struct chatter *slow = &ch[2];
    chat_join(srv, slow, 4096);

    /* A talks, B reads, the slow user reads nothing */
    chat_script(c, ch, 1, MSGS, BASE, 0);
    ch[1].rx_want = ch[0].tx_len;
    ch[1].rx = arena_get(c, ch[1].rx_want);
    hh_note(c, "harness: A sends %d lines of %d bytes; B reads them, the "
               "slow user reads nothing", MSGS, BASE + 11);
    chat_pump(c, ch, 2, 10000);
    int st;
    long tx = 0, rx = 0;
    HH_CHECK(c, hh_tcp_info(sport, slow->port, &st, &tx, NULL) == 0 &&
                    hh_tcp_info(slow->port, sport, NULL, NULL, &rx) == 0 &&
                    tx > 0 && rx > 0,
             "the server's connection to the slow user has %ld bytes "
             "unacknowledged, %ld unread at the user: nothing backed up",
             tx, rx);
    hh_note(c, "kernel: %ld bytes unread at the slow user, %ld more in the "
               "server's send queue; the slow user resets (SO_LINGER 0)",
            rx, tx);
    hh_abort(c, slow->fd);
    snprintf(re, sizeof re, "^user left: " LOCAL_RE ":%u, ",
             (unsigned)slow->port);
    hh_expect_line(srv, re, 3000);
    const int b[] = {1};
    chat_say(c, ch, 0, b, 1, "still relaying?\n");

    /* the room full again, and one more who gives up at once */
    chat_join(srv, &ch[2], 0);
    hh_note(c, "harness: SIGSTOP the server; one more user connects, "
               "half-closes and resets before the server has accepted it");
    hh_kill(srv, SIGSTOP);
    hh_wait_state(srv, "Tt", 3000);
    int late = hh_connect(c, &srv->addr, 2000);
    in_port_t late_port = hh_local_port(late);
    HH_CHECK(c, shutdown(late, SHUT_WR) == 0, "shutdown: %s",
             strerror(errno));
    await_server_state(c, sport, late_port, TCP_CLOSE_WAIT);
    hh_abort(c, late);
    await_server_state(c, sport, late_port, -1);
    hh_note(c, "kernel: the server's end of it went CLOSE_WAIT, then the "
               "reset: a send() on it now fails with EPIPE");
    hh_kill(srv, SIGCONT);
    snprintf(re, sizeof re, "^refused " LOCAL_RE ":%u: too many users",
             (unsigned)late_port);
    hh_expect_line(srv, re, 3000);
    const int bc[] = {1, 2};
    chat_say(c, ch, 0, bc, 2, "anyone left?\n");
    hh_stop(srv);
}

/* A poll_chat_client, reading from the harness's pipe. */
static struct hh_proc *
start_chat_client(struct hh_ctx *c, const char *role, in_port_t port,
                  bool trace, const char *stdin_path)
{
    char p[8];
    snprintf(p, sizeof p, "%u", (unsigned)port);
    const char *args[] = {LOCAL, p, NULL};
    struct hh_spawn opt = {.role = role, .trace = trace ? "trace=splice" : NULL,
                           .must_trace = trace, .stdin_path = stdin_path};
    struct hh_proc *cl = hh_startv(c, &opt, "poll_chat_client", args);
    hh_expect_line(cl, "^connected to ", 3000);
    return cl;
}

static void
chat_clients_run(struct hh_ctx *c, bool trace)
{
    struct hh_proc *srv = start_chat_server(c, NULL);
    in_port_t port = ntohs(srv->addr.sin_port);
    struct hh_proc *a = start_chat_client(c, "client A", port, trace, NULL);
    hh_expect_line(srv, "^user joined: ", 3000);
    struct hh_proc *b = start_chat_client(c, "client B", port, false, NULL);
    hh_expect_line(srv, "^user joined: ", 3000);
    hh_write_stdin(a, "hello from A\n", 13, 2000);
    hh_expect_line(b, "^hello from A$", 3000);
    hh_write_stdin(b, "hello from B\n", 13, 2000);
    hh_expect_line(a, "^hello from B$", 3000);
    hh_observe(c, 100);
    HH_CHECK(c, !hh_output_has(a, "^hello from A$"),
             "client A received its own line");
    hh_stop(srv);
    hh_expect_line(a, "^the server closed the connection$", 3000);
    hh_expect_line(b, "^the server closed the connection$", 3000);
    hh_expect_exit(a, 0, 3000);
    hh_expect_exit(b, 0, 3000);
    if (trace) {
        int in = hh_trace_count(a, "splice\\(0, NULL, [0-9]+, NULL, .*\\) "
                                   "+= 13$");
        int out = hh_trace_count(a, "splice\\([0-9]+, NULL, [0-9]+, NULL, "
                                    "13, .*\\) += 13$");
        hh_note(c, "strace: client A spliced 13 bytes stdin -> pipe (%d) and "
                   "13 bytes pipe -> socket (%d)", in, out);
        HH_CHECK(c, in == 1 && out == 1,
                 "expected one splice from stdin and one to the socket, "
                 "got %d and %d", in, out);
    }
}

static void
chat_clients(struct hh_ctx *c)
{
    chat_clients_run(c, false);
}

static void
chat_client_splice(struct hh_ctx *c)
{
    chat_clients_run(c, true);
}

static void
regress_9_6_stdin_eof_no_spin(struct hh_ctx *c)
{
    struct sockaddr_in sa;
    char buf[16];
    int lfd = hh_listen(c, 0, &sa, 5);
    hh_note(c, "harness: a server of its own, which does not close");
    struct hh_proc *cl = start_chat_client(c, "client", ntohs(sa.sin_port),
                                           false, NULL);
    int fd = hh_accept(c, lfd, 3000);
    hh_write_stdin(cl, "bye\n", 4, 2000);
    hh_close_stdin(cl);
    size_t n = hh_recv_all(c, fd, buf, sizeof buf, 3000);
    HH_CHECK(c, n == 4 && memcmp(buf, "bye\n", 4) == 0,
             "the server received %zu bytes, not \"bye\\n\" then EOF", n);
    hh_expect_line(cl, "^end of input: no more to send$", 2000);
    long ms = idle_cpu_ms(cl, 1000);
    hh_note(c, "after the end of its input the client used %ld ms of CPU "
               "in 1 s", ms);
    HH_CHECK(c, ms < 50, "the client spins at end of input: %ld ms of CPU "
                         "in 1 s", ms);
    hh_send(c, fd, "still here\n", 11, 2000);
    hh_expect_line(cl, "^still here$", 3000);
    hh_close(c, fd);
    hh_expect_line(cl, "^the server closed the connection$", 3000);
    hh_expect_exit(cl, 0, 3000);
}

static void
regress_9_6_large_input_whole(struct hh_ctx *c)
{
    enum { SIZE = 1 << 20 };
    char path[256];
    size_t len;
    struct sockaddr_in sa;
    hh_make_file(c, "input", SIZE, 96, path, sizeof path);
    int lfd = hh_listen(c, 0, &sa, 5);
    struct hh_proc *cl = start_chat_client(c, "client", ntohs(sa.sin_port),
                                           false, path);
    int fd = hh_accept(c, lfd, 3000);
    char *got = arena_get(c, SIZE);
    size_t n = hh_recv_all(c, fd, got, SIZE, 10000);
    const char *want = hh_read_file(c, path, &len);
    HH_CHECK(c, n == SIZE && memcmp(got, want, SIZE) == 0,
             "the server received %zu bytes, not the %d bytes of the input "
             "file", n, SIZE);
    hh_note(c, "all %d bytes of stdin arrived, in order", SIZE);
    hh_close(c, fd);
    hh_expect_line(cl, "^the server closed the connection$", 3000);
    hh_expect_exit(cl, 0, 3000);
}

/* ---- 9-8 TCP and UDP on one port ----------------------------------------- */

/* Send LEN bytes in one datagram to PORT and return the reply's length,
 * its bytes in REPLY (CAP bytes). */
static size_t
udp_echo(struct hh_ctx *c, int fd, const struct sockaddr_in *to,
         const char *data, size_t len, char *reply, size_t cap)
{
    HH_CHECK(c, sendto(fd, data, len, 0, (const struct sockaddr *)to,
                       sizeof *to) == (ssize_t)len,
             "sendto: %s", strerror(errno));
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    HH_CHECK(c, poll(&pf, 1, hh_ms(c, 3000)) == 1,
             "no UDP reply to %zu bytes within %d ms", len, hh_ms(c, 3000));
    ssize_t n = recv(fd, reply, cap, MSG_TRUNC);
    HH_CHECK(c, n >= 0, "recv: %s", strerror(errno));
    hh_note(c, "harness: UDP %zu bytes out, a %zd-byte datagram back", len,
            n);
    return (size_t)n;
}

/* The inode of the socket in /proc/net/PROTO ("tcp", "udp") bound to
 * 127.0.0.1:PORT in kernel state STATE (0x0A LISTEN; 0x07, TCP_CLOSE, is
 * what an unconnected UDP socket shows); 0 if there is none. */
static unsigned long
net_inode(struct hh_ctx *c, const char *proto, in_port_t port, unsigned state)
{
    char path[64], line[512];
    unsigned long found = 0;
    snprintf(path, sizeof path, "/proc/net/%s", proto);
    FILE *f = fopen(path, "r");
    HH_CHECK(c, f != NULL, "open %s: %s", path, strerror(errno));
    while (!found && fgets(line, sizeof line, f)) {
        unsigned addr, lport, st;
        unsigned long ino;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, " %*u: %x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u "
                         "%lu", &addr, &lport, &st, &ino) == 4 &&
            addr == htonl(INADDR_LOOPBACK) && lport == port && st == state)
            found = ino;
    }
    fclose(f);
    return found;
}

/* True if one of PID's descriptors is the socket with inode INO. */
static bool
owns_socket(struct hh_ctx *c, pid_t pid, unsigned long ino)
{
    char want[48];
    snprintf(want, sizeof want, "socket:[%lu]", ino);
    return hh_holds_fd(c, pid, want);
}

static struct hh_proc *
start_echo(struct hh_ctx *c, const char *trace)
{
    const char *args[] = {LOCAL, "0", NULL};
    struct hh_spawn opt = {.role = "server", .trace = trace,
                           .must_trace = trace != NULL};
    struct hh_proc *srv = hh_startv(c, &opt, "tcp_udp_echo", args);
    hh_wait_listening(srv);
    return srv;
}

/* TCP "ping" to SA comes back as "ping", then EOF. */
static void
tcp_ping(struct hh_ctx *c, int fd)
{
    char buf[16];
    hh_send(c, fd, "ping", 4, 2000);
    shutdown(fd, SHUT_WR);
    size_t n = hh_recv_all(c, fd, buf, sizeof buf, 3000);
    HH_CHECK(c, n == 4 && memcmp(buf, "ping", 4) == 0,
             "TCP echo gave %zu bytes", n);
}

static void
tcp_udp_echo(struct hh_ctx *c)
{
    char reply[64], filter[32];
    struct hh_proc *srv = start_echo(c, NULL);
    struct hh_proc *cap = hh_maybe_capture(c, ntohs(srv->addr.sin_port));
    tcp_ping(c, hh_connect(c, &srv->addr, 2000));
    int u = hh_track_fd(c, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    size_t n = udp_echo(c, u, &srv->addr, "ping", 4, reply, sizeof reply);
    HH_CHECK(c, n == 4 && memcmp(reply, "ping", 4) == 0,
             "UDP echo of \"ping\" came back as %zu bytes", n);

    snprintf(filter, sizeof filter, "sport = :%s", srv->port);
    struct hh_proc *ss = hh_start(c, "ss", "ss", "-tulnpH", filter, NULL);
    hh_expect_exit(ss, 0, 3000);
    char tcp_re[96], udp_re[96];
    snprintf(tcp_re, sizeof tcp_re, "^tcp +LISTEN .*" LOCAL_RE ":%s ",
             srv->port);
    snprintf(udp_re, sizeof udp_re, "^udp +UNCONN .*" LOCAL_RE ":%s ",
             srv->port);
    HH_CHECK(c, hh_output_has(ss, tcp_re) && hh_output_has(ss, udp_re),
             "ss does not show a tcp LISTEN and a udp UNCONN socket on "
             "port %s", srv->port);
    /* whose sockets they are: from the kernel's tables, not from ss,
     * which names the owner only when it may look at its fds */
    in_port_t port = ntohs(srv->addr.sin_port);
    unsigned long tcp_ino = net_inode(c, "tcp", port, 0x0A); /* LISTEN */
    unsigned long udp_ino = net_inode(c, "udp", port, 0x07); /* UNCONN */
    HH_CHECK(c, tcp_ino && udp_ino,
             "/proc/net: no tcp LISTEN (inode %lu) or no udp socket (inode "
             "%lu) on 127.0.0.1:%u", tcp_ino, udp_ino, (unsigned)port);
    HH_CHECK(c, owns_socket(c, hh_pid(srv), tcp_ino) &&
                    owns_socket(c, hh_pid(srv), udp_ino),
             "the tcp listener (inode %lu) and the udp socket (inode %lu) "
             "are not both among the fds of the server (pid %d)", tcp_ino,
             udp_ino, (int)hh_pid(srv));
    hh_note(c, "/proc: tcp LISTEN inode %lu and udp inode %lu on port %u "
               "are both fds of pid %d", tcp_ino, udp_ino, (unsigned)port,
            (int)hh_pid(srv));
    hh_stop(srv);
    hh_capture_stop(cap);
}

/*
 * The edge-triggered TCP loop under load: 1 MiB each way while reading,
 * 100 messages back to back before any reading, then a reader that
 * stops until every buffer on the way is full and nothing moves.  The
 * 512-byte buffer makes each wake-up worth thousands of reads: a loop
 * that reads once per edge stalls with data left unread, one that drops
 * what send() refused loses bytes, one that never waits for EPOLLOUT
 * never resumes.  The byte-for-byte comparisons catch all three.
 */
static void
tcp_udp_echo_bulk(struct hh_ctx *c)
{
    enum { BIG = (1 << 20) + 3, MSGS = 100, STALLED = 12 << 20 };
    /* a line per read: tens of thousands, kept (hh_expect_line still
     * sees them) but not transcribed */
    const char *args[] = {LOCAL, "0", NULL};
    struct hh_spawn opt = {.role = "server", .raw = true};
    struct hh_proc *srv = hh_startv(c, &opt, "tcp_udp_echo", args);
    hh_wait_listening(srv);

    int a = hh_connect(c, &srv->addr, 2000);
    hh_echo_exchange(c, a, hh_pattern(c, BIG), BIG, 10000);
    hh_observe(c, 0);

    /* messages of 1 .. 2000 bytes, all sent before reading one echo */
    int b = hh_connect(c, &srv->addr, 2000);
    const char *pat = hh_pattern(c, MSGS * 2000);
    size_t total = 0;
    for (int i = 0; i < MSGS; i++) {
        size_t len = 1 + (size_t)(i * 397) % 2000;
        HH_CHECK(c, send(b, pat + total, len, MSG_NOSIGNAL) == (ssize_t)len,
                 "send of message %d (%zu bytes): %s", i, len,
                 strerror(errno));
        total += len;
    }
    HH_CHECK(c, shutdown(b, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    hh_note(c, "harness > %d messages, %zu bytes, back to back; then "
               "shutdown(SHUT_WR)", MSGS, total);
    char *back = hh_alloc(c, total + 1);
    size_t got = hh_recv_all(c, b, back, total + 1, 10000);
    HH_CHECK(c, got == total && memcmp(back, pat, total) == 0,
             "%zu bytes back, then EOF; %s", got,
             got == total ? "they differ from what was sent"
                          : "the messages were not echoed whole");
    hh_note(c, "harness < the %zu bytes, in order, then EOF", total);
    hh_observe(c, 0);

    int d = hh_connect(c, &srv->addr, 2000);
    hh_echo_stalled(c, d, STALLED, 300, 15000);
    hh_stop(srv);
}

static void
regress_9_8_udp_reply_length(struct hh_ctx *c)
{
    static char data[9000], reply[16384];
    const size_t sizes[] = {1, 4, 1500, 9000};
    struct hh_proc *srv = start_echo(c, NULL);
    int u = hh_track_fd(c, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('A' + i % 26);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = udp_echo(c, u, &srv->addr, data, sizes[i], reply,
                            sizeof reply);
        HH_CHECK(c, n == sizes[i] && memcmp(reply, data, n) == 0,
                 "a %zu-byte datagram came back as %zu bytes", sizes[i], n);
    }
    hh_stop(srv);
}

static void
regress_9_8_tcp_close_once(struct hh_ctx *c)
{
    int conn;
    char re[64];
    struct hh_proc *srv = start_echo(c, "trace=epoll_ctl,recvfrom,close");
    int fd = connect_accepted(srv, "tcp: ", &conn);
    tcp_ping(c, fd);
    snprintf(re, sizeof re, "^tcp fd %d: peer closed, closing$", conn);
    hh_expect_line(srv, re, 3000);
    hh_stop(srv);
    /* the read loop to EAGAIN is there because the connection is
     * edge-triggered: the listener and the UDP socket are not */
    int adds = hh_epoll_ctl_count(srv, "ADD", -1, NULL);
    int conn_et = hh_epoll_ctl_count(srv, "ADD", conn, "EPOLLET");
    int any_et = hh_epoll_ctl_count(srv, "(ADD|MOD)", -1, "EPOLLET");
    hh_note(c, "strace: %d epoll_ctl ADD; EPOLLET on connection fd %d: %d, "
               "on any fd: %d", adds, conn, conn_et, any_et);
    HH_CHECK(c, adds == 3 && conn_et == 1 && any_et == 1,
             "expected 3 registrations (listener, UDP, connection) with "
             "EPOLLET on the connection's only; got %d, %d on fd %d, %d in "
             "all", adds, conn_et, conn, any_et);
    snprintf(re, sizeof re, "close\\(%d\\) += 0", conn);
    int closes = hh_trace_count(srv, re);
    int ebadf = hh_trace_count(srv, "= -1 EBADF");
    hh_note(c, "strace: close(%d) %d time(s), %d call(s) failing with "
               "EBADF", conn, closes, ebadf);
    HH_CHECK(c, closes == 1 && ebadf == 0,
             "expected one close(%d) and no EBADF, got %d and %d", conn,
             closes, ebadf);
}

/* Start tcp_udp_echo on port 0 in a network namespace of its own, with
 * ephemeral ports LOW..HIGH and UDP port HELD taken. */
static struct hh_proc *
start_echo_netns(struct hh_ctx *c, const char *low, const char *high,
                 const char *held)
{
    char self[512], path[512];
    const char *args[] = {"--exec-netns", low, high, held,
                          hh_prog_path("tcp_udp_echo", path, sizeof path),
                          LOCAL, "0", NULL};
    hh_note(c, "harness: tcp_udp_echo starts through this test's "
               "launcher, in a network namespace with ephemeral ports "
               "%s..%s, UDP port %s taken", low, high, held);
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *srv = hh_startv(c, &opt, self_path(self, sizeof self),
                                    args);
    hh_expect_err(srv, "^launcher: (ready|cannot .*)$", 5000);
    if (strcmp(srv->groups[1], "ready") != 0)
        hh_skip(c, "%s", srv->groups[1]);
    return srv;
}

/* A socket of TYPE in the network namespace of PID, bound to 127.0.0.1:
 * PORT (the namespace's few ephemeral ports are all taken). */
static int
socket_in_netns(struct hh_ctx *c, pid_t pid, int type, in_port_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    HH_CHECK(c, ns >= 0 && home >= 0, "open netns: %s", strerror(errno));
    int ok = setns(ns, CLONE_NEWNET) == 0;
    int fd = ok ? socket(AF_INET, type | SOCK_CLOEXEC, 0) : -1;
    int e = errno;
    if (ok && setns(home, CLONE_NEWNET) != 0)
        abort(); /* stuck in the wrong namespace: nothing else is safe */
    close(ns);
    close(home);
    errno = e;
    hh_track_fd(c, fd);
    HH_CHECK(c, bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0,
             "bind %u in the namespace: %s", port, strerror(errno));
    return fd;
}

static void
regress_9_8_port0_retry(struct hh_ctx *c)
{
    char reply[16];
    struct hh_proc *srv = start_echo_netns(c, "40000", "40001", "40001");
    hh_wait_listening(srv);
    bool retried = hh_output_has(srv, "^udp port 40001 is taken");
    hh_note(c, "the server listens on port %s%s", srv->port,
            retried ? ", after the UDP bind to 40001 failed" : "");
    HH_CHECK(c, strcmp(srv->port, "40000") == 0,
             "listening on %s: only 40000 is free for both", srv->port);
    pid_t pid = hh_pid(srv);
    int t = socket_in_netns(c, pid, SOCK_STREAM, 40100);
    HH_CHECK(c, connect(t, (struct sockaddr *)&srv->addr,
                        sizeof srv->addr) == 0,
             "connect in the namespace: %s", strerror(errno));
    /* the harness's reads wait in poll, with a deadline: a blocking
     * socket would wait in recv without one */
    HH_CHECK(c, fcntl(t, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK: %s",
             strerror(errno));
    tcp_ping(c, t);
    int u = socket_in_netns(c, pid, SOCK_DGRAM, 40100);
    size_t n = udp_echo(c, u, &srv->addr, "ping", 4, reply, sizeof reply);
    HH_CHECK(c, n == 4, "UDP echo gave %zu bytes", n);
    hh_stop(srv);

    /* one port in the range, and UDP has it: no pair exists */
    srv = start_echo_netns(c, "40000", "40000", "40000");
    hh_expect_line(srv, "^udp port 40000 is taken: trying another port$",
                   3000);
    hh_expect_err(srv, "bind tcp .*\\(EADDRINUSE\\)", 3000);
    hh_expect_exit(srv, 1, 3000);
}

static void
regress_9_8_accept_failure(struct hh_ctx *c)
{
    accept_emfile(c, "tcp_udp_echo", 3); /* listener, udp, epoll */
}

/* ---- bad input, for every program ---------------------------------------- */

#define UDP_BUSY "@UDP_BUSY@" /* a port the test holds for UDP only */

/*
 * A UDP port the test holds, where tcp_udp_echo gets its TCP bind and then
 * fails on UDP.  The test also binds the TCP port, with SO_REUSEADDR and
 * without listening: that keeps other programs' connections off it, and
 * still lets the server (SO_REUSEADDR too) bind and listen there.
 */
static in_port_t
hold_udp_only(struct hh_ctx *c)
{
    for (int tries = 0; tries < 20; tries++) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        int one = 1;
        int u = hh_track_fd(c, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        HH_CHECK(c, bind(u, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                        getsockname(u, (struct sockaddr *)&sa, &len) == 0,
                 "udp bind: %s", strerror(errno));
        int t = hh_track_fd(c, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(t, (struct sockaddr *)&sa, sizeof sa) == 0)
            return ntohs(sa.sin_port);
        hh_close(c, t); /* some connection has that TCP port: another */
        hh_close(c, u);
    }
    hh_fail(c, "no UDP port with a free TCP twin in 20 tries");
}

/* UDP_BUSY in a row: a UDP port held as above */
static void
make_udp_busy(struct hh_ctx *c, char *out, size_t cap)
{
    snprintf(out, cap, "%u", hold_udp_only(c));
}

/* ---- the table ----------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    /* 9-1 */
    {"select_oob", "9-1",
     "select(): urgent data is an exceptional condition, normal data is "
     "readable",
     "'c' came through the exception set and MSG_OOB, once; the normal "
     "reads stopped at the urgent mark and gave \"123ab\" and \"123\".",
     0, select_oob},
    {"regress_9_1_exception_set_first", "9-1",
     "both sets ready at once: the exception set is served first",
     "everything was queued before the first select(): 'c' comes out "
     "first; the book's read-set-first order would step over it and lose "
     "it.",
     HH_REGRESSION, regress_9_1_exception_set_first},
    {"select_oob_inline", "9-1",
     "select with SO_OOBINLINE (-i): the urgent byte stays in the stream",
     "\"123ab\" then \"c123\": the read still stops at the mark, but 'c' is "
     "normal data now and MSG_OOB fails with EINVAL.",
     0, select_oob_inline},
    {"regress_9_1_fd_setsize_refused", "9-1",
     "a connection on fd >= FD_SETSIZE is refused before FD_SET",
     "FD_SET(1025) would write past the fd_set: the program says so and "
     "exits 1 without calling select.",
     HH_NEED_STRACE | HH_FAILURE_PATH, regress_9_1_fd_setsize_refused},
    {"regress_9_1_accept_failure", "9-1",
     "a failed accept() ends the program with the reason",
     "out of descriptors, accept fails with EMFILE: reported and exit 1, "
     "where the book went on with fd -1.",
     HH_NEED_STRACE | HH_FAILURE_PATH, regress_9_1_accept_failure},
    /* 9-3 */
    {"epoll_lt", "9-3",
     "level-triggered epoll: one arrival, a wake-up for every read",
     "40 bytes, 9-byte reads: 5 wake-ups, each followed by one read; LT "
     "reports the fd for as long as data is left.",
     0, epoll_lt},
    {"epoll_et", "9-3",
     "edge-triggered epoll: one arrival, one wake-up, read until EAGAIN",
     "1 wake-up for the same 40 bytes: the handler must read 5 times, to "
     "EAGAIN, or the rest waits for the next arrival.",
     0, epoll_et},
    {"epoll_lt_et_syscalls", "9-3",
     "epoll_wait returns, counted by strace: LT against ET",
     "7 returns with events in LT against 3 in ET (accept, the data, the "
     "close): LT pays one system call per read.",
     HH_NEED_STRACE, epoll_lt_et_syscalls},
    {"regress_9_3_et_close_breaks", "9-3",
     "ET read loop: a 0-byte read closes the fd once and leaves the loop",
     "one close per connection, no call on a closed fd (EBADF); the book "
     "read the closed fd and closed it again.",
     HH_NEED_STRACE | HH_REGRESSION, regress_9_3_et_close_breaks},
    {"regress_9_3_listener_burst", "9-3",
     "connections that arrive together are all accepted",
     "the listener stays level-triggered: 4 queued connections, 4 accepts; "
     "the book's ET listener with one accept per wake-up left 3 waiting.",
     HH_REGRESSION, regress_9_3_listener_burst},
    {"regress_9_3_accept_failure", "9-3",
     "epoll_lt_et: a failed accept() is reported, not registered",
     "accept fails with EMFILE: reported, exit 1.",
     HH_NEED_STRACE | HH_FAILURE_PATH,
     regress_9_3_accept_failure},
    /* 9-4 */
    {"epoll_oneshot_one_worker", "9-4",
     "EPOLLONESHOT: one worker per connection at a time",
     "\"b\" and \"c\" arrived while the worker was busy with \"a\": no "
     "second worker started; the same one read \"bc\" after its work, "
     "while another served the second client.",
     0, epoll_oneshot_one_worker},
    {"epoll_oneshot_off_overlaps", "9-4",
     "without EPOLLONESHOT (-n): two workers on one connection",
     "the edge for \"b\" started a second worker on the fd while the first "
     "was still busy with it.",
     0, epoll_oneshot_off_overlaps},
    {"epoll_oneshot_flags", "9-4",
     "strace: connections registered EPOLLET|EPOLLONESHOT, re-armed once "
     "per job",
     "each connection is added with EPOLLIN|EPOLLET|EPOLLONESHOT (without "
     "-n) and each worker that ran out of data re-arms it with one "
     "EPOLL_CTL_MOD; the listener is plain EPOLLIN.  With -n: no "
     "EPOLLONESHOT, no MOD.",
     HH_NEED_STRACE, epoll_oneshot_flags},
    {"regress_9_4_thread_arg_copied", "9-4",
     "8 connections at once: each worker gets its own copy of its fd",
     "every connection's bytes were read by workers on that connection, "
     "never two at once; the book passed a pointer into the loop.",
     HH_REGRESSION, regress_9_4_thread_arg_copied},
    {"regress_9_4_workers_joined", "9-4",
     "SIGTERM during work: the workers are woken, joined, exit 0",
     "the worker left its 60 s of work at once; the main thread joined it "
     "and closed everything.",
     HH_REGRESSION, regress_9_4_workers_joined},
    {"regress_9_4_recv_error_closes", "9-4",
     "a recv() error ends the worker and closes the connection",
     "ECONNRESET is reported and the fd closed; the book looped on any "
     "error other than EAGAIN.",
     HH_REGRESSION, regress_9_4_recv_error_closes},
    {"regress_9_4_next_read_is_clean", "9-4",
     "re-armed with EPOLL_CTL_MOD: the next message is read, and only it",
     "after \"abcdefgh\" the re-armed fd delivered \"y\", printed as 1 "
     "byte, with nothing left over from the first read.",
     HH_REGRESSION, regress_9_4_next_read_is_clean},
    {"regress_9_4_n_fd_not_reused_early", "9-4",
     "-n: a connection's number is not handed on while a worker holds it",
     "A closed while two workers were busy with it: they still saw A's "
     "end, the last one closed it once, and client B, accepted meanwhile, "
     "kept its own connection.",
     HH_REGRESSION, regress_9_4_n_fd_not_reused_early},
    {"regress_9_4_listener_burst", "9-4",
     "epoll_oneshot: connections that arrive together are all accepted",
     "level-triggered listener: 4 queued connections, 4 accepts.",
     HH_REGRESSION,
     regress_9_4_listener_burst},
    /* 9-5 */
    {"nonblock_connect_ok", "9-5",
     "non-blocking connect: EINPROGRESS, then writable, SO_ERROR 0",
     "even on loopback connect returns EINPROGRESS; select reports the "
     "socket writable and SO_ERROR says 0.",
     0, nonblock_connect_ok},
    {"nonblock_connect_refused", "9-5",
     "non-blocking connect to a closed port: ECONNREFUSED from SO_ERROR",
     "the RST comes back at once: writable within milliseconds, SO_ERROR "
     "ECONNREFUSED.",
     0, nonblock_connect_refused},
    {"nonblock_connect_timeout", "9-5",
     "non-blocking connect to a full accept queue: timeout after -t 1500ms",
     "the kernel drops the SYN while the queue is full, so the client "
     "stays in SYN_SENT until select gives up after 1.5 s.",
     0, nonblock_connect_timeout},
    {"nonblock_connect_syn_dropped", "9-5",
     "the same timeout on the wire: SYNs, and no answer",
     "tcpdump sees the client's SYN (and its retransmission) and nothing "
     "back: no SYN-ACK, no RST, so select can only time out.",
     HH_NEED_TCPDUMP, nonblock_connect_syn_dropped},
    {"regress_9_5_write_set_initialised", "9-5",
     "FD_ZERO clears the write set that select() uses",
     "strace shows the write set holding just the socket; the book cleared "
     "the read set and passed garbage.",
     HH_NEED_STRACE | HH_REGRESSION, regress_9_5_write_set_initialised},
    {"regress_9_5_immediate_failure", "9-5",
     "connect() failing at once is reported, and the socket closed",
     "ENETUNREACH from connect itself; the book called it 'not supported' "
     "and leaked the socket.",
     HH_NEED_STRACE | HH_FAILURE_PATH, regress_9_5_immediate_failure},
    {"regress_9_5_fd_setsize_refused", "9-5",
     "a socket on fd >= FD_SETSIZE is refused before FD_SET",
     "fd 1024: refused with a message, no select call.",
     HH_NEED_STRACE | HH_FAILURE_PATH,
     regress_9_5_fd_setsize_refused},
    /* 9-6 / 9-7 */
    {"chat_relay", "9-7", "the poll chat room: a line reaches every other user",
     "A's line reached B and C and not A; nothing else arrived.", 0,
     chat_relay},
    {"chat_user_limit", "9-7",
     "the room holds 5 users; a 6th is refused, a free slot is reused",
     "the 6th got \"too many users\" then EOF; after one left, a new user "
     "got in.",
     0, chat_user_limit},
    {"chat_clients", "9-6/9-7",
     "two poll_chat_clients talk through the server",
     "a line written to A's stdin came out on B's stdout; when the server "
     "stopped, both said so and exited 0.",
     0, chat_clients},
    {"chat_client_splice", "9-6",
     "the chat client moves stdin to the socket with splice()",
     "13 bytes stdin -> pipe, 13 bytes pipe -> socket: the line never "
     "entered the client's memory.",
     HH_NEED_STRACE, chat_client_splice},
    {"regress_9_6_stdin_eof_no_spin", "9-6",
     "at the end of its input the client half-closes and sleeps",
     "the server saw EOF; the client used almost no CPU afterwards and "
     "still printed what the server sent.",
     HH_REGRESSION, regress_9_6_stdin_eof_no_spin},
    {"regress_9_6_large_input_whole", "9-6",
     "1 MiB of stdin reaches the server whole (partial splices continued)",
     "every byte arrived in order; the book left what a short splice did "
     "not move in the pipe.",
     HH_REGRESSION, regress_9_6_large_input_whole},
    {"regress_9_7_no_busy_loop", "9-7",
     "POLLOUT cleared with &= ~: the idle server sleeps",
     "under 50 ms of CPU in 1 s after traffic; the book's |= ~POLLOUT set "
     "every bit and spun.",
     HH_REGRESSION, regress_9_7_no_busy_loop},
    {"regress_9_7_broadcast_not_overwritten", "9-7",
     "three lines back to back reach every other user, in order",
     "each user has its own output queue; the book's single buffer per "
     "sender was overwritten by the next line.",
     HH_REGRESSION, regress_9_7_broadcast_not_overwritten},
    {"regress_9_7_many_users", "9-7",
     "24 users talking at once: every line delivered once, in order, whole",
     "each user received all 230 lines of the others and none of its own, "
     "no line mixed with another.",
     HH_REGRESSION, regress_9_7_many_users},
    {"regress_9_7_slow_user", "9-7",
     "a user who does not read does not hold up the others",
     "the fast users got everything while the slow one's queue grew; then "
     "the slow one got all of it, in order.",
     HH_REGRESSION, regress_9_7_slow_user},
    {"regress_9_7_user_limit_option", "9-7",
     "-u 2: the room size is an option", "the 3rd user was refused.",
     HH_REGRESSION,
     regress_9_7_user_limit_option},
    {"regress_9_7_vanished_user", "9-7",
     "a user who vanishes mid-line (RST) is removed; the server goes on",
     "the half line was dropped with its sender; the others still talk.",
     HH_REGRESSION, regress_9_7_vanished_user},
    {"regress_9_7_message_before_leaving", "9-7",
     "a line sent just before closing is still relayed",
     "data and FIN in one poll round: the line went out before the user "
     "was removed.",
     HH_REGRESSION, regress_9_7_message_before_leaving},
    {"regress_9_7_reset_peers", "9-7",
     "users who reset their connection do not take the server with them",
     "a reset user with output queued is dropped; a refusal sent to a "
     "connection already reset fails with EPIPE, an error return, not "
     "SIGPIPE: the server goes on relaying.",
     HH_REGRESSION, regress_9_7_reset_peers},
    /* 9-8 */
    {"tcp_udp_echo", "9-8", "TCP and UDP echoed on one port by one epoll loop",
     "\"ping\" came back on both; ss shows tcp LISTEN and udp UNCONN on the "
     "same port, both the server's.",
     0, tcp_udp_echo},
    {"tcp_udp_echo_bulk", "9-8",
     "TCP echo under load: 1 MiB, 100 messages back to back, a stalled "
     "reader",
     "the edge-triggered loop reads and sends until EAGAIN on every "
     "wake-up; what the slow reader could not take waits in the "
     "connection's buffer until EPOLLOUT.  Every byte came back, in "
     "order.",
     0, tcp_udp_echo_bulk},
    {"regress_9_8_udp_reply_length", "9-8",
     "a UDP reply is exactly the datagram received",
     "1, 4, 1500 and 9000 bytes came back as 1, 4, 1500 and 9000; the book "
     "always sent 1023.",
     HH_REGRESSION, regress_9_8_udp_reply_length},
    {"regress_9_8_tcp_close_once", "9-8",
     "TCP read loop: a 0-byte read closes the fd once",
     "one close, no EBADF.",
     HH_NEED_STRACE | HH_REGRESSION, regress_9_8_tcp_close_once},
    {"regress_9_8_port0_retry", "9-8",
     "port 0: when UDP has the TCP port, another port is tried",
     "with ports 40000-40001 and UDP 40001 taken the server ends up on "
     "40000; with no pair at all it says so and exits 1.",
     HH_NEED_ROOT | HH_FAILURE_PATH, regress_9_8_port0_retry},
    {"regress_9_8_accept_failure", "9-8",
     "tcp_udp_echo: a failed accept() is reported",
     "accept fails with EMFILE: reported, exit 1.",
     HH_NEED_STRACE | HH_FAILURE_PATH,
     regress_9_8_accept_failure},
};

/*
 * The programs: what TRACE=1 shows of each (the calls its listing
 * teaches), and its bad command lines (a bad_input_<name> scenario each).
 */
static const struct hh_program programs[] = {
    {.name = "select_oob_recv", .listing = "9-1",
     .syscalls = "trace=select,pselect6,recvfrom,setsockopt",
     .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM, .args = HH_ARGS_IP_PORT,
     HH_ROWS(HH_SERVER_IN_USE("-i", ),
             {{"-i", LOCAL, "x", NULL}, 2, "port 'x'"},
             {{"-i", "localhost", "0", NULL}, 2, "IP 'localhost'"})},
    /* chapter 5's client, the peer of 9-1 */
    {.name = "oob_send", .syscalls = "trace=connect,sendto"},
    {.name = "epoll_lt_et", .listing = "9-3",
     .syscalls = "trace=epoll_create1,epoll_ctl,epoll_wait,epoll_pwait,"
                 "accept,recvfrom,close",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS(HH_SERVER_IN_USE("-e", ),
             {{"-x", LOCAL, "0", NULL}, 2, HH_USAGE},
             {{"-e", LOCAL, "x", NULL}, 2, "port 'x'"})},
    {.name = "epoll_oneshot", .listing = "9-4",
     .syscalls = "trace=epoll_ctl,epoll_wait,epoll_pwait,recvfrom,"
                 "clone,clone3",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS(HH_SERVER_IN_USE("-n", "-w", "0", ),
             {{"-w", "soon", LOCAL, "0", NULL}, 2,
              "work time 'soon': not a duration"},
             {{"-w", "-1", LOCAL, "0", NULL}, 2,
              "work time '-1': not a duration"},
             {{"-w", "99999999999", LOCAL, "0", NULL}, 2,
              "work time '99999999999': out of range"},
             {{"-w", NULL}, 2, HH_USAGE})},
    {.name = "nonblock_connect", .listing = "9-5",
     .syscalls = "trace=fcntl,connect,select,pselect6,getsockopt",
     .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-t", "1.5ms", LOCAL, "1", NULL}, 2,
              "timeout '1\\.5ms': milliseconds are whole numbers"},
             {{"-t", "-1", LOCAL, "1", NULL}, 2,
              "timeout '-1': not a duration"},
             {{"-t", "x", LOCAL, "1", NULL}, 2, "timeout 'x': not a duration"},
             {{"-t", "1", LOCAL, "x", NULL}, 2, "port 'x'"})},
    {.name = "poll_chat_client", .listing = "9-6",
     .syscalls = "trace=poll,ppoll,splice,shutdown", .args = HH_ARGS_IP_PORT,
     HH_ROWS({{LOCAL, "1", NULL}, 1, "connect.*\\(ECONNREFUSED\\)"},
             {{"-x", LOCAL, "1", NULL}, 2, HH_USAGE})},
    {.name = "poll_chat_server", .listing = "9-7",
     .syscalls = "trace=poll,ppoll,accept,recvfrom,sendto",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS(HH_SERVER_IN_USE("-q", ),
             {{"-u", "0", LOCAL, "0", NULL}, 2, "users '0'"},
             {{"-u", "x", LOCAL, "0", NULL}, 2, "users 'x'"},
             {{"-u", "5000", LOCAL, "0", NULL}, 2, "users '5000'"})},
    {.name = "tcp_udp_echo", .listing = "9-8",
     .syscalls = "trace=bind,epoll_ctl,epoll_wait,epoll_pwait,recvfrom,"
                 "sendto",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS({{LOCAL, UDP_BUSY, NULL}, 1, "bind udp .*\\(EADDRINUSE\\)"},
             {{"-u", LOCAL, "0", NULL}, 2, HH_USAGE})},
    {.name = "ss", .flags = HH_PROG_TOOL},
};

static const struct hh_placeholder placeholders[] = {
    {UDP_BUSY, make_udp_busy},
};

static const struct hh_chapter chapter = {
    .name = "ch09-multiplex",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
    HH_TABLE(placeholders),
};

/* ---- the launcher -------------------------------------------------------- */

/* Say why the launcher cannot do its job (the test skips), and exit. */
static void __attribute__((noreturn))
cannot(const char *what)
{
    fprintf(stderr, "launcher: cannot %s: %s\n", what, strerror(errno));
    exit(77);
}

/* --exec-fds NOFILE LOWEST PROG ARGS... */
static void
exec_with_fds(char **argv)
{
    struct rlimit rl;
    long nofile = atol(argv[0]), lowest = atol(argv[1]);

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        cannot("getrlimit");
    if (rl.rlim_max < (rlim_t)nofile)
        rl.rlim_max = (rlim_t)nofile;
    rl.rlim_cur = (rlim_t)nofile;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        cannot("raise RLIMIT_NOFILE");
    int null = open("/dev/null", O_RDONLY);
    if (null < 0)
        cannot("open /dev/null");
    for (int fd = 3; fd < lowest; fd++)
        if (fd != null && fcntl(fd, F_GETFD) < 0 && dup2(null, fd) < 0)
            cannot("fill the descriptor table");
    if (null >= lowest)
        close(null);
    fprintf(stderr, "launcher: ready\n");
    execv(argv[2], &argv[2]);
    fprintf(stderr, "launcher: exec %s: %s\n", argv[2], strerror(errno));
    exit(127);
}

/* --exec-netns LOW HIGH UDPPORT PROG ARGS... */
static void
exec_in_netns(char **argv)
{
    struct ifreq ifr;
    struct sockaddr_in sa = {.sin_family = AF_INET};

    if (unshare(CLONE_NEWNET) < 0)
        cannot("unshare a network namespace (needs CAP_SYS_ADMIN)");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        cannot("read the flags of lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        cannot("bring lo up");
    close(s);
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "w");
    if (f == NULL || fprintf(f, "%s %s\n", argv[0], argv[1]) < 0 ||
        fclose(f) != 0)
        cannot("set ip_local_port_range");
    /* held open across exec: the program keeps it, and so the port */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((in_port_t)atoi(argv[2]));
    if (u < 0 || bind(u, (struct sockaddr *)&sa, sizeof sa) < 0)
        cannot("take the UDP port");
    fprintf(stderr, "launcher: ready\n");
    execv(argv[3], &argv[3]);
    fprintf(stderr, "launcher: exec %s: %s\n", argv[3], strerror(errno));
    exit(127);
}

int
main(int argc, char **argv)
{
    if (argc > 4 && strcmp(argv[1], "--exec-fds") == 0)
        exec_with_fds(argv + 2);
    if (argc > 5 && strcmp(argv[1], "--exec-netns") == 0)
        exec_in_netns(argv + 2);
    return hh_run_chapter(argc, argv, &chapter);
}
