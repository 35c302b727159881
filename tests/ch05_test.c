/*
 * ch05_test.c - chapter 5, the socket API: one scenario per lesson.
 *
 * Each scenario runs the chapter's programs against loopback peers and
 * asserts on what they did: the bytes that crossed, the lines they
 * printed, their exit status, the kernel's socket states and (with
 * tcpdump) the packets.  The same table is the chapter's demo
 * (`make demo CH=ch05`) and its lab grading (PROG_<name>=...).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- 5-1 byte order ---------------------------------------------------- */

static void
byte_order(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "byte_order", "byte_order", NULL);
    const char *want =
        __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "little endian"
        : __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__  ? "big endian"
                                                  : "unknown";
    hh_expect_line(p, "^byte order: (.*)$", 2000);
    HH_CHECK(c, strcmp(p->groups[1], want) == 0,
             "byte_order says '%s', the compiler says '%s'", p->groups[1],
             want);
    /* network order is big endian everywhere: 0x01 first in memory */
    hh_expect_line(p, "^htons\\(0x0102\\) in memory: 01 02$", 2000);
    hh_expect_exit(p, 0, 2000);
}

/* ---- 5-3 listen backlog ------------------------------------------------ */

enum { BACKLOG = 3, SURPLUS = 5 }; /* clients: BACKLOG + SURPLUS */

/* Wait until WANT of the N non-blocking connects have completed (the
 * socket turns writable); returns how many completed by the deadline. */
static int
count_connected(struct hh_ctx *c, const int *fds, int n, int want,
                int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    int done = 0;
    for (;;) {
        struct pollfd pf[BACKLOG + SURPLUS];
        for (int i = 0; i < n; i++)
            pf[i] = (struct pollfd){.fd = fds[i], .events = POLLOUT};
        long long left = deadline - hh_now_ms();
        int r = poll(pf, n, left > 0 ? (int)left : 0);
        HH_CHECK(c, r >= 0, "poll: %s", strerror(errno));
        done = 0;
        for (int i = 0; i < n; i++)
            done += (pf[i].revents & POLLOUT) != 0;
        if (done >= want || left <= 0)
            return done;
        /* poll returned with fewer than WANT: some are connected and
         * stay writable, so wait on the others only */
        int rest[BACKLOG + SURPLUS], m = 0;
        for (int i = 0; i < n; i++)
            if (!(pf[i].revents & POLLOUT))
                rest[m++] = fds[i];
        int more = count_connected(c, rest, m, want - done,
                                   (int)((deadline - hh_now_ms()) / c->scale));
        return done + more;
    }
}

static void
listen_backlog(struct hh_ctx *c)
{
    char backlog[16];
    snprintf(backlog, sizeof backlog, "%d", BACKLOG);
    struct hh_proc *srv = hh_start(c, "server", "listen_backlog", "127.0.0.1",
                                   "0", backlog, NULL);
    hh_wait_listening(srv);
    in_port_t port = ntohs(srv->addr.sin_port);

    int fds[BACKLOG + SURPLUS];
    hh_note(c, "harness: %d non-blocking connects, 20 ms apart, never "
               "accepted", BACKLOG + SURPLUS);
    for (int i = 0; i < BACKLOG + SURPLUS; i++) {
        fds[i] = hh_connect_start(c, &srv->addr);
        hh_observe(c, 20); /* spacing, as the book's clients */
    }
    int ok = count_connected(c, fds, BACKLOG + SURPLUS, BACKLOG + 1, 2000);
    HH_CHECK(c, ok == BACKLOG + 1,
             "%d connections completed, expected backlog+1 = %d", ok,
             BACKLOG + 1);
    /* the rest must stay pending: watch them for 300 ms */
    hh_observe(c, 300);
    ok = count_connected(c, fds, BACKLOG + SURPLUS, BACKLOG + SURPLUS, 0);
    int est_srv = hh_tcp_count("01", port, 0);
    int est_cli = hh_tcp_count("01", 0, port);
    int syn_sent = hh_tcp_count("02", 0, port);
    int syn_recv = hh_tcp_count("03", port, 0);
    hh_note(c, "kernel: server ESTABLISHED %d, client ESTABLISHED %d, "
               "client SYN_SENT %d, server SYN_RECV %d",
            est_srv, est_cli, syn_sent, syn_recv);
    HH_CHECK(c, ok == BACKLOG + 1,
             "after 300 ms %d connections completed, expected %d", ok,
             BACKLOG + 1);
    HH_CHECK(c, est_srv == BACKLOG + 1 && est_cli == BACKLOG + 1,
             "ESTABLISHED: server %d, client %d, expected %d each", est_srv,
             est_cli, BACKLOG + 1);
    HH_CHECK(c, syn_sent == SURPLUS - 1 && syn_recv == 0,
             "surplus: %d SYN_SENT (expected %d), %d SYN_RECV (expected 0)",
             syn_sent, SURPLUS - 1, syn_recv);

    /* ss shows the accept queue: Recv-Q = queued, Send-Q = backlog */
    char filter[32];
    snprintf(filter, sizeof filter, "sport = :%u", (unsigned)port);
    struct hh_proc *ss = hh_start(c, "ss", "ss", "-ltnH", filter, NULL);
    hh_expect_line(ss, "^LISTEN +([0-9]+) +([0-9]+) ", 2000);
    HH_CHECK(c, atoi(ss->groups[1]) == BACKLOG + 1 &&
                    atoi(ss->groups[2]) == BACKLOG,
             "ss: Recv-Q %s Send-Q %s, expected %d and %d", ss->groups[1],
             ss->groups[2], BACKLOG + 1, BACKLOG);
    hh_expect_exit(ss, 0, 2000);

    hh_stop(srv);
    HH_CHECK(c, hh_output_has(srv, "^stopped by signal"),
             "listen_backlog did not report the signal");
}

