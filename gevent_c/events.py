"""Publish/subscribe events: what gevent_c tells interested code.

An event is an object; a subscriber is any callable taking one event.
Append subscribers to :data:`subscribers`; :func:`notify` hands an event to
each in order (an exception stops the delivery and propagates). Events of
monkey-patching are also delivered to the plugins registered under the
event's ``ENTRY_POINT_NAME`` entry-point group (see
:func:`notify_and_call_entry_points`)::

    from gevent_c import events

    def log_patches(event):
        if isinstance(event, events.GeventDidPatchModuleEvent):
            print('patched', event.module_name)

    events.subscribers.append(log_patches)

When :mod:`zope.event` is installed, :data:`subscribers` and :func:`notify`
are zope.event's own, so zope.event/zope.component subscribers see gevent_c's
events; when :mod:`zope.interface` is installed, the ``I...`` interfaces are
real zope interfaces that the event classes declare. Without them the same
names exist as plain classes.

Differences from gevent: the plugin entry-point groups are named
``gevent_c.plugins...`` (gevent's plugins import gevent itself).
"""

__all__ = [
    'subscribers', 'notify', 'notify_and_call_entry_points',
    # monitor thread
    'IEventLoopBlocked', 'EventLoopBlocked',
    'IMemoryUsageThresholdExceeded', 'MemoryUsageThresholdExceeded',
    'IMemoryUsageUnderThreshold', 'MemoryUsageUnderThreshold',
    # hub
    'IPeriodicMonitorThread', 'IPeriodicMonitorThreadStartedEvent',
    'PeriodicMonitorThreadStartedEvent',
    # monkey
    'IGeventPatchEvent', 'GeventPatchEvent',
    'IGeventWillPatchEvent', 'DoNotPatch', 'GeventWillPatchEvent',
    'IGeventDidPatchEvent', 'GeventDidPatchEvent',
    'IGeventWillPatchModuleEvent', 'GeventWillPatchModuleEvent',
    'IGeventDidPatchModuleEvent', 'GeventDidPatchModuleEvent',
    'IGeventWillPatchAllEvent', 'GeventWillPatchAllEvent',
    'IGeventDidPatchBuiltinModulesEvent', 'GeventDidPatchBuiltinModulesEvent',
    'IGeventDidPatchAllEvent', 'GeventDidPatchAllEvent',
]

try:
    from zope.event import subscribers, notify
except ImportError:
    #: The subscribers: callables taking one event, called in order.
    subscribers = []

    def notify(event):
        """Give *event* to every subscriber in turn."""
        for subscriber in subscribers:
            subscriber(event)

try:
    from zope.interface import Attribute, Interface, implementer
except ImportError:
    class Interface:
        """Stand-in for zope.interface.Interface (zope.interface is not installed)."""

    class Attribute:
        """Stand-in for zope.interface.Attribute: documents an attribute."""

        def __init__(self, doc):
            self.__doc__ = doc

    def implementer(*interfaces):
        def declare(cls):
            cls.__implemented__ = interfaces
            return cls
        return declare


def notify_and_call_entry_points(event):
    """Notify the subscribers, then call each plugin of the entry-point
    group ``event.ENTRY_POINT_NAME`` with *event*."""
    notify(event)
    for plugin in _plugins(event.ENTRY_POINT_NAME):
        plugin.load()(event)


_plugin_cache = [None, {}]   # the sys.path they were read for, {group: entry points}


def _plugins(group):
    # Reading every distribution's entry points costs milliseconds, and
    # patch_all sends two dozen events: read them once per sys.path.
    import sys
    path = tuple(sys.path)
    if _plugin_cache[0] != path:
        from importlib import metadata
        groups = {}
        seen = set()
        for dist in metadata.distributions():
            # (the name from the .dist-info folder, not from parsing METADATA)
            name = getattr(dist, '_normalized_name', None) or dist.name
            if name in seen:     # the first on sys.path wins, as for imports
                continue
            seen.add(name)
            for entry_point in dist.entry_points:
                if entry_point.group.startswith('gevent_c.plugins.'):
                    groups.setdefault(entry_point.group, []).append(entry_point)
        _plugin_cache[:] = [path, groups]
    return _plugin_cache[1].get(group, ())


