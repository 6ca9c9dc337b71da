/* C API of gevent_c._greenlet for other extensions (ext/core).
 *
 *     const gevc_greenlet_capi *api = gevc_greenlet_import();
 *     if (api == NULL) return -1;   // ImportError or version mismatch set
 *     PyObject *cur = api->getcurrent();
 *
 * Everything is reached through the struct of function pointers exported in
 * the capsule "gevent_c._greenlet._C_API"; `version` grows when members are
 * appended (never reordered).
 */
#ifndef GEVENT_C_GREENLET_H
#define GEVENT_C_GREENLET_H

#include <Python.h>

#define GEVC_GREENLET_CAPI_NAME "gevent_c._greenlet._C_API"
#define GEVC_GREENLET_CAPI_VERSION 2

typedef struct gevc_greenlet_capi {
    int version;
    PyTypeObject *type;             /* gevent_c._greenlet.greenlet */
    PyObject *GreenletExit;
    PyObject *error;
    /* current greenlet of the calling thread: new ref / borrowed ref;
       NULL with an exception set on failure */
    PyObject *(*getcurrent)(void);
    PyObject *(*getcurrent_borrowed)(void);
    /* greenlet(run, parent); either may be NULL */
    PyObject *(*new_greenlet)(PyObject *run, PyObject *parent);
    /* g.switch(*args, **kwargs); args NULL means (), kwargs may be NULL */
    PyObject *(*switch_to)(PyObject *g, PyObject *args, PyObject *kwargs);
    /* g.throw(typ, val, tb); any may be NULL (typ: GreenletExit) */
    PyObject *(*throw_into)(PyObject *g, PyObject *typ, PyObject *val,
                            PyObject *tb);
    /* parent as a new ref, or NULL without exception for the main greenlet;
       NULL with TypeError for an object that is not a greenlet */
    PyObject *(*get_parent)(PyObject *g);
    int (*set_parent)(PyObject *g, PyObject *parent);
    /* 1 or 0; -1 with TypeError for an object that is not a greenlet */
    int (*started)(PyObject *g);
    int (*active)(PyObject *g);
    int (*is_main)(PyObject *g);
    /* version 2: up to n (code object: new ref, byte offset of the current
       instruction) of the calling thread's innermost Python frames; returns
       how many, never fails */
    int (*callers)(PyObject **codes, int *offsets, int n);
} gevc_greenlet_capi;

static inline const gevc_greenlet_capi *
gevc_greenlet_import(void)
{
    const gevc_greenlet_capi *api =
        (const gevc_greenlet_capi *)PyCapsule_Import(GEVC_GREENLET_CAPI_NAME, 0);
    if (api != NULL && api->version < GEVC_GREENLET_CAPI_VERSION) {
        PyErr_SetString(PyExc_ImportError,
                        "gevent_c._greenlet C API is older than this extension");
        return NULL;
    }
    return api;
}

#define GEVC_GREENLET_CHECK(api, op) PyObject_TypeCheck((op), (api)->type)

#endif
