/*
 * thread_check.h - what the unit tests of threaded modules (the 14-2
 * locker, the 15-3 thread pool) share.
 *
 * A test that could wait for ever if the module were wrong runs its
 * threads in a child (hh_fork) that the test waits for with a deadline;
 * inside, every join and wait has a deadline too, so a failure names the
 * thread that was stuck.  The child prints what happened and the test
 * compares it with what it wants, byte for byte.
 */
#ifndef HPSP_THREAD_CHECK_H
#define HPSP_THREAD_CHECK_H

#include "harness.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The harness's context of the running test (its children): made by
 * unit_setup, ended by unit_teardown, cmocka's setup and teardown of every
 * test. */
extern struct hh_ctx *hc;
int unit_setup(void **state);
int unit_teardown(void **state);

/* "EPERM" for EPERM, "0" for 0, the number for anything else. */
const char *errname(int err);

/* In a child, any thread: say why on stderr and end the child (_exit 1).
 * What it printed so far goes first, so the test shows how far it got. */
HH_NORETURN HH_PRINTF(1, 2) void child_fail(const char *fmt, ...);

/* In a child: CALL, which returns 0 or an error number, must return 0. */
#define MUST(call)                                                             \
    do {                                                                       \
        int must_rc_ = (call);                                                 \
        if (must_rc_ != 0)                                                     \
            child_fail("%s: %s", #call, errname(must_rc_));                    \
    } while (0)

/* MS from now on CLOCK_REALTIME, the clock of pthread_timedjoin_np and of
 * a default pthread_cond_timedwait (the caller stretches MS with hh_ms). */
struct timespec realtime_in(int ms);

/* Run BODY in a child of C (hh_fork), called ROLE, and wait for it at most
 * CHILD_MS (stretched); it must exit 0 having printed exactly WANT, or the
 * cmocka test fails with its stdout and stderr. */
void run_child(struct hh_ctx *c, int child_ms, const char *role,
               void (*body)(const void *arg), const char *want);

/* A line of /proc/self/task/TID/FILE into BUF; false if unreadable. */
bool read_task(int tid, const char *file, char *buf, size_t cap);

/* Whether thread TID sleeps in futex(2), as a thread waiting on a mutex,
 * a semaphore, a condition variable or in pthread_join does: state S in
 * its stat, futex the system call it is in. */
bool asleep_in_futex(int tid);

#endif
