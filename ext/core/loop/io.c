/* The `io` watcher: readiness of a file descriptor. */
#include "loop.h"

#include <fcntl.h>

#define IO_EVENT_MASK (EV__IOFDSET | EV_READ | EV_WRITE)

/* libev aborts on a closed fd deep inside the backend, so refuse it here. */
int
gevc_check_fd(int fd)
{
    if (fd < 0) {
        PyErr_Format(PyExc_ValueError, "fd must be non-negative: %d", fd);
        return -1;
    }
    if (fcntl(fd, F_GETFD) == -1) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

GEVC_TRAMPOLINE(io_cb, gevc_io, ev_io)

static void
io_start(struct ev_loop *ev, gevc_watcher *w)
{
    ev_io_start(ev, &((gevc_io *)w)->ev);
}

static void
io_stop(struct ev_loop *ev, gevc_watcher *w)
{
    ev_io_stop(ev, &((gevc_io *)w)->ev);
}

static int
fd_from(PyObject *obj, int *fd)
{
    long v;
    if (!PyLong_Check(obj)) {
        *fd = PyObject_AsFileDescriptor(obj);
        return *fd == -1 && PyErr_Occurred() ? -1 : gevc_check_fd(*fd);
    }
    v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "fd must be non-negative: %ld", v);
        return -1;
    }
    *fd = (int)v;
    return gevc_check_fd(*fd);
}

static int
events_from(PyObject *obj, int *events)
{
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v & ~(long)IO_EVENT_MASK || v < 0) {
        PyErr_Format(PyExc_ValueError, "illegal event mask: %ld", v);
        return -1;
    }
    *events = (int)v;
    return 0;
}

static int
io_init(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
        PyObject *kwnames)
{
    static const char *const names[] = {"loop", "fd", "events", "ref", "priority", NULL};
    PyObject *a[5];
    gevc_io *io = (gevc_io *)self;
    int fd, events;
    if (gevc__parse("io", args, nargs, kwnames, names, 5, 3, a) < 0 ||
        fd_from(a[1], &fd) < 0 || events_from(a[2], &events) < 0)
        return -1;
    ev_io_init(&io->ev, io_cb, fd, events);
    return gevc_watcher_setup(self, a[0], &gevc_io_kind, (ev_watcher *)&io->ev,
                              a[3], a[4]);
}

static PyObject *
io_repr_extra(gevc_watcher *self)
{
    gevc_io *io = (gevc_io *)self;
    PyObject *ev = gevc_events_to_str(io->ev.events & ~EV__IOFDSET), *res;
    if (ev == NULL)
        return NULL;
    res = PyUnicode_FromFormat(" fd=%d events=%U", io->ev.fd, ev);
    Py_DECREF(ev);
    return res;
}

const gevc_kind gevc_io_kind = {
    .name = "io", .init = io_init, .start = io_start, .stop = io_stop,
    .repr_extra = io_repr_extra, .stop_on_error = 1,
};

static PyObject *
io_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    return gevc_watcher_tp_new(tp, &gevc_io_kind, args, kwargs);
}

PyDoc_STRVAR(io_start_doc, "start(callback, *args, pass_events=False)\n\n"
"Call callback(*args) whenever fd is ready.  With pass_events=True the\n"
"events that fired (READ/WRITE bits) come first: callback(events, *args).");
/* everything but the short path of io_start_method, kept out of it so
 * that the short path needs no stack frame of its own */
static Py_NO_INLINE PyObject *
io_start_general(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
                 PyObject *kwnames)
{
    PyObject *prefix = NULL;
    if (kwnames != NULL) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t i = 0; i < nkw; i++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, i);
            int r;
            if (PyUnicode_CompareWithASCIIString(key, "pass_events") != 0) {
                PyErr_Format(PyExc_TypeError, "start() got an unexpected "
                             "keyword argument '%U'", key);
                return NULL;
            }
            if ((r = PyObject_IsTrue(args[nargs + i])) < 0)
                return NULL;
            if (r)
                prefix = self->loop->st->events;
        }
    }
    return gevc_watcher_start_common(self, args, nargs, prefix);
}

