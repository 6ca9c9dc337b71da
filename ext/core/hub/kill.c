/* killall() and gevent_c.hub.kill(), in C.  Greenlet.kill itself is the
 * GreenletBase method (greenletbase.c).
 *
 * killall first stops every Greenlet that has not started (it never will:
 * it finishes at once with the exception, its links run), then one loop
 * callback throws the exception into the others; with block, the caller
 * waits for that callback and then for the greenlets that survived it.
 * Objects are reached through their attributes (dead, throw,
 * _maybe_kill_before_start, kill), so subclasses and plain greenlets work;
 * a Greenlet that overrides none of them takes the C paths. */
#include "hub.h"

/* obj.name, or NULL with no error when it has no such attribute */
static int
optional_attr(PyObject *obj, const char *name, PyObject **out)
{
    *out = PyObject_GetAttrString(obj, name);
    if (*out != NULL)
        return 1;
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return -1;
    PyErr_Clear();
    return 0;
}

/* obj.dead: 1, 0 or -1 */
static int
dead_of(gevc_hub_state *st, PyObject *obj)
{
    PyObject *r;
    int dead;
    if (PyObject_TypeCheck(obj, st->glet_type))
        return gevc__glet_dead(st, obj);
    if ((r = PyObject_GetAttr(obj, st->str_dead)) == NULL)
        return -1;
    dead = PyObject_IsTrue(r);
    Py_DECREF(r);
    return dead;
}

/* The loop callback of killall(greenlets, exception, waiter): throw the
 * exception into each greenlet still alive (an error escaping one goes to
 * the hub); with a waiter, switch it the list of those that survived. */
static PyObject *
killall_from_loop(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    PyObject *glets, *exception, *waiter, *alive = NULL, *r, *exc;
    int failed = 0;
    if (nargs != 3 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_killall expects (list, exception, waiter)");
        return NULL;
    }
    glets = args[0];
    exception = args[1];
    waiter = args[2];
    if (waiter != Py_None && (alive = PyList_New(0)) == NULL)
        return NULL;
    /* the list is ours, but a throw runs code: read it by index */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(glets) && !failed; i++) {
        PyObject *g = Py_NewRef(PyList_GET_ITEM(glets, i));
        int dead = dead_of(st, g);
        if (dead == 0) {
            /* a (type, value, tb) tuple is thrown as such, as kill does
             * (gevent throws the tuple itself, which throw refuses) */
            r = gevc__throw_exception(st, g, exception);
            if (r == NULL && gevc__report_to_hub(st, g, g) < 0)
                failed = 1;
            Py_XDECREF(r);
            if (!failed && alive != NULL) {
                dead = dead_of(st, g);
                if (dead == 0 && PyList_Append(alive, g) < 0)
                    dead = -1;
            }
        }
        /* an error about this one goes to the hub too; if the hub's
         * handle_error fails, the waiter is still woken below */
        if (dead < 0 && !failed && gevc__report_to_hub(st, g, g) < 0)
            failed = 1;
        Py_DECREF(g);
    }
    if (alive == NULL)
        return failed ? NULL : Py_NewRef(Py_None);
    exc = gevc__exc_take();
    r = Py_IS_TYPE(waiter, st->waiter_type) ? gevc_waiter_switch((gevc_waiter *)waiter, alive)
        : PyObject_CallMethodOneArg(waiter, st->str_switch, alive);
    Py_DECREF(alive);
    if (exc != NULL) {
        Py_XDECREF(r);
        gevc__exc_raise(exc);
        return NULL;
    }
    return r;
}

static PyMethodDef killall_callback_def = {
    "_killall", (PyCFunction)(void (*)(void))killall_from_loop, METH_FASTCALL,
    "_killall(greenlets, exception, waiter): killall's loop callback."};

/* Timeout._start_new_or_dummy(timeout) of gevent_c.timeout */
static PyObject *
start_timeout(PyObject *timeout)
{
    PyObject *mod = PyImport_ImportModule("gevent_c.timeout"), *cls, *t;
    if (mod == NULL)
        return NULL;
    cls = PyObject_GetAttrString(mod, "Timeout");
    Py_DECREF(mod);
    if (cls == NULL)
        return NULL;
    t = PyObject_CallMethod(cls, "_start_new_or_dummy", "O", timeout);
    Py_DECREF(cls);
    return t;
}

/* Wait for the callback's list of survivors, then for them; the timeout
 * (NULL: none) raises Timeout here when it expires. */
static int
wait_killed(gevc_hub_state *st, gevc_waiter *waiter, PyObject *timeout)
{
    PyObject *t = NULL, *alive, *r = NULL;
    int rc = -1;
    if (timeout != NULL && timeout != Py_None && (t = start_timeout(timeout)) == NULL)
        return -1;
    alive = gevc_waiter_get(waiter);
    if (alive != NULL) {
        int some = PyObject_IsTrue(alive);
        r = some <= 0 ? (some == 0 ? Py_NewRef(Py_None) : NULL)
            : gevc__wait_all(st, alive, NULL, 0, NULL);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
        Py_DECREF(alive);
    }
    if (t != NULL) {
        PyObject *exc = gevc__exc_take();
        r = PyObject_CallMethod(t, "cancel", NULL);
        if (r == NULL) {
            if (exc != NULL)
                PyErr_WriteUnraisable(t);
            rc = -1;
        }
        Py_XDECREF(r);
        Py_DECREF(t);
        gevc__exc_raise(exc);
    }
    return rc;
}

