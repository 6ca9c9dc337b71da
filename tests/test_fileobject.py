"""gevent_c.fileobject: FileObjectPosix waits on the hub, FileObjectThread uses the pool."""
import errno
import io
import os

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c
from gevent_c.fileobject import FileObject, FileObjectBlock, FileObjectPosix, FileObjectThread


@pytest.fixture
def pipe():
    r, w = os.pipe()
    fds = [r, w]
    yield r, w
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def test_file_object_is_the_posix_one():
    assert FileObject is FileObjectPosix


def test_posix_read_waits_cooperatively_for_the_writer(pipe):
    r, w = pipe
    reader = FileObjectPosix(r, 'rb')
    order = []

    def writer():
        order.append('writer')
        with FileObjectPosix(w, 'wb') as out:
            out.write(b'first line\nsecond')

    gevent_c.spawn(writer)
    assert reader.readline() == b'first line\n'
    assert order == ['writer']
    assert reader.read() == b'second'
    assert reader.read() == b''
    reader.close()
    assert reader.closed
    with pytest.raises(OSError) as info:
        os.fstat(r)
    assert info.value.errno == errno.EBADF


def test_posix_text_mode_and_iteration(pipe):
    r, w = pipe
    reader = FileObjectPosix(r, 'r', encoding='utf-8')
    writer = FileObjectPosix(w, 'w', encoding='utf-8', newline='\r\n')
    gevent_c.spawn(lambda: (writer.write('caf\u00e9\nb\n'), writer.close()))
    assert list(reader) == ['caf\u00e9\n', 'b\n']
    reader.close()


def test_posix_large_write_through_a_pipe_is_not_lost(pipe):
    r, w = pipe
    payload = os.urandom(3 << 20)
    writer = FileObjectPosix(w, 'wb', bufsize=0)
    reader = FileObjectPosix(r, 'rb')

    def write_all():
        view = memoryview(payload)
        while view:
            n = writer.write(view)
            view = view[n:]
        writer.close()

    g = gevent_c.spawn(write_all)
    assert reader.read() == payload
    g.get()
    reader.close()


def test_posix_close_false_leaves_the_fd_open_and_blocking_again(pipe):
    r, w = pipe
    assert os.get_blocking(r)
    f = FileObjectPosix(r, 'rb', close=False)
    assert not os.get_blocking(r)
    f.close()
    assert os.get_blocking(r)
    os.fstat(r)


def test_posix_wraps_an_object_with_fileno(pipe):
    r, w = pipe
    raw = open(w, 'wb', buffering=0)
    f = FileObjectPosix(raw, 'wb')
    f.write(b'via object')
    f.close()
    assert raw.closed
    assert os.read(r, 100) == b'via object'


def test_posix_close_while_another_greenlet_reads_raises_ebadf(pipe):
    r, w = pipe
    f = FileObjectPosix(r, 'rb', bufsize=0)
    g = gevent_c.spawn(f.read, 10)
    gevent_c.sleep(0.01)
    assert not g.dead
    f.close()
    g.join()
    assert isinstance(g.exception, OSError) and g.exception.errno == errno.EBADF


def test_posix_regular_file_read_write_seek(tmp_path):
    path = tmp_path / 'data'
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT)
    f = FileObjectPosix(fd, 'r+b')
    f.write(b'hello world')
    f.seek(6)
    assert f.read() == b'world'
    assert f.tell() == 11
    f.close()
    assert path.read_bytes() == b'hello world'


@pytest.mark.parametrize('call', [
    lambda fd: FileObjectPosix(fd, 'rb').write(b'x'),
    lambda fd: FileObjectPosix(fd, 'wb').read(),
    lambda fd: FileObjectPosix(fd, 'rz'),
    lambda fd: FileObjectPosix(fd, 'rb', encoding='utf-8'),
], ids=['write-on-reader', 'read-on-writer', 'bad-mode', 'binary-encoding'])
def test_posix_errors_match_io_open(call, pipe):
    r, _ = pipe

    def signature(opener):
        fd = os.dup(r)
        try:
            call_fd = opener(fd)
        except BaseException as exc:  # noqa: B036
            try:
                os.close(fd)
            except OSError:
                pass
            return type(exc), str(exc)
        return call_fd

    def ours(fd):
        return call(fd)

    def ref(fd):
        mapping = {FileObjectPosix: lambda fd, mode='rb', bufsize=-1, encoding=None: io.open(
            fd, mode, bufsize, encoding)}
        return call.__code__ and _with_io_open(call, fd, mapping)

    assert signature(ours) == signature(ref)


def _with_io_open(call, fd, mapping):
    saved = call.__globals__['FileObjectPosix']
    call.__globals__['FileObjectPosix'] = mapping[FileObjectPosix]
    try:
        return call(fd)
    finally:
        call.__globals__['FileObjectPosix'] = saved


def test_thread_file_object_reads_and_writes_in_the_pool(tmp_path):
    path = tmp_path / 'thread.txt'
    with FileObjectThread(str(path), 'w') as f:
        f.write('one\n')
        f.writelines(['two\n', 'three\n'])
    f = FileObjectThread(str(path), 'r')
    assert f.readline() == 'one\n'
    assert list(f) == ['two\n', 'three\n']
    f.close()
    assert f.closed


def test_thread_file_object_does_not_block_the_hub_on_a_pipe(pipe):
    r, w = pipe
    f = FileObjectThread(r, 'rb', bufsize=0)
    ticks = []

    def ticker():
        for i in range(3):
            ticks.append(i)
            gevent_c.sleep(0.001)
        os.write(w, b'late')

    gevent_c.spawn(ticker)
    assert f.read(4) == b'late'
    assert ticks == [0, 1, 2]
    f.close()


