"""Unmodified stdlib and third-party code made concurrent by patch_all().

Each scenario runs patched in its own interpreter with a timeout, on the
loopback only; every server it needs is started and stopped by it.
Concurrency is shown by what is open or blocked at the same moment
(counters, barriers, a server's own statistics), never by timing.
"""
import os
import textwrap

import pytest

import _monkeytest
from _monkeytest import run_patched

PATCH = 'from gevent_c import monkey; monkey.patch_all()\n'


def patched(code, timeout=60, **kw):
    proc = run_patched(PATCH + textwrap.dedent(code), timeout=timeout, **kw)
    assert proc.stderr == '', proc.stderr
    return proc.stdout


def test_urllib_and_http_client_200_greenlets_against_threading_http_server():
    out = patched('''
        import http.server, http.client, urllib.request, threading, gevent_c
        N = 200
        state = {'open': 0, 'most': 0}
        all_open = threading.Event()
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass
            def do_GET(self):
                state['open'] += 1
                state['most'] = max(state['most'], state['open'])
                if state['open'] == N:
                    all_open.set()
                all_open.wait(30)        # every request is held until all are open
                state['open'] -= 1
                body = self.path.encode()
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = N
        server = Server(('127.0.0.1', 0), Handler)
        port = server.server_address[1]
        serving = threading.Thread(target=server.serve_forever, args=(0.05,))
        serving.start()
        def with_urllib(i):
            with urllib.request.urlopen('http://127.0.0.1:%d/u%d' % (port, i), timeout=30) as r:
                return r.read().decode()
        def with_http_client(i):
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
            conn.request('GET', '/h%d' % i)
            body = conn.getresponse().read().decode()
            conn.close()
            return body
        jobs = [gevent_c.spawn(with_urllib, i) for i in range(N // 2)]
        jobs += [gevent_c.spawn(with_http_client, i) for i in range(N // 2)]
        gevent_c.joinall(jobs, raise_error=True)
        expected = ['/u%d' % i for i in range(N // 2)] + ['/h%d' % i for i in range(N // 2)]
        assert [j.value for j in jobs] == expected
        server.shutdown(); serving.join(); server.server_close()
        print(state['most'])
    ''', timeout=90)
    assert out.strip() == '200'


def test_requests_100_greenlets():
    pytest.importorskip('requests')
    out = patched('''
        import http.server, threading, requests, gevent_c
        N = 100
        barrier = threading.Barrier(N, timeout=30)   # passes only with all N open
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args):
                pass
            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                barrier.wait()
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body.upper())
        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = N
            daemon_threads = True
        server = Server(('127.0.0.1', 0), Handler)
        serving = threading.Thread(target=server.serve_forever, args=(0.05,))
        serving.start()
        url = 'http://127.0.0.1:%d/' % server.server_address[1]
        session = requests.Session()
        session.mount('http://', requests.adapters.HTTPAdapter(pool_maxsize=N))
        def post(i):
            r = session.post(url, data=b'item %d' % i, timeout=30)
            r.raise_for_status()
            return r.content
        jobs = [gevent_c.spawn(post, i) for i in range(N)]
        gevent_c.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == [b'ITEM %d' % i for i in range(N)]
        server.shutdown(); serving.join(); server.server_close()
        print('ok')
    ''', timeout=90)
    assert out.strip() == 'ok'


@pytest.fixture
def redis_server():
    with _monkeytest.redis_server() as port:
        yield port


