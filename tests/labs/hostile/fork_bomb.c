/*
 * fork_bomb.c - a hostile hand-in for the oob-recv lab (tests/labs_test.c):
 * forks without end, each child in a session of its own so that killing
 * the process group the harness made does not reach it.  The sandbox must
 * stop it (pids cgroup, RLIMIT_NPROC), kill every one of them afterwards,
 * and grade the next submission as if nothing happened.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

int
main(void)
{
    long forks = 0, refused = 0;
    for (;;) {
        pid_t pid = fork();
        if (pid == 0)
            setsid(); /* out of the harness's process group */
        else if (pid > 0)
            forks++;
        else if (++refused % 100000 == 1)
            fprintf(stderr, "fork_bomb: %ld forks, then refused\n", forks);
    }
}