/* ---- 5-5 accept of a connection that is already gone ------------------- */

/* How many connections wait in the accept queue of the listener on
 * 127.0.0.1:PORT: the receive queue sock_diag reports for a listener (ss
 * -lt shows it as Recv-Q); -1 if there is none.  The lookup of PORT with
 * no peer finds the listener (no connection has peer port 0). */
static int
accept_queue(in_port_t port)
{
    int state;
    long rx;
    if (hh_tcp_info(port, 0, &state, NULL, &rx) < 0 || state != TCP_LISTEN)
        return -1;
    return (int)rx;
}

/*
 * The client connects and leaves (FIN, or RST) while the server sleeps
 * before accept.  The kernel shows the connection still in the accept
 * queue, the server's side in CLOSE_WAIT after the FIN (gone from the
 * tables after the RST); then the queue empties when the program accepts.
 */
static void
accept_gone(struct hh_ctx *c, bool rst)
{
    /* the window: a server that does not wait has accepted within it */
    int delay = hh_ms(c, 800), window = hh_ms(c, 200);
    char arg[24];
    snprintf(arg, sizeof arg, "%dms", delay);
    long long t0 = hh_now_ms(); /* its sleep starts after this */
    struct hh_proc *srv = hh_start(c, "server", "accept_delayed", "-d", arg,
                                   "127.0.0.1", "0", NULL);
    hh_wait_listening(srv);
    in_port_t port = ntohs(srv->addr.sin_port);
    hh_expect_line(srv, "^waiting [0-9]+ ms before accept$", 2000);
    int fd = hh_connect(c, &srv->addr, 2000);
    in_port_t mine = hh_local_port(fd);
    if (rst)
        hh_abort(c, fd);
    else {
        hh_note(c, "harness: close (sends FIN) before the server accepts");
        hh_close(c, fd);
    }
    hh_observe(c, window);
    int queued = accept_queue(port), state = -1;
    bool found = hh_tcp_info(port, mine, &state, NULL, NULL) == 0;
    long long at = hh_now_ms() - t0;
    hh_note(c, "kernel, %lld ms after the server started (it waits %d ms): "
               "%d connection(s) in the accept queue; the server's side of "
               "the connection is %s", at, delay, queued,
            found ? hh_tcp_state_name(state) : "gone (reset: CLOSE)");
    HH_CHECK(c, at < delay, "the harness looked %lld ms after the server "
             "started, not within its %d ms delay", at, delay);
    HH_CHECK(c, queued == 1, "%d connection(s) wait in the accept queue "
             "during the server's delay, expected 1 (an early accept takes "
             "it off)", queued);
    if (rst)
        HH_CHECK(c, !found || state == TCP_CLOSE, "after the RST the "
                 "server's side is %s, expected it closed",
                 hh_tcp_state_name(state));
    else
        HH_CHECK(c, found && state == TCP_CLOSE_WAIT, "after the FIN the "
                 "server's side is %s, expected CLOSE_WAIT",
                 found ? hh_tcp_state_name(state) : "gone");

    hh_expect_line(srv, "^accepted connection from 127\\.0\\.0\\.1:([0-9]+)$",
                   3000);
    HH_CHECK(c, atoi(srv->groups[1]) == mine,
             "accept reported port %s, the client was on port %u",
             srv->groups[1], (unsigned)mine);
    queued = accept_queue(port); /* -1: it has closed the listener too */
    if (queued < 0)
        hh_note(c, "kernel: the listener is closed already");
    else
        hh_note(c, "kernel: %d connection(s) in the accept queue now",
                queued);
    HH_CHECK(c, queued <= 0, "the server says it accepted, but %d "
             "connection(s) still wait in the queue", queued);
    hh_expect_line(srv, "^state after accept: ", 2000);
    if (rst)
        hh_expect_line(srv, "^first recv failed: .*\\(ECONNRESET\\)$", 2000);
    else
        hh_expect_line(srv, "^first recv: 0 bytes", 2000);
    hh_expect_exit(srv, 0, 2000);
    if (!rst) {
        /* it closed the accepted socket: its FIN took ours to TIME_WAIT */
        found = hh_tcp_info(mine, port, &state, NULL, NULL) == 0;
        hh_note(c, "kernel: the client's side is %s",
                found ? hh_tcp_state_name(state) : "gone");
        HH_CHECK(c, found && state == TCP_TIME_WAIT,
                 "the client's side is %s, expected TIME_WAIT (the server "
                 "closed the connection it accepted)",
                 found ? hh_tcp_state_name(state) : "gone");
    }
}

