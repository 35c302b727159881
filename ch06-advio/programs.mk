# Chapter 6, advanced I/O: one program per listing (see README.md here).
ch06_PROGS := dup_stdout_server writev_http_server sendfile_server \
              splice_echo splice_tee
