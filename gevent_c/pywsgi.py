"""A WSGI (PEP 3333) server for HTTP/1.0 and HTTP/1.1 on the hub, meant to
face the Internet directly.

:class:`WSGIServer` accepts connections; a :class:`WSGIHandler` per
connection reads requests, calls the application and writes responses.
Keep-alive, pipelining, chunked request and response bodies,
``Expect: 100-continue``, HEAD and TLS are supported. The classes,
attributes and hooks are gevent's ``gevent.pywsgi`` ones, so handler
subclasses written for gevent (gevent-websocket, gunicorn's worker) work::

    from gevent_c.pywsgi import WSGIServer

    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'hello']

    WSGIServer(('127.0.0.1', 8000), app).serve_forever()

Unlike gevent's, this parser is strict (RFC 9112), and every request it
cannot frame without doubt is refused with a status and the connection
closed, before the application sees it:

- 400: a request line or header line not ending in CRLF (bare LF, bare
  CR), NUL or other control bytes, obs-fold continuation lines, a space
  before the colon, a header name that is not a token, HTTP/0.9, a target
  that is not origin-form (``/path``) or ``OPTIONS *``, Content-Length
  together with Transfer-Encoding, several or non-numeric Content-Length,
  any Transfer-Encoding but ``chunked`` (or any in HTTP/1.0), several Host
  headers; in a chunked body: a chunk size that is not 1 to 16 hex digits,
  a malformed chunk extension, chunk data not followed by CRLF, a malformed
  trailer (trailers are read, checked and dropped);
- 408: the request head did not arrive within :attr:`WSGIHandler.header_timeout`
  (slowloris); an idle connection is closed after
  :attr:`WSGIHandler.idle_timeout` without a response;
- 413: a body larger than :attr:`WSGIHandler.max_body_size` (if set);
- 414: a request line longer than :data:`MAX_REQUEST_LINE`;
- 431: a header line longer than :attr:`WSGIHandler.max_header_line`, more
  than :attr:`WSGIHandler.max_header_count` headers or more than
  :attr:`WSGIHandler.max_header_bytes` bytes of head;
- 505: an HTTP version other than 1.0 and 1.1.

The request head is parsed by ``gevent_c._http`` (C, ext/http) when that
extension is built, else by the same grammar in Python; both accept exactly
the same heads.

With that extension the default :class:`WSGIHandler` runs the whole cycle
of an ordinary request in C (``_http.serve``): the head parsed from the
connection's read buffer, the environ built, a C ``start_response``, and a
list or tuple of bytes sent with the response head in one ``sendall``. It
reads and writes the handler's usual attributes, and leaves to the Python
methods, unchanged, whatever is not ordinary (a head not yet whole or
refused, ``Expect``, ``Upgrade``, other result iterables, errors...). A
subclass that overrides one of the steps (``handle_one_request``,
``read_request``, ``start_response``, ``process_result``, ``write``,
``run_application``...) is served by the Python methods alone; an
overridden ``get_environ`` or ``log_request`` is called from the C path.

A body the client cuts short (EOF inside it) raises an IOError subclass
from ``wsgi.input``; if the application lets it escape, the answer is 400
(logged in one line to ``error_log``), not a 500 with a traceback.

A body the application did not read is discarded (up to
:attr:`WSGIHandler.max_discard` bytes, else the connection is closed); when
the application answers an ``Expect: 100-continue`` request without reading
its body, the response says ``Connection: close`` and the body is never
read as a next request. HEAD responses carry no body. Error responses never
contain a traceback.
"""
import errno
import re
import sys
import time
import traceback
from datetime import datetime
from http import client as _http_client
from io import BytesIO
from urllib.parse import unquote

import _socket
import io as _io

import gevent_c
from gevent_c._greenlet import getcurrent
from gevent_c.hub import GreenletExit
from gevent_c.hub import kill as _kill_raw
from gevent_c.baseserver import BaseServer as _BaseServer
from gevent_c.server import StreamServer
from gevent_c.socket import socket as _plain_socket
from gevent_c.socket import timeout as _socket_timeout
from gevent_c.timeout import Timeout

try:
    from gevent_c import _http   # the request-head parser in C (ext/http)
except ImportError:
    _http = None

__all__ = [
    'WSGIServer',
    'WSGIHandler',
    'LoggingLogAdapter',
    'Environ',
    'SecureEnviron',
    'WSGISecureEnviron',
]

#: The longest request line accepted (414 beyond), also the longest chunk
#: size line and trailer line.
MAX_REQUEST_LINE = 8192

_WEEKDAYNAME = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
_MONTHNAME = (None, 'Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun',
              'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')

# -- grammar (RFC 9110 / RFC 9112) -------------------------------------------

# tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
#         "_" / "`" / "|" / "~" / DIGIT / ALPHA
_TCHARS = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb'[' + _TCHARS.encode() + rb']+')
# field-value characters are VCHAR, obs-text, SP and HTAB: any other control
# byte (NUL, CR, LF, DEL...) is refused wherever it appears.
_FIELD_CTL = re.compile(rb'[\x00-\x08\x0a-\x1f\x7f]')
# request-line = method SP request-target SP HTTP-version CRLF, with the
# target made of visible bytes (obs-text allowed, as browsers send raw UTF-8).
_REQUEST_LINE = re.compile(
    r'([' + _TCHARS + r']+) ([^\x00-\x20\x7f]+) HTTP/([0-9])\.([0-9])\r\n\Z')
# A header section (latin-1 text): field lines, then the empty line. A field
# line is a token, ":", then visible characters, SP and HTAB only, so obs-fold,
# bare CR/LF, NUL and whitespace before the colon cannot match.
_HEADER_BLOCK = re.compile(r'(?:[' + _TCHARS + r']+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*\r\n')
_HEADER_FIELD = re.compile(r'([' + _TCHARS + r']+):[ \t]*([^\r]*?)[ \t]*\r\n')
# chunk = chunk-size [ chunk-ext ] CRLF ; chunk-size = 1*HEXDIG (16 at most:
# 64 bits) ; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
_QUOTED_STRING = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_LINE = re.compile(
    rb'([0-9A-Fa-f]{1,16})'
    rb'(?:[ \t]*;[ \t]*' + _TOKEN.pattern +
    rb'(?:[ \t]*=[ \t]*(?:' + _TOKEN.pattern + rb'|' + _QUOTED_STRING + rb'))?)*'
    rb'\r\n')


def format_date_time(timestamp):
    """The IMF-fixdate for *timestamp* (``b'Sun, 06 Dec 2026 10:00:00 GMT'``)."""
    year, month, day, hh, mm, ss, wd, _y, _z = time.gmtime(timestamp)
    return ('%s, %02d %3s %4d %02d:%02d:%02d GMT' % (
        _WEEKDAYNAME[wd], day, _MONTHNAME[month], year, hh, mm, ss)).encode('latin-1')


_date_cache = [0, b'']


def _http_date():
    # One formatting per second is enough for the Date header.
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = format_date_time(now)
    return _date_cache[1]


def _unquote_latin1(path):
    return unquote(path, encoding='latin-1') if '%' in path else path


# -- canned responses ---------------------------------------------------------

_REASONS = {
    400: 'Bad Request', 408: 'Request Timeout', 413: 'Content Too Large',
    414: 'URI Too Long', 431: 'Request Header Fields Too Large',
    505: 'HTTP Version Not Supported', 500: 'Internal Server Error',
}


def _refusal(code):
    return ('HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'
            % (code, _REASONS[code])).encode('latin-1')


_REFUSALS = {code: _refusal(code) for code in (400, 408, 413, 414, 431, 505)}
_BAD_REQUEST_RESPONSE = _REFUSALS[400]
_REQUEST_TOO_LONG_RESPONSE = _REFUSALS[414]
_CONTINUE_RESPONSE = b'HTTP/1.1 100 Continue\r\n\r\n'

