"""gevent_c standing in for the ``gevent`` and ``greenlet`` packages.

After :func:`install_as_gevent`, ``import gevent``, ``import gevent.X`` and
``import greenlet`` give gevent_c's modules, so libraries written for gevent
(gunicorn's gevent worker, celery's gevent pool, Flask-SocketIO, ...) run on
gevent_c unchanged, and there is one coroutine type in the process:
``greenlet.getcurrent()`` is ``gevent_c.getcurrent()``.

``gevent`` and ``greenlet`` themselves are small alias modules: their
``__version__`` is the API level gevent_c implements (gevent 26.9.0,
greenlet 3.5.6), since libraries compare it, while ``gevent_c.__version__``
stays gevent_c's own; ``version_info`` is that level as gevent's named
(major, minor, micro, releaselevel, serial) tuple. Every other attribute is
gevent_c's (or gevent_c._greenlet's) object. ``gevent.X`` is the module
``gevent_c.X`` itself, registered under both names (its ``__spec__`` stays
gevent_c.X's), and ``python -m gevent.X`` runs gevent_c.X.

The switch must come before anything imports the real gevent or greenlet;
it refuses with ImportError otherwise. Setting ``GEVENT_C_AS_GEVENT=1`` in
the environment makes the interpreter call it at start-up (through the
``gevent_c-as-gevent.pth`` hook installed with the package), so
``gunicorn -k gevent`` or ``celery -P gevent`` need no code change.
"""
import collections
import importlib
import importlib.machinery
import importlib.util
import sys
import types

# The finder and loader below are plain classes with the importlib protocol's
# methods: importlib.abc would import importlib.resources (pathlib, tempfile,
# ...) into every process that switches the alias on.

__all__ = ['install_as_gevent', 'GEVENT_API_VERSION', 'GREENLET_API_VERSION']

GEVENT_API_VERSION = '26.9.0'
GREENLET_API_VERSION = '3.5.6'

_ALIASES = {'gevent': 'gevent_c', 'greenlet': 'gevent_c._greenlet'}
# gevent.X that is gevent_c.Y with another name (private modules libraries
# reach into).
_RENAMED = {
    'gevent._semaphore': 'gevent_c.lock',
    'gevent._greenlet': 'gevent_c.greenlet',
    'gevent._waiter': 'gevent_c.hub',
    'greenlet._greenlet': 'gevent_c._greenlet',
}
# Names of the real package that must not leak through: greenlet's C API
# capsule has another layout than ours, so C extensions built against
# greenlet must fail to import instead of calling into the wrong table.
_HIDDEN = {'greenlet': ('_C_API',)}


# gevent's version_info has sys.version_info's fields; libraries compare it
# with plain tuples or read .major.
VersionInfo = collections.namedtuple('version_info',
                                     'major minor micro releaselevel serial')


def _version_info(version):
    major, minor, micro = (int(part) for part in version.split('.'))
    return VersionInfo(major, minor, micro, 'final', 0)


def _alias_module(name, target, version):
    """A package-like module named *name* that shows *target*'s attributes."""
    mod = types.ModuleType(name, target.__doc__)
    hidden = _HIDDEN.get(name, ())
    for key, value in vars(target).items():
        if not key.startswith('__') and key not in hidden:
            setattr(mod, key, value)
    mod.__version__ = version
    mod.version_info = _version_info(version)
    mod.__path__ = []       # a package: its submodules come from the finder
    mod.__gevent_c_alias__ = target.__name__

    def __getattr__(attr):
        if attr in hidden:
            raise AttributeError('module %r has no attribute %r (gevent_c does not '
                                 'provide it)' % (name, attr))
        try:
            return getattr(target, attr)
        except AttributeError:
            pass
        sub = '%s.%s' % (target.__name__, attr)
        if sub in sys.modules:
            return sys.modules[sub]
        raise AttributeError('module %r has no attribute %r' % (name, attr))

    def __dir__():
        return sorted(set(vars(mod)) | {k for k in dir(target) if k not in hidden})

    mod.__getattr__ = __getattr__
    mod.__dir__ = __dir__
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    return mod


class _AliasLoader:
    """Loads ``gevent.X`` as the module ``gevent_c.X`` itself (one module
    object, two names in sys.modules), and gives runpy gevent_c.X's code for
    ``python -m gevent.X``."""

    def __init__(self, real_spec):
        self.real_spec = real_spec

    def create_module(self, spec):
        return importlib.import_module(self.real_spec.name)

    def exec_module(self, module):
        # The import system has stamped the alias spec on the module; it
        # stays gevent_c.X's own (importlib.reload, pickling by name, ...).
        module.__spec__ = self.real_spec

    def is_package(self, fullname):
        return self.real_spec.submodule_search_locations is not None

    def get_code(self, fullname):
        return self.real_spec.loader.get_code(self.real_spec.name)

    def get_source(self, fullname):
        return self.real_spec.loader.get_source(self.real_spec.name)


class _AliasFinder:
    """Resolves gevent.X to gevent_c.X (and greenlet.X likewise)."""

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition('.')[0]
        if top not in _ALIASES or fullname == top:
            return None
        real = _RENAMED.get(fullname) or _ALIASES[top] + fullname[len(top):]
        loaded = sys.modules.get(real)
        # Found, not imported: runpy asks for the spec of a module it is to
        # run as __main__ (python -m gevent.monkey) and must not import it.
        try:
            real_spec = (getattr(loaded, '__spec__', None) if loaded is not None
                         else importlib.util.find_spec(real))
        except ModuleNotFoundError as exc:
            if exc.name != real and not real.startswith(exc.name + '.'):
                raise
            real_spec = None
        if real_spec is None:
            raise ModuleNotFoundError(
                'No module named %r (gevent_c, standing in for %s, has no %r)'
                % (fullname, top, real), name=fullname)
        loader = _AliasLoader(real_spec)
        return importlib.machinery.ModuleSpec(fullname, loader,
                                              is_package=loader.is_package(fullname))


def _real_package_loaded(name):
    mod = sys.modules.get(name)
    if mod is not None and not hasattr(mod, '__gevent_c_alias__'):
        return mod
    for key, value in list(sys.modules.items()):
        if key.startswith(name + '.') and value is not None \
                and not getattr(value, '__name__', '').startswith('gevent_c'):
            return value
    return None


def install_as_gevent():
    """Make ``import gevent``/``gevent.X``/``greenlet`` give gevent_c's modules.

    Call it before anything imports gevent or greenlet; it raises ImportError
    if the real packages are already imported (two coroutine types in one
    process cannot switch to each other). Calling it again is harmless.
    """
    for name in _ALIASES:
        real = _real_package_loaded(name)
        if real is not None:
            raise ImportError(
                'gevent_c.install_as_gevent(): the real %r is already imported (%s); '
                'call install_as_gevent() before anything imports gevent or greenlet'
                % (name, getattr(real, '__file__', None) or real))
    if any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        return
    versions = {'gevent': GEVENT_API_VERSION, 'greenlet': GREENLET_API_VERSION}
    for name, target in _ALIASES.items():
        sys.modules[name] = _alias_module(name, importlib.import_module(target),
                                          versions[name])
    sys.meta_path.insert(0, _AliasFinder())
