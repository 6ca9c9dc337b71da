"""gevent_c.core: module API, loop creation, running, fork and Ctrl-C."""
import threading

import pytest

from _isolated import run_python as run_script
from gevent_c import core
from gevent import core as gcore




# ---- module -----------------------------------------------------------

def test_versions_name_libev_4_33():
    assert core.get_version() == "libev-4.33"
    assert core.get_header_version() == "libev-4.33"


def test_backend_lists_contain_epoll_poll_select():
    for name in ("epoll", "poll", "select"):
        assert name in core.supported_backends()
    assert set(core.recommended_backends()) <= set(core.supported_backends())
    assert isinstance(core.embeddable_backends(), list)


def test_time_is_wall_clock():
    import time
    assert abs(core.time() - time.time()) < 5


def test_constants_match_gevent():
    names = ["NONE", "READ", "WRITE", "READWRITE", "TIMER", "SIGNAL", "CHILD",
             "STAT", "IDLE", "PREPARE", "CHECK", "FORK", "ASYNC", "CUSTOM",
             "ERROR", "MINPRI", "MAXPRI", "UNDEF", "EMBED", "CLEANUP",
             "PERIODIC", "BACKEND_EPOLL", "BACKEND_POLL", "BACKEND_SELECT",
             "BACKEND_KQUEUE", "BACKEND_PORT", "BACKEND_IOURING",
             "BACKEND_LINUXAIO"]
    for name in names:
        assert getattr(core, name) == getattr(gcore, name), name


def test_flag_helpers_agree_with_gevent():
    for value in ("epoll", "poll,select", ["select", "noenv"], " epoll , nosigmask",
                  None, 5, "forkcheck,signalfd,noinotify"):
        assert core._flags_to_int(value) == gcore._flags_to_int(value)
    for value in (0, 1, 7, 0xFFFF, core.EVFLAG_NOENV if hasattr(core, "EVFLAG_NOENV") else 0x1000000):
        assert core._flags_to_list(value) == gcore._flags_to_list(value)
    for value in (0, 1, 3, 0xFFFF, 0x80000000 | 1, 0x17c, -1 & 0xFFFFFFFF):
        as_int = value if value < 0x80000000 else value - 0x100000000
        assert core._events_to_str(as_int) == gcore._events_to_str(as_int)


def test_bad_flag_name_raises_value_error_naming_it():
    with pytest.raises(ValueError, match="'nosuch'"):
        core._flags_to_int("epoll,nosuch")
    with pytest.raises(ValueError, match="bogus"):
        core.loop("bogus", default=False)
    with pytest.raises(ValueError, match="bogus"):
        core.loop(["epoll", "bogus"], default=False)


def test_check_flags_rejects_what_gevent_rejects():
    for value in (0x1000, 0):
        ours = theirs = None
        try:
            core._check_flags(value)
        except ValueError as e:
            ours = str(e)
        try:
            gcore._check_flags(value)
        except ValueError as e:
            theirs = str(e)
        assert ours == theirs


# ---- loop creation ----------------------------------------------------

@pytest.mark.parametrize("flags,backend", [
    ("select", "select"), (["poll"], "poll"), (core.BACKEND_EPOLL, "epoll"),
    ("epoll,nosigmask", "epoll")])
def test_loop_flags_pick_the_backend(flags, backend):
    loop = core.loop(flags, default=False)
    try:
        assert loop.backend == backend
        assert loop.backend_int == getattr(core, "BACKEND_" + backend.upper())
        # no forkcheck: an after-fork hook re-arms loops, not a getpid() per iteration
        assert "noenv" in loop.origflags and "forkcheck" not in loop.origflags
        assert loop.origflags_int & 0x3000000 == 0x1000000
    finally:
        loop.destroy()


def test_new_loop_properties():
    loop = core.loop(default=False)
    try:
        assert loop.default is False
        assert loop.iteration == 0
        assert loop.depth == 0
        assert loop.pendingcnt == 0
        assert loop.activecnt == -1
        assert loop.fileno() == -1
        assert loop.approx_timer_resolution == 1e-5
        assert loop.MINPRI == core.MINPRI and core.loop.MAXPRI == core.MAXPRI
        assert loop.error_handler is None
        assert isinstance(loop.now(), float)
        loop.update_now()
        loop.update()
        loop.verify()
        assert "loop" in repr(loop)
    finally:
        loop.destroy()