static PyObject *
io_start_method(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames)
{
    if (kwnames != NULL || nargs != 1 || !gevc__fast_start_ok(self, args[0]))
        return io_start_general(self, args, nargs, kwnames);
    gevc__fast_callback(self, args[0]);
    ev_io_start(self->loop->ev, &((gevc_io *)self)->ev);
    gevc__watcher_fast_started(self);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(io_stop_doc, "stop()\n\nStop watching fd and forget callback and args.");
/* the base type's stop() with ev_io_stop called directly (which does
 * nothing to a watcher neither active nor pending) */
static PyObject *
io_stop_method(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct ev_loop *ev = self->loop ? self->loop->ev : NULL;
    if (nargs != 0)
        return gevc__stop_args_error(self, nargs);
    if (ev != NULL) {
        if (self->flags & GEVC_W_EVUNREF)
            ev_ref(ev);
        ev_io_stop(ev, &((gevc_io *)self)->ev);
    }
    gevc__watcher_forget(self);
    Py_RETURN_NONE;
}

static int
check_inactive(gevc_watcher *self, const char *attr)
{
    if (ev_is_active(self->w)) {
        PyErr_Format(PyExc_AttributeError, "'io' watcher attribute '%s' is "
                     "read-only while watcher is active", attr);
        return -1;
    }
    return 0;
}

static PyObject *
get_fd(gevc_io *self, void *c)
{
    return PyLong_FromLong(self->ev.fd);
}

static int
set_fd(gevc_io *self, PyObject *value, void *c)
{
    int fd;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete fd");
        return -1;
    }
    /* converted first: fileno() may run code that starts the watcher */
    if (fd_from(value, &fd) < 0 || check_inactive(&self->base, "fd") < 0)
        return -1;
    ev_io_set(&self->ev, fd, self->ev.events & ~EV__IOFDSET);
    return 0;
}

static PyObject *
get_events(gevc_io *self, void *c)
{
    return PyLong_FromLong(self->ev.events);
}

static int
set_events(gevc_io *self, PyObject *value, void *c)
{
    int events;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete events");
        return -1;
    }
    if (events_from(value, &events) < 0 || check_inactive(&self->base, "events") < 0)
        return -1;
    ev_io_set(&self->ev, self->ev.fd, events);
    return 0;
}

static PyObject *
get_events_str(gevc_io *self, void *c)
{
    return gevc_events_to_str(self->ev.events);
}

static PyMethodDef io_methods[] = {
    {"start", (PyCFunction)(void (*)(void))io_start_method,
     METH_FASTCALL | METH_KEYWORDS, io_start_doc},
    {"stop", (PyCFunction)(void (*)(void))io_stop_method, METH_FASTCALL,
     io_stop_doc},
    {NULL},
};

static PyGetSetDef io_getset[] = {
    {"fd", (getter)get_fd, (setter)set_fd, "The file descriptor (settable while inactive).", NULL},
    {"events", (getter)get_events, (setter)set_events,
     "READ, WRITE or READWRITE (settable while inactive).", NULL},
    {"events_str", (getter)get_events_str, NULL, "events as 'READ|WRITE'.", NULL},
    {NULL},
};

PyDoc_STRVAR(io_doc, "io(loop, fd, events, ref=True, priority=None)\n\n"
"Watch fd for READ and/or WRITE readiness.  A negative fd or an illegal\n"
"event mask raises ValueError, an fd that is not open OSError(EBADF).\n"
"If the callback raises, the watcher is stopped so it cannot spin.");

static PyType_Slot io_slots[] = {
    {Py_tp_new, io_new},
    {Py_tp_traverse, gevc_watcher_traverse},
    {Py_tp_clear, gevc_watcher_clear},
    {Py_tp_dealloc, gevc_watcher_dealloc},
    {Py_tp_methods, io_methods},
    {Py_tp_getset, io_getset},
    {Py_tp_doc, (void *)io_doc},
    {0, NULL},
};

PyType_Spec gevc_io_spec = {
    .name = "gevent_c._core.io",
    .basicsize = sizeof(gevc_io),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = io_slots,
};
