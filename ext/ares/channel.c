/* The channel type: c-ares options, servers, destroy, GC and attributes
 * (driver.c runs it on the loop). */
#include "gevc_ares.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* "1-65535", digits only */
static int
parse_port(const char *s, int *port)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || errno != 0 || v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* 'a.b.c.d', 'a.b.c.d:port', 'ipv6', '[ipv6]' or '[ipv6]:port' into node,
 * checked with libc's inet_pton: c-ares 1.18's own parser accepts garbage
 * (and leaves the address uninitialised for over-long tokens). */
static int
parse_server(const char *s, struct ares_addr_port_node *node)
{
    char host[INET6_ADDRSTRLEN];
    const char *port = NULL, *colon = strchr(s, ':');
    size_t len = strlen(s);
    int v6 = colon != NULL;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return -1;
        port = close[1] == ':' ? close + 2 : NULL;
        len = (size_t)(close - s - 1);
        s++;
    }
    else if (colon != NULL && strchr(colon + 1, ':') == NULL) {
        port = colon + 1;
        len = (size_t)(colon - s);
        v6 = 0;
    }
    if (len >= sizeof(host))
        return -1;
    memcpy(host, s, len);
    host[len] = '\0';
    struct in6_addr a6;
    if (v6 && inet_pton(AF_INET6, host, &a6) == 1) {
        node->family = AF_INET6;
        memcpy(&node->addr.addr6, &a6, sizeof(a6));
    }
    else if (!v6 && inet_pton(AF_INET, host, &node->addr.addr4) == 1)
        node->family = AF_INET;
    else
        return -1;
    if (port != NULL && parse_port(port, &node->udp_port) < 0)
        return -1;
    node->tcp_port = node->udp_port;
    return 0;
}

/* The servers as a c-ares list (PyMem_Free it); ValueError for a bad one. */
static struct ares_addr_port_node *
server_nodes(PyObject *seq)
{
    Py_ssize_t n = PyList_GET_SIZE(seq), size;
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "servers must name at least one server");
        return NULL;
    }
    struct ares_addr_port_node *nodes = PyMem_Calloc((size_t)n, sizeof(*nodes));
    if (nodes == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(seq, i);
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "server addresses must be str, not %.100s",
                         Py_TYPE(item)->tp_name);
            goto error;
        }
        const char *text = PyUnicode_AsUTF8AndSize(item, &size);
        if (text == NULL)
            goto error;
        if (strlen(text) != (size_t)size || parse_server(text, &nodes[i]) < 0) {
            PyErr_Format(PyExc_ValueError, "bad server address %R", item);
            goto error;
        }
        nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
    }
    return nodes;
error:
    PyMem_Free(nodes);
    return NULL;
}

