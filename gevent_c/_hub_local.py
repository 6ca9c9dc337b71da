"""The per-thread hub registry: one hub (and at most one stashed loop) per thread."""
import _thread

__all__ = [
    'get_hub', 'get_hub_noargs', 'get_hub_if_exists', 'set_hub',
    'get_loop', 'set_loop', 'get_hub_class', 'set_default_hub_class',
]


class _ThreadState(_thread._local):
    hub = None
    loop = None
    hub_class = None


_state = _ThreadState()
_default_hub_class = None


def set_default_hub_class(hubtype):
    """Make *hubtype* the class that ``get_hub`` instantiates in new threads."""
    global _default_hub_class
    _default_hub_class = hubtype


def get_hub_class():
    """The hub class for this thread (the default unless one was set)."""
    hubtype = _state.hub_class
    if hubtype is None:
        hubtype = _state.hub_class = _default_hub_class
    return hubtype


def set_hub(hub):
    """Make *hub* this thread's hub (None forgets it)."""
    _state.hub = hub


def get_hub_if_exists():
    """This thread's hub, or None if none was created yet."""
    return _state.hub


def get_hub():
    """This thread's hub, created on first use."""
    hub = _state.hub
    if hub is None:
        hub = _state.hub = get_hub_class()()
    return hub


get_hub_noargs = get_hub


def get_loop():
    """The loop stashed for reuse by the next hub of this thread, or None."""
    return _state.loop


def set_loop(loop):
    _state.loop = loop


# ext/core keeps the same registry in C (get_hub is on every blocking path);
# its functions replace the ones above.
try:
    from gevent_c._core import (  # noqa: F811
        get_hub, get_hub_if_exists, set_hub, get_loop, set_loop,
        get_hub_class, set_default_hub_class)
except ImportError:  # an older _core without the hub primitives
    pass
else:
    get_hub_noargs = get_hub
