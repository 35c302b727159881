/*
 * test_thread_pool.c - unit tests of the thread pool (ch15-pools/
 * thread_pool.c, listing 15-3), over the 14-2 locker.
 *
 * Every test runs in a child made by the harness's hh_fork, which the
 * test waits for with a deadline: a pool that never wakes a worker, or
 * waits for one for ever, is a child that does not exit in time, never a
 * hung test.  The child starts with one thread, so /proc/self/task counts
 * exactly the pool's workers and the test's own helpers.  Inside it every
 * wait has a deadline too; the child prints what happened, and the test
 * compares that with what must happen.
 *
 * What the pool did is seen from outside it: per-job run counters (a job
 * run twice or never shows, where a total could balance out), the thread
 * each job ran on, /proc/self/task, /proc/self/task/TID/status, and every
 * pthread_create and pthread_join the module makes.  The last comes from
 * the linker: the unit is linked with -Wl,--wrap=pthread_create and
 * --wrap=pthread_join (ch15-pools/programs.mk), so the module's calls
 * reach __wrap_pthread_create and __wrap_pthread_join below, which record
 * them and call the real ones, and can make one chosen create fail with
 * EAGAIN: a pthread_create that fails midway, at the call we choose,
 * deterministic.  RLIMIT_NPROC would not do: root (and CAP_SYS_RESOURCE)
 * is exempt from it, it counts every process of the user (other tests
 * running at the same time included), and where the limit falls depends
 * on them.
 */
#define _GNU_SOURCE
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../ch15-pools/thread_pool.h"
#include "harness.h"
#include "thread_check.h"

/* How long a child may take, and inside it any one wait (both stretched
 * by the harness under valgrind and the sanitizers).  Generous: only a
 * broken pool gets near them. */
#define CHILD_MS 15000
#define WAIT_MS 8000

/* ------------------------------------------------------------------------
 * Helpers (the rest are in thread_check.h)
 */

/* ------------------------------------------------------------------------
 * The linker's wraps: every pthread_create and pthread_join (of the
 * module, and of the test: only the child's main thread makes them while
 * recording is on), and a create made to fail
 */

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __real_pthread_join(pthread_t t, void **ret);
int __wrap_pthread_join(pthread_t t, void **ret);

enum { MAX_MADE = TP_MAX_THREADS + 1 };

static struct {
    bool on;     /* record (and fail) while set */
    int fail_at; /* create to fail (EAGAIN), from 0; -1 none */
    int calls;   /* creates asked for while on */
    int made;    /* of them, threads that exist */
    pthread_t thread[MAX_MADE];
    int joined[MAX_MADE]; /* joins of each, that returned 0 */
    int stray_joins;      /* joins of threads not made while on */
} wrap;

static void
wrap_start(int fail_at)
{
    memset(&wrap, 0, sizeof wrap);
    wrap.fail_at = fail_at;
    wrap.on = true;
}

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                      void *(*fn)(void *), void *arg)
{
    if (!wrap.on)
        return __real_pthread_create(t, attr, fn, arg);
    if (wrap.calls++ == wrap.fail_at)
        return EAGAIN; /* what glibc says when the kernel refuses */
    int rc = __real_pthread_create(t, attr, fn, arg);
    if (rc == 0 && wrap.made < MAX_MADE)
        wrap.thread[wrap.made++] = *t;
    return rc;
}

int
__wrap_pthread_join(pthread_t t, void **ret)
{
    int rc = __real_pthread_join(t, ret);

    if (wrap.on && rc == 0) {
        int i = 0;
        while (i < wrap.made && !pthread_equal(wrap.thread[i], t))
            i++;
        if (i < wrap.made)
            wrap.joined[i]++;
        else
            wrap.stray_joins++;
    }
    return rc;
}

/* Of the threads made while recording: how many were joined exactly
 * once; and were there joins of anything else. */
static int
joined_once(void)
{
    int n = 0;

    for (int i = 0; i < wrap.made; i++)
        n += wrap.joined[i] == 1;
    return n;
}

/* ------------------------------------------------------------------------
 * /proc/self/task
 */

enum { MAX_TASKS = 512 };

