/* Private header of the loop layer of gevent_c._core (layer 1): libev's
 * loop over the SYSTEM libev, its ten watcher types and the callback FIFO,
 * mirroring gevent.core (libev-cext backend).  The watcher structs embed
 * libev's own (whose `void *data` we never use: objects are found back with
 * container_of).
 *
 * This layer knows nothing of greenlets or hubs: it includes no header of
 * hub/ or io/.  The hub layer (hub/hub.h) builds on it.
 */
#ifndef GEVC_LOOP_H
#define GEVC_LOOP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <ev.h>

#include "gevc_common.h"

#define gevc_container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

struct gevc_loop;
struct gevc_watcher;
struct gevc_callback;
struct gevc_timer;

/* ---- the loop layer's part of the module state ------------------------ */

/* The module state of gevent_c._core nests one struct per layer, each the
 * first member of the one above (io embeds hub, hub embeds loop), so the
 * module's state pointer is also a valid pointer to every layer's part. */
typedef struct gevc_loop_state {
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
} gevc_loop_state;

/* What the loop layer adds to the module (layer.c), called by module.c. */
int gevc_loop_layer_exec(PyObject *mod, gevc_loop_state *st);
int gevc_loop_layer_traverse(gevc_loop_state *st, visitproc visit, void *arg);
void gevc_loop_layer_clear(gevc_loop_state *st);

/* Type and module helpers every layer's init uses (layer.c). */
int gevc__add_type(PyObject *mod, PyTypeObject **slot, PyType_Spec *spec,
                   PyObject *base, const char *export_as);
PyObject *gevc__import_attr(const char *modname, const char *attr);

extern PyModuleDef gevc_core_module;

/* The module state of the module that defines `tp` (one of ours). */
static inline void *
gevc__core_state(PyTypeObject *tp)
{
    PyObject *mod = PyType_GetModuleByDef(tp, &gevc_core_module);
    return mod ? PyModule_GetState(mod) : NULL;
}

static inline gevc_loop_state *
gevc_loop_state_from_type(PyTypeObject *tp)
{
    return (gevc_loop_state *)gevc__core_state(tp);
}

/* ---- loop ------------------------------------------------------------- */

