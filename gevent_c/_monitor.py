"""The periodic monitoring thread of a hub (``config.monitor_thread``).

A native thread that wakes up now and then and runs its monitoring
functions on the hub it watches:

- ``monitor_blocking``, every ``config.max_blocking_time`` seconds: if no
  greenlet switch happened in the hub's thread since the last check and the
  greenlet running there is not the hub, the loop is blocked: a report (the
  blocked greenlet's stack) goes to ``hub.exception_stream`` when
  ``config.print_blocking_reports``, and ``gevent_c.events.EventLoopBlocked``
  is notified when that module exists;
- for the main thread's hub, ``monitor_memory_usage`` (needs psutil), every
  ``config.memory_monitor_period`` seconds: notifies the memory events when
  the process crosses ``config.max_memory_usage``.

Switches are counted by a greenlet trace function installed in the hub's
thread (it chains to the one that was there). ``kill()`` stops the thread
at its next wake-up and, called from the hub's thread, removes the tracer.
"""
import sys
import time
import traceback
import weakref

from gevent_c._config import config
from gevent_c._greenlet import getcurrent
from gevent_c._greenlet import gettrace
from gevent_c._greenlet import settrace

__all__ = ['PeriodicMonitoringThread']


def _native(module, name):
    """The unpatched *name* of stdlib *module* (monkey may have replaced it)."""
    try:
        from gevent_c.monkey import get_original
    except ImportError:
        import importlib
        return getattr(importlib.import_module(module), name)
    return get_original(module, name)


def _notify(event_name, *args, **kwargs):
    """Notify ``gevent_c.events.<event_name>(*args, **kwargs)`` (gevent's
    event classes and signatures), if that module exists."""
    try:
        from gevent_c import events
        event_class = getattr(events, event_name, None)
    except ImportError:  # no events module (yet)
        return
    if event_class is not None:
        events.notify(event_class(*args, **kwargs))


class _MonitorEntry:
    __slots__ = ('function', 'period', 'due')

    def __init__(self, function, period):
        self.function = function
        self.period = period
        self.due = 0.0  # first run at the next wake-up

    def __repr__(self):
        return '<MonitorEntry %r every %s s>' % (self.function, self.period)


class _SwitchTracer:
    """The greenlet trace function of the watched thread: counts switches
    and remembers the greenlet running."""

    def __init__(self):
        self.active = getcurrent()
        self.switches = 0
        self.ignored = None   # a greenlet whose blocking is expected
        self.previous = gettrace()
        settrace(self)

    def __call__(self, event, args):
        if event == 'switch' or event == 'throw':
            self.active = args[1]
            self.switches += 1
        previous = self.previous
        if previous is not None:
            previous(event, args)

    def remove(self):
        """Uninstall, if still installed in the current thread."""
        if gettrace() is self:
            settrace(self.previous)
        self.previous = None


