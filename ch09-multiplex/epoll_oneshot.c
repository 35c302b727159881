/*
 * epoll_oneshot.c - Listing 9-4: EPOLLONESHOT, so that one thread at a time
 * serves a connection.
 *
 * Usage:   epoll_oneshot [-n] [-w TIME] IP PORT
 *
 * Shows:   an edge-triggered epoll server that hands every readable
 *          connection to a new worker thread.  The worker reads until
 *          EAGAIN, "processing" each chunk for TIME (-w, default 5s, the
 *          book's sleep(5)), then re-arms the fd with
 *          EPOLL_CTL_MOD and ends.  EPOLLONESHOT disarms the fd after each
 *          report, so no second worker can start on it while the first is
 *          busy, however much more data arrives.  -n registers without
 *          EPOLLONESHOT, to see what goes wrong then.
 *
 * Look at: "worker K: start on fd N" / "worker K: end on fd N" lines.  Send
 *          "a", then "b" and "c" while the worker sleeps: one worker reads
 *          "a" then "bc", and no other worker starts on that fd before it
 *          ends.  Two clients are served at the same time by two workers.
 *          With -n a second worker starts on the same fd as soon as "b"
 *          arrives, while the first is still busy with it.
 *
 * Peer:    any TCP clients (nc; the test drives 8 at once).
 *
 * Differs from the printed listing:
 *  - each thread gets its own heap copy of {epoll fd, socket} (the book
 *    passes a struct local to the loop, which the next event overwrites);
 *  - workers return a value and are joined: finished ones after each
 *    wake-up, all at exit (SIGINT/SIGTERM wake them from their work; exit 0);
 *  - a recv() error other than EAGAIN closes the connection (the book loops);
 *  - data is printed by length (the book relies on clearing its buffer);
 *  - the listener is level-triggered (the book's ET listener accepts once
 *    per wake-up);
 *  - -w and -n are new; with -n the last worker on a connection closes it,
 *    so no worker's close can hit a descriptor accept() has handed on.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-n] [-w TIME] IP PORT";
static const char HELP[] =
    "An ET epoll server: each readable connection goes to a new thread,\n"
    "which reads until EAGAIN, spending TIME on each chunk, then re-arms\n"
    "the fd (EPOLL_CTL_MOD).\n"
    "  -w TIME  work time per chunk: 250ms, 2s, 1.5 (default 5s, the\n"
    "           book's sleep(5))\n"
    "  -n       no EPOLLONESHOT: two threads may serve one connection\n"
    "PORT 0 lets the kernel choose; the port is announced.\n";

enum { MAX_EVENT_NUMBER = 1024 };
enum { BUFFER_SIZE = 1024 };
enum { LISTEN_BACKLOG = 5 };
enum { DEFAULT_WORK_MS = 5000, MAX_WORK_MS = 3600 * 1000 };

/* What a worker gets: the book's struct fds, as a heap copy of its own. */
struct worker {
    int epollfd;
    int sockfd;
    int id;
    pthread_t tid;
    atomic_int done; /* set by the worker as its last act */
    struct worker *next;
};

static volatile sig_atomic_t stop_signal;
static long work_ms = DEFAULT_WORK_MS;
static int use_oneshot = 1;
static int stop_fd = -1; /* eventfd, readable once we are stopping */

/*
 * Connections still open, indexed by fd (sized from RLIMIT_NOFILE), under
 * conn_lock.  With -n several workers may hold one fd; the one that sees
 * end of file only marks it closing, and the last worker to leave closes
 * it.  Closed any earlier, the number could be handed to the next
 * accepted client while a busy worker still means the old connection, and
 * that worker's recv() or close() would land on the new one.  The main
 * thread closes what is left at exit.
 */
struct conn {
    unsigned char open;
    unsigned char closing; /* end of file or an error seen: no new worker */
    int workers;           /* workers running on it */
};
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;
static size_t conn_max;

static int
setnonblocking(int fd)
{
    int old_option = fcntl(fd, F_GETFL);
    if (old_option < 0 || fcntl(fd, F_SETFL, old_option | O_NONBLOCK) < 0)
        return -1;
    return old_option;
}

