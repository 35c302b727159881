/*
 * ch13_test.c - chapter 13, multi-process programming: one scenario per
 * lesson: 13-3, a System V semaphore as a mutex; 13-4, a chat room of
 * processes around POSIX shared memory; 13-5, passing a descriptor with
 * SCM_RIGHTS.
 *
 * The chat room is judged from its clients' bytes (every line at every
 * other client once, in order, whole; never at its sender), from /proc
 * (the server's children, their maps, descriptors and signal handlers;
 * /dev/shm), and from strace; reader children are stopped with SIGSTOP to
 * hold slots in flight where a scenario needs it.
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

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/socket.h>
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

/* The one child of P's program, from /proc (its task's children list). */
static pid_t
only_child(struct hh_proc *p)
{
    pid_t kids[2];
    int n = hh_children(p->ctx, hh_pid(p), kids, 2);
    HH_CHECK(p->ctx, n == 1, "the program has %d children, want exactly one",
             n);
    return kids[0];
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
    HH_CHECK(c, is_parent ? pid == hh_pid(p) : hh_ppid(pid) == hh_pid(p),
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

/* ---- 13-4 ---------------------------------------------------------------- */

#define LOCAL_RE "127\\.0\\.0\\.1"
enum { CHAT_LINE_MAX = 4096 };  /* shm_chat_server's longest line */
enum { CHAT_SLOTS = 8 };        /* its slots per user */
enum { MAX_CHATTERS = 16 };

/* A harness client of the chat room, and what the server said of it. */
struct chatter {
    int fd;
    in_port_t port;
    int place;   /* from the server's "joined" line */
    pid_t child; /* idem; checked against /proc */
    const char *tx; /* to send: tx[tx_off .. tx_len) */
    size_t tx_len, tx_off;
    size_t chunk;   /* bytes per send (0: as many as the socket takes) */
    char *rx;       /* received so far; wants rx_want bytes */
    size_t rx_len, rx_want;
    bool leave;     /* once tx is sent: shutdown(SHUT_WR), read no more */
};

static void check_no_shm_entry(struct hh_ctx *c, pid_t pid,
                               const char *when);

/* The server, listening; its object must be unlinked by then (a wrong
 * one's name is removed here, so that no scenario leaves it behind). */
static struct hh_proc *
chat_server(struct hh_ctx *c, const char *const *opts)
{
    const char *args[12];
    int k = 0;
    for (; opts && opts[k]; k++)
        args[k] = opts[k];
    args[k++] = "127.0.0.1";
    args[k++] = "0";
    args[k] = NULL;
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *srv = hh_startv(c, &opt, "shm_chat_server", args);
    hh_wait_listening(srv);
    check_no_shm_entry(c, hh_pid(srv), "once the server listens");
    return srv;
}

/* Connect H (with SO_RCVBUF RCVBUF, 0: the default) and wait for the
 * server's "joined" line for its port. */
static void
chat_join_rcvbuf(struct hh_proc *srv, struct chatter *h, int rcvbuf)
{
    struct hh_ctx *c = srv->ctx;
    char re[128];
    memset(h, 0, sizeof *h);
    if (rcvbuf > 0) {
        /* before connect, so the window is small from the start */
        h->fd = hh_track_fd(c, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        HH_CHECK(c, setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                               sizeof rcvbuf) == 0 &&
                        connect(h->fd, (struct sockaddr *)&srv->addr,
                                sizeof srv->addr) == 0,
                 "a client with SO_RCVBUF %d: %s", rcvbuf, strerror(errno));
    } else {
        h->fd = hh_connect(c, &srv->addr, 2000);
    }
    h->port = hh_local_port(h->fd);
    snprintf(re, sizeof re, "^user ([0-9]+) joined: " LOCAL_RE ":%u, "
                            "child ([0-9]+) ", (unsigned)h->port);
    hh_expect_line(srv, re, 3000);
    h->place = atoi(srv->groups[1]);
    h->child = (pid_t)atoi(srv->groups[2]);
}

static void
chat_join(struct hh_proc *srv, struct chatter *h)
{
    chat_join_rcvbuf(srv, h, 0);
}

/* Send every chatter's TX (CHUNK bytes a send) while reading what each
 * receives, until each has RX_WANT bytes; the server's output keeps
 * flowing meanwhile.  A leaver shuts down its sending side once its TX is
 * out and is read no more. */
static void chat_pump_for(struct hh_ctx *c, struct chatter *ch, int n,
                          int timeout_ms, bool fail_late);

static void
chat_pump(struct hh_ctx *c, struct chatter *ch, int n, int timeout_ms)
{
    chat_pump_for(c, ch, n, timeout_ms, true);
}

/* chat_pump; with FAIL_LATE false it just returns at the deadline. */
static void
chat_pump_for(struct hh_ctx *c, struct chatter *ch, int n, int timeout_ms,
              bool fail_late)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    struct pollfd pf[MAX_CHATTERS + 2 * HH_MAX_PROCS];

    HH_CHECK(c, n <= MAX_CHATTERS, "too many chatters");
    for (;;) {
        int m = 0;
        bool busy = false;
        for (int i = 0; i < n; i++) {
            struct chatter *h = &ch[i];
            short ev = 0;
            if (h->tx_off < h->tx_len)
                ev |= POLLOUT;
            if (!h->leave && h->rx_len < h->rx_want)
                ev |= POLLIN;
            busy = busy || ev != 0;
            pf[m++] = (struct pollfd){.fd = ev ? h->fd : -1, .events = ev};
        }
        if (!busy)
            return;
        for (int i = 0; i < c->nprocs; i++) {
            if (c->procs[i].out_fd >= 0)
                pf[m++] = (struct pollfd){c->procs[i].out_fd, POLLIN, 0};
            if (c->procs[i].err_fd >= 0)
                pf[m++] = (struct pollfd){c->procs[i].err_fd, POLLIN, 0};
        }
        long long left = deadline - hh_now_ms();
        if (left <= 0 && !fail_late)
            return;
        if (left <= 0)
            for (int i = 0; i < n; i++)
                if ((!ch[i].leave && ch[i].rx_len < ch[i].rx_want) ||
                    ch[i].tx_off < ch[i].tx_len)
                    hh_fail(c, "user %d (port %u): sent %zu of %zu, "
                               "received %zu of %zu bytes in %d ms",
                            ch[i].place, ch[i].port, ch[i].tx_off,
                            ch[i].tx_len, ch[i].rx_len, ch[i].rx_want,
                            hh_ms(c, timeout_ms));
        if (poll(pf, (nfds_t)m, (int)left) < 0 && errno != EINTR)
            hh_fail(c, "poll: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct chatter *h = &ch[i];
            if (pf[i].revents & POLLOUT) {
                size_t len = h->tx_len - h->tx_off;
                if (h->chunk && len > h->chunk)
                    len = h->chunk;
                ssize_t w = send(h->fd, h->tx + h->tx_off, len,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno != EAGAIN && errno != EINTR)
                    hh_fail(c, "user %d: send: %s", h->place,
                            strerror(errno));
                h->tx_off += w > 0 ? (size_t)w : 0;
                if (h->leave && h->tx_off == h->tx_len)
                    shutdown(h->fd, SHUT_WR);
            }
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = recv(h->fd, h->rx + h->rx_len,
                                 h->rx_want - h->rx_len, MSG_DONTWAIT);
                if (r == 0)
                    hh_fail(c, "user %d (port %u): end of file after %zu of "
                               "%zu bytes", h->place, h->port, h->rx_len,
                            h->rx_want);
                if (r < 0 && errno != EAGAIN && errno != EINTR)
                    hh_fail(c, "user %d: recv: %s", h->place,
                            strerror(errno));
                h->rx_len += r > 0 ? (size_t)r : 0;
            }
        }
        for (int k = n; k < m; k++)
            if (pf[k].revents) {
                hh_observe(c, 1);
                break;
            }
    }
}

