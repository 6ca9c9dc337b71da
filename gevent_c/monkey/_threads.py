"""patch_thread: _thread and threading on greenlets, the main thread adopted.

After the names of :mod:`gevent_c.thread` and :mod:`gevent_c.threading`
are copied, what already exists is fixed up:

- the main thread's ident becomes the main greenlet's (``threading._active``
  re-keyed), and its join lock (< 3.13) or handle (3.13+) a cooperative one,
  so greenlets can join it; ``threading._shutdown`` releases them at exit,
  then runs the stdlib's shutdown, which joins the non-daemon greenlet
  threads cooperatively (3.13+: joined here, since the stdlib's C
  ``_thread._shutdown`` knows only native threads). A LoopExit there (a
  thread blocked forever on nothing) ends the wait instead of hanging;
- other native threads already running get a ``join`` that polls instead
  of blocking the hub's thread;
- with *existing_locks*: import locks and Python RLocks held by this thread
  get the new ident as owner (so they can be released), idle Conditions
  made earlier (inside Events, Queues, Semaphores of modules imported
  before) get cooperative locks, and ``concurrent.futures.thread``'s
  shutdown lock (held across ``Thread.start()``, which now switches) is
  replaced;
- with *logging*: logging's module lock and the handlers' locks are
  replaced by cooperative RLocks.
"""
import os
import sys

from gevent_c.monkey import _patch_module, _queue_warning, _notify
from gevent_c.monkey import is_object_patched, patch_item

_PY313 = sys.version_info[:2] >= (3, 13)


def patch(threading=True, threading_local=True, Event=True, logging=True,
          existing_locks=True, warnings_list=None):
    from gevent_c import events
    threading_mod = __import__('threading')
    native_ident = threading_mod.get_ident()
    main = threading_mod.main_thread()
    current = threading_mod.current_thread()
    on_main_thread = current is main
    orig_shutdown = threading_mod._shutdown
    others = [t for t in threading_mod.enumerate() if t is not main and t is not current]

    gthread, thread_mod = _patch_module('thread', _warnings=warnings_list,
                                        _notify_did_subscribers=False)
    gthreading = None
    if threading:
        gthreading, _ = _patch_module('threading', _warnings=warnings_list,
                                      _notify_did_subscribers=False)
        if Event:
            from gevent_c.event import Event as GEvent
            patch_item(threading_mod, 'Event', GEvent)
        if existing_locks and on_main_thread and not others:
            _repair_existing_locks(threading_mod, native_ident)
        if logging and 'logging' in sys.modules:
            _replace_logging_locks(threading_mod)
    if threading_local:
        import _threading_local
        from gevent_c.local import local
        patch_item(_threading_local, 'local', local)
    if threading:
        for thread in others:
            thread.join = _polling_join(thread)
        if others:
            _queue_warning('Monkey-patching with %d native thread(s) already running (%s): '
                           'they keep running natively, and see patched modules from now on.'
                           % (len(others), ', '.join(t.name for t in others)), warnings_list)
        if not is_object_patched('threading', '_shutdown'):
            if on_main_thread:
                _adopt_main_thread(threading_mod, main, orig_shutdown)
            else:
                _queue_warning('Monkey-patching not on the main thread; '
                               'threading.main_thread().join() will hang from a greenlet',
                               warnings_list)
                patch_item(threading_mod, '_shutdown',
                           _shutdown_from_main_greenlet(threading_mod, main, orig_shutdown))
    _notify(events.GeventDidPatchModuleEvent('thread', gthread, thread_mod), warnings_list)
    if gthreading is not None:
        _notify(events.GeventDidPatchModuleEvent('threading', gthreading, threading_mod),
                warnings_list)


def _root_greenlet():
    from gevent_c._greenlet import getcurrent
    glet = getcurrent()
    while glet.parent is not None:
        glet = glet.parent
    return glet


def _handle_attr(thread):
    return '_os_thread_handle' if hasattr(thread, '_os_thread_handle') else '_handle'


