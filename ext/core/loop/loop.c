/* The `loop` type: one libev loop, the GIL hand-off around its backend
 * poll, signal checks and the watcher factories.  Error routing lives in
 * errors.c, the signal wake-up pipe in wakeup.c. */
#include "loop.h"

#include <string.h>

/* ---- GIL hand-off: dropped only while the backend blocks ------------- */

static void
loop_release(struct ev_loop *ev) EV_NOEXCEPT
{
    gevc_loop *self = ev_userdata(ev);
    if (self == NULL)
        return;
    /* libev polls with a zero timeout while an idle watcher is active or
     * our 0-second timer is due: no point in handing the GIL around */
    if (self->nidle > 0 || (self->cb_head != NULL && ev_is_active(&self->timer0)))
        return;
    self->polling = 1;  /* set and cleared with the GIL held */
    self->tstate = PyEval_SaveThread();
}

static void
loop_acquire(struct ev_loop *ev) EV_NOEXCEPT
{
    gevc_loop *self = ev_userdata(ev);
    if (self == NULL)
        return;
    if (self->tstate != NULL) {
        PyEval_RestoreThread(self->tstate);
        self->tstate = NULL;
        self->polling = 0;
    }
    /* No Python code here: this runs inside libev's backend poll, where a
     * signal handler re-entering run() trips libev's recursion check
     * (abort) and one switching greenlets would leave the backend half
     * done.  The handlers run from loop_invoke_pending, right after. */
}

static void
loop_invoke_pending(struct ev_loop *ev)
{
    gevc_loop *self = ev_userdata(ev);
    if (self != NULL && self->signal_exc != NULL) {
        PyObject *exc = self->signal_exc;
        self->signal_exc = NULL;
        gevc__exc_raise(exc);
        gevc_loop_handle_error(self, NULL);
    }
    /* CPython's own handler only sets a flag; the poll returning (EINTR)
     * is our chance to run it, so Ctrl-C reaches run() without waiting for
     * the next timer. */
    if (self != NULL && PyErr_CheckSignals() < 0)
        gevc_loop_handle_error(self, NULL);
    ev_invoke_pending(ev);
    if (self == NULL)
        return;
    gevc_loop_flush_timers(self);
    /* A watcher run after this iteration's drain (one fed by closing_fd or
     * feed(), or any watcher of the prepare phase) may have queued
     * callbacks, or fed an event after its priority's turn: the poll must
     * not block on either. */
    if ((self->cb_head != NULL || ev_pending_count(ev) > 0) && !ev_is_active(&self->timer0))
        ev_timer_start(ev, &self->timer0);
}

static void
prepare_cb(struct ev_loop *ev, ev_prepare *w, int revents)
{
    gevc__callbacks_drain(gevc_container_of(w, gevc_loop, prepare));
}

static void
noop_timer_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
}

static void
threadsafe_cb(struct ev_loop *ev, ev_async *w, int revents)
{
    /* destroy() from another thread: an ev_break made there while the
     * backend polled may be lost (libev built with assertions resets the
     * break flag after the poll), so break here, in the loop's thread */
    if (gevc_container_of(w, gevc_loop, threadsafe)->destroy_pending == 1)
        ev_break(ev, EVBREAK_ALL);
}

/* ---- creation / destruction ------------------------------------------ */

static struct ev_loop *
default_ev_loop(gevc_loop_state *st, unsigned int flags)
{
    struct sigaction saved, libev;
    struct ev_loop *ev;
    /* ev_default_loop grabs SIGCHLD; keep the process's handler until a
     * child watcher asks for libev's. */
    sigaction(SIGCHLD, NULL, &saved);
    ev = ev_default_loop(flags);
    if (ev == NULL)
        return NULL;
    sigaction(SIGCHLD, NULL, &libev);
    if (libev.sa_handler != saved.sa_handler) {
        st->sigchld_libev = libev;
        st->sigchld_saved = saved;
        st->sigchld_state = 1;
        sigaction(SIGCHLD, &saved, NULL);
    }
    return ev;
}

