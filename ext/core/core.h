/* Private header of gevent_c._core: the libev loop, its watchers and the
 * callback FIFO.  Mirrors gevent.core (libev-cext backend) over the SYSTEM
 * libev, so the watcher struct layout is libev's own (with `void *data`,
 * which we never use: objects are found back with container_of).
 *
 * Layering: this module knows nothing of greenlets yet.  The C Waiter planned
 * for issue 4 will live in its own file here and reach _greenlet through its
 * capsule; it only needs gevc_loop_run_callback() from this header.
 */
#ifndef GEVC_CORE_H
#define GEVC_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <ev.h>

#include "gevc_common.h"
#include "gevent_c_greenlet.h"

#define gevc_container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

struct gevc_loop;
struct gevc_watcher;
struct gevc_callback;
struct gevc_timer;

/* ---- module state ---------------------------------------------------- */

#define GEVC_SOCK_NSLOTS 7
#define GEVC_SOCK_NMETHODS 9

typedef struct {
    PyTypeObject *loop_type;
    PyTypeObject *callback_type;
    PyTypeObject *watcher_type;
    PyTypeObject *io_type;
    PyTypeObject *timer_type;
    PyTypeObject *signal_type;
    PyTypeObject *idle_type;
    PyTypeObject *prepare_type;
    PyTypeObject *check_type;
    PyTypeObject *fork_type;
    PyTypeObject *async_type;
    PyTypeObject *child_type;
    PyTypeObject *stat_type;
    PyTypeObject *events_type;
    PyObject *events;              /* the EVENTS sentinel (GEVENT_CORE_EVENTS) */
    PyObject *getswitchinterval;   /* sys.getswitchinterval */
    PyObject *stat_result;         /* os.stat_result */
    PyObject *print_exception;     /* traceback.print_exception */
    PyObject *set_wakeup_fd;       /* signal.set_wakeup_fd */
    unsigned long main_ident;      /* thread that runs Python signal handlers */
    struct gevc_loop *default_loop;  /* borrowed; the live wrapper of ev_default_loop */
    struct gevc_loop *live_loops;  /* borrowed; every loop not yet destroyed */
    /* SIGCHLD disposition: what the process had before ev_default_loop, and
     * libev's handler, so child watchers can install libev's on demand. */
    int sigchld_state;             /* 0 unknown, 1 saved, 2 libev's installed */
    struct sigaction sigchld_saved;
    struct sigaction sigchld_libev;
    /* per signal number: active signal watchers, and the disposition they
     * displaced (libev leaves SIG_DFL behind; we put Python's back) */
    int sig_users[NSIG];
    struct ev_loop *sig_loop[NSIG];  /* libev attaches a signal to one loop */
    struct sigaction sig_saved[NSIG];
    /* the hub's hot paths (waiter.c, hublocal.c, hubprim.c) */
    const gevc_greenlet_capi *gapi;
    PyTypeObject *waiter_type;
    PyTypeObject *hublocal_type;
    PyTypeObject *linkable_type, *event_type, *semaphore_type, *result_type;
    PyTypeObject *queuebase_type, *itemwaiter_type, *multiwaiter_type;
    PyObject *ready_descr[4];      /* borrowed: each C type's own ready() */
    PyObject *waiter_unset;        /* Waiter._exception before delivery */
    PyObject *default_hub_class;   /* what get_hub() creates in a new thread */
    PyObject *exceptions;          /* gevent_c.exceptions, imported lazily */
    PyObject *py_sleep;            /* hub.py's sleep, for timed sleeps */
    PyObject *str_switch, *str_throw, *str_handle_error, *str_switch_out,
             *str_start, *str_stop, *str_loop, *str_hublocal_key, *str_run_callback,
             *str_ready, *str_notify_links, *str_notify_all, *str_timer, *str_update,
             *str_close, *str_release, *str_run_callback_threadsafe,
             *str_fast, *str_unlock, *str_put_slow, *str_get_slow, *str_append,
             *str_popleft, *str_clear, *str_hub, *str_put, *str_remove, *str_item,
             *str_unlock_slow;
    /* gevent_c.socket.socket's hot methods (sockio.c): its class, the
     * offsets of its __slots__, _socket.socket's own methods */
    PyTypeObject *socketmethods_type;
    struct {
        PyTypeObject *cls;         /* the newest registered */
        PyObject *classes;         /* list: every class registered */
        Py_ssize_t off[GEVC_SOCK_NSLOTS];
        PyObject *meth[GEVC_SOCK_NMETHODS];
    } sock;
    PyObject *str_io, *str_timed_out, *str_did_put_task;
} gevc_state;

