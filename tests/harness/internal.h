/*
 * internal.h - what the parts of the harness share and chapter tests do
 * not see.  harness.h is the public side.
 */
#ifndef HPSP_HARNESS_INTERNAL_H
#define HPSP_HARNESS_INTERNAL_H

#include "harness.h"

/* How long a program has to stop after SIGTERM (tcpdump after SIGINT). */
#define HHI_GRACE_MS 3000

/* util.c */
int hhi_left_ms(long long deadline);
void hhi_buf_add(struct hh_buf *b, const void *data, size_t len);
void hhi_buf_free(struct hh_buf *b);
void hhi_transcribe(struct hh_ctx *c, const char *line);

/* spawn.c */
/* One round of event handling: read whatever the programs printed, notice
 * exits.  Waits at most TIMEOUT_MS for something to happen. */
void hhi_pump(struct hh_ctx *c, int timeout_ms);
/* Poll FD for EVENTS until DEADLINE while still reading the programs'
 * output: the revents, or 0 at the deadline. */
int hhi_wait_fd(struct hh_ctx *c, int fd, short events, long long deadline);
void hhi_reap(struct hh_proc *p, int options);
/* Let go of every thread hh_freeze_thread still holds (teardown). */
void hhi_thaw_all(struct hh_ctx *c);
bool hhi_is_overridden(const char *prog);
/* PID's parent from /proc/PID/stat, its name into COMM unless NULL; -1
 * when it is gone */
pid_t hhi_stat_ppid(pid_t pid, char *comm, size_t cap);

/* trace.c: the [sys] lines of P's strace output, for TRACE=1 */
void hhi_show_trace(struct hh_proc *p);

/* net.c: free the echo buffers at exit */
void hhi_net_free(void);

/* runner.c: the chapter being run (NULL before hh_run_chapter) */
const struct hh_chapter *hhi_chapter(void);

/* leftovers.c: a chapter in namespaces of its own (as root), and the
 * check that a scenario left nothing behind */
void hhi_isolate(void);
void hhi_leftovers_begin(void);
void hhi_leftovers_end(struct hh_ctx *c);

#endif
