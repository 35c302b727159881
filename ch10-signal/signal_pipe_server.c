/*
 * signal_pipe_server.c - Listing 10-1: unified event source.  Signal
 * handlers write the signal number into a pipe that sits in the epoll set
 * beside the sockets, so one loop serves I/O and signals.
 *
 * Usage:   signal_pipe_server [-r] IP PORT
 *
 * Shows:   the handlers for SIGHUP, SIGCHLD, SIGTERM and SIGINT do the one
 *          thing that is safe in a handler: write(2) one byte, the signal
 *          number, into a non-blocking socketpair.  Its read end is in the
 *          epoll set with the listener and the connections, and the loop
 *          acts on the numbers outside any handler, where printf, waitpid
 *          and close are all fine.  SIGHUP is reported (nothing to reload;
 *          with -r it forks a child that exits at once, as a server
 *          restarting its workers would), SIGCHLD reaps every exited child
 *          with a waitpid(WNOHANG) loop, SIGTERM and SIGINT end the loop:
 *          the server closes every descriptor and exits 0.  Connections
 *          are echoed meanwhile.
 *
 * Look at: "epoll_wait: interrupted" lines: a handler that runs while the
 *          loop waits makes epoll_wait fail with EINTR even though the
 *          handlers are installed with SA_RESTART (epoll_wait is never
 *          restarted), and the loop must simply wait again; the byte is in
 *          the pipe by then.  Under `strace -f` each signal shows as
 *          "--- SIGHUP ---", one write of one byte, rt_sigreturn, then a
 *          read of the pipe.  Standard signals do not queue: two SIGHUPs
 *          sent while the process cannot run arrive as one, so count kinds,
 *          not signals.  Compare signalfd_server: the same loop, no
 *          handler at all.
 *
 * Peer:    any TCP client (nc 127.0.0.1 PORT), and kill -HUP / -CHLD /
 *          -TERM / -INT PID.
 *
 * Differs from the printed listing:
 *  - the handler writes one byte that holds the signal number (the book
 *    sends an int's first byte: 0 on big-endian hosts) and restores errno;
 *  - both ends of the socketpair are non-blocking and close-on-exec;
 *  - a full pipe (about 280 one-byte writes in a socketpair) drops the
 *    byte rather than block in the handler; SIGTERM and SIGINT also set a
 *    flag, so a stop whose byte was dropped still stops the loop;
 *  - accepted sockets are read, echoed and closed (the book never touches
 *    them again, leaking one fd per client); the listener is accepted
 *    until EAGAIN;
 *  - SIGCHLD really reaps; sigaction failures exit with a message (the
 *    book asserts); -r is new.
 */
#define _GNU_SOURCE
#include "echo_conns.h"
#include "hpsp.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-r] IP PORT";
static const char HELP[] =
    "Echo TCP connections on IP:PORT (PORT 0: the kernel picks; announced)\n"
    "and report SIGHUP, SIGCHLD, SIGTERM and SIGINT from the same epoll\n"
    "loop: the handlers write the signal number into a socketpair.\n"
    "SIGTERM or SIGINT closes everything and exits 0.\n"
    "  -r  on SIGHUP, fork a child that exits at once (SIGCHLD follows)\n";

enum { LISTEN_BACKLOG = 5 };
enum { MAX_EVENTS = 64 };       /* events taken per epoll_wait */
enum { SIGNAL_BATCH = 64 };     /* signal bytes taken per read */

/* The signals the loop serves. */
static const int handled[] = {SIGHUP, SIGCHLD, SIGTERM, SIGINT};

/* The handlers' end of the socketpair; -1 once it is closed. */
static volatile sig_atomic_t signal_pipe_wr = -1;
/* SIGTERM or SIGINT came, set by the handler beside its byte: a byte the
 * full pipe refused would otherwise lose the request to stop. */
static volatile sig_atomic_t stop_requested;

/* Tags for the epoll sources that are not connections. */
static char listener_tag, signal_pipe_tag;

/*
 * The handler: one byte, the signal number, into the pipe.  write(2) is
 * async-signal-safe; it may change errno, which the interrupted code may
 * be about to read, so errno is put back.  The write end is non-blocking:
 * when the pipe is full (EAGAIN) this signal is dropped rather than the
 * process blocked inside a handler; a stop signal is kept in a flag too.
 */
