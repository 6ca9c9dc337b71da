"""Cooperative selectors: :class:`GeventSelector`, also :data:`DefaultSelector`.

``GeventSelector`` is the stdlib's poll-based selector driven by
:class:`gevent_c.select.poll`, so ``select(timeout)`` lets other greenlets
run while it waits and otherwise behaves exactly as ``selectors.PollSelector``
(same keys, events, errors and timeout rounding).

    from gevent_c import selectors
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, data='client')
    for key, events in sel.select(timeout=1.0):
        ...
"""
import selectors as _stdselectors

from gevent_c._stdlib import copy_names
from gevent_c import select as _gselect

__implements__ = ['DefaultSelector']
__extensions__ = ['GeventSelector']
__imports__ = copy_names(_stdselectors, globals(), [
    'BaseSelector', 'SelectorKey', 'EVENT_READ', 'EVENT_WRITE', 'SelectSelector',
    'PollSelector', 'EpollSelector', 'DevpollSelector', 'KqueueSelector'])
__all__ = __implements__ + __extensions__ + __imports__
# Blocking, with no cooperative version: monkey.patch_selectors(aggressive=True) removes them.
__aggressive_removes__ = ['EpollSelector', 'KqueueSelector', 'DevpollSelector']


class GeventSelector(_stdselectors._PollLikeSelector):
    """A selector whose ``select()`` waits on the hub (poll semantics)."""

    _selector_cls = _gselect.poll
    _EVENT_READ = _gselect._stdselect.POLLIN
    _EVENT_WRITE = _gselect._stdselect.POLLOUT


DefaultSelector = GeventSelector


def _gevent_did_monkey_patch(target, items, warn):
    """The stdlib's poll and select selectors captured ``select.poll`` and
    ``select.select`` when ``selectors`` was imported (and socketserver,
    subprocess, multiprocessing hold these classes): make them cooperative."""
    poll_selector = getattr(_stdselectors, 'PollSelector', None)
    if poll_selector is not None:
        poll_selector._selector_cls = _gselect.poll
    _stdselectors.SelectSelector._select = staticmethod(_gselect.select)
