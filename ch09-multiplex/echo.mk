# Chapter 9, the multiplexer comparison (README.md, "The multiplexer
# comparison"): one echo core over five backends, the suite's load
# generator, and the same echo service on libevent as the reference.
ch09_ECHO_PROGS := echo_server libevent_echo loadgen
ch09_SRCS_echo_server := mux_select.c mux_poll.c mux_epoll.c \
                         $(if $(HAVE_uring),mux_uring.c,mux_uring_absent.c)
ch09_LDLIBS_echo_server := $(LIBS_uring)
ch09_NEEDS_libevent_echo := libevent
ch09_LDLIBS_libevent_echo := $(LIBS_libevent)
