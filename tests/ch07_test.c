/*
 * ch07_test.c - chapter 7, server programming conventions: one scenario
 * per lesson.
 *
 * Who a process is (7-1, 7-2) can only be shown by changing it, so most
 * of these scenarios need root: they skip with a message elsewhere.  The
 * unprivileged side is played by uid/gid 65534 ("nobody"), reached with
 * setpriv(1) from util-linux.  The daemon (7-3) leaves the harness's
 * process group; the test binary is a child subreaper, so the daemon
 * becomes its child, which the scenario checks, and its pid is tracked
 * so a failed check never leaves it running.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534
#define NOBODY_TEXT "65534"

/* ---- helpers ------------------------------------------------------------ */

/* Absolute path of TOOL on PATH into BUF, or skip the scenario. */
static const char *
need_tool(struct hh_ctx *c, const char *tool, const char *why, char *buf,
          size_t len)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin:/usr/sbin:/sbin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, len, "%.*s/%s", (int)n, path, tool);
        if (n > 0 && access(buf, X_OK) == 0)
            return buf;
        path += n + (path[n] == ':');
    }
    hh_skip(c, "%s is not installed (%s)", tool, why);
}

static bool
under_valgrind(void)
{
    const char *v = getenv("HPSP_VALGRIND");
    return v && *v;
}

/* One environment variable as the next program should see it (VALUE
 * NULL: removed).  The harness reads HPSP_VALGRIND and ASAN_OPTIONS from
 * its own environment when it starts a program. */
struct env_change {
    const char *name;
    const char *value;
};

/*
 * hh_startv with the environment changed for this one program.  If the
 * start fails, hh_startv jumps back to the runner: the jump is caught here
 * first, so the test's environment is always put back.
 */
static struct hh_proc *
start_env(struct hh_ctx *c, const struct hh_spawn *opt, const char *prog,
          const char *const *args, const struct env_change *chg, int n)
{
    enum { MAX_CHANGES = 4 };
    char *saved[MAX_CHANGES];
    jmp_buf outer;
    struct hh_proc *volatile p = NULL;

    HH_CHECK(c, n <= MAX_CHANGES, "start_env: too many changes");
    for (int i = 0; i < n; i++) {
        const char *v = getenv(chg[i].name);
        saved[i] = v ? strdup(v) : NULL;
    }
    memcpy(outer, c->jump, sizeof outer);
    if (setjmp(c->jump) == 0) {
        for (int i = 0; i < n; i++) {
            if (chg[i].value)
                setenv(chg[i].name, chg[i].value, 1);
            else
                unsetenv(chg[i].name);
        }
        p = hh_startv(c, opt, prog, args);
    }
    for (int i = 0; i < n; i++) {
        if (saved[i])
            setenv(chg[i].name, saved[i], 1);
        else
            unsetenv(chg[i].name);
        free(saved[i]);
    }
    memcpy(c->jump, outer, sizeof outer);
    if (p == NULL)
        longjmp(c->jump, 1);
    return p;
}

/* Start PROG without valgrind (NO_VALGRIND says why, NULL: keep it) and
 * with LeakSanitizer off (NO_LSAN says why, NULL: keep it).  The reason
 * goes to the transcript when it changes anything. */
static struct hh_proc *
start_native(struct hh_ctx *c, const struct hh_spawn *opt, const char *prog,
             const char *const *args, const char *no_valgrind,
             const char *no_lsan)
{
    char asan[512];
    const char *a = getenv("ASAN_OPTIONS");
    struct env_change chg[2];
    int n = 0;
    if (no_valgrind && under_valgrind()) {
        hh_note(c, "harness: %s runs without valgrind: %s", prog,
                no_valgrind);
        chg[n++] = (struct env_change){"HPSP_VALGRIND", NULL};
    }
    if (no_lsan && a) {
        hh_note(c, "harness: %s runs without LeakSanitizer: %s", prog,
                no_lsan);
        snprintf(asan, sizeof asan, "%s:detect_leaks=0", a);
        chg[n++] = (struct env_change){"ASAN_OPTIONS", asan};
    }
    return start_env(c, opt, prog, args, chg, n);
}

/*
 * Run the program under test through a wrapper (setpriv, prlimit):
 * WRAP is its absolute path and options.  The harness would put valgrind
 * around the wrapper, not the program: with INNER_VALGRIND the program
 * gets its own valgrind after the wrapper (errors on stderr, exit 99);
 * without, both run natively (for limits valgrind emulates).
 */
static struct hh_proc *
start_wrapped(struct hh_ctx *c, const char *role, const char *const *wrap,
              bool inner_valgrind, const char *prog, const char *const *args)
{
    static const char *const vg[] = {
        "valgrind", "-q", "--vgdb=no", "--error-exitcode=99",
        "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
        "--show-leak-kinds=definite,indirect", NULL};
    const char *argv[40];
    char path[PATH_MAX];
    int n = 0;

    for (int i = 1; wrap[i]; i++)
        argv[n++] = wrap[i];
    argv[n++] = "--";
    if (inner_valgrind && under_valgrind())
        for (int i = 0; vg[i]; i++)
            argv[n++] = vg[i];
    argv[n++] = hh_prog_path(prog, path, sizeof path);
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    HH_CHECK(c, access(path, X_OK) == 0, "program %s not found at %s",
             prog, path);
    struct hh_spawn opt = {.role = role};
    if (!inner_valgrind && under_valgrind())
        return start_native(c, &opt, wrap[0], argv,
                            "valgrind emulates the fd limits itself", NULL);
    return hh_startv(c, &opt, wrap[0], argv);
}

/* setpriv as uid/gid 65534 with no supplementary groups. */
static struct hh_proc *
start_as_nobody(struct hh_ctx *c, const char *prog, const char *const *args)
{
    char setpriv[PATH_MAX];
    need_tool(c, "setpriv", "util-linux", setpriv, sizeof setpriv);
    const char *wrap[] = {setpriv, "--reuid=" NOBODY_TEXT,
                          "--regid=" NOBODY_TEXT, "--clear-groups", NULL};
    char role[64];
    snprintf(role, sizeof role, "%s as nobody", prog);
    return start_wrapped(c, role, wrap, true, prog, args);
}

static long
number(struct hh_proc *p, int group)
{
    return strtol(p->groups[group], NULL, 10);
}

/* Track every child of ours the harness did not start: a daemon that
 * re-parented to us (the subreaper).  Teardown then kills it. */
