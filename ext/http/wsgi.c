/* The request cycle of gevent_c.pywsgi's default WSGIHandler, in C.
 *
 * serve(handler, c_environ, c_log, copy_environ) answers the requests of
 * one connection for as long as each is an ordinary one: a whole head in
 * the handler's read buffer, accepted by the parser, framed without doubt
 * (no Expect, no Upgrade), then the application called with a C
 * start_response, and a list or tuple of bytes written with the head in
 * one sendall.  It reads and writes the very handler attributes the Python
 * methods use (gevent's: status, code, response_headers, headers_sent...),
 * so any step it does not take itself is the Python method's:
 *   - a request it cannot serve so (an incomplete or refused head, an
 *     Expect or Upgrade header, a leading empty line...) is left unread and
 *     serve returns False: the Python handle_one_request takes that one;
 *   - a result that is not a list/tuple of bytes, or an application that
 *     wrote itself: WSGIHandler.process_result;
 *   - start_response arguments of an unusual shape (exc_info, non-ASCII,
 *     anything refused): WSGIHandler.start_response, whose errors are the
 *     ones raised;
 *   - errors: WSGIHandler._response_failed, with the error being handled.
 * serve returns None when the connection is to be closed (the handler's
 * _linger_on_close then set).  pywsgi calls it only for handler classes
 * that keep the default methods of these steps. */
#include "wsgi.h"
#include "parser.h"

#include <structmember.h>
#include <string.h>

#define MAX_REQUEST_LINE 8192
/* A list result up to this size is sent with the head in one piece. */
#define MAX_JOINED (1 << 20)
/* Entries of the header name -> environ key cache. */
#define MAX_ENV_KEYS 1024

enum { SERVED = 1, FALLBACK = 0, CLOSE = 2, FAILED = -1 };

static double
wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* PyObject_GetOptionalAttr (3.13) under its older private name. */
static int
optional_attr(PyObject *obj, PyObject *name, PyObject **out)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(obj, name, out);
#else
    return _PyObject_LookupAttr(obj, name, out);
#endif
}

