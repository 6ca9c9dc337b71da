"""Greenlet-local data: ``threading.local`` where each greenlet is a thread.

    data = local()
    data.x = 1          # seen only by the current greenlet

Subclasses work as with ``threading.local``: ``__init__`` runs again, with the
constructor's arguments, the first time each greenlet touches the object.
A greenlet's values are released when the greenlet is collected, and all
of them when the ``local`` is collected.
"""
from weakref import ref

from gevent_c._greenlet import getcurrent

__all__ = ['local']

_oga = object.__getattribute__
_osa = object.__setattr__


class _LocalImpl:
    """The per-greenlet dicts of one ``local`` object."""

    __slots__ = ('dicts', 'localargs', 'localkwargs', 'wrlocal', '__weakref__')

    def __init__(self, args, kwargs):
        self.dicts = {}  # id(greenlet) -> (weakref to greenlet, dict)
        self.localargs = args
        self.localkwargs = kwargs
        self.wrlocal = None

    def create_dict(self, glet):
        local_dict = {}
        key = id(glet)
        wrimpl = ref(self)

        def greenlet_deleted(_, key=key, wrimpl=wrimpl):
            impl = wrimpl()
            if impl is not None:
                impl.dicts.pop(key, None)

        self.dicts[key] = (ref(glet, greenlet_deleted), local_dict)
        return local_dict


def _local_dict(self, impl=None):
    """The current greenlet's dict of *self*, running __init__ on first use."""
    if impl is None:
        impl = _oga(self, '_local__impl')
    glet = getcurrent()
    entry = impl.dicts.get(id(glet))
    if entry is not None and entry[0]() is glet:
        return entry[1]
    local_dict = impl.create_dict(glet)
    cls = type(self)
    if cls.__init__ is not object.__init__ and cls is not local:
        cls.__init__(self, *impl.localargs, **impl.localkwargs)
    return local_dict


_MISSING = object()


def _lookup_type_attr(cls, name):
    for klass in cls.__mro__:
        value = klass.__dict__.get(name, _MISSING)
        if value is not _MISSING:
            return value
    return _MISSING


def all_local_dicts_for_greenlet(greenlet):
    """``[((local type, id), values)]`` for every local object that holds
    values for *greenlet* (gevent's debugging helper, used by run reports;
    it scans the garbage collector's objects, so it is not for hot paths)."""
    import gc
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, local):
            entry = _oga(obj, '_local__impl').dicts.get(id(greenlet))
            if entry is not None and entry[0]() is greenlet:
                found.append(((type(obj), id(obj)), entry[1]))
    return found


class local:
    """An object whose attributes are private to each greenlet."""

    __slots__ = ('_local__impl', '__weakref__')

    def __new__(cls, *args, **kwargs):
        if (args or kwargs) and cls.__init__ is object.__init__:
            raise TypeError('Initialization arguments are not supported')
        self = object.__new__(cls)
        impl = _LocalImpl(args, kwargs)
        _osa(self, '_local__impl', impl)
        # The creating greenlet's dict exists from the start; __init__ for it
        # is run by the normal constructor call that follows __new__.
        impl.create_dict(getcurrent())
        return self

    def __getattribute__(self, name):
        if name in ('__class__', '_local__impl'):
            return _oga(self, name)
        local_dict = _local_dict(self)
        if name == '__dict__':
            return local_dict
        cls = type(self)
        type_attr = _lookup_type_attr(cls, name)
        if type_attr is not _MISSING:
            tp = type(type_attr)
            if hasattr(tp, '__get__') and (hasattr(tp, '__set__') or hasattr(tp, '__delete__')):
                return tp.__get__(type_attr, self, cls)  # data descriptor wins
        value = local_dict.get(name, _MISSING)
        if value is not _MISSING:
            return value
        if type_attr is not _MISSING:
            getter = getattr(type(type_attr), '__get__', None)
            if getter is not None:
                return getter(type_attr, self, cls)
            return type_attr
        getattr_hook = _lookup_type_attr(cls, '__getattr__')
        if getattr_hook is not _MISSING:
            return getattr_hook(self, name)
        raise AttributeError('%r object has no attribute %r' % (cls.__name__, name))

    def __setattr__(self, name, value):
        if name in ('__dict__', '_local__impl'):
            raise AttributeError('%r object attribute %r is read-only' % (type(self).__name__, name))
        local_dict = _local_dict(self)
        cls = type(self)
        type_attr = _lookup_type_attr(cls, name)
        if type_attr is not _MISSING:
            setter = getattr(type(type_attr), '__set__', None)
            if setter is not None:
                setter(type_attr, self, value)
                return
        local_dict[name] = value

    def __delattr__(self, name):
        if name in ('__dict__', '_local__impl'):
            raise AttributeError('%r object attribute %r is read-only' % (type(self).__name__, name))
        local_dict = _local_dict(self)
        cls = type(self)
        type_attr = _lookup_type_attr(cls, name)
        if type_attr is not _MISSING:
            deleter = getattr(type(type_attr), '__delete__', None)
            if deleter is not None:
                deleter(type_attr, self)
                return
        try:
            del local_dict[name]
        except KeyError:
            raise AttributeError(name) from None

    def __copy__(self):
        impl = _oga(self, '_local__impl')
        cls = type(self)
        duplicate = cls.__new__(cls, *impl.localargs, **impl.localkwargs)
        _local_dict(duplicate).update(_local_dict(self))
        # what a subclass keeps in its own __slots__ is shared state: copied too
        for klass in cls.__mro__[:-1]:
            if klass is local:
                break
            for name in klass.__dict__.get('__slots__', ()):
                if isinstance(name, str) and not name.startswith('__'):
                    try:
                        value = _oga(self, name)
                    except AttributeError:
                        continue
                    _osa(duplicate, name, value)
        return duplicate
