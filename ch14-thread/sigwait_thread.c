/*
 * sigwait_thread.c - Listing 14-5: one thread handles every signal, with
 * sigwait, and no signal handler at all.
 *
 * Usage:   sigwait_thread
 *
 * Shows:   main blocks SIGQUIT, SIGUSR1, SIGTERM and SIGINT with
 *          pthread_sigmask before it creates any thread, so every thread
 *          starts with them blocked (a new thread inherits its creator's
 *          mask): none of them can ever be delivered the classic way, to
 *          whichever thread the kernel picks.  One thread loops in
 *          sigwait(), which takes a pending signal of the set off the
 *          queue, and prints it with its own thread id (not the pid).
 *          SIGUSR1 and SIGQUIT are reported and the program carries on:
 *          SIGQUIT's default action, a core dump, never happens.  SIGTERM
 *          or SIGINT ends the thread; main, waiting in pthread_join, exits
 *          0.  Because the mask is set first, a signal sent before the
 *          thread reaches sigwait simply waits, pending, for it.
 *
 * Look at: `kill -USR1 PID`, `kill -QUIT PID`, then `kill PID`.
 *          /proc/PID/task holds two threads; the reporting one is the tid
 *          printed, and its /proc/PID/task/TID/syscall starts with 128,
 *          SYS_rt_sigtimedwait on x86-64 (sigwait's system call); main's
 *          with 202, futex (pthread_join).  SigBlk in
 *          /proc/PID/task/TID/status shows the mask of each thread.
 *
 * Peer:    kill(1), or the test's signals.
 *
 * Differs from the printed listing:
 *  - SIGTERM and SIGINT are in the set too, so the program can end cleanly
 *    (exit 0) instead of being killed;
 *  - the set is complete and blocked before the thread is created and
 *    given a pointer to it (the commonly cloned source fills the set after
 *    handing it over, comments out the masking, and prints from a
 *    handler); sigwait's result is checked;
 *  - the thread prints its tid from gettid(), not a pthread_t cast to
 *    long, and main waits in pthread_join instead of pause().
 */
#define _GNU_SOURCE
#include "hpsp.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char SYNOPSIS[] = "[-h]";
static const char HELP[] =
    "Block SIGQUIT, SIGUSR1, SIGTERM and SIGINT in every thread; one thread\n"
    "takes them with sigwait and reports each with its thread id.\n"
    "SIGTERM or SIGINT ends it (exit 0).\n";

/* The signals of the set, in the order they are named. */
static const int waited[] = {SIGQUIT, SIGUSR1, SIGTERM, SIGINT};

static void *
signal_thread(void *arg)
{
    const sigset_t *set = arg;
    pid_t tid = gettid();
    int sig, err;

    printf("signal thread: tid %d (pid %d), waiting in sigwait\n", (int)tid,
           (int)getpid());
    for (;;) {
        err = sigwait(set, &sig);
        if (err)
            hp_die_en(err, "sigwait");
        printf("tid %d: got signal %d (SIG%s)\n", (int)tid, sig,
               sigabbrev_np(sig));
        if (sig == SIGTERM || sig == SIGINT)
            return (void *)(intptr_t)sig;
    }
}

int
main(int argc, char **argv)
{
    sigset_t set;
    pthread_t tid;
    void *ended;
    int err;

    hp_init(argc, argv);
    hp_set_usage(SYNOPSIS, HELP);
    hp_positional(argc, argv, 0, 0);

    /* first the whole set, blocked: the thread created next inherits the
     * mask, and so does every thread it might create */
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof waited / sizeof waited[0]; i++)
        sigaddset(&set, waited[i]);
    err = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (err)
        hp_die_en(err, "pthread_sigmask");
    printf("main: pid %d, SIGQUIT SIGUSR1 SIGTERM SIGINT blocked; "
           "starting the signal thread\n", (int)getpid());

    err = pthread_create(&tid, NULL, signal_thread, &set);
    if (err)
        hp_die_en(err, "pthread_create");
    err = pthread_join(tid, &ended);
    if (err)
        hp_die_en(err, "pthread_join");
    printf("main: the signal thread ended on SIG%s; exit 0\n",
           sigabbrev_np((int)(intptr_t)ended));
    return 0;
}
