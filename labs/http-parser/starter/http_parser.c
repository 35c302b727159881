/*
 * http_parser.c - lab http-parser, starter code: the request-head parser
 * of the chapter-15 web server (the book's two-level state machine of
 * listing 8-3).  http_parser.h says what it accepts and why.
 *
 * What it must do: the second level (hx_parse and the parsers of the
 * request line and the header fields) sees only complete lines; the first
 * level, the line scanner, is the only code that looks at bytes not yet
 * part of a complete line.  The scanner is yours: look for TODO(lab).
 * The handout is labs/http-parser/README.md.
 */
#include "http_parser.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

enum state { S_REQUEST_LINE, S_HEADERS, S_DONE, S_ERROR };

enum line_status { LINE_OK, LINE_OPEN, LINE_BAD };

/* Header fields seen (struct hx_parser.flags). */
enum {
    F_HOST = 1u << 0,
    F_CONTENT_LENGTH = 1u << 1,
    F_TRANSFER_ENCODING = 1u << 2,
    F_CLOSE = 1u << 3,
    F_KEEP_ALIVE = 1u << 4,
    F_IMS_SEEN = 1u << 5,  /* an If-Modified-Since field, valid or not */
    F_IMS_VALID = 1u << 6, /* the first one was an IMF-fixdate */
    F_IMS_TWICE = 1u << 7, /* a second one: both ignored */
    F_ABSOLUTE = 1u << 8,  /* the target was an absolute URL */
};

/* The smallest limits that let a minimal head ("GET / HTTP/1.0", CRLFs). */
enum { MIN_REQUEST_LINE = 14, MIN_HEADER_BLOCK = 2 };

/* RFC 9110 5.6.2: tchar. */
static bool
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* uri-host [":" port]: reg-name, IP-literal and port characters. */
static bool
is_host_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("-._~!$&'()*+,;=%:[]", c) != NULL;
}

static bool
is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool
span_is(const char *buf, uint32_t s, uint32_t e, const char *word)
{
    size_t n = strlen(word);

    return e - s == n && strncasecmp(buf + s, word, n) == 0;
}

static enum hx_result
fail(struct hx_parser *p, int status)
{
    p->state = S_ERROR;
    p->req.status = status;
    return HX_ERROR;
}

int
hx_init(struct hx_parser *p, const struct hx_limits *lim)
{
    struct hx_limits l = {0, 0, 0};

    if (lim)
        l = *lim;
    if (l.request_line == 0)
        l.request_line = HX_DEFAULT_REQUEST_LINE;
    if (l.header_block == 0)
        l.header_block = HX_DEFAULT_HEADER_BLOCK;
    if (l.headers == 0)
        l.headers = HX_DEFAULT_HEADERS;
    if (l.request_line > HX_LIMIT_MAX || l.header_block > HX_LIMIT_MAX ||
        l.headers > HX_LIMIT_MAX || l.request_line < MIN_REQUEST_LINE ||
        l.header_block < MIN_HEADER_BLOCK)
        return EINVAL;
    memset(p, 0, sizeof *p);
    p->lim = l;
    hx_reset(p);
    return 0;
}

void
hx_reset(struct hx_parser *p)
{
    struct hx_limits l = p->lim;

    memset(p, 0, sizeof *p);
    p->lim = l;
    p->state = S_REQUEST_LINE;
}

/*
 * Would the byte at I, C, take the head over a limit?  Decided from I and
 * C alone, as early as the limit is sure to be passed: in the header block
 * a byte of a field line still needs its CRLF and the empty line's after
 * it, so the block is over as soon as those four cannot fit.  At
 * HX_HEAD_MAX bytes, then, a head is always done or refused.
 */
static int
over_limit(const struct hx_parser *p, uint32_t i, unsigned char c)
{
    if (p->state == S_REQUEST_LINE) {
        /* Line bytes at [0, request_line), its CR at request_line at most. */
        if (c == '\r' ? i > p->lim.request_line : i >= p->lim.request_line)
            return 414;
        return 0;
    }
    uint32_t j = i - p->block_start;
    uint32_t need; /* bytes after this one the block needs at least */

    if (c == '\r')
        need = i == p->line_start ? 1 : 3;
    else
        need = 4;
    if ((uint64_t)j + need >= p->lim.header_block)
        return 431;
    return 0;
}

