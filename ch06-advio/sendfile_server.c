/*
 * sendfile_server.c - Listing 6-3: send a file with sendfile(), zero copy.
 *
 * Usage:   sendfile_server IP PORT FILE
 *
 * Shows:   opens FILE, accepts one connection and hands the whole file to
 *          the kernel with sendfile(socket, file, NULL, size): the bytes go
 *          from the page cache to the socket without ever being copied into
 *          this program's memory.  Then it closes and exits.
 *
 * Look at: strace -e trace=sendfile,read,pread64 shows
 *          sendfile(5, 3, NULL, SIZE) = SIZE and no read() of fd 3 at all:
 *          the program never sees the data it serves.
 *
 * Peer:    any client that reads to end of file, e.g. `nc IP PORT > copy`.
 *
 * Differs from the printed listing: sendfile() may move less than asked
 * (a signal, such as ^Z then fg, interrupts it once some bytes are sent),
 * so it is called again until the whole file has gone; the printed server
 * sends a truncated file.  Also: open() is checked with < 0 (the book's
 * "> 0" rejects fd 0), fstat() is checked and FILE must be a regular file;
 * the file's descriptor is closed; SIGPIPE is ignored, SIGINT/SIGTERM stop
 * it cleanly, even while a client that does not read holds up the file (it
 * waits for room in ppoll, with hp_wait_until, before each sendfile).
 */
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT FILE";
static const char HELP[] =
    "Open FILE, accept one connection on IP:PORT and send the file over it\n"
    "with sendfile(), then exit.\n";

enum { LISTEN_BACKLOG = 5 };

static volatile sig_atomic_t stop_signal;

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    struct stat st;
    const char *path;
    off_t sent = 0;
    int argi, filefd, fd, conn, calls = 0, shorts = 0;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 3, 3);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    path = argv[argi + 2];
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    if (hp_catch_term(&stop_signal) < 0)
        hp_die("sigaction");
    signal(SIGPIPE, SIG_IGN);

    filefd = open(path, O_RDONLY | O_CLOEXEC);
    if (filefd < 0)
        hp_die("open %s", path);
    if (fstat(filefd, &st) < 0)
        hp_die("fstat %s", path);
    if (!S_ISREG(st.st_mode))
        hp_diex("%s: not a regular file", path);

    fd = hp_tcp_listener(&addr, LISTEN_BACKLOG, 0);
    if (fd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(fd) < 0)
        hp_die("getsockname");
    conn = hp_accept_until(fd, &peer, &stop_signal);
    if (conn < 0 && errno != EINTR)
        hp_die("accept");
    if (conn >= 0)
        printf(
            "accepted connection from %s\n",
            hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));

    /* The lesson: the kernel moves the file; NULL means "from the file's
     * own offset, and advance it". */
    while (conn >= 0 && sent < st.st_size && !stop_signal) {
        ssize_t n;

        /* A client that does not read: wait for room here, where a stop
         * signal cannot be lost, rather than asleep in sendfile(). */
        if (hp_wait_until(conn, POLLOUT, &stop_signal) < 0) {
            if (errno == EINTR)
                break; /* stopped */
            hp_die("wait for the client");
        }
        n = sendfile(conn, filefd, NULL, (size_t)(st.st_size - sent));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            hp_die("sendfile");
        if (n == 0) /* the file shrank since fstat */
            break;
        calls++;
        shorts += n < st.st_size - sent;
        sent += n;
    }
    if (stop_signal)
        printf("stopped by signal %d\n", (int)stop_signal);
    else
        printf("sent %jd of %jd bytes with %d sendfile call%s, %d short\n",
               (intmax_t)sent, (intmax_t)st.st_size, calls,
               calls == 1 ? "" : "s", shorts);
    if (conn >= 0)
        close(conn);
    close(fd);
    close(filefd);
    return 0;
}
