"""Type stubs for gevent_c.events (subscribers and the event classes)."""
from types import ModuleType
from typing import Any, Callable

from gevent_c._greenlet import greenlet as _RawGreenlet
from gevent_c.hub import Hub

__all__ = [
    'subscribers', 'notify', 'notify_and_call_entry_points',
    'IEventLoopBlocked', 'EventLoopBlocked',
    'IMemoryUsageThresholdExceeded', 'MemoryUsageThresholdExceeded',
    'IMemoryUsageUnderThreshold', 'MemoryUsageUnderThreshold',
    'IPeriodicMonitorThread', 'IPeriodicMonitorThreadStartedEvent',
    'PeriodicMonitorThreadStartedEvent',
    'IGeventPatchEvent', 'GeventPatchEvent',
    'IGeventWillPatchEvent', 'DoNotPatch', 'GeventWillPatchEvent',
    'IGeventDidPatchEvent', 'GeventDidPatchEvent',
    'IGeventWillPatchModuleEvent', 'GeventWillPatchModuleEvent',
    'IGeventDidPatchModuleEvent', 'GeventDidPatchModuleEvent',
    'IGeventWillPatchAllEvent', 'GeventWillPatchAllEvent',
    'IGeventDidPatchBuiltinModulesEvent', 'GeventDidPatchBuiltinModulesEvent',
    'IGeventDidPatchAllEvent', 'GeventDidPatchAllEvent',
]

# zope.event's list and function when zope.event is installed
subscribers: list[Callable[[Any], object]]
def notify(event: object) -> None: ...
def notify_and_call_entry_points(event: object) -> None: ...

# zope.interface interfaces when zope.interface is installed, else plain classes
IPeriodicMonitorThread: Any
IPeriodicMonitorThreadStartedEvent: Any
IEventLoopBlocked: Any
IMemoryUsageThresholdExceeded: Any
IMemoryUsageUnderThreshold: Any
IGeventPatchEvent: Any
IGeventWillPatchEvent: Any
IGeventDidPatchEvent: Any
IGeventWillPatchModuleEvent: Any
IGeventDidPatchModuleEvent: Any
IGeventWillPatchAllEvent: Any
IGeventDidPatchBuiltinModulesEvent: Any
IGeventDidPatchAllEvent: Any

class PeriodicMonitorThreadStartedEvent:
    ENTRY_POINT_NAME: str
    monitor: Any
    def __init__(self, monitor: Any) -> None: ...

class EventLoopBlocked:
    greenlet: _RawGreenlet | None
    blocking_time: float
    info: list[str]
    hub: Hub | None
    def __init__(self, greenlet: _RawGreenlet | None, blocking_time: float, info: list[str], *,
                 hub: Hub | None = None) -> None: ...

class _MemoryEvent:
    mem_usage: int
    max_allowed: int
    memory_info: Any
    def __init__(self, mem_usage: int, max_allowed: int, memory_info: Any) -> None: ...

class MemoryUsageThresholdExceeded(_MemoryEvent): ...

class MemoryUsageUnderThreshold(_MemoryEvent):
    max_memory_usage: int
    def __init__(self, mem_usage: int, max_allowed: int, memory_info: Any,
                 max_usage: int) -> None: ...

class GeventPatchEvent:
    source: ModuleType | None
    target: ModuleType | None
    def __init__(self, source: ModuleType | None, target: ModuleType | None) -> None: ...

class DoNotPatch(BaseException): ...

class GeventWillPatchEvent(GeventPatchEvent): ...
class GeventDidPatchEvent(GeventPatchEvent): ...

class GeventWillPatchModuleEvent(GeventWillPatchEvent):
    ENTRY_POINT_NAME: str
    module_name: str
    target_item_names: list[str]
    def __init__(self, module_name: str, source: ModuleType | None, target: ModuleType | None,
                 items: list[str]) -> None: ...

class GeventDidPatchModuleEvent(GeventDidPatchEvent):
    ENTRY_POINT_NAME: str
    module_name: str
    def __init__(self, module_name: str, source: ModuleType | None,
                 target: ModuleType | None) -> None: ...

class _PatchAllMixin:
    def __init__(self, patch_all_arguments: dict[str, Any],
                 patch_all_kwargs: dict[str, Any]) -> None: ...
    @property
    def patch_all_arguments(self) -> dict[str, Any]: ...
    @property
    def patch_all_kwargs(self) -> dict[str, Any]: ...

class GeventWillPatchAllEvent(_PatchAllMixin, GeventWillPatchEvent):
    ENTRY_POINT_NAME: str
    def will_patch_module(self, module_name: str) -> bool | None: ...

class GeventDidPatchBuiltinModulesEvent(_PatchAllMixin, GeventDidPatchEvent):
    ENTRY_POINT_NAME: str

class GeventDidPatchAllEvent(_PatchAllMixin, GeventDidPatchEvent):
    ENTRY_POINT_NAME: str
