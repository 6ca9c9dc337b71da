/* The `signal` watcher.  libev installs its own handler for the signal
 * (replacing Python's) while a watcher is active and leaves SIG_DFL behind
 * when the last one stops; we restore what was there before, so e.g.
 * Ctrl-C raises KeyboardInterrupt again afterwards. */
#include "loop.h"

GEVC_TRAMPOLINE(signal_cb, gevc_signal, ev_signal)

static void
signal_start(struct ev_loop *ev, gevc_watcher *w)
{
    ev_signal *sw = &((gevc_signal *)w)->ev;
    gevc_loop_state *st = w->loop->st;
    if (ev_is_active(sw))
        return;
    if (st->sig_users[sw->signum]++ == 0) {
        sigaction(sw->signum, NULL, &st->sig_saved[sw->signum]);
        st->sig_loop[sw->signum] = ev;
    }
    ev_signal_start(ev, sw);
    {
        gevc_signal *s = (gevc_signal *)w;
        s->prev = NULL;
        s->next = w->loop->signals;
        if (s->next != NULL)
            s->next->prev = s;
        w->loop->signals = s;
    }
}

static void
signal_stop(struct ev_loop *ev, gevc_watcher *w)
{
    ev_signal *sw = &((gevc_signal *)w)->ev;
    gevc_loop_state *st = w->loop->st;
    int active = ev_is_active(sw);
    ev_signal_stop(ev, sw);
    if (active) {
        gevc_signal *s = (gevc_signal *)w;
        if (s->prev != NULL)
            s->prev->next = s->next;
        else
            w->loop->signals = s->next;
        if (s->next != NULL)
            s->next->prev = s->prev;
        s->prev = s->next = NULL;
    }
    if (active && --st->sig_users[sw->signum] == 0) {
        struct sigaction cur;
        if (sigaction(sw->signum, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL)
            sigaction(sw->signum, &st->sig_saved[sw->signum], NULL);
    }
}

static int
signal_init(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
            PyObject *kwnames)
{
    static const char *const names[] = {"loop", "signalnum", "ref", "priority", NULL};
    PyObject *a[4];
    gevc_signal *s = (gevc_signal *)self;
    long signum;
    if (gevc__parse("signal", args, nargs, kwnames, names, 4, 2, a) < 0)
        return -1;
    signum = PyLong_AsLong(a[1]);
    if (signum == -1 && PyErr_Occurred())
        return -1;
    if (signum < 1 || signum >= NSIG) {
        PyErr_Format(PyExc_ValueError, "illegal signal number: %R", a[1]);
        return -1;
    }
    ev_signal_init(&s->ev, signal_cb, (int)signum);
    return gevc_watcher_setup(self, a[0], &gevc_signal_kind,
                              (ev_watcher *)&s->ev, a[2], a[3]);
}

static PyObject *
signal_repr_extra(gevc_watcher *self)
{
    return PyUnicode_FromFormat(" signum=%d", ((gevc_signal *)self)->ev.signum);
}

PyDoc_STRVAR(signal_start_doc, "start(callback, *args)\n\n"
"Call callback(*args) each time the signal arrives.  libev attaches a\n"
"signal to one loop at a time: starting a watcher for a signal another\n"
"loop watches raises ValueError.");
static int
check_attach(gevc_watcher *self)
{
    ev_signal *sw = &((gevc_signal *)self)->ev;
    gevc_loop_state *st = self->loop->st;
    if (self->loop->ev != NULL && !ev_is_active(sw) &&
        st->sig_users[sw->signum] > 0 && st->sig_loop[sw->signum] != self->loop->ev) {
        PyErr_Format(PyExc_ValueError, "signal %d is already watched by "
                     "another loop", sw->signum);
        return -1;
    }
    return 0;
}

static PyObject *
signal_start_method(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (gevc_loop_check(self->loop) < 0 || check_attach(self) < 0)
        return NULL;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "start() needs a callback");
        return NULL;
    }
    /* releasing the old callback and args may run a __del__ that destroys
     * the loop or has another loop watch the signal: check again */
    if (gevc_watcher_set_callback(self, args[0], args + 1, nargs - 1, NULL) < 0 ||
        gevc_loop_check(self->loop) < 0 || check_attach(self) < 0)
        return NULL;
    gevc_watcher_activate(self);
    Py_RETURN_NONE;
}

static PyMethodDef signal_methods[] = {
    {"start", (PyCFunction)(void (*)(void))signal_start_method, METH_FASTCALL,
     signal_start_doc},
    {NULL},
};

const gevc_kind gevc_signal_kind = {
    .name = "signal", .init = signal_init, .start = signal_start,
    .stop = signal_stop, .repr_extra = signal_repr_extra,
};

static PyObject *
signal_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    return gevc_watcher_tp_new(tp, &gevc_signal_kind, args, kwargs);
}

static PyObject *
get_signum(gevc_signal *self, void *c)
{
    return PyLong_FromLong(self->ev.signum);
}

static PyGetSetDef signal_getset[] = {
    {"signum", (getter)get_signum, NULL, "The signal number.", NULL},
    {NULL},
};

PyDoc_STRVAR(signal_doc, "signal(loop, signalnum, ref=True, priority=None)\n\n"
"Fire when the process receives signalnum (1 <= signalnum < NSIG, else\n"
"ValueError).");

static PyType_Slot signal_slots[] = {
    {Py_tp_new, signal_new},
    {Py_tp_traverse, gevc_watcher_traverse},
    {Py_tp_clear, gevc_watcher_clear},
    {Py_tp_dealloc, gevc_watcher_dealloc},
    {Py_tp_getset, signal_getset},
    {Py_tp_methods, signal_methods},
    {Py_tp_doc, (void *)signal_doc},
    {0, NULL},
};

PyType_Spec gevc_signal_spec = {
    .name = "gevent_c._core.signal",
    .basicsize = sizeof(gevc_signal),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = signal_slots,
};
