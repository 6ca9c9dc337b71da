/* The argument-less watchers: idle, prepare, check and fork. */
#include "loop.h"

/* Active idle watchers mean the poll will not block (see loop_release). */
#define COUNT_NONE(w, d) ((void)0)
#define COUNT_IDLE(w, d) ((w)->loop->nidle += (d))

#define SIMPLE_WATCHER(kind, evtype, count, doc)                               \
    GEVC_TRAMPOLINE(kind##_cb, gevc_##kind, evtype)                            \
                                                                               \
    static void                                                                \
    kind##_start(struct ev_loop *ev, gevc_watcher *w)                          \
    {                                                                          \
        evtype *e = &((gevc_##kind *)w)->ev;                                   \
        if (ev_is_active(e))                                                   \
            return;                                                            \
        evtype##_start(ev, e);                                                 \
        count(w, 1);                                                           \
    }                                                                          \
                                                                               \
    static void                                                                \
    kind##_stop(struct ev_loop *ev, gevc_watcher *w)                           \
    {                                                                          \
        evtype *e = &((gevc_##kind *)w)->ev;                                   \
        if (ev_is_active(e))                                                   \
            count(w, -1);                                                      \
        evtype##_stop(ev, e);                                                  \
    }                                                                          \
                                                                               \
    static int                                                                 \
    kind##_init(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,   \
                PyObject *kwnames)                                             \
    {                                                                          \
        static const char *const names[] = {"loop", "ref", "priority", NULL};  \
        PyObject *a[3];                                                        \
        gevc_##kind *k = (gevc_##kind *)self;                                  \
        if (gevc__parse(#kind, args, nargs, kwnames, names, 3, 1, a) < 0)      \
            return -1;                                                         \
        ev_init(&k->ev, kind##_cb);                                            \
        return gevc_watcher_setup(self, a[0], &gevc_##kind##_kind,             \
                                  (ev_watcher *)&k->ev, a[1], a[2]);           \
    }                                                                          \
                                                                               \
    const gevc_kind gevc_##kind##_kind = {                                     \
        .name = #kind, .init = kind##_init, .start = kind##_start,             \
        .stop = kind##_stop,                                                   \
    };                                                                         \
                                                                               \
    static PyObject *                                                          \
    kind##_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)             \
    {                                                                          \
        return gevc_watcher_tp_new(tp, &gevc_##kind##_kind, args, kwargs);     \
    }                                                                          \
                                                                               \
    PyDoc_STRVAR(kind##_doc, doc);                                             \
                                                                               \
    static PyType_Slot kind##_slots[] = {                                      \
        {Py_tp_new, kind##_new},                                               \
        {Py_tp_traverse, gevc_watcher_traverse},                               \
        {Py_tp_clear, gevc_watcher_clear},                                     \
        {Py_tp_dealloc, gevc_watcher_dealloc},                                 \
        {Py_tp_doc, (void *)kind##_doc},                                       \
        {0, NULL},                                                             \
    };                                                                         \
                                                                               \
    PyType_Spec gevc_##kind##_spec = {                                         \
        .name = "gevent_c._core." #kind,                                       \
        .basicsize = sizeof(gevc_##kind),                                      \
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |                     \
                 Py_TPFLAGS_IMMUTABLETYPE,                                     \
        .slots = kind##_slots,                                                 \
    };

SIMPLE_WATCHER(idle, ev_idle, COUNT_IDLE,
    "idle(loop, ref=True, priority=None)\n\n"
    "Fire on every iteration in which no other watcher of the same or higher\n"
    "priority is pending; the loop does not block while one is active.")
SIMPLE_WATCHER(prepare, ev_prepare, COUNT_NONE,
    "prepare(loop, ref=True, priority=None)\n\n"
    "Fire at the start of every iteration, before the loop blocks.")
SIMPLE_WATCHER(check, ev_check, COUNT_NONE,
    "check(loop, ref=True, priority=None)\n\n"
    "Fire on every iteration right after the loop wakes up.")
SIMPLE_WATCHER(fork, ev_fork, COUNT_NONE,
    "fork(loop, ref=True, priority=None)\n\n"
    "Fire on the first iteration after loop.reinit() in a forked child.")
