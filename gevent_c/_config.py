"""gevent_c's configuration: ``gevent_c.config``.

Each setting has a default, may be given in the environment as
``GEVENT_C_<NAME>`` (falling back to gevent's ``GEVENT_<NAME>`` spelling), and
may be assigned as an attribute (``gevent_c.config.resolver = 'ares'``) or
with ``config.set(name, value)`` before the objects that read it are created.
Unlike gevent there is one loop implementation, so there is no ``loop``
setting; the hub reads ``libev_backend``.
"""
import os

__all__ = ['config', 'Config']


def _parse_bool(value):
    if isinstance(value, str):
        value = value.strip().lower()
        if value in ('1', 'true', 'yes', 'on'):
            return True
        if value in ('0', 'false', 'no', 'off', ''):
            return False
        raise ValueError('not a boolean: %r' % (value,))
    return bool(value)


def _parse_float(value):
    return float(value)


def _parse_positive_int(value):
    value = int(value)
    if value < 1:
        raise ValueError('must be >= 1, got %r' % (value,))
    return value


def _parse_name_list(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(',') if v.strip()]
    return list(value)


def _parse_optional_str(value):
    return None if value in (None, '') else str(value)


# name -> (default, parser, environment key without prefix, doc)
_SETTINGS = {
    'resolver': (['thread', 'ares', 'block'], _parse_name_list, 'RESOLVER',
                 'Resolver names to try, in order (thread, ares, block).'),
    'threadpool_size': (10, _parse_positive_int, 'THREADPOOL_SIZE',
                        'Maximum threads in a hub\'s threadpool.'),
    'threadpool_idle_task_timeout': (5.0, _parse_float, 'THREADPOOL_IDLE_TASK_TIMEOUT',
                                     'Seconds an idle threadpool thread waits before exiting.'),
    'libev_backend': (None, _parse_optional_str, 'BACKEND',
                      'libev backend flags for new loops (e.g. "epoll"), or None.'),
    'format_context': ('pprint.saferepr', _parse_optional_str, 'FORMAT_CONTEXT',
                       'Callable (dotted name) formatting the context of an error report.'),
    'track_greenlet_tree': (True, _parse_bool, 'TRACK_GREENLET_TREE',
                            'Record spawning_greenlet on each Greenlet.'),
    'disable_watch_children': (False, _parse_bool, 'NOWAITPID',
                               'Do not install a SIGCHLD watcher.'),
    'max_blocking_time': (0.1, _parse_float, 'MAX_BLOCKING_TIME',
                          'Seconds the hub may be blocked before a report (monitor).'),
    'monitor_thread': (False, _parse_bool, 'MONITOR_THREAD_ENABLE',
                       'Start a thread that reports a blocked hub.'),
    'resolver_nameservers': (None, _parse_optional_str, 'RESOLVER_NAMESERVERS',
                             'Comma-separated nameservers for the ares resolver.'),
    'resolver_timeout': (None, lambda v: None if v in (None, '') else float(v),
                         'RESOLVER_TIMEOUT', 'Per-query timeout for the ares resolver.'),
}


class Config:
    """The settings object; read attributes, assign them or call ``set``."""

    __slots__ = ('_values',)

    def __init__(self):
        object.__setattr__(self, '_values', {})

    def _read_env(self, name):
        default, parser, key, _ = _SETTINGS[name]
        for env in ('GEVENT_C_' + key, 'GEVENT_' + key):
            raw = os.environ.get(env)
            if raw is not None:
                return parser(raw)
        return default

    def __getattr__(self, name):
        if name not in _SETTINGS:
            raise AttributeError('no such setting: %r' % (name,))
        values = object.__getattribute__(self, '_values')
        try:
            return values[name]
        except KeyError:
            value = values[name] = self._read_env(name)
            return value

    def __setattr__(self, name, value):
        self.set(name, value)

    def set(self, name, value):
        """Validate and store *value* for setting *name*."""
        if name not in _SETTINGS:
            raise AttributeError('no such setting: %r' % (name,))
        self._values[name] = _SETTINGS[name][1](value)

    def settings(self):
        """Names of all settings."""
        return sorted(_SETTINGS)

    def __dir__(self):
        return self.settings() + ['set', 'settings']


config = Config()