_INTERNAL_ERROR_BODY = b'Internal Server Error'
_ERRORS = {
    500: ('500 Internal Server Error',
          (('Content-Type', 'text/plain'), ('Connection', 'close'),
           ('Content-Length', str(len(_INTERNAL_ERROR_BODY)))),
          _INTERNAL_ERROR_BODY),
    400: ('400 Bad Request',
          (('Content-Type', 'text/plain'), ('Connection', 'close'), ('Content-Length', '0')),
          b''),
    413: ('413 Content Too Large',
          (('Content-Type', 'text/plain'), ('Connection', 'close'), ('Content-Length', '0')),
          b''),
}


class _InvalidClientInput(IOError):
    """The request body broke its framing: answered with 400, connection closed."""

    status = 400


class _TruncatedInput(_InvalidClientInput):
    """The client ended the connection inside the body: 400 if still possible."""


class _BodyTooLarge(_InvalidClientInput):
    """The request body is larger than the handler allows: 413."""

    status = 413


class _InvalidClientRequest(ValueError):
    """The request head cannot be accepted; ``status`` is the answer (400 by default)."""

    def __init__(self, message, status=400):
        ValueError.__init__(self, message)
        self.formatted_message = message
        self.status = status


_EOF_CHUNKED = 'unexpected end of file while parsing chunked data'


class Input:
    """``environ['wsgi.input']``: the request body, framed.

    Reads never go past the body: ``read()`` and ``readline()`` return
    ``b''`` at its end, whether it is delimited by Content-Length or by
    chunked encoding. ``read(n)``, ``readline(size)``, ``readlines()`` and
    iteration are supported. A body cut short by the client raises IOError;
    one whose chunked framing is invalid raises an IOError subclass and
    makes the handler answer 400 and close. The first read of a request
    that said ``Expect: 100-continue`` sends ``100 Continue``.
    """

    __slots__ = ('rfile', 'content_length', 'socket', 'position',
                 'chunked_input', 'chunk_length', '_chunked_input_error',
                 'send_100_continue_enabled', 'max_size', '_received')

    def __init__(self, rfile, content_length, socket=None, chunked_input=False):
        self.rfile = rfile
        self.content_length = content_length
        self.socket = socket
        self.position = 0
        self.chunked_input = chunked_input
        self.chunk_length = -1       # chunked: size of the current chunk; -1 between chunks, 0 at the end
        self._chunked_input_error = False
        self.send_100_continue_enabled = True
        self.max_size = None         # bytes of chunked body allowed (None: unlimited)
        self._received = 0

    # -- state ---------------------------------------------------------------

    def _finished(self):
        """True once the whole body has been read."""
        if self.chunked_input:
            return self.chunk_length == 0
        return self.position >= (self.content_length or 0)

    def _awaiting_continue(self):
        """True if the client may still wait for ``100 Continue`` to send the body."""
        return self.socket is not None and not self._finished()

    def _discard(self, limit=None):
        """Read and drop what is left of the body, never sending 100 Continue.

        With *limit*, give up (returning False) rather than read more than
        *limit* bytes; return True once the body is consumed.
        """
        if self._chunked_input_error:
            return False
        if self._finished():
            return True
        self.send_100_continue_enabled = False
        try:
            if not self.chunked_input and limit is not None:
                if self.content_length - self.position > limit:
                    return False
            read = 0
            while True:
                data = self.read(16384)
                if not data:
                    return self._finished()
                read += len(data)
                if limit is not None and read > limit and not self._finished():
                    return False
        finally:
            self.send_100_continue_enabled = True

    def _send_100_continue(self):
        if self.send_100_continue_enabled and self.socket is not None:
            sock, self.socket = self.socket, None
            sock.sendall(_CONTINUE_RESPONSE)

    # -- Content-Length bodies ----------------------------------------------

    def _do_read(self, length=None, use_readline=False):
        content_length = self.content_length
        if content_length is None:
            return b''
        left = content_length - self.position
        if length is None or length > left:
            length = left
        if length <= 0:
            return b''
        self._send_100_continue()
        if use_readline:
            data = self.rfile.readline(length)
        else:
            data = self.rfile.read(length)
        self.position += len(data)
        if len(data) < length and not (use_readline and data.endswith(b'\n')):
            raise _TruncatedInput('unexpected end of file while reading request at position %s'
                          % (self.position,))
        return data

    # -- chunked bodies ------------------------------------------------------

    def _fail(self, error):
        self._chunked_input_error = True
        self.chunk_length = 0
        raise error

    def _read_line(self, what):
        # One CRLF-terminated line of at most MAX_REQUEST_LINE bytes.
        line = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if not line.endswith(b'\n'):
            if len(line) > MAX_REQUEST_LINE:
                self._fail(_InvalidClientInput('%s too long' % (what,)))
            self._fail(_TruncatedInput(_EOF_CHUNKED))
        if not line.endswith(b'\r\n'):
            self._fail(_InvalidClientInput('%s ends in a bare LF' % (what,)))
        return line

    def _read_chunk_size(self):
        line = self._read_line('chunk size line')
        match = _CHUNK_LINE.fullmatch(line)
        if match is None:
            self._fail(_InvalidClientInput('Invalid chunk size line: %r' % (line[:80],)))
        size = int(match.group(1), 16)
        if size == 0:
            self._read_trailers()
        return size

    def _read_trailers(self):
        # trailer-section = *( field-line CRLF ) CRLF; checked, then dropped.
        count = 0
        while True:
            line = self._read_line('trailer line')
            if line == b'\r\n':
                return
            count += 1
            if count > 100:
                self._fail(_InvalidClientInput('Too many trailers'))
            name, colon, value = line[:-2].partition(b':')
            if not colon or _TOKEN.fullmatch(name) is None or _FIELD_CTL.search(value):
                self._fail(_InvalidClientInput('Invalid trailer line: %r' % (line[:80],)))

    def _read_chunk_end(self):
        crlf = self.rfile.read(2)
        if crlf != b'\r\n':
            if len(crlf) < 2 and crlf in (b'', b'\r'):
                self._fail(_TruncatedInput(_EOF_CHUNKED))
            self._fail(_InvalidClientInput("Chunk data not followed by CRLF: %r" % (crlf,)))

    def _chunked_read(self, length=None, use_readline=False):
        if self._chunked_input_error:
            raise _InvalidClientInput('The chunked request body is invalid')
        if length == 0 or self.chunk_length == 0:
            return b''
        self._send_100_continue()
        reader = self.rfile.readline if use_readline else self.rfile.read
        pieces = []
        while self.chunk_length != 0:
            if self.chunk_length < 0:
                size = self._read_chunk_size()
                self.chunk_length = size
                self.position = 0
                if size == 0:
                    break
            want = self.chunk_length - self.position
            if length is not None and length < want:
                want = length
            data = reader(want)
            if not data:
                self._fail(_TruncatedInput(_EOF_CHUNKED))
            got = len(data)
            pieces.append(data)
            self.position += got
            self._received += got
            if self.max_size is not None and self._received > self.max_size:
                self._fail(_BodyTooLarge('Request body larger than %s bytes' % (self.max_size,)))
            if self.position == self.chunk_length:
                self._read_chunk_end()
                self.chunk_length = -1
            elif not use_readline and got < want:
                self._fail(_TruncatedInput(_EOF_CHUNKED))
            if length is not None:
                length -= got
                if length == 0:
                    break
            if use_readline and data.endswith(b'\n'):
                break
        return b''.join(pieces)

    # -- the file API --------------------------------------------------------

    def read(self, length=None):
        """Up to *length* bytes of the body (all that is left if None or negative)."""
        if length is not None and length < 0:
            length = None
        if self.chunked_input:
            return self._chunked_read(length)
        return self._do_read(length)

    def readline(self, size=None):
        """The next line of the body (at most *size* bytes)."""
        if size is not None and size < 0:
            size = None
        if self.chunked_input:
            return self._chunked_read(size, True)
        return self._do_read(size, use_readline=True)

    def readlines(self, hint=None):
        """All remaining lines."""
        return list(self)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__


