"""Workload bodies, one module per layer; importing registers them."""
from . import core, coroutine, dns, hub, io  # noqa: F401
