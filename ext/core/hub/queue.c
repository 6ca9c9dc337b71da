/* QueueBase: the storage and the non-blocking fast paths of
 * gevent_c.queue.SimpleQueue/Queue.  put() and get() that need neither to
 * block nor to hand over to a waiter run here; everything else goes to the
 * Python methods _put_slow/_get_slow of the subclass. */
#include "hub.h"

typedef struct {
    PyObject_HEAD
    gevc_hub_state *st;
    PyObject *queue;               /* a collections.deque, set by _init */
    PyObject *getters, *putters;   /* deques of Waiters */
    PyObject *hub;
    PyObject *event_unlock;        /* the scheduled _unlock callback */
    PyObject *cond;                /* Queue's all-tasks-done Event, or NULL */
    PyObject *weakrefs;
    Py_ssize_t maxsize;            /* -1: unbounded */
    Py_ssize_t unfinished_tasks;
    int is_shutdown;
    /* is_fast()'s answer for the class whose version tag is fast_tag */
    unsigned int fast_tag;
    int fast;
} queuebase;

/* The class flag set by SimpleQueue.__init_subclass__: the bottleneck
 * methods are the deque-based ones, so self.queue may be used directly.
 * Looked up again only after the class changed (its version tag moved). */
static int
is_fast(queuebase *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    unsigned int tag = gevc__valid_version_tag(tp);
    if (tag != 0 && tag == self->fast_tag)
        return self->fast;
    self->fast = _PyType_Lookup(tp, self->st->str_fast) == Py_True;
    /* the lookup assigns a tag if the class had none */
    self->fast_tag = gevc__valid_version_tag(tp);
    return self->fast;
}

/* The storage and the waiter lists are exact deques unless user code put
 * something else there: those go through deque's own C functions. */
static inline int
is_deque(queuebase *self, PyObject *o)
{
    return Py_IS_TYPE(o, self->st->deque.type);
}

static Py_ssize_t
size_of(queuebase *self, PyObject *deq)
{
    if (deq == NULL)
        return 0;
    if (is_deque(self, deq))
        return self->st->deque.len(deq);
    return PyObject_Size(deq);
}

