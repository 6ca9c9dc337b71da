/* iwait(): an iterator over objects in the order they become ready, and a
 * context manager that drops its links on exit.
 *
 * The iterator is itself the link: on the first next() it is rawlinked to
 * every object (and, with a timeout, started as the callback of a timer of
 * priority -1 that passes the iterator itself, which ends the iteration).
 * Called from the hub, it queues the ready object and wakes the greenlet
 * blocked in next() through its Waiter, as gevent's MultipleWaiter does.
 * Everything is unlinked and the timer closed once count objects were
 * returned, when the timer fires, when next() is interrupted, and on exit
 * from a with block; the iterator is then exhausted. */
#include "hub.h"
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    gevc_hub_state *st;
    PyObject *objects;             /* list; NULL once cleaned up */
    gevc_waiter *waiter;
    PyObject *timeout;             /* None: no timer */
    PyObject *timer;               /* NULL until begun, with a timeout */
    PyObject *ready;               /* list: became ready, not returned yet */
    Py_ssize_t next_ready;         /* the oldest of them in ready */
    Py_ssize_t count;              /* how many more next() may return */
    int begun;
} waititer;

static PyObject *waititer_call(PyObject *self, PyObject *args, PyObject *kwargs);

int
gevc__waititer_check(PyObject *op)
{
    return Py_TYPE(op)->tp_call == waititer_call;
}

/* The link: obj is ready (from the hub). */
PyObject *
gevc__waititer_fire(PyObject *op, PyObject *obj)
{
    waititer *self = (waititer *)op;
    if (self->objects == NULL)
        Py_RETURN_NONE;            /* cleaned up: nobody waits for it */
    if (PyList_Append(self->ready, obj) < 0) {
        /* not queued (no memory): the waiting greenlet gets the error,
         * or it would wait for an object that never comes */
        PyObject *exc = gevc__exc_take(), *r;
        if (exc == NULL)
            return NULL;
        r = PyObject_CallMethodObjArgs((PyObject *)self->waiter, self->st->str_throw,
                                       (PyObject *)Py_TYPE(exc), exc, Py_None, NULL);
        Py_DECREF(exc);
        return r;
    }
    return gevc_waiter_switch(self->waiter, Py_True);
}

static PyObject *
waititer_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "an iwait link takes one argument");
        return NULL;
    }
    return gevc__waititer_fire(self, args[0]);
}

static PyObject *
waititer_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 1 || (kwargs && PyDict_GET_SIZE(kwargs))) {
        PyErr_SetString(PyExc_TypeError, "an iwait link takes one argument");
        return NULL;
    }
    return gevc__waititer_fire(self, PyTuple_GET_ITEM(args, 0));
}

/* ---- begin and clean up -------------------------------------------------- */

static int
link_all(waititer *self)
{
    gevc_hub_state *st = self->st;
    PyObject *objs = self->objects, *timer, *loop, *r, *kw, *stack[3];
    int rc = 0;
    /* a rawlink runs code, which may clean us up (and drop the list) */
    Py_INCREF(objs);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs) && rc == 0; i++) {
        PyObject *obj = Py_NewRef(PyList_GET_ITEM(objs, i));
        if (PyObject_TypeCheck(obj, st->glet_type))
            rc = gevc__glet_rawlink(st, obj, (PyObject *)self);
        else {
            r = PyObject_CallMethodOneArg(obj, st->str_rawlink, (PyObject *)self);
            rc = r ? 0 : -1;
            Py_XDECREF(r);
        }
        Py_DECREF(obj);
        if (self->objects != objs)
            break;                 /* cleaned up meanwhile */
    }
    Py_DECREF(objs);
    if (rc < 0 || self->objects == NULL || self->timeout == Py_None)
        return rc;
    /* hub.loop.timer(timeout, priority=-1).start(self, self) */
    if ((loop = gevc_hub_loop(st, self->waiter->hub)) == NULL)
        return -1;
    kw = PyTuple_Pack(1, st->str_priority);
    stack[0] = loop;
    stack[1] = self->timeout;
    stack[2] = st->minus_one;
    timer = kw == NULL ? NULL
        : PyObject_VectorcallMethod(st->str_timer, stack, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, kw);
    Py_XDECREF(kw);
    Py_DECREF(loop);
    if (timer == NULL)
        return -1;
    Py_XSETREF(self->timer, timer);
    r = PyObject_CallMethodObjArgs(timer, st->str_start, (PyObject *)self, (PyObject *)self, NULL);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Close the timer and unlink from every object (a failure is reported and
 * the others are still unlinked); the iterator is exhausted after.  Keeps
 * the exception being raised, if any. */
