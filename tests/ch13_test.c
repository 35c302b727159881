/*
 * ch13_test.c - chapter 13, multi-process programming: one scenario per
 * lesson.  13-3, a System V semaphore as a mutex; 13-5, passing a
 * descriptor with SCM_RIGHTS.
 *
 * Every proof is taken from outside the program.  The semaphore: the
 * harness asks the kernel itself (semctl GETVAL, GETPID, GETNCNT, and
 * /proc/sysvipc/sem) who holds it and who waits, times the turns on its
 * own clock, and kills the holder itself.  The descriptor: the harness
 * stats FILE itself and compares st_dev/st_ino with what the receiver's
 * fstat printed, compares the bytes read through the received fd with
 * FILE's, and reads the control messages strace saw.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "hpsp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

enum { READ_SIZE = 1024 }; /* what pass_fd reads through the fd (13-5) */

/* A file of LEN pattern bytes whose identity the harness knows. */
struct known_file {
    char path[256];
    struct stat st;
    const char *data;
    size_t len;
};

static void
make_known_file(struct hh_ctx *c, size_t len, struct known_file *f)
{
    char *text = hh_alloc(c, len + 1);
    for (size_t i = 0; i < len; i++) /* printable, with a newline now and then */
        text[i] = i % 61 == 60 ? '\n' : (char)('a' + (i * 7) % 26);
    text[len] = '\0';
    hh_make_text_file(c, "file", text, f->path, sizeof f->path);
    HH_CHECK(c, stat(f->path, &f->st) == 0, "stat %s", f->path);
    f->data = text;
    f->len = len;
}

/* The receiver's two lines: the fd's identity is FILE's, and what it read
 * through the fd is FILE's first bytes, no more.  Returns the fd number. */
static int
expect_received(struct hh_proc *p, const struct known_file *f)
{
    struct hh_ctx *c = p->ctx;
    hh_expect_line(p, "^received fd ([0-9]+): dev ([0-9]+):([0-9]+) inode "
                      "([0-9]+)$", 3000);
    int fd = atoi(p->groups[1]);
    unsigned long long ino = strtoull(p->groups[4], NULL, 10);
    hh_note(c, "harness: stat %s: dev %u:%u inode %llu", f->path,
            major(f->st.st_dev), minor(f->st.st_dev),
            (unsigned long long)f->st.st_ino);
    HH_CHECK(c, (unsigned)atoi(p->groups[2]) == major(f->st.st_dev) &&
                    (unsigned)atoi(p->groups[3]) == minor(f->st.st_dev) &&
                    ino == (unsigned long long)f->st.st_ino,
             "the received fd is dev %s:%s inode %s, not FILE (%u:%u %llu)",
             p->groups[2], p->groups[3], p->groups[4], major(f->st.st_dev),
             minor(f->st.st_dev), (unsigned long long)f->st.st_ino);

    size_t want = f->len < READ_SIZE ? f->len : READ_SIZE;
    char *quoted = hh_alloc(c, HP_QUOTED_SIZE(READ_SIZE));
    hp_quote(quoted, HP_QUOTED_SIZE(READ_SIZE), f->data, want);
    hh_expect_line(p, "^read ([0-9]+) bytes through it: ", 3000);
    HH_CHECK(c, (size_t)atoi(p->groups[1]) == want,
             "read %s bytes through the fd, FILE holds %zu (want %zu)",
             p->groups[1], f->len, want);
    /* the whole line, from the program's stdout (p->line is cut short) */
    char head[64];
    snprintf(head, sizeof head, "read %zu bytes through it: ", want);
    const char *at = memmem(p->out.data, p->out.len, head, strlen(head));
    HH_CHECK(c, at != NULL, "no '%s' line", head);
    at += strlen(head);
    const char *end = memchr(at, '\n', p->out.len - (size_t)(at - p->out.data));
    size_t n = end ? (size_t)(end - at) : 0;
    HH_CHECK(c, n == strlen(quoted) && memcmp(at, quoted, n) == 0,
             "the bytes read through the fd are not FILE's first %zu", want);
    return fd;
}