class _HeaderMessage(_http_client.HTTPMessage):
    """The request headers as an :class:`http.client.HTTPMessage` (gevent's API)."""

    status = ''

    def getheader(self, name, default=None):
        return self.get(name, default)

    @property
    def headers(self):
        return ['%s: %s\r\n' % item for item in self._headers]

    @property
    def typeheader(self):
        return self.get('content-type')


def headers_factory(fp, *args):
    """Parse header lines from *fp* (RFC 5322 style) into a message object."""
    try:
        return _http_client.parse_headers(fp, _class=_HeaderMessage)
    except _http_client.LineTooLong:
        message = _HeaderMessage()
        message.status = 'Line too long'
        return message


# Response header names already checked: name -> (latin-1 bytes, lower-case).
_RESPONSE_NAMES = {}
_VALUE_CTL = re.compile(r'[\x00-\x08\x0a-\x1f\x7f]')


def _check_response_name(header, value):
    if not isinstance(header, str):
        raise UnicodeError('The header must be a native string', header, value)
    if '\r' in header or '\n' in header:
        raise ValueError('carriage return or newline in header name', header)
    try:
        name_bytes = header.encode('latin-1')
    except UnicodeEncodeError:
        raise UnicodeError('Non-latin1 header', repr(header), repr(value)) from None
    if _TOKEN.fullmatch(name_bytes) is None:
        raise ValueError('invalid header name', header)
    known = (name_bytes, header.lower())
    if len(_RESPONSE_NAMES) < 1024:
        _RESPONSE_NAMES[header] = known
    return known


# Request header name -> its environ key ('HTTP_X_THING'), or _DROPPED for
# names with '_' (indistinguishable from the dash form once in the environ)
# and for Content-Type/-Length (they have their own keys).
_ENV_KEYS = {}
_DROPPED = '\0dropped'   # not a valid environ key: the header is left out


def _env_key(name):
    if '_' in name:
        key = _DROPPED
    else:
        key = name.upper().replace('-', '_')
        key = _DROPPED if key in ('CONTENT_TYPE', 'CONTENT_LENGTH') else 'HTTP_' + key
    if len(_ENV_KEYS) < 1024:
        _ENV_KEYS[name] = key
    return key


def _diagnose_header_block(block):
    # The block failed the grammar: say which line, and why.
    for line in block.split('\n')[:-1]:
        if not line.endswith('\r'):
            raise _InvalidClientRequest('Header line ends in a bare LF: %r' % (line[:80],))
        if line == '\r':
            break
        if line[0] in ' \t':
            raise _InvalidClientRequest('Obsolete line folding is not accepted: %r' % (line[:80],))
        name, colon, value = line[:-1].partition(':')
        if not colon or _TOKEN.fullmatch(name.encode('latin-1')) is None:
            raise _InvalidClientRequest('Invalid header line: %r' % (line[:80],))
        if _FIELD_CTL.search(value.encode('latin-1')) is not None:
            raise _InvalidClientRequest('Control character in header %r' % (name,))
    raise _InvalidClientRequest('Invalid header section')


def _message_from(pairs):
    message = _HeaderMessage()
    message._headers = pairs
    return message


