/*
 * http_conn.h - Listing 15-4: one HTTP connection of the web server
 * (web_server.c, 15-6): what it has read, the request being parsed, the
 * response being written.  The implementation is 15-5, http_conn.c.
 *
 * A connection goes round these steps; each call returns the next one
 * (enum hc_next), and the caller (an event loop) waits for what it says:
 *
 *     hc_read     drain the socket into the read buffer   (the I/O thread)
 *     hc_process  parse what is buffered; when a request is whole, open
 *                 the file and build the response          (a worker)
 *     hc_write    writev the head and a small body, or send the head with
 *                 MSG_MORE and sendfile a large file, until done or
 *                 EAGAIN                                    (the I/O thread)
 *     hc_drain    after a last response: writing is shut down, read and
 *                 throw away until the client's FIN        (the I/O thread)
 *
 * The steps never run at once on one connection: the caller hands the
 * whole struct from thread to thread (web_server's pool mode) or runs all
 * of them in one thread (loops mode).  Nothing here touches epoll, timers
 * or any other connection; the only state shared between connections is
 * the atomic count of open ones (hc_users).
 *
 * Pipelining: a read may bring several requests, or one and a half.  The
 * bytes after a request stay in the buffer for the next hc_process: after
 * a response with keep-alive, hc_write returns HC_NEXT_PROCESS when some
 * are left.  Responses go out one at a time, in request order.
 *
 * Paths: the document root is resolved once (realpath, hc_root_init) and
 * held open as an O_PATH descriptor; the request's decoded path is opened
 * under it with openat2(RESOLVE_BENEATH), which fails (EXDEV) for any
 * path that would leave it, by "..", %2e%2e or a symlink, in the same
 * call that opens: 404, as for a file that is not there, so a client
 * learns nothing of what is outside.  Where openat2 is missing (before
 * Linux 5.6, or under valgrind 3.19) the path is resolved with realpath,
 * must be the root or lie below it ("ROOT/..."), and is opened with
 * O_NOFOLLOW (a symlink swapped in after the check is refused).  The
 * descriptor that is served is the one fstat judges: a regular file,
 * readable by others (S_IROTH, the book's test), or 403.  A directory is
 * 403 too (the book says 400: the request is not malformed, the resource
 * is refused).
 *
 * Differs from the printed listing (15-4):
 *  - the count of open connections is atomic: the book's static int is
 *    changed by the main thread and by workers at once;
 *  - Content-Length is an off_t (the book's int), and comes from the
 *    parser, which refuses negative, non-numeric and overflowing values;
 *  - no static epoll fd: the connection does not know the loop;
 *  - the read buffer keeps what follows a request (pipelining), and a
 *    full buffer is an error answered 431, never taken for a close;
 *  - the header file name is the one it includes (the book's locker.h
 *    does not match the file it ships).
 */
#ifndef HPSP_HTTP_CONN_H
#define HPSP_HTTP_CONN_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "http_parser.h"

/* Bytes of requests a connection buffers: the longest head the parser's
 * default limits let through, so a request too long is the parser's 414
 * or 431, never a full buffer. */
#define HC_READ_BUF                                                          \
    HX_HEAD_MAX(HX_DEFAULT_REQUEST_LINE, HX_DEFAULT_HEADER_BLOCK)
/* Status line and headers of one response. */
#define HC_HEAD_BUF 1024
/* Files up to this size are read into memory and sent with the head in
 * one writev; larger ones go with sendfile, straight from the page
 * cache. */
#define HC_SMALL_FILE (64 * 1024)

/* What the caller does next with a connection. */
enum hc_next {
    HC_NEXT_READ,    /* wait until readable, then hc_read */
    HC_NEXT_PROCESS, /* bytes are buffered: hc_process (a worker's job) */
    HC_NEXT_WRITE,   /* a response is ready: hc_write now, and again
                        whenever writable until it says otherwise */
    HC_NEXT_LINGER,  /* last response sent, writing shut down: wait until
                        readable, then hc_drain */
    HC_NEXT_CLOSE,   /* hc_close */
};

/* The document root, resolved once; shared read-only by every thread. */
struct hc_root {
    char path[PATH_MAX];
    size_t len;
    int dirfd; /* O_PATH: what openat2(RESOLVE_BENEATH) resolves under */
};

