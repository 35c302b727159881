/*
 * mux_uring_absent.c - the io_uring backend when liburing was not there
 * at build time (pkg-config found no liburing; mk/deps.sh names the
 * package).  echo_server still knows "-m uring", and says at once that it
 * cannot: creating the multiplexer fails with ENOSYS.  The build leaves
 * build/.../bin/absent/uring, so the harness skips the io_uring scenarios
 * with that reason instead of failing them.
 */
#include "mux_backend.h"

#include <errno.h>

static struct mux *
absent_create(int max_events)
{
    (void)max_events;
    errno = ENOSYS;
    return NULL;
}

const struct mux_ops mux_uring_ops = {
    .name = "uring",
    .wait_call = "io_uring_enter",
    .create = absent_create,
};
