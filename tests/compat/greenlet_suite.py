"""Run greenlet's own test suite against gevent_c._greenlet.

    python -m tests.compat.greenlet_suite [--timeout SECONDS] [--leakchecks]
                                          [--keep] [PYTEST ARGS...]

The tests come from the greenlet package installed in the running
interpreter (``greenlet/tests``).  They are copied into a temporary folder
under a package named ``greenlet`` that is an alias of gevent_c._greenlet,
so they import it unchanged, and run with pytest in a child process.

Tests of greenlet's private test hooks (its compiled test extensions, its
failure injection, its optional-cleanup switch) are deselected: gevent_c has
nothing they could test.  Every other test counts.  A test that fails must
be listed in greenlet_known.txt with a one-line reason; the run fails if an
unlisted test fails, and names listed tests that no longer fail.

Each test gets a time limit (pytest-timeout, thread method: a hang in C is
caught too).  A test that kills or hangs the child process is counted as
failed and the run goes on with the tests left, in a new process.

The last line printed is
``greenlet's own suite: P passed, F failed, K known, S skipped``
(F: failures not in the list, K: failures in it).
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import _common

TARGET = "gevent_c._greenlet"
KNOWN = Path(__file__).with_name("greenlet_known.txt")
EVENTS_ENV = "GEVENT_C_COMPAT_EVENTS"

# Files that need greenlet's compiled test extensions: not copied.
PRIVATE_FILES = (
    "test_cpp.py",                  # _test_extension_cpp
    "test_extension_interface.py",  # _test_extension
    "fail_cpp_exception.py",        # a script of test_cpp.py
)

# Tests of greenlet's private hooks, deselected.  Ids are relative to
# greenlet/tests.
PRIVATE_TESTS = {
    "test_greenlet.py::TestBrokenGreenlets::test_failed_to_initialstub":
        "failure injection (UnswitchableGreenlet)",
    "test_greenlet.py::TestBrokenGreenlets::test_failed_to_switch_into_running":
        "failure injection (UnswitchableGreenlet)",
    "test_greenlet.py::TestBrokenGreenlets::test_failed_to_slp_switch_into_running":
        "failure injection (UnswitchableGreenlet)",
    "test_greenlet.py::TestGreenlet::test_get_stack_with_nested_c_calls":
        "compiled test extension (_test_extension_cpp)",
    "test_interpreter_shutdown.py::TestInterpreterShutdown::"
    "test_api_getcurrent_no_system_error_at_module_gc_time":
        "compiled test extension (_test_extension)",
    "test_interpreter_shutdown.py::TestInterpreterShutdown::"
    "test_switch_no_error_at_module_gc_time":
        "compiled test extension (_test_extension)",
    "test_leaks.py::TestLeaks::test_issue251_with_cleanup_disabled":
        "greenlet's optional-cleanup switch (enable_optional_cleanup(False))",
    "test_leaks.py::TestLeaks::"
    "test_issue251_issue252_need_to_collect_in_background_cleanup_disabled":
        "greenlet's optional-cleanup switch (enable_optional_cleanup(False))",
}

# The alias package.  greenlet/__init__.py re-exports the target;
# greenlet/_greenlet.py adds the test hooks greenlet's tests import from
# greenlet._greenlet, implemented for gevent_c (none of them is a constant
# that makes a check pass by itself).
ALIAS_INIT = '''\
"""{target} under the name greenlet, for greenlet's own tests."""
from {target} import (greenlet, getcurrent, GreenletExit, error,
                      settrace, gettrace, _C_API)
from . import _greenlet
from ._greenlet import (GREENLET_USE_CONTEXT_VARS, GREENLET_USE_GC,
                        GREENLET_USE_TRACING, CLOCKS_PER_SEC,
                        enable_optional_cleanup,
                        get_clocks_used_doing_optional_cleanup)

__version__ = {version!r}   # the greenlet whose suite this is
'''

ALIAS_PRIVATE = '''\
"""greenlet._greenlet: {target} plus the hooks greenlet's tests use."""
import ctypes as _ctypes
import gc as _gc

import {target} as _target
from {target} import *
from {target} import _C_API

GREENLET_USE_CONTEXT_VARS = GREENLET_USE_GC = GREENLET_USE_TRACING = 1
CLOCKS_PER_SEC = 1000000


def enable_optional_cleanup(flag):
    """gevent_c has no optional cleanup pass: nothing to switch."""


def get_clocks_used_doing_optional_cleanup():
    # Reported as enabled (None would mean disabled): the tests then keep
    # every check they make when greenlet cleans up.
    return 0


def get_pending_cleanup_count():
    # gevent_c frees a thread's greenlet state when the thread's state is
    # cleared, with the GIL held: nothing is ever queued for later.
    return 0