/* ---- 13-3 -------------------------------------------------------------- */

/* What the kernel says of semaphore 0 of SEMID (semctl's GET commands). */
static int
sem_get(struct hh_ctx *c, int semid, int cmd, const char *name)
{
    int v = semctl(semid, 0, cmd);
    HH_CHECK(c, v >= 0, "semctl %d %s: %s", semid, name, strerror(errno));
    return v;
}

/* The set's line in /proc/sysvipc/sem ("key semid perms nsems ..."):
 * true and its perms (octal, as printed) and nsems, or false. */
static bool
sem_in_proc(struct hh_ctx *c, int semid, unsigned *perms, int *nsems)
{
    size_t len;
    char *text = hh_read_file(c, "/proc/sysvipc/sem", &len);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int key, id;
        if (sscanf(line, "%d %d %o %d", &key, &id, perms, nsems) == 4 &&
            id == semid)
            return true;
    }
    return false;
}

/* Parent pid of PID from /proc/PID/stat, or -1. */
static pid_t
ppid_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *paren = strrchr(buf, ')'); /* the name may hold spaces */
    int ppid;
    if (!paren || sscanf(paren + 1, " %*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

/* The one child of P's program, from /proc (its task's children list). */
static pid_t
only_child(struct hh_proc *p)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)hh_pid(p),
             (int)hh_pid(p));
    size_t len;
    char *text = hh_read_file(p->ctx, path, &len);
    int kid, more;
    HH_CHECK(p->ctx, sscanf(text, "%d %d", &kid, &more) == 1,
             "%s lists '%s', want exactly one child", path, text);
    return kid;
}

/* The set the program announced: it exists, private to its owner, one
 * semaphore of value 1.  Returns its id. */
static int
expect_set(struct hh_proc *p)
{
    struct hh_ctx *c = p->ctx;
    hh_expect_line(p, "^semaphore set ([0-9]+): 1 semaphore, value 1, "
                      "mode 0600$", 3000);
    int semid = (int)hh_group_ll(p, 1);
    unsigned perms;
    int nsems;
    HH_CHECK(c, sem_in_proc(c, semid, &perms, &nsems),
             "no set %d in /proc/sysvipc/sem", semid);
    HH_CHECK(c, nsems == 1, "set %d has %d semaphores, want 1", semid, nsems);
    HH_CHECK(c, (perms & 0777) == 0600,
             "set %d has mode %03o: the book's 0666 lets every user take "
             "it; want 0600", semid, perms & 0777);
    hh_note(c, "harness: /proc/sysvipc/sem lists set %d, mode %03o, "
               "1 semaphore", semid, perms & 0777);
    return semid;
}

/* The next "WHO PID: holds it" line: the kernel must agree that PID took
 * the semaphore (GETVAL 0, GETPID PID), and PID must be the program or
 * its child.  WHO NULL: either.  Returns PID; *WHO_OUT its role. */
static pid_t
expect_holder(struct hh_proc *p, int semid, const char *who, long long hold,
              char *who_out, size_t cap, int timeout_ms)
{
    struct hh_ctx *c = p->ctx;
    char re[96];
    snprintf(re, sizeof re, "^(%s) ([0-9]+): holds it for %lld ms$",
             who ? who : "parent|child", hold);
    hh_expect_line(p, re, timeout_ms);
    pid_t pid = (pid_t)hh_group_ll(p, 2);
    bool is_parent = strcmp(p->groups[1], "parent") == 0;
    snprintf(who_out, cap, "%s", is_parent ? "parent" : "child");
    HH_CHECK(c, is_parent ? pid == hh_pid(p) : ppid_of(pid) == hh_pid(p),
             "%s %d is not the program (%d) or its child", who_out, (int)pid,
             (int)hh_pid(p));
    int val = sem_get(c, semid, GETVAL, "GETVAL");
    int last = sem_get(c, semid, GETPID, "GETPID");
    hh_note(c, "harness: semctl: semval %d, sempid %d", val, last);
    HH_CHECK(c, val == 0 && last == pid,
             "%s %d says it holds the semaphore, but the kernel has semval "
             "%d, last semop by %d", who_out, (int)pid, val, last);
    return pid;
}