static void
on_signal(int sig)
{
    int saved_errno = errno;
    unsigned char number = (unsigned char)sig; /* every one fits: < 32 */

    if (sig == SIGTERM || sig == SIGINT)
        stop_requested = sig;
    if (write(signal_pipe_wr, &number, 1) < 0) {
        /* full (or closed at shutdown): this byte is lost */
    }
    errno = saved_errno;
}

static void
catch_signal(int sig)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* SA_RESTART, as in the book: calls a handler interrupts are resumed
     * (nothing here depends on EINTR to notice a signal: the pipe says
     * it).  epoll_wait ignores SA_RESTART and fails with EINTR anyway. */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0)
        hp_die("sigaction %s", sigabbrev_np(sig));
}

/* Act on one signal number from the pipe; the stop signal, or 0. */
static int
serve_signal(int sig, int fork_on_hup)
{
    printf("signal %d (SIG%s): ", sig, sigabbrev_np(sig));
    switch (sig) {
    case SIGHUP:
        printf("reload requested; nothing to reload, still serving\n");
        if (fork_on_hup)
            echo_start_child();
        return 0;
    case SIGCHLD:
        printf("reaping with waitpid(WNOHANG)\n");
        echo_reap_children();
        return 0;
    case SIGTERM:
    case SIGINT:
        printf("stopping\n");
        return sig;
    default:
        printf("not expected here, ignored\n");
        return 0;
    }
}

/* Read every signal number waiting in the pipe; the stop signal, or 0. */
static int
drain_signals(int fd, int fork_on_hup)
{
    unsigned char numbers[SIGNAL_BATCH];
    int stop = 0;

    for (;;) {
        ssize_t n = read(fd, numbers, sizeof numbers);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return stop;
        if (n < 0)
            hp_die("read signal pipe");
        if (n == 0)
            hp_diex("signal pipe: unexpected end of file");
        for (ssize_t i = 0; i < n; i++) {
            int s = serve_signal(numbers[i], fork_on_hup);
            if (s)
                stop = s;
        }
    }
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    struct epoll_event events[MAX_EVENTS];
    struct echo_set conns;
    int opt, fork_on_hup = 0, stop = 0;
    int pipefd[2];

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hr")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'r':
            fork_on_hup = 1;
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

    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        hp_die("epoll_create1");
    echo_watch(epfd, lfd, &listener_tag);

    /* The self-pipe: [1] for the handlers, [0] for the loop.  Both
     * non-blocking: the handler must never block, the loop drains [0]
     * until EAGAIN.  Close-on-exec: no program we might run inherits it. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   pipefd) < 0)
        hp_die("socketpair");
    signal_pipe_wr = pipefd[1];
    echo_watch(epfd, pipefd[0], &signal_pipe_tag);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
        catch_signal(handled[i]);
    printf("signal pipe: handlers write to fd %d, the loop reads fd %d\n",
           pipefd[1], pipefd[0]);

    echo_init(&conns, epfd);
    while (!stop) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno != EINTR)
                hp_die("epoll_wait");
            /* a handler ran while we waited; its byte is in the pipe */
            printf("epoll_wait: interrupted by a signal (EINTR)\n");
            n = 0;
        }
        for (int i = 0; i < n; i++) {
            void *src = events[i].data.ptr;
            if (src == &signal_pipe_tag) {
                int s = drain_signals(pipefd[0], fork_on_hup);
                if (s)
                    stop = s;
            } else if (src == &listener_tag) {
                echo_accept_all(&conns, lfd);
            } else {
                echo_serve(&conns, src);
            }
        }
        if (!stop && stop_requested) {
            /* its byte, if the pipe took it, comes first */
            stop = drain_signals(pipefd[0], fork_on_hup);
            if (!stop) {
                stop = stop_requested;
                printf("signal %d (SIG%s): stopping (its byte was dropped: "
                       "the signal pipe was full)\n",
                       stop, sigabbrev_np(stop));
            }
        }
    }

    int open_conns = echo_close_all(&conns);
    printf("closing %d connection(s), the listener, the signal pipe and "
           "epoll; exit 0\n",
           open_conns);
    signal_pipe_wr = -1; /* a late signal now writes nowhere */
    close(pipefd[1]);
    close(pipefd[0]);
    close(lfd);
    close(epfd);
    return 0;
}
