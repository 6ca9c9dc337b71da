/* Private header of the hub layer of gevent_c._core (layer 2): the C hot
 * paths under gevent_c.hub, event, lock and queue - Waiter (the one-shot
 * hand-off between the loop and a blocked greenlet), the hub switch and
 * wait, sleep(0), the per-thread hub registry behind get_hub(),
 * AbstractLinkable/Event/Semaphore/AsyncResult and the queues' fast paths.
 *
 * It builds on the loop layer and reaches greenlets only through the
 * capsule of gevent_c._greenlet; it includes nothing from io/.
 */
#ifndef GEVC_HUB_H
#define GEVC_HUB_H

#include "loop/loop.h"
#include "gevent_c_greenlet.h"

/* ---- the hub layer's part of the module state ------------------------- */

#define GEVC_WAITER_POOL 8

typedef struct gevc_hub_state {
    gevc_loop_state loop;          /* first: see gevc_loop_state */
    const gevc_greenlet_capi *gapi;
    PyTypeObject *waiter_type;
    PyTypeObject *hublocal_type;
    PyTypeObject *linkable_type, *event_type, *semaphore_type, *result_type;
    PyTypeObject *bounded_type, *lock_type;   /* BoundedSemaphore, thread.LockType */
    PyTypeObject *rlock_type, *thread_rlock_type;   /* lock.RLock, threading._CRLock */
    double thread_timeout_max;     /* _thread.TIMEOUT_MAX */
    PyTypeObject *queuebase_type, *itemwaiter_type, *multiwaiter_type;
    struct {                       /* collections.deque, for the queues */
        PyTypeObject *type;
        lenfunc len;
        PyCFunction append, popleft;   /* METH_O, METH_NOARGS */
    } deque;
    PyObject *ready_descr[4];      /* borrowed: each C type's own ready() */
    /* what class_lookups (linkable.c) last found, for the next object of
     * the same class: valid while tp (borrowed, compared only) has tag */
    struct {
        PyTypeObject *tp;
        unsigned int tag;
        int kind, native_ready, notify_all;
        PyObject *notify_links;    /* borrowed: the class holds it */
    } lk_class;
    /* Bound switch methods of reset Waiters that nothing else references,
     * kept for the next wait (see gevc_waiter_take) */
    PyObject *waiter_pool[GEVC_WAITER_POOL];
    int waiter_pool_len;
    PyObject *switch_args;         /* (None,), kept for the next wake (waiter.c) */
    /* memory of freed Waiters, for the next (not objects: no references) */
    struct gevc_waiter *waiter_free[GEVC_WAITER_POOL];
    int waiter_free_len;
    /* the hub registry record of the thread that asked last (hublocal.c) */
    struct {
        PyThreadState *ts;
        uint64_t ts_id;
        PyObject *record;          /* borrowed: its thread-state dict has it */
    } hl_last;
    /* the last hub class whose loop attribute is plainly the instance
     * dict's (hublocal.c); valid while tp (borrowed, compared only) has tag */
    struct { PyTypeObject *tp; unsigned int tag; } plain_loop_class;
    /* up to 3.11: the loop found in that hub's dict while the dict has
     * version (all borrowed, compared only: an unchanged dict holds loop) */
    struct {
        PyObject *hub, *dict, *loop;
        uint64_t version;
    } hub_loop;
    PyObject *waiter_unset;        /* Waiter._exception before delivery */
    PyObject *default_hub_class;   /* what get_hub() creates in a new thread */
    PyObject *exceptions;          /* gevent_c.exceptions, imported lazily */
    PyObject *py_sleep;            /* hub.py's sleep, for timed sleeps */
    PyObject *spawn_stack_last;    /* the last _spawn_stack() result, reused */
    PyTypeObject *timeout_type;    /* TimeoutBase (timeout.c) */
    PyObject *timeout_fake_timer;  /* TimeoutBase.timer before start() */
    PyObject *timeout_expire;      /* the timer callback of a plain Timeout */
    PyObject *timeout_expire_descr;  /* borrowed: TimeoutBase._on_expiration */
    PyObject *timeout_start_descr;   /* borrowed: TimeoutBase.start */
    PyTypeObject *glet_type;       /* GreenletBase (greenletbase.c) */
    PyObject *glet_notify;         /* the hub callback that runs a greenlet's links */
    PyObject *glet_kill;           /* the hub callback that throws into a killed greenlet */
    PyObject *glet_success;        /* (None, None, None): _exc_info of a success */
    PyObject *glet_raw_dead;       /* the greenlet type's `dead` descriptor */
    PyObject *glet_start_completed, *glet_start_cancelled;  /* _start_event markers */
    PyObject *glet_track_setting;  /* config's track_greenlet_tree setting */
    PyTypeObject *countdown_type;  /* the link of wait_all (joinall.c) */
    PyTypeObject *waititer_type;   /* what iwait returns (iwait.c) */
    PyObject *minus_one;
    PyObject *str_exception, *str_rawlink, *str_unlink, *str_priority,
             *str_raise_exception;
    PyObject *str_underscore_run, *str_run, *str_value, *str_pending, *str_active,
             *str_join_slow, *str_dead, *str_spawn_tree_locals,
             *str_spawning_stack_limit, *str_spawn_callbacks, *str_maybe_kill,
             *str_join, *str_kill;
    PyObject *str_switch, *str_throw, *str_handle_error, *str_switch_out,
             *str_start, *str_stop, *str_loop, *str_hublocal_key, *str_run_callback,
             *str_ready, *str_notify_links, *str_notify_all, *str_timer, *str_update,
             *str_close, *str_release, *str_run_callback_threadsafe,
             *str_fast, *str_unlock, *str_put_slow, *str_get_slow, *str_append,
             *str_popleft, *str_clear, *str_hub, *str_put, *str_remove, *str_item,
             *str_unlock_slow, *str_did_put_task, *str_on_expiration;
} gevc_hub_state;

