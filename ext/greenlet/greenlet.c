/* The greenlet type: construction, attributes, switch/throw methods,
 * killing on dealloc, GC support. */
#include "internal.h"
#include <structmember.h>
#include <string.h>

static inline gevc_thread *
thread_for(PyTypeObject *defining_class)
{
    gevc_thread *th = gevc__cur_thread;
    if (th != NULL && th->tstate == PyThreadState_GET()) {
        if (th->deleteme != NULL)
            gevc__thread_drain(th);
        return th;
    }
    return gevc__thread_slow(PyType_GetModuleState(defining_class));
}


/* The calling thread's state for a method of `g`: when g belongs to the
   calling thread, its main greenlet knows it without a thread-local lookup
   (a thread's state outlives neither its thread state nor the main
   greenlet's link to it). */
static inline gevc_thread *
thread_via(GreenletObject *g, PyTypeObject *defining_class)
{
    GreenletObject *m = G_MAIN_OF(g);
    gevc_thread *th = m != NULL ? m->thread : NULL;
    if (th != NULL && th->tstate == PyThreadState_GET() && th->deleteme == NULL)
        return th;
    return thread_for(defining_class);
}

static int
thread_alive(GreenletObject *g)
{
    GreenletObject *m = G_MAIN_OF(g);
    return m != NULL && m->thread != NULL;
}

static int
is_running(GreenletObject *g)
{
    GreenletObject *m = G_MAIN_OF(g);
    return G_ACTIVE(g) && m != NULL && m->thread != NULL &&
           m->thread->current == g;
}

GreenletObject *
gevc__greenlet_new_main(gevc_state *st, gevc_thread *th)
{
    GreenletObject *g = (GreenletObject *)st->greenlet_type->tp_alloc(
        st->greenlet_type, 0);
    if (g == NULL)
        return NULL;
    g->stack_start = RUNNING_START;
    g->stack_stop = MAIN_STOP;
    g->thread = th;
    return g;
}

/* ------------------------------------------------------------------ */
/* construction */

static int set_parent(GreenletObject *self, PyObject *value, void *closure);
static int set_run(GreenletObject *self, PyObject *value, void *closure);
static PyObject *kwargs_dict(PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);

/* A subclass that leaves abstract methods (run, say) unimplemented cannot
   be instantiated, as with any ABC: object's tp_new says which ones. */
static PyObject *
refuse_abstract(PyTypeObject *type)
{
    PyObject *empty = PyTuple_New(0), *obj;
    if (empty == NULL)
        return NULL;
    obj = PyBaseObject_Type.tp_new(type, empty, NULL);
    Py_DECREF(empty);
    if (obj != NULL) {
        Py_DECREF(obj);
        PyErr_Format(PyExc_TypeError, "cannot instantiate abstract class %s",
                     type->tp_name);
    }
    return NULL;
}

static PyObject *
greenlet_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    GreenletObject *g;
    gevc_thread *th = gevc__cur_thread;
    if (th == NULL || th->tstate != PyThreadState_GET())
        th = gevc__thread_slow(gevc__state_of_type(type));
    else if (th->deleteme != NULL)
        gevc__thread_drain(th);
    if (th == NULL)
        return NULL;
    if (type->tp_flags & Py_TPFLAGS_IS_ABSTRACT)
        return refuse_abstract(type);
    if (th->nspare > 0 && type == th->st->greenlet_type) {
        /* what tp_alloc does, on memory a greenlet of this type had (the
           size is read from the type so that this is libc's memset: the
           compiler's inline `rep stos` for a constant size costs more) */
        g = th->spare[--th->nspare];
        memset((char *)g + sizeof(PyObject), 0,
               (size_t)type->tp_basicsize - sizeof(PyObject));
        PyObject_Init((PyObject *)g, type);
        PyObject_GC_Track(g);
    }
    else {
        g = (GreenletObject *)type->tp_alloc(type, 0);
        if (g == NULL)
            return NULL;
    }
    g->parent = (GreenletObject *)Py_NewRef(th->current);
    g->parent->was_parent = 1;
    g->main = (GreenletObject *)Py_NewRef(th->main);
    return (PyObject *)g;
}

