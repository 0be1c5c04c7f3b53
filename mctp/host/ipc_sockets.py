# Sockets as mctp.ipc streams (a host's: boards have no sockets), on CPython and the
# MicroPython unix port: SocketStream has the stream methods StreamClient and StreamService
# use (write(buf, off, n), any(), readinto(buf, n), none blocking) and a `closed` attribute
# that becomes True when the peer has gone (end of stream, a reset, a broken pipe), which is
# how StreamService sees a client disconnect and StreamClient a dead server. Listener accepts
# connections on a UNIX socket path or a TCP port without blocking and hands each to a
# StreamService.
#
#     service = StreamService(server)                   # the server's process
#     listener = Listener.unix("/tmp/mctp.sock")        # or Listener.tcp(port)
#     while True:
#         server.poll(); listener.accept_into(service); service.poll()
#
#     client = StreamClient(connect_unix("/tmp/mctp.sock"))   # another process
#     stack = Stack(client)
#
# What arrives is read into a buffer of the stream's own (as a UART's driver fills its rxbuf),
# so any() says how many bytes readinto() can take. A host's: it allocates per write on CPython.
#
# Limits: a connection beyond the service's max_clients is accepted and closed at once; one
# whose buffers cannot be allocated is closed too (the service counts both); when accept()
# itself fails (no free descriptor: EMFILE) the error is counted and the listener rests for
# BACKOFF_MS (paused_ms() says how long, for a loop that watches it), so it never spins. A
# connect waits `timeout_ms` at most (a server whose backlog is full accepts nobody).

import errno
import os
import select
import socket
import sys

from .._compat import sleep_ms, ticks_add, ticks_diff, ticks_ms
from ..ipc.client import TIMEOUT_MS
from ..ipc.framing import FRAME_OVERHEAD
from ..wire import MAX_REQUEST_SIZE
from .i2c_udp import bind
from .read_ahead import ReadAhead

_MICROPYTHON = sys.implementation.name == "micropython"
BUFFER = 4096  # a client's read-ahead (answers of up to 1,044 bytes, taken whole)
# A served connection's, the largest request frame: a 1 KiB request comes in one read from the
# socket and goes straight into the service's deframer (Deframer.read), where a 256-byte
# read-ahead took five reads and a copy through the service's chunk each (788 bytes more a
# connection).
SERVED_BUFFER = MAX_REQUEST_SIZE + FRAME_OVERHEAD
BACKOFF_MS = 250  # after accept() failed, the listener accepts nothing for this long
_EISCONN = getattr(errno, "EISCONN", 106)  # (the unix port's errno has no name for it)
_CONNECT_RETRY_MS = 10  # a full UNIX backlog refuses at once (EAGAIN): tried again this often

# "Nothing now" from a non-blocking socket: CPython raises BlockingIOError, MicroPython's
# readinto and write return None instead. Any other OSError means the peer has gone.
try:
    _Again = BlockingIOError
except NameError:

    class _Again(Exception):
        pass


class SocketStream(ReadAhead):
    def __init__(self, sock, buffer=BUFFER):
        sock.setblocking(False)
        self.sock = sock
        self.source = sock  # what asyncio's poller watches (mctp.aio.watch)
        super().__init__(buffer)
        self.closed = False  # the peer has gone (or close() was called)
        # The socket's read, bound once: MicroPython's readinto answers None for "nothing
        # now", CPython's recv_into raises BlockingIOError.
        self._recv_into = sock.readinto if _MICROPYTHON else sock.recv_into
        self._wbuf = None  # what write() is writing: _wbuf[_woff:_woff + _wn]
        self._woff = 0
        self._wn = 0

    def _fill(self):
        # ([try-apart])
        try:
            n = self._recv_into(self._buf)
        except _Again:
            return 0
        except OSError:  # the peer has gone (a reset)
            self.closed = True
            return 0
        if n == 0:
            self.closed = True
        return n or 0  # (None: MicroPython's nothing yet)

    def write(self, buf, off=0, n=None):
        """buf[off:off + n] as far as it goes without blocking; how many bytes were taken."""
        if self.closed:
            return 0
        self._wbuf = buf
        self._woff = off
        self._wn = len(buf) - off if n is None else n
        n = self._send()
        self._wbuf = None
        return n

    def _send(self):
        # ([try-apart])
        try:
            if _MICROPYTHON:
                return self.sock.write(self._wbuf, self._woff, self._wn) or 0
            return self.sock.send(memoryview(self._wbuf)[self._woff : self._woff + self._wn])
        except _Again:  # no room now
            return 0
        except OSError:  # the peer has gone (a broken pipe, a reset)
            self.closed = True
        return 0

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.closed = True
        self.sock.close()