class WSGIHandler:
    """Reads the requests of one connection, runs the application, writes responses.

    Made by the server for each connection as ``handler_class(socket,
    address, server)``; :meth:`handle` returns when the connection is done.
    Subclasses may override the steps: :meth:`read_requestline`,
    :meth:`read_request`, :meth:`get_environ`, :meth:`run_application`,
    :meth:`process_result`, :meth:`start_response`, :meth:`write`,
    :meth:`log_request`, :meth:`format_request`. The per-request state lives
    in gevent's attributes (``status``, ``code``, ``response_headers``,
    ``headers_sent``, ``response_use_chunked``, ``close_connection``,
    ``provided_content_length``, ``provided_date``, ``result``,
    ``environ``, ``headers``, ``command``, ``path``, ``request_version``,
    ``time_start``, ``time_finish``, ``response_length``).

    The limits and timeouts below are class attributes; set them on a
    subclass (passed as the server's ``handler_class``).
    """

    protocol_version = 'HTTP/1.1'

    #: Seconds to wait for the first byte of a request (the first one, or
    #: the next on a kept-alive connection); the connection is then closed
    #: without a response. None: wait forever.
    idle_timeout = 60.0

    #: Seconds to receive the rest of a request head once its first byte
    #: came (a slowloris defence): 408 and close. None: no deadline.
    header_timeout = 30.0

    #: Seconds each read of the body or write of the response may wait
    #: (the socket's timeout outside the application's own use of upgraded
    #: connections). None: wait forever.
    socket_timeout = 60.0

    #: Longest header line, and most header lines / bytes of head: 431 beyond.
    max_header_line = 8192
    max_header_count = 100
    max_header_bytes = 65536

    #: Largest request body accepted (413 beyond); None: no limit.
    max_body_size = None

    #: Most bytes of a body the application left unread that are read and
    #: dropped to keep the connection; beyond, the connection is closed.
    max_discard = 65536

    #: Seconds spent draining the client's unread bytes before closing after
    #: an error, so the response is not destroyed by a TCP reset.
    linger_timeout = 2.0

    #: socket errors (errno) that end a response quietly: the client left.
    ignored_socket_errors = (errno.EPIPE, errno.ECONNRESET)

    #: The exception raised for application errors the server detects.
    ApplicationError = AssertionError

    # Per-request state (class values are the defaults).
    status = None                # b'200 OK'
    _orig_status = None          # '200 OK'
    response_headers = None      # [(b'Name', b'value')]
    code = None                  # 200
    provided_date = None
    provided_content_length = None
    close_connection = False
    time_start = 0
    time_finish = 0
    headers_sent = False
    response_use_chunked = False
    connection_upgraded = False
    environ = None
    application = None
    requestline = None
    response_length = 0
    result = None
    wsgi_input = None
    content_length = 0
    _header_pairs = ()
    _headers_message = None
    _content_type = None
    _content_length_text = None
    _upgrade = False
    request_version = None
    command = None
    path = None
    _raw_input = False           # the application got rfile itself (upgrade)
    _linger_on_close = False     # drain the client's bytes before closing
    _chunked = False
    _expect_continue = False

    def MessageClass(self, *args):
        return headers_factory(*args)

    def __init__(self, sock, address, server, rfile=None):
        self.socket = sock
        self.client_address = address
        self.server = server
        self.rfile = sock.makefile('rb', -1) if rfile is None else rfile

    # -- the connection loop -------------------------------------------------

    def handle(self):
        """Serve requests on the connection until it is to be closed."""
        linger = True
        try:
            self.socket.settimeout(self.socket_timeout)
            fast = self._fast_path_args()
            while self.socket is not None:
                if fast is not None:
                    # Ordinary requests are served in C; it hands a request
                    # it leaves to the Python steps over unread.
                    if _http.serve(self, *fast) is None:
                        linger = self._linger_on_close
                        break
                    if self.socket is None:
                        break
                self.time_start = time.time()
                self.time_finish = 0
                result = self.handle_one_request()
                if result is None:
                    linger = self._linger_on_close
                    break
                if result is True:
                    continue
                self.status, response_body = result
                self.socket.sendall(response_body)
                if self.time_finish == 0:
                    self.time_finish = time.time()
                self.log_request()
                break
        except OSError:
            pass                 # the client went away while we answered
        finally:
            self._close(linger)
            self.__dict__.pop('socket', None)
            self.__dict__.pop('rfile', None)
            self.__dict__.pop('wsgi_input', None)

    def _fast_path_args(self):
        """The arguments of ``_http.serve`` for this connection, or None
        when its requests go through the Python methods only (a subclass
        overriding a step the C path takes, an unusual rfile or server)."""
        flags = _fast_path_flags(type(self))
        if flags is None or not isinstance(self.rfile, _io.BufferedReader):
            return None
        server = self.server
        copy_environ = (getattr(type(server), 'get_environ', None) is WSGIServer.get_environ
                        and getattr(server, 'environ_class', None) is dict
                        and type(getattr(server, 'environ', None)) is dict)
        closed_via_socket = getattr(type(server), 'closed', None) is _BaseServer.closed
        # A TLS socket may hold decrypted bytes while its descriptor is not
        # readable: only a plain one may be waited on directly.
        plain_socket = type(self.socket) is _plain_socket
        return flags + (copy_environ, closed_via_socket, plain_socket)

    def _unread_input(self):
        inp = self.wsgi_input
        return inp is not None and not self._raw_input and not inp._finished()

    def _pending_input(self):
        # Bytes the client sent that nobody will read (pipelined requests
        # after a close)? Looks without waiting.
        sock = self.socket
        try:
            sock.settimeout(0.0)
            try:
                return bool(self.rfile.peek(1))
            finally:
                sock.settimeout(self.socket_timeout)
        except (OSError, ValueError, AttributeError):
            return True

    def _close(self, linger):
        sock = self.__dict__.get('socket')
        rfile = self.__dict__.get('rfile')
        try:
            if sock is not None and linger:
                self._linger(sock)
        finally:
            try:
                if rfile is not None:
                    rfile.close()
            except OSError:
                pass
            try:
                if sock is not None:
                    sock.close()
            except OSError:
                pass

    def _linger(self, sock):
        # Half-close, then read what the client still sends (bounded in
        # time and bytes): closing with unread bytes makes the kernel send a
        # reset that can destroy the response before the client reads it.
        try:
            sock.shutdown(_socket.SHUT_WR)
            sock.settimeout(self.linger_timeout)
            deadline = time.monotonic() + (self.linger_timeout or 0)
            drained = 0
            while drained < 1 << 20 and time.monotonic() < deadline:
                data = sock.recv(65536)
                if not data:
                    break
                drained += len(data)
        except (OSError, ValueError):
            pass

    def _wait_for_request(self):
        """Block until a request starts; False if the connection should end."""
        server = self.server
        if getattr(server, 'closed', False):
            return False
        peek = getattr(self.rfile, 'peek', None)
        if peek is None:
            return True
        idle = getattr(server, '_idle_handlers', None)
        glet = getcurrent()
        sock = self.socket
        idle_timeout = self.idle_timeout
        switch = idle_timeout != self.socket_timeout
        try:
            if idle is not None:
                idle.add(glet)
            if switch:
                sock.settimeout(idle_timeout)
            try:
                return bool(peek(1))
            finally:
                if switch:
                    sock.settimeout(self.socket_timeout)
        except (OSError, ValueError):
            return False          # idle timeout, reset, or closed under us
        finally:
            if idle is not None:
                idle.discard(glet)

    def _check_http_version(self):
        version = self.request_version
        return version in ('HTTP/1.0', 'HTTP/1.1')

    def read_requestline(self):
        """Read the request line; return it as a str (latin-1), CRLF included."""
        return self.rfile.readline(MAX_REQUEST_LINE).decode('latin-1')

    def read_request(self, raw_requestline):
        """Parse the request line *raw_requestline* and read the headers.

        Sets ``command``, ``path``, ``request_version``, ``headers``,
        ``content_length`` and ``close_connection``. Raises ValueError
        (with a ``status``) when the request is refused.
        """
        self._parse_request_line(raw_requestline)
        pairs = self._parse_header_block(self._read_header_block())
        self._set_headers(pairs)
        self._frame_request(pairs)
        return True

    def _parse_request_line(self, raw_requestline):
        self.requestline = raw_requestline.rstrip('\r\n')
        match = _REQUEST_LINE.match(raw_requestline)
        if match is None:
            if raw_requestline.endswith('\n') and not raw_requestline.endswith('\r\n'):
                raise _InvalidClientRequest('Request line ends in a bare LF: %r'
                                            % (raw_requestline,))
            if len(raw_requestline.split()) == 2:
                raise _InvalidClientRequest('HTTP/0.9 requests are not supported: %r'
                                            % (raw_requestline,))
            raise _InvalidClientRequest('Invalid request line: %r' % (raw_requestline,))
        command, path, major, minor = match.groups()
        self._accept_request_line(command, path, major, minor)

    def _accept_request_line(self, command, path, major, minor):
        # The request line is well formed: is it one we serve?
        self.command = command
        self.path = path
        self.request_version = 'HTTP/%s.%s' % (major, minor)
        if not self._check_http_version():
            raise _InvalidClientRequest('Unsupported HTTP version: %r' % (self.requestline,), 505)
        if path[0] != '/' and not (path == '*' and command == 'OPTIONS'):
            raise _InvalidClientRequest('Request target must be a path: %r' % (path,))

    def _read_header_block(self):
        # The header lines up to the empty one, read line by line within the
        # limits (the head was not all in the buffer); as latin-1 text.
        readline = self.rfile.readline
        line_limit = self.max_header_line
        count_limit = self.max_header_count
        byte_limit = self.max_header_bytes
        lines = []
        total = 0
        while True:
            line = readline(line_limit + 1)
            if not line.endswith(b'\n'):
                if len(line) > line_limit:
                    raise _InvalidClientRequest('Header line too long', 431)
                raise _InvalidClientRequest('Request head ended early')
            lines.append(line)
            if line == b'\r\n':
                return b''.join(lines).decode('latin-1')
            total += len(line)
            if total > byte_limit:
                raise _InvalidClientRequest('Request head too large', 431)
            if len(lines) > count_limit:
                raise _InvalidClientRequest('Too many headers', 431)

    def _parse_header_block(self, block):
        """``[(name, value)]`` of a header section (str, the final CRLF included)."""
        if block == '\r\n':
            return []
        if _HEADER_BLOCK.fullmatch(block) is None:
            _diagnose_header_block(block)
        pairs = _HEADER_FIELD.findall(block)
        if len(pairs) > self.max_header_count:
            raise _InvalidClientRequest('Too many headers', 431)
        return pairs

    def _set_headers(self, pairs):
        self._header_pairs = pairs
        self._headers_message = None

    @property
    def headers(self):
        """The request headers (an :class:`http.client.HTTPMessage`)."""
        message = self._headers_message
        if message is None:
            message = self._headers_message = _message_from(list(self._header_pairs))
        return message

    @headers.setter
    def headers(self, message):
        self._headers_message = message

    def _frame_request(self, pairs):
        # Decide how the body is delimited, refusing every ambiguity.
        lengths = []
        encodings = []
        hosts = 0
        connection = ''
        expect = ''
        upgrade = ''
        content_type = None
        for name, value in pairs:
            lname = name.lower()
            if lname == 'content-length':
                lengths.append(value)
            elif lname == 'transfer-encoding':
                encodings.append(value)
            elif lname == 'host':
                hosts += 1
            elif lname == 'connection':
                connection = connection + ',' + value if connection else value
            elif lname == 'expect':
                expect = value
            elif lname == 'content-type':
                if content_type is None:
                    content_type = value
            elif lname == 'upgrade':
                upgrade = value
        if hosts > 1:
            raise _InvalidClientRequest('Several Host headers')
        content_length = None
        chunked = False
        if encodings:
            if lengths:
                raise _InvalidClientRequest('Both Content-Length and Transfer-Encoding')
            if self.request_version == 'HTTP/1.0':
                raise _InvalidClientRequest('Transfer-Encoding in an HTTP/1.0 request')
            if len(encodings) > 1 or encodings[0].lower() != 'chunked':
                raise _InvalidClientRequest('Unsupported Transfer-Encoding: %r'
                                            % (', '.join(encodings),))
            chunked = True
        elif lengths:
            if len(lengths) > 1:
                raise _InvalidClientRequest('Several Content-Length headers')
            value = lengths[0]
            if not (value.isascii() and value.isdigit()) or len(value) > 18:
                raise _InvalidClientRequest('Invalid Content-Length: %r' % (value,))
            content_length = int(value)
        max_body = self.max_body_size
        if max_body is not None and content_length is not None and content_length > max_body:
            raise _InvalidClientRequest('Request body larger than %s bytes' % (max_body,), 413)
        self.content_length = content_length
        self._chunked = chunked
        # An HTTP/1.0 client cannot expect 100 Continue (RFC 9110 10.1.1).
        self._expect_continue = (expect.lower() == '100-continue' and (chunked or bool(content_length))
                                 and self.request_version == 'HTTP/1.1')
        self._content_type = content_type
        self._content_length_text = lengths[0] if lengths else None
        tokens = [t.strip().lower() for t in connection.split(',')] if connection else ()
        self._upgrade = 'upgrade' in tokens or upgrade.lower() == 'websocket'
        if self.request_version == 'HTTP/1.1':
            self.close_connection = 'close' in tokens
        else:
            self.close_connection = 'keep-alive' not in tokens

    _print_unexpected_exc = staticmethod(traceback.print_exc)

    def log_error(self, msg, *args):
        """Write an error line (``msg % args``) to the server's error_log."""
        if not args:
            message = msg
        else:
            try:
                message = msg % args
            except Exception:  # noqa: BLE001 -- a log line must not raise
                self._print_unexpected_exc()
                message = '%r %r' % (msg, args)
        try:
            message = '%s: %s' % (self.socket, message)
        except Exception:  # noqa: BLE001
            pass
        try:
            self.server.error_log.write(message + '\n')
        except Exception:  # noqa: BLE001
            self._print_unexpected_exc()

    def handle_one_request(self):
        """Read one request and answer it.

        Returns None (close the connection), True (read the next request),
        or ``(status, response_bytes)``: an error to send before closing.
        """
        if self.rfile.closed or not self._wait_for_request():
            return None
        # Nothing of the previous request may leak into this one's log or state.
        self.environ = self.status = self._orig_status = self.code = None
        self.response_headers = self.command = self.path = self.request_version = None
        self.wsgi_input = None
        deadline = None
        peek = getattr(self.rfile, 'peek', None)
        buffered = peek() if peek is not None else b''
        end = buffered.find(b'\r\n\r\n')
        if (end > 0 and buffered[:2] != b'\r\n' and self._reads_heads_whole()
                and end + 4 <= self._whole_head_limit()):
            # The whole head is in the buffer: parse it in one piece.
            if _http is not None and self._parse_head_in_c(buffered):
                return self._respond()
            refusal = self._read_whole_head(end + 4)
            if refusal is not None:
                return refusal
            return self._respond()
        if self.header_timeout is not None:
            # Only armed when the head is not already all here.
            deadline = Timeout._start_new_or_dummy(self.header_timeout)
        try:
            try:
                requestline = self._read_first_line()
            except (_socket_timeout, Timeout) as ex:
                if isinstance(ex, Timeout) and ex is not deadline:
                    raise
                return ('408', _REFUSALS[408])
            except OSError:
                return None
            if requestline is None:
                return None
            self.requestline = requestline.rstrip('\r\n')
            self.response_length = 0
            if len(requestline) >= MAX_REQUEST_LINE:
                return ('414', _REQUEST_TOO_LONG_RESPONSE)
            try:
                if not self.read_request(requestline):
                    return ('400', _BAD_REQUEST_RESPONSE)
            except (_socket_timeout, Timeout) as ex:
                if isinstance(ex, Timeout) and ex is not deadline:
                    raise
                return ('408', _REFUSALS[408])
            except OSError:
                return None
            except Exception as ex:  # noqa: BLE001 -- refused, never a traceback to the client
                return self._handle_client_error(ex)
        finally:
            if deadline is not None:
                deadline.close()

        return self._respond()

    @classmethod
    def _reads_heads_whole(cls):
        # Heads are parsed from the buffer in one piece unless a subclass
        # reads them its own way.
        try:
            return cls.__dict__['_default_head_reading']
        except KeyError:
            default = (cls.read_requestline is WSGIHandler.read_requestline
                       and cls.read_request is WSGIHandler.read_request)
            cls._default_head_reading = default
            return default

    def _whole_head_limit(self):
        return min(self.max_header_line, self.max_header_bytes, MAX_REQUEST_LINE)

    def _parse_head_in_c(self, buffered):
        # True if the C parser accepted the head (then consumed); otherwise
        # the Python parser reads it and says precisely why it is refused.
        parsed = _http.parse_request(buffered, MAX_REQUEST_LINE, self.max_header_line,
                                     self.max_header_bytes, self.max_header_count)
        if type(parsed) is int:
            return False
        size, command, path, major, minor, pairs = parsed
        self.requestline = '%s %s HTTP/%d.%d' % (command, path, major, minor)
        self.response_length = 0
        try:
            self._accept_request_line(command, path, major, minor)
            self._set_headers(pairs)
            self._frame_request(pairs)
        except _InvalidClientRequest:
            return False
        self.rfile.read(size)
        return True

    def _read_whole_head(self, size):
        head = self.rfile.read(size).decode('latin-1')
        cut = head.index('\r\n') + 2
        requestline = head[:cut]
        self.requestline = requestline[:-2]
        self.response_length = 0
        try:
            self._parse_request_line(requestline)
            pairs = self._parse_header_block(head[cut:])
            self._set_headers(pairs)
            self._frame_request(pairs)
        except Exception as ex:  # noqa: BLE001 -- refused, never a traceback to the client
            return self._handle_client_error(ex)
        return None

    def _respond(self):
        self.environ = self.get_environ()
        self.application = self.server.application
        self.handle_one_response()
        if self.close_connection or self.rfile.closed or getattr(self.server, 'closed', False):
            self._set_linger()
            return None
        return True

    def _set_linger(self):
        # The connection closes: drain the client's bytes first if some
        # are (or may be) unread.
        self._linger_on_close = not self._raw_input and (self._unread_input() or self._pending_input())

    def _read_first_line(self):
        # The request line; up to 4 empty lines before it are skipped
        # (RFC 9112 section 2.2). None at EOF.
        for _ in range(5):
            line = self.read_requestline()
            if isinstance(line, bytes):
                line = line.decode('latin-1')
            if not line:
                return None
            if line != '\r\n':
                return line
        return line

    def _connection_upgrade_requested(self):
        headers = self._headers_message
        if headers is None:
            return self._upgrade
        if 'upgrade' in headers.get('Connection', '').lower():
            return True
        return headers.get('Upgrade', '').lower() == 'websocket'

    # -- responses -----------------------------------------------------------

    def finalize_headers(self):
        """Complete the response headers before they are sent."""
        if self.provided_date is None:
            self.response_headers.append((b'Date', _http_date()))
        code = self.code
        self.connection_upgraded = code == 101
        head = self.command == 'HEAD'
        if code not in (304, 204) and not 100 <= code < 200:
            if self.provided_content_length is None:
                result = self.result
                if hasattr(result, '__len__'):
                    total = sum(len(chunk) for chunk in result)
                    self.response_headers.append((b'Content-Length', str(total).encode('latin-1')))
                elif head:
                    pass                # no body follows a HEAD response
                elif not self.connection_upgraded and self.request_version != 'HTTP/1.0':
                    self.response_use_chunked = True
                    self.response_headers.append((b'Transfer-Encoding', b'chunked'))
                elif not self.connection_upgraded:
                    # HTTP/1.0 without a length: the body ends when the
                    # connection does.
                    self.close_connection = True
        if (self._expect_continue and self.wsgi_input is not None
                and self.wsgi_input._awaiting_continue()):
            # Answered before the body was asked for: the client may or may
            # not send it, so this connection cannot carry another request,
            # and a 100 Continue would now land inside the response body.
            self.close_connection = True
            self.wsgi_input.socket = None
        if getattr(self.server, 'closed', False):
            self.close_connection = True
        if not self._provided_connection:
            if self.request_version == 'HTTP/1.0':
                self.response_headers.append(
                    (b'Connection', b'close' if self.close_connection else b'keep-alive'))
            elif self.close_connection and not self.connection_upgraded:
                self.response_headers.append((b'Connection', b'close'))

    _provided_connection = None

    def _sendall(self, data):
        try:
            self.socket.sendall(data)
        except OSError as ex:
            self.status = 'socket error: %s' % ex
            if self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(data)

    def _framed(self, data):
        if self.response_use_chunked:
            return b'%x\r\n%s\r\n' % (len(data), data)
        return data

    def _write(self, data):
        if not data or self.command == 'HEAD':
            return
        self._sendall(self._framed(data))

    def write(self, data):
        """The ``write`` callable of PEP 3333 (also used for returned chunks)."""
        if self.code in (304, 204) and data:
            raise self.ApplicationError('The %s response must have no body' % self.code)
        if self.headers_sent:
            self._write(data)
        else:
            if not self.status:
                raise self.ApplicationError('The application did not call start_response()')
            self._write_with_headers(data)

    def _write_with_headers(self, data):
        self.headers_sent = True
        self.finalize_headers()
        head = [b'HTTP/1.1 ', self.status, b'\r\n']
        for name, value in self.response_headers:
            head += (name, b': ', value, b'\r\n')
        head.append(b'\r\n')
        if data and self.command != 'HEAD':
            if len(data) <= 65536:
                # Headers and the first chunk in one system call.
                head.append(self._framed(data))
                self._sendall(b''.join(head))
                return
            self._sendall(b''.join(head))
            self._write(data)
            return
        self._sendall(b''.join(head))

    def start_response(self, status, headers, exc_info=None):
        """The ``start_response`` callable of PEP 3333.

        Checks the status and headers at once: native strings, latin-1, no
        CR/LF (ValueError: no header injection), a three-digit status code.
        """
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        response_headers = []
        provided_connection = provided_date = provided_length = None
        names = _RESPONSE_NAMES
        for header, value in headers:
            known = names.get(header)
            if known is None:
                known = _check_response_name(header, value)
            if type(value) is not str:
                if not isinstance(value, str):
                    raise UnicodeError('The value must be a native string', header, value)
            if _VALUE_CTL.search(value) is not None:
                if '\r' in value or '\n' in value:
                    raise ValueError('carriage return or newline in header value', value)
                raise ValueError('control character in header value', value)
            try:
                encoded = value.encode('latin-1')
            except UnicodeEncodeError:
                raise UnicodeError('Non-latin1 header', repr(header), repr(value)) from None
            name_bytes, lname = known
            response_headers.append((name_bytes, encoded))
            if lname == 'connection':
                provided_connection = value
            elif lname == 'date':
                provided_date = value
            elif lname == 'content-length':
                provided_length = value
        if not isinstance(status, str):
            raise UnicodeError('The status string must be a native string')
        if '\r' in status or '\n' in status:
            raise ValueError('carriage return or newline in status', status)
        code_text = status[:3]
        if (len(status) > 3 and status[3] != ' ') or not (
                len(code_text) == 3 and code_text.isascii() and code_text.isdigit()):
            raise ValueError('status must begin with a three-digit code', status)
        code = int(code_text)
        status_bytes = status.encode('latin-1')

        self.status = status_bytes
        self._orig_status = status
        self.response_headers = response_headers
        self.code = code
        self.provided_date = provided_date
        self.provided_content_length = provided_length
        self._provided_connection = provided_connection
        if provided_connection is not None and provided_connection.lower() == 'close':
            self.close_connection = True
        if code in (304, 204):
            if provided_length not in (None, '0'):
                raise self.ApplicationError(
                    ('Invalid Content-Length for %s response: %r (must be absent or zero)'
                     % (code, provided_length)).encode('latin-1'))
        if code == 101 and self._raw_input:
            # The connection now belongs to the application: no server
            # timeout on it any more.
            try:
                self.socket.settimeout(None)
            except (OSError, AttributeError):
                pass
        return self.write

    def log_request(self):
        """Write the access log line for the request to the server's log."""
        log = self.server.log
        if type(log) is not _NoopLog:
            log.write(self.format_request() + '\n')

    def format_request(self):
        """The access log line: ``addr - - [time] "request line" status length duration``."""
        now = datetime.now().replace(microsecond=0)
        length = self.response_length or '-'
        if self.time_finish:
            delta = '%.6f' % (self.time_finish - self.time_start)
        else:
            delta = '-'
        address = self.client_address
        address = address[0] if isinstance(address, tuple) else address
        status = self._orig_status or self.status or '000'
        if isinstance(status, bytes):
            status = status.decode('latin-1')
        requestline = self.requestline or ''
        if not requestline.isprintable():
            # A refused request may carry control bytes: never into the log raw.
            requestline = repr(requestline)[1:-1]
        return '%s - - [%s] "%s" %s %s %s' % (
            address or '-', now, requestline, status.split()[0], length, delta)

    def process_result(self):
        """Write the application's result iterable, then end the body."""
        result = self.result
        if (type(result) in (list, tuple) and len(result) > 1 and not self.headers_sent
                and self.code not in (304, 204) and sum(map(len, result)) <= 1 << 20):
            # All the blocks are at hand: send them with the headers at once.
            data = b''.join(result)
            if data:
                self.write(data)
        else:
            for data in result:
                if data:
                    self.write(data)
        if self.status and not self.headers_sent:
            self.write(b'')
        if self.response_use_chunked and self.command != 'HEAD':
            self._sendall(b'0\r\n\r\n')

    def run_application(self):
        """Call the application and write its result."""
        assert self.result is None
        try:
            self.result = self.application(self.environ, self.start_response)
            self.process_result()
            if not self.headers_sent:
                self._no_start_response()
        finally:
            close = getattr(self.result, 'close', None)
            try:
                if close is not None:
                    close()
            finally:
                close = None
                self.result = None

    def _no_start_response(self):
        # Nothing was sent (gevent sends nothing either): end the
        # connection rather than leave the client waiting.
        self.close_connection = True
        self.log_error('The application did not call start_response()')

    def _finish_request_body(self):
        # After the response: make sure the next request starts where this
        # body ends, or close the connection.
        inp = self.wsgi_input
        if inp is None:
            return
        if self._raw_input:
            if self.code != 101:
                self.close_connection = True
            return
        if self.close_connection or inp._finished():
            return
        if self._expect_continue and inp._awaiting_continue():
            self.close_connection = True
            return
        if not inp._discard(self.max_discard):
            self.close_connection = True

    def handle_one_response(self):
        """Run the application for the parsed request and send its response."""
        self.time_start = time.time()
        self.status = None
        self.headers_sent = False
        self.result = None
        self.response_use_chunked = False
        self.connection_upgraded = False
        self.response_length = 0
        self._provided_connection = None
        try:
            try:
                self.run_application()
            finally:
                self._finish_body_or_close()
        except BaseException as ex:  # noqa: BLE001 -- reported, answered with 500
            self._response_failed(ex)
        finally:
            self.time_finish = time.time()
            self.log_request()

    def _finish_body_or_close(self):
        # After the application: the rest of the body is read, or the
        # connection will close; invalid framing is raised.
        try:
            self._finish_request_body()
        except _InvalidClientInput:
            raise
        except OSError:
            self.close_connection = True

    def _response_failed(self, ex):
        # The answer to an error of the application or of the body, called
        # while *ex* is being handled: 400/413 for invalid input, nothing
        # for a client that left, else handle_error (500).
        if isinstance(ex, _InvalidClientInput):
            self._handle_client_error(ex)
            self.close_connection = True
            self._send_error_response_if_possible(ex.status if ex.status in _ERRORS else 400)
        elif isinstance(ex, OSError) and ex.args and ex.args[0] in self.ignored_socket_errors:
            self.close_connection = True
        else:
            self.handle_error(type(ex), ex, ex.__traceback__)

    def _send_error_response_if_possible(self, error_code):
        if self.response_length:
            self.close_connection = True
            return
        status, headers, body = _ERRORS[error_code]
        try:
            self.start_response(status, list(headers))
            self.write(body)
        except OSError:
            pass
        self.close_connection = True

    def _log_error(self, t, v, tb):
        if not issubclass(t, GreenletExit):
            context = self.environ
            if not isinstance(context, self.server.secure_environ_class):
                context = self.server.secure_environ_class(context or {})
            self.server.loop.handle_error(context, t, v, tb)

    def handle_error(self, t, v, tb):
        """An unexpected error in the application: report it, answer 500."""
        self._log_error(t, v, tb)
        t = v = tb = None
        self._send_error_response_if_possible(500)
        if self.headers_sent:
            self.close_connection = True

    def _handle_client_error(self, ex):
        """Log a refused request; return the ``(status, response)`` to send."""
        if not isinstance(ex, (ValueError, _InvalidClientInput)):
            self._print_unexpected_exc()
        status = getattr(ex, 'status', 400)
        if status not in _REFUSALS:
            status = 400
        if isinstance(ex, _InvalidClientRequest):
            self.log_error('(from %s) %s', self.client_address, ex.formatted_message)
        else:
            self.log_error('Invalid request (from %s): %s', self.client_address,
                           str(ex) or ex.__class__.__name__)
        return (str(status), _REFUSALS[status])

    def _headers(self):
        """``('HTTP_NAME', value)`` for each header the environ carries."""
        headers = self._headers_message
        if headers is None:
            items = self._header_pairs
        elif type(headers) is _HeaderMessage:
            items = headers._headers
        else:
            items = headers.items()
        for name, value in items:
            key = _ENV_KEYS.get(name) or _env_key(name)
            if key is not _DROPPED:
                yield key, value

    def get_environ(self):
        """A new WSGI environ for the parsed request (server environ + request)."""
        env = self.server.get_environ()
        env['REQUEST_METHOD'] = self.command
        env['SCRIPT_NAME'] = ''
        path, _, query = self.path.partition('?')
        env['PATH_INFO'] = _unquote_latin1(path)
        env['QUERY_STRING'] = query
        headers = self._headers_message
        if headers is None:
            content_type = self._content_type
            length = self._content_length_text
        else:
            content_type = headers.get('content-type')
            length = headers.get('content-length')
        if content_type is not None:
            env['CONTENT_TYPE'] = content_type
        if length:
            env['CONTENT_LENGTH'] = length
        env['SERVER_PROTOCOL'] = self.request_version
        address = self.client_address
        if isinstance(address, tuple):
            env['REMOTE_ADDR'] = str(address[0])
            env['REMOTE_PORT'] = str(address[1])
        if headers is None and type(self)._headers is WSGIHandler._headers:
            items = ((_ENV_KEYS.get(name) or _env_key(name), value)
                     for name, value in self._header_pairs)
        else:
            items = self._headers()
        for key, value in items:
            if key is _DROPPED:
                continue
            if key in env:
                env[key] += ('; ' if 'COOKIE' in key else ',') + value
            else:
                env[key] = value

        sock = self.socket if self._expect_continue else None
        inp = self.wsgi_input = Input(self.rfile, self.content_length, socket=sock,
                                      chunked_input=self._chunked)
        inp.max_size = self.max_body_size
        upgrade = self._connection_upgrade_requested()
        self._raw_input = upgrade
        if upgrade:
            # The application may keep the connection (websockets): no
            # server timeout on its reads.
            self.socket.settimeout(None)
        env['wsgi.input'] = self.rfile if upgrade else inp
        # gevent's flag: wsgi.input ends by itself at the end of the body.
        env['wsgi.input_terminated'] = not upgrade
        if self._environ_hook is not None:
            self._environ_hook(env)
        return env

    #: A method ``(environ)`` that get_environ calls last (None: none): where
    #: gevent_c's own subclasses add keys, so that the C path, which builds
    #: the environ itself, calls it too. Not part of gevent's API.
    _environ_hook = None


