"""Run a monkey-patching scenario in a fresh interpreter (patching is process-wide)."""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child_env(extra=None):
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    env.pop('PYTHONWARNINGS', None)
    env.update(extra or {})
    return env


def run_patched(code, timeout=60, args=(), env=None, check=True, argv=None):
    """Run *code* (dedented) in a new interpreter; return the CompletedProcess.

    With *check*, a non-zero exit fails with the child's output.
    """
    cmd = argv if argv is not None else [sys.executable, '-c', textwrap.dedent(code)]
    proc = subprocess.run(list(cmd) + list(args), capture_output=True, text=True,
                          timeout=timeout, env=child_env(env), cwd=ROOT)
    if check:
        assert proc.returncode == 0, 'rc=%s\nstdout:\n%s\nstderr:\n%s' % (
            proc.returncode, proc.stdout, proc.stderr)
    return proc


def as_gevent_env(folder, extra=None, path=()):
    """Environment for a child process that runs with GEVENT_C_AS_GEVENT=1.

    The start-up hook is a .pth file, which site.py runs only from a site
    directory: a wheel install or ``make test``'s venv has it, a venv with
    the checkout on PYTHONPATH does not. So *folder* gets a sitecustomize
    that adds a site directory holding the package's own hook file; where the
    hook is installed as well, the second run of it changes nothing. *path*
    is put on PYTHONPATH after the checkout.
    """
    folder = os.fspath(folder)
    site_dir = os.path.join(folder, 'site')
    os.makedirs(site_dir, exist_ok=True)
    shutil.copyfile(os.path.join(ROOT, 'gevent_c', '_as_gevent.pth'),
                    os.path.join(site_dir, 'gevent_c-as-gevent.pth'))
    with open(os.path.join(folder, 'sitecustomize.py'), 'w') as f:
        f.write('import site\nsite.addsitedir(%r)\n' % site_dir)
    env = child_env(extra)
    env['GEVENT_C_AS_GEVENT'] = '1'
    env['PYTHONPATH'] = os.pathsep.join([folder, ROOT] + [os.fspath(p) for p in path]
                                        + [p for p in os.environ.get('PYTHONPATH', '').split(
                                            os.pathsep) if p])
    return env


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server():
    """A redis-server on a free 127.0.0.1 port with its data in a temp dir,
    stopped at the end; gives the port. Skips without redis-server or redis-py."""
    binary = shutil.which('redis-server')
    if binary is None:
        pytest.skip('redis-server is not installed (apt-get install redis-server)')
    pytest.importorskip('redis')
    folder = tempfile.mkdtemp(prefix='gevc-redis-')
    port = free_port()
    proc = subprocess.Popen([binary, '--bind', '127.0.0.1', '--port', str(port), '--dir', folder,
                             '--save', '', '--appendonly', 'no', '--protected-mode', 'yes',
                             '--maxclients', '1000'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=1) as s:
                    s.sendall(b'PING\r\n')
                    if s.recv(16).startswith(b'+PONG'):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail('redis-server did not start')
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
