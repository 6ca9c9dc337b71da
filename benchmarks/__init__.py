"""Benchmark harness: gevent_c against gevent, greenlet, asyncio and uvloop.

``python -m benchmarks`` runs every registered workload for every
implementation, one fresh process per measurement, and writes the results
under ``benchmarks/results/``. See ``benchmarks/README.rst``.

Layout: ``registry`` defines workloads and how each implementation is
loaded; ``workloads/`` holds the workload bodies, one module per layer;
``worker`` runs one measurement in a subprocess; ``runner`` schedules the
measurements and ``report`` turns them into a table, JSON, RST and a chart.
"""
