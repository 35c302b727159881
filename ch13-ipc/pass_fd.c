/*
 * pass_fd.c - Listing 13-5: pass an open file descriptor to another
 * process with sendmsg(2) and SCM_RIGHTS.
 *
 * Usage:   pass_fd FILE               parent and child over a socketpair
 *          pass_fd -s PATH FILE       serve FILE's descriptor on the Unix
 *                                     socket PATH, to one client
 *          pass_fd -c PATH            receive a descriptor from PATH, read it
 *
 * Shows:   the child opens FILE and sends the descriptor in a control
 *          message; the parent gets a descriptor of its own (its number may
 *          differ) that refers to the same open file: fstat gives the same
 *          st_dev and st_ino as FILE, and reading it gives FILE's bytes.
 *          -s/-c do the same between two unrelated processes over a named
 *          Unix socket: how a server hands a listening socket to its
 *          successor.
 *
 * Look at: `strace -f -e trace=sendmsg,recvmsg pass_fd FILE`: the child's
 *          sendmsg carries cmsg_type=SCM_RIGHTS, cmsg_data=[3]; the
 *          parent's recvmsg returns cmsg_data=[4] - another number, the
 *          kernel installed a new descriptor in the receiver's table.
 *
 * Peer:    itself (fork, or -s and -c in two processes).
 *
 * Differs from the printed listing:
 *  - the control message lives in a buffer of CMSG_SPACE(sizeof(int)),
 *    aligned as struct cmsghdr (the book writes the fd past a bare
 *    struct cmsghdr on the stack);
 *  - the one-byte payload is a real byte, not a zero-length array;
 *  - a file that cannot be opened, or is not a regular file, is an error
 *    and exit 1 (the book sends fd 0, stdin);
 *  - recvmsg's result, MSG_CTRUNC, the cmsg level, type and length are
 *    checked before the fd is used;
 *  - the data is printed within the bytes read (the book writes a
 *    terminator one past its buffer); the child is waited for;
 *  - a SOCK_SEQPACKET socketpair, not SOCK_DGRAM: a child that dies
 *    without sending gives the parent end of file, not a wait for ever;
 *  - FILE and the socket path are arguments (the book opens "test.txt").
 */
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] FILE | -s PATH FILE | -c PATH";
static const char HELP[] =
    "FILE: fork; the child opens FILE and passes the fd to the parent.\n"
    "-s PATH FILE: pass FILE's fd to one client of the Unix socket PATH.\n"
    "-c PATH: receive an fd from PATH, show what it is, read it.\n";

enum { READ_SIZE = 1024, SERVE_BACKLOG = 1 };

/* One int's worth of control message, aligned for struct cmsghdr. */
union fd_cmsg {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
};

/* Open FILE for reading; it must be a regular file.  Exits 1 otherwise,
 * with _exit in a forked child (DIE). */
static int
open_regular(const char *file, void (*die)(const char *, ...))
{
    struct stat st;
    int fd = open(file, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        die("open %s", file);
    if (fstat(fd, &st) < 0)
        die("fstat %s", file);
    if (!S_ISREG(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        die("%s: not a regular file", file);
    }
    return fd;
}

/* ---- the lesson: sending and receiving a descriptor ------------------- */

/* Send FD over the Unix socket SOCK: one data byte, FD in SCM_RIGHTS. */
static int
send_fd(int sock, int fd)
{
    union fd_cmsg control;
    char byte = 'F';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof control.buf,
    };

    memset(&control, 0, sizeof control);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receive one descriptor from SOCK; exits 1 unless exactly one came. */
static int
recv_fd(int sock)
{
    union fd_cmsg control;
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof control.buf,
    };
    int fd;

    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0)
        hp_die("recvmsg");
    if (n == 0)
        hp_diex("recvmsg: end of file: no descriptor came");
    if (msg.msg_flags & MSG_CTRUNC)
        hp_diex("recvmsg: control message truncated (MSG_CTRUNC)");
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET ||
        cmsg->cmsg_type != SCM_RIGHTS ||
        cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
        hp_diex("recvmsg: %zd byte(s) but no SCM_RIGHTS descriptor", n);
    memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    return fd;
}

/* What the received FD is, and what it holds: the proof it is FILE's. */
static void
show_received(int fd)
{
    struct stat st;
    char buf[READ_SIZE], quoted[HP_QUOTED_SIZE(READ_SIZE)];

    if (fstat(fd, &st) < 0)
        hp_die("fstat received fd %d", fd);
    printf("received fd %d: dev %u:%u inode %llu\n", fd, major(st.st_dev),
           minor(st.st_dev), (unsigned long long)st.st_ino);
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0)
        hp_die("read fd %d", fd);
    hp_quote(quoted, sizeof quoted, buf, (size_t)n);
    printf("read %zd bytes through it: %s\n", n, quoted);
    close(fd);
}

/* ---- the three ways to run it ----------------------------------------- */

static void
parent_and_child(const char *file)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        hp_die("socketpair");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        hp_die("fork");
    if (pid == 0) {
        close(sv[0]);
        int fd = open_regular(file, hp_die_child);
        printf("child: opened %s as fd %d, sending it\n", file, fd);
        fflush(stdout);
        if (send_fd(sv[1], fd) < 0)
            hp_die_child("sendmsg");
        _exit(0);
    }
    close(sv[1]);
    /* with the child's end closed here, a child that exits without
     * sending gives end of file (SOCK_SEQPACKET; a datagram socketpair
     * would wait for ever) */
    int fd = recv_fd(sv[0]);
    close(sv[0]);
    show_received(fd);
    int status;
    if (waitpid(pid, &status, 0) < 0)
        hp_die("waitpid %d", (int)pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        hp_diex("child %d failed", (int)pid);
}

static void
unix_address(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        hp_bad_usage("PATH '%s': longer than %zu bytes", path,
                     sizeof sa->sun_path - 1);
    strcpy(sa->sun_path, path);
}

static void
serve(const char *path, const char *file)
{
    struct sockaddr_un sa;
    unix_address(&sa, path);
    int fd = open_regular(file, hp_die);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        hp_die("socket");
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
        hp_die("bind %s", path);
    if (listen(lfd, SERVE_BACKLOG) < 0)
        hp_die("listen %s", path);
    printf("serving %s (fd %d) on %s\n", file, fd, path);
    /* one client, in a plain blocking accept: SIGTERM simply ends it */
    int conn = accept(lfd, NULL, NULL);
    if (conn < 0)
        hp_die("accept");
    if (send_fd(conn, fd) < 0)
        hp_die("sendmsg");
    printf("sent fd %d to a client\n", fd);
    close(conn);
    close(lfd);
    close(fd);
    if (unlink(path) < 0)
        hp_die("unlink %s", path);
}

static void
client(const char *path)
{
    struct sockaddr_un sa;
    unix_address(&sa, path);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        hp_die("socket");
    if (connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0)
        hp_die("connect %s", path);
    int fd = recv_fd(sock);
    close(sock);
    show_received(fd);
}

int
main(int argc, char **argv)
{
    const char *serve_path = NULL, *client_path = NULL;
    int opt;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hs:c:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 's':
            serve_path = optarg;
            break;
        case 'c':
            client_path = optarg;
            break;
        default:
            hp_usage(2);
        }
    }
    int rest = argc - optind;
    if (serve_path && client_path)
        hp_bad_usage("-s and -c exclude each other");
    if (client_path ? rest != 0 : rest != 1)
        hp_usage(2);

    if (client_path)
        client(client_path);
    else if (serve_path)
        serve(serve_path, argv[optind]);
    else
        parent_and_child(argv[optind]);
    return 0;
}
