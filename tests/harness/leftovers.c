/*
 * leftovers.c - nothing a scenario starts outlives it.
 *
 * Two parts.  hhi_isolate(): as root, a chapter binary runs as pid 1 of
 * PID, IPC and mount namespaces of its own, with /proc, /dev/shm and the
 * temp directory mounted fresh in them.  Whatever its programs leave (a
 * process, a System V set, a POSIX shared-memory object, a socket file)
 * then dies with the namespaces, even when the test itself is killed by
 * timeout(1), ^C or a crash: the kernel kills every process of a PID
 * namespace when its pid 1 ends, and frees an IPC namespace's objects
 * and a mount namespace's tmpfs with their last process.  It also sees
 * only its own objects, so the check below never blames one chapter for
 * another running beside it (make test runs two at once).
 *
 * hhi_leftovers_begin/_end(): around each scenario, a list of what exists
 * before it; after its teardown, anything new is a leak.  The scenario
 * fails with the list, and the leak is removed.  Without root (no
 * namespaces) only what belongs to this user, or is this process's child,
 * is looked at.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- isolation --------------------------------------------------------- */

static pid_t inner; /* the outer process: the chapter's pid 1 */
static char run_dir[128];

static void
forward_stop(int sig)
{
    /* timeout(1) or ^C reached the outer process: end the namespace (the
     * kernel kills everything in it), then die of the same signal */
    if (inner > 0) {
        kill(inner, SIGKILL);
        waitpid(inner, NULL, 0);
    }
    rmdir(run_dir);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* In the new namespaces: private mounts, a /proc that shows this PID
 * namespace, an empty /dev/shm, and a temp dir that vanishes with us.
 * NULL, or what failed. */
static const char *
mount_own(void)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return "make / private";
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
        0)
        return "mount /proc";
    if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") <
        0)
        return "mount /dev/shm";
    /* set-user-id copies run from here (ch07): not nosuid */
    if (mount("tmpfs", run_dir, "tmpfs", MS_NODEV, "mode=1777") < 0)
        return "mount a temp dir";
    return NULL;
}

