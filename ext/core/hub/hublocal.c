/* The per-thread hub registry behind get_hub(): this thread's hub, the loop
 * stashed for its next hub, and its hub class.  The record lives in the
 * thread-state dict (so it dies with the thread); a C thread-local caches a
 * borrowed pointer to it so get_hub() costs a compare. */
#include "hub.h"

typedef struct {
    PyObject_HEAD
    gevc_hub_state *st;
    PyObject *hub;
    PyObject *loop;
    PyObject *hub_class;
    gevc_waiter *blocked;          /* waiters of C primitives blocked now */
} hublocal;

/* Per-thread state that must be global: valid only while `ts` is the
 * calling thread's state; the record's dealloc forgets it. */
static _Thread_local struct {
    PyThreadState *ts;
    hublocal *hl;
} cache;

static hublocal *
hublocal_get(gevc_hub_state *st)
{
    PyThreadState *ts = PyThreadState_Get();
    PyObject *dict, *hl;
    /* the same thread as last time: no thread-local access (which costs a
     * call in a shared library).  The id tells a new thread state at the
     * address of a deleted one apart. */
    if (st->hl_last.ts == ts && st->hl_last.record != NULL &&
        st->hl_last.ts_id == PyThreadState_GetID(ts))
        return (hublocal *)st->hl_last.record;
    /* (the cache is shared by every instance of the module: only a record
     * of this instance's is remembered in its state) */
    if (cache.ts == ts && cache.hl != NULL && Py_IS_TYPE(cache.hl, st->hublocal_type)) {
        hl = (PyObject *)cache.hl;
        goto found;
    }
    dict = PyThreadState_GetDict();
    if (dict == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "no thread state dict for the hub registry");
        return NULL;
    }
    hl = PyDict_GetItemWithError(dict, st->str_hublocal_key);
    if (hl == NULL) {
        if (PyErr_Occurred())
            return NULL;
        hl = st->hublocal_type->tp_alloc(st->hublocal_type, 0);
        if (hl == NULL)
            return NULL;
        ((hublocal *)hl)->st = st;
        if (PyDict_SetItem(dict, st->str_hublocal_key, hl) < 0) {
            Py_DECREF(hl);
            return NULL;
        }
        Py_DECREF(hl);   /* the dict owns it */
    }
    else if (!Py_IS_TYPE(hl, st->hublocal_type)) {
        PyErr_SetString(PyExc_RuntimeError, "the thread's hub registry was replaced");
        return NULL;
    }
    cache.ts = ts;
    cache.hl = (hublocal *)hl;
found:
    st->hl_last.ts = ts;
    st->hl_last.ts_id = PyThreadState_GetID(ts);
    st->hl_last.record = hl;
    return (hublocal *)hl;
}

gevc_waiter **
gevc__blocked_head(gevc_hub_state *st)
{
    hublocal *hl = hublocal_get(st);
    return hl ? &hl->blocked : NULL;
}

PyObject *
gevc_hub_get_if_exists(gevc_hub_state *st)
{
    hublocal *hl = hublocal_get(st);
    return hl ? hl->hub : NULL;
}

PyObject *
gevc_hub_get(gevc_hub_state *st)
{
    hublocal *hl = hublocal_get(st);
    PyObject *cls, *hub;
    if (hl == NULL)
        return NULL;
    if (hl->hub != NULL)
        return hl->hub;
    cls = hl->hub_class ? hl->hub_class : st->default_hub_class;
    if (cls == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "no hub class: import gevent_c.hub first");
        return NULL;
    }
    Py_INCREF(cls);
    hub = PyObject_CallNoArgs(cls);
    Py_DECREF(cls);
    if (hub == NULL)
        return NULL;
    /* creating it may have run Python code that set one already */
    hl = hublocal_get(st);
    if (hl == NULL) {
        Py_DECREF(hub);
        return NULL;
    }
    Py_XSETREF(hl->hub, hub);
    return hub;
}