static void
track_strays(struct hh_ctx *c)
{
    char path[64];
    long pid;
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fscanf(f, "%ld", &pid) == 1)
        hh_track_pid(c, (pid_t)pid);
    fclose(f);
}

/* The value after "NAME:" in /proc/PID/status, or "" */
static void
status_field(struct hh_ctx *c, long pid, const char *name, char *out,
             size_t len)
{
    char path[64], line[256];
    size_t nl = strlen(name);
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    HH_CHECK(c, f != NULL, "open %s: %s", path, strerror(errno));
    out[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
            char *v = line + nl + 1;
            v += strspn(v, " \t");
            v[strcspn(v, "\n")] = '\0';
            snprintf(out, len, "%s", v);
            break;
        }
    }
    fclose(f);
}

struct proc_stat {
    long ppid, pgrp, session, tty_nr;
};

/* proc(5): pid (comm) state ppid pgrp session tty_nr ... */
static void
read_stat(struct hh_ctx *c, long pid, struct proc_stat *st)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    HH_CHECK(c, f != NULL, "open %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')'); /* comm may hold spaces and ')' */
    HH_CHECK(c, rp && sscanf(rp + 1, " %*c %ld %ld %ld %ld", &st->ppid,
                             &st->pgrp, &st->session, &st->tty_nr) == 4,
             "cannot parse %s", path);
}

static void
proc_link(struct hh_ctx *c, long pid, const char *what, char *out,
          size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, what);
    ssize_t n = readlink(path, out, len - 1);
    HH_CHECK(c, n >= 0, "readlink %s: %s", path, strerror(errno));
    out[n] = '\0';
}

/* Wait until PID, a daemon re-parented to us (the subreaper), has
 * exited, and reap it: its wait status.  Under strace the tracer sees the
 * exit first and hands the zombie on to us a moment later, so the status
 * is waited for too, within the same deadline: it is never skipped. */
static int
reap_daemon(struct hh_ctx *c, pid_t pid, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    HH_CHECK(c, pfd >= 0, "pidfd_open(%d): %s: the daemon was reaped "
             "elsewhere, its exit status is lost", (int)pid, strerror(errno));
    int gone = hh_wait_fd(c, pfd, POLLIN, timeout_ms);
    close(pfd);
    HH_CHECK(c, gone, "the daemon is still running %d ms after SIGTERM",
             hh_ms(c, timeout_ms));
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            hh_untrack_pid(c, pid);
            return status;
        }
        HH_CHECK(c, r == 0, "waitpid(%d): %s: the daemon's exit status is "
                 "lost", (int)pid, strerror(errno));
        HH_CHECK(c, hh_now_ms() < deadline, "the daemon has exited, but "
                 "its status did not reach the test (its new parent) within "
                 "%d ms", hh_ms(c, timeout_ms));
        hh_observe(c, 1); /* no event says "waitable by us" */
    }
}

/* The number (from 1) of the first call in P's trace after the first
 * FROM that matches ERE, or -1. */
static int
trace_index(struct hh_proc *p, const char *ere, int from)
{
    size_t pos = from > 0 ? (size_t)from : 0;
    return hh_trace_next(p, &pos, ere) ? (int)pos : -1;
}

/* ---- 7-1 real and effective user id ------------------------------------ */

struct uids {
    long real, eff, saved;
};

static void
read_uids(struct hh_proc *p, struct uids *u)
{
    hh_expect_line(p, "^real uid: ([0-9]+)$", 3000);
    u->real = number(p, 1);
    hh_expect_line(p, "^effective uid: ([0-9]+)$", 3000);
    u->eff = number(p, 1);
    hh_expect_line(p, "^saved set-user-id: ([0-9]+)$", 3000);
    u->saved = number(p, 1);
}

static void
expect_uids(struct hh_proc *p, struct uids *u)
{
    read_uids(p, u);
    hh_expect_exit(p, 0, 3000);
}

static void
show_uids_self(struct hh_ctx *c)
{
    uid_t r, e, s;
    struct uids u;
    getresuid(&r, &e, &s);
    expect_uids(hh_start(c, "show_uids", "show_uids", NULL), &u);
    HH_CHECK(c, u.real == (long)r && u.eff == (long)e && u.saved == (long)s,
             "show_uids says %ld/%ld/%ld, the test runs as %u/%u/%u",
             u.real, u.eff, u.saved, r, e, s);
}

static void
show_uids_nobody(struct hh_ctx *c)
{
    static const char *const none[] = {NULL};
    struct uids u;
    expect_uids(start_as_nobody(c, "show_uids", none), &u);
    HH_CHECK(c, u.real == NOBODY && u.eff == NOBODY && u.saved == NOBODY,
             "as nobody: %ld/%ld/%ld, expected 65534 three times", u.real,
             u.eff, u.saved);
}

static void
show_uids_setuid(struct hh_ctx *c)
{
    char nnp[16], src[PATH_MAX], copy[256];
    struct statvfs vfs;
    status_field(c, getpid(), "NoNewPrivs", nnp, sizeof nnp);
    if (strcmp(nnp, "0") != 0)
        hh_skip(c, "this test runs with no_new_privs (NoNewPrivs: %s): "
                   "set-user-id bits are ignored", nnp);

    /* a set-user-id copy owned by 65534, in the scenario's temp dir */
    hh_tmpfile(c, "show_uids-setuid", copy, sizeof copy);
    HH_CHECK(c, statvfs(c->tmpdir, &vfs) == 0, "statvfs %s: %s", c->tmpdir,
             strerror(errno));
    if (vfs.f_flag & ST_NOSUID)
        hh_skip(c, "%s is on a nosuid mount: set-user-id bits are ignored "
                   "there (set TMPDIR elsewhere)", c->tmpdir);
    size_t len;
    char *bin = hh_read_file(c, hh_prog_path("show_uids", src, sizeof src),
                             &len);
    int fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    HH_CHECK(c, fd >= 0, "create %s: %s", copy, strerror(errno));
    ssize_t w = write(fd, bin, len);
    int e = errno;
    close(fd);
    HH_CHECK(c, w == (ssize_t)len, "write %s: %s", copy,
             w < 0 ? strerror(e) : "short");
    /* chown clears the set-user-id bit, so chmod comes after it */
    HH_CHECK(c, chown(copy, NOBODY, (gid_t)-1) == 0 && chmod(copy, 04755) == 0,
             "chown/chmod %s: %s", copy, strerror(errno));
    hh_note(c, "harness: copied show_uids to %s, owner 65534, mode 4755",
            copy);

    /* not traced: strace (as valgrind) runs it without the set-user-id
     * bit; the harness traces only names in the teaching table */
    struct hh_spawn opt = {.role = "set-uid copy"};
    const char *none[] = {NULL};
    struct uids u;
    struct hh_proc *p = start_native(
        c, &opt, copy, none,
        "valgrind would run it without the set-user-id bit", NULL);
    read_uids(p, &u);
    int st = hh_wait_exit(p, 3000);
    if (getenv("ASAN_OPTIONS") && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
        p->err.len > 0 &&
        strstr(p->err.data, "LeakSanitizer has encountered a fatal error"))
        /* a set-user-id process may not read its own /proc/self/environ,
         * so ASan never sees ASAN_OPTIONS (detect_leaks=0), and LSan then
         * cannot ptrace it: exit 1 is the sanitizer's, not the program's */
        hh_note(c, "harness: LeakSanitizer cannot run in a set-user-id "
                   "process; its exit 1 is ignored");
    else
        HH_CHECK(c, WIFEXITED(st) && WEXITSTATUS(st) == 0,
                 "the set-uid copy did not exit 0 (status 0x%x)", st);
    HH_CHECK(c, u.real == 0 && u.eff == NOBODY && u.saved == NOBODY,
             "set-uid copy run by root: real %ld effective %ld saved %ld, "
             "expected 0, 65534, 65534", u.real, u.eff, u.saved);
}

