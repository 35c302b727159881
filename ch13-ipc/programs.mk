# Chapter 13, multi-process programming (README.md here).  So far: 13-5.
ch13_PROGS := pass_fd
