/*
 * harness.h - run hpsp programs against loopback peers, with deadlines.
 *
 * One scenario = one lesson of the book.  A chapter's test file declares
 * one struct hh_chapter: its programs (struct hh_program: listing, the
 * system calls TRACE=1 shows, how it stops, its bad-argument shape) and
 * its scenarios (struct hh_scenario).  From the programs the harness
 * makes a bad_input_<prog> scenario each and the strace filters of
 * TRACE=1, so the test file holds its scenarios and little else.
 * hh_run_chapter() runs the whole table three ways from one binary:
 *
 *   chNN_test             cmocka tests, one per scenario, then "score: N/M"
 *   chNN_test --demo      the reader's view: the lessons, in listing
 *                         order; then, under "what the printed version
 *                         gets wrong", the HH_REGRESSION scenarios; the
 *                         HH_FAILURE_PATH ones only with ALL=1
 *   chNN_test --list      every scenario name (generated ones too)
 *
 * The tests always run everything, whatever the demo shows.
 *
 * Inside a scenario everything waits on an event with a deadline computed
 * on CLOCK_MONOTONIC (poll, pidfd): there is no sleep anywhere.  A failed
 * check records why and jumps back to the runner, which tears down every
 * process, socket and temp file the scenario made, then prints the
 * transcript: the commands, what each side printed, what crossed the
 * socket, and (TRACE=1, CAPTURE=1) the syscalls and packets.
 *
 * The parts: util.c (clock, buffers, transcript, outcome, files),
 * spawn.c (processes, and hh_fork: a function of the test as one),
 * expect.c (lines, regexes), net.c (sockets, echo, sock_diag), trace.c
 * (strace, tcpdump), badargs.c (bad command lines), runner.c (the chapter
 * table, cmocka, the demo, and hh_unit_ctx: the context of a unit test
 * outside any chapter).  internal.h is what they share and tests do not
 * see.
 *
 * Environment:  HPSP_BIN  where the programs are (default: ../bin beside
 * the test binary);  PROG_<name>=/path  run another build of one program
 * (lab grading);  TRACE=1 CAPTURE=1  show syscalls/packets in the demo;
 * ALL=1  the demo shows the failure paths too;  HPSP_VALGRIND=1  run
 * programs under valgrind;  HPSP_SANITIZER=1  they are sanitizer builds
 * (deadlines stretched);  CI=true  a skip is a failure.
 */
#ifndef HPSP_HARNESS_H
#define HPSP_HARNESS_H

#include <netinet/in.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HH_NORETURN __attribute__((noreturn))

#define HH_MAX_PROCS 16
#define HH_MAX_FDS 256
#define HH_MAX_GROUPS 10
#define HH_MAX_KEEP 64
#define HH_MAX_SYS_LINES 60 /* [sys] lines shown per process (TRACE=1) */
#define HH_GROUP_LEN 512

struct hh_ctx;

struct hh_buf {
    char *data;
    size_t len, cap;
};

struct hh_proc {
    struct hh_ctx *ctx;
    char role[32];
    char prog[64];
    pid_t pid;           /* what we spawned (strace, when traced) */
    int pidfd;           /* readable when pid exits */
    int in_fd, out_fd, err_fd;
    struct hh_buf out, err;
    size_t out_seen;     /* stdout bytes already transcribed */
    size_t err_seen;
    size_t out_scan;     /* where the next hh_expect_line starts */
    bool exited;
    int status;          /* waitpid status, valid when exited */
    bool quiet;          /* do not transcribe its output (tcpdump) */
    bool raw;            /* stdout kept in out, not transcribed */
    bool is_capture;
    size_t cap_from;     /* tcpdump: where the scenario's packets start */
    char trace_path[256];
    char *trace_text;    /* its strace output, read once (hh_trace_next) */
    size_t trace_len;
    size_t trace_line, trace_off; /* where hh_trace_next stopped last */
    char vg_path[256];
    struct sockaddr_in addr; /* from its "listening on" line */
    char port[8];
    char line[HH_GROUP_LEN];                  /* the last matched line */
    char groups[HH_MAX_GROUPS][HH_GROUP_LEN]; /* and its groups */
};

