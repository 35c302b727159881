/*
 * ch14_test.c - chapter 14, multi-threaded programming: one scenario per
 * lesson (14-1 deadlock, 14-3 fork with a lock held, 14-5 a signal
 * thread).
 *
 * What a thread is doing is taken from /proc, not from the program: the
 * harness lists /proc/PID/task, reads each thread's state (stat), the
 * system call it sleeps in (syscall: the number, SYS_futex ...), and its
 * signal mask (status: SigBlk); it finds a forked child through
 * /proc/PID/task/TID/children.  Times are the harness's clock; strace
 * shows the FUTEX_WAITs that never return and the sigtimedwait calls.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- threads, as /proc shows them -------------------------------------- */

enum { MAX_TASKS = 16 };

struct task {
    pid_t tid;
    char state;               /* /proc/PID/task/TID/stat: 'S', 'T' ... */
    long nr;                  /* syscall: the call it sleeps in; -1 running */
    unsigned long long sigblk; /* status: SigBlk, the blocked signals */
};

static bool
read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* Under TSan its runtime adds a background thread of its own, asleep in
 * the raw nanosleep system call with every signal blocked; the programs'
 * own sleeps are clock_nanosleep.  It is not the program's. */
static bool
sanitizer_thread(const struct task *t)
{
    return getenv("HPSP_SANITIZER") && t->nr == SYS_nanosleep;
}

/* The threads of PID now (a sanitizer's own left out); their count. */
static int
read_tasks(struct hh_ctx *c, pid_t pid, struct task *t, int max)
{
    char path[96], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        struct task *k = &t[n];
        memset(k, 0, sizeof *k);
        k->tid = atoi(e->d_name);
        k->nr = -1;
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid,
                 (int)k->tid);
        if (!read_small(path, buf, sizeof buf))
            continue; /* it just ended */
        const char *paren = strrchr(buf, ')');
        k->state = paren && paren[1] == ' ' ? paren[2] : '?';
        snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid,
                 (int)k->tid);
        if (!read_small(path, buf, sizeof buf)) {
            closedir(d);
            hh_skip(c, "%s is not readable here: no syscall numbers", path);
        }
        if (buf[0] >= '0' && buf[0] <= '9')
            k->nr = strtol(buf, NULL, 10);
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid,
                 (int)k->tid);
        if (read_small(path, buf, sizeof buf)) {
            const char *blk = strstr(buf, "SigBlk:");
            if (blk)
                k->sigblk = strtoull(blk + 7, NULL, 16);
        }
        if (!sanitizer_thread(k))
            n++;
    }
    closedir(d);
    return n;
}

static const char *
syscall_name(long nr)
{
    switch (nr) {
    case SYS_futex:
        return "futex";
    case SYS_rt_sigtimedwait:
        return "rt_sigtimedwait";
    case SYS_clock_nanosleep:
        return "clock_nanosleep";
    case -1:
        return "running";
    default:
        return "another call";
    }
}

static void
describe_tasks(const struct task *t, int n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%d %c %ld (%s)",
                                i ? ", " : "", (int)t[i].tid, t[i].state,
                                t[i].nr, syscall_name(t[i].nr));
}

/* Wait until PID (P's program, or a process of its) has exactly N threads,
 * each in one of STATES and, if NR >= 0, asleep in system call NR.  No
 * event says so: /proc is read between 1 ms windows, up to the deadline.
 * Fills T; fails with what /proc showed last. */
static void
wait_tasks(struct hh_proc *p, pid_t pid, int n, const char *states, long nr,
           struct task *t, int timeout_ms)
{
    struct hh_ctx *c = p->ctx;
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    for (;;) {
        int got = read_tasks(c, pid, t, MAX_TASKS), ok = got == n;
        for (int i = 0; ok && i < got; i++)
            ok = strchr(states, t[i].state) && (nr < 0 || t[i].nr == nr);
        if (ok)
            return;
        HH_CHECK(c, !p->exited, "%s exited while the test watched its "
                 "threads", p->role);
        if (hh_now_ms() >= deadline) {
            char seen[512];
            describe_tasks(t, got, seen, sizeof seen);
            hh_fail(c, "pid %d: want %d thread(s) in state [%s]%s%s within "
                       "%d ms; /proc shows %d: %s", (int)pid, n, states,
                    nr >= 0 ? " in " : "", nr >= 0 ? syscall_name(nr) : "",
                    hh_ms(c, timeout_ms), got, seen);
        }
        hh_observe(c, 1);
    }
}

