/*
 * daytime_client.c - Listing 5-12: look up a host and a service, then ask a
 * daytime server (RFC 867) for the time.
 *
 * Usage:   daytime_client [-p PORT] HOST
 *
 * Shows:   getaddrinfo() turns a host name and the service name "daytime"
 *          into addresses, port 13 from /etc/services; the client connects
 *          to the first address that answers and prints what the server
 *          sends, up to EOF.
 *
 * Look at: "daytime service: port 13" comes from /etc/services (package
 *          netbase).  Few systems still run a daytime server (inetd is
 *          gone), and serving port 13 needs root, so -p PORT talks to a
 *          stand-in on another port, e.g.
 *              while :; do date | nc -l 127.0.0.1 1313; done
 *              daytime_client -p 1313 localhost
 *
 * Peer:    a daytime server; the test runs a stub that writes one ctime-style
 *          line and closes.
 *
 * Differs from the printed listing:
 *  - getaddrinfo() replaces gethostbyname() and getservbyname(): no asserts
 *    on the lookups, every address is tried; socket() is checked;
 *  - the book reads up to 128 bytes into a 128-byte buffer and writes its
 *    terminator one past the end; here the reply is read to EOF, bounded;
 *  - -p is new.
 */
#include "hpsp.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-p PORT] HOST";
static const char HELP[] =
    "Resolve HOST and the \"daytime\" service (or use -p PORT), connect, and\n"
    "print the server's reply as the time of day.\n";

enum { REPLY_MAX = 4096 }; /* reply bytes kept; the rest is counted */
enum { SPILL_SIZE = 512 }; /* scratch buffer for bytes past REPLY_MAX */

static void
die_freeing(struct addrinfo *res, const char *what, const char *addr_text)
{
    int err = errno;

    freeaddrinfo(res);
    errno = err;
    hp_die("%s %s", what, addr_text);
}

int
main(int argc, char **argv)
{
    const char *host, *service = "daytime";
    char port_text[sizeof "65535"];
    struct addrinfo hints, *res, *ai;
    char addr_text[HP_ADDRSTRLEN];
    char reply[REPLY_MAX], spill[SPILL_SIZE];
    size_t kept = 0, cut = 0;
    int opt, rc, fd = -1;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hp:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'p':
            snprintf(port_text, sizeof port_text, "%ld",
                     hp_parse_long(optarg, 1, 65535, "port"));
            service = port_text;
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 1)
        hp_usage(2);
    host = argv[optind];

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc == EAI_SERVICE && service != port_text)
        hp_diex("no \"daytime\" service in /etc/services "
                "(install netbase, or give -p PORT)");
    if (rc == EAI_SYSTEM)
        hp_die("cannot resolve '%s'", host);
    if (rc != 0)
        hp_diex("cannot resolve '%s': %s", host, gai_strerror(rc));
    printf("daytime service: port %u\n",
           (unsigned)ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port));

    for (ai = res; ai != NULL; ai = ai->ai_next) {
        hp_addr_str(ai->ai_addr, addr_text, sizeof addr_text);
        printf("connecting to %s\n", addr_text);
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            die_freeing(res, "socket for", addr_text);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (ai->ai_next == NULL) {
            int err = errno;
            close(fd);
            errno = err;
            die_freeing(res, "connect", addr_text);
        }
        hp_warn("connect %s", addr_text);
        close(fd);
    }
    freeaddrinfo(res);

    /* Keep the first REPLY_MAX bytes; count, but drop, any more. */
    for (;;) {
        int full = kept == sizeof reply;
        ssize_t n = recv(fd, full ? spill : reply + kept,
                         full ? sizeof spill : sizeof reply - kept, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            hp_die("recv");
        if (n == 0)
            break;
        if (full)
            cut += (size_t)n;
        else
            kept += (size_t)n;
    }
    close(fd);
    if (cut > 0)
        hp_warnx("reply longer than %zu bytes: the last %zu bytes were cut",
                 sizeof reply, cut);

    fputs("the time is: ", stdout);
    fwrite(reply, 1, kept, stdout);
    if (kept == 0 || reply[kept - 1] != '\n')
        putchar('\n');
    if (fflush(stdout) == EOF || ferror(stdout))
        hp_die("write to stdout");
    return 0;
}