struct hh_ctx {
    const struct hh_scenario *sc;
    bool demo;         /* transcript goes to stdout as it happens */
    bool show_trace;   /* TRACE=1 */
    bool show_capture; /* CAPTURE=1 */
    double scale;      /* deadline multiplier (valgrind, sanitizers) */
    struct hh_proc procs[HH_MAX_PROCS];
    int nprocs;
    int fds[HH_MAX_FDS];
    int nfds;
    pid_t extra[HH_MAX_PROCS]; /* daemons and other strays: killed at end */
    int nextra;
    pid_t frozen[HH_MAX_PROCS]; /* threads hh_freeze_thread holds stopped */
    int nfrozen;
    char *keep[HH_MAX_KEEP];   /* hh_alloc'd buffers: freed at end */
    int nkeep;
    struct hh_buf transcript;
    char tmpdir[128];
    int tmpcount;
    char worlddir[128]; /* hh_world_dir's, when not inside tmpdir */
    jmp_buf jump;
    /* what hh_fail and hh_skip do once the outcome is set: NULL, longjmp
     * to jump (the runner); else call this, which does not return (a unit
     * test's context: a cmocka failure or skip) */
    void (*leave)(struct hh_ctx *c);
    enum { HH_PASS, HH_FAIL, HH_SKIP } result;
    char why[2048];
};

/* needs of a scenario: without them it is skipped, with a message */
enum {
    HH_NEED_STRACE = 1 << 0,
    HH_NEED_TCPDUMP = 1 << 1,
    HH_NEED_ROOT = 1 << 2,
    HH_TEST_ONLY = 1 << 8, /* not shown by --demo (bad-input checks) */
    HH_DEMO_ONLY = 1 << 9, /* shown by --demo, not a test: it shows the
                              kernel's behaviour, no program can fail it */
    /* proves a bug of the printed listing fixed: the demo shows it after
     * the lessons, under "what the printed version gets wrong" */
    HH_REGRESSION = 1 << 10,
    /* a failure path (EMFILE on accept, a refused fd >= FD_SETSIZE ...):
     * the demo shows it only with ALL=1 */
    HH_FAILURE_PATH = 1 << 11,
};

struct hh_scenario {
    const char *name;    /* test name */
    const char *listing; /* "5-6/5-7" */
    const char *title;   /* the lesson in one line */
    const char *look_at; /* printed after the transcript in the demo */
    unsigned needs;      /* HH_NEED_*, HH_TEST_ONLY ... HH_FAILURE_PATH */
    void (*run)(struct hh_ctx *);
};

/* ---- a chapter's programs --------------------------------------------- */

/* How a program stops, and what it is (hh_program.flags). */
enum {
    /* It serves one connection and blocks in a plain accept/recv/sendfile
     * that the listing teaches: "killed by SIGTERM" is a clean stop for
     * it, as is exit 0 (DESIGN.md, "Stopping").  Without the flag only
     * exit 0 is. */
    HH_PROG_DIES_OF_TERM = 1 << 0,
    /* It binds IP PORT: its bad-input scenario adds a row that asks it to
     * bind a port a harness listener holds (exit 1, EADDRINUSE). */
    HH_PROG_SERVER = 1 << 1,
    /* A system tool on PATH (ss), not a suite program: no PROG_ override,
     * never under valgrind, not looked for in HPSP_BIN. */
    HH_PROG_TOOL = 1 << 2,
};

