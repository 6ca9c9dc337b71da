/* Per-greenlet interpreter state: the one file that knows CPython internals.
 *
 * Each supported CPython version has its own marked section below; adding a
 * version means adding a section here and nothing else.  A section defines
 * the frame helpers (save_frames, restore_frames, start_frames,
 * current_carry, expose_frames, top_frame_object) and says which of the
 * shared parts it uses:
 *
 *   HAVE_SINGLE_EXC   _PyErr_StackItem holds one exception (3.11+), not
 *                     the (type, value, traceback) triple of 3.10
 *   HAVE_DATA_STACK   frames live in per-thread data-stack chunks (3.11+)
 *   HAVE_ENTRY_FRAMES each _PyEval_EvalFrameDefault call keeps an entry
 *                     frame on the C stack (3.12+); see expose_live()
 *   HAVE_CFRAME_CURRENT_FRAME  the top frame is _PyCFrame.current_frame
 *                     (3.11, 3.12), not tstate->current_frame (3.13)
 *
 * The common code after the sections works only through those helpers.
 */
#define Py_BUILD_CORE 1     /* frame, cframe and collector internals */
#include <Python.h>
#include "internal/pycore_interp.h"
#include "pystate.h"
#include <stdatomic.h>
#include <string.h>

#ifdef Py_GIL_DISABLED
#error "gevent_c._greenlet: free-threaded CPython builds are not supported"
#endif

#if PY_VERSION_HEX >= 0x030C0000
/* The (frame, its real previous) pairs expose_live relinked (3.12+),
   allocated on the first relink: most greenlets never need one. */
struct gevc_relinked {
    int n, cap;
    void *items[];
};
#endif

#if PY_VERSION_HEX >= 0x030A0000 && PY_VERSION_HEX < 0x030B0000
/* ===================== CPython 3.10 ===================================== */
/* Frames are heap objects linked by f_back, and tstate->frame is the top one
   (borrowed: the C stack of the call that evaluates it holds the
   reference).  A CFrame per _PyEval_EvalFrameDefault call, on the C stack,
   carries use_tracing.  Recursion is counted up in recursion_depth. */
#include <frameobject.h>
#define HAVE_SINGLE_EXC 0
#define HAVE_DATA_STACK 0
#define HAVE_ENTRY_FRAMES 0
#define HAVE_CFRAME_CURRENT_FRAME 0
#define TRASH_NESTING(ts) ((ts)->trash_delete_nesting)

static gevc_pystate_carry
save_frames(gevc_pystate *s, PyThreadState *ts)
{
    CFrame *cf = ts->cframe;
    s->cframe = cf;
    s->top_frame = ts->frame;
    s->visible_frame = ts->frame;
    s->py_depth = ts->recursion_depth;
    s->trash_nesting = ts->trash_delete_nesting;
    return cf->use_tracing;
}

static gevc_pystate_carry
current_carry(PyThreadState *ts)
{
    return ts->cframe->use_tracing;
}

static void
restore_frames(gevc_pystate *s, PyThreadState *ts, gevc_pystate_carry carry)
{
    CFrame *cf = s->cframe;
    ts->cframe = cf;
    cf->use_tracing = carry;
    ts->frame = s->top_frame;
    ts->recursion_depth = s->py_depth;
    ts->trash_delete_nesting = s->trash_nesting;
}

/* The recursion depth goes on from the starting greenlet's. */
static void
start_frames(PyThreadState *ts, gevc_cframe_storage *storage,
             gevc_pystate_carry carry)
{
    CFrame *cf = (CFrame *)storage;
    cf->use_tracing = carry;
    cf->previous = &ts->root_cframe;
    ts->cframe = cf;
    ts->frame = NULL;
    ts->trash_delete_nesting = 0;
}

/* Frame objects own their f_back: nothing lives on the C stack. */
static void
expose_frames(gevc_pystate *s, const char *lo, const char *hi,
              gevc_stack_reader reader, void *g)
{
}

static PyFrameObject *
top_frame_object(gevc_pystate *s, PyThreadState *ts)
{
    return (PyFrameObject *)Py_XNewRef((PyObject *)s->visible_frame);
}

#elif PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
/* ===================== CPython 3.11 ===================================== */
#include "internal/pycore_frame.h"
#define HAVE_SINGLE_EXC 1
#define HAVE_DATA_STACK 1
#define HAVE_ENTRY_FRAMES 0
#define HAVE_CFRAME_CURRENT_FRAME 1
/* the frame's strong references to its code and function */
#define FRAME_CODE f_code
#define FRAME_FUNC f_func
/* f was called by the interpreter itself (not through C), so its caller's
   stacktop was saved at that call and is still valid */
#define CALLED_INLINE(s, f) (!(f)->is_entry)

/* Size of the chunks push_chunk() in Python/pystate.c takes from the arena
   allocator (DATA_STACK_CHUNK_SIZE there; not in any header). */
#define CPY_CHUNK_SIZE (16 * 1024)
#define TRASH_NESTING(ts) ((ts)->trash_delete_nesting)

