"""gevent_c is typed (PEP 561): py.typed and .pyi stubs for the public API.

- ``mypy --strict`` accepts the stubs, examples/ and tests/typed/usage*.py;
- it reports exactly the deliberate errors of tests/typed/errors.py, so the
  stubs carry real types, not Any;
- ``mypy.stubtest`` finds the stubs consistent with the modules at run time
  (differences that are meant are listed in tests/typed/stubtest_allowlist.txt);
- the typed usage files also run, and a build ships py.typed and the stubs.

mypy is in the test dependency group; without it the mypy tests skip and
say so.
"""
import ast
import glob
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPED = os.path.join(ROOT, 'tests', 'typed')
HAVE_MYPY = importlib.util.find_spec('mypy') is not None
# gevent_c.structured and gevent_c.blocking are stubbed; until their modules
# are on this branch, stubtest is told they are missing
HAVE_STRUCTURED = os.path.exists(os.path.join(ROOT, 'gevent_c', 'structured.py'))

needs_mypy = pytest.mark.skipif(not HAVE_MYPY, reason='mypy is not installed '
                                '(pip install --group test installs it)')


def stub_files():
    return sorted(os.path.relpath(p, ROOT) for p in
                  glob.glob(os.path.join(ROOT, 'gevent_c', '**', '*.pyi'), recursive=True))


def run_mypy(cache_dir, *files):
    # cwd=ROOT: mypy finds gevent_c (stubs first) in the current directory;
    # no config file, so only the flags below apply
    cmd = [sys.executable, '-m', 'mypy', '--strict', '--config-file', os.devnull,
           '--cache-dir', str(cache_dir), '--no-color-output', '--no-error-summary',
           '--show-error-codes', '--python-version', '%d.%d' % sys.version_info[:2]]
    env = dict(os.environ)
    env.pop('MYPYPATH', None)
    return subprocess.run(cmd + list(files), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope='module')
def mypy_cache(tmp_path_factory):
    # shared by the module's mypy runs: the stdlib's stubs are analysed once
    return tmp_path_factory.mktemp('mypy_cache')


@needs_mypy
@pytest.mark.timeout(120)
def test_mypy_strict_accepts_stubs_examples_and_typed_usage(mypy_cache):
    files = stub_files() + sorted(glob.glob('examples/*.py', root_dir=ROOT)) + [
        'tests/typed/usage.py', 'tests/typed/usage_structured.py']
    assert 'gevent_c/__init__.pyi' in files and 'gevent_c/monkey/__init__.pyi' in files
    proc = run_mypy(mypy_cache, *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == '', proc.stdout


@needs_mypy
@pytest.mark.timeout(120)
def test_mypy_strict_reports_exactly_the_deliberate_errors(mypy_cache):
    path = os.path.join(TYPED, 'errors.py')
    expected = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            match = re.search(r'# E: ([a-z-]+)$', line)
            if match:
                expected[lineno] = match.group(1)
    assert len(expected) >= 15
    proc = run_mypy(mypy_cache, 'tests/typed/errors.py')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    reported = {}
    for line in proc.stdout.splitlines():
        match = re.match(r'tests/typed/errors\.py:(\d+): error: .*\[([a-z-]+)\]$', line)
        if match:
            reported[int(match.group(1))] = match.group(2)
        else:
            assert ': note: ' in line, line  # errors only in errors.py, nowhere else
    assert reported == expected, proc.stdout


@needs_mypy
@pytest.mark.timeout(120)
def test_stubs_agree_with_the_modules_at_run_time(tmp_path):
    config = tmp_path / 'stubtest.ini'
    # stubtest builds every gevent_c module; those without a stub are
    # compared with themselves, and their own mypy errors are not the
    # question here (test_mypy_strict_* check the stubs)
    config.write_text('[mypy]\n'
                      '[mypy-gevent_c.*]\nignore_errors = True\n'
                      '[mypy-gunicorn.*,psutil.*,zope.*]\nignore_missing_imports = True\n')
    allowlist = tmp_path / 'allowlist.txt'
    with open(os.path.join(TYPED, 'stubtest_allowlist.txt')) as f:
        lines = f.read()
    if not HAVE_STRUCTURED:
        lines += '\ngevent_c\\.__all__\ngevent_c\\.(structured|blocking)\n'
    allowlist.write_text(lines)
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop('MYPYPATH', None)
    proc = subprocess.run(
        [sys.executable, '-m', 'mypy.stubtest', '--concise', '--mypy-config-file', str(config),
         '--allowlist', str(allowlist), '--ignore-unused-allowlist', 'gevent_c'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.timeout(90)
@pytest.mark.parametrize('name', [
    'usage.py',
    pytest.param('usage_structured.py', marks=pytest.mark.skipif(
        not HAVE_STRUCTURED, reason='gevent_c.structured is not on this branch yet')),
])
def test_typed_usage_runs(name):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, os.path.join(TYPED, name)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith(name[:-3] + ' ok'), proc.stdout


def test_generic_classes_are_subscriptable_at_run_time():
    from gevent_c.event import AsyncResult
    from gevent_c.greenlet import Greenlet
    from gevent_c.queue import Channel, JoinableQueue, Queue
    for cls in (Greenlet, AsyncResult, Queue, JoinableQueue, Channel):
        alias = cls[int]
        assert alias.__origin__ is cls and alias.__args__ == (int,)

    class Doubler(Greenlet[int]):
        def _run(self):
            return 2

    assert Doubler.__mro__[1] is Greenlet
    g = Doubler()
    g.start()
    assert g.get() == 2


def test_typing_costs_nothing_at_import_time():
    """Types live in the .pyi files: no gevent_c module imports typing or
    typing_extensions at run time (only under ``if TYPE_CHECKING:``), and
    importing the package and its public modules loads no .pyi."""
    offenders = []
    for path in glob.glob(os.path.join(ROOT, 'gevent_c', '**', '*.py'), recursive=True):
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        guarded = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and 'TYPE_CHECKING' in ast.unparse(node.test):
                guarded.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or '']
            else:
                continue
            if any(n.split('.')[0] in ('typing', 'typing_extensions') for n in names):
                offenders.append('%s:%d' % (os.path.relpath(path, ROOT), node.lineno))
    assert offenders == []
    code = (
        'import sys\n'
        'import gevent_c, gevent_c.pool, gevent_c.queue, gevent_c.event, gevent_c.lock, '
        'gevent_c.server, gevent_c.pywsgi, gevent_c.threadpool, gevent_c.monkey\n'
        'assert not [m for m in sys.modules.values() '
        'if (getattr(m, "__file__", None) or "").endswith(".pyi")]\n'
        'print("ok")\n')
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stdout + proc.stderr


@pytest.mark.timeout(60)
def test_build_ships_py_typed_and_every_stub(tmp_path):
    """What setuptools copies into a wheel (build_py: the package data of
    pyproject.toml) includes py.typed and every .pyi, subpackages too."""
    out = tmp_path / 'lib'
    proc = subprocess.run([sys.executable, 'setup.py', '-q', 'build_py', '-d', str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    shipped = {os.path.relpath(p, out) for p in
               glob.glob(str(out / 'gevent_c' / '**' / '*'), recursive=True)}
    wanted = set(stub_files()) | {'gevent_c/py.typed'}
    assert len(wanted) > 30
    assert wanted <= shipped, sorted(wanted - shipped)