class PeriodicMonitoringThread:
    """Watches one hub from a native thread; see the module docstring."""

    def __init__(self, hub):
        self._hub_ref = weakref.ref(hub)
        self.should_run = True
        self._tracer = _SwitchTracer()
        self._last_switches = self._tracer.switches
        self._entries = [_MonitorEntry(self.monitor_blocking, config.max_blocking_time)]
        self._memory_exceeded = False
        self._wakeup = _native('threading', 'Event')()
        self.monitor_thread_ident = _native('_thread', 'start_new_thread')(self._run, ())

    # -- functions ----------------------------------------------------------

    @property
    def hub(self):
        return self._hub_ref()

    def monitoring_functions(self):
        """The (function, period) entries, in the order they were added."""
        return list(self._entries)

    _monitoring_functions = property(monitoring_functions)

    def add_monitoring_function(self, function, period):
        """Run ``function(hub)`` every *period* seconds; a *period* of None
        removes *function*; adding it again changes its period."""
        if not callable(function):
            raise ValueError('function must be callable')
        entries = [e for e in self._entries if e.function != function]
        if period is not None:
            if period <= 0:
                raise ValueError('period must be positive')
            entries.append(_MonitorEntry(function, period))
        self._entries = entries
        self._wakeup.set()  # the next wake-up may now be sooner

    def calculate_sleep_time(self):
        """Seconds until the next monitoring function is due."""
        if not self._entries:
            return config.max_blocking_time
        return max(0.0, min(e.due for e in self._entries) - time.monotonic())

    def kill(self):
        """Stop the thread (at its next wake-up) and remove the tracer."""
        self.should_run = False
        self._tracer.remove()
        self._wakeup.set()

    def _run(self):
        try:
            while self.should_run:
                self._wakeup.wait(self.calculate_sleep_time())
                self._wakeup.clear()
                hub = self._hub_ref()
                if not self.should_run or hub is None or hub.loop is None:
                    break
                now = time.monotonic()
                for entry in list(self._entries):
                    if entry.due <= now:
                        entry.due = now + entry.period
                        try:
                            entry.function(hub)
                        except Exception:  # noqa: BLE001 -- one failing function must not stop the others
                            traceback.print_exc()
                hub = None
        except SystemExit:  # interpreter shutting down
            pass
        finally:
            self.should_run = False

    # -- blocking -------------------------------------------------------------

    def ignore_current_greenlet_blocking(self):
        """The calling greenlet may block without being reported (a
        threadpool worker's main greenlet waiting for tasks)."""
        self._tracer.ignored = getcurrent()

    def monitor_current_greenlet_blocking(self):
        self._tracer.ignored = None

    def monitor_blocking(self, hub):
        """Report the hub blocked if nothing switched since the last check."""
        tracer = self._tracer
        switches, active = tracer.switches, tracer.active
        blocked = (switches == self._last_switches and active is not None
                   and active is not hub and active is not tracer.ignored)
        self._last_switches = switches
        if not blocked:
            return None
        report = self._blocking_report(hub, active)
        stream = hub.exception_stream
        if config.print_blocking_reports and stream:
            stream.write('\n'.join(report) + '\n')
        _notify('EventLoopBlocked', active, config.max_blocking_time, report, hub=hub)
        return report

    def _blocking_report(self, hub, active):
        lines = ['=' * 80,
                 '\n%s appears to be blocked: %r has run for more than %s seconds without '
                 'switching (reported by %r)' % (hub, active, config.max_blocking_time, self)]
        frame = sys._current_frames().get(hub.thread_ident)
        if frame is None or getcurrent() is active:
            frame = getattr(active, 'gr_frame', None)
        if frame is not None:
            lines.append(''.join(traceback.format_stack(frame)))
        return lines

    # -- memory ---------------------------------------------------------------

    def can_monitor_memory_usage(self):
        try:
            import psutil  # noqa: F401
        except ImportError:
            return False
        return True

    def install_monitor_memory_usage(self):
        """Check memory every config.memory_monitor_period (needs psutil)."""
        if not self.can_monitor_memory_usage():
            import warnings
            warnings.warn('Unable to monitor memory usage: install psutil', RuntimeWarning)
            return
        self.add_monitoring_function(self.monitor_memory_usage, config.memory_monitor_period)

    def monitor_memory_usage(self, _hub):
        """Notify the memory events when usage crosses config.max_memory_usage;
        returns the usage (-1 when no maximum is set)."""
        limit = config.max_memory_usage
        if not limit:
            return -1
        import psutil
        info = psutil.Process().memory_full_info()
        usage = info.uss
        if usage > limit:
            self._peak = max(usage, getattr(self, '_peak', 0))
            if not self._memory_exceeded:
                self._memory_exceeded = True
                _notify('MemoryUsageThresholdExceeded', usage, limit, info)
        elif self._memory_exceeded:
            self._memory_exceeded = False
            _notify('MemoryUsageUnderThreshold', usage, limit, info, self._peak)
        return usage

    def __repr__(self):
        return '<%s at %#x in thread %#x for %r>' % (
            type(self).__name__, id(self), self.monitor_thread_ident, self._hub_ref())
