/*
 * ch15_test.c - chapter 15, process pools and thread pools: one scenario
 * per lesson.  15-1, the process pool, through its echo driver pool_echo;
 * 15-2, the CGI server on the same pool, and the fences around what it
 * runs.  (15-3, the thread pool, is a module with a unit test of its own:
 * tests/unit/test_thread_pool.c.)
 *
 * Which worker served a connection is taken from the kernel, not from the
 * log alone: the server side of the client's connection is looked up in
 * /proc/net/tcp (its socket inode), and the worker whose /proc/PID/fd
 * holds that inode is the one that accepted it.  The workers are the
 * server's children in /proc; that none holds another's socketpair end is
 * read from their fd tables; that SIGTERM leaves no process and no zombie
 * from /proc after the server is gone (a worker it did not reap would be
 * reparented to the harness, a subreaper, and stay a zombie).
 *
 * The CGI server's refusals are proved with strace -f: no execve of a
 * refused name; its fences from outside: the CGI program's uid, fds,
 * environment, signal state and limits are read from /proc while it
 * runs, its wall-clock kill is timed on the harness's clock, and its
 * scratch directory is looked for after it has ended.
 *
 * 16-4, stress_client, runs against an HTTP peer of the test's own (a
 * forked function, http_peer): it answers every GET it reads and counts
 * its answers by status, and any byte that is not part of a request.
 * The client's summary must match that count exactly, whether the peer
 * sends several responses at once, cuts each in pieces, or closes.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "hpsp.h"

#include <dirent.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_WORKERS = 16 };
enum { ECHO_LEN = 256 * 1024 }; /* bytes through each echo: many reads */

/* ---- the pool, seen from outside ----------------------------------------- */

struct pool {
    struct hh_proc *p;
    int n;
    pid_t pid[MAX_WORKERS]; /* worker K's pid, from the log, checked */
};

/* Whether PID is still there for /proc (alive, or a zombie). */
static bool
proc_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    return access(path, F_OK) == 0;
}

/* Start PROG (pool_echo or cgi_server) with ARGS before IP PORT; wait
 * for its N "worker K started: pid P" lines and check each P is its
 * child. */
static void
pool_start(struct hh_ctx *c, struct pool *pl, const char *prog,
           const struct hh_spawn *opt, const char *const *args, int n)
{
    const char *argv[24];
    int k = 0;
    for (; args && args[k]; k++)
        argv[k] = args[k];
    argv[k++] = "127.0.0.1";
    argv[k++] = "0";
    argv[k] = NULL;
    struct hh_spawn o = opt ? *opt : (struct hh_spawn){0};
    if (!o.role)
        o.role = "server";
    memset(pl, 0, sizeof *pl);
    pl->n = n;
    pl->p = hh_startv(c, &o, prog, argv);
    hh_wait_listening(pl->p);
    for (int w = 0; w < n; w++) {
        char re[64];
        snprintf(re, sizeof re, "^worker %d started: pid ([0-9]+)$", w);
        hh_expect_line(pl->p, re, 3000);
        pl->pid[w] = (pid_t)hh_group_ll(pl->p, 1);
    }
    for (int w = 0; w < n; w++)
        HH_CHECK(c, hh_ppid(pl->pid[w]) == hh_pid(pl->p),
                 "worker %d's pid %d is not a child of the server in /proc",
                 w, (int)pl->pid[w]);
    hh_note(c, "harness: /proc/PID/stat of the %d workers: the server %d "
               "is their parent", n, (int)hh_pid(pl->p));
}

/* SIGTERM: exit 0, and afterwards no worker in /proc, alive or zombie. */
static void
pool_stop(struct hh_ctx *c, struct pool *pl)
{
    pid_t kids[64];
    int nk = hh_children(c, hh_pid(pl->p), kids, 64);
    hh_stop(pl->p);
    int left = 0;
    for (int i = 0; i < nk; i++)
        if (proc_exists(kids[i])) {
            left++;
            hh_track_pid(c, kids[i]); /* teardown ends it */
        }
    HH_CHECK(c, left == 0, "%d of the server's %d children are still in "
                           "/proc after it exited (alive, or zombies it "
                           "never reaped)", left, nk);
    hh_note(c, "exit 0; its %d children are gone from /proc: none alive, "
               "no zombie", nk);
}

/* The inode of the TCP socket 127.0.0.1:LPORT <-> 127.0.0.1:RPORT
 * (/proc/net/tcp), or 0. */
static unsigned long
tcp_inode(struct hh_ctx *c, in_port_t lport, in_port_t rport)
{
    size_t len;
    char *text = hh_read_file(c, "/proc/net/tcp", &len);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned la, lp, ra, rp, st;
        unsigned long ino;
        if (sscanf(line, " %*d: %x:%x %x:%x %x %*x:%*x %*x:%*x %*x %*d %*d "
                         "%lu", &la, &lp, &ra, &rp, &st, &ino) == 6 &&
            lp == lport && rp == rport)
            return ino;
    }
    return 0;
}

/* The worker whose fd table holds the server side of client FD: the
 * kernel's account of who accepted it.  Exactly one may. */
static int
holder(struct hh_ctx *c, const struct pool *pl, int fd)
{
    in_port_t cport = hh_local_port(fd);
    unsigned long ino =
        tcp_inode(c, ntohs(pl->p->addr.sin_port), cport);
    HH_CHECK(c, ino != 0, "no server-side socket for client port %u in "
                          "/proc/net/tcp", (unsigned)cport);
    char link[64];
    snprintf(link, sizeof link, "socket:[%lu]", ino);
    int who = -1;
    for (int w = 0; w < pl->n; w++) {
        if (!proc_exists(pl->pid[w]) || !hh_holds_fd(c, pl->pid[w], link))
            continue;
        HH_CHECK(c, who < 0, "workers %d and %d both hold %s", who, w, link);
        who = w;
    }
    HH_CHECK(c, who >= 0, "no worker holds %s (client port %u)", link,
             (unsigned)cport);
    HH_CHECK(c, !hh_holds_fd(c, hh_pid(pl->p), link),
             "the parent holds the accepted socket %s", link);
    return who;
}

/* Connect, echo ECHO_LEN bytes, and name the worker that holds it; the
 * log must agree: "connection N -> worker K" and that worker accepted
 * the client's port.  Returns the worker; the client stays open. */
static int
pool_echo_once(struct hh_ctx *c, struct pool *pl, int *fd_out)
{
    int fd = hh_connect(c, &pl->p->addr, 2000);
    hh_echo_exchange(c, fd, hh_pattern(c, ECHO_LEN), ECHO_LEN, 10000);
    int w = holder(c, pl, fd);
    char re[128];
    snprintf(re, sizeof re, "^worker %d \\(pid %d\\): connection ([0-9]+): "
                            "accepted 127\\.0\\.0\\.1:%u$",
             w, (int)pl->pid[w], (unsigned)hh_local_port(fd));
    hh_expect_line(pl->p, re, 2000);
    hh_note(c, "harness: client port %u echoed %d bytes; /proc: worker %d "
               "(pid %d) holds the server side", (unsigned)hh_local_port(fd),
            ECHO_LEN, w, (int)pl->pid[w]);
    *fd_out = fd;
    return w;
}

/* N+1 connections one after another: workers 0 .. N-1, then 0 again. */
static void
pool_round_robin(struct hh_ctx *c)
{
    enum { N = 4 };
    struct pool pl;
    const char *args[] = {"-n", "4", NULL};
    pool_start(c, &pl, "pool_echo", NULL, args, N);
    int got[N + 1];
    for (int i = 0; i <= N; i++) {
        int fd;
        got[i] = pool_echo_once(c, &pl, &fd);
        char re[96];
        snprintf(re, sizeof re, "^connection %d -> worker %d \\(pid %d\\)$",
                 i + 1, got[i], (int)pl.pid[got[i]]);
        HH_CHECK(c, hh_output_has(pl.p, re),
                 "no log line \"connection %d -> worker %d\"", i + 1, got[i]);
        HH_CHECK(c, got[i] == i % N,
                 "connection %d was taken by worker %d (pid %d), want "
                 "worker %d: not round-robin", i + 1, got[i],
                 (int)pl.pid[got[i]], i % N);
        hh_close(c, fd);
    }
    hh_note(c, "connections 1..%d went to workers 0 1 2 3 0, by the "
               "kernel's account (/proc) and by the log", N + 1);
    pool_stop(c, &pl);
}

/* A worker killed with SIGKILL: logged, skipped, the pool serves on. */
static void
pool_dead_worker(struct hh_ctx *c)
{
    enum { N = 3 };
    struct pool pl;
    const char *args[] = {"-n", "3", NULL};
    pool_start(c, &pl, "pool_echo", NULL, args, N);
    pid_t dead = pl.pid[1];
    hh_note(c, "harness: kill -9 %d (worker 1)", (int)dead);
    HH_CHECK(c, kill(dead, SIGKILL) == 0, "kill: %s", strerror(errno));
    char re[96];
    snprintf(re, sizeof re, "^worker 1 \\(pid %d\\) ended: killed by "
                            "signal 9$", (int)dead);
    hh_expect_line(pl.p, re, 3000);
    HH_CHECK(c, hh_wait_gone(c, dead, 2000) && !proc_exists(dead),
             "the killed worker %d is still in /proc: not reaped",
             (int)dead);
    const int want[] = {0, 2, 0, 2};
    for (int i = 0; i < 4; i++) {
        int fd;
        int w = pool_echo_once(c, &pl, &fd);
        HH_CHECK(c, w == want[i], "connection %d went to worker %d, want %d "
                                  "(worker 1 is dead)", i + 1, w, want[i]);
        hh_close(c, fd);
    }
    HH_CHECK(c, !hh_output_has(pl.p, "-> worker 1 "),
             "a connection was handed to the dead worker 1");
    hh_note(c, "4 connections after the kill went to workers 0 2 0 2: the "
               "dead one is skipped; /proc has no zombie of it");
    pool_stop(c, &pl);
}

/* Every worker gone: the parent stops by itself (exit 1, said why). */
static void
pool_all_dead(struct hh_ctx *c)
{
    struct pool pl;
    const char *args[] = {"-n", "2", NULL};
    pool_start(c, &pl, "pool_echo", NULL, args, 2);
    for (int w = 0; w < 2; w++) {
        hh_note(c, "harness: kill -9 %d (worker %d)", (int)pl.pid[w], w);
        kill(pl.pid[w], SIGKILL);
    }
    hh_expect_line(pl.p, "^no worker left: the pool stops$", 3000);
    hh_expect_exit(pl.p, 1, 3000);
}

/* The parent stopped, two connections, SIGCONT: both are served.  The
 * book's edge-triggered listener makes one readiness of the two, and its
 * worker accepts once: the second waits for a third client. */
static void
regress_15_1_burst(struct hh_ctx *c)
{
    struct pool pl;
    const char *args[] = {"-n", "2", NULL};
    pool_start(c, &pl, "pool_echo", NULL, args, 2);
    hh_kill(pl.p, SIGSTOP);
    hh_wait_state(pl.p, "Tt", 2000);
    hh_note(c, "harness: SIGSTOP the parent; two clients connect");
    int a = hh_connect(c, &pl.p->addr, 2000);
    int b = hh_connect(c, &pl.p->addr, 2000);
    hh_kill(pl.p, SIGCONT);
    hh_note(c, "harness: SIGCONT");
    const char *data = hh_pattern(c, ECHO_LEN);
    hh_echo_exchange(c, a, data, ECHO_LEN, 5000);
    hh_echo_exchange(c, b, data, ECHO_LEN, 5000);
    int wa = holder(c, &pl, a), wb = holder(c, &pl, b);
    hh_note(c, "both echoed; worker %d holds the first, worker %d the "
               "second (one readiness, accepted until EAGAIN)", wa, wb);
    hh_close(c, a);
    hh_close(c, b);
    pool_stop(c, &pl);
}

/* Each fd of PID from 3 up that is a socket or a pipe, as link texts. */
static int
fd_links(struct hh_ctx *c, pid_t pid, char links[][48], int cap)
{
    char path[64], target[128];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    HH_CHECK(c, d != NULL, "opendir %s: %s", path, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd < 3 || fd >= 1000)
            continue; /* stdio is shared by design; valgrind's are high */
        char fdpath[340];
        snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
        ssize_t k = readlink(fdpath, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = '\0';
        if (strncmp(target, "socket:", 7) && strncmp(target, "pipe:", 5))
            continue;
        snprintf(links[n++], 48, "%.47s", target);
    }
    closedir(d);
    return n;
}

/* No worker holds another worker's socketpair end, nor the parent's
 * ends or its signal pipe: only the listener is shared. */
static void
regress_15_1_worker_fds(struct hh_ctx *c)
{
    enum { N = 4, CAP = 64 };
    struct pool pl;
    const char *args[] = {"-n", "4", NULL};
    pool_start(c, &pl, "pool_echo", NULL, args, N);
    for (int i = 0; i < N; i++) { /* each worker past its setup */
        int fd;
        pool_echo_once(c, &pl, &fd);
        in_port_t port = hh_local_port(fd);
        hh_close(c, fd);
        char re[96]; /* and done with this connection */
        snprintf(re, sizeof re, "^worker %d \\(pid [0-9]+\\): "
                                "127\\.0\\.0\\.1:%u closed$", i,
                 (unsigned)port);
        hh_expect_line(pl.p, re, 2000);
    }
    unsigned long lino = tcp_inode(c, ntohs(pl.p->addr.sin_port), 0);
    char listener[48];
    snprintf(listener, sizeof listener, "socket:[%lu]", lino);
    static char parent[CAP][48], mine[N][CAP][48];
    int np = fd_links(c, hh_pid(pl.p), parent, CAP);
    int nm[N];
    for (int w = 0; w < N; w++)
        nm[w] = fd_links(c, pl.pid[w], mine[w], CAP);
    for (int w = 0; w < N; w++) {
        int sockets = 0;
        for (int i = 0; i < nm[w]; i++) {
            const char *l = mine[w][i];
            if (strcmp(l, listener) == 0)
                continue;
            sockets += strncmp(l, "socket:", 7) == 0;
            for (int j = 0; j < np; j++)
                HH_CHECK(c, strcmp(l, parent[j]) != 0,
                         "worker %d (pid %d) holds %s, which the parent "
                         "holds too: an inherited end it should have "
                         "closed", w, (int)pl.pid[w], l);
            for (int v = 0; v < N; v++)
                for (int j = 0; v != w && j < nm[v]; j++)
                    HH_CHECK(c, strcmp(l, mine[v][j]) != 0,
                             "workers %d and %d both hold %s", w, v, l);
        }
        HH_CHECK(c, sockets == 1, "worker %d (pid %d) holds %d sockets "
                                  "besides the listener, want 1 (its end "
                                  "of its socketpair)", w, (int)pl.pid[w],
                 sockets);
        hh_note(c, "/proc/%d/fd: the listener %s, one socketpair end, its "
                   "own signal pipe; nothing of the parent's or another "
                   "worker's", (int)pl.pid[w], listener);
    }
    pool_stop(c, &pl);
}

/* SIGTERM with connections open: every process exits, clients see EOF. */
static void
pool_sigterm(struct hh_ctx *c)
{
    struct pool pl;
    const char *args[] = {"-n", "3", NULL};
    pool_start(c, &pl, "pool_echo", NULL, args, 3);
    int fd[2];
    for (int i = 0; i < 2; i++)
        pool_echo_once(c, &pl, &fd[i]);
    pool_stop(c, &pl);
    for (int i = 0; i < 2; i++)
        hh_expect_eof(c, fd[i], 2000);
    HH_CHECK(c, hh_count_lines(pl.p, "^worker [0-9] \\(pid [0-9]+\\) ended: "
                                     "exited 0$") == 3,
             "the parent did not report 3 workers that exited 0");
    hh_note(c, "both clients got EOF: the workers closed their "
               "connections and exited 0; the parent reaped all three");
}

/* The notification and the accept, in the system calls (strace -f). */
static void
pool_syscalls(struct hh_ctx *c)
{
    struct pool pl;
    const char *args[] = {"-n", "2", NULL};
    struct hh_spawn opt = {.trace = "trace=sendto,recvfrom,accept4",
                           .must_trace = true};
    pool_start(c, &pl, "pool_echo", &opt, args, 2);
    int fd;
    int w = pool_echo_once(c, &pl, &fd);
    pid_t parent = hh_pid(pl.p); /* the tracee: asked while it runs */
    hh_close(c, fd);
    pool_stop(c, &pl);
    char re[128];
    /* a call another process interrupts is split in two lines by strace
     * ("<unfinished ...>", "<... resumed>"): the arguments are on the
     * first, what was received on the second */
    snprintf(re, sizeof re, "^%d +sendto\\([0-9]+, \"\\\\1\\\\0\\\\0\\\\0\", "
                            "4, MSG_NOSIGNAL", (int)parent);
    HH_CHECK(c, hh_trace_count(pl.p, re) == 1,
             "no 4-byte notification (the int 1) sent by the parent %d",
             (int)parent);
    snprintf(re, sizeof re, "^%d +(recvfrom\\([0-9]+, |<\\.\\.\\. recvfrom "
                            "resumed>)\"\\\\1\\\\0\\\\0\\\\0\", 4, .*= 4$",
             (int)pl.pid[w]);
    HH_CHECK(c, hh_trace_count(pl.p, re) == 1,
             "worker %d (pid %d) did not receive the notification",
             w, (int)pl.pid[w]);
    snprintf(re, sizeof re, "^%d +(accept4\\(|<\\.\\.\\. accept4 resumed>).* "
                            "= [0-9]+$", (int)pl.pid[w]);
    HH_CHECK(c, hh_trace_count(pl.p, re) == 1,
             "worker %d (pid %d) did not accept the connection", w,
             (int)pl.pid[w]);
    snprintf(re, sizeof re, "^%d +accept4\\(", (int)parent);
    HH_CHECK(c, hh_trace_count(pl.p, re) == 0, "the parent called accept4");
    hh_note(c, "strace -f: the parent sent the int 1 (4 bytes) to worker "
               "%d, which received it and called accept4; the parent never "
               "accepts", w);
}

/* ---- 15-2: the CGI server ------------------------------------------------ */

static bool
under_valgrind(void)
{
    const char *v = getenv("HPSP_VALGRIND");
    return v && *v && strcmp(v, "0") != 0;
}

enum { NOBODY = 65534 };

/* A directory for CGI programs, searchable by the programs' user (the
 * scenario's temp dir is 0700 otherwise).  Its path into DIR. */
static void
cgi_dir(struct hh_ctx *c, char *dir, size_t len)
{
    /* the programs run as nobody, who must reach them */
    hh_world_dir(c, "cgi", dir, len);
}

/* DIR/NAME holding TEXT, with mode MODE. */
static void
cgi_file(struct hh_ctx *c, const char *dir, const char *name,
         const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    hh_write_text(c, path, text);
    HH_CHECK(c, chmod(path, mode) == 0, "chmod %s: %s", path,
             strerror(errno));
}

static void sweep_cgroups(void);

/* cgi_server -n N -r DIR [OPTS] 127.0.0.1 0, its workers known. */
static void
cgi_start(struct hh_ctx *c, struct pool *pl, const char *dir, int n,
          const char *const *opts, const struct hh_spawn *spawn)
{
    const char *args[16];
    char nw[8];
    int k = 0;
    snprintf(nw, sizeof nw, "%d", n);
    args[k++] = "-n";
    args[k++] = nw;
    args[k++] = "-r";
    args[k++] = dir;
    for (int i = 0; opts && opts[i]; i++)
        args[k++] = opts[i];
    args[k] = NULL;
    static bool sweeping;
    if (!sweeping)
        sweeping = atexit(sweep_cgroups) == 0;
    /* the scratch directories go beside DIR, where nobody can reach */
    char base[512];
    snprintf(base, sizeof base, "%s", dir);
    char *slash = strrchr(base, '/');
    if (slash)
        *slash = '\0';
    struct hh_spawn o = spawn ? *spawn : (struct hh_spawn){0};
    o.tmpdir = base;
    pool_start(c, pl, "cgi_server", &o, args, n);
}

/* Send REQ (LEN bytes) on a new connection, read to EOF into OUT (NUL
 * terminated).  Returns the byte count; *FD_OUT the socket, if wanted. */
static size_t
cgi_ask(struct hh_ctx *c, struct pool *pl, const char *req, size_t len,
        char *out, size_t cap)
{
    int fd = hh_connect(c, &pl->p->addr, 2000);
    hh_send(c, fd, req, len, 2000);
    size_t n = hh_recv_all(c, fd, out, cap - 1, 5000);
    out[n] = '\0';
    hh_close(c, fd);
    return n;
}

/* The worker's "running PATH as pid P" line for the client port PORT:
 * P, checked to be a child of one of the workers in /proc. */
static pid_t
cgi_running(struct hh_ctx *c, struct pool *pl, in_port_t port)
{
    char re[160];
    snprintf(re, sizeof re, "^worker ([0-9]+) \\(pid ([0-9]+)\\): "
                            "127\\.0\\.0\\.1:%u: running .* as pid ([0-9]+) ",
             (unsigned)port);
    hh_expect_line(pl->p, re, 3000);
    int w = atoi(pl->p->groups[1]);
    pid_t pid = (pid_t)atoi(pl->p->groups[3]);
    HH_CHECK(c, w >= 0 && w < pl->n, "no worker %d", w);
    HH_CHECK(c, hh_ppid(pid) == pl->pid[w], "pid %d is not a child of "
                                            "worker %d (pid %d) in /proc",
             (int)pid, w, (int)pl->pid[w]);
    return pid;
}

/* The program's output is exactly its line, then EOF. */
static void
cgi_hello(struct hh_ctx *c)
{
    char dir[256], out[256];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "hello", "#!/bin/sh\necho \"hello from a CGI "
                              "program\"\n", 0755);
    struct pool pl;
    cgi_start(c, &pl, dir, 2, NULL, NULL);
    static const char want[] = "hello from a CGI program\n";
    size_t n = cgi_ask(c, &pl, "hello\r\n", 7, out, sizeof out);
    HH_CHECK(c, n == sizeof want - 1 && memcmp(out, want, n) == 0,
             "got \"%s\" (%zu bytes), want the program's one line", out, n);
    hh_expect_line(pl.p, "^worker 0 \\(pid [0-9]+\\): hello \\(pid [0-9]+\\) "
                         "exited 0 after ", 3000);
    hh_note(c, "harness: \"hello\\r\\n\" gave exactly the program's line, "
               "then EOF: the program's stdout was the socket");
    pool_stop(c, &pl);
}

