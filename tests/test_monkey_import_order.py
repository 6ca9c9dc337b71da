"""patch_all() after the application imported (and used) the stdlib and
libraries: each import order works, each in its own interpreter."""
import shutil
import subprocess
import textwrap

import pytest

from _monkeytest import run_patched

# A ThreadingHTTPServer in the (patched) process whose handler counts the
# requests open at once: the clients are concurrent when it sees them all.
HTTP_SERVER = '''
import http.server, threading, json
class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    open_now = 0
    most = 0
    def log_message(self, *args):
        pass
    def do_GET(self):
        cls = type(self)
        cls.open_now += 1
        cls.most = max(cls.most, cls.open_now)
        try:
            SERVER.all_open.wait(10)
        finally:
            cls.open_now -= 1
        body = json.dumps({'path': self.path}).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

def start_server(expected):
    global SERVER
    SERVER = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    SERVER.daemon_threads = True
    SERVER.all_open = threading.Event()
    def release_when_all_open():
        while _Handler.open_now < expected:
            time.sleep(0.005)
        SERVER.all_open.set()
    import time
    threading.Thread(target=SERVER.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()
    threading.Thread(target=release_when_all_open, daemon=True).start()
    return 'http://127.0.0.1:%d' % SERVER.server_address[1]
'''


def no_warning_stderr(proc):
    assert 'MonkeyPatchWarning' not in proc.stderr, proc.stderr
    assert proc.stderr == '', proc.stderr


def test_requests_and_urllib3_imported_before_patching():
    proc = run_patched(textwrap.dedent('''
        import requests, urllib3, warnings
        warnings.simplefilter('always')
        from gevent_c import monkey
        monkey.patch_all()
        import gevent_c
    ''') + HTTP_SERVER + textwrap.dedent('''
        N = 30
        url = start_server(N)
        session = requests.Session()
        session.mount('http://', requests.adapters.HTTPAdapter(pool_maxsize=N))
        def get(i):
            r = session.get('%s/r%d' % (url, i), timeout=20)
            return r.json()['path']
        jobs = [gevent_c.spawn(get, i) for i in range(N)]
        gevent_c.joinall(jobs, raise_error=True)
        assert sorted(j.value for j in jobs) == sorted('/r%d' % i for i in range(N))
        print(_Handler.most)
        SERVER.shutdown()
    '''))
    no_warning_stderr(proc)
    assert proc.stdout.strip() == '30'


@pytest.fixture(scope='module')
def certificate(tmp_path_factory):
    if shutil.which('openssl') is None:
        pytest.skip('the openssl command is needed to make a certificate')
    folder = tmp_path_factory.mktemp('cert')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out',
                    'cert.pem', '-days', '2', '-subj', '/CN=localhost', '-addext',
                    'subjectAltName=DNS:localhost'], cwd=folder, check=True,
                   capture_output=True)
    return str(folder / 'cert.pem'), str(folder / 'key.pem')


def test_ssl_imported_and_used_before_patching(certificate):
    # gevent#1016: ssl imported first gave RecursionError on SSLContext
    # properties, and contexts made earlier produced blocking sockets.
    cert, key = certificate
    proc = run_patched('''
        import ssl, socket, warnings
        from ssl import SSLContext
        early_client = ssl.create_default_context(cafile=%r)
        class MyContext(ssl.SSLContext):
            pass
        early_server = MyContext(ssl.PROTOCOL_TLS_SERVER)
        early_server.load_cert_chain(%r, %r)
        warnings.simplefilter('always')
        from gevent_c import monkey
        monkey.patch_all()
        import gevent_c, gevent_c.ssl
        assert __import__('__main__').SSLContext is gevent_c.ssl.SSLContext
        early_client.options |= ssl.OP_NO_COMPRESSION
        early_client.verify_mode = ssl.CERT_REQUIRED
        early_client.minimum_version = ssl.TLSVersion.TLSv1_2
        late = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        late.options |= ssl.OP_NO_COMPRESSION
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0)); listener.listen(50)
        port = listener.getsockname()[1]
        def serve():
            while True:
                conn, _ = listener.accept()
                gevent_c.spawn(echo, conn)
        def echo(conn):
            with early_server.wrap_socket(conn, server_side=True) as tls:
                assert isinstance(tls, gevent_c.ssl.SSLSocket)
                tls.sendall(tls.recv(100).upper())
        gevent_c.spawn(serve)
        inside, most = [0], [0]
        def client(i):
            with socket.create_connection(('127.0.0.1', port)) as raw:
                with early_client.wrap_socket(raw, server_hostname='localhost') as tls:
                    assert isinstance(tls, gevent_c.ssl.SSLSocket)
                    inside[0] += 1; most[0] = max(most[0], inside[0])
                    gevent_c.sleep(0.01)
                    tls.sendall(b'hello %%d' %% i)
                    got = tls.recv(100)
                    inside[0] -= 1
                    return got
        jobs = [gevent_c.spawn(client, i) for i in range(20)]
        gevent_c.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == [b'HELLO %%d' %% i for i in range(20)]
        print(most[0])
    ''' % (cert, cert, key))
    no_warning_stderr(proc)
    assert proc.stdout.strip() == '20'


