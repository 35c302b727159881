/*
 * runner.c - hh_main: a chapter's table as cmocka tests, as the demo,
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
static const struct hh_teach *teaching;
static size_t n_teaching;

void
hh_set_teaching(const struct hh_teach *teach, size_t n)
{
    teaching = teach;
    n_teaching = n;
}

const struct hh_teach *
hhi_teach_entry(const char *prog)
{
    for (size_t i = 0; i < n_teaching; i++)
        if (strcmp(teaching[i].prog, prog) == 0)
            return &teaching[i];
    return NULL;
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
}

static void
on_fatal(int sig)
{
    /* timeout(1) or ^C: take our process groups down with us */
    if (live)
        for (int i = 0; i < live->nprocs; i++)
            if (!live->procs[i].exited && live->procs[i].pid > 0)
                kill(-live->procs[i].pid, SIGKILL);
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

/* Run one scenario in C, from a clean context, and tear it down. */
static void
run_one(struct hh_ctx *c, const struct hh_scenario *sc, bool demo)
{
    memset(c, 0, sizeof *c);
    c->sc = sc;
    c->demo = demo;
    c->show_trace = demo && show_trace;
    c->show_capture = demo && show_capture;
    c->scale = env_on("HPSP_VALGRIND") ? 10.0
               : env_on("HPSP_SANITIZER") ? 3.0
                                          : 1.0;
    c->result = HH_PASS;
    live = c;
    const char *miss = missing_need(sc->needs);
    if (setjmp(c->jump) == 0) {
        if (miss)
            hh_skip(c, "%s", miss);
        sc->run(c);
    }
    teardown(c);
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

static int
run_demo(const char *chapter, const struct hh_scenario *t, size_t n)
{
    static struct hh_ctx c;
    int failed = 0;
    printf("hpsp demo: %s%s%s\n", chapter, show_trace ? "  (TRACE=1)" : "",
           show_capture ? "  (CAPTURE=1)" : "");
    if (!show_trace || !show_capture)
        printf("(TRACE=1 shows the system calls, CAPTURE=1 the packets)\n");
    for (size_t i = 0; i < n; i++) {
        if (t[i].needs & HH_TEST_ONLY)
            continue;
        printf("\n== %s  %s%s\n", t[i].listing, t[i].title,
               t[i].needs & HH_DEMO_ONLY ? "  (the kernel's behaviour: "
                                           "shown, not graded)"
                                         : "");
        fflush(stdout);
        long long t0 = hh_now_ms();
        run_one(&c, &t[i], true);
        double secs = (hh_now_ms() - t0) / 1000.0;
        if (c.result == HH_PASS) {
            if (t[i].look_at)
                printf("  look at: %s\n", t[i].look_at);
            printf("-- ok (%.2f s)\n", secs);
        } else if (c.result == HH_SKIP) {
            printf("-- skipped: %s\n", c.why);
        } else {
            printf("-- FAILED: %s (%.2f s)\n", c.why, secs);
            failed++;
        }
        hhi_buf_free(&c.transcript);
        fflush(stdout);
    }
    printf("\n%s: %d scenario(s) failed\n", chapter, failed);
    return failed ? 1 : 0;
}

int
hh_main(int argc, char **argv, const char *chapter,
        const struct hh_scenario *table, size_t n)
{
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
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0)
            demo_mode = true;
        else if (strcmp(argv[i], "--list") == 0) {
            for (size_t k = 0; k < n; k++)
                printf("%-28s %-8s %s%s\n", table[k].name, table[k].listing,
                       table[k].title,
                       table[k].needs & HH_DEMO_ONLY ? " (demo only)" : "");
            return 0;
        } else if (argv[i][0] != '-')
            only = argv[i];
        else {
            fprintf(stderr, "usage: %s [--demo] [--list] [SCENARIO]\n",
                    argv[0]);
            return 2;
        }
    }
    if (demo_mode)
        return run_demo(chapter, table, n);

    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    size_t nt = 0;
    for (size_t k = 0; k < n; k++) {
        if (only ? strcmp(only, table[k].name) != 0
                 : (table[k].needs & HH_DEMO_ONLY) != 0)
            continue;
        tests[nt].name = table[k].name;
        tests[nt].test_func = cmocka_scenario;
        tests[nt].initial_state = (void *)&table[k];
        nt++;
    }
    if (nt == 0) {
        fprintf(stderr, "%s: no scenario named '%s' (try --list)\n", argv[0],
                only ? only : "");
        free(tests);
        return 2;
    }
    int failed = _cmocka_run_group_tests(chapter, tests, nt, NULL, NULL);
    free(tests);
    int passed = (int)nt - failed - n_skipped;
    printf("score: %d/%zu (%s%s)\n", passed, nt, chapter,
           n_skipped ? ", skipped tests count as not passed" : "");
    if (n_skipped) {
        printf("%s: %d scenario(s) skipped, not passed:\n%s", chapter,
               n_skipped, skipped);
        /* make test gathers these into its own summary */
        const char *log = getenv("HPSP_SKIP_LOG");
        FILE *f = log && *log ? fopen(log, "a") : NULL;
        if (f) {
            fprintf(f, "%s: %d skipped\n%s", chapter, n_skipped, skipped);
            fclose(f);
        }
    }
    hhi_net_free();
    return failed ? 1 : 0;
}
