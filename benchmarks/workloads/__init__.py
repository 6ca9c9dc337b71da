"""Workload bodies, one module per layer; importing registers them."""
from . import core, coroutine, hub, io  # noqa: F401
