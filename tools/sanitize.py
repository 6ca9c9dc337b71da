"""Run gevent_c's C-heavy tests under AddressSanitizer+UBSan or valgrind.

    python tools/sanitize.py asan [--python PY] [--budget SECONDS] [pytest args]
    python tools/sanitize.py valgrind [--python PY] [--budget SECONDS] [pytest args]

asan: copies the sources into build/asan-X.Y/tree (only files that changed,
so a second run rebuilds only what changed), builds the extensions there
with -fsanitize=address,undefined (DEBUG=1: -O0 -g, assertions on) and runs
the tests in that copy with the sanitizer runtime preloaded (CPython itself
is not instrumented, so libasan must come first), PYTHONMALLOC=malloc (so
ASan sees every object allocation) and every UBSan report fatal.  The
in-place .so files of the checkout are never touched.

valgrind: runs the tests on the normal in-place build under memcheck with
tools/valgrind-python.supp (CPython's own noise) and fails on any error
whose stack has a gevent_c frame (one of our .so files).

Tests marked ``no_sanitizer(reason)`` (RSS growth, wall-clock-sensitive
signal timing) are skipped there with that reason (tests/conftest.py).
The run is time-boxed: the whole pytest run gets --budget seconds.
"""
import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the tests that exercise the C code (greenlet switch, loop, hub, io, ares)
ASAN_TESTS = [
    'tests/test_greenlet_*.py', 'tests/test_core_*.py', 'tests/test_hub*.py',
    'tests/test_gevent_greenlet.py', 'tests/test_event.py', 'tests/test_queue.py',
    'tests/test_lock.py', 'tests/test_timeout.py', 'tests/test_sleep.py',
    'tests/test_pool.py', 'tests/test_socket_cpath.py', 'tests/test_select.py',
    'tests/test_resolver_ares.py', 'tests/test_resolver_ares_review.py',
    'tests/test_reliability_*.py', 'tests/test_fault_*.py',
    'tests/test_thread_lock.py', 'tests/test_structured.py', 'tests/test_blocking.py',
    'tests/test_http_parser.py', 'tests/test_pywsgi_cpath.py',
    'tests/test_kill_iwait.py',
]
# memcheck runs some 30 times slower: the switch, parent, kill, throw and
# state tests of the greenlet, the loop's core and the closed paths
VALGRIND_TESTS = [
    'tests/test_greenlet_switch.py', 'tests/test_greenlet_throw.py',
    'tests/test_greenlet_kill.py', 'tests/test_greenlet_parent.py',
    'tests/test_greenlet_state.py', 'tests/test_greenlet_trace.py',
    'tests/test_core_loop.py', 'tests/test_core_timer.py',
    'tests/test_core_callbacks.py', 'tests/test_core_io.py',
    'tests/test_reliability_paths.py', 'tests/test_greenlet_base.py',
    'tests/test_thread_lock.py',
]
COPY = ['setup.py', 'pyproject.toml', 'README.rst', 'gevent_c', 'ext', 'tests', 'examples']
SKIP = re.compile(r'(\.so|\.pyc)$|__pycache__')


def sync(src, dst):
    """Make dst a copy of src, rewriting only files whose content changed
    (their mtime then drives setuptools' rebuild decision)."""
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
        names = set(os.listdir(src))
        for name in names:
            if not SKIP.search(name):
                sync(os.path.join(src, name), os.path.join(dst, name))
        for name in set(os.listdir(dst)) - names:
            path = os.path.join(dst, name)
            if not SKIP.search(name):
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        return
    if not os.path.exists(dst) or not filecmp.cmp(src, dst, shallow=False):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


def runtime(python, name):
    """Full path of gcc's sanitizer runtime lib<name>.so."""
    cc = sysconfig.get_config_var('CC').split()[0] if python == sys.executable else 'gcc'
    out = subprocess.run([cc, '-print-file-name=lib%s.so' % name],
                         capture_output=True, text=True, check=True).stdout.strip()
    path = os.path.realpath(out)
    if not os.path.isabs(out) or not os.path.exists(path):
        sys.exit('sanitize: lib%s.so not found (apt-get install gcc)' % name)
    return path


def expand(patterns, root):
    import glob
    files = []
    for pat in patterns:
        files += sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, pat)))
    return files


def run_tests(python, root, files, env, budget, extra):
    """pytest on `files`, or on the test paths given among `extra`."""
    chosen = [a for a in extra if not a.startswith('-') and
              (a.endswith('.py') or '::' in a)]
    if chosen:
        files = chosen
        extra = [a for a in extra if a not in chosen]
    cmd = [python, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
           '-o', 'timeout=%d' % max(budget, 60)] + list(extra) + files
    start = time.monotonic()
    try:
        rc = subprocess.run(cmd, cwd=root, env=env, timeout=budget).returncode
    except subprocess.TimeoutExpired:
        print('sanitize: over the %d s budget' % budget)
        rc = 1
    print('sanitize: %d test files in %.0f s' % (len(files), time.monotonic() - start))
    return rc