/* Workers take the requests round-robin: the program's parent says
 * which (its $PPID, a pid the harness checks against /proc). */
static void
cgi_round_robin(struct hh_ctx *c)
{
    enum { N = 3 };
    char dir[256], out[128];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "whose", "#!/bin/sh\necho \"$PPID\"\n", 0755);
    struct pool pl;
    cgi_start(c, &pl, dir, N, NULL, NULL);
    pid_t got[N + 1];
    for (int i = 0; i <= N; i++) {
        cgi_ask(c, &pl, "whose\r\n", 7, out, sizeof out);
        got[i] = (pid_t)atoi(out);
        HH_CHECK(c, got[i] == pl.pid[i % N],
                 "request %d ran under pid %d, want worker %d (pid %d)",
                 i + 1, (int)got[i], i % N, (int)pl.pid[i % N]);
    }
    hh_note(c, "the programs' parents were workers 0 1 2 0 (pids %d %d %d "
               "%d): round-robin", (int)got[0], (int)got[1], (int)got[2],
            (int)got[3]);
    pool_stop(c, &pl);
}

/* One line of /proc/PID/FILE that starts with KEY, after KEY. */
static const char *
proc_field(struct hh_ctx *c, pid_t pid, const char *file, const char *key)
{
    char path[64];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    char *text = hh_read_file(c, path, &len);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, key, strlen(key)) == 0) {
            line += strlen(key);
            while (*line == ' ' || *line == '\t')
                line++;
            return line;
        }
    hh_fail(c, "no \"%s\" in %s", key, path);
}

static void
fd_link(struct hh_ctx *c, pid_t pid, int fd, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t k = readlink(path, out, cap - 1);
    HH_CHECK(c, k > 0, "readlink %s: %s", path, strerror(errno));
    out[k] = '\0';
}

/* What the program starts with, read from /proc while it runs: a copy
 * of yes(1), which writes to the socket until the client goes. */
static void
cgi_clean_start(struct hh_ctx *c)
{
    char dir[256], path[512], link[128], want[128];
    cgi_dir(c, dir, sizeof dir);
    size_t len;
    char *yes = hh_read_file(c, "/usr/bin/yes", &len);
    snprintf(path, sizeof path, "%s/yes", dir);
    FILE *f = fopen(path, "w");
    HH_CHECK(c, f && fwrite(yes, 1, len, f) == len && fclose(f) == 0,
             "copy yes to %s", path);
    HH_CHECK(c, chmod(path, 0755) == 0, "chmod %s", path);
    /* a variable of the server's own that must not reach the program */
    setenv("HPSP_SERVER_SECRET", "do-not-pass", 1);
    struct pool pl;
    cgi_start(c, &pl, dir, 2, NULL, NULL);
    unsetenv("HPSP_SERVER_SECRET");
    int fd = hh_connect(c, &pl.p->addr, 2000);
    hh_send(c, fd, "yes\r\n", 5, 2000);
    hh_echo_expect(c, fd, "y\ny\n", 4, 3000);
    pid_t pid = cgi_running(c, &pl, hh_local_port(fd));
    /* the socket's buffers fill meanwhile: yes must block in write, not
     * fail with EAGAIN (the accepted socket is non-blocking in the
     * worker; the open file, and so the flag, is shared with the child) */
    hh_observe(c, 300);
    hh_note(c, "harness: reading /proc/%d of the running program", (int)pid);
    char info[64];
    snprintf(info, sizeof info, "/proc/%d/fdinfo/1", (int)pid);
    const char *flags = proc_field(c, pid, "fdinfo/1", "flags:");
    HH_CHECK(c, !(strtoul(flags, NULL, 8) & O_NONBLOCK),
             "%s: flags %s: its stdout is non-blocking (O_NONBLOCK)", info,
             flags);

    const char *uid = proc_field(c, pid, "status", "Uid:");
    HH_CHECK(c, strcmp(uid, "65534\t65534\t65534\t65534") == 0,
             "Uid: %s, want 65534 four times", uid);
    const char *gid = proc_field(c, pid, "status", "Gid:");
    HH_CHECK(c, strcmp(gid, "65534\t65534\t65534\t65534") == 0,
             "Gid: %s, want 65534 four times", gid);
    const char *groups = proc_field(c, pid, "status", "Groups:");
    HH_CHECK(c, strcmp(groups, "65534") == 0 || strcmp(groups, "65534 ") == 0,
             "Groups: %s, want 65534 only (root's groups dropped)", groups);
    const char *masks[] = {"SigBlk:", "SigIgn:", "SigCgt:"};
    for (int i = 0; i < 3; i++) {
        const char *m = proc_field(c, pid, "status", masks[i]);
        HH_CHECK(c, strtoull(m, NULL, 16) == 0, "%s %s, want none", masks[i],
                 m);
    }
    hh_note(c, "/proc/%d/status: Uid and Gid 65534, Groups 65534, SigBlk, "
               "SigIgn and SigCgt 0", (int)pid);

    char envpath[64];
    snprintf(envpath, sizeof envpath, "/proc/%d/environ", (int)pid);
    char *env = hh_read_file(c, envpath, &len);
    static const char clean[] = "PATH=/usr/bin:/bin";
    HH_CHECK(c, len == sizeof clean && memcmp(env, clean, len) == 0,
             "%s is \"%s\"%s (%zu bytes), want %s alone", envpath, env,
             len > strlen(env) + 1 ? " and more" : "", len, clean);
    hh_note(c, "%s: %s, and nothing else", envpath, clean);

    char fddir[64];
    snprintf(fddir, sizeof fddir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(fddir);
    HH_CHECK(c, d != NULL, "opendir %s", fddir);
    struct dirent *e;
    int extra = -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) <= 2)
            continue;
        fd_link(c, pid, atoi(e->d_name), link, sizeof link);
        if (under_valgrind() && strstr(link, "/valgrind."))
            continue; /* valgrind's log, which it leaves open over exec */
        extra = atoi(e->d_name);
    }
    closedir(d);
    if (extra >= 0)
        fd_link(c, pid, extra, link, sizeof link);
    HH_CHECK(c, extra < 0, "the program holds fd %d (%s): a descriptor of "
                           "the server's", extra, extra >= 0 ? link : "");
    fd_link(c, pid, 0, link, sizeof link);
    HH_CHECK(c, strcmp(link, "/dev/null") == 0, "fd 0 is %s", link);
    fd_link(c, pid, 1, link, sizeof link);
    snprintf(want, sizeof want, "socket:[%lu]",
             tcp_inode(c, ntohs(pl.p->addr.sin_port), hh_local_port(fd)));
    HH_CHECK(c, strcmp(link, want) == 0, "fd 1 is %s, not the client's "
                                         "connection %s", link, want);
    char theirs[128];
    fd_link(c, pid, 2, link, sizeof link);
    fd_link(c, hh_pid(pl.p), 2, theirs, sizeof theirs);
    HH_CHECK(c, strcmp(link, theirs) == 0, "fd 2 is %s, not the server's "
                                           "stderr %s", link, theirs);
    hh_note(c, "%s: 0 /dev/null, 1 %s (this connection), 2 the server's "
               "stderr; nothing else", fddir, want);

    const struct { const char *key, *val; } lim[] = {
        {"Max processes", "32"},
        {"Max open files", "64"},
        {"Max file size", "1048576"},
        {"Max address space", "536870912"},
        {"Max cpu time", "11"},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        if (under_valgrind() && strcmp(lim[i].key, "Max open files") == 0)
            continue; /* valgrind emulates it and never tells the kernel */
        const char *v = proc_field(c, pid, "limits", lim[i].key);
        HH_CHECK(c, strncmp(v, lim[i].val, strlen(lim[i].val)) == 0,
                 "%s: %s, want %s", lim[i].key, v, lim[i].val);
    }
    hh_note(c, "/proc/%d/limits: 32 processes, 64 files, 1 MiB file size, "
               "512 MiB address space, 11 s of CPU", (int)pid);

    char cwd[64];
    struct stat sb;
    snprintf(cwd, sizeof cwd, "/proc/%d/cwd", (int)pid);
    HH_CHECK(c, stat(cwd, &sb) == 0 && sb.st_uid == NOBODY &&
                    (sb.st_mode & 0777) == 0700,
             "its working directory is not a 0700 directory of uid 65534");
    hh_close(c, fd);
    hh_expect_line(pl.p, "yes: scratch directory .* removed$", 3000);
    pool_stop(c, &pl);
}

/* Names that must never reach execve, under strace -f. */
static void
cgi_refusals(struct hh_ctx *c)
{
    char dir[256], outside[256], link[512], out[512], req[400];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "hello", "#!/bin/sh\necho hello\n", 0755);
    cgi_file(c, dir, "plain", "#!/bin/sh\necho plain\n", 0644);
    snprintf(link, sizeof link, "%s/sub", dir);
    HH_CHECK(c, mkdir(link, 0755) == 0, "mkdir %s", link);
    /* an executable beside DIR, and a symlink in DIR that leads to it */
    snprintf(outside, sizeof outside, "%.*s/outside",
             (int)(strrchr(dir, '/') - dir), dir);
    hh_write_text(c, outside, "#!/bin/sh\necho escaped\n");
    chmod(outside, 0755);
    snprintf(link, sizeof link, "%s/out", dir);
    HH_CHECK(c, symlink(outside, link) == 0, "symlink %s", link);
    const char *base = strrchr(outside, '/') + 1;

    struct pool pl;
    const char *opts[] = {"-t", "300ms", NULL};
    struct hh_spawn spawn = {.trace = "trace=execve", .must_trace = true};
    cgi_start(c, &pl, dir, 2, opts, &spawn);
    char up[300], abs_path[600], longname[300];
    snprintf(up, sizeof up, "../%s\r\n", base);
    snprintf(abs_path, sizeof abs_path, "%s/hello\r\n", dir);
    memset(longname, 'a', 256);
    memcpy(longname + 256, "\r\n", 3);
    const struct { const char *req; size_t len; const char *why; } cases[] = {
        {up, strlen(up), "outside the CGI directory"},
        {abs_path, strlen(abs_path), "absolute path"},
        {"out\r\n", 5, "outside the CGI directory"},
        {"plain\r\n", 7, "not executable"},
        {"sub\r\n", 5, "not a regular file"},
        {"nothing\r\n", 9, "no such program"},
        {"hel\001lo\r\n", 8, "control byte in the name"},
        {"hel\0lo\r\n", 8, "control byte in the name"},
        {longname, 258, "request line too long"},
        {"hello\n", 6, "line not ended by CRLF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cgi_ask(c, &pl, cases[i].req, cases[i].len, out,
                           sizeof out);
        snprintf(req, sizeof req, "cgi_server: refused: %s\r\n",
                 cases[i].why);
        HH_CHECK(c, n == strlen(req) && strcmp(out, req) == 0,
                 "request %zu got \"%s\", want the one line \"%s\"", i + 1,
                 out, req);
        snprintf(req, sizeof req, "refused 127\\.0\\.0\\.1:[0-9]+: .*: %s$",
                 cases[i].why);
        hh_expect_line(pl.p, req, 2000);
    }
    /* unterminated: end of file first, then silence past REQTIME */
    int fd = hh_connect(c, &pl.p->addr, 2000);
    hh_send(c, fd, "hello", 5, 2000);
    shutdown(fd, SHUT_WR);
    hh_recv_all(c, fd, out, sizeof out - 1, 3000);
    hh_close(c, fd);
    hh_expect_line(pl.p, "refused .*: end of file before CRLF$", 2000);
    fd = hh_connect(c, &pl.p->addr, 2000);
    long long t0 = hh_now_ms();
    hh_send(c, fd, "hello", 5, 2000);
    size_t n = hh_recv_all(c, fd, out, sizeof out - 1, 3000);
    out[n] = '\0';
    long long waited = hh_now_ms() - t0;
    hh_close(c, fd);
    HH_CHECK(c, strstr(out, "not complete in time") && waited >= 280,
             "an unterminated line got \"%s\" after %lld ms, want a refusal "
             "after the 300 ms REQTIME", out, waited);
    hh_note(c, "harness clock: the unterminated line was refused after %lld "
               "ms (REQTIME 300ms)", waited);
    n = cgi_ask(c, &pl, "hello\r\n", 7, out, sizeof out);
    HH_CHECK(c, strcmp(out, "hello\n") == 0, "hello gave \"%s\"", out);
    pid_t parent = hh_pid(pl.p);
    pool_stop(c, &pl);

    char re[700];
    snprintf(re, sizeof re, "^[0-9]+ +execve\\(\"%s/hello\", \\[\"hello\"\\], "
                            "0x[0-9a-f]+ /\\* 1 var \\*/\\) = 0$", dir);
    int ok = hh_trace_count(pl.p, re);
    int all = hh_trace_count(pl.p, "^[0-9]+ +execve\\(");
    snprintf(re, sizeof re, "^%d +execve\\(", (int)parent);
    int own = hh_trace_count(pl.p, re);
    HH_CHECK(c, ok == 1 && all == own + 1,
             "strace -f: %d execve calls in all, %d of the server itself, %d "
             "of hello: a refused name reached execve", all, own, ok);
    HH_CHECK(c, hh_trace_count(pl.p, "execve\\(\"[^\"]*/(outside[^\"]*|plain|"
                                     "sub|nothing|out)\"") == 0,
             "strace -f: execve of a refused name");
    hh_note(c, "strace -f: one execve besides the server's own, of "
               "%s/hello with argv [\"hello\"] and 1 variable; none of the "
               "12 refused requests reached execve", dir);
}

/* ---- pids cgroups, seen from outside ---------------------------------- */

enum { PIDS_MAX = 16, NPROC = 32 }; /* the server's pids.max, RLIMIT_NPROC */

/* A hierarchy that can hold pids cgroups, from the test's own
 * /proc/self/mountinfo: its mount namespace is a copy of the host's, so
 * /sys/fs/cgroup is the host's, and reachable. */
struct pids_tree {
    bool found;
    char point[256]; /* where it is mounted */
    char root[256];  /* which of its cgroups is mounted there */
};

/* Whether the comma-separated LIST holds WORD. */
static bool
listed(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ", \n");
        if (len == n && strncmp(s, word, n) == 0)
            return true;
        s += len + (s[len] != '\0');
    }
    return false;
}

/* T[1]: a cgroup v1 hierarchy mounted with the pids controller; T[2]: a
 * cgroup v2 one whose root offers pids (cgroup.controllers). */
static void
pids_trees(struct pids_tree t[3])
{
    char line[1024];
    memset(t, 0, 3 * sizeof *t);
    FILE *m = fopen("/proc/self/mountinfo", "r");
    while (m && fgets(line, sizeof line, m)) {
        char root[256], point[256], type[32], super[256], path[300];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(dash + 3, "%31s %*s %255s", type, super) != 2 ||
            sscanf(line, "%*s %*s %*s %255s %255s", root, point) != 2)
            continue;
        int v = 0;
        if (strcmp(type, "cgroup") == 0 && listed(super, "pids")) {
            v = 1;
        } else if (strcmp(type, "cgroup2") == 0) {
            snprintf(path, sizeof path, "%s/cgroup.controllers", point);
            FILE *f = fopen(path, "r");
            char ctl[256] = "";
            if (f && fgets(ctl, sizeof ctl, f) && listed(ctl, "pids"))
                v = 2;
            if (f)
                fclose(f);
        }
        if (v && !t[v].found) {
            t[v].found = true;
            snprintf(t[v].point, sizeof t[v].point, "%s", point);
            snprintf(t[v].root, sizeof t[v].root, "%s", root);
        }
    }
    if (m)
        fclose(m);
}

/* PID's cgroup on VERSION (its /proc/PID/cgroup line: on v1 the one whose
 * controllers hold pids, on v2 "0::"), relative to the hierarchy's root,
 * into REL; false if it has none (or is gone). */
static bool
pids_cgroup_of(pid_t pid, int version, char *rel, size_t cap)
{
    char path[64], line[600];
    bool found = false;
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && !found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *ctl = strchr(line, ':');
        char *where = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!where)
            continue;
        *ctl++ = '\0';
        *where++ = '\0';
        found = version == 2 ? strcmp(line, "0") == 0 && !ctl[0]
                             : listed(ctl, "pids");
        if (found)
            snprintf(rel, cap, "%s", where);
    }
    if (f)
        fclose(f);
    return found;
}

/* The pids in DIR/cgroup.procs (numbered as our PID namespace numbers
 * them: the kernel translates for the reader); their count, -1 if it
 * cannot be read. */
static int
cgroup_procs(const char *dir, pid_t *out, int cap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, pid;
    while (n < cap && fscanf(f, "%d", &pid) == 1)
        out[n++] = (pid_t)pid;
    fclose(f);
    return n;
}

/* Kill what is in DIR, wait until it has exited, remove DIR: what a
 * wrong server left in the host's hierarchy.  0, or -1 with errno from
 * rmdir. */
static int
cgroup_remove(const char *dir)
{
    pid_t pids[128];
    for (int round = 0; round < 5; round++) {
        int n = cgroup_procs(dir, pids, 128);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            int pfd = (int)syscall(SYS_pidfd_open, pids[i], 0);
            if (pfd < 0)
                continue;
            syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
            struct pollfd pf = {.fd = pfd, .events = POLLIN};
            poll(&pf, 1, 1000);
            close(pfd);
            waitpid(pids[i], NULL, WNOHANG); /* an orphan of ours */
        }
    }
    return rmdir(dir);
}

/* At exit, the per-program cgroups a wrong server left (killed in the
 * middle of a scenario, it removes none): the hierarchy is the host's,
 * and outlives our namespaces.  Only empty ones of servers in our PID
 * namespace, which the server names (hpsp-cgi-NS-...); only when that
 * namespace is ours alone (we are its pid 1), whose leftover processes
 * the harness has killed after each scenario. */
static void
sweep_cgroups(void)
{
    struct stat ns;
    if (getpid() != 1 || stat("/proc/self/ns/pid", &ns) < 0)
        return;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "hpsp-cgi-%lu-", (unsigned long)ns.st_ino);
    struct pids_tree t[3];
    pids_trees(t);
    for (int v = 1; v <= 2; v++) {
        char rel[512], dir[800];
        if (!t[v].found || !pids_cgroup_of(getpid(), v, rel, sizeof rel))
            continue;
        size_t rl = strcmp(t[v].root, "/") == 0 ? 0 : strlen(t[v].root);
        if (strncmp(rel, t[v].root, rl) != 0)
            continue;
        snprintf(dir, sizeof dir, "%s%s", t[v].point,
                 strcmp(rel + rl, "/") == 0 ? "" : rel + rl);
        DIR *d = opendir(dir);
        for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
            char sub[1100];
            if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
                continue;
            snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
            if (rmdir(sub) == 0)
                fprintf(stderr, "ch15_test: removed %s, left by a server\n",
                        sub);
        }
        if (d)
            closedir(d);
    }
}

/* The server's start-up line about pids cgroups: the version it uses (1,
 * 2) and the directory into DIR, or 0 (none) with the line in DIR. */
static int
server_pids_line(struct hh_ctx *c, struct pool *pl, char *dir, size_t cap)
{
    char line[1024], g[HH_MAX_GROUPS][HH_GROUP_LEN];
    size_t pos = 0;
    while (hh_next_line(pl->p, &pos, line, sizeof line)) {
        if (hh_match(c, "^pids cgroup: v([12]) ([^ ]+): pids\\.max 16 per "
                        "program", line, g)) {
            snprintf(dir, cap, "%s", g[2]);
            return atoi(g[1]);
        }
        if (strncmp(line, "pids cgroup: ", 13) == 0) {
            snprintf(dir, cap, "%.400s", line);
            return 0;
        }
    }
    hh_fail(c, "no \"pids cgroup: ...\" line before \"listening on\"");
}

/* A program that forks until fork fails, in the pids cgroup the server
 * gives it: seen from outside, the cgroup holds it and stops it at
 * pids.max, and is killed empty and removed when it ends. */
