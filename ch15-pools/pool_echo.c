/*
 * pool_echo.c - Listing 15-1 driven: an echo server on the process pool.
 *
 * Usage:   pool_echo [-h] [-n N] IP PORT
 *
 * Shows:   the parent forks N workers (default 8, at most 16) and logs
 *          "worker K started: pid P"; for each readiness of the listener
 *          it logs "connection N -> worker K (pid P)" and writes the int N
 *          to that worker's socketpair, the next live worker each time.
 *          The worker accepts ("worker K (pid P): connection N: accepted
 *          IP:PORT") and echoes the connection in its own epoll loop.
 *
 * Look at: `ls -l /proc/PID/fd` of a worker: the listener, its own end of
 *          one socketpair, its epoll and signal pipe, its connections;
 *          nothing of the other workers'.  `kill -9` a worker: the parent
 *          logs "worker K (pid P) ended: killed by signal 9" and skips it
 *          from then on.  `strace -f -e trace=sendto,accept4`: the
 *          parent's 4-byte notification, the worker's accept4.
 *
 * Peer:    nc 127.0.0.1 PORT (several, one after another: round-robin).
 *
 * Differs from the printed listing: the book's pool (15-1) has no driver
 * of its own but the CGI server (15-2); this one exists to test the pool
 * with the simplest handler.  See process_pool.c for the pool's fixes.
 */
#define _GNU_SOURCE
#include "hpsp.h"
#include "process_pool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-n N] IP PORT";
static const char HELP[] =
    "Echo TCP connections on IP:PORT with a pool of worker processes\n"
    "(PORT 0: the kernel picks; announced).\n"
    "  -n N  workers (default 8, at most 16)\n"
    "SIGTERM or SIGINT stops the workers, reaps them and exits 0.\n";

enum { LISTEN_BACKLOG = 64, ECHO_BUF = 16384 };

struct echo_state {
    size_t off, len; /* buf[off..len) still to be sent back */
    char buf[ECHO_BUF];
};

/* Send what is pending; PP_KEEP with the rest kept, or PP_CLOSE. */
static enum pp_verdict
flush_pending(struct pp_conn *conn)
{
    struct echo_state *st = pp_conn_state(conn);
    while (st->off < st->len) {
        ssize_t n = send(pp_conn_fd(conn), st->buf + st->off,
                         st->len - st->off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pp_conn_want_write(conn, true);
            return PP_KEEP;
        }
        if (n < 0)
            return PP_CLOSE;
        st->off += (size_t)n;
    }
    st->off = st->len = 0;
    pp_conn_want_write(conn, false);
    return PP_KEEP;
}

static enum pp_verdict
on_readable(struct pp_conn *conn)
{
    struct echo_state *st = pp_conn_state(conn);
    for (;;) {
        ssize_t n = recv(pp_conn_fd(conn), st->buf, sizeof st->buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return PP_KEEP;
        if (n <= 0)
            return PP_CLOSE;
        st->off = 0;
        st->len = (size_t)n;
        if (flush_pending(conn) == PP_CLOSE)
            return PP_CLOSE;
        if (st->len > 0)
            return PP_KEEP; /* the rest on EPOLLOUT; no reading meanwhile */
    }
}

static void
on_close(struct pp_conn *conn)
{
    /* closed before it is said: whoever reads the line may look at our
     * descriptors and must not find the connection among them */
    pp_conn_release_fd(conn);
    printf("worker %d (pid %d): %s closed\n", pp_conn_worker(conn),
           (int)getpid(), pp_conn_peer(conn));
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    struct pp_options opt = {.workers = PP_DEFAULT_WORKERS};
    int c;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((c = getopt(argc, argv, "+hn:")) != -1) {
        switch (c) {
        case 'h':
            hp_usage(0);
        case 'n':
            opt.workers = (int)hp_parse_long(optarg, 1, PP_MAX_WORKERS, "N");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    int lfd =
        hp_tcp_listener(&addr, LISTEN_BACKLOG, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (lfd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(lfd) < 0)
        hp_die("getsockname");

    const struct pp_handlers h = {
        .conn_size = sizeof(struct echo_state),
        .on_readable = on_readable,
        .on_writable = flush_pending,
        .on_close = on_close,
    };
    int rc = pp_run(lfd, &opt, &h);
    close(lfd);
    return rc;
}
