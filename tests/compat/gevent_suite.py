"""Run gevent's own test suite against gevent_c.

    python -m tests.compat.gevent_suite [--files a.py,b.py] [--jobs N]
        [--timeout S] [--budget S] [--retries N] [--logs DIR] [--known FILE]

The tests are those of the gevent package installed for the running
interpreter (its ``tests/`` and ``testing/`` folders, used in place, never
modified). Each file runs as ``python -m gevent.tests.<file>`` in its own
process (group), with a temporary folder first on PYTHONPATH whose
``sitecustomize`` (_gevent_alias.py) calls ``gevent_c.install_as_gevent()``
at start-up: every ``gevent.X`` a test imports is the module ``gevent_c.X``
and ``greenlet`` is gevent_c's, as in an application using the switch. Only
gevent's test support (gevent.testing, gevent.tests and a few private
pure-Python helpers) comes from the reference installation.

One line per file, then, last::

    gevent's own suite: N files, P passed, F failed, E errors, K known, S skipped

P, F, E, K and S count tests (a file that crashes, times out or is not run
within --budget counts as one error). K counts failures listed in
gevent_known.txt (next to this file: ``file.py``, ``file.py::Class`` or
``file.py::Class::test``, each followed by ``# reason``). The exit status
is 1 when F or E is not zero.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_FILE = os.path.join(HERE, 'gevent_known.txt')

# gevent's acceptance files for the modules gevent_c has, in one place.
ACCEPTANCE = """
test__core_watcher test__core_timer test__core_callback test__core_async
test__core_loop_run test__core_stat test__core_fork test__loop_callback
test__destroy test__destroy_default_loop test__nondefaultloop test__hub
test__hub_join test__hub_join_timeout test__sleep0 test__systemerror
test__exc_info test__GreenletExit test__api test__api_timeout test__order
test__greenlet test__greenletset test__joinall test__iwait test__local
test__event test__queue test__lock test__semaphore test__pool test__timeout
test__socket test__socket_close test__socket_timeout test__socket_errors
test__socket_ex test__socket_send_memoryview test__socketpair
test__makefile_ref test__select test__selectors test__ssl test__threadpool
test__subprocess test__subprocess_poll test__signal test__os test__all__
test__monkey test__monkey_queue test__monkey_select test__thread
test__threading test__server test__server_pywsgi test__pywsgi test__backdoor
test__monkey_selectors test__threading_2 test__monkey_builtins_future
test__monkey_fork_atomic test__monkey_futures_thread_fork
test__monkey_hub_in_thread test__monkey_logging test__monkey_module_run
test__monkey_multiple_imports test__monkey_sigchld test__monkey_sigchld_2
test__monkey_sigchld_3 test__monkey_sigchld_wakeup_fd test__monkey_ssl_warning
test__monkey_ssl_warning2 test__monkey_ssl_warning3
test__threading_before_monkey test__threading_fork_from_dummy
test__threading_holding_lock_while_monkey test__threading_monkey_in_thread
test__threading_native_before_monkey test__threading_no_monkey
test__threading_patched_local test__threading_shutdown_atexit
test__threadpool_executor_patched test__threading_vs_settrace
""".split()
# They join ACCEPTANCE once their failures are fixed: gaps, not decisions.
LATER = []

SUMMARY = ("gevent's own suite: {files} files, {passed} passed, {failed} failed, "
           "{errors} errors, {known} known, {skipped} skipped")
RAN_RE = re.compile(r"^Ran (\d+) tests? in ", re.M)
TALLY_RE = re.compile(r"^(?:OK|FAILED)(?: \((.*)\))?\s*$", re.M)
HEAD_RE = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\S+) \(([^)]*)\)")


# -- the list of known failures ------------------------------------------------

def parse_known(text, version=None):
    """``{entry: reason}`` from gevent_known.txt's text; an entry without a
    reason, or a malformed one, is a ValueError (the list holds decisions).
    A reason that starts with ``3.N+ only:`` applies from Python 3.N on:
    the entry is left out on an older *version* (default: this Python's)."""
    version = sys.version_info[:2] if version is None else version
    known = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        entry, sep, reason = line.partition(' #')
        entry, reason = entry.strip(), reason.strip()
        if not sep or not reason:
            raise ValueError('line %d: %r has no "# reason"' % (number, entry))
        if not re.fullmatch(r"test\w*\.py(::\w+){0,2}", entry):
            raise ValueError('line %d: %r is not file.py[::Class[::test]]' % (number, entry))
        since = re.match(r'(\d+)\.(\d+)\+ only:', reason)
        if since and tuple(version) < (int(since.group(1)), int(since.group(2))):
            continue
        known[entry] = reason
    return known


def is_known(test_id, known):
    """Whether *test_id* (file.py::Class::test) or its class or file is listed."""
    parts = test_id.split('::')
    return any('::'.join(parts[:n]) in known for n in range(1, len(parts) + 1))


# -- one file's report -------------------------------------------------------

def parse_report(fn, out, code):
    """What one file's unittest output says.

    Returns a dict: run, skipped (as unittest counted them), bad (test id ->
    'FAIL: ' or 'ERROR: ' and the last line of its traceback) and crash (why
    the file as a whole failed, or '').
    """
    report = dict(run=0, skipped=0, reported_bad=0, bad={}, crash='')
    blocks = re.split(r"^={50,}\s*$", out, flags=re.M)
    for block in blocks[1:]:
        lines = block.strip('\n').splitlines()
        head = HEAD_RE.match(lines[0]) if lines else None
        if not head:
            continue
        name, where = head.group(2), head.group(3).split('.')
        # (module.Class.test) on 3.11+, (module.Class) before
        cls = where[-2] if where[-1] == name and len(where) > 1 else where[-1]
        test_id = '%s::%s::%s' % (fn, cls, name)
        body = []
        for line in lines[2:]:  # the traceback, between two lines of dashes
            if line.startswith('-' * 50):
                break
            if line.strip():
                body.append(line)
        # the exception line: the first unindented one after the last
        # "Traceback" header (the message may go on for lines after it)
        starts = [i for i, line in enumerate(body) if line.startswith('Traceback (')]
        after = [line for line in body[starts[-1] + 1 if starts else 0:]
                 if not line[:1].isspace()]
        if after:
            body = [after[0]]
        kind = 'ERROR' if head.group(1) == 'ERROR' else 'FAIL'
        report['bad'][test_id] = '%s: %s' % (kind, body[-1].strip() if body else '')
    ran = RAN_RE.findall(out)
    if ran:
        report['run'] = int(ran[-1])
        tallies = TALLY_RE.findall(out)
        for key, value in re.findall(r"(\w[\w ]*)=(\d+)", tallies[-1] if tallies else ''):
            if key == 'skipped':
                report['skipped'] = int(value)
            elif key in ('failures', 'errors', 'unexpected successes'):
                report['reported_bad'] += int(value)
    if code is None:
        report['crash'] = 'timed out'
    elif code != 0 and not ran:
        last = [l for l in out.splitlines() if l.strip()][-1:] or ['no output']
        report['crash'] = 'exit %s: %s' % (code, last[0].strip()[:160])
    elif code != 0 and report['reported_bad'] == 0:
        report['crash'] = 'exit %s after its tests passed' % (code,)
    elif code == 0 and not ran:  # a plain script, or one that skipped itself
        report['run'] = 1
        report['skipped'] = int(out.lstrip().startswith('Skipped'))
    return report


def verdict(fn, report, known):
    """Classify one file's report against the known list.

    Returns a dict of test counts (passed, failed, errors, known, skipped),
    status ('ok', 'known' or 'FAILED') and unknown (ids to show).
    """
    bad = report['bad']
    # failures unittest counted but whose block we could not read
    unread = max(report['reported_bad'] - len(bad), 0)
    listed = [t for t in bad if is_known(t, known)]
    unknown = [t for t in bad if not is_known(t, known)]
    if unread:
        unknown.append('%s::? (%d unreadable)' % (fn, unread))
    result = dict(passed=max(report['run'] - report['skipped'] - report['reported_bad'], 0),
                  failed=sum(1 for t in unknown if bad.get(t, '').startswith('FAIL')),
                  errors=0, known=len(listed), skipped=report['skipped'],
                  unknown=unknown, status='ok')
    result['errors'] = len(unknown) - result['failed']
    if report['crash']:
        if fn in known:
            result.update(known=result['known'] + 1, status='known')
        else:
            result.update(errors=result['errors'] + 1, status='FAILED')
            result['unknown'].append('%s: %s' % (fn, report['crash']))
    if result['status'] == 'ok':
        if unknown:
            result['status'] = 'FAILED'
        elif listed:
            result['status'] = 'known'
    return result


# -- running -----------------------------------------------------------------

def reference_dir():
    """The folder of the gevent package installed for this interpreter."""
    import importlib.util
    spec = importlib.util.find_spec('gevent')
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gevent's own suite: gevent is not installed for %s" % sys.executable)
    return list(spec.submodule_search_locations)[0]


def make_alias(root):
    """Write root/sitecustomize.py: install_as_gevent() and gevent's test
    support, in every process started with root on PYTHONPATH."""
    shutil.copyfile(os.path.join(HERE, '_gevent_alias.py'),
                    os.path.join(root, 'sitecustomize.py'))


def child_env(root, reference):
    import importlib.util
    target = importlib.util.find_spec('gevent_c')
    if target is None:
        raise SystemExit("gevent's own suite: cannot import gevent_c")
    paths = [root, os.path.dirname(list(target.submodule_search_locations)[0]),
             os.environ.get('PYTHONPATH')]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p),
                GEVENT_C_COMPAT_REFERENCE=reference,
                GEVENTTEST_USE_RESOURCES='-network',  # loopback only
                PYTHONDONTWRITEBYTECODE='1',          # the reference stays untouched
                PYTHONFAULTHANDLER='1')


