"""Socket workloads: gevent_c.socket against gevent.socket, asyncio, uvloop.

The "hub" bodies use gevent's socket module through the package
(``gevent.socket``); the "asyncio" bodies use streams (echo) and the loop's
``sock_*`` methods (bulk), which is what the same program looks like there.
Connections are made before the clock starts; only the traffic is timed.
"""
import asyncio
import socket as stdsocket
from time import perf_counter as clock

from ..registry import check, workload

CONNECTIONS = 100
MESSAGE = b"x" * 64
CHUNK = 64 * 1024

w = workload("io.tcp_echo",
             f"TCP echo over loopback, {CONNECTIONS} connections x N/{CONNECTIONS} "
             f"{len(MESSAGE)}-byte messages (per round trip)",
             n=100_000, quick_n=2_000)


@w.body("hub")
def tcp_echo(gevent, n):
    socket = gevent.socket
    per_connection = n // CONNECTIONS
    size = len(MESSAGE)
    listener = socket.socket(stdsocket.AF_INET, stdsocket.SOCK_STREAM)
    listener.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(CONNECTIONS)
    handlers = []

    def echo(conn):
        with conn:
            recv, sendall = conn.recv, conn.sendall
            while True:
                data = recv(4096)
                if not data:
                    return
                sendall(data)

    def accept_all():
        for _ in range(CONNECTIONS):
            conn, _ = listener.accept()
            conn.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
            handlers.append(gevent.spawn(echo, conn))

    def client(sock):
        recv, sendall = sock.recv, sock.sendall
        received = 0
        for _ in range(per_connection):
            sendall(MESSAGE)
            got = 0
            while got < size:
                data = recv(size - got)
                if not data:
                    return received
                got += len(data)
            received += 1
        return received

    acceptor = gevent.spawn(accept_all)
    address = listener.getsockname()
    clients = [socket.create_connection(address) for _ in range(CONNECTIONS)]
    for sock in clients:
        sock.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
    acceptor.join()
    t0 = clock()
    greenlets = [gevent.spawn(client, sock) for sock in clients]
    gevent.joinall(greenlets)
    elapsed = clock() - t0
    for sock in clients:
        sock.close()
    gevent.joinall(handlers)
    listener.close()
    ops = per_connection * CONNECTIONS
    check(sum(g.value or 0 for g in greenlets) == ops, "messages were lost")
    return elapsed, ops


@w.body("asyncio")
def tcp_echo_asyncio(arun, n):
    per_connection = n // CONNECTIONS
    size = len(MESSAGE)

    async def echo(reader, writer):
        read, write = reader.read, writer.write
        while True:
            data = await read(4096)
            if not data:
                break
            write(data)
        writer.close()

    async def client(reader, writer):
        readexactly, write = reader.readexactly, writer.write
        for _ in range(per_connection):
            write(MESSAGE)
            await readexactly(size)
        return per_connection

    async def main():
        server = await asyncio.start_server(echo, "127.0.0.1", 0,
                                            backlog=CONNECTIONS)
        port = server.sockets[0].getsockname()[1]
        conns = [await asyncio.open_connection("127.0.0.1", port)
                 for _ in range(CONNECTIONS)]
        t0 = clock()
        done = await asyncio.gather(*(client(r, w) for r, w in conns))
        elapsed = clock() - t0
        for _, writer in conns:
            writer.close()
        for _, writer in conns:
            await writer.wait_closed()
        server.close()
        ops = per_connection * CONNECTIONS
        check(sum(done) == ops, "messages were lost")
        return elapsed, ops

    return arun(main())


w = workload("io.socketpair_bulk",
             f"bulk transfer over a socketpair, sendall of {CHUNK // 1024} KiB "
             "chunks (per chunk)",
             n=20_000, quick_n=1_000)


@w.body("hub")
def socketpair_bulk(gevent, n):
    a, b = gevent.socket.socketpair()
    total = n * CHUNK
    chunk = b"y" * CHUNK

    def sender():
        sendall = a.sendall
        for _ in range(n):
            sendall(chunk)

    buf = bytearray(CHUNK)
    recv_into = b.recv_into
    received = 0
    gevent.sleep(0)
    t0 = clock()
    g = gevent.spawn(sender)
    while received < total:
        got = recv_into(buf)
        if not got:
            break
        received += got
    g.join()
    elapsed = clock() - t0
    a.close()
    b.close()
    check(received == total, f"received {received} of {total} bytes")
    return elapsed


@w.body("asyncio")
def socketpair_bulk_asyncio(arun, n):
    total = n * CHUNK
    chunk = b"y" * CHUNK

    async def main():
        loop = asyncio.get_running_loop()
        a, b = stdsocket.socketpair()
        a.setblocking(False)
        b.setblocking(False)

        async def sender():
            for _ in range(n):
                await loop.sock_sendall(a, chunk)

        buf = bytearray(CHUNK)
        received = 0
        t0 = clock()
        task = loop.create_task(sender())
        while received < total:
            got = await loop.sock_recv_into(b, buf)
            if not got:
                break
            received += got
        await task
        elapsed = clock() - t0
        a.close()
        b.close()
        check(received == total, f"received {received} of {total} bytes")
        return elapsed

    return arun(main())
