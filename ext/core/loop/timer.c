/* The `timer` watcher, and the ordering of timers that expire together.
 *
 * libev hands every timer that expired in one iteration to ev_invoke_pending
 * in one batch, but gives equal deadlines no stable order.  So the timer
 * trampoline only queues the timer in loop->fired; the queue is flushed
 * sorted by (priority, deadline, start order) as soon as a non-timer
 * callback of the same batch runs or the batch ends (loop_invoke_pending).
 * Different deadlines and priorities keep libev's order; ties keep the
 * order the timers were started in. */
#include "loop.h"

#include <math.h>
#include <stdlib.h>

static void
timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    gevc_timer *t = gevc_container_of(w, gevc_timer, ev);
    gevc_loop *loop = t->base.loop;

    t->fired_at = t->deadline;
    t->deadline = w->at;   /* a repeating timer was re-armed already */
    if (loop->nfired == loop->fired_cap) {
        Py_ssize_t cap = loop->fired_cap ? loop->fired_cap * 2 : 16;
        gevc_timer **arr = PyMem_Realloc(loop->fired, (size_t)cap * sizeof(*arr));
        if (arr == NULL) {
            /* no room to sort: deliver now rather than lose it */
            gevc_watcher_fire(&t->base, revents);
            return;
        }
        loop->fired = arr;
        loop->fired_cap = cap;
    }
    Py_INCREF(t);
    t->base.flags |= GEVC_W_FIRED;
    loop->fired[loop->nfired++] = t;
}

static int
fired_cmp(const void *pa, const void *pb)
{
    const gevc_timer *a = *(gevc_timer *const *)pa;
    const gevc_timer *b = *(gevc_timer *const *)pb;
    int pra = ev_priority(&a->ev), prb = ev_priority(&b->ev);
    if (pra != prb)
        return pra > prb ? -1 : 1;
    if (a->fired_at != b->fired_at)
        return a->fired_at < b->fired_at ? -1 : 1;
    return a->start_id < b->start_id ? -1 : (a->start_id > b->start_id);
}

void
gevc__timers_flush(gevc_loop *loop)
{
    gevc_timer **arr = loop->fired;
    Py_ssize_t n = loop->nfired, cap = loop->fired_cap;

    /* take the batch: callbacks may run a nested loop that fills a new one */
    loop->fired = NULL;
    loop->nfired = loop->fired_cap = 0;
    if (n > 1)
        qsort(arr, (size_t)n, sizeof(*arr), fired_cmp);
    for (Py_ssize_t i = 0; i < n; i++) {
        gevc_timer *t = arr[i];
        /* stop() in an earlier callback of the batch cancels it */
        if (t->base.flags & GEVC_W_FIRED) {
            t->base.flags &= ~GEVC_W_FIRED;
            gevc_watcher_call(&t->base, EV_TIMER);
        }
        Py_DECREF(t);
    }
    if (loop->fired == NULL) {
        loop->fired = arr;
        loop->fired_cap = cap;
    }
    else {
        PyMem_Free(arr);
    }
}

static void
timer_start(struct ev_loop *ev, gevc_watcher *w)
{
    gevc_timer *t = (gevc_timer *)w;
    if (ev_is_active(&t->ev))
        return;
    ev_timer_start(ev, &t->ev);
    t->start_id = ++w->loop->timer_seq;
    t->deadline = t->ev.at;
}

static void
timer_stop(struct ev_loop *ev, gevc_watcher *w)
{
    ev_timer_stop(ev, &((gevc_timer *)w)->ev);
}

