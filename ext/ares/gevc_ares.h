/* Private header of gevent_c._ares: a c-ares channel driven by a
 * gevent_c._core loop.
 *
 * The channel talks to the loop only through the loop's Python API
 * (loop.io(), loop.timer(), loop.run_callback()), because _core exports no C
 * API.  c-ares' sockets become io watchers (ARES_OPT_SOCK_STATE_CB) whose
 * callback is a C function calling ares_process_fd; one timer drives
 * c-ares' timeouts.
 *
 * Results are never handed to Python while c-ares is on the C stack: the
 * c-ares callbacks only queue finished requests in chan->ready (a list
 * threaded through the requests themselves, so queueing never allocates and
 * no result is lost for lack of memory), and the queue is drained from loop
 * context (io/timer callbacks, or a run_callback scheduled by a query
 * method).  A Python callback may therefore switch greenlets freely.
 *
 * Named gevc_ares.h, not ares.h, so it cannot shadow the system <ares.h>.
 */
#ifndef GEVC_ARES_H
#define GEVC_ARES_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <ares.h>

#include "gevc_common.h"

typedef struct {
    PyTypeObject *channel_type;
    PyObject *gaierror;          /* socket.gaierror */
    PyObject *herror;            /* socket.herror */
    PyObject *str_io;
    PyObject *str_timer;
    PyObject *str_start;
    PyObject *str_stop;
    PyObject *str_close;
    PyObject *str_now;
    PyObject *str_run_callback;
    PyObject *str_handle_error;
    PyObject *str_events;
    PyObject *str_active;
    PyObject *kw_ref;            /* ("ref",) */
    PyObject *kw_pass_events;    /* ("pass_events",) */
    int lib_initialized;
} gevc_ares_state;

extern PyModuleDef gevc_ares_module;

/* getaddrinfo flag for ARES_AI_NOSORT, above every glibc AI_* bit: skips
 * c-ares' RFC 6724 sort, which costs a connected UDP socket per address */
#define GEVC_AI_NOSORT 0x100000

typedef struct {
    PyObject_HEAD
    ares_channel ch;             /* NULL once destroyed */
    gevc_ares_state *st;
    PyObject *loop;
    PyObject *watchers;          /* dict: fd -> io watcher */
    PyObject *timer;             /* armed while queries are pending */
    PyObject *on_io;             /* the io watchers' callback */
    struct gevc_ares_request *ready;       /* finished, to deliver (FIFO) */
    struct gevc_ares_request *ready_tail;
    PyObject *drain_token;       /* borrowed: the scheduled drain's binding */
    PyObject *timer_token;       /* borrowed: the armed timer's binding */
    PyObject *weakrefs;
    double deadline;             /* loop time the timer fires at */
    Py_ssize_t pending;          /* queries c-ares still owns */
    int drain_scheduled;
    unsigned long thread;        /* the thread that created it, its loop's */
    int busy;                    /* depth of c-ares calls on the C stack */
    int destroy_pending;         /* destroy() asked for while busy */
} gevc_ares_channel;

/* One in-flight query: the `arg` c-ares hands back to our callback. */
typedef struct gevc_ares_request {
    gevc_ares_channel *chan;     /* strong while pending: it keeps it alive */
    PyObject *callback;          /* strong */
    PyObject *value;             /* strong once finished */
    struct gevc_ares_request *next;        /* in chan->ready */
    int family;
    int socktype;
    int proto;
    int flags;
    int hostent;                 /* getaddrinfo answer wanted as a hostent tuple */
    int addrlen;                 /* gethostbyaddr: the address asked about */
    unsigned char addr[16];
} gevc_ares_request;

/* channel.c */
extern PyType_Spec gevc_ares_channel_spec;
int gevc_ares_destroy_now(gevc_ares_channel *chan);

/* Around every c-ares call: its callbacks run Python code (GC finalizers
 * included) that may destroy the channel, which must not be freed under
 * c-ares.  leave() runs a destroy deferred meanwhile. */
#define GEVC_ARES_ENTER(chan) ((chan)->busy++)
void gevc_ares_leave(gevc_ares_channel *chan);

/* driver.c */
gevc_ares_request *gevc_ares_request_new(gevc_ares_channel *chan, PyObject *callback);
void gevc_ares_request_finish(gevc_ares_request *req, PyObject *value);
PyObject *gevc_ares_after_call(gevc_ares_channel *chan, PyObject *result);
PyObject *gevc_ares_started(gevc_ares_channel *chan);
int gevc_ares_check_open(gevc_ares_channel *chan);
void gevc_ares_deliver(gevc_ares_channel *chan);
void gevc_ares_drop_ready(gevc_ares_channel *chan);
int gevc_ares_traverse_ready(gevc_ares_channel *chan, visitproc visit, void *arg);
void gevc_ares_report_error(gevc_ares_channel *chan);
void gevc_ares_unraisable(gevc_ares_channel *chan);
int gevc_ares_timer_stop(gevc_ares_channel *chan);
int gevc_ares_watcher_stop(gevc_ares_channel *chan, PyObject *w, int close);
int gevc_ares_bind_callbacks(gevc_ares_channel *chan);
void gevc_ares_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable);

/* queries.c: the query methods of the channel type */
#define GEVC_ARES_QUERY(name) \
    extern const char gevc_ares_##name##_doc[]; \
    PyObject *gevc_ares_##name(gevc_ares_channel *chan, PyObject *const *args, \
                               Py_ssize_t nargs, PyObject *kwnames);
GEVC_ARES_QUERY(gethostbyname)
GEVC_ARES_QUERY(gethostbyaddr)
GEVC_ARES_QUERY(getaddrinfo)
GEVC_ARES_QUERY(getnameinfo)
#undef GEVC_ARES_QUERY

/* errors.c */
PyObject *gevc_ares_gaierror(gevc_ares_state *st, int status);
PyObject *gevc_ares_herror(gevc_ares_state *st, int status);

/* args.c */
int gevc__ares_int(PyObject *obj, const char *what, int dflt, int *out);

#endif
