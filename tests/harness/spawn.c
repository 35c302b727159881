/*
 * spawn.c - the programs of a scenario: start them, read their output,
 * wait, stop, check their exit (and their valgrind and sanitizer reports).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *
teaching_of(const char *prog)
{
    const struct hh_program *t = hh_program(prog);
    return t ? t->syscalls : NULL;
}

/* ---- processes -------------------------------------------------------- */

/* Transcribe complete new lines of one stream. */
static void
transcribe_stream(struct hh_proc *p, struct hh_buf *b, size_t *seen,
                  bool is_err, bool flush_partial)
{
    struct hh_ctx *c = p->ctx;
    while (*seen < b->len) {
        char *start = b->data + *seen;
        char *nl = memchr(start, '\n', b->len - *seen);
        size_t n = nl ? (size_t)(nl - start) : b->len - *seen;
        if (!nl && !flush_partial)
            break;
        *seen += n + (nl != NULL);
        if (p->quiet || (p->is_capture && (is_err || n == 0)) ||
            (p->raw && !is_err))
            continue;
        char line[1200];
        if (p->is_capture) {
            /* "IP a.b > c.d: Flags [P.], seq .., options [..], length 3" */
            char tmp[1024];
            snprintf(tmp, sizeof tmp, "%.*s", (int)n, start);
            char *s = strncmp(tmp, "IP ", 3) == 0 ? tmp + 3 : tmp;
            /* options matter in a handshake (mss, wscale), later they
             * are timestamps: keep them only on SYNs */
            char *opt = strstr(s, ", options [");
            if (opt && !strstr(s, "Flags [S")) {
                char *close = strchr(opt, ']');
                if (close)
                    memmove(opt, close + 1, strlen(close + 1) + 1);
            }
            snprintf(line, sizeof line, "  [wire] %s", s);
        } else {
            snprintf(line, sizeof line, "  %s%s: %.*s", p->role,
                     is_err ? " (stderr)" : "", (int)n, start);
        }
        hhi_transcribe(c, line);
    }
}

static void
read_stream(struct hh_proc *p, int *fd, struct hh_buf *b, bool is_err)
{
    char chunk[8192];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n > 0) {
            hhi_buf_add(b, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        close(*fd); /* EOF or error */
        *fd = -1;
        break;
    }
    transcribe_stream(p, b, is_err ? &p->err_seen : &p->out_seen, is_err,
                      *fd < 0);
    /* without a pidfd (started), the end of its output is its exit */
    if (p->pidfd < 0 && !p->exited && p->out_fd < 0 && p->err_fd < 0)
        hhi_reap(p, 0);
}

void
hhi_reap(struct hh_proc *p, int options)
{
    if (p->exited || p->pid <= 0)
        return;
    int st;
    pid_t r = waitpid(p->pid, &st, options);
    if (r < 0 && errno == ECHILD) {
        /* reaped elsewhere (a test's own waitpid): its status is lost,
         * but it is gone; stop polling its pidfd, which stays readable */
        r = p->pid;
        st = -1;
    }
    if (r == p->pid) {
        p->exited = true;
        p->status = st;
        if (p->pidfd >= 0) {
            close(p->pidfd);
            p->pidfd = -1;
        }
    }
}

/* One round of event handling: read whatever the programs printed, notice
 * exits.  Waits at most TIMEOUT_MS for something to happen. */
void
hhi_pump(struct hh_ctx *c, int timeout_ms)
{
    struct pollfd pf[HH_MAX_PROCS * 3];
    struct {
        struct hh_proc *p;
        int which;
    } who[HH_MAX_PROCS * 3];
    int n = 0;
    for (int i = 0; i < c->nprocs; i++) {
        struct hh_proc *p = &c->procs[i];
        if (p->out_fd >= 0) {
            pf[n] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
            who[n].p = p, who[n++].which = 1;
        }
        if (p->err_fd >= 0) {
            pf[n] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
            who[n].p = p, who[n++].which = 2;
        }
        if (p->pidfd >= 0 && !p->exited) {
            pf[n] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
            who[n].p = p, who[n++].which = 3;
        }
    }
    int r = poll(pf, n, timeout_ms);
    if (r <= 0)
        return;
    for (int i = 0; i < n; i++) {
        if (!pf[i].revents)
            continue;
        struct hh_proc *p = who[i].p;
        if (who[i].which == 1 && p->out_fd >= 0)
            read_stream(p, &p->out_fd, &p->out, false);
        else if (who[i].which == 2 && p->err_fd >= 0)
            read_stream(p, &p->err_fd, &p->err, true);
        else if (who[i].which == 3)
            hhi_reap(p, WNOHANG);
    }
}

