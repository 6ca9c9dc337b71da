/* QueueBase: the storage and the non-blocking fast paths of
 * gevent_c.queue.SimpleQueue/Queue.  put() and get() that need neither to
 * block nor to hand over to a waiter run here; everything else goes to the
 * Python methods _put_slow/_get_slow of the subclass. */
#include "core.h"

typedef struct {
    PyObject_HEAD
    gevc_state *st;
    PyObject *queue;               /* a collections.deque, set by _init */
    PyObject *getters, *putters;   /* deques of Waiters */
    PyObject *hub;
    PyObject *event_unlock;        /* the scheduled _unlock callback */
    PyObject *cond;                /* Queue's all-tasks-done Event, or NULL */
    PyObject *weakrefs;
    Py_ssize_t maxsize;            /* -1: unbounded */
    Py_ssize_t unfinished_tasks;
    int is_shutdown;
} queuebase;

/* The class flag set by SimpleQueue.__init_subclass__: the bottleneck
 * methods are the deque-based ones, so self.queue may be used directly. */
static int
is_fast(queuebase *self)
{
    PyObject *v = _PyType_Lookup(Py_TYPE(self), self->st->str_fast);
    return v == Py_True;
}

static Py_ssize_t
size_of(PyObject *deq)
{
    return deq == NULL ? 0 : PyObject_Size(deq);
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
    loop = PyObject_GetAttr(self->hub, self->st->str_loop);
    if (loop == NULL)
        return -1;
    unlock = PyObject_GetAttr((PyObject *)self, self->st->str_unlock);
    if (unlock == NULL)
        cb = NULL;
    else if (PyObject_TypeCheck(loop, self->st->loop_type))
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
    n = size_of(self->queue);
    if (n < 0)
        return NULL;
    if (self->maxsize != -1 && n >= self->maxsize)
        return call_slow(self, self->st->str_put_slow, args, nargs, kwnames);
    res = PyObject_CallMethodOneArg(self->queue, self->st->str_append, args[0]);
    if (res == NULL)
        return NULL;
    Py_DECREF(res);
    if (self->cond != NULL && ++self->unfinished_tasks == 1) {
        res = PyObject_CallMethodNoArgs(self->cond, self->st->str_clear);
        if (res == NULL)
            return NULL;
        Py_DECREF(res);
    }
    n = size_of(self->getters);
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
        n = size_of(self->queue);
        p = size_of(self->putters);
        if (n < 0 || p < 0)
            return NULL;
        if (n > 0 && p == 0)
            return PyObject_CallMethodNoArgs(self->queue, self->st->str_popleft);
    }
    return call_slow(self, self->st->str_get_slow, args, nargs, kwnames);
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
    gevc_state *st = gevc_state_from_type(tp);
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

static PyObject *
get_unlock(queuebase *self, void *c)
{
    return Py_NewRef(self->event_unlock ? self->event_unlock : Py_None);
}

static int
set_unlock(queuebase *self, PyObject *value, void *c)
{
    Py_XSETREF(self->event_unlock, value == NULL || value == Py_None ? NULL : Py_NewRef(value));
    return 0;
}

static PyMethodDef queuebase_methods[] = {
    {"put", (PyCFunction)(void (*)(void))queue_put, METH_FASTCALL | METH_KEYWORDS, put_doc},
    {"get", (PyCFunction)(void (*)(void))queue_get, METH_FASTCALL | METH_KEYWORDS, get_doc},
    {"_schedule_unlock", (PyCFunction)queue_schedule_unlock, METH_NOARGS, schedule_unlock_doc},
    {NULL},
};

static PyMemberDef queuebase_members[] = {
    {"queue", T_OBJECT, offsetof(queuebase, queue), 0, "The items (a deque by default)."},
    {"getters", T_OBJECT, offsetof(queuebase, getters), 0, "Waiters blocked in get."},
    {"putters", T_OBJECT, offsetof(queuebase, putters), 0, "Waiters blocked in put."},
    {"hub", T_OBJECT, offsetof(queuebase, hub), 0, "The hub that runs _unlock."},
    {"_cond", T_OBJECT, offsetof(queuebase, cond), 0, "Queue: set when every task is done."},
    {"unfinished_tasks", T_PYSSIZET, offsetof(queuebase, unfinished_tasks), 0,
     "Items put and not yet marked done (Queue)."},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(queuebase, weakrefs), READONLY, NULL},
    {NULL},
};

static PyGetSetDef queuebase_getset[] = {
    {"_maxsize", (getter)get_maxsize_raw, (setter)set_maxsize_raw,
     "Capacity, -1 for unbounded.", NULL},
    {"is_shutdown", (getter)get_shutdown, (setter)set_shutdown, "True once shut down.", NULL},
    {"_event_unlock", (getter)get_unlock, (setter)set_unlock,
     "The scheduled _unlock callback, or None.", NULL},
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
