/* Error routing of a loop: exceptions raised by callbacks go to the
 * loop's error_handler, or are printed; SystemExit/KeyboardInterrupt with
 * no handler break the loop and are re-raised by run(). */
#include "loop.h"

void
gevc_loop_set_pending_exc(gevc_loop *loop, PyObject *exc)
{
    if (exc == NULL)
        return;
    if (loop->pending_exc == NULL)
        loop->pending_exc = exc;
    else
        Py_DECREF(exc);
    if (loop->ev != NULL)
        ev_break(loop->ev, EVBREAK_ONE);
}

static int
is_system_error(PyObject *exc)
{
    return PyErr_GivenExceptionMatches(exc, PyExc_SystemExit) ||
           PyErr_GivenExceptionMatches(exc, PyExc_KeyboardInterrupt);
}

/* Called with an exception set, from a callback the loop invoked. */
void
gevc_loop_handle_error(gevc_loop *loop, PyObject *context)
{
    PyObject *exc = gevc__exc_take(), *tb, *res;
    if (exc == NULL)
        return;
    if (loop->error_handler == NULL && is_system_error(exc)) {
        gevc_loop_set_pending_exc(loop, exc);
        return;
    }
    tb = PyException_GetTraceback(exc);
    Py_INCREF(loop);
    res = PyObject_CallMethod((PyObject *)loop, "handle_error", "OOOO",
                              context ? context : Py_None,
                              (PyObject *)Py_TYPE(exc), exc,
                              tb ? tb : Py_None);
    Py_XDECREF(tb);
    Py_DECREF(exc);
    if (res != NULL) {
        Py_DECREF(res);
    }
    else {
        PyObject *exc2 = gevc__exc_take();
        if (exc2 != NULL && is_system_error(exc2)) {
            gevc_loop_set_pending_exc(loop, exc2);
        }
        else if (exc2 != NULL) {
            gevc__exc_raise(exc2);
            PyErr_WriteUnraisable(context ? context : (PyObject *)loop);
        }
    }
    Py_DECREF(loop);
}

static int
print_default(gevc_loop *self, PyObject *context, PyObject *type,
              PyObject *value, PyObject *tb)
{
    gevc_loop_state *st = self->st;
    PyObject *res;
    if (st->print_exception == NULL) {
        PyObject *mod = PyImport_ImportModule("traceback");
        if (mod == NULL)
            return -1;
        st->print_exception = PyObject_GetAttrString(mod, "print_exception");
        Py_DECREF(mod);
        if (st->print_exception == NULL)
            return -1;
    }
    res = PyObject_CallFunctionObjArgs(st->print_exception, type, value, tb, NULL);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    if (context != Py_None) {
        PyObject *name = PyObject_GetAttrString(type, "__name__");
        if (name == NULL)
            return -1;
        PySys_FormatStderr("%R failed with %U\n", context, name);
        Py_DECREF(name);
    }
    return 0;
}

/* loop.handle_error(context, type, value, tb); documented in loop.c */
PyObject *
gevc_loop_handle_error_method(gevc_loop *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *context, *type, *value, *tb;
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "handle_error() takes 4 arguments (%zd "
                     "given)", nargs);
        return NULL;
    }
    context = args[0]; type = args[1]; value = args[2]; tb = args[3];
    if (self->error_handler != NULL && self->error_handler != Py_None) {
        PyObject *handler = Py_NewRef(self->error_handler);
        PyObject *res = PyObject_CallMethod(handler, "handle_error", "OOOO",
                                            context, type, value, tb);
        Py_DECREF(handler);
        return res;
    }
    if (PyExceptionInstance_Check(value) && is_system_error(value)) {
        if (self->running == 0) {
            /* called directly, not from a callback: raise to the caller */
            PyErr_SetObject((PyObject *)Py_TYPE(value), value);
            return NULL;
        }
        gevc_loop_set_pending_exc(self, Py_NewRef(value));
        Py_RETURN_NONE;
    }
    if (print_default(self, context, type, value, tb) < 0)
        return NULL;
    if (self->ev != NULL)
        ev_break(self->ev, EVBREAK_ONE);
    Py_RETURN_NONE;
}