/* deq.append(item); 0 or -1 */
static int
deque_append(queuebase *self, PyObject *deq, PyObject *item)
{
    PyObject *r;
    if (is_deque(self, deq))
        r = self->st->deque.append(deq, item);
    else
        r = PyObject_CallMethodOneArg(deq, self->st->str_append, item);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* deq.popleft(): new reference or NULL */
static PyObject *
deque_popleft(queuebase *self, PyObject *deq)
{
    if (is_deque(self, deq))
        return self->st->deque.popleft(deq, NULL);
    return PyObject_CallMethodNoArgs(deq, self->st->str_popleft);
}

static int
schedule_unlock(queuebase *self)
{
    PyObject *loop, *unlock, *cb;
    if (self->event_unlock != NULL)
        return 0;
    if (self->hub == NULL) {
        PyErr_SetString(PyExc_AttributeError, "queue has no hub");
        return -1;
    }
    loop = gevc_hub_loop(self->st, self->hub);
    if (loop == NULL)
        return -1;
    unlock = PyObject_GetAttr((PyObject *)self, self->st->str_unlock);
    if (unlock == NULL)
        cb = NULL;
    else if (PyObject_TypeCheck(loop, self->st->loop.loop_type))
        cb = gevc_loop_run_callback((gevc_loop *)loop, unlock, NULL, 0);
    else
        cb = PyObject_CallMethodOneArg(loop, self->st->str_run_callback, unlock);
    Py_XDECREF(unlock);
    Py_DECREF(loop);
    if (cb == NULL)
        return -1;
    Py_XSETREF(self->event_unlock, cb);
    return 0;
}

static PyObject *
call_slow(queuebase *self, PyObject *name, PyObject *const *args, Py_ssize_t nargs,
          PyObject *kwnames)
{
    PyObject *small[5], **stack = small, *res;
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    if (total > 4) {
        PyErr_SetString(PyExc_TypeError, "too many arguments");
        return NULL;
    }
    stack[0] = (PyObject *)self;
    for (Py_ssize_t i = 0; i < total; i++)
        stack[i + 1] = args[i];
    res = PyObject_VectorcallMethod(name, stack, (size_t)(nargs + 1), kwnames);
    return res;
}

/* ---- ItemWaiter: a Waiter for a blocked put, carrying its item --------- */

typedef struct {
    gevc_waiter base;
    PyObject *item;
    PyObject *queue;
} itemwaiter;

static itemwaiter *
itemwaiter_new(queuebase *q, PyObject *item)
{
    PyTypeObject *tp = q->st->itemwaiter_type;
    itemwaiter *w = (itemwaiter *)tp->tp_alloc(tp, 0);
    if (w == NULL)
        return NULL;
    w->base.st = q->st;
    w->base.hub = Py_NewRef(q->hub);
    w->base.value = Py_NewRef(Py_None);
    w->base.target = Py_NewRef((PyObject *)q);
    w->base.method = "put";
    w->item = Py_NewRef(item);
    w->queue = Py_NewRef((PyObject *)q);
    return w;
}

static int
itemwaiter_init(itemwaiter *self, PyObject *args, PyObject *kwargs)
{
    static const char *const names[] = {"item", "queue", NULL};
    PyObject *a[2] = {NULL, NULL}, *hub;
    if (gevc__parse_tuple("ItemWaiter", args, kwargs, names, 2, 2, a) < 0)
        return -1;
    hub = PyObject_GetAttr(a[1], self->base.st->str_hub);
    if (hub == NULL)
        return -1;
    Py_XSETREF(self->base.hub, hub);
    Py_XSETREF(self->item, Py_NewRef(a[0]));
    Py_XSETREF(self->queue, Py_NewRef(a[1]));
    return 0;
}

PyDoc_STRVAR(put_and_switch_doc, "put_and_switch()\n\n"
"Store the item in the queue (its _put and _did_put_task), then wake the\n"
"blocked putter.");
static PyObject *
itemwaiter_put_and_switch(itemwaiter *self, PyObject *unused)
{
    PyObject *queue = self->queue, *item = self->item, *res;
    if (queue == NULL || queue == Py_None) {
        PyErr_SetString(PyExc_ValueError, "this ItemWaiter already delivered its item");
        return NULL;
    }
    self->queue = NULL;
    self->item = NULL;
    res = PyObject_CallMethodOneArg(queue, self->base.st->str_put, item ? item : Py_None);
    Py_XDECREF(item);
    /* counted as put() counts it (Queue's unfinished_tasks) */
    if (res != NULL) {
        Py_DECREF(res);
        res = PyObject_CallMethodNoArgs(queue, self->base.st->str_did_put_task);
    }
    Py_DECREF(queue);
    if (res == NULL)
        return NULL;
    Py_DECREF(res);
    return gevc_waiter_switch(&self->base, (PyObject *)self);
}

static int
itemwaiter_traverse(itemwaiter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->item);
    Py_VISIT(self->queue);
    /* the Waiter part: named, since tp_base of a Python subclass is us */
    return self->base.st->waiter_type->tp_traverse((PyObject *)self, visit, arg);
}

static int
itemwaiter_clear(itemwaiter *self)
{
    Py_CLEAR(self->item);
    Py_CLEAR(self->queue);
    return self->base.st->waiter_type->tp_clear((PyObject *)self);
}

static void
itemwaiter_dealloc(itemwaiter *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->item);
    Py_CLEAR(self->queue);
    Py_CLEAR(self->base.hub);
    Py_CLEAR(self->base.greenlet);
    Py_CLEAR(self->base.value);
    Py_CLEAR(self->base.exc);
    Py_CLEAR(self->base.target);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef itemwaiter_methods[] = {
    {"put_and_switch", (PyCFunction)itemwaiter_put_and_switch, METH_NOARGS, put_and_switch_doc},
    {NULL},
};

