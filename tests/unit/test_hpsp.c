/*
 * test_hpsp.c - unit tests of the common library (common/hpsp.c).
 *
 * What exits (hp_die*, hp_usage, hp_parse_*) runs in a forked child whose
 * stdout and stderr come back through pipes: the harness's hh_fork, in
 * the context hh_unit_ctx makes for each test, forks, captures and reaps,
 * always with a deadline, as it does for the chapters' programs.
 *
 * Every test runs between guard_setup and guard_teardown, which fail the
 * test if it leaves a file descriptor open, and kill a child a failed
 * assertion left behind (hh_unit_done).
 */
#define _GNU_SOURCE
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hpsp.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------
 * The harness's context, deadlines, fd accounting
 */

/*
 * Under valgrind its libc cleanup (--run-libc-freeres) flushes stdio even
 * on _exit, so what a child left in its stdout buffer shows up anyway.
 */
static int
under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return preload && strstr(preload, "vgpreload");
}

/* How long a child may take (the harness stretches it under valgrind and
 * the sanitizers). */
#define CHILD_MS 5000

/* The harness's context of the running test (guard_setup): its children
 * and their output. */
static struct hh_ctx *hc;
static int fds_at_setup;

static int
count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* A receive timeout, so a reader whose writer is broken fails, not hangs. */
static void
bound_reads(int fd)
{
    int ms = hh_ms(hc, CHILD_MS);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv),
                     0);
}

/* ------------------------------------------------------------------------
 * Running code in a child and capturing what it prints: hh_fork
 */

typedef void child_body(const void *arg);

/* Run BODY(ARG) in a child and wait for its exit, reading its stdout and
 * stderr to the end (p->out, p->err).  The child must not use cmocka's
 * assertions: it reports through its output and status. */
static struct hh_proc *
run_in_child(child_body *body, const void *arg)
{
    struct hh_proc *p = hh_fork(hc, "child", body, arg);
    hh_wait_exit(p, CHILD_MS);
    return p;
}

/* What a child printed on one stream ("" for nothing). */
static const char *
text_of(const struct hh_buf *b)
{
    return b->data ? b->data : "";
}

/* Fail unless the child exited with CODE and printed exactly OUT and ERR
 * (NULL: anything). */
static void
expect_child(const char *ctx, const struct hh_proc *p, int code,
             const char *out, const char *err)
{
    const char *got_out = text_of(&p->out), *got_err = text_of(&p->err);

    if (WIFSIGNALED(p->status))
        fail_msg("%s: the child was killed by signal %d\n  stderr: \"%s\"", ctx,
                 WTERMSIG(p->status), got_err);
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != code)
        fail_msg("%s: exit status %d, want %d\n"
                 "  stdout: \"%s\"\n  stderr: \"%s\"",
                 ctx, WEXITSTATUS(p->status), code, got_out, got_err);
    if (out && strcmp(got_out, out) != 0)
        fail_msg("%s: stdout\n  got:  \"%s\"\n  want: \"%s\"", ctx, got_out,
                 out);
    if (err && strcmp(got_err, err) != 0)
        fail_msg("%s: stderr\n  got:  \"%s\"\n  want: \"%s\"", ctx, got_err,
                 err);
}

static void
expect_contains(const char *ctx, const char *what, const char *text,
                const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("%s: %s \"%s\" does not contain \"%s\"", ctx, what, text,
                 needle);
}

/* hp_init stores a pointer into argv[0]: keep the name in static storage. */
static void
init_as(const char *argv0)
{
    static char name[128];
    char *argv[] = {name, NULL};

    snprintf(name, sizeof name, "%s", argv0);
    hp_init(1, argv);
}

/* No test takes this long; a loop that never ends dies of SIGALRM. */
#define TEST_WATCHDOG_S 120

static int
guard_setup(void **state)
{
    (void)state;
    alarm(TEST_WATCHDOG_S);
    hc = hh_unit_ctx();
    fds_at_setup = count_open_fds();
    return fds_at_setup < 0 ? -1 : 0;
}

