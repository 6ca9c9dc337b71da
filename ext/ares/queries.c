/* The channel's query methods: each takes a callback, starts a c-ares query
 * and returns; the c-ares callback converts the answer to Python objects and
 * queues it for delivery (channel.c). */
#include "gevc_ares.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* ---- argument helpers ------------------------------------------------- */

/* A host name as bytes (new reference): str is IDNA-encoded like the socket
 * module does; NUL bytes are refused. */
static PyObject *
name_bytes(PyObject *name, const char *what)
{
    PyObject *b;
    if (PyUnicode_Check(name) && PyUnicode_IS_ASCII(name))
        b = PyBytes_FromStringAndSize(PyUnicode_DATA(name), PyUnicode_GET_LENGTH(name));
    else if (PyUnicode_Check(name))
        b = PyUnicode_AsEncodedString(name, "idna", NULL);
    else if (PyBytes_Check(name))
        b = Py_NewRef(name);
    else if (PyByteArray_Check(name))
        b = PyBytes_FromObject(name);
    else {
        PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not %.100s",
                     what, Py_TYPE(name)->tp_name);
        return NULL;
    }
    if (b == NULL)
        return NULL;
    if (strlen(PyBytes_AS_STRING(b)) != (size_t)PyBytes_GET_SIZE(b)) {
        PyErr_Format(PyExc_ValueError, "%s contains a NUL byte", what);
        Py_DECREF(b);
        return NULL;
    }
    return b;
}

static int
check_callback(PyObject *cb)
{
    if (!PyCallable_Check(cb)) {
        PyErr_Format(PyExc_TypeError, "callback must be callable, not %.100s",
                     Py_TYPE(cb)->tp_name);
        return -1;
    }
    return 0;
}

static PyObject *
addr_str(int family, const void *addr)
{
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(family, addr, buf, sizeof(buf)) == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyUnicode_FromString(buf);
}

static void addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res);

/* ---- gethostbyaddr: PTR answers ------------------------------------------ */

static PyObject *
str_list(char **items)
{
    PyObject *list = PyList_New(0);
    for (; list != NULL && items != NULL && *items != NULL; items++) {
        PyObject *s = PyUnicode_DecodeFSDefault(*items);
        if (s == NULL || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(s);
    }
    return list;
}

/* (first PTR name, [other PTR names], [address]) */
static PyObject *
ptr_tuple(gevc_ares_request *req, struct hostent *h)
{
    PyObject *names = str_list(h->h_aliases), *addrs = NULL, *first = NULL;
    if (names == NULL)
        return NULL;
    if (PyList_GET_SIZE(names) == 0) {
        /* c-ares names the answer in h_name when it lists no alias */
        PyObject *n = PyUnicode_DecodeFSDefault(h->h_name ? h->h_name : "");
        if (n == NULL || PyList_Append(names, n) < 0) {
            Py_XDECREF(n);
            goto error;
        }
        Py_DECREF(n);
    }
    first = Py_NewRef(PyList_GET_ITEM(names, 0));
    if (PyList_SetSlice(names, 0, 1, NULL) < 0)
        goto error;
    PyObject *a = addr_str(req->family, req->addr);
    if (a == NULL)
        goto error;
    addrs = PyList_New(1);
    if (addrs == NULL) {
        Py_DECREF(a);
        goto error;
    }
    PyList_SET_ITEM(addrs, 0, a);
    return Py_BuildValue("(NNN)", first, names, addrs);
error:
    Py_XDECREF(first);
    Py_DECREF(names);
    return NULL;
}

static void
ptr_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    gevc_ares_request *req = arg;
    struct hostent *h = NULL;
    PyObject *value;
    if (status == ARES_SUCCESS)
        status = ares_parse_ptr_reply(abuf, alen, req->addr, req->addrlen, req->family, &h);
    if (status != ARES_SUCCESS || h == NULL)
        value = gevc_ares_herror(req->chan->st, status == ARES_SUCCESS ? ARES_ENOTFOUND : status);
    else
        value = ptr_tuple(req, h);
    if (h != NULL)
        ares_free_hostent(h);
    gevc_ares_request_finish(req, value);
}

