"""Run a test scenario in a fresh interpreter, for C paths that could crash.

A segfault there fails the test with the child's stderr instead of killing
the whole pytest run. ``dev=True`` adds ``-X dev`` (freed memory is
poisoned, so a use-after-free shows).
"""
import subprocess
import sys
import textwrap

import pytest


def run_python(code, *args, dev=False, env=None, timeout=60):
    """Run *code* (dedented) with this interpreter and the command-line
    arguments *args*; return the CompletedProcess (text stdout/stderr)."""
    argv = [sys.executable] + (['-X', 'dev'] if dev else []) + ['-c', textwrap.dedent(code)]
    return subprocess.run(argv + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def run_isolated(code, *args, dev=False, env=None, timeout=60):
    """Run *code* as run_python does, check that it exits with 0 and return
    its stdout."""
    proc = run_python(code, *args, dev=dev, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# pytest-timeout's watchdog (timeout_method = "thread") makes every test
# process multi-threaded, so on CPython 3.12+ each fork in it warns that the
# child may deadlock. Tests whose point is forking carry this mark: the
# warning is expected there, and the test checks that the child works.
forks_beside_threads = pytest.mark.filterwarnings(
    r'ignore:This process \(pid=\d+\) is multi-threaded, use of fork:DeprecationWarning')