static int
as_double(PyObject *o, double dflt, double *out)
{
    if (o == NULL) {
        *out = dflt;
        return 0;
    }
    *out = PyFloat_AsDouble(o);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* after and repeat checked, set on an unstarted timer; then the shared setup. */
static int
timer_setup(gevc_watcher *self, PyObject *loop, double after, double repeat,
            PyObject *ref, PyObject *priority)
{
    gevc_timer *t = (gevc_timer *)self;
    /* NaN compares false both ways: in libev's timer heap it would
     * break the order of every other timer and never fire */
    if (isnan(after) || isnan(repeat)) {
        PyErr_Format(PyExc_ValueError, "timer %s must be a number, not nan",
                     isnan(after) ? "after" : "repeat");
        return -1;
    }
    if (repeat < 0.0) {
        PyObject *shown = PyFloat_FromDouble(repeat);
        if (shown != NULL) {
            PyErr_Format(PyExc_ValueError, "repeat must be positive or zero: %R",
                         shown);
            Py_DECREF(shown);
        }
        return -1;
    }
    ev_timer_init(&t->ev, timer_cb, after, repeat);
    return gevc_watcher_setup(self, loop, &gevc_timer_kind,
                              (ev_watcher *)&t->ev, ref, priority);
}

static int
timer_init(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
           PyObject *kwnames)
{
    static const char *const names[] = {"loop", "after", "repeat", "ref", "priority", NULL};
    PyObject *a[5];
    double after, repeat;
    if (gevc__parse("timer", args, nargs, kwnames, names, 5, 1, a) < 0 ||
        as_double(a[1], 0.0, &after) < 0 || as_double(a[2], 0.0, &repeat) < 0)
        return -1;
    if (repeat < 0.0 && !isnan(after)) {    /* shown as given */
        PyErr_Format(PyExc_ValueError, "repeat must be positive or zero: %R",
                     a[2]);
        return -1;
    }
    return timer_setup(self, a[0], after, repeat, a[3], a[4]);
}

PyObject *
gevc_timer_new(gevc_loop *loop, double after, double repeat, PyObject *ref,
               PyObject *priority)
{
    PyTypeObject *tp = loop->st->timer_type;
    gevc_timer *t = loop->spare_timer;
    PyObject *self;
    int noref, prio;

    if (t != NULL && loop->ev != NULL) {
        /* the spare: checked as timer_setup would, then made new again */
        if (isnan(after) || isnan(repeat) || repeat < 0.0)
            goto fresh;            /* (which raises) */
        if (gevc_watcher_options(ref, priority, &noref, &prio) < 0)
            return NULL;
        loop->spare_timer = NULL;
        Py_INCREF(loop);           /* its `loop` is a reference again */
        t->base.flags = noref ? GEVC_W_NOREF : 0;
        t->start_id = 0;
        t->deadline = t->fired_at = 0.0;
        ev_timer_init(&t->ev, timer_cb, after, repeat);
        ev_set_priority(&t->ev, prio);
        PyObject_GC_Track(t);
        return (PyObject *)t;
    }
fresh:
    self = gevc__watcher_alloc(tp);
    if (self == NULL)
        return NULL;
    if (timer_setup((gevc_watcher *)self, (PyObject *)loop, after, repeat, ref,
                    priority) < 0)
        Py_CLEAR(self);
    else
        PyObject_GC_Track(self);
    return self;
}

void
gevc_timer_recycle(PyObject *timer)
{
    gevc_timer *t = (gevc_timer *)timer;
    gevc_loop *loop = t->base.loop;
    if (loop != NULL && loop->ev != NULL && loop->spare_timer == NULL &&
        !loop->destroy_pending && Py_IS_TYPE(timer, loop->st->timer_type) &&
        Py_REFCNT(timer) == 1 && t->base.weakrefs == NULL &&
        t->base.callback == NULL && t->base.argc <= 0 &&
        !(t->base.flags & (GEVC_W_OWNS_REF | GEVC_W_EVUNREF | GEVC_W_FIRED)) &&
        !ev_is_active(&t->ev) && !ev_is_pending(&t->ev)) {
        /* nothing can reach it any more: park it, out of the collector's
         * sight (its borrowed `loop` must not be counted as a reference) */
        PyObject_GC_UnTrack(timer);
        gevc__watcher_unlist(&t->base);
        loop->spare_timer = t;
        Py_DECREF(loop);           /* may free the loop, and the spare with it */
        return;
    }
    Py_DECREF(timer);
}

void
gevc_timer_drop_spare(gevc_loop *loop)
{
    gevc_timer *t = loop->spare_timer;
    if (t == NULL)
        return;
    loop->spare_timer = NULL;
    t->base.loop = NULL;           /* borrowed: not released */
    Py_DECREF(t);
}

static PyObject *
timer_repr_extra(gevc_watcher *self)
{
    gevc_timer *t = (gevc_timer *)self;
    PyObject *at = PyFloat_FromDouble(t->ev.at), *res;
    if (at == NULL)
        return NULL;
    res = PyUnicode_FromFormat(" at=%R", at);
    Py_DECREF(at);
    return res;
}

const gevc_kind gevc_timer_kind = {
    .name = "timer", .init = timer_init, .start = timer_start,
    .stop = timer_stop, .repr_extra = timer_repr_extra,
};

static PyObject *
timer_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    return gevc_watcher_tp_new(tp, &gevc_timer_kind, args, kwargs);
}

/* Split off a trailing update= keyword; returns 0/1, -1 on error, or
 * `dflt` when absent. */
static int
update_kw(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, int dflt)
{
    if (kwnames == NULL)
        return dflt;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(key, "update") != 0) {
            PyErr_Format(PyExc_TypeError, "unexpected keyword argument '%U'", key);
            return -1;
        }
        if (args[nargs + i] != Py_None)
            return PyObject_IsTrue(args[nargs + i]);
    }
    return dflt;
}

PyDoc_STRVAR(timer_start_doc, "start(callback, *args, update=None)\n\n"
"Fire callback(*args) `after` seconds from the loop's cached time (then\n"
"every `repeat` seconds if repeat > 0).  update=True refreshes the cached\n"
"time first; None does so only when started from a run_callback callback.");
/* everything but the short path of timer_start_method, kept out of it so
 * that the short path needs no stack frame of its own */
