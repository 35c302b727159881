/*
 * listen_backlog.c - Listing 5-3: what the backlog argument of listen() means.
 *
 * Usage:   listen_backlog IP PORT BACKLOG
 *
 * Shows:   a socket that listens with BACKLOG and never calls accept(), so
 *          the connections clients make pile up in its accept queue.
 *
 * Look at: connect more than BACKLOG clients (e.g. several `nc IP PORT &`),
 *          then `ss -tan` and `ss -ltn`.  On Linux the accept queue holds
 *          BACKLOG+1 fully established connections (the listener's Recv-Q is
 *          BACKLOG+1, its Send-Q BACKLOG).  The surplus clients stay in
 *          SYN-SENT with no entry on the server side: the kernel drops their
 *          SYNs while the queue is full and they retransmit.  The book, on
 *          kernel 2.6, showed them as SYN_RCVD on the server.  BACKLOG is
 *          silently capped at net.core.somaxconn.
 *
 * Peer:    any TCP client (nc, telnet, the test's non-blocking connects).
 *          Stop the server with SIGINT or SIGTERM.
 *
 * Differs from the printed listing:
 *  - BACKLOG is parsed strictly (no atoi);
 *  - the stop flag is a volatile sig_atomic_t set by a sigaction handler,
 *    waited for with sigsuspend() instead of a sleep(1) loop;
 *  - every call is checked; the socket is closed on the way out.
 */
#include "hpsp.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT BACKLOG";
static const char HELP[] =
    "Bind IP:PORT, listen(BACKLOG), and never accept: connections queue up\n"
    "until SIGINT/SIGTERM.  Watch them with `ss -tan` and `ss -ltn`.\n"
    "PORT 0 lets the kernel choose; the chosen port is announced.\n";

static const char SOMAXCONN_PATH[] = "/proc/sys/net/core/somaxconn";

static volatile sig_atomic_t stop_signal;

static void
print_backlog(long backlog)
{
    FILE *f = fopen(SOMAXCONN_PATH, "r");
    long somaxconn;

    if (f != NULL && fscanf(f, "%ld", &somaxconn) == 1) {
        printf("backlog: %ld (net.core.somaxconn: %ld)\n", backlog, somaxconn);
        if (backlog > somaxconn)
            printf("note: the kernel caps the backlog at %ld\n", somaxconn);
    } else {
        printf("backlog: %ld (net.core.somaxconn: unknown)\n", backlog);
    }
    if (f != NULL)
        fclose(f);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    sigset_t wait_mask;
    long backlog;
    int argi, fd;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 3, 3);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    backlog = hp_parse_long(argv[argi + 2], 0, INT_MAX, "backlog");
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    /*
     * Block the stop signals before installing the handler: they can then
     * only be delivered inside sigsuspend(), so one that arrives early is
     * not lost between testing the flag and going to sleep.
     */
    if (hp_block_term(&stop_signal, &wait_mask) < 0)
        hp_die("blocking SIGINT and SIGTERM");

    print_backlog(backlog);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        hp_die("socket");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        hp_die("bind %s", addr_text);
    if (listen(fd, (int)backlog) < 0)
        hp_die("listen");
    if (hp_announce_listener(fd) < 0)
        hp_die("getsockname");

    /* Never accept(): the kernel completes handshakes on its own. */
    while (!stop_signal)
        sigsuspend(&wait_mask);

    printf("stopped by signal %d\n", (int)stop_signal);
    close(fd);
    return 0;
}
