/*
 * byte_order.c - Listing 5-1: is this host big endian or little endian?
 *
 * Usage:   byte_order
 *
 * Shows:   the 16-bit value 0x0102 is stored in a union that overlays two
 *          chars; whichever byte sits first in memory tells the host's byte
 *          order.  For contrast it also dumps htons(0x0102): network byte
 *          order is big endian on every host, so that is always "01 02".
 *
 * Look at: "little endian" on x86-64 and on (little-endian) arm64; on such a
 *          host the two dumps differ, on a big-endian host they agree and
 *          htons() is a no-op.
 *
 * Peer:    none.
 *
 * Differs from the printed listing:
 *  - the book gives only the function; this adds main() and the htons()
 *    dump;
 *  - nothing needed fixing: reading the union member not last written is
 *    defined behaviour in C.
 */
#include "hpsp.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char SYNOPSIS[] = "[-h]";
static const char HELP[] =
    "Store 0x0102 in a short and look at its bytes: which comes first in\n"
    "memory is the host's byte order.  Then show htons(0x0102), which is\n"
    "network (big-endian) order on every host.\n";

static const char *
host_byte_order(void)
{
    union {
        short value;
        char bytes[sizeof(short)];
    } probe;

    probe.value = 0x0102;
    if (probe.bytes[0] == 1 && probe.bytes[1] == 2)
        return "big endian";
    if (probe.bytes[0] == 2 && probe.bytes[1] == 1)
        return "little endian";
    return "unknown";
}

static void
dump16(const char *what, uint16_t v)
{
    unsigned char b[sizeof v];

    memcpy(b, &v, sizeof v);
    printf("%s in memory: %02x %02x\n", what, b[0], b[1]);
}

int
main(int argc, char **argv)
{
    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    hp_positional(argc, argv, 0, 0);

    printf("byte order: %s\n", host_byte_order());
    dump16("0x0102", 0x0102);
    dump16("htons(0x0102)", htons(0x0102));
    return 0;
}
