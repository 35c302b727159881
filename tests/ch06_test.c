/*
 * ch06_test.c - chapter 6, advanced I/O: one scenario per lesson.
 *
 * Each scenario runs a program of the chapter against the harness as its
 * peer and asserts on what the program did: the bytes that reached the
 * client (compared exactly with the file or payload), what it printed,
 * its exit status and, under strace, which system calls moved the data.
 * The same table is the chapter's demo (`make demo CH=ch06`) and its lab
 * grading (PROG_<name>=...).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { KB = 1024, MB = 1024 * 1024 };

/* ---- helpers ----------------------------------------------------------- */

/* N bytes of memory freed at teardown, even when the scenario fails. */
static char *
scratch(struct hh_ctx *c, size_t n)
{
    return hh_alloc(c, n);
}

/* Fail unless GOT (GLEN bytes) equals WANT (WLEN), naming the first
 * difference. */
static void
same_bytes(struct hh_ctx *c, const char *what, const char *got, size_t glen,
           const char *want, size_t wlen)
{
    size_t n = glen < wlen ? glen : wlen, i = 0;
    while (i < n && got[i] == want[i])
        i++;
    HH_CHECK(c, glen == wlen && i == n,
             "%s: %zu bytes, expected %zu; they differ from byte %zu on", what,
             glen, wlen, i);
}

/*
 * The lesson of the partial-write fixes: a blocking send that waits for
 * buffer space returns early, with the count sent so far, when a signal
 * arrives, and a stop signal (^Z) is enough.  FD is the client's socket;
 * the server is inside its big send once the first bytes arrive, and it
 * cannot finish, since the client reads nothing yet.  Freeze it, wait
 * until the kernel shows it stopped, and let it go on.
 */
static void
stop_mid_send(struct hh_ctx *c, struct hh_proc *srv, int fd, const char *call)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int r = poll(&pf, 1, hh_ms(c, 5000));
    HH_CHECK(c, r == 1, "no data from the server within %d ms",
             hh_ms(c, 5000));
    hh_note(c, "harness: the server is blocked in %s (the client reads "
               "nothing yet): SIGSTOP, as ^Z would",
            call);
    hh_kill(srv, SIGSTOP);
    /* no event says "stopped" for a process we may not waitpid (strace's
     * child): hh_wait_state watches /proc */
    char st = hh_wait_state(srv, "Tt", 3000);
    hh_note(c, "harness: the server is stopped (state %c); SIGCONT, then "
               "the client reads everything",
            st);
    hh_kill(srv, SIGCONT);
}

/* ---- 6-1 dup: a socket as stdout --------------------------------------- */

/* Wait for the server's FIN on the wire, then stop tcpdump. */
static void
finish_capture(struct hh_proc *cap, struct hh_proc *srv)
{
    if (!cap)
        return;
    char ere[64];
    snprintf(ere, sizeof ere, "\\.%s > .*Flags \\[F", srv->port);
    hh_capture_expect(cap, ere, 3000);
    hh_capture_stop(cap);
}

static void
dup_cgi(struct hh_ctx *c)
{
    bool trace = c->sc->needs & HH_NEED_STRACE;
    const char *args[] = {"127.0.0.1", "0", NULL};
    struct hh_spawn opt = {.role = "server", .must_trace = trace};
    struct hh_proc *srv = hh_startv(c, &opt, "dup_stdout_server", args);
    hh_wait_listening(srv);
    struct hh_proc *cap = hh_maybe_capture(c, ntohs(srv->addr.sin_port));
    char want_out[64];
    snprintf(want_out, sizeof want_out, "listening on 127.0.0.1:%s\n",
             srv->port);

    int fd = hh_connect(c, &srv->addr, 2000);
    char buf[64];
    size_t n = hh_recv_all(c, fd, buf, sizeof buf, 3000);
    same_bytes(c, "what the client received", buf, n, "abcd\n", 5);
    hh_expect_exit(srv, 0, 3000);
    finish_capture(cap, srv);

    char esc[256];
    HH_CHECK(c, srv->out.len == strlen(want_out) &&
                    memcmp(srv->out.data, want_out, srv->out.len) == 0,
             "the server's own stdout carried \"%s\", expected only its "
             "readiness line",
             hh_escape(srv->out.data, srv->out.len, esc, sizeof esc));
    HH_CHECK(c, srv->err.len == 0, "the server wrote to stderr: %s",
             srv->err.data);
    hh_note(c, "the client got exactly \"abcd\\n\"; the server's original "
               "stdout carried only its %zu-byte \"listening on\" line",
            srv->out.len);
    if (!trace)
        return;

    /* In order: write(1, "listening on ...") to the harness's pipe,
     * dup2(sock, 1) = 1, write(1, "abcd\n", 5) = 5 to the socket. */
    const char *steps[] = {
        "^write\\(1, \"listening on ",
        "^dup[23]?\\([0-9]+, 1(, 0)?\\) += 1$",
        "^write\\(1, \"abcd\\\\n\", 5\\) += 5$",
    };
    const char *line;
    size_t pos = 0, k = 0;
    while ((line = hh_trace_next(srv, &pos, NULL))) {
        /* Not the program's: ThreadSanitizer's runtime fills a file of
         * its own (/tmp/tsan.rodata.PID, fd 3) before main. */
        if (strncmp(line, "write(", 6) == 0 && strncmp(line, "write(1,", 8))
            continue;
        HH_CHECK(c, k < 3, "a call after the last expected one: %s", line);
        HH_CHECK(c, hh_match(c, steps[k], line, NULL),
                 "expected /%s/, strace shows: %s", steps[k], line);
        k++;
    }
    HH_CHECK(c, k == 3, "only %zu of the 3 expected calls in the trace", k);
    hh_note(c, "strace: write(1, \"listening on...\"), dup2(sock, 1) = 1, "
               "write(1, \"abcd\\n\", 5): the same fd 1, another file");
}

/* ---- 6-2 writev: header and body in one call --------------------------- */

static const char http_500[] = "HTTP/1.1 500 Internal server error\r\n\r\n";

