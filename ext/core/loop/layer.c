/* What the loop layer adds to gevent_c._core: its types (loop, callback,
 * the watchers, the EVENTS sentinel), libev's constants, the module-level
 * functions of gevent.core (get_version, the backend lists, time, the flag
 * conversions) and the at-fork hook; plus the type helpers every layer's
 * init uses. */
#include "loop.h"

/* ---- module functions ------------------------------------------------- */

PyDoc_STRVAR(get_version_doc, "get_version() -> str\n\n"
             "Version of the libev library linked at run time, e.g. 'libev-4.33'.");
static PyObject *
get_version(PyObject *mod, PyObject *unused)
{
    return PyUnicode_FromFormat("libev-%d.%02d", ev_version_major(),
                                ev_version_minor());
}

PyDoc_STRVAR(get_header_version_doc, "get_header_version() -> str\n\n"
             "Version of the libev headers gevent_c was compiled with.");
static PyObject *
get_header_version(PyObject *mod, PyObject *unused)
{
    return PyUnicode_FromFormat("libev-%d.%02d", EV_VERSION_MAJOR,
                                EV_VERSION_MINOR);
}

PyDoc_STRVAR(supported_backends_doc, "supported_backends() -> list of str\n\n"
             "Backends compiled into libev and usable on this system.");
static PyObject *
supported_backends(PyObject *mod, PyObject *unused)
{
    return gevc_flags_to_list(ev_supported_backends());
}

PyDoc_STRVAR(recommended_backends_doc, "recommended_backends() -> list of str\n\n"
             "Backends libev recommends on this system.");
static PyObject *
recommended_backends(PyObject *mod, PyObject *unused)
{
    return gevc_flags_to_list(ev_recommended_backends());
}

PyDoc_STRVAR(embeddable_backends_doc, "embeddable_backends() -> list of str\n\n"
             "Backends whose loops may be embedded in another loop.");
static PyObject *
embeddable_backends(PyObject *mod, PyObject *unused)
{
    return gevc_flags_to_list(ev_embeddable_backends());
}

PyDoc_STRVAR(time_doc, "time() -> float\n\nlibev's current wall-clock time (ev_time).");
static PyObject *
core_time(PyObject *mod, PyObject *unused)
{
    return PyFloat_FromDouble(ev_time());
}

PyDoc_STRVAR(flags_to_int_doc, "_flags_to_int(flags) -> int\n\n"
             "Convert None, an int, a comma-separated string or a list of "
             "backend/flag names to libev's bit mask.  Unknown names raise "
             "ValueError.");
