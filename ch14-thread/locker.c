/*
 * locker.c - Listing 14-2: semaphore, mutex and condition variable (the
 * interface and how it differs from the printed listing: locker.h).
 *
 * The pthread calls already return an error number; only the semaphore
 * calls report through -1 and errno, which is turned into one here.
 */
#include "locker.h"

#include <errno.h>

int
lk_sem_init(struct lk_sem *s, unsigned int value)
{
    /* pshared 0: shared between the threads of this process only */
    return sem_init(&s->sem, 0, value) == 0 ? 0 : errno;
}

int
lk_sem_wait(struct lk_sem *s)
{
    /* A signal caught by a handler installed without SA_RESTART ends
     * sem_wait with EINTR (signal(7)); no unit was taken: wait again. */
    while (sem_wait(&s->sem) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

int
lk_sem_post(struct lk_sem *s)
{
    return sem_post(&s->sem) == 0 ? 0 : errno;
}

int
lk_sem_destroy(struct lk_sem *s)
{
    return sem_destroy(&s->sem) == 0 ? 0 : errno;
}

int
lk_mutex_init(struct lk_mutex *m)
{
    pthread_mutexattr_t attr;
    int err = pthread_mutexattr_init(&attr);

    if (err != 0)
        return err;
    /* Misuse (relock, unlock by a non-owner) becomes an error number
     * instead of a deadlock or undefined behaviour. */
    err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    if (err == 0)
        err = pthread_mutex_init(&m->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    return err;
}

int
lk_mutex_lock(struct lk_mutex *m)
{
    return pthread_mutex_lock(&m->mutex);
}

int
lk_mutex_unlock(struct lk_mutex *m)
{
    return pthread_mutex_unlock(&m->mutex);
}

int
lk_mutex_destroy(struct lk_mutex *m)
{
    return pthread_mutex_destroy(&m->mutex);
}

int
lk_cond_init(struct lk_cond *c)
{
    return pthread_cond_init(&c->cond, NULL);
}

int
lk_cond_wait(struct lk_cond *c, struct lk_mutex *m)
{
    /* The caller's mutex, which protects its predicate: released and
     * the wait begun as one step, so no signal falls in between. */
    return pthread_cond_wait(&c->cond, &m->mutex);
}

int
lk_cond_signal(struct lk_cond *c)
{
    return pthread_cond_signal(&c->cond);
}

int
lk_cond_broadcast(struct lk_cond *c)
{
    return pthread_cond_broadcast(&c->cond);
}

int
lk_cond_destroy(struct lk_cond *c)
{
    return pthread_cond_destroy(&c->cond);
}