/* ---- 7-2 switching user ------------------------------------------------ */

struct ids {
    long uid[3], gid[3];
    char groups[HH_GROUP_LEN]; /* " 0 100" or " (none)" */
};

static void
expect_ids(struct hh_proc *p, const char *when, struct ids *ids)
{
    char ere[160];
    snprintf(ere, sizeof ere, "^%s: uid real ([0-9]+) effective ([0-9]+) "
                              "saved ([0-9]+)$", when);
    hh_expect_line(p, ere, 3000);
    for (int i = 0; i < 3; i++)
        ids->uid[i] = number(p, i + 1);
    snprintf(ere, sizeof ere, "^%s: gid real ([0-9]+) effective ([0-9]+) "
                              "saved ([0-9]+)$", when);
    hh_expect_line(p, ere, 3000);
    for (int i = 0; i < 3; i++)
        ids->gid[i] = number(p, i + 1);
    snprintf(ere, sizeof ere, "^%s: supplementary groups:(( [0-9]+)+| "
                              "\\(none\\))$", when);
    hh_expect_line(p, ere, 3000);
    snprintf(ids->groups, sizeof ids->groups, "%s", p->groups[1]);
}

static bool
all_ids(const struct ids *ids, long want)
{
    for (int i = 0; i < 3; i++)
        if (ids->uid[i] != want || ids->gid[i] != want)
            return false;
    return true;
}

static bool
has_group(const struct ids *ids, long gid)
{
    char word[32];
    snprintf(word, sizeof word, " %ld", gid);
    size_t n = strlen(word);
    for (const char *s = strstr(ids->groups, word); s;
         s = strstr(s + 1, word))
        if (s[n] == '\0' || s[n] == ' ')
            return true;
    return false;
}

static int
count_groups(const struct ids *ids)
{
    int n = 0;
    if (strcmp(ids->groups, " (none)") == 0)
        return 0;
    for (const char *s = ids->groups; *s; s++)
        n += *s == ' ';
    return n;
}

/* root with supplementary groups 0 and 100, as root's shell often has,
 * so that what happens to them shows */
static struct hh_proc *
start_root_with_groups(struct hh_ctx *c, const char *const *args)
{
    char setpriv[PATH_MAX];
    need_tool(c, "setpriv", "util-linux", setpriv, sizeof setpriv);
    const char *wrap[] = {setpriv, "--groups=0,100", NULL};
    return start_wrapped(c, "switch_user", wrap, true, "switch_user", args);
}

static void
expect_no_root(struct hh_proc *p)
{
    hh_expect_line(p, "^setuid\\(0\\): .*\\((E[A-Z]+)\\)$", 3000);
    HH_CHECK(p->ctx, strcmp(p->groups[1], "EPERM") == 0,
             "setuid(0) after the switch failed with %s, expected EPERM",
             p->groups[1]);
    hh_expect_exit(p, 0, 3000);
}

static void
switch_user_root(struct hh_ctx *c)
{
    static const char *const args[] = {NOBODY_TEXT, NOBODY_TEXT, NULL};
    struct ids before, after;
    struct hh_proc *p = start_root_with_groups(c, args);
    expect_ids(p, "before", &before);
    HH_CHECK(c, all_ids(&before, 0) && has_group(&before, 0),
             "before: expected root with group 0 among the supplementary "
             "groups, got groups%s", before.groups);
    hh_expect_line(p, "^setgroups\\(0, NULL\\)", 3000);
    hh_expect_line(p, "^setgid\\(65534\\): ok$", 3000);
    hh_expect_line(p, "^setuid\\(65534\\): ok$", 3000);
    expect_ids(p, "after", &after);
    HH_CHECK(c, all_ids(&after, NOBODY),
             "after: uid %ld/%ld/%ld gid %ld/%ld/%ld, expected 65534 six "
             "times", after.uid[0], after.uid[1], after.uid[2], after.gid[0],
             after.gid[1], after.gid[2]);
    HH_CHECK(c, count_groups(&after) == 0,
             "after: supplementary groups%s, expected none", after.groups);
    expect_no_root(p);
}

static void
switch_user_book_bug(struct hh_ctx *c)
{
    static const char *const args[] = {"-b", NOBODY_TEXT, NOBODY_TEXT, NULL};
    struct ids before, after;
    struct hh_proc *p = start_root_with_groups(c, args);
    expect_ids(p, "before", &before);
    hh_expect_line(p, "^setuid\\(65534\\): ok$", 3000);
    expect_ids(p, "after", &after);
    HH_CHECK(c, all_ids(&after, NOBODY), "after: the ids are not all 65534");
    HH_CHECK(c, has_group(&after, 0),
             "without setgroups group 0 should have survived; groups%s",
             after.groups);
    hh_note(c, "the printed listing's switch: uid and gid are 65534, but "
               "the process is still in group 0 (root's files with g+rw)");
    expect_no_root(p);
}

