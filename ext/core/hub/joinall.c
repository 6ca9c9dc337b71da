/* wait_all: what joinall() and wait(objects) do, in C.  iwait() switches
 * into the waiting greenlet once per object that becomes ready; here a
 * countdown link collects them in the hub and wakes the waiter once, when
 * `count` of them are ready (or one failed, with raise_error, or the
 * timeout expired).  Any object with rawlink/unlink works; Greenlets are
 * linked through their C fields. */
#include "hub.h"

typedef struct {
    PyObject_HEAD
    gevc_waiter *waiter;
    PyObject *done;                /* list: the ready objects, in that order */
    PyObject *failed;              /* with raise_error: the first that failed */
    Py_ssize_t remaining;
    int raise_error;
    int closed;                    /* the wait is over: later calls are ignored */
} countdown;

/* obj.exception (None when absent or failing to read), new ref */
static PyObject *
exception_of(gevc_hub_state *st, PyObject *obj)
{
    PyObject *exc;
    if (PyObject_TypeCheck(obj, st->glet_type))
        return gevc__glet_exception(obj);
    exc = PyObject_GetAttr(obj, st->str_exception);
    if (exc == NULL) {
        PyErr_Clear();
        exc = Py_NewRef(Py_None);
    }
    return exc;
}

/* A linked object became ready (called from the hub). */
PyObject *
gevc__countdown_fire(PyObject *op, PyObject *obj)
{
    countdown *self = (countdown *)op;
    gevc_hub_state *st = self->waiter->st;
    if (self->closed || self->remaining <= 0)
        Py_RETURN_NONE;
    if (self->raise_error) {
        PyObject *exc = exception_of(st, obj);
        int failed = exc != Py_None;
        Py_DECREF(exc);
        if (failed) {
            self->failed = Py_NewRef(obj);
            self->remaining = 0;
            return gevc_waiter_switch(self->waiter, Py_True);
        }
    }
    if (PyList_Append(self->done, obj) < 0)
        return NULL;
    if (--self->remaining > 0)
        Py_RETURN_NONE;
    return gevc_waiter_switch(self->waiter, Py_True);
}

static PyObject *
countdown_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != 1 ||
        (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "a wait_all link takes one argument");
        return NULL;
    }
    return gevc__countdown_fire(self, PyTuple_GET_ITEM(args, 0));
}

static int
countdown_traverse(countdown *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->waiter);
    Py_VISIT(self->done);
    Py_VISIT(self->failed);
    return 0;
}

static int
countdown_clear(countdown *self)
{
    Py_CLEAR(self->waiter);
    Py_CLEAR(self->done);
    Py_CLEAR(self->failed);
    return 0;
}

