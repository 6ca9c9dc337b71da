"""gevent_c: gevent's core rebuilt as a CPython C extension.

Import it where you imported gevent (``import gevent_c as gevent``).
"""
__version__ = "0.1.0.dev0"
version_info = (0, 1, 0, "dev", 0)
