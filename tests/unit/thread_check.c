/*
 * thread_check.c - see thread_check.h.
 */
#define _GNU_SOURCE
#include "thread_check.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <setjmp.h>

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

/* A line of /proc/self/task/TID/FILE into BUF; false if unreadable. */
bool
read_task(int tid, const char *file, char *buf, size_t cap)
{
    char path[64];
    int fd;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/self/task/%d/%s", tid, file);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* Whether thread TID sleeps in futex(2), as a thread waiting on a mutex,
 * a semaphore, a condition variable or in pthread_join does: state S in
 * its stat, futex the system call it is in. */
bool
asleep_in_futex(int tid)
{
    char buf[512];

    if (!read_task(tid, "stat", buf, sizeof buf))
        return false;
    const char *end = strrchr(buf, ')'); /* the name may hold anything */
    if (end == NULL || strncmp(end, ") S", 3) != 0)
        return false;
    return read_task(tid, "syscall", buf, sizeof buf) &&
           strtol(buf, NULL, 10) == SYS_futex;
}