/* The bad command lines the harness generates for a program (before its
 * own rows, hh_program.rows).  The rows are those of today's shapes:
 *
 *   HH_ARGS_NONE         none (a peer from another chapter, a tool, or a
 *                        program whose rows are all its own)
 *   HH_ARGS_H            "-h": usage on stdout, exit 0
 *   HH_ARGS_HELP         -h, and --no-such-option (usage, exit 2)
 *   HH_ARGS_IP_PORT      "[options] IP PORT": HH_ARGS_HELP, no arguments,
 *                        IP alone, one argument too many, bad ports
 *                        ("x", "70000", "-1", "") and bad IPs ("1.2.3",
 *                        "localhost"); hh_program.opts go before IP
 *   HH_ARGS_IP_PORT_ARG  "IP PORT ARG": HH_ARGS_HELP, no arguments, the
 *                        bad ports and IPs with hh_program.arg (a valid
 *                        ARG, NULL: none) after PORT
 *
 * HH_PROG_SERVER adds {IP, a port in use[, arg]}: exit 1, EADDRINUSE. */
enum hh_args {
    HH_ARGS_NONE,
    HH_ARGS_H,
    HH_ARGS_HELP,
    HH_ARGS_IP_PORT,
    HH_ARGS_IP_PORT_ARG,
};

struct hh_bad_case;

#define HH_MAX_OPTS 4
struct hh_program {
    const char *name;     /* "oob_recv" */
    const char *listing;  /* "5-7": of its bad_input_<name> scenario */
    const char *syscalls; /* strace -e spec TRACE=1 uses (NULL: untraced) */
    unsigned flags;       /* HH_PROG_* */
    enum hh_args args;    /* its bad-argument shape */
    const char *opts[HH_MAX_OPTS]; /* HH_ARGS_IP_PORT: valid options put
                                      before IP PORT ({"-t", "1"}) */
    const char *arg;      /* HH_ARGS_IP_PORT_ARG: a valid ARG after PORT */
    const struct hh_bad_case *rows; /* its own rows (HH_ROWS) */
    size_t nrows;
};

/* A placeholder of the chapter's own in bad-input rows: NAME in a row's
 * args is replaced by what MAKE writes into OUT (CAP bytes), made once per
 * scenario, and only if one of its rows uses it. */
struct hh_placeholder {
    const char *name;
    void (*make)(struct hh_ctx *c, char *out, size_t cap);
};

struct hh_chapter {
    const char *name; /* "ch05-api" */
    const struct hh_program *programs;
    size_t nprograms;
    const struct hh_scenario *scenarios;
    size_t nscenarios;
    const struct hh_placeholder *placeholders;
    size_t nplaceholders;
    int bad_exit_ms; /* deadline of each bad-input run's exit (0: 3000) */
};

#define HH_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A table and its length, in struct hh_chapter:
 *   {.name = "ch06-advio", HH_TABLE(programs), HH_TABLE(scenarios)} */
#define HH_TABLE(a) .a = (a), .n##a = HH_LEN(a)

/* Run CH as described above; returns the process exit status. */
int hh_run_chapter(int argc, char **argv, const struct hh_chapter *ch);
/* The chapter's entry for PROG, or NULL. */
const struct hh_program *hh_program(const char *prog);

/* A context for a cmocka test of its own (tests/unit), outside any
 * chapter: make it in the test's setup and end it with hh_unit_done in its
 * teardown, which kills, reaps and closes what the test left.  A failed
 * check in it is a cmocka failure (with the transcript), a skip a cmocka
 * skip. */
struct hh_ctx *hh_unit_ctx(void);
void hh_unit_done(struct hh_ctx *c);

/* ---- outcome ---------------------------------------------------------- */
HH_NORETURN HH_PRINTF(2, 3) void hh_fail(struct hh_ctx *c, const char *fmt,
                                         ...);
HH_NORETURN HH_PRINTF(2, 3) void hh_skip(struct hh_ctx *c, const char *fmt,
                                         ...);
#define HH_CHECK(c, cond, ...)                                                 \
    do {                                                                       \
        if (!(cond))                                                           \
            hh_fail((c), __VA_ARGS__);                                         \
    } while (0)

/* ---- transcript ------------------------------------------------------- */
HH_PRINTF(2, 3) void hh_note(struct hh_ctx *c, const char *fmt, ...);
/* Scale a deadline for slow builds (valgrind, sanitizers). */
int hh_ms(struct hh_ctx *c, int ms);
/* Milliseconds on CLOCK_MONOTONIC since an arbitrary point. */
long long hh_now_ms(void);
/* A new path inside the scenario's temp dir (removed at teardown). */
const char *hh_tmpfile(struct hh_ctx *c, const char *stem, char *buf,
                       size_t len);