void
hh_observe(struct hh_ctx *c, int ms)
{
    long long deadline = hh_now_ms() + ms;
    do /* at least once: hh_observe(c, 0) reads what is there now */
        hhi_pump(c, hhi_left_ms(deadline));
    while (hh_now_ms() < deadline);
}

const char *
hh_prog_path(const char *prog, char *buf, size_t len)
{
    char var[128];
    snprintf(var, sizeof var, "PROG_%s", prog);
    const char *over = getenv(var);
    if (over && *over) {
        snprintf(buf, len, "%s", over);
        return buf;
    }
    const char *bin = getenv("HPSP_BIN");
    if (bin && *bin) {
        snprintf(buf, len, "%s/%s", bin, prog);
        return buf;
    }
    /* default: ../bin beside this test binary (build/VARIANT/bin) */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        n = 0;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(self, '/');
    if (slash && strcmp(slash, "/unit") == 0)
        *slash = '\0', slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, len, "%s/bin/%s", self, prog);
    return buf;
}

bool
hhi_is_overridden(const char *prog)
{
    char var[128];
    snprintf(var, sizeof var, "PROG_%s", prog);
    const char *v = getenv(var);
    return v && *v;
}

void
hh_need_built(struct hh_ctx *c, const char *name)
{
    char path[PATH_MAX], why[512];
    hh_prog_path("absent/", path, sizeof path - strlen(name));
    strcat(path, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (!fgets(why, sizeof why, f))
        snprintf(why, sizeof why, "%s: not built", name);
    fclose(f);
    why[strcspn(why, "\n")] = '\0';
    hh_skip(c, "%s", why);
}

/* A new process slot of C (counted once its fds are made), nothing open. */
static struct hh_proc *
new_proc(struct hh_ctx *c, const char *role, const char *prog)
{
    if (c->nprocs == HH_MAX_PROCS)
        hh_fail(c, "too many processes in one scenario");
    struct hh_proc *p = &c->procs[c->nprocs];
    memset(p, 0, sizeof *p);
    p->ctx = c;
    p->pid = -1;
    p->pidfd = p->in_fd = p->out_fd = p->err_fd = -1;
    snprintf(p->prog, sizeof p->prog, "%s", prog);
    snprintf(p->role, sizeof p->role, "%s", role);
    return p;
}

/* P runs as p->pid: its exit is an event (pidfd), its pipes never block. */
static void
started(struct hh_proc *p)
{
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    /* valgrind (3.19) has no pidfd_open: a harness run under it (the unit
     * tests in make check) learns of an exit from the end of the output,
     * since a process's stdout and stderr close when it exits (read_stream
     * then reaps it) */
    if (p->pidfd < 0 && errno != ENOSYS)
        hh_fail(p->ctx, "pidfd_open: %s", strerror(errno));
    if (p->out_fd >= 0)
        fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
    if (p->in_fd >= 0)
        fcntl(p->in_fd, F_SETFL, O_NONBLOCK);
}

struct hh_proc *
hh_startv(struct hh_ctx *c, const struct hh_spawn *opt, const char *prog,
          const char *const *args)
{
    char path[PATH_MAX];
    const char *argv[96];
    int an = 0;
    const char *spec = opt->trace ? opt->trace : teaching_of(prog);
    bool trace = spec && !opt->no_trace && (opt->must_trace || c->show_trace);
    const struct hh_program *row = hh_program(prog);
    /* a system tool comes from PATH, as it is: only suite programs are
     * looked for in HPSP_BIN, replaced by PROG_ and run under valgrind */
    bool tool = opt->tool || (row && (row->flags & HH_PROG_TOOL));
    bool valgrind = !trace && !tool && getenv("HPSP_VALGRIND");

    struct hh_proc *p = new_proc(c, opt->role ? opt->role : prog, prog);

    if (prog[0] != '/' && !tool && !hhi_is_overridden(prog))
        hh_need_built(c, prog);
    if (prog[0] == '/' || tool)
        snprintf(path, sizeof path, "%s", prog);
    else
        hh_prog_path(prog, path, sizeof path);
    if (prog[0] != '/' && !tool && access(path, X_OK) != 0)
        hh_fail(c,
                "program %s not found at %s (build it with make, or "
                "set PROG_%s)",
                prog, path, prog);

    if (trace) {
        if (!hh_have("strace")) {
            if (opt->must_trace)
                hh_skip(c, "strace is not installed (make deps)");
            trace = false;
        }
    }
    if (trace) {
        hh_tmpfile(c, "strace", p->trace_path, sizeof p->trace_path);
        argv[an++] = "strace";
        argv[an++] = "-f";
        argv[an++] = "-qq";
        argv[an++] = "-o";
        argv[an++] = p->trace_path;
        argv[an++] = "-e";
        argv[an++] = spec;
        argv[an++] = "--";
    } else if (valgrind) {
        static char logopt[300];
        hh_tmpfile(c, "valgrind", p->vg_path, sizeof p->vg_path);
        /* one log per process: a forked child reports in its own file */
        snprintf(logopt, sizeof logopt, "--log-file=%s.%%p", p->vg_path);
        argv[an++] = "valgrind";
        argv[an++] = "-q";
        argv[an++] = "--error-exitcode=99";
        argv[an++] = "--leak-check=full";
        argv[an++] = "--errors-for-leak-kinds=definite,indirect";
        argv[an++] = "--show-leak-kinds=definite,indirect";
        argv[an++] = "--track-fds=yes";
        argv[an++] = logopt;
        argv[an++] = "--";
    }
    char *cmdline = NULL;
    size_t cmdlen = 0;
    FILE *cl = open_memstream(&cmdline, &cmdlen);
    fprintf(cl, "$ %s", prog);
    argv[an++] = path;
    for (int i = 0; args && args[i]; i++) {
        if (an >= (int)(sizeof argv / sizeof argv[0]) - 1)
            hh_fail(c, "too many arguments");
        argv[an++] = args[i];
        fprintf(cl, " %s", args[i]);
    }
    argv[an] = NULL;
    if (opt->stdin_path)
        fprintf(cl, " < %s", opt->stdin_path);
    if (opt->stdout_path)
        fprintf(cl, " %s %s", opt->stdout_append ? ">>" : ">",
                opt->stdout_path);
    fclose(cl);
    if (!opt->hide_command) {
        char line[1200];
        snprintf(line, sizeof line, "%-44s (%s%s%s)", cmdline, p->role,
                 trace      ? ", under strace"
                 : valgrind ? ", under valgrind"
                            : "",
                 !tool && hhi_is_overridden(prog) ? ", PROG_ override" : "");
        hhi_transcribe(c, line);
    }
    free(cmdline);

    /* stdio: pipes to the harness, or files the test named */
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2];
    int in_file = -1, out_file = -1;
    if (opt->stdin_path) {
        in_file = open(opt->stdin_path, O_RDONLY | O_CLOEXEC);
        if (in_file < 0)
            hh_fail(c, "open %s: %s", opt->stdin_path, strerror(errno));
    } else if (pipe2(in, O_CLOEXEC) < 0)
        hh_fail(c, "pipe2: %s", strerror(errno));
    if (opt->stdout_path) {
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC |
                    (opt->stdout_append ? O_APPEND : O_TRUNC);
        out_file = open(opt->stdout_path, flags, 0644);
        if (out_file < 0) {
            int e = errno;
            if (in_file >= 0)
                close(in_file);
            hh_fail(c, "open %s: %s", opt->stdout_path, strerror(e));
        }
    } else if (pipe2(out, O_CLOEXEC) < 0)
        hh_fail(c, "pipe2: %s", strerror(errno));
    if (pipe2(err, O_CLOEXEC) < 0)
        hh_fail(c, "pipe2: %s", strerror(errno));
    p->raw = opt->raw;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_file >= 0 ? in_file : in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_file >= 0 ? out_file : out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawnattr_init(&at);
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &deflt);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    /* LeakSanitizer cannot run under ptrace: a traced sanitizer build
     * keeps the rest of its checks and drops only the leak check */
    char **envp = environ;
    char *env_copy[512], asan[512], tmpdir[160];
    if (trace || opt->tmpdir) {
        int k = 0;
        for (char **e = environ; *e && k < 509; e++)
            if (!(trace && strncmp(*e, "ASAN_OPTIONS=", 13) == 0) &&
                !(opt->tmpdir && strncmp(*e, "TMPDIR=", 7) == 0))
                env_copy[k++] = *e;
        if (trace) { /* ASan's default is detect_leaks=1: set it either way */
            const char *old = getenv("ASAN_OPTIONS");
            snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%sdetect_leaks=0",
                     old ? old : "", old && *old ? ":" : "");
            env_copy[k++] = asan;
        }
        if (opt->tmpdir) {
            snprintf(tmpdir, sizeof tmpdir, "TMPDIR=%s", opt->tmpdir);
            env_copy[k++] = tmpdir;
        }
        env_copy[k] = NULL;
        envp = env_copy;
    }
    int rc =
        posix_spawnp(&p->pid, argv[0], &fa, &at, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (in_file >= 0)
        close(in_file);
    else
        close(in[0]);
    if (out_file >= 0)
        close(out_file);
    else
        close(out[1]);
    close(err[1]);
    p->in_fd = in[1];
    p->out_fd = out[0];
    p->err_fd = err[0];
    c->nprocs++; /* recorded now, so teardown closes the fds */
    if (rc != 0) {
        p->pid = -1;
        p->exited = true;
        hh_fail(c, "cannot start %s: %s", argv[0], strerror(rc));
    }
    started(p);
    return p;
}

