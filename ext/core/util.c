/* Small helpers shared by the files of gevent_c._core: keyword-aware
 * argument parsing for METH_FASTCALL entry points and the fd check. */
#include "core.h"

#include <errno.h>
#include <fcntl.h>

int
gevc__parse_tuple(const char *fname, PyObject *args, PyObject *kwargs,
                  const char *const *names, int max_pos, int required,
                  PyObject **out)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    Py_ssize_t nkw = kwargs ? PyDict_GET_SIZE(kwargs) : 0;
    PyObject *stack[16];
    PyObject *kwnames = NULL;
    int rc = -1;

    if (nargs + nkw > 16) {
        PyErr_Format(PyExc_TypeError, "%s() got too many arguments", fname);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        stack[i] = PyTuple_GET_ITEM(args, i);
    if (nkw) {
        PyObject *key, *value;
        Py_ssize_t pos = 0, k = 0;
        kwnames = PyTuple_New(nkw);
        if (kwnames == NULL)
            return -1;
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            PyTuple_SET_ITEM(kwnames, k, Py_NewRef(key));
            stack[nargs + k] = value;
            k++;
        }
    }
    rc = gevc__parse(fname, stack, nargs, kwnames, names, max_pos, required, out);
    Py_XDECREF(kwnames);
    /* the borrowed references stay valid: args and kwargs own them */
    return rc;
}

int
gevc__as_bool(PyObject *o, int dflt)
{
    if (o == NULL)
        return dflt;
    return PyObject_IsTrue(o);
}

/* libev aborts on a closed fd deep inside the backend, so refuse it here. */
int
gevc_check_fd(int fd)
{
    if (fd < 0) {
        PyErr_Format(PyExc_ValueError, "fd must be non-negative: %d", fd);
        return -1;
    }
    if (fcntl(fd, F_GETFD) == -1) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}
