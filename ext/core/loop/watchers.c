/* The `watcher` base type: what every libev watcher wrapper shares.
 *
 * Each concrete type embeds its ev_* struct right in the object and finds
 * the object back with container_of.  An active (or fed) watcher holds one
 * reference to itself, so it lives without any keep-alive set; libev
 * deactivating it behind our back (one-shot timer, child) is noticed after
 * the callback and the reference dropped there. */
#include "loop.h"

#include <string.h>

/* ---- arguments ---------------------------------------------------------- */

static void
drop_args(PyObject **argv, Py_ssize_t argc, PyObject **inline_args)
{
    for (Py_ssize_t i = 0; i < argc; i++)
        Py_DECREF(argv[i]);
    if (argv != inline_args)
        PyMem_Free(argv);
}

void
gevc__watcher_clear_args(gevc_watcher *self)
{
    PyObject *saved[GEVC_INLINE_ARGS];
    PyObject **argv = self->argv;
    Py_ssize_t argc = self->argc;
    if (argc <= 0) {
        self->argc = -1;
        return;
    }
    if (argv == self->inline_args) {
        memcpy(saved, argv, (size_t)argc * sizeof(PyObject *));
        argv = saved;
    }
    self->argv = self->inline_args;
    self->argc = -1;
    drop_args(argv, argc, saved);
}

/* Replace the arguments; the old ones are released last, because
 * releasing them may run arbitrary code. */
