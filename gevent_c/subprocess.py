"""``subprocess`` whose waiting and pipe I/O block only the calling greenlet.

:class:`Popen` is a subclass of the stdlib's ``subprocess.Popen``: process
creation, argument handling and error reporting are the stdlib's own. What
changes:

- the parent's ends of the pipes (``stdin``, ``stdout``, ``stderr``) are
  non-blocking fds wrapped in the usual ``io`` buffered/text layers over a
  raw file that waits on an io watcher when the kernel would block;
- ``wait(timeout)`` / ``poll()`` use gevent_c's child watching (see
  :mod:`gevent_c.os`) instead of a blocking ``waitpid`` or a sleep loop;
- ``communicate(input, timeout)`` feeds stdin and drains stdout/stderr in
  greenlets; after ``TimeoutExpired`` a later ``communicate()`` resumes
  where it stopped, as with the stdlib.

:func:`call`, :func:`check_call`, :func:`check_output`, :func:`run`,
:func:`getoutput` and :func:`getstatusoutput` are rewritten over this Popen
with the stdlib's signatures; everything else (``PIPE``,
``CalledProcessError``, ``TimeoutExpired``, ``CompletedProcess``...) is the
stdlib's object. Creating a process still blocks the hub briefly: the stdlib
waits for ``exec`` to succeed or fail.
"""
import errno as _errno
import functools as _functools
import io as _io
import os as _os
import subprocess as _subprocess
import sys as _sys
import time as _time

from gevent_c._stdlib import copy_names
from gevent_c import os as _gos
from gevent_c._hub_local import get_hub
from gevent_c.exceptions import ConcurrentObjectUseError
from gevent_c.fileobject import FileObject  # noqa: F401 -- gevent.subprocess has it
from gevent_c.greenlet import Greenlet
from gevent_c.greenlet import joinall
from gevent_c.hub import cancel_wait_ex

__implements__ = ['Popen', 'call', 'check_call', 'check_output', 'run',
                  'getoutput', 'getstatusoutput']
__extensions__ = []

PIPE = _subprocess.PIPE
STDOUT = _subprocess.STDOUT
DEVNULL = _subprocess.DEVNULL
TimeoutExpired = _subprocess.TimeoutExpired
CalledProcessError = _subprocess.CalledProcessError
CompletedProcess = _subprocess.CompletedProcess

_CHUNK = 256 * 1024
# Bound now: once monkey-patched, subprocess.Popen is the class below.
_StdPopen = _subprocess.Popen
# The stdlib's _internal_poll takes its waitpid as an argument: _waitpid up
# to 3.12, the _del_safe namespace of os functions from 3.13 on.
if '_del_safe' in _StdPopen._internal_poll.__code__.co_varnames:
    class _DelSafe(_subprocess._del_safe):
        waitpid = staticmethod(_gos.waitpid)
    _POLL_WAITPID = {'_del_safe': _DelSafe}
else:
    _POLL_WAITPID = {'_waitpid': _gos.waitpid}