/* What the hub layer adds to the module (layer.c), called by module.c. */
int gevc_hub_layer_exec(PyObject *mod, gevc_hub_state *st);
int gevc_hub_layer_traverse(gevc_hub_state *st, visitproc visit, void *arg);
void gevc_hub_layer_clear(gevc_hub_state *st);

static inline gevc_hub_state *
gevc_hub_state_from_type(PyTypeObject *tp)
{
    return (gevc_hub_state *)gevc__core_state(tp);
}

/* tp's version tag if CPython guarantees it changes when the class (or a
 * base) is modified, else 0: what per-class lookups are cached against. */
static inline unsigned int
gevc__valid_version_tag(PyTypeObject *tp)
{
#if PY_VERSION_HEX < 0x030B0000
    /* 3.10 keeps a stale tag on modification and only drops the flag */
    if (!PyType_HasFeature(tp, Py_TPFLAGS_VALID_VERSION_TAG))
        return 0;
#endif
    return tp->tp_version_tag;
}

/* tp_new of the hub layer's types: a new instance of tp, *st its state. */
PyObject *gevc__hub_alloc(PyTypeObject *tp, gevc_hub_state **st);
/* The optional `hub` argument of an __init__: *hub borrowed, NULL when
 * absent or None. */
int gevc__hub_arg(const char *fname, PyObject *args, PyObject *kwargs,
                  PyObject **hub);

/* ---- Waiter, hub switch and wait, hub registry, linkables, queues ---- */

typedef struct gevc_waiter {
    PyObject_HEAD
    gevc_hub_state *st;
    PyObject *hub;
    PyObject *greenlet;            /* NULL: nobody is blocked in get() */
    PyObject *value;
    PyObject *exc;                 /* NULL: not ready; None: value; tuple: throw args */
    /* what a C primitive blocked in get() waits on, for LoopExit's message;
     * such waiters are linked in the thread's list while blocked */
    PyObject *target;
    const char *method;
    struct gevc_waiter *blocked_prev, *blocked_next;
    /* references to the bound switch held by notifiers that are waking the
     * greenlet through it right now (run_links): they only drop them */
    Py_ssize_t lent;
} gevc_waiter;

extern PyType_Spec gevc_waiter_spec;
extern PyType_Spec gevc_hublocal_spec;
extern PyMethodDef gevc_hub_methods[];
extern PyMethodDef gevc_hublocal_methods[];
int gevc__linkable_types_init(PyObject *mod, gevc_hub_state *st);
int gevc__timeout_type_init(PyObject *mod, gevc_hub_state *st);
int gevc__greenletbase_type_init(PyObject *mod, gevc_hub_state *st);
/* The spawner's stack for Greenlet.spawning_stack: (code, lasti, ...) of at
 * most limit frames, newest first, after skipping `skip` Python frames. */