/*
 * A loop's memory of the small files it has just served: a request for a
 * file served a moment ago in the same round of events (one epoll_wait's
 * batch) is answered from here, without openat2, fstat, pread and close.
 * The caller empties it (hc_cache_flush) after every round, so a file is
 * looked at afresh at least once per round: a change on disk shows in the
 * next response after the round in which it happened.  Only what was
 * opened, judged and read in full goes in (never an error), keyed by the
 * decoded path that openat2 resolved under the root.  One thread only:
 * loops mode gives each loop its own; pool mode has none (its workers
 * run at once, and the book's design is measured as it is).
 */
#define HC_CACHE_SLOTS 16
struct hc_cached {
    char *path;           /* the decoded request path, malloc'd */
    time_t mtime;
    char *bytes;          /* the whole file, malloc'd (NULL: empty) */
    size_t len;
    char modified[40];    /* mtime as an HTTP date */
};
struct hc_cache {
    struct hc_cached slot[HC_CACHE_SLOTS];
    int used;
    unsigned long hits, misses;
};

struct hc_conn {
    int fd;
    const struct hc_root *root;
    struct hc_cache *cache; /* the loop's, or NULL */

    /* reading: rbuf[0, rlen) is buffered, from the first byte of the
     * request being parsed (the parser writes into it: the path decoded
     * in place, NULs after its fields) */
    char rbuf[HC_READ_BUF];
    size_t rlen;
    bool peer_eof; /* the client sent its FIN */
    struct hx_parser parser;

    /* writing: iov[0] the head (and iov[1] a small body) still to go,
     * then file_left bytes of file_fd from file_off with sendfile */
    char head[HC_HEAD_BUF];
    char *body; /* malloc'd: a small file's bytes, or an error page */
    struct iovec iov[2];
    int iovcnt;
    int file_fd;
    off_t file_off, file_left;
    bool keep_alive; /* after this response, wait for the next request */

    uint64_t sent;     /* bytes written on this connection, ever */
    unsigned requests; /* responses prepared on it */
    int status;        /* the last response's status code */
};

/* Connections open now (hc_init minus hc_close), from any thread. */
extern atomic_int hc_users;

/* Resolve DIR with realpath into ROOT and open it (O_PATH).  0, or -1
 * with errno. */
int hc_root_init(struct hc_root *root, const char *dir);
/* Close what hc_root_init opened. */
void hc_root_close(struct hc_root *root);

/* A new connection on the accepted socket FD (non-blocking), serving
 * files under ROOT, through CACHE if not NULL (which must then be used
 * by this thread only).  NULL with errno ENOMEM (FD is then not closed). */
struct hc_conn *hc_init(int fd, const struct hc_root *root,
                        struct hc_cache *cache);

/* Forget every file CACHE holds (at the end of a round of events). */
void hc_cache_flush(struct hc_cache *cache);

/* Read what the socket has, up to a full buffer.  HC_NEXT_PROCESS when
 * there are bytes to parse (or the client closed after some),
 * HC_NEXT_READ when nothing came, HC_NEXT_CLOSE on the client's close
 * with nothing pending, or an error. */
enum hc_next hc_read(struct hc_conn *c);

/* Parse the buffered bytes; when a request is whole (or wrong), build its
 * response.  HC_NEXT_WRITE, HC_NEXT_READ (more bytes needed) or
 * HC_NEXT_CLOSE (the client closed in the middle of a request). */
enum hc_next hc_process(struct hc_conn *c);

/* Build "503 Service Unavailable", Connection: close, without parsing:
 * for a connection the server cannot take a job for.  HC_NEXT_WRITE. */
enum hc_next hc_busy(struct hc_conn *c);

/* Send what is left of the response: HC_NEXT_WRITE (the socket is full),
 * HC_NEXT_PROCESS or HC_NEXT_READ (done, keep-alive, with or without a
 * next request buffered), HC_NEXT_LINGER (done, the connection ends:
 * writing is shut down) or HC_NEXT_CLOSE (the client is gone). */
enum hc_next hc_write(struct hc_conn *c);

/* After HC_NEXT_LINGER: read and drop until the client's FIN.
 * HC_NEXT_LINGER (not yet) or HC_NEXT_CLOSE. */
enum hc_next hc_drain(struct hc_conn *c);

/* Close the socket and whatever the response held; free C. */
void hc_close(struct hc_conn *c);

/* "read", "process" ... for messages. */
const char *hc_next_name(enum hc_next n);

#endif /* HPSP_HTTP_CONN_H */
