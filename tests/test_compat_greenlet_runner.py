"""The runner of greenlet's own suite (tests/compat): its known-differences
list and its verdict, on a tiny fake suite instead of greenlet's."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.compat import _common  # noqa: E402

FAKE_TESTS = '''
import os
import sys
import time
import unittest

import greenlet


def test_passes():
    g = greenlet.greenlet(lambda: greenlet.getcurrent())
    assert g.switch() is g


def test_fails():
    assert greenlet.getcurrent().parent == "not a greenlet"


def test_known_fails():
    raise AssertionError("a listed difference")


def test_known_but_passes():
    pass


def test_skipped():
    raise unittest.SkipTest("not here")


def test_crashes():
    sys.stdout.flush()
    os._exit(3)


def test_hangs():
    time.sleep(60)


class TestHooks(unittest.TestCase):
    def test_private_hooks_of_the_alias(self):
        from greenlet import _greenlet
        before = _greenlet.get_total_main_greenlets()
        self.assertGreaterEqual(before, 1)
        self.assertEqual(_greenlet.get_pending_cleanup_count(), 0)
        _greenlet.set_thread_local("compat-test", 1)

    def test_after_the_crash_still_runs(self):
        self.assertTrue(greenlet.getcurrent())
'''


def test_known_list_lines_need_an_id_and_a_reason():
    known = _common.parse_known(textwrap.dedent("""\
        # comment

        a.py::T::test_x  # reason one
        b.py::test_y[p-1] # reason # with a hash
        """))
    assert known == {"a.py::T::test_x": "reason one",
                     "b.py::test_y[p-1]": "reason # with a hash"}
    for bad in ("a.py::test_x", "a.py::test_x  #",
                "a.py::t # r\na.py::t # again"):
        with pytest.raises(ValueError, match="line"):
            _common.parse_known(bad)


def test_the_project_known_list_parses():
    known = _common.read_known(ROOT / "tests" / "compat" /
                               "greenlet_known.txt")
    assert all(reason for reason in known.values())


def test_verdict_counts_and_exit_status():
    outcomes = {"t::ok": "passed", "t::bad": "failed", "t::old": "failed",
                "t::fixed": "passed", "t::skip": "skipped"}
    known = {"t::old": "r", "t::fixed": "r", "t::gone": "r"}
    v = _common.judge(outcomes, known)
    assert (v.passed, v.skipped, v.failed, v.known) == (
        2, 1, ["t::bad"], ["t::old"])
    assert v.not_failing == {"t::fixed": "passed"}
    assert v.not_run == ["t::gone"]
    lines = []
    assert _common.report(v, "fake", {"t::bad": "boom"}, lines.append) == 1
    assert lines[0] == "FAILED (not in the known list) t::bad - boom"
    assert lines[-1] == "fake's own suite: 2 passed, 1 failed, 1 known, 1 skipped"
    assert any("t::fixed" in line and "remove" in line for line in lines)
    v = _common.judge({"t::old": "failed", "t::ok": "passed"}, {"t::old": "r"})
    assert _common.report(v, "fake", out=lambda s: None) == 0


def run_runner(tmp_path, known_text, *args):
    tests = tmp_path / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "__init__.py").write_text("")
    (tests / "test_fake.py").write_text(FAKE_TESTS)
    (tests / "test_broken.py").write_text("import no_such_module_here\n")
    known = tmp_path / "known.txt"
    known.write_text(known_text)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.compat.greenlet_suite",
         "--tests-dir", str(tests), "--known", str(known), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


@pytest.mark.timeout(240)
def test_runner_on_a_fake_suite(tmp_path):
    known = ("test_fake.py::test_known_fails  # listed\n"
             "test_fake.py::test_known_but_passes  # listed, passes now\n")
    rc, out, err = run_runner(tmp_path, known, "--timeout", "1")
    assert out[-1] == ("greenlet's own suite: 4 passed, 4 failed, 1 known, "
                       "1 skipped"), (out, err)
    assert rc == 1
    failed = sorted(line.split()[6] for line in out
                    if line.startswith("FAILED (not in the known list)"))
    assert failed == ["test_broken.py", "test_fake.py::test_crashes",
                      "test_fake.py::test_fails", "test_fake.py::test_hangs"]
    assert any("no_such_module_here" in line for line in out)
    assert any("ended the test process" in line and "test_crashes" in line
               for line in out)
    assert any("test_known_but_passes" in line and "remove" in line
               for line in out)
    # listing every failure makes the run pass
    known += "".join("%s  # listed\n" % t for t in failed)
    rc, out, err = run_runner(tmp_path, known, "--timeout", "1",
                              "-k", "not hangs and not crashes")
    assert rc == 0, (out, err)
    assert out[-1] == ("greenlet's own suite: 4 passed, 0 failed, 3 known, "
                       "1 skipped")
    assert sum("not run" in line for line in out) == 2


def test_runner_refuses_a_malformed_known_list(tmp_path):
    rc, out, err = run_runner(tmp_path, "test_fake.py::test_fails\n")
    assert rc == 2
    assert "reason" in err