static void
accept_after_fin(struct hh_ctx *c)
{
    accept_gone(c, false);
}

static void
accept_after_rst(struct hh_ctx *c)
{
    accept_gone(c, true);
}

/* ---- 5-6 / 5-7 out-of-band data ---------------------------------------- */

/* oob_send to a receiver frozen with SIGSTOP, so all three segments are
 * queued before its first read; returns the receiver (still running). */
static struct hh_proc *
oob_exchange(struct hh_ctx *c, struct hh_proc **capture,
             struct hh_proc **sender)
{
    bool trace = c->sc->needs & HH_NEED_STRACE;
    const char *rargs[] = {"127.0.0.1", "0", NULL};
    struct hh_spawn ropt = {.role = "server", .must_trace = trace};
    struct hh_proc *rcv = hh_startv(c, &ropt, "oob_recv", rargs);
    hh_wait_listening(rcv);
    *capture = NULL;
    if ((c->sc->needs & HH_NEED_TCPDUMP) || c->show_capture)
        *capture = hh_capture_start(c, ntohs(rcv->addr.sin_port));
    hh_note(c, "harness: SIGSTOP the receiver, so everything is queued "
               "before its first recv");
    hh_kill(rcv, SIGSTOP);
    const char *sargs[] = {"127.0.0.1", rcv->port, NULL};
    struct hh_spawn sopt = {.role = "client", .must_trace = trace};
    struct hh_proc *snd = hh_startv(c, &sopt, "oob_send", sargs);
    if (sender)
        *sender = snd;
    hh_expect_line(snd, "^sent 3 bytes with MSG_OOB: \"abc\"$", 3000);
    hh_expect_exit(snd, 0, 3000);
    hh_note(c, "harness: SIGCONT the receiver");
    hh_kill(rcv, SIGCONT);
    return rcv;
}

static void
expect_data(struct hh_proc *p, const char *kind, const char *text)
{
    hh_expect_line(p, "^(normal|urgent) data: \"(.*)\" \\(([0-9]+) bytes?\\)$",
                   3000);
    HH_CHECK(p->ctx,
             strcmp(p->groups[1], kind) == 0 &&
                 strcmp(p->groups[2], text) == 0 &&
                 atoi(p->groups[3]) == (int)strlen(text),
             "expected %s data \"%s\" (%zu bytes), got %s data \"%s\" (%s)",
             kind, text, strlen(text), p->groups[1], p->groups[2],
             p->groups[3]);
}

static void
oob_reads(struct hh_ctx *c)
{
    struct hh_proc *cap;
    struct hh_proc *rcv = oob_exchange(c, &cap, NULL);
    expect_data(rcv, "normal", "123ab"); /* a read stops at the mark */
    expect_data(rcv, "urgent", "c");     /* only the last byte is urgent */
    expect_data(rcv, "normal", "123");
    hh_expect_exit(rcv, 0, 3000);
    if (cap)
        hh_capture_stop(cap);
}

static void
oob_on_the_wire(struct hh_ctx *c)
{
    struct hh_proc *cap;
    struct hh_proc *rcv = oob_exchange(c, &cap, NULL);
    hh_expect_exit(rcv, 0, 3000);
    /* the FIN of both sides ends the conversation on the wire */
    hh_capture_expect(cap, "Flags \\[F", 3000);
    hh_capture_stop(cap);
    int urgent = hh_capture_count(cap, "Flags \\[[^]]*U[^]]*\\].*urg 3.* "
                                       "length 3$");
    int any_urg = hh_capture_count(cap, "Flags \\[[^]]*U");
    int data = hh_capture_count(cap, " length 3$");
    HH_CHECK(c, urgent == 1 && any_urg == 1,
             "expected exactly one segment with URG and urg 3 (got %d with "
             "URG, %d of them 'urg 3 ... length 3')", any_urg, urgent);
    HH_CHECK(c, data == 3, "expected three 3-byte data segments, got %d",
             data);
}

