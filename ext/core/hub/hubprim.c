/* The hub's blocking primitives in C: Hub.switch, Hub.wait(watcher) and
 * sleep(0).  gevent_c/hub.py delegates to these; they block only through
 * the Waiter and the hub switch of waiter.c. */
#include "hub.h"
#include <frameobject.h>   /* PyFrame_GetBack on 3.10 */

#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>   /* PyFrame_GetBack; Python.h has it from 3.11 */
#endif

static gevc_hub_state *
mstate(PyObject *mod)
{
    return (gevc_hub_state *)PyModule_GetState(mod);
}

PyDoc_STRVAR(hub_run_doc, "_hub_run(hub)\n\n"
"The hub greenlet's run: hub._run_loop(), called again whenever a\n"
"MemoryError escapes it before its own handling could begin (calling it\n"
"allocates, on 3.10 its frame): the error is thrown into the hub's parent\n"
"as the loop throws its own, and the hub lives on.");
static PyObject *
hub_run(PyObject *mod, PyObject *hub)
{
    gevc_hub_state *st = mstate(mod);
    for (;;) {
        PyObject *r = PyObject_CallMethod(hub, "_run_loop", NULL), *exc, *parent, *destroyed;
        int is_destroyed;
        if (r != NULL || !PyErr_ExceptionMatches(PyExc_MemoryError))
            return r;
        exc = gevc__exc_take();
        parent = PyObject_GetAttrString(hub, "parent");
        r = parent != NULL ? PyObject_CallMethodOneArg(parent, st->str_throw, exc) : NULL;
        Py_XDECREF(parent);
        Py_DECREF(exc);
        if (r != NULL) {
            Py_DECREF(r);          /* the parent switched back: run again */
            continue;
        }
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            PyErr_Clear();         /* the parent was not resumed: run again */
            continue;
        }
        destroyed = gevc__exception(st, "HubDestroyed");
        is_destroyed = destroyed != NULL && PyErr_ExceptionMatches(destroyed);
        Py_XDECREF(destroyed);
        if (is_destroyed) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return NULL;
    }
}

PyDoc_STRVAR(hub_switch_doc, "hub_switch(hub)\n\n"
"Hub.switch: run the current greenlet's switch_out() hook, if any, then\n"
"switch to hub.  BlockingSwitchOutError when called from the hub itself.");
static PyObject *
hub_switch(PyObject *mod, PyObject *hub)
{
    return gevc_hub_switch(mstate(mod), hub);
}

static PyObject *
call_method(PyObject *obj, PyObject *name, PyObject *const *args, size_t nargs)
{
    PyObject *stack[3] = {obj, nargs > 0 ? args[0] : NULL, nargs > 1 ? args[1] : NULL};
    return PyObject_VectorcallMethod(name, stack, (nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                     NULL);
}

static PyObject *
invalid_switch(gevc_hub_state *st, PyObject *result, PyObject *expected,
               PyObject *hub, PyObject *watcher)
{
    PyObject *tp = gevc__exception(st, "InvalidSwitchError"), *cur;
    if (tp == NULL)
        return NULL;
    cur = st->gapi->getcurrent_borrowed();
    if (cur != NULL)
        PyErr_Format(tp, "Invalid switch into %R: got %R (expected %R; waiting on %R with %R)",
                     cur, result, expected, hub, watcher);
    Py_DECREF(tp);
    return NULL;
}

PyDoc_STRVAR(hub_wait_doc, "hub_wait(hub, watcher)\n\n"
"Hub.wait: start watcher with a Waiter's switch as callback and block until\n"
"it fires once; the watcher is stopped however the wait ends.");
static PyObject *
hub_wait(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_hub_state *st = mstate(mod);
    gevc_waiter *waiter;
    PyObject *hub, *watcher, *sw = NULL, *res = NULL, *stopped, *start_args[2];

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "hub_wait(hub, watcher) takes 2 arguments");
        return NULL;
    }
    hub = args[0];
    watcher = args[1];
    waiter = gevc_waiter_new(st, hub);
    if (waiter == NULL)
        return NULL;
    sw = gevc_waiter_bound_switch(waiter);
    if (sw == NULL)
        goto done;
    start_args[0] = sw;
    start_args[1] = (PyObject *)waiter;
    res = call_method(watcher, st->str_start, start_args, 2);
    if (res == NULL)
        goto done;
    Py_DECREF(res);
    res = gevc_waiter_get(waiter);
    if (res != NULL && res != (PyObject *)waiter) {
        PyObject *got = res;
        res = invalid_switch(st, got, (PyObject *)waiter, hub, watcher);
        Py_DECREF(got);
    }
    /* stop() whatever happened, keeping the wait's own error */
    {
        PyObject *exc = res == NULL ? gevc__exc_take() : NULL;
        stopped = call_method(watcher, st->str_stop, NULL, 0);
        if (stopped == NULL) {
            if (exc != NULL) {
                PyErr_WriteUnraisable(watcher);
                gevc__exc_raise(exc);
            }
            Py_CLEAR(res);
        }
        else {
            Py_DECREF(stopped);
            if (exc != NULL)
                gevc__exc_raise(exc);
        }
    }
    if (res != NULL)
        Py_SETREF(res, Py_NewRef(Py_None));