static void
cleanup(waititer *self)
{
    gevc_hub_state *st = self->st;
    PyObject *exc = gevc__exc_take(), *objs = self->objects, *timer = self->timer, *r;
    if (self->waiter != NULL)
        Py_CLEAR(self->waiter->target);
    self->objects = NULL;
    self->timer = NULL;
    self->count = 0;
    if (timer != NULL) {
        r = PyObject_CallMethodNoArgs(timer, st->str_close);
        if (r == NULL)
            PyErr_WriteUnraisable(timer);
        Py_XDECREF(r);
        Py_DECREF(timer);
    }
    for (Py_ssize_t i = 0; objs != NULL && i < PyList_GET_SIZE(objs); i++) {
        PyObject *obj = Py_NewRef(PyList_GET_ITEM(objs, i)), *unlink;
        int rc = 0;
        if (PyObject_TypeCheck(obj, st->glet_type))
            rc = gevc__glet_unlink(obj, (PyObject *)self);
        else if ((unlink = PyObject_GetAttr(obj, st->str_unlink)) == NULL) {
            if (PyErr_ExceptionMatches(PyExc_AttributeError))
                PyErr_Clear();     /* nothing to undo */
            else
                rc = -1;
        }
        else {
            r = PyObject_CallOneArg(unlink, (PyObject *)self);
            rc = r ? 0 : -1;
            Py_XDECREF(r);
            Py_DECREF(unlink);
        }
        if (rc < 0)
            PyErr_WriteUnraisable(obj);
        Py_DECREF(obj);
    }
    Py_XDECREF(objs);
    if (self->ready != NULL && PyList_SetSlice(self->ready, 0, PyList_GET_SIZE(self->ready), NULL) < 0)
        PyErr_WriteUnraisable((PyObject *)self);
    self->next_ready = 0;
    gevc__exc_raise(exc);
}

/* ---- iteration ------------------------------------------------------------ */

/* The oldest ready object (new ref), or NULL if none. */
static PyObject *
pop_ready(waititer *self)
{
    PyObject *item;
    if (self->next_ready >= PyList_GET_SIZE(self->ready))
        return NULL;
    item = PyList_GET_ITEM(self->ready, self->next_ready);
    PyList_SET_ITEM(self->ready, self->next_ready, Py_NewRef(Py_None));   /* ours now */
    if (++self->next_ready == PyList_GET_SIZE(self->ready)) {
        self->next_ready = 0;
        if (PyList_SetSlice(self->ready, 0, PyList_GET_SIZE(self->ready), NULL) < 0) {
            Py_DECREF(item);
            return NULL;
        }
    }
    return item;
}

static PyObject *
waititer_next(waititer *self)
{
    gevc_waiter *w = self->waiter;
    PyObject *item;
    if (self->objects == NULL || self->count == 0)
        goto exhausted;
    if (!self->begun) {
        self->begun = 1;
        if (link_all(self) < 0)
            goto error;
        if (self->objects == NULL)
            goto exhausted;
    }
    self->count--;
    Py_INCREF(w);                  /* for after the switch, whatever happens meanwhile */
    if (self->next_ready >= PyList_GET_SIZE(self->ready)) {
        PyObject *r;
        /* named by LoopExit's message while blocked; set only meanwhile,
         * as the waiter referring back to us would make a cycle */
        Py_XSETREF(w->target, Py_NewRef((PyObject *)self));
        w->method = "__next__";
        r = gevc_waiter_get(w);
        Py_CLEAR(w->target);
        if (r == NULL) {
            Py_DECREF(w);
            goto error;
        }
        Py_DECREF(r);
    }
    /* what was switched to the waiter while nobody waited is in ready */
    Py_CLEAR(w->exc);
    Py_XSETREF(w->value, Py_NewRef(Py_None));
    Py_DECREF(w);
    if (self->ready == NULL)
        goto exhausted;            /* cleared by the collector meanwhile */
    item = pop_ready(self);
    if (item == NULL) {
        if (!PyErr_Occurred()) {
            PyObject *tp = gevc__exception(self->st, "InvalidSwitchError");
            if (tp != NULL) {
                PyErr_SetString(tp, "Invalid switch into iwait(): nothing became ready");
                Py_DECREF(tp);
            }
        }
        goto error;
    }
    if (item == (PyObject *)self) {
        Py_DECREF(item);           /* the timer expired */
        goto exhausted;
    }
    if (self->count == 0)
        cleanup(self);             /* the last one: drop the links now */
    return item;
exhausted:
    cleanup(self);
    return NULL;
error:
    cleanup(self);
    return NULL;
}

PyDoc_STRVAR(enter_doc, "__enter__()\n\nReturn self.");
static PyObject *
waititer_enter(PyObject *self, PyObject *unused)
{
    return Py_NewRef(self);
}

PyDoc_STRVAR(exit_doc, "__exit__(typ, value, tb)\n\nUnlink from every object; stop the timer.");
static PyObject *
waititer_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    cleanup((waititer *)self);
    Py_RETURN_NONE;
}

/* ---- creation and lifetime ----------------------------------------------- */

