/*
 * http_parser.h - the HTTP/1.x request-head parser of the chapter-15 web
 * server: the book's chapter-8 two-level state machine (listing 8-3, and
 * its extension in 15-5's http_conn::process) as a module of its own.
 *
 * Two levels, as in the book:
 *  - a line scanner walks the bytes and says, for the current line,
 *    complete (CRLF seen) / incomplete (need more bytes) / bad;
 *  - a request parser takes each complete line and moves from the request
 *    line to the header fields to done (the empty line).
 *
 * The caller owns the read buffer.  It calls hx_parse with the bytes it
 * has of one request head, starting at the request's first byte; when more
 * arrive it calls again with the same start and the longer length.  The
 * parser remembers how far it has scanned and resumes there, so feeding a
 * request one byte at a time gives exactly what feeding it whole gives.
 * HX_DONE says how many bytes the head used (req.head_len): the bytes
 * after it are the next pipelined request's, for hx_reset and a call with
 * buf + head_len.  Nothing is allocated, nothing is global, nothing is
 * printed: a parser is a plain struct, one per connection.
 *
 * What is accepted (RFC 9112 / 9110, deliberately strict):
 *  - request line: METHOD SP TARGET SP HTTP/1.0|1.1, single spaces.
 *    GET and HEAD; any other method token -> 501; a byte outside the
 *    token set (or an empty method) -> 400.  HTTP/x.y other than 1.0 and
 *    1.1 (HTTP/2.0, HTTP/0.9, HTTP/1.2) -> 505; anything else there (a
 *    missing version, "http/1.1", "HTTP/1.10") -> 400.  Checked in that
 *    order: the line's syntax 400, version 505, method 501, then the
 *    target's form 400 (so "OPTIONS *" and "CONNECT host:443" get 501).
 *  - target: origin-form "/path[?query]", or absolute-form
 *    "http://host[:port][/path][?query]" (scheme case-insensitive), which
 *    is reduced to its path (an empty path is "/") and whose host replaces
 *    the Host field, as RFC 9112 3.2.2 says.  Any other form, a userinfo
 *    ("user@host"), an empty host, a '#', a byte outside 0x21..0x7e -> 400.
 *    The path is %XX-decoded (hex either case); %00, a decoded control
 *    byte (0x01..0x1f, 0x7f) or a bad escape ("%", "%4", "%zz") -> 400.
 *    The query is split off at the first '?' and left as sent.
 *  - lines end in CRLF.  A bare LF -> 400: the book treats it as bad, and
 *    RFC 9112 2.2 only allows (MAY) a server to accept it; a server that
 *    reads line ends differently from a proxy in front of it is how
 *    requests get smuggled, and every real client sends CRLF.  A bare CR
 *    -> 400 (RFC 9112 2.2).  Empty lines before the request line are
 *    skipped (RFC 9112 2.2 SHOULD), their bytes counted in its limit.
 *  - header fields: NAME ":" OWS VALUE OWS; names are tokens, compared
 *    case-insensitively; space or tab around the value is trimmed.  A
 *    space before the colon, an empty name, no colon, a control byte in
 *    the value -> 400.  A line that starts with space or tab (obs-fold, a
 *    continuation line) -> 400 (RFC 9112 5.2 allows rejecting it).
 *  - Host: required in HTTP/1.1, at most once, host[:port] characters
 *    only (RFC 9112 3.2: 400 otherwise).
 *  - Connection: a comma list of tokens, case-insensitive, over any number
 *    of lines.  HTTP/1.1 keeps the connection alive unless "close" is in
 *    it; HTTP/1.0 only with "keep-alive" and no "close" (RFC 9112 9.3).
 *  - If-Modified-Since: an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT",
 *    weekday checked) becomes a time_t.  Anything else, the obsolete
 *    RFC 850 and asctime forms included, or a second such field, is
 *    ignored (RFC 9110 13.1.3: an invalid date means no condition), so
 *    the server sends the whole file: never wrong, only less economical.
 *  - Content-Length: 1*DIGIT, no sign, no space inside, no comma list;
 *    a value over UINT64_MAX, a non-digit, or two fields that disagree
 *    -> 400.  GET and HEAD carry no body here: a non-zero length -> 413
 *    (the server accepts no content; the request is well-formed, so 413,
 *    not 400), and the connection must then be closed, since the body's
 *    bytes were not read.  Content-Length: 0 is accepted.
 *  - Transfer-Encoding (any value): 501, the server implements no
 *    transfer coding (RFC 9112 6.1 SHOULD); with a Content-Length as well
 *    -> 400, the mark of a smuggling attempt (RFC 9112 6.3).
 *  Errors found in a line are reported when that line is complete; those
 *  that need the whole head (no Host, Transfer-Encoding, a body) at the
 *  empty line, in the order 400, 501, 413.
 *
 * Limits (struct hx_limits; each answered as soon as it is exceeded, never
 * by writing or reading past buf + len):
 *  - request_line: bytes before the request line's CRLF (the skipped empty
 *    lines included).  A byte past it -> 414, without waiting for the end.
 *  - header_block: bytes after the request line's CRLF up to and with the
 *    empty line's CRLF.  One byte more -> 431.
 *  - headers: header field lines.  One more -> 431.
 * So a head is never longer than HX_HEAD_MAX(request_line, header_block):
 * a caller whose buffer holds that many bytes never sees HX_NEED_MORE
 * with a full buffer.
 *
 * Path safety is the server's job: it resolves the path (realpath) and
 * compares it with its DOCROOT.  The parser guarantees only that the path
 * starts with '/' and holds no NUL or control byte, and it hands over the
 * decoded bytes exactly: "/%2e%2e/etc/passwd" is given as "/../etc/passwd",
 * for the server to refuse.  It never removes dot segments.
 *
 * After HX_ERROR the server answers req's status and closes the
 * connection: where the next request would start is unknown.
 */
