/*
 * shm_chat_server.c - Listing 13-4: a chat room with one process per
 * client; the messages live in POSIX shared memory, and only slot numbers
 * travel between the processes, over one socketpair per child.
 *
 * Usage:   shm_chat_server [-h] [-q] [-u USERS] [-t STALL] IP PORT
 *
 * Shows:   the parent accepts and forks; each child serves one client.
 *          A line a client sends ("\n"-terminated, at most MAX_LINE bytes
 *          with its newline) is copied once, by its child, into a message
 *          slot of the shared object; the child tells the parent "posted
 *          slot K", the parent tells every other child "send slot G", and
 *          each of them sends the slot's bytes (the line's length, not the
 *          slot's) straight from the mapping to its own client, then
 *          answers "done G".  Other clients receive the raw line; the
 *          sender never gets its own.  Joins, leaves, refusals and (unless
 *          -q) every message are printed by the parent.
 *
 * Look at: the shared object is created with
 *          shm_open("/hpsp-chat-PID-N", O_RDWR | O_CREAT | O_EXCL, 0600)
 *          - under strace an openat of /dev/shm/hpsp-chat-PID-N - sized
 *          with ftruncate, mapped MAP_SHARED and unlinked at once
 *          (unlink("/dev/shm/...")): /proc/PID/maps of the parent and of
 *          every child then shows "/dev/shm/hpsp-chat-PID-N (deleted)".
 *          The name is gone, the memory lives while a process maps it, and
 *          nothing can be left in /dev/shm, even after a SIGKILL.
 *          `ls /proc/PID/task/PID/children`: one child per client.
 *
 * The slots.  The object holds SLOTS_PER_USER message slots per place in
 * the room (place u owns slots u*SLOTS_PER_USER ...).  A child writes
 * only its own place's slots, and only a slot the parent has handed back
 * to it: the parent counts, per slot, the children that still have to
 * send it (set when it forwards "send G" to every other child, one less
 * at each "done G", or when one of them ends), and only at zero does it
 * tell the writer "free K".  So no slot is ever overwritten while a
 * child may still be sending it, and a place whose last messages are
 * still being sent is not given to a newcomer until they all are: the
 * room is full until then.  The socket calls between writing a slot and
 * reading it order the memory accesses; no lock is needed.
 *
 * Slow clients.  Each child fixes its client's SO_SNDBUF (64 KiB, which
 * the kernel doubles), so what a client does not take waits in the
 * slots.  A writer whose slots are all in flight stops reading its
 * client until one comes back (TCP holds the rest: the writer waits, and
 * nothing is overwritten).  A reader whose client accepts no byte for
 * STALL (-t, default 10s) while messages wait for it is dropped, with a
 * line in the log: its slots are released and the room goes on.
 *
 * Peer:    nc 127.0.0.1 PORT (several), or the test's clients.
 *
 * Differs from the printed listing:
 *  - a child sends a message's length, never the whole 1024-byte slot
 *    with its NUL padding;
 *  - a slot is reused only after every child has sent it (the book's next
 *    message overwrites it whatever the others have sent);
 *  - no user is moved into a freed index (the book moves the last user
 *    while its child still writes the old slot, which the next newcomer
 *    is then given too); a place is reused only when its child is reaped
 *    and its slots are all sent;
 *  - children are found by a scan of USERS places, not in a pid-indexed
 *    array of 65536 (pid_max can be 4194304);
 *  - a unique shm name, O_EXCL, mode 0600, unlinked right after mmap (the
 *    book's "/my_shm" collides between instances and outlives a crash);
 *  - each child resets the parent's signal handlers (the signals stay
 *    blocked across fork, so none runs the parent's handler in the child)
 *    and closes what is not its own: the listener, the signal pipe, the
 *    epoll fd, every other child's socketpair end;
 *  - level-triggered polling, reads to EAGAIN, sends that keep their
 *    place on a partial write or EAGAIN, SIGPIPE ignored;
 *  - a line longer than MAX_LINE is dropped, and its sender told so (the
 *    book cuts it at its buffer); the user limit is -u;
 *  - SIGTERM/SIGINT: every child is sent SIGTERM and reaped, exit 0.
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-q] [-u USERS] [-t STALL] IP PORT";
static const char HELP[] =
    "A chat room on IP:PORT, one child process per user; every line a\n"
    "user sends goes to all the others, through POSIX shared memory.\n"
    "  -u USERS  room size (default 5, at most 64); one more is refused\n"
    "  -t STALL  drop a user whose client takes no byte for STALL while\n"
    "            messages wait for it (default 10s)\n"
    "  -q        do not print the messages, only joins and leaves\n"
    "A line is at most 4096 bytes with its newline; a longer one is\n"
    "dropped and its sender told.  PORT 0: the kernel picks (announced).\n";

enum { DEFAULT_USERS = 5, MAX_USERS = 64 };
enum { MAX_LINE = 4096 };      /* longest line relayed, with its '\n' */
enum { SLOTS_PER_USER = 8 };   /* messages of one user in flight at once */
enum { SHOWN_MAX = 60 };       /* bytes of a message the log shows */
enum { CLIENT_SNDBUF = 64 << 10 }; /* SO_SNDBUF of a client (doubled) */
enum { LISTEN_BACKLOG = 16, MAX_EVENTS = 64 };
#define DEFAULT_STALL_MS 10000

