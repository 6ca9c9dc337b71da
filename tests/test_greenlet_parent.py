"""parent attribute rules and cross-thread switching."""
import threading

import pytest

from gevent_c._greenlet import greenlet, getcurrent, error


def test_parent_can_be_changed_and_receives_the_result():
    main = getcurrent()
    got = []
    p = greenlet(lambda v: got.append(v) or main.switch("from-p"))
    g = greenlet(lambda: "res")
    g.parent = p
    assert g.parent is p
    assert g.switch() == "from-p"
    assert got == ["res"]


def test_cyclic_parent_chain_is_refused():
    a = greenlet()
    b = greenlet(parent=a)
    with pytest.raises(ValueError, match="cyclic parent chain"):
        a.parent = b
    with pytest.raises(ValueError, match="cyclic parent chain"):
        a.parent = a


def test_parent_must_be_a_greenlet():
    g = greenlet()
    with pytest.raises(TypeError):
        g.parent = 1
    with pytest.raises(TypeError):
        greenlet(parent="x")


def test_parent_type_error_has_greenlets_wording():
    main = getcurrent()
    g = greenlet(lambda: main.switch())
    for state in ("unstarted", "suspended"):
        for bad in (None, 1, "42", object()):
            with pytest.raises(TypeError) as exc:
                g.parent = bad
            assert str(exc.value) == ("GreenletChecker: Expected any type "
                                      "of greenlet, not " + type(bad).__name__)
        g.switch()
    g.switch()
    # the main greenlet refuses any parent before looking at its type
    with pytest.raises(AttributeError, match="main greenlet"):
        main.parent = 1


def test_parent_cannot_be_deleted():
    g = greenlet()
    with pytest.raises(AttributeError):
        del g.parent


def test_main_greenlet_parent_cannot_be_set():
    with pytest.raises(AttributeError):
        getcurrent().parent = greenlet()


def _in_thread(fn):
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as e:
            out["error"] = e
    t = threading.Thread(target=target)
    t.start()
    t.join(30)
    assert not t.is_alive()
    return out


def test_parent_on_other_thread_is_refused_for_started_greenlet():
    main = getcurrent()
    g = greenlet(lambda: main.switch())
    g.switch()
    other = _in_thread(getcurrent)["value"]
    with pytest.raises(ValueError):
        g.parent = other
    g.switch()


def test_switch_to_greenlet_of_another_thread_raises_error():
    main = getcurrent()
    g = greenlet(lambda: main.switch())
    g.switch()
    out = _in_thread(lambda: g.switch())
    assert isinstance(out["error"], error)
    assert "different thread" in str(out["error"])
    g.switch()


def test_switch_to_greenlet_of_exited_thread_raises_error():
    holder = {}

    def make():
        main = getcurrent()
        g = greenlet(lambda: main.switch())
        g.switch()
        holder["g"] = g
        holder["main"] = main
    _in_thread(make)
    with pytest.raises(error, match="exited"):
        holder["g"].switch()
    assert holder["g"].dead
    assert holder["main"].dead


def test_each_thread_has_its_own_main_greenlet():
    mine = getcurrent()
    other = _in_thread(lambda: (getcurrent(), getcurrent().parent))["value"]
    assert other[0] is not mine and other[1] is None


def test_greenlets_run_independently_in_two_threads():
    def work():
        main = getcurrent()
        out = []
        gs = [greenlet(lambda i=i: [out.append((i, n)) or main.switch() for n in range(100)])
              for i in range(5)]
        for _ in range(101):
            for g in gs:
                g.switch()
        return len(out)
    results = []
    ts = [threading.Thread(target=lambda: results.append(work())) for _ in range(2)]
    for t in ts:
        t.start()
    results.append(work())
    for t in ts:
        t.join(60)
    assert results == [500, 500, 500]


@pytest.mark.timeout(60)
def test_many_threads_dropping_each_others_greenlets():
    import subprocess
    import sys
    code = r"""
import threading, gc
from gevent_c._greenlet import greenlet, getcurrent
killed = []
lock = threading.Lock()
shared = []
def worker(n):
    main = getcurrent()
    def run():
        try:
            main.switch()
        finally:
            with lock:
                killed.append(1)
    for i in range(n):
        g = greenlet(run)
        g.switch()
        with lock:
            shared.append(g)       # another thread may drop the last ref
        del g
        with lock:
            dropped = shared.pop(0) if len(shared) > 20 else None
        del dropped                # killed here, or queued for its thread
        getcurrent()               # drain kills queued for this thread
ts = [threading.Thread(target=worker, args=(2000,)) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
shared.clear()
gc.collect()
print("ok", len(killed) <= 8000)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["ok", "True"]


@pytest.mark.timeout(60)
def test_fork_inside_a_greenlet_keeps_both_processes_working():
    import os
    import subprocess
    import sys
    code = r"""
import os
from gevent_c._greenlet import greenlet, getcurrent
main = getcurrent()
def counter():
    n = 0
    while True:
        n += 1
        main.switch(n)
c = greenlet(counter)
c.switch()
def forker():
    pid = os.fork()
    return pid
pid = greenlet(forker).switch()
vals = [c.switch() for _ in range(3)]
if pid == 0:
    os._exit(0 if vals == [2, 3, 4] else 3)
_, status = os.waitpid(pid, 0)
print(vals, os.WEXITSTATUS(status))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[2, 3, 4] 0"


def _reparenting_subclass(new_parent):
    class G(greenlet):
        def __getattribute__(self, name):
            if name == "run":
                self.parent = new_parent
            return greenlet.__getattribute__(self, name)
    return G(lambda: "must not run here")


def test_run_lookup_reparenting_into_an_exited_thread_raises_error():
    finished = _in_thread(lambda: greenlet(lambda: None).switch() or
                          getcurrent())["value"]
    g = _reparenting_subclass(finished)
    with pytest.raises(error) as exc:
        g.switch()
    assert str(exc.value) == ("cannot switch to a different thread (which "
                              "happens to have exited)")
    assert not g.dead and not g


def test_run_lookup_reparenting_into_a_running_thread_raises_error():
    ready, stop, box = threading.Event(), threading.Event(), {}

    def park():
        box["main"] = getcurrent()
        ready.set()
        stop.wait(30)
    t = threading.Thread(target=park)
    t.start()
    try:
        ready.wait(30)
        g = _reparenting_subclass(box["main"])
        with pytest.raises(error) as exc:
            g.switch()
        text = str(exc.value)
        assert text.startswith("Cannot switch to a different thread")
        assert "Current:" in text and "Expected:" in text
    finally:
        stop.set()
        t.join(30)