static void
oob_syscalls(struct hh_ctx *c)
{
    struct hh_proc *cap, *snd;
    struct hh_proc *rcv = oob_exchange(c, &cap, &snd);
    hh_expect_exit(rcv, 0, 5000);
    /* strace aligns results: "sendto(3, "abc", 3, MSG_OOB, NULL, 0) = 3" */
    int sent = hh_trace_count(snd, "sendto\\([0-9]+, \"(123|abc)\", 3, .*\\) += 3$");
    int sent_oob = hh_trace_count(snd, "sendto\\([0-9]+, \"abc\", 3, "
                                       "MSG_OOB, .*\\) += 3$");
    int recv_oob = hh_trace_count(rcv, "recvfrom\\([0-9]+, \"c\", [0-9]+, "
                                       "MSG_OOB, .*\\) += 1$");
    hh_note(c, "strace: oob_send made %d sends of 3 bytes, %d with MSG_OOB; "
               "oob_recv made %d MSG_OOB recv of 1 byte", sent, sent_oob,
            recv_oob);
    HH_CHECK(c, sent == 3 && sent_oob == 1,
             "expected 3 sends of 3 bytes, one with MSG_OOB (got %d, %d)",
             sent, sent_oob);
    HH_CHECK(c, recv_oob == 1, "expected one MSG_OOB recv returning \"c\", "
                               "got %d", recv_oob);
}

/* ---- 5-9 SO_REUSEADDR -------------------------------------------------- */

static void
reuse_addr(struct hh_ctx *c)
{
    struct hh_proc *s1 = hh_start(c, "server 1", "reuse_addr_server",
                                  "127.0.0.1", "0", NULL);
    hh_wait_listening(s1);
    in_port_t port = ntohs(s1->addr.sin_port);
    int fd = hh_connect(c, &s1->addr, 2000);
    char buf[16];
    hh_recv_all(c, fd, buf, 0, 3000); /* the server closes first */
    hh_close(c, fd);
    hh_expect_exit(s1, 0, 3000);
    int tw = hh_tcp_count("06", port, 0);
    hh_note(c, "kernel: %d socket in TIME_WAIT on the server's port %u", tw,
            (unsigned)port);
    HH_CHECK(c, tw == 1, "expected the server side in TIME_WAIT, found %d",
             tw);

    struct hh_proc *s2 = hh_start(c, "server 2", "reuse_addr_server", "-n",
                                  "127.0.0.1", s1->port, NULL);
    hh_expect_err(s2, "bind.*\\(EADDRINUSE\\)", 3000);
    hh_expect_exit(s2, 1, 3000);

    struct hh_proc *s3 = hh_start(c, "server 3", "reuse_addr_server",
                                  "127.0.0.1", s1->port, NULL);
    hh_wait_listening(s3);
    HH_CHECK(c, ntohs(s3->addr.sin_port) == port,
             "rerun listens on %u, not %u", ntohs(s3->addr.sin_port), port);
    fd = hh_connect(c, &s3->addr, 2000);
    hh_recv_all(c, fd, buf, 0, 3000);
    hh_expect_exit(s3, 0, 3000);
}

/* ---- 5-10 / 5-11 buffer sizes ------------------------------------------ */

/* What this kernel does to a request of 0: the floor of the option. */
static int
measure_floor(struct hh_ctx *c, int opt)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    HH_CHECK(c, fd >= 0, "socket: %s", strerror(errno));
    int zero = 0, v = 0;
    socklen_t len = sizeof v;
    int r1 = setsockopt(fd, SOL_SOCKET, opt, &zero, sizeof zero);
    int r2 = getsockopt(fd, SOL_SOCKET, opt, &v, &len);
    close(fd);
    HH_CHECK(c, r1 == 0 && r2 == 0, "measuring the floor: %s",
             strerror(errno));
    return v;
}

static long
expected_size(long asked, long max, long floor)
{
    long v = 2 * (asked < max ? asked : max);
    return v > floor ? v : floor;
}

/*
 * The kernel's own figures, from one `ss -atm`: the receive buffer (rb of
 * its skmem) of the listener on port LPORT, and the send buffer (tb) of
 * the socket that waits in SYN_SENT for port FULL.
 */
