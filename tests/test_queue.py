"""Queues: FIFO hand-off, bounded back-pressure, timeouts, kill while blocked, shutdown."""
import queue as stdlib_queue
import sys

import pytest

from _hubtest import clean_hub, lib, gc_lib  # noqa: F401 -- fixtures


def test_empty_and_full_are_the_stdlib_classes(lib):
    assert lib.queue.Empty is stdlib_queue.Empty
    assert lib.queue.Full is stdlib_queue.Full


def test_shutdown_class_is_the_stdlib_one_on_313(gc_lib):
    if sys.version_info >= (3, 13):
        assert gc_lib.queue.ShutDown is stdlib_queue.ShutDown
    else:
        assert issubclass(gc_lib.queue.ShutDown, Exception)


def test_put_get_fifo(lib):
    q = lib.queue.Queue()
    for i in range(5):
        q.put(i)
    assert q.qsize() == 5 and len(q) == 5 and not q.empty()
    assert [q.get() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert q.empty()


def test_blocked_getters_are_served_in_arrival_order(lib):
    q = lib.queue.Queue()
    got = []
    gs = [lib.top.spawn(lambda i=i: got.append((i, q.get()))) for i in range(3)]
    lib.top.sleep(0)
    for item in 'abc':
        q.put(item)
    lib.top.joinall(gs)
    assert got == [(0, 'a'), (1, 'b'), (2, 'c')]


def test_bounded_put_blocks_until_room_and_putters_are_fifo(lib):
    q = lib.queue.Queue(1)
    q.put('first')
    assert q.full()
    gs = [lib.top.spawn(q.put, i) for i in range(3)]
    lib.top.sleep(0)
    assert q.qsize() == 1
    assert [q.get() for _ in range(4)] == ['first', 0, 1, 2]
    lib.top.joinall(gs)


def test_get_timeout_raises_empty(lib):
    q = lib.queue.Queue()
    with pytest.raises(lib.queue.Empty):
        q.get(timeout=0.001)
    with pytest.raises(lib.queue.Empty):
        q.get_nowait()
    with pytest.raises(lib.queue.Empty):
        q.get(block=False)
    q.put('later')
    assert q.get() == 'later'


def test_put_timeout_raises_full(lib):
    q = lib.queue.Queue(1)
    q.put(1)
    with pytest.raises(lib.queue.Full):
        q.put(2, timeout=0.001)
    with pytest.raises(lib.queue.Full):
        q.put_nowait(2)
    assert q.qsize() == 1 and q.get() == 1 and q.empty()


def test_kill_while_blocked_in_get_and_put(lib):
    q = lib.queue.Queue(1)
    getter = lib.top.spawn(lib.queue.Queue().get)
    q.put(0)
    putter = lib.top.spawn(q.put, 1)
    lib.top.sleep(0)
    getter.kill()
    putter.kill()
    assert getter.dead and putter.dead
    assert q.get() == 0 and q.empty()


def test_timed_out_getter_does_not_steal_a_later_item(lib):
    q = lib.queue.Queue()
    with pytest.raises(lib.queue.Empty):
        q.get(timeout=0.001)
    q.put('x')
    assert q.get() == 'x'


def test_peek_does_not_remove(lib):
    q = lib.queue.Queue()
    lib.top.spawn_later(0.001, q.put, 'p')
    assert q.peek() == 'p'
    assert q.qsize() == 1
    with pytest.raises(lib.queue.Empty):
        lib.queue.Queue().peek(timeout=0.001)


def test_iteration_stops_at_stop_iteration_item(lib):
    q = lib.queue.Queue()
    for item in (1, 2, StopIteration):
        q.put(item)
    assert list(q) == [1, 2]


def test_task_done_and_join(lib):
    q = lib.queue.JoinableQueue()
    done = []

    def worker():
        while True:
            item = q.get()
            lib.top.sleep(0.001)
            done.append(item)
            q.task_done()

    w = lib.top.spawn(worker)
    for i in range(3):
        q.put(i)
    assert q.join() is True
    assert done == [0, 1, 2]
    w.kill()
    with pytest.raises(ValueError):
        q.task_done()


def test_join_timeout_returns_false(lib):
    q = lib.queue.Queue()
    q.put(1)
    assert q.join(timeout=0.001) is False


def test_priority_and_lifo_order(lib):
    pq = lib.queue.PriorityQueue()
    for item in (3, 1, 2):
        pq.put(item)
    assert [pq.get() for _ in range(3)] == [1, 2, 3]
    lq = lib.queue.LifoQueue()
    for item in (1, 2, 3):
        lq.put(item)
    assert [lq.get() for _ in range(3)] == [3, 2, 1]


def test_maxsize_none_and_zero_mean_unbounded(lib):
    assert lib.queue.Queue().maxsize is None
    assert lib.queue.Queue(None).full() is False
    q = lib.queue.Queue(2)
    assert q.maxsize == 2


def test_unbound_queue_rejects_maxsize(lib):
    with pytest.raises(ValueError):
        lib.queue.UnboundQueue(3)
    q = lib.queue.UnboundQueue()
    for i in range(100):
        q.put(i)
    assert q.qsize() == 100


def test_simple_queue(lib):
    q = lib.queue.SimpleQueue()
    q.put(1)
    assert q.get() == 1


def test_channel_put_blocks_until_a_getter_takes_it(lib):
    ch = lib.queue.Channel()
    order = []

    def producer():
        for i in range(3):
            ch.put(i)
            order.append(('put', i))

    p = lib.top.spawn(producer)
    lib.top.sleep(0)
    assert order == []
    for _ in range(3):
        order.append(('got', ch.get()))
    p.join()
    assert [x for x in order if x[0] == 'got'] == [('got', 0), ('got', 1), ('got', 2)]
    assert order.index(('got', 0)) < order.index(('put', 1))


def test_channel_timeouts(lib):
    ch = lib.queue.Channel()
    with pytest.raises(lib.queue.Empty):
        ch.get(timeout=0.001)
    with pytest.raises(lib.queue.Full):
        ch.put(1, timeout=0.001)
    assert ch.balance == 0


def test_channel_kill_while_blocked(lib):
    ch = lib.queue.Channel()
    g = lib.top.spawn(ch.put, 'x')
    lib.top.sleep(0)
    assert ch.balance == 1
    g.kill()
    assert ch.balance == 0


def test_get_from_the_hub_cannot_block(lib):
    q = lib.queue.Queue()
    outcome = []

    def cb():
        try:
            q.get()
        except lib.queue.Empty:
            outcome.append('empty')

    lib.hub.get_hub().loop.run_callback(cb)
    lib.top.sleep(0)
    assert outcome == ['empty']


def test_shutdown_wakes_blocked_getters_and_refuses_puts(gc_lib):
    q = gc_lib.queue.Queue()
    g = gc_lib.top.spawn(q.get)
    gc_lib.top.sleep(0)
    q.shutdown()
    with pytest.raises(gc_lib.queue.ShutDown):
        g.get()
    with pytest.raises(gc_lib.queue.ShutDown):
        q.put(1)


def test_shutdown_lets_remaining_items_be_got_unless_immediate(gc_lib):
    q = gc_lib.queue.Queue()
    q.put(1)
    q.put(2)
    q.shutdown()
    assert q.get() == 1 and q.get() == 2
    with pytest.raises(gc_lib.queue.ShutDown):
        q.get()
    q2 = gc_lib.queue.Queue()
    q2.put(1)
    q2.shutdown(immediate=True)
    with pytest.raises(gc_lib.queue.ShutDown):
        q2.get()
    assert q2.join(timeout=0.001) is True


def test_shutdown_wakes_blocked_putters(gc_lib):
    q = gc_lib.queue.Queue(1)
    q.put(0)
    g = gc_lib.top.spawn(q.put, 1)
    gc_lib.top.sleep(0)
    q.shutdown()
    with pytest.raises(gc_lib.queue.ShutDown):
        g.get()


def test_copy(lib):
    q = lib.queue.Queue(5)
    q.put(1)
    c = q.copy()
    assert c.get() == 1 and q.qsize() == 1


def test_subclass_overriding_stdlib_bottleneck_methods_is_honoured(lib):
    class Doubling(lib.queue.Queue):
        def _put(self, item):
            self.queue.append(item * 2)

    q = Doubling()
    q.put(2)
    assert q.get() == 4
    g = lib.top.spawn(q.get)
    lib.top.sleep(0)
    q.put(5)
    assert g.get() == 10


def test_stdlib_style_subclass_with_one_argument_init(lib):
    class ListQueue(lib.queue.Queue):
        def _init(self, maxsize):
            self.queue = []

        def _get(self):
            return self.queue.pop(0)

        def _put(self, item):
            self.queue.append(item)

        def _qsize(self):
            return len(self.queue)

    q = ListQueue()
    q.put(1)
    q.put(2)
    assert [q.get(), q.get()] == [1, 2]


def test_get_with_a_negative_timeout_is_a_value_error(lib):
    for q in (lib.queue.Queue(), lib.queue.LifoQueue(), lib.queue.PriorityQueue()):
        with pytest.raises(ValueError, match='non-negative'):
            q.get(timeout=-1)
        q.put(1)
        assert q.get(timeout=-1) == 1  # an item at hand: no wait, no check
        with pytest.raises(stdlib_queue.Empty):
            q.get(block=False, timeout=-1)


def test_queue_storage_replaced_by_a_deque_subclass_goes_through_its_methods(gc_lib):
    # put/get drive an exact deque directly; anything else assigned to
    # .queue (here a subclass that counts) still has its methods called
    import collections
    calls = []

    class CountingDeque(collections.deque):
        def append(self, item):
            calls.append(("append", item))
            super().append(item)

        def popleft(self):
            calls.append(("popleft",))
            return super().popleft()

    q = gc_lib.queue.Queue()
    q.put(0)
    q.queue = CountingDeque(q.queue)
    q.put(1)
    assert [q.get(), q.get()] == [0, 1]
    assert calls == [("append", 1), ("popleft",), ("popleft",)]


def test_fast_flag_changed_on_the_class_after_use_is_seen(gc_lib):
    # the C fast path caches the class's _fast flag per queue; changing the
    # class afterwards must send put/get through the overridable methods
    seen = []

    class Sub(gc_lib.queue.Queue):
        pass

    q = Sub()
    q.put(1)
    assert q.get() == 1
    Sub._fast = False
    Sub._put = lambda self, item: (seen.append(item), self.queue.append(item))
    q.put(2)
    assert seen == [2] and q.get() == 2
    Sub._fast = True
    del Sub._put
    q.put(3)
    assert seen == [2] and q.get() == 3
