"""Cooperative versions of ``os`` functions that block, and child watching.

- :func:`fork` / :func:`forkpty` reinitialise the child's hub and loop
  (:func:`gevent_c.reinit`) and, in the parent, watch the new child.
- :func:`waitpid` blocks only the calling greenlet, also for children not
  started through this module. It honours ``WNOHANG``.
- :func:`nb_read` / :func:`nb_write` read and write a non-blocking fd,
  waiting on an io watcher; :func:`tp_read` / :func:`tp_write` run the
  blocking call in the hub's threadpool; :func:`make_nonblocking`.

Child watching: libev reaps *every* child of the process once its SIGCHLD
handler is installed (the first child watcher does that). So that no exit
status is lost, the first use of child watching here starts one watcher for
"any child" on the default loop that records each status; :func:`waitpid`
(and ``gevent_c.subprocess``) take statuses from that record first, and fall
back to the real ``waitpid`` with ``WNOHANG``. A greenlet blocked in
:func:`waitpid` also polls now and then (backing off to 0.5 s), so it
notices when other code reaped its child with the plain ``os.waitpid``; it
then gets ``ChildProcessError`` as the stdlib would. Recorded statuses that
nobody collects are dropped after 60 seconds, as in gevent.

Differences from gevent: ``waitpid(0, ...)`` and ``waitpid(-pgid, ...)``
take any recorded status (like ``-1``) before asking the kernel; options
other than ``WNOHANG`` go to the real ``waitpid`` (polled cooperatively when
blocking), after the recorded exit statuses. Every name of ``os`` not replaced here is re-exported.
"""
import os as _os
import operator as _operator
import sys as _sys
import time as _time
from errno import EAGAIN, EINTR

from gevent_c._stdlib import copy_names
from gevent_c._config import config as _config
from gevent_c._hub_local import get_hub
from gevent_c._hub_local import get_hub_if_exists
from gevent_c.hub import Waiter as _Waiter
from gevent_c.hub import reinit as _reinit

_real_fork = _os.fork
_real_forkpty = getattr(_os, 'forkpty', None)
_real_waitpid = _os.waitpid
_real_read = _os.read
_real_write = _os.write
_real_close = _os.close
_real_posix_spawn = getattr(_os, 'posix_spawn', None)
_real_posix_spawnp = getattr(_os, 'posix_spawnp', None)
WNOHANG = _os.WNOHANG

__implements__ = ['fork', 'close', 'waitpid']
__extensions__ = ['tp_read', 'tp_write', 'make_nonblocking', 'nb_read', 'nb_write',
                  'fork_gevent', 'fork_and_watch']
if _real_forkpty is not None:
    __implements__.append('forkpty')
    __extensions__ += ['forkpty_gevent', 'forkpty_and_watch']
if _real_posix_spawn is not None:
    __implements__ += ['posix_spawn', 'posix_spawnp']

_WOULD_BLOCK = (EAGAIN, EINTR)


# -- reading and writing ---------------------------------------------------

def make_nonblocking(fd):
    """Put *fd* in non-blocking mode; True if it was blocking before."""
    if _os.get_blocking(fd):
        _os.set_blocking(fd, False)
        return True
    return False


def _wait_fd(fd, events, watcher_box):
    watcher = watcher_box[0]
    if watcher is None:
        hub = get_hub()
        watcher = watcher_box[0] = hub.loop.io(fd, events)
    get_hub().wait(watcher)


def nb_read(fd, n):
    """Read up to *n* bytes from non-blocking *fd*, waiting cooperatively."""
    box = [None]
    try:
        while True:
            try:
                return _real_read(fd, n)
            except OSError as exc:
                if exc.errno not in _WOULD_BLOCK:
                    raise
            _wait_fd(fd, 1, box)
    finally:
        if box[0] is not None:
            box[0].close()


