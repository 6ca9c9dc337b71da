/* The callback FIFO behind loop.run_callback: an intrusive singly linked
 * list of `callback` objects (arguments stored inline), drained by the
 * loop's prepare watcher in bounded batches.
 *
 * Queued callbacks are left out of the cycle collector: a program that
 * queues many (spawning 100k greenlets queues 100k) would otherwise have
 * every collection walk them all.  That is exact as long as the queue holds
 * a callback's only reference: the loop's traverse then reports the
 * function and arguments as the loop's own.  Whether another reference
 * exists is decided at the start of each collection (a gc.callbacks hook,
 * gevc__callbacks_gc_start): callbacks held elsewhere as well become
 * ordinary tracked objects then, and so does one that run_callback's
 * caller can reach again afterwards (loop.callbacks, a new .callback).
 * A callback queued after the hook ran counts as held elsewhere: its
 * contents stay alive for that collection. */
#include "loop.h"

/* Check the clock every this many callbacks; stop the batch once
 * sys.getswitchinterval() has passed so I/O and timers are not starved. */
#define CALLBACK_CHECK_COUNT 50

static void
clear_args(gevc_callback *cb)
{
    Py_ssize_t n = Py_SIZE(cb);
    Py_SET_SIZE(cb, 0);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_CLEAR(cb->argv[i]);
}

static gevc_callback *
callback_alloc(PyTypeObject *tp, PyObject *func, PyObject *const *args,
               Py_ssize_t nargs)
{
    gevc_callback *cb = (gevc_callback *)tp->tp_alloc(tp, nargs);
    if (cb == NULL)
        return NULL;
    cb->callback = Py_NewRef(func);
    for (Py_ssize_t i = 0; i < nargs; i++)
        cb->argv[i] = Py_NewRef(args[i]);
    cb->has_args = 1;
    cb->queue_only = 0;
    return cb;
}

/* A callback for the queue: like callback_alloc, but not tracked. */
static gevc_callback *
queued_alloc(PyTypeObject *tp, PyObject *func, PyObject *const *args,
             Py_ssize_t nargs)
{
    gevc_callback *cb = PyObject_GC_NewVar(gevc_callback, tp, nargs);
    if (cb == NULL)
        return NULL;
    cb->callback = Py_NewRef(func);
    cb->next = NULL;
    cb->has_args = 1;
    cb->queue_only = 0;
    for (Py_ssize_t i = 0; i < nargs; i++)
        cb->argv[i] = Py_NewRef(args[i]);
    return cb;
}

void
gevc__callback_track(gevc_callback *cb)
{
    cb->queue_only = 0;
    if (!PyObject_GC_IsTracked((PyObject *)cb))
        PyObject_GC_Track(cb);
}

PyObject *
gevc_loop_run_callback(gevc_loop *loop, PyObject *func, PyObject *const *args,
                       Py_ssize_t nargs)
{
    gevc_callback *cb;
    if (gevc_loop_check(loop) < 0)
        return NULL;
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "Expected callable, not %R", func);
        return NULL;
    }
    cb = queued_alloc(loop->st->callback_type, func, args, nargs);
    if (cb == NULL)
        return NULL;
    /* the queue's reference */
    Py_INCREF(cb);
    if (loop->cb_tail != NULL)
        loop->cb_tail->next = cb;
    else
        loop->cb_head = cb;
    loop->cb_tail = cb;
    if (loop->cb_unscanned == NULL)
        loop->cb_unscanned = cb;
    ev_ref(loop->ev);
    return (PyObject *)cb;
}

/* Take the head of the queue (not NULL); the caller owns its reference. */
static gevc_callback *
pop_head(gevc_loop *loop)
{
    gevc_callback *cb = loop->cb_head;
    loop->cb_head = cb->next;
    if (loop->cb_head == NULL)
        loop->cb_tail = NULL;
    if (loop->cb_unscanned == cb)
        loop->cb_unscanned = cb->next;
    cb->next = NULL;
    /* out of the queue, the loop no longer reports its contents (a run
     * lets go of them; see callbacks_clear for a dropped one) */
    cb->queue_only = 0;
    return cb;
}

void
gevc__callbacks_gc_start(gevc_loop_state *st)
{
    for (gevc_loop *loop = st->live_loops; loop != NULL; loop = loop->live_next) {
        for (gevc_callback *cb = loop->cb_unscanned; cb != NULL; cb = cb->next) {
            if (PyObject_GC_IsTracked((PyObject *)cb))
                continue;
            if (Py_REFCNT(cb) > 1)
                gevc__callback_track(cb);
            else
                cb->queue_only = 1;
        }
        loop->cb_unscanned = NULL;
    }
}

