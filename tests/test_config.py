"""gevent_c.config: gevent's settings, their validators and environment
variables; the scenarios run against gevent too where the behaviour is the
same."""
import importlib
import os
import subprocess
import sys

import pytest

from _hubtest import clean_hub, lib  # noqa: F401 -- fixtures

SETTINGS = ('resolver', 'threadpool', 'threadpool_idle_task_timeout', 'loop',
            'format_context', 'libev_backend', 'fileobject', 'disable_watch_children',
            'trace_malloc', 'track_greenlet_tree', 'monitor_thread', 'max_blocking_time',
            'print_blocking_reports', 'memory_monitor_period', 'max_memory_usage',
            'ares_flags', 'ares_timeout', 'ares_tries', 'ares_ndots', 'ares_udp_port',
            'ares_tcp_port', 'ares_servers', 'resolver_nameservers', 'resolver_timeout')


def _config_module(lib):
    return importlib.import_module(lib.name + '._config')


def _mod(lib, name):
    return importlib.import_module(lib.name + '.' + name)


def test_every_gevent_setting_exists_and_dir_lists_them(lib):
    config = _config_module(lib).Config()
    for name in SETTINGS:
        getattr(config, name)
    assert set(SETTINGS) <= set(dir(config))
    assert sorted(dir(config)) == sorted(config.settings)


def test_defaults_match_gevent(lib):
    config = _config_module(lib).Config()
    import pprint
    assert config.format_context is pprint.saferepr
    assert config.threadpool is _mod(lib, 'threadpool').ThreadPool
    assert config.fileobject is _mod(lib, 'fileobject').FileObjectPosix
    assert (config.max_blocking_time, config.memory_monitor_period) == (0.1, 5.0)
    assert config.print_blocking_reports is True and config.monitor_thread is False
    assert config.track_greenlet_tree is True
    assert config.max_memory_usage is None and config.trace_malloc is None
    assert config.ares_servers is None and config.resolver_timeout is None


def test_validate_bool_spellings(lib):
    validate_bool = _config_module(lib).validate_bool
    for word in ('1', 'true', 'ON', ' yes '):
        assert validate_bool(word) is True
    for word in ('0', 'false', 'Off', 'no', ''):
        assert validate_bool(word) is False
    assert validate_bool(2) is True and validate_bool(None) is False
    with pytest.raises(ValueError):
        validate_bool('maybe')
    with pytest.raises(ValueError):
        _config_module(lib).validate_invalid(1)


def test_positive_and_byte_count_settings_validate(lib):
    config = _config_module(lib).Config()
    config.max_memory_usage = '2kb'
    assert config.max_memory_usage == 2048
    config.max_memory_usage = '3MB'
    assert config.max_memory_usage == 3 << 20
    with pytest.raises(ValueError):
        config.max_memory_usage = -1
    config.print_blocking_reports = 'off'
    assert config.print_blocking_reports is False


def test_importable_settings_take_names_lists_and_objects(lib):
    config = _config_module(lib).Config()
    config.fileobject = 'thread'
    assert config.fileobject is _mod(lib, 'fileobject').FileObjectThread
    config.fileobject = _mod(lib, 'fileobject').FileObjectBlock
    assert config.fileobject is _mod(lib, 'fileobject').FileObjectBlock
    config.resolver = 'no.such_module.Resolver,block'
    assert config.resolver is _mod(lib, 'resolver.blocking').Resolver
    with pytest.raises(ImportError):
        config.resolver = 'no_dots'
    with pytest.raises(AttributeError):
        config.set('no such setting', 1)


def test_typos_and_zero_durations_are_refused():
    # gevent stores an unknown attribute silently, and reads 0 as "unset"
    from gevent_c import _config
    config = _config.Config()
    with pytest.raises(AttributeError):
        config.max_blockin_time = 1
    with pytest.raises(ValueError, match='positive'):
        config.max_blocking_time = 0


def test_loop_has_one_valid_value():
    from gevent_c import _config, core
    config = _config.Config()
    assert config.loop is core.loop
    for value in ('libev-cext', ['libuv-cffi', 'libev-cext'], core.loop, 'gevent_c.core.loop'):
        config.loop = value
        assert config.loop is core.loop
    for value in ('libuv', 'libev-cffi', 'my.own.loop', object()):
        with pytest.raises(ValueError, match='one loop implementation'):
            config.loop = value


def test_hub_reads_its_classes_from_config(lib):
    hub = lib.hub.get_hub()
    assert hub.loop_class is lib.top.config.loop
    assert isinstance(hub.loop, hub.loop_class)
    assert hub.backend == lib.top.config.libev_backend
    assert hub.threadpool_class is lib.top.config.threadpool
    assert hub.resolver_class is lib.top.config.resolver


def test_environment_variables_under_both_names():
    code = ('from gevent_c import config; print(config.max_blocking_time, '
            'config.print_blocking_reports, config.fileobject.__name__, config.ares_tries)')
    for prefix in ('GEVENT_C_', 'GEVENT_'):
        env = dict(os.environ, **{prefix + 'MAX_BLOCKING_TIME': '0.5',
                                  prefix + 'MONITOR_PRINT_BLOCKING_REPORTS': 'no',
                                  prefix + 'FILE': 'thread'})
        env['GEVENTARES_TRIES' if prefix == 'GEVENT_' else 'GEVENT_C_ARES_TRIES'] = '3'
        out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.stdout.split() == ['0.5', 'False', 'FileObjectThread', '3'], out.stderr


def test_fileobject_follows_the_setting_at_first_import():
    code = 'import gevent_c.fileobject as f; print(f.FileObject.__name__)'
    env = dict(os.environ, GEVENT_FILE='block')
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == 'FileObjectBlock', out.stderr


def test_gevents_old_resolver_module_names_resolve_to_the_same_classes():
    from tests._isolated import run_isolated
    out = run_isolated('''
        import warnings
        import gevent_c
        gevent_c.install_as_gevent()
        import gevent.ares, gevent.resolver.cares, gevent.resolver.ares, gevent.resolver.thread
        from gevent_c._ares import channel
        assert gevent.ares.channel is gevent.resolver.cares.channel is channel
        for old, new in [('resolver_ares', gevent.resolver.ares),
                         ('resolver_thread', gevent.resolver.thread)]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                module = __import__('gevent.' + old, fromlist=['Resolver'])
            assert module.Resolver is new.Resolver, old
            assert [w.category for w in caught] == [DeprecationWarning], caught
        # the old dotted names work as configuration values too
        gevent_c.config.resolver = 'gevent.resolver_thread.Resolver'
        assert gevent_c.config.resolver is gevent.resolver.thread.Resolver
        try:
            gevent_c.config.resolver = 'dnspython'
        except ImportError as exc:
            assert 'thread' in str(exc) and 'ares' in str(exc), exc
        else:
            raise AssertionError('dnspython accepted')
        print('ok')
    ''')
    assert out.strip() == 'ok'
