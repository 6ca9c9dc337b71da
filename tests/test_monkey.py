"""gevent_c.monkey's API: patch_all and patch_*, the queries, patch_module and
its hooks, the events, plugins, python -m gevent_c.monkey. Each scenario runs
in its own interpreter (patching is process-wide)."""
import os
import subprocess
import sys
import textwrap

import pytest

from _monkeytest import as_gevent_env, run_patched


def test_patch_all_copies_every_implements_name_and_records_it():
    out = run_patched('''
        from gevent_c import monkey
        assert not monkey.is_anything_patched()
        assert monkey.patch_all() is True
        import importlib
        for name in ('socket', 'ssl', 'select', 'selectors', 'os', 'signal', 'subprocess',
                     'time', 'thread', 'threading'):
            source = importlib.import_module('gevent_c.' + name)
            target = importlib.import_module(getattr(source, '__target__', name))
            for item in source.__implements__:
                assert getattr(target, item) is getattr(source, item), (name, item)
                assert monkey.is_object_patched(target.__name__, item), (name, item)
            assert monkey.is_module_patched(target.__name__)
        import socket, gevent_c.socket, queue, gevent_c.queue
        assert socket.socket is gevent_c.socket.socket
        assert socket.create_connection is gevent_c.socket.create_connection
        assert queue.Queue is gevent_c.queue.Queue
        assert queue.SimpleQueue is gevent_c.queue.SimpleQueue
        import threading, gevent_c.event
        assert threading.Event is gevent_c.event.Event
        assert monkey.is_object_patched('threading', 'Event')
        assert not monkey.is_module_patched('builtins')
        assert not monkey.is_object_patched('socket', 'AF_INET')
        print('ok')
    ''')
    assert out.stdout.strip() == 'ok'


def test_get_original_gives_the_stdlib_objects():
    run_patched('''
        import time, _thread, socket
        real_sleep, real_ident, real_socket = time.sleep, _thread.get_ident, socket.socket
        from gevent_c import monkey
        monkey.patch_all()
        assert time.sleep is not real_sleep
        assert monkey.get_original('time', 'sleep') is real_sleep
        assert monkey.get_original('socket', 'socket') is real_socket
        assert monkey.get_original(('no_such_module_x', '_thread'), 'get_ident') is real_ident
        assert monkey.get_original('time', ['sleep', 'time']) == [real_sleep, time.time]
        # an unpatched name is the module's own
        assert monkey.get_original('socket', 'AF_INET') is socket.AF_INET
        try:
            monkey.get_original('no_such_module_x', 'x')
        except ImportError:
            pass
        else:
            raise AssertionError('ImportError expected')
    ''')


def test_patch_all_again_only_adds_and_warns_when_arguments_differ():
    out = run_patched('''
        import warnings
        from gevent_c import monkey
        assert monkey.patch_all(socket=False) is True
        import socket, gevent_c.socket
        assert socket.socket is not gevent_c.socket.socket
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            assert monkey.patch_all(socket=False) is None       # identical: nothing to do
            assert not caught
            assert monkey.patch_all(os=False) is True           # adds socket, keeps os
            assert [issubclass(w.category, monkey.MonkeyPatchWarning) for w in caught] == [True]
            assert 'more than once' in str(caught[0].message)
        assert socket.socket is gevent_c.socket.socket
        assert monkey.is_module_patched('os')
        print('ok')
    ''')
    assert 'ok' in out.stdout


