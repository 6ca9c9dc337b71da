"""TaskGroup and cancel scopes (gevent_c.structured): trio's nursery and
cancel-scope rules, on greenlets."""
import builtins
import math
import sys
import threading

import pytest

from gevent_c import CancelScope, Cancelled, GreenletExit, TaskGroup, Timeout
from gevent_c import fail_after, move_on_after, sleep, spawn
from gevent_c.structured import BaseExceptionGroup, ExceptionGroup, _scopes


def child(log, name, seconds, fail=None):
    try:
        sleep(seconds)
        if fail is not None:
            raise fail
        log.append((name, 'done'))
        return name
    except GreenletExit:
        log.append((name, 'killed'))
        raise


# -- TaskGroup ------------------------------------------------------------

def test_leaving_the_block_waits_for_every_child():
    log = []
    with TaskGroup() as tg:
        a = tg.spawn(child, log, 'a', 0.02)
        b = tg.spawn(child, log, 'b', 0.01)
        assert not a.dead and not b.dead
    assert sorted(log) == [('a', 'done'), ('b', 'done')]
    assert (a.value, b.value) == ('a', 'b')


def test_the_first_error_kills_the_siblings_and_cancels_the_body():
    log = []
    error = ValueError('boom')
    with pytest.raises(ExceptionGroup) as info:
        with TaskGroup() as tg:
            tg.spawn(child, log, 'bad', 0.01, error)
            tg.spawn(child, log, 'slow', 10)
            sleep(10)
            log.append(('body', 'not cancelled'))
    assert info.value.exceptions == (error,)
    assert log == [('slow', 'killed')]


def test_errors_of_children_failing_in_the_same_turn_are_all_kept():
    def fail(exc):
        raise exc
    first, second = KeyError('a'), OSError('b')
    with pytest.raises(ExceptionGroup) as info:
        with TaskGroup() as tg:
            tg.spawn(fail, first)
            tg.spawn(fail, second)
    assert info.value.exceptions == (first, second)


def test_an_error_in_the_body_kills_the_children_and_is_grouped():
    log = []
    with pytest.raises(ExceptionGroup) as info:
        with TaskGroup() as tg:
            tg.spawn(child, log, 'slow', 10)
            sleep(0)
            raise LookupError('body')
    assert [type(e) for e in info.value.exceptions] == [LookupError]
    assert log == [('slow', 'killed')]


def test_no_spawn_once_the_block_is_left_or_after_a_failure():
    with TaskGroup() as tg:
        pass
    with pytest.raises(RuntimeError, match='not active'):
        tg.spawn(sleep, 0)
    with pytest.raises(RuntimeError, match='not active'):
        TaskGroup().spawn(sleep, 0)
    refused = []

    def late_spawner(group):
        sleep(0.02)
        try:
            group.spawn(sleep, 0)
        except RuntimeError as exc:
            refused.append(str(exc))

    def slow_to_die():
        try:
            sleep(10)
        finally:
            sleep(0.04)  # still a child while the group shuts down

    with pytest.raises(ExceptionGroup):
        with TaskGroup() as tg:
            tg.spawn(slow_to_die)
            tg.spawn(child, [], 'bad', 0.01, ValueError())
            spawn(late_spawner, tg)
    assert refused and 'shutting down' in refused[0]


def test_children_may_spawn_siblings_while_the_parent_waits():
    log = []

    def parent_child(group):
        sleep(0.01)
        group.spawn(child, log, 'grandchild', 0.01)

    with TaskGroup() as tg:
        tg.spawn(parent_child, tg)
    assert log == [('grandchild', 'done')]


def test_killing_the_parent_in_the_body_kills_the_children():
    log = []

    def parent():
        with TaskGroup() as tg:
            tg.spawn(child, log, 'c', 10)
            sleep(10)

    g = spawn(parent)
    sleep(0.01)
    g.kill()
    assert g.dead and isinstance(g.value, GreenletExit)
    assert log == [('c', 'killed')]


def test_killing_the_parent_while_it_waits_at_the_end_kills_the_children():
    log = []

    def parent():
        with TaskGroup() as tg:
            tg.spawn(child, log, 'c', 10)

    g = spawn(parent)
    sleep(0.01)
    g.kill()
    assert isinstance(g.value, GreenletExit)
    assert log == [('c', 'killed')]