def nb_write(fd, buf):
    """Write *buf* to non-blocking *fd* (waiting cooperatively); bytes written."""
    box = [None]
    try:
        while True:
            try:
                return _real_write(fd, buf)
            except OSError as exc:
                if exc.errno not in _WOULD_BLOCK:
                    raise
            _wait_fd(fd, 2, box)
    finally:
        if box[0] is not None:
            box[0].close()


def tp_read(fd, n):
    """``os.read(fd, n)`` in the hub's threadpool (for fds that cannot poll).

    Errors are raised here, as by ``os.read``, and not reported by the hub.
    """
    return get_hub().threadpool._apply_unreported(_real_read, (fd, n))


def tp_write(fd, buf):
    """``os.write(fd, buf)`` in the hub's threadpool."""
    return get_hub().threadpool._apply_unreported(_real_write, (fd, buf))


def close(fd):
    """Close *fd*, first waking greenlets waiting on it (they get EBADF)."""
    hub = get_hub_if_exists()
    if hub is not None and hub.loop is not None and isinstance(fd, int) and fd >= 0:
        hub.loop.closing_fd(fd)
    _real_close(fd)


# -- the record of child exit statuses ---------------------------------------

_ANY = -1
_KEEP_SECONDS = 60.0

_statuses = {}    # pid -> (status, monotonic time reaped), oldest first
_callbacks = {}   # pid or _ANY -> [(hub, callable(pid, status))]
_recorder = None  # the "any child" watcher of the default loop


def _record(pid, status):
    """Store an exit *status* reaped for *pid* and notify whoever waits for it."""
    now = _time.monotonic()
    if _statuses:
        # Statuses nobody collected for a minute are dropped (pids get reused).
        first = next(iter(_statuses.items()))
        if now - first[1][1] > _KEEP_SECONDS:
            for old in [p for p, (_, t) in _statuses.items() if now - t > _KEEP_SECONDS]:
                del _statuses[old]
    _statuses[pid] = (status, now)
    todo = _callbacks.pop(pid, []) + _callbacks.pop(_ANY, [])
    for hub, callback in todo:
        _call_in_hub(hub, callback, pid, status)
    signal_mod = _sys.modules.get('gevent_c.signal')
    if signal_mod is not None:
        signal_mod._on_child_hook()


def _call_in_hub(hub, callback, *args):
    loop = hub.loop
    if loop is None:
        return
    if get_hub_if_exists() is hub:
        loop.run_callback(callback, *args)
    else:
        loop.run_callback_threadsafe(callback, *args)


def _on_any_child(watcher):
    status = watcher.rstatus
    if _os.WIFSTOPPED(status) or _os.WIFCONTINUED(status):
        return
    _record(watcher.rpid, status)


def _start_watching(hub):
    """Make sure the loop records every reaped child; False if it cannot."""
    global _recorder
    loop = hub.loop
    if not loop.default or _config.disable_watch_children:
        return False
    signal_mod = _sys.modules.get('gevent_c.signal')
    if signal_mod is not None and signal_mod._children_ignored():
        return False  # SIGCHLD is SIG_IGN: the kernel reaps, nothing to watch
    recorder = _recorder
    if recorder is None or recorder.loop is not loop:
        recorder = loop.child(0, ref=False)
        recorder.start(_on_any_child, recorder)
        _recorder = recorder
    else:
        # Someone (gevent_c.signal) may have handed SIGCHLD back to the process.
        loop.install_sigchld()
    return True


def _take(pid):
    """Pop a recorded status for *pid* (or any child for _ANY); (pid, status) or None."""
    if pid > 0:
        entry = _statuses.pop(pid, None)
        return None if entry is None else (pid, entry[0])
    for rpid in _statuses:
        return rpid, _statuses.pop(rpid)[0]
    return None


def _reap_nohang(pid):
    """Real waitpid with WNOHANG; records what it reaps. (0, 0) if still running."""
    rpid, status = _real_waitpid(pid, WNOHANG)
    if rpid:
        _record(rpid, status)
        _take(rpid)
    return rpid, status


def _add_callback(key, hub, callback):
    entry = (hub, callback)
    _callbacks.setdefault(key, []).append(entry)
    return entry