static void
start_internal(gevc_loop *self)
{
    self->wakeup_r = self->wakeup_w = -1;
    ev_set_userdata(self->ev, self);
    ev_set_loop_release_cb(self->ev, loop_release, loop_acquire);
    ev_set_invoke_pending_cb(self->ev, loop_invoke_pending);
    ev_prepare_init(&self->prepare, prepare_cb);
    ev_prepare_start(self->ev, &self->prepare);
    ev_unref(self->ev);
    ev_timer_init(&self->timer0, noop_timer_cb, 0.0, 0.0);
    ev_async_init(&self->threadsafe, threadsafe_cb);
    ev_async_start(self->ev, &self->threadsafe);
    ev_unref(self->ev);
}

static void
stop_internal(gevc_loop *self)
{
    gevc__wakeup_close(self);
    ev_ref(self->ev);
    ev_prepare_stop(self->ev, &self->prepare);
    ev_timer_stop(self->ev, &self->timer0);
    ev_ref(self->ev);
    ev_async_stop(self->ev, &self->threadsafe);
    if (ev_userdata(self->ev) == self) {
        ev_set_userdata(self->ev, NULL);
        ev_set_invoke_pending_cb(self->ev, ev_invoke_pending);
    }
}

static void
clear_fired(gevc_loop *self)
{
    gevc_timer **fired = self->fired;
    Py_ssize_t n = self->nfired;
    self->fired = NULL;
    self->nfired = self->fired_cap = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        fired[i]->base.flags &= ~GEVC_W_FIRED;
        Py_DECREF(fired[i]);
    }
    PyMem_Free(fired);
}

static void
live_link(gevc_loop *self)
{
    gevc_loop_state *st = self->st;
    self->live_next = st->live_loops;
    if (self->live_next != NULL)
        self->live_next->live_pprev = &self->live_next;
    self->live_pprev = &st->live_loops;
    st->live_loops = self;
}

static void
live_unlink(gevc_loop *self)
{
    if (self->live_pprev == NULL)
        return;
    *self->live_pprev = self->live_next;
    if (self->live_next != NULL)
        self->live_next->live_pprev = self->live_pprev;
    self->live_next = NULL;
    self->live_pprev = NULL;
}

/* After a fork: ev_loop_fork, and if this thread's run() is suspended in
 * the middle of an iteration (the fork was made by a greenlet that a
 * callback of the loop switched to), end that iteration: libev queues fork
 * watchers only at the top of one, and would re-create the backend (and
 * forget it forked) later in the interrupted one.  run() starts over. */
static void
loop_after_fork(gevc_loop *l)
{
    ev_loop_fork(l->ev);
    if (l->running && l->run_thread == PyThread_get_thread_ident()) {
        l->refork = 1;
        ev_break(l->ev, EVBREAK_ONE);
    }
}

/* Runs in the child right after os.fork() (os.register_at_fork, with the
 * GIL): instead of EVFLAG_FORKCHECK's getpid() on every iteration, every
 * live loop re-creates its backend once, on its next iteration. */
void
gevc_loops_after_fork(gevc_loop_state *st)
{
    unsigned long me = PyThread_get_thread_ident();
    for (gevc_loop *l = st->live_loops; l != NULL; l = l->live_next) {
        /* a loop polling in another (now gone) thread may be mid-update:
         * only flag it */
        if (!(l->running && l->run_thread != me))
            gevc__wakeup_close(l);
        loop_after_fork(l);
    }
}

/* destroy_pending while loop_do_destroy releases the loop's objects */
#define DESTROYING 2

/* Detach from libev: afterwards every operation raises ValueError.
 *
 * Releasing the signal watchers, queued callbacks and fired timers may run
 * any Python code while the loop still works: a __del__ may queue another
 * callback or start another signal watcher (released in turn, until none is
 * left), or call destroy() again (a no-op: this call finishes the job).
 * Only then is the loop detached from libev, without calling into Python. */
static void
loop_do_destroy(gevc_loop *self, int free_ev)
{
    struct ev_loop *ev = self->ev;
    /* no reference taken: dealloc calls this at refcount 0 (no Python code
     * can reach the loop then); the other callers hold one */
    if (ev == NULL || self->destroy_pending == DESTROYING)
        return;
    self->destroy_pending = DESTROYING;
    gevc_timer_drop_spare(self);
    while (self->ev != NULL &&
           (self->owning != NULL || self->cb_head != NULL || self->nfired)) {
        /* every active watcher: one left active would keep itself alive
         * for good, and libev keeps signals attached to this loop in a
         * process-wide table */
        while (self->owning != NULL && self->ev != NULL) {
            gevc_watcher *w = self->owning;
            gevc__watcher_unlist(w);
            if (w->flags & GEVC_W_OWNS_REF)
                gevc_watcher_stop(w);
        }
        gevc__callbacks_clear(self);
        clear_fired(self);
    }
    self->destroy_pending = 0;
    ev = self->ev;   /* a run() from a __del__ may have destroyed it */
    if (ev != NULL) {
        stop_internal(self);
        live_unlink(self);
        self->ev = NULL;
        if (self->is_default) {
            if (self->st->default_loop == self)
                self->st->default_loop = NULL;
            if (free_ev)
                gevc_reset_sigchld(self->st);
        }
        if (free_ev)
            ev_loop_destroy(ev);
    }
}