def test_a_timeout_around_the_group_stops_everything_and_goes_on():
    log = []
    with pytest.raises(Timeout):
        with Timeout(0.02):
            with TaskGroup() as tg:
                tg.spawn(child, log, 'a', 10)
                tg.spawn(child, log, 'b', 10)
    assert sorted(log) == [('a', 'killed'), ('b', 'killed')]


def test_keyboard_interrupt_in_the_body_goes_on_as_itself():
    log = []
    with pytest.raises(KeyboardInterrupt):
        with TaskGroup() as tg:
            tg.spawn(child, log, 'a', 10)
            sleep(0)
            raise KeyboardInterrupt
    assert log == [('a', 'killed')]


def test_nested_groups_nest_their_exception_groups():
    log = []
    with pytest.raises(ExceptionGroup) as info:
        with TaskGroup() as outer:
            outer.spawn(child, log, 'outer-child', 10)
            with TaskGroup() as inner:
                inner.spawn(child, log, 'inner-bad', 0.01, ValueError('deep'))
                inner.spawn(child, log, 'inner-slow', 10)
    (group,) = info.value.exceptions
    assert isinstance(group, ExceptionGroup)
    assert [str(e) for e in group.exceptions] == ['deep']
    assert sorted(log) == [('inner-slow', 'killed'), ('outer-child', 'killed')]


def test_a_group_is_entered_once():
    tg = TaskGroup()
    with tg:
        pass
    with pytest.raises(RuntimeError, match='once'):
        tg.__enter__()


# -- cancel scopes -------------------------------------------------------

def test_cancel_from_another_greenlet_ends_the_block():
    scope = CancelScope()
    after = []

    def cancel_soon():
        sleep(0.01)
        scope.cancel()

    spawn(cancel_soon)
    with scope:
        sleep(10)
        after.append('not reached')
    assert scope.cancel_called and scope.cancelled_caught
    assert after == []


def test_cancel_before_entering_cancels_at_the_first_blocking_point():
    scope = CancelScope()
    scope.cancel()
    reached = []
    with scope:
        reached.append('before blocking')
        sleep(10)
        reached.append('after')
    assert reached == ['before blocking'] and scope.cancelled_caught


def test_cancel_from_inside_takes_effect_at_the_next_blocking_point():
    steps = []
    with CancelScope() as scope:
        scope.cancel()
        steps.append('still running')
        sleep(10)
        steps.append('not reached')
    assert steps == ['still running'] and scope.cancelled_caught


def test_an_uncancelled_scope_catches_nothing():
    with CancelScope() as scope:
        sleep(0)
    assert not scope.cancel_called and not scope.cancelled_caught
    with pytest.raises(ValueError):
        with CancelScope():
            raise ValueError


def test_cancel_is_idempotent_and_a_late_cancel_is_harmless():
    with CancelScope() as scope:
        pass
    scope.cancel()
    scope.cancel()
    sleep(0.01)  # no stray Cancelled arrives here
    assert scope.cancel_called and not scope.cancelled_caught


def test_cancel_from_another_thread():
    scope = CancelScope()
    entered = threading.Event()

    def from_thread():
        entered.wait(5)
        scope.cancel()

    t = threading.Thread(target=from_thread)
    t.start()
    with scope:
        entered.set()
        with Timeout(10):
            sleep(10)
    t.join(5)
    assert scope.cancelled_caught


def test_move_on_after_leaves_silently():
    with move_on_after(0.01) as scope:
        sleep(10)
    assert scope.cancelled_caught
    with move_on_after(10) as scope:
        sleep(0)
    assert not scope.cancelled_caught


def test_fail_after_raises_timeout_error_naming_where_it_was_set():
    line = sys._getframe().f_lineno + 2
    with pytest.raises(TimeoutError) as info:
        with fail_after(0.01):
            sleep(10)
    message = str(info.value)
    assert 'fail_after(0.01)' in message
    assert '%s:%d' % (__file__, line) in message
    with fail_after(10):
        sleep(0)


def test_an_outer_expiry_passes_through_an_inner_scope():
    with move_on_after(0.01) as outer:
        with move_on_after(10) as inner:
            sleep(10)
        pytest.fail('the outer cancellation was swallowed by the inner scope')
    assert outer.cancelled_caught and not inner.cancelled_caught