class _CooperativePipe(_io.RawIOBase):
    """A raw, non-blocking pipe end whose reads and writes wait on the loop.

    ``write`` writes everything (a blocking pipe would) before returning.
    Closing it wakes a greenlet blocked on it with EBADF.
    """

    def __init__(self, fd, mode):
        _io.RawIOBase.__init__(self)
        self._fd = fd
        self._mode = mode
        self._watcher = None
        self._hub = None
        self._nowait = False  # True: readinto answers None instead of waiting
        self._closing = False  # close() of a layer above has begun
        _os.set_blocking(fd, False)

    @property
    def name(self):
        return self._fd

    @property
    def mode(self):
        return self._mode + 'b'

    def fileno(self):
        if self.closed:
            raise ValueError('I/O operation on closed file')
        return self._fd

    def readable(self):
        return self._mode == 'r'

    def writable(self):
        return self._mode == 'w'

    def isatty(self):
        return False

    def _wait(self):
        hub = get_hub()
        watcher = self._watcher
        if watcher is None or self._hub is not hub:
            if watcher is not None:
                watcher.close()
            watcher = self._watcher = hub.loop.io(self._fd, 1 if self._mode == 'r' else 2)
            self._hub = hub
        if watcher.callback is not None:
            raise ConcurrentObjectUseError('This pipe is already used by another greenlet')
        hub.wait(watcher)

    def readinto(self, buffer):
        if self._mode != 'r':
            raise _io.UnsupportedOperation('not readable')
        while True:
            try:
                return _os.readv(self.fileno(), [buffer])
            except BlockingIOError:
                if self._nowait:
                    return None
            self._wait()

    def readall(self):
        chunks = []
        while True:
            data = self.read(_CHUNK)
            if not data:
                return b''.join(chunks)
            chunks.append(data)

    def write(self, data):
        if self._mode != 'w':
            raise _io.UnsupportedOperation('not writable')
        view = memoryview(data).cast('B')
        total = len(view)
        written = 0
        while written < total:
            try:
                written += _os.write(self.fileno(), view[written:])
            except BlockingIOError:
                self._wait()
        return total

    def _interrupt(self):
        """Wake a greenlet waiting on this pipe with EBADF and let it unwind.

        Called before a buffered layer over this pipe closes: the waiting
        greenlet holds that layer's lock until it leaves.
        """
        watcher = self._watcher
        if watcher is None or self.closed:
            return
        self._closing = True
        from gevent_c.hub import sleep
        for _ in range(100):  # a waiter that retries keeps getting EBADF
            if watcher.callback is None:
                return
            self._hub.cancel_wait(watcher, cancel_wait_ex)
            sleep(0)

    def close(self):
        if self.closed:
            return
        watcher, self._watcher = self._watcher, None
        try:
            if watcher is not None:
                self._hub.cancel_wait(watcher, cancel_wait_ex, True)
        finally:
            _io.RawIOBase.close(self)
            _os.close(self._fd)


class _PipeReader(_io.BufferedReader):
    """BufferedReader whose close() first wakes a greenlet blocked reading."""

    def close(self):
        if not self.closed:
            self.raw._interrupt()
        _io.BufferedReader.close(self)


class _PipeWriter(_io.BufferedWriter):
    """BufferedWriter whose close() first wakes a greenlet blocked writing."""

    def close(self):
        if not self.closed:
            self.raw._interrupt()
        _io.BufferedWriter.close(self)


class _PipeText(_io.TextIOWrapper):
    """TextIOWrapper whose close() first wakes a greenlet blocked on the pipe."""

    def close(self):
        if not self.closed:
            raw = getattr(self.buffer, 'raw', self.buffer)
            raw._interrupt()
        _io.TextIOWrapper.close(self)


def _cooperative(stream, mode, bufsize):
    """Replace stdlib *stream* over a pipe with the same layers over a cooperative pipe."""
    if stream is None:
        return None
    text = isinstance(stream, _io.TextIOWrapper)
    # The stdlib file owns its fd: take a duplicate, then let it close.
    fd = _os.dup(stream.fileno())
    encoding = errors = None
    line_buffering = False
    if text:
        encoding, errors = stream.encoding, stream.errors
        line_buffering = stream.line_buffering
    try:
        stream.close()
    except OSError:
        pass
    raw = _CooperativePipe(fd, mode)
    if bufsize == 0 and not text:
        binary = raw
    else:
        size = bufsize if bufsize > 1 else _io.DEFAULT_BUFFER_SIZE
        binary = (_PipeReader if mode == 'r' else _PipeWriter)(raw, size)
    if not text:
        return binary
    if mode == 'w':
        return _PipeText(binary, encoding=encoding, errors=errors,
                         write_through=True, line_buffering=line_buffering)
    return _PipeText(binary, encoding=encoding, errors=errors)


def _binary(stream):
    return stream.buffer if isinstance(stream, _io.TextIOWrapper) else stream


def _raw(stream):
    """The _CooperativePipe under *stream* (text, buffered or raw)."""
    binary = _binary(stream)
    return getattr(binary, 'raw', binary)


