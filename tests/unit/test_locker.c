/*
 * test_locker.c - unit tests of the locker module (ch14-thread/locker.c,
 * listing 14-2): semaphore, error-checking mutex, condition variable.
 *
 * What can wait for ever when the module is wrong (lk_sem_wait,
 * lk_cond_wait, a relock that a plain mutex would deadlock on) runs in a
 * child made by the harness's hh_fork, which the test waits for with a
 * deadline: a lost wakeup is a child that does not exit in time, never a
 * hung test.  Inside the child every thread is joined with a deadline
 * too, so the report names the one that is stuck.  The child prints what
 * happened; the test compares that with what must happen.
 *
 * Two tests run threads in the test process itself: the model of the
 * book's condition class (its waits have a deadline), and the EINTR retry
 * of lk_sem_wait, whose waiter must be seen asleep in the kernel through
 * /proc/self/task before the signal is sent to it.
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

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
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

#include "../../ch14-thread/locker.h"
#include "harness.h"
#include "thread_check.h"

/* How long a child may take, and inside it a thread (both stretched by
 * the harness under valgrind and the sanitizers).  Generous: only a
 * broken module gets near them. */
#define CHILD_MS 12000
#define JOIN_MS 8000
/* How long the book's condition class is given to see a signal it lost:
 * it never comes, so any wait shows it. */
#define LOST_MS 100

/*
 * ThreadSanitizer reports a misused mutex even when the misuse is the
 * point of the test and the error-checking mutex refuses it (EPERM,
 * EDEADLK, EBUSY).  Its mutex reports are suppressed in functions named
 * misuse_*, and nowhere else.
 */
const char *__tsan_default_suppressions(void);
const char *
__tsan_default_suppressions(void)
{
    return "mutex:misuse_\n";
}

/* ------------------------------------------------------------------------
 * Helpers (the rest are in thread_check.h)
 */

static pthread_t
start_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);

    if (rc != 0)
        child_fail("pthread_create: %s", errname(rc));
    return t;
}

/* In a child: join thread T, called WHO, by DEADLINE (see realtime_in). */
static void
join_by(pthread_t t, const char *who, const struct timespec *deadline)
{
    int rc = pthread_timedjoin_np(t, NULL, deadline);

    if (rc == ETIMEDOUT)
        child_fail("%s still blocked after %d ms: a wakeup was lost", who,
                   hh_ms(hc, JOIN_MS));
    if (rc != 0)
        child_fail("join %s: %s", who, errname(rc));
}

/* ------------------------------------------------------------------------
 * Semaphores: a bounded buffer between two producers and two consumers
 */

enum { ITEMS = 100000, SLOTS = 8, PAIRS = 2, PER_THREAD = ITEMS / PAIRS };

static struct {
    struct lk_sem free_slots; /* a unit per empty slot */
    struct lk_sem filled;     /* a unit per item in the ring */
    struct lk_mutex lock;     /* the ring and its indexes */
    unsigned ring[SLOTS];
    unsigned head, tail;
} bb;

/* How many times each item was taken; items that do not exist. */
static atomic_uint taken[ITEMS];
static atomic_uint unknown;

static void *
producer(void *arg)
{
    unsigned first = (unsigned)(uintptr_t)arg * PER_THREAD;

    for (unsigned i = 0; i < PER_THREAD; i++) {
        MUST(lk_sem_wait(&bb.free_slots));
        MUST(lk_mutex_lock(&bb.lock));
        bb.ring[bb.tail] = first + i;
        bb.tail = (bb.tail + 1) % SLOTS;
        MUST(lk_mutex_unlock(&bb.lock));
        MUST(lk_sem_post(&bb.filled));
    }
    return NULL;
}

static void *
consumer(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        MUST(lk_sem_wait(&bb.filled));
        MUST(lk_mutex_lock(&bb.lock));
        unsigned item = bb.ring[bb.head];
        bb.head = (bb.head + 1) % SLOTS;
        MUST(lk_mutex_unlock(&bb.lock));
        MUST(lk_sem_post(&bb.free_slots));
        if (item < ITEMS)
            atomic_fetch_add(&taken[item], 1);
        else
            atomic_fetch_add(&unknown, 1);
    }
    return NULL;
}