static void
countdown_dealloc(countdown *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    countdown_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyType_Slot countdown_slots[] = {
    {Py_tp_call, countdown_call},
    {Py_tp_traverse, countdown_traverse},
    {Py_tp_clear, countdown_clear},
    {Py_tp_dealloc, countdown_dealloc},
    {Py_tp_doc, (void *)"The link wait_all gives each object it waits for."},
    {0, NULL},
};

PyType_Spec gevc_countdown_spec = {
    .name = "gevent_c._core._WaitAllLink",
    .basicsize = sizeof(countdown),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = countdown_slots,
};

/* ---- wait_all ----------------------------------------------------------- */

static int
link_one(gevc_hub_state *st, PyObject *obj, PyObject *cd)
{
    PyObject *r;
    if (PyObject_TypeCheck(obj, st->glet_type))
        return gevc__glet_rawlink(st, obj, cd);
    r = PyObject_CallMethodOneArg(obj, st->str_rawlink, cd);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Unlink cd from the first n objects; a failing unlink is reported and the
 * others are still unlinked, as iwait does. */
static void
unlink_all(gevc_hub_state *st, PyObject *objs, Py_ssize_t n, PyObject *cd)
{
    PyObject *exc = gevc__exc_take();
    for (Py_ssize_t i = 0; i < n && i < PyList_GET_SIZE(objs); i++) {
        PyObject *obj = PyList_GET_ITEM(objs, i), *r;
        int rc;
        Py_INCREF(obj);
        if (PyObject_TypeCheck(obj, st->glet_type))
            rc = gevc__glet_unlink(obj, cd);
        else {
            r = PyObject_CallMethodOneArg(obj, st->str_unlink, cd);
            if (r == NULL && PyErr_ExceptionMatches(PyExc_AttributeError) &&
                !PyObject_HasAttr(obj, st->str_unlink))
                PyErr_Clear();     /* no unlink: nothing to undo */
            rc = r != NULL || !PyErr_Occurred() ? 0 : -1;
            Py_XDECREF(r);
        }
        if (rc < 0)
            PyErr_WriteUnraisable(obj);
        Py_DECREF(obj);
    }
    if (exc != NULL)
        gevc__exc_raise(exc);
}

static PyObject *
start_timer(gevc_hub_state *st, PyObject *hub, PyObject *timeout, gevc_waiter *waiter)
{
    PyObject *loop = gevc_hub_loop(st, hub), *timer, *sw, *r;
    PyObject *kw, *stack[3];
    if (loop == NULL)
        return NULL;
    kw = PyTuple_Pack(1, st->str_priority);
    stack[0] = loop;
    stack[1] = timeout;
    stack[2] = st->minus_one;
    timer = kw == NULL ? NULL
        : PyObject_VectorcallMethod(st->str_timer, stack, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, kw);
    Py_XDECREF(kw);
    Py_DECREF(loop);
    if (timer == NULL)
        return NULL;
    sw = PyObject_GetAttr((PyObject *)waiter, st->str_switch);
    r = sw ? PyObject_CallMethodObjArgs(timer, st->str_start, sw, Py_None, NULL) : NULL;
    Py_XDECREF(sw);
    if (r == NULL) {
        Py_DECREF(timer);
        return NULL;
    }
    Py_DECREF(r);
    return timer;
}

/* Raise what the failed object holds: its _raise_exception(), or raise
 * its exception. */
static PyObject *
raise_failure(gevc_hub_state *st, PyObject *obj)
{
    PyObject *r, *exc;
    if (PyObject_TypeCheck(obj, st->glet_type) ||
        PyObject_HasAttr(obj, st->str_raise_exception)) {
        r = PyObject_CallMethodNoArgs(obj, st->str_raise_exception);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    exc = exception_of(st, obj);
    if (exc == NULL)
        return NULL;
    if (PyExceptionInstance_Check(exc))
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    else
        PyErr_Format(PyExc_TypeError, "exceptions must derive from BaseException, not %R", exc);
    Py_DECREF(exc);
    return NULL;
}

/* joinall/wait(objects) with parsed arguments; timeout and count may be
 * NULL or None. */
PyObject *
gevc__wait_all(gevc_hub_state *st, PyObject *objects, PyObject *timeout, int raise_error,
               PyObject *count_obj)
{
    PyObject *objs, *hub = NULL, *timer = NULL, *r, *res = NULL;
    countdown *cd = NULL;
    Py_ssize_t n, total, linked = 0;

    if ((objs = PySequence_List(objects)) == NULL)
        return NULL;
    n = total = PyList_GET_SIZE(objs);
    if (count_obj != NULL && count_obj != Py_None) {
        Py_ssize_t count = PyNumber_AsSsize_t(count_obj, PyExc_OverflowError);
        if (count == -1 && PyErr_Occurred())
            goto done;
        if (count < 0) {
            PyErr_SetString(PyExc_ValueError, "count must not be negative");
            goto done;
        }
        if (count < total)
            total = count;
    }
    if (total == 0) {
        res = PyList_New(0);
        goto done;
    }
    /* held: the allocations below may collect garbage whose __del__
     * destroys the hub */
    if ((hub = Py_XNewRef(gevc_hub_get(st))) == NULL)
        goto done;
    cd = PyObject_GC_New(countdown, st->countdown_type);
    if (cd == NULL)
        goto done;
    Py_INCREF(st->countdown_type);
    cd->waiter = gevc_waiter_new(st, hub);
    cd->done = PyList_New(0);
    cd->failed = NULL;
    cd->remaining = total;
    cd->raise_error = raise_error;
    cd->closed = 0;
    PyObject_GC_Track(cd);
    if (cd->waiter == NULL || cd->done == NULL)
        goto done;
    for (; linked < n; linked++) {
        PyObject *obj = Py_NewRef(PyList_GET_ITEM(objs, linked));
        int rc = link_one(st, obj, (PyObject *)cd);
        Py_DECREF(obj);
        if (rc < 0)
            goto unlink;
    }
    /* the waiter's hub (the one the links above saw) */
    if (timeout != NULL && timeout != Py_None &&
        (timer = start_timer(st, cd->waiter->hub, timeout, cd->waiter)) == NULL)
        goto unlink;
    r = gevc_waiter_get(cd->waiter);
    if (r == NULL)
        goto unlink;
    Py_DECREF(r);
    res = Py_NewRef(cd->done);
unlink:
    cd->closed = 1;
    if (timer != NULL) {
        PyObject *exc = gevc__exc_take();
        r = PyObject_CallMethodNoArgs(timer, st->str_close);
        if (r == NULL)
            PyErr_WriteUnraisable(timer);
        Py_XDECREF(r);
        if (exc != NULL)
            gevc__exc_raise(exc);
    }
    unlink_all(st, objs, linked, (PyObject *)cd);
    if (res != NULL && cd->failed != NULL)
        Py_SETREF(res, raise_failure(st, cd->failed));
done:
    Py_XDECREF(timer);
    Py_XDECREF((PyObject *)cd);
    Py_XDECREF(hub);
    Py_DECREF(objs);
    return res;
}

PyDoc_STRVAR(wait_all_doc, "wait_all(objects, timeout=None, raise_error=False, count=None)\n\n"
"Block until count (default: all) of objects are ready or timeout seconds\n"
"pass; return the ready ones in the order they became ready.  With\n"
"raise_error, the first to fail raises its exception here.  Objects need\n"
"rawlink and unlink.  joinall() and wait(objects) are this.");
static PyObject *
wait_all(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"objects", "timeout", "raise_error", "count", NULL};
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    PyObject *a[4];
    int raise_error;

    if (gevc__parse("wait_all", args, nargs, kwnames, names, 4, 1, a) < 0 ||
        (raise_error = gevc__as_bool(a[2], 0)) < 0)
        return NULL;
    return gevc__wait_all(st, a[0], a[1], raise_error, a[3]);
}

PyMethodDef gevc_wait_all_methods[] = {
    {"wait_all", (PyCFunction)(void (*)(void))wait_all, METH_FASTCALL | METH_KEYWORDS,
     wait_all_doc},
    {NULL, NULL, 0, NULL},
};