# The steps the C path (``_http.serve``) takes itself: a handler class
# overriding any of them is served by the Python methods alone.
_C_PATH_STEPS = (
    'handle_one_request', 'read_requestline', 'read_request', '_wait_for_request',
    '_respond', '_check_http_version', '_accept_request_line', '_frame_request',
    '_set_headers', 'headers', '_connection_upgrade_requested', 'handle_one_response',
    'run_application', 'process_result', 'start_response', 'write', '_write_with_headers',
    'finalize_headers', '_sendall', '_finish_request_body',
)


# The handler attributes the C path reads and writes.
_C_PATH_ATTRIBUTES = (
    'environ', 'status', '_orig_status', 'code', 'response_headers', 'command', 'path',
    'request_version', 'wsgi_input', 'time_start', 'time_finish', 'requestline',
    'response_length', '_header_pairs', '_headers_message', 'content_length', '_chunked',
    '_expect_continue', '_content_type', '_content_length_text', '_upgrade',
    'close_connection', '_raw_input', 'application', 'headers_sent', 'result',
    'response_use_chunked', 'connection_upgraded', '_provided_connection', 'provided_date',
    'provided_content_length',
)


def _fast_path_flags(cls):
    """``(c_environ, c_log, plain_attributes)`` for handler class *cls*, None if its requests
    cannot take the C path. Decided at the class's first connection, against
    WSGIHandler's methods as defined here: a step patched on WSGIHandler
    itself (instrumentation) before then sends its requests down the
    Python path."""
    try:
        return cls.__dict__['_c_path_flags']
    except KeyError:
        pass
    flags = _decide_fast_path(cls)
    cls._c_path_flags = flags
    return flags


