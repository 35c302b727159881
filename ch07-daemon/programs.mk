# Chapter 7, server programming conventions: one program per listing (7-1 to
# 7-3), plus two experiments the chapter's text describes (see README.md).
ch07_PROGS := show_uids switch_user daemonize rlimit_nofile chroot_jail