/* Nothing more arrives at any of CH within a short while. */
static void
chat_quiet(struct hh_ctx *c, const struct chatter *ch, int n)
{
    char extra[64], esc[300];
    hh_observe(c, 150);
    for (int i = 0; i < n; i++) {
        if (ch[i].leave)
            continue;
        ssize_t r = recv(ch[i].fd, extra, sizeof extra, MSG_DONTWAIT);
        HH_CHECK(c, r < 0 && errno == EAGAIN,
                 "user %d (port %u) received %zd byte(s) more than its "
                 "share: \"%s\"", ch[i].place, ch[i].port, r,
                 r > 0 ? hh_escape(extra, (size_t)r, esc, sizeof esc) : "");
    }
}

/* FROM sends TEXT; each of the other N-1 chatters must receive exactly
 * TEXT (its bytes: no padding, no more), and FROM nothing. */
static void
chat_say(struct hh_ctx *c, struct chatter *ch, int n, int from,
         const char *text, size_t len)
{
    char esc[300];
    HH_CHECK(c, n <= MAX_CHATTERS, "too many chatters");
    for (int i = 0; i < n; i++) {
        ch[i].tx_len = ch[i].tx_off = ch[i].rx_len = 0;
        ch[i].rx_want = i == from ? 0 : len;
        ch[i].rx = hh_alloc(c, len + 1);
    }
    ch[from].tx = text;
    ch[from].tx_len = len;
    chat_pump(c, ch, n, 3000);
    for (int i = 0; i < n; i++)
        HH_CHECK(c, i == from || memcmp(ch[i].rx, text, len) == 0,
                 "user %d received \"%s\", not what user %d said",
                 ch[i].place, hh_escape(ch[i].rx, len, esc, sizeof esc),
                 ch[from].place);
    chat_quiet(c, ch, n);
    hh_note(c, "harness: user %d said \"%s\" (%zu bytes): each of the %d "
               "others received exactly those bytes, user %d nothing",
            ch[from].place, hh_escape(text, len < 40 ? len : 40, esc,
                                      sizeof esc),
            len, n - 1, ch[from].place);
}

enum { MSG_ROOM = 2200 }; /* a message of make_message, BASE <= 2000 */

/* Message K of sender U: "uUU mKKKK " and BASE and some filler letters,
 * then '\n'. */
static size_t
make_message(char *out, int u, int k, size_t base)
{
    size_t filler = base + 10 + (size_t)(u * 13 + k * 7) % 70;
    int n = sprintf(out, "u%02d m%04d ", u, k);
    for (size_t j = 0; j < filler; j++)
        out[n + j] = (char)('a' + (u * 7 + k * 3 + (int)j) % 26);
    out[n + filler] = '\n';
    return (size_t)n + filler + 1;
}

/* Give chatter U the script of SENT[U] messages; each is to receive those
 * of all the others. */
static void
chat_script(struct hh_ctx *c, struct chatter *ch, int n, const int *sent,
            size_t base)
{
    char msg[MSG_ROOM];
    size_t total = 0;
    for (int u = 0; u < n; u++) {
        size_t len = 0;
        for (int k = 0; k < sent[u]; k++)
            len += make_message(msg, u, k, base);
        char *tx = hh_alloc(c, len + 1);
        ch[u].tx = tx;
        ch[u].tx_len = len;
        ch[u].tx_off = 0;
        for (int k = 0; k < sent[u]; k++)
            tx += make_message(tx, u, k, base);
        total += len;
    }
    for (int u = 0; u < n; u++) {
        ch[u].rx_len = 0;
        ch[u].rx_want = ch[u].leave ? 0 : total - ch[u].tx_len;
        ch[u].rx = hh_alloc(c, ch[u].rx_want + 1);
    }
}

/* What SELF received is every message of every other sender U, SENT[U]
 * of them, each once, each sender's in order, whole; none of its own. */
