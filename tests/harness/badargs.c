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
    hh_release(p);
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

/* ---- the rows of a shape ---------------------------------------------- */

#define IP "127.0.0.1"
#define MAX_ROWS 64

struct rows {
    struct hh_bad_case r[MAX_ROWS];
    size_t n;
};

/* Append a row: PRE (the options, NPRE of them), then the NULL-ended
 * ARGS, then POST if not NULL. */
static void
add(struct hh_ctx *c, struct rows *t, const char *const *pre, int npre,
    const char *const *args, const char *post, int status, const char *err)
{
    HH_CHECK(c, t->n < MAX_ROWS, "test bug: more than %d bad-input rows",
             MAX_ROWS);
    struct hh_bad_case *r = &t->r[t->n++];
    int k = 0;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < npre; i++)
        r->args[k++] = pre[i];
    for (; *args; args++)
        r->args[k++] = *args;
    if (post)
        r->args[k++] = post;
    HH_CHECK(c, k < HH_BAD_MAX_ARGS, "test bug: a row of %d arguments", k);
    r->status = status;
    r->err = err;
}

/* Bad ports, then bad IPs; OPTS before IP PORT, ARG (or nothing) after. */
static void
add_bad_ip_port(struct hh_ctx *c, struct rows *t, const char *const *o,
                int no, const char *arg)
{
    static const struct {
        const char *ip, *port, *err;
    } bad[] = {
        {IP, "x", "port 'x': not a number"},
        {IP, "70000", "port '70000'"},
        {IP, "-1", "port '-1'"},
        {IP, "", "port: empty"},
        {"1.2.3", "0", "IP '1\\.2\\.3'"},
        {"localhost", "0", "IP 'localhost'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        add(c, t, o, no, (const char *const[]){bad[i].ip, bad[i].port, NULL},
            arg, 2, bad[i].err);
}

static void
shape_rows(struct hh_ctx *c, const struct hh_program *p, struct rows *t)
{
    static const char *const none[] = {NULL};
    int no = 0;
    while (no < HH_MAX_OPTS && p->opts[no])
        no++;
    if (p->args != HH_ARGS_NONE)
        add(c, t, NULL, 0, (const char *const[]){"-h", NULL}, NULL, 0, NULL);
    if (p->args >= HH_ARGS_HELP)
        add(c, t, NULL, 0, (const char *const[]){"--no-such-option", NULL},
            NULL, 2, HH_USAGE);
    if (p->args >= HH_ARGS_IP_PORT)
        add(c, t, NULL, 0, none, NULL, 2, HH_USAGE);
    if (p->args == HH_ARGS_IP_PORT) {
        add(c, t, p->opts, no, (const char *const[]){IP, NULL}, NULL, 2,
            HH_USAGE);
        add(c, t, p->opts, no, (const char *const[]){IP, "0", "extra", NULL},
            NULL, 2, HH_USAGE);
        add_bad_ip_port(c, t, p->opts, no, NULL);
    }
    if (p->args == HH_ARGS_IP_PORT_ARG)
        add_bad_ip_port(c, t, NULL, 0, p->arg);
    if (p->flags & HH_PROG_SERVER)
        add(c, t, NULL, 0, (const char *const[]){IP, HH_PORT_IN_USE, NULL},
            p->args == HH_ARGS_IP_PORT_ARG ? p->arg : NULL, 1,
            "\\(EADDRINUSE\\)");
    for (size_t i = 0; i < p->nrows; i++) {
        HH_CHECK(c, t->n < MAX_ROWS, "test bug: more than %d bad-input rows",
                 MAX_ROWS);
        t->r[t->n++] = p->rows[i];
    }
}

/* ---- running the rows ------------------------------------------------- */

struct value {
    const char *name;
    char text[256];
};

void
hh_run_bad_input(struct hh_ctx *c, const struct hh_program *prog_row)
{
    const struct hh_chapter *ch = hhi_chapter();
    const char *prog = prog_row->name;
    struct rows *t = hh_alloc(c, sizeof *t);
    t->n = 0;
    shape_rows(c, prog_row, t);
    const struct hh_bad_case *cases = t->r;
    size_t n = t->n;

    /* the placeholders the rows use, each made once */
    struct value vals[16];
    size_t nvals = 0;
    if (bad_cases_use(cases, n, HH_PORT_IN_USE)) {
        struct sockaddr_in held;
        hh_listen(c, 0, &held, 1); /* held until teardown */
        vals[nvals].name = HH_PORT_IN_USE;
        snprintf(vals[nvals++].text, sizeof vals[0].text, "%u",
                 ntohs(held.sin_port));
    }
    if (bad_cases_use(cases, n, HH_PORT_CLOSED)) {
        vals[nvals].name = HH_PORT_CLOSED;
        snprintf(vals[nvals++].text, sizeof vals[0].text, "%u",
                 hh_closed_port(c));
    }
    for (size_t i = 0; ch && i < ch->nplaceholders && nvals < 16; i++)
        if (bad_cases_use(cases, n, ch->placeholders[i].name)) {
            vals[nvals].name = ch->placeholders[i].name;
            ch->placeholders[i].make(c, vals[nvals].text,
                                     sizeof vals[0].text);
            nvals++;
        }
    int exit_ms = ch && ch->bad_exit_ms > 0 ? ch->bad_exit_ms : 3000;
    const char *usage = usage_text(c, prog);

    for (size_t i = 0; i < n; i++) {
        const char *args[HH_BAD_MAX_ARGS + 1];
        int k = 0;
        for (; k < HH_BAD_MAX_ARGS && cases[i].args[k]; k++) {
            const char *a = cases[i].args[k];
            for (size_t s = 0; s < nvals; s++)
                if (strcmp(a, vals[s].name) == 0)
                    a = vals[s].text;
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
        hh_release(p); /* a table may be longer than HH_MAX_PROCS */
    }
}
