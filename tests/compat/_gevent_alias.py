"""The package ``gevent`` seen by gevent's own tests when they run against
gevent_c.

tests/compat/gevent_suite.py copies this file to ``<tmp>/gevent/__init__.py``
and puts ``<tmp>`` first on PYTHONPATH, so every ``import gevent`` in a test
(and in the processes a test starts) lands here. It then:

- makes ``gevent`` *be* the gevent_c package (``sys.modules['gevent']``), so
  what a test patches on ``gevent`` it patches on gevent_c;
- serves ``gevent.X`` as the very module object ``gevent_c.X`` (one copy, two
  names), including ``python -m gevent.X`` through runpy;
- serves ``gevent.testing``, ``gevent.tests`` and a few pure-Python private
  helpers that gevent's test support imports (``REFERENCE_HELPERS``) from
  the reference gevent installation named by $GEVENT_C_COMPAT_REFERENCE,
  unless gevent_c has a module of that name.

Nothing here is imported by gevent_c itself.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

ALIAS, TARGET = 'gevent', 'gevent_c'
# gevent's test support, loaded from the reference installation.
REFERENCE_PACKAGES = ('testing', 'tests')
# Private pure-Python helpers of gevent that its test support imports and that
# gevent_c has no reason to have (compatibility flags, a lazy property, the
# zope interfaces of a loop).
REFERENCE_HELPERS = ('_compat', '_util', '_interfaces')

# Modules gevent_c is still to gain (written on other branches). While one is
# missing, ``gevent.X`` is a stand-in offering only what gevent's test
# *support* (gevent.testing) needs from it; asking it for anything else raises
# PendingModuleError, which the runner counts as "waiting", not as a failure.
# A stand-in is never used once gevent_c has the real module.
PENDING = {
    'events': """
subscribers = []
def notify(event):
    for subscriber in subscribers:
        subscriber(event)
""",
    'monkey': """
import importlib
saved = {}
def get_original(mod_name, item_name):
    module = importlib.import_module(mod_name)
    if isinstance(item_name, str):
        return getattr(module, item_name)
    return [getattr(module, name) for name in item_name]
def is_module_patched(mod_name):
    return False
def is_object_patched(mod_name, item_name):
    return False
def is_anything_patched():
    return False
""",
}
# gevent's private map of its modules to the stdlib's (test__all__ reads it);
# gevent's own file imports more private helpers, so it is described here.
PENDING['_patcher'] = """
_SAME = ('socket select selectors ssl subprocess os threading builtins signal time '
         'queue contextvars').split()