def test_events_are_sent_in_order_and_DoNotPatch_cancels():
    run_patched('''
        from gevent_c import events, monkey
        seen = []
        def subscriber(event):
            seen.append(type(event).__name__ + ':' + getattr(event, 'module_name', ''))
            if isinstance(event, events.GeventWillPatchModuleEvent) and event.module_name == 'time':
                raise events.DoNotPatch
        events.subscribers.append(subscriber)
        assert monkey.patch_all() is True
        assert seen[0] == 'GeventWillPatchAllEvent:'
        assert seen[-2:] == ['GeventDidPatchBuiltinModulesEvent:', 'GeventDidPatchAllEvent:']
        assert 'GeventWillPatchModuleEvent:socket' in seen
        assert seen.index('GeventWillPatchModuleEvent:socket') < seen.index('GeventDidPatchModuleEvent:socket')
        assert 'GeventDidPatchModuleEvent:threading' in seen
        assert 'GeventDidPatchModuleEvent:time' not in seen
        assert not monkey.is_module_patched('time')

        # a will-patch-all subscriber cancels everything
    ''')
    run_patched('''
        from gevent_c import events, monkey
        def veto(event):
            if isinstance(event, events.GeventWillPatchAllEvent):
                assert event.will_patch_module('socket') and not event.will_patch_module('sys')
                raise events.DoNotPatch
        events.subscribers.append(veto)
        assert monkey.patch_all() is False
        assert not monkey.is_module_patched('socket')
    ''')


def test_events_module_has_gevents_event_classes():
    run_patched('''
        from gevent_c import events
        from zope.interface.verify import verifyObject
        e = events.EventLoopBlocked('g', 0.5, ['line'], hub='h')
        assert (e.greenlet, e.blocking_time, e.info, e.hub) == ('g', 0.5, ['line'], 'h')
        verifyObject(events.IEventLoopBlocked, e)
        m = events.MemoryUsageThresholdExceeded(10, 5, ('rss',))
        verifyObject(events.IMemoryUsageThresholdExceeded, m)
        u = events.MemoryUsageUnderThreshold(4, 5, ('rss',), 10)
        assert u.max_memory_usage == 10 and 'used=4' in repr(u)
        verifyObject(events.IMemoryUsageUnderThreshold, u)
        s = events.PeriodicMonitorThreadStartedEvent('mon')
        verifyObject(events.IPeriodicMonitorThreadStartedEvent, s)
        got = []
        events.subscribers.append(got.append)
        events.notify(e)
        assert got == [e]
        for name in events.__all__:
            assert hasattr(events, name), name
    ''')


def test_plugins_registered_as_entry_points_are_called(tmp_path):
    dist = tmp_path / 'gcplug-1.0.dist-info'
    dist.mkdir()
    (dist / 'METADATA').write_text('Metadata-Version: 2.1\nName: gcplug\nVersion: 1.0\n')
    (dist / 'entry_points.txt').write_text(
        '[gevent_c.plugins.monkey.did_patch_builtins]\nx = gcplug_mod:hook\n'
        '[gevent_c.plugins.monkey.will_patch_module]\ny = gcplug_mod:module_hook\n')
    (tmp_path / 'gcplug_mod.py').write_text(textwrap.dedent('''
        calls = []
        def hook(event):
            calls.append(type(event).__name__)
        def module_hook(event):
            calls.append(event.module_name)
    '''))
    out = run_patched('''
        import sys
        sys.path.insert(0, %r)
        from gevent_c import monkey
        monkey.patch_all()
        import gcplug_mod
        print(gcplug_mod.calls)
    ''' % str(tmp_path))
    assert "'GeventDidPatchBuiltinModulesEvent'" in out.stdout
    assert "'socket'" in out.stdout


