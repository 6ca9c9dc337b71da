"""The project's virtual environments, build and test runs, for the Makefile.

Every supported CPython gets its own environment, ``.venv/X.Y``, made on
first use with a current pip and setuptools, the ``test`` dependency group
of pyproject.toml, and a .pth file that puts this checkout on the path (the
extensions are built in place, so nothing is installed from it). It is
remade only when
``pyproject.toml`` or ``setup.py`` change; otherwise a run costs an
incremental ``build_ext --inplace`` (nothing when no C source changed). The
interpreter this script runs under, and the system's, are never modified.

    python3 tools/dev.py pythons               # supported versions found here
    python3 tools/dev.py venv [--python P]     # make/refresh P's env, print its python
    python3 tools/dev.py exec [--python P] -- ARGS   # build, then run ARGS in P's env
    python3 tools/dev.py test [--versions current|all] [--compat] -- PYTEST_ARGS

``test --versions all`` runs the suite on this interpreter's version first,
then on every other supported version it finds (pyenv, /usr/bin,
/usr/local/bin, PATH), printing one line per version (what ran and how it
ended, or not found). ``--compat`` adds greenlet's own suite on every
version and gevent's on the first (tests/compat). It fails if any run
failed; with ``GEVENT_C_REQUIRE_PYTHONS=1`` (set by CI) a supported version
that is not found is a failure too.

On Debian, an interpreter from /usr/bin that lacks ``venv`` or its C headers
gets them with apt-get (python3.X-venv, python3.X-dev).
"""
import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENVS = os.path.join(ROOT, '.venv')
SUPPORTED = ('3.10', '3.11', '3.12', '3.13')
GROUP = 'test'
STAMP_INPUTS = ('pyproject.toml', 'setup.py', 'tools/dev.py', 'gevent_c/_as_gevent.pth')


def log(msg):
    sys.stderr.write('dev: %s\n' % msg)
    sys.stderr.flush()


def run(argv, **kw):
    log(' '.join(argv))
    subprocess.run(argv, check=True, cwd=ROOT, **kw)


