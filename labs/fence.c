/*
 * fence.c - hpsp-fence: run one command of an untrusted lab submission
 * fenced, in this very process (no fork), for mk/grade.py.
 *
 * Usage:   hpsp-fence -u UID [-g GID] [-c CGROUP]... [-d DIR] [-H DIR]...
 *                     [-w DIR]... [-r] [-t CPU_S] [-m AS_MB] [-f FSIZE_KB]
 *                     [-n NPROC] [-o NOFILE] -- PROG [ARG]...
 *
 * Run as root.  In order, before execve(PROG):
 *  - joins each cgroup CGROUP (directories the driver made: one with
 *    pids.max set, one with a CPU quota), so the command and all it
 *    forks count there;
 *  - a mount namespace of its own, every mount private: what follows is
 *    seen by this process and its children only;
 *  - each -H DIR is covered by an empty read-only tmpfs (the repository:
 *    the reference answer, the tests, build/); -r makes every mount
 *    read-only but the one the working directory is on (the scratch
 *    tmpfs); then each -w DIR gets a fresh writable tmpfs of 16 MiB
 *    (/dev/shm), so the only places a submission can write are the
 *    scratch directory and the -w ones, each of bounded size;
 *  - rlimits: CPU seconds, address space, file size, processes of the
 *    uid, descriptors, and no core files;
 *  - working directory DIR (the submission's scratch directory);
 *  - no new privileges (a set-user-id program stays unprivileged), then
 *    setgroups, setgid, setuid to UID (GID defaults to UID), checked.
 * The pid stays the same, so whoever started us (the harness: its strace
 * and /proc checks, its kill of the process group) sees the program.
 * A failure of any step prints "hpsp-fence: what: strerror" and exits 1
 * without running PROG: an unfenced run never happens.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const char SYNOPSIS[] =
    "-u UID [-g GID] [-c CGROUP]... [-d DIR] [-H DIR]... [-w DIR]... [-r]\n"
    "       [-t CPU_S] [-m AS_MB] [-f FSIZE_KB] [-n NPROC] [-o NOFILE]"
    " -- PROG [ARG]...";
static const char HELP[] =
    "Fence this process, then become PROG (same pid).  Run as root.\n"
    "  -u UID     run PROG as this uid (not 0); -g GID its group\n"
    "  -c CGROUP  join this cgroup directory first (repeatable)\n"
    "  -d DIR     working directory of PROG\n"
    "  -H DIR     hide DIR under an empty read-only tmpfs (repeatable)\n"
    "  -w DIR     a fresh writable 16 MiB tmpfs over DIR (repeatable)\n"
    "  -r         every mount read-only, but the one -d DIR is on\n"
    "  -t CPU_S   RLIMIT_CPU seconds (default 10)\n"
    "  -m AS_MB   RLIMIT_AS in MiB, 0: unlimited (default 512)\n"
    "  -f FSIZE_KB RLIMIT_FSIZE in KiB (default 16384)\n"
    "  -n NPROC   RLIMIT_NPROC of the uid (default 64)\n"
    "  -o NOFILE  RLIMIT_NOFILE (default 256)\n";

enum { MAX_DIRS = 16 };

struct fence {
    long uid, gid;
    const char *workdir;
    const char *cgroup[MAX_DIRS], *hide[MAX_DIRS], *tmp[MAX_DIRS];
    int ncgroup, nhide, ntmp;
    bool ro_root;
    long cpu_s, as_mb, fsize_kb, nproc, nofile;
};

/* Join the cgroup DIR: our pid into its cgroup.procs (v1 and v2 alike). */
static void
join_cgroup(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        hp_die("open %s", path);
    if (dprintf(fd, "%d\n", (int)getpid()) < 0)
        hp_die("join the cgroup %s", dir);
    close(fd);
}

static void
mount_tmpfs(const char *dir, unsigned long flags, const char *opts)
{
    if (mount("tmpfs", dir, "tmpfs", flags | MS_NOSUID | MS_NODEV, opts) < 0)
        hp_die("mount a tmpfs over %s", dir);
}

/* A mount point from /proc/self/mountinfo, its octal escapes (\040 for
 * a space) undone in place. */
static char *
unescape(char *s)
{
    char *o = s;
    for (char *i = s; *i; o++) {
        if (i[0] == '\\' && i[1] >= '0' && i[1] <= '3' && i[2] >= '0' &&
            i[2] <= '7' && i[3] >= '0' && i[3] <= '7') {
            *o = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
            i += 4;
        } else {
            *o = *i++;
        }
    }
    *o = '\0';
    return s;
}

