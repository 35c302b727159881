/*
 * hpsp.h - the little every hpsp program shares, and nothing more.
 *
 * What lives here is boilerplate, never the lesson: messages and exit
 * codes, strict argument parsing (one duration syntax among it), address
 * formatting, the "listening on" announcement, the loop that finishes
 * partial writes, one way to quote bytes.  Every name has the hp_ prefix
 * so nobody mistakes a helper for a system call.  The header includes
 * only what its own prototypes need: a program that uses epoll
 * still includes <sys/epoll.h> itself, where the reader sees it.
 *
 * Rules: only hp_die*, hp_usage, hp_positional and hp_parse_* exit.
 * Everything else returns -1 with errno set, and keeps errno intact across
 * its cleanup.
 *
 * Exit statuses (DESIGN.md): 0 success, 1 a system call failed,
 * 2 bad command line.
 */
#ifndef HPSP_H
#define HPSP_H

#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#define HP_NORETURN __attribute__((noreturn))
#define HP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Longest "IP:PORT" text hp_addr_str() writes, with its terminator. */
#define HP_ADDRSTRLEN (INET6_ADDRSTRLEN + sizeof("[]:65535"))

/*
 * Remember the program's name for messages (and make argv[0] that name,
 * for getopt's own messages), and make stdout line-buffered: the harness
 * reads it through a pipe and must see each line when it is printed, not
 * when the program exits.  Call it first, before anything is printed.
 */
void hp_init(int argc, char **argv);

/*
 * The usage text of this program: SYNOPSIS follows "usage: prog ", HELP
 * (may be NULL) is printed after it by -h only.
 */
void hp_set_usage(const char *synopsis, const char *help);

/* The name given to hp_init (the basename of argv[0]). */
const char *hp_progname(void);

/* "prog: MESSAGE: strerror (ENAME)" on stderr, exit 1. */
HP_NORETURN HP_PRINTF(1, 2) void hp_die(const char *fmt, ...);
/* The same with an explicit error number (pthread functions return it). */
HP_NORETURN HP_PRINTF(2, 3) void hp_die_en(int err, const char *fmt, ...);
/* "prog: MESSAGE" on stderr, exit 1: no errno involved. */
HP_NORETURN HP_PRINTF(1, 2) void hp_diex(const char *fmt, ...);
/* hp_die for a forked child: _exit(1) without flushing stdio, so output
 * the parent had buffered is not written twice, and atexit handlers do
 * not run. */
HP_NORETURN HP_PRINTF(1, 2) void hp_die_child(const char *fmt, ...);
/* "prog: MESSAGE: strerror (ENAME)" on stderr, and carry on. */
HP_PRINTF(1, 2) void hp_warn(const char *fmt, ...);
/* "prog: MESSAGE" on stderr, and carry on. */
HP_PRINTF(1, 2) void hp_warnx(const char *fmt, ...);

/*
 * STATUS 0 (-h): the usage line and help on stdout, exit 0.  Otherwise
 * the usage line on stderr and exit STATUS (2 for a bad command line).
 */
HP_NORETURN void hp_usage(int status);
/* "prog: MESSAGE", then the usage line, on stderr; exit 2. */
HP_NORETURN HP_PRINTF(1, 2) void hp_bad_usage(const char *fmt, ...);

/*
 * The command line of a program whose only option is -h: getopt with
 * "+h", so -h is hp_usage(0) and any other option hp_usage(2) after
 * getopt's own message; then between MIN and MAX positional arguments, or
 * hp_usage(2).  It exits on all of these, like hp_parse_*.  Returns optind,
 * the index of the first positional argument.  Call it once, after hp_init
 * and hp_set_usage.  A program with options of its own writes its getopt
 * loop out.
 */
int hp_positional(int argc, char **argv, int min, int max);

/*
 * Strict number parsing: the whole string must be a decimal number in
 * [MIN, MAX]; "", "12x", " 1", overflow are refused.  On bad input they
 * print what was wrong and the usage line, and exit 2.  WHAT names the
 * argument in the message ("backlog", "PORT").
 */