static void
cgi_pids_cgroup(struct hh_ctx *c)
{
    struct pids_tree t[3];
    pids_trees(t);
    if (!t[1].found && !t[2].found)
        hh_skip(c, "no pids cgroup to test: /proc/self/mountinfo has no "
                   "cgroup v1 hierarchy mounted with pids, and no cgroup "
                   "v2 one whose cgroup.controllers offers it");
    if (access("/usr/bin/perl", X_OK) != 0)
        hh_skip(c, "no /usr/bin/perl to write the forking program in");
    hh_note(c, "harness: /proc/self/mountinfo of this test's mount "
               "namespace: %s%s%s%s%s", t[1].found ? "cgroup v1 with pids at "
                                                   : "",
            t[1].point, t[1].found && t[2].found ? "; " : "",
            t[2].found ? "cgroup v2 offering pids at " : "", t[2].point);
    char dir[256], base[512], line[1024];
    cgi_dir(c, dir, sizeof dir);
    /* fork until fork fails, then say why and wait.  First a child that
     * leaves the session and has a child of its own: once the program
     * and that child are dead, the grandchild is in no process group the
     * worker kills, and not its child yet - only the cgroup holds it.
     * The pipe ends at EOF once both have exec'd (perl's descriptors are
     * close-on-exec). */
    cgi_file(c, dir, "bomb",
             "#!/usr/bin/perl\nuse POSIX ();\n$| = 1;\n"
             "pipe(my $r, my $w) or die;\n"
             "if (fork == 0) {\n  POSIX::setsid();\n  fork;\n"
             "  exec 'sleep', '30';\n  POSIX::_exit(127);\n}\n"
             "close $w;\nmy $eof = <$r>;\n"
             "for (1 .. 100) {\n  my $pid = fork;\n"
             "  if (!defined $pid) {\n"
             "    printf \"fork failed: %d\\n\", $! + 0;\n"
             "    sleep 30;\n    exit 0;\n  }\n"
             "  if ($pid == 0) { exec 'sleep', '30'; POSIX::_exit(127); }\n"
             "}\nprint \"all 100 started\\n\";\nsleep 30;\n", 0755);
    struct pool pl;
    cgi_start(c, &pl, dir, 2, NULL, NULL);
    int v = server_pids_line(c, &pl, base, sizeof base);
    if (v == 0 && !t[1].found)
        hh_skip(c, "cgroup v2 offers pids at its root, but the server "
                   "cannot have it below its own cgroup: %s", base);
    HH_CHECK(c, v != 0, "the server found no pids cgroup, where there is "
                        "a v1 one at %s: %s", t[1].point, base);
    HH_CHECK(c, t[v].found && strncmp(base, t[v].point,
                                      strlen(t[v].point)) == 0,
             "the server nests in v%d %s, which is no pids hierarchy "
             "mounted here", v, base);

    int fd = hh_connect(c, &pl.p->addr, 2000);
    hh_send(c, fd, "bomb\r\n", 6, 2000);
    pid_t pid = cgi_running(c, &pl, hh_local_port(fd));
    pid_t worker = hh_ppid(pid);
    char g[HH_MAX_GROUPS][HH_GROUP_LEN], cg[600], rel[512], wrel[512];
    HH_CHECK(c, hh_match(c, ", cgroup ([^ ]+)\\)$", pl.p->line, g),
             "the running line has no cgroup: %s", pl.p->line);
    snprintf(cg, sizeof cg, "%s", g[1]);
    /* 11: EAGAIN, what fork says at pids.max and at RLIMIT_NPROC alike */
    hh_echo_expect(c, fd, "fork failed: 11\n", 16, 5000);

    /* the program's own view, from /proc: its cgroup on that hierarchy */
    HH_CHECK(c, pids_cgroup_of(pid, v, rel, sizeof rel),
             "/proc/%d/cgroup has no v%d pids line", (int)pid, v);
    HH_CHECK(c, pids_cgroup_of(worker, v, wrel, sizeof wrel),
             "/proc/%d/cgroup (its worker) has no v%d pids line",
             (int)worker, v);
    size_t rl = strcmp(t[v].root, "/") == 0 ? 0 : strlen(t[v].root);
    char want[600], re[128];
    snprintf(want, sizeof want, "%s%s", t[v].point, rel + rl);
    HH_CHECK(c, strcmp(want, cg) == 0 && strncmp(rel, wrel, strlen(wrel)) == 0,
             "/proc/%d/cgroup: pids cgroup %s (%s), worker's %s; the server "
             "logged %s", (int)pid, rel, want, wrel, cg);
    struct stat ns;
    HH_CHECK(c, stat("/proc/self/ns/pid", &ns) == 0, "stat /proc/self/ns/pid");
    snprintf(re, sizeof re, "/hpsp-cgi-%lu-%d-[0-9]+-[A-Za-z0-9]{6}$",
             (unsigned long)ns.st_ino, (int)worker);
    HH_CHECK(c, hh_match(c, re, rel, NULL),
             "/proc/%d/cgroup: %s is not hpsp-cgi-PIDNS-WORKER-N-XXXXXX "
             "below its worker's own", (int)pid, rel);
    hh_note(c, "/proc/%d/cgroup: the program is in v%d pids cgroup %s, "
               "below its worker's %s", (int)pid, v, rel, wrel);

    /* every process in it, from /proc; and the cgroup's own list */
    pid_t in[128], listed_pids[128];
    int n = 0, escaped = 0;
    DIR *d = opendir("/proc");
    HH_CHECK(c, d != NULL, "opendir /proc");
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char theirs[512];
        pid_t q = (pid_t)atoi(e->d_name);
        if (q <= 0 || !pids_cgroup_of(q, v, theirs, sizeof theirs) ||
            strcmp(theirs, rel) != 0 || n == 128)
            continue;
        in[n++] = q;
        snprintf(line, sizeof line, "/proc/%d/stat", (int)q);
        size_t len;
        char *st = strrchr(hh_read_file(c, line, &len), ')');
        int sid = 0;
        if (st && sscanf(st + 1, " %*c %*d %*d %d", &sid) == 1 && sid != pid)
            escaped++;
    }
    closedir(d);
    int np = cgroup_procs(cg, listed_pids, 128);
    char path[700];
    snprintf(path, sizeof path, "%s/pids.max", cg);
    long max = hh_read_long(path);
    snprintf(path, sizeof path, "%s/pids.current", cg);
    long current = hh_read_long(path);
    int both = 0;
    for (int i = 0; i < np; i++)
        for (int k = 0; k < n; k++)
            both += listed_pids[i] == in[k];
    hh_note(c, "harness: %d processes in /proc name that cgroup (%d of "
               "them outside the program's session); %s/cgroup.procs lists "
               "%d, the same %d pids /proc shows here: pids of this PID "
               "namespace, not the host's; pids.max %ld, pids.current %ld",
            n, escaped, cg, np, both, max, current);

    /* the program ends (killed from here): the worker kills what is left
     * and removes the cgroup */
    HH_CHECK(c, kill(pid, SIGKILL) == 0, "kill %d: %s", (int)pid,
             strerror(errno));
    hh_expect_line(pl.p, "bomb: scratch directory .* removed$", 5000);
    int left = 0;
    for (int i = 0; i < n; i++)
        left += !hh_wait_gone(c, in[i], 2000);
    struct stat sb;
    bool kept = stat(cg, &sb) == 0;
    if (kept) /* a wrong server's: the hierarchy is the host's */
        cgroup_remove(cg);
    hh_close(c, fd);

    HH_CHECK(c, max == PIDS_MAX, "%s/pids.max reads %ld, want %d", cg, max,
             PIDS_MAX);
    HH_CHECK(c, n == PIDS_MAX,
             "%d processes in the cgroup when fork failed: want pids.max %d "
             "(RLIMIT_NPROC, %d, is not what should stop it)", n, PIDS_MAX,
             NPROC);
    HH_CHECK(c, np == n && both == n,
             "cgroup.procs lists %d pids, %d of them the %d that /proc "
             "shows in the cgroup", np, both, n);
    HH_CHECK(c, escaped >= 2, "%d of its processes left its session, want "
                              "the 2 the program made so", escaped);
    hh_note(c, "fork failed with EAGAIN at %d processes: pids.max, not "
               "RLIMIT_NPROC's %d", n, NPROC);
    HH_CHECK(c, left == 0, "%d of the %d processes outlived the program",
             left, n);
    HH_CHECK(c, !kept, "%s is still there after the program ended", cg);
    hh_note(c, "the program killed: all %d processes gone (the grandchild "
               "outside its session too), and %s with them (stat: ENOENT)",
            n, cg);
    pool_stop(c, &pl);
}

/* A program that forks without end: its pids cgroup stops it at 16
 * processes, or RLIMIT_NPROC at 32 where there is no pids cgroup; nothing
 * of it is left once the connection ends. */
static void
cgi_fork_bomb(struct hh_ctx *c)
{
    char dir[256], out[4096];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "bomb",
             "#!/bin/sh\nn=0\nwhile [ $n -lt 200 ]; do\n"
             "  sleep 30 &\n  n=$((n+1))\n  echo \"started $n\"\ndone\n"
             "echo \"all $n started\"\n", 0755);
    struct pool pl;
    cgi_start(c, &pl, dir, 2, NULL, NULL);
    /* which fence is first: the pids cgroup where the test sees a pids
     * hierarchy the server can use (cgi_pids_cgroup proves it does) */
    struct pids_tree t[3];
    char base[512];
    pids_trees(t);
    int v = server_pids_line(c, &pl, base, sizeof base);
    bool cgroup = t[1].found || (v == 2 && t[2].found);
    size_t n = cgi_ask(c, &pl, "bomb\r\n", 6, out, sizeof out);
    int last = 0;
    for (char *s = out; (s = strstr(s, "started ")) != NULL; s += 8)
        last = atoi(s + 8);
    if (cgroup) {
        /* the shell and its sleeps: PIDS_MAX processes in all */
        HH_CHECK(c, n > 0 && last == PIDS_MAX - 1,
                 "the program started %d sleeps, want %d: its pids cgroup "
                 "(pids.max %d) should stop it before RLIMIT_NPROC (%d)",
                 last, PIDS_MAX - 1, PIDS_MAX, NPROC);
        hh_note(c, "the program could start %d sleeps, %d processes with "
                   "itself; then fork failed: pids.max %d of its cgroup, "
                   "before RLIMIT_NPROC %d of uid 65534", last, last + 1,
                PIDS_MAX, NPROC);
    } else {
        HH_CHECK(c, n > 0 && !strstr(out, "all 200 started") && last < NPROC,
                 "the program started %d processes (limit: %d of its user)",
                 last, NPROC);
        hh_note(c, "no pids cgroup here: the program could start %d "
                   "sleeps; then fork failed (RLIMIT_NPROC %d for uid "
                   "65534)", last, NPROC);
    }
    hh_expect_line(pl.p, "bomb: scratch directory .* removed$", 3000);
    /* every process of uid 65534 is gone */
    DIR *d = opendir("/proc");
    HH_CHECK(c, d != NULL, "opendir /proc");
    struct dirent *e;
    int left = 0;
    while ((e = readdir(d)) != NULL) {
        char path[300];
        struct stat sb;
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s", e->d_name);
        if (stat(path, &sb) == 0 && sb.st_uid == NOBODY &&
            !hh_wait_gone(c, (pid_t)atoi(e->d_name), 2000))
            left++;
    }
    closedir(d);
    HH_CHECK(c, left == 0, "%d process(es) of uid 65534 outlived the "
                           "connection", left);
    hh_note(c, "the connection ended; /proc holds no process of uid 65534: "
               "the program's process group was killed whole");
    pool_stop(c, &pl);
}

/* A program that never ends is killed at -T, on the harness's clock. */
static void
cgi_wall_clock(struct hh_ctx *c)
{
    char dir[256], out[256];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "forever", "#!/bin/sh\necho started\n"
                                "while :; do sleep 1; done\n", 0755);
    struct pool pl;
    const char *opts[] = {"-T", "1s", NULL};
    cgi_start(c, &pl, dir, 2, opts, NULL);
    long long t0 = hh_now_ms();
    size_t n = cgi_ask(c, &pl, "forever\r\n", 9, out, sizeof out);
    long long took = hh_now_ms() - t0;
    HH_CHECK(c, n == 8 && strcmp(out, "started\n") == 0, "got \"%s\"", out);
    hh_note(c, "harness clock: EOF %lld ms after the request (TIMEOUT 1s)",
            took);
    HH_CHECK(c, took >= 950 && took <= hh_ms(c, 2500),
             "the connection ended after %lld ms, want about 1000", took);
    hh_expect_line(pl.p, "forever \\(pid [0-9]+\\) still running after 1000 "
                         "ms: killed$", 2000);
    hh_expect_line(pl.p, "forever \\(pid [0-9]+\\) killed by signal 9 "
                         "\\(wall-clock limit\\)", 2000);
    pool_stop(c, &pl);
}

/* A file over RLIMIT_FSIZE: SIGXFSZ kills the writer, the file stops at
 * 1 MiB. */
static void
cgi_big_file(struct hh_ctx *c)
{
    char dir[256], out[256];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "big", "#!/bin/sh\nhead -c 3000000 /dev/zero > big\n"
                            "echo \"status $?\"\nwc -c < big\n", 0755);
    struct pool pl;
    cgi_start(c, &pl, dir, 1, NULL, NULL);
    cgi_ask(c, &pl, "big\r\n", 5, out, sizeof out);
    HH_CHECK(c, strcmp(out, "status 153\n1048576\n") == 0,
             "got \"%s\", want head killed by SIGXFSZ (status 153) and a "
             "file of 1048576 bytes", out);
    hh_note(c, "head was killed by SIGXFSZ (128 + 25) at 1 MiB: the "
               "program's RLIMIT_FSIZE");
    pool_stop(c, &pl);
}

/* Programs nobody can reach (under a 0700 directory, as a clone in /root
 * is): refused at start with a line that says why, not EACCES at every
 * request. */
static void
cgi_dir_unreachable(struct hh_ctx *c)
{
    char priv[256], dir[300];
    hh_tmpfile(c, "private", priv, sizeof priv);
    HH_CHECK(c, mkdir(priv, 0700) == 0, "mkdir %s: %s", priv,
             strerror(errno));
    snprintf(dir, sizeof dir, "%s/cgi", priv);
    HH_CHECK(c, mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
    cgi_file(c, dir, "hello", "#!/bin/sh\necho hello\n", 0755);
    hh_note(c, "harness: %s is mode 0700: uid 65534 cannot search it", priv);
    const char *args[] = {"-r", dir, "127.0.0.1", "0", NULL};
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *p = hh_startv(c, &opt, "cgi_server", args);
    hh_expect_err(p, "-r .*/cgi: nobody \\(uid 65534\\) cannot reach it: "
                     "Permission denied", 3000);
    hh_expect_exit(p, 1, 3000);
    HH_CHECK(c, !hh_output_has(p, "^listening on"),
             "the server listened before refusing");
}

/* Not root; a scratch directory of its own, gone afterwards. */
static void
cgi_user_and_scratch(struct hh_ctx *c)
{
    char dir[256], out[512], where[300];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "who", "#!/bin/sh\nid -u\nid -g\npwd\n"
                            "stat -c '%u %a' .\necho left > left.txt\n",
             0755);
    struct pool pl;
    cgi_start(c, &pl, dir, 1, NULL, NULL);
    cgi_ask(c, &pl, "who\r\n", 5, out, sizeof out);
    int uid = -1, gid = -1, owner = -1;
    unsigned mode = 0;
    HH_CHECK(c, sscanf(out, "%d\n%d\n%299s\n%d %o", &uid, &gid, where,
                       &owner, &mode) == 5,
             "got \"%s\"", out);
    HH_CHECK(c, uid == NOBODY && gid == NOBODY,
             "the program ran as uid %d gid %d, want 65534", uid, gid);
    HH_CHECK(c, owner == NOBODY && mode == 0700,
             "its working directory %s is uid %d mode %o, want 65534 0700",
             where, owner, mode);
    char re[400];
    snprintf(re, sizeof re, "who: scratch directory %s removed$", where);
    hh_expect_line(pl.p, re, 3000);
    HH_CHECK(c, access(where, F_OK) != 0 && errno == ENOENT,
             "%s, with the file the program left in it, is still there",
             where);
    hh_note(c, "id -u: %d; it wrote left.txt in %s, which is gone once it "
               "ended", uid, where);
    pool_stop(c, &pl);
}

/* SIGTERM with a program running: it is killed, everything reaped. */
static void
cgi_sigterm(struct hh_ctx *c)
{
    char dir[256], out[64];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "slow", "#!/bin/sh\necho started\nsleep 30\n", 0755);
    struct pool pl;
    cgi_start(c, &pl, dir, 2, NULL, NULL);
    int fd = hh_connect(c, &pl.p->addr, 2000);
    hh_send(c, fd, "slow\r\n", 6, 2000);
    hh_echo_expect(c, fd, "started\n", 8, 3000);
    pid_t pid = cgi_running(c, &pl, hh_local_port(fd));
    pool_stop(c, &pl);
    hh_recv_all(c, fd, out, sizeof out, 2000);
    HH_CHECK(c, !proc_exists(pid), "the program %d outlived the server",
             (int)pid);
    hh_expect_line(pl.p, "slow: scratch directory .* removed$", 1);
    hh_note(c, "SIGTERM: the worker killed its running program and removed "
               "its scratch directory; the client got EOF; exit 0");
}

/* A program that cannot be exec'd: _exit(127), and not a byte of the
 * worker's stdio reaches the client. */
static void
regress_15_2_exec_fails(struct hh_ctx *c)
{
    char dir[256], out[256];
    cgi_dir(c, dir, sizeof dir);
    cgi_file(c, dir, "broken", "#!/no/such/interpreter\n", 0755);
    struct pool pl;
    cgi_start(c, &pl, dir, 1, NULL, NULL);
    size_t n = cgi_ask(c, &pl, "broken\r\n", 8, out, sizeof out);
    HH_CHECK(c, n == 0, "the client got \"%s\" from a program that never "
                        "ran", out);
    if (under_valgrind()) { /* it ends a failed execve itself: 101 */
        hh_expect_line(pl.p, "broken \\(pid [0-9]+\\) exited 101 after",
                       2000);
        pool_stop(c, &pl);
        return;
    }
    hh_expect_line(pl.p, "broken \\(pid [0-9]+\\) exited 127 after", 2000);
    hh_expect_err(pl.p, "execve .*/broken: .*\\(ENOENT\\)", 2000);
    hh_note(c, "execve failed (ENOENT: no interpreter); the grandchild "
               "left with _exit(127), the client got EOF and nothing else");
    pool_stop(c, &pl);
}

/* ---- 15-3: the thread pool's benchmark, as a smoke run --------------- */

/* pool_bench's table (make bench reads it): a row per job, mode and pool
 * size, each with min <= median <= max and a rate that is the median's. */
static void
pool_bench_smoke(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "pool_bench", "pool_bench", "-j", "1000",
                                 "-r", "1", "-t", "1,2", NULL);
    hh_expect_exit(p, 0, 20000);
    const char *row = "^(empty|work),(direct|pool),([0-9]+),1000,1,"
                      "([0-9.]+),([0-9.]+),([0-9.]+),[0-9.]+,([0-9]+),";
    char line[512], g[HH_MAX_GROUPS][HH_GROUP_LEN];
    size_t pos = 0;
    int rows = 0;
    while (hh_next_line(p, &pos, line, sizeof line)) {
        if (!hh_match(c, row, line, g))
            continue;
        double med = atof(g[4]), lo = atof(g[5]), hi = atof(g[6]);
        double rate = atof(g[7]);
        HH_CHECK(c, lo <= med && med <= hi && med > 0,
                 "row '%s': min %s, median %s, max %s out of order", line,
                 g[5], g[4], g[6]);
        HH_CHECK(c, rate > 0.9e9 / med && rate < 1.1e9 / med,
                 "row '%s': %s jobs/s is not 1e9 / %s ns", line, g[7], g[4]);
        rows++;
    }
    HH_CHECK(c, rows == 6, "%d rows, want 6 (2 jobs x direct, 1, 2 workers)",
             rows);
}

/* ---- 16-4: stress_client against an HTTP peer of the harness ----------- */

/* The peer is a function of this test run as a process (hh_fork): one
 * epoll loop that answers every GET it reads, in order, with a fixed
 * response, and counts what it did.  Its count is the harness's own view
 * of how many requests were answered; the client's summary must agree. */
enum peer_mode {
    PEER_PLAIN, /* all the responses a read asks for, in one send */
    PEER_SPLIT, /* each response in five pieces, a pause between them */
    PEER_CLOSE, /* CLOSE_AFTER answers per connection, then a FIN */
};

struct peer_cfg {
    int lfd;
    enum peer_mode mode;
    int close_after;
    size_t body; /* body bytes of every response */
};

enum { PEER_MAX_CONNS = 128, PEER_BUF = 16384 };

struct peer_conn {
    int fd;
    long answered;
    size_t len;
    char buf[PEER_BUF];
};

struct peer_totals {
    long answered, ok, not_found, conns, closed, junk;
    char first[256]; /* the first request line */
};

/* The response to the Nth request of a connection: 200 for even N, 404
 * for odd, so the client's count of each status can be checked too. */
static size_t
peer_response(const struct peer_cfg *cfg, long nth, char *out, size_t cap)
{
    int len = snprintf(out, cap, "HTTP/1.1 %s\r\nServer: hh-peer\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "Content-Length: %zu\r\n\r\n",
                       nth % 2 ? "404 Not Found" : "200 OK", cfg->body);
    size_t n = (size_t)len;
    for (size_t k = 0; k < cfg->body && n < cap; k++)
        out[n++] = (char)('a' + (nth + (long)k) % 26);
    return n;
}

/* Send one response of LEN bytes on FD, split as MODE says: in SPLIT,
 * cut inside the status line, inside a header, inside the blank line
 * and inside the body, with a 1 ms pause after each piece (pacing, so
 * the client reads each piece on its own; no state is waited for). */
static void
peer_send(const struct peer_cfg *cfg, int fd, const char *resp, size_t len)
{
    if (cfg->mode != PEER_SPLIT) {
        if (hp_writen(fd, resp, len) < 0)
            hp_die("peer: write");
        return;
    }
    const char *blank = memmem(resp, len, "\r\n\r\n", 4);
    size_t head = (size_t)(blank - resp);
    size_t cut[] = {5, 20, head + 2, head + 4 + cfg->body / 2, len};
    size_t from = 0;
    for (size_t k = 0; k < HH_LEN(cut); k++) {
        if (cut[k] <= from || cut[k] > len)
            continue;
        if (hp_writen(fd, resp + from, cut[k] - from) < 0)
            hp_die("peer: write");
        from = cut[k];
        if (from < len)
            poll(NULL, 0, 1);
    }
}

/* Answer every whole request in PC's buffer; false if the peer closed
 * the connection (PEER_CLOSE). */
static bool
peer_answer(const struct peer_cfg *cfg, struct peer_conn *pc,
            struct peer_totals *t, char *out, size_t cap)
{
    size_t olen = 0, off = 0;
    bool open = true;
    while (off < pc->len) {
        char *p = pc->buf + off;
        size_t avail = pc->len - off;
        /* anything but the start of a GET is junk, a byte at a time */
        size_t cmp = avail < 4 ? avail : 4;
        if (memcmp(p, "GET ", cmp) != 0) {
            t->junk++;
            off++;
            continue;
        }
        char *end = memmem(p, avail, "\r\n\r\n", 4);
        if (!end)
            break;
        if (!t->first[0]) {
            char *eol = memchr(p, '\r', avail);
            size_t l = (size_t)(eol - p);
            snprintf(t->first, sizeof t->first, "%.*s",
                     (int)(l < 200 ? l : 200), p);
        }
        off = (size_t)(end + 4 - pc->buf);
        if (cfg->mode == PEER_CLOSE && pc->answered == cfg->close_after) {
            open = false;
            break;
        }
        char resp[4096];
        size_t n = peer_response(cfg, pc->answered, resp, sizeof resp);
        if (cfg->mode == PEER_SPLIT) {
            peer_send(cfg, pc->fd, resp, n);
        } else {
            if (olen + n > cap) {
                peer_send(cfg, pc->fd, out, olen);
                olen = 0;
            }
            memcpy(out + olen, resp, n);
            olen += n;
        }
        if (pc->answered % 2)
            t->not_found++;
        else
            t->ok++;
        pc->answered++;
        t->answered++;
    }
    if (olen)
        peer_send(cfg, pc->fd, out, olen);
    memmove(pc->buf, pc->buf + off, pc->len - off);
    pc->len -= off;
    return open;
}

