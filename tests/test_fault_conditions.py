"""Hostile conditions: descriptors running out under accept() and c-ares, a
peer resetting mid-sendall, signals arriving while greenlets switch, threads
and the interpreter ending with greenlets, watchers and callbacks still
live.  Each runs in a subprocess: the failure mode under test is a crash
or a hang, and the check is a clean error or a clean exit.
"""
from _isolated import run_isolated
from dnsserver import DNSServer


def test_accept_and_c_ares_without_descriptors_raise_and_recover():
    with DNSServer({'a.test': [('A', '10.0.0.1')]}, {}) as server:
        out = run_isolated('''
            import errno, os, resource, sys
            import gevent_c
            from gevent_c import socket
            from gevent_c.resolver.ares import Resolver
            resolver = Resolver(servers=[sys.argv[1]], timeout=1, tries=1,
                                use_environ=False)
            listener = socket.socket()
            listener.bind(('127.0.0.1', 0))
            listener.listen(8)
            addr = listener.getsockname()
            client = socket.socket()
            client.connect(addr)           # waits in the backlog
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
            held = []
            try:
                while True:
                    held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            try:
                listener.accept()
                print('accepted')
            except OSError as e:
                print(errno.errorcode[e.errno])
            try:
                print(resolver.gethostbyname('a.test'))
            except OSError as e:
                print(type(e).__name__)
            for fd in held:
                os.close(fd)
            conn, _ = listener.accept()     # the same connection, now
            client.sendall(b'hi')
            print(conn.recv(2).decode())
            print(resolver.gethostbyname('a.test'))
        ''', server.address, timeout=60)
    lines = out.split()
    assert lines[0] == 'EMFILE'
    assert lines[1] in ('gaierror', 'herror', 'OSError', '10.0.0.1')   # never a hang
    assert lines[2:] == ['hi', '10.0.0.1']


def test_peer_reset_mid_sendall_raises_in_the_sender():
    out = run_isolated('''
        import errno, socket as stdsocket, struct
        import gevent_c
        from gevent_c import socket
        a, b = socket.socketpair(stdsocket.AF_INET if False else stdsocket.AF_UNIX)
        def reader_then_reset():
            b.recv(1000)
            # a closing socket with unread data makes the peer see a reset
            b.close()
        g = gevent_c.spawn(reader_then_reset)
        try:
            a.sendall(b'x' * (8 * 1024 * 1024))
            print('sent')
        except OSError as e:
            print(errno.errorcode[e.errno])
        g.join()
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        c = socket.create_connection(listener.getsockname())
        s, _ = listener.accept()
        s.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_LINGER, struct.pack('ii', 1, 0))
        def tcp_reset():
            s.recv(1000)
            s.close()                     # RST: linger 0
        g = gevent_c.spawn(tcp_reset)
        try:
            c.sendall(b'x' * (16 * 1024 * 1024))
            print('sent')
        except OSError as e:
            print(errno.errorcode[e.errno])
        g.join()
    ''')
    first, second = out.split()
    assert first in ('EPIPE', 'ECONNRESET')
    assert second in ('EPIPE', 'ECONNRESET')


def test_signals_arriving_while_greenlets_switch():
    out = run_isolated('''
        import signal
        from gevent_c._greenlet import greenlet, getcurrent
        hits = [0]
        def handler(signum, frame):
            hits[0] += 1
            # the handler itself switches, from whatever greenlet it lands in
            g = greenlet(lambda: getcurrent().parent.switch('h'))
            assert g.switch() == 'h'
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
        main = getcurrent()
        def ping(n):
            for i in range(n):
                main.switch(i)
        gs = [greenlet(ping) for _ in range(50)]
        total = 0
        try:
            for _ in range(2000):
                for g in gs:
                    if not g.dead:
                        g.switch(100000)
                        total += 1
                if hits[0] > 50:
                    break
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0, 0)
        print(hits[0] > 0, total > 0)
    ''')
    assert out.split() == ['True', 'True']


def test_thread_exit_with_live_greenlets_watchers_and_callbacks():
    out = run_isolated('''
        import gc, threading, weakref
        import gevent_c
        from gevent_c.event import Event
        from gevent_c.hub import get_hub
        refs = []
        def in_thread():
            hub = get_hub()
            ev = Event()
            gs = [gevent_c.spawn(ev.wait) for _ in range(10)]
            gevent_c.sleep(0)
            t = hub.loop.timer(60)
            t.start(print, 'never')
            hub.loop.run_callback(print, 'never either')
            refs.extend(weakref.ref(g) for g in gs)
            # the thread ends here: greenlets blocked, a timer active,
            # a callback queued
        for _ in range(3):
            th = threading.Thread(target=in_thread)
            th.start()
            th.join()
        gc.collect()
        print(len(refs), sum(r() is not None for r in refs))
        print(gevent_c.spawn(lambda: 'main still works').get())
    ''', timeout=60)
    lines = out.splitlines()
    # Known leak, left open: the greenlets a thread leaves suspended stay
    # allocated (the second figure), with what their suspended C frames
    # hold, which the GC cannot see.  Destroying the hub before the thread
    # ends (hub.destroy()) kills them.
    assert lines[0].split()[0] == '30'
    assert lines[1] == 'main still works'


def test_interpreter_exit_with_live_greenlets_watchers_and_callbacks():
    out = run_isolated('''
        import gevent_c
        from gevent_c import _core, socket
        from gevent_c._greenlet import greenlet, getcurrent
        from gevent_c.event import Event
        from gevent_c.hub import get_hub
        hub = get_hub()
        ev = Event()
        blocked = [gevent_c.spawn(ev.wait) for _ in range(100)]
        a, b = socket.socketpair()
        readers = [gevent_c.spawn(a.recv, 10)]
        gevent_c.sleep(0)
        hub.loop.timer(60).start(print, 'never')
        hub.loop.run_callback(print, 'never either')
        other = _core.loop(default=False)
        other.timer(30).start(print, 'never')
        main = getcurrent()
        raw = greenlet(lambda: main.switch('suspended'))
        raw.switch()
        print('exiting')
    ''', dev=True)
    assert out.split() == ['exiting']
