/* Waiter: the one-shot hand-off between the hub and one blocked greenlet,
 * and the hub switch every blocking call ends in.  Same slots, methods and
 * rules as the Python Waiter in gevent_c/hub.py, which it replaces.
 * Switches go through the _greenlet capsule: no attribute lookups on the
 * paths that run once per blocking call. */
#include "hub.h"

/* gevent_c.exceptions.<name>: imported on first use, because gevent_c's
 * package import itself imports _core. */
PyObject *
gevc__exception(gevc_hub_state *st, const char *name)
{
    if (st->exceptions == NULL) {
        st->exceptions = PyImport_ImportModule("gevent_c.exceptions");
        if (st->exceptions == NULL)
            return NULL;
    }
    return PyObject_GetAttrString(st->exceptions, name);
}

static void
raise_named(gevc_hub_state *st, const char *name, PyObject *msg)
{
    PyObject *tp;
    if (msg == NULL)
        return;
    tp = gevc__exception(st, name);
    if (tp != NULL)
        PyErr_SetObject(tp, msg);
    Py_XDECREF(tp);
    Py_DECREF(msg);
}

static PyObject *
switch_to_hub(gevc_hub_state *st, PyObject *hub)
{
    /* Hub derives from greenlet directly: no walk of the MRO for it */
    if (Py_TYPE(hub)->tp_base != st->gapi->type && !GEVC_GREENLET_CHECK(st->gapi, hub)) {
        PyErr_Format(PyExc_TypeError, "the hub must be a greenlet, not %R", hub);
        return NULL;
    }
    return st->gapi->switch_to(hub, NULL, NULL);
}

/* gevc_hub_switch from cur, the current greenlet */
static PyObject *
hub_switch_from(gevc_hub_state *st, PyObject *hub, PyObject *cur)
{
    PyObject *switch_out;
    if (cur == hub) {
        raise_named(st, "BlockingSwitchOutError", PyUnicode_FromString(
            "Impossible to call blocking function in the event loop callback"));
        return NULL;
    }
    /* gevent's hook; a class attribute in practice, so the type's cached
     * lookup answers without touching the instance */
    switch_out = _PyType_Lookup(Py_TYPE(cur), st->str_switch_out);
    if (switch_out != NULL) {
        /* the hook may drop what holds hub (a waiter's hub attribute) */
        PyObject *res;
        Py_INCREF(hub);
        res = PyObject_CallMethodNoArgs(cur, st->str_switch_out);
        if (res == NULL) {
            Py_DECREF(hub);
            return NULL;
        }
        Py_DECREF(res);
        res = switch_to_hub(st, hub);
        Py_DECREF(hub);
        return res;
    }
    return switch_to_hub(st, hub);
}

PyObject *
gevc_hub_switch(gevc_hub_state *st, PyObject *hub)
{
    PyObject *cur = st->gapi->getcurrent_borrowed();
    if (cur == NULL)
        return NULL;
    return hub_switch_from(st, hub, cur);
}

/* The switch or throw into the woken greenlet failed in the hub: report it
 * as gevent does, with the bound method as context.  hub is the waiter's,
 * taken before the switch: the waiter itself may serve another wait by now
 * (see the pool below). */
