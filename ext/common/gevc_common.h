/* Helpers shared by gevent_c's C extensions: keyword-aware argument
 * parsing, taking or re-raising the current exception across versions, and
 * a tuple from an argument array.  The .c files here are compiled into each
 * extension that lists ext/common in setup.py. */
#ifndef GEVC_COMMON_H
#define GEVC_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* ---- C API the extensions use that older versions lack ---------------- */

#ifndef Py_NO_INLINE            /* 3.11+ */
#define Py_NO_INLINE __attribute__((noinline))
#endif

#if PY_VERSION_HEX < 0x030B0000
/* PyType_GetModuleByDef is 3.11+: the module of the first type in tp's MRO
 * that `def` defined (a Python subclass has no module of its own). */
static inline PyObject *
gevc__module_by_def(PyTypeObject *tp, PyModuleDef *def)
{
    PyObject *mro = tp->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!PyType_HasFeature(t, Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *m = ((PyHeapTypeObject *)t)->ht_module;
        if (m != NULL && PyModule_GetDef(m) == def)
            return m;
    }
    PyErr_Format(PyExc_TypeError,
                 "PyType_GetModuleByDef: No superclass of '%s' has the "
                 "given module", tp->tp_name);
    return NULL;
}
#define PyType_GetModuleByDef gevc__module_by_def
#endif

/* The referent of weak reference `ref` as a new reference in *obj, or NULL
 * once it is gone; -1 with TypeError if ref is not a weak reference
 * (PyWeakref_GetRef, 3.13+, which deprecates PyWeakref_GetObject). */
static inline int
gevc__weakref_get(PyObject *ref, PyObject **obj)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyWeakref_GetRef(ref, obj);
#else
    PyObject *o = PyWeakref_GetObject(ref);
    if (o == NULL) {
        *obj = NULL;
        return -1;
    }
    *obj = o == Py_None ? NULL : Py_NewRef(o);
    return *obj != NULL;
#endif
}

/* `name` takes no arguments: TypeError naming what was given
 * (the checks CPython keeps private from 3.13 on). */
static inline int
gevc__no_args(const char *name, PyObject *args, PyObject *kwargs)
{
    if (args != NULL && PyTuple_GET_SIZE(args) != 0) {
        PyErr_Format(PyExc_TypeError, "%.200s() takes no positional arguments",
                     name);
        return -1;
    }
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_Format(PyExc_TypeError, "%.200s() takes no keyword arguments",
                     name);
        return -1;
    }
    return 0;
}

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
