/* AbstractLinkable and its hot subclasses in C: Event, Semaphore and
 * AsyncResult (gevent_c/_abstract_linkable.py, event.py, lock.py import
 * these when present).  Links are kept in a list and run in the order
 * added, once each, from one notifier callback per object and batch. */
#include "hub.h"

enum { LK_GENERIC, LK_EVENT, LK_SEM, LK_RESULT };

typedef struct {
    PyObject_HEAD
    gevc_hub_state *st;
    PyObject *hub;                 /* NULL until first needed */
    PyObject *links;               /* list */
    PyObject *notifier;            /* the pending loop callback, or NULL */
    PyObject *weakrefs;
    int kind;
    /* what the class says, valid while its version tag is cls_tag (0: not
     * known): ready() is the C type's own; _notify_all's truth (-1: ask);
     * _notify_links as the class has it (borrowed: the class holds it) */
    unsigned int cls_tag;
    int cls_native_ready;
    int cls_notify_all;
    PyObject *cls_notify_links;
} linkable;

typedef struct { linkable base; int flag; } event;
typedef struct { linkable base; Py_ssize_t counter; } semaphore;
typedef struct {
    linkable base;
    PyObject *value;               /* NULL: not set */
    PyObject *exc_info;            /* NULL: no exception; else a 3-tuple */
} result;

/* ---- readiness ---------------------------------------------------------- */

/* Refresh self's view of its class unless the class is unchanged since.
 * The last class looked at is remembered in the state too: objects are
 * often used once (AsyncResult), and the next one is likely of the same
 * class. */
static void
class_lookups(linkable *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    gevc_hub_state *st = self->st;
    PyObject *v;
    unsigned int tag = gevc__valid_version_tag(tp);
    if (tag != 0 && tag == self->cls_tag)
        return;
    if (tag != 0 && st->lk_class.tp == tp && st->lk_class.tag == tag &&
        st->lk_class.kind == self->kind) {
        self->cls_native_ready = st->lk_class.native_ready;
        self->cls_notify_all = st->lk_class.notify_all;
        self->cls_notify_links = st->lk_class.notify_links;
        self->cls_tag = tag;
        return;
    }
    self->cls_native_ready = self->kind != LK_GENERIC &&
        _PyType_Lookup(tp, st->str_ready) == st->ready_descr[self->kind];
    v = _PyType_Lookup(tp, st->str_notify_all);
    if (v == NULL)
        self->cls_notify_all = self->kind != LK_SEM;
    else if (v == Py_True || v == Py_False)
        self->cls_notify_all = v == Py_True;
    else
        self->cls_notify_all = -1;
    self->cls_notify_links = _PyType_Lookup(tp, st->str_notify_links);
    /* the lookups assign a tag if the class had none */
    self->cls_tag = gevc__valid_version_tag(tp);
    if (self->cls_tag != 0) {
        st->lk_class.tp = tp;
        st->lk_class.tag = self->cls_tag;
        st->lk_class.kind = self->kind;
        st->lk_class.native_ready = self->cls_native_ready;
        st->lk_class.notify_all = self->cls_notify_all;
        st->lk_class.notify_links = self->cls_notify_links;
    }
}

/* 1/0, -1 on error.  The C check applies unless a Python subclass
 * overrides ready(). */
static int
is_ready(linkable *self)
{
    PyObject *r;
    int rc;
    class_lookups(self);
    if (self->cls_native_ready) {
        switch (self->kind) {
        case LK_EVENT:
            return ((event *)self)->flag;
        case LK_SEM:
            return ((semaphore *)self)->counter > 0;
        default:
            return ((result *)self)->value != NULL || ((result *)self)->exc_info != NULL;
        }
    }
    r = PyObject_CallMethodNoArgs((PyObject *)self, self->st->str_ready);
    if (r == NULL)
        return -1;
    rc = PyObject_IsTrue(r);
    Py_DECREF(r);
    return rc;
}

static PyObject *
hub_of(linkable *self)
{
    if (self->hub == NULL || self->hub == Py_None) {
        PyObject *hub = gevc_hub_get(self->st);
        if (hub == NULL)
            return NULL;
        Py_XSETREF(self->hub, Py_NewRef(hub));
    }
    return self->hub;
}

