/*
 * fuzz_http_parser.c - libFuzzer target of the HTTP request-head parser
 * (ch15-pools/http_parser.c).  `make fuzz` builds it with clang
 * -fsanitize=fuzzer,address,undefined and runs it from the seed corpus in
 * tests/fuzz/corpus/http_parser, with tests/fuzz/http_parser.dict.
 *
 * Input: byte 0 picks the limits (high bit set: small ones, from the low
 * bits, so every limit is within reach of a short input; else the
 * defaults), bytes 1-2 a split point, the rest is what the client sent.
 * The bytes are parsed three ways, each in a buffer of exactly their size
 * (so ASan sees any read past them): whole, in two reads split at the
 * chosen point, and one byte at a time.  The three must agree on the
 * result, every field and the bytes of the buffer after the parse.  On
 * HX_DONE the bytes after the head are parsed as the next pipelined
 * request, the same three ways, up to 8 heads.  Invariants, for each head:
 *  - HX_ERROR: the status is one of 400 413 414 431 501 505;
 *  - HX_DONE: head_len <= the bytes given; GET or HEAD; HTTP/1.0 or 1.1;
 *    the path starts with '/', has no NUL and no control byte, and, like
 *    the query and the host, is a NUL-terminated string inside the head;
 *  - HX_NEED_MORE: fewer bytes than HX_HEAD_MAX.
 * A broken invariant aborts (__builtin_trap): libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ch15-pools/http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            __builtin_trap();                                                  \
    } while (0)

struct run {
    enum hx_result result;
    struct hx_request req;
    char *buf;
};

/* Parse IN[0, N) fed as the lengths CUTS[0..ncuts), in a buffer of N. */
static struct run
parse(const struct hx_limits *lim, const uint8_t *in, size_t n,
      const size_t *cuts, size_t ncuts)
{
    struct run r = {.buf = malloc(n ? n : 1)};
    struct hx_parser p;

    CHECK(r.buf != NULL);
    if (n)
        memcpy(r.buf, in, n);
    CHECK(hx_init(&p, lim) == 0);
    r.result = HX_NEED_MORE;
    for (size_t i = 0; i < ncuts && r.result == HX_NEED_MORE; i++)
        r.result = hx_parse(&p, r.buf, cuts[i]);
    r.req = p.req;
    return r;
}

static bool
same(const struct run *a, const struct run *b, size_t n)
{
    const struct hx_request *x = &a->req, *y = &b->req;

    if (a->result != b->result)
        return false;
    if (a->result == HX_ERROR)
        return x->status == y->status;
    if (a->result == HX_NEED_MORE)
        return true;
    return x->method == y->method && x->version == y->version &&
           x->path.off == y->path.off && x->path.len == y->path.len &&
           x->query.off == y->query.off && x->query.len == y->query.len &&
           x->host.off == y->host.off && x->host.len == y->host.len &&
           x->keep_alive == y->keep_alive && x->has_ims == y->has_ims &&
           x->if_modified_since == y->if_modified_since &&
           x->head_len == y->head_len && memcmp(a->buf, b->buf, n) == 0;
}

/* A span is a C string of its length, its NUL inside the head. */
static void
check_span(const struct run *r, struct hx_span s)
{
    CHECK((size_t)s.off + s.len < r->req.head_len);
    CHECK(memchr(r->buf + s.off, '\0', s.len) == NULL);
    CHECK(r->buf[s.off + s.len] == '\0');
}

static void
check_invariants(const struct hx_limits *lim, const struct run *r, size_t n)
{
    const struct hx_request *q = &r->req;

    switch (r->result) {
    case HX_ERROR:
        CHECK(q->status == 400 || q->status == 413 || q->status == 414 ||
              q->status == 431 || q->status == 501 || q->status == 505);
        break;
    case HX_NEED_MORE: {
        struct hx_parser p;
        CHECK(hx_init(&p, lim) == 0);
        CHECK(n < HX_HEAD_MAX(p.lim.request_line, p.lim.header_block));
        break;
    }
    case HX_DONE:
        CHECK(q->head_len >= 18 && q->head_len <= n);
        CHECK(q->method == HX_GET || q->method == HX_HEAD);
        CHECK(q->version == 10 || q->version == 11);
        check_span(r, q->path);
        check_span(r, q->query);
        check_span(r, q->host);
        CHECK(q->path.len >= 1 && r->buf[q->path.off] == '/');
        for (uint32_t i = 0; i < q->path.len; i++) {
            unsigned char c = (unsigned char)r->buf[q->path.off + i];
            CHECK(c >= 0x20 && c != 0x7f);
        }
        CHECK(q->has_ims || q->if_modified_since == 0);
        break;
    default:
        CHECK(0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hx_limits small, *lim = NULL;

    if (size < 3)
        return 0;
    if (data[0] & 0x80) {
        small.request_line = 14 + (data[0] & 0x1f);
        small.header_block = 2 + 4 * (data[0] & 0x0f);
        small.headers = 1 + (data[0] & 0x07);
        lim = &small;
    }
    size_t split = (size_t)data[1] << 8 | data[2];
    const uint8_t *in = data + 3;
    size_t n = size - 3;
    size_t *bytewise = malloc((n + 1) * sizeof *bytewise);

    CHECK(bytewise != NULL);
    for (int head = 0; head < 8; head++) {
        struct run whole, two, one;
        size_t cuts[2] = {split % (n + 1), n};

        whole = parse(lim, in, n, &n, 1);
        two = parse(lim, in, n, cuts, 2);
        for (size_t i = 0; i <= n; i++)
            bytewise[i] = i;
        one = parse(lim, in, n, bytewise, n + 1);
        CHECK(same(&whole, &two, n));
        CHECK(same(&whole, &one, n));
        check_invariants(lim, &whole, n);
        size_t used = whole.result == HX_DONE ? whole.req.head_len : 0;
        free(whole.buf);
        free(two.buf);
        free(one.buf);
        if (used == 0)
            break;
        in += used; /* the next pipelined request */
        n -= used;
    }
    free(bytewise);
    return 0;
}
