# Chapter 14, multi-threaded programming (README.md here).
ch14_PROGS := mutex_deadlock fork_with_lock sigwait_thread
ch14_LDLIBS_mutex_deadlock := -pthread
ch14_LDLIBS_fork_with_lock := -pthread
ch14_LDLIBS_sigwait_thread := -pthread

# The locker (14-2) is a module: chapter 15's pools link it; its proof is
# tests/unit/test_locker.c, run under TSan too by make check.
UNIT_SRCS_test_locker := ch14-thread/locker.c tests/unit/thread_check.c
UNIT_LDLIBS_test_locker := -pthread
UNIT_THREADED += test_locker
