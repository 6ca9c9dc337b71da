"""Who blocked the hub? A watchdog that names the greenlet.

Not in gevent. When a hub's loop has not run for longer than a threshold
(a greenlet computing, or calling something blocking that is not
cooperative), one report goes to the ``logging`` logger
``gevent_c.blocking``: which greenlet is running, where it was spawned,
its stack right now, and for how long the loop has been stuck. gevent's
``events.EventLoopBlocked`` is notified too, so its subscribers see it.

It costs the hub nothing per switch: the loop counts its own iterations
(libev does) and flags when it waits in its poll; a native watchdog thread
reads both every half threshold. One thread serves every watched hub, in
any thread; after ``os.fork()`` the child's thread starts afresh for the
hub that survived.

Switch it on with ``GEVENT_C_BLOCKING_THRESHOLD=0.1`` (seconds) or
``gevent_c.config.blocking_threshold = 0.1`` before the hub runs, or call
:func:`watch`. It is off by default because its thread makes every later
``os.fork()`` a fork of a multi-threaded process, which CPython 3.12+ warns
about. gevent_c's gunicorn workers switch it on (see gevent_c.gunicorn).

A report is made once per incident, and at most once per
``REPORT_INTERVAL`` seconds per hub; later incidents in that interval are
counted and the count is in the next report. When a reported incident ends,
an INFO record tells how long it lasted.
"""
import logging
import os
import sys
import time
import traceback
import weakref

from gevent_c._config import validate_blocking_threshold as _check_threshold

__all__ = ['watch', 'unwatch', 'watched', 'REPORT_INTERVAL', 'logger']

logger = logging.getLogger('gevent_c.blocking')

#: Seconds between two reports about the same hub.
REPORT_INTERVAL = 10.0


def _native(module, name):
    """The unpatched *name* of stdlib *module*."""
    try:
        from gevent_c.monkey import get_original
    except ImportError:
        import importlib
        return getattr(importlib.import_module(module), name)
    return get_original(module, name)


class _Watched:
    """One hub under watch and the incident state the watchdog keeps."""

    __slots__ = ('hub_ref', 'loop', 'thread_ident', 'threshold', 'report', 'iteration',
                 'since', 'reported', 'suppressed', 'last_report', '__weakref__')

    def __init__(self, hub, threshold, report):
        self.hub_ref = weakref.ref(hub)
        self.loop = hub.loop
        self.thread_ident = hub.thread_ident
        self.threshold = threshold
        self.report = report
        self.iteration = None
        self.since = time.monotonic()
        self.reported = False
        self.suppressed = 0
        self.last_report = -REPORT_INTERVAL


class _Watchdog:
    def __init__(self):
        self.watched = {}       # id(hub) -> _Watched
        self.thread_ident = None
        self.wakeup = None
        self.generation = 0     # a new thread after fork or stop() ignores an old one

    def period(self):
        return max(0.005, min(w.threshold for w in self.watched.values()) / 2.0)

    def ensure_running(self):
        if self.thread_ident is None and self.watched:
            self.generation += 1
            self.wakeup = _native('threading', 'Event')()
            start = _native('_thread', 'start_new_thread')
            self.thread_ident = start(self._run, (self.generation, self.wakeup))

    def stop(self):
        self.generation += 1
        if self.wakeup is not None:
            self.wakeup.set()
        self.wakeup = self.thread_ident = None

    def _run(self, generation, wakeup):
        while generation == self.generation:
            if not self.watched:
                break
            wakeup.wait(self.period())
            if generation != self.generation:
                break
            wakeup.clear()
            now = time.monotonic()
            for key, entry in list(self.watched.items()):
                try:
                    self._check(entry, now)
                except Exception:  # the hub or its loop went away under us
                    self.watched.pop(key, None)
        if generation == self.generation:
            self.thread_ident = self.wakeup = None

    def _check(self, entry, now):
        hub = entry.hub_ref()
        if hub is None or hub.loop is not entry.loop:
            raise LookupError('hub gone')
        iteration, polling, ready = entry.loop._blocking_probe
        if polling or iteration != entry.iteration:
            if entry.reported == 'reported':
                logger.info('the hub of %s ran again after %.3f s',
                            _thread_name(entry.thread_ident), now - entry.since)
            entry.iteration = iteration
            entry.since = now
            entry.reported = False
            return
        blocked = now - entry.since
        if entry.reported or blocked < entry.threshold:
            return
        if now - entry.last_report < REPORT_INTERVAL:
            entry.reported = 'suppressed'
            entry.suppressed += 1
            return
        entry.reported = 'reported'
        entry.last_report = now
        greenlet, lines = _describe(hub, entry.thread_ident, blocked, ready, entry.suppressed)
        entry.suppressed = 0
        entry.report('\n'.join(lines))
        _notify(hub, greenlet, blocked, lines)


