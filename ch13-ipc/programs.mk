# Chapter 13, multi-process programming (README.md here).
ch13_PROGS := sysv_sem_mutex shm_chat_server pass_fd
