/*
 * oob_send.c - Listing 5-6: send out-of-band (urgent) data with MSG_OOB.
 *
 * Usage:   oob_send IP PORT
 *
 * Shows:   three sends on one connection: "123" as normal data, "abc" with
 *          MSG_OOB, "123" as normal data.  TCP has a single urgent pointer,
 *          so only the last byte of an MSG_OOB send, 'c', is urgent; "ab"
 *          travel as ordinary data.
 *
 * Look at: `tcpdump -i lo -n tcp port PORT`: three data segments, and only
 *          the middle one has the URG flag, "Flags [P.U] ... urg 3, length
 *          3" - the urgent pointer points just past the 'c'.  The receiver
 *          reads "123ab", then 'c' out of band, then "123".
 *
 * Peer:    oob_recv (Listing 5-7), select_oob_recv (Listing 9-1).
 *
 * Differs from the printed listing:
 *  - a failed connect() exits 1 with the reason (the book carries on and
 *    exits 0);
 *  - each send() is checked, and a short send is an error too;
 *  - SIGPIPE is ignored: a vanished receiver gives an EPIPE message, not a
 *    silent death.
 */
#include "hpsp.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT";
static const char HELP[] =
    "Connect to IP:PORT and send \"123\", \"abc\" with MSG_OOB, \"123\".\n"
    "Only the 'c' is urgent.  Receive with oob_recv.\n";

static const char NORMAL_DATA[] = "123";
static const char URGENT_DATA[] = "abc";

/* One send() of all of TEXT, or exit 1: a partial send is an error here. */
static void
send_text(int fd, const char *text, int flags, const char *how)
{
    size_t len = strlen(text);
    ssize_t n = send(fd, text, len, flags);

    if (n < 0)
        hp_die("send \"%s\"", text);
    if ((size_t)n != len)
        hp_diex("send \"%s\": only %zd of %zu bytes went", text, n, len);
    printf("sent %zd bytes %s: \"%s\"\n", n, how, text);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    int argi, fd;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 2, 2);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    signal(SIGPIPE, SIG_IGN);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        hp_die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        hp_die("connect %s", addr_text);
    printf("connected to %s\n", addr_text);

    send_text(fd, NORMAL_DATA, 0, "of normal data");
    send_text(fd, URGENT_DATA, MSG_OOB, "with MSG_OOB");
    send_text(fd, NORMAL_DATA, 0, "of normal data");

    close(fd);
    return 0;
}
