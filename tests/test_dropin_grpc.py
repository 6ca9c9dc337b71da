"""grpc's gevent mode (``grpc.experimental.gevent.init_gevent()``) on gevent_c
standing in for gevent.

init_gevent() imports gevent and gevent.pool, takes ``get_hub().threadpool``
and from then on runs grpc's completion callbacks on greenlets that it gets
from ``threadpool.apply`` of a function waiting on a native condition
variable. Each scenario runs in its own interpreter (it monkey-patches the
process); the server and the client share it, so a call is only answered if
neither side blocks the hub.
"""
import pytest

from _isolated import run_isolated

pytestmark = pytest.mark.timeout(90)

grpc = pytest.importorskip('grpc', reason='grpcio has no wheel for this Python')

PRELUDE = '''
    import gevent_c
    gevent_c.install_as_gevent()
    from gevent import monkey
    monkey.patch_all()
    import gevent
    import grpc
    from grpc.experimental import gevent as grpc_gevent
    grpc_gevent.init_gevent()
    from grpc._cython import cygrpc
    from concurrent import futures

    def serve(behaviours, workers=4):
        """A server on a free loopback port whose service test.Svc has the
        unary-unary methods *behaviours* (bytes in, bytes out)."""
        handler = grpc.method_handlers_generic_handler('test.Svc', {
            name: grpc.unary_unary_rpc_method_handler(fn)
            for name, fn in behaviours.items()})
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port('127.0.0.1:0')
        server.start()
        return server, port
'''


def test_unary_call_served_and_answered_in_the_same_patched_process():
    out = run_isolated(PRELUDE + '''
    import gevent_c.threadpool
    print(cygrpc.g_gevent_activated,
          isinstance(gevent.get_hub().threadpool, gevent_c.threadpool.ThreadPool))
    server, port = serve({'Echo': lambda request, context: b'echo:' + request})
    try:
        with grpc.insecure_channel('127.0.0.1:%d' % port) as channel:
            echo = channel.unary_unary('/test.Svc/Echo')
            print(echo(b'hello', timeout=20).decode())
            reply, call = echo.with_call(b'again', timeout=20)
            print(reply.decode(), call.code().name)
            # a future completes through grpc's callback queue, drained by a
            # greenlet that waits for it in threadpool.apply
            print(echo.future(b'later', timeout=20).result().decode())
        # grpc's waits went through gevent_c's threadpool
        print(gevent.get_hub().threadpool.size >= 1)
    finally:
        server.stop(None).wait()
    print('stopped')
    ''')
    assert out.split() == ['True', 'True', 'echo:hello', 'echo:again', 'OK',
                           'echo:later', 'True', 'stopped']


def test_concurrent_calls_from_several_greenlets_are_in_flight_together():
    # Each handler waits until all N calls are inside a handler at once (or
    # gives up after 20 s and says so), and the client process keeps
    # running an unrelated greenlet meanwhile: the calls overlap, and neither
    # the callers' waits nor the threadpool's native wait block the hub.
    out = run_isolated(PRELUDE + '''
    from gevent.event import Event
    N = 5
    inside = [0]
    most_inside = [0]
    everyone_in = Event()
    ticks = [0]

    def gather(request, context):
        inside[0] += 1
        most_inside[0] = max(most_inside[0], inside[0])
        if inside[0] == N:
            everyone_in.set()
        together = everyone_in.wait(20)
        inside[0] -= 1
        return request + (b':together' if together else b':alone')

    def tick():
        while True:
            ticks[0] += 1
            gevent.sleep(0.01)

    server, port = serve({'Gather': gather}, workers=N)
    ticker = gevent.spawn(tick)
    try:
        with grpc.insecure_channel('127.0.0.1:%d' % port) as channel:
            call = channel.unary_unary('/test.Svc/Gather')
            before = ticks[0]
            callers = [gevent.spawn(call, b'%d' % i, timeout=30) for i in range(N)]
            gevent.joinall(callers, raise_error=True)
            print(' '.join(sorted(c.value.decode() for c in callers)))
            print(most_inside[0], ticks[0] > before)
    finally:
        ticker.kill()
        server.stop(None).wait()
    ''')
    replies, counts = out.splitlines()
    assert replies.split() == ['%d:together' % i for i in range(5)]
    assert counts.split() == ['5', 'True']
