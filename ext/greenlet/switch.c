/* Switching between greenlets by copying stack slices.
 *
 * Every greenlet of a thread runs on the thread's own C stack.  A started
 * greenlet owns the slice [stack_start, stack_stop): stack_stop is fixed when
 * it starts (an address in the frame that started it), stack_start is its
 * stack pointer at the last switch-out.  Slices of different greenlets
 * overlap; whoever runs owns the memory, and before a greenlet runs every
 * other greenlet's bytes in the part it will use are spilled to their heap
 * copies.  stack_prev links the greenlets whose bytes lie above a slice, in
 * address order, so the spill only walks the owners that are in the way.
 *
 * The register switch itself is arch/<cpu>.S; it calls switch_cb twice: once
 * on the old stack to spill and pick the new stack pointer, once on the new
 * stack to copy the target's saved bytes back (or, for a start, to run the
 * new greenlet, which never returns there).
 *
 * AddressSanitizer (make asan): the slices are copied by an uninstrumented
 * loop, and after each switch the part of the stack greenlets share is
 * unpoisoned.  The spill reads live frames redzones included, which the
 * instrumented memcpy reports as an overflow; and a frame that was live at a
 * switch leaves its redzones poisoned when other greenlets' bytes (or the
 * target's own, restored) take its place, which ASan reports on the first
 * access.  The fiber API (__sanitizer_start/finish_switch_fiber) is not
 * used: it describes a switch to another stack, while here every greenlet
 * of a thread runs on the thread's own stack, whose bounds never change;
 * what goes stale is the shadow of the bytes copied in and out.  The
 * target's frames lose their redzones until they return: fewer checks in
 * them, never a false report.
 */
#include "internal.h"
#include <stddef.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define GEVC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GEVC_ASAN 1
#endif
#endif

#ifdef GEVC_ASAN
#include <sanitizer/asan_interface.h>

/* The span of the stack greenlets of this thread have used: the lowest
   stack pointer one switched out at, the highest slice end. */
static _Thread_local char *asan_low, *asan_high;

/* byte by byte through volatile pointers, so that the compiler does not
   turn it back into a (checked) memcpy call */
static __attribute__((no_sanitize_address, noinline)) void
slice_copy(void *dst, const void *src, size_t n)
{
    volatile unsigned char *d = dst;
    const volatile unsigned char *s = src;
    while (n--)
        *d++ = *s++;
}

static void
asan_switched_out(char *sp, char *stop)
{
    if (asan_low == NULL || sp < asan_low)
        asan_low = sp;
    if (stop != MAIN_STOP && stop > asan_high)
        asan_high = stop;
}

/* Everything between the lowest switch-out and `hi` may hold the shadow
   of frames that are not there any more. */
static void
asan_switched_in(char *hi)
{
    if (asan_low != NULL && hi > asan_low)
        ASAN_UNPOISON_MEMORY_REGION(asan_low, (size_t)(hi - asan_low));
}
#else
#define slice_copy memcpy
#define asan_switched_out(sp, stop) ((void)0)
#define asan_switched_in(hi) ((void)0)
#endif

typedef void *(*gevc_switch_cb)(void *ctx, int op, void *sp);
void *gevc__switch_stack(void *ctx, gevc_switch_cb cb);

#if PY_VERSION_HEX >= 0x030D0000
/* LOAD_METHOD's lookup: exported, but declared only in the internal
   headers from 3.13 on */
PyAPI_FUNC(int) _PyObject_GetMethod(PyObject *obj, PyObject *name,
                                    PyObject **method);
#endif

#define SWITCH_RESUMED ((void *)0)
#define SWITCH_FAILED ((void *)2)

/* ------------------------------------------------------------------ */
/* stack slices */

/* Make sure g's bytes below `stop` are in its heap copy.  The copy is
   always the low part of the slice, so only the missing tail is copied. */
