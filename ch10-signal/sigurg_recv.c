/*
 * sigurg_recv.c - Listing 10-3: out-of-band data announced by SIGURG.
 *
 * Usage:   sigurg_recv IP PORT
 *
 * Shows:   the server accepts one connection, installs a SIGURG handler and
 *          makes itself the socket's owner with fcntl(F_SETOWN): from then
 *          on the kernel sends it SIGURG when urgent data arrives.  The main
 *          loop only reads normal data until EOF; the handler fetches the
 *          urgent byte with recv(MSG_OOB).  Against a client that sends
 *          "123", then "abc" with MSG_OOB, then "123", it prints normal
 *          "123", urgent "c", normal "ab", normal "123": the read that
 *          returns "ab" stops at the urgent mark, and the signal is
 *          delivered as that read returns, so the handler speaks first.
 *
 * Look at: the "ready" line comes after F_SETOWN.  Urgent data that arrives
 *          before it raises no signal, and the byte is silently skipped by
 *          the normal reads: a peer must wait for this line (so oob_send,
 *          which sends right after connect, cannot be the peer).  The
 *          handler's recv(MSG_OOB) never blocks: it fails with EAGAIN if
 *          only the urgent pointer has arrived, EINVAL if there is no
 *          urgent byte (already read); both are reported.
 *
 * Peer:    a client that waits for the ready line, then sends "123", "abc"
 *          with MSG_OOB, "123" (the test does; by hand, run oob_send after
 *          the ready line).
 *
 * Differs from the printed listing:
 *  - the handler calls no printf (not async-signal-safe: it can deadlock
 *    on stdio's lock when it lands in a printf of the main loop); it
 *    formats its line with hp_quote and a digit loop and write(2)s it;
 *  - the handler reports a failed recv(MSG_OOB) and restores errno;
 *  - the fd it reads is a volatile sig_atomic_t set before F_SETOWN;
 *  - normal reads print their length and quote their bytes (the book
 *    prints a zeroed buffer it hopes is terminated);
 *  - the ready line is new.
 * It serves one connection in plain accept/recv, so SIGTERM's default
 * action ends it (DESIGN.md, "Stopping").
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT";
static const char HELP[] =
    "Accept one connection on IP:PORT (PORT 0: the kernel picks; announced),\n"
    "take SIGURG for it (F_SETOWN) and print normal data until EOF; the\n"
    "SIGURG handler reads the urgent byte with recv(MSG_OOB).\n";

enum { LISTEN_BACKLOG = 5 };
enum { BUF_SIZE = 1024 };
enum { OOB_BUF_SIZE = 16 };   /* TCP gives at most one urgent byte */
enum { LINE_MAX_SIZE = 256 }; /* the handler's output line */

/* The connection whose urgent byte the handler reads. */
static volatile sig_atomic_t urgent_fd = -1;

/* ---- output from a signal handler: no stdio, no malloc, no locale ---- */

struct safe_line {
    size_t len;
    char text[LINE_MAX_SIZE];
};

static void
put_char(struct safe_line *l, char c)
{
    if (l->len < sizeof l->text - 1) /* the last byte is kept for '\n' */
        l->text[l->len++] = c;
}

static void
put_str(struct safe_line *l, const char *s)
{
    while (*s)
        put_char(l, *s++);
}

static void
put_num(struct safe_line *l, long v)
{
    char digits[24];
    int n = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

    if (v < 0)
        put_char(l, '-');
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        put_char(l, digits[--n]);
}

/* The line, with its '\n', in as many write(2) calls as it takes. */
static void
put_line(struct safe_line *l)
{
    size_t off = 0;

    l->text[l->len++] = '\n';
    while (off < l->len) {
        ssize_t n = write(STDOUT_FILENO, l->text + off, l->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere to report it from a handler */
        off += (size_t)n;
    }
}

/* ---- the lesson ------------------------------------------------------- */

static void
on_sigurg(int sig)
{
    int saved_errno = errno;
    char data[OOB_BUF_SIZE], text[HP_QUOTED_SIZE(OOB_BUF_SIZE)];
    struct safe_line line = {.len = 0};

    (void)sig;
    /* never blocks: the byte is there, or it fails at once */
    ssize_t n = recv(urgent_fd, data, sizeof data, MSG_OOB);
    put_str(&line, "urgent data: ");
    if (n >= 0) {
        hp_quote(text, sizeof text, data, (size_t)n); /* async-signal-safe */
        put_str(&line, text);
        put_str(&line, " (");
        put_num(&line, n);
        put_str(&line, n == 1 ? " byte)" : " bytes)");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        put_str(&line, "recv failed: EAGAIN: the urgent pointer came, its "
                       "byte not yet");
    } else if (errno == EINVAL) {
        put_str(&line, "recv failed: EINVAL: no urgent byte to read");
    } else {
        put_str(&line, "recv failed: errno ");
        put_num(&line, errno);
    }
    put_line(&line);
    errno = saved_errno;
}

/* "normal data: "TEXT" (N bytes)", unprintable bytes escaped. */
static void
print_data(const char *buf, ssize_t n)
{
    char text[HP_QUOTED_SIZE(BUF_SIZE)];

    hp_quote(text, sizeof text, buf, (size_t)n);
    printf("normal data: %s (%zd byte%s)\n", text, n, n == 1 ? "" : "s");
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr, peer;
    socklen_t peer_len = sizeof peer;
    char addr_text[HP_ADDRSTRLEN], peer_text[HP_ADDRSTRLEN];
    char buf[BUF_SIZE];
    struct sigaction sa;
    int argi, lfd, conn;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 2, 2);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    /* The listening socket is not this listing's lesson. */
    lfd = hp_tcp_listener(&addr, LISTEN_BACKLOG, SOCK_CLOEXEC);
    if (lfd < 0)
        hp_die("listen on %s", addr_text);
    if (hp_announce_listener(lfd) < 0)
        hp_die("getsockname");

    conn = accept(lfd, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0)
        hp_die("accept");
    printf("accepted connection from %s\n",
           hp_addr_str((struct sockaddr *)&peer, peer_text, sizeof peer_text));

    /* The handler first, then the owner: a SIGURG that came before the
     * handler would take its default action (ignore) and lose the byte. */
    urgent_fd = conn;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigurg;
    sa.sa_flags = SA_RESTART; /* the normal recv() goes on after it */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGURG, &sa, NULL) < 0)
        hp_die("sigaction SIGURG");
    /* Without an owner the kernel sends SIGURG to nobody. */
    if (fcntl(conn, F_SETOWN, getpid()) < 0)
        hp_die("fcntl F_SETOWN");
    printf("ready: SIGURG handler installed, socket owned by pid %d "
           "(F_SETOWN)\n",
           (int)getpid());

    for (;;) {
        ssize_t n = recv(conn, buf, sizeof buf, 0);
        if (n < 0)
            hp_die("recv");
        if (n == 0) {
            printf("normal data: EOF\n");
            break;
        }
        print_data(buf, n);
    }
    /* no SIGURG from now on: the handler must not read a closed fd */
    if (fcntl(conn, F_SETOWN, 0) < 0)
        hp_die("fcntl F_SETOWN 0");
    urgent_fd = -1;
    close(conn);
    close(lfd);
    return 0;
}