static int
greenlet_init(GreenletObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"run", "parent", NULL};
    PyObject *run = NULL, *parent = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:greenlet", kwlist,
                                     &run, &parent))
        return -1;
    /* run=None is kept: such a greenlet fails with TypeError when started */
    if (run != NULL && set_run(self, run, NULL) < 0)
        return -1;
    if (parent != NULL && parent != Py_None &&
        set_parent(self, parent, NULL) < 0)
        return -1;
    return 0;
}

/* greenlet(run=None, parent=None) on the greenlet type itself, without the
   argument tuple and keyword parsing of a generic type call.  CPython never
   inherits tp_vectorcall, so subclasses take the generic path; so does
   anything unusual (a bad argument, for the usual message, or __new__ or
   __init__ replaced on the type). */
static PyObject *
greenlet_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                    PyObject *kwnames)
{
    PyTypeObject *type = (PyTypeObject *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *given[2] = {NULL, NULL}, *g;

    if (type->tp_new != greenlet_new || type->tp_init != (initproc)greenlet_init ||
        nargs + nkw > 2)
        goto generic;
    for (Py_ssize_t i = 0; i < nargs; i++)
        given[i] = args[i];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        int k = PyUnicode_CompareWithASCIIString(name, "run") == 0 ? 0
              : PyUnicode_CompareWithASCIIString(name, "parent") == 0 ? 1 : -1;
        if (k < 0 || given[k] != NULL)
            goto generic;
        given[k] = args[nargs + i];
    }
    g = greenlet_new(type, NULL, NULL);
    if (g == NULL)
        return NULL;
    if ((given[0] != NULL && set_run((GreenletObject *)g, given[0], NULL) < 0) ||
        (given[1] != NULL && given[1] != Py_None &&
         set_parent((GreenletObject *)g, given[1], NULL) < 0)) {
        Py_DECREF(g);
        return NULL;
    }
    return g;

generic: {
        PyObject *tuple = gevc__tuple_from_array(args, nargs), *kw = NULL;
        if (tuple == NULL)
            return NULL;
        if (nkw > 0) {
            kw = kwargs_dict(args, nargs, kwnames);
            if (kw == NULL) {
                Py_DECREF(tuple);
                return NULL;
            }
        }
        g = Py_TYPE(type)->tp_call(callable, tuple, kw);
        Py_DECREF(tuple);
        Py_XDECREF(kw);
        return g;
    }
}

/* ------------------------------------------------------------------ */
/* killing, dealloc, GC */

void
gevc__greenlet_kill(gevc_thread *th, GreenletObject *g)
{
    PyObject *exc, *msg, *r = NULL;
    GreenletObject *old_parent;
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *saved = PyErr_GetRaisedException();
#else
    PyObject *st, *sv, *stb;
    PyErr_Fetch(&st, &sv, &stb);
#endif
    if (!G_ACTIVE(g) || G_IS_MAIN(g))
        goto done;
    /* the kill comes back to us, whoever g's parent is */
    old_parent = g->parent;
    g->parent = (GreenletObject *)Py_NewRef(th->current);
    g->parent->was_parent = 1;
    msg = PyUnicode_FromString("Killing the greenlet because all "
                               "references have vanished.");
    exc = msg ? PyObject_CallOneArg(th->st->GreenletExit, msg) : NULL;
    Py_XDECREF(msg);
    if (exc != NULL) {
        r = gevc__throw(th, g, exc, NULL, NULL);
        Py_DECREF(exc);
    }
    if (r == NULL) {
        if (PyErr_ExceptionMatches(th->st->GreenletExit))
            PyErr_Clear();
        else
            PyErr_WriteUnraisable((PyObject *)g);
    }
    Py_XDECREF(r);
    Py_XSETREF(g->parent, old_parent);
done:
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(saved);
#else
    PyErr_Restore(st, sv, stb);
#endif
}