/* bool(obj.name): 1, 0, or -1 with an exception. */
static int
attr_true(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    int r;
    if (v == NULL)
        return -1;
    r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

/* The handler's attributes.  With `dict` (its __dict__, given when its
 * class has no data descriptor for any name the C path sets: pywsgi checks)
 * they are read and written there directly, else with getattr/setattr. */
static int
h_set(PyObject *h, PyObject *dict, PyObject *name, PyObject *value)
{
    return dict != NULL ? PyDict_SetItem(dict, name, value) : PyObject_SetAttr(h, name, value);
}

static int
h_set_new(PyObject *h, PyObject *dict, PyObject *name, PyObject *value)
{
    int r;
    if (value == NULL)
        return -1;
    r = h_set(h, dict, name, value);
    Py_DECREF(value);
    return r;
}

static PyObject *
h_get(PyObject *h, PyObject *dict, PyObject *name)
{
    if (dict != NULL) {
        PyObject *v = PyDict_GetItemWithError(dict, name);
        if (v != NULL)
            return Py_NewRef(v);
        if (PyErr_Occurred())
            return NULL;
    }
    return PyObject_GetAttr(h, name);   /* the class's value */
}

static int
h_true(PyObject *h, PyObject *dict, PyObject *name)
{
    PyObject *v = h_get(h, dict, name);
    int r;
    if (v == NULL)
        return -1;
    r = v == Py_True ? 1 : v == Py_False || v == Py_None ? 0 : PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

static PyObject *
call_method0(PyObject *obj, PyObject *name)
{
    return PyObject_VectorcallMethod(name, &obj, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

static PyObject *
call_method1(PyObject *obj, PyObject *name, PyObject *arg)
{
    PyObject *args[2] = {obj, arg};
    return PyObject_VectorcallMethod(name, args, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

/* Call obj.name(...) for its effect only. */
static int
call_void(PyObject *res)
{
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

/* exc becomes the __context__ of the exception now raised, as when an
 * exception is raised while exc is handled (steals exc). */
static void
chain_context(PyObject *exc)
{
    PyObject *now;
    if (exc == NULL)
        return;
    now = gevc__exc_take();
    if (now != NULL && now != exc)
        PyException_SetContext(now, exc);   /* steals exc */
    else
        Py_DECREF(exc);
    gevc__exc_raise(now);
}

/* ---- start_response ----------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *module;
    PyObject *handler;
    PyObject *dict;                /* the handler's __dict__ (see h_set), or NULL */
    PyObject *write;               /* handler.write, looked up once */
    vectorcallfunc vectorcall;
} start_response_obj;

static gevc_http_state *
sr_state(start_response_obj *self)
{
    return (gevc_http_state *)PyModule_GetState(self->module);
}

/* tchar (RFC 9110 5.6.2) */
static int
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* ASCII `s` equals the lower-case `lit`, ignoring case. */
static int
ascii_ieq(const char *s, size_t n, const char *lit)
{
    size_t i;
    if (strlen(lit) != n)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if (c != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

/* The common case of start_response, checked and done here: 1 done, 0 for
 * the Python method (anything unusual, anything it refuses), -1 error. */
static int
fast_start_response(gevc_http_state *st, PyObject *handler, PyObject *dict,
                    PyObject *status, PyObject *headers)
{
    PyObject *list = NULL, *conn = Py_None, *date = Py_None, *length = Py_None;
    PyObject *status_bytes = NULL, *code = NULL, *snap = NULL;
    Py_ssize_t n, i, slen;
    const char *s;
    int rc = FAILED;

    if (!PyUnicode_CheckExact(status) || !PyUnicode_IS_ASCII(status) ||
        !(PyList_CheckExact(headers) || PyTuple_CheckExact(headers)))
        return 0;
    s = (const char *)PyUnicode_DATA(status);
    slen = PyUnicode_GET_LENGTH(status);
    if (slen < 3 || (slen > 3 && s[3] != ' ') || memchr(s, '\r', slen) || memchr(s, '\n', slen))
        return 0;
    for (i = 0; i < 3; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    /* A snapshot of the headers, owned here: the setters below may run Python
     * code (properties, a replaced value's __del__, a collection) that
     * changes the application's list, and conn/date/length point into it. */
    snap = PyList_CheckExact(headers) ? PyList_AsTuple(headers) : Py_NewRef(headers);
    if (snap == NULL)
        return FAILED;
    rc = 0;
    /* every header first: nothing is set unless all of them pass */
    n = PyTuple_GET_SIZE(snap);
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(snap, i), *name, *value;
        const char *p;
        Py_ssize_t len, j;
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2)
            goto done;
        name = PyTuple_GET_ITEM(item, 0);
        value = PyTuple_GET_ITEM(item, 1);
        if (!PyUnicode_CheckExact(name) || !PyUnicode_IS_ASCII(name) ||
            !PyUnicode_CheckExact(value) || !PyUnicode_IS_ASCII(value))
            goto done;
        p = (const char *)PyUnicode_DATA(name);
        len = PyUnicode_GET_LENGTH(name);
        if (len == 0)
            goto done;
        for (j = 0; j < len; j++)
            if (!is_tchar((unsigned char)p[j]))
                goto done;
        if (ascii_ieq(p, (size_t)len, "connection"))
            conn = value;
        else if (ascii_ieq(p, (size_t)len, "date"))
            date = value;
        else if (ascii_ieq(p, (size_t)len, "content-length"))
            length = value;
        p = (const char *)PyUnicode_DATA(value);
        len = PyUnicode_GET_LENGTH(value);
        for (j = 0; j < len; j++) {
            unsigned char c = (unsigned char)p[j];
            if (c != '\t' && (c < 0x20 || c == 0x7f))
                goto done;
        }
    }
    {
        int code_value = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        if (code_value == 101)
            goto done;              /* the upgrade handling is Python's */
        if ((code_value == 304 || code_value == 204) && length != Py_None &&
            PyUnicode_CompareWithASCIIString(length, "0") != 0)
            goto done;              /* refused there */
        code = PyLong_FromLong(code_value);
        if (code == NULL) {
            rc = FAILED;
            goto done;
        }
    }
    rc = FAILED;
    list = PyList_New(n);
    status_bytes = PyBytes_FromStringAndSize(s, slen);
    if (list == NULL || status_bytes == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(snap, i), *pair;
        PyObject *name = PyTuple_GET_ITEM(item, 0), *value = PyTuple_GET_ITEM(item, 1);
        PyObject *nb = PyBytes_FromStringAndSize((const char *)PyUnicode_DATA(name),
                                                 PyUnicode_GET_LENGTH(name));
        PyObject *vb = nb ? PyBytes_FromStringAndSize((const char *)PyUnicode_DATA(value),
                                                      PyUnicode_GET_LENGTH(value)) : NULL;
        pair = vb ? PyTuple_Pack(2, nb, vb) : NULL;
        Py_XDECREF(nb);
        Py_XDECREF(vb);
        if (pair == NULL)
            goto done;
        PyList_SET_ITEM(list, i, pair);
    }
    if (h_set(handler, dict, st->status, status_bytes) < 0 ||
        h_set(handler, dict, st->orig_status, status) < 0 ||
        h_set(handler, dict, st->response_headers, list) < 0 ||
        h_set(handler, dict, st->code, code) < 0 ||
        h_set(handler, dict, st->provided_date, date) < 0 ||
        h_set(handler, dict, st->provided_content_length, length) < 0 ||
        h_set(handler, dict, st->provided_connection, conn) < 0)
        goto done;
    if (conn != Py_None && ascii_ieq((const char *)PyUnicode_DATA(conn),
                                     (size_t)PyUnicode_GET_LENGTH(conn), "close") &&
        h_set(handler, dict, st->close_connection, Py_True) < 0)
        goto done;
    rc = 1;
done:
    Py_DECREF(snap);
    Py_XDECREF(list);
    Py_XDECREF(status_bytes);
    Py_XDECREF(code);
    return rc;
}

static PyObject *
sr_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    start_response_obj *self = (start_response_obj *)op;
    gevc_http_state *st = sr_state(self);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), total, i;
    PyObject *small[8], **stack = small, *res;

    if (kwnames == NULL && (nargs == 2 || (nargs == 3 && args[2] == Py_None))) {
        int r = fast_start_response(st, self->handler, self->dict, args[0], args[1]);
        if (r < 0)
            return NULL;
        if (r > 0) {
            if (self->write == NULL &&
                (self->write = PyObject_GetAttr(self->handler, st->write)) == NULL)
                return NULL;
            return Py_NewRef(self->write);
        }
    }
    /* WSGIHandler.start_response(handler, *args, **kwargs) */
    total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    if (total + 1 > (Py_ssize_t)(sizeof(small) / sizeof(small[0])) &&
        (stack = PyMem_Malloc((size_t)(total + 1) * sizeof(PyObject *))) == NULL)
        return PyErr_NoMemory();
    stack[0] = self->handler;
    for (i = 0; i < total; i++)
        stack[i + 1] = args[i];
    res = PyObject_Vectorcall(st->py_start_response, stack, (size_t)(nargs + 1), kwnames);
    if (stack != small)
        PyMem_Free(stack);
    return res;
}

static int
sr_traverse(PyObject *op, visitproc visit, void *arg)
{
    start_response_obj *self = (start_response_obj *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->module);
    Py_VISIT(self->handler);
    Py_VISIT(self->dict);
    Py_VISIT(self->write);
    return 0;
}

static int
sr_clear(PyObject *op)
{
    start_response_obj *self = (start_response_obj *)op;
    Py_CLEAR(self->module);
    Py_CLEAR(self->handler);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->write);
    return 0;
}

static void
sr_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    sr_clear(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyObject *
sr_new(PyObject *module, gevc_http_state *st, PyObject *handler, PyObject *dict)
{
    start_response_obj *self =
        (start_response_obj *)st->start_response_type->tp_alloc(st->start_response_type, 0);
    if (self == NULL)
        return NULL;
    self->module = Py_NewRef(module);
    self->handler = Py_NewRef(handler);
    self->dict = Py_XNewRef(dict);
    self->write = NULL;
    self->vectorcall = sr_vectorcall;
    return (PyObject *)self;
}

static PyMemberDef sr_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(start_response_obj, vectorcall), READONLY},
    {NULL},
};

PyDoc_STRVAR(sr_doc, "The start_response of one connection's WSGI requests (PEP 3333).\n\n"
"start_response(status, headers, exc_info=None) -> write\n\n"
"Checks and records the status and headers on the handler exactly as\n"
"WSGIHandler.start_response does (which it calls for anything unusual).");

static PyType_Slot sr_slots[] = {
    {Py_tp_doc, (void *)sr_doc},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, sr_members},
    {Py_tp_traverse, sr_traverse},
    {Py_tp_clear, sr_clear},
    {Py_tp_dealloc, sr_dealloc},
    {0, NULL},
};

static PyType_Spec sr_spec = {
    .name = "gevent_c._http.StartResponse",
    .basicsize = sizeof(start_response_obj),
    /* made by serve() only: an instance without a handler cannot work */
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = sr_slots,
};

/* ---- one connection ----------------------------------------------------- */

typedef struct {
    gevc_http_state *st;
    PyObject *module, *handler, *dict, *rfile, *sock, *server, *idle, *glet;
    PyObject *idle_timeout, *socket_timeout, *max_body_size;
    PyObject *remote_addr, *remote_port;       /* NULL when not an (addr, port) */
    PyObject *start_response;
    gevc_http_limits limits;
    size_t max_headers, whole_limit;
    long long max_body;                         /* -1: no limit */
    int c_environ, c_log, copy_environ, closed_via_socket, switch_timeout;
    int plain_socket;       /* gevent_c.socket.socket itself (no TLS buffer) */
    int idle_wait;          /* a plain socket; idle_timeout is a positive number */
    int buffer_empty;       /* the last request consumed all that rfile held */
    gevc_http_header *headers;
} conn;

/* How the head frames the request, decided as _frame_request does; 0 when
 * that method must decide (it refuses, or the request is one the C path
 * leaves to Python: Expect, Upgrade). */
typedef struct {
    int http11, chunked, close, head;
    long long content_length;                   /* -1: none */
    Py_ssize_t cl_index, ct_index;              /* header indexes, -1: none */
} framing;

static int
frame_request(const char *buf, const gevc_http_request *req, const gevc_http_header *h,
              long long max_body, framing *f)
{
    size_t i, lengths = 0, encodings = 0, hosts = 0;
    Py_ssize_t te = -1;
    const char *m = buf + req->method;

    if (req->major != 1 || req->minor > 1)
        return 0;
    f->http11 = req->minor == 1;
    f->head = req->method_len == 4 && memcmp(m, "HEAD", 4) == 0;
    if (buf[req->target] != '/' && !(req->target_len == 1 && buf[req->target] == '*' &&
                                      req->method_len == 7 && memcmp(m, "OPTIONS", 7) == 0))
        return 0;
    f->close = !f->http11;
    f->content_length = -1;
    f->cl_index = f->ct_index = -1;
    f->chunked = 0;
    for (i = 0; i < req->num_headers; i++) {
        const char *name = buf + h[i].name, *value = buf + h[i].value;
        size_t nlen = h[i].name_len, vlen = h[i].value_len, p = 0;
        if (ascii_ieq(name, nlen, "content-length")) {
            lengths++;
            f->cl_index = (Py_ssize_t)i;
        }
        else if (ascii_ieq(name, nlen, "transfer-encoding")) {
            encodings++;
            te = (Py_ssize_t)i;
        }
        else if (ascii_ieq(name, nlen, "host")) {
            hosts++;
        }
        else if (ascii_ieq(name, nlen, "content-type")) {
            if (f->ct_index < 0)
                f->ct_index = (Py_ssize_t)i;
        }
        else if (ascii_ieq(name, nlen, "expect") || ascii_ieq(name, nlen, "upgrade")) {
            return 0;
        }
        else if (ascii_ieq(name, nlen, "connection")) {
            /* comma-separated tokens; Python's strip() knows more
             * whitespace than SP/HTAB in latin-1: leave those to it */
            while (p <= vlen) {
                size_t start, end, q = p;
                while (q < vlen && value[q] != ',')
                    q++;
                start = p;
                end = q;
                while (start < end && (value[start] == ' ' || value[start] == '\t'))
                    start++;
                while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
                    end--;
                for (size_t k = start; k < end; k++)
                    if ((unsigned char)value[k] >= 0x80)
                        return 0;
                if (ascii_ieq(value + start, end - start, "close"))
                    f->close = f->http11 ? 1 : f->close;
                else if (ascii_ieq(value + start, end - start, "keep-alive"))
                    f->close = f->http11 ? f->close : 0;
                else if (ascii_ieq(value + start, end - start, "upgrade"))
                    return 0;
                p = q + 1;
            }
        }
    }
    if (hosts > 1)
        return 0;
    if (encodings) {
        if (lengths || !f->http11 || encodings > 1 ||
            !ascii_ieq(buf + h[te].value, h[te].value_len, "chunked"))
            return 0;
        f->chunked = 1;
    }
    else if (lengths) {
        const char *v = buf + h[f->cl_index].value;
        size_t vlen = h[f->cl_index].value_len;
        long long n = 0;
        if (lengths > 1 || vlen == 0 || vlen > 18)
            return 0;
        for (i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return 0;
            n = n * 10 + (v[i] - '0');
        }
        if (max_body >= 0 && n > max_body)
            return 0;
        f->content_length = n;
    }
    return 1;
}

/* ---- pieces of a request ------------------------------------------------ */

static PyObject *
latin1(const char *buf, size_t offset, size_t len)
{
    return PyUnicode_DecodeLatin1(buf + offset, (Py_ssize_t)len, NULL);
}

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* PATH_INFO: the path with %XX decoded to bytes and read as latin-1, as
 * urllib.parse.unquote(path, encoding='latin-1') reads it (a '%' without
 * two hex digits stays). */
static PyObject *
path_info(const char *p, size_t len)
{
    PyObject *out;
    char *o;
    size_t i, n = 0;
    if (memchr(p, '%', len) == NULL)
        return PyUnicode_DecodeLatin1(p, (Py_ssize_t)len, NULL);
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
    if (out == NULL)
        return NULL;
    o = PyBytes_AS_STRING(out);
    for (i = 0; i < len; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < len &&
            (hi = hexval((unsigned char)p[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)p[i + 2])) >= 0) {
            o[n++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            o[n++] = p[i];
        }
    }
    {
        PyObject *text = PyUnicode_DecodeLatin1(o, (Py_ssize_t)n, NULL);
        Py_DECREF(out);
        return text;
    }
}

/* The environ key of a request header name (new reference): HTTP_NAME, or
 * None for names with '_' and for Content-Type/-Length (see _env_key). */
static PyObject *
env_key(gevc_http_state *st, PyObject *name)
{
    PyObject *key = PyDict_GetItemWithError(st->env_keys, name);
    const char *p;
    char small[128], *k;
    Py_ssize_t len, i;
    if (key != NULL)
        return Py_NewRef(key);
    if (PyErr_Occurred())
        return NULL;
    p = (const char *)PyUnicode_DATA(name);   /* a token: ASCII */
    len = PyUnicode_GET_LENGTH(name);
    if (memchr(p, '_', (size_t)len) != NULL) {
        key = Py_NewRef(Py_None);
    }
    else {
        k = len + 5 <= (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc((size_t)len + 5);
        if (k == NULL)
            return PyErr_NoMemory();
        memcpy(k, "HTTP_", 5);
        for (i = 0; i < len; i++) {
            char c = p[i];
            k[i + 5] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
        }
        if ((len == 12 && memcmp(k + 5, "CONTENT_TYPE", 12) == 0) ||
            (len == 14 && memcmp(k + 5, "CONTENT_LENGTH", 14) == 0))
            key = Py_NewRef(Py_None);
        else
            key = PyUnicode_FromStringAndSize(k, len + 5);
        if (k != small)
            PyMem_Free(k);
        if (key == NULL)
            return NULL;
    }
    if (PyDict_GET_SIZE(st->env_keys) < MAX_ENV_KEYS &&
        PyDict_SetItem(st->env_keys, name, key) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    return key;
}

/* The Date header's value, formatted once a second (IMF-fixdate). */
static PyObject *
http_date(gevc_http_state *st)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    char text[64];
    int n;
    if (st->date != NULL && st->date_second == now)
        return Py_NewRef(st->date);
    if (gmtime_r(&now, &tm) == NULL) {
        PyErr_SetString(PyExc_OSError, "gmtime failed");
        return NULL;
    }
    n = snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
    Py_XSETREF(st->date, PyBytes_FromStringAndSize(text, n));
    st->date_second = now;
    return Py_XNewRef(st->date);
}

/* env[key] = value on a dict or a mapping; when the key is there already
 * (a repeated header), the values are joined as get_environ joins them. */
static int
env_add(PyObject *env, PyObject *key, PyObject *value)
{
    PyObject *old, *sep, *joined;
    int r = PyDict_CheckExact(env) ? PyDict_Contains(env, key) : PySequence_Contains(env, key);
    if (r < 0)
        return -1;
    if (r == 0)
        return PyObject_SetItem(env, key, value);
    old = PyObject_GetItem(env, key);
    if (old == NULL)
        return -1;
    /* "; " between cookies, "," otherwise */
    {
        const char *k = (const char *)PyUnicode_DATA(key);
        Py_ssize_t klen = PyUnicode_GET_LENGTH(key), i;
        int cookie = 0;
        for (i = 0; i + 6 <= klen && !cookie; i++)
            cookie = memcmp(k + i, "COOKIE", 6) == 0;
        sep = PyUnicode_FromString(cookie ? "; " : ",");
    }
    joined = sep ? PyNumber_Add(old, sep) : NULL;
    Py_DECREF(old);
    Py_XDECREF(sep);
    if (joined == NULL)
        return -1;
    Py_SETREF(joined, PyNumber_Add(joined, value));
    if (joined == NULL)
        return -1;
    r = PyObject_SetItem(env, key, joined);
    Py_DECREF(joined);
    return r;
}

/* ---- the request cycle ---------------------------------------------------- */

/* getattr(server, 'closed', False), for BaseServer's: closed once its
 * listening socket attribute is gone. */
static int
server_closed(conn *c)
{
    PyObject *v;
    int r;
    if (!c->closed_via_socket) {
        if ((r = optional_attr(c->server, c->st->closed, &v)) <= 0)
            return r;
        r = PyObject_IsTrue(v);
        Py_DECREF(v);
        return r;
    }
    if ((r = optional_attr(c->server, c->st->socket, &v)) < 0)
        return -1;
    Py_XDECREF(v);
    return r == 0;
}

/* _wait_for_request, then the buffered bytes: SERVED with *data set (not
 * empty), CLOSE, or FAILED. */
static int
wait_for_request(conn *c, PyObject **data)
{
    gevc_http_state *st = c->st;
    PyObject *res = NULL;
    int r;

    *data = NULL;
    if ((r = attr_true(c->rfile, st->closed)) != 0)
        return r < 0 ? FAILED : CLOSE;
    if ((r = server_closed(c)) != 0)
        return r < 0 ? FAILED : CLOSE;
    if (c->idle != NULL && PySet_Add(c->idle, c->glet) < 0)
        return FAILED;
    if (!c->switch_timeout) {
        *data = call_method0(c->rfile, st->peek);
    }
    else if (c->buffer_empty && c->idle_wait) {
        /* Nothing buffered: wait for the socket with the idle timeout
         * (its C _wait_read), then read under the socket's own timeout.
         * Not "drained" any more: its recv need not wait again. */
        res = call_method1(c->sock, st->wait_read, c->idle_timeout);
        if (res != NULL) {
            Py_DECREF(res);
            if (PyObject_SetAttr(c->sock, st->drained, Py_False) < 0)
                PyErr_Clear();  /* a socket without that flag */
            *data = call_method0(c->rfile, st->peek);
        }
    }
    else if ((res = call_method1(c->sock, st->settimeout, c->idle_timeout)) != NULL) {
        PyObject *exc;
        Py_DECREF(res);
        *data = call_method0(c->rfile, st->peek);
        exc = gevc__exc_take();
        res = call_method1(c->sock, st->settimeout, c->socket_timeout);
        if (res == NULL) {
            Py_CLEAR(*data);
            chain_context(exc);
        }
        else {
            Py_DECREF(res);
            gevc__exc_raise(exc);
        }
    }
    if (c->idle != NULL) {
        PyObject *exc = gevc__exc_take();
        if (PySet_Discard(c->idle, c->glet) < 0) {
            Py_CLEAR(*data);
            chain_context(exc);
        }
        else {
            gevc__exc_raise(exc);
        }
    }
    if (*data == NULL) {
        /* idle timeout, reset, or closed under us: end the connection */
        if (PyErr_ExceptionMatches(PyExc_OSError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            return CLOSE;
        }
        return FAILED;
    }
    if (!PyBytes_Check(*data)) {
        Py_CLEAR(*data);
        PyErr_SetString(PyExc_TypeError, "rfile.peek() did not return bytes");
        return FAILED;
    }
    if (PyBytes_GET_SIZE(*data) == 0) {
        Py_CLEAR(*data);
        return CLOSE;
    }
    return SERVED;
}

/* What one request's head gave, as Python objects. */
typedef struct {
    PyObject *method, *target, *version, *pairs, *content_length;
    PyObject *content_type, *length_text;       /* or NULL */
} parsed;

static void
parsed_clear(parsed *p)
{
    Py_CLEAR(p->method);
    Py_CLEAR(p->target);
    Py_CLEAR(p->pairs);
    Py_CLEAR(p->content_length);
    Py_CLEAR(p->content_type);
    Py_CLEAR(p->length_text);
    p->version = NULL;
}

static PyObject *
method_str(gevc_http_state *st, const char *m, size_t len)
{
    if (len == 3 && memcmp(m, "GET", 3) == 0)
        return Py_NewRef(st->GET);
    if (len == 4 && memcmp(m, "HEAD", 4) == 0)
        return Py_NewRef(st->HEAD);
    if (len == 4 && memcmp(m, "POST", 4) == 0)
        return Py_NewRef(st->POST);
    return PyUnicode_DecodeLatin1(m, (Py_ssize_t)len, NULL);
}

static int
parsed_make(conn *c, const char *buf, const gevc_http_request *req, const framing *f,
            parsed *p)
{
    size_t i;
    memset(p, 0, sizeof(*p));
    p->version = f->http11 ? c->st->http11 : c->st->http10;
    if ((p->method = method_str(c->st, buf + req->method, req->method_len)) == NULL ||
        (p->target = latin1(buf, req->target, req->target_len)) == NULL ||
        (p->pairs = PyList_New((Py_ssize_t)req->num_headers)) == NULL)
        goto error;
    for (i = 0; i < req->num_headers; i++) {
        const gevc_http_header *h = &c->headers[i];
        PyObject *name = latin1(buf, h->name, h->name_len), *value, *pair;
        if (name == NULL)
            goto error;
        value = latin1(buf, h->value, h->value_len);
        pair = value ? PyTuple_Pack(2, name, value) : NULL;
        Py_DECREF(name);
        if (pair == NULL) {
            Py_XDECREF(value);
            goto error;
        }
        /* held apart from the list, which Python code may change */
        if ((Py_ssize_t)i == f->ct_index)
            p->content_type = Py_NewRef(value);
        if ((Py_ssize_t)i == f->cl_index)
            p->length_text = Py_NewRef(value);
        Py_DECREF(value);
        PyList_SET_ITEM(p->pairs, (Py_ssize_t)i, pair);
    }
    if (f->content_length >= 0)
        p->content_length = PyLong_FromLongLong(f->content_length);
    else
        p->content_length = Py_NewRef(Py_None);
    if (p->content_length == NULL)
        goto error;
    return 0;
error:
    parsed_clear(p);
    return -1;
}

/* The attributes handle_one_request and read_request set for a request
 * (and the resets of handle and handle_one_request). */
static int
set_request_attrs(conn *c, const char *buf, const gevc_http_request *req,
                  const framing *f, parsed *p)
{
    gevc_http_state *st = c->st;
    PyObject *h = c->handler;
    /* the parser is strict: the line is exactly "method SP target SP HTTP/x.y" */
    size_t line_end = req->target + req->target_len + 9;
    PyObject *zero = PyLong_FromLong(0);
    PyObject *names_none[] = {st->environ, st->orig_status, st->code,
                              st->response_headers, st->wsgi_input, st->headers_message};
    size_t i;
    int r = -1;

    if (zero == NULL)
        return -1;
    for (i = 0; i < sizeof(names_none) / sizeof(names_none[0]); i++)
        if (h_set(h, c->dict, names_none[i], Py_None) < 0)
            goto done;
    if (h_set(h, c->dict, st->time_finish, zero) < 0 ||
        h_set_new(h, c->dict, st->requestline, latin1(buf, req->method, line_end - req->method)) < 0 ||
        h_set(h, c->dict, st->response_length, zero) < 0 ||
        h_set(h, c->dict, st->command, p->method) < 0 ||
        h_set(h, c->dict, st->path, p->target) < 0 ||
        h_set(h, c->dict, st->request_version, p->version) < 0 ||
        h_set(h, c->dict, st->header_pairs, p->pairs) < 0 ||
        h_set(h, c->dict, st->content_length, p->content_length) < 0 ||
        h_set(h, c->dict, st->chunked, f->chunked ? Py_True : Py_False) < 0 ||
        h_set(h, c->dict, st->expect_continue, Py_False) < 0 ||
        h_set(h, c->dict, st->content_type, p->content_type ? p->content_type : Py_None) < 0 ||
        h_set(h, c->dict, st->content_length_text,
                         p->length_text ? p->length_text : Py_None) < 0 ||
        h_set(h, c->dict, st->upgrade, Py_False) < 0 ||
        h_set(h, c->dict, st->close_connection, f->close ? Py_True : Py_False) < 0)
        goto done;
    r = 0;
done:
    Py_DECREF(zero);
    return r;
}

/* get_environ's environ, built here. */
static PyObject *
build_environ(conn *c, const char *buf, const gevc_http_request *req, const framing *f,
              parsed *p)
{
    gevc_http_state *st = c->st;
    PyObject *env = NULL, *v, *inp = NULL;
    const char *target = buf + req->target, *q;
    size_t plen = req->target_len;
    Py_ssize_t i;

    if (c->copy_environ) {
        PyObject *base = PyObject_GetAttr(c->server, st->environ);
        if (base == NULL)
            return NULL;
        env = PyDict_Copy(base);
        Py_DECREF(base);
    }
    else {
        env = call_method0(c->server, st->get_environ);
    }
    if (env == NULL)
        return NULL;
    q = memchr(target, '?', plen);
    if (q != NULL)
        plen = (size_t)(q - target);
    if (PyObject_SetItem(env, st->REQUEST_METHOD, p->method) < 0 ||
        PyObject_SetItem(env, st->SCRIPT_NAME, st->empty) < 0)
        goto error;
    v = path_info(target, plen);
    if (v == NULL || PyObject_SetItem(env, st->PATH_INFO, v) < 0) {
        Py_XDECREF(v);
        goto error;
    }
    Py_DECREF(v);
    v = q == NULL ? Py_NewRef(st->empty)
                  : latin1(buf, req->target + plen + 1, req->target_len - plen - 1);
    if (v == NULL || PyObject_SetItem(env, st->QUERY_STRING, v) < 0) {
        Py_XDECREF(v);
        goto error;
    }
    Py_DECREF(v);
    if (p->content_type != NULL && PyObject_SetItem(env, st->CONTENT_TYPE, p->content_type) < 0)
        goto error;
    if (p->length_text != NULL && PyUnicode_GET_LENGTH(p->length_text) > 0 &&
        PyObject_SetItem(env, st->CONTENT_LENGTH, p->length_text) < 0)
        goto error;
    if (PyObject_SetItem(env, st->SERVER_PROTOCOL, p->version) < 0)
        goto error;
    if (c->remote_addr != NULL &&
        (PyObject_SetItem(env, st->REMOTE_ADDR, c->remote_addr) < 0 ||
         PyObject_SetItem(env, st->REMOTE_PORT, c->remote_port) < 0))
        goto error;
    /* The list is the handler's header_pairs too, and a Python environ's
     * __setitem__ may change it: the length is read each time and each pair
     * held while it is added. */
    for (i = 0; i < PyList_GET_SIZE(p->pairs); i++) {
        PyObject *pair = Py_NewRef(PyList_GET_ITEM(p->pairs, i)), *key;
        int r;
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(pair, 0)) ||
            !PyUnicode_IS_ASCII(PyTuple_GET_ITEM(pair, 0))) {
            PyErr_SetString(PyExc_TypeError,
                            "header_pairs must hold (name, value) tuples with ASCII names");
            Py_DECREF(pair);
            goto error;
        }
        key = env_key(st, PyTuple_GET_ITEM(pair, 0));
        if (key == NULL) {
            Py_DECREF(pair);
            goto error;
        }
        r = key == Py_None ? 0 : env_add(env, key, PyTuple_GET_ITEM(pair, 1));
        Py_DECREF(key);
        Py_DECREF(pair);
        if (r < 0)
            goto error;
    }
    {
        PyObject *args[4] = {c->rfile, p->content_length, Py_None,
                             f->chunked ? Py_True : Py_False};
        inp = PyObject_Vectorcall(c->st->input_type, args, 4, NULL);
    }
    if (inp == NULL ||
        (c->max_body_size != Py_None &&
         PyObject_SetAttr(inp, st->max_size, c->max_body_size) < 0) ||
        h_set(c->handler, c->dict, st->wsgi_input, inp) < 0 ||
        h_set(c->handler, c->dict, st->raw_input, Py_False) < 0 ||
        PyObject_SetItem(env, st->wsgi_input_key, inp) < 0 ||
        PyObject_SetItem(env, st->wsgi_input_terminated, Py_True) < 0)
        goto error;
    Py_DECREF(inp);
    return env;
error:
    Py_XDECREF(inp);
    Py_DECREF(env);
    return NULL;
}

/* ---- the response ------------------------------------------------------- */

static int
append_header(PyObject *list, const char *name, PyObject *value)
{
    PyObject *nb = PyBytes_FromString(name), *pair;
    int r;
    if (nb == NULL)
        return -1;
    pair = PyTuple_Pack(2, nb, value);
    Py_DECREF(nb);
    if (pair == NULL)
        return -1;
    r = PyList_Append(list, pair);
    Py_DECREF(pair);
    return r;
}

/* sock.sendall(data) as _sendall does it: on an error the status says
 * so and the code turns negative; response_length counts what was sent. */
static int
send_all(conn *c, PyObject *data)
{
    gevc_http_state *st = c->st;
    PyObject *res = call_method1(c->sock, st->sendall, data), *length, *total;
    if (res == NULL) {
        PyObject *exc = gevc__exc_take(), *code;
        if (PyErr_GivenExceptionMatches(exc, PyExc_OSError)) {
            PyObject *text = PyUnicode_FromFormat("socket error: %S", exc);
            if (text == NULL || h_set_new(c->handler, c->dict, st->status, text) < 0) {
                chain_context(exc);
                return -1;
            }
            code = h_get(c->handler, c->dict, st->code);
            if (code == NULL) {
                chain_context(exc);
                return -1;
            }
            if (PyLong_CheckExact(code) && Py_SIZE(code) > 0) {
                PyObject *neg = PyNumber_Negative(code);
                if (h_set_new(c->handler, c->dict, st->code, neg) < 0) {
                    Py_DECREF(code);
                    chain_context(exc);
                    return -1;
                }
            }
            Py_DECREF(code);
        }
        gevc__exc_raise(exc);
        return -1;
    }
    Py_DECREF(res);
    length = h_get(c->handler, c->dict, st->response_length);
    if (length == NULL)
        return -1;
    {
        PyObject *sent = PyLong_FromSsize_t(PyBytes_GET_SIZE(data));
        total = sent ? PyNumber_Add(length, sent) : NULL;
        Py_XDECREF(sent);
    }
    Py_DECREF(length);
    return h_set_new(c->handler, c->dict, st->response_length, total);
}

/* Whether the snapshots no longer hold what was checked: a body of exact
 * bytes adding up to `total`, headers of (bytes, bytes) tuples. */
static int
snapshot_changed(PyObject *body, PyObject *hdrs, Py_ssize_t total)
{
    Py_ssize_t i, sum = 0;
    for (i = 0; i < PyTuple_GET_SIZE(body); i++) {
        PyObject *item = PyTuple_GET_ITEM(body, i);
        if (!PyBytes_CheckExact(item))
            return 1;
        sum += PyBytes_GET_SIZE(item);
        if (sum > total)
            return 1;
    }
    if (sum != total)
        return 1;
    for (i = 0; i < PyTuple_GET_SIZE(hdrs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(hdrs, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(pair, 0)) ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(pair, 1)))
            return 1;
    }
    return 0;
}

/* process_result for a list or tuple of bytes, before anything was sent:
 * finalize_headers, then the head and the body in one sendall.  1 done,
 * 0 for the Python method (nothing changed), -1 error. */
static int
send_list_result(conn *c, PyObject *result, int head_request, int http11)
{
    gevc_http_state *st = c->st;
    PyObject *h = c->handler, *status = NULL, *code = NULL, *headers = NULL;
    PyObject *provided_length = NULL, *provided_date = NULL, *provided_conn = NULL;
    PyObject *out = NULL, *value, *body = NULL, *hdrs = NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(result), i, total = 0, size;
    long code_value;
    int rc = FAILED, r, close, upgraded;
    char *w;

    if ((r = h_true(h, c->dict, st->headers_sent)) != 0)
        return r < 0 ? FAILED : FALLBACK;
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(result, i);
        if (!PyBytes_CheckExact(item))
            return FALLBACK;
        total += PyBytes_GET_SIZE(item);
        if (total > MAX_JOINED)
            return FALLBACK;
    }
    if ((status = h_get(h, c->dict, st->status)) == NULL ||
        (code = h_get(h, c->dict, st->code)) == NULL ||
        (headers = h_get(h, c->dict, st->response_headers)) == NULL ||
        (provided_length = h_get(h, c->dict, st->provided_content_length)) == NULL ||
        (provided_date = h_get(h, c->dict, st->provided_date)) == NULL ||
        (provided_conn = h_get(h, c->dict, st->provided_connection)) == NULL)
        goto done;
    rc = FALLBACK;
    if (!PyBytes_CheckExact(status) || PyBytes_GET_SIZE(status) == 0 ||
        !PyLong_CheckExact(code) || !PyList_CheckExact(headers))
        goto done;
    code_value = PyLong_AsLong(code);
    if (code_value == -1 && PyErr_Occurred()) {
        rc = FAILED;
        goto done;
    }
    if ((code_value == 304 || code_value == 204) && total > 0)
        goto done;                  /* write() refuses it */
    for (i = 0; i < PyList_GET_SIZE(headers); i++) {
        PyObject *pair = PyList_GET_ITEM(headers, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(pair, 0)) ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(pair, 1)))
            goto done;
    }
    rc = FAILED;

    /* write(): headers_sent, then finalize_headers */
    if (h_set(h, c->dict, st->headers_sent, Py_True) < 0)
        goto done;
    if (provided_date == Py_None) {
        value = http_date(st);
        r = value ? append_header(headers, "Date", value) : -1;
        Py_XDECREF(value);
        if (r < 0)
            goto done;
    }
    upgraded = code_value == 101;
    if (h_set(h, c->dict, st->connection_upgraded, upgraded ? Py_True : Py_False) < 0)
        goto done;
    if (code_value != 304 && code_value != 204 && !(code_value >= 100 && code_value < 200) &&
        provided_length == Py_None) {
        value = PyBytes_FromFormat("%zd", total);
        r = value ? append_header(headers, "Content-Length", value) : -1;
        Py_XDECREF(value);
        if (r < 0)
            goto done;
    }
    if ((r = server_closed(c)) < 0 ||
        (r && h_set(h, c->dict, st->close_connection, Py_True) < 0))
        goto done;
    if ((r = PyObject_IsTrue(provided_conn)) < 0)
        goto done;
    if (!r) {
        if ((close = h_true(h, c->dict, st->close_connection)) < 0)
            goto done;
        if (!http11 || (close && !upgraded)) {
            value = PyBytes_FromString(close ? "close" : "keep-alive");
            r = value ? append_header(headers, "Connection", value) : -1;
            Py_XDECREF(value);
            if (r < 0)
                goto done;
        }
    }

    /* Python code may have run since the checks above (a property of a
     * handler subclass, the server's `closed`): what is copied comes from
     * snapshots taken now and checked again, never from the live lists. */
    if ((body = PySequence_Tuple(result)) == NULL ||
        (hdrs = PySequence_Tuple(headers)) == NULL)
        goto done;
    if (snapshot_changed(body, hdrs, total)) {
        /* nothing went out: the error path may still send a whole 500 */
        if (h_set(h, c->dict, st->headers_sent, Py_False) == 0)
            PyErr_SetString(PyExc_RuntimeError,
                            "the WSGI result or response headers changed while the "
                            "response was being sent");
        goto done;
    }
    n = PyTuple_GET_SIZE(body);

    /* HTTP/1.1 status CRLF, name: value CRLF..., CRLF, body */
    size = 9 + PyBytes_GET_SIZE(status) + 2 + 2 + (head_request ? 0 : total);
    for (i = 0; i < PyTuple_GET_SIZE(hdrs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(hdrs, i);
        size += PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 0)) +
                PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 1)) + 4;
    }
    if ((out = PyBytes_FromStringAndSize(NULL, size)) == NULL)
        goto done;
    w = PyBytes_AS_STRING(out);
