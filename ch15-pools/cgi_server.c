/*
 * cgi_server.c - Listing 15-2: a CGI server on the process pool of 15-1.
 *
 * Usage:   cgi_server [-h] [-n N] -r DIR [-U USER] [-T TIMEOUT]
 *                     [-t REQTIME] IP PORT
 *
 * Shows:   a client sends the name of a program and CRLF.  The worker
 *          that accepted it forks; the grandchild puts the socket on its
 *          stdout and execs the program, and the worker closes its own
 *          copy, so the connection ends when the program (and whatever it
 *          started) has ended.  Workers take connections round-robin, as
 *          in pool_echo.
 *
 * Look at: `strace -f -e trace=accept4,clone,execve`: accept4 in a worker,
 *          clone in the worker, execve in the grandchild - and no execve
 *          at all for a refused name.  While a program runs,
 *          /proc/PID/status of it: Uid 65534, SigBlk/SigIgn/SigCgt all 0;
 *          /proc/PID/fd: 0 /dev/null, 1 the socket, 2 the server's
 *          stderr, nothing else; /proc/PID/environ: PATH only;
 *          /proc/PID/limits: the fences below; /proc/PID/cgroup: its
 *          pids line names the program's own cgroup (hpsp-cgi-...), whose
 *          pids.max reads 16.
 *
 * Peer:    printf 'hello\r\n' | nc 127.0.0.1 PORT, with an executable
 *          DIR/hello.
 *
 * What runs, and how fenced (the printed server executes any path a
 * client names, as the server's user: remote command execution):
 *  - only a regular, executable file inside DIR, after realpath: an
 *    absolute path, a ".." or a symlink that leads out of DIR, a
 *    directory, a file without an x bit, a name with a control byte,
 *    a line longer than 255 bytes, one not ended by CRLF or not complete
 *    within REQTIME (-t, default 5s) get one line "cgi_server: refused:
 *    REASON" and a log line, and never reach fork or execve;
 *  - as USER (-U, default nobody; never root): setgroups, setgid, setuid
 *    in the grandchild before exec, each checked;
 *  - rlimits: 32 processes of that user, CPU seconds (TIMEOUT + 1),
 *    512 MiB of address space, 1 MiB files (SIGXFSZ, then EFBIG), 64
 *    descriptors;
 *  - TIMEOUT (-T, default 10s) of wall clock: then the worker kills the
 *    program's process group with SIGKILL and logs it;
 *  - a pids cgroup of its own with pids.max 16 (below RLIMIT_NPROC, so
 *    it is what stops a fork bomb), nested under the server's own: on
 *    cgroup v2 where the pids controller can be enabled below the server,
 *    else on a cgroup v1 hierarchy mounted with it; which one is logged at
 *    start, or why none.  What is left in it when the program ends is
 *    killed (cgroup.kill on v2, each pid in cgroup.procs on v1), and it is
 *    removed;
 *  - in a scratch directory (mkdtemp under $TMPDIR, owned by USER, mode
 *    0700) as its working directory, removed with its content after;
 *  - a clean start: environment PATH=/usr/bin:/bin and nothing else,
 *    every signal at its default and none blocked (SIGPIPE, which the
 *    server ignores, included), stdin /dev/null, stdout the socket,
 *    stderr the server's, no other descriptor (all close-on-exec);
 *  - its own session and process group, killed whole when the program
 *    ends; what escapes it (setsid) is reparented to the worker (a
 *    subreaper), which kills it.
 *
 * Differs from the printed listing, besides the above:
 *  - the execl argument list ends with a null pointer (the book's integer
 *    0 is undefined on LP64); here execve with a NULL-terminated argv;
 *  - a failed exec ends with _exit(127), which does not flush the stdio
 *    buffers copied from the worker (the book calls exit);
 *  - a request line that fills the buffer without CRLF is refused (the
 *    book's recv then returns 0, taken for a close);
 *  - the listener, epoll and pipe descriptors are close-on-exec, and the
 *    pool is the 15-1 module (see process_pool.c).
 */
#define _GNU_SOURCE
#include "hpsp.h"
#include "process_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/close_range.h>
#include <unistd.h>

static const char SYNOPSIS[] =
    "[-h] [-n N] -r DIR [-U USER] [-T TIMEOUT] [-t REQTIME] IP PORT";