static int
spill(GreenletObject *g, char *stop)
{
    size_t need;
    if (stop - g->stack_start <= (ptrdiff_t)g->stack_saved)
        return 0;       /* also when g's live part lies entirely above stop */
    need = (size_t)(stop - g->stack_start);
    if (need > UINT32_MAX - 15)
        return -1;      /* no thread's stack is that big */
    if (need > g->stack_cap) {
        size_t cap = (need + 15) & ~(size_t)15;
        char *p = PyMem_Realloc(g->stack_copy, cap);
        if (p == NULL)
            return -1;
        g->stack_copy = p;
        g->stack_cap = (uint32_t)cap;
    }
    slice_copy(g->stack_copy + g->stack_saved, g->stack_start + g->stack_saved,
           need - g->stack_saved);
    g->stack_saved = (uint32_t)need;
    return 0;
}

static void __attribute__((noreturn)) bootstrap(gevc_thread *th);

static void *
switch_cb(void *ctx, int op, void *sp)
{
    gevc_thread *th = ctx;
    GreenletObject *target = th->switch_to;
    GreenletObject *from = th->switch_from;
    GreenletObject *owner;

    if (op == 0) {
        char *stop = target->stack_stop;
        asan_switched_out(sp, stop);
        if (G_ACTIVE(from)) {
            from->stack_start = sp;
            owner = from;
        }
        else {
            owner = from->stack_prev;   /* finished: its bytes are garbage */
        }
        while (owner->stack_stop < stop) {
            if (spill(owner, owner->stack_stop) < 0)
                goto fail;
            owner = owner->stack_prev;
        }
        if (owner != target && spill(owner, stop) < 0)
            goto fail;
        th->switch_failed = 0;
        /* a starting greenlet keeps running on this stack, below `stop` */
        return G_ACTIVE(target) ? target->stack_start : sp;
    fail:
        if (G_ACTIVE(from)) {
            from->stack_start = RUNNING_START;
            from->stack_saved = 0;
        }
        th->switch_failed = 1;
        return sp;
    }

    if (th->switch_failed)
        return SWITCH_FAILED;
    if (!G_ACTIVE(target)) {
        /* the starting greenlet runs from here on, below the registers
           the switch saved for the greenlet it leaves (its slice begins at
           `stop`, above them: the bytes in between were spilled) */
        asan_switched_in(sp);
        bootstrap(th);
    }
    /* we run below target->stack_start here, so the copy cannot hit us */
    if (target->stack_saved != 0) {
        slice_copy(target->stack_start, target->stack_copy,
                   target->stack_saved);
        target->stack_saved = 0;
    }
#ifdef GEVC_ASAN
    asan_switched_in(G_IS_MAIN(target) ? asan_high : target->stack_stop);
#endif
    owner = G_ACTIVE(from) ? from : from->stack_prev;
    while (owner != NULL && owner->stack_stop <= target->stack_stop)
        owner = owner->stack_prev;
    target->stack_prev = owner;
    return SWITCH_RESUMED;
}

void
gevc__read_stack(void *gp, const char *addr, void *dst, size_t n)
{
    GreenletObject *g = gp;
    const char *saved_end = g->stack_start + g->stack_saved;
    char *out = dst;
    if (addr < saved_end) {
        size_t k = (size_t)(saved_end - addr);
        if (k > n)
            k = n;
        memcpy(out, g->stack_copy + (addr - g->stack_start), k);
        out += k;
        addr += k;
        n -= k;
    }
    if (n > 0)
        slice_copy(out, addr, n);
}

/* ------------------------------------------------------------------ */
/* the two sides of a switch */

static void
resumed(gevc_thread *th)
{
    GreenletObject *me = th->switch_to;
    me->stack_start = RUNNING_START;
    gevc_pystate_restore(&me->py, th->tstate, th->carry, &th->chunks);
    assert(th->origin == NULL);
    th->origin = th->current;   /* the references move */
    th->current = me;
}

static void
save_current(gevc_thread *th)
{
    GreenletObject *cur = th->current;
    if (G_ACTIVE(cur))
        th->carry = gevc_pystate_save(&cur->py, th->tstate, &th->chunks);
    else
        th->carry = gevc_pystate_carry_only(th->tstate);
}

