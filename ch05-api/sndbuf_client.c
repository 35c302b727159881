/*
 * sndbuf_client.c - Listing 5-10: set the TCP send buffer size (SO_SNDBUF).
 *
 * Usage:   sndbuf_client IP PORT SIZE
 *
 * Shows:   asks for a SIZE-byte send buffer with setsockopt(SO_SNDBUF)
 *          before connecting, reads the value back with getsockopt(), then
 *          connects, sends 512 bytes of 'a' and closes.
 *
 * Look at: the value read back is not SIZE.  The kernel doubles the request
 *          (the extra half is its bookkeeping), caps it at 2 x
 *          net.core.wmem_max and raises it to a floor that depends on
 *          sizeof(struct sk_buff): 4608 on current x86-64 kernels, so 2000
 *          gives 4608 and 5000 gives 10000.  The book's figures come from an
 *          older kernel.  Asking for 0 shows the floor.
 *
 * Peer:    rcvbuf_server (Listing 5-11), or any server that reads, e.g.
 *          `nc -l IP PORT`.
 *
 * Differs from the printed listing:
 *  - setsockopt() and getsockopt() are checked and use a socklen_t length;
 *  - SIZE is parsed strictly (no atoi);
 *  - the send is checked, and finished if it is short;
 *  - SIGPIPE is ignored: a vanished server gives an EPIPE message.
 */
#include "hpsp.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] IP PORT SIZE";
static const char HELP[] =
    "Set SO_SNDBUF to SIZE, show what the kernel made of it, connect to\n"
    "IP:PORT and send 512 bytes.  Peer: rcvbuf_server.\n";

enum { DATA_SIZE = 512 };

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    char data[DATA_SIZE];
    size_t sent;
    int size, value;
    socklen_t len = sizeof value;
    int argi, fd;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 3, 3);
    hp_parse_sockaddr(&addr, argv[argi], argv[argi + 1]);
    size = (int)hp_parse_long(argv[argi + 2], 0, INT_MAX, "size");
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);
    signal(SIGPIPE, SIG_IGN);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        hp_die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0)
        hp_die("setsockopt SO_SNDBUF");
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, &len) < 0)
        hp_die("getsockopt SO_SNDBUF");
    printf("SO_SNDBUF: asked for %d, kernel set %d\n", size, value);

    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        hp_die("connect %s", addr_text);
    printf("connected to %s\n", addr_text);

    memset(data, 'a', sizeof data);
    for (sent = 0; sent < sizeof data;) {
        ssize_t n = send(fd, data + sent, sizeof data - sent, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            hp_die("send");
        sent += (size_t)n;
    }
    printf("sent %zu bytes\n", sent);

    close(fd);
    return 0;
}
