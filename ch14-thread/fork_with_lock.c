/*
 * fork_with_lock.c - Listing 14-3: fork while another thread holds a
 * mutex, and the child inherits the mutex locked.
 *
 * Usage:   fork_with_lock [-a] [-t HOLD] [-w WAIT]
 *
 * Shows:   a thread locks a mutex and holds it for HOLD (default 5s).
 *          While it does, main forks, and the child asks for the mutex.
 *          fork copies the memory, so the child's mutex is locked too,
 *          but only the calling thread is copied: the owner does not exist
 *          in the child, and nothing will ever unlock the child's copy.
 *          The child sleeps for ever; the thread's unlock in the parent,
 *          HOLD later, changes nothing for it.  The parent waits WAIT
 *          (default HOLD + 1 s) for the child, then kills it and says so:
 *          "child PID killed by signal 9", exit 1.
 *          -a registers pthread_atfork handlers: "prepare" locks the mutex
 *          before fork, so fork waits until the thread lets go of it; the
 *          parent's handler unlocks it, the child's gives the child an
 *          unlocked mutex.  The child then gets the lock, says so, and
 *          exits 0; so does the parent, after about HOLD in all.
 *
 * Look at: without -a, /proc/CHILD/syscall starts with 202 (SYS_futex) and
 *          /proc/CHILD/stat says S: the child is asleep on the copy of the
 *          lock.  `strace -f -e trace=futex,clone,clone3,wait4` shows the
 *          child's FUTEX_WAIT that never returns; with -a, the parent's
 *          FUTEX_WAIT in the prepare handler, before the clone of fork.
 *
 * Peer:    none (its own child).
 *
 * Differs from the printed listing:
 *  - the book's parent unlocks the mutex the thread locked, which is
 *    undefined; here nobody unlocks a mutex it does not own, and the mutex
 *    is PTHREAD_MUTEX_ERRORCHECK, so such an unlock would fail with EPERM
 *    and end the program (every pthread result is checked);
 *  - the atfork child handler does not unlock: glibc's error-checking
 *    mutex records its owner by thread id, and the child's one thread has
 *    a new id, so that unlock fails with EPERM (measured here, glibc
 *    2.36).  The child is single-threaded, so it simply initializes the
 *    mutex again, as glibc's own malloc does with its locks in a child;
 *  - the parent waits for the child with a deadline (sigtimedwait on a
 *    blocked SIGCHLD; the book waits for ever), then kills and reaps it;
 *    the child dies with its parent (PR_SET_PDEATHSIG), so a parent that
 *    fails after fork leaves nothing behind;
 *  - main forks as soon as the thread holds the mutex (a semaphore says
 *    so; the book sleeps 1 s and hopes); the thread returns a value and is
 *    joined; HOLD and WAIT are options; <sys/wait.h>, not <wait.h>;
 *  - the pthread_atfork call, commented out in the book, is -a.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-a] [-t HOLD] [-w WAIT]";
static const char HELP[] =
    "A thread holds a mutex for HOLD; meanwhile main forks and the child\n"
    "asks for the mutex.  Without -a the child's copy is locked for ever:\n"
    "after WAIT the parent kills the child (exit 1).  With -a,\n"
    "pthread_atfork handlers make fork wait for the mutex: the child gets\n"
    "it (exit 0).\n"
    "  -a       register the pthread_atfork handlers\n"
    "  -t HOLD  how long the thread holds the mutex: 250ms, 2s, 1.5\n"
    "           (default 5s)\n"
    "  -w WAIT  how long the parent waits for the child (default HOLD + 1s)\n";

enum { DEFAULT_HOLD_MS = 5000, MAX_MS = 3600 * 1000, WAIT_MARGIN_MS = 1000 };

static pthread_mutex_t mutex;
static pthread_mutexattr_t mutex_attr; /* PTHREAD_MUTEX_ERRORCHECK */
static sem_t thread_holds;             /* posted once the thread has it */
static long long hold_ms = DEFAULT_HOLD_MS;

static void
check(int err, const char *what)
{
    if (err)
        hp_die_en(err, "%s", what);
}

static void
sleep_ms(long long ms)
{
    struct timespec left = {.tv_sec = ms / 1000,
                            .tv_nsec = ms % 1000 * 1000000L};
    while (nanosleep(&left, &left) < 0)
        if (errno != EINTR)
            hp_die("nanosleep");
}

static void *
holder(void *arg)
{
    (void)arg;
    check(pthread_mutex_lock(&mutex), "thread: pthread_mutex_lock");
    printf("thread: locked the mutex, holding it for %lld ms\n", hold_ms);
    if (sem_post(&thread_holds) < 0)
        hp_die("sem_post");
    sleep_ms(hold_ms);
    /* said before the unlock: once it is free, -a's fork may start, and a
     * fork in the middle of this printf would leave the child's stdout
     * lock held */
    printf("thread: unlocking the mutex\n");
    check(pthread_mutex_unlock(&mutex), "thread: pthread_mutex_unlock");
    return NULL;
}

/* ---- the pthread_atfork handlers (-a) ---------------------------------- */

/* In the parent, before fork: wait for the mutex, so that no other thread
 * holds it at the moment of the copy. */
static void
prepare(void)
{
    check(pthread_mutex_lock(&mutex), "prepare: pthread_mutex_lock");
}

/* In the parent, after fork: it locked in prepare, it unlocks. */
static void
parent_after(void)
{
    check(pthread_mutex_unlock(&mutex), "parent: pthread_mutex_unlock");
}

