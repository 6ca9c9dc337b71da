"""Type stubs for gevent_c.builtins (nothing to replace; see the module)."""
__all__: list[str] = []
