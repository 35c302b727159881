/*
 * badargs.c - bad command lines: runs of one program, each wanting an
 * exit status and a message.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* ---- bad command lines ------------------------------------------------ */

static bool
bad_cases_use(const struct hh_bad_case *cases, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < HH_BAD_MAX_ARGS && cases[i].args[k]; k++)
            if (strcmp(cases[i].args[k], what) == 0)
                return true;
    return false;
}

/* What PROG -h prints on stdout: its usage text (kept to teardown). */
static const char *
usage_text(struct hh_ctx *c, const char *prog)
{
    const char *const args[] = {"-h", NULL};
    struct hh_spawn spawn = {.role = prog};
    struct hh_proc *p = hh_startv(c, &spawn, prog, args);
    hh_close_stdin(p);
    hh_wait_exit(p, 3000);
    size_t n = p->out.len;
    char *text = hh_alloc(c, n + 1);
    memcpy(text, p->out.data ? p->out.data : "", n);
    text[n] = '\0';
    hhi_release(p);
    return text;
}

/* Whether LINE is a usage line: it starts with "usage:" or is one of the
 * lines of USAGE. */
static bool
is_usage_line(const char *usage, const char *line, size_t len)
{
    if (strncmp(line, "usage:", 6) == 0)
        return true;
    for (const char *u = usage; *u;) {
        size_t n = strcspn(u, "\n");
        if (n == len && memcmp(u, line, n) == 0)
            return true;
        u += n + (u[n] == '\n');
    }
    return false;
}

/* The first line of USAGE that ERE matches, or NULL (a static copy). */
static const char *
usage_line_matching(struct hh_ctx *c, const char *usage, const char *ere)
{
    static char line[HH_GROUP_LEN];
    for (const char *u = usage; *u;) {
        size_t n = strcspn(u, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, u);
        if (n && hh_match(c, ere, line, NULL))
            return line;
        u += n + (u[n] == '\n');
    }
    return NULL;
}

/* Whether a stderr line of P that is not a usage line matches ERE. */
static bool
error_line_matching(struct hh_ctx *c, struct hh_proc *p, const char *usage,
                    const char *ere)
{
    const char *s = p->err.data ? p->err.data : "";
    while (*s) {
        size_t n = strcspn(s, "\n");
        char line[HH_GROUP_LEN];
        snprintf(line, sizeof line, "%.*s", (int)n, s);
        if (!is_usage_line(usage, s, n) && hh_match(c, ere, line, NULL))
            return true;
        s += n + (s[n] == '\n');
    }
    return false;
}

void
hh_run_bad_cases_opt(struct hh_ctx *c, const struct hh_bad_opts *opt,
                     const char *prog, const struct hh_bad_case *cases,
                     size_t n)
{
    char busy[8] = "", closed[8] = "";
    int lfd = -1;
    if (bad_cases_use(cases, n, HH_PORT_IN_USE)) {
        struct sockaddr_in held;
        lfd = hh_listen(c, 0, &held, 1);
        snprintf(busy, sizeof busy, "%u", ntohs(held.sin_port));
    }
    if (bad_cases_use(cases, n, HH_PORT_CLOSED))
        snprintf(closed, sizeof closed, "%u", hh_closed_port(c));
    const struct hh_bad_subst builtin[] = {{HH_PORT_IN_USE, busy},
                                           {HH_PORT_CLOSED, closed}};
    int exit_ms = opt->exit_ms > 0 ? opt->exit_ms : 3000;
    const char *usage = usage_text(c, prog);

    for (size_t i = 0; i < n; i++) {
        const char *args[HH_BAD_MAX_ARGS + 1];
        int k = 0;
        for (; k < HH_BAD_MAX_ARGS && cases[i].args[k]; k++) {
            const char *a = cases[i].args[k];
            for (size_t s = 0; s < 2; s++)
                if (strcmp(a, builtin[s].from) == 0)
                    a = builtin[s].to;
            for (size_t s = 0; s < opt->nsubst; s++)
                if (strcmp(a, opt->subst[s].from) == 0)
                    a = opt->subst[s].to;
            args[k] = a;
        }
        args[k] = NULL;
        const char *err = cases[i].err;
        bool names_error = err && strcmp(err, HH_USAGE) != 0;
        const char *also = names_error ? usage_line_matching(c, usage, err)
                                       : NULL;
        HH_CHECK(c, !also || hhi_is_overridden(prog),
                 "test bug: row %zu's pattern /%s/ also matches %s's usage "
                 "text (\"%s\"), so the row checks only the exit status; "
                 "make it name the error", i + 1, err, prog, also);
        struct hh_spawn spawn = {.role = prog};
        struct hh_proc *p = hh_startv(c, &spawn, prog, args);
        hh_close_stdin(p);
        if (!err)
            hh_expect_line(p, HH_USAGE, 3000);
        hh_expect_exit(p, cases[i].status, exit_ms);
        if (names_error)
            HH_CHECK(c, error_line_matching(c, p, usage, err),
                     "%s: no stderr line outside the usage text matches "
                     "/%s/", prog, err);
        else if (err)
            hh_expect_err(p, err, 0);
        HH_CHECK(c, cases[i].status != 2 || hh_expect_err(p, HH_USAGE, 0),
                 "no usage line on stderr");
        hhi_release(p); /* a table may be longer than HH_MAX_PROCS */
    }
    if (lfd >= 0)
        hh_close(c, lfd);
}

void
hh_run_bad_cases(struct hh_ctx *c, const char *prog,
                 const struct hh_bad_case *cases, size_t n)
{
    const struct hh_bad_opts none = {0};
    hh_run_bad_cases_opt(c, &none, prog, cases, n);
}

