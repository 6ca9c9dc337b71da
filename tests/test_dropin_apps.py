"""Applications written for gevent run unchanged on gevent_c.

gunicorn's own gevent worker, celery's gevent pool, Flask-SocketIO in gevent
mode and geventhttpclient import the name ``gevent``; each scenario runs them
in a child process where GEVENT_C_AS_GEVENT=1 (or ``python -m gevent_c.monkey
--as-gevent``) makes that name gevent_c, and checks from inside that they
really run on gevent_c's hub. Every server runs on 127.0.0.1 and is stopped by
the test that started it; concurrency is shown by overlap seen by the
application, never by timing.
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import _monkeytest
from _monkeytest import ROOT, as_gevent_env, free_port

pytestmark = pytest.mark.timeout(60)

GEVENT_C_DIR = os.path.join(ROOT, 'gevent_c')


class Child:
    """A child process whose output (stdout and stderr merged) is collected
    by a thread, so a test can wait for a line of it."""

    def __init__(self, argv, env, cwd):
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self):
        return ''.join(self.lines)

    def wait_for(self, pattern, timeout=30):
        """The first match of *pattern* in the output; fails when the child
        exits or *timeout* passes first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError('no %r in the output of %s:\n%s' % (
            pattern, self.proc.args, self.output))

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal the child and wait for it; its exit code (killed when it
        does not exit in *timeout*)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