#define PUT(p, len) do { memcpy(w, (p), (size_t)(len)); w += (len); } while (0)
    PUT("HTTP/1.1 ", 9);
    PUT(PyBytes_AS_STRING(status), PyBytes_GET_SIZE(status));
    PUT("\r\n", 2);
    for (i = 0; i < PyTuple_GET_SIZE(hdrs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(hdrs, i);
        PyObject *name = PyTuple_GET_ITEM(pair, 0), *val = PyTuple_GET_ITEM(pair, 1);
        PUT(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name));
        PUT(": ", 2);
        PUT(PyBytes_AS_STRING(val), PyBytes_GET_SIZE(val));
        PUT("\r\n", 2);
    }
    PUT("\r\n", 2);
    if (!head_request)
        for (i = 0; i < n; i++) {
            PyObject *item = PyTuple_GET_ITEM(body, i);
            PUT(PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item));
        }
#undef PUT
    if (send_all(c, out) < 0)
        goto done;
    rc = SERVED;
done:
    Py_XDECREF(out);
    Py_XDECREF(body);
    Py_XDECREF(hdrs);
    Py_XDECREF(status);
    Py_XDECREF(code);
    Py_XDECREF(headers);
    Py_XDECREF(provided_length);
    Py_XDECREF(provided_date);
    Py_XDECREF(provided_conn);
    return rc;
}