static void
switch_user_by_name(struct hh_ctx *c)
{
    struct passwd *pw = getpwuid(NOBODY);
    struct group *gr = getgrgid(NOBODY);
    if (!pw || !gr)
        hh_skip(c, "no user or group 65534 in /etc/passwd, /etc/group");
    char user[64], group[64];
    snprintf(user, sizeof user, "%s", pw->pw_name);
    snprintf(group, sizeof group, "%s", gr->gr_name);
    /* what initgroups should give: the target's groups in /etc/group */
    gid_t want[64];
    int nwant = 64;
    HH_CHECK(c, getgrouplist(user, NOBODY, want, &nwant) >= 0,
             "getgrouplist %s: more than 64 groups", user);

    const char *args[] = {user, group, NULL};
    struct ids after;
    struct hh_proc *p = start_root_with_groups(c, args);
    char ere[128];
    snprintf(ere, sizeof ere, "^initgroups\\(\"%s\", 65534\\)", user);
    hh_expect_line(p, ere, 3000);
    expect_ids(p, "after", &after);
    HH_CHECK(c, all_ids(&after, NOBODY), "after: the ids are not all 65534");
    HH_CHECK(c, count_groups(&after) == nwant,
             "after: groups%s, but %s has %d group(s) in /etc/group",
             after.groups, user, nwant);
    for (int i = 0; i < nwant; i++)
        HH_CHECK(c, has_group(&after, (long)want[i]),
                 "after: groups%s, missing %s's group %u", after.groups,
                 user, (unsigned)want[i]);
    HH_CHECK(c, !has_group(&after, 0), "group 0 survived initgroups");
    expect_no_root(p);
}

static void
switch_user_refusals(struct hh_ctx *c)
{
    struct hh_proc *p =
        hh_start(c, "switch_user", "switch_user", "0", "0", NULL);
    hh_expect_err(p, "refusing to switch to uid 0 gid 0", 3000);
    hh_expect_exit(p, 1, 3000);
    p = hh_start(c, "switch_user", "switch_user", "no-such-user-hpsp",
                 NOBODY_TEXT, NULL);
    hh_expect_err(p, "no such user 'no-such-user-hpsp'", 3000);
    hh_expect_exit(p, 1, 3000);
    p = hh_start(c, "switch_user", "switch_user", NOBODY_TEXT,
                 "no-such-group-hpsp", NULL);
    hh_expect_err(p, "no such group 'no-such-group-hpsp'", 3000);
    hh_expect_exit(p, 1, 3000);
}

/* Not root: switching to someone else is refused, to oneself is a no-op. */
static void
switch_user_unprivileged(struct hh_ctx *c)
{
    bool root = geteuid() == 0;
    long me_u = root ? NOBODY : (long)getuid();
    long me_g = root ? NOBODY : (long)getgid();
    char self_u[24], self_g[24], other[24];
    snprintf(self_u, sizeof self_u, "%ld", me_u);
    snprintf(self_g, sizeof self_g, "%ld", me_g);
    snprintf(other, sizeof other, "%ld", me_u == 1 ? 2L : 1L);
    const char *to_other[] = {other, other, NULL};
    const char *to_self[] = {self_u, self_g, NULL};
    struct hh_spawn opt = {.role = "switch_user"};

    struct hh_proc *p = root ? start_as_nobody(c, "switch_user", to_other)
                             : hh_startv(c, &opt, "switch_user", to_other);
    hh_expect_err(p, "only root can switch", 3000);
    hh_expect_exit(p, 1, 3000);

    struct ids before, after;
    p = root ? start_as_nobody(c, "switch_user", to_self)
             : hh_startv(c, &opt, "switch_user", to_self);
    expect_ids(p, "before", &before);
    hh_expect_line(p, "^already uid [0-9]+ gid [0-9]+: nothing to change$",
                   3000);
    expect_ids(p, "after", &after);
    HH_CHECK(c, memcmp(before.uid, after.uid, sizeof after.uid) == 0 &&
                    memcmp(before.gid, after.gid, sizeof after.gid) == 0 &&
                    strcmp(before.groups, after.groups) == 0,
             "ids changed although the target was the caller itself");
    HH_CHECK(c, before.uid[0] == me_u && before.gid[0] == me_g,
             "ran as uid %ld gid %ld, expected %ld %ld", before.uid[0],
             before.gid[0], me_u, me_g);
    expect_no_root(p);
}

static void
switch_user_syscalls(struct hh_ctx *c)
{
    static const char *const args[] = {NOBODY_TEXT, NOBODY_TEXT, NULL};
    struct hh_spawn opt = {.role = "switch_user", .must_trace = true};
    struct hh_proc *p = hh_startv(c, &opt, "switch_user", args);
    hh_expect_exit(p, 0, 5000);
    int g = trace_index(p, "setgroups\\(0, NULL\\) += 0$", 0);
    int gid = trace_index(p, "setgid\\(65534\\) += 0$", 0);
    int uid = trace_index(p, "setuid\\(65534\\) += 0$", 0);
    int back = trace_index(p, "setuid\\(0\\) += -1 EPERM", 0);
    hh_note(c, "strace: setgroups(0, NULL) line %d, setgid(65534) line %d, "
               "setuid(65534) line %d, setuid(0) = -1 EPERM line %d",
            g, gid, uid, back);
    HH_CHECK(c, g >= 0 && gid > g && uid > gid && back > uid,
             "expected setgroups, setgid, setuid to succeed in that order, "
             "then setuid(0) to fail with EPERM");
}

/* ---- 7-3 daemonize ----------------------------------------------------- */

enum daemon_way { BY_HAND, FORK_TWICE, GLIBC_DAEMON };

struct served {
    long pid, sid, pgid, ppid;
    char cwd[256];
    unsigned umask;
};

/* One request; with a capture running, wait until its end is on the
 * wire, so the packets show up beside it in the transcript. */
static void
ask_daemon(struct hh_ctx *c, const struct sockaddr_in *sa, struct served *s,
           struct hh_proc *cap)
{
    char line[512];
    int fd = hh_connect(c, sa, 2000);
    in_port_t mine = hh_local_port(fd);
    size_t n = hh_recv_all(c, fd, line, sizeof line - 1, 3000);
    hh_close(c, fd);
    line[n] = '\0';
    HH_CHECK(c, sscanf(line, "pid %ld sid %ld pgid %ld ppid %ld cwd %255s "
                             "umask %o\n", &s->pid, &s->sid, &s->pgid,
                       &s->ppid, s->cwd, &s->umask) == 6 &&
                    n > 0 && line[n - 1] == '\n',
             "the daemon's answer is not one status line: \"%s\"", line);
    if (cap) {
        char ere[64];
        snprintf(ere, sizeof ere, "\\.%u > .*Flags \\[F", (unsigned)mine);
        hh_capture_expect(cap, ere, 3000);
    }
}

