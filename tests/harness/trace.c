/*
 * trace.c - strace and tcpdump: what the kernel was asked, and what
 * crossed the wire.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- strace ----------------------------------------------------------- */

/* P's strace output, read once P has exited; every line ends in '\0'. */
static const char *
trace_text(struct hh_proc *p)
{
    struct hh_ctx *c = p->ctx;
    HH_CHECK(c, p->trace_path[0], "%s was not run under strace", p->role);
    HH_CHECK(c, p->exited, "trace of %s read before it exited", p->role);
    if (!p->trace_text) {
        p->trace_text = hh_read_file(c, p->trace_path, &p->trace_len);
        for (size_t i = 0; i < p->trace_len; i++)
            if (p->trace_text[i] == '\n')
                p->trace_text[i] = '\0';
    }
    return p->trace_text;
}

int
hh_trace_count(struct hh_proc *p, const char *ere)
{
    const char *text = trace_text(p);
    int n = 0;
    for (size_t off = 0; off < p->trace_len; off += strlen(text + off) + 1)
        n += hh_match(p->ctx, ere, text + off, NULL);
    return n;
}

const char *
hh_trace_next(struct hh_proc *p, size_t *pos, const char *ere)
{
    const char *text = trace_text(p);
    size_t line = 0, off = 0;
    if (*pos >= p->trace_line) { /* on from where the last call stopped */
        line = p->trace_line;
        off = p->trace_off;
    }
    const char *found = NULL;
    while (!found && off < p->trace_len) {
        const char *s = text + off;
        off += strlen(s) + 1;
        while (*s >= '0' && *s <= '9') /* strace -f's pid column */
            s++;
        while (*s == ' ')
            s++;
        if (*s == '\0' || *s == '+' || (strncmp(s, "---", 3) == 0 && s[3]))
            continue;
        if (line++ >= *pos && (!ere || hh_match(p->ctx, ere, s, p->groups)))
            found = s;
    }
    p->trace_line = line;
    p->trace_off = off;
    *pos = line;
    return found;
}

long long
hh_group_ll(const struct hh_proc *p, int i)
{
    if (i < 0 || i >= HH_MAX_GROUPS || !p->groups[i][0])
        return -1;
    return strtoll(p->groups[i], NULL, 10);
}

int
hh_epoll_ctl_count(struct hh_proc *p, const char *op, int fd, const char *flag)
{
    char re[256], fdre[16], flagre[64] = "";
    if (fd >= 0)
        snprintf(fdre, sizeof fdre, "%d", fd);
    else
        snprintf(fdre, sizeof fdre, "[0-9]+");
    if (flag)
        snprintf(flagre, sizeof flagre, "([A-Z]+\\|)*%s[|,}]", flag);
    snprintf(re, sizeof re,
             "epoll_ctl\\([0-9]+, EPOLL_CTL_%s, %s, \\{events=%s", op, fdre,
             flagre);
    return hh_trace_count(p, re);
}

/* ---- tcpdump ---------------------------------------------------------- */

/* Lines that tcpdump prints about the probe datagrams look like
 * "IP 127.0.0.1.Q > 127.0.0.1.Q: UDP, length K". */
static bool
probe_seen(struct hh_proc *cap, const char *tag, size_t *end)
{
    const char *hit = NULL, *from = cap->out.data, *lim = from + cap->out.len;
    while (from < lim) {
        const char *nl = memchr(from, '\n', (size_t)(lim - from));
        if (!nl)
            break;
        size_t n = (size_t)(nl - from), t = strlen(tag);
        if (n >= t && memcmp(nl - t, tag, t) == 0)
            hit = nl + 1;
        from = nl + 1;
    }
    if (hit)
        *end = (size_t)(hit - cap->out.data);
    return hit != NULL;
}

