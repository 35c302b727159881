/*
 * http_conn.c - Listing 15-5: one HTTP connection: read, parse (with the
 * chapter-8 parser, http_parser.h), build the response, write it.  The
 * interface, the steps and the path rules: http_conn.h.
 *
 * Differs from the printed listing:
 *  - (a) every function that returns a value returns one (the book's
 *    add_headers falls off its end, and GCC -O2 makes that a crash);
 *  - (b) a response is written until its last byte: what is left lives in
 *    the connection (the iovecs advanced past what writev took, the file
 *    offset sendfile moved), not in locals reset on every call that count
 *    the head only;
 *  - (c) a full read buffer is a 431, not recv's 0 taken for a close;
 *  - (d) the path is resolved and must stay under the root; a path too
 *    long is refused, never truncated into another name;
 *  - (e) Content-Length is the parser's, checked there; nothing is
 *    written at an offset a client chose;
 *  - (f) an empty file is 200 with Content-Length 0 (the book's missing
 *    break sends nothing at all);
 *  - (g) this code never closes a socket behind the caller's back: it
 *    says HC_NEXT_CLOSE and the caller, who owns epoll, closes;
 *  - (h) bytes after a request are kept for the next one;
 *  - (i) open, fstat and read are checked; small files are read, not
 *    mapped (no SIGBUS when a file shrinks under a mapping); HTTP/1.1
 *    is keep-alive unless the client says close (RFC 9112), HTTP/1.0
 *    only if it asks for it.
 */
#define _GNU_SOURCE
#include "http_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

atomic_int hc_users;

/* ---- the request, as this file needs it from the parser ----------------- */

struct request {
    bool head;          /* HEAD: the headers of GET, no body */
    const char *path;   /* decoded, starts with '/', no query */
    bool keep_alive;
    time_t ims;         /* If-Modified-Since, or -1 */
};

enum parsed { PARSED_MORE, PARSED_DONE, PARSED_ERROR };

/* ---- bookkeeping -------------------------------------------------------- */

int
hc_root_init(struct hc_root *root, const char *dir)
{
    if (!realpath(dir, root->path))
        return -1;
    root->len = strlen(root->path);
    root->dirfd = open(root->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return root->dirfd < 0 ? -1 : 0;
}

void
hc_root_close(struct hc_root *root)
{
    if (root->dirfd >= 0)
        close(root->dirfd);
    root->dirfd = -1;
}

struct hc_conn *
hc_init(int fd, const struct hc_root *root, struct hc_cache *cache)
{
    struct hc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->root = root;
    c->cache = cache;
    c->file_fd = -1;
    if (hx_init(&c->parser, NULL) != 0) { /* the defaults: never */
        free(c);
        return NULL;
    }
    atomic_fetch_add(&hc_users, 1);
    return c;
}

/* Forget the response sent (or abandoned): its body and its file. */
static void
release_response(struct hc_conn *c)
{
    free(c->body);
    c->body = NULL;
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    c->file_left = 0;
    c->iovcnt = 0;
}

void
hc_close(struct hc_conn *c)
{
    release_response(c);
    close(c->fd);
    atomic_fetch_sub(&hc_users, 1);
    free(c);
}

const char *
hc_next_name(enum hc_next n)
{
    static const char *const names[] = {"read", "process", "write",
                                        "linger", "close"};
    return (unsigned)n < sizeof names / sizeof names[0] ? names[n] : "?";
}

/* ---- building a response ------------------------------------------------- */

static const char *
reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/* The few types a static site needs; anything else is bytes. */
static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"ico", "image/x-icon"},
    {"webp", "image/webp"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
};

static const char *
content_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* T as an HTTP date (IMF-fixdate, RFC 9110 5.6.7).  The program never
 * calls setlocale, so %a and %b are the C locale's English names. */
