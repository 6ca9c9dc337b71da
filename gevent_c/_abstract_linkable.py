"""The base of Event, AsyncResult and Semaphore: an ordered list of links.

A link is a callable run as ``link(self)`` from the hub when the object becomes
ready. Links run in the order added, once each. One notifier callback per
object and batch is scheduled on the loop, however many links there are.
Making the object ready from another native thread (``Event.set``,
``AsyncResult.set``, ``Semaphore.release``) wakes the waiters' hub safely.
"""
import sys

from gevent_c._hub_local import get_hub
from gevent_c._hub_local import get_hub_if_exists
from gevent_c.hub import Waiter

__all__ = ['AbstractLinkable']


class AbstractLinkable:
    """Links plus the machinery to block the current greenlet until ready."""

    __slots__ = ('hub', '_links', '_notifier', '__weakref__')

    #: True: notify every link once ready; False: only while still ready
    #: (a Semaphore wakes one waiter per released slot).
    _notify_all = True

    def __init__(self, hub=None):
        self.hub = hub
        self._links = []
        self._notifier = None

    def ready(self):
        raise NotImplementedError

    def linkcount(self):
        """Number of links waiting for this object."""
        return len(self._links)

    def rawlink(self, callback):
        """Call ``callback(self)`` from the hub once this object is ready."""
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        if self.hub is None:
            self.hub = get_hub()
        self._links.append(callback)
        self._check_and_notify()

    def unlink(self, callback):
        """Remove *callback* if it was linked and has not run yet."""
        try:
            self._links.remove(callback)
        except ValueError:
            pass

    def _check_and_notify(self):
        if self._notifier is None and self._links and self.ready():
            hub = self.hub
            if hub is None:
                hub = self.hub = get_hub()
            if get_hub_if_exists() is hub:
                self._notifier = hub.loop.run_callback(self._notify_links)
            else:
                # Made ready from another thread: wake the hub's loop.
                self._notifier = hub.loop.run_callback_threadsafe(self._notify_links)

    def _notify_links(self):
        links = self._links
        try:
            if links:
                only_while_ready = not self._notify_all
                final_link = links[-1]
                handle_error = self.hub.handle_error
                while links:
                    if only_while_ready and not self.ready():
                        break
                    link = links.pop(0)
                    try:
                        link(self)
                    except:  # noqa: E722 -- one failing link must not starve the others
                        handle_error((link, self), *sys.exc_info())
                    if link is final_link:
                        break
        finally:
            self._notifier = None
        # Links added while notifying run in a following batch.
        self._check_and_notify()

    def _wait_core(self, timeout):
        """Block until a notification (True) or *timeout* seconds (False)."""
        hub = self.hub
        if hub is None:
            hub = self.hub = get_hub()
        waiter = Waiter(hub)
        switch = waiter.switch
        self._links.append(switch)
        self._check_and_notify()
        if timeout is None:
            try:
                result = waiter.get()
            except:  # noqa: E722 -- killed or timed out from outside
                self.unlink(switch)
                raise
        else:
            timer = hub.loop.timer(timeout)
            timer.start(switch, None, update=True)
            try:
                result = waiter.get()
            except:  # noqa: E722
                self.unlink(switch)
                raise
            finally:
                timer.close()
        if result is self:
            return True
        self.unlink(switch)
        return False


# ext/core provides the same base in C (same methods and attributes); it
# replaces this one, and event.py/lock.py build on it.
from gevent_c import _core  # noqa: E402
AbstractLinkable = getattr(_core, 'AbstractLinkable', AbstractLinkable)
