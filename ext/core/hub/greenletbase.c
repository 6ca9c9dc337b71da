/* GreenletBase: the hot half of gevent_c.greenlet.Greenlet, a subclass of
 * the C greenlet type whose state lives in C fields instead of the instance
 * __dict__.  Creation (__init__, spawn, start), the run -> report path, the
 * links and their notifier, join/get without a timeout, kill (its loop
 * callback too; killall is kill.c), ready/successful/dead and the
 * attributes run here; gevent_c/greenlet.py subclasses it with the rest
 * (repr, timed waits, spawn_later, spawning_stack).
 *
 * The fields sit after the greenlet type's own struct, whose size differs
 * per Python version: they are reached at an offset read from that type
 * when the module is set up.  The instance __dict__ is made only when an
 * attribute outside the fields is set, a list of links only for a second
 * link (one link, the usual join, is held as is),
 * and kwargs stays NULL while there are none. */
#include "hub.h"

typedef struct {
    PyObject *run;                 /* _run given or assigned; NULL: look it up */
    PyObject *args;                /* tuple; NULL reads as () */
    PyObject *kwargs;              /* dict; NULL: none (made on first read) */
    PyObject *value;
    PyObject *exc_info;            /* NULL: not finished; else (t, v, tb) */
    PyObject *links;               /* NULL: none; a list; else the one link */
    PyObject *notifier;            /* the pending _notify_links callback */
    PyObject *start_event;         /* callback, timer or a _StartState marker */
    PyObject *spawning_greenlet;   /* weakref */
    PyObject *tree_locals;         /* None: its own dict, made on first read */
    PyObject *spawning_frames;
    PyObject *ident;
    PyObject *formatted_info;
} glet_fields;

/* The size of gevent_c._greenlet.greenlet's struct (where the fields begin)
 * and its GC and dealloc slots, which ours extend.  Written at module setup
 * from the one greenlet type of the process: the same for every module
 * instance. */
static Py_ssize_t fields_offset;
static traverseproc base_traverse;
static inquiry base_clear;
static destructor base_dealloc;

#define F(self) ((glet_fields *)((char *)(self) + fields_offset))

static gevc_hub_state *
state_of(PyObject *self)
{
    return gevc_hub_state_from_type(Py_TYPE(self));
}

/* ---- small helpers ------------------------------------------------------ */

static PyObject *
parent_of(gevc_hub_state *st, PyObject *self)
{
    PyObject *p = st->gapi->get_parent(self);
    if (p == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_AttributeError, "the greenlet has no parent (hub)");
    return p;
}

/* hub.loop.run_callback(func, *args), nargs <= 4. */
PyObject *
gevc__hub_run_callback(gevc_hub_state *st, PyObject *hub, PyObject *func,
                       PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *loop = gevc_hub_loop(st, hub), *cb;
    if (loop == NULL)
        return NULL;
    if (Py_IS_TYPE(loop, st->loop.loop_type))
        cb = gevc_loop_check((gevc_loop *)loop) < 0 ? NULL
            : gevc_loop_run_callback((gevc_loop *)loop, func, args, nargs);
    else {
        /* a stand-in loop: loop.run_callback(func, *args) */
        PyObject *stack[6] = {loop, func};
        assert(nargs <= 4);
        for (Py_ssize_t i = 0; i < nargs; i++)
            stack[i + 2] = args[i];
        cb = PyObject_VectorcallMethod(st->str_run_callback, stack,
                                       (size_t)(nargs + 2) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                       NULL);
    }
    Py_DECREF(loop);
    return cb;
}

/* loop.run_callback(func, *args) on the loop of self's parent (hub). */
static PyObject *
run_callback(gevc_hub_state *st, PyObject *self, PyObject *func,
             PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *hub = parent_of(st, self), *cb;
    if (hub == NULL)
        return NULL;
    cb = gevc__hub_run_callback(st, hub, func, args, nargs);
    Py_DECREF(hub);
    return cb;
}

static int
raw_dead(gevc_hub_state *st, PyObject *self)
{
    PyObject *descr = st->glet_raw_dead, *r;
    int dead;
    r = Py_TYPE(descr)->tp_descr_get(descr, self, (PyObject *)st->gapi->type);
    if (r == NULL)
        return -1;
    dead = r == Py_True;
    Py_DECREF(r);
    return dead;
}

/* gevent's `dead`: finished, or killed or its start aborted before it ran. */
static int
is_dead(gevc_hub_state *st, PyObject *self)
{
    PyObject *ev = F(self)->start_event;
    /* Running, so alive; also while it is being switched into for its
     * start (a greenlet trace function sees that): the loop has consumed
     * the start callback then, but run() has not marked the start done. */
    PyObject *current = st->gapi->getcurrent_borrowed();
    if (current == NULL)
        return -1;
    if (current == self)
        return 0;
    if (ev == st->glet_start_cancelled)
        return 1;
    if (ev != NULL && ev != st->glet_start_completed) {
        int pending;
        if (Py_IS_TYPE(ev, st->loop.callback_type))
            pending = ((gevc_callback *)ev)->callback != NULL;
        else if (PyObject_TypeCheck(ev, st->loop.watcher_type)) {
            gevc_watcher *w = (gevc_watcher *)ev;
            pending = ev_is_active(w->w) || ev_is_pending(w->w) || (w->flags & GEVC_W_FIRED);
        }
        else {
            /* a stand-in's attributes run Python code, which may replace
             * the start event: hold it */
            PyObject *v;
            Py_INCREF(ev);
            v = PyObject_GetAttr(ev, st->str_pending);
            pending = v ? PyObject_IsTrue(v) : -1;
            Py_XDECREF(v);
            if (pending == 0) {
                v = PyObject_GetAttr(ev, st->str_active);
                if (v == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
                    PyErr_Clear();
                    v = Py_NewRef(Py_False);
                }
                pending = v ? PyObject_IsTrue(v) : -1;
                Py_XDECREF(v);
            }
            Py_DECREF(ev);
        }
        if (pending < 0)
            return -1;
        if (!pending)
            return 1;              /* started, then the start was aborted */
    }
    return raw_dead(st, self);
}

static int
is_ready(gevc_hub_state *st, PyObject *self)
{
    return F(self)->exc_info != NULL ? 1 : is_dead(st, self);
}

static int
schedule_notifier(gevc_hub_state *st, PyObject *self)
{
    PyObject *cb;
    if (F(self)->notifier != NULL)
        return 0;
    cb = run_callback(st, self, st->glet_notify, &self, 1);
    if (cb == NULL)
        return -1;
    F(self)->notifier = cb;
    return 0;
}

static int
has_links(PyObject *self)
{
    PyObject *links = F(self)->links;
    return links != NULL && (!PyList_CheckExact(links) || PyList_GET_SIZE(links) > 0);
}

/* The links as a list (made from the single link, or empty, if needed). */
static PyObject *
links_list(PyObject *self)
{
    glet_fields *f = F(self);
    PyObject *list;
    if (f->links != NULL && PyList_CheckExact(f->links))
        return f->links;
    list = PyList_New(f->links != NULL);
    if (list == NULL)
        return NULL;
    if (f->links != NULL)
        PyList_SET_ITEM(list, 0, f->links);   /* the reference moves */
    f->links = list;
    return list;
}

/* ---- reporting the outcome ---------------------------------------------- */

static int
report_result(gevc_hub_state *st, PyObject *self, PyObject *result)
{
    glet_fields *f = F(self);
    Py_XSETREF(f->exc_info, Py_NewRef(st->glet_success));
    Py_XSETREF(f->value, Py_NewRef(result));
    return has_links(self) ? schedule_notifier(st, self) : 0;
}

