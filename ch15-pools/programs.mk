# Chapter 15, process pools and thread pools (README.md here).

# 15-1 the process pool and its echo driver, 15-2 the CGI server on it.
ch15_PROGS := pool_echo cgi_server pool_bench
ch15_SRCS_pool_echo := process_pool.c
ch15_SRCS_cgi_server := process_pool.c

# 16-4, the book's stress tester for the web server, fixed: keep-alive GETs
# on many connections for a set time, each response read whole, a summary.
ch15_PROGS += stress_client

# The thread pool (15-3) is a module over the 14-2 locker, linked into the
# programs that use it and into its unit test; pool_bench measures what a
# job's hand-off through it costs (bench/run, make bench).
ch15_THREAD_POOL := thread_pool.c ../ch14-thread/locker.c
ch15_SRCS_pool_bench := $(ch15_THREAD_POOL)
ch15_LDLIBS_pool_bench := -pthread

# The unit test fails pthread_create on purpose (a create that fails
# midway) and sees every create and join of the module: --wrap sends the
# module's calls to the test's __wrap_ functions, which call the real ones
# (tests/unit/test_thread_pool.c says why not RLIMIT_NPROC).
UNIT_SRCS_test_thread_pool := ch15-pools/thread_pool.c ch14-thread/locker.c \
	tests/unit/thread_check.c
UNIT_LDLIBS_test_thread_pool := -pthread -Wl,--wrap=pthread_create \
	-Wl,--wrap=pthread_join
UNIT_THREADED += test_thread_pool

# The HTTP request parser (8-3's two-level state machine, grown for the
# web server): a pure module, tested on every split point of every request
# of its table (tests/unit/test_http_parser.c) and fuzzed (make fuzz).
UNIT_SRCS_test_http_parser := ch15-pools/http_parser.c

# 15-4/15-5 the connection, 15-6 the web server: the 8-3 parser module,
# the 15-3 pool and the ch11 heap timer linked in.
ch15_PROGS += web_server
ch15_SRCS_web_server := http_conn.c http_parser.c $(ch15_THREAD_POOL) \
	../ch11-timer/timer_heap.c
ch15_LDLIBS_web_server := -pthread
