# Chapter 14, multi-threaded programming (README.md here).
UNIT_SRCS_test_locker := ch14-thread/locker.c tests/unit/thread_check.c
UNIT_LDLIBS_test_locker := -pthread
UNIT_THREADED += test_locker