static void
bounded_buffer_child(const void *arg)
{
    pthread_t prod[PAIRS], cons[PAIRS];
    unsigned once = 0, never = 0, more = 0;
    int free_left, filled_left;

    (void)arg;
    MUST(lk_sem_init(&bb.free_slots, SLOTS));
    MUST(lk_sem_init(&bb.filled, 0));
    MUST(lk_mutex_init(&bb.lock));
    /* consumers first: they wait on an empty ring before anything comes */
    for (uintptr_t k = 0; k < PAIRS; k++)
        cons[k] = start_thread(consumer, NULL);
    for (uintptr_t k = 0; k < PAIRS; k++)
        prod[k] = start_thread(producer, (void *)k);
    struct timespec deadline = realtime_in(hh_ms(hc, JOIN_MS));
    for (int k = 0; k < PAIRS; k++) {
        join_by(prod[k], "a producer", &deadline);
        join_by(cons[k], "a consumer", &deadline);
    }
    for (unsigned i = 0; i < ITEMS; i++) {
        unsigned n = atomic_load(&taken[i]);
        once += n == 1;
        never += n == 0;
        more += n > 1;
    }
    sem_getvalue(&bb.free_slots.sem, &free_left);
    sem_getvalue(&bb.filled.sem, &filled_left);
    printf("%d items: %u taken once, %u never, %u more than once, "
           "%u unknown\n",
           ITEMS, once, never, more, atomic_load(&unknown));
    printf("then: %d free slots, %d filled\n", free_left, filled_left);
    MUST(lk_mutex_destroy(&bb.lock));
    MUST(lk_sem_destroy(&bb.filled));
    MUST(lk_sem_destroy(&bb.free_slots));
}

/* 10^5 items through an 8-slot ring guarded by the two semaphores and the
 * mutex: each taken exactly once, and both counts back where they began. */
static void
test_sem_producer_consumer(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "bounded buffer", bounded_buffer_child,
              "100000 items: 100000 taken once, 0 never, 0 more than once, "
              "0 unknown\n"
              "then: 8 free slots, 0 filled\n");
}

/* ------------------------------------------------------------------------
 * Condition variables: a wakeup that comes before the wait
 */

/* A predicate, the mutex that protects it and the condition announcing
 * it, as a caller of the module has them. */
static struct {
    struct lk_mutex lock;
    struct lk_cond changed;
    int ready;           /* the predicate, under lock */
    int waits;           /* lk_cond_wait calls the waiter made */
    pthread_t signaller; /* started by the waiter (second ordering) */
} cw;

static void *
cw_signaller(void *arg)
{
    (void)arg;
    MUST(lk_mutex_lock(&cw.lock));
    cw.ready = 1;
    MUST(lk_cond_signal(&cw.changed));
    MUST(lk_mutex_unlock(&cw.lock));
    return NULL;
}

/* The module's usage: the predicate tested under the mutex, in a loop. */
static void
cw_wait_for_ready(void)
{
    while (!cw.ready) {
        cw.waits++;
        MUST(lk_cond_wait(&cw.changed, &cw.lock));
    }
}

static void *
cw_waiter(void *arg)
{
    (void)arg;
    MUST(lk_mutex_lock(&cw.lock));
    cw_wait_for_ready();
    MUST(lk_mutex_unlock(&cw.lock));
    return NULL;
}

/* Tests the predicate (false), and only then starts the signaller: the
 * signal is due exactly between the test and the wait. */
static void *
cw_waiter_starting_signaller(void *arg)
{
    (void)arg;
    MUST(lk_mutex_lock(&cw.lock));
    if (cw.ready)
        child_fail("ready before the signaller started");
    cw.signaller = start_thread(cw_signaller, NULL);
    cw_wait_for_ready();
    MUST(lk_mutex_unlock(&cw.lock));
    return NULL;
}