/* "4.3.2.1.in-addr.arpa" / nibbles + "ip6.arpa" */
static void
reverse_name(int family, const unsigned char *a, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    if (family == AF_INET) {
        snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return;
    }
    char *p = out;
    for (int i = 15; i >= 0; i--) {
        *p++ = hex[a[i] & 15];
        *p++ = '.';
        *p++ = hex[a[i] >> 4];
        *p++ = '.';
    }
    strcpy(p, "ip6.arpa");
}

const char gevc_ares_gethostbyname_doc[] =
"gethostbyname(callback, name, family=AF_INET)\n\n"
"Look name up (hosts file, then DNS).  callback receives (canonical name,\n"
"CNAME aliases, addresses) like socket.gethostbyname_ex, or a gaierror.";

PyObject *
gevc_ares_gethostbyname(gevc_ares_channel *chan, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"callback", "name", "family", NULL};
    PyObject *a[3], *name = NULL;
    int family;
    if (gevc__parse("gethostbyname", args, nargs, kwnames, names, GEVC_NNAMES(names), 2, a) < 0 ||
        check_callback(a[0]) < 0 || gevc__ares_int(a[2], "family", AF_INET, &family) < 0)
        return NULL;
    if (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC) {
        PyErr_Format(PyExc_ValueError, "unsupported address family %d", family);
        return NULL;
    }
    if ((name = name_bytes(a[1], "name")) == NULL || gevc_ares_check_open(chan) < 0)
        goto error;
    gevc_ares_request *req = gevc_ares_request_new(chan, a[0]);
    if (req == NULL)
        goto error;
    /* through ares_getaddrinfo: ares_gethostbyname in 1.18 names the first
     * CNAME target, not the end of the chain, as the host name */
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_flags = ARES_AI_CANONNAME;
    req->family = family;
    req->hostent = 1;
    GEVC_ARES_ENTER(chan);
    ares_getaddrinfo(chan->ch, PyBytes_AS_STRING(name), NULL, &hints, addrinfo_cb, req);
    gevc_ares_leave(chan);
    Py_DECREF(name);
    return gevc_ares_started(chan);
error:
    Py_XDECREF(name);
    return NULL;
}

const char gevc_ares_gethostbyaddr_doc[] =
"gethostbyaddr(callback, address)\n\n"
"PTR lookup (DNS only) of a numeric IPv4/IPv6 address (str).  callback\n"
"receives (first name, [other names], [address]) or a socket.herror with\n"
"libc's h_errno (1 unknown host, 2 SERVFAIL/timeout, 4 no PTR record).";

PyObject *
gevc_ares_gethostbyaddr(gevc_ares_channel *chan, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"callback", "address", NULL};
    PyObject *a[2], *addr = NULL;
    unsigned char buf[sizeof(struct in6_addr)];
    int family = AF_INET, len = 4;
    if (gevc__parse("gethostbyaddr", args, nargs, kwnames, names, GEVC_NNAMES(names), 2, a) < 0 ||
        check_callback(a[0]) < 0 || (addr = name_bytes(a[1], "address")) == NULL)
        return NULL;
    if (inet_pton(AF_INET, PyBytes_AS_STRING(addr), buf) != 1) {
        family = AF_INET6;
        len = 16;
        if (inet_pton(AF_INET6, PyBytes_AS_STRING(addr), buf) != 1) {
            PyErr_Format(PyExc_ValueError, "illegal IP address string: %R", a[1]);
            goto error;
        }
    }
    if (gevc_ares_check_open(chan) < 0)
        goto error;
    gevc_ares_request *req = gevc_ares_request_new(chan, a[0]);
    if (req == NULL)
        goto error;
    /* a plain PTR query: ares_gethostbyaddr turns SERVFAIL into "not found" */
    char rname[80];
    req->family = family;
    req->addrlen = len;
    memcpy(req->addr, buf, len);
    reverse_name(family, buf, rname, sizeof(rname));
    GEVC_ARES_ENTER(chan);
    ares_query(chan->ch, rname, C_IN, T_PTR, ptr_cb, req);
    gevc_ares_leave(chan);
    Py_DECREF(addr);
    return gevc_ares_started(chan);
