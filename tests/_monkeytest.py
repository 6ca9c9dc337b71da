"""Run a monkey-patching scenario in a fresh interpreter (patching is process-wide)."""
import os
import subprocess
import sys
import textwrap

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