static void
chat_verify(struct hh_ctx *c, int self, const struct chatter *h, int n,
            const int *sent, size_t base)
{
    int next[MAX_CHATTERS] = {0};
    char want[MSG_ROOM], esc[200];
    size_t pos = 0;

    while (pos < h->rx_len) {
        const char *line = h->rx + pos;
        const char *nl = memchr(line, '\n', h->rx_len - pos);
        size_t got = nl ? (size_t)(nl - line) + 1 : h->rx_len - pos;
        int u, k;
        HH_CHECK(c, nl != NULL && sscanf(line, "u%2d m%4d ", &u, &k) == 2 &&
                        u >= 0 && u < n,
                 "user %d received a garbled line \"%s\"", h->place,
                 hh_escape(line, got < 40 ? got : 40, esc, sizeof esc));
        HH_CHECK(c, u != self, "user %d received its own message %d",
                 h->place, k);
        HH_CHECK(c, k == next[u], "user %d: from sender %d got message %d, "
                                  "expected %d", h->place, u, k, next[u]);
        size_t len = make_message(want, u, k, base);
        HH_CHECK(c, got == len && memcmp(line, want, len) == 0,
                 "user %d: message %d of sender %d arrived changed: \"%s\"",
                 h->place, k, u,
                 hh_escape(line, got < 60 ? got : 60, esc, sizeof esc));
        next[u]++;
        pos += len;
    }
    for (int u = 0; u < n; u++)
        HH_CHECK(c, u == self || next[u] == sent[u],
                 "user %d got %d of sender %d's %d messages", h->place,
                 next[u], u, sent[u]);
}

/* One child per chatter of CH, and no other: /proc says which. */
static void
check_children(struct hh_ctx *c, struct hh_proc *srv, const struct chatter *ch,
               int n)
{
    pid_t kids[64];
    int nk = hh_children(c, hh_pid(srv), kids, 64);
    char list[256] = "";
    for (int i = 0; i < nk; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), " %d",
                 (int)kids[i]);
    hh_note(c, "/proc/%d/task/%d/children:%s", (int)hh_pid(srv),
            (int)hh_pid(srv), list);
    HH_CHECK(c, nk == n, "the server has %d child process(es) for %d "
                         "clients:%s", nk, n, list);
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (int k = 0; k < nk; k++)
            found = found || kids[k] == ch[i].child;
        HH_CHECK(c, found, "user %d's child %d is not a child of the "
                           "server:%s", ch[i].place, (int)ch[i].child, list);
    }
}

/* Names in /dev/shm that server PID made ("hpsp-chat-PID-..."). */
static int
shm_entries(pid_t pid, char *first, size_t cap)
{
    char prefix[64];
    int n = 0;
    snprintf(prefix, sizeof prefix, "hpsp-chat-%d-", (int)pid);
    DIR *d = opendir("/dev/shm");
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            if (n++ == 0)
                snprintf(first, cap, "%s", e->d_name);
        }
    closedir(d);
    return n;
}

/* Remove what a wrong server left in /dev/shm, then fail. */
static void
check_no_shm_entry(struct hh_ctx *c, pid_t pid, const char *when)
{
    char name[256], path[300];
    int n = shm_entries(pid, name, sizeof name);
    if (n == 0)
        return;
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    while (shm_entries(pid, name, sizeof name) > 0) {
        snprintf(path, sizeof path, "/dev/shm/%s", name);
        if (unlink(path) < 0)
            break;
    }
    hh_fail(c, "%s: %s exists (%d entr%s of the server's in /dev/shm)", when,
            path, n, n == 1 ? "y" : "ies");
}

/* PID maps "/dev/shm/hpsp-chat-SRV-N (deleted)"; the mapping's name into
 * NAME.  False if it maps no such object. */
static bool
maps_deleted_shm(struct hh_ctx *c, pid_t pid, pid_t srv, char *name,
                 size_t cap)
{
    char path[64], re[96];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    char *maps = hh_read_file(c, path, &len);
    snprintf(re, sizeof re, " (/dev/shm/hpsp-chat-%d-[0-9]+)( \\(deleted\\))?$",
             (int)srv);
    for (char *line = strtok(maps, "\n"); line; line = strtok(NULL, "\n")) {
        char g[HH_MAX_GROUPS][HH_GROUP_LEN];
        if (hh_match(c, re, line, g)) {
            snprintf(name, cap, "%.200s", g[1]);
            return g[2][0] != '\0';
        }
    }
    snprintf(name, cap, "no /dev/shm/hpsp-chat-%d-N mapping", (int)srv);
    return false;
}

/* SIGTERM: exit 0, every child of CH gone, nothing in /dev/shm. */
static void
chat_stop(struct hh_ctx *c, struct hh_proc *srv)
{
    pid_t pid = hh_pid(srv), kids[64];
    int nk = hh_children(c, hh_pid(srv), kids, 64);
    hh_note(c, "harness: kill -TERM %d (%d child process(es))", (int)pid, nk);
    hh_stop(srv);
    int alive = 0;
    for (int i = 0; i < nk; i++) {
        errno = 0;
        if (kill(kids[i], 0) == 0 || errno != ESRCH) {
            alive++;
            hh_track_pid(c, kids[i]); /* teardown ends it */
        }
    }
    HH_CHECK(c, alive == 0, "%d of the server's %d children outlived it",
             alive, nk);
    check_no_shm_entry(c, pid, "after the server stopped");
    hh_note(c, "exit 0; its %d children are gone (kill(pid, 0): ESRCH); "
               "no hpsp-chat-%d-* in /dev/shm", nk, (int)pid);
}

/* A's line reaches each of the four others, and never A; one child per
 * client. */
static void
shm_chat_relay(struct hh_ctx *c)
{
    enum { N = 5 };
    struct chatter ch[N];
    struct hh_proc *srv = chat_server(c, NULL);
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);
    check_children(c, srv, ch, N);
    static const char hello[] = "hello from the first user\n";
    chat_say(c, ch, N, 0, hello, sizeof hello - 1);
    hh_expect_line(srv, "^user 0 says: \"hello from the first user\\\\n\" "
                        "\\(26 bytes, slot [0-9]+, to 4 user", 2000);
    static const char reply[] = "and a reply from the third\n";
    chat_say(c, ch, N, 2, reply, sizeof reply - 1);
    chat_stop(c, srv);
}

