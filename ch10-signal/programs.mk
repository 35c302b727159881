# Chapter 10, signals: one program per listing (see README.md here), plus
# signalfd_server (10-1 again, with signalfd) and sigpipe_demo.  The two
# servers share their echo connections and loop chassis (echo_conns.c:
# epoll registration, -r child, reaping), which are not the
# lesson: how the signals reach the loop is.
ch10_PROGS := signal_pipe_server signalfd_server sigurg_recv sigpipe_demo
ch10_SRCS_signal_pipe_server := echo_conns.c
ch10_SRCS_signalfd_server := echo_conns.c
