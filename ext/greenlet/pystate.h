/* What CPython keeps per thread that must travel with a greenlet.
 *
 * The struct is a superset for every supported version, less the fields
 * only one or two versions need (every greenlet carries this struct, so
 * each field costs memory per greenlet); pystate.c (the only file that
 * includes CPython's internal headers) decides which fields mean
 * something.  Pointers to interpreter-internal types are kept as void* so
 * that nothing else needs those headers.
 */
#ifndef GEVC_PYSTATE_H
#define GEVC_PYSTATE_H

#include <Python.h>
#include "gevc_common.h"   /* PyType_GetModuleByDef on 3.10 */

/* internal to the extension (see internal.h) */
#pragma GCC visibility push(hidden)

typedef struct gevc_pystate {
#if PY_VERSION_HEX < 0x030D0000
    void *cframe;               /* CFrame* / _PyCFrame* (3.10-3.12) */
#endif
    void *top_frame;            /* PyFrameObject* (3.10, borrowed),
                                   _PyInterpreterFrame* (3.11+) */
    void *visible_frame;        /* first complete frame under top_frame */
    int py_depth;               /* Python recursion depth */
#if PY_VERSION_HEX >= 0x030C0000
    int c_depth;                /* C recursion depth */
#endif
    short headroom;             /* recursion_headroom (0 or 1) */
#if PY_VERSION_HEX < 0x030D0000
    short trash_nesting;        /* trashcan delete nesting (at most
                                   Py_TRASHCAN's unwind level, 50) */
#endif
    char overflowed;            /* was seen running past its root chunk */
    char chunk_lent;            /* suspended with its empty root chunk given
                                   back to the cache */
#if PY_VERSION_HEX >= 0x030B0000
    void *datastack_chunk;      /* _PyStackChunk*; the limit is its end */
    void *datastack_top;
    void *own_chunk;            /* the root chunk handed out at start */
#endif
    void *exc_info;             /* _PyErr_StackItem* */
    void *exc_previous;         /* exc_state.previous_item */
    PyObject *exc_value;        /* owned */
#if PY_VERSION_HEX < 0x030B0000
    PyObject *exc_type;         /* owned */
    PyObject *exc_tb;           /* owned */
#endif
    PyObject *context;          /* owned */
#if PY_VERSION_HEX >= 0x030C0000
    struct gevc_relinked *relinked; /* frames relinked by expose_frames;
                                       NULL until the first one */
#endif
} gevc_pystate;

/* Storage a starting greenlet keeps on its own C stack (its CFrame on
   3.10, _PyCFrame on 3.11 and 3.12; unused from 3.13 on). */
typedef struct { void *slots[4]; } gevc_cframe_storage;

/* Per-thread cache of root data-stack chunks for starting greenlets. */
#define GEVC_CHUNK_CACHE 32
typedef struct gevc_chunk_cache {
    void *chunks[GEVC_CHUNK_CACHE];
    int n;
    size_t root_size;           /* size given to new greenlets (0: default) */
} gevc_chunk_cache;

/* Value carried from the outgoing to the incoming greenlet (use_tracing). */
typedef int gevc_pystate_carry;

/* Switching out of a live greenlet: move its state out of the tstate (an
   empty root data-stack chunk goes back to `cache`). */
gevc_pystate_carry gevc_pystate_save(gevc_pystate *s, PyThreadState *ts,
                                     gevc_chunk_cache *cache);
/* Switching out of a greenlet that has finished: no state to keep. */
gevc_pystate_carry gevc_pystate_carry_only(PyThreadState *ts);
/* Resuming: move the saved state back into the tstate (a greenlet whose
   chunk went back to `cache` takes one from there). */
void gevc_pystate_restore(gevc_pystate *s, PyThreadState *ts,
                          gevc_pystate_carry carry, gevc_chunk_cache *cache);
/* Starting: give the tstate a fresh state for a new greenlet that runs on
   top of `storage`.  `context` is borrowed (may be NULL). */
void gevc_pystate_start(gevc_pystate *s, PyThreadState *ts,
                        gevc_cframe_storage *storage, gevc_pystate_carry carry,
                        gevc_chunk_cache *cache, PyObject *context);
/* Finished: hand the root chunk back to the cache, clear per-run state. */
void gevc_pystate_finish(gevc_pystate *s, PyThreadState *ts,
                         gevc_chunk_cache *cache);
void gevc_pystate_cache_clear(gevc_chunk_cache *cache);

/* Install (once per process) the arena-allocator wrapper that keeps a few
   freed data-stack chunks for reuse; GIL held. */
void gevc_pystate_wrap_arena(void);
/* How many freed data-stack chunks the wrapper holds. */
int gevc_pystate_spare_count(void);
/* Bytes of data-stack chunks the greenlet holds (for tests): the thread's
   chain if it is running, else its saved one; 0 on 3.10. */
size_t gevc_pystate_datastack_bytes(gevc_pystate *s, PyThreadState *ts,
                                    int running);
/* The thread's trashcan nesting (for tests), -1 if the version has none. */
int gevc_pystate_trash_nesting(PyThreadState *ts);

/* The suspended greenlet's top frame object (new ref) or None.
   [lo, hi) is the greenlet's C stack slice; read_stack copies bytes from
   it wherever they currently are. */
typedef void (*gevc_stack_reader)(void *g, const char *addr, void *dst,
                                  size_t n);
PyObject *gevc_pystate_frame(gevc_pystate *s, PyThreadState *ts,
                             const char *lo, const char *hi,
                             gevc_stack_reader reader, void *g);

PyObject *gevc_pystate_get_context(gevc_pystate *s, PyThreadState *ts,
                                   int running);
int gevc_pystate_set_context(gevc_pystate *s, PyThreadState *ts,
                             int running, PyObject *ctx);

int gevc_pystate_traverse(gevc_pystate *s, visitproc visit, void *arg);
void gevc_pystate_clear(gevc_pystate *s);
void gevc_pystate_dealloc(gevc_pystate *s);
/* Whether a cycle collection is running in ts's interpreter: then no
   greenlet may run that another's stack was spilled for, since the
   collector's object lists have their heads on the C stack it would
   overwrite (and unlinking an object next to a head writes there). */
int gevc_pystate_gc_collecting(PyThreadState *ts);
/* Up to n (code object: new ref, byte offset) of the calling thread's
   innermost complete Python frames; returns how many. */
int gevc_pystate_callers(PyThreadState *ts, PyObject **codes, int *offsets, int n);

/* A suspended greenlet whose thread has exited: drop the references its
   frames' locals hold (before gevc_pystate_abandon). */
void gevc_pystate_release_frames(gevc_pystate *s);
/* A suspended greenlet that will never run again (its thread exited, or
   the interpreter is finalizing): free its data stack, or on 3.10 release
   the references its dead C stack held to its frames. */
void gevc_pystate_abandon(gevc_pystate *s);

/* ---- C API that the rest of ext/greenlet uses and 3.10 lacks ---------- */
#if PY_VERSION_HEX < 0x030B0000
/* Tracing off while greenlet's trace function runs, as 3.11's does it. */
static inline void
PyThreadState_EnterTracing(PyThreadState *ts)
{
    ts->tracing++;
    ts->cframe->use_tracing = 0;
}

static inline void
PyThreadState_LeaveTracing(PyThreadState *ts)
{
    ts->tracing--;
    ts->cframe->use_tracing = ts->c_tracefunc != NULL ||
                              ts->c_profilefunc != NULL;
}

#endif

#pragma GCC visibility pop

#endif