struct hh_proc *
hh_capture_start(struct hh_ctx *c, in_port_t port)
{
    if (!hh_have("tcpdump"))
        hh_skip(c, "tcpdump is not installed (make deps)");
    /* "listening on" comes before libpcap's socket sees every packet (a
     * capture once missed a handshake that began after it), so the
     * capture also takes a UDP port of ours, and counts as live once it
     * has shown a datagram we sent there */
    int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    HH_CHECK(c, probe >= 0, "socket(SOCK_DGRAM): %s", strerror(errno));
    struct sockaddr_in pa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t plen = sizeof pa;
    if (bind(probe, (struct sockaddr *)&pa, sizeof pa) < 0 ||
        getsockname(probe, (struct sockaddr *)&pa, &plen) < 0) {
        int e = errno;
        close(probe);
        hh_fail(c, "binding the capture's probe socket: %s", strerror(e));
    }
    char filter[96];
    snprintf(filter, sizeof filter, "tcp port %u or udp port %u",
             (unsigned)port, (unsigned)ntohs(pa.sin_port));
    const char *args[] = {"-i", "lo",   "-n", "-l", "-U", "--immediate-mode",
                          "-t", filter, NULL};
    /* its command line would only repeat the [wire] lines' source */
    struct hh_spawn opt = {
        .role = "tcpdump", .tool = true, .hide_command = true};
    struct hh_proc *cap = hh_startv(c, &opt, "tcpdump", args);
    cap->is_capture = true;
    bool quiet =
        c->demo && !c->show_capture && !(c->sc->needs & HH_NEED_TCPDUMP);
    cap->quiet = true; /* until the probes are behind us */
    long long deadline = hh_now_ms() + hh_ms(c, 5000);
    const char *why = NULL;
    while (!(cap->err.len && strstr(cap->err.data, "listening on"))) {
        if (cap->err_fd < 0 || cap->exited) {
            hh_wait_exit(cap, 1000);
            close(probe);
            hh_skip(c, "tcpdump cannot capture here (needs CAP_NET_RAW): %s",
                    cap->err.len ? cap->err.data : "no message");
        }
        if (hh_now_ms() >= deadline) {
            why = "did not start listening";
            break;
        }
        hhi_pump(c, hhi_left_ms(deadline));
    }
    /* probe k is k bytes long; once the line of the latest one is out,
     * the lines of any earlier one that was captured are out too */
    char tag[48] = "";
    size_t end = 0;
    for (int k = 1; !why; k++) {
        if (k > 1400 || hh_now_ms() >= deadline) {
            why = "showed none of the harness's probe datagrams";
            break;
        }
        static const char zeros[1400];
        if (sendto(probe, zeros, (size_t)k, 0, (struct sockaddr *)&pa,
                   sizeof pa) != k) {
            int e = errno;
            close(probe);
            hh_fail(c, "sending the capture's probe: %s", strerror(e));
        }
        snprintf(tag, sizeof tag, ": UDP, length %d", k);
        long long until = hh_now_ms() + 100;
        if (until > deadline)
            until = deadline;
        while (!probe_seen(cap, tag, &end) && hh_now_ms() < until &&
               cap->out_fd >= 0)
            hhi_pump(c, hhi_left_ms(until));
        if (end)
            break;
    }
    close(probe);
    if (why)
        hh_fail(c, "tcpdump %s within 5 s", why);
    cap->cap_from = cap->out_scan = end;
    if (cap->out_seen > end)
        cap->out_seen = end; /* anything after the probe is transcribed */
    cap->quiet = quiet;
    return cap;
}

const char *
hh_capture_expect(struct hh_proc *cap, const char *ere, int timeout_ms)
{
    return hh_expect_line(cap, ere, timeout_ms);
}

struct hh_proc *
hh_maybe_capture(struct hh_ctx *c, in_port_t port)
{
    if (!(c->sc->needs & HH_NEED_TCPDUMP) && !c->show_capture)
        return NULL;
    return hh_capture_start(c, port);
}

void
hh_capture_stop(struct hh_proc *cap)
{
    if (!cap)
        return;
    if (!cap->exited)
        kill(cap->pid, SIGINT);
    int st = hh_wait_exit(cap, HHI_GRACE_MS);
    (void)st;
    /* a packet the kernel dropped is a packet a count will miss: say so */
    const char *d = cap->err.len
                        ? strstr(cap->err.data, " packets dropped by kernel")
                        : NULL;
    if (d) {
        const char *num = d;
        while (num > cap->err.data && num[-1] >= '0' && num[-1] <= '9')
            num--;
        if (num < d && strtol(num, NULL, 10) > 0)
            hh_note(cap->ctx, "tcpdump: %.*s packets dropped by kernel",
                    (int)(d - num), num);
    }
}

int
hh_capture_count(struct hh_proc *cap, const char *ere)
{
    int n = 0;
    size_t pos = cap->cap_from;
    while (pos < cap->out.len) {
        char *start = cap->out.data + pos;
        char *nl = memchr(start, '\n', cap->out.len - pos);
        size_t len = nl ? (size_t)(nl - start) : cap->out.len - pos;
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)len, start);
        if (hh_match(cap->ctx, ere, line, NULL))
            n++;
        pos += len + 1;
    }
    return n;
}

void
hhi_show_trace(struct hh_proc *p)
{
    struct hh_ctx *c = p->ctx;
    if (!p->trace_path[0] || !c->show_trace)
        return;
    FILE *f = fopen(p->trace_path, "r");
    char line[1024];
    int shown = 0, more = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (shown == HH_MAX_SYS_LINES) {
            more++;
            continue;
        }
        shown++;
        line[strcspn(line, "\n")] = '\0';
        char *s = line;
        while (*s >= '0' && *s <= '9')
            s++; /* the pid column of strace -f */
        while (*s == ' ')
            s++;
        /* "--- SIGTERM {...} ---" and "+++ exited with 0 +++" stay:
         * in the signal chapters they are the lesson */
        char l2[1100];
        snprintf(l2, sizeof l2, "  [sys] %s: %.200s", p->role, s);
        hhi_transcribe(c, l2);
    }
    if (more)
        hh_note(c, "[sys] %s: ... %d more lines", p->role, more);
    if (f)
        fclose(f);
}
