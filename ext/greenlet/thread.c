/* Per-thread greenlet state.
 *
 * Each thread that uses greenlets gets a gevc_thread (its main and current
 * greenlet, trace function, deferred kills, chunk cache).  A small holder
 * object stored in the thread-state dict owns it: CPython clears that dict,
 * with the GIL held, when the thread ends, and the holder's dealloc then
 * marks the thread's greenlets as belonging to an exited thread.  A
 * thread-local pointer caches the lookup.
 */
#include "internal.h"

_Thread_local gevc_thread *gevc__cur_thread;

typedef struct {
    PyObject_HEAD
    gevc_thread *th;
} HolderObject;

static void
thread_free(gevc_thread *th)
{
    if (gevc__cur_thread == th)
        gevc__cur_thread = NULL;
    th->main->thread = NULL;
    /* queued greenlets now see an exited thread and are freed unrun */
    Py_CLEAR(th->deleteme);
    gevc_pystate_cache_clear(&th->chunks);
    while (th->nspare > 0)
        PyObject_GC_Del(th->spare[--th->nspare]);
    Py_CLEAR(th->tracefunc);
    Py_CLEAR(th->origin);
    Py_CLEAR(th->args);
    Py_CLEAR(th->kwargs);
    Py_CLEAR(th->current);
    Py_CLEAR(th->main);
    Py_CLEAR(th->module);
    PyMem_Free(th);
}

static void
holder_dealloc(HolderObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    gevc_thread *th = self->th;
    self->th = NULL;
    if (th != NULL)
        thread_free(th);
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(holder_doc,
"Owns the greenlet state of one thread; lives in the thread-state dict.");

static PyType_Slot holder_slots[] = {
    {Py_tp_dealloc, holder_dealloc},
    {Py_tp_doc, (void *)holder_doc},
    {0, NULL},
};

static PyType_Spec holder_spec = {
    .name = "gevent_c._greenlet._ThreadState",
    .basicsize = sizeof(HolderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = holder_slots,
};

int
gevc__holder_type_init(PyObject *module, gevc_state *st)
{
    st->holder_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &holder_spec, NULL);
    return st->holder_type ? 0 : -1;
}

/* The greenlet running now in the thread whose threading ident is
 * `ident` (new ref), or None if that thread has no greenlet state.  Read
 * under the GIL from another thread (gevent_c.blocking's watchdog), from the
 * holder in that thread's state dict. */
PyObject *
gevc__thread_current_in(gevc_state *st, unsigned long ident)
{
    PyThreadState *ts = PyInterpreterState_ThreadHead(PyInterpreterState_Get());
    for (; ts != NULL; ts = PyThreadState_Next(ts)) {
        PyObject *found;
        gevc_thread *th;
        if (ts->thread_id != ident || ts->dict == NULL)
            continue;
        found = PyDict_GetItemWithError(ts->dict, st->str_key);
        if (found == NULL) {
            if (PyErr_Occurred())
                return NULL;
            break;
        }
        if (!Py_IS_TYPE(found, st->holder_type))
            break;
        th = ((HolderObject *)found)->th;
        if (th != NULL && th->current != NULL)
            return Py_NewRef((PyObject *)th->current);
        break;
    }
    Py_RETURN_NONE;
}

gevc_thread *
gevc__thread_slow(gevc_state *st)
{
    PyThreadState *ts = PyThreadState_GET();
    PyObject *dict, *found, *module = NULL;
    HolderObject *holder = NULL;
    gevc_thread *th = NULL;

    dict = PyThreadState_GetDict();
    if (dict == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError,
                            "greenlets need a thread state dict");
        return NULL;
    }
    found = PyDict_GetItemWithError(dict, st->str_key);
    if (found != NULL) {
        th = ((HolderObject *)found)->th;
        gevc__cur_thread = th;
        if (th->deleteme != NULL)
            gevc__thread_drain(th);
        return th;
    }
    if (PyErr_Occurred())
        return NULL;

    module = PyType_GetModule(st->greenlet_type);
    if (module == NULL)
        return NULL;
    th = PyMem_Calloc(1, sizeof(*th));
    if (th == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    th->st = st;
    th->tstate = ts;
    th->module = Py_NewRef(module);
    th->main = gevc__greenlet_new_main(st, th);
    if (th->main == NULL)
        goto error;
    th->current = (GreenletObject *)Py_NewRef(th->main);
    holder = PyObject_New(HolderObject, st->holder_type);
    if (holder == NULL)
        goto error;
    holder->th = th;
    if (PyDict_SetItem(dict, st->str_key, (PyObject *)holder) < 0) {
        holder->th = NULL;
        goto error;
    }
    Py_DECREF(holder);
    gevc__cur_thread = th;
    return th;
error:
    Py_XDECREF(holder);
    if (th->main != NULL) {
        th->main->thread = NULL;
        Py_CLEAR(th->current);
        Py_CLEAR(th->main);
    }
    Py_XDECREF(th->module);
    PyMem_Free(th);
    return NULL;
}

static void
drain(gevc_thread *th)
{
    PyObject *list = th->deleteme;
    th->deleteme = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++)
        gevc__greenlet_kill(th, (GreenletObject *)PyList_GET_ITEM(list, i));
    Py_DECREF(list);
}

/* Kill the greenlets dropped while they could not be killed at once: by
   other threads while they belonged to us, or inside a collection. */
void
gevc__thread_drain(gevc_thread *th)
{
    if (!gevc_pystate_gc_collecting(th->tstate))
        drain(th);
}

/* gc.callbacks entry: when a collection ends, kill what it queued in this
   thread.  The collector's own frames are gone by then ("stop" is reported
   after them), although it still counts as collecting. */
static PyObject *
after_gc(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_thread *th = gevc__cur_thread;
    if (nargs < 1 || !PyUnicode_Check(args[0]))
        Py_RETURN_NONE;
    if (th != NULL && th->deleteme != NULL &&
        th->tstate == PyThreadState_GET() &&
        PyUnicode_CompareWithASCIIString(args[0], "stop") == 0)
        drain(th);
    Py_RETURN_NONE;
}

static PyMethodDef after_gc_def = {
    "_after_gc", (PyCFunction)(void (*)(void))after_gc, METH_FASTCALL,
    "gc callback: kill the greenlets a collection found unreachable."};

/* Called when a collection queues a kill: make sure after_gc is in
   gc.callbacks (the "stop" report of this collection reaches a callback
   appended now).  Added on first need only, since every callback makes
   each collection build and pass its report. */
int
gevc__thread_gc_hook(gevc_thread *th)
{
    PyObject *gc, *callbacks = NULL, *fn = NULL;
    int r = -1, found;
    gc = PyImport_ImportModule("gc");
    if (gc == NULL)
        return -1;
    callbacks = PyObject_GetAttrString(gc, "callbacks");
    if (callbacks == NULL)
        goto done;
    if (!PyList_Check(callbacks)) {
        r = 0;          /* replaced by someone: the kill waits for a drain */
        goto done;
    }
    fn = PyCFunction_NewEx(&after_gc_def, th->module, NULL);
    if (fn == NULL)
        goto done;
    found = PySequence_Contains(callbacks, fn);
    if (found < 0)
        goto done;
    r = found ? 0 : PyList_Append(callbacks, fn);
done:
    Py_XDECREF(fn);
    Py_XDECREF(callbacks);
    Py_DECREF(gc);
    return r;
}
