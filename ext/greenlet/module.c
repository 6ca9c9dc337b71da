/* Module gevent_c._greenlet: module state, functions, C API capsule. */
#include "internal.h"

static PyModuleDef module_def;

gevc_state *
gevc__module_state(PyObject *module)
{
    return (gevc_state *)PyModule_GetState(module);
}

gevc_state *
gevc__state_of_type(PyTypeObject *tp)
{
    PyObject *m = PyType_GetModuleByDef(tp, &module_def);
    return m ? gevc__module_state(m) : NULL;
}

static gevc_thread *
thread_for_module(PyObject *module)
{
    gevc_thread *th = gevc__cur_thread;
    if (th != NULL && th->tstate == PyThreadState_GET()) {
        if (th->deleteme != NULL)
            gevc__thread_drain(th);
        return th;
    }
    return gevc__thread_slow(gevc__module_state(module));
}

/* For C API callers, which have no module at hand. */
static gevc_thread *
thread_for_capi(void)
{
    gevc_thread *th = gevc__cur_thread;
    PyObject *m;
    if (th != NULL && th->tstate == PyThreadState_GET()) {
        if (th->deleteme != NULL)
            gevc__thread_drain(th);
        return th;
    }
    m = PyImport_ImportModule("gevent_c._greenlet");
    if (m == NULL)
        return NULL;
    th = gevc__thread_slow(gevc__module_state(m));
    Py_DECREF(m);
    return th;
}

/* ------------------------------------------------------------------ */
/* module functions */

PyDoc_STRVAR(getcurrent_doc,
"getcurrent()\n--\n\nReturn the greenlet running in this thread.\n\n"
"Raises RuntimeError once the interpreter is finalizing (finalizers run\n"
"by the last collections), as greenlet does.");

static PyObject *
mod_getcurrent(PyObject *module, PyObject *unused)
{
    gevc_thread *th;
    if (Py_IsFinalizing()) {
        PyErr_SetString(PyExc_RuntimeError, "greenlet is being finalized");
        return NULL;
    }
    th = thread_for_module(module);
    return th ? Py_NewRef(th->current) : NULL;
}

PyDoc_STRVAR(current_in_thread_doc,
"_current_in_thread(ident)\n--\n\n"
"The greenlet running now in the thread with this threading ident, or None\n"
"if that thread has not used greenlets (for gevent_c.blocking's watchdog).");

