"""Workload bodies, one module per layer; importing registers them."""
from . import core, coroutine, dns, http, hub, io  # noqa: F401