def _drain(stream, chunks):
    """Read *stream* to EOF into *chunks* (bytes), then close it.

    Reads the raw pipe, as the stdlib reads the fd, so no buffered object's
    lock is held while this greenlet waits: another greenlet (Popen.__exit__,
    or the caller after TimeoutExpired) can then close the stream, which
    wakes this one with EBADF, instead of getting "reentrant call".
    """
    binary = _binary(stream)
    raw = _raw(stream)
    try:
        if binary is not raw and not binary.closed:
            # What an earlier read left in the buffer comes first; peek()
            # must not wait (the buffer's lock would be held meanwhile).
            raw._nowait = True
            try:
                pending = binary.peek(1)
            finally:
                raw._nowait = False
            if pending:
                chunks.append(binary.read(len(pending)))
        read = raw.read
        while True:
            data = read(_CHUNK)
            if not data:
                break
            chunks.append(data)
    except (OSError, ValueError):
        pass  # closed under us (Popen.__exit__, kill): what we have is the output
    finally:
        try:
            stream.close()
        except OSError:
            pass


def _feed(stream, data):
    """Write *data* to *stream* and close it, ignoring a child that stopped reading.

    *stream* is flushed already; *data* goes to the raw pipe (see _drain).
    """
    try:
        if data:
            _raw(stream).write(data)
        stream.close()
    except BrokenPipeError:
        pass
    except ValueError:
        if not stream.closed:
            raise  # closed under us (Popen.__exit__): nothing more to send
    except OSError as exc:
        if exc.errno == _errno.EBADF and (stream.closed or _raw(stream)._closing):
            pass  # closed in another greenlet while we waited to write
        elif exc.errno != _errno.EINVAL:
            raise
    finally:
        if not stream.closed:
            try:
                stream.close()
            except OSError:
                pass


def _child_gets_blocking(stream):
    """A descriptor (or file object) the caller gives the child as a standard
    stream is put back in blocking mode, as gevent does: programs do not
    expect EAGAIN on their stdin. (The mode belongs to the open file, which
    the child shares.)"""
    if stream is None or isinstance(stream, bool) or stream in (PIPE, DEVNULL, STDOUT):
        return
    try:
        fd = stream if isinstance(stream, int) else stream.fileno()
        if fd >= 0 and not _os.get_blocking(fd):
            _os.set_blocking(fd, True)
    except (AttributeError, OSError, ValueError, _io.UnsupportedOperation):
        pass  # not a descriptor: the stdlib reports what is wrong with it


