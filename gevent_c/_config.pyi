"""Type stubs for gevent_c._config: the ``gevent_c.config`` settings object."""
from typing import Any, Callable

__all__ = ['config', 'Config']

class Setting:
    name: str | None
    default: Any
    doc: str
    def get(self) -> Any: ...
    def set(self, value: Any) -> None: ...
    @property
    def is_assigned(self) -> bool: ...
    @property
    def environment_key(self) -> str: ...
    environment_keys: tuple[str, ...]
    @staticmethod
    def validate(value: Any) -> Any: ...

class Config:
    settings: dict[str, Setting]
    # Each setting may also be assigned a dotted name or a list of them
    # ("gevent_c.resolver.ares.Resolver"); reading it gives the object.
    resolver: type[Any]
    threadpool: type[Any]
    loop: type[Any]
    fileobject: type[Any]
    format_context: Callable[[Any], str]
    threadpool_size: int
    threadpool_idle_task_timeout: float
    libev_backend: str | None
    disable_watch_children: bool
    track_greenlet_tree: bool
    monitor_thread: bool
    max_blocking_time: float
    print_blocking_reports: bool
    memory_monitor_period: float
    max_memory_usage: int | None
    trace_malloc: bool | None
    blocking_threshold: float | None
    resolver_nameservers: Any
    resolver_timeout: float | None
    ares_flags: Any
    ares_timeout: float | None
    ares_tries: int | None
    ares_ndots: int | None
    ares_udp_port: int | None
    ares_tcp_port: int | None
    ares_servers: Any
    def set(self, name: str, value: Any) -> None: ...
    def print_help(self) -> None: ...

config: Config