error:
    Py_XDECREF(addr);
    return NULL;
}

/* ---- getaddrinfo ---------------------------------------------------------- */

static int
ares_ai_flags(int flags)
{
    int r = 0;
    if (flags & AI_CANONNAME) r |= ARES_AI_CANONNAME;
    if (flags & AI_NUMERICHOST) r |= ARES_AI_NUMERICHOST;
    if (flags & AI_PASSIVE) r |= ARES_AI_PASSIVE;
    if (flags & AI_NUMERICSERV) r |= ARES_AI_NUMERICSERV;
    if (flags & AI_V4MAPPED) r |= ARES_AI_V4MAPPED;
    if (flags & AI_ALL) r |= ARES_AI_ALL;
    if (flags & AI_ADDRCONFIG) r |= ARES_AI_ADDRCONFIG;
    if (flags & GEVC_AI_NOSORT) r |= ARES_AI_NOSORT;
    return r;
}

static PyObject *
sockaddr_tuple(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        PyObject *host = addr_str(AF_INET, &in->sin_addr);
        return host ? Py_BuildValue("(Ni)", host, ntohs(in->sin_port)) : NULL;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    PyObject *host = addr_str(AF_INET6, &in6->sin6_addr);
    return host ? Py_BuildValue("(NiIk)", host, ntohs(in6->sin6_port),
                                (unsigned int)ntohl(in6->sin6_flowinfo),
                                (unsigned long)in6->sin6_scope_id) : NULL;
}

/* The name the answer's addresses belong to: the end of the CNAME chain. */
static const char *
canonical_name(struct ares_addrinfo *res)
{
    const char *name = res->name;
    int cnames = 0;
    for (struct ares_addrinfo_cname *c = res->cnames; c != NULL; c = c->next)
        cnames++;
    /* a chain is at most every CNAME once; more hops means a cycle */
    for (int hops = 0; hops < cnames; hops++) {
        struct ares_addrinfo_cname *c = res->cnames;
        while (c != NULL && (c->alias == NULL || name == NULL ||
                             strcasecmp(c->alias, name) != 0))
            c = c->next;
        if (c == NULL || c->name == NULL)
            break;
        name = c->name;
    }
    return name ? name : "";
}

/* libc's (socktype, proto) expansion: one entry per given hint, else
 * stream/TCP, datagram/UDP and raw for each address. */
static int
type_combos(gevc_ares_request *req, int out[3][2])
{
    if (req->socktype == 0 && req->proto == 0) {
        out[0][0] = SOCK_STREAM; out[0][1] = IPPROTO_TCP;
        out[1][0] = SOCK_DGRAM; out[1][1] = IPPROTO_UDP;
        out[2][0] = SOCK_RAW; out[2][1] = 0;
        return 3;
    }
    int st = req->socktype, pr = req->proto;
    if (st == 0)
        st = pr == IPPROTO_UDP ? SOCK_DGRAM : pr == IPPROTO_TCP ? SOCK_STREAM : SOCK_RAW;
    if (pr == 0)
        pr = st == SOCK_STREAM ? IPPROTO_TCP : st == SOCK_DGRAM ? IPPROTO_UDP : 0;
    out[0][0] = st;
    out[0][1] = pr;
    return 1;
}