/* In the child of hh_fork: stdout and stderr to the pipes OUT and ERR,
 * FN(ARG), exit. */
static HH_NORETURN void
run_forked(void (*fn)(const void *), const void *arg, const int out[2],
           const int err[2])
{
    /* the test's handlers are not the child's: cmocka's would jump back
     * into the test's loop, the runner's kill the scenario's programs */
    static const int deflt[] = {SIGSEGV, SIGBUS,  SIGILL, SIGFPE, SIGSYS,
                                SIGABRT, SIGTERM, SIGINT, SIGHUP, SIGCHLD};
    for (size_t i = 0; i < sizeof deflt / sizeof deflt[0]; i++)
        signal(deflt[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
        _exit(127);
    close(out[0]);
    close(out[1]);
    close(err[0]);
    close(err[1]);
    /* A stdout FILE never written to, as in a freshly exec'd program: the
     * inherited one may have run fully buffered (the test printed to a
     * pipe), and setvbuf(_IOLBF) (hp_init) does not take full effect on a
     * stream already used.  glibc lets a program assign stdout; the old
     * one was flushed before the fork. */
    FILE *fresh = fdopen(STDOUT_FILENO, "w");
    if (fresh == NULL)
        _exit(127);
    stdout = fresh;
    fn(arg);
    fflush(stdout);
    _exit(0);
}

struct hh_proc *
hh_fork(struct hh_ctx *c, const char *role, void (*fn)(const void *arg),
        const void *arg)
{
    struct hh_proc *p = new_proc(c, role, ""); /* no program of the table */
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        hh_fail(c, "pipe2: %s", strerror(errno));
    if (pipe2(err, O_CLOEXEC) < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        hh_fail(c, "pipe2: %s", strerror(e));
    }
    char line[128];
    snprintf(line, sizeof line, "$ %s() (forked)", role);
    hhi_transcribe(c, line);
    /* or the child would print again what the test has buffered */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        run_forked(fn, arg, out, err);
    int e = errno;
    close(out[1]);
    close(err[1]);
    p->out_fd = out[0];
    p->err_fd = err[0];
    c->nprocs++; /* recorded now, so teardown closes the fds */
    if (pid < 0) {
        p->exited = true;
        hh_fail(c, "fork: %s", strerror(e));
    }
    p->pid = pid;
    setpgid(pid, pid); /* the child does it too: either may come first */
    started(p);
    return p;
}

struct hh_proc *
hh_start(struct hh_ctx *c, const char *role, const char *prog, ...)
{
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, prog);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 63)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    struct hh_spawn opt = {.role = role};
    return hh_startv(c, &opt, prog, args);
}

