/*
 * runner.c - hh_run_chapter: a chapter's table as cmocka tests, as the demo,
 * or as a list; the setup and teardown of each scenario.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include <setjmp.h>
#include <cmocka.h>

extern char **environ;

static struct hh_ctx *live; /* for the fatal-signal cleanup */
static const struct hh_chapter *chapter;

const struct hh_program *
hh_program(const char *prog)
{
    for (size_t i = 0; chapter && i < chapter->nprograms; i++)
        if (strcmp(chapter->programs[i].name, prog) == 0)
            return &chapter->programs[i];
    return NULL;
}

const struct hh_chapter *
hhi_chapter(void)
{
    return chapter;
}

/* ---- running scenarios ------------------------------------------------ */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void
teardown(struct hh_ctx *c)
{
    /* a thread still frozen by the scenario is let go first: killed while
     * we trace it, it would stay a zombie only we could reap, and hold
     * its whole process back from being reaped */
    hhi_thaw_all(c);
    for (int i = 0; i < c->nprocs; i++) {
        struct hh_proc *p = &c->procs[i];
        if (!p->exited && p->pid > 0) {
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            hhi_reap(p, 0);
        }
        if (p->pidfd >= 0)
            close(p->pidfd);
        if (p->in_fd >= 0)
            close(p->in_fd);
        if (p->out_fd >= 0)
            close(p->out_fd);
        if (p->err_fd >= 0)
            close(p->err_fd);
        hhi_buf_free(&p->out);
        hhi_buf_free(&p->err);
    }
    c->nprocs = 0;
    for (int i = 0; i < c->nextra; i++) {
        kill(c->extra[i], SIGKILL);
        waitpid(c->extra[i], NULL, 0); /* re-parented to us, the subreaper */
    }
    c->nextra = 0;
    for (int i = 0; i < c->nkeep; i++)
        free(c->keep[i]);
    c->nkeep = 0;
    for (int i = 0; i < c->nfds; i++)
        close(c->fds[i]);
    c->nfds = 0;
    /* orphans of the scenario (daemons, pool workers) were re-parented to
     * us as the subreaper: reap them too */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    if (c->tmpdir[0])
        nftw(c->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    c->tmpdir[0] = '\0';
    if (c->worlddir[0])
        nftw(c->worlddir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    c->worlddir[0] = '\0';
}

static void
on_fatal(int sig)
{
    /* timeout(1) or ^C: take our process groups down with us */
    if (live)
        for (int i = 0; i < live->nprocs; i++)
            if (!live->procs[i].exited && live->procs[i].pid > 0)
                kill(-live->procs[i].pid, SIGKILL);
    if (getpid() == 1) /* a namespace's init ignores its own SIG_DFL */
        _exit(128 + sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

static bool
env_on(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static const char *
missing_need(unsigned needs)
{
    if ((needs & HH_NEED_ROOT) && geteuid() != 0)
        return "needs root";
    if ((needs & HH_NEED_STRACE) && !hh_have("strace"))
        return "strace is not installed (make deps)";
    if ((needs & HH_NEED_TCPDUMP) && !hh_have("tcpdump"))
        return "tcpdump is not installed (make deps)";
    return NULL;
}

static bool demo_mode, show_trace, show_capture;
static int n_skipped;
static char skipped[4096]; /* "name: why" lines, for the summary */

/* A grading run replaces a program (PROG_<name>=...): every scenario
 * must then run, or the grade would rise with what was not checked. */
static const char *
grading_var(void)
{
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, "PROG_", 5) == 0 && eq && eq[1])
            return *e;
    }
    return NULL;
}

/* The deadline multiplier: programs under valgrind (or this test itself,
 * and so what it forks), sanitizer builds. */
static double
deadline_scale(void)
{
    const char *preload = getenv("LD_PRELOAD");
    if (env_on("HPSP_VALGRIND") || (preload && strstr(preload, "vgpreload")))
        return 10.0;
    return env_on("HPSP_SANITIZER") ? 3.0 : 1.0;
}

/* Run one scenario in C, from a clean context, and tear it down. */
static void
run_one(struct hh_ctx *c, const struct hh_scenario *sc, bool demo)
{
    memset(c, 0, sizeof *c);
    c->sc = sc;
    c->demo = demo;
    c->show_trace = demo && show_trace;
    c->show_capture = demo && show_capture;
    c->scale = deadline_scale();
    c->result = HH_PASS;
    live = c;
    hhi_leftovers_begin();
    const char *miss = missing_need(sc->needs);
    if (setjmp(c->jump) == 0) {
        if (miss)
            hh_skip(c, "%s", miss);
        sc->run(c);
    }
    teardown(c);
    hhi_leftovers_end(c);
    live = NULL;
}


static void
print_transcript(const struct hh_ctx *c)
{
    const char *s = c->transcript.data ? c->transcript.data : "";
    printf("# --- transcript of %s ---\n", c->sc->name);
    while (*s) {
        size_t n = strcspn(s, "\n");
        printf("# %.*s\n", (int)n, s);
        s += n + (s[n] == '\n');
    }
    printf("# --- end of transcript ---\n");
    fflush(stdout);
}

static void
cmocka_scenario(void **state)
{
    const struct hh_scenario *sc = *state;
    static struct hh_ctx c;
    run_one(&c, sc, false);
    const char *grading = grading_var();
    if (c.result == HH_SKIP && (env_on("CI") || grading)) {
        /* CI installs every tool: a skip there is a missing dependency;
         * a grade must not count what was not checked */
        c.result = HH_FAIL;
        if (grading)
            fail_msg("would be skipped, and a grading run (%.60s) must run "
                     "every test: %s", grading, c.why);
        else
            fail_msg("would be skipped, and CI must run every test: %s",
                     c.why);
    }
    if (c.result == HH_FAIL) {
        print_transcript(&c);
        hhi_buf_free(&c.transcript);
        fail_msg("%s [%s %s]", c.why, sc->listing, sc->title);
    }
    hhi_buf_free(&c.transcript);
    if (c.result == HH_SKIP) {
        printf("# SKIP %s: %s\n", sc->name, c.why);
        fflush(stdout);
        n_skipped++;
        size_t used = strlen(skipped);
        snprintf(skipped + used, sizeof skipped - used, "  %s: %s\n",
                 sc->name, c.why);
        skip();
    }
}

/* ---- unit tests: a context without a chapter ------------------------- */

/* A failed check of a unit test: cmocka's failure (or skip), which jumps
 * back to cmocka; its teardown calls hh_unit_done. */
static void
unit_leave(struct hh_ctx *c)
{
    if (c->result == HH_SKIP) {
        printf("# SKIP: %s\n", c->why);
        skip();
    }
    print_transcript(c);
    fail_msg("%s", c->why);
}

struct hh_ctx *
hh_unit_ctx(void)
{
    static const struct hh_scenario unit = {
        "a unit test", "", "", NULL, HH_TEST_ONLY, NULL};
    static struct hh_ctx c;
    memset(&c, 0, sizeof c);
    c.sc = &unit;
    c.scale = deadline_scale();
    c.result = HH_PASS;
    c.leave = unit_leave;
    return &c;
}

void
hh_unit_done(struct hh_ctx *c)
{
    teardown(c);
    hhi_buf_free(&c->transcript);
}

/* One block of the demo: the scenario's transcript, then its verdict.
 * Returns 1 if it failed. */
static int
demo_one(const struct hh_scenario *sc)
{
    static struct hh_ctx c;
    printf("\n== %s  %s%s\n", sc->listing, sc->title,
           sc->needs & HH_DEMO_ONLY ? "  (the kernel's behaviour: "
                                      "shown, not graded)"
                                    : "");
    fflush(stdout);
    long long t0 = hh_now_ms();
    run_one(&c, sc, true);
    double secs = (hh_now_ms() - t0) / 1000.0;
    int failed = 0;
    if (c.result == HH_PASS) {
        if (sc->look_at)
            printf("  look at: %s\n", sc->look_at);
        printf("-- ok (%.2f s)\n", secs);
    } else if (c.result == HH_SKIP) {
        printf("-- skipped: %s\n", c.why);
    } else {
        printf("-- FAILED: %s (%.2f s)\n", c.why, secs);
        failed = 1;
    }
    hhi_buf_free(&c.transcript);
    fflush(stdout);
    return failed;
}

/* The parts of the demo, in the order a reader meets them. */
enum part { LESSONS, REGRESSIONS, FAILURE_PATHS };

static enum part
part_of(const struct hh_scenario *sc)
{
    if (sc->needs & HH_FAILURE_PATH)
        return FAILURE_PATHS;
    if (sc->needs & HH_REGRESSION)
        return REGRESSIONS;
    return LESSONS;
}

/* Where LISTING ("9-6/9-7", "7.4", "10.3.3") stands in the book: its
 * first chapter and number; what is not a listing ("mux") comes last. */
static long
listing_key(const char *listing)
{
    char *end;
    long chap = strtol(listing, &end, 10);
    if (end == listing || (*end != '-' && *end != '.'))
        return 1L << 30;
    long num = strtol(end + 1, NULL, 10);
    return chap * 1000 + num;
}

/* The lessons in listing order, then the regressions, then (ALL=1) the
 * failure paths: what the book teaches comes first.  Within a part the
 * order is the table's where the listings are the same. */
static int
run_demo(const char *name, const struct hh_scenario *t, size_t n)
{
    static const char *const heading[] = {
        NULL,
        "what the printed version gets wrong (and the tests prove fixed)",
        "failure paths: what the programs do when a system call fails",
    };
    bool all = env_on("ALL");
    int failed = 0;
    size_t hidden = 0;
    printf("hpsp demo: %s%s%s%s\n", name, show_trace ? "  (TRACE=1)" : "",
           show_capture ? "  (CAPTURE=1)" : "", all ? "  (ALL=1)" : "");
    if (!show_trace || !show_capture)
        printf("(TRACE=1 shows the system calls, CAPTURE=1 the packets)\n");
    size_t *order = calloc(n ? n : 1, sizeof *order);
    if (!order) {
        fprintf(stderr, "harness: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) { /* a stable insertion sort */
        size_t k = i;
        for (; k > 0 && listing_key(t[order[k - 1]].listing) >
                            listing_key(t[i].listing);
             k--)
            order[k] = order[k - 1];
        order[k] = i;
    }
    for (int part = LESSONS; part <= FAILURE_PATHS; part++) {
        bool headed = false;
        for (size_t o = 0; o < n; o++) {
            size_t i = order[o];
            if ((t[i].needs & HH_TEST_ONLY) || (int)part_of(&t[i]) != part)
                continue;
            if (part == FAILURE_PATHS && !all) {
                hidden++;
                continue;
            }
            if (heading[part] && !headed) {
                printf("\n\n======== %s ========\n", heading[part]);
                headed = true;
            }
            failed += demo_one(&t[i]);
        }
    }
    free(order);
    if (hidden)
        printf("\n(%zu failure-path scenario(s) not shown: ALL=1 shows "
               "them)\n", hidden);
    printf("\n%s: %d scenario(s) failed\n", name, failed);
    return failed ? 1 : 0;
}

/* ---- the chapter's table ---------------------------------------------- */

/* The bad-input scenarios made from the programs, and their programs. */
static struct hh_scenario *generated;
static const struct hh_program **generated_prog;
static size_t n_generated;

static void
bad_input_scenario(struct hh_ctx *c)
{
    size_t k = (size_t)(c->sc - generated);
    HH_CHECK(c, k < n_generated, "test bug: not a generated scenario");
    hh_run_bad_input(c, generated_prog[k]);
}

/* The chapter's scenarios and, after them, a bad_input_<prog> for every
 * program with a shape or rows of its own. */
static struct hh_scenario *
whole_table(const struct hh_chapter *ch, size_t *n)
{
    size_t ng = 0;
    for (size_t i = 0; i < ch->nprograms; i++)
        if (ch->programs[i].args != HH_ARGS_NONE || ch->programs[i].nrows)
            ng++;
    struct hh_scenario *t = calloc(ch->nscenarios + ng, sizeof *t);
    generated_prog = calloc(ng ? ng : 1, sizeof *generated_prog);
    if (!t || !generated_prog) {
        fprintf(stderr, "harness: out of memory\n");
        exit(1);
    }
    memcpy(t, ch->scenarios, ch->nscenarios * sizeof *t);
    generated = t + ch->nscenarios;
    for (size_t i = 0; i < ch->nprograms; i++) {
        const struct hh_program *p = &ch->programs[i];
        if (p->args == HH_ARGS_NONE && !p->nrows)
            continue;
        char *name = NULL, *title = NULL;
        if (asprintf(&name, "bad_input_%s", p->name) < 0 ||
            asprintf(&title, "%s: bad command lines", p->name) < 0) {
            fprintf(stderr, "harness: out of memory\n");
            exit(1);
        }
        generated[n_generated] = (struct hh_scenario){
            name, p->listing ? p->listing : "", title, NULL, HH_TEST_ONLY,
            bad_input_scenario};
        generated_prog[n_generated++] = p;
    }
    *n = ch->nscenarios + n_generated;
    return t;
}

static void
free_table(struct hh_scenario *t)
{
    for (size_t i = 0; i < n_generated; i++) {
        free((char *)generated[i].name);
        free((char *)generated[i].title);
    }
    free(generated_prog);
    free(t);
}

static const char *
list_note(unsigned needs)
{
    if (needs & HH_DEMO_ONLY)
        return " (demo only)";
    if (needs & HH_FAILURE_PATH)
        return " (failure path)";
    if (needs & HH_REGRESSION)
        return " (regression)";
    return "";
}

static int run_table(int argc, char **argv, const char *name,
                     const struct hh_scenario *table, size_t n);

int
hh_run_chapter(int argc, char **argv, const struct hh_chapter *ch)
{
    size_t n;
    chapter = ch;
    struct hh_scenario *t = whole_table(ch, &n);
    int rc = run_table(argc, argv, ch->name, t, n);
    free_table(t);
    return rc;
}

static int
run_table(int argc, char **argv, const char *name,
          const struct hh_scenario *table, size_t n)
{
    bool listing = false;
    for (int i = 1; i < argc; i++)
        listing |= strcmp(argv[i], "--list") == 0;
    if (!listing) /* from here on as pid 1 of namespaces of our own */
        hhi_isolate();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* daemons and pool workers re-parent to us, and we reap them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* descriptors inherited from whoever ran us (a shell, make) must not
     * leak into the programs under test: their fd numbers would vary */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

    show_trace = env_on("TRACE");
    show_capture = env_on("CAPTURE");
    /* an optional tool costs its view, not the demo */
    if (show_trace && !hh_have("strace")) {
        fprintf(stderr, "hpsp: no strace: TRACE=1 shows no [sys] lines "
                        "(apt-get install strace)\n");
        show_trace = false;
    }
    if (show_capture && !hh_have("tcpdump")) {
        fprintf(stderr, "hpsp: no tcpdump: CAPTURE=1 shows no [wire] lines "
                        "(apt-get install tcpdump)\n");
        show_capture = false;
    }
    /* the scenarios named on the command line (a lab grades a few), or
     * NULL: every one the table runs by default */
    const char **only = calloc((size_t)argc, sizeof *only);
    int nonly = 0;
    if (!only) {
        fprintf(stderr, "harness: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0)
            demo_mode = true;
        else if (strcmp(argv[i], "--list") == 0) {
            for (size_t k = 0; k < n; k++)
                printf("%-28s %-8s %s%s\n", table[k].name, table[k].listing,
                       table[k].title, list_note(table[k].needs));
            free(only);
            return 0;
        } else if (argv[i][0] != '-')
            only[nonly++] = argv[i];
        else {
            fprintf(stderr, "usage: %s [--demo] [--list] [SCENARIO...]\n",
                    argv[0]);
            free(only);
            return 2;
        }
    }
    /* a name that matches nothing is a typo (or a lab.conf out of date):
     * refuse it rather than grade fewer scenarios than asked */
    for (int i = 0; i < nonly; i++) {
        size_t k = 0;
        while (k < n && strcmp(only[i], table[k].name) != 0)
            k++;
        if (k == n) {
            fprintf(stderr, "%s: no scenario named '%s' (try --list)\n",
                    argv[0], only[i]);
            free(only);
            return 2;
        }
    }
    if (demo_mode) {
        free(only);
        return run_demo(name, table, n);
    }

    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    size_t nt = 0;
    for (size_t k = 0; k < n; k++) {
        bool named = false;
        for (int i = 0; i < nonly; i++)
            named |= strcmp(only[i], table[k].name) == 0;
        if (nonly ? !named : (table[k].needs & HH_DEMO_ONLY) != 0)
            continue;
        tests[nt].name = table[k].name;
        tests[nt].test_func = cmocka_scenario;
        tests[nt].initial_state = (void *)&table[k];
        nt++;
    }
    free(only);
    if (nt == 0) {
        fprintf(stderr, "%s: no scenario to run\n", argv[0]);
        free(tests);
        return 2;
    }
    int failed = _cmocka_run_group_tests(name, tests, nt, NULL, NULL);
    free(tests);
    int passed = (int)nt - failed - n_skipped;
    printf("score: %d/%zu (%s%s)\n", passed, nt, name,
           n_skipped ? ", skipped tests count as not passed" : "");
    if (n_skipped) {
        printf("%s: %d scenario(s) skipped, not passed:\n%s", name,
               n_skipped, skipped);
        /* make test gathers these into its own summary */
        const char *log = getenv("HPSP_SKIP_LOG");
        FILE *f = log && *log ? fopen(log, "a") : NULL;
        if (f) {
            fprintf(f, "%s: %d skipped\n%s", name, n_skipped, skipped);
            fclose(f);
        }
    }
    hhi_net_free();
    return failed ? 1 : 0;
}
