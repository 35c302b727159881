/*
 * hpsp.c - the shared boilerplate of the hpsp programs (see hpsp.h).
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *progname = "hpsp";
static const char *usage_synopsis = "";
static const char *usage_help;

void
hp_init(int argc, char **argv)
{
    if (argc > 0 && argv[0] && argv[0][0]) {
        char *slash = strrchr(argv[0], '/');
        progname = slash ? slash + 1 : argv[0];
        /* getopt names the program from argv[0] in its own messages */
        argv[0] = (char *)progname;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
}

void
hp_set_usage(const char *synopsis, const char *help)
{
    usage_synopsis = synopsis ? synopsis : "";
    usage_help = help;
}

const char *
hp_progname(void)
{
    return progname;
}

/* "prog: MESSAGE[: strerror (ENAME)]\n" built in one buffer and written
 * with one write(2), so lines from concurrent processes do not interleave. */
static void
vmessage(int err, bool flush, const char *fmt, va_list ap)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s: ", progname);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        int m = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
        if (m > 0)
            n += m;
    }
    if (err && (size_t)n < sizeof buf) {
        const char *name = strerrorname_np(err);
        int m = snprintf(buf + n, sizeof buf - n, ": %s (%s)", strerror(err),
                         name ? name : "?");
        if (m > 0)
            n += m;
    }
    if ((size_t)n >= sizeof buf - 1)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    if (flush) /* keep stdout's earlier lines before this one */
        fflush(stdout);
    if (write(STDERR_FILENO, buf, n) < 0) {
        /* Nowhere left to report it. */
    }
}

void
hp_die(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    vmessage(err, true, fmt, ap);
    va_end(ap);
    exit(1);
}

void
hp_die_en(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(err, true, fmt, ap);
    va_end(ap);
    exit(1);
}

void
hp_diex(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(0, true, fmt, ap);
    va_end(ap);
    exit(1);
}

void
hp_die_child(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    vmessage(err, false, fmt, ap);
    va_end(ap);
    _exit(1);
}

void
hp_warn(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    vmessage(err, true, fmt, ap);
    va_end(ap);
    errno = err;
}

void
hp_warnx(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    vmessage(0, true, fmt, ap);
    va_end(ap);
    errno = err;
}

void
hp_usage(int status)
{
    FILE *out = status == 0 ? stdout : stderr;
    fprintf(out, "usage: %s %s\n", progname, usage_synopsis);
    if (status == 0 && usage_help)
        fputs(usage_help, out);
    fflush(out);
    exit(status);
}

void
hp_bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(0, true, fmt, ap);
    va_end(ap);
    hp_usage(2);
}

int
hp_positional(int argc, char **argv, int min, int max)
{
    int opt, count;

    while ((opt = getopt(argc, argv, "+h")) != -1) {
        if (opt == 'h')
            hp_usage(0);
        hp_usage(2); /* getopt has said which option */
    }
    count = argc - optind;
    if (count < min || count > max)
        hp_usage(2);
    return optind;
}

long
hp_parse_long(const char *s, long min, long max, const char *what)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        hp_bad_usage("%s: empty, want a number in %ld..%ld", what, min, max);
    /* strtol skips leading blanks and accepts a sign; be stricter. */
    if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        hp_bad_usage("%s '%s': not a number", what, s);
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0')
        hp_bad_usage("%s '%s': not a number", what, s);
    if (errno == ERANGE || v < min || v > max)
        hp_bad_usage("%s '%s': out of range %ld..%ld", what, s, min, max);
    return v;
}

size_t
hp_parse_list(char *s, const char *what, long min, long max, long *out,
              size_t cap)
{
    size_t n = 0;
    char *save = NULL;

    for (char *tok = strtok_r(s, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == cap)
            hp_bad_usage("%s: at most %zu values", what, cap);
        out[n++] = hp_parse_long(tok, min, max, what);
    }
    if (n == 0)
        hp_bad_usage("%s: empty", what);
    return n;
}

/* MS as the shortest duration text: "3600s", "250ms". */
static void
duration_str(long long ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%llds", ms / 1000);
    else
        snprintf(buf, len, "%lldms", ms);
}

