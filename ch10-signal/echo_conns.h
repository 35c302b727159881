/*
 * echo_conns.h - the echo connections of the two chapter 10 servers.
 *
 * signal_pipe_server and signalfd_server differ only in how signals reach
 * their epoll loop; the connections they serve beside the signals are the
 * same, so they live here.  This is what the book's listing 10-1 leaves
 * out: it registers accepted sockets edge-triggered and then never reads
 * or closes them.  Here every accepted socket is non-blocking and
 * edge-triggered, read until EAGAIN, echoed back (a short send keeps the
 * rest until the next EPOLLOUT edge), and closed, with its memory freed,
 * on EOF or error.
 *
 * Each connection's epoll data.ptr is its struct echo_conn; the loop tells
 * its other sources (the listener, the signal source) apart by their own
 * pointers.
 */
#ifndef ECHO_CONNS_H
#define ECHO_CONNS_H

#include "hpsp.h"

#include <stddef.h>

/* The most one connection holds between a recv() and its echo. */
enum { ECHO_BUF_SIZE = 4096 };

struct echo_conn {
    struct echo_conn *prev, *next;
    int fd;
    size_t off, len; /* buf[off..len) is still to be sent back */
    unsigned long long echoed; /* bytes sent back so far */
    char peer[HP_ADDRSTRLEN];
    char buf[ECHO_BUF_SIZE];
};

struct echo_set {
    int epfd;               /* the loop's epoll instance */
    struct echo_conn *head; /* every open connection */
    int count;
};

void echo_init(struct echo_set *set, int epfd);

/*
 * accept4() on the non-blocking listener LFD until EAGAIN (an
 * edge-triggered listener reports a burst of connections once), and add
 * each connection to the epoll set.  Returns how many were accepted.  Out
 * of descriptors (EMFILE, ENFILE) is reported and ends this round: the
 * connection stays queued until the next one arrives.  Any other failure
 * of accept4 or epoll_ctl exits, naming the call that failed.
 */
int echo_accept_all(struct echo_set *set, int lfd);

/*
 * Serve an epoll event of CONN: send back what is pending, then read and
 * echo until recv() says EAGAIN.  On EOF or an error the connection is
 * closed and freed, so CONN must not be used afterwards.
 */
void echo_serve(struct echo_set *set, struct echo_conn *conn);

/* Close and free every connection; returns how many there were. */
int echo_close_all(struct echo_set *set);

/* Add FD to EPFD edge-triggered for EPOLLIN, with TAG as data.ptr (the
 * listener, the signal source); exits on failure. */
void echo_watch(int epfd, int fd, void *tag);
/* -r: fork a child that exits at once, so the kernel sends SIGCHLD. */
void echo_start_child(void);
/* On SIGCHLD: waitpid(WNOHANG) until no exited child is left, printing
 * each one (one SIGCHLD may stand for several children). */
void echo_reap_children(void);

#endif /* ECHO_CONNS_H */