/* A new directory (mode 0755) that every user can reach, for a program
 * that drops privileges (cgi_server runs its programs as nobody): inside
 * the temp dir when every directory above it is searchable by others,
 * otherwise under /tmp (a clone in /root, mode 0700, is not).  Removed at
 * teardown. */
const char *hh_world_dir(struct hh_ctx *c, const char *stem, char *buf,
                         size_t len);
bool hh_have(const char *tool); /* tool on PATH */

/* ---- programs --------------------------------------------------------- */
struct hh_spawn {
    const char *role;     /* "server", "client" ... (default: the program) */
    const char *trace;    /* strace -e spec: shown with TRACE=1 (default:
                             the program's hh_program.syscalls) */
    bool must_trace;      /* the test asserts on the trace: always strace */
    const char *stdin_path;  /* stdin from this file, not a harness pipe */
    const char *stdout_path; /* stdout to this file (truncated) ... */
    bool stdout_append;      /* ... or opened O_APPEND */
    bool raw;                /* stdout is data: keep it, don't transcribe */
    bool tool;               /* a system tool on PATH (HH_PROG_TOOL) */
    bool hide_command;       /* its command line stays out of the transcript */
    const char *tmpdir;      /* TMPDIR for the program (default: ours) */
    bool no_trace;           /* never under strace, even with TRACE=1:
                                the test ptraces it (hh_freeze_thread) */
};

/* Start PROG (NULL-terminated args) in its own process group, stdio on
 * pipes.  Fails the scenario if it cannot be started. */
struct hh_proc *hh_start(struct hh_ctx *c, const char *role, const char *prog,
                         ...) __attribute__((sentinel));
struct hh_proc *hh_startv(struct hh_ctx *c, const struct hh_spawn *opt,
                          const char *prog, const char *const *args);
/* Run FN(ARG) in a forked child, as ROLE, with its stdout and stderr on
 * pipes of the harness (stdin is the test's): a function of the test that
 * may exit (hp_die, hp_usage ...) is then a process like any other, for
 * hh_wait_exit, hh_expect_line, p->out and p->err.  The child gets a
 * stdout FILE of its own, never written to, as a fresh program has; the
 * crash signals and SIGTERM, SIGINT, SIGHUP and SIGCHLD back at their
 * defaults (the test's handlers would jump into the test), no signal
 * blocked and a process group of its own.  It exits 0, stdout flushed,
 * when FN returns; 127 if it cannot set up its stdout and stderr. */
struct hh_proc *hh_fork(struct hh_ctx *c, const char *role,
                        void (*fn)(const void *arg), const void *arg);
/* Give back the process slot of P, which has exited and been waited for
 * (hh_wait_exit): P and its output are gone.  Only the last slot is given
 * back (a test's other hh_proc pointers stay valid), so a test that runs
 * more than HH_MAX_PROCS processes one after another releases each. */
void hh_release(struct hh_proc *p);
/* Skip the scenario if the build left NAME out (a program or a feature
 * such as "uring" whose library pkg-config did not find): the reason is
 * $HPSP_BIN/absent/NAME.  hh_start does it for every program it starts. */
void hh_need_built(struct hh_ctx *c, const char *name);
/* Path of PROG: $PROG_<prog>, else $HPSP_BIN/prog. */
const char *hh_prog_path(const char *prog, char *buf, size_t len);

/* Wait for "listening on IP:PORT"; fills p->addr and p->port. */
void hh_wait_listening(struct hh_proc *p);
/* Wait for a stdout line matching the extended regex ERE, after the last
 * matched line.  Returns the line; groups in p->groups[1..]. */
const char *hh_expect_line(struct hh_proc *p, const char *ere, int timeout_ms);
/* Like hh_expect_line, on stderr (no order kept). */
const char *hh_expect_err(struct hh_proc *p, const char *ere, int timeout_ms);
/* The next stdout line of P from *POS (0 at first) into LINE; false when
 * there is none (a line still being written counts once P closed its
 * stdout). */