/* Object attributes that may be replaced but not deleted: the C code reads
 * them after a switch and must never find NULL there.  The closure is the
 * field's offset; an unset field reads as None. */
static PyObject *
get_field(PyObject *self, void *offset)
{
    PyObject *v = *(PyObject **)((char *)self + (Py_ssize_t)offset);
    return Py_NewRef(v ? v : Py_None);
}

static int
set_field(PyObject *self, PyObject *value, void *offset)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "this attribute cannot be deleted");
        return -1;
    }
    Py_XSETREF(*(PyObject **)((char *)self + (Py_ssize_t)offset), Py_NewRef(value));
    return 0;
}

#define FIELD(name, type, member, doc) \
    {name, get_field, set_field, doc, (void *)offsetof(type, member)}

static PyGetSetDef itemwaiter_getset[] = {
    FIELD("item", itemwaiter, item, "The item to put."),
    FIELD("queue", itemwaiter, queue, "The queue to put it in."),
    {NULL},
};

PyDoc_STRVAR(itemwaiter_doc, "ItemWaiter(item, queue)\n\n"
"A Waiter for a put() blocked on a full queue, carrying the item to store.");

static PyType_Slot itemwaiter_slots[] = {
    {Py_tp_init, itemwaiter_init},
    {Py_tp_dealloc, itemwaiter_dealloc},
    {Py_tp_traverse, itemwaiter_traverse},
    {Py_tp_clear, itemwaiter_clear},
    {Py_tp_methods, itemwaiter_methods},
    {Py_tp_getset, itemwaiter_getset},
    {Py_tp_doc, (void *)itemwaiter_doc},
    {0, NULL},
};