/* One message in the shared object: the line and its length. */
struct msg_slot {
    uint32_t len;
    char data[MAX_LINE];
};

/* What crosses a socketpair: one record per SOCK_SEQPACKET message. */
enum note_kind {
    NOTE_POSTED = 1, /* child -> parent: my slot K holds a new line */
    NOTE_SEND,       /* parent -> child: send slot G to your client */
    NOTE_DONE,       /* child -> parent: slot G is sent (or never will be) */
    NOTE_FREE,       /* parent -> child: your slot K may be written again */
};
struct note {
    uint16_t kind;
    uint16_t slot;
};

static const char TOO_LONG[] =
    "server: line longer than 4096 bytes, dropped\n";

/* ---- what the parent knows of each place ------------------------------ */

struct place {
    bool used;        /* a child was started here and its place not freed */
    bool reaped;      /* its child has been waited for */
    pid_t pid;
    int sp;           /* the parent's end of the socketpair, or -1 */
    bool want_out;    /* EPOLLOUT asked for sp */
    char peer[HP_ADDRSTRLEN];
    struct note *q;   /* notes sp did not take yet: a ring */
    size_t q_head, q_len;
};

static volatile sig_atomic_t stop_signal;
static int sig_pipe[2] = {-1, -1};
static int listener = -1, epfd = -1;
static long users = DEFAULT_USERS;
static long long stall_ms = DEFAULT_STALL_MS;
static bool quiet;
static struct place *places;
static struct msg_slot *slots; /* the shared mapping */
static size_t nslots, q_cap;
static int *refs;    /* per slot: children that still have to send it */
static bool *owed;   /* owed[u * nslots + g]: child u has not sent G */

enum { TAG_LISTENER = 0, TAG_SIGNALS = 1, TAG_PLACE = 2 };

/* Handled signals, blocked around fork so the child never runs a handler
 * of the parent's before it resets them. */
static const int handled[] = {SIGCHLD, SIGTERM, SIGINT};

static void
on_signal(int sig)
{
    int saved = errno;
    unsigned char byte = (unsigned char)sig; /* the number, in one byte */

    /* the flag stops the loop even if the byte finds the pipe full; a
     * full pipe has bytes enough to wake it */
    if (sig != SIGCHLD)
        stop_signal = sig;
    if (write(sig_pipe[1], &byte, 1) < 0) {
        /* full: the loop has bytes to read and will reap anyway */
    }
    errno = saved;
}