bool hh_next_line(struct hh_proc *p, size_t *pos, char *line, size_t cap);
/* How many stdout lines of P so far match ERE. */
int hh_count_lines(struct hh_proc *p, const char *ere);
/* True if some stdout line so far matches ERE (no waiting). */
bool hh_output_has(struct hh_proc *p, const char *ere);
/* Wait for exit, reading its output to EOF; returns the waitpid status. */
int hh_wait_exit(struct hh_proc *p, int timeout_ms);
/* Wait for exit and require exit status CODE. */
void hh_expect_exit(struct hh_proc *p, int code, int timeout_ms);
/* SIGTERM, then SIGKILL to the group after a grace period.  The program
 * must stop cleanly: exit 0, or for a program flagged
 * HH_PROG_DIES_OF_TERM also death by SIGTERM (a crash, a non-zero exit or
 * a SIGTERM it ignored fails the scenario).  Returns the waitpid status. */
int hh_stop(struct hh_proc *p);
/* The same without the assertion, for a scenario that judges the status
 * itself. */
int hh_stop_status(struct hh_proc *p);
/* Send SIG to the program itself (not to strace around it). */
void hh_kill(struct hh_proc *p, int sig);
/* Pid of the program itself (the tracee under strace). */
pid_t hh_pid(struct hh_proc *p);
/* Close the program's stdin. */
void hh_close_stdin(struct hh_proc *p);
/* Write LEN bytes to its stdin (reading its output meanwhile). */
void hh_write_stdin(struct hh_proc *p, const void *buf, size_t len,
                    int timeout_ms);
/* Kill and reap PID at teardown (a daemon that left our process group;
 * as the subreaper we become its parent).  False if it is tracked already
 * (or is one of the scenario's programs). */
bool hh_track_pid(struct hh_ctx *c, pid_t pid);
/* Forget PID once it has been reaped, so teardown never signals a pid
 * the kernel may have handed to someone else since. */
void hh_untrack_pid(struct hh_ctx *c, pid_t pid);
/* Wait until PID has exited (pidfd); reaps it if it is ours.  True if it
 * is gone within the deadline. */
bool hh_wait_gone(struct hh_ctx *c, pid_t pid, int timeout_ms);

/* ---- files ------------------------------------------------------------ */
/* A temp file of SIZE pseudo-random bytes (from SEED); path into PATH. */
void hh_make_file(struct hh_ctx *c, const char *stem, size_t size,
                  unsigned seed, char *path, size_t len);
/* N bytes of memory, freed at teardown even when the scenario fails. */
void *hh_alloc(struct hh_ctx *c, size_t n);
/* Write TEXT to PATH (created or truncated, mode 0644 whatever the
 * umask). */
void hh_write_text(struct hh_ctx *c, const char *path, const char *text);
/* A temp file holding TEXT (mode 0644); path into PATH. */
void hh_make_text_file(struct hh_ctx *c, const char *stem, const char *text,
                       char *path, size_t len);
/* The first number in PATH (a /proc or /sys file), or -1. */
long hh_read_long(const char *path);
/* The whole content of PATH; freed at teardown.  *LEN gets its size. */
char *hh_read_file(struct hh_ctx *c, const char *path, size_t *len);

/* ---- strace ----------------------------------------------------------- */
/* Count trace lines matching ERE (the program must have exited). */
int hh_trace_count(struct hh_proc *p, const char *ere);
/* P's system calls in order (P has exited), one a call: the next trace
 * line after the first *POS (0 at first) that matches ERE (NULL: any),
 * without strace -f's pid column; its signal (---) and exit (+++) lines
 * are not calls and are passed over.  The groups go to p->groups[1..]
 * (ERE NULL leaves them alone), *POS becomes the line's number (from 1,
 * so two matches compare in trace order and the search goes on after
 * it).  Returns the line, valid until the scenario ends, or NULL when no
 * line is left (*POS then counts every call). */
