"""gevent_c's configuration: ``gevent_c.config``, with gevent's settings.

Each setting has a default, may be given in the environment (as
``GEVENT_C_<NAME>`` or under gevent's own variable name, e.g.
``GEVENT_RESOLVER``), and may be assigned in code
(``gevent_c.config.resolver = 'ares'`` or ``config.set('resolver', 'ares')``)
before the objects that read it are created. A value read from the
environment is read once, on first use.

Settings that name an implementation (``resolver``, ``threadpool``,
``fileobject``, ``format_context``, ``loop``) accept a short name, a dotted
path, a list of either (the first that imports wins) or the object itself,
and read back as the object, as in gevent. ``loop`` has one valid value,
gevent_c's libev loop (``'libev-cext'``, gevent's name for it).

Example::

    from gevent_c import config
    config.fileobject = 'thread'
    config.fileobject          # <class 'gevent_c.fileobject.FileObjectThread'>
"""
import importlib
import os

__all__ = ['config', 'Config']


# -- validators (gevent's names) ----------------------------------------------

def validate_invalid(value):
    """For a setting that accepts nothing: always a ValueError."""
    raise ValueError('Not a valid value: %r' % (value,))


def validate_bool(value):
    """True for 1/true/on/yes, False for 0/false/off/no/'' (any case),
    ValueError for another string; anything else by its truth value."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ('1', 'true', 'on', 'yes'):
            return True
        if word in ('0', 'false', 'off', 'no', ''):
            return False
        raise ValueError('Invalid boolean string: %r' % (value,))
    return bool(value)


def validate_anything(value):
    return value


def _as_list(value):
    """A comma-separated string becomes a list; anything else is kept."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(',') if part.strip()]
    return value


def _positive(convert):
    def validate(value):
        if value is None or value == '':
            return None
        value = convert(value)
        if value <= 0:
            raise ValueError('Must be positive, got %r' % (value,))
        return value
    return validate


def _byte_count(value):
    """An int, or a string with an optional kb/mb/gb suffix."""
    if isinstance(value, str):
        text = value.strip().lower()
        for suffix, factor in (('kb', 1 << 10), ('mb', 1 << 20), ('gb', 1 << 30)):
            if text.endswith(suffix):
                return int(text[:-2]) * factor
        return int(text)
    return int(value)


def _optional_int(value):
    return int(value) if value else None


def _optional_str(value):
    return None if value in (None, '') else str(value)


# -- settings -------------------------------------------------------------------

class Setting:
    """One setting: ``name``, ``default``, the environment variables read
    (``environment_keys``, first found wins), and ``validate``, which turns
    any accepted spelling into the stored value or raises ValueError."""

    name = None
    default = None
    environment_keys = ()
    validate = staticmethod(validate_anything)
    doc = ''

    def __init__(self):
        self._value = None
        self._is_set = False

    @property
    def environment_key(self):
        return self.environment_keys[-1] if self.environment_keys else None

    def _from_environment(self):
        for key in self.environment_keys:
            raw = os.environ.get(key)
            if raw is not None:
                return raw
        return self.default

    def get(self):
        if not self._is_set:
            self._value = self.validate(self._from_environment())
            self._is_set = True
        return self._value

    def set(self, value):
        self._value = self.validate(value)
        self._is_set = True

    @property
    def is_assigned(self):
        """Whether the value was assigned or already read (so later changes
        to the environment are ignored)."""
        return self._is_set