/* Five users send many lines at once: each line reaches each other user
 * once, in order, whole. */
static void
shm_chat_many(struct hh_ctx *c)
{
    enum { N = 5, MSGS = 300 };
    struct chatter ch[N];
    const char *opts[] = {"-q", NULL};
    int sent[N];
    struct hh_proc *srv = chat_server(c, opts);
    for (int i = 0; i < N; i++) {
        chat_join(srv, &ch[i]);
        sent[i] = MSGS;
    }
    chat_script(c, ch, N, sent, 0);
    hh_note(c, "harness: %d users send %d lines each (%d slots each in the "
               "server), all at once", N, MSGS, CHAT_SLOTS);
    chat_pump(c, ch, N, 15000);
    for (int i = 0; i < N; i++)
        chat_verify(c, i, &ch[i], N, sent, 0);
    chat_quiet(c, ch, N);
    hh_note(c, "each user received the other %d users' %d lines: each "
               "once, in order, byte for byte; none of its own", N - 1, MSGS);
    chat_stop(c, srv);
}

/* A user leaves in the middle of the traffic: the others lose nothing,
 * and get exactly the lines it sent before it left. */
static void
shm_chat_leave_midway(struct hh_ctx *c)
{
    enum { N = 5, MSGS = 200, LEAVER = 4 };
    struct chatter ch[N];
    const char *opts[] = {"-q", NULL};
    int sent[N];
    char re[128];
    struct hh_proc *srv = chat_server(c, opts);
    for (int i = 0; i < N; i++) {
        chat_join(srv, &ch[i]);
        sent[i] = i == LEAVER ? MSGS / 4 : MSGS;
    }
    ch[LEAVER].leave = true;
    chat_script(c, ch, N, sent, 0);
    hh_note(c, "harness: users send %d lines each; user %d sends %d, then "
               "leaves (shutdown, reading nothing more) while the others "
               "still send", MSGS, ch[LEAVER].place, sent[LEAVER]);
    chat_pump(c, ch, N, 15000);
    snprintf(re, sizeof re, "^user %d left: child %d exited 0$",
             ch[LEAVER].place, (int)ch[LEAVER].child);
    hh_expect_line(srv, re, 3000);
    for (int i = 0; i < N; i++)
        if (i != LEAVER)
            chat_verify(c, i, &ch[i], N, sent, 0);
    chat_quiet(c, ch, N);
    hh_note(c, "the %d who stayed received all the others' lines and user "
               "%d's %d, each once, in order, whole", N - 1,
            ch[LEAVER].place, sent[LEAVER]);
    hh_close(c, ch[LEAVER].fd);
    check_children(c, srv, ch, N - 1);
    chat_stop(c, srv);
}

/* Room for 5: the 6th is refused with a line that says so. */
static void
shm_chat_room_full(struct hh_ctx *c)
{
    enum { N = 5 };
    struct chatter ch[N + 1];
    char buf[128], re[128], esc[300];
    struct hh_proc *srv = chat_server(c, NULL);
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);
    hh_note(c, "harness: a 6th user");
    int extra = hh_connect(c, &srv->addr, 2000);
    size_t n = hh_recv_all(c, extra, buf, sizeof buf - 1, 3000);
    buf[n] = '\0';
    hh_note(c, "harness: the 6th user received \"%s\", then end of file",
            hh_escape(buf, n, esc, sizeof esc));
    HH_CHECK(c, hh_match(c, "^[^\n]*room full[^\n]*\\(5 users\\)\n$", buf,
                         NULL),
             "the 6th user got \"%s\", not one line saying the room is "
             "full (5 users)", esc);
    snprintf(re, sizeof re, "^refused " LOCAL_RE ":%u: room full",
             (unsigned)hh_local_port(extra));
    hh_expect_line(srv, re, 2000);
    check_children(c, srv, ch, N);
    hh_note(c, "harness: user %d leaves; its place frees; a new user comes",
            ch[1].place);
    hh_close(c, ch[1].fd);
    snprintf(re, sizeof re, "^place %d is free again$", ch[1].place);
    hh_expect_line(srv, re, 3000);
    chat_join(srv, &ch[1]);
    static const char hi[] = "the newcomer says hi\n";
    chat_say(c, ch, N, 1, hi, sizeof hi - 1);
    chat_stop(c, srv);
}

/* A 1024-byte line, a line sent one byte a send, and the longest one all
 * arrive whole; one byte longer is refused, and its sender told. */
static void
shm_chat_long_lines(struct hh_ctx *c)
{
    enum { N = 3 };
    struct chatter ch[N];
    char esc[300];
    struct hh_proc *srv = chat_server(c, NULL);
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);

    char *line = hh_alloc(c, CHAT_LINE_MAX + 2);
    for (int i = 0; i < CHAT_LINE_MAX + 1; i++)
        line[i] = (char)('A' + i % 26);
    line[1024] = '\n';
    chat_say(c, ch, N, 0, line, 1025);
    hh_note(c, "harness: 1024 bytes and a newline arrived whole");
    line[1024] = (char)('A' + 1024 % 26);

    static const char split[] = "sent one byte a send, relayed as one line\n";
    ch[1].chunk = 1;
    chat_say(c, ch, N, 1, split, sizeof split - 1);
    ch[1].chunk = 0;
    hh_note(c, "harness: %zu sends of one byte each made one line",
            sizeof split - 1);

    line[CHAT_LINE_MAX - 1] = '\n';
    chat_say(c, ch, N, 2, line, CHAT_LINE_MAX);
    hh_note(c, "harness: the longest line, %d bytes with its newline, "
               "arrived whole", CHAT_LINE_MAX);

    /* one byte too long: dropped, the sender told, the next line fine */
    line[CHAT_LINE_MAX - 1] = 'x';
    line[CHAT_LINE_MAX] = '\n';
    static const char after[] = "after the long one\n";
    size_t told = 0;
    char *back = hh_alloc(c, 256);
    hh_send(c, ch[0].fd, line, CHAT_LINE_MAX + 1, 2000);
    hh_expect_line(srv, "^user [0-9]+: a line longer than 4096 bytes, "
                        "dropped$", 3000);
    while (told == 0 || back[told - 1] != '\n') {
        HH_CHECK(c, hh_wait_fd(c, ch[0].fd, POLLIN, 3000) && told < 255,
                 "the sender of a too long line was not told");
        ssize_t r = recv(ch[0].fd, back + told, 255 - told, MSG_DONTWAIT);
        HH_CHECK(c, r > 0, "the sender's connection ended");
        told += (size_t)r;
    }
    back[told] = '\0';
    hh_note(c, "harness: %d bytes with the newline: the sender was told "
               "\"%s\"", CHAT_LINE_MAX + 1, hh_escape(back, told, esc,
                                                      sizeof esc));
    HH_CHECK(c, strstr(back, "longer than 4096") != NULL,
             "the sender of a too long line got \"%s\"", esc);
    chat_say(c, ch, N, 0, after, sizeof after - 1);
    chat_stop(c, srv);
}

