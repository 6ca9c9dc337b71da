/* Private header of gevent_c._http: the module state shared by module.c
 * (the parser's Python face) and wsgi.c (the request cycle of pywsgi's
 * default handler). */
#ifndef GEVC_HTTP_WSGI_H
#define GEVC_HTTP_WSGI_H

#include "gevc_common.h"

#include <time.h>

/* Interned names: X(field, "text").  Handler and server attributes, the
 * methods called, environ keys and constant values. */
#define GEVC_HTTP_NAMES(X)                                                     \
    X(socket, "socket") X(rfile, "rfile") X(server, "server")                  \
    X(client_address, "client_address") X(idle_timeout, "idle_timeout")       \
    X(socket_timeout, "socket_timeout") X(max_header_line, "max_header_line") \
    X(max_header_count, "max_header_count")                                   \
    X(max_header_bytes, "max_header_bytes") X(max_body_size, "max_body_size") \
    X(environ, "environ") X(status, "status") X(orig_status, "_orig_status")  \
    X(code, "code") X(response_headers, "response_headers")                   \
    X(command, "command") X(path, "path")                                     \
    X(request_version, "request_version") X(wsgi_input, "wsgi_input")         \
    X(time_start, "time_start") X(time_finish, "time_finish")                 \
    X(requestline, "requestline") X(response_length, "response_length")       \
    X(header_pairs, "_header_pairs") X(headers_message, "_headers_message")   \
    X(content_length, "content_length") X(chunked, "_chunked")                \
    X(expect_continue, "_expect_continue") X(content_type, "_content_type")   \
    X(content_length_text, "_content_length_text") X(upgrade, "_upgrade")     \
    X(close_connection, "close_connection") X(raw_input, "_raw_input")        \
    X(application, "application") X(headers_sent, "headers_sent")             \
    X(result, "result") X(response_use_chunked, "response_use_chunked")       \
    X(connection_upgraded, "connection_upgraded")                             \
    X(provided_connection, "_provided_connection")                            \
    X(provided_date, "provided_date")                                         \
    X(provided_content_length, "provided_content_length")                     \
    X(max_size, "max_size") X(write, "write") X(closed, "closed")             \
    X(peek, "peek") X(read, "read") X(sendall, "sendall")                     \
    X(settimeout, "settimeout") X(wait_read, "_wait_read") X(drained, "_drained") X(idle_handlers, "_idle_handlers")            \
    X(log, "log") X(get_environ, "get_environ") X(environ_hook, "_environ_hook")                               \
    X(process_result, "process_result") X(log_request, "log_request")         \
    X(no_start_response, "_no_start_response")                                \
    X(finish_body, "_finish_body_or_close")                                   \
    X(response_failed, "_response_failed") X(set_linger, "_set_linger")       \
    X(close, "close") X(add, "add") X(discard, "discard")                     \
    X(REQUEST_METHOD, "REQUEST_METHOD") X(SCRIPT_NAME, "SCRIPT_NAME")         \
    X(PATH_INFO, "PATH_INFO") X(QUERY_STRING, "QUERY_STRING")                 \
    X(CONTENT_TYPE, "CONTENT_TYPE") X(CONTENT_LENGTH, "CONTENT_LENGTH")       \
    X(SERVER_PROTOCOL, "SERVER_PROTOCOL") X(REMOTE_ADDR, "REMOTE_ADDR")       \
    X(REMOTE_PORT, "REMOTE_PORT") X(wsgi_input_key, "wsgi.input")             \
    X(wsgi_input_terminated, "wsgi.input_terminated")                         \
    X(empty, "") X(http10, "HTTP/1.0") X(http11, "HTTP/1.1")                  \
    X(GET, "GET") X(HEAD, "HEAD") X(POST, "POST")

#define GEVC_HTTP_FIELD(field, text) PyObject *field;

typedef struct {
    GEVC_HTTP_NAMES(GEVC_HTTP_FIELD)
    PyTypeObject *start_response_type;
    /* given by gevent_c.pywsgi through _setup() */
    PyObject *input_type;          /* pywsgi.Input */
    PyObject *noop_log_type;       /* pywsgi._NoopLog */
    PyObject *py_start_response;   /* WSGIHandler.start_response, for what C does not check */
    PyObject *getcurrent;          /* gevent_c._greenlet.getcurrent */
    PyObject *env_keys;            /* dict: header name -> environ key, or None (dropped) */
    PyObject *date;                /* bytes: the Date of date_second */
    time_t date_second;
} gevc_http_state;

/* What wsgi.c adds to the module (called by module.c's exec/traverse/clear). */
int gevc_http_wsgi_exec(PyObject *module, gevc_http_state *st);
int gevc_http_wsgi_traverse(gevc_http_state *st, visitproc visit, void *arg);
void gevc_http_wsgi_clear(gevc_http_state *st);

#endif