class Popen(_StdPopen):
    """``subprocess.Popen`` with cooperative pipes, ``wait`` and ``communicate``.

    Same constructor and methods as the stdlib class; ``wait(timeout)`` and
    ``communicate(input, timeout)`` raise ``TimeoutExpired`` like it. The
    object should be used from the thread that created it.
    """

    @_functools.wraps(_StdPopen.__init__)  # same signature as the stdlib's
    def __init__(self, args, bufsize=-1, *more, **kwargs):
        for name in ('stdin', 'stdout', 'stderr'):
            _child_gets_blocking(kwargs.get(name))
        self._exit_status = None
        self._exit_handle = None
        self._comm = None
        _StdPopen.__init__(self, args, bufsize, *more, **kwargs)
        if bufsize is None or (self.text_mode and bufsize == 1):
            bufsize = -1
        self.stdin = _cooperative(self.stdin, 'w', bufsize)
        self.stdout = _cooperative(self.stdout, 'r', bufsize)
        self.stderr = _cooperative(self.stderr, 'r', bufsize)
        if self.returncode is None:
            self._exit_handle = _gos._on_exit(self.pid, self._on_exit)

    # -- links: gevent_c.wait([popen]) and iwait wait for the exit ---------

    _links = ()
    _keepalive = None

    def rawlink(self, callback):
        """Call ``callback(self)`` from the hub once the process has exited."""
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        if self.returncode is not None:
            get_hub().loop.run_callback(callback, self)
            return
        if not self._links:
            self._links = []
            # a referenced child watcher keeps the loop running until the exit
            # (the status itself comes through _on_exit)
            keepalive = get_hub().loop.child(self.pid, ref=True)
            keepalive.start(keepalive.stop)
            self._keepalive = keepalive
        self._links.append(callback)

    def unlink(self, callback):
        if callback in self._links:
            self._links.remove(callback)

    def _handle_exitstatus(self, *args, **kwargs):
        _StdPopen._handle_exitstatus(self, *args, **kwargs)
        links, self._links = self._links, ()
        keepalive, self._keepalive = self._keepalive, None
        if keepalive is not None:
            keepalive.stop()
        if links:
            run_callback = get_hub().loop.run_callback
            for callback in links:
                run_callback(callback, self)

    def _on_exit(self, pid, status):
        self._exit_handle = None
        self._exit_status = status
        if self.returncode is None:
            self._handle_exitstatus(status)

    def _internal_poll(self, _deadstate=None, _waitpid=None, _WNOHANG=None, _ECHILD=None):
        if self.returncode is None and self._exit_status is not None:
            self._handle_exitstatus(self._exit_status)
        if self.returncode is not None:
            return self.returncode
        return _StdPopen._internal_poll(self, _deadstate, **_POLL_WAITPID)

    def _wait(self, timeout):
        if self.returncode is not None:
            return self.returncode
        if self._exit_status is None:
            try:
                found = _gos._wait_exit(self.pid, timeout)
            except ChildProcessError:
                found = ()  # reaped by other code; our callback may have the status
                if self._exit_status is None:
                    handle, self._exit_handle = self._exit_handle, None
                    _gos._cancel_on_exit(self.pid, handle)
            if found is None:
                raise TimeoutExpired(self.args, timeout)
            if found and self.returncode is None:
                self._handle_exitstatus(found[1])
        if self.returncode is None and self._exit_status is not None:
            self._handle_exitstatus(self._exit_status)
        if self.returncode is None:
            self.returncode = 0  # what the stdlib reports when the status is gone
        return self.returncode

    def communicate(self, input=None, timeout=None):
        """The stdlib's communicate, cooperatively; a TimeoutExpired says
        the *timeout* given (the stdlib's says what was left of it when the
        final wait began)."""
        try:
            return _StdPopen.communicate(self, input, timeout)
        except TimeoutExpired as exc:
            if timeout is not None:
                exc.timeout = timeout
            raise

    def _communicate(self, input, endtime, orig_timeout):
        comm = self._comm
        if comm is None:
            comm = self._comm = self._start_communication(input)
        workers, outputs = comm
        remaining = None if endtime is None else max(0.0, endtime - _time.monotonic())
        joinall(workers, timeout=remaining)
        if not all(worker.ready() for worker in workers):
            raise TimeoutExpired(self.args, orig_timeout,
                                 output=self._partial(outputs, 'stdout'),
                                 stderr=self._partial(outputs, 'stderr'))
        for worker in workers:
            if not worker.successful():
                raise worker.exception
        stdout = self._collect(outputs, 'stdout')
        stderr = self._collect(outputs, 'stderr')
        return stdout, stderr

    def _start_communication(self, input):
        stdin = self.stdin
        if stdin is not None and not self._communication_started:
            try:
                stdin.flush()
            except BrokenPipeError:
                pass
            if not input:
                try:
                    stdin.close()
                except BrokenPipeError:
                    pass
        workers = []
        outputs = {}
        if stdin is not None and input and not stdin.closed:
            if self.text_mode and isinstance(input, str):
                input = input.encode(stdin.encoding, stdin.errors)
            workers.append(Greenlet.spawn(_feed, stdin, input))
        for name in ('stdout', 'stderr'):
            stream = getattr(self, name)
            if stream is not None and not stream.closed:
                chunks = outputs[name] = []
                workers.append(Greenlet.spawn(_drain, stream, chunks))
        return workers, outputs

    @staticmethod
    def _partial(outputs, name):
        chunks = outputs.get(name)
        return b''.join(chunks) if chunks else None

    def _collect(self, outputs, name):
        chunks = outputs.get(name)
        if chunks is None:
            return None
        data = b''.join(chunks)
        if self.text_mode:
            stream = getattr(self, name)
            data = self._translate_newlines(data, stream.encoding, stream.errors)
        return data


