/* c-ares status codes -> the socket.gaierror / socket.herror that libc's
 * resolver gives for the same failure. */
#include "gevc_ares.h"

#include <netdb.h>

/* libc's getaddrinfo error for a c-ares status: NXDOMAIN is EAI_NONAME, an
 * existing name without addresses EAI_NODATA, anything a retry may cure
 * (SERVFAIL, REFUSED, timeouts, unreachable servers) EAI_AGAIN. */
static int
eai_from_status(int status)
{
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_EBADNAME:
        return EAI_NONAME;
#ifdef EAI_NODATA
    case ARES_ENODATA:
        return EAI_NODATA;
#else
    case ARES_ENODATA:
        return EAI_NONAME;
#endif
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        return EAI_AGAIN;
    case ARES_EBADFAMILY:
        return EAI_FAMILY;
    case ARES_ENOMEM:
        return EAI_MEMORY;
    case ARES_ESERVICE:
        return EAI_SERVICE;
    case ARES_EBADFLAGS:
        return EAI_BADFLAGS;
    default:
        return EAI_FAIL;
    }
}

static PyObject *
make_error(PyObject *type, int code, const char *msg)
{
    if (type == NULL)   /* module state cleared at shutdown */
        type = PyExc_OSError;
    PyObject *args = Py_BuildValue("(is)", code, msg);
    if (args == NULL)
        return NULL;
    PyObject *exc = PyObject_Call(type, args, NULL);
    Py_DECREF(args);
    return exc;
}

PyObject *
gevc_ares_gaierror(gevc_ares_state *st, int status)
{
    int code = eai_from_status(status);
    const char *msg = gai_strerror(code);
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
        msg = "c-ares channel destroyed";
    return make_error(st->gaierror, code, msg);
}

PyObject *
gevc_ares_herror(gevc_ares_state *st, int status)
{
    int code;
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_EBADNAME:
        code = HOST_NOT_FOUND;
        break;
    case ARES_ENODATA:
        code = NO_DATA;
        break;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        code = TRY_AGAIN;
        break;
    default:
        code = NO_RECOVERY;
    }
    const char *msg = hstrerror(code);
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
        msg = "c-ares channel destroyed";
    return make_error(st->herror, code, msg);
}
