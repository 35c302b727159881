/*
 * locker.h - Listing 14-2: a semaphore, a mutex and a condition variable
 * for threads, the locks chapter 15's thread pool and web server use.
 *
 * Each is a struct over the POSIX object, with init and destroy calls in
 * place of the book's constructor and destructor.  Every function returns
 * 0 or an error number, as the pthread calls do (the semaphore calls turn
 * sem_*'s -1 and errno into that); none prints or exits: the caller
 * decides what a failure means.  The structs are plain members, so a
 * caller embeds them where the data they protect lives.
 *
 * The condition variable is used with the caller's mutex, around a
 * predicate the mutex protects, always in a loop (a wakeup may be
 * spurious, or another thread may have taken what it announced):
 *
 *     lk_mutex_lock(&q->lock);
 *     while (q->len == 0)
 *         lk_cond_wait(&q->nonempty, &q->lock);
 *     ... take an item ...
 *     lk_mutex_unlock(&q->lock);
 *
 * and whoever makes the predicate true does so holding the same mutex,
 * then signals.  A signal that comes before the wait is then never lost:
 * the waiter sees the predicate true and does not wait at all, and a
 * signaller cannot slip between the waiter's test and its wait.
 *
 * Differs from the printed listing:
 * - the book's condition class owns a mutex of its own and locks it only
 *   around pthread_cond_wait, so the caller's predicate is unprotected and
 *   a signal sent before the wait (or between the test and the wait) is
 *   lost: the waiter sleeps for ever.  lk_cond_wait takes the caller's
 *   mutex instead, and there is a broadcast;
 * - the mutex is PTHREAD_MUTEX_ERRORCHECK: locking it twice from one
 *   thread is EDEADLK and unlocking one the caller does not hold is EPERM,
 *   not a silent deadlock or undefined behaviour;
 * - lk_sem_wait retries when a signal handler interrupts it (EINTR): it
 *   returns 0 only once it has taken a unit;
 * - the semaphore's initial value is an argument (the book's is always 0);
 * - failures are error numbers, where the book's calls return a bool
 *   (the reason lost) and its constructors throw;
 * - C, not C++: structs and functions, named after this file.
 */
#ifndef HPSP_LOCKER_H
#define HPSP_LOCKER_H

#include <pthread.h>
#include <semaphore.h>

/* A counting semaphore shared by the threads of one process. */
struct lk_sem {
    sem_t sem;
};

/* VALUE units to start with; EINVAL above SEM_VALUE_MAX. */
int lk_sem_init(struct lk_sem *s, unsigned int value);
/* Take a unit, sleeping until there is one; a signal does not end it. */
int lk_sem_wait(struct lk_sem *s);
/* Give a unit back, waking one waiter; EOVERFLOW at SEM_VALUE_MAX. */
int lk_sem_post(struct lk_sem *s);
/* No thread may be waiting on it. */
int lk_sem_destroy(struct lk_sem *s);

/* An error-checking mutex. */
struct lk_mutex {
    pthread_mutex_t mutex;
};

int lk_mutex_init(struct lk_mutex *m);
/* EDEADLK if the caller holds it already. */
int lk_mutex_lock(struct lk_mutex *m);
/* EPERM if the caller does not hold it. */
int lk_mutex_unlock(struct lk_mutex *m);
/* EBUSY while it is locked. */
int lk_mutex_destroy(struct lk_mutex *m);

/* A condition variable, waited on with the caller's mutex (see above). */
struct lk_cond {
    pthread_cond_t cond;
};

int lk_cond_init(struct lk_cond *c);
/* With M held by the caller: release it and sleep until signalled, then
 * take it again before returning.  EPERM if the caller does not hold M. */
int lk_cond_wait(struct lk_cond *c, struct lk_mutex *m);
/* Wake one waiter (none waiting: nothing happens, nothing is kept). */
int lk_cond_signal(struct lk_cond *c);
/* Wake every waiter. */
int lk_cond_broadcast(struct lk_cond *c);
/* No thread may be waiting on it. */
int lk_cond_destroy(struct lk_cond *c);

#endif