static void
http_peer(const void *arg)
{
    const struct peer_cfg *cfg = arg;
    static struct peer_conn conns[PEER_MAX_CONNS];
    static char out[256 * 1024];
    struct peer_totals t = {0};
    long fewest = -1;
    volatile sig_atomic_t stop = 0;
    sigset_t wait_mask;
    if (hp_block_term(&stop, &wait_mask) < 0)
        hp_die("peer: sigprocmask");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        hp_die("peer: epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, cfg->lfd, &ev) < 0)
        hp_die("peer: epoll_ctl");
    while (!stop) {
        struct epoll_event evs[64];
        int n = epoll_pwait(ep, evs, 64, -1, &wait_mask);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            hp_die("peer: epoll_pwait");
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u64 == UINT64_MAX) {
                int fd = accept4(cfg->lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                    hp_die("peer: accept4");
                int slot = 0;
                while (slot < PEER_MAX_CONNS && conns[slot].fd > 0)
                    slot++;
                if (slot == PEER_MAX_CONNS)
                    hp_diex("peer: more than %d connections at once",
                            PEER_MAX_CONNS);
                conns[slot] = (struct peer_conn){.fd = fd};
                struct epoll_event cev = {.events = EPOLLIN,
                                          .data.u64 = (uint64_t)slot};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0)
                    hp_die("peer: epoll_ctl");
                t.conns++;
                continue;
            }
            struct peer_conn *pc = &conns[evs[k].data.u64];
            ssize_t r = recv(pc->fd, pc->buf + pc->len, PEER_BUF - pc->len,
                             MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            bool open = r > 0;
            if (open) {
                pc->len += (size_t)r;
                open = peer_answer(cfg, pc, &t, out, sizeof out);
                if (pc->len == PEER_BUF) { /* a request too big: junk */
                    t.junk += (long)pc->len;
                    pc->len = 0;
                }
            }
            if (!open) {
                if (r > 0)
                    t.closed++;
                epoll_ctl(ep, EPOLL_CTL_DEL, pc->fd, NULL);
                close(pc->fd);
                pc->fd = 0;
                if (fewest < 0 || pc->answered < fewest)
                    fewest = pc->answered;
            }
        }
    }
    for (int s = 0; s < PEER_MAX_CONNS; s++)
        if (conns[s].fd > 0 && (fewest < 0 || conns[s].answered < fewest))
            fewest = conns[s].answered;
    printf("peer: first request: %s\n", t.first[0] ? t.first : "(none)");
    printf("peer: answered %ld (200: %ld, 404: %ld) on %ld connections, "
           "fewest on one %ld; junk %ld bytes; %ld closed by the peer\n",
           t.answered, t.ok, t.not_found, t.conns, fewest, t.junk, t.closed);
}

struct stress_run {
    struct hh_proc *peer, *client;
    long long ms;                /* the client's run, on our clock */
    long sent, completed, unanswered, ok, not_found;
    long opened, errors, closed; /* from the client's summary */
    long p_answered, p_ok, p_not_found, p_conns, p_fewest, p_junk;
    char first[HH_GROUP_LEN];
};

/* Start the peer (MODE), run stress_client with ARGS before IP PORT to
 * its end, stop the peer, and read both summaries into *S. */
static void
stress_run(struct hh_ctx *c, struct stress_run *s, enum peer_mode mode,
           int close_after, size_t body, const struct hh_spawn *opt,
           const char *const *args, int expect_status)
{
    struct sockaddr_in sa;
    struct peer_cfg cfg = {.mode = mode, .close_after = close_after,
                           .body = body};
    cfg.lfd = hh_listen(c, 0, &sa, 128);
    HH_CHECK(c, cfg.lfd >= 0, "listen: %s", strerror(errno));
    memset(s, 0, sizeof *s);
    s->peer = hh_fork(c, "http peer", http_peer, &cfg);
    hh_note(c, "harness: an HTTP peer on 127.0.0.1:%u answers every GET "
               "(%s), 200 and 404 in turn, %zu-byte bodies",
            (unsigned)ntohs(sa.sin_port),
            mode == PEER_SPLIT ? "each response in 5 pieces, 1 ms apart"
            : mode == PEER_CLOSE ? "then closes after a few"
                                 : "every response of a read in one send",
            body);
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)ntohs(sa.sin_port));
    const char *argv[24];
    int k = 0;
    for (; args[k]; k++)
        argv[k] = args[k];
    argv[k++] = "127.0.0.1";
    argv[k++] = port;
    argv[k] = NULL;
    long long t0 = hh_now_ms();
    struct hh_spawn o = opt ? *opt : (struct hh_spawn){0};
    o.role = "client";
    s->client = hh_startv(c, &o, "stress_client", argv);
    hh_expect_exit(s->client, expect_status, hh_ms(c, 15000));
    s->ms = hh_now_ms() - t0;
    hh_stop(s->peer);

    struct hh_proc *p = s->client;
    hh_expect_line(p, "^connections: ([0-9]+) opened, ", 1000);
    s->opened = atol(p->groups[1]);
    hh_expect_line(p, "^requests: ([0-9]+) sent, ([0-9]+) completed, "
                      "([0-9]+) unanswered", 1000);
    s->sent = atol(p->groups[1]);
    s->completed = atol(p->groups[2]);
    s->unanswered = atol(p->groups[3]);
    const char *line = hh_expect_line(p, "^responses: ", 1000);
    char g[HH_MAX_GROUPS][HH_GROUP_LEN];
    if (hh_match(c, " 200: ([0-9]+)", line, g))
        s->ok = atol(g[1]);
    if (hh_match(c, " 404: ([0-9]+)", line, g))
        s->not_found = atol(g[1]);
    hh_expect_line(p, "^errors: ([0-9]+) \\(.*closed ([0-9]+),", 1000);
    s->errors = atol(p->groups[1]);
    s->closed = atol(p->groups[2]);

    hh_expect_line(s->peer, "^peer: first request: (.*)$", 1000);
    snprintf(s->first, sizeof s->first, "%s", s->peer->groups[1]);
    hh_expect_line(s->peer, "^peer: answered ([0-9]+) \\(200: ([0-9]+), "
                            "404: ([0-9]+)\\) on ([0-9]+) connections, "
                            "fewest on one (-?[0-9]+); junk ([0-9]+)",
                   1000);
    s->p_answered = atol(s->peer->groups[1]);
    s->p_ok = atol(s->peer->groups[2]);
    s->p_not_found = atol(s->peer->groups[3]);
    s->p_conns = atol(s->peer->groups[4]);
    s->p_fewest = atol(s->peer->groups[5]);
    s->p_junk = atol(s->peer->groups[6]);
}

/* What every run must show: the client counted exactly the responses
 * the peer sent, status by status, and sent nothing but requests. */
static void
stress_agree(struct hh_ctx *c, const struct stress_run *s)
{
    HH_CHECK(c, s->p_answered > 0, "the peer answered no request");
    HH_CHECK(c, s->completed == s->p_answered,
             "the client counts %ld completed requests, the peer answered "
             "%ld", s->completed, s->p_answered);
    HH_CHECK(c, s->ok == s->p_ok && s->not_found == s->p_not_found,
             "the client counts 200: %ld, 404: %ld; the peer sent 200: %ld, "
             "404: %ld", s->ok, s->not_found, s->p_ok, s->p_not_found);
    HH_CHECK(c, s->p_junk == 0, "the peer read %ld bytes that were not part "
                                "of a GET request", s->p_junk);
    hh_note(c, "harness: the peer answered %ld requests (200: %ld, 404: "
               "%ld) on %ld connections, the client completed %ld; no byte "
               "outside a request", s->p_answered, s->p_ok, s->p_not_found,
            s->p_conns, s->completed);
}

/* stress_agree, for a run where nothing went wrong: no error counted and
 * no request left unanswered. */
static void
stress_agree_clean(struct hh_ctx *c, const struct stress_run *s)
{
    stress_agree(c, s);
    HH_CHECK(c, s->errors == 0 && s->unanswered == 0,
             "%ld errors, %ld unanswered: want none", s->errors,
             s->unanswered);
}

/* 4 keep-alive connections for 1 s, one request at a time. */
static void
stress_keepalive(struct hh_ctx *c)
{
    struct stress_run s;
    const char *args[] = {"-d", "1s", "-c", "4", "-p", "/stress.html", NULL};
    stress_run(c, &s, PEER_PLAIN, 0, 1400, NULL, args, 0);
    stress_agree_clean(c, &s);
    HH_CHECK(c, s.p_conns == 4 && s.opened == 4,
             "%ld connections reached the peer, the client opened %ld: "
             "want 4 kept alive", s.p_conns, s.opened);
    HH_CHECK(c, s.p_fewest >= 1, "a connection got no answer");
    HH_CHECK(c, strcmp(s.first, "GET /stress.html HTTP/1.1") == 0,
             "the request line was '%s'", s.first);
    HH_CHECK(c, s.ms >= 1000 && s.ms < 1000 + hh_ms(c, 3000),
             "the run took %lld ms for -d 1s", s.ms);
    hh_note(c, "harness: the run took %lld ms on our clock for -d 1s",
            s.ms);
}

/* 4 requests in flight per connection: the peer answers what one read
 * brought in one send, so the client reads several responses at once. */
static void
stress_pipelined(struct hh_ctx *c)
{
    struct stress_run s;
    const char *args[] = {"-d", "500ms", "-c", "2", "-P", "4", NULL};
    stress_run(c, &s, PEER_PLAIN, 0, 100, NULL, args, 0);
    stress_agree_clean(c, &s);
    HH_CHECK(c, strcmp(s.first, "GET /index.html HTTP/1.1") == 0,
             "the request line was '%s'", s.first);
}

/* Each response cut in five, across the status line, a header, the
 * blank line and the body. */
static void
stress_split_responses(struct hh_ctx *c)
{
    struct stress_run s;
    const char *args[] = {"-d", "500ms", "-c", "2", NULL};
    stress_run(c, &s, PEER_SPLIT, 0, 1400, NULL, args, 0);
    stress_agree_clean(c, &s);
}

/* The peer ends each connection after 3 answers, with a request
 * pending: a "closed" error each, the rest counted, exit 1, no crash. */
static void
stress_peer_closes(struct hh_ctx *c)
{
    struct stress_run s;
    const char *args[] = {"-d", "1s", "-c", "3", NULL};
    stress_run(c, &s, PEER_CLOSE, 3, 200, NULL, args, 1);
    stress_agree(c, &s);
    HH_CHECK(c, s.p_answered == 9, "the peer answered %ld, want 3 on each "
                                   "of 3 connections", s.p_answered);
    HH_CHECK(c, s.closed == 3 && s.errors == 3,
             "errors: %ld, closed: %ld; want 3, all 'closed'", s.errors,
             s.closed);
    HH_CHECK(c, s.unanswered == 3, "%ld unanswered, want the 3 pending "
                                   "when the peer closed", s.unanswered);
    hh_note(c, "harness: exit 1 with 3 'closed' errors and the 9 answers "
               "counted");
}

/* 50 connections at once, for 300 ms: the connects do not wait for each
 * other (the book sleeps 1 s after each), and every one is served. */
static void
stress_many_conns(struct hh_ctx *c)
{
    struct stress_run s;
    const char *args[] = {"-d", "300ms", "-c", "50", NULL};
    stress_run(c, &s, PEER_PLAIN, 0, 100, NULL, args, 0);
    stress_agree(c, &s);
    HH_CHECK(c, s.p_conns == 50 && s.p_fewest >= 1,
             "the peer saw %ld connections, the least served got %ld "
             "answers: want 50, each answered", s.p_conns, s.p_fewest);
    HH_CHECK(c, s.errors == 0, "%ld errors", s.errors);
    HH_CHECK(c, s.ms >= 300 && s.ms < 300 + hh_ms(c, 2000),
             "50 connections and -d 300ms took %lld ms", s.ms);
    hh_note(c, "harness: 50 connections served, the run took %lld ms", s.ms);
}

/* Under strace: a connection the peer closed leaves the epoll set
 * before its fd is closed, and no epoll_ctl ever fails. */
static void
stress_closed_fd_epoll(struct hh_ctx *c)
{
    struct stress_run s;
    const char *args[] = {"-d", "500ms", "-c", "3", NULL};
    struct hh_spawn opt = {.trace = "trace=epoll_ctl,close",
                           .must_trace = true};
    stress_run(c, &s, PEER_CLOSE, 2, 100, &opt, args, 1);
    stress_agree(c, &s);
    struct hh_proc *p = s.client;
    /* each fd's story, in call order: ADD puts it in the set, DEL takes
     * it out; close must find it out, and no MOD or DEL may follow */
    enum { FDS = 1024 };
    bool in_set[FDS] = {false}, closed[FDS] = {false};
    char g[HH_MAX_GROUPS][HH_GROUP_LEN];
    int dels = 0;
    size_t pos = 0;
    const char *line;
    while ((line = hh_trace_next(p, &pos, NULL)) != NULL) {
        HH_CHECK(c, !hh_match(c, "^epoll_ctl\\(.*= -1", line, NULL),
                 "a failed epoll_ctl: %s", line);
        if (hh_match(c, "^epoll_ctl\\([0-9]+, EPOLL_CTL_(ADD|MOD|DEL), "
                        "([0-9]+),", line, g)) {
            int fd = atoi(g[2]);
            if (fd >= FDS)
                continue;
            if (strcmp(g[1], "ADD") == 0) {
                in_set[fd] = true;
                closed[fd] = false;
                continue;
            }
            HH_CHECK(c, !closed[fd], "epoll_ctl %s of fd %d after its "
                                     "close: %s", g[1], fd, line);
            if (strcmp(g[1], "DEL") == 0) {
                in_set[fd] = false;
                dels++;
            }
        } else if (hh_match(c, "^close\\(([0-9]+)\\)", line, g)) {
            int fd = atoi(g[1]);
            if (fd >= FDS)
                continue;
            HH_CHECK(c, !in_set[fd], "fd %d closed while still in the epoll "
                                     "set: %s", fd, line);
            closed[fd] = true;
        }
    }
    HH_CHECK(c, dels >= 3, "%d EPOLL_CTL_DEL calls, want one for each of "
                           "the 3 connections", dels);
    hh_note(c, "harness: strace shows %d EPOLL_CTL_DEL, each before "
               "the close of its fd, none touched after; no epoll_ctl failed",
            dels);
}

/* ---- 15-4 to 15-6: the web server ----------------------------------------- */

/* Text of the docroot's files the scenarios ask for. */
static const char INDEX_HTML[] = "<html><body><h1>hpsp</h1></body></html>\n";
/* The only content of the file outside the root: no response may hold it. */
static const char OUTSIDE_MARK[] = "SECRET-OUTSIDE-THE-ROOT-7f3a\n";

enum { SMALL_LEN = 60000 };            /* under 64 KiB: writev */
enum { BIG_LEN = 6 * 1024 * 1024 };    /* sendfile, many partial writes */
enum { CLOSE_LEN = 4 * 1024 * 1024 };  /* the 15-6 SO_LINGER regression */

struct site {
    char root[200];
    char small[300], big[300], close4m[300];
};

static void
put_in(struct hh_ctx *c, const char *from, const char *root, const char *name)
{
    char to[512];
    snprintf(to, sizeof to, "%s/%s", root, name);
    HH_CHECK(c, rename(from, to) == 0, "rename %s: %s", to, strerror(errno));
}

/* DOCROOT in the scenario's temp dir: index.html, small.bin (60000
 * bytes), big.bin (6 MB, BIG only), empty.txt, secret.txt (0600), sub/
 * (a directory), escape (a symlink to ../outside.txt), and beside the root
 * outside.txt holding OUTSIDE_MARK. */
static void
site_make(struct hh_ctx *c, struct site *s, bool big)
{
    char path[400], dir[300];
    hh_tmpfile(c, "www", s->root, sizeof s->root);
    HH_CHECK(c, mkdir(s->root, 0755) == 0, "mkdir: %s", strerror(errno));
    chmod(s->root, 0755);
    hh_make_text_file(c, "index", INDEX_HTML, path, sizeof path);
    put_in(c, path, s->root, "index.html");
    hh_make_text_file(c, "empty", "", path, sizeof path);
    put_in(c, path, s->root, "empty.txt");
    hh_make_text_file(c, "secret", "not for you\n", path, sizeof path);
    chmod(path, 0600);
    put_in(c, path, s->root, "secret.txt");
    hh_make_file(c, "small", SMALL_LEN, 7, s->small, sizeof s->small);
    put_in(c, s->small, s->root, "small.bin");
    snprintf(s->small, sizeof s->small, "%s/small.bin", s->root);
    if (big) {
        hh_make_file(c, "big", BIG_LEN, 11, s->big, sizeof s->big);
        put_in(c, s->big, s->root, "big.bin");
        snprintf(s->big, sizeof s->big, "%s/big.bin", s->root);
        hh_make_file(c, "close", CLOSE_LEN, 13, s->close4m, sizeof s->close4m);
        put_in(c, s->close4m, s->root, "close.bin");
        snprintf(s->close4m, sizeof s->close4m, "%s/close.bin", s->root);
    }
    snprintf(dir, sizeof dir, "%s/sub", s->root);
    HH_CHECK(c, mkdir(dir, 0755) == 0, "mkdir: %s", strerror(errno));
    chmod(dir, 0755);
    /* outside.txt sits beside the root: "ROOT/../outside.txt" names it */
    char outside[300];
    snprintf(outside, sizeof outside, "%s/outside.txt", c->tmpdir);
    hh_write_text(c, outside, OUTSIDE_MARK);
    snprintf(path, sizeof path, "%s/escape", s->root);
    HH_CHECK(c, symlink("../outside.txt", path) == 0, "symlink: %s",
             strerror(errno));
    /* ROOT-evil/outside.txt: its path starts with ROOT's, but it is not
     * below it */
    snprintf(dir, sizeof dir, "%s-evil", s->root);
    HH_CHECK(c, mkdir(dir, 0755) == 0, "mkdir: %s", strerror(errno));
    chmod(dir, 0755);
    snprintf(path, sizeof path, "%s/outside.txt", dir);
    hh_write_text(c, path, OUTSIDE_MARK);
}

/* web_server -m MODE -t THREADS -i IDLE [EXTRA] 127.0.0.1 0 ROOT, EXTRA
 * being one more option and its value (or NULL). */
static struct hh_proc *
web_start_with(struct hh_ctx *c, const struct site *s, const char *mode,
               const char *threads, const char *idle, const char *extra[2],
               const struct hh_spawn *opt)
{
    const char *argv[12] = {"-m", mode, "-t", threads, "-i", idle};
    int n = 6;
    if (extra) {
        argv[n++] = extra[0];
        argv[n++] = extra[1];
    }
    argv[n++] = "127.0.0.1";
    argv[n++] = "0";
    argv[n++] = s->root;
    argv[n] = NULL;
    struct hh_spawn o = opt ? *opt : (struct hh_spawn){0};
    if (!o.role)
        o.role = "server";
    struct hh_proc *p = hh_startv(c, &o, "web_server", argv);
    hh_wait_listening(p);
    return p;
}

static struct hh_proc *
web_start(struct hh_ctx *c, const struct site *s, const char *mode,
          const char *threads, const char *idle, const struct hh_spawn *opt)
{
    return web_start_with(c, s, mode, threads, idle, NULL, opt);
}

/* A connection to P; RCVBUF > 0 shrinks its receive buffer first, so the
 * server's writes stop short and must be continued. */
static int
web_connect(struct hh_ctx *c, struct hh_proc *p, int rcvbuf)
{
    if (rcvbuf <= 0)
        return hh_connect(c, &p->addr, 3000);
    int fd = hh_track_fd(c, socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
                                                SOCK_CLOEXEC, 0));
    HH_CHECK(c, setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                           sizeof rcvbuf) == 0, "SO_RCVBUF: %s",
             strerror(errno));
    if (connect(fd, (struct sockaddr *)&p->addr, sizeof p->addr) < 0)
        HH_CHECK(c, errno == EINPROGRESS, "connect: %s", strerror(errno));
    HH_CHECK(c, hh_wait_fd(c, fd, POLLOUT, 3000), "connect: no answer");
    return fd;
}

/* What arrived on a connection and was not yet taken as a response. */
struct reader {
    int fd;
    char *buf, *body; /* what came; the last response's body */
    size_t len, cap;
    bool eof;
};

struct resp {
    int status;
    char head[4096];
    long long length; /* Content-Length, -1 if none */
    bool close;       /* Connection: close */
    char *body;
    size_t body_len;
};

static void
reader_init(struct hh_ctx *c, struct reader *r, int fd, size_t cap)
{
    r->fd = fd;
    r->cap = cap;
    r->len = 0;
    r->eof = false;
    r->buf = hh_alloc(c, 2 * cap);
    r->body = r->buf + cap;
}

/* Read what is there (waiting up to the deadline for something). */
static void
reader_fill(struct hh_ctx *c, struct reader *r, long long deadline)
{
    for (;;) {
        HH_CHECK(c, r->len < r->cap, "more than %zu bytes unread", r->cap);
        ssize_t n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
        if (n > 0) {
            r->len += (size_t)n;
            return;
        }
        if (n == 0) {
            r->eof = true;
            return;
        }
        HH_CHECK(c, errno == EAGAIN || errno == EINTR,
                 "recv: %s after %zu bytes", strerror(errno), r->len);
        long long left = deadline - hh_now_ms();
        HH_CHECK(c, left > 0 && hh_wait_fd(c, r->fd, POLLIN, (int)left),
                 "no whole response in time (%zu bytes so far)", r->len);
    }
}

