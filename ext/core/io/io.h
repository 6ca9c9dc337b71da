/* Private header of the io layer of gevent_c._core (layer 3): the hot
 * methods of the cooperative socket (gevent_c._core.SocketMethods, a base
 * class of gevent_c.socket.socket) - the recv and send families and the
 * waits under them.  It builds on the hub and loop layers.
 */
#ifndef GEVC_IO_H
#define GEVC_IO_H

#include "hub/hub.h"

#define GEVC_SOCK_NSLOTS 7
#define GEVC_SOCK_NMETHODS 9

/* ---- the io layer's part of the module state: the whole state --------- */

typedef struct gevc_io_state {
    gevc_hub_state hub;            /* first: see gevc_loop_state */
    PyTypeObject *socketmethods_type;
    /* gevent_c.socket.socket: its class, the offsets of its __slots__,
     * _socket.socket's own methods */
    struct {
        PyTypeObject *cls;         /* the newest registered */
        PyObject *classes;         /* list: every class registered */
        Py_ssize_t off[GEVC_SOCK_NSLOTS];
        PyObject *meth[GEVC_SOCK_NMETHODS];
    } sock;
    PyObject *str_io, *str_timed_out;
} gevc_io_state;

/* What the io layer adds to the module (sockio.c), called by module.c. */
int gevc_io_layer_exec(PyObject *mod, gevc_io_state *st);
int gevc_io_layer_traverse(gevc_io_state *st, visitproc visit, void *arg);
void gevc_io_layer_clear(gevc_io_state *st);

static inline gevc_io_state *
gevc_io_state_from_type(PyTypeObject *tp)
{
    return (gevc_io_state *)gevc__core_state(tp);
}

#endif
