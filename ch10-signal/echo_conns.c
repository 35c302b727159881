/*
 * echo_conns.c - the echo connections of the chapter 10 servers (see
 * echo_conns.h).
 */
#define _GNU_SOURCE
#include "echo_conns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

void
echo_init(struct echo_set *set, int epfd)
{
    set->epfd = epfd;
    set->head = NULL;
    set->count = 0;
}

/* Remove CONN from epoll, close it and free it. */
static void
drop(struct echo_set *set, struct echo_conn *conn)
{
    /* close() alone removes an fd from epoll only when no other copy of
     * it exists (a forked child may still hold one), so say it */
    if (epoll_ctl(set->epfd, EPOLL_CTL_DEL, conn->fd, NULL) < 0)
        hp_warn("epoll_ctl DEL fd %d", conn->fd);
    close(conn->fd);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        set->head = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    set->count--;
    free(conn);
}

int
echo_accept_all(struct echo_set *set, int lfd)
{
    int accepted = 0;

    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept4(lfd, (struct sockaddr *)&peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return accepted; /* the queue is empty: wait for an edge */
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                hp_warn("accept4 (the connection waits in the queue)");
                return accepted;
            }
            hp_die("accept4");
        }
        struct echo_conn *conn = malloc(sizeof *conn);
        if (conn == NULL) {
            hp_warn("no memory for a connection: closing it");
            close(fd);
            continue;
        }
        conn->fd = fd;
        conn->off = conn->len = 0;
        conn->echoed = 0;
        hp_addr_str((struct sockaddr *)&peer, conn->peer, sizeof conn->peer);
        /* both directions, edge-triggered: EPOLLOUT edges resume a
         * connection whose echo did not fit in the send buffer */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                                 .data.ptr = conn};
        if (epoll_ctl(set->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            int err = errno;
            close(fd);
            free(conn);
            errno = err;
            hp_die("epoll_ctl ADD connection fd %d", fd);
        }
        conn->prev = NULL;
        conn->next = set->head;
        if (set->head)
            set->head->prev = conn;
        set->head = conn;
        set->count++;
        accepted++;
        printf("accepted connection from %s (fd %d)\n", conn->peer, fd);
    }
}

void
echo_serve(struct echo_set *set, struct echo_conn *conn)
{
    for (;;) {
        /* first what the last recv() left unsent */
        while (conn->off < conn->len) {
            ssize_t n = send(conn->fd, conn->buf + conn->off,
                             conn->len - conn->off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return; /* the send buffer is full: an EPOLLOUT edge
                           brings us back, and reading waits till then */
            if (n < 0) {
                const char *name = strerrorname_np(errno);
                printf("%s: send failed: %s (%s), closing\n", conn->peer,
                       strerror(errno), name ? name : "?");
                drop(set, conn);
                return;
            }
            conn->off += (size_t)n;
            conn->echoed += (unsigned long long)n;
        }
        ssize_t n = recv(conn->fd, conn->buf, sizeof conn->buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* drained: edge-triggered epoll may wait again */
        if (n < 0) {
            const char *name = strerrorname_np(errno);
            printf("%s: recv failed: %s (%s), closing\n", conn->peer,
                   strerror(errno), name ? name : "?");
            drop(set, conn);
            return;
        }
        if (n == 0) {
            printf("%s closed its connection after %llu bytes echoed; "
                   "closing fd %d\n",
                   conn->peer, conn->echoed, conn->fd);
            drop(set, conn);
            return;
        }
        /* no line per read: stdout is a blocking pipe or terminal, and
         * a reader of it that falls behind would stall every client */
        conn->off = 0;
        conn->len = (size_t)n;
    }
}

int
echo_close_all(struct echo_set *set)
{
    int n = 0;

    while (set->head) {
        drop(set, set->head);
        n++;
    }
    return n;
}

/* ---- the rest of the chassis both servers share ---- */

enum { CHILD_EXIT_STATUS = 0 }; /* what a -r child exits with */

void
echo_watch(int epfd, int fd, void *tag)
{
    /* edge-triggered: each source is drained until EAGAIN */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = tag};

    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        hp_die("epoll_ctl ADD fd %d", fd);
}

void
echo_start_child(void)
{
    fflush(stdout); /* the child must not print our buffer again */
    pid_t pid = fork();
    if (pid < 0) {
        hp_warn("fork");
        return;
    }
    if (pid == 0) {
        /* it holds a copy of every descriptor (the listener, the
         * connections, the signal source) and, under signalfd, the
         * blocked mask, harmless since it runs nothing: drop and go */
        close_range(3, ~0U, 0);
        _exit(CHILD_EXIT_STATUS);
    }
    printf("  started child %d; it exits at once\n", (int)pid);
}

void
echo_reap_children(void)
{
    int status, reaped = 0;
    pid_t pid;

    /* one SIGCHLD may stand for several children: reap until none is
     * left that has exited (0) or none is left at all (ECHILD) */
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        reaped++;
        if (WIFEXITED(status))
            printf("  reaped child %d: exit %d\n", (int)pid,
                   WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            printf("  reaped child %d: killed by signal %d\n", (int)pid,
                   WTERMSIG(status));
    }
    if (pid < 0 && errno != ECHILD)
        hp_warn("waitpid");
    if (reaped == 0)
        printf("  no exited child to reap\n");
}
