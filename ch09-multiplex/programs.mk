# Chapter 9, I/O multiplexing (README.md here).
#
# The listings, 9-1 ... 9-8: one program each.  Each keeps its own
# setnonblocking/addfd helpers: in this chapter they are the lesson.
ch09_PROGS := select_oob_recv epoll_lt_et epoll_oneshot nonblock_connect \
              poll_chat_client poll_chat_server tcp_udp_echo
ch09_LDLIBS_epoll_oneshot := -pthread

# The multiplexer comparison (README.md, "The multiplexer comparison"): one
# echo core over five backends (a module each), the suite's load
# generator, and the same echo service on libevent as the reference.
# Without liburing the io_uring backend is a stub that says so; without
# libevent, libevent_echo is not built (mk/config.mk, FEATURES).
ch09_PROGS += echo_server libevent_echo loadgen
ch09_SRCS_echo_server := mux_select.c mux_poll.c mux_epoll.c \
                         $(if $(HAVE_uring),mux_uring.c,mux_uring_absent.c)
ch09_LDLIBS_echo_server := $(LIBS_uring)
ch09_NEEDS_libevent_echo := libevent
ch09_LDLIBS_libevent_echo := $(LIBS_libevent)

# The 9-1 scenarios send out-of-band data with chapter 5's oob_send, so
# make test-ch09 and make demo CH=ch09 build it too.
ch09_PEERS := oob_send