static void
cond_window_child(const void *arg)
{
    struct timespec deadline;
    pthread_t w;

    (void)arg;
    MUST(lk_mutex_init(&cw.lock));
    MUST(lk_cond_init(&cw.changed));

    /* 1. The signaller runs to its end before the waiter even starts. */
    w = start_thread(cw_signaller, NULL);
    deadline = realtime_in(hh_ms(hc, JOIN_MS));
    join_by(w, "the signaller", &deadline);
    w = start_thread(cw_waiter, NULL);
    deadline = realtime_in(hh_ms(hc, JOIN_MS));
    join_by(w, "the waiter", &deadline);
    printf("signal before the waiter starts: it returns after %d waits\n",
           cw.waits);

    /* 2. The signal is sent between the waiter's test and its wait: the
     * signaller needs the mutex, which the waiter holds until
     * lk_cond_wait releases it, so it can only signal a waiting thread. */
    cw.ready = 0;
    cw.waits = 0;
    w = start_thread(cw_waiter_starting_signaller, NULL);
    deadline = realtime_in(hh_ms(hc, JOIN_MS));
    join_by(w, "the waiter", &deadline);
    join_by(cw.signaller, "the signaller", &deadline);
    printf("signal between the waiter's test and its wait: %s\n",
           cw.waits >= 1 ? "it waits, and is woken" : "it never waits");

    MUST(lk_cond_destroy(&cw.changed));
    MUST(lk_mutex_destroy(&cw.lock));
}

/* The port's wait, with the caller's mutex around a predicate, loses no
 * wakeup: neither when the signal comes before the wait, nor when it is
 * sent between the waiter's test and its wait. */
static void
test_cond_signal_before_wait(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "condition waiter", cond_window_child,
              "signal before the waiter starts: it returns after 0 waits\n"
              "signal between the waiter's test and its wait: it waits, and "
              "is woken\n");
}

/*
 * The book's condition class, modelled in C to show its flaw: it owns a
 * mutex and locks it only around pthread_cond_wait, and its signal wakes
 * whoever waits at that moment.  The caller's predicate has no mutex.
 * The model's wait has a deadline (the book's has none), so the lost
 * wakeup shows as ETIMEDOUT instead of a thread asleep for ever.
 */
struct book_cond {
    pthread_mutex_t own;
    pthread_cond_t cond;
};

static int
book_wait(struct book_cond *bc, int ms)
{
    struct timespec deadline = realtime_in(ms);

    pthread_mutex_lock(&bc->own);
    int rc = pthread_cond_timedwait(&bc->cond, &bc->own, &deadline);
    pthread_mutex_unlock(&bc->own);
    return rc;
}

static struct book_cond book = {PTHREAD_MUTEX_INITIALIZER,
                                PTHREAD_COND_INITIALIZER};
static int book_ready; /* the caller's predicate, with no mutex */

static void *
book_signaller(void *arg)
{
    (void)arg;
    book_ready = 1;
    pthread_cond_signal(&book.cond);
    return NULL;
}

