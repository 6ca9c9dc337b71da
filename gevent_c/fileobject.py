"""File objects that do not block the hub.

- :class:`FileObjectPosix` puts the descriptor in non-blocking mode and reads
  and writes it directly, waiting on io watchers when the kernel would block
  (pipes, ttys, sockets; regular files never block this way). Text and binary
  modes, buffering and newline handling are ``io.open``'s.
- :class:`FileObjectThread` runs each blocking operation of an ordinary file
  object in the hub's thread pool (any file, including regular files on slow
  disks).
- :class:`FileObjectBlock` is the plain, blocking file object (for symmetry).
- :data:`FileObject` is ``gevent_c.config.fileobject`` when this module is
  first imported: :class:`FileObjectPosix` unless configured (``GEVENT_FILE``).

    r, w = os.pipe()
    reader = FileObjectPosix(r, 'r')          # text mode, closes r when closed
    gevent_c.spawn(lambda: FileObjectPosix(w, 'wb').write(b'hi\\n'))
    reader.readline()                          # 'hi\\n', other greenlets ran meanwhile
"""
import errno as _errno
import io as _io
import os as _os

from gevent_c._config import config as _config
from gevent_c._greenlet import getcurrent
from gevent_c._hub_local import get_hub
from gevent_c.exceptions import ConcurrentObjectUseError, InvalidSwitchError
from gevent_c.hub import _raisable, cancel_wait_ex

__all__ = ['FileObjectPosix', 'FileObjectThread', 'FileObjectBlock', 'FileObject']


class FileObjectClosed(OSError):
    """An operation on a FileObjectThread after its close() (EBADF)."""

    def __init__(self):
        OSError.__init__(self, _errno.EBADF, 'Bad file descriptor (FileObject was closed)')


def _without_universal(mode):
    """*mode* with gevent's legacy 'U' (universal newlines, read) turned into 'r'.

    io.open refuses 'U' since Python 3.11; gevent accepts it for reading.
    """
    if not isinstance(mode, str):
        raise TypeError('invalid mode: %r' % (mode,))
    if 'U' not in mode:
        return mode
    if set(mode) & set('xwa+'):
        raise ValueError("mode U cannot be combined with 'x', 'w', 'a', or '+'")
    if mode.count('U') > 1:
        raise ValueError('invalid mode: %r' % (mode,))
    return mode.replace('U', '' if 'r' in mode else 'r')


def _parse_mode(mode):
    mode = _without_universal(mode)
    modes = set(mode)
    if modes - set('arwxb+t') or len(mode) > len(modes):
        raise ValueError('invalid mode: %r' % (mode,))
    if sum(c in modes for c in 'rwax') != 1:
        raise ValueError('Must have exactly one of create/read/write/append mode')
    if 'b' in modes and 't' in modes:
        raise ValueError("can't have text and binary mode at once")
    readable = 'r' in modes or '+' in modes
    writable = bool(modes & set('wax+'))
    return readable, writable, 'b' in modes


class GreenFileDescriptorIO(_io.RawIOBase):
    """Raw I/O on a non-blocking descriptor, waiting on the hub when it would block."""

    def __init__(self, fileno, mode='r', closefd=True):
        _io.RawIOBase.__init__(self)
        readable, writable, _ = _parse_mode(mode.replace('b', '') or 'r')
        self._fileno = fileno
        self._readable = readable
        self._writable = writable
        self._closefd = closefd
        self._was_blocking = _os.get_blocking(fileno)
        if self._was_blocking:
            _os.set_blocking(fileno, False)
        self.hub = get_hub()
        self._events = [None, None]   # read watcher, write watcher
        self._waiters = [None, None]  # greenlet waiting on each
        self.name = fileno
        self.mode = mode

    def readable(self):
        self._checkClosed()
        return self._readable

    def writable(self):
        self._checkClosed()
        return self._writable

    def seekable(self):
        self._checkClosed()
        try:
            _os.lseek(self._fileno, 0, _os.SEEK_CUR)
        except OSError:
            return False
        return True

    def fileno(self):
        self._checkClosed()
        return self._fileno

    def isatty(self):
        self._checkClosed()
        return _os.isatty(self._fileno)

    def _wait(self, index):
        if self._waiters[index] is not None:
            raise ConcurrentObjectUseError(
                'This file object is already used by another greenlet: %r' % (self._waiters[index],))
        watcher = self._events[index]
        if watcher is None:
            watcher = self._events[index] = self.hub.loop.io(self._fileno, index + 1)
        glet = getcurrent()
        self._waiters[index] = glet
        watcher.start(glet.switch, watcher)
        try:
            result = self.hub.switch()
        finally:
            watcher.stop()
            self._waiters[index] = None
        if result is not watcher:
            raise InvalidSwitchError('Invalid switch into %s: got %r' % (glet, result))

    def readinto(self, buffer):
        if not self._readable:
            raise _io.UnsupportedOperation('File not open for reading')
        with memoryview(buffer) as view, view.cast('B') as target:
            while True:
                try:
                    data = _os.read(self._fileno, len(target))
                    break
                except BlockingIOError:
                    self._wait(0)
            n = len(data)
            target[:n] = data
        return n

    def readall(self):
        if not self._readable:
            raise _io.UnsupportedOperation('File not open for reading')
        chunks = []
        while True:
            try:
                data = _os.read(self._fileno, 65536)
            except BlockingIOError:
                self._wait(0)
                continue
            if not data:
                return b''.join(chunks)
            chunks.append(data)

    def write(self, data):
        if not self._writable:
            raise _io.UnsupportedOperation('File not open for writing')
        while True:
            try:
                return _os.write(self._fileno, data)
            except BlockingIOError:
                self._wait(1)

    def seek(self, offset, whence=_os.SEEK_SET):
        self._checkClosed()
        return _os.lseek(self._fileno, offset, whence)

    def tell(self):
        return self.seek(0, _os.SEEK_CUR)

    def truncate(self, size=None):
        self._checkClosed()
        if size is None:
            size = self.tell()
        _os.ftruncate(self._fileno, size)
        return size

    def close(self):
        if self.closed:
            return
        try:
            _io.RawIOBase.close(self)
        finally:
            self._drop_events()
            fd = self._fileno
            if self._closefd:
                loop = self.hub.loop
                if loop is not None:
                    loop.closing_fd(fd)
                _os.close(fd)
            elif self._was_blocking:
                _os.set_blocking(fd, True)

    def _drop_events(self):
        loop = self.hub.loop
        for index in (0, 1):
            watcher = self._events[index]
            self._events[index] = None
            if watcher is None or loop is None:
                continue
            watcher.stop()
            glet = self._waiters[index]
            if glet is not None:
                loop.run_callback(self._throw_if_waiting, index, glet)

    def _throw_if_waiting(self, index, glet):
        if self._waiters[index] is glet:
            glet.throw(_raisable(cancel_wait_ex))