static void
greenlet_finalize(GreenletObject *self)
{
    gevc_thread *th;
    if (!G_ACTIVE(self) || G_IS_MAIN(self) || !G_STARTED(self))
        return;
    if (self->main == NULL || (th = self->main->thread) == NULL)
        return;                 /* its thread has exited: nothing to run */
    if (Py_IsFinalizing())
        return;
    if (gevc__cur_thread == th && th->tstate == PyThreadState_GET() &&
        !gevc_pystate_gc_collecting(th->tstate)) {
        gevc__greenlet_kill(th, self);
        return;
    }
    /* only the owning thread can run it, and not inside a collection (see
       gevc_pystate_gc_collecting): queue it there */
    if (th->deleteme == NULL && (th->deleteme = PyList_New(0)) == NULL) {
        PyErr_WriteUnraisable((PyObject *)self);
        return;
    }
    if (PyList_Append(th->deleteme, (PyObject *)self) < 0 ||
        (gevc_pystate_gc_collecting(th->tstate) && gevc__thread_gc_hook(th) < 0))
        PyErr_WriteUnraisable((PyObject *)self);
}

static int
greenlet_traverse(GreenletObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->dict);
    Py_VISIT(self->run);
    Py_VISIT(self->parent);
    Py_VISIT(self->main);
    return gevc_pystate_traverse(&self->py, visit, arg);
}

static int
greenlet_clear(GreenletObject *self)
{
    Py_CLEAR(self->dict);
    Py_CLEAR(self->run);
    gevc_pystate_clear(&self->py);
    /* a suspended greenlet could still be resumed: keep its links */
    if (!G_ACTIVE(self) || !thread_alive(self)) {
        Py_CLEAR(self->parent);
        Py_CLEAR(self->main);
    }
    return 0;
}

/* Free self's memory, or keep it for the next greenlet of its thread. */
static void
release_memory(GreenletObject *self, gevc_thread *th)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (th != NULL && th->nspare < GEVC_SPARE_GREENLETS &&
        tp == th->st->greenlet_type && th->tstate == PyThreadState_GET() &&
        !PyObject_GC_IsFinalized((PyObject *)self))
        th->spare[th->nspare++] = self;
    else
        tp->tp_free(self);
    Py_DECREF(tp);
}

static void
greenlet_dealloc(GreenletObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    GreenletObject *main;
    int killed_before, thread_gone;
    /* unstarted or finished, with no finalizer but ours: nothing to kill */
    if (!G_ACTIVE(self) && tp->tp_finalize == (destructor)greenlet_finalize)
        goto free;
    killed_before = PyObject_GC_IsFinalized((PyObject *)self);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return;                 /* resurrected, e.g. queued for its thread */
    if (killed_before && G_ACTIVE(self)) {
        /* It outlived an earlier kill because something took a reference
           to it then; tp_finalize runs once per object, so kill it again
           here, as greenlet does on every last reference. */
        Py_SET_REFCNT(self, 1);
        greenlet_finalize(self);
        Py_SET_REFCNT(self, Py_REFCNT(self) - 1);
        if (Py_REFCNT(self) > 0)
            return;             /* referenced again, or queued */
    }
    if (G_ACTIVE(self) && !G_IS_MAIN(self) && thread_alive(self) &&
        !Py_IsFinalizing()) {
        /* GreenletExit did not end it; its stack is still in use, so it
           must stay allocated forever */
        PySys_WriteStderr("GreenletExit did not kill <greenlet at %p>\n",
                          (void *)self);
        Py_SET_REFCNT(self, 1);
        return;
    }
free:
    PyObject_GC_UnTrack(self);
    /* freeing a long parent chain would otherwise recurse once per link */
    Py_TRASHCAN_BEGIN(self, greenlet_dealloc)
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    thread_gone = !thread_alive(self);
    /* held to the end: its thread may keep the memory (release_memory) */
    main = self->main;
    self->main = NULL;
    greenlet_clear(self);
    Py_CLEAR(self->parent);
    if (G_ACTIVE(self) && !G_IS_MAIN(self) && G_STARTED(self)) {
        /* its thread has exited (or the interpreter is finalizing): it never
           runs again; what its locals hold is released only in the first
           case, where no finalizer of the thread's can still look */
        if (thread_gone && !Py_IsFinalizing()) {
            gevc_pystate_release_frames(&self->py);
            for (int i = 0; i < 3; i++)
                Py_CLEAR(self->running[i]);
        }
        gevc_pystate_abandon(&self->py);
    }
    gevc_pystate_dealloc(&self->py);
    if (self->stack_copy != NULL)
        PyMem_Free(self->stack_copy);
    release_memory(self, main != NULL ? main->thread : NULL);
    Py_XDECREF(main);
    Py_TRASHCAN_END
}

