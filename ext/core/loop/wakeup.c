/* The signal wake-up pipe of a loop.
 *
 * CPython's C signal handler only sets a flag, in whichever thread the
 * kernel picked.  While run() blocks in the main thread we give
 * signal.set_wakeup_fd() a pipe the loop watches, so a signal handled by
 * any thread wakes the poll and its Python handler runs at once (Ctrl-C
 * raises KeyboardInterrupt promptly).  An fd already set by somebody else
 * (asyncio, the application) is left alone. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static void
wakeup_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    gevc_loop *self = gevc_container_of(w, gevc_loop, wakeup_io);
    char buf[64];
    while (read(w->fd, buf, sizeof(buf)) > 0)
        ;
    if (PyErr_CheckSignals() < 0)
        gevc_loop_handle_error(self, NULL);
}

void
gevc__wakeup_close(gevc_loop *self)
{
    if (self->wakeup_r < 0)
        return;
    if (self->ev != NULL) {
        ev_ref(self->ev);
        ev_io_stop(self->ev, &self->wakeup_io);
    }
    close(self->wakeup_r);
    close(self->wakeup_w);
    self->wakeup_r = self->wakeup_w = -1;
}

static long
call_set_wakeup_fd(gevc_loop *self, int fd)
{
    PyObject *arg = PyLong_FromLong(fd), *res;
    long old;
    if (arg == NULL)
        return -2;
    res = PyObject_CallOneArg(self->st->set_wakeup_fd, arg);
    Py_DECREF(arg);
    if (res == NULL)
        return -2;
    old = PyLong_AsLong(res);
    Py_DECREF(res);
    return old;
}

/* Returns 1 if our pipe is now the process's signal wake-up fd. */
int
gevc__wakeup_install(gevc_loop *self)
{
    long old;
    if (PyThread_get_thread_ident() != self->st->main_ident)
        return 0;
    if (self->wakeup_r < 0) {
        int fds[2];
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
            return 0;
        self->wakeup_r = fds[0];
        self->wakeup_w = fds[1];
        ev_io_init(&self->wakeup_io, wakeup_cb, fds[0], EV_READ);
        ev_io_start(self->ev, &self->wakeup_io);
        ev_unref(self->ev);
    }
    old = call_set_wakeup_fd(self, self->wakeup_w);
    if (old == -2) {
        PyErr_Clear();
        return 0;
    }
    if (old != -1 && old != self->wakeup_w) {
        /* somebody else (asyncio, the application) owns it: leave theirs */
        if (call_set_wakeup_fd(self, (int)old) == -2)
            PyErr_Clear();
        return 0;
    }
    return 1;
}

void
gevc__wakeup_uninstall(gevc_loop *self)
{
    long cur = call_set_wakeup_fd(self, -1);
    if (cur == -2)
        PyErr_Clear();
    else if (cur != -1 && cur != self->wakeup_w && call_set_wakeup_fd(self, (int)cur) == -2)
        PyErr_Clear();
}