/* The object is unlinked right after mmap: mapped "(deleted)" in the
 * server and in every child, never a name in /dev/shm. */
static void
shm_chat_unlinked(struct hh_ctx *c)
{
    enum { N = 3 };
    struct chatter ch[N];
    char name[256];
    struct hh_proc *srv = chat_server(c, NULL);
    pid_t pid = hh_pid(srv);
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);
    HH_CHECK(c, maps_deleted_shm(c, pid, pid, name, sizeof name),
             "/proc/%d/maps: %s, not unlinked", (int)pid, name);
    hh_note(c, "/proc/%d/maps (server): %s (deleted)", (int)pid, name);
    for (int i = 0; i < N; i++) {
        HH_CHECK(c, maps_deleted_shm(c, ch[i].child, pid, name, sizeof name),
                 "/proc/%d/maps (user %d's child): %s, not unlinked",
                 (int)ch[i].child, ch[i].place, name);
        hh_note(c, "/proc/%d/maps (child of user %d): %s (deleted)",
                (int)ch[i].child, ch[i].place, name);
    }
    check_no_shm_entry(c, pid, "while the server runs");
    hh_note(c, "ls /dev/shm: no hpsp-chat-%d-*: the name was removed at "
               "once; the memory lives while it is mapped", (int)pid);
    static const char hi[] = "through an unlinked object\n";
    chat_say(c, ch, N, 1, hi, sizeof hi - 1);
    chat_stop(c, srv);
}

/* What the kernel was asked: openat of /dev/shm with O_EXCL and 0600,
 * ftruncate, a shared mapping, unlink before the first client; a
 * socketpair and a fork per client; every child waited for. */
static void
shm_chat_syscalls(struct hh_ctx *c)
{
    enum { N = 2 };
    struct chatter ch[N];
    const char *args[] = {"127.0.0.1", "0", NULL};
    struct hh_spawn opt = {
        .role = "server", .must_trace = true,
        .trace = "trace=openat,ftruncate,mmap,unlink,socketpair,clone,"
                 "clone3,fork,listen,wait4,kill"};
    struct hh_proc *srv = hh_startv(c, &opt, "shm_chat_server", args);
    hh_wait_listening(srv);
    check_no_shm_entry(c, hh_pid(srv), "once the server listens");
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);
    static const char hi[] = "traced\n";
    chat_say(c, ch, N, 0, hi, sizeof hi - 1);
    hh_stop(srv);

    size_t pos = 0;
    HH_CHECK(c, hh_trace_next(srv, &pos, "^openat\\(AT_FDCWD, "
                                         "\"/dev/shm/(hpsp-chat-[0-9]+-[0-9]+)"
                                         "\", ([A-Z_|]+), 0600\\) = ([0-9]+)"),
             "no openat of /dev/shm/hpsp-chat-PID-N with mode 0600");
    char name[HH_GROUP_LEN], flags[HH_GROUP_LEN];
    snprintf(name, sizeof name, "%s", srv->groups[1]);
    snprintf(flags, sizeof flags, "%s", srv->groups[2]);
    long long fd = hh_group_ll(srv, 3);
    HH_CHECK(c, strstr(flags, "O_CREAT") && strstr(flags, "O_EXCL"),
             "shm_open flags %s: want O_CREAT|O_EXCL", flags);
    char re[HH_GROUP_LEN + 64];
    snprintf(re, sizeof re, "^ftruncate\\(%lld, ([0-9]+)\\) += 0", fd);
    HH_CHECK(c, hh_trace_next(srv, &pos, re), "no ftruncate of fd %lld", fd);
    long long size = hh_group_ll(srv, 1);
    snprintf(re, sizeof re, "^mmap\\(NULL, %lld, PROT_READ\\|PROT_WRITE, "
                            "MAP_SHARED, %lld, 0\\)", size, fd);
    HH_CHECK(c, hh_trace_next(srv, &pos, re), "no shared mapping of fd %lld",
             fd);
    snprintf(re, sizeof re, "^unlink\\(\"/dev/shm/%s\"\\) += 0", name);
    HH_CHECK(c, hh_trace_next(srv, &pos, re), "%s never unlinked after "
                                              "mmap", name);
    size_t unlinked = pos;
    pos = 0;
    HH_CHECK(c, hh_trace_next(srv, &pos, "^socketpair\\(") && unlinked < pos,
             "the name was not unlinked before the first client came");
    int pairs = hh_trace_count(srv, "socketpair\\(AF_UNIX, SOCK_SEQPACKET");
    /* processes, not threads (a sanitizer runtime starts threads of its
     * own): a clone with CLONE_THREAD is not a fork.  Counted where each
     * call starts, which holds its flags even when strace splits the call
     * around another process's ("<unfinished ...>") */
    int forks = hh_trace_count(srv, "^([0-9]+ +)?(clone3?|fork)\\(") -
                hh_trace_count(srv, "^([0-9]+ +)?clone3?\\(.*CLONE_THREAD");
    int waits = hh_trace_count(srv, "(wait4\\(-?[0-9]+, \\[|wait4 resumed>)"
                                    ".* += [1-9][0-9]*$");
    hh_note(c, "strace: openat(\"/dev/shm/%s\", %s, 0600), ftruncate(%lld), "
               "mmap(MAP_SHARED), unlink before any client; %d socketpair(s), "
               "%d fork(s), %d child(ren) reaped by wait4", name, flags,
            size, pairs, forks, waits);
    HH_CHECK(c, pairs == N && forks == N && waits == N,
             "want %d socketpairs, forks and reaped children", N);
}