const char *hh_trace_next(struct hh_proc *p, size_t *pos, const char *ere);
/* The number in P's group I of the last match (hh_trace_next, or
 * hh_match into p->groups); -1 if the group is empty. */
long long hh_group_ll(const struct hh_proc *p, int i);

/* How many epoll_ctl calls of OP (an ERE: "ADD", "MOD", "(ADD|MOD)") in
 * P's trace were about FD (-1: any) with FLAG among the events (NULL: any
 * events).  The arguments are on the call's first line even when strace
 * splits it ("<unfinished ...>"). */
int hh_epoll_ctl_count(struct hh_proc *p, const char *op, int fd,
                       const char *flag);

/* ---- tcpdump ---------------------------------------------------------- */
/* Capture tcp PORT on lo; returns once tcpdump has shown a probe datagram
 * the harness sent itself, so the capture is live (the probe lines are
 * neither transcribed nor counted). */
struct hh_proc *hh_capture_start(struct hh_ctx *c, in_port_t port);
/* Wait until a captured packet line matches ERE; returns it. */
const char *hh_capture_expect(struct hh_proc *cap, const char *ere,
                              int timeout_ms);
/* hh_capture_start when the scenario needs tcpdump or the reader asked
 * for packets (CAPTURE=1); NULL otherwise. */
struct hh_proc *hh_maybe_capture(struct hh_ctx *c, in_port_t port);
/* Stop tcpdump and collect every line it printed (NULL: nothing). */
void hh_capture_stop(struct hh_proc *cap);
/* Count captured lines matching ERE (after hh_capture_stop). */
int hh_capture_count(struct hh_proc *cap, const char *ere);

/* ---- sockets (all recorded and closed at teardown) -------------------- */
int hh_connect(struct hh_ctx *c, const struct sockaddr_in *sa, int timeout_ms);
/* Start a non-blocking connect; returns the fd at once. */
int hh_connect_start(struct hh_ctx *c, const struct sockaddr_in *sa);
/* A listener of the harness on 127.0.0.1:PORT (0: any).  Returns the fd,
 * or -1 with errno when bind fails (other failures fail the scenario). */
int hh_listen(struct hh_ctx *c, in_port_t port, struct sockaddr_in *bound,
              int backlog);
int hh_accept(struct hh_ctx *c, int lfd, int timeout_ms);
void hh_send(struct hh_ctx *c, int fd, const void *buf, size_t len,
             int timeout_ms);
/* Read until EOF; returns the byte count.  Fails on overflow or deadline. */
size_t hh_recv_all(struct hh_ctx *c, int fd, void *buf, size_t cap,
                   int timeout_ms);
void hh_expect_eof(struct hh_ctx *c, int fd, int timeout_ms);
void hh_close(struct hh_ctx *c, int fd);
/* Close with SO_LINGER {1, 0}: the peer gets a RST, not a FIN. */
void hh_abort(struct hh_ctx *c, int fd);
/* Wait for EVENTS on FD (reading the programs' output meanwhile); the
 * revents, or 0 at the deadline. */
int hh_wait_fd(struct hh_ctx *c, int fd, short events, int timeout_ms);
/* The local port of a socket. */
in_port_t hh_local_port(int fd);

/* ---- echo exchanges --------------------------------------------------- */
/* LEN bytes of a fixed pseudo-random pattern (the same every run); valid
 * until the next call. */
const char *hh_pattern(struct hh_ctx *c, size_t len);
/* Send LEN bytes of DATA on FD while reading the echo; it must come back
 * the same, byte for byte, within the deadline.  Every exchange here
 * compares bytes as they arrive and fails once nothing has moved either
 * way for 3 s (scaled): a stopped echo fails fast, not at the deadline. */
void hh_echo_exchange(struct hh_ctx *c, int fd, const void *data, size_t len,
                      int timeout_ms);
/* Read LEN bytes on FD (sending nothing): they must be DATA, compared as
 * they arrive, so a lost or changed byte fails at once. */
void hh_echo_expect(struct hh_ctx *c, int fd, const void *data, size_t len,
                    int timeout_ms);
