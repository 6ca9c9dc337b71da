/* gevent_c._http: Python access to the request-head parser (parser.c).
 *
 * parse_request(data, max_request_line, max_header_line, max_head,
 *               max_headers)
 *   -> (size, method, target, major, minor, [(name, value), ...])
 *   or an int <= 0: 0 when the head is not complete yet, a negative code
 *   when it is refused (result_name(code), result_status(code) tell which
 *   rule and which status to answer).  Strings are decoded as latin-1. */
#include "wsgi.h"
#include "parser.h"

/* Enough for the default limit (100 field lines) without the heap. */
#define STACK_HEADERS 128

static PyObject *
latin1(const char *buf, size_t offset, size_t len)
{
    return PyUnicode_DecodeLatin1(buf + offset, (Py_ssize_t)len, NULL);
}

static PyObject *
build_result(const char *buf, ssize_t size, const gevc_http_request *req,
             const gevc_http_header *headers)
{
    PyObject *pairs = NULL, *method = NULL, *target = NULL, *result = NULL;
    size_t i;

    pairs = PyList_New((Py_ssize_t)req->num_headers);
    if (pairs == NULL)
        goto error;
    for (i = 0; i < req->num_headers; i++) {
        PyObject *name = latin1(buf, headers[i].name, headers[i].name_len);
        if (name == NULL)
            goto error;
        PyObject *value = latin1(buf, headers[i].value, headers[i].value_len);
        if (value == NULL) {
            Py_DECREF(name);
            goto error;
        }
        PyObject *pair = PyTuple_Pack(2, name, value);
        Py_DECREF(name);
        Py_DECREF(value);
        if (pair == NULL)
            goto error;
        PyList_SET_ITEM(pairs, (Py_ssize_t)i, pair);
    }
    method = latin1(buf, req->method, req->method_len);
    if (method == NULL)
        goto error;
    target = latin1(buf, req->target, req->target_len);
    if (target == NULL)
        goto error;
    result = Py_BuildValue("(nOOiiO)", (Py_ssize_t)size, method, target,
                           req->major, req->minor, pairs);
error:
    Py_XDECREF(pairs);
    Py_XDECREF(method);
    Py_XDECREF(target);
    return result;
}

static int
size_arg(PyObject *arg, const char *what, size_t *out)
{
    Py_ssize_t value = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (value < 1) {
        PyErr_Format(PyExc_ValueError, "%s must be positive", what);
        return -1;
    }
    *out = (size_t)value;
    return 0;
}

PyDoc_STRVAR(parse_request_doc,
"parse_request(data, max_request_line, max_header_line, max_head, max_headers)\n"
"--\n\n"
"Parse the HTTP/1.x request head at the start of *data* (bytes-like).\n\n"
"Returns (size, method, target, major, minor, [(name, value), ...]) with\n"
"*size* the bytes of the head, or an int: 0 if the head is incomplete, a\n"
"negative code if it is refused (see result_name and result_status).\n"
"The request line must be shorter than *max_request_line* bytes, each\n"
"field line at most *max_header_line*, all field lines at most *max_head*,\n"
"and there may be at most *max_headers* of them.");

static PyObject *
parse_request(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_http_limits limits;
    gevc_http_request req;
    gevc_http_header stack_headers[STACK_HEADERS];
    gevc_http_header *headers = stack_headers;
    size_t max_headers;
    Py_buffer view;
    PyObject *result = NULL;
    ssize_t size;

    if (nargs != 5) {
        PyErr_Format(PyExc_TypeError, "parse_request() takes 5 arguments (%zd given)", nargs);
        return NULL;
    }
    if (size_arg(args[1], "max_request_line", &limits.max_request_line) < 0 ||
        size_arg(args[2], "max_header_line", &limits.max_header_line) < 0 ||
        size_arg(args[3], "max_head", &limits.max_head) < 0 ||
        size_arg(args[4], "max_headers", &max_headers) < 0)
        return NULL;
    if (limits.max_request_line < 2) {
        PyErr_SetString(PyExc_ValueError, "max_request_line must be at least 2");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (max_headers > STACK_HEADERS) {
        if (max_headers > PY_SSIZE_T_MAX / sizeof(gevc_http_header)) {
            PyErr_SetString(PyExc_OverflowError, "max_headers is too large");
            goto done;
        }
        headers = PyMem_Malloc(max_headers * sizeof(gevc_http_header));
        if (headers == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    size = gevc_http_parse_request(view.buf, (size_t)view.len, &limits, &req, headers,
                                   max_headers);
    if (size > 0)
        result = build_result(view.buf, size, &req, headers);
    else
        result = PyLong_FromSsize_t(size);
done:
    if (headers != stack_headers)
        PyMem_Free(headers);
    PyBuffer_Release(&view);
    return result;
}

static int
code_arg(PyObject *arg, ssize_t *out)
{
    Py_ssize_t code = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (code == -1 && PyErr_Occurred())
        return -1;
    *out = code;
    return 0;
}

PyDoc_STRVAR(result_name_doc,
"result_name(code)\n--\n\n"
"The name of a parse_request result code ('incomplete', 'bare_lf', 'obs_fold'...).");

static PyObject *
result_name(PyObject *module, PyObject *arg)
{
    ssize_t code;
    if (code_arg(arg, &code) < 0)
        return NULL;
    return PyUnicode_FromString(gevc_http_result_name(code));
}

PyDoc_STRVAR(result_status_doc,
"result_status(code)\n--\n\n"
"The HTTP status to refuse with for a negative parse_request code (400, 414, 431).");

static PyObject *
result_status(PyObject *module, PyObject *arg)
{
    ssize_t code;
    if (code_arg(arg, &code) < 0)
        return NULL;
    return PyLong_FromLong(gevc_http_result_status(code));
}

static PyMethodDef http_methods[] = {
    {"parse_request", (PyCFunction)(void (*)(void))parse_request, METH_FASTCALL,
     parse_request_doc},
    {"result_name", result_name, METH_O, result_name_doc},
    {"result_status", result_status, METH_O, result_status_doc},
    {NULL, NULL, 0, NULL},
};

static int
http_exec(PyObject *module)
{
    return gevc_http_wsgi_exec(module, (gevc_http_state *)PyModule_GetState(module));
}

static int
http_traverse(PyObject *module, visitproc visit, void *arg)
{
    gevc_http_state *st = (gevc_http_state *)PyModule_GetState(module);
    return st == NULL ? 0 : gevc_http_wsgi_traverse(st, visit, arg);
}

static int
http_clear(PyObject *module)
{
    gevc_http_state *st = (gevc_http_state *)PyModule_GetState(module);
    if (st != NULL)
        gevc_http_wsgi_clear(st);
    return 0;
}

static void
http_free(void *module)
{
    http_clear((PyObject *)module);
}

static PyModuleDef_Slot http_slots[] = {
    {Py_mod_exec, http_exec},
    {0, NULL},
};

PyDoc_STRVAR(http_doc,
"gevent_c's HTTP/1.x request-head parser, in C (strict, RFC 9112), and the\n"
"request cycle of gevent_c.pywsgi's default handler (serve).");

static PyModuleDef http_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gevent_c._http",
    .m_doc = http_doc,
    .m_size = sizeof(gevc_http_state),
    .m_methods = http_methods,
    .m_slots = http_slots,
    .m_traverse = http_traverse,
    .m_clear = http_clear,
    .m_free = http_free,
};

PyMODINIT_FUNC
PyInit__http(void)
{
    return PyModuleDef_Init(&http_module);
}
