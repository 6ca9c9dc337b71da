"""gevent_c.selectors: GeventSelector (= DefaultSelector) waits on the hub."""
import os
import selectors as stdselectors

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c
from gevent_c import selectors


def test_default_selector_is_the_gevent_selector():
    assert selectors.DefaultSelector is selectors.GeventSelector
    assert issubclass(selectors.GeventSelector, stdselectors.BaseSelector)
    assert selectors.EVENT_READ == stdselectors.EVENT_READ
    assert selectors.SelectorKey is stdselectors.SelectorKey


def test_register_select_modify_unregister(pair):
    a, b = pair
    with selectors.DefaultSelector() as sel:
        key = sel.register(b, selectors.EVENT_READ, data='b')
        assert key.fd == b.fileno() and key.data == 'b'
        assert sel.select(0) == []
        a.send(b'x')
        assert sel.select(1) == [(key, selectors.EVENT_READ)]
        key = sel.modify(b, selectors.EVENT_READ | selectors.EVENT_WRITE, data='rw')
        assert sel.select() == [(key, selectors.EVENT_READ | selectors.EVENT_WRITE)]
        assert sel.get_map()[b].data == 'rw'
        sel.unregister(b)
        assert sel.select(0) == []
        with pytest.raises(KeyError):
            sel.unregister(b)
        with pytest.raises(ValueError):
            sel.register(b, 0)


def test_select_waits_cooperatively_and_times_out(pair):
    a, b = pair
    sel = selectors.GeventSelector()
    key = sel.register(b, selectors.EVENT_READ)
    assert sel.select(0.01) == []
    g = gevent_c.spawn(sel.select)
    gevent_c.sleep(0.01)
    assert not g.dead
    a.send(b'x')
    assert g.get() == [(key, selectors.EVENT_READ)]
    sel.close()


def test_errors_match_the_stdlib_poll_selector(pair):
    a, b = pair
    for cls in (selectors.GeventSelector, stdselectors.PollSelector):
        sel = cls()
        with pytest.raises(ValueError):
            sel.register(-1, selectors.EVENT_READ)
        with pytest.raises(ValueError):
            sel.register(b, 4)
        sel.register(b, selectors.EVENT_READ)
        with pytest.raises(KeyError):
            sel.register(b, selectors.EVENT_READ)
        sel.close()


def test_registering_a_closed_descriptor_is_a_value_error():
    from gevent_c import selectors as gselectors
    r, w = os.pipe()
    os.close(r)
    sel = gselectors.GeventSelector()
    try:
        with pytest.raises(ValueError, match='Invalid file'):
            sel.register(r, gselectors.EVENT_READ)
        assert sel.get_map() == {} or len(sel.get_map()) == 0
        sel.register(w, gselectors.EVENT_WRITE)
        assert [key.fd for key, _ in sel.select(1)] == [w]
    finally:
        sel.close()
        os.close(w)


def test_helpers_the_stdlib_module_imported_are_here_too():
    import selectors as stdselectors
    from gevent_c import selectors as gselectors
    for name in ('ABCMeta', 'Mapping', 'abstractmethod', 'namedtuple'):
        assert getattr(gselectors, name) is getattr(stdselectors, name)