static int
report_error(gevc_hub_state *st, PyObject *hub, PyObject *glet, PyObject *name)
{
    PyObject *exc = gevc__exc_take(), *ctx, *tb, *res;
    if (exc == NULL)
        return 0;
    if (hub == NULL || hub == Py_None) {
        gevc__exc_raise(exc);
        return -1;
    }
    ctx = PyObject_GetAttr(glet, name);
    if (ctx == NULL) {
        PyErr_Clear();
        ctx = Py_NewRef(glet);
    }
    tb = PyException_GetTraceback(exc);
    res = PyObject_CallMethodObjArgs(hub, st->str_handle_error, ctx,
                                     (PyObject *)Py_TYPE(exc), exc,
                                     tb ? tb : Py_None, NULL);
    Py_XDECREF(tb);
    Py_DECREF(ctx);
    Py_DECREF(exc);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

/* 0: deliver to the blocked greenlet; -1: error set.  Only the hub may wake
 * a greenlet blocked in get(). */
static int
check_from_hub(gevc_waiter *self, const char *method)
{
    PyObject *cur = self->st->gapi->getcurrent_borrowed();
    if (cur == NULL)
        return -1;
    if (cur != self->hub) {
        PyErr_Format(PyExc_AssertionError,
                     "Can only use Waiter.%s method from the Hub greenlet", method);
        return -1;
    }
    return 0;
}

/* (value,) for a switch, new reference: the tuple of the last switch if
 * nothing but the state holds it any more (a switch lets go of its
 * arguments once the target has them), else a new one. */
static PyObject *
switch_args_take(gevc_hub_state *st, PyObject *value)
{
    PyObject *t = st->switch_args, *old;
    if (t != NULL) {
        st->switch_args = NULL;
        if (Py_REFCNT(t) == 1) {
            old = PyTuple_GET_ITEM(t, 0);
            PyTuple_SET_ITEM(t, 0, Py_NewRef(value));
            Py_DECREF(old);        /* None */
            if (!PyObject_GC_IsTracked(t))
                PyObject_GC_Track(t);   /* a collection may have untracked (None,) */
            return t;
        }
        Py_DECREF(t);
    }
    t = PyTuple_New(1);
    if (t != NULL)
        PyTuple_SET_ITEM(t, 0, Py_NewRef(value));
    return t;
}

static void
switch_args_give(gevc_hub_state *st, PyObject *t)
{
    if (st->switch_args == NULL && Py_REFCNT(t) == 1) {
        PyObject *value = PyTuple_GET_ITEM(t, 0);
        PyTuple_SET_ITEM(t, 0, Py_NewRef(Py_None));
        st->switch_args = t;
        Py_DECREF(value);
        return;
    }
    Py_DECREF(t);
}

PyObject *
gevc_waiter_switch(gevc_waiter *self, PyObject *value)
{
    gevc_hub_state *st = self->st;
    PyObject *glet = self->greenlet, *hub, *args, *res;
    int rc = 0;
    if (glet == NULL) {
        Py_XSETREF(self->value, Py_NewRef(value));
        Py_XSETREF(self->exc, Py_NewRef(Py_None));
        Py_RETURN_NONE;
    }
    if (check_from_hub(self, "switch") < 0)
        return NULL;
    args = switch_args_take(st, value);
    if (args == NULL)
        return NULL;
    Py_INCREF(glet);
    hub = Py_XNewRef(self->hub);
    /* from here on only locals: once the greenlet runs, self may be reset
     * for its next wait */
    res = st->gapi->switch_to(glet, args, NULL);
    switch_args_give(st, args);
    if (res == NULL)
        rc = report_error(st, hub, glet, st->str_switch);
    Py_XDECREF(res);
    Py_XDECREF(hub);
    Py_DECREF(glet);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
deliver_exc(gevc_waiter *self, PyObject *throw_args)
{
    gevc_hub_state *st = self->st;
    PyObject *glet = self->greenlet, *hub, *meth, *res;
    int rc = 0;
    if (glet == NULL) {
        Py_XSETREF(self->exc, Py_NewRef(throw_args));
        Py_RETURN_NONE;
    }
    if (check_from_hub(self, "throw") < 0)
        return NULL;
    Py_INCREF(glet);
    hub = Py_XNewRef(self->hub);
    meth = PyObject_GetAttr(glet, st->str_throw);
    res = meth ? PyObject_Call(meth, throw_args, NULL) : NULL;
    Py_XDECREF(meth);
    if (res == NULL)
        rc = report_error(st, hub, glet, st->str_throw);
    Py_XDECREF(res);
    Py_XDECREF(hub);
    Py_DECREF(glet);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

gevc_waiter *
gevc_waiter_new(gevc_hub_state *st, PyObject *hub)
{
    gevc_waiter *self;
    if (st->waiter_free_len > 0) {
        /* memory of a freed Waiter (see waiter_dealloc); PyObject_Init
         * makes it one again, with its type reference */
        self = st->waiter_free[--st->waiter_free_len];
        st->waiter_free[st->waiter_free_len] = NULL;
        (void)PyObject_Init((PyObject *)self, st->waiter_type);
    }
    else {
        /* PyObject_GC_New takes the reference to the heap type that
         * waiter_dealloc drops */
        self = PyObject_GC_New(gevc_waiter, st->waiter_type);
        if (self == NULL)
            return NULL;
    }
    self->st = st;
    self->hub = Py_NewRef(hub);
    self->greenlet = NULL;
    self->value = Py_NewRef(Py_None);
    self->exc = NULL;
    self->target = NULL;
    self->method = NULL;
    self->blocked_prev = self->blocked_next = NULL;
    self->lent = 0;
    PyObject_GC_Track(self);
    return self;
}

PyObject *
gevc_waiter_get(gevc_waiter *self)
{
    PyObject *res;
    if (self->exc != NULL) {
        PyObject *cur, *meth;
        if (self->exc == Py_None)
            return Py_NewRef(self->value ? self->value : Py_None);
        cur = self->st->gapi->getcurrent_borrowed();
        if (cur == NULL)
            return NULL;
        meth = PyObject_GetAttr(cur, self->st->str_throw);
        if (meth == NULL)
            return NULL;
        res = PyObject_Call(meth, self->exc, NULL);
        Py_DECREF(meth);
        if (res == NULL)
            return NULL;
        Py_DECREF(res);
        Py_RETURN_NONE;
    }
    if (self->greenlet != NULL) {
        raise_named(self->st, "ConcurrentObjectUseError", PyUnicode_FromFormat(
            "This Waiter is already used by %R", self->greenlet));
        return NULL;
    }
    if (self->hub == NULL || self->hub == Py_None) {
        PyErr_SetString(PyExc_TypeError, "Waiter.get() needs a hub");
        return NULL;
    }
    self->greenlet = self->st->gapi->getcurrent();
    if (self->greenlet == NULL)
        return NULL;
    /* the hub may drop its last reference to us while we are switched out */
    Py_INCREF(self);
    if (self->target != NULL) {
        gevc_waiter **head = gevc__blocked_head(self->st);
        if (head == NULL) {
            Py_CLEAR(self->greenlet);
            Py_DECREF(self);
            return NULL;
        }
        self->blocked_prev = NULL;
        self->blocked_next = *head;
        if (*head != NULL)
            (*head)->blocked_prev = self;
        *head = self;
        /* resumed in this thread, whose record (and so head) still lives */
        res = hub_switch_from(self->st, self->hub, self->greenlet);
        if (self->blocked_prev != NULL)
            self->blocked_prev->blocked_next = self->blocked_next;
        else if (*head == self)
            *head = self->blocked_next;
        if (self->blocked_next != NULL)
            self->blocked_next->blocked_prev = self->blocked_prev;
        self->blocked_prev = self->blocked_next = NULL;
    }
    else
        res = hub_switch_from(self->st, self->hub, self->greenlet);
    Py_CLEAR(self->greenlet);
    Py_DECREF(self);
    return res;
}

/* ---- the type ---------------------------------------------------------- */

static PyObject *
waiter_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    gevc_hub_state *st;
    gevc_waiter *self = (gevc_waiter *)gevc__hub_alloc(tp, &st);
    if (self == NULL)
        return NULL;
    self->st = st;
    self->value = Py_NewRef(Py_None);
    return (PyObject *)self;
}

static int
waiter_init(gevc_waiter *self, PyObject *args, PyObject *kwargs)
{
    PyObject *hub;
    if (gevc__hub_arg("Waiter", args, kwargs, &hub) < 0)
        return -1;
    if (hub == NULL) {
        hub = gevc_hub_get(self->st);
        if (hub == NULL)
            return -1;
    }
    Py_XSETREF(self->hub, Py_NewRef(hub));
    Py_CLEAR(self->greenlet);
    Py_XSETREF(self->value, Py_NewRef(Py_None));
    Py_CLEAR(self->exc);
    Py_CLEAR(self->target);
    return 0;
}

static int
waiter_traverse(gevc_waiter *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->hub);
    Py_VISIT(self->greenlet);
    Py_VISIT(self->value);
    Py_VISIT(self->exc);
    Py_VISIT(self->target);
    return 0;
}

static int
waiter_clear(gevc_waiter *self)
{
    Py_CLEAR(self->hub);
    Py_CLEAR(self->greenlet);
    Py_CLEAR(self->value);
    Py_CLEAR(self->exc);
    Py_CLEAR(self->target);
    return 0;
}

static void
waiter_dealloc(gevc_waiter *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    gevc_hub_state *st = self->st;
    PyObject_GC_UnTrack(self);
    waiter_clear(self);
    /* a plain Waiter's memory is kept for gevc_waiter_new (a few; none
     * once the module is cleared, which frees them) */
    if (st != NULL && tp == st->waiter_type && st->waiter_free_len < GEVC_WAITER_POOL)
        st->waiter_free[st->waiter_free_len++] = self;
    else
        tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(switch_doc, "switch(value)\n\n"
"Deliver value: wake the greenlet blocked in get() (only from the hub), or\n"
"keep it for the next get().");
static PyObject *
waiter_switch(gevc_waiter *self, PyObject *value)
{
    return gevc_waiter_switch(self, value);
}

/* fn(self, args as one tuple) */
static PyObject *
with_args_tuple(gevc_waiter *self, PyObject *const *args, Py_ssize_t nargs,
                PyObject *(*fn)(gevc_waiter *, PyObject *))
{
    PyObject *t = gevc__tuple_from_array(args, nargs), *res;
    if (t == NULL)
        return NULL;
    res = fn(self, t);
    Py_DECREF(t);
    return res;
}

PyDoc_STRVAR(switch_args_doc, "switch_args(*args)\n\nswitch(args).");
static PyObject *
waiter_switch_args(gevc_waiter *self, PyObject *const *args, Py_ssize_t nargs)
{
    return with_args_tuple(self, args, nargs, gevc_waiter_switch);
}

PyDoc_STRVAR(throw_doc, "throw(*exc)\n\n"
"Deliver an exception: raise it in the greenlet blocked in get() (only from\n"
"the hub), or keep it for the next get().  Arguments as greenlet.throw.");
static PyObject *
waiter_throw(gevc_waiter *self, PyObject *const *args, Py_ssize_t nargs)
{
    return with_args_tuple(self, args, nargs, deliver_exc);
}

PyDoc_STRVAR(get_doc, "get()\n\n"
"Block (switch to the hub) until a value or exception is delivered; return\n"
"or raise it.  If one was delivered already, return or raise at once.");
static PyObject *
waiter_get(gevc_waiter *self, PyObject *unused)
{
    return gevc_waiter_get(self);
}

PyDoc_STRVAR(clear_doc, "clear()\n\nForget the delivered value or exception.");
static PyObject *
waiter_clear_method(gevc_waiter *self, PyObject *unused)
{
    Py_CLEAR(self->greenlet);
    Py_XSETREF(self->value, Py_NewRef(Py_None));
    Py_CLEAR(self->exc);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(ready_doc, "ready()\n\nTrue once a value or an exception was delivered.");
static PyObject *
waiter_ready(gevc_waiter *self, PyObject *unused)
{
    return PyBool_FromLong(self->exc != NULL);
}

PyDoc_STRVAR(successful_doc, "successful()\n\nTrue if a value (not an exception) was delivered.");
static PyObject *
waiter_successful(gevc_waiter *self, PyObject *unused)
{
    return PyBool_FromLong(self->exc == Py_None);
}

static PyObject *
waiter_call(gevc_waiter *self, PyObject *args, PyObject *kwargs)
{
    PyObject *source, *exc, *res;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "Waiter() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "Waiter", 1, 1, &source))
        return NULL;
    exc = PyObject_GetAttrString(source, "exception");
    if (exc == NULL)
        return NULL;
    if (exc == Py_None) {
        PyObject *value = PyObject_GetAttrString(source, "value");
        Py_DECREF(exc);
        if (value == NULL)
            return NULL;
        res = gevc_waiter_switch(self, value);
        Py_DECREF(value);
        return res;
    }
    args = PyTuple_Pack(1, exc);
    Py_DECREF(exc);
    if (args == NULL)
        return NULL;
    res = deliver_exc(self, args);
    Py_DECREF(args);
    return res;
}

/* repr: "<Waiter at 0x.. greenlet=<repr> value=..>"; str, gevent's:
 * "<Waiter greenlet=<str> value=..>" */
static PyObject *
waiter_format(gevc_waiter *self, int with_address)
{
    PyObject *glet = self->greenlet ? self->greenlet : Py_None, *state, *res;
    if (self->exc == NULL)
        state = PyUnicode_FromString("");
    else if (self->exc == Py_None)
        state = PyUnicode_FromFormat(" value=%R", self->value ? self->value : Py_None);
    else
        state = PyUnicode_FromFormat(" exc_info=%R", self->exc);
    if (state == NULL)
        return NULL;
    if (with_address)
        res = PyUnicode_FromFormat("<%s at %p greenlet=%R%U>", _PyType_Name(Py_TYPE(self)),
                                   self, glet, state);
    else
        res = PyUnicode_FromFormat("<%s greenlet=%S%U>", _PyType_Name(Py_TYPE(self)),
                                   glet, state);
    Py_DECREF(state);
    return res;
}

static PyObject *
waiter_repr(gevc_waiter *self)
{
    return waiter_format(self, 1);
}

static PyObject *
waiter_str(gevc_waiter *self)
{
    return waiter_format(self, 0);
}

static PyObject *
get_exception(gevc_waiter *self, void *c)
{
    return Py_NewRef(self->exc ? self->exc : self->st->waiter_unset);
}

static int
set_exception(gevc_waiter *self, PyObject *value, void *c)
{
    if (value == NULL || value == self->st->waiter_unset) {
        Py_CLEAR(self->exc);
        return 0;
    }
    if (value != Py_None && !PyTuple_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "_exception must be None or a tuple");
        return -1;
    }
    Py_XSETREF(self->exc, Py_NewRef(value));
    return 0;
}

static PyObject *
get_exc_info(gevc_waiter *self, void *c)
{
    return Py_NewRef(self->exc ? self->exc : Py_None);
}

static PyMethodDef waiter_methods[] = {
    {"switch", (PyCFunction)waiter_switch, METH_O, switch_doc},
    {"switch_args", (PyCFunction)(void (*)(void))waiter_switch_args, METH_FASTCALL,
     switch_args_doc},
    {"throw", (PyCFunction)(void (*)(void))waiter_throw, METH_FASTCALL, throw_doc},
    {"get", (PyCFunction)waiter_get, METH_NOARGS, get_doc},
    {"clear", (PyCFunction)waiter_clear_method, METH_NOARGS, clear_doc},
    {"ready", (PyCFunction)waiter_ready, METH_NOARGS, ready_doc},
    {"successful", (PyCFunction)waiter_successful, METH_NOARGS, successful_doc},
    {NULL},
};

PyObject *
gevc_waiter_bound_switch(gevc_waiter *self)
{
    /* what getattr(self, "switch") makes, without the lookup; right for
     * gevc_waiter_new's waiters, which are exactly Waiter */
    return PyCFunction_New(&waiter_methods[0], (PyObject *)self);
}

gevc_waiter *
gevc_waiter_of_switch(PyObject *link)
{
    /* what gevc_waiter_bound_switch and getattr(waiter, "switch") make */
    if (Py_IS_TYPE(link, &PyCFunction_Type) &&
        PyCFunction_GET_FUNCTION(link) == (PyCFunction)waiter_switch)
        return (gevc_waiter *)PyCFunction_GET_SELF(link);
    return NULL;
}

/* ---- the pool of waiters ------------------------------------------------
 * A blocking wait of a C primitive needs a Waiter and its bound switch (the
 * link).  The pair is kept when the wait ends if nothing else references
 * either (so no user code can see it again), reset, and handed to a later
 * wait.  An entry may still be lent to a notifier that woke its greenlet
 * and has not dropped its reference yet: it is taken only once that one is
 * gone.  The GIL guards the pool; entries hold no hub, greenlet, value or
 * target. */

/* Nothing but the pool holds the pair, and it is as give() left it (code
 * that found it through gc may have switched it, set its fields or taken a
 * weak reference to the link while it sat there). */
static int
pooled_pristine(PyObject *m, gevc_waiter *w)
{
    return w->hub == NULL && w->greenlet == NULL && w->exc == NULL &&
           w->target == NULL && w->value == Py_None &&
           w->blocked_prev == NULL && w->blocked_next == NULL &&
           ((PyCFunctionObject *)m)->m_weakreflist == NULL;
}

gevc_waiter *
gevc_waiter_take(gevc_hub_state *st, PyObject *hub, PyObject **sw)
{
    gevc_waiter *w;
    for (int i = st->waiter_pool_len - 1; i >= 0; i--) {
        PyObject *m = st->waiter_pool[i];
        w = (gevc_waiter *)PyCFunction_GET_SELF(m);
        if (Py_REFCNT(m) != 1 || Py_REFCNT(w) != 1)
            continue;              /* still lent to a notifier */
        st->waiter_pool[i] = st->waiter_pool[--st->waiter_pool_len];
        st->waiter_pool[st->waiter_pool_len] = NULL;
        if (!pooled_pristine(m, w)) {
            /* touched while pooled: dropped (which may run code that uses
             * the pool, so the scan starts again) */
            Py_DECREF(m);
            i = st->waiter_pool_len;
            continue;
        }
        w->hub = Py_NewRef(hub);
        *sw = m;
        return (gevc_waiter *)Py_NewRef((PyObject *)w);
    }
    w = gevc_waiter_new(st, hub);
    if (w == NULL)
        return NULL;
    *sw = gevc_waiter_bound_switch(w);
    if (*sw == NULL) {
        Py_DECREF(w);
        return NULL;
    }
    return w;
}

void
gevc_waiter_give(gevc_hub_state *st, gevc_waiter *w, PyObject *sw)
{
    /* ours (w and sw), sw's own on w, and those lent to notifiers */
    if (Py_REFCNT(w) == 2 && Py_REFCNT(sw) == 1 + w->lent &&
        st->waiter_pool_len < GEVC_WAITER_POOL && Py_IS_TYPE(w, st->waiter_type) &&
        Py_IS_TYPE(sw, &PyCFunction_Type) && PyCFunction_GET_SELF(sw) == (PyObject *)w &&
        w->greenlet == NULL && w->blocked_prev == NULL && w->blocked_next == NULL) {
        PyObject *hub = w->hub, *target = w->target, *value = w->value, *exc = w->exc;
        w->hub = w->target = w->exc = NULL;
        w->value = Py_NewRef(Py_None);
        w->method = NULL;
        Py_DECREF(w);              /* sw keeps it */
        /* dropping these may run code that uses the pool: reset first */
        Py_XDECREF(hub);
        Py_XDECREF(target);
        Py_XDECREF(value);
        Py_XDECREF(exc);
        if (st->waiter_pool_len < GEVC_WAITER_POOL && Py_REFCNT(sw) == 1 + w->lent &&
            Py_REFCNT(w) == 1 && pooled_pristine(sw, w)) {
            st->waiter_pool[st->waiter_pool_len++] = sw;
            return;
        }
        Py_DECREF(sw);
        return;
    }
    Py_DECREF(sw);
    Py_DECREF(w);
}

static PyMemberDef waiter_members[] = {
    {"hub", T_OBJECT, offsetof(gevc_waiter, hub), 0, "The hub that delivers."},
    {"value", T_OBJECT, offsetof(gevc_waiter, value), 0, "The delivered value."},
    {NULL},
};

static PyGetSetDef waiter_getset[] = {
    {"greenlet", gevc__optional_get, gevc__optional_set,
     "The greenlet blocked in get(), or None.", (void *)offsetof(gevc_waiter, greenlet)},
    {"_exception", (getter)get_exception, (setter)set_exception,
     "None after a value, the throw arguments after an exception, or the\n"
     "unset marker.", NULL},
    {"exc_info", (getter)get_exc_info, NULL,
     "The delivered exception as passed to throw, or None.", NULL},
    {NULL},
};

PyDoc_STRVAR(waiter_doc, "Waiter(hub=None)\n\n"
"A one-shot hand-off between the hub and one blocked greenlet.\n\n"
"get() blocks the calling greenlet until switch(value) or throw(*exc) is\n"
"called from the hub (a loop callback); if that happened already, get()\n"
"returns or raises at once.  switch/throw on a waiter a greenlet is blocked\n"
"on may only be called from the hub (AssertionError otherwise); a second\n"
"greenlet calling get() raises ConcurrentObjectUseError.\n\n"
"    waiter = Waiter()\n"
"    hub.loop.timer(0.1).start(waiter.switch, 'done')\n"
"    waiter.get()   # -> 'done', after 0.1 s");

static PyType_Slot waiter_slots[] = {
    {Py_tp_new, waiter_new},
    {Py_tp_init, waiter_init},
    {Py_tp_dealloc, waiter_dealloc},
    {Py_tp_traverse, waiter_traverse},
    {Py_tp_clear, waiter_clear},
    {Py_tp_methods, waiter_methods},
    {Py_tp_members, waiter_members},
    {Py_tp_getset, waiter_getset},
    {Py_tp_call, waiter_call},
    {Py_tp_repr, waiter_repr},
    {Py_tp_str, waiter_str},
    {Py_tp_doc, (void *)waiter_doc},
    {0, NULL},
};

PyType_Spec gevc_waiter_spec = {
    .name = "gevent_c._core.Waiter",
    .basicsize = sizeof(gevc_waiter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = waiter_slots,
};

/* ---- MultipleWaiter: queues every value switched to it (for iwait) ---- */

typedef struct {
    gevc_waiter base;
    PyObject *values;              /* list */
} multiwaiter;

static int
multiwaiter_init(multiwaiter *self, PyObject *args, PyObject *kwargs)
{
    if (waiter_init(&self->base, args, kwargs) < 0)
        return -1;
    Py_XSETREF(self->values, PyList_New(0));
    return self->values == NULL ? -1 : 0;
}

/* The value could not be queued (no memory): the waiting greenlet gets the
   error instead, or it would wait for a value that never comes. */
static PyObject *
lost_value(multiwaiter *self)
{
    PyObject *exc = gevc__exc_take(), *args, *r;
    if (exc == NULL)
        return NULL;
    args = PyTuple_Pack(3, (PyObject *)Py_TYPE(exc), exc, Py_None);
    if (args == NULL) {
        Py_DECREF(exc);
        return NULL;
    }
    r = deliver_exc(&self->base, args);
    Py_DECREF(args);
    Py_DECREF(exc);
    return r;
}

PyDoc_STRVAR(multi_switch_doc, "switch(value)\n\n"
"Queue value and wake the greenlet blocked in get() (from the hub).");
static PyObject *
multiwaiter_switch(multiwaiter *self, PyObject *value)
{
    if (self->values == NULL) {
        PyErr_SetString(PyExc_ValueError, "MultipleWaiter was not initialized");
        return NULL;
    }
    if (PyList_Append(self->values, value) < 0)
        return lost_value(self);
    return gevc_waiter_switch(&self->base, Py_True);
}

PyDoc_STRVAR(multi_get_doc, "get()\n\n"
"Return the oldest queued value, blocking until one is switched in.");
static PyObject *
multiwaiter_get(multiwaiter *self, PyObject *unused)
{
    PyObject *item;
    if (self->values == NULL) {
        PyErr_SetString(PyExc_ValueError, "MultipleWaiter was not initialized");
        return NULL;
    }
    if (PyList_GET_SIZE(self->values) == 0) {
        PyObject *r = gevc_waiter_get(&self->base);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
        Py_CLEAR(self->base.greenlet);
        Py_XSETREF(self->base.value, Py_NewRef(Py_None));
        Py_CLEAR(self->base.exc);
        if (PyList_GET_SIZE(self->values) == 0) {
            PyErr_SetString(PyExc_IndexError, "pop from empty list");
            return NULL;
        }
    }
    item = Py_NewRef(PyList_GET_ITEM(self->values, 0));
    if (PyList_SetSlice(self->values, 0, 1, NULL) < 0) {
        Py_DECREF(item);
        return NULL;
    }
    return item;
}

static int
multiwaiter_traverse(multiwaiter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->values);
    return waiter_traverse(&self->base, visit, arg);
}

static int
multiwaiter_clear(multiwaiter *self)
{
    Py_CLEAR(self->values);
    return waiter_clear(&self->base);
}

static void
multiwaiter_dealloc(multiwaiter *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    multiwaiter_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
get_values(multiwaiter *self, void *c)
{
    return Py_NewRef(self->values ? self->values : Py_None);
}

static PyMethodDef multiwaiter_methods[] = {
    {"switch", (PyCFunction)multiwaiter_switch, METH_O, multi_switch_doc},
    {"get", (PyCFunction)multiwaiter_get, METH_NOARGS, multi_get_doc},
    {NULL},
};

static PyGetSetDef multiwaiter_getset[] = {
    {"_values", (getter)get_values, NULL, "Values switched in and not yet got.", NULL},
    {NULL},
};

PyDoc_STRVAR(multiwaiter_doc, "MultipleWaiter(hub=None)\n\n"
"A Waiter that queues every value switched to it; get() returns them in\n"
"order, blocking while there is none (used by iwait).");

static PyType_Slot multiwaiter_slots[] = {
    {Py_tp_init, multiwaiter_init},
    {Py_tp_dealloc, multiwaiter_dealloc},
    {Py_tp_traverse, multiwaiter_traverse},
    {Py_tp_clear, multiwaiter_clear},
    {Py_tp_methods, multiwaiter_methods},
    {Py_tp_getset, multiwaiter_getset},
    {Py_tp_doc, (void *)multiwaiter_doc},
    {0, NULL},
};

PyType_Spec gevc_multiwaiter_spec = {
    .name = "gevent_c._core.MultipleWaiter",
    .basicsize = sizeof(multiwaiter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = multiwaiter_slots,
};
