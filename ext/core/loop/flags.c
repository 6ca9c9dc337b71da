/* Names of libev's backend/flag bits and event bits, as gevent.core spells
 * them, and the conversions between names, masks and strings. */
#include "loop.h"

typedef struct { unsigned int value; const char *name; } named_flag;

/* Same names and order as gevent.core's _flags. */
static const named_flag flag_names[] = {
    {EVBACKEND_PORT, "port"},
    {EVBACKEND_KQUEUE, "kqueue"},
    {EVBACKEND_IOURING, "linux_iouring"},
    {EVBACKEND_LINUXAIO, "linux_aio"},
    {EVBACKEND_EPOLL, "epoll"},
    {EVBACKEND_POLL, "poll"},
    {EVBACKEND_SELECT, "select"},
    {EVFLAG_NOENV, "noenv"},
    {EVFLAG_FORKCHECK, "forkcheck"},
    {EVFLAG_NOINOTIFY, "noinotify"},
    {EVFLAG_SIGNALFD, "signalfd"},
    {EVFLAG_NOSIGMASK, "nosigmask"},
    {0, NULL},
};

/* Same names and order as gevent.core's _events. */
static const named_flag event_names[] = {
    {EV_READ, "READ"},
    {EV_WRITE, "WRITE"},
    {EV__IOFDSET, "_IOFDSET"},
    {EV_PERIODIC, "PERIODIC"},
    {EV_SIGNAL, "SIGNAL"},
    {EV_CHILD, "CHILD"},
    {EV_STAT, "STAT"},
    {EV_IDLE, "IDLE"},
    {EV_PREPARE, "PREPARE"},
    {EV_CHECK, "CHECK"},
    {EV_EMBED, "EMBED"},
    {EV_FORK, "FORK"},
    {EV_CLEANUP, "CLEANUP"},
    {EV_ASYNC, "ASYNC"},
    {EV_CUSTOM, "CUSTOM"},
    {(unsigned int)EV_ERROR, "ERROR"},
    {0, NULL},
};

const char *
gevc_backend_name(unsigned int backend)
{
    for (const named_flag *f = flag_names; f->name; f++) {
        if (f->value == backend)
            return f->name;
    }
    return NULL;
}

PyObject *
gevc_events_to_str(int events)
{
    unsigned int ev = (unsigned int)events;
    PyObject *parts = PyList_New(0), *sep = NULL, *res = NULL;
    if (parts == NULL)
        return NULL;
    for (const named_flag *f = event_names; f->name && ev; f++) {
        if (ev & f->value) {
            PyObject *s = PyUnicode_FromString(f->name);
            if (s == NULL || PyList_Append(parts, s) < 0) {
                Py_XDECREF(s);
                goto done;
            }
            Py_DECREF(s);
            ev &= ~f->value;
        }
    }
    if (ev) {
        PyObject *s = PyUnicode_FromFormat("0x%x", ev);
        if (s == NULL || PyList_Append(parts, s) < 0) {
            Py_XDECREF(s);
            goto done;
        }
        Py_DECREF(s);
    }
    sep = PyUnicode_FromString("|");
    if (sep != NULL)
        res = PyUnicode_Join(sep, parts);
done:
    Py_XDECREF(sep);
    Py_DECREF(parts);
    return res;
}

PyObject *
gevc_flags_to_list(unsigned int flags)
{
    PyObject *res = PyList_New(0);
    if (res == NULL)
        return NULL;
    for (const named_flag *f = flag_names; f->name; f++) {
        if (flags & f->value) {
            PyObject *s = PyUnicode_FromString(f->name);
            if (s == NULL || PyList_Append(res, s) < 0) {
                Py_XDECREF(s);
                Py_DECREF(res);
                return NULL;
            }
            Py_DECREF(s);
            flags &= ~f->value;
        }
    }
    if (flags) {
        PyObject *n = PyLong_FromUnsignedLong(flags);
        if (n == NULL || PyList_Append(res, n) < 0) {
            Py_XDECREF(n);
            Py_DECREF(res);
            return NULL;
        }
        Py_DECREF(n);
    }
    return res;
}