static const char *
find_field(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
        l += 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

/* The next whole response: status line, head, and a body of exactly
 * Content-Length bytes (none for HEAD and 304).  Fails at EOF before it. */
static void
read_response(struct hh_ctx *c, struct reader *r, struct resp *rs,
              bool head_only, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    char *end;
    memset(rs, 0, sizeof *rs);
    while (!(end = memmem(r->buf, r->len, "\r\n\r\n", 4))) {
        HH_CHECK(c, !r->eof, "EOF before a whole response head (%zu "
                             "bytes: %.*s)", r->len, (int)(r->len < 80 ?
                             r->len : 80), r->buf);
        reader_fill(c, r, deadline);
    }
    size_t hlen = (size_t)(end - r->buf) + 4;
    HH_CHECK(c, hlen < sizeof rs->head, "response head of %zu bytes", hlen);
    memcpy(rs->head, r->buf, hlen);
    rs->head[hlen] = '\0';
    char g[HH_MAX_GROUPS][HH_GROUP_LEN], v[64];
    HH_CHECK(c, hh_match(c, "^HTTP/1\\.1 ([0-9]{3}) [^\r]+\r\n", rs->head, g),
             "not a status line: %.60s", rs->head);
    rs->status = atoi(g[1]);
    rs->length = find_field(rs->head, "Content-Length", v, sizeof v)
                     ? atoll(v) : -1;
    rs->close = find_field(rs->head, "Connection", v, sizeof v) &&
                strcasecmp(v, "close") == 0;
    size_t want = 0;
    if (!head_only && rs->status != 304) {
        HH_CHECK(c, rs->length >= 0, "status %d without Content-Length",
                 rs->status);
        want = (size_t)rs->length;
    }
    while (r->len < hlen + want) {
        HH_CHECK(c, !r->eof, "EOF after %zu of %zu body bytes",
                 r->len - hlen, want);
        reader_fill(c, r, deadline);
    }
    rs->body = r->body; /* until the next response on R */
    memcpy(rs->body, r->buf + hlen, want);
    rs->body_len = want;
    memmove(r->buf, r->buf + hlen + want, r->len - hlen - want);
    r->len -= hlen + want;
    hh_note(c, "harness < %d, Content-Length %lld%s, %zu body bytes",
            rs->status, rs->length, rs->close ? ", Connection: close" : "",
            want);
}

/* Send REQ on a fresh connection, read one response and then EOF if the
 * server said close. */
static void
ask(struct hh_ctx *c, struct hh_proc *p, const char *req, size_t len,
    bool head_only, struct resp *rs)
{
    struct reader r;
    int fd = web_connect(c, p, 0);
    reader_init(c, &r, fd, 64 * 1024);
    hh_send(c, fd, req, len, 3000);
    read_response(c, &r, rs, head_only, 5000);
    if (rs->close) {
        long long deadline = hh_now_ms() + hh_ms(c, 3000);
        while (!r.eof && r.len == 0)
            reader_fill(c, &r, deadline);
        HH_CHECK(c, r.eof && r.len == 0, "Connection: close, but %zu more "
                 "bytes and no EOF", r.len);
    }
    hh_close(c, fd);
}

static void
expect_body(struct hh_ctx *c, const struct resp *rs, const char *data,
            size_t len, const char *what)
{
    HH_CHECK(c, rs->body_len == len && rs->length == (long long)len,
             "%s: %zu body bytes, Content-Length %lld, want %zu", what,
             rs->body_len, rs->length, len);
    for (size_t i = 0; i < len; i++)
        HH_CHECK(c, rs->body[i] == data[i], "%s: byte %zu differs", what, i);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* 15-6: the status of each kind of file, and what comes with a 200. */
static void
web_files(struct hh_ctx *c, const char *mode)
{
    struct site s;
    struct resp rs;
    char v[128];
    site_make(c, &s, false);
    struct hh_proc *p = web_start(c, &s, mode, "2", "5s", NULL);

    ask(c, p, GET("/index.html"), strlen(GET("/index.html")), false, &rs);
    HH_CHECK(c, rs.status == 200, "/index.html: %d", rs.status);
    expect_body(c, &rs, INDEX_HTML, strlen(INDEX_HTML), "/index.html");
    HH_CHECK(c, find_field(rs.head, "Content-Type", v, sizeof v) &&
                 strncmp(v, "text/html", 9) == 0,
             "/index.html: Content-Type '%s'", v);
    HH_CHECK(c, find_field(rs.head, "Last-Modified", v, sizeof v),
             "/index.html: no Last-Modified");
    char lm[128];
    snprintf(lm, sizeof lm, "%s", v);

    size_t len;
    char *small = hh_read_file(c, s.small, &len);
    ask(c, p, GET("/small.bin"), strlen(GET("/small.bin")), false, &rs);
    HH_CHECK(c, rs.status == 200, "/small.bin: %d", rs.status);
    expect_body(c, &rs, small, len, "/small.bin");
    HH_CHECK(c, find_field(rs.head, "Content-Type", v, sizeof v) &&
                 strcmp(v, "application/octet-stream") == 0,
             "/small.bin: Content-Type '%s'", v);

    /* HEAD: the same head, no body (the next bytes would be EOF) */
    const char head_req[] = "HEAD /small.bin HTTP/1.1\r\nHost: t\r\n"
                            "Connection: close\r\n\r\n";
    ask(c, p, head_req, strlen(head_req), true, &rs);
    HH_CHECK(c, rs.status == 200 && rs.length == SMALL_LEN,
             "HEAD: %d, Content-Length %lld", rs.status, rs.length);

    ask(c, p, GET("/empty.txt"), strlen(GET("/empty.txt")), false, &rs);
    HH_CHECK(c, rs.status == 200 && rs.length == 0,
             "/empty.txt: %d, Content-Length %lld (fix (f): 200, 0)",
             rs.status, rs.length);

    static const struct {
        const char *path;
        int status;
    } refused[] = {
        {"/no-such-file", 404}, {"/secret.txt", 403}, {"/sub", 403},
        {"/sub/", 403},         {"/index.html/x", 404},
    };
    for (size_t i = 0; i < HH_LEN(refused); i++) {
        char req[256];
        int n = snprintf(req, sizeof req, GET("%s"), refused[i].path);
        ask(c, p, req, (size_t)n, false, &rs);
        HH_CHECK(c, rs.status == refused[i].status, "%s: %d, want %d",
                 refused[i].path, rs.status, refused[i].status);
        HH_CHECK(c, rs.body_len > 0 && memmem(rs.body, rs.body_len,
                 "not for you", 11) == NULL, "%s: no error page, or the "
                 "file itself", refused[i].path);
    }

    /* If-Modified-Since: its own Last-Modified is not older: 304 */
    char req[512];
    int n = snprintf(req, sizeof req, "GET /index.html HTTP/1.1\r\nHost: t"
                     "\r\nIf-Modified-Since: %s\r\n\r\n", lm);
    ask(c, p, req, (size_t)n, false, &rs);
    HH_CHECK(c, rs.status == 304, "If-Modified-Since %s: %d, want 304", lm,
             rs.status);
    n = snprintf(req, sizeof req, "GET /index.html HTTP/1.1\r\nHost: t\r\n"
                 "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n\r\n");
    ask(c, p, req, (size_t)n, false, &rs);
    HH_CHECK(c, rs.status == 200, "If-Modified-Since 2000: %d, want 200",
             rs.status);
    hh_stop(p);
}

/* Keep-alive and pipelining: requests in one send, one split over two,
 * all answered in order on one connection (fix (h) of 15-5). */
static void
web_pipelined(struct hh_ctx *c, const char *mode)
{
    struct site s;
    struct resp rs;
    struct reader r;
    site_make(c, &s, false);
    struct hh_proc *p = web_start(c, &s, mode, "2", "5s", NULL);
    size_t slen;
    char *small = hh_read_file(c, s.small, &slen);
    int fd = web_connect(c, p, 0);
    reader_init(c, &r, fd, 1 << 20);

    /* two keep-alive requests one after the other */
    for (int i = 0; i < 2; i++) {
        hh_send(c, fd, GET("/index.html"), strlen(GET("/index.html")), 3000);
        read_response(c, &r, &rs, false, 5000);
        HH_CHECK(c, rs.status == 200 && !rs.close, "request %d: %d%s", i + 1,
                 rs.status, rs.close ? ", Connection: close" : "");
        expect_body(c, &rs, INDEX_HTML, strlen(INDEX_HTML), "/index.html");
    }
    /* four in one send, the last one cut in two */
    const char batch[] = GET("/small.bin") "HEAD /index.html HTTP/1.1\r\n"
                         "Host: t\r\n\r\n" GET("/no-such") GET("/empty.txt")
                         "GET /index.html HTTP/1.1\r\nHo";
    const char rest[] = "st: t\r\n\r\n";
    hh_send(c, fd, batch, strlen(batch), 3000);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 200, "pipelined 1: %d", rs.status);
    expect_body(c, &rs, small, slen, "pipelined /small.bin");
    read_response(c, &r, &rs, true, 5000);
    HH_CHECK(c, rs.status == 200 && rs.length == (long long)strlen(INDEX_HTML),
             "pipelined 2 (HEAD): %d", rs.status);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 404, "pipelined 3: %d, want 404", rs.status);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 200 && rs.length == 0, "pipelined 4: %d",
             rs.status);
    hh_observe(c, 100);
    HH_CHECK(c, r.len == 0, "a response to half a request");
    hh_send(c, fd, rest, strlen(rest), 3000);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 200, "the split request: %d", rs.status);
    expect_body(c, &rs, INDEX_HTML, strlen(INDEX_HTML), "split /index.html");

    /* the last one says close: the response, then EOF */
    const char last[] = "GET /empty.txt HTTP/1.1\r\nHost: t\r\n"
                        "Connection: close\r\n\r\n";
    hh_send(c, fd, last, strlen(last), 3000);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 200 && rs.close, "Connection: close: %d%s",
             rs.status, rs.close ? "" : ", no Connection: close back");
    long long deadline = hh_now_ms() + hh_ms(c, 3000);
    while (!r.eof)
        reader_fill(c, &r, deadline);
    HH_CHECK(c, r.len == 0, "bytes after the last response");
    hh_stop(p);
}

/* Fix (b) of 15-5, to a client with a 4 KB receive buffer that waits
 * 300 ms before it reads: 128 pipelined requests for the 60000-byte file
 * (writev), whose responses fill the server's socket many times over, so
 * that writevs stop short with the head, the body or both half sent;
 * then the 6 MB file (sendfile).  Every byte arrives, in order. */
static void
regress_big(struct hh_ctx *c, const char *mode)
{
    enum { SMALLS = 128 };
    struct site s;
    struct resp rs;
    struct reader r;
    site_make(c, &s, true);
    struct hh_proc *p = web_start(c, &s, mode, "2", "2s", NULL);
    int fd = web_connect(c, p, 4096);
    size_t slen, blen;
    char *small = hh_read_file(c, s.small, &slen);
    char *big = hh_read_file(c, s.big, &blen);
    size_t one = strlen(GET("/small.bin"));
    char *batch = hh_alloc(c, SMALLS * one);
    for (int i = 0; i < SMALLS; i++)
        memcpy(batch + (size_t)i * one, GET("/small.bin"), one);
    hh_send(c, fd, batch, SMALLS * one, 3000);
    reader_init(c, &r, fd, blen + 8192);
    hh_observe(c, 300);
    for (int i = 0; i < SMALLS; i++) {
        read_response(c, &r, &rs, false, 30000);
        HH_CHECK(c, rs.status == 200, "small %d: status %d", i, rs.status);
        expect_body(c, &rs, small, slen, "/small.bin");
    }
    hh_send(c, fd, GET("/big.bin"), strlen(GET("/big.bin")), 3000);
    hh_observe(c, 300);
    read_response(c, &r, &rs, false, 30000);
    HH_CHECK(c, rs.status == 200, "big: status %d", rs.status);
    expect_body(c, &rs, big, blen, "/big.bin");
    hh_note(c, "harness: %d x %d bytes, then %d, byte-identical, on one "
            "connection", SMALLS, SMALL_LEN, BIG_LEN);
    hh_stop(p);
}

/* The server's side of 127.0.0.1:SPORT <-> :CPORT reaches TIME_WAIT:
 * it closed first, with a FIN (an abortive close leaves none). */
static void
expect_time_wait(struct hh_ctx *c, in_port_t sport, in_port_t cport)
{
    int state = -1;
    long tx, rx;
    long long deadline = hh_now_ms() + hh_ms(c, 3000);
    while (hh_now_ms() < deadline) {
        if (hh_tcp_info(sport, cport, &state, &tx, &rx) == 0 &&
            state == TCP_TIME_WAIT)
            break;
        hh_observe(c, 10);
    }
    HH_CHECK(c, state == TCP_TIME_WAIT, "the server's side of port %u is "
             "%s, not TIME_WAIT: it did not close with a FIN", cport,
             state < 0 ? "gone" : hh_tcp_state_name(state));
    hh_note(c, "sock_diag: 127.0.0.1:%u -> :%u in TIME_WAIT", sport, cport);
}

/* The 15-6 SO_LINGER regression: 4 MB with Connection: close to a slow
 * reader, read whole, then EOF; and a client that says nothing, closed by
 * the idle timer (-i 1s): EOF, not a reset, and the server's side in
 * TIME_WAIT (sock_diag), so the server closed with a FIN.  The book's
 * SO_LINGER {1, 0} turns every close into a RST, which destroys what is
 * still unsent and leaves no TIME_WAIT. */
static void
regress_no_rst(struct hh_ctx *c, const char *mode)
{
    struct site s;
    struct resp rs;
    struct reader r;
    site_make(c, &s, true);
    struct hh_proc *p = web_start(c, &s, mode, "2", "1s", NULL);
    in_port_t sport = ntohs(p->addr.sin_port);
    int fd = web_connect(c, p, 4096);
    const char req[] = "GET /close.bin HTTP/1.1\r\nHost: t\r\n"
                       "Connection: close\r\n\r\n";
    hh_send(c, fd, req, strlen(req), 3000);
    size_t len;
    char *data = hh_read_file(c, s.close4m, &len);
    reader_init(c, &r, fd, len + 8192);
    hh_observe(c, 300);
    read_response(c, &r, &rs, false, 30000);
    HH_CHECK(c, rs.status == 200 && rs.close, "status %d%s", rs.status,
             rs.close ? "" : " without Connection: close");
    expect_body(c, &rs, data, len, "/close.bin");
    long long deadline = hh_now_ms() + hh_ms(c, 3000);
    while (!r.eof)
        reader_fill(c, &r, deadline);
    hh_note(c, "harness: %zu bytes, then EOF", len);
    in_port_t cport = hh_local_port(fd);
    hh_close(c, fd);
    expect_time_wait(c, sport, cport);

    int quiet = web_connect(c, p, 0);
    cport = hh_local_port(quiet);
    hh_expect_eof(c, quiet, 3000); /* fails on ECONNRESET */
    hh_close(c, quiet);
    expect_time_wait(c, sport, cport);
    hh_stop(p);
}

/* Hostile requests: each gets its error status, Connection: close, a body
 * of its Content-Length and EOF; no byte of the file outside the root
 * ever comes back; and the server still answers afterwards. */
struct hostile {
    const char *what;
    const char *req; /* NULL: built by the scenario (long ones) */
    int status, alt; /* the status wanted (or ALT) */
};

static void
web_hostile(struct hh_ctx *c, const char *mode)
{
    struct site s;
    struct resp rs;
    site_make(c, &s, false);
    struct hh_proc *p = web_start(c, &s, mode, "2", "5s", NULL);
    /* the statuses are http_parser.h's; the path ones the server's */
    static const struct hostile rows[] = {
        {"..", GET("/../outside.txt"), 404, 404},
        {"%2e%2e", GET("/%2e%2e/outside.txt"), 404, 404},
        {"%2e%2e%2f", GET("/%2e%2e%2foutside.txt"), 404, 404},
        {"sub/../..", GET("/sub/../../outside.txt"), 404, 404},
        {"symlink out", GET("/escape"), 404, 404},
        {"ROOT-evil, a prefix", NULL, 404, 404},
        {"absolute URL", "GET http://t/../outside.txt HTTP/1.1\r\n"
                         "Host: t\r\n\r\n", 404, 404},
        {"%00", GET("/index.html%00.txt"), 400, 400},
        {"Content-Length -1", "GET / HTTP/1.1\r\nHost: t\r\n"
                              "Content-Length: -1\r\n\r\n", 400, 400},
        {"Content-Length x", "GET / HTTP/1.1\r\nHost: t\r\n"
                             "Content-Length: x\r\n\r\n", 400, 400},
        {"Content-Length 2^40", "GET / HTTP/1.1\r\nHost: t\r\n"
                                "Content-Length: 1099511627776\r\n\r\n",
         413, 413},
        {"Content-Length 10^30", "GET / HTTP/1.1\r\nHost: t\r\n"
                                 "Content-Length: 1000000000000000000000000"
                                 "000000\r\n\r\n", 400, 400},
        {"a body on GET", "GET /index.html HTTP/1.1\r\nHost: t\r\n"
                          "Content-Length: 5\r\n\r\nhello", 413, 413},
        {"Transfer-Encoding", "GET /index.html HTTP/1.1\r\nHost: t\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         501, 501},
        {"Transfer-Encoding and Content-Length",
         "GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 400},
        {"POST", "POST /index.html HTTP/1.1\r\nHost: t\r\n"
                 "Content-Length: 0\r\n\r\n", 501, 501},
        {"unknown method", "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501, 501},
        {"HTTP/2.0", "GET /index.html HTTP/2.0\r\nHost: t\r\n\r\n", 505, 505},
        {"HTTP/1.7", "GET /index.html HTTP/1.7\r\nHost: t\r\n\r\n", 505, 505},
        {"no Host", "GET /index.html HTTP/1.1\r\n\r\n", 400, 400},
        {"bare LF", "GET /index.html HTTP/1.1\nHost: t\n\n", 400, 400},
        /* the start of a TLS ClientHello (its NULs left out: strlen) */
        {"garbage", "\x16\x03\x01\x02\xfc\x01\x01\xfc\x03\x03\r\n\r\n",
         400, 400},
        {"no version", "GET /index.html\r\n\r\n", 400, 400},
        {"long header block", NULL, 431, 431},
        {"long request line", NULL, 414, 414},
    };
    char *big = hh_alloc(c, 40000);
    for (size_t i = 0; i < HH_LEN(rows); i++) {
        const char *req = rows[i].req;
        if (!req && strstr(rows[i].what, "prefix")) {
            snprintf(big, 40000, GET("/../%s-evil/outside.txt"),
                     strrchr(s.root, '/') + 1);
            req = big;
        } else if (!req && strstr(rows[i].what, "header")) {
            int n = snprintf(big, 40000, "GET /index.html HTTP/1.1\r\n"
                             "Host: t\r\n");
            for (int k = 0; k < 400; k++)
                n += snprintf(big + n, 40000 - (size_t)n,
                              "X-Filler-%03d: %060d\r\n", k, k);
            snprintf(big + n, 40000 - (size_t)n, "\r\n");
            req = big;
        } else if (!req) {
            int n = snprintf(big, 40000, "GET /");
            memset(big + n, 'a', 20000);
            snprintf(big + n + 20000, 40000 - (size_t)n - 20000,
                     " HTTP/1.1\r\nHost: t\r\n\r\n");
            req = big;
        }
        hh_note(c, "harness: %s", rows[i].what);
        ask(c, p, req, strlen(req), false, &rs);
        HH_CHECK(c, rs.status == rows[i].status || rs.status == rows[i].alt,
                 "%s: status %d, want %d", rows[i].what, rs.status,
                 rows[i].status);
        HH_CHECK(c, !memmem(rs.body, rs.body_len, OUTSIDE_MARK,
                            strlen(OUTSIDE_MARK)),
                 "%s: the file outside the root came back", rows[i].what);
        HH_CHECK(c, rs.status < 400 || rs.body_len > 0,
                 "%s: an error without a body", rows[i].what);
        if (rs.status == 400 || rs.status >= 413)
            HH_CHECK(c, rs.close, "%s: %d without Connection: close",
                     rows[i].what, rs.status);
    }
    ask(c, p, GET("/index.html"), strlen(GET("/index.html")), false, &rs);
    HH_CHECK(c, rs.status == 200, "after all that: %d", rs.status);
    hh_stop(p);
}

/* Slowloris: with -i 1s, a client that says nothing, one that sends a
 * byte every 200 ms and never ends its request, and one idle after a
 * response are each closed about 1 s after their clock started, on the
 * harness's clock; meanwhile a new client is answered at once. */
static void
web_idle(struct hh_ctx *c, const char *mode)
{
    struct site s;
    struct resp rs;
    site_make(c, &s, false);
    struct hh_proc *p = web_start(c, &s, mode, "2", "1s", NULL);
    const char drip[] = "GET /index.html HTTP/1.1\r\nHost: t\r\nX-a: "
                        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    int fd[3];
    long long start[3], closed[3] = {0, 0, 0};
    const char *who[3] = {"silent", "a byte every 200 ms",
                          "idle after a response"};
    fd[0] = web_connect(c, p, 0);
    start[0] = hh_now_ms();
    fd[1] = web_connect(c, p, 0);
    start[1] = hh_now_ms();
    fd[2] = web_connect(c, p, 0);
    struct reader r;
    reader_init(c, &r, fd[2], 64 * 1024);
    hh_send(c, fd[2], GET("/index.html"), strlen(GET("/index.html")), 3000);
    read_response(c, &r, &rs, false, 3000);
    start[2] = hh_now_ms();
    HH_CHECK(c, rs.status == 200, "keep-alive client: %d", rs.status);

    size_t sent = 0;
    bool others_served = false;
    int other = -1; /* the new client, asking while the others wait */
    long long end = hh_now_ms() + hh_ms(c, 4000), next_drip = 0;
    while ((!closed[0] || !closed[1] || !closed[2]) && hh_now_ms() < end) {
        long long now = hh_now_ms();
        if (!closed[1] && now >= next_drip && sent < sizeof drip - 1) {
            (void)send(fd[1], drip + sent, 1, MSG_NOSIGNAL);
            sent++;
            next_drip = now + 200;
        }
        if (other < 0 && !others_served && now - start[0] > 300) {
            other = web_connect(c, p, 0);
            hh_send(c, other, GET("/index.html"),
                    strlen(GET("/index.html")), 3000);
        }
        struct pollfd pf[4];
        for (int i = 0; i < 3; i++)
            pf[i] = (struct pollfd){.fd = closed[i] ? -1 : fd[i],
                                    .events = POLLIN};
        pf[3] = (struct pollfd){.fd = other, .events = POLLIN};
        if (poll(pf, 4, 20) < 0 && errno != EINTR)
            hh_fail(c, "poll: %s", strerror(errno));
        if (other >= 0 && pf[3].revents) {
            r.fd = other;
            r.len = 0;
            r.eof = false;
            read_response(c, &r, &rs, false, 3000);
            HH_CHECK(c, rs.status == 200, "a new client: %d", rs.status);
            others_served = true;
            hh_close(c, other);
            other = -1;
            hh_note(c, "harness: a new client got its 200 meanwhile");
        }
        for (int i = 0; i < 3; i++) {
            if (closed[i] || !pf[i].revents)
                continue;
            char b[256];
            ssize_t n = recv(fd[i], b, sizeof b, MSG_DONTWAIT);
            HH_CHECK(c, n <= 0, "%s client: %zd bytes from the server",
                     who[i], n);
            if (n == 0 || errno == ECONNRESET)
                closed[i] = hh_now_ms();
        }
    }
    for (int i = 0; i < 3; i++) {
        HH_CHECK(c, closed[i], "%s client: still open after %lld ms", who[i],
                 hh_now_ms() - start[i]);
        long long t = closed[i] - start[i];
        hh_note(c, "harness: %s client closed after %lld ms", who[i], t);
        HH_CHECK(c, t >= 900 && t <= hh_ms(c, 2500), "%s client: closed "
                 "after %lld ms, want about 1000", who[i], t);
    }
    HH_CHECK(c, sent >= 4, "only %zu bytes dripped", sent);
    HH_CHECK(c, others_served, "no new client was tried");
    hh_stop(p);
}

/* Entries of /proc/PID/fd below 1000: what counts against a low
 * RLIMIT_NOFILE.  (Under valgrind its own descriptors sit near the top of
 * the limit it started with, above any limit set here.) */
static int
fd_count(struct hh_ctx *c, pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    HH_CHECK(c, d, "opendir %s: %s", path, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) < 1000)
            n++;
    closedir(d);
    return n;
}

/* utime + stime of PID, in clock ticks. */
static long
cpu_ticks(struct hh_ctx *c, pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    HH_CHECK(c, f, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    HH_CHECK(c, p, "%s: no ')'", path);
    long ut = 0, st = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    HH_CHECK(c, sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                              "%ld %ld", &ut, &st) == 2,
             "%s: unreadable", path);
    return ut + st;
}

/* Out of descriptors: the server's RLIMIT_NOFILE lowered (prlimit) to 6
 * above what it holds, then 20 clients.  Pool mode: 6 are held, the other
 * 14 get 503 and EOF at once.  Loops mode: each loop refuses with its own
 * reserve descriptor, but a loop whose reserve slot another loop took in
 * the meantime can only wait (it pauses its listener), so some clients
 * wait instead.  Either way the server does not spin (its CPU time over
 * 500 ms, from /proc), every client not refused gets an answer once the
 * clients before it have gone (200, or 503 while the server cannot open
 * the file), and a client after the storm is served. */
static void
web_fd_limit(struct hh_ctx *c, const char *mode)
{
    struct site s;
    struct resp rs;
    enum { FREE = 6, CLIENTS = 20 };
    bool loops = strcmp(mode, "loops") == 0;
    site_make(c, &s, false);
    struct hh_proc *p = web_start(c, &s, mode, "2", "30s", NULL);
    pid_t pid = hh_pid(p);
    int base = fd_count(c, pid);
    struct rlimit rl = {.rlim_cur = (rlim_t)(base + FREE),
                        .rlim_max = (rlim_t)(base + FREE)};
    HH_CHECK(c, prlimit(pid, RLIMIT_NOFILE, &rl, NULL) == 0, "prlimit: %s",
             strerror(errno));
    hh_note(c, "harness: prlimit: the server holds %d fds, may hold %d",
            base, base + FREE);
    int fd[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fd[i] = web_connect(c, p, 0);
    int refused = 0;
    bool answered[CLIENTS] = {false};
    struct reader r;
    reader_init(c, &r, -1, 4096);
    /* an observation window: the refusals come at once, the rest never */
    long long end = hh_now_ms() + hh_ms(c, 2000);
    while (refused < CLIENTS - FREE && hh_now_ms() < end) {
        for (int i = 0; i < CLIENTS; i++) {
            if (answered[i] || !hh_wait_fd(c, fd[i], POLLIN, 1))
                continue;
            r.fd = fd[i];
            r.len = 0;
            r.eof = false;
            read_response(c, &r, &rs, false, 2000);
            HH_CHECK(c, rs.status == 503 && rs.close, "refused client: %d",
                     rs.status);
            long long dl = hh_now_ms() + hh_ms(c, 2000);
            while (!r.eof)
                reader_fill(c, &r, dl);
            answered[i] = true;
            refused++;
        }
    }
    if (!loops)
        HH_CHECK(c, refused == CLIENTS - FREE, "%d clients refused with "
                 "503, want %d (%d held)", refused, CLIENTS - FREE, FREE);
    else
        HH_CHECK(c, refused >= 1, "no client refused with 503");
    hh_note(c, "harness: %d clients got 503 and EOF, %d wait", refused,
            CLIENTS - refused);
    long before = cpu_ticks(c, pid);
    hh_observe(c, 500);
    long used = cpu_ticks(c, pid) - before;
    HH_CHECK(c, used <= 10, "%ld ticks of CPU in 500 ms while full: it "
             "spins", used);
    hh_note(c, "/proc/PID/stat: %ld ticks of CPU in 500 ms while full", used);
    /* every waiting client asks; each one answered is closed, which frees
     * a descriptor for the next */
    for (int i = 0; i < CLIENTS; i++)
        if (!answered[i])
            hh_send(c, fd[i], GET("/index.html"), strlen(GET("/index.html")),
                    3000);
    int ok = 0, busy = 0;
    end = hh_now_ms() + hh_ms(c, 5000);
    while (refused + ok + busy < CLIENTS && hh_now_ms() < end) {
        for (int i = 0; i < CLIENTS; i++) {
            if (answered[i] || !hh_wait_fd(c, fd[i], POLLIN, 1))
                continue;
            r.fd = fd[i];
            r.len = 0;
            r.eof = false;
            read_response(c, &r, &rs, false, 2000);
            HH_CHECK(c, rs.status == 200 || rs.status == 503,
                     "waiting client: %d", rs.status);
            if (rs.status == 200)
                ok++;
            else
                busy++;
            answered[i] = true;
            hh_close(c, fd[i]);
        }
    }
    HH_CHECK(c, refused + ok + busy == CLIENTS, "%d clients never got an "
             "answer", CLIENTS - refused - ok - busy);
    hh_note(c, "harness: then %d served with 200, %d refused", ok, busy);
    /* the clients have closed; the server closes its ends when it reads
     * their FINs, and only then has descriptors again (/proc/PID/fd) */
    long long dl = hh_now_ms() + hh_ms(c, 3000);
    int held;
    while ((held = fd_count(c, pid)) > base && hh_now_ms() < dl)
        hh_observe(c, 10);
    HH_CHECK(c, held <= base, "3 s after its clients closed, the server "
             "still holds %d descriptors, %d more than before them", held,
             held - base);
    ask(c, p, GET("/index.html"), strlen(GET("/index.html")), false, &rs);
    HH_CHECK(c, rs.status == 200, "after the storm: %d", rs.status);
    hh_stop(p);
}

/* The listening sockets on PORT in /proc/net/tcp: their inodes. */
static int
listener_inodes(struct hh_ctx *c, in_port_t port, unsigned long *out, int cap)
{
    FILE *f = fopen("/proc/net/tcp", "re");
    HH_CHECK(c, f, "/proc/net/tcp: %s", strerror(errno));
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned lp, st;
        unsigned long ino;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*d "
                         "%*d %lu", &lp, &st, &ino) == 3 &&
            lp == port && st == 0x0A && n < cap)
            out[n++] = ino;
    }
    fclose(f);
    return n;
}