static gevc_pystate_carry
save_frames(gevc_pystate *s, PyThreadState *ts)
{
    _PyCFrame *cf = ts->cframe;
    s->cframe = cf;
    s->top_frame = cf->current_frame;
    s->visible_frame = s->top_frame;  /* 3.11 keeps every frame in the data stack */
    s->py_depth = ts->recursion_limit - ts->recursion_remaining;
    s->trash_nesting = ts->trash_delete_nesting;
    return cf->use_tracing;
}

static gevc_pystate_carry
current_carry(PyThreadState *ts)
{
    return ts->cframe->use_tracing;
}

static void
restore_frames(gevc_pystate *s, PyThreadState *ts, gevc_pystate_carry carry)
{
    _PyCFrame *cf = s->cframe;
    ts->cframe = cf;
    cf->current_frame = s->top_frame;
    cf->use_tracing = (uint8_t)carry;
    ts->recursion_remaining = ts->recursion_limit - s->py_depth;
    ts->trash_delete_nesting = s->trash_nesting;
}

static void
start_frames(PyThreadState *ts, gevc_cframe_storage *storage,
             gevc_pystate_carry carry)
{
    _PyCFrame *cf = (_PyCFrame *)storage;
    cf->use_tracing = (uint8_t)carry;
    cf->current_frame = NULL;
    cf->previous = &ts->root_cframe;
    ts->cframe = cf;
    ts->trash_delete_nesting = 0;
}

/* Frames of a 3.11 greenlet all live in its data stack: nothing to hide. */
static void
expose_frames(gevc_pystate *s, const char *lo, const char *hi,
              gevc_stack_reader reader, void *g)
{
}

#elif PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
/* ===================== CPython 3.12 ===================================== */
#include "internal/pycore_frame.h"
#define HAVE_SINGLE_EXC 1
#define HAVE_DATA_STACK 1
#define HAVE_ENTRY_FRAMES 1
#define HAVE_CFRAME_CURRENT_FRAME 1
#define FRAME_CODE f_code
#define FRAME_FUNC f_funcobj

/* As for 3.11: DATA_STACK_CHUNK_SIZE in Python/pystate.c. */
#define CPY_CHUNK_SIZE (16 * 1024)
#define TRASH_NESTING(ts) ((ts)->trash.delete_nesting)

static _PyInterpreterFrame *first_complete(_PyInterpreterFrame *f);
static void expose_live(gevc_pystate *s);
static void undo_expose(gevc_pystate *s);

static gevc_pystate_carry
save_frames(gevc_pystate *s, PyThreadState *ts)
{
    _PyCFrame *cf = ts->cframe;
    s->cframe = cf;
    s->top_frame = cf->current_frame;
    s->visible_frame = first_complete(s->top_frame);
    expose_live(s);
    s->py_depth = ts->py_recursion_limit - ts->py_recursion_remaining;
    s->c_depth = C_RECURSION_LIMIT - ts->c_recursion_remaining;
    s->trash_nesting = ts->trash.delete_nesting;
    return 0;
}

static gevc_pystate_carry
current_carry(PyThreadState *ts)
{
    return 0;
}

static void
restore_frames(gevc_pystate *s, PyThreadState *ts, gevc_pystate_carry carry)
{
    _PyCFrame *cf = s->cframe;
    if (s->relinked != NULL && s->relinked->n)
        undo_expose(s);
    ts->cframe = cf;
    cf->current_frame = s->top_frame;
    ts->py_recursion_remaining = ts->py_recursion_limit - s->py_depth;
    ts->c_recursion_remaining = C_RECURSION_LIMIT - s->c_depth;
    ts->trash.delete_nesting = s->trash_nesting;
}

static void
start_frames(PyThreadState *ts, gevc_cframe_storage *storage,
             gevc_pystate_carry carry)
{
    _PyCFrame *cf = (_PyCFrame *)storage;
    cf->current_frame = NULL;
    cf->previous = &ts->root_cframe;
    ts->cframe = cf;
    ts->trash.delete_nesting = 0;
}

#elif PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
/* ===================== CPython 3.13 ===================================== */
/* No _PyCFrame any more: tstate->current_frame is the top frame, and
   tracing is PEP 669 instrumentation (nothing to carry).  The trashcan has
   no nesting counter: it defers deallocations by c_recursion_remaining,
   which travels with the greenlet, onto the thread's delete_later chain.
   That chain stays the thread's, as trash_delete_later is on 3.10-3.12:
   its objects are already unreachable, so destroying them from whichever
   greenlet next leaves a Py_TRASHCAN_END with headroom is right, and a
   chain moved into a greenlet would be lost if that greenlet never ran
   again. */
#include "internal/pycore_frame.h"
#define HAVE_SINGLE_EXC 1
#define HAVE_DATA_STACK 1
#define FRAME_CODE f_executable   /* a code object, or None */
#define FRAME_FUNC f_funcobj
#define HAVE_ENTRY_FRAMES 1
#define HAVE_CFRAME_CURRENT_FRAME 0

/* As for 3.11: DATA_STACK_CHUNK_SIZE in Python/pystate.c. */
#define CPY_CHUNK_SIZE (16 * 1024)