/* The thread ids of this process into TIDS; returns how many. */
static int
list_tasks(int *tids, int cap)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        child_fail("opendir /proc/self/task: %s", errname(errno));
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && n < cap)
            tids[n++] = atoi(e->d_name);
    closedir(d);
    return n;
}

static int
count_tasks(void)
{
    int tids[MAX_TASKS];
    return list_tasks(tids, MAX_TASKS);
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * Wait until /proc/self/task counts WANT threads, looking in 1 ms windows
 * up to the deadline (as hh_observe does; no event says a thread is gone
 * from the list: pthread_join returns when the kernel has cleared the
 * thread's tid, a moment before it unlists the thread).  Returns the last
 * count seen.
 */
static int
wait_tasks(int want)
{
    long long deadline = hh_now_ms() + hh_ms(hc, WAIT_MS);
    int n;

    while ((n = count_tasks()) != want && hh_now_ms() < deadline)
        sleep_ms(1);
    return n;
}

/*
 * The thread count before a pool: 1 in the child, plus any thread a
 * sanitizer's runtime starts with the first pthread_create (ThreadSanitizer
 * has one): a thread made and joined first brings that one in.
 */
static void *
nothing(void *arg)
{
    return arg;
}

static int
tasks_before(void)
{
    pthread_t t;
    struct timespec deadline = realtime_in(hh_ms(hc, WAIT_MS));

    MUST(pthread_create(&t, NULL, nothing, NULL));
    MUST(pthread_timedjoin_np(t, NULL, &deadline));
    int n = wait_tasks(1);
    if (getenv("HPSP_SANITIZER") == NULL && n != 1)
        child_fail("%d threads in a fresh child, want 1", n);
    return n;
}

/* ------------------------------------------------------------------------
 * Jobs, and what they record
 */

enum { JOBS = 10000 };

struct job {
    int id;
    atomic_int runs; /* times it ran */
    atomic_int tid;  /* the thread it last ran on */
};

static struct job jobs[JOBS + 16];
static atomic_int ran_seq;   /* jobs run so far, in all */
static int order[JOBS + 16]; /* ids in the order they ran */

static void
jobs_reset(void)
{
    for (int i = 0; i < JOBS + 16; i++) {
        jobs[i].id = i;
        atomic_store(&jobs[i].runs, 0);
        atomic_store(&jobs[i].tid, 0);
    }
    atomic_store(&ran_seq, 0);
}

/* The plain job: count the run, note the thread and the order. */
static void
count_job(void *arg)
{
    struct job *j = arg;
    int seq = atomic_fetch_add(&ran_seq, 1);

    if (seq < JOBS + 16)
        order[seq] = j->id;
    atomic_store(&j->tid, (int)gettid());
    atomic_fetch_add(&j->runs, 1);
}

/* Jobs FIRST..LAST-1: how many ran once, never, more than once; how many
 * of those that ran did so on the thread CALLER (the appending one). */
static void
tally(int first, int last, int caller, int *once, int *never, int *more,
      int *on_caller)
{
    *once = *never = *more = *on_caller = 0;
    for (int i = first; i < last; i++) {
        int r = atomic_load(&jobs[i].runs);
        *once += r == 1;
        *never += r == 0;
        *more += r > 1;
        *on_caller += r > 0 && atomic_load(&jobs[i].tid) == caller;
    }
}

/* A gate that jobs wait at, with deadlines, until the test opens it. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int arrived; /* jobs that reached it */
    bool open;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false};

static void
gate_reset(void)
{
    gate.arrived = 0;
    gate.open = false;
}

/* Wait, under the gate's lock, until COND holds; fail at the deadline. */
#define GATE_WAIT(cond, what)                                                  \
    do {                                                                       \
        struct timespec gate_deadline_ = realtime_in(hh_ms(hc, WAIT_MS));      \
        while (!(cond))                                                        \
            if (pthread_cond_timedwait(&gate.changed, &gate.lock,              \
                                       &gate_deadline_) == ETIMEDOUT)          \
                child_fail("%s: not after %d ms", what, hh_ms(hc, WAIT_MS));   \
    } while (0)

/* A job that counts its run, then holds its worker at the gate. */
static void
gated_job(void *arg)
{
    count_job(arg);
    pthread_mutex_lock(&gate.lock);
    gate.arrived++;
    pthread_cond_broadcast(&gate.changed);
    GATE_WAIT(gate.open, "a job at the gate: the gate opened");
    pthread_mutex_unlock(&gate.lock);
}

/* The test waits until N jobs hold their workers at the gate. */
static void
gate_wait_arrived(int n)
{
    pthread_mutex_lock(&gate.lock);
    GATE_WAIT(gate.arrived >= n, "jobs at the gate");
    pthread_mutex_unlock(&gate.lock);
}

static void
gate_open(void)
{
    pthread_mutex_lock(&gate.lock);
    gate.open = true;
    pthread_cond_broadcast(&gate.changed);
    pthread_mutex_unlock(&gate.lock);
}

/* Wait until N jobs in all have run (ran_seq), in 1 ms windows. */
static void
wait_ran(int n)
{
    long long deadline = hh_now_ms() + hh_ms(hc, WAIT_MS);

    while (atomic_load(&ran_seq) < n)
        if (hh_now_ms() >= deadline)
            child_fail("%d jobs run after %d ms, want %d",
                       atomic_load(&ran_seq), hh_ms(hc, WAIT_MS), n);
        else
            sleep_ms(1);
}

/* ------------------------------------------------------------------------
 * 10^4 jobs, each run exactly once, by a worker
 */

static void
run_once_child(const void *arg)
{
    struct tp_pool *pool;
    int refused = 0, once, never, more, on_caller;

    (void)arg;
    jobs_reset();
    MUST(tp_create(&pool, 8, JOBS));
    for (int i = 0; i < JOBS; i++)
        refused += tp_append(pool, count_job, &jobs[i]) != 0;
    MUST(tp_destroy(pool));
    /* after destroy: every job accepted has run, none is still running */
    tally(0, JOBS, (int)gettid(), &once, &never, &more, &on_caller);
    printf("%d jobs: %d refused; %d run once, %d never, %d more than once; "
           "%d on the appending thread\n",
           JOBS, refused, once, never, more, on_caller);
}

/* 10^4 jobs through 8 workers and a queue of 10^4 (never full): each runs
 * exactly once, on a worker, and all have run when tp_destroy returns. */
static void
test_jobs_run_exactly_once(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "10^4 jobs", run_once_child,
              "10000 jobs: 0 refused; 10000 run once, 0 never, 0 more than "
              "once; 0 on the appending thread\n");
}

