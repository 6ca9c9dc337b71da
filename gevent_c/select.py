"""Cooperative ``select()`` and ``poll()``.

Both first ask the kernel with a zero timeout (the stdlib's own call, so
arguments, results and errors are the stdlib's); only when nothing is ready
does the greenlet wait on io watchers for the descriptors, and on the first
event (or the timeout) the kernel is asked again with a zero timeout, so the
result is exactly what the stdlib would report at that moment.

    from gevent_c import select
    readable, writable, _ = select.select([sock], [], [], 5.0)

Difference from the stdlib: exceptional conditions (``xlist``, POLLPRI
alone) are reported when present at a check, but do not by themselves
wake a waiting call (libev watches readability and writability only).
"""
import math as _math
import select as _stdselect
import sys as _sys

from gevent_c._stdlib import copy_names
from gevent_c._greenlet import getcurrent
from gevent_c._hub_local import get_hub
from gevent_c.exceptions import InvalidSwitchError

__implements__ = ['select', 'poll']
__extensions__ = []
__imports__ = ['error']
# Blocking, with no cooperative version: monkey.patch_select(aggressive=True) removes them.
__aggressive_removes__ = ['epoll', 'kqueue', 'kevent', 'devpoll']
__all__ = __implements__ + __imports__

error = _stdselect.error
# The stdlib's constants (POLLIN, EPOLLIN, ...) and other objects, as they are.
copy_names(_stdselect, globals(), exclude=__implements__)
_original_select = _stdselect.select
_original_poll = _stdselect.poll
from time import monotonic as _monotonic

# The stdlib's OverflowError for a timeout it cannot represent: an int
# overflows its nanosecond clock type (renamed PyTime_t in 3.13), a float
# overflows time_t from 3.11 on and the clock type before.
_CLOCK_OVERFLOW = ('timestamp too large to convert to C %sPyTime_t'
                   % ('' if _sys.version_info >= (3, 13) else '_'))
_FLOAT_OVERFLOW = ('timestamp out of range for platform time_t'
                   if _sys.version_info >= (3, 11) else _CLOCK_OVERFLOW)

_POLL_READ = _stdselect.POLLIN | _stdselect.POLLPRI
_POLL_WRITE = _stdselect.POLLOUT


def _as_fd(obj):
    if isinstance(obj, int):
        return obj
    return obj.fileno()


def _number_or_none(timeout, type_error):
    """The checks select() and poll() share: None, or a number (not NaN)."""
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)):
        raise TypeError(type_error)
    if timeout != timeout:
        raise ValueError('Invalid value NaN (not a number)')
    return timeout


def _check_select_timeout(timeout):
    if _number_or_none(timeout, 'timeout must be a float or None') is None:
        return None
    if timeout < 0:
        raise ValueError('timeout must be non-negative')
    if timeout > 9.2e9:
        raise OverflowError(_FLOAT_OVERFLOW if isinstance(timeout, float)
                            else _CLOCK_OVERFLOW)
    return float(timeout)


def _wait_any(hub, watchers, timeout):
    """Start every watcher; block until one fires or *timeout* passes; stop them all."""
    glet = getcurrent()
    switch = glet.switch
    timer = None
    try:
        for watcher in watchers:
            watcher.start(switch, watcher)
        if timeout is not None:
            timer = hub.loop.timer(max(timeout, 0.0))
            timer.start(switch, timer, update=True)
        result = hub.switch()
    finally:
        try:
            for watcher in watchers:
                watcher.stop()
                watcher.close()
        finally:
            # even when a watcher fails to stop: a live timer would switch
            # into this greenlet later, wherever it is by then
            if timer is not None:
                timer.stop()
                timer.close()
    if result is not timer and result not in watchers:
        raise InvalidSwitchError('Invalid switch into %s: got %r' % (glet, result))
    return result is timer


