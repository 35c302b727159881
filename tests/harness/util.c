/*
 * util.c - clocks, buffers, escaping, the transcript, outcomes and files
 * of the harness.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small utilities -------------------------------------------------- */

long long
hh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
hh_ms(struct hh_ctx *c, int ms)
{
    return (int)(ms * c->scale);
}

int
hhi_left_ms(long long deadline)
{
    long long d = deadline - hh_now_ms();
    return d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
}

void
hhi_buf_add(struct hh_buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            fprintf(stderr, "harness: out of memory\n");
            abort();
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void
hhi_buf_free(struct hh_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

char *
hh_escape(const void *data, size_t len, char *out, size_t cap)
{
    const unsigned char *s = data;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char ch = s[i];
        if (ch == '\n')
            o += snprintf(out + o, cap - o, "\\n");
        else if (ch == '\r')
            o += snprintf(out + o, cap - o, "\\r");
        else if (ch == '\\' || ch == '"')
            o += snprintf(out + o, cap - o, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            o += snprintf(out + o, cap - o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return out;
}

bool
hh_have(const char *tool)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    if (!path)
        path = "/usr/bin:/bin:/usr/sbin:/sbin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, tool);
        if (access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* ---- transcript and outcome ------------------------------------------- */

void
hhi_transcribe(struct hh_ctx *c, const char *line)
{
    hhi_buf_add(&c->transcript, line, strlen(line));
    hhi_buf_add(&c->transcript, "\n", 1);
    if (c->demo) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
}

void
hh_note(struct hh_ctx *c, const char *fmt, ...)
{
    char line[1024] = "  ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + 2, sizeof line - 2, fmt, ap);
    va_end(ap);
    hhi_transcribe(c, line);
}

static void
vset_why(struct hh_ctx *c, const char *fmt, va_list ap)
{
    vsnprintf(c->why, sizeof c->why, fmt, ap);
}

/* Out of the scenario, its outcome set: back to the runner, or wherever
 * the context says (a unit test's). */
static HH_NORETURN void
leave(struct hh_ctx *c)
{
    if (c->leave)
        c->leave(c);
    longjmp(c->jump, 1);
}

void
hh_fail(struct hh_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_why(c, fmt, ap);
    va_end(ap);
    c->result = HH_FAIL;
    leave(c);
}

void
hh_skip(struct hh_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_why(c, fmt, ap);
    va_end(ap);
    c->result = HH_SKIP;
    leave(c);
}

static void
make_tmpdir(struct hh_ctx *c)
{
    if (!c->tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(c->tmpdir, sizeof c->tmpdir, "%s/hpsp-XXXXXX",
                 t && *t ? t : "/tmp");
        if (!mkdtemp(c->tmpdir)) {
            int e = errno;
            c->tmpdir[0] = '\0';
            hh_fail(c, "mkdtemp: %s", strerror(e));
        }
    }
}

const char *
hh_tmpfile(struct hh_ctx *c, const char *stem, char *buf, size_t len)
{
    make_tmpdir(c);
    snprintf(buf, len, "%s/%s.%d", c->tmpdir, stem, ++c->tmpcount);
    return buf;
}

/* Whether others may search every directory from / down to PATH. */
static bool
searchable_by_all(const char *path)
{
    char p[PATH_MAX];
    if (!realpath(path, p))
        return false;
    for (char *slash = p + strlen(p); slash;) {
        struct stat st;
        if (stat(p[0] ? p : "/", &st) < 0 || !(st.st_mode & S_IXOTH))
            return false;
        *slash = '\0';
        slash = strrchr(p, '/');
    }
    return true;
}

const char *
hh_world_dir(struct hh_ctx *c, const char *stem, char *buf, size_t len)
{
    make_tmpdir(c);
    if (chmod(c->tmpdir, 0755) < 0)
        hh_fail(c, "chmod %s: %s", c->tmpdir, strerror(errno));
    if (!searchable_by_all(c->tmpdir) && !c->worlddir[0]) {
        snprintf(c->worlddir, sizeof c->worlddir, "/tmp/hpsp-world-XXXXXX");
        if (!mkdtemp(c->worlddir) || chmod(c->worlddir, 0755) < 0) {
            int e = errno;
            c->worlddir[0] = '\0';
            hh_fail(c, "a directory every user can reach, under /tmp: %s",
                    strerror(e));
        }
    }
    snprintf(buf, len, "%s/%s.%d", c->worlddir[0] ? c->worlddir : c->tmpdir,
             stem, ++c->tmpcount);
    if (mkdir(buf, 0755) < 0 || chmod(buf, 0755) < 0)
        hh_fail(c, "mkdir %s: %s", buf, strerror(errno));
    return buf;
}

void
hh_make_file(struct hh_ctx *c, const char *stem, size_t size,
             unsigned seed, char *path, size_t len)
{
    hh_tmpfile(c, stem, path, len);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    HH_CHECK(c, fd >= 0, "create %s: %s", path, strerror(errno));
    char block[65536];
    uint32_t x = seed * 2654435761u + 1;
    size_t done = 0;
    while (done < size) {
        size_t n = size - done < sizeof block ? size - done : sizeof block;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
            block[i] = (char)(x >> 24);
        }
        ssize_t w = write(fd, block, n);
        if (w != (ssize_t)n) {
            int e = errno;
            close(fd);
            hh_fail(c, "write %s: %s", path, w < 0 ? strerror(e) : "short");
        }
        done += n;
    }
    HH_CHECK(c, close(fd) == 0, "close %s: %s", path, strerror(errno));
}

char *
hh_read_file(struct hh_ctx *c, const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    HH_CHECK(c, fd >= 0, "open %s: %s", path, strerror(errno));
    struct hh_buf b = {0};
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        hhi_buf_add(&b, chunk, (size_t)n);
    int e = errno;
    close(fd);
    if (n < 0) {
        hhi_buf_free(&b);
        hh_fail(c, "read %s: %s", path, strerror(e));
    }
    if (!b.data)
        b.data = calloc(1, 1);
    if (!b.data || c->nkeep == HH_MAX_KEEP) {
        free(b.data);
        hh_fail(c, "too many buffers in one scenario (%d)", HH_MAX_KEEP);
    }
    c->keep[c->nkeep++] = b.data;
    *len = b.len;
    return b.data;
}

void *
hh_alloc(struct hh_ctx *c, size_t n)
{
    HH_CHECK(c, c->nkeep < HH_MAX_KEEP, "too many buffers in one scenario "
                                        "(%d)", HH_MAX_KEEP);
    void *p = malloc(n ? n : 1);
    HH_CHECK(c, p != NULL, "out of memory (%zu bytes)", n);
    c->keep[c->nkeep++] = p;
    return p;
}


void
hh_write_text(struct hh_ctx *c, const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    HH_CHECK(c, fd >= 0, "create %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    /* 0644 whatever the umask: a program under test may read it as
     * another user */
    if (n == (ssize_t)len && fchmod(fd, 0644) < 0)
        e = errno, n = -1;
    close(fd);
    HH_CHECK(c, n == (ssize_t)len, "write %s: %s", path,
             n < 0 ? strerror(e) : "short");
}

void
hh_make_text_file(struct hh_ctx *c, const char *stem, const char *text,
                  char *path, size_t len)
{
    hh_tmpfile(c, stem, path, len);
    hh_write_text(c, path, text);
}

long
hh_read_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}