static const char HELP[] =
    "Run the program a client names (a line ending in CRLF) from DIR, with\n"
    "the connection as its stdout, on a pool of worker processes.\n"
    "  -r DIR      the only directory programs run from (required)\n"
    "  -n N        workers (default 8, at most 16)\n"
    "  -U USER     run programs as USER (default nobody; never root)\n"
    "  -T TIMEOUT  wall-clock limit of a program (default 10s)\n"
    "  -t REQTIME  time a client has to send its line (default 5s)\n"
    "SIGTERM or SIGINT stops everything and exits 0.\n";

enum { LISTEN_BACKLOG = 64 };
enum { MAX_NAME = 255 };      /* longest program name, without CRLF */
enum { LIMIT_NPROC = 32 };    /* processes of USER while a program runs */
enum { LIMIT_NOFILE = 64 };
/* processes in a program's pids cgroup: fewer than LIMIT_NPROC, so the
 * cgroup, not the rlimit, is what stops a fork bomb where there is one */
enum { LIMIT_PIDS = 16 };
enum { CGROUP_ROUNDS = 20 }; /* kill rounds before a cgroup is given up */
#define LIMIT_AS (512UL << 20)
#define LIMIT_FSIZE (1UL << 20)
#define CGI_PATH "PATH=/usr/bin:/bin"

/* What every worker shares, set before the pool starts. */
static struct {
    char root[PATH_MAX];    /* realpath of DIR */
    char scratch[PATH_MAX]; /* where scratch directories go */
    char cgroup[PATH_MAX];  /* pids cgroup directory to nest in, or "" */
    int cgroup_version;     /* of that directory: 1 or 2 */
    unsigned long pid_ns;   /* inode of our PID namespace */
    uid_t uid;
    gid_t gid;
    bool switch_user;
    long long timeout_ms, request_ms;
} cfg;

enum phase { READING, RUNNING, DONE };

struct cgi_conn {
    struct cgi_conn *next; /* the worker's running programs */
    enum phase phase;
    char line[MAX_NAME + 2];
    size_t len;
    char name[MAX_NAME + 1];
    char path[PATH_MAX];
    char scratch[PATH_MAX];
    char cgroup[PATH_MAX];
    pid_t pid;
    long long started;
    bool killed;
};

/* The programs this worker runs (a worker is a process of its own). */
static struct cgi_conn *running;
static unsigned serial;

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- refusals ------------------------------------------------------------- */

static enum pp_verdict
refuse(struct pp_conn *conn, struct cgi_conn *st, const char *why)
{
    char msg[160], shown[HP_QUOTED_SIZE(64)];
    int n = snprintf(msg, sizeof msg, "cgi_server: refused: %s\r\n", why);
    /* a fresh connection's send buffer is empty: one line fits */
    int fd = pp_conn_fd(conn);
    if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        hp_warn("send refusal to %s", pp_conn_peer(conn));
    /* what the client sent beyond the line, unread, would turn the close
     * into a reset that can destroy the refusal before it is read */
    char drop[512];
    while (recv(fd, drop, sizeof drop, MSG_DONTWAIT) > 0)
        ;
    hp_quote(shown, sizeof shown, st->line, st->len < 64 ? st->len : 64);
    printf("worker %d (pid %d): refused %s: %s%s: %s\n", pp_conn_worker(conn),
           (int)getpid(), pp_conn_peer(conn), shown, st->len > 64 ? "..." : "",
           why);
    st->phase = DONE;
    return PP_CLOSE;
}