/* ------------------------------------------------------------------------
 * The queue's bound is exact
 */

/* With WORKERS workers held at the gate, fill a queue of MAX (0: the
 * default, left to tp_create): report the appends taken before the first
 * refusal, and what that one and the next returned; then open the gate
 * and see which jobs ran. */
static void
fill_queue(int workers, int max)
{
    struct tp_pool *pool;
    int accepted = 0, rc = 0, once, never, more, on_caller;

    jobs_reset();
    gate_reset();
    MUST(tp_create(&pool, workers, max));
    for (int i = 0; i < workers; i++)
        MUST(tp_append(pool, gated_job, &jobs[i]));
    gate_wait_arrived(workers); /* every worker busy, the queue empty */

    int id = workers;
    for (;;) {
        if (id >= JOBS + 13)
            child_fail("%d appends taken by a queue of %d", accepted, max);
        rc = tp_append(pool, count_job, &jobs[id]);
        if (rc != 0)
            break;
        accepted++;
        id++;
    }
    int first_refused = id; /* its job, and the next, must never run */
    int rc2 = tp_append(pool, count_job, &jobs[first_refused + 1]);
    printf("queue of %d, workers held: %d; %d appends taken, then %s, %s\n",
           max ? max : TP_DEFAULT_REQUESTS, workers, accepted, errname(rc),
           errname(rc2));

    gate_open();
    wait_ran(workers + accepted);
    /* the queue drained: room again */
    printf("once drained, append: %s\n",
           errname(tp_append(pool, count_job, &jobs[first_refused + 2])));
    MUST(tp_destroy(pool));
    tally(0, first_refused, (int)gettid(), &once, &never, &more, &on_caller);
    printf("taken: %d run once, %d never, %d more\n", once, never, more);
    tally(first_refused, first_refused + 2, 0, &once, &never, &more,
          &on_caller);
    printf("refused: %d run\n", once + more);
}