static void
daemon_run(struct hh_ctx *c, enum daemon_way way, bool must_trace)
{
    char pidfile[256];
    const char *args[8];
    int n = 0;
    if (way == FORK_TWICE)
        args[n++] = "-2";
    if (way == GLIBC_DAEMON)
        args[n++] = "-d";
    hh_tmpfile(c, "daemonize.pid", pidfile, sizeof pidfile);
    args[n++] = "-p";
    args[n++] = pidfile;
    args[n++] = "127.0.0.1";
    args[n++] = "0";
    args[n] = NULL;

    struct hh_spawn opt = {.role = "daemonize", .must_trace = must_trace};
    struct hh_proc *p =
        way == GLIBC_DAEMON && under_valgrind()
            ? start_native(c, &opt, "daemonize", args,
                           "daemon(3)'s parent exits inside glibc with the "
                           "socket and pidfile open, which --track-fds "
                           "would count",
                           NULL)
            : hh_startv(c, &opt, "daemonize", args);
    hh_wait_listening(p);
    /* CAPTURE=1: the two requests on the wire */
    struct hh_proc *cap = c->show_capture
                              ? hh_capture_start(c, ntohs(p->addr.sin_port))
                              : NULL;
    bool traced = p->trace_path[0] != '\0';
    if (traced) {
        hh_note(c, "harness: under strace -f the foreground's exit is in "
                   "the trace; strace itself lasts as long as the daemon");
    } else {
        long long t0 = hh_now_ms();
        hh_expect_exit(p, 0, 2000);
        hh_note(c, "harness: the foreground process exited 0, %lld ms "
                   "after its \"listening on\" line", hh_now_ms() - t0);
        track_strays(c);
    }

    /* 1. it serves: the answer is its pid, and the pidfile agrees */
    struct served s;
    ask_daemon(c, &p->addr, &s, cap);
    hh_track_pid(c, (pid_t)s.pid);
    size_t len;
    char *text = hh_read_file(c, pidfile, &len);
    long filed = strtol(text, NULL, 10);
    hh_note(c, "harness: %s holds \"%.*s\"", pidfile,
            (int)strcspn(text, "\n"), text);
    HH_CHECK(c, filed == s.pid && len > 0 && text[len - 1] == '\n',
             "pidfile says \"%s\", the daemon says pid %ld", text, s.pid);

    /* 2. it is detached: its own session, no terminal, our child */
    char ppid[32];
    status_field(c, s.pid, "PPid", ppid, sizeof ppid);
    if (atol(ppid) != (long)getpid()) {
        /* its parent (the foreground, or the middle process of -2) may
         * still be on its way out: then it re-parents to us */
        if (hh_wait_gone(c, (pid_t)atol(ppid), 2000))
            hh_untrack_pid(c, (pid_t)atol(ppid));
        status_field(c, s.pid, "PPid", ppid, sizeof ppid);
    }
    struct proc_stat st;
    read_stat(c, s.pid, &st);
    hh_note(c, "/proc/%ld/stat: ppid %ld pgrp %ld session %ld tty_nr %ld "
               "(the test is pid %d)", s.pid, st.ppid, st.pgrp, st.session,
            st.tty_nr, (int)getpid());
    HH_CHECK(c, atol(ppid) == (long)getpid() && st.ppid == (long)getpid(),
             "the daemon's parent is %s, not the test (pid %d), its "
             "subreaper", ppid, (int)getpid());
    HH_CHECK(c, st.tty_nr == 0, "the daemon has a controlling terminal "
                                "(tty_nr %ld)", st.tty_nr);
    HH_CHECK(c, st.pgrp == st.session,
             "process group %ld is not the session's (%ld)", st.pgrp,
             st.session);
    if (way == FORK_TWICE) {
        HH_CHECK(c, st.session != s.pid,
                 "with -2 the daemon should not lead its session (sid %ld)",
                 st.session);
        HH_CHECK(c, hh_wait_gone(c, (pid_t)st.session, 2000),
                 "the session leader %ld (the middle process) is still "
                 "running", st.session);
        hh_untrack_pid(c, (pid_t)st.session); /* reaped by hh_wait_gone */
        hh_note(c, "harness: session leader %ld has exited: no process of "
                   "the session can acquire a terminal", st.session);
    } else {
        HH_CHECK(c, st.session == s.pid,
                 "session id %ld, expected the daemon's own pid %ld "
                 "(setsid)", st.session, s.pid);
    }
    char link[PATH_MAX];
    proc_link(c, s.pid, "cwd", link, sizeof link);
    HH_CHECK(c, strcmp(link, "/") == 0, "cwd is %s, not /", link);
    for (int fd = 0; fd <= 2; fd++) {
        char which[16];
        snprintf(which, sizeof which, "fd/%d", fd);
        proc_link(c, s.pid, which, link, sizeof link);
        HH_CHECK(c, strcmp(link, "/dev/null") == 0, "fd %d is %s, not "
                                                    "/dev/null", fd, link);
    }
    char mask[16];
    status_field(c, s.pid, "Umask", mask, sizeof mask);
    HH_CHECK(c, strcmp(mask, "0000") == 0, "Umask is %s, not 0000", mask);
    hh_note(c, "/proc/%ld: cwd /, fds 0-2 on /dev/null, Umask %s", s.pid,
            mask);

    /* 3. asked again now, its own account agrees with /proc */
    ask_daemon(c, &p->addr, &s, cap);
    HH_CHECK(c, s.pid == filed && s.sid == st.session && s.pgid == st.pgrp &&
                    s.ppid == (long)getpid() && strcmp(s.cwd, "/") == 0 &&
                    s.umask == 0,
             "the daemon's line disagrees with /proc: pid %ld sid %ld pgid "
             "%ld ppid %ld cwd %s umask %04o", s.pid, s.sid, s.pgid, s.ppid,
             s.cwd, s.umask);

    /* 4. the pidfile's lock keeps a second instance out */
    struct hh_proc *second = hh_start(c, "second instance", "daemonize", "-p",
                                      pidfile, "127.0.0.1", "0", NULL);
    hh_expect_err(second, "already running: .* pid ([0-9]+)", 3000);
    HH_CHECK(c, atol(second->groups[1]) == s.pid,
             "the second instance names pid %s, the daemon is %ld",
             second->groups[1], s.pid);
    hh_expect_exit(second, 1, 3000);

    /* 5. SIGTERM: gone within a second, pidfile removed, exit 0 */
    hh_note(c, "harness: SIGTERM to the daemon, pid %ld", s.pid);
    kill((pid_t)s.pid, SIGTERM);
    int status = reap_daemon(c, (pid_t)s.pid, 1000);
    HH_CHECK(c, WIFEXITED(status) && WEXITSTATUS(status) == 0,
             "the daemon did not exit 0 (wait status 0x%x)", status);
    hh_note(c, "(daemon %ld: exit 0)", s.pid);
    HH_CHECK(c, access(pidfile, F_OK) < 0 && errno == ENOENT,
             "%s is still there after the daemon stopped", pidfile);
    hh_note(c, "harness: %s is gone", pidfile);
    if (traced)
        hh_expect_exit(p, 0, 5000); /* strace, once its tracees are gone */
    if (cap)
        hh_capture_stop(cap);
}