static void
ss_buffers(struct hh_ctx *c, in_port_t lport, long *rb, in_port_t full,
           long *tb)
{
    char filter[64];
    snprintf(filter, sizeof filter, "( sport = :%u or dport = :%u )",
             (unsigned)lport, (unsigned)full);
    struct hh_proc *ss = hh_start(c, "ss", "ss", "-atmnH", filter, NULL);
    hh_expect_exit(ss, 0, 2000);
    *rb = *tb = -1;
    /* "LISTEN 0 5 127.0.0.1:PORT 0.0.0.0:*", then, for a full socket,
     * "\t skmem:(r0,rb2304,t0,tb16384,...)" */
    char state[32] = "";
    unsigned port = 0;
    const char *at = ss->out.data ? ss->out.data : "";
    while (*at) {
        size_t len = strcspn(at, "\n");
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)len, at);
        at += len + (at[len] == '\n');
        const char *mem = strstr(line, "skmem:(");
        long r, t;
        if (!mem) {
            if (sscanf(line, "%31s %*d %*d %*[^:]:%u", state, &port) != 2)
                state[0] = '\0';
        } else if (sscanf(mem, "skmem:(r%*d,rb%ld,t%*d,tb%ld", &r, &t) ==
                   2) {
            if (strcmp(state, "LISTEN") == 0 && port == lport)
                *rb = r;
            if (strcmp(state, "SYN-SENT") == 0)
                *tb = t;
        }
    }
    HH_CHECK(c, *rb >= 0 && *tb >= 0, "ss shows no listener on port %u, or "
             "no socket in SYN-SENT for port %u", (unsigned)lport,
             (unsigned)full);
}

/*
 * For each size: rcvbuf_server's listener and sndbuf_client's socket as
 * the kernel holds them (ss), not as the programs say.  The client is
 * sent to a listener whose accept queue is full: its connect waits in
 * SYN_SENT, its socket set up and alive, while ss looks; then it is
 * stopped.  The server gets 512 bytes from the harness; the client's own
 * 512 bytes are checked once, at the end, against a harness listener.
 */
static void
buffer_sizes(struct hh_ctx *c)
{
    long wmax = hh_read_long("/proc/sys/net/core/wmem_max");
    long rmax = hh_read_long("/proc/sys/net/core/rmem_max");
    if (wmax < 0 || rmax < 0)
        hh_skip(c, "cannot read net.core.wmem_max / rmem_max");
    int sfloor = measure_floor(c, SO_SNDBUF);
    int rfloor = measure_floor(c, SO_RCVBUF);
    hh_note(c, "this kernel: SO_SNDBUF floor %d, SO_RCVBUF floor %d, "
               "wmem_max %ld, rmem_max %ld", sfloor, rfloor, wmax, rmax);
    const long sizes[] = {50, 2000, 5000, 100000, 2 * (wmax > rmax ? wmax
                                                                    : rmax)};
    char data[512]; /* what sndbuf_client sends rcvbuf_server */
    memset(data, 'a', sizeof data);
    struct sockaddr_in full = hh_full_listener(c);
    char full_port[8];
    snprintf(full_port, sizeof full_port, "%u", ntohs(full.sin_port));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char sz[24];
        snprintf(sz, sizeof sz, "%ld", sizes[i]);
        struct hh_proc *srv = hh_start(c, "server", "rcvbuf_server",
                                       "127.0.0.1", "0", sz, NULL);
        hh_wait_listening(srv);
        struct hh_proc *cli = hh_start(c, "client", "sndbuf_client",
                                       "127.0.0.1", full_port, sz, NULL);
        hh_expect_line(cli, "^SO_SNDBUF: ", 3000);
        hh_wait_state(cli, "S", 3000); /* asleep in connect */

        long rb, tb;
        ss_buffers(c, ntohs(srv->addr.sin_port), &rb, ntohs(full.sin_port),
                   &tb);
        long rwant = expected_size(sizes[i], rmax, rfloor);
        long twant = expected_size(sizes[i], wmax, sfloor);
        hh_note(c, "kernel: the server's listener has a %ld-byte receive "
                   "buffer, the client's socket a %ld-byte send buffer",
                rb, tb);
        HH_CHECK(c, rb == rwant, "SO_RCVBUF %ld: the kernel holds %ld, "
                                 "expected max(2 x min(%ld, %ld), %d) = %ld",
                 sizes[i], rb, sizes[i], rmax, rfloor, rwant);
        HH_CHECK(c, tb == twant, "SO_SNDBUF %ld: the kernel holds %ld, "
                                 "expected max(2 x min(%ld, %ld), %d) = %ld",
                 sizes[i], tb, sizes[i], wmax, sfloor, twant);
        hh_note(c, "harness: SIGTERM to the client, still in connect");
        hh_kill(cli, SIGTERM);
        hh_wait_exit(cli, 3000);

        int fd = hh_connect(c, &srv->addr, 2000);
        hh_send(c, fd, data, sizeof data, 2000);
        hh_close(c, fd);
        hh_expect_exit(srv, 0, 3000);
    }

    struct sockaddr_in sa;
    int lfd = hh_listen(c, 0, &sa, 1);
    char port[8];
    snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
    struct hh_proc *cli = hh_start(c, "client", "sndbuf_client", "127.0.0.1",
                                   port, "2000", NULL);
    int conn = hh_accept(c, lfd, 3000);
    char got[1024];
    size_t n = hh_recv_all(c, conn, got, sizeof got, 3000);
    size_t as = 0;
    while (as < n && got[as] == 'a')
        as++;
    HH_CHECK(c, n == 512 && as == n, "the client sent %zu bytes, %zu of "
             "them 'a' before another; expected 512 'a'", n, as);
    hh_expect_exit(cli, 0, 3000);
}