def _decide_fast_path(cls):
    if _http is None or not hasattr(_http, 'serve'):
        return None
    for name in _C_PATH_STEPS:
        if getattr(cls, name, None) is not _ORIGINAL_STEPS[name]:
            return None
    # 0: call get_environ; 1: build it in C; 2: in C, then _environ_hook
    c_environ = 0
    if (cls.get_environ is _ORIGINAL_STEPS['get_environ']
            and cls._headers is _ORIGINAL_STEPS['_headers']):
        c_environ = 1 if cls._environ_hook is None else 2
    # No property or other data descriptor among the attributes the C
    # path sets: it writes them into the instance's __dict__ directly.
    plain = not any(hasattr(type(getattr(cls, name, None)), '__set__')
                    for name in _C_PATH_ATTRIBUTES)
    return (c_environ, cls.log_request is _ORIGINAL_STEPS['log_request'], plain)


# WSGIHandler's own methods, as defined here (not as possibly patched since).
_ORIGINAL_STEPS = {name: WSGIHandler.__dict__[name]
                   for name in _C_PATH_STEPS + ('get_environ', '_headers', 'log_request')}


class _NoopLog:
    # Swallows everything; just enough of a file for the WSGI validator.

    def write(self, *args, **kwargs):
        return None

    def flush(self):
        pass

    def writelines(self, *args, **kwargs):
        pass