/* ------------------------------------------------------------------ */
/* methods */

static PyObject *
kwargs_dict(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyDict_SetItem(d, PyTuple_GET_ITEM(kwnames, i),
                           args[nargs + i]) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

PyDoc_STRVAR(switch_doc,
"switch(*args, **kwargs)\n--\n\n"
"Switch execution to this greenlet.\n\n"
"The first switch starts it: run(*args, **kwargs).  Later switches make\n"
"the switch() call it is suspended in return: () for no arguments, the\n"
"value for one, the tuple for several, the dict for keywords only and\n"
"(args, kwargs) for both.  Returns what is passed back to this greenlet.");

static PyObject *
greenlet_switch(GreenletObject *self, PyTypeObject *cls,
                PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *a, *kw = NULL;
    gevc_thread *th = thread_via(self, cls);
    if (th == NULL)
        return NULL;
    if (nargs == 1 && (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0))
        return gevc__switch(th, self, Py_NewRef(args[0]), NULL, 1);
    a = gevc__tuple_from_array(args, nargs);
    if (a == NULL)
        return NULL;
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        kw = kwargs_dict(args, nargs, kwnames);
        if (kw == NULL) {
            Py_DECREF(a);
            return NULL;
        }
    }
    return gevc__switch(th, self, a, kw, 0);
}

PyDoc_STRVAR(throw_doc,
"throw(typ=GreenletExit, val=None, tb=None)\n--\n\n"
"Raise an exception in this greenlet at the point it is suspended (or at\n"
"its start) and switch to it.  A dead greenlet passes it to its parent.");

static PyObject *
greenlet_throw(GreenletObject *self, PyTypeObject *cls,
               PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    gevc_thread *th;
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyErr_SetString(PyExc_TypeError, "throw() takes no keyword arguments");
        return NULL;
    }
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     "throw expected at most 3 arguments, got %zd", nargs);
        return NULL;
    }
    th = thread_for(cls);
    if (th == NULL)
        return NULL;
    return gevc__throw(th, self,
                       nargs > 0 ? args[0] : th->st->GreenletExit,
                       nargs > 1 ? args[1] : NULL,
                       nargs > 2 ? args[2] : NULL);
}

PyDoc_STRVAR(getstate_doc, "Greenlets cannot be pickled or copied.");

static PyObject *
greenlet_getstate(GreenletObject *self, PyObject *unused)
{
    PyErr_Format(PyExc_TypeError, "cannot serialize '%s' object",
                 Py_TYPE(self)->tp_name);
    return NULL;
}