/* Threads and listeners from /proc: pool -t 3 is 4 threads and one
 * listener; loops -t 3 is 4 threads (main and 3 loops) and 3 listening
 * sockets on the one port, each in the server's fd table.  Then 40
 * clients at once are all served. */
static void
web_threads(struct hh_ctx *c, const char *mode)
{
    struct site s;
    bool loops = strcmp(mode, "loops") == 0;
    site_make(c, &s, false);
    struct hh_proc *p = web_start(c, &s, mode, "3", "5s", NULL);
    pid_t pid = hh_pid(p);
    pid_t tids[16];
    int tasks = 1 + hh_other_threads(c, pid, tids, 16);
    /* ThreadSanitizer runs a background thread of its own */
    const char *san = getenv("HPSP_SANITIZER");
    HH_CHECK(c, tasks == 4 || (san && *san == '1' && tasks == 5),
             "%d threads in /proc/%d/task, want 4", tasks, (int)pid);
    unsigned long ino[16];
    int nl = listener_inodes(c, ntohs(p->addr.sin_port), ino, 16);
    HH_CHECK(c, nl == (loops ? 3 : 1), "%d listening sockets on port %u, "
             "want %d", nl, ntohs(p->addr.sin_port), loops ? 3 : 1);
    for (int i = 0; i < nl; i++) {
        char link[48];
        snprintf(link, sizeof link, "socket:[%lu]", ino[i]);
        HH_CHECK(c, hh_holds_fd(c, pid, link), "listener %s is not in the "
                 "server's fd table", link);
    }
    hh_note(c, "/proc: %d threads; %d listening socket(s) on port %u, all "
             "the server's", tasks, nl, ntohs(p->addr.sin_port));
    enum { N = 40 };
    int fd[N];
    struct reader r;
    struct resp rs;
    reader_init(c, &r, -1, 4096);
    for (int i = 0; i < N; i++)
        fd[i] = web_connect(c, p, 0);
    for (int i = 0; i < N; i++)
        hh_send(c, fd[i], GET("/index.html"), strlen(GET("/index.html")),
                3000);
    for (int i = 0; i < N; i++) {
        r.fd = fd[i]; /* each response is read whole: nothing carried */
        r.len = 0;
        r.eof = false;
        read_response(c, &r, &rs, false, 5000);
        HH_CHECK(c, rs.status == 200, "client %d: %d", i, rs.status);
        expect_body(c, &rs, INDEX_HTML, strlen(INDEX_HTML), "/index.html");
    }
    hh_note(c, "harness: %d clients at once, all served", N);
    hh_stop(p);
}

/* The thread (strace -f's pid column) of the first call in P's trace
 * that matches ERE, or -1. */
static long
trace_tid(struct hh_ctx *c, struct hh_proc *p, const char *ere)
{
    size_t len;
    char *text = hh_read_file(c, p->trace_path, &len);
    char re[256], g[HH_MAX_GROUPS][HH_GROUP_LEN];
    snprintf(re, sizeof re, "^([0-9]+) +%s", ere);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (hh_match(c, re, line, g))
            return atol(g[1]);
    return -1;
}

/* Whether the server's side of client FD has TCP_NODELAY: the socket
 * found by its inode (/proc/net/tcp) in P's fd table, a copy of it taken
 * with pidfd_getfd, and getsockopt on the copy. */
static bool
server_nodelay(struct hh_ctx *c, struct hh_proc *p, int fd)
{
    in_port_t cport = hh_local_port(fd);
    unsigned long ino = tcp_inode(c, ntohs(p->addr.sin_port), cport);
    HH_CHECK(c, ino != 0, "no server-side socket for client port %u in "
             "/proc/net/tcp", (unsigned)cport);
    char dir[64], path[320], link[64], target[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)hh_pid(p));
    snprintf(link, sizeof link, "socket:[%lu]", ino);
    DIR *d = opendir(dir);
    HH_CHECK(c, d, "%s: %s", dir, strerror(errno));
    int sfd = -1;
    struct dirent *e;
    while (sfd < 0 && (e = readdir(d))) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strcmp(target, link) == 0)
                sfd = atoi(e->d_name);
        }
    }
    closedir(d);
    HH_CHECK(c, sfd >= 0, "%s is not in the server's fd table", link);
    int copy = hh_copy_fd_of(p, sfd);
    int on = 0;
    socklen_t len = sizeof on;
    int rc = getsockopt(copy, IPPROTO_TCP, TCP_NODELAY, &on, &len);
    int err = errno;
    close(copy);
    HH_CHECK(c, rc == 0, "getsockopt TCP_NODELAY: %s", strerror(err));
    hh_note(c, "harness: the server's fd %d (%s), copied with "
            "pidfd_getfd: TCP_NODELAY %d", sfd, link, on);
    return on != 0;
}

/* strace -f: the small file's body goes in one writev with the head
 * (iov_len=60000 in the call), the big one with sendfile, after its head
 * in a sendmsg with MSG_MORE.  Who makes the
 * calls tells the designs apart: in pool mode a worker opens the file and
 * the I/O thread accepts and writes; in loops mode one loop thread does
 * all three. */
static void
web_syscalls(struct hh_ctx *c, const char *mode)
{
    struct site s;
    struct resp rs;
    bool loops = strcmp(mode, "loops") == 0;
    site_make(c, &s, true);
    struct hh_spawn o = {.trace = "trace=accept4,openat,openat2,writev,"
                                  "sendmsg,sendfile",
                         .must_trace = true};
    struct hh_proc *p = web_start(c, &s, mode, "2", "5s", &o);
    int fd = web_connect(c, p, 0);
    struct reader r;
    reader_init(c, &r, fd, BIG_LEN + 8192);
    hh_send(c, fd, GET("/small.bin"), strlen(GET("/small.bin")), 3000);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 200 && rs.body_len == SMALL_LEN, "small: %d",
             rs.status);
    hh_send(c, fd, GET("/big.bin"), strlen(GET("/big.bin")), 3000);
    read_response(c, &r, &rs, false, 20000);
    HH_CHECK(c, rs.status == 200 && rs.body_len == BIG_LEN, "big: %d",
             rs.status);
    /* without it the 6 MB file's last, short segment waits for the
     * client to acknowledge the ones before (Nagle) */
    HH_CHECK(c, server_nodelay(c, p, fd), "the server's side of the "
             "connection has no TCP_NODELAY");
    hh_stop(p);
    int w = hh_trace_count(p, "writev\\(.*iov_len=60000");
    int sf = hh_trace_count(p, "sendfile\\(");
    HH_CHECK(c, w >= 1, "no writev carried the 60000-byte body");
    HH_CHECK(c, sf >= 1, "no sendfile for the 6 MB file");
    HH_CHECK(c, hh_trace_count(p, "writev\\(.*iov_len=6291456") == 0,
             "the 6 MB file went through writev");
    /* the big file's head waits (MSG_MORE) to leave with its first bytes,
     * not in a small segment of its own */
    int more = hh_trace_count(p, "sendmsg\\([0-9]+, .*, MSG_MORE");
    HH_CHECK(c, more >= 1, "no sendmsg with MSG_MORE: the 6 MB file's head "
             "went alone");
    hh_note(c, "strace: %d writev with the small body, %d sendfile calls, "
            "%d sendmsg with MSG_MORE (the big file's head)", w, sf, more);
    long acc = trace_tid(c, p, "accept4\\([0-9]+, .*= [0-9]+$");
    long opn = trace_tid(c, p, "openat2?\\(.*small\\.bin");
    long wr = trace_tid(c, p, "writev\\(.*iov_len=60000");
    HH_CHECK(c, acc > 0 && opn > 0 && wr > 0, "accept4 %ld, openat %ld, "
             "writev %ld: a call missing from the trace", acc, opn, wr);
    if (loops)
        HH_CHECK(c, acc == opn && opn == wr, "accept4 by thread %ld, "
                 "openat by %ld, writev by %ld: want one loop thread for "
                 "all three", acc, opn, wr);
    else
        HH_CHECK(c, acc == wr && opn != acc, "accept4 by thread %ld, "
                 "openat by %ld, writev by %ld: want the file opened by a "
                 "worker, accept and write in the I/O thread", acc, opn, wr);
    hh_note(c, "strace -f: accept4 by thread %ld, openat by %ld, writev by "
            "%ld", acc, opn, wr);
}

/* Loops mode steers each connection to the loop of the CPU its packets
 * arrive on (SO_INCOMING_CPU on listener i: the i-th CPU the server may
 * run on).  On loopback a connection's packets are handled on the CPU of
 * the process that sends them, so the harness connects from CPU A, then
 * from CPU B (sched_setaffinity on itself), STEER_CONNS times each, a
 * request and its answer on every connection before the next.  strace -f
 * names the thread of every accept4, in the order of the connections:
 * with steering (the default) A's all went to one thread and B's to
 * another; with -s hash no listener is tied to a CPU.  A server that
 * only hashes passes the first half with odds of 1 in 2^15.  Needs two
 * CPUs and Linux 6.1 (b261eda84ec1 made SO_INCOMING_CPU work in a
 * reuseport group). */
#define STEER_CONNS 8

static void
steer_round(struct hh_ctx *c, const struct site *s, bool by_cpu,
            const int cpu[2])
{
    static const char *hash[2] = {"-s", "hash"};
    struct hh_spawn o = {.trace = "trace=accept4,setsockopt",
                         .must_trace = true};
    struct hh_proc *p = web_start_with(c, s, "loops", "2", "5s",
                                       by_cpu ? NULL : hash, &o);
    cpu_set_t saved, one;
    HH_CHECK(c, sched_getaffinity(0, sizeof saved, &saved) == 0,
             "sched_getaffinity: %s", strerror(errno));
    for (int side = 0; side < 2; side++) {
        CPU_ZERO(&one);
        CPU_SET(cpu[side], &one);
        HH_CHECK(c, sched_setaffinity(0, sizeof one, &one) == 0,
                 "sched_setaffinity CPU %d: %s", cpu[side], strerror(errno));
        hh_note(c, "harness: now on CPU %d only; %d connections, one "
                "after the other", cpu[side], STEER_CONNS);
        for (int i = 0; i < STEER_CONNS; i++) {
            struct resp rs;
            ask(c, p, GET("/index.html"), strlen(GET("/index.html")), false,
                &rs);
            HH_CHECK(c, rs.status == 200, "from CPU %d, connection %d: %d",
                     cpu[side], i, rs.status);
        }
    }
    HH_CHECK(c, sched_setaffinity(0, sizeof saved, &saved) == 0,
             "sched_setaffinity back: %s", strerror(errno));
    hh_stop(p);

    /* every accept4 that returned a connection, in order: its thread
     * (strace -f's pid column, which hh_trace_next leaves out) */
    long tid[2 * STEER_CONNS];
    int n = 0;
    size_t len;
    char g[HH_MAX_GROUPS][HH_GROUP_LEN];
    char *text = hh_read_file(c, p->trace_path, &len);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!hh_match(c, "^([0-9]+) +(accept4\\(|<\\.\\.\\. accept4 "
                         "resumed>).*= [0-9]+$", line, g))
            continue;
        HH_CHECK(c, n < 2 * STEER_CONNS, "more than %d connections "
                 "accepted", 2 * STEER_CONNS);
        tid[n++] = atol(g[1]);
    }
    HH_CHECK(c, n == 2 * STEER_CONNS, "%d accept4 calls returned a "
             "connection (strace), want %d", n, 2 * STEER_CONNS);
    bool same[2];
    for (int side = 0; side < 2; side++) {
        const long *t = tid + side * STEER_CONNS;
        char list[STEER_CONNS * 12] = "";
        same[side] = true;
        for (int i = 0; i < STEER_CONNS; i++) {
            snprintf(list + strlen(list), sizeof list - strlen(list), " %ld",
                     t[i]);
            same[side] &= t[i] == t[0];
        }
        hh_note(c, "strace -f: the connections from CPU %d were accepted "
                "by threads%s", cpu[side], list);
        HH_CHECK(c, !by_cpu || same[side], "connections from CPU %d went "
                 "to more than one loop: want one thread for all", cpu[side]);
    }
    int tied = hh_trace_count(p, "setsockopt\\(.*SO_INCOMING_CPU");
    if (!by_cpu) {
        HH_CHECK(c, tied == 0, "-s hash: %d setsockopt(SO_INCOMING_CPU) "
                 "calls, want none", tied);
        hh_note(c, "-s hash: no listener tied to a CPU (strace); the "
                "threads follow the hash of the client's port");
        return;
    }
    HH_CHECK(c, tid[0] != tid[STEER_CONNS], "CPU %d's and CPU %d's "
             "connections both went to thread %ld: want a loop each",
             cpu[0], cpu[1], tid[0]);
    for (int side = 0; side < 2; side++) {
        char re[128];
        snprintf(re, sizeof re, "setsockopt\\(.*SO_INCOMING_CPU, \\[%d\\]",
                 cpu[side]);
        HH_CHECK(c, hh_trace_count(p, re) == 1, "no listener tied to CPU %d "
                 "(want one setsockopt SO_INCOMING_CPU [%d]; %d in all)",
                 cpu[side], cpu[side], tied);
    }
}

static void
web_steering(struct hh_ctx *c)
{
    struct utsname u;
    int major = 0, minor = 0;
    HH_CHECK(c, uname(&u) == 0, "uname: %s", strerror(errno));
    if (sscanf(u.release, "%d.%d", &major, &minor) != 2 ||
        major * 1000 + minor < 6001)
        hh_skip(c, "kernel %s: SO_INCOMING_CPU steers a reuseport group "
                "from Linux 6.1 on", u.release);
    cpu_set_t set;
    int cpu[2], n = 0;
    HH_CHECK(c, sched_getaffinity(0, sizeof set, &set) == 0,
             "sched_getaffinity: %s", strerror(errno));
    for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
        if (CPU_ISSET(i, &set))
            cpu[n++] = i;
    if (n < 2)
        hh_skip(c, "one CPU to run on: nothing to steer between");
    struct site s;
    site_make(c, &s, false);
    steer_round(c, &s, true, cpu);
    steer_round(c, &s, false, cpu);
}

/* Pool mode with one worker and a queue of QUEUE_JOBS (-t 1 -q 2).  The
 * harness freezes the worker (ptrace stops that thread alone: a worker
 * stuck on a slow disk, as far as the server can tell), then sends a
 * request on each of QUEUE_CONNS connections.  The queue takes 2; the
 * I/O thread, running on, answers the other 3 at once with 503,
 * Connection: close and EOF, while the 2 queued get nothing.  The worker
 * thawed, the 2 get their 200.  A server that ignores the bound queues
 * all 5 and answers none while the worker is stuck; one that blocks on a
 * full queue answers nobody; the book's bound (refused only once the
 * queue is longer than max) queues 3. */
#define QUEUE_CONNS 5
#define QUEUE_JOBS 2