/* Run the signaller to its end: create, join. */
static void
book_signal_now(void)
{
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, book_signaller, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* The same two orderings with the book's design: both wakeups are lost
 * (with the class's wait as the book has it, both threads would sleep for
 * ever).  This is why lk_cond_wait takes the caller's mutex. */
static void
test_book_cond_loses_wakeup(void **state)
{
    (void)state;

    /* 1. A bare wait, all the class offers, after the signal. */
    book_ready = 0;
    book_signal_now();
    assert_int_equal(book_wait(&book, LOST_MS), ETIMEDOUT);

    /* 2. With a predicate, which no mutex of the caller's protects: the
     * test, then the whole signaller, then the wait it did not see. */
    book_ready = 0;
    assert_false(book_ready);
    book_signal_now();
    assert_int_equal(book_wait(&book, LOST_MS), ETIMEDOUT);
    assert_true(book_ready); /* what it waited for had happened */
}

/* ------------------------------------------------------------------------
 * Condition variables: many handovers, and a broadcast
 */

enum { TURNS = 10000, WAITERS = 4 };

static struct {
    struct lk_mutex lock;
    struct lk_cond turn_changed;
    int turn;      /* 0 or 1: whose turn it is */
    int played[2]; /* turns each player took */
} pp;

/* Player K waits for its turn, hands it over, TURNS times: a lost wakeup
 * leaves both asleep. */
static void *
player(void *arg)
{
    int k = (int)(intptr_t)arg;

    for (int i = 0; i < TURNS; i++) {
        MUST(lk_mutex_lock(&pp.lock));
        while (pp.turn != k)
            MUST(lk_cond_wait(&pp.turn_changed, &pp.lock));
        pp.turn = !k;
        pp.played[k]++;
        MUST(lk_cond_signal(&pp.turn_changed));
        MUST(lk_mutex_unlock(&pp.lock));
    }
    return NULL;
}

static void
ping_pong_child(const void *arg)
{
    pthread_t t[2];

    (void)arg;
    MUST(lk_mutex_init(&pp.lock));
    MUST(lk_cond_init(&pp.turn_changed));
    for (intptr_t k = 0; k < 2; k++)
        t[k] = start_thread(player, (void *)k);
    struct timespec deadline = realtime_in(hh_ms(hc, JOIN_MS));
    join_by(t[0], "player 0", &deadline);
    join_by(t[1], "player 1", &deadline);
    printf("turns: %d and %d\n", pp.played[0], pp.played[1]);
    MUST(lk_cond_destroy(&pp.turn_changed));
    MUST(lk_mutex_destroy(&pp.lock));
}

/* Two threads take turns 2 x 10^4 times through one condition variable,
 * the signal often coming before the other thread waits. */
static void
test_cond_ping_pong(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "ping-pong", ping_pong_child,
              "turns: 10000 and 10000\n");
}

static struct {
    struct lk_mutex lock;
    struct lk_cond go_changed; /* go became 1 */
    struct lk_cond arrived;    /* one more waiter is about to wait */
    int waiting;               /* waiters past their arrival */
    int go;
    int woken;
} bc;

static void *
broadcast_waiter(void *arg)
{
    (void)arg;
    MUST(lk_mutex_lock(&bc.lock));
    bc.waiting++;
    MUST(lk_cond_signal(&bc.arrived));
    /* From here to the wait the mutex stays held: once the main thread
     * sees them all arrived, they all wait in lk_cond_wait. */
    while (!bc.go)
        MUST(lk_cond_wait(&bc.go_changed, &bc.lock));
    bc.woken++;
    MUST(lk_mutex_unlock(&bc.lock));
    return NULL;
}

static void
broadcast_child(const void *arg)
{
    pthread_t t[WAITERS];

    (void)arg;
    MUST(lk_mutex_init(&bc.lock));
    MUST(lk_cond_init(&bc.go_changed));
    MUST(lk_cond_init(&bc.arrived));
    for (int k = 0; k < WAITERS; k++)
        t[k] = start_thread(broadcast_waiter, NULL);
    MUST(lk_mutex_lock(&bc.lock));
    while (bc.waiting < WAITERS)
        MUST(lk_cond_wait(&bc.arrived, &bc.lock));
    bc.go = 1;
    MUST(lk_cond_broadcast(&bc.go_changed));
    MUST(lk_mutex_unlock(&bc.lock));
    struct timespec deadline = realtime_in(hh_ms(hc, JOIN_MS));
    for (int k = 0; k < WAITERS; k++)
        join_by(t[k], "a waiter", &deadline);
    printf("broadcast to %d waiters: %d woken\n", WAITERS, bc.woken);
    MUST(lk_cond_destroy(&bc.arrived));
    MUST(lk_cond_destroy(&bc.go_changed));
    MUST(lk_mutex_destroy(&bc.lock));
}

/* One broadcast wakes every thread waiting at that moment (a signal would
 * wake one, and leave three asleep). */
static void
test_cond_broadcast_wakes_all(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "broadcast", broadcast_child,
              "broadcast to 4 waiters: 4 woken\n");
}

/* ------------------------------------------------------------------------
 * Error numbers
 */

static struct lk_mutex em;
static int other_unlock_rc;

static void *
misuse_unlock_from_other_thread(void *arg)
{
    (void)arg;
    other_unlock_rc = lk_mutex_unlock(&em);
    return NULL;
}