static PyObject *
loop_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    static const char *const names[] = {"flags", "default", "ptr", NULL};
    PyObject *a[3];
    unsigned int flags;
    int is_default;
    gevc_loop_state *st = gevc_loop_state_from_type(tp);
    gevc_loop *self;

    if (st == NULL ||
        gevc__parse_tuple("loop", args, kwargs, names, 3, 0, a) < 0)
        return NULL;
    if (a[2] != NULL && a[2] != Py_None && PyObject_IsTrue(a[2])) {
        PyErr_SetString(PyExc_ValueError, "loop(ptr=...) is not supported");
        return NULL;
    }
    if (gevc_flags_to_int(a[0], &flags) < 0 || gevc_check_flags(flags) < 0)
        return NULL;
    /* no EVFLAG_FORKCHECK: the module's after-fork hook re-arms the loops
     * (gevc_loops_after_fork), which costs nothing per iteration */
    flags |= EVFLAG_NOENV;
    is_default = (a[1] == NULL || a[1] == Py_None) ? 1 : PyObject_IsTrue(a[1]);
    if (is_default < 0)
        return NULL;
    /* one wrapper per process default loop: its internal watchers and
     * callback queue must not be doubled */
    if (is_default && st->default_loop != NULL && st->default_loop->ev != NULL) {
        if (Py_TYPE(st->default_loop) == tp)
            return Py_NewRef((PyObject *)st->default_loop);
        /* detaching the live wrapper would strand its active watchers in
         * libev's default loop: their events would reach a dead wrapper
         * and stopping one would free what libev still holds */
        PyErr_Format(PyExc_ValueError, "the default loop is already wrapped "
                     "by a live %s object; destroy() it first",
                     Py_TYPE(st->default_loop)->tp_name);
        return NULL;
    }

    self = (gevc_loop *)tp->tp_alloc(tp, 0);
    if (self == NULL)
        return NULL;
    self->st = st;
    self->is_default = is_default;
    self->origflags = flags;
    self->ev = is_default ? default_ev_loop(st, flags) : ev_loop_new(flags);
    if (self->ev == NULL) {
        PyErr_Format(PyExc_SystemError, "%s(%u) failed",
                     is_default ? "ev_default_loop" : "ev_loop_new", flags);
        Py_DECREF(self);
        return NULL;
    }
    if (is_default)
        st->default_loop = self;
    start_internal(self);
    live_link(self);
    return (PyObject *)self;
}

static int
loop_traverse(gevc_loop *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->error_handler);
    Py_VISIT(self->pending_exc);
    Py_VISIT(self->signal_exc);
    for (Py_ssize_t i = 0; i < self->nfired; i++)
        Py_VISIT(self->fired[i]);
    return gevc__callbacks_traverse(self, visit, arg);
}

static int
loop_clear(gevc_loop *self)
{
    Py_CLEAR(self->error_handler);
    Py_CLEAR(self->pending_exc);
    Py_CLEAR(self->signal_exc);
    gevc_timer_drop_spare(self);
    if (self->ev != NULL) {
        gevc__callbacks_clear(self);
        clear_fired(self);
    }
    return 0;
}