static int
store_args(gevc_watcher *self, PyObject *prefix, PyObject *const *args,
           Py_ssize_t nargs)
{
    PyObject *saved[GEVC_INLINE_ARGS];
    PyObject **old = self->argv, **dst;
    Py_ssize_t oldn = self->argc > 0 ? self->argc : 0;
    Py_ssize_t total = nargs + (prefix != NULL), k = 0;

    if (old == self->inline_args && oldn) {
        memcpy(saved, old, (size_t)oldn * sizeof(PyObject *));
        old = saved;
    }
    if (total <= GEVC_INLINE_ARGS) {
        dst = self->inline_args;
    }
    else {
        dst = PyMem_Malloc((size_t)total * sizeof(PyObject *));
        if (dst == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    if (prefix != NULL)
        dst[k++] = Py_NewRef(prefix);
    for (Py_ssize_t i = 0; i < nargs; i++)
        dst[k++] = Py_NewRef(args[i]);
    self->argv = dst;
    self->argc = total;
    if (oldn)
        drop_args(old, oldn, saved);
    return 0;
}

int
gevc_watcher_set_callback(gevc_watcher *self, PyObject *cb,
                          PyObject *const *args, Py_ssize_t nargs,
                          PyObject *prefix)
{
    if (Py_TYPE(cb)->tp_call == NULL) {     /* PyCallable_Check, inlined */
        PyErr_Format(PyExc_TypeError, "Expected callable, not %R", cb);
        return -1;
    }
    if (nargs == 0 && prefix == NULL && self->argc <= 0 && self->callback == NULL) {
        /* the common start(callback) of a stopped watcher: nothing to
         * copy, nothing to release */
        self->argv = self->inline_args;
        self->argc = 0;
        self->callback = Py_NewRef(cb);
        return 0;
    }
    if (store_args(self, prefix, args, nargs) < 0)
        return -1;
    Py_XSETREF(self->callback, Py_NewRef(cb));
    return 0;
}

/* ---- setup ------------------------------------------------------------- */

int
gevc_watcher_setup(gevc_watcher *self, PyObject *loop, const gevc_kind *kind,
                   ev_watcher *w, PyObject *ref, PyObject *priority)
{
    gevc_loop_state *st = gevc_loop_state_from_type(Py_TYPE(self));
    int noref, prio;
    if (st == NULL)
        return -1;
    if (!PyObject_TypeCheck(loop, st->loop_type)) {
        PyErr_Format(PyExc_TypeError, "%s() needs a loop, not %R", kind->name,
                     loop);
        return -1;
    }
    if (gevc_loop_check((gevc_loop *)loop) < 0)
        return -1;
    self->loop = (gevc_loop *)Py_NewRef(loop);
    self->kind = kind;
    self->w = w;
    self->argv = self->inline_args;
    self->argc = -1;
    if (gevc_watcher_options(ref, priority, &noref, &prio) < 0)
        return -1;
    if (noref)
        self->flags |= GEVC_W_NOREF;
    if (priority != NULL && priority != Py_None)
        ev_set_priority(w, prio);
    return 0;
}

int
gevc_watcher_options(PyObject *ref, PyObject *priority, int *noref, int *prio)
{
    *noref = 0;
    *prio = 0;
    if (ref != NULL) {
        int r = PyObject_IsTrue(ref);
        if (r < 0)
            return -1;
        *noref = !r;
    }
    if (priority != NULL && priority != Py_None) {
        long p = PyLong_AsLong(priority);
        if (p == -1 && PyErr_Occurred())
            return -1;
        if (p < INT_MIN || p > INT_MAX) {
            PyErr_SetString(PyExc_OverflowError, "priority out of range of a C int");
            return -1;
        }
        *prio = (int)p;
    }
    return 0;
}

/* A new watcher, hidden from the collector until its init succeeded (the
 * caller then tracks it): Python code that init runs (an argument's
 * __float__, __index__ or __bool__) could otherwise find the half-built
 * watcher through gc.get_objects() and use it before it has a loop. */
PyObject *
gevc__watcher_alloc(PyTypeObject *tp)
{
    PyObject *self = tp->tp_alloc(tp, 0);
    if (self != NULL)
        PyObject_GC_UnTrack(self);
    return self;
}

PyObject *
gevc_watcher_new_from_loop(PyTypeObject *tp, const gevc_kind *kind,
                           gevc_loop *loop, PyObject *const *args,
                           Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *small[8], **stack = small, *self;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    Py_ssize_t total = nargs + nkw + 1;

    if (total > 8) {
        stack = PyMem_Malloc((size_t)total * sizeof(PyObject *));
        if (stack == NULL)
            return PyErr_NoMemory();
    }
    stack[0] = (PyObject *)loop;
    memcpy(stack + 1, args, (size_t)(nargs + nkw) * sizeof(PyObject *));
    self = gevc__watcher_alloc(tp);
    if (self != NULL) {
        if (kind->init((gevc_watcher *)self, stack, nargs + 1, kwnames) < 0)
            Py_CLEAR(self);
        else
            PyObject_GC_Track(self);
    }
    if (stack != small)
        PyMem_Free(stack);
    return self;
}

PyObject *
gevc_watcher_tp_new(PyTypeObject *tp, const gevc_kind *kind, PyObject *args,
                    PyObject *kwargs)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    Py_ssize_t nkw = kwargs ? PyDict_GET_SIZE(kwargs) : 0;
    PyObject *stack[16], *kwnames = NULL, *self = NULL;

    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "%s() needs a loop as first argument",
                     kind->name);
        return NULL;
    }
    if (nargs + nkw > 16) {
        PyErr_Format(PyExc_TypeError, "%s() got too many arguments", kind->name);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        stack[i] = PyTuple_GET_ITEM(args, i);
    if (nkw) {
        PyObject *key, *value;
        Py_ssize_t pos = 0, k = 0;
        kwnames = PyTuple_New(nkw);
        if (kwnames == NULL)
            return NULL;
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            PyTuple_SET_ITEM(kwnames, k, Py_NewRef(key));
            stack[nargs + k++] = value;
        }
    }
    self = gevc__watcher_alloc(tp);
    if (self != NULL) {
        if (kind->init((gevc_watcher *)self, stack, nargs, kwnames) < 0)
            Py_CLEAR(self);
        else
            PyObject_GC_Track(self);
    }
    Py_XDECREF(kwnames);
    return self;
}

/* ---- start / stop -------------------------------------------------------- */

void
gevc_watcher_activate(gevc_watcher *self)
{
    self->kind->start(self->loop->ev, self);
    gevc__watcher_started(self);
}

