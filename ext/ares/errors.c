/* c-ares status codes -> the socket.gaierror / socket.herror that libc's
 * resolver gives for the same failure, and small argument helpers. */
#include "gevc_ares.h"

#include <netdb.h>

/* libc's getaddrinfo error for a c-ares status: NXDOMAIN is EAI_NONAME, an
 * existing name without addresses EAI_NODATA, anything a retry may cure
 * (SERVFAIL, REFUSED, timeouts, unreachable servers) EAI_AGAIN. */
static int
eai_from_status(int status)
{
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_EBADNAME:
        return EAI_NONAME;
#ifdef EAI_NODATA
    case ARES_ENODATA:
        return EAI_NODATA;
#else
    case ARES_ENODATA:
        return EAI_NONAME;
#endif
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        return EAI_AGAIN;
    case ARES_EBADFAMILY:
        return EAI_FAMILY;
    case ARES_ENOMEM:
        return EAI_MEMORY;
    case ARES_ESERVICE:
        return EAI_SERVICE;
    case ARES_EBADFLAGS:
        return EAI_BADFLAGS;
    default:
        return EAI_FAIL;
    }
}

static PyObject *
make_error(PyObject *type, int code, const char *msg)
{
    if (type == NULL)   /* module state cleared at shutdown */
        type = PyExc_OSError;
    PyObject *args = Py_BuildValue("(is)", code, msg);
    if (args == NULL)
        return NULL;
    PyObject *exc = PyObject_Call(type, args, NULL);
    Py_DECREF(args);
    return exc;
}

PyObject *
gevc_ares_gaierror(gevc_ares_state *st, int status)
{
    int code = eai_from_status(status);
    const char *msg = gai_strerror(code);
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
        msg = "c-ares channel destroyed";
    return make_error(st->gaierror, code, msg);
}

PyObject *
gevc_ares_herror(gevc_ares_state *st, int status)
{
    int code;
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_EBADNAME:
        code = HOST_NOT_FOUND;
        break;
    case ARES_ENODATA:
        code = NO_DATA;
        break;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        code = TRY_AGAIN;
        break;
    default:
        code = NO_RECOVERY;
    }
    const char *msg = hstrerror(code);
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
        msg = "c-ares channel destroyed";
    return make_error(st->herror, code, msg);
}

int
gevc__ares_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                 PyObject *kwnames, const char *const *names, int required,
                 PyObject **out)
{
    int nnames = 0;
    while (names[nnames] != NULL)
        out[nnames++] = NULL;
    if (nargs > nnames) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)",
                     fname, nnames, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int idx = -1;
        for (int i = 0; i < nnames && idx < 0; i++) {
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0)
                idx = i;
        }
        if (idx < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword "
                         "argument '%U'", fname, key);
            return -1;
        }
        if (out[idx] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for "
                         "argument '%s'", fname, names[idx]);
            return -1;
        }
        out[idx] = args[nargs + k];
    }
    for (int i = 0; i < required; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'",
                         fname, names[i]);
            return -1;
        }
    }
    return 0;
}

/* An int option: None/absent -> dflt; bool and non-integers are refused. */
int
gevc__ares_int(PyObject *obj, const char *what, int dflt, int *out)
{
    if (obj == NULL || obj == Py_None) {
        *out = dflt;
        return 0;
    }
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an integer, not %.100s",
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < INT_MIN || v > INT_MAX) {
        PyErr_Format(PyExc_OverflowError, "%s out of range", what);
        return -1;
    }
    *out = (int)v;
    return 0;
}
