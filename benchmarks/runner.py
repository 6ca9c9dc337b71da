"""Schedule the measurements and write the report.

Every measurement is a fresh ``python -m benchmarks.worker`` process, so
no implementation sees another's imports, caches or heap. For each workload
the implementations alternate within every repetition (gevent_c, reference,
blocking, asyncio, uvloop, then again, the starting one rotating), so drift of
the machine spreads over all of them instead of landing on one. An
implementation that is missing, fails, crashes or times out is recorded as
n/a with the reason, and its remaining repetitions of that workload are
skipped.
"""
import argparse
import fnmatch
import json
import os
import signal
import statistics
import subprocess
import sys
import time

from . import registry, report
from .worker import MARKER

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(PACKAGE_DIR)
DEFAULT_OUT = os.path.join(PACKAGE_DIR, "results")
# A run taking HANG_FACTOR times the slowest finished run of the same
# workload (and at least MIN_TIMEOUT seconds) is taken as hung, so a
# deadlocked gevent_c costs seconds, not --timeout, per workload.
HANG_FACTOR = 20
MIN_TIMEOUT = 15.0
STDERR_LINES = 8  # kept in latest.json for a measurement that failed


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time gevent_c against gevent, greenlet, asyncio and uvloop.")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: small N and 2 repetitions (unless --reps)")
    p.add_argument("--only", metavar="PATTERN", action="append", default=[],
                   help="run only the workloads PATTERN names: a group (hub), "
                        "a name (core.run_callback) or a glob ('*switch*'); "
                        "repeatable, or comma-separated")
    p.add_argument("--reps", type=int, metavar="N",
                   help="repetitions per implementation (default 5, --quick 2)")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help="where latest.json/.rst/.png go (default benchmarks/results)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                   help="n/a a measurement that takes longer (default 120); "
                        "also after 20x the slowest run of the same workload")
    p.add_argument("--list", action="store_true",
                   help="list the workloads and exit")
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 5
    if args.reps < 1:
        p.error("--reps must be at least 1")
    args.only = [pat for arg in args.only for pat in arg.split(",") if pat]
    return args


def select(workloads, patterns):
    """Workloads named by any pattern: a glob, a full name or a group."""
    if not patterns:
        return workloads

    def matches(w, pat):
        return w.group == pat or fnmatch.fnmatchcase(w.name, pat)

    return [w for w in workloads if any(matches(w, p) for p in patterns)]


def worker_env():
    """The caller's environment, with this checkout reachable last.

    Appending (not prepending) keeps whatever the caller put first on the
    path first, so which gevent_c is measured is the caller's choice.
    """
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if REPO_DIR not in paths:
        paths.append(REPO_DIR)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def signal_name(returncode):
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_one(name, impl, n, timeout, env):
    """One measurement in a fresh process: ``{"value": ...}`` or ``{"na": ...}``."""
    cmd = [sys.executable, "-m", "benchmarks.worker", name, impl, str(n)]
    try:
        proc = subprocess.run(cmd, capture_output=True, encoding="utf-8",
                              errors="replace", timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"na": f"timed out after {timeout:g} s"}
    except OSError as exc:
        return {"na": f"cannot start worker: {exc}"}
    tail = proc.stderr.strip().splitlines()[-STDERR_LINES:]
    result = None
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                result = json.loads(line[len(MARKER):])
            except ValueError:
                pass
            break
    if result is None and proc.returncode < 0:
        result = {"na": f"crashed ({signal_name(proc.returncode)})"}
    elif result is None:
        why = tail[-1] if tail else "no output"
        result = {"na": f"worker exited {proc.returncode}: {why}"}
    if "na" in result and tail:
        result["stderr"] = tail  # e.g. a traceback the hub printed
    return result


def fmt_progress(result):
    if "na" in result:
        return "n/a"
    return report.fmt_value(result["value"])


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def run_workload(w, args, env, log):
    n = w.quick_n if args.quick else w.n
    impls = {impl: {"samples": [], "na": None} for impl in w.impls}
    slowest = 0.0  # wall time of the slowest successful run so far
    for rep in range(args.reps):
        line = []
        # The start rotates so gevent_c is not always first; its first run
        # comes after a reference's, which bounds how long it may take.
        for impl in rotated(list(impls), rep + 1):
            rec = impls[impl]
            if rec["na"] is not None:
                continue
            timeout = args.timeout
            if slowest:
                timeout = min(timeout, max(MIN_TIMEOUT, HANG_FACTOR * slowest))
            t0 = time.monotonic()
            result = run_one(w.name, impl, n, timeout, env)
            if "na" in result:
                rec["na"] = result["na"]
                rec["stderr"] = result.get("stderr", [])
            else:
                rec["samples"].append(result["value"])
                slowest = max(slowest, time.monotonic() - t0)
            line.append(f"{impl} {fmt_progress(result)}")
        if line:
            log(f"  [{rep + 1}/{args.reps}] " + "  ".join(line))
    for rec in impls.values():
        if rec["na"] is not None:
            rec["samples"] = []
        samples = rec["samples"]
        rec["median"] = statistics.median(samples) if samples else None
        rec["min"] = min(samples, default=None)
        rec["max"] = max(samples, default=None)
    return {
        "name": w.name,
        "title": w.title,
        "group": w.group,
        "unit": w.unit,
        "n": n,
        "reference": w.reference,
        "impls": impls,
        "speedup": report.speedup(impls, w.reference),
    }


def versions():
    found = {"python": sys.version.split()[0]}
    for dist in ("gevent", "greenlet", "uvloop", "matplotlib", "gevent_c"):
        try:
            from importlib.metadata import version
            found[dist] = version(dist)
        except Exception:  # noqa: BLE001  not installed is fine
            found[dist] = None
    return found


def git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                             cwd=REPO_DIR, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    workloads = registry.all_workloads()
    if args.list:
        for w in workloads:
            print(f"{w.name:28} {', '.join(w.impls):40} {w.title}")
        return 0
    chosen = select(workloads, args.only)
    if not chosen:
        print(f"no workload matches {', '.join(args.only)}; see --list",
              file=sys.stderr)
        return 2

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    env = worker_env()
    started = time.time()
    results = []
    for w in chosen:
        log(f"{w.name}: {w.title}")
        results.append(run_workload(w, args, env, log))
    data = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "seconds": round(time.time() - started, 1),
            "reps": args.reps,
            "quick": args.quick,
            "only": args.only,
            "commit": git_commit(),
            "cpus": os.cpu_count(),
            "platform": sys.platform,
            "versions": versions(),
        },
        "workloads": results,
    }
    print(report.text_table(data))
    for note in report.write_all(data, args.out):
        print(note)
    return 0