/* run_application: 0, or -1 with the exception to answer raised. */
static int
run_application(conn *c, PyObject *env, int head_request, int http11)
{
    gevc_http_state *st = c->st;
    PyObject *h = c->handler, *app, *result, *exc = NULL;
    int r = 0, plain;

    app = PyObject_GetAttr(c->server, st->application);
    if (app == NULL)
        return -1;
    if (h_set(h, c->dict, st->application, app) < 0) {
        Py_DECREF(app);
        return -1;
    }
    {
        PyObject *args[2] = {env, c->start_response};
        result = PyObject_Vectorcall(app, args, 2, NULL);
    }
    Py_DECREF(app);
    if (result == NULL)
        return -1;
    plain = PyList_CheckExact(result) || PyTuple_CheckExact(result);
    if (h_set(h, c->dict, st->result, result) < 0) {
        r = -1;
    }
    else {
        r = plain ? send_list_result(c, result, head_request, http11) : FALLBACK;
        if (r == FALLBACK)
            r = call_void(call_method0(h, st->process_result));
        if (r >= 0 && (r = h_true(h, c->dict, st->headers_sent)) == 0)
            r = call_void(call_method0(h, st->no_start_response));
    }
    /* finally: close the result, forget it */
    exc = r < 0 ? gevc__exc_take() : NULL;
    if (!plain) {
        PyObject *close;
        int found = optional_attr(result, st->close, &close);
        if (found > 0) {
            found = call_void(PyObject_CallNoArgs(close));
            Py_DECREF(close);
        }
        if (found < 0) {
            chain_context(exc);
            exc = gevc__exc_take();
        }
    }
    Py_DECREF(result);
    if (h_set(h, c->dict, st->result, Py_None) < 0) {
        chain_context(exc);
        exc = gevc__exc_take();
    }
    if (exc != NULL) {
        gevc__exc_raise(exc);
        return -1;
    }
    return 0;
}

