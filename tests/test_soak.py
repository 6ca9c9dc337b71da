"""The soak (tools/soak.py, make soak) in a short run: 3 seconds of mixed
load (sleeps, Event and Queue hand-offs, Timeouts, kills, loopback TCP round
trips), then RSS, gc objects, greenlets, watchers and descriptors back
within its bounds."""
import json
import os
import subprocess
import sys

import pytest

SOAK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    'tools', 'soak.py')


@pytest.mark.no_sanitizer('RSS growth: the sanitizer keeps freed memory in quarantine')
@pytest.mark.timeout(120)
def test_short_soak_leaves_nothing_behind():
    proc = subprocess.run([sys.executable, SOAK, '--seconds', '3', '--greenlets', '3000',
                           '--json'], capture_output=True, text=True, timeout=110)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert report['rounds'] >= 1
    assert set(report['kinds']) == {'sleeper', 'event_pair', 'queue_pair', 'timeout',
                                    'killed', 'round_trip'}
    for key in ('greenlets', 'watchers', 'fds'):
        assert report['delta'][key] <= 0, report
    assert report['delta']['gc_objects'] < report['bounds']['gc_objects'], report
    assert report['ok'], report