done:
    Py_XDECREF(sw);
    Py_DECREF(waiter);
    return res;
}

PyDoc_STRVAR(sleep0_doc, "sleep0()\n\n"
"sleep(0): let every other ready greenlet run once, then return.  Uses a\n"
"loop callback, no timer.");
static PyObject *
sleep0(PyObject *mod, PyObject *unused)
{
    return gevc_sleep0(mstate(mod));
}

PyObject *
gevc_sleep0(gevc_hub_state *st)
{
    PyObject *hub = gevc_hub_get(st), *loop, *sw = NULL, *cb = NULL, *res = NULL;
    gevc_waiter *waiter;
    if (hub == NULL)
        return NULL;
    Py_INCREF(hub);
    loop = gevc_hub_loop(st, hub);
    if (loop == NULL) {
        Py_DECREF(hub);
        return NULL;
    }
    /* no pooled waiter: the loop's callback holds this one while it wakes
     * us, so it could not go back to the pool */
    waiter = gevc_waiter_new(st, hub);
    if (waiter == NULL)
        goto done;
    if (PyObject_TypeCheck(loop, st->loop.loop_type)) {
        /* Waiter.switch's descriptor called as switch(waiter, None): no
         * bound-method object per sleep */
        PyObject *descr = _PyType_Lookup(st->waiter_type, st->str_switch);
        PyObject *cargs[2] = {(PyObject *)waiter, Py_None};
        if (descr == NULL) {
            PyErr_SetString(PyExc_SystemError, "Waiter.switch is missing");
            goto done;
        }
        cb = gevc_loop_run_callback((gevc_loop *)loop, descr, cargs, 2);
    }
    else {
        /* a stand-in loop (tests wrap the real one) */
        PyObject *stack[3] = {loop, NULL, Py_None};
        sw = gevc_waiter_bound_switch(waiter);
        if (sw == NULL)
            goto done;
        stack[1] = sw;
        cb = PyObject_VectorcallMethod(st->str_run_callback, stack,
                                       3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
    if (cb == NULL)
        goto done;
    res = gevc_waiter_get(waiter);
    if (res != NULL)
        Py_SETREF(res, Py_NewRef(Py_None));
done:
    Py_XDECREF(cb);
    Py_XDECREF(sw);
    Py_XDECREF((PyObject *)waiter);
    Py_DECREF(loop);
    Py_DECREF(hub);
    return res;
}

static int
is_zero_or_less(PyObject *seconds)
{
    if (PyLong_CheckExact(seconds))
        return _PyLong_Sign(seconds) <= 0;
    if (PyFloat_CheckExact(seconds))
        return PyFloat_AS_DOUBLE(seconds) <= 0.0;
    return 0;
}

static int
is_positive_number(PyObject *seconds)
{
    if (PyLong_CheckExact(seconds))
        return _PyLong_Sign(seconds) > 0;
    if (PyFloat_CheckExact(seconds))
        return PyFloat_AS_DOUBLE(seconds) > 0.0;
    return 0;
}

/* Stop a sleep's timer and drop our reference to it. */
static void
stop_sleep_timer(PyObject *timer)
{
    Py_INCREF(timer);              /* stopping drops the timer's own ref */
    gevc_watcher_stop((gevc_watcher *)timer);
    Py_DECREF(timer);
    Py_DECREF(timer);
}

/* The timer of a sleep on our loop, started.  Its callback is the
 * greenlet type's switch descriptor, called by the hub as
 * switch(glet, timer): the sleeper gets the timer back, a value no stray
 * switch can pass.  So a sleep needs no Waiter and no bound method.  Out of
 * line: its locals would otherwise stay in the frame every sleeping
 * greenlet keeps on its saved stack. */
static __attribute__((noinline)) PyObject *
start_sleep_timer(gevc_hub_state *st, PyObject *glet, gevc_loop *loop,
                  PyObject *seconds, PyObject *ref)
{
    PyObject *descr = _PyType_Lookup(st->gapi->type, st->str_switch);
    PyObject *zero, *targs[4], *timer;
    if (descr == NULL) {
        PyErr_SetString(PyExc_SystemError, "greenlet.switch is missing");
        return NULL;
    }
    zero = PyFloat_FromDouble(0.0);
    if (zero == NULL)
        return NULL;
    targs[0] = seconds;
    targs[1] = zero;
    targs[2] = ref;
    targs[3] = st->minus_one;      /* the timer's default priority */
    timer = gevc_watcher_new_from_loop(st->loop.timer_type, &gevc_timer_kind, loop,
                                       targs, 4, NULL);
    Py_DECREF(zero);
    if (timer == NULL)
        return NULL;
    {
        PyObject *cargs[2] = {glet, timer};
        if (gevc_loop_check(loop) < 0 ||
            gevc_watcher_set_callback((gevc_watcher *)timer, descr, cargs, 2, NULL) < 0) {
            stop_sleep_timer(timer);
            return NULL;
        }
    }
    ev_now_update(loop->ev);       /* as gevent: the sleep counts from now */
    gevc_watcher_activate((gevc_watcher *)timer);
    return timer;
}

/* sleep(seconds > 0) on our loop: a timer and a switch to the hub, and no
 * Python frame (whose C stack a sleeping greenlet would keep saved).
 * Stopping the timer, however the sleep ends, drops its arguments (the
 * timer itself among them). */
static PyObject *
timed_sleep(gevc_hub_state *st, PyObject *hub, gevc_loop *loop, PyObject *seconds,
            PyObject *ref)
{
    PyObject *glet = st->gapi->getcurrent_borrowed(), *timer, *res;
    if (glet == NULL)
        return NULL;
    timer = start_sleep_timer(st, glet, loop, seconds, ref);
    if (timer == NULL)
        return NULL;
    res = gevc_hub_switch(st, hub);
    if (res != NULL && res != timer) {
        PyObject *got = res;
        res = invalid_switch(st, got, timer, hub, timer);
        Py_DECREF(got);
    }
    if (res != NULL)
        Py_SETREF(res, Py_NewRef(Py_None));
    stop_sleep_timer(timer);
    return res;
}

PyDoc_STRVAR(sleep_doc, "sleep(seconds=0, ref=True)\n\n"
"Block the current greenlet for seconds (0 or less: yield once to the\n"
"others, with no timer).  Other values go to the Python implementation\n"
"registered with _set_sleep_fallback.");
static PyObject *
hub_sleep(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    gevc_hub_state *st = mstate(mod);
    if (nargs == 0 && kwnames == NULL)
        return sleep0(mod, NULL);
    if (nargs >= 1 && nargs <= 2 && kwnames == NULL && is_zero_or_less(args[0]))
        return sleep0(mod, NULL);
    if (nargs >= 1 && nargs <= 2 && kwnames == NULL && is_positive_number(args[0])) {
        /* ref first: its __bool__ may run code that replaces the hub */
        int ref = nargs > 1 ? PyObject_IsTrue(args[1]) : 1;
        PyObject *hub, *loop, *res;
        if (ref < 0 || (hub = gevc_hub_get(st)) == NULL)
            return NULL;
        Py_INCREF(hub);
        loop = gevc_hub_loop(st, hub);
        if (loop == NULL) {
            Py_DECREF(hub);
            return NULL;
        }
        if (Py_IS_TYPE(loop, st->loop.loop_type)) {
            res = timed_sleep(st, hub, (gevc_loop *)loop, args[0], ref ? Py_True : Py_False);
            Py_DECREF(loop);
            Py_DECREF(hub);
            return res;
        }
        Py_DECREF(loop);
        Py_DECREF(hub);
    }
    if (st->py_sleep == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "sleep: no fallback registered");
        return NULL;
    }
    return PyObject_Vectorcall(st->py_sleep, args, (size_t)nargs, kwnames);
}

PyDoc_STRVAR(set_sleep_fallback_doc, "_set_sleep_fallback(func)\n\n"
"The Python sleep() that sleep() calls for positive or unusual arguments.");
static PyObject *
set_sleep_fallback(PyObject *mod, PyObject *func)
{
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "Expected callable, not %R", func);
        return NULL;
    }
    Py_XSETREF(mstate(mod)->py_sleep, Py_NewRef(func));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(spawn_stack_doc, "_spawn_stack(limit)\n\n"
"The stack that is creating a greenlet, for Greenlet.spawning_stack: a flat\n"
"tuple (code, lasti, code, lasti, ...) of at most limit frames, newest\n"
"first, starting at the caller of the Python function that calls this.\n"
"lasti is the byte offset of the frame's instruction (code.co_lines() maps\n"
"it to a line, later, when the stack is shown).  While the stack is the same\n"
"as at the previous call (greenlets spawned in a loop), the same tuple is\n"
"returned again.");
/* Frames of the stack at one spawn: their code objects (new references)
 * and instruction offsets, newest first. */
