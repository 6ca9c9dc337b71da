"""Runners for the reference packages' own test suites against gevent_c.

Each runner takes the tests of the reference package installed in the
running interpreter, runs them against gevent_c and compares the outcome
with a list of known differences kept next to it (``*_known.txt``): every
test that fails must be listed there with a one-line reason.

    python -m tests.compat.greenlet_suite
"""