/* Run one dequeued callback; consumes the queue's reference to cb. */
static void
run_one(gevc_loop *loop, gevc_callback *cb)
{
    PyObject *func = cb->callback, *res;
    PyObject *small[9], **stack = small;
    Py_ssize_t n;

    if (func == NULL || !cb->has_args) {
        /* stopped, or its .callback set to None: whatever arguments it
         * still holds go now, as after a run (it may be left untracked) */
        cb->has_args = 0;
        clear_args(cb);
        Py_DECREF(cb);
        return;
    }
    /* `pending` turns False while it runs; `bool(cb)` stays True */
    cb->callback = NULL;
    n = Py_SIZE(cb);
    if (n > 8) {
        stack = PyMem_Malloc((size_t)(n + 1) * sizeof(PyObject *));
        if (stack == NULL) {
            PyErr_NoMemory();
            gevc_loop_handle_error(loop, (PyObject *)cb);
            goto done;
        }
    }
    /* owned for the call: the callback may stop() itself (after setting
     * its .callback again), which clears argv */
    for (Py_ssize_t i = 0; i < n; i++)
        stack[i + 1] = Py_NewRef(cb->argv[i]);
    res = PyObject_Vectorcall(func, stack + 1,
                              (size_t)n | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_DECREF(stack[i + 1]);
    if (stack != small)
        PyMem_Free(stack);
    if (res == NULL)
        gevc_loop_handle_error(loop, (PyObject *)cb);
    else
        Py_DECREF(res);
done:
    cb->has_args = 0;
    clear_args(cb);
    Py_DECREF(func);
    Py_DECREF(cb);
}

static int
switch_interval(gevc_loop *loop, double *out)
{
    PyObject *r = PyObject_CallNoArgs(loop->st->getswitchinterval);
    if (r == NULL)
        return -1;
    *out = PyFloat_AsDouble(r);
    Py_DECREF(r);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

void
gevc__callbacks_drain(gevc_loop *loop)
{
    struct ev_loop *ev = loop->ev;
    ev_tstamp start, expiration = -1.0;
    int count = CALLBACK_CHECK_COUNT, was_in_callbacks;

    if (PyErr_CheckSignals() < 0) {
        gevc_loop_handle_error(loop, NULL);
        if (loop->pending_exc != NULL)
            return;
    }
    ev_timer_stop(ev, &loop->timer0);
    if (loop->cb_head == NULL)
        return;
    start = ev_now(ev);
    was_in_callbacks = loop->in_callbacks;
    loop->in_callbacks = 1;
    while (loop->cb_head != NULL && loop->pending_exc == NULL) {
        gevc_callback *cb = pop_head(loop);
        ev_unref(ev);
        run_one(loop, cb);
        if (--count == 0) {
            count = CALLBACK_CHECK_COUNT;
            ev_now_update(ev);
            /* fetched lazily: most batches are shorter than one check */
            if (expiration < 0) {
                double interval;
                if (switch_interval(loop, &interval) < 0) {
                    PyErr_WriteUnraisable((PyObject *)loop);
                    interval = 0.005;
                }
                expiration = start + interval;
            }
            if (ev_now(ev) >= expiration)
                break;
        }
    }
    loop->in_callbacks = was_in_callbacks;
    if (loop->cb_head != NULL)
        ev_timer_start(ev, &loop->timer0);
}

void
gevc__callbacks_clear(gevc_loop *loop)
{
    while (loop->cb_head != NULL) {
        /* unlinked first: a __del__ run by the release may queue a
         * callback, not behind this dying one */
        gevc_callback *cb = pop_head(loop);
        /* dropped with what it holds: held elsewhere too, it becomes an
         * ordinary tracked object */
        if (Py_REFCNT(cb) > 1)
            gevc__callback_track(cb);
        if (loop->ev != NULL)
            ev_unref(loop->ev);
        Py_DECREF(cb);
    }
}

int
gevc__callbacks_traverse(gevc_loop *loop, visitproc visit, void *arg)
{
    for (gevc_callback *cb = loop->cb_head; cb != NULL; cb = cb->next) {
        if (PyObject_GC_IsTracked((PyObject *)cb)) {
            Py_VISIT(cb);
        }
        else if (cb->queue_only && Py_REFCNT(cb) == 1) {
            /* the loop owns the callback, so what it holds (its heap type
             * included) */
            Py_VISIT(Py_TYPE(cb));
            Py_VISIT(cb->callback);
            for (Py_ssize_t i = 0; i < Py_SIZE(cb); i++)
                Py_VISIT(cb->argv[i]);
        }
        /* else held elsewhere too, and not tracked yet: what it holds
         * counts as reachable from outside for this collection */
    }
    return 0;
}

/* ---- the callback type ------------------------------------------------ */

static PyObject *
callback_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    static const char *const names[] = {"callback", "args", NULL};
    PyObject *a[2];
    if (gevc__parse_tuple("callback", args, kwargs, names, 2, 2, a) < 0)
        return NULL;
    if (!PyCallable_Check(a[0])) {
        PyErr_Format(PyExc_TypeError, "Expected callable, not %R", a[0]);
        return NULL;
    }
    if (!PyTuple_Check(a[1])) {
        PyErr_SetString(PyExc_TypeError, "args must be a tuple");
        return NULL;
    }
    return (PyObject *)callback_alloc(tp, a[0], &PyTuple_GET_ITEM(a[1], 0),
                                      PyTuple_GET_SIZE(a[1]));
}

static int
callback_traverse(gevc_callback *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->callback);
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++)
        Py_VISIT(self->argv[i]);
    return 0;
}