typedef struct gevc_loop {
    PyObject_HEAD
    struct ev_loop *ev;            /* NULL once destroyed */
    gevc_loop_state *st;
    PyObject *error_handler;
    PyObject *weakrefs;
    /* the callback FIFO (strong references along ->next) */
    struct gevc_callback *cb_head;
    struct gevc_callback *cb_tail;
    /* the first queued callback not yet looked at by a collection's start
     * (gevc__callbacks_gc_start), NULL if none */
    struct gevc_callback *cb_unscanned;
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
    int refork;                    /* forked while run() was suspended mid-iteration */
    int in_callbacks;              /* timer.start(update=None) updates now */
    int nidle;                     /* active idle watchers */
    int polling;                   /* in the backend poll, GIL released */
    /* timers fired in the current ev_invoke_pending batch, flushed in
     * (priority, deadline, start order) so equal deadlines keep start order */
    struct gevc_timer **fired;
    Py_ssize_t nfired;
    Py_ssize_t fired_cap;
    uint64_t timer_seq;
    struct gevc_signal *signals;   /* active signal watchers */
    /* every watcher holding a reference to itself (active or fed), and
     * stopped ones that did and are not freed yet (borrowed; a watcher
     * leaves at dealloc, so start+stop touch the list only the first
     * time): destroy() stops them, or they would keep themselves alive
     * forever */
    struct gevc_watcher *owning;
    /* one stopped timer kept for gevc_timer_new to hand out again (see
     * gevc_timer_recycle): untracked by the collector, its `loop` borrowed */
    struct gevc_timer *spare_timer;
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
void gevc_loops_after_fork(gevc_loop_state *st);

static inline void
gevc_loop_flush_timers(gevc_loop *loop)
{
    if (loop->nfired)
        gevc__timers_flush(loop);
}

/* ---- callbacks --------------------------------------------------------- */

/* Callbacks queued by run_callback are not tracked by the cycle collector
 * while the queue holds the only reference: the loop's traverse reports
 * what they hold instead (see callbacks.c).  One that is shared is tracked
 * at the start of the next collection. */
typedef struct gevc_callback {
    PyObject_VAR_HEAD              /* ob_size = number of args */
    PyObject *callback;            /* NULL once run or stopped */
    struct gevc_callback *next;
    int has_args;                  /* `args` is None once run */
    int queue_only;                /* untracked, and the queue's reference was
                                      the only one when a collection started */
    PyObject *argv[1];
} gevc_callback;

extern PyType_Spec gevc_callback_spec;

PyObject *gevc_loop_run_callback(gevc_loop *loop, PyObject *func,
                                 PyObject *const *args, Py_ssize_t nargs);
void gevc__callbacks_drain(gevc_loop *loop);
void gevc__callbacks_clear(gevc_loop *loop);
/* Each collection's start: track the queued callbacks held elsewhere too. */
void gevc__callbacks_gc_start(gevc_loop_state *st);
/* Make cb an ordinary tracked object (it is about to be shared). */
void gevc__callback_track(gevc_callback *cb);
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
    GEVC_W_LISTED = 16,            /* in loop->owning */
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
    /* in loop->owning while GEVC_W_LISTED is set */
    struct gevc_watcher *own_next, **own_pprev;
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
PyObject *gevc__watcher_alloc(PyTypeObject *tp);
PyObject *gevc_watcher_new_from_loop(PyTypeObject *tp, const gevc_kind *kind,
                                     gevc_loop *loop, PyObject *const *args,
                                     Py_ssize_t nargs, PyObject *kwnames);
PyObject *gevc_watcher_tp_new(PyTypeObject *tp, const gevc_kind *kind,
                              PyObject *args, PyObject *kwargs);
/* loop.timer(after, repeat, ref, priority) from C, without boxing the
 * numbers or parsing arguments: a new, stopped timer of loop->st's type. */
PyObject *gevc_timer_new(gevc_loop *loop, double after, double repeat,
                         PyObject *ref, PyObject *priority);
/* Release a timer made by gevc_timer_new (the reference is stolen).  If it
 * is stopped and nothing else can reach it (no other reference, no weak
 * reference), its loop keeps it for the next gevc_timer_new. */
void gevc_timer_recycle(PyObject *timer);
/* Drop the loop's spare timer (destroy, clear, dealloc). */
void gevc_timer_drop_spare(gevc_loop *loop);
/* The ref= and priority= arguments of a watcher, checked: *noref 1 for a
 * false ref, *prio the priority (0 when None or absent). */
int gevc_watcher_options(PyObject *ref, PyObject *priority, int *noref, int *prio);

/* ---- the hot start/stop path, inlined into each type's methods ---------
 *
 * start(callback) and stop() of a timer or io watcher are the loop layer's
 * hottest calls: these pieces let each type's method run them with its own
 * ev_*_start/ev_*_stop called directly, without the general argument
 * handling.  The general functions (watchers.c) use the same pieces. */

/* The reference an active or fed watcher holds to itself; the watcher is
 * listed in its loop so that destroy() can release it, and stays listed
 * until it is freed (gevc__watcher_unlist). */
static inline void
gevc__take_own_ref(gevc_watcher *self)   /* not held yet */
{
    gevc_loop *loop = self->loop;
    Py_INCREF(self);
    if (self->flags & GEVC_W_LISTED) {
        self->flags |= GEVC_W_OWNS_REF;
        return;
    }
    self->flags |= GEVC_W_OWNS_REF | GEVC_W_LISTED;
    self->own_next = loop->owning;
    if (loop->owning != NULL)
        loop->owning->own_pprev = &self->own_next;
    self->own_pprev = &loop->owning;
    loop->owning = self;
}

static inline void
gevc__own_ref(gevc_watcher *self)
{
    if (!(self->flags & GEVC_W_OWNS_REF))
        gevc__take_own_ref(self);
}

/* Returns 1 if the reference was held: the caller then releases it. */
static inline int
gevc__drop_own_ref(gevc_watcher *self)
{
    if (!(self->flags & GEVC_W_OWNS_REF))
        return 0;
    self->flags &= ~GEVC_W_OWNS_REF;
    return 1;
}

/* Take the watcher out of loop->owning (freed, parked, or being stopped by
 * destroy()); its loop must be set. */
static inline void
gevc__watcher_unlist(gevc_watcher *self)
{
    if (!(self->flags & GEVC_W_LISTED))
        return;
    self->flags &= ~GEVC_W_LISTED;
    *self->own_pprev = self->own_next;
    if (self->own_next != NULL)
        self->own_next->own_pprev = self->own_pprev;
    self->own_next = NULL;
    self->own_pprev = NULL;
}

/* After the libev watcher was started: ref=False bookkeeping and the self
 * reference. */
static inline void
gevc__watcher_started(gevc_watcher *self)
{
    if ((self->flags & (GEVC_W_NOREF | GEVC_W_EVUNREF)) == GEVC_W_NOREF) {
        ev_unref(self->loop->ev);
        self->flags |= GEVC_W_EVUNREF;
    }
    gevc__own_ref(self);
}

/* The same for a watcher that passed gevc__fast_start_ok: stopped, so
 * neither libev reference nor self reference is held yet. */
static inline void
gevc__watcher_fast_started(gevc_watcher *self)
{
    if (self->flags & GEVC_W_NOREF) {
        ev_unref(self->loop->ev);
        self->flags |= GEVC_W_EVUNREF;
    }
    gevc__take_own_ref(self);
}

/* 1 if start(cb) with no other argument may take the short path: the
 * watcher is stopped (so neither active nor pending, no self reference),
 * has no callback or arguments to release, its loop is alive and cb is
 * callable.  The caller then sets the callback with gevc__fast_callback,
 * starts the libev watcher and calls gevc__watcher_fast_started.  Anything
 * else goes through the general path, which raises the errors. */
static inline int
gevc__fast_start_ok(gevc_watcher *self, PyObject *cb)
{
    return self->callback == NULL && self->argc <= 0 &&
           !(self->flags & GEVC_W_OWNS_REF) && self->loop->ev != NULL &&
           Py_TYPE(cb)->tp_call != NULL;
}

static inline void
gevc__fast_callback(gevc_watcher *self, PyObject *cb)
{
    self->callback = Py_NewRef(cb);
    self->argv = self->inline_args;
    self->argc = 0;
}

void gevc__watcher_clear_args(gevc_watcher *self);

/* The part of stop() after the libev watcher was stopped (and libev's
 * reference given back): forget the callback, args and self reference. */
static inline void
gevc__watcher_forget(gevc_watcher *self)
{
    PyObject *cb;
    int owned;
    self->flags &= ~(GEVC_W_EVUNREF | GEVC_W_FIRED);
    /* the reference is released last: releasing the callback may run code
       that stops this watcher again, and must find it stopped */
    owned = gevc__drop_own_ref(self);
    cb = self->callback;
    self->callback = NULL;
    if (self->argc > 0)
        gevc__watcher_clear_args(self);
    else
        self->argc = -1;
    Py_XDECREF(cb);
    if (owned)
        Py_DECREF(self);   /* may free self: nothing after this */
}

/* The TypeError of stop(*args) with arguments. */
PyObject *gevc__stop_args_error(gevc_watcher *self, Py_ssize_t nargs);

/* Trampoline for a watcher type whose ev struct is member `ev` of `type`. */
#define GEVC_TRAMPOLINE(fname, type, evtype)                               \
    static void fname(struct ev_loop *l, evtype *w, int revents)           \
    {                                                                      \
        (void)l;                                                           \
        gevc_watcher_fire((gevc_watcher *)gevc_container_of(w, type, ev),  \
                          revents);                                        \
    }

/* ---- flag tables (flags.c), SIGCHLD (child.c), shared watcher members -- */

PyObject *gevc_events_to_str(int events);
PyObject *gevc_flags_to_list(unsigned int flags);
int gevc_flags_to_int(PyObject *flags, unsigned int *out);
int gevc_check_flags(unsigned int flags);
const char *gevc_backend_name(unsigned int backend);
int gevc__add_flag_tables(PyObject *mod);
int gevc_check_fd(int fd);
void gevc_install_sigchld(gevc_loop_state *st);
void gevc_reset_sigchld(gevc_loop_state *st);

extern PyMethodDef gevc_watcher_base_methods[];
extern PyGetSetDef gevc_watcher_base_getset[];


#endif