/* Watch FD edge-triggered, and with EPOLLONESHOT if ONESHOT. */
static void
addfd(int epollfd, int fd, int oneshot)
{
    struct epoll_event event;

    memset(&event, 0, sizeof event);
    event.data.fd = fd;
    event.events = EPOLLIN | EPOLLET;
    if (oneshot)
        event.events |= EPOLLONESHOT;
    if (epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &event) < 0)
        hp_die("epoll_ctl ADD fd %d", fd);
    if (setnonblocking(fd) < 0)
        hp_die("fcntl O_NONBLOCK fd %d", fd);
}

/*
 * Arm FD again.  MOD looks at the fd's state now: data that came after
 * our EAGAIN and before this call is reported, not lost.  Done under
 * conn_lock, which the main thread takes before it starts the next worker
 * on FD: the kernel already orders the two, the lock makes that order
 * visible to ThreadSanitizer too.
 */
static void
reset_oneshot(int epollfd, int fd)
{
    struct epoll_event event;

    memset(&event, 0, sizeof event);
    event.data.fd = fd;
    event.events = EPOLLIN | EPOLLET | EPOLLONESHOT;
    pthread_mutex_lock(&conn_lock);
    if (epoll_ctl(epollfd, EPOLL_CTL_MOD, fd, &event) < 0)
        hp_warn("epoll_ctl MOD fd %d", fd);
    pthread_mutex_unlock(&conn_lock);
}

/*
 * Worker ID leaves FD.  WHY (NULL: it did not see the end) says how the
 * connection ended; its "end" line is printed here, before any close: once
 * closed, the number may be a new client's, with its own "start" line.
 */
static void
conn_leave(int id, int fd, const char *why)
{
    pthread_mutex_lock(&conn_lock);
    if (why != NULL)
        conns[fd].closing = 1;
    int last = --conns[fd].workers == 0 && conns[fd].closing;
    if (why != NULL)
        printf("worker %d: end on fd %d (%s, %s)\n", id, fd, why,
               last ? "closing" : "left to a busy worker");
    if (last) {
        conns[fd].open = 0;
        close(fd);
    }
    pthread_mutex_unlock(&conn_lock);
}

/* The book's sleep(5), the "processing": wait MS ms, or less if the
 * program is stopping.  Returns 1 when it is. */
static int
work(void)
{
    struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};

    return poll(&pfd, 1, (int)work_ms) > 0;
}

static void *
worker(void *arg)
{
    struct worker *w = arg;
    int sockfd = w->sockfd;
    char buf[BUFFER_SIZE], text[HP_QUOTED_SIZE(BUFFER_SIZE)];
    const char *why;

    printf("worker %d: start on fd %d\n", w->id, sockfd);
    for (;;) {
        ssize_t ret = recv(sockfd, buf, sizeof buf, 0);
        if (ret > 0) {
            hp_quote(text, sizeof text, buf, (size_t)ret);
            printf("worker %d: fd %d: read %zd bytes: %s\n", w->id, sockfd,
                   ret, text);
            if (work()) {
                printf("worker %d: end on fd %d (stopping)\n", w->id, sockfd);
                conn_leave(w->id, sockfd, NULL);
                break;
            }
            continue;
        }
        if (ret < 0 && errno == EINTR)
            continue;
        if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* "end" and leaving go first: once re-armed, another worker
             * may start on the fd (and may be the last one on it) */
            printf("worker %d: end on fd %d (read later)\n", w->id, sockfd);
            conn_leave(w->id, sockfd, NULL);
            if (use_oneshot)
                reset_oneshot(w->epollfd, sockfd);
            break;
        }
        if (ret == 0) {
            why = "peer closed";
        } else {
            const char *name = strerrorname_np(errno);
            printf("worker %d: fd %d: recv failed: %s (%s)\n", w->id, sockfd,
                   strerror(errno), name ? name : "?");
            why = "error";
        }
        conn_leave(w->id, sockfd, why);
        break;
    }
    atomic_store(&w->done, 1);
    return NULL;
}

static struct worker *workers; /* started, not yet joined (main only) */
static int workers_started;

static void
start_worker(int epollfd, int sockfd)
{
    struct worker *w;
    int err, wanted;

    /* With -n a worker may have seen the end of the connection, or closed
     * it, since epoll reported it: no new worker then. */
    pthread_mutex_lock(&conn_lock);
    wanted = conns[sockfd].open && !conns[sockfd].closing;
    if (wanted)
        conns[sockfd].workers++;
    pthread_mutex_unlock(&conn_lock);
    if (!wanted)
        return;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        hp_die("calloc");
    w->epollfd = epollfd;
    w->sockfd = sockfd;
    w->id = ++workers_started;
    atomic_init(&w->done, 0);
    err = pthread_create(&w->tid, NULL, worker, w);
    if (err != 0)
        hp_die_en(err, "pthread_create");
    w->next = workers;
    workers = w;
}

