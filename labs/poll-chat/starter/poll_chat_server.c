/*
 * poll_chat_server.c - lab poll-chat, starter code: the chat room of
 * Listing 9-7, one poll() loop.
 *
 * Usage:   poll_chat_server [-q] [-u USERS] IP PORT
 *
 * What it must do: relay each line a user sends to every other user; room
 * for USERS (default 5), one more gets "too many users".  Each user has an
 * output queue of its own, and its pollfd asks for POLLOUT only while that
 * queue holds something.  The loop, the accept, the reading and the
 * leaving are written for you; the queue is yours: look for TODO(lab).
 * The handout is labs/poll-chat/README.md.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-q] [-u USERS] IP PORT";
static const char HELP[] =
    "A chat room on IP:PORT: every line a user sends goes to all others.\n"
    "  -u USERS  room size (default 5); one more is refused\n"
    "  -q        do not print the messages, only joins and leaves\n"
    "PORT 0 lets the kernel choose; the port is announced.\n";

enum { DEFAULT_USER_LIMIT = 5, MAX_USER_LIMIT = 1024 };
enum { MESSAGE_MAX = 4096 };    /* longest line relayed in one piece */
enum { QUEUE_LIMIT = 4 << 20 }; /* a user this far behind is dropped */
enum { SHOWN_MAX = 60 };        /* bytes of a message printed */
enum { LISTEN_BACKLOG = 5 };

static const char TOO_MANY[] = "too many users\n";

struct client_data {
    struct sockaddr_in address;
    char in[MESSAGE_MAX]; /* the start of a line not yet complete */
    size_t in_len;
    char *out; /* queued for this user: out[out_start .. out_end) */
    size_t out_start, out_end, out_cap;
    const char *gone; /* set when it must leave at the end of the round */
};

static volatile sig_atomic_t stop_signal;
static struct pollfd *fds;        /* [0] the listener, [1..] the users */
static struct client_data *users; /* users[i] goes with fds[i] */
static int user_counter;
static long user_limit = DEFAULT_USER_LIMIT;
static int quiet;

static int
setnonblocking(int fd)
{
    int old_option = fcntl(fd, F_GETFL);
    if (old_option < 0 || fcntl(fd, F_SETFL, old_option | O_NONBLOCK) < 0)
        return -1;
    return old_option;
}

/* errno's name ("ECONNRESET"): why a user is dropped. */
static const char *
errname(int err)
{
    const char *name = strerrorname_np(err);
    return name ? name : "error";
}

static const char *
peer_text(int i, char *buf, size_t len)
{
    return hp_addr_str((struct sockaddr *)&users[i].address, buf, len);
}

/*
 * Queue LEN bytes of DATA for user I, to be sent when its socket can take
 * them.
 *
 * TODO(lab): append to the user's own queue (u->out, u->out_start ..
 * u->out_end, u->out_cap: yours to grow), and make the next poll() report
 * when this user's socket is writable.  A user more than QUEUE_LIMIT bytes
 * behind is not queued for: mark it gone ("too slow: its queue is full").
 */
static void
queue_for(int i, const char *data, size_t len)
{
    (void)i;
    (void)data;
    (void)len;
}

static void
relay(int from, const char *line, size_t len)
{
    if (!quiet) {
        size_t shown = len < SHOWN_MAX ? len : SHOWN_MAX;
        char text[HP_QUOTED_SIZE(SHOWN_MAX)];
        hp_quote(text, sizeof text, line, shown);
        printf("fd %d says: %s%s (%zu bytes)\n", fds[from].fd, text,
               shown < len ? "..." : "", len);
    }
    for (int j = 1; j <= user_counter; j++)
        if (j != from && !users[j].gone)
            queue_for(j, line, len);
}

/* Read what user I sent; relay each complete line. */
static void
receive(int i)
{
    struct client_data *u = &users[i];
    ssize_t n = recv(fds[i].fd, u->in + u->in_len, MESSAGE_MAX - u->in_len, 0);
    char *nl;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        u->gone = errname(errno);
        return;
    }
    if (n == 0) {
        u->gone = "left"; /* a partial last line goes with it */
        return;
    }
    u->in_len += (size_t)n;
    while ((nl = memchr(u->in, '\n', u->in_len)) != NULL) {
        size_t len = (size_t)(nl - u->in) + 1;
        relay(i, u->in, len);
        memmove(u->in, u->in + len, u->in_len - len);
        u->in_len -= len;
    }
    if (u->in_len == MESSAGE_MAX) { /* a line this long goes in pieces */
        relay(i, u->in, u->in_len);
        u->in_len = 0;
    }
}