static void
watch(int fd, uint32_t tag, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.u32 = tag};
    if (epoll_ctl(epfd, op, fd, &ev) < 0)
        hp_die("epoll_ctl fd %d", fd);
}

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- the child: one client ---------------------------------------------- */

struct child {
    int u, conn, sp;
    unsigned free_own;          /* bit K: own slot K may be written */
    char in[MAX_LINE];          /* a line being received */
    size_t in_len;
    bool discarding;            /* inside a line too long: drop to '\n' */
    bool eof;
    int *outq;                  /* slots to send (-1: the TOO_LONG notice) */
    size_t out_head, out_len, out_off;
    long long stalled_since;    /* when the client last took nothing */
};

static void
child_note(struct child *ch, enum note_kind kind, size_t slot)
{
    struct note n = {.kind = (uint16_t)kind, .slot = (uint16_t)slot};
    /* blocking: the parent always reads, and never blocks itself */
    while (send(ch->sp, &n, sizeof n, MSG_NOSIGNAL) < 0)
        if (errno != EINTR)
            _exit(0); /* the parent is gone: so is the room */
}

static void
child_queue(struct child *ch, int slot)
{
    if (ch->out_len == q_cap)
        return; /* only extra notices can be refused: slots are bounded */
    if (ch->out_len == 0)
        ch->stalled_since = now_ms();
    ch->outq[(ch->out_head + ch->out_len++) % q_cap] = slot;
}

/* Post each complete line while an own slot is free; drop too long ones. */
static void
child_post_lines(struct child *ch)
{
    for (;;) {
        char *nl = memchr(ch->in, '\n', ch->in_len);
        if (ch->discarding) {
            size_t drop = nl ? (size_t)(nl - ch->in) + 1 : ch->in_len;
            memmove(ch->in, ch->in + drop, ch->in_len - drop);
            ch->in_len -= drop;
            ch->discarding = nl == NULL;
            if (nl == NULL)
                return;
            continue;
        }
        if (nl == NULL) {
            if (ch->in_len < MAX_LINE)
                return;
            /* MAX_LINE bytes and no newline: the line is too long */
            printf("user %d: a line longer than %d bytes, dropped\n", ch->u,
                   MAX_LINE);
            child_queue(ch, -1);
            ch->discarding = true;
            continue;
        }
        if (ch->free_own == 0)
            return; /* every own slot in flight: wait for a NOTE_FREE */
        int k = __builtin_ctz(ch->free_own);
        size_t len = (size_t)(nl - ch->in) + 1;
        struct msg_slot *s = &slots[(size_t)ch->u * SLOTS_PER_USER + k];
        memcpy(s->data, ch->in, len);
        s->len = (uint32_t)len;
        ch->free_own &= ~(1u << k);
        child_note(ch, NOTE_POSTED, (size_t)k);
        memmove(ch->in, ch->in + len, ch->in_len - len);
        ch->in_len -= len;
    }
}

