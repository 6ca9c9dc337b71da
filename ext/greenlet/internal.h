/* Shared definitions of the gevent_c._greenlet implementation. */
#ifndef GEVC_INTERNAL_H
#define GEVC_INTERNAL_H

#include <Python.h>
#include "pystate.h"
#include "gevent_c_greenlet.h"
#include "gevc_common.h"

/* Nothing here is used outside this extension: hidden symbols are called
   directly, not through the PLT, and calls within a file can be inlined.
   (PyInit__greenlet stays exported: PyMODINIT_FUNC says so itself.) */
#pragma GCC visibility push(hidden)

#if PY_VERSION_HEX < 0x030D0000
#define Py_IsFinalizing _Py_IsFinalizing
#endif

typedef struct gevc_thread gevc_thread;

#define GEVC_SPARE_GREENLETS 16

typedef struct GreenletObject {
    PyObject_HEAD
    PyObject *weakreflist;
    PyObject *dict;
    PyObject *run;                  /* until started */
    struct GreenletObject *parent;  /* NULL only for a main greenlet */
    struct GreenletObject *main;    /* owning thread's main; NULL for main */
    gevc_thread *thread;            /* main only; NULL once the thread ended */
    /* the stack slice, see switch.c */
    char *stack_start;              /* NULL: not running (unstarted/dead) */
    char *stack_stop;               /* NULL: never started */
    char *stack_copy;
    uint32_t stack_saved;           /* a slice is far below 4 GiB: spill() */
    uint32_t stack_cap;
    struct GreenletObject *stack_prev;
    gevc_pystate py;
    /* run, its args and kwargs while run() runs: owned here rather than by
       the greenlet's C stack, so that a greenlet abandoned in an exited
       thread releases them (see greenlet_dealloc) */
    PyObject *running[3];
    char was_parent;                /* ever some greenlet's parent */
    char run_unbound;               /* running[0] is a method of the class,
                                       called with self first */
} GreenletObject;

#define MAIN_STOP ((char *)-1)
#define RUNNING_START ((char *)1)
#define G_STARTED(g) ((g)->stack_stop != NULL)
#define G_ACTIVE(g) ((g)->stack_start != NULL)
#define G_DEAD(g) (G_STARTED(g) && !G_ACTIVE(g))
#define G_IS_MAIN(g) ((g)->stack_stop == MAIN_STOP)
#define G_MAIN_OF(g) (G_IS_MAIN(g) ? (g) : (g)->main)

typedef struct gevc_state {
    PyTypeObject *greenlet_type;
    PyTypeObject *holder_type;
    PyObject *GreenletExit;
    PyObject *error;
    PyObject *str_switch;
    PyObject *str_throw;
    PyObject *str_run;
    PyObject *str_key;              /* key in the thread-state dict */
    /* how many times set_parent moved an unstarted greenlet to another
       thread; while 0, an unstarted greenlet's main is its lineage's */
    Py_ssize_t lineages_moved;
} gevc_state;

struct gevc_thread {
    GreenletObject *main;           /* strong */
    GreenletObject *current;        /* strong */
    PyObject *tracefunc;            /* strong or NULL */
    PyObject *deleteme;             /* list of greenlets to kill, or NULL */
    PyObject *module;               /* strong: keeps `st` alive */
    gevc_state *st;
    PyThreadState *tstate;
    /* hand-off between the two sides of a switch */
    GreenletObject *switch_from;    /* borrowed */
    GreenletObject *switch_to;      /* strong: becomes current there */
    GreenletObject *origin;         /* strong, read by the resumed side */
    PyObject *args;                 /* NULL: an exception is pending */
    PyObject *kwargs;
    int single;                     /* args is one value, not a tuple */
    PyObject *start_run;            /* strong: run of the greenlet starting */
    gevc_pystate_carry carry;
    int switch_failed;
    gevc_chunk_cache chunks;
    /* freed greenlets of the exact type kept for reuse: untracked memory
       that holds no references, not even to the type */
    GreenletObject *spare[GEVC_SPARE_GREENLETS];
    int nspare;
};

/* thread.c */
extern _Thread_local gevc_thread *gevc__cur_thread;
gevc_thread *gevc__thread_slow(gevc_state *st);
PyObject *gevc__thread_current_in(gevc_state *st, unsigned long ident);
void gevc__thread_drain(gevc_thread *th);
int gevc__thread_gc_hook(gevc_thread *th);
static inline gevc_thread *
gevc__thread(gevc_state *st)
{
    gevc_thread *th = gevc__cur_thread;
    if (th != NULL && th->tstate == PyThreadState_GET()) {
        if (th->deleteme != NULL)
            gevc__thread_drain(th);
        return th;
    }
    return gevc__thread_slow(st);
}
int gevc__holder_type_init(PyObject *module, gevc_state *st);

/* switch.c */
PyObject *gevc__switch(gevc_thread *th, GreenletObject *target,
                       PyObject *args, PyObject *kwargs, int single);
PyObject *gevc__throw(gevc_thread *th, GreenletObject *target,
                      PyObject *typ, PyObject *val, PyObject *tb);
int gevc__check_thread(gevc_thread *th, GreenletObject *target);
void gevc__read_stack(void *g, const char *addr, void *dst, size_t n);

/* greenlet.c */
int gevc__greenlet_type_init(PyObject *module, gevc_state *st);
GreenletObject *gevc__greenlet_new_main(gevc_state *st, gevc_thread *th);
void gevc__greenlet_kill(gevc_thread *th, GreenletObject *g);
gevc_state *gevc__state_of_type(PyTypeObject *tp);

/* module.c */
gevc_state *gevc__module_state(PyObject *module);

#pragma GCC visibility pop

#endif
