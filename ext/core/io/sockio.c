/* The cooperative socket's hot paths: recv, recv_into, send, sendall and
 * the waits under them (_wait_read, _wait_write); recvfrom, recvfrom_into,
 * recvmsg, recvmsg_into and sendmsg, which are the stdlib's methods in a
 * wait-and-retry loop.
 *
 * gevent_c.socket.socket lists SocketMethods first among its bases and
 * keeps its state in __slots__ (hub, timeout, the two io watchers, the
 * greenlet waiting on each, _drained).  _socket_setup(cls) records where
 * those slots live, so these methods read and write the very attributes
 * the Python methods of the class use.  The descriptor comes from the
 * stdlib's _socket.socket, whose C struct starts with it (checked at
 * setup).  The fd is always non-blocking: each call makes the system call
 * first and waits on the socket's own io watcher only on EAGAIN.
 *
 * Arguments of an unusual shape (keywords, non-int sizes) go to the
 * stdlib's own method in a retry loop, so its errors come out unchanged. */
#include "io.h"

#include <errno.h>
#include <sys/socket.h>
#include <time.h>

/* Transfers at least this large release the GIL for the copy. */
#define GIL_FREE_MIN (64 * 1024)
/* recv(n) with n up to this reads into the stack and allocates the bytes
 * object at its final size. */
#define SMALL_RECV 8192

enum { S_HUB, S_TIMEOUT, S_READ_EVENT, S_WRITE_EVENT, S_READER, S_WRITER,
       S_DRAINED, S_COUNT };
_Static_assert(S_COUNT == GEVC_SOCK_NSLOTS, "gevc_io_state.sock.off has one entry a slot");

static const char *const slot_names[S_COUNT] = {
    "hub", "timeout", "_read_event", "_write_event", "_reader", "_writer",
    "_drained",
};

/* _socket.socket's own methods, called for unusual arguments and for the
 * methods that are only a retry loop around them */
enum { M_RECV, M_RECV_INTO, M_SEND, M_SENDALL, M_RECVFROM, M_RECVFROM_INTO,
       M_RECVMSG, M_RECVMSG_INTO, M_SENDMSG, M_COUNT };
_Static_assert(M_COUNT == GEVC_SOCK_NMETHODS, "gevc_io_state.sock.meth has one entry a method");

static const char *const meth_names[M_COUNT] = {
    "recv", "recv_into", "send", "sendall", "recvfrom", "recvfrom_into",
    "recvmsg", "recvmsg_into", "sendmsg",
};

/* The head of CPython's PySocketSockObject (Modules/socketmodule.h). */
typedef struct {
    PyObject_HEAD
    int sock_fd;
} stdsock_head;

#define SOCK_FD(self) (((stdsock_head *)(self))->sock_fd)
#define SLOT(st, self, i) (*(PyObject **)((char *)(self) + (st)->sock.off[i]))

static void
slot_set(gevc_io_state *st, PyObject *self, int i, PyObject *value)
{
    PyObject *old = SLOT(st, self, i);
    SLOT(st, self, i) = Py_NewRef(value);
    Py_XDECREF(old);
}

static gevc_io_state *
state_of(PyTypeObject *defcls)
{
    return (gevc_io_state *)PyType_GetModuleState(defcls);
}

static int
check_self(gevc_io_state *st, PyObject *self)
{
    if (st->sock.cls != NULL && PyObject_TypeCheck(self, st->sock.cls))
        return 0;
    /* classes registered before (a reloaded gevent_c.socket) */
    for (Py_ssize_t i = 0; st->sock.classes && i < PyList_GET_SIZE(st->sock.classes); i++)
        if (PyObject_TypeCheck(self, (PyTypeObject *)PyList_GET_ITEM(st->sock.classes, i)))
            return 0;
    PyErr_Format(PyExc_TypeError, "%s is not a gevent_c.socket.socket",
                 Py_TYPE(self)->tp_name);
    return -1;
}

