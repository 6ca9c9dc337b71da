/* The HTTP/1.x request-head parser: one pure function over a byte buffer.
 *
 * No Python objects, no I/O, no allocation: it reports offsets into the
 * caller's buffer, in the manner of picohttpparser.  Strict by default
 * (RFC 9112); each refusal has its own code, so the caller can answer with
 * the right status and say why.  What it accepts is exactly what
 * gevent_c.pywsgi's Python parser accepts. */
#ifndef GEVC_HTTP_PARSER_H
#define GEVC_HTTP_PARSER_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    size_t name;        /* offset of the field name */
    size_t name_len;
    size_t value;       /* offset of the value, without surrounding SP/HTAB */
    size_t value_len;
} gevc_http_header;

typedef struct {
    size_t method, method_len;
    size_t target, target_len;
    int major, minor;   /* the digits of "HTTP/major.minor" */
    size_t num_headers;
} gevc_http_request;

typedef struct {
    size_t max_request_line;    /* bytes, CRLF included; longer: _REQUEST_LINE_TOO_LONG */
    size_t max_header_line;     /* bytes of one field line, CRLF included */
    size_t max_head;            /* bytes of all field lines together */
} gevc_http_limits;

/* Results: > 0 is the size of the head (leading empty lines, request line,
 * field lines and the final CRLF); the others are below. */
typedef enum {
    GEVC_HTTP_INCOMPLETE = 0,               /* valid so far, need more bytes */
    GEVC_HTTP_E_BARE_LF = -1,               /* a line ends in LF without CR */
    GEVC_HTTP_E_BARE_CR = -2,               /* CR not followed by LF */
    GEVC_HTTP_E_REQUEST_LINE = -3,          /* not "method SP target SP HTTP/d.d" */
    GEVC_HTTP_E_HTTP09 = -4,                /* "method SP target": HTTP/0.9 */
    GEVC_HTTP_E_OBS_FOLD = -5,              /* a field line starts with SP/HTAB */
    GEVC_HTTP_E_FIELD_NAME = -6,            /* not a token, or no colon, or SP before it */
    GEVC_HTTP_E_FIELD_VALUE = -7,           /* a control byte in a value */
    GEVC_HTTP_E_TOO_MANY_FIELDS = -8,
    GEVC_HTTP_E_REQUEST_LINE_TOO_LONG = -9, /* answer 414 */
    GEVC_HTTP_E_FIELD_LINE_TOO_LONG = -10,  /* answer 431 */
    GEVC_HTTP_E_HEAD_TOO_LARGE = -11,       /* answer 431 */
    GEVC_HTTP_E_EMPTY_LINES = -12,          /* more than 4 empty lines first */
} gevc_http_result;

/* Parse the request head at the start of buf[0:len].  At most max_headers
 * field lines are accepted (more: _TOO_MANY_FIELDS); they are stored in
 * headers[].  req and headers are only meaningful for a result > 0. */
ssize_t gevc_http_parse_request(const char *buf, size_t len, const gevc_http_limits *limits,
                                gevc_http_request *req, gevc_http_header *headers,
                                size_t max_headers);

/* A short name for a result ("bare_lf", "obs_fold"...). */
const char *gevc_http_result_name(ssize_t result);

/* The status to answer a refusal with (400, 414 or 431). */
int gevc_http_result_status(ssize_t result);

#endif