def asan(args, extra):
    ver = subprocess.run([args.python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                         capture_output=True, text=True, check=True).stdout.strip()
    base = os.path.join(HERE, 'build', 'asan-' + ver)
    tree = os.path.join(base, 'tree')
    for name in COPY:
        if os.path.exists(os.path.join(HERE, name)):
            sync(os.path.join(HERE, name), os.path.join(tree, name))
    flags = '-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer'
    env = dict(os.environ, CFLAGS=flags, LDFLAGS='-fsanitize=address,undefined', DEBUG='1')
    start = time.monotonic()
    subprocess.run([args.python, 'setup.py', '-q', 'build_ext', '--inplace',
                    '--build-temp', os.path.join(base, 'obj')],
                   cwd=tree, env=env, check=True)
    print('sanitize: build in %.0f s' % (time.monotonic() - start))
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env.update(
        PYTHONPATH=tree,
        LD_PRELOAD=' '.join([runtime(args.python, 'asan'), runtime(args.python, 'ubsan')]),
        # CPython frees little at exit: leak reports would be its own.
        # A greenlet switch unwinds no frames, so no fake stacks either.
        ASAN_OPTIONS='detect_leaks=0:detect_stack_use_after_return=0:'
                     'allocator_may_return_null=1:halt_on_error=1:abort_on_error=0',
        UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1',
        PYTHONMALLOC='malloc',
        GEVENT_C_SANITIZER='asan',
    )
    # the instrumented build, not one on the path before it (a .pth file)
    where = subprocess.run([args.python, '-c', 'import gevent_c._greenlet as m; print(m.__file__)'],
                           cwd=tree, env=env, capture_output=True, text=True)
    if not where.stdout.startswith(tree):
        sys.exit('sanitize: the tests would not import the ASan build: %s%s'
                 % (where.stdout, where.stderr))
    return run_tests(args.python, tree, expand(ASAN_TESTS, tree), env, args.budget, extra)


def valgrind(args, extra):
    if shutil.which('valgrind') is None:
        sys.exit('sanitize: valgrind not found (apt-get install valgrind)')
    log_dir = os.path.join(HERE, 'build', 'valgrind')
    shutil.rmtree(log_dir, ignore_errors=True)
    os.makedirs(log_dir)
    supp = os.path.join(HERE, 'tools', 'valgrind-python.supp')
    wrapper = os.path.join(log_dir, 'python')
    # every interpreter the tests start (subprocesses too) runs under memcheck
    with open(wrapper, 'w') as f:
        f.write('#!/bin/sh\nexec valgrind --tool=memcheck --error-exitcode=0 '
                '--track-origins=yes --leak-check=no --fullpath-after= '
                '--suppressions=%s --num-callers=30 '
                '--log-file=%s/vg.%%p.log %s "$@"\n'
                % (supp, log_dir, os.path.abspath(args.python)))
    os.chmod(wrapper, 0o755)
    env = dict(os.environ, PYTHONMALLOC='malloc', GEVENT_C_SANITIZER='valgrind',
               PYTHONPATH=HERE)
    rc = run_tests(wrapper, HERE, expand(VALGRIND_TESTS, HERE), env, args.budget, extra)
    ours, total = report(log_dir)
    print('valgrind: %d error(s) reported, %d with a gevent_c frame' % (total, ours))
    return rc or (1 if ours else 0)


def report(log_dir):
    """Count memcheck's errors; print and count those with a frame in one
    of our .so files.  An undefined value made by _PyLong_New is CPython
    3.11's zero int (tools/valgrind-python.supp), not ours."""
    ours = total = 0
    for name in sorted(os.listdir(log_dir)):
        if not name.startswith('vg.'):
            continue
        with open(os.path.join(log_dir, name)) as f:
            text = f.read()
        for block in re.split(r'\n==\d+== \n', text):
            body = re.sub(r'(?m)^==\d+== ', '', block).strip()
            if not re.match(r'(Invalid|Use of uninitialised|Conditional jump|Syscall param|'
                            r'Mismatched|Source and destination overlap)', body):
                continue
            total += 1
            origin = body.partition('Uninitialised value was created')[2]
            if re.search(r'by 0x[0-9A-F]+: _PyLong_New ', origin):
                continue
            # a frame of ours: by its source (full paths, --fullpath-after=)
            # or, without debug information, by the .so
            if re.search(r'/ext/(greenlet|core|ares|common)/|gevent_c/_\w+\.cpython', body):
                ours += 1
                print(body + '\n')
    return ours, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('tool', choices=['asan', 'valgrind'])
    parser.add_argument('--python', default=sys.executable)
    parser.add_argument('--budget', type=int, default=600,
                        help='seconds the whole test run may take')
    args, extra = parser.parse_known_args()
    sys.exit((asan if args.tool == 'asan' else valgrind)(args, extra))


if __name__ == '__main__':
    main()
