/*
 * ch13_test.c - chapter 13, multi-process programming: one scenario per
 * lesson.  So far 13-5, passing a descriptor with SCM_RIGHTS.
 *
 * The proof that a descriptor crossed is taken from outside the program:
 * the harness stats FILE itself and compares st_dev/st_ino with what the
 * receiver's fstat printed, compares the bytes read through the received
 * fd with FILE's, and reads the control messages strace saw.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "hpsp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

enum { READ_SIZE = 1024 }; /* what pass_fd reads through the fd (13-5) */

/* A file of LEN pattern bytes whose identity the harness knows. */
struct known_file {
    char path[256];
    struct stat st;
    const char *data;
    size_t len;
};

static void
make_known_file(struct hh_ctx *c, size_t len, struct known_file *f)
{
    char *text = hh_alloc(c, len + 1);
    for (size_t i = 0; i < len; i++) /* printable, with a newline now and then */
        text[i] = i % 61 == 60 ? '\n' : (char)('a' + (i * 7) % 26);
    text[len] = '\0';
    hh_make_text_file(c, "file", text, f->path, sizeof f->path);
    HH_CHECK(c, stat(f->path, &f->st) == 0, "stat %s", f->path);
    f->data = text;
    f->len = len;
}

/* The receiver's two lines: the fd's identity is FILE's, and what it read
 * through the fd is FILE's first bytes, no more.  Returns the fd number. */
static int
expect_received(struct hh_proc *p, const struct known_file *f)
{
    struct hh_ctx *c = p->ctx;
    hh_expect_line(p, "^received fd ([0-9]+): dev ([0-9]+):([0-9]+) inode "
                      "([0-9]+)$", 3000);
    int fd = atoi(p->groups[1]);
    unsigned long long ino = strtoull(p->groups[4], NULL, 10);
    hh_note(c, "harness: stat %s: dev %u:%u inode %llu", f->path,
            major(f->st.st_dev), minor(f->st.st_dev),
            (unsigned long long)f->st.st_ino);
    HH_CHECK(c, (unsigned)atoi(p->groups[2]) == major(f->st.st_dev) &&
                    (unsigned)atoi(p->groups[3]) == minor(f->st.st_dev) &&
                    ino == (unsigned long long)f->st.st_ino,
             "the received fd is dev %s:%s inode %s, not FILE (%u:%u %llu)",
             p->groups[2], p->groups[3], p->groups[4], major(f->st.st_dev),
             minor(f->st.st_dev), (unsigned long long)f->st.st_ino);

    size_t want = f->len < READ_SIZE ? f->len : READ_SIZE;
    char *quoted = hh_alloc(c, HP_QUOTED_SIZE(READ_SIZE));
    hp_quote(quoted, HP_QUOTED_SIZE(READ_SIZE), f->data, want);
    hh_expect_line(p, "^read ([0-9]+) bytes through it: ", 3000);
    HH_CHECK(c, (size_t)atoi(p->groups[1]) == want,
             "read %s bytes through the fd, FILE holds %zu (want %zu)",
             p->groups[1], f->len, want);
    /* the whole line, from the program's stdout (p->line is cut short) */
    char head[64];
    snprintf(head, sizeof head, "read %zu bytes through it: ", want);
    const char *at = memmem(p->out.data, p->out.len, head, strlen(head));
    HH_CHECK(c, at != NULL, "no '%s' line", head);
    at += strlen(head);
    const char *end = memchr(at, '\n', p->out.len - (size_t)(at - p->out.data));
    size_t n = end ? (size_t)(end - at) : 0;
    HH_CHECK(c, n == strlen(quoted) && memcmp(at, quoted, n) == 0,
             "the bytes read through the fd are not FILE's first %zu", want);
    return fd;
}

/* ---- 13-5 -------------------------------------------------------------- */

static void
pass_fd_same_file(struct hh_ctx *c)
{
    struct known_file f;
    make_known_file(c, 100, &f);
    struct hh_proc *p = hh_start(c, "pass_fd", "pass_fd", f.path, NULL);
    hh_expect_line(p, "^child: opened .* as fd ([0-9]+), sending it$", 3000);
    int sent = atoi(p->groups[1]);
    int got = expect_received(p, &f);
    hh_note(c, "the child sent its fd %d, the parent received fd %d: two "
               "numbers, one open file", sent, got);
    hh_expect_exit(p, 0, 3000);
}

