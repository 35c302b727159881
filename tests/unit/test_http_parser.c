/*
 * test_http_parser.c - unit tests of the HTTP request-head parser
 * (ch15-pools/http_parser.c, the 8-3 state machine grown for 15-5).
 *
 * One table of requests, valid ones and one for each refusal the header
 * documents, with what hx_parse must say.  Every request is parsed whole,
 * then split at EVERY byte boundary (bytes [0,k) then [0,n) of the same
 * buffer, as a server's two reads), then one byte at a time: each must
 * give the same result, the same fields and the same buffer bytes (the
 * parser rewrites the path in place).  Then pipelined heads, split the
 * same way; each limit exactly at and one over, and the refusal of a
 * too-long line before its end; a buffer of HX_HEAD_MAX bytes is never
 * "need more".
 */
#define _GNU_SOURCE
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ch15-pools/http_parser.h"

/* What one request must give.  head_len 0: the whole request. */
struct expect {
    const char *name;
    const char *req;
    size_t len;
    enum hx_result result;
    int status;
    enum hx_method method;
    int version;
    const char *path, *query, *host;
    bool keep_alive;
    bool has_ims;
    time_t ims;
    size_t head_len;
};

#define OK(nm, r, m, v, pa, q, h, ka)                                          \
    {                                                                          \
        .name = nm, .req = r, .len = sizeof(r) - 1, .result = HX_DONE,         \
        .method = m, .version = v, .path = pa, .query = q, .host = h,          \
        .keep_alive = ka                                                       \
    }
#define OK_IMS(nm, r, has, t)                                                  \
    {                                                                          \
        .name = nm, .req = r, .len = sizeof(r) - 1, .result = HX_DONE,         \
        .method = HX_GET, .version = 11, .path = "/", .query = "",             \
        .host = "h", .keep_alive = true, .has_ims = has, .ims = t              \
    }
#define ERR(nm, r, st)                                                         \
    {                                                                          \
        .name = nm, .req = r, .len = sizeof(r) - 1, .result = HX_ERROR,        \
        .status = st                                                           \
    }
#define MORE(nm, r)                                                            \
    {                                                                          \
        .name = nm, .req = r, .len = sizeof(r) - 1, .result = HX_NEED_MORE     \
    }

#define H11 " HTTP/1.1\r\nHost: h\r\n"
#define IMS(d) "GET /" H11 "If-Modified-Since: " d "\r\n\r\n"

