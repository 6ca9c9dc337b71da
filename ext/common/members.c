/* Getters and setters shared by the extensions' types. */
#include "gevc_common.h"

static PyObject **
member_at(PyObject *self, void *offset)
{
    return (PyObject **)((char *)self + (Py_ssize_t)offset);
}

PyObject *
gevc__optional_get(PyObject *self, void *offset)
{
    PyObject *v = *member_at(self, offset);
    return Py_NewRef(v != NULL ? v : Py_None);
}

int
gevc__optional_set(PyObject *self, PyObject *value, void *offset)
{
    Py_XSETREF(*member_at(self, offset),
               value == NULL || value == Py_None ? NULL : Py_NewRef(value));
    return 0;
}
