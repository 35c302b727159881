/*
 * nonblock_connect.c - Listing 9-5: connect() with a timeout, through a
 * non-blocking socket and select().
 *
 * Usage:   nonblock_connect [-t TIME] IP PORT
 *
 * Shows:   the socket is made non-blocking, so connect() returns at once
 *          with EINPROGRESS while the handshake goes on.  select() then
 *          waits for the socket to become writable, for at most TIME
 *          (-t, default 10s).  Writable means the handshake is over, well or
 *          badly: getsockopt(SO_ERROR) says which.  Then the socket is made
 *          blocking again, as the book does before handing it back.
 *
 * Look at: three outcomes.  A listening port: "connected" after select.  A
 *          closed port: ECONNREFUSED within milliseconds (the RST comes
 *          back at once).  A listener whose accept queue is full (backlog
 *          0 and one connection waiting): the kernel drops the SYN, the
 *          client retransmits it, and select gives up after TIME.  On
 *          Linux even a loopback connect returns EINPROGRESS, so the book's
 *          "connected at once" branch does not run.
 *
 * Peer:    any listener; the test uses its own (accepting, closed, full).
 *
 * Differs from the printed listing:
 *  - FD_ZERO clears the write set that is used (the book clears the read
 *    set and passes an uninitialised write set);
 *  - socket() is checked; an fd >= FD_SETSIZE is refused before FD_SET;
 *  - a connect() that fails at once (ENETUNREACH) is reported and the
 *    socket closed (the book leaks it and says "not supported");
 *  - errors are printed as text, with the elapsed time; exit 0 only when
 *    connected;
 *  - -t takes any duration (250ms, 1.5s), not only whole seconds.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-t TIME] IP PORT";
static const char HELP[] =
    "Connect to IP:PORT without blocking, and give up after TIME: 250ms,\n"
    "2s, 1.5 (default 10s).  Exit 0 when connected, 1 otherwise.\n";

#define DEFAULT_TIMEOUT_MS 10000LL
#define MAX_TIMEOUT_MS (24LL * 3600 * 1000)

static struct timespec start;

static double
elapsed(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start.tv_sec) +
           (now.tv_nsec - start.tv_nsec) / 1e9;
}

static const char *
errname(int err)
{
    const char *name = strerrorname_np(err);
    return name ? name : "?";
}

static int
setnonblocking(int fd)
{
    int old_option = fcntl(fd, F_GETFL);
    if (old_option < 0 || fcntl(fd, F_SETFL, old_option | O_NONBLOCK) < 0)
        return -1;
    return old_option;
}

/* Connect to ADDR within TIME_MS milliseconds.  Returns the connected
 * socket, in blocking mode again, or -1 after saying why not. */
static int
unblock_connect(const struct sockaddr_in *addr, const char *text,
                long long time_ms)
{
    int sockfd, fdopt, ret, error = 0;
    socklen_t length = sizeof error;
    fd_set writefds;
    struct timeval timeout;

    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0)
        hp_die("socket");
    /* FD_SET on an fd >= FD_SETSIZE writes past the end of the fd_set. */
    if (sockfd >= FD_SETSIZE) {
        printf("fd %d is too large for select() (FD_SETSIZE is %d)\n", sockfd,
               FD_SETSIZE);
        close(sockfd);
        return -1;
    }
    fdopt = setnonblocking(sockfd);
    if (fdopt < 0)
        hp_die("fcntl O_NONBLOCK");

    clock_gettime(CLOCK_MONOTONIC, &start);
    ret = connect(sockfd, (const struct sockaddr *)addr, sizeof *addr);
    if (ret == 0) {
        /* the book's first branch: never taken for TCP on Linux */
        printf("connected to %s at once\n", text);
        if (fcntl(sockfd, F_SETFL, fdopt) < 0)
            hp_die("fcntl restore");
        return sockfd;
    }
    if (errno != EINPROGRESS) {
        printf("connect failed at once: %s (%s)\n", strerror(errno),
               errname(errno));
        close(sockfd); /* the book leaked it here */
        return -1;
    }
    if (time_ms % 1000 == 0)
        printf("connect: in progress (EINPROGRESS), waiting up to %lld s\n",
               time_ms / 1000);
    else
        printf("connect: in progress (EINPROGRESS), waiting up to %lld ms\n",
               time_ms);

    FD_ZERO(&writefds); /* the set we use, not the read set */
    FD_SET(sockfd, &writefds);
    timeout.tv_sec = (time_t)(time_ms / 1000);
    timeout.tv_usec = (suseconds_t)(time_ms % 1000) * 1000;
    /* Linux leaves the time not slept in TIMEOUT: a retry waits the rest. */
    do {
        ret = select(sockfd + 1, NULL, &writefds, NULL, &timeout);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0)
        hp_die("select");
    if (ret == 0) {
        printf("connection timed out after %.3f s\n", elapsed());
        close(sockfd);
        return -1;
    }
    if (!FD_ISSET(sockfd, &writefds)) {
        printf("select returned, but the socket is not writable\n");
        close(sockfd);
        return -1;
    }
    /* Writable: the handshake is over.  SO_ERROR says how it went. */
    if (getsockopt(sockfd, SOL_SOCKET, SO_ERROR, &error, &length) < 0)
        hp_die("getsockopt SO_ERROR");
    if (error != 0) {
        printf("connection failed after %.3f s: %s (%s)\n", elapsed(),
               strerror(error), errname(error));
        close(sockfd);
        return -1;
    }
    printf("connected to %s after %.3f s\n", text, elapsed());
    if (fcntl(sockfd, F_SETFL, fdopt) < 0)
        hp_die("fcntl restore");
    return sockfd;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    long long timeout_ms = DEFAULT_TIMEOUT_MS;
    int opt, sockfd;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+ht:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 't':
            timeout_ms =
                hp_parse_duration(optarg, 0, MAX_TIMEOUT_MS, "timeout");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    sockfd = unblock_connect(&addr, addr_text, timeout_ms);
    if (sockfd < 0)
        return 1;
    close(sockfd);
    return 0;
}
