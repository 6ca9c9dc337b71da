"""Cooperative builtins: nothing to replace.

gevent once wrapped ``__import__`` in a lock so greenlets could not see a
half-imported module; Python 3's per-module import locks (which, once
``_thread`` is patched, are cooperative locks) already guarantee that, so
:func:`gevent_c.monkey.patch_builtins` patches nothing, as gevent's does.
The module exists so the patch is declared like every other one.
"""
import builtins as _builtins

__target__ = 'builtins'
__implements__ = []
__extensions__ = []
__imports__ = []
__all__ = []
_import = _builtins.__import__
# gevent.builtins.__import__ is the builtin one too (gevent's _patcher imports it)
__import__ = _import
