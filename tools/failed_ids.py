"""pytest plugin (-p failed_ids): append the node id of every failing test,
and of every module that fails to import, to the file named by
$GEVC_FAILED_IDS, one a line. tools/aarch64.sh compares two runs with it."""
import os


def _record(nodeid):
    path = os.environ.get("GEVC_FAILED_IDS")
    if path:
        with open(path, "a") as f:
            f.write(nodeid + "\n")


def pytest_runtest_logreport(report):
    if report.failed:
        _record(report.nodeid)


def pytest_collectreport(report):
    if report.failed:
        _record(report.nodeid)
