/*
 * thread_pool.c - Listing 15-3: a pool of worker threads over a bounded
 * job queue (the interface, its queue and stop semantics, and how it
 * differs from the printed listing: thread_pool.h).
 */
#define _GNU_SOURCE /* pthread_attr_setsigmask_np */
#include "thread_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "../ch14-thread/locker.h"

struct tp_job {
    void (*fn)(void *arg);
    void *arg;
};

struct tp_pool {
    struct lk_mutex lock;    /* everything below but threads */
    struct lk_cond nonempty; /* a job was queued, or stop was set */
    struct tp_job *ring;     /* cap slots, allocated once */
    size_t cap, head, len;   /* the queue: len jobs from ring[head] */
    bool stop;               /* tp_destroy has begun */
    int nthreads;            /* workers started (and not yet joined) */
    pthread_t *threads;      /* written by the creating thread only */
};

/* A worker's result, for pthread_join: 0 or an error number. */
static void *
result(int err)
{
    return (void *)(intptr_t)err;
}

/*
 * Take jobs from the head of the queue and run them, outside the lock,
 * until the pool stops and the queue is empty: the drain tp_destroy
 * promises.  A locker error (only a bug makes one) ends this worker and
 * is its result; tp_destroy returns it.
 */
static void *
worker(void *arg)
{
    struct tp_pool *p = arg;
    int rc = lk_mutex_lock(&p->lock);

    if (rc != 0)
        return result(rc);
    for (;;) {
        /* The predicate is read under the lock, so neither a job nor the
         * stop can come between the test and the wait unseen. */
        while (p->len == 0 && !p->stop) {
            rc = lk_cond_wait(&p->nonempty, &p->lock);
            if (rc != 0) {
                lk_mutex_unlock(&p->lock); /* if it is held at all */
                return result(rc);
            }
        }
        if (p->len == 0)
            break; /* stopped, and nothing left to run */
        struct tp_job job = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        rc = lk_mutex_unlock(&p->lock);
        if (rc != 0)
            return result(rc);
        job.fn(job.arg);
        rc = lk_mutex_lock(&p->lock);
        if (rc != 0)
            return result(rc);
    }
    return result(lk_mutex_unlock(&p->lock));
}

/*
 * Set stop under the lock, wake every worker, join each one started.
 * Returns the first error: of the lock or the broadcast (then nothing was
 * joined: a worker that cannot be told to stop would be waited for ever,
 * and the pool must not be freed under it), else of a join or a worker.
 */
static int
stop_and_join(struct tp_pool *p, bool *joined)
{
    int rc, first = 0;

    *joined = false;
    rc = lk_mutex_lock(&p->lock);
    if (rc != 0)
        return rc;
    p->stop = true;
    rc = lk_cond_broadcast(&p->nonempty);
    int rc2 = lk_mutex_unlock(&p->lock);
    if (rc != 0 || rc2 != 0)
        return rc != 0 ? rc : rc2;

    for (int i = 0; i < p->nthreads; i++) {
        void *ret = NULL;
        rc = pthread_join(p->threads[i], &ret);
        if (first == 0)
            first = rc != 0 ? rc : (int)(intptr_t)ret;
    }
    p->nthreads = 0;
    *joined = true;
    return first;
}

/* Free what tp_create made (every worker joined); returns the first
 * error of the destroys. */
static int
free_pool(struct tp_pool *p)
{
    int rc = lk_cond_destroy(&p->nonempty);
    int rc2 = lk_mutex_destroy(&p->lock);

    free(p->ring);
    free(p->threads);
    free(p);
    return rc != 0 ? rc : rc2;
}

/* Start the workers, every signal blocked in each (thread_pool.h says
 * why).  On a failure, the ones started so far are in p->nthreads. */
static int
start_workers(struct tp_pool *p, int nthreads)
{
    pthread_attr_t attr;
    sigset_t all;
    int rc = pthread_attr_init(&attr);

    if (rc != 0)
        return rc;
    sigfillset(&all);
    rc = pthread_attr_setsigmask_np(&attr, &all);
    while (rc == 0 && p->nthreads < nthreads) {
        rc = pthread_create(&p->threads[p->nthreads], &attr, worker, p);
        if (rc == 0)
            p->nthreads++;
    }
    int rc2 = pthread_attr_destroy(&attr);
    return rc != 0 ? rc : rc2;
}

int
tp_create(struct tp_pool **poolp, int nthreads, int max_requests)
{
    struct tp_pool *p;
    bool joined;
    int rc;

    if (nthreads == 0)
        nthreads = TP_DEFAULT_THREADS;
    if (max_requests == 0)
        max_requests = TP_DEFAULT_REQUESTS;
    if (nthreads < 1 || nthreads > TP_MAX_THREADS || max_requests < 1 ||
        max_requests > TP_MAX_REQUESTS)
        return EINVAL;

    p = calloc(1, sizeof *p);
    if (p == NULL)
        return ENOMEM;
    p->cap = (size_t)max_requests;
    p->ring = calloc(p->cap, sizeof *p->ring);
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    if (p->ring == NULL || p->threads == NULL) {
        rc = ENOMEM;
        goto free_mem;
    }
    rc = lk_mutex_init(&p->lock);
    if (rc != 0)
        goto free_mem;
    rc = lk_cond_init(&p->nonempty);
    if (rc != 0) {
        lk_mutex_destroy(&p->lock);
        goto free_mem;
    }

    rc = start_workers(p, nthreads);
    if (rc != 0) {
        /* The workers started so far are asleep on the empty queue (or
         * about to be): stop and join them before the pool goes.  Their
         * own errors matter less than the one being returned. */
        stop_and_join(p, &joined);
        if (joined)
            free_pool(p);
        return rc;
    }
    *poolp = p;
    return 0;

free_mem:
    free(p->ring);
    free(p->threads);
    free(p);
    return rc;
}

int
tp_append(struct tp_pool *p, void (*fn)(void *arg), void *arg)
{
    int rc, rc2;

    if (fn == NULL)
        return EINVAL;
    rc = lk_mutex_lock(&p->lock);
    if (rc != 0)
        return rc;
    if (p->stop) {
        rc = ECANCELED;
    } else if (p->len == p->cap) {
        rc = EAGAIN; /* exactly max_requests waiting: no more */
    } else {
        /* Signal first: if it fails the job is not queued, and the error
         * says so.  No worker can look before the unlock anyway. */
        rc = lk_cond_signal(&p->nonempty);
        if (rc == 0) {
            p->ring[(p->head + p->len) % p->cap] = (struct tp_job){fn, arg};
            p->len++;
        }
    }
    rc2 = lk_mutex_unlock(&p->lock);
    return rc != 0 ? rc : rc2;
}

int
tp_destroy(struct tp_pool *p)
{
    bool joined;
    int rc;

    /* Called from a job, it would wait for its own thread, then free the
     * pool under it: refuse, before anything changes. */
    for (int i = 0; i < p->nthreads; i++)
        if (pthread_equal(p->threads[i], pthread_self()))
            return EDEADLK;
    rc = stop_and_join(p, &joined);
    if (!joined)
        return rc; /* workers may still run: the pool must stay */
    int rc2 = free_pool(p);
    return rc != 0 ? rc : rc2;
}