static int
check_and_notify(linkable *self)
{
    PyObject *hub, *loop, *notify = NULL, *cb, *func;
    int ready;
    if (self->notifier != NULL || PyList_GET_SIZE(self->links) == 0)
        return 0;
    ready = is_ready(self);
    if (ready <= 0)
        return ready;
    if ((self->hub == NULL || self->hub == Py_None) &&
        gevc_hub_get_if_exists(self->st) == NULL) {
        PyObject *r;
        if (PyErr_Occurred())
            return -1;
        /* No hub in this thread, so no greenlet can be waiting here and
         * nothing else runs: the links run now, as in gevent. */
        Py_XSETREF(self->notifier, Py_NewRef(Py_True));
        r = PyObject_CallMethodNoArgs((PyObject *)self, self->st->str_notify_links);
        if (self->notifier == Py_True)
            Py_CLEAR(self->notifier);
        Py_XDECREF(r);
        return r == NULL ? -1 : 0;
    }
    hub = hub_of(self);
    if (hub == NULL)
        return -1;
    Py_INCREF(hub);
    loop = gevc_hub_loop(self->st, hub);
    class_lookups(self);      /* is_ready() did, unless it ran Python code */
    if (loop == NULL)
        cb = NULL;
    else if (PyObject_TypeCheck(loop, self->st->loop.loop_type)
             && gevc_hub_get_if_exists(self->st) == hub
             && (func = self->cls_notify_links) != NULL
             && (Py_IS_TYPE(func, &PyMethodDescr_Type) || PyFunction_Check(func) ||
                 PyCFunction_Check(func))) {
        /* the class's function with self as argument: no bound-method
         * object per notification */
        PyObject *arg = (PyObject *)self;
        cb = gevc_loop_run_callback((gevc_loop *)loop, func, &arg, 1);
    }
    else if (PyErr_Occurred())
        cb = NULL;
    else if ((notify = PyObject_GetAttr((PyObject *)self, self->st->str_notify_links)) == NULL)
        cb = NULL;
    else {
        /* made ready from another thread (or a stand-in loop) */
        PyObject *name = gevc_hub_get_if_exists(self->st) == hub
            ? self->st->str_run_callback : self->st->str_run_callback_threadsafe;
        PyObject *stack[2] = {loop, notify};
        cb = PyObject_VectorcallMethod(name, stack, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
    Py_XDECREF(notify);
    Py_XDECREF(loop);
    Py_DECREF(hub);
    if (cb == NULL)
        return -1;
    Py_XSETREF(self->notifier, cb);
    return 0;
}

static int
notify_all(linkable *self)
{
    PyObject *v;
    if (self->kind != LK_SEM && self->kind != LK_GENERIC)
        return 1;
    class_lookups(self);
    if (self->cls_notify_all >= 0)
        return self->cls_notify_all;
    v = _PyType_Lookup(Py_TYPE(self), self->st->str_notify_all);
    return v == NULL ? self->kind != LK_SEM : PyObject_IsTrue(v);
}

static int
report_link_error(linkable *self, PyObject *link)
{
    PyObject *exc = gevc__exc_take(), *ctx, *tb, *res;
    if (exc == NULL)
        return 0;
    ctx = PyTuple_Pack(2, link, (PyObject *)self);
    if (ctx == NULL || self->hub == NULL) {
        Py_XDECREF(ctx);
        gevc__exc_raise(exc);
        return -1;
    }
    tb = PyException_GetTraceback(exc);
    res = PyObject_CallMethodObjArgs(self->hub, self->st->str_handle_error, ctx,
                                     (PyObject *)Py_TYPE(exc), exc, tb ? tb : Py_None, NULL);
    Py_XDECREF(tb);
    Py_DECREF(ctx);
    Py_DECREF(exc);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

/* Take the first link out of links (a non-empty list), keeping the list's
 * storage for the next one (waits append and notifiers take one link at a
 * time, over and over). */
static PyObject *
pop_first(PyObject *links)
{
    PyListObject *list = (PyListObject *)links;
    Py_ssize_t n = Py_SIZE(list);
    PyObject *first = list->ob_item[0];
    memmove(&list->ob_item[0], &list->ob_item[1], (size_t)(n - 1) * sizeof(PyObject *));
    list->ob_item[n - 1] = NULL;
    Py_SET_SIZE(list, n - 1);
    return first;
}

static int
run_links(linkable *self)
{
    PyObject *links = self->links, *final = NULL, *link, *res;
    gevc_waiter *w;
    int only_while_ready, only_one, rc = 0;
    if (PyList_GET_SIZE(links) == 0)
        return 0;
    only_while_ready = notify_all(self);
    if (only_while_ready < 0)
        return -1;
    if (PyList_GET_SIZE(links) == 0)
        return 0;
    Py_INCREF(links);
    only_while_ready = !only_while_ready;
    /* The links present now are run, up to the last of them.  With just
     * one and no Python code to run before it is taken (ready() is the C
     * type's own), that one is the first taken: no reference to it is
     * kept, so that a pooled waiter's switch is free again at once. */
    only_one = PyList_GET_SIZE(links) == 1 && (!only_while_ready || self->cls_native_ready);
    if (!only_one)
        final = Py_NewRef(PyList_GET_ITEM(links, PyList_GET_SIZE(links) - 1));
    while (PyList_GET_SIZE(links) > 0) {
        if (only_while_ready) {
            int ready = is_ready(self);
            if (ready < 0) {
                rc = -1;
                break;
            }
            /* a Python ready() may have emptied the list */
            if (!ready || PyList_GET_SIZE(links) == 0)
                break;
        }
        link = pop_first(links);
        w = gevc_waiter_of_switch(link);
        if (w != NULL) {
            /* a Waiter's switch: called directly; the waiter knows our
             * reference to link is only dropped after */
            w->lent++;
            res = gevc_waiter_switch(w, (PyObject *)self);
            w->lent--;
        }
        else
            res = PyObject_CallOneArg(link, (PyObject *)self);
        if (res == NULL && report_link_error(self, link) < 0) {
            Py_DECREF(link);
            rc = -1;
            break;
        }
        Py_XDECREF(res);
        Py_DECREF(link);
        if (only_one || link == final)
            break;
    }
    Py_XDECREF(final);
    Py_DECREF(links);
    return rc;
}

static int
remove_link(linkable *self, PyObject *callback)
{
    PyObject *links = Py_NewRef(self->links);
    int rc = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(links); i++) {
        PyObject *item = PyList_GET_ITEM(links, i);
        int eq;
        if (item == callback) {
            rc = PyList_SetSlice(links, i, i + 1, NULL);
            break;
        }
        Py_INCREF(item);
        eq = PyObject_RichCompareBool(item, callback, Py_EQ);
        if (eq > 0 && i < PyList_GET_SIZE(links) && PyList_GET_ITEM(links, i) == item)
            rc = PyList_SetSlice(links, i, i + 1, NULL);
        Py_DECREF(item);
        if (eq != 0) {
            if (eq < 0)
                rc = -1;
            break;
        }
    }
    Py_DECREF(links);
    return rc;
}

/* 1 if obj is a gevent_c.timeout.Timeout, 0 if not, -1 error.  Asked only
 * of a timeout that is not a plain int or float. */
static int
is_timeout_object(PyObject *obj)
{
    PyObject *mod = PyImport_ImportModule("gevent_c.timeout"), *tp;
    int rc;
    if (mod == NULL)
        return -1;
    tp = PyObject_GetAttrString(mod, "Timeout");
    Py_DECREF(mod);
    if (tp == NULL)
        return -1;
    rc = PyObject_IsInstance(obj, tp);
    Py_DECREF(tp);
    return rc;
}

/* Start the Timeout object t unless it is pending already (as gevent). */
static int
start_timeout_object(PyObject *t)
{
    PyObject *pending = PyObject_GetAttrString(t, "pending"), *res;
    int is_pending;
    if (pending == NULL)
        return -1;
    is_pending = PyObject_IsTrue(pending);
    Py_DECREF(pending);
    if (is_pending != 0)
        return is_pending < 0 ? -1 : 0;
    res = PyObject_CallMethod(t, "start", NULL);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

/* 1 if the exception being raised is obj itself (then it is cleared). */
static int
raised_is(PyObject *obj)
{
    PyObject *exc = gevc__exc_take();
    if (exc == obj) {
        Py_DECREF(exc);
        return 1;
    }
    gevc__exc_raise(exc);
    return 0;
}

/* 1: notified; 0: timed out; -1: error (link removed).
 * timeout: None, seconds, or a Timeout object, which is started, closed at
 * the end, and raises itself (or its exception) when it expires; if it
 * raises itself and catch_own is set, that counts as timed out (0). */
static int
wait_core(linkable *self, PyObject *timeout, const char *method, int catch_own)
{
    gevc_hub_state *st = self->st;
    PyObject *hub, *sw = NULL, *timer = NULL, *res = NULL, *tobj = NULL;
    gevc_waiter *waiter;
    int rc = -1;
    if (timeout != NULL && timeout != Py_None && !PyFloat_CheckExact(timeout) &&
            !PyLong_CheckExact(timeout)) {
        int is = is_timeout_object(timeout);
        if (is < 0)
            return -1;
        if (is)
            tobj = timeout;
    }
    hub = hub_of(self);
    if (hub == NULL)
        return -1;
    waiter = gevc_waiter_take(st, hub, &sw);
    if (waiter == NULL)
        return -1;
    waiter->target = Py_NewRef((PyObject *)self);
    waiter->method = method;
    if (PyList_Append(self->links, sw) < 0)
        goto done;
    if (check_and_notify(self) < 0)
        goto unlink;
    if (tobj != NULL) {
        timer = Py_NewRef(tobj);   /* closed at the end, as a timer */
        if (start_timeout_object(tobj) < 0)
            goto unlink;
    }
    else if (timeout != NULL && timeout != Py_None) {
        PyObject *loop = gevc_hub_loop(st, hub), *started;
        if (loop == NULL)
            goto unlink;
        timer = PyObject_CallMethodOneArg(loop, st->str_timer, timeout);
        Py_DECREF(loop);
        if (timer == NULL)
            goto unlink;
        {
            PyObject *stack[4] = {timer, sw, Py_None, Py_True};
            PyObject *kw = PyTuple_Pack(1, st->str_update);
            if (kw == NULL)
                goto unlink;
            started = PyObject_VectorcallMethod(st->str_start, stack,
                                                3 | PY_VECTORCALL_ARGUMENTS_OFFSET, kw);
            Py_DECREF(kw);
        }
        if (started == NULL)
            goto unlink;
        Py_DECREF(started);
    }
    res = gevc_waiter_get(waiter);
    if (res == NULL) {
        if (tobj != NULL && catch_own && raised_is(tobj)) {
            if (remove_link(self, sw) == 0)
                rc = 0;
            goto done;
        }
        goto unlink;
    }
    if (res == (PyObject *)self) {
        rc = 1;
        goto done;
    }
    if (remove_link(self, sw) < 0)
        goto done;
    if (timer != NULL && res == Py_None) {
        rc = 0;                    /* the timer's switch(None) */
        goto done;
    }
    {
        PyObject *tp = gevc__exception(st, "InvalidSwitchError");
        if (tp != NULL) {
            PyErr_Format(tp, "Invalid switch into %s.%s(): %R",
                         _PyType_Name(Py_TYPE(self)), method, res);
            Py_DECREF(tp);
        }
    }
    goto done;
unlink:
    {
        PyObject *exc = gevc__exc_take();
        if (remove_link(self, sw) < 0)
            PyErr_WriteUnraisable((PyObject *)self);
        gevc__exc_raise(exc);
    }
done:
    if (timer != NULL) {
        PyObject *exc = rc < 0 ? gevc__exc_take() : NULL;
        PyObject *r = PyObject_CallMethodNoArgs(timer, st->str_close);
        if (r == NULL) {
            if (exc != NULL)
                PyErr_WriteUnraisable(timer);
            else
                rc = -1;
        }
        Py_XDECREF(r);
        if (exc != NULL)
            gevc__exc_raise(exc);
        Py_DECREF(timer);
    }
    Py_XDECREF(res);
    gevc_waiter_give(st, waiter, sw);
    return rc;
}

/* ---- AbstractLinkable --------------------------------------------------- */

static PyObject *
linkable_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    gevc_hub_state *st;
    linkable *self = (linkable *)gevc__hub_alloc(tp, &st);
    if (self == NULL)
        return NULL;
    self->st = st;
    self->links = PyList_New(0);
    if (self->links == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->kind = PyType_IsSubtype(tp, st->event_type) ? LK_EVENT
        : PyType_IsSubtype(tp, st->semaphore_type) ? LK_SEM
        : PyType_IsSubtype(tp, st->result_type) ? LK_RESULT : LK_GENERIC;
    return (PyObject *)self;
}

static int
linkable_init(linkable *self, PyObject *args, PyObject *kwargs)
{
    PyObject *hub;
    if (gevc__hub_arg("AbstractLinkable", args, kwargs, &hub) < 0)
        return -1;
    Py_XSETREF(self->hub, Py_XNewRef(hub));
    return 0;
}

static int
linkable_traverse(linkable *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->hub);
    Py_VISIT(self->links);
    Py_VISIT(self->notifier);
    if (self->kind == LK_RESULT) {
        Py_VISIT(((result *)self)->value);
        Py_VISIT(((result *)self)->exc_info);
    }
    return 0;
}

static int
linkable_clear(linkable *self)
{
    Py_CLEAR(self->hub);
    Py_CLEAR(self->notifier);
    if (self->kind == LK_RESULT) {
        Py_CLEAR(((result *)self)->value);
        Py_CLEAR(((result *)self)->exc_info);
    }
    /* links stay a list: methods may still run on a cleared object */
    if (self->links != NULL && PyList_GET_SIZE(self->links) &&
        PyList_SetSlice(self->links, 0, PyList_GET_SIZE(self->links), NULL) < 0)
        PyErr_Clear();             /* no memory for the slice: keep them */
    return 0;
}

static void
linkable_dealloc(linkable *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    Py_CLEAR(self->hub);
    Py_CLEAR(self->notifier);
    Py_CLEAR(self->links);
    if (self->kind == LK_RESULT) {
        Py_CLEAR(((result *)self)->value);
        Py_CLEAR(((result *)self)->exc_info);
    }
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(rawlink_doc, "rawlink(callback)\n\n"
"Call callback(self) from the hub once this object is ready.");
static PyObject *
linkable_rawlink(linkable *self, PyObject *callback)
{
    if (!PyCallable_Check(callback)) {
        PyErr_Format(PyExc_TypeError, "Expected callable: %R", callback);
        return NULL;
    }
    if (PyList_Append(self->links, callback) < 0 || check_and_notify(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(unlink_doc, "unlink(callback)\n\nRemove callback if it was linked and has not run yet.");
static PyObject *
linkable_unlink(linkable *self, PyObject *callback)
{
    if (remove_link(self, callback) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(linkcount_doc, "linkcount()\n\nNumber of links waiting for this object.");
static PyObject *
linkable_linkcount(linkable *self, PyObject *unused)
{
    return PyLong_FromSsize_t(PyList_GET_SIZE(self->links));
}

PyDoc_STRVAR(ready_abstract_doc, "ready()\n\nTrue once waiters would not block; subclasses define it.");
static PyObject *
linkable_ready(linkable *self, PyObject *unused)
{
    PyErr_SetString(PyExc_NotImplementedError, "ready() is defined by subclasses");
    return NULL;
}

PyDoc_STRVAR(check_and_notify_doc, "_check_and_notify()\n\n"
"Schedule the notifier if there are links and the object is ready.");
static PyObject *
linkable_check_and_notify(linkable *self, PyObject *unused)
{
    if (check_and_notify(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(notify_links_doc, "_notify_links()\n\n"
"Run the links present now, in order (the notifier callback).");
static PyObject *
linkable_notify_links(linkable *self, PyObject *unused)
{
    int rc;
    if (self->notifier == NULL) {
        /* not from the notifier (called by hand): only start one */
        if (check_and_notify(self) < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    rc = run_links(self);
    Py_CLEAR(self->notifier);
    if (rc < 0)
        return NULL;
    /* links added while notifying run in a following batch */
    if (check_and_notify(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(wait_core_doc, "_wait_core(timeout)\n\n"
"Block until notified (True) or timeout seconds pass (False).");
static PyObject *
linkable_wait_core(linkable *self, PyObject *timeout)
{
    int rc = wait_core(self, timeout, "_wait_core", 1);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

static PyObject *
get_links(linkable *self, void *c)
{
    return Py_NewRef(self->links);
}

static int
set_links(linkable *self, PyObject *value, void *c)
{
    if (value == NULL || !PyList_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "_links must be a list");
        return -1;
    }
    Py_SETREF(self->links, Py_NewRef(value));
    return 0;
}

static PyMethodDef linkable_methods[] = {
    {"rawlink", (PyCFunction)linkable_rawlink, METH_O, rawlink_doc},
    {"unlink", (PyCFunction)linkable_unlink, METH_O, unlink_doc},
    {"linkcount", (PyCFunction)linkable_linkcount, METH_NOARGS, linkcount_doc},
    {"ready", (PyCFunction)linkable_ready, METH_NOARGS, ready_abstract_doc},
    {"_check_and_notify", (PyCFunction)linkable_check_and_notify, METH_NOARGS,
     check_and_notify_doc},
    {"_notify_links", (PyCFunction)linkable_notify_links, METH_NOARGS, notify_links_doc},
    {"_wait_core", (PyCFunction)linkable_wait_core, METH_O, wait_core_doc},
    {NULL},
};

static PyGetSetDef linkable_getset[] = {
    {"hub", gevc__optional_get, gevc__optional_set, "The hub that notifies, or None.",
     (void *)offsetof(linkable, hub)},
    {"_links", (getter)get_links, (setter)set_links, "The pending links, in order.", NULL},
    {"_notifier", gevc__optional_get, gevc__optional_set,
     "The scheduled notifier callback, or None.", (void *)offsetof(linkable, notifier)},
    {NULL},
};

static PyMemberDef linkable_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(linkable, weakrefs), READONLY, NULL},
    {NULL},
};

PyDoc_STRVAR(linkable_doc, "AbstractLinkable(hub=None)\n\n"
"Base of Event, AsyncResult and Semaphore: an ordered list of links\n"
"(callables run as link(self) from the hub once the object is ready), one\n"
"notifier callback per batch, and _wait_core to block until notified.");

static PyType_Slot linkable_slots[] = {
    {Py_tp_new, linkable_new},
    {Py_tp_init, linkable_init},
    {Py_tp_dealloc, linkable_dealloc},
    {Py_tp_traverse, linkable_traverse},
    {Py_tp_clear, linkable_clear},
    {Py_tp_methods, linkable_methods},
    {Py_tp_getset, linkable_getset},
    {Py_tp_members, linkable_members},
    {Py_tp_doc, (void *)linkable_doc},
    {0, NULL},
};

PyType_Spec gevc_linkable_spec = {
    .name = "gevent_c._core.AbstractLinkable",
    .basicsize = sizeof(linkable),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = linkable_slots,
};

/* ---- Event -------------------------------------------------------------- */

static int
event_init(event *self, PyObject *args, PyObject *kwargs)
{
    if (gevc__no_args("Event", args, kwargs) < 0)
        return -1;
    self->flag = 0;
    return 0;
}

PyDoc_STRVAR(is_set_doc, "is_set()\n\nTrue once set and until cleared.");
static PyObject *
event_is_set(event *self, PyObject *unused)
{
    return PyBool_FromLong(self->flag);
}

PyDoc_STRVAR(event_set_doc, "set()\n\nSet the flag and wake every waiting greenlet (from the hub).");
static PyObject *
event_set(event *self, PyObject *unused)
{
    self->flag = 1;
    if (check_and_notify(&self->base) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(event_clear_doc, "clear()\n\nReset the flag; later wait() calls block again.");
static PyObject *
event_clear(event *self, PyObject *unused)
{
    self->flag = 0;
    Py_RETURN_NONE;
}

static PyObject *
one_timeout(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    if (gevc__parse(fname, args, nargs, kwnames, names, 1, 0, &timeout) < 0)
        return NULL;
    return timeout ? timeout : Py_None;
}

PyDoc_STRVAR(event_wait_doc, "wait(timeout=None)\n\n"
"Block until set (True) or timeout seconds pass (False).");
static PyObject *
event_wait(event *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *timeout = one_timeout("wait", args, nargs, kwnames);
    int rc;
    if (timeout == NULL)
        return NULL;
    /* set, and no notification pending: True now.  While one is pending,
     * the greenlets that blocked before set() are woken first (gevent). */
    if (self->flag && self->base.notifier == NULL)
        Py_RETURN_TRUE;
    rc = wait_core(&self->base, timeout, "wait", 1);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

PyDoc_STRVAR(reset_locks_doc, "_reset_internal_locks()\n\nthreading.Event compatibility after fork.");
static PyObject *
event_reset_locks(event *self, PyObject *unused)
{
    Py_RETURN_NONE;
}

static PyObject *
event_repr(event *self)
{
    return PyUnicode_FromFormat("<%s %s _links[%zd]>", _PyType_Name(Py_TYPE(self)),
                                self->flag ? "set" : "unset",
                                PyList_GET_SIZE(self->base.links));
}

static PyObject *
get_flag(event *self, void *c)
{
    return PyBool_FromLong(self->flag);
}

static int
set_flag(event *self, PyObject *value, void *c)
{
    int v = value ? PyObject_IsTrue(value) : 0;
    if (v < 0)
        return -1;
    self->flag = v;
    return 0;
}

static PyMethodDef event_methods[] = {
    {"is_set", (PyCFunction)event_is_set, METH_NOARGS, is_set_doc},
    {"isSet", (PyCFunction)event_is_set, METH_NOARGS, is_set_doc},
    {"ready", (PyCFunction)event_is_set, METH_NOARGS, is_set_doc},
    {"set", (PyCFunction)event_set, METH_NOARGS, event_set_doc},
    {"clear", (PyCFunction)event_clear, METH_NOARGS, event_clear_doc},
    {"wait", (PyCFunction)(void (*)(void))event_wait, METH_FASTCALL | METH_KEYWORDS,
     event_wait_doc},
    {"_reset_internal_locks", (PyCFunction)event_reset_locks, METH_NOARGS, reset_locks_doc},
    {"_at_fork_reinit", (PyCFunction)event_reset_locks, METH_NOARGS, reset_locks_doc},
    {NULL},
};

static PyGetSetDef event_getset[] = {
    {"_flag", (getter)get_flag, (setter)set_flag, "The flag.", NULL},
    {NULL},
};

PyDoc_STRVAR(event_doc, "Event()\n\n"
"A flag that greenlets can wait to become true.  set() wakes every waiter\n"
"(in the order they started waiting, from the hub); wait(timeout) blocks\n"
"until set and returns True, or False if timeout seconds passed first.");

static PyType_Slot event_slots[] = {
    {Py_tp_traverse, linkable_traverse},
    {Py_tp_clear, linkable_clear},
    {Py_tp_init, event_init},
    {Py_tp_methods, event_methods},
    {Py_tp_getset, event_getset},
    {Py_tp_repr, event_repr},
    {Py_tp_doc, (void *)event_doc},
    {0, NULL},
};

PyType_Spec gevc_event_spec = {
    .name = "gevent_c._core.Event",
    .basicsize = sizeof(event),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = event_slots,
};

/* ---- Semaphore ---------------------------------------------------------- */

static int
is_whole_float(PyObject *o)
{
    double d;
    if (!PyFloat_Check(o))
        return 0;
    d = PyFloat_AS_DOUBLE(o);
    return d > -1e15 && d < 1e15 && d == (double)(long long)d;
}

static int
semaphore_init_named(const char *fname, semaphore *self, PyObject *args, PyObject *kwargs)
{
    static const char *const names[] = {"value", "hub", NULL};
    PyObject *a[2] = {NULL, NULL};
    Py_ssize_t value = 1;
    if (gevc__parse_tuple(fname, args, kwargs, names, 2, 0, a) < 0)
        return -1;
    if (a[0] != NULL && is_whole_float(a[0])) {
        value = (Py_ssize_t)PyFloat_AS_DOUBLE(a[0]);   /* Semaphore(2.0), as gevent takes it */
    }
    else if (a[0] != NULL) {
        value = PyNumber_AsSsize_t(a[0], PyExc_OverflowError);
        if (value == -1 && PyErr_Occurred())
            return -1;
    }
    if (value < 0) {
        PyErr_SetString(PyExc_ValueError, "semaphore initial value must be >= 0");
        return -1;
    }
    self->counter = value;
    Py_XSETREF(self->base.hub, a[1] == NULL || a[1] == Py_None ? NULL : Py_NewRef(a[1]));
    return 0;
}

static int
semaphore_init(semaphore *self, PyObject *args, PyObject *kwargs)
{
    return semaphore_init_named("Semaphore", self, args, kwargs);
}

PyDoc_STRVAR(locked_doc, "locked()\n\nTrue if acquire() would block.");
static PyObject *
semaphore_locked(semaphore *self, PyObject *unused)
{
    return PyBool_FromLong(self->counter <= 0);
}

PyDoc_STRVAR(sem_ready_doc, "ready()\n\nTrue if acquire() would not block.");
static PyObject *
semaphore_ready(semaphore *self, PyObject *unused)
{
    return PyBool_FromLong(self->counter > 0);
}

PyDoc_STRVAR(release_doc, "release()\n\n"
"Return a slot and wake the next waiter; returns the new counter.");
static PyObject *
semaphore_release(semaphore *self, PyObject *unused)
{
    self->counter++;
    if (check_and_notify(&self->base) < 0)
        return NULL;
    return PyLong_FromSsize_t(self->counter);
}

PyDoc_STRVAR(sem_wait_doc, "wait(timeout=None)\n\n"
"Block until a slot is free (without taking it); return the counter.");
static PyObject *
semaphore_wait(semaphore *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *timeout = one_timeout("wait", args, nargs, kwnames);
    if (timeout == NULL)
        return NULL;
    if (self->counter <= 0 && wait_core(&self->base, timeout, "wait", 1) < 0)
        return NULL;
    return PyLong_FromSsize_t(self->counter);
}

/* A blocking acquire in a thread other than the one of the hub this
 * semaphore belongs to: gevent_c.lock._acquire_from_other_thread has the
 * owning hub take the slot for us.  1 acquired, 0 not, -1 error. */
static int
acquire_from_other_thread(semaphore *self, PyObject *timeout)
{
    PyObject *mod = PyImport_ImportModule("gevent_c.lock"), *res;
    int rc;
    if (mod == NULL)
        return -1;
    res = PyObject_CallMethod(mod, "_acquire_from_other_thread", "OO", (PyObject *)self,
                              timeout);
    Py_DECREF(mod);
    if (res == NULL)
        return -1;
    rc = PyObject_IsTrue(res);
    Py_DECREF(res);
    return rc;
}

static int
owned_by_other_thread(semaphore *self)
{
    PyObject *hub = self->base.hub;
    return hub != NULL && hub != Py_None && gevc_hub_get_if_exists(self->base.st) != hub;
}

/* With an exception set: 1 (and the exception cleared) if it is LoopExit
 * raised in a thread whose hub is not the main thread's, else 0. */
static int
loop_exit_off_main_hub(gevc_hub_state *st)
{
    PyObject *exc = gevc__exc_take(), *tp, *hub, *main;
    int off_main = 0;
    tp = gevc__exception(st, "LoopExit");
    if (tp != NULL && exc != NULL && PyErr_GivenExceptionMatches(exc, tp)) {
        hub = gevc_hub_get_if_exists(st);
        main = hub != NULL ? PyObject_GetAttrString(hub, "main_hub") : NULL;
        off_main = main != NULL && PyObject_Not(main) == 1;
        Py_XDECREF(main);
    }
    Py_XDECREF(tp);
    PyErr_Clear();
    if (off_main) {
        Py_XDECREF(exc);
        return 1;
    }
    gevc__exc_raise(exc);
    return 0;
}

/* 1 acquired, 0 not, -1 error */
static int
acquire(semaphore *self, int blocking, PyObject *timeout)
{
    PyObject *zero = NULL;
    int rc;
    /* a free slot is taken at once, even with greenlets queued (as gevent
     * and threading do): the notifier wakes waiters, in the order they
     * came, only while a slot is free, so a woken waiter gets one */
    if (self->counter > 0) {
        self->counter--;
        return 1;
    }
    if (!blocking)
        return 0;
    if (timeout != Py_None && (PyFloat_Check(timeout) || PyLong_Check(timeout))) {
        int neg;
        zero = PyLong_FromLong(0);
        if (zero == NULL)
            return -1;
        neg = PyObject_RichCompareBool(timeout, zero, Py_LT);
        if (neg < 0) {
            Py_DECREF(zero);
            return -1;
        }
        if (neg)
            timeout = zero;
    }
    if (owned_by_other_thread(self)) {
        rc = PyErr_Occurred() ? -1 : acquire_from_other_thread(self, timeout);
        Py_XDECREF(zero);
        return rc;
    }
    for (;;) {
        rc = wait_core(&self->base, timeout, "acquire", 1);
        if (rc < 0 && loop_exit_off_main_hub(self->base.st)) {
            /* alone in a thread whose hub has nothing else to run: another
             * thread will release; wait for it as from another thread */
            if (self->counter > 0) {
                self->counter--;
                rc = 1;
            }
            else
                rc = acquire_from_other_thread(self, timeout);
            break;
        }
        if (rc <= 0)
            break;
        if (self->counter > 0) {
            self->counter--;
            break;
        }
    }
    Py_XDECREF(zero);
    return rc;
}

PyDoc_STRVAR(acquire_doc, "acquire(blocking=True, timeout=None)\n\n"
"Take a slot; True on success, False if not blocking or timed out.  A free\n"
"slot is taken at once; blocked waiters get slots in the order they asked.");
static PyObject *
semaphore_acquire(semaphore *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"blocking", "timeout", NULL};
    PyObject *a[2] = {NULL, NULL};
    int blocking = 1, rc;
    if (gevc__parse("acquire", args, nargs, kwnames, names, 2, 0, a) < 0)
        return NULL;
    if (a[0] != NULL && (blocking = PyObject_IsTrue(a[0])) < 0)
        return NULL;
    rc = acquire(self, blocking, a[1] ? a[1] : Py_None);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

PyDoc_STRVAR(enter_doc, "__enter__()\n\nacquire().");
static PyObject *
semaphore_enter(semaphore *self, PyObject *unused)
{
    if (acquire(self, 1, Py_None) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(exit_doc, "__exit__(*exc)\n\nrelease() (through the type, so subclasses' release runs).");
static PyObject *
semaphore_exit(semaphore *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *r;
    if (Py_IS_TYPE(self, self->base.st->semaphore_type))
        r = semaphore_release(self, NULL);
    else
        r = PyObject_CallMethodNoArgs((PyObject *)self, self->base.st->str_release);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static PyObject *
semaphore_repr(semaphore *self)
{
    return PyUnicode_FromFormat("<%s at %p counter=%zd _links[%zd]>",
                                _PyType_Name(Py_TYPE(self)), self, self->counter,
                                PyList_GET_SIZE(self->base.links));
}

static PyMethodDef semaphore_methods[] = {
    {"locked", (PyCFunction)semaphore_locked, METH_NOARGS, locked_doc},
    {"ready", (PyCFunction)semaphore_ready, METH_NOARGS, sem_ready_doc},
    {"release", (PyCFunction)semaphore_release, METH_NOARGS, release_doc},
    {"wait", (PyCFunction)(void (*)(void))semaphore_wait, METH_FASTCALL | METH_KEYWORDS,
     sem_wait_doc},
    {"acquire", (PyCFunction)(void (*)(void))semaphore_acquire, METH_FASTCALL | METH_KEYWORDS,
     acquire_doc},
    {"__enter__", (PyCFunction)semaphore_enter, METH_NOARGS, enter_doc},
    {"__exit__", (PyCFunction)(void (*)(void))semaphore_exit, METH_FASTCALL, exit_doc},
    {NULL},
};

static PyMemberDef semaphore_members[] = {
    {"counter", T_PYSSIZET, offsetof(semaphore, counter), 0, "Free slots."},
    {NULL},
};

PyDoc_STRVAR(semaphore_doc, "Semaphore(value=1, hub=None)\n\n"
"A counter of free slots: acquire() takes one (blocking while none),\n"
"release() returns one and wakes the longest waiting greenlet.\n\n"
"    sem = Semaphore(2)\n"
"    with sem:\n"
"        ...   # at most two greenlets here at once");

static PyType_Slot semaphore_slots[] = {
    {Py_tp_traverse, linkable_traverse},
    {Py_tp_clear, linkable_clear},
    {Py_tp_init, semaphore_init},
    {Py_tp_methods, semaphore_methods},
    {Py_tp_members, semaphore_members},
    {Py_tp_repr, semaphore_repr},
    {Py_tp_doc, (void *)semaphore_doc},
    {0, NULL},
};

PyType_Spec gevc_semaphore_spec = {
    .name = "gevent_c._core.Semaphore",
    .basicsize = sizeof(semaphore),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = semaphore_slots,
};

/* ---- BoundedSemaphore and the _thread lock ----------------------------- */

/* A Semaphore that refuses to be released past its initial value, and the
 * cooperative _thread.lock (gevent_c.thread.LockType), a bounded semaphore
 * of one slot with the stdlib lock's API.  Being C, neither shows up in
 * sys.settrace/setprofile traces, so a trace function may use locks. */
typedef struct { semaphore base; Py_ssize_t initial; } bounded;

static int
bounded_init(bounded *self, PyObject *args, PyObject *kwargs)
{
    if (semaphore_init_named("BoundedSemaphore", &self->base, args, kwargs) < 0)
        return -1;
    self->initial = self->base.counter;
    return 0;
}

PyDoc_STRVAR(bounded_release_doc, "release()\n\n"
"Return a slot and wake the next waiter; returns the new counter.\n"
"ValueError if every slot is free already.");
static PyObject *
bounded_release(bounded *self, PyObject *unused)
{
    if (self->base.counter >= self->initial) {
        PyErr_SetString(PyExc_ValueError, "Semaphore released too many times");
        return NULL;
    }
    return semaphore_release(&self->base, NULL);
}

static PyObject *
bounded_exit(bounded *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *r;
    if (Py_IS_TYPE(self, self->base.base.st->bounded_type))
        r = bounded_release(self, NULL);
    else
        r = PyObject_CallMethodNoArgs((PyObject *)self, self->base.base.st->str_release);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static PyMethodDef bounded_methods[] = {
    {"release", (PyCFunction)bounded_release, METH_NOARGS, bounded_release_doc},
    {"__exit__", (PyCFunction)(void (*)(void))bounded_exit, METH_FASTCALL, exit_doc},
    {NULL},
};

static PyMemberDef bounded_members[] = {
    {"_initial_value", T_PYSSIZET, offsetof(bounded, initial), 0,
     "The initial value: release() refuses to go past it."},
    {NULL},
};

PyDoc_STRVAR(bounded_doc, "BoundedSemaphore(value=1, hub=None)\n\n"
"A Semaphore whose release() raises ValueError past its initial value.");

static PyType_Slot bounded_slots[] = {
    {Py_tp_traverse, linkable_traverse},
    {Py_tp_clear, linkable_clear},
    {Py_tp_init, bounded_init},
    {Py_tp_methods, bounded_methods},
    {Py_tp_members, bounded_members},
    {Py_tp_doc, (void *)bounded_doc},
    {0, NULL},
};

PyType_Spec gevc_bounded_spec = {
    .name = "gevent_c._core.BoundedSemaphore",
    .basicsize = sizeof(bounded),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = bounded_slots,
};

static PyObject *
lock_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    bounded *self;
    if (gevc__no_args("LockType", args, kwargs) < 0)
        return NULL;
    self = (bounded *)linkable_new(tp, NULL, NULL);
    if (self == NULL)
        return NULL;
    self->base.counter = 1;
    self->initial = 1;
    return (PyObject *)self;
}

/* tp_new did the work: calling __init__ again changes nothing */
static int
lock_init(bounded *self, PyObject *args, PyObject *kwargs)
{
    return gevc__no_args("LockType", args, kwargs);
}

/* acquire()'s timeout argument as the stdlib lock checks it: *timeout
 * None for "forever" (absent or -1), else a new float of seconds. */
static int
lock_timeout(gevc_hub_state *st, PyObject *arg, int blocking, PyObject **timeout)
{
    double t;
    *timeout = Py_None;
    if (arg == NULL)
        return 0;
    t = PyFloat_AsDouble(arg);
    if (t == -1.0) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (!blocking) {
        PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
        return -1;
    }
    if (Py_IS_NAN(t)) {
        PyErr_SetString(PyExc_ValueError, "Invalid value NaN (not a number)");
        return -1;
    }
    if (t < 0) {
        PyErr_SetString(PyExc_ValueError, "timeout value must be a non-negative number");
        return -1;
    }
    if (t > st->thread_timeout_max) {
        PyErr_SetString(PyExc_OverflowError, "timeout value is too large");
        return -1;
    }
    *timeout = PyFloat_FromDouble(t);
    return *timeout == NULL ? -1 : 0;
}

/* acquire() of the lock: 1 acquired, 0 not, -1 error.  A failed try-lock
 * lets the other greenlets run once, so that a loop of acquire(False)
 * lets the holder release (not from the hub: it may be printing a
 * thread's repr, gevent#1464). */
static int
lock_acquire_core(bounded *self, int blocking, PyObject *timeout)
{
    gevc_hub_state *st = self->base.base.st;
    PyObject *cur, *hub, *r;
    int rc = acquire(&self->base, blocking, timeout);
    if (rc != 0 || blocking)
        return rc;
    hub = gevc_hub_get_if_exists(st);
    if (hub == NULL && PyErr_Occurred())
        return -1;
    cur = st->gapi->getcurrent_borrowed();
    if (cur == NULL)
        return -1;
    if (cur != hub) {
        r = gevc_sleep0(st);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

PyDoc_STRVAR(lock_acquire_doc, "acquire(blocking=True, timeout=-1)\n\n"
"Acquire the lock, blocking this greenlet (not the thread) while another\n"
"holds it; True on success, False if not blocking or after timeout seconds\n"
"(-1: no limit).  A failed non-blocking attempt lets the other greenlets\n"
"run once, so a loop of acquire(False) lets the holder release.");
static PyObject *
lock_acquire(bounded *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"blocking", "timeout", NULL};
    gevc_hub_state *st = self->base.base.st;
    PyObject *a[2] = {NULL, NULL}, *timeout;
    int blocking = 1, rc;
    if (gevc__parse("acquire", args, nargs, kwnames, names, 2, 0, a) < 0)
        return NULL;
    if (a[0] != NULL && (blocking = PyObject_IsTrue(a[0])) < 0)
        return NULL;
    if (lock_timeout(st, a[1], blocking, &timeout) < 0)
        return NULL;
    rc = lock_acquire_core(self, blocking, timeout);
    if (timeout != Py_None)
        Py_DECREF(timeout);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

static int
lock_release_core(bounded *self)
{
    PyObject *r;
    if (self->base.counter > 0) {
        PyErr_SetString(PyExc_RuntimeError, "release unlocked lock");
        return -1;
    }
    r = semaphore_release(&self->base, NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

PyDoc_STRVAR(lock_release_doc, "release()\n\n"
"Release the lock and wake the next waiter; any greenlet or thread may\n"
"release it.  RuntimeError if it is not locked.");
static PyObject *
lock_release(bounded *self, PyObject *unused)
{
    if (lock_release_core(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(lock_enter_doc, "__enter__()\n\nacquire(); returns True.");
static PyObject *
lock_enter(bounded *self, PyObject *unused)
{
    int rc = acquire(&self->base, 1, Py_None);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

PyDoc_STRVAR(lock_exit_doc, "__exit__(*exc)\n\nrelease().");
static PyObject *
lock_exit(bounded *self, PyObject *const *args, Py_ssize_t nargs)
{
    return lock_release(self, NULL);
}

PyDoc_STRVAR(lock_fork_doc, "_at_fork_reinit()\n\n"
"In a forked child: the lock becomes free, nobody waits for it, and it\n"
"belongs to no hub yet (the child has only the forking thread's).");
static PyObject *
lock_at_fork_reinit(bounded *self, PyObject *unused)
{
    PyObject *links = PyList_New(0);
    if (links == NULL)
        return NULL;
    Py_SETREF(self->base.base.links, links);
    Py_CLEAR(self->base.base.notifier);
    Py_CLEAR(self->base.base.hub);
    self->base.counter = 1;
    Py_RETURN_NONE;
}

static PyObject *
lock_repr(bounded *self)
{
    return PyUnicode_FromFormat("<%s %s object at %p>",
                                self->base.counter > 0 ? "unlocked" : "locked",
                                Py_TYPE(self)->tp_name, self);
}

static PyMethodDef lock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))lock_acquire, METH_FASTCALL | METH_KEYWORDS,
     lock_acquire_doc},
    {"acquire_lock", (PyCFunction)(void (*)(void))lock_acquire, METH_FASTCALL | METH_KEYWORDS,
     lock_acquire_doc},
    {"release", (PyCFunction)lock_release, METH_NOARGS, lock_release_doc},
    {"release_lock", (PyCFunction)lock_release, METH_NOARGS, lock_release_doc},
    {"locked_lock", (PyCFunction)semaphore_locked, METH_NOARGS, locked_doc},
    {"__enter__", (PyCFunction)lock_enter, METH_NOARGS, lock_enter_doc},
    {"__exit__", (PyCFunction)(void (*)(void))lock_exit, METH_FASTCALL, lock_exit_doc},
    {"_at_fork_reinit", (PyCFunction)lock_at_fork_reinit, METH_NOARGS, lock_fork_doc},
    {NULL},
};

PyDoc_STRVAR(lock_doc, "LockType()\n\n"
"A cooperative _thread.lock: acquire() blocks the calling greenlet, not the\n"
"thread.  The stdlib lock's API (acquire(blocking=True, timeout=-1),\n"
"release(), locked(), a context manager); another greenlet or thread may\n"
"release it.  Not subclassable, as _thread.lock.");

static PyType_Slot lock_slots[] = {
    {Py_tp_traverse, linkable_traverse},
    {Py_tp_clear, linkable_clear},
    {Py_tp_new, lock_new},
    {Py_tp_init, lock_init},
    {Py_tp_methods, lock_methods},
    {Py_tp_repr, lock_repr},
    {Py_tp_doc, (void *)lock_doc},
    {0, NULL},
};

PyType_Spec gevc_lock_spec = {
    .name = "gevent_c.thread.LockType",
    .basicsize = sizeof(bounded),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = lock_slots,
};

/* ---- RLock --------------------------------------------------------------- */

/* A reentrant lock owned by a greenlet, over a one-slot block.  Two
 * flavours share the code: gevent_c.lock.RLock (gevent's API: hub
 * argument, timeout=None, the block a Semaphore, _owner the greenlet) and
 * gevent_c.threading._CRLock, what threading.RLock() makes once patched (the
 * _thread.RLock API: timeout=-1, idents, the block a LockType). */
typedef struct {
    PyObject_HEAD
    gevc_hub_state *st;
    PyObject *block;               /* Semaphore or LockType */
    PyObject *owner;               /* NULL: free; else the owning greenlet
                                    * (or an ident _acquire_restore gave) */
    Py_ssize_t count;
    PyObject *weakrefs;
    int stdlib;                    /* the _thread.RLock flavour */
} rlock;

/* The arguments are __init__'s business (a Python subclass may take
 * others), except for the _thread flavour, which takes none. */
static PyObject *
rlock_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    gevc_hub_state *st = gevc_hub_state_from_type(tp);
    PyObject *block;
    rlock *self;
    int stdlib;
    if (st == NULL)
        return NULL;
    stdlib = PyType_IsSubtype(tp, st->thread_rlock_type);
    if (stdlib && gevc__no_args("RLock", args, kwargs) < 0)
        return NULL;
    block = PyObject_CallNoArgs((PyObject *)(stdlib ? st->lock_type : st->semaphore_type));
    if (block == NULL)
        return NULL;
    self = (rlock *)gevc__hub_alloc(tp, &st);
    if (self == NULL) {
        Py_DECREF(block);
        return NULL;
    }
    self->st = st;
    self->block = block;
    self->stdlib = stdlib;
    return (PyObject *)self;
}

static int
rlock_init(rlock *self, PyObject *args, PyObject *kwargs)
{
    PyObject *hub;
    if (self->stdlib)
        return gevc__no_args("RLock", args, kwargs);
    if (gevc__hub_arg("RLock", args, kwargs, &hub) < 0)
        return -1;
    /* the block belongs to that hub, as Semaphore(1, hub) */
    Py_XSETREF(((linkable *)self->block)->hub, Py_XNewRef(hub));
    return 0;
}

static int
rlock_traverse(rlock *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->block);
    Py_VISIT(self->owner);
    return 0;
}

static int
rlock_clear(rlock *self)
{
    Py_CLEAR(self->owner);
    return 0;                      /* the block stays: methods may still run */
}

static void
rlock_dealloc(rlock *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    Py_CLEAR(self->owner);
    Py_CLEAR(self->block);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* 1 acquired, 0 not, -1 error; timeout None or seconds (checked) */
static int
rlock_acquire_core(rlock *self, int blocking, PyObject *timeout)
{
    PyObject *cur = self->st->gapi->getcurrent_borrowed();
    int rc;
    if (cur == NULL)
        return -1;
    if (self->owner == cur) {
        self->count++;
        return 1;
    }
    if (self->stdlib)
        rc = lock_acquire_core((bounded *)self->block, blocking, timeout);
    else
        rc = acquire((semaphore *)self->block, blocking, timeout);
    if (rc == 1) {
        /* the current greenlet again: a switch may have happened */
        cur = self->st->gapi->getcurrent_borrowed();
        if (cur == NULL)
            return -1;
        Py_XSETREF(self->owner, Py_NewRef(cur));
        self->count = 1;
    }
    return rc;
}

PyDoc_STRVAR(rlock_acquire_doc, "acquire(blocking=True, timeout=None)\n\n"
"Acquire the lock, or acquire it once more if the current greenlet owns it;\n"
"True on success, False if not blocking or after timeout seconds\n"
"(gevent_c.threading._CRLock: timeout=-1, no limit, as _thread.RLock).");
static PyObject *
rlock_acquire(rlock *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"blocking", "timeout", NULL};
    PyObject *a[2] = {NULL, NULL}, *timeout;
    int blocking = 1, rc;
    if (gevc__parse("acquire", args, nargs, kwnames, names, 2, 0, a) < 0)
        return NULL;
    if (a[0] != NULL && (blocking = PyObject_IsTrue(a[0])) < 0)
        return NULL;
    if (!self->stdlib)
        timeout = Py_NewRef(a[1] ? a[1] : Py_None);
    else if (lock_timeout(self->st, a[1], blocking, &timeout) < 0)
        return NULL;
    else if (timeout == Py_None)
        Py_INCREF(timeout);
    rc = rlock_acquire_core(self, blocking, timeout);
    Py_DECREF(timeout);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

static int
rlock_owned(rlock *self)
{
    PyObject *cur = self->st->gapi->getcurrent_borrowed();
    if (cur == NULL)
        return -1;
    return self->owner != NULL && self->owner == cur;
}

static int
release_block(rlock *self)
{
    PyObject *r = semaphore_release((semaphore *)self->block, NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

PyDoc_STRVAR(rlock_release_doc, "release()\n\n"
"Release one level; the lock is free when the count reaches 0.\n"
"RuntimeError unless the current greenlet owns it.");
static PyObject *
rlock_release(rlock *self, PyObject *unused)
{
    int owned = rlock_owned(self);
    if (owned < 0)
        return NULL;
    if (!owned || self->count <= 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
        return NULL;
    }
    if (--self->count == 0) {
        Py_CLEAR(self->owner);
        if (release_block(self) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(rlock_enter_doc, "__enter__()\n\nacquire(); returns True.");
static PyObject *
rlock_enter(rlock *self, PyObject *unused)
{
    int rc = rlock_acquire_core(self, 1, Py_None);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

PyDoc_STRVAR(rlock_exit_doc, "__exit__(*exc)\n\nrelease().");
static PyObject *
rlock_exit(rlock *self, PyObject *const *args, Py_ssize_t nargs)
{
    return rlock_release(self, NULL);
}

PyDoc_STRVAR(rlock_locked_doc, "locked()\n\nTrue if some greenlet holds the lock.");
static PyObject *
rlock_locked(rlock *self, PyObject *unused)
{
    return PyBool_FromLong(((semaphore *)self->block)->counter <= 0);
}

PyDoc_STRVAR(rlock_is_owned_doc, "_is_owned()\n\nTrue if the current greenlet holds the lock.");
static PyObject *
rlock_is_owned(rlock *self, PyObject *unused)
{
    int owned = rlock_owned(self);
    return owned < 0 ? NULL : PyBool_FromLong(owned);
}

/* The owner as _release_save reports it: the greenlet (gevent flavour) or
 * its ident, id(greenlet) as gevent_c.thread.get_ident() (thread flavour). */
static PyObject *
owner_for_caller(rlock *self)
{
    if (self->owner == NULL)
        return self->stdlib ? PyLong_FromLong(0) : Py_NewRef(Py_None);
    if (self->stdlib && !PyLong_Check(self->owner))
        return PyLong_FromVoidPtr(self->owner);
    return Py_NewRef(self->owner);
}

PyDoc_STRVAR(rlock_release_save_doc, "_release_save()\n\n"
"threading.Condition.wait: release every level; return (count, owner).");
static PyObject *
rlock_release_save(rlock *self, PyObject *unused)
{
    PyObject *state, *owner;
    if (self->stdlib && self->count == 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
        return NULL;
    }
    owner = owner_for_caller(self);
    if (owner == NULL)
        return NULL;
    state = Py_BuildValue("(nN)", self->count, owner);
    if (state == NULL)
        return NULL;
    self->count = 0;
    Py_CLEAR(self->owner);
    if (release_block(self) < 0) {
        Py_DECREF(state);
        return NULL;
    }
    return state;
}

PyDoc_STRVAR(rlock_acquire_restore_doc, "_acquire_restore(state)\n\n"
"threading.Condition.wait: acquire again and restore the (count, owner)\n"
"that _release_save returned.");
static PyObject *
rlock_acquire_restore(rlock *self, PyObject *state)
{
    Py_ssize_t count;
    PyObject *owner, *cur;
    int rc;
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) != 2) {
        PyErr_SetString(PyExc_TypeError, "_acquire_restore() argument must be a (count, owner) tuple");
        return NULL;
    }
    count = PyNumber_AsSsize_t(PyTuple_GET_ITEM(state, 0), PyExc_OverflowError);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    owner = Py_NewRef(PyTuple_GET_ITEM(state, 1));
    if (self->stdlib)
        rc = lock_acquire_core((bounded *)self->block, 1, Py_None);
    else
        rc = acquire((semaphore *)self->block, 1, Py_None);
    if (rc < 0) {
        Py_DECREF(owner);
        return NULL;
    }
    cur = self->st->gapi->getcurrent_borrowed();
    if (cur == NULL) {
        Py_DECREF(owner);
        return NULL;
    }
    if (self->stdlib && PyLong_Check(owner) && PyLong_AsVoidPtr(owner) == (void *)cur)
        Py_SETREF(owner, Py_NewRef(cur));   /* the ident of this greenlet */
    PyErr_Clear();                 /* an ident too large for a pointer */
    self->count = count;
    Py_XSETREF(self->owner, owner == Py_None ? NULL : owner);
    if (owner == Py_None)
        Py_DECREF(owner);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(rlock_recursion_count_doc, "_recursion_count()\n\n"
"How many times the current greenlet holds the lock (0 if it does not).");
static PyObject *
rlock_recursion_count(rlock *self, PyObject *unused)
{
    int owned = rlock_owned(self);
    if (owned < 0)
        return NULL;
    return PyLong_FromSsize_t(owned ? self->count : 0);
}

PyDoc_STRVAR(rlock_fork_doc, "_at_fork_reinit()\n\nIn a forked child: free, with no owner.");
static PyObject *
rlock_at_fork_reinit(rlock *self, PyObject *unused)
{
    PyObject *block = PyObject_CallNoArgs((PyObject *)Py_TYPE(self->block) ==
                                          (PyObject *)self->st->lock_type
                                          ? (PyObject *)self->st->lock_type
                                          : (PyObject *)self->st->semaphore_type);
    if (block == NULL)
        return NULL;
    Py_SETREF(self->block, block);
    Py_CLEAR(self->owner);
    self->count = 0;
    Py_RETURN_NONE;
}

static PyObject *
rlock_repr(rlock *self)
{
    PyObject *owner, *res;
    if (!self->stdlib)
        return PyUnicode_FromFormat("<%s at %p _block=%R _count=%zd _owner=%R>",
                                    _PyType_Name(Py_TYPE(self)), self, self->block,
                                    self->count, self->owner ? self->owner : Py_None);
    owner = owner_for_caller(self);
    if (owner == NULL)
        return NULL;
    res = PyUnicode_FromFormat("<%s %s object owner=%S count=%zd at %p>",
                               ((semaphore *)self->block)->counter <= 0 ? "locked" : "unlocked",
                               Py_TYPE(self)->tp_name, owner, self->count, self);
    Py_DECREF(owner);
    return res;
}

static PyObject *
rlock_get_owner(rlock *self, void *c)
{
    return Py_NewRef(self->owner ? self->owner : Py_None);
}

static int
rlock_set_owner(rlock *self, PyObject *value, void *c)
{
    Py_XSETREF(self->owner, value == NULL || value == Py_None ? NULL : Py_NewRef(value));
    return 0;
}

static PyObject *
rlock_get_block(rlock *self, void *c)
{
    return Py_NewRef(self->block);
}

static PyMethodDef rlock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))rlock_acquire, METH_FASTCALL | METH_KEYWORDS,
     rlock_acquire_doc},
    {"release", (PyCFunction)rlock_release, METH_NOARGS, rlock_release_doc},
    {"__enter__", (PyCFunction)rlock_enter, METH_NOARGS, rlock_enter_doc},
    {"__exit__", (PyCFunction)(void (*)(void))rlock_exit, METH_FASTCALL, rlock_exit_doc},
    {"locked", (PyCFunction)rlock_locked, METH_NOARGS, rlock_locked_doc},
    {"_is_owned", (PyCFunction)rlock_is_owned, METH_NOARGS, rlock_is_owned_doc},
    {"_release_save", (PyCFunction)rlock_release_save, METH_NOARGS, rlock_release_save_doc},
    {"_acquire_restore", (PyCFunction)rlock_acquire_restore, METH_O, rlock_acquire_restore_doc},
    {"_recursion_count", (PyCFunction)rlock_recursion_count, METH_NOARGS,
     rlock_recursion_count_doc},
    {"_at_fork_reinit", (PyCFunction)rlock_at_fork_reinit, METH_NOARGS, rlock_fork_doc},
    {NULL},
};

static PyGetSetDef rlock_getset[] = {
    {"_owner", (getter)rlock_get_owner, (setter)rlock_set_owner,
     "The owning greenlet, or None.", NULL},
    {"_block", (getter)rlock_get_block, NULL, "The one-slot lock under it.", NULL},
    {NULL},
};

static PyMemberDef rlock_members[] = {
    {"_count", T_PYSSIZET, offsetof(rlock, count), 0, "Levels held by the owner."},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(rlock, weakrefs), READONLY, NULL},
    {NULL},
};

PyDoc_STRVAR(rlock_doc, "RLock(hub=None)\n\n"
"A reentrant lock owned by the greenlet that acquired it: the owner may\n"
"acquire it again, and must release it as many times.");

static PyType_Slot rlock_slots[] = {
    {Py_tp_new, rlock_new},
    {Py_tp_init, rlock_init},
    {Py_tp_dealloc, rlock_dealloc},
    {Py_tp_traverse, rlock_traverse},
    {Py_tp_clear, rlock_clear},
    {Py_tp_methods, rlock_methods},
    {Py_tp_getset, rlock_getset},
    {Py_tp_members, rlock_members},
    {Py_tp_repr, rlock_repr},
    {Py_tp_doc, (void *)rlock_doc},
    {0, NULL},
};

PyType_Spec gevc_rlock_spec = {
    .name = "gevent_c._core.RLock",
    .basicsize = sizeof(rlock),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = rlock_slots,
};

PyDoc_STRVAR(thread_rlock_doc, "_CRLock()\n\n"
"What threading.RLock() makes once patched: _thread.RLock's API over a\n"
"cooperative lock, owned by a greenlet (its ident is get_ident()).");

static PyType_Slot thread_rlock_slots[] = {
    {Py_tp_traverse, rlock_traverse},
    {Py_tp_clear, rlock_clear},
    {Py_tp_doc, (void *)thread_rlock_doc},
    {0, NULL},
};

PyType_Spec gevc_thread_rlock_spec = {
    .name = "gevent_c.threading._CRLock",
    .basicsize = sizeof(rlock),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = thread_rlock_slots,
};

static int
thread_timeout_max(double *out)
{
    PyObject *mod = PyImport_ImportModule("_thread"), *v;
    if (mod == NULL)
        return -1;
    v = PyObject_GetAttrString(mod, "TIMEOUT_MAX");
    Py_DECREF(mod);
    if (v == NULL)
        return -1;
    *out = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* ---- AsyncResult core: set/get; gevent_c/event.py adds the rest ---------- */

static int
result_init(result *self, PyObject *args, PyObject *kwargs)
{
    if (gevc__no_args("AsyncResult", args, kwargs) < 0)
        return -1;
    return 0;
}

PyDoc_STRVAR(result_set_doc, "set(value=None)\n\nStore value and wake every waiter.");
static PyObject *
result_set(result *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"value", NULL};
    PyObject *value = NULL;
    if (kwnames == NULL && nargs <= 1)
        value = nargs ? args[0] : NULL;
    else if (gevc__parse("set", args, nargs, kwnames, names, 1, 0, &value) < 0)
        return NULL;
    Py_XSETREF(self->value, Py_NewRef(value ? value : Py_None));
    if (check_and_notify(&self->base) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(result_ready_doc, "ready()\n\nTrue once a value or an exception was set.");
static PyObject *
result_ready(result *self, PyObject *unused)
{
    return PyBool_FromLong(self->value != NULL || self->exc_info != NULL);
}

PyDoc_STRVAR(result_successful_doc, "successful()\n\nTrue if a value (not an exception) was set.");
static PyObject *
result_successful(result *self, PyObject *unused)
{
    return PyBool_FromLong(self->value != NULL);
}

/* Calling the stored type runs Python code, which may replace exc_info:
   the tuple is held so that its items outlive the call. */
static PyObject *
raise_stored(result *self)
{
    PyObject *info = Py_NewRef(self->exc_info);
    PyObject *typ = PyTuple_GET_ITEM(info, 0), *val = PyTuple_GET_ITEM(info, 1);
    PyObject *tb = PyTuple_GET_ITEM(info, 2);
    if (val == Py_None)
        val = PyObject_CallNoArgs(typ);
    else
        Py_INCREF(val);
    if (val == NULL)
        goto done;
    if (!PyExceptionInstance_Check(val)) {
        PyErr_Format(PyExc_TypeError, "stored exception is not an exception: %R", val);
        goto done;
    }
    /* the stored traceback (or none): each get() raises from there, so the
     * frames of earlier raises do not pile up on the shared exception */
    if (PyException_SetTraceback(val, tb) < 0)
        goto done;
    PyErr_SetObject((PyObject *)Py_TYPE(val), val);
done:
    Py_XDECREF(val);
    Py_DECREF(info);
    return NULL;
}

static PyObject *
raise_timeout(gevc_hub_state *st, PyObject *timeout)
{
    PyObject *mod = PyImport_ImportModule("gevent_c.timeout"), *tp, *exc;
    if (mod == NULL)
        return NULL;
    tp = PyObject_GetAttrString(mod, "Timeout");
    Py_DECREF(mod);
    if (tp == NULL)
        return NULL;
    exc = timeout ? PyObject_CallOneArg(tp, timeout) : PyObject_CallNoArgs(tp);
    Py_DECREF(tp);
    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

PyDoc_STRVAR(result_get_doc, "get(block=True, timeout=None)\n\n"
"Return the value or raise the exception, blocking until set.  With\n"
"block=False or after timeout seconds, raise Timeout.");
static PyObject *
result_get(result *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"block", "timeout", NULL};
    PyObject *a[2] = {NULL, NULL};
    int block = 1, rc;
    if ((kwnames != NULL || nargs != 0) &&
        gevc__parse("get", args, nargs, kwnames, names, 2, 0, a) < 0)
        return NULL;
    if (a[0] != NULL && (block = PyObject_IsTrue(a[0])) < 0)
        return NULL;
    if (self->value != NULL)
        return Py_NewRef(self->value);
    if (self->exc_info != NULL)
        return raise_stored(self);
    if (!block)
        return raise_timeout(self->base.st, NULL);
    rc = wait_core(&self->base, a[1], "get", 0);
    if (rc < 0)
        return NULL;
    if (rc == 0)
        return raise_timeout(self->base.st, a[1] ? a[1] : Py_None);
    if (self->value != NULL)
        return Py_NewRef(self->value);
    if (self->exc_info != NULL)
        return raise_stored(self);
    return raise_timeout(self->base.st, NULL);
}

static PyObject *
get_value_raw(result *self, void *c)
{
    return Py_NewRef(self->value ? self->value : self->base.st->waiter_unset);
}

static int
set_value_raw(result *self, PyObject *value, void *c)
{
    Py_XSETREF(self->value, value == NULL || value == self->base.st->waiter_unset
               ? NULL : Py_NewRef(value));
    return 0;
}

static PyObject *
get_exc_info_raw(result *self, void *c)
{
    if (self->exc_info == NULL)
        return PyTuple_New(0);
    return Py_NewRef(self->exc_info);
}

static int
set_exc_info_raw(result *self, PyObject *value, void *c)
{
    if (value == NULL || (PyTuple_Check(value) && PyTuple_GET_SIZE(value) == 0)) {
        Py_CLEAR(self->exc_info);
        return 0;
    }
    if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 3) {
        PyErr_SetString(PyExc_TypeError, "_exc_info must be () or a 3-tuple");
        return -1;
    }
    Py_XSETREF(self->exc_info, Py_NewRef(value));
    return 0;
}

static PyMethodDef result_methods[] = {
    {"set", (PyCFunction)(void (*)(void))result_set, METH_FASTCALL | METH_KEYWORDS, result_set_doc},
    {"set_result", (PyCFunction)(void (*)(void))result_set, METH_FASTCALL | METH_KEYWORDS,
     result_set_doc},
    {"get", (PyCFunction)(void (*)(void))result_get, METH_FASTCALL | METH_KEYWORDS,
     result_get_doc},
    {"ready", (PyCFunction)result_ready, METH_NOARGS, result_ready_doc},
    {"successful", (PyCFunction)result_successful, METH_NOARGS, result_successful_doc},
    {NULL},
};

static PyGetSetDef result_getset[] = {
    {"_value", (getter)get_value_raw, (setter)set_value_raw,
     "The value set, or the _core._WAITER_UNSET marker.", NULL},
    {"_exc_info", (getter)get_exc_info_raw, (setter)set_exc_info_raw,
     "(type, value, traceback) of the exception set, or ().", NULL},
    {NULL},
};

PyDoc_STRVAR(result_doc, "AsyncResult()\n\n"
"The hot core of gevent_c.event.AsyncResult: a one-shot value or exception\n"
"that greenlets can wait for (set/get); the Python subclass adds the rest.");

static PyType_Slot result_slots[] = {
    {Py_tp_traverse, linkable_traverse},
    {Py_tp_clear, linkable_clear},
    {Py_tp_init, result_init},
    {Py_tp_methods, result_methods},
    {Py_tp_getset, result_getset},
    {Py_tp_doc, (void *)result_doc},
    {0, NULL},
};

PyType_Spec gevc_result_spec = {
    .name = "gevent_c._core.AsyncResult",
    .basicsize = sizeof(result),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = result_slots,
};

int
gevc__linkable_types_init(PyObject *mod, gevc_hub_state *st)
{
    static const char *const methodnames[] = {NULL, "is_set", "ready", "ready"};
    PyTypeObject *types[4];
    PyObject *base;
    st->linkable_type = (PyTypeObject *)PyType_FromModuleAndSpec(mod, &gevc_linkable_spec, NULL);
    if (st->linkable_type == NULL)
        return -1;
    base = (PyObject *)st->linkable_type;
    st->event_type = (PyTypeObject *)PyType_FromModuleAndSpec(mod, &gevc_event_spec, base);
    st->semaphore_type = (PyTypeObject *)PyType_FromModuleAndSpec(mod, &gevc_semaphore_spec, base);
    st->result_type = (PyTypeObject *)PyType_FromModuleAndSpec(mod, &gevc_result_spec, base);
    if (st->event_type == NULL || st->semaphore_type == NULL || st->result_type == NULL)
        return -1;
    st->bounded_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        mod, &gevc_bounded_spec, (PyObject *)st->semaphore_type);
    if (st->bounded_type == NULL)
        return -1;
    st->lock_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        mod, &gevc_lock_spec, (PyObject *)st->bounded_type);
    if (st->lock_type == NULL || thread_timeout_max(&st->thread_timeout_max) < 0)
        return -1;
    st->rlock_type = (PyTypeObject *)PyType_FromModuleAndSpec(mod, &gevc_rlock_spec, NULL);
    if (st->rlock_type == NULL)
        return -1;
    st->thread_rlock_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        mod, &gevc_thread_rlock_spec, (PyObject *)st->rlock_type);
    if (st->thread_rlock_type == NULL)
        return -1;
    types[LK_GENERIC] = st->linkable_type;
    types[LK_EVENT] = st->event_type;
    types[LK_SEM] = st->semaphore_type;
    types[LK_RESULT] = st->result_type;
    for (int k = LK_EVENT; k <= LK_RESULT; k++) {
        /* borrowed: the type's dict keeps it; compared by identity */
        st->ready_descr[k] = PyDict_GetItemString(types[k]->tp_dict, "ready");
        if (st->ready_descr[k] == NULL) {
            PyErr_Format(PyExc_SystemError, "no %s", methodnames[k]);
            return -1;
        }
    }
    if (PyModule_AddObjectRef(mod, "AbstractLinkable", base) < 0 ||
        PyModule_AddObjectRef(mod, "Event", (PyObject *)st->event_type) < 0 ||
        PyModule_AddObjectRef(mod, "Semaphore", (PyObject *)st->semaphore_type) < 0 ||
        PyModule_AddObjectRef(mod, "AsyncResult", (PyObject *)st->result_type) < 0 ||
        PyModule_AddObjectRef(mod, "BoundedSemaphore", (PyObject *)st->bounded_type) < 0 ||
        PyModule_AddObjectRef(mod, "LockType", (PyObject *)st->lock_type) < 0 ||
        PyModule_AddObjectRef(mod, "RLock", (PyObject *)st->rlock_type) < 0 ||
        PyModule_AddObjectRef(mod, "ThreadRLock", (PyObject *)st->thread_rlock_type) < 0)
        return -1;
    return 0;
}
