/* TimeoutBase: the hot half of gevent_c.timeout.Timeout, an exception that
 * arms a loop timer which throws it (or another exception) into the
 * greenlet that started it.  Creation, start, cancel, close, `pending` and
 * the context-manager protocol run here; gevent_c/timeout.py subclasses it
 * with the rest (repr, str, start_new, with_timeout).
 *
 * The timer is created on the first start() (not in __init__ as gevent
 * does), on the hub's loop of the starting thread.  While it runs, the timer
 * holds the greenlet and the exception to throw; stopping it drops both, so
 * an idle Timeout keeps no cycle through its timer. */
#include "hub.h"

/* Python frames remembered at start(), for a message that says where the
 * timeout was set: the innermost few, since the caller may be gevent_c's
 * own code (Timeout.start_new, a blocking call's timeout=). */
#define SITES 4

typedef struct {
    PyBaseExceptionObject exc;
    gevc_hub_state *st;            /* set by __init__ (else looked up) */
    PyObject *seconds;             /* None: never expires (NULL, deleted: None) */
    PyObject *exception;           /* None: raise self; False: silent (NULL: None) */
    PyObject *timer;               /* NULL until started */
    int ref;
    PyObject *priority;
    PyObject *fired_in;            /* repr of the greenlet it expired in, or NULL */
    int nsites;
    PyObject *site_code[SITES];    /* code objects (never in cycles) */
    int site_offset[SITES];        /* byte offset of each one's instruction */
} timeout;

static void
clear_sites(timeout *self)
{
    for (int i = 0; i < self->nsites; i++)
        Py_CLEAR(self->site_code[i]);
    self->nsites = 0;
}

/* The instance's type keeps the module, and so this state, alive. */
static gevc_hub_state *
state_of(PyObject *self)
{
    gevc_hub_state *st = ((timeout *)self)->st;
    return st ? st : gevc_hub_state_from_type(Py_TYPE(self));
}

static int
is_our_timer(gevc_hub_state *st, PyObject *timer)
{
    return Py_IS_TYPE(timer, st->loop.timer_type);
}

/* ---- the timer -------------------------------------------------------- */

static int
timer_pending(gevc_hub_state *st, PyObject *timer)
{
    PyObject *v;
    int r;
    if (is_our_timer(st, timer)) {
        gevc_watcher *w = (gevc_watcher *)timer;
        return ev_is_active(w->w) || ev_is_pending(w->w) || (w->flags & GEVC_W_FIRED);
    }
    v = PyObject_GetAttrString(timer, "pending");
    r = v ? PyObject_IsTrue(v) : -1;
    Py_XDECREF(v);
    if (r != 0)
        return r;
    v = PyObject_GetAttrString(timer, "active");
    r = v ? PyObject_IsTrue(v) : -1;
    Py_XDECREF(v);
    return r;
}