static _PyInterpreterFrame *first_complete(_PyInterpreterFrame *f);
static void expose_live(gevc_pystate *s);
static void undo_expose(gevc_pystate *s);

static gevc_pystate_carry
save_frames(gevc_pystate *s, PyThreadState *ts)
{
    s->top_frame = ts->current_frame;
    s->visible_frame = first_complete(s->top_frame);
    expose_live(s);
    s->py_depth = ts->py_recursion_limit - ts->py_recursion_remaining;
    s->c_depth = Py_C_RECURSION_LIMIT - ts->c_recursion_remaining;
    return 0;
}

static gevc_pystate_carry
current_carry(PyThreadState *ts)
{
    return 0;
}

static void
restore_frames(gevc_pystate *s, PyThreadState *ts, gevc_pystate_carry carry)
{
    if (s->relinked != NULL && s->relinked->n)
        undo_expose(s);
    ts->current_frame = s->top_frame;
    ts->py_recursion_remaining = ts->py_recursion_limit - s->py_depth;
    ts->c_recursion_remaining = Py_C_RECURSION_LIMIT - s->c_depth;
}

/* Both recursion counts go on from the starting greenlet's. */
static void
start_frames(PyThreadState *ts, gevc_cframe_storage *storage,
             gevc_pystate_carry carry)
{
    ts->current_frame = NULL;
}

/* PyThreadState_GetFrame makes the frame object for us (the function that
   does it is not exported); point the thread at the suspended frames for
   that one call. */
static PyFrameObject *
top_frame_object(gevc_pystate *s, PyThreadState *ts)
{
    _PyInterpreterFrame *saved = ts->current_frame;
    PyFrameObject *f;
    ts->current_frame = s->visible_frame;
    f = PyThreadState_GetFrame(ts);
    ts->current_frame = saved;
    return f;
}

#else
#error "gevent_c._greenlet: this CPython version is not supported yet (add a section to ext/greenlet/pystate.c)"
#endif

/* ---- shared by the versions with _PyCFrame.current_frame (3.11, 3.12) -- */
#if HAVE_DATA_STACK && HAVE_CFRAME_CURRENT_FRAME
/* PyThreadState_GetFrame makes the frame object for us (the function that
   does it is not exported); point the thread at the suspended frames for
   that one call. */
static PyFrameObject *
top_frame_object(gevc_pystate *s, PyThreadState *ts)
{
    _PyCFrame tmp, *saved = ts->cframe;
    PyFrameObject *f;
    memset(&tmp, 0, sizeof(tmp));
    tmp.current_frame = s->visible_frame;
    ts->cframe = &tmp;
    f = PyThreadState_GetFrame(ts);
    ts->cframe = saved;
    return f;
}
#endif

/* ---- shared by the versions with C-stack entry frames (3.12, 3.13) ---- */
#if HAVE_ENTRY_FRAMES

/* The current frame can be the entry frame of a _PyEval_EvalFrameDefault
   call, which lives on the C stack: a greenlet that switches out there
   must never show it, since other greenlets overwrite that memory.  Read
   only at switch-out, while the stack is in place. */
static _PyInterpreterFrame *
first_complete(_PyInterpreterFrame *f)
{
    while (f != NULL && (f->owner == FRAME_OWNED_BY_CSTACK ||
                         _PyFrame_IsIncomplete(f)))
        f = f->previous;
    return f;
}

static int
remember_link(gevc_pystate *s, _PyInterpreterFrame *f)
{
    struct gevc_relinked *r = s->relinked;
    if (r == NULL || r->n + 2 > r->cap) {
        int cap = r ? r->cap * 2 : 16;
        r = PyMem_Realloc(r, sizeof(*r) + cap * sizeof(void *));
        if (r == NULL)
            return -1;
        if (s->relinked == NULL)
            r->n = 0;
        r->cap = cap;
        s->relinked = r;
    }
    r->items[r->n++] = f;
    r->items[r->n++] = f->previous;
    return 0;
}

/* f was called by the interpreter itself (its previous frame was not an
   entry frame, which expose_live relinked past), so its caller's stacktop
   was saved at that call and is still valid */
static int
called_inline(gevc_pystate *s, _PyInterpreterFrame *f)
{
    struct gevc_relinked *r = s->relinked;
    for (int i = 0; r != NULL && i < r->n; i += 2) {
        if (r->items[i] == f)
            return 0;
    }
    return 1;
}
#define CALLED_INLINE(s, f) called_inline(s, f)

static void
undo_expose(gevc_pystate *s)
{
    struct gevc_relinked *r = s->relinked;
    for (int i = r->n - 2; i >= 0; i -= 2) {
        _PyInterpreterFrame *f = r->items[i];
        f->previous = r->items[i + 1];
    }
    r->n = 0;
}

