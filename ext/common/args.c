/* Keyword-aware argument parsing for METH_FASTCALL | METH_KEYWORDS entry
 * points (and tp_new/tp_init from an args tuple and kwargs dict), shared by
 * gevent_c._core and gevent_c._ares. */
#include "gevc_common.h"

static int
find_name(PyObject *key, const char *const *names, int nnames)
{
    for (int i = 0; i < nnames; i++) {
        if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0)
            return i;
    }
    return -1;
}

int
gevc__parse(const char *fname, PyObject *const *args, Py_ssize_t nargs,
            PyObject *kwnames, const char *const *names, int max_pos,
            int required, PyObject **out)
{
    int nnames = 0;
    while (names[nnames] != NULL)
        nnames++;
    for (int i = 0; i < nnames; i++)
        out[i] = NULL;
    if (nargs > max_pos) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional "
                     "arguments (%zd given)", fname, max_pos, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    if (kwnames != NULL) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nkw; k++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, k);
            int idx = find_name(key, names, nnames);
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

int
gevc__parse_tuple(const char *fname, PyObject *args, PyObject *kwargs,
                  const char *const *names, int max_pos, int required,
                  PyObject **out)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    Py_ssize_t nkw = kwargs ? PyDict_GET_SIZE(kwargs) : 0;
    PyObject *stack[16];
    PyObject *kwnames = NULL;
    int rc = -1;

    if (nargs + nkw > 16) {
        PyErr_Format(PyExc_TypeError, "%s() got too many arguments", fname);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        stack[i] = PyTuple_GET_ITEM(args, i);
    if (nkw) {
        PyObject *key, *value;
        Py_ssize_t pos = 0, k = 0;
        kwnames = PyTuple_New(nkw);
        if (kwnames == NULL)
            return -1;
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            PyTuple_SET_ITEM(kwnames, k, Py_NewRef(key));
            stack[nargs + k] = value;
            k++;
        }
    }
    rc = gevc__parse(fname, stack, nargs, kwnames, names, max_pos, required, out);
    Py_XDECREF(kwnames);
    /* the borrowed references stay valid: args and kwargs own them */
    return rc;
}

int
gevc__as_bool(PyObject *o, int dflt)
{
    if (o == NULL)
        return dflt;
    return PyObject_IsTrue(o);
}