static void
loop_dealloc(gevc_loop *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    loop_clear(self);
    /* the process default loop outlives its wrappers, as in gevent */
    loop_do_destroy(self, !self->is_default);
    PyMem_Free(self->fired);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* ---- running ----------------------------------------------------------- */

PyDoc_STRVAR(run_doc, "run(nowait=False, once=False)\n\n"
"Run the loop until nothing referenced is left (or break_()).  The GIL is\n"
"released only while the backend waits for events; callbacks run with it.\n"
"SystemExit/KeyboardInterrupt from a callback or a signal handler make\n"
"run() raise them.");
static PyObject *
loop_run(gevc_loop *self, PyObject *const *args, Py_ssize_t nargs,
         PyObject *kwnames)
{
    static const char *const names[] = {"nowait", "once", NULL};
    PyObject *a[2], *exc;
    int nowait, once, flags = 0, wakeup = 0;
    void *prev;

    if (gevc__parse("run", args, nargs, kwnames, names, 2, 0, a) < 0)
        return NULL;
    /* checked after __bool__, which may destroy the loop */
    if ((nowait = gevc__as_bool(a[0], 0)) < 0 || (once = gevc__as_bool(a[1], 0)) < 0 ||
        gevc_loop_check(self) < 0)
        return NULL;
    if (self->running && self->run_thread != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError, "the loop is already running in "
                        "another thread");
        return NULL;
    }
    if (nowait)
        flags |= EVRUN_NOWAIT;
    if (once)
        flags |= EVRUN_ONCE;
    Py_INCREF(self);
    if (self->running == 0) {
        self->run_thread = PyThread_get_thread_ident();
        wakeup = gevc__wakeup_install(self);
    }
    prev = ev_userdata(self->ev);
    ev_set_userdata(self->ev, self);
    self->running++;
    ev_run(self->ev, flags);
    /* broken off by a fork (loop_after_fork): the loop goes on */
    while (self->refork && self->ev != NULL && self->pending_exc == NULL &&
           !self->destroy_pending) {
        self->refork = 0;
        if (flags & (EVRUN_ONCE | EVRUN_NOWAIT))
            break;
        ev_run(self->ev, flags);
    }
    self->refork = 0;
    self->running--;
    if (wakeup)
        gevc__wakeup_uninstall(self);
    if (self->ev != NULL)
        ev_set_userdata(self->ev, prev);
    if (self->destroy_pending == 1 && self->running == 0) {
        self->destroy_pending = 0;
        loop_do_destroy(self, 1);
    }
    exc = self->pending_exc;
    self->pending_exc = NULL;
    Py_DECREF(self);
    if (exc != NULL) {
        gevc__exc_raise(exc);
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(break_doc, "break_(how=EVBREAK_ONE)\n\nMake the innermost (ONE) or every (ALL) run() return.  From another thread\n"
"than the one in run(), the loop is woken and breaks at its next iteration.");
static PyObject *
loop_break(gevc_loop *self, PyObject *const *args, Py_ssize_t nargs)
{
    int how = EVBREAK_ONE;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "break_() takes at most 1 argument");
        return NULL;
    }
    if (nargs == 1) {
        how = PyLong_AsLong(args[0]);
        if (how == -1 && PyErr_Occurred())
            return NULL;
    }
    if (gevc_loop_check(self) < 0)
        return NULL;
    if (self->running && self->run_thread != PyThread_get_thread_ident()) {
        /* from another thread: an ev_break made while the backend polls is
         * lost (libev built with assertions resets the flag after the poll),
         * so have the loop's thread break: queue break_(how) and wake it */
        PyObject *meth, *arg, *cb;
        meth = PyObject_GetAttrString((PyObject *)self, "break_");
        if (meth == NULL)
            return NULL;
        arg = PyLong_FromLong(how);
        cb = arg ? gevc_loop_run_callback(self, meth, &arg, 1) : NULL;
        Py_XDECREF(arg);
        Py_DECREF(meth);
        if (cb == NULL)
            return NULL;
        Py_DECREF(cb);
        if (self->ev != NULL)
            ev_async_send(self->ev, &self->threadsafe);
        Py_RETURN_NONE;
    }
    ev_break(self->ev, how);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(now_doc, "now() -> float\n\nThe loop's cached time (ev_now).");
static PyObject *
loop_now(gevc_loop *self, PyObject *unused)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    return PyFloat_FromDouble(ev_now(self->ev));
}