/*
 * The first level: is the line from p->line_start complete (LINE_OK, *EOL
 * at its CR, p->scanned past its LF), incomplete (LINE_OPEN, p->scanned at
 * the first byte to look at next time), or bad (LINE_BAD, p->req.status
 * set)?
 *
 * TODO(lab): scan BUF from p->scanned up to LEN, one byte at a time.
 * hx_parse calls this again, with the same BUF and a larger LEN, when
 * more bytes arrive: resume where the last call stopped, and decide on
 * each byte from that byte alone (and, for a CR, the byte after it), so
 * that where the reads split the input can never change the result.  A
 * line ends with CR LF; a LF without its CR and a CR followed by anything
 * but LF are errors (400).  A CR that is the last byte given is not yet
 * an end or an error.  Before any other test of a byte, over_limit(p, i,
 * c) says whether it takes the head over a limit (its status, or 0).
 * The stand-in below never finds a line.
 */
static enum line_status
scan_line(struct hx_parser *p, const char *buf, uint32_t len, uint32_t *eol)
{
    (void)buf;
    (void)eol;
    (void)over_limit; /* yours to call */
    p->scanned = len;
    return LINE_OPEN;
}

/*
 * Decode %XX in BUF[from, to) to BUF[out ...] (out <= from: it never
 * overtakes what it reads).  The bytes are already 0x21..0x7e.  Returns
 * the decoded length, or -1 for a bad escape or a control byte.
 */
static int64_t
decode_path(char *buf, uint32_t from, uint32_t to, uint32_t out)
{
    uint32_t start = out;

    for (uint32_t i = from; i < to;) {
        if (buf[i] != '%') {
            buf[out++] = buf[i++];
            continue;
        }
        if (to - i < 3)
            return -1;
        int hi = hex_value((unsigned char)buf[i + 1]);
        int lo = hex_value((unsigned char)buf[i + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        int v = hi * 16 + lo;
        if (v < 0x20 || v == 0x7f) /* %00 and every control byte */
            return -1;
        buf[out++] = (char)v;
        i += 3;
    }
    return out - start;
}

/*
 * The request target BUF[t, te), its bytes 0x21..0x7e, into req.path,
 * req.query and (absolute form) req.host.  Everything is rewritten within
 * [t, te], te included (the space before the version, read already).
 */
static int
parse_target(struct hx_parser *p, char *buf, uint32_t t, uint32_t te)
{
    struct hx_request *r = &p->req;
    uint32_t ps, pe, out; /* raw path, and where it is decoded to */

    if (buf[t] == '/') {
        ps = out = t;
    } else if (te - t >= 7 && strncasecmp(buf + t, "http://", 7) == 0) {
        uint32_t hs = t + 7, he = hs;

        while (he < te && buf[he] != '/' && buf[he] != '?') {
            if (!is_host_char((unsigned char)buf[he]))
                return 400; /* '@' of a userinfo among others */
            he++;
        }
        if (he == hs || buf[hs] == ':')
            return 400; /* no host: "http:///", "http://:80/" */
        /* The host moves to t and gets its NUL; the path follows. */
        memmove(buf + t, buf + hs, he - hs);
        buf[t + (he - hs)] = '\0';
        r->host.off = t;
        r->host.len = he - hs;
        p->flags |= F_ABSOLUTE;
        ps = he;
        out = t + (he - hs) + 1;
    } else {
        return 400; /* asterisk, authority form, or no '/' */
    }
    pe = ps;
    while (pe < te && buf[pe] != '?')
        pe++;

    int64_t n;
    if (ps == pe) { /* "http://host" or "http://host?q": the path is "/" */
        buf[out] = '/';
        n = 1;
    } else {
        n = decode_path(buf, ps, pe, out);
        if (n < 0)
            return 400;
    }
    buf[out + n] = '\0'; /* at pe at the latest: the '?' or the space */
    r->path.off = out;
    r->path.len = (uint32_t)n;
    if (pe < te) {
        r->query.off = pe + 1;
        r->query.len = te - pe - 1;
        buf[te] = '\0';
    } else {
        r->query.off = out + (uint32_t)n;
        r->query.len = 0;
    }
    if (!(p->flags & F_ABSOLUTE)) /* till a Host field: "" */
        r->host = (struct hx_span){out + (uint32_t)n, 0};
    return 0;
}

/*
 * METHOD SP TARGET SP HTTP/D.D in BUF[s, e).  The line's syntax first
 * (400), then the version (505), then the method (501), then what a GET
 * or HEAD needs of its target (400): "OPTIONS *" and "CONNECT host:443"
 * are well-formed requests this server does not implement.
 */
static int
parse_request_line(struct hx_parser *p, char *buf, uint32_t s, uint32_t e)
{
    uint32_t m = s, t, te, v;

    while (m < e && is_tchar((unsigned char)buf[m]))
        m++;
    if (m == s || m == e || buf[m] != ' ')
        return 400;
    t = m + 1;
    te = t;
    while (te < e && buf[te] != ' ')
        te++;
    if (te == t || te == e)
        return 400; /* an empty target, or no version (HTTP/0.9) */
    for (uint32_t i = t; i < te; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x21 || c > 0x7e || c == '#')
            return 400; /* a control or non-ASCII byte, a fragment */
    }
    v = te + 1;
    if (e - v != 8 || memcmp(buf + v, "HTTP/", 5) != 0 || buf[v + 5] < '0' ||
        buf[v + 5] > '9' || buf[v + 6] != '.' || buf[v + 7] < '0' ||
        buf[v + 7] > '9')
        return 400;
    if (buf[v + 5] != '1' || buf[v + 7] > '1')
        return 505;
    p->req.version = buf[v + 7] == '1' ? 11 : 10;
    if (m - s == 3 && memcmp(buf + s, "GET", 3) == 0)
        p->req.method = HX_GET;
    else if (m - s == 4 && memcmp(buf + s, "HEAD", 4) == 0)
        p->req.method = HX_HEAD;
    else
        return 501; /* methods are case-sensitive: "get" is not GET */
    return parse_target(p, buf, t, te);
}

/* Connection: a list of tokens; only close and keep-alive matter. */
static void
parse_connection(struct hx_parser *p, const char *buf, uint32_t s, uint32_t e)
{
    while (s < e) {
        uint32_t ts, te;

        while (s < e && (is_ows((unsigned char)buf[s]) || buf[s] == ','))
            s++;
        ts = s;
        while (s < e && buf[s] != ',')
            s++;
        te = s;
        while (te > ts && is_ows((unsigned char)buf[te - 1]))
            te--;
        if (span_is(buf, ts, te, "close"))
            p->flags |= F_CLOSE;
        else if (span_is(buf, ts, te, "keep-alive"))
            p->flags |= F_KEEP_ALIVE;
    }
}

static int
parse_content_length(struct hx_parser *p, const char *buf, uint32_t s,
                     uint32_t e)
{
    uint64_t v = 0;

    if (s == e)
        return 400;
    for (uint32_t i = s; i < e; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < '0' || c > '9')
            return 400; /* a sign, a space, a comma list, a letter */
        if (v > (UINT64_MAX - (c - '0')) / 10)
            return 400; /* it would overflow */
        v = v * 10 + (c - '0');
    }
    if ((p->flags & F_CONTENT_LENGTH) && v != p->content_length)
        return 400;
    p->flags |= F_CONTENT_LENGTH;
    p->content_length = v;
    return 0;
}

