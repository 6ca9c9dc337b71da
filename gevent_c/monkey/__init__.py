"""Make the standard library cooperative: ``monkey.patch_all()``.

An existing program becomes concurrent on greenlets by starting with::

    from gevent_c import monkey
    monkey.patch_all()

or by running unchanged under ``python -m gevent_c.monkey app.py [args]``.
Afterwards socket, ssl, select, selectors, time.sleep, threading and
_thread, queue, subprocess, os.fork/waitpid and signal.signal are the
cooperative versions of :mod:`gevent_c`: a call that would block lets the
other greenlets run, and each ``threading.Thread`` is a greenlet.

Patching is generic: each stand-in module (``gevent_c.socket``,
``gevent_c.thread``...) lists in ``__implements__`` the names it replaces in
its stdlib module, and :func:`patch_module` copies those names, saving the
originals (:func:`get_original`). A stand-in may add the hooks
``_gevent_will_monkey_patch(target, items, warn)``,
``_gevent_did_monkey_patch(target, items, warn)`` and
``_gevent_do_monkey_patch(request)``, and ``__aggressive_removes__``:
blocking names deleted from the target when patching with ``aggressive``.
Events of :mod:`gevent_c.events` announce each step (a will-patch
subscriber raising ``DoNotPatch`` cancels it).

Any import order works (beyond gevent): modules imported before
``patch_all()`` that copied a name now patched (``from socket import
socket``, ``from time import sleep``, ``from threading import Lock``...)
have those references switched to the cooperative objects, contexts of
``ssl`` made earlier produce cooperative sockets, and the locks of
``logging`` and ``concurrent.futures`` made earlier are replaced. One
:class:`MonkeyPatchWarning` names what could not be repaired (native
threads already running, classes subclassing a replaced class).
"""
import os as _os
import sys

__all__ = [
    'patch_all', 'patch_builtins', 'patch_dns', 'patch_os', 'patch_queue', 'patch_select',
    'patch_signal', 'patch_socket', 'patch_ssl', 'patch_subprocess', 'patch_sys',
    'patch_thread', 'patch_time',
    'get_original', 'is_module_patched', 'is_object_patched',
    'patch_module', 'main', 'MonkeyPatchWarning',
]


class MonkeyPatchWarning(RuntimeWarning):
    """The category of the warnings this module issues."""


class _BadImplements(AttributeError):
    """A source module without a usable ``__implements__``."""

    def __init__(self, module):
        AttributeError.__init__(
            self, 'Module %r has a bad or missing value for __implements__' % (module,))


# -- state ---------------------------------------------------------------

#: module name -> {attribute name: the original object}
saved = {}


def is_module_patched(mod_name):
    """Whether something in the stdlib module *mod_name* was replaced."""
    return mod_name in saved


def is_object_patched(mod_name, item_name):
    """Whether *mod_name*.*item_name* was replaced."""
    return is_module_patched(mod_name) and item_name in saved[mod_name]


def is_anything_patched():
    """Whether this process has patched anything."""
    return bool(saved)


#: True in a child forked before this process patched anything: objects it
#: inherited (a server's listening socket, its signal queue) were made by
#: the parent, and patching-too-late warnings do not count them.
forked_unpatched = False


def _after_fork_in_child():
    global forked_unpatched
    if not saved:
        forked_unpatched = True


if hasattr(_os, 'register_at_fork'):
    _os.register_at_fork(after_in_child=_after_fork_in_child)


def _save(module, attr, original):
    saved.setdefault(module.__name__, {}).setdefault(attr, original)


# -- the API of patching -------------------------------------------------

_NONE = object()


def get_original(mod_name, item_name):
    """The object *mod_name*.*item_name* was before patching (itself if not patched).

    *mod_name* may be a sequence of module names (the first importable one is
    used); *item_name* may be a sequence, and then a list is returned.
    """
    mod_names = [mod_name] if isinstance(mod_name, str) else list(mod_name)
    single = isinstance(item_name, str)
    names = [item_name] if single else list(item_name)
    for i, name in enumerate(mod_names):
        try:
            values = _get_originals(name, names)
        except ImportError:
            if i == len(mod_names) - 1:
                raise
            continue
        return values[0] if single else values