extern PyModuleDef gevc_core_module;

static inline gevc_state *
gevc_state_from_type(PyTypeObject *tp)
{
    PyObject *mod = PyType_GetModuleByDef(tp, &gevc_core_module);
    return mod ? (gevc_state *)PyModule_GetState(mod) : NULL;
}

/* ---- argument parsing (gevc__parse and the exception helpers are in
 * ext/common/gevc_common.h) ------------------------------------------ */

int gevc__parse_tuple(const char *fname, PyObject *args, PyObject *kwargs,
                      const char *const *names, int max_pos, int required,
                      PyObject **out);
int gevc__as_bool(PyObject *o, int dflt);

/* ---- loop ------------------------------------------------------------- */

typedef struct gevc_loop {
    PyObject_HEAD
    struct ev_loop *ev;            /* NULL once destroyed */
    gevc_state *st;
    PyObject *error_handler;
    PyObject *weakrefs;
    /* the callback FIFO (strong references along ->next) */
    struct gevc_callback *cb_head;
    struct gevc_callback *cb_tail;
    ev_prepare prepare;            /* drains the FIFO; unref'd */
    ev_timer timer0;               /* keeps the next poll from blocking */
    ev_async threadsafe;           /* wakes a loop blocked in another thread */
    PyThreadState *tstate;         /* saved while the backend polls */
    /* a pipe given to signal.set_wakeup_fd while run() blocks in the main
     * thread: a signal handled by any thread then wakes the poll */
    int wakeup_r, wakeup_w;
    ev_io wakeup_io;
    PyObject *pending_exc;         /* SystemExit/KeyboardInterrupt for run() */
    PyObject *signal_exc;          /* raised by a signal handler during the poll */
    unsigned int origflags;
    int is_default;
    int running;                   /* nesting depth of run() */
    unsigned long run_thread;      /* thread inside run(), if running */
    int destroy_pending;           /* destroy() was called inside run() */
    int in_callbacks;              /* timer.start(update=None) updates now */
    int nidle;                     /* active idle watchers */
    /* timers fired in the current ev_invoke_pending batch, flushed in
     * (priority, deadline, start order) so equal deadlines keep start order */
    struct gevc_timer **fired;
    Py_ssize_t nfired;
    Py_ssize_t fired_cap;
    uint64_t timer_seq;
    struct gevc_signal *signals;   /* active signal watchers */
    /* st->live_loops membership, so a fork child re-arms every backend */
    struct gevc_loop *live_next;
    struct gevc_loop **live_pprev;  /* NULL when not linked */
} gevc_loop;

extern PyType_Spec gevc_loop_spec;

/* -1 with ValueError if the loop was destroyed */
static inline int
gevc_loop_check(gevc_loop *loop)
{
    if (loop->ev != NULL)
        return 0;
    PyErr_SetString(PyExc_ValueError, "operation on destroyed loop");
    return -1;
}
void gevc_loop_handle_error(gevc_loop *loop, PyObject *context);
void gevc_loop_set_pending_exc(gevc_loop *loop, PyObject *exc);
void gevc__timers_flush(gevc_loop *loop);
PyObject *gevc_loop_handle_error_method(gevc_loop *self, PyObject *const *args,
                                        Py_ssize_t nargs);
int gevc__wakeup_install(gevc_loop *loop);
void gevc__wakeup_uninstall(gevc_loop *loop);
void gevc__wakeup_close(gevc_loop *loop);
void gevc_loops_after_fork(gevc_state *st);

static inline void
gevc_loop_flush_timers(gevc_loop *loop)
{
    if (loop->nfired)
        gevc__timers_flush(loop);
}

/* ---- callbacks --------------------------------------------------------- */

