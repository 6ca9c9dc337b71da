/* The channel type: c-ares options, its sockets as loop.io watchers, one
 * loop.timer for its timeouts, result delivery, destroy and GC. */
#include "gevc_ares.h"

#define EVREAD 1    /* libev's EV_READ / EV_WRITE, as the loop's io() takes them */
#define EVWRITE 2

/* ---- exception state kept across code that must not disturb it ------- */

static PyObject *
exc_save(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (t == NULL)
        return NULL;
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb != NULL && v != NULL)
        PyException_SetTraceback(v, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    return v;
#endif
}

static void
exc_restore(PyObject *exc)
{
    if (exc == NULL)
        return;
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
#endif
}

/* obj.<name>(); the C-string form when the module state is already cleared
 * (a channel collected during interpreter shutdown, after its module). */
static PyObject *
call0(PyObject *obj, PyObject *name, const char *cname)
{
    if (name != NULL)
        return PyObject_CallMethodNoArgs(obj, name);
    return PyObject_CallMethod(obj, cname, NULL);
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
 * exception being raised". Runs inside c-ares callbacks: no Python code. */
void
gevc_ares_request_finish(gevc_ares_request *req, PyObject *value)
{
    gevc_ares_channel *chan = req->chan;
    PyObject *item = NULL;

    if (value == NULL)
        value = exc_save();
    if (value == NULL)
        value = Py_NewRef(Py_None);
    if (chan->ready == NULL && (chan->ready = PyList_New(0)) == NULL)
        goto error;
    item = PyTuple_Pack(2, req->callback, value);
    if (item == NULL || PyList_Append(chan->ready, item) < 0)
        goto error;
    goto done;
error:
    PyErr_WriteUnraisable((PyObject *)chan);
done:
    Py_XDECREF(item);
    Py_DECREF(value);
    chan->pending--;
    Py_DECREF(req->callback);
    PyMem_Free(req);
    Py_DECREF(chan);
}

int
gevc_ares_check_open(gevc_ares_channel *chan)
{
    if (chan->ch == NULL) {
        PyErr_SetString(PyExc_ValueError, "c-ares channel is destroyed");
        return -1;
    }
    return 0;
}

/* ---- delivery ----------------------------------------------------------- */

static void
report_error(gevc_ares_channel *chan)
{
    PyObject *exc = exc_save();
    if (exc == NULL)
        return;
    PyObject *tb = PyException_GetTraceback(exc);
    PyObject *args[5] = {chan->loop, (PyObject *)chan, (PyObject *)Py_TYPE(exc),
                         exc, tb ? tb : Py_None};
    PyObject *r = PyObject_VectorcallMethod(chan->st->str_handle_error, args,
                                            5 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (r == NULL)
        PyErr_WriteUnraisable((PyObject *)chan);
    Py_XDECREF(r);
    Py_XDECREF(tb);
    Py_DECREF(exc);
}

/* Call the queued callbacks.  A callback may switch greenlets and re-enter
 * the channel, so each batch is detached from chan->ready first. */
static void
deliver(gevc_ares_channel *chan)
{
    while (chan->ready != NULL && PyList_GET_SIZE(chan->ready) > 0) {
        PyObject *batch = chan->ready;
        chan->ready = NULL;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(batch); i++) {
            PyObject *item = PyList_GET_ITEM(batch, i);
            PyObject *r = PyObject_CallOneArg(PyTuple_GET_ITEM(item, 0),
                                              PyTuple_GET_ITEM(item, 1));
            if (r == NULL)
                report_error(chan);
            Py_XDECREF(r);
        }
        Py_DECREF(batch);
    }
}

/* ---- the timer ---------------------------------------------------------- */

static int
timer_stop(gevc_ares_channel *chan)
{
    PyObject *timer = chan->timer;
    if (timer == NULL)
        return 0;
    chan->timer = NULL;
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
        return timer_stop(chan);
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
    if (timer_stop(chan) < 0)
        return -1;
    timer = PyObject_CallMethod(chan->loop, "timer", "d", delay);
    if (timer == NULL)
        return -1;
    PyObject *args[2] = {timer, chan->on_timer};
    r = PyObject_VectorcallMethod(chan->st->str_start, args,
                                  2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (r == NULL) {
        Py_DECREF(timer);
        return -1;
    }
    Py_DECREF(r);
    chan->timer = timer;
    chan->deadline = when;
    return 0;
}

/* After a query method: arm the timer, and hand results c-ares produced
 * synchronously to the loop (never to the calling greenlet directly). */
PyObject *
gevc_ares_after_call(gevc_ares_channel *chan, PyObject *result)
{
    if (timer_arm(chan) < 0)
        goto error;
    if (chan->ready != NULL && PyList_GET_SIZE(chan->ready) > 0 && !chan->drain_scheduled) {
        PyObject *args[2] = {chan->loop, chan->drain};
        PyObject *r = PyObject_VectorcallMethod(chan->st->str_run_callback, args,
                                                2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        if (r == NULL)
            goto error;
        Py_DECREF(r);
        chan->drain_scheduled = 1;
    }
    return result;
error:
    Py_XDECREF(result);
    return NULL;
}

/* ---- loop-side callbacks (bound to the channel, run by the hub) --------- */

/* Bound to a weak reference: an active io watcher is owned by the loop,
 * and must not keep an otherwise unreachable channel alive. */
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
    PyObject *obj = PyWeakref_GetObject(self);
    if (obj == NULL)
        return NULL;
    if (obj == Py_None)
        Py_RETURN_NONE;
    gevc_ares_channel *chan = (gevc_ares_channel *)Py_NewRef(obj);
    if (chan->ch != NULL) {
        ares_process_fd(chan->ch, (events & EVREAD) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
                        (events & EVWRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
    }
    int rc = timer_arm(chan);
    deliver(chan);
    Py_DECREF(chan);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
chan_on_timer(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_ares_channel *chan = (gevc_ares_channel *)self;
    Py_CLEAR(chan->timer);   /* it fired: a one-shot timer is already inactive */
    if (chan->ch != NULL)
        ares_process_fd(chan->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    int rc = timer_arm(chan);
    deliver(chan);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
chan_drain(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_ares_channel *chan = (gevc_ares_channel *)self;
    chan->drain_scheduled = 0;
    deliver(chan);
    Py_RETURN_NONE;
}

static PyMethodDef on_io_def = {"_on_io", (PyCFunction)(void (*)(void))chan_on_io,
                                METH_FASTCALL, NULL};
static PyMethodDef on_timer_def = {"_on_timer", (PyCFunction)(void (*)(void))chan_on_timer,
                                   METH_FASTCALL, NULL};
static PyMethodDef drain_def = {"_drain", (PyCFunction)(void (*)(void))chan_drain,
                                METH_FASTCALL, NULL};

/* ---- c-ares sockets as io watchers -------------------------------------- */

static int
watcher_stop(gevc_ares_channel *chan, PyObject *w, int close)
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
        if (w != NULL && (watcher_stop(chan, w, 1) < 0 ||
                          PyDict_DelItem(chan->watchers, key) < 0))
            goto done;
        rc = 0;
        goto done;
    }
    if (w != NULL) {
        /* c-ares changes a socket's interest (TCP writes): restart it */
        if (watcher_stop(chan, w, 0) < 0 || (ev = PyLong_FromLong(events)) == NULL ||
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

static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    gevc_ares_channel *chan = data;
    if (chan->watchers == NULL || chan->loop == NULL)
        return;
    PyObject *saved = exc_save();
    if (sock_state_update(chan, (int)fd, (readable ? EVREAD : 0) | (writable ? EVWRITE : 0)) < 0)
        PyErr_WriteUnraisable((PyObject *)chan);
    exc_restore(saved);
}

/* ---- servers ------------------------------------------------------------ */

/* servers as a list: a str is split on commas and whitespace */
static PyObject *
servers_list(PyObject *servers)
{
    if (PyList_Check(servers) || PyTuple_Check(servers))
        return PySequence_List(servers);
    if (!PyUnicode_Check(servers)) {
        PyErr_Format(PyExc_TypeError, "servers must be a list of strings or a "
                     "comma-separated string, not %.100s", Py_TYPE(servers)->tp_name);
        return NULL;
    }
    PyObject *comma = PyUnicode_FromString(","), *space = PyUnicode_FromString(" ");
    PyObject *spaced = NULL, *list = NULL;
    if (comma != NULL && space != NULL)
        spaced = PyUnicode_Replace(servers, comma, space, -1);
    if (spaced != NULL)
        list = PyUnicode_Split(spaced, NULL, -1);
    Py_XDECREF(comma);
    Py_XDECREF(space);
    Py_XDECREF(spaced);
    return list;
}

static int
set_servers(gevc_ares_channel *chan, PyObject *servers)
{
    PyObject *seq = NULL, *sep = NULL, *joined = NULL;
    int rc = -1;

    if ((seq = servers_list(servers)) == NULL)
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(seq);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "servers must name at least one server");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(seq, i);
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "server addresses must be str, not %.100s",
                         Py_TYPE(item)->tp_name);
            goto done;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(item);
        if (len == 0 || PyUnicode_FindChar(item, ',', 0, len, 1) >= 0 ||
            PyUnicode_FindChar(item, '\0', 0, len, 1) >= 0) {
            PyErr_Format(PyExc_ValueError, "bad server address %R", item);
            goto done;
        }
    }
    if ((sep = PyUnicode_FromString(",")) == NULL ||
        (joined = PyUnicode_Join(sep, seq)) == NULL)
        goto done;
    const char *csv = PyUnicode_AsUTF8(joined);
    if (csv == NULL)
        goto done;
    int status = ares_set_servers_ports_csv(chan->ch, csv);
    if (status == ARES_ENOTIMP) {
        PyErr_SetString(PyExc_RuntimeError,
                        "c-ares cannot change servers while queries are pending");
        goto done;
    }
    if (status == ARES_ENOMEM) {
        PyErr_NoMemory();
        goto done;
    }
    if (status != ARES_SUCCESS) {
        PyErr_Format(PyExc_ValueError, "bad server address in %R", servers);
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(seq);
    Py_XDECREF(sep);
    Py_XDECREF(joined);
    return rc;
}

PyDoc_STRVAR(set_servers_doc, "set_servers(servers)\n\n"
"Use these name servers: a list of 'ip', 'ip:port' or '[ipv6]:port' strings,\n"
"or one string of them separated by commas or spaces.  Refused (RuntimeError)\n"
"while queries are pending.");
static PyObject *
chan_set_servers(gevc_ares_channel *chan, PyObject *servers)
{
    if (gevc_ares_check_open(chan) < 0 || set_servers(chan, servers) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- destroy -------------------------------------------------------------- */

/* Destroy the c-ares channel (pending queries finish with an error into
 * chan->ready), stop the timer and every watcher. */
static int
shutdown_channel(gevc_ares_channel *chan)
{
    int rc = 0;
    ares_channel ch = chan->ch;
    if (ch != NULL) {
        chan->ch = NULL;
        ares_destroy(ch);
    }
    if (timer_stop(chan) < 0)
        rc = -1;
    if (chan->watchers != NULL) {
        PyObject *ws = PyDict_Values(chan->watchers);
        if (ws == NULL)
            return -1;
        PyDict_Clear(chan->watchers);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ws); i++) {
            if (watcher_stop(chan, PyList_GET_ITEM(ws, i), 1) < 0)
                rc = -1;
        }
        Py_DECREF(ws);
    }
    return rc;
}

PyDoc_STRVAR(destroy_doc, "destroy()\n\n"
"Destroy the channel: pending queries complete with gaierror/herror\n"
"(EAI_AGAIN, 'c-ares channel destroyed'), delivered from the loop; the\n"
"timer and io watchers are stopped.  Further queries raise ValueError.\n"
"Calling it again does nothing.");
static PyObject *
chan_destroy(gevc_ares_channel *chan, PyObject *unused)
{
    if (chan->ch == NULL)
        Py_RETURN_NONE;
    if (shutdown_channel(chan) < 0)
        return NULL;
    if (chan->ready == NULL || PyList_GET_SIZE(chan->ready) == 0)
        Py_RETURN_NONE;
    PyObject *r = gevc_ares_after_call(chan, Py_NewRef(Py_None));
    if (r == NULL) {
        /* a dead loop cannot run them: deliver here rather than lose them */
        PyErr_Clear();
        deliver(chan);
        Py_RETURN_NONE;
    }
    return r;
}

/* ---- construction ------------------------------------------------------- */

static int
port_option(PyObject *obj, const char *what, unsigned short *out, int *given)
{
    int v;
    if (gevc__ares_int(obj, what, -1, &v) < 0)
        return -1;
    if (v == -1 && (obj == NULL || obj == Py_None))
        return 0;
    if (v < 0 || v > 65535) {
        PyErr_Format(PyExc_ValueError, "%s must be 0-65535", what);
        return -1;
    }
    *out = (unsigned short)v;
    *given = 1;
    return 0;
}

static PyObject *
chan_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"loop", "flags", "timeout", "tries", "ndots",
                            "udp_port", "tcp_port", "servers", "lookups", NULL};
    PyObject *loop, *flags = NULL, *timeout = NULL, *tries = NULL, *ndots = NULL;
    PyObject *udp_port = NULL, *tcp_port = NULL, *servers = NULL, *lookups = NULL;
    struct ares_options opts;
    int optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS, given = 0, v;
    gevc_ares_channel *chan = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOOOOOOO:channel", names, &loop,
                                     &flags, &timeout, &tries, &ndots, &udp_port,
                                     &tcp_port, &servers, &lookups))
        return NULL;
    gevc_ares_state *st = PyType_GetModuleState(tp);
    if (st == NULL) {
        PyObject *mod = PyType_GetModuleByDef(tp, &gevc_ares_module);
        if (mod == NULL)
            return NULL;
        st = PyModule_GetState(mod);
    }
    memset(&opts, 0, sizeof(opts));
    /* an idle channel keeps its UDP socket (an unref'd watcher) instead of
     * reopening one for every lookup */
    if (gevc__ares_int(flags, "flags", ARES_FLAG_STAYOPEN, &opts.flags) < 0)
        return NULL;
    if (timeout != NULL && timeout != Py_None) {
        double t = PyFloat_AsDouble(timeout);
        if (t == -1.0 && PyErr_Occurred())
            return NULL;
        if (!(t > 0.0) || t > 1e6) {
            PyErr_SetString(PyExc_ValueError, "timeout must be a positive number of seconds");
            return NULL;
        }
        opts.timeout = (int)(t * 1000.0 + 0.5);
        if (opts.timeout < 1)
            opts.timeout = 1;
        optmask |= ARES_OPT_TIMEOUTMS;
    }
    if (tries != NULL && tries != Py_None) {
        if (gevc__ares_int(tries, "tries", 0, &v) < 0)
            return NULL;
        if (v < 1) {
            PyErr_SetString(PyExc_ValueError, "tries must be at least 1");
            return NULL;
        }
        opts.tries = v;
        optmask |= ARES_OPT_TRIES;
    }
    if (ndots != NULL && ndots != Py_None) {
        if (gevc__ares_int(ndots, "ndots", 0, &v) < 0)
            return NULL;
        if (v < 0) {
            PyErr_SetString(PyExc_ValueError, "ndots must not be negative");
            return NULL;
        }
        opts.ndots = v;
        optmask |= ARES_OPT_NDOTS;
    }
    given = 0;
    if (port_option(udp_port, "udp_port", &opts.udp_port, &given) < 0)
        return NULL;
    if (given)
        optmask |= ARES_OPT_UDP_PORT;
    given = 0;
    if (port_option(tcp_port, "tcp_port", &opts.tcp_port, &given) < 0)
        return NULL;
    if (given)
        optmask |= ARES_OPT_TCP_PORT;
    if (lookups != NULL && lookups != Py_None) {
        /* "b" DNS only, "f" hosts file only, "fb"/"bf" both in that order */
        const char *l = PyUnicode_Check(lookups) ? PyUnicode_AsUTF8(lookups) : NULL;
        if (l == NULL) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "lookups must be str, not %.100s",
                             Py_TYPE(lookups)->tp_name);
            return NULL;
        }
        if (strcmp(l, "b") && strcmp(l, "f") && strcmp(l, "fb") && strcmp(l, "bf")) {
            PyErr_SetString(PyExc_ValueError, "lookups must be 'b', 'f', 'fb' or 'bf'");
            return NULL;
        }
        opts.lookups = (char *)l;
        optmask |= ARES_OPT_LOOKUPS;
    }
    if (!PyObject_HasAttr(loop, st->str_io) || !PyObject_HasAttr(loop, st->str_timer) ||
        !PyObject_HasAttr(loop, st->str_run_callback)) {
        PyErr_Format(PyExc_TypeError, "channel() needs a gevent_c loop, not %.100s",
                     Py_TYPE(loop)->tp_name);
        return NULL;
    }

    chan = (gevc_ares_channel *)tp->tp_alloc(tp, 0);
    if (chan == NULL)
        return NULL;
    chan->st = st;
    chan->loop = Py_NewRef(loop);
    PyObject *weak = PyWeakref_NewRef((PyObject *)chan, NULL);
    if (weak == NULL)
        goto error;
    chan->on_io = PyCFunction_New(&on_io_def, weak);
    Py_DECREF(weak);
    if (chan->on_io == NULL || (chan->watchers = PyDict_New()) == NULL ||
        (chan->on_timer = PyCFunction_New(&on_timer_def, (PyObject *)chan)) == NULL ||
        (chan->drain = PyCFunction_New(&drain_def, (PyObject *)chan)) == NULL)
        goto error;
    opts.sock_state_cb = sock_state_cb;
    opts.sock_state_cb_data = chan;
    int status = ares_init_options(&chan->ch, &opts, optmask);
    if (status != ARES_SUCCESS) {
        chan->ch = NULL;
        if (status == ARES_ENOMEM)
            PyErr_NoMemory();
        else
            PyErr_Format(PyExc_OSError, "c-ares: %s", ares_strerror(status));
        goto error;
    }
    if (servers != NULL && servers != Py_None && set_servers(chan, servers) < 0)
        goto error;
    return (PyObject *)chan;