/* Each misuse of the mutex is refused with the error number pthread
 * gives, returned as is.  Run in a child: with a plain mutex instead of
 * an error-checking one, the relock would deadlock. */
static void
misuse_mutex_child(const void *arg)
{
    struct lk_cond c;
    struct timespec deadline;

    (void)arg;
    MUST(lk_mutex_init(&em));
    MUST(lk_cond_init(&c));
    printf("unlock, not locked: %s\n", errname(lk_mutex_unlock(&em)));
    printf("cond wait, mutex not held: %s\n", errname(lk_cond_wait(&c, &em)));

    MUST(lk_mutex_lock(&em));
    printf("lock, held by the caller: %s\n", errname(lk_mutex_lock(&em)));
    pthread_t t = start_thread(misuse_unlock_from_other_thread, NULL);
    deadline = realtime_in(hh_ms(hc, JOIN_MS));
    join_by(t, "the other thread", &deadline);
    printf("unlock, held by another thread: %s\n", errname(other_unlock_rc));
    printf("destroy, locked: %s\n", errname(lk_mutex_destroy(&em)));
    /* refused, so unchanged: still held, and the owner's calls work */
    MUST(lk_mutex_unlock(&em));
    MUST(lk_mutex_destroy(&em));
    MUST(lk_cond_destroy(&c));
}

static void
test_mutex_errors(void **state)
{
    (void)state;
    run_child(hc, CHILD_MS, "mutex misuse", misuse_mutex_child,
              "unlock, not locked: EPERM\n"
              "cond wait, mutex not held: EPERM\n"
              "lock, held by the caller: EDEADLK\n"
              "unlock, held by another thread: EPERM\n"
              "destroy, locked: EBUSY\n");
}

_Static_assert(SEM_VALUE_MAX < UINT_MAX, "a value above SEM_VALUE_MAX exists");

/* sem_* report -1 and errno; the module returns the error number. */
static void
test_sem_errors(void **state)
{
    struct lk_sem s;
    int value;

    (void)state;
    assert_int_equal(lk_sem_init(&s, (unsigned)SEM_VALUE_MAX + 1), EINVAL);

    assert_int_equal(lk_sem_init(&s, 3), 0);
    assert_int_equal(sem_getvalue(&s.sem, &value), 0);
    assert_int_equal(value, 3);
    assert_int_equal(lk_sem_destroy(&s), 0);

    assert_int_equal(lk_sem_init(&s, SEM_VALUE_MAX), 0);
    assert_int_equal(lk_sem_post(&s), EOVERFLOW);
    assert_int_equal(sem_getvalue(&s.sem, &value), 0);
    assert_int_equal(value, SEM_VALUE_MAX);
    assert_int_equal(lk_sem_destroy(&s), 0);
}

/* ------------------------------------------------------------------------
 * lk_sem_wait and a signal: EINTR is retried
 */

/* Static: a waiter the test gives up on stays asleep on memory that
 * outlives the test. */
static struct lk_sem intr_sem;
static atomic_int intr_tid;      /* the waiter's thread id, set just before
                                    it waits */
static atomic_int intr_hits;     /* runs of the SIGUSR1 handler */
static atomic_int intr_returned; /* its wait returned */
static int intr_rc, intr_errno;  /* what it returned (once intr_returned) */

static void
on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&intr_hits, 1);
}

/* The control: sem_wait itself, which reports EINTR. */
static void *
raw_waiter(void *arg)
{
    (void)arg;
    atomic_store(&intr_tid, (int)gettid());
    intr_rc = sem_wait(&intr_sem.sem);
    intr_errno = intr_rc != 0 ? errno : 0;
    atomic_store(&intr_returned, 1);
    return NULL;
}

static void *
module_waiter(void *arg)
{
    (void)arg;
    atomic_store(&intr_tid, (int)gettid());
    intr_rc = lk_sem_wait(&intr_sem);
    atomic_store(&intr_returned, 1);
    return NULL;
}