static PyObject *
addrinfo_list(gevc_ares_request *req, struct ares_addrinfo *res)
{
    int combos[3][2];
    int ncombos = type_combos(req, combos);
    PyObject *list = PyList_New(0), *canon = NULL, *empty = NULL;
    if (list == NULL)
        return NULL;
    if ((empty = PyUnicode_FromString("")) == NULL)
        goto error;
    if ((req->flags & AI_CANONNAME) &&
        (canon = PyUnicode_DecodeFSDefault(canonical_name(res))) == NULL)
        goto error;
    for (struct ares_addrinfo_node *n = res->nodes; n != NULL; n = n->ai_next) {
        if (n->ai_addr == NULL || (n->ai_family != AF_INET && n->ai_family != AF_INET6))
            continue;
        PyObject *sa = sockaddr_tuple(n->ai_addr);
        if (sa == NULL)
            goto error;
        for (int i = 0; i < ncombos; i++) {
            PyObject *cn = (canon != NULL && PyList_GET_SIZE(list) == 0) ? canon : empty;
            PyObject *t = Py_BuildValue("(iiiOO)", n->ai_family, combos[i][0],
                                        combos[i][1], cn, sa);
            if (t == NULL || PyList_Append(list, t) < 0) {
                Py_XDECREF(t);
                Py_DECREF(sa);
                goto error;
            }
            Py_DECREF(t);
        }
        Py_DECREF(sa);
    }
    Py_XDECREF(canon);
    Py_DECREF(empty);
    return list;
error:
    Py_XDECREF(canon);
    Py_XDECREF(empty);
    Py_DECREF(list);
    return NULL;
}

/* (canonical name, CNAME aliases in chain order, addresses) like libc's
 * gethostbyname_ex. */
static PyObject *
addrinfo_hostent(struct ares_addrinfo *res)
{
    PyObject *name = NULL, *aliases = NULL, *addrs = NULL, *s = NULL;
    if ((name = PyUnicode_DecodeFSDefault(canonical_name(res))) == NULL ||
        (aliases = PyList_New(0)) == NULL || (addrs = PyList_New(0)) == NULL)
        goto error;
    for (struct ares_addrinfo_cname *c = res->cnames; c != NULL; c = c->next) {
        if (c->alias == NULL)
            continue;
        if ((s = PyUnicode_DecodeFSDefault(c->alias)) == NULL)
            goto error;
        int has = PySequence_Contains(aliases, s);
        if (has < 0 || (!has && PyList_Append(aliases, s) < 0))
            goto error;
        Py_CLEAR(s);
    }
    for (struct ares_addrinfo_node *n = res->nodes; n != NULL; n = n->ai_next) {
        if (n->ai_addr == NULL)
            continue;
        if (n->ai_family == AF_INET)
            s = addr_str(AF_INET, &((struct sockaddr_in *)n->ai_addr)->sin_addr);
        else if (n->ai_family == AF_INET6)
            s = addr_str(AF_INET6, &((struct sockaddr_in6 *)n->ai_addr)->sin6_addr);
        else
            continue;
        if (s == NULL)
            goto error;
        int has = PySequence_Contains(addrs, s);
        if (has < 0 || (!has && PyList_Append(addrs, s) < 0))
            goto error;
        Py_CLEAR(s);
    }
    return Py_BuildValue("(NNN)", name, aliases, addrs);
error:
    Py_XDECREF(s);
    Py_XDECREF(name);
    Py_XDECREF(aliases);
    Py_XDECREF(addrs);
    return NULL;
}

static void
addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    gevc_ares_request *req = arg;
    PyObject *value;
    if (status != ARES_SUCCESS || res == NULL)
        value = gevc_ares_gaierror(req->chan->st, status == ARES_SUCCESS ? ARES_ENODATA : status);
    else if (req->hostent)
        value = addrinfo_hostent(res);
    else {
        value = addrinfo_list(req, res);
        if (value != NULL && PyList_GET_SIZE(value) == 0)
            Py_SETREF(value, gevc_ares_gaierror(req->chan->st, ARES_ENODATA));
    }
    if (res != NULL)
        ares_freeaddrinfo(res);
    gevc_ares_request_finish(req, value);
}

