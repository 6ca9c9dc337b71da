"""Crash, hang and leak paths closed by the reliability work (issue 16).

Each test names the path.  Scenarios that used to touch freed memory run
in a subprocess under ``-X dev`` (freed memory is poisoned there).
"""
import gc
import socket
import weakref

import pytest

from gevent_c import _ares, _core
from gevent_c.hub import get_hub

from _hubtest import clean_hub  # noqa: F401 -- autouse: a fresh hub per test
from _isolated import run_isolated
from dnsserver import DNSServer

RECORDS = {'a.test': [('A', '10.0.0.1')]}
BEHAVIOURS = {'slow.test': 'TIMEOUT'}


@pytest.fixture(scope='module')
def server():
    with DNSServer(RECORDS, BEHAVIOURS) as srv:
        yield srv


# ---- AsyncResult.get(): the stored exception while Python code runs --------

def test_async_result_get_keeps_the_stored_exception_while_its_type_runs():
    # calling the stored type may replace _exc_info: its old items (the
    # traceback here) must stay alive until the exception is raised
    out = run_isolated(dev=True, code='''
        import gc
        from gevent_c.event import AsyncResult
        r = AsyncResult()
        class Boom(Exception):
            def __init__(self):
                r._exc_info = ()
                gc.collect()
                super().__init__('boom')
        def make_tb():
            try:
                raise KeyError
            except KeyError as e:
                return e.__traceback__
        r._exc_info = (Boom, None, make_tb())
        try:
            r.get()
        except Boom as e:
            print('Boom', e.__traceback__ is not None)
    ''')
    assert out.split() == ['Boom', 'True']


# ---- loop.destroy() and the watchers still active on it ---------------------

def _start_one_of_each(loop, cb):
    watchers = [loop.timer(30), loop.idle(), loop.prepare(), loop.check(),
                loop.io(0, 1), loop.async_(), loop.timer(0)]
    for w in watchers:
        w.start(cb, w)
    watchers[-1].feed(1, cb, 'fed')   # pending, not active
    return watchers


def test_destroying_a_loop_stops_and_frees_its_active_watchers():
    loop = _core.loop(default=False)

    class Callback:
        def __call__(self, *args):
            pass
    cb = Callback()
    watchers = _start_one_of_each(loop, cb)
    refs = [weakref.ref(w) for w in watchers]
    cb_ref = weakref.ref(cb)
    assert all(w.active or w.pending for w in watchers)
    del cb
    loop.destroy()
    assert not any(w.active for w in watchers)
    assert all(w.callback is None for w in watchers)
    del watchers
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)
    assert cb_ref() is None


def test_a_callback_released_by_destroy_may_stop_its_watcher_again():
    out = run_isolated(dev=True, code='''
        import gc
        from gevent_c import _core
        loop = _core.loop(default=False)
        class StopsAgain:
            def __init__(self, watcher):
                self.watcher = watcher
            def __call__(self):
                pass
            def __del__(self):
                self.watcher.stop()
                self.watcher.close()
                other = loop.timer(5)      # a watcher started while
                other.start(print)         # destroy() releases the others
        t = loop.timer(30)
        t.start(StopsAgain(t))
        del t
        loop.destroy()
        gc.collect()
        print('ok')
    ''')
    assert out.split() == ['ok']


def test_stop_whose_released_callback_stops_the_same_watcher_again():
    out = run_isolated(dev=True, code='''
        from gevent_c import _core
        loop = _core.loop(default=False)
        class StopsAgain:
            def __call__(self):
                pass
            def __del__(self):
                w.stop()
        w = loop.idle()
        w.start(StopsAgain())
        w.stop()          # releasing the callback stops w again
        print(w.active, w.callback)
        loop.destroy()
    ''')
    assert out.split() == ['False', 'None']


# ---- a c-ares channel whose loop is destroyed ----------------------------

def test_channel_delivers_when_its_loop_is_destroyed_before_the_drain_runs(server):
    # destroy() of the channel fails the pending query and schedules the
    # delivery on the loop; the loop is destroyed before it runs it
    loop = _core.loop(default=False)
    ch = _ares.channel(loop, servers=server.address, timeout=5, tries=1)
    got = []
    ch.gethostbyname(got.append, 'slow.test')
    ch.destroy()
    assert got == []
    loop.destroy()
    assert len(got) == 1 and isinstance(got[0], socket.gaierror)
    assert got[0].errno == socket.EAI_AGAIN


def test_channel_fails_its_pending_queries_when_its_loop_is_destroyed(server):
    loop = _core.loop(default=False)
    ch = _ares.channel(loop, servers=server.address, timeout=5, tries=1)
    got = []
    ch.gethostbyname(got.append, 'slow.test')
    ch.getaddrinfo(got.append, 'slow.test', 80)
    ref = weakref.ref(ch)
    del ch
    loop.destroy()
    assert [type(x) for x in got] == [socket.gaierror] * 2
    gc.collect()
    assert ref() is None      # no pending query keeps it alive any more


