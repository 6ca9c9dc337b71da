"""gunicorn workers running on gevent_c.

``gunicorn -k gevent_c.gunicorn.GeventWorker app:app`` serves with
gunicorn's own HTTP parser, one greenlet per connection;
``gunicorn -k gevent_c.gunicorn.GeventPyWSGIWorker app:app`` serves with
:mod:`gevent_c.pywsgi` (its strict parser and limits, see that module).
Both do what gunicorn's ``gevent`` workers do:

- in the worker process (after the fork): monkey-patch with
  ``gevent_c.monkey.patch_all()`` (when gevent_c.monkey is available), wrap
  the inherited listening sockets in cooperative sockets, reinitialise the
  hub's loop;
- at most ``worker_connections`` connections at once per listener (a
  :class:`gevent_c.pool.Pool`); with several workers each accepts one
  connection per wake-up, so they share the load;
- keep-alive: a connection waits ``keepalive`` seconds for its next request
  (``Timeout(keepalive, False)`` around the parser; for the pywsgi worker, the
  handler's ``idle_timeout``);
- TERM (or HUP in the master, which replaces the workers): stop accepting,
  close idle keep-alive connections, let requests in flight finish for up
  to ``graceful_timeout`` seconds, then kill what is left; QUIT/INT and USR1
  are handled in a greenlet (their handlers block).
"""
import os
import sys
import time
from datetime import datetime
from functools import partial

import gunicorn
from gunicorn.http.wsgi import base_environ
from gunicorn.sock import ssl_context
from gunicorn.workers.base_async import AsyncWorker

import gevent_c
from gevent_c import pywsgi
from gevent_c import socket
from gevent_c.hub import GreenletExit
from gevent_c.hub import reinit
from gevent_c.pool import Pool
from gevent_c.server import StreamServer
from gevent_c.timeout import Timeout

__all__ = ['GeventWorker', 'GeventPyWSGIWorker', 'PyWSGIHandler', 'PyWSGIServer']

VERSION = 'gevent_c/%s gunicorn/%s' % (gevent_c.__version__, gunicorn.__version__)


def patch_all():
    """``gevent_c.monkey.patch_all()`` if gevent_c has it; True if it ran."""
    try:
        from gevent_c import monkey
    except ImportError:
        return False
    monkey.patch_all()
    return True