/* The first child of PID (/proc/PID/task/TID/children of any thread),
 * waited for up to the deadline. */
static pid_t
wait_child(struct hh_proc *p, pid_t pid, int timeout_ms)
{
    struct hh_ctx *c = p->ctx;
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    for (;;) {
        struct task t[MAX_TASKS];
        int n = read_tasks(c, pid, t, MAX_TASKS);
        for (int i = 0; i < n; i++) {
            char path[96], buf[256];
            snprintf(path, sizeof path, "/proc/%d/task/%d/children",
                     (int)pid, (int)t[i].tid);
            if (read_small(path, buf, sizeof buf) && atoi(buf) > 0)
                return (pid_t)atoi(buf);
        }
        HH_CHECK(c, !p->exited, "%s exited before it forked", p->role);
        HH_CHECK(c, hh_now_ms() < deadline, "%s forked no child within %d ms",
                 p->role, hh_ms(c, timeout_ms));
        hh_observe(c, 1);
    }
}

/* The program's pid, or 0 while strace has yet to start it. */
static pid_t
tracee(struct hh_proc *p)
{
    pid_t pid = hh_pid(p);
    return p->trace_path[0] && pid == p->pid ? 0 : pid;
}

/* The program's pid, once it runs: under strace, hh_pid answers strace
 * itself until the program has been exec'd, so ask until it does. */
static pid_t
program_pid(struct hh_proc *p)
{
    long long deadline = hh_now_ms() + hh_ms(p->ctx, 3000);
    pid_t pid;
    while ((pid = tracee(p)) == 0) {
        HH_CHECK(p->ctx, !p->exited && hh_now_ms() < deadline,
                 "%s: strace did not start it", p->role);
        hh_observe(p->ctx, 1);
    }
    return pid;
}

static bool
has_task(pid_t pid, pid_t tid)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task/%d", (int)pid, (int)tid);
    return access(path, F_OK) == 0;
}

/* P was killed by SIGKILL (under strace: strace dies of it too). */
static void
expect_killed(struct hh_proc *p)
{
    int st = hh_wait_exit(p, 3000);
    HH_CHECK(p->ctx, WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
             "%s: want killed by SIGKILL, got status 0x%x", p->role, st);
}

/* ---- strace -f, with its pid column ----------------------------------- */

/* The next line of P's trace from *OFF: its pid into *PID, the call into
 * *REST.  False at the end. */
static bool
raw_next(struct hh_proc *p, const char *text, size_t len, size_t *off,
         pid_t *pid, const char **rest)
{
    (void)p;
    while (*off < len) {
        const char *s = text + *off;
        const char *nl = memchr(s, '\n', len - *off);
        size_t n = nl ? (size_t)(nl - s) : len - *off;
        *off += n + 1;
        if (n == 0)
            continue;
        ((char *)s)[n] = '\0';
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s)
            continue;
        while (*end == ' ')
            end++;
        *pid = (pid_t)v;
        *rest = end;
        return true;
    }
    return false;
}

/* The FUTEX_WAITs of P's trace that never returned (their thread was
 * killed in them): thread ids into TIDS, futex addresses into ADDRS. */
static int
futex_waits_never_returned(struct hh_proc *p, pid_t *tids,
                           unsigned long long *addrs, int max)
{
    size_t len, off = 0;
    char *text = hh_read_file(p->ctx, p->trace_path, &len);
    pid_t pid, open_tid[MAX_TASKS];
    unsigned long long open_addr[MAX_TASKS];
    bool gone[MAX_TASKS];
    int nopen = 0, n = 0;
    const char *rest;
    while (raw_next(p, text, len, &off, &pid, &rest)) {
        int i = 0;
        while (i < nopen && open_tid[i] != pid)
            i++;
        unsigned long long addr;
        bool unfinished = strstr(rest, "<unfinished ...>") != NULL;
        bool no_return = strstr(rest, "= ?") != NULL;
        if (sscanf(rest, "futex(0x%llx, FUTEX_WAIT", &addr) == 1 &&
            strstr(rest, "FUTEX_WAIT")) {
            if (i == nopen && nopen < MAX_TASKS)
                open_tid[nopen++] = pid;
            if (i < nopen) {
                open_addr[i] = addr;
                gone[i] = no_return;
                if (!unfinished && !no_return) /* it returned */
                    open_addr[i] = 0;
            }
        } else if (i < nopen && strncmp(rest, "<... futex resumed>", 19) == 0) {
            gone[i] = no_return;
            if (!no_return)
                open_addr[i] = 0;
        } else if (i < nopen && rest[0] != '+' && rest[0] != '-') {
            open_addr[i] = 0; /* another call: the wait had returned */
        }
    }
    for (int i = 0; i < nopen && n < max; i++)
        if (open_addr[i] && gone[i]) {
            tids[n] = open_tid[i];
            addrs[n++] = open_addr[i];
        }
    return n;
}