def get_total_main_greenlets():
    # Main greenlets alive, of any thread: the only greenlets with no parent.
    return sum(1 for o in _gc.get_objects()
               if isinstance(o, greenlet) and o.parent is None)


_get_dict = _ctypes.pythonapi.PyThreadState_GetDict
_get_dict.restype = _ctypes.c_void_p    # a borrowed reference
_get_dict.argtypes = []


def set_thread_local(key, value):
    """Store value in this thread's state dict (cleared when it ends)."""
    _ctypes.cast(_get_dict(), _ctypes.py_object).value[key] = value


# absent where the interpreter keeps no trashcan nesting (3.13+), as in
# greenlet; its test then checks only that nothing crashes
_nesting = getattr(_target, "_trash_delete_nesting", None)
if _nesting is not None and _nesting() is not None:
    def get_tstate_trash_delete_nesting():
        return _nesting()
'''

PASSED, FAILED, SKIPPED = _common.PASSED, _common.FAILED, _common.SKIPPED


# ---------------------------------------------------------------------------
# pytest plugin, loaded in the child process: writes one JSON line per event
# to the file named by $GEVENT_C_COMPAT_EVENTS, so what ran survives a crash.

def _emit(**event):
    with open(os.environ[EVENTS_ENV], "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")


def pytest_collection_finish(session):
    if EVENTS_ENV in os.environ:
        _emit(event="collected", ids=[item.nodeid for item in session.items])


def pytest_runtest_logstart(nodeid, location):
    if EVENTS_ENV in os.environ:
        _emit(event="start", id=nodeid)


def pytest_collectreport(report):
    # a test file that cannot be imported counts as one failed test
    if EVENTS_ENV in os.environ and report.failed:
        _emit(event="report", id=report.nodeid, when="teardown",
              outcome="failed", text=report.longreprtext[-4000:])


def pytest_runtest_logreport(report):
    if EVENTS_ENV in os.environ:
        failed = report.outcome == "failed"
        _emit(event="report", id=report.nodeid, when=report.when,
              outcome=report.outcome,
              text=report.longreprtext[-4000:] if failed else "")


# ---------------------------------------------------------------------------
# the runner

def installed_tests_dir():
    spec = importlib.util.find_spec("greenlet")
    if spec is None or spec.origin is None:
        raise SystemExit("greenlet is not installed in %s; install the "
                         "reference (pip install greenlet==3.5.6)"
                         % sys.executable)
    tests = Path(spec.origin).parent / "tests"
    if not tests.is_dir():
        raise SystemExit("%s has no tests folder" % tests.parent)
    return tests


def greenlet_version():
    try:
        return importlib.metadata.version("greenlet")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def build_alias(root, tests_dir):
    """Write the alias package `greenlet` with the tests under root."""
    pkg = root / "greenlet"
    shutil.copytree(tests_dir, pkg / "tests", ignore=shutil.ignore_patterns(
        "__pycache__", "*.so", "*.pyd", "*.c", "*.cpp", "*.h", *PRIVATE_FILES))
    (pkg / "__init__.py").write_text(
        ALIAS_INIT.format(target=TARGET, version=greenlet_version()))
    (pkg / "_greenlet.py").write_text(ALIAS_PRIVATE.format(target=TARGET))
    # an ini file of its own, so that no configuration above root applies
    (root / "pytest.ini").write_text("[pytest]\n")


def plugin_module():
    """Our module name and the sys.path entry it is importable from."""
    name = __spec__.name if __spec__ is not None else __name__
    return name, str(Path(__file__).resolve().parents[name.count(".")])


def target_path():
    spec = importlib.util.find_spec(TARGET.partition(".")[0])
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("cannot find %s; build it in place and run from "
                         "the project folder" % TARGET)
    return str(Path(list(spec.submodule_search_locations)[0]).parent)


def read_events(path):
    """(collected ids or None, id -> outcome, id -> failure text, started)."""
    collected, seen, texts, started, finished = None, {}, {}, [], set()
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue        # a line cut short by a crash
        if ev["event"] == "collected":
            collected = ev["ids"]
        elif ev["event"] == "start":
            started.append(ev["id"])
        elif ev["event"] == "report":
            seen.setdefault(ev["id"], set()).add(ev["outcome"])
            if ev["text"]:
                texts.setdefault(ev["id"], ev["text"])
            if ev["when"] == "teardown":
                finished.add(ev["id"])
    # A test counts once its teardown reported (a test that took the
    # process down has none).  A failure in any phase (or subtest) fails
    # it; else a skip (or an expected failure) in any phase skips it.
    outcomes = {t: FAILED if FAILED in s else SKIPPED if SKIPPED in s
                else PASSED for t, s in seen.items() if t in finished}
    return collected, outcomes, texts, started


def short_id(nodeid, prefix="greenlet/tests/"):
    return nodeid[len(prefix):] if nodeid.startswith(prefix) else nodeid


def run_suite(root, per_test_timeout, total_timeout, leakchecks, extra, log):
    """Run the copied tests; return (id -> outcome, id -> note, error)."""
    plugin, plugin_dir = plugin_module()
    env = dict(os.environ)
    paths = [str(root), target_path(), plugin_dir]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if not leakchecks:
        env["GREENLET_SKIP_LEAKCHECKS"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-p", plugin, "--tb=short", "--continue-on-collection-errors"]
    if importlib.util.find_spec("pytest_timeout") is not None:
        cmd += ["--timeout", str(per_test_timeout),
                "--timeout-method", "thread"]
    else:
        log("pytest-timeout is not installed: only the total time is bounded")
    selection = ["greenlet/tests"]
    for test_id in PRIVATE_TESTS:
        selection += ["--deselect", "greenlet/tests/" + test_id]

    collected, outcomes, texts, notes = None, {}, {}, {}
    deadline = time.monotonic() + total_timeout
    for round_no in range(1, 1000):
        events = root / ("events-%d.jsonl" % round_no)
        env[EVENTS_ENV] = str(events)
        with open(root / ("pytest-%d.log" % round_no), "w") as out:
            proc = subprocess.Popen(cmd + selection + extra, cwd=root,
                                    env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
            try:
                rc = proc.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = "killed after the total time limit"
        got, outs, txt, started = read_events(events)
        if collected is None:
            if got is None and not outs:
                tail = (root / ("pytest-%d.log" % round_no)).read_text()
                return {}, {}, ("pytest collected nothing (exit %s):\n%s"
                                % (rc, tail[-3000:]))
            collected = list(got or [])
            # a test file that failed to import has an outcome, no test ids
            collected += [t for t in outs if t not in collected]
        outcomes.update(outs)
        texts.update(txt)
        left = [t for t in collected if t not in outcomes]
        if not left:
            break
        # The child ended before every test reported: the test it was
        # running killed it (a crash, a hang past the time limit).
        running = [t for t in started if t not in outcomes]
        culprit = running[-1] if running else left[0]
        outcomes[culprit] = FAILED
        notes[culprit] = "ended the test process (%s)" % (
            "exit status %s" % rc if isinstance(rc, int) else rc)
        left.remove(culprit)
        if not left or time.monotonic() >= deadline:
            for t in left:
                outcomes[t] = FAILED
                notes[t] = "not run: total time limit reached"
            break
        selection = left
    outcomes = {short_id(t): o for t, o in outcomes.items()}
    for t, text in texts.items():
        notes.setdefault(t, text)
    notes = {short_id(t): n for t, n in notes.items()}
    return outcomes, notes, None


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tests.compat.greenlet_suite",
        description="Run greenlet's own test suite against %s." % TARGET)
    parser.add_argument("--timeout", type=float, default=60,
                        help="seconds per test (default 60)")
    parser.add_argument("--total-timeout", type=float, default=1200,
                        help="seconds for the whole run (default 1200)")
    parser.add_argument("--leakchecks", action="store_true",
                        help="keep greenlet's objgraph leak checks (each "
                             "test runs repeatedly; slow).  The known list "
                             "is for runs without them: with them, "
                             "test_gc.py::TestGC::test_finalizer_crash also "
                             "fails, because gevent_c collects the greenlet "
                             "greenlet expects to leak")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (alias, pytest logs)")
    parser.add_argument("--tests-dir", type=Path,
                        help="greenlet's tests folder (default: that of the "
                             "installed greenlet)")
    parser.add_argument("--known", type=Path, default=KNOWN,
                        help="known-differences file (default %(default)s)")
    args, extra = parser.parse_known_args(argv)

    try:
        known = _common.read_known(args.known)
    except (OSError, ValueError) as e:
        print("greenlet_suite: %s" % e, file=sys.stderr)
        return 2
    tests_dir = args.tests_dir or installed_tests_dir()
    root = Path(tempfile.mkdtemp(prefix="greenlet-suite-"))
    try:
        build_alias(root, tests_dir)
        print("greenlet's tests from %s against %s" % (tests_dir, TARGET),
              flush=True)
        outcomes, notes, error = run_suite(
            root, args.timeout, args.total_timeout, args.leakchecks, extra,
            log=print)
    finally:
        if args.keep:
            print("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    if error:
        print(error)
        return 2
    verdict = _common.judge(outcomes, known)
    return _common.report(verdict, "greenlet", notes)


if __name__ == "__main__":
    sys.exit(main())