/* Send LEN bytes of the pattern on FD as fast as the kernel takes them
 * while reading nothing, until the send side stalls (the socket buffers
 * both ways and the server's own are full: no progress for STALL_MS); then
 * read it all back, byte for byte, sending the rest meanwhile.  A server
 * that drops what send() refused, or never resumes on EPOLLOUT, fails.
 * Returns how many bytes were sent before the harness started reading. */
size_t hh_echo_stalled(struct hh_ctx *c, int fd, size_t len, int stall_ms,
                       int timeout_ms);

/* ---- kernel state ----------------------------------------------------- */
/* The TCP socket 127.0.0.1:LPORT -> 127.0.0.1:RPORT as the kernel sees it
 * (one sock_diag lookup): its state (TCP_ESTABLISHED, TCP_CLOSE_WAIT ...
 * from <netinet/tcp.h>), send queue (bytes not yet acknowledged) and
 * receive queue (bytes not yet read by its program), what `ss -tn` shows.
 * 0, or -1 if there is no such socket. */
int hh_tcp_info(in_port_t lport, in_port_t rport, int *state, long *tx,
                long *rx);
/* Name of a TCP state number: "ESTABLISHED", "CLOSE_WAIT" ... */
const char *hh_tcp_state_name(int state);
/* Count the TCP sockets (IPv4) in STATE, written in hex as /proc/net/tcp
 * does ("01" ESTABLISHED, "03" SYN_RECV: request sockets too), whose
 * local port is LPORT (0: any) and remote port is RPORT (0: any): one
 * sock_diag dump, each socket counted once even while others come and go
 * (a read of /proc/net/tcp may show one twice, or miss it).  -1 if the
 * kernel cannot be asked. */
int hh_tcp_count(const char *state, in_port_t lport, in_port_t rport);
/* Let TIME pass while polling the event sources (output is still read):
 * for observation windows, never for readiness. */
void hh_observe(struct hh_ctx *c, int ms);

/* Once P sleeps in its wait, stop it (SIGSTOP; it stays stopped: SIGCONT
 * is the caller's) and fill its socket FD (a socketpair end, such as the
 * one its signal handlers write to) with BYTE, one byte a send, until it
 * takes no more: what as many unread one-byte notes would have left,
 * which real signals cannot do (sent to a stopped process they coalesce).
 * It works on a copy taken with pidfd_getfd, as P's parent may; skips the
 * scenario where the kernel refuses that.  Returns the bytes written. */
int hh_fill_fd_of(struct hh_proc *p, int fd, unsigned char byte);
/* A copy of P's descriptor FD (pidfd_getfd, as P's parent may), the
 * caller's to close; skips the scenario where the kernel refuses. */
int hh_copy_fd_of(struct hh_proc *p, int fd);

/* A port on 127.0.0.1 nobody listens on (taken from the kernel, then
 * freed): a connect there is refused at once. */
in_port_t hh_closed_port(struct hh_ctx *c);
/* A harness listener with backlog 0 whose one-entry accept queue a
 * connection nobody accepts fills: the kernel drops every further SYN, so
 * a connect there hangs in SYN_SENT.  Returns its address. */
struct sockaddr_in hh_full_listener(struct hh_ctx *c);
/* Wait until P's scheduler state (/proc/PID/stat of the program itself)
 * is one of STATES: "S" asleep (blocked in a system call), "Tt" stopped.
 * No event says so: /proc is looked at between 1 ms windows in which
 * output is still read, up to the deadline.  Returns the state. */
char hh_wait_state(struct hh_proc *p, const char *states, int timeout_ms);

/* Processes seen in /proc.  The parent of PID (/proc/PID/stat), or -1
 * if PID is gone. */
pid_t hh_ppid(pid_t pid);
/* The children of PID's main thread (/proc/PID/task/PID/children) into
 * OUT, at most CAP; their count.  proc(5): the list is exact only while
 * the children do not change (stopped, or settled), as a test sees them
 * between events. */