/* NULL if NAME may run (its resolved path in PATH), else why not. */
static const char *
check_name(const char *name, char *path)
{
    char joined[PATH_MAX + MAX_NAME + 2];
    struct stat sb;
    size_t root_len = strlen(cfg.root);

    if (name[0] == '\0')
        return "empty program name";
    for (const char *s = name; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return "control byte in the name";
    if (name[0] == '/')
        return "absolute path";
    snprintf(joined, sizeof joined, "%s/%s", cfg.root, name);
    if (realpath(joined, path) == NULL)
        return errno == ENOENT || errno == ENOTDIR ? "no such program"
                                                   : "cannot resolve the name";
    if (strncmp(path, cfg.root, root_len) != 0 || path[root_len] != '/')
        return "outside the CGI directory";
    if (stat(path, &sb) < 0)
        return "no such program";
    if (!S_ISREG(sb.st_mode))
        return "not a regular file";
    if (!(sb.st_mode & 0111))
        return "not executable";
    return NULL;
}

/* ---- the grandchild --------------------------------------------------------- */

static void
set_limit(int resource, rlim_t value, const char *what)
{
    struct rlimit rl = {.rlim_cur = value, .rlim_max = value};
    if (setrlimit(resource, &rl) < 0)
        hp_die_child("setrlimit %s", what);
}

/* Write TEXT to DIR/FILE (a cgroup file: one write).  0, or -1 with
 * errno and the path in PATH. */
static int
write_text(const char *dir, const char *file, const char *text, char *path,
           size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int err = errno;
    close(fd);
    errno = err;
    return n < 0 ? -1 : 0;
}

/* The grandchild: fence itself, then become the program.  Every signal
 * is blocked on entry (since before fork). */
static HP_NORETURN void
run_program(int sock, const struct cgi_conn *st)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigset_t none;
    char *const argv[] = {(char *)st->name, NULL};
    char *const envp[] = {CGI_PATH, NULL};

    /* default dispositions: the worker's handlers write to its pipe, and
     * SIGPIPE is ignored in the server (an ignored signal stays ignored
     * across execve) */
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, &dfl, NULL) < 0) {
            /* glibc keeps 32 and 33 for itself and refuses them: they are
             * reset just before execve (setuid still needs them) */
        }
    }
    if (setsid() < 0) /* a group of its own: killed whole at the end */
        hp_die_child("setsid");
    /* into the program's pids cgroup (0: the writer), before anything
     * of the program runs; its children are born in it */
    char procs[PATH_MAX + 32];
    if (st->cgroup[0] &&
        write_text(st->cgroup, "cgroup.procs", "0\n", procs, sizeof procs) < 0)
        hp_die_child("write %s", procs);
    if (chdir(st->scratch) < 0)
        hp_die_child("chdir %s", st->scratch);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
        dup2(sock, STDOUT_FILENO) < 0)
        hp_die_child("stdin and stdout of %s", st->name);
    /* null and sock are close-on-exec, like every descriptor of ours;
     * dup2 made 0 and 1 without the flag.  The socket was accepted
     * non-blocking for the worker's loop: a program writes blocking */
    int fl = fcntl(STDOUT_FILENO, F_GETFL);
    if (fl < 0 || fcntl(STDOUT_FILENO, F_SETFL, fl & ~O_NONBLOCK) < 0)
        hp_die_child("fcntl O_NONBLOCK");

    set_limit(RLIMIT_NPROC, LIMIT_NPROC, "RLIMIT_NPROC");
    set_limit(RLIMIT_CPU, (rlim_t)(cfg.timeout_ms / 1000 + 1), "RLIMIT_CPU");
    set_limit(RLIMIT_AS, LIMIT_AS, "RLIMIT_AS");
    set_limit(RLIMIT_FSIZE, LIMIT_FSIZE, "RLIMIT_FSIZE");
    struct rlimit nofile = {.rlim_cur = LIMIT_NOFILE, .rlim_max = LIMIT_NOFILE};
    if (setrlimit(RLIMIT_NOFILE, &nofile) < 0) {
        /* only valgrind refuses to lower a hard limit (it keeps fds of its
         * own above it): the soft one still holds the program */
        if (errno != EPERM || getrlimit(RLIMIT_NOFILE, &nofile) < 0)
            hp_die_child("setrlimit RLIMIT_NOFILE");
        nofile.rlim_cur = LIMIT_NOFILE;
        if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
            hp_die_child("setrlimit RLIMIT_NOFILE");
    }
    if (cfg.switch_user) {
        /* groups first: after setuid we may no longer change them */
        if (setgroups(1, &cfg.gid) < 0)
            hp_die_child("setgroups");
        if (setgid(cfg.gid) < 0)
            hp_die_child("setgid %d", (int)cfg.gid);
        if (setuid(cfg.uid) < 0)
            hp_die_child("setuid %d", (int)cfg.uid);
    }
    if (getuid() == 0 || geteuid() == 0 || getegid() != cfg.gid)
        hp_die_child("still uid %d gid %d: not running %s", (int)geteuid(),
                     (int)getegid(), st->name);

    /* glibc's own signals (32, 33: setuid in a threaded process uses
     * one) may have come to us ignored, and would stay so in the program;
     * glibc's sigaction refuses them, the kernel's does not */
    for (int sig = 32; sig < SIGRTMIN; sig++) {
        struct {
            void (*handler)(int);
            unsigned long flags;
            void (*restorer)(void);
            unsigned long mask;
        } kdfl = {.handler = SIG_DFL};
        syscall(SYS_rt_sigaction, sig, &kdfl, NULL, sizeof kdfl.mask);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(st->path, argv, envp);
    /* _exit, not exit: the stdio buffers are the worker's copies */
    hp_warn("execve %s", st->path);
    _exit(127);
}

/* ---- the worker's side ---------------------------------------------------- */

