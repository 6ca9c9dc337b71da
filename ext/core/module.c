/* gevent_c._core module: state, constants, module-level functions and
 * init.  The flag/event name tables live in flags.c. */
#include "core.h"

#include <string.h>

/* ---- SIGCHLD: process-wide, recorded in module state ------------------ */

void
gevc_install_sigchld(gevc_state *st)
{
    if (st->sigchld_state == 1) {
        sigaction(SIGCHLD, &st->sigchld_libev, NULL);
        st->sigchld_state = 2;
        /* a child that exited before this was not seen: make libev reap */
        ev_feed_signal(SIGCHLD);
    }
}

void
gevc_reset_sigchld(gevc_state *st)
{
    if (st->sigchld_state == 2) {
        sigaction(SIGCHLD, &st->sigchld_saved, NULL);
        st->sigchld_state = 1;
    }
}

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
    gevc_loops_after_fork(PyModule_GetState(mod));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
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
 * domain; size 0 means free. */
static void *
raw_realloc(void *ptr, long size) EV_NOEXCEPT
{
    if (size == 0) {
        PyMem_RawFree(ptr);
        return NULL;
    }
    return PyMem_RawRealloc(ptr, (size_t)size);
}

/* ---- module init ------------------------------------------------------ */

static int
add_type(PyObject *mod, PyTypeObject **slot, PyType_Spec *spec, PyObject *base,
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

static PyObject *
import_attr(const char *modname, const char *attr)
{
    PyObject *m = PyImport_ImportModule(modname);
    if (m == NULL)
        return NULL;
    PyObject *res = PyObject_GetAttrString(m, attr);
    Py_DECREF(m);
    return res;
}

/* The hub's hot paths: Waiter, the per-thread hub registry, hub_wait. */
static int
hub_exec(PyObject *mod, gevc_state *st)
{
    /* PyCapsule_Import walks attributes: while the gevent_c package is
     * still importing us, the submodule must be imported by name first */
    PyObject *gmod = PyImport_ImportModule("gevent_c._greenlet");
    if (gmod == NULL)
        return -1;
    Py_DECREF(gmod);
    st->gapi = gevc_greenlet_import();
    if (st->gapi == NULL)
        return -1;
    if (add_type(mod, &st->waiter_type, &gevc_waiter_spec, NULL, "Waiter") < 0 ||
        add_type(mod, &st->hublocal_type, &gevc_hublocal_spec, NULL, NULL) < 0)
        return -1;
    st->waiter_unset = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (st->waiter_unset == NULL ||
        PyModule_AddObjectRef(mod, "_WAITER_UNSET", st->waiter_unset) < 0)
        return -1;
    if ((st->str_switch = PyUnicode_InternFromString("switch")) == NULL ||
        (st->str_throw = PyUnicode_InternFromString("throw")) == NULL ||
        (st->str_handle_error = PyUnicode_InternFromString("handle_error")) == NULL ||
        (st->str_switch_out = PyUnicode_InternFromString("switch_out")) == NULL ||
        (st->str_start = PyUnicode_InternFromString("start")) == NULL ||
        (st->str_stop = PyUnicode_InternFromString("stop")) == NULL ||
        (st->str_loop = PyUnicode_InternFromString("loop")) == NULL ||
        (st->str_run_callback = PyUnicode_InternFromString("run_callback")) == NULL ||
        (st->str_hub = PyUnicode_InternFromString("hub")) == NULL ||
        (st->str_put = PyUnicode_InternFromString("_put")) == NULL ||
        (st->str_remove = PyUnicode_InternFromString("remove")) == NULL ||
        (st->str_item = PyUnicode_InternFromString("item")) == NULL ||
        (st->str_unlock_slow = PyUnicode_InternFromString("_unlock_slow")) == NULL ||
        (st->str_fast = PyUnicode_InternFromString("_fast")) == NULL ||
        (st->str_unlock = PyUnicode_InternFromString("_unlock")) == NULL ||
        (st->str_put_slow = PyUnicode_InternFromString("_put_slow")) == NULL ||
        (st->str_get_slow = PyUnicode_InternFromString("_get_slow")) == NULL ||
        (st->str_append = PyUnicode_InternFromString("append")) == NULL ||
        (st->str_popleft = PyUnicode_InternFromString("popleft")) == NULL ||
        (st->str_clear = PyUnicode_InternFromString("clear")) == NULL ||
        (st->str_ready = PyUnicode_InternFromString("ready")) == NULL ||
        (st->str_notify_links = PyUnicode_InternFromString("_notify_links")) == NULL ||
        (st->str_notify_all = PyUnicode_InternFromString("_notify_all")) == NULL ||
        (st->str_timer = PyUnicode_InternFromString("timer")) == NULL ||
        (st->str_update = PyUnicode_InternFromString("update")) == NULL ||
        (st->str_close = PyUnicode_InternFromString("close")) == NULL ||
        (st->str_release = PyUnicode_InternFromString("release")) == NULL ||
        (st->str_run_callback_threadsafe = PyUnicode_InternFromString("run_callback_threadsafe")) == NULL ||
        (st->str_hublocal_key = PyUnicode_InternFromString("gevent_c._core.hub")) == NULL)
        return -1;
    if (gevc__linkable_types_init(mod, st) < 0 ||
        add_type(mod, &st->queuebase_type, &gevc_queuebase_spec, NULL, "QueueBase") < 0 ||
        add_type(mod, &st->itemwaiter_type, &gevc_itemwaiter_spec,
                 (PyObject *)st->waiter_type, "ItemWaiter") < 0 ||
        add_type(mod, &st->multiwaiter_type, &gevc_multiwaiter_spec,
                 (PyObject *)st->waiter_type, "MultipleWaiter") < 0)
        return -1;
    if (PyModule_AddFunctions(mod, gevc_hub_methods) < 0 ||
        PyModule_AddFunctions(mod, gevc_hublocal_methods) < 0)
        return -1;
    if (add_type(mod, &st->socketmethods_type, &gevc_socketmethods_spec, NULL,
                 "SocketMethods") < 0 ||
        PyModule_AddFunctions(mod, gevc_sockio_methods) < 0 ||
        (st->str_io = PyUnicode_InternFromString("io")) == NULL ||
        (st->str_timed_out = PyUnicode_InternFromString("timed out")) == NULL ||
        (st->str_did_put_task = PyUnicode_InternFromString("_did_put_task")) == NULL)
        return -1;
    return 0;
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
    reg = import_attr("os", "register_at_fork");
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

static int
core_exec(PyObject *mod)
{
    gevc_state *st = PyModule_GetState(mod);
    PyObject *w;

    ev_set_allocator(raw_realloc);

    if (add_type(mod, &st->events_type, &events_spec, NULL, NULL) < 0)
        return -1;
    st->events = PyType_GenericAlloc(st->events_type, 0);
    if (st->events == NULL)
        return -1;
    if (PyModule_AddObjectRef(mod, "EVENTS", st->events) < 0 ||
        PyModule_AddObjectRef(mod, "GEVENT_CORE_EVENTS", st->events) < 0)
        return -1;

    if (add_type(mod, &st->loop_type, &gevc_loop_spec, NULL, "loop") < 0 ||
        add_type(mod, &st->callback_type, &gevc_callback_spec, NULL, "callback") < 0 ||
        add_type(mod, &st->watcher_type, &gevc_watcher_spec, NULL, "watcher") < 0)
        return -1;
    w = (PyObject *)st->watcher_type;
    if (add_type(mod, &st->io_type, &gevc_io_spec, w, "io") < 0 ||
        add_type(mod, &st->timer_type, &gevc_timer_spec, w, "timer") < 0 ||
        add_type(mod, &st->signal_type, &gevc_signal_spec, w, "signal") < 0 ||
        add_type(mod, &st->idle_type, &gevc_idle_spec, w, "idle") < 0 ||
        add_type(mod, &st->prepare_type, &gevc_prepare_spec, w, "prepare") < 0 ||
        add_type(mod, &st->check_type, &gevc_check_spec, w, "check") < 0 ||
        add_type(mod, &st->fork_type, &gevc_fork_spec, w, "fork") < 0 ||
        add_type(mod, &st->async_type, &gevc_async_spec, w, "async_") < 0 ||
        add_type(mod, &st->child_type, &gevc_child_spec, w, "child") < 0 ||
        add_type(mod, &st->stat_type, &gevc_stat_spec, w, "stat") < 0)
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

    st->getswitchinterval = import_attr("sys", "getswitchinterval");
    st->stat_result = import_attr("os", "stat_result");
    st->set_wakeup_fd = import_attr("signal", "set_wakeup_fd");
    if (st->getswitchinterval == NULL || st->stat_result == NULL ||
        st->set_wakeup_fd == NULL)
        return -1;
    {
        PyObject *main_thread = import_attr("threading", "main_thread"), *t, *ident;
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
    if (gevc__add_flag_tables(mod) < 0 || register_after_fork(mod) < 0)
        return -1;
    return hub_exec(mod, st);
}

static int
core_traverse(PyObject *mod, visitproc visit, void *arg)
{
    gevc_state *st = PyModule_GetState(mod);
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
    Py_VISIT(st->waiter_type);
    Py_VISIT(st->hublocal_type);
    Py_VISIT(st->waiter_unset);
    Py_VISIT(st->default_hub_class);
    Py_VISIT(st->exceptions);
    Py_VISIT(st->py_sleep);
    Py_VISIT(st->linkable_type);
    Py_VISIT(st->event_type);
    Py_VISIT(st->semaphore_type);
    Py_VISIT(st->result_type);
    Py_VISIT(st->queuebase_type);
    Py_VISIT(st->itemwaiter_type);
    Py_VISIT(st->multiwaiter_type);
    return gevc__sockio_traverse(st, visit, arg);
}

static int
core_clear(PyObject *mod)
{
    gevc_state *st = PyModule_GetState(mod);
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
    Py_CLEAR(st->waiter_type);
    Py_CLEAR(st->hublocal_type);
    Py_CLEAR(st->waiter_unset);
    Py_CLEAR(st->default_hub_class);
    Py_CLEAR(st->exceptions);
    Py_CLEAR(st->py_sleep);
    Py_CLEAR(st->str_switch);
    Py_CLEAR(st->str_throw);
    Py_CLEAR(st->str_handle_error);
    Py_CLEAR(st->str_switch_out);
    Py_CLEAR(st->str_start);
    Py_CLEAR(st->str_stop);
    Py_CLEAR(st->str_loop);
    Py_CLEAR(st->str_run_callback);
    Py_CLEAR(st->str_fast);
    Py_CLEAR(st->str_unlock);
    Py_CLEAR(st->str_put_slow);
    Py_CLEAR(st->str_get_slow);
    Py_CLEAR(st->str_append);
    Py_CLEAR(st->str_popleft);
    Py_CLEAR(st->str_clear);
    Py_CLEAR(st->queuebase_type);
    Py_CLEAR(st->itemwaiter_type);
    Py_CLEAR(st->multiwaiter_type);
    Py_CLEAR(st->str_hub);
    Py_CLEAR(st->str_put);
    Py_CLEAR(st->str_remove);
    Py_CLEAR(st->str_item);
    Py_CLEAR(st->str_unlock_slow);

    Py_CLEAR(st->str_ready);
    Py_CLEAR(st->str_notify_links);
    Py_CLEAR(st->str_notify_all);
    Py_CLEAR(st->str_timer);
    Py_CLEAR(st->str_update);
    Py_CLEAR(st->str_close);
    Py_CLEAR(st->str_release);
    Py_CLEAR(st->str_run_callback_threadsafe);
    Py_CLEAR(st->linkable_type);
    Py_CLEAR(st->event_type);
    Py_CLEAR(st->semaphore_type);
    Py_CLEAR(st->result_type);
    Py_CLEAR(st->str_hublocal_key);
    gevc__sockio_clear(st);
    Py_CLEAR(st->str_io);
    Py_CLEAR(st->str_timed_out);
    Py_CLEAR(st->str_did_put_task);
    return 0;
}

static void
core_free(void *mod)
{
    core_clear((PyObject *)mod);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
    {0, NULL},
};

PyDoc_STRVAR(module_doc,
"gevent_c._core: the libev event loop, its watchers and the callback queue.\n\n"
"Mirrors gevent.core (libev-cext backend) name for name, over the system libev.");

PyModuleDef gevc_core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gevent_c._core",
    .m_doc = module_doc,
    .m_size = sizeof(gevc_state),
    .m_methods = module_methods,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&gevc_core_module);
}
