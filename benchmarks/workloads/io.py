"""Socket workloads: gevent_c.socket against gevent.socket, asyncio, uvloop.

The "hub" bodies use gevent's socket module through the package
(``gevent.socket``); the "blocking" body (bulk only) uses the stdlib's
blocking sockets with the sender in a thread; the "asyncio" bodies use streams (echo) and the loop's
``sock_*`` methods (bulk), which is what the same program looks like there.
Connections are made before the clock starts; only the traffic is timed.
"""
import asyncio
import socket as stdsocket
import threading
from time import perf_counter as clock

from ..registry import check, workload

CONNECTIONS = 100
MESSAGE = b"x" * 64

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


BULK_CHUNK = 1024 * 1024
BULK_MIB = 256

w = workload("io.socketpair_bulk",
             f"bulk transfer over a socketpair: sendall of "
             f"{BULK_CHUNK // (1024 * 1024)} MiB chunks, recv_into a "
             f"preallocated {BULK_CHUNK // (1024 * 1024)} MiB buffer, "
             f"{BULK_MIB} MiB per run (per MiB); 'blocking' is the stdlib "
             "with a sender thread",
             n=BULK_MIB, quick_n=32)


def _receive_all(recv_into, total):
    buf = bytearray(BULK_CHUNK)
    received = 0
    while received < total:
        got = recv_into(buf)
        if not got:
            break
        received += got
    return received


@w.body("hub")
def socketpair_bulk(gevent, n):
    a, b = gevent.socket.socketpair()
    total = n * BULK_CHUNK
    chunk = b"y" * BULK_CHUNK

    def sender():
        sendall = a.sendall
        for _ in range(n):
            sendall(chunk)

    gevent.sleep(0)
    t0 = clock()
    g = gevent.spawn(sender)
    received = _receive_all(b.recv_into, total)
    g.join()
    elapsed = clock() - t0
    a.close()
    b.close()
    check(received == total, f"received {received} of {total} bytes")
    return elapsed


@w.body("blocking")
def socketpair_bulk_blocking(socket, n):
    a, b = socket.socketpair()
    total = n * BULK_CHUNK
    chunk = b"y" * BULK_CHUNK

    def sender():
        sendall = a.sendall
        for _ in range(n):
            sendall(chunk)

    thread = threading.Thread(target=sender)
    t0 = clock()
    thread.start()
    received = _receive_all(b.recv_into, total)
    thread.join()
    elapsed = clock() - t0
    a.close()
    b.close()
    check(received == total, f"received {received} of {total} bytes")
    return elapsed


@w.body("asyncio")
def socketpair_bulk_asyncio(arun, n):
    total = n * BULK_CHUNK
    chunk = b"y" * BULK_CHUNK

    async def main():
        loop = asyncio.get_running_loop()
        a, b = stdsocket.socketpair()
        a.setblocking(False)
        b.setblocking(False)

        async def sender():
            for _ in range(n):
                await loop.sock_sendall(a, chunk)

        buf = bytearray(BULK_CHUNK)
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