static int
timer_stop(gevc_hub_state *st, PyObject *timer)
{
    PyObject *r;
    if (is_our_timer(st, timer)) {
        Py_INCREF(timer);          /* stopping drops the timer's own ref */
        gevc_watcher_stop((gevc_watcher *)timer);
        Py_DECREF(timer);
        return 0;
    }
    r = PyObject_CallMethodNoArgs(timer, st->str_stop);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static PyObject *
new_timer(timeout *self, gevc_hub_state *st)
{
    PyObject *hub = gevc_hub_get(st), *loop, *timer, *after;
    PyObject *priority = self->priority ? self->priority : Py_None;
    PyObject *ref = self->ref ? Py_True : Py_False;
    int falsy;
    if (hub == NULL || (loop = gevc_hub_loop(st, hub)) == NULL)
        return NULL;
    /* as gevent: a false seconds (0) fires at the next iteration */
    falsy = PyObject_Not(self->seconds);  /* start() checked it is set */
    if (falsy < 0) {
        Py_DECREF(loop);
        return NULL;
    }
    if (Py_IS_TYPE(loop, st->loop.loop_type)) {
        /* ours: the seconds as a double, as loop.timer() would convert them */
        PyObject *o = self->seconds;
        double seconds = falsy ? 0.0
            : PyFloat_CheckExact(o) ? PyFloat_AS_DOUBLE(o)
            : PyLong_CheckExact(o) ? PyLong_AsDouble(o)     /* no float made */
            : PyFloat_AsDouble(o);
        timer = seconds == -1.0 && PyErr_Occurred() ? NULL
            : gevc_timer_new((gevc_loop *)loop, seconds, 0.0, ref, priority);
        Py_DECREF(loop);
        return timer;
    }
    after = falsy ? PyFloat_FromDouble(0.0) : Py_NewRef(self->seconds);
    timer = after == NULL ? NULL
        : PyObject_CallMethod(loop, "timer", "OdOO", after, 0.0, ref, priority);
    Py_XDECREF(after);
    Py_DECREF(loop);
    return timer;
}

/* ---- methods ------------------------------------------------------------ */

static PyObject *
timeout_start(timeout *self, PyObject *unused)
{
    gevc_hub_state *st = state_of((PyObject *)self);
    PyObject *exc = self->exception ? self->exception : Py_None;
    PyObject *throws, *glet, *cb, *args[2];
    int pending, rc;

    if (st == NULL)
        return NULL;
    pending = self->timer ? timer_pending(st, self->timer) : 0;
    if (pending < 0)
        return NULL;
    if (pending) {
        PyErr_Format(PyExc_AssertionError,
                     "%R is already started; to restart it, cancel it first", self);
        return NULL;
    }
    if (self->seconds == NULL || self->seconds == Py_None)
        Py_RETURN_NONE;            /* never expires */
    if (self->timer == NULL && (self->timer = new_timer(self, st)) == NULL)
        return NULL;
    clear_sites(self);
    self->nsites = st->gapi->callers(self->site_code, self->site_offset, SITES);
    Py_CLEAR(self->fired_in);
    throws = exc == Py_None || exc == Py_False || PyUnicode_Check(exc)
        ? (PyObject *)self : exc;
    /* a subclass's _on_expiration is honoured; ours is the C function */
    if (_PyType_Lookup(Py_TYPE(self), st->str_on_expiration) == st->timeout_expire_descr)
        cb = Py_NewRef(st->timeout_expire);
    else if ((cb = PyObject_GetAttr((PyObject *)self, st->str_on_expiration)) == NULL)
        return NULL;
    if ((glet = st->gapi->getcurrent()) == NULL) {
        Py_DECREF(cb);
        return NULL;
    }
    args[0] = glet;
    args[1] = throws;
    if (is_our_timer(st, self->timer)) {
        gevc_watcher *w = (gevc_watcher *)self->timer;
        rc = gevc_loop_check(w->loop) < 0 ||
             gevc_watcher_set_callback(w, cb, args, 2, NULL) < 0 ||
             gevc_loop_check(w->loop) < 0 ? -1 : 0;
        if (rc == 0) {
            ev_now_update(w->loop->ev);
            gevc_watcher_activate(w);
        }
    }
    else {
        /* a loop stand-in's timer: start(cb, glet, throws, update=True), as
         * gevent asks, so the loop's clock is read when the timeout starts */
        PyObject *stack[5] = {self->timer, cb, glet, throws, Py_True};
        PyObject *kw = PyTuple_Pack(1, st->str_update), *r;
        r = kw == NULL ? NULL
            : PyObject_VectorcallMethod(st->str_start, stack,
                                        4 | PY_VECTORCALL_ARGUMENTS_OFFSET, kw);
        Py_XDECREF(kw);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    Py_DECREF(glet);
    Py_DECREF(cb);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(start_doc, "start()\n\n"
"Arm the timeout for the current greenlet.  AssertionError if it is armed\n"
"already; with seconds None it never expires and nothing is armed.");

PyDoc_STRVAR(cancel_doc, "cancel()\n\nDisarm the timeout; it can be started again.");
static PyObject *
timeout_cancel(timeout *self, PyObject *unused)
{
    gevc_hub_state *st = state_of((PyObject *)self);
    if (st == NULL || (self->timer != NULL && timer_stop(st, self->timer) < 0))
        return NULL;
    Py_RETURN_NONE;
}

/* Drop the timer, stopped; -1 with an error only if a foreign timer failed. */
static int
close_timer(timeout *self)
{
    gevc_hub_state *st;
    PyObject *timer = self->timer;
    int rc = 0;
    if (timer == NULL)
        return 0;
    if ((st = state_of((PyObject *)self)) == NULL)
        return -1;
    self->timer = NULL;
    if (st->str_stop == NULL) {
        /* the module was cleared (interpreter shutdown): just let go */
        Py_DECREF(timer);
        return 0;
    }
    if (!is_our_timer(st, timer)) {
        PyObject *r = PyObject_CallMethodNoArgs(timer, st->str_stop);
        if (r != NULL) {
            Py_DECREF(r);
            r = PyObject_CallMethodNoArgs(timer, st->str_close);
        }
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    else {
        gevc_watcher_stop((gevc_watcher *)timer);
        gevc_timer_recycle(timer);   /* our reference: its loop may keep it */
        return 0;
    }
    Py_DECREF(timer);
    return rc;
}

PyDoc_STRVAR(close_doc, "close()\n\nDisarm the timeout and release its timer.");
static PyObject *
timeout_close(timeout *self, PyObject *unused)
{
    if (close_timer(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(enter_doc, "__enter__()\n\nstart() unless armed already; return self.");
static PyObject *
timeout_enter(timeout *self, PyObject *unused)
{
    gevc_hub_state *st = state_of((PyObject *)self);
    int pending;
    if (st == NULL)
        return NULL;
    pending = self->timer ? timer_pending(st, self->timer) : 0;
    if (pending < 0)
        return NULL;
    if (!pending) {
        PyObject *r;
        /* a subclass's start() is honoured; ours is called directly */
        if (_PyType_Lookup(Py_TYPE(self), st->str_start) == st->timeout_start_descr)
            r = timeout_start(self, NULL);
        else
            r = PyObject_CallMethodNoArgs((PyObject *)self, st->str_start);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    return Py_NewRef(self);
}

PyDoc_STRVAR(exit_doc, "__exit__(typ, value, tb)\n\n"
"close(); swallow the exception only if it is this timeout and exception\n"
"is False.");
static PyObject *
timeout_exit(timeout *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__exit__ expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    if (close_timer(self) < 0)
        return NULL;
    if (args[1] == (PyObject *)self && self->exception == Py_False)
        Py_RETURN_TRUE;
    Py_RETURN_NONE;
}

/* A timeout about to be thrown into `glet` remembers whose deadline it
 * was, for its message (a repr, not the greenlet: no cycle through the
 * greenlet's frames).  Best effort: a failing repr leaves it unknown. */
static void
note_fired(gevc_hub_state *st, PyObject *glet, PyObject *thrown)
{
    PyObject *text;
    if (!PyObject_TypeCheck(thrown, st->timeout_type))
        return;
    text = st->gapi->is_main(glet) == 1
        ? PyUnicode_FromString("the main greenlet") : PyObject_Repr(glet);
    if (text == NULL)
        PyErr_Clear();
    Py_XSETREF(((timeout *)thrown)->fired_in, text);
}

PyDoc_STRVAR(on_expiration_doc, "_on_expiration(greenlet, exception)\n\n"
"Called by the timer: throw exception into greenlet.  Subclasses may\n"
"override it.");
static PyObject *
timeout_on_expiration(timeout *self, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_hub_state *st = state_of((PyObject *)self);
    if (st == NULL)
        return NULL;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_on_expiration expected 2 arguments, got %zd", nargs);
        return NULL;
    }
    note_fired(st, args[0], args[1]);
    return PyObject_CallMethodOneArg(args[0], st->str_throw, args[1]);
}

/* The timer's callback when _on_expiration is not overridden: the same,
 * without a bound method per start. */
static PyObject *
expire(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "expected 2 arguments, got %zd", nargs);
        return NULL;
    }
    note_fired(st, args[0], args[1]);
    return PyObject_CallMethodOneArg(args[0], st->str_throw, args[1]);
}

static PyMethodDef expire_def = {
    "_timeout_expire", (PyCFunction)(void (*)(void))expire, METH_FASTCALL,
    "_timeout_expire(greenlet, exception): throw exception into greenlet."};

/* ---- attributes ------------------------------------------------------- */

static PyObject *
get_pending(timeout *self, void *c)
{
    gevc_hub_state *st = state_of((PyObject *)self);
    int r;
    if (st == NULL)
        return NULL;
    r = self->timer ? timer_pending(st, self->timer) : 0;
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
get_timer(timeout *self, void *c)
{
    gevc_hub_state *st = state_of((PyObject *)self);
    if (st == NULL)
        return NULL;
    if (self->timer != NULL)
        return Py_NewRef(self->timer);
    return Py_NewRef(st->timeout_fake_timer ? st->timeout_fake_timer : Py_None);
}

static int
set_timer(timeout *self, PyObject *value, void *c)
{
    gevc_hub_state *st = state_of((PyObject *)self);
    if (st == NULL)
        return -1;
    if (value == NULL || value == Py_None || value == st->timeout_fake_timer)
        value = NULL;
    Py_XSETREF(self->timer, Py_XNewRef(value));
    return 0;
}

static PyObject *
get_set_at(timeout *self, void *c)
{
    PyObject *sites = PyTuple_New(self->nsites);
    for (int i = 0; sites != NULL && i < self->nsites; i++) {
        PyCodeObject *code = (PyCodeObject *)self->site_code[i];
        PyObject *site = Py_BuildValue("(OiO)", code->co_filename,
                                       PyCode_Addr2Line(code, self->site_offset[i]),
                                       code->co_name);
        if (site == NULL)
            Py_CLEAR(sites);
        else
            PyTuple_SET_ITEM(sites, i, site);
    }
    return sites;
}

static PyObject *
get_fired_in(timeout *self, void *c)
{
    return Py_NewRef(self->fired_in ? self->fired_in : Py_None);
}

static PyGetSetDef timeout_getset[] = {
    {"_set_at", (getter)get_set_at, NULL,
     "(filename, line, function) of the innermost Python frames when it was\n"
     "last started, innermost first.", NULL},
    {"_fired_in", (getter)get_fired_in, NULL,
     "repr() of the greenlet it last expired in, or None.", NULL},
    {"pending", (getter)get_pending, NULL,
     "True while the timeout is armed and has not fired.", NULL},
    {"timer", (getter)get_timer, (setter)set_timer,
     "The loop timer, or a stand-in that never fires before the first start().",
     NULL},
    {NULL},
};

static PyMemberDef timeout_members[] = {
    {"seconds", T_OBJECT, offsetof(timeout, seconds), 0,
     "Seconds until it expires; None never expires."},
    {"exception", T_OBJECT, offsetof(timeout, exception), 0,
     "None: raise this Timeout; False: exit a with block silently; else raised."},
    {"_ref", T_BOOL, offsetof(timeout, ref), READONLY, "False: the loop may exit while armed."},
    {"_priority", T_OBJECT, offsetof(timeout, priority), READONLY, "The timer's priority."},
    {NULL},
};

static PyMethodDef timeout_methods[] = {
    {"start", (PyCFunction)timeout_start, METH_NOARGS, start_doc},
    {"cancel", (PyCFunction)timeout_cancel, METH_NOARGS, cancel_doc},
    {"close", (PyCFunction)timeout_close, METH_NOARGS, close_doc},
    {"__enter__", (PyCFunction)timeout_enter, METH_NOARGS, enter_doc},
    {"__exit__", (PyCFunction)(void (*)(void))timeout_exit, METH_FASTCALL, exit_doc},
    {"_on_expiration", (PyCFunction)(void (*)(void))timeout_on_expiration,
     METH_FASTCALL, on_expiration_doc},
    {NULL, NULL, 0, NULL},
};

/* ---- the type ----------------------------------------------------------- */

static const char *const init_names[] = {"seconds", "exception", "ref", "priority", NULL};

/* __init__ with its arguments parsed: a[] as init_names, NULL when absent. */
static int
timeout_set_up(timeout *self, PyObject *const *a)
{
    int ref = gevc__as_bool(a[2], 1);
    if (ref < 0)
        return -1;
    self->st = state_of((PyObject *)self);
    if (self->st == NULL)
        return -1;
    /* as BaseException.__init__(self): no args of its own */
    Py_XSETREF(self->exc.args, PyTuple_New(0));
    if (self->exc.args == NULL || close_timer(self) < 0)
        return -1;
    Py_XSETREF(self->seconds, Py_NewRef(a[0] ? a[0] : Py_None));
    Py_XSETREF(self->exception, Py_NewRef(a[1] ? a[1] : Py_None));
    Py_XSETREF(self->priority, a[3] ? Py_NewRef(a[3])
               : self->st->minus_one ? Py_NewRef(self->st->minus_one)
               : PyLong_FromLong(-1));     /* (module cleared: shutdown) */
    self->ref = ref;
    return self->priority ? 0 : -1;
}

static int
timeout_init(timeout *self, PyObject *args, PyObject *kwargs)
{
    PyObject *a[4];
    if (gevc__parse_tuple("Timeout", args, kwargs, init_names, 4, 0, a) < 0)
        return -1;
    return timeout_set_up(self, a);
}

/* Calling the class (Timeout(1)): what type.__call__ does - BaseException's
 * __new__, then __init__ - without an argument tuple, for a class whose
 * __new__ and __init__ are still those.  Set on TimeoutBase and on
 * gevent_c.timeout.Timeout (tp_vectorcall is not inherited: other
 * subclasses are called the ordinary way). */
static PyObject *
timeout_vectorcall(PyObject *cls, PyObject *const *args, size_t nargsf,
                   PyObject *kwnames)
{
    PyTypeObject *tp = (PyTypeObject *)cls;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *a[4];
    timeout *self;

    if (tp->tp_new != ((PyTypeObject *)PyExc_BaseException)->tp_new ||
        tp->tp_init != (initproc)timeout_init) {
        /* __new__ or __init__ replaced since: the ordinary call */
        PyObject *tuple = PyTuple_New(nargs), *kwargs = NULL, *r = NULL;
        Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        if (tuple == NULL)
            return NULL;
        for (Py_ssize_t i = 0; i < nargs; i++)
            PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
        if (nkw && (kwargs = PyDict_New()) == NULL)
            goto done;
        for (Py_ssize_t k = 0; k < nkw; k++) {
            if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, k), args[nargs + k]) < 0)
                goto done;
        }
        r = PyType_Type.tp_call(cls, tuple, kwargs);
    done:
        Py_DECREF(tuple);
        Py_XDECREF(kwargs);
        return r;
    }
    if (gevc__parse("Timeout", args, nargs, kwnames, init_names, 4, 0, a) < 0)
        return NULL;
    /* BaseException.__new__ leaves everything but args zeroed */
    self = (timeout *)tp->tp_alloc(tp, 0);
    if (self == NULL)
        return NULL;
    if (timeout_set_up(self, a) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
timeout_traverse(timeout *self, visitproc visit, void *arg)
{
    Py_VISIT(self->seconds);
    Py_VISIT(self->exception);
    Py_VISIT(self->timer);
    Py_VISIT(self->priority);
    return ((PyTypeObject *)PyExc_BaseException)->tp_traverse((PyObject *)self, visit, arg);
}

static int
timeout_clear(timeout *self)
{
    Py_CLEAR(self->seconds);
    Py_CLEAR(self->exception);
    Py_CLEAR(self->priority);
    Py_CLEAR(self->fired_in);
    clear_sites(self);
    if (self->timer != NULL && close_timer(self) < 0)
        PyErr_WriteUnraisable((PyObject *)self);
    return ((PyTypeObject *)PyExc_BaseException)->tp_clear((PyObject *)self);
}

static void
timeout_dealloc(timeout *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    timeout_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(timeout_doc, "TimeoutBase(seconds=None, exception=None, ref=True, priority=-1)\n\n"
"The C base of gevent_c.timeout.Timeout: an exception that, once started,\n"
"is thrown into the starting greenlet after `seconds`.");

static PyType_Slot timeout_slots[] = {
    {Py_tp_doc, (void *)timeout_doc},
    {Py_tp_init, timeout_init},
    {Py_tp_traverse, timeout_traverse},
    {Py_tp_clear, timeout_clear},
    {Py_tp_dealloc, timeout_dealloc},
    {Py_tp_methods, timeout_methods},
    {Py_tp_members, timeout_members},
    {Py_tp_getset, timeout_getset},
    {0, NULL},
};

static PyType_Spec timeout_spec = {
    .name = "gevent_c._core.TimeoutBase",
    .basicsize = sizeof(timeout),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = timeout_slots,
};

PyDoc_STRVAR(setup_doc, "_timeout_setup(fake_timer, timeout_class)\n\n"
"fake_timer: the object TimeoutBase.timer shows before the first start().\n"
"timeout_class (a subclass of TimeoutBase) is then called without an\n"
"argument tuple.");
static PyObject *
timeout_setup(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_timeout_setup expected 2 arguments, got %zd", nargs);
        return NULL;
    }
    if (!PyType_Check(args[1]) ||
        !PyType_IsSubtype((PyTypeObject *)args[1], st->timeout_type)) {
        PyErr_Format(PyExc_TypeError, "_timeout_setup needs a TimeoutBase subclass, not %R",
                     args[1]);
        return NULL;
    }
    Py_XSETREF(st->timeout_fake_timer, Py_NewRef(args[0]));
    ((PyTypeObject *)args[1])->tp_vectorcall = timeout_vectorcall;
    Py_RETURN_NONE;
}

static PyMethodDef timeout_functions[] = {
    {"_timeout_setup", (PyCFunction)(void (*)(void))timeout_setup, METH_FASTCALL, setup_doc},
    {NULL, NULL, 0, NULL},
};

int
gevc__timeout_type_init(PyObject *mod, gevc_hub_state *st)
{
    if (gevc__add_type(mod, &st->timeout_type, &timeout_spec, PyExc_BaseException,
                       "TimeoutBase") < 0 ||
        (st->timeout_type->tp_vectorcall = timeout_vectorcall, 0) ||
        PyModule_AddFunctions(mod, timeout_functions) < 0 ||
        (st->str_on_expiration = PyUnicode_InternFromString("_on_expiration")) == NULL ||
        (st->timeout_expire = PyCFunction_New(&expire_def, mod)) == NULL)
        return -1;
    /* borrowed: the type's dict keeps it; compared by identity */
    st->timeout_expire_descr = PyDict_GetItem(st->timeout_type->tp_dict,
                                              st->str_on_expiration);
    st->timeout_start_descr = PyDict_GetItem(st->timeout_type->tp_dict, st->str_start);
    if (st->timeout_expire_descr == NULL || st->timeout_start_descr == NULL) {
        PyErr_SetString(PyExc_SystemError, "TimeoutBase lacks _on_expiration or start");
        return -1;
    }
    return 0;
}