/* Since 3.12 each _PyEval_EvalFrameDefault keeps an "entry" frame in its C
   stack frame.  While the greenlet is suspended that memory belongs to
   someone else, so f_back of any frame object of the greenlet (gr_frame, a
   traceback's tb_frame, a saved sys._getframe()) would read garbage when
   CPython skips over the entry frame.  At switch-out, while the C stack is
   still in place, relink every frame past the entry frames; resuming
   undoes it before the interpreter needs the real links.  The cost is a
   walk over the greenlet's frames per switch. */
static void
expose_live(gevc_pystate *s)
{
    _PyInterpreterFrame *f = s->visible_frame;
    while (f != NULL) {
        _PyInterpreterFrame *prev = f->previous;
        if (prev != NULL && prev->owner == FRAME_OWNED_BY_CSTACK) {
            do {
                prev = prev->previous;
            } while (prev != NULL && prev->owner == FRAME_OWNED_BY_CSTACK);
            if (remember_link(s, f) < 0)
                return;
            f->previous = prev;
        }
        f = prev;
    }
}

static int
in_slice(const void *p, const char *lo, const char *hi)
{
    return (const char *)p >= lo && (const char *)p < hi;
}

/* The same relinking for gr_frame, reading the slice from wherever its
   bytes are now; normally a no-op, unless recording a link failed for lack
   of memory at switch-out.  Frames in [lo, hi) are only read through
   `reader`, and none of them is ever a frame we start from or relink. */
static void
expose_frames(gevc_pystate *s, const char *lo, const char *hi,
              gevc_stack_reader reader, void *g)
{
    _PyInterpreterFrame *f = s->visible_frame;
    while (f != NULL && !in_slice(f, lo, hi)) {
        _PyInterpreterFrame *prev = f->previous;
        _PyInterpreterFrame copy;
        int moved = 0;
        while (prev != NULL && in_slice(prev, lo, hi)) {
            reader(g, (const char *)prev, &copy, sizeof(copy));
            prev = copy.previous;
            moved = 1;
        }
        if (moved) {
            if (remember_link(s, f) < 0) {
                /* cannot record it: cut the chain rather than lie */
                PyErr_Clear();
                prev = NULL;
                if (remember_link(s, f) < 0)
                    return;
            }
            f->previous = prev;
        }
        f = prev;
    }
}
#endif /* HAVE_ENTRY_FRAMES */

/* ---- the handled exception --------------------------------------------- */
#if HAVE_SINGLE_EXC
static void
save_exc(gevc_pystate *s, PyThreadState *ts)
{
    s->exc_value = ts->exc_state.exc_value;
    ts->exc_state.exc_value = NULL;
}

static void
restore_exc(gevc_pystate *s, PyThreadState *ts)
{
    ts->exc_state.exc_value = s->exc_value;
    s->exc_value = NULL;
}

static void
clear_exc(PyThreadState *ts)
{
    Py_CLEAR(ts->exc_state.exc_value);
}
#else
static void
save_exc(gevc_pystate *s, PyThreadState *ts)
{
    s->exc_type = ts->exc_state.exc_type;
    s->exc_value = ts->exc_state.exc_value;
    s->exc_tb = ts->exc_state.exc_traceback;
    ts->exc_state.exc_type = NULL;
    ts->exc_state.exc_value = NULL;
    ts->exc_state.exc_traceback = NULL;
}

static void
restore_exc(gevc_pystate *s, PyThreadState *ts)
{
    ts->exc_state.exc_type = s->exc_type;
    ts->exc_state.exc_value = s->exc_value;
    ts->exc_state.exc_traceback = s->exc_tb;
    s->exc_type = s->exc_value = s->exc_tb = NULL;
}

static void
clear_exc(PyThreadState *ts)
{
    Py_CLEAR(ts->exc_state.exc_type);
    Py_CLEAR(ts->exc_state.exc_value);
    Py_CLEAR(ts->exc_state.exc_traceback);
}
#endif

/* ---- the data stack (3.11+) -------------------------------------------- */
#if HAVE_DATA_STACK

/* Root data-stack chunks we hand to starting greenlets.  They are our own
   malloc'ed blocks, smaller than CPython's 16 KiB: CPython never pops a root
   chunk, and when one fills it pushes one of its own on top (and pops that
   one again with its own allocator), so the size is ours to choose.  A
   small block keeps a suspended greenlet's resident memory small.  A
   greenlet that keeps crossing the end of its root chunk makes CPython
   allocate and free a chunk each time; the spare chunks kept by the arena
   wrapper below make that cheap.  And once greenlets of a thread are seen
   suspended past their root chunk, later ones get bigger chunks. */
#define ROOT_CHUNK_MIN 1024
#define ROOT_CHUNK_MAX (16 * 1024)

