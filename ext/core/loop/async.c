/* The `async_` watcher: a wake-up that any thread may send. */
#include "loop.h"

GEVC_TRAMPOLINE(async_cb, gevc_async, ev_async)

static void
async_start(struct ev_loop *ev, gevc_watcher *w)
{
    ev_async_start(ev, &((gevc_async *)w)->ev);
}

static void
async_stop(struct ev_loop *ev, gevc_watcher *w)
{
    ev_async_stop(ev, &((gevc_async *)w)->ev);
}

static int
async_init(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
           PyObject *kwnames)
{
    static const char *const names[] = {"loop", "ref", "priority", NULL};
    PyObject *a[3];
    gevc_async *as = (gevc_async *)self;
    if (gevc__parse("async_", args, nargs, kwnames, names, 3, 1, a) < 0)
        return -1;
    ev_async_init(&as->ev, async_cb);
    return gevc_watcher_setup(self, a[0], &gevc_async_kind,
                              (ev_watcher *)&as->ev, a[1], a[2]);
}

const gevc_kind gevc_async_kind = {
    .name = "async_", .init = async_init, .start = async_start,
    .stop = async_stop,
};

static PyObject *
async_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    return gevc_watcher_tp_new(tp, &gevc_async_kind, args, kwargs);
}

PyDoc_STRVAR(send_doc, "send()\n\nWake the loop and fire the watcher (thread-safe).");
static PyObject *
async_send(gevc_async *self, PyObject *unused)
{
    if (gevc_loop_check(self->base.loop) < 0)
        return NULL;
    ev_async_send(self->base.loop->ev, &self->ev);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(send_ignoring_arg_doc, "send_ignoring_arg(arg)\n\nsend(), usable as a one-argument callback.");
static PyObject *
async_send_ignoring_arg(gevc_async *self, PyObject *arg)
{
    return async_send(self, NULL);
}

static PyObject *
get_pending(gevc_async *self, void *c)
{
    return PyBool_FromLong(ev_async_pending(&self->ev));
}

static PyMethodDef async_methods[] = {
    {"send", (PyCFunction)async_send, METH_NOARGS, send_doc},
    {"send_ignoring_arg", (PyCFunction)async_send_ignoring_arg, METH_O,
     send_ignoring_arg_doc},
    {NULL},
};

static PyGetSetDef async_getset[] = {
    {"pending", (getter)get_pending, NULL, "True if send() was called and not yet delivered.", NULL},
    {NULL},
};

PyDoc_STRVAR(async_doc, "async_(loop, ref=True, priority=None)\n\n"
"Fire in the loop's thread after send() was called from any thread.");

static PyType_Slot async_slots[] = {
    {Py_tp_new, async_new},
    {Py_tp_traverse, gevc_watcher_traverse},
    {Py_tp_clear, gevc_watcher_clear},
    {Py_tp_dealloc, gevc_watcher_dealloc},
    {Py_tp_methods, async_methods},
    {Py_tp_getset, async_getset},
    {Py_tp_doc, (void *)async_doc},
    {0, NULL},
};

PyType_Spec gevc_async_spec = {
    .name = "gevent_c._core.async_",
    .basicsize = sizeof(gevc_async),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = async_slots,
};