# -- the hub's periodic monitor ----------------------------------------

class IPeriodicMonitorThread(Interface):
    """A native thread that watches a hub and calls monitoring functions."""

    def add_monitoring_function(function, period):  # noqa: N805 -- an interface
        """Call *function(hub)* about every *period* seconds in the monitor
        thread (never use the cooperative API there); *period* None removes
        it, a period <= 0 is refused."""


class IPeriodicMonitorThreadStartedEvent(Interface):
    """Emitted when a hub starts its periodic monitoring thread."""

    monitor = Attribute('The IPeriodicMonitorThread that was started.')


@implementer(IPeriodicMonitorThreadStartedEvent)
class PeriodicMonitorThreadStartedEvent:
    """A periodic monitor thread was started (add monitoring functions here)."""

    ENTRY_POINT_NAME = 'gevent_c.plugins.hub.periodic_monitor_thread_started'

    def __init__(self, monitor):
        self.monitor = monitor


class IEventLoopBlocked(Interface):
    """Emitted (in the monitor thread) when the loop has not run for too long."""

    greenlet = Attribute('The greenlet that appeared to block the loop.')
    blocking_time = Attribute('About how many seconds the loop has been blocked.')
    info = Attribute('A list of text lines with details; may be modified.')
    hub = Attribute('The hub that is blocked, or None.')


@implementer(IEventLoopBlocked)
class EventLoopBlocked:
    """The loop of *hub* was blocked by *greenlet* for *blocking_time* seconds."""

    def __init__(self, greenlet, blocking_time, info, *, hub=None):
        self.greenlet = greenlet
        self.blocking_time = blocking_time
        self.info = info
        self.hub = hub


class IMemoryUsageThresholdExceeded(Interface):
    """Emitted (in the monitor thread) while memory use grows past the limit."""

    mem_usage = Attribute('The process memory usage, in bytes.')
    max_allowed = Attribute('The configured limit, in bytes.')
    memory_info = Attribute('The memory statistics psutil reported.')


class _MemoryEvent:

    def __init__(self, mem_usage, max_allowed, memory_info):
        self.mem_usage = mem_usage
        self.max_allowed = max_allowed
        self.memory_info = memory_info

    def __repr__(self):
        return '<%s used=%d max=%d details=%r>' % (
            type(self).__name__, self.mem_usage, self.max_allowed, self.memory_info)


@implementer(IMemoryUsageThresholdExceeded)
class MemoryUsageThresholdExceeded(_MemoryEvent):
    """Memory use is above *max_allowed*."""


class IMemoryUsageUnderThreshold(Interface):
    """Emitted once when memory use falls back under the limit."""

    mem_usage = Attribute('The process memory usage, in bytes.')
    max_allowed = Attribute('The configured limit, in bytes.')
    max_memory_usage = Attribute('The usage reported by the previous exceeded event.')
    memory_info = Attribute('The memory statistics psutil reported.')


@implementer(IMemoryUsageUnderThreshold)
class MemoryUsageUnderThreshold(_MemoryEvent):
    """Memory use is back under *max_allowed* (it had reached *max_usage*)."""

    def __init__(self, mem_usage, max_allowed, memory_info, max_usage):
        _MemoryEvent.__init__(self, mem_usage, max_allowed, memory_info)
        self.max_memory_usage = max_usage


# -- monkey-patching -----------------------------------------------------

class IGeventPatchEvent(Interface):
    """The base of every monkey-patching event."""

    source = Attribute('The object holding the replacements.')
    target = Attribute('The object being patched.')


@implementer(IGeventPatchEvent)
class GeventPatchEvent:
    """Patching *target* from *source*."""

    def __init__(self, source, target):
        self.source = source
        self.target = target

    def __repr__(self):
        return '<%s source=%r target=%r at %x>' % (
            type(self).__name__, self.source, self.target, id(self))


class IGeventWillPatchEvent(IGeventPatchEvent):
    """Emitted before patching; a subscriber raising DoNotPatch cancels it."""


class DoNotPatch(BaseException):
    """Raised by a will-patch subscriber to cancel that patch."""