/* ---- 14-1 mutex_deadlock ----------------------------------------------- */

enum { DEADLOCK_HOLD_MS = 300 };

/* Both threads said they ask for the other mutex, and then: nothing. */
static struct hh_proc *
start_deadlock(struct hh_ctx *c, bool must_trace)
{
    const char *args[] = {"-t", "300ms", NULL};
    struct hh_spawn opt = {.role = "mutex_deadlock",
                           .trace = must_trace ? "trace=futex,clone,clone3"
                                               : NULL,
                           .must_trace = must_trace};
    long long t0 = hh_now_ms();
    struct hh_proc *p = hh_startv(c, &opt, "mutex_deadlock", args);
    hh_expect_line(p, "^(main|thread): asking for (a|b)$", 3000);
    hh_expect_line(p, "^(main|thread): asking for (a|b)$", 3000);
    long long asked = hh_now_ms() - t0;
    HH_CHECK(c, hh_output_has(p, "^main: asking for b$") &&
                    hh_output_has(p, "^thread: asking for a$"),
             "want main asking for b and the thread asking for a");
    HH_CHECK(c, hh_output_has(p, "^main: locked a,") &&
                    hh_output_has(p, "^thread: locked b,"),
             "main must hold a and the thread b before they ask");
    HH_CHECK(c, asked >= DEADLOCK_HOLD_MS,
             "both asked after %lld ms, before the hold of %d ms was over",
             asked, DEADLOCK_HOLD_MS);
    hh_note(c, "harness: both asked for the other mutex %lld ms after the "
               "start (hold %d ms)", asked, DEADLOCK_HOLD_MS);
    return p;
}

/* Both threads asleep in futex, and still so a second later. */
static void
expect_deadlocked(struct hh_ctx *c, struct hh_proc *p)
{
    struct task t[MAX_TASKS];
    char seen[512];
    pid_t pid = program_pid(p);
    wait_tasks(p, pid, 2, "S", SYS_futex, t, 3000);
    long long since = hh_now_ms();
    hh_observe(c, 1000);
    int n = read_tasks(c, pid, t, MAX_TASKS);
    describe_tasks(t, n, seen, sizeof seen);
    HH_CHECK(c, !p->exited, "mutex_deadlock ended: the deadlock was lifted");
    HH_CHECK(c, n == 2 && t[0].state == 'S' && t[1].state == 'S' &&
                    t[0].nr == SYS_futex && t[1].nr == SYS_futex,
             "1 s later, want both threads still asleep in futex; /proc "
             "shows %s", seen);
    HH_CHECK(c, !hh_output_has(p, "locked (a|b) too|final counters"),
             "a thread got its second mutex: no deadlock");
    hh_note(c, "harness: /proc/%d/task, %lld ms after both asked: %s "
               "(%d = SYS_futex): no thread can run, none will",
            (int)pid, hh_now_ms() - since, seen, SYS_futex);
}

static void
deadlock_hangs(struct hh_ctx *c)
{
    struct hh_proc *p = start_deadlock(c, false);
    expect_deadlocked(c, p);
    hh_note(c, "harness: kill -KILL %d  (nothing else ends a deadlock)",
            (int)program_pid(p));
    hh_kill(p, SIGKILL);
    expect_killed(p);
}

static void
deadlock_futex_trace(struct hh_ctx *c)
{
    struct hh_proc *p = start_deadlock(c, true);
    pid_t pid = program_pid(p);
    expect_deadlocked(c, p);
    hh_kill(p, SIGKILL);
    expect_killed(p);

    pid_t tids[MAX_TASKS];
    unsigned long long addrs[MAX_TASKS];
    int n = futex_waits_never_returned(p, tids, addrs, MAX_TASKS);
    HH_CHECK(c, n == 2, "want 2 threads killed in a FUTEX_WAIT, strace shows "
             "%d", n);
    HH_CHECK(c, tids[0] != tids[1] && addrs[0] != addrs[1] &&
                    (tids[0] == pid || tids[1] == pid),
             "want main and the thread waiting on two different futexes");
    hh_note(c, "strace: thread %d waits in FUTEX_WAIT on 0x%llx, thread %d "
               "on 0x%llx; neither call ever returned",
            (int)tids[0], addrs[0], (int)tids[1], addrs[1]);
}

