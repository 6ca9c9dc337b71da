"""Run a test scenario in a fresh interpreter, for C paths that could crash.

A segfault there fails the test with the child's stderr instead of killing
the whole pytest run. ``dev=True`` adds ``-X dev`` (freed memory is
poisoned, so a use-after-free shows).
"""
import subprocess
import sys
import textwrap


def run_isolated(code, dev=False, env=None, timeout=60):
    """Run *code* (dedented) with this interpreter; return its stdout."""
    argv = [sys.executable] + (['-X', 'dev'] if dev else []) + ['-c', textwrap.dedent(code)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