static int
bad_flag(PyObject *name)
{
    PyObject *names = PyList_New(0);
    if (names == NULL)
        return -1;
    for (const named_flag *f = flag_names; f->name; f++) {
        PyObject *s = PyUnicode_FromString(f->name);
        if (s == NULL || PyList_Append(names, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(names);
            return -1;
        }
        Py_DECREF(s);
    }
    if (PyList_Sort(names) == 0) {
        PyObject *sep = PyUnicode_FromString(", ");
        PyObject *joined = sep ? PyUnicode_Join(sep, names) : NULL;
        if (joined != NULL)
            PyErr_Format(PyExc_ValueError, "Invalid backend or flag: %R\n"
                         "Possible values: %U", name, joined);
        Py_XDECREF(joined);
        Py_XDECREF(sep);
    }
    Py_DECREF(names);
    return -1;
}

static int
flag_from_name(PyObject *item, unsigned int *out)
{
    PyObject *stripped;
    if (!PyUnicode_Check(item))
        return bad_flag(item);
    stripped = PyObject_CallMethod(item, "strip", NULL);
    if (stripped == NULL)
        return -1;
    for (const named_flag *f = flag_names; f->name; f++) {
        if (PyUnicode_CompareWithASCIIString(stripped, f->name) == 0) {
            *out |= f->value;
            Py_DECREF(stripped);
            return 0;
        }
    }
    Py_DECREF(stripped);
    return bad_flag(item);
}

int
gevc_flags_to_int(PyObject *flags, unsigned int *out)
{
    PyObject *seq = NULL;
    *out = 0;
    if (flags == NULL || flags == Py_None)
        return 0;
    if (PyLong_Check(flags)) {
        unsigned long v = PyLong_AsUnsignedLongMask(flags);
        if (v == (unsigned long)-1 && PyErr_Occurred())
            return -1;
        *out = (unsigned int)v;
        return 0;
    }
    if (PyUnicode_Check(flags)) {
        PyObject *sep = PyUnicode_FromString(",");
        if (sep == NULL)
            return -1;
        seq = PyUnicode_Split(flags, sep, -1);
        Py_DECREF(sep);
    }
    else {
        seq = PySequence_Fast(flags, "flags must be an int, a string or a "
                              "sequence of names");
    }
    if (seq == NULL)
        return -1;
    PyObject *fast = PySequence_Fast(seq, "flags");
    Py_DECREF(seq);
    if (fast == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
        if (flag_from_name(PySequence_Fast_GET_ITEM(fast, i), out) < 0) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

int
gevc_check_flags(unsigned int flags)
{
    flags &= EVBACKEND_MASK;
    if (!flags)
        return 0;
    if (!(flags & EVBACKEND_ALL)) {
        PyErr_Format(PyExc_ValueError, "Invalid value for backend: 0x%x", flags);
        return -1;
    }
    if (!(flags & ev_supported_backends())) {
        PyObject *names = gevc_flags_to_list(flags);
        if (names != NULL) {
            PyErr_Format(PyExc_ValueError, "Unsupported backend: %R", names);
            Py_DECREF(names);
        }
        return -1;
    }
    return 0;
}

static int
add_pairs(PyObject *mod, const char *name, const named_flag *table)
{
    PyObject *tup = PyList_New(0);
    if (tup == NULL)
        return -1;
    for (const named_flag *f = table; f->name; f++) {
        PyObject *pair = Py_BuildValue("(is)", (int)f->value, f->name);
        if (pair == NULL || PyList_Append(tup, pair) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(tup);
            return -1;
        }
        Py_DECREF(pair);
    }
    PyObject *t = PyList_AsTuple(tup);
    Py_DECREF(tup);
    if (t == NULL)
        return -1;
    int rc = PyModule_AddObjectRef(mod, name, t);
    Py_DECREF(t);
    return rc;
}

/* Module attributes _flags and _events: (value, name) pairs, as gevent's. */
int
gevc__add_flag_tables(PyObject *mod)
{
    if (add_pairs(mod, "_flags", flag_names) < 0 ||
        add_pairs(mod, "_events", event_names) < 0)
        return -1;
    return 0;
}