/* A client that reads nothing: the writers wait for their slots, then
 * the stalled one is dropped and the room goes on. */
static void
shm_chat_slow_client(struct hh_ctx *c)
{
    enum { N = 3, MSGS = 500, BASE = 1000 };
    struct chatter ch[N + 1];
    const char *opts[] = {"-q", "-t", "400ms", NULL};
    int sent[N + 1];
    char re[128];
    struct hh_proc *srv = chat_server(c, opts);
    for (int i = 0; i < N + 1; i++) {
        /* the last one reads nothing: its window fills, then its child's
         * send buffer, then its child holds every writer's slots */
        chat_join_rcvbuf(srv, &ch[i], i < N ? 0 : 2048);
        sent[i] = i < N ? MSGS : 0;
    }
    ch[N].leave = true;
    chat_script(c, ch, N + 1, sent, BASE);
    hh_note(c, "harness: %d users send %d lines of about %d bytes each; "
               "user %d reads nothing (-t 400ms)", N, MSGS, BASE + 50,
            ch[N].place);
    long long t0 = hh_now_ms();
    chat_pump(c, ch, N, 15000);
    snprintf(re, sizeof re, "^user %d: the client took nothing for 400 ms",
             ch[N].place);
    hh_expect_line(srv, re, 3000);
    snprintf(re, sizeof re, "^user %d left: child %d exited 0$", ch[N].place,
             (int)ch[N].child);
    hh_expect_line(srv, re, 3000);
    for (int i = 0; i < N; i++)
        chat_verify(c, i, &ch[i], N + 1, sent, BASE);
    hh_note(c, "after %lld ms the %d readers had every line, each once, in "
               "order; the stalled user was dropped", hh_now_ms() - t0, N);
    chat_stop(c, srv);
}

/* A reader slower than the writers holds them back: its child sends from
 * the slots as its client takes bytes, and the writers wait for their
 * slots.  Nothing is lost or overwritten. */
static void
shm_chat_slow_reader(struct hh_ctx *c)
{
    enum { N = 3, MSGS = 300, BASE = 2000, PAUSE_MS = 300 };
    struct chatter ch[N];
    const char *opts[] = {"-q", NULL};
    int sent[N] = {MSGS, MSGS, 0};
    struct hh_proc *srv = chat_server(c, opts);
    for (int i = 0; i < N; i++)
        chat_join_rcvbuf(srv, &ch[i], i < N - 1 ? 0 : 4096);
    chat_script(c, ch, N, sent, BASE);
    hh_note(c, "harness: users %d and %d send %d lines of about %d bytes "
               "each (%zu bytes to every reader); user %d reads nothing "
               "for %d ms", ch[0].place, ch[1].place, MSGS, BASE + 50,
            ch[2].rx_want, ch[2].place, PAUSE_MS);
    chat_pump_for(c, ch, N - 1, PAUSE_MS, false);
    hh_note(c, "after %d ms: the senders had sent %zu and %zu bytes, user "
               "%d received %zu of %zu: the writers wait for their slots",
            PAUSE_MS, ch[0].tx_off, ch[1].tx_off, ch[1].place, ch[1].rx_len,
            ch[1].rx_want);
    HH_CHECK(c, ch[1].rx_len < ch[1].rx_want,
             "everything arrived while a reader took nothing: the test "
             "did not fill the server's buffers");
    chat_pump(c, ch, N, 20000);
    for (int i = 0; i < N; i++)
        chat_verify(c, i, &ch[i], N, sent, BASE);
    chat_quiet(c, ch, N);
    hh_note(c, "then the slow reader read: all three received every line "
               "once, in order, whole");
    chat_stop(c, srv);
}

/* The child sends the line's bytes: never the 1024-byte slot with its
 * NUL padding. */
static void
regress_13_4_whole_slot(struct hh_ctx *c)
{
    enum { N = 2 };
    struct chatter ch[N];
    struct hh_proc *srv = chat_server(c, NULL);
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);
    chat_say(c, ch, N, 0, "hi\n", 3);
    chat_say(c, ch, N, 1, "x\n", 2);
    hh_note(c, "3 and 2 bytes arrived, and nothing more: no padding");
    chat_stop(c, srv);
}

/* Stop reader R's child (SIGSTOP) so it cannot send; returns its pid. */
static void
freeze(struct hh_ctx *c, const struct chatter *r)
{
    hh_note(c, "harness: kill -STOP %d (user %d's child)", (int)r->child,
            r->place);
    HH_CHECK(c, kill(r->child, SIGSTOP) == 0, "kill -STOP %d: %s",
             (int)r->child, strerror(errno));
}

static void
thaw(struct hh_ctx *c, const struct chatter *r)
{
    hh_note(c, "harness: kill -CONT %d", (int)r->child);
    kill(r->child, SIGCONT);
}

/* A slot is not written again before every child has sent it: with one
 * reader's child stopped, a writer gets through its slots and then
 * waits, and the stopped reader still gets the first lines intact. */