def test_redis_100_greenlets_get_set_blpop_and_pubsub(redis_server):
    out = patched('''
        import redis, gevent_c
        N = 100
        pool = redis.ConnectionPool(host='127.0.0.1', port=%d, max_connections=2 * N + 10)
        r = redis.Redis(connection_pool=pool)
        def set_get(i):
            r.set('k%%d' %% i, 'v%%d' %% i)
            return r.get('k%%d' %% i)
        jobs = [gevent_c.spawn(set_get, i) for i in range(N)]
        gevent_c.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == [b'v%%d' %% i for i in range(N)]
        # N greenlets blocked in BLPOP at once: the server counts them.
        waiters = [gevent_c.spawn(r.blpop, ['list%%d' %% i], 30) for i in range(N)]
        while int(r.info('clients')['blocked_clients']) < N:
            gevent_c.sleep(0.01)
        print('blocked', r.info('clients')['blocked_clients'])
        for i in range(N):
            r.rpush('list%%d' %% i, i)
        gevent_c.joinall(waiters, raise_error=True)
        assert [int(w.value[1]) for w in waiters] == list(range(N))
        # pub/sub: subscribers listen while publishers publish
        got = {}
        def subscriber(i):
            p = r.pubsub()
            p.subscribe('chan')
            msgs = []
            while len(msgs) < 3:
                m = p.get_message(timeout=10)
                if m and m['type'] == 'message':
                    msgs.append(m['data'])
            got[i] = msgs
            p.close()
        subs = [gevent_c.spawn(subscriber, i) for i in range(20)]
        while r.pubsub_numsub('chan')[0][1] < 20:
            gevent_c.sleep(0.01)
        for n in range(3):
            r.publish('chan', 'm%%d' %% n)
        gevent_c.joinall(subs, raise_error=True)
        assert all(v == [b'm0', b'm1', b'm2'] for v in got.values()) and len(got) == 20
        pool.disconnect()
    ''' % redis_server, timeout=90)
    assert out.strip() == 'blocked 100'


def test_socketserver_threading_tcp_server_sees_all_clients_at_once():
    out = patched('''
        import socketserver, socket, threading, gevent_c
        N = 50
        barrier = threading.Barrier(N + 1, timeout=30)
        class Echo(socketserver.BaseRequestHandler):
            def handle(self):
                data = self.request.recv(100)
                barrier.wait()
                self.request.sendall(data[::-1])
        class Server(socketserver.ThreadingTCPServer):
            request_queue_size = N
            daemon_threads = True
            allow_reuse_address = True
        server = Server(('127.0.0.1', 0), Echo)
        t = threading.Thread(target=server.serve_forever, args=(0.05,)); t.start()
        def client(i):
            with socket.create_connection(server.server_address, timeout=30) as c:
                c.sendall(b'abc%%03d' %% i)
                return c.recv(100)
        jobs = [gevent_c.spawn(client, i) for i in range(N)]
        barrier.wait()          # all N handlers are inside handle() now
        gevent_c.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == [(b'abc%%03d' %% i)[::-1] for i in range(N)]
        server.shutdown(); t.join(); server.server_close()
        print('ok')
    '''.replace('%%', '%'))
    assert out.strip() == 'ok'


def test_thread_pool_executor_runs_all_workers_at_once():
    out = patched('''
        import concurrent.futures, threading
        W = 16
        barrier = threading.Barrier(W, timeout=30)
        def job(i):
            barrier.wait()                 # needs all W workers running together
            return threading.current_thread().name
        with concurrent.futures.ThreadPoolExecutor(W) as ex:
            names = list(ex.map(job, range(W)))
        print(len(set(names)))
    ''')
    assert out.strip() == '16'


