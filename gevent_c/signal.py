"""``signal.signal`` and ``getsignal`` that cooperate with child watching.

Child watchers (``gevent_c.os.waitpid``, ``gevent_c.subprocess``) need
libev's SIGCHLD handler. Installing a Python SIGCHLD handler with the plain
``signal.signal`` would replace it and leave them waiting forever. Through
this module a callable SIGCHLD handler is *not* installed in the process:
it is remembered and called as ``handler(SIGCHLD, None)`` in a new greenlet
each time the loop reaps a child, and :func:`getsignal` returns it.
``SIG_DFL`` is remembered the same way (child watching keeps working);
``SIG_IGN`` is passed to the process (the kernel then reaps children itself,
so waiting for one raises ChildProcessError, as with the stdlib) and child
watching stays off until SIGCHLD is set to something else here. Every other signal goes straight to the stdlib.
Everything else of ``signal`` is re-exported.
"""
import signal as _signal
import sys as _sys

from gevent_c._stdlib import copy_names

_real_signal = _signal.signal
# Native idents, whatever monkey-patching does to _thread and threading later.
from gevent_c.hub import _get_thread_ident as _native_get_ident  # noqa: E402
from gevent_c.hub import MAIN_THREAD_IDENT as _MAIN_THREAD_IDENT  # noqa: E402
_real_getsignal = _signal.getsignal
_SIGCHLD = getattr(_signal, 'SIGCHLD', None)

__implements__ = ['signal', 'getsignal', 'set_wakeup_fd']
__extensions__ = []

_real_set_wakeup_fd = _signal.set_wakeup_fd
_wakeup = (-1, True)     # the fd set through set_wakeup_fd, warn_on_full_buffer


def set_wakeup_fd(fd, /, *, warn_on_full_buffer=True):
    """Like ``signal.set_wakeup_fd``; a SIGCHLD run through :func:`signal`
    also writes its number there, as the interpreter does for other signals."""
    global _wakeup
    old = _real_set_wakeup_fd(fd, warn_on_full_buffer=warn_on_full_buffer)
    _wakeup = (fd, warn_on_full_buffer)
    return old

_UNSET = object()
_child_handler = _UNSET


def getsignal(signalnum):
    """Like ``signal.getsignal``; for SIGCHLD, what was set through :func:`signal`."""
    if signalnum == _SIGCHLD and _SIGCHLD is not None and _child_handler is not _UNSET:
        return _child_handler
    return _real_getsignal(signalnum)


def signal(signalnum, handler):
    """Like ``signal.signal``; a SIGCHLD handler is run from the loop instead."""
    global _child_handler
    if _SIGCHLD is None or signalnum != _SIGCHLD:
        return _real_signal(signalnum, handler)
    if handler not in (_signal.SIG_IGN, _signal.SIG_DFL) and not callable(handler):
        raise TypeError('signal handler must be signal.SIG_IGN, signal.SIG_DFL, '
                        'or a callable object')
    if _native_get_ident() != _MAIN_THREAD_IDENT:
        raise ValueError('signal only works in main thread of the main interpreter')
    old = getsignal(signalnum)
    _child_handler = handler
    loop = _default_loop()
    if handler == _signal.SIG_IGN:
        # The process asked the kernel to reap children: hand SIGCHLD back.
        if loop is not None:
            loop.reset_sigchld()
        _real_signal(signalnum, handler)
    elif _real_getsignal(signalnum) == _signal.SIG_IGN:
        # Leaving SIG_IGN: children become waitable again; child watching resumes.
        _real_signal(signalnum, _signal.SIG_DFL)
        os_mod = _sys.modules.get('gevent_c.os')
        if loop is not None and os_mod is not None and os_mod._recorder is not None:
            loop.install_sigchld()
    return old


def _default_loop():
    hub_mod = _sys.modules.get('gevent_c.hub')
    hub = hub_mod.get_hub_if_exists() if hub_mod is not None else None
    if hub is not None and hub.loop is not None and hub.loop.default:
        return hub.loop
    return None


def _children_ignored():
    return _child_handler is not _UNSET and _child_handler == _signal.SIG_IGN


def _on_child_hook():
    """Called by gevent_c.os (in the hub or a greenlet) for each reaped child."""
    handler = _child_handler
    if handler is _UNSET or not callable(handler):
        return
    fd, warn = _wakeup
    if fd >= 0:
        import os
        try:
            os.write(fd, bytes((_SIGCHLD,)))
        except OSError as exc:
            import errno
            if warn or exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                import warnings
                warnings.warn('Exception ignored when trying to write to the signal '
                              'wakeup fd: %r' % (exc,), RuntimeWarning)
    from gevent_c.greenlet import Greenlet
    Greenlet.spawn(handler, _SIGCHLD, None)


__imports__ = copy_names(_signal, globals())
__all__ = __implements__ + __extensions__
