/* The `child` watcher: status changes of a child process (default loop),
 * and the process-wide SIGCHLD disposition child watchers need. */
#include "loop.h"

GEVC_TRAMPOLINE(child_cb, gevc_child, ev_child)

static void
child_start(struct ev_loop *ev, gevc_watcher *w)
{
    ev_child_start(ev, &((gevc_child *)w)->ev);
}

static void
child_stop(struct ev_loop *ev, gevc_watcher *w)
{
    ev_child_stop(ev, &((gevc_child *)w)->ev);
}

static int
child_init(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
           PyObject *kwnames)
{
    static const char *const names[] = {"loop", "pid", "trace", "ref", NULL};
    PyObject *a[4];
    gevc_child *ch = (gevc_child *)self;
    gevc_loop_state *st = gevc_loop_state_from_type(Py_TYPE(self));
    long pid, trace = 0;
    if (st == NULL ||
        gevc__parse("child", args, nargs, kwnames, names, 4, 2, a) < 0)
        return -1;
    if (!PyObject_TypeCheck(a[0], st->loop_type)) {
        PyErr_Format(PyExc_TypeError, "child() needs a loop, not %R", a[0]);
        return -1;
    }
    if (gevc_loop_check((gevc_loop *)a[0]) < 0)
        return -1;
    if (!((gevc_loop *)a[0])->is_default) {
        PyErr_SetString(PyExc_TypeError,
                        "child watchers are only available on the default loop");
        return -1;
    }
    pid = PyLong_AsLong(a[1]);
    if (pid == -1 && PyErr_Occurred())
        return -1;
    if (a[2] != NULL) {
        trace = PyLong_AsLong(a[2]);
        if (trace == -1 && PyErr_Occurred())
            return -1;
    }
    /* libev's pid is an int: do not watch some other pid truncated */
    if (pid < INT_MIN || pid > INT_MAX || trace < INT_MIN || trace > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "child pid or trace out of range "
                        "of a C int");
        return -1;
    }
    gevc_install_sigchld(st);
    ev_child_init(&ch->ev, child_cb, (int)pid, (int)trace);
    return gevc_watcher_setup(self, a[0], &gevc_child_kind,
                              (ev_watcher *)&ch->ev, a[3], NULL);
}

static PyObject *
child_repr_extra(gevc_watcher *self)
{
    gevc_child *ch = (gevc_child *)self;
    return PyUnicode_FromFormat(" pid=%d rstatus=%d", ch->ev.pid, ch->ev.rstatus);
}

const gevc_kind gevc_child_kind = {
    .name = "child", .init = child_init, .start = child_start,
    .stop = child_stop, .repr_extra = child_repr_extra,
};

static PyObject *
child_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    return gevc_watcher_tp_new(tp, &gevc_child_kind, args, kwargs);
}

static PyObject *
get_pid(gevc_child *self, void *c)
{
    return PyLong_FromLong(self->ev.pid);
}

static PyObject *
get_rpid(gevc_child *self, void *c)
{
    return PyLong_FromLong(self->ev.rpid);
}

static int
set_int(int *field, PyObject *value)
{
    long v;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    v = PyLong_AsLong(value);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < INT_MIN || v > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "value out of range of a C int");
        return -1;
    }
    *field = (int)v;
    return 0;
}

static int
set_rpid(gevc_child *self, PyObject *value, void *c)
{
    return set_int(&self->ev.rpid, value);
}

static PyObject *
get_rstatus(gevc_child *self, void *c)
{
    return PyLong_FromLong(self->ev.rstatus);
}

static int
set_rstatus(gevc_child *self, PyObject *value, void *c)
{
    return set_int(&self->ev.rstatus, value);
}

static PyGetSetDef child_getset[] = {
    {"pid", (getter)get_pid, NULL, "The pid watched (0: any child).", NULL},
    {"rpid", (getter)get_rpid, (setter)set_rpid, "The pid that changed status.", NULL},
    {"rstatus", (getter)get_rstatus, (setter)set_rstatus,
     "Its status, as from waitpid (os.waitstatus_to_exitcode decodes it).", NULL},
    {NULL},
};

PyDoc_STRVAR(child_doc, "child(loop, pid, trace=0, ref=True)\n\n"
"Fire when child `pid` (0: any) exits (or stops/continues with trace=1).\n"
"Only the default loop may own child watchers (TypeError otherwise).");

static PyType_Slot child_slots[] = {
    {Py_tp_new, child_new},
    {Py_tp_traverse, gevc_watcher_traverse},
    {Py_tp_clear, gevc_watcher_clear},
    {Py_tp_dealloc, gevc_watcher_dealloc},
    {Py_tp_getset, child_getset},
    {Py_tp_doc, (void *)child_doc},
    {0, NULL},
};

PyType_Spec gevc_child_spec = {
    .name = "gevent_c._core.child",
    .basicsize = sizeof(gevc_child),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = child_slots,
};

/* SIGCHLD is process-wide: its disposition is recorded in module state. */

void
gevc_install_sigchld(gevc_loop_state *st)
{
    if (st->sigchld_state == 1) {
        sigaction(SIGCHLD, &st->sigchld_libev, NULL);
        st->sigchld_state = 2;
        /* a child that exited before this was not seen: make libev reap */
        ev_feed_signal(SIGCHLD);
    }
}

void
gevc_reset_sigchld(gevc_loop_state *st)
{
    if (st->sigchld_state == 2) {
        sigaction(SIGCHLD, &st->sigchld_saved, NULL);
        st->sigchld_state = 1;
    }
}