static PyObject *
mod_current_in_thread(PyObject *module, PyObject *arg)
{
    unsigned long ident = PyLong_AsUnsignedLong(arg);
    gevc_state *st = gevc__module_state(module);
    if (ident == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    return gevc__thread_current_in(st, ident);
}

PyDoc_STRVAR(settrace_doc,
"settrace(callback)\n--\n\n"
"Set this thread's greenlet trace function and return the previous one.\n"
"callback(event, (origin, target)) runs in the target after each switch,\n"
"event being 'switch' or 'throw'.  If it raises, it is removed and the\n"
"exception is raised in the target.  None removes it.");

static PyObject *
mod_settrace(PyObject *module, PyObject *cb)
{
    gevc_thread *th = thread_for_module(module);
    PyObject *prev;
    if (th == NULL)
        return NULL;
    prev = th->tracefunc ? th->tracefunc : Py_NewRef(Py_None);
    th->tracefunc = cb == Py_None ? NULL : Py_NewRef(cb);
    return prev;
}

PyDoc_STRVAR(gettrace_doc,
"gettrace()\n--\n\nReturn this thread's greenlet trace function or None.");

static PyObject *
mod_gettrace(PyObject *module, PyObject *unused)
{
    gevc_thread *th = thread_for_module(module);
    if (th == NULL)
        return NULL;
    return Py_NewRef(th->tracefunc ? th->tracefunc : Py_None);
}

PyDoc_STRVAR(datastack_spares_doc,
"_datastack_spares()\n--\n\n"
"Number of freed interpreter data-stack chunks kept for reuse (a few at\n"
"most, process-wide); for tests.");

static PyObject *
mod_datastack_spares(PyObject *module, PyObject *unused)
{
    return PyLong_FromLong(gevc_pystate_spare_count());
}

PyDoc_STRVAR(trash_nesting_doc,
"_trash_delete_nesting()\n--\n\n"
"This thread's trashcan nesting depth (deferred deallocation), kept per\n"
"greenlet; None on Python versions that keep no such count.  For tests.");

static PyObject *
mod_trash_nesting(PyObject *module, PyObject *unused)
{
    int n = gevc_pystate_trash_nesting(PyThreadState_GET());
    if (n < 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(n);
}

static PyMethodDef module_methods[] = {
    {"_datastack_spares", mod_datastack_spares, METH_NOARGS,
     datastack_spares_doc},
    {"_trash_delete_nesting", mod_trash_nesting, METH_NOARGS,
     trash_nesting_doc},
    {"getcurrent", mod_getcurrent, METH_NOARGS, getcurrent_doc},
    {"_current_in_thread", mod_current_in_thread, METH_O, current_in_thread_doc},
    {"settrace", mod_settrace, METH_O, settrace_doc},
    {"gettrace", mod_gettrace, METH_NOARGS, gettrace_doc},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* C API */

static PyObject *
capi_getcurrent_borrowed(void)
{
    gevc_thread *th = thread_for_capi();
    return th ? (PyObject *)th->current : NULL;
}

static PyObject *
capi_getcurrent(void)
{
    return Py_XNewRef(capi_getcurrent_borrowed());
}

static int
capi_check(PyObject *g, gevc_thread *th)
{
    if (!PyObject_TypeCheck(g, th->st->greenlet_type)) {
        PyErr_SetString(PyExc_TypeError, "expected a greenlet");
        return -1;
    }
    return 0;
}

static PyObject *
capi_new(PyObject *run, PyObject *parent)
{
    gevc_thread *th = thread_for_capi();
    PyObject *g;
    if (th == NULL)
        return NULL;
    g = PyObject_CallNoArgs((PyObject *)th->st->greenlet_type);
    if (g == NULL)
        return NULL;
    if (run != NULL && PyObject_SetAttr(g, th->st->str_run, run) < 0)
        goto error;
    if (parent != NULL && parent != Py_None &&
        PyObject_SetAttrString(g, "parent", parent) < 0)
        goto error;
    return g;
error:
    Py_DECREF(g);
    return NULL;
}

static PyObject *
capi_switch(PyObject *g, PyObject *args, PyObject *kwargs)
{
    gevc_thread *th = thread_for_capi();
    if (th == NULL || capi_check(g, th) < 0)
        return NULL;
    if (args == NULL)
        args = PyTuple_New(0);
    else if (!PyTuple_Check(args)) {
        PyErr_SetString(PyExc_TypeError, "switch arguments must be a tuple");
        return NULL;
    }
    else
        Py_INCREF(args);
    if (args == NULL)
        return NULL;
    if (kwargs != NULL && !PyDict_Check(kwargs))
        kwargs = NULL;
    return gevc__switch(th, (GreenletObject *)g, args, Py_XNewRef(kwargs), 0);
}

static PyObject *
capi_throw(PyObject *g, PyObject *typ, PyObject *val, PyObject *tb)
{
    gevc_thread *th = thread_for_capi();
    if (th == NULL || capi_check(g, th) < 0)
        return NULL;
    if (typ == NULL)
        typ = th->st->GreenletExit;
    return gevc__throw(th, (GreenletObject *)g, typ, val, tb);
}

static PyModuleDef module_def;

/* For the functions that need no thread state: the type alone says it. */
static int
capi_check_type(PyObject *g)
{
    PyObject *m = PyType_GetModuleByDef(Py_TYPE(g), &module_def);
    if (m != NULL &&
        PyObject_TypeCheck(g, gevc__module_state(m)->greenlet_type))
        return 0;
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "expected a greenlet, not %s",
                 Py_TYPE(g)->tp_name);
    return -1;
}

static PyObject *
capi_get_parent(PyObject *g)
{
    if (capi_check_type(g) < 0)
        return NULL;
    return Py_XNewRef((PyObject *)((GreenletObject *)g)->parent);
}

static int
capi_set_parent(PyObject *g, PyObject *parent)
{
    return PyObject_SetAttrString(g, "parent", parent);
}

static int
capi_started(PyObject *g)
{
    if (capi_check_type(g) < 0)
        return -1;
    return G_STARTED((GreenletObject *)g);
}

static int
capi_active(PyObject *g)
{
    if (capi_check_type(g) < 0)
        return -1;
    return G_ACTIVE((GreenletObject *)g);
}

static int
capi_is_main(PyObject *g)
{
    if (capi_check_type(g) < 0)
        return -1;
    return G_IS_MAIN((GreenletObject *)g);
}

static int
capi_callers(PyObject **codes, int *offsets, int n)
{
    return gevc_pystate_callers(PyThreadState_GET(), codes, offsets, n);
}

static void
capsule_free(PyObject *capsule)
{
    PyMem_Free(PyCapsule_GetPointer(capsule, GEVC_GREENLET_CAPI_NAME));
}

static int
add_capi(PyObject *module, gevc_state *st)
{
    gevc_greenlet_capi *api = PyMem_Calloc(1, sizeof(*api));
    PyObject *cap;
    if (api == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* the module keeps the objects alive as long as the capsule */
    api->version = GEVC_GREENLET_CAPI_VERSION;
    api->type = st->greenlet_type;
    api->GreenletExit = st->GreenletExit;
    api->error = st->error;
    api->getcurrent = capi_getcurrent;
    api->getcurrent_borrowed = capi_getcurrent_borrowed;
    api->new_greenlet = capi_new;
    api->switch_to = capi_switch;
    api->throw_into = capi_throw;
    api->get_parent = capi_get_parent;
    api->set_parent = capi_set_parent;
    api->started = capi_started;
    api->active = capi_active;
    api->is_main = capi_is_main;
    api->callers = capi_callers;
    cap = PyCapsule_New(api, GEVC_GREENLET_CAPI_NAME, capsule_free);
    if (cap == NULL) {
        PyMem_Free(api);
        return -1;
    }
    if (PyModule_AddObjectRef(module, "_C_API", cap) < 0) {
        Py_DECREF(cap);
        return -1;
    }
    Py_DECREF(cap);
    return 0;
}

/* ------------------------------------------------------------------ */
/* module init */

PyDoc_STRVAR(greenlet_exit_doc,
"Raised in a greenlet to end it; caught by the greenlet machinery, which\n"
"returns the instance to the parent.");
PyDoc_STRVAR(error_doc, "Raised for switches that cannot happen.");

static int
module_exec(PyObject *module)
{
    gevc_state *st = gevc__module_state(module);
    static const char *copied[] = {"getcurrent", "settrace", "gettrace"};
    PyObject *tdict;

    gevc_pystate_wrap_arena();

    st->GreenletExit = PyErr_NewExceptionWithDoc(
        "gevent_c._greenlet.GreenletExit", greenlet_exit_doc,
        PyExc_BaseException, NULL);
    if (st->GreenletExit == NULL)
        return -1;
    st->error = PyErr_NewExceptionWithDoc("gevent_c._greenlet.error",
                                          error_doc, NULL, NULL);
    if (st->error == NULL)
        return -1;
    if (!(st->str_switch = PyUnicode_InternFromString("switch")) ||
        !(st->str_throw = PyUnicode_InternFromString("throw")) ||
        !(st->str_run = PyUnicode_InternFromString("run")) ||
        !(st->str_key = PyUnicode_InternFromString(
              "gevent_c._greenlet.thread")))
        return -1;
    if (gevc__greenlet_type_init(module, st) < 0 ||
        gevc__holder_type_init(module, st) < 0)
        return -1;
    if (PyModule_AddObjectRef(module, "greenlet",
                              (PyObject *)st->greenlet_type) < 0 ||
        PyModule_AddObjectRef(module, "GreenletExit", st->GreenletExit) < 0 ||
        PyModule_AddObjectRef(module, "error", st->error) < 0)
        return -1;
    /* greenlet.greenlet.getcurrent() etc. work too; the type is immutable
       from Python, so they go into its dict directly */
    tdict = st->greenlet_type->tp_dict;
    if (PyDict_SetItemString(tdict, "GreenletExit", st->GreenletExit) < 0 ||
        PyDict_SetItemString(tdict, "error", st->error) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
        PyObject *f = PyObject_GetAttrString(module, copied[i]);
        int rc;
        if (f == NULL)
            return -1;
        rc = PyDict_SetItemString(tdict, copied[i], f);
        Py_DECREF(f);
        if (rc < 0)
            return -1;
    }
    PyType_Modified(st->greenlet_type);
    return add_capi(module, st);
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    gevc_state *st = gevc__module_state(module);
    Py_VISIT(st->greenlet_type);
    Py_VISIT(st->holder_type);
    Py_VISIT(st->GreenletExit);
    Py_VISIT(st->error);
    return 0;
}

static int
module_clear(PyObject *module)
{
    gevc_state *st = gevc__module_state(module);
    Py_CLEAR(st->greenlet_type);
    Py_CLEAR(st->holder_type);
    Py_CLEAR(st->GreenletExit);
    Py_CLEAR(st->error);
    Py_CLEAR(st->str_switch);
    Py_CLEAR(st->str_throw);
    Py_CLEAR(st->str_run);
    Py_CLEAR(st->str_key);
    return 0;
}

static void
module_free(void *module)
{
    module_clear(module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

PyDoc_STRVAR(module_doc,
"gevent_c's coroutine type: greenlet-compatible greenlets whose stacks are\n"
"slices of the thread's own C stack.");

static PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gevent_c._greenlet",
    .m_doc = module_doc,
    .m_size = sizeof(gevc_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__greenlet(void)
{
    return PyModuleDef_Init(&module_def);
}
