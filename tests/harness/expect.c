/*
 * expect.c - the lines a program prints, and the regular expressions
 * that match them.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- regex ------------------------------------------------------------ */

bool
hh_match(struct hh_ctx *c, const char *ere, const char *line,
      char groups[][HH_GROUP_LEN])
{
    regex_t re;
    regmatch_t m[HH_MAX_GROUPS];
    int rc = regcomp(&re, ere, REG_EXTENDED);
    if (rc != 0) {
        char err[256];
        regerror(rc, &re, err, sizeof err);
        hh_fail(c, "bad regex in the test '%s': %s", ere, err);
    }
    bool ok = regexec(&re, line, HH_MAX_GROUPS, m, 0) == 0;
    if (ok && groups) {
        for (int i = 0; i < HH_MAX_GROUPS; i++) {
            groups[i][0] = '\0';
            if (m[i].rm_so >= 0) {
                int n = (int)(m[i].rm_eo - m[i].rm_so);
                snprintf(groups[i], HH_GROUP_LEN, "%.*s", n,
                         line + m[i].rm_so);
            }
        }
    }
    regfree(&re);
    return ok;
}


static const char *
expect_in(struct hh_proc *p, struct hh_buf *b, size_t *scan, int *fdp,
          const char *ere, int timeout_ms, const char *stream)
{
    struct hh_ctx *c = p->ctx;
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    for (;;) {
        while (*scan < b->len) {
            char *start = b->data + *scan;
            char *nl = memchr(start, '\n', b->len - *scan);
            if (!nl)
                break;
            size_t n = (size_t)(nl - start);
            char line[HH_GROUP_LEN];
            snprintf(line, sizeof line, "%.*s", (int)n, start);
            *scan += n + 1;
            if (hh_match(c, ere, line, p->groups)) {
                memcpy(p->line, line, sizeof p->line);
                return p->line;
            }
        }
        if (*fdp < 0)
            hh_fail(c, "%s closed its %s (%s) without printing a line "
                       "matching /%s/", p->role, stream,
                    p->exited ? "exited" : "still running", ere);
        if (hh_now_ms() >= deadline)
            hh_fail(c, "no line matching /%s/ on %s's %s within %d ms",
                    ere, p->role, stream, hh_ms(c, timeout_ms));
        hhi_pump(c, hhi_left_ms(deadline));
    }
}

const char *
hh_expect_line(struct hh_proc *p, const char *ere, int timeout_ms)
{
    return expect_in(p, &p->out, &p->out_scan, &p->out_fd, ere, timeout_ms,
                     "stdout");
}

const char *
hh_expect_err(struct hh_proc *p, const char *ere, int timeout_ms)
{
    size_t scan = 0;
    return expect_in(p, &p->err, &scan, &p->err_fd, ere, timeout_ms,
                     "stderr");
}

bool
hh_output_has(struct hh_proc *p, const char *ere)
{
    char groups[HH_MAX_GROUPS][HH_GROUP_LEN];
    size_t pos = 0;
    while (pos < p->out.len) {
        char *start = p->out.data + pos;
        char *nl = memchr(start, '\n', p->out.len - pos);
        size_t n = nl ? (size_t)(nl - start) : p->out.len - pos;
        char line[HH_GROUP_LEN];
        snprintf(line, sizeof line, "%.*s", (int)n, start);
        if (hh_match(p->ctx, ere, line, groups))
            return true;
        pos += n + 1;
    }
    return false;
}

void
hh_wait_listening(struct hh_proc *p)
{
    struct hh_ctx *c = p->ctx;
    hh_expect_line(p, "^listening on ([0-9.]+):([0-9]+)$", 5000);
    long port = strtol(p->groups[2], NULL, 10);
    HH_CHECK(c, port > 0 && port < 65536, "%s announced port %s", p->role,
             p->groups[2]);
    memset(&p->addr, 0, sizeof p->addr);
    p->addr.sin_family = AF_INET;
    p->addr.sin_port = htons((in_port_t)port);
    HH_CHECK(c, inet_pton(AF_INET, p->groups[1], &p->addr.sin_addr) == 1,
             "%s announced a bad address %s", p->role, p->groups[1]);
    snprintf(p->port, sizeof p->port, "%ld", port);
}


bool
hh_next_line(struct hh_proc *p, size_t *pos, char *line, size_t cap)
{
    if (p->out.data == NULL || *pos >= p->out.len)
        return false;
    const char *s = p->out.data + *pos;
    const char *nl = memchr(s, '\n', p->out.len - *pos);
    /* a line still being written is not a line yet, unless nothing more
     * can come */
    if (nl == NULL && p->out_fd >= 0)
        return false;
    size_t n = nl ? (size_t)(nl - s) : p->out.len - *pos;
    snprintf(line, cap, "%.*s", (int)n, s);
    *pos += n + (nl != NULL);
    return true;
}

int
hh_count_lines(struct hh_proc *p, const char *ere)
{
    char line[HH_GROUP_LEN];
    size_t pos = 0;
    int n = 0;
    while (hh_next_line(p, &pos, line, sizeof line))
        n += hh_match(p->ctx, ere, line, NULL);
    return n;
}
