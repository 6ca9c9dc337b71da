/* The `stat` watcher: changes to a path's attributes (inotify or polling). */
#include "loop.h"

#include <math.h>

GEVC_TRAMPOLINE(stat_cb, gevc_stat, ev_stat)

static void
stat_start(struct ev_loop *ev, gevc_watcher *w)
{
    ev_stat_start(ev, &((gevc_stat *)w)->ev);
}

static void
stat_stop(struct ev_loop *ev, gevc_watcher *w)
{
    ev_stat_stop(ev, &((gevc_stat *)w)->ev);
}

static int
stat_init(gevc_watcher *self, PyObject *const *args, Py_ssize_t nargs,
          PyObject *kwnames)
{
    static const char *const names[] = {"loop", "path", "interval", "ref", "priority", NULL};
    PyObject *a[5], *encoded = NULL;
    gevc_stat *s = (gevc_stat *)self;
    double interval = 0.0;
    if (gevc__parse("stat", args, nargs, kwnames, names, 5, 2, a) < 0)
        return -1;
    if (a[2] != NULL) {
        interval = PyFloat_AsDouble(a[2]);
        if (interval == -1.0 && PyErr_Occurred())
            return -1;
        /* libev polls with a timer of this repeat: NaN would break its heap */
        if (isnan(interval)) {
            PyErr_SetString(PyExc_ValueError, "stat interval must be a number, not nan");
            return -1;
        }
    }
    if (!PyUnicode_FSConverter(a[1], &encoded))
        return -1;
    /* libev keeps the char pointer: the bytes object lives as long as we do */
    s->path = encoded;
    ev_stat_init(&s->ev, stat_cb, PyBytes_AS_STRING(encoded), interval);
    return gevc_watcher_setup(self, a[0], &gevc_stat_kind,
                              (ev_watcher *)&s->ev, a[3], a[4]);
}

static PyObject *
stat_repr_extra(gevc_watcher *self)
{
    return PyUnicode_FromFormat(" path=%R", ((gevc_stat *)self)->path);
}

const gevc_kind gevc_stat_kind = {
    .name = "stat", .init = stat_init, .start = stat_start,
    .stop = stat_stop, .repr_extra = stat_repr_extra,
};

static PyObject *
stat_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    return gevc_watcher_tp_new(tp, &gevc_stat_kind, args, kwargs);
}

static int
stat_traverse(gevc_stat *self, visitproc visit, void *arg)
{
    Py_VISIT(self->path);
    return gevc_watcher_traverse(&self->base, visit, arg);
}

/* path is bytes (no references), freed in dealloc after libev let go. */
static void
stat_dealloc(gevc_stat *self)
{
    PyObject *path = self->path;
    self->path = NULL;
    Py_INCREF(Py_TYPE(self));   /* balanced: base dealloc drops the type */
    PyTypeObject *tp = Py_TYPE(self);
    gevc_watcher_dealloc(&self->base);
    Py_XDECREF(path);
    Py_DECREF(tp);
}

static PyObject *
to_stat_result(gevc_stat *self, ev_statdata *sd)
{
    PyObject *seq, *extra, *res;
    if (sd->st_nlink == 0)
        Py_RETURN_NONE;
    seq = Py_BuildValue("(kKKkkkLLLL)", (unsigned long)sd->st_mode,
                        (unsigned long long)sd->st_ino,
                        (unsigned long long)sd->st_dev,
                        (unsigned long)sd->st_nlink, (unsigned long)sd->st_uid,
                        (unsigned long)sd->st_gid, (long long)sd->st_size,
                        (long long)sd->st_atime, (long long)sd->st_mtime,
                        (long long)sd->st_ctime);
    if (seq == NULL)
        return NULL;
    extra = Py_BuildValue("{s:d,s:d,s:d}", "st_atime", (double)sd->st_atime,
                          "st_mtime", (double)sd->st_mtime,
                          "st_ctime", (double)sd->st_ctime);
    if (extra == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    res = PyObject_CallFunctionObjArgs(self->base.loop->st->stat_result, seq,
                                       extra, NULL);
    Py_DECREF(seq);
    Py_DECREF(extra);
    return res;
}

static PyObject *
get_attr(gevc_stat *self, void *c)
{
    return to_stat_result(self, &self->ev.attr);
}

static PyObject *
get_prev(gevc_stat *self, void *c)
{
    return to_stat_result(self, &self->ev.prev);
}

static PyObject *
get_path(gevc_stat *self, void *c)
{
    return PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(self->path),
                                            PyBytes_GET_SIZE(self->path));
}

static PyObject *
get_paths(gevc_stat *self, void *c)
{
    return Py_NewRef(self->path);
}

static PyObject *
get_interval(gevc_stat *self, void *c)
{
    return PyFloat_FromDouble(self->ev.interval);
}

static PyGetSetDef stat_getset[] = {
    {"path", (getter)get_path, NULL, "The path watched.", NULL},
    {"_paths", (getter)get_paths, NULL,
     "The path watched, as the bytes given to libev (gevent's name).", NULL},
    {"attr", (getter)get_attr, NULL,
     "os.stat_result at the last check, or None if the path did not exist.", NULL},
    {"prev", (getter)get_prev, NULL,
     "os.stat_result before the last change, or None.", NULL},
    {"interval", (getter)get_interval, NULL, "Polling interval (0: libev's default).", NULL},
    {NULL},
};

PyDoc_STRVAR(stat_doc, "stat(loop, path, interval=0.0, ref=True, priority=None)\n\n"
"Fire when the attributes of path change (or it appears/disappears).");

static PyType_Slot stat_slots[] = {
    {Py_tp_new, stat_new},
    {Py_tp_clear, gevc_watcher_clear},
    {Py_tp_traverse, stat_traverse},
    {Py_tp_dealloc, stat_dealloc},
    {Py_tp_getset, stat_getset},
    {Py_tp_doc, (void *)stat_doc},
    {0, NULL},
};

PyType_Spec gevc_stat_spec = {
    .name = "gevent_c._core.stat",
    .basicsize = sizeof(gevc_stat),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = stat_slots,
};