/* The service as a string for c-ares: None -> NULL, int -> decimal. */
static PyObject *
service_bytes(PyObject *port)
{
    if (port == NULL || port == Py_None)
        return Py_NewRef(Py_None);
    if (PyLong_Check(port) && !PyBool_Check(port)) {
        long v = PyLong_AsLong(port);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (v < 0 || v > 65535) {
            PyErr_SetString(PyExc_OverflowError, "port must be 0-65535.");
            return NULL;
        }
        return PyBytes_FromFormat("%ld", v);
    }
    if (PyUnicode_Check(port) || PyBytes_Check(port)) {
        PyObject *b = PyUnicode_Check(port) ? PyUnicode_AsUTF8String(port) : Py_NewRef(port);
        if (b != NULL && strlen(PyBytes_AS_STRING(b)) != (size_t)PyBytes_GET_SIZE(b)) {
            PyErr_SetString(PyExc_ValueError, "port contains a NUL byte");
            Py_CLEAR(b);
        }
        return b;
    }
    PyErr_Format(PyExc_TypeError, "port must be int, str, bytes or None, not %.100s",
                 Py_TYPE(port)->tp_name);
    return NULL;
}

const char gevc_ares_getaddrinfo_doc[] =
"getaddrinfo(callback, host, port, family=0, socktype=0, proto=0, flags=0)\n\n"
"ares_getaddrinfo with socket-module arguments (host must not be None).\n"
"callback receives a list of (family, socktype, proto, canonname, sockaddr)\n"
"like socket.getaddrinfo, or a socket.gaierror.  Entries follow c-ares'\n"
"RFC 6724 address order, or the answers' order with flags | AI_NOSORT (a\n"
"gevent_c._ares constant).  c-ares 1.18 sends numeric hosts to the server\n"
"too; gevent_c.resolver.ares hands them to libc instead.";

PyObject *
gevc_ares_getaddrinfo(gevc_ares_channel *chan, PyObject *const *args,
                      Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"callback", "host", "port", "family",
                                        "socktype", "proto", "flags", NULL};
    PyObject *a[7], *host = NULL, *service = NULL;
    struct ares_addrinfo_hints hints;
    int family, socktype, proto, flags;

    if (gevc__parse("getaddrinfo", args, nargs, kwnames, names, GEVC_NNAMES(names), 2, a) < 0 ||
        check_callback(a[0]) < 0 ||
        gevc__ares_int(a[3], "family", 0, &family) < 0 ||
        gevc__ares_int(a[4], "socktype", 0, &socktype) < 0 ||
        gevc__ares_int(a[5], "proto", 0, &proto) < 0 ||
        gevc__ares_int(a[6], "flags", 0, &flags) < 0)
        return NULL;
    if (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC) {
        PyErr_Format(PyExc_ValueError, "unsupported address family %d", family);
        return NULL;
    }
    if (a[1] != Py_None && (host = name_bytes(a[1], "host")) == NULL)
        return NULL;
    if ((service = service_bytes(a[2])) == NULL || gevc_ares_check_open(chan) < 0)
        goto error;
    if (host == NULL) {
        /* c-ares 1.18 would strlen(NULL) */
        PyErr_SetString(PyExc_ValueError,
                        "getaddrinfo() needs a host (c-ares cannot resolve a service alone)");
        goto error;
    }
    gevc_ares_request *req = gevc_ares_request_new(chan, a[0]);
    if (req == NULL)
        goto error;
    req->family = family;
    req->socktype = socktype;
    req->proto = proto;
    req->flags = flags;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = proto;
    hints.ai_flags = ares_ai_flags(flags);
    GEVC_ARES_ENTER(chan);
    ares_getaddrinfo(chan->ch, PyBytes_AS_STRING(host),
                     service != Py_None ? PyBytes_AS_STRING(service) : NULL,
                     &hints, addrinfo_cb, req);
    gevc_ares_leave(chan);
    Py_DECREF(host);
    Py_DECREF(service);
    return gevc_ares_started(chan);
error:
    Py_XDECREF(host);
    Py_XDECREF(service);
    return NULL;
}

/* ---- getnameinfo ------------------------------------------------------------ */

static void
nameinfo_cb(void *arg, int status, int timeouts, char *node, char *service)
{
    gevc_ares_request *req = arg;
    PyObject *value;
    if (status != ARES_SUCCESS)
        value = gevc_ares_gaierror(req->chan->st, status);
    else
        value = Py_BuildValue("(zz)", node, service);
    gevc_ares_request_finish(req, value);
}

