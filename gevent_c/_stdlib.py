"""Re-exporting a stdlib module's names from the gevent_c module that stands
in for it (os, subprocess, signal, socket, ssl, select, selectors).

Each stand-in defines what it replaces (``__implements__``) and adds
(``__extensions__``); everything else it offers is the stdlib's own object,
copied here and listed in ``__imports__``.
"""

__all__ = ['copy_names']


def copy_names(source, namespace, names=None, exclude=()):
    """Bind names of the module *source* in the dict *namespace*.

    *names* are the names to consider (default: every public name of
    ``dir(source)``). A name is skipped when *source* lacks it (platform
    differences), when it is in *exclude*, or when *namespace* already binds
    it to another object (the stand-in's own definition). Returns the names
    bound, in order, each once.
    """
    if names is None:
        names = [name for name in dir(source) if not name.startswith('_')]
    missing = object()
    copied = []
    for name in names:
        if name in exclude or name in copied:
            continue
        value = getattr(source, name, missing)
        if value is missing:
            continue
        current = namespace.get(name, missing)
        if current is not missing and current is not value:
            continue
        namespace[name] = value
        copied.append(name)
    return copied