def test_default_loop_is_shared_and_default():
    code = """
    import signal
    from gevent_c import core
    before = signal.getsignal(signal.SIGCHLD)
    a = core.loop()
    b = core.loop(default=True)
    assert a is b and a.default
    assert signal.getsignal(signal.SIGCHLD) == before
    c = core.loop(default=False)
    assert c is not a and not c.default
    print("ok")
    """
    res = run_script(code)
    assert res.stdout.strip() == "ok", res.stderr


def test_run_returns_when_nothing_is_referenced():
    loop = core.loop(default=False)
    loop.run()
    t = loop.timer(10)
    t.start(lambda: None)
    t.ref = False
    loop.run()       # the unref'd timer does not keep it running
    assert t.active
    t.stop()
    loop.destroy()


def test_run_nowait_and_once_return():
    loop = core.loop(default=False)
    t = loop.timer(10)
    t.start(lambda: None)
    loop.run(nowait=True)
    fired = []
    t2 = loop.timer(0)
    t2.start(fired.append, 1)
    loop.run(once=True)
    assert fired == [1]
    assert loop.iteration >= 2
    t.stop()
    loop.destroy()


def test_break_stops_run():
    loop = core.loop(default=False)
    t = loop.timer(0, 0.001)
    seen = []

    def tick():
        seen.append(loop.depth)
        if len(seen) == 3:
            loop.break_()
    t.start(tick)
    loop.run()
    assert seen == [1, 1, 1]
    t.stop()
    loop.destroy()


def test_ref_and_unref_balance_the_loop():
    loop = core.loop(default=False)
    loop.ref()
    t = loop.timer(0)
    t.start(loop.unref)
    loop.run()     # returns only because the callback dropped the extra ref
    loop.destroy()


def test_destroyed_loop_refuses_everything():
    loop = core.loop(default=False)
    t = loop.timer(1)
    loop.destroy()
    loop.destroy()   # twice is fine
    calls = [lambda: loop.run(), lambda: loop.timer(1), lambda: loop.io(0, 1),
             lambda: loop.idle(), lambda: loop.run_callback(print),
             lambda: loop.run_callback_threadsafe(print), lambda: t.start(print),
             lambda: loop.now(), lambda: loop.break_(), lambda: loop.ref()]
    for call in calls:
        with pytest.raises(ValueError, match="operation on destroyed loop"):
            call()
    t.stop()


def test_destroy_inside_run_is_deferred_until_run_returns():
    loop = core.loop(default=False)
    t = loop.timer(0)
    t.start(loop.destroy)
    loop.run()
    with pytest.raises(ValueError):
        loop.now()


def test_run_callback_threadsafe_wakes_a_blocked_loop():
    loop = core.loop(default=False)
    keep = loop.timer(60)
    keep.start(lambda: None)
    got = []

    def done(x):
        got.append(x)
        keep.stop()

    th = threading.Timer(0.05, loop.run_callback_threadsafe, (done, "hi"))
    th.start()
    loop.run()
    th.join()
    assert got == ["hi"]
    loop.destroy()


def test_other_threads_run_while_the_loop_blocks():
    loop = core.loop(default=False)
    t = loop.timer(0.2)
    t.start(lambda: None)
    counter = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter.append(1)
            if len(counter) > 1000:
                break
    th = threading.Thread(target=spin)
    th.start()
    loop.run()
    stop.set()
    th.join()
    assert len(counter) > 1
    loop.destroy()


@pytest.mark.timeout(30)
def test_reinit_after_fork_runs_fork_watchers():
    code = """
    import os
    from gevent_c import core
    loop = core.loop(default=False)
    seen = []
    f = loop.fork()
    f.start(seen.append, "fork")
    f.ref = False
    pid = os.fork()
    if pid == 0:
        loop.reinit()
        t = loop.timer(0.01)
        t.start(seen.append, "timer")
        loop.run()
        os._exit(0 if seen == ["fork", "timer"] else 3)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status))
    """
    res = run_script(code)
    assert res.stdout.strip() == "0", res.stderr


