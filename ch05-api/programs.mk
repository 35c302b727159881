# Chapter 5, the socket API: one program per listing (see README.md here).
ch05_PROGS := byte_order listen_backlog accept_delayed oob_send oob_recv \
              reuse_addr_server sndbuf_client rcvbuf_server daytime_client
