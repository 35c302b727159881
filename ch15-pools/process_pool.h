/*
 * process_pool.h - Listing 15-1 as a C module: a pool of worker processes
 * behind one listening socket.
 *
 * The parent forks N workers, each joined to it by a socketpair of its
 * own.  It watches the listener, edge-triggered, and on each readiness
 * writes one int (the readiness number) to the next live worker,
 * round-robin.  That worker accepts on the listener it inherited until
 * EAGAIN (a burst that arrived as one readiness is taken whole; EAGAIN
 * at once means another worker took it) and serves its connections in an
 * epoll loop of its own, through the callbacks below.  Signals reach both
 * loops through the 10-1 self-pipe.  SIGCHLD in the parent reaps and
 * marks dead workers, which get no notification from then on; with none
 * left the parent stops.  SIGTERM or SIGINT: the parent sends every
 * worker SIGTERM, reaps them all and returns 0.
 *
 * In C the book's template becomes a struct of callbacks and the size of
 * the per-connection state (zeroed for each connection).  There is no
 * singleton: the pool lives in pp_run's frame; only the write end of the
 * signal pipe is a static, because a signal handler has nothing else.
 *
 * Workers may fork children of their own (cgi_server does):
 * pp_conn_own_child() ties one to a connection, whose on_child callback
 * runs when the worker reaps it.  A worker is a child subreaper: what its
 * children leave behind is reparented to it, reaped, and reported with a
 * NULL connection.
 */
#ifndef PROCESS_POOL_H
#define PROCESS_POOL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum { PP_DEFAULT_WORKERS = 8, PP_MAX_WORKERS = 16 };

/* What a connection callback returns. */
enum pp_verdict {
    PP_KEEP = 0,  /* go on serving it */
    PP_CLOSE = 1, /* close it (on_close runs) */
};

struct pp_conn; /* one accepted connection, owned by the worker */

struct pp_handlers {
    size_t conn_size; /* bytes of per-connection state, zeroed */
    void *arg;        /* given to worker_init, worker_exit, on_orphan */
    /* In each worker, once, after fork.  Non-zero: the worker exits 1. */
    int (*worker_init)(int worker, void *arg);
    /* A new connection; may be NULL (PP_KEEP). */
    enum pp_verdict (*on_open)(struct pp_conn *conn);
    /* Its socket is readable (or hung up). */
    enum pp_verdict (*on_readable)(struct pp_conn *conn);
    /* Its socket is writable, after pp_conn_want_write(conn, true), which
     * stops on_readable until pp_conn_want_write(conn, false). */
    enum pp_verdict (*on_writable)(struct pp_conn *conn);
    /* Its deadline (pp_conn_deadline) has passed; may be NULL (close). */
    enum pp_verdict (*on_timeout)(struct pp_conn *conn);
    /* A child it owns (pp_conn_own_child) was reaped: STATUS as from
     * waitpid.  May be NULL (PP_CLOSE). */
    enum pp_verdict (*on_child)(struct pp_conn *conn, pid_t pid, int status);
    /* The connection is being closed, its socket still open (if it was
     * not released): also when the worker stops.  May be NULL. */
    void (*on_close)(struct pp_conn *conn);
    /* A child of the worker no connection owns was reaped (an orphan of
     * a child, reparented to the subreaper).  May be NULL. */
    void (*on_orphan)(pid_t pid, int status, void *arg);
    /* In each worker, once, before it exits.  May be NULL. */
    void (*worker_exit)(void *arg);
};

struct pp_options {
    int workers; /* 1 .. PP_MAX_WORKERS; 0 means PP_DEFAULT_WORKERS */
};

/*
 * Run the pool on LISTENER (bound, listening, non-blocking, close-on-exec).
 * Returns in the parent only: 0 after SIGTERM/SIGINT (every worker
 * reaped), 1 when every worker has ended or a system call failed at
 * start (the message printed).  Workers never return.  LISTENER is left
 * open for the caller to close.
 */
int pp_run(int listener, const struct pp_options *opt,
           const struct pp_handlers *h);

/* ---- what a callback may ask of its connection ------------------------ */
int pp_conn_fd(const struct pp_conn *conn); /* -1 once released */
void *pp_conn_state(struct pp_conn *conn);  /* conn_size bytes */
const char *pp_conn_peer(const struct pp_conn *conn); /* "IP:PORT" */
int pp_conn_worker(const struct pp_conn *conn);       /* 0 .. N-1 */
/* Be called on_writable instead of on_readable (true), until switched
 * back (false): a connection with output pending reads no more. */
void pp_conn_want_write(struct pp_conn *conn, bool on);
/* Be called on_timeout MS from now (0: no deadline). */
void pp_conn_deadline(struct pp_conn *conn, long long ms);
/* Stop watching and close the worker's copy of the socket; the
 * connection lives on for its deadline and its children. */
void pp_conn_release_fd(struct pp_conn *conn);
/* PID, a child of this worker, belongs to CONN: on_child when reaped. */
void pp_conn_own_child(struct pp_conn *conn, pid_t pid);

#endif