#define SAMPLE_INLINE 16

typedef struct {
    Py_ssize_t n;
    PyCodeObject **code;           /* inline_code or a PyMem block */
    int *lasti;
    PyCodeObject *inline_code[SAMPLE_INLINE];
    int inline_lasti[SAMPLE_INLINE];
} stack_sample;

static int
sample_init(stack_sample *s, Py_ssize_t limit)
{
    s->n = 0;
    s->code = s->inline_code;
    s->lasti = s->inline_lasti;
    if (limit <= SAMPLE_INLINE)
        return 0;
    s->code = PyMem_New(PyCodeObject *, limit);
    s->lasti = PyMem_New(int, limit);
    if (s->code == NULL || s->lasti == NULL) {
        PyMem_Free(s->code);
        PyMem_Free(s->lasti);
        s->code = NULL;
        s->lasti = NULL;
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
sample_release(stack_sample *s)
{
    for (Py_ssize_t i = 0; i < s->n; i++)
        Py_DECREF(s->code[i]);
    s->n = 0;
    if (s->code != s->inline_code) {
        PyMem_Free(s->code);
        PyMem_Free(s->lasti);
    }
}

/* Does the flat (code, lasti, ...) tuple t hold exactly sample s? */
static int
sample_matches(const stack_sample *s, PyObject *t)
{
    if (t == NULL || PyTuple_GET_SIZE(t) != 2 * s->n)
        return 0;
    for (Py_ssize_t i = 0; i < s->n; i++) {
        PyObject *lasti = PyTuple_GET_ITEM(t, 2 * i + 1);
        if (PyTuple_GET_ITEM(t, 2 * i) != (PyObject *)s->code[i] ||
            PyLong_AsLong(lasti) != s->lasti[i])
            return 0;
    }
    return 1;
}

PyObject *
gevc__spawn_stack(gevc_hub_state *st, Py_ssize_t limit, int skip)
{
    stack_sample s;
    PyFrameObject *frame, *back;
    PyObject *out;

    if (limit < 0)
        limit = 0;
    if (sample_init(&s, limit) < 0)
        return NULL;
    frame = PyEval_GetFrame();     /* borrowed */
    Py_XINCREF(frame);
    while (frame != NULL && skip-- > 0) {
        back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
    while (frame != NULL && s.n < limit) {
        s.code[s.n] = PyFrame_GetCode(frame);
#if PY_VERSION_HEX >= 0x030B0000
        s.lasti[s.n] = PyFrame_GetLasti(frame);
#else
        s.lasti[s.n] = frame->f_lasti * (int)sizeof(_Py_CODEUNIT);
#endif
        s.n++;
        back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
    Py_XDECREF(frame);
    /* PyFrame_GetBack() also returns NULL when it cannot make the frame
       object (no memory): that is an error, not the end of the stack */
    if (PyErr_Occurred()) {
        sample_release(&s);
        return NULL;
    }
    /* greenlets spawned in a loop share one spawner stack: keep the last
       one and hand it out again while it is the same */
    if (sample_matches(&s, st->spawn_stack_last)) {
        sample_release(&s);
        return Py_NewRef(st->spawn_stack_last);
    }
    out = PyTuple_New(2 * s.n);
    for (Py_ssize_t i = 0; out != NULL && i < s.n; i++) {
        PyObject *lasti = PyLong_FromLong(s.lasti[i]);
        if (lasti == NULL)
            Py_CLEAR(out);
        else {
            PyTuple_SET_ITEM(out, 2 * i, Py_NewRef((PyObject *)s.code[i]));
            PyTuple_SET_ITEM(out, 2 * i + 1, lasti);
        }
    }
    sample_release(&s);
    if (out != NULL)
        Py_XSETREF(st->spawn_stack_last, Py_NewRef(out));
    return out;
}

static PyObject *
spawn_stack(PyObject *mod, PyObject *arg)
{
    Py_ssize_t limit = PyLong_AsSsize_t(arg);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    /* PyEval_GetFrame() is the Python caller (Greenlet.__init__): skip it */
    return gevc__spawn_stack(mstate(mod), limit, 1);
}

PyMethodDef gevc_hub_methods[] = {
    {"_spawn_stack", spawn_stack, METH_O, spawn_stack_doc},
    {"sleep", (PyCFunction)(void (*)(void))hub_sleep, METH_FASTCALL | METH_KEYWORDS, sleep_doc},
    {"_set_sleep_fallback", set_sleep_fallback, METH_O, set_sleep_fallback_doc},
    {"hub_switch", hub_switch, METH_O, hub_switch_doc},
    {"_hub_run", hub_run, METH_O, hub_run_doc},
    {"hub_wait", (PyCFunction)(void (*)(void))hub_wait, METH_FASTCALL, hub_wait_doc},
    {"sleep0", sleep0, METH_NOARGS, sleep0_doc},
    {NULL, NULL, 0, NULL},
};