/* Days from 1970-01-01 to Y-M-D, proleptic Gregorian (any sign). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static int
digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* IMF-fixdate, exactly: "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool
parse_imf_fixdate(const char *s, size_t n, time_t *out)
{
    static const char days[] = "ThuFriSatSunMonTueWed"; /* from 1970-01-01 */
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
        memcmp(s + 26, "GMT", 3) != 0)
        return false;
    int day = digits(s + 5, 2), year = digits(s + 12, 4);
    int hour = digits(s + 17, 2), min = digits(s + 20, 2);
    int sec = digits(s + 23, 2), mon = -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months + 3 * i, 3) == 0)
            mon = i + 1;
    if (day < 1 || year < 0 || hour < 0 || hour > 23 || min < 0 || min > 59 ||
        sec < 0 || sec > 60 || mon < 0 || day > mdays[mon - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 2 && day == 29 && !leap)
        return false;
    int64_t dn = days_from_civil(year, mon, day);
    int wd = (int)(((dn % 7) + 7) % 7);
    if (memcmp(s, days + 3 * wd, 3) != 0)
        return false; /* the weekday does not match the date */
    int64_t t = dn * 86400 + hour * 3600 + min * 60 + sec;
    if ((time_t)t != t)
        return false; /* beyond a 32-bit time_t */
    *out = (time_t)t;
    return true;
}

