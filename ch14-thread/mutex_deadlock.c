/*
 * mutex_deadlock.c - Listing 14-1: two threads, two mutexes, taken in
 * opposite orders: a deadlock.
 *
 * Usage:   mutex_deadlock [-t HOLD] [-o]
 *
 * Shows:   main locks mutex a, a second thread locks mutex b.  Each holds
 *          its mutex for HOLD (default 5s), says so, then asks for the
 *          other one.  Neither can ever get it: both threads sleep for
 *          ever and nothing more is printed.  That hang is the lesson;
 *          end it with ^C or kill.  -o takes the locks in one order in
 *          both threads (a, then b): the second thread waits for a until
 *          main is done with both, then takes them in turn; the program
 *          prints the counters both threads updated and exits 0, after
 *          about twice HOLD.
 *
 * Look at: while it hangs, /proc/PID/task/TID/syscall of each thread
 *          starts with 202, SYS_futex on x86-64, and `ps -L -o
 *          tid,stat,wchan PID` shows both threads asleep (S) in futex.  An
 *          uncontended lock never enters the kernel; only the wait does.
 *          `strace -f -e trace=futex` shows the two FUTEX_WAIT calls that
 *          never return.
 *
 * Peer:    none (the test reads /proc, then kills it).
 *
 * Differs from the printed listing:
 *  - every pthread result is checked (the book checks none), and the
 *    thread is joined;
 *  - the hold time is -t HOLD (the book sleeps 5 s; LISTINGS.md calls it
 *    -h MS, but -h is help in this suite) and takes the suite's duration
 *    syntax;
 *  - a barrier makes both threads hold their first mutex before either
 *    holds it for HOLD, so the deadlock happens every time rather than
 *    when the sleep wins the race (without -o only: with -o the second
 *    thread cannot reach it while main holds a);
 *  - -o, the consistent order that cures it, is new.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-t HOLD] [-o]";
static const char HELP[] =
    "main locks a, a thread locks b; each holds its mutex for HOLD, then\n"
    "asks for the other: a deadlock, for ever (kill it).\n"
    "  -t HOLD  how long each holds its first mutex: 250ms, 2s, 1.5\n"
    "           (default 5s, the book's sleep(5))\n"
    "  -o       one lock order for both (a, then b): no deadlock, exit 0\n";

enum { DEFAULT_HOLD_MS = 5000, MAX_HOLD_MS = 3600 * 1000 };

static pthread_mutex_t mutex_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mutex_b = PTHREAD_MUTEX_INITIALIZER;
static int counter_a; /* guarded by mutex_a */
static int counter_b; /* guarded by mutex_b */

static pthread_barrier_t both_hold; /* without -o: each holds its first */
static long long hold_ms = DEFAULT_HOLD_MS;
static int ordered;

/* One thread's part: the mutex it takes first, and the one it asks for. */
struct side {
    const char *who;
    pthread_mutex_t *first, *second;
    const char *first_name, *second_name;
    int *first_counter, *second_counter;
};

static void
hold(void)
{
    struct timespec left = {.tv_sec = hold_ms / 1000,
                            .tv_nsec = hold_ms % 1000 * 1000000L};
    while (nanosleep(&left, &left) < 0)
        if (errno != EINTR)
            hp_die("nanosleep");
}

static void
lock(pthread_mutex_t *m, const char *who, const char *name)
{
    int err = pthread_mutex_lock(m);
    if (err)
        hp_die_en(err, "%s: pthread_mutex_lock %s", who, name);
}

static void
unlock(pthread_mutex_t *m, const char *who, const char *name)
{
    int err = pthread_mutex_unlock(m);
    if (err)
        hp_die_en(err, "%s: pthread_mutex_unlock %s", who, name);
}

static void
run_side(const struct side *s)
{
    lock(s->first, s->who, s->first_name);
    ++*s->first_counter;
    printf("%s: locked %s, holding it for %lld ms\n", s->who, s->first_name,
           hold_ms);
    if (!ordered) {
        int err = pthread_barrier_wait(&both_hold);
        if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
            hp_die_en(err, "%s: pthread_barrier_wait", s->who);
    }
    hold();
    printf("%s: asking for %s\n", s->who, s->second_name);
    /* without -o, the other thread holds it and asks for ours: no one
     * returns from this call */
    lock(s->second, s->who, s->second_name);
    ++*s->second_counter;
    printf("%s: locked %s too\n", s->who, s->second_name);
    unlock(s->second, s->who, s->second_name);
    unlock(s->first, s->who, s->first_name);
}

static void *
other_thread(void *arg)
{
    run_side(arg);
    return NULL;
}

int
main(int argc, char **argv)
{
    int opt, err;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+ht:o")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 't':
            hold_ms = hp_parse_duration(optarg, 0, MAX_HOLD_MS, "HOLD");
            break;
        case 'o':
            ordered = 1;
            break;
        default:
            hp_usage(2);
        }
    }
    if (optind != argc)
        hp_usage(2);

    struct side main_side = {"main", &mutex_a, &mutex_b, "a", "b",
                             &counter_a, &counter_b};
    /* the book's thread takes b first; -o makes it take a first too */
    struct side thread_side = {"thread", &mutex_b, &mutex_a, "b", "a",
                               &counter_b, &counter_a};
    if (ordered)
        thread_side = (struct side){"thread", &mutex_a, &mutex_b, "a", "b",
                                    &counter_a, &counter_b};
    else if ((err = pthread_barrier_init(&both_hold, NULL, 2)) != 0)
        hp_die_en(err, "pthread_barrier_init");

    pthread_t tid;
    err = pthread_create(&tid, NULL, other_thread, &thread_side);
    if (err)
        hp_die_en(err, "pthread_create");
    run_side(&main_side);
    err = pthread_join(tid, NULL);
    if (err)
        hp_die_en(err, "pthread_join");

    printf("final counters: a=%d b=%d (each thread added 1 to both)\n",
           counter_a, counter_b);
    if (!ordered && (err = pthread_barrier_destroy(&both_hold)) != 0)
        hp_die_en(err, "pthread_barrier_destroy");
    return 0;
}
