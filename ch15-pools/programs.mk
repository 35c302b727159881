# Chapter 15, process pools and thread pools (README.md here).
# 15-1 the process pool and its echo driver, 15-2 the CGI server on it:
ch15_PROGS := pool_echo cgi_server
ch15_SRCS_pool_echo := process_pool.c
ch15_SRCS_cgi_server := process_pool.c
