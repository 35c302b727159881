/*
 * disk_filler.c - a hostile hand-in for the oob-recv lab
 * (tests/labs_test.c): writes files until the sandbox says no, in its
 * working directory (RLIMIT_FSIZE: EFBIG; then the scratch tmpfs is full:
 * ENOSPC) and outside it (/tmp, /var/tmp: read-only for it).  It reports
 * each file's size as the kernel gives it (fstat) on stderr, which ends up
 * in the transcript the test reads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char block[1 << 16];

static void
fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "disk_filler: open %s: %s\n", path,
                strerrorname_np(errno));
        return;
    }
    while (write(fd, block, sizeof block) > 0)
        ;
    int err = errno;
    struct stat st;
    fstat(fd, &st);
    fprintf(stderr, "disk_filler: %s: %lld bytes, then %s\n", path,
            (long long)st.st_size, strerrorname_np(err));
    close(fd);
}

int
main(void)
{
    char name[64];
    signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of death */
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "fill.%d", i);
        fill(name);
    }
    fill("/tmp/hpsp-hostile-fill");
    fill("/var/tmp/hpsp-hostile-fill");
    return 1;
}