PyObject *
gevc_watcher_start_common(gevc_watcher *self, PyObject *const *args,
                          Py_ssize_t nargs, PyObject *prefix)
{
    if (nargs == 1 && prefix == NULL && gevc__fast_start_ok(self, args[0])) {
        gevc__fast_callback(self, args[0]);
        gevc_watcher_activate(self);
        Py_RETURN_NONE;
    }
    if (gevc_loop_check(self->loop) < 0)
        return NULL;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "start() needs a callback");
        return NULL;
    }
    /* releasing the old callback and args may run a __del__ that
     * destroys the loop */
    if (gevc_watcher_set_callback(self, args[0], args + 1, nargs - 1, prefix) < 0 ||
        gevc_loop_check(self->loop) < 0)
        return NULL;
    gevc_watcher_activate(self);
    Py_RETURN_NONE;
}

void
gevc_watcher_stop(gevc_watcher *self)
{
    struct ev_loop *ev = self->loop ? self->loop->ev : NULL;
    if (ev != NULL) {
        if (self->flags & GEVC_W_EVUNREF)
            ev_ref(ev);
        if (ev_is_active(self->w) || ev_is_pending(self->w))
            self->kind->stop(ev, self);
    }
    gevc__watcher_forget(self);
}

/* ---- firing ----------------------------------------------------------- */

/* Call the Python callback for an event.  Runs with the GIL (ev_run is
 * entered with it; only the backend poll drops it). */
void
gevc_watcher_call(gevc_watcher *self, int revents)
{
    gevc_loop *loop = self->loop;
    PyObject *func = self->callback, *res;
    PyObject *small[1 + 6], **stack = small;
    Py_ssize_t n = self->argc > 0 ? self->argc : 0;

    Py_INCREF(self);
    if (func == NULL)
        goto deactivated;
    Py_INCREF(func);
    if (n > 6) {
        stack = PyMem_Malloc((size_t)(n + 1) * sizeof(PyObject *));
        if (stack == NULL) {
            PyErr_NoMemory();
            gevc_loop_handle_error(loop, (PyObject *)self);
            Py_DECREF(func);
            goto deactivated;
        }
    }
    /* own the arguments: the callback may restart or stop this watcher */
    for (Py_ssize_t i = 0; i < n; i++)
        stack[i + 1] = Py_NewRef(self->argv[i]);
    if (n && stack[1] == loop->st->events) {
        PyObject *ev = PyLong_FromLong(revents);
        if (ev != NULL) {
            Py_DECREF(stack[1]);
            stack[1] = ev;
        }
    }
    res = PyObject_Vectorcall(func, stack + 1,
                              (size_t)n | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_DECREF(stack[i + 1]);
    if (stack != small)
        PyMem_Free(stack);
    Py_DECREF(func);
    if (res != NULL) {
        Py_DECREF(res);
    }
    else {
        gevc_loop_handle_error(loop, (PyObject *)self);
        if (self->kind->stop_on_error && self->callback != NULL)
            gevc_watcher_stop(self);
    }
deactivated:
    if ((self->flags & GEVC_W_OWNS_REF) && !ev_is_active(self->w) &&
        !ev_is_pending(self->w) && !(self->flags & GEVC_W_FIRED))
        gevc_watcher_stop(self);
    Py_DECREF(self);
}

void
gevc_watcher_fire(gevc_watcher *self, int revents)
{
    /* timers of this batch that libev invoked before us come first; one
     * of them may drop the last reference to this watcher */
    if (self->loop->nfired == 0) {
        gevc_watcher_call(self, revents);
        return;
    }
    Py_INCREF(self);
    gevc_loop_flush_timers(self->loop);
    gevc_watcher_call(self, revents);
    Py_DECREF(self);
}

/* ---- GC ---------------------------------------------------------------- */

int
gevc_watcher_traverse(gevc_watcher *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->loop);
    Py_VISIT(self->callback);
    for (Py_ssize_t i = 0; i < self->argc; i++)
        Py_VISIT(self->argv[i]);
    return 0;
}

/* The loop reference stays until dealloc: libev may still know the watcher
 * and the loop must outlive it. */