static int
remove_entry(const char *path, const struct stat *sb, int flag,
             struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0)
        hp_warn("remove %s", path);
    return 0;
}

/* Children of this worker that are no running program: what a program
 * left behind and a subreaper inherited.  They are killed. */
static void
kill_strays(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (char *s = buf; *s;) {
        char *end;
        long pid = strtol(s, &end, 10);
        if (end == s)
            break;
        s = end;
        bool known = false;
        for (struct cgi_conn *r = running; r; r = r->next)
            known = known || r->pid == (pid_t)pid;
        if (!known && kill((pid_t)pid, SIGKILL) == 0)
            printf("worker (pid %d): killed pid %ld, left behind by a "
                   "program\n", (int)getpid(), pid);
    }
}

static void
forget(struct cgi_conn *st)
{
    for (struct cgi_conn **p = &running; *p; p = &(*p)->next)
        if (*p == st) {
            *p = st->next;
            return;
        }
}

/* The pids listed in DIR/cgroup.procs (in our PID namespace: the
 * kernel translates them for the reader), at most CAP; -1 if it cannot
 * be read (logged). */
static int
cgroup_pids(const char *dir, pid_t *pids, int cap)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        hp_warn("open %s", path);
        return -1;
    }
    int n = 0, pid;
    while (n < cap && fscanf(f, "%d", &pid) == 1)
        if (pid > 0) /* v2 shows 0 for a process we cannot name */
            pids[n++] = (pid_t)pid;
    if (ferror(f)) {
        hp_warn("read %s", path);
        n = -1;
    }
    fclose(f);
    return n;
}

/* SIGKILL to each of PIDS, and wait until they have exited (a process
 * leaves its cgroup as it exits, before its parent reaps it).  ROUND
 * counts the calls for one cgroup. */
static void
kill_and_wait(const pid_t *pids, int n, int round)
{
    struct pollfd pfd[64];
    int np = 0;
    bool blind = false;
    for (int i = 0; i < n && np < 64; i++) {
        /* through a pidfd the signal reaches that very process, and its
         * exit is an event to wait for */
        int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
        if (fd >= 0) {
            if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0 &&
                errno != ESRCH)
                hp_warn("pidfd_send_signal %d", (int)pids[i]);
            pfd[np++] = (struct pollfd){.fd = fd, .events = POLLIN};
        } else if (errno != ESRCH) {
            /* no pidfd_open (valgrind 3.19 has none): by pid, and a
             * moment for it below */
            if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
                hp_warn("kill %d", (int)pids[i]);
            blind = true;
        }
    }
    long long deadline = now_ms() + 1000;
    for (int open = np; open > 0;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            break;
        int r = poll(pfd, (nfds_t)np, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            hp_warn("poll pidfds");
            break;
        }
        for (int i = 0; i < np; i++)
            if (pfd[i].fd >= 0 && pfd[i].revents) {
                close(pfd[i].fd);
                pfd[i].fd = -1; /* poll passes over it from now on */
                open--;
            }
    }
    for (int i = 0; i < np; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    if (blind) { /* 1, 2, 4 ... 128 ms: about 2 s in all */
        long ms = 1L << (round < 7 ? round : 7);
        nanosleep(&(struct timespec){.tv_nsec = ms * 1000 * 1000}, NULL);
    }
}

/* Kill whatever of the program is still in its pids cgroup DIR (a
 * process that left its process group and session), wait until the
 * cgroup is empty, and remove it.  Every failure is logged. */
static void
remove_cgroup(int worker, const char *name, const char *dir)
{
    char file[PATH_MAX + 32];
    /* v2 kills the lot in one write (Linux 5.14 on); v1 has no such file */
    if (cfg.cgroup_version == 2 &&
        write_text(dir, "cgroup.kill", "1", file, sizeof file) < 0 &&
        errno != ENOENT)
        hp_warn("write %s", file);
    int round, n = 0, killed = 0;
    pid_t pids[64];
    /* a process may fork between our read and its SIGKILL: read again */
    for (round = 0; round < CGROUP_ROUNDS; round++) {
        n = cgroup_pids(dir, pids, 64);
        if (n <= 0)
            break;
        kill_and_wait(pids, n, round);
        killed += n;
    }
    if (killed)
        printf("worker %d (pid %d): %s: %d process(es) were still in its "
               "cgroup: SIGKILL, and waited for\n", worker, (int)getpid(),
               name, killed);
    if (round == CGROUP_ROUNDS)
        printf("worker %d (pid %d): %s: %d process(es) still in %s after "
               "%d rounds of SIGKILL\n", worker, (int)getpid(), name, n, dir,
               CGROUP_ROUNDS);
    if (rmdir(dir) < 0)
        hp_warn("rmdir %s", dir);
    else
        printf("worker %d (pid %d): %s: cgroup %s removed\n", worker,
               (int)getpid(), name, dir);
}