/* Spare data-stack chunks, kept by wrapping the arena allocator.
 *
 * A long-lived greenlet whose frames keep crossing the end of its small root
 * chunk and coming back before it blocks (a pool's spawning loop) makes
 * CPython allocate a 16 KiB chunk and free it again each time, and the arena
 * allocator maps and unmaps it: a system call pair per crossing.  The chunk
 * is pushed and popped inside the eval loop, where no greenlet code runs, so
 * the only place to step in is the allocator CPython calls.  We chain to the
 * one installed before us and keep a few freed blocks of exactly the chunk
 * size for the next request; every other size (obmalloc arenas are 256 KiB
 * or 1 MiB) goes straight through.
 *
 * The arena allocator is one per process, so this cache is too: a global
 * that must be global.  It stays tiny (SPARE_CHUNKS blocks) and is never
 * uninstalled, since extension modules are never unloaded and blocks handed
 * out through it may be freed at any time until exit.
 *
 * From 3.11 on the arena allocator runs with the GIL held (obmalloc's
 * new_arena/free arena under pymalloc, push_chunk and
 * _PyThreadState_PopFrame in the eval loop) except in a few places: 3.11
 * frees a dead thread's chunks in tstate_delete_common(), which
 * PyThreadState_Delete() may run without the GIL, and from 3.12 on
 * interpreters with their own GIL share this allocator.  So the slots are
 * taken and filled with atomic operations and no lock; each slot holds one
 * block and an exchange hands it to exactly one caller. */
#define SPARE_CHUNKS 4

static PyObjectArenaAllocator base_arena;
static _Atomic(void *) spare_chunks[SPARE_CHUNKS];
static atomic_int arena_wrapped;

static void *
spare_alloc(void *ctx, size_t size)
{
    if (size == CPY_CHUNK_SIZE) {
        for (int i = 0; i < SPARE_CHUNKS; i++) {
            void *p;
            if (atomic_load_explicit(&spare_chunks[i],
                                     memory_order_relaxed) == NULL)
                continue;
            p = atomic_exchange_explicit(&spare_chunks[i], NULL,
                                         memory_order_acquire);
            if (p != NULL)
                return p;
        }
    }
    return base_arena.alloc(base_arena.ctx, size);
}

static void
spare_free(void *ctx, void *p, size_t size)
{
    if (size == CPY_CHUNK_SIZE && p != NULL) {
        for (int i = 0; i < SPARE_CHUNKS; i++) {
            void *empty = NULL;
            if (atomic_load_explicit(&spare_chunks[i],
                                     memory_order_relaxed) != NULL)
                continue;
            if (atomic_compare_exchange_strong_explicit(
                    &spare_chunks[i], &empty, p, memory_order_release,
                    memory_order_relaxed))
                return;
        }
    }
    base_arena.free(base_arena.ctx, p, size);
}

/* Called from module exec with the GIL held; the first import in the
   process installs the wrapper, later ones (other interpreters) find it. */
void
gevc_pystate_wrap_arena(void)
{
    PyObjectArenaAllocator mine = {NULL, spare_alloc, spare_free};
    int expected = 0;
    if (!atomic_compare_exchange_strong(&arena_wrapped, &expected, 1))
        return;
    PyObject_GetArenaAllocator(&base_arena);
    PyObject_SetArenaAllocator(&mine);
}

/* Blocks the wrapper holds now (for tests). */
int
gevc_pystate_spare_count(void)
{
    int n = 0;
    for (int i = 0; i < SPARE_CHUNKS; i++)
        n += atomic_load(&spare_chunks[i]) != NULL;
    return n;
}

static void *
chunk_take(gevc_chunk_cache *cache)
{
    _PyStackChunk *c = NULL;
    if (cache->root_size == 0)
        cache->root_size = ROOT_CHUNK_MIN;
    while (cache->n > 0) {
        c = cache->chunks[--cache->n];
        if (c->size == cache->root_size)
            break;
        PyMem_RawFree(c);   /* left from before the size grew */
        c = NULL;
    }
    if (c == NULL) {
        c = PyMem_RawMalloc(cache->root_size);
        if (c == NULL)
            return NULL;    /* CPython will allocate its own on first push */
        c->size = cache->root_size;
    }
    c->previous = NULL;
    c->top = 0;
    return c;
}

static void
chunk_give(gevc_chunk_cache *cache, _PyStackChunk *c)
{
    if (cache->n < GEVC_CHUNK_CACHE && c->size == cache->root_size)
        cache->chunks[cache->n++] = c;
    else
        PyMem_RawFree(c);
}

/* Free chunks CPython pushed itself, the way CPython frees them. */
static void
arena_free(_PyStackChunk *c)
{
    PyObjectArenaAllocator a;
    PyObject_GetArenaAllocator(&a);
    a.free(a.ctx, c, c->size);
}

static void start_stack(gevc_pystate *s, PyThreadState *ts,
                        gevc_chunk_cache *cache);

/* A greenlet that switches out with no frame in its root chunk (one
   suspended in C code only: spawn(sleep, 10), a greenlet whose run is a C
   function) gives the chunk back to the cache, for the next greenlet that
   starts or resumes, and gets one again when it resumes.  Nothing points
   into an empty chunk: frames that outlive their call are copied into
   their frame objects, and a generator's frame lives in the generator. */
static void
save_stack(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
    _PyStackChunk *c = ts->datastack_chunk;
    if (c != NULL && c == s->own_chunk && ts->datastack_top == &c->data[1]) {
        chunk_give(cache, c);
        s->own_chunk = NULL;
        s->chunk_lent = 1;
        c = NULL;
        ts->datastack_top = ts->datastack_limit = NULL;
    }
    else if (c != NULL && c->previous != NULL && s->own_chunk != NULL)
        s->overflowed = 1;
    s->datastack_chunk = c;
    s->datastack_top = ts->datastack_top;
}