def test_an_inner_expiry_stays_inside():
    steps = []
    with move_on_after(10) as outer:
        with move_on_after(0.01) as inner:
            sleep(10)
        steps.append('after inner')
    assert steps == ['after inner']
    assert inner.cancelled_caught and not outer.cancelled_caught


def test_a_silent_timeout_inside_does_not_swallow_the_scope():
    with move_on_after(0.01) as scope:
        with Timeout(10, False):
            sleep(10)
        pytest.fail('the silent Timeout swallowed the scope')
    assert scope.cancelled_caught


def test_a_scope_inside_does_not_swallow_a_timeout():
    with pytest.raises(Timeout):
        with Timeout(0.01):
            with CancelScope() as scope:
                sleep(10)
    assert not scope.cancelled_caught


def test_a_silent_timeout_does_not_swallow_an_outer_timeout():
    steps = []
    with Timeout(0.01, False):
        with Timeout(10, False):
            sleep(10)
        steps.append('after inner')
    assert steps == []


def test_a_shield_defers_outer_cancellation_until_it_exits():
    steps = []
    with move_on_after(0.01) as outer:
        with CancelScope(shield=True):
            sleep(0.05)
            steps.append('shielded work done')
        steps.append('after shield')
        sleep(10)
        steps.append('not reached')
    assert steps == ['shielded work done', 'after shield']
    assert outer.cancelled_caught


def test_a_shield_does_not_stop_its_own_deadline():
    with move_on_after(0.01, shield=True) as scope:
        sleep(10)
    assert scope.cancelled_caught


def test_moving_the_deadline():
    with CancelScope() as scope:
        scope.deadline = 0  # long past
        sleep(10)
    assert scope.cancelled_caught
    with move_on_after(0.01) as scope:
        scope.deadline = math.inf
        sleep(0.03)
    assert not scope.cancelled_caught


def test_scopes_must_nest():
    outer, inner = CancelScope(), CancelScope()
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(RuntimeError, match='out of order'):
        outer.__exit__(None, None, None)
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)
    with pytest.raises(RuntimeError, match='once'):
        outer.__enter__()


def test_bad_deadlines_are_refused():
    with pytest.raises(TypeError):
        move_on_after('soon')
    with pytest.raises(TypeError):
        fail_after(None)
    with pytest.raises(ValueError):
        move_on_after(float('nan'))
    with pytest.raises(TypeError):
        CancelScope(deadline=object())
    scope = CancelScope()
    with pytest.raises(ValueError):
        scope.deadline = float('nan')


def test_cancelled_is_not_an_exception_and_names_its_scope():
    assert not issubclass(Cancelled, Exception)
    scope = CancelScope()
    assert 'not entered' in repr(scope) and __file__ in repr(scope)
    caught = []
    with scope:
        scope.cancel()
        try:
            sleep(10)
        except Cancelled as exc:
            caught.append(exc)
            raise
    assert caught[0].scope is scope and repr(scope) in str(caught[0])


def test_nothing_is_left_behind():
    for _ in range(3):
        with move_on_after(0.001):
            with TaskGroup() as tg:
                tg.spawn(sleep, 10)
    sleep(0.01)
    assert dict(_scopes) == {}


def test_exception_groups_are_the_builtins_where_they_exist():
    if sys.version_info >= (3, 11):
        assert ExceptionGroup is builtins.ExceptionGroup
    group = BaseExceptionGroup('m', [ValueError(1)])
    assert isinstance(group, ExceptionGroup) and group.exceptions[0].args == (1,)
    with pytest.raises((TypeError, ValueError)):
        ExceptionGroup('m', [])


def test_the_fallback_exception_group_of_python_3_10():
    from gevent_c.structured import _BaseExceptionGroup, _ExceptionGroup
    group = _BaseExceptionGroup('two', [ValueError(1), KeyError(2)])
    assert type(group) is _ExceptionGroup and isinstance(group, Exception)
    assert group.message == 'two' and len(group.exceptions) == 2
    assert str(group) == 'two (2 sub-exceptions)'
    base = _BaseExceptionGroup('one', [KeyboardInterrupt()])
    assert type(base) is _BaseExceptionGroup and not isinstance(base, Exception)
    with pytest.raises(ValueError, match='non-empty'):
        _BaseExceptionGroup('none', [])
    with pytest.raises(ValueError, match='not an exception'):
        _BaseExceptionGroup('bad', [1])
    with pytest.raises(TypeError):
        _BaseExceptionGroup(1, [ValueError()])
