/*
 * read_reference.c - a hostile hand-in for the oob-recv lab
 * (tests/labs_test.c): instead of receiving out-of-band data it tries to
 * read the reference answer and run the reference binary, by the
 * repository's path (the test writes it over REPO below) and by the
 * HPSP_BIN the harness passes on.  Had any exec worked, the reference
 * would have passed every scenario: the test wants 0 points.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPO "/nonexistent" /* written by the test */

static void
try_read(const char *path)
{
    char buf[64];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
    if (n > 0)
        fprintf(stderr, "read_reference: READ %zd bytes of %s\n", n, path);
    else
        fprintf(stderr, "read_reference: open %s: %s\n", path,
                strerrorname_np(errno));
    if (fd >= 0)
        close(fd);
}

static void
try_exec(const char *path, char **argv)
{
    execv(path, argv);
    fprintf(stderr, "read_reference: exec %s: %s\n", path,
            strerrorname_np(errno));
}

int
main(int argc, char **argv)
{
    char path[4096];
    const char *bin = getenv("HPSP_BIN");
    (void)argc;
    try_read(REPO "/ch05-api/oob_recv.c");
    try_read(REPO "/tests/ch05_test.c");
    try_read(REPO "/build/plain/bin/oob_recv");
    if (bin) {
        snprintf(path, sizeof path, "%s/oob_recv", bin);
        try_read(path);
        try_exec(path, argv);
    }
    try_exec(REPO "/build/plain/bin/oob_recv", argv);
    return 1;
}
