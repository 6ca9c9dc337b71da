/* gevent_c._ares: module state, c-ares library init, multi-phase init. */
#include "gevc_ares.h"

static int
add_str(PyObject **slot, const char *s)
{
    *slot = PyUnicode_InternFromString(s);
    return *slot ? 0 : -1;
}

static int
ares_exec(PyObject *mod)
{
    gevc_ares_state *st = PyModule_GetState(mod);
    PyObject *socket = NULL;
    int rc = -1;

    /* c-ares refcounts init/cleanup, so each module instance owns one */
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
        PyErr_SetString(PyExc_ImportError, "ares_library_init failed");
        return -1;
    }
    st->lib_initialized = 1;
    if ((socket = PyImport_ImportModule("socket")) == NULL ||
        (st->gaierror = PyObject_GetAttrString(socket, "gaierror")) == NULL ||
        (st->herror = PyObject_GetAttrString(socket, "herror")) == NULL)
        goto done;
    if (add_str(&st->str_io, "io") < 0 || add_str(&st->str_timer, "timer") < 0 ||
        add_str(&st->str_start, "start") < 0 || add_str(&st->str_stop, "stop") < 0 ||
        add_str(&st->str_close, "close") < 0 || add_str(&st->str_now, "now") < 0 ||
        add_str(&st->str_run_callback, "run_callback") < 0 ||
        add_str(&st->str_handle_error, "handle_error") < 0 ||
        add_str(&st->str_events, "events") < 0 || add_str(&st->str_active, "active") < 0)
        goto done;
    if ((st->kw_ref = Py_BuildValue("(s)", "ref")) == NULL ||
        (st->kw_pass_events = Py_BuildValue("(s)", "pass_events")) == NULL)
        goto done;
    st->channel_type = (PyTypeObject *)PyType_FromModuleAndSpec(mod, &gevc_ares_channel_spec, NULL);
    if (st->channel_type == NULL ||
        PyModule_AddObjectRef(mod, "channel", (PyObject *)st->channel_type) < 0)
        goto done;
    if (PyModule_AddStringConstant(mod, "ARES_VERSION", ares_version(NULL)) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_USEVC", ARES_FLAG_USEVC) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_PRIMARY", ARES_FLAG_PRIMARY) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_IGNTC", ARES_FLAG_IGNTC) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_NORECURSE", ARES_FLAG_NORECURSE) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_STAYOPEN", ARES_FLAG_STAYOPEN) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_NOSEARCH", ARES_FLAG_NOSEARCH) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_NOALIASES", ARES_FLAG_NOALIASES) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_NOCHECKRESP", ARES_FLAG_NOCHECKRESP) < 0 ||
        PyModule_AddIntConstant(mod, "ARES_FLAG_EDNS", ARES_FLAG_EDNS) < 0 ||
        PyModule_AddIntConstant(mod, "AI_NOSORT", GEVC_AI_NOSORT) < 0)
        goto done;
    rc = 0;
done:
    Py_XDECREF(socket);
    return rc;
}

static int
ares_traverse(PyObject *mod, visitproc visit, void *arg)
{
    gevc_ares_state *st = PyModule_GetState(mod);
    Py_VISIT(st->channel_type);
    Py_VISIT(st->gaierror);
    Py_VISIT(st->herror);
    return 0;
}

static int
ares_clear(PyObject *mod)
{
    gevc_ares_state *st = PyModule_GetState(mod);
    Py_CLEAR(st->channel_type);
    Py_CLEAR(st->gaierror);
    Py_CLEAR(st->herror);
    Py_CLEAR(st->str_io);
    Py_CLEAR(st->str_timer);
    Py_CLEAR(st->str_start);
    Py_CLEAR(st->str_stop);
    Py_CLEAR(st->str_close);
    Py_CLEAR(st->str_now);
    Py_CLEAR(st->str_run_callback);
    Py_CLEAR(st->str_handle_error);
    Py_CLEAR(st->str_events);
    Py_CLEAR(st->str_active);
    Py_CLEAR(st->kw_ref);
    Py_CLEAR(st->kw_pass_events);
    return 0;
}

static void
ares_free(void *mod)
{
    gevc_ares_state *st = PyModule_GetState((PyObject *)mod);
    ares_clear((PyObject *)mod);
    if (st != NULL && st->lib_initialized) {
        st->lib_initialized = 0;
        ares_library_cleanup();
    }
}

static PyModuleDef_Slot ares_slots[] = {
    {Py_mod_exec, ares_exec},
    {0, NULL}
};

PyDoc_STRVAR(module_doc, "gevent_c._ares: c-ares channels driven by a gevent_c loop.\n\n"
"See gevent_c.resolver.ares for the resolver built on it.");

PyModuleDef gevc_ares_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gevent_c._ares",
    .m_doc = module_doc,
    .m_size = sizeof(gevc_ares_state),
    .m_slots = ares_slots,
    .m_traverse = ares_traverse,
    .m_clear = ares_clear,
    .m_free = ares_free,
};

PyMODINIT_FUNC
PyInit__ares(void)
{
    return PyModuleDef_Init(&gevc_ares_module);
}