def test_logging_from_many_greenlets_through_a_queue_listener():
    out = patched('''
        import logging, logging.handlers, queue, threading, gevent_c, io
        stream = io.StringIO()
        q = queue.Queue()
        listener = logging.handlers.QueueListener(q, logging.StreamHandler(stream))
        listener.start()                       # its thread is a greenlet
        log = logging.getLogger('many')
        log.addHandler(logging.handlers.QueueHandler(q))
        log.setLevel(logging.INFO)
        def work(i):
            for n in range(5):
                log.info('g%d n%d %s', i, n, threading.current_thread().name)
                gevent_c.sleep(0)
        gevent_c.joinall([gevent_c.spawn(work, i) for i in range(100)], raise_error=True)
        listener.stop()
        lines = stream.getvalue().splitlines()
        assert len(lines) == 500 and len({l.split()[2] for l in lines}) == 100
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_queue_between_threads_and_subscripting():
    out = patched('''
        import queue, threading, gevent_c
        q = queue.Queue[int](maxsize=2)       # gevent#2107: subscriptable
        results = []
        def producer():
            for i in range(50):
                q.put(i)                      # blocks (cooperatively) when full
            q.put(-1)
        def consumer():
            while (item := q.get()) != -1:
                results.append(item)
                q.task_done()
            q.task_done()
        threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
        [t.start() for t in threads]
        q.join()
        [t.join() for t in threads]
        assert results == list(range(50))
        assert queue.PriorityQueue[int] and queue.SimpleQueue[str] and queue.LifoQueue[bytes]
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_time_sleep_lets_all_greenlets_sleep_together():
    out = patched('''
        import time, gevent_c
        state = {'inside': 0, 'most': 0}
        def nap():
            state['inside'] += 1
            state['most'] = max(state['most'], state['inside'])
            time.sleep(0.02)
            state['inside'] -= 1
        gevent_c.joinall([gevent_c.spawn(nap) for _ in range(100)])
        print(state['most'])
    ''')
    assert out.strip() == '100'


def test_signal_signal_from_main_and_from_a_greenlet():
    out = patched('''
        import signal, os, gevent_c, threading
        got = []
        signal.signal(signal.SIGUSR1, lambda n, f: got.append('usr1'))
        def install_in_greenlet():
            # a greenlet of the main thread may install handlers, as the main thread can
            signal.signal(signal.SIGUSR2, lambda n, f: got.append('usr2'))
        gevent_c.spawn(install_in_greenlet).join()
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        gevent_c.sleep(0.01)
        assert got == ['usr1', 'usr2'], got
        def other_thread():
            try:
                import _thread
                from gevent_c.monkey import get_original
                signal.signal(signal.SIGUSR1, signal.SIG_DFL)
            except ValueError:
                got.append('refused')
        start = __import__('gevent_c.monkey', fromlist=['x']).get_original(
            '_thread', 'start_new_thread')
        done = threading.Event()
        start(lambda: (other_thread(), done.set()), ())
        done.wait(10)
        print(got)
    ''')
    assert out.strip() == "['usr1', 'usr2', 'refused']"


def test_select_and_selectors_wait_cooperatively():
    out = patched('''
        import select, selectors, socket, gevent_c
        N = 50
        state = {'waiting': 0, 'most': 0}
        pairs = [socket.socketpair() for _ in range(2 * N)]
        def with_select(a):
            state['waiting'] += 1; state['most'] = max(state['most'], state['waiting'])
            r, _, _ = select.select([a], [], [], 30)
            state['waiting'] -= 1
            return r == [a] and a.recv(10)
        def with_selector(a):
            state['waiting'] += 1; state['most'] = max(state['most'], state['waiting'])
            with selectors.DefaultSelector() as sel:
                sel.register(a, selectors.EVENT_READ, 'data')
                events = sel.select(30)
            state['waiting'] -= 1
            return events[0][0].data == 'data' and a.recv(10)
        jobs = [gevent_c.spawn(with_select, a) for a, _ in pairs[:N]]
        jobs += [gevent_c.spawn(with_selector, a) for a, _ in pairs[N:]]
        while state['most'] < 2 * N:
            gevent_c.sleep(0.01)
        for _, b in pairs:
            b.send(b'x')
        gevent_c.joinall(jobs, raise_error=True)
        assert all(j.value == b'x' for j in jobs)
        for a, b in pairs:
            a.close(); b.close()
        print(state['most'])
    ''')
    assert out.strip() == '100'


def test_subprocess_and_os_waitpid_from_foreign_code():
    # gevent#452: code that is not ours calls os.waitpid on a child.
    out = patched('''
        import subprocess, os, sys, gevent_c
        child = [sys.executable, '-c', 'import sys; sys.stdin.read()']
        p = subprocess.Popen(child, stdin=subprocess.PIPE)
        def foreign_wait(pid):
            return os.waitpid(pid, 0)          # blocks this greenlet only
        waiter = gevent_c.spawn(foreign_wait, p.pid)
        gevent_c.sleep(0.05)
        assert not waiter.ready()
        p.stdin.close()                        # only now can the child exit
        pid, status = waiter.get(timeout=30)
        assert pid == p.pid and os.waitstatus_to_exitcode(status) == 0
        # many children waited for at once
        procs = [subprocess.Popen(child, stdin=subprocess.PIPE) for _ in range(10)]
        waits = [gevent_c.spawn(q.wait) for q in procs]
        gevent_c.sleep(0.05)
        assert not any(w.ready() for w in waits)
        for q in procs:
            q.stdin.close()
        gevent_c.joinall(waits, raise_error=True)
        assert [w.value for w in waits] == [0] * 10
        out = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True,
                             text=True, check=True).stdout
        print(out.strip())
    ''')
    assert out.strip() == '42'


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
def test_multiprocessing_with_fork_after_patching():
    out = patched('''
        import multiprocessing, gevent_c, os
        ctx = multiprocessing.get_context('fork')
        def child(conn, go):
            go.recv()                          # wait for the parent's go
            conn.send(('child', os.getpid()))
            conn.close()
        parent_conn, child_conn = ctx.Pipe()
        go_recv, go_send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=child, args=(child_conn, go_recv))
        p.start()
        joiner = gevent_c.spawn(p.join, 30)    # join waits cooperatively
        gevent_c.sleep(0.05)
        assert not joiner.ready() and p.is_alive()
        go_send.send('go')
        assert parent_conn.recv() == ('child', p.pid)
        joiner.get(timeout=30)
        print(p.exitcode)
    ''')
    assert out.strip() == '0'


def test_dns_through_socket_getaddrinfo():
    from dnsserver import DNSServer
    records = {'svc%d.test' % i: [('A', '10.0.0.%d' % i)] for i in range(20)}
    with DNSServer(records) as srv:      # in this (unpatched) process
        out = patched('''
            import socket, gevent_c, gevent_c.socket
            from gevent_c.monkey import get_original
            assert socket.getaddrinfo is gevent_c.socket.getaddrinfo
            real = get_original('socket', 'getaddrinfo')
            assert sorted(socket.getaddrinfo('localhost', 80, socket.AF_INET)) == \\
                sorted(real('localhost', 80, socket.AF_INET))
            assert socket.gethostbyname('localhost') == '127.0.0.1'
            from gevent_c.resolver.ares import Resolver
            hub = gevent_c.get_hub()
            hub.resolver = Resolver(servers=[%r], timeout=2, tries=2, use_environ=False)
            jobs = [gevent_c.spawn(socket.getaddrinfo, 'svc%%d.test' %% i, 443, socket.AF_INET,
                                   socket.SOCK_STREAM) for i in range(20)]
            gevent_c.joinall(jobs, raise_error=True)
            assert [j.value[0][4] for j in jobs] == [('10.0.0.%%d' %% i, 443) for i in range(20)]
            print('ok')
        ''' % (srv.address,))
    assert out.strip() == 'ok'


def test_patched_locks_and_logging_shared_with_native_pool_threads():
    # Code run by the hub's native worker threads (the threadpool) takes the
    # same patched locks as the greenlets: both sides wait for each other.
    out = patched('''
        import logging, threading, gevent_c, io
        stream = io.StringIO()
        log = logging.getLogger('shared')
        log.addHandler(logging.StreamHandler(stream))
        log.setLevel(logging.INFO)
        lock = threading.Lock()
        inside = [0]
        def critical(who):
            with lock:
                inside[0] += 1
                assert inside[0] == 1
                log.info('%s in %s', who, threading.current_thread().name)
                gevent_c.sleep(0.001) if who == 'greenlet' else None
                inside[0] -= 1
            return who
        pool = gevent_c.get_hub().threadpool
        natives = [pool.spawn(critical, 'native') for _ in range(20)]
        greens = [gevent_c.spawn(critical, 'greenlet') for _ in range(20)]
        gevent_c.joinall(greens, raise_error=True)
        assert [r.get(timeout=30) for r in natives] == ['native'] * 20
        print(len(stream.getvalue().splitlines()))
    ''')
    assert out.strip() == '40'