static void
deadlock_ordered(struct hh_ctx *c)
{
    long long t0 = hh_now_ms();
    struct hh_proc *p = hh_start(c, "mutex_deadlock", "mutex_deadlock", "-o",
                                 "-t", "300ms", NULL);
    hh_expect_line(p, "^final counters: a=([0-9]+) b=([0-9]+)", 5000);
    HH_CHECK(c, atoi(p->groups[1]) == 2 && atoi(p->groups[2]) == 2,
             "final counters a=%s b=%s, want 2 and 2: each thread adds 1",
             p->groups[1], p->groups[2]);
    hh_expect_exit(p, 0, 3000);
    long long took = hh_now_ms() - t0;
    HH_CHECK(c, hh_count_lines(p, "^(main|thread): locked a, holding") == 2 &&
                    !hh_output_has(p, "locked b, holding"),
             "with -o both threads take a first");
    HH_CHECK(c, took >= 2 * DEADLOCK_HOLD_MS &&
                    took < 2 * DEADLOCK_HOLD_MS + hh_ms(c, 1500),
             "-o took %lld ms, want about twice the hold (%d ms): one holds "
             "a while the other waits for it", took, 2 * DEADLOCK_HOLD_MS);
    hh_note(c, "harness: exit 0 after %lld ms, about 2 x %d ms: the holds "
               "ran one after the other", took, DEADLOCK_HOLD_MS);
}

/* ---- 14-3 fork_with_lock ------------------------------------------------ */

enum { FORK_HOLD_MS = 300, FORK_WAIT_MS = 900 };

static void
fork_lock_stuck(struct hh_ctx *c)
{
    long long t0 = hh_now_ms();
    struct hh_proc *p = hh_start(c, "fork_with_lock", "fork_with_lock", "-t",
                                 "300ms", "-w", "900ms", NULL);
    pid_t pid = program_pid(p);
    hh_expect_line(p, "^main: forking while the thread holds", 3000);
    pid_t child = wait_child(p, pid, 3000);
    struct task t[MAX_TASKS];
    wait_tasks(p, child, 1, "S", SYS_futex, t, 3000);
    hh_note(c, "harness: child %d (/proc/%d/task/%d/children) is asleep "
               "in futex (/proc/%d/syscall: %ld)", (int)child, (int)pid,
            (int)pid, (int)child, t[0].nr);
    hh_expect_line(p, "^thread: unlocking the mutex$", 3000);
    long long unlocked = hh_now_ms();
    hh_observe(c, 100);
    wait_tasks(p, child, 1, "S", SYS_futex, t, 10);
    hh_note(c, "harness: %lld ms after the thread's unlock, the child still "
               "sleeps in futex: its copy of the mutex stays locked",
            hh_now_ms() - unlocked);

    char ere[96];
    snprintf(ere, sizeof ere, "^parent: child %d killed by signal 9 ",
             (int)child);
    hh_expect_line(p, ere, FORK_WAIT_MS + 3000);
    long long reported = hh_now_ms() - t0;
    HH_CHECK(c, reported >= FORK_WAIT_MS,
             "the parent gave up after %lld ms, before its deadline of %d ms",
             reported, FORK_WAIT_MS);
    hh_expect_exit(p, 1, 3000);
    hh_expect_err(p, "never got the mutex", 100);
    HH_CHECK(c, !has_task(child, child), "the child %d is still there",
             (int)child);
    hh_note(c, "harness: the parent killed and reaped child %d %lld ms "
               "after the start (deadline -w 900ms); exit 1",
            (int)child, reported);
}

static void
fork_lock_atfork(struct hh_ctx *c)
{
    long long t0 = hh_now_ms();
    struct hh_proc *p = hh_start(c, "fork_with_lock", "fork_with_lock", "-a",
                                 "-t", "300ms", "-w", "5s", NULL);
    hh_expect_line(p, "^child ([0-9]+): got the mutex$", 5000);
    long long got = hh_now_ms() - t0;
    hh_expect_line(p, "^parent: child [0-9]+ exited 0$", 3000);
    hh_expect_exit(p, 0, 3000);
    long long took = hh_now_ms() - t0;
    HH_CHECK(c, got >= FORK_HOLD_MS,
             "the child got the mutex %lld ms after the start, before the "
             "thread's hold of %d ms was over: fork did not wait for it",
             got, FORK_HOLD_MS);
    HH_CHECK(c, took < FORK_HOLD_MS + hh_ms(c, 700),
             "-a took %lld ms, want about the hold (%d ms)", took,
             FORK_HOLD_MS);
    hh_note(c, "harness: the child got the mutex after %lld ms, exit 0 "
               "after %lld ms (hold %d ms): fork waited for the thread's "
               "unlock", got, took, FORK_HOLD_MS);
}