PyDoc_STRVAR(killall_doc, "killall(greenlets, exception=GreenletExit, block=True, timeout=None)\n\n"
"Raise exception in every greenlet of greenlets (from the hub, in one loop\n"
"callback).  Greenlets that have not started never will.  With block, wait\n"
"until they are dead; Timeout is raised if some are still alive after\n"
"timeout seconds.");
static PyObject *
hub_killall(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"greenlets", "exception", "block", "timeout", NULL};
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    PyObject *a[4], *exception, *it, *g, *need = NULL, *hub = NULL, *cb = NULL, *r, *cbargs[3];
    gevc_waiter *waiter = NULL;
    PyObject *res = NULL;
    int block;

    if (gevc__parse("killall", args, nargs, kwnames, names, 4, 1, a) < 0 ||
        (block = gevc__as_bool(a[2], 1)) < 0)
        return NULL;
    exception = a[1] ? a[1] : st->gapi->GreenletExit;
    if ((it = PyObject_GetIter(a[0])) == NULL || (need = PyList_New(0)) == NULL)
        goto done;
    /* those that have not started are finished here and now */
    while ((g = PyIter_Next(it)) != NULL) {
        PyObject *meth = NULL;
        int dead;
        if (PyObject_TypeCheck(g, st->glet_type))
            dead = gevc__glet_maybe_kill_before_start(st, g, exception);
        else if ((dead = optional_attr(g, "_maybe_kill_before_start", &meth)) > 0) {
            r = PyObject_CallOneArg(meth, exception);
            dead = r ? PyObject_IsTrue(r) : -1;
            Py_XDECREF(r);
            Py_DECREF(meth);
        }
        if (dead == 0 && PyList_Append(need, g) < 0)
            dead = -1;
        Py_DECREF(g);
        if (dead < 0)
            goto done;
    }
    if (PyErr_Occurred())
        goto done;
    if (PyList_GET_SIZE(need) == 0) {
        res = Py_NewRef(Py_None);
        goto done;
    }
    if ((hub = Py_XNewRef(gevc_hub_get(st))) == NULL ||
        (cb = PyCFunction_New(&killall_callback_def, mod)) == NULL)
        goto done;
    if (block && (waiter = gevc_waiter_new(st, hub)) == NULL)
        goto done;
    cbargs[0] = need;
    cbargs[1] = exception;
    cbargs[2] = waiter ? (PyObject *)waiter : Py_None;
    if ((r = gevc__hub_run_callback(st, hub, cb, cbargs, 3)) == NULL)
        goto done;
    Py_DECREF(r);
    if (waiter == NULL || wait_killed(st, waiter, a[3]) == 0)
        res = Py_NewRef(Py_None);
done:
    Py_XDECREF((PyObject *)waiter);
    Py_XDECREF(cb);
    Py_XDECREF(hub);
    Py_XDECREF(need);
    Py_XDECREF(it);
    return res;
}

PyDoc_STRVAR(kill_doc, "kill(greenlet, exception=GreenletExit)\n\n"
"Raise exception in greenlet at the next loop iteration, without waiting:\n"
"greenlet.kill(exception=exception, block=False) for a Greenlet (one not\n"
"started never starts), greenlet.throw(exception) from the hub for a plain\n"
"greenlet.  Nothing happens if it is dead.");
static PyObject *
hub_kill(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"greenlet", "exception", NULL};
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    PyObject *a[2], *g, *exception, *meth, *r;
    int dead, has_kill;

    if (gevc__parse("kill", args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    g = a[0];
    exception = a[1] ? a[1] : st->gapi->GreenletExit;
    if ((dead = dead_of(st, g)) != 0)
        return dead < 0 ? NULL : Py_NewRef(Py_None);
    if (gevc__glet_own_kill(st, g))
        return gevc__glet_kill(st, g, exception, 0, NULL) < 0 ? NULL : Py_NewRef(Py_None);
    if ((has_kill = optional_attr(g, "kill", &meth)) < 0)
        return NULL;
    if (has_kill) {
        PyObject *empty = PyTuple_New(0);
        PyObject *kw = Py_BuildValue("{sOsO}", "exception", exception, "block", Py_False);
        r = empty && kw ? PyObject_Call(meth, empty, kw) : NULL;
        Py_XDECREF(empty);
        Py_XDECREF(kw);
    }
    else {
        /* ours: looking up throw runs code */
        PyObject *hub = Py_XNewRef(gevc_hub_get(st));
        meth = hub ? PyObject_GetAttr(g, st->str_throw) : NULL;
        if (meth == NULL) {
            Py_XDECREF(hub);
            return NULL;
        }
        r = gevc__hub_run_callback(st, hub, meth, &exception, 1);
        Py_DECREF(hub);
    }
    Py_DECREF(meth);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static PyMethodDef kill_functions[] = {
    {"killall", (PyCFunction)(void (*)(void))hub_killall, METH_FASTCALL | METH_KEYWORDS, killall_doc},
    {"kill", (PyCFunction)(void (*)(void))hub_kill, METH_FASTCALL | METH_KEYWORDS, kill_doc},
    {NULL, NULL, 0, NULL},
};

int
gevc__kill_init(PyObject *mod, gevc_hub_state *st)
{
    return PyModule_AddFunctions(mod, kill_functions);
}
