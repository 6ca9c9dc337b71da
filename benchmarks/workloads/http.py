"""Server workloads: gevent_c's pywsgi and StreamServer against gevent's.

``http.wsgi_hello`` serves a hello-world WSGI application with pywsgi and
loads it with ``wrk -t1 -c50`` (keep-alive, Debian's wrk) for about N/12,000
seconds; the server process runs on CPU 0 and wrk on CPU 1 when there are
two. gevent's server gets TCP_NODELAY on accepted sockets as gevent_c's has
(without it gevent stalls ~40 ms per request on delayed ACKs). One operation
is one request: ns/op is the inverse of the requests per second.

The asyncio and uvloop columns serve the same response from an ASGI
application under uvicorn with httptools (the bench group installs both).

``http.gunicorn_hello`` serves the same application from gunicorn with
one worker: gevent_c's pywsgi worker (gevent_c.gunicorn.GeventPyWSGIWorker)
against gunicorn's own ``-k gevent`` on gevent.

``http.stream_accept_echo`` measures a StreamServer's accept path: 50
client greenlets in the same process each connect, send 64 bytes, read the
echo and close, N connections in all.
"""
import contextlib
import os
import re
import shutil
import socket as stdsocket
from time import perf_counter as clock

from ..registry import Unavailable, check, workload

BODY = b"Hello, World!"

w = workload("http.wsgi_hello",
             "pywsgi hello world under wrk -t1 -c50 (keep-alive), per request",
             n=72_000, quick_n=12_000, warmup=False)


def _hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


def _find_wrk():
    wrk = shutil.which("wrk")
    if wrk is None:
        raise Unavailable("wrk is not installed (apt-get install wrk)")
    return wrk


def _parse_wrk(text):
    match = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", text)
    check(match is not None, "wrk printed no result: %r" % (text[-300:],))
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[match.group(3)]
    check("Non-2xx" not in text and "Socket errors" not in text,
          "wrk saw errors: %r" % (text[-300:],))
    return float(match.group(2)) * scale, int(match.group(1))


@contextlib.contextmanager
def _wrk_pinned(wrk, n, port):
    """wrk's command line for about n requests to 127.0.0.1:port. With two
    CPUs or more (and taskset), wrk gets one and this process another until
    the block ends, so the server never competes with its load."""
    seconds = max(1, round(n / 12_000))
    argv = [wrk, "-t1", "-c50", "-d%ds" % seconds, "http://127.0.0.1:%d/" % port]
    cpus = os.sched_getaffinity(0)
    pinned = len(cpus) >= 2 and shutil.which("taskset") is not None
    if pinned:
        mine, theirs = sorted(cpus)[:2]
        argv = ["taskset", "-c", str(theirs)] + argv
        os.sched_setaffinity(0, {mine})
    try:
        yield argv
    finally:
        if pinned:
            os.sched_setaffinity(0, cpus)


@w.body("hub")
def wsgi_hello(gevent, n):
    wrk = _find_wrk()
    pywsgi = gevent.pywsgi

    class Server(pywsgi.WSGIServer):
        def do_read(self):
            args = pywsgi.WSGIServer.do_read(self)
            if args:
                args[0].setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
            return args

    server = Server(("127.0.0.1", 0), _hello, log=None)
    server.start()
    try:
        with _wrk_pinned(wrk, n, server.server_port) as argv:
            proc = gevent.subprocess.Popen(argv, stdout=gevent.subprocess.PIPE,
                                           stderr=gevent.subprocess.STDOUT)
            out, _ = proc.communicate()
    finally:
        server.stop()
    return _parse_wrk(out.decode("latin-1"))


