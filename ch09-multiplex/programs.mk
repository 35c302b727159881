# Chapter 9, I/O multiplexing.  Two parts, declared in two files:
#   listings.mk  one program per listing of the chapter (9-1 ... 9-8)
#   echo.mk      the multiplexer comparison: one echo core over five
#                backends, its load generator and the libevent peer
-include ch09-multiplex/listings.mk
-include ch09-multiplex/echo.mk
ch09_PROGS := $(ch09_LISTING_PROGS) $(ch09_ECHO_PROGS)
# The 9-1 scenarios send out-of-band data with chapter 5's oob_send, so
# make test-ch09 and make demo CH=ch09 build it too.
ch09_PEERS := oob_send
