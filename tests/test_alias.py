"""gevent_c.install_as_gevent(): gevent and greenlet names for gevent_c.

Each scenario runs in its own interpreter: the switch changes sys.modules.
"""
import os

import pytest

from _isolated import run_isolated, run_python
from _monkeytest import as_gevent_env

pytestmark = pytest.mark.timeout(60)


def test_gevent_and_greenlet_names_give_gevent_c_objects():
    out = run_isolated('''
        import gevent_c, gevent_c.event, gevent_c.socket, gevent_c._greenlet
        gevent_c.install_as_gevent()
        import gevent, gevent.event, gevent.socket
        from gevent.queue import Queue
        import greenlet
        from greenlet import getcurrent
        assert gevent.spawn is gevent_c.spawn and gevent.Greenlet is gevent_c.Greenlet
        assert gevent.event is gevent_c.event and gevent.socket is gevent_c.socket
        assert gevent.socket.socket is gevent_c.socket.socket
        assert Queue is gevent_c.queue.Queue
        assert greenlet.greenlet is gevent_c._greenlet.greenlet
        assert getcurrent() is gevent_c.getcurrent()
        g = gevent.spawn(lambda: greenlet.getcurrent())
        assert g.get() is g
        print(gevent.__version__, gevent.version_info >= (24, 10, 1),
              greenlet.__version__, gevent_c.__version__)
    ''')
    assert out.split() == ['26.9.0', 'True', '3.5.6', '0.1.0.dev0']


def test_submodules_imported_later_are_reachable_as_attributes():
    out = run_isolated('''
        import gevent_c
        gevent_c.install_as_gevent()
        import gevent
        import gevent_c.pool
        print(gevent.pool is gevent_c.pool, 'pool' in dir(gevent))
        import gevent.pool as alias_pool
        print(alias_pool is gevent_c.pool)
    ''')
    assert out.split() == ['True', 'True', 'True']


def test_private_gevent_modules_libraries_use_resolve():
    out = run_isolated('''
        import gevent_c
        gevent_c.install_as_gevent()
        from gevent._semaphore import Semaphore, BoundedSemaphore
        from greenlet._greenlet import greenlet
        import gevent_c.lock, gevent_c.core, gevent_c._greenlet
        print(Semaphore is gevent_c.lock.Semaphore, greenlet is gevent_c._greenlet.greenlet)
    ''')
    assert out.split() == ['True', 'True']


def test_a_module_gevent_c_lacks_is_a_clear_module_not_found_error():
    out = run_isolated('''
        import gevent_c
        gevent_c.install_as_gevent()
        try:
            import gevent.no_such_module
        except ModuleNotFoundError as exc:
            print(exc.name)
            print(exc)
    ''')
    name, message = out.splitlines()
    assert name == 'gevent.no_such_module'
    assert "gevent_c, standing in for gevent, has no 'gevent_c.no_such_module'" in message


def test_greenlets_c_api_capsule_is_not_offered_under_the_greenlet_name():
    out = run_isolated('''
        import gevent_c
        gevent_c.install_as_gevent()
        import greenlet
        print(hasattr(greenlet, '_C_API'), '_C_API' in dir(greenlet))
    ''')
    assert out.split() == ['False', 'False']


def test_refused_once_the_real_gevent_is_imported():
    proc = run_python('''
        import gevent
        import gevent_c
        gevent_c.install_as_gevent()
    ''')
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: gevent_c.install_as_gevent(): the real 'gevent' "
                           "is already imported")
    assert 'call install_as_gevent() before anything imports gevent or greenlet' in last


def test_calling_it_twice_is_harmless():
    out = run_isolated('''
        import sys, gevent_c
        gevent_c.install_as_gevent()
        import gevent
        gevent_c.install_as_gevent()
        import gevent as again
        print(again is gevent, sum(type(f).__name__ == '_AliasFinder' for f in sys.meta_path))
    ''')
    assert out.split() == ['True', '1']


def test_environment_variable_switches_it_on_at_start_up(tmp_path):
    env = as_gevent_env(tmp_path)
    out = run_isolated('''
        import sys
        assert 'gevent' in sys.modules      # before any import of ours
        import gevent, gevent_c, greenlet
        print(gevent.spawn is gevent_c.spawn, greenlet.getcurrent() is gevent_c.getcurrent())
    ''', env=env)
    assert out.split() == ['True', 'True']


def test_environment_variable_unset_changes_nothing():
    env = {k: v for k, v in os.environ.items() if k != 'GEVENT_C_AS_GEVENT'}
    out = run_isolated('''
        import sys
        print('gevent' in sys.modules, 'gevent_c' in sys.modules)
        import gevent
        print(gevent.__file__.endswith('gevent/__init__.py'))
    ''', env=env)
    assert out.split() == ['False', 'False', 'True']


def test_gevent_c_modules_keep_their_own_spec_under_the_second_name():
    out = run_isolated('''
        import sys, importlib, importlib.util
        import gevent_c
        gevent_c.install_as_gevent()
        import gevent.socket, gevent_c.socket
        print(gevent.socket is gevent_c.socket, gevent_c.socket.__spec__.name)
        print(importlib.reload(gevent_c.socket) is gevent_c.socket)
        spec = importlib.util.find_spec('gevent.backdoor')   # found, not imported
        print(spec.name, 'gevent_c.backdoor' in sys.modules, 'gevent.backdoor' in sys.modules)
    ''')
    assert out.splitlines() == ['True gevent_c.socket', 'True',
                                'gevent.backdoor False False']


def test_python_m_runs_a_gevent_module_of_gevent_c_as_main(tmp_path):
    # runpy's -m path (what ``python -m gevent.monkey script.py`` does once
    # the alias is on, e.g. with GEVENT_C_AS_GEVENT=1): gevent_c.monkey's
    # __main__ runs the script with the stdlib patched.
    script = tmp_path / 'script.py'
    script.write_text('import socket, gevent_c.socket, greenlet, gevent_c\n'
                      'print(__name__, socket.socket is gevent_c.socket.socket,\n'
                      '      greenlet.getcurrent() is gevent_c.getcurrent())\n')
    out = run_isolated('''
        import sys, runpy
        import gevent_c
        gevent_c.install_as_gevent()
        sys.argv = ['gevent.monkey', sys.argv[1]]
        runpy._run_module_as_main('gevent.monkey')
    ''', str(script))
    assert out.split() == ['__main__', 'True', 'True']


def test_python_m_of_a_module_gevent_c_lacks_is_a_clear_error():
    proc = run_python('''
        import runpy, gevent_c
        gevent_c.install_as_gevent()
        runpy._run_module_as_main('gevent.no_such_module')
    ''')
    assert proc.returncode == 1
    assert "gevent_c, standing in for gevent, has no 'gevent_c.no_such_module'" in proc.stderr


def test_switching_the_alias_on_stays_light():
    # GEVENT_C_AS_GEVENT=1 runs it in every interpreter of the environment:
    # it must not drag importlib.abc's imports (importlib.resources, pathlib,
    # tempfile, ...) in.
    out = run_isolated('''
        import sys
        import gevent_c
        gevent_c.install_as_gevent()
        import gevent, greenlet
        print(sorted(m for m in ('importlib.abc', 'importlib.resources', 'pathlib', 'tempfile')
                     if m in sys.modules))
    ''')
    assert out.strip() == '[]'