/* The end of handle_one_response: the unread body, the error if any
 * (WSGIHandler._response_failed, with it as the handled exception),
 * time_finish and the access log.  0 or -1. */
static int
end_response(conn *c, int has_body, PyObject *exc)
{
    gevc_http_state *st = c->st;
    PyObject *h = c->handler, *now;
    int r = 0;

    if (has_body && call_void(call_method0(h, st->finish_body)) < 0) {
        chain_context(exc);
        exc = gevc__exc_take();
    }
    if (exc != NULL) {
#if PY_VERSION_HEX >= 0x030B0000
        PyObject *previous = PyErr_GetHandledException();
        PyErr_SetHandledException(exc);
        r = call_void(call_method1(h, st->response_failed, exc));
        PyErr_SetHandledException(previous);
        Py_XDECREF(previous);
#else
        PyObject *pt, *pv, *ptb;
        PyErr_GetExcInfo(&pt, &pv, &ptb);
        PyErr_SetExcInfo(Py_NewRef((PyObject *)Py_TYPE(exc)), Py_NewRef(exc),
                         PyException_GetTraceback(exc));
        r = call_void(call_method1(h, st->response_failed, exc));
        PyErr_SetExcInfo(pt, pv, ptb);
#endif
        Py_DECREF(exc);
    }
    /* finally: */
    {
        PyObject *pending = r < 0 ? gevc__exc_take() : NULL;
        int failed = 0;
        now = PyFloat_FromDouble(wall_time());
        if (h_set_new(h, c->dict, st->time_finish, now) < 0) {
            failed = 1;
        }
        else {
            int skip = 0;
            if (c->c_log) {
                PyObject *log = PyObject_GetAttr(c->server, st->log);
                if (log == NULL)
                    failed = 1;
                else
                    skip = (PyObject *)Py_TYPE(log) == st->noop_log_type;
                Py_XDECREF(log);
            }
            if (!failed && !skip && call_void(call_method0(h, st->log_request)) < 0)
                failed = 1;
        }
        if (failed) {
            chain_context(pending);
            return -1;
        }
        if (pending != NULL) {
            gevc__exc_raise(pending);
            return -1;
        }
    }
    return 0;
}

