/*
 * signalfd_server.c - Listing 10-1 again, the Linux way: signals reach the
 * epoll loop through a signalfd instead of handlers and a self-pipe.
 *
 * Usage:   signalfd_server [-r] IP PORT
 *
 * Shows:   SIGHUP, SIGCHLD, SIGTERM and SIGINT are blocked with
 *          sigprocmask first, so none is ever delivered the classic way;
 *          they stay pending, and signalfd() turns "pending" into
 *          "readable".  The signalfd sits in the epoll set beside the
 *          listener and the connections; each read() returns one struct
 *          signalfd_siginfo per pending signal, with the sender's pid
 *          (kill) or the child's pid (SIGCHLD).  The loop then does exactly
 *          what signal_pipe_server does: reports SIGHUP (with -r forks a
 *          child that exits at once), reaps children on SIGCHLD, stops on
 *          SIGTERM and SIGINT, closing everything, exit 0; connections are
 *          echoed meanwhile.
 *
 * Look at: no handler runs, so nothing is async-signal-unsafe, no errno
 *          needs saving, no byte can be dropped, and these signals never
 *          interrupt epoll_wait (no EINTR lines, unlike signal_pipe_server;
 *          only a stop and SIGCONT still cause one, see signal(7)): under
 *          `strace -f` a signal shows only as a read() of 128 bytes from
 *          the signalfd.  Blocking is the price: signals stay blocked in
 *          every child and survive exec, so a child that runs a program
 *          must unblock them first.  Standard signals still do not queue:
 *          several SIGHUPs pending at once are read as one.
 *
 * Peer:    any TCP client (nc 127.0.0.1 PORT), and kill -HUP / -CHLD /
 *          -TERM / -INT PID.
 *
 * Differs from the printed listing:
 *  - signals come from a signalfd, not a handler and a socketpair (see
 *    signal_pipe_server.c): the Linux answer to the unified event source;
 *  - connections are served as in signal_pipe_server (echoed, drained
 *    until EAGAIN, closed).
 */
#define _GNU_SOURCE
#include "echo_conns.h"
#include "hpsp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-r] IP PORT";
static const char HELP[] =
    "Echo TCP connections on IP:PORT (PORT 0: the kernel picks; announced)\n"
    "and report SIGHUP, SIGCHLD, SIGTERM and SIGINT from the same epoll\n"
    "loop: the signals are blocked and read from a signalfd.\n"
    "SIGTERM or SIGINT closes everything and exits 0.\n"
    "  -r  on SIGHUP, fork a child that exits at once (SIGCHLD follows)\n";

enum { LISTEN_BACKLOG = 5 };
enum { MAX_EVENTS = 64 };       /* events taken per epoll_wait */
enum { SIGINFO_BATCH = 16 };    /* signals taken per read */

/* The signals the loop serves. */
static const int handled[] = {SIGHUP, SIGCHLD, SIGTERM, SIGINT};

/* Tags for the epoll sources that are not connections. */
static char listener_tag, signalfd_tag;

/* Act on one signal read from the signalfd; the stop signal, or 0. */
static int
serve_signal(const struct signalfd_siginfo *si, int fork_on_hup)
{
    int sig = (int)si->ssi_signo;

    /* the whole siginfo comes along: who sent it, and why */
    printf("signal %d (SIG%s) from pid %u: ", sig, sigabbrev_np(sig),
           si->ssi_pid);
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

/* Read every pending signal from the signalfd; the stop signal, or 0. */
static int
drain_signals(int sfd, int fork_on_hup)
{
    struct signalfd_siginfo si[SIGINFO_BATCH];
    int stop = 0;

    for (;;) {
        /* whole structures only: the kernel never splits one */
        ssize_t n = read(sfd, si, sizeof si);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return stop;
        if (n < 0)
            hp_die("read signalfd");
        for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
            int s = serve_signal(&si[i], fork_on_hup);
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
    sigset_t mask;
    int opt, fork_on_hup = 0, stop = 0;

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

    /* Block first: a signal that came between this and signalfd() would
     * otherwise take its default action (SIGTERM, SIGINT, SIGHUP kill). */
    sigemptyset(&mask);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
        sigaddset(&mask, handled[i]);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        hp_die("sigprocmask");
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        hp_die("signalfd");

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
    echo_watch(epfd, sfd, &signalfd_tag);
    printf("signalfd: fd %d, for SIGHUP SIGCHLD SIGTERM SIGINT (blocked)\n",
           sfd);

    echo_init(&conns, epfd);
    while (!stop) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            /* not one of ours: they are blocked.  But a stop (SIGSTOP,
             * ^Z) and SIGCONT make epoll_wait fail with EINTR even with
             * no handler anywhere (signal(7)), so expect it all the same */
            if (errno != EINTR)
                hp_die("epoll_wait");
            printf("epoll_wait: interrupted by a signal (EINTR)\n");
            continue;
        }
        for (int i = 0; i < n; i++) {
            void *src = events[i].data.ptr;
            if (src == &signalfd_tag) {
                int s = drain_signals(sfd, fork_on_hup);
                if (s)
                    stop = s;
            } else if (src == &listener_tag) {
                echo_accept_all(&conns, lfd);
            } else {
                echo_serve(&conns, src);
            }
        }
    }

    int open_conns = echo_close_all(&conns);
    printf("closing %d connection(s), the listener, the signalfd and "
           "epoll; exit 0\n",
           open_conns);
    close(sfd);
    close(lfd);
    close(epfd);
    return 0;
}
