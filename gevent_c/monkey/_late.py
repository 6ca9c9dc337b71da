"""Modules imported before patch_all(): repair their references, warn about the rest.

A module imported before patching may hold its own reference to an object
that patching then replaced in the stdlib module: ``from socket import
socket``, ``from time import sleep``, ``from threading import Lock`` at
its top. Those references (module globals of the same name that are exactly
the original object) are switched to the replacement, in every Python
module except the patched stdlib modules themselves and gevent_c, gevent
and greenlet (C modules such as ``posix`` and ``_socket`` are where the
originals come from);
a reference under another name (``real_sleep = time.sleep``) is taken to
be kept on purpose and left alone. What cannot
be switched is reported in one MonkeyPatchWarning: classes defined before
patching that subclass a replaced class (they keep the blocking base), and
live objects of a replaced class made before patching (an open
``socket.socket``, a ``queue.SimpleQueue``), unless the stand-in module
lists the class in ``__early_safe__`` (its earlier subclasses and objects
work either way, as ``ssl.SSLContext``'s do). A stand-in may also replace
such objects held in module globals with ``_gevent_replace_early_object``
(``x = threading.local()`` at a module's top, not used yet, becomes a
greenlet-local object). Live objects are not counted in a child forked
before anything was patched (gunicorn's and celery's workers): they were
the parent's, made before the fork, and gevent does not warn there either.
"""
import sys

from gevent_c import monkey as _monkey
from gevent_c.monkey import _SETTINGS_KEY

#: (module name, global name) of every reference switched so far.
repaired = []

_OWN_PREFIXES = ('gevent_c', 'gevent', 'greenlet')


def _is_own(module_name):
    return any(module_name == p or module_name.startswith(p + '.') for p in _OWN_PREFIXES)


def _worth_switching(obj):
    # Only objects with an identity of their own: a constant such as an int
    # could be the very same object elsewhere by chance.
    return callable(obj) and not isinstance(obj, (int, str, bytes, float))


def _newly_patched(before):
    """{id(original): (original, replacement, 'module.name', source module name)}."""
    found = {}
    for mod_name, items in _monkey.saved.items():
        if mod_name == _SETTINGS_KEY:
            continue
        module = sys.modules.get(mod_name)
        if module is None:
            continue
        for name, original in items.items():
            if (mod_name, name) in before or not _worth_switching(original):
                continue
            replacement = getattr(module, name, None)
            if replacement is None or replacement is original:
                continue
            found[id(original)] = (original, replacement, '%s.%s' % (mod_name, name), mod_name)
    return found


def _namespace(module):
    """The module's own dict, read without running its attribute hooks (a
    lazily loaded module must not be loaded by this scan)."""
    try:
        namespace = object.__getattribute__(module, '__dict__')
    except (AttributeError, TypeError):
        return None
    return namespace if type(namespace) is dict else None


def _is_c_module(name, namespace):
    from importlib.machinery import EXTENSION_SUFFIXES
    return (name in sys.builtin_module_names
            or str(namespace.get('__file__') or '').endswith(tuple(EXTENSION_SUFFIXES)))


def _early_object_fixers(patched):
    """{replaced class: the stand-in's _gevent_replace_early_object hook}."""
    fixers = {}
    for original, _replacement, _qualname, target_name in patched.values():
        hook = getattr(_stand_in(target_name), '_gevent_replace_early_object', None)
        if isinstance(original, type) and hook is not None:
            fixers[original] = hook
    return fixers


def _switch_references(patched):
    targets = set(_monkey.saved)
    fixers = _early_object_fixers(patched)
    for mod_name, module in list(sys.modules.items()):
        if mod_name in targets or _is_own(mod_name):
            continue
        namespace = _namespace(module)
        # Python modules only: a C module (posix, _socket, _queue) is where
        # the originals come from, and the replacements call them there.
        if namespace is None or _is_c_module(mod_name, namespace):
            continue
        for name, value in list(namespace.items()):
            entry = patched.get(id(value))
            # Only a name the same as the patched one (``from time import
            # sleep``): under another name (``real_sleep = time.sleep``) the
            # original is most likely kept on purpose.
            if entry is not None and entry[0] is value and entry[2].endswith('.' + name):
                namespace[name] = entry[1]
                repaired.append((mod_name, name))
                continue
            # An object of a replaced class the stand-in knows how to
            # replace (a module's threading.local() not used yet).
            fixer = fixers.get(type(value))
            if fixer is not None:
                new = fixer(value)
                if new is not None:
                    namespace[name] = new
                    repaired.append((mod_name, name))


def _stdlib_module(name):
    top = name.partition('.')[0]
    return top in getattr(sys, 'stdlib_module_names', ()) or top in sys.builtin_module_names


def _early_subclasses(patched):
    problems = []
    for original, _replacement, qualname, source_name in patched.values():
        if not isinstance(original, type):
            continue
        if _early_safe(qualname, source_name):
            continue
        for sub in original.__subclasses__():
            module = getattr(sub, '__module__', '') or ''
            if _is_own(module) or _stdlib_module(module):
                continue
            problems.append('%s.%s (subclass of %s, defined in %s)' % (
                module, sub.__qualname__, qualname, _where(module)))
    return problems


def _stand_in(target_name):
    """The gevent_c module that patches the stdlib module *target_name*."""
    for name, module in list(sys.modules.items()):
        if (name.startswith('gevent_c.') and hasattr(module, '__implements__')
                and getattr(module, '__target__', name[len('gevent_c.'):]) == target_name):
            return module
    return None


def _early_safe(qualname, target_name):
    return qualname.rpartition('.')[2] in getattr(_stand_in(target_name), '__early_safe__', ())


def _early_instances(patched):
    """'N x module.Class' for live instances of replaced classes, made before
    patching; none counted in a child forked before anything was patched
    (a pre-fork server's worker: what it inherited is its parent's)."""
    import gc
    if _monkey.forked_unpatched:
        return []
    classes = {}
    for original, _replacement, qualname, source_name in patched.values():
        if isinstance(original, type) and not _early_safe(qualname, source_name):
            classes[original] = qualname
    if not classes:
        return []
    # the originals monkey keeps (3.13's threading._thread_local_info is
    # one) are replaced, not left behind
    kept = {id(value) for items in _monkey.saved.values() for value in items.values()}
    counts = {}
    for obj in gc.get_objects():
        qualname = classes.get(type(obj))
        if qualname is not None and id(obj) not in kept and not getattr(obj, '_closed', False):
            counts[qualname] = counts.get(qualname, 0) + 1
    return ['%d %s' % (n, name) for name, n in sorted(counts.items())]


def _where(module_name):
    module = sys.modules.get(module_name)
    return getattr(module, '__file__', None) or module_name


def repair_early_imports(before, warnings_list):
    """Switch references to what patching replaced; queue one warning for the rest."""
    patched = _newly_patched(before)
    if not patched:
        return
    _switch_references(patched)
    parts = []
    subclasses = _early_subclasses(patched)
    if subclasses:
        parts.append('classes defined before patching subclass a replaced class and keep its '
                     'native behaviour: ' + '; '.join(sorted(subclasses)))
    instances = _early_instances(patched)
    if instances:
        parts.append('objects made before patching keep their native behaviour (blocking '
                     'calls, thread-local values shared by all greenlets): '
                     + ', '.join(instances))
    if parts:
        warnings_list.append('Monkey-patching too late (patch before importing and creating '
                             'these): ' + '. '.join(parts))