/* One request: SERVED (keep going), FALLBACK (the Python path takes this
 * request, nothing of it read), CLOSE or FAILED. */
static int
serve_one(conn *c)
{
    gevc_http_state *st = c->st;
    PyObject *data = NULL, *consumed, *env = NULL;
    gevc_http_request req;
    framing f;
    parsed p;
    const char *buf;
    ssize_t size;
    int r;

    memset(&p, 0, sizeof(p));
    if ((r = wait_for_request(c, &data)) != SERVED)
        return r;
    buf = PyBytes_AS_STRING(data);
    if (buf[0] == '\r') {
        Py_DECREF(data);
        return FALLBACK;
    }
    size = gevc_http_parse_request(buf, (size_t)PyBytes_GET_SIZE(data), &c->limits, &req,
                                   c->headers, c->max_headers);
    if (size <= 0 || (size_t)size > c->whole_limit ||
        !frame_request(buf, &req, c->headers, c->max_body, &f)) {
        Py_DECREF(data);
        return FALLBACK;
    }
    r = FAILED;
    if (parsed_make(c, buf, &req, &f, &p) < 0 || set_request_attrs(c, buf, &req, &f, &p) < 0)
        goto done;
    {
        PyObject *n = PyLong_FromSsize_t(size);
        consumed = n ? call_method1(c->rfile, st->read, n) : NULL;
        Py_XDECREF(n);
    }
    if (consumed == NULL)
        goto done;
    Py_DECREF(consumed);
    /* peek() gave all that rfile held: with no body to read, it is empty */
    c->buffer_empty = size == PyBytes_GET_SIZE(data) && !f.chunked && f.content_length <= 0;
    env = c->c_environ ? build_environ(c, buf, &req, &f, &p) : call_method0(c->handler, st->get_environ);
    if (env == NULL ||
        (c->c_environ == 2 && call_void(call_method1(c->handler, st->environ_hook, env)) < 0) ||
        h_set(c->handler, c->dict, st->environ, env) < 0)
        goto done;

    /* handle_one_response */
    {
        PyObject *now = PyFloat_FromDouble(wall_time());
        PyObject *h = c->handler, *exc = NULL;
        int bad = now == NULL ||
            h_set(h, c->dict, st->time_start, now) < 0 ||
            h_set(h, c->dict, st->status, Py_None) < 0 ||
            h_set(h, c->dict, st->headers_sent, Py_False) < 0 ||
            h_set(h, c->dict, st->result, Py_None) < 0 ||
            h_set(h, c->dict, st->response_use_chunked, Py_False) < 0 ||
            h_set(h, c->dict, st->connection_upgraded, Py_False) < 0 ||
            h_set(h, c->dict, st->provided_connection, Py_None) < 0;
        Py_XDECREF(now);
        if (bad)
            goto done;
        if (run_application(c, env, f.head, f.http11) < 0)
            exc = gevc__exc_take();
        if (end_response(c, f.chunked || f.content_length > 0, exc) < 0)
            goto done;
    }

    /* the end of _respond */
    if ((r = h_true(c->handler, c->dict, st->close_connection)) == 0 &&
        (r = attr_true(c->rfile, st->closed)) == 0)
        r = server_closed(c);
    if (r < 0) {
        r = FAILED;
        goto done;
    }
    if (r) {
        r = call_void(call_method0(c->handler, st->set_linger)) < 0 ? FAILED : CLOSE;
        goto done;
    }
    r = SERVED;
done:
    Py_XDECREF(env);
    parsed_clear(&p);
    Py_DECREF(data);
    return r;
}

