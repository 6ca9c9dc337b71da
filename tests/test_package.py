"""The gevent_c package itself: version attributes and submodules reachable
as attributes after a bare import, as gevent's are."""
import subprocess
import sys

import pytest

import gevent_c


def test_version_is_pep440_and_version_info_a_comparable_tuple():
    packaging_version = pytest.importorskip('packaging.version')
    parsed = packaging_version.Version(gevent_c.__version__)
    assert str(parsed) == gevent_c.__version__
    info = gevent_c.version_info
    assert tuple(info[:3]) == parsed.release + (0,) * (3 - len(parsed.release))
    assert (info.major, info.minor, info.micro) == tuple(info[:3])
    assert info >= (0, 1) and info < (99,)


@pytest.mark.parametrize('version, expected', [
    ('1.2.3', (1, 2, 3, 'final', 0)),
    ('1.2', (1, 2, 0, 'final', 0)),
    ('2.0rc1', (2, 0, 0, 'candidate', 1)),
    ('0.1.0.dev3', (0, 1, 0, 'dev', 3)),
    ('1.0b2.post1', (1, 0, 0, 'beta', 2)),
])
def test_version_info_from_the_version_string(version, expected):
    assert gevent_c._version_info(version) == expected


def test_version_info_refuses_a_non_pep440_string():
    with pytest.raises(ValueError):
        gevent_c._version_info('one.two')


def test_bare_import_reaches_submodules_as_attributes():
    code = ('import gevent_c; e = gevent_c.event.Event(); e.set(); '
            'print(e.is_set(), gevent_c.hub.Hub.__name__, gevent_c.ssl.__name__, '
            'gevent_c.queue.Queue.__name__, hasattr(gevent_c, "no_such_module"))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.split() == ['True', 'Hub', 'gevent_c.ssl', 'Queue', 'False'], out.stderr


def test_private_names_are_not_imported_on_attribute_access():
    with pytest.raises(AttributeError):
        gevent_c._no_such_private