MAPPING = {'gevent.' + name: name for name in _SAME}
MAPPING.update({'gevent.local': '_threading_local', 'gevent.thread': '_thread'})
"""
for _name in ('thread', 'threading', 'time', 'builtins', 'contextvars', 'server',
              'baseserver', 'pywsgi', 'backdoor'):
    PENDING.setdefault(_name, None)


class PendingModuleError(ImportError):
    """A test needs a gevent_c module that is not written yet."""

    def __init__(self, module, what=None):
        ImportError.__init__(self, 'PENDING gevent_c.%s%s: not written yet' % (
            module, '' if what is None else ' (%s)' % (what,)))


def _stand_in(short, fullname):
    module = type(sys)(fullname)
    module.__file__ = '<stand-in for gevent_c.%s>' % short
    exec(PENDING[short], module.__dict__)

    def __getattr__(name):
        if name.startswith('__'):
            raise AttributeError(name)
        raise PendingModuleError(short, name)
    module.__getattr__ = __getattr__
    return module


def _reference_dir():
    path = os.environ.get('GEVENT_C_COMPAT_REFERENCE')
    if path:
        return path
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    search = [p for p in sys.path if os.path.abspath(p or '.') != here]
    spec = importlib.machinery.PathFinder.find_spec(ALIAS, search)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('no reference gevent installation to take tests from')
    return list(spec.submodule_search_locations)[0]


class _AliasLoader(importlib.abc.Loader):
    """Loads ``gevent.X`` as the module ``gevent_c.X`` itself."""

    def __init__(self, real_name):
        self.real_name = real_name
        self.real_spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.real_name)
        self.real_spec = getattr(module, '__spec__', None)
        return module

    def exec_module(self, module):
        # The import system stamped our alias spec on the module; give the
        # module back its own.
        if self.real_spec is not None:
            module.__spec__ = self.real_spec

    def get_code(self, fullname):  # runpy: python -m gevent.X
        spec = importlib.util.find_spec(self.real_name)
        return spec.loader.get_code(self.real_name)

    def is_package(self, fullname):
        spec = importlib.util.find_spec(self.real_name)
        return spec.submodule_search_locations is not None


class _StandInLoader(importlib.abc.Loader):
    def __init__(self, short):
        self.short = short

    def create_module(self, spec):
        return _stand_in(self.short, spec.name)

    def exec_module(self, module):
        pass


class _Finder(importlib.abc.MetaPathFinder):
    """Front of sys.meta_path: answers every ``gevent.*`` name (so that no
    second copy of a gevent_c file is ever loaded under the alias name), and
    ``gevent_c.<reference module>`` (``from gevent import testing`` asks for
    that name, since ``gevent`` is gevent_c)."""

    def __init__(self, reference):
        self.reference = reference

    def _reference_spec(self, short):
        path = os.path.join(self.reference, short)
        if os.path.isdir(path):
            return importlib.util.spec_from_file_location(
                ALIAS + '.' + short, os.path.join(path, '__init__.py'),
                submodule_search_locations=[path])
        return importlib.util.spec_from_file_location(ALIAS + '.' + short, path + '.py')

    def _target_has(self, short):
        if short.split('.')[0] in REFERENCE_PACKAGES:
            return False
        if '.' not in short:  # not through sys.meta_path: this finder is on it
            package = importlib.import_module(TARGET)
            return importlib.machinery.PathFinder.find_spec(
                TARGET + '.' + short, package.__path__) is not None
        try:
            return importlib.util.find_spec(TARGET + '.' + short) is not None
        except ImportError:
            return False

    def find_spec(self, fullname, path=None, target=None):
        head, _, short = fullname.partition('.')
        if not short:
            return None
        top = short.split('.')[0]
        from_reference = top in REFERENCE_PACKAGES or (
            top in REFERENCE_HELPERS and not self._target_has(top))
        if head == TARGET:
            if top in PENDING and not self._target_has(top):
                if '.' in short or PENDING[top] is None:
                    raise PendingModuleError(top)
                return importlib.util.spec_from_loader(
                    fullname, _AliasLoader(ALIAS + '.' + short))
            if not from_reference or '.' in short:
                return None
            # gevent_c.testing -> the same module object as gevent.testing
            return importlib.util.spec_from_loader(fullname, _AliasLoader(ALIAS + '.' + short))
        if head != ALIAS:
            return None
        if from_reference:
            if '.' in short:
                return None  # a submodule: the parent's __path__ finds it
            return self._reference_spec(short)
        if top in PENDING and not self._target_has(top):
            if '.' in short or PENDING[top] is None:
                raise PendingModuleError(top)
            return importlib.util.spec_from_loader(fullname, _StandInLoader(short))
        if not self._target_has(short):
            raise ModuleNotFoundError('No module named %r' % fullname, name=fullname)
        real_name = TARGET + '.' + short
        loader = _AliasLoader(real_name)
        spec = importlib.util.spec_from_loader(fullname, loader,
                                               is_package=loader.is_package(fullname))
        return spec


def _install():
    finder = _Finder(_reference_dir())
    sys.meta_path.insert(0, finder)
    target = importlib.import_module(TARGET)
    sys.modules[ALIAS] = target


_install()