/* What the kernel was given and gave back: the control messages. */
static void
pass_fd_syscalls(struct hh_ctx *c)
{
    struct known_file f;
    make_known_file(c, 100, &f);
    struct hh_spawn opt = {.role = "pass_fd",
                           .trace = "trace=sendmsg,recvmsg,read,wait4",
                           .must_trace = true};
    const char *args[] = {f.path, NULL};
    struct hh_proc *p = hh_startv(c, &opt, "pass_fd", args);
    hh_expect_exit(p, 0, 5000);

    size_t pos = 0;
    HH_CHECK(c, hh_trace_next(p, &pos, "sendmsg\\(.*cmsg_len=([0-9]+), "
                                       "cmsg_level=SOL_SOCKET, cmsg_type="
                                       "SCM_RIGHTS, cmsg_data=\\[([0-9]+)\\]"),
             "no sendmsg with SCM_RIGHTS in the trace");
    long long sent = hh_group_ll(p, 2);
    HH_CHECK(c, hh_group_ll(p, 1) == (long long)CMSG_LEN(sizeof(int)),
             "cmsg_len=%s, want CMSG_LEN(sizeof(int)) = %zu", p->groups[1],
             (size_t)CMSG_LEN(sizeof(int)));
    pos = 0;
    HH_CHECK(c, hh_trace_next(p, &pos, "recvmsg.*cmsg_type=SCM_RIGHTS, "
                                       "cmsg_data=\\[([0-9]+)\\]"),
             "no recvmsg that received an SCM_RIGHTS descriptor");
    long long got = hh_group_ll(p, 1);
    char re[64];
    snprintf(re, sizeof re, "^read\\(%lld, .*\\) += ([0-9]+)$", got);
    HH_CHECK(c, hh_trace_next(p, &pos, re),
             "no read through the received fd %lld", got);
    HH_CHECK(c, hh_group_ll(p, 1) == (long long)f.len,
             "read(%lld) returned %s, FILE holds %zu", got, p->groups[1],
             f.len);
    HH_CHECK(c, hh_trace_next(p, &pos, "^wait4\\([0-9]+, .*\\) = [0-9]+$"),
             "the parent never waited for its child");
    hh_note(c, "strace: sendmsg(SCM_RIGHTS, fd %lld), recvmsg -> fd %lld, "
               "read(%lld) = %zu, wait4 reaped the child",
            sent, got, got, f.len);
}

/* Two unrelated processes: the hand-over real servers do. */
static void
pass_fd_unrelated(struct hh_ctx *c)
{
    struct known_file f;
    char sock[256];
    make_known_file(c, 300, &f);
    hh_tmpfile(c, "sock", sock, sizeof sock);
    struct hh_proc *srv = hh_start(c, "server", "pass_fd", "-s", sock, f.path,
                                   NULL);
    hh_expect_line(srv, "^serving .* \\(fd [0-9]+\\) on ", 3000);
    struct hh_proc *cli = hh_start(c, "client", "pass_fd", "-c", sock, NULL);
    expect_received(cli, &f);
    hh_expect_exit(cli, 0, 3000);
    hh_expect_line(srv, "^sent fd [0-9]+ to a client$", 3000);
    hh_expect_exit(srv, 0, 3000);
    HH_CHECK(c, access(sock, F_OK) != 0, "the server left its socket %s",
             sock);
}

/* The book reads 1024 bytes into 1024 and writes a terminator past them;
 * here a file larger than the buffer gives exactly its first 1024 bytes. */
static void
regress_13_5_full_buffer(struct hh_ctx *c)
{
    struct known_file f;
    make_known_file(c, 3 * READ_SIZE, &f);
    struct hh_proc *p = hh_start(c, "pass_fd", "pass_fd", f.path, NULL);
    expect_received(p, &f);
    hh_expect_exit(p, 0, 3000);
}

/* ---- the table --------------------------------------------------------- */

static const struct hh_scenario scenarios[] = {
    {"pass_fd_same_file", "13-5",
     "SCM_RIGHTS: the parent receives the child's open file",
     "the child's fd number and the parent's differ, but fstat gives the "
     "same dev and inode as FILE, and reading it gives FILE's bytes: one "
     "open file, two descriptor tables.",
     0, pass_fd_same_file},
    {"pass_fd_syscalls", "13-5",
     "SCM_RIGHTS in the system calls: sendmsg, recvmsg, a read, wait4",
     "the kernel took fd N from the child's table in sendmsg and installed "
     "a new number in the parent's in recvmsg; cmsg_len is "
     "CMSG_LEN(sizeof(int)).",
     HH_NEED_STRACE, pass_fd_syscalls},
    {"pass_fd_unrelated", "13-5",
     "two unrelated processes pass a descriptor over a named Unix socket",
     "the server opened FILE, the client got its own fd to the same file "
     "through /path/to/sock: how a server hands its sockets to its "
     "successor.",
     0, pass_fd_unrelated},
    {"regress_13_5_full_buffer", "13-5",
     "a file larger than the 1024-byte buffer: exactly its first 1024 bytes",
     "the book writes a terminator one byte past its buffer; here the data "
     "is printed within what read returned.",
     HH_REGRESSION, regress_13_5_full_buffer},
};

static const struct hh_program programs[] = {
    {.name = "pass_fd", .listing = "13-5",
     .syscalls = "trace=sendmsg,recvmsg,read", .flags = HH_PROG_DIES_OF_TERM,
     .args = HH_ARGS_HELP,
     HH_ROWS({{NULL}, 2, HH_USAGE}, {{"a", "b", NULL}, 2, HH_USAGE},
             {{"-s", "x", NULL}, 2, HH_USAGE},
             {{"-c", "x", "y", NULL}, 2, HH_USAGE},
             {{"-s", "a", "-c", "b", "f", NULL}, 2, "exclude each other"},
             /* never a silent fd 0: no file, no descriptor, exit 1 */
             {{"/no/such/file", NULL}, 1,
              "open /no/such/file: .*\\(ENOENT\\)"},
             {{"/", NULL}, 1, "/: not a regular file: .*\\(EISDIR\\)"},
             {{"-s", "/no/such/dir/sock", "/", NULL}, 1,
              "/: not a regular file"},
             {{"-c", "/no/such/socket", NULL}, 1,
              "connect /no/such/socket: .*\\(ENOENT\\)"})},
};

static const struct hh_chapter chapter = {
    .name = "ch13-ipc",
    HH_TABLE(programs),
    HH_TABLE(scenarios),
};

int
main(int argc, char **argv)
{
    return hh_run_chapter(argc, argv, &chapter);
}