class GeventWorker(AsyncWorker):
    """gunicorn's async worker on gevent_c (gunicorn's HTTP parser)."""

    #: A pywsgi.WSGIServer subclass to serve with instead of gunicorn's parser.
    server_class = None
    #: The handler class given to server_class.
    wsgi_handler = None

    def patch(self):
        patch_all()
        # The listeners were made before the fork by the arbiter: wrap their
        # descriptors in cooperative sockets.
        self.sockets = [socket.socket(s.FAMILY, socket.SOCK_STREAM, fileno=s.sock.detach())
                        for s in self.sockets]

    def notify(self):
        super().notify()
        if self.ppid != os.getppid():
            self.log.info('Parent changed, shutting down: %s', self)
            sys.exit(0)

    def timeout_ctx(self):
        return Timeout(self.cfg.keepalive, False)

    def _make_server(self, listener, ssl_args):
        pool = Pool(self.worker_connections)
        if self.server_class is None:
            server = StreamServer(listener, handle=partial(self.handle, listener), spawn=pool,
                                  **ssl_args)
            if self.cfg.workers > 1:
                server.max_accept = 1
            return server
        environ = base_environ(self.cfg)
        environ.update({'wsgi.multithread': True, 'SERVER_SOFTWARE': VERSION})
        handler = type(self.wsgi_handler.__name__, (self.wsgi_handler,), {
            'worker': self,
            'idle_timeout': self.cfg.keepalive if self.cfg.keepalive > 0 else None,
            'keepalive': self.cfg.keepalive > 0,
        })
        return self.server_class(listener, application=self.wsgi, spawn=pool, log=self.log,
                                 handler_class=handler, environ=environ, **ssl_args)

    def run(self):
        ssl_args = {'ssl_context': ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        servers = []
        for listener in self.sockets:
            listener.setblocking(True)
            server = self._make_server(listener, ssl_args)
            server.start()
            servers.append(server)
        self._watch_blocking()

        while self.alive:
            self.notify()
            gevent_c.sleep(1.0)

        try:
            # Stop accepting (and close idle keep-alive connections).
            for server in servers:
                server.close()
            deadline = time.monotonic() + self.cfg.graceful_timeout
            while True:
                busy = [s for s in servers if s.pool.free_count() != s.pool.size]
                if not busy:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.notify()
                busy[0].pool.join(timeout=min(1.0, left))
            self.log.warning('Worker graceful timeout (pid:%s)', self.pid)
            for server in servers:
                server.stop(timeout=1)
        except Exception:  # noqa: BLE001 -- the worker exits either way
            self.log.exception('Error while stopping the worker')

    def _watch_blocking(self):
        """Report a blocked hub through gunicorn's log before the arbiter's
        WORKER TIMEOUT kills the worker: after config.blocking_threshold
        seconds when set, else after half of gunicorn's timeout."""
        from gevent_c import blocking
        from gevent_c._config import config
        threshold = config.blocking_threshold
        if threshold is None and self.cfg.timeout:
            threshold = max(0.1, self.cfg.timeout / 2.0)
        if threshold:
            blocking.watch(gevent_c.get_hub(), threshold, report=self.log.warning)

    def handle(self, listener, client, addr):
        # Accepted sockets take the default timeout: make them blocking
        # (cooperatively) for gunicorn's parser.
        client.setblocking(True)
        super().handle(listener, client, addr)

    def handle_request(self, listener_name, req, sock, addr):
        try:
            super().handle_request(listener_name, req, sock, addr)
        except GreenletExit:
            pass
        except SystemExit:
            pass

    def handle_quit(self, sig, frame):
        # Its work blocks: not in the signal handler.
        gevent_c.spawn(super().handle_quit, sig, frame)

    def handle_usr1(self, sig, frame):
        gevent_c.spawn(super().handle_usr1, sig, frame)

    def init_process(self):
        self.patch()
        reinit()
        super().init_process()


class _AccessResponse:
    # What gunicorn's access logger reads from a response.
    __slots__ = ('status', 'headers', 'sent')

    def __init__(self, status, headers, sent):
        self.status = status
        self.headers = headers
        self.sent = sent


class PyWSGIHandler(pywsgi.WSGIHandler):
    """pywsgi's handler reporting to gunicorn's access log."""

    worker = None
    keepalive = True

    def log_request(self):
        log = self.server.log
        if type(log) is pywsgi.LoggingLogAdapter:
            # gunicorn's logger itself (the adapter finds its attributes
            # only after a failed lookup, which costs an AttributeError)
            log = log._logger
        if getattr(log, 'access', None) is None:
            return super().log_request()
        if getattr(log, 'access_log_enabled', True) is False:
            return              # gunicorn would drop the line: not built
        finish = self.time_finish or time.time()
        response_time = datetime.fromtimestamp(finish) - datetime.fromtimestamp(self.time_start)
        status = self.status
        if isinstance(status, bytes):
            status = status.decode('latin-1')
        headers = [(name.decode('latin-1'), value.decode('latin-1'))
                   for name, value in (self.response_headers or ())]
        response = _AccessResponse(status or '000', headers, self.response_length)
        environ = self.environ
        if environ is None:
            # A refused request: what is known of it.
            environ = {'REQUEST_METHOD': self.command or '-', 'RAW_URI': self.path or '-',
                       'SERVER_PROTOCOL': self.request_version or '-'}
            if isinstance(self.client_address, tuple):
                environ['REMOTE_ADDR'] = str(self.client_address[0])
        request_headers = self.headers.items() if self.environ is not None else []
        log.access(response, request_headers, environ, response_time)

    def _environ_hook(self, env):
        # pywsgi's hook, so that requests keep taking its C path.
        env['gunicorn.sock'] = self.socket
        env['RAW_URI'] = self.path
        if not self.keepalive:
            self.close_connection = True


class PyWSGIServer(pywsgi.WSGIServer):
    """The pywsgi server of :class:`GeventPyWSGIWorker`."""


class GeventPyWSGIWorker(GeventWorker):
    """gunicorn worker serving with :mod:`gevent_c.pywsgi`."""

    server_class = PyWSGIServer
    wsgi_handler = PyWSGIHandler