error:
    Py_DECREF(chan);
    return NULL;
}

/* ---- GC ------------------------------------------------------------------ */

static int
chan_traverse(gevc_ares_channel *chan, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(chan));
    Py_VISIT(chan->loop);
    Py_VISIT(chan->watchers);
    Py_VISIT(chan->timer);
    Py_VISIT(chan->on_io);
    Py_VISIT(chan->on_timer);
    Py_VISIT(chan->drain);
    Py_VISIT(chan->ready);
    return 0;
}

static int
chan_clear(gevc_ares_channel *chan)
{
    PyObject *saved = exc_save();
    if (shutdown_channel(chan) < 0)
        PyErr_WriteUnraisable((PyObject *)chan);
    exc_restore(saved);
    Py_CLEAR(chan->watchers);
    Py_CLEAR(chan->timer);
    Py_CLEAR(chan->on_io);
    Py_CLEAR(chan->on_timer);
    Py_CLEAR(chan->drain);
    Py_CLEAR(chan->ready);
    Py_CLEAR(chan->loop);
    return 0;
}

static void
chan_dealloc(gevc_ares_channel *chan)
{
    PyTypeObject *tp = Py_TYPE(chan);
    PyObject_GC_UnTrack(chan);
    if (chan->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)chan);
    chan_clear(chan);
    tp->tp_free(chan);
    Py_DECREF(tp);
}