def version_of(python):
    """'X.Y' of an interpreter, or None if it does not run."""
    try:
        out = subprocess.run([python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def candidates(version):
    """Paths where an interpreter of *version* may live, best first."""
    found = []
    pyenv_root = os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')
    # newest patch release first: 3.12.10 sorts after 3.12.9
    def patch_key(path):
        name = path.split(os.sep)[-3]
        return [int(p) if p.isdigit() else -1 for p in name.split('.')]
    found += sorted(glob.glob(os.path.join(pyenv_root, 'versions', version + '.*', 'bin',
                                           'python' + version)), key=patch_key, reverse=True)
    for d in ('/usr/local/bin', '/usr/bin'):
        found.append(os.path.join(d, 'python' + version))
    which = shutil.which('python' + version)
    if which:
        found.append(which)
    return found


def find_python(version):
    for path in candidates(version):
        if os.access(path, os.X_OK) and version_of(path) == version:
            return path
    return None


def apt_install(*packages):
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        raise SystemExit('dev: install %s (apt-get, as root)' % ' '.join(packages))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    run(['apt-get', 'update', '-qq'], env=env)
    run(['apt-get', 'install', '-y', '-qq'] + list(packages), env=env)


def ensure_debian_parts(python, version):
    """A Debian system interpreter comes without venv and headers."""
    probe = ('import sys, sysconfig, os, importlib.util as u; '
             'print(sys.prefix); print(u.find_spec("ensurepip") is not None); '
             'print(os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))')
    out = subprocess.run([python, '-c', probe], capture_output=True, text=True, check=True)
    prefix, has_venv, has_headers = out.stdout.split()
    if prefix != '/usr':
        return
    missing = []
    if has_venv != 'True':
        missing.append('python%s-venv' % version)
    if has_headers != 'True':
        missing.append('python%s-dev' % version)
    if missing:
        apt_install(*missing)


def stamp_value(python):
    h = hashlib.sha256(python.encode())
    for name in STAMP_INPUTS:
        with open(os.path.join(ROOT, name), 'rb') as f:
            h.update(f.read())
    return h.hexdigest()


def ensure_venv(python):
    """Make or refresh the env of *python*; return the env's interpreter."""
    version = version_of(python)
    if version is None:
        raise SystemExit('dev: %s does not run' % python)
    env_dir = os.path.join(VENVS, version)
    env_python = os.path.join(env_dir, 'bin', 'python')
    stamp_file = os.path.join(env_dir, '.gevent_c-stamp')
    want = stamp_value(python)
    try:
        with open(stamp_file) as f:
            if f.read() == want and os.access(env_python, os.X_OK):
                return env_python
    except OSError:
        pass
    ensure_debian_parts(python, version)
    if not os.access(env_python, os.X_OK):
        run([python, '-m', 'venv', env_dir])
    run([env_python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
         '-U', 'pip', 'setuptools>=77', 'wheel'])
    run([env_python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
         '--group', GROUP])
    site = subprocess.run([env_python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    # site.py runs .pth files in name order: the checkout must be on sys.path
    # before the GEVENT_C_AS_GEVENT hook below imports gevent_c
    old_checkout_pth = os.path.join(site, 'gevent_c-checkout.pth')
    if os.path.exists(old_checkout_pth):
        os.remove(old_checkout_pth)
    with open(os.path.join(site, '_gevent_c-checkout.pth'), 'w') as f:
        f.write(ROOT + '\n')
    # the GEVENT_C_AS_GEVENT start-up hook, as a wheel installs it
    shutil.copyfile(os.path.join(ROOT, 'gevent_c', '_as_gevent.pth'),
                    os.path.join(site, 'gevent_c-as-gevent.pth'))
    with open(stamp_file, 'w') as f:
        f.write(want)
    return env_python


def build(env_python):
    version = version_of(env_python)
    run([env_python, 'setup.py', '-q', 'build_ext', '--inplace',
         '--build-temp', os.path.join('build', 'temp-' + version)])


def cmd_pythons(args):
    for version in SUPPORTED:
        print('%s %s' % (version, find_python(version) or 'not found'))


def cmd_venv(args):
    print(ensure_venv(args.python))


def cmd_exec(args):
    env_python = ensure_venv(args.python)
    build(env_python)
    argv = [env_python] + args.rest
    log(' '.join(argv))
    return subprocess.run(argv, cwd=ROOT).returncode


# The reference suites run through the project's own runners (tests/compat):
# greenlet's on every version, gevent's (slower) on the first one only.
GREENLET_SUITE = ['-m', 'tests.compat.greenlet_suite']
GEVENT_SUITE = ['-m', 'tests.compat.gevent_suite', '--jobs', '2']


def run_step(env_python, version, what, argv):
    log('CPython %s, %s: %s' % (version, what, ' '.join([env_python] + argv)))
    rc = subprocess.run([env_python] + argv, cwd=ROOT).returncode
    return '%s %s' % (what, 'passed' if rc == 0 else 'FAILED (exit %d)' % rc), rc == 0


def cmd_test(args):
    first = version_of(args.python)
    if first is None:
        raise SystemExit('dev: %s does not run' % args.python)
    plan = [(first, args.python)]
    if args.versions == 'all':
        plan += [(v, find_python(v)) for v in SUPPORTED if v != first]
    require = os.environ.get('GEVENT_C_REQUIRE_PYTHONS', '') not in ('', '0')
    results = []
    for version, python in plan:
        if python is None:
            results.append((version, ['not found'], not require))
            continue
        env_python = ensure_venv(python)
        build(env_python)
        steps = [run_step(env_python, version, 'pytest', ['-m', 'pytest'] + args.rest)]
        if args.compat:
            steps.append(run_step(env_python, version, "greenlet's suite", GREENLET_SUITE))
            if version == first:
                steps.append(run_step(env_python, version, "gevent's suite", GEVENT_SUITE))
        results.append((version, [what for what, _ in steps], all(ok for _, ok in steps)))
    print('\ntest summary, one line per supported CPython:')
    for version, whats, ok in results:
        print('  CPython %s: %s%s' % (version, ', '.join(whats),
                                      '' if ok else '  <- counts as a failure'))
    if first not in SUPPORTED:
        print('  (%s is CPython %s, which gevent_c does not support)' % (args.python, first))
    return 0 if all(ok for _, _, ok in results) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('pythons')
    p.set_defaults(func=cmd_pythons)
    for name, func in (('venv', cmd_venv), ('exec', cmd_exec), ('test', cmd_test)):
        p = sub.add_parser(name)
        p.add_argument('--python', default=sys.executable,
                       help='the interpreter whose env to use (default: this one)')
        if name == 'test':
            p.add_argument('--versions', choices=('current', 'all'), default='current')
            p.add_argument('--compat', action='store_true',
                           help="also run greenlet's suite (every version) and gevent's "
                                "(the first version) through tests/compat")
        p.add_argument('rest', nargs=argparse.REMAINDER)
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    if getattr(args, 'rest', None) and args.rest[0] == '--':
        args.rest = args.rest[1:]
    return args.func(args) or 0


if __name__ == '__main__':
    sys.exit(main())
