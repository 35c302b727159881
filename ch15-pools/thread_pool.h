/*
 * thread_pool.h - Listing 15-3: a pool of worker threads that run jobs
 * from a bounded queue, built on the 14-2 locker (ch14-thread/locker.h).
 * The web server (15-6) hands it each connection whose request has arrived.
 *
 * A job is a function and its argument.  tp_append puts one at the tail
 * of the queue and wakes a worker; a worker takes jobs from the head, in
 * order, and runs each outside the lock, so N jobs run at once at most.
 * The queue holds at most max_requests jobs not yet taken by a worker:
 * an append that finds it full is refused with EAGAIN, and the job is
 * the caller's to run, drop or retry (the web server answers "busy").
 *
 * The queue and a stop flag live under one mutex; the workers sleep on a
 * condition variable until there is a job or the pool stops:
 *
 *     while (queue empty && !stop)  lk_cond_wait(&nonempty, &lock);
 *
 * so a job appended before a worker sleeps is seen, and tp_destroy's one
 * broadcast wakes every sleeper.  (The book's semaphore counts jobs, but
 * cannot tell N sleepers to stop without N posts.)
 *
 * tp_destroy drains: it sets stop under the lock and wakes every worker;
 * the workers run the jobs still queued, then exit, and tp_destroy joins
 * each of them before it frees the pool.  So every job tp_append accepted
 * runs exactly once, and its argument is never left for the caller to
 * find and free.  Jobs appended once stop is set (a job that appends
 * while the pool is being destroyed) are refused with ECANCELED.  A job
 * that must not wait for the drain checks a flag of its own.
 *
 * The workers run with every signal blocked: a signal sent to the process
 * goes to a thread of the caller's, which is then woken in epoll_wait or
 * sigwait as it expects, never to a worker that would run its handler and
 * leave the main loop asleep.
 *
 * Every function returns 0 or an error number (from pthread or the
 * locker, as is); none prints or exits.  tp_destroy must not be called
 * from a job (it would wait for its own thread), nor twice; nothing may
 * use the pool once it has returned.
 *
 * Differs from the printed listing:
 * - the workers are joined: the book detaches them, never wakes them and
 *   never joins them, so they go on using a pool its destructor has
 *   freed.  tp_destroy returns only when no worker is left (after it,
 *   /proc/self/task counts the threads there were before tp_create);
 * - the stop flag is read and written under the queue's mutex; the
 *   book's is a plain bool, set in the destructor after the thread array
 *   has already been deleted;
 * - the bound is exact: the book refuses only when the queue is already
 *   longer than max_requests, so it reaches max+1.  Here the queue is a
 *   ring of exactly max_requests slots, allocated once: append never
 *   allocates, never fails for lack of memory;
 * - a pthread_create that fails midway stops and joins the workers
 *   already started and returns its error (EAGAIN ...); the book throws
 *   from the constructor, and the threads it started run on an object
 *   that is being destroyed;
 * - the number of threads is bounded (TP_MAX_THREADS) and 0 means the
 *   default, as does a max_requests of 0; errors are numbers, not
 *   exceptions;
 * - C, not C++: a job is a function and a void * argument, where the
 *   book's template calls T::process() on a pointer.
 */
#ifndef HPSP_THREAD_POOL_H
#define HPSP_THREAD_POOL_H

/* Defaults (the book's) and bounds of tp_create's arguments. */
#define TP_DEFAULT_THREADS 8
#define TP_MAX_THREADS 256
#define TP_DEFAULT_REQUESTS 10000
#define TP_MAX_REQUESTS (1 << 20)

struct tp_pool;

/*
 * Start NTHREADS workers (0: TP_DEFAULT_THREADS) over a queue of at most
 * MAX_REQUESTS jobs (0: TP_DEFAULT_REQUESTS), and put the pool in *POOLP.
 * EINVAL for a count out of range, ENOMEM, or pthread_create's error
 * (EAGAIN): then no worker is left running and *POOLP is not changed.
 */
int tp_create(struct tp_pool **poolp, int nthreads, int max_requests);

/*
 * Queue FN(ARG) for a worker.  EAGAIN when the queue holds MAX_REQUESTS
 * jobs (it did not take this one), ECANCELED once tp_destroy has begun,
 * EINVAL for a null FN.
 */
int tp_append(struct tp_pool *pool, void (*fn)(void *arg), void *arg);

/*
 * Run the jobs still queued, stop and join every worker, free the pool.
 * Returns 0, or the first error a worker or the teardown met (the pool
 * is freed all the same).
 */
int tp_destroy(struct tp_pool *pool);

#endif
