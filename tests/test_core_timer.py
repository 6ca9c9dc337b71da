"""gevent_c.core timers: ordering, repeat, again, update and the self reference."""
import sys

import pytest

from gevent_c import core
from gevent import core as gcore


@pytest.fixture
def loop():
    lp = core.loop(default=False)
    yield lp
    lp.destroy()


def test_timers_fire_in_deadline_order(loop):
    out = []
    for delay in (0.03, 0.01, 0.02, 0.0):
        loop.timer(delay).start(out.append, delay)
    loop.run()
    assert out == [0.0, 0.01, 0.02, 0.03]


def test_timer_with_equal_deadlines_fires_in_start_order(loop):
    out = []
    timers = [loop.timer(0.01) for _ in range(100)]
    loop.update_now()
    for i, t in enumerate(timers):
        t.start(out.append, i, update=False)
    assert len({t.at for t in timers}) == 1
    loop.run()
    assert out == list(range(100))


def test_equal_deadline_timers_created_in_one_go_keep_start_order(loop):
    out = []
    for i in range(50):
        loop.timer(0).start(out.append, i)
    loop.run()
    assert out == list(range(50))


def test_higher_priority_timer_fires_first_on_a_tie(loop):
    out = []
    low = loop.timer(0, priority=core.MINPRI)
    high = loop.timer(0, priority=core.MAXPRI)
    low.start(out.append, "low")
    high.start(out.append, "high")
    loop.run()
    assert out == ["high", "low"]


def test_timer_stopped_by_an_earlier_timer_of_the_batch_does_not_fire(loop):
    out = []
    a = loop.timer(0)
    b = loop.timer(0)

    def first():
        out.append("a")
        b.stop()
    a.start(first)
    b.start(out.append, "b")
    loop.run()
    assert out == ["a"]
    assert not b.pending and not b.active


def test_negative_after_fires_at_once(loop):
    out = []
    loop.timer(-5).start(out.append, "neg")
    loop.timer(0.01).start(out.append, "later")
    loop.run()
    assert out == ["neg", "later"]


def test_negative_repeat_raises_value_error(loop):
    with pytest.raises(ValueError, match="repeat must be positive or zero"):
        loop.timer(1, -1)
    with pytest.raises(ValueError):
        gcore.loop(default=False).timer(1, -1)


def test_repeating_timer_fires_until_stopped(loop):
    out = []
    t = loop.timer(0, 0.001)

    def tick():
        out.append(1)
        if len(out) == 5:
            t.stop()
    t.start(tick)
    assert t.repeat == 0.001
    loop.run()
    assert len(out) == 5
    assert not t.active


def test_one_shot_timer_drops_its_self_reference_after_firing(loop):
    t = loop.timer(0)
    base = sys.getrefcount(t)
    t.start(lambda: None)
    assert sys.getrefcount(t) == base + 1
    assert t.active
    loop.run()
    assert not t.active and not t.pending
    assert sys.getrefcount(t) == base
    assert t.callback is None and t.args is None


def test_unreferenced_active_timer_still_fires(loop):
    out = []
    loop.timer(0.001).start(out.append, "kept alive by itself")
    loop.run()
    assert out == ["kept alive by itself"]


def test_again_restarts_a_repeating_timer(loop):
    out = []
    t = loop.timer(10, 0.001)
    t.start(out.append, "never")
    t.again(lambda: (out.append("again"), t.stop()))
    loop.run()
    assert out == ["again"]


def test_again_on_non_repeating_timer_stops_it(loop):
    t = loop.timer(1)
    t.again(lambda: None)
    assert not t.active
    assert t.callback is None


def test_update_true_refreshes_loop_time(loop):
    import time
    t = loop.timer(0)
    before = loop.now()
    time.sleep(0.01)
    t.start(lambda: None, update=True)
    assert loop.now() > before
    t.stop()


def test_update_default_is_false_outside_callbacks(loop):
    import time
    t = loop.timer(0)
    before = loop.now()
    time.sleep(0.01)
    t.start(lambda: None)
    assert loop.now() == before
    t.stop()


def test_update_default_refreshes_inside_run_callback(loop):
    import time
    seen = []

    def cb():
        before = loop.now()
        time.sleep(0.01)
        t = loop.timer(0)
        t.start(lambda: None)
        seen.append(loop.now() > before)
    loop.run_callback(cb)
    loop.run()
    assert seen == [True]


def test_at_is_after_added_to_loop_time(loop):
    t = loop.timer(5)
    t.start(lambda: None)
    assert t.at > 0
    t.stop()


def test_timer_behaviour_matches_gevent():
    def scenario(mod):
        lp = mod.loop(default=False)
        out = []
        t1 = lp.timer(0.002)
        t2 = lp.timer(0.001, 0.001)

        def rep():
            out.append(("rep", t2.active, t2.pending))
            if len([o for o in out if o[0] == "rep"]) == 3:
                t2.stop()
        t1.start(lambda *a: out.append(("one", a, t1.active)), 1, 2)
        t2.start(rep)
        before = (t1.active, t1.pending, t1.args, t1.ref, t1.priority)
        lp.run()
        after = (t1.active, t1.pending, t1.args, t1.callback, t2.args)
        lp.destroy()
        return before, sorted(out, key=str), after
    assert scenario(core) == scenario(gcore)


def test_timer_repr_names_the_type(loop):
    t = loop.timer(1)
    assert "timer" in repr(t)
    t.start(print)
    assert "active" in repr(t)
    t.stop()


def test_timer_as_context_manager_stops(loop):
    with loop.timer(1) as t:
        t.start(lambda: None)
        assert t.active
    assert not t.active


def test_start_stop_start_keeps_callback_and_args_straight():
    # start(callback) of a stopped watcher takes a shortcut: what it stores
    # must match the general path's
    lp = core.loop(default=False)
    t = lp.timer(60.0)
    t.start(print, 1, 2)
    assert t.callback is print and t.args == (1, 2)
    t.stop()
    assert t.callback is None and t.args is None
    t.start(len)
    assert t.callback is len and t.args == () and t.active
    t.start(repr, "x")            # restart while active: replaces both
    assert t.callback is repr and t.args == ("x",)
    t.stop()
    t.start(len)
    assert t.args == ()
    t.stop()
    with pytest.raises(TypeError):
        t.start(42)
    assert not t.active and t.callback is None
    with pytest.raises(TypeError):
        t.start(len, bogus=1)
    with pytest.raises(TypeError):
        t.start()
    lp.destroy()


@pytest.mark.parametrize("mod", [core, gcore], ids=["gevent_c", "gevent"])
def test_stop_and_close_take_no_arguments(mod):
    lp = mod.loop(default=False)
    t = lp.timer(60.0)
    t.start(len)
    stop = t.stop
    for call in (lambda: t.stop(1), lambda: stop(1), lambda: stop(x=1),
                 lambda: t.close(1)):
        with pytest.raises(TypeError):
            call()
    assert t.active
    stop()
    assert not t.active and t.callback is None
    t.start(len)
    t.close()
    assert not t.active
    lp.destroy()


def test_repr_of_a_watcher_among_its_own_args_does_not_recurse(loop):
    # sleep() starts its timer with the timer among the callback's arguments
    t = loop.timer(5)
    t.start(print, t, 1)
    try:
        r = repr(t)
    finally:
        t.stop()
    assert r.count('timer at') == 2 and r.endswith('...>, 1)>'), r