/* Check an HTTP reply (N bytes) against the file it should carry. */
static void
check_http_200(struct hh_ctx *c, const char *reply, size_t n,
               const char *body, size_t blen)
{
    const char *end = memmem(reply, n, "\r\n\r\n", 4);
    HH_CHECK(c, end != NULL, "no blank line after the header in %zu bytes",
             n);
    size_t hlen = (size_t)(end + 4 - reply);
    char head[256], esc[512];
    snprintf(head, sizeof head, "%.*s", (int)(hlen < 255 ? hlen : 255),
             reply);
    HH_CHECK(c, strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0,
             "status line: \"%s\"",
             hh_escape(head, strcspn(head, "\n"), esc, sizeof esc));
    const char *cl = strstr(head, "\r\nContent-Length: ");
    HH_CHECK(c, cl != NULL, "no Content-Length in \"%s\"",
             hh_escape(head, hlen, esc, sizeof esc));
    char *e;
    long long v = strtoll(cl + 18, &e, 10);
    HH_CHECK(c, *e == '\r' && v == (long long)blen,
             "Content-Length %lld, the file has %zu bytes", v, blen);
    same_bytes(c, "the body", reply + hlen, n - hlen, body, blen);
    hh_note(c, "reply: 200 OK, Content-Length %lld = the file's size, body "
               "identical to the file",
            v);
}

/* Serve PATH to one client; returns what the client received.  With
 * CAPTURE (not NULL) the exchange is captured with tcpdump. */
static char *
fetch(struct hh_ctx *c, struct hh_proc **srvp, struct hh_proc **capture,
      const char *path, size_t *n)
{
    bool trace = c->sc->needs & HH_NEED_STRACE;
    const char *args[] = {"127.0.0.1", "0", path, NULL};
    struct hh_spawn opt = {.role = "server", .must_trace = trace};
    struct hh_proc *srv = hh_startv(c, &opt, "writev_http_server", args);
    hh_wait_listening(srv);
    struct hh_proc *cap =
        capture ? hh_maybe_capture(c, ntohs(srv->addr.sin_port)) : NULL;
    int fd = hh_connect(c, &srv->addr, 2000);
    char *reply = scratch(c, 4 * KB);
    *n = hh_recv_all(c, fd, reply, 4 * KB, 5000);
    hh_close(c, fd);
    if (capture)
        *capture = cap;
    *srvp = srv;
    return reply;
}

static const char page[] =
    "<html><body>served by one writev()</body></html>\n";

static void
writev_reply(struct hh_ctx *c)
{
    char path[256];
    size_t n;
    struct hh_proc *srv, *cap;

    hh_make_text_file(c, "page", page, path, sizeof path);
    char *reply = fetch(c, &srv, &cap, path, &n);
    check_http_200(c, reply, n, page, strlen(page));
    hh_expect_line(srv, "^reply: 200 OK, Content-Length ([0-9]+)$", 3000);
    hh_expect_line(srv, "^sent ([0-9]+) bytes with 1 writev call, 0 short$",
                   3000);
    HH_CHECK(c, atol(srv->groups[1]) == (long)n,
             "server says it sent %s bytes, the client got %zu",
             srv->groups[1], n);
    hh_expect_exit(srv, 0, 3000);
    finish_capture(cap, srv);

    if (c->sc->needs & HH_NEED_STRACE) {
        /* writev(4, [{iov_base="HTTP/1.1 200 OK\r\n...", iov_len=39},
         *            {iov_base="<html>...", iov_len=49}], 2) = 88 */
        char ere[256];
        snprintf(ere, sizeof ere,
                 "writev\\([0-9]+, \\[\\{iov_base=\"HTTP/1\\.1 200 OK.*"
                 "iov_len=[0-9]+\\}, \\{iov_base=\"<html>.*iov_len=%zu\\}"
                 "\\], 2\\) += %zu$",
                 strlen(page), n);
        int all = hh_trace_count(srv, "writev\\(");
        int two = hh_trace_count(srv, ere);
        hh_note(c, "strace: %d writev call(s); %d with the header and the "
                   "body as two iovecs, returning all %zu bytes",
                all, two, n);
        HH_CHECK(c, all == 1 && two == 1,
                 "expected exactly one writev with 2 iovecs returning %zu "
                 "(writev calls: %d, matching: %d)",
                 n, all, two);
        return;
    }
    if (c->sc->needs & HH_NEED_TCPDUMP) {
        /* "127.0.0.1.PORT > 127.0.0.1.N: Flags [P.], ..., length 88" */
        char ere[96];
        snprintf(ere, sizeof ere, "\\.%s > .* length [1-9][0-9]*$",
                 srv->port);
        int data = hh_capture_count(cap, ere);
        snprintf(ere, sizeof ere, "\\.%s > .* length %zu$", srv->port, n);
        int whole = hh_capture_count(cap, ere);
        hh_note(c, "tcpdump: the server sent %d segment(s) with data, %d "
                   "carrying all %zu bytes",
                data, whole, n);
        HH_CHECK(c, data == 1 && whole == 1,
                 "expected header and body in one %zu-byte segment "
                 "(segments with data: %d)", n, data);
        return;
    }

    /* an empty file: a header with Content-Length 0, and nothing else */
    hh_make_text_file(c, "empty", "", path, sizeof path);
    reply = fetch(c, &srv, NULL, path, &n);
    check_http_200(c, reply, n, "", 0);
    hh_expect_line(srv, "^reply: 200 OK, Content-Length 0$", 3000);
    hh_expect_exit(srv, 0, 3000);
}

