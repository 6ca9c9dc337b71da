"""Typed use of gevent_c's structured concurrency and blocking detector
(gevent_c.structured, gevent_c.blocking): checked by ``mypy --strict`` and
run by tests/test_typing.py, like usage.py."""
from __future__ import annotations

import sys

import gevent_c
import gevent_c.blocking
from gevent_c.greenlet import Greenlet

if sys.version_info >= (3, 11):
    from builtins import ExceptionGroup
else:
    from gevent_c.structured import ExceptionGroup


def fetch(name: str) -> int:
    gevent_c.sleep(0)
    return len(name)


def fail() -> None:
    raise ValueError('child failed')


def check_task_group() -> None:
    with gevent_c.TaskGroup() as tg:
        a: Greenlet[int] = tg.spawn(fetch, 'alpha')
        b = tg.spawn(fetch, name='be')
    total: int = a.get() + b.get()
    assert total == 7
    try:
        with gevent_c.TaskGroup() as tg:
            tg.spawn(fail)
            tg.spawn(gevent_c.sleep, 10)
    except ExceptionGroup as group:
        assert isinstance(group.exceptions[0], ValueError)
    else:
        raise AssertionError('the TaskGroup did not raise')


def check_cancel_scopes() -> None:
    with gevent_c.move_on_after(0.01) as scope:
        gevent_c.sleep(10)
    assert scope.cancelled_caught
    try:
        with gevent_c.fail_after(0.01):
            gevent_c.sleep(10)
    except TimeoutError:
        pass
    with gevent_c.CancelScope(shield=True) as shielded:
        shielded.cancel()
        try:
            gevent_c.sleep(0.01)
        except gevent_c.Cancelled as exc:
            assert exc.scope is shielded


def check_blocking_detector() -> None:
    reports: list[str] = []
    gevent_c.blocking.watch(threshold=10.0, report=reports.append)
    try:
        assert gevent_c.get_hub() in gevent_c.blocking.watched()
    finally:
        gevent_c.blocking.unwatch()
    assert gevent_c.blocking.REPORT_INTERVAL > 0
    gevent_c.blocking.logger.debug('typed')


def main() -> None:
    check_task_group()
    check_cancel_scopes()
    check_blocking_detector()
    print('usage_structured ok')


if __name__ == '__main__':
    main()