def _get_originals(mod_name, names):
    originals = saved.get(mod_name, {})
    module = None
    values = []
    for name in names:
        if name in originals:
            values.append(originals[name])
            continue
        if module is None:
            module = __import__(mod_name)
            module = sys.modules.get(mod_name, module)
        values.append(getattr(module, name))
    return values


def patch_item(module, attr, newitem):
    """Set *module*.*attr* to *newitem*, saving the first original."""
    olditem = getattr(module, attr, _NONE)
    if olditem is not _NONE:
        _save(module, attr, olditem)
    setattr(module, attr, newitem)


def remove_item(module, attr):
    """Delete *module*.*attr* (if present), saving the original."""
    olditem = getattr(module, attr, _NONE)
    if olditem is _NONE:
        return
    _save(module, attr, olditem)
    delattr(module, attr)


class _PatchRequest:
    """What ``_gevent_do_monkey_patch(request)`` of a source module receives."""

    get_original = staticmethod(get_original)

    def __init__(self, target_module, source_module, items, patch_kwargs):
        self.target_module = target_module
        self.source_module = source_module
        self.items = items
        self.patch_kwargs = patch_kwargs or {}

    def __repr__(self):
        return '<%s target=%r source=%r items=%r kwargs=%r>' % (
            type(self).__name__, self.target_module, self.source_module, self.items,
            self.patch_kwargs)

    def default_patch_items(self):
        """Copy the items; with ``aggressive``, remove ``__aggressive_removes__``."""
        for attr in self.items:
            patch_item(self.target_module, attr, getattr(self.source_module, attr))
        if self.patch_kwargs.get('aggressive'):
            self.remove_item(*getattr(self.source_module, '__aggressive_removes__', ()))

    def remove_item(self, target_module, *items):
        if isinstance(target_module, str):
            items = (target_module,) + items
            target_module = self.target_module
        for item in items:
            remove_item(target_module, item)


def _queue_warning(message, warnings_list):
    if warnings_list is None:
        _process_warnings([message])
    else:
        warnings_list.append(message)


def _process_warnings(warnings_list):
    import warnings
    for message in warnings_list:
        warnings.warn(message, MonkeyPatchWarning, stacklevel=3)


def _notify(event, warnings_list=None):
    from gevent_c.events import notify_and_call_entry_points
    event._warnings = warnings_list
    notify_and_call_entry_points(event)


def _call_hook(source, when, target, items, warnings_list):
    hook = getattr(source, '_gevent_%s_monkey_patch' % when, None)
    if hook is not None:
        hook(target, items, lambda message: _queue_warning(message, warnings_list))


def patch_module(target_module, source_module, items=None, _warnings=None,
                 _patch_kwargs=None, _notify_will_subscribers=True,
                 _notify_did_subscribers=True, _call_hooks=True):
    """Replace the attributes *items* of *target_module* by those of *source_module*.

    *items* defaults to ``source_module.__implements__``. The source's
    ``_gevent_will_monkey_patch``/``_gevent_did_monkey_patch`` hooks run
    before/after, then the will/did module events are sent. Returns True,
    or False if a hook or subscriber raised ``DoNotPatch``.
    """
    from gevent_c import events
    if items is None:
        items = getattr(source_module, '__implements__', None)
        if items is None:
            raise _BadImplements(source_module)
    try:
        if _call_hooks:
            _call_hook(source_module, 'will', target_module, items, _warnings)
        if _notify_will_subscribers:
            _notify(events.GeventWillPatchModuleEvent(target_module.__name__, source_module,
                                                      target_module, items), _warnings)
    except events.DoNotPatch:
        return False
    request = _PatchRequest(target_module, source_module, items, _patch_kwargs)
    do_patch = getattr(source_module, '_gevent_do_monkey_patch', None)
    if do_patch is None:
        request.default_patch_items()
    else:
        do_patch(request)
    if _call_hooks:
        _call_hook(source_module, 'did', target_module, items, _warnings)
    if _notify_did_subscribers:
        _notify(events.GeventDidPatchModuleEvent(target_module.__name__, source_module,
                                                 target_module), _warnings)
    return True


def _source_and_target(name):
    import importlib
    source = importlib.import_module('gevent_c.' + name)
    target_name = getattr(source, '__target__', name)
    return source, importlib.import_module(target_name)