static int
guard_teardown(void **state)
{
    int now;

    (void)state;
    alarm(0);
    /* kills and reaps a child a failed assertion left behind, closes its
     * pipes */
    hh_unit_done(hc);
    hc = NULL;
    /* hp_catch_term may have been left installed by a failed test. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    now = count_open_fds();
    if (now != fds_at_setup) {
        print_error("file descriptors: %d open before the test, %d after\n",
                    fds_at_setup, now);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * hp_parse_long, hp_parse_port, hp_parse_sockaddr
 */

enum parser { P_PORT, P_LONG, P_DURATION };

struct parse_case {
    enum parser parser;
    const char *s;
    long min, max; /* P_LONG only */
    int ok;
    long want;       /* when ok */
    const char *why; /* when refused: part of the message */
};

/* clang-format off */
#define PORT_OK(s, v) {P_PORT, s, 0, 0, 1, v, NULL}
#define PORT_BAD(s, why) {P_PORT, s, 0, 0, 0, 0, why}
#define LONG_OK(s, lo, hi, v) {P_LONG, s, lo, hi, 1, v, NULL}
#define LONG_BAD(s, lo, hi, why) {P_LONG, s, lo, hi, 0, 0, why}
#define DUR_OK(s, lo, hi, v) {P_DURATION, s, lo, hi, 1, v, NULL}
#define DUR_BAD(s, lo, hi, why) {P_DURATION, s, lo, hi, 0, 0, why}
/* clang-format on */

#define NOT_NUMBER "not a number"
#define OUT_OF_RANGE "out of range"
#define NOT_DURATION "not a duration"

static const struct parse_case parse_cases[] = {
    PORT_OK("0", 0),
    PORT_OK("80", 80),
    PORT_OK("65535", 65535),
    PORT_OK("08080", 8080),
    PORT_BAD("", "empty"),
    PORT_BAD("-1", OUT_OF_RANGE),
    PORT_BAD("65536", OUT_OF_RANGE),
    PORT_BAD("70000", OUT_OF_RANGE),
    PORT_BAD("12x", NOT_NUMBER),
    PORT_BAD("x12", NOT_NUMBER),
    PORT_BAD(" 1", NOT_NUMBER),
    PORT_BAD("+1", NOT_NUMBER),
    PORT_BAD("1 ", NOT_NUMBER),
    PORT_BAD("\t1", NOT_NUMBER),
    PORT_BAD("1\n", NOT_NUMBER),
    PORT_BAD("-", NOT_NUMBER),
    PORT_BAD("--1", NOT_NUMBER),
    PORT_BAD("- 1", NOT_NUMBER),
    PORT_BAD("0x50", NOT_NUMBER),
    PORT_BAD("1e3", NOT_NUMBER),
    PORT_BAD("99999999999999999999999", OUT_OF_RANGE),
    LONG_OK("-5", -10, 10, -5),
    LONG_OK("-10", -10, 10, -10),
    LONG_OK("10", -10, 10, 10),
    LONG_OK("0", -10, 10, 0),
    LONG_BAD("-11", -10, 10, OUT_OF_RANGE),
    LONG_BAD("11", -10, 10, OUT_OF_RANGE),
    LONG_BAD("-+5", -10, 10, NOT_NUMBER),
    LONG_BAD("-5x", -10, 10, NOT_NUMBER),
    LONG_BAD("0", 1, 100, OUT_OF_RANGE),
    LONG_BAD("-99999999999999999999999", LONG_MIN, LONG_MAX, OUT_OF_RANGE),
    /* durations: bare seconds, s, ms, fractions of a second */
    DUR_OK("2", 0, 3600000, 2000),
    DUR_OK("2s", 0, 3600000, 2000),
    DUR_OK("250ms", 0, 3600000, 250),
    DUR_OK("0.5", 0, 3600000, 500),
    DUR_OK("1.25s", 0, 3600000, 1250),
    DUR_OK("0.001", 1, 3600000, 1),
    DUR_OK("0", 0, 10, 0),
    DUR_OK("3600s", 1, 3600000, 3600000),
    DUR_BAD("", 0, 1000, "empty"),
    DUR_BAD("soon", 0, 1000, NOT_DURATION),
    DUR_BAD("-3", 0, 1000, NOT_DURATION),
    DUR_BAD("+3", 0, 1000, NOT_DURATION),
    DUR_BAD(" 3", 0, 1000, NOT_DURATION),
    DUR_BAD("3 ", 0, 1000, NOT_DURATION),
    DUR_BAD("3m", 0, 1000000, NOT_DURATION),
    DUR_BAD("3sec", 0, 1000000, NOT_DURATION),
    DUR_BAD("1.", 0, 10000, NOT_DURATION),
    DUR_BAD(".5", 0, 10000, NOT_DURATION),
    DUR_BAD("0.0005", 0, 10000, "finer than a millisecond"),
    DUR_BAD("1.5ms", 0, 10000, "whole numbers"),
    DUR_BAD("0", 1, 1000, "out of range 1ms..1s"),
    DUR_BAD("3601", 1, 3600000, "out of range 1ms..3600s"),
    DUR_BAD("99999999999999999999999", 0, 1000, OUT_OF_RANGE),
    DUR_BAD("99999999999999999999999ms", 0, 1000, OUT_OF_RANGE),
};

#define PARSE_SYNOPSIS "[-n COUNT] PORT"

static void
parse_child(const void *arg)
{
    const struct parse_case *c = arg;
    long v;

    init_as("/usr/local/bin/parsetest");
    hp_set_usage(PARSE_SYNOPSIS, NULL);
    if (c->parser == P_PORT)
        v = hp_parse_port(c->s);
    else if (c->parser == P_DURATION)
        v = (long)hp_parse_duration(c->s, c->min, c->max, "count");
    else
        v = hp_parse_long(c->s, c->min, c->max, "count");
    printf("%ld\n", v);
}

static void
check_parse(const struct parse_case *c)
{
    char ctx[160], want[64];
    const char *what = c->parser == P_PORT ? "port" : "count";

    snprintf(ctx, sizeof ctx, "%s(\"%s\")",
             c->parser == P_PORT       ? "hp_parse_port"
             : c->parser == P_DURATION ? "hp_parse_duration"
                                       : "hp_parse_long",
             c->s);
    struct hh_proc *p = run_in_child(parse_child, c);
    if (c->ok) {
        snprintf(want, sizeof want, "%ld\n", c->want);
        expect_child(ctx, p, 0, want, "");
        hh_release(p); /* the tables are longer than the harness's slots */
        return;
    }
    expect_child(ctx, p, 2, "", NULL);
    /* "parsetest: WHAT 'S': WHY\nusage: parsetest SYNOPSIS\n" */
    const char *err = text_of(&p->err);
    snprintf(want, sizeof want, "parsetest: %s", what);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("%s: stderr \"%s\" does not start with \"%s\"", ctx, err,
                 want);
    if (c->s[0] != '\0') {
        char quoted[80];
        snprintf(quoted, sizeof quoted, "'%s'", c->s);
        expect_contains(ctx, "stderr", err, quoted);
    }
    expect_contains(ctx, "stderr", err, c->why);
    expect_contains(ctx, "stderr", err, "usage");
    const char *tail = "\nusage: parsetest " PARSE_SYNOPSIS "\n";
    size_t tl = strlen(tail);
    if (p->err.len < tl || strcmp(err + p->err.len - tl, tail) != 0)
        fail_msg("%s: stderr \"%s\" does not end with the usage line", ctx,
                 err);
    hh_release(p);
}

static void
test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(parse_cases); i++)
        check_parse(&parse_cases[i]);
}

/* The exact message, once, so its shape is pinned and not only its parts. */
static void
test_parse_message(void **state)
{
    static const struct parse_case c = PORT_BAD("12x", NOT_NUMBER);
    (void)state;

    struct hh_proc *p = run_in_child(parse_child, &c);
    expect_child("hp_parse_port(\"12x\")", p, 2, "",
                 "parsetest: port '12x': not a number\n"
                 "usage: parsetest " PARSE_SYNOPSIS "\n");
}