static void
undo_save(gevc_thread *th)
{
    GreenletObject *cur = th->current;
    if (G_ACTIVE(cur))
        gevc_pystate_restore(&cur->py, th->tstate, th->carry, &th->chunks);
}

/* *tp is a strong reference; the switch hands it to the side that runs
   next (it becomes th->current there), so it is NULL once this greenlet
   runs again.  Returns 0 then, -1 if it could not switch (*tp kept). */
static int
switch_stack(gevc_thread *th, GreenletObject **tp)
{
    void *r;
    save_current(th);
    th->switch_from = th->current;
    th->switch_to = *tp;
    *tp = NULL;
    r = gevc__switch_stack(th, switch_cb);
    if (r == SWITCH_FAILED) {
        *tp = th->switch_to;
        undo_save(th);
        PyErr_NoMemory();
        return -1;
    }
    resumed(th);
    return 0;
}

static int
call_trace(gevc_thread *th, PyObject *event, GreenletObject *origin,
           GreenletObject *target)
{
    PyObject *tf = Py_NewRef(th->tracefunc);
    PyObject *exc, *pair, *r = NULL;
#if PY_VERSION_HEX >= 0x030C0000
    exc = PyErr_GetRaisedException();
#else
    PyObject *et, *etb;
    PyErr_Fetch(&et, &exc, &etb);
#endif
    pair = PyTuple_Pack(2, (PyObject *)origin, (PyObject *)target);
    if (pair != NULL) {
        PyObject *callargs[2] = {event, pair};
        PyThreadState_EnterTracing(th->tstate);
        r = PyObject_Vectorcall(tf, callargs, 2, NULL);
        PyThreadState_LeaveTracing(th->tstate);
        Py_DECREF(pair);
    }
    Py_DECREF(tf);
    if (r == NULL) {
        /* a failing trace function is removed; its error replaces ours */
        Py_CLEAR(th->tracefunc);
#if PY_VERSION_HEX >= 0x030C0000
        Py_XDECREF(exc);
#else
        Py_XDECREF(et);
        Py_XDECREF(exc);
        Py_XDECREF(etb);
#endif
        return -1;
    }
    Py_DECREF(r);
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(et, exc, etb);
#endif
    return 0;
}

/* switch() returns () / x / (a, b) / kwargs / (args, kwargs). Steals. */
static PyObject *
shape_result(PyObject *args, PyObject *kwargs)
{
    PyObject *r;
    if (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0) {
        Py_XDECREF(kwargs);
        if (PyTuple_GET_SIZE(args) == 1) {
            r = Py_NewRef(PyTuple_GET_ITEM(args, 0));
            Py_DECREF(args);
            return r;
        }
        return args;
    }
    if (PyTuple_GET_SIZE(args) == 0) {
        Py_DECREF(args);
        return kwargs;
    }
    r = PyTuple_Pack(2, args, kwargs);
    Py_DECREF(args);
    Py_DECREF(kwargs);
    return r;
}

/* What the greenlet that just got control sees: the value passed to it, or
   NULL with the thrown exception. */
static PyObject *
switched_in(gevc_thread *th)
{
    GreenletObject *origin = th->origin;
    PyObject *args = th->args, *kwargs = th->kwargs;
    int single = th->single;
    th->origin = NULL;
    th->args = th->kwargs = NULL;
    if (th->tracefunc != NULL) {
        PyObject *ev = args ? th->st->str_switch : th->st->str_throw;
        if (call_trace(th, ev, origin, th->current) < 0) {
            Py_CLEAR(args);
            Py_CLEAR(kwargs);
        }
    }
    Py_DECREF(origin);
    if (args == NULL) {
        Py_XDECREF(kwargs);
        return NULL;
    }
    if (single)
        return args;
    return shape_result(args, kwargs);
}

/* ------------------------------------------------------------------ */
/* starting and finishing */

/* GreenletExit ends a greenlet normally: its instance is the result. */
static PyObject *
take_greenlet_exit(gevc_thread *th)
{
    PyObject *val;
    if (!PyErr_ExceptionMatches(th->st->GreenletExit))
        return NULL;
#if PY_VERSION_HEX >= 0x030C0000
    val = PyErr_GetRaisedException();
#else
    PyObject *typ, *tb;
    PyErr_Fetch(&typ, &val, &tb);
    PyErr_NormalizeException(&typ, &val, &tb);
    Py_XDECREF(typ);
    Py_XDECREF(tb);
#endif
    return val ? val : Py_NewRef(Py_None);
}