int hh_children(struct hh_ctx *c, pid_t pid, pid_t *out, int cap);
/* Stop thread TID of a process the harness started (ptrace PTRACE_SEIZE,
 * then PTRACE_INTERRUPT): that thread alone, while the process's other
 * threads run on, as a thread that is slow to be scheduled would be.
 * Returns once the kernel reports it stopped (3 s deadline, stretched).
 * The process must not be under strace (start it with .no_trace).
 * hh_thaw_thread lets it go on (PTRACE_DETACH); teardown does so for a
 * thread still frozen, before it kills anything. */
void hh_freeze_thread(struct hh_ctx *c, pid_t tid);
void hh_thaw_thread(struct hh_ctx *c, pid_t tid);
/* The threads of PID other than its main thread (/proc/PID/task), into
 * OUT, at most CAP; their count. */
int hh_other_threads(struct hh_ctx *c, pid_t pid, pid_t *out, int cap);

/* Whether one of PID's descriptors reads LINK in /proc/PID/fd
 * ("socket:[123]", a path); fails the scenario if PID is gone. */
bool hh_holds_fd(struct hh_ctx *c, pid_t pid, const char *link);

/* A socket (or any fd) of the test's own, closed at teardown like the
 * harness's; fails the scenario (with errno) if FD is -1.  Returns FD. */
int hh_track_fd(struct hh_ctx *c, int fd);

/* Whether LINE matches the extended regex ERE; GROUPS (NULL: not wanted)
 * gets the matched groups.  A bad ERE fails the scenario. */
bool hh_match(struct hh_ctx *c, const char *ere, const char *line,
              char groups[][HH_GROUP_LEN]);

/* Escape bytes for the transcript: "ab\n" -> "ab\\n".  Returns OUT. */
char *hh_escape(const void *data, size_t len, char *out, size_t cap);

/* ---- bad command lines ------------------------------------------------ */
/*
 * A program's own bad command lines (hh_program.rows), every row a run of
 * it:
 *
 *   HH_ROWS({{"-n", "x", "127.0.0.1", "0", NULL}, 2, "N 'x'"},
 *           HH_SERVER_IN_USE("-n", ))
 *
 * A row wants exit STATUS and a stderr line matching the extended regex
 * ERR; ERR NULL wants the usage line on stdout instead (-h).  A row with
 * status 2 also wants a usage line on stderr.  An ERR other than HH_USAGE
 * must name the error itself: the line it matches may not be part of the
 * usage text (what `prog -h` prints), and a row whose ERR matches the
 * suite's own program's usage text is rejected as a test bug, since it
 * checks only the exit status.  The table may be longer than
 * HH_MAX_PROCS: each run's process slot is released once it has exited
 * and been transcribed.
 */
#define HH_BAD_MAX_ARGS 10
struct hh_bad_case {
    const char *args[HH_BAD_MAX_ARGS]; /* ends at the first NULL */
    int status;
    const char *err;
};

/* In a struct hh_program initializer: its own rows. */
#define HH_ROWS(...)                                                           \
    .rows = (const struct hh_bad_case[]){__VA_ARGS__},                         \
    .nrows = sizeof((const struct hh_bad_case[]){__VA_ARGS__}) /               \
             sizeof(struct hh_bad_case)

#define HH_USAGE "^usage: "
/* Placeholders in args, replaced when the row runs: */
#define HH_PORT_IN_USE "@PORT_IN_USE@" /* a port a harness listener holds */
#define HH_PORT_CLOSED "@PORT_CLOSED@" /* a port nobody listens on */

/* A server told to bind a port that is taken: exit 1, EADDRINUSE.  The
 * variadic arguments are options before IP PORT, each followed by a
 * comma (HH_PROG_SERVER adds the row without options). */
#define HH_SERVER_IN_USE(...)                                                  \
    {{__VA_ARGS__ "127.0.0.1", HH_PORT_IN_USE, NULL}, 1, "\\(EADDRINUSE\\)"}

/* Run PROG's rows: the generated ones of its shape, then its own. */
void hh_run_bad_input(struct hh_ctx *c, const struct hh_program *prog);

#endif