/* clang-format off */
static const struct expect table[] = {
    /* What a server must accept. */
    OK("plain GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", HX_GET, 11, "/", "",
       "a", true),
    OK("HEAD, 1.0, no Host", "HEAD /x HTTP/1.0\r\n\r\n", HX_HEAD, 10, "/x",
       "", "", false),
    OK("1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
       HX_GET, 10, "/", "", "", true),
    OK("1.0 Keep-Alive, any case",
       "GET / HTTP/1.0\r\ncOnNeCtIoN:  Keep-Alive \r\n\r\n", HX_GET, 10, "/",
       "", "", true),
    OK("1.0 keep-alive then close",
       "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
       HX_GET, 10, "/", "", "", false),
    OK("1.1 close", "GET /" H11 "Connection: close\r\n\r\n", HX_GET, 11, "/",
       "", "h", false),
    OK("1.1 close in a token list",
       "GET /" H11 "Connection: foo, CLOSE\r\n\r\n", HX_GET, 11, "/", "",
       "h", false),
    OK("1.1 keep-alive and close", "GET /" H11
       "Connection: keep-alive,close\r\n\r\n", HX_GET, 11, "/", "", "h", false),
    OK("1.1 close-ish token is not close", "GET /" H11
       "Connection: closed, xclose\r\n\r\n", HX_GET, 11, "/", "", "h", true),
    OK("absolute URL reduced to its path (8-3)",
       "GET http://localhost/index.html HTTP/1.1\r\nHost: other\r\n\r\n",
       HX_GET, 11, "/index.html", "", "localhost", true),
    OK("absolute URL, port, no path, scheme in capitals",
       "GET HTTP://Example.com:8080 HTTP/1.1\r\nHost: x\r\n\r\n", HX_GET, 11,
       "/", "", "Example.com:8080", true),
    OK("absolute URL, query, no path", "GET http://h?x=1 HTTP/1.0\r\n\r\n",
       HX_GET, 10, "/", "x=1", "h", false),
    OK("absolute URL with a decoded path",
       "GET http://h/a%2Fb?q HTTP/1.0\r\n\r\n", HX_GET, 10, "/a/b", "q", "h",
       false),
    OK("escapes decoded, query split off and left",
       "GET /a%20b/%41%6a?q=%20&r HTTP/1.1\r\nHost: h\r\n\r\n", HX_GET, 11,
       "/a b/Aj", "q=%20&r", "h", true),
    OK("%2e%2e is handed over as ..",
       "GET /%2e%2e/%2E%2E/etc/passwd HTTP/1.0\r\n\r\n", HX_GET, 10,
       "/../../etc/passwd", "", "", false),
    OK("raw .. left alone", "GET /a/../../b HTTP/1.0\r\n\r\n", HX_GET, 10,
       "/a/../../b", "", "", false),
    OK("UTF-8 escapes", "GET /%C3%A9t%c3%a9 HTTP/1.0\r\n\r\n", HX_GET, 10,
       "/\xc3\xa9t\xc3\xa9", "", "", false),
    OK("empty query", "GET /?" H11 "\r\n", HX_GET, 11, "/", "", "h", true),
    OK("second ? is in the query", "GET /a?b?c" H11 "\r\n", HX_GET, 11, "/a",
       "b?c", "h", true),
    OK("empty lines before the request line",
       "\r\n\r\nGET / HTTP/1.0\r\n\r\n", HX_GET, 10, "/", "", "", false),
    OK("Host trimmed, name any case",
       "GET / HTTP/1.1\r\nhOST: \t a.b:80 \t\r\n\r\n", HX_GET, 11, "/", "",
       "a.b:80", true),
    OK("Host empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", HX_GET, 11, "/", "",
       "", true),
    OK("Host IPv6 literal", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
       HX_GET, 11, "/", "", "[::1]:8080", true),
    OK("Content-Length 0, twice, leading zeros", "GET /" H11
       "Content-Length: 0\r\ncontent-length: 000\r\n\r\n", HX_GET, 11, "/", "",
       "h", true),
    OK("other fields ignored, empty value, obs-text", "GET /" H11
       "X-Empty:\r\nX-Bytes: \xff\xfe a\tb\r\nAccept: */*\r\n\r\n", HX_GET, 11,
       "/", "", "h", true),
    OK_IMS("If-Modified-Since", IMS("Sun, 06 Nov 1994 08:49:37 GMT"), true,
           784111777),
    OK_IMS("If-Modified-Since, the epoch", IMS("Thu, 01 Jan 1970 00:00:00 GMT"),
           true, 0),
    OK_IMS("If-Modified-Since, a leap day",
           IMS("Thu, 29 Feb 2024 12:00:00 GMT"), true, 1709208000),
    OK_IMS("If-Modified-Since, wrong weekday: ignored",
           IMS("Mon, 06 Nov 1994 08:49:37 GMT"), false, 0),
    OK_IMS("If-Modified-Since, RFC 850 form: ignored",
           IMS("Sunday, 06-Nov-94 08:49:37 GMT"), false, 0),
    OK_IMS("If-Modified-Since, asctime form: ignored",
           IMS("Sun Nov  6 08:49:37 1994"), false, 0),
    OK_IMS("If-Modified-Since, 29 Feb of 2023: ignored",
           IMS("Wed, 29 Feb 2023 12:00:00 GMT"), false, 0),
    OK_IMS("If-Modified-Since, hour 24: ignored",
           IMS("Sun, 06 Nov 1994 24:49:37 GMT"), false, 0),
    OK_IMS("If-Modified-Since, not GMT: ignored",
           IMS("Sun, 06 Nov 1994 08:49:37 UTC"), false, 0),
    OK_IMS("If-Modified-Since, garbage: ignored", IMS("yesterday"), false, 0),
    OK_IMS("If-Modified-Since twice: ignored",
           "GET /" H11 "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
           "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
           false, 0),
    {.name = "bytes after the head are left",
     .req = "GET / HTTP/1.0\r\n\r\nGARBAGE\n\x01",
     .len = sizeof("GET / HTTP/1.0\r\n\r\nGARBAGE\n\x01") - 1,
     .result = HX_DONE, .method = HX_GET, .version = 10, .path = "/",
     .query = "", .host = "", .head_len = 18},

    /* Line ends. */
    ERR("bare LF ends the request line (8-3)", "GET / HTTP/1.1\nHost: a\n\n",
        400),
    ERR("bare LF ends a header", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
    ERR("bare LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
    ERR("bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
    ERR("bare CR in a header", "GET /" H11 "X: a\rb\r\n\r\n", 400),
    ERR("obs-fold", "GET /" H11 "X: a\r\n b\r\n\r\n", 400),
    ERR("obs-fold with a tab", "GET /" H11 "X: a\r\n\tb\r\n\r\n", 400),
    ERR("a space-led first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
        400),

    /* The request line. */
    ERR("missing version (8-3)", "GET /\r\n\r\n", 400),
    ERR("lower-case http", "GET / http/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("HTTP/1.10", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400),
    ERR("HTTP/1", "GET / HTTP/1\r\n\r\n", 400),
    ERR("HTTP/11.1", "GET / HTTP/11.1\r\n\r\n", 400),
    ERR("two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400),
    ERR("leading space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("space in the target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("tab in the target", "GET /\t HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("not a token in the method", "G(ET / HTTP/1.1\r\nHost: h\r\n\r\n",
        400),
    ERR("garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        400),
    ERR("NUL in the method", "GE\0T / HTTP/1.1\r\n\r\n", 400),
    ERR("fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("non-ASCII in the target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
        400),
    ERR("asterisk form on GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("relative target", "GET index.html HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("https URL", "GET https://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("http:// alone", "GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("URL without a host", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n",
        400),
    ERR("URL with a port but no host",
        "GET http://:80/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("URL with a userinfo", "GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
        400),
    ERR("%00", "GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("%0a", "GET /a%0a HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("%1F", "GET /a%1F HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("%7f", "GET /a%7f HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("%zz", "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("%4 at the end", "GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("% before the query", "GET /a%?b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ERR("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    ERR("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505),
    ERR("HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
    ERR("HTTP/3.0 before a bad method", "get / HTTP/3.0\r\n\r\n", 505),
    ERR("POST (8-3)", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n",
        501),
    ERR("lower-case get", "get / HTTP/1.1\r\nHost: h\r\n\r\n", 501),
    ERR("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 501),
    ERR("CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 501),
    ERR("DELETE", "DELETE /x HTTP/1.0\r\n\r\n", 501),

    /* Header fields. */
    ERR("no Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400),
    ERR("no Host in 1.1, absolute URL", "GET http://h/ HTTP/1.1\r\n\r\n", 400),
    ERR("two Hosts", "GET /" H11 "Host: h\r\n\r\n", 400),
    ERR("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ERR("Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    ERR("space before the colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    ERR("no colon", "GET /" H11 "Hosth\r\n\r\n", 400),
    ERR("empty name", "GET /" H11 ": h\r\n\r\n", 400),
    ERR("control byte in a value", "GET /" H11 "X: a\x01b\r\n\r\n", 400),
    ERR("NUL in a value", "GET /" H11 "X: a\0b\r\n\r\n", 400),
    ERR("DEL in a value", "GET /" H11 "X: a\x7f\r\n\r\n", 400),
    ERR("NUL in a name", "GET /" H11 "X\0: a\r\n\r\n", 400),
    ERR("Content-Length -1", "GET /" H11 "Content-Length: -1\r\n\r\n", 400),
    ERR("Content-Length +5", "GET /" H11 "Content-Length: +5\r\n\r\n", 400),
    ERR("Content-Length abc", "GET /" H11 "Content-Length: abc\r\n\r\n", 400),
    ERR("Content-Length empty", "GET /" H11 "Content-Length:\r\n\r\n", 400),
    ERR("Content-Length 1 1", "GET /" H11 "Content-Length: 1 1\r\n\r\n", 400),
    ERR("Content-Length list", "GET /" H11 "Content-Length: 1,1\r\n\r\n", 400),
    ERR("Content-Length 0x10", "GET /" H11 "Content-Length: 0x10\r\n\r\n", 400),
    ERR("Content-Length 2^64", "GET /" H11
        "Content-Length: 18446744073709551616\r\n\r\n", 400),
    ERR("Content-Length 10^30", "GET /" H11
        "Content-Length: 1000000000000000000000000000000\r\n\r\n", 400),
    ERR("Content-Length twice, disagreeing", "GET /" H11
        "Content-Length: 0\r\nContent-Length: 1\r\n\r\n", 400),
    ERR("body on GET", "GET /" H11 "Content-Length: 5\r\n\r\nhello", 413),
    ERR("body of 2^40 on HEAD", "HEAD /" H11
        "Content-Length: 1099511627776\r\n\r\n", 413),
    ERR("body of 2^64-1", "GET /" H11
        "Content-Length: 18446744073709551615\r\n\r\n", 413),
    ERR("Transfer-Encoding", "GET /" H11 "Transfer-Encoding: chunked\r\n\r\n",
        501),
    ERR("Transfer-Encoding and Content-Length", "GET /" H11
        "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400),
    ERR("Transfer-Encoding, no Host", "GET / HTTP/1.1\r\n"
        "Transfer-Encoding: chunked\r\n\r\n", 400),

    /* Not yet complete. */
    MORE("nothing", ""),
    MORE("no empty line", "GET / HTTP/1.1\r\nHost: a\r\n"),
    MORE("CR last", "GET / HTTP/1.1\r\nHost: a\r\n\r"),
    MORE("empty lines only", "\r\n\r\n\r\n"),
};
/* clang-format on */

/* What a parse gave: the result, the request, and the buffer after it. */
struct outcome {
    enum hx_result result;
    struct hx_request req;
    char *buf;
    size_t len;
};

static void
outcome_free(struct outcome *o)
{
    free(o->buf);
    o->buf = NULL;
}

/* A fresh parser over a copy of REQ, fed the lengths CUTS[0..ncuts). */
static struct outcome
parse_cuts(const struct hx_limits *lim, const char *req, size_t len,
           const size_t *cuts, size_t ncuts)
{
    struct outcome o = {.buf = malloc(len + 1), .len = len};
    struct hx_parser p;

    assert_non_null(o.buf);
    memcpy(o.buf, req, len);
    o.buf[len] = '#'; /* never read: a canary past the bytes given */
    assert_int_equal(hx_init(&p, lim), 0);
    o.result = HX_NEED_MORE;
    for (size_t i = 0; i < ncuts && o.result == HX_NEED_MORE; i++)
        o.result = hx_parse(&p, o.buf, cuts[i]);
    /* A finished parser says the same again, with nothing more read. */
    if (o.result != HX_NEED_MORE)
        assert_int_equal(hx_parse(&p, o.buf, len), o.result);
    assert_int_equal(o.buf[len], '#');
    o.req = p.req;
    return o;
}

static void
span_equal(const struct outcome *o, struct hx_span s, const char *want,
           const char *what, const char *name)
{
    if (s.off + (size_t)s.len + 1 > o->len + 1 ||
        strlen(o->buf + s.off) != s.len || strcmp(o->buf + s.off, want)) {
        fail_msg("%s: %s is \"%.*s\" (off %u len %u), not \"%s\"", name, what,
                 (int)(s.off < o->len ? s.len : 0), o->buf + s.off, s.off,
                 s.len, want);
    }
}

static void
check_expect(const struct outcome *o, const struct expect *e)
{
    if (o->result != e->result)
        fail_msg("%s: result %d, not %d (status %d)", e->name, o->result,
                 e->result, o->req.status);
    if (e->result == HX_ERROR) {
        if (o->req.status != e->status)
            fail_msg("%s: status %d, not %d", e->name, o->req.status,
                     e->status);
        return;
    }
    if (e->result != HX_DONE)
        return;
    assert_int_equal(o->req.method, e->method);
    assert_int_equal(o->req.version, e->version);
    span_equal(o, o->req.path, e->path, "path", e->name);
    span_equal(o, o->req.query, e->query, "query", e->name);
    span_equal(o, o->req.host, e->host, "host", e->name);
    if (o->req.keep_alive != e->keep_alive)
        fail_msg("%s: keep_alive %d", e->name, o->req.keep_alive);
    assert_int_equal(o->req.has_ims, e->has_ims);
    assert_int_equal(o->req.if_modified_since, e->ims);
    assert_int_equal(o->req.head_len, e->head_len ? e->head_len : e->len);
}

/* The same outcome, field by field, and the same bytes in the buffer. */
static void
check_same(const struct outcome *a, const struct outcome *b, const char *name,
           const char *how, size_t k)
{
    if (a->result != b->result || a->req.status != b->req.status)
        fail_msg("%s: %s %zu gives result %d status %d, whole gives %d %d",
                 name, how, k, b->result, b->req.status, a->result,
                 a->req.status);
    if (a->result != HX_DONE)
        return;
    const struct hx_request *x = &a->req, *y = &b->req;
    if (x->method != y->method || x->version != y->version ||
        x->path.off != y->path.off || x->path.len != y->path.len ||
        x->query.off != y->query.off || x->query.len != y->query.len ||
        x->host.off != y->host.off || x->host.len != y->host.len ||
        x->keep_alive != y->keep_alive || x->has_ims != y->has_ims ||
        x->if_modified_since != y->if_modified_since ||
        x->head_len != y->head_len || memcmp(a->buf, b->buf, a->len) != 0)
        fail_msg("%s: %s %zu: another request or other bytes", name, how, k);
}

/*
 * Whole, every split point (STEP 1: each byte boundary) and one byte at a
 * time: all the same.  Returns the whole parse's outcome.
 */
static struct outcome
check_splits(const struct hx_limits *lim, const char *req, size_t len,
             const char *name, size_t step)
{
    struct outcome whole = parse_cuts(lim, req, len, &len, 1);

    for (size_t k = 0; k <= len; k += step) {
        size_t cuts[2] = {k, len};
        struct outcome o = parse_cuts(lim, req, len, cuts, 2);
        check_same(&whole, &o, name, "split at", k);
        outcome_free(&o);
    }
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i <= len; i++)
        cuts[i] = i;
    struct outcome o = parse_cuts(lim, req, len, cuts, len + 1);
    check_same(&whole, &o, name, "byte by byte, length", len);
    outcome_free(&o);
    free(cuts);
    return whole;
}

static void
test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const struct expect *e = &table[i];
        struct outcome o = check_splits(NULL, e->req, e->len, e->name, 1);
        check_expect(&o, e);
        outcome_free(&o);
    }
    print_message("%zu requests, each whole, split at every byte and byte "
                  "by byte\n",
                  sizeof table / sizeof table[0]);
}

/*
 * Heads one after the other in one buffer, of which the "connection" has
 * received the first K bytes, then all: each comes out in order with its
 * own length, and the parser never reads past what was received.
 */
static void
check_pipeline(const char *all, size_t len, const size_t *heads,
               const char *const *paths, size_t n)
{
    char *buf = malloc(len + 1);

    assert_non_null(buf);
    for (size_t k = 0; k <= len; k++) {
        struct hx_parser p;
        size_t off = 0, got = 0, have = k;

        memcpy(buf, all, len);
        buf[len] = '#';
        assert_int_equal(hx_init(&p, NULL), 0);
        while (got < n) {
            enum hx_result r = hx_parse(&p, buf + off, have - off);
            if (r == HX_NEED_MORE) {
                assert_true(have < len); /* a complete head is found */
                have = len;
                continue;
            }
            assert_int_equal(r, HX_DONE);
            assert_int_equal(p.req.head_len, heads[got]);
            assert_string_equal(buf + off + p.req.path.off, paths[got]);
            off += p.req.head_len;
            got++;
            hx_reset(&p);
        }
        assert_int_equal(off, len);
        assert_int_equal(buf[len], '#');
    }
    free(buf);
}

static void
test_pipelined(void **state)
{
    (void)state;
    static const char a[] = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char b[] = "HEAD /two%41 HTTP/1.1\r\nHost: h\r\n"
                            "Connection: close\r\n\r\n";
    static const char c[] = "GET http://h/three?x HTTP/1.0\r\n\r\n";
    char buf[256];
    size_t heads[3] = {sizeof a - 1, sizeof b - 1, sizeof c - 1};
    const char *const paths[3] = {"/one", "/twoA", "/three"};

    snprintf(buf, sizeof buf, "%s%s", a, b);
    check_pipeline(buf, strlen(buf), heads, paths, 2);
    snprintf(buf, sizeof buf, "%s%s%s", a, b, c);
    check_pipeline(buf, strlen(buf), heads, paths, 3);
    /* The same head three times: nothing of one leaks into the next. */
    snprintf(buf, sizeof buf, "%s%s%s", b, b, b);
    size_t same[3] = {sizeof b - 1, sizeof b - 1, sizeof b - 1};
    const char *const twice[3] = {"/twoA", "/twoA", "/twoA"};
    check_pipeline(buf, strlen(buf), same, twice, 3);
}

/* A request line of exactly LEN bytes, and what the head needs after it. */
static char *
request_of(size_t line_len, const char *rest, size_t *len)
{
    size_t n = line_len + 2 + strlen(rest);
    char *r = malloc(n + 1);

    assert_non_null(r);
    assert_true(line_len >= 15);
    memcpy(r, "GET /", 5);
    memset(r + 5, 'a', line_len - 14);
    memcpy(r + line_len - 9, " HTTP/1.0\r\n", 11);
    strcpy(r + line_len + 2, rest);
    *len = n;
    return r;
}

static void
expect_outcome(const struct outcome *o, enum hx_result r, int status,
               const char *name)
{
    if (o->result != r || (r == HX_ERROR && o->req.status != status))
        fail_msg("%s: result %d status %d, not %d %d", name, o->result,
                 o->req.status, r, status);
}

static void
check_request_line_limit(const struct hx_limits *lim, size_t limit, size_t step)
{
    size_t len;
    char *r;
    struct outcome o;

    r = request_of(limit, "\r\n", &len);
    o = check_splits(lim, r, len, "request line at the limit", step);
    expect_outcome(&o, HX_DONE, 0, "request line at the limit");
    assert_int_equal(o.req.head_len, len);
    assert_int_equal(o.req.path.len, limit - 13);
    outcome_free(&o);
    free(r);

    r = request_of(limit + 1, "\r\n", &len);
    o = check_splits(lim, r, len, "request line one over", step);
    expect_outcome(&o, HX_ERROR, 414, "request line one over");
    outcome_free(&o);
    /* Known at the byte one over, before the end of the line. */
    o = parse_cuts(lim, r, limit + 1, &(size_t){limit + 1}, 1);
    expect_outcome(&o, HX_ERROR, 414, "request line one over, no CRLF");
    outcome_free(&o);
    o = parse_cuts(lim, r, limit, &(size_t){limit}, 1);
    expect_outcome(&o, HX_NEED_MORE, 0, "request line at the limit, no CRLF");
    outcome_free(&o);
    free(r);

    /* Empty lines before it count: one at the limit is refused. */
    r = malloc(limit + 4);
    assert_non_null(r);
    for (size_t i = 0; i + 1 < limit + 4; i += 2)
        memcpy(r + i, "\r\n", 2);
    o = check_splits(lim, r, limit + 4, "empty lines over the limit", step);
    expect_outcome(&o, HX_ERROR, 414, "empty lines over the limit");
    outcome_free(&o);
    free(r);
}

/* A header block of exactly LEN bytes: X: aaa...\r\n lines, then \r\n. */
static char *
block_of(size_t block, size_t *len)
{
    char *rest = malloc(block + 1), *r;
    size_t at = 0;

    assert_non_null(rest);
    assert_true(block >= 7);
    while (block - 2 - at > 0) {
        size_t line = block - 2 - at; /* this line's bytes, CRLF in */
        if (line > 600)
            line = line - 600 >= 7 ? 600 : line - 7;
        assert_true(line >= 5);
        memcpy(rest + at, "X:", 2);
        memset(rest + at + 2, 'b', line - 4);
        memcpy(rest + at + line - 2, "\r\n", 2);
        at += line;
    }
    memcpy(rest + at, "\r\n", 3);
    r = request_of(20, rest, len);
    free(rest);
    return r;
}

static void
check_header_block_limit(const struct hx_limits *lim, size_t limit, size_t step)
{
    size_t len;
    char *r;
    struct outcome o;

    r = block_of(limit, &len);
    o = check_splits(lim, r, len, "header block at the limit", step);
    expect_outcome(&o, HX_DONE, 0, "header block at the limit");
    assert_int_equal(o.req.head_len, len);
    outcome_free(&o);
    free(r);

    r = block_of(limit + 1, &len);
    o = check_splits(lim, r, len, "header block one over", step);
    expect_outcome(&o, HX_ERROR, 431, "header block one over");
    outcome_free(&o);
    /* Known once the last field line can no longer fit with "\r\n\r\n". */
    o = parse_cuts(lim, r, len - 4, &(size_t){len - 4}, 1);
    expect_outcome(&o, HX_ERROR, 431, "header block one over, early");
    outcome_free(&o);
    free(r);
}

static void
check_header_count_limit(const struct hx_limits *lim, size_t limit, size_t step)
{
    char *rest = malloc(4 * (limit + 1) + 3), *r;
    size_t len;
    struct outcome o;

    assert_non_null(rest);
    for (size_t n = limit; n <= limit + 1; n++) {
        for (size_t i = 0; i < n; i++)
            memcpy(rest + 4 * i, "X:\r\n", 4);
        memcpy(rest + 4 * n, "\r\n", 3);
        r = request_of(20, rest, &len);
        o = check_splits(lim, r, len, "header count", step);
        if (n == limit)
            expect_outcome(&o, HX_DONE, 0, "headers at the limit");
        else
            expect_outcome(&o, HX_ERROR, 431, "headers one over");
        outcome_free(&o);
        free(r);
    }
    free(rest);
}

/* Small limits: every split point of every case. */
static void
test_limits_small(void **state)
{
    (void)state;
    const struct hx_limits lim = {
        .request_line = 40, .header_block = 64, .headers = 5};

    check_request_line_limit(&lim, 40, 1);
    check_header_block_limit(&lim, 64, 1);
    check_header_count_limit(&lim, 5, 1);
}

/* The defaults: whole, byte by byte, and splits at every 61st byte. */
static void
test_limits_default(void **state)
{
    (void)state;
    check_request_line_limit(NULL, HX_DEFAULT_REQUEST_LINE, 61);
    check_header_block_limit(NULL, HX_DEFAULT_HEADER_BLOCK, 61);
    check_header_count_limit(NULL, HX_DEFAULT_HEADERS, 61);
}

/*
 * A caller with a buffer of HX_HEAD_MAX bytes never sees "need more" with
 * it full: here a request line at the limit, then field lines for ever.
 */
static void
test_head_max_is_enough(void **state)
{
    (void)state;
    const struct hx_limits lims[] = {{40, 64, 100}, {0, 0, HX_LIMIT_MAX}};

    for (size_t l = 0; l < 2; l++) {
        struct hx_parser p;
        assert_int_equal(hx_init(&p, &lims[l]), 0);
        size_t max = HX_HEAD_MAX(p.lim.request_line, p.lim.header_block);
        for (size_t value = 0; value < 8; value++) {
            size_t len, at;
            char *buf = malloc(max);
            char *line = request_of(p.lim.request_line, "", &len);
            assert_non_null(buf);
            memcpy(buf, line, len);
            /* "Y: " VALUE CRLF, cut wherever max falls */
            for (at = len; at < max;) {
                char field[16] = "Y: ";
                memset(field + 3, 'z', value);
                memcpy(field + 3 + value, "\r\n", 2);
                for (size_t i = 0; i < 5 + value && at < max; i++)
                    buf[at++] = field[i];
            }
            assert_int_equal(hx_init(&p, &lims[l]), 0);
            assert_int_equal(hx_parse(&p, buf, max), HX_ERROR);
            assert_int_equal(p.req.status, 431);
            free(buf);
            free(line);
        }
    }
}

static void
test_init_and_reset(void **state)
{
    (void)state;
    struct hx_parser p;
    struct hx_limits big = {.request_line = HX_LIMIT_MAX + 1};
    struct hx_limits tiny = {.header_block = 1};
    char req[] = "GET / HTTP/1.0\r\n\r\n";

    assert_int_equal(hx_init(&p, &big), EINVAL);
    assert_int_equal(hx_init(&p, &tiny), EINVAL);
    assert_int_equal(hx_init(&p, NULL), 0);
    assert_int_equal(p.lim.request_line, HX_DEFAULT_REQUEST_LINE);
    assert_int_equal(p.lim.header_block, HX_DEFAULT_HEADER_BLOCK);
    assert_int_equal(p.lim.headers, HX_DEFAULT_HEADERS);
    assert_int_equal(hx_init(&p, &(struct hx_limits){20, 30, 2}), 0);
    assert_int_equal(hx_parse(&p, req, sizeof req - 1), HX_DONE);
    hx_reset(&p);
    assert_int_equal(p.lim.request_line, 20); /* the limits stay */
    assert_int_equal(p.lim.headers, 2);
    /* Fewer bytes than the last call: refused, never read. */
    assert_int_equal(hx_parse(&p, req, 10), HX_NEED_MORE);
    assert_int_equal(hx_parse(&p, req, 5), HX_ERROR);
    assert_int_equal(p.req.status, 500);
    assert_string_equal(hx_reason(431), "Request Header Fields Too Large");
    assert_string_equal(hx_reason(999), "Unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_limits_small),
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_head_max_is_enough),
        cmocka_unit_test(test_init_and_reset),
    };

    return cmocka_run_group_tests_name("http_parser", tests, NULL, NULL);
}