/* The extremes of long, built as text at run time. */
static void
test_parse_long_extremes(void **state)
{
    char max[32], min[32], above[32], below[32];
    (void)state;

    snprintf(max, sizeof max, "%ld", LONG_MAX);
    snprintf(min, sizeof min, "%ld", LONG_MIN);
    snprintf(above, sizeof above, "%lu", (unsigned long)LONG_MAX + 1);
    snprintf(below, sizeof below, "-%lu", (unsigned long)LONG_MAX + 2);

    const struct parse_case cases[] = {
        LONG_OK(max, LONG_MIN, LONG_MAX, LONG_MAX),
        LONG_OK(min, LONG_MIN, LONG_MAX, LONG_MIN),
        LONG_BAD(above, LONG_MIN, LONG_MAX, OUT_OF_RANGE),
        LONG_BAD(below, LONG_MIN, LONG_MAX, OUT_OF_RANGE),
        /* In range for strtol, not for the caller's MAX. */
        LONG_BAD(max, LONG_MIN, LONG_MAX - 1, OUT_OF_RANGE),
        LONG_BAD(min, LONG_MIN + 1, LONG_MAX, OUT_OF_RANGE),
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        check_parse(&cases[i]);
}

struct sockaddr_case {
    const char *ip, *port;
    int ok;
    const char *want; /* ok: hp_addr_str of the result; else part of msg */
};

static void
parse_sockaddr_child(const void *arg)
{
    const struct sockaddr_case *c = arg;
    struct sockaddr_in sa;
    char buf[HP_ADDRSTRLEN];

    init_as("addrtest");
    hp_set_usage("IP PORT", NULL);
    hp_parse_sockaddr(&sa, c->ip, c->port);
    printf("%s\n", hp_addr_str((struct sockaddr *)&sa, buf, sizeof buf));
}

static void
test_parse_sockaddr(void **state)
{
    static const struct sockaddr_case cases[] = {
        {"127.0.0.1", "8080", 1, "127.0.0.1:8080\n"},
        {"0.0.0.0", "0", 1, "0.0.0.0:0\n"},
        {"1.2.3", "80", 0, "IP '1.2.3': not an IPv4 address"},
        {"::1", "80", 0, "IP '::1': not an IPv4 address"},
        {"localhost", "80", 0, "not an IPv4 address"},
        {"127.0.0.1", "http", 0, "port 'http': not a number"},
        {"127.0.0.1", "65536", 0, "port '65536': out of range"},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct sockaddr_case *c = &cases[i];
        char ctx[96];

        snprintf(ctx, sizeof ctx, "hp_parse_sockaddr(\"%s\", \"%s\")", c->ip,
                 c->port);
        struct hh_proc *p = run_in_child(parse_sockaddr_child, c);
        if (c->ok) {
            expect_child(ctx, p, 0, c->want, "");
        } else {
            expect_child(ctx, p, 2, "", NULL);
            expect_contains(ctx, "stderr", text_of(&p->err), c->want);
            expect_contains(ctx, "stderr", text_of(&p->err),
                            "\nusage: addrtest IP PORT\n");
        }
        hh_release(p);
    }
}

/* ------------------------------------------------------------------------
 * Messages, usage, hp_init
 */

struct msg_case {
    const char *name;
    void (*body)(void);
    int status;
    const char *out, *err;   /* exactly */
    int out_needs_bare_exit; /* OUT relies on _exit not flushing stdio */
};

static void
body_die(void)
{
    errno = ENOENT;
    hp_die("open %s", "x");
}

static void
body_die_no_errno(void)
{
    errno = 0;
    hp_die("nothing to %s", "report");
}

static void
body_die_en(void)
{
    errno = ENOENT; /* ignored: the number is explicit */
    hp_die_en(EAGAIN, "pthread_create");
}

static void
body_diex(void)
{
    errno = ENOENT;
    hp_diex("bad %s %d", "input", 3);
}

/* What the parent had buffered when it forked is the parent's to print:
 * hp_die_child leaves stdio alone. */
static void
body_die_child(void)
{
    printf("pending in stdio, as if inherited from the parent, ");
    errno = ECHILD;
    hp_die_child("waitpid");
}

static void
body_die_flushes_stdout(void)
{
    printf("partial");
    errno = EIO;
    hp_die("write");
}

static void
body_warn(void)
{
    errno = EACCES;
    hp_warn("read %s", "f");
    printf("errno after: %s\n", strerrorname_np(errno));
}

static void
body_warnx(void)
{
    errno = EINTR;
    hp_warnx("note %d", 7);
    printf("errno after: %s\n", strerrorname_np(errno));
}

static void
body_usage_help(void)
{
    hp_set_usage("IP PORT", "  -h  this help\n");
    hp_usage(0);
}

static void
body_usage_no_help(void)
{
    hp_usage(0);
}

static void
body_usage_bad(void)
{
    hp_set_usage("IP PORT", "  -h  this help\n"); /* not printed */
    hp_usage(2);
}

static void
body_bad_usage(void)
{
    hp_bad_usage("unexpected argument '%s'", "zz");
}

/* Line-buffered: the line is in the pipe before _exit, which flushes
 * nothing. */
static void
body_line_buffered(void)
{
    printf("line\n");
    _exit(0);
}

static const struct msg_case msg_cases[] = {
    {"hp_die", body_die, 1, "",
     "progname: open x: No such file or directory (ENOENT)\n", 0},
    {"hp_die, errno 0", body_die_no_errno, 1, "",
     "progname: nothing to report\n", 0},
    {"hp_die_en", body_die_en, 1, "",
     "progname: pthread_create: Resource temporarily unavailable "
     "(EAGAIN)\n",
     0},
    {"hp_diex", body_diex, 1, "", "progname: bad input 3\n", 0},
    {"hp_die_child", body_die_child, 1, "",
     "progname: waitpid: No child processes (ECHILD)\n", 1},
    {"hp_die keeps pending stdout", body_die_flushes_stdout, 1, "partial",
     "progname: write: Input/output error (EIO)\n", 0},
    {"hp_warn", body_warn, 0, "errno after: EACCES\n",
     "progname: read f: Permission denied (EACCES)\n", 0},
    {"hp_warnx", body_warnx, 0, "errno after: EINTR\n", "progname: note 7\n",
     0},
    {"hp_usage(0)", body_usage_help, 0,
     "usage: progname IP PORT\n  -h  this help\n", "", 0},
    {"hp_usage(0), no help", body_usage_no_help, 0, "usage: progname IP PORT\n",
     "", 0},
    {"hp_usage(2)", body_usage_bad, 2, "", "usage: progname IP PORT\n", 0},
    {"hp_bad_usage", body_bad_usage, 2, "",
     "progname: unexpected argument 'zz'\nusage: progname IP PORT\n", 0},
    {"hp_init line-buffers stdout", body_line_buffered, 0, "line\n", "", 1},
};

static void
msg_child(const void *arg)
{
    const struct msg_case *c = arg;

    init_as("/some/dir/progname");
    hp_set_usage("IP PORT", NULL);
    c->body();
}

static void
test_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(msg_cases); i++) {
        const struct msg_case *c = &msg_cases[i];
        struct hh_proc *p = run_in_child(msg_child, c);

        expect_child(c->name, p, c->status,
                     c->out_needs_bare_exit && under_valgrind() ? NULL : c->out,
                     c->err);
        hh_release(p);
    }
}