/* Wait until N processes sleep in semop on SEMID, waiting for it to grow
 * (GETNCNT).  No event says so: looked at between 1 ms windows. */
static void
wait_ncnt(struct hh_ctx *c, int semid, int n, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    int got;
    while ((got = sem_get(c, semid, GETNCNT, "GETNCNT")) != n) {
        HH_CHECK(c, hh_now_ms() < deadline,
                 "semncnt of set %d is %d, want %d (a process asleep in "
                 "semop)", semid, got, n);
        hh_observe(c, 1);
    }
    hh_note(c, "harness: semctl: semncnt %d: the other process sleeps in "
               "semop", n);
}

/* The set is gone once the program is: for /proc and for semctl. */
static void
expect_set_gone(struct hh_ctx *c, int semid)
{
    unsigned perms;
    int nsems;
    HH_CHECK(c, !sem_in_proc(c, semid, &perms, &nsems),
             "set %d is still in /proc/sysvipc/sem after the program ended",
             semid);
    HH_CHECK(c, semctl(semid, 0, GETVAL) < 0 &&
                    (errno == EINVAL || errno == EIDRM),
             "set %d still answers semctl after the program ended", semid);
    hh_note(c, "harness: set %d is gone (semctl: %s)", semid,
            strerror(errno));
}

enum { TURN_HOLD_MS = 800 };

static void
sem_take_turns(struct hh_ctx *c)
{
    long long t0 = hh_now_ms();
    struct hh_proc *p = hh_start(c, "sysv_sem_mutex", "sysv_sem_mutex", "-t",
                                 "800ms", NULL);
    int semid = expect_set(p);
    char first[16], second[16];
    pid_t a = expect_holder(p, semid, NULL, TURN_HOLD_MS, first,
                            sizeof first, 3000);
    long long held = hh_now_ms();
    wait_ncnt(c, semid, 1, TURN_HOLD_MS / 2);
    const char *other = strcmp(first, "parent") == 0 ? "child" : "parent";
    char re[64];
    snprintf(re, sizeof re, "^%s %d: releases it$", first, (int)a);
    hh_expect_line(p, re, TURN_HOLD_MS + 2000);
    pid_t b = expect_holder(p, semid, other, TURN_HOLD_MS, second,
                            sizeof second, 2000);
    long long gap = hh_now_ms() - held;
    hh_note(c, "harness clock: %s %d went in %lld ms after %s %d", second,
            (int)b, gap, first, (int)a);
    /* the harness sees each line a little after it is written: allow 5 % */
    HH_CHECK(c, gap >= TURN_HOLD_MS * 95 / 100,
             "the second hold began %lld ms after the first: they overlap "
             "(hold %d ms)", gap, TURN_HOLD_MS);
    hh_expect_line(p, "^child [0-9]+ exited 0$", TURN_HOLD_MS + 2000);
    hh_expect_exit(p, 0, 2000);
    long long total = hh_now_ms() - t0;
    hh_note(c, "harness clock: %lld ms from start to exit (2 x hold = %d)",
            total, 2 * TURN_HOLD_MS);
    HH_CHECK(c, total >= 2 * TURN_HOLD_MS &&
                    total <= 2 * TURN_HOLD_MS + hh_ms(c, 1500),
             "ran %lld ms: two holds of %d ms in turn take about %d",
             total, TURN_HOLD_MS, 2 * TURN_HOLD_MS);
    expect_set_gone(c, semid);
}

enum { UNDO_HOLD_MS = 3000 };

