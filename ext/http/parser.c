/* The HTTP/1.x request-head parser (see parser.h).
 *
 * Grammar (RFC 9112):
 *   request-line = method SP request-target SP HTTP-version CRLF
 *   method       = token
 *   target       = 1*( VCHAR / obs-text )      ; checked further by the caller
 *   HTTP-version = "HTTP/" DIGIT "." DIGIT
 *   field-line   = field-name ":" OWS field-value OWS CRLF
 *   field-name   = token
 *   field-value  = *( VCHAR / obs-text / SP / HTAB )
 * Up to 4 empty lines before the request line are skipped (section 2.2). */
#include "parser.h"

#define MAX_EMPTY_LINES 4

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static int
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

/* VCHAR / obs-text: anything but controls, SP and DEL. */
static int
is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

/* VCHAR / obs-text / SP / HTAB */
static int
is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Find the end of the line starting at buf[start]: the offset of its LF,
 * whose CR is at LF - 1.  Returns LINE_FOUND and sets *lf, or a result:
 * INCOMPLETE when the buffer ends first (within max bytes), or the error for
 * a bare CR/LF or a line longer than max bytes. */
#define LINE_FOUND 1

static ssize_t
find_line_end(const char *buf, size_t len, size_t start, size_t max, ssize_t too_long,
              size_t *lf)
{
    size_t i;
    for (i = start; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (i - start + 1 > max)
            return too_long;
        if (c == '\n')
            return GEVC_HTTP_E_BARE_LF;       /* a CR would have ended the scan */
        if (c == '\r') {
            if (i + 1 >= len)
                return i - start + 2 > max ? too_long : GEVC_HTTP_INCOMPLETE;
            if (buf[i + 1] != '\n')
                return GEVC_HTTP_E_BARE_CR;
            if (i + 2 - start > max)
                return too_long;
            *lf = i + 1;
            return LINE_FOUND;
        }
    }
    return GEVC_HTTP_INCOMPLETE;
}

/* request-line in buf[start : cr]: fill req or return the error. */
static ssize_t
parse_request_line(const char *buf, size_t start, size_t cr, gevc_http_request *req)
{
    size_t p = start;
    while (p < cr && is_tchar((unsigned char)buf[p]))
        p++;
    if (p == start || p >= cr || buf[p] != ' ')
        return GEVC_HTTP_E_REQUEST_LINE;
    req->method = start;
    req->method_len = p - start;
    p++;
    size_t target = p;
    while (p < cr && is_target_char((unsigned char)buf[p]))
        p++;
    if (p == target)
        return GEVC_HTTP_E_REQUEST_LINE;
    if (p == cr)
        return GEVC_HTTP_E_HTTP09;
    if (buf[p] != ' ')
        return GEVC_HTTP_E_REQUEST_LINE;
    req->target = target;
    req->target_len = p - target;
    p++;
    if (cr - p != 8 || buf[p] != 'H' || buf[p + 1] != 'T' || buf[p + 2] != 'T' ||
        buf[p + 3] != 'P' || buf[p + 4] != '/' || buf[p + 6] != '.')
        return GEVC_HTTP_E_REQUEST_LINE;
    unsigned char major = (unsigned char)buf[p + 5], minor = (unsigned char)buf[p + 7];
    if (major < '0' || major > '9' || minor < '0' || minor > '9')
        return GEVC_HTTP_E_REQUEST_LINE;
    req->major = major - '0';
    req->minor = minor - '0';
    return 0;
}

/* field-line in buf[start : cr]. */
static ssize_t
parse_field_line(const char *buf, size_t start, size_t cr, gevc_http_header *h)
{
    size_t p = start;
    unsigned char first = (unsigned char)buf[p];
    if (first == ' ' || first == '\t')
        return GEVC_HTTP_E_OBS_FOLD;
    while (p < cr && is_tchar((unsigned char)buf[p]))
        p++;
    if (p == start || p >= cr || buf[p] != ':')
        return GEVC_HTTP_E_FIELD_NAME;
    h->name = start;
    h->name_len = p - start;
    p++;
    while (p < cr && (buf[p] == ' ' || buf[p] == '\t'))
        p++;
    size_t value = p, end = p;
    for (; p < cr; p++) {
        unsigned char c = (unsigned char)buf[p];
        if (!is_value_char(c))
            return GEVC_HTTP_E_FIELD_VALUE;
        if (c != ' ' && c != '\t')
            end = p + 1;
    }
    h->value = value;
    h->value_len = end - value;
    return 0;
}