/* The book's parent unlocks the thread's mutex; the port's mutex is
 * error-checking, so any such unlock would be EPERM and exit 1. */
static void
regress_14_3_own_mutex_only(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "fork_with_lock", "fork_with_lock", "-a",
                                 "-t", "100ms", NULL);
    hh_expect_exit(p, 0, 5000);
    HH_CHECK(c, hh_output_has(p, "^thread: unlocking the mutex$") &&
                    hh_output_has(p, "^child [0-9]+: got the mutex$"),
             "want the thread's own unlock and the child's lock");
    p = hh_start(c, "fork_with_lock", "fork_with_lock", "-t", "100ms", "-w",
                 "300ms", NULL);
    hh_expect_exit(p, 1, 5000);
    HH_CHECK(c, !strstr(p->err.data ? p->err.data : "", "EPERM"),
             "an unlock failed with EPERM: a mutex unlocked by a thread "
             "that does not own it");
    HH_CHECK(c, hh_output_has(p, "killed by signal 9"),
             "want the parent's report on the child it killed");
    hh_note(c, "both runs ended without an EPERM: nobody unlocked a mutex "
               "it did not lock");
}

/* The book's parent waits for ever; here: a deadline, then kill, then
 * wait4.  strace shows the three. */
static void
regress_14_3_deadline(struct hh_ctx *c)
{
    const char *args[] = {"-t", "100ms", "-w", "400ms", NULL};
    struct hh_spawn opt = {
        .role = "fork_with_lock",
        .trace = "trace=futex,clone,clone3,rt_sigtimedwait,kill,wait4",
        .must_trace = true};
    struct hh_proc *p = hh_startv(c, &opt, "fork_with_lock", args);
    hh_expect_exit(p, 1, 5000);

    size_t pos = 0;
    HH_CHECK(c, hh_trace_next(p, &pos, "^clone\\(.*SIGCHLD.*\\) += ([0-9]+)$"),
             "no fork (clone with SIGCHLD) in the trace");
    long long child = hh_group_ll(p, 1);
    /* strace -f may split a call in two: "<unfinished ...>", then
     * "<... NAME resumed>" with the result */
    HH_CHECK(c, hh_trace_next(p, &pos, "^(rt_sigtimedwait\\(\\[CHLD\\]|<\\.\\.\\. "
                                       "rt_sigtimedwait resumed>).* = -1 "
                                       "EAGAIN"),
             "the parent's wait did not time out (rt_sigtimedwait EAGAIN)");
    char re[160];
    snprintf(re, sizeof re, "^kill\\(%lld, SIGKILL\\) += 0$", child);
    HH_CHECK(c, hh_trace_next(p, &pos, re), "no kill(%lld, SIGKILL) after the "
             "deadline", child);
    snprintf(re, sizeof re, "^(wait4\\(%lld, |<\\.\\.\\. wait4 resumed>).*"
             "WTERMSIG\\(s\\) == SIGKILL.* += %lld$", child, child);
    HH_CHECK(c, hh_trace_next(p, &pos, re), "child %lld not reaped (wait4) "
             "after the kill", child);
    pid_t tids[MAX_TASKS];
    unsigned long long addrs[MAX_TASKS];
    int n = futex_waits_never_returned(p, tids, addrs, MAX_TASKS);
    HH_CHECK(c, n == 1 && tids[0] == child,
             "want the child's FUTEX_WAIT never to return, strace shows %d "
             "such waits", n);
    hh_note(c, "strace: child %lld in FUTEX_WAIT on 0x%llx until killed; the "
               "parent: rt_sigtimedwait -> EAGAIN, kill(SIGKILL), wait4",
            child, addrs[0]);
}

/* ---- 14-5 sigwait_thread ----------------------------------------------- */

static const int waited_sigs[] = {SIGQUIT, SIGUSR1, SIGTERM, SIGINT};

static bool
blocks_all(unsigned long long blk)
{
    for (size_t i = 0; i < HH_LEN(waited_sigs); i++)
        if (!(blk & (1ULL << (waited_sigs[i] - 1))))
            return false;
    return true;
}

