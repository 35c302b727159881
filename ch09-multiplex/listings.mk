# Chapter 9, I/O multiplexing: one program per listing (see README.md here,
# section "Listings").  Each keeps its own setnonblocking/addfd helpers:
# in this chapter they are the lesson.
ch09_LISTING_PROGS := select_oob_recv epoll_lt_et epoll_oneshot \
                      nonblock_connect poll_chat_client poll_chat_server \
                      tcp_udp_echo
ch09_LDLIBS_epoll_oneshot := -pthread
