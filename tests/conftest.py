"""Fixtures every test module may use by name."""
import pytest


@pytest.fixture
def pair():
    """A connected pair of gevent_c sockets (AF_UNIX), closed afterwards."""
    from gevent_c import socket
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()