/* The signal thread's report of SIG: its tid, which /proc must know as a
 * thread of the program other than main. */
static pid_t
expect_report(struct hh_proc *p, int sig)
{
    struct hh_ctx *c = p->ctx;
    char ere[96];
    snprintf(ere, sizeof ere, "^tid ([0-9]+): got signal %d \\(SIG%s\\)$",
             sig, sigabbrev_np(sig));
    hh_expect_line(p, ere, 3000);
    pid_t tid = (pid_t)atoi(p->groups[1]);
    /* SIGTERM and SIGINT end the thread, and the program: it may be gone
     * already, its /proc with it */
    bool ends = sig == SIGTERM || sig == SIGINT;
    pid_t pid = p->exited || ends ? 0 : program_pid(p);
    HH_CHECK(c, pid == 0 || tid != pid,
             "the reporter's id %d is the pid: not the thread's own id",
             (int)tid);
    HH_CHECK(c, pid == 0 || has_task(pid, tid),
             "%d is not a thread of pid %d (no /proc/%d/task/%d)", (int)tid,
             (int)pid, (int)pid, (int)tid);
    return tid;
}

/* Started, and its signal thread asleep in sigwait (rt_sigtimedwait),
 * main in pthread_join (futex).  Returns the waiting thread's id. */
static pid_t
wait_sigwaiting(struct hh_proc *p)
{
    struct hh_ctx *c = p->ctx;
    long long deadline = hh_now_ms() + hh_ms(c, 3000);
    for (;;) {
        struct task t[MAX_TASKS];
        pid_t pid = tracee(p);
        int n = pid ? read_tasks(c, pid, t, MAX_TASKS) : 0;
        pid_t waiter = 0;
        bool joined = false;
        for (int i = 0; i < n; i++) {
            if (t[i].state == 'S' && t[i].nr == SYS_rt_sigtimedwait)
                waiter = t[i].tid;
            if (t[i].tid == pid && t[i].state == 'S' && t[i].nr == SYS_futex)
                joined = true;
        }
        if (n == 2 && waiter && joined)
            return waiter;
        HH_CHECK(c, !p->exited, "sigwait_thread exited");
        if (hh_now_ms() >= deadline) {
            char seen[512];
            describe_tasks(t, n, seen, sizeof seen);
            hh_fail(c, "want main in futex (pthread_join) and one thread in "
                       "rt_sigtimedwait; /proc shows %s", seen);
        }
        hh_observe(c, 1);
    }
}

static void
sigwait_reports(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "sigwait_thread", "sigwait_thread", NULL);
    pid_t waiter = wait_sigwaiting(p);
    pid_t pid = program_pid(p);
    hh_note(c, "harness: /proc/%d/task: main %d in futex (pthread_join), "
               "thread %d in rt_sigtimedwait", (int)pid, (int)pid,
            (int)waiter);
    hh_note(c, "harness: kill -USR1 %d", (int)pid);
    hh_kill(p, SIGUSR1);
    pid_t tid = expect_report(p, SIGUSR1);
    HH_CHECK(c, tid == waiter, "SIGUSR1 reported by %d, but the thread in "
             "sigwait is %d", (int)tid, (int)waiter);
    hh_note(c, "harness: kill -QUIT %d", (int)pid);
    hh_kill(p, SIGQUIT);
    tid = expect_report(p, SIGQUIT);
    HH_CHECK(c, tid == waiter, "SIGQUIT reported by %d, but the thread in "
             "sigwait is %d", (int)tid, (int)waiter);
    HH_CHECK(c, wait_sigwaiting(p) == waiter,
             "after SIGQUIT another thread waits in sigwait");
    hh_note(c, "harness: after SIGQUIT pid %d is alive, thread %d back in "
               "sigwait: no core dump, no default action", (int)pid,
            (int)waiter);
    hh_stop(p);
    expect_report(p, SIGTERM);
}

/* Stopped, every thread shows its real mask; signals sent meanwhile are
 * all pending at SIGCONT, and each must wait its turn, blocked. */