def test_patch_module_copies_items_and_calls_the_hooks():
    run_patched('''
        import types
        from gevent_c import monkey, events
        target = types.ModuleType('fake_target')
        target.a, target.b, target.keep = 1, 2, 3
        source = types.ModuleType('fake_source')
        source.__implements__ = ['a', 'b']
        source.a, source.b = 'A', 'B'
        calls = []
        source._gevent_will_monkey_patch = lambda t, items, warn: calls.append(('will', list(items)))
        source._gevent_did_monkey_patch = lambda t, items, warn: calls.append(('did', t.a))
        assert monkey.patch_module(target, source) is True
        assert (target.a, target.b, target.keep) == ('A', 'B', 3)
        assert calls == [('will', ['a', 'b']), ('did', 'A')]
        assert monkey.saved['fake_target'] == {'a': 1, 'b': 2}
        assert monkey.patch_module(target, source, items=['b']) is True
        assert monkey.saved['fake_target'] == {'a': 1, 'b': 2}   # the first original stays

        def veto(t, items, warn):
            raise events.DoNotPatch
        other = types.ModuleType('other_target'); other.a = 0
        source._gevent_will_monkey_patch = veto
        assert monkey.patch_module(other, source) is False and other.a == 0

        bad = types.ModuleType('bad')
        try:
            monkey.patch_module(other, bad)
        except AttributeError as exc:
            assert '__implements__' in str(exc)
        else:
            raise AssertionError

        monkey.patch_item(other, 'new', 5)
        assert other.new == 5 and 'new' not in monkey.saved.get('other_target', {})
        monkey.remove_item(other, 'a')
        assert not hasattr(other, 'a') and monkey.saved['other_target']['a'] == 0
        monkey.remove_item(other, 'absent')
    ''')


def test_aggressive_removes_blocking_select_and_selectors_apis():
    run_patched('''
        import select, selectors, socketserver
        from gevent_c import monkey
        monkey.patch_all()
        assert not hasattr(select, 'epoll') and monkey.get_original('select', 'epoll')
        assert not hasattr(selectors, 'EpollSelector')
        import gevent_c.selectors, gevent_c.select
        assert selectors.DefaultSelector is gevent_c.selectors.GeventSelector
        # classes other modules captured at import are cooperative too
        assert socketserver._ServerSelector._selector_cls is gevent_c.select.poll
        assert selectors.SelectSelector._select is gevent_c.select.select
    ''')
    run_patched('''
        import select
        from gevent_c import monkey
        monkey.patch_all(aggressive=False)
        assert hasattr(select, 'epoll')
    ''')


def test_patch_socket_without_dns_leaves_the_resolver_functions():
    run_patched('''
        import socket
        real = socket.getaddrinfo
        from gevent_c import monkey
        monkey.patch_socket(dns=False)
        import gevent_c.socket
        assert socket.getaddrinfo is real and socket.socket is gevent_c.socket.socket
        monkey.patch_dns()
        assert socket.getaddrinfo is gevent_c.socket.getaddrinfo
    ''')


SCRIPT = '''
import sys, socket, time, threading
import gevent_c.socket
print('argv', sys.argv[1:])
print('socket', socket.socket is gevent_c.socket.socket)
print('name', __name__)
print('path0', sys.path[0])
'''


def test_python_m_gevent_c_monkey_runs_a_script_patched(tmp_path):
    script = tmp_path / 'app.py'
    script.write_text(SCRIPT)
    out = run_patched(None, argv=[sys.executable, '-m', 'gevent_c.monkey', str(script), 'a', '-b'])
    assert "argv ['a', '-b']" in out.stdout
    assert 'socket True' in out.stdout
    assert 'name __main__' in out.stdout
    assert 'path0 %s' % tmp_path in out.stdout
    out = run_patched(None, argv=[sys.executable, '-m', 'gevent_c.monkey', '--no-socket',
                                  str(script)])
    assert 'socket False' in out.stdout


def test_python_m_gevent_c_monkey_module_and_bad_options(tmp_path):
    (tmp_path / 'appmod.py').write_text(SCRIPT)
    out = run_patched(None, argv=[sys.executable, '-m', 'gevent_c.monkey', '--module', 'appmod',
                                  'x'], env={'PYTHONPATH': '%s%s%s' % (
                                      os.path.dirname(os.path.dirname(os.path.abspath(
                                          __file__))), os.pathsep, tmp_path)})
    assert "argv ['x']" in out.stdout and 'socket True' in out.stdout
    bad = run_patched(None, argv=[sys.executable, '-m', 'gevent_c.monkey', '--frobnicate', 'x'],
                      check=False)
    assert bad.returncode != 0 and "Cannot patch 'frobnicate'" in bad.stderr
    usage = run_patched(None, argv=[sys.executable, '-m', 'gevent_c.monkey'])
    assert 'USAGE' in usage.stdout and '--[no-]socket' in usage.stdout