static void
http_date(time_t t, char *out, size_t cap)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) ||
        strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        snprintf(out, cap, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* Now as an HTTP date, formatted once a second per thread. */
static const char *
date_now(void)
{
    static __thread time_t when = -1;
    static __thread char text[40];
    time_t now = time(NULL);
    if (now != when) {
        http_date(now, text, sizeof text);
        when = now;
    }
    return text;
}

/*
 * The status line and headers into c->head, as iov[0].  LENGTH < 0: no
 * Content-Length (304); MODIFIED NULL: no Last-Modified; TYPE NULL: none.
 * Returns the head's length (fix (a): the book's add_headers returns
 * nothing at all).
 */
static size_t
put_head(struct hc_conn *c, int status, long long length, const char *type,
         const char *modified)
{
    size_t cap = sizeof c->head;
    int n;

    n = snprintf(c->head, cap, "HTTP/1.1 %d %s\r\nServer: hpsp\r\n"
                 "Date: %s\r\n", status, reason(status), date_now());
    if (type)
        n += snprintf(c->head + n, cap - (size_t)n, "Content-Type: %s\r\n",
                      type);
    if (length >= 0)
        n += snprintf(c->head + n, cap - (size_t)n,
                      "Content-Length: %lld\r\n", length);
    if (modified)
        n += snprintf(c->head + n, cap - (size_t)n, "Last-Modified: %s\r\n",
                      modified);
    n += snprintf(c->head + n, cap - (size_t)n, "Connection: %s\r\n\r\n",
                  c->keep_alive ? "keep-alive" : "close");
    /* the fields are bounded (a type, two dates, numbers): it fits */
    c->iov[0].iov_base = c->head;
    c->iov[0].iov_len = (size_t)n;
    c->iovcnt = 1;
    c->status = status;
    return (size_t)n;
}

/* A response with a small HTML body that names STATUS. */
static void
error_page(struct hc_conn *c, int status, bool head_only)
{
    char page[256];
    int n = snprintf(page, sizeof page,
                     "<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1></body></html>\n",
                     status, reason(status), status, reason(status));
    put_head(c, status, n, "text/html; charset=utf-8", NULL);
    if (head_only)
        return;
    c->body = malloc((size_t)n);
    if (!c->body) /* the head alone still tells the client */
        return;
    memcpy(c->body, page, (size_t)n);
    c->iov[1].iov_base = c->body;
    c->iov[1].iov_len = (size_t)n;
    c->iovcnt = 2;
}

/* Read the whole small file FD (SIZE bytes by fstat) into c->body.  The
 * count actually read, which is what Content-Length says (a file that
 * shrank meanwhile is sent as it is now); -1 on a read error. */
static long long
read_small(struct hc_conn *c, int fd, off_t size)
{
    size_t got = 0;
    if (size == 0)
        return 0; /* fix (f): no body, and nothing wrong with that */
    c->body = malloc((size_t)size);
    if (!c->body)
        return -1;
    while (got < (size_t)size) {
        ssize_t n = pread(fd, c->body + got, (size_t)size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (long long)got;
}

/* The status for a failed realpath or open: a name that is not there
 * (or a symlink where O_NOFOLLOW finds one) is 404, one the server may
 * not read 403; a server out of descriptors or memory is busy, 503. */
static int
status_of(int err)
{
    if (err == EMFILE || err == ENFILE || err == ENOMEM)
        return 503;
    return err == EACCES || err == EPERM ? 403 : 404;
}

/* Whether the resolved PATH is ROOT or lies below it.  A plain prefix is
 * not enough: /srv/www2 starts with /srv/www. */
static bool
inside_root(const struct hc_root *root, const char *path)
{
    if (root->len == 1) /* the root is "/": everything is below it */
        return path[0] == '/';
    return strncmp(path, root->path, root->len) == 0 &&
           (path[root->len] == '/' || path[root->len] == '\0');
}

/* The file REQ names, opened by the kernel's own resolution under the
 * root: RESOLVE_BENEATH fails with EXDEV any path that leaves it, by
 * "..", %2e%2e (decoded by the parser) or a symlink, in the same call
 * that opens, so nothing can move between the check and the open.  One
 * system call, where realpath takes a readlink per component.  -1 with
 * errno ENOSYS where openat2 is missing (before Linux 5.6; valgrind 3.19). */
static int
open_beneath(const struct hc_root *root, const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    const char *rel = path[1] ? path + 1 : "."; /* path starts with '/' */
    return (int)syscall(SYS_openat2, root->dirfd, rel, &how, sizeof how);
}

/* Where openat2 is missing: resolve with realpath, compare with the root,
 * then open with O_NOFOLLOW (a symlink put in the file's place after
 * realpath is refused, ELOOP).  -1 with errno EXDEV for a path outside. */
static int
open_resolved(const struct hc_root *root, const char *path)
{
    char full[PATH_MAX], resolved[PATH_MAX];
    size_t plen = strlen(path);

    if (root->len + plen >= sizeof full) {
        errno = ENAMETOOLONG; /* fix (d): never truncated */
        return -1;
    }
    memcpy(full, root->path, root->len);
    memcpy(full + root->len, path, plen + 1);
    if (!realpath(full, resolved))
        return -1;
    if (!inside_root(root, resolved)) {
        errno = EXDEV;
        return -1;
    }
    return open(resolved, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                              O_NOCTTY);
}

/* ---- the loop's cache of small files (http_conn.h) ----------------------- */

void
hc_cache_flush(struct hc_cache *cache)
{
    for (int i = 0; i < cache->used; i++) {
        free(cache->slot[i].path);
        free(cache->slot[i].bytes);
    }
    cache->used = 0;
}

static struct hc_cached *
cache_find(struct hc_cache *cache, const char *path)
{
    for (int i = 0; i < cache->used; i++)
        if (strcmp(cache->slot[i].path, path) == 0) {
            cache->hits++;
            return &cache->slot[i];
        }
    cache->misses++;
    return NULL;
}

/* Keep a copy of the small file PATH just read (LEN bytes at BYTES).  A
 * full cache, or no memory, keeps nothing: the next request reads it. */
static void
cache_put(struct hc_cache *cache, const char *path, time_t mtime,
          const char *bytes, size_t len, const char *modified)
{
    if (cache->used == HC_CACHE_SLOTS)
        return;
    struct hc_cached *e = &cache->slot[cache->used];
    e->path = strdup(path);
    e->bytes = len > 0 ? malloc(len) : NULL;
    if (!e->path || (len > 0 && !e->bytes)) {
        free(e->path);
        free(e->bytes);
        return;
    }
    if (len > 0)
        memcpy(e->bytes, bytes, len);
    e->len = len;
    e->mtime = mtime;
    snprintf(e->modified, sizeof e->modified, "%s", modified);
    cache->used++;
}

/* The answer to REQ for a file the cache holds, as serve_file gives it. */
static void
serve_cached(struct hc_conn *c, const struct request *req,
             const struct hc_cached *e)
{
    if (req->ims >= 0 && e->mtime <= req->ims) {
        put_head(c, 304, -1, NULL, e->modified);
        return;
    }
    put_head(c, 200, (long long)e->len, content_type(req->path),
             e->modified);
    if (req->head || e->len == 0)
        return;
    c->body = malloc(e->len);
    if (!c->body) {
        error_page(c, 503, false);
        return;
    }
    memcpy(c->body, e->bytes, e->len);
    c->iov[1].iov_base = c->body;
    c->iov[1].iov_len = e->len;
    c->iovcnt = 2;
}

/* Open what REQ names, or build the error that says why not. */
static void
serve_file(struct hc_conn *c, const struct request *req)
{
    struct stat st;
    char modified[40];
    struct hc_cached *hit = c->cache ? cache_find(c->cache, req->path) : NULL;

    if (hit) {
        serve_cached(c, req, hit);
        return;
    }
    /* O_NONBLOCK: a FIFO does not hang the open */
    int fd = open_beneath(c->root, req->path);
    if (fd < 0 && errno == ENOSYS)
        fd = open_resolved(c->root, req->path);
    if (fd < 0) {
        error_page(c, status_of(errno), req->head);
        return;
    }
    /* judge the descriptor that is served, not the name */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        !(st.st_mode & S_IROTH)) {
        close(fd);
        error_page(c, 403, req->head);
        return;
    }
    http_date(st.st_mtime, modified, sizeof modified);
    if (req->ims >= 0 && st.st_mtime <= req->ims) {
        close(fd);
        put_head(c, 304, -1, NULL, modified);
        return;
    }
    const char *type = content_type(req->path);
    if (req->head) {
        close(fd);
        put_head(c, 200, (long long)st.st_size, type, modified);
        return;
    }
    if (st.st_size <= HC_SMALL_FILE) {
        long long n = read_small(c, fd, st.st_size);
        close(fd);
        if (n < 0) {
            release_response(c);
            error_page(c, 500, false);
            return;
        }
        put_head(c, 200, n, type, modified);
        if (n > 0) {
            c->iov[1].iov_base = c->body;
            c->iov[1].iov_len = (size_t)n;
            c->iovcnt = 2;
        }
        if (c->cache)
            cache_put(c->cache, req->path, st.st_mtime, c->body, (size_t)n,
                      modified);
        return;
    }
    put_head(c, 200, (long long)st.st_size, type, modified);
    c->file_fd = fd;
    c->file_off = 0;
    c->file_left = st.st_size;
}

/* Give the parser the request's bytes so far, rbuf[0, rlen) (it resumes
 * where it stopped); on PARSED_DONE, *USED is the head's length; on
 * PARSED_ERROR, *STATUS the status to answer. */
static enum parsed
parse(struct hc_conn *c, struct request *req, size_t *used, int *status);

/* ---- the steps ----------------------------------------------------------- */

enum hc_next
hc_read(struct hc_conn *c)
{
    bool got = false;

    /* fix (c): stop at a full buffer (and let hc_process judge it); a
     * recv of 0 bytes into 0 bytes of room is not a close */
    while (c->rlen < sizeof c->rbuf && !c->peer_eof) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen,
                         0);
        if (n > 0) {
            size_t room = sizeof c->rbuf - c->rlen;
            c->rlen += (size_t)n;
            got = true;
            /* less than there was room for: the socket is drained, and
             * the one-shot, level-triggered re-arm reports anything that
             * comes later; no recv just to be told EAGAIN */
            if ((size_t)n < room)
                break;
        } else if (n == 0) {
            c->peer_eof = true;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            return HC_NEXT_CLOSE; /* ECONNRESET ... */
        }
    }
    if (got || c->rlen == sizeof c->rbuf)
        return HC_NEXT_PROCESS;
    if (c->peer_eof)
        return c->rlen > 0 ? HC_NEXT_PROCESS : HC_NEXT_CLOSE;
    return HC_NEXT_READ;
}