/* The socket's timeout in seconds; -1 for None (block forever). */
static int
sock_timeout(gevc_io_state *st, PyObject *self, double *out)
{
    PyObject *t = SLOT(st, self, S_TIMEOUT);
    if (t == NULL || t == Py_None) {
        *out = -1.0;
        return 0;
    }
    *out = PyFloat_CheckExact(t) ? PyFloat_AS_DOUBLE(t) : PyFloat_AsDouble(t);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static double
monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- waiting ---------------------------------------------------------- */

/* obj.name(*args, **kw) for at most 3 arguments and keyword values */
static PyObject *
call_method(PyObject *obj, PyObject *name, PyObject *const *args, size_t nargs,
            PyObject *kwnames)
{
    PyObject *stack[4] = {obj, NULL, NULL, NULL};
    size_t total = nargs + (kwnames ? (size_t)PyTuple_GET_SIZE(kwnames) : 0);
    if (total > 3) {
        PyErr_SetString(PyExc_SystemError, "call_method: too many arguments");
        return NULL;
    }
    for (size_t i = 0; i < total; i++)
        stack[i + 1] = args[i];
    return PyObject_VectorcallMethod(name, stack, (nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                     kwnames);
}

/* Start `watcher` so that it switches into `glet` with the watcher as the
 * value.  Our own watcher types are started directly; the greenlet's switch
 * is taken from its type and called unbound, so no bound method is made. */
static int
start_switching(gevc_io_state *st, PyObject *watcher, PyObject *glet, int update)
{
    PyObject *sw = _PyType_Lookup(Py_TYPE(glet), st->hub.str_switch), *args[2], *res;
    int own = Py_IS_TYPE(watcher, st->hub.loop.io_type) || Py_IS_TYPE(watcher, st->hub.loop.timer_type);

    if (sw != NULL && (Py_TYPE(sw)->tp_flags & Py_TPFLAGS_METHOD_DESCRIPTOR) && own) {
        gevc_watcher *w = (gevc_watcher *)watcher;
        args[0] = glet;
        args[1] = watcher;
        if (gevc_loop_check(w->loop) < 0 ||
            gevc_watcher_set_callback(w, sw, args, 2, NULL) < 0)
            return -1;
        if (update)
            ev_now_update(w->loop->ev);
        gevc_watcher_activate(w);
        return 0;
    }
    sw = PyObject_GetAttr(glet, st->hub.str_switch);
    if (sw == NULL)
        return -1;
    args[0] = sw;
    args[1] = watcher;
    if (update) {
        PyObject *kwargs[3] = {sw, watcher, Py_True}, *kwnames;
        kwnames = PyTuple_Pack(1, st->hub.str_update);
        res = kwnames ? call_method(watcher, st->hub.str_start, kwargs, 2, kwnames) : NULL;
        Py_XDECREF(kwnames);
    }
    else {
        res = call_method(watcher, st->hub.str_start, args, 2, NULL);
    }
    Py_DECREF(sw);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

/* stop() the watcher, keeping any exception already raised. */
static int
stop_watcher(gevc_io_state *st, PyObject *watcher)
{
    PyObject *exc, *res;
    if (Py_IS_TYPE(watcher, st->hub.loop.io_type) || Py_IS_TYPE(watcher, st->hub.loop.timer_type)) {
        gevc_watcher_stop((gevc_watcher *)watcher);
        return 0;
    }
    exc = gevc__exc_take();
    res = call_method(watcher, st->hub.str_stop, NULL, 0, NULL);
    if (res == NULL) {
        if (exc == NULL)
            return -1;
        PyErr_WriteUnraisable(watcher);
    }
    Py_XDECREF(res);
    gevc__exc_raise(exc);
    return 0;
}

static PyObject *
new_watcher(gevc_io_state *st, PyObject *hub, PyObject *name, PyObject *arg1,
            PyObject *arg2)
{
    PyObject *loop = gevc_hub_loop(&st->hub, hub), *args[2] = {arg1, arg2}, *w;
    if (loop == NULL)
        return NULL;
    if (Py_IS_TYPE(loop, st->hub.loop.loop_type) && name == st->hub.str_timer)
        w = gevc_watcher_new_from_loop(st->hub.loop.timer_type, &gevc_timer_kind,
                                       (gevc_loop *)loop, args, 1, NULL);
    else if (Py_IS_TYPE(loop, st->hub.loop.loop_type))
        w = gevc_watcher_new_from_loop(st->hub.loop.io_type, &gevc_io_kind,
                                       (gevc_loop *)loop, args, 2, NULL);
    else
        w = call_method(loop, name, args, arg2 ? 2 : 1, NULL);
    Py_DECREF(loop);
    return w;
}

/* The socket's io watcher for `which` (0 read, 1 write), made on first
 * use and kept in its slot (new reference). */
static PyObject *
sock_watcher(gevc_io_state *st, PyObject *self, int which)
{
    int i = which ? S_WRITE_EVENT : S_READ_EVENT;
    PyObject *w = SLOT(st, self, i), *fd, *events;
    if (w != NULL && w != Py_None)
        return Py_NewRef(w);
    fd = PyLong_FromLong(SOCK_FD(self));
    events = PyLong_FromLong(which ? EV_WRITE : EV_READ);
    w = fd && events ? new_watcher(st, SLOT(st, self, S_HUB), st->str_io, fd, events) : NULL;
    Py_XDECREF(fd);
    Py_XDECREF(events);
    if (w != NULL)
        slot_set(st, self, i, w);
    return w;
}

static int
raise_concurrent(gevc_io_state *st, PyObject *glet)
{
    PyObject *tp = gevc__exception(&st->hub, "ConcurrentObjectUseError");
    if (tp != NULL) {
        PyErr_Format(tp, "This socket is already used by another greenlet: %R", glet);
        Py_DECREF(tp);
    }
    return -1;
}

static int
raise_invalid_switch(gevc_io_state *st, PyObject *glet, PyObject *got, PyObject *watcher)
{
    PyObject *tp = gevc__exception(&st->hub, "InvalidSwitchError");
    if (tp != NULL) {
        PyErr_Format(tp, "Invalid switch into %S: got %R (expected %R)", glet, got, watcher);
        Py_DECREF(tp);
    }
    return -1;
}

static int
raise_timeout(PyObject *message)
{
    /* an instance: a tuple or None message must not become the args */
    PyObject *exc = PyObject_CallOneArg(PyExc_TimeoutError, message);
    if (exc != NULL) {
        PyErr_SetObject(PyExc_TimeoutError, exc);
        Py_DECREF(exc);
    }
    return -1;
}

/* Block the current greenlet until the fd is ready for `which` (0 read,
 * 1 write) or `timeout` seconds pass (< 0: no limit); then TimeoutError
 * with `message`.  0 when ready, -1 with an exception. */
static int
sock_wait(gevc_io_state *st, PyObject *self, int which, double timeout, PyObject *message)
{
    int gi = which ? S_WRITER : S_READER, rc = -1, stopped;
    PyObject *busy = SLOT(st, self, gi), *hub = SLOT(st, self, S_HUB);
    PyObject *watcher, *timer = NULL, *glet = NULL, *res = NULL;

    if (busy != NULL && busy != Py_None)
        return raise_concurrent(st, busy);
    if (hub == NULL) {
        PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute 'hub'",
                     Py_TYPE(self)->tp_name);
        return -1;
    }
    Py_INCREF(hub);
    watcher = sock_watcher(st, self, which);
    if (watcher == NULL || (glet = st->hub.gapi->getcurrent()) == NULL ||
        start_switching(st, watcher, glet, 0) < 0)
        goto done;
    if (timeout >= 0) {
        PyObject *secs = PyFloat_FromDouble(timeout);
        timer = secs ? new_watcher(st, hub, st->hub.str_timer, secs, NULL) : NULL;
        Py_XDECREF(secs);
        if (timer == NULL || start_switching(st, timer, glet, 1) < 0) {
            stop_watcher(st, watcher);
            goto done;
        }
    }
    slot_set(st, self, gi, glet);
    res = gevc_hub_switch(&st->hub, hub);
    slot_set(st, self, gi, Py_None);
    /* both, whatever happens to the first: a running timer would switch
     * into this greenlet later */
    stopped = stop_watcher(st, watcher);
    if (timer != NULL && stop_watcher(st, timer) < 0)
        stopped = -1;
    if (stopped < 0)
        Py_CLEAR(res);
    if (res == NULL)
        goto done;
    if (res == watcher)
        rc = 0;
    else if (timer != NULL && res == timer)
        raise_timeout(message);
    else
        raise_invalid_switch(st, glet, res, watcher);
done:
    Py_XDECREF(res);
    Py_XDECREF(timer);
    Py_XDECREF(glet);
    Py_XDECREF(watcher);
    Py_DECREF(hub);
    return rc;
}

/* The socket's timeout for one call.  As in the stdlib's sock_call_ex,
 * it is a deadline for the whole call: each wait gets what is left. */
typedef struct {
    double timeout;                /* < 0: none; 0: non-blocking */
    double deadline;               /* 0 until the first wait (or sendall's start) */
} budget;

static int
budget_init(gevc_io_state *st, PyObject *self, budget *b)
{
    b->deadline = 0.0;
    return sock_timeout(st, self, &b->timeout);
}

/* Wait for `which` within the budget: 0 ready, -1 with an exception. */
static int
budget_wait(gevc_io_state *st, PyObject *self, int which, budget *b)
{
    double left = b->timeout;
    if (b->timeout > 0) {
        double now = monotonic();
        if (b->deadline == 0.0)
            b->deadline = now + b->timeout;
        else if ((left = b->deadline - now) <= 0)
            return raise_timeout(st->str_timed_out);
    }
    return sock_wait(st, self, which, left, st->str_timed_out);
}

static int
raise_errno(int err)
{
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

/* After a failed system call: 1 to try again (EINTR, or EAGAIN once the
 * fd is ready), -1 with an exception.  `dontwait`: the caller's
 * MSG_DONTWAIT, which makes EAGAIN an error as on a non-blocking socket. */
static int
after_failure(gevc_io_state *st, PyObject *self, int which, int err, budget *b,
              int dontwait)
{
    if (err == EINTR)
        return PyErr_CheckSignals() < 0 ? -1 : 1;
    if ((err != EAGAIN && err != EWOULDBLOCK) || b->timeout == 0.0 || dontwait)
        return raise_errno(err);
    return budget_wait(st, self, which, b) < 0 ? -1 : 1;
}

/* Call the stdlib's `meth` (self, *args, **kw); while it raises
 * BlockingIOError and the socket has a timeout, wait for `which` and call
 * it again (which < 0: call it once).  Bound first, so that argument
 * errors read "recv() ..." exactly as the stdlib's do. */
static PyObject *
call_stdlib(gevc_io_state *st, PyObject *self, PyObject *meth, PyObject *const *args,
            Py_ssize_t nargs, PyObject *kwnames, int which)
{
    PyObject *res, *bound = Py_TYPE(meth)->tp_descr_get(meth, self, (PyObject *)Py_TYPE(self));
    budget b;

    if (bound == NULL)
        return NULL;
    b.deadline = 0.0;
    for (;;) {
        PyObject *exc;
        res = PyObject_Vectorcall(bound, args, (size_t)nargs, kwnames);
        if (res != NULL || which < 0 || !PyErr_ExceptionMatches(PyExc_BlockingIOError))
            break;
        exc = gevc__exc_take();
        if (sock_timeout(st, self, &b.timeout) < 0) {
            Py_DECREF(exc);
            break;
        }
        if (b.timeout == 0.0) {
            gevc__exc_raise(exc);
            break;
        }
        Py_DECREF(exc);
        if (budget_wait(st, self, which, &b) < 0)
            break;
    }
    Py_DECREF(bound);
    return res;
}

/* The stdlib parser's "i": an index that fits a C int.  0 (no exception)
 * when it is not one: the stdlib's own call then says what is wrong. */
static int
small_int(PyObject *o, int *out)
{
    int overflow;
    long v;
    if (PyLong_CheckExact(o)) {
        v = PyLong_AsLongAndOverflow(o, &overflow);
    }
    else {
        PyObject *index = PyIndex_Check(o) ? PyNumber_Index(o) : NULL;
        if (index == NULL) {
            PyErr_Clear();
            return 0;
        }
        v = PyLong_AsLongAndOverflow(index, &overflow);
        Py_DECREF(index);
    }
    if (overflow || v < INT_MIN || v > INT_MAX)
        return 0;
    *out = (int)v;
    return 1;
}

static void
set_drained(gevc_io_state *st, PyObject *self, int drained)
{
    slot_set(st, self, S_DRAINED, drained ? Py_True : Py_False);
}

/* After a short read the kernel's buffer is almost surely empty: wait for
 * readability first rather than pay for a recv that fails with EAGAIN
 * (request/response traffic). */
static int
wait_if_drained(gevc_io_state *st, PyObject *self, budget *b, int flags)
{
    if (SLOT(st, self, S_DRAINED) != Py_True || b->timeout == 0.0 || (flags & MSG_DONTWAIT))
        return 0;
    return budget_wait(st, self, 0, b);
}

/* recv(2) or send(2) that never blocks, whatever the file's mode (another
 * handle on it may have made it blocking): the GIL is released only for
 * the copy of a large transfer */
static ssize_t
transfer(int fd, void *buf, Py_ssize_t len, int flags, int sending)
{
    ssize_t n;
    flags |= MSG_DONTWAIT;
    if (len < GIL_FREE_MIN)
        return sending ? send(fd, buf, (size_t)len, flags) : recv(fd, buf, (size_t)len, flags);
    Py_BEGIN_ALLOW_THREADS
    n = sending ? send(fd, buf, (size_t)len, flags) : recv(fd, buf, (size_t)len, flags);
    Py_END_ALLOW_THREADS
    return n;
}

/* transfer() until it succeeds, waiting on the hub within the budget
 * whenever the kernel would block: bytes moved, or -1 with an exception. */
static ssize_t
transfer_waiting(gevc_io_state *st, PyObject *self, void *buf, Py_ssize_t len, int flags,
                 int sending, budget *b)
{
    ssize_t n;
    while ((n = transfer(SOCK_FD(self), buf, len, flags, sending)) < 0) {
        if (after_failure(st, self, sending, errno, b, flags & MSG_DONTWAIT) < 0)
            return -1;
    }
    return n;
}

/* ---- receiving -------------------------------------------------------- */

/* One recv(2) of at most SMALL_RECV bytes, through a stack buffer.  Out of
 * line so the buffer is never part of a frame a greenlet switch saves.
 * 0 with *out set; -1 with errno (no exception) or with an exception. */
static Py_NO_INLINE int
recv_small(int fd, Py_ssize_t len, int flags, PyObject **out)
{
    char buf[SMALL_RECV];
    ssize_t n = recv(fd, buf, (size_t)len, flags | MSG_DONTWAIT);
    if (n < 0)
        return -1;
    /* MSG_TRUNC answers the datagram's whole length */
    *out = PyBytes_FromStringAndSize(buf, n < len ? n : len);
    if (*out == NULL)
        errno = 0;
    return *out == NULL ? -1 : 0;
}

static int
recv_large(int fd, Py_ssize_t len, int flags, PyObject **out)
{
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, len);
    ssize_t n;
    if (bytes == NULL) {
        errno = 0;
        return -1;
    }
    n = transfer(fd, PyBytes_AS_STRING(bytes), len, flags, 0);
    if (n < 0) {
        int err = errno;
        Py_DECREF(bytes);
        errno = err;
        return -1;
    }
    if (n < len && _PyBytes_Resize(&bytes, n) < 0) {
        errno = 0;
        return -1;
    }
    *out = bytes;
    return 0;
}

PyDoc_STRVAR(recv_doc, "recv(bufsize[, flags]) -> bytes\n\n"
"Receive up to bufsize bytes; b'' at the end of the stream.  Waits on the\n"
"hub while nothing is there, up to the socket's timeout.");
static PyObject *
sock_recv(PyObject *self, PyTypeObject *defcls, PyObject *const *args,
          Py_ssize_t nargs, PyObject *kwnames)
{
    gevc_io_state *st = state_of(defcls);
    PyObject *data = NULL;
    Py_ssize_t len;
    int flags = 0, r;
    budget b;

    if (check_self(st, self) < 0)
        return NULL;
    if (kwnames != NULL || nargs < 1 || nargs > 2 || !PyLong_CheckExact(args[0]) ||
        (nargs == 2 && !small_int(args[1], &flags))) {
        set_drained(st, self, 0);
        return call_stdlib(st, self, st->sock.meth[M_RECV], args, nargs, kwnames, 0);
    }
    len = PyLong_AsSsize_t(args[0]);
    if (len == -1 && PyErr_Occurred())
        return NULL;
    if (len < 0) {
        PyErr_SetString(PyExc_ValueError, "negative buffersize in recv");
        return NULL;
    }
    if (len == 0)                  /* the stdlib makes no call either */
        return PyBytes_FromStringAndSize(NULL, 0);
    if (budget_init(st, self, &b) < 0 || wait_if_drained(st, self, &b, flags) < 0)
        return NULL;
    do {
        int fd = SOCK_FD(self);
        r = len <= SMALL_RECV ? recv_small(fd, len, flags, &data)
                              : recv_large(fd, len, flags, &data);
        if (r == 0)
            break;
        if (errno == 0)
            return NULL;
        r = after_failure(st, self, 0, errno, &b, flags & MSG_DONTWAIT);
    } while (r > 0);
    if (data == NULL)
        return NULL;
    set_drained(st, self, PyBytes_GET_SIZE(data) < len);
    return data;
}

PyDoc_STRVAR(recv_into_doc, "recv_into(buffer[, nbytes[, flags]]) -> nbytes\n\n"
"Receive up to nbytes (default: the buffer's size) into buffer; 0 at the end\n"
"of the stream.  Waits on the hub as recv() does.");
static PyObject *
sock_recv_into(PyObject *self, PyTypeObject *defcls, PyObject *const *args,
               Py_ssize_t nargs, PyObject *kwnames)
{
    gevc_io_state *st = state_of(defcls);
    Py_buffer view;
    Py_ssize_t want = 0;
    ssize_t n;
    int flags = 0;
    budget b;

    if (check_self(st, self) < 0)
        return NULL;
    if (kwnames != NULL || nargs < 1 || nargs > 3 ||
        (nargs >= 2 && !PyLong_CheckExact(args[1])) ||
        (nargs == 3 && !small_int(args[2], &flags)) ||
        PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        set_drained(st, self, 0);
        return call_stdlib(st, self, st->sock.meth[M_RECV_INTO], args, nargs, kwnames, 0);
    }
    if (nargs >= 2 && (want = PyLong_AsSsize_t(args[1])) == -1 && PyErr_Occurred())
        goto error;
    if (want < 0) {
        PyErr_SetString(PyExc_ValueError, "negative buffersize in recv_into");
        goto error;
    }
    if (want == 0)
        want = view.len;
    if (view.len < want) {
        PyErr_SetString(PyExc_ValueError, "buffer too small for requested bytes");
        goto error;
    }
    if (want == 0) {               /* the stdlib makes no call either */
        PyBuffer_Release(&view);
        return PyLong_FromLong(0);
    }
    if (budget_init(st, self, &b) < 0 || wait_if_drained(st, self, &b, flags) < 0)
        goto error;
    if ((n = transfer_waiting(st, self, view.buf, want, flags, 0, &b)) < 0)
        goto error;
    PyBuffer_Release(&view);
    set_drained(st, self, n < want);
    return PyLong_FromSsize_t(n);
error:
    PyBuffer_Release(&view);
    return NULL;
}

/* ---- sending ---------------------------------------------------------- */

PyDoc_STRVAR(send_doc, "send(data[, flags]) -> number of bytes sent\n\n"
"Send what the kernel takes now, at least one byte; waits on the hub while\n"
"it takes nothing, up to the socket's timeout.");
static PyObject *
sock_send(PyObject *self, PyTypeObject *defcls, PyObject *const *args,
          Py_ssize_t nargs, PyObject *kwnames)
{
    gevc_io_state *st = state_of(defcls);
    Py_buffer view;
    ssize_t n;
    int flags = 0;
    budget b;

    if (check_self(st, self) < 0)
        return NULL;
    if (kwnames != NULL || nargs < 1 || nargs > 2 ||
        (nargs == 2 && !small_int(args[1], &flags)) ||
        PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        return call_stdlib(st, self, st->sock.meth[M_SEND], args, nargs, kwnames, 1);
    }
    n = budget_init(st, self, &b) < 0 ? -1
        : transfer_waiting(st, self, view.buf, view.len, flags, 1, &b);
    PyBuffer_Release(&view);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

PyDoc_STRVAR(sendall_doc, "sendall(data, flags=0)\n\n"
"Send all of data, waiting on the hub whenever the kernel's buffer is full.\n"
"The socket's timeout bounds the whole call, as in the stdlib: on expiry\n"
"socket.timeout is raised and how much was sent is unknown.");
static PyObject *
sock_sendall(PyObject *self, PyTypeObject *defcls, PyObject *const *args,
             Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"data", "flags", NULL};
    gevc_io_state *st = state_of(defcls);
    PyObject *a[2], *stack[2];
    Py_buffer view;
    Py_ssize_t sent = 0;
    int flags = 0;
    budget b;

    if (check_self(st, self) < 0)
        return NULL;
    /* positional: the stdlib's signature, and its errors for a wrong count;
     * data= and flags= are gevent's */
    if (kwnames == NULL && (nargs < 1 || nargs > 2))
        return call_stdlib(st, self, st->sock.meth[M_SENDALL], args, nargs, NULL, -1);
    if (gevc__parse("sendall", args, nargs, kwnames, names, 2, 1, a) < 0 ||
        budget_init(st, self, &b) < 0)
        return NULL;
    stack[0] = a[0];
    stack[1] = a[1];
    /* Never in a retry loop: the stdlib's sendall does not say how much it
     * sent before BlockingIOError.  Called once, for a non-blocking socket
     * (what it does is right then), or for flags or data it refuses before
     * sending anything (its error is the one to raise). */
    if (b.timeout == 0.0 || (a[1] != NULL && !small_int(a[1], &flags)) ||
        PyObject_GetBuffer(a[0], &view, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        return call_stdlib(st, self, st->sock.meth[M_SENDALL], stack, a[1] ? 2 : 1, NULL, -1);
    }
    /* a reply to what is sent now cannot be there yet: the next recv waits */
    set_drained(st, self, 1);
    if (b.timeout > 0)
        b.deadline = monotonic() + b.timeout;
    for (;;) {
        ssize_t n = transfer(SOCK_FD(self), (char *)view.buf + sent, view.len - sent,
                             flags, 1);
        if (n >= 0) {
            sent += n;
            if (sent >= view.len)
                break;
            /* a partial write may mean a signal came: its handler runs now */
            if (PyErr_CheckSignals() < 0)
                goto error;
        }
        else if (after_failure(st, self, 1, errno, &b, 0) < 0) {
            goto error;
        }
        else {
            continue;              /* ready again: no wait below */
        }
        if (budget_wait(st, self, 1, &b) < 0)
            goto error;
    }
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
error:
    PyBuffer_Release(&view);
    return NULL;
}

/* ---- the methods that are the stdlib's in a retry loop ----------------- */

#define RETRY_METHOD(fname, index, which)                                       \
    static PyObject *                                                           \
    fname(PyObject *self, PyTypeObject *defcls, PyObject *const *args,          \
          Py_ssize_t nargs, PyObject *kwnames)                                  \
    {                                                                           \
        gevc_io_state *st = state_of(defcls);                                      \
        if (check_self(st, self) < 0)                                           \
            return NULL;                                                        \
        if (st->sock.meth[index] == NULL) {                                     \
            PyErr_SetString(PyExc_AttributeError, meth_names[index]);           \
            return NULL;                                                        \
        }                                                                       \
        return call_stdlib(st, self, st->sock.meth[index], args, nargs,        \
                            kwnames, which);                                    \
    }

RETRY_METHOD(sock_recvfrom, M_RECVFROM, 0)
RETRY_METHOD(sock_recvfrom_into, M_RECVFROM_INTO, 0)
RETRY_METHOD(sock_recvmsg, M_RECVMSG, 0)
RETRY_METHOD(sock_recvmsg_into, M_RECVMSG_INTO, 0)
RETRY_METHOD(sock_sendmsg, M_SENDMSG, 1)

PyDoc_STRVAR(recvfrom_doc, "recvfrom(bufsize[, flags]) -> (bytes, address)\n\n"
"As recv(), with the sender's address.");
PyDoc_STRVAR(recvfrom_into_doc, "recvfrom_into(buffer[, nbytes[, flags]]) -> (nbytes, address)\n\n"
"As recv_into(), with the sender's address.");
PyDoc_STRVAR(recvmsg_doc, "recvmsg(bufsize[, ancbufsize[, flags]]) -> "
"(data, ancdata, msg_flags, address)\n\n"
"Receive data and ancillary data; waits on the hub as recv() does.");
PyDoc_STRVAR(recvmsg_into_doc, "recvmsg_into(buffers[, ancbufsize[, flags]]) -> "
"(nbytes, ancdata, msg_flags, address)\n\n"
"As recvmsg(), into the given buffers.");
PyDoc_STRVAR(sendmsg_doc, "sendmsg(buffers[, ancdata[, flags[, address]]]) -> number of bytes sent\n\n"
"Send data and ancillary data; waits on the hub as send() does.");

/* ---- the waits, for the methods written in Python ---------------------- */

static PyObject *
wait_method(PyObject *self, PyTypeObject *defcls, PyObject *const *args,
            Py_ssize_t nargs, PyObject *kwnames, int which)
{
    static const char *const names[] = {"timeout", "message", NULL};
    gevc_io_state *st = state_of(defcls);
    PyObject *a[2];
    double timeout;

    if (check_self(st, self) < 0 ||
        gevc__parse(which ? "_wait_write" : "_wait_read", args, nargs, kwnames,
                    names, 2, 0, a) < 0)
        return NULL;
    if (a[0] == NULL || a[0] == Py_None) {
        if (sock_timeout(st, self, &timeout) < 0)
            return NULL;
    }
    else if ((timeout = PyFloat_AsDouble(a[0])) == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    else if (timeout < 0) {
        timeout = 0.0;   /* already past: time out on the next iteration */
    }
    if (sock_wait(st, self, which, timeout, a[1] ? a[1] : st->str_timed_out) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(wait_read_doc, "_wait_read(timeout=None, message='timed out')\n\n"
"Block until the socket is readable.  timeout None: the socket's own;\n"
"on expiry socket.timeout(message).");
static PyObject *
sock_wait_read(PyObject *self, PyTypeObject *defcls, PyObject *const *args,
               Py_ssize_t nargs, PyObject *kwnames)
{
    return wait_method(self, defcls, args, nargs, kwnames, 0);
}

PyDoc_STRVAR(wait_write_doc, "_wait_write(timeout=None, message='timed out')\n\n"
"Block until the socket is writable; as _wait_read.");
static PyObject *
sock_wait_write(PyObject *self, PyTypeObject *defcls, PyObject *const *args,
                Py_ssize_t nargs, PyObject *kwnames)
{
    return wait_method(self, defcls, args, nargs, kwnames, 1);
}

#define SOCK_METHOD(name, func, doc) \
    {name, (PyCFunction)(void (*)(void))func, METH_METHOD | METH_FASTCALL | METH_KEYWORDS, doc}

static PyMethodDef socketmethods_methods[] = {
    SOCK_METHOD("recv", sock_recv, recv_doc),
    SOCK_METHOD("recv_into", sock_recv_into, recv_into_doc),
    SOCK_METHOD("send", sock_send, send_doc),
    SOCK_METHOD("sendall", sock_sendall, sendall_doc),
    SOCK_METHOD("recvfrom", sock_recvfrom, recvfrom_doc),
    SOCK_METHOD("recvfrom_into", sock_recvfrom_into, recvfrom_into_doc),
    SOCK_METHOD("recvmsg", sock_recvmsg, recvmsg_doc),
    SOCK_METHOD("recvmsg_into", sock_recvmsg_into, recvmsg_into_doc),
    SOCK_METHOD("sendmsg", sock_sendmsg, sendmsg_doc),
    SOCK_METHOD("_wait_read", sock_wait_read, wait_read_doc),
    SOCK_METHOD("_wait_write", sock_wait_write, wait_write_doc),
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(socketmethods_doc, "SocketMethods\n\n"
"The hot methods of gevent_c.socket.socket, in C: recv, recv_into, send,\n"
"sendall, recvfrom, recvfrom_into, recvmsg, recvmsg_into, sendmsg,\n"
"_wait_read, _wait_write.  A base class of that socket only; its methods\n"
"refuse any other object.");

static PyType_Slot socketmethods_slots[] = {
    {Py_tp_doc, (void *)socketmethods_doc},
    {Py_tp_methods, socketmethods_methods},
    {0, NULL},
};

static PyType_Spec socketmethods_spec = {
    .name = "gevent_c._core.SocketMethods",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = socketmethods_slots,
};

/* ---- registration ------------------------------------------------------ */

/* Does the first field of _socket.socket hold the descriptor?  Checked on
 * a throwaway socket against fileno(). */
static int
check_layout(PyTypeObject *ss_type)
{
    PyObject *probe = PyObject_CallFunction((PyObject *)ss_type, "ii", AF_UNIX, SOCK_STREAM);
    PyObject *fileno, *res;
    long fd;
    int head_fd;
    if (probe == NULL)
        return -1;
    head_fd = SOCK_FD(probe);
    fileno = PyObject_CallMethod(probe, "fileno", NULL);
    fd = fileno ? PyLong_AsLong(fileno) : -1;
    Py_XDECREF(fileno);
    res = fd == -1 && PyErr_Occurred() ? NULL : PyObject_CallMethod(probe, "close", NULL);
    Py_DECREF(probe);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    if (fd != head_fd) {
        PyErr_SetString(PyExc_RuntimeError,
                        "_socket.socket does not start with its descriptor");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(socket_setup_doc, "_socket_setup(cls)\n\n"
"Register gevent_c.socket.socket: a subclass of SocketMethods and of the\n"
"stdlib's socket whose __slots__ include hub, timeout, _read_event,\n"
"_write_event, _reader, _writer and _drained.  A class registered later\n"
"(the module reloaded) must lay those slots out the same way.");
static PyObject *
socket_setup(PyObject *mod, PyObject *cls)
{
    gevc_io_state *st = (gevc_io_state *)PyModule_GetState(mod);
    PyObject *sockmod = NULL, *ss_type = NULL, *res = NULL;
    PyObject *meths[M_COUNT] = {NULL};
    Py_ssize_t off[S_COUNT];

    if (!PyType_Check(cls) ||
        !PyType_IsSubtype((PyTypeObject *)cls, st->socketmethods_type)) {
        PyErr_Format(PyExc_TypeError, "expected a subclass of SocketMethods, not %R", cls);
        return NULL;
    }
    if ((sockmod = PyImport_ImportModule("_socket")) == NULL ||
        (ss_type = PyObject_GetAttrString(sockmod, "socket")) == NULL)
        goto done;
    if (!PyType_Check(ss_type) ||
        !PyType_IsSubtype((PyTypeObject *)cls, (PyTypeObject *)ss_type)) {
        PyErr_Format(PyExc_TypeError, "%R is not a subclass of _socket.socket", cls);
        goto done;
    }
    if (check_layout((PyTypeObject *)ss_type) < 0)
        goto done;
    for (int i = 0; i < S_COUNT; i++) {
        PyObject *d = PyObject_GetAttrString(cls, slot_names[i]);
        if (d == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                goto done;
            PyErr_Clear();
        }
        /* an object slot of cls itself or of a base: its offset is valid
         * in every instance */
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX ||
            !PyType_IsSubtype((PyTypeObject *)cls, PyDescr_TYPE(d))) {
            PyErr_Format(PyExc_TypeError, "%R.%s must be a __slots__ entry", cls,
                         slot_names[i]);
            Py_XDECREF(d);
            goto done;
        }
        off[i] = ((PyMemberDescrObject *)d)->d_member->offset;
        Py_DECREF(d);
    }
    for (int i = 0; i < M_COUNT; i++) {
        if ((meths[i] = PyObject_GetAttrString(ss_type, meth_names[i])) != NULL)
            continue;
        /* recvmsg and friends are missing on some platforms */
        if (i < M_RECVMSG || !PyErr_ExceptionMatches(PyExc_AttributeError))
            goto done;
        PyErr_Clear();
    }
    if (st->sock.classes == NULL && (st->sock.classes = PyList_New(0)) == NULL)
        goto done;
    if (PyList_GET_SIZE(st->sock.classes) && memcmp(st->sock.off, off, sizeof(off)) != 0) {
        PyErr_Format(PyExc_TypeError, "%R lays out its __slots__ unlike the socket "
                     "class registered before", cls);
        goto done;
    }
    if (PyList_Append(st->sock.classes, cls) < 0)
        goto done;
    memcpy(st->sock.off, off, sizeof(off));
    Py_XSETREF(st->sock.cls, (PyTypeObject *)Py_NewRef(cls));
    for (int i = 0; i < M_COUNT; i++) {
        Py_XSETREF(st->sock.meth[i], meths[i]);
        meths[i] = NULL;
    }
    res = Py_NewRef(Py_None);
done:
    for (int i = 0; i < M_COUNT; i++)
        Py_XDECREF(meths[i]);
    Py_XDECREF(ss_type);
    Py_XDECREF(sockmod);
    return res;
}

static PyMethodDef sockio_functions[] = {
    {"_socket_setup", socket_setup, METH_O, socket_setup_doc},
    {NULL, NULL, 0, NULL},
};

/* ---- what the io layer adds to the module ----------------------------- */

int
gevc_io_layer_exec(PyObject *mod, gevc_io_state *st)
{
    if (gevc__add_type(mod, &st->socketmethods_type, &socketmethods_spec, NULL,
                       "SocketMethods") < 0 ||
        PyModule_AddFunctions(mod, sockio_functions) < 0 ||
        (st->str_io = PyUnicode_InternFromString("io")) == NULL ||
        (st->str_timed_out = PyUnicode_InternFromString("timed out")) == NULL)
        return -1;
    return 0;
}

int
gevc_io_layer_traverse(gevc_io_state *st, visitproc visit, void *arg)
{
    Py_VISIT(st->socketmethods_type);
    Py_VISIT(st->sock.cls);
    Py_VISIT(st->sock.classes);
    for (int i = 0; i < M_COUNT; i++)
        Py_VISIT(st->sock.meth[i]);
    return 0;
}

void
gevc_io_layer_clear(gevc_io_state *st)
{
    Py_CLEAR(st->socketmethods_type);
    Py_CLEAR(st->sock.cls);
    Py_CLEAR(st->sock.classes);
    for (int i = 0; i < M_COUNT; i++)
        Py_CLEAR(st->sock.meth[i]);
    Py_CLEAR(st->str_io);
    Py_CLEAR(st->str_timed_out);
}
