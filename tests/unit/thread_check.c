/*
 * thread_check.c - see thread_check.h.
 */
#define _GNU_SOURCE
#include "thread_check.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

struct hh_ctx *hc;

int
unit_setup(void **state)
{
    (void)state;
    hc = hh_unit_ctx();
    return 0;
}

int
unit_teardown(void **state)
{
    (void)state;
    hh_unit_done(hc);
    hc = NULL;
    return 0;
}

const char *
errname(int err)
{
    static __thread char other[32];
    const char *name = err == 0 ? "0" : strerrorname_np(err);

    if (name != NULL)
        return name;
    snprintf(other, sizeof other, "%d (not an error number)", err);
    return other;
}

void
child_fail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(1);
}

struct timespec
realtime_in(int ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

void
run_child(struct hh_ctx *c, int child_ms, const char *role,
          void (*body)(const void *arg), const char *want)
{
    struct hh_proc *p = hh_fork(c, role, body, NULL);
    int st = hh_wait_exit(p, child_ms);
    const char *out = p->out.data ? p->out.data : "";
    const char *err = p->err.data ? p->err.data : "";

    if (WIFSIGNALED(st))
        fail_msg("%s: killed by signal %d\n  stdout: %s\n  stderr: %s", role,
                 WTERMSIG(st), out, err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s: exit %d, want 0\n  stdout: %s\n  stderr: %s", role,
                 WEXITSTATUS(st), out, err);
    assert_string_equal(out, want);
}