enum hc_next
hc_process(struct hc_conn *c)
{
    struct request req;
    size_t used = 0;
    int status = 0;

    switch (parse(c, &req, &used, &status)) {
    case PARSED_MORE:
        if (c->rlen == sizeof c->rbuf) {
            /* a head longer than the buffer: the buffer holds the
             * longest the parser's limits allow, so this is a guard */
            c->keep_alive = false;
            c->rlen = 0;
            error_page(c, 431, false);
            c->requests++;
            return HC_NEXT_WRITE;
        }
        return c->peer_eof ? HC_NEXT_CLOSE : HC_NEXT_READ;
    case PARSED_ERROR:
        /* what follows a request that cannot be parsed cannot be trusted
         * to start a request: answer, and end the connection */
        c->keep_alive = false;
        c->rlen = 0;
        error_page(c, status, false);
        c->requests++;
        return HC_NEXT_WRITE;
    case PARSED_DONE:
        break;
    }
    c->keep_alive = req.keep_alive;
    serve_file(c, &req);
    c->requests++;
    /* fix (h): the bytes after this request are the next one's start */
    memmove(c->rbuf, c->rbuf + used, c->rlen - used);
    c->rlen -= used;
    hx_reset(&c->parser);
    return HC_NEXT_WRITE;
}

