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
 */
#define _GNU_SOURCE
#include "harness.h"
#include "hpsp.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_WORKERS = 16 };
enum { ECHO_LEN = 256 * 1024 }; /* bytes through each echo: many reads */

/* ---- the pool, seen from outside ----------------------------------------- */

struct pool {
    struct hh_proc *p;
    int n;
    pid_t pid[MAX_WORKERS]; /* worker K's pid, from the log, checked */
};

/* The children of P's program, from /proc; their count. */
static int
children_of(struct hh_ctx *c, pid_t pid, pid_t *out, int cap)
{
    char path[64];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid,
             (int)pid);
    char *text = hh_read_file(c, path, &len);
    int n = 0;
    for (char *s = text; n < cap && *s;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        out[n++] = (pid_t)v;
        s = end;
    }
    return n;
}

static bool
has_pid(const pid_t *set, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (set[i] == pid)
            return true;
    return false;
}

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
    pid_t kids[64];
    int nk = children_of(c, hh_pid(pl->p), kids, 64);
    for (int w = 0; w < n; w++)
        HH_CHECK(c, has_pid(kids, nk, pl->pid[w]),
                 "worker %d's pid %d is not a child of the server in /proc",
                 w, (int)pl->pid[w]);
    hh_note(c, "harness: /proc/%d/task/%d/children lists the %d workers",
            (int)hh_pid(pl->p), (int)hh_pid(pl->p), n);
}

/* SIGTERM: exit 0, and afterwards no worker in /proc, alive or zombie. */
static void
pool_stop(struct hh_ctx *c, struct pool *pl)
{
    pid_t kids[64];
    int nk = children_of(c, hh_pid(pl->p), kids, 64);
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

/* Whether PID holds the link text LINK ("socket:[123]") among its fds. */
static bool
holds(struct hh_ctx *c, pid_t pid, const char *link)
{
    char path[64], target[128];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    HH_CHECK(c, d != NULL, "opendir %s: %s", path, strerror(errno));
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        char fdpath[340];
        snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
        ssize_t k = readlink(fdpath, target, sizeof target - 1);
        if (k > 0) {
            target[k] = '\0';
            found = strcmp(target, link) == 0;
        }
    }
    closedir(d);
    return found;
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
        if (!proc_exists(pl->pid[w]) || !holds(c, pl->pid[w], link))
            continue;
        HH_CHECK(c, who < 0, "workers %d and %d both hold %s", who, w, link);
        who = w;
    }
    HH_CHECK(c, who >= 0, "no worker holds %s (client port %u)", link,
             (unsigned)cport);
    HH_CHECK(c, !holds(c, hh_pid(pl->p), link),
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
        hh_close(c, fd);
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
};

static const struct hh_program programs[] = {
    {.name = "pool_echo", .listing = "15-1",
     .syscalls = "trace=socketpair,clone,clone3,sendto,recvfrom,accept4,"
                 "kill,wait4",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-n", "0", "127.0.0.1", "0", NULL}, 2, "N '0': out of "},
             {{"-n", "17", "127.0.0.1", "0", NULL}, 2, "N '17': out of "},
             {{"-n", "x", "127.0.0.1", "0", NULL}, 2, "N 'x': not a "},
             HH_SERVER_IN_USE("-n", "2", ))},
};

static const struct hh_chapter chapter = {
    .name = "ch15-pools",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