static void
regress_13_4_slot_overwrite(struct hh_ctx *c)
{
    enum { N = 3, MSGS = 4 * CHAT_SLOTS };
    struct chatter ch[N];
    int sent[N] = {MSGS, 0, 0};
    const char *opts[] = {"-q", NULL};
    struct hh_proc *srv = chat_server(c, opts);
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);
    freeze(c, &ch[2]);
    chat_script(c, ch, N, sent, 0);
    struct chatter stopped = ch[2];
    ch[2].rx_want = 0; /* read later */
    hh_note(c, "harness: user %d sends %d lines, %d times its slots",
            ch[0].place, MSGS, MSGS / CHAT_SLOTS);
    /* user 1 gets the first CHAT_SLOTS lines, then the writer waits */
    size_t first = 0;
    char msg[MSG_ROOM];
    for (int k = 0; k < CHAT_SLOTS; k++)
        first += make_message(msg, 0, k, 0);
    size_t all = ch[1].rx_want;
    ch[1].rx_want = first;
    chat_pump(c, ch, 2, 5000);
    hh_observe(c, 300);
    ssize_t more = recv(ch[1].fd, msg, sizeof msg, MSG_DONTWAIT);
    hh_note(c, "user %d got the first %d lines; then %s", ch[1].place,
            CHAT_SLOTS, more > 0 ? "more" : "nothing: the writer waits for "
                                           "the stopped reader");
    HH_CHECK(c, more < 0, "user %d received more than %d lines while the "
                          "writer's %d slots were all unsent by user %d",
             ch[1].place, CHAT_SLOTS, CHAT_SLOTS, ch[2].place);
    thaw(c, &ch[2]);
    ch[1].rx_want = all;
    ch[2] = stopped;
    chat_pump(c, ch, N, 10000);
    for (int i = 1; i < N; i++)
        chat_verify(c, i, &ch[i], N, sent, 0);
    hh_note(c, "the stopped reader, resumed, got all %d lines in order and "
               "intact: no slot was written before it had sent it", MSGS);
    chat_stop(c, srv);
}

/* The book's slot moving: a place is given to a newcomer while its last
 * message is still being sent.  Here a place whose message a stopped
 * reader has not sent stays taken (a newcomer is refused), and the
 * message arrives intact once the reader runs again. */
static void
regress_13_4_place_reused(struct hh_ctx *c)
{
    enum { N = 3 };
    struct chatter ch[N], late;
    const char *opts[] = {"-u", "3", NULL};
    char re[128], buf[128];
    struct hh_proc *srv = chat_server(c, opts);
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);
    freeze(c, &ch[2]);
    static const char last[] = "the last words of the first user\n";
    size_t len = sizeof last - 1;
    ch[1].rx = hh_alloc(c, len);
    ch[1].rx_want = len;
    ch[0].tx = last;
    ch[0].tx_len = len;
    ch[0].leave = true;
    chat_pump(c, ch, 2, 3000);
    hh_close(c, ch[0].fd);
    snprintf(re, sizeof re, "^user %d left: child %d exited 0$", ch[0].place,
             (int)ch[0].child);
    hh_expect_line(srv, re, 3000);
    hh_note(c, "harness: user %d said its last words and left; user %d's "
               "child, stopped, has not sent them yet; a newcomer comes",
            ch[0].place, ch[2].place);
    int fd = hh_connect(c, &srv->addr, 2000);
    size_t n = hh_recv_all(c, fd, buf, sizeof buf - 1, 3000);
    buf[n] = '\0';
    HH_CHECK(c, strstr(buf, "room full") != NULL,
             "a newcomer was let in while the place of user %d still held "
             "a message not sent to user %d", ch[0].place, ch[2].place);
    hh_note(c, "the newcomer was refused: the place is not free while its "
               "message waits");
    thaw(c, &ch[2]);
    ch[2].rx = hh_alloc(c, len + 1);
    ch[2].rx_want = len;
    chat_pump(c, &ch[2], 1, 3000);
    HH_CHECK(c, memcmp(ch[2].rx, last, len) == 0,
             "user %d received \"%.*s\", not the last words", ch[2].place,
             (int)len, ch[2].rx);
    snprintf(re, sizeof re, "^place %d is free again$", ch[0].place);
    hh_expect_line(srv, re, 3000);
    chat_join(srv, &late);
    HH_CHECK(c, late.place == ch[0].place, "the newcomer got place %d",
             late.place);
    ch[0] = late;
    chat_say(c, ch, N, 0, "the newcomer\n", 13);
    chat_stop(c, srv);
}

/* The children run without the parent's handlers and hold only their
 * own descriptors; SIGTERM ends a child, not the room. */
