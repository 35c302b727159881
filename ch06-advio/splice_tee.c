/*
 * splice_tee.c - Listing 6-5: tee(1) with tee() and splice(), zero copy.
 *
 * Usage:   splice_tee FILE          (stdin and stdout: pipes or files)
 *
 * Shows:   copies stdin to stdout and to FILE without the data entering
 *          this program's memory.  Each round splices stdin into pipe A,
 *          tee()s A into pipe B (tee duplicates pipe contents without
 *          consuming them), splices B to FILE, then splices A to stdout.
 *          Example: `cat big | splice_tee copy | sha256sum`.
 *
 * Look at: strace -e trace=tee,splice shows the rhythm splice, tee, splice,
 *          splice for each chunk, and a last splice from stdin returning 0.
 *
 *          splice() needs a pipe on one side and kernel support on the
 *          other.  A stdout opened with O_APPEND (`>> file`) is refused
 *          with EINVAL, as are stdin /dev/null and a FILE such as /dev/full.
 *          This program does not fall back to read()/write(): it says which
 *          side cannot be spliced and exits 1.  Whether a terminal can be
 *          spliced depends on the kernel, so pipe the input and output.
 *
 * Peer:    the shell: `printf 'hi\n' | splice_tee out.txt | cat`.
 *
 * Differs from the printed listing:
 *  - the book makes one round of at most 32 KB, so longer input is cut
 *    short; this one loops to end of input;
 *  - a tee() or splice() may move less than asked, and tee() always copies
 *    from the front of pipe A: each round moves what tee() gave to FILE,
 *    and the same amount from A to stdout, before the next tee();
 *  - results are checked, and an unspliceable descriptor gets a clear
 *    message instead of a bare EINVAL;
 *  - open() is checked with < 0 (the book's "> 0" rejects fd 0); both
 *    pipes and FILE are closed.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] FILE";
static const char HELP[] =
    "Copy stdin to stdout and to FILE (created or truncated) with splice()\n"
    "and tee(), like tee(1).  stdin and stdout must support splice: pipes\n"
    "and regular files do; stdout in append mode (>>) does not.\n";

enum { PIPE_CHUNK = 65536 }; /* a pipe's default capacity: 16 pages */

/* "a pipe", "a character device" ... for the error messages. */
static const char *
kind_of(int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return "a descriptor fstat() cannot describe";
    switch (st.st_mode & S_IFMT) {
    case S_IFIFO:
        return "a pipe";
    case S_IFREG:
        return "a regular file";
    case S_IFCHR:
        return "a character device";
    case S_IFSOCK:
        return "a socket";
    case S_IFDIR:
        return "a directory";
    default:
        return "a special file";
    }
}

/*
 * splice() failed on NAME (fd FD).  EINVAL there means the descriptor
 * itself cannot take part in a splice: say so in words.
 */
static void
die_splice(const char *verb, const char *name, int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (errno != EINVAL)
        hp_die("splice %s %s", verb, name);
    if (flags >= 0 && (flags & O_APPEND))
        hp_diex("cannot splice %s %s: it is open in append mode (>>), "
                "which splice() refuses (EINVAL); use > or a pipe",
                verb, name);
    hp_diex("cannot splice %s %s: %s that the kernel cannot splice %s "
            "(EINVAL); use a pipe or a regular file",
            verb, name, kind_of(fd), verb);
}

/*
 * Move exactly LEN bytes from pipe FROM to TO, named NAME in messages.
 * No SPLICE_F_MORE on the way out: to a socket it would mean MSG_MORE, and
 * TCP would hold back the last short chunk.
 */
static void
splice_all(int from, int to, size_t len, const char *name)
{
    while (len > 0) {
        ssize_t n = splice(from, NULL, to, NULL, len, SPLICE_F_MOVE);
        if (n < 0)
            die_splice("to", name, to);
        len -= (size_t)n;
    }
}

int
main(int argc, char **argv)
{
    const char *path;
    int a[2], b[2], argi, filefd, flags;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    argi = hp_positional(argc, argv, 1, 1);
    path = argv[argi];

    /* Refuse >> before consuming any input (see die_splice). */
    flags = fcntl(STDOUT_FILENO, F_GETFL);
    if (flags < 0)
        hp_die("stdout");
    if (flags & O_APPEND) {
        errno = EINVAL;
        die_splice("to", "stdout", STDOUT_FILENO);
    }
    filefd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (filefd < 0)
        hp_die("open %s", path);
    if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0)
        hp_die("pipe2");

    for (;;) {
        /* stdin -> A: whatever is there, up to a pipeful */
        ssize_t n = splice(STDIN_FILENO, NULL, a[1], NULL, PIPE_CHUNK,
                           SPLICE_F_MORE | SPLICE_F_MOVE);
        if (n < 0)
            die_splice("from", "stdin", STDIN_FILENO);
        if (n == 0)
            break; /* end of input */
        while (n > 0) {
            /* A -> B without consuming A: a copy of its first t bytes */
            ssize_t t = tee(a[0], b[1], (size_t)n, 0);
            if (t < 0)
                hp_die("tee");
            /* B -> FILE, then the same t bytes out of A -> stdout */
            splice_all(b[0], filefd, (size_t)t, path);
            splice_all(a[0], STDOUT_FILENO, (size_t)t, "stdout");
            n -= t;
        }
    }
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    if (close(filefd) < 0)
        hp_die("close %s", path);
    return 0;
}