/* ---- the module functions ------------------------------------------------ */

static int
positive_size(PyObject *obj, PyObject *name, size_t *out)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    Py_ssize_t n;
    if (v == NULL)
        return -1;
    n = PyLong_Check(v) ? PyLong_AsSsize_t(v) : 0;
    Py_DECREF(v);
    if (n == -1 && PyErr_Occurred())
        PyErr_Clear();
    *out = n > 0 ? (size_t)n : 0;
    return 0;
}

static void
conn_clear(conn *c)
{
    Py_CLEAR(c->dict);
    Py_CLEAR(c->rfile);
    Py_CLEAR(c->sock);
    Py_CLEAR(c->server);
    Py_CLEAR(c->idle);
    Py_CLEAR(c->glet);
    Py_CLEAR(c->idle_timeout);
    Py_CLEAR(c->socket_timeout);
    Py_CLEAR(c->max_body_size);
    Py_CLEAR(c->remote_addr);
    Py_CLEAR(c->remote_port);
    Py_CLEAR(c->start_response);
    PyMem_Free(c->headers);
    c->headers = NULL;
}

/* Fill c from the handler: 1 ready, 0 when the C path cannot serve this
 * connection (the Python path then does), -1 error. */
static int
conn_init(conn *c, PyObject *module, PyObject *handler)
{
    gevc_http_state *st = c->st;
    PyObject *address;
    size_t line, bytes, count;
    int r;

    if ((c->rfile = PyObject_GetAttr(handler, st->rfile)) == NULL ||
        (c->sock = PyObject_GetAttr(handler, st->socket)) == NULL ||
        (c->server = PyObject_GetAttr(handler, st->server)) == NULL ||
        (c->idle_timeout = PyObject_GetAttr(handler, st->idle_timeout)) == NULL ||
        (c->socket_timeout = PyObject_GetAttr(handler, st->socket_timeout)) == NULL ||
        (c->max_body_size = PyObject_GetAttr(handler, st->max_body_size)) == NULL)
        return -1;
    if (c->sock == Py_None)
        return 0;
    if (optional_attr(c->server, st->idle_handlers, &c->idle) < 0)
        return -1;
    if (c->idle == Py_None)
        Py_CLEAR(c->idle);
    if (c->idle != NULL && !PySet_Check(c->idle))
        return 0;
    if ((r = PyObject_RichCompareBool(c->idle_timeout, c->socket_timeout, Py_NE)) < 0)
        return -1;
    c->switch_timeout = r;
    if (r && c->plain_socket &&
        (PyFloat_CheckExact(c->idle_timeout) || PyLong_CheckExact(c->idle_timeout)))
        c->idle_wait = PyObject_IsTrue(c->idle_timeout) == 1;
    if (positive_size(handler, st->max_header_line, &line) < 0 ||
        positive_size(handler, st->max_header_bytes, &bytes) < 0 ||
        positive_size(handler, st->max_header_count, &count) < 0)
        return -1;
    if (line == 0 || bytes == 0 || count == 0 || count > 100000)
        return 0;
    c->limits.max_request_line = MAX_REQUEST_LINE;
    c->limits.max_header_line = line;
    c->limits.max_head = bytes;
    c->max_headers = count;
    c->whole_limit = line < bytes ? line : bytes;
    if (c->whole_limit > MAX_REQUEST_LINE)
        c->whole_limit = MAX_REQUEST_LINE;
    if (c->max_body_size == Py_None) {
        c->max_body = -1;
    }
    else {
        if (!PyLong_Check(c->max_body_size))
            return 0;
        c->max_body = PyLong_AsLongLong(c->max_body_size);
        if (c->max_body == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        if (c->max_body < 0)
            return 0;
    }
    address = PyObject_GetAttr(handler, st->client_address);
    if (address == NULL)
        return -1;
    if (PyTuple_Check(address)) {
        if (PyTuple_GET_SIZE(address) < 2) {
            Py_DECREF(address);
            return 0;
        }
        c->remote_addr = PyObject_Str(PyTuple_GET_ITEM(address, 0));
        c->remote_port = PyObject_Str(PyTuple_GET_ITEM(address, 1));
        if (c->remote_addr == NULL || c->remote_port == NULL) {
            Py_DECREF(address);
            return -1;
        }
    }
    Py_DECREF(address);
    if ((c->glet = PyObject_CallNoArgs(st->getcurrent)) == NULL)
        return -1;
    c->headers = PyMem_Malloc(c->max_headers * sizeof(gevc_http_header));
    if (c->headers == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if ((c->start_response = sr_new(module, st, handler, c->dict)) == NULL)
        return -1;
    return 1;
}

PyDoc_STRVAR(serve_doc,
"serve(handler, c_environ, c_log, plain_attributes, copy_environ,\n"
"      closed_via_socket, plain_socket)\n--\n\n"
"Serve the requests of pywsgi handler *handler*'s connection in C while\n"
"each is an ordinary one.  Returns None when the connection is to be\n"
"closed, False when the next request is for the Python path\n"
"(handle_one_request), which has read nothing of it.  *c_environ*: 1 to\n"
"build the environ here, 2 to build it and call handler._environ_hook(env),\n"
"0 to call handler.get_environ(); *c_log*: log_request is\n"
"WSGIHandler's (not called for a _NoopLog); *plain_attributes*: the\n"
"handler's class has no data descriptor for the attributes set here, so\n"
"its __dict__ is used directly; *copy_environ*: the server's\n"
"get_environ is a dict copy of server.environ; *closed_via_socket*: the\n"
"server's closed is BaseServer's; *plain_socket*: the socket is\n"
"gevent_c.socket.socket itself, whose descriptor may be waited on for\n"
"the idle timeout.  For gevent_c.pywsgi only.");

static PyObject *
serve(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    conn c;
    int r, flags[6];

    if (nargs != 7) {
        PyErr_Format(PyExc_TypeError, "serve() takes 7 arguments (%zd given)", nargs);
        return NULL;
    }
    for (int i = 0; i < 6; i++)
        if ((flags[i] = PyObject_IsTrue(args[i + 1])) < 0)
            return NULL;
    if (PyLong_CheckExact(args[1]) && (flags[0] = (int)PyLong_AsLong(args[1])) < 0)
        return NULL;
    memset(&c, 0, sizeof(c));
    c.st = (gevc_http_state *)PyModule_GetState(module);
    if (c.st->input_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "gevent_c._http._setup() was not called");
        return NULL;
    }
    c.module = module;
    c.handler = args[0];
    c.c_environ = flags[0];
    c.c_log = flags[1];
    c.copy_environ = flags[3];
    c.closed_via_socket = flags[4];
    c.plain_socket = flags[5];
    if (flags[2] && (c.dict = PyObject_GenericGetDict(args[0], NULL)) == NULL)
        return NULL;
    r = conn_init(&c, module, args[0]);
    if (r > 0) {
        do
            r = serve_one(&c);
        while (r == SERVED);
    }
    conn_clear(&c);
    if (r < 0)
        return NULL;
    if (r == CLOSE)
        Py_RETURN_NONE;
    Py_RETURN_FALSE;
}

PyDoc_STRVAR(setup_doc,
"_setup(Input, NoopLog, start_response, getcurrent)\n--\n\n"
"What serve() needs of gevent_c.pywsgi: the wsgi.input class, the class\n"
"of a server log that drops everything, WSGIHandler.start_response (for\n"
"what the C start_response leaves to it) and the greenlet getcurrent.");

static PyObject *
setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_http_state *st = (gevc_http_state *)PyModule_GetState(module);
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "_setup() takes 4 arguments (%zd given)", nargs);
        return NULL;
    }
    for (int i = 0; i < 4; i++)
        if (!PyCallable_Check(args[i])) {
            PyErr_Format(PyExc_TypeError, "_setup() argument %d must be callable", i + 1);
            return NULL;
        }
    Py_XSETREF(st->input_type, Py_NewRef(args[0]));
    Py_XSETREF(st->noop_log_type, Py_NewRef(args[1]));
    Py_XSETREF(st->py_start_response, Py_NewRef(args[2]));
    Py_XSETREF(st->getcurrent, Py_NewRef(args[3]));
    Py_RETURN_NONE;
}