static void
restore_stack(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
    if (s->chunk_lent) {
        s->chunk_lent = 0;
        start_stack(s, ts, cache);
        return;
    }
    _PyStackChunk *c = s->datastack_chunk;
    ts->datastack_chunk = c;
    ts->datastack_top = s->datastack_top;
    /* where CPython puts it too, whoever pushed the chunk */
    ts->datastack_limit = c ? (PyObject **)((char *)c + c->size) : NULL;
}

static void
start_stack(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
    _PyStackChunk *c = chunk_take(cache);
    s->own_chunk = c;
    ts->datastack_chunk = c;
    if (c != NULL) {
        /* data[0] is skipped, as CPython does for a root chunk, so that the
           first frame never sits at the chunk base and it is never popped */
        ts->datastack_top = &c->data[1];
        ts->datastack_limit = (PyObject **)((char *)c + c->size);
    }
    else {
        ts->datastack_top = NULL;
        ts->datastack_limit = NULL;
    }
}

static void
finish_stack(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
    _PyStackChunk *c = ts->datastack_chunk;
    if (s->overflowed && cache->root_size < ROOT_CHUNK_MAX)
        cache->root_size *= 2;
    s->overflowed = 0;
    while (c != NULL) {
        _PyStackChunk *prev = c->previous;
        if (c == s->own_chunk)
            chunk_give(cache, c);
        else
            arena_free(c);
        c = prev;
    }
    s->own_chunk = NULL;
    ts->datastack_chunk = NULL;
    ts->datastack_top = NULL;
    ts->datastack_limit = NULL;
}

static size_t
chunk_bytes(_PyStackChunk *c)
{
    size_t n = 0;
    for (; c != NULL; c = c->previous)
        n += c->size;
    return n;
}

/* f lies in one of the greenlet's data-stack chunks. */
static int
in_data_stack(gevc_pystate *s, _PyInterpreterFrame *f)
{
    _PyStackChunk *c = s->datastack_chunk;
    while (c != NULL && !((char *)f > (char *)c &&
                          (char *)f < (char *)c + c->size))
        c = c->previous;
    return c != NULL;
}

/* A live frame object points into the chunk it describes: then the
   chunks are leaked rather than freed under it.  So are they when the
   chain leaves the data stack (a generator's frame, or from 3.12 on a
   C-stack frame if relinking failed): what lies beyond cannot be read
   safely. */
static int
frames_referenced(gevc_pystate *s)
{
    _PyInterpreterFrame *f = s->visible_frame;
    while (f != NULL) {
        if (!in_data_stack(s, f))
            return 1;
        if (f->frame_obj != NULL)
            return 1;
        f = f->previous;
    }
    return 0;
}

/* A greenlet suspended in a thread that has exited never runs again: drop
   what its frames hold through their locals and cells, f_locals, function
   and code, as clearing a frame does, and through the value stack of each
   frame that called the next one from the interpreter (its stack top was
   saved at that call).  The top frame's value stack, and that of a frame
   whose callee was called through C, stay: their depth is recorded nowhere
   while they are suspended inside a call, so those few references (the
   callee and its arguments, such as the greenlet switched to) are leaked.
   Only when frames_referenced() is 0: every frame lies in the data stack
   and no frame object points at one.  Each frame is emptied before the
   next, and __del__ methods run by the releases see nothing half-cleared:
   no frame object reaches these frames. */
static void
release_frames(gevc_pystate *s)
{
    _PyInterpreterFrame *f = s->visible_frame, *callee = NULL;
    if (frames_referenced(s))
        return;
    while (f != NULL) {
        _PyInterpreterFrame *prev = f->previous;
        PyObject *code = (PyObject *)f->FRAME_CODE;
        if (code != NULL && PyCode_Check(code)) {
            PyCodeObject *co = (PyCodeObject *)code;
            int n = co->co_nlocalsplus, top = n;
            if (callee != NULL && CALLED_INLINE(s, callee) &&
                f->stacktop > n && f->stacktop <= n + co->co_stacksize)
                top = f->stacktop;
            for (int i = 0; i < top; i++)
                Py_CLEAR(f->localsplus[i]);
        }
        Py_CLEAR(f->f_locals);
        Py_CLEAR(f->FRAME_FUNC);
        f->FRAME_CODE = NULL;
        Py_XDECREF(code);
        callee = f;
        f = prev;
    }
}

/* The whole chain can be read without the greenlet's C stack (a greenlet
   suspended in a thread that has exited; the frames a generator or a
   failed relink leaves outside the data stack are not followed). */
static int
frames_in_data_stack(gevc_pystate *s)
{
    _PyInterpreterFrame *f = s->visible_frame;
    while (f != NULL) {
        if (!in_data_stack(s, f))
            return 0;
        f = f->previous;
    }
    return 1;
}