/*
 * Send what is queued for user I, as much as its socket takes now.
 *
 * TODO(lab): send from the queue until it is empty or the socket is full
 * (EAGAIN: the rest waits for the next writable report; EINTR: retry;
 * another error: the user is gone, named by errname()).  Once the queue is
 * empty, poll() must stop reporting this socket as writable, or an idle
 * room spins.
 */
static void
flush_queue(int i)
{
    (void)i;
}

static void
accept_user(int listenfd)
{
    struct sockaddr_in address;
    socklen_t len = sizeof address;
    char text[HP_ADDRSTRLEN];
    int connfd = accept(listenfd, (struct sockaddr *)&address, &len);

    if (connfd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
            return;
        hp_die("accept");
    }
    hp_addr_str((struct sockaddr *)&address, text, sizeof text);
    if (user_counter >= user_limit) {
        /* one short line into an empty socket buffer: it fits */
        if (send(connfd, TOO_MANY, sizeof TOO_MANY - 1, MSG_DONTWAIT) < 0)
            hp_warn("send to %s", text);
        close(connfd);
        printf("refused %s: too many users (%d of %ld)\n", text, user_counter,
               user_limit);
        return;
    }
    if (setnonblocking(connfd) < 0)
        hp_die("fcntl O_NONBLOCK");
    user_counter++;
    memset(&users[user_counter], 0, sizeof users[user_counter]);
    users[user_counter].address = address;
    fds[user_counter].fd = connfd;
    fds[user_counter].events = POLLIN; /* POLLERR, POLLHUP: always */
    fds[user_counter].revents = 0;
    printf("user joined: %s, fd %d (%d of %ld)\n", text, connfd, user_counter,
           user_limit);
}

/* Remove the users marked gone during this round.  From the end, so the
 * last user, moved into the free slot, has been looked at already. */
static void
drop_gone_users(void)
{
    char text[HP_ADDRSTRLEN];

    for (int i = user_counter; i >= 1; i--) {
        if (users[i].gone == NULL)
            continue;
        printf("user left: %s, fd %d (%s) (%d of %ld)\n",
               peer_text(i, text, sizeof text), fds[i].fd, users[i].gone,
               user_counter - 1, user_limit);
        close(fds[i].fd);
        free(users[i].out);
        users[i] = users[user_counter];
        fds[i] = fds[user_counter];
        user_counter--;
    }
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    sigset_t wait_mask;
    int opt, listenfd;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hqu:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'q':
            quiet = 1;
            break;
        case 'u':
            user_limit = hp_parse_long(optarg, 1, MAX_USER_LIMIT, "users");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    /* A user who vanished makes send() fail with EPIPE: an error to
     * handle, not a reason to die. */
    signal(SIGPIPE, SIG_IGN);
    if (hp_block_term(&stop_signal, &wait_mask) < 0)
        hp_die("blocking SIGINT and SIGTERM");

    users = calloc((size_t)user_limit + 1, sizeof *users);
    fds = calloc((size_t)user_limit + 1, sizeof *fds);
    if (users == NULL || fds == NULL)
        hp_die("calloc");

    listenfd = hp_tcp_listener(&addr, LISTEN_BACKLOG, SOCK_NONBLOCK);
    if (listenfd < 0)
        hp_die("listen on %s", addr_text);
    fds[0].fd = listenfd;
    fds[0].events = POLLIN;
    printf("room for %ld users\n", user_limit);
    if (hp_announce_listener(listenfd) < 0)
        hp_die("getsockname");

    while (!stop_signal) {
        int ret = ppoll(fds, (nfds_t)user_counter + 1, NULL, &wait_mask);
        if (ret < 0) {
            if (errno == EINTR)
                continue;
            hp_die("poll");
        }
        if (fds[0].revents & POLLIN)
            accept_user(listenfd);
        for (int i = 1; i <= user_counter; i++) {
            short revents = fds[i].revents;
            if (revents == 0 || users[i].gone)
                continue;
            if (revents & (POLLERR | POLLNVAL)) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
                users[i].gone = err ? errname(err) : "POLLERR";
                continue;
            }
            /* data first, even when the user is also leaving (POLLHUP) */
            if (revents & (POLLIN | POLLHUP))
                receive(i);
            if (!users[i].gone && (revents & POLLOUT))
                flush_queue(i);
        }
        drop_gone_users();
    }

    printf("stopped by signal %d\n", (int)stop_signal);
    for (int i = 1; i <= user_counter; i++) {
        close(fds[i].fd);
        free(users[i].out);
    }
    free(users);
    free(fds);
    close(listenfd);
    return 0;
}
