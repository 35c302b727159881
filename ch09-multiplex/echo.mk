# Chapter 9, the multiplexer comparison (README.md, "The multiplexer
# comparison"): one echo core over five backends, the suite's load
# generator, and the same echo service on libevent as the reference.
ch09_ECHO_PROGS := echo_server libevent_echo loadgen
ch09_SRCS_echo_server := mux_select.c mux_poll.c mux_epoll.c mux_uring.c
ch09_LDLIBS_echo_server := $(shell pkg-config --libs liburing 2>/dev/null || echo -luring)
ch09_LDLIBS_libevent_echo := $(shell pkg-config --libs libevent 2>/dev/null || echo -levent)