static void
web_queue_full(struct hh_ctx *c)
{
    static const char *q[2] = {"-q", "2"};
    struct site s;
    site_make(c, &s, false);
    struct hh_spawn o = {.no_trace = true};
    struct hh_proc *p = web_start_with(c, &s, "pool", "1", "5s", q, &o);
    /* -t 1: the worker (and under TSan its own background thread, which
     * may as well stop too) */
    pid_t others[8];
    int n = hh_other_threads(c, hh_pid(p), others, 8);
    HH_CHECK(c, n >= 1, "-t 1, but no thread beside the main one");
    /* each asleep (S) before it is frozen: under valgrind, whose lock lets
     * one thread run at a time, a thread stopped while it runs would keep
     * that lock and stop the I/O thread too */
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)hh_pid(p),
                 (int)others[i]);
        long long deadline = hh_now_ms() + hh_ms(c, 3000);
        for (;;) {
            size_t len;
            const char *st = hh_read_file(c, path, &len);
            const char *end = strrchr(st, ')');
            if (end && end[1] == ' ' && end[2] == 'S')
                break;
            HH_CHECK(c, hh_now_ms() < deadline, "thread %d not asleep "
                     "within %d ms: %s", (int)others[i], hh_ms(c, 3000), st);
            hh_observe(c, 1);
        }
        hh_freeze_thread(c, others[i]);
    }

    struct pollfd pf[QUEUE_CONNS];
    struct reader r[QUEUE_CONNS];
    for (int i = 0; i < QUEUE_CONNS; i++) {
        int fd = web_connect(c, p, 0);
        reader_init(c, &r[i], fd, 64 * 1024);
        hh_send(c, fd, GET("/index.html"), strlen(GET("/index.html")), 3000);
        pf[i] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    /* the refused: a 503 each, then EOF, with the worker still frozen */
    int busy = 0;
    long long deadline = hh_now_ms() + hh_ms(c, 3000);
    while (busy < QUEUE_CONNS - QUEUE_JOBS) {
        long long left = deadline - hh_now_ms();
        HH_CHECK(c, left > 0, "%d of %d connections answered while the "
                 "worker was frozen, want %d (503: the queue holds %d)",
                 busy, QUEUE_CONNS, QUEUE_CONNS - QUEUE_JOBS, QUEUE_JOBS);
        int k = poll(pf, QUEUE_CONNS, (int)left);
        HH_CHECK(c, k >= 0 || errno == EINTR, "poll: %s", strerror(errno));
        for (int i = 0; i < QUEUE_CONNS && k > 0; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            struct resp rs;
            read_response(c, &r[i], &rs, false, 3000);
            HH_CHECK(c, rs.status == 503 && rs.close, "connection %d, with "
                     "the worker frozen: %d%s, want 503 and Connection: "
                     "close", i, rs.status, rs.close ? "" : " kept alive");
            while (!r[i].eof && r[i].len == 0)
                reader_fill(c, &r[i], deadline);
            HH_CHECK(c, r[i].eof && r[i].len == 0, "503, but no EOF after "
                     "it");
            pf[i].fd = -1;
            busy++;
        }
    }
    /* the queued: nothing while their worker is frozen */
    int early = poll(pf, QUEUE_CONNS, hh_ms(c, 300));
    HH_CHECK(c, early == 0, "%d queued connection(s) answered while the "
             "only worker was frozen", early);
    hh_note(c, "harness: with the worker frozen, %d connections got 503 "
            "and EOF at once; the %d queued got nothing in 300 ms", busy,
            QUEUE_CONNS - busy);
    for (int i = 0; i < n; i++)
        hh_thaw_thread(c, others[i]);
    for (int i = 0; i < QUEUE_CONNS; i++) {
        if (pf[i].fd < 0)
            continue;
        struct resp rs;
        read_response(c, &r[i], &rs, false, 5000);
        HH_CHECK(c, rs.status == 200, "queued connection %d, the worker "
                 "thawed: %d", i, rs.status);
        expect_body(c, &rs, INDEX_HTML, strlen(INDEX_HTML), "queued");
    }
    hh_note(c, "harness: the worker thawed, the %d queued got 200",
            QUEUE_CONNS - busy);
    hh_stop(p);
}

/* SIGTERM with a client idle and one in the middle of a 6 MB response it
 * does not read: exit 0 (every thread joined, everything closed). */
static void
web_sigterm(struct hh_ctx *c, const char *mode)
{
    struct site s;
    site_make(c, &s, true);
    struct hh_proc *p = web_start(c, &s, mode, "2", "30s", NULL);
    int idle = web_connect(c, p, 0);
    int busy = web_connect(c, p, 4096);
    hh_send(c, busy, GET("/big.bin"), strlen(GET("/big.bin")), 3000);
    HH_CHECK(c, hh_wait_fd(c, busy, POLLIN, 3000), "no response began");
    hh_stop(p);
    hh_expect_line(p, "^stopped: ", 1000);
    hh_expect_eof(c, idle, 3000);
    hh_note(c, "exit 0 with two connections open; the idle one got EOF");
}

/* The loops' cache of small files lasts one round of events: on one
 * keep-alive connection a small file is asked for, then rewritten in place
 * with other bytes and another length, made 0600, and removed, each
 * change before the next request; each answer follows the disk (the new
 * bytes and Content-Length, 403, 404), not what was served a moment ago
 * from memory. */
static void
web_fresh(struct hh_ctx *c, const char *mode)
{
    static const char NEW_TEXT[] = "<html><body><p>rewritten, and longer "
                                   "than it was</p></body></html>\n";
    struct site s;
    struct resp rs;
    struct reader r;
    char path[400];
    site_make(c, &s, false);
    snprintf(path, sizeof path, "%s/index.html", s.root);
    struct hh_proc *p = web_start(c, &s, mode, "1", "5s", NULL);
    int fd = web_connect(c, p, 0);
    reader_init(c, &r, fd, 64 * 1024);
    hh_send(c, fd, GET("/index.html"), strlen(GET("/index.html")), 3000);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 200, "first GET: %d", rs.status);
    expect_body(c, &rs, INDEX_HTML, strlen(INDEX_HTML), "first GET");

    /* the same inode, truncated and written again */
    hh_write_text(c, path, NEW_TEXT);
    hh_send(c, fd, GET("/index.html"), strlen(GET("/index.html")), 3000);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 200, "GET after the rewrite: %d", rs.status);
    expect_body(c, &rs, NEW_TEXT, strlen(NEW_TEXT), "after the rewrite");
    hh_note(c, "harness: rewritten (%zu bytes, was %zu): the new bytes came",
            strlen(NEW_TEXT), strlen(INDEX_HTML));

    HH_CHECK(c, chmod(path, 0600) == 0, "chmod: %s", strerror(errno));
    hh_send(c, fd, GET("/index.html"), strlen(GET("/index.html")), 3000);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 403, "GET after chmod 0600: %d, want 403",
             rs.status);

    HH_CHECK(c, unlink(path) == 0, "unlink: %s", strerror(errno));
    hh_send(c, fd, GET("/index.html"), strlen(GET("/index.html")), 3000);
    read_response(c, &r, &rs, false, 5000);
    HH_CHECK(c, rs.status == 404, "GET after unlink: %d, want 404",
             rs.status);
    HH_CHECK(c, !memmem(rs.body, rs.body_len, "rewritten", 9),
             "the 404 page holds the removed file");
    hh_note(c, "harness: then 403 after chmod 0600, 404 after unlink, on "
               "the same connection");
    hh_close(c, fd);
    hh_stop(p);
}

/* The fd the server's accept4 returned (strace; P has exited): the one
 * connection of the scenario. */
static int
accepted_fd(struct hh_ctx *c, struct hh_proc *p)
{
    size_t pos = 0;
    int fd = -1, n = 0;
    while (hh_trace_next(p, &pos, "accept4\\(.*\\) = ([0-9]+)$")) {
        fd = (int)hh_group_ll(p, 1);
        n++;
    }
    HH_CHECK(c, n == 1, "%d connections accepted (strace), want 1", n);
    return fd;
}

/* What a keep-alive request costs in system calls (strace -f).  Loops: 20
 * requests for a small file, each after the previous response, make no
 * EPOLL_CTL_MOD of the connection (it stays registered, level-triggered);
 * 10 requests for another small file in one send are answered from one
 * open of it (the loop's cache of the round).  Pool: the I/O thread re-arms
 * the connection one-shot after each request, since a worker may hold it:
 * every EPOLL_CTL_MOD of it carries EPOLLONESHOT, at least one a request. */
static void
web_keepalive_cost(struct hh_ctx *c, const char *mode)
{
    enum { ONE_BY_ONE = 20, PIPELINED = 10 };
    static const char AGAIN[] = "asked for ten times in one send\n";
    struct site s;
    struct resp rs;
    struct reader r;
    char path[400];
    bool loops = strcmp(mode, "loops") == 0;
    site_make(c, &s, false);
    hh_make_text_file(c, "again", AGAIN, path, sizeof path);
    put_in(c, path, s.root, "again.txt");
    struct hh_spawn o = {.trace = "trace=accept4,epoll_ctl,openat,openat2",
                         .must_trace = true};
    struct hh_proc *p = web_start(c, &s, mode, "2", "5s", &o);
    int fd = web_connect(c, p, 0);
    reader_init(c, &r, fd, 64 * 1024);
    for (int i = 0; i < ONE_BY_ONE; i++) {
        hh_send(c, fd, GET("/index.html"), strlen(GET("/index.html")), 3000);
        read_response(c, &r, &rs, false, 5000);
        HH_CHECK(c, rs.status == 200 && !rs.close, "request %d: %d", i + 1,
                 rs.status);
        expect_body(c, &rs, INDEX_HTML, strlen(INDEX_HTML), "/index.html");
    }
    size_t one = strlen(GET("/again.txt"));
    char batch[PIPELINED * 64];
    for (int i = 0; i < PIPELINED; i++)
        memcpy(batch + (size_t)i * one, GET("/again.txt"), one);
    hh_send(c, fd, batch, PIPELINED * one, 3000);
    for (int i = 0; i < PIPELINED; i++) {
        read_response(c, &r, &rs, false, 5000);
        HH_CHECK(c, rs.status == 200, "pipelined %d: %d", i + 1, rs.status);
        expect_body(c, &rs, AGAIN, strlen(AGAIN), "/again.txt");
    }
    hh_close(c, fd);
    hh_stop(p);

    int conn = accepted_fd(c, p);
    int mods = hh_epoll_ctl_count(p, "MOD", conn, NULL);
    int oneshot = hh_epoll_ctl_count(p, "MOD", conn, "EPOLLONESHOT");
    int opens = hh_trace_count(p, "openat2?\\(.*again\\.txt");
    hh_note(c, "strace: fd %d: %d EPOLL_CTL_MOD (%d with EPOLLONESHOT); "
            "%d opens of again.txt", conn, mods, oneshot, opens);
    if (loops) {
        HH_CHECK(c, mods == 0, "%d EPOLL_CTL_MOD of fd %d for %d keep-alive "
                 "requests: want none (it stays registered)", mods, conn,
                 ONE_BY_ONE + PIPELINED);
        HH_CHECK(c, opens == 1, "%d opens of again.txt for %d requests in "
                 "one send, want 1 (the round's cache)", opens, PIPELINED);
    } else {
        HH_CHECK(c, oneshot == mods, "%d of the %d EPOLL_CTL_MOD of fd %d "
                 "without EPOLLONESHOT: a worker may hold it", mods - oneshot,
                 mods, conn);
        HH_CHECK(c, mods >= ONE_BY_ONE, "%d EPOLL_CTL_MOD of fd %d for %d "
                 "requests one by one: want one a request at least", mods,
                 conn, ONE_BY_ONE);
        HH_CHECK(c, opens >= 1, "again.txt never opened");
    }
}

/* A client that reads slowly, with -i 1s: its receive buffer is 64 KiB,
 * so the server's socket fills.  It takes 600 ms to send its request,
 * then pauses 700 ms before it reads, and again after 1 MiB and after 2
 * MiB of the body, so that the 6 MB response takes more than twice IDLE.
 * No pause is as long as IDLE: the clock restarts at the response's first
 * write (the time taken to ask does not count against reading), and runs
 * from the client's reads after that (what the server writes, and what the
 * client has acknowledged, web_server.c); the whole file arrives, byte for
 * byte.  Beside it a client that asks for the same file and never reads
 * is closed meanwhile: the server's side of it has left ESTABLISHED
 * (sock_diag) by the time the slow reader is done. */
static void
web_slow_reader(struct hh_ctx *c, const char *mode)
{
    enum { THINK_MS = 600, PAUSE_MS = 700, IDLE_MS = 1000 };
    struct site s;
    struct resp rs;
    struct reader r;
    site_make(c, &s, true);
    struct hh_proc *p = web_start(c, &s, mode, "2", "1s", NULL);
    size_t blen;
    char *big = hh_read_file(c, s.big, &blen);
    int fd = web_connect(c, p, 64 * 1024);
    int stalled = web_connect(c, p, 64 * 1024);
    reader_init(c, &r, fd, blen + 8192);
    hh_observe(c, THINK_MS);
    long long start = hh_now_ms();
    hh_send(c, fd, GET("/big.bin"), strlen(GET("/big.bin")), 3000);
    hh_send(c, stalled, GET("/big.bin"), strlen(GET("/big.bin")), 3000);
    hh_note(c, "harness: asked %d ms after connecting", THINK_MS);
    long long deadline = start + hh_ms(c, 20000);
    const size_t at[] = {0, 1 << 20, 2 << 20}; /* bytes read, then pause */
    for (size_t i = 0; i < HH_LEN(at); i++) {
        while (r.len < at[i]) {
            HH_CHECK(c, !r.eof, "EOF after %zu bytes", r.len);
            reader_fill(c, &r, deadline);
        }
        hh_note(c, "harness: %zu bytes read; a pause of %d ms", r.len,
                PAUSE_MS);
        hh_observe(c, PAUSE_MS);
    }
    read_response(c, &r, &rs, false, 20000);
    long long took = hh_now_ms() - start;
    HH_CHECK(c, rs.status == 200, "big: status %d", rs.status);
    expect_body(c, &rs, big, blen, "/big.bin");
    hh_note(c, "harness: all %zu bytes, byte-identical, %lld ms after the "
            "request (IDLE %d ms)", blen, took, IDLE_MS);
    HH_CHECK(c, took > 2 * IDLE_MS, "the response took %lld ms: the test "
             "wants more than twice IDLE", took);
    int state = -1;
    long tx, rx;
    if (hh_tcp_info(ntohs(p->addr.sin_port), hh_local_port(stalled), &state,
                    &tx, &rx) == 0)
        HH_CHECK(c, state != TCP_ESTABLISHED, "the client that never read "
                 "is still connected %lld ms after its request", took);
    hh_note(c, "sock_diag: the server's side of the client that never read: "
            "%s", state < 0 ? "gone" : hh_tcp_state_name(state));
    hh_close(c, fd);
    hh_stop(p);
}

/* web_many_conns's connections: more than the harness tracks, so kept
 * here and closed by the scenario (at its start too, after a failure)
 * and by main. */
enum { MANY = 2000 };
static int many_fd[MANY + 1];
static int n_many;

static void
many_close(void)
{
    for (int i = 0; i < n_many; i++)
        if (many_fd[i] >= 0)
            close(many_fd[i]);
    n_many = 0;
}

struct many {
    enum {
        M_CONNECTING, /* connect not finished: not accepted yet */
        M_SENT,       /* GET sent, nothing back yet: waiting */
        M_OK,         /* 200, the file's bytes, kept alive */
        M_BUSY,       /* 503, kept alive (the file could not be opened) */
        M_CLOSING,    /* 503 with Connection: close: EOF to come */
        M_REFUSED,    /* 503, then EOF */
        M_GONE,       /* closed by the test */
    } st;
    size_t len;
    char buf[1024];
};

/* Move connection I, whose state is M, on after an event on it. */
static void
many_step(struct hh_ctx *c, struct many *m, int i)
{
    int fd = many_fd[i];
    if (m->st == M_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        HH_CHECK(c, getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0,
                 "SO_ERROR: %s", strerror(errno));
        HH_CHECK(c, err == 0, "connection %d: connect: %s", i, strerror(err));
        const char *req = GET("/index.html");
        ssize_t n = send(fd, req, strlen(req), MSG_NOSIGNAL);
        HH_CHECK(c, n == (ssize_t)strlen(req), "connection %d: send: %s", i,
                 n < 0 ? strerror(errno) : "short");
        m->st = M_SENT;
        return;
    }
    for (;;) {
        HH_CHECK(c, m->len < sizeof m->buf - 1, "connection %d: %zu bytes "
                 "and no whole response", i, m->len);
        ssize_t n = recv(fd, m->buf + m->len, sizeof m->buf - 1 - m->len,
                         MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        HH_CHECK(c, n >= 0, "connection %d: recv: %s (state %d, %zu bytes "
                 "read)", i, strerror(errno), m->st, m->len);
        if (n == 0) {
            HH_CHECK(c, m->st == M_CLOSING, "connection %d: EOF %s: %.*s", i,
                     m->st == M_SENT ? "without an answer"
                                     : "on a kept-alive connection",
                     (int)m->len, m->buf);
            m->st = M_REFUSED;
            return;
        }
        HH_CHECK(c, m->st == M_SENT, "connection %d: %zd bytes after its "
                 "response: %.*s, then %.*s", i, n, (int)m->len, m->buf,
                 (int)n, m->buf + m->len);
        m->len += (size_t)n;
        m->buf[m->len] = '\0';
        char *end = strstr(m->buf, "\r\n\r\n"), v[64];
        if (!end)
            continue;
        char g[HH_MAX_GROUPS][HH_GROUP_LEN];
        HH_CHECK(c, hh_match(c, "^HTTP/1\\.1 (200|503) ", m->buf, g),
                 "connection %d: not a 200 or 503: %.60s", i, m->buf);
        end[2] = '\0'; /* the head alone, for find_field */
        HH_CHECK(c, find_field(m->buf, "Content-Length", v, sizeof v),
                 "connection %d: no Content-Length", i);
        size_t hlen = (size_t)(end - m->buf) + 4, blen = (size_t)atol(v);
        bool close = find_field(m->buf, "Connection", v, sizeof v) &&
                     strcasecmp(v, "close") == 0;
        end[2] = '\r';
        if (m->len < hlen + blen)
            continue;
        HH_CHECK(c, m->len == hlen + blen, "connection %d: %zu bytes after "
                 "the response", i, m->len - hlen - blen);
        if (atoi(g[1]) == 200) {
            HH_CHECK(c, !close && blen == strlen(INDEX_HTML) &&
                     memcmp(end + 4, INDEX_HTML, blen) == 0,
                     "connection %d: a 200 without the file's bytes, or "
                     "closed", i);
            m->st = M_OK;
        } else {
            m->st = close ? M_CLOSING : M_BUSY;
        }
    }
}

/* Poll the connections of M still connecting or waiting for an answer;
 * step each one that has news.  Returns how many had news, waiting up to
 * WAIT_MS for the first. */
static int
many_poll(struct hh_ctx *c, struct many *m, struct pollfd *pf, int *who,
          int wait_ms)
{
    int n = 0;
    for (int i = 0; i < n_many; i++) {
        short ev = m[i].st == M_CONNECTING ? POLLOUT
                   : m[i].st == M_SENT || m[i].st == M_CLOSING ? POLLIN
                                                                 : 0;
        if (!ev)
            continue;
        pf[n] = (struct pollfd){.fd = many_fd[i], .events = ev};
        who[n++] = i;
    }
    if (n == 0)
        return 0;
    int r = poll(pf, (nfds_t)n, wait_ms);
    HH_CHECK(c, r >= 0 || errno == EINTR, "poll: %s", strerror(errno));
    for (int k = 0; r > 0 && k < n; k++)
        if (pf[k].revents)
            many_step(c, &m[who[k]], who[k]);
    return r > 0 ? r : 0;
}

static void
many_count(const struct many *m, int *count)
{
    memset(count, 0, (M_GONE + 1) * sizeof *count);
    for (int i = 0; i < n_many; i++)
        count[m[i].st]++;
}

/* Thousands of connections at once against a low fd limit: the server's
 * RLIMIT_NOFILE lowered to 1024 (prlimit), the test's raised, 2000
 * connections opened at once, a GET on each.  Each one is answered in
 * full (200 with the file, or 503: kept alive if the file could not be
 * opened, or with Connection: close and EOF if it was refused at the
 * door) or waits, unaccepted; none is reset or gets stray bytes.  While
 * they wait the server burns no CPU (/proc); once the test has closed
 * the answered ones, every waiting one is answered; then a new client is
 * served, and SIGTERM ends the server with exit 0. */
static void
web_many_conns(struct hh_ctx *c, const char *mode)
{
    enum { LIMIT = 1024 };
    struct site s;
    struct resp rs;
    struct rlimit rl;
    many_close();
    HH_CHECK(c, getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit: %s",
             strerror(errno));
    if (rl.rlim_cur < MANY + 256 && rl.rlim_max >= MANY + 256) {
        rl.rlim_cur = MANY + 256;
        HH_CHECK(c, setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s",
                 strerror(errno));
    }
    if (rl.rlim_cur < MANY + 256)
        hh_skip(c, "%d connections need RLIMIT_NOFILE %d; the hard limit is "
                "%llu", MANY, MANY + 256, (unsigned long long)rl.rlim_max);
    site_make(c, &s, false);
    struct hh_proc *p = web_start(c, &s, mode, "2", "30s", NULL);
    pid_t pid = hh_pid(p);
    struct rlimit low = {.rlim_cur = LIMIT, .rlim_max = LIMIT};
    HH_CHECK(c, prlimit(pid, RLIMIT_NOFILE, &low, NULL) == 0, "prlimit: %s",
             strerror(errno));
    struct many *m = hh_alloc(c, MANY * sizeof *m);
    struct pollfd *pf = hh_alloc(c, MANY * sizeof *pf);
    int *who = hh_alloc(c, MANY * sizeof *who);
    int count[M_GONE + 1];
    long long t0 = hh_now_ms();
    for (int i = 0; i < MANY; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        0);
        HH_CHECK(c, fd >= 0, "socket %d: %s", i, strerror(errno));
        many_fd[n_many++] = fd;
        m[i].st = M_CONNECTING;
        m[i].len = 0;
        if (connect(fd, (struct sockaddr *)&p->addr, sizeof p->addr) < 0)
            HH_CHECK(c, errno == EINPROGRESS, "connect %d: %s", i,
                     strerror(errno));
    }
    hh_note(c, "harness: %d connects started in %lld ms; the server may "
            "hold %d descriptors", MANY, hh_now_ms() - t0, LIMIT);
    /* until nothing moves for 300 ms, and at least until the connects
     * whose SYN found the accept queue full have tried again (1 s) */
    long long end = hh_now_ms() + hh_ms(c, 5000);
    for (;;) {
        many_count(m, count);
        if (many_poll(c, m, pf, who, 300) == 0 &&
            (count[M_CONNECTING] == 0 || hh_now_ms() - t0 > 1500))
            break;
        HH_CHECK(c, hh_now_ms() < end, "still busy after 5 s");
    }
    many_count(m, count);
    int waiting = count[M_CONNECTING] + count[M_SENT];
    hh_note(c, "harness: after %lld ms: %d served (200), %d answered 503 "
            "kept alive, %d refused (503, EOF), %d waiting (%d not even "
            "connected)", hh_now_ms() - t0, count[M_OK], count[M_BUSY],
            count[M_REFUSED], waiting, count[M_CONNECTING]);
    HH_CHECK(c, count[M_CLOSING] == 0, "%d connections got 503 with "
             "Connection: close and no EOF", count[M_CLOSING]);
    /* a server that lets connections take every descriptor has none left
     * to open a file: it accepts about LIMIT and answers them all 503.
     * Valgrind answers the program's getrlimit from its own record, so a
     * program under it cannot see the limit prlimit set from outside. */
    if (getenv("HPSP_VALGRIND") && *getenv("HPSP_VALGRIND"))
        hh_note(c, "under valgrind: getrlimit does not see prlimit; the "
                "descriptors kept for files are not checked");
    else
        HH_CHECK(c, count[M_OK] >= LIMIT / 2, "only %d of %d connections "
                 "got the file: no descriptor kept for opening files?",
                 count[M_OK], MANY);

    /* the server's CPU time over a second: while full, it must not spin
     * (a connect dropped twice may still come, and be answered) */
    long before = cpu_ticks(c, pid);
    end = hh_now_ms() + 1000;
    for (long long left; (left = end - hh_now_ms()) > 0;)
        many_poll(c, m, pf, who, (int)left);
    long used = cpu_ticks(c, pid) - before;
    hh_note(c, "/proc/PID/stat: %ld ticks of CPU in 1 s, %d connections "
            "waiting", used, waiting);
    HH_CHECK(c, used <= 20, "%ld ticks of CPU in 1 s while full: it spins",
             used);
    many_count(m, count);
    waiting = count[M_CONNECTING] + count[M_SENT];

    for (int i = 0; i < n_many; i++)
        if (m[i].st == M_OK || m[i].st == M_BUSY || m[i].st == M_REFUSED) {
            close(many_fd[i]);
            many_fd[i] = -1;
            m[i].st = M_GONE;
        }
    end = hh_now_ms() + hh_ms(c, 5000);
    for (;;) {
        many_count(m, count);
        if (count[M_CONNECTING] + count[M_SENT] + count[M_CLOSING] == 0)
            break;
        HH_CHECK(c, hh_now_ms() < end, "5 s after the others closed, %d "
                 "connections still wait (%d not connected), %d without "
                 "their EOF", count[M_CONNECTING] + count[M_SENT],
                 count[M_CONNECTING], count[M_CLOSING]);
        many_poll(c, m, pf, who, 100);
    }
    hh_note(c, "harness: the answered ones closed; then the %d waiting got "
            "%d x 200, %d x 503 kept alive, %d x 503 and EOF", waiting,
            count[M_OK], count[M_BUSY], count[M_REFUSED]);
    ask(c, p, GET("/index.html"), strlen(GET("/index.html")), false, &rs);
    HH_CHECK(c, rs.status == 200, "a new client: %d", rs.status);
    hh_stop(p);
    many_close();
}

