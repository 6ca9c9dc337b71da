"""``python -m gevent_c.monkey [--as-gevent] [--module] [--no-X | --X ...] script|module [args]``.

Runs a program with the stdlib patched before anything of it is imported.
With ``--as-gevent`` the program's ``import gevent`` and ``import greenlet``
give gevent_c's modules (:func:`gevent_c.install_as_gevent`, switched on
before the patching).
"""
import sys


def _usage(options):
    return ('gevent_c.monkey - patch the stdlib cooperatively, then run a program.\n\n'
            'USAGE: python -m gevent_c.monkey [MONKEY OPTIONS] [--module] '
            '(script|module) [SCRIPT OPTIONS]\n\n'
            'Without MONKEY OPTIONS everything patch_all() patches by default is patched.\n'
            'Exclude a module with --no-<module> (e.g. --no-thread); name modules with\n'
            '--<module> (e.g. --socket) to patch only those. --module runs a module\n'
            '(as python -m) instead of a script. --as-gevent makes the program\'s\n'
            '"import gevent" and "import greenlet" give gevent_c (install_as_gevent()).\n\n'
            'MONKEY OPTIONS: --verbose, --as-gevent, %s'
            % ', '.join('--[no-]%s' % name for name in options))


def _patch_all_options():
    import inspect
    from gevent_c.monkey import patch_all
    import gevent_c.monkey as monkey
    params = [name for name, p in inspect.signature(patch_all).parameters.items()
              if p.kind is p.POSITIONAL_OR_KEYWORD]
    modules = [name for name in params if hasattr(monkey, 'patch_' + name)]
    return params, modules


def main():
    """Parse the options, patch, run the script or module as ``__main__``."""
    import gevent_c.monkey as monkey
    params, modules = _patch_all_options()
    argv = sys.argv[1:]
    args = {}
    verbose = False
    run_module = False
    as_gevent = False
    while argv and argv[0].startswith('--'):
        option = argv.pop(0)[2:]
        if option == '':
            break
        if option == 'verbose':
            verbose = True
        elif option == 'module':
            run_module = True
        elif option == 'as-gevent':
            as_gevent = True
        elif option.startswith('no-') and option[3:] in params:
            args[option[3:]] = False
        elif option in params:
            args[option] = True
            if option in modules:
                for name in modules:
                    args.setdefault(name, False)
        else:
            sys.exit(_usage(modules) + '\n\nCannot patch %r' % (option,))
    if verbose:
        import os
        import pprint
        print('gevent_c.monkey.patch_all(%s)' % ', '.join('%s=%s' % kv for kv in args.items()))
        print('sys.version=%s' % (sys.version.strip().replace('\n', ' '),))
        print('sys.path=%s' % pprint.pformat(sys.path))
        print('sys.modules=%s' % pprint.pformat(sorted(sys.modules)))
        print('cwd=%s' % os.getcwd())
    if not argv:
        print(_usage(modules))
        return None
    sys.argv[:] = argv
    # Run as __main__, this file must not be imported a second time as
    # gevent_c.monkey.__main__ (a second patch state).
    sys.modules.setdefault('gevent_c.monkey.__main__', sys.modules[__name__])
    if as_gevent:
        # before patching: what patch_all imports, and the program, see the
        # gevent and greenlet names as gevent_c
        import gevent_c
        try:
            gevent_c.install_as_gevent()
        except ImportError as exc:
            sys.exit('gevent_c.monkey --as-gevent: %s' % (exc,))
    monkey.patch_all(**args)
    import runpy
    if run_module:
        return runpy.run_module(argv[0], run_name='__main__', alter_sys=True)
    import os
    # as ``python script.py`` does: the script's directory comes first
    if os.path.isfile(argv[0]):
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    return runpy.run_path(argv[0], run_name='__main__')


if __name__ == '__main__':
    main()