def _ready(poller):
    # Whether `poller` has an event now, without waiting: MicroPython's ipoll allocates
    # nothing where poll() makes a list each time (a listener is asked on every loop).
    if _MICROPYTHON:
        return any(poller.ipoll(0))
    return bool(poller.poll(0))


def _unix_address(path):
    if not _MICROPYTHON:
        return path
    # The unix port takes a struct sockaddr_un as bytes: AF_UNIX (1, little-endian), the path.
    return b"\x01\x00" + path.encode() + b"\x00"


def _tcp_address(host, port):
    return socket.getaddrinfo(host, port)[0][-1]


def _connected(sock, address, where, timeout_ms):
    # `sock` connected to `address` within timeout_ms, or closed and OSError: the connect's
    # own (ECONNREFUSED, ENOENT, ...), or ETIMEDOUT saying where and how long.
    if not isinstance(timeout_ms, int) or timeout_ms < 1:
        sock.close()
        raise ValueError("timeout_ms must be an int of at least 1, not %r" % (timeout_ms,))
    sock.setblocking(False)
    start = ticks_ms()
    try:
        while True:
            state = _connect_once(sock, address)
            if state is None:
                return SocketStream(sock)
            left = timeout_ms - ticks_diff(ticks_ms(), start)
            if left <= 0:
                raise OSError(
                    errno.ETIMEDOUT,
                    "no connection to %s within %d ms: the server accepts none (its backlog is "
                    "full, or it is stopped)" % (where, timeout_ms),
                )
            if state == errno.EAGAIN:  # a UNIX socket's full backlog: nothing to wait on
                sleep_ms(min(left, _CONNECT_RETRY_MS))
            else:
                _wait_writable(sock, left)
    except BaseException:
        sock.close()
        raise


def _connect_once(sock, address):
    # None once connected; the errno of a connect still to finish (EINPROGRESS, EALREADY: TCP's
    # handshake) or to try again (EAGAIN: a UNIX socket's backlog is full); else OSError.
    try:
        sock.connect(address)
    except OSError as error:
        code = error.errno
        if code == _EISCONN:
            return None
        if code in (errno.EINPROGRESS, errno.EALREADY, errno.EAGAIN):
            return code
        raise
    return None


def _wait_writable(sock, ms):
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    poller.poll(ms)


def connect_unix(path, timeout_ms=TIMEOUT_MS):
    """A SocketStream connected to the UNIX socket at `path`; OSError when it cannot be,
    ETIMEDOUT when the server accepts nobody within `timeout_ms`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    return _connected(sock, _unix_address(path), "unix:" + path, timeout_ms)


def connect_tcp(port, host="127.0.0.1", timeout_ms=TIMEOUT_MS):
    """A SocketStream connected to TCP `host`:`port`; OSError when it cannot be, ETIMEDOUT
    when the server accepts nobody within `timeout_ms`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    return _connected(sock, _tcp_address(host, port), "tcp:%s:%d" % (host, port), timeout_ms)


_S_IFMT = 0o170000
_S_IFSOCK = 0o140000


