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

import os
import socket
import sys

from .read_ahead import ReadAhead

_MICROPYTHON = sys.implementation.name == "micropython"
BUFFER = 4096

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
        self._wbuf = None  # what write() is writing: _wbuf[_woff:_woff + _wn]
        self._woff = 0
        self._wn = 0

    def _fill(self):
        # (Each try in a function of its own: see mctp/ipc/client.py on frame sizes.)
        try:
            return self._recv()
        except _Again:
            return 0
        except OSError:  # the peer has gone (a reset)
            self.closed = True
        return 0

    def _recv(self):
        if _MICROPYTHON:
            n = self.sock.readinto(self._buf)
        else:
            n = self.sock.recv_into(self._buf)
        if n is None:  # (MicroPython: nothing yet)
            return 0
        if n == 0:
            self.closed = True
        return n

    def write(self, buf, off=0, n=None):
        """buf[off:off + n] as far as it goes without blocking; how many bytes were taken."""
        if self.closed:
            return 0
        self._wbuf = buf
        self._woff = off
        self._wn = len(buf) - off if n is None else n
        n = self._guarded_send()
        self._wbuf = None
        return n

    def _guarded_send(self):
        try:
            return self._send()
        except _Again:  # no room now
            return 0
        except OSError:  # the peer has gone (a broken pipe, a reset)
            self.closed = True
        return 0

    def _send(self):
        if _MICROPYTHON:
            return self.sock.write(self._wbuf, self._woff, self._wn) or 0
        return self.sock.send(memoryview(self._wbuf)[self._woff : self._woff + self._wn]) or 0

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.closed = True
        self.sock.close()


def _unix_address(path):
    if not _MICROPYTHON:
        return path
    # The unix port takes a struct sockaddr_un as bytes: AF_UNIX (1, little-endian), the path.
    return b"\x01\x00" + path.encode() + b"\x00"


def _tcp_address(host, port):
    return socket.getaddrinfo(host, port)[0][-1]


def _connected(sock, address):
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return SocketStream(sock)


def connect_unix(path):
    """A SocketStream connected to the UNIX socket at `path`."""
    return _connected(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), _unix_address(path))


def connect_tcp(port, host="127.0.0.1"):
    """A SocketStream connected to TCP `host`:`port`."""
    return _connected(socket.socket(socket.AF_INET, socket.SOCK_STREAM), _tcp_address(host, port))


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
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(_unix_address(path))
    except OSError:
        _remove(path)  # refused: a dead server's
    finally:
        probe.close()


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class Listener:
    """A listening socket whose connections go to a StreamService, accepted without
    blocking. Make one with Listener.unix(path) or Listener.tcp(port)."""

    def __init__(self, sock, path=None):
        sock.setblocking(False)
        self.sock = sock
        self.path = path  # a UNIX socket's path, removed by close()
        self.accepted = 0

    @classmethod
    def unix(cls, path, backlog=4):
        _clear_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(_unix_address(path))
        sock.listen(backlog)
        return cls(sock, path)

    @classmethod
    def tcp(cls, port, host="127.0.0.1", backlog=4):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(_tcp_address(host, port))
        sock.listen(backlog)
        return cls(sock)

    def accept_into(self, service):
        """Every connection waiting, added to `service` (each a SocketStream); how many."""
        count = 0
        while True:
            conn = self._accept()
            if conn is None:
                return count
            service.add(SocketStream(conn))
            self.accepted += 1
            count += 1

    def _accept(self):
        try:
            return self.sock.accept()[0]
        except OSError:
            return None

    def close(self):
        self.sock.close()
        if self.path is not None:
            _remove(self.path)