def _patch_module(name, items=None, _warnings=None, _patch_kwargs=None,
                  _notify_did_subscribers=True):
    source, target = _source_and_target(name)
    patch_module(target, source, items=items, _warnings=_warnings,
                 _patch_kwargs=_patch_kwargs, _notify_did_subscribers=_notify_did_subscribers)
    return source, target


def _ignores_DoNotPatch(func):
    import functools

    @functools.wraps(func)
    def patcher(*args, **kwargs):
        from gevent_c.events import DoNotPatch
        try:
            return func(*args, **kwargs)
        except DoNotPatch:
            return False
    return patcher


# -- one function per module ---------------------------------------------

@_ignores_DoNotPatch
def patch_os():
    """Replace ``os.fork`` (the loop is reinitialised in the child),
    ``os.waitpid`` (cooperative, works with child watchers) and friends.
    Use with :func:`patch_signal`, as :func:`patch_all` does."""
    _patch_module('os')


@_ignores_DoNotPatch
def patch_time():
    """Replace ``time.sleep`` with :func:`gevent_c.sleep`."""
    _patch_module('time')


@_ignores_DoNotPatch
def patch_thread(threading=True, _threading_local=True, Event=True, logging=True,
                 existing_locks=True, _warnings=None):
    """Make ``_thread`` (and *threading*) greenlet-based.

    *threading*: also patch :mod:`threading` (its threads become greenlets,
    its locks cooperative). *_threading_local*: ``_threading_local.local``
    becomes greenlet-local. *Event*: ``threading.Event`` becomes
    :class:`gevent_c.event.Event`. *logging*: the locks of an already
    imported :mod:`logging` (module lock, handler locks) are replaced.
    *existing_locks*: locks held or made before patching by this (single)
    thread - import locks, RLocks, concurrent.futures' shutdown lock - are
    repaired so they can be released and do not block the thread.
    """
    from gevent_c.monkey import _threads
    _threads.patch(threading=threading, threading_local=_threading_local, Event=Event,
                   logging=logging, existing_locks=existing_locks, warnings_list=_warnings)


@_ignores_DoNotPatch
def patch_sys(stdin=True, stdout=True, stderr=True):
    """Does nothing (as gevent's on every supported Python)."""
    return


@_ignores_DoNotPatch
def patch_socket(dns=True, aggressive=True):
    """Replace ``socket.socket`` and friends with :mod:`gevent_c.socket`'s;
    *dns*: also the resolver functions (getaddrinfo...)."""
    from gevent_c import socket
    items = socket.__implements__
    if not dns:
        items = [name for name in items if name not in socket.__dns__]
    _patch_module('socket', items=items)


@_ignores_DoNotPatch
def patch_dns():
    """Replace only the DNS functions of :mod:`socket` (getaddrinfo...)."""
    from gevent_c import socket
    _patch_module('socket', items=socket.__dns__)


@_ignores_DoNotPatch
def patch_ssl(_warnings=None, _first_time=True):
    """Replace ``ssl.SSLContext``, ``SSLSocket`` and the helpers; contexts made
    before this (by any class) also produce cooperative sockets."""
    _patch_module('ssl', _warnings=_warnings)


@_ignores_DoNotPatch
def patch_select(aggressive=True):
    """Replace ``select.select`` and ``select.poll``; *aggressive*: remove
    ``epoll``/``kqueue``/``kevent``/``devpoll``, which would block."""
    _patch_module('select', _patch_kwargs={'aggressive': aggressive})


@_ignores_DoNotPatch
def patch_selectors(aggressive=True):
    """Make ``selectors.DefaultSelector`` cooperative (and the poll/select
    selectors made before); *aggressive*: remove the epoll/kqueue/devpoll
    selectors."""
    _patch_module('selectors', _patch_kwargs={'aggressive': aggressive})


@_ignores_DoNotPatch
def patch_subprocess():
    """Replace ``subprocess.Popen``, ``call``, ``check_call``,
    ``check_output`` and ``run`` with cooperative versions."""
    _patch_module('subprocess')


@_ignores_DoNotPatch
def patch_builtins():
    """Does nothing: Python 3's import locks are per module (and cooperative
    once ``_thread`` is patched)."""
    return


@_ignores_DoNotPatch
def patch_signal():
    """Make ``signal.signal`` keep child watching working (SIGCHLD);
    use with :func:`patch_os`."""
    _patch_module('signal')