@implementer(IGeventWillPatchEvent)
class GeventWillPatchEvent(GeventPatchEvent):
    """Something is about to be patched."""


class IGeventDidPatchEvent(IGeventPatchEvent):
    """Emitted after something was patched."""


@implementer(IGeventDidPatchEvent)
class GeventDidPatchEvent(GeventPatchEvent):
    """Something was patched."""


class IGeventWillPatchModuleEvent(IGeventWillPatchEvent):
    """Emitted before a module is patched (source and target are modules)."""

    module_name = Attribute('The name of the module patched (target.__name__).')
    target_item_names = Attribute('The names to patch; may be modified in place.')


@implementer(IGeventWillPatchModuleEvent)
class GeventWillPatchModuleEvent(GeventWillPatchEvent):
    """Module *module_name* is about to get *items* from *source*."""

    ENTRY_POINT_NAME = 'gevent_c.plugins.monkey.will_patch_module'

    def __init__(self, module_name, source, target, items):
        GeventWillPatchEvent.__init__(self, source, target)
        self.module_name = module_name
        self.target_item_names = items


class IGeventDidPatchModuleEvent(IGeventDidPatchEvent):
    """Emitted after a module was patched."""

    module_name = Attribute('The name of the module patched (target.__name__).')


@implementer(IGeventDidPatchModuleEvent)
class GeventDidPatchModuleEvent(GeventDidPatchEvent):
    """Module *module_name* was patched."""

    ENTRY_POINT_NAME = 'gevent_c.plugins.monkey.did_patch_module'

    def __init__(self, module_name, source, target):
        GeventDidPatchEvent.__init__(self, source, target)
        self.module_name = module_name


class IGeventWillPatchAllEvent(IGeventWillPatchEvent):
    """Emitted when patch_all starts; DoNotPatch cancels all of it."""

    patch_all_arguments = Attribute('The arguments of patch_all (a copy).')
    patch_all_kwargs = Attribute('The extra keyword arguments of patch_all (a copy).')

    def will_patch_module(module_name):  # noqa: N805 -- an interface
        """Whether the module named *module_name* will be patched."""


class _PatchAllMixin:

    def __init__(self, patch_all_arguments, patch_all_kwargs):
        super().__init__(None, None)
        self._patch_all_arguments = patch_all_arguments
        self._patch_all_kwargs = patch_all_kwargs

    @property
    def patch_all_arguments(self):
        return self._patch_all_arguments.copy()

    @property
    def patch_all_kwargs(self):
        return self._patch_all_kwargs.copy()

    def __repr__(self):
        return '<%s %r at %x>' % (type(self).__name__, self._patch_all_arguments, id(self))


@implementer(IGeventWillPatchAllEvent)
class GeventWillPatchAllEvent(_PatchAllMixin, GeventWillPatchEvent):
    """patch_all is about to patch the modules its arguments name."""

    ENTRY_POINT_NAME = 'gevent_c.plugins.monkey.will_patch_all'

    def will_patch_module(self, module_name):
        return self._patch_all_arguments.get(module_name)


class IGeventDidPatchBuiltinModulesEvent(IGeventDidPatchEvent):
    """Emitted once patch_all patched the stdlib: the time to patch third-party code."""

    patch_all_arguments = Attribute('The arguments of patch_all (a copy).')
    patch_all_kwargs = Attribute('The extra keyword arguments of patch_all (a copy).')


@implementer(IGeventDidPatchBuiltinModulesEvent)
class GeventDidPatchBuiltinModulesEvent(_PatchAllMixin, GeventDidPatchEvent):
    """patch_all has patched the standard library modules."""

    ENTRY_POINT_NAME = 'gevent_c.plugins.monkey.did_patch_builtins'


class IGeventDidPatchAllEvent(IGeventDidPatchEvent):
    """Emitted when patch_all is done, plugins included."""


@implementer(IGeventDidPatchAllEvent)
class GeventDidPatchAllEvent(_PatchAllMixin, GeventDidPatchEvent):
    """patch_all is done."""

    ENTRY_POINT_NAME = 'gevent_c.plugins.monkey.did_patch_all'
