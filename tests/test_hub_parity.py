"""The same scheduling scenarios run under gevent and gevent_c must log the same order."""
import pytest

from _hubtest import clean_hub, load, _destroy_hub  # noqa: F401 -- fixtures


def run_both(scenario):
    logs = {}
    for name in ('gevent', 'gevent_c'):
        lib = load(name)
        log = []
        scenario(lib, log)
        _destroy_hub(name)
        logs[name] = log
    return logs


def assert_same(scenario):
    logs = run_both(scenario)
    assert logs['gevent_c'] == logs['gevent']
    return logs['gevent_c']


def test_spawn_sleep0_and_links_interleave_identically():
    def scenario(lib, log):
        def worker(name, rounds):
            for i in range(rounds):
                log.append((name, i))
                lib.top.sleep(0)
            return name

        gs = [lib.top.spawn(worker, n, r) for n, r in (('a', 3), ('b', 1), ('c', 2))]
        for g in gs:
            g.rawlink(lambda s: log.append(('link', s.value)))
        log.append('main before join')
        lib.top.joinall(gs)
        log.append('main after join')
        lib.top.sleep(0)

    assert len(assert_same(scenario)) > 8


def test_event_set_wakes_waiters_before_later_spawns():
    def scenario(lib, log):
        ev = lib.event.Event()

        def waiter(i):
            ev.wait()
            log.append(('woke', i))

        gs = [lib.top.spawn(waiter, i) for i in range(3)]
        lib.top.sleep(0)
        ev.set()
        gs.append(lib.top.spawn(log.append, 'spawned after set'))
        log.append('main')
        lib.top.joinall(gs)

    assert_same(scenario)


def test_queue_producer_consumer_order():
    def scenario(lib, log):
        q = lib.queue.Queue(2)

        def producer():
            for i in range(5):
                q.put(i)
                log.append(('put', i))
            q.put(StopIteration)

        def consumer():
            for item in q:
                log.append(('got', item))

        lib.top.joinall([lib.top.spawn(producer), lib.top.spawn(consumer)])

    assert_same(scenario)


def test_channel_rendezvous_order():
    def scenario(lib, log):
        ch = lib.queue.Channel()

        def producer():
            for i in range(3):
                ch.put(i)
                log.append(('put', i))

        def consumer():
            for _ in range(3):
                log.append(('got', ch.get()))

        lib.top.joinall([lib.top.spawn(producer), lib.top.spawn(consumer)])

    assert_same(scenario)


def test_semaphore_handoff_order():
    def scenario(lib, log):
        sem = lib.lock.Semaphore(1)

        def worker(i):
            with sem:
                log.append(('in', i))
                lib.top.sleep(0)
                log.append(('out', i))

        lib.top.joinall([lib.top.spawn(worker, i) for i in range(4)])

    assert_same(scenario)


def test_kill_order_and_outcomes():
    def scenario(lib, log):
        def sleeper(i):
            try:
                lib.top.sleep(1)
            except lib.top.GreenletExit:
                log.append(('exit', i))
                raise

        gs = [lib.top.spawn(sleeper, i) for i in range(3)]
        unstarted = lib.top.spawn(log.append, 'never')
        lib.top.sleep(0)
        lib.top.killall(gs + [unstarted])
        log.append([(g.dead, type(g.value).__name__) for g in gs + [unstarted]])

    assert_same(scenario)


def test_pool_map_and_imap_unordered_results():
    def scenario(lib, log):
        pool = lib.pool.Pool(2)

        def work(x):
            for _ in range(x % 3):
                lib.top.sleep(0)
            log.append(('ran', x))
            return x * 10

        log.append(pool.map(work, range(6)))

    assert_same(scenario)


def test_timeout_outcomes():
    def scenario(lib, log):
        for call in (lambda: lib.event.Event().wait(0.001),
                     lambda: lib.lock.Semaphore(0).acquire(timeout=0.001),
                     lambda: lib.queue.Queue().join(timeout=0.001)):
            log.append(call())
        try:
            lib.queue.Queue().get(timeout=0.001)
        except lib.queue.Empty:
            log.append('Empty')
        try:
            lib.event.AsyncResult().get(timeout=0.001)
        except lib.timeout.Timeout:
            log.append('Timeout')

    assert assert_same(scenario) == [False, False, True, 'Empty', 'Timeout']


def test_error_report_has_the_same_shape(capsys):
    def scenario(lib, log):
        import io
        stream = io.StringIO()
        lib.hub.get_hub().exception_stream = stream

        def boom():
            raise ValueError('shape')

        lib.top.spawn(boom).join()
        text = stream.getvalue()
        log.append(text.startswith('Traceback (most recent call last):'))
        log.append(text.splitlines()[-2] if text.endswith('\n\n') else text.splitlines()[-1])

    logs = run_both(scenario)
    for name in logs:
        assert logs[name][0] is True
        last = logs[name][1]
        assert last.endswith('failed with ValueError') and last[:4].isdigit(), (name, last)


@pytest.mark.parametrize('name', ['gevent', 'gevent_c'])
def test_switch_out_hook_of_the_current_greenlet_is_called(name):
    lib = load(name)
    seen = []

    class Hooked(lib.greenlet.Greenlet):
        def switch_out(self):
            seen.append('out')

    g = Hooked(lib.top.sleep, 0)
    g.start()
    g.join()
    assert seen