PyDoc_STRVAR(update_now_doc, "update_now()\n\nRefresh the loop's cached time (ev_now_update).  Alias: update().");
static PyObject *
loop_update_now(gevc_loop *self, PyObject *unused)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    ev_now_update(self->ev);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(ref_doc, "ref()\n\nAdd a reference that keeps run() running (ev_ref).");
static PyObject *
loop_ref(gevc_loop *self, PyObject *unused)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    ev_ref(self->ev);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(unref_doc, "unref()\n\nDrop a reference taken with ref() (ev_unref).");
static PyObject *
loop_unref(gevc_loop *self, PyObject *unused)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    ev_unref(self->ev);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(verify_doc, "verify()\n\nCheck libev's internal consistency (ev_verify; a no-op unless libev was built with EV_VERIFY).");
static PyObject *
loop_verify(gevc_loop *self, PyObject *unused)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    ev_verify(self->ev);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(reinit_doc, "reinit()\n\nCall in the child after os.fork(): re-arm the backend (ev_loop_fork); fork watchers fire on the next iteration.");
static PyObject *
loop_reinit(gevc_loop *self, PyObject *unused)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    /* the pipe is shared with the parent now: make a fresh one on demand */
    gevc__wakeup_close(self);
    loop_after_fork(self);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(destroy_doc, "destroy()\n\nStop the loop's own watchers and every watcher still active on it (their\n"
"callbacks are released), drop queued callbacks and free the libev loop.\n"
"Afterwards every operation raises ValueError('operation on destroyed loop').\n"
"Called inside run(), the loop breaks and is destroyed when run() returns.");
static PyObject *
loop_destroy(gevc_loop *self, PyObject *unused)
{
    if (self->ev == NULL)
        Py_RETURN_NONE;
    if (self->running) {
        self->destroy_pending = 1;
        ev_break(self->ev, EVBREAK_ALL);
        /* run() blocked in another thread would not see the break until
         * its next event */
        if (self->run_thread != PyThread_get_thread_ident())
            ev_async_send(self->ev, &self->threadsafe);
        Py_RETURN_NONE;
    }
    loop_do_destroy(self, 1);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(fileno_doc, "fileno() -> int\n\nThe backend's fd.  Always -1: the system libev does not export ev_backend_fd.");
static PyObject *
loop_fileno(gevc_loop *self, PyObject *unused)
{
    return PyLong_FromLong(-1);
}

PyDoc_STRVAR(closing_fd_doc, "closing_fd(fd) -> bool\n\n"
"Tell the loop that fd is about to be closed: every io watcher on it becomes\n"
"pending with all events.  Returns whether anything became pending.");
static PyObject *
loop_closing_fd(gevc_loop *self, PyObject *arg)
{
    long fd = PyLong_AsLong(arg);
    unsigned int before;
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (gevc_loop_check(self) < 0)
        return NULL;
    if (fd < 0) {
        PyErr_Format(PyExc_ValueError, "fd must be non-negative: %ld", fd);
        return NULL;
    }
    if (fd > INT_MAX) {
        PyErr_Format(PyExc_OverflowError, "fd is too large: %ld", fd);
        return NULL;
    }
    before = ev_pending_count(self->ev);
    ev_feed_fd_event(self->ev, (int)fd, 0xFFFF);
    return PyBool_FromLong(ev_pending_count(self->ev) > before);
}

PyDoc_STRVAR(install_sigchld_doc, "install_sigchld()\n\nInstall libev's SIGCHLD handler (needed by child watchers).");
static PyObject *
loop_install_sigchld(gevc_loop *self, PyObject *unused)
{
    if (self->is_default)
        gevc_install_sigchld(self->st);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(reset_sigchld_doc, "reset_sigchld()\n\nRestore the SIGCHLD handler the process had before the default loop.");
static PyObject *
loop_reset_sigchld(gevc_loop *self, PyObject *unused)
{
    if (self->is_default)
        gevc_reset_sigchld(self->st);
    Py_RETURN_NONE;
}

/* ---- callbacks ----------------------------------------------------------- */

PyDoc_STRVAR(run_callback_doc, "run_callback(func, *args) -> callback\n\n"
"Queue func(*args) to run in FIFO order at the start of the next loop\n"
"iteration, before the loop blocks.  The returned callback can be stop()ped.");
static PyObject *
loop_run_callback(gevc_loop *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "run_callback() needs a callable");
        return NULL;
    }
    return gevc_loop_run_callback(self, args[0], args + 1, nargs - 1);
}

PyDoc_STRVAR(run_callback_threadsafe_doc, "run_callback_threadsafe(func, *args) -> callback\n\n"
"run_callback() that also wakes the loop if it is blocked in another thread.");
static PyObject *
loop_run_callback_threadsafe(gevc_loop *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *cb = loop_run_callback(self, args, nargs);
    if (cb != NULL)
        ev_async_send(self->ev, &self->threadsafe);
    return cb;
}