/* The program has ended (or is being made to): nothing of it is left. */
static void
clean_up(int worker, struct cgi_conn *st)
{
    kill(-st->pid, SIGKILL); /* its process group, whatever is left */
    forget(st);
    kill_strays();
    if (st->cgroup[0])
        remove_cgroup(worker, st->name, st->cgroup);
    if (nftw(st->scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) <
        0)
        hp_warn("remove %s", st->scratch);
    printf("worker %d (pid %d): %s: scratch directory %s removed\n", worker,
           (int)getpid(), st->name, st->scratch);
    st->phase = DONE;
}

/* A pids cgroup of its own for one program, or "" (and why, logged). */
static void
make_cgroup(struct cgi_conn *st, int worker)
{
    st->cgroup[0] = '\0';
    if (!cfg.cgroup[0])
        return;
    /* servers in other PID namespaces (a test's) share the hierarchy,
     * and count pids from 1 too: the namespace in the name keeps them
     * apart and tells whose a directory left behind is; the random part
     * steps past one left by a namespace that had the same inode */
    char dir[PATH_MAX], max[16], file[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%.3900s/hpsp-cgi-%lu-%d-%u-XXXXXX", cfg.cgroup,
             cfg.pid_ns, (int)getpid(), serial);
    if (mkdtemp(dir) == NULL) {
        hp_warn("mkdir %s", dir);
        printf("worker %d: no pids cgroup for %s\n", worker, st->name);
        return;
    }
    snprintf(max, sizeof max, "%d\n", LIMIT_PIDS);
    if (write_text(dir, "pids.max", max, file, sizeof file) < 0) {
        hp_warn("write %s", file);
        if (rmdir(dir) < 0)
            hp_warn("rmdir %s", dir);
        printf("worker %d: no pids cgroup for %s\n", worker, st->name);
        return;
    }
    snprintf(st->cgroup, sizeof st->cgroup, "%s", dir);
}

static enum pp_verdict
start_program(struct pp_conn *conn, struct cgi_conn *st)
{
    int worker = pp_conn_worker(conn);
    const char *slash = strrchr(st->path, '/');
    snprintf(st->name, sizeof st->name, "%.255s", slash ? slash + 1 : st->path);

    serial++;
    snprintf(st->scratch, sizeof st->scratch, "%.4000s/cgi-XXXXXX",
             cfg.scratch);
    if (mkdtemp(st->scratch) == NULL) {
        hp_warn("mkdtemp %s", st->scratch);
        return refuse(conn, st, "no scratch directory");
    }
    if (cfg.switch_user && chown(st->scratch, cfg.uid, cfg.gid) < 0) {
        hp_warn("chown %s", st->scratch);
        rmdir(st->scratch);
        return refuse(conn, st, "no scratch directory");
    }
    make_cgroup(st, worker);

    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old); /* no handler of ours runs there */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        run_program(pp_conn_fd(conn), st);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        hp_warn("fork");
        if (st->cgroup[0] && rmdir(st->cgroup) < 0)
            hp_warn("rmdir %s", st->cgroup);
        if (rmdir(st->scratch) < 0)
            hp_warn("rmdir %s", st->scratch);
        return refuse(conn, st, "cannot start it now");
    }
    st->pid = pid;
    st->started = now_ms();
    st->phase = RUNNING;
    st->next = running;
    running = st;
    pp_conn_own_child(conn, pid);
    /* the program has the socket now: the connection ends when it ends */
    pp_conn_release_fd(conn);
    pp_conn_deadline(conn, cfg.timeout_ms);
    printf("worker %d (pid %d): %s: running %s as pid %d (uid %d, scratch "
           "%s%s%s)\n", worker, (int)getpid(), pp_conn_peer(conn), st->path,
           (int)pid, (int)cfg.uid, st->scratch,
           st->cgroup[0] ? ", cgroup " : "", st->cgroup);
    return PP_KEEP;
}

static enum pp_verdict
on_open(struct pp_conn *conn)
{
    pp_conn_deadline(conn, cfg.request_ms);
    return PP_KEEP;
}

