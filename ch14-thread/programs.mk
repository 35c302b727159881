# Chapter 14, multi-threaded programming (README.md here).
ch14_PROGS := mutex_deadlock fork_with_lock sigwait_thread
ch14_LDLIBS_mutex_deadlock := -pthread
ch14_LDLIBS_fork_with_lock := -pthread
ch14_LDLIBS_sigwait_thread := -pthread