def run_child(code, env, cwd, timeout=40):
    """Run *code* with this interpreter; its stdout, checked for exit code 0."""
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, 'rc=%s\nstdout:\n%s\nstderr:\n%s' % (
        proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def max_overlap(intervals):
    """The largest number of [start, end) intervals open at one moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = now = 0
    for _, step in events:     # an end sorts before a start at the same instant
        now += step
        best = max(best, now)
    return best


def test_max_overlap():
    assert max_overlap([(0, 1), (1, 2)]) == 1
    assert max_overlap([(0, 3), (1, 2), (1.5, 4), (3, 5)]) == 3
    assert max_overlap([]) == 0


def assert_on_gevent_c(info):
    """*info* as the RUNS_ON snippet reports it from inside an application."""
    assert info['gevent'] == 'gevent_c' and info['hub'] == 'gevent_c.hub', info
    assert os.path.dirname(info['gevent_file']) == GEVENT_C_DIR, info
    assert info['greenlet'].startswith('gevent_c.') and info['current_is_greenlet'], info
    assert info['socket_patched'], info
    assert info['version'] == '26.9.0', info


# what an application module under the alias reports about where it runs
RUNS_ON = '''
def runs_on():
    import gevent, gevent.socket, greenlet, socket
    return {
        'gevent': getattr(gevent, '__gevent_c_alias__', None), 'gevent_file': gevent.__file__,
        'version': gevent.__version__, 'hub': type(gevent.get_hub()).__module__,
        'greenlet': greenlet.greenlet.__module__,
        'current_is_greenlet': isinstance(greenlet.getcurrent(), greenlet.greenlet),
        'socket_patched': socket.socket is gevent.socket.socket,
    }
'''


# -- gunicorn -k gevent ------------------------------------------------------

GUNICORN_APP = RUNS_ON + '''
import os
import sys
import flask
import gevent
import gevent.event

app = flask.Flask(__name__)
state = {'active': 0, 'max': 0}
three_at_once = gevent.event.Event()


@app.route('/info')
def info():
    return flask.jsonify(pid=os.getpid(), **runs_on())


@app.route('/overlap')
def overlap():
    # held until three requests are in this worker at the same time (or 5 s)
    state['active'] += 1
    state['max'] = max(state['max'], state['active'])
    try:
        if state['active'] >= 3:
            three_at_once.set()
        three_at_once.wait(5)
        return flask.jsonify(pid=os.getpid(), max=state['max'])
    finally:
        state['active'] -= 1


@app.route('/slow')
def slow():
    print('slow request in worker', os.getpid(), file=sys.stderr, flush=True)
    gevent.sleep(1)
    return flask.jsonify(pid=os.getpid(), slow='done')
'''


def http_get_json(port, path, timeout=20):
    import http.client
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, (resp.status, body)
        return json.loads(body)
    finally:
        conn.close()


@pytest.mark.parametrize('worker', ['gevent', 'gevent_pywsgi'])
def test_gunicorn_own_gevent_workers_serve_flask_on_gevent_c(tmp_path, worker):
    pytest.importorskip('gunicorn', reason='gunicorn is not installed for this Python')
    pytest.importorskip('flask', reason='Flask is not installed for this Python')
    (tmp_path / 'gapp.py').write_text(GUNICORN_APP)
    env = as_gevent_env(tmp_path / 'hook', path=[tmp_path])
    g = Child([sys.executable, '-m', 'gunicorn', '-k', worker, '-w', '2',
               '-b', '127.0.0.1:0', '--graceful-timeout', '10', '--access-logfile', '-',
               '--control-socket', str(tmp_path / 'gunicorn.ctl'), 'gapp:app'],
              env, cwd=tmp_path)
    try:
        port = int(g.wait_for(r'Listening at: http://127\.0\.0\.1:(\d+)').group(1))
        g.wait_for(r'Using worker: %s$' % worker)
        deadline = time.monotonic() + 30
        while len(re.findall(r'Booting worker with pid: (\d+)', g.output)) < 2:
            assert time.monotonic() < deadline and g.proc.poll() is None, g.output
            time.sleep(0.05)
        pids = {int(p) for p in re.findall(r'Booting worker with pid: (\d+)', g.output)}

        info = http_get_json(port, '/info')
        assert info['pid'] in pids
        assert_on_gevent_c(info)
        # the access log line, written by the worker's handler
        g.wait_for(r'"GET /info HTTP/1\.1" 200 \d+ ')

        # eight requests at once over two workers: one worker holds at least
        # three of them at the same moment
        results = []
        clients = [threading.Thread(target=lambda: results.append(http_get_json(port, '/overlap')))
                   for _ in range(8)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(30)
        assert len(results) == 8, g.output
        assert {r['pid'] for r in results} <= pids
        assert max(r['max'] for r in results) >= 3, results

        # TERM with a request in flight: the worker answers it, then exits
        slow = []
        client = threading.Thread(target=lambda: slow.append(http_get_json(port, '/slow')))
        client.start()
        g.wait_for(r'slow request in worker')
        g.proc.send_signal(signal.SIGTERM)
        client.join(30)
        assert slow and slow[0]['slow'] == 'done', g.output
        assert g.proc.wait(30) == 0, g.output
    finally:
        rc = g.stop()
    assert rc == 0, g.output
    assert 'Traceback' not in g.output and '[ERROR]' not in g.output, g.output


# -- celery -P gevent ----------------------------------------------------------

CELERY_APP = RUNS_ON + '''
import os
import time
import redis
from celery import Celery

BROKER = 'redis://127.0.0.1:%d' % int(os.environ['REDIS_PORT'])
app = Celery('capp', broker=BROKER + '/0', backend=BROKER + '/1')
app.conf.update(broker_connection_retry_on_startup=True, worker_prefetch_multiplier=4,
                result_expires=None)


@app.task
def nap(i):
    start = time.time()
    time.sleep(0.1)          # cooperative: celery -P gevent patched time
    end = time.time()
    return {'i': i, 'start': start, 'end': end, 'pid': os.getpid(),
            'runs_on': runs_on() if i == 0 else None}


@app.task
def meet(n, key, timeout=20):
    # in until n tasks are in at once: the n-th lets them all go (False
    # after *timeout* s without it)
    r = redis.Redis(host='127.0.0.1', port=int(os.environ['REDIS_PORT']), db=2)
    try:
        if r.incr(key + ':in') == n:
            r.rpush(key + ':go', *['go'] * n)
        return r.blpop([key + ':go'], timeout=timeout) is not None
    finally:
        r.close()


@app.task(track_started=True)
def sleep_for(seconds):
    time.sleep(seconds)
    return 'finished'
'''

CELERY_PRODUCER = '''
import json
from capp import meet, nap
from celery import group
naps = group(nap.s(i) for i in range(200)).apply_async().get(timeout=40)
met = group(meet.s(100, 'meet') for _ in range(100)).apply_async().get(timeout=40)
print(json.dumps({'naps': naps, 'met': met}))
'''


@pytest.fixture
def redis_server():
    with _monkeytest.redis_server() as port:
        yield port


def run_celery_worker(tmp_path, redis_port, client_code):
    """Start `celery -A capp worker -P gevent -c 100` under the alias, run
    *client_code* (a plain process: the producer does not use gevent) once
    the worker is ready, stop the worker; (client's JSON, worker's exit
    status, worker)."""
    pytest.importorskip('celery', reason='celery is not installed for this Python')
    (tmp_path / 'capp.py').write_text(CELERY_APP)
    env = as_gevent_env(tmp_path / 'hook', {'REDIS_PORT': str(redis_port)}, path=[tmp_path])
    worker = Child([sys.executable, '-m', 'celery', '-A', 'capp', 'worker', '-P', 'gevent',
                    '-c', '100', '-n', 'gevc@localhost', '-l', 'info', '--without-heartbeat',
                    '--without-gossip', '--without-mingle'], env, cwd=tmp_path)
    try:
        worker.wait_for(r'gevc@localhost ready\.', timeout=40)
        plain = {k: v for k, v in env.items() if k != 'GEVENT_C_AS_GEVENT'}
        out = json.loads(run_child(client_code, plain, cwd=tmp_path))
    finally:
        # a task the client left running would hold the warm shutdown for 30 s
        rc = worker.stop()
    return out, rc, worker


def test_celery_gevent_pool_runs_200_tasks_100_at_a_time_on_gevent_c(tmp_path, redis_server):
    out, rc, worker = run_celery_worker(tmp_path, redis_server, CELERY_PRODUCER)
    naps = out['naps']
    assert sorted(r['i'] for r in naps) == list(range(200))
    assert {r['pid'] for r in naps} == {worker.proc.pid}
    assert_on_gevent_c(naps[0]['runs_on'])
    # How many naps are asleep at once is bounded by how fast celery hands
    # them to the pool (a few ms of CPU each here, 25 to 100 at once seen on
    # two shared cores); one at a time would be 1.
    overlap = max_overlap([(r['start'], r['end']) for r in naps])
    assert 10 <= overlap <= 100, overlap
    # all 100 greenlets of the pool at once: each meet task returns only
    # once the hundredth has started
    assert out['met'] == [True] * 100
    assert rc == 0, worker.output
    assert 'Warm shutdown' in worker.output
    assert 'Traceback' not in worker.output, worker.output


CELERY_CONTROL = '''
import json, time
from celery import group
from celery.exceptions import TaskRevokedError, TimeLimitExceeded
from capp import app, meet, sleep_for
worker = ['gevc@localhost']


def limit():
    stats = app.control.inspect(worker, timeout=10).stats()
    return stats[worker[0]]['pool']['max-concurrency']


def meeting(n, key, tasks=None, timeout=20):
    # how many of *tasks* (default n) tasks saw n of them in at once
    group_ = group(meet.s(n, key, timeout) for _ in range(tasks or n))
    return sum(group_.apply_async().get(timeout=40))


out = {}
# pool_shrink/pool_grow: celery moves the pool's size and its semaphore.
# Shrunk to 10, ten tasks run at once but not eleven: the first ten wait for
# the eleventh, which starts only once one of them gives up.
app.control.pool_shrink(90, destination=worker, reply=True, timeout=10)
out['shrunk'] = [limit(), meeting(10, 's10'), meeting(11, 's11', timeout=1)]
app.control.pool_grow(40, destination=worker, reply=True, timeout=10)
out['grown'] = [limit(), meeting(50, 'g50')]

# a hard time limit: a gevent Timeout around the task
try:
    sleep_for.apply_async((30,), time_limit=0.3).get(timeout=20)
except TimeLimitExceeded as exc:
    out['time_limit'] = type(exc).__name__

# revoke(terminate=True) on a running task: gevent.kill on its greenlet
running = sleep_for.delay(30)
deadline = time.monotonic() + 20
while running.state != 'STARTED' and time.monotonic() < deadline:
    time.sleep(0.02)
out['before_revoke'] = running.state
running.revoke(terminate=True)
try:
    running.get(timeout=20)
except TaskRevokedError as exc:
    out['revoked'] = type(exc).__name__
print(json.dumps(out))
'''


def test_celery_gevent_pool_shrinks_grows_times_out_and_revokes_on_gevent_c(tmp_path,
                                                                            redis_server):
    out, rc, worker = run_celery_worker(tmp_path, redis_server, CELERY_CONTROL)
    shrunk_limit, ten_met, of_eleven_met = out['shrunk']
    assert (shrunk_limit, ten_met) == (10, 10)
    assert 1 <= of_eleven_met <= 10
    assert out['grown'] == [50, 50]
    assert out['time_limit'] == 'TimeLimitExceeded'
    assert out['before_revoke'] == 'STARTED' and out['revoked'] == 'TaskRevokedError'
    assert rc == 0, worker.output
    assert 'Traceback' not in worker.output, worker.output


# -- Flask-SocketIO (async_mode='gevent') --------------------------------------

SOCKETIO_SERVER = RUNS_ON + '''
import os
import sys
if os.environ.get('SIO_WITHOUT_GEVENT_WEBSOCKET'):
    # engine.io's gevent driver falls back to simple-websocket, driven by
    # gevent.selectors, gevent.event and Greenlet threads
    sys.modules['geventwebsocket'] = None
import flask
import flask_socketio
import gevent

app = flask.Flask(__name__)
sio = flask_socketio.SocketIO(app, async_mode='gevent')


@sio.on('connect')
def on_connect():
    flask_socketio.emit('welcome', {'async_mode': sio.async_mode})


@sio.on('hello')
def on_hello(data):
    flask_socketio.emit('reply', {'echo': data, 'runs_on': runs_on()})
    return 'ack ' + data


@sio.on('push_later')
def on_push_later(count):
    sid = flask.request.sid

    def pusher():
        for n in range(count):
            gevent.sleep(0.01)
            sio.emit('pushed', n, to=sid)
    sio.start_background_task(pusher)


if __name__ == '__main__':
    sio.run(app, host='127.0.0.1', port=int(os.environ['SIO_PORT']), log_output=False)
'''

SOCKETIO_CLIENT = '''
import json, os, queue, socketio
events = queue.Queue()
client = socketio.Client()
for name in ('welcome', 'reply', 'pushed'):
    client.on(name, lambda data, name=name: events.put((name, data)))
url = 'http://127.0.0.1:%s' % os.environ['SIO_PORT']
client.connect(url, transports=os.environ['SIO_TRANSPORTS'].split(','), wait_timeout=10)
try:
    got = [events.get(timeout=10)]
    ack = client.call('hello', 'there', timeout=10)
    got.append(events.get(timeout=10))
    client.emit('push_later', 3)
    got += [events.get(timeout=10) for _ in range(3)]
    print(json.dumps({'transport': client.transport(), 'ack': ack, 'events': got}))
finally:
    client.disconnect()
'''


@pytest.mark.parametrize('server_kind, transports', [
    ('socketio.run', 'polling'), ('socketio.run', 'websocket'), ('gunicorn', 'websocket'),
    ('socketio.run+simple-websocket', 'websocket')])
def test_flask_socketio_gevent_mode_exchanges_events_on_gevent_c(tmp_path, server_kind,
                                                                 transports):
    pytest.importorskip('flask_socketio', reason='Flask-SocketIO is not installed for this Python')
    pytest.importorskip('socketio', reason='python-socketio is not installed for this Python')
    extra = {'SIO_TRANSPORTS': transports}
    if server_kind.endswith('simple-websocket'):
        pytest.importorskip('simple_websocket',
                            reason='simple-websocket is not installed for this Python')
        extra['SIO_WITHOUT_GEVENT_WEBSOCKET'] = '1'
    elif transports == 'websocket':
        pytest.importorskip('geventwebsocket',
                            reason='gevent-websocket is not installed for this Python')
    if transports == 'websocket':
        pytest.importorskip('websocket', reason='websocket-client is not installed')
    (tmp_path / 'sioapp.py').write_text(SOCKETIO_SERVER)
    env = as_gevent_env(tmp_path / 'hook', extra, path=[tmp_path])
    # the client does not use gevent
    plain = {k: v for k, v in env.items() if k != 'GEVENT_C_AS_GEVENT'}
    if server_kind == 'gunicorn':
        # as Flask-SocketIO documents it: gevent-websocket's gunicorn worker
        # (a subclass of gunicorn's gevent worker), under GEVENT_C_AS_GEVENT
        pytest.importorskip('gunicorn', reason='gunicorn is not installed for this Python')
        server = Child([sys.executable, '-m', 'gunicorn', '-w', '1', '-b', '127.0.0.1:0',
                        '-k', 'geventwebsocket.gunicorn.workers.GeventWebSocketWorker',
                        '--control-socket', str(tmp_path / 'gunicorn.ctl'), 'sioapp:app'],
                       env, cwd=tmp_path)
        port = int(server.wait_for(r'Listening at: http://127\.0\.0\.1:(\d+)').group(1))
        expected_rc = 0
    else:
        # socketio.run(app), patched through the command line switch
        port = free_port()
        plain['SIO_PORT'] = str(port)
        server = Child([sys.executable, '-m', 'gevent_c.monkey', '--as-gevent', 'sioapp.py'],
                       plain, cwd=tmp_path)
        expected_rc = -signal.SIGTERM
    plain['SIO_PORT'] = str(port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _http_status(port, '/socket.io/?EIO=4&transport=polling') == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.proc.poll() is None, server.output
            time.sleep(0.05)
        result = json.loads(run_child(SOCKETIO_CLIENT, plain, cwd=tmp_path))
    finally:
        rc = server.stop()
    assert result['transport'] == transports
    assert result['ack'] == 'ack there'
    welcome, reply, *pushed = result['events']
    assert welcome == ['welcome', {'async_mode': 'gevent'}]
    assert reply[0] == 'reply' and reply[1]['echo'] == 'there'
    assert_on_gevent_c(reply[1]['runs_on'])
    assert pushed == [['pushed', 0], ['pushed', 1], ['pushed', 2]]
    assert rc == expected_rc, server.output
    assert 'Traceback' not in server.output, server.output


def _http_status(port, path):
    import http.client
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


# -- geventhttpclient ------------------------------------------------------------

GEVENTHTTPCLIENT = RUNS_ON + '''
import json
import os
import gevent
import gevent.event
import gevent.pywsgi
import geventhttpclient
import geventhttpclient.client

TLS = os.environ.get('TLS_FOLDER')

N = 50
state = {'active': 0, 'max': 0}
all_in = gevent.event.Event()


def app(environ, start_response):
    # each request is held until all N are in the server at once (or 10 s)
    state['active'] += 1
    state['max'] = max(state['max'], state['active'])
    if state['active'] == N:
        all_in.set()
    all_in.wait(10)
    state['active'] -= 1
    body = ('%s %d' % (environ['PATH_INFO'], state['max'])).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


tls_server = {'certfile': os.path.join(TLS, 'c.pem'),
              'keyfile': os.path.join(TLS, 'k.pem')} if TLS else {}
server = gevent.pywsgi.WSGIServer(('127.0.0.1', 0), app, log=None, **tls_server)
server.start()
# with TLS the client checks the server's certificate and host name
tls_client = {'ssl': True,
              'ssl_options': {'ca_certs': os.path.join(TLS, 'c.pem')}} if TLS else {}
client = geventhttpclient.HTTPClient('127.0.0.1', server.server_port, concurrency=N,
                                     connection_timeout=10, network_timeout=20, **tls_client)


def fetch(i):
    response = client.get('/item/%d' % i)
    assert response.status_code == 200
    return response.read().decode()


def scheme(environ, start_response):
    start_response('200 OK', [])
    return [environ['wsgi.url_scheme'].encode()]


jobs = [gevent.spawn(fetch, i) for i in range(N)]
gevent.joinall(jobs, raise_error=True, timeout=30)
server.application = scheme
seen_scheme = client.get('/').read().decode()
client.close()
server.stop()
print(json.dumps({'bodies': [j.value for j in jobs], 'max': state['max'], 'scheme': seen_scheme,
                  'client_socket': geventhttpclient.client.gevent.socket.socket.__module__,
                  'runs_on': runs_on()}))
'''


@pytest.mark.parametrize('scheme', ['http', 'https'])
def test_geventhttpclient_50_greenlets_overlap_at_the_server_on_gevent_c(tmp_path, scheme):
    pytest.importorskip('geventhttpclient',
                        reason='geventhttpclient is not installed for this Python')
    extra = {}
    if scheme == 'https':
        if shutil.which('openssl') is None:
            pytest.skip('needs the openssl command')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                        'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem',
                        '-out', 'c.pem', '-days', '2', '-subj', '/CN=127.0.0.1',
                        '-addext', 'subjectAltName=IP:127.0.0.1'],
                       cwd=tmp_path, check=True, capture_output=True)
        extra['TLS_FOLDER'] = str(tmp_path)
    env = as_gevent_env(tmp_path / 'hook', extra)
    code = 'from gevent import monkey; monkey.patch_all()\n' + GEVENTHTTPCLIENT
    result = json.loads(run_child(code, env, cwd=tmp_path))
    assert result['max'] == 50
    bodies = result['bodies']
    assert [b.split()[0] for b in bodies] == ['/item/%d' % i for i in range(50)]
    assert {b.split()[1] for b in bodies} == {'50'}
    assert result['scheme'] == scheme
    assert result['client_socket'] == 'gevent_c.socket'
    assert_on_gevent_c(result['runs_on'])


# -- locust ----------------------------------------------------------------------

# A server on gevent_c itself (no alias) that holds each request 20 ms and
# keeps the largest number in flight at once and who sent them.
LOCUST_TARGET = '''
import json, sys
from gevent_c import pywsgi, sleep
state = {'active': 0, 'max': 0, 'pids': set()}

def app(environ, start_response):
    if environ['PATH_INFO'] == '/stats':
        body = json.dumps({'max': state['max'], 'pids': sorted(state['pids'])}).encode()
    else:
        state['active'] += 1
        state['max'] = max(state['max'], state['active'])
        pid = environ['QUERY_STRING'].partition('pid=')[2]
        if pid:
            state['pids'].add(int(pid))
        sleep(0.02)
        state['active'] -= 1
        body = b'ok'
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]

server = pywsgi.WSGIServer(('127.0.0.1', 0), app, log=None)
server.start()
print('serving on', server.server_port, flush=True)
server.serve_forever()
'''

# Both of locust's user classes: HttpUser (requests) and FastHttpUser
# (geventhttpclient).
LOCUSTFILE = RUNS_ON + '''
import json
import os
from locust import FastHttpUser, HttpUser, constant, events, task


@events.init.add_listener
def report(environment, **kwargs):
    print('RUNS_ON', json.dumps(runs_on()), flush=True)


class Plain(HttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get('/?pid=%d' % os.getpid(), name='/')


class Fast(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get('/fast?pid=%d' % os.getpid(), name='/fast')
'''


def _locust_totals(csv_prefix):
    """(requests, failures) of the Aggregated row of locust's --csv stats."""
    import csv
    with open(str(csv_prefix) + '_stats.csv', newline='') as f:
        for row in csv.DictReader(f):
            if row['Name'] == 'Aggregated':
                return int(row['Request Count']), int(row['Failure Count'])
    raise AssertionError('no Aggregated row in the stats')


def _runs_on_lines(output):
    return [json.loads(line.split(' ', 1)[1]) for line in output.splitlines()
            if line.startswith('RUNS_ON ')]


@pytest.mark.parametrize('mode', ['standalone', 'distributed'])
def test_locust_load_test_runs_on_gevent_c(tmp_path, mode):
    # locust imports gevent and patches everything itself; distributed, its
    # master and workers talk over pyzmq's zmq.green on gevent_c's hub
    # not imported here: importing locust patches the process with gevent
    if importlib.util.find_spec('locust') is None:
        pytest.skip('locust is not installed for this Python')
    (tmp_path / 'locustfile.py').write_text(LOCUSTFILE)
    target = Child([sys.executable, '-c', LOCUST_TARGET], _monkeytest.child_env(), cwd=tmp_path)
    children = [target]
    try:
        port = int(target.wait_for(r'serving on (\d+)').group(1))
        env = as_gevent_env(tmp_path / 'hook')
        common = ['-f', 'locustfile.py', '--host', 'http://127.0.0.1:%d' % port]
        run = ['--headless', '-u', '20', '-r', '20', '-t', '3s', '--csv', 'out',
               '--only-summary']
        if mode == 'standalone':
            argv = [sys.executable, '-m', 'locust'] + common + run
        else:
            master_port = free_port()
            argv = ([sys.executable, '-m', 'locust'] + common + run
                    + ['--master', '--master-bind-host', '127.0.0.1',
                       '--master-bind-port', str(master_port), '--expect-workers', '2'])
            for _ in range(2):
                children.append(Child([sys.executable, '-m', 'locust'] + common
                                      + ['--worker', '--master-host', '127.0.0.1',
                                         '--master-port', str(master_port)], env, tmp_path))
        main = Child(argv, env, tmp_path)
        children.append(main)
        main.proc.wait(60)
        assert main.proc.returncode == 0, main.output
        for worker in children[1:-1]:
            worker.proc.wait(30)
            assert worker.proc.returncode == 0, worker.output
        stats = http_get_json(port, '/stats')
    finally:
        for child in children:
            child.stop()
    requests, failures = _locust_totals(tmp_path / 'out')
    assert requests > 100 and failures == 0, (requests, failures, main.output)
    # 20 users, each request held 20 ms: they overlap at the server
    assert stats['max'] >= 10, stats
    user_processes = children[1:-1] if mode == 'distributed' else [main]
    assert set(stats['pids']) == {c.proc.pid for c in user_processes}, stats
    for child in children[1:]:
        reports = _runs_on_lines(child.output)
        assert reports, child.output
        for info in reports:
            assert_on_gevent_c(info)
