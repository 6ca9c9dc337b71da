"""gevent_c.gunicorn: the workers under a real gunicorn serving Flask, and
pywsgi's handler shape as gunicorn's own gevent worker uses it."""
import datetime
import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _httptest import exchange, serve

gunicorn = pytest.importorskip('gunicorn')
pytest.importorskip('flask')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APP = '''
import os
import flask
import gevent_c

app = flask.Flask(__name__)

@app.route('/')
def index():
    return 'pid %d' % os.getpid()

@app.route('/slow')
def slow():
    gevent_c.sleep(float(flask.request.args.get('s', '1')))
    return 'slow done'

def stuck_in_a_loop():
    import time
    while True:
        time.monotonic()

@app.route('/stuck')
def stuck():
    stuck_in_a_loop()
'''


def test_gunicorns_own_handler_code_runs_on_pywsgi():
    # gunicorn's PyWSGIHandler.log_request, as written for gevent, reads the
    # handler's attributes; it must find them on gevent_c's handler.
    ggevent = pytest.importorskip('gunicorn.workers.ggevent')
    from gevent_c import pywsgi
    seen = []

    class Log:
        def access(self, resp, req_headers, environ, response_time):
            seen.append((resp.status, resp.sent, dict(req_headers), environ['PATH_INFO'],
                         type(response_time)))

        def write(self, line):
            pass

    handler = type('H', (pywsgi.WSGIHandler,),
                   {'log_request': ggevent.PyWSGIHandler.log_request})

    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']

    with serve(app, handler_class=handler, log=Log()) as server:
        exchange(server, b'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    status, sent, headers, path, rtype = seen[0]
    assert status == '200 OK' and sent > 2 and headers['Host'] == 'h' and path == '/x'
    assert rtype is datetime.timedelta


def test_the_pywsgi_worker_handler_logs_refused_requests_too():
    from gevent_c.gunicorn import PyWSGIHandler
    seen = []

    class Log:
        def access(self, resp, req_headers, environ, response_time):
            seen.append((resp.status, environ['REQUEST_METHOD'], environ['RAW_URI']))

        def write(self, line):
            pass

    def app(environ, start_response):
        start_response('200 OK', [])
        return [environ['RAW_URI'].encode()]

    with serve(app, handler_class=PyWSGIHandler, log=Log()) as server:
        exchange(server, b'GET /a%20b HTTP/1.1\r\n\r\nGET /bad\x00 HTTP/1.1\r\n\r\n')
    assert seen == [('200 OK', 'GET', '/a%20b'), ('400', '-', '-')]


class Gunicorn:
    """A gunicorn master on 127.0.0.1 (random port) running APP."""

    def __init__(self, tmp_path, worker, workers=2, options=()):
        (tmp_path / 'gapp.py').write_text(APP)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, str(tmp_path)]))
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'gunicorn', '-k', worker, '-w', str(workers),
             '-b', '127.0.0.1:0', '--graceful-timeout', '10', '--keep-alive', '2',
             '--chdir', str(tmp_path), *options, 'gapp:app'],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = int(self.wait_for(r'Listening at: http://127\.0\.0\.1:(\d+)').group(1))

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, pattern, timeout=30, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                match = re.search(pattern, line)
                if match:
                    return match
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError('no %r in gunicorn output:\n%s' % (pattern, ''.join(self.lines)))

    def booted(self, start=0):
        """Pids of workers booted after line *start*, once there are two."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pids = {int(m.group(1)) for line in self.lines[start:]
                    for m in [re.search(r'Booting worker with pid: (\d+)', line)] if m}
            if len(pids) >= 2:
                return pids
            time.sleep(0.05)
        raise AssertionError('workers did not boot:\n' + ''.join(self.lines))

    def get(self, path='/', timeout=10):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=timeout)
        try:
            conn.request('GET', path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)


@pytest.mark.parametrize('worker', ['gevent_c.gunicorn.GeventWorker',
                                    'gevent_c.gunicorn.GeventPyWSGIWorker'])
def test_gunicorn_serves_flask_reloads_on_hup_and_stops_gracefully_on_term(tmp_path, worker):
    g = Gunicorn(tmp_path, worker)
    try:
        first = g.booted()
        results = [g.get() for _ in range(6)]
        assert all(status == 200 and body.startswith('pid ') for status, body in results)
        assert {int(body.split()[1]) for _, body in results} <= first

        # HUP: the master starts new workers and retires the old ones.
        mark = len(g.lines)
        g.proc.send_signal(signal.SIGHUP)
        second = g.booted(mark)
        assert not second & first
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, body = g.get()
            if int(body.split()[1]) in second:
                break
        assert status == 200 and int(body.split()[1]) in second

        # TERM with a request in flight: it is answered before the exit.
        slow = {}

        def fetch():
            slow['result'] = g.get('/slow?s=1')

        client = threading.Thread(target=fetch)
        client.start()
        time.sleep(0.3)
        g.proc.send_signal(signal.SIGTERM)
        client.join(20)
        assert slow['result'] == (200, 'slow done')
        assert g.proc.wait(30) == 0
    finally:
        g.stop()


def test_a_stuck_worker_is_reported_before_the_worker_timeout_kills_it(tmp_path):
    g = Gunicorn(tmp_path, 'gevent_c.gunicorn.GeventWorker', workers=1, options=['--timeout', '2'])
    try:
        g.wait_for(r'Booting worker with pid: (\d+)')
        conn = http.client.HTTPConnection('127.0.0.1', g.port, timeout=30)
        conn.request('GET', '/stuck')
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            conn.getresponse()  # the worker dies without answering
        conn.close()
        timeout_line = g.wait_for(r'WORKER TIMEOUT')
        text = ''.join(g.lines)
        report = text.index('has not run for')
        assert report < text.index(timeout_line.group(0))
        assert 'in stuck_in_a_loop' in text[report:]
    finally:
        g.stop()
