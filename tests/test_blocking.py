"""gevent_c.blocking: the watchdog that names the greenlet blocking a hub."""
import logging
import os
import re
import threading
import time

import pytest

import gevent_c
from gevent_c import blocking
from gevent_c import events
from tests._isolated import run_isolated

THRESHOLD = 0.05


def busy(seconds):
    """Hold the thread (and so its hub) without yielding."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def spawner_of_hog(seconds):
    return gevent_c.spawn(busy, seconds)


@pytest.fixture
def watched(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger='gevent_c.blocking')
    monkeypatch.setattr(blocking, 'REPORT_INTERVAL', 0.0)
    blocking.watch(threshold=THRESHOLD)
    yield caplog
    blocking.unwatch()


def reports(caplog, level=logging.WARNING, naming='in busy'):
    """The reports that show *naming* in the blocked stack. (On a loaded
    machine the OS may pause the process past the threshold anywhere: such
    reports name another place and are not counted.)"""
    return [r.getMessage() for r in caplog.records
            if r.name == 'gevent_c.blocking' and r.levelno == level
            and (naming is None or naming in r.getMessage())]


def settle():
    """Let the hub run until the watchdog has seen it run (the end of the
    incident), so that the next busy stretch is a new incident."""
    entry = blocking._watchdog.watched[id(gevent_c.get_hub())]
    deadline = time.monotonic() + 10
    gevent_c.sleep(0.01)
    while entry.reported and time.monotonic() < deadline:
        gevent_c.sleep(0.01)
    assert not entry.reported


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_a_busy_greenlet_is_named_with_where_it_was_spawned_and_its_stack(watched):
    hog = spawner_of_hog(0.4)
    hog.join()
    gevent_c.sleep(0.02)
    (report,) = reports(watched)
    assert "thread 'MainThread'" in report and 'has not run for' in report
    assert 'running: %r' % (hog,) in report
    spawned, now = report.split('spawned at:')[1].split('stack now:')
    assert 'spawner_of_hog' in spawned and 'greenlet.py' not in spawned.splitlines()[-1]
    assert 'in busy' in now and 'while time.monotonic() < end' in now
    deadline = time.monotonic() + 10
    while not reports(watched, logging.INFO, 'ran again after') and time.monotonic() < deadline:
        gevent_c.sleep(0.01)  # the watchdog sees the loop run at its next check
    assert reports(watched, logging.INFO, 'ran again after')


def test_an_idle_hub_is_not_reported(watched):
    blocking.watch(threshold=0.25)  # past any pause of a loaded machine
    gevent_c.sleep(0.6)
    event = gevent_c.event.Event()
    gevent_c.spawn_later(0.4, event.set)
    event.wait()
    assert reports(watched, naming=None) == []


def test_one_report_per_incident_and_the_rate_limit(watched, monkeypatch):
    busy(0.2)
    settle()
    busy(0.2)
    settle()
    assert len(reports(watched)) == 2
    monkeypatch.setattr(blocking, 'REPORT_INTERVAL', 3600.0)
    busy(0.2)
    settle()  # within the interval: counted, not reported
    assert len(reports(watched)) == 2
    monkeypatch.setattr(blocking, 'REPORT_INTERVAL', 0.0)
    busy(0.2)
    settle()
    assert len(reports(watched)) == 3
    assert re.search(r'\d+ more incidents? since the last report', reports(watched)[-1])


def test_a_blocking_call_in_the_main_greenlet_is_shown_where_it_is_made(watched):
    time.sleep(0.2)  # not cooperative: blocks the hub
    gevent_c.sleep(0.02)
    (report,) = reports(watched, naming='time.sleep(0.2)')
    assert 'a greenlet that started in' in report


def test_event_loop_blocked_is_notified(watched):
    seen = []
    events.subscribers.append(seen.append)
    try:
        hog = gevent_c.spawn(busy, 0.2)
        hog.join()
        gevent_c.sleep(0.02)
    finally:
        events.subscribers.remove(seen.append)
    (event,) = [e for e in seen if isinstance(e, events.EventLoopBlocked)
                and e.greenlet is not None]
    assert event.greenlet is hog and event.blocking_time >= THRESHOLD
    assert event.hub is gevent_c.get_hub() and 'running: ' in '\n'.join(event.info)


def test_a_hub_in_another_thread(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger='gevent_c.blocking')
    monkeypatch.setattr(blocking, 'REPORT_INTERVAL', 0.0)
    done = []

    def in_thread():
        hub = gevent_c.get_hub()
        blocking.watch(hub, THRESHOLD)
        try:
            gevent_c.sleep(0.01)
            gevent_c.spawn(busy, 0.2).join()
            gevent_c.sleep(0.02)
        finally:
            blocking.unwatch(hub)
            hub.destroy(destroy_loop=True)
        done.append(True)

    t = threading.Thread(target=in_thread, name='worker-thread')
    t.start()
    t.join(10)
    assert done
    (report,) = reports(caplog)
    assert "thread 'worker-thread'" in report and 'in busy' in report


def test_custom_report_and_unwatch_stop_the_thread():
    got = []
    blocking.watch(threshold=THRESHOLD, report=got.append)
    try:
        assert blocking.watched() == [gevent_c.get_hub()]
        busy(0.2)
        gevent_c.sleep(0.02)
    finally:
        blocking.unwatch()
    got = [text for text in got if 'in busy' in text]
    assert len(got) == 1 and 'has not run for' in got[0]
    assert blocking.watched() == []
    assert wait_for(lambda: blocking._watchdog.thread_ident is None)


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError):
        blocking.watch(threshold='soon')
    with pytest.raises(ValueError):
        blocking.watch(threshold=-1)
    with pytest.raises(ValueError):
        blocking.watch(threshold=0)
    with pytest.raises(TypeError):
        blocking.watch(threshold=True)
    with pytest.raises(TypeError):
        blocking.watch(threshold=1, report='log')
    assert blocking.watched() == []
    config = gevent_c.config
    saved = config.blocking_threshold
    try:
        with pytest.raises((TypeError, ValueError)):
            config.blocking_threshold = 'never'
        config.blocking_threshold = 'off'
        assert config.blocking_threshold is None
        config.blocking_threshold = '0.25'
        assert config.blocking_threshold == 0.25
    finally:
        config.blocking_threshold = saved


def test_the_environment_switches_it_on_for_every_hub():
    out = run_isolated('''
import logging, sys, time
logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format='%(name)s: %(message)s')
import gevent_c
def hog():
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
gevent_c.spawn(hog).join()
gevent_c.sleep(0.05)
''', env=dict(os.environ, GEVENT_C_BLOCKING_THRESHOLD='0.05'))
    assert 'gevent_c.blocking: the hub of' in out and 'in hog' in out
    out = run_isolated('''
import gevent_c, time
gevent_c.sleep(0)
time.sleep(0.2)
gevent_c.sleep(0)
from gevent_c import blocking
print('watched', blocking.watched())
''')
    assert 'watched []' in out and 'has not run' not in out


def test_a_forked_child_watches_its_hub_afresh():
    out = run_isolated('''
import logging, os, sys, time
logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format='%(message)s')
import gevent_c
from gevent_c import blocking
blocking.watch(threshold=0.05)
gevent_c.sleep(0.01)
pid = os.fork()
def child_hog():
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
if pid == 0:
    child_hog()
    gevent_c.sleep(0.05)
    sys.stdout.flush()
    os._exit(0)
while os.waitpid(pid, os.WNOHANG) == (0, 0):
    gevent_c.sleep(0.01)  # the parent does not block its hub
print('parent done')
''', env=dict(os.environ, PYTHONWARNINGS='ignore::DeprecationWarning'))
    assert 'has not run for' in out and 'parent done' in out
    assert 'in child_hog' in out