/* ---- attributes ------------------------------------------------------------ */

static PyObject *
get_pending(gevc_ares_channel *chan, void *c)
{
    return PyLong_FromSsize_t(chan->pending);
}

static PyObject *
get_closed(gevc_ares_channel *chan, void *c)
{
    return PyBool_FromLong(chan->ch == NULL);
}

static PyObject *
get_loop(gevc_ares_channel *chan, void *c)
{
    return Py_NewRef(chan->loop ? chan->loop : Py_None);
}

static PyObject *
get_watchers(gevc_ares_channel *chan, void *c)
{
    return chan->watchers ? PyDict_Copy(chan->watchers) : PyDict_New();
}

static PyObject *
get_timer(gevc_ares_channel *chan, void *c)
{
    return Py_NewRef(chan->timer ? chan->timer : Py_None);
}

static PyObject *
chan_repr(gevc_ares_channel *chan)
{
    return PyUnicode_FromFormat("<%s at %p %s pending=%zd>", Py_TYPE(chan)->tp_name,
                                chan, chan->ch ? "open" : "destroyed", chan->pending);
}

static PyGetSetDef chan_getset[] = {
    {"pending", (getter)get_pending, NULL, "Queries in flight.", NULL},
    {"closed", (getter)get_closed, NULL, "True once destroy() ran.", NULL},
    {"loop", (getter)get_loop, NULL, "The loop driving this channel.", NULL},
    {"_watchers", (getter)get_watchers, NULL, "fd -> io watcher (a copy).", NULL},
    {"_timer", (getter)get_timer, NULL, "The armed timeout timer, or None.", NULL},
    {NULL}
};