/* ---- watcher factories --------------------------------------------------- */

#define FACTORY(fname, typeslot, kind)                                          \
    static PyObject *                                                          \
    fname(gevc_loop *self, PyObject *const *args, Py_ssize_t nargs,            \
          PyObject *kwnames)                                                   \
    {                                                                          \
        if (gevc_loop_check(self) < 0)                                         \
            return NULL;                                                       \
        return gevc_watcher_new_from_loop(self->st->typeslot, &kind, self, args, \
                                          nargs, kwnames);                     \
    }

FACTORY(loop_io, io_type, gevc_io_kind)
FACTORY(loop_timer, timer_type, gevc_timer_kind)
FACTORY(loop_signal, signal_type, gevc_signal_kind)
FACTORY(loop_idle, idle_type, gevc_idle_kind)
FACTORY(loop_prepare, prepare_type, gevc_prepare_kind)
FACTORY(loop_check, check_type, gevc_check_kind)
FACTORY(loop_fork, fork_type, gevc_fork_kind)
FACTORY(loop_async, async_type, gevc_async_kind)
FACTORY(loop_child, child_type, gevc_child_kind)
FACTORY(loop_stat, stat_type, gevc_stat_kind)

PyDoc_STRVAR(io_doc, "io(fd, events, ref=True, priority=None) -> io watcher (READ/WRITE on fd)");
PyDoc_STRVAR(timer_doc, "timer(after=0.0, repeat=0.0, ref=True, priority=None) -> timer watcher");
PyDoc_STRVAR(signal_doc, "signal(signum, ref=True, priority=None) -> signal watcher");
PyDoc_STRVAR(idle_doc, "idle(ref=True, priority=None) -> idle watcher (fires when nothing else is pending)");
PyDoc_STRVAR(prepare_doc, "prepare(ref=True, priority=None) -> prepare watcher (before each poll)");
PyDoc_STRVAR(check_doc, "check(ref=True, priority=None) -> check watcher (after each poll)");
PyDoc_STRVAR(fork_doc, "fork(ref=True, priority=None) -> fork watcher (after reinit() in a child)");
PyDoc_STRVAR(async_doc, "async_(ref=True, priority=None) -> async watcher (send() from any thread)");
PyDoc_STRVAR(child_doc, "child(pid, trace=0, ref=True) -> child watcher (default loop only)");
PyDoc_STRVAR(stat_doc, "stat(path, interval=0.0, ref=True, priority=None) -> stat watcher");

/* ---- properties -------------------------------------------------------- */

static PyObject *
get_default(gevc_loop *self, void *c)
{
    return PyBool_FromLong(self->ev != NULL && ev_is_default_loop(self->ev));
}

static PyObject *
get_iteration(gevc_loop *self, void *c)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(ev_iteration(self->ev));
}

/* What gevent_c.blocking's watchdog thread reads, under the GIL, to tell
 * a blocked loop from one waiting in its poll. */
static PyObject *
get_blocking_probe(gevc_loop *self, void *c)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    int ready = self->cb_head != NULL || ev_pending_count(self->ev) > 0;
    return Py_BuildValue("(kii)", (unsigned long)ev_iteration(self->ev),
                         self->polling, ready);
}

static PyObject *
get_depth(gevc_loop *self, void *c)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(ev_depth(self->ev));
}

static PyObject *
get_backend_int(gevc_loop *self, void *c)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(ev_backend(self->ev));
}

static PyObject *
get_backend(gevc_loop *self, void *c)
{
    const char *name;
    unsigned int b;
    if (gevc_loop_check(self) < 0)
        return NULL;
    b = ev_backend(self->ev);
    name = gevc_backend_name(b);
    if (name == NULL)
        return PyLong_FromUnsignedLong(b);
    return PyUnicode_FromString(name);
}

static PyObject *
get_pendingcnt(gevc_loop *self, void *c)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(ev_pending_count(self->ev));
}

static PyObject *
get_minus_one(gevc_loop *self, void *c)
{
    if (gevc_loop_check(self) < 0)
        return NULL;
    return PyLong_FromLong(-1);
}

static PyObject *
get_origflags_int(gevc_loop *self, void *c)
{
    return PyLong_FromUnsignedLong(self->origflags);
}

static PyObject *
get_origflags(gevc_loop *self, void *c)
{
    return gevc_flags_to_list(self->origflags);
}

