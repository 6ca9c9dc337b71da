/* Helpers shared by gevent_c's C extensions: keyword-aware argument
 * parsing, taking or re-raising the current exception across versions, and
 * a tuple from an argument array.  The .c files here are compiled into each
 * extension that lists ext/common in setup.py. */
#ifndef GEVC_COMMON_H
#define GEVC_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* ---- exceptions (3.12 deprecates the fetch/restore triple) ----------- */

/* Take the raised exception (new reference, normalized, traceback set). */
static inline PyObject *
gevc__exc_take(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (t == NULL)
        return NULL;
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb != NULL && v != NULL)
        PyException_SetTraceback(v, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    return v;
#endif
}

/* Re-raise an exception taken with gevc__exc_take (steals the reference;
 * NULL, nothing was raised, is a no-op). */
static inline void
gevc__exc_raise(PyObject *exc)
{
    if (exc == NULL)
        return;
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyObject *tb = PyException_GetTraceback(exc);
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, tb);
#endif
}

/* ---- argument parsing for METH_FASTCALL | METH_KEYWORDS -------------- */

/* Fill out[0..nnames-1] with borrowed references (NULL when absent).
 * Positional arguments beyond max_pos are refused. */
int gevc__parse(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames, const char *const *names, int max_pos,
                int required, PyObject **out);

/* Number of names in a NULL-terminated static names[] array: the usual
 * max_pos when every parameter may be given by position. */
/* The same for an args tuple and a kwargs dict (tp_new, tp_init). */
int gevc__parse_tuple(const char *fname, PyObject *args, PyObject *kwargs,
                      const char *const *names, int max_pos, int required,
                      PyObject **out);

/* PyObject_IsTrue(o), or dflt when the argument was not given (o NULL). */
int gevc__as_bool(PyObject *o, int dflt);

/* A new tuple holding new references to args[0..nargs-1]. */
static inline PyObject *
gevc__tuple_from_array(PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *t = PyTuple_New(nargs);
    if (t == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++)
        PyTuple_SET_ITEM(t, i, Py_NewRef(args[i]));
    return t;
}

/* Getter and setter of an object member that is NULL when unset and reads
 * as None (None or del stores NULL); the closure is the member's offset:
 *   {"name", gevc__optional_get, gevc__optional_set, doc,
 *    (void *)offsetof(type, member)} */
PyObject *gevc__optional_get(PyObject *self, void *offset);
int gevc__optional_set(PyObject *self, PyObject *value, void *offset);

#define GEVC_NNAMES(names) ((int)(sizeof(names) / sizeof((names)[0])) - 1)

#endif