static void
daemon_by_hand(struct hh_ctx *c)
{
    daemon_run(c, BY_HAND, false);
}

static void
daemon_fork_twice(struct hh_ctx *c)
{
    daemon_run(c, FORK_TWICE, false);
}

static void
daemon_glibc(struct hh_ctx *c)
{
    daemon_run(c, GLIBC_DAEMON, false);
}

static void
daemon_syscalls(struct hh_ctx *c)
{
    daemon_run(c, BY_HAND, true);
    struct hh_proc *p = &c->procs[0];
    /* prefixes only: under strace -f a call can be split into
     * "<unfinished ...>" and "<... resumed>" lines.  A fork is a clone
     * without a new stack (a thread would have CLONE_VM and a stack). */
    static const char fork_ere[] = "clone\\(child_stack=NULL,|fork\\(";
    int fork1 = trace_index(p, fork_ere, 0);
    int sid = trace_index(p, "setsid\\(", 0);
    int mask = trace_index(p, "umask\\(0+", sid);
    int dir = trace_index(p, "chdir\\(\"/\"", 0);
    int null = trace_index(p, "openat\\(.*\"/dev/null\", O_RDWR", 0);
    int d0 = trace_index(p, "dup2\\([0-9]+, 0", 0);
    int d2 = trace_index(p, "dup2\\([0-9]+, 2", 0);
    int again = trace_index(p, fork_ere, fork1);
    hh_note(c, "strace lines: fork %d, setsid %d, umask(0) %d, chdir(\"/\") "
               "%d, open /dev/null %d, dup2 to 0 %d, to 2 %d",
            fork1, sid, mask, dir, null, d0, d2);
    HH_CHECK(c, fork1 >= 0 && sid > fork1 && mask > sid && dir > mask &&
                    null > dir && d0 > null && d2 > d0,
             "expected fork, setsid, umask(0), chdir(\"/\"), open "
             "/dev/null, dup2 onto 0 ... 2, in that order");
    HH_CHECK(c, again < 0, "expected exactly one fork without -2");
}

/* ---- 7.4 RLIMIT_NOFILE -------------------------------------------------- */

/* Check the experiment's report for soft limit N; returns how many it
 * found open already. */
static long
expect_emfile(struct hh_proc *p, long n)
{
    struct hh_ctx *c = p->ctx;
    char ere[64];
    snprintf(ere, sizeof ere, "^setrlimit: soft limit now %ld$", n);
    hh_expect_line(p, ere, 3000);
    hh_expect_line(p, "^already open: ([0-9]+)$", 3000);
    long already = number(p, 1);
    hh_expect_line(p, "^opened ([0-9]+) descriptors, fds ([0-9]+) to "
                      "([0-9]+)$", 20000);
    long got = number(p, 1), last = number(p, 3);
    hh_expect_line(p, "^open #([0-9]+) failed: .*\\((E[A-Z]+)\\)$", 3000);
    HH_CHECK(c, strcmp(p->groups[2], "EMFILE") == 0 &&
                    number(p, 1) == got + 1,
             "open #%s failed with %s, expected #%ld with EMFILE",
             p->groups[1], p->groups[2], got + 1);
    HH_CHECK(c, already >= 3 && got == n - already && last == n - 1,
             "soft limit %ld, %ld already open: got %ld descriptors up to "
             "fd %ld, expected %ld up to fd %ld", n, already, got, last,
             n - already, n - 1);
    snprintf(ere, sizeof ere, "^closed all %ld$", got);
    hh_expect_line(p, ere, 3000);
    hh_expect_exit(p, 0, 10000);
    return already;
}

static void
rlimit_lower(struct hh_ctx *c)
{
    struct hh_proc *p =
        hh_start(c, "rlimit_nofile", "rlimit_nofile", "-n", "64", NULL);
    hh_expect_line(p, "^RLIMIT_NOFILE: soft ([0-9]+|unlimited) hard "
                      "([0-9]+|unlimited)$", 3000);
    long already = expect_emfile(p, 64);
    hh_note(c, "64 - %ld already open = %ld descriptors, then EMFILE",
            already, 64 - already);
}

/* Raise the soft limit up to the hard one: no privilege needed.  prlimit
 * starts it with a soft limit of 256 so there is room to raise it. */
static void
rlimit_raise(struct hh_ctx *c)
{
    struct rlimit lim;
    char prlimit[PATH_MAX], want[24];
    HH_CHECK(c, getrlimit(RLIMIT_NOFILE, &lim) == 0, "getrlimit: %s",
             strerror(errno));
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < 512)
        hh_skip(c, "the hard limit (%llu) leaves no room above 256",
                (unsigned long long)lim.rlim_max);
    long n = lim.rlim_max == RLIM_INFINITY || lim.rlim_max > 4096
                 ? 4096
                 : (long)lim.rlim_max;
    snprintf(want, sizeof want, "%ld", n);
    need_tool(c, "prlimit", "util-linux", prlimit, sizeof prlimit);
    const char *wrap[] = {prlimit, "--nofile=256:", NULL};
    const char *args[] = {"-n", want, NULL};
    struct hh_proc *p =
        start_wrapped(c, "rlimit_nofile", wrap, false, "rlimit_nofile", args);
    hh_expect_line(p, "^RLIMIT_NOFILE: soft 256 hard", 3000);
    expect_emfile(p, n);
}

static bool
have_cap(int cap)
{
    char line[256];
    unsigned long long eff = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &eff) == 1)
            break;
    if (f)
        fclose(f);
    return (eff >> cap) & 1;
}

