/* Keyword-aware argument parsing for METH_FASTCALL | METH_KEYWORDS entry
 * points, shared by gevent_c._core and gevent_c._ares. */
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
