/*
 * switch_user.c - Listing 7-2: a server started as root switches to an
 * unprivileged user for good.
 *
 * Usage:   switch_user [-b] USER GROUP        (names or numbers)
 *
 * Shows:   the order that works: drop the supplementary groups (setgroups,
 *          or initgroups for a user given by name), then setgid, then
 *          setuid - once setuid has given up root, neither setgid nor
 *          setgroups is allowed any more.  Called with an effective uid of
 *          0, setuid() changes all three uids, real, effective and saved,
 *          so root cannot be taken back: the program proves it by trying
 *          setuid(0) afterwards.
 *
 * Look at: as root, `switch_user 65534 65534`: before, uid/gid 0 and root's
 *          groups; after, all six ids 65534, no supplementary groups, and
 *          setuid(0) fails with EPERM.  With -b (the book's way: no setgroups)
 *          root's supplementary groups, group 0 among them, are still there
 *          after the switch.  Not root: only the ids you already have are
 *          accepted ("nothing to change"); 0 0 is always refused.
 *
 * Peer:    none.
 *
 * Differs from the printed listing:
 *  - the book never drops the supplementary groups, so root's group list
 *    (group 0 ...) survives; here setgroups/initgroups come first (-b shows
 *    the book's way);
 *  - every call is checked, names are looked up, the ids are printed
 *    before and after;
 *  - as in the book, "root?" looks at the real uid, so a set-user-id-root
 *    copy is refused: deliberate, it is not a sudo.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-b] USER GROUP";
static const char HELP[] =
    "Switch from root to USER and GROUP (names or numbers) for good, and\n"
    "show the real/effective/saved ids and the supplementary groups before\n"
    "and after; then try to regain root with setuid(0).  Exit 1 if refused.\n"
    "  -b  as the printed listing: keep the supplementary groups (its bug)\n";

/* The highest id: (uid_t)-1 means "unchanged" to the set*id calls. */
#define MAX_ID 4294967294L

static void
show_ids(const char *when)
{
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    gid_t *groups;
    int n;

    if (getresuid(&ruid, &euid, &suid) < 0 ||
        getresgid(&rgid, &egid, &sgid) < 0)
        hp_die("getresuid/getresgid");
    printf("%s: uid real %u effective %u saved %u\n", when, (unsigned)ruid,
           (unsigned)euid, (unsigned)suid);
    printf("%s: gid real %u effective %u saved %u\n", when, (unsigned)rgid,
           (unsigned)egid, (unsigned)sgid);

    n = getgroups(0, NULL);
    if (n < 0)
        hp_die("getgroups");
    groups = calloc(n ? (size_t)n : 1, sizeof *groups);
    if (groups == NULL)
        hp_die("calloc");
    n = getgroups(n, groups);
    if (n < 0)
        hp_die("getgroups");
    printf("%s: supplementary groups:", when);
    for (int i = 0; i < n; i++)
        printf(" %u", (unsigned)groups[i]);
    printf("%s\n", n == 0 ? " (none)" : "");
    free(groups);
}

/*
 * The listing's function.  USER_NAME is the target's login name when it
 * was given by name (its groups come from /etc/group), else NULL.
 * KEEP_GROUPS skips step 1, as the book does.  Returns true when the
 * process now runs as UID/GID.
 */
static bool
switch_to_user(uid_t uid, gid_t gid, const char *user_name, bool keep_groups)
{
    if (uid == 0 && gid == 0) {
        hp_warnx("refusing to switch to uid 0 gid 0: that is root itself");
        return false;
    }
    /* already the target (started unprivileged): nothing to do */
    if (getuid() == uid && getgid() == gid) {
        printf("already uid %u gid %u: nothing to change\n", (unsigned)uid,
               (unsigned)gid);
        return true;
    }
    if (getuid() != 0) {
        hp_warnx("only root can switch to another user (real uid is %u)",
                 (unsigned)getuid());
        return false;
    }

    /* 1. the supplementary groups: root's group list must not survive */
    if (keep_groups) {
        printf("no setgroups (-b): the supplementary groups stay\n");
    } else if (user_name != NULL) {
        if (initgroups(user_name, gid) < 0)
            hp_die("initgroups %s", user_name);
        printf("initgroups(\"%s\", %u): the groups of %s\n", user_name,
               (unsigned)gid, user_name);
    } else {
        if (setgroups(0, NULL) < 0)
            hp_die("setgroups");
        printf("setgroups(0, NULL): no supplementary groups\n");
    }
    /* 2. the group, while we still may */
    if (setgid(gid) < 0)
        hp_die("setgid %u", (unsigned)gid);
    printf("setgid(%u): ok\n", (unsigned)gid);
    /* 3. the user, last: as root this sets real, effective and saved */
    if (setuid(uid) < 0)
        hp_die("setuid %u", (unsigned)uid);
    printf("setuid(%u): ok\n", (unsigned)uid);
    return true;
}

static bool
is_number(const char *s)
{
    return isdigit((unsigned char)s[0]);
}

int
main(int argc, char **argv)
{
    const char *user, *group, *user_name = NULL;
    bool keep_groups = false;
    uid_t uid;
    gid_t gid;
    int opt;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hb")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'b':
            keep_groups = true;
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    user = argv[optind];
    group = argv[optind + 1];

    if (is_number(user)) {
        uid = (uid_t)hp_parse_long(user, 0, MAX_ID, "USER");
    } else {
        struct passwd *pw = getpwnam(user);
        if (pw == NULL)
            hp_diex("no such user '%s'", user);
        uid = pw->pw_uid;
        user_name = user;
    }
    if (is_number(group)) {
        gid = (gid_t)hp_parse_long(group, 0, MAX_ID, "GROUP");
    } else {
        struct group *gr = getgrnam(group);
        if (gr == NULL)
            hp_diex("no such group '%s'", group);
        gid = gr->gr_gid;
    }

    show_ids("before");
    if (!switch_to_user(uid, gid, user_name, keep_groups))
        return 1;
    show_ids("after");

    /* The proof: with all three uids changed, root is gone for good. */
    if (setuid(0) == 0) {
        printf("setuid(0): succeeded - this process can still become "
               "root\n");
    } else {
        int err = errno;
        const char *name = strerrorname_np(err);
        printf("setuid(0): %s (%s)\n", strerror(err), name ? name : "?");
    }
    return 0;
}