/* Whether the waiter sleeps in futex(2), as sem_wait does. */
static bool
waiter_asleep(void)
{
    int tid = atomic_load(&intr_tid);

    return tid != 0 && asleep_in_futex(tid);
}

static bool
waiter_returned(void)
{
    return atomic_load(&intr_returned);
}

/* After the second signal: the waiter gave up, or it is asleep again. */
static bool
waiter_returned_or_asleep_again(void)
{
    return waiter_returned() ||
           (atomic_load(&intr_hits) == 2 && waiter_asleep());
}

/* Look, in 1 ms windows, until COND holds or MS (stretched) pass. */
static bool
wait_for(bool (*cond)(void), int ms)
{
    long long deadline = hh_now_ms() + hh_ms(hc, ms);

    for (;;) {
        if (cond())
            return true;
        if (hh_now_ms() >= deadline)
            return false;
        hh_observe(hc, 1);
    }
}

static pthread_t
start_intr_waiter(void *(*fn)(void *))
{
    pthread_t t;

    atomic_store(&intr_tid, 0);
    atomic_store(&intr_returned, 0);
    assert_int_equal(pthread_create(&t, NULL, fn, NULL), 0);
    if (!wait_for(waiter_asleep, JOIN_MS))
        fail_msg("the waiter is not asleep in futex after %d ms",
                 hh_ms(hc, JOIN_MS));
    return t;
}

static void
join_intr_waiter(pthread_t t)
{
    struct timespec deadline = realtime_in(hh_ms(hc, JOIN_MS));
    assert_int_equal(pthread_timedjoin_np(t, NULL, &deadline), 0);
}

/* A signal caught by a handler installed without SA_RESTART, sent to the
 * thread asleep in the semaphore: sem_wait fails with EINTR (the control,
 * which shows the signal does interrupt it), lk_sem_wait goes back to
 * sleep and returns 0 only after a post, having taken that unit. */
static void
test_sem_wait_retries_eintr(void **state)
{
    struct sigaction sa, old;
    pthread_t t;
    int value;

    (void)state;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    atomic_store(&intr_hits, 0);
    assert_int_equal(lk_sem_init(&intr_sem, 0), 0);

    t = start_intr_waiter(raw_waiter);
    assert_int_equal(pthread_kill(t, SIGUSR1), 0);
    if (!wait_for(waiter_returned, JOIN_MS))
        fail_msg("control: sem_wait not interrupted by the signal");
    join_intr_waiter(t);
    assert_int_equal(atomic_load(&intr_hits), 1);
    assert_int_equal(intr_rc, -1);
    assert_string_equal(errname(intr_errno), "EINTR");

    t = start_intr_waiter(module_waiter);
    assert_int_equal(pthread_kill(t, SIGUSR1), 0);
    if (!wait_for(waiter_returned_or_asleep_again, JOIN_MS))
        fail_msg("lk_sem_wait neither returned nor slept again after the "
                 "signal (handler runs: %d)",
                 atomic_load(&intr_hits));
    if (waiter_returned())
        fail_msg("lk_sem_wait returned %s when the signal interrupted it, "
                 "before any post: it must wait again",
                 errname(intr_rc));
    assert_int_equal(lk_sem_post(&intr_sem), 0);
    if (!wait_for(waiter_returned, JOIN_MS))
        fail_msg("lk_sem_wait still asleep after the post");
    join_intr_waiter(t);
    assert_string_equal(errname(intr_rc), "0");
    assert_int_equal(sem_getvalue(&intr_sem.sem, &value), 0);
    assert_int_equal(value, 0); /* it took the unit posted */

    assert_int_equal(lk_sem_destroy(&intr_sem), 0);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
}

/* ------------------------------------------------------------------------ */

#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sem_producer_consumer),
        T(test_cond_signal_before_wait),
        T(test_book_cond_loses_wakeup),
        T(test_cond_ping_pong),
        T(test_cond_broadcast_wakes_all),
        T(test_mutex_errors),
        T(test_sem_errors),
        T(test_sem_wait_retries_eintr),
    };

    return cmocka_run_group_tests_name("locker (listing 14-2)", tests, NULL,
                                       NULL);
}