static void
regress_13_4_child_hygiene(struct hh_ctx *c)
{
    enum { N = 3 };
    struct chatter ch[N];
    char path[64], link[256], re[128];
    struct hh_proc *srv = chat_server(c, NULL);
    for (int i = 0; i < N; i++)
        chat_join(srv, &ch[i]);
    /* a child that has sent its client a line is past its setup */
    chat_say(c, ch, N, 0, "settled\n", 8);
    chat_say(c, ch, N, 1, "settled too\n", 12);
    bool valgrind = getenv("HPSP_VALGRIND") && *getenv("HPSP_VALGRIND");
    for (int i = 0; i < N; i++) {
        pid_t pid = ch[i].child;
        int sockets = 0, shm = 0;
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        HH_CHECK(c, d != NULL, "opendir %s: %s", path, strerror(errno));
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char fdpath[340];
            snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
            ssize_t k = readlink(fdpath, link, sizeof link - 1);
            if (k <= 0)
                continue;
            link[k] = '\0';
            sockets += strncmp(link, "socket:", 7) == 0;
            shm += strncmp(link, "/dev/shm/", 9) == 0;
        }
        closedir(d);
        hh_note(c, "%s: %d sockets (its client, its socketpair end), %d "
                   "/dev/shm descriptor(s)", path, sockets, shm);
        HH_CHECK(c, sockets == 2 && shm == 0,
                 "user %d's child %d holds %d sockets and %d /dev/shm fd(s): "
                 "want its client and its socketpair end only (no listener, "
                 "no other child's socketpair)", ch[i].place, (int)pid,
                 sockets, shm);
        if (valgrind)
            continue; /* valgrind catches every signal itself */
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        size_t len;
        char *status = hh_read_file(c, path, &len);
        char *cgt = strstr(status, "SigCgt:");
        HH_CHECK(c, cgt != NULL, "no SigCgt in %s", path);
        unsigned long long mask = strtoull(cgt + 7, NULL, 16);
        hh_note(c, "%s: SigCgt %016llx: no handler of the parent's", path,
                mask);
        const int sigs[] = {SIGTERM, SIGINT, SIGCHLD};
        for (size_t s = 0; s < 3; s++)
            HH_CHECK(c, !(mask & (1ULL << (sigs[s] - 1))),
                     "user %d's child catches SIG%s: the parent's handler",
                     ch[i].place, sigabbrev_np(sigs[s]));
    }
    hh_note(c, "harness: kill -TERM %d (user %d's child)", (int)ch[1].child,
            ch[1].place);
    kill(ch[1].child, SIGTERM);
    snprintf(re, sizeof re, "^user %d left: child %d killed by SIGTERM$",
             ch[1].place, (int)ch[1].child);
    hh_expect_line(srv, re, 3000);
    hh_expect_eof(c, ch[1].fd, 3000);
    HH_CHECK(c, !hh_output_has(srv, "stopping"),
             "a SIGTERM to a child stopped the server");
    struct chatter rest[2] = {ch[0], ch[2]};
    chat_say(c, rest, 2, 0, "still a room\n", 13);
    chat_stop(c, srv);
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
    {"shm_chat_relay", "13-4",
     "a chat room, one process per client: a line reaches every other user",
     "five clients, five children of the server in /proc; each line went "
     "once into shared memory and was sent by four children to their "
     "clients, never back to its sender.",
     0, shm_chat_relay},
    {"shm_chat_many", "13-4",
     "five users send 300 lines each at once: each arrives once, in order",
     "only slot numbers crossed the socketpairs; every child sent each "
     "line from the shared mapping, and a slot was written again only "
     "after all had sent it.",
     0, shm_chat_many},
    {"shm_chat_leave_midway", "13-4",
     "a user leaves in the middle of the traffic: nobody loses a line",
     "the leaver's lines, posted before it left, still reached everybody; "
     "what it had not sent yet was released by the parent when its child "
     "ended.",
     0, shm_chat_leave_midway},
    {"shm_chat_room_full", "13-4",
     "room for 5: the 6th user is refused with a line that says so",
     "the refusal is one line, then the connection closes; a place that "
     "frees is given to the next user.",
     0, shm_chat_room_full},
    {"shm_chat_long_lines", "13-4",
     "a 1024-byte line, a line one byte a send, the longest line, one too "
     "long",
     "a message is the line's bytes, whatever the sends that carried it; "
     "a line over 4096 bytes is dropped and its sender told.",
     0, shm_chat_long_lines},
    {"shm_chat_unlinked", "13-4",
     "the shared object is unlinked right after mmap",
     "/proc/PID/maps shows /dev/shm/hpsp-chat-PID-N (deleted) in the "
     "server and every child, and ls /dev/shm shows nothing: the memory "
     "lives as long as a mapping, and a crash leaves no name behind.",
     0, shm_chat_unlinked},
    {"shm_chat_syscalls", "13-4",
     "shm_open is openat on /dev/shm; then ftruncate, mmap, unlink",
     "O_CREAT|O_EXCL and mode 0600, a MAP_SHARED mapping of the fd, the "
     "name unlinked before any client; one socketpair and one fork per "
     "client, "
     "each child reaped by wait4.",
     HH_NEED_STRACE, shm_chat_syscalls},
    {"shm_chat_slow_reader", "13-4",
     "a slow reader holds the writers back; nothing is lost or overwritten",
     "its child sent from the slots as its client took bytes; the writers "
     "waited for their slots meanwhile, and read their clients no more.",
     0, shm_chat_slow_reader},
    {"shm_chat_slow_client", "13-4",
     "a client that reads nothing is dropped after -t; the room goes on",
     "the writers waited for their slots (nothing was overwritten), then "
     "the stalled user was dropped and every other line arrived.",
     0, shm_chat_slow_client},
    {"regress_13_4_whole_slot", "13-4",
     "a message is its bytes, not the 1024-byte slot",
     "the book sends the whole slot, text and NUL padding.", HH_REGRESSION,
     regress_13_4_whole_slot},
    {"regress_13_4_slot_overwrite", "13-4",
     "a slot is not written again before every child has sent it",
     "with one reader stopped, the writer waited after its 8 slots; the "
     "book's next message overwrites the slot whatever the others sent.",
     HH_REGRESSION, regress_13_4_slot_overwrite},
    {"regress_13_4_place_reused", "13-4",
     "a place is not reused while its last message is being sent",
     "the book moves the last user into a freed index while that child "
     "still writes its old slot, which the next newcomer is given too.",
     HH_REGRESSION, regress_13_4_place_reused},
    {"regress_13_4_child_hygiene", "13-4",
     "children reset the parent's handlers and close what is not theirs",
     "SigCgt in /proc/PID/status, the sockets in /proc/PID/fd: the book's "
     "children keep handlers that write to a closed signal pipe.",
     HH_REGRESSION, regress_13_4_child_hygiene},
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
    {.name = "shm_chat_server", .listing = "13-4",
     .syscalls = "trace=openat,ftruncate,mmap,unlink,socketpair,clone,clone3,"
                 "wait4,kill",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_IP_PORT,
     HH_ROWS({{"-u", "0", "127.0.0.1", "0", NULL}, 2, "USERS '0': out of "},
             {{"-u", "65", "127.0.0.1", "0", NULL}, 2, "USERS '65': out of "},
             {{"-u", "x", "127.0.0.1", "0", NULL}, 2, "USERS 'x': not a "},
             {{"-t", "0", "127.0.0.1", "0", NULL}, 2, "STALL '0': out of "},
             {{"-t", "soon", "127.0.0.1", "0", NULL}, 2, "STALL 'soon': not "},
             HH_SERVER_IN_USE("-u", "2", ))},
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