static enum pp_verdict
on_readable(struct pp_conn *conn)
{
    struct cgi_conn *st = pp_conn_state(conn);
    if (st->phase != READING)
        return PP_KEEP;
    for (;;) {
        ssize_t n = recv(pp_conn_fd(conn), st->line + st->len,
                         sizeof st->line - st->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return PP_KEEP;
        if (n < 0)
            return refuse(conn, st, "receive failed");
        if (n == 0)
            return refuse(conn, st, "end of file before CRLF");
        size_t old = st->len;
        st->len += (size_t)n;
        char *nl = memchr(st->line + old, '\n', st->len - old);
        if (nl == NULL) {
            if (st->len == sizeof st->line)
                return refuse(conn, st, "request line too long");
            continue;
        }
        if (nl == st->line || nl[-1] != '\r')
            return refuse(conn, st, "line not ended by CRLF");
        size_t name_len = (size_t)(nl - 1 - st->line);
        st->len = (size_t)(nl + 1 - st->line); /* shown in a refusal */
        memcpy(st->name, st->line, name_len);
        st->name[name_len] = '\0';
        if (memchr(st->line, '\0', name_len))
            return refuse(conn, st, "control byte in the name");
        const char *why = check_name(st->name, st->path);
        if (why)
            return refuse(conn, st, why);
        return start_program(conn, st);
    }
}

static enum pp_verdict
on_timeout(struct pp_conn *conn)
{
    struct cgi_conn *st = pp_conn_state(conn);
    if (st->phase == READING)
        return refuse(conn, st, "request line not complete in time");
    if (st->phase == RUNNING && !st->killed) {
        /* the group, and the leader in case it is not one yet */
        kill(-st->pid, SIGKILL);
        kill(st->pid, SIGKILL);
        st->killed = true;
        printf("worker %d (pid %d): %s (pid %d) still running after %lld "
               "ms: killed\n", pp_conn_worker(conn), (int)getpid(), st->name,
               (int)st->pid, cfg.timeout_ms);
    }
    return PP_KEEP; /* on_child follows */
}

static enum pp_verdict
on_child(struct pp_conn *conn, pid_t pid, int status)
{
    struct cgi_conn *st = pp_conn_state(conn);
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof how, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "killed by signal %d%s", WTERMSIG(status),
                 st->killed ? " (wall-clock limit)" : "");
    else
        snprintf(how, sizeof how, "status 0x%x", (unsigned)status);
    printf("worker %d (pid %d): %s (pid %d) %s after %lld ms\n",
           pp_conn_worker(conn), (int)getpid(), st->name, (int)pid, how,
           now_ms() - st->started);
    clean_up(pp_conn_worker(conn), st);
    return PP_CLOSE;
}

static void
on_close(struct pp_conn *conn)
{
    struct cgi_conn *st = pp_conn_state(conn);
    if (st->phase != RUNNING)
        return;
    /* the worker is stopping with the program still running */
    int status;
    kill(-st->pid, SIGKILL);
    kill(st->pid, SIGKILL);
    while (waitpid(st->pid, &status, 0) < 0 && errno == EINTR)
        ;
    printf("worker %d (pid %d): %s (pid %d) killed: the server stops\n",
           pp_conn_worker(conn), (int)getpid(), st->name, (int)st->pid);
    clean_up(pp_conn_worker(conn), st);
}

static void
on_orphan(pid_t pid, int status, void *arg)
{
    (void)arg;
    (void)status;
    printf("worker (pid %d): reaped pid %d, left behind by a program\n",
           (int)getpid(), (int)pid);
}

/* ---- start ---------------------------------------------------------------- */

/* Whether LIST, words separated by any of SEPS, holds WORD. */
static bool
has_word(const char *list, const char *word, const char *seps)
{
    size_t n = strlen(word);
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, seps);
        if (len == n && strncmp(s, word, n) == 0)
            return true;
        s += len + (s[len] != '\0');
    }
    return false;
}

/* This process's cgroup path (from /proc/self/cgroup, relative to the
 * hierarchy's root): on v2 the "0::PATH" line, on v1 the line whose
 * controller list holds pids.  False if there is none. */
static bool
own_cgroup(int version, char *rel, size_t cap)
{
    char line[PATH_MAX + 64];
    bool found = false;
    FILE *f = fopen("/proc/self/cgroup", "re");
    while (f && !found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *ctl = strchr(line, ':');
        char *path = ctl ? strchr(ctl + 1, ':') : NULL;
        if (path == NULL)
            continue;
        *ctl++ = '\0';
        *path++ = '\0';
        found = version == 2 ? strcmp(line, "0") == 0 && ctl[0] == '\0'
                             : has_word(ctl, "pids", ",");
        if (found)
            snprintf(rel, cap, "%.4000s", path);
    }
    if (f)
        fclose(f);
    return found;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
            s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + s[3] - '0');
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* The first mount (/proc/self/mountinfo) of a cgroup v2 hierarchy, or of
 * a v1 hierarchy with the pids controller: its mount point, and which
 * cgroup of the hierarchy is mounted there (its root).  False if none. */