AS_GEVENT_SCRIPT = '''
import sys
assert 'gevent' in sys.modules      # switched on before the script runs
import socket, threading
import gevent, gevent.monkey, gevent.socket, greenlet
import gevent_c
print('alias', gevent.spawn is gevent_c.spawn, gevent.monkey is gevent_c.monkey)
print('patched', socket.socket is gevent.socket.socket,
      gevent.monkey.is_module_patched('socket'), gevent.monkey.is_module_patched('threading'))
print('greenlet', greenlet.getcurrent() is gevent_c.getcurrent(),
      greenlet.greenlet is type(gevent.spawn(lambda: None)).__mro__[-2])
print('versions', gevent.__version__, gevent_c.__version__ != gevent.__version__)
print('argv', sys.argv[1:])
'''


def test_python_m_gevent_c_monkey_as_gevent_runs_a_gevent_program_on_gevent_c(tmp_path):
    script = tmp_path / 'gapp.py'
    script.write_text(AS_GEVENT_SCRIPT)
    out = run_patched(None, argv=[sys.executable, '-m', 'gevent_c.monkey', '--as-gevent',
                                  '--no-thread', str(script), '-x'])
    assert out.stdout.splitlines() == [
        'alias True True', 'patched True True False', 'greenlet True True',
        'versions 26.9.0 True', "argv ['-x']"]
    usage = run_patched(None, argv=[sys.executable, '-m', 'gevent_c.monkey'])
    assert '--as-gevent' in usage.stdout


def test_python_m_gevent_c_monkey_as_gevent_with_a_module(tmp_path):
    (tmp_path / 'gmod.py').write_text(AS_GEVENT_SCRIPT)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = run_patched(None, argv=[sys.executable, '-m', 'gevent_c.monkey', '--module',
                                  '--as-gevent', 'gmod'],
                      env={'PYTHONPATH': os.pathsep.join([root, str(tmp_path)])})
    assert 'alias True True' in out.stdout and 'patched True True True' in out.stdout


def test_python_m_gevent_monkey_under_the_alias_is_gevent_c_monkey(tmp_path):
    # GEVENT_C_AS_GEVENT=1 and a program started the gevent way
    script = tmp_path / 'gapp.py'
    script.write_text(AS_GEVENT_SCRIPT)
    env = as_gevent_env(tmp_path / 'hook')
    proc = subprocess.run([sys.executable, '-m', 'gevent.monkey', '--no-thread', str(script),
                           '-x'], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        'alias True True', 'patched True True False', 'greenlet True True',
        'versions 26.9.0 True', "argv ['-x']"]


@pytest.mark.parametrize('name', ['sys', 'builtins', 'contextvars'])
def test_patches_that_do_nothing_as_in_gevent(name):
    run_patched('''
        from gevent_c import monkey
        assert monkey.patch_%s() is None
        assert not monkey.is_anything_patched()
    ''' % name)


def test_events_work_without_zope():
    run_patched('''
        import sys
        sys.modules['zope'] = None          # as if zope.event/zope.interface were absent
        from gevent_c import events, monkey
        got = []
        events.subscribers.append(got.append)
        assert monkey.patch_all() is True
        assert any(isinstance(e, events.GeventDidPatchAllEvent) for e in got)
        assert events.IEventLoopBlocked.__doc__
        assert events.EventLoopBlocked.__implemented__ == (events.IEventLoopBlocked,)
    ''')