static void
bound_small_child(const void *arg)
{
    (void)arg;
    fill_queue(2, 5);
}

static void
bound_default_child(const void *arg)
{
    (void)arg;
    fill_queue(1, 0);
}

/* Workers held at a gate, so the queue only fills: with max_requests 5,
 * five appends are taken and the sixth and seventh refused with EAGAIN
 * (the book's check takes a sixth); the refused jobs never run, the taken
 * ones all do, and a drained queue takes jobs again.  Then the same with
 * the default bound, 10000. */
static void
test_queue_bound_is_exact(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "queue of 5", bound_small_child,
              "queue of 5, workers held: 2; 5 appends taken, then EAGAIN, "
              "EAGAIN\n"
              "once drained, append: 0\n"
              "taken: 7 run once, 0 never, 0 more\n"
              "refused: 0 run\n");
    run_child(hc, CHILD_MS, "default queue", bound_default_child,
              "queue of 10000, workers held: 1; 10000 appends taken, then "
              "EAGAIN, EAGAIN\n"
              "once drained, append: 0\n"
              "taken: 10001 run once, 0 never, 0 more\n"
              "refused: 0 run\n");
}

/* ------------------------------------------------------------------------
 * tp_destroy wakes and joins every worker
 */

/* Whether every signal a process is sent on purpose is blocked in task
 * TID (/proc/self/task/TID/status, SigBlk: a hex mask, bit N-1 for N). */
static bool
blocks_signals(int tid)
{
    static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGUSR1,
                               SIGUSR2, SIGCHLD, SIGPIPE, SIGALRM};
    char buf[4096];
    unsigned long long mask;

    if (!read_task(tid, "status", buf, sizeof buf))
        return false;
    const char *line = strstr(buf, "\nSigBlk:");
    if (line == NULL || sscanf(line, "\nSigBlk: %llx", &mask) != 1)
        return false;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (!(mask >> (sigs[i] - 1) & 1))
            return false;
    return true;
}

static void
joins_child(const void *arg)
{
    struct tp_pool *pool;
    int old[MAX_TASKS], now[MAX_TASKS];

    (void)arg;
    int before = tasks_before();
    int nold = list_tasks(old, MAX_TASKS);

    wrap_start(-1);
    MUST(tp_create(&pool, 8, 0));
    /* The workers: the tasks that are new.  Their masks are read once
     * they sleep in their wait: a thread starts with every signal blocked
     * and sets its own mask only then (pthread_create), so a mask read
     * earlier says nothing. */
    int nnow = list_tasks(now, MAX_TASKS), nworkers = 0;
    for (int i = 0; i < nnow; i++) {
        bool known = false;
        for (int k = 0; k < nold; k++)
            known = known || now[i] == old[k];
        if (!known)
            now[nworkers++] = now[i];
    }
    long long deadline = hh_now_ms() + hh_ms(hc, WAIT_MS);
    for (int i = 0; i < nworkers; i++)
        while (!asleep_in_futex(now[i]))
            if (hh_now_ms() >= deadline)
                child_fail("worker %d not asleep in futex after %d ms", now[i],
                           hh_ms(hc, WAIT_MS));
            else
                sleep_ms(1);
    int blocking = 0;
    for (int i = 0; i < nworkers; i++)
        blocking += blocks_signals(now[i]);
    printf("pool of 8: %d threads made, %d more tasks, %d of them with "
           "every signal blocked\n",
           wrap.made, nnow - before, blocking);
    MUST(tp_destroy(pool));
    /* right after: what destroy joined, then the kernel's own list */
    printf("after destroy: %d joined once, %d other joins\n", joined_once(),
           wrap.stray_joins);
    wrap.on = false;
    printf("tasks: %+d from before the pool\n", wait_tasks(before) - before);
}

/* An idle pool of 8: tp_create starts 8 threads, each with the signals a
 * process is sent blocked (a SIGTERM goes to the caller's thread, whose
 * loop expects it); tp_destroy wakes all 8 from their wait and joins each
 * exactly once, and /proc/self/task is back to the count before the pool
 * (1, the child's main thread, in a plain build). */