/* The child dies holding the semaphore: SEM_UNDO gives it back. */
static void
sem_undo(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "sysv_sem_mutex", "sysv_sem_mutex", "-c",
                                 "-t", "3s", NULL);
    int semid = expect_set(p);
    char who[16];
    pid_t kid = expect_holder(p, semid, "child", UNDO_HOLD_MS, who,
                              sizeof who, 3000);
    wait_ncnt(c, semid, 1, 1000);
    long long t = hh_now_ms();
    HH_CHECK(c, kill(kid, SIGKILL) == 0, "kill %d: %s", (int)kid,
             strerror(errno));
    hh_note(c, "harness: kill -9 %d, the child, while it holds the "
               "semaphore", (int)kid);
    char re[64];
    snprintf(re, sizeof re, "^parent %d: holds it", (int)hh_pid(p));
    /* without SEM_UNDO the parent would wait for ever; give it well under
     * the hold time it would otherwise have waited */
    hh_expect_line(p, re, UNDO_HOLD_MS / 2);
    long long waited = hh_now_ms() - t;
    int last = sem_get(c, semid, GETPID, "GETPID");
    HH_CHECK(c, last == hh_pid(p) && sem_get(c, semid, GETVAL, "GETVAL") == 0,
             "the parent says it holds the semaphore; the kernel's last "
             "semop was by %d", last);
    hh_note(c, "harness clock: the parent went in %lld ms after the kill: "
               "the kernel undid the dead child's P", waited);
    snprintf(re, sizeof re, "^child %d killed by signal 9 ", (int)kid);
    hh_expect_line(p, re, UNDO_HOLD_MS + 2000);
    hh_expect_exit(p, 0, 2000);
    expect_set_gone(c, semid);
}