static void
sigwait_masks(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "sigwait_thread", "sigwait_thread", NULL);
    wait_sigwaiting(p);
    pid_t pid = program_pid(p);
    hh_kill(p, SIGSTOP);
    struct task t[MAX_TASKS];
    wait_tasks(p, pid, 2, "Tt", -1, t, 3000);
    for (int i = 0; i < 2; i++) {
        HH_CHECK(c, blocks_all(t[i].sigblk),
                 "thread %d: SigBlk %016llx lacks QUIT USR1 TERM INT: they "
                 "can be delivered to it", (int)t[i].tid, t[i].sigblk);
        hh_note(c, "harness: /proc/%d/task/%d/status SigBlk: %016llx "
                   "(QUIT USR1 TERM INT blocked)", (int)pid, (int)t[i].tid,
                t[i].sigblk);
    }
    hh_note(c, "harness: kill -USR1, kill -QUIT while it is stopped, then "
               "kill -CONT");
    hh_kill(p, SIGUSR1);
    hh_kill(p, SIGQUIT);
    hh_kill(p, SIGCONT);
    hh_expect_line(p, "^tid [0-9]+: got signal (3|10) ", 3000);
    hh_expect_line(p, "^tid [0-9]+: got signal (3|10) ", 3000);
    HH_CHECK(c, hh_output_has(p, "got signal 3 ") &&
                    hh_output_has(p, "got signal 10 "),
             "want both SIGQUIT and SIGUSR1 reported");
    wait_sigwaiting(p);
    hh_note(c, "harness: kill -INT %d", (int)pid);
    hh_kill(p, SIGINT);
    expect_report(p, SIGINT);
    hh_expect_exit(p, 0, 3000);
}

static void
sigwait_trace(struct hh_ctx *c)
{
    struct hh_spawn opt = {
        .role = "sigwait_thread",
        .trace = "trace=rt_sigprocmask,clone,clone3,rt_sigtimedwait",
        .must_trace = true};
    struct hh_proc *p = hh_startv(c, &opt, "sigwait_thread", NULL);
    pid_t waiter = wait_sigwaiting(p);
    hh_kill(p, SIGUSR1);
    expect_report(p, SIGUSR1);
    hh_stop(p);

    size_t pos = 0;
    HH_CHECK(c, hh_trace_next(p, &pos, "^rt_sigprocmask\\(SIG_BLOCK, \\[INT "
                                       "QUIT USR1 TERM\\]"),
             "no rt_sigprocmask(SIG_BLOCK, [INT QUIT USR1 TERM])");
    HH_CHECK(c, hh_trace_next(p, &pos, "^clone3?\\("),
             "no thread created after the mask was set");
    /* the thread's calls, by its pid column */
    size_t len, off = 0;
    char *text = hh_read_file(c, p->trace_path, &len);
    pid_t pid;
    const char *rest;
    int took = 0;
    while (raw_next(p, text, len, &off, &pid, &rest)) {
        if (strstr(rest, "rt_sigtimedwait(") || strstr(rest, "<... "
                                                             "rt_sigtimedwait"))
            HH_CHECK(c, pid == waiter, "rt_sigtimedwait called by %d, not "
                     "the signal thread %d", (int)pid, (int)waiter);
        if (pid == waiter && strstr(rest, "rt_sigtimedwait") &&
            (strstr(rest, "= 10 (SIGUSR1)") || strstr(rest, "= 15 (SIGTERM)")))
            took++;
    }
    HH_CHECK(c, took == 2, "want the thread's rt_sigtimedwait to return "
             "SIGUSR1 then SIGTERM, strace shows %d", took);
    hh_note(c, "strace: main blocked the set before clone3; only thread %d "
               "called rt_sigtimedwait, which returned 10 and 15", (int)waiter);
}

/* A signal sent the moment main says the set is blocked, before it
 * creates the thread (or just after): it waits, pending, for sigwait, and
 * is reported.  (/proc's SigBlk would be an earlier cue, but under
 * valgrind it shows valgrind's own mask, not the program's.) */
static void
regress_14_5_mask_first(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "sigwait_thread", "sigwait_thread", NULL);
    hh_expect_line(p, "^main: pid [0-9]+, .* blocked; starting the signal "
                      "thread$", 3000);
    pid_t pid = program_pid(p);
    hh_kill(p, SIGUSR1);
    hh_note(c, "harness: kill -USR1 %d at once, without waiting for the "
               "thread", (int)pid);
    expect_report(p, SIGUSR1);
    wait_sigwaiting(p);
    hh_stop(p);
}