typedef struct gevc_callback {
    PyObject_VAR_HEAD              /* ob_size = number of args */
    PyObject *callback;            /* NULL once run or stopped */
    struct gevc_callback *next;
    int has_args;                  /* `args` is None once run */
    PyObject *argv[1];
} gevc_callback;

extern PyType_Spec gevc_callback_spec;

PyObject *gevc_loop_run_callback(gevc_loop *loop, PyObject *func,
                                 PyObject *const *args, Py_ssize_t nargs);
void gevc__callbacks_drain(gevc_loop *loop);
void gevc__callbacks_clear(gevc_loop *loop);
int gevc__callbacks_traverse(gevc_loop *loop, visitproc visit, void *arg);

/* ---- watchers --------------------------------------------------------- */

typedef struct gevc_kind {
    const char *name;
    /* fill in a freshly allocated watcher; args[0] is the loop */
    int (*init)(struct gevc_watcher *, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames);
    void (*start)(struct ev_loop *, struct gevc_watcher *);
    void (*stop)(struct ev_loop *, struct gevc_watcher *);
    PyObject *(*repr_extra)(struct gevc_watcher *);   /* may be NULL */
    int stop_on_error;             /* io: a failing callback must not spin */
} gevc_kind;

extern const gevc_kind gevc_io_kind, gevc_timer_kind, gevc_signal_kind,
    gevc_idle_kind, gevc_prepare_kind, gevc_check_kind, gevc_fork_kind,
    gevc_async_kind, gevc_child_kind, gevc_stat_kind;

#define GEVC_INLINE_ARGS 3

enum {
    GEVC_W_OWNS_REF = 1,           /* holds a reference to itself */
    GEVC_W_EVUNREF = 2,            /* we called ev_unref for it */
    GEVC_W_NOREF = 4,              /* ref=False */
    GEVC_W_FIRED = 8,              /* timer queued in loop->fired */
};

typedef struct gevc_watcher {
    PyObject_HEAD
    gevc_loop *loop;
    const gevc_kind *kind;
    ev_watcher *w;                 /* the embedded libev struct */
    PyObject *callback;            /* NULL when stopped */
    PyObject **argv;               /* inline_args or a PyMem block */
    Py_ssize_t argc;               /* -1: args is None */
    unsigned int flags;
    PyObject *inline_args[GEVC_INLINE_ARGS];
    PyObject *weakrefs;
} gevc_watcher;

typedef struct { gevc_watcher base; ev_io ev; } gevc_io;
typedef struct gevc_timer {
    gevc_watcher base;
    ev_timer ev;
    uint64_t start_id;
    ev_tstamp deadline;            /* expiry libev fires the timer at */
    ev_tstamp fired_at;
} gevc_timer;
typedef struct gevc_signal {
    gevc_watcher base;
    ev_signal ev;
    /* the loop's active signal watchers: destroy() must detach them from
     * libev's process-wide signal table */
    struct gevc_signal *prev, *next;
} gevc_signal;
typedef struct { gevc_watcher base; ev_idle ev; } gevc_idle;
typedef struct { gevc_watcher base; ev_prepare ev; } gevc_prepare;
typedef struct { gevc_watcher base; ev_check ev; } gevc_check;
typedef struct { gevc_watcher base; ev_fork ev; } gevc_fork;
typedef struct { gevc_watcher base; ev_async ev; } gevc_async;
typedef struct { gevc_watcher base; ev_child ev; } gevc_child;
typedef struct { gevc_watcher base; ev_stat ev; PyObject *path; } gevc_stat;

extern PyType_Spec gevc_watcher_spec;
extern PyType_Spec gevc_io_spec, gevc_timer_spec, gevc_signal_spec,
    gevc_idle_spec, gevc_prepare_spec, gevc_check_spec, gevc_fork_spec,
    gevc_async_spec, gevc_child_spec, gevc_stat_spec;

/* Shared watcher machinery (watchers.c). */
int gevc_watcher_setup(gevc_watcher *self, PyObject *loop, const gevc_kind *kind,
                       ev_watcher *w, PyObject *ref, PyObject *priority);
PyObject *gevc_watcher_start_common(gevc_watcher *self, PyObject *const *args,
                                    Py_ssize_t nargs, PyObject *prefix);