@w.body("asyncio")
def wsgi_hello_asgi(arun, n):
    """The same hello world as an ASGI application under uvicorn with
    httptools, on asyncio's loop (asyncio column) or uvloop's (uvloop
    column): the fastest mainstream Python HTTP stack to compare with."""
    wrk = _find_wrk()
    try:
        import asyncio
        import httptools  # noqa: F401 -- uvicorn's parser, asked for below
        import uvicorn
    except ImportError:
        raise Unavailable("uvicorn and httptools are not installed (the bench group)") from None

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", str(len(BODY)).encode())]})
        await send({"type": "http.response.body", "body": BODY})

    # proto given: asyncio sets TCP_NODELAY only on sockets whose proto is
    # IPPROTO_TCP (accepted ones inherit it); without it uvicorn on asyncio's
    # loop stalls on delayed ACKs
    listener = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_STREAM, stdsocket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)

    async def main(argv):
        config = uvicorn.Config(app, http="httptools", loop="none", lifespan="off",
                                log_level="error", access_log=False)
        server = uvicorn.Server(config)
        serving = asyncio.ensure_future(server.serve(sockets=[listener]))
        while not server.started:
            check(not serving.done(), "uvicorn did not start")
            await asyncio.sleep(0.01)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        server.should_exit = True
        await serving
        return _parse_wrk(out.decode("latin-1"))

    try:
        with _wrk_pinned(wrk, n, listener.getsockname()[1]) as argv:
            return arun(main(argv))
    finally:
        listener.close()


w = workload("http.gunicorn_hello",
             "gunicorn, 1 worker, hello world under wrk -t1 -c50 (keep-alive), per request",
             n=72_000, quick_n=12_000, warmup=False)

GUNICORN_APP = '''
BODY = b"Hello, World!"

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
'''


@w.body("hub")
def gunicorn_hello(gevent, n):
    """gevent_c's pywsgi worker (gevent_c.gunicorn.GeventPyWSGIWorker)
    against gunicorn's own ``-k gevent`` on the real gevent: one worker
    process on CPU 0, wrk on CPU 1."""
    import subprocess
    import sys
    import tempfile
    import time
    wrk = _find_wrk()
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        raise Unavailable("gunicorn is not installed") from None
    worker = ("gevent_c.gunicorn.GeventPyWSGIWorker" if gevent.__name__ == "gevent_c"
              else "gevent")
    cpus = sorted(os.sched_getaffinity(0))
    pin = len(cpus) >= 2 and shutil.which("taskset") is not None
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "hello_app.py"), "w") as f:
            f.write(GUNICORN_APP)
        argv = [sys.executable, "-m", "gunicorn", "-k", worker, "-w", "1",
                "-b", "127.0.0.1:0", "--chdir", folder, "--log-level", "info",
                "hello_app:app"]
        if pin:
            argv = ["taskset", "-c", str(cpus[0])] + argv
        env = {k: v for k, v in os.environ.items() if k != "GEVENT_C_AS_GEVENT"}
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env=env)
        try:
            port = None
            booted = False
            deadline = time.monotonic() + 60
            while not (port and booted):
                line = proc.stderr.readline()
                check(line != "" and time.monotonic() < deadline,
                      "gunicorn did not start (%s)" % (worker,))
                found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
                if found:
                    port = int(found.group(1))
                booted = booted or "Booting worker" in line
            time.sleep(0.5)  # the worker imports and patches after it says it boots
            with _wrk_pinned(wrk, n, port) as wrk_argv:   # wrk on the second CPU
                out = subprocess.run(wrk_argv, capture_output=True, text=True,
                                     check=True).stdout
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return _parse_wrk(out)


CLIENTS = 50
MESSAGE = b"x" * 64

w = workload("http.stream_accept_echo",
             f"StreamServer: connect, 64-byte echo, close ({CLIENTS} client greenlets), "
             f"per connection", n=20_000, quick_n=1_000)


@w.body("hub")
def stream_accept_echo(gevent, n):
    socket = gevent.socket

    def echo(sock, address):
        data = sock.recv(4096)
        if data:
            sock.sendall(data)

    server = gevent.server.StreamServer(("127.0.0.1", 0), echo)
    server.start()
    address = ("127.0.0.1", server.server_port)
    per_client = n // CLIENTS

    def client():
        done = 0
        for _ in range(per_client):
            sock = socket.create_connection(address)
            try:
                sock.sendall(MESSAGE)
                got = b""
                while len(got) < len(MESSAGE):
                    data = sock.recv(4096)
                    if not data:
                        break
                    got += data
            finally:
                sock.close()
            done += got == MESSAGE
        return done

    t0 = clock()
    greenlets = [gevent.spawn(client) for _ in range(CLIENTS)]
    gevent.joinall(greenlets)
    elapsed = clock() - t0
    server.stop()
    ops = per_client * CLIENTS
    check(sum(g.value or 0 for g in greenlets) == ops, "echoes were lost")
    return elapsed, ops