/* Send what waits for the client, straight from the mapping. */
static void
child_send(struct child *ch)
{
    while (ch->out_len > 0) {
        int g = ch->outq[ch->out_head];
        const char *data = g < 0 ? TOO_LONG : slots[g].data;
        size_t len = g < 0 ? sizeof TOO_LONG - 1 : slots[g].len;
        ssize_t n = send(ch->conn, data + ch->out_off, len - ch->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* the rest on the next POLLOUT, from out_off */
        if (n < 0) {
            printf("user %d: send to the client: %s\n", ch->u,
                   strerrorname_np(errno));
            fflush(stdout);
            _exit(0);
        }
        ch->stalled_since = now_ms();
        ch->out_off += (size_t)n;
        if (ch->out_off < len)
            continue;
        ch->out_off = 0;
        ch->out_head = (ch->out_head + 1) % q_cap;
        ch->out_len--;
        if (g >= 0)
            child_note(ch, NOTE_DONE, (size_t)g);
    }
}

static void
child_read_notes(struct child *ch)
{
    struct note n;
    for (;;) {
        ssize_t r = recv(ch->sp, &n, sizeof n, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0)
            _exit(0); /* the parent is gone */
        if (n.kind == NOTE_SEND && n.slot < nslots)
            child_queue(ch, n.slot);
        else if (n.kind == NOTE_FREE && n.slot < SLOTS_PER_USER)
            ch->free_own |= 1u << n.slot;
    }
}

/* Read what the client sent, to EAGAIN or until the line buffer is full. */
static void
child_read_client(struct child *ch)
{
    while (ch->in_len < MAX_LINE) {
        ssize_t n = recv(ch->conn, ch->in + ch->in_len,
                         MAX_LINE - ch->in_len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            ch->eof = true; /* a last line without '\n' goes with it */
            return;
        }
        ch->in_len += (size_t)n;
    }
}

static bool
has_line(const struct child *ch)
{
    return memchr(ch->in, '\n', ch->in_len) != NULL;
}

static HP_NORETURN void
child_main(int u, int conn, int sp)
{
    struct child ch = {.u = u, .conn = conn, .sp = sp,
                       .free_own = (1u << SLOTS_PER_USER) - 1};
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigset_t mask;

    /* the parent's handlers write to the parent's signal pipe: not ours */
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
        sigaction(handled[i], &dfl, NULL);
    sigemptyset(&mask);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    /* and the parent's descriptors are not ours either */
    const int theirs[] = {listener, epfd, sig_pipe[0], sig_pipe[1]};
    for (size_t i = 0; i < sizeof theirs / sizeof theirs[0]; i++)
        close(theirs[i]);
    for (long v = 0; v < users; v++)
        if (places[v].sp >= 0)
            close(places[v].sp);
    /* a small, fixed kernel buffer per client: what does not fit waits
     * in the slots, which are the queue (an autotuned buffer of megabytes
     * would hide a stalled client for a long time) */
    int sndbuf = CLIENT_SNDBUF;
    if (setsockopt(conn, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
        hp_die_child("setsockopt SO_SNDBUF");
    ch.outq = calloc(q_cap, sizeof *ch.outq);
    if (ch.outq == NULL)
        hp_die_child("calloc");

    for (;;) {
        child_post_lines(&ch);
        if (ch.eof && !has_line(&ch))
            break; /* every complete line posted: the client has left */
        bool want_read = !ch.eof && !has_line(&ch);
        struct pollfd pf[2] = {
            {.fd = conn, .events = (short)((want_read ? POLLIN : 0) |
                                           (ch.out_len ? POLLOUT : 0))},
            {.fd = sp, .events = POLLIN},
        };
        int timeout = -1;
        if (ch.out_len > 0) {
            long long left = ch.stalled_since + stall_ms - now_ms();
            if (left <= 0) {
                printf("user %d: the client took nothing for %lld ms with "
                       "%zu message(s) waiting: dropped\n", u, stall_ms,
                       ch.out_len);
                break;
            }
            timeout = (int)left;
        }
        if (poll(pf, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            hp_die_child("poll");
        }
        if (pf[1].revents)
            child_read_notes(&ch);
        if (pf[0].revents & (POLLOUT | POLLERR | POLLHUP) && ch.out_len)
            child_send(&ch);
        if (pf[0].revents & (POLLIN | POLLERR | POLLHUP) && want_read)
            child_read_client(&ch);
    }
    fflush(stdout);
    _exit(0); /* what this child still owed is released by the parent */
}

/* ---- the parent: places, notes, slots ---------------------------------- */

static void
flush_notes(int u)
{
    struct place *p = &places[u];
    while (p->q_len > 0) {
        ssize_t n = send(p->sp, &p->q[p->q_head], sizeof p->q[0],
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            p->q_len = 0; /* the child is gone; its end of file follows */
            break;
        }
        p->q_head = (p->q_head + 1) % q_cap;
        p->q_len--;
    }
    bool want = p->q_len > 0;
    if (want != p->want_out) {
        watch(p->sp, TAG_PLACE + (uint32_t)u,
              EPOLLIN | (want ? EPOLLOUT : 0), EPOLL_CTL_MOD);
        p->want_out = want;
    }
}

static void
tell(int u, enum note_kind kind, size_t slot)
{
    struct place *p = &places[u];
    if (p->sp < 0)
        return;
    p->q[(p->q_head + p->q_len++) % q_cap] =
        (struct note){.kind = (uint16_t)kind, .slot = (uint16_t)slot};
    flush_notes(u);
}

/* Place U is given to a newcomer only once its child is reaped, its
 * socketpair closed and every message it posted sent by every reader. */
static void
maybe_free_place(int u)
{
    struct place *p = &places[u];
    if (!p->used || !p->reaped || p->sp >= 0)
        return;
    for (size_t k = 0; k < SLOTS_PER_USER; k++)
        if (refs[(size_t)u * SLOTS_PER_USER + k] > 0)
            return;
    p->used = false;
    printf("place %d is free again\n", u);
}

/* Nobody has to send slot G any more: give it back to its writer. */
static void
release(size_t g)
{
    int owner = (int)(g / SLOTS_PER_USER);
    tell(owner, NOTE_FREE, g % SLOTS_PER_USER);
    maybe_free_place(owner);
}

static void
forward(int u, size_t k)
{
    size_t g = (size_t)u * SLOTS_PER_USER + k;
    int readers = 0;

    if (k >= SLOTS_PER_USER || refs[g] > 0)
        return; /* not a slot this child may have written */
    for (int v = 0; v < users; v++) {
        if (v == u || places[v].sp < 0)
            continue;
        owed[(size_t)v * nslots + g] = true;
        refs[g]++;
        readers++;
        tell(v, NOTE_SEND, g);
    }
    if (!quiet) {
        size_t len = slots[g].len, shown = len < SHOWN_MAX ? len : SHOWN_MAX;
        char text[HP_QUOTED_SIZE(SHOWN_MAX)];
        hp_quote(text, sizeof text, slots[g].data, shown);
        printf("user %d says: %s%s (%zu bytes, slot %zu, to %d user(s))\n", u,
               text, shown < len ? "..." : "", len, g, readers);
    }
    if (readers == 0)
        release(g);
}

static void
done(int v, size_t g)
{
    bool *o = &owed[(size_t)v * nslots + g];
    if (g >= nslots || !*o)
        return;
    *o = false;
    if (--refs[g] == 0)
        release(g);
}

/* The child of place U closed its socketpair: it ended.  What it still
 * had to send, nobody will: released now. */
static void
place_closed(int u)
{
    struct place *p = &places[u];
    if (epoll_ctl(epfd, EPOLL_CTL_DEL, p->sp, NULL) < 0)
        hp_die("epoll_ctl DEL");
    close(p->sp);
    p->sp = -1;
    p->q_len = 0;
    p->want_out = false;
    for (size_t g = 0; g < nslots; g++)
        if (owed[(size_t)u * nslots + g])
            done(u, g);
    maybe_free_place(u);
}

static void
read_notes(int u)
{
    struct note n;
    while (places[u].sp >= 0) {
        ssize_t r = recv(places[u].sp, &n, sizeof n, MSG_DONTWAIT);
        /* a child that exits with our notes unread makes its end report
         * ECONNRESET once, before the notes it sent last: read on */
        if (r < 0 && (errno == EINTR || errno == ECONNRESET))
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            place_closed(u);
            return;
        }
        if (n.kind == NOTE_POSTED)
            forward(u, n.slot);
        else if (n.kind == NOTE_DONE)
            done(u, n.slot);
    }
}

static void
report_child(int u, pid_t pid, int status)
{
    if (WIFEXITED(status))
        printf("user %d left: child %d exited %d\n", u, (int)pid,
               WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("user %d left: child %d killed by SIG%s\n", u, (int)pid,
               sigabbrev_np(WTERMSIG(status)));
}

static void
reap_children(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int u = 0;
        while (u < users && !(places[u].used && !places[u].reaped &&
                              places[u].pid == pid))
            u++;
        if (u == users) {
            printf("reaped child %d of no place\n", (int)pid);
            continue;
        }
        places[u].reaped = true;
        report_child(u, pid, status);
        maybe_free_place(u);
    }
    if (pid < 0 && errno != ECHILD)
        hp_die("waitpid");
}

static void
refuse(int conn, const char *peer)
{
    char line[64];
    int n = snprintf(line, sizeof line, "server: room full (%ld users)\n",
                     users);
    /* a new socket's buffer is empty: the line fits, or the peer is gone */
    if (send(conn, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        hp_warn("send refusal to %s", peer);
    close(conn);
    printf("refused %s: room full (%ld users)\n", peer, users);
}

static void
start_child(int u, int conn, const char *peer)
{
    struct place *p = &places[u];
    int sv[2];
    sigset_t block, old;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        hp_warn("socketpair");
        close(conn);
        return;
    }
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
        sigaddset(&block, handled[i]);
    sigprocmask(SIG_BLOCK, &block, &old);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        child_main(u, conn, sv[1]);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(conn);
    close(sv[1]);
    if (pid < 0) {
        hp_warn("fork");
        close(sv[0]);
        return;
    }
    *p = (struct place){.used = true, .pid = pid, .sp = sv[0], .q = p->q};
    p->q_head = p->q_len = 0;
    snprintf(p->peer, sizeof p->peer, "%s", peer);
    if (fcntl(p->sp, F_SETFL, O_NONBLOCK) < 0)
        hp_die("fcntl O_NONBLOCK");
    watch(p->sp, TAG_PLACE + (uint32_t)u, EPOLLIN, EPOLL_CTL_ADD);
    int n = 0;
    for (long v = 0; v < users; v++)
        n += places[v].sp >= 0;
    printf("user %d joined: %s, child %d (%d of %ld)\n", u, peer, (int)pid, n,
           users);
}

static void
accept_all(void)
{
    for (;;) {
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        char peer[HP_ADDRSTRLEN];
        int conn = accept4(listener, (struct sockaddr *)&sa, &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            hp_warn("accept4");
            return;
        }
        hp_addr_str((struct sockaddr *)&sa, peer, sizeof peer);
        int u = 0;
        while (u < users && places[u].used)
            u++;
        if (u == users)
            refuse(conn, peer);
        else
            start_child(u, conn, peer);
    }
}

/* The shared object: a unique name, created, sized, mapped, unlinked. */
static void
map_slots(void)
{
    static unsigned serial; /* one object per run today; unique anyway */
    char name[64];
    size_t size = nslots * sizeof(struct msg_slot);

    snprintf(name, sizeof name, "/hpsp-chat-%d-%u", (int)getpid(), serial++);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        hp_die("shm_open %s", name);
    if (ftruncate(fd, (off_t)size) < 0)
        hp_die("ftruncate %s", name);
    slots = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (slots == MAP_FAILED)
        hp_die("mmap %s", name);
    /* the mapping keeps the memory; the name has done its job */
    if (shm_unlink(name) < 0)
        hp_die("shm_unlink %s", name);
    close(fd);
    printf("shared memory %s: %zu bytes (%ld places x %d slots of %zu), "
           "mapped and unlinked\n", name, size, users, SLOTS_PER_USER,
           sizeof(struct msg_slot));
}

static void
stop_all(int sig)
{
    int alive = 0;
    for (long u = 0; u < users; u++)
        if (places[u].used && !places[u].reaped) {
            kill(places[u].pid, SIGTERM);
            alive++;
        }
    printf("SIG%s: stopping, SIGTERM to %d child(ren)\n", sigabbrev_np(sig),
           alive);
    for (long u = 0; u < users; u++) {
        struct place *p = &places[u];
        int status;
        if (!p->used || p->reaped)
            continue;
        while (waitpid(p->pid, &status, 0) < 0)
            if (errno != EINTR)
                hp_die("waitpid %d", (int)p->pid);
        p->reaped = true;
        report_child((int)u, p->pid, status);
    }
    for (long u = 0; u < users; u++) {
        if (places[u].sp >= 0)
            close(places[u].sp);
        free(places[u].q);
    }
    munmap(slots, nslots * sizeof(struct msg_slot));
    close(listener);
    close(epfd);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    free(places);
    free(refs);
    free(owed);
    printf("all children reaped, shared memory unmapped; exit 0\n");
}

int
main(int argc, char **argv)
{
    struct sockaddr_in addr;
    char addr_text[HP_ADDRSTRLEN];
    struct epoll_event events[MAX_EVENTS];
    int opt;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hqu:t:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'q':
            quiet = true;
            break;
        case 'u':
            users = hp_parse_long(optarg, 1, MAX_USERS, "USERS");
            break;
        case 't':
            stall_ms = hp_parse_duration(optarg, 1, 3600 * 1000, "STALL");
            break;
        default:
            hp_usage(2);
        }
    }
    if (argc - optind != 2)
        hp_usage(2);
    hp_parse_sockaddr(&addr, argv[optind], argv[optind + 1]);
    hp_addr_str((struct sockaddr *)&addr, addr_text, sizeof addr_text);

    nslots = (size_t)users * SLOTS_PER_USER;
    q_cap = nslots + SLOTS_PER_USER; /* every slot once, and the frees */
    places = calloc((size_t)users, sizeof *places);
    refs = calloc(nslots, sizeof *refs);
    owed = calloc((size_t)users * nslots, sizeof *owed);
    if (places == NULL || refs == NULL || owed == NULL)
        hp_die("calloc");
    for (long u = 0; u < users; u++) {
        places[u].sp = -1;
        places[u].q = calloc(q_cap, sizeof *places[u].q);
        if (places[u].q == NULL)
            hp_die("calloc");
    }

    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        hp_die("pipe2");
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
        if (sigaction(handled[i], &sa, NULL) < 0)
            hp_die("sigaction");
    signal(SIGPIPE, SIG_IGN);

    listener = hp_tcp_listener(&addr, LISTEN_BACKLOG,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (listener < 0)
        hp_die("listen on %s", addr_text);
    map_slots(); /* once the port is ours: a failed bind creates nothing */
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        hp_die("epoll_create1");
    watch(listener, TAG_LISTENER, EPOLLIN, EPOLL_CTL_ADD);
    watch(sig_pipe[0], TAG_SIGNALS, EPOLLIN, EPOLL_CTL_ADD);
    printf("room for %ld users\n", users);
    if (hp_announce_listener(listener) < 0)
        hp_die("getsockname");

    while (!stop_signal) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a handler ran: its byte is in the pipe */
            hp_die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            uint32_t tag = events[i].data.u32;
            if (tag == TAG_LISTENER) {
                accept_all();
            } else if (tag == TAG_SIGNALS) {
                unsigned char sig[64];
                ssize_t got;
                while ((got = read(sig_pipe[0], sig, sizeof sig)) > 0)
                    for (ssize_t j = 0; j < got; j++)
                        if (sig[j] == SIGCHLD)
                            reap_children();
            } else {
                int u = (int)(tag - TAG_PLACE);
                if (places[u].sp < 0)
                    continue;
                if (events[i].events & EPOLLOUT)
                    flush_notes(u);
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    read_notes(u);
            }
        }
    }
    stop_all(stop_signal);
    return 0;
}
