/*
 * connect_out.c - a hostile hand-in for the oob-recv lab
 * (tests/labs_test.c): tries to reach a listener the test opened on the
 * machine's loopback.  The test writes that listener's port over the 0
 * below; in its own network namespace the submission must find nobody
 * there, and the test's listener must never see a connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TARGET_PORT 0 /* written by the test */

int
main(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(TARGET_PORT)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    fprintf(stderr, "connect_out: connect 127.0.0.1:%d: %s\n", TARGET_PORT,
            rc == 0 ? "connected" : strerrorname_np(errno));
    if (rc == 0 && write(fd, "escaped\n", 8) < 0)
        return 2;
    close(fd);
    return 1;
}