def test_lookups_under_allocation_failures_never_hang(server):
    # Each pass makes one allocation fail, a little further along the
    # lookup each time (argument parsing, the query, the result tuples,
    # their delivery...).  The lookup returns or raises MemoryError; a
    # result dropped on the way would leave it blocked until the Timeout.
    out = run_isolated('''
        import _testcapi, sys
        from gevent_c.resolver.ares import Resolver
        from gevent_c.timeout import Timeout
        r = Resolver(servers=[sys.argv[1]], timeout=2, tries=1, use_environ=False)
        assert r.gethostbyname('a.test') == '10.0.0.1'
        outcomes = {}
        for k in range(0, 600, 3):
            t = Timeout(8)
            t.start()
            try:
                _testcapi.set_nomemory(k, k + 1)
                try:
                    got = r.gethostbyname('a.test')
                finally:
                    _testcapi.remove_mem_hooks()
                outcome = 'ok' if got == '10.0.0.1' else repr(got)
            except Timeout as e:
                if e is not t:
                    raise
                outcome = 'HANG'
            except MemoryError:
                outcome = 'MemoryError'
            except OSError as e:
                outcome = 'OSError'
            finally:
                t.close()
            outcomes.setdefault(outcome, []).append(k)
        print(sorted(outcomes))
        print(outcomes.get('HANG'))
        assert r.gethostbyname('a.test') == '10.0.0.1'
    ''', server.address, dev=True, timeout=120)
    kinds, hangs = out.splitlines()
    assert hangs == 'None'
    assert 'ok' in kinds and 'MemoryError' in kinds


# ---- a Greenlet whose start fails -------------------------------------------

def test_greenlet_whose_start_fails_ends_with_the_error_and_runs_its_links():
    # the hub's start callback fails before run() begins (here the run
    # lookup; in life a MemoryError): the greenlet must end with that error,
    # or joinall() and its links wait for good (gevent leaves it dead with
    # no exception and never runs its links)
    import gevent_c
    from gevent_c.greenlet import Greenlet

    class NoRun(Greenlet):
        @property
        def run(self):
            raise MemoryError('no memory for run')

    hub = get_hub()
    hub.print_exception = lambda *args: None
    try:
        g = NoRun.spawn()
        linked = []
        g.link(linked.append)
        assert gevent_c.joinall([g], timeout=5) == [g]
        assert g.dead and not g.successful()
        assert isinstance(g.exception, MemoryError)
        gevent_c.sleep(0)
        assert linked == [g]
        with pytest.raises(MemoryError):
            g.get()
    finally:
        del hub.print_exception


def test_multiple_waiter_that_cannot_queue_a_value_wakes_its_waiter_with_the_error():
    # wait()/iwait() queue each finished object in a MultipleWaiter; when
    # the queue cannot grow, the waiter gets the MemoryError instead of
    # waiting for good for a value that was dropped
    out = run_isolated(dev=True, code='''
        import _testcapi
        import gevent_c
        from gevent_c.hub import get_hub, MultipleWaiter
        hub = get_hub()
        w = MultipleWaiter(hub)
        result = []
        def waiter():
            try:
                result.append(w.get())
            except MemoryError:
                result.append('MemoryError')
        g = gevent_c.spawn(waiter)
        gevent_c.sleep(0)
        def from_hub():
            _testcapi.set_nomemory(0, 1)    # the queue's growth fails
            try:
                w.switch('value')
            finally:
                _testcapi.remove_mem_hooks()
        hub.loop.run_callback(from_hub)
        g.join(timeout=5)
        print(result)
    ''')
    assert out.strip() == "['MemoryError']"


# ---- select(): the timeout timer ------------------------------------------

class _Recorder:
    def __init__(self, log, name, fail_stop=False):
        self.log, self.name, self.fail_stop = log, name, fail_stop

    def start(self, *args, **kwargs):
        self.log.append((self.name, 'start'))

    def stop(self):
        self.log.append((self.name, 'stop'))
        if self.fail_stop:
            raise RuntimeError('stop failed')

    def close(self):
        self.log.append((self.name, 'close'))


class _Hub:
    def __init__(self, log, fire):
        self.log = log
        self.fire = fire
        self.loop = self

    def timer(self, seconds):
        self.timer_obj = _Recorder(self.log, 'timer')
        return self.timer_obj

    def switch(self):
        return self.timer_obj if self.fire == 'timer' else self.fire


def test_select_wait_stops_and_closes_its_timeout_timer():
    from gevent_c.select import _wait_any
    log = []
    w = _Recorder(log, 'io')
    assert _wait_any(_Hub(log, 'timer'), [w], 0.5) is True
    assert log[-2:] == [('timer', 'stop'), ('timer', 'close')]
    assert ('io', 'close') in log


def test_select_wait_closes_its_timer_even_when_a_watcher_fails_to_stop():
    from gevent_c.select import _wait_any
    log = []
    w = _Recorder(log, 'io', fail_stop=True)
    with pytest.raises(RuntimeError):
        _wait_any(_Hub(log, w), [w], 0.5)
    assert log[-2:] == [('timer', 'stop'), ('timer', 'close')]