long hp_parse_long(const char *s, long min, long max, const char *what);
/* A comma-separated list of such numbers ("1,2,4,8") into OUT, at most
 * CAP of them; returns how many.  S is cut up (strtok_r). */
size_t hp_parse_list(char *s, const char *what, long min, long max, long *out,
                     size_t cap);
/* A TCP/UDP port, 0..65535 (0: the kernel picks one). */
in_port_t hp_parse_port(const char *s);

/*
 * A duration from the command line, the one syntax every hpsp option that
 * takes a time uses: "250ms", "2s", "1.5s", or a bare number of seconds
 * ("2", "0.5").  Fractions finer than a millisecond are refused.  Returns
 * milliseconds in [MIN_MS, MAX_MS]; on bad input prints
 * "prog: WHAT 'S': ..." and the usage line, and exits 2.
 */
long long hp_parse_duration(const char *s, long long min_ms, long long max_ms,
                            const char *what);

/*
 * Fill *SA with the dotted-quad IP and the host-order PORT.
 * Returns 0, or -1 with errno EINVAL when IP is not an IPv4 address.
 */
int hp_sockaddr_in(struct sockaddr_in *sa, const char *ip, in_port_t port);
/* hp_sockaddr_in from command-line words; bad input exits 2 with usage. */
void hp_parse_sockaddr(struct sockaddr_in *sa, const char *ip,
                       const char *port);

/* "IP:PORT" of SA into BUF (HP_ADDRSTRLEN bytes is always enough).
 * Returns BUF; on an unknown family writes "?" */
char *hp_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/*
 * Print "listening on IP:PORT" for the bound socket FD (the port the
 * kernel chose when 0 was asked) and flush stdout.  0, or -1 with errno.
 */
int hp_announce_listener(int fd);

/*
 * socket + SO_REUSEADDR + bind + listen, for programs whose lesson is not
 * the listening socket itself.  Returns the fd, or -1 with errno (the fd
 * closed).  TYPE_FLAGS may add SOCK_NONBLOCK and SOCK_CLOEXEC.
 */
int hp_tcp_listener(const struct sockaddr_in *sa, int backlog, int type_flags);

/*
 * LEN bytes of DATA as the reader should see them: in double quotes,
 * printable ASCII as is, \n \r \t \" \\ escaped and every other byte as
 * \xHH (the locale is never read).  Written into OUT (CAP bytes, always
 * NUL-terminated); what does not fit is cut at a whole escape and marked
 * with "...".  HP_QUOTED_SIZE(LEN) is always enough.  No stdio, no
 * allocation: safe in a signal handler.  Returns the length written.
 */
#define HP_QUOTED_SIZE(len) (4 * (size_t)(len) + sizeof "\"...\"")
size_t hp_quote(char *out, size_t cap, const void *data, size_t len);

/* Write all N bytes, retrying after EINTR and short writes: N or -1. */
ssize_t hp_writen(int fd, const void *buf, size_t n);

/*
 * Install a SIGINT and SIGTERM handler, without SA_RESTART, that sets
 * *FLAG to the signal number: a blocking call then fails with EINTR and
 * the program's loop sees the flag.  0, or -1 with errno.
 */
int hp_catch_term(volatile sig_atomic_t *flag);

/*
 * For a loop that waits in pselect, ppoll, epoll_pwait or sigsuspend:
 * block SIGINT and SIGTERM, install hp_catch_term's handler, and put in
 * *WAIT_MASK the signal mask to wait with (the one before, minus those
 * two).  A stop signal then arrives only inside the wait, never between
 * the loop's test of *FLAG and the sleep, where it would be lost.  The
 * mask survives fork and daemon(3).  0, or -1 with errno.
 */
int hp_block_term(volatile sig_atomic_t *flag, sigset_t *wait_mask);

#endif /* HPSP_H */
