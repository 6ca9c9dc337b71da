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
import os as _os
import selectors as _stdselectors

from gevent_c._stdlib import copy_names
from gevent_c import select as _gselect

__implements__ = ['DefaultSelector']
__extensions__ = ['GeventSelector']
__imports__ = copy_names(_stdselectors, globals(), [
    'BaseSelector', 'SelectorKey', 'EVENT_READ', 'EVENT_WRITE', 'SelectSelector',
    'PollSelector', 'EpollSelector', 'DevpollSelector', 'KqueueSelector'])
__all__ = __implements__ + __extensions__ + __imports__
# the helpers the stdlib module imported are reachable here too, as in gevent
ABCMeta, Mapping = _stdselectors.ABCMeta, _stdselectors.Mapping
abstractmethod, namedtuple = _stdselectors.abstractmethod, _stdselectors.namedtuple
# Blocking, with no cooperative version: monkey.patch_selectors(aggressive=True) removes them.
__aggressive_removes__ = ['EpollSelector', 'KqueueSelector', 'DevpollSelector']


class GeventSelector(_stdselectors._PollLikeSelector):
    """A selector whose ``select()`` waits on the hub (poll semantics)."""

    _selector_cls = _gselect.poll
    _EVENT_READ = _gselect._stdselect.POLLIN
    _EVENT_WRITE = _gselect._stdselect.POLLOUT

    def register(self, fileobj, events, data=None):
        """As PollSelector's; a descriptor that is not open is refused at
        once with ValueError (as gevent), instead of never becoming ready."""
        key = _stdselectors._PollLikeSelector.register(self, fileobj, events, data)
        try:
            _os.fstat(key.fd)
        except OSError:
            _stdselectors._PollLikeSelector.unregister(self, fileobj)
            raise ValueError('Invalid file descriptor: {}'.format(key.fd)) from None
        return key


DefaultSelector = GeventSelector


def _gevent_did_monkey_patch(target, items, warn):
    """The stdlib's poll and select selectors captured ``select.poll`` and
    ``select.select`` when ``selectors`` was imported (and socketserver,
    subprocess, multiprocessing hold these classes): make them cooperative."""
    poll_selector = getattr(_stdselectors, 'PollSelector', None)
    if poll_selector is not None:
        poll_selector._selector_cls = _gselect.poll
    _stdselectors.SelectSelector._select = staticmethod(_gselect.select)