static void
test_destroy_joins_every_worker(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "joins", joins_child,
              "pool of 8: 8 threads made, 8 more tasks, 8 of them with "
              "every signal blocked\n"
              "after destroy: 8 joined once, 0 other joins\n"
              "tasks: +0 from before the pool\n");
}

/* ------------------------------------------------------------------------
 * tp_destroy with jobs still queued runs them, then joins
 */

enum { QUEUED = 100 };

static struct tp_pool *drain_pool;
static atomic_int append_in_destroy = -1; /* what a job's append returned */
static atomic_int opened_by;              /* 1: main seen in destroy; 2:
                                             deadline passed */

/* The first job: held at the gate until the test is inside tp_destroy;
 * then, while the pool is stopping, it tries to append one more job. */
static void
first_drain_job(void *arg)
{
    gated_job(arg);
    atomic_store(&append_in_destroy,
                 tp_append(drain_pool, count_job, &jobs[QUEUED]));
}

/* Whether the main thread (tid = pid) sleeps in futex(2).  In
 * tp_destroy that is the join of the worker held at the gate. */
static bool
main_asleep_in_futex(void)
{
    return asleep_in_futex((int)getpid());
}

/* Opens the gate once the main thread is asleep inside tp_destroy (or at
 * the deadline, so that a pool that never waits is seen, not hung). */
static void *
opener(void *arg)
{
    long long deadline = hh_now_ms() + hh_ms(hc, WAIT_MS);

    (void)arg;
    gate_wait_arrived(1);
    while (!main_asleep_in_futex() && hh_now_ms() < deadline)
        sleep_ms(1);
    atomic_store(&opened_by, main_asleep_in_futex() ? 1 : 2);
    gate_open();
    return NULL;
}

static void
drain_child(const void *arg)
{
    pthread_t t;
    int once, never, more, on_caller, in_order = 0;

    (void)arg;
    jobs_reset();
    gate_reset();
    MUST(tp_create(&drain_pool, 1, 0));
    MUST(tp_append(drain_pool, first_drain_job, &jobs[0]));
    for (int i = 1; i < QUEUED; i++)
        MUST(tp_append(drain_pool, count_job, &jobs[i]));
    MUST(pthread_create(&t, NULL, opener, NULL));
    MUST(tp_destroy(drain_pool)); /* 99 jobs queued, one at the gate */
    /* read at once: a destroy that did not wait shows here */
    tally(0, QUEUED, (int)gettid(), &once, &never, &more, &on_caller);
    int ran = atomic_load(&ran_seq);
    for (int i = 0; i < ran && i < QUEUED; i++)
        in_order += order[i] == i;
    struct timespec deadline = realtime_in(hh_ms(hc, WAIT_MS));
    MUST(pthread_timedjoin_np(t, NULL, &deadline));
    printf("gate opened %s\n", atomic_load(&opened_by) == 1
                                   ? "with the caller asleep in tp_destroy"
                                   : "at the deadline: tp_destroy never "
                                     "waited");
    printf("when tp_destroy returned: %d of %d run once, %d never, %d more; "
           "%d in append order\n",
           once, QUEUED, never, more, in_order);
    printf("append from a job during destroy: %s; that job ran %d times\n",
           errname(atomic_load(&append_in_destroy)),
           atomic_load(&jobs[QUEUED].runs));
}

/* One worker held at a gate, 99 jobs queued behind it, then tp_destroy:
 * the gate opens only once the caller sleeps inside it.  The queued jobs
 * all run, in order, before it returns (the documented drain), and a job
 * that appends while the pool stops is refused with ECANCELED. */
static void
test_destroy_runs_queued_jobs(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "drain", drain_child,
              "gate opened with the caller asleep in tp_destroy\n"
              "when tp_destroy returned: 100 of 100 run once, 0 never, 0 "
              "more; 100 in append order\n"
              "append from a job during destroy: ECANCELED; that job ran 0 "
              "times\n");
}

/* ------------------------------------------------------------------------
 * A pthread_create that fails midway
 */