@_ignores_DoNotPatch
def patch_queue():
    """Replace ``queue.Queue``, ``SimpleQueue``, ``PriorityQueue`` and
    ``LifoQueue`` with :mod:`gevent_c.queue`'s."""
    _patch_module('queue', items=['SimpleQueue', 'PriorityQueue', 'LifoQueue', 'Queue'])


@_ignores_DoNotPatch
def patch_contextvars():
    """Does nothing: each greenlet already has its own ``contextvars`` context."""
    return


# -- all of them ---------------------------------------------------------

_SETTINGS_KEY = '_gevent_saved_patch_all_module_settings'


def _check_repatching(settings, warnings_list):
    current = saved.setdefault(_SETTINGS_KEY, {})
    first_time = not current
    if not first_time and current != settings:
        _queue_warning('Patching more than once will result in the union of all True'
                       ' parameters being patched', warnings_list)
    to_patch = {}
    for key, value in settings.items():
        if key not in current:
            to_patch[key] = current[key] = value
        elif value and not current[key]:
            to_patch[key] = current[key] = True
    return first_time, to_patch


def patch_all(socket=True, dns=True, time=True, select=True, thread=True, os=True, ssl=True,
              subprocess=True, sys=False, aggressive=True, Event=True, builtins=True,
              signal=True, queue=True, contextvars=True, **kwargs):
    """Patch every module named by a true argument (all but *sys* by default).

    Returns True when done, False if a ``GeventWillPatchAllEvent``
    subscriber cancelled it, None if there was nothing new to patch (calling
    it again only adds patches, with a warning if the arguments differ).
    Patch early, in the main thread; modules imported before are repaired
    where possible (see the module documentation).
    """
    from gevent_c import events
    settings = {
        'socket': socket, 'dns': dns, 'time': time, 'select': select, 'thread': thread,
        'os': os, 'ssl': ssl, 'subprocess': subprocess, 'sys': sys,
        'aggressive': aggressive, 'Event': Event, 'builtins': builtins, 'signal': signal,
        'queue': queue, 'contextvars': contextvars,
    }
    warnings_list = []
    first_time, to_patch = _check_repatching(settings, warnings_list)
    if not to_patch:
        _process_warnings(warnings_list)
        return None
    on = {key: bool(to_patch.get(key)) for key in settings}
    aggressive = settings['aggressive']
    if on['signal'] and not settings['os']:
        _queue_warning('Patching signal but not os will result in SIGCHLD handlers'
                       ' installed after this not being called and os.waitpid may not'
                       ' function correctly if gevent_c.subprocess is used.', warnings_list)
    try:
        _notify(events.GeventWillPatchAllEvent(to_patch, kwargs), warnings_list)
    except events.DoNotPatch:
        return False
    before = _snapshot()
    # The order matters: thread before time (threading needs the real
    # sleep while patched), os and thread before the rest.
    if on['os']:
        patch_os()
    if on['thread']:
        patch_thread(Event=settings['Event'], _warnings=warnings_list)
    if on['time']:
        patch_time()
    if on['sys']:
        patch_sys()
    if on['socket']:
        patch_socket(dns=settings['dns'], aggressive=aggressive)
    if on['select']:
        patch_select(aggressive=aggressive)
        patch_selectors(aggressive=aggressive)
    if on['ssl']:
        patch_ssl(_warnings=warnings_list, _first_time=first_time)
    if on['subprocess']:
        patch_subprocess()
    if on['builtins']:
        patch_builtins()
    if on['signal']:
        patch_signal()
    if on['queue']:
        patch_queue()
    if on['contextvars']:
        patch_contextvars()
    from gevent_c.monkey import _late
    _late.repair_early_imports(before, warnings_list)
    _notify(events.GeventDidPatchBuiltinModulesEvent(to_patch, kwargs), warnings_list)
    _notify(events.GeventDidPatchAllEvent(to_patch, kwargs), warnings_list)
    _process_warnings(warnings_list)
    return True


def _snapshot():
    """What is saved so far: {(module, name): original} (to find what changes)."""
    return {(mod, name) for mod, items in saved.items() if mod != _SETTINGS_KEY
            for name in items}


def __getattr__(name):
    if name == 'main':
        from gevent_c.monkey.__main__ import main
        return main
    raise AttributeError("module 'gevent_c.monkey' has no attribute %r" % (name,))
