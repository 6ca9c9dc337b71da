"""The examples a newcomer runs first (``make run``) keep working."""
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'examples')


def run_example(name):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.timeout(90)
def test_demo_serves_every_client_and_runs_every_step():
    out = run_example('demo.py')
    assert 'echo: 200 clients answered' in out
    for word in ('one', 'two', 'three', 'Linux'):
        assert '-> %s' % word in out
    assert 'timeout: sleep(10) cut short' in out
    assert 'dns: localhost is 127.0.0.1' in out
    assert 'done: 200 connections served' in out


@pytest.mark.timeout(90)
def test_core_tour_shows_every_watcher_and_ends_by_itself():
    out = run_example('core_tour.py')
    for step in ('run_callback: first queued, first run', 'timer: one-shot fired',
                 "io: right got the echo b'HELLO, LOOP'", 'signal: caught SIGUSR1',
                 'loop.run() returned: nothing left to wait for'):
        assert step in out


@pytest.mark.timeout(90)
def test_readme_example_runs_as_written():
    readme = os.path.join(os.path.dirname(EXAMPLES), 'README.rst')
    with open(readme) as f:
        text = f.read()
    start = text.index('This is a complete program')
    block = text[text.index('::\n\n', start) + 4:]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith('    '):
            break
        lines.append(line[4:])
    proc = subprocess.run([sys.executable, '-c', '\n'.join(lines)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '100 replies\n'


@pytest.mark.timeout(90)
def test_patched_urllib_runs_every_request_at_once_in_one_thread():
    out = run_example('patched_urllib.py')
    assert '100 of 100 requests answered' in out
    assert 'the server had 100 requests open at once' in out
