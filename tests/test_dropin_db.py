"""psycopg2 made cooperative by psycogreen, on gevent_c standing in for gevent.

psycogreen's wait callback does ``from gevent.socket import wait_read,
wait_write``; under ``gevent_c.install_as_gevent()`` that is gevent_c's
socket module. The test starts a real PostgreSQL server (Debian's, found
under /usr/lib/postgresql/*/bin) in a temporary folder, on a free loopback
port, as an unprivileged user when the tests run as root (postgres refuses to
run as root), and stops it when the module's tests are done.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from _isolated import run_isolated

pytestmark = pytest.mark.timeout(120)

UNPRIVILEGED = 'nobody'


def _postgres_bindir():
    """The bin folder of the newest PostgreSQL installed, or None."""
    def version(path):
        name = os.path.basename(os.path.dirname(path))
        return tuple(int(p) for p in name.split('.') if p.isdigit())
    found = sorted((os.path.dirname(p) for p in glob.glob('/usr/lib/postgresql/*/bin/postgres')
                    if os.access(os.path.join(os.path.dirname(p), 'initdb'), os.X_OK)),
                   key=version)
    return found[-1] if found else None


def _find_or_install_postgres():
    bindir = _postgres_bindir()
    if bindir is not None:
        return bindir, None
    if os.geteuid() != 0 or shutil.which('apt-get') is None:
        return None, 'no PostgreSQL under /usr/lib/postgresql/*/bin and no apt-get to install it'
    proc = subprocess.run(['apt-get', 'install', '-y', '-q', 'postgresql'],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
    bindir = _postgres_bindir()
    if bindir is None:
        return None, ('no PostgreSQL under /usr/lib/postgresql/*/bin and '
                      '"apt-get install postgresql" failed: %s'
                      % (proc.stderr.strip().splitlines() or ['exit %d' % proc.returncode])[-1])
    return bindir, None


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _as_server_user():
    """subprocess keyword arguments that run a command as the server's user:
    an unprivileged one when we are root, ourselves otherwise."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(UNPRIVILEGED)
    return dict(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])


@pytest.fixture(scope='module')
def postgres_dsn():
    """A running PostgreSQL on 127.0.0.1 (trust authentication, user
    postgres, no fsync: a throwaway server); its DSN."""
    bindir, why = _find_or_install_postgres()
    if bindir is None:
        print('skipping the psycopg2/psycogreen tests: ' + why)
        pytest.skip(why)
    pytest.importorskip('psycopg2', reason='psycopg2 has no wheel for this Python')
    pytest.importorskip('psycogreen')
    run_as = _as_server_user()
    root = tempfile.mkdtemp(prefix='gevent-c-pg-')
    data, log = os.path.join(root, 'data'), os.path.join(root, 'server.log')
    if run_as:
        os.chown(root, run_as['user'], run_as['group'])
    pg_ctl = os.path.join(bindir, 'pg_ctl')
    started = False
    try:
        subprocess.run([os.path.join(bindir, 'initdb'), '-D', data, '-A', 'trust',
                        '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C'],
                       cwd=root, check=True, capture_output=True, timeout=120, **run_as)
        port = _free_port()
        options = ('-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s '
                   '-c fsync=off -c synchronous_commit=off -c full_page_writes=off '
                   '-c max_connections=40' % (port, root))
        started = True
        proc = subprocess.run([pg_ctl, 'start', '-w', '-t', '60', '-D', data, '-l', log,
                               '-o', options], cwd=root, capture_output=True, text=True,
                              timeout=90, **run_as)
        if proc.returncode != 0:
            with open(log) as f:
                pytest.fail('postgres did not start: %s\n%s' % (proc.stderr, f.read()[-2000:]))
        yield 'host=127.0.0.1 port=%d user=postgres dbname=postgres' % port
    finally:
        if started:
            stop = subprocess.run([pg_ctl, 'stop', '-m', 'fast', '-w', '-t', '60', '-D', data],
                                  cwd=root, capture_output=True, timeout=90, **run_as)
            if stop.returncode != 0:
                _kill_postmaster(data)
        shutil.rmtree(root, ignore_errors=True)


def _kill_postmaster(data):
    try:
        with open(os.path.join(data, 'postmaster.pid')) as f:
            pid = int(f.readline())
        os.kill(pid, 9)
    except (OSError, ValueError):
        pass


PRELUDE = '''
    import sys
    import gevent_c
    gevent_c.install_as_gevent()
    from gevent import monkey
    monkey.patch_all()
    import gevent
    import psycopg2
    import psycogreen.gevent
    psycogreen.gevent.patch_psycopg()
    dsn = sys.argv[1]
'''


def test_psycogreen_waits_with_gevent_c(postgres_dsn):
    out = run_isolated(PRELUDE + '''
    import gevent_c.socket
    print(psycogreen.gevent.wait_read is gevent_c.socket.wait_read,
          psycogreen.gevent.wait_write is gevent_c.socket.wait_write,
          psycopg2.extensions.get_wait_callback() is psycogreen.gevent.gevent_wait_callback)
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute('SELECT %s + 1', (41,))
    print(cur.fetchone()[0])
    conn.close()
    ''', postgres_dsn)
    assert out.split() == ['True', 'True', 'True', '42']


def test_twenty_pg_sleeps_overlap_and_the_process_stays_responsive(postgres_dsn):
    # Overlap is read from the server's side: a separate connection counts the
    # pg_sleep queries pg_stat_activity shows active at once. Responsiveness:
    # a greenlet ticking every 10 ms keeps ticking while those queries run
    # (with a blocking driver it could not run at all during a query).
    out = run_isolated(PRELUDE + '''
    N = 20
    conns = [psycopg2.connect(dsn) for _ in range(N)]
    monitor = psycopg2.connect(dsn)
    monitor.autocommit = True
    in_flight = [0]
    from gevent.event import Event
    done = Event()
    ticks_in_flight = [0]
    most_seen = [0]

    def query(conn):
        cur = conn.cursor()
        in_flight[0] += 1
        try:
            cur.execute('SELECT pg_sleep(0.5)')
            cur.fetchall()
        finally:
            in_flight[0] -= 1

    def tick():
        while not done.is_set():
            if in_flight[0] >= 15:
                ticks_in_flight[0] += 1
            gevent.sleep(0.01)

    def watch():
        cur = monitor.cursor()
        while not done.is_set():
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                        "AND query = 'SELECT pg_sleep(0.5)' AND pid <> pg_backend_pid()")
            most_seen[0] = max(most_seen[0], cur.fetchone()[0])
            gevent.sleep(0.02)

    helpers = [gevent.spawn(tick), gevent.spawn(watch)]
    queries = [gevent.spawn(query, c) for c in conns]
    gevent.joinall(queries, raise_error=True)
    done.set()
    gevent.joinall(helpers, raise_error=True)
    for c in conns + [monitor]:
        c.close()
    print(most_seen[0], ticks_in_flight[0])
    ''', postgres_dsn)
    most_seen, ticks = map(int, out.split())
    assert most_seen >= 15, out
    assert ticks >= 3, out