static PyObject *
get_ptr(gevc_loop *self, void *c)
{
    return PyLong_FromVoidPtr(self->ev);
}

static PyObject *
get_error_handler(gevc_loop *self, void *c)
{
    return Py_NewRef(self->error_handler ? self->error_handler : Py_None);
}

static int
set_error_handler(gevc_loop *self, PyObject *value, void *c)
{
    if (value == Py_None)
        value = NULL;
    Py_XSETREF(self->error_handler, Py_XNewRef(value));
    return 0;
}

static PyObject *
get_timer_resolution(gevc_loop *self, void *c)
{
    return PyFloat_FromDouble(0.00001);
}

static PyObject *
get_callbacks(gevc_loop *self, void *c)
{
    PyObject *res = PyList_New(0);
    if (res == NULL)
        return NULL;
    for (gevc_callback *cb = self->cb_head; cb != NULL; cb = cb->next) {
        /* shared from now on: see callbacks.c */
        gevc__callback_track(cb);
        if (PyList_Append(res, (PyObject *)cb) < 0) {
            Py_DECREF(res);
            return NULL;
        }
    }
    return res;
}

static PyGetSetDef loop_getset[] = {
    {"default", (getter)get_default, NULL, "True for the process's default loop.", NULL},
    {"iteration", (getter)get_iteration, NULL, "Number of loop iterations so far.", NULL},
    {"depth", (getter)get_depth, NULL, "Nesting depth of run().", NULL},
    {"_blocking_probe", (getter)get_blocking_probe, NULL,
     "(iteration, polling, ready): the loop's iteration count, whether it\n"
     "waits in its backend poll, and whether callbacks or events wait to run.", NULL},
    {"backend", (getter)get_backend, NULL, "Backend name ('epoll', 'poll', ...).", NULL},
    {"backend_int", (getter)get_backend_int, NULL, "Backend as libev's bit.", NULL},
    {"pendingcnt", (getter)get_pendingcnt, NULL, "Number of pending watchers.", NULL},
    {"activecnt", (getter)get_minus_one, NULL,
     "Always -1: the system libev keeps struct ev_loop (and its active count) private.", NULL},
    {"sig_pending", (getter)get_minus_one, NULL,
     "Always -1: not visible through the system libev's API.", NULL},
    {"origflags", (getter)get_origflags, NULL, "Flags the loop was created with, as names.", NULL},
    {"origflags_int", (getter)get_origflags_int, NULL, "Flags the loop was created with.", NULL},
    {"ptr", (getter)get_ptr, NULL, "Address of the struct ev_loop (0 once destroyed).", NULL},
    {"error_handler", (getter)get_error_handler, (setter)set_error_handler,
     "Object whose handle_error(context, type, value, tb) receives callback errors.", NULL},
    {"approx_timer_resolution", (getter)get_timer_resolution, NULL,
     "Approximate timer resolution in seconds.", NULL},
    {"_callbacks", (getter)get_callbacks, NULL, "Queued callbacks, in order (a copy).", NULL},
    {NULL},
};

PyDoc_STRVAR(handle_error_doc, "handle_error(context, type, value, tb)\n\n"
"Route an exception raised by a callback.  With an error_handler set, call\n"
"error_handler.handle_error(context, type, value, tb).  Otherwise\n"
"SystemExit/KeyboardInterrupt break the loop and are re-raised by run();\n"
"any other error is printed to stderr with the failing watcher named, and\n"
"the loop breaks out of the current run() as gevent's does.");