/* A message longer than the library's buffer is cut, but stays one line
 * with the program's name in front. */
static void
body_die_huge(void)
{
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hp_diex("%s", big);
}

static void
test_message_truncated(void **state)
{
    static const struct msg_case c = {"huge", body_die_huge, 1, "", NULL, 0};
    (void)state;

    struct hh_proc *p = run_in_child(msg_child, &c);
    const char *err = text_of(&p->err);
    size_t len = p->err.len;
    expect_child("hp_diex(3000 bytes)", p, 1, "", NULL);
    assert_true(len > strlen("progname: x\n"));
    assert_true(len < 3000);
    assert_memory_equal(err, "progname: x", strlen("progname: x"));
    assert_ptr_equal(strchr(err, '\n'), err + len - 1);
    for (size_t i = strlen("progname: "); i < len - 1; i++)
        assert_int_equal(err[i], 'x');
}

struct name_case {
    int argc;
    const char *argv0;
    const char *want;
};

static void
progname_child(const void *arg)
{
    const struct name_case *c = arg;
    static char name[64];
    char *argv[] = {name, NULL};

    snprintf(name, sizeof name, "%s", c->argv0);
    hp_init(c->argc, argv);
    printf("%s\n", hp_progname());
}

static void
test_progname(void **state)
{
    static const struct name_case cases[] = {
        {1, "/some/dir/progname", "progname\n"},
        {1, "./rel/p", "p\n"},
        {1, "plain", "plain\n"},
        {1, "", "hpsp\n"}, /* the default */
        {0, "ignored", "hpsp\n"},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char ctx[80];

        snprintf(ctx, sizeof ctx, "hp_init(%d, \"%s\")", cases[i].argc,
                 cases[i].argv0);
        struct hh_proc *p = run_in_child(progname_child, &cases[i]);
        expect_child(ctx, p, 0, cases[i].want, "");
        hh_release(p);
    }
}

/* ------------------------------------------------------------------------
 * hp_positional
 */

#define POS_SYNOPSIS "[-h] A [B]"
#define POS_HELP "One or two words.\n"
#define POS_USAGE "usage: postest " POS_SYNOPSIS "\n"
#define POS_MAX_ARGS 4
#define POS_ARG_SIZE 32

struct positional_case {
    const char *name;
    const char *args[POS_MAX_ARGS + 1]; /* after argv[0]; NULL-terminated */
    int min, max;
    int status;
    const char *out, *err; /* exactly */
};

/* clang-format off */
static const struct positional_case positional_cases[] = {
    {"-h", {"-h", NULL}, 1, 2, 0, POS_USAGE POS_HELP, ""},
    {"-h before words", {"-h", "a", NULL}, 1, 2, 0, POS_USAGE POS_HELP, ""},
    {"-h among too many words", {"-h", "a", "b", "c"}, 1, 2, 0,
     POS_USAGE POS_HELP, ""},
    {"unknown option", {"-x", "a", NULL}, 1, 2, 2, "",
     "postest: invalid option -- 'x'\n" POS_USAGE},
    {"-hx: -h comes first", {"-hx", NULL}, 1, 2, 0, POS_USAGE POS_HELP, ""},
    {"too few", {NULL}, 1, 2, 2, "", POS_USAGE},
    {"too many", {"a", "b", "c", NULL}, 1, 2, 2, "", POS_USAGE},
    {"none wanted, one given", {"a", NULL}, 0, 0, 2, "", POS_USAGE},
    {"none wanted, none given", {NULL}, 0, 0, 0, "optind 1:\n", ""},
    {"min", {"a", NULL}, 1, 2, 0, "optind 1: a\n", ""},
    {"max", {"a", "b", NULL}, 1, 2, 0, "optind 1: a b\n", ""},
    /* "+": options end at the first word, so a later -h is a word. */
    {"-h after a word", {"a", "-h", NULL}, 1, 2, 0, "optind 1: a -h\n", ""},
    {"--", {"--", "a", NULL}, 1, 2, 0, "optind 2: a\n", ""},
    {"-- then -h", {"--", "-h", NULL}, 1, 2, 0, "optind 2: -h\n", ""},
    {"-- alone", {"--", NULL}, 0, 0, 0, "optind 2:\n", ""},
    {"-- too few", {"--", NULL}, 1, 2, 2, "", POS_USAGE},
    {"- is a word", {"-", NULL}, 1, 2, 0, "optind 1: -\n", ""},
};
/* clang-format on */