/* Is PATH at or below the mount point MP? */
static bool
under(const char *path, const char *mp)
{
    size_t n = strlen(mp);
    if (strcmp(mp, "/") == 0)
        return true;
    return strncmp(path, mp, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* -r: every mount this namespace sees made read-only, except the one the
 * working directory KEEP lies on (the scratch tmpfs).  / alone is not
 * enough: /tmp, /var/tmp or /dev/shm may be file systems of their own (a
 * fresh Debian machine's /tmp is), and a submission would fill them.  A
 * bind remount changes only the per-mount flags, and clears those it is
 * not given: nosuid, nodev, noexec and the atime ones are kept. */
static void
seal_mounts(const char *keep)
{
    char real[4096], line[8192], *mps[512];
    int n = 0;
    const char *keep_mp = NULL;

    if (!keep || !realpath(keep, real))
        hp_die("-r needs a working directory (-d) on a mount of its own");
    FILE *in = fopen("/proc/self/mountinfo", "re");
    if (!in)
        hp_die("open /proc/self/mountinfo");
    /* "ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS ...": the 5th field */
    while (fgets(line, sizeof line, in)) {
        char *f = line;
        for (int i = 0; i < 4 && f; i++)
            f = strchr(f + 1, ' ');
        if (!f)
            continue;
        f[strcspn(f + 1, " ") + 1] = '\0';
        if (n == (int)(sizeof mps / sizeof mps[0]))
            hp_die("more than %d mounts to make read-only", n);
        if (!(mps[n] = strdup(unescape(f + 1))))
            hp_die("strdup");
        if (under(real, mps[n]) &&
            (!keep_mp || strlen(mps[n]) > strlen(keep_mp)))
            keep_mp = mps[n];
        n++;
    }
    fclose(in);
    if (!keep_mp || strcmp(keep_mp, "/") == 0)
        hp_die("-r: %s is not on a mount of its own", real);
    for (int i = 0; i < n; i++) {
        struct statvfs sv;
        if (strcmp(mps[i], keep_mp) == 0 || statvfs(mps[i], &sv) < 0 ||
            (sv.f_flag & ST_RDONLY))
            continue; /* kept; gone or hidden under another; already so */
        unsigned long fl = MS_REMOUNT | MS_BIND | MS_RDONLY;
        fl |= (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) |
              (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
              (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) |
              (sv.f_flag & ST_NOATIME ? MS_NOATIME : 0) |
              (sv.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0) |
              (sv.f_flag & ST_RELATIME ? MS_RELATIME : 0);
        if (mount("none", mps[i], "none", fl, NULL) < 0)
            hp_die("make %s read-only", mps[i]);
    }
    for (int i = 0; i < n; i++)
        free(mps[i]);
}

static void
build_walls(const struct fence *f)
{
    if (unshare(CLONE_NEWNS) < 0)
        hp_die("unshare (a mount namespace)");
    /* private: otherwise a mount below would propagate back to the
     * namespace we came from (where / is shared, as under systemd).  The
     * kernel ignores source and type here and in the remount below;
     * strings rather than NULL keep valgrind quiet */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
        hp_die("make the mounts private");
    for (int i = 0; i < f->nhide; i++)
        mount_tmpfs(f->hide[i], MS_RDONLY | MS_NOEXEC, "size=4k,mode=0555");
    if (f->ro_root)
        seal_mounts(f->workdir);
    /* after the seal: these fresh ones stay writable, each bounded */
    for (int i = 0; i < f->ntmp; i++)
        mount_tmpfs(f->tmp[i], 0, "size=16m,mode=1777");
}

/* Soft and hard limit VALUE.  Valgrind (which may run us) refuses a hard
 * RLIMIT_NOFILE below the descriptors it keeps: the soft one still
 * holds what it starts, so that alone is set then. */
static void
limit(int resource, const char *name, rlim_t value)
{
    struct rlimit rl = {value, value};
    if (setrlimit(resource, &rl) == 0)
        return;
    if (errno != EPERM || getrlimit(resource, &rl) < 0 || rl.rlim_max < value)
        hp_die("setrlimit %s %lu", name, (unsigned long)value);
    rl.rlim_cur = value;
    if (setrlimit(resource, &rl) < 0)
        hp_die("setrlimit %s %lu (soft)", name, (unsigned long)value);
}

static void
set_limits(const struct fence *f)
{
    /* the soft CPU limit sends SIGXCPU, which a program may catch; the
     * hard one a second later kills */
    struct rlimit cpu = {(rlim_t)f->cpu_s, (rlim_t)f->cpu_s + 1};
    if (setrlimit(RLIMIT_CPU, &cpu) < 0)
        hp_die("setrlimit RLIMIT_CPU");
    if (f->as_mb)
        limit(RLIMIT_AS, "RLIMIT_AS", (rlim_t)f->as_mb << 20);
    limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", (rlim_t)f->fsize_kb << 10);
    limit(RLIMIT_NPROC, "RLIMIT_NPROC", (rlim_t)f->nproc);
    limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", (rlim_t)f->nofile);
    limit(RLIMIT_CORE, "RLIMIT_CORE", 0);
}

static void
drop_privileges(const struct fence *f)
{
    gid_t gid = (gid_t)f->gid;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        hp_die("prctl PR_SET_NO_NEW_PRIVS");
    /* groups first: once the uid is not 0 they can no longer change */
    if (setgroups(1, &gid) < 0)
        hp_die("setgroups");
    if (setgid(gid) < 0)
        hp_die("setgid %ld", f->gid);
    if (setuid((uid_t)f->uid) < 0)
        hp_die("setuid %ld", f->uid);
    if (getuid() == 0 || geteuid() == 0 || getegid() != gid || setuid(0) == 0)
        hp_diex("still privileged (uid %d, gid %d): not running it",
                (int)geteuid(), (int)getegid());
}

static void
add_dir(const char **dirs, int *n, const char *dir)
{
    if (*n == MAX_DIRS)
        hp_bad_usage("at most %d directories per option", MAX_DIRS);
    if (dir[0] != '/')
        hp_bad_usage("%s: not an absolute path", dir);
    dirs[(*n)++] = dir;
}

int
main(int argc, char **argv)
{
    struct fence f = {.uid = -1,
                      .gid = -1,
                      .cpu_s = 10,
                      .as_mb = 512,
                      .fsize_kb = 16384,
                      .nproc = 64,
                      .nofile = 256};
    int opt;
    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hu:g:c:d:H:w:rt:m:f:n:o:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'u':
            f.uid = hp_parse_long(optarg, 1, 0x7fffffff, "uid");
            break;
        case 'g':
            f.gid = hp_parse_long(optarg, 1, 0x7fffffff, "gid");
            break;
        case 'c':
            add_dir(f.cgroup, &f.ncgroup, optarg);
            break;
        case 'd':
            f.workdir = optarg;
            break;
        case 'H':
            add_dir(f.hide, &f.nhide, optarg);
            break;
        case 'w':
            add_dir(f.tmp, &f.ntmp, optarg);
            break;
        case 'r':
            f.ro_root = true;
            break;
        case 't':
            f.cpu_s = hp_parse_long(optarg, 1, 3600, "CPU seconds");
            break;
        case 'm':
            f.as_mb = hp_parse_long(optarg, 0, 1L << 20, "MiB of memory");
            break;
        case 'f':
            f.fsize_kb = hp_parse_long(optarg, 1, 1L << 30, "KiB per file");
            break;
        case 'n':
            f.nproc = hp_parse_long(optarg, 1, 1L << 20, "processes");
            break;
        case 'o':
            f.nofile = hp_parse_long(optarg, 8, 1L << 20, "descriptors");
            break;
        default:
            hp_usage(2);
        }
    }
    if (f.uid < 0)
        hp_bad_usage("-u UID is required");
    if (optind >= argc)
        hp_bad_usage("no command to run");
    if (f.gid < 0)
        f.gid = f.uid;
    if (geteuid() != 0)
        hp_diex("must run as root (it mounts, then drops to uid %ld)", f.uid);

    for (int i = 0; i < f.ncgroup; i++)
        join_cgroup(f.cgroup[i]);
    build_walls(&f);
    if (f.workdir && chdir(f.workdir) < 0)
        hp_die("chdir %s", f.workdir);
    /* last before the uid: within the limits only setuid and execve
     * can still fail */
    set_limits(&f);
    drop_privileges(&f);
    execv(argv[optind], argv + optind);
    hp_die("execve %s", argv[optind]);
}