ssize_t
gevc_http_parse_request(const char *buf, size_t len, const gevc_http_limits *limits,
                        gevc_http_request *req, gevc_http_header *headers,
                        size_t max_headers)
{
    size_t p = 0, lf = 0, head_bytes = 0;
    int empty = 0;
    ssize_t r;

    /* Empty lines before the request line. */
    while (p < len && (buf[p] == '\r' || buf[p] == '\n')) {
        if (buf[p] == '\n')
            return GEVC_HTTP_E_BARE_LF;
        if (p + 1 >= len)
            return GEVC_HTTP_INCOMPLETE;
        if (buf[p + 1] != '\n')
            return GEVC_HTTP_E_BARE_CR;
        if (++empty > MAX_EMPTY_LINES)
            return GEVC_HTTP_E_EMPTY_LINES;
        p += 2;
    }
    if (p >= len)
        return GEVC_HTTP_INCOMPLETE;

    /* The request line: shorter than max_request_line, CRLF included. */
    r = find_line_end(buf, len, p, limits->max_request_line - 1,
                      GEVC_HTTP_E_REQUEST_LINE_TOO_LONG, &lf);
    if (r != LINE_FOUND)
        return r;
    r = parse_request_line(buf, p, lf - 1, req);
    if (r != 0)
        return r;
    p = lf + 1;

    /* Field lines, up to the empty line. */
    req->num_headers = 0;
    for (;;) {
        if (p >= len)
            return GEVC_HTTP_INCOMPLETE;
        if (buf[p] == '\r') {
            if (p + 1 >= len)
                return GEVC_HTTP_INCOMPLETE;
            if (buf[p + 1] != '\n')
                return GEVC_HTTP_E_BARE_CR;
            return (ssize_t)(p + 2);
        }
        if (buf[p] == '\n')
            return GEVC_HTTP_E_BARE_LF;
        if (req->num_headers >= max_headers)
            return GEVC_HTTP_E_TOO_MANY_FIELDS;
        r = find_line_end(buf, len, p, limits->max_header_line,
                          GEVC_HTTP_E_FIELD_LINE_TOO_LONG, &lf);
        if (r == GEVC_HTTP_INCOMPLETE && head_bytes + (len - p) > limits->max_head)
            return GEVC_HTTP_E_HEAD_TOO_LARGE;
        if (r != LINE_FOUND)
            return r;
        head_bytes += lf + 1 - p;
        if (head_bytes > limits->max_head)
            return GEVC_HTTP_E_HEAD_TOO_LARGE;
        r = parse_field_line(buf, p, lf - 1, &headers[req->num_headers]);
        if (r != 0)
            return r;
        req->num_headers++;
        p = lf + 1;
    }
}

const char *
gevc_http_result_name(ssize_t result)
{
    switch (result) {
    case GEVC_HTTP_INCOMPLETE: return "incomplete";
    case GEVC_HTTP_E_BARE_LF: return "bare_lf";
    case GEVC_HTTP_E_BARE_CR: return "bare_cr";
    case GEVC_HTTP_E_REQUEST_LINE: return "request_line";
    case GEVC_HTTP_E_HTTP09: return "http09";
    case GEVC_HTTP_E_OBS_FOLD: return "obs_fold";
    case GEVC_HTTP_E_FIELD_NAME: return "field_name";
    case GEVC_HTTP_E_FIELD_VALUE: return "field_value";
    case GEVC_HTTP_E_TOO_MANY_FIELDS: return "too_many_fields";
    case GEVC_HTTP_E_REQUEST_LINE_TOO_LONG: return "request_line_too_long";
    case GEVC_HTTP_E_FIELD_LINE_TOO_LONG: return "field_line_too_long";
    case GEVC_HTTP_E_HEAD_TOO_LARGE: return "head_too_large";
    case GEVC_HTTP_E_EMPTY_LINES: return "empty_lines";
    default: return result > 0 ? "ok" : "unknown";
    }
}

int
gevc_http_result_status(ssize_t result)
{
    switch (result) {
    case GEVC_HTTP_E_REQUEST_LINE_TOO_LONG:
        return 414;
    case GEVC_HTTP_E_TOO_MANY_FIELDS:
    case GEVC_HTTP_E_FIELD_LINE_TOO_LONG:
    case GEVC_HTTP_E_HEAD_TOO_LARGE:
        return 431;
    default:
        return 400;
    }
}
