/*
 * include_reference.c - a hostile hand-in for the oob-recv lab
 * (tests/labs_test.c): the whole answer is the reference, included by its
 * path in the repository (the test writes it below).  Compiled
 * in the sandbox, where the repository is hidden, it must not compile.
 */
/* the test writes the repository's path into the line below */
#include "/nonexistent/ch05-api/oob_recv.c"