/* 0666 let every user of the machine take the book's semaphore. */
static void
regress_13_3_private_set(struct hh_ctx *c)
{
    if (geteuid() != 0)
        hh_skip(c, "needs root: to ask as another user");
    struct hh_proc *p = hh_start(c, "sysv_sem_mutex", "sysv_sem_mutex", "-t",
                                 "1s", NULL);
    int semid = expect_set(p);
    pid_t pid = fork(); /* a user of its own: only the failure matters */
    HH_CHECK(c, pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        _exit(semctl(semid, 0, GETVAL) < 0 && errno == EACCES ? 0 : 1);
    }
    int st;
    HH_CHECK(c, waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    HH_CHECK(c, WIFEXITED(st) && WEXITSTATUS(st) == 0,
             "user 65534 %s set %d", WEXITSTATUS(st) == 2 ? "(not become) "
             "could not try to read" : "could read", semid);
    hh_note(c, "harness: as user 65534, semctl(%d, GETVAL) fails with "
               "EACCES", semid);
    hh_expect_exit(p, 0, 5000);
    expect_set_gone(c, semid);
}

/* SIGTERM while one holds and one waits: the set is removed all the same,
 * the child does not outlive the parent. */
static void
regress_13_3_sigterm(struct hh_ctx *c)
{
    struct hh_proc *p = hh_start(c, "sysv_sem_mutex", "sysv_sem_mutex", "-t",
                                 "20s", NULL);
    int semid = expect_set(p);
    char who[16];
    expect_holder(p, semid, NULL, 20000, who, sizeof who, 3000);
    wait_ncnt(c, semid, 1, 1000);
    pid_t kid = only_child(p);
    long long t = hh_now_ms();
    hh_stop(p);
    hh_note(c, "harness clock: stopped %lld ms after SIGTERM, not after the "
               "20 s hold", hh_now_ms() - t);
    HH_CHECK(c, hh_wait_gone(c, kid, 500),
             "the child %d outlived its parent", (int)kid);
    expect_set_gone(c, semid);
}

/* ---- 13-5 -------------------------------------------------------------- */

static void
pass_fd_same_file(struct hh_ctx *c)
{
    struct known_file f;
    make_known_file(c, 100, &f);
    struct hh_proc *p = hh_start(c, "pass_fd", "pass_fd", f.path, NULL);
    hh_expect_line(p, "^child: opened .* as fd ([0-9]+), sending it$", 3000);
    int sent = atoi(p->groups[1]);
    int got = expect_received(p, &f);
    hh_note(c, "the child sent its fd %d, the parent received fd %d: two "
               "numbers, one open file", sent, got);
    hh_expect_exit(p, 0, 3000);
}

/* What the kernel was given and gave back: the control messages. */
static void
pass_fd_syscalls(struct hh_ctx *c)
{
    struct known_file f;
    make_known_file(c, 100, &f);
    struct hh_spawn opt = {.role = "pass_fd",
                           .trace = "trace=sendmsg,recvmsg,read,wait4",
                           .must_trace = true};
    const char *args[] = {f.path, NULL};
    struct hh_proc *p = hh_startv(c, &opt, "pass_fd", args);
    hh_expect_exit(p, 0, 5000);

    size_t pos = 0;
    HH_CHECK(c, hh_trace_next(p, &pos, "sendmsg\\(.*cmsg_len=([0-9]+), "
                                       "cmsg_level=SOL_SOCKET, cmsg_type="
                                       "SCM_RIGHTS, cmsg_data=\\[([0-9]+)\\]"),
             "no sendmsg with SCM_RIGHTS in the trace");
    long long sent = hh_group_ll(p, 2);
    HH_CHECK(c, hh_group_ll(p, 1) == (long long)CMSG_LEN(sizeof(int)),
             "cmsg_len=%s, want CMSG_LEN(sizeof(int)) = %zu", p->groups[1],
             (size_t)CMSG_LEN(sizeof(int)));
    pos = 0;
    HH_CHECK(c, hh_trace_next(p, &pos, "recvmsg.*cmsg_type=SCM_RIGHTS, "
                                       "cmsg_data=\\[([0-9]+)\\]"),
             "no recvmsg that received an SCM_RIGHTS descriptor");
    long long got = hh_group_ll(p, 1);
    char re[64];
    snprintf(re, sizeof re, "^read\\(%lld, .*\\) += ([0-9]+)$", got);
    HH_CHECK(c, hh_trace_next(p, &pos, re),
             "no read through the received fd %lld", got);
    HH_CHECK(c, hh_group_ll(p, 1) == (long long)f.len,
             "read(%lld) returned %s, FILE holds %zu", got, p->groups[1],
             f.len);
    HH_CHECK(c, hh_trace_next(p, &pos, "^wait4\\([0-9]+, .*\\) = [0-9]+$"),
             "the parent never waited for its child");
    hh_note(c, "strace: sendmsg(SCM_RIGHTS, fd %lld), recvmsg -> fd %lld, "
               "read(%lld) = %zu, wait4 reaped the child",
            sent, got, got, f.len);
}

/* Two unrelated processes: the hand-over real servers do. */
static void
pass_fd_unrelated(struct hh_ctx *c)
{
    struct known_file f;
    char sock[256];
    make_known_file(c, 300, &f);
    hh_tmpfile(c, "sock", sock, sizeof sock);
    struct hh_proc *srv = hh_start(c, "server", "pass_fd", "-s", sock, f.path,
                                   NULL);
    hh_expect_line(srv, "^serving .* \\(fd [0-9]+\\) on ", 3000);
    struct hh_proc *cli = hh_start(c, "client", "pass_fd", "-c", sock, NULL);
    expect_received(cli, &f);
    hh_expect_exit(cli, 0, 3000);
    hh_expect_line(srv, "^sent fd [0-9]+ to a client$", 3000);
    hh_expect_exit(srv, 0, 3000);
    HH_CHECK(c, access(sock, F_OK) != 0, "the server left its socket %s",
             sock);
}

/* The book reads 1024 bytes into 1024 and writes a terminator past them;
 * here a file larger than the buffer gives exactly its first 1024 bytes. */
static void
regress_13_5_full_buffer(struct hh_ctx *c)
{
    struct known_file f;
    make_known_file(c, 3 * READ_SIZE, &f);
    struct hh_proc *p = hh_start(c, "pass_fd", "pass_fd", f.path, NULL);
    expect_received(p, &f);
    hh_expect_exit(p, 0, 3000);
}

/* ---- the table --------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"sem_take_turns", "13-3",
     "a System V semaphore as a mutex: parent and child take turns",
     "while one holds it the kernel shows semval 0, sempid the holder and "
     "semncnt 1 (the other asleep in semop); the second hold starts a full "
     "hold after the first; the set is removed at the end.",
     0, sem_take_turns},
    {"sem_undo", "13-3",
     "SEM_UNDO: the child dies holding the semaphore, the parent goes in",
     "kill -9 took the child while it held the semaphore; the kernel "
     "undid its P at exit, so the parent did not wait for ever.",
     0, sem_undo},
    {"regress_13_3_private_set", "13-3",
     "mode 0600: another user cannot touch the set",
     "the book creates it 0666: any user could take the semaphore and "
     "stall both processes.",
     HH_REGRESSION | HH_NEED_ROOT, regress_13_3_private_set},
    {"regress_13_3_sigterm", "13-3",
     "SIGTERM while one holds and one waits: the set is removed anyway",
     "semop returned EINTR to the waiting parent; it stopped the child, "
     "waited for it and removed the set (the book leaves it in the "
     "kernel until reboot or ipcrm).",
     HH_REGRESSION, regress_13_3_sigterm},
    {"pass_fd_same_file", "13-5",
     "SCM_RIGHTS: the parent receives the child's open file",
     "the child's fd number and the parent's differ, but fstat gives the "
     "same dev and inode as FILE, and reading it gives FILE's bytes: one "
     "open file, two descriptor tables.",
     0, pass_fd_same_file},
    {"pass_fd_syscalls", "13-5",
     "SCM_RIGHTS in the system calls: sendmsg, recvmsg, a read, wait4",
     "the kernel took fd N from the child's table in sendmsg and installed "
     "a new number in the parent's in recvmsg; cmsg_len is "
     "CMSG_LEN(sizeof(int)).",
     HH_NEED_STRACE, pass_fd_syscalls},
    {"pass_fd_unrelated", "13-5",
     "two unrelated processes pass a descriptor over a named Unix socket",
     "the server opened FILE, the client got its own fd to the same file "
     "through /path/to/sock: how a server hands its sockets to its "
     "successor.",
     0, pass_fd_unrelated},
    {"regress_13_5_full_buffer", "13-5",
     "a file larger than the 1024-byte buffer: exactly its first 1024 bytes",
     "the book writes a terminator one byte past its buffer; here the data "
     "is printed within what read returned.",
     HH_REGRESSION, regress_13_5_full_buffer},
};

static const struct hh_program programs[] = {
    {.name = "sysv_sem_mutex", .listing = "13-3",
     .syscalls = "trace=semget,semctl,semop,semtimedop,wait4",
     .args = HH_ARGS_HELP,
     HH_ROWS({{"x", NULL}, 2, HH_USAGE},
             {{"-t", "0", NULL}, 2, "HOLD '0'"},
             {{"-t", "soon", NULL}, 2, "HOLD 'soon'"},
             {{"-t", "5h", NULL}, 2, "HOLD '5h'"})},
    {.name = "pass_fd", .listing = "13-5",
     .syscalls = "trace=sendmsg,recvmsg,read", .flags = HH_PROG_DIES_OF_TERM,
     .args = HH_ARGS_HELP,
     HH_ROWS({{NULL}, 2, HH_USAGE}, {{"a", "b", NULL}, 2, HH_USAGE},
             {{"-s", "x", NULL}, 2, HH_USAGE},
             {{"-c", "x", "y", NULL}, 2, HH_USAGE},
             {{"-s", "a", "-c", "b", "f", NULL}, 2, "exclude each other"},
             /* never a silent fd 0: no file, no descriptor, exit 1 */
             {{"/no/such/file", NULL}, 1,
              "open /no/such/file: .*\\(ENOENT\\)"},
             {{"/", NULL}, 1, "/: not a regular file: .*\\(EISDIR\\)"},
             {{"-s", "/no/such/dir/sock", "/", NULL}, 1,
              "/: not a regular file"},
             {{"-c", "/no/such/socket", NULL}, 1,
              "connect /no/such/socket: .*\\(ENOENT\\)"})},
};

static const struct hh_chapter chapter = {
    .name = "ch13-ipc",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