static int
ares_ni_flags(int flags)
{
    int r = ARES_NI_LOOKUPHOST | ARES_NI_LOOKUPSERVICE;
    if (flags & NI_NUMERICHOST) r |= ARES_NI_NUMERICHOST;
    if (flags & NI_NUMERICSERV) r |= ARES_NI_NUMERICSERV;
    if (flags & NI_NOFQDN) r |= ARES_NI_NOFQDN;
    if (flags & NI_NAMEREQD) r |= ARES_NI_NAMEREQD;
    if (flags & NI_DGRAM) r |= ARES_NI_DGRAM;
    return r;
}

const char gevc_ares_getnameinfo_doc[] =
"getnameinfo(callback, sockaddr, flags)\n\n"
"sockaddr is (host, port) or (host, port, flowinfo, scope_id) with a\n"
"numeric host.  callback receives (node, service) or a socket.gaierror.";

PyObject *
gevc_ares_getnameinfo(gevc_ares_channel *chan, PyObject *const *args,
                      Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"callback", "sockaddr", "flags", NULL};
    PyObject *a[3], *host = NULL;
    int flags, port;
    unsigned int flowinfo = 0, scope_id = 0;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u;
    ares_socklen_t salen;

    if (gevc__parse("getnameinfo", args, nargs, kwnames, names, GEVC_NNAMES(names), 2, a) < 0 ||
        check_callback(a[0]) < 0 || gevc__ares_int(a[2], "flags", 0, &flags) < 0)
        return NULL;
    if (!PyTuple_Check(a[1]) || PyTuple_GET_SIZE(a[1]) < 2 || PyTuple_GET_SIZE(a[1]) > 4) {
        PyErr_SetString(PyExc_TypeError, "getnameinfo() argument 1 must be a tuple "
                        "(host, port[, flowinfo[, scope_id]])");
        return NULL;
    }
    if (!PyArg_ParseTuple(a[1], "Oi|II:getnameinfo", &host, &port, &flowinfo, &scope_id))
        return NULL;
    if (port < 0 || port > 65535) {
        PyErr_SetString(PyExc_OverflowError, "getnameinfo(): port must be 0-65535.");
        return NULL;
    }
    if (flowinfo > 0xfffff) {
        PyErr_SetString(PyExc_OverflowError, "getnameinfo(): flowinfo must be 0-1048575.");
        return NULL;
    }
    if ((host = name_bytes(host, "host")) == NULL)
        return NULL;
    memset(&u, 0, sizeof(u));
    if (PyTuple_GET_SIZE(a[1]) == 2 &&
        inet_pton(AF_INET, PyBytes_AS_STRING(host), &u.in.sin_addr) == 1) {
        u.in.sin_family = AF_INET;
        u.in.sin_port = htons((unsigned short)port);
        salen = sizeof(u.in);
    }
    else if (inet_pton(AF_INET6, PyBytes_AS_STRING(host), &u.in6.sin6_addr) == 1) {
        u.in6.sin6_family = AF_INET6;
        u.in6.sin6_port = htons((unsigned short)port);
        u.in6.sin6_flowinfo = htonl(flowinfo);
        u.in6.sin6_scope_id = scope_id;
        salen = sizeof(u.in6);
    }
    else {
        PyErr_Format(PyExc_ValueError, "getnameinfo() needs a numeric address, not %R",
                     PyTuple_GET_ITEM(a[1], 0));
        goto error;
    }
    if (gevc_ares_check_open(chan) < 0)
        goto error;
    gevc_ares_request *req = gevc_ares_request_new(chan, a[0]);
    if (req == NULL)
        goto error;
    GEVC_ARES_ENTER(chan);
    ares_getnameinfo(chan->ch, &u.sa, salen, ares_ni_flags(flags), nameinfo_cb, req);
    gevc_ares_leave(chan);
    Py_DECREF(host);
    return gevc_ares_started(chan);
error:
    Py_DECREF(host);
    return NULL;
}