def _adopt_main_thread(threading_mod, main, orig_shutdown):
    from gevent_c import thread as gthread
    root = _root_greenlet()
    old_ident, new_ident = main.ident, gthread.get_ident(root)
    with threading_mod._active_limbo_lock:
        if threading_mod._active.get(old_ident) is main:
            del threading_mod._active[old_ident]
        threading_mod._active[new_ident] = main
    main._ident = new_ident
    threading_mod._dangling.discard(main)
    if _PY313:
        shutdown = _main_thread_handle_swap(threading_mod, main, root, orig_shutdown)
        _mark_other_threads_done_in_forked_children(threading_mod)
    else:
        shutdown = _main_thread_lock_swap(threading_mod, main, orig_shutdown)
    patch_item(threading_mod, '_shutdown', shutdown)


def _shutdown_from_main_greenlet(threading_mod, main, orig_shutdown):
    # Patched from another thread, the main thread kept its native ident;
    # at exit the stdlib compares it with get_ident() (now greenlet-based)
    # to release the main thread's lock, or would wait for that lock forever.
    def _shutdown():
        from gevent_c import thread as gthread
        old_ident, new_ident = main.ident, gthread.get_ident()
        if old_ident != new_ident and threading_mod._main_thread is main:
            with threading_mod._active_limbo_lock:
                if threading_mod._active.get(old_ident) is main:
                    del threading_mod._active[old_ident]
                threading_mod._active[new_ident] = main
            main._ident = new_ident
        _run_native_shutdown(orig_shutdown)
    return _shutdown


def _let_joiners_run():
    from gevent_c.hub import sleep
    try:
        sleep()
    except BaseException:  # noqa: BLE001 -- the main greenlet has nowhere else to send it
        from gevent_c._hub_local import get_hub
        get_hub().print_exception(None, *sys.exc_info())


def _run_native_shutdown(orig_shutdown):
    from gevent_c.exceptions import LoopExit
    try:
        orig_shutdown()
    except LoopExit:
        # A non-daemon greenlet thread waits for something that can never
        # happen: exit instead of hanging.
        pass


def _main_thread_lock_swap(threading_mod, main, orig_shutdown):
    # < 3.13: join() waits for the thread's "tstate lock", which the
    # interpreter releases for the main thread only at the very end.
    from gevent_c.thread import LockType
    native = main._tstate_lock
    green = LockType()
    green.acquire()
    main._tstate_lock = green

    def _shutdown():
        if threading_mod._main_thread is main and main._tstate_lock is green:
            green.release()
            _let_joiners_run()
            # A joiner may have marked the main thread stopped: it is not yet.
            main._is_stopped = False
            main._tstate_lock = native
        _run_native_shutdown(orig_shutdown)
    return _shutdown


def _main_thread_handle_swap(threading_mod, main, root, orig_shutdown):
    # 3.13+: join() waits on the thread's handle.
    from gevent_c.thread import _ThreadHandle
    attr = _handle_attr(main)
    native = getattr(main, attr)
    green = _ThreadHandle()
    green._set_greenlet(root)
    setattr(main, attr, green)

    def _shutdown():
        if threading_mod._main_thread is main and getattr(main, attr) is green:
            green._set_done()
            _let_joiners_run()
            threading_mod._SHUTTING_DOWN = True
            atexits = threading_mod._threading_atexits
            for call in reversed(atexits):
                call()
            del atexits[:]
            _join_green_threads(threading_mod, main, attr)
            setattr(main, attr, native)
        _run_native_shutdown(orig_shutdown)
    return _shutdown


def _mark_other_threads_done_in_forked_children(threading_mod):
    # 3.13+: a forked child goes on with the forking thread only. CPython
    # marks the other threads' native handles done in C; our handles are
    # marked here, after threading's own hook, so joining a thread that
    # did not fork (the main thread, say) returns at once in the child.
    # The greenlets themselves are copied and may still run, as in gevent.
    from gevent_c.thread import _ThreadHandle
    before = []

    def before_fork():
        before[:] = threading_mod.enumerate()

    def after_in_parent():
        del before[:]

    def after_in_child():
        threads = before[:]
        del before[:]
        current = threading_mod.current_thread()
        for thread in threads:
            handle = getattr(thread, _handle_attr(thread), None)
            if (thread is not current and isinstance(handle, _ThreadHandle)
                    and handle._glet is not None):
                handle._set_done()

    os.register_at_fork(before=before_fork, after_in_parent=after_in_parent,
                        after_in_child=after_in_child)


