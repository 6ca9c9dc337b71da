"""What the compat runners share: the known-differences list and the verdict.

A known-differences file names one test per line, followed by ``# reason``:

    test_leaks.py::TestLeaks::test_x  # why gevent_c differs here

Blank lines and lines that start with ``#`` are comments.  A test id without
a reason, or listed twice, is an error: every difference is a decision.
"""
from typing import Dict, List, NamedTuple

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


def parse_known(text, source="known list"):
    """Map test id -> reason from the text of a known-differences file.

    Raises ValueError naming the line for an entry without a reason or an
    id listed twice.
    """
    known = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test_id, sep, reason = line.partition("#")
        test_id, reason = test_id.strip(), reason.strip()
        if not sep or not reason or not test_id:
            raise ValueError("%s, line %d: expected 'TEST_ID  # reason', got %r"
                             % (source, lineno, line))
        if test_id in known:
            raise ValueError("%s, line %d: %s is listed twice"
                             % (source, lineno, test_id))
        known[test_id] = reason
    return known


def read_known(path):
    """parse_known() of the file at *path*."""
    with open(path, encoding="utf-8") as f:
        return parse_known(f.read(), source=str(path))


class Verdict(NamedTuple):
    passed: int
    skipped: int
    failed: List[str]       # failed and not listed: these fail the run
    known: List[str]        # failed and listed
    not_failing: Dict[str, str]   # listed, but passed or skipped: id -> outcome
    not_run: List[str]      # listed, but not in this run


def judge(outcomes, known):
    """Compare *outcomes* (test id -> PASSED/FAILED/SKIPPED) with *known*."""
    failed, known_failed = [], []
    passed = skipped = 0
    for test_id, outcome in sorted(outcomes.items()):
        if outcome == FAILED:
            (known_failed if test_id in known else failed).append(test_id)
        elif outcome == SKIPPED:
            skipped += 1
        else:
            passed += 1
    not_failing = {t: outcomes[t] for t in sorted(known)
                   if t in outcomes and outcomes[t] != FAILED}
    not_run = [t for t in sorted(known) if t not in outcomes]
    return Verdict(passed, skipped, failed, known_failed, not_failing, not_run)


def report(verdict, suite_name, notes=None, out=print):
    """Print the verdict, its summary line last; return the exit status.

    *notes* maps test id -> extra text for a failure (a crash, a timeout).
    """
    notes = notes or {}
    for test_id in verdict.failed:
        note = notes.get(test_id, "").strip()
        one_line = note and "\n" not in note
        out("FAILED (not in the known list) %s%s"
            % (test_id, " - " + note if one_line else ""))
        if note and not one_line:
            out(note)
    for test_id, outcome in verdict.not_failing.items():
        out("listed as known but %s now: %s (remove it from the list)"
            % (outcome, test_id))
    for test_id in verdict.not_run:
        out("listed as known but not run: %s" % test_id)
    out("%s's own suite: %d passed, %d failed, %d known, %d skipped"
        % (suite_name, verdict.passed, len(verdict.failed),
           len(verdict.known), verdict.skipped))
    return 1 if verdict.failed else 0