def test_thread_file_object_close_false_only_flushes(tmp_path):
    raw = open(tmp_path / 'keep', 'wb')
    f = FileObjectThread(raw, 'wb', close=False)
    f.write(b'kept')
    f.close()
    assert not raw.closed
    raw.close()
    assert (tmp_path / 'keep').read_bytes() == b'kept'


def test_block_file_object_is_a_plain_file(tmp_path):
    with FileObjectBlock(str(tmp_path / 'b'), 'wb') as f:
        f.write(b'plain')
    assert (tmp_path / 'b').read_bytes() == b'plain'


@pytest.mark.parametrize('cls', [FileObjectPosix, FileObjectThread, FileObjectBlock])
def test_unbuffered_text_mode_works_as_in_gevent(cls, tmp_path):
    # io.open refuses buffering=0 in text mode; gevent puts the text layer
    # directly over the raw file instead.
    path = str(tmp_path / 'data')
    opened = (lambda mode: os.open(path, os.O_RDWR | os.O_CREAT)) if cls is FileObjectPosix \
        else (lambda mode: path)
    with cls(opened('w'), 'w', bufsize=0, encoding='utf-8') as f:
        f.write('h\u00e9llo\nx')
    with cls(opened('r'), 'r', bufsize=0, encoding='utf-8') as f:
        assert list(f) == ['h\u00e9llo\n', 'x']


@pytest.mark.parametrize('cls', [FileObjectPosix, FileObjectThread, FileObjectBlock])
def test_universal_mode_U_reads_as_in_gevent(cls):
    # io.open refuses 'U' since Python 3.11; gevent takes it as read mode.
    r, w = os.pipe()
    os.write(w, b'a\r\nb\rc')
    os.close(w)
    with cls(r, 'rU') as f:  # closes r
        assert f.read() == 'a\nb\nc'
    for mode in ('wU', 'r+U', 'aU', 'xU'):
        with pytest.raises(ValueError, match='mode U cannot be combined'):
            cls(0, mode)


def test_posix_opens_a_path_as_gevent_does(tmp_path):
    path = tmp_path / 'data'
    with FileObjectPosix(str(path), 'w') as f:
        f.write('one\ntwo\n')
    with FileObjectPosix(path, 'rb') as f:  # os.PathLike
        assert f.readline() == b'one\n'
    assert FileObjectPosix(str(path).encode(), 'r').read() == 'one\ntwo\n'
    with pytest.raises(FileNotFoundError):
        FileObjectPosix(str(tmp_path / 'missing'), 'rb')
    with pytest.raises(ValueError, match='invalid mode'):
        FileObjectPosix(str(tmp_path / 'created'), 'wz')
    assert not (tmp_path / 'created').exists()


def test_posix_keeps_the_wrapped_file_object_alive(tmp_path):
    # Nothing but the bound method refers to the FileObjectPosix: the file
    # object owning the descriptor must not be collected (and closed) meanwhile.
    path = tmp_path / 'data'
    path.write_bytes(b'payload')
    assert FileObjectPosix(open(str(path), 'rb')).read() == b'payload'
    assert FileObjectPosix(str(path), 'rb').read() == b'payload'


@pytest.mark.parametrize('call, exc', [
    (lambda: FileObjectPosix(-1, 'rb'), ValueError),
    (lambda: FileObjectPosix(1.5, 'rb'), TypeError),
    (lambda: FileObjectPosix(None, 'rb'), TypeError),
    (lambda: FileObjectThread(None, 'rb'), TypeError),
    (lambda: FileObjectBlock(1.5, 'rb'), TypeError),
], ids=['posix-negative', 'posix-float', 'posix-none', 'thread-none', 'block-float'])
def test_bad_file_arguments_raise_like_gevent(call, exc):
    with pytest.raises(exc):
        call()


@pytest.mark.parametrize('mode', ['rb', 'r'])
def test_posix_close_while_another_greenlet_reads_buffered(mode):
    # The reader is inside the BufferedReader: close() lets it unwind (EBADF)
    # instead of failing with "reentrant call inside BufferedReader".
    r, w = os.pipe()
    f = FileObjectPosix(r, mode)
    g = gevent_c.spawn(f.readline)
    gevent_c.sleep(0.01)
    assert not g.dead
    f.close()
    assert f.closed
    g.join()
    assert isinstance(g.exception, OSError) and g.exception.errno == errno.EBADF
    os.close(w)


def test_posix_close_while_another_greenlet_writes_buffered():
    r, w = os.pipe()
    f = FileObjectPosix(w, 'wb')
    g = gevent_c.spawn(lambda: f.write(b'x' * (4 << 20)))  # more than the pipe holds
    gevent_c.sleep(0.01)
    assert not g.dead
    f.close()
    g.join()
    assert isinstance(g.exception, OSError) and g.exception.errno == errno.EBADF
    os.close(r)


def test_closed_file_object_thread_raises_file_object_closed_quietly(tmp_path, capfd):
    from gevent_c.fileobject import FileObjectThread, FileObjectClosed
    path = tmp_path / 'data'
    path.write_bytes(b'line\n')
    for close in (True, False):
        raw = open(path, 'rb')
        f = FileObjectThread(raw, close=close)
        f.close()
        assert f.closed
        for call in (f.read, f.readline, lambda: f.write(b'x'), lambda: list(f)):
            with pytest.raises(FileObjectClosed) as info:
                call()
            assert isinstance(info.value, OSError) and info.value.errno == errno.EBADF
        assert raw.closed is close
        raw.close()
        f.close()  # again: nothing
    assert 'Traceback' not in capfd.readouterr().err