/* hub: a strong reference the caller holds (making the list runs code) */
static PyObject *
new_waititer(PyTypeObject *tp, gevc_hub_state *st, PyObject *objects, PyObject *hub,
             PyObject *timeout, PyObject *count)
{
    waititer *self;
    Py_ssize_t n;
    PyObject *objs = PySequence_List(objects);
    if (objs == NULL)
        return NULL;
    n = PyList_GET_SIZE(objs);
    if (count != NULL && count != Py_None) {
        Py_ssize_t c = PyNumber_AsSsize_t(count, PyExc_OverflowError);
        if (c == -1 && PyErr_Occurred())
            goto error;
        if (c < 0) {
            PyErr_SetString(PyExc_ValueError, "count must not be negative");
            goto error;
        }
        if (c < n)
            n = c;
    }
    if ((self = (waititer *)tp->tp_alloc(tp, 0)) == NULL)
        goto error;
    self->vectorcall = waititer_vectorcall;
    self->st = st;
    self->objects = objs;
    self->timeout = Py_NewRef(timeout ? timeout : Py_None);
    self->count = n;
    self->ready = PyList_New(0);
    self->waiter = gevc_waiter_new(st, hub);
    if (self->ready == NULL || self->waiter == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
error:
    Py_DECREF(objs);
    return NULL;
}

static PyObject *
waititer_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    static const char *const names[] = {"objects", "hub", "timeout", "count", NULL};
    gevc_hub_state *st = gevc_hub_state_from_type(tp);
    PyObject *a[4], *hub, *it;
    if (st == NULL || gevc__parse_tuple("_WaitIterator", args, kwargs, names, 4, 4, a) < 0)
        return NULL;
    hub = Py_XNewRef(a[1] != Py_None ? a[1] : gevc_hub_get(st));
    if (hub == NULL)
        return NULL;
    it = new_waititer(tp, st, a[0], hub, a[2], a[3]);
    Py_DECREF(hub);
    return it;
}

static int
waititer_traverse(waititer *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->objects);
    Py_VISIT(self->waiter);
    Py_VISIT(self->timeout);
    Py_VISIT(self->timer);
    Py_VISIT(self->ready);
    return 0;
}

static int
waititer_clear(waititer *self)
{
    Py_CLEAR(self->objects);
    Py_CLEAR(self->waiter);
    Py_CLEAR(self->timeout);
    Py_CLEAR(self->timer);
    Py_CLEAR(self->ready);
    return 0;
}

static void
waititer_dealloc(waititer *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    waititer_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef waititer_methods[] = {
    {"__enter__", waititer_enter, METH_NOARGS, enter_doc},
    {"__exit__", (PyCFunction)(void (*)(void))waititer_exit, METH_FASTCALL, exit_doc},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef waititer_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(waititer, vectorcall), READONLY, NULL},
    {NULL},
};

PyDoc_STRVAR(waititer_doc, "_WaitIterator(objects, hub, timeout, count)\n\n"
"What iwait() returns: yields the objects as they become ready (at most\n"
"count, until timeout); as a context manager, unlinks them on exit.");

static PyType_Slot waititer_slots[] = {
    {Py_tp_doc, (void *)waititer_doc},
    {Py_tp_new, waititer_new},
    {Py_tp_call, waititer_call},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, waititer_next},
    {Py_tp_methods, waititer_methods},
    {Py_tp_members, waititer_members},
    {Py_tp_traverse, waititer_traverse},
    {Py_tp_clear, waititer_clear},
    {Py_tp_dealloc, waititer_dealloc},
    {0, NULL},
};

static PyType_Spec waititer_spec = {
    .name = "gevent_c._core._WaitIterator",
    .basicsize = sizeof(waititer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = waititer_slots,
};

/* ---- iwait ---------------------------------------------------------------- */

PyDoc_STRVAR(iwait_doc, "iwait(objects, timeout=None, count=None)\n\n"
"Yield objects (anything with rawlink/unlink) as they become ready, at most\n"
"count of them, until timeout seconds pass.  Use it in a with block to drop\n"
"the links when leaving early.  objects=None waits for the hub's loop to\n"
"have nothing left to do (an iterator over hub.join(timeout)).");
static PyObject *
iwait(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"objects", "timeout", "count", NULL};
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    PyObject *a[3], *hub, *it;
    if (gevc__parse("iwait", args, nargs, kwnames, names, 3, 1, a) < 0 ||
        (hub = Py_XNewRef(gevc_hub_get(st))) == NULL)
        return NULL;
    if (a[0] == Py_None) {
        PyObject *r = PyObject_CallMethod(hub, "join", "O", a[1] ? a[1] : Py_None), *l;
        Py_DECREF(hub);
        if (r == NULL)
            return NULL;
        l = PyList_New(1);
        if (l == NULL) {
            Py_DECREF(r);
            return NULL;
        }
        PyList_SET_ITEM(l, 0, r);
        it = PyObject_GetIter(l);
        Py_DECREF(l);
        return it;
    }
    it = new_waititer(st->waititer_type, st, a[0], hub, a[1], a[2]);
    Py_DECREF(hub);
    return it;
}

static PyMethodDef iwait_functions[] = {
    {"iwait", (PyCFunction)(void (*)(void))iwait, METH_FASTCALL | METH_KEYWORDS, iwait_doc},
    {NULL, NULL, 0, NULL},
};

int
gevc__iwait_init(PyObject *mod, gevc_hub_state *st)
{
    if (gevc__add_type(mod, &st->waititer_type, &waititer_spec, NULL, "_WaitIterator") < 0)
        return -1;
    return PyModule_AddFunctions(mod, iwait_functions);
}
