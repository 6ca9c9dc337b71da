"""Type stubs for gevent_c.selectors: DefaultSelector waits on the hub."""
import selectors as _stdselectors
from selectors import BaseSelector as BaseSelector
from selectors import EVENT_READ as EVENT_READ
from selectors import EpollSelector as EpollSelector
from selectors import EVENT_WRITE as EVENT_WRITE
from selectors import PollSelector as PollSelector
from selectors import SelectorKey as SelectorKey
from selectors import SelectSelector as SelectSelector

__all__ = ['DefaultSelector', 'GeventSelector', 'BaseSelector', 'SelectorKey', 'EVENT_READ',
           'EVENT_WRITE', 'SelectSelector', 'PollSelector', 'EpollSelector']

class GeventSelector(_stdselectors.PollSelector): ...

DefaultSelector = GeventSelector