class LoggingLogAdapter:
    """Makes a :class:`logging.Logger` usable as the server's ``log``/``error_log``.

    ``write(msg)`` logs *msg* (without its trailing newline) at *level*
    (default INFO); other attributes are the logger's (read, set and
    deleted on it).
    """

    __slots__ = ('_logger', '_level')

    def __init__(self, logger, level=20):
        self._logger = logger
        self._level = level

    def write(self, msg):
        if msg and msg.endswith('\n'):
            msg = msg[:-1]
        self._logger.log(self._level, msg)

    def flush(self):
        """Nothing to flush (file API)."""

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._logger, name)

    def __setattr__(self, name, value):
        if name in LoggingLogAdapter.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._logger, name, value)

    def __delattr__(self, name):
        delattr(self._logger, name)


class Environ(dict):
    """A dict for WSGI environs; copies keep the class, pickles are plain dicts."""

    __slots__ = ()

    def copy(self):
        return self.__class__(self)

    def iteritems(self):
        return self.items()

    def __reduce_ex__(self, proto):
        return (dict, (), None, None, iter(self.items()))


class SecureEnviron(Environ):
    """An environ whose repr hides its values (cookies, authorization...).

    ``repr()`` shows ``<pywsgi.SecureEnviron dict (keys: N) at ID>``. Set
    ``secure_repr = False`` on an instance to print it as a dict, or
    ``whitelist_keys`` to a container of keys whose values may be shown
    (others print as ``<MASKED>``; hidden entirely when
    ``print_masked_keys`` is false). Class defaults: ``default_secure_repr``,
    ``default_whitelist_keys``, ``default_print_masked_keys``.
    """

    default_secure_repr = True
    default_whitelist_keys = ()
    default_print_masked_keys = True

    __slots__ = ('secure_repr', 'whitelist_keys', 'print_masked_keys')

    def __getattr__(self, name):
        if name in SecureEnviron.__slots__:
            return getattr(type(self), 'default_' + name)
        raise AttributeError(name)

    def __repr__(self):
        if not self.secure_repr:
            return Environ.__repr__(self)
        whitelist = self.whitelist_keys
        if not whitelist:
            return '<pywsgi.SecureEnviron dict (keys: %d) at %s>' % (len(self), id(self))
        print_masked = self.print_masked_keys
        shown = {key: (self[key] if key in whitelist else '<MASKED>')
                 for key in self if key in whitelist or print_masked}
        text = repr(shown)
        if not print_masked and len(shown) != len(self):
            text = text[:-1] + ', (hidden keys: %d)}' % (len(self) - len(shown))
        return text

    __str__ = __repr__


