"""Group and Pool: membership, size limits, joins, kills, and the map family."""
import pytest

from _hubtest import clean_hub, lib, gc_lib, errors  # noqa: F401 -- fixtures


def test_group_tracks_members_until_they_finish(lib):
    group = lib.pool.Group()
    g = group.spawn(lib.top.sleep, 0.001)
    assert g in group and len(group) == 1
    assert group.join() is True
    assert len(group) == 0


def test_group_join_timeout_returns_false(lib):
    group = lib.pool.Group()
    group.spawn(lib.top.sleep, 1)
    assert group.join(timeout=0.001) is False
    group.kill()


def test_group_join_raise_error(lib, errors):
    group = lib.pool.Group()
    group.spawn(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        group.join(raise_error=True)


def test_group_add_discard_start(lib):
    group = lib.pool.Group()
    g = lib.greenlet.Greenlet(lambda: 1)
    group.start(g)
    assert g in group
    group.discard(g)
    assert g not in group
    g.join()


def test_group_kill_kills_every_member(lib):
    group = lib.pool.Group()
    gs = [group.spawn(lib.top.sleep, 1) for _ in range(3)]
    lib.top.sleep(0)
    group.kill()
    assert all(g.dead for g in gs) and len(group) == 0


def test_group_kill_unstarted_members(lib):
    group = lib.pool.Group()
    ran = []
    gs = [group.spawn(ran.append, i) for i in range(3)]
    group.kill()
    assert ran == [] and all(g.dead for g in gs)


def test_group_killone(lib):
    group = lib.pool.Group()
    a = group.spawn(lib.top.sleep, 1)
    b = group.spawn(lib.top.sleep, 1)
    lib.top.sleep(0)
    group.killone(a)
    assert a.dead and not b.dead
    group.kill()


def test_pool_negative_size_raises_value_error(lib):
    with pytest.raises(ValueError):
        lib.pool.Pool(-1)


def test_pool_limits_concurrency_and_blocks_spawn(lib):
    pool = lib.pool.Pool(2)
    active = []
    peak = []

    def worker():
        active.append(1)
        peak.append(len(active))
        lib.top.sleep(0.001)
        active.pop()

    for _ in range(6):
        pool.spawn(worker)
    pool.join()
    assert max(peak) == 2


def test_pool_free_count_full_and_wait_available(lib):
    pool = lib.pool.Pool(1)
    assert pool.free_count() == 1 and not pool.full()
    g = pool.spawn(lib.top.sleep, 0.002)
    assert pool.free_count() == 0 and pool.full()
    assert pool.wait_available() >= 1
    assert pool.free_count() == 1
    g.join()


def test_pool_wait_available_timeout(lib):
    pool = lib.pool.Pool(1)
    pool.spawn(lib.top.sleep, 1)
    pool.wait_available(timeout=0.001)
    assert pool.full()
    pool.kill()


def test_pool_add_nonblocking_raises_pool_full(lib):
    pool = lib.pool.Pool(1)
    pool.spawn(lib.top.sleep, 1)
    with pytest.raises(lib.pool.PoolFull):
        pool.add(lib.greenlet.Greenlet(lambda: None), blocking=False)
    with pytest.raises(lib.pool.PoolFull):
        pool.add(lib.greenlet.Greenlet(lambda: None), timeout=0.001)
    assert issubclass(lib.pool.PoolFull, lib.queue.Full)
    pool.kill()


def test_pool_size_none_is_unlimited(lib):
    pool = lib.pool.Pool()
    for _ in range(50):
        pool.spawn(lib.top.sleep, 0)
    assert pool.free_count() == 1 and not pool.full()
    pool.join()


def test_kill_while_blocked_in_pool_spawn(lib):
    pool = lib.pool.Pool(1)
    pool.spawn(lib.top.sleep, 1)
    blocked = lib.top.spawn(pool.spawn, lambda: None)
    lib.top.sleep(0)
    blocked.kill()
    assert blocked.dead and len(pool) == 1
    pool.kill()
    assert pool.free_count() == 1


def test_map_returns_results_in_input_order(lib):
    pool = lib.pool.Pool(3)

    def slow_square(x):
        lib.top.sleep(0.001 * (5 - x))
        return x * x

    assert pool.map(slow_square, range(5)) == [0, 1, 4, 9, 16]


def test_imap_is_ordered_and_imap_unordered_is_completion_ordered(lib):
    pool = lib.pool.Pool(5)

    def delayed(x):
        for _ in range(3 - x):  # later items finish in fewer loop iterations
            lib.top.sleep(0)
        return x

    assert list(pool.imap(delayed, range(3))) == [0, 1, 2]
    assert list(pool.imap_unordered(delayed, range(3))) == [2, 1, 0]


def test_imap_with_several_iterables(lib):
    pool = lib.pool.Pool(2)
    assert list(pool.imap(lambda a, b: a + b, [1, 2], [10, 20])) == [11, 22]


def test_imap_raises_the_workers_error(lib, errors):
    pool = lib.pool.Pool(2)

    def maybe_fail(x):
        if x == 1:
            raise KeyError(x)
        return x

    it = pool.imap(maybe_fail, range(3))
    assert next(it) == 0
    with pytest.raises(KeyError):
        next(it)


def test_imap_maxsize_bounds_unconsumed_results(lib):
    pool = lib.pool.Pool(10)
    started = []

    def record(x):
        started.append(x)
        return x

    it = pool.imap(record, range(20), maxsize=2)
    assert next(it) == 0
    lib.top.sleep(0.005)
    assert len(started) < 20
    assert list(it) == list(range(1, 20))


def test_imap_of_empty_iterable(lib):
    assert list(lib.pool.Pool(2).imap(lambda x: x, [])) == []
    assert lib.pool.Group().map(lambda x: x, []) == []


def test_apply_and_apply_async_and_callbacks(lib):
    pool = lib.pool.Pool(2)
    assert pool.apply(lambda a, b=0: a + b, (1,), {'b': 2}) == 3
    seen = []
    g = pool.apply_async(lambda: 'async', callback=seen.append)
    assert g.get() == 'async'
    lib.top.sleep(0.001)
    assert seen == ['async']
    assert pool.apply_cb(lambda: 5, callback=seen.append) == 5
    lib.top.sleep(0.001)
    assert seen == ['async', 5]


def test_apply_from_inside_a_full_pool_runs_inline(lib):
    pool = lib.pool.Pool(1)
    assert pool.spawn(lambda: pool.apply(lambda: 'inner')).get() == 'inner'


def test_apply_async_on_a_full_pool_does_not_block(lib):
    pool = lib.pool.Pool(1)
    pool.spawn(lib.top.sleep, 0.002)
    g = pool.apply_async(lambda: 'later')
    assert g.get() == 'later'


def test_map_async_and_map_cb(lib):
    pool = lib.pool.Pool(2)
    seen = []
    g = pool.map_async(lambda x: -x, [1, 2], callback=seen.append)
    assert g.get() == [-1, -2]
    assert seen == [[-1, -2]]
    assert pool.map_cb(abs, [-3], callback=seen.append) == [3]


def test_group_spawn_rejects_non_callable(lib):
    with pytest.raises(TypeError):
        lib.pool.Group().spawn(3)


def test_imap_maxsize_zero_is_unbounded_and_negative_refused(lib):
    pool = lib.pool.Pool(3)
    assert list(pool.imap(abs, [-1, -2, -3], maxsize=0)) == [1, 2, 3]
    assert sorted(pool.imap_unordered(abs, [-1, -2], maxsize=0)) == [1, 2]
    with pytest.raises(ValueError):
        list(pool.imap(abs, [-1], maxsize=-1))


def test_killone_waits_only_when_it_does_the_killing(lib, errors):
    shots = []

    def undead():
        while True:
            try:
                lib.top.sleep(1)
            except lib.top.GreenletExit:
                shots.append(1)
    g = lib.top.spawn(undead)
    lib.top.sleep(0)
    group = lib.pool.Group([g])
    group.killone(g, block=False)
    lib.top.sleep(0)
    assert shots == [1]
    # already dying: neither killed again nor waited for (it never dies)
    group.killone(g)
    group.killone(g, timeout=5)
    assert shots == [1] and not g.dead
    g.kill(ValueError)  # end it for good
    assert g.dead


def test_imap_members_keep_no_instance_dict_and_results_stay_in_order(gc_lib):
    import gc
    seen = []
    pool = gc_lib.pool.Pool(3)

    def work(x):
        gc_lib.top.sleep(0.001 * (5 - x))
        seen.append(gc_lib.top.getcurrent())
        return x * 10

    assert list(pool.imap(work, range(5))) == [0, 10, 20, 30, 40]
    assert len(seen) == 5
    # the only dict they hold is the spawn tree's, shared with their spawner
    assert all(r is g.spawn_tree_locals for g in seen for r in gc.get_referents(g)
               if type(r) is dict)
    assert len(pool) == 0 and pool.free_count() == 3


def test_discard_unlinks_the_shared_link(lib):
    group = lib.pool.Group()
    ev = lib.event.Event()
    g = group.spawn(ev.wait)
    group.discard(g)
    assert g not in group and not g.has_links()
    ev.set()
    g.join()


def test_map_raises_the_first_failure_in_input_order(lib, errors):
    pool = lib.pool.Pool(4)
    ran = []

    def work(x):
        # item 3 fails first in time, item 1 fails later: map raises item 1's
        lib.top.sleep(0.001 * (4 - x))
        ran.append(x)
        if x in (1, 3):
            raise KeyError(x)
        return x

    with pytest.raises(KeyError) as info:
        pool.map(work, range(6))
    assert info.value.args == (1,)
    pool.join()
    assert sorted(ran) == [0, 1, 2, 3, 4, 5]  # every item was spawned


def test_map_is_bounded_by_the_pool_size(lib):
    pool = lib.pool.Pool(3)
    running = [0]
    peak = [0]

    def work(x):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        lib.top.sleep(0.001)
        running[0] -= 1
        return -x

    assert pool.map(work, range(10)) == [-x for x in range(10)]
    assert peak[0] == 3
    assert len(pool) == 0 and pool.free_count() == 3


def test_map_accepts_any_iterable_and_a_group(lib):
    group = lib.pool.Group()
    assert group.map(str, (x for x in range(4))) == ['0', '1', '2', '3']
    assert lib.pool.Pool(2).map(len, iter(['a', 'bb', ''])) == [1, 2, 0]
    assert len(group) == 0


@pytest.mark.parametrize('which', ['add', 'start'])
def test_pool_spawn_and_map_go_through_a_subclass_add_or_start(lib, which):
    calls = []

    class Counted(lib.pool.Pool):
        if which == 'add':
            def add(self, greenlet, *args, **kwargs):
                calls.append(greenlet)
                return lib.pool.Pool.add(self, greenlet, *args, **kwargs)
        else:
            def start(self, greenlet, *args, **kwargs):
                calls.append(greenlet)
                return lib.pool.Pool.start(self, greenlet, *args, **kwargs)

    pool = Counted(2)
    g = pool.spawn(lambda: 5)
    assert calls == [g] and g.get() == 5
    assert pool.map(abs, [-1, -2, -3]) == [1, 2, 3]
    assert len(calls) == 4
    pool.join()
    assert pool.free_count() == 2


@pytest.mark.parametrize('which', ['add', 'start'])
def test_group_spawn_goes_through_a_subclass_add_or_start(lib, which):
    calls = []

    class Counted(lib.pool.Group):
        if which == 'add':
            def add(self, greenlet):
                calls.append(greenlet)
                return lib.pool.Group.add(self, greenlet)
        else:
            def start(self, greenlet):
                calls.append(greenlet)
                return lib.pool.Group.start(self, greenlet)

    group = Counted()
    g = group.spawn(lambda: 5)
    assert calls == [g] and g in group
    assert group.join() is True and g.value == 5 and len(group) == 0


def test_pool_subclass_discard_override_is_called_per_member(lib):
    discarded = []

    class Watched(lib.pool.Pool):
        def _discard(self, greenlet):
            discarded.append(greenlet)
            lib.pool.Pool._discard(self, greenlet)

    pool = Watched(2)
    glets = [pool.spawn(lambda x=x: x) for x in range(4)]
    pool.join()
    assert sorted(discarded, key=id) == sorted(glets, key=id)
    assert pool.free_count() == 2 and len(pool) == 0


def test_pool_spawn_of_a_bad_greenlet_class_keeps_the_slot(lib):
    # as gevent: the member is added, then its start() fails; it stays
    pool = lib.pool.Pool(1)
    pool.greenlet_class = lambda *a, **k: object()  # not a greenlet at all
    with pytest.raises(AttributeError):
        pool.spawn(lambda: 1)
    assert len(pool) == 1 and pool.free_count() == 0


def test_pool_spawn_refused_add_releases_the_slot(lib):
    pool = lib.pool.Pool(1)

    class Unhashable(lib.greenlet.Greenlet):
        __hash__ = None

    pool.greenlet_class = Unhashable
    with pytest.raises(TypeError):
        pool.spawn(lambda: 1)
    assert pool.free_count() == 1
    g = lib.pool.Pool(1).spawn(lambda: 2)
    assert g.get() == 2


def test_pool_add_patched_on_the_class_later_is_honoured(lib, monkeypatch):
    calls = []
    plain_add = lib.pool.Pool.add

    def add(self, greenlet, *args, **kwargs):
        calls.append(greenlet)
        return plain_add(self, greenlet, *args, **kwargs)

    pool = lib.pool.Pool(2)
    group = lib.pool.Group()
    monkeypatch.setattr(lib.pool.Pool, 'add', add)
    g = pool.spawn(lambda: 1)
    assert calls == [g]
    assert pool.map(abs, [-1, -2]) == [1, 2] and len(calls) == 3
    pool.join()
    assert pool.free_count() == 2
    monkeypatch.undo()
    group_calls = []
    plain_start = lib.pool.Group.start
    monkeypatch.setattr(lib.pool.Group, 'start',
                        lambda self, glet: group_calls.append(glet) or plain_start(self, glet))
    h = group.spawn(lambda: 2)
    assert group_calls == [h] and h.get() == 2


def test_start_or_add_set_on_the_instance_is_honoured(lib):
    calls = []
    pool = lib.pool.Pool(2)
    plain_add = pool.add
    pool.add = lambda greenlet, *a, **k: calls.append(('add', greenlet)) or plain_add(greenlet, *a, **k)
    g = pool.spawn(lambda: 1)
    assert calls == [('add', g)] and g.get() == 1
    group = lib.pool.Group()
    plain_start = group.start
    group.start = lambda greenlet: calls.append(('start', greenlet)) or plain_start(greenlet)
    h = group.spawn(lambda: 2)
    assert calls[-1] == ('start', h) and h.get() == 2
    pool.join()
    assert pool.free_count() == 2 and len(group) == 0
