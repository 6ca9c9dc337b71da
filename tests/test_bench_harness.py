"""The benchmark harness runs, writes its files and survives broken gevent_c.

One quick run of three cheap workloads, in a subprocess, against a stand-in
gevent_c package placed first on the path: its ``_core`` cannot be imported,
its ``_greenlet`` kills the process with SIGSEGV on import and its ``sleep``
never returns. (The
stand-in modules must exist: the editable install's finder would otherwise
supply the real ones.) The blocking bulk body and the dns body (against
the test DNS server) also run once on tiny N. No timing is checked.
"""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = "core.timer_start_stop,coroutine.create_run,hub.sleep0"
HANG_TIMEOUT = 3  # seconds; the quick reference runs take well under one

HANGING_HUB = """\
import time
def sleep(seconds=0):
    time.sleep(3600)
spawn = sleep
"""

CRASHING_GREENLET = """\
import os, signal
os.kill(os.getpid(), signal.SIGSEGV)
"""

MISSING_CORE = """\
raise ModuleNotFoundError("stand-in: no loop here", name=__name__)
"""


def run_bench(tmp_path, *args):
    fake = tmp_path / "fake"
    (fake / "gevent_c").mkdir(parents=True)
    (fake / "gevent_c" / "__init__.py").write_text(HANGING_HUB)
    (fake / "gevent_c" / "_greenlet.py").write_text(CRASHING_GREENLET)
    for name in ("_core.py", "core.py"):
        (fake / "gevent_c" / name).write_text(MISSING_CORE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake), REPO]))
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=100)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "out"
    proc = run_bench(tmp, "--quick", "--reps", "1", "--only", WORKLOADS,
                     "--timeout", str(HANG_TIMEOUT), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with open(out / "latest.json") as f:
        data = json.load(f)
    return proc, out, {w["name"]: w for w in data["workloads"]}


@pytest.mark.timeout(110)
def test_quick_run_measures_the_reference_and_writes_json(quick_run):
    _, _, workloads = quick_run
    assert set(workloads) == set(WORKLOADS.split(","))
    timer = workloads["core.timer_start_stop"]
    assert timer["reference"] == "gevent"
    assert timer["unit"] == "ns"
    gevent = timer["impls"]["gevent"]
    assert gevent["na"] is None
    assert len(gevent["samples"]) == 1
    assert gevent["median"] > 0


@pytest.mark.timeout(110)
def test_quick_run_prints_the_table_and_writes_rst(quick_run):
    proc, out, _ = quick_run
    header = proc.stdout.splitlines()[0].split()
    assert header[:3] == ["workload", "unit", "gevent_c"]
    assert "speed-up" in header
    assert "core.timer_start_stop" in proc.stdout
    rst = (out / "latest.rst").read_text()
    assert rst.startswith("====")
    assert "coroutine.create_run" in rst


@pytest.mark.timeout(110)
def test_missing_gevent_c_module_is_reported_na(quick_run):
    _, _, workloads = quick_run
    timer = workloads["core.timer_start_stop"]
    ours = timer["impls"]["gevent_c"]
    assert ours["median"] is None
    assert ours["na"].startswith("missing:")
    assert "gevent_c._core: stand-in: no loop here" in ours["na"]
    assert timer["speedup"] is None


@pytest.mark.timeout(110)
def test_crashing_gevent_c_module_is_reported_na_and_reference_still_runs(quick_run):
    _, _, workloads = quick_run
    create = workloads["coroutine.create_run"]
    assert create["impls"]["gevent_c"]["na"] == "crashed (SIGSEGV)"
    assert create["impls"]["greenlet"]["median"] > 0


@pytest.mark.timeout(110)
def test_hanging_gevent_c_is_timed_out_and_reported_na(quick_run):
    _, _, workloads = quick_run
    sleep0 = workloads["hub.sleep0"]
    assert sleep0["impls"]["gevent_c"]["na"] == f"timed out after {HANG_TIMEOUT} s"
    for ref in ("gevent", "asyncio"):  # uvloop is a bench extra only
        assert sleep0["impls"][ref]["median"] > 0


@pytest.mark.timeout(30)
def test_only_pattern_matching_nothing_exits_2(tmp_path):
    proc = run_bench(tmp_path, "--only", "no-such-workload", "--out",
                     str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "no workload matches" in proc.stderr
    assert not (tmp_path / "out").exists()


# ---- workloads with a column or a server of their own --------------------
# In process, on tiny N, through the registry: the bodies run, not the clock.

def load(name, impl):
    from benchmarks import registry
    return registry.get(name).load(impl)


@pytest.mark.timeout(30)
def test_socketpair_bulk_has_a_blocking_stdlib_column():
    from benchmarks import registry
    w = registry.get("io.socketpair_bulk")
    assert w.impls[:2] == ["gevent_c", "gevent"]
    assert "blocking" in w.impls
    assert w.reference == "gevent"
    body, api = load("io.socketpair_bulk", "blocking")
    assert api.socket is __import__("socket").socket
    assert body(api, 2) > 0


@pytest.mark.timeout(30)
def test_blocking_column_appears_in_the_table():
    from benchmarks import report
    rec = {"samples": [2.0], "na": None, "median": 2.0}
    data = {"meta": {"reps": 1},
            "workloads": [{"name": "io.socketpair_bulk", "unit": "ns",
                           "impls": {"gevent_c": rec, "gevent": rec,
                                     "blocking": dict(rec, median=1.0)},
                           "speedup": 1.0}]}
    lines = report.text_table(data).splitlines()
    assert lines[0].split() == ["workload", "unit", "gevent_c", "gevent",
                                "blocking", "speed-up"]
    assert lines[2].split() == ["io.socketpair_bulk", "ns/op", "2.00", "2.00",
                                "1.00", "1.00x"]


def run_worker(name, impl, n):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", name, impl, str(n)],
        cwd=REPO, capture_output=True, text=True, timeout=50)
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("BENCH-RESULT "), proc.stderr
    return json.loads(line[len("BENCH-RESULT "):])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("impl", ["gevent_c", "gevent"])
def test_dns_workload_resolves_through_ares_against_the_test_server(impl):
    result = run_worker("dns.getaddrinfo_ares", impl, 50)
    assert result.get("ops") == 50 and result["value"] > 0, result


@pytest.mark.timeout(60)
def test_dns_thread_workload_resolves_in_private_namespaces_or_says_why_not():
    # "missing:" when not root or namespaces are refused; never an error
    result = run_worker("dns.getaddrinfo_thread", "gevent", 50)
    if "na" in result:
        assert result["na"].startswith("missing: "), result
        assert os.geteuid() != 0 or "unshare" in result["na"] or "mount" in result["na"]
    else:
        assert result["ops"] == 50 and result["value"] > 0, result
    with open("/etc/resolv.conf") as f:
        assert "options timeout:1 attempts:1" not in f.read()