#define BOTH_MODES(fn)                                                         \
    static void fn##_pool(struct hh_ctx *c) { fn(c, "pool"); }               \
    static void fn##_loops(struct hh_ctx *c) { fn(c, "loops"); }

BOTH_MODES(web_files)
BOTH_MODES(web_pipelined)
BOTH_MODES(regress_big)
BOTH_MODES(regress_no_rst)
BOTH_MODES(web_hostile)
BOTH_MODES(web_idle)
BOTH_MODES(web_fd_limit)
BOTH_MODES(web_threads)
BOTH_MODES(web_syscalls)
BOTH_MODES(web_sigterm)
BOTH_MODES(web_fresh)
BOTH_MODES(web_keepalive_cost)
BOTH_MODES(web_slow_reader)
BOTH_MODES(web_many_conns)

/* ---- the table --------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"pool_round_robin", "15-1",
     "a pool of 4 workers: 5 connections go to workers 0 1 2 3 0",
     "the parent writes one int per readiness to the next worker's "
     "socketpair; that worker accepts and echoes, and /proc shows the "
     "accepted socket in its fd table, not in the parent's.",
     0, pool_round_robin},
    {"pool_dead_worker", "15-1",
     "a worker killed with SIGKILL is reaped, logged and skipped",
     "SIGCHLD reached the parent's loop through its pipe; it reaped the "
     "worker (no zombie) and hands no connection to it from then on.",
     0, pool_dead_worker},
    {"pool_sigterm", "15-1",
     "SIGTERM: the workers are told, reaped, and the parent exits 0",
     "the clients got EOF from their workers; /proc has none of the "
     "server's processes left, not even a zombie.",
     0, pool_sigterm},
    {"pool_syscalls", "15-1",
     "the notification and the accept, under strace -f",
     "sendto of 4 bytes by the parent, recvfrom of them and accept4 by "
     "the worker: the parent never accepts.",
     HH_NEED_STRACE, pool_syscalls},
    {"pool_all_dead", "15-1",
     "every worker killed: the parent stops by itself",
     "with no live worker left nobody can accept; the parent says so and "
     "exits 1.", HH_FAILURE_PATH, pool_all_dead},
    {"regress_15_1_burst", "15-1",
     "two connections while the parent is stopped: both are served",
     "one readiness for two connections; the worker accepts until EAGAIN "
     "(the book's accepts once, and the second waits for a third client).",
     HH_REGRESSION, regress_15_1_burst},
    {"regress_15_1_worker_fds", "15-1",
     "no worker holds another worker's socketpair end",
     "each worker's /proc/PID/fd: the listener, its own socketpair end "
     "and its own pipe; the book's workers keep the parent's ends of every "
     "earlier worker's socketpair.",
     HH_REGRESSION, regress_15_1_worker_fds},
    {"cgi_hello", "15-2",
     "\"hello\\r\\n\": a worker forks, the grandchild execs DIR/hello",
     "the program's stdout was the connection: the client got its line, "
     "then EOF when it exited.", 0, cgi_hello},
    {"cgi_round_robin", "15-2",
     "4 requests on 3 workers: the programs' parents are workers 0 1 2 0",
     "each program printed its $PPID: the worker that accepted it.", 0,
     cgi_round_robin},
    {"cgi_clean_start", "15-2",
     "what the program starts with, read from /proc while it runs",
     "uid 65534 and its group only, PATH alone in its environment, no "
     "signal blocked, ignored or caught, fds 0 1 2 and nothing else, "
     "the limits; SIGPIPE at its default kills it when the client goes.",
     0, cgi_clean_start},
    {"cgi_refusals", "15-2",
     "names that never run: .., absolute, symlinks out, no x bit, ...",
     "each got one line \"cgi_server: refused: REASON\" and a log line; "
     "strace -f shows no execve but the server's own and hello's.",
     HH_NEED_STRACE, cgi_refusals},
    {"cgi_fork_bomb", "15-2",
     "a program that forks without end stops at pids.max (or RLIMIT_NPROC)",
     "fork failed at the 16 processes of its pids cgroup (at 32 of uid "
     "65534 where there is no pids cgroup); when the program ended its "
     "process group was killed, and /proc has none of them left.",
     0, cgi_fork_bomb},
    {"cgi_pids_cgroup", "15-2",
     "the program's own pids cgroup, seen from outside",
     "/proc/PID/cgroup names a child of its worker's cgroup, pids.max 16; "
     "a fork bomb stops at 16 processes there (counted in /proc, the same "
     "pids as cgroup.procs), not at RLIMIT_NPROC's 32; when it ends, what "
     "left its session is killed too and the cgroup is removed.",
     0, cgi_pids_cgroup},
    {"cgi_wall_clock", "15-2",
     "a program that never ends is killed at -T",
     "the worker's deadline came after 1 s on the harness's clock; it "
     "killed the program's process group with SIGKILL.", 0, cgi_wall_clock},
    {"cgi_big_file", "15-2",
     "a program that writes a 3 MB file: SIGXFSZ at 1 MiB",
     "RLIMIT_FSIZE stopped the write at 1048576 bytes, and SIGXFSZ, at its "
     "default, killed the writer.", 0, cgi_big_file},
    {"cgi_dir_unreachable", "15-2",
     "programs under a directory nobody may search: refused at start",
     "the server tried the path as uid 65534 before listening, and said "
     "why it can never run them (a clone in /root, mode 0700, is the "
     "usual case).", 0, cgi_dir_unreachable},
    {"cgi_user_and_scratch", "15-2",
     "not root, in a scratch directory of its own that goes with it",
     "id -u says 65534; its cwd was a fresh 0700 directory of its user, "
     "removed with the file it left there.", 0, cgi_user_and_scratch},
    {"cgi_sigterm", "15-2",
     "SIGTERM while a program runs: everything stops, exit 0",
     "the worker killed the program, removed its scratch directory and "
     "exited; the parent reaped every worker.", 0, cgi_sigterm},
    {"regress_15_2_exec_fails", "15-2",
     "a program that cannot be exec'd: _exit(127), nothing sent",
     "the book calls exit after a failed execl, flushing stdio buffers "
     "copied from its parent into the client's connection.",
     HH_REGRESSION, regress_15_2_exec_fails},
    {"pool_bench_smoke", "15-3",
     "the thread pool's benchmark runs: one row per job, mode and size",
     NULL, HH_TEST_ONLY, pool_bench_smoke},
    {"stress_keepalive", "16-4",
     "4 keep-alive connections for 1 s: every answer counted, by status",
     "the client's completed count is the peer's count of answers, 200s "
     "and 404s apart; the requests end at their blank line (the book adds "
     "twelve junk bytes, which a pipelining server answers with 400).",
     0, stress_keepalive},
    {"stress_pipelined", "16-4",
     "4 requests in flight per connection: several responses per read",
     "the peer answers all that a read brought in one send; the client "
     "cuts them apart by Content-Length and counts each one.",
     0, stress_pipelined},
    {"stress_split_responses", "16-4",
     "each response in five pieces: still counted once, whole",
     "pieces end inside the status line, a header, the blank line and "
     "the body; the book reads once per response and would count each "
     "piece, or lose the rest.",
     HH_REGRESSION, stress_split_responses},
    {"stress_peer_closes", "16-4",
     "the server closes with a request pending: an error, no crash",
     "3 'closed' errors, the 9 answers still counted, exit 1 after the "
     "summary.", 0, stress_peer_closes},
    {"stress_many_conns", "16-4",
     "50 connections at once, for 300 ms: all served, no 1 s per connect",
     "the connects are non-blocking and start together; the book sleeps a "
     "second after each, so 50 would take 50 s.",
     HH_REGRESSION, stress_many_conns},
    {"stress_closed_fd_epoll", "16-4",
     "a closed connection leaves epoll first, and is never touched again",
     "strace: EPOLL_CTL_DEL, then close, for each connection the server "
     "ended; the book modifies the fd in epoll after closing it.",
     HH_REGRESSION | HH_NEED_STRACE, stress_closed_fd_epoll},
#define BOTH(name, listing, title, look, needs)                               \
    {#name "_pool", listing, title " (-m pool)", look, needs, name##_pool},    \
    {#name "_loops", listing, title " (-m loops)", look, needs, name##_loops}
    BOTH(web_files, "15-6",
         "a file, HEAD, an empty file, 404, 403, a directory, 304",
         "200 with the file's bytes, its Content-Length and Content-Type; "
         "an empty file is 200 with Content-Length 0; a 0600 file and a "
         "directory 403; If-Modified-Since its own date: 304.", 0),
    BOTH(web_pipelined, "15-5",
         "keep-alive, and pipelined requests answered in order",
         "five requests in one send, the last cut in two: five responses "
         "in order, none for half a request; Connection: close ends it "
         "with EOF after the response.", 0),
    BOTH(web_hostile, "15-6",
         "hostile requests: .., %2e%2e, symlinks out, limits, bad numbers",
         "each got its status (404, 400, 413, 414, 431, 501, 505) with a "
         "small page and Connection: close, then EOF; nothing from outside "
         "the root; the server answered the next client.", 0),
    BOTH(web_idle, "15-6",
         "slowloris: silent, dripping and idle clients closed at -i",
         "each was closed about 1 s after its clock started, by the ch11 "
         "heap timer; a byte now and then does not keep a request alive; "
         "a new client was served meanwhile.", 0),
    BOTH(web_threads, "15-6",
         "threads and listening sockets, from /proc; 40 clients at once",
         "pool: the I/O thread and 3 workers, one listener; loops: main "
         "and 3 loops, 3 SO_REUSEPORT listeners on one port.", 0),
    BOTH(web_syscalls, "15-5",
         "a small file in one writev with its head, a large one by sendfile",
         "strace shows writev with iov_len=60000 for the small file, "
         "sendmsg(MSG_MORE) and sendfile for the 6 MB one, on a socket "
         "with TCP_NODELAY; pool: a worker opens the file, the "
         "I/O thread accepts and writes; loops: one loop thread does all.",
         HH_NEED_STRACE),
    {"web_steering_loops", "15-6",
     "loops: each connection goes to the loop of its CPU (SO_INCOMING_CPU)",
     "8 connections made from one CPU, then 8 from another: strace -f "
     "shows each CPU's accepted by one loop thread, a different one for "
     "each; with -s hash no listener is tied to a CPU, and the hash of "
     "the client's port scatters each CPU's over both loops.",
     HH_NEED_STRACE, web_steering},
    {"web_queue_full_pool", "15-6",
     "pool: a full job queue answers 503 at once, the queued wait",
     "-t 1 -q 2 with the worker frozen by ptrace: of 5 requests 2 were "
     "queued and got nothing, 3 got 503 and EOF from the I/O thread "
     "without delay; thawed, the worker answered the 2 with 200.",
     HH_FAILURE_PATH, web_queue_full},
    BOTH(web_sigterm, "15-6",
         "SIGTERM with connections open: exit 0",
         "the loop(s) stopped, the pool drained and was joined, every "
         "connection closed; the book's loop never ends.", 0),
    BOTH(web_fd_limit, "15-6",
         "out of descriptors (prlimit): 503 and EOF, no spinning",
         "accept failed with EMFILE; the reserve descriptor was closed to "
         "accept and refuse each client; the server's CPU time stayed "
         "flat and it served again once descriptors were free.",
         HH_FAILURE_PATH),
    BOTH(web_fresh, "15-5",
         "a file changed on disk between keep-alive requests",
         "rewritten in place: the new bytes and Content-Length; then 0600: "
         "403; then removed: 404; the loops' cache of small files lasts "
         "only one round of events.", 0),
    BOTH(web_keepalive_cost, "15-6",
         "system calls of a keep-alive request: epoll_ctl and open",
         "loops: 30 requests on one connection, no EPOLL_CTL_MOD of it; "
         "10 pipelined requests for one file, one open; pool: the "
         "connection re-armed with EPOLLONESHOT after every request.",
         HH_NEED_STRACE),
    BOTH(web_slow_reader, "15-6",
         "a slow reader of 6 MB with -i 1s: pauses under IDLE, all of it",
         "600 ms to ask, then three pauses of 700 ms, the response over "
         "2 s: the idle clock restarts at the first write and runs from "
         "the client's reads, and every byte arrives.", 0),
    BOTH(web_many_conns, "15-6",
         "2000 connections at once against 1024 descriptors",
         "each answered (200, or 503) or waiting, none reset; no CPU burnt "
         "while they wait; the waiting ones answered once the others "
         "closed; then a new client served, and exit 0 on SIGTERM.",
         HH_FAILURE_PATH),
    BOTH(regress_big, "15-5",
         "a 6 MB file and a 60000-byte one to a slow reader, byte-identical",
         "writev and sendfile stopped short many times and went on where "
         "they stopped; the book's write() declares the response done "
         "after the first writev, and would resend from the start.",
         HH_REGRESSION),
    BOTH(regress_no_rst, "15-6",
         "4 MB with Connection: close: all of it, EOF, a FIN not a RST",
         "the server's side ended in TIME_WAIT (sock_diag): it closed with "
         "a FIN; the book's SO_LINGER {1, 0} sends a RST that destroys "
         "what is still unsent.", HH_REGRESSION),
#undef BOTH
};

static const struct hh_program programs[] = {
    {.name = "cgi_server", .listing = "15-2",
     .syscalls = "trace=sendto,accept4,clone,clone3,setsid,setgroups,"
                 "setgid,setuid,execve,kill,wait4",
     /* not HH_PROG_SERVER: its port-in-use row would lack -r; the row
      * with -r is below */
     .args = HH_ARGS_IP_PORT,
     .opts = {"-r", "/tmp"},
     HH_ROWS({{"127.0.0.1", "0", NULL}, 2, HH_USAGE},
             {{"-r", "/no/such/dir", "127.0.0.1", "0", NULL}, 1,
              "-r /no/such/dir: .*\\(ENOENT\\)"},
             {{"-r", "/etc/passwd", "127.0.0.1", "0", NULL}, 1,
              "-r /etc/passwd: .*\\(ENOTDIR\\)"},
             {{"-r", "/tmp", "-U", "root", "127.0.0.1", "0", NULL}, 2,
              "programs never run as root"},
             {{"-r", "/tmp", "-U", "no-such-user", "127.0.0.1", "0", NULL}, 2,
              "no such user"},
             {{"-r", "/tmp", "-T", "0", "127.0.0.1", "0", NULL}, 2,
              "TIMEOUT '0': out of "},
             {{"-r", "/tmp", "-t", "soon", "127.0.0.1", "0", NULL}, 2,
              "REQTIME 'soon': not "},
             {{"-r", "/tmp", "-n", "17", "127.0.0.1", "0", NULL}, 2,
              "N '17': out of "},
             HH_SERVER_IN_USE("-r", "/tmp", ))},
    {.name = "stress_client", .listing = "16-4",
     .syscalls = "trace=connect,epoll_ctl,sendto,recvfrom,close",
     .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-c", "0", "127.0.0.1", "80", NULL}, 2, "CONNS '0': out of "},
             {{"-c", "x", "127.0.0.1", "80", NULL}, 2, "CONNS 'x': not a "},
             {{"-d", "0", "127.0.0.1", "80", NULL}, 2, "TIME '0'"},
             {{"-t", "soon", "127.0.0.1", "80", NULL}, 2, "TIMEOUT 'soon'"},
             {{"-P", "0", "127.0.0.1", "80", NULL}, 2, "DEPTH '0': out of "},
             {{"-P", "65", "127.0.0.1", "80", NULL}, 2, "DEPTH '65': out of "},
             {{"-p", "index.html", "127.0.0.1", "80", NULL}, 2,
              "must start with /"},
             {{"-p", "/a b", "127.0.0.1", "80", NULL}, 2,
              "a space or control byte"},
             {{"10.0.0.1", "80", NULL}, 2, "only loopback"},
             {{"127.0.0.1", "0", NULL}, 2, "PORT 0: give the port"})},
    {.name = "pool_echo", .listing = "15-1",
     .syscalls = "trace=socketpair,clone,clone3,sendto,recvfrom,accept4,"
                 "kill,wait4",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-n", "0", "127.0.0.1", "0", NULL}, 2, "N '0': out of "},
             {{"-n", "17", "127.0.0.1", "0", NULL}, 2, "N '17': out of "},
             {{"-n", "x", "127.0.0.1", "0", NULL}, 2, "N 'x': not a "},
             HH_SERVER_IN_USE("-n", "2", ))},
    {.name = "pool_bench", .listing = "15-3", .args = HH_ARGS_HELP,
     HH_ROWS({{"extra", NULL}, 2, HH_USAGE},
             {{"-t", "0", NULL}, 2, "N '0': out of range"},
             {{"-t", "1,,x", NULL}, 2, "N 'x'"},
             {{"-t", "257", NULL}, 2, "N '257': out of range"},
             {{"-t", ",", NULL}, 2, "N: empty"},
             {{"-j", "1048577", NULL}, 2, "JOBS '1048577': out of range"},
             {{"-r", "100", NULL}, 2, "repetitions '100': out of range"},
             {{"-w", "x", NULL}, 2, "ITERS 'x'"})},
    {.name = "web_server", .listing = "15-6",
     .syscalls = "trace=accept4,epoll_ctl,writev,sendmsg,sendfile,shutdown,"
                 "close",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT_ARG, .arg = "/tmp",
     HH_ROWS({{"-t", "0", "127.0.0.1", "0", "/tmp", NULL}, 2,
              "THREADS '0': out of "},
             {{"-m", "fork", "127.0.0.1", "0", "/tmp", NULL}, 2,
              "MODE 'fork'"},
             {{"-i", "0", "127.0.0.1", "0", "/tmp", NULL}, 2, "IDLE '0'"},
             {{"-m", "loops", "-s", "rss", "127.0.0.1", "0", "/tmp", NULL}, 2,
              "-s 'rss': cpu or hash"},
             {{"-s", "hash", "127.0.0.1", "0", "/tmp", NULL}, 2,
              "-s is for -m loops"},
             {{"-q", "0", "127.0.0.1", "0", "/tmp", NULL}, 2,
              "JOBS '0': out of "},
             {{"-m", "loops", "-q", "8", "127.0.0.1", "0", "/tmp", NULL}, 2,
              "-q is for -m pool"},
             {{"127.0.0.1", "0", "/no/such/dir", NULL}, 1,
              "/no/such/dir: .*\\(ENOENT\\)"},
             {{"-m", "loops", "127.0.0.1", HH_PORT_IN_USE, "/tmp", NULL}, 1,
              "\\(EADDRINUSE\\)"})},
};

static const struct hh_chapter chapter = {
    .name = "ch15-pools",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    int rc = hh_run_chapter(argc, argv, &chapter);
    many_close();
    return rc;
}