/* A receive buffer set before listen shrinks the window the server
 * offers in its SYN-ACK, and turns off window scaling. */
static void
rcvbuf_window(struct hh_ctx *c)
{
    struct hh_proc *srv = hh_start(c, "server", "rcvbuf_server", "127.0.0.1",
                                   "0", "50", NULL);
    hh_wait_listening(srv);
    /* the size the kernel gives a request of 50, as buffer_sizes checks */
    long rmax = hh_read_long("/proc/sys/net/core/rmem_max");
    long set = expected_size(50, rmax, measure_floor(c, SO_RCVBUF));
    struct hh_proc *cap = hh_capture_start(c, ntohs(srv->addr.sin_port));
    struct hh_proc *cli = hh_start(c, "client", "sndbuf_client", "127.0.0.1",
                                   srv->port, "2000", NULL);
    hh_expect_exit(cli, 0, 3000);
    hh_expect_exit(srv, 0, 3000);
    char ere[64];
    snprintf(ere, sizeof ere, "\\.%s > .*: Flags \\[S\\.\\]", srv->port);
    const char *synack = hh_capture_expect(cap, ere, 3000);
    char line[HH_GROUP_LEN];
    snprintf(line, sizeof line, "%s", synack);
    hh_capture_stop(cap);
    const char *w = strstr(line, " win ");
    const char *ws = strstr(line, "wscale ");
    HH_CHECK(c, w && ws, "no window or wscale in the SYN-ACK: %s", line);
    long win = atol(w + 5), scale = atol(ws + 7);
    hh_note(c, "SYN-ACK: window %ld, wscale %ld, for a %ld-byte receive "
               "buffer", win, scale, set);
    HH_CHECK(c, win > 0 && win <= set && scale == 0,
             "expected a window of at most %ld bytes with wscale 0, got "
             "window %ld, wscale %ld", set, win, scale);
}

/* ---- 5-12 daytime client ----------------------------------------------- */

static const char daytime_reply[] = "Mon Nov 23 18:00:00 2026\r\n";

static void
serve_daytime(struct hh_ctx *c, int lfd, struct hh_proc *cli)
{
    int fd = hh_accept(c, lfd, 3000);
    hh_send(c, fd, daytime_reply, strlen(daytime_reply), 2000);
    hh_close(c, fd);
    /* byte for byte: the client prints the reply after the prefix */
    hh_expect_line(cli, "^the time is: (.*)$", 3000);
    char want[64];
    snprintf(want, sizeof want, "%.*s", (int)strlen(daytime_reply) - 1,
             daytime_reply); /* the line without its '\n' */
    HH_CHECK(c, strcmp(cli->groups[1], want) == 0,
             "client printed \"%s\", the server sent \"%s\"", cli->groups[1],
             want);
    hh_expect_exit(cli, 0, 3000);
}

static void
daytime(struct hh_ctx *c)
{
    struct sockaddr_in sa;
    int lfd = hh_listen(c, 0, &sa, 5);
    char port[8];
    snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
    hh_note(c, "harness: a stub daytime server on 127.0.0.1:%s", port);
    struct hh_proc *cli = hh_start(c, "client", "daytime_client", "-p", port,
                                   "127.0.0.1", NULL);
    hh_expect_line(cli, "^daytime service: port ([0-9]+)$", 3000);
    HH_CHECK(c, strcmp(cli->groups[1], port) == 0,
             "client reports port %s, expected %s", cli->groups[1], port);
    serve_daytime(c, lfd, cli);
}