int gevc_watcher_set_callback(gevc_watcher *self, PyObject *cb,
                              PyObject *const *args, Py_ssize_t nargs,
                              PyObject *prefix);
void gevc_watcher_activate(gevc_watcher *self);
void gevc_watcher_stop(gevc_watcher *self);
void gevc_watcher_fire(gevc_watcher *self, int revents);
void gevc_watcher_call(gevc_watcher *self, int revents);
int gevc_watcher_traverse(gevc_watcher *self, visitproc visit, void *arg);
int gevc_watcher_clear(gevc_watcher *self);
void gevc_watcher_dealloc(gevc_watcher *self);
PyObject *gevc_watcher_new_from_loop(PyTypeObject *tp, const gevc_kind *kind,
                                     gevc_loop *loop, PyObject *const *args,
                                     Py_ssize_t nargs, PyObject *kwnames);
PyObject *gevc_watcher_tp_new(PyTypeObject *tp, const gevc_kind *kind,
                              PyObject *args, PyObject *kwargs);

/* Trampoline for a watcher type whose ev struct is member `ev` of `type`. */
#define GEVC_TRAMPOLINE(fname, type, evtype)                               \
    static void fname(struct ev_loop *l, evtype *w, int revents)           \
    {                                                                      \
        (void)l;                                                           \
        gevc_watcher_fire((gevc_watcher *)gevc_container_of(w, type, ev),  \
                          revents);                                        \
    }

/* ---- hub primitives (waiter.c, hublocal.c, hubprim.c) ---------------- */

typedef struct gevc_waiter {
    PyObject_HEAD
    gevc_state *st;
    PyObject *hub;
    PyObject *greenlet;            /* NULL: nobody is blocked in get() */
    PyObject *value;
    PyObject *exc;                 /* NULL: not ready; None: value; tuple: throw args */
    /* what a C primitive blocked in get() waits on, for LoopExit's message;
     * such waiters are linked in the thread's list while blocked */
    PyObject *target;
    const char *method;
    struct gevc_waiter *blocked_prev, *blocked_next;
} gevc_waiter;

extern PyType_Spec gevc_waiter_spec;
extern PyType_Spec gevc_hublocal_spec;
extern PyMethodDef gevc_hub_methods[];
extern PyMethodDef gevc_hublocal_methods[];
int gevc__linkable_types_init(PyObject *mod, gevc_state *st);
extern PyType_Spec gevc_queuebase_spec, gevc_itemwaiter_spec, gevc_multiwaiter_spec;

gevc_waiter *gevc_waiter_new(gevc_state *st, PyObject *hub);
PyObject *gevc_waiter_get(gevc_waiter *self);
PyObject *gevc_waiter_switch(gevc_waiter *self, PyObject *value);
PyObject *gevc_hub_switch(gevc_state *st, PyObject *hub);
PyObject *gevc_hub_get(gevc_state *st);      /* borrowed */
PyObject *gevc_hub_get_if_exists(gevc_state *st);   /* borrowed, NULL w/o error */
PyObject *gevc__exception(gevc_state *st, const char *name);  /* new ref */
gevc_waiter **gevc__blocked_head(gevc_state *st);   /* NULL with error set */

/* ---- cooperative socket methods (sockio.c) ---------------------------- */

extern PyType_Spec gevc_socketmethods_spec;
extern PyMethodDef gevc_sockio_methods[];
int gevc__sockio_traverse(gevc_state *st, visitproc visit, void *arg);
void gevc__sockio_clear(gevc_state *st);

/* ---- module helpers (module.c) ---------------------------------------- */

PyObject *gevc_events_to_str(int events);
PyObject *gevc_flags_to_list(unsigned int flags);
int gevc_flags_to_int(PyObject *flags, unsigned int *out);
int gevc_check_flags(unsigned int flags);
const char *gevc_backend_name(unsigned int backend);
int gevc__add_flag_tables(PyObject *mod);
int gevc_check_fd(int fd);
void gevc_install_sigchld(gevc_state *st);
void gevc_reset_sigchld(gevc_state *st);

extern PyMethodDef gevc_watcher_base_methods[];
extern PyGetSetDef gevc_watcher_base_getset[];

#endif
