/* gevent_c._core: one extension module assembled from three layers, each in
 * its own folder with its own header; a layer uses only the layers below
 * it, and a lower layer's header includes nothing from a higher one:
 *
 *   loop/  layer 1: libev's loop, the watchers, the callback FIFO
 *   hub/   layer 2: Waiter, the hub switch and wait, hub registry,
 *          linkables (Event, Semaphore, AsyncResult), queue fast paths
 *   io/    layer 3: the cooperative socket's recv/send families and waits
 *
 * The module state is the io layer's state, which embeds the hub's, which
 * embeds the loop's; each layer adds its own types and functions. */
#include "io/io.h"

static int
core_exec(PyObject *mod)
{
    gevc_io_state *st = PyModule_GetState(mod);
    if (gevc_loop_layer_exec(mod, &st->hub.loop) < 0 ||
        gevc_hub_layer_exec(mod, &st->hub) < 0)
        return -1;
    return gevc_io_layer_exec(mod, st);
}

static int
core_traverse(PyObject *mod, visitproc visit, void *arg)
{
    gevc_io_state *st = PyModule_GetState(mod);
    int rc = gevc_loop_layer_traverse(&st->hub.loop, visit, arg);
    if (rc == 0)
        rc = gevc_hub_layer_traverse(&st->hub, visit, arg);
    if (rc == 0)
        rc = gevc_io_layer_traverse(st, visit, arg);
    return rc;
}

static int
core_clear(PyObject *mod)
{
    gevc_io_state *st = PyModule_GetState(mod);
    gevc_io_layer_clear(st);
    gevc_hub_layer_clear(&st->hub);
    gevc_loop_layer_clear(&st->hub.loop);
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
"gevent_c._core: the libev event loop, its watchers and the callback queue\n"
"(mirroring gevent.core, libev-cext backend, over the system libev); the\n"
"hub's primitives (Waiter, Event, Semaphore, AsyncResult, queue fast paths);\n"
"the cooperative socket's recv/send methods.");

PyModuleDef gevc_core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gevent_c._core",
    .m_doc = module_doc,
    .m_size = sizeof(gevc_io_state),
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
