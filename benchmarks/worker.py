"""Run one measurement in this process and print it as JSON.

``python -m benchmarks.worker WORKLOAD IMPL N`` loads IMPL, runs the
workload body once on a tenth of N to warm up (unless the workload opts
out), then once on N, and prints one line::

    BENCH-RESULT {"value": 123.4, "unit": "ns", "ops": 100000}

or, when the implementation is missing or the body fails::

    BENCH-RESULT {"na": "reason"}

Only that line is read by the runner; anything else printed is ignored.
The process leaves with ``os._exit`` so tearing down 100,000 greenlets is
neither waited for nor able to spoil a measurement already taken.
"""
import gc
import json
import os
import sys

from . import registry

MARKER = "BENCH-RESULT "


def measure(name, impl, n):
    w = registry.get(name)
    body, api = w.load(impl)
    if w.warmup:
        body(api, max(1, n // 10))
        gc.collect()
    result = body(api, n)
    quantity, ops = result if isinstance(result, tuple) else (result, n)
    if w.unit == "ns":
        quantity *= 1e9
    return {"value": quantity / ops, "unit": w.unit, "ops": ops}


def describe(exc):
    """``kind: detail`` on one line; kind is missing, wrong result or error."""
    lines = str(exc).strip().splitlines()
    detail = lines[0] if lines else ""
    if isinstance(exc, registry.Unavailable):
        return f"missing: {detail}"
    if isinstance(exc, registry.WrongResult):
        return f"wrong result: {detail}"
    kind = "missing" if isinstance(exc, (ImportError, AttributeError)) else "error"
    name = type(exc).__name__
    return f"{kind}: {name}: {detail}" if detail else f"{kind}: {name}"


def main(argv):
    if len(argv) != 3:
        print("usage: python -m benchmarks.worker WORKLOAD IMPL N", file=sys.stderr)
        return 2
    name, impl, n = argv
    try:
        out = measure(name, impl, int(n))
    except BaseException as exc:  # noqa: B036  any failure is a result
        out = {"na": describe(exc)}
    sys.stdout.write(MARKER + json.dumps(out) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