int
gevc_watcher_clear(gevc_watcher *self)
{
    Py_CLEAR(self->callback);
    gevc__watcher_clear_args(self);
    return 0;
}

void
gevc_watcher_dealloc(gevc_watcher *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->loop != NULL && self->loop->ev != NULL && self->kind != NULL &&
        (ev_is_active(self->w) || ev_is_pending(self->w))) {
        if (self->flags & GEVC_W_EVUNREF)
            ev_ref(self->loop->ev);
        self->kind->stop(self->loop->ev, self);
    }
    tp->tp_clear((PyObject *)self);
    if (self->loop != NULL)
        gevc__watcher_unlist(self);
    Py_CLEAR(self->loop);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* ---- Python API ---------------------------------------------------------- */

PyDoc_STRVAR(start_doc, "start(callback, *args)\n\n"
"Start watching; on each event call callback(*args).  An active watcher\n"
"keeps itself alive.  A non-callable callback raises TypeError.");
static PyObject *
watcher_start(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs)
{
    return gevc_watcher_start_common(self, args, nargs, NULL);
}

PyDoc_STRVAR(stop_doc, "stop()\n\nStop watching and forget callback and args.");
static PyObject *
watcher_close(gevc_watcher *self, PyObject *unused)
{
    gevc_watcher_stop(self);
    Py_RETURN_NONE;
}

/* METH_FASTCALL rather than METH_NOARGS: the interpreter calls a bound
 * fastcall builtin (`stop = w.stop; stop()`) straight from its specialized
 * call instruction, a NOARGS one through the generic vectorcall path. */
PyObject *
gevc__stop_args_error(gevc_watcher *self, Py_ssize_t nargs)
{
    PyErr_Format(PyExc_TypeError, "%s.stop() takes no arguments (%zd given)",
                 _PyType_Name(Py_TYPE(self)), nargs);
    return NULL;
}

static PyObject *
watcher_stop(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 0)
        return gevc__stop_args_error(self, nargs);
    gevc_watcher_stop(self);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(close_doc, "close()\n\nSame as stop(); the watcher can be started again.");

PyDoc_STRVAR(feed_doc, "feed(revents, callback, *args)\n\n"
"Make the watcher pending with revents as if the event happened (ev_feed_event).");
static PyObject *
watcher_feed(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs)
{
    long revents;
    if (gevc_loop_check(self->loop) < 0)
        return NULL;
    if (nargs < 2) {
        PyErr_SetString(PyExc_TypeError, "feed() needs revents and a callback");
        return NULL;
    }
    revents = PyLong_AsLong(args[0]);
    if (revents == -1 && PyErr_Occurred())
        return NULL;
    if (revents < INT_MIN || revents > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "revents out of range of a C int");
        return NULL;
    }
    if (gevc_watcher_set_callback(self, args[1], args + 2, nargs - 2, NULL) < 0 ||
        gevc_loop_check(self->loop) < 0)   /* a __del__ may have destroyed it */
        return NULL;
    if ((self->flags & (GEVC_W_NOREF | GEVC_W_EVUNREF)) == GEVC_W_NOREF &&
        ev_is_active(self->w)) {
        ev_unref(self->loop->ev);
        self->flags |= GEVC_W_EVUNREF;
    }
    /* ev_feed_event indexes libev's pending arrays by priority without the
     * clamping ev_start does: bring an inactive watcher's into range first */
    if (!ev_is_active(self->w) && !ev_is_pending(self->w)) {
        int pri = ev_priority(self->w);
        if (pri < EV_MINPRI || pri > EV_MAXPRI)
            ev_set_priority(self->w, pri < EV_MINPRI ? EV_MINPRI : EV_MAXPRI);
    }
    ev_feed_event(self->loop->ev, self->w, (int)revents);
    gevc__own_ref(self);
    Py_RETURN_NONE;
}

static PyObject *
watcher_enter(gevc_watcher *self, PyObject *unused)
{
    return Py_NewRef(self);
}

static PyObject *
watcher_exit(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_watcher_stop(self);
    Py_RETURN_NONE;
}