static void
abandon_stack(gevc_pystate *s)
{
    _PyStackChunk *c = s->datastack_chunk;
    if (c != NULL && !frames_referenced(s)) {
        while (c != NULL) {
            _PyStackChunk *prev = c->previous;
            if (c == s->own_chunk)
                PyMem_RawFree(c);
            else
                arena_free(c);
            c = prev;
        }
    }
    s->datastack_chunk = s->own_chunk = NULL;
    s->datastack_top = NULL;
}

void
gevc_pystate_cache_clear(gevc_chunk_cache *cache)
{
    while (cache->n > 0)
        PyMem_RawFree(cache->chunks[--cache->n]);
}

size_t
gevc_pystate_datastack_bytes(gevc_pystate *s, PyThreadState *ts, int running)
{
    return chunk_bytes(running ? ts->datastack_chunk : s->datastack_chunk);
}

#else /* !HAVE_DATA_STACK: frames are heap objects, nothing to carry */

size_t
gevc_pystate_datastack_bytes(gevc_pystate *s, PyThreadState *ts, int running)
{
    return 0;
}

void
gevc_pystate_wrap_arena(void)
{
}

int
gevc_pystate_spare_count(void)
{
    return 0;
}

void
gevc_pystate_cache_clear(gevc_chunk_cache *cache)
{
}

static void
save_stack(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
}

static void
restore_stack(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
}

static void
start_stack(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
}

static void
finish_stack(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
}

/* A greenlet that will never run again: its running frames hold each
   other through f_back, and each frame that is not a generator's is also
   held by the _PyEval_Vector call evaluating it, whose reference now lies
   on a C stack nobody will unwind.  Release those references top down,
   keeping the next frame alive across each release (its f_back reference
   may go with the frame), so the frames and their locals are freed.  A
   generator's frame belongs to its generator and no C stack holds it:
   stop there and leave the frames below alive. */
static void
abandon_stack(gevc_pystate *s)
{
    PyFrameObject *f = (PyFrameObject *)Py_XNewRef((PyObject *)s->top_frame);
    while (f != NULL && f->f_gen == NULL) {
        PyFrameObject *back = (PyFrameObject *)Py_XNewRef((PyObject *)f->f_back);
        Py_DECREF(f);       /* the dead C stack's reference */
        Py_DECREF(f);       /* ours */
        f = back;
    }
    Py_XDECREF(f);
}

/* 3.10: releasing the frames (abandon_stack) already clears them. */
static void
release_frames(gevc_pystate *s)
{
}

/* 3.10: frames are heap objects, readable without any C stack. */
static int
frames_in_data_stack(gevc_pystate *s)
{
    return 1;
}
#endif /* HAVE_DATA_STACK */

/* ===================== common to all versions =========================== */

/* The thread's trashcan nesting, for tests; -1 where a section defines no
   TRASH_NESTING (the interpreter keeps no such count from 3.13 on). */
int
gevc_pystate_trash_nesting(PyThreadState *ts)
{
#ifdef TRASH_NESTING
    return TRASH_NESTING(ts);
#else
    return -1;
#endif
}

gevc_pystate_carry
gevc_pystate_save(gevc_pystate *s, PyThreadState *ts, gevc_chunk_cache *cache)
{
    save_stack(s, ts, cache);
    s->exc_info = ts->exc_info == &ts->exc_state ? NULL : ts->exc_info;
    s->exc_previous = ts->exc_state.previous_item;
    ts->exc_state.previous_item = NULL;
    save_exc(s, ts);
    s->context = ts->context;
    ts->context = NULL;
    s->headroom = ts->recursion_headroom;
    return save_frames(s, ts);
}

gevc_pystate_carry
gevc_pystate_carry_only(PyThreadState *ts)
{
    return current_carry(ts);
}

void
gevc_pystate_restore(gevc_pystate *s, PyThreadState *ts,
                     gevc_pystate_carry carry, gevc_chunk_cache *cache)
{
    restore_frames(s, ts, carry);
    ts->recursion_headroom = s->headroom;
    restore_stack(s, ts, cache);
    restore_exc(s, ts);
    ts->exc_state.previous_item = s->exc_previous;
    ts->exc_info = s->exc_info ? s->exc_info : &ts->exc_state;
    s->exc_previous = NULL;
    ts->context = s->context;
    s->context = NULL;
    ts->context_ver++;
}

void
gevc_pystate_start(gevc_pystate *s, PyThreadState *ts,
                   gevc_cframe_storage *storage, gevc_pystate_carry carry,
                   gevc_chunk_cache *cache, PyObject *context)
{
    start_frames(ts, storage, carry);
    ts->recursion_headroom = 0;
    start_stack(s, ts, cache);
    /* the starting greenlet's exception state was saved and cleared */
    ts->exc_state.previous_item = NULL;
    ts->exc_info = &ts->exc_state;
    Py_XINCREF(context);
    ts->context = context;
    ts->context_ver++;
}