def _clear_stale(path):
    # A server that was killed leaves its socket file behind, and bind() refuses the path while
    # it is there: remove it when nobody listens on it. A live server's socket, and a path that
    # is not a socket at all, are left alone, for bind() to refuse (EADDRINUSE).
    try:
        mode = os.stat(path)[0]
    except OSError:
        return  # nothing there
    if mode & _S_IFMT != _S_IFSOCK:
        return
    try:
        connect_unix(path).close()
    except OSError as error:
        if error.errno != errno.ETIMEDOUT:  # (a live server whose backlog is full: its path)
            _remove(path)  # refused: a dead server's


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class Listener:
    """A listening socket whose connections go to a StreamService, accepted without
    blocking. Make one with Listener.unix(path) or Listener.tcp(port). `clock` gives
    milliseconds for the back-off (default ticks_ms)."""

    def __init__(self, sock, path=None, clock=None, port=None):
        sock.setblocking(False)
        self.sock = sock
        self.path = path  # a UNIX socket's path, removed by close()
        self.port = port  # a TCP socket's port
        self.clock = ticks_ms if clock is None else clock
        self.accepted = 0  # connections handed to the service
        self._resume = None  # when accepting resumes after accept() failed (None: it does)
        # Whether anybody waits, asked of poll() before accept(): an accept() that finds nobody
        # raises, and the raise and its catch cost ten times the poll (10-15 us against 1).
        self._waiting = None
        if hasattr(sock, "fileno"):  # (a socket; a test's stand-in may have none)
            self._waiting = select.poll()
            self._waiting.register(sock, select.POLLIN)

    def address(self):
        """Where clients connect: unix:PATH, or tcp:PORT with the port bound."""
        if self.path is not None:
            return "unix:" + self.path
        return "tcp:%d" % self.port

    @classmethod
    def unix(cls, path, backlog=4):
        _clear_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(_unix_address(path))
            sock.listen(backlog)
        except OSError:
            sock.close()
            raise
        return cls(sock, path)

    @classmethod
    def tcp(cls, port, host="127.0.0.1", backlog=4):
        """On TCP `host`:`port` (0: a free port, then in `port`)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            port = bind(sock, host, port)
            sock.listen(backlog)
        except OSError:
            sock.close()
            raise
        return cls(sock, port=port)

    def paused_ms(self):
        """How long accept_into() still rests after accept() failed (0: it accepts)."""
        if self._resume is None:
            return 0
        left = ticks_diff(self._resume, self.clock())
        if left > 0:
            return left
        self._resume = None
        return 0

    def accept_into(self, service):
        """Every connection waiting, added to `service` (each a SocketStream); how many were
        added. One beyond the service's max_clients is closed at once (service.refused); one
        that cannot be served (no memory for its buffers) too (service.failed). When accept()
        fails (no free descriptor, ...) the error is counted (service.accept_errors) and
        nothing is accepted for BACKOFF_MS."""
        if self.paused_ms() or (self._waiting is not None and not _ready(self._waiting)):
            return 0
        count = 0
        while True:
            sock = self._accept(service)
            if sock is None:
                return count
            if self._admit(sock, service):
                self.accepted += 1
                count += 1

    def _accept(self, service):
        try:
            return self.sock.accept()[0]
        except Exception as error:  # (MemoryError too: the unix port allocates the socket)
            self._refused(service, error)
        return None

    def _refused(self, service, error):
        # accept() failed: EAGAIN is nobody waiting; anything else (no free descriptor, ...)
        # is counted and rests the listener.
        if getattr(error, "errno", None) != errno.EAGAIN:
            service.accept_errors += 1
            self._resume = ticks_add(self.clock(), BACKOFF_MS)

    def _admit(self, sock, service):
        # True when `sock` is served; else it is closed, never left open.
        try:
            if service.full():
                service.refuse(sock)
                return False
            return service.add(SocketStream(sock, SERVED_BUFFER)) is not None
        except Exception:  # no memory for its buffers, say
            service.failed += 1
            sock.close()
        return False

    def close(self):
        self.sock.close()
        if self.path is not None:
            _remove(self.path)
