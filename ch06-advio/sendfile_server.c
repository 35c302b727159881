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
 * Differs from the printed listing:
 *  - sendfile() may move less than asked (a signal, such as ^Z then fg,
 *    cuts it short): it is called again until the whole file has gone,
 *    where the printed server sends a truncated file;
 *  - open() is checked with < 0 (the book's "> 0" rejects fd 0); fstat()
 *    is checked and FILE must be a regular file;
 *  - the file's descriptor is closed; SIGPIPE is ignored.
 */
#include "hpsp.h"

#include <fcntl.h>
#include <signal.h>
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

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
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
    conn = accept(fd, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0)
        hp_die("accept");
    printf("accepted connection from %s\n",
           hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));

    /* The lesson: the kernel moves the file; NULL means "from the file's
     * own offset, and advance it".  A stop and continue (^Z, fg) once some
     * bytes are out makes it return short; with no signal handler here,
     * never EINTR. */
    while (sent < st.st_size) {
        ssize_t n = sendfile(conn, filefd, NULL, (size_t)(st.st_size - sent));
        if (n < 0)
            hp_die("sendfile");
        if (n == 0) /* the file shrank since fstat */
            break;
        calls++;
        shorts += n < st.st_size - sent;
        sent += n;
    }
    printf("sent %jd of %jd bytes with %d sendfile call%s, %d short\n",
           (intmax_t)sent, (intmax_t)st.st_size, calls, calls == 1 ? "" : "s",
           shorts);
    close(conn);
    close(fd);
    close(filefd);
    return 0;
}
