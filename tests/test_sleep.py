"""sleep: sleep(0) yields to every ready greenlet, sleep(s) blocks only the caller."""
import pytest

from _hubtest import clean_hub, lib, gc_lib  # noqa: F401 -- fixtures


def test_sleep_zero_lets_every_ready_greenlet_run_once(lib):
    order = []

    def worker(name):
        order.append(name)
        lib.top.sleep(0)
        order.append(name + '2')

    for name in 'abc':
        lib.top.spawn(worker, name)
    lib.top.sleep(0)
    assert order == ['a', 'b', 'c']
    lib.top.sleep(0)
    assert order == ['a', 'b', 'c', 'a2', 'b2', 'c2']


class _TimerRecorder:
    """Delegates to a loop, recording timer() calls."""

    def __init__(self, loop):
        self.__dict__.update(_loop=loop, timers=[])

    def timer(self, *args, **kwargs):
        self.timers.append(args)
        return self._loop.timer(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._loop, name)

    def __setattr__(self, name, value):
        setattr(self._loop, name, value)


def test_sleep_zero_uses_no_timer_but_sleep_positive_does(lib):
    hub = lib.hub.get_hub()
    real = hub.loop
    recorder = hub.loop = _TimerRecorder(real)
    try:
        lib.top.sleep(0)
        assert recorder.timers == []
        lib.top.sleep(0.001)
        assert len(recorder.timers) == 1
    finally:
        hub.loop = real


def test_sleep_blocks_only_the_caller(lib):
    order = []

    def sleeper():
        lib.top.sleep(0.02)
        order.append('sleeper')

    def busy():
        order.append('busy')

    lib.top.spawn(sleeper)
    lib.top.spawn(busy)
    lib.top.sleep(0)
    assert order == ['busy']
    lib.top.sleep(0.05)
    assert order == ['busy', 'sleeper']


def test_shorter_sleeps_wake_first(lib):
    order = []
    for delay in (0.03, 0.01, 0.02):
        lib.top.spawn(lambda d=delay: (lib.top.sleep(d), order.append(d)))
    lib.top.sleep(0.06)
    assert order == [0.01, 0.02, 0.03]


def test_negative_sleep_is_treated_as_zero(lib):
    order = []
    lib.top.spawn(order.append, 'other')
    lib.top.sleep(-5)
    assert order == ['other']


def test_sleep_rejects_non_numbers(lib):
    with pytest.raises(TypeError):
        lib.top.sleep('1')


def test_unreferenced_sleep_ends_with_loop_exit(lib):
    # In a fresh process: watchers other test modules leave on the default
    # loop would keep it alive.
    import subprocess
    import sys
    code = ('import {0}, {0}.exceptions\n'
            'try:\n'
            '    {0}.sleep(10, ref=False)\n'
            'except {0}.exceptions.LoopExit as ex:\n'
            '    print("LoopExit", ex)\n').format(lib.name)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith('LoopExit This operation would block forever'), out


def test_kill_while_sleeping(lib):
    g = lib.top.spawn(lib.top.sleep, 10)
    lib.top.sleep(0)
    g.kill()
    assert g.dead and isinstance(g.value, lib.top.GreenletExit)


def test_sleep_in_the_hub_raises_blocking_switch_out_error(lib):
    caught = []

    def cb():
        try:
            lib.top.sleep(0)
        except lib.exceptions.BlockingSwitchOutError:
            caught.append(True)

    lib.hub.get_hub().loop.run_callback(cb)
    lib.top.sleep(0.001)
    assert caught == [True]