static PyObject *switch_owned(gevc_thread *th, GreenletObject **tp,
                              PyObject *args, PyObject *kwargs, int single);
static GreenletObject *own_parent(GreenletObject *g);

/* Py_CLEAR(*p) for code that may have an exception pending. */
static void
clear_keeping_error(PyObject **p)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
    Py_CLEAR(*p);
    PyErr_SetRaisedException(exc);
#else
    PyObject *typ, *val, *tb;
    PyErr_Fetch(&typ, &val, &tb);
    Py_CLEAR(*p);
    PyErr_Restore(typ, val, tb);
#endif
}

/* g's run attribute (new ref), looked up as an attribute, so that
   subclasses (a run method, __getattribute__) are obeyed; a throw into an
   unstarted greenlet also needs one.  The pending exception of a throw
   survives the lookup, unless the lookup fails.  A run method defined on
   the class is returned unbound, as the interpreter's method calls do,
   with *unboundp set: no bound-method object then stays allocated for as
   long as the greenlet runs. */
static PyObject *
lookup_run(gevc_thread *th, GreenletObject *g, int throwing, int *unboundp)
{
    PyObject *run;
    int unbound = 0;
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = throwing ? PyErr_GetRaisedException() : NULL;
#else
    PyObject *typ = NULL, *val = NULL, *tb = NULL;
    if (throwing)
        PyErr_Fetch(&typ, &val, &tb);
#endif
    if (Py_TYPE(g) != th->st->greenlet_type) {
        run = NULL;
        unbound = _PyObject_GetMethod((PyObject *)g, th->st->str_run, &run);
    }
    else if (g->run != NULL)
        run = Py_NewRef(g->run);
    else {
        run = NULL;
        PyErr_SetString(PyExc_AttributeError, "run");
    }
    *unboundp = run != NULL && unbound;
#if PY_VERSION_HEX >= 0x030C0000
    if (run == NULL)
        Py_XDECREF(exc);
    else if (throwing)
        PyErr_SetRaisedException(exc);
#else
    if (run == NULL) {
        Py_XDECREF(typ);
        Py_XDECREF(val);
        Py_XDECREF(tb);
    }
    else if (throwing)
        PyErr_Restore(typ, val, tb);
#endif
    return run;
}

/* Before g starts: look up its run, check that g may run in this thread
   (`checked`: the caller did, just before).  Returns 0 with *runp set, 1
   if g got started while its run attribute was looked up, -1 with an
   exception. */
static int
prepare_start(gevc_thread *th, GreenletObject *g, int throwing,
              int checked, PyObject **runp)
{
    int unbound;
    PyObject *run = lookup_run(th, g, throwing, &unbound);
    if (run == NULL)
        return -1;
    if (G_STARTED(g)) {
        Py_DECREF(run);
        return 1;
    }
    g->run_unbound = (char)unbound;
    /* unless the caller checked g and the lookup ran no Python code (which
       may have re-parented g), check that g may run in this thread */
    if ((!checked || Py_TYPE(g) != th->st->greenlet_type) &&
        gevc__check_thread(th, g) < 0) {
        Py_DECREF(run);
        return -1;
    }
    if (g->main != th->main)
        Py_XSETREF(g->main, (GreenletObject *)Py_NewRef(th->main));
    *runp = run;
    return 0;
}

/* run(self, *args, **kwargs), run an unbound method.  Out of line, so
   that its locals do not grow the frame every greenlet keeps on its
   stack while it runs. */