_watchdog = _Watchdog()


def watch(hub=None, threshold=None, report=None):
    """Watch *hub* (the current thread's by default): report when its loop
    has not run for *threshold* seconds (``config.blocking_threshold``, else
    0.1). *report* takes the report's text (``logger.warning`` by default).
    Watching a hub again changes its threshold and report."""
    if hub is None:
        from gevent_c._hub_local import get_hub
        hub = get_hub()
    if threshold is None:
        from gevent_c._config import config
        threshold = config.blocking_threshold or 0.1
    threshold = _check_threshold(threshold)
    if threshold is None:
        raise ValueError('threshold must be a positive number of seconds')
    if report is None:
        report = logger.warning
    elif not callable(report):
        raise TypeError('report must be callable, not %s' % type(report).__name__)
    _watchdog.watched[id(hub)] = _Watched(hub, threshold, report)
    if _watchdog.wakeup is not None:
        _watchdog.wakeup.set()  # a shorter threshold takes effect now
    _watchdog.ensure_running()


def unwatch(hub=None):
    """Stop watching *hub* (the current thread's by default)."""
    if hub is None:
        from gevent_c._hub_local import get_hub
        hub = get_hub()
    _watchdog.watched.pop(id(hub), None)
    if not _watchdog.watched:
        _watchdog.stop()


def watched():
    """The hubs under watch now."""
    return [hub for hub in (w.hub_ref() for w in list(_watchdog.watched.values()))
            if hub is not None]


def _thread_name(ident):
    for thread in list(sys.modules['threading']._active.values()) \
            if 'threading' in sys.modules else ():
        if getattr(thread, 'ident', None) == ident:
            return 'thread %r (%#x)' % (thread.name, ident)
    return 'thread %#x' % (ident,)


_GREENLET_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'greenlet.py')


def _running_greenlet(ident, frame):
    """The gevent_c Greenlet running now in thread *ident*, else None, and
    the bottom frame of *frame*'s stack."""
    from gevent_c._greenlet import _current_in_thread
    from gevent_c.greenlet import Greenlet
    bottom = frame
    while bottom is not None and bottom.f_back is not None:
        bottom = bottom.f_back
    current = _current_in_thread(ident)
    return (current if isinstance(current, Greenlet) else None), bottom


def _describe(hub, ident, blocked, ready, suppressed):
    frame = sys._current_frames().get(ident)
    lines = ['the hub of %s has not run for %.3f s%s' % (
        _thread_name(ident), blocked, ' with callbacks waiting' if ready else '')]
    greenlet, bottom = _running_greenlet(ident, frame)
    if greenlet is not None:
        lines.append('running: %r' % (greenlet,))
        stack = getattr(greenlet, 'spawning_stack', None)
        if stack is not None:
            lines.append('spawned at:')
            entries = traceback.extract_stack(stack)
            while entries and entries[-1].filename == _GREENLET_FILE:
                entries.pop()  # spawn() and Greenlet.__init__ themselves
            lines.extend(line.rstrip('\n') for line in traceback.format_list(entries))
    elif bottom is not None:
        lines.append('running: a greenlet that started in %s (%s:%d)' % (
            bottom.f_code.co_name, bottom.f_code.co_filename, bottom.f_lineno))
    if frame is not None:
        lines.append('stack now:')
        lines.extend(line.rstrip('\n') for line in traceback.format_stack(frame))
    else:
        lines.append('(no Python frame is running in that thread: blocked in C)')
    if suppressed:
        lines.append('(%d more incident%s since the last report were not reported)'
                     % (suppressed, '' if suppressed == 1 else 's'))
    return greenlet, lines


def _notify(hub, greenlet, blocked, lines):
    try:
        from gevent_c import events
        events.notify(events.EventLoopBlocked(greenlet, blocked, list(lines), hub=hub))
    except Exception:
        logger.exception('notifying EventLoopBlocked failed')


def _after_fork_in_child():
    """Only the forking thread's hub lives on; its watchdog starts afresh."""
    _watchdog.generation += 1
    _watchdog.thread_ident = _watchdog.wakeup = None
    me = _native('_thread', 'get_ident')()
    for key, entry in list(_watchdog.watched.items()):
        hub = entry.hub_ref()
        if hub is None or entry.thread_ident != me:
            del _watchdog.watched[key]
        else:
            entry.iteration = None
            entry.since = time.monotonic()
            entry.reported = False
    _watchdog.ensure_running()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)