static void
positional_child(const void *arg)
{
    const struct positional_case *c = arg;
    static char words[POS_MAX_ARGS + 1][POS_ARG_SIZE];
    char *argv[POS_MAX_ARGS + 2];
    int argc = 0, first;

    snprintf(words[argc], POS_ARG_SIZE, "/usr/bin/postest");
    argv[argc] = words[argc];
    argc++;
    for (size_t i = 0; i < POS_MAX_ARGS && c->args[i] != NULL; i++) {
        snprintf(words[argc], POS_ARG_SIZE, "%s", c->args[i]);
        argv[argc] = words[argc];
        argc++;
    }
    argv[argc] = NULL;
    hp_init(argc, argv);
    hp_set_usage(POS_SYNOPSIS, POS_HELP);
    first = hp_positional(argc, argv, c->min, c->max);
    printf("optind %d:", first);
    for (int i = first; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
}

static void
test_positional(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(positional_cases); i++) {
        const struct positional_case *c = &positional_cases[i];
        char ctx[96];

        snprintf(ctx, sizeof ctx, "hp_positional: %s", c->name);
        struct hh_proc *p = run_in_child(positional_child, c);
        expect_child(ctx, p, c->status, c->out, c->err);
        hh_release(p);
    }
}

/* A long option is no option of these programs: usage on stderr, exit 2,
 * after getopt's own complaint (whose wording is glibc's business). */
static void
test_positional_long_option(void **state)
{
    static const struct positional_case c = {
        "--no-such-option", {"--no-such-option", "a", NULL}, 1, 2, 2, "", NULL};
    size_t ul = strlen(POS_USAGE);
    (void)state;

    struct hh_proc *p = run_in_child(positional_child, &c);
    expect_child(c.name, p, 2, "", NULL);
    assert_true(p->err.len > ul);
    assert_memory_equal(text_of(&p->err), "postest: ", strlen("postest: "));
    assert_string_equal(text_of(&p->err) + p->err.len - ul, POS_USAGE);
}

/* ------------------------------------------------------------------------
 * hp_sockaddr_in, hp_addr_str
 */

static void
test_sockaddr_in_good(void **state)
{
    static const struct {
        const char *ip;
        in_port_t port;
        uint32_t addr; /* host order */
    } cases[] = {
        {"127.0.0.1", 80, 0x7f000001},
        {"0.0.0.0", 0, 0},
        {"255.255.255.255", 65535, 0xffffffff},
        {"10.20.30.40", 8080, 0x0a141e28},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sockaddr_in sa;
        static const unsigned char zero[sizeof sa.sin_zero];

        memset(&sa, 0xa5, sizeof sa);
        assert_int_equal(hp_sockaddr_in(&sa, cases[i].ip, cases[i].port), 0);
        assert_int_equal(sa.sin_family, AF_INET);
        assert_int_equal(sa.sin_addr.s_addr, htonl(cases[i].addr));
        assert_int_equal(sa.sin_port, htons(cases[i].port));
        assert_memory_equal(sa.sin_zero, zero, sizeof zero);
    }
}

static void
test_sockaddr_in_bad(void **state)
{
    static const char *const bad[] = {
        "1.2.3",        "256.1.1.1", "",         "localhost", "::1",
        "1.2.3.4.5",    " 1.2.3.4",  "1.2.3.4 ", "1.2.3.-4",  "0x7f.0.0.1",
        "127.0.0.1:80",
    };
    struct sockaddr_in sa;
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        errno = 0;
        if (hp_sockaddr_in(&sa, bad[i], 80) != -1 || errno != EINVAL)
            fail_msg("hp_sockaddr_in(\"%s\"): want -1 EINVAL, got errno %s",
                     bad[i], strerrorname_np(errno));
    }
    errno = 0;
    assert_int_equal(hp_sockaddr_in(&sa, NULL, 80), -1);
    assert_int_equal(errno, EINVAL);
}

static socklen_t
make_addr(struct sockaddr_storage *ss, int family, const char *ip,
          unsigned port)
{
    memset(ss, 0, sizeof *ss);
    ss->ss_family = (sa_family_t)family;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
        in->sin_port = htons((in_port_t)port);
        return sizeof *in;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
        in6->sin6_port = htons((in_port_t)port);
        return sizeof *in6;
    }
    return sizeof *ss;
}