static PyMethodDef loop_methods[] = {
    {"run", (PyCFunction)(void (*)(void))loop_run, METH_FASTCALL | METH_KEYWORDS, run_doc},
    {"break_", (PyCFunction)(void (*)(void))loop_break, METH_FASTCALL, break_doc},
    {"now", (PyCFunction)loop_now, METH_NOARGS, now_doc},
    {"update_now", (PyCFunction)loop_update_now, METH_NOARGS, update_now_doc},
    {"update", (PyCFunction)loop_update_now, METH_NOARGS, update_now_doc},
    {"ref", (PyCFunction)loop_ref, METH_NOARGS, ref_doc},
    {"unref", (PyCFunction)loop_unref, METH_NOARGS, unref_doc},
    {"verify", (PyCFunction)loop_verify, METH_NOARGS, verify_doc},
    {"reinit", (PyCFunction)loop_reinit, METH_NOARGS, reinit_doc},
    {"destroy", (PyCFunction)loop_destroy, METH_NOARGS, destroy_doc},
    {"fileno", (PyCFunction)loop_fileno, METH_NOARGS, fileno_doc},
    {"closing_fd", (PyCFunction)loop_closing_fd, METH_O, closing_fd_doc},
    {"install_sigchld", (PyCFunction)loop_install_sigchld, METH_NOARGS, install_sigchld_doc},
    {"reset_sigchld", (PyCFunction)loop_reset_sigchld, METH_NOARGS, reset_sigchld_doc},
    {"handle_error", (PyCFunction)(void (*)(void))gevc_loop_handle_error_method, METH_FASTCALL, handle_error_doc},
    {"run_callback", (PyCFunction)(void (*)(void))loop_run_callback, METH_FASTCALL, run_callback_doc},
    {"run_callback_threadsafe", (PyCFunction)(void (*)(void))loop_run_callback_threadsafe,
     METH_FASTCALL, run_callback_threadsafe_doc},
    {"io", (PyCFunction)(void (*)(void))loop_io, METH_FASTCALL | METH_KEYWORDS, io_doc},
    {"timer", (PyCFunction)(void (*)(void))loop_timer, METH_FASTCALL | METH_KEYWORDS, timer_doc},
    {"signal", (PyCFunction)(void (*)(void))loop_signal, METH_FASTCALL | METH_KEYWORDS, signal_doc},
    {"idle", (PyCFunction)(void (*)(void))loop_idle, METH_FASTCALL | METH_KEYWORDS, idle_doc},
    {"prepare", (PyCFunction)(void (*)(void))loop_prepare, METH_FASTCALL | METH_KEYWORDS, prepare_doc},
    {"check", (PyCFunction)(void (*)(void))loop_check, METH_FASTCALL | METH_KEYWORDS, check_doc},
    {"fork", (PyCFunction)(void (*)(void))loop_fork, METH_FASTCALL | METH_KEYWORDS, fork_doc},
    {"async_", (PyCFunction)(void (*)(void))loop_async, METH_FASTCALL | METH_KEYWORDS, async_doc},
    {"async", (PyCFunction)(void (*)(void))loop_async, METH_FASTCALL | METH_KEYWORDS, async_doc},
    {"child", (PyCFunction)(void (*)(void))loop_child, METH_FASTCALL | METH_KEYWORDS, child_doc},
    {"stat", (PyCFunction)(void (*)(void))loop_stat, METH_FASTCALL | METH_KEYWORDS, stat_doc},
    {NULL},
};

static PyMemberDef loop_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(gevc_loop, weakrefs), READONLY},
    {NULL},
};

static PyObject *
loop_repr(gevc_loop *self)
{
    if (self->ev == NULL)
        return PyUnicode_FromFormat("<%s at %p destroyed>",
                                    Py_TYPE(self)->tp_name, self);
    return PyUnicode_FromFormat("<%s at %p %s%s pending=%u callbacks=%s>",
                                Py_TYPE(self)->tp_name, self,
                                gevc_backend_name(ev_backend(self->ev)),
                                self->is_default ? " default" : "",
                                ev_pending_count(self->ev),
                                self->cb_head ? "yes" : "no");
}

PyDoc_STRVAR(loop_doc, "loop(flags=None, default=None)\n\n"
"A libev event loop.  flags: an int, a comma-separated string or a list of\n"
"names ('epoll', 'poll', 'select', 'noenv', 'forkcheck', 'noinotify',\n"
"'signalfd', 'nosigmask'); EVFLAG_NOENV is always added; every loop is re-armed in the child after os.fork().\n"
"default=None or True: the process's default loop (the only one that may\n"
"own child watchers); default=False: a new loop.");

static PyType_Slot loop_slots[] = {
    {Py_tp_new, loop_new},
    {Py_tp_dealloc, loop_dealloc},
    {Py_tp_traverse, loop_traverse},
    {Py_tp_clear, loop_clear},
    {Py_tp_methods, loop_methods},
    {Py_tp_getset, loop_getset},
    {Py_tp_members, loop_members},
    {Py_tp_repr, loop_repr},
    {Py_tp_doc, (void *)loop_doc},
    {0, NULL},
};

PyType_Spec gevc_loop_spec = {
    .name = "gevent_c._core.loop",
    .basicsize = sizeof(gevc_loop),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = loop_slots,
};