def test_logging_configured_before_patching_from_many_greenlets():
    proc = run_patched('''
        import logging, time
        records, inside, most = [], [0], [0]
        class SlowHandler(logging.Handler):
            def emit(self, record):
                inside[0] += 1; most[0] = max(most[0], inside[0])
                time.sleep(0.001)           # switches while holding the handler lock
                records.append(record.getMessage())
                inside[0] -= 1
        log = logging.getLogger('app')
        log.addHandler(SlowHandler())
        log.setLevel(logging.INFO)
        from gevent_c import monkey
        monkey.patch_all()
        import gevent_c, threading
        def work(i):
            log.info('message %d from %s', i, threading.current_thread().name)
        gevent_c.joinall([gevent_c.spawn(work, i) for i in range(100)], raise_error=True)
        assert len(records) == 100 and most[0] == 1, (len(records), most)
        print('ok')
    ''', timeout=30)
    no_warning_stderr(proc)
    assert proc.stdout.strip() == 'ok'


def test_threading_names_imported_before_patching():
    proc = run_patched('''
        import threading, time
        from threading import Thread, Lock, Event
        from time import sleep
        class Worker(threading.Thread):
            def __init__(self, shared):
                super().__init__()
                self.shared = shared
            def run(self):
                with self.shared['lock']:
                    self.shared['inside'] += 1
                sleep(0.01)                   # cooperative: the others run meanwhile
                self.shared['most'] = max(self.shared['most'], self.shared['inside'])
        started_before = Event()
        from gevent_c import monkey
        monkey.patch_all()
        import gevent_c.thread
        assert Lock is gevent_c.thread.LockType and sleep is gevent_c.sleep
        shared = {'lock': Lock(), 'inside': 0, 'most': 0}
        workers = [Worker(shared) for _ in range(20)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        gevent_c.spawn_later(0.01, started_before.set)
        assert started_before.wait(5)          # an Event made before patching
        print(shared['most'])
    ''')
    no_warning_stderr(proc)
    assert proc.stdout.strip() == '20'


def test_queue_imported_and_made_before_patching():
    proc = run_patched('''
        import queue
        from queue import Queue
        early = queue.Queue()
        early_lifo = queue.LifoQueue()
        from gevent_c import monkey
        monkey.patch_all()
        import gevent_c, gevent_c.queue
        assert Queue is gevent_c.queue.Queue and queue.Queue[int] is not None
        got = []
        def consumer(q):
            got.append(q.get(timeout=5))
            q.task_done()
        for q in (early, early_lifo, Queue()):
            c = gevent_c.spawn(consumer, q)
            gevent_c.sleep(0.01)            # the consumer waits cooperatively
            q.put('item')
            q.join()
            c.join()
        print(got)
    ''')
    no_warning_stderr(proc)
    assert proc.stdout.strip() == "['item', 'item', 'item']"


def test_concurrent_futures_imported_before_patching():
    proc = run_patched('''
        import concurrent.futures, time
        from gevent_c import monkey
        monkey.patch_all()
        import threading
        inside, most = [0], [0]
        def job(i):
            inside[0] += 1; most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            inside[0] -= 1
            return i
        with concurrent.futures.ThreadPoolExecutor(10) as ex:
            # submit holds concurrent.futures' shutdown lock across Thread.start()
            futures = [ex.submit(job, i) for i in range(30)]
            assert [f.result(timeout=10) for f in futures] == list(range(30))
        print(most[0])
    ''')
    no_warning_stderr(proc)
    assert proc.stdout.strip() == '10'


def test_common_libraries_imported_first_give_no_warning():
    proc = run_patched('''
        import ssl, requests, urllib3, logging, logging.handlers, threading, queue
        import concurrent.futures, http.server, http.client, urllib.request, socketserver
        import subprocess, selectors, select, multiprocessing, time, socket
        logging.basicConfig()
        import warnings
        warnings.simplefilter('always')
        from gevent_c import monkey
        monkey.patch_all()
        import gevent_c.ssl
        import urllib3.util.ssl_
        assert urllib3.util.ssl_.SSLContext is gevent_c.ssl.SSLContext
    ''')
    no_warning_stderr(proc)