enum hc_next
hc_busy(struct hc_conn *c)
{
    c->keep_alive = false;
    c->rlen = 0;
    error_page(c, 503, false);
    return HC_NEXT_WRITE;
}

/* Take N bytes writev wrote off the front of the iovecs. */
static void
advance(struct hc_conn *c, size_t n)
{
    while (n > 0 && c->iovcnt > 0) {
        if (n < c->iov[0].iov_len) {
            c->iov[0].iov_base = (char *)c->iov[0].iov_base + n;
            c->iov[0].iov_len -= n;
            return;
        }
        n -= c->iov[0].iov_len;
        c->iov[0] = c->iov[1];
        c->iovcnt--;
    }
}

enum hc_next
hc_write(struct hc_conn *c)
{
    /* fix (b): what is left is in the connection, not in locals */
    for (;;) {
        ssize_t n;
        if (c->iovcnt > 0) {
            /* a head with a file to follow: MSG_MORE holds it back to
             * leave in one segment with the file's first bytes, as
             * TCP_CORK would, rather than in a small packet of its own
             * that the client must wake up for (sendmsg: a writev with
             * flags) */
            struct msghdr msg = {.msg_iov = c->iov,
                                 .msg_iovlen = (size_t)c->iovcnt};
            n = c->file_left > 0 ? sendmsg(c->fd, &msg, MSG_MORE)
                                 : writev(c->fd, c->iov, c->iovcnt);
            if (n >= 0) {
                c->sent += (uint64_t)n;
                advance(c, (size_t)n);
                continue;
            }
        } else if (c->file_left > 0) {
            n = sendfile(c->fd, c->file_fd, &c->file_off,
                         (size_t)c->file_left);
            if (n > 0) {
                c->sent += (uint64_t)n;
                c->file_left -= n;
                continue;
            }
            if (n == 0) /* the file shrank: Content-Length is a lie now */
                return HC_NEXT_CLOSE;
        } else {
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return HC_NEXT_WRITE;
        return HC_NEXT_CLOSE; /* EPIPE, ECONNRESET: the client is gone */
    }
    release_response(c);
    if (!c->keep_alive) {
        /* FIN after the last byte; then wait for the client's, so that a
         * request it had sent meanwhile does not turn close() into a RST
         * that could destroy the response in flight */
        if (shutdown(c->fd, SHUT_WR) < 0)
            return HC_NEXT_CLOSE;
        c->rlen = 0;
        return HC_NEXT_LINGER;
    }
    if (c->rlen > 0)
        return HC_NEXT_PROCESS;
    return c->peer_eof ? HC_NEXT_CLOSE : HC_NEXT_READ;
}

enum hc_next
hc_drain(struct hc_conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return HC_NEXT_LINGER;
        return HC_NEXT_CLOSE; /* its FIN, or an error */
    }
}

/* ---- the parser ---------------------------------------------------------- */

static enum parsed
parse(struct hc_conn *c, struct request *req, size_t *used, int *status)
{
    const struct hx_request *r = &c->parser.req;

    switch (hx_parse(&c->parser, c->rbuf, c->rlen)) {
    case HX_NEED_MORE:
        return PARSED_MORE;
    case HX_ERROR:
        *status = r->status;
        return PARSED_ERROR;
    case HX_DONE:
        break;
    }
    /* the path was decoded in place and ends in a NUL of the parser's */
    *used = r->head_len;
    req->head = r->method == HX_HEAD;
    req->path = c->rbuf + r->path.off;
    req->keep_alive = r->keep_alive;
    req->ims = r->has_ims ? r->if_modified_since : -1;
    return PARSED_DONE;
}