/* Above the hard limit: CAP_SYS_RESOURCE (and fs.nr_open) decide. */
static void
rlimit_hard(struct hh_ctx *c)
{
    enum { CAP_SYS_RESOURCE_BIT = 24 };
    struct rlimit lim;
    char want[24];
    HH_CHECK(c, getrlimit(RLIMIT_NOFILE, &lim) == 0, "getrlimit: %s",
             strerror(errno));
    if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= 1048576)
        hh_skip(c, "the hard limit is already at the experiment's maximum");
    long n = (long)lim.rlim_max + 64;
    snprintf(want, sizeof want, "%ld", n);
    const char *args[] = {"-n", want, NULL};
    bool can = have_cap(CAP_SYS_RESOURCE_BIT) &&
               n <= hh_read_long("/proc/sys/fs/nr_open");
    hh_note(c, "harness: hard limit %llu; this test %s CAP_SYS_RESOURCE",
            (unsigned long long)lim.rlim_max,
            have_cap(CAP_SYS_RESOURCE_BIT) ? "has" : "lacks");
    struct hh_spawn opt = {.role = "rlimit_nofile"};
    struct hh_proc *p = can ? start_native(c, &opt, "rlimit_nofile", args,
                                           "valgrind emulates the fd limits "
                                           "and never raises the hard one",
                                           NULL)
                            : hh_startv(c, &opt, "rlimit_nofile", args);
    if (can) {
        expect_emfile(p, n);
    } else {
        hh_expect_err(p, "setrlimit .*raising the hard limit.*\\(EPERM\\)",
                      3000);
        hh_expect_exit(p, 1, 3000);
    }
    if (geteuid() == 0) { /* and an ordinary user may never do it */
        p = start_as_nobody(c, "rlimit_nofile", args);
        hh_expect_err(p, "setrlimit .*raising the hard limit.*\\(EPERM\\)",
                      3000);
        hh_expect_exit(p, 1, 3000);
    }
}

/* ---- 7.5 chroot --------------------------------------------------------- */

static void
expect_open(struct hh_proc *p, const char *when, const char *path,
            const char *content)
{
    char ere[512];
    snprintf(ere, sizeof ere, "^%s: ([^:]+): (reachable: \"(.*)\"|not "
                              "reachable: .*\\((E[A-Z]+)\\))$", when);
    hh_expect_line(p, ere, 3000);
    struct hh_ctx *c = p->ctx;
    HH_CHECK(c, strcmp(p->groups[1], path) == 0,
             "expected a line about %s, got one about %s", path,
             p->groups[1]);
    if (content)
        HH_CHECK(c, strcmp(p->groups[3], content) == 0,
                 "%s %s: expected it to read \"%s\", got: %s", when, path,
                 content, p->groups[2]);
    else
        HH_CHECK(c, strcmp(p->groups[4], "ENOENT") == 0,
                 "%s %s: expected ENOENT, got: %s", when, path,
                 p->groups[2]);
}

static void
chroot_jail(struct hh_ctx *c)
{
    char jail[256], inside[300], outside[256];
    hh_tmpfile(c, "jail", jail, sizeof jail);
    HH_CHECK(c, mkdir(jail, 0755) == 0, "mkdir %s: %s", jail,
             strerror(errno));
    snprintf(inside, sizeof inside, "%s/inside.txt", jail);
    hh_write_text(c, inside, "inside the jail\n");
    /* beside the jail: ../outside.txt seen from the jail's root */
    snprintf(outside, sizeof outside, "%s/outside.txt", c->tmpdir);
    hh_write_text(c, outside, "outside the jail\n");
    hh_note(c, "harness: %s holds inside.txt; outside.txt is beside it",
            jail);

    const char *args[] = {jail, outside, "/inside.txt", "../outside.txt",
                          NULL};
    struct hh_spawn opt = {.role = "chroot_jail"};
    struct hh_proc *p = start_native(c, &opt, "chroot_jail", args, NULL,
                                     "it reads /proc at exit, and there is "
                                     "no /proc in the jail");
    expect_open(p, "before", outside, "outside the jail");
    hh_expect_line(p, "^chroot\\(.*\\) and chdir\\(\"/\"\\): cwd is now /$",
                   3000);
    expect_open(p, "after", outside, NULL);
    expect_open(p, "after", "/inside.txt", "inside the jail");
    expect_open(p, "after", "../outside.txt", NULL);
    hh_expect_exit(p, 0, 3000);
}

static void
chroot_refused(struct hh_ctx *c)
{
    const char *args[] = {"/", NULL};
    struct hh_spawn opt = {.role = "chroot_jail"};
    struct hh_proc *p = geteuid() == 0
                            ? start_as_nobody(c, "chroot_jail", args)
                            : hh_startv(c, &opt, "chroot_jail", args);
    hh_expect_err(p, "chroot / needs root \\(CAP_SYS_CHROOT\\): .*"
                     "\\(EPERM\\)", 3000);
    hh_expect_exit(p, 1, 3000);
}

