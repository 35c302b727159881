/*
 * show_uids.c - Listing 7-1: the real and the effective user id.
 *
 * Usage:   show_uids
 *
 * Shows:   getuid() is who started the process, geteuid() is whose rights
 *          it has now.  They differ in a set-user-id program: exec gives it
 *          the file owner's id as effective (and saved) id, while the real
 *          id stays the caller's.  getresuid() adds the saved set-user-id,
 *          the copy that lets such a program drop its rights and take them
 *          back later.
 *
 * Look at: run it plainly: the three ids are yours.  Then, as root:
 *              cp show_uids /var/tmp/su && chown nobody /var/tmp/su &&
 *              chmod 4755 /var/tmp/su && /var/tmp/su
 *          real 0, effective 65534, saved 65534.  The set-user-id bit is
 *          ignored on a mount with nosuid and under no_new_privs (also under
 *          strace and valgrind, which do not exec the program the usual
 *          way).
 *
 * Peer:    none.
 *
 * Differs from the printed listing:
 *  - uid_t is unsigned and printed with %u, not %d;
 *  - the saved set-user-id (getresuid) is printed too.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <stdio.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h]";
static const char HELP[] =
    "Print the real, effective and saved user ids of this process.  Make a\n"
    "set-user-id copy (chown USER; chmod 4755) to see them differ.\n";

int
main(int argc, char **argv)
{
    uid_t ruid, euid, suid;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    hp_positional(argc, argv, 0, 0);

    /* The book's two calls ... */
    printf("real uid: %u\n", (unsigned)getuid());
    printf("effective uid: %u\n", (unsigned)geteuid());

    /* ... and the one that also shows the saved set-user-id. */
    if (getresuid(&ruid, &euid, &suid) < 0)
        hp_die("getresuid");
    printf("saved set-user-id: %u\n", (unsigned)suid);
    return 0;
}