static Py_NO_INLINE PyObject *
timer_start_general(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames)
{
    int update;
    if (gevc_loop_check(self->loop) < 0)
        return NULL;
    update = kwnames == NULL ? -2 : update_kw(args, nargs, kwnames, -2);
    if (update == -1)
        return NULL;
    if (update == -2)
        update = self->loop->in_callbacks;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "start() needs a callback");
        return NULL;
    }
    /* releasing the old callback and args may run a __del__ that
     * destroys the loop */
    if (gevc_watcher_set_callback(self, args[0], args + 1, nargs - 1, NULL) < 0 ||
        gevc_loop_check(self->loop) < 0)
        return NULL;
    if (update)
        ev_now_update(self->loop->ev);
    gevc_watcher_activate(self);
    Py_RETURN_NONE;
}

static PyObject *
timer_start_method(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames)
{
    gevc_timer *t = (gevc_timer *)self;
    gevc_loop *loop = self->loop;
    if (kwnames != NULL || nargs != 1 || !gevc__fast_start_ok(self, args[0]))
        return timer_start_general(self, args, nargs, kwnames);
    gevc__fast_callback(self, args[0]);
    if (loop->in_callbacks)
        ev_now_update(loop->ev);
    ev_timer_start(loop->ev, &t->ev);
    t->start_id = ++loop->timer_seq;
    t->deadline = t->ev.at;
    gevc__watcher_fast_started(self);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(timer_stop_doc, "stop()\n\nStop the timer and forget callback and args.");
/* the base type's stop() with ev_timer_stop called directly (which does
 * nothing to a timer neither active nor pending) */
static PyObject *
timer_stop_method(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct ev_loop *ev = self->loop ? self->loop->ev : NULL;
    if (nargs != 0)
        return gevc__stop_args_error(self, nargs);
    if (ev != NULL) {
        if (self->flags & GEVC_W_EVUNREF)
            ev_ref(ev);
        ev_timer_stop(ev, &((gevc_timer *)self)->ev);
    }
    gevc__watcher_forget(self);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(timer_again_doc, "again(callback, *args, update=True)\n\n"
"Restart a repeating timer `repeat` seconds from now (ev_timer_again); a\n"
"timer with repeat=0 is stopped.");
static PyObject *
timer_again(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
            PyObject *kwnames)
{
    gevc_timer *t = (gevc_timer *)self;
    struct ev_loop *ev;
    int update;
    if (gevc_loop_check(self->loop) < 0)
        return NULL;
    update = update_kw(args, nargs, kwnames, 1);
    if (update < 0)
        return NULL;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "again() needs a callback");
        return NULL;
    }
    if (gevc_watcher_set_callback(self, args[0], args + 1, nargs - 1, NULL) < 0 ||
        gevc_loop_check(self->loop) < 0)   /* a __del__ may have destroyed it */
        return NULL;
    ev = self->loop->ev;
    if (update)
        ev_now_update(ev);
    self->flags &= ~GEVC_W_FIRED;
    ev_timer_again(ev, &t->ev);
    if (!ev_is_active(&t->ev)) {
        gevc_watcher_stop(self);
        Py_RETURN_NONE;
    }
    t->start_id = ++self->loop->timer_seq;
    t->deadline = t->ev.at;
    /* activate: ref bookkeeping and the self reference (start is a no-op) */
    gevc_watcher_activate(self);
    Py_RETURN_NONE;
}

static PyObject *
get_at(gevc_timer *self, void *c)
{
    return PyFloat_FromDouble(self->ev.at);
}

static PyObject *
get_repeat(gevc_timer *self, void *c)
{
    return PyFloat_FromDouble(self->ev.repeat);
}

static PyMethodDef timer_methods[] = {
    {"start", (PyCFunction)(void (*)(void))timer_start_method,
     METH_FASTCALL | METH_KEYWORDS, timer_start_doc},
    {"stop", (PyCFunction)(void (*)(void))timer_stop_method, METH_FASTCALL,
     timer_stop_doc},
    {"again", (PyCFunction)(void (*)(void))timer_again,
     METH_FASTCALL | METH_KEYWORDS, timer_again_doc},
    {NULL},
};

static PyGetSetDef timer_getset[] = {
    {"at", (getter)get_at, NULL, "libev's expiry time of the timer (monotonic clock).", NULL},
    {"repeat", (getter)get_repeat, NULL, "Repeat interval in seconds (0: one-shot).", NULL},
    {NULL},
};

PyDoc_STRVAR(timer_doc, "timer(loop, after=0.0, repeat=0.0, ref=True, priority=None)\n\n"
"Fire once after `after` seconds (at once if negative), then every `repeat`\n"
"seconds if repeat > 0 (negative or NaN repeat, NaN after: ValueError).  Timers that expire\n"
"at the same time fire in the order they were started.");

static PyType_Slot timer_slots[] = {
    {Py_tp_new, timer_new},
    {Py_tp_traverse, gevc_watcher_traverse},
    {Py_tp_clear, gevc_watcher_clear},
    {Py_tp_dealloc, gevc_watcher_dealloc},
    {Py_tp_methods, timer_methods},
    {Py_tp_getset, timer_getset},
    {Py_tp_doc, (void *)timer_doc},
    {0, NULL},
};

PyType_Spec gevc_timer_spec = {
    .name = "gevent_c._core.timer",
    .basicsize = sizeof(gevc_timer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = timer_slots,
};