/* NAME ":" OWS VALUE OWS in BUF[s, e). */
static int
parse_header(struct hx_parser *p, char *buf, uint32_t s, uint32_t e)
{
    uint32_t n = s, v, ve;

    if (is_ows((unsigned char)buf[s]))
        return 400; /* obs-fold: a continuation line */
    while (n < e && is_tchar((unsigned char)buf[n]))
        n++;
    if (n == s || n == e || buf[n] != ':')
        return 400; /* no name, no colon, or a space before the colon */
    v = n + 1;
    while (v < e && is_ows((unsigned char)buf[v]))
        v++;
    ve = e;
    while (ve > v && is_ows((unsigned char)buf[ve - 1]))
        ve--;
    for (uint32_t i = v; i < ve; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 400;
    }

    if (span_is(buf, s, n, "host")) {
        if (p->flags & F_HOST)
            return 400;
        p->flags |= F_HOST;
        for (uint32_t i = v; i < ve; i++)
            if (!is_host_char((unsigned char)buf[i]))
                return 400;
        if (!(p->flags & F_ABSOLUTE)) {
            buf[ve] = '\0'; /* over trailing OWS or the CR: both read */
            p->req.host.off = v;
            p->req.host.len = ve - v;
        }
    } else if (span_is(buf, s, n, "connection")) {
        parse_connection(p, buf, v, ve);
    } else if (span_is(buf, s, n, "content-length")) {
        return parse_content_length(p, buf, v, ve);
    } else if (span_is(buf, s, n, "transfer-encoding")) {
        p->flags |= F_TRANSFER_ENCODING;
    } else if (span_is(buf, s, n, "if-modified-since")) {
        if (p->flags & F_IMS_SEEN)
            p->flags |= F_IMS_TWICE;
        else if (parse_imf_fixdate(buf + v, ve - v, &p->req.if_modified_since))
            p->flags |= F_IMS_VALID;
        p->flags |= F_IMS_SEEN;
    }
    return 0;
}

/* At the empty line: what needs the whole head. */
static int
finish(struct hx_parser *p)
{
    struct hx_request *r = &p->req;
    uint32_t f = p->flags;

    if (r->version == 11 && !(f & F_HOST))
        return 400;
    if ((f & F_TRANSFER_ENCODING) && (f & F_CONTENT_LENGTH))
        return 400;
    if (f & F_TRANSFER_ENCODING)
        return 501;
    if ((f & F_CONTENT_LENGTH) && p->content_length > 0)
        return 413;
    if (r->version == 11)
        r->keep_alive = !(f & F_CLOSE);
    else
        r->keep_alive = (f & F_KEEP_ALIVE) && !(f & F_CLOSE);
    r->has_ims = (f & F_IMS_VALID) && !(f & F_IMS_TWICE);
    if (!r->has_ims)
        r->if_modified_since = 0;
    return 0;
}

enum hx_result
hx_parse(struct hx_parser *p, char *buf, size_t len)
{
    size_t max = HX_HEAD_MAX(p->lim.request_line, p->lim.header_block);
    uint32_t n, eol;
    int status;

    if (p->state == S_DONE)
        return HX_DONE;
    if (p->state == S_ERROR)
        return HX_ERROR;
    if (len < p->scanned)
        return fail(p, 500);
    /* No byte past the longest head is ever needed (over_limit). */
    n = (uint32_t)(len < max ? len : max);

    for (;;) {
        switch (scan_line(p, buf, n, &eol)) {
        case LINE_OPEN:
            return HX_NEED_MORE;
        case LINE_BAD:
            return fail(p, p->req.status);
        case LINE_OK:
            break;
        }
        if (p->state == S_REQUEST_LINE) {
            if (eol > p->line_start) {
                status = parse_request_line(p, buf, p->line_start, eol);
                if (status)
                    return fail(p, status);
                p->state = S_HEADERS;
                p->block_start = p->scanned;
            }
            /* else an empty line before the request line: skipped */
        } else if (eol == p->line_start) {
            status = finish(p);
            if (status)
                return fail(p, status);
            p->state = S_DONE;
            p->req.head_len = p->scanned;
            return HX_DONE;
        } else {
            if (++p->nheaders > p->lim.headers)
                return fail(p, 431);
            status = parse_header(p, buf, p->line_start, eol);
            if (status)
                return fail(p, status);
        }
        p->line_start = p->scanned;
    }
}

const char *
hx_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
