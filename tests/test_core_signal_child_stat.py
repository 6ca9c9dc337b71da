"""gevent_c.core signal, child, stat, async_, idle, prepare, check, fork watchers.

Signal and child watchers change process-wide signal dispositions, so those
scenarios run in a subprocess."""
import os
import signal
import threading

import pytest

from _isolated import run_python as run_script
from gevent_c import core




@pytest.fixture
def loop():
    lp = core.loop(default=False)
    yield lp
    lp.destroy()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("default", [True, False])
def test_signal_watcher_fires(default):
    code = """
    import os, signal
    from gevent_c import core
    loop = core.loop(default=%r)
    got = []
    w = loop.signal(signal.SIGUSR1)
    w.start(lambda: (got.append(w.signum), w.stop()))
    t = loop.timer(0.01)
    t.start(os.kill, os.getpid(), signal.SIGUSR1)
    loop.run()
    print(got == [signal.SIGUSR1])
    """ % (default,)
    res = run_script(code)
    assert res.stdout.strip() == "True", res.stderr


@pytest.mark.parametrize("signum", [0, -1, signal.NSIG, 10000])
def test_bad_signal_number_raises_value_error(loop, signum):
    with pytest.raises(ValueError, match="illegal signal number"):
        loop.signal(signum)


@pytest.mark.timeout(30)
def test_child_watcher_reports_exit_status():
    code = """
    import os
    from gevent_c import core
    loop = core.loop()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    got = []
    w = loop.child(pid)
    def exited():
        got.append((w.rpid, os.waitstatus_to_exitcode(w.rstatus)))
        w.stop()     # libev keeps child watchers active after an exit
    w.start(exited)
    loop.run()
    print(got == [(pid, 7)], w.active, w.pid == pid)
    """
    res = run_script(code)
    assert res.stdout.strip() == "True False True", res.stderr


def test_child_on_non_default_loop_raises_type_error(loop):
    with pytest.raises(TypeError, match="only available on the default loop"):
        loop.child(os.getpid())


def test_child_rpid_and_rstatus_are_settable():
    code = """
    from gevent_c import core
    w = core.loop().child(0)
    w.rpid = 5
    w.rstatus = 9
    print(w.rpid, w.rstatus)
    """
    res = run_script(code)
    assert res.stdout.strip() == "5 9", res.stderr


def test_stat_watcher_sees_a_change(loop, tmp_path):
    path = tmp_path / "watched"
    path.write_text("a")
    got = []
    w = loop.stat(str(path), 0.01)
    assert w.path == str(path)
    assert w.interval == 0.01
    assert w.attr is None and w.prev is None

    def changed():
        got.append((w.attr, w.prev))
        w.stop()
    w.start(changed)
    t = loop.timer(0.05)
    t.start(lambda: os.unlink(path))
    loop.run()
    attr, prev = got[0]
    assert attr is None
    assert isinstance(prev, os.stat_result) and prev.st_size == 1


def test_stat_of_existing_path_has_attr(loop, tmp_path):
    path = tmp_path / "f"
    path.write_text("abc")
    w = loop.stat(os.fsencode(path))
    w.start(lambda: None)
    assert w.attr.st_size == 3
    assert w.attr.st_mode == os.stat(path).st_mode
    w.stop()


def test_stat_path_paths_and_interval(loop, tmp_path):
    path = str(tmp_path / "f")
    w = loop.stat(path, interval=-1)
    assert w.path == path
    assert w._paths == os.fsencode(path)   # gevent's bytes spelling
    assert w.interval == -1
    w.close()


def test_async_send_from_another_thread(loop):
    got = []
    w = loop.async_()
    w.start(lambda: (got.append("woken"), w.stop()))
    th = threading.Timer(0.02, w.send)
    th.start()
    loop.run()
    th.join()
    assert got == ["woken"]


def test_async_pending_and_send_ignoring_arg(loop):
    w = getattr(loop, "async")()
    assert type(w) is core.async_ and core.async_ is getattr(core, "async")
    w.start(lambda: w.stop())
    assert not w.pending
    w.send_ignoring_arg("ignored")
    assert w.pending
    loop.run()
    assert not w.pending


def test_idle_prepare_check_fire_in_iteration_order(loop):
    out = []
    p = loop.prepare()
    c = loop.check()
    i = loop.idle()
    p.start(out.append, "prepare")
    c.start(out.append, "check")

    def idle_cb():
        out.append("idle")
        i.stop()
        p.stop()
        c.stop()
    i.start(idle_cb)
    loop.run()
    assert out[:3] == ["prepare", "check", "idle"]


def test_idle_keeps_the_loop_spinning(loop):
    n = []
    i = loop.idle()

    def cb():
        n.append(1)
        if len(n) == 100:
            i.stop()
    i.start(cb)
    loop.run()
    assert len(n) == 100
    assert loop.iteration >= 100


def test_fork_watcher_fires_after_reinit(loop):
    got = []
    f = loop.fork()
    f.start(lambda: (got.append("fork"), f.stop()))
    loop.reinit()
    loop.run()
    assert got == ["fork"]


def test_watcher_types_are_constructible_directly(loop):
    assert core.timer(loop, 1).loop is loop
    assert core.idle(loop, ref=False).ref is False
    assert core.prepare(loop, priority=1).priority == 1
    with pytest.raises(TypeError):
        core.timer(None, 1)
    with pytest.raises(TypeError):
        core.watcher()


@pytest.mark.timeout(30)
def test_python_signal_handler_is_back_after_the_watcher_stops():
    code = """
    import os, signal
    from gevent_c import core
    loop = core.loop()
    w = loop.signal(signal.SIGINT)
    w.start(lambda: w.stop())
    t = loop.timer(0.01)
    t.start(os.kill, os.getpid(), signal.SIGINT)
    loop.run()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        import time
        for _ in range(100):
            time.sleep(0.01)
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    """
    res = run_script(code)
    assert res.stdout.strip() == "KeyboardInterrupt", (res.returncode, res.stderr)


def test_signal_watched_by_another_loop_raises_value_error():
    code = """
    import signal
    from gevent_c import core
    a = core.loop(default=False)
    b = core.loop(default=False)
    wa = a.signal(signal.SIGUSR2)
    wa.start(print)
    wa2 = a.signal(signal.SIGUSR2)
    wa2.start(print)              # same loop: fine
    wb = b.signal(signal.SIGUSR2)
    try:
        wb.start(print)
    except ValueError as exc:
        print("ValueError", "another loop" in str(exc))
    wa.stop()
    wa2.stop()
    wb.start(print)               # free again
    print(wb.active)
    wb.stop()
    """
    res = run_script(code)
    assert res.stdout.split() == ["ValueError", "True", "True"], res.stderr


def test_destroying_a_loop_releases_its_signals():
    code = """
    import os, signal
    from gevent_c import core
    a = core.loop(default=False)
    w = a.signal(signal.SIGUSR2)
    w.start(print)
    a.destroy()
    print(w.active, signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL)
    b = core.loop(default=False)
    got = []
    wb = b.signal(signal.SIGUSR2)
    wb.start(lambda: (got.append(1), wb.stop()))
    t = b.timer(0.01)
    t.start(os.kill, os.getpid(), signal.SIGUSR2)
    b.run()
    print(got)
    """
    res = run_script(code)
    assert res.stdout.split() == ["False", "True", "[1]"], res.stderr