PyObject *
gevc_hub_loop(gevc_hub_state *st, PyObject *hub)
{
    PyTypeObject *tp = Py_TYPE(hub);
    /* Hub keeps its loop in the instance dict (the greenlet type's dict
     * slot): read it there unless the class has a say in what hub.loop
     * is (an attribute of that name, or its own attribute lookup), which
     * is what PyObject_GetAttr would find too, without its generic steps */
    unsigned int tag = gevc__valid_version_tag(tp);
    int plain = tag != 0 && st->plain_loop_class.tp == tp && st->plain_loop_class.tag == tag;
    if (!plain && tp->tp_getattro == PyObject_GenericGetAttr && tp->tp_dictoffset > 0 &&
        _PyType_Lookup(tp, st->str_loop) == NULL) {
        plain = 1;
        /* the lookup assigned a tag if there was none */
        st->plain_loop_class.tp = tp;
        st->plain_loop_class.tag = gevc__valid_version_tag(tp);
    }
    if (plain) {
        PyObject *dict = *(PyObject **)((char *)hub + tp->tp_dictoffset), *loop;
        if (dict != NULL && PyDict_CheckExact(dict)) {
#if PY_VERSION_HEX < 0x030C0000
            /* Up to 3.11 a dict's version tag is unique and changes with
             * every modification: an unchanged dict still holds the loop
             * found last time.  (3.12 deprecates the tag.) */
            uint64_t version = ((PyDictObject *)dict)->ma_version_tag;
            if (st->hub_loop.hub == hub && st->hub_loop.dict == dict &&
                st->hub_loop.version == version)
                return Py_NewRef(st->hub_loop.loop);
#endif
            loop = PyDict_GetItemWithError(dict, st->str_loop);
            if (loop != NULL) {
#if PY_VERSION_HEX < 0x030C0000
                st->hub_loop.hub = hub;
                st->hub_loop.dict = dict;
                st->hub_loop.version = version;
                st->hub_loop.loop = loop;
#endif
                return Py_NewRef(loop);
            }
            if (PyErr_Occurred())
                return NULL;
        }
    }
    return PyObject_GetAttr(hub, st->str_loop);
}

static int
hublocal_traverse(hublocal *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->hub);
    Py_VISIT(self->loop);
    Py_VISIT(self->hub_class);
    return 0;
}

static int
hublocal_clear(hublocal *self)
{
    Py_CLEAR(self->hub);
    Py_CLEAR(self->loop);
    Py_CLEAR(self->hub_class);
    return 0;
}