static PyObject *
get_active(gevc_watcher *self, void *c)
{
    return PyBool_FromLong(ev_is_active(self->w));
}

static PyObject *
get_pending(gevc_watcher *self, void *c)
{
    return PyBool_FromLong(ev_is_pending(self->w) ||
                           (self->flags & GEVC_W_FIRED));
}

static PyObject *
get_ref(gevc_watcher *self, void *c)
{
    return PyBool_FromLong(!(self->flags & GEVC_W_NOREF));
}

static int
set_ref(gevc_watcher *self, PyObject *value, void *c)
{
    int r;
    struct ev_loop *ev;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete ref");
        return -1;
    }
    if ((r = PyObject_IsTrue(value)) < 0)
        return -1;
    ev = self->loop->ev;   /* after __bool__, which may destroy the loop */
    if (r) {
        self->flags &= ~GEVC_W_NOREF;
        if ((self->flags & GEVC_W_EVUNREF) && ev != NULL)
            ev_ref(ev);
        self->flags &= ~GEVC_W_EVUNREF;
    }
    else {
        self->flags |= GEVC_W_NOREF;
        if (!(self->flags & GEVC_W_EVUNREF) && ev != NULL &&
            ev_is_active(self->w)) {
            ev_unref(ev);
            self->flags |= GEVC_W_EVUNREF;
        }
    }
    return 0;
}

static PyObject *
get_priority(gevc_watcher *self, void *c)
{
    return PyLong_FromLong(ev_priority(self->w));
}

static int
set_priority(gevc_watcher *self, PyObject *value, void *c)
{
    long p;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete priority");
        return -1;
    }
    /* converted first: __index__ may run code that starts the watcher */
    p = PyLong_AsLong(value);
    if (p == -1 && PyErr_Occurred())
        return -1;
    if (ev_is_active(self->w)) {
        PyErr_SetString(PyExc_AttributeError,
                        "Cannot set priority of an active watcher");
        return -1;
    }
    /* libev files a pending watcher under its priority: changing it would
     * make clear_pending write into another priority's array and leave the
     * real entry pointing at us */
    if (ev_is_pending(self->w)) {
        PyErr_SetString(PyExc_AttributeError,
                        "Cannot set priority of a pending watcher");
        return -1;
    }
    if (p < INT_MIN || p > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "priority out of range of a C int");
        return -1;
    }
    ev_set_priority(self->w, (int)p);
    return 0;
}

static int
set_callback(gevc_watcher *self, PyObject *value, void *c)
{
    if (value == NULL || value == Py_None) {
        Py_CLEAR(self->callback);
        return 0;
    }
    if (!PyCallable_Check(value)) {
        PyErr_Format(PyExc_TypeError, "Expected callable, not %R", value);
        return -1;
    }
    Py_XSETREF(self->callback, Py_NewRef(value));
    return 0;
}

static PyObject *
get_args(gevc_watcher *self, void *c)
{
    PyObject *t;
    if (self->argc < 0)
        Py_RETURN_NONE;
    t = PyTuple_New(self->argc);
    if (t == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->argc; i++)
        PyTuple_SET_ITEM(t, i, Py_NewRef(self->argv[i]));
    return t;
}

static int
set_args(gevc_watcher *self, PyObject *value, void *c)
{
    if (value == NULL || value == Py_None) {
        gevc__watcher_clear_args(self);
        return 0;
    }
    if (!PyTuple_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "args must be a tuple or None");
        return -1;
    }
    return store_args(self, NULL, &PyTuple_GET_ITEM(value, 0),
                      PyTuple_GET_SIZE(value));
}

static PyObject *
get_loop(gevc_watcher *self, void *c)
{
    return Py_NewRef(self->loop ? (PyObject *)self->loop : Py_None);
}

static PyObject *
get_flags(gevc_watcher *self, void *c)
{
    return PyLong_FromUnsignedLong(self->flags);
}

