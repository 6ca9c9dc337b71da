"""Start-up of every process of gevent's own suite run against gevent_c.

tests/compat/gevent_suite.py copies this file to ``<tmp>/sitecustomize.py``
and puts ``<tmp>`` first on PYTHONPATH, so each test process, and each
process a test starts, runs it before anything else. When the process first
imports ``gevent`` or ``greenlet`` (not before: a process that never does,
such as the many ``python -c ...`` children tests start, does not pay for
importing gevent_c), it runs:

- ``gevent_c.install_as_gevent()``, the switch users flip: ``gevent``,
  ``gevent.X`` and ``greenlet`` are gevent_c's modules, ``python -m
  gevent.X`` runs gevent_c's, exactly as for an application;
- then one finder, ahead of the alias's, for what gevent_c does not stand in
  for: gevent's test support (``gevent.testing``, ``gevent.tests``) and the
  pure-Python private helpers that support imports (``REFERENCE_HELPERS``,
  unless gevent_c has a module of that name), all loaded from the reference
  gevent installation named by $GEVENT_C_COMPAT_REFERENCE.

Nothing here is imported by gevent_c itself.
"""
# Only what the interpreter has loaded anyway: this runs in every process.
import importlib.machinery
import os
import sys

# gevent's test support, loaded from the reference installation.
REFERENCE_PACKAGES = ('testing', 'tests')
# Private pure-Python helpers of gevent that its test support and tests import
# and that gevent_c has no reason to have: compatibility flags, a lazy
# property, the zope interfaces of a loop, the table of gevent modules and the
# stdlib modules they patch (test__all__).
REFERENCE_HELPERS = ('_compat', '_util', '_interfaces', '_patcher')


class _ReferenceFinder:
    """Finds gevent.testing, gevent.tests (and everything under them) and
    gevent.<helper> in the reference installation."""

    def __init__(self, reference):
        import importlib.util
        self.reference = reference
        self.util = importlib.util

    def _served(self, short):
        top = short.split('.')[0]
        if top in REFERENCE_PACKAGES:
            return True
        return (top in REFERENCE_HELPERS and '.' not in short
                and self.util.find_spec('gevent_c.' + top) is None)

    def find_spec(self, fullname, path=None, target=None):
        head, _, short = fullname.partition('.')
        if head != 'gevent' or not short or not self._served(short):
            return None
        if '.' in short:  # inside gevent.testing or gevent.tests
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None:
                raise ModuleNotFoundError('No module named %r' % fullname, name=fullname)
            return spec
        location = os.path.join(self.reference, short)
        if os.path.isdir(location):
            return self.util.spec_from_file_location(
                fullname, os.path.join(location, '__init__.py'),
                submodule_search_locations=[location])
        return self.util.spec_from_file_location(fullname, location + '.py')


class _OnFirstImport:
    """Answers the first import of gevent or greenlet by switching the alias
    on, then hands over to it: the module imported is the alias's."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in ('gevent', 'greenlet'):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        sys.meta_path.remove(self)
        import gevent_c
        gevent_c.install_as_gevent()
        sys.meta_path.insert(0, _ReferenceFinder(os.environ['GEVENT_C_COMPAT_REFERENCE']))
        module = sys.modules[spec.name]
        self.alias_spec = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self.alias_spec   # the import system stamped ours on it


sys.meta_path.insert(0, _OnFirstImport())