static PyMethodDef wsgi_functions[] = {
    {"serve", (PyCFunction)(void (*)(void))serve, METH_FASTCALL, serve_doc},
    {"_setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL, setup_doc},
    {NULL, NULL, 0, NULL},
};

#define GEVC_HTTP_INTERN(field, text) \
    if ((st->field = PyUnicode_InternFromString(text)) == NULL) return -1;

int
gevc_http_wsgi_exec(PyObject *module, gevc_http_state *st)
{
    PyObject *tp;
    GEVC_HTTP_NAMES(GEVC_HTTP_INTERN)
    if ((st->env_keys = PyDict_New()) == NULL)
        return -1;
    tp = PyType_FromModuleAndSpec(module, &sr_spec, NULL);
    if (tp == NULL)
        return -1;
    st->start_response_type = (PyTypeObject *)tp;
    if (PyModule_AddObjectRef(module, "StartResponse", tp) < 0)
        return -1;
    return PyModule_AddFunctions(module, wsgi_functions);
}

#define GEVC_HTTP_VISIT(field, text) Py_VISIT(st->field);
#define GEVC_HTTP_CLEAR(field, text) Py_CLEAR(st->field);

int
gevc_http_wsgi_traverse(gevc_http_state *st, visitproc visit, void *arg)
{
    GEVC_HTTP_NAMES(GEVC_HTTP_VISIT)
    Py_VISIT(st->start_response_type);
    Py_VISIT(st->input_type);
    Py_VISIT(st->noop_log_type);
    Py_VISIT(st->py_start_response);
    Py_VISIT(st->getcurrent);
    Py_VISIT(st->env_keys);
    Py_VISIT(st->date);
    return 0;
}

void
gevc_http_wsgi_clear(gevc_http_state *st)
{
    GEVC_HTTP_NAMES(GEVC_HTTP_CLEAR)
    Py_CLEAR(st->start_response_type);
    Py_CLEAR(st->input_type);
    Py_CLEAR(st->noop_log_type);
    Py_CLEAR(st->py_start_response);
    Py_CLEAR(st->getcurrent);
    Py_CLEAR(st->env_keys);
    Py_CLEAR(st->date);
}