static void
create_fails_child(const void *arg)
{
    static const int fail_at[] = {0, 1, 4, 7};

    (void)arg;
    int before = tasks_before();
    for (size_t k = 0; k < sizeof fail_at / sizeof fail_at[0]; k++) {
        struct tp_pool *pool = (struct tp_pool *)&pool; /* a sentinel */
        wrap_start(fail_at[k]);
        int rc = tp_create(&pool, 8, 0);
        int made = wrap.made, joined = joined_once(), stray = wrap.stray_joins;
        wrap.on = false;
        printf("create %d of 8 fails: tp_create %s, pool %s; %d made, %d "
               "joined once, %d other joins; tasks %+d\n",
               fail_at[k] + 1, errname(rc),
               pool == (struct tp_pool *)&pool ? "untouched" : "written", made,
               joined, stray, wait_tasks(before) - before);
    }
}

/* The 1st, 2nd, 5th and 8th pthread_create of a pool of 8 fail with
 * EAGAIN (the linker's wrap): tp_create returns EAGAIN and no pool, and
 * every worker it had started is joined; /proc/self/task is back to the
 * count before. */
static void
test_create_fails_midway(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "failed create", create_fails_child,
              "create 1 of 8 fails: tp_create EAGAIN, pool untouched; 0 "
              "made, 0 joined once, 0 other joins; tasks +0\n"
              "create 2 of 8 fails: tp_create EAGAIN, pool untouched; 1 "
              "made, 1 joined once, 0 other joins; tasks +0\n"
              "create 5 of 8 fails: tp_create EAGAIN, pool untouched; 4 "
              "made, 4 joined once, 0 other joins; tasks +0\n"
              "create 8 of 8 fails: tp_create EAGAIN, pool untouched; 7 "
              "made, 7 joined once, 0 other joins; tasks +0\n");
}

/* ------------------------------------------------------------------------
 * Arguments, and tp_destroy from a job
 */

static struct tp_pool *self_pool;
static atomic_int destroy_in_job = -1;

static void
destroy_self_job(void *arg)
{
    count_job(arg);
    atomic_store(&destroy_in_job, tp_destroy(self_pool));
}

static void
arguments_child(const void *arg)
{
    static const int bad[][2] = {
        {-1, 0}, {TP_MAX_THREADS + 1, 0}, {1, -1}, {1, TP_MAX_REQUESTS + 1}};
    struct tp_pool *pool;

    (void)arg;
    wrap_start(-1);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        printf("tp_create(%d, %d): %s\n", bad[k][0], bad[k][1],
               errname(tp_create(&pool, bad[k][0], bad[k][1])));
    printf("threads made: %d\n", wrap.made);

    jobs_reset();
    MUST(tp_create(&pool, 0, 0));
    printf("defaults: %d threads\n", wrap.made);
    printf("append of a null function: %s\n",
           errname(tp_append(pool, NULL, NULL)));
    MUST(tp_destroy(pool));

    self_pool = NULL;
    MUST(tp_create(&self_pool, 2, 1));
    MUST(tp_append(self_pool, destroy_self_job, &jobs[0]));
    wait_ran(1);
    MUST(tp_destroy(self_pool));
    printf("tp_destroy from a job: %s\n",
           errname(atomic_load(&destroy_in_job)));
    wrap.on = false;
}

/* Counts out of range are EINVAL with no thread started; 0 means the
 * defaults (8 threads); a null job is EINVAL; tp_destroy called from a
 * job, which would wait for its own thread, is refused with EDEADLK and
 * the pool stays usable for its owner's destroy. */
static void
test_arguments(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "arguments", arguments_child,
              "tp_create(-1, 0): EINVAL\n"
              "tp_create(257, 0): EINVAL\n"
              "tp_create(1, -1): EINVAL\n"
              "tp_create(1, 1048577): EINVAL\n"
              "threads made: 0\n"
              "defaults: 8 threads\n"
              "append of a null function: EINVAL\n"
              "tp_destroy from a job: EDEADLK\n");
}

/* ------------------------------------------------------------------------ */

#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_jobs_run_exactly_once),      T(test_queue_bound_is_exact),
        T(test_destroy_joins_every_worker), T(test_destroy_runs_queued_jobs),
        T(test_create_fails_midway),        T(test_arguments),
    };

    return cmocka_run_group_tests_name("thread pool (listing 15-3)", tests,
                                       NULL, NULL);
}