def _remove_callback(key, entry):
    entries = _callbacks.get(key)
    if entries is not None:
        try:
            entries.remove(entry)
        except ValueError:
            pass
        if not entries:
            _callbacks.pop(key, None)


def _wait_exit(pid, timeout=None):
    """Block this greenlet until child *pid* (or any, for -1) exits.

    Returns ``(pid, status)``, taking the status from the record; None after
    *timeout* seconds. Raises ChildProcessError if there is no such child
    (for example another caller reaped it).
    """
    hub = get_hub()
    _start_watching(hub)
    key = pid if pid > 0 else _ANY
    deadline = None if timeout is None else _time.monotonic() + timeout
    delay = 0.01
    while True:
        found = _take(pid)
        if found is not None:
            return found
        rpid, status = _reap_nohang(pid)
        if rpid:
            return rpid, status
        if deadline is not None:
            remaining = deadline - _time.monotonic()
            if remaining <= 0:
                return None
            step = min(delay, remaining)
        else:
            step = delay
        waiter = _Waiter(hub)
        # The exit is handed to this waiter itself: a Popen watching the same
        # child may take the record first (gevent#452: os.waitpid called by
        # other code on a subprocess child).
        entry = _add_callback(key, hub, lambda p, s, _w=waiter: _w.switch((p, s)))
        # The timer keeps the loop alive and catches exits we are not told about.
        timer = hub.loop.timer(step)
        timer.start(waiter.switch, None)
        try:
            exited = waiter.get()
        finally:
            timer.close()
            _remove_callback(key, entry)
        if exited is not None:
            _statuses.pop(exited[0], None)
            return exited
        delay = min(delay * 2, 0.5)


def _on_exit(pid, callback):
    """Call ``callback(pid, status)`` in this hub when child *pid* exits.

    Used by gevent_c.subprocess; the status is *not* left in the record.
    Returns a handle for :func:`_cancel_on_exit`.
    """
    hub = get_hub()
    if not _start_watching(hub):
        return None

    def deliver(rpid, status, _callback=callback):
        _statuses.pop(rpid, None)
        _callback(rpid, status)
    return _add_callback(pid, hub, deliver)


def _cancel_on_exit(pid, handle):
    if handle is not None:
        _remove_callback(pid, handle)


def _after_fork_in_child():
    global _recorder
    _statuses.clear()
    _callbacks.clear()
    if _recorder is not None:
        try:
            _recorder.stop()
        except Exception:  # noqa: BLE001 -- the loop may not survive the fork
            pass
        _recorder = None


_os.register_at_fork(after_in_child=_after_fork_in_child)


class _ChildWatcher:
    """What a fork_and_watch callback receives: pid, rpid and rstatus."""

    __slots__ = ('pid', 'rpid', 'rstatus', '_ref_watcher')

    def __init__(self, pid):
        self.pid = pid
        self.rpid = 0
        self.rstatus = 0
        self._ref_watcher = None

    def stop(self):
        w = self._ref_watcher
        if w is not None:
            self._ref_watcher = None
            w.stop()
            w.close()

    close = stop

    def __repr__(self):
        return '<child pid=%d rpid=%d rstatus=%d>' % (self.pid, self.rpid, self.rstatus)


def _watch_child(pid, callback=None, ref=False):
    """Record *pid*'s status; call ``callback(watcher)`` from the hub when it exits."""
    hub = get_hub()
    if not _start_watching(hub):
        return
    if callback is None and not ref:
        return
    watcher = _ChildWatcher(pid)
    if ref:
        # Only holds the loop open until the child exits.
        watcher._ref_watcher = hub.loop.child(pid, ref=True)
        watcher._ref_watcher.start(watcher.stop)

    def on_exit(rpid, status):
        watcher.rpid = rpid
        watcher.rstatus = status
        watcher.stop()
        if callback is not None:
            callback(watcher)
    _add_callback(pid, hub, on_exit)


# -- fork ---------------------------------------------------------------------