static void
test_addr_str(void **state)
{
    static const struct {
        int family;
        const char *ip;
        unsigned port;
        const char *want;
    } cases[] = {
        {AF_INET, "127.0.0.1", 80, "127.0.0.1:80"},
        {AF_INET, "0.0.0.0", 0, "0.0.0.0:0"},
        {AF_INET, "255.255.255.255", 65535, "255.255.255.255:65535"},
        {AF_INET6, "::1", 8080, "[::1]:8080"},
        {AF_INET6, "::", 0, "[::]:0"},
        {AF_INET6, "::ffff:1.2.3.4", 1, "[::ffff:1.2.3.4]:1"},
        {AF_INET6, "fe80::1:2", 443, "[fe80::1:2]:443"},
        {AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
         "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
        {AF_UNIX, NULL, 0, "?"},
        {AF_UNSPEC, NULL, 0, "?"},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sockaddr_storage ss;
        char buf[HP_ADDRSTRLEN];

        make_addr(&ss, cases[i].family, cases[i].ip, cases[i].port);
        assert_ptr_equal(hp_addr_str((struct sockaddr *)&ss, buf, sizeof buf),
                         buf);
        assert_string_equal(buf, cases[i].want);
        assert_true(strlen(cases[i].want) < HP_ADDRSTRLEN);
    }
}

/* A short buffer gets a NUL-terminated prefix and nothing past its end. */
static void
test_addr_str_truncates(void **state)
{
    static const struct {
        int family;
        const char *ip;
        unsigned port;
        size_t len;
        const char *want;
    } cases[] = {
        {AF_INET, "127.0.0.1", 80, 5, "127."},
        {AF_INET, "127.0.0.1", 80, 12, "127.0.0.1:8"},
        {AF_INET, "127.0.0.1", 80, 13, "127.0.0.1:80"},
        {AF_INET, "127.0.0.1", 80, 1, ""},
        {AF_INET6, "::1", 8080, 4, "[::"},
        {AF_UNIX, NULL, 0, 1, ""},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sockaddr_storage ss;
        char buf[32];

        make_addr(&ss, cases[i].family, cases[i].ip, cases[i].port);
        memset(buf, 'Z', sizeof buf);
        assert_ptr_equal(hp_addr_str((struct sockaddr *)&ss, buf, cases[i].len),
                         buf);
        assert_string_equal(buf, cases[i].want);
        for (size_t j = cases[i].len; j < sizeof buf; j++)
            assert_int_equal(buf[j], 'Z');
    }

    /* len 0: nothing written at all. */
    struct sockaddr_storage ss;
    char buf[4] = "ZZZ";
    make_addr(&ss, AF_INET, "127.0.0.1", 80);
    assert_ptr_equal(hp_addr_str((struct sockaddr *)&ss, buf, 0), buf);
    assert_string_equal(buf, "ZZZ");
}

/* ------------------------------------------------------------------------
 * hp_writen
 */

#define BULK_SIZE (1024 * 1024)

struct bulk_args {
    int wfd, rfd;
    const unsigned char *data;
    size_t len;
};

static void
bulk_writer(const void *arg)
{
    const struct bulk_args *a = arg;
    ssize_t n;

    close(a->rfd);
    n = hp_writen(a->wfd, a->data, a->len);
    if (n != (ssize_t)a->len) {
        fprintf(stderr, "hp_writen returned %zd (%s)\n", n,
                strerrorname_np(errno));
        _exit(1);
    }
}

/* Read until N bytes or end of file, as the reader of hp_writen's bytes:
 * the count, or -1 with errno. */
static ssize_t
read_upto(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* 1 MB through a socket with tiny buffers: many short writes. */
static void
test_writen_bulk(void **state)
{
    unsigned char *data = malloc(BULK_SIZE), *got = malloc(BULK_SIZE + 64);
    uint32_t x = 2463534242u;
    int sv[2], small = 4096;
    (void)state;

    assert_non_null(data);
    assert_non_null(got);
    for (size_t i = 0; i < BULK_SIZE; i++) { /* xorshift: no period at 256 */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    assert_int_equal(
        setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    bound_reads(sv[0]);

    struct bulk_args a = {sv[1], sv[0], data, BULK_SIZE};
    struct hh_proc *p = hh_fork(hc, "writer", bulk_writer, &a);
    close(sv[1]);
    /* Ask for more than comes: the short count at end of file. */
    ssize_t n = read_upto(sv[0], got, BULK_SIZE + 64);
    int e = errno;
    hh_wait_exit(p, CHILD_MS);
    expect_child("bulk writer", p, 0, "", "");
    if (n != BULK_SIZE)
        fail_msg("read %zd bytes (%s), want %d", n, strerrorname_np(e),
                 BULK_SIZE);
    assert_memory_equal(got, data, BULK_SIZE);
    assert_int_equal(read_upto(sv[0], got, 10), 0); /* the writer is done */
    close(sv[0]);
    free(data);
    free(got);
}

static void
test_writen_errors(void **state)
{
    int fds[2];
    (void)state;

    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    close(fds[0]);
    close(fds[1]);
    errno = 0;
    assert_int_equal(hp_writen(fds[1], "x", 1), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(hp_writen(fds[1], "x", 0), 0);
}

/*
 * hp_writen retries after EINTR.  In a child, a SIGALRM every 10 ms,
 * caught without SA_RESTART, interrupts it while it waits for room in a
 * full pipe; on its 5th tick the handler itself drains the pipe.
 */
static volatile sig_atomic_t alarm_ticks;
static int alarm_fd = -1;

static void
on_alarm(int sig)
{
    static char room[4096];
    int saved = errno;
    ssize_t r;

    (void)sig;
    if (++alarm_ticks == 5) {
        r = read(alarm_fd, room, sizeof room);
        (void)r;
    }
    errno = saved;
}

/* In a child: HANDLER for SIGALRM, without SA_RESTART, so the waits it
 * interrupts fail with EINTR. */
static void
catch_alarm(void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(SIGALRM, &sa, NULL) < 0)
        _exit(10);
}

static void
set_ticker(int on)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    if (on) {
        it.it_value.tv_usec = 10 * 1000;
        it.it_interval = it.it_value;
    }
    if (setitimer(ITIMER_REAL, &it, NULL) < 0)
        _exit(11);
}

static void
eintr_retry_child(const void *arg)
{
    char buf[4096];
    int p[2];
    ssize_t n;

    (void)arg;
    catch_alarm(on_alarm);
    if (pipe(p) < 0)
        _exit(10);

    /* A full pipe, and room from the 5th tick. */
    memset(buf, 'x', sizeof buf);
    if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0)
        _exit(13);
    while (write(p[1], buf, sizeof buf) > 0)
        ;
    if (errno != EAGAIN || fcntl(p[1], F_SETFL, 0) < 0)
        _exit(14);
    alarm_fd = p[0];
    alarm_ticks = 0;
    set_ticker(1);
    n = hp_writen(p[1], "abc", 3);
    set_ticker(0);
    printf("writen %zd\n", n);
}

static void
test_writen_retry_eintr(void **state)
{
    (void)state;

    struct hh_proc *p = run_in_child(eintr_retry_child, NULL);
    expect_child("hp_writen under SIGALRM", p, 0, "writen 3\n", "");
}

/* SIGPIPE is ignored by main(): writing to a closed peer is EPIPE. */
static void
test_writen_epipe(void **state)
{
    int sv[2], fds[2];
    (void)state;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[1]);
    errno = 0;
    assert_int_equal(hp_writen(sv[0], "hello", 5), -1);
    assert_int_equal(errno, EPIPE);
    close(sv[0]);

    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    close(fds[0]);
    errno = 0;
    assert_int_equal(hp_writen(fds[1], "hello", 5), -1);
    assert_int_equal(errno, EPIPE);
    close(fds[1]);
}

static void
test_writen_eagain(void **state)
{
    int sv[2];
    char *big = calloc(1, BULK_SIZE);
    (void)state;

    assert_non_null(big);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    errno = 0;
    assert_int_equal(hp_writen(sv[0], big, BULK_SIZE), -1);
    assert_int_equal(errno, EAGAIN);
    close(sv[0]);
    close(sv[1]);
    free(big);
}

/* ------------------------------------------------------------------------
 * hp_quote
 */

struct quote_case {
    const char *in;
    size_t len, cap;
    const char *want;
};

static const struct quote_case quote_cases[] = {
    {"abc", 3, 64, "\"abc\""},
    {"", 0, 64, "\"\""},
    {"a\nb\r\t", 5, 64, "\"a\\nb\\r\\t\""},
    {"\"\\", 2, 64, "\"\\\"\\\\\""},
    {"\x01\x7f\x80\xff", 4, 64, "\"\\x01\\x7f\\x80\\xff\""},
    {"a\0b", 3, 64, "\"a\\x00b\""},
    /* cut at a whole escape, marked with ... */
    {"abcdefgh", 8, 10, "\"abcd...\""},
    {"abcdefgh", 8, 11, "\"abcdefgh\""},
    {"\x01\x02\x03", 3, 12, "\"\\x01...\""},
    {"abc", 3, 6, "\"abc\""},
    {"abcd", 4, 6, "\"...\""},
    {"abc", 3, 5, ""},
};

static void
test_quote_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(quote_cases); i++) {
        const struct quote_case *q = &quote_cases[i];
        char out[64];
        memset(out, 'Z', sizeof out);
        size_t n = hp_quote(out, q->cap, q->in, q->len);
        if (strcmp(out, q->want) != 0 || n != strlen(q->want))
            fail_msg("case %zu: hp_quote gave \"%s\" (%zu), want \"%s\"", i,
                     out, n, q->want);
        if (q->cap < sizeof out && out[q->cap] != 'Z')
            fail_msg("case %zu: hp_quote wrote past CAP %zu", i, q->cap);
    }
}