class _FileObjectBase:
    """Delegates everything to the wrapped io object ``self.io``."""

    def __getattr__(self, name):
        if name == 'io':
            raise AttributeError(name)
        return getattr(self.io, name)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    @property
    def closed(self):
        return self.io.closed

    def __repr__(self):
        return '<%s at %#x io=%r>' % (type(self).__name__, id(self), self.io)


def _buffered(raw, mode, buffering, encoding, errors, newline):
    """Wrap *raw* in buffers and a text layer the way io.open does."""
    readable, writable, binary = _parse_mode(mode)
    if binary:
        for value, what in ((encoding, 'an encoding'), (errors, 'an errors'), (newline, 'a newline')):
            if value is not None:
                raise ValueError("binary mode doesn't take %s argument" % (what,))
    if buffering is None:
        buffering = -1
    line_buffering = buffering == 1
    if buffering == 0:
        if binary:
            return raw
        # As gevent (io.open refuses it): the text layer directly over the raw file.
        text = _io.TextIOWrapper(raw, encoding, errors, newline, False)
        text.mode = mode
        return text
    if buffering < 0 or buffering == 1:
        buffering = _io.DEFAULT_BUFFER_SIZE
    if readable and writable:
        buffer = (_io.BufferedRandom(raw, buffering) if raw.seekable()
                  else _io.BufferedRWPair(raw, raw, buffering))
    elif writable:
        buffer = _io.BufferedWriter(raw, buffering)
    else:
        buffer = _io.BufferedReader(raw, buffering)
    if binary:
        return buffer
    text = _io.TextIOWrapper(buffer, encoding, errors, newline, line_buffering)
    text.mode = mode
    return text


def _open(fobj, mode, buffering, encoding, errors, newline, closefd):
    """io.open, also taking gevent's 'U' and unbuffered text modes."""
    mode = _without_universal(mode)
    if buffering is None:
        buffering = -1
    if buffering != 0 or 'b' in mode:
        return _io.open(fobj, mode, buffering, encoding, errors, newline, closefd)
    _parse_mode(mode)
    raw = _io.open(fobj, mode.replace('t', '') + 'b', 0, closefd=closefd)
    try:
        return _buffered(raw, mode, 0, encoding, errors, newline)
    except BaseException:
        raw.close()
        raise


def _open_or_wrap(fobj, mode, bufsize, close, encoding, errors, newline, buffering,
                  closefd):
    """The io object of FileObjectThread/FileObjectBlock: *fobj* itself if it
    is a file object, else a path or descriptor opened (else TypeError), as
    gevent does."""
    if hasattr(fobj, 'fileno'):
        return fobj
    return _open(fobj, mode, bufsize if buffering is None else buffering, encoding,
                 errors, newline, close if closefd is None else closefd)