static void
daytime_port13(struct hh_ctx *c)
{
    struct servent *se = getservbyname("daytime", "tcp");
    if (!se)
        hh_skip(c, "no 'daytime' entry in /etc/services (netbase)");
    HH_CHECK(c, ntohs((in_port_t)se->s_port) == 13,
             "/etc/services says daytime is %d", ntohs((in_port_t)se->s_port));
    struct sockaddr_in sa;
    int lfd = hh_listen(c, 13, &sa, 5);
    if (lfd < 0)
        hh_skip(c, "cannot serve 127.0.0.1:13 here: %s", strerror(errno));
    hh_note(c, "harness: a stub daytime server on the real port, "
               "127.0.0.1:13");
    struct hh_proc *cli =
        hh_start(c, "client", "daytime_client", "127.0.0.1", NULL);
    hh_expect_line(cli, "^daytime service: port 13$", 3000);
    serve_daytime(c, lfd, cli);
}
static void
daytime_errors(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "client", "daytime_client", "-p", "13",
                                 "no-such-host.invalid", NULL);
    hh_expect_err(p, "cannot resolve 'no-such-host\\.invalid'", 20000);
    hh_expect_exit(p, 1, 20000);

    char port[8];
    snprintf(port, sizeof port, "%u", hh_closed_port(c));
    p = hh_start(c, "client", "daytime_client", "-p", port, "127.0.0.1",
                 NULL);
    hh_expect_err(p, "connect.*\\(ECONNREFUSED\\)", 3000);
    hh_expect_exit(p, 1, 3000);
}

/* ---- the table --------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"byte_order", "5-1", "byte order: which byte of 0x0102 comes first",
     "x86-64 is little endian; htons() puts the high byte 01 first, as the "
     "network wants.",
     0, byte_order},
    {"listen_backlog", "5-3",
     "listen(fd, 3): the accept queue holds backlog+1 connections",
     "4 connections ESTABLISHED with nobody calling accept; the other 4 "
     "stay in SYN_SENT: the kernel drops their SYNs while the queue is full "
     "(the book's 2.6 kernel showed SYN_RCVD instead).",
     0, listen_backlog},
    {"accept_after_fin", "5-5",
     "accept() of a client that already closed (FIN) still succeeds",
     "the kernel held the gone client in the accept queue, its socket in "
     "CLOSE_WAIT; accept only takes it off the queue, and the first recv "
     "returns 0.",
     0, accept_after_fin},
    {"accept_after_rst", "5-5",
     "accept() of a client that aborted (RST) still succeeds",
     "the connection was reset while queued (the kernel lists it no more, "
     "but the queue still counts it): accept still returns it, and the "
     "first recv fails with ECONNRESET.",
     0, accept_after_rst},
    {"oob_reads", "5-6/5-7",
     "out-of-band data: only the last byte of an MSG_OOB send is urgent",
     "\"abc\" was sent with MSG_OOB, but only 'c' came out of band; the "
     "normal read stopped at the urgent mark, after \"123ab\".",
     0, oob_reads},
    {"oob_on_the_wire", "5-6/5-7",
     "out-of-band data on the wire: one segment carries URG, urg 3",
     "the URG flag ([P.U]) and 'urg 3' point just past \"c\": TCP has one "
     "urgent pointer, not an urgent channel.",
     HH_NEED_TCPDUMP, oob_on_the_wire},
    {"oob_syscalls", "5-6/5-7",
     "out-of-band data in the system calls: send(MSG_OOB), recv(MSG_OOB)",
     "strace shows send(\"abc\", MSG_OOB) = 3 on one side and recv(MSG_OOB) "
     "= 1 on the other: three bytes went in, one came out of band.",
     HH_NEED_STRACE, oob_syscalls},
    {"reuse_addr", "5-9",
     "SO_REUSEADDR: rebinding a port whose connection is in TIME_WAIT",
     "the server closed first, so its side waits in TIME_WAIT (60 s); "
     "without SO_REUSEADDR the rerun gets EADDRINUSE, with it the bind "
     "works.",
     0, reuse_addr},
    {"buffer_sizes", "5-10/5-11",
     "SO_SNDBUF / SO_RCVBUF: the kernel doubles the request, within limits",
     "each value read back is max(2 x min(asked, wmem_max/rmem_max), "
     "floor); the floor is measured, not assumed.",
     0, buffer_sizes},
    {"rcvbuf_window", "5-11",
     "a small SO_RCVBUF shows in the SYN-ACK: small window, no scaling",
     "the server's SYN-ACK offers about half its receive buffer and wscale "
     "0; a default socket offers ~64 KB with a non-zero scale.",
     HH_NEED_TCPDUMP, rcvbuf_window},
    {"daytime", "5-12", "daytime client: getaddrinfo, connect, read to EOF",
     "the reply is printed byte for byte; the book wrote its terminator one "
     "byte past the buffer.",
     0, daytime},
    {"daytime_port13", "5-12",
     "daytime client on the real port 13 from /etc/services (root)",
     "with no -p, the port comes from the \"daytime\" service entry.",
     HH_NEED_ROOT, daytime_port13},
    {"daytime_errors", "5-12",
     "daytime client: unknown host and refused connection are clear errors",
     "each failure names its cause and exits 1.",
     HH_FAILURE_PATH, daytime_errors},
};

/*
 * The programs: what TRACE=1 shows of each (the calls its listing
 * teaches), and its bad command lines (a bad_input_<name> scenario each).
 */