class Runner:
    """Runs files, --jobs at a time, each in its own process group."""

    def __init__(self, root, env, timeout, deadline):
        self.root, self.env, self.timeout, self.deadline = root, env, timeout, deadline
        self.live = set()
        self.lock = threading.Lock()

    def run(self, fn):
        """Run one file: (output, exit code or None on timeout, seconds)."""
        start = time.monotonic()
        budget = min(self.timeout, self.deadline - start)
        if budget <= 0:
            return 'not run: over the --budget', None, 0.0
        with self.lock:
            proc = subprocess.Popen(
                [sys.executable, '-u', '-m', 'gevent.tests.' + fn[:-3]], cwd=self.root,
                env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True)
            self.live.add(proc)
        try:
            out, _ = proc.communicate(timeout=budget)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            self.kill(proc)
            out, code = proc.communicate()[0], None
        finally:
            self.kill(proc)  # whatever the test left behind in its group
            with self.lock:
                self.live.discard(proc)
        return out.decode('utf-8', 'replace'), code, time.monotonic() - start

    @staticmethod
    def kill(proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_all(self):
        with self.lock:
            for proc in list(self.live):
                self.kill(proc)


def check_file(runner, fn, known, retries):
    """Run *fn* (again, up to *retries* times, while it fails); its verdict."""
    for attempt in range(1 + retries):
        out, code, secs = runner.run(fn)
        report = parse_report(fn, out, code)
        result = verdict(fn, report, known)
        result.update(run=report['run'], secs=secs, tries=attempt + 1, out=out,
                      bad=report['bad'])
        if result['status'] != 'FAILED' or code is None:
            break
    return result


def file_line(fn, r):
    note = ' (try %d)' % r['tries'] if r['tries'] > 1 else ''
    return '%-34s %-7s %3d passed, %d failed, %d errors, %d known, %d skipped, %5.1fs%s' % (
        fn, r['status'], r['passed'], r['failed'], r['errors'], r['known'], r['skipped'],
        r['secs'], note)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--files', help='comma-separated test files (default: the acceptance list)')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--timeout', type=float, default=120, help='seconds per file')
    ap.add_argument('--budget', type=float, default=600,
                    help='seconds for the whole run; files not started by then are errors')
    ap.add_argument('--retries', type=int, default=1, help='re-runs of a failing file')
    ap.add_argument('--logs', help='keep each file\'s output in this folder')
    ap.add_argument('--known', default=KNOWN_FILE, help='the list of known failures')
    ap.add_argument('--source', help='folder holding gevent\'s tests/ and testing/ '
                    '(default: the installed gevent)')
    args = ap.parse_args(argv)

    reference = args.source or reference_dir()
    with open(args.known) as f:
        known = parse_known(f.read())
    names = args.files.split(',') if args.files else ACCEPTANCE
    files = [n.strip() if n.strip().endswith('.py') else n.strip() + '.py'
             for n in names if n.strip()]
    missing = [f for f in files if not os.path.isfile(os.path.join(reference, 'tests', f))]
    if missing:
        print('not in %s/tests: %s' % (reference, ', '.join(missing)))
        return 2

    root = tempfile.mkdtemp(prefix='gevent-c-suite-')
    runner = Runner(root, child_env(root, reference), args.timeout,
                    time.monotonic() + args.budget)
    totals = dict.fromkeys(('passed', 'failed', 'errors', 'known', 'skipped'), 0)
    failing, passing_known = [], []
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        make_alias(root)
        if args.logs:
            os.makedirs(args.logs, exist_ok=True)
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            jobs = [(fn, pool.submit(check_file, runner, fn, known, max(0, args.retries)))
                    for fn in files]
            for fn, job in jobs:  # in list order, so the output reads the same each run
                r = job.result()
                if args.logs:
                    with open(os.path.join(args.logs, fn[:-3] + '.log'), 'w') as f:
                        f.write(r['out'])
                for key in totals:
                    totals[key] += r[key]
                print(file_line(fn, r), flush=True)
                for test_id in r['unknown'][:10]:
                    detail = r['bad'].get(test_id, '')
                    print('    %s%s' % (test_id, ': ' + detail[:120] if detail else ''))
                if r['status'] == 'FAILED':
                    failing.append(fn)
                passing_known += [k for k in known if k.split('::')[0] == fn
                                  and not any(is_known(t, {k: ''}) for t in r['bad'])
                                  and k != fn]
    finally:
        runner.kill_all()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(root, ignore_errors=True)
    for entry in passing_known:
        print('listed in %s but passed: %s' % (os.path.basename(args.known), entry))
    print(SUMMARY.format(files=len(files), **totals))
    return 1 if totals['failed'] or totals['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