#ifndef HPSP_HTTP_PARSER_H
#define HPSP_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Default limits (Apache's and nginx's order of size) and their bound. */
#define HX_DEFAULT_REQUEST_LINE 8192
#define HX_DEFAULT_HEADER_BLOCK 8192
#define HX_DEFAULT_HEADERS 100
#define HX_LIMIT_MAX (1u << 20)

/* The longest head the limits allow: request line, CRLF, header block. */
#define HX_HEAD_MAX(request_line, header_block)                                \
    ((size_t)(request_line) + 2 + (size_t)(header_block))

struct hx_limits {
    uint32_t request_line; /* 0: HX_DEFAULT_REQUEST_LINE (over: 414) */
    uint32_t header_block; /* 0: HX_DEFAULT_HEADER_BLOCK (over: 431) */
    uint32_t headers;      /* 0: HX_DEFAULT_HEADERS (over: 431) */
};

enum hx_result {
    HX_NEED_MORE = 0, /* incomplete: call again with more bytes */
    HX_DONE = 1,      /* a complete head: req is filled in */
    HX_ERROR = 2,     /* refused: req.status says what to answer */
};

enum hx_method { HX_GET = 1, HX_HEAD = 2 };

/*
 * Bytes of the caller's buffer: buf + off, len bytes, followed by a NUL
 * (the parser writes it), so buf + off is also a C string.  An absent
 * field has len 0 and still names a NUL.  Offsets are from the buf given
 * to hx_parse, so they survive the caller moving its buffer.
 */
struct hx_span {
    uint32_t off;
    uint32_t len;
};

/* What hx_parse found.  Valid after HX_DONE; after HX_ERROR only status. */
struct hx_request {
    int status;               /* HX_ERROR: 400 413 414 431 501 505 (500: the
                                 caller gave fewer bytes than before) */
    enum hx_method method;    /* HX_GET or HX_HEAD */
    int version;              /* 10 or 11: HTTP/1.0 or HTTP/1.1 */
    struct hx_span path;      /* decoded, starts with '/', no NUL or control */
    struct hx_span query;     /* after the first '?', not decoded; may be "" */
    struct hx_span host;      /* of an absolute URL, else Host's value; "" */
    bool keep_alive;          /* RFC 9112 9.3, from version and Connection */
    bool has_ims;             /* If-Modified-Since was a valid IMF-fixdate */
    time_t if_modified_since; /* that date, seconds since the epoch (UTC) */
    size_t head_len;          /* bytes of buf this head used, with its CRLFs */
};

/*
 * One parser per connection.  Every field is the parser's own; read only
 * req, and only as struct hx_request above says.
 */
struct hx_parser {
    struct hx_limits lim;    /* as given to hx_init, defaults filled in */
    uint8_t state;           /* request line, headers, done, error */
    uint32_t scanned;        /* bytes of buf the line scanner has examined */
    uint32_t line_start;     /* offset of the line being scanned */
    uint32_t block_start;    /* offset of the header block (after line 1) */
    uint32_t nheaders;       /* header field lines so far */
    uint32_t flags;          /* header fields seen (Host, Connection ...) */
    uint64_t content_length; /* the value of Content-Length, if seen */
    struct hx_request req;
};

/*
 * Ready P for a connection's first request.  LIM may be NULL (defaults);
 * a zero field takes its default.  Returns 0, or EINVAL when a limit is
 * over HX_LIMIT_MAX (P is then unchanged).
 */
int hx_init(struct hx_parser *p, const struct hx_limits *lim);

/*
 * Ready P for the next request on the same connection (keeps the limits).
 * Call it after HX_DONE, then hx_parse the bytes from buf + head_len on.
 */
void hx_reset(struct hx_parser *p);

/*
 * Parse the head in BUF[0, LEN): the request's bytes from its first, LEN
 * at least what the last call had (the bytes given before must not have
 * changed, except by the parser).  The parser writes into BUF: it decodes
 * the path in place and ends each span with a NUL, all within the head's
 * bytes, and only once they are complete.  Once HX_DONE or HX_ERROR is
 * returned, later calls return it again until hx_reset.
 */
enum hx_result hx_parse(struct hx_parser *p, char *buf, size_t len);

/* The reason phrase of a status hx_parse sets, or of 200, 304, 403, 404. */
const char *hx_reason(int status);

#endif
