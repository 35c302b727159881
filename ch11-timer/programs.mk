# Chapter 11, timers: one program per listing (see README.md here).
# The three containers (11-2 list, 11-5 wheel, 11-6 heap) are modules
# behind timer.h, linked into the programs that use them and into their
# unit tests (tests/unit/test_timer_*.c, with the shared model checks of
# tests/unit/timer_check.c).  timer_bench is the comparison with libevent
# that bench/run drives (make bench).
ch11_TIMER_MODULES := timer_list.c timer_wheel.c timer_heap.c

ch11_PROGS := connect_timeout idle_conn_server epoll_timeout_loop timer_bench
ch11_SRCS_idle_conn_server := $(ch11_TIMER_MODULES)
ch11_SRCS_timer_bench := $(ch11_TIMER_MODULES)
ch11_NEEDS_timer_bench := libevent
ch11_LDLIBS_timer_bench := $(LIBS_libevent)

UNIT_SRCS_test_timer_list := ch11-timer/timer_list.c tests/unit/timer_check.c
UNIT_SRCS_test_timer_heap := ch11-timer/timer_heap.c tests/unit/timer_check.c
UNIT_SRCS_test_timer_wheel := ch11-timer/timer_wheel.c tests/unit/timer_check.c
