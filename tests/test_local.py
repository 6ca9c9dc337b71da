"""Greenlet-local storage."""
import gc
import weakref

import pytest

from _hubtest import clean_hub, lib, gc_lib  # noqa: F401 -- fixtures


def test_values_are_private_to_each_greenlet(lib):
    data = lib.local.local()
    data.x = 'main'
    seen = []

    def worker(i):
        assert not hasattr(data, 'x')
        data.x = i
        lib.top.sleep(0)
        seen.append(data.x)

    lib.top.joinall([lib.top.spawn(worker, i) for i in range(3)])
    assert sorted(seen) == [0, 1, 2]
    assert data.x == 'main'


def test_subclass_init_runs_per_greenlet_with_constructor_arguments(lib):
    class Counter(lib.local.local):
        def __init__(self, start):
            self.value = start

        def bump(self):
            self.value += 1
            return self.value

    c = Counter(10)
    assert c.bump() == 11
    g = lib.top.spawn(c.bump)
    assert g.get() == 11
    assert c.value == 11


def test_class_attributes_and_properties(lib):
    class WithProp(lib.local.local):
        default = 'cls'

        @property
        def computed(self):
            return 'prop'

    w = WithProp()
    assert w.default == 'cls' and w.computed == 'prop'
    w.default = 'inst'
    assert w.default == 'inst'
    with pytest.raises(AttributeError):
        w.computed = 1


def test_missing_attribute_and_delete(lib):
    data = lib.local.local()
    with pytest.raises(AttributeError):
        data.nope
    data.a = 1
    del data.a
    with pytest.raises(AttributeError):
        del data.a


def test_dict_is_per_greenlet(lib):
    data = lib.local.local()
    data.a = 1
    assert data.__dict__ == {'a': 1}
    assert lib.top.spawn(lambda: data.__dict__).get() == {}


def test_arguments_without_init_raise(lib):
    with pytest.raises(TypeError):
        lib.local.local(1)


def test_values_are_released_when_the_greenlet_is_collected(lib):
    data = lib.local.local()

    class Payload:
        pass

    refs = []

    def worker():
        payload = Payload()
        refs.append(weakref.ref(payload))
        data.payload = payload

    g = lib.top.spawn(worker)
    g.join()
    lib.top.sleep(0)  # let the hub finish notifying g's links
    del g
    gc.collect()
    assert refs[0]() is None


def test_values_are_released_when_the_local_is_collected(lib):
    class Payload:
        pass

    data = lib.local.local()
    data.p = Payload()
    ref = weakref.ref(data.p)
    del data
    gc.collect()
    assert ref() is None


def test_copy_shares_what_a_subclass_keeps_in_slots(lib):
    import copy

    class WithSlots(lib.local.local):
        __slots__ = ['shared']

        def __init__(self, value):
            self.shared = value

    marker = object()
    a = WithSlots(marker)
    a.own = 'mine'
    b = copy.copy(a)
    assert b.shared is marker and b.own == 'mine'
    b.own = 'theirs'
    assert a.own == 'mine'


def test_all_local_dicts_for_greenlet(lib):
    seen = {}

    def run():
        x = lib.local.local()
        x.foo = 42
        seen['id'] = id(x)
        seen['dicts'] = lib.local.all_local_dicts_for_greenlet(lib.hub.getcurrent())
    lib.top.spawn(run).join()
    assert seen['dicts'] == [((lib.local.local, seen['id']), {'foo': 42})]