class FileObjectPosix(_FileObjectBase):
    """A file object on a descriptor that waits on the hub instead of blocking.

    ``FileObjectPosix(fobj, mode='rb', bufsize=-1, close=True, encoding=None,
    errors=None, newline=None)``: *fobj* is a descriptor, an object with
    ``fileno()`` or a path (opened here, as in gevent). The descriptor is made non-blocking; when *close* is false it
    is left open (and put back in blocking mode if it was) on close().
    """

    def __init__(self, fobj, mode='rb', bufsize=-1, close=True, encoding=None, errors=None,
                 newline=None, buffering=None, closefd=None):
        if buffering is None:
            buffering = bufsize
        if closefd is None:
            closefd = close
        _parse_mode(mode)
        raw_mode = ''.join(c for c in _without_universal(mode) if c in 'rwax+')
        if isinstance(fobj, (str, bytes)) or hasattr(fobj, '__fspath__'):
            # A path, as in gevent: opened here, closed with this object.
            fobj = _io.FileIO(fobj, raw_mode, closefd)
            closefd = True
        elif not isinstance(fobj, int) and not hasattr(fobj, 'fileno'):
            raise TypeError('expected str, bytes, os.PathLike object, an integer '
                            'or an object with fileno(), not %s' % (type(fobj).__name__,))
        if isinstance(fobj, int):
            if fobj < 0:
                raise ValueError('file descriptor cannot be a negative integer (%d)' % (fobj,))
            fileno = fobj
            self._fobj = None
        else:
            fileno = fobj.fileno()
            if not isinstance(fileno, int):
                raise TypeError('fileno() must return an int, not %s' % (type(fileno).__name__,))
            self._fobj = fobj
        # A wrapped object keeps its descriptor: it is closed through the object.
        self.fileio = GreenFileDescriptorIO(fileno, raw_mode, closefd=closefd and self._fobj is None)
        # The layers returned by attribute access (f.read, f.io) keep the
        # wrapped object, owner of the descriptor, alive with them.
        self.fileio._fobj = self._fobj
        self._close = closefd
        try:
            self.io = _buffered(self.fileio, mode, buffering, encoding, errors, newline)
        except BaseException:
            self.fileio.close()
            raise

    def close(self):
        """Flush and close; closes the descriptor (or wrapped object) if *close* was true.

        Greenlets blocked reading or writing this file get EBADF; they are
        let unwind first, so the buffered layers they were inside can close.
        """
        fileio = self.fileio
        if self._waiting_others(fileio):
            fileio.close()  # wakes them with EBADF
            from gevent_c.hub import sleep
            while self._waiting_others(fileio):
                sleep(0)
        try:
            self.io.close()
        finally:
            self.fileio.close()
            if self._close and self._fobj is not None:
                fobj, self._fobj = self._fobj, None
                fobj.close()


    @staticmethod
    def _waiting_others(fileio):
        current = getcurrent()
        return any(glet is not None and glet is not current for glet in fileio._waiters)


_THREAD_METHODS = ('read', 'readinto', 'readline', 'readlines', 'write', 'writelines', 'flush',
                   'seek', 'tell', 'truncate', 'read1', 'readinto1', 'readall', 'peek')


class FileObjectThread(_FileObjectBase):
    """A file object whose blocking calls run in the hub's thread pool.

    ``FileObjectThread(fobj, mode='rb', bufsize=-1, close=True, threadpool=None,
    lock=True, encoding=None, errors=None, newline=None)``: *fobj* is a path,
    a descriptor (opened with ``io.open``) or an open file object. *lock* True
    serialises the calls of several greenlets (a Semaphore); False does not;
    any other value is used as the lock.
    """

    def __init__(self, fobj, mode='rb', bufsize=-1, close=True, threadpool=None, lock=True,
                 encoding=None, errors=None, newline=None, buffering=None, closefd=None):
        self.io = _open_or_wrap(fobj, mode, bufsize, close, encoding, errors, newline,
                                buffering, closefd)
        self._close = close
        self.threadpool = threadpool if threadpool is not None else get_hub().threadpool
        if lock is True:
            from gevent_c.lock import Semaphore
            lock = Semaphore()
        elif lock is False or lock is None:
            from gevent_c.lock import DummySemaphore
            lock = DummySemaphore()
        self.lock = lock
        for name in _THREAD_METHODS:
            method = getattr(self.io, name, None)
            if method is not None:
                setattr(self, name, self._wrap(method))

    _closed = False

    @property
    def closed(self):
        return self._closed or self.io.closed

    def _wrap(self, method):
        def call(*args, **kwargs):
            if self._closed:  # refused here, never sent to the pool
                raise FileObjectClosed()
            with self.lock:
                return self.threadpool.apply(method, args, kwargs)
        call.__name__ = method.__name__
        call.__doc__ = method.__doc__
        return call

    def close(self):
        """Flush (in the pool) and close the file if *close* was true; from
        then on every operation raises FileObjectClosed."""
        io = self.io
        if self._closed or io.closed:
            self._closed = True
            return
        self._closed = True
        with self.lock:
            if self._close:
                self.threadpool.apply(io.close)
            else:
                self.threadpool.apply(io.flush)


class FileObjectBlock(_FileObjectBase):
    """The plain blocking file object, with the same constructor."""

    def __init__(self, fobj, mode='rb', bufsize=-1, close=True, encoding=None, errors=None,
                 newline=None, buffering=None, closefd=None):
        self.io = _open_or_wrap(fobj, mode, bufsize, close, encoding, errors, newline,
                                buffering, closefd)

    def close(self):
        self.io.close()


FileObject = _config.fileobject