def _wait_ready(check, ready, fd_events, timeout, closed_fd_checks=False):
    """Wait on the hub until ready(check()) or *timeout* seconds (None:
    forever) pass; return check()'s last result.

    Between checks, wait for any of the (fd, events) pairs of fd_events()
    to fire; with none (only exceptional conditions asked for) and no
    timeout, re-check at a modest rate. With *closed_fd_checks*, a
    descriptor the loop refuses (closed) returns check() at once instead of
    raising.
    """
    deadline = None if timeout is None else _monotonic() + timeout
    hub = get_hub()
    loop = hub.loop
    while True:
        watchers = []
        try:
            for fd, events in fd_events():
                watchers.append(loop.io(fd, events))
        except BaseException as exc:
            for watcher in watchers:
                watcher.close()
            if closed_fd_checks and isinstance(exc, OSError):
                return check()
            raise
        left = None if deadline is None else deadline - _monotonic()
        if not watchers and left is None:
            left = 0.05
        timed_out = _wait_any(hub, watchers, left)
        result = check()
        if ready(result):
            return result
        if timed_out and deadline is not None and _monotonic() >= deadline:
            return result


def _as_sequence(seq):
    if isinstance(seq, (list, tuple)):
        return seq
    try:
        return list(seq)
    except TypeError:
        raise TypeError('arguments 1-3 must be sequences') from None


def select(rlist, wlist, xlist, timeout=None):
    """Wait until some of the objects are ready; same contract as ``select.select``.

    Returns three lists (readable, writable, exceptional) of the objects given.
    Other greenlets run while this one waits.
    """
    rlist = _as_sequence(rlist)
    wlist = _as_sequence(wlist)
    xlist = _as_sequence(xlist)
    timeout = _check_select_timeout(timeout)
    result = _original_select(rlist, wlist, xlist, 0)
    if result[0] or result[1] or result[2] or timeout == 0.0:
        return result
    def fd_events():
        return [(_as_fd(obj), 1) for obj in rlist] + [(_as_fd(obj), 2) for obj in wlist]

    return _wait_ready(lambda: _original_select(rlist, wlist, xlist, 0),
                       lambda result: result[0] or result[1] or result[2],
                       fd_events, timeout)


def _poll_timeout_ms(timeout):
    """poll()'s timeout in seconds (None: forever), validated like the stdlib."""
    if _number_or_none(timeout, 'timeout must be an integer or None') is None:
        return None
    if timeout > 9.2e12:
        raise OverflowError(_FLOAT_OVERFLOW if isinstance(timeout, float)
                            else _CLOCK_OVERFLOW)
    if timeout > 2 ** 31 - 1:
        raise OverflowError('timeout is too large')
    if timeout < 0:
        return None
    return _math.ceil(timeout) / 1000.0


class poll:
    """A cooperative ``select.poll`` object (register/modify/unregister/poll)."""

    def __init__(self):
        self._poll = _original_poll()
        self._fds = {}

    def register(self, fd, eventmask=_POLL_READ | _POLL_WRITE):
        """Watch *fd* (an int or an object with fileno()) for *eventmask*."""
        self._poll.register(fd, eventmask)
        self._fds[_as_fd(fd)] = eventmask

    def modify(self, fd, eventmask):
        """Change the events watched for a registered *fd*."""
        self._poll.modify(fd, eventmask)
        self._fds[_as_fd(fd)] = eventmask

    def unregister(self, fd):
        """Stop watching *fd* (KeyError if it was not registered)."""
        self._poll.unregister(fd)
        del self._fds[_as_fd(fd)]

    def poll(self, timeout=None):
        """List of (fd, events) ready, waiting up to *timeout* ms (None/negative: forever)."""
        seconds = _poll_timeout_ms(timeout)
        result = self._poll.poll(0)
        if result or seconds == 0.0:
            return result

        def fd_events():
            pairs = []
            for fd, mask in list(self._fds.items()):
                events = (1 if mask & _POLL_READ else 0) | (2 if mask & _POLL_WRITE else 0)
                if events:
                    pairs.append((fd, events))
            return pairs

        # A registered descriptor that was closed makes the io watcher
        # refuse it: the kernel reports it (POLLNVAL), so ask poll(0).
        return _wait_ready(lambda: self._poll.poll(0), bool, fd_events, seconds,
                           closed_fd_checks=True)
