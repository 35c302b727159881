/*
 * writev_http_server.c - Listing 6-2: an HTTP reply gathered by writev().
 *
 * Usage:   writev_http_server IP PORT FILE
 *
 * Shows:   accepts one connection and answers it with FILE, without reading
 *          any request.  The status line and Content-Length header are built
 *          in one buffer, the file's contents sit in another, and a single
 *          writev() sends both: no copying them together, no second call
 *          that could leave the header alone in its own segment.
 *
 * Look at: strace -e trace=writev shows one call with two iovecs, the
 *          header then the body, returning their total.  FILE must be a
 *          regular file readable by others (mode o+r); a missing file, a
 *          directory or a mode-0600 file get "500 Internal server error" and
 *          an empty body.  The permission is judged from the mode bits, as
 *          the book does, so running as root changes nothing.
 *
 * Peer:    any client that reads to end of file, e.g.
 *          `curl -s -D - http://IP:PORT/` or `nc IP PORT`.
 *
 * Differs from the printed listing:
 *  - writev() may send less than asked even on a blocking socket (a stop
 *    and continue, ^Z then fg, cuts it short once something is sent): the
 *    iovec is advanced past what went out and the call repeated, where the
 *    printed server sends a truncated file;
 *  - the file is read to its end (one read() may return less) and its
 *    descriptor closed;
 *  - the body length is printed as a size_t, not with %d; the error path
 *    frees nothing it never allocated; <sys/uio.h> is included;
 *  - SIGPIPE is ignored.
 */
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT FILE";
static const char HELP[] =
    "Accept one connection on IP:PORT and reply with FILE (HTTP/1.1 200,\n"
    "Content-Length, the contents) in one writev(); 500 if FILE is not a\n"
    "regular file readable by others.\n";

enum { LISTEN_BACKLOG = 5 };
enum { HEADER_SIZE = 128 }; /* status line + Content-Length + blank line */

/*
 * The contents of PATH if it may be served: a regular file whose mode lets
 * "others" read it.  Returns a malloc'd buffer and its length in *LEN, or
 * NULL with the reason in WHY.
 */
static char *
load_file(const char *path, size_t *len, char *why, size_t why_len)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd;

    if (stat(path, &st) < 0) {
        snprintf(why, why_len, "%s", strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "%s",
                 S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
        return NULL;
    }
    if (!(st.st_mode & S_IROTH)) {
        snprintf(why, why_len, "not readable by others (mode %04o)",
                 (unsigned)(st.st_mode & 07777));
        return NULL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "open: %s", strerror(errno));
        return NULL;
    }
    buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL)
        hp_die("malloc %jd bytes", (intmax_t)st.st_size);
    /* read() may return less than asked: go on until the size stat gave
     * (or end of file, if the file shrank meanwhile). */
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, why_len, "read: %s", strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return buf;
}

/*
 * Send every byte the CNT buffers of IOV hold.  writev() may stop short: a
 * signal interrupts it once some bytes are queued, a non-blocking socket
 * fills up.  Then drop the buffers it finished, move into the one it
 * stopped in, and call again.  Counts the calls and the short ones.
 * Returns 0, or -1 with errno.
 */
static int
writev_all(int fd, struct iovec *iov, int cnt, int *calls, int *shorts)
{
    while (cnt > 0) {
        size_t want = 0;
        ssize_t n;

        for (int i = 0; i < cnt; i++)
            want += iov[i].iov_len;
        n = writev(fd, iov, cnt);
        if (n < 0)
            return -1;
        ++*calls;
        if ((size_t)n < want)
            ++*shorts;
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    char header[HEADER_SIZE], why[256];
    struct iovec iov[2];
    const char *path;
    char *body;
    size_t body_len = 0, total;
    int argi, fd, conn, cnt, calls = 0, shorts = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 3, 3);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    path = argv[argi + 2];
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    signal(SIGPIPE, SIG_IGN);

    fd = hp_tcp_listener(&addr, LISTEN_BACKLOG, 0);
    if (fd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(fd) < 0)
        hp_die("getsockname");
    conn = accept(fd, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0)
        hp_die("accept");
    printf("accepted connection from %s\n",
           hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));

    body = load_file(path, &body_len, why, sizeof why);
    if (body != NULL) {
        iov[0].iov_len = (size_t)snprintf(header, sizeof header,
                                          "HTTP/1.1 200 OK\r\n"
                                          "Content-Length: %zu\r\n\r\n",
                                          body_len);
        iov[1].iov_base = body;
        iov[1].iov_len = body_len;
        cnt = 2;
        printf("reply: 200 OK, Content-Length %zu\n", body_len);
    } else {
        iov[0].iov_len =
            (size_t)snprintf(header, sizeof header,
                             "HTTP/1.1 500 Internal server error\r\n\r\n");
        cnt = 1;
        printf("reply: 500, %s: %s\n", path, why);
    }
    iov[0].iov_base = header;
    total = iov[0].iov_len + (cnt == 2 ? iov[1].iov_len : 0);

    /* The lesson: header and body leave in one gathering write. */
    if (writev_all(conn, iov, cnt, &calls, &shorts) < 0)
        hp_die("writev");
    printf("sent %zu bytes with %d writev call%s, %d short\n", total, calls,
           calls == 1 ? "" : "s", shorts);
    free(body);
    close(conn);
    close(fd);
    return 0;
}