static PyMethodDef chan_methods[] = {
    {"gethostbyname", (PyCFunction)(void (*)(void))gevc_ares_gethostbyname,
     METH_FASTCALL | METH_KEYWORDS, gevc_ares_gethostbyname_doc},
    {"gethostbyaddr", (PyCFunction)(void (*)(void))gevc_ares_gethostbyaddr,
     METH_FASTCALL | METH_KEYWORDS, gevc_ares_gethostbyaddr_doc},
    {"getaddrinfo", (PyCFunction)(void (*)(void))gevc_ares_getaddrinfo,
     METH_FASTCALL | METH_KEYWORDS, gevc_ares_getaddrinfo_doc},
    {"getnameinfo", (PyCFunction)(void (*)(void))gevc_ares_getnameinfo,
     METH_FASTCALL | METH_KEYWORDS, gevc_ares_getnameinfo_doc},
    {"set_servers", (PyCFunction)chan_set_servers, METH_O, set_servers_doc},
    {"destroy", (PyCFunction)chan_destroy, METH_NOARGS, destroy_doc},
    {NULL}
};

static PyMemberDef chan_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(gevc_ares_channel, weakrefs), READONLY},
    {NULL}
};

PyDoc_STRVAR(chan_doc, "channel(loop, flags=None, timeout=None, tries=None, ndots=None,\n"
"        udp_port=None, tcp_port=None, servers=None, lookups=None)\n\n"
"A c-ares channel driven by a gevent_c loop: its sockets are io watchers\n"
"and a timer runs its timeouts.  timeout is in seconds (float); servers is\n"
"as for set_servers(); lookups is c-ares' source order ('fb': hosts file,\n"
"then DNS; 'b': DNS only).  Query methods take a callback first and return at\n"
"once; the callback later receives one argument from the loop: the result,\n"
"or a socket.gaierror/herror instance on failure.");

static PyType_Slot chan_slots[] = {
    {Py_tp_new, chan_new},
    {Py_tp_dealloc, chan_dealloc},
    {Py_tp_traverse, chan_traverse},
    {Py_tp_clear, chan_clear},
    {Py_tp_repr, chan_repr},
    {Py_tp_getset, chan_getset},
    {Py_tp_methods, chan_methods},
    {Py_tp_members, chan_members},
    {Py_tp_doc, (void *)chan_doc},
    {0, NULL}
};

PyType_Spec gevc_ares_channel_spec = {
    .name = "gevent_c._ares.channel",
    .basicsize = sizeof(gevc_ares_channel),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = chan_slots,
};
