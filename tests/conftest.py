"""Fixtures every test module may use by name, and the run's settings."""
import os

import pytest

# Set by `make test-aarch64` (tools/aarch64.sh): the tests run under qemu-user
# CPU emulation, many times slower than on the host.
EMULATED = os.environ.get("GEVENT_C_EMULATED") == "1"
EMULATED_TIMEOUT_FACTOR = 4


def pytest_report_header(config):
    if EMULATED:
        return ("GEVENT_C_EMULATED=1: CPU emulation; every test's timeout is "
                "%d times its native value" % EMULATED_TIMEOUT_FACTOR)
    return None


def pytest_collection_modifyitems(config, items):
    _stretch_timeouts_under_emulation(config, items)
    _skip_no_sanitizer_tests(items)


def _stretch_timeouts_under_emulation(config, items):
    """Under emulation, stretch each test's timeout (a guard against hangs,
    not a measurement) by EMULATED_TIMEOUT_FACTOR."""
    if not EMULATED:
        return
    default = float(config.getini("timeout") or 0)
    for item in items:
        mark = item.get_closest_marker("timeout")
        seconds = default
        if mark is not None:
            seconds = float(mark.kwargs.get("timeout", mark.args[0] if mark.args else default))
        if seconds > 0:
            item.add_marker(pytest.mark.timeout(seconds * EMULATED_TIMEOUT_FACTOR),
                            append=False)


@pytest.fixture
def pair():
    """A connected pair of gevent_c sockets (AF_UNIX), closed afterwards."""
    from gevent_c import socket
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


# ``no_sanitizer(reason)``: a test that cannot run under AddressSanitizer or
# valgrind (tools/sanitize.py sets GEVENT_C_SANITIZER), e.g. one that
# measures RSS growth (the sanitizers keep freed memory in quarantine) or
# depends on signal timing (everything runs many times slower).  Skipped
# there with its reason; it runs everywhere else.
def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'no_sanitizer(reason): skipped under make asan / make valgrind')


def _skip_no_sanitizer_tests(items):
    import os
    tool = os.environ.get('GEVENT_C_SANITIZER')
    if not tool:
        return
    for item in items:
        mark = item.get_closest_marker('no_sanitizer')
        if mark is not None:
            reason = mark.args[0] if mark.args else mark.kwargs.get('reason', '')
            item.add_marker(pytest.mark.skip(reason='under %s: %s' % (tool, reason)))