void
hhi_isolate(void)
{
    const char *off = getenv("HPSP_NO_ISOLATION");
    if (geteuid() != 0 || (off && *off && strcmp(off, "0") != 0))
        return;
    const char *t = getenv("TMPDIR");
    snprintf(run_dir, sizeof run_dir, "%s/hpsp-run-XXXXXX",
             t && *t ? t : "/tmp");
    if (!mkdtemp(run_dir)) {
        fprintf(stderr, "harness: mkdtemp %s: %s: not isolated\n", run_dir,
                strerror(errno));
        return;
    }
    /* the PID namespace is for our children (the inner process); the
     * IPC and mount namespaces the inner one makes for itself, so that
     * this process keeps its own /proc and mounts whatever happens */
    int home = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (home < 0 || unshare(CLONE_NEWPID) < 0) {
        fprintf(stderr,
                "harness: unshare (a PID namespace): %s: scenarios "
                "are not isolated\n",
                strerror(errno));
        if (home >= 0)
            close(home);
        rmdir(run_dir);
        return;
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
        exit(1);
    }
    fflush(NULL);
    inner = fork();
    if (inner < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        exit(1);
    }
    if (inner == 0) {
        close(ready[0]);
        close(home);
        /* the outer one gone (SIGKILL): so is the namespace (its parent
         * is outside it, so getppid() says 0 here) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
            _exit(1);
        const char *err = unshare(CLONE_NEWIPC | CLONE_NEWNS) < 0
                              ? "unshare (IPC, mount namespaces)"
                              : mount_own();
        if (err) {
            char msg[160];
            int n = snprintf(msg, sizeof msg, "%s: %s", err, strerror(errno));
            if (write(ready[1], msg, (size_t)n) < 0)
                _exit(1);
            _exit(0);
        }
        setenv("TMPDIR", run_dir, 1);
        close(ready[1]);
        return; /* the chapter runs here, as pid 1 */
    }
    close(ready[1]);
    char msg[160];
    ssize_t n;
    while ((n = read(ready[0], msg, sizeof msg - 1)) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    if (n > 0) { /* no namespaces after all: run here, unisolated */
        msg[n] = '\0';
        fprintf(stderr, "harness: %s: scenarios are not isolated\n", msg);
        waitpid(inner, NULL, 0);
        inner = 0;
        rmdir(run_dir);
        run_dir[0] = '\0';
        /* our children must not go to the PID namespace whose pid 1
         * has just ended (fork would fail there) */
        if (setns(home, CLONE_NEWPID) < 0) {
            fprintf(stderr,
                    "harness: setns back to our PID namespace: "
                    "%s\n",
                    strerror(errno));
            exit(1);
        }
        close(home);
        return;
    }
    close(home);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int status;
    while (waitpid(inner, &status, 0) < 0 && errno == EINTR)
        ;
    inner = 0;
    rmdir(run_dir); /* its tmpfs was mounted in the inner one's namespace */
    if (WIFSIGNALED(status)) {
        signal(WTERMSIG(status), SIG_DFL);
        raise(WTERMSIG(status));
    }
    /* _exit: a sanitizer's leak check at exit() would clone its tracer
     * into the PID namespace we made, whose pid 1 is gone (LeakSanitizer
     * then reports a fatal error); this process holds nothing to check */
    fflush(NULL);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* ---- what exists ------------------------------------------------------- */

enum { MAX_SEEN = 256, NAME_LEN = 256 };

/* System V objects: the three /proc/sysvipc tables, the column of each
 * that holds the owner's uid. */
static const struct ipc_kind {
    const char *path, *what;
    int uid_col;
} kinds[] = {
    {"/proc/sysvipc/sem", "System V semaphore set", 5},
    {"/proc/sysvipc/shm", "System V shared-memory segment", 8},
    {"/proc/sysvipc/msg", "System V message queue", 8},
};
enum { NKINDS = sizeof kinds / sizeof kinds[0] };

struct seen {
    int ids[NKINDS][MAX_SEEN];
    int nids[NKINDS];
    char shm[MAX_SEEN][NAME_LEN];
    int nshm;
};

static struct seen before;

static bool
mine(uid_t uid)
{
    return getpid() == 1 || uid == geteuid();
}

/* The ids of KIND's objects (ours). */
static int
list_ipc(const struct ipc_kind *k, int *ids, int cap)
{
    FILE *f = fopen(k->path, "r");
    char line[512];
    int n = 0;
    if (!f)
        return 0;
    if (!fgets(line, sizeof line, f)) { /* the header */
        fclose(f);
        return 0;
    }
    while (n < cap && fgets(line, sizeof line, f)) {
        long col[10];
        int got = 0;
        char *s = line, *end;
        while (got < 10) {
            col[got] = strtol(s, &end, 0);
            if (end == s)
                break;
            got++;
            s = end;
        }
        if (got >= k->uid_col && mine((uid_t)col[k->uid_col - 1]))
            ids[n++] = (int)col[1];
    }
    fclose(f);
    return n;
}

/* The names in /dev/shm (ours). */
static int
list_shm(char names[][NAME_LEN], int cap)
{
    DIR *d = opendir("/dev/shm");
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; n < cap && (e = readdir(d));) {
        struct stat st;
        if (e->d_name[0] == '.' ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !mine(st.st_uid))
            continue;
        snprintf(names[n++], NAME_LEN, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static void
snapshot(struct seen *s)
{
    for (int k = 0; k < NKINDS; k++)
        s->nids[k] = list_ipc(&kinds[k], s->ids[k], MAX_SEEN);
    s->nshm = list_shm(s->shm, MAX_SEEN);
}

void
hhi_leftovers_begin(void)
{
    snapshot(&before);
}

/* ---- what is left ------------------------------------------------------ */

static void add(char *out, size_t cap, const char *fmt, ...) HH_PRINTF(3, 4);

static void
add(char *out, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(out);
    if (used + 2 >= cap)
        return;
    if (used) {
        snprintf(out + used, cap - used, "; ");
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + used, cap - used, fmt, ap);
    va_end(ap);
}

static bool
had_id(int k, int id)
{
    for (int i = 0; i < before.nids[k]; i++)
        if (before.ids[k][i] == id)
            return true;
    return false;
}

static bool
had_shm(const char *name)
{
    for (int i = 0; i < before.nshm; i++)
        if (strcmp(before.shm[i], name) == 0)
            return true;
    return false;
}

static int
remove_ipc(int k, int id)
{
    if (k == 0)
        return semctl(id, 0, IPC_RMID);
    if (k == 1)
        return shmctl(id, IPC_RMID, NULL);
    return msgctl(id, IPC_RMID, NULL);
}

/* Processes that outlived the scenario: in our PID namespace, any but us;
 * without one, our children (orphans re-parent to us, the subreaper).  A
 * process on its way out (teardown's SIGKILL) is given a moment. */
static void
left_processes(struct hh_ctx *c, char *out, size_t cap)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    pid_t me = getpid();
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        char comm[64];
        if (*end || pid <= 0 || pid == me)
            continue;
        pid_t ppid = hhi_stat_ppid((pid_t)pid, comm, sizeof comm);
        if (ppid < 0 || (me != 1 && ppid != me))
            continue;
        int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
        if (pfd < 0)
            continue; /* gone meanwhile */
        struct pollfd pf = {.fd = pfd, .events = POLLIN};
        bool alive = poll(&pf, 1, hh_ms(c, 300)) == 0;
        if (alive) {
            add(out, cap, "process %ld (%s)", pid, comm);
            syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
            poll(&pf, 1, 1000);
        }
        close(pfd);
        waitpid((pid_t)pid, NULL, WNOHANG); /* ours, if it was */
    }
    closedir(d);
}

void
hhi_leftovers_end(struct hh_ctx *c)
{
    static struct seen now;
    char left[1024] = "";

    left_processes(c, left, sizeof left);
    snapshot(&now);
    for (int k = 0; k < NKINDS; k++)
        for (int i = 0; i < now.nids[k]; i++) {
            int id = now.ids[k][i];
            if (had_id(k, id))
                continue;
            add(left, sizeof left, "%s %d", kinds[k].what, id);
            if (remove_ipc(k, id) < 0)
                add(left, sizeof left, "(cannot remove it: %s)",
                    strerror(errno));
        }
    for (int i = 0; i < now.nshm; i++) {
        if (had_shm(now.shm[i]))
            continue;
        char path[NAME_LEN + 16];
        snprintf(path, sizeof path, "/dev/shm/%s", now.shm[i]);
        add(left, sizeof left, "%s", path);
        unlink(path);
    }
    if (!left[0])
        return;
    char line[1200];
    snprintf(line, sizeof line,
             "harness: left behind when the scenario "
             "ended (now removed): %s",
             left);
    hhi_transcribe(c, line);
    size_t used = strlen(c->why);
    if (c->result == HH_FAIL) {
        snprintf(c->why + used, sizeof c->why - used, "; and left behind: %s",
                 left);
    } else {
        c->result = HH_FAIL;
        snprintf(c->why, sizeof c->why,
                 "left behind when the scenario "
                 "ended: %s",
                 left);
    }
}
