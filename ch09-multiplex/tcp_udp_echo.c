/*
 * tcp_udp_echo.c - Listing 9-8: one epoll loop serves TCP and UDP on the
 * same port.
 *
 * Usage:   tcp_udp_echo IP PORT
 *
 * Shows:   a TCP listening socket and a UDP socket bound to the same port
 *          number (TCP and UDP ports are separate name spaces), both in one
 *          epoll set.  TCP connections are echoed (edge-triggered, read
 *          until EAGAIN); each UDP datagram is sent back to its sender.
 *
 * Look at: `ss -tuln sport = :PORT`: a tcp LISTEN and a udp UNCONN socket,
 *          one process.  `nc IP PORT` and `nc -u IP PORT` both echo.
 *
 * Peer:    any TCP or UDP client (nc, nc -u; the test uses both).
 *
 * Differs from the printed listing:
 *  - a UDP reply is exactly the datagram received (the book sends all
 *    1023 bytes of its buffer, zero padding and all);
 *  - TCP: a 0-byte read closes the fd once and leaves the loop (the book
 *    reads the closed fd again and closes it twice);
 *  - what a slow TCP client cannot take yet waits for EPOLLOUT (the book
 *    drops it);
 *  - with port 0, a UDP bind refused (EADDRINUSE) on the TCP port's number
 *    makes it try another port pair;
 *  - accept() is checked; SIGINT/SIGTERM close everything and exit 0
 *    (epoll_pwait unblocks them only while it waits).
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT";
static const char HELP[] =
    "Echo TCP connections and UDP datagrams on the same IP:PORT, in one\n"
    "epoll loop.  PORT 0: the kernel picks a port free for both.\n";

enum { MAX_EVENT_NUMBER = 1024 };
enum { TCP_BUFFER_SIZE = 512 };
enum { UDP_BUFFER_SIZE = 65536 }; /* larger than any UDP datagram */
enum { LISTEN_BACKLOG = 5 };
enum { PORT_TRIES = 16 };

/* What an epoll event points at: the listener, the UDP socket, or one TCP
 * connection with the bytes it still has to echo. */
struct endpoint {
    enum { LISTENER, UDP, TCP } kind;
    int fd;
    char buf[TCP_BUFFER_SIZE];
    size_t start, end; /* buf[start .. end) not yet sent back */
    struct endpoint *prev, *next;
};

static volatile sig_atomic_t stop_signal;
static struct endpoint listener, udp;
static struct endpoint *conns; /* open TCP connections */

static int
setnonblocking(int fd)
{
    int old_option = fcntl(fd, F_GETFL);
    if (old_option < 0 || fcntl(fd, F_SETFL, old_option | O_NONBLOCK) < 0)
        return -1;
    return old_option;
}

/* Watch EP's fd for EVENTS; make it non-blocking. */
static void
addfd(int epollfd, struct endpoint *ep, unsigned events)
{
    struct epoll_event event;

    memset(&event, 0, sizeof event);
    event.data.ptr = ep;
    event.events = events;
    if (epoll_ctl(epollfd, EPOLL_CTL_ADD, ep->fd, &event) < 0)
        hp_die("epoll_ctl ADD fd %d", ep->fd);
    if (setnonblocking(ep->fd) < 0)
        hp_die("fcntl O_NONBLOCK fd %d", ep->fd);
}

/*
 * A TCP listener and a UDP socket on the same port of ADDR.  With port 0
 * the TCP port comes first; if UDP has that port already, keep the TCP
 * socket (so the kernel cannot hand out the same port again) and try
 * another.
 */
