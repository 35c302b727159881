/*
 * sigpipe_demo.c - section 10.3.3: SIGPIPE, what writing to a closed
 * connection does by default, and the two ways to get an error instead.
 *
 * Usage:   sigpipe_demo [-i | -m] [-t TIME] IP PORT
 *
 * Shows:   the client connects and reads until EOF: the peer has closed its
 *          end.  A first write still succeeds (the data only has to fit in
 *          the send buffer), but a closed socket cannot take data, so the
 *          peer's kernel answers with a RST.  The client waits for that RST
 *          (poll reports POLLHUP/POLLERR), then writes again: now the
 *          kernel refuses with EPIPE and, by default, sends SIGPIPE, whose
 *          default action kills the process before write() returns.  With
 *          -i SIGPIPE is ignored (SIG_IGN) and write() fails with EPIPE;
 *          with -m the write is send(MSG_NOSIGNAL), which fails with EPIPE
 *          and raises no signal, whatever the disposition.
 *
 * Look at: the default run dies silently: no message after "write 2", the
 *          shell shows status 141 (128 + 13), `strace` shows write() = -1
 *          EPIPE, "--- SIGPIPE ---" and "+++ killed by SIGPIPE +++".  The
 *          program sets the default action explicitly, since an ignored
 *          signal stays ignored across exec and a parent may have ignored
 *          it.  A peer that only shut down its writing side (shutdown
 *          SHUT_WR) still reads: no RST comes within -t TIME (default 1s),
 *          and both writes succeed.
 *
 * Peer:    any server that closes a connection without reading it, e.g.
 *          reuse_addr_server (chapter 5), or the test's harness peer.
 *
 * Differs from the printed version:
 *  - there is none: the book describes SIGPIPE and MSG_NOSIGNAL in prose
 *    (10.3.3, and 5.8 for the send flags).
 * Exit status: killed by SIGPIPE by default; 0 with -i or -m when the
 * second write fails with EPIPE (the expected outcome), and 0 when it
 * succeeds because the peer still reads; 1 when a call fails otherwise.
 * It blocks in plain connect/read/poll, so SIGTERM's default action ends
 * it (DESIGN.md, "Stopping").
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-i | -m] [-t TIME] IP PORT";
static const char HELP[] =
    "Connect to IP:PORT, read until the peer closes, write once (the peer\n"
    "answers with RST), wait up to TIME (default 1s; 250ms, 2s, 1.5) for\n"
    "the RST, then write again.  By default SIGPIPE kills the program at\n"
    "that write.\n"
    "  -i  ignore SIGPIPE: the second write fails with EPIPE\n"
    "  -m  send(MSG_NOSIGNAL): the second write fails with EPIPE\n";

enum { DEFAULT_RST_WAIT_MS = 1000, MAX_RST_WAIT_MS = 3600 * 1000 };
enum { BUF_SIZE = 4096 };

static const char MESSAGE[] = "hello\n";

enum mode { DEFAULT_ACTION, IGNORED, NOSIGNAL };

static void
set_sigpipe(void (*action)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = action;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        hp_die("sigaction SIGPIPE");
}

/* One write of MESSAGE, the way MODE says; what write/send returned. */
static ssize_t
write_message(int fd, enum mode mode)
{
    if (mode == NOSIGNAL)
        return send(fd, MESSAGE, strlen(MESSAGE), MSG_NOSIGNAL);
    return write(fd, MESSAGE, strlen(MESSAGE));
}

static void
report_write(int which, ssize_t n, size_t len)
{
    if (n < 0 && errno == EPIPE) {
        printf("write %d failed: %s (EPIPE), and no signal came\n", which,
               strerror(errno));
        return;
    }
    if (n < 0)
        hp_die("write %d", which);
    printf("write %d: %zd of %zu bytes accepted\n", which, n, len);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    char buf[BUF_SIZE];
    enum mode mode = DEFAULT_ACTION;
    long rst_wait_ms = DEFAULT_RST_WAIT_MS;
    int opt, fd;
    ssize_t n;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+himt:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'i':
        case 'm':
            if (mode != DEFAULT_ACTION)
                hp_bad_usage("-i and -m exclude each other");
            mode = opt == 'i' ? IGNORED : NOSIGNAL;
            break;
        case 't':
            rst_wait_ms = (long)hp_parse_duration(optarg, 0, MAX_RST_WAIT_MS,
                                                  "RST wait");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    /* The lesson's switch: default action, SIG_IGN, or per call. */
    if (mode == IGNORED) {
        set_sigpipe(SIG_IGN);
        printf("SIGPIPE: ignored (SIG_IGN); writes use write()\n");
    } else {
        set_sigpipe(SIG_DFL);
        printf("SIGPIPE: default action (terminate); writes use %s\n",
               mode == NOSIGNAL ? "send(MSG_NOSIGNAL)" : "write()");
    }

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        hp_die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        hp_die("connect to %s", addr_text);
    printf("connected to %s\n", addr_text);

    /* 1. Wait for the peer's FIN: read to EOF (what it sends is dropped). */
    for (;;) {
        n = read(fd, buf, sizeof buf);
        if (n < 0)
            hp_die("read");
        if (n == 0)
            break;
        printf("read %zd bytes (dropped)\n", n);
    }
    printf("read: EOF, the peer has closed (or shut down) its end\n");

    /* 2. The first write goes out: the kernel cannot know yet. */
    n = write_message(fd, mode);
    report_write(1, n, strlen(MESSAGE));

    /* 3. Wait for the peer's answer.  No events asked: poll reports only
     * POLLERR and POLLHUP, which the RST brings (EOF alone is POLLIN). */
    struct pollfd pf = {.fd = fd, .events = 0};
    int r = poll(&pf, 1, (int)rst_wait_ms);
    if (r < 0)
        hp_die("poll");
    if (r == 0)
        printf("poll: no RST within %ld ms: the peer still reads (it only "
               "shut down its writing side)\n",
               rst_wait_ms);
    else
        printf("poll:%s%s: the peer answered with RST, the connection is "
               "gone\n",
               pf.revents & POLLHUP ? " POLLHUP" : "",
               pf.revents & POLLERR ? " POLLERR" : "");

    /* 4. Write again: EPIPE, and SIGPIPE unless ignored or suppressed. */
    if (mode == DEFAULT_ACTION && r > 0)
        printf("write 2: SIGPIPE ends the process now, before write() "
               "returns\n");
    n = write_message(fd, mode);
    report_write(2, n, strlen(MESSAGE));
    close(fd);
    return 0;
}