def _join_green_threads(threading_mod, main, attr):
    from gevent_c.exceptions import LoopExit
    from gevent_c.thread import _ThreadHandle
    while True:
        pending = [t for t in threading_mod.enumerate()
                   if t is not main and not t.daemon
                   and isinstance(getattr(t, attr, None), _ThreadHandle)
                   and not getattr(t, attr).is_done()]
        if not pending:
            return
        for thread in pending:
            try:
                getattr(thread, attr).join()
            except RuntimeError:   # the current greenlet's own thread
                getattr(thread, attr)._set_done()
            except LoopExit:
                return


def _polling_join(thread):
    """join() for a native thread, polled so the hub's thread keeps running."""
    def join(timeout=None):
        from time import monotonic
        from gevent_c.hub import sleep
        deadline = None if timeout is None else monotonic() + timeout
        while thread.is_alive():
            if deadline is not None and monotonic() >= deadline:
                return
            sleep(0.005)
    return join


def _repair_existing_locks(threading_mod, native_ident):
    import gc
    import importlib._bootstrap as bootstrap
    new_ident = threading_mod.get_ident()
    py_rlock = getattr(threading_mod, '_PyRLock', None)
    module_lock = getattr(bootstrap, '_ModuleLock', None)
    conditions = []
    condition = threading_mod.Condition
    for obj in gc.get_objects():
        # type(), not isinstance(): that would read obj.__class__, which
        # loads a lazily imported module
        kind = type(obj)
        if py_rlock is not None and issubclass(kind, py_rlock):
            if obj._owner == native_ident:
                obj._owner = new_ident
        elif module_lock is not None and issubclass(kind, module_lock):
            if getattr(obj, 'owner', None) == native_ident:
                obj.owner = new_ident
        elif issubclass(kind, condition):
            conditions.append(obj)
    _make_conditions_cooperative(threading_mod, conditions)
    cf_thread = sys.modules.get('concurrent.futures.thread')
    if cf_thread is not None and hasattr(cf_thread, '_global_shutdown_lock'):
        # Executor.submit holds it across Thread.start(), which now switches
        # greenlets: a native lock there blocks the whole thread. (The
        # at-fork hooks keep the old lock, which nobody else takes.)
        cf_thread._global_shutdown_lock = threading_mod.Lock()


def _make_conditions_cooperative(threading_mod, conditions):
    """Give the Conditions made before patching (inside Events, Semaphores,
    Queues, Barriers... of modules imported early) cooperative locks.

    Waiting on a native Condition would block the whole thread, and every
    greenlet with it. Only idle ones are changed (lock free, no waiter); a
    lock shared by several Conditions (queue.Queue's mutex) stays shared,
    and the objects holding the old lock in an attribute get the new one.
    """
    import gc
    from gevent_c.monkey import get_original
    native_lock = type(get_original('_thread', 'allocate_lock')())
    native_rlock = get_original('_thread', 'RLock') if hasattr(
        sys.modules['_thread'], 'RLock') else None
    replaced = {}
    for cond in conditions:
        lock = getattr(cond, '_lock', None)
        if cond._waiters or not (type(lock) is native_lock or type(lock) is native_rlock):
            continue
        if id(lock) not in replaced:
            if type(lock) is native_lock:
                if lock.locked():
                    continue
                new = threading_mod.Lock()
            else:
                if lock._is_owned():
                    continue
                new = threading_mod.RLock()
            replaced[id(lock)] = (lock, new)
        threading_mod.Condition.__init__(cond, replaced[id(lock)][1])
    if not replaced:
        return
    for lock, new in replaced.values():
        for holder in gc.get_referrers(lock):
            if type(holder) is dict:
                namespace = holder
            else:
                try:
                    namespace = object.__getattribute__(holder, '__dict__')
                except (AttributeError, TypeError):
                    continue
            if type(namespace) is not dict:
                continue
            for key, value in list(namespace.items()):
                if value is lock:
                    namespace[key] = new


def _replace_logging_locks(threading_mod):
    logging = sys.modules['logging']
    if getattr(logging, '_lock', None) is not None:
        patch_item(logging, '_lock', threading_mod.RLock())
    for ref in list(getattr(logging, '_handlerList', ())):
        handler = ref() if callable(ref) else ref
        if handler is not None and getattr(handler, 'lock', None) is not None:
            handler.lock = threading_mod.RLock()