/* Every byte value, with HP_QUOTED_SIZE room: nothing is ever cut. */
static void
test_quote_all_bytes(void **state)
{
    unsigned char all[256];
    char out[HP_QUOTED_SIZE(256)];
    (void)state;
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    size_t n = hp_quote(out, sizeof out, all, sizeof all);
    assert_true(n < sizeof out);
    assert_null(strstr(out, "..."));
    assert_int_equal(out[0], '"');
    assert_int_equal(out[n - 1], '"');
    for (size_t i = 1; i + 1 < n; i++)
        assert_true(out[i] >= 0x20 && out[i] < 0x7f);
}

/* ------------------------------------------------------------------------
 * hp_tcp_listener, hp_announce_listener
 */

static in_port_t
local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    assert_int_equal(sa.sin_family, AF_INET);
    return ntohs(sa.sin_port);
}

static int
sockopt(int fd, int opt)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, opt, &v, &len), 0);
    return v;
}

static void
test_tcp_listener(void **state)
{
    struct sockaddr_in sa;
    int fd, client, conn;
    (void)state;

    assert_int_equal(hp_sockaddr_in(&sa, "127.0.0.1", 0), 0);
    fd = hp_tcp_listener(&sa, 8, 0);
    assert_true(fd >= 0);
    sa.sin_port = htons(local_port(fd));
    assert_int_not_equal(sa.sin_port, 0);
    assert_int_equal(sockopt(fd, SO_ACCEPTCONN), 1);
    assert_int_not_equal(sockopt(fd, SO_REUSEADDR), 0);
    assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_false(fcntl(fd, F_GETFD) & FD_CLOEXEC);

    /* It takes a connection. */
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(client >= 0);
    assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof sa), 0);
    conn = accept(fd, NULL, NULL);
    assert_true(conn >= 0);
    close(conn);
    close(client);
    close(fd);
}

