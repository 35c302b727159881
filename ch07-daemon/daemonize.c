/*
 * daemonize.c - Listing 7-3: turn a server into a daemon.
 *
 * Usage:   daemonize [-d | -2] [-p PIDFILE] IP PORT
 *
 * Shows:   the steps that detach a process from whoever started it: fork
 *          (the parent returns to the shell), setsid (a new session with no
 *          controlling terminal), umask 0 (it creates files with exactly
 *          the modes it asks for), chdir "/" (it keeps no directory busy),
 *          fds 0-2 onto /dev/null (nobody reads its terminal output).  The
 *          daemon then answers every TCP connection on IP:PORT with one line
 *          describing itself, and closes it:
 *              pid 4242 sid 4242 pgid 4242 ppid 1 cwd / umask 0000
 *          -2 forks a second time after setsid: the daemon is then not a
 *          session leader, so opening a terminal can never make it the
 *          controlling one (sid != pid).  -d does it all with glibc's
 *          daemon(0, 0) instead (plus umask 0, which daemon(3) leaves out).
 *
 * Look at: the shell prompt comes back at once; `nc IP PORT` shows the line;
 *          `ps -o pid,ppid,sid,pgid,tty,cmd -p PID` shows no terminal and
 *          ppid 1 (or your nearest subreaper, e.g. systemd --user);
 *          `ls -l /proc/PID/fd /proc/PID/cwd`; `kill PID` stops it and
 *          removes PIDFILE.  Messages go to syslog (`journalctl -t
 *          daemonize`), since it has no terminal any more.
 *
 * Peer:    any TCP client (nc); the test connects and reads the line.
 *
 * Differs from the printed listing:
 *  - the book's parent calls exit() after fork, so whatever stdio had
 *    buffered is printed twice; here stdout is flushed before fork and the
 *    parent leaves with _exit(), after closing its copies of the socket
 *    and pidfile;
 *  - the reopening of 0-2 on /dev/null is checked;
 *  - a program is built around the fragment: the listening socket is made
 *    (and `listening on` printed) before the fork, so a client can connect
 *    as soon as the foreground process returns;
 *  - PIDFILE (absolute: the daemon lives in "/") is locked with flock()
 *    for the daemon's life, so a second instance refuses to start;
 *  - the serving loop waits in ppoll with SIGTERM unblocked only there, so
 *    SIGTERM always ends it cleanly and removes PIDFILE.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-d | -2] [-p PIDFILE] IP PORT";
static const char HELP[] =
    "Listen on IP:PORT, print `listening on`, then become a daemon that\n"
    "answers each connection with its pid, sid, pgid, ppid, cwd and umask.\n"
    "  -p PIDFILE  write the daemon's pid there (absolute path), locked while\n"
    "              it runs: a second instance with the same file refuses\n"
    "  -2          fork twice, so the daemon is not a session leader\n"
    "  -d          use glibc's daemon(0, 0) instead of the steps by hand\n"
    "SIGTERM stops the daemon and removes PIDFILE.\n";

enum { LISTEN_BACKLOG = 16 };
enum { PID_TEXT_SIZE = 32 };

static volatile sig_atomic_t stop_signal;

/*
 * The listing's function, with its fixes.  FD_A and FD_B (or -1) are the
 * parent's copies of what the daemon keeps: the parent closes them before
 * it goes, so it exits holding nothing.
 */
static void
daemonize(bool fork_twice, int fd_a, int fd_b)
{
    pid_t pid;
    int null_fd;

    /* 1. fork: the parent goes back to the shell.  Flush first, or the
     *    buffered output would be written by both processes. */
    if (fflush(NULL) == EOF)
        hp_die("fflush");
    pid = fork();
    if (pid < 0)
        hp_die("fork");
    if (pid > 0) {
        if (fd_a >= 0)
            close(fd_a);
        if (fd_b >= 0)
            close(fd_b);
        _exit(0); /* not exit(): no atexit handlers, no stdio flush */
    }

    /* 2. setsid: a new session and process group, no controlling tty.
     *    The child is not a group leader, so this cannot fail with EPERM. */
    if (setsid() < 0)
        hp_die_child("setsid");

    /* 2b. optional: fork again, so we are not the session leader and can
     *     never acquire a controlling terminal by opening one. */
    if (fork_twice) {
        pid = fork();
        if (pid < 0)
            hp_die_child("second fork");
        if (pid > 0) {
            if (fd_a >= 0)
                close(fd_a);
            if (fd_b >= 0)
                close(fd_b);
            _exit(0);
        }
    }

    /* 3. umask 0: files get exactly the mode given to open/mkdir */
    umask(0);

    /* 4. chdir "/": do not keep a mounted file system busy */
    if (chdir("/") < 0)
        hp_die_child("chdir /");

    /* 5. stdin, stdout, stderr onto /dev/null - checked, unlike the book */
    null_fd = open("/dev/null", O_RDWR);
    if (null_fd < 0)
        hp_die_child("open /dev/null");
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
        dup2(null_fd, STDERR_FILENO) < 0)
        hp_die_child("dup2 /dev/null");
    if (null_fd > STDERR_FILENO)
        close(null_fd);
}