long long
hp_parse_duration(const char *s, long long min_ms, long long max_ms,
                  const char *what)
{
    char lo[32], hi[32];
    const char *p = s;
    long long whole = 0, frac = 0, scale = 1000, ms;
    int frac_digits = 0;
    bool overflow = false;

    duration_str(min_ms, lo, sizeof lo);
    duration_str(max_ms, hi, sizeof hi);
    if (s == NULL || *s == '\0')
        hp_bad_usage("%s: empty, want a duration in %s..%s (250ms, 2s, 1.5)",
                     what, lo, hi);
    if (*p < '0' || *p > '9')
        goto bad;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > (LLONG_MAX / 1000 - 9) / 10)
            overflow = true;
        else
            whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            goto bad;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (++frac_digits > 3)
                hp_bad_usage("%s '%s': finer than a millisecond", what, s);
            frac = frac * 10 + (*p - '0');
            scale /= 10;
        }
    }
    if (strcmp(p, "ms") == 0) {
        if (frac_digits)
            hp_bad_usage("%s '%s': milliseconds are whole numbers", what, s);
        ms = whole;
    } else if (strcmp(p, "s") == 0 || *p == '\0') {
        ms = whole * 1000 + frac * scale;
    } else {
        goto bad;
    }
    if (overflow || ms < min_ms || ms > max_ms)
        hp_bad_usage("%s '%s': out of range %s..%s", what, s, lo, hi);
    return ms;
bad:
    hp_bad_usage("%s '%s': not a duration (250ms, 2s, 1.5)", what, s);
}

in_port_t
hp_parse_port(const char *s)
{
    return (in_port_t)hp_parse_long(s, 0, 65535, "port");
}

int
hp_sockaddr_in(struct sockaddr_in *sa, const char *ip, in_port_t port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    if (ip == NULL || inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

void
hp_parse_sockaddr(struct sockaddr_in *sa, const char *ip, const char *port)
{
    in_port_t p = hp_parse_port(port);
    if (hp_sockaddr_in(sa, ip, p) < 0)
        hp_bad_usage("IP '%s': not an IPv4 address", ip ? ip : "");
}

char *
hp_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];

    if (len == 0)
        return buf;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(buf, len, "?");
    }
    return buf;
}

int
hp_announce_listener(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char buf[HP_ADDRSTRLEN];

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    printf("listening on %s\n",
           hp_addr_str((struct sockaddr *)&ss, buf, sizeof buf));
    if (fflush(stdout) == EOF)
        return -1;
    return 0;
}

int
hp_tcp_listener(const struct sockaddr_in *sa, int backlog, int type_flags)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | type_flags, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 ||
        listen(fd, backlog) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

size_t
hp_quote(char *out, size_t cap, const void *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = data;
    size_t n = 0;

    if (cap == 0)
        return 0;
    if (cap < sizeof "\"...\"") {
        out[0] = '\0';
        return 0;
    }
    /* does all of it fit?  Then no room is kept for the "..." mark */
    size_t whole = 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = b[i];
        whole +=
            ch == '\n' || ch == '\r' || ch == '\t' || ch == '"' || ch == '\\'
                ? 2
            : ch >= 0x20 && ch < 0x7f ? 1
                                      : 4;
    }
    bool fits = whole < cap;
    out[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        char esc[5];
        size_t k = 0;
        unsigned char ch = b[i];
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == '"' || ch == '\\') {
            esc[k++] = '\\';
            esc[k++] = ch == '\n'   ? 'n'
                       : ch == '\r' ? 'r'
                       : ch == '\t' ? 't'
                                    : (char)ch;
        } else if (ch >= 0x20 && ch < 0x7f) {
            esc[k++] = (char)ch;
        } else {
            esc[k++] = '\\';
            esc[k++] = 'x';
            esc[k++] = hex[ch >> 4];
            esc[k++] = hex[ch & 15];
        }
        /* room for this escape, and for "...\"" + NUL should more follow */
        size_t need = k + (i + 1 < len ? sizeof "...\"" : sizeof "\"");
        if (!fits && n + need > cap) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        memcpy(out + n, esc, k);
        n += k;
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

ssize_t
hp_writen(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, (const char *)buf + put, n - put);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        put += (size_t)w;
    }
    return (ssize_t)put;
}

static volatile sig_atomic_t *term_flag;

static void
on_term(int sig)
{
    if (term_flag)
        *term_flag = sig;
}

int
hp_catch_term(volatile sig_atomic_t *flag)
{
    struct sigaction sa;

    term_flag = flag;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        return -1;
    return 0;
}

int
hp_block_term(volatile sig_atomic_t *flag, sigset_t *wait_mask)
{
    sigset_t term;

    sigemptyset(&term);
    sigaddset(&term, SIGINT);
    sigaddset(&term, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &term, wait_mask) < 0)
        return -1;
    sigdelset(wait_mask, SIGINT);
    sigdelset(wait_mask, SIGTERM);
    return hp_catch_term(flag);
}