static void
test_tcp_listener_flags(void **state)
{
    struct sockaddr_in sa;
    int fd;
    (void)state;

    assert_int_equal(hp_sockaddr_in(&sa, "127.0.0.1", 0), 0);
    fd = hp_tcp_listener(&sa, 8, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    errno = 0;
    assert_int_equal(accept(fd, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    close(fd);
}

/* Failures return -1 with the cause in errno, and close what they opened
 * (SO_REUSEADDR does not let two sockets listen on one port). */
static void
test_tcp_listener_failures(void **state)
{
    struct sockaddr_in sa;
    int first, fds_before;
    (void)state;

    assert_int_equal(hp_sockaddr_in(&sa, "127.0.0.1", 0), 0);
    first = hp_tcp_listener(&sa, 8, 0);
    assert_true(first >= 0);
    sa.sin_port = htons(local_port(first));

    fds_before = count_open_fds();
    errno = 0;
    assert_int_equal(hp_tcp_listener(&sa, 8, 0), -1);
    assert_int_equal(errno, EADDRINUSE);
    assert_int_equal(count_open_fds(), fds_before);

    errno = 0;
    assert_int_equal(hp_tcp_listener(&sa, 8, 0x40000000), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(count_open_fds(), fds_before);
    close(first);
}

static void
announce_child(const void *arg)
{
    int fd = *(const int *)arg;

    if (hp_announce_listener(fd) < 0)
        fprintf(stderr, "-1 %s\n", strerrorname_np(errno));
}

static void
test_announce_listener(void **state)
{
    static const char *const ips[] = {"127.0.0.1", "0.0.0.0"};
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(ips); i++) {
        struct sockaddr_in sa;
        char want[64];
        int fd;

        assert_int_equal(hp_sockaddr_in(&sa, ips[i], 0), 0);
        fd = hp_tcp_listener(&sa, 8, SOCK_CLOEXEC);
        assert_true(fd >= 0);
        snprintf(want, sizeof want, "listening on %s:%u\n", ips[i],
                 (unsigned)local_port(fd));
        struct hh_proc *p = run_in_child(announce_child, &fd);
        close(fd);
        expect_child("hp_announce_listener", p, 0, want, "");
        hh_release(p);
    }

    /* Not a socket: -1 with errno, and nothing printed. */
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    struct hh_proc *p = run_in_child(announce_child, &fds[0]);
    close(fds[0]);
    close(fds[1]);
    expect_child("hp_announce_listener(pipe)", p, 0, "", "-1 ENOTSOCK\n");
}

/* ------------------------------------------------------------------------
 * hp_catch_term
 */

static volatile sig_atomic_t term_flag;

static void
test_catch_term(void **state)
{
    static const int sigs[] = {SIGTERM, SIGINT};
    struct sigaction old[2], now;
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
        assert_int_equal(sigaction(sigs[i], NULL, &old[i]), 0);
    assert_int_equal(hp_catch_term(&term_flag), 0);
    for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
        assert_int_equal(sigaction(sigs[i], NULL, &now), 0);
        assert_true(now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN);
        assert_false(now.sa_flags & SA_RESTART);
        assert_false(now.sa_flags & SA_RESETHAND); /* a second one counts */
        for (int round = 0; round < 2; round++) {
            term_flag = 0;
            assert_int_equal(raise(sigs[i]), 0);
            assert_int_equal(term_flag, sigs[i]);
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
        assert_int_equal(sigaction(sigs[i], &old[i], NULL), 0);
}

/* In a child: SIGTERM in 10 ms, and again every 10 ms if REPEAT, until
 * timer_delete. */
static timer_t
start_sigterm_timer(int repeat)
{
    struct sigevent sev;
    struct itimerspec its;
    timer_t timer;

    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGTERM;
    if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
        _exit(11);
    memset(&its, 0, sizeof its);
    its.it_value.tv_nsec = 10 * 1000 * 1000;
    if (repeat)
        its.it_interval = its.it_value;
    if (timer_settime(timer, 0, &its, NULL) < 0)
        _exit(12);
    return timer;
}

/*
 * Block on a pipe with no whole line in it while a timer sends SIGTERM
 * every 10 ms (so a tick that lands before the call blocks is followed by
 * one that lands during it), and print how the call ended.  Without
 * SA_RESTART it fails with EINTR; with it, or with a retry loop, it would
 * block until the deadline.
 */
static void
sigterm_child(const void *arg)
{
    static volatile sig_atomic_t flag;
    timer_t timer;
    char buf[16];
    int p[2], err;
    ssize_t n;

    (void)arg;
    if (pipe(p) < 0 || hp_catch_term(&flag) < 0)
        _exit(10);
    timer = start_sigterm_timer(1);
    n = read(p[0], buf, sizeof buf);
    err = errno;
    timer_delete(timer);
    printf("%zd %s %s\n", n, n < 0 ? strerrorname_np(err) : "-",
           flag == SIGTERM ? "SIGTERM" : "no signal");
}

static void
test_catch_term_interrupts_read(void **state)
{
    (void)state;

    struct hh_proc *p = run_in_child(sigterm_child, NULL);
    expect_child("read(2) after hp_catch_term", p, 0, "-1 EINTR SIGTERM\n",
                 "");
}

/*
 * hp_block_term: SIGTERM raised before the wait stays pending (blocked, so
 * not lost between the test of the flag and the wait) and ends the
 * sigsuspend on the wait mask; SIGTERM is blocked again afterwards, and the
 * wait mask keeps the signals that were blocked before (SIGUSR1 here).
 */
static void
block_term_child(const void *arg)
{
    static volatile sig_atomic_t flag;
    sigset_t before, wait_mask, now;

    (void)arg;
    sigemptyset(&before);
    sigaddset(&before, SIGUSR1);
    if (sigprocmask(SIG_SETMASK, &before, NULL) < 0 ||
        hp_block_term(&flag, &wait_mask) < 0)
        _exit(10);
    raise(SIGTERM);
    sigpending(&now);
    printf("pending %d, flag %d\n", sigismember(&now, SIGTERM), (int)flag);
    printf("wait mask: INT %d TERM %d USR1 %d\n",
           sigismember(&wait_mask, SIGINT), sigismember(&wait_mask, SIGTERM),
           sigismember(&wait_mask, SIGUSR1));
    int r = sigsuspend(&wait_mask);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("sigsuspend %d %s, flag %d, TERM blocked %d\n", r,
           strerrorname_np(errno), (int)flag, sigismember(&now, SIGTERM));
}

static void
test_block_term(void **state)
{
    (void)state;

    struct hh_proc *p = run_in_child(block_term_child, NULL);
    expect_child("hp_block_term", p, 0,
                 "pending 1, flag 0\n"
                 "wait mask: INT 0 TERM 0 USR1 1\n"
                 "sigsuspend -1 EINTR, flag 15, TERM blocked 1\n",
                 "");
}

/* ------------------------------------------------------------------------ */

#define T(f) cmocka_unit_test_setup_teardown(f, guard_setup, guard_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_parse_table),
        T(test_parse_message),
        T(test_parse_long_extremes),
        T(test_parse_sockaddr),
        T(test_messages),
        T(test_message_truncated),
        T(test_progname),
        T(test_positional),
        T(test_positional_long_option),
        T(test_sockaddr_in_good),
        T(test_sockaddr_in_bad),
        T(test_addr_str),
        T(test_addr_str_truncates),
        T(test_writen_bulk),
        T(test_writen_errors),
        T(test_writen_retry_eintr),
        T(test_writen_epipe),
        T(test_writen_eagain),
        T(test_quote_table),
        T(test_quote_all_bytes),
        T(test_tcp_listener),
        T(test_tcp_listener_flags),
        T(test_tcp_listener_failures),
        T(test_announce_listener),
        T(test_catch_term),
        T(test_catch_term_interrupts_read),
        T(test_block_term),
    };

    /* hp_writen to a closed peer must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("hpsp common library", tests, NULL,
                                       NULL);
}