class WSGISecureEnviron(SecureEnviron):
    """A SecureEnviron showing only REMOTE_ADDR, REMOTE_PORT and HTTP_HOST."""

    default_whitelist_keys = ('REMOTE_ADDR', 'REMOTE_PORT', 'HTTP_HOST')
    default_print_masked_keys = False


if _http is not None and hasattr(_http, '_setup'):
    _http._setup(Input, _NoopLog, WSGIHandler.start_response, getcurrent)


def _make_log(log, level=20):
    if log == 'default':
        return sys.stderr
    if log is None:
        return _NoopLog()
    if not hasattr(log, 'write') and hasattr(log, 'log'):
        return LoggingLogAdapter(log, level)
    return log


class WSGIServer(StreamServer):
    """A WSGI server (HTTP/1.0 and 1.1, TLS with the StreamServer arguments).

    ``WSGIServer(listener, application=None, backlog=None, spawn='default',
    log='default', error_log='default', handler_class=None, environ=None,
    **ssl_args)``. *log* receives one access line per request (default
    sys.stderr; None: no access log; a :class:`logging.Logger` is wrapped
    in :class:`LoggingLogAdapter`); *error_log* likewise receives errors
    and is ``wsgi.errors``. *environ* adds keys to every request's environ.
    *handler_class* (default :class:`WSGIHandler`) serves each connection.
    *max_accept* (an addition to gevent's arguments) sets
    :attr:`~gevent_c.baseserver.BaseServer.max_accept`. Accepted sockets get
    TCP_NODELAY.
    """

    handler_class = WSGIHandler
    log = None
    error_log = None
    environ_class = dict
    secure_environ_class = WSGISecureEnviron

    base_env = {'GATEWAY_INTERFACE': 'CGI/1.1',
                'SERVER_SOFTWARE': 'gevent_c/%d.%d Python/%d.%d' % (
                    gevent_c.version_info[:2] + sys.version_info[:2]),
                'SCRIPT_NAME': '',
                'wsgi.version': (1, 0),
                'wsgi.multithread': False,
                'wsgi.multiprocess': False,
                'wsgi.run_once': False}

    def __init__(self, listener, application=None, backlog=None, spawn='default',
                 log='default', error_log='default', handler_class=None, environ=None,
                 **ssl_args):
        if 'handle' in ssl_args:
            import warnings
            warnings.warn("Passing 'handle' kwarg to WSGIServer is deprecated. "
                          'Did you mean application?', DeprecationWarning, stacklevel=2)
        self._idle_handlers = set()
        max_accept = ssl_args.pop('max_accept', None)
        StreamServer.__init__(self, listener, backlog=backlog, spawn=spawn, **ssl_args)
        if application is not None:
            self.application = application
        if handler_class is not None:
            self.handler_class = handler_class
        self.log = _make_log(log)
        self.error_log = _make_log(error_log, 40)
        self.set_environ(environ)
        self.set_max_accept()
        if max_accept is not None:
            if not isinstance(max_accept, int) or max_accept < 1:
                self.close()
                raise ValueError('max_accept must be positive int: %r' % (max_accept,))
            self.max_accept = max_accept

    def set_environ(self, environ=None):
        """Rebuild the base environ from base_env, the TLS state and *environ*."""
        if environ is not None:
            self.environ = environ
        update = getattr(self, 'environ', None)
        self.environ = self.environ_class(self.base_env)
        self.environ['wsgi.url_scheme'] = 'https' if self.ssl_enabled else 'http'
        if update is not None:
            self.environ.update(update)
        if self.environ.get('wsgi.errors') is None:
            self.environ['wsgi.errors'] = self.error_log

    def set_max_accept(self):
        """Accept one connection per wake-up when several processes share the listener."""
        if self.environ.get('wsgi.multiprocess'):
            self.max_accept = 1

    def get_environ(self):
        """A copy of the base environ for one request."""
        return self.environ_class(self.environ)

    def init_socket(self):
        StreamServer.init_socket(self)
        self.update_environ()

    def update_environ(self):
        """Fill SERVER_NAME and SERVER_PORT from the bound address."""
        address = self.address
        if isinstance(address, tuple):
            if 'SERVER_NAME' not in self.environ:
                from gevent_c import socket as gsocket
                try:
                    name = gsocket.getfqdn(address[0])
                except OSError:
                    name = str(address[0])
                self.environ['SERVER_NAME'] = name
            self.environ.setdefault('SERVER_PORT', str(address[1]))
        else:
            self.environ.setdefault('SERVER_NAME', '')
            self.environ.setdefault('SERVER_PORT', '')

    def do_read(self):
        args = StreamServer.do_read(self)
        if args is not None and self.family != _socket.AF_UNIX:
            try:
                # Responses go out as soon as they are written (no Nagle
                # delay waiting for the client's delayed ACK).
                args[0].setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            except OSError:
                pass
        return args

    def _close_idle_connections(self):
        # Handlers waiting for a next request on a kept-alive connection.
        idle = list(self._idle_handlers)
        self._idle_handlers.clear()
        for glet in idle:
            kill = getattr(glet, 'kill', None)
            if kill is not None:
                kill(block=False)
            else:
                _kill_raw(glet)

    def close(self):
        StreamServer.close(self)
        if getattr(self, '_idle_handlers', None):
            self._close_idle_connections()

    def handle(self, sock, address):
        """Serve one connection with a new handler_class instance."""
        handler = self.handler_class(sock, address, self)
        handler.handle()

    def wrap_socket_and_handle(self, client_socket, address):
        """TLS servers' handler: the handshake gets the handler's header_timeout.

        A client that never completes it (or fails it) is closed with one
        line in error_log, not a traceback.
        """
        settimeout = getattr(client_socket, 'settimeout', None)
        if settimeout is not None:
            settimeout(self.handler_class.header_timeout)
        try:
            ssl_socket = self.wrap_socket(client_socket, **self.ssl_args)
        except (OSError, ValueError) as ex:
            try:
                self.error_log.write('%s: TLS handshake with %s failed: %s\n'
                                     % (self, address, ex))
            except Exception:  # noqa: BLE001 -- a log line must not raise
                pass
            return None
        with ssl_socket:
            return self.handle(ssl_socket, address)


def _main():
    # Provisional command line: python -m gevent_c.pywsgi module:app [-b :8080]
    import argparse
    import importlib
    parser = argparse.ArgumentParser()
    parser.add_argument('app', help='dotted name of the WSGI application, module:callable')
    parser.add_argument('-b', '--bind', default=':8080', help='the address to bind')
    args = parser.parse_args()
    module_name, app_name = args.app.split(':')
    app = getattr(importlib.import_module(module_name), app_name)
    WSGIServer(args.bind, app).serve_forever()


if __name__ == '__main__':
    _main()