/* ---- the table --------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"show_uids", "7-1", "real, effective and saved uid of a plain process",
     "all three are the caller's: nothing has changed who this process is.",
     0, show_uids_self},
    {"show_uids_nobody", "7-1",
     "the same program started as uid 65534 (setpriv)",
     "real, effective and saved uid are all 65534: they follow who starts "
     "it.",
     HH_NEED_ROOT, show_uids_nobody},
    {"show_uids_setuid", "7-1",
     "a set-user-id copy owned by 65534, run by root: real 0, effective "
     "65534",
     "exec gave it its owner's id as effective and saved uid; the real uid "
     "still says who ran it.",
     HH_NEED_ROOT, show_uids_setuid},
    {"switch_user_root", "7-2",
     "root switches to 65534 for good: groups, then gid, then uid",
     "all six ids are 65534, root's supplementary groups (0 100) are gone, "
     "and setuid(0) fails with EPERM: root cannot be regained.",
     HH_NEED_ROOT, switch_user_root},
    {"switch_user_book_bug", "7-2",
     "the printed listing's switch (-b): no setgroups, group 0 survives",
     "uid and gid are 65534, yet the process is still in group 0: the "
     "printed version's bug.",
     HH_NEED_ROOT | HH_REGRESSION, switch_user_book_bug},
    {"switch_user_by_name", "7-2",
     "switching to a user by name: initgroups gives the user's own groups",
     "after initgroups the groups are exactly those /etc/group lists for "
     "the user, and group 0 is gone.",
     HH_NEED_ROOT, switch_user_by_name},
    {"switch_user_refusals", "7-2",
     "0 0, an unknown user or group: refused with a message, exit 1",
     "switching to root is never a switch; a name must exist.", 0,
     switch_user_refusals},
    {"switch_user_unprivileged", "7-2",
     "not root: another user is refused, oneself is a no-op",
     "only root may change its ids for good; asking for the ids one already "
     "has succeeds and changes nothing.",
     0, switch_user_unprivileged},
    {"switch_user_syscalls", "7-2",
     "the switch in the system calls: setgroups, setgid, setuid",
     "strace shows setgroups(0, NULL), setgid(65534), setuid(65534), then "
     "setuid(0) = -1 EPERM.",
     HH_NEED_ROOT | HH_NEED_STRACE, switch_user_syscalls},
    {"daemonize", "7-3",
     "daemonize by hand: fork, setsid, umask 0, chdir /, fds 0-2 on "
     "/dev/null",
     "the foreground exits at once; the daemon leads its own session with "
     "no terminal, lives in /, has umask 0000, writes nothing anywhere, is "
     "adopted by the subreaper, serves, keeps a second instance out and "
     "removes its pidfile on SIGTERM.",
     0, daemon_by_hand},
    {"daemonize_twice", "7-3",
     "daemonize with a second fork (-2): not a session leader",
     "the session id is the middle process's pid, which has exited: the "
     "daemon can never acquire a controlling terminal.",
     0, daemon_fork_twice},
    {"daemonize_glibc", "7-3", "the same with glibc's daemon(0, 0) (-d)",
     "one call does fork, setsid, chdir and /dev/null; umask 0 is added by "
     "hand (daemon(3) leaves it), and its parent exits holding every fd.",
     0, daemon_glibc},
    {"daemonize_syscalls", "7-3",
     "daemonize in the system calls, in the book's order",
     "strace -f shows clone, then in the child setsid, umask(0), chdir(\"/\"),"
     " open /dev/null and dup2 onto 0, 1, 2.",
     HH_NEED_STRACE, daemon_syscalls},
    {"rlimit_lower", "7.4",
     "RLIMIT_NOFILE lowered to 64: open() until EMFILE",
     "64 minus those already open (0, 1, 2 at least) more descriptors, up "
     "to fd 63, then EMFILE: the soft limit caps the fd numbers.",
     0, rlimit_lower},
    {"rlimit_raise", "7.4",
     "the soft limit raised from 256 up to the hard limit (no privilege)",
     "anyone may raise the soft limit as far as the hard one.", 0,
     rlimit_raise},
    {"rlimit_hard", "7.4",
     "raising the hard limit needs CAP_SYS_RESOURCE",
     "without CAP_SYS_RESOURCE (nobody, or a container's root) setrlimit "
     "fails with EPERM.",
     0, rlimit_hard},
    {"chroot_jail", "7.5",
     "chroot + chdir(\"/\"): only what is inside the jail is reachable",
     "the file beside the jail vanishes, both by its absolute path and by "
     "../; /inside.txt is now the jail's file.",
     HH_NEED_ROOT, chroot_jail},
    {"chroot_refused", "7.5", "chroot without root: EPERM, stated clearly",
     "chroot(2) needs CAP_SYS_CHROOT.", 0, chroot_refused},
};

/* Every program refuses an unknown short option too. */
#define BAD_OPTION {{"-Z", NULL}, 2, HH_USAGE}

/*
 * The programs: what TRACE=1 shows of each (the calls its lesson is
 * about), and its bad command lines (a bad_input_<name> scenario each).
 */
static const struct hh_program programs[] = {
    {.name = "show_uids", .listing = "7-1",
     .syscalls = "trace=getuid,geteuid,getresuid", .args = HH_ARGS_HELP,
     HH_ROWS(BAD_OPTION, {{"extra", NULL}, 2, HH_USAGE})},
    {.name = "switch_user", .listing = "7-2",
     .syscalls = "trace=setgroups,setgid,setuid,setresuid",
     .args = HH_ARGS_HELP,
     HH_ROWS(BAD_OPTION, {{NULL}, 2, HH_USAGE},
             {{"65534", NULL}, 2, HH_USAGE},
             {{"65534", "65534", "65534", NULL}, 2, HH_USAGE},
             {{"12x", "65534", NULL}, 2, "USER '12x'"},
             {{"65534", "4294967295", NULL}, 2, "GROUP '4294967295'"},
             {{"-1", "65534", NULL}, 2, HH_USAGE},
             {{"no-such-user-hpsp", "65534", NULL}, 1, "no such user"})},
    {.name = "daemonize", .listing = "7-3",
     .syscalls = "trace=clone,fork,setsid,umask,chdir,dup2,openat,flock",
     .flags = HH_PROG_SERVER, .args = HH_ARGS_HELP,
     HH_ROWS(BAD_OPTION, {{NULL}, 2, HH_USAGE},
             {{"127.0.0.1", NULL}, 2, HH_USAGE},
             {{"127.0.0.1", "x", NULL}, 2, "port 'x'"},
             {{"127.0.0.1", "70000", NULL}, 2, "port '70000'"},
             {{"1.2.3", "0", NULL}, 2, "IP '1\\.2\\.3'"},
             {{"-p", "relative.pid", "127.0.0.1", "0", NULL}, 2,
              "must be an absolute path"},
             {{"-d", "-2", "127.0.0.1", "0", NULL}, 2, "exclude each other"},
             {{"-p", "/nonexistent-hpsp/d.pid", "127.0.0.1", "0", NULL}, 1,
              "open pidfile .*\\(ENOENT\\)"})},
    {.name = "rlimit_nofile", .listing = "7.4",
     .syscalls = "trace=prlimit64,setrlimit,getrlimit", .args = HH_ARGS_HELP,
     HH_ROWS(BAD_OPTION, {{"extra", NULL}, 2, HH_USAGE},
             {{"-n", "0", NULL}, 2, "N '0'"}, {{"-n", "x", NULL}, 2, "N 'x'"},
             {{"-n", "2000000", NULL}, 2, "N '2000000'"},
             {{"-n", NULL}, 2, HH_USAGE})},
    {.name = "chroot_jail", .listing = "7.5",
     .syscalls = "trace=chroot,chdir,openat", .args = HH_ARGS_HELP,
     HH_ROWS(BAD_OPTION, {{NULL}, 2, HH_USAGE},
             {{"/nonexistent-hpsp", NULL}, 1, "chroot .*\\(ENOENT\\)"})},
};

static const struct hh_chapter chapter = {
    .name = "ch07-daemon",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