/* Join the workers that are done, or all of them if ALL.  Returns how
 * many were joined. */
static int
join_workers(int all)
{
    struct worker **pp = &workers;
    int joined = 0;

    while (*pp != NULL) {
        struct worker *w = *pp;
        if (!all && !atomic_load(&w->done)) {
            pp = &w->next;
            continue;
        }
        int err = pthread_join(w->tid, NULL);
        if (err != 0)
            hp_die_en(err, "pthread_join");
        *pp = w->next;
        free(w);
        joined++;
    }
    return joined;
}

/* The listener is level-triggered: one accept per report is enough. */
static void
accept_conn(int epollfd, int listenfd)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    char text[HP_ADDRSTRLEN];
    int conn = accept(listenfd, (struct sockaddr *)&peer, &len);

    if (conn < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
            return;
        hp_die("accept");
    }
    if ((size_t)conn >= conn_max)
        hp_diex("fd %d is beyond RLIMIT_NOFILE", conn);
    pthread_mutex_lock(&conn_lock);
    conns[conn] = (struct conn){.open = 1};
    pthread_mutex_unlock(&conn_lock);
    printf("accepted fd %d from %s\n", conn,
           hp_addr_str((struct sockaddr *)&peer, text, sizeof text));
    addfd(epollfd, conn, use_oneshot);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    struct epoll_event events[MAX_EVENT_NUMBER], ev;
    struct rlimit rl;
    sigset_t wait_mask;
    uint64_t one = 1;
    int opt, listenfd, epollfd, joined;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hnw:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'n':
            use_oneshot = 0;
            break;
        case 'w':
            work_ms = (long)hp_parse_duration(optarg, 0, MAX_WORK_MS,
                                              "work time");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        hp_die("getrlimit");
    conn_max = rl.rlim_cur;
    conns = calloc(conn_max, sizeof *conns);
    if (conns == NULL)
        hp_die("calloc");

    /* Blocked before any thread exists, so the workers inherit the mask
     * and the stop signals reach the main thread, inside epoll_pwait. */
    if (hp_block_term(&stop_signal, &wait_mask) < 0)
        hp_die("blocking SIGINT and SIGTERM");

    listenfd = hp_tcp_listener(&addr, LISTEN_BACKLOG, SOCK_NONBLOCK);
    if (listenfd < 0)
        hp_die("listen on %s", addr_text);
    epollfd = epoll_create1(EPOLL_CLOEXEC);
    if (epollfd < 0)
        hp_die("epoll_create1");
    stop_fd = eventfd(0, EFD_CLOEXEC);
    if (stop_fd < 0)
        hp_die("eventfd");
    memset(&ev, 0, sizeof ev);
    ev.data.fd = listenfd;
    ev.events = EPOLLIN; /* level-triggered, never one-shot */
    if (epoll_ctl(epollfd, EPOLL_CTL_ADD, listenfd, &ev) < 0)
        hp_die("epoll_ctl ADD listener");
    printf("EPOLLONESHOT %s, work time %ld ms per chunk\n",
           use_oneshot ? "on" : "off (-n)", work_ms);
    if (hp_announce_listener(listenfd) < 0)
        hp_die("getsockname");

    while (!stop_signal) {
        int ret =
            epoll_pwait(epollfd, events, MAX_EVENT_NUMBER, -1, &wait_mask);
        if (ret < 0) {
            if (errno == EINTR)
                continue;
            hp_die("epoll_wait");
        }
        for (int i = 0; i < ret; i++) {
            if (events[i].data.fd == listenfd)
                accept_conn(epollfd, listenfd);
            else
                start_worker(epollfd, events[i].data.fd);
        }
        join_workers(0);
    }

    /* Wake the workers from their work, wait for every one of them, then
     * close what they left open. */
    if (write(stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
        hp_die("write eventfd");
    joined = join_workers(1);
    printf("stopped by signal %d: joined %d worker(s)\n", (int)stop_signal,
           joined);
    for (size_t fd = 0; fd < conn_max; fd++)
        if (conns[fd].open)
            close((int)fd);
    free(conns);
    close(stop_fd);
    close(epollfd);
    close(listenfd);
    return 0;
}