class ImportableSetting(Setting):
    """A setting naming an object to import: a short name from
    ``shortname_map``, a dotted ``module.attribute`` path, a list of those
    (the first that imports wins), or the object itself."""

    shortname_map = {}

    def _import_one(self, path):
        if not isinstance(path, str):
            return path
        if '.' not in path or '/' in path:
            raise ImportError('Cannot import %r. Required format: [package.]module.class. '
                              'Or choose from %r' % (path, sorted(self.shortname_map)))
        module_name, attribute = path.rsplit('.', 1)
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise ImportError('Cannot import %r from %r' % (attribute, module)) from None

    def _import_one_of(self, candidates):
        if not candidates:
            raise ImportError('Cannot import from empty list')
        for candidate in candidates[:-1]:
            try:
                return self._import_one(candidate)
            except ImportError:
                continue
        return self._import_one(candidates[-1])

    def validate(self, value):
        if isinstance(value, str) or isinstance(value, (list, tuple)):
            names = _as_list(value)
            return self._import_one_of([self.shortname_map.get(n, n) for n in names])
        return value

    def get_options(self):
        """Short name -> the object it imports, or the ImportError."""
        options = {}
        for name, path in self.shortname_map.items():
            try:
                options[name] = self._import_one(path)
            except ImportError as exc:
                options[name] = exc
        return options