pid_t
hh_pid(struct hh_proc *p)
{
    if (!p->trace_path[0])
        return p->pid;
    /* under strace: the program is strace's child.  Early on strace has
     * others, copies of itself: the children that probe what ptrace can
     * do, and the program's own process before its exec.  The program is
     * the child that is not (or no longer) strace; until then, strace. */
    char path[64], comm[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", p->pid, p->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return p->pid;
    pid_t child = 0;
    int c;
    while (child == 0 && fscanf(f, "%d", &c) == 1) {
        snprintf(path, sizeof path, "/proc/%d/comm", c);
        FILE *cf = fopen(path, "r");
        if (cf && fgets(comm, sizeof comm, cf) && strcmp(comm, "strace\n") != 0)
            child = c;
        if (cf)
            fclose(cf);
    }
    fclose(f);
    return child > 0 ? child : p->pid;
}

void
hh_kill(struct hh_proc *p, int sig)
{
    if (!p->exited)
        kill(hh_pid(p), sig);
}

void
hh_close_stdin(struct hh_proc *p)
{
    if (p->in_fd >= 0) {
        close(p->in_fd);
        p->in_fd = -1;
    }
}

static void
describe_status(int st, char *buf, size_t len)
{
    if (st == -1)
        snprintf(buf, len, "gone, status unknown (reaped elsewhere)");
    else if (WIFEXITED(st))
        snprintf(buf, len, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(buf, len, "status 0x%x", st);
}

/* The valgrind log of the program itself.  valgrind's exit status (99)
 * says memory errors and leaks; descriptors it only lists: one opened by
 * the program (not "<inherited from parent>") above fd 2 and still open
 * at a clean exit is a leak.  A program that dies on a failed call (exit
 * 1, 2) leaves the closing to the kernel; one that finished its job must
 * not. */
static void
check_main_log(struct hh_proc *p, const char *path)
{
    struct hh_ctx *c = p->ctx;
    bool clean_exit = WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
    bool errors = WIFEXITED(p->status) && WEXITSTATUS(p->status) == 99;
    FILE *f = fopen(path, "r");
    char line[1024], pending[1024] = "";
    int leaked = 0;
    while (f && fgets(line, sizeof line, f)) {
        int fd;
        line[strcspn(line, "\n")] = '\0';
        const char *body = strstr(line, "== ");
        body = body ? body + 3 : line;
        if (pending[0]) {
            if (!strstr(body, "<inherited from parent>") && clean_exit) {
                leaked++;
                hh_note(c, "[valgrind] %s: %s", p->role, pending);
                hh_note(c, "[valgrind] %s: %s", p->role, body);
            }
            pending[0] = '\0';
        } else if (sscanf(body, "Open file descriptor %d:", &fd) == 1 ||
                   sscanf(body, "Open AF_%*[^ ] socket %d:", &fd) == 1) {
            if (fd > 2)
                snprintf(pending, sizeof pending, "%s", body);
        } else if (errors && *body && !strstr(body, "FILE DESCRIPTORS")) {
            hh_note(c, "[valgrind] %s: %s", p->role, body);
        }
    }
    if (f)
        fclose(f);
    if (errors)
        hh_fail(c, "valgrind reported memory errors or leaks in %s", p->role);
    if (leaked && clean_exit)
        hh_fail(c,
                "%s left %d file descriptor(s) open at exit "
                "(valgrind --track-fds)",
                p->role, leaked);
}

/* Logs of processes the program forked: their exit status is not ours
 * to see, so look for valgrind's error reports in the text.  The same for
 * the program's own log when a signal killed it: valgrind then dies of
 * that signal too, and its status says nothing of the errors. */
static void
check_child_log(struct hh_proc *p, const char *path, const char *whose)
{
    static const char *const marks[] = {
        "Invalid read",  "Invalid write",      "Invalid free",
        "uninitialised", "definitely lost in", "indirectly lost in",
        "Syscall param", "Mismatched free"};
    FILE *f = fopen(path, "r");
    char line[1024];
    bool bad = false;
    while (f && fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
            if (strstr(line, marks[i])) {
                line[strcspn(line, "\n")] = '\0';
                hh_note(p->ctx, "[valgrind] %s%s: %s", whose, p->role, line);
                bad = true;
            }
    }
    if (f)
        fclose(f);
    if (bad)
        hh_fail(p->ctx, "valgrind reported errors in %s%s", whose, p->role);
}

static void
check_valgrind_logs(struct hh_proc *p)
{
    char pattern[300], mine[300];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s.*", p->vg_path);
    snprintf(mine, sizeof mine, "%s.%d", p->vg_path, (int)p->pid);
    if (glob(pattern, 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        if (strcmp(g.gl_pathv[i], mine) == 0)
            continue;
        check_child_log(p, g.gl_pathv[i], "a process forked by ");
    }
    globfree(&g);
    check_main_log(p, mine);
    if (WIFSIGNALED(p->status))
        check_child_log(p, mine, "");
}

/* After a program exits: its valgrind report and its strace lines. */
static void
after_exit(struct hh_proc *p)
{
    struct hh_ctx *c = p->ctx;
    if (p->vg_path[0]) {
        check_valgrind_logs(p);
        p->vg_path[0] = '\0';
    }
    if (p->err.len && (strstr(p->err.data, "ERROR: AddressSanitizer") ||
                       strstr(p->err.data, "runtime error:") ||
                       strstr(p->err.data, "ERROR: LeakSanitizer") ||
                       strstr(p->err.data, "WARNING: ThreadSanitizer")))
        hh_fail(c, "sanitizer report from %s (see its stderr above)", p->role);
    hhi_show_trace(p);
}

int
hh_wait_exit(struct hh_proc *p, int timeout_ms)
{
    struct hh_ctx *c = p->ctx;
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    while (!p->exited) {
        if (hh_now_ms() >= deadline)
            hh_fail(c, "%s did not exit within %d ms", p->role,
                    hh_ms(c, timeout_ms));
        hhi_pump(c, hhi_left_ms(deadline));
    }
    /* what it wrote before exiting is in the pipes already */
    if (p->out_fd >= 0)
        read_stream(p, &p->out_fd, &p->out, false);
    if (p->err_fd >= 0)
        read_stream(p, &p->err_fd, &p->err, true);
    transcribe_stream(p, &p->out, &p->out_seen, false, true);
    transcribe_stream(p, &p->err, &p->err_seen, true, true);
    char st[128];
    describe_status(p->status, st, sizeof st);
    if (p->raw)
        hh_note(c, "(%s wrote %zu bytes to stdout)", p->role, p->out.len);
    if (!p->quiet && !p->is_capture)
        hh_note(c, "(%s: %s)", p->role, st);
    after_exit(p);
    return p->status;
}

void
hh_expect_exit(struct hh_proc *p, int code, int timeout_ms)
{
    int st = hh_wait_exit(p, timeout_ms);
    char buf[128];
    describe_status(st, buf, sizeof buf);
    HH_CHECK(p->ctx, WIFEXITED(st) && WEXITSTATUS(st) == code,
             "%s: expected exit %d, got %s", p->role, code, buf);
}

int
hh_stop_status(struct hh_proc *p)
{
    struct hh_ctx *c = p->ctx;
    if (!p->exited) {
        hh_note(c, "(harness: SIGTERM to %s)", p->role);
        kill(hh_pid(p), SIGTERM);
        long long deadline = hh_now_ms() + hh_ms(c, HHI_GRACE_MS);
        while (!p->exited && hh_now_ms() < deadline)
            hhi_pump(c, hhi_left_ms(deadline));
        if (!p->exited) {
            hh_note(c, "(harness: %s ignored SIGTERM for %d ms: SIGKILL)",
                    p->role, hh_ms(c, HHI_GRACE_MS));
            kill(-p->pid, SIGKILL);
        }
    }
    return hh_wait_exit(p, HHI_GRACE_MS);
}

int
hh_stop(struct hh_proc *p)
{
    int st = hh_stop_status(p);
    char buf[128];
    const struct hh_program *t = hh_program(p->prog);
    bool may_die = t && (t->flags & HH_PROG_DIES_OF_TERM);
    describe_status(st, buf, sizeof buf);
    HH_CHECK(p->ctx,
             (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
                 (may_die && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM),
             "%s did not stop cleanly on SIGTERM: %s (want exit 0%s)", p->role,
             buf, may_die ? " or killed by SIGTERM" : "");
    return st;
}
void
hh_write_stdin(struct hh_proc *p, const void *buf, size_t len, int timeout_ms)
{
    struct hh_ctx *c = p->ctx;
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t put = 0;
    HH_CHECK(c, p->in_fd >= 0, "%s's stdin is not a pipe of the harness",
             p->role);
    while (put < len) {
        ssize_t n = write(p->in_fd, (const char *)buf + put, len - put);
        if (n > 0) {
            put += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EPIPE)
            hh_fail(c, "%s closed its stdin after %zu of %zu bytes", p->role,
                    put, len);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            hh_fail(c, "write to %s's stdin: %s", p->role, strerror(errno));
        /* wait_fd keeps reading the program's output meanwhile, so a
         * program that writes as much as it reads cannot deadlock us */
        if (!hhi_wait_fd(c, p->in_fd, POLLOUT, deadline))
            hh_fail(c,
                    "%s read only %zu of %zu bytes of its stdin within %d "
                    "ms",
                    p->role, put, len, hh_ms(c, timeout_ms));
    }
}

bool
hh_track_pid(struct hh_ctx *c, pid_t pid)
{
    for (int i = 0; i < c->nextra; i++)
        if (c->extra[i] == pid)
            return false;
    for (int i = 0; i < c->nprocs; i++)
        if (c->procs[i].pid == pid)
            return false;
    if (c->nextra < HH_MAX_PROCS)
        c->extra[c->nextra++] = pid;
    return true;
}

void
hh_untrack_pid(struct hh_ctx *c, pid_t pid)
{
    for (int i = 0; i < c->nextra; i++)
        if (c->extra[i] == pid) {
            c->extra[i] = c->extra[--c->nextra];
            return;
        }
}

bool
hh_wait_gone(struct hh_ctx *c, pid_t pid, int timeout_ms)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0)
        return errno == ESRCH; /* already gone (and reaped) */
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    bool gone = hhi_wait_fd(c, pfd, POLLIN, deadline) != 0;
    close(pfd);
    if (gone) { /* our child or orphan (we are the subreaper): reap it */
        waitpid(pid, NULL, WNOHANG);
        /* and forget it: teardown must not signal a reused pid */
        hh_untrack_pid(c, pid);
    }
    return gone;
}

/* poll one fd, while still reading the programs' output */
int
hhi_wait_fd(struct hh_ctx *c, int fd, short events, long long deadline)
{
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = events};
        int r = poll(&pf, 1, 0);
        if (r > 0)
            return pf.revents;
        if (hh_now_ms() >= deadline)
            return 0;
        /* let the programs' output flow while we wait, in short slices */
        struct pollfd both[HH_MAX_PROCS * 3 + 1];
        int n = 0;
        both[n++] = (struct pollfd){.fd = fd, .events = events};
        for (int i = 0; i < c->nprocs; i++) {
            struct hh_proc *p = &c->procs[i];
            if (p->out_fd >= 0)
                both[n++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
            if (p->err_fd >= 0)
                both[n++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
            if (p->pidfd >= 0 && !p->exited)
                both[n++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
        }
        r = poll(both, n, hhi_left_ms(deadline));
        if (r > 0 && both[0].revents)
            return both[0].revents;
        if (r > 0)
            hhi_pump(c, 0);
    }
}

/* The state letter of PID in /proc/PID/stat ('S', 'T' ...), or 0. */
static char
proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the name may hold spaces */
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

char
hh_wait_state(struct hh_proc *p, const char *states, int timeout_ms)
{
    struct hh_ctx *c = p->ctx;
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    for (;;) {
        char st = proc_state(hh_pid(p));
        if (st && strchr(states, st))
            return st;
        HH_CHECK(c, !p->exited, "%s exited while the test waited for it",
                 p->role);
        if (hh_now_ms() >= deadline)
            hh_fail(c, "%s not in state [%s] within %d ms (state '%c')",
                    p->role, states, hh_ms(c, timeout_ms), st ? st : '?');
        hh_observe(c, 1);
    }
}

/*
 * Give back the process slot of P, which has exited and whose output was
 * read to the end and transcribed (hh_wait_exit): close what is left of
 * its fds, free its buffers.  Only the last slot is given back, so the
 * hh_proc pointers a test holds stay valid; one in the middle keeps its
 * slot until teardown.
 */
void
hh_release(struct hh_proc *p)
{
    struct hh_ctx *c = p->ctx;
    if (!p->exited || p != &c->procs[c->nprocs - 1])
        return;
    int *fds[] = {&p->pidfd, &p->in_fd, &p->out_fd, &p->err_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    hhi_buf_free(&p->out);
    hhi_buf_free(&p->err);
    c->nprocs--;
}

/* The parent of PID from /proc/PID/stat, and its name into COMM (when
 * COMM is not NULL); -1 when it is gone. */
pid_t
hhi_stat_ppid(pid_t pid, char *comm, size_t cap)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* "pid (name) state ppid ...": the name may hold spaces and ')' */
    char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    int ppid;
    if (!open_paren || !close_paren ||
        sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
        return -1;
    if (comm)
        snprintf(comm, cap, "%.*s", (int)(close_paren - open_paren - 1),
                 open_paren + 1);
    return ppid;
}

pid_t
hh_ppid(pid_t pid)
{
    return hhi_stat_ppid(pid, NULL, 0);
}

int
hh_children(struct hh_ctx *c, pid_t pid, pid_t *out, int cap)
{
    char path[64];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid,
             (int)pid);
    char *text = hh_read_file(c, path, &len);
    int n = 0;
    for (char *s = text; n < cap && *s;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        out[n++] = (pid_t)v;
        s = end;
    }
    return n;
}

bool
hh_holds_fd(struct hh_ctx *c, pid_t pid, const char *link)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    HH_CHECK(c, d != NULL, "open %s: %s", dir, strerror(errno));
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        char path[320], target[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            found = strcmp(target, link) == 0;
        }
    }
    closedir(d);
    return found;
}

/* SIGALRM ends a wait that took too long (no SA_RESTART: waitpid
 * returns EINTR). */
static void
on_alarm(int sig)
{
    (void)sig;
}

void
hh_freeze_thread(struct hh_ctx *c, pid_t tid)
{
    HH_CHECK(c, c->nfrozen < HH_MAX_PROCS, "more than %d frozen threads",
             HH_MAX_PROCS);
    HH_CHECK(c, ptrace(PTRACE_SEIZE, tid, 0, 0) == 0,
             "ptrace(PTRACE_SEIZE, thread %d): %s", (int)tid,
             strerror(errno));
    c->frozen[c->nfrozen++] = tid;
    HH_CHECK(c, ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0,
             "ptrace(PTRACE_INTERRUPT, thread %d): %s", (int)tid,
             strerror(errno));
    /* the stop is reported to us, its tracer: waitpid with a deadline */
    struct sigaction sa = {.sa_handler = on_alarm}, old_sa;
    int ms = hh_ms(c, 3000), st = 0, err;
    struct itimerval it = {.it_value = {ms / 1000, ms % 1000 * 1000}};
    struct itimerval off = {{0, 0}, {0, 0}};
    sigaction(SIGALRM, &sa, &old_sa);
    setitimer(ITIMER_REAL, &it, NULL);
    pid_t r = waitpid(tid, &st, __WALL);
    err = errno;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_sa, NULL);
    HH_CHECK(c, r == tid, "thread %d did not stop within %d ms: %s",
             (int)tid, ms, r < 0 ? strerror(err) : "another pid");
    /* PTRACE_EVENT_STOP: stopped by our interrupt, no signal of its own
     * to hand back when it goes on */
    HH_CHECK(c, WIFSTOPPED(st) && st >> 16 == PTRACE_EVENT_STOP,
             "thread %d: wait status %#x, not the interrupt's stop",
             (int)tid, st);
    hh_note(c, "harness: thread %d frozen (ptrace PTRACE_INTERRUPT); the "
            "others run on", (int)tid);
}

/* Let TID go on; false if it was not ours or would not detach. */
static bool
thaw(struct hh_ctx *c, pid_t tid)
{
    for (int i = 0; i < c->nfrozen; i++)
        if (c->frozen[i] == tid) {
            c->frozen[i] = c->frozen[--c->nfrozen];
            return ptrace(PTRACE_DETACH, tid, 0, 0) == 0;
        }
    return false;
}

void
hh_thaw_thread(struct hh_ctx *c, pid_t tid)
{
    HH_CHECK(c, thaw(c, tid), "ptrace(PTRACE_DETACH, thread %d): %s",
             (int)tid, strerror(errno));
    hh_note(c, "harness: thread %d thawed (PTRACE_DETACH)", (int)tid);
}

void
hhi_thaw_all(struct hh_ctx *c)
{
    while (c->nfrozen > 0)
        (void)thaw(c, c->frozen[c->nfrozen - 1]);
}

int
hh_other_threads(struct hh_ctx *c, pid_t pid, pid_t *out, int cap)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    HH_CHECK(c, d != NULL, "open %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        long tid = atol(e->d_name);
        if (tid > 0 && tid != pid)
            out[n++] = (pid_t)tid;
    }
    closedir(d);
    return n;
}