def test_one_warning_names_what_stays_blocking():
    proc = run_patched('''
        import socket, queue, warnings
        early_socket = socket.socket()
        early_queue = queue.SimpleQueue()
        class EarlySocket(socket.socket):
            pass
        real_sleep = __import__('time').sleep
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            from gevent_c import monkey
            monkey.patch_all()
        messages = [str(w.message) for w in caught if w.category is monkey.MonkeyPatchWarning]
        assert len(messages) == 1, messages
        print(messages[0])
        # kept on purpose under another name
        assert real_sleep is monkey.get_original('time', 'sleep')
        early_socket.close()
    ''')
    message = proc.stdout
    assert 'EarlySocket' in message and 'subclass of socket.socket' in message
    assert '1 socket.socket' in message and '1 queue.SimpleQueue' in message


def test_a_child_forked_before_patching_is_not_warned_about_its_parents_objects():
    # a pre-fork server: the master's listening socket and signal queue
    # live on in each worker, which patches first thing
    proc = run_patched('''
        import os, socket, queue, warnings
        listener = socket.socket()
        signals = queue.SimpleQueue()
        import gevent_c.monkey
        pid = os.fork()
        if pid == 0:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                gevent_c.monkey.patch_all()
            messages = [str(w.message) for w in caught
                        if w.category is gevent_c.monkey.MonkeyPatchWarning]
            print('child warnings', messages)
            os._exit(0)
        os.waitpid(pid, 0)
    ''')
    assert "child warnings []" in proc.stdout, proc.stdout + proc.stderr


def test_thread_locals_made_before_patching():
    proc = run_patched('''
        import threading, warnings
        unused = threading.local()          # at a module's top, not used yet
        used = threading.local()
        used.value = 'set before patching'
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            from gevent_c import monkey
            monkey.patch_all()
        import gevent_c, gevent_c.local
        assert type(unused) is gevent_c.local.local
        seen = []
        def work(i):
            unused.value = i
            gevent_c.sleep(0)
            seen.append(unused.value)
        gevent_c.joinall([gevent_c.spawn(work, i) for i in range(5)])
        assert sorted(seen) == list(range(5))
        messages = [str(w.message) for w in caught]
        assert len(messages) == 1 and '1 threading.local' in messages[0], messages
    ''')
    assert proc.stderr == ''


def test_requests_https_imported_before_patching(certificate):
    # The classic: urllib3/requests imported before patching made TLS
    # contexts recurse (gevent#1016) or block.
    pytest.importorskip('requests')
    cert, key = certificate
    proc = run_patched(textwrap.dedent('''
        import requests, urllib3, ssl
        from gevent_c import monkey
        monkey.patch_all()
        import http.server, threading, gevent_c
        N = 20
        barrier = threading.Barrier(N, timeout=30)
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args):
                pass
            def do_GET(self):
                barrier.wait()                 # all N requests are open at once
                body = self.path.encode()
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(%r, %r)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        serving = threading.Thread(target=server.serve_forever, args=(0.05,))
        serving.start()
        url = 'https://localhost:%%d/' %% server.server_address[1]
        session = requests.Session()
        session.mount('https://', requests.adapters.HTTPAdapter(pool_maxsize=N))
        def get(i):
            return session.get(url + str(i), verify=%r, timeout=30).text
        jobs = [gevent_c.spawn(get, i) for i in range(N)]
        gevent_c.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == ['/%%d' %% i for i in range(N)]
        server.shutdown(); serving.join(); server.server_close()
        print('ok')
    ''' % (cert, key, cert)))
    no_warning_stderr(proc)
    assert proc.stdout.strip() == 'ok'


def test_patching_does_not_load_lazily_imported_modules():
    proc = run_patched('''
        import importlib.util, sys
        # (difflib: a module nothing monkey imports uses; 3.13's
        # importlib.metadata, which finds the plugins, imports json itself)
        spec = importlib.util.find_spec('difflib')
        spec.loader = importlib.util.LazyLoader(spec.loader)
        lazy = importlib.util.module_from_spec(spec)
        sys.modules['difflib'] = lazy
        spec.loader.exec_module(lazy)
        from gevent_c import monkey
        monkey.patch_all()
        assert 'SequenceMatcher' not in object.__getattribute__(lazy, '__dict__')
        assert lazy.get_close_matches('appel', ['apple']) == ['apple']  # loads on first use
    ''')
    assert proc.stderr == ''
