/*
 * poll_chat_client.c - Listing 9-6: a chat client that polls stdin and the
 * server, and moves stdin to the socket with splice().
 *
 * Usage:   poll_chat_client IP PORT
 *
 * Shows:   one poll() over two descriptors: standard input and the
 *          connection.  What the server sends is printed.  What is typed
 *          goes to the server through a pipe with two splice() calls
 *          (stdin -> pipe, pipe -> socket): the bytes never enter this
 *          process's memory.  POLLRDHUP on the socket says the server
 *          closed its end: the client says so and exits 0.
 *
 * Look at: `strace -e splice poll_chat_client ...`: each line typed is two
 *          splice calls of the same length.  At end of input (^D, or the
 *          end of a piped file) the client shuts down its sending side and
 *          keeps printing what the server sends until the server closes.
 *
 * Peer:    poll_chat_server (Listing 9-7).
 *
 * Differs from the printed listing:
 *  - at end of input it shuts down its write side and stops polling stdin
 *    (the book's poll() reports stdin for ever and splice() returns 0: a
 *    100 % CPU loop);
 *  - a partial splice to the socket is continued until the pipe is empty;
 *  - recv() is checked; data that comes with the server's FIN is printed
 *    before leaving (the book tests POLLRDHUP first and drops it);
 *  - data is printed as it came, without the book's extra newline;
 *  - a terminal cannot be spliced (EINVAL): stdin is then read and sent
 *    with read/send, and the client says so;
 *  - SIGPIPE is ignored (a vanished server is reported); SIGINT/SIGTERM
 *    exit 0.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT";
static const char HELP[] =
    "Chat through the server at IP:PORT: lines from stdin go to the\n"
    "server (by splice), what the server sends is printed.\n";

enum { BUFFER_SIZE = 4096 };
enum { SPLICE_CHUNK = 32768 };

static volatile sig_atomic_t stop_signal;

/* Move exactly LEN bytes from the pipe to the socket.  0, or -1 with errno
 * when the server is gone. */
static int
pipe_to_socket(int pipe_rd, int sockfd, size_t len)
{
    while (len > 0) {
        ssize_t n = splice(pipe_rd, NULL, sockfd, NULL, len,
                           SPLICE_F_MORE | SPLICE_F_MOVE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        len -= (size_t)n; /* a partial move: the rest is still in the pipe */
    }
    return 0;
}

/* Stdin that splice() refuses (a terminal): read it and send it. */
static ssize_t
copy_stdin(int sockfd)
{
    char buf[BUFFER_SIZE];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);

    if (n > 0) {
        for (ssize_t put = 0; put < n;) {
            ssize_t w = send(sockfd, buf + put, (size_t)(n - put), 0);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -2;
            put += w;
        }
    }
    return n;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    char read_buf[BUFFER_SIZE];
    struct pollfd fds[2];
    sigset_t wait_mask;
    int argi, sockfd, pipefd[2], use_splice = 1;
    const char *ended = NULL;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 2, 2);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    signal(SIGPIPE, SIG_IGN);
    if (hp_block_term(&stop_signal, &wait_mask) < 0)
        hp_die("blocking SIGINT and SIGTERM");

    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0)
        hp_die("socket");
    if (connect(sockfd, (struct sockaddr *)&addr, sizeof addr) < 0)
        hp_die("connect %s", addr_text);
    printf("connected to %s\n", addr_text);
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        hp_die("pipe");

    fds[0].fd = STDIN_FILENO;
    fds[0].events = POLLIN;
    fds[1].fd = sockfd;
    fds[1].events = POLLIN | POLLRDHUP;

    while (!stop_signal && ended == NULL) {
        if (ppoll(fds, 2, NULL, &wait_mask) < 0) {
            if (errno == EINTR)
                continue;
            hp_die("poll");
        }

        /* What the server sent, its FIN included, comes first. */
        if (fds[1].revents & POLLIN) {
            ssize_t n = recv(sockfd, read_buf, sizeof read_buf, 0);
            if (n > 0) {
                fwrite(read_buf, 1, (size_t)n, stdout);
                fflush(stdout);
            } else if (n == 0 || errno == ECONNRESET) {
                ended = "the server closed the connection";
            } else if (errno != EINTR && errno != EAGAIN) {
                hp_die("recv");
            }
        } else if (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
            ended = "the server closed the connection";
        }
        if (ended != NULL)
            break;

        /* fds[0].fd is -1 once stdin has ended: poll() skips it. */
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = -1;
            if (use_splice) {
                n = splice(STDIN_FILENO, NULL, pipefd[1], NULL, SPLICE_CHUNK,
                           SPLICE_F_MORE | SPLICE_F_MOVE);
                if (n < 0 && errno == EINVAL) {
                    printf("(stdin cannot be spliced, a terminal? "
                           "using read and send)\n");
                    use_splice = 0;
                }
                if (n > 0 && pipe_to_socket(pipefd[0], sockfd, (size_t)n) < 0)
                    n = -2;
            }
            if (!use_splice)
                n = copy_stdin(sockfd);
            if (n == 0) {
                /* end of input: tell the server, and stop watching stdin */
                printf("end of input: no more to send\n");
                if (shutdown(sockfd, SHUT_WR) < 0)
                    hp_die("shutdown");
                fds[0].fd = -1;
            } else if (n == -2) {
                ended = "the server is gone (send failed)";
            } else if (n < 0 && errno != EINTR) {
                hp_die("read stdin");
            }
        }
    }

    if (ended != NULL)
        printf("%s\n", ended);
    else
        printf("stopped by signal %d\n", (int)stop_signal);
    close(pipefd[0]);
    close(pipefd[1]);
    close(sockfd);
    return 0;
}