/* typ/val/tb borrowed; val is the exception instance. */
static int
report_error(gevc_hub_state *st, PyObject *self, PyObject *typ, PyObject *val,
             PyObject *tb)
{
    PyObject *hub, *r, *stack[5];
    if (PyObject_TypeCheck(val, (PyTypeObject *)st->gapi->GreenletExit))
        return report_result(st, self, val);
    Py_XSETREF(F(self)->exc_info, PyTuple_Pack(3, typ, val, tb));
    if (F(self)->exc_info == NULL)
        return -1;
    if (has_links(self) && schedule_notifier(st, self) < 0)
        return -1;
    if ((hub = parent_of(st, self)) == NULL)
        return -1;
    stack[0] = hub;
    stack[1] = self;
    stack[2] = typ;
    stack[3] = val;
    stack[4] = tb;
    r = PyObject_VectorcallMethod(st->str_handle_error, stack,
                                  5 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(hub);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Report the exception being raised (taken), as handled while reporting,
 * like the `except:` block of gevent's run(). */
static int
report_current_error(gevc_hub_state *st, PyObject *self)
{
    PyObject *typ, *val, *tb, *ot, *ov, *otb;
    int rc;
    PyErr_Fetch(&typ, &val, &tb);
    PyErr_NormalizeException(&typ, &val, &tb);
    if (tb == NULL)
        tb = Py_NewRef(Py_None);
    else if (val != NULL)
        PyException_SetTraceback(val, tb);
    if (val == NULL)
        val = Py_NewRef(Py_None);
    PyErr_GetExcInfo(&ot, &ov, &otb);
    PyErr_SetExcInfo(Py_NewRef(typ), Py_NewRef(val), Py_NewRef(tb));
    rc = report_error(st, self, typ, val, tb);
    PyErr_SetExcInfo(ot, ov, otb);
    Py_DECREF(typ);
    Py_DECREF(val);
    Py_DECREF(tb);
    return rc;
}

/* Reporting the outcome failed (out of memory, or the hub's handle_error
 * raised): end with that error if nothing was reported yet, and make sure
 * the links still run, so no joiner waits forever. */
static int
report_lost_end(gevc_hub_state *st, PyObject *self)
{
    if (F(self)->exc_info == NULL)
        return report_current_error(st, self);
    /* the outcome stands: the failure of its reporting goes to
     * sys.unraisablehook, and the notifier is retried if it was the part
     * that failed */
    PyErr_WriteUnraisable(self);
    if (has_links(self) && F(self)->notifier == NULL)
        return schedule_notifier(st, self);
    return 0;
}

/* ---- run ---------------------------------------------------------------- */

static void
drop_instance_run(gevc_hub_state *st, PyObject *self)
{
    Py_ssize_t off = Py_TYPE(self)->tp_dictoffset;
    PyObject *dict;
    if (off <= 0 || (dict = *(PyObject **)((char *)self + off)) == NULL)
        return;
    if (PyDict_DelItem(dict, st->str_underscore_run) < 0)
        PyErr_Clear();             /* usually not there */
}

/* _run(*args).  A builtin taking fast-call arguments (sleep, a socket
 * method) is called directly, as the interpreter's specialized calls do:
 * the generic call's C frames would stay on the stack every greenlet
 * blocked inside it keeps saved. */
static PyObject *
call_run(PyObject *func, PyObject *args)
{
    PyObject *self, *r;
    PyObject *const *argv = ((PyTupleObject *)args)->ob_item;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    int flags;
    if (!PyCFunction_CheckExact(func))
        return PyObject_Call(func, args, NULL);
    flags = PyCFunction_GET_FLAGS(func) & ~METH_COEXIST;
    if (flags != METH_FASTCALL && flags != (METH_FASTCALL | METH_KEYWORDS))
        return PyObject_Call(func, args, NULL);
    if (Py_EnterRecursiveCall(" while calling a Python object"))
        return NULL;
    self = PyCFunction_GET_SELF(func);
    if (flags == METH_FASTCALL)
        r = ((_PyCFunctionFast)(void (*)(void))PyCFunction_GET_FUNCTION(func))(
            self, argv, nargs);
    else
        r = ((_PyCFunctionFastWithKeywords)(void (*)(void))PyCFunction_GET_FUNCTION(func))(
            self, argv, nargs, NULL);
    Py_LeaveRecursiveCall();
    if (r == NULL && !PyErr_Occurred())
        PyErr_Format(PyExc_SystemError, "%R returned NULL without setting an exception",
                     func);
    return r;
}

PyDoc_STRVAR(run_doc, "run()\n\n"
"What the greenlet runs: _run(*args, **kwargs), its outcome reported to\n"
"the links (and an error to the hub).");
static PyObject *
glet_run(PyObject *self, PyObject *unused)
{
    gevc_hub_state *st = state_of(self);
    glet_fields *f = F(self);
    PyObject *func, *args, *kwargs, *result;
    int rc;
    if (st == NULL)
        return NULL;
    Py_XSETREF(f->start_event, Py_NewRef(st->glet_start_completed));
    func = f->run ? Py_NewRef(f->run) : PyObject_GetAttr(self, st->str_underscore_run);
    args = f->args ? Py_NewRef(f->args) : PyTuple_New(0);
    kwargs = Py_XNewRef(f->kwargs);
    if (func == NULL || args == NULL)
        result = NULL;
    else if (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0)
        result = call_run(func, args);
    else
        result = PyObject_Call(func, args, kwargs);
    Py_XDECREF(func);
    Py_XDECREF(args);
    rc = result ? report_result(st, self, result) : report_current_error(st, self);
    if (rc < 0)
        rc = report_lost_end(st, self);
    Py_XDECREF(result);
    /* free what the run needed: gevent deletes _run and empties args/kwargs */
    Py_CLEAR(f->run);
    if (rc == 0)
        drop_instance_run(st, self);
    Py_CLEAR(f->args);
    if (kwargs != NULL) {
        PyDict_Clear(kwargs);
        Py_DECREF(kwargs);
    }
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- links -------------------------------------------------------------- */

static int
add_link(gevc_hub_state *st, PyObject *self, PyObject *callback)
{
    glet_fields *f = F(self);
    int ready;
    if (f->links == NULL)
        f->links = Py_NewRef(callback);
    else {
        PyObject *list = links_list(self);
        if (list == NULL || PyList_Append(list, callback) < 0)
            return -1;
    }
    if (f->notifier != NULL)
        return 0;
    ready = is_ready(st, self);
    if (ready <= 0)
        return ready;
    return schedule_notifier(st, self);
}

PyDoc_STRVAR(rawlink_doc, "rawlink(callback)\n\n"
"Call callback(self) from the hub when it finishes (at once, from the\n"
"next loop iteration, if it has).");
static PyObject *
glet_rawlink(PyObject *self, PyObject *callback)
{
    gevc_hub_state *st = state_of(self);
    if (st == NULL)
        return NULL;
    if (!PyCallable_Check(callback)) {
        PyErr_Format(PyExc_TypeError, "Expected callable: %R", callback);
        return NULL;
    }
    if (add_link(st, self, callback) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Remove the first link equal to callback; 0 if there was none. */
static int
remove_link(PyObject *self, PyObject *callback)
{
    PyObject *links = F(self)->links;
    int found = 0;
    if (links == NULL)
        return 0;
    /* a compare may run Python code (a link's __eq__) that replaces or
     * empties the greenlet's links: hold them, and stop once replaced */
    Py_INCREF(links);
    if (!PyList_CheckExact(links)) {
        found = links == callback ? 1 : PyObject_RichCompareBool(links, callback, Py_EQ);
        if (found > 0 && F(self)->links == links)
            Py_CLEAR(F(self)->links);
        Py_DECREF(links);
        return found;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(links); i++) {
        PyObject *item = Py_NewRef(PyList_GET_ITEM(links, i));
        int eq = item == callback ? 1 : PyObject_RichCompareBool(item, callback, Py_EQ);
        Py_DECREF(item);
        if (eq < 0) {
            found = -1;
            break;
        }
        if (F(self)->links != links)
            break;                  /* replaced meanwhile: nothing to remove */
        if (eq) {
            /* the compare may have run code that shortened the list */
            found = i < PyList_GET_SIZE(links) &&
                    PyList_SetSlice(links, i, i + 1, NULL) < 0 ? -1 : 1;
            break;
        }
    }
    Py_DECREF(links);
    return found;
}

int
gevc__glet_rawlink(gevc_hub_state *st, PyObject *self, PyObject *callback)
{
    return add_link(st, self, callback);
}

int
gevc__glet_unlink(PyObject *self, PyObject *callback)
{
    return remove_link(self, callback) < 0 ? -1 : 0;
}

PyObject *
gevc__glet_exception(PyObject *self)
{
    PyObject *e = F(self)->exc_info;
    return Py_NewRef(e ? PyTuple_GET_ITEM(e, 1) : Py_None);
}

PyDoc_STRVAR(unlink_doc, "unlink(callback)\n\nRemove callback if it has not run yet.");
static PyObject *
glet_unlink(PyObject *self, PyObject *callback)
{
    if (remove_link(self, callback) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(unlink_all_doc, "unlink_all()\n\nRemove every link.");
static PyObject *
glet_unlink_all(PyObject *self, PyObject *unused)
{
    PyObject *links = F(self)->links;
    if (links != NULL && !PyList_CheckExact(links))
        Py_CLEAR(F(self)->links);
    else if (links != NULL && PyList_SetSlice(links, 0, PyList_GET_SIZE(links), NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(has_links_doc, "has_links()\n\nTrue while links wait to run.");
static PyObject *
glet_has_links(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(has_links(self));
}

/* The hub's callback once it finished: run the links in order; a failing
 * one is reported to the hub and the others still run. */
static PyObject *
notify_links(PyObject *mod, PyObject *self)
{
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    PyObject *links, *res = Py_None;
    if (!PyObject_TypeCheck(self, st->glet_type)) {
        PyErr_Format(PyExc_TypeError, "expected a Greenlet, got %R", self);
        return NULL;
    }
    for (;;) {
        PyObject *link, *r;
        links = F(self)->links;
        if (links == NULL)
            break;
        if (!PyList_CheckExact(links)) {
            link = links;          /* the single link: its reference moves */
            F(self)->links = NULL;
        }
        else if (PyList_GET_SIZE(links) == 0) {
            Py_CLEAR(F(self)->links);   /* a later link makes a new one */
            break;
        }
        else {
            link = Py_NewRef(PyList_GET_ITEM(links, 0));
            if (PyList_SetSlice(links, 0, 1, NULL) < 0) {
                Py_DECREF(link);
                res = NULL;
                break;
            }
        }
        /* join()'s own waiter (its target is us) gets us; a Waiter that
         * was linked by hand is called, and copies our outcome */
        if (Py_IS_TYPE(link, st->waiter_type) && ((gevc_waiter *)link)->target == self)
            r = gevc_waiter_switch((gevc_waiter *)link, self);
        else if (Py_IS_TYPE(link, st->countdown_type))
            r = gevc__countdown_fire(link, self);
        else if (gevc__waititer_check(link))
            r = gevc__waititer_fire(link, self);
        else
            r = PyObject_CallOneArg(link, self);
        if (r == NULL) {
            PyObject *typ, *val, *tb, *hub, *ctx;
            PyErr_Fetch(&typ, &val, &tb);
            PyErr_NormalizeException(&typ, &val, &tb);
            hub = parent_of(st, self);
            ctx = hub ? PyTuple_Pack(2, link, self) : NULL;
            if (ctx != NULL) {
                PyObject *stack[5] = {hub, ctx, typ, val ? val : Py_None, tb ? tb : Py_None};
                r = PyObject_VectorcallMethod(st->str_handle_error, stack,
                                              5 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            }
            Py_XDECREF(ctx);
            Py_XDECREF(hub);
            Py_XDECREF(typ);
            Py_XDECREF(val);
            Py_XDECREF(tb);
            if (r == NULL) {
                Py_DECREF(link);
                res = NULL;
                break;
            }
        }
        Py_DECREF(r);
        Py_DECREF(link);
    }
    Py_CLEAR(F(self)->notifier);
    return Py_XNewRef(res);
}

static PyMethodDef notify_def = {
    "_greenlet_notify_links", notify_links, METH_O,
    "_greenlet_notify_links(greenlet): run its links (the hub's callback)."};

PyDoc_STRVAR(notify_doc, "_notify_links()\n\nRun the links now.");
static PyObject *
glet_notify_links(PyObject *self, PyObject *unused)
{
    gevc_hub_state *st = state_of(self);
    if (st == NULL)
        return NULL;
    return PyObject_CallOneArg(st->glet_notify, self);
}

/* ---- waiting ------------------------------------------------------------ */

/* Block until it finishes (no timeout): 0, or -1 with the error that
 * interrupted the wait. */
static int
wait_finished(gevc_hub_state *st, PyObject *self, const char *method)
{
    PyObject *hub = parent_of(st, self), *r;
    gevc_waiter *waiter;
    int rc = -1;
    if (hub == NULL)
        return -1;
    waiter = gevc_waiter_new(st, hub);
    Py_DECREF(hub);
    if (waiter == NULL)
        return -1;
    waiter->target = Py_NewRef(self);  /* named by LoopExit's message */
    waiter->method = method;
    if (add_link(st, self, (PyObject *)waiter) < 0)
        goto done;
    r = gevc_waiter_get(waiter);
    if (r != NULL && r == self)
        rc = 0;
    else {
        /* interrupted (killed, a Timeout) or woken by someone else */
        PyObject *exc = r == NULL ? gevc__exc_take() : NULL;
        if (remove_link(self, (PyObject *)waiter) < 0) {
            if (exc != NULL)
                PyErr_WriteUnraisable(self);
            else
                exc = gevc__exc_take();
        }
        if (exc != NULL)
            gevc__exc_raise(exc);
        else {
            /* as gevent: woken by anything but our end is an error */
            PyObject *tp = gevc__exception(st, "InvalidSwitchError");
            if (tp != NULL) {
                PyErr_Format(tp, "Invalid switch into Greenlet.%s(): %R", method, r);
                Py_DECREF(tp);
            }
        }
    }
    Py_XDECREF(r);
done:
    Py_DECREF(waiter);
    return rc;
}

static PyObject *
slow_path(gevc_hub_state *st, PyObject *self, PyObject *name, PyObject *const *args,
          Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *stack[4] = {self};
    Py_ssize_t n = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    if (n > 3) {
        PyErr_SetString(PyExc_TypeError, "too many arguments");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        stack[i + 1] = args[i];
    return PyObject_VectorcallMethod(name, stack,
                                     (size_t)(nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                     kwnames);
}

static int is_own(gevc_hub_state *st, PyObject *self, PyObject *name);
static int call_truth(PyObject *self, PyObject *name, PyObject *arg);

/* self.ready(), honouring a subclass's override (as gevent's join and get
 * do); 1/0, -1 on error */
static int
ready_of(gevc_hub_state *st, PyObject *self)
{
    return is_own(st, self, st->str_ready) ? is_ready(st, self)
                                          : call_truth(self, st->str_ready, NULL);
}

PyDoc_STRVAR(join_doc, "join(timeout=None)\n\n"
"Block until it finishes or timeout seconds pass; returns None.  timeout may\n"
"be a Timeout: it is started, and its expiry ends the join quietly.");
static PyObject *
glet_join(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"timeout", NULL};
    gevc_hub_state *st = state_of(self);
    PyObject *timeout;
    int ready;
    if (st == NULL ||
        gevc__parse("join", args, nargs, kwnames, names, 1, 0, &timeout) < 0)
        return NULL;
    if ((ready = ready_of(st, self)) < 0)
        return NULL;
    if (ready)
        Py_RETURN_NONE;
    if (timeout != NULL && timeout != Py_None)
        return slow_path(st, self, st->str_join_slow, args, nargs, kwnames);
    if (wait_finished(st, self, "join") < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
outcome(PyObject *self)
{
    PyObject *exc_info = F(self)->exc_info, *val;
    if (exc_info == NULL || (val = PyTuple_GET_ITEM(exc_info, 1)) == Py_None) {
        PyObject *v = F(self)->value;
        return Py_NewRef(v ? v : Py_None);
    }
    PyErr_Restore(Py_NewRef(PyTuple_GET_ITEM(exc_info, 0)), Py_NewRef(val),
                  PyTuple_GET_ITEM(exc_info, 2) == Py_None ? NULL
                      : Py_NewRef(PyTuple_GET_ITEM(exc_info, 2)));
    return NULL;
}

PyDoc_STRVAR(get_doc, "get(block=True, timeout=None)\n\n"
"Return its result or raise its exception, waiting if needed.  Raises\n"
"Timeout if it is not finished after timeout (at once with block=False).");
static PyObject *
glet_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"block", "timeout", NULL};
    gevc_hub_state *st = state_of(self);
    PyObject *a[2];
    int ready;
    if (st == NULL ||
        gevc__parse("get", args, nargs, kwnames, names, 2, 0, a) < 0)
        return NULL;
    if ((ready = ready_of(st, self)) < 0)
        return NULL;
    if (!ready) {
        int block = gevc__as_bool(a[0], 1);
        if (block < 0)
            return NULL;
        if (!block || (a[1] != NULL && a[1] != Py_None))
            return slow_path(st, self, st->str_get_slow, args, nargs, kwnames);
        if (wait_finished(st, self, "get") < 0)
            return NULL;
    }
    return outcome(self);
}

PyDoc_STRVAR(raise_doc, "_raise_exception()\n\nRaise the exception that ended it.");
static PyObject *
glet_raise_exception(PyObject *self, PyObject *unused)
{
    if (F(self)->exc_info == NULL) {
        PyErr_SetString(PyExc_TypeError, "the greenlet has not finished");
        return NULL;
    }
    return outcome(self);
}

/* ---- kill --------------------------------------------------------------- */

/* type(self).name is GreenletBase's own (no subclass overrides it). */
static int
is_own(gevc_hub_state *st, PyObject *self, PyObject *name)
{
    PyTypeObject *tp = Py_TYPE(self);
    return tp == st->glet_type || _PyType_Lookup(tp, name) == _PyType_Lookup(st->glet_type, name);
}

/* bool(self.name) for a subclass's override; -1 on error */
static int
call_truth(PyObject *self, PyObject *name, PyObject *arg)
{
    PyObject *r = arg ? PyObject_CallMethodOneArg(self, name, arg)
                      : PyObject_CallMethodNoArgs(self, name);
    int t;
    if (r == NULL)
        return -1;
    t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

/* self.dead, honouring an override */
int
gevc__glet_dead(gevc_hub_state *st, PyObject *self)
{
    PyObject *r;
    int t;
    if (is_own(st, self, st->str_dead))
        return is_dead(st, self);
    if ((r = PyObject_GetAttr(self, st->str_dead)) == NULL)
        return -1;
    t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

/* Make sure it never starts: a pending start callback or timer is stopped
 * and closed, and one never started is marked cancelled. */
static int
cancel_start(gevc_hub_state *st, PyObject *self)
{
    PyObject *ev = F(self)->start_event, *r;
    if (ev == NULL) {
        F(self)->start_event = Py_NewRef(st->glet_start_cancelled);
        return 0;
    }
    if (ev == st->glet_start_completed || ev == st->glet_start_cancelled)
        return 0;
    Py_INCREF(ev);
    r = PyObject_CallMethodNoArgs(ev, st->str_stop);
    if (r != NULL && !Py_IS_TYPE(ev, st->loop.callback_type)) {
        /* a timer (start_later) or a stand-in; a callback's close is stop */
        Py_DECREF(r);
        r = PyObject_CallMethodNoArgs(ev, st->str_close);
    }
    Py_DECREF(ev);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* What gevent frees when it is killed: the function and its arguments. */
static void
free_run(gevc_hub_state *st, PyObject *self)
{
    glet_fields *f = F(self);
    PyObject *kwargs;
    Py_CLEAR(f->run);
    drop_instance_run(st, self);
    Py_CLEAR(f->args);
    /* read only now, as gevent does (dropping run or args may run code
     * that replaces it), and held: emptying it runs code too */
    kwargs = Py_XNewRef(f->kwargs);
    if (kwargs != NULL) {
        PyDict_Clear(kwargs);
        Py_DECREF(kwargs);
    }
}

/* Finish a greenlet that died before it ran with *exception* as outcome:
 * an exception class (instantiated), instance, a (type, value, tb) tuple,
 * or anything else, wrapped as gevent does: BaseException(exception) for
 * a 3-tuple, BaseException((type(x), x, None)) for any other x (gevent
 * raises TypeError for a 3-tuple whose first item is not a class). */
static int
death_before_start(gevc_hub_state *st, PyObject *self, PyObject *exception)
{
    PyObject *typ = NULL, *val = NULL, *tb = NULL, *junk;
    int dead, rc, triple = PyTuple_Check(exception) && PyTuple_GET_SIZE(exception) == 3;
    if (F(self)->exc_info != NULL)
        return 0;
    if ((dead = is_dead(st, self)) <= 0)
        return dead;
    if (triple && PyExceptionClass_Check(PyTuple_GET_ITEM(exception, 0))) {
        typ = Py_NewRef(PyTuple_GET_ITEM(exception, 0));
        val = Py_NewRef(PyTuple_GET_ITEM(exception, 1));
        tb = PyTuple_GET_ITEM(exception, 2);
        tb = Py_NewRef(PyTraceBack_Check(tb) ? tb : Py_None);
        /* a value that is not an instance of typ becomes typ(value) */
        PyErr_NormalizeException(&typ, &val, &tb);
        if (!PyErr_Occurred() && (val == NULL || !PyExceptionInstance_Check(val)))
            PyErr_Format(PyExc_TypeError, "cannot make an exception of %R", exception);
        if (PyErr_Occurred())
            goto done;
    }
    else if (PyExceptionClass_Check(exception)) {
        if ((val = PyObject_CallNoArgs(exception)) == NULL)
            goto done;
        if (!PyExceptionInstance_Check(val)) {
            PyErr_Format(PyExc_TypeError, "calling %R should have returned an instance "
                         "of BaseException, not %.100s", exception, Py_TYPE(val)->tp_name);
            goto done;
        }
        typ = Py_NewRef(exception);
    }
    else if (PyExceptionInstance_Check(exception)) {
        val = Py_NewRef(exception);
        typ = Py_NewRef((PyObject *)Py_TYPE(exception));
    }
    else {
        junk = triple ? Py_NewRef(exception)
            : PyTuple_Pack(3, (PyObject *)Py_TYPE(exception), exception, Py_None);
        if (junk == NULL)
            goto done;
        val = PyObject_CallOneArg(PyExc_BaseException, junk);
        Py_DECREF(junk);
        if (val == NULL)
            goto done;
        typ = Py_NewRef(PyExc_BaseException);
    }
    if (tb == NULL)
        tb = Py_NewRef(Py_None);
done:
    rc = PyErr_Occurred() ? -1 : report_error(st, self, typ, val, tb);
    Py_XDECREF(typ);
    Py_XDECREF(val);
    Py_XDECREF(tb);
    return rc;
}

/* 1 if it had not started, so never will and is now finished with
 * *exception*; 0 if it is running or finished; -1 on error. */
static int
maybe_kill_before_start(gevc_hub_state *st, PyObject *self, PyObject *exception)
{
    int dead;
    if (cancel_start(st, self) < 0)
        return -1;
    free_run(st, self);
    if ((dead = gevc__glet_dead(st, self)) <= 0)
        return dead;
    return death_before_start(st, self, exception) < 0 ? -1 : 1;
}

/* obj is a Greenlet whose kill is GreenletBase's */
int
gevc__glet_own_kill(gevc_hub_state *st, PyObject *obj)
{
    return PyObject_TypeCheck(obj, st->glet_type) && is_own(st, obj, st->str_kill);
}

/* self._maybe_kill_before_start(exception), honouring an override;
 * for killall, which calls it on each Greenlet */
int
gevc__glet_maybe_kill_before_start(gevc_hub_state *st, PyObject *self, PyObject *exception)
{
    if (is_own(st, self, st->str_maybe_kill))
        return maybe_kill_before_start(st, self, exception);
    return call_truth(self, st->str_maybe_kill, exception);
}

PyDoc_STRVAR(maybe_kill_doc, "_maybe_kill_before_start(exception) -> bool\n\n"
"If it has not started, make sure it never does and finish it with\n"
"exception (its links run): True.  False if it is running or finished.");
static PyObject *
glet_maybe_kill_before_start(PyObject *self, PyObject *exception)
{
    gevc_hub_state *st = state_of(self);
    int r = st ? maybe_kill_before_start(st, self, exception) : -1;
    return r < 0 ? NULL : PyBool_FromLong(r);
}

PyDoc_STRVAR(death_doc, "_handle_death_before_start(exception)\n\n"
"Finish it with exception if it died before running (a no-op otherwise).");
static PyObject *
glet_handle_death_before_start(PyObject *self, PyObject *exception)
{
    gevc_hub_state *st = state_of(self);
    if (st == NULL || death_before_start(st, self, exception) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* glet.throw(*exception) for a (type, value, tb) tuple, else
 * glet.throw(exception): the method is looked up, so an override runs. */
PyObject *
gevc__throw_exception(gevc_hub_state *st, PyObject *glet, PyObject *exception)
{
    PyObject *stack[4] = {glet, exception};
    size_t n = 2;
    if (PyTuple_Check(exception) && PyTuple_GET_SIZE(exception) == 3) {
        for (int i = 0; i < 3; i++)
            stack[i + 1] = PyTuple_GET_ITEM(exception, i);
        n = 4;
    }
    return PyObject_VectorcallMethod(st->str_throw, stack, n | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                     NULL);
}

/* Report the exception being raised to the hub (glet's parent, or this
 * thread's hub) as handle_error(context, type, value, tb). */
int
gevc__report_to_hub(gevc_hub_state *st, PyObject *glet, PyObject *context)
{
    PyObject *exc = gevc__exc_take(), *hub, *tb, *r;
    if (exc == NULL)
        return 0;
    hub = st->gapi->get_parent(glet);
    if (hub == NULL) {
        PyErr_Clear();             /* the main greenlet: the hub we run in */
        hub = Py_XNewRef(gevc_hub_get(st));
        if (hub == NULL) {
            Py_DECREF(exc);
            return -1;
        }
    }
    tb = PyException_GetTraceback(exc);
    {
        PyObject *stack[5] = {hub, context, (PyObject *)Py_TYPE(exc), exc, tb ? tb : Py_None};
        r = PyObject_VectorcallMethod(st->str_handle_error, stack,
                                      5 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
    Py_XDECREF(tb);
    Py_DECREF(exc);
    Py_DECREF(hub);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* The loop callback of kill: throw the exception into the greenlet (an
 * error escaping it goes to the hub), then wake the killer. */
static PyObject *
kill_from_loop(PyObject *unused, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_hub_state *st;
    PyObject *glet, *waiter, *r;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_kill expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    glet = args[0];
    waiter = args[2];
    if ((st = state_of(glet)) == NULL)
        return NULL;
    r = gevc__throw_exception(st, glet, args[1]);
    if (r == NULL && gevc__report_to_hub(st, glet, glet) < 0)
        return NULL;
    Py_XDECREF(r);
    if (waiter == Py_None)
        Py_RETURN_NONE;
    if (Py_IS_TYPE(waiter, st->waiter_type))
        return gevc_waiter_switch((gevc_waiter *)waiter, Py_None);
    return PyObject_CallMethodOneArg(waiter, st->str_switch, Py_None);
}

static PyMethodDef kill_callback_def = {
    "_kill", (PyCFunction)(void (*)(void))kill_from_loop, METH_FASTCALL,
    "_kill(greenlet, exception, waiter): Greenlet.kill's loop callback."};

/* self.join(timeout), honouring an override; timeout NULL: none */
static int
join(gevc_hub_state *st, PyObject *self, PyObject *timeout)
{
    PyObject *r;
    int ready;
    if (!is_own(st, self, st->str_join)) {
        r = PyObject_CallMethodOneArg(self, st->str_join, timeout ? timeout : Py_None);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    if ((ready = is_ready(st, self)) != 0)
        return ready < 0 ? -1 : 0;
    if (timeout == NULL || timeout == Py_None)
        return wait_finished(st, self, "join");
    r = PyObject_CallMethodOneArg(self, st->str_join_slow, timeout);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Greenlet.kill(exception, block, timeout); timeout NULL: none. */
int
gevc__glet_kill(gevc_hub_state *st, PyObject *self, PyObject *exception, int block,
                PyObject *timeout)
{
    PyObject *hub, *cb, *r, *cbargs[3];
    gevc_waiter *waiter = NULL;
    int done = gevc__glet_maybe_kill_before_start(st, self, exception);
    if (done == 0)
        done = is_own(st, self, st->str_ready) ? is_ready(st, self)
            : call_truth(self, st->str_ready, NULL);
    if (done != 0)
        return done < 0 ? -1 : 0;
    if ((hub = parent_of(st, self)) == NULL)
        return -1;
    if (block) {
        waiter = gevc_waiter_new(st, hub);
        if (waiter == NULL) {
            Py_DECREF(hub);
            return -1;
        }
        /* named by LoopExit's message */
        waiter->target = Py_NewRef(self);
        waiter->method = "kill";
    }
    cbargs[0] = self;
    cbargs[1] = exception;
    cbargs[2] = waiter ? (PyObject *)waiter : Py_None;
    cb = gevc__hub_run_callback(st, hub, st->glet_kill, cbargs, 3);
    Py_DECREF(hub);
    if (cb == NULL)
        goto error;
    Py_DECREF(cb);
    if (waiter == NULL)
        return 0;
    if ((r = gevc_waiter_get(waiter)) == NULL)
        goto error;
    Py_DECREF(r);
    Py_DECREF(waiter);
    return join(st, self, timeout);
error:
    Py_XDECREF(waiter);
    return -1;
}

PyDoc_STRVAR(kill_doc, "kill(exception=GreenletExit, block=True, timeout=None)\n\n"
"Raise exception in it (from the hub, at the next loop iteration); with\n"
"block, wait for that, then join(timeout).  One that has not started never\n"
"will: it finishes at once with exception and its links run.  exception may\n"
"be a (type, value, traceback) tuple.");
static PyObject *
glet_kill(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"exception", "block", "timeout", NULL};
    gevc_hub_state *st = state_of(self);
    PyObject *a[3];
    int block;
    if (st == NULL ||
        gevc__parse("kill", args, nargs, kwnames, names, 3, 0, a) < 0 ||
        (block = gevc__as_bool(a[1], 1)) < 0)
        return NULL;
    if (gevc__glet_kill(st, self, a[0] ? a[0] : st->gapi->GreenletExit, block, a[2]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- state -------------------------------------------------------------- */

PyDoc_STRVAR(ready_doc, "ready()\n\nTrue once finished (successfully or not).");
static PyObject *
glet_ready(PyObject *self, PyObject *unused)
{
    gevc_hub_state *st = state_of(self);
    int r = st ? is_ready(st, self) : -1;
    return r < 0 ? NULL : PyBool_FromLong(r);
}

PyDoc_STRVAR(successful_doc, "successful()\n\n"
"True if it finished without an exception (GreenletExit counts as success).");
static PyObject *
glet_successful(PyObject *self, PyObject *unused)
{
    PyObject *e = F(self)->exc_info;
    return PyBool_FromLong(e != NULL && PyTuple_GET_ITEM(e, 1) == Py_None);
}

static int
glet_bool(PyObject *self)
{
    return F(self)->start_event != NULL && F(self)->exc_info == NULL;
}

static PyObject *
get_dead(PyObject *self, void *c)
{
    gevc_hub_state *st = state_of(self);
    int r = st ? is_dead(st, self) : -1;
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
get_started(PyObject *self, void *c)
{
    return PyBool_FromLong(glet_bool(self));
}

static PyObject *
get_exception(PyObject *self, void *c)
{
    PyObject *e = F(self)->exc_info;
    return Py_NewRef(e ? PyTuple_GET_ITEM(e, 1) : Py_None);
}

static PyObject *
get_exc_info(PyObject *self, void *c)
{
    PyObject *e = F(self)->exc_info;
    if (e == NULL || PyTuple_GET_ITEM(e, 1) == Py_None)
        Py_RETURN_NONE;
    return Py_NewRef(e);
}

static PyObject *
get_args(PyObject *self, void *c)
{
    PyObject *a = F(self)->args;
    return a ? Py_NewRef(a) : PyTuple_New(0);
}

static PyObject *
get_kwargs(PyObject *self, void *c)
{
    glet_fields *f = F(self);
    if (f->kwargs == NULL && (f->kwargs = PyDict_New()) == NULL)
        return NULL;
    return Py_NewRef(f->kwargs);
}

static PyObject *
get_links(PyObject *self, void *c)
{
    return Py_XNewRef(links_list(self));
}

static PyObject *
get_tree_locals(PyObject *self, void *c)
{
    glet_fields *f = F(self);
    if (f->tree_locals == Py_None) {
        PyObject *d = PyDict_New();
        if (d == NULL)
            return NULL;
        Py_SETREF(f->tree_locals, d);
    }
    return Py_NewRef(f->tree_locals ? f->tree_locals : Py_None);
}

static int
set_tree_locals(PyObject *self, PyObject *value, void *c)
{
    glet_fields *f = F(self);
    Py_XSETREF(f->tree_locals, value == Py_None ? NULL : Py_XNewRef(value));
    return 0;
}

static PyObject *
default_run(PyObject *self, PyObject *unused)
{
    Py_RETURN_NONE;
}

static PyMethodDef default_run_def = {
    "_run", default_run, METH_NOARGS,
    "Override in a subclass to define what the greenlet runs."};

static PyObject *
get_run_attr(PyObject *self, void *c)
{
    PyObject *r = F(self)->run;
    if (r != NULL)
        return Py_NewRef(r);
    return PyCFunction_New(&default_run_def, self);
}

static int
set_run_attr(PyObject *self, PyObject *value, void *c)
{
    if (value == NULL && F(self)->run == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_run");
        return -1;
    }
    Py_XSETREF(F(self)->run, Py_XNewRef(value));
    return 0;
}

#define OPT(field) (void *)offsetof(glet_fields, field)

/* a field that reads as None while NULL; the closure is its offset */
static PyObject *
field_get(PyObject *self, void *off)
{
    PyObject *v = *(PyObject **)((char *)F(self) + (Py_ssize_t)off);
    return Py_NewRef(v ? v : Py_None);
}

static int
field_set(PyObject *self, PyObject *value, void *off)
{
    PyObject **slot = (PyObject **)((char *)F(self) + (Py_ssize_t)off);
    Py_XSETREF(*slot, value == Py_None ? NULL : Py_XNewRef(value));
    return 0;
}

/* _exc_info: its readers take items 0-2, so only such a tuple (or None). */
static int
exc_info_set(PyObject *self, PyObject *value, void *off)
{
    if (value != NULL && value != Py_None &&
        (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 3)) {
        PyErr_Format(PyExc_TypeError,
                     "_exc_info must be a (type, value, traceback) tuple or None, not %.100s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    return field_set(self, value, off);
}

static PyGetSetDef glet_getset[] = {
    {"dead", get_dead, NULL,
     "True if it finished, or was killed or its start aborted before running.", NULL},
    {"started", get_started, NULL, "True once started and until it finishes.", NULL},
    {"exception", get_exception, NULL, "The exception that ended it, or None.", NULL},
    {"exc_info", get_exc_info, NULL,
     "(type, value, traceback) of the exception that ended it, or None.", NULL},
    {"args", get_args, NULL, "The positional arguments of _run.", NULL},
    {"kwargs", get_kwargs, NULL, "The keyword arguments of _run.", NULL},
    {"_links", get_links, NULL, "The callbacks to run when it finishes.", NULL},
    {"spawn_tree_locals", get_tree_locals, set_tree_locals,
     "The dict shared by the greenlets of its spawn tree.", NULL},
    {"_run", get_run_attr, set_run_attr, "What run() calls.", NULL},
    {"value", field_get, field_set, "The result once it succeeded, else None.", OPT(value)},
    {"_exc_info", field_get, exc_info_set, "(t, v, tb); (None, None, None) on success.",
     OPT(exc_info)},
    {"_notifier", field_get, field_set, "The pending link notifier.", OPT(notifier)},
    {"_start_event", field_get, field_set, "What starts it.", OPT(start_event)},
    {"spawning_greenlet", field_get, field_set,
     "A weak reference to the greenlet that created it.", OPT(spawning_greenlet)},
    {"_spawning_frames", field_get, field_set,
     "(code, lasti, ...) of the spawner's stack.", OPT(spawning_frames)},
    {"_ident", field_get, field_set, "Its minimal_ident once assigned.", OPT(ident)},
    {"_formatted_info", field_get, field_set, "Cached repr detail.", OPT(formatted_info)},
    {NULL},
};

/* ---- creation and start ----------------------------------------------- */

static int
track_tree(gevc_hub_state *st, PyObject *self)
{
    glet_fields *f = F(self);
    PyObject *spawner = st->gapi->getcurrent(), *parent, *limit_obj, *frames;
    Py_ssize_t limit;
    if (spawner == NULL)
        return -1;
    Py_XSETREF(f->spawning_greenlet, PyWeakref_NewRef(spawner, NULL));
    if (f->spawning_greenlet == NULL)
        goto error;
    Py_CLEAR(f->tree_locals);
    if (PyObject_TypeCheck(spawner, st->glet_type)) {
        glet_fields *sf = F(spawner);
        if (sf->tree_locals == NULL || sf->tree_locals == Py_None) {
            PyObject *d = PyDict_New();
            if (d == NULL)
                goto error;
            Py_XSETREF(sf->tree_locals, d);
        }
        f->tree_locals = Py_NewRef(sf->tree_locals);
    }
    else {
        PyObject *dict = PyObject_GenericGetDict(spawner, NULL), *tl;
        if (dict == NULL)
            goto error;
        tl = PyDict_GetItemWithError(dict, st->str_spawn_tree_locals);
        if (tl != NULL)
            f->tree_locals = Py_NewRef(tl);
        else if (PyErr_Occurred()) {
            Py_DECREF(dict);
            goto error;
        }
        else if ((parent = st->gapi->get_parent(spawner)) == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(dict);
                goto error;
            }
            /* a main greenlet's children do not share: each makes its
             * own when it is first read */
            f->tree_locals = Py_NewRef(Py_None);
        }
        else {
            Py_DECREF(parent);
            f->tree_locals = PyDict_New();
            if (f->tree_locals == NULL ||
                PyDict_SetItem(dict, st->str_spawn_tree_locals, f->tree_locals) < 0) {
                Py_DECREF(dict);
                goto error;
            }
        }
        Py_DECREF(dict);
    }
    Py_DECREF(spawner);
    limit_obj = PyObject_GetAttr(self, st->str_spawning_stack_limit);
    if (limit_obj == NULL)
        return -1;
    limit = PyLong_AsSsize_t(limit_obj);
    Py_DECREF(limit_obj);
    if (limit == -1 && PyErr_Occurred())
        return -1;
    frames = gevc__spawn_stack(st, limit, 0);
    if (frames == NULL)
        return -1;
    Py_XSETREF(f->spawning_frames, frames);
    return 0;
error:
    Py_DECREF(spawner);
    return -1;
}

/* run: the run argument, positional or by keyword (borrowed, NULL when
 * absent); *kw: the other keyword arguments, NULL when none (new ref). */
static int
split_run(gevc_hub_state *st, PyObject *args, PyObject *kwargs, PyObject **run,
          PyObject **kw)
{
    PyObject *kwrun;
    *run = PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : NULL;
    *kw = NULL;
    if (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0)
        return 0;
    kwrun = PyDict_GetItemWithError(kwargs, st->str_run);
    if (kwrun == NULL) {
        if (PyErr_Occurred())
            return -1;
        *kw = Py_NewRef(kwargs);
        return 0;
    }
    if (*run != NULL) {
        PyErr_SetString(PyExc_TypeError, "__init__() got multiple values for argument 'run'");
        return -1;
    }
    *run = kwrun;                  /* the caller's dict keeps it */
    if ((*kw = PyDict_Copy(kwargs)) == NULL)
        return -1;
    if (PyDict_DelItem(*kw, st->str_run) < 0) {
        Py_CLEAR(*kw);
        return -1;
    }
    if (PyDict_GET_SIZE(*kw) == 0)
        Py_CLEAR(*kw);
    return 0;
}

static int
run_spawn_callbacks(gevc_hub_state *st, PyObject *self)
{
    PyObject *cbs = _PyType_Lookup(Py_TYPE(self), st->str_spawn_callbacks), *it, *cb;
    if (cbs == NULL || cbs == Py_None)
        return 0;
    Py_INCREF(cbs);
    it = PyObject_GetIter(cbs);
    Py_DECREF(cbs);
    if (it == NULL)
        return -1;
    while ((cb = PyIter_Next(it)) != NULL) {
        PyObject *r = PyObject_CallOneArg(cb, self);
        Py_DECREF(cb);
        if (r == NULL)
            break;
        Py_DECREF(r);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int
glet_init(PyObject *self, PyObject *args, PyObject *kwargs)
{
    gevc_hub_state *st = state_of(self);
    glet_fields *f = F(self);
    PyObject *hub, *run, *kw, *track;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    int on, callable;

    if (st == NULL || (hub = gevc_hub_get(st)) == NULL)
        return -1;
    if (st->gapi->set_parent(self, hub) < 0 || split_run(st, args, kwargs, &run, &kw) < 0)
        return -1;
    Py_XSETREF(f->kwargs, kw);
    if (run != NULL && run != Py_None && PyObject_SetAttr(self, st->str_underscore_run, run) < 0)
        return -1;
    if (run != NULL && run != Py_None)
        callable = PyCallable_Check(run);
    else {
        PyObject *r = PyObject_GetAttr(self, st->str_underscore_run);
        callable = r ? PyCallable_Check(r) : -1;
        Py_XDECREF(r);
    }
    if (callable <= 0) {
        if (callable == 0)
            PyErr_SetString(PyExc_TypeError, "The run argument or self._run must be callable");
        return -1;
    }
    Py_XSETREF(f->args, nargs > 1 ? PyTuple_GetSlice(args, 1, nargs) : NULL);
    if (nargs > 1 && f->args == NULL)
        return -1;
    Py_CLEAR(f->start_event);
    Py_CLEAR(f->links);
    /* config.track_greenlet_tree, read at each creation */
    track = st->glet_track_setting
        ? PyObject_GetAttr(st->glet_track_setting, st->str_value) : Py_NewRef(Py_False);
    on = track ? PyObject_IsTrue(track) : -1;
    Py_XDECREF(track);
    if (on < 0 || (on && track_tree(st, self) < 0))
        return -1;
    return run_spawn_callbacks(st, self);
}

static int
start(gevc_hub_state *st, PyObject *self)
{
    PyObject *sw, *cb;
    if (F(self)->start_event != NULL)
        return 0;
    /* type(self).switch with self as argument: no bound method per start */
    sw = _PyType_Lookup(Py_TYPE(self), st->str_switch);
    if (sw == NULL) {
        PyErr_SetString(PyExc_AttributeError, "switch");
        return -1;
    }
    Py_INCREF(sw);
    cb = run_callback(st, self, sw, &self, 1);
    Py_DECREF(sw);
    if (cb == NULL)
        return -1;
    Py_XSETREF(F(self)->start_event, cb);
    return 0;
}

PyDoc_STRVAR(start_doc, "start()\n\nSchedule it to run at the next loop iteration (once).");
static PyObject *
glet_start(PyObject *self, PyObject *unused)
{
    gevc_hub_state *st = state_of(self);
    if (st == NULL || start(st, self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(spawn_doc, "spawn(run, *args, **kwargs)\n\n"
"Create a greenlet of this class and start it.");
static PyObject *
glet_spawn(PyObject *cls, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    gevc_hub_state *st;
    PyObject *glet = PyObject_Vectorcall(cls, args, nargsf, kwnames);
    if (glet == NULL)
        return NULL;
    if (!PyObject_TypeCheck(glet, &PyBaseObject_Type) ||
        (st = state_of(glet)) == NULL || !PyObject_TypeCheck(glet, st->glet_type)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "spawn: %R did not make a Greenlet", cls);
        Py_DECREF(glet);
        return NULL;
    }
    if (start(st, glet) < 0) {
        Py_DECREF(glet);
        return NULL;
    }
    return glet;
}

PyDoc_STRVAR(report_result_doc, "_report_result(result)\n\nFinish with result.");
static PyObject *
glet_report_result(PyObject *self, PyObject *result)
{
    gevc_hub_state *st = state_of(self);
    if (st == NULL || report_result(st, self, result) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(report_error_doc, "_report_error(exc_info)\n\n"
"Finish with the exception of exc_info (GreenletExit counts as a result).");
static PyObject *
glet_report_error(PyObject *self, PyObject *exc_info)
{
    gevc_hub_state *st = state_of(self);
    if (st == NULL)
        return NULL;
    if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3 ||
        !PyExceptionInstance_Check(PyTuple_GET_ITEM(exc_info, 1))) {
        PyErr_SetString(PyExc_TypeError,
                        "_report_error expects (type, exception, traceback)");
        return NULL;
    }
    if (report_error(st, self, PyTuple_GET_ITEM(exc_info, 0), PyTuple_GET_ITEM(exc_info, 1),
                     PyTuple_GET_ITEM(exc_info, 2)) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
glet_reduce(PyObject *self, PyObject *unused)
{
    PyErr_Format(PyExc_TypeError, "cannot serialize '%.100s' object",
                 Py_TYPE(self)->tp_name);
    return NULL;
}

static PyMethodDef glet_methods[] = {
    {"run", glet_run, METH_NOARGS, run_doc},
    {"start", glet_start, METH_NOARGS, start_doc},
    {"spawn", (PyCFunction)(void (*)(void))glet_spawn,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS, spawn_doc},
    {"rawlink", glet_rawlink, METH_O, rawlink_doc},
    {"unlink", glet_unlink, METH_O, unlink_doc},
    {"unlink_all", glet_unlink_all, METH_NOARGS, unlink_all_doc},
    {"has_links", glet_has_links, METH_NOARGS, has_links_doc},
    {"_notify_links", glet_notify_links, METH_NOARGS, notify_doc},
    {"join", (PyCFunction)(void (*)(void))glet_join, METH_FASTCALL | METH_KEYWORDS, join_doc},
    {"get", (PyCFunction)(void (*)(void))glet_get, METH_FASTCALL | METH_KEYWORDS, get_doc},
    {"ready", glet_ready, METH_NOARGS, ready_doc},
    {"successful", glet_successful, METH_NOARGS, successful_doc},
    {"_raise_exception", glet_raise_exception, METH_NOARGS, raise_doc},
    {"_report_result", glet_report_result, METH_O, report_result_doc},
    {"_report_error", glet_report_error, METH_O, report_error_doc},
    {"kill", (PyCFunction)(void (*)(void))glet_kill, METH_FASTCALL | METH_KEYWORDS, kill_doc},
    {"_maybe_kill_before_start", glet_maybe_kill_before_start, METH_O, maybe_kill_doc},
    {"_handle_death_before_start", glet_handle_death_before_start, METH_O, death_doc},
    {"__reduce__", glet_reduce, METH_NOARGS, "Greenlets cannot be pickled."},
    {"__reduce_ex__", (PyCFunction)glet_reduce, METH_O, "Greenlets cannot be pickled."},
    {NULL, NULL, 0, NULL},
};

/* ---- GC and lifetime ---------------------------------------------------- */

static int
glet_traverse(PyObject *self, visitproc visit, void *arg)
{
    glet_fields *f = F(self);
    Py_VISIT(f->run);
    Py_VISIT(f->args);
    Py_VISIT(f->kwargs);
    Py_VISIT(f->value);
    Py_VISIT(f->exc_info);
    Py_VISIT(f->links);
    Py_VISIT(f->notifier);
    Py_VISIT(f->start_event);
    Py_VISIT(f->spawning_greenlet);
    Py_VISIT(f->tree_locals);
    Py_VISIT(f->spawning_frames);
    Py_VISIT(f->ident);
    Py_VISIT(f->formatted_info);
    return base_traverse(self, visit, arg);
}

static void
clear_fields(PyObject *self)
{
    glet_fields *f = F(self);
    Py_CLEAR(f->run);
    Py_CLEAR(f->args);
    Py_CLEAR(f->kwargs);
    Py_CLEAR(f->value);
    Py_CLEAR(f->exc_info);
    Py_CLEAR(f->links);
    Py_CLEAR(f->notifier);
    Py_CLEAR(f->start_event);
    Py_CLEAR(f->spawning_greenlet);
    Py_CLEAR(f->tree_locals);
    Py_CLEAR(f->spawning_frames);
    Py_CLEAR(f->ident);
    Py_CLEAR(f->formatted_info);
}

static int
glet_clear(PyObject *self)
{
    clear_fields(self);
    return base_clear(self);
}

static void
glet_dealloc(PyObject *self)
{
    /* as for a Python subclass: finalize first (an unfinished greenlet gets
     * GreenletExit), then drop our fields, then the greenlet's dealloc */
    if (PyObject_CallFinalizerFromDealloc(self) < 0)
        return;                    /* resurrected */
    PyObject_GC_UnTrack(self);
    clear_fields(self);
    PyObject_GC_Track(self);
    base_dealloc(self);
}

PyDoc_STRVAR(glet_doc, "GreenletBase(run=None, *args, **kwargs)\n\n"
"The C base of gevent_c.greenlet.Greenlet: a greenlet whose parent is the\n"
"hub, that runs run(*args, **kwargs) (or the _run method) once started and\n"
"keeps the outcome for get/join and its links.");

static PyType_Slot glet_slots[] = {
    {Py_tp_doc, (void *)glet_doc},
    {Py_tp_init, glet_init},
    {Py_tp_traverse, glet_traverse},
    {Py_tp_clear, glet_clear},
    {Py_tp_dealloc, glet_dealloc},
    {Py_tp_methods, glet_methods},
    {Py_tp_getset, glet_getset},
    {Py_nb_bool, glet_bool},
    {0, NULL},
};

static PyType_Spec glet_spec = {
    .name = "gevent_c._core.GreenletBase",
    .basicsize = 0,                /* set at setup: the greenlet's size + ours */
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = glet_slots,
};

PyDoc_STRVAR(setup_doc, "_greenlet_setup(track_setting, start_completed, start_cancelled)\n\n"
"The config setting whose _value says whether spawn trees are tracked, and\n"
"the markers _start_event holds once the start completed or was cancelled.");
static PyObject *
glet_setup(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    gevc_hub_state *st = (gevc_hub_state *)PyModule_GetState(mod);
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_greenlet_setup expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    Py_XSETREF(st->glet_track_setting, Py_NewRef(args[0]));
    Py_XSETREF(st->glet_start_completed, Py_NewRef(args[1]));
    Py_XSETREF(st->glet_start_cancelled, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static PyMethodDef glet_functions[] = {
    {"_greenlet_setup", (PyCFunction)(void (*)(void))glet_setup, METH_FASTCALL, setup_doc},
    {NULL, NULL, 0, NULL},
};

int
gevc__greenletbase_type_init(PyObject *mod, gevc_hub_state *st)
{
    PyTypeObject *base = st->gapi->type;
    PyObject *dead;
    fields_offset = base->tp_basicsize;
    glet_spec.basicsize = (int)(base->tp_basicsize + sizeof(glet_fields));
    base_traverse = base->tp_traverse;
    base_clear = base->tp_clear;
    base_dealloc = base->tp_dealloc;
    if ((st->str_underscore_run = PyUnicode_InternFromString("_run")) == NULL ||
        (st->str_run = PyUnicode_InternFromString("run")) == NULL ||
        (st->str_value = PyUnicode_InternFromString("_value")) == NULL ||
        (st->str_pending = PyUnicode_InternFromString("pending")) == NULL ||
        (st->str_active = PyUnicode_InternFromString("active")) == NULL ||
        (st->str_join_slow = PyUnicode_InternFromString("_join_slow")) == NULL ||
        (st->str_dead = PyUnicode_InternFromString("dead")) == NULL ||
        (st->str_spawn_tree_locals = PyUnicode_InternFromString("spawn_tree_locals")) == NULL ||
        (st->str_spawning_stack_limit = PyUnicode_InternFromString("spawning_stack_limit")) == NULL ||
        (st->str_spawn_callbacks = PyUnicode_InternFromString("_spawn_callbacks")) == NULL)
        return -1;
    if (gevc__add_type(mod, &st->glet_type, &glet_spec, (PyObject *)base, "GreenletBase") < 0 ||
        PyModule_AddFunctions(mod, glet_functions) < 0 ||
        (st->glet_notify = PyCFunction_New(&notify_def, mod)) == NULL ||
        (st->glet_kill = PyCFunction_New(&kill_callback_def, mod)) == NULL ||
        (st->glet_success = PyTuple_Pack(3, Py_None, Py_None, Py_None)) == NULL)
        return -1;
    dead = PyDict_GetItemWithError(base->tp_dict, st->str_dead);
    if (dead == NULL || Py_TYPE(dead)->tp_descr_get == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "greenlet has no dead descriptor");
        return -1;
    }
    st->glet_raw_dead = Py_NewRef(dead);
    st->glet_start_completed = Py_NewRef(Py_True);
    st->glet_start_cancelled = Py_NewRef(Py_False);
    return gevc__kill_init(mod, st) < 0 ? -1 : gevc__iwait_init(mod, st);
}