static bool
find_mount(int version, char *point, char *root, size_t cap)
{
    char line[3 * PATH_MAX];
    bool found = false;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    while (f && !found && fgets(line, sizeof line, f)) {
        char type[32], super[512], r[PATH_MAX], m[PATH_MAX];
        const char *dash = strstr(line, " - ");
        if (dash == NULL ||
            sscanf(dash + 3, "%31s %*s %511s", type, super) != 2 ||
            sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2)
            continue;
        found = version == 2 ? strcmp(type, "cgroup2") == 0
                             : strcmp(type, "cgroup") == 0 &&
                                   has_word(super, "pids", ",");
        if (found) {
            unescape(r);
            unescape(m);
            snprintf(root, cap, "%s", r);
            snprintf(point, cap, "%s", m);
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* Try the pids cgroup of this process on VERSION: the directory to nest
 * programs under into cfg.cgroup, and NULL; or why not (DIR, if known,
 * in cfg.cgroup). */
static const char *
try_cgroup(int version)
{
    char point[PATH_MAX], root[PATH_MAX], rel[PATH_MAX];
    cfg.cgroup[0] = '\0';
    if (!find_mount(version, point, root, sizeof point))
        return version == 2 ? "no cgroup v2 hierarchy mounted"
                            : "no cgroup v1 hierarchy with the pids "
                              "controller mounted";
    if (!own_cgroup(version, rel, sizeof rel))
        return "not in a cgroup of it (/proc/self/cgroup)";
    /* the mount shows the hierarchy from ROOT down: our path under it */
    size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
    if (strncmp(rel, root, rl) != 0 || (rel[rl] != '/' && rel[rl] != '\0'))
        return "our cgroup is outside what is mounted";
    snprintf(cfg.cgroup, sizeof cfg.cgroup, "%.2000s%.2000s", point,
             strcmp(rel + rl, "/") == 0 ? "" : rel + rl);
    if (version == 2) {
        char ctl[PATH_MAX + 32], text[256] = "";
        snprintf(ctl, sizeof ctl, "%s/cgroup.subtree_control", cfg.cgroup);
        int fd = open(ctl, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
        if (fd >= 0)
            close(fd);
        text[n > 0 ? n : 0] = '\0';
        if (!has_word(text, "pids", " \n"))
            return "the pids controller is not enabled below it";
    }
    if (access(cfg.cgroup, W_OK) < 0)
        return errno == ENOENT ? "no such directory" : "not writable";
    cfg.cgroup_version = version;
    return NULL;
}

/* Where programs get their pids cgroups: a child of our own cgroup on v2
 * if the pids controller can be had there, else on v1; logged, or why
 * there is none. */
static void
find_cgroup(void)
{
    char dir2[PATH_MAX + 2];
    struct stat ns;
    if (stat("/proc/self/ns/pid", &ns) == 0)
        cfg.pid_ns = (unsigned long)ns.st_ino;
    const char *why2 = try_cgroup(2), *why1 = NULL;
    if (why2 == NULL) {
        printf("pids cgroup: v2 %s: pids.max %d per program\n", cfg.cgroup,
               LIMIT_PIDS);
        return;
    }
    snprintf(dir2, sizeof dir2, "%s%s", cfg.cgroup,
             cfg.cgroup[0] ? ": " : "");
    why1 = try_cgroup(1);
    if (why1 == NULL) {
        printf("pids cgroup: v1 %s: pids.max %d per program (v2 %s%s)\n",
               cfg.cgroup, LIMIT_PIDS, dir2, why2);
        return;
    }
    printf("pids cgroup: none (v2 %s%s; v1 %s%s%s): RLIMIT_NPROC %d only\n",
           dir2, why2, cfg.cgroup, cfg.cgroup[0] ? ": " : "", why1,
           LIMIT_NPROC);
    cfg.cgroup[0] = '\0';
}

static void
find_user(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL)
        hp_bad_usage("USER '%s': no such user", user);
    if (pw->pw_uid == 0 || pw->pw_gid == 0)
        hp_bad_usage("USER '%s': programs never run as root", user);
    cfg.uid = pw->pw_uid;
    cfg.gid = pw->pw_gid;
    if (geteuid() == 0) {
        cfg.switch_user = true;
    } else if (geteuid() != cfg.uid) {
        hp_diex("running programs as %s (uid %d) needs root", user,
                (int)cfg.uid);
    } else {
        cfg.gid = getegid();
    }
}

/* Whether USER can search PATH and every directory above it (0), or the
 * errno that says why not: a program under /root (mode 0700) could never
 * be run as nobody, and a reader should hear that at start, not as EACCES
 * on every request. */
static int
reachable(const char *user, const char *path)
{
    if (!cfg.switch_user)
        return 0; /* we are USER: realpath and stat have just done it */
    pid_t pid = fork();
    if (pid < 0)
        hp_die("fork");
    if (pid == 0) {
        if (setgroups(1, &cfg.gid) < 0 || setgid(cfg.gid) < 0 ||
            setuid(cfg.uid) < 0)
            _exit(125);
        _exit(access(path, X_OK) == 0 ? 0 : errno);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            hp_die("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 125)
        hp_diex("could not take on %s's identity to check %s", user, path);
    return WEXITSTATUS(st);
}

/* -r DIR must be reachable; scratch directories go under $TMPDIR, or
 * /tmp when USER cannot reach that (root's TMPDIR is often private). */
static void
check_paths(const char *user)
{
    int e = reachable(user, cfg.root);
    if (e)
        hp_diex("-r %s: %s (uid %d) cannot reach it: %s; every directory "
                "from / down to it must be searchable by others (chmod o+x), "
                "so put it outside a private home such as /root",
                cfg.root, user, (int)cfg.uid, strerror(e));
    e = reachable(user, cfg.scratch);
    if (e && strcmp(cfg.scratch, "/tmp") != 0) {
        printf("scratch directories under /tmp: %s cannot reach TMPDIR %s "
               "(%s)\n", user, cfg.scratch, strerror(e));
        snprintf(cfg.scratch, sizeof cfg.scratch, "/tmp");
        e = reachable(user, cfg.scratch);
    }
    if (e)
        hp_diex("scratch directory base %s: %s cannot reach it: %s",
                cfg.scratch, user, strerror(e));
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    struct pp_options opt = {.workers = PP_DEFAULT_WORKERS};
    const char *dir = NULL, *user = "nobody";
    int c;

    cfg.timeout_ms = 10000;
    cfg.request_ms = 5000;
    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    /* what we were started with beyond stdio is not for the programs
     * either; everything we open ourselves is close-on-exec already */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        hp_die("close_range");
    while ((c = getopt(argc, argv, "+hn:r:U:T:t:")) != -1) {
        switch (c) {
        case 'h':
            hp_usage(0);
        case 'n':
            opt.workers = (int)hp_parse_long(optarg, 1, PP_MAX_WORKERS, "N");
            break;
        case 'r':
            dir = optarg;
            break;
        case 'U':
            user = optarg;
            break;
        case 'T':
            cfg.timeout_ms =
                hp_parse_duration(optarg, 1, 3600 * 1000, "TIMEOUT");
            break;
        case 't':
            cfg.request_ms =
                hp_parse_duration(optarg, 1, 3600 * 1000, "REQTIME");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2 || dir == NULL)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    find_user(user);
    struct stat sb;
    if (realpath(dir, cfg.root) == NULL || stat(cfg.root, &sb) < 0)
        hp_die("-r %s", dir);
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        hp_die("-r %s", dir);
    }
    const char *tmp = getenv("TMPDIR");
    if (realpath(tmp && *tmp ? tmp : "/tmp", cfg.scratch) == NULL)
        hp_die("scratch directory base %s", tmp && *tmp ? tmp : "/tmp");
    check_paths(user);

    int lfd =
        hp_tcp_listener(&addr, LISTEN_BACKLOG, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (lfd < 0)
        hp_die("listen on %s", addr_text);
    printf("programs from %s, as %s (uid %d gid %d), %lld ms each\n",
           cfg.root, user, (int)cfg.uid, (int)cfg.gid, cfg.timeout_ms);
    find_cgroup();
    if (hp_announce_listener(lfd) < 0)
        hp_die("getsockname");

    const struct pp_handlers h = {
        .conn_size = sizeof(struct cgi_conn),
        .on_open = on_open,
        .on_readable = on_readable,
        .on_timeout = on_timeout,
        .on_child = on_child,
        .on_close = on_close,
        .on_orphan = on_orphan,
    };
    int rc = pp_run(lfd, &opt, &h);
    close(lfd);
    return rc;
}