static const struct hh_program programs[] = {
    {.name = "byte_order", .listing = "5-1", .args = HH_ARGS_H,
     HH_ROWS({{"extra", NULL}, 2, HH_USAGE}, {{"-x", NULL}, 2, HH_USAGE})},
    {.name = "listen_backlog", .listing = "5-3",
     .syscalls = "trace=socket,bind,listen", .flags = HH_PROG_SERVER,
     .args = HH_ARGS_IP_PORT_ARG, .arg = "5",
     HH_ROWS({{"127.0.0.1", "0", "-1", NULL}, 2, "backlog '-1'"},
             {{"127.0.0.1", "0", "5x", NULL}, 2, "backlog '5x'"},
             {{"127.0.0.1", "0", NULL}, 2, HH_USAGE})},
    {.name = "accept_delayed", .listing = "5-5",
     .syscalls = "trace=listen,accept,accept4,getsockopt,recvfrom",
     .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM,
     .args = HH_ARGS_IP_PORT_ARG,
     HH_ROWS({{"-d", "soon", "127.0.0.1", "0", NULL}, 2,
              "delay 'soon': not a duration"},
             {{"-d", "-3", "127.0.0.1", "0", NULL}, 2,
              "delay '-3': not a duration"})},
    {.name = "oob_send", .listing = "5-6", .syscalls = "trace=connect,sendto",
     .args = HH_ARGS_IP_PORT_ARG,
     HH_ROWS({{"127.0.0.1", "1", NULL}, 1, "\\(ECONNREFUSED\\)"})},
    {.name = "oob_recv", .listing = "5-7",
     .syscalls = "trace=accept,accept4,recvfrom",
     .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM,
     .args = HH_ARGS_IP_PORT_ARG,
     HH_ROWS({{"-d", "x", "127.0.0.1", "0", NULL}, 2,
              "delay 'x': not a duration"})},
    {.name = "reuse_addr_server", .listing = "5-9",
     .syscalls = "trace=setsockopt,bind,accept,accept4,close",
     .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM, .args = HH_ARGS_IP_PORT_ARG,
     HH_ROWS(HH_SERVER_IN_USE("-n", ))},
    {.name = "sndbuf_client", .listing = "5-10",
     .syscalls = "trace=setsockopt,getsockopt,connect,sendto,write",
     .args = HH_ARGS_IP_PORT_ARG, .arg = "2000",
     HH_ROWS({{"127.0.0.1", "1", "-5", NULL}, 2, "size '-5'"},
             {{"127.0.0.1", "1", "99999999999999999999", NULL}, 2, "size"},
             {{"127.0.0.1", "1", "2000", NULL}, 1, "\\(ECONNREFUSED\\)"})},
    {.name = "rcvbuf_server", .listing = "5-11",
     .syscalls = "trace=setsockopt,getsockopt,accept,accept4",
     .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM, .args = HH_ARGS_IP_PORT_ARG, .arg = "2000",
     HH_ROWS({{"127.0.0.1", "0", "2k", NULL}, 2, "size '2k'"})},
    {.name = "daytime_client", .listing = "5-12",
     .syscalls = "trace=connect,read,recvfrom", .args = HH_ARGS_H,
     HH_ROWS({{NULL}, 2, HH_USAGE}, {{"a", "b", NULL}, 2, HH_USAGE},
             {{"-p", "x", "127.0.0.1", NULL}, 2, "'x'"},
             {{"-p", "70000", "127.0.0.1", NULL}, 2, "'70000'"},
             {{"-p", "0", "127.0.0.1", NULL}, 2, "'0'"})},
    {.name = "ss", .flags = HH_PROG_TOOL},
};

static const struct hh_chapter chapter = {
    .name = "ch05-api",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