/* In the child, after fork: the mutex is locked by a thread id that is
 * not the child's (an unlock would be EPERM); the child has one thread, so
 * a fresh mutex is safe. */
static void
child_after(void)
{
    int err = pthread_mutex_init(&mutex, &mutex_attr);
    check(err, "child: pthread_mutex_init");
}

/*
 * ThreadSanitizer builds only (make VARIANT=tsan): a forked child inherits
 * TSan's record of the parent's threads.  With -a the holder has often
 * returned by the time fork does, and the child, which has no such thread
 * and cannot join it, is reported for a "thread leak" at its _exit.  The
 * parent joins it, so nothing leaks: that one report is suppressed, for
 * the threads this file creates.
 */
#if defined(__SANITIZE_THREAD__)
#define FWL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FWL_TSAN 1
#endif
#endif
#ifdef FWL_TSAN
const char *__tsan_default_suppressions(void);
const char *
__tsan_default_suppressions(void)
{
    return "thread:ch14-thread/fork_with_lock.c\n";
}
#endif

/* ---- parent and child -------------------------------------------------- */

static void
child(pid_t parent)
{
    /* killed if the parent dies first: a parent that fails after fork
     * (exit 1 on any error) must not leave this child asleep on the lock
     * for ever */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        hp_die_child("prctl PR_SET_PDEATHSIG");
    if (getppid() != parent)
        _exit(1);
    printf("child %d: asking for the mutex\n", (int)getpid());
    int err = pthread_mutex_lock(&mutex);
    if (err) {
        errno = err;
        hp_die_child("child: pthread_mutex_lock");
    }
    printf("child %d: got the mutex\n", (int)getpid());
    err = pthread_mutex_unlock(&mutex);
    if (err) {
        errno = err;
        hp_die_child("child: pthread_mutex_unlock");
    }
    fflush(stdout);
    _exit(0);
}

/* Wait up to WAIT_MS for a SIGCHLD (blocked in every thread since main
 * started): 1 if one came, 0 at the deadline. */
static int
await_child(long long wait_ms)
{
    sigset_t chld;
    struct timespec now, end;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += wait_ms / 1000;
    end.tv_nsec += wait_ms % 1000 * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        struct timespec left = {.tv_sec = end.tv_sec - now.tv_sec,
                                .tv_nsec = end.tv_nsec - now.tv_nsec};
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        if (left.tv_sec < 0)
            return 0;
        if (sigtimedwait(&chld, NULL, &left) == SIGCHLD)
            return 1;
        if (errno == EAGAIN)
            return 0;
        if (errno != EINTR)
            hp_die("sigtimedwait");
    }
}

int
main(int argc, char **argv)
{
    int opt, use_atfork = 0;
    long long wait_ms = -1;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hat:w:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'a':
            use_atfork = 1;
            break;
        case 't':
            hold_ms = hp_parse_duration(optarg, 0, MAX_MS, "HOLD");
            break;
        case 'w':
            wait_ms = hp_parse_duration(optarg, 0, MAX_MS, "WAIT");
            break;
        default:
            hp_usage(2);
        }
    }
    if (optind != argc)
        hp_usage(2);
    if (wait_ms < 0)
        wait_ms = hold_ms + WAIT_MARGIN_MS;

    /* SIGCHLD blocked before the thread starts, so it stays pending for
     * main's sigtimedwait instead of going to either thread */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    check(pthread_sigmask(SIG_BLOCK, &chld, NULL), "pthread_sigmask");

    check(pthread_mutexattr_init(&mutex_attr), "pthread_mutexattr_init");
    check(pthread_mutexattr_settype(&mutex_attr, PTHREAD_MUTEX_ERRORCHECK),
          "pthread_mutexattr_settype");
    check(pthread_mutex_init(&mutex, &mutex_attr), "pthread_mutex_init");
    if (sem_init(&thread_holds, 0, 0) < 0)
        hp_die("sem_init");
    if (use_atfork)
        check(pthread_atfork(prepare, parent_after, child_after),
              "pthread_atfork");

    pthread_t tid;
    check(pthread_create(&tid, NULL, holder, NULL), "pthread_create");
    while (sem_wait(&thread_holds) < 0)
        if (errno != EINTR)
            hp_die("sem_wait");

    printf("main: forking while the thread holds the mutex%s\n",
           use_atfork ? " (atfork handlers registered)" : "");
    fflush(stdout);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0)
        hp_die("fork");
    if (pid == 0)
        child(parent);

    int status, failed = 0;
    if (!await_child(wait_ms)) {
        printf("parent: child %d still waits for the mutex after %lld ms: "
               "killing it\n", (int)pid, wait_ms);
        if (kill(pid, SIGKILL) < 0)
            hp_die("kill %d", (int)pid);
    }
    if (waitpid(pid, &status, 0) < 0)
        hp_die("waitpid %d", (int)pid);
    if (WIFSIGNALED(status)) {
        printf("parent: child %d killed by signal %d (SIG%s)\n", (int)pid,
               WTERMSIG(status), sigabbrev_np(WTERMSIG(status)));
        failed = 1;
    } else {
        printf("parent: child %d exited %d\n", (int)pid,
               WEXITSTATUS(status));
        failed = WEXITSTATUS(status) != 0;
    }

    check(pthread_join(tid, NULL), "pthread_join");
    if (failed)
        hp_warnx("the child never got the mutex");
    check(pthread_mutex_destroy(&mutex), "pthread_mutex_destroy");
    check(pthread_mutexattr_destroy(&mutex_attr), "pthread_mutexattr_destroy");
    if (sem_destroy(&thread_holds) < 0)
        hp_die("sem_destroy");
    return failed;
}