static void
writev_refused(struct hh_ctx *c)
{
    char missing[256], dir[256], secret[256];
    hh_tmpfile(c, "missing", missing, sizeof missing);
    hh_tmpfile(c, "dir", dir, sizeof dir);
    HH_CHECK(c, mkdir(dir, 0755) == 0, "mkdir: %s", strerror(errno));
    hh_make_text_file(c, "secret", "not for others\n", secret, sizeof secret);
    HH_CHECK(c, chmod(secret, 0600) == 0, "chmod: %s", strerror(errno));
    hh_note(c, "harness: a missing file, a directory, and a file with mode "
               "0600 (the harness runs as uid %d)",
            (int)geteuid());

    const struct {
        const char *path, *why;
    } cases[] = {
        {missing, "No such file or directory"},
        {dir, "a directory"},
        {secret, "not readable by others \\(mode 0600\\)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hh_proc *srv;
        size_t n;
        char *reply = fetch(c, &srv, NULL, cases[i].path, &n);
        same_bytes(c, "the error reply", reply, n, http_500,
                   strlen(http_500));
        char ere[256];
        snprintf(ere, sizeof ere, "^reply: 500, .*: %s$", cases[i].why);
        hh_expect_line(srv, ere, 3000);
        hh_expect_exit(srv, 0, 3000);
    }
}

/* tcp_wmem's maximum: the most a TCP send buffer grows to. */
static long
tcp_wmem_max(void)
{
    long lo, def, max = 4 * MB;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
    if (f) {
        if (fscanf(f, "%ld %ld %ld", &lo, &def, &max) != 3)
            max = 4 * MB;
        fclose(f);
    }
    return max;
}

/* A file bigger than what the socket buffers hold at once, so that a
 * send of it must block until the client reads: 8 MB, or more on a
 * generous kernel.  (A small SO_RCVBUF on the client would not help: on
 * loopback, with its 64 KB MSS, a window that small stalls the sender on
 * persist-timer probes for seconds.) */
static size_t
big_size(void)
{
    long need = tcp_wmem_max() + 2 * MB;
    return need > 8 * MB ? (size_t)need : (size_t)8 * MB;
}

static void
writev_partial(struct hh_ctx *c)
{
    char path[256];
    size_t size = big_size(), n;
    hh_make_file(c, "big", size, 62, path, sizeof path);
    HH_CHECK(c, chmod(path, 0644) == 0, "chmod: %s", strerror(errno));
    size_t flen;
    char *file = hh_read_file(c, path, &flen);
    hh_note(c, "harness: a %zu-byte file; the TCP send buffer grows to %ld "
               "bytes at most",
            size, tcp_wmem_max());

    const char *args[] = {"127.0.0.1", "0", path, NULL};
    struct hh_spawn opt = {.role = "server"};
    struct hh_proc *srv = hh_startv(c, &opt, "writev_http_server", args);
    hh_wait_listening(srv);
    int fd = hh_connect(c, &srv->addr, 2000);
    hh_expect_line(srv, "^reply: 200 OK", 5000);
    stop_mid_send(c, srv, fd, "writev");

    char *reply = scratch(c, size + 256);
    n = hh_recv_all(c, fd, reply, size + 256, 20000);
    check_http_200(c, reply, n, file, flen);
    hh_expect_line(srv, "^sent ([0-9]+) bytes with ([0-9]+) writev calls?, "
                        "([0-9]+) short$",
                   5000);
    int calls = atoi(srv->groups[2]), shorts = atoi(srv->groups[3]);
    HH_CHECK(c, calls >= 2 && shorts >= 1,
             "expected a short writev that the server continued, it reports "
             "%d call(s), %d short", calls, shorts);
    hh_note(c, "the stop cut writev short; the loop advanced the iovec and "
               "sent the rest: %d calls, %d short, every byte in place",
            calls, shorts);
    hh_expect_exit(srv, 0, 5000);
}

/* ---- 6-3 sendfile ------------------------------------------------------ */

static struct hh_proc *
start_sendfile(struct hh_ctx *c, const char *path, const char *trace)
{
    const char *args[] = {"127.0.0.1", "0", path, NULL};
    struct hh_spawn opt = {.role = "server", .trace = trace,
                           .must_trace = trace != NULL};
    struct hh_proc *srv = hh_startv(c, &opt, "sendfile_server", args);
    hh_wait_listening(srv);
    return srv;
}

/* The client's side: every byte until EOF, compared with the file. */
static void
receive_file(struct hh_ctx *c, struct hh_proc *srv, int fd, const char *path)
{
    size_t flen, n;
    char *file = hh_read_file(c, path, &flen);
    char *got = scratch(c, flen);
    n = hh_recv_all(c, fd, got, flen, 20000);
    same_bytes(c, "the bytes received", got, n, file, flen);
    hh_note(c, "harness: %zu bytes received, identical to the file", n);
    hh_expect_line(srv, "^sent ([0-9]+) of ([0-9]+) bytes with ([0-9]+) "
                        "sendfile calls?, ([0-9]+) short$",
                   5000);
    HH_CHECK(c, atol(srv->groups[1]) == (long)flen &&
                    atol(srv->groups[2]) == (long)flen,
             "server reports %s of %s bytes, the file has %zu",
             srv->groups[1], srv->groups[2], flen);
}

static void
sendfile_sizes(struct hh_ctx *c)
{
    const size_t sizes[] = {0, 1, 10 * MB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char path[256];
        hh_make_file(c, "file", sizes[i], 63 + (unsigned)i, path,
                     sizeof path);
        hh_note(c, "harness: a %zu-byte file", sizes[i]);
        struct hh_proc *srv = start_sendfile(c, path, NULL);
        int fd = hh_connect(c, &srv->addr, 2000);
        receive_file(c, srv, fd, path);
        hh_close(c, fd);
        hh_expect_exit(srv, 0, 5000);
    }
}

static void
sendfile_partial(struct hh_ctx *c)
{
    char path[256];
    hh_make_file(c, "big", big_size(), 64, path, sizeof path);
    struct hh_proc *srv = start_sendfile(c, path, NULL);
    int fd = hh_connect(c, &srv->addr, 2000);
    stop_mid_send(c, srv, fd, "sendfile");
    receive_file(c, srv, fd, path);
    int calls = atoi(srv->groups[3]), shorts = atoi(srv->groups[4]);
    HH_CHECK(c, calls >= 2 && shorts >= 1,
             "expected a short sendfile that the server continued, it "
             "reports %d call(s), %d short", calls, shorts);
    hh_note(c, "sendfile returned short after the stop; the loop called it "
               "again: %d calls, %d short", calls, shorts);
    hh_expect_exit(srv, 0, 5000);
}

static void
sendfile_syscalls(struct hh_ctx *c)
{
    char path[256];
    size_t size = 10 * MB;
    hh_make_file(c, "file", size, 65, path, sizeof path);
    /* openat too, to learn the file's descriptor */
    struct hh_proc *srv = start_sendfile(c, path,
                                         "trace=openat,sendfile,read,pread64,"
                                         "readv,preadv,preadv2,mmap");
    int fd = hh_connect(c, &srv->addr, 2000);
    receive_file(c, srv, fd, path);
    hh_expect_exit(srv, 0, 5000);

    const char *line;
    char ere[512];
    size_t pos = 0;
    long long filefd = -1, moved = 0;
    int calls = 0, reads = 0;
    snprintf(ere, sizeof ere, "^openat\\(AT_FDCWD, \"%s\", .*\\) += ([0-9]+)$",
             path);
    /* before it: the loader reading libc */
    if (hh_trace_next(srv, &pos, ere))
        filefd = hh_group_ll(srv, 1);
    while (filefd >= 0 && (line = hh_trace_next(srv, &pos, NULL))) {
        if (hh_match(c, "^sendfile\\(([0-9]+), ([0-9]+), NULL, [0-9]+\\) += "
                        "([0-9]+)$",
                     line, srv->groups) &&
            hh_group_ll(srv, 2) == filefd) {
            calls++;
            moved += hh_group_ll(srv, 3);
        }
        if (hh_match(c, "^(read|pread64|readv|preadv2?)\\(([0-9]+),", line,
                     srv->groups) &&
            hh_group_ll(srv, 2) == filefd)
            reads++;
        if (hh_match(c, "^mmap\\(.*, ([0-9]+), 0x?[0-9a-f]+\\)", line,
                     srv->groups) &&
            hh_group_ll(srv, 1) == filefd)
            reads++;
    }
    HH_CHECK(c, filefd >= 0, "no openat of %s in the trace", path);
    hh_note(c, "strace: the file is fd %lld; %d sendfile call(s) moved %lld "
               "bytes from it; %d read/pread/mmap of it",
            filefd, calls, moved, reads);
    HH_CHECK(c, calls >= 1 && moved == (long long)size,
             "sendfile moved %lld bytes in %d calls, the file has %zu",
             moved, calls, size);
    HH_CHECK(c, reads == 0, "the server read the file in user space (%d "
                            "calls)", reads);
}

/* ---- 6-4 splice echo --------------------------------------------------- */

/*
 * Send LEN bytes of OUT to FD (non-blocking) and read the echo into IN at
 * the same time, in one poll loop; half-close once everything is sent.
 * Sending everything first would deadlock: the server echoes as it reads,
 * and with nobody reading the echo both directions' buffers fill up.
 * Returns the bytes read before EOF.
 */
static size_t
echo_exchange(struct hh_ctx *c, int fd, const char *out, size_t len, char *in,
              size_t cap, int timeout_ms)
{
    long long deadline = hh_now_ms() + hh_ms(c, timeout_ms);
    size_t put = 0, got = 0;
    bool shut = false;
    for (;;) {
        if (put == len && !shut) {
            HH_CHECK(c, shutdown(fd, SHUT_WR) == 0, "shutdown: %s",
                     strerror(errno));
            shut = true;
        }
        struct pollfd pf = {.fd = fd,
                            .events = POLLIN | (put < len ? POLLOUT : 0)};
        long long left = deadline - hh_now_ms();
        HH_CHECK(c, left > 0, "echo: sent %zu of %zu, got back %zu bytes "
                              "within %d ms",
                 put, len, got, hh_ms(c, timeout_ms));
        int r = poll(&pf, 1, (int)left);
        HH_CHECK(c, r >= 0 || errno == EINTR, "poll: %s", strerror(errno));
        if (r <= 0)
            continue;
        if ((pf.revents & POLLOUT) && put < len) {
            size_t want = len - put < 256 * KB ? len - put : 256 * KB;
            ssize_t n = send(fd, out + put, want, MSG_NOSIGNAL);
            HH_CHECK(c, n >= 0 || errno == EAGAIN, "send: %s",
                     strerror(errno));
            if (n > 0)
                put += (size_t)n;
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            char extra;
            ssize_t n = got < cap ? recv(fd, in + got, cap - got, 0)
                                  : recv(fd, &extra, 1, 0);
            HH_CHECK(c, n >= 0 || errno == EAGAIN, "recv: %s",
                     strerror(errno));
            HH_CHECK(c, n <= 0 || got < cap, "more than %zu bytes came back",
                     cap);
            if (n == 0)
                break;
            if (n > 0)
                got += (size_t)n;
        }
    }
    HH_CHECK(c, shut, "EOF after %zu bytes, before the harness had sent "
                      "everything (%zu of %zu)", got, put, len);
    hh_note(c, "harness: sent %zu bytes while reading the echo, half-closed "
               "(FIN), then EOF after %zu bytes back",
            len, got);
    return got;
}

/*
 * The strace spec of a bulk run: with TRACE=1 its thousands of calls would
 * bury the demo, so they are left out (the *_syscalls scenario shows and
 * checks them).  NULL: the program's teaching set, as usual.
 */
static const char *
bulk_trace(struct hh_ctx *c)
{
    if (!c->show_trace)
        return NULL;
    hh_note(c, "(TRACE=1: the calls of this bulk run are not listed; the "
               "*_syscalls scenario shows them)");
    return "trace=none";
}

static struct hh_proc *
start_echo(struct hh_ctx *c, bool trace)
{
    const char *args[] = {"127.0.0.1", "0", NULL};
    struct hh_spawn opt = {.role = "server", .must_trace = trace};
    if (trace) /* the teaching set, and the rest of the data calls */
        opt.trace = "trace=splice,read,recvfrom,recvmsg,readv,write,sendto,"
                    "sendmsg,writev";
    else
        opt.trace = bulk_trace(c);
    struct hh_proc *srv = hh_startv(c, &opt, "splice_echo", args);
    hh_wait_listening(srv);
    return srv;
}

static void
echo_payload(struct hh_ctx *c, size_t size, bool trace)
{
    char path[256];
    hh_make_file(c, "payload", size, 66, path, sizeof path);
    size_t plen;
    char *payload = hh_read_file(c, path, &plen);
    char *back = scratch(c, size);
    struct hh_proc *srv = start_echo(c, trace);
    int fd = hh_connect(c, &srv->addr, 2000);
    size_t n = echo_exchange(c, fd, payload, plen, back, size, 30000);
    same_bytes(c, "the echo", back, n, payload, plen);
    hh_note(c, "the echo is identical to the %zu-byte payload", plen);
    hh_expect_line(srv, "^echoed ([0-9]+) bytes", 5000);
    HH_CHECK(c, atol(srv->groups[1]) == (long)plen,
             "server reports %s bytes echoed, expected %zu", srv->groups[1],
             plen);
    hh_expect_exit(srv, 0, 5000);
    if (!trace)
        return;

    /* splice(4, NULL, 6, NULL, 65536, SPLICE_F_MOVE|SPLICE_F_MORE) = 4096
     * splice(5, NULL, 4, NULL, 4096, SPLICE_F_MOVE) = 4096 */
    const char *line;
    size_t pos = 0;
    long long sock = -1, in = 0, out = 0;
    int calls_in = 0, calls_out = 0, other = 0;
    const char *splice_ere = "^splice\\(([0-9]+), NULL, ([0-9]+), NULL, "
                             "[0-9]+, [A-Z_|]+\\) += ([0-9]+)$";
    while ((line = hh_trace_next(srv, &pos, NULL))) {
        if (hh_match(c, splice_ere, line, srv->groups)) {
            long long from = hh_group_ll(srv, 1), to = hh_group_ll(srv, 2);
            if (sock < 0)
                sock = from; /* the first splice reads the socket */
            long long moved = hh_group_ll(srv, 3);
            if (from == sock && moved > 0) /* 0: the client's FIN */
                calls_in++, in += moved;
            else if (to == sock)
                calls_out++, out += moved;
        } else if (sock >= 0 &&
                   hh_match(c, "^(read|recvfrom|recvmsg|readv|write|sendto|"
                               "sendmsg|writev)\\(([0-9]+),",
                            line, srv->groups) &&
                   hh_group_ll(srv, 2) == sock) {
            other++;
        }
    }
    hh_note(c, "strace: socket is fd %lld; %d splice calls socket -> pipe "
               "moved %lld bytes, %d pipe -> socket moved %lld; %d read, "
               "recv, write or send on the socket",
            sock, calls_in, in, calls_out, out, other);
    HH_CHECK(c, in == (long long)plen && out == (long long)plen,
             "splice moved %lld bytes in and %lld out, the payload has %zu",
             in, out, plen);
    HH_CHECK(c, calls_in > 0 && calls_out > 0 && other == 0,
             "expected splice in both directions and no other data call "
             "(in %d, out %d, other %d)", calls_in, calls_out, other);
}

static void
echo_big(struct hh_ctx *c)
{
    echo_payload(c, 10 * MB, false);
}

static void
echo_syscalls(struct hh_ctx *c)
{
    echo_payload(c, 1 * MB, true);
}

static long long
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

enum { N_LINES = 1000, EARLY_LOOK = 20 };

/*
 * The round trips of the first N lines (sorted in place, in microseconds):
 * their median must be well under 50 ms.  With SPLICE_F_MORE on the way
 * out (the book's flags) each reply waits about 200 ms for more data, so
 * look after EARLY_LOOK lines already rather than wait out 1000 of them.
 */
static void
check_rtt(struct hh_ctx *c, long long *rtt, int n)
{
    qsort(rtt, (size_t)n, sizeof rtt[0], cmp_ll);
    long long median = rtt[n / 2], max = rtt[n - 1];
    if (n == N_LINES)
        hh_note(c, "round trip of one line: median %lld us, max %lld us",
                median, max);
    HH_CHECK(c, median < hh_ms(c, 50) * 1000LL,
             "over %d lines a line takes %lld us (median) to come back: is "
             "the reply held back (SPLICE_F_MORE, i.e. MSG_MORE, on the "
             "pipe -> socket splice)?",
             n, median);
}

static void
echo_lines(struct hh_ctx *c)
{
    struct hh_proc *srv = start_echo(c, false);
    int fd = hh_connect(c, &srv->addr, 2000);
    static long long rtt[N_LINES];
    long long deadline = hh_now_ms() + hh_ms(c, 30000);
    hh_note(c, "harness: %d lines \"line 0001\\n\" ... one at a time, each "
               "sent only when the previous one has come back",
            N_LINES);
    for (int i = 0; i < N_LINES; i++) {
        char msg[32], back[32];
        int len = snprintf(msg, sizeof msg, "line %04d\n", i + 1);
        size_t got = 0;
        long long t0 = now_us();
        ssize_t n = send(fd, msg, (size_t)len, MSG_NOSIGNAL);
        HH_CHECK(c, n == len, "send of line %d: %s", i + 1,
                 n < 0 ? strerror(errno) : "short");
        while (got < (size_t)len) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            long long left = deadline - hh_now_ms();
            HH_CHECK(c, left > 0, "line %d: no echo in time (%zu bytes)",
                     i + 1, got);
            if (poll(&pf, 1, (int)left) <= 0)
                continue;
            n = recv(fd, back + got, sizeof back - got, 0);
            HH_CHECK(c, n > 0 || (n < 0 && errno == EAGAIN),
                     "line %d: %s", i + 1,
                     n == 0 ? "EOF instead of the echo" : strerror(errno));
            if (n > 0)
                got += (size_t)n;
        }
        rtt[i] = now_us() - t0;
        same_bytes(c, "an echoed line", back, got, msg, (size_t)len);
        if (i + 1 == EARLY_LOOK)
            check_rtt(c, rtt, EARLY_LOOK);
    }
    hh_note(c, "harness: all %d lines came back in order", N_LINES);
    HH_CHECK(c, shutdown(fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    hh_expect_eof(c, fd, 3000);
    hh_expect_line(srv, "^echoed ([0-9]+) bytes: ([0-9]+) splice calls "
                        "socket -> pipe, ([0-9]+) pipe -> socket$",
                   5000);
    HH_CHECK(c, atoi(srv->groups[1]) == N_LINES * 10 &&
                    atoi(srv->groups[2]) == N_LINES &&
                    atoi(srv->groups[3]) == N_LINES,
             "expected %d bytes in %d splices each way, server reports "
             "%s bytes, %s in, %s out",
             N_LINES * 10, N_LINES, srv->groups[1], srv->groups[2],
             srv->groups[3]);
    hh_expect_exit(srv, 0, 5000);

    check_rtt(c, rtt, N_LINES);
}

/* ---- 6-5 tee ----------------------------------------------------------- */

/* Run splice_tee FILE with INPUT on stdin (a pipe of the harness) and
 * stdout read by the harness (another pipe); check both copies. */
static struct hh_proc *
run_tee(struct hh_ctx *c, size_t size, bool trace, bool bulk)
{
    char in_path[256], out_path[256];
    hh_make_file(c, "input", size, 67 + (unsigned)size, in_path,
                 sizeof in_path);
    hh_tmpfile(c, "copy", out_path, sizeof out_path);
    size_t len;
    char *input = hh_read_file(c, in_path, &len);
    const char *args[] = {out_path, NULL};
    struct hh_spawn opt = {.role = "splice_tee", .raw = true,
                           .must_trace = trace,
                           .trace = bulk ? bulk_trace(c) : NULL};
    struct hh_proc *p = hh_startv(c, &opt, "splice_tee", args);
    hh_write_stdin(p, input, len, 20000);
    hh_close_stdin(p);
    hh_note(c, "harness: wrote %zu bytes to its stdin (a pipe) and closed it",
            len);
    hh_expect_exit(p, 0, 20000);
    same_bytes(c, "stdout", p->out.data, p->out.len, input, len);
    size_t flen;
    char *copy = hh_read_file(c, out_path, &flen);
    same_bytes(c, "FILE", copy, flen, input, len);
    hh_note(c, "stdout: %zu bytes, identical to the input; FILE: %zu bytes, "
               "identical too", p->out.len, flen);
    return p;
}

static void
tee_sizes(struct hh_ctx *c)
{
    run_tee(c, 0, false, false);
    run_tee(c, 100 * KB, false, false);
    run_tee(c, 5 * MB, false, true);
}

static void
tee_syscalls(struct hh_ctx *c)
{
    size_t size = 256 * KB;
    struct hh_proc *p = run_tee(c, size, true, false);
    /* one letter per call: i stdin -> A, t tee A -> B, f B -> FILE,
     * o A -> stdout */
    const char *line;
    char seq[4096];
    size_t pos = 0, k = 0;
    long long sum[128] = {0};
    while (k < sizeof seq - 1 && (line = hh_trace_next(p, &pos, NULL))) {
        char kind;
        long long moved;
        if (hh_match(c, "^splice\\(([0-9]+), NULL, ([0-9]+), .*\\) += "
                        "([0-9]+)$",
                     line, p->groups)) {
            kind = hh_group_ll(p, 1) == 0   ? 'i'
                   : hh_group_ll(p, 2) == 1 ? 'o'
                                            : 'f';
            moved = hh_group_ll(p, 3);
        } else if (hh_match(c, "^tee\\([0-9]+, [0-9]+, [0-9]+, 0\\) += "
                               "([0-9]+)$",
                            line, p->groups)) {
            kind = 't';
            moved = hh_group_ll(p, 1);
        } else {
            hh_fail(c, "unexpected trace line: %s", line);
        }
        seq[k++] = kind;
        sum[(unsigned char)kind] += moved;
    }
    seq[k] = '\0';
    int rounds = 0;
    for (size_t i = 0; i < k; i++)
        rounds += seq[i] == 't';
    hh_note(c, "strace: %d rounds of splice, tee, splice, splice; stdin "
               "gave %lld bytes, tee copied %lld, FILE got %lld, stdout %lld",
            rounds, sum['i'], sum['t'], sum['f'], sum['o']);
    HH_CHECK(c, hh_match(c, "^(i(tf+o+)+)+i$", seq, NULL),
             "calls out of order: %.200s (i: stdin -> A, t: tee, f: B -> "
             "FILE, o: A -> stdout)", seq);
    HH_CHECK(c, sum['i'] == (long long)size && sum['t'] == (long long)size &&
                    sum['f'] == (long long)size && sum['o'] == (long long)size,
             "every stage must move %zu bytes", size);
}

static void
tee_append(struct hh_ctx *c)
{
    char out_path[256], copy[256], text[] = "one line through splice_tee\n";
    hh_tmpfile(c, "stdout", out_path, sizeof out_path);
    hh_tmpfile(c, "copy", copy, sizeof copy);
    const char *args[] = {copy, NULL};

    /* stdout need not be a pipe: a file opened with > is fine */
    struct hh_spawn opt = {.role = "splice_tee", .stdout_path = out_path};
    hh_note(c, "harness: stdout to a file opened with O_TRUNC (>)");
    struct hh_proc *p = hh_startv(c, &opt, "splice_tee", args);
    hh_write_stdin(p, text, strlen(text), 3000);
    hh_close_stdin(p);
    hh_expect_exit(p, 0, 3000);
    size_t n;
    char *got = hh_read_file(c, out_path, &n);
    same_bytes(c, "stdout (a file)", got, n, text, strlen(text));
    hh_note(c, "the file behind stdout holds the %zu bytes", n);

    /* but not with >>: splice refuses a file in append mode */
    opt.stdout_append = true;
    hh_note(c, "harness: stdout to the same file opened with O_APPEND (>>)");
    p = hh_startv(c, &opt, "splice_tee", args);
    hh_close_stdin(p);
    hh_expect_err(p, "cannot splice to stdout: .*append mode", 3000);
    hh_expect_exit(p, 1, 3000);
    got = hh_read_file(c, out_path, &n);
    same_bytes(c, "stdout (a file) after the refusal", got, n, text,
               strlen(text));
}

static void
tee_unspliceable(struct hh_ctx *c)
{
    char copy[256];
    hh_tmpfile(c, "copy", copy, sizeof copy);
    const char *args[] = {copy, NULL};

    /* /dev/null has no splice_read: not even end of file comes through */
    struct hh_spawn opt = {.role = "splice_tee", .stdin_path = "/dev/null",
                           .raw = true};
    hh_note(c, "harness: stdin from /dev/null");
    struct hh_proc *p = hh_startv(c, &opt, "splice_tee", args);
    hh_expect_err(p, "cannot splice from stdin: a character device", 3000);
    hh_expect_exit(p, 1, 3000);

    /* FILE /dev/full has no splice_write (older kernels fell back to
     * write(), which fails with ENOSPC there) */
    const char *full[] = {"/dev/full", NULL};
    struct hh_spawn opt2 = {.role = "splice_tee", .raw = true};
    hh_note(c, "harness: FILE is /dev/full");
    p = hh_startv(c, &opt2, "splice_tee", full);
    hh_write_stdin(p, "x\n", 2, 3000);
    hh_close_stdin(p);
    hh_expect_err(p, "cannot splice to /dev/full: a character device|"
                     "splice to /dev/full: .*\\(ENOSPC\\)",
                  3000);
    hh_expect_exit(p, 1, 3000);
    HH_CHECK(c, p->out.len == 0, "%zu bytes reached stdout", p->out.len);
}

/* ---- stop on SIGTERM, every program ------------------------------------ */

/* Each program serves one connection (or one stream) in plain blocking
 * calls and has no handler: SIGTERM's default action ends it, and the wait
 * status says so - not an exit of its own, not a crash. */
static void
expect_killed_by_term(struct hh_ctx *c, struct hh_proc *p, int st)
{
    HH_CHECK(c, WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
             "%s: expected to be killed by SIGTERM, wait status 0x%x",
             p->role, st);
    hh_note(c, "(%s: killed by SIGTERM, as its teaching row allows)",
            p->role);
}

static void
stop_cleanly(struct hh_ctx *c)
{
    char path[256];
    hh_make_file(c, "file", 1000, 68, path, sizeof path);
    const char *servers[][5] = {
        {"dup_stdout_server", "127.0.0.1", "0", NULL, NULL},
        {"writev_http_server", "127.0.0.1", "0", path, NULL},
        {"sendfile_server", "127.0.0.1", "0", path, NULL},
        {"splice_echo", "127.0.0.1", "0", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++) {
        struct hh_spawn opt = {.role = "server"};
        struct hh_proc *srv = hh_startv(c, &opt, servers[i][0],
                                        servers[i] + 1);
        hh_wait_listening(srv);
        expect_killed_by_term(c, srv, hh_stop(srv));
    }

    /* splice_echo in the middle of a connection: pipe and socket open */
    struct hh_proc *srv = start_echo(c, false);
    int fd = hh_connect(c, &srv->addr, 2000);
    hh_send(c, fd, "ping\n", 5, 2000);
    char back[8];
    size_t got = 0;
    while (got < 5) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        HH_CHECK(c, poll(&pf, 1, hh_ms(c, 3000)) == 1, "no echo of ping");
        ssize_t n = recv(fd, back + got, sizeof back - got, 0);
        HH_CHECK(c, n > 0, "no echo of ping");
        got += (size_t)n;
    }
    expect_killed_by_term(c, srv, hh_stop(srv));
    /* its end of the connection went with it: the kernel closed it */
    hh_expect_eof(c, fd, 2000);

    /* splice_tee waiting for input */
    const char *args[] = {path, NULL};
    struct hh_spawn opt = {.role = "splice_tee", .raw = true};
    struct hh_proc *tee = hh_startv(c, &opt, "splice_tee", args);
    hh_write_stdin(tee, "abc\n", 4, 2000);
    /* the line is through: it is past its setup, waiting for more */
    hh_expect_line(tee, "^abc$", 3000);
    expect_killed_by_term(c, tee, hh_stop(tee));
    /* what went through before the signal reached FILE too */
    size_t len;
    const char *copy = hh_read_file(c, path, &len);
    HH_CHECK(c, len == 4 && memcmp(copy, "abc\n", 4) == 0,
             "FILE holds %zu bytes, expected \"abc\\n\"", len);
}

/* ---- bad input, for every program -------------------------------------- */

#define A_FILE "@FILE@" /* a small regular file */
#define A_DIR "@DIR@"   /* a directory */

static void
make_a_file(struct hh_ctx *c, char *out, size_t cap)
{
    hh_make_text_file(c, "file", "data\n", out, cap);
}

static void
make_a_dir(struct hh_ctx *c, char *out, size_t cap)
{
    hh_tmpfile(c, "dir", out, cap);
    HH_CHECK(c, mkdir(out, 0755) == 0, "mkdir: %s", strerror(errno));
}

/* ---- the table --------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"dup_cgi", "6-1",
     "dup2(): the connected socket becomes stdout, printf() answers the "
     "client",
     "printf(\"abcd\\n\") went to the client; the server's own stdout shows "
     "nothing after \"listening on\".",
     0, dup_cgi},
    {"dup_syscalls", "6-1", "dup2(): what the system calls show",
     "dup2(sock, 1) = 1, then write(1, \"abcd\\n\", 5): stdio writes to fd 1 "
     "and never knows it is a socket.",
     HH_NEED_STRACE, dup_cgi},
    {"writev_reply", "6-2",
     "writev(): an HTTP header and a file's contents, gathered in one call",
     "Content-Length equals the file's size and the body is the file, byte "
     "for byte (an empty file too).",
     0, writev_reply},
    {"writev_syscalls", "6-2", "writev(): one call, two iovecs",
     "one writev with the header buffer and the file buffer, returning "
     "their total: no copying them together.",
     HH_NEED_STRACE, writev_reply},
    {"writev_wire", "6-2", "writev(): header and body leave in one segment",
     "tcpdump shows one data segment carrying header and body together; "
     "two write() calls could put the header alone in its own segment.",
     HH_NEED_TCPDUMP, writev_reply},
    {"writev_refused", "6-2",
     "writev server: a missing file, a directory, a mode-0600 file get 500",
     "the permission comes from the mode bits (S_IROTH), so it holds even "
     "for root, who could open the file.",
     0, writev_refused},
    {"writev_partial", "6-2",
     "writev(): a stop signal cuts a blocking writev short; the loop goes on",
     "a blocked writev returns the bytes sent so far when a signal (here "
     "SIGSTOP/SIGCONT, i.e. ^Z and fg) arrives; the printed server would "
     "send a truncated file.",
     HH_REGRESSION, writev_partial},
    {"sendfile_sizes", "6-3",
     "sendfile(): 0-byte, 1-byte and 10 MB files arrive intact",
     "each file arrives byte for byte; the empty one needs no sendfile "
     "call at all.",
     0, sendfile_sizes},
    {"sendfile_syscalls", "6-3",
     "sendfile(): the file goes to the socket without a read()",
     "sendfile(sock, file, NULL, n) moves all 10 MB; no read, pread or "
     "mmap of the file's descriptor ever happens.",
     HH_NEED_STRACE, sendfile_syscalls},
    {"sendfile_partial", "6-3",
     "sendfile(): a stop signal cuts it short; the loop sends the rest",
     "the printed server calls sendfile once; here a short count is "
     "followed by another call.",
     HH_REGRESSION, sendfile_partial},
    {"echo_big", "6-4",
     "splice() echo: 10 MB through a pipe, sent and echoed concurrently",
     "the book echoes one round of at most 32 KB; the port loops until the "
     "client's FIN.",
     0, echo_big},
    {"echo_lines", "6-4",
     "splice() echo: 1000 short lines, one at a time, in order and at once",
     "each line comes back by its own pair of splices within a fraction of "
     "a millisecond; SPLICE_F_MORE on the reply would hold each one ~200 "
     "ms.",
     0, echo_lines},
    {"echo_syscalls", "6-4",
     "splice() echo: the payload never enters user space",
     "splice socket -> pipe and pipe -> socket move every byte; no read, "
     "recv, write or send touches the socket.",
     HH_NEED_STRACE, echo_syscalls},
    {"tee_sizes", "6-5",
     "tee() + splice(): stdin to stdout and FILE, for 0 B, 100 KB and 5 MB",
     "both copies are identical to the input; the book stops after 32 KB.",
     0, tee_sizes},
    {"tee_syscalls", "6-5", "tee() + splice(): the rhythm of the calls",
     "each chunk: splice stdin -> A, tee A -> B, splice B -> FILE, splice "
     "A -> stdout; a last splice from stdin returns 0.",
     HH_NEED_STRACE, tee_syscalls},
    {"tee_append", "6-5",
     "tee() + splice(): stdout may be a file (>), but not in append mode "
     "(>>)",
     "splice() refuses O_APPEND with EINVAL; the program says so and exits "
     "1 before reading anything.",
     0, tee_append},
    {"tee_unspliceable", "6-5",
     "tee() + splice(): stdin /dev/null and FILE /dev/full cannot be "
     "spliced",
     "a clear message naming the side and the kind of file, exit 1; no "
     "fallback to read/write.",
     HH_FAILURE_PATH, tee_unspliceable},
    {"stop_cleanly", "6-1..6-5",
     "every program: SIGTERM's default action stops it",
     NULL, HH_TEST_ONLY, stop_cleanly},
};

/*
 * The programs: what TRACE=1 shows of each (the calls its listing
 * teaches), and its bad command lines (a bad_input_<name> scenario each).
 */
static const struct hh_program programs[] = {
    {.name = "dup_stdout_server", .listing = "6-1",
     .syscalls = "trace=dup,dup2,dup3,write", .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM,
     .args = HH_ARGS_IP_PORT_ARG,
     HH_ROWS({{"127.0.0.1", "0", "extra", NULL}, 2, HH_USAGE})},
    {.name = "writev_http_server", .listing = "6-2",
     .syscalls = "trace=writev", .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM,
     .args = HH_ARGS_IP_PORT_ARG, .arg = A_FILE,
     HH_ROWS({{"127.0.0.1", "0", NULL}, 2, HH_USAGE},
             {{"127.0.0.1", "0", A_FILE, "x", NULL}, 2, HH_USAGE})},
    {.name = "sendfile_server", .listing = "6-3",
     .syscalls = "trace=sendfile,read,pread64", .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM,
     .args = HH_ARGS_IP_PORT_ARG, .arg = A_FILE,
     HH_ROWS({{"127.0.0.1", "0", NULL}, 2, HH_USAGE},
             {{"127.0.0.1", "0", "/nonexistent/file", NULL}, 1,
              "open /nonexistent/file: .*\\(ENOENT\\)"},
             {{"127.0.0.1", "0", A_DIR, NULL}, 1, "not a regular file"})},
    {.name = "splice_echo", .listing = "6-4",
     .syscalls = "trace=splice,read,recvfrom,write,sendto",
     .flags = HH_PROG_SERVER | HH_PROG_DIES_OF_TERM, .args = HH_ARGS_IP_PORT_ARG,
     HH_ROWS({{"127.0.0.1", "0", "extra", NULL}, 2, HH_USAGE})},
    {.name = "splice_tee", .listing = "6-5", .syscalls = "trace=tee,splice",
     .flags = HH_PROG_DIES_OF_TERM, .args = HH_ARGS_HELP,
     HH_ROWS({{NULL}, 2, HH_USAGE}, {{"a", "b", NULL}, 2, HH_USAGE},
             {{"/nonexistent/file", NULL}, 1, "open .*\\(ENOENT\\)"},
             {{A_DIR, NULL}, 1, "open .*\\(EISDIR\\)"})},
};

/* the files the rows name */
static const struct hh_placeholder placeholders[] = {
    {A_FILE, make_a_file},
    {A_DIR, make_a_dir},
};

static const struct hh_chapter chapter = {
    .name = "ch06-advio",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
    HH_TABLE(placeholders),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