@pytest.mark.timeout(30)
@pytest.mark.parametrize("default", [True, False])
def test_loop_works_in_child_after_plain_fork_without_reinit(default):
    # The epoll set is shared with the parent until the backend is re-made:
    # the child's fork watcher must fire and its own io must be seen, and the
    # parent's loop must still see its io afterwards.
    code = """
    import os
    from gevent_c import core
    loop = core.loop("epoll", default=%r)
    r0, w0 = os.pipe()
    seen = []
    parent_io = loop.io(r0, 1)
    parent_io.start(lambda: (seen.append("parent"), os.read(r0, 1), parent_io.stop()))
    f = loop.fork()
    f.start(seen.append, "fork")
    f.ref = False
    loop.run(once=True, nowait=True)
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        parent_io.stop()
        r1, w1 = os.pipe()
        io = loop.io(r1, 1)
        io.start(lambda: (seen.append("io"), io.stop()))
        os.write(w1, b"x")
        loop.run()
        os.write(report_w, ",".join(seen).encode())
        os._exit(0)
    os.close(report_w)
    child = b""
    while True:
        data = os.read(report_r, 100)
        if not data:
            break
        child += data
    _, status = os.waitpid(pid, 0)
    os.write(w0, b"x")
    loop.run()
    print(child.decode(), os.waitstatus_to_exitcode(status), ",".join(seen))
    """ % default
    res = run_script(code)
    assert res.stdout.split() == ["fork,io", "0", "parent"], res.stderr


@pytest.mark.timeout(30)
@pytest.mark.parametrize("default", [True, False])
def test_sigint_during_blocked_run_raises_keyboard_interrupt(default):
    code = """
    import os, signal, threading, time
    from gevent_c import core
    loop = core.loop(default=%r)
    t = loop.timer(20)
    t.start(lambda: None)
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    try:
        loop.run()
    except KeyboardInterrupt:
        print("KeyboardInterrupt", time.monotonic() - start < 10)
    else:
        print("returned")
    """ % (default,)
    res = run_script(code, timeout=25)
    assert res.stdout.strip() == "KeyboardInterrupt True", res.stderr


@pytest.mark.timeout(30)
def test_sigint_with_many_callbacks_is_raised_by_run():
    code = """
    import os, signal
    from gevent_c import core
    loop = core.loop()
    n = [0]
    def again():
        n[0] += 1
        if n[0] == 100:
            os.kill(os.getpid(), signal.SIGINT)
        loop.run_callback(again)
    loop.run_callback(again)
    try:
        loop.run()
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    """
    res = run_script(code, timeout=25)
    assert res.stdout.strip() == "KeyboardInterrupt", res.stderr


def test_loop_is_collected_with_its_cycles():
    import gc
    import weakref
    loop = core.loop(default=False)
    loop.error_handler = loop      # a cycle through the loop
    t = loop.timer(1)
    t.start(lambda: t)             # inactive again after stop(): no self ref
    t.stop()
    ref = weakref.ref(loop)
    del loop, t
    gc.collect()
    assert ref() is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize("module", ["gevent_c", "gevent"])
def test_sigint_goes_to_the_error_handler_with_context_none(module):
    code = """
    import os, signal, threading
    from %s import core
    loop = core.loop()
    seen = []
    class Handler:
        def handle_error(self, context, type, value, tb):
            seen.append((context, type.__name__))
            loop.break_()
    loop.error_handler = Handler()
    t = loop.timer(20)
    t.start(lambda: None)
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    loop.run()
    print(seen)
    """ % module
    res = run_script(code, timeout=50)
    assert res.stdout.strip() == "[(None, 'KeyboardInterrupt')]", res.stderr


def test_direct_handle_error_of_system_error_raises():
    loop = core.loop(default=False)
    with pytest.raises(KeyboardInterrupt):
        loop.handle_error(None, KeyboardInterrupt, KeyboardInterrupt(), None)
    loop.destroy()


def test_running_a_loop_from_a_second_thread_raises_runtime_error():
    loop = core.loop(default=False)
    errors = []

    def from_thread():
        try:
            loop.run()
        except RuntimeError as exc:
            errors.append(str(exc))
        finally:
            loop.run_callback_threadsafe(keep.stop)
    keep = loop.timer(30)
    keep.start(lambda: None)
    starter = loop.timer(0)
    th = threading.Thread(target=from_thread)
    starter.start(th.start)
    loop.run()
    th.join()
    keep.stop()
    assert errors == ["the loop is already running in another thread"]
    loop.destroy()