def call(*popenargs, timeout=None, **kwargs):
    """Run a command, wait for it (up to *timeout*), return its exit code."""
    with Popen(*popenargs, **kwargs) as process:
        try:
            return process.wait(timeout=timeout)
        except BaseException:
            process.kill()
            raise


def check_call(*popenargs, **kwargs):
    """call(), raising CalledProcessError for a non-zero exit code."""
    retcode = call(*popenargs, **kwargs)
    if retcode:
        cmd = kwargs.get('args')
        if cmd is None:
            cmd = popenargs[0]
        raise CalledProcessError(retcode, cmd)
    return 0


def run(*popenargs, input=None, capture_output=False, timeout=None, check=False, **kwargs):
    """Run a command and return a CompletedProcess (the stdlib's contract)."""
    if input is not None:
        if kwargs.get('stdin') is not None:
            raise ValueError('stdin and input arguments may not both be used.')
        kwargs['stdin'] = PIPE
    if capture_output:
        if kwargs.get('stdout') is not None or kwargs.get('stderr') is not None:
            raise ValueError('stdout and stderr arguments may not be used '
                             'with capture_output.')
        kwargs['stdout'] = PIPE
        kwargs['stderr'] = PIPE
    with Popen(*popenargs, **kwargs) as process:
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except TimeoutExpired:
            process.kill()
            process.wait()  # the exception already carries the partial output
            raise
        except BaseException:
            process.kill()
            raise
        retcode = process.poll()
        if check and retcode:
            raise CalledProcessError(retcode, process.args, output=stdout, stderr=stderr)
    return CompletedProcess(process.args, retcode, stdout, stderr)


def check_output(*popenargs, timeout=None, **kwargs):
    """Run a command and return its stdout; CalledProcessError on failure."""
    for keyword in ('stdout', 'check'):
        if keyword in kwargs:
            raise ValueError('%s argument not allowed, it will be overridden.' % keyword)
    if 'input' in kwargs and kwargs['input'] is None:
        # The stdlib treats an explicit input=None as empty input.
        text = (kwargs.get('universal_newlines') or kwargs.get('text')
                or kwargs.get('encoding') or kwargs.get('errors'))
        kwargs['input'] = '' if text else b''
    return run(*popenargs, stdout=PIPE, timeout=timeout, check=True, **kwargs).stdout


def _getstatusoutput(cmd, encoding, errors):
    try:
        data = check_output(cmd, shell=True, text=True, stderr=STDOUT,
                            encoding=encoding, errors=errors)
        exitcode = 0
    except CalledProcessError as exc:
        data = exc.output
        exitcode = exc.returncode
    if data[-1:] == '\n':
        data = data[:-1]
    return exitcode, data


# The stdlib's signatures: encoding and errors are 3.11+.
if _sys.version_info >= (3, 11):
    def getstatusoutput(cmd, *, encoding=None, errors=None):
        """(exit code, output) of *cmd* run in a shell, stderr included."""
        return _getstatusoutput(cmd, encoding, errors)

    def getoutput(cmd, *, encoding=None, errors=None):
        """Output (stdout and stderr) of *cmd* run in a shell."""
        return _getstatusoutput(cmd, encoding, errors)[1]
else:
    def getstatusoutput(cmd):
        """(exit code, output) of *cmd* run in a shell, stderr included."""
        return _getstatusoutput(cmd, None, None)

    def getoutput(cmd):
        """Output (stdout and stderr) of *cmd* run in a shell."""
        return _getstatusoutput(cmd, None, None)[1]


__imports__ = copy_names(_subprocess, globals(), list(_subprocess.__all__) + ['list2cmdline'],
                         exclude=__implements__)
__all__ = __implements__ + [n for n in __imports__ if n in _subprocess.__all__]