static int
set_servers(gevc_ares_channel *chan, PyObject *servers)
{
    PyObject *seq = servers_list(servers);
    if (seq == NULL)
        return -1;
    struct ares_addr_port_node *nodes = server_nodes(seq);
    Py_DECREF(seq);
    if (nodes == NULL)
        return -1;
    GEVC_ARES_ENTER(chan);
    int status = ares_set_servers_ports(chan->ch, nodes);
    gevc_ares_leave(chan);
    PyMem_Free(nodes);
    if (status == ARES_ENOTIMP) {
        PyErr_SetString(PyExc_RuntimeError,
                        "c-ares cannot change servers while queries are pending");
        return -1;
    }
    if (status == ARES_ENOMEM) {
        PyErr_NoMemory();
        return -1;
    }
    if (status != ARES_SUCCESS) {
        PyErr_Format(PyExc_ValueError, "c-ares refused servers %R: %s",
                     servers, ares_strerror(status));
        return -1;
    }
    return 0;
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

/* The exception being raised becomes *first unless there already is one;
 * later ones go to the unraisable hook. */
static void
keep_first(gevc_ares_channel *chan, PyObject **first)
{
    if (*first == NULL) {
        *first = gevc__exc_take();
        return;
    }
    gevc_ares_unraisable(chan);
}

/* Destroy the c-ares channel (pending queries finish with an error into
 * chan->ready), stop the timer and every watcher, even when one fails: no
 * Python code runs with an exception set, and the first one is raised. */
static int
shutdown_channel(gevc_ares_channel *chan)
{
    PyObject *first = NULL, *key, *w;
    ares_channel ch = chan->ch;
    if (ch != NULL) {
        chan->ch = NULL;
        ares_destroy(ch);
    }
    if (gevc_ares_timer_stop(chan) < 0)
        keep_first(chan, &first);
    /* detached, so that stopping them needs no allocation: a destroyed
     * channel never watches a socket again */
    PyObject *ws = chan->watchers;
    chan->watchers = NULL;
    for (Py_ssize_t pos = 0; ws != NULL && PyDict_Next(ws, &pos, &key, &w);) {
        if (gevc_ares_watcher_stop(chan, w, 1) < 0)
            keep_first(chan, &first);
    }
    Py_XDECREF(ws);
    if (first == NULL)
        return 0;
    gevc__exc_raise(first);
    return -1;
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
    if (chan->busy) {
        chan->destroy_pending = 1;   /* gevc_ares_leave() destroys it */
        Py_RETURN_NONE;
    }
    if (gevc_ares_destroy_now(chan) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* shutdown_channel, then hand the failed queries to the loop, even when
 * the shutdown failed: nothing else would ever deliver them. */
int
gevc_ares_destroy_now(gevc_ares_channel *chan)
{
    chan->destroy_pending = 0;
    int rc = shutdown_channel(chan);
    if (chan->ready == NULL)
        return rc;
    PyObject *saved = gevc__exc_take();
    PyObject *r = gevc_ares_after_call(chan, Py_NewRef(Py_None));
    if (r == NULL) {
        /* a dead loop cannot run them: deliver here rather than lose them */
        PyErr_Clear();
        gevc_ares_deliver(chan);
    }
    Py_XDECREF(r);
    gevc__exc_raise(saved);
    return rc;
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
    /* by def, not PyType_GetModuleState: a Python subclass has no module */
    PyObject *mod = PyType_GetModuleByDef(tp, &gevc_ares_module);
    if (mod == NULL)
        return NULL;
    gevc_ares_state *st = PyModule_GetState(mod);
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
        Py_ssize_t size = 0;
        const char *l = PyUnicode_Check(lookups) ? PyUnicode_AsUTF8AndSize(lookups, &size) : NULL;
        if (l == NULL) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "lookups must be str, not %.100s",
                             Py_TYPE(lookups)->tp_name);
            return NULL;
        }
        if ((size_t)size != strlen(l) ||
            (strcmp(l, "b") && strcmp(l, "f") && strcmp(l, "fb") && strcmp(l, "bf"))) {
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
    chan->thread = PyThread_get_thread_ident();
    chan->loop = Py_NewRef(loop);
    if ((chan->watchers = PyDict_New()) == NULL || gevc_ares_bind_callbacks(chan) < 0)
        goto error;
    opts.sock_state_cb = gevc_ares_sock_state_cb;
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
    return gevc_ares_traverse_ready(chan, visit, arg);
}

static int
chan_clear(gevc_ares_channel *chan)
{
    if (chan->busy) {
        /* c-ares is using it: the outermost call destroys it on return */
        chan->destroy_pending = 1;
        return 0;
    }
    PyObject *saved = gevc__exc_take();
    if (shutdown_channel(chan) < 0)
        gevc_ares_unraisable(chan);
    gevc__exc_raise(saved);
    Py_CLEAR(chan->watchers);
    Py_CLEAR(chan->timer);
    Py_CLEAR(chan->on_io);
    gevc_ares_drop_ready(chan);
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
    return PyBool_FromLong(chan->ch == NULL || chan->destroy_pending);
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
    {"closed", (getter)get_closed, NULL, "True once destroy() was called.", NULL},
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