def fork_gevent():
    """``os.fork()``; the child's hub and loop are reinitialised."""
    pid = _real_fork()
    if pid == 0:
        _reinit()
    return pid


def fork_and_watch(callback=None, loop=None, ref=False, fork=fork_gevent):
    """*fork*() (default :func:`fork_gevent`), and in the parent watch the child.

    *callback(watcher)* runs in the hub when the child exits (``watcher``
    has ``pid``, ``rpid``, ``rstatus``); *ref* True keeps the loop running
    until then. The status stays available to :func:`waitpid`. *loop* is
    accepted for gevent's signature; children are always watched on the
    default loop.
    """
    pid = fork()
    if pid:
        _watch_child(pid, callback, ref)
    return pid


def fork(*args, **kwargs):
    """``os.fork()`` with a reinitialised hub in the child and a watched child.

    Takes :func:`fork_and_watch`'s optional arguments.
    """
    if _config.disable_watch_children:
        return fork_gevent()
    return fork_and_watch(*args, **kwargs)


if _real_forkpty is not None:
    def forkpty_gevent():
        """``os.forkpty()``; the child's hub and loop are reinitialised."""
        pid, master_fd = _real_forkpty()
        if pid == 0:
            _reinit()
        return pid, master_fd

    def forkpty_and_watch(callback=None, loop=None, ref=False, forkpty=forkpty_gevent):
        """*forkpty*(), watching the child like :func:`fork_and_watch`."""
        pid, master_fd = forkpty()
        if pid:
            _watch_child(pid, callback, ref)
        return pid, master_fd

    def forkpty(*args, **kwargs):
        """``os.forkpty()`` with a reinitialised hub in the child, watched."""
        if _config.disable_watch_children:
            return forkpty_gevent()
        return forkpty_and_watch(*args, **kwargs)


if _real_posix_spawn is not None:
    def posix_spawn(*args, **kwargs):
        """``os.posix_spawn`` whose child is watched (see :func:`waitpid`)."""
        pid = _real_posix_spawn(*args, **kwargs)
        _watch_child(pid)
        return pid

    def posix_spawnp(*args, **kwargs):
        """``os.posix_spawnp`` whose child is watched (see :func:`waitpid`)."""
        pid = _real_posix_spawnp(*args, **kwargs)
        _watch_child(pid)
        return pid


# -- waitpid ------------------------------------------------------------------

def waitpid(pid, options):
    """``os.waitpid`` that blocks only the calling greenlet.

    Statuses the loop already reaped are returned first. With ``WNOHANG``
    returns ``(0, 0)`` if the child is still running.
    """
    pid = _operator.index(pid)
    options = _operator.index(options)
    if options & ~WNOHANG:
        return _waitpid_other_options(pid, options)
    found = _take(pid if pid > 0 else _ANY)
    if found is not None:
        return found
    if options & WNOHANG:
        return _reap_nohang(pid)
    return _wait_exit(pid)


def _waitpid_other_options(pid, options):
    # The loop's SIGCHLD handler may reap the child at any moment: an exit
    # status it recorded is returned as the real waitpid would have.
    key = pid if pid > 0 else _ANY
    from gevent_c.hub import sleep
    delay = 0.001
    while True:
        found = _take(key)
        if found is not None:
            return found
        try:
            result = _real_waitpid(pid, options | WNOHANG)
        except ChildProcessError:
            found = _take(key)
            if found is not None:
                return found
            raise
        if result[0] or options & WNOHANG:
            return result
        sleep(delay)
        delay = min(delay * 2, 0.1)


# everything public os offers, as gevent.os does: os.__all__ misses a few
# (PathLike, the supports_* sets; process_cpu_count on 3.13.0)
__imports__ = copy_names(
    _os, globals(),
    list(_os.__all__) + [n for n in dir(_os) if not n.startswith('_') and
                         not isinstance(getattr(_os, n), type(_os))] + ['_exit'])
__all__ = sorted(set(__implements__ + __extensions__))