static __attribute__((noinline)) PyObject *
call_unbound(PyObject *run, GreenletObject *self, PyObject *args,
             PyObject *kwargs, int single)
{
    PyObject *stack[2] = {(PyObject *)self, args}, *all, *result;
    Py_ssize_t n;
    if (single)
        return PyObject_Vectorcall(run, stack, 2, NULL);
    n = PyTuple_GET_SIZE(args);
    if (n == 0)
        return PyObject_VectorcallDict(run, stack, 1, kwargs);
    /* a first switch with several arguments into a subclass: rare */
    all = PyTuple_New(n + 1);
    if (all == NULL)
        return NULL;
    PyTuple_SET_ITEM(all, 0, Py_NewRef((PyObject *)self));
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(all, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    result = PyObject_Call(run, all, kwargs);
    Py_DECREF(all);
    return result;
}

/* A C method without arguments (gevent_c's Greenlet.run) called with none
   is called directly, as the interpreter's specialized method calls do:
   the descriptor's own call path would add its C frames to the stack
   every suspended greenlet keeps. */
static int
is_noargs_cmethod(PyObject *run, PyObject *self, PyObject *args, PyObject *kwargs,
                  int single)
{
    /* the descriptor's own check: a class may hold another type's method
       (run = list.clear), which then raises TypeError on the general path */
    return Py_IS_TYPE(run, &PyMethodDescr_Type) && !single &&
           PyObject_TypeCheck(self, PyDescr_TYPE(run)) &&
           PyTuple_GET_SIZE(args) == 0 &&
           (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0) &&
           (((PyMethodDescrObject *)run)->d_method->ml_flags &
            ~METH_COEXIST) == METH_NOARGS;
}

/* run(*args, **kwargs), or run(args) if single; an unbound run method
   (lookup_run) gets self first.  While it runs, self holds a reference to
   itself, as the bound method it replaces would: a suspended greenlet is
   kept alive by its own run, as greenlet's are. */
static PyObject *
call_run(GreenletObject *self, PyObject *run, PyObject *args,
         PyObject *kwargs, int single)
{
    PyObject *result;
    if (!self->run_unbound) {
        if (single)
            return PyObject_CallOneArg(run, args);
        if (kwargs == NULL && PyVectorcall_Function(run) != NULL)
            return PyObject_Vectorcall(run, &PyTuple_GET_ITEM(args, 0),
                                       PyTuple_GET_SIZE(args), NULL);
        return PyObject_Call(run, args, kwargs);
    }
    Py_INCREF(self);
    if (!is_noargs_cmethod(run, (PyObject *)self, args, kwargs, single))
        result = call_unbound(run, self, args, kwargs, single);
    else if (Py_EnterRecursiveCall(" while calling a Python object"))
        result = NULL;
    else {
        PyCFunction meth = ((PyMethodDescrObject *)run)->d_method->ml_meth;
        result = meth((PyObject *)self, NULL);
        Py_LeaveRecursiveCall();
        if (result == NULL && !PyErr_Occurred())
            PyErr_Format(PyExc_SystemError, "%R returned NULL without setting an exception",
                         run);
    }
    Py_DECREF(self);
    return result;
}

/* Run self (th->current's successor, whose reference th->current takes)
   from its start to its end on top of `cframe`; args NULL throws the
   pending exception into it.  Steals run, args and kwargs.  Returns the
   result, or NULL with the exception that ended it. */
static PyObject *
run_started(gevc_thread *th, GreenletObject *self, PyObject *run,
            PyObject *args, PyObject *kwargs, int single,
            gevc_cframe_storage *cframe)
{
    PyObject *result = NULL;
    GreenletObject *origin;

    gevc_pystate_start(&self->py, th->tstate, cframe, th->carry, &th->chunks,
                       self->py.context);
    Py_CLEAR(self->py.context);
    self->stack_start = RUNNING_START;
    /* both references move; origin stays local because the trace function
       may switch, and the other side of that switch sets th->origin */
    origin = th->current;
    th->current = self;
    /* The run attribute is released only now that we run: its __del__ may
       switch away, and must find this greenlet started, not half-way. */
    if (self->run != NULL) {
        if (args != NULL)
            Py_CLEAR(self->run);
        else
            clear_keeping_error(&self->run);
    }
    if (th->tracefunc != NULL) {
        PyObject *ev = args ? th->st->str_switch : th->st->str_throw;
        if (call_trace(th, ev, origin, self) < 0) {
            Py_CLEAR(args);
            Py_CLEAR(kwargs);
        }
    }
    Py_DECREF(origin);

    /* the references move to the greenlet for the call */
    self->running[0] = run;
    self->running[1] = args;
    self->running[2] = kwargs;
    if (args != NULL)
        result = call_run(self, run, args, kwargs, single);
    for (int i = 0; i < 3; i++)
        Py_CLEAR(self->running[i]);
    if (result == NULL)
        result = take_greenlet_exit(th);

    /* Python code may still run in here (finalizers) and switch away and
       back; after it, this greenlet is dead and must not run any more. */
    gevc_pystate_finish(&self->py, th->tstate, &th->chunks);
    self->stack_start = NULL;
    if (self->stack_copy != NULL) {     /* it was ever suspended */
        PyMem_Free(self->stack_copy);
        self->stack_copy = NULL;
        self->stack_saved = self->stack_cap = 0;
    }
    return result;
}

/* Hand the result of the finished greenlet `self` (or the pending
   exception) to the first parent that takes it; a parent we cannot switch
   to passes it further up.  A successful switch never comes back here.  A
   parent that never started is started in place instead, on the stack
   slice `self` no longer needs: a chain of unstarted parents then runs in
   constant C stack, where starting each one below the frames of its
   finished child would overflow the stack.  Returns that parent (a strong
   reference, which th->current takes when it runs) with *runp and *argsp
   set for run_started. */
static GreenletObject *
hand_off(gevc_thread *th, GreenletObject *self, PyObject *result,
         PyObject **runp, PyObject **argsp)
{
    GreenletObject *p = (GreenletObject *)Py_XNewRef(self->parent);
    while (p != NULL) {
        PyObject *r;
        while (G_DEAD(p) && p->parent != NULL)
            p = own_parent(p);
        if (!G_STARTED(p)) {
            int rc = prepare_start(th, p, result == NULL, 0, runp);
            if (rc == 0) {
                th->carry = gevc_pystate_carry_only(th->tstate);
                p->stack_stop = self->stack_stop;
                p->stack_start = NULL;
                p->stack_prev = self->stack_prev;
                *argsp = result;
                return p;
            }
            if (rc < 0) {
                Py_CLEAR(result);
                Py_SETREF(p, (GreenletObject *)Py_XNewRef(p->parent));
                continue;
            }
        }
        r = switch_owned(th, &p, result, NULL, 1);
        Py_XDECREF(r);   /* only reached if that switch failed */
        result = NULL;
        Py_SETREF(p, (GreenletObject *)Py_XNewRef(p->parent));
    }
    /* The parents can be re-parented to another thread while we ran; the
       thread's main greenlet always takes the error rather than an abort. */
    if (result != NULL) {
        Py_DECREF(result);
        PyErr_SetString(th->st->error, "a finished greenlet had no parent");
    }
    p = (GreenletObject *)Py_NewRef(th->main);
    Py_XDECREF(switch_owned(th, &p, NULL, NULL, 1));
    PyErr_Print();
    Py_FatalError("gevent_c: a finished greenlet has no parent to return to");
}

/* The first thing a new greenlet runs (from switch_cb, on the stack just
   below the switch that started it): run it, hand its result on, and run
   any unstarted parent that takes the result in its place. */
static void __attribute__((noreturn))
bootstrap(gevc_thread *th)
{
    gevc_cframe_storage cframe;
    GreenletObject *self = th->switch_to;
    PyObject *run = th->start_run;
    PyObject *args = th->args, *kwargs = th->kwargs;
    int single = th->single;
    th->start_run = NULL;
    th->args = th->kwargs = NULL;
    for (;;) {
        PyObject *result = run_started(th, self, run, args, kwargs, single,
                                       &cframe);
        self = hand_off(th, self, result, &run, &args);
        kwargs = NULL;
        single = 1;
    }
}

/* *tp (strong) is the greenlet to start; the start hands the reference to
   it, as switch_stack does.  Returns 0 when the caller runs again, 1 if the
   greenlet got started while its run attribute was looked up, -1 on error;
   *tp is kept unless 0 is returned. */
static __attribute__((noinline)) int
start_greenlet(gevc_thread *th, GreenletObject **tp, PyObject *args,
               PyObject *kwargs, int single, int checked)
{
    /* The new greenlet's slice ends here, in the frame that starts it, as
       close as can be to where it starts running: the bytes of this frame
       below `mark` are the starting greenlet's and get spilled, but the
       less the new greenlet's slice holds that is not its own, the less
       each of its switches copies. */
    char mark;
    GreenletObject *g = *tp;
    PyObject *run = NULL;
    void *r;
    int rc = prepare_start(th, g, args == NULL, checked, &run);

    /* started while its run attribute was looked up: maybe by another
       thread, whose greenlet it now is (checked here, off the hot path) */
    if (rc > 0 && gevc__check_thread(th, g) == 0)
        return 1;
    if (rc != 0) {
        Py_XDECREF(args);
        Py_XDECREF(kwargs);
        return -1;
    }
    th->args = args;
    th->kwargs = kwargs;
    th->single = single;
    th->start_run = run;
    save_current(th);
    g->stack_stop = &mark;
    g->stack_start = NULL;
    g->stack_prev = G_ACTIVE(th->current) ? th->current
                                          : th->current->stack_prev;
    th->switch_from = th->current;
    th->switch_to = g;
    *tp = NULL;
    r = gevc__switch_stack(th, switch_cb);
    if (r == SWITCH_FAILED) {
        *tp = g;
        undo_save(th);
        g->stack_stop = NULL;
        Py_DECREF(run);
        th->start_run = NULL;
        th->args = th->kwargs = NULL;
        Py_XDECREF(args);
        Py_XDECREF(kwargs);
        PyErr_NoMemory();
        return -1;
    }
    resumed(th);
    return 0;
}

/* An unstarted greenlet runs in the thread of its first started ancestor
   (or of the root of its chain): its parents may have been moved to
   another thread after it was made. */
static GreenletObject *
lineage_main(gevc_thread *th, GreenletObject *g)
{
    /* the walk is needed only once set_parent moved a lineage between
       threads; without it, starting a chain of unstarted greenlets one by
       one would be quadratic */
    if (th->st->lineages_moved == 0 && !G_STARTED(g) && g->main != NULL)
        return g->main;
    while (!G_STARTED(g) && g->parent != NULL)
        g = g->parent;
    return G_MAIN_OF(g);
}

int
gevc__check_thread(gevc_thread *th, GreenletObject *target)
{
    GreenletObject *m = lineage_main(th, target);
    if (m == th->main)
        return 0;
    if (m == NULL)
        PyErr_SetString(th->st->error,
                        "cannot switch to a garbage collected greenlet");
    else if (m->thread == NULL)
        PyErr_SetString(th->st->error,
                        "cannot switch to a different thread (which happens "
                        "to have exited)");
    else
        PyErr_Format(th->st->error,
                     "Cannot switch to a different thread\n\tCurrent: %R\n"
                     "\tExpected: %R", (PyObject *)th->current, (PyObject *)m);
    return -1;
}

static GreenletObject *
own_parent(GreenletObject *g)
{
    GreenletObject *p = (GreenletObject *)Py_NewRef(g->parent);
    Py_DECREF(g);
    return p;
}

/* gevc__switch with *tp a strong reference to the target, which a
   successful switch consumes (*tp is NULL then) and a failed one leaves to
   the caller (*tp may then be a parent of the original target).  Python
   code runs before the switch (run lookups, reprs, finalizers of dead
   greenlets), so every greenlet used here is held. */
static PyObject *
switch_owned(gevc_thread *th, GreenletObject **tp, PyObject *args,
             PyObject *kwargs, int single)
{
    GreenletObject *checked = *tp;
    /* a suspended greenlet of this thread (the usual case) passes */
    int suspended_here = G_ACTIVE(checked) && checked != th->current &&
                         G_MAIN_OF(checked) == th->main;
    int rc;

    if (!suspended_here && gevc__check_thread(th, checked) < 0) {
        Py_XDECREF(args);
        Py_XDECREF(kwargs);
        return NULL;
    }
    for (;;) {
        GreenletObject *target;
        while (G_DEAD(*tp) && (*tp)->parent != NULL)
            *tp = own_parent(*tp);
        target = *tp;
        if (G_DEAD(target)) {
            /* only after the GC cleared it: no parent chain left */
            PyErr_SetString(th->st->error,
                            "cannot switch to a garbage collected greenlet");
            Py_XDECREF(args);
            Py_XDECREF(kwargs);
            return NULL;
        }
        if (target == th->current) {
            th->args = args;
            th->kwargs = kwargs;
            th->single = single;
            th->origin = target;
            *tp = NULL;
            break;
        }
        if (G_STARTED(target)) {
            th->args = args;
            th->kwargs = kwargs;
            th->single = single;
            if (switch_stack(th, tp) < 0) {
                th->args = th->kwargs = NULL;
                Py_XDECREF(args);
                Py_XDECREF(kwargs);
                return NULL;
            }
            break;
        }
        rc = start_greenlet(th, tp, args, kwargs, single, *tp == checked);
        if (rc < 0)
            return NULL;
        if (rc == 0)
            break;
    }
    return switched_in(th);
}

/* Switch to target with args/kwargs (stolen); args NULL throws the pending
   exception; `single` means args is one value, not a tuple (the common
   g.switch(x), passed without packing it).  Returns what this greenlet is
   given when it runs again. */
PyObject *
gevc__switch(gevc_thread *th, GreenletObject *target, PyObject *args,
             PyObject *kwargs, int single)
{
    GreenletObject *t = (GreenletObject *)Py_NewRef(target);
    PyObject *r = switch_owned(th, &t, args, kwargs, single);
    Py_XDECREF(t);
    return r;
}

static int
make_exception(gevc_thread *th, PyObject *typ, PyObject *val, PyObject *tb)
{
    PyObject *inst = NULL;
    if (tb == Py_None)
        tb = NULL;
    if (tb != NULL && !PyTraceBack_Check(tb)) {
        PyErr_SetString(PyExc_TypeError,
                        "throw() third argument must be a traceback object");
        return -1;
    }
    if (PyExceptionClass_Check(typ)) {
        if (val != NULL && val != Py_None && PyObject_TypeCheck(val, (PyTypeObject *)typ))
            inst = Py_NewRef(val);
        else if (val == NULL || val == Py_None)
            inst = PyObject_CallNoArgs(typ);
        else if (PyTuple_Check(val))
            inst = PyObject_Call(typ, val, NULL);
        else
            inst = PyObject_CallOneArg(typ, val);
        if (inst == NULL)
            return -1;
        if (!PyExceptionInstance_Check(inst)) {
            PyErr_Format(PyExc_TypeError,
                         "calling %R should have returned an instance of "
                         "BaseException, not %s", typ, Py_TYPE(inst)->tp_name);
            Py_DECREF(inst);
            return -1;
        }
    }
    else if (PyExceptionInstance_Check(typ)) {
        if (val != NULL && val != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "instance exception may not have a separate value");
            return -1;
        }
        inst = Py_NewRef(typ);
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "exceptions must be classes, or instances, not %s",
                     Py_TYPE(typ)->tp_name);
        return -1;
    }
    if (tb != NULL && PyException_SetTraceback(inst, tb) < 0) {
        Py_DECREF(inst);
        return -1;
    }
    tb = PyException_GetTraceback(inst);
    PyErr_Restore(Py_NewRef(Py_TYPE(inst)), inst, tb);
    return 0;
}

PyObject *
gevc__throw(gevc_thread *th, GreenletObject *target, PyObject *typ,
            PyObject *val, PyObject *tb)
{
    PyObject *value = NULL;
    if (make_exception(th, typ, val, tb) < 0)
        return NULL;
    if (G_DEAD(target)) {
        /* a dead greenlet cannot catch it: GreenletExit is just a value */
        value = take_greenlet_exit(th);
    }
    return gevc__switch(th, target, value, NULL, 1);
}