def validate_blocking_threshold(value):
    """Seconds as a positive float; None, '', 0, 'off' mean off."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if value.lower() in ('', 'off', 'no', 'false', '0'):
            return None
    if isinstance(value, bool):
        raise TypeError('threshold must be a number of seconds, not bool')
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError('threshold must be a number of seconds, not %r' % (value,)) from None
    if value != value or value < 0:
        raise ValueError('threshold must be a positive number of seconds, got %r' % (value,))
    return value or None


def _keys(suffix, gevent_key=None):
    return ('GEVENT_C_' + suffix, gevent_key or 'GEVENT_' + suffix)


class Resolver(ImportableSetting):
    name = 'resolver'
    doc = 'The DNS resolver class of new hubs (thread, ares, block).'
    default = ['thread', 'ares', 'block']
    environment_keys = _keys('RESOLVER')
    shortname_map = {
        'thread': 'gevent_c.resolver.thread.Resolver',
        'ares': 'gevent_c.resolver.ares.Resolver',
        'block': 'gevent_c.resolver.blocking.Resolver',
        'blocking': 'gevent_c.resolver.blocking.Resolver',
    }


class Threadpool(ImportableSetting):
    name = 'threadpool'
    doc = "The class of a hub's threadpool."
    default = 'gevent_c.threadpool.ThreadPool'
    environment_keys = _keys('THREADPOOL')


class Loop(ImportableSetting):
    name = 'loop'
    doc = ("The event loop class. gevent_c has one: libev through its C "
           "extension ('libev-cext').")
    default = 'libev-cext'
    environment_keys = _keys('LOOP')
    shortname_map = {'libev-cext': 'gevent_c.core.loop', 'libev': 'gevent_c.core.loop'}

    def validate(self, value):
        from gevent_c.core import loop
        names = _as_list(value) if isinstance(value, (str, list, tuple)) else [value]
        for name in names:
            if name is loop or self.shortname_map.get(name, name) == 'gevent_c.core.loop':
                return loop
        raise ValueError('gevent_c has one loop implementation, %r (gevent_c.core.loop); '
                         'not %r' % ('libev-cext', value))


class FileObject(ImportableSetting):
    name = 'fileobject'
    doc = 'The class gevent_c.fileobject.FileObject is (posix, thread, block).'
    default = ['posix', 'thread']
    environment_keys = _keys('FILE')
    shortname_map = {
        'posix': 'gevent_c.fileobject.FileObjectPosix',
        'thread': 'gevent_c.fileobject.FileObjectThread',
        'block': 'gevent_c.fileobject.FileObjectBlock',
    }


class FormatContext(ImportableSetting):
    name = 'format_context'
    doc = 'The callable that formats the context of an error report.'
    default = 'pprint.saferepr'
    environment_keys = _keys('FORMAT_CONTEXT')


def _simple(name, default, keys, validate, doc):
    return type(name, (Setting,), dict(name=name, default=default, environment_keys=keys,
                                       validate=staticmethod(validate), doc=doc))


_SETTINGS = [
    Resolver, Threadpool,
    _simple('threadpool_size', 10, _keys('THREADPOOL_SIZE'), _positive(int),
            "Maximum threads in a hub's threadpool."),
    _simple('threadpool_idle_task_timeout', 5.0, _keys('THREADPOOL_IDLE_TASK_TIMEOUT'),
            _positive(float), 'Seconds an idle threadpool thread waits before exiting.'),
    Loop, FormatContext,
    _simple('libev_backend', None, _keys('BACKEND'), _optional_str,
            'libev backend flags for new loops (e.g. "epoll"), or None.'),
    FileObject,
    _simple('disable_watch_children', False, _keys('NOWAITPID'), validate_bool,
            'Do not install a SIGCHLD watcher.'),
    _simple('trace_malloc', None, ('GEVENT_C_TRACE_MALLOC', 'PYTHONTRACEMALLOC'),
            _optional_int, 'Whether allocations are traced (PYTHONTRACEMALLOC).'),
    _simple('track_greenlet_tree', True, _keys('TRACK_GREENLET_TREE'), validate_bool,
            'Record spawning_greenlet, spawning_stack and spawn_tree_locals on each Greenlet.'),
    _simple('monitor_thread', False, _keys('MONITOR_THREAD_ENABLE'), validate_bool,
            'Start a thread that reports a blocked hub.'),
    _simple('max_blocking_time', 0.1, _keys('MAX_BLOCKING_TIME'), _positive(float),
            'Seconds the hub may be blocked before the monitor reports it.'),
    _simple('blocking_threshold', None, _keys('BLOCKING_THRESHOLD'), validate_blocking_threshold,
            'Seconds the loop may go without running before gevent_c.blocking '
            'reports who blocked it; unset (the default) or 0 is off.'),
    _simple('print_blocking_reports', True, _keys('MONITOR_PRINT_BLOCKING_REPORTS'),
            validate_bool, 'Whether the monitor prints what blocked the hub.'),
    _simple('memory_monitor_period', 5.0, _keys('MONITOR_MEMORY_PERIOD'), _positive(float),
            'Seconds between two memory checks of the monitor thread.'),
    _simple('max_memory_usage', None, _keys('MONITOR_MEMORY_MAX'),
            _positive(_byte_count), 'Bytes of memory above which the monitor notifies.'),
    _simple('resolver_nameservers', None, _keys('RESOLVER_NAMESERVERS'),
            lambda v: _as_list(v) if v else None,
            'Nameservers for the ares resolver (a list, or comma-separated).'),
    _simple('resolver_timeout', None, _keys('RESOLVER_TIMEOUT'), _positive(float),
            'Seconds the ares resolver spends on a query.'),
]
for _option in ('flags', 'timeout', 'tries', 'ndots', 'udp_port', 'tcp_port', 'servers'):
    _SETTINGS.append(_simple(
        'ares_' + _option, None,
        ('GEVENT_C_ARES_' + _option.upper(), 'GEVENTARES_' + _option.upper()),
        validate_anything, 'The ares resolver\'s %r option.' % (_option,)))


class Config:
    """The settings object; read attributes, assign them or call ``set``."""

    def __init__(self):
        object.__setattr__(self, 'settings', {cls.name: cls() for cls in _SETTINGS})

    def __getattr__(self, name):
        settings = self.__dict__.get('settings', {})
        if name not in settings:
            raise AttributeError('No configuration setting for: %r' % (name,))
        return settings[name].get()

    def __setattr__(self, name, value):
        self.set(name, value)

    def set(self, name, value):
        """Validate and store *value* for setting *name*."""
        if name not in self.settings:
            raise AttributeError('No configuration setting for: %r' % (name,))
        self.settings[name].set(value)

    def __dir__(self):
        return list(self.settings)

    def print_help(self):
        for name, setting in self.settings.items():
            print('%s\n    %s\n' % (name, setting.doc))


config = Config()