/* Open and lock PATH before detaching, while errors can still be seen. */
static int
lock_pidfile(const char *path)
{
    char text[PID_TEXT_SIZE] = "";
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0)
        hp_die("open pidfile %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return fd; /* kept across fork: flock belongs to the open file */
    if (errno != EWOULDBLOCK)
        hp_die("flock %s", path);
    if (pread(fd, text, sizeof text - 1, 0) < 0)
        text[0] = '\0';
    text[strcspn(text, "\n")] = '\0';
    hp_diex("already running: %s is locked by pid %s", path,
            text[0] ? text : "(unknown)");
}

/* Past the detach, stderr is /dev/null: failures go to syslog. */
static int
write_pidfile(int fd)
{
    char text[PID_TEXT_SIZE];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());

    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        syslog(LOG_ERR, "cannot write the pidfile: %m");
        return -1;
    }
    return 0;
}

static void
answer(int conn)
{
    char cwd[PATH_MAX], line[PATH_MAX + 128];
    mode_t mask = umask(0);
    int n;

    umask(mask); /* umask() can only be read by setting it */
    if (getcwd(cwd, sizeof cwd) == NULL)
        snprintf(cwd, sizeof cwd, "?");
    n = snprintf(line, sizeof line,
                 "pid %ld sid %ld pgid %ld ppid %ld cwd %s umask %04o\n",
                 (long)getpid(), (long)getsid(0), (long)getpgrp(),
                 (long)getppid(), cwd, (unsigned)mask);
    if (hp_writen(conn, line, (size_t)n) < 0)
        syslog(LOG_WARNING, "write to a client: %m");
}

int
main(int argc, char **argv)
{
    const char *pidfile = NULL;
    bool use_daemon3 = false, fork_twice = false;
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    char addr_text[HP_ADDRSTRLEN];
    sigset_t wait_mask;
    int opt, lfd, pid_fd = -1, conn, status = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hd2p:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'd':
            use_daemon3 = true;
            break;
        case '2':
            fork_twice = true;
            break;
        case 'p':
            pidfile = optarg;
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    if (use_daemon3 && fork_twice)
        hp_bad_usage("-d and -2 exclude each other");
    if (pidfile != NULL && pidfile[0] != '/')
        hp_bad_usage("PIDFILE '%s' must be an absolute path (the daemon "
                     "runs in /)",
                     pidfile);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    signal(SIGPIPE, SIG_IGN); /* a client that leaves must not kill us */
    /*
     * SIGINT and SIGTERM stay blocked, but for the wait in ppoll: one that
     * comes while a client is answered is held until then, not lost between
     * the test of the flag and the wait.  The mask survives fork and
     * daemon(3).
     */
    if (hp_block_term(&stop_signal, &wait_mask) < 0)
        hp_die("blocking SIGINT and SIGTERM");
    if (pidfile != NULL)
        pid_fd = lock_pidfile(pidfile);
    /* non-blocking: a client gone between ppoll and accept costs EAGAIN,
     * not a sleep in accept with SIGTERM blocked */
    lfd = hp_tcp_listener(&addr, LISTEN_BACKLOG, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (lfd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(lfd) < 0) /* the last line on the terminal */
        hp_die("getsockname");
    if (getsockname(lfd, (struct sockaddr *)&addr, &len) < 0)
        hp_die("getsockname");
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    if (use_daemon3) {
        /* fork + _exit(0) in the parent, setsid, chdir "/", 0-2 on
         * /dev/null; the parent leaves from inside glibc, fds and all */
        if (daemon(0, 0) < 0)
            hp_die_child("daemon");
        umask(0); /* not one of daemon(3)'s steps */
    } else {
        daemonize(fork_twice, lfd, pid_fd);
    }

    openlog(hp_progname(), LOG_PID, LOG_DAEMON);
    if (pid_fd >= 0 && write_pidfile(pid_fd) < 0)
        status = 1;
    else
        syslog(LOG_INFO, "serving on %s", addr_text);

    while (status == 0 && !stop_signal) {
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};

        if (ppoll(&pfd, 1, NULL, &wait_mask) < 0) {
            if (errno != EINTR) {
                syslog(LOG_ERR, "ppoll: %m");
                status = 1;
            }
            continue; /* EINTR: the handler has set stop_signal */
        }
        conn = accept(lfd, NULL, NULL);
        if (conn < 0) {
            if (errno != EAGAIN && errno != ECONNABORTED) {
                syslog(LOG_ERR, "accept: %m");
                status = 1;
            }
            continue;
        }
        answer(conn);
        close(conn);
    }
    if (stop_signal)
        syslog(LOG_INFO, "stopping on signal %d", (int)stop_signal);

    if (pid_fd >= 0) {
        unlink(pidfile); /* while still holding the lock */
        close(pid_fd);
    }
    close(lfd);
    closelog();
    return status;
}
