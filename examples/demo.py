"""gevent_c in one screen: the gevent API, on our own C coroutines and loop.

Written exactly as a gevent program, with ``import gevent_c as gevent``:

1. an echo server on 127.0.0.1 serving 200 clients at once, each in its own
   greenlet, all on one thread;
2. a Queue feeding a Pool of workers that run shell commands through the
   cooperative subprocess module while the server keeps serving;
3. a Timeout cutting a slow operation short;
4. a DNS lookup answered without blocking the other greenlets.

Run it with ``make run`` (or ``python3 examples/demo.py`` after ``make build``).
"""
import time

import gevent_c as gevent
from gevent_c import socket, subprocess
from gevent_c.pool import Pool
from gevent_c.queue import Queue

START = time.monotonic()


def say(msg: str) -> None:
    print('[%5.0f ms] %s' % ((time.monotonic() - START) * 1000, msg), flush=True)


def echo_server(listener: socket.socket, served: list[int]) -> None:
    """Accept connections forever; each client gets its own greenlet."""
    def handle(conn: socket.socket) -> None:
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.sendall(data.upper())
        served.append(1)

    while True:
        conn, _ = listener.accept()
        gevent.spawn(handle, conn)


def client(port: int, n: int) -> bytes:
    with socket.create_connection(('127.0.0.1', port)) as sock:
        sock.sendall(b'hello from client %d' % n)
        return sock.recv(1024)


def run_command(cmd: str) -> str:
    out = subprocess.check_output(cmd, shell=True, text=True)
    return '%s -> %s' % (cmd, out.strip())


def main() -> None:
    say('gevent_c %s: one thread, many greenlets' % gevent.__version__)

    # 1. Echo server and 200 concurrent clients.
    # a backlog above the 200 clients that connect at once, so no SYN is
    # dropped and retried a second later
    listener = socket.create_server(('127.0.0.1', 0), backlog=512)
    port = listener.getsockname()[1]
    served: list[int] = []
    server = gevent.spawn(echo_server, listener, served)
    clients = [gevent.spawn(client, port, n) for n in range(200)]
    gevent.joinall(clients, raise_error=True)
    say('echo: %d clients answered, e.g. %r' % (len(clients), clients[7].value))

    # 2. A queue of jobs, a pool of 3 workers, subprocesses that do not block.
    jobs: Queue[str] = Queue()
    for cmd in ('echo one', 'sleep 0.1; echo two', 'echo three', 'uname -s'):
        jobs.put(cmd)
    pool = Pool(3)
    for line in pool.imap(run_command, [jobs.get() for _ in range(jobs.qsize())]):
        say('pool: ' + line)

    # 3. A Timeout raises in the greenlet that exceeded it, and nowhere else.
    try:
        with gevent.Timeout(0.05):
            gevent.sleep(10)
    except gevent.Timeout as t:
        say('timeout: sleep(10) cut short by %s' % (t,))

    # 4. DNS through the hub's resolver (a thread pool by default).
    addr = socket.gethostbyname('localhost')
    say('dns: localhost is %s' % addr)

    server.kill()
    listener.close()
    say('done: %d connections served, no threads per client' % len(served))


if __name__ == '__main__':
    main()
