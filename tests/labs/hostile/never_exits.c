/*
 * never_exits.c - a hostile hand-in for the oob-recv lab
 * (tests/labs_test.c): ignores SIGTERM, SIGINT and SIGHUP and sleeps
 * forever, and leaves a child behind in a session of its own that does
 * the same.  The harness's SIGKILL after its grace period ends the first;
 * the sandbox must find and kill the second.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>

int
main(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (fork() == 0)
        setsid();
    for (;;)
        pause();
}