static void
hublocal_dealloc(hublocal *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (cache.hl == self) {
        cache.hl = NULL;
        cache.ts = NULL;
    }
    /* the record's type keeps the module, and so the state, alive */
    if (self->st != NULL && self->st->hl_last.record == (PyObject *)self) {
        self->st->hl_last.record = NULL;
        self->st->hl_last.ts = NULL;
    }
    PyObject_GC_UnTrack(self);
    hublocal_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(hublocal_doc, "Per-thread record of the hub registry (internal).");

static PyType_Slot hublocal_slots[] = {
    {Py_tp_dealloc, hublocal_dealloc},
    {Py_tp_traverse, hublocal_traverse},
    {Py_tp_clear, hublocal_clear},
    {Py_tp_doc, (void *)hublocal_doc},
    {0, NULL},
};

PyType_Spec gevc_hublocal_spec = {
    .name = "gevent_c._core._HubLocal",
    .basicsize = sizeof(hublocal),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = hublocal_slots,
};

PyObject *
gevc__hub_alloc(PyTypeObject *tp, gevc_hub_state **st)
{
    *st = gevc_hub_state_from_type(tp);
    return *st ? tp->tp_alloc(tp, 0) : NULL;
}

int
gevc__hub_arg(const char *fname, PyObject *args, PyObject *kwargs, PyObject **hub)
{
    static const char *const names[] = {"hub", NULL};
    if (gevc__parse_tuple(fname, args, kwargs, names, 1, 0, hub) < 0)
        return -1;
    if (*hub == Py_None)
        *hub = NULL;
    return 0;
}

/* ---- module functions -------------------------------------------------- */

static gevc_hub_state *
mstate(PyObject *mod)
{
    return (gevc_hub_state *)PyModule_GetState(mod);
}

PyDoc_STRVAR(get_hub_doc, "get_hub()\n\nThis thread's hub, created on first use.");
static PyObject *
get_hub(PyObject *mod, PyObject *unused)
{
    return Py_XNewRef(gevc_hub_get(mstate(mod)));
}

PyDoc_STRVAR(get_hub_if_exists_doc, "get_hub_if_exists()\n\n"
             "This thread's hub, or None if none was created yet.");
static PyObject *
get_hub_if_exists(PyObject *mod, PyObject *unused)
{
    hublocal *hl = hublocal_get(mstate(mod));
    if (hl == NULL)
        return NULL;
    return Py_NewRef(hl->hub ? hl->hub : Py_None);
}

static PyObject *
set_field(PyObject *mod, PyObject *value, size_t offset)
{
    hublocal *hl = hublocal_get(mstate(mod));
    PyObject **slot;
    if (hl == NULL)
        return NULL;
    slot = (PyObject **)((char *)hl + offset);
    Py_XSETREF(*slot, value == Py_None ? NULL : Py_NewRef(value));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(set_hub_doc, "set_hub(hub)\n\nMake hub this thread's hub (None forgets it).");
static PyObject *
set_hub(PyObject *mod, PyObject *hub)
{
    return set_field(mod, hub, offsetof(hublocal, hub));
}

PyDoc_STRVAR(get_loop_doc, "get_loop()\n\n"
             "The loop stashed for reuse by the next hub of this thread, or None.");
static PyObject *
get_loop(PyObject *mod, PyObject *unused)
{
    hublocal *hl = hublocal_get(mstate(mod));
    if (hl == NULL)
        return NULL;
    return Py_NewRef(hl->loop ? hl->loop : Py_None);
}

PyDoc_STRVAR(set_loop_doc, "set_loop(loop)\n\nStash loop for this thread's next hub.");
static PyObject *
set_loop(PyObject *mod, PyObject *loop)
{
    return set_field(mod, loop, offsetof(hublocal, loop));
}

PyDoc_STRVAR(get_hub_class_doc, "get_hub_class()\n\n"
             "The hub class for this thread (the default unless one was set).");
static PyObject *
get_hub_class(PyObject *mod, PyObject *unused)
{
    gevc_hub_state *st = mstate(mod);
    hublocal *hl = hublocal_get(st);
    if (hl == NULL)
        return NULL;
    if (hl->hub_class == NULL && st->default_hub_class != NULL)
        hl->hub_class = Py_NewRef(st->default_hub_class);
    return Py_NewRef(hl->hub_class ? hl->hub_class : Py_None);
}

PyDoc_STRVAR(set_hub_class_doc, "set_hub_class(cls)\n\n"
             "Make cls the class get_hub() instantiates in this thread (None: the default).");
static PyObject *
set_hub_class(PyObject *mod, PyObject *cls)
{
    if (cls != Py_None && !PyCallable_Check(cls)) {
        PyErr_Format(PyExc_TypeError, "hub class must be callable, not %R", cls);
        return NULL;
    }
    return set_field(mod, cls, offsetof(hublocal, hub_class));
}

PyDoc_STRVAR(set_default_hub_class_doc, "set_default_hub_class(cls)\n\n"
             "Make cls the class that get_hub() instantiates in new threads.");
static PyObject *
set_default_hub_class(PyObject *mod, PyObject *cls)
{
    gevc_hub_state *st = mstate(mod);
    if (!PyCallable_Check(cls)) {
        PyErr_Format(PyExc_TypeError, "hub class must be callable, not %R", cls);
        return NULL;
    }
    Py_XSETREF(st->default_hub_class, Py_NewRef(cls));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(blocked_on_doc, "_blocked_on(greenlet)\n\n"
"(object, 'Type.method') if greenlet is blocked in a C primitive of this\n"
"thread (Event.wait, Semaphore.acquire, ...), else None.  For LoopExit.");
static PyObject *
blocked_on(PyObject *mod, PyObject *glet)
{
    hublocal *hl = hublocal_get(mstate(mod));
    if (hl == NULL)
        return NULL;
    for (gevc_waiter *w = hl->blocked; w != NULL; w = w->blocked_next) {
        if (w->greenlet == glet && w->target != NULL)
            return Py_BuildValue("(Os)", w->target, w->method ? w->method : "wait");
    }
    Py_RETURN_NONE;
}

PyMethodDef gevc_hublocal_methods[] = {
    {"_blocked_on", blocked_on, METH_O, blocked_on_doc},
    {"get_hub", get_hub, METH_NOARGS, get_hub_doc},
    {"get_hub_if_exists", get_hub_if_exists, METH_NOARGS, get_hub_if_exists_doc},
    {"set_hub", set_hub, METH_O, set_hub_doc},
    {"get_loop", get_loop, METH_NOARGS, get_loop_doc},
    {"set_loop", set_loop, METH_O, set_loop_doc},
    {"get_hub_class", get_hub_class, METH_NOARGS, get_hub_class_doc},
    {"set_hub_class", set_hub_class, METH_O, set_hub_class_doc},
    {"set_default_hub_class", set_default_hub_class, METH_O, set_default_hub_class_doc},
    {NULL, NULL, 0, NULL},
};