PyObject *gevc__spawn_stack(gevc_hub_state *st, Py_ssize_t limit, int skip);
/* Greenlet's links from C (greenletbase.c) */
int gevc__glet_rawlink(gevc_hub_state *st, PyObject *glet, PyObject *callback);
int gevc__glet_unlink(PyObject *glet, PyObject *callback);
PyObject *gevc__glet_exception(PyObject *glet);   /* new ref; None if none */
/* joinall.c: wait_all and its link */
extern PyType_Spec gevc_countdown_spec;
extern PyMethodDef gevc_wait_all_methods[];
PyObject *gevc__countdown_fire(PyObject *countdown, PyObject *obj);
extern PyType_Spec gevc_queuebase_spec, gevc_itemwaiter_spec, gevc_multiwaiter_spec;
int gevc__queue_state_init(gevc_hub_state *st);

gevc_waiter *gevc_waiter_new(gevc_hub_state *st, PyObject *hub);
/* A Waiter for hub and its bound switch (*sw, new reference), reused from
 * the pool when one is free; hand both back with gevc_waiter_give. */
gevc_waiter *gevc_waiter_take(gevc_hub_state *st, PyObject *hub, PyObject **sw);
/* Drop w and sw (stolen), keeping them for the next wait if nothing else
 * references either. */
void gevc_waiter_give(gevc_hub_state *st, gevc_waiter *w, PyObject *sw);
/* The waiter whose bound switch link is (borrowed), or NULL */
gevc_waiter *gevc_waiter_of_switch(PyObject *link);
/* hub.loop (new reference) */
PyObject *gevc_hub_loop(gevc_hub_state *st, PyObject *hub);
PyObject *gevc_waiter_get(gevc_waiter *self);
PyObject *gevc_waiter_switch(gevc_waiter *self, PyObject *value);
/* waiter.switch as a bound method, for a waiter made by gevc_waiter_new */
PyObject *gevc_waiter_bound_switch(gevc_waiter *self);
PyObject *gevc_hub_switch(gevc_hub_state *st, PyObject *hub);
PyObject *gevc_hub_get(gevc_hub_state *st);      /* borrowed */
PyObject *gevc_sleep0(gevc_hub_state *st);        /* sleep(0); None or NULL */
PyObject *gevc_hub_get_if_exists(gevc_hub_state *st);   /* borrowed, NULL w/o error */
PyObject *gevc__exception(gevc_hub_state *st, const char *name);  /* new ref */
gevc_waiter **gevc__blocked_head(gevc_hub_state *st);   /* NULL with error set */

/* ---- kill, killall, iwait (greenletbase.c, kill.c, iwait.c) ---------- */
PyObject *gevc__hub_run_callback(gevc_hub_state *st, PyObject *hub, PyObject *func,
                                 PyObject *const *args, Py_ssize_t nargs);   /* nargs <= 4 */
int gevc__glet_dead(gevc_hub_state *st, PyObject *glet);    /* these honour overrides */
int gevc__glet_own_kill(gevc_hub_state *st, PyObject *obj);
int gevc__glet_maybe_kill_before_start(gevc_hub_state *st, PyObject *glet, PyObject *exc);
int gevc__glet_kill(gevc_hub_state *st, PyObject *glet, PyObject *exc, int block,
                    PyObject *timeout);
int gevc__report_to_hub(gevc_hub_state *st, PyObject *glet, PyObject *context);
PyObject *gevc__throw_exception(gevc_hub_state *st, PyObject *glet, PyObject *exc);
PyObject *gevc__wait_all(gevc_hub_state *st, PyObject *objects, PyObject *timeout,
                         int raise_error, PyObject *count);
int gevc__kill_init(PyObject *mod, gevc_hub_state *st);
int gevc__iwait_init(PyObject *mod, gevc_hub_state *st);
int gevc__waititer_check(PyObject *op);
PyObject *gevc__waititer_fire(PyObject *it, PyObject *obj);

#endif