static PyMethodDef greenlet_methods[] = {
    {"switch", (PyCFunction)(void (*)(void))greenlet_switch,
     METH_METHOD | METH_FASTCALL | METH_KEYWORDS, switch_doc},
    {"throw", (PyCFunction)(void (*)(void))greenlet_throw,
     METH_METHOD | METH_FASTCALL | METH_KEYWORDS, throw_doc},
    {"__getstate__", (PyCFunction)greenlet_getstate, METH_NOARGS,
     getstate_doc},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* attributes */

static PyObject *
get_run(GreenletObject *self, void *closure)
{
    if (G_STARTED(self) || self->run == NULL) {
        PyErr_SetString(PyExc_AttributeError, "run");
        return NULL;
    }
    return Py_NewRef(self->run);
}

static int
set_run(GreenletObject *self, PyObject *value, void *closure)
{
    if (G_STARTED(self)) {
        PyErr_SetString(PyExc_AttributeError,
                        "run cannot be set after the start of the greenlet");
        return -1;
    }
    Py_XSETREF(self->run, Py_XNewRef(value));
    return 0;
}

static PyObject *
get_parent(GreenletObject *self, void *closure)
{
    return Py_NewRef(self->parent ? (PyObject *)self->parent : Py_None);
}

static int
set_parent(GreenletObject *self, PyObject *value, void *closure)
{
    GreenletObject *p, *newmain;
    gevc_state *st;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "can't delete attribute");
        return -1;
    }
    if (G_IS_MAIN(self)) {
        PyErr_SetString(PyExc_AttributeError,
                        "cannot set the parent of a main greenlet");
        return -1;
    }
    st = gevc__state_of_type(Py_TYPE(self));
    if (!PyObject_TypeCheck(value, st->greenlet_type)) {
        /* greenlet's wording, which code and tests match on */
        PyErr_Format(PyExc_TypeError,
                     "GreenletChecker: Expected any type of greenlet, not %s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    /* only a greenlet that was ever a parent can be an ancestor of value:
       building a long chain from its far end stays linear */
    p = (GreenletObject *)value;
    for (; p != NULL; p = self->was_parent ? p->parent : NULL) {
        if (p == self) {
            PyErr_SetString(PyExc_ValueError, "cyclic parent chain");
            return -1;
        }
    }
    newmain = G_MAIN_OF((GreenletObject *)value);
    if (newmain == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "parent must not be garbage collected");
        return -1;
    }
    if (newmain != self->main) {
        if (G_STARTED(self)) {
            PyErr_SetString(PyExc_ValueError,
                            "parent cannot be on a different thread");
            return -1;
        }
        Py_XSETREF(self->main, (GreenletObject *)Py_NewRef(newmain));
        st->lineages_moved++;
    }
    ((GreenletObject *)value)->was_parent = 1;
    Py_XSETREF(self->parent, (GreenletObject *)Py_NewRef(value));
    return 0;
}

static PyObject *
get_dead(GreenletObject *self, void *closure)
{
    int dead = G_DEAD(self) || (G_STARTED(self) && !thread_alive(self));
    return PyBool_FromLong(dead);
}

static PyObject *
get_frame(GreenletObject *self, void *closure)
{
    if (!G_ACTIVE(self) || is_running(self))
        Py_RETURN_NONE;
    if (!thread_alive(self)) {
        /* Still readable where it was suspended (its frames live in its
           own data stack); what ran when the thread ended is gone. */
        if (G_IS_MAIN(self) || self->stack_start == RUNNING_START)
            Py_RETURN_NONE;
        return gevc_pystate_frame(&self->py, PyThreadState_GET(), NULL, NULL,
                                  NULL, self);
    }
    return gevc_pystate_frame(&self->py, PyThreadState_GET(),
                              self->stack_start, self->stack_stop,
                              gevc__read_stack, self);
}

static PyObject *
get_context(GreenletObject *self, void *closure)
{
    int running = is_running(self);
    if (running && G_MAIN_OF(self)->thread->tstate != PyThreadState_GET()) {
        PyErr_SetString(PyExc_ValueError,
                        "cannot get the context of a greenlet that is "
                        "running in a different thread");
        return NULL;
    }
    return gevc_pystate_get_context(&self->py, PyThreadState_GET(), running);
}

static int
set_context(GreenletObject *self, PyObject *value, void *closure)
{
    int running = is_running(self);
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "can't delete context attribute");
        return -1;
    }
    if (running && G_MAIN_OF(self)->thread->tstate != PyThreadState_GET()) {
        PyErr_SetString(PyExc_ValueError,
                        "cannot set the context of a greenlet that is "
                        "running in a different thread");
        return -1;
    }
    return gevc_pystate_set_context(&self->py, PyThreadState_GET(), running,
                                    value);
}

static PyObject *
get_stack_saved(GreenletObject *self, void *closure)
{
    return PyLong_FromSize_t(self->stack_saved);
}

static PyObject *
get_datastack_held(GreenletObject *self, void *closure)
{
    int running = is_running(self);
    if (!G_ACTIVE(self) || !thread_alive(self) ||
        (running && G_MAIN_OF(self)->thread->tstate != PyThreadState_GET()))
        return PyLong_FromLong(0);
    return PyLong_FromSize_t(gevc_pystate_datastack_bytes(
        &self->py, PyThreadState_GET(), running));
}

