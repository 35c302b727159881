/*
 * kill_parent.c - a hostile hand-in for the oob-recv lab
 * (tests/labs_test.c): starts like a real receiver (listens, prints the
 * line the harness waits for), then SIGKILLs its parent, its parent's
 * process group, and every process it may signal (kill(-1)).  Only its
 * own uid's processes may die: the harness and the grader go on, and the
 * next submission is graded as usual.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
try_kill(pid_t pid, const char *what)
{
    int rc = kill(pid, SIGKILL);
    fprintf(stderr, "kill_parent: kill(%d, SIGKILL) (%s): %s\n", (int)pid, what,
            rc == 0 ? "done" : strerrorname_np(errno));
}

int
main(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(fd, 5) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return 1;
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    pid_t parent = getppid();
    try_kill(parent, "parent");
    try_kill(-getpgid(parent), "parent's process group");
    try_kill(-1, "everything");
    for (;;)
        pause();
}