static void
bind_both(const struct sockaddr_in *addr, const char *addr_text)
{
    int held[PORT_TRIES], nheld = 0, one = 1;

    for (int attempt = 0; attempt < PORT_TRIES; attempt++) {
        struct sockaddr_in bound = *addr;
        socklen_t len = sizeof bound;
        int tcpfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (tcpfd < 0)
            hp_die("socket tcp");
        if (setsockopt(tcpfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            hp_die("setsockopt SO_REUSEADDR");
        if (bind(tcpfd, (const struct sockaddr *)addr, sizeof *addr) < 0)
            hp_die("bind tcp %s", addr_text);
        if (listen(tcpfd, LISTEN_BACKLOG) < 0)
            hp_die("listen");
        if (getsockname(tcpfd, (struct sockaddr *)&bound, &len) < 0)
            hp_die("getsockname");

        int udpfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (udpfd < 0)
            hp_die("socket udp");
        if (bind(udpfd, (struct sockaddr *)&bound, sizeof bound) == 0) {
            while (nheld > 0)
                close(held[--nheld]);
            listener.kind = LISTENER;
            listener.fd = tcpfd;
            udp.kind = UDP;
            udp.fd = udpfd;
            return;
        }
        if (addr->sin_port != 0 || errno != EADDRINUSE)
            hp_die("bind udp port %u", (unsigned)ntohs(bound.sin_port));
        printf("udp port %u is taken: trying another port\n",
               (unsigned)ntohs(bound.sin_port));
        close(udpfd);
        held[nheld++] = tcpfd;
    }
    hp_diex("no port free for both tcp and udp after %d tries", PORT_TRIES);
}

static void
accept_conn(int epollfd)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    char text[HP_ADDRSTRLEN];
    int connfd = accept(listener.fd, (struct sockaddr *)&peer, &len);

    if (connfd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
            return;
        hp_die("accept");
    }
    struct endpoint *c = calloc(1, sizeof *c);
    if (c == NULL)
        hp_die("calloc");
    c->kind = TCP;
    c->fd = connfd;
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    printf("tcp: accepted fd %d from %s\n", connfd,
           hp_addr_str((struct sockaddr *)&peer, text, sizeof text));
    /* EPOLLOUT too: what the client could not take yet goes when it can */
    addfd(epollfd, c, EPOLLIN | EPOLLOUT | EPOLLET);
}

static void
close_conn(struct endpoint *c, const char *why)
{
    printf("tcp fd %d: %s, closing\n", c->fd, why);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/*
 * Edge-triggered: echo until recv() or send() says EAGAIN; the next edge
 * (more data, or room to send) brings us back.  Returns 0 when the
 * connection is over; the caller closes it, once.
 */
static int
echo_tcp(struct endpoint *c)
{
    for (;;) {
        if (c->start < c->end) {
            ssize_t n =
                send(c->fd, c->buf + c->start, c->end - c->start, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return 1;
            if (n < 0) {
                hp_warn("send fd %d", c->fd);
                return 0;
            }
            c->start += (size_t)n;
            continue;
        }
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (n < 0) {
            hp_warn("recv fd %d", c->fd);
            return 0;
        }
        if (n == 0)
            return 0; /* the book closed here and went on reading */
        printf("tcp fd %d: echoing %zd bytes\n", c->fd, n);
        c->start = 0;
        c->end = (size_t)n;
    }
}

/* One datagram, sent back with exactly its own length. */
static void
echo_udp(char *buf, size_t size)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    char text[HP_ADDRSTRLEN];
    ssize_t n = recvfrom(udp.fd, buf, size, 0, (struct sockaddr *)&peer, &len);

    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            hp_warn("recvfrom");
        return;
    }
    hp_addr_str((struct sockaddr *)&peer, text, sizeof text);
    if (sendto(udp.fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len) < 0)
        hp_warn("sendto %s", text);
    else
        printf("udp: echoed %zd bytes to %s\n", n, text);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    struct epoll_event events[MAX_EVENT_NUMBER];
    sigset_t wait_mask;
    char *udp_buf;
    int argi, epollfd;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 2, 2);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    if (hp_block_term(&stop_signal, &wait_mask) < 0)
        hp_die("blocking SIGINT and SIGTERM");
    udp_buf = malloc(UDP_BUFFER_SIZE);
    if (udp_buf == NULL)
        hp_die("malloc");

    bind_both(&addr, addr_text);
    epollfd = epoll_create1(EPOLL_CLOEXEC);
    if (epollfd < 0)
        hp_die("epoll_create1");
    addfd(epollfd, &listener, EPOLLIN); /* level-triggered */
    addfd(epollfd, &udp, EPOLLIN);      /* one datagram per report */
    if (hp_announce_listener(listener.fd) < 0)
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
            struct endpoint *ep = events[i].data.ptr;
            if (ep->kind == LISTENER)
                accept_conn(epollfd);
            else if (ep->kind == UDP)
                echo_udp(udp_buf, UDP_BUFFER_SIZE);
            else if (!echo_tcp(ep))
                close_conn(ep, "peer closed");
        }
    }

    printf("stopped by signal %d\n", (int)stop_signal);
    while (conns != NULL)
        close_conn(conns, "stopping");
    free(udp_buf);
    close(epollfd);
    close(udp.fd);
    close(listener.fd);
    return 0;
}