/* ---- the table --------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"deadlock_hangs", "14-1",
     "two threads, two mutexes, opposite orders: a deadlock",
     "main holds a and asks for b, the thread holds b and asks for a; "
     "/proc shows both asleep in futex, for good: only a kill ends it.",
     0, deadlock_hangs},
    {"deadlock_futex_trace", "14-1",
     "the deadlock in strace: two FUTEX_WAITs that never return",
     "an uncontended lock is a user-space compare-and-swap; only the wait "
     "enters the kernel, as FUTEX_WAIT on the mutex's address.",
     HH_NEED_STRACE, deadlock_futex_trace},
    {"deadlock_ordered", "14-1",
     "one lock order for both threads (-o): no deadlock, exit 0",
     "both take a, then b: the second waits for a, then runs; the holds "
     "follow each other, so the run takes twice the hold.",
     0, deadlock_ordered},
    {"fork_lock_stuck", "14-3",
     "fork while a thread holds a mutex: the child's copy is locked for ever",
     "the child sleeps in futex, and the thread's unlock in the parent "
     "does not reach it; the parent's deadline ends it: killed by signal "
     "9, exit 1.",
     0, fork_lock_stuck},
    {"fork_lock_atfork", "14-3",
     "pthread_atfork (-a): fork waits for the mutex, the child gets it",
     "the prepare handler locks the mutex before fork, so the child is "
     "born with an unlocked one; it all takes about the hold.",
     0, fork_lock_atfork},
    {"sigwait_reports", "14-5",
     "a signal thread: sigwait reports SIGUSR1 and SIGQUIT with its tid",
     "the reporting thread is the one /proc shows in rt_sigtimedwait, not "
     "main; SIGQUIT is only a line, no core dump; SIGTERM: exit 0.",
     0, sigwait_reports},
    {"sigwait_masks", "14-5",
     "every thread blocks the set: the mask was set before the thread",
     "stopped, both threads' SigBlk hold QUIT USR1 TERM INT; two signals "
     "pending at once are taken one by one, none delivered.",
     0, sigwait_masks},
    {"sigwait_trace", "14-5",
     "sigwait in strace: rt_sigprocmask before clone3, rt_sigtimedwait",
     "only the signal thread calls rt_sigtimedwait; it returns the signal "
     "number, no handler runs.",
     HH_NEED_STRACE, sigwait_trace},
    {"regress_14_3_own_mutex_only", "14-3",
     "nobody unlocks a mutex another thread locked",
     "the book's parent unlocks the thread's mutex; this mutex is "
     "error-checking, so that would be EPERM and exit 1.",
     HH_REGRESSION, regress_14_3_own_mutex_only},
    {"regress_14_3_deadline", "14-3",
     "the parent waits for its stuck child with a deadline",
     "the book's parent waits for ever; here rt_sigtimedwait times out, "
     "then kill(SIGKILL) and wait4.",
     HH_REGRESSION | HH_NEED_STRACE, regress_14_3_deadline},
    {"regress_14_5_mask_first", "14-5",
     "a signal sent before the thread waits is kept pending, not fatal",
     "the set is blocked before the thread exists, so an early SIGUSR1 "
     "waits for sigwait instead of killing the process.",
     HH_REGRESSION, regress_14_5_mask_first},
};

static const struct hh_program programs[] = {
    {.name = "mutex_deadlock", .listing = "14-1",
     .syscalls = "trace=futex,clone,clone3",
     .flags = HH_PROG_DIES_OF_TERM, /* its default run never ends */
     .args = HH_ARGS_HELP,
     HH_ROWS({{"x", NULL}, 2, HH_USAGE},
             {{"-t", "x", NULL}, 2, "HOLD 'x': not a duration"},
             {{"-t", "-1", NULL}, 2, "HOLD '-1': not a duration"},
             {{"-t", "2000000", NULL}, 2, "HOLD '2000000': out of range"},
             {{"-o", "-t", "", NULL}, 2, "HOLD: empty"})},
    {.name = "fork_with_lock", .listing = "14-3",
     .syscalls = "trace=futex,clone,clone3,rt_sigtimedwait,kill,wait4",
     .args = HH_ARGS_HELP,
     HH_ROWS({{"x", NULL}, 2, HH_USAGE},
             {{"-t", "1h", NULL}, 2, "HOLD '1h': not a duration"},
             {{"-a", "-w", "x", NULL}, 2, "WAIT 'x': not a duration"},
             {{"-w", "1.0005", NULL}, 2, "WAIT '1.0005': finer than"})},
    {.name = "sigwait_thread", .listing = "14-5",
     .syscalls = "trace=rt_sigprocmask,clone,clone3,rt_sigtimedwait",
     .args = HH_ARGS_HELP,
     HH_ROWS({{"x", NULL}, 2, HH_USAGE})},
};

static const struct hh_chapter chapter = {
    .name = "ch14-thread",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
