/* How a channel runs on the loop: requests and their delivery, the timeout
 * timer, and c-ares' sockets as io watchers (ARES_OPT_SOCK_STATE_CB).  Only
 * the loop's Python API is used: loop.io(), loop.timer(), loop.run_callback(). */
#include "gevc_ares.h"

#define EVREAD 1    /* libev's EV_READ / EV_WRITE, as the loop's io() takes them */
#define EVWRITE 2

/* obj.<name>(); the C-string form when the module state is already cleared
 * (a channel collected during interpreter shutdown, after its module). */
static PyObject *
call0(PyObject *obj, PyObject *name, const char *cname)
{
    if (name != NULL)
        return PyObject_CallMethodNoArgs(obj, name);
    return PyObject_CallMethod(obj, cname, NULL);
}

/* What the loop holds for a scheduled drain or an armed timer: a method
 * bound to a capsule that holds the channel, so that only those keep it
 * alive, not the channel itself, and so that the channel learns when the
 * loop drops one unused (destroy() clears queued callbacks and stops active
 * watchers): the drain then runs here, and a timer that can no longer time
 * the pending queries out destroys the channel, which fails them. */
#define TOKEN_NAME "gevent_c._ares.binding"
static PyObject *chan_on_timer(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
static PyObject *chan_drain(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
static PyMethodDef on_timer_def = {"_on_timer", (PyCFunction)(void (*)(void))chan_on_timer,
                                   METH_FASTCALL, NULL};
static PyMethodDef drain_def = {"_drain", (PyCFunction)(void (*)(void))chan_drain,
                                METH_FASTCALL, NULL};

static gevc_ares_channel *
token_chan(PyObject *token)
{
    return PyCapsule_GetPointer(token, TOKEN_NAME);
}

static void
token_dropped(PyObject *token)
{
    gevc_ares_channel *chan = token_chan(token);
    if (chan == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *saved = gevc__exc_take();
    if (chan->drain_token == token) {
        chan->drain_token = NULL;
        chan->drain_scheduled = 0;
        gevc_ares_deliver(chan);
    }
    else if (chan->timer_token == token) {
        chan->timer_token = NULL;
        Py_CLEAR(chan->timer);
        if (chan->busy)
            chan->destroy_pending = 1;
        else if (chan->ch != NULL && gevc_ares_destroy_now(chan) < 0)
            gevc_ares_unraisable(chan);
    }
    gevc__exc_raise(saved);
    Py_DECREF(chan);
}

/* def bound to a new token for chan; *token is the token (borrowed) */
static PyObject *
bind_token(gevc_ares_channel *chan, PyMethodDef *def, PyObject **token)
{
    PyObject *cap = PyCapsule_New(chan, TOKEN_NAME, token_dropped);
    if (cap == NULL)
        return NULL;
    Py_INCREF(chan);
    PyObject *f = PyCFunction_New(def, cap);
    *token = cap;
    Py_DECREF(cap);
    return f;
}

/* The unraisable hook would take a reference to a channel being
 * deallocated (refcount 0), freeing it twice or resurrecting it. */
void
gevc_ares_unraisable(gevc_ares_channel *chan)
{
    PyErr_WriteUnraisable(Py_REFCNT(chan) > 0 ? (PyObject *)chan : NULL);
}

/* ---- requests --------------------------------------------------------- */

gevc_ares_request *
gevc_ares_request_new(gevc_ares_channel *chan, PyObject *callback)
{
    gevc_ares_request *req = PyMem_Calloc(1, sizeof(*req));
    if (req == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    req->chan = (gevc_ares_channel *)Py_NewRef(chan);
    req->callback = Py_NewRef(callback);
    chan->pending++;
    return req;
}

/* Queue callback(value) for delivery; value is stolen, NULL means "the
 * exception being raised".  Runs inside c-ares callbacks: no Python code,
 * and no allocation, so that a result is never dropped. */
void
gevc_ares_request_finish(gevc_ares_request *req, PyObject *value)
{
    gevc_ares_channel *chan = req->chan;

    if (value == NULL)
        value = gevc__exc_take();
    if (value == NULL) {
        PyErr_NoMemory();   /* failed without saying why */
        value = gevc__exc_take();
    }
    req->value = value;
    req->chan = NULL;
    req->next = NULL;
    if (chan->ready_tail != NULL)
        chan->ready_tail->next = req;
    else
        chan->ready = req;
    chan->ready_tail = req;
    chan->pending--;
    Py_DECREF(chan);
}

static gevc_ares_request *
pop_ready(gevc_ares_channel *chan)
{
    gevc_ares_request *req = chan->ready;
    if (req != NULL) {
        chan->ready = req->next;
        if (chan->ready == NULL)
            chan->ready_tail = NULL;
    }
    return req;
}

static void
free_request(gevc_ares_request *req)
{
    Py_DECREF(req->callback);
    Py_XDECREF(req->value);
    PyMem_Free(req);
}

/* Forget the undelivered results (the channel is being collected). */
void
gevc_ares_drop_ready(gevc_ares_channel *chan)
{
    gevc_ares_request *req;
    while ((req = pop_ready(chan)) != NULL)
        free_request(req);
}

int
gevc_ares_traverse_ready(gevc_ares_channel *chan, visitproc visit, void *arg)
{
    for (gevc_ares_request *req = chan->ready; req != NULL; req = req->next) {
        Py_VISIT(req->callback);
        Py_VISIT(req->value);
    }
    return 0;
}

int
gevc_ares_check_open(gevc_ares_channel *chan)
{
    if (chan->ch == NULL || chan->destroy_pending) {
        PyErr_SetString(PyExc_ValueError, "c-ares channel is destroyed");
        return -1;
    }
    /* c-ares is not re-entrant: reached from a finalizer or a loop method
     * that c-ares' socket callback ran */
    if (chan->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "c-ares channel used from inside one of its own c-ares calls");
        return -1;
    }
    /* its watchers would be started on a loop blocked in another thread */
    if (PyThread_get_thread_ident() != chan->thread) {
        PyErr_SetString(PyExc_RuntimeError,
                        "c-ares channel used from a thread other than its loop's");
        return -1;
    }
    /* a destroyed loop raises here, before a query is registered: once it
     * is, the query method must not raise (its callback will run) */
    PyObject *now = call0(chan->loop, chan->st->str_now, "now");
    if (now == NULL)
        return -1;
    Py_DECREF(now);
    return 0;
}

void
gevc_ares_leave(gevc_ares_channel *chan)
{
    if (--chan->busy > 0 || !chan->destroy_pending)
        return;
    PyObject *saved = gevc__exc_take();
    if (gevc_ares_destroy_now(chan) < 0)
        gevc_ares_report_error(chan);
    gevc__exc_raise(saved);
}

/* ---- delivery ----------------------------------------------------------- */

/* Hand the exception being raised to loop.handle_error. */
void
gevc_ares_report_error(gevc_ares_channel *chan)
{
    PyObject *exc = gevc__exc_take();
    if (exc == NULL)
        return;
    PyObject *tb = PyException_GetTraceback(exc);
    PyObject *args[5] = {chan->loop, (PyObject *)chan, (PyObject *)Py_TYPE(exc),
                         exc, tb ? tb : Py_None};
    PyObject *r = PyObject_VectorcallMethod(chan->st->str_handle_error, args,
                                            5 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (r == NULL)
        gevc_ares_unraisable(chan);
    Py_XDECREF(r);
    Py_XDECREF(tb);
    Py_DECREF(exc);
}

/* Call the queued callbacks, in the order their queries finished.  A
 * callback may switch greenlets and re-enter the channel: each request is
 * unlinked before its callback runs. */
void
gevc_ares_deliver(gevc_ares_channel *chan)
{
    gevc_ares_request *req;
    while ((req = pop_ready(chan)) != NULL) {
        PyObject *r = PyObject_CallOneArg(req->callback, req->value ? req->value : Py_None);
        if (r == NULL)
            gevc_ares_report_error(chan);
        Py_XDECREF(r);
        free_request(req);
    }
}

/* ---- the timer ---------------------------------------------------------- */

int
gevc_ares_timer_stop(gevc_ares_channel *chan)
{
    PyObject *timer = chan->timer;
    if (timer == NULL)
        return 0;
    chan->timer = NULL;
    chan->timer_token = NULL;   /* released on purpose */
    PyObject *r = call0(timer, chan->st->str_stop, "stop");
    Py_DECREF(timer);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Keep the timer armed for c-ares' earliest deadline while queries are
 * pending.  A timer firing too early is harmless (it re-arms), so it is only
 * restarted when the deadline moves earlier: one restart per burst. */
static int
timer_arm(gevc_ares_channel *chan)
{
    struct timeval tv, *tvp = NULL;
    PyObject *now = NULL, *timer = NULL, *r = NULL;

    if (chan->ch != NULL && chan->pending > 0)
        tvp = ares_timeout(chan->ch, NULL, &tv);
    if (tvp == NULL)
        return gevc_ares_timer_stop(chan);
    double delay = (double)tvp->tv_sec + (double)tvp->tv_usec / 1e6;
    if (delay < 0.001)
        delay = 0.001;
    now = call0(chan->loop, chan->st->str_now, "now");
    if (now == NULL)
        return -1;
    double when = PyFloat_AsDouble(now) + delay;
    Py_DECREF(now);
    if (when == -1.0 && PyErr_Occurred())
        return -1;
    if (chan->timer != NULL && chan->deadline <= when + 0.0005)
        return 0;
    if (gevc_ares_timer_stop(chan) < 0)
        return -1;
    timer = PyObject_CallMethod(chan->loop, "timer", "d", delay);
    if (timer == NULL)
        return -1;
    PyObject *token = NULL;
    PyObject *args[2] = {timer, bind_token(chan, &on_timer_def, &token)};
    if (args[1] != NULL)
        r = PyObject_VectorcallMethod(chan->st->str_start, args,
                                      2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (r == NULL) {
        Py_XDECREF(args[1]);
        Py_DECREF(timer);
        return -1;
    }
    Py_DECREF(r);
    chan->timer = timer;
    chan->timer_token = token;   /* alive: the started timer holds args[1] */
    Py_DECREF(args[1]);
    chan->deadline = when;
    return 0;
}

static int
run_drain_soon(gevc_ares_channel *chan)
{
    if (chan->drain_scheduled)
        return 0;
    PyObject *token = NULL, *r = NULL;
    PyObject *args[2] = {chan->loop, bind_token(chan, &drain_def, &token)};
    if (args[1] != NULL)
        r = PyObject_VectorcallMethod(chan->st->str_run_callback, args,
                                      2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (r == NULL) {
        Py_XDECREF(args[1]);
        return -1;
    }
    Py_DECREF(r);
    chan->drain_scheduled = 1;
    chan->drain_token = token;   /* alive: the queued callback holds args[1] */
    Py_DECREF(args[1]);
    return 0;
}

/* run_drain_soon from a loop callback: a failure goes to the loop */
static void
schedule_drain(gevc_ares_channel *chan)
{
    PyObject *saved = gevc__exc_take();
    if (run_drain_soon(chan) < 0)
        gevc_ares_report_error(chan);
    gevc__exc_raise(saved);
}

/* After a query method: arm the timer, and hand results c-ares produced
 * synchronously to the loop (never to the calling greenlet directly). */
PyObject *
gevc_ares_after_call(gevc_ares_channel *chan, PyObject *result)
{
    if (timer_arm(chan) < 0)
        goto error;
    if (chan->ready != NULL && run_drain_soon(chan) < 0)
        goto error;
    return result;
error:
    Py_XDECREF(result);
    return NULL;
}

/* The end of a query method: the query is registered and its callback will
 * run, so a failure goes to the loop instead of the caller, and a drain
 * retries arming the timer. */
PyObject *
gevc_ares_started(gevc_ares_channel *chan)
{
    PyObject *r = gevc_ares_after_call(chan, Py_NewRef(Py_None));
    if (r != NULL)
        return r;
    gevc_ares_report_error(chan);
    schedule_drain(chan);
    Py_RETURN_NONE;
}

/* ---- loop-side callbacks (bound to the channel, run by the hub) --------- */

/* The io and timer callbacks: let c-ares process, then deliver.  They never
 * fail: the loop would stop a failing io watcher for good, and c-ares would
 * never ask for it again.  When the timer cannot be armed, the error goes to
 * loop.handle_error and a drain retries arming it. */
static void
process_and_deliver(gevc_ares_channel *chan, ares_socket_t rfd, ares_socket_t wfd)
{
    if (chan->ch != NULL) {
        GEVC_ARES_ENTER(chan);
        ares_process_fd(chan->ch, rfd, wfd);
        gevc_ares_leave(chan);
    }
    PyObject *exc = NULL;
    if (timer_arm(chan) < 0) {
        exc = gevc__exc_take();
        schedule_drain(chan);
    }
    gevc_ares_deliver(chan);
    if (exc != NULL) {
        gevc__exc_raise(exc);
        gevc_ares_report_error(chan);
    }
}

/* Bound to a weak reference (see gevc_ares_bind_callbacks). */
static PyObject *
chan_on_io(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_on_io(events, fd)");
        return NULL;
    }
    long events = PyLong_AsLong(args[0]);
    long fd = PyLong_AsLong(args[1]);
    if ((events == -1 || fd == -1) && PyErr_Occurred())
        return NULL;
    PyObject *obj;
    if (gevc__weakref_get(self, &obj) < 0)
        return NULL;
    if (obj == NULL)
        Py_RETURN_NONE;
    gevc_ares_channel *chan = (gevc_ares_channel *)obj;
    process_and_deliver(chan, (events & EVREAD) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
                        (events & EVWRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
    Py_DECREF(chan);
    Py_RETURN_NONE;
}

static PyObject *
chan_on_timer(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_ares_channel *chan = (gevc_ares_channel *)Py_NewRef(token_chan(self));
    if (chan->timer_token == self)
        chan->timer_token = NULL;
    Py_CLEAR(chan->timer);   /* it fired: a one-shot timer is already inactive */
    process_and_deliver(chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    Py_DECREF(chan);
    Py_RETURN_NONE;
}

static PyObject *
chan_drain(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_ares_channel *chan = (gevc_ares_channel *)Py_NewRef(token_chan(self));
    if (chan->drain_token == self)
        chan->drain_token = NULL;
    chan->drain_scheduled = 0;
    if (chan->timer == NULL && timer_arm(chan) < 0)
        gevc_ares_report_error(chan);
    gevc_ares_deliver(chan);
    Py_DECREF(chan);
    Py_RETURN_NONE;
}

static PyMethodDef on_io_def = {"_on_io", (PyCFunction)(void (*)(void))chan_on_io,
                                METH_FASTCALL, NULL};

/* ---- c-ares sockets as io watchers -------------------------------------- */

int
gevc_ares_watcher_stop(gevc_ares_channel *chan, PyObject *w, int close)
{
    PyObject *r = call0(w, chan->st->str_stop, "stop");
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    if (!close)
        return 0;
    r = call0(w, chan->st->str_close, "close");
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
watcher_start(gevc_ares_channel *chan, PyObject *w, PyObject *key)
{
    PyObject *args[4] = {w, chan->on_io, key, Py_True};
    PyObject *r = PyObject_VectorcallMethod(chan->st->str_start, args,
                                            3 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                            chan->st->kw_pass_events);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
sock_state_update(gevc_ares_channel *chan, int fd, int events)
{
    int rc = -1;
    PyObject *key = PyLong_FromLong(fd), *w = NULL, *ev = NULL;
    if (key == NULL)
        return -1;
    w = PyDict_GetItemWithError(chan->watchers, key);
    if (w == NULL && PyErr_Occurred())
        goto done;
    Py_XINCREF(w);
    if (events == 0) {
        /* forgotten even if stopping it fails: c-ares closed the socket */
        if (w != NULL && (PyDict_DelItem(chan->watchers, key) < 0 ||
                          gevc_ares_watcher_stop(chan, w, 1) < 0))
            goto done;
        rc = 0;
        goto done;
    }
    if (w != NULL) {
        /* c-ares changes a socket's interest (TCP writes): restart it */
        if (gevc_ares_watcher_stop(chan, w, 0) < 0 || (ev = PyLong_FromLong(events)) == NULL ||
            PyObject_SetAttr(w, chan->st->str_events, ev) < 0 ||
            watcher_start(chan, w, key) < 0)
            goto done;
        rc = 0;
        goto done;
    }
    /* unref'd: the timer, not c-ares' idle sockets, keeps the loop alive */
    PyObject *args[5] = {chan->loop, key, NULL, Py_False};
    args[2] = ev = PyLong_FromLong(events);
    if (ev == NULL)
        goto done;
    w = PyObject_VectorcallMethod(chan->st->str_io, args,
                                  3 | PY_VECTORCALL_ARGUMENTS_OFFSET, chan->st->kw_ref);
    if (w == NULL || watcher_start(chan, w, key) < 0 ||
        PyDict_SetItem(chan->watchers, key, w) < 0)
        goto done;
    rc = 0;
done:
    Py_XDECREF(ev);
    Py_XDECREF(w);
    Py_DECREF(key);
    return rc;
}

void
gevc_ares_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    gevc_ares_channel *chan = data;
    if (chan->watchers == NULL || chan->loop == NULL)
        return;
    PyObject *saved = gevc__exc_take();
    if (sock_state_update(chan, (int)fd, (readable ? EVREAD : 0) | (writable ? EVWRITE : 0)) < 0)
        gevc_ares_unraisable(chan);
    gevc__exc_raise(saved);
}


/* The io watchers' callback holds the channel weakly: an active io watcher
 * is owned by the loop and must not keep an otherwise unreachable channel
 * alive. */
int
gevc_ares_bind_callbacks(gevc_ares_channel *chan)
{
    PyObject *weak = PyWeakref_NewRef((PyObject *)chan, NULL);
    if (weak == NULL)
        return -1;
    chan->on_io = PyCFunction_New(&on_io_def, weak);
    Py_DECREF(weak);
    return chan->on_io == NULL ? -1 : 0;
}