static PyGetSetDef greenlet_getsets[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {"run", (getter)get_run, (setter)set_run,
     "The callable run on the first switch; only until the greenlet starts.",
     NULL},
    {"parent", (getter)get_parent, (setter)set_parent,
     "The greenlet that receives control when this one finishes.", NULL},
    {"dead", (getter)get_dead, NULL,
     "True once the greenlet has finished (or its thread has exited).", NULL},
    {"gr_frame", (getter)get_frame, NULL,
     "The frame a suspended greenlet is suspended in, else None.", NULL},
    {"gr_context", (getter)get_context, (setter)set_context,
     "The contextvars.Context the greenlet runs in (None: empty).", NULL},
    {"_stack_saved", (getter)get_stack_saved, NULL,
     "Bytes of C stack currently saved on the heap.", NULL},
    {"_datastack_held", (getter)get_datastack_held, NULL,
     "Bytes of interpreter data-stack chunks the greenlet holds (0 on\n"
     "3.10, and for a greenlet not started, dead or of an exited thread).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef greenlet_members[] = {
    {"__weaklistoffset__", T_PYSSIZET,
     offsetof(GreenletObject, weakreflist), READONLY, NULL},
    {"__dictoffset__", T_PYSSIZET, offsetof(GreenletObject, dict), READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static int
greenlet_bool(GreenletObject *self)
{
    return G_ACTIVE(self) && thread_alive(self);
}

/* Running in the calling thread (repr speaks from the caller's view: the
   main greenlet of another thread shows as suspended). */
static int
is_current_here(GreenletObject *g)
{
    GreenletObject *m = G_MAIN_OF(g);
    return m != NULL && m->thread != NULL &&
           m->thread->tstate == PyThreadState_GET() && m->thread->current == g;
}

static PyObject *
greenlet_repr(GreenletObject *self)
{
    const char *tp = Py_TYPE(self)->tp_name;
    void *otid = G_MAIN_OF(self);
    if (G_STARTED(self) && (!G_ACTIVE(self) || !thread_alive(self)))
        return PyUnicode_FromFormat("<%s object at %p (otid=%p) %sdead>",
                                    tp, (void *)self, otid,
                                    otid != NULL && !thread_alive(self)
                                        ? "(thread exited) " : "");
    return PyUnicode_FromFormat("<%s object at %p (otid=%p)%s%s%s%s>",
        tp, (void *)self, otid,
        is_current_here(self) ? " current"
                              : (G_ACTIVE(self) ? " suspended" : ""),
        G_ACTIVE(self) ? " active" : "",
        G_STARTED(self) ? " started" : " pending",
        G_IS_MAIN(self) ? " main" : "");
}

PyDoc_STRVAR(greenlet_doc,
"greenlet(run=None, parent=None)\n--\n\n"
"A coroutine with its own C stack slice, compatible with greenlet.greenlet.\n\n"
"switch() starts it by calling run(*args, **kwargs); when run returns, its\n"
"value is switched to the parent.  An unfinished greenlet that is no\n"
"longer referenced gets GreenletExit raised in it, in its own thread.");

static PyType_Slot greenlet_slots[] = {
    {Py_tp_new, greenlet_new},
    {Py_tp_init, greenlet_init},
    {Py_tp_dealloc, greenlet_dealloc},
    {Py_tp_finalize, greenlet_finalize},
    {Py_tp_traverse, greenlet_traverse},
    {Py_tp_clear, greenlet_clear},
    {Py_tp_repr, greenlet_repr},
    {Py_nb_bool, greenlet_bool},
    {Py_tp_methods, greenlet_methods},
    {Py_tp_getset, greenlet_getsets},
    {Py_tp_members, greenlet_members},
    {Py_tp_doc, (void *)greenlet_doc},
    {0, NULL},
};

static PyType_Spec greenlet_spec = {
    .name = "gevent_c._greenlet.greenlet",
    .basicsize = sizeof(GreenletObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = greenlet_slots,
};

int
gevc__greenlet_type_init(PyObject *module, gevc_state *st)
{
    st->greenlet_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &greenlet_spec, NULL);
    if (st->greenlet_type == NULL)
        return -1;
    st->greenlet_type->tp_vectorcall = greenlet_vectorcall;
    return 0;
}