static int
callback_clear(gevc_callback *self)
{
    Py_CLEAR(self->callback);
    clear_args(self);
    return 0;
}

static void
callback_dealloc(gevc_callback *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    callback_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(stop_doc, "stop()\n\nCancel the callback if it has not run yet.  Alias: close().");
static PyObject *
callback_stop(gevc_callback *self, PyObject *unused)
{
    /* while it runs, callback is already NULL and the runner owns argv */
    if (self->callback != NULL) {
        Py_CLEAR(self->callback);
        clear_args(self);
    }
    self->has_args = 0;
    Py_RETURN_NONE;
}

static int
set_callback(gevc_callback *self, PyObject *value, void *c)
{
    if (value == NULL || value == Py_None) {
        Py_CLEAR(self->callback);
        return 0;
    }
    /* reachable by whoever set it: the loop can no longer vouch for it */
    gevc__callback_track(self);
    Py_XSETREF(self->callback, Py_NewRef(value));
    return 0;
}

static PyObject *
get_args(gevc_callback *self, void *c)
{
    PyObject *t;
    if (!self->has_args)
        Py_RETURN_NONE;
    t = PyTuple_New(Py_SIZE(self));
    if (t == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < Py_SIZE(self); i++)
        PyTuple_SET_ITEM(t, i, Py_NewRef(self->argv[i]));
    return t;
}

static PyObject *
get_pending(gevc_callback *self, void *c)
{
    return PyBool_FromLong(self->callback != NULL);
}

static int
callback_bool(gevc_callback *self)
{
    return self->has_args;
}

static PyObject *
callback_repr(gevc_callback *self)
{
    PyObject *args = get_args(self, NULL), *res;
    if (args == NULL)
        return NULL;
    res = PyUnicode_FromFormat("<callback at %p%s callback=%R args=%R>", self,
                               self->callback ? " pending" : "",
                               self->callback ? self->callback : Py_None, args);
    Py_DECREF(args);
    return res;
}

static PyMethodDef callback_methods[] = {
    {"stop", (PyCFunction)callback_stop, METH_NOARGS, stop_doc},
    {"close", (PyCFunction)callback_stop, METH_NOARGS, stop_doc},
    {NULL},
};

static PyGetSetDef callback_getset[] = {
    {"callback", gevc__optional_get, (setter)set_callback,
     "The function to call, or None once it ran or was stopped.",
     (void *)offsetof(gevc_callback, callback)},
    {"args", (getter)get_args, NULL,
     "Arguments (a tuple), or None once it ran or was stopped.", NULL},
    {"pending", (getter)get_pending, NULL, "True until it runs or is stopped.", NULL},
    {NULL},
};

PyDoc_STRVAR(callback_doc, "callback(callback, args)\n\n"
"A call queued by loop.run_callback().  pending: not yet run or stopped;\n"
"bool(cb): not yet finished (True while it runs).");

static PyType_Slot callback_slots[] = {
    {Py_tp_new, callback_new},
    {Py_tp_dealloc, callback_dealloc},
    {Py_tp_traverse, callback_traverse},
    {Py_tp_clear, callback_clear},
    {Py_tp_methods, callback_methods},
    {Py_tp_getset, callback_getset},
    {Py_tp_repr, callback_repr},
    {Py_nb_bool, callback_bool},
    {Py_tp_doc, (void *)callback_doc},
    {0, NULL},
};

PyType_Spec gevc_callback_spec = {
    .name = "gevent_c._core.callback",
    .basicsize = offsetof(gevc_callback, argv),
    .itemsize = sizeof(PyObject *),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = callback_slots,
};