PyType_Spec gevc_itemwaiter_spec = {
    .name = "gevent_c._core.ItemWaiter",
    .basicsize = sizeof(itemwaiter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = itemwaiter_slots,
};

/* ---- blocking fast paths --------------------------------------------------- */

/* Remove w from deq if it is still there (usually _unlock took it). */
static int
discard(queuebase *self, PyObject *deq, PyObject *w)
{
    int in = PySequence_Contains(deq, w);
    PyObject *r;
    if (in <= 0)
        return in;
    r = PyObject_CallMethodOneArg(deq, self->st->str_remove, w);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Block in w.get() with w queued in deq; NULL on error, else new ref to w's
 * result, which must be w itself. */
static PyObject *
block_on(queuebase *self, PyObject *deq, gevc_waiter *w, const char *what)
{
    PyObject *res;
    Py_ssize_t other;
    Py_INCREF(deq);   /* the queue may drop it while we are switched out */
    if (deque_append(self, deq, (PyObject *)w) < 0) {
        Py_DECREF(deq);
        return NULL;
    }
    other = size_of(self, deq == self->putters ? self->getters : self->putters);
    if (other < 0 || (other > 0 && schedule_unlock(self) < 0))
        res = NULL;
    else
        res = gevc_waiter_get(w);
    {
        PyObject *exc = res == NULL ? gevc__exc_take() : NULL;
        if (discard(self, deq, (PyObject *)w) < 0) {
            if (exc != NULL)
                PyErr_WriteUnraisable((PyObject *)self);
            else
                Py_CLEAR(res);
        }
        if (exc != NULL)
            gevc__exc_raise(exc);
    }
    if (res != NULL && res != (PyObject *)w) {
        PyObject *tp = gevc__exception(self->st, "InvalidSwitchError");
        if (tp != NULL) {
            PyErr_Format(tp, "Invalid switch into Queue.%s: %R", what, res);
            Py_DECREF(tp);
        }
        Py_CLEAR(res);
    }
    Py_DECREF(deq);
    return res;
}

/* 1: this call may block in C (the common case); 0: leave it to Python
 * (the hub itself, a timeout, non-blocking, shut down). */
static int
may_block_here(queuebase *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               Py_ssize_t first)
{
    PyObject *cur;
    if (nargs > first || kwnames != NULL || self->is_shutdown || self->hub == NULL ||
        self->getters == NULL || self->putters == NULL)
        return 0;
    cur = self->st->gapi->getcurrent_borrowed();
    return cur != NULL && cur != self->hub;
}

PyDoc_STRVAR(put_doc, "put(item, block=True, timeout=None)\n\n"
"Put item, blocking while the queue is full; Full if not block or after\n"
"timeout seconds; ShutDown once shut down.");
static PyObject *
queue_put(queuebase *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *res;
    Py_ssize_t n;
    if (nargs != 1 || kwnames != NULL || !is_fast(self) || self->is_shutdown ||
        self->queue == NULL)
        return call_slow(self, self->st->str_put_slow, args, nargs, kwnames);
    n = size_of(self, self->queue);
    if (n < 0)
        return NULL;
    if (self->maxsize != -1 && n >= self->maxsize) {
        itemwaiter *w;
        if (!may_block_here(self, args, nargs, kwnames, 1)) {
            PyErr_Clear();
            return call_slow(self, self->st->str_put_slow, args, nargs, kwnames);
        }
        w = itemwaiter_new(self, args[0]);
        if (w == NULL)
            return NULL;
        res = block_on(self, self->putters, &w->base, "put");
        Py_DECREF(w);
        if (res == NULL)
            return NULL;
        Py_DECREF(res);
        Py_RETURN_NONE;
    }
    if (deque_append(self, self->queue, args[0]) < 0)
        return NULL;
    if (self->cond != NULL && ++self->unfinished_tasks == 1) {
        res = PyObject_CallMethodNoArgs(self->cond, self->st->str_clear);
        if (res == NULL)
            return NULL;
        Py_DECREF(res);
    }
    n = size_of(self, self->getters);
    if (n < 0 || (n > 0 && schedule_unlock(self) < 0))
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(get_doc, "get(block=True, timeout=None)\n\n"
"Remove and return an item, blocking while empty; Empty if not block or\n"
"after timeout seconds.");
static PyObject *
queue_get(queuebase *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    Py_ssize_t n, p;
    if (is_fast(self) && self->queue != NULL) {
        n = size_of(self, self->queue);
        p = size_of(self, self->putters);
        if (n < 0 || p < 0)
            return NULL;
        if (n > 0) {
            if (p > 0 && schedule_unlock(self) < 0)
                return NULL;
            return deque_popleft(self, self->queue);
        }
        if (may_block_here(self, args, nargs, kwnames, 0)) {
            gevc_waiter *w = gevc_waiter_new(self->st, self->hub);
            PyObject *res;
            if (w == NULL)
                return NULL;
            w->target = Py_NewRef((PyObject *)self);
            w->method = "get";
            res = block_on(self, self->getters, w, "get");
            Py_DECREF(w);
            if (res == NULL)
                return NULL;
            Py_DECREF(res);
            return deque_popleft(self, self->queue);
        }
        if (PyErr_Occurred())
            return NULL;
    }
    return call_slow(self, self->st->str_get_slow, args, nargs, kwnames);
}

static PyObject *
put_item_of(queuebase *self, PyObject *putter)
{
    PyObject *item;
    if (Py_IS_TYPE(putter, self->st->itemwaiter_type)) {
        itemwaiter *w = (itemwaiter *)putter;
        item = w->item ? Py_NewRef(w->item) : Py_NewRef(Py_None);
        Py_CLEAR(w->item);
        Py_CLEAR(w->queue);
        return item;
    }
    return PyObject_GetAttr(putter, self->st->str_item);
}

PyDoc_STRVAR(unlock_doc, "_unlock()\n\n"
"From the hub: move items of blocked putters into the queue and wake them,\n"
"and hand items to blocked getters, until neither can proceed.");
static PyObject *
queue_unlock(queuebase *self, PyObject *unused)
{
    Py_CLEAR(self->event_unlock);
    if (!is_fast(self) || self->queue == NULL || self->getters == NULL || self->putters == NULL)
        return PyObject_CallMethodNoArgs((PyObject *)self, self->st->str_unlock_slow);
    for (;;) {
        int repeat = 0;
        Py_ssize_t n = size_of(self, self->queue), np = size_of(self, self->putters), ng, i;
        PyObject *w, *r;
        if (n < 0 || np < 0)
            return NULL;
        if (np > 0 && (self->maxsize == -1 || n < self->maxsize)) {
            PyObject *item;
            repeat = 1;
            w = deque_popleft(self, self->putters);
            if (w == NULL)
                return NULL;
            item = put_item_of(self, w);
            r = item != NULL && deque_append(self, self->queue, item) == 0 ? Py_None : NULL;
            Py_XDECREF(item);
            if (r == NULL) {
                Py_DECREF(w);
                return NULL;
            }
            if (self->cond != NULL && ++self->unfinished_tasks == 1) {
                r = PyObject_CallMethodNoArgs(self->cond, self->st->str_clear);
                if (r == NULL) {
                    Py_DECREF(w);
                    return NULL;
                }
                Py_DECREF(r);
            }
            r = PyObject_CallMethodOneArg(w, self->st->str_switch, w);
            Py_DECREF(w);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
        ng = size_of(self, self->getters);
        i = size_of(self, self->queue);
        if (ng < 0 || i < 0)
            return NULL;
        if (ng > 0 && i > 0) {
            repeat = 1;
            w = deque_popleft(self, self->getters);
            if (w == NULL)
                return NULL;
            r = PyObject_CallMethodOneArg(w, self->st->str_switch, w);
            Py_DECREF(w);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
        if (!repeat)
            Py_RETURN_NONE;
    }
}

PyDoc_STRVAR(schedule_unlock_doc, "_schedule_unlock()\n\n"
"Schedule _unlock on the hub's loop unless it is already scheduled.");
static PyObject *
queue_schedule_unlock(queuebase *self, PyObject *unused)
{
    if (schedule_unlock(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
queuebase_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    gevc_hub_state *st = gevc_hub_state_from_type(tp);
    queuebase *self;
    if (st == NULL)
        return NULL;
    self = (queuebase *)tp->tp_alloc(tp, 0);
    if (self == NULL)
        return NULL;
    self->st = st;
    self->maxsize = -1;
    return (PyObject *)self;
}

static int
queuebase_traverse(queuebase *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->queue);
    Py_VISIT(self->getters);
    Py_VISIT(self->putters);
    Py_VISIT(self->hub);
    Py_VISIT(self->event_unlock);
    Py_VISIT(self->cond);
    return 0;
}

static int
queuebase_clear(queuebase *self)
{
    Py_CLEAR(self->queue);
    Py_CLEAR(self->getters);
    Py_CLEAR(self->putters);
    Py_CLEAR(self->hub);
    Py_CLEAR(self->event_unlock);
    Py_CLEAR(self->cond);
    return 0;
}

static void
queuebase_dealloc(queuebase *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    queuebase_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
get_maxsize_raw(queuebase *self, void *c)
{
    return PyLong_FromSsize_t(self->maxsize);
}

static int
set_maxsize_raw(queuebase *self, PyObject *value, void *c)
{
    Py_ssize_t v;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _maxsize");
        return -1;
    }
    v = PyNumber_AsSsize_t(value, PyExc_OverflowError);
    if (v == -1 && PyErr_Occurred())
        return -1;
    self->maxsize = v <= 0 ? -1 : v;
    return 0;
}

static PyObject *
get_shutdown(queuebase *self, void *c)
{
    return PyBool_FromLong(self->is_shutdown);
}

static int
set_shutdown(queuebase *self, PyObject *value, void *c)
{
    int v = value ? PyObject_IsTrue(value) : 0;
    if (v < 0)
        return -1;
    self->is_shutdown = v;
    return 0;
}

static PyMethodDef queuebase_methods[] = {
    {"put", (PyCFunction)(void (*)(void))queue_put, METH_FASTCALL | METH_KEYWORDS, put_doc},
    {"get", (PyCFunction)(void (*)(void))queue_get, METH_FASTCALL | METH_KEYWORDS, get_doc},
    {"_schedule_unlock", (PyCFunction)queue_schedule_unlock, METH_NOARGS, schedule_unlock_doc},
    {"_unlock", (PyCFunction)queue_unlock, METH_NOARGS, unlock_doc},
    {NULL},
};

static PyMemberDef queuebase_members[] = {
    {"unfinished_tasks", T_PYSSIZET, offsetof(queuebase, unfinished_tasks), 0,
     "Items put and not yet marked done (Queue)."},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(queuebase, weakrefs), READONLY, NULL},
    {NULL},
};

static PyGetSetDef queuebase_getset[] = {
    FIELD("queue", queuebase, queue, "The items (a deque by default)."),
    FIELD("getters", queuebase, getters, "Waiters blocked in get."),
    FIELD("putters", queuebase, putters, "Waiters blocked in put."),
    FIELD("hub", queuebase, hub, "The hub that runs _unlock."),
    FIELD("_cond", queuebase, cond, "Queue: set when every task is done."),
    {"_maxsize", (getter)get_maxsize_raw, (setter)set_maxsize_raw,
     "Capacity, -1 for unbounded.", NULL},
    {"is_shutdown", (getter)get_shutdown, (setter)set_shutdown, "True once shut down.", NULL},
    {"_event_unlock", gevc__optional_get, gevc__optional_set,
     "The scheduled _unlock callback, or None.", (void *)offsetof(queuebase, event_unlock)},
    {NULL},
};

PyDoc_STRVAR(queuebase_doc, "QueueBase()\n\n"
"Storage and non-blocking put/get of gevent_c.queue's queues; the Python\n"
"subclass supplies _put_slow, _get_slow and _unlock.");

static PyType_Slot queuebase_slots[] = {
    {Py_tp_new, queuebase_new},
    {Py_tp_dealloc, queuebase_dealloc},
    {Py_tp_traverse, queuebase_traverse},
    {Py_tp_clear, queuebase_clear},
    {Py_tp_methods, queuebase_methods},
    {Py_tp_members, queuebase_members},
    {Py_tp_getset, queuebase_getset},
    {Py_tp_doc, (void *)queuebase_doc},
    {0, NULL},
};

PyType_Spec gevc_queuebase_spec = {
    .name = "gevent_c._core.QueueBase",
    .basicsize = sizeof(queuebase),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = queuebase_slots,
};

/* Find collections.deque's C functions once; with anything unexpected
 * (a deque method that is not a plain C method) the queues use it through
 * its methods like any other container: type stays NULL. */
static PyCFunction
deque_method(PyTypeObject *tp, const char *name, int flags)
{
    PyObject *d = PyObject_GetAttrString((PyObject *)tp, name);
    PyCFunction fn = NULL;
    if (d == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (Py_IS_TYPE(d, &PyMethodDescr_Type)) {
        PyMethodDef *def = ((PyMethodDescrObject *)d)->d_method;
        if ((def->ml_flags & ~METH_COEXIST) == flags)
            fn = def->ml_meth;
    }
    Py_DECREF(d);   /* the class keeps it, and fn is static code */
    return fn;
}

int
gevc__queue_state_init(gevc_hub_state *st)
{
    PyObject *mod = PyImport_ImportModule("collections"), *tp;
    if (mod == NULL)
        return -1;
    tp = PyObject_GetAttrString(mod, "deque");
    Py_DECREF(mod);
    if (tp == NULL)
        return -1;
    if (!PyType_Check(tp)) {
        Py_DECREF(tp);
        return 0;
    }
    st->deque.len = ((PyTypeObject *)tp)->tp_as_sequence ?
        ((PyTypeObject *)tp)->tp_as_sequence->sq_length : NULL;
    st->deque.append = deque_method((PyTypeObject *)tp, "append", METH_O);
    st->deque.popleft = deque_method((PyTypeObject *)tp, "popleft", METH_NOARGS);
    if (st->deque.len == NULL || st->deque.append == NULL || st->deque.popleft == NULL)
        Py_DECREF(tp);
    else
        st->deque.type = (PyTypeObject *)tp;
    return 0;
}