static PyObject *
flags_to_int(PyObject *mod, PyObject *flags)
{
    unsigned int v;
    if (gevc_flags_to_int(flags, &v) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(v);
}

PyDoc_STRVAR(flags_to_list_doc, "_flags_to_list(flags) -> list of str\n\n"
             "Names of the backend/flag bits set in the int `flags`.");
static PyObject *
flags_to_list(PyObject *mod, PyObject *flags)
{
    unsigned long v = PyLong_AsUnsignedLongMask(flags);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    return gevc_flags_to_list((unsigned int)v);
}

PyDoc_STRVAR(check_flags_doc, "_check_flags(flags)\n\n"
             "Raise ValueError if the backend bits of `flags` name no backend or "
             "one this system does not support.");
static PyObject *
check_flags(PyObject *mod, PyObject *flags)
{
    unsigned long v = PyLong_AsUnsignedLongMask(flags);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (gevc_check_flags((unsigned int)v) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(events_to_str_doc, "_events_to_str(events) -> str\n\n"
             "'READ|WRITE'-style rendering of an event mask.");
static PyObject *
events_to_str(PyObject *mod, PyObject *events)
{
    long v = PyLong_AsLong(events);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    return gevc_events_to_str((int)v);
}

PyDoc_STRVAR(after_fork_child_doc, "_after_fork_child()\n\n"
             "Registered with os.register_at_fork(after_in_child=...): re-arm "
             "every live loop's backend (ev_loop_fork) in the new child.");
static PyObject *
after_fork_child(PyObject *mod, PyObject *unused)
{
    gevc_loops_after_fork((gevc_loop_state *)PyModule_GetState(mod));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(gc_callback_doc, "_gc_callback(phase, info)\n\n"
             "In gc.callbacks: at the start of each collection, track the\n"
             "queued loop callbacks that are referenced from elsewhere too.");
static PyObject *
gc_callback(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs >= 1 && PyUnicode_Check(args[0]) &&
        PyUnicode_CompareWithASCIIString(args[0], "start") == 0)
        gevc__callbacks_gc_start((gevc_loop_state *)PyModule_GetState(mod));
    Py_RETURN_NONE;
}

static PyMethodDef loop_layer_functions[] = {
    {"get_version", get_version, METH_NOARGS, get_version_doc},
    {"get_header_version", get_header_version, METH_NOARGS, get_header_version_doc},
    {"supported_backends", supported_backends, METH_NOARGS, supported_backends_doc},
    {"recommended_backends", recommended_backends, METH_NOARGS, recommended_backends_doc},
    {"embeddable_backends", embeddable_backends, METH_NOARGS, embeddable_backends_doc},
    {"time", core_time, METH_NOARGS, time_doc},
    {"_flags_to_int", flags_to_int, METH_O, flags_to_int_doc},
    {"_flags_to_list", flags_to_list, METH_O, flags_to_list_doc},
    {"_check_flags", check_flags, METH_O, check_flags_doc},
    {"_events_to_str", events_to_str, METH_O, events_to_str_doc},
    {"_after_fork_child", after_fork_child, METH_NOARGS, after_fork_child_doc},
    {"_gc_callback", (PyCFunction)(void (*)(void))gc_callback, METH_FASTCALL, gc_callback_doc},
    {NULL, NULL, 0, NULL},
};

/* ---- the EVENTS sentinel ---------------------------------------------- */

static PyObject *
events_repr(PyObject *self)
{
    return PyUnicode_FromString("gevent_c.core.EVENTS");
}

static int
events_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void
events_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(events_doc, "Sentinel: as the first callback argument it is "
             "replaced by the events that fired.");

static PyType_Slot events_slots[] = {
    {Py_tp_repr, events_repr},
    {Py_tp_doc, (void *)events_doc},
    {Py_tp_traverse, events_traverse},
    {Py_tp_dealloc, events_dealloc},
    {0, NULL},
};

static PyType_Spec events_spec = {
    .name = "gevent_c._core._EVENTSType",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = events_slots,
};

/* ---- libev allocation through CPython's raw allocator ---------------- */

/* libev calls this without the GIL (e.g. from ev_run), hence the raw
 * domain; size 0 means free.  libev cannot handle a failure: it aborts the
 * process on NULL.  A few more attempts survive a transient one (memory
 * another thread was about to free, an allocation fault injector). */
static void *
raw_realloc(void *ptr, long size) EV_NOEXCEPT
{
    void *p = NULL;
    if (size == 0) {
        PyMem_RawFree(ptr);
        return NULL;
    }
    for (int attempt = 0; p == NULL && attempt < 4; attempt++)
        p = PyMem_RawRealloc(ptr, (size_t)size);
    return p;
}

/* ---- init ------------------------------------------------------------- */

int
gevc__add_type(PyObject *mod, PyTypeObject **slot, PyType_Spec *spec, PyObject *base,
         const char *export_as)
{
    PyObject *tp = PyType_FromModuleAndSpec(mod, spec, base);
    if (tp == NULL)
        return -1;
    *slot = (PyTypeObject *)tp;
    if (export_as != NULL && PyModule_AddObjectRef(mod, export_as, tp) < 0)
        return -1;
    return 0;
}

static int
add_int(PyObject *mod, const char *name, long value)
{
    return PyModule_AddIntConstant(mod, name, value);
}


/* Give a watcher type its own descriptors for the inherited methods and
 * properties: a descriptor owned by the exact type skips the subtype walk
 * on every call (start/stop are the hot paths). */
static int
own_base_descriptors(PyTypeObject *tp)
{
    PyObject *dict = tp->tp_dict;
    for (PyMethodDef *m = gevc_watcher_base_methods; m->ml_name; m++) {
        PyObject *d = PyDict_GetItemString(dict, m->ml_name);
        if (d != NULL)
            continue;
        d = PyDescr_NewMethod(tp, m);
        if (d == NULL || PyDict_SetItemString(dict, m->ml_name, d) < 0) {
            Py_XDECREF(d);
            return -1;
        }
        Py_DECREF(d);
    }
    for (PyGetSetDef *g = gevc_watcher_base_getset; g->name; g++) {
        PyObject *d = PyDict_GetItemString(dict, g->name);
        if (d != NULL)
            continue;
        d = PyDescr_NewGetSet(tp, g);
        if (d == NULL || PyDict_SetItemString(dict, g->name, d) < 0) {
            Py_XDECREF(d);
            return -1;
        }
        Py_DECREF(d);
    }
    PyType_Modified(tp);
    return 0;
}

/* Class constants on an immutable heap type, set once at module init. */
static int
set_class_int(PyTypeObject *tp, const char *name, long value)
{
    PyObject *v = PyLong_FromLong(value);
    int rc;
    if (v == NULL)
        return -1;
    rc = PyDict_SetItemString(tp->tp_dict, name, v);
    Py_DECREF(v);
    PyType_Modified(tp);
    return rc;
}

PyObject *
gevc__import_attr(const char *modname, const char *attr)
{
    PyObject *m = PyImport_ImportModule(modname);
    if (m == NULL)
        return NULL;
    PyObject *res = PyObject_GetAttrString(m, attr);
    Py_DECREF(m);
    return res;
}

/* The hook holds the module (through the bound function) for the life of
 * the interpreter, as os.register_at_fork keeps its callables. */
static int
register_after_fork(PyObject *mod)
{
    PyObject *hook, *reg, *kw = NULL, *empty = NULL, *res = NULL;
    int rc = -1;

    hook = PyObject_GetAttrString(mod, "_after_fork_child");
    if (hook == NULL)
        return -1;
    reg = gevc__import_attr("os", "register_at_fork");
    if (reg == NULL)
        goto error;
    kw = Py_BuildValue("{sO}", "after_in_child", hook);
    empty = PyTuple_New(0);
    if (kw == NULL || empty == NULL)
        goto error;
    res = PyObject_Call(reg, empty, kw);
    if (res == NULL)
        goto error;
    rc = 0;
error:
    Py_XDECREF(res);
    Py_XDECREF(empty);
    Py_XDECREF(kw);
    Py_XDECREF(reg);
    Py_DECREF(hook);
    return rc;
}

/* gc.callbacks holds the hook, and through it the module, for the life
 * of the interpreter (or until someone removes it: then queued callbacks
 * that are shared stay untracked, which can only keep garbage alive). */
static int
register_gc_callback(PyObject *mod)
{
    PyObject *hook, *callbacks, *res;
    hook = PyObject_GetAttrString(mod, "_gc_callback");
    if (hook == NULL)
        return -1;
    callbacks = gevc__import_attr("gc", "callbacks");
    res = callbacks ? PyObject_CallMethod(callbacks, "append", "O", hook) : NULL;
    Py_XDECREF(callbacks);
    Py_DECREF(hook);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

int
gevc_loop_layer_exec(PyObject *mod, gevc_loop_state *st)
{
    PyObject *w;

    ev_set_allocator(raw_realloc);

    if (gevc__add_type(mod, &st->events_type, &events_spec, NULL, NULL) < 0)
        return -1;
    st->events = PyType_GenericAlloc(st->events_type, 0);
    if (st->events == NULL)
        return -1;
    if (PyModule_AddObjectRef(mod, "EVENTS", st->events) < 0 ||
        PyModule_AddObjectRef(mod, "GEVENT_CORE_EVENTS", st->events) < 0)
        return -1;

    if (gevc__add_type(mod, &st->loop_type, &gevc_loop_spec, NULL, "loop") < 0 ||
        gevc__add_type(mod, &st->callback_type, &gevc_callback_spec, NULL, "callback") < 0 ||
        gevc__add_type(mod, &st->watcher_type, &gevc_watcher_spec, NULL, "watcher") < 0)
        return -1;
    w = (PyObject *)st->watcher_type;
    if (gevc__add_type(mod, &st->io_type, &gevc_io_spec, w, "io") < 0 ||
        gevc__add_type(mod, &st->timer_type, &gevc_timer_spec, w, "timer") < 0 ||
        gevc__add_type(mod, &st->signal_type, &gevc_signal_spec, w, "signal") < 0 ||
        gevc__add_type(mod, &st->idle_type, &gevc_idle_spec, w, "idle") < 0 ||
        gevc__add_type(mod, &st->prepare_type, &gevc_prepare_spec, w, "prepare") < 0 ||
        gevc__add_type(mod, &st->check_type, &gevc_check_spec, w, "check") < 0 ||
        gevc__add_type(mod, &st->fork_type, &gevc_fork_spec, w, "fork") < 0 ||
        gevc__add_type(mod, &st->async_type, &gevc_async_spec, w, "async_") < 0 ||
        gevc__add_type(mod, &st->child_type, &gevc_child_spec, w, "child") < 0 ||
        gevc__add_type(mod, &st->stat_type, &gevc_stat_spec, w, "stat") < 0)
        return -1;
    if (PyModule_AddObjectRef(mod, "async", (PyObject *)st->async_type) < 0)
        return -1;
    PyTypeObject *subtypes[] = {st->io_type, st->timer_type, st->signal_type,
        st->idle_type, st->prepare_type, st->check_type, st->fork_type,
        st->async_type, st->child_type, st->stat_type};
    for (size_t i = 0; i < sizeof(subtypes) / sizeof(subtypes[0]); i++) {
        if (own_base_descriptors(subtypes[i]) < 0)
            return -1;
    }
    if (set_class_int(st->loop_type, "MINPRI", EV_MINPRI) < 0 ||
        set_class_int(st->loop_type, "MAXPRI", EV_MAXPRI) < 0)
        return -1;

    st->getswitchinterval = gevc__import_attr("sys", "getswitchinterval");
    st->stat_result = gevc__import_attr("os", "stat_result");
    st->set_wakeup_fd = gevc__import_attr("signal", "set_wakeup_fd");
    if (st->getswitchinterval == NULL || st->stat_result == NULL ||
        st->set_wakeup_fd == NULL)
        return -1;
    {
        PyObject *main_thread = gevc__import_attr("threading", "main_thread"), *t, *ident;
        if (main_thread == NULL)
            return -1;
        t = PyObject_CallNoArgs(main_thread);
        Py_DECREF(main_thread);
        if (t == NULL)
            return -1;
        ident = PyObject_GetAttrString(t, "ident");
        Py_DECREF(t);
        if (ident == NULL)
            return -1;
        st->main_ident = PyLong_AsUnsignedLong(ident);
        Py_DECREF(ident);
        if (PyErr_Occurred())
            return -1;
    }

    if (add_int(mod, "UNDEF", EV_UNDEF) < 0 ||
        add_int(mod, "NONE", EV_NONE) < 0 ||
        add_int(mod, "READ", EV_READ) < 0 ||
        add_int(mod, "WRITE", EV_WRITE) < 0 ||
        add_int(mod, "READWRITE", EV_READ | EV_WRITE) < 0 ||
        add_int(mod, "TIMER", EV_TIMER) < 0 ||
        add_int(mod, "PERIODIC", EV_PERIODIC) < 0 ||
        add_int(mod, "SIGNAL", EV_SIGNAL) < 0 ||
        add_int(mod, "CHILD", EV_CHILD) < 0 ||
        add_int(mod, "STAT", EV_STAT) < 0 ||
        add_int(mod, "IDLE", EV_IDLE) < 0 ||
        add_int(mod, "PREPARE", EV_PREPARE) < 0 ||
        add_int(mod, "CHECK", EV_CHECK) < 0 ||
        add_int(mod, "EMBED", EV_EMBED) < 0 ||
        add_int(mod, "FORK", EV_FORK) < 0 ||
        add_int(mod, "CLEANUP", EV_CLEANUP) < 0 ||
        add_int(mod, "ASYNC", EV_ASYNC) < 0 ||
        add_int(mod, "CUSTOM", EV_CUSTOM) < 0 ||
        add_int(mod, "ERROR", EV_ERROR) < 0 ||
        add_int(mod, "MINPRI", EV_MINPRI) < 0 ||
        add_int(mod, "MAXPRI", EV_MAXPRI) < 0 ||
        add_int(mod, "BACKEND_PORT", EVBACKEND_PORT) < 0 ||
        add_int(mod, "BACKEND_KQUEUE", EVBACKEND_KQUEUE) < 0 ||
        add_int(mod, "BACKEND_IOURING", EVBACKEND_IOURING) < 0 ||
        add_int(mod, "BACKEND_LINUXAIO", EVBACKEND_LINUXAIO) < 0 ||
        add_int(mod, "BACKEND_EPOLL", EVBACKEND_EPOLL) < 0 ||
        add_int(mod, "BACKEND_POLL", EVBACKEND_POLL) < 0 ||
        add_int(mod, "BACKEND_SELECT", EVBACKEND_SELECT) < 0 ||
        add_int(mod, "NOENV", EVFLAG_NOENV) < 0 ||
        add_int(mod, "FORKCHECK", EVFLAG_FORKCHECK) < 0 ||
        add_int(mod, "NOINOTIFY", EVFLAG_NOINOTIFY) < 0 ||
        add_int(mod, "SIGNALFD", EVFLAG_SIGNALFD) < 0 ||
        add_int(mod, "NOSIGMASK", EVFLAG_NOSIGMASK) < 0 ||
        add_int(mod, "EVBREAK_ONE", EVBREAK_ONE) < 0 ||
        add_int(mod, "EVBREAK_ALL", EVBREAK_ALL) < 0 ||
        add_int(mod, "LIBEV_EMBED", 0) < 0)
        return -1;
    if (gevc__add_flag_tables(mod) < 0 ||
        PyModule_AddFunctions(mod, loop_layer_functions) < 0)
        return -1;
    if (register_after_fork(mod) < 0)
        return -1;
    return register_gc_callback(mod);
}

int
gevc_loop_layer_traverse(gevc_loop_state *st, visitproc visit, void *arg)
{
    Py_VISIT(st->loop_type);
    Py_VISIT(st->callback_type);
    Py_VISIT(st->watcher_type);
    Py_VISIT(st->io_type);
    Py_VISIT(st->timer_type);
    Py_VISIT(st->signal_type);
    Py_VISIT(st->idle_type);
    Py_VISIT(st->prepare_type);
    Py_VISIT(st->check_type);
    Py_VISIT(st->fork_type);
    Py_VISIT(st->async_type);
    Py_VISIT(st->child_type);
    Py_VISIT(st->stat_type);
    Py_VISIT(st->events_type);
    Py_VISIT(st->events);
    Py_VISIT(st->getswitchinterval);
    Py_VISIT(st->stat_result);
    Py_VISIT(st->print_exception);
    Py_VISIT(st->set_wakeup_fd);
    return 0;
}

void
gevc_loop_layer_clear(gevc_loop_state *st)
{
    Py_CLEAR(st->loop_type);
    Py_CLEAR(st->callback_type);
    Py_CLEAR(st->watcher_type);
    Py_CLEAR(st->io_type);
    Py_CLEAR(st->timer_type);
    Py_CLEAR(st->signal_type);
    Py_CLEAR(st->idle_type);
    Py_CLEAR(st->prepare_type);
    Py_CLEAR(st->check_type);
    Py_CLEAR(st->fork_type);
    Py_CLEAR(st->async_type);
    Py_CLEAR(st->child_type);
    Py_CLEAR(st->stat_type);
    Py_CLEAR(st->events_type);
    Py_CLEAR(st->events);
    Py_CLEAR(st->getswitchinterval);
    Py_CLEAR(st->stat_result);
    Py_CLEAR(st->print_exception);
    Py_CLEAR(st->set_wakeup_fd);
}