static PyObject *
watcher_repr(gevc_watcher *self)
{
    PyObject *args, *extra = NULL, *res;
    /* a watcher among its own arguments (sleep's timer is): the args tuple
       is made afresh for each repr, so its own recursion guard never
       triggers */
    int seen = Py_ReprEnter((PyObject *)self);
    if (seen != 0)
        return seen > 0 ? PyUnicode_FromFormat("<%s at %p ...>",
                                               Py_TYPE(self)->tp_name, self)
                        : NULL;
    args = get_args(self, NULL);
    if (args == NULL) {
        Py_ReprLeave((PyObject *)self);
        return NULL;
    }
    if (self->kind != NULL && self->kind->repr_extra != NULL)
        extra = self->kind->repr_extra(self);
    else
        extra = PyUnicode_FromString("");
    if (extra == NULL) {
        Py_DECREF(args);
        Py_ReprLeave((PyObject *)self);
        return NULL;
    }
    res = PyUnicode_FromFormat("<%s at %p%U%s%s%s callback=%R args=%R>",
                               Py_TYPE(self)->tp_name, self,
                               extra,
                               ev_is_active(self->w) ? " active" : "",
                               ev_is_pending(self->w) ? " pending" : "",
                               (self->flags & GEVC_W_NOREF) ? " ref=False" : "",
                               self->callback ? self->callback : Py_None, args);
    Py_DECREF(extra);
    Py_DECREF(args);
    Py_ReprLeave((PyObject *)self);
    return res;
}

PyMethodDef gevc_watcher_base_methods[] = {
    {"start", (PyCFunction)(void (*)(void))watcher_start, METH_FASTCALL, start_doc},
    {"stop", (PyCFunction)(void (*)(void))watcher_stop, METH_FASTCALL, stop_doc},
    {"close", (PyCFunction)watcher_close, METH_NOARGS, close_doc},
    {"feed", (PyCFunction)(void (*)(void))watcher_feed, METH_FASTCALL, feed_doc},
    {"__enter__", (PyCFunction)watcher_enter, METH_NOARGS, "Return self."},
    {"__exit__", (PyCFunction)(void (*)(void))watcher_exit, METH_FASTCALL,
     "close() the watcher."},
    {NULL},
};

PyGetSetDef gevc_watcher_base_getset[] = {
    {"active", (getter)get_active, NULL, "True while started.", NULL},
    {"pending", (getter)get_pending, NULL, "True while an event waits to be delivered.", NULL},
    {"ref", (getter)get_ref, (setter)set_ref,
     "False: the watcher does not keep loop.run() running.", NULL},
    {"priority", (getter)get_priority, (setter)set_priority,
     "libev priority (MINPRI..MAXPRI); settable only while neither active nor pending.", NULL},
    {"callback", gevc__optional_get, (setter)set_callback,
     "The callable, or None when stopped.",
     (void *)offsetof(gevc_watcher, callback)},
    {"args", (getter)get_args, (setter)set_args,
     "Arguments for the callback (a tuple), or None when stopped.", NULL},
    {"loop", (getter)get_loop, NULL, "The loop this watcher belongs to.", NULL},
    {"_flags", (getter)get_flags, NULL, "Internal state bits.", NULL},
    {NULL},
};

static PyMemberDef watcher_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(gevc_watcher, weakrefs), READONLY},
    {NULL},
};

PyDoc_STRVAR(watcher_doc, "Base of the libev watcher types; not instantiable.");

static PyType_Slot watcher_slots[] = {
    {Py_tp_dealloc, gevc_watcher_dealloc},
    {Py_tp_traverse, gevc_watcher_traverse},
    {Py_tp_clear, gevc_watcher_clear},
    {Py_tp_methods, gevc_watcher_base_methods},
    {Py_tp_getset, gevc_watcher_base_getset},
    {Py_tp_members, watcher_members},
    {Py_tp_repr, watcher_repr},
    {Py_tp_doc, (void *)watcher_doc},
    {0, NULL},
};

PyType_Spec gevc_watcher_spec = {
    .name = "gevent_c._core.watcher",
    .basicsize = sizeof(gevc_watcher),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = watcher_slots,
};
