/*
 * sysv_sem_mutex.c - Listing 13-3: a System V semaphore as a mutex
 * between a parent and its child, P and V with SEM_UNDO.
 *
 * Usage:   sysv_sem_mutex [-c] [-t HOLD]
 *            -t HOLD  how long each process holds the semaphore
 *                     (default 5s; 250ms, 1.5s ...)
 *            -c       the child asks first: the parent asks only once the
 *                     child holds it (so you can kill the child there)
 *
 * Shows:   one semaphore of value 1 makes the two holds take turns: the
 *          second "holds it" comes a full HOLD after the first, never
 *          inside it, and the run takes 2 x HOLD.  Kill the holder
 *          (`kill -9 CHILD` while the child holds it): SEM_UNDO makes the
 *          kernel give back what the dead process took, and the other one
 *          goes in at once instead of waiting for ever.
 *
 * Look at: `ipcs -s -i ID` while it runs: semval 0, sempid the holder,
 *          semncnt 1 (the other process, asleep in semop).  After it
 *          ends, `ipcs -s` no longer lists the set: a set outlives every
 *          process that used it unless someone removes it (IPC_RMID).
 *          `strace -f -e trace=semget,semctl,semop,semtimedop` shows the
 *          two P operations and who waited.
 *
 * Peer:    itself (fork).
 *
 * Differs from the printed listing:
 *  - semget, semctl and semop are checked; semop interrupted by a signal
 *    (EINTR) is retried, unless the signal asked the program to stop;
 *  - mode 0600, not 0666: nobody else's business;
 *  - the set is removed on every way out, SIGTERM and SIGINT included:
 *    the parent stops the child, waits for it, then removes the set;
 *  - the hold time is an option (the book sleeps 5 s), and -c orders the
 *    two so that a test can kill the child while it holds the semaphore;
 *  - the parent reports how the child ended.
 *  glibc does not define union semun; as the book says, the caller must.
 */
#include "hpsp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h] [-c] [-t HOLD]";
static const char HELP[] =
    "A semaphore set of one semaphore (value 1) as a mutex: parent and\n"
    "child each take it (P, SEM_UNDO), hold it for HOLD, release it (V).\n"
    "  -t HOLD  hold time (default 5s; 250ms, 1.5s ...)\n"
    "  -c       the child asks first, the parent once the child holds it\n";

enum { DEFAULT_HOLD_MS = 5000, MAX_HOLD_MS = 3600 * 1000 };

/* semctl's fourth argument: <sys/sem.h> leaves its definition to us. */
union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static volatile sig_atomic_t stop; /* SIGINT or SIGTERM came */

/* P (op -1) or V (op +1) on semaphore 0 of SEMID.  SEM_UNDO: if this
 * process dies holding it, the kernel adds back what it took.  Returns
 * 0, or -1 with errno (EINTR only when asked to stop). */
static int
pv(int semid, short op)
{
    struct sembuf sb = {.sem_num = 0, .sem_op = op, .sem_flg = SEM_UNDO};

    while (semop(semid, &sb, 1) < 0) {
        if (errno != EINTR || stop)
            return -1;
    }
    return 0;
}

/* Sleep MS milliseconds, through signals that do not ask to stop. */
static void
hold_for(long long ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

    while (!stop && nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* One process's turn: want, take, hold, release.  Returns 0, or -1 with
 * errno if semop failed (EINTR: stopped while waiting). */
static int
take_turn(const char *who, int semid, long long hold_ms, int tell_fd)
{
    printf("%s %d: wants the semaphore\n", who, (int)getpid());
    if (pv(semid, -1) < 0)
        return -1;
    printf("%s %d: holds it for %lld ms\n", who, (int)getpid(), hold_ms);
    if (tell_fd >= 0 && write(tell_fd, "h", 1) != 1) /* -c: the parent's cue */
        return -1;
    hold_for(hold_ms);
    /* said before V: once V is done the other may print "holds it" */
    printf("%s %d: releases it\n", who, (int)getpid());
    return pv(semid, 1);
}

static void
child(int semid, long long hold_ms, int tell_fd)
{
    if (take_turn("child", semid, hold_ms, tell_fd) < 0 && !stop)
        hp_die_child("semop");
    _exit(0);
}

/* Stop the child if it still runs, wait for it, say how it ended.
 * Returns 0 if it exited 0 (or was stopped by us), 1 if it failed. */
static int
reap(pid_t pid)
{
    int status;

    for (;;) {
        if (stop) /* it must not outlive us, holding or wanting the set */
            kill(pid, SIGTERM);
        if (waitpid(pid, &status, 0) == pid)
            break;
        if (errno != EINTR)
            hp_die("waitpid %d", (int)pid);
    }
    if (WIFSIGNALED(status)) {
        printf("child %d killed by signal %d (%s)\n", (int)pid,
               WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 0;
    }
    printf("child %d exited %d\n", (int)pid, WEXITSTATUS(status));
    return WEXITSTATUS(status) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    long long hold_ms = DEFAULT_HOLD_MS;
    int child_first = 0, opt;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    while ((opt = getopt(argc, argv, "+hct:")) != -1) {
        switch (opt) {
        case 'h':
            hp_usage(0);
        case 'c':
            child_first = 1;
            break;
        case 't':
            hold_ms = hp_parse_duration(optarg, 1, MAX_HOLD_MS, "HOLD");
            break;
        default:
            hp_usage(2);
        }
    }
    if (optind != argc)
        hp_usage(2);
    if (hp_catch_term(&stop) < 0)
        hp_die("sigaction");

    int semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    if (semid < 0)
        hp_die("semget");
    union semun arg = {.val = 1};
    if (semctl(semid, 0, SETVAL, arg) < 0) {
        int err = errno;
        semctl(semid, 0, IPC_RMID);
        hp_die_en(err, "semctl SETVAL");
    }
    printf("semaphore set %d: 1 semaphore, value 1, mode 0600\n", semid);

    int cue[2] = {-1, -1}; /* -c: the child says "h" once it holds it */
    if (child_first && pipe(cue) < 0) {
        int err = errno;
        semctl(semid, 0, IPC_RMID);
        hp_die_en(err, "pipe");
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        semctl(semid, 0, IPC_RMID);
        hp_die_en(err, "fork");
    }
    if (pid == 0) {
        if (cue[0] >= 0)
            close(cue[0]);
        child(semid, hold_ms, cue[1]);
    }

    int failed = 0;
    if (child_first) {
        char h;
        close(cue[1]);
        /* end of file instead of "h": the child ended without it */
        while (read(cue[0], &h, 1) < 0 && errno == EINTR && !stop)
            ;
        close(cue[0]);
    }
    if (!stop && take_turn("parent", semid, hold_ms, -1) < 0 && !stop) {
        hp_warn("semop");
        failed = 1;
    }
    failed |= reap(pid);
    if (semctl(semid, 0, IPC_RMID) < 0)
        hp_die("semctl IPC_RMID %d", semid);
    printf("semaphore set %d removed\n", semid);
    return failed;
}