void
gevc_pystate_finish(gevc_pystate *s, PyThreadState *ts,
                    gevc_chunk_cache *cache)
{
    /* first what may run Python code, while the data stack is still there */
    clear_exc(ts);
    /* a finished greenlet keeps the context it ran in (gr_context) */
    Py_XSETREF(s->context, ts->context);
    ts->context = NULL;
    ts->context_ver++;
    finish_stack(s, ts, cache);
    s->top_frame = NULL;
    s->visible_frame = NULL;
#if PY_VERSION_HEX < 0x030D0000
    s->cframe = NULL;
#endif
}

PyObject *
gevc_pystate_frame(gevc_pystate *s, PyThreadState *ts, const char *lo,
                   const char *hi, gevc_stack_reader reader, void *g)
{
    PyFrameObject *f;
    int gc_was_on;

    if (s->visible_frame == NULL)
        Py_RETURN_NONE;
    if (reader != NULL)
        expose_frames(s, lo, hi, reader, g);
    else if (!frames_in_data_stack(s))
        Py_RETURN_NONE;     /* the C stack slice is gone: read no further */
    /* A collection while the frame object is allocated could run code
       that switches while the thread points at foreign frames: no GC. */
    gc_was_on = PyGC_Disable();
    f = top_frame_object(s, ts);
    if (gc_was_on)
        PyGC_Enable();
    if (f == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    return (PyObject *)f;
}

/* Whether this interpreter's cycle collector is running (the same field
   from 3.10 to 3.13).  While it runs, its lists of objects have their
   heads in its own C frames. */
int
gevc_pystate_gc_collecting(PyThreadState *ts)
{
    return ts->interp->gc.collecting != 0;
}

PyObject *
gevc_pystate_get_context(gevc_pystate *s, PyThreadState *ts, int running)
{
    PyObject *ctx = running ? ts->context : s->context;
    return Py_NewRef(ctx ? ctx : Py_None);
}

int
gevc_pystate_set_context(gevc_pystate *s, PyThreadState *ts, int running,
                         PyObject *ctx)
{
    if (ctx == Py_None)
        ctx = NULL;
    if (ctx != NULL && !PyContext_CheckExact(ctx)) {
        PyErr_SetString(PyExc_TypeError,
                        "greenlet context must be a contextvars.Context or None");
        return -1;
    }
    if (running) {
        Py_XSETREF(ts->context, Py_XNewRef(ctx));
        ts->context_ver++;
    }
    else {
        Py_XSETREF(s->context, Py_XNewRef(ctx));
    }
    return 0;
}

int
gevc_pystate_traverse(gevc_pystate *s, visitproc visit, void *arg)
{
    Py_VISIT(s->exc_value);
#if !HAVE_SINGLE_EXC
    Py_VISIT(s->exc_type);
    Py_VISIT(s->exc_tb);
#endif
    Py_VISIT(s->context);
    return 0;
}

void
gevc_pystate_clear(gevc_pystate *s)
{
    Py_CLEAR(s->exc_value);
#if !HAVE_SINGLE_EXC
    Py_CLEAR(s->exc_type);
    Py_CLEAR(s->exc_tb);
#endif
    Py_CLEAR(s->context);
}


void
gevc_pystate_release_frames(gevc_pystate *s)
{
    release_frames(s);
}

void
gevc_pystate_abandon(gevc_pystate *s)
{
    abandon_stack(s);
    s->top_frame = s->visible_frame = NULL;
#if PY_VERSION_HEX < 0x030D0000
    s->cframe = NULL;
#endif
}

void
gevc_pystate_dealloc(gevc_pystate *s)
{
    gevc_pystate_clear(s);
#if HAVE_ENTRY_FRAMES
    PyMem_Free(s->relinked);
    s->relinked = NULL;
#endif
}

/* The calling thread's innermost complete Python frames, for messages that
   say where something was set up (gevent_c.Timeout): up to `n` code objects
   (new references) and byte offsets of their current instruction. */
int
gevc_pystate_callers(PyThreadState *ts, PyObject **codes, int *offsets, int n)
{
    int k = 0;
#if !HAVE_DATA_STACK
    for (PyFrameObject *f = ts->frame; f != NULL && k < n; f = f->f_back) {
        codes[k] = Py_NewRef((PyObject *)f->f_code);
        offsets[k++] = f->f_lasti * (int)sizeof(_Py_CODEUNIT);
    }
#else
#  if HAVE_CFRAME_CURRENT_FRAME
    _PyInterpreterFrame *f = ts->cframe ? ts->cframe->current_frame : NULL;
#  else
    _PyInterpreterFrame *f = ts->current_frame;
#  endif
    for (; f != NULL && k < n; f = f->previous) {
#  if HAVE_ENTRY_FRAMES
        if (f->owner == FRAME_OWNED_BY_CSTACK)
            continue;
#  endif
        if (_PyFrame_IsIncomplete(f))
            continue;
#  if PY_VERSION_HEX >= 0x030D0000
        PyObject *code = f->f_executable;
        if (!PyCode_Check(code))
            continue;
#  else
        PyObject *code = (PyObject *)f->f_code;
#  endif
        codes[k] = Py_NewRef(code);
        offsets[k++] = _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
    }
#endif
    return k;
}
