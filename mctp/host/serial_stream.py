# A host byte stream as SerialLink sees machine.UART: write(buf, off, n), any() and
# readinto(buf, n), none of which blocks. It wraps
#   - on CPython, a file descriptor (a pty's either end, a tty, a pipe, stdin and stdout) or
#     anything with fileno() (a socket, one end of a socketpair), set non-blocking;
#   - on the MicroPython unix port, a socket (set non-blocking), or a file object made
#     non-blocking some other way: open_tty() does it for a tty or a pty's slave end.
# The unix port cannot create a pty (its os module has no openpty, nor a way to set O_NONBLOCK
# or to call ioctl); it opens one that exists by path (a pty from socat or from CPython, a
# board's /dev/ttyACM1), or talks over a socket: TCP on 127.0.0.1, or a Unix socket, which
# `socat PTY,link=/tmp/mctp0,raw,echo=0 UNIX-LISTEN:/tmp/mctp0.sock` joins to a pty.
#
# What arrives is read into a buffer of the stream's own, as a UART's driver reads its FIFO into
# its rxbuf, so that any() says exactly how many bytes readinto() can take at once.
#
# A host simulation: it allocates per read and per write on CPython, unlike the binding itself.

import os
import socket
import sys
import termios

from .read_ahead import ReadAhead

_MICROPYTHON = sys.implementation.name == "micropython"
if not _MICROPYTHON:
    import tty

BUFFER = 4096


def _fd(source):
    return source if isinstance(source, int) else source.fileno()


class SerialStream(ReadAhead):
    """`source` is read, `sink` (default: `source`) written; see the module's comment for what
    each may be on each interpreter."""

    def __init__(self, source, sink=None, buffer=BUFFER):
        sink = source if sink is None else sink
        self.source = source  # what asyncio's poller watches (mctp.aio.watch)
        super().__init__(buffer)
        self._owned = None  # what close() closes besides the wrappers: what open_tty opened
        if _MICROPYTHON:
            self._reader = source
            self._writer = sink
            for stream in (source, sink):
                if hasattr(stream, "setblocking"):
                    stream.setblocking(False)
        else:
            self._reader = self._unbuffered(source)
            self._writer = self._reader if sink is source else self._unbuffered(sink)
            self._view = memoryview(self._buf)

    @staticmethod
    def _unbuffered(source):
        # CPython: a raw file object over the descriptor, whose readinto and write return None
        # when a non-blocking descriptor has nothing to give or no room.
        fd = _fd(source)
        os.set_blocking(fd, False)
        return open(fd, "r+b", buffering=0, closefd=False)

    @classmethod
    def open_tty(cls, path):
        """A tty or a pty's slave end, by path, in raw mode (8 data bits, no echo, no line
        editing; the line's speed is left as it is)."""
        if _MICROPYTHON:
            stream = open(path, "r+b")
            termios.setraw(stream.fileno())
            # Reads that return at once, with what is there or nothing: VMIN = VTIME = 0, the
            # two numbers in the unix port's control-character list.
            attrs = termios.tcgetattr(stream.fileno())
            cc = attrs[6]
            for i in range(len(cc)):
                if isinstance(cc[i], int):
                    cc[i] = 0
            termios.tcsetattr(stream.fileno(), termios.TCSANOW, attrs)
        else:
            stream = os.open(path, os.O_RDWR | os.O_NOCTTY)
            tty.setraw(stream, termios.TCSANOW)
        opened = cls(stream)
        opened._owned = stream
        return opened

    def _fill(self):
        try:
            if _MICROPYTHON:
                n = self._reader.readinto(self._buf, len(self._buf))
            else:
                n = self._reader.readinto(self._view)
        except OSError:  # a pty whose other end is closed (EIO)
            return 0
        return n or 0

    def write(self, buf, off=0, n=None):
        """buf[off:off + n] (default: to the end), as far as it goes without blocking; how many
        bytes were taken (0: none, the other end is not reading or has gone)."""
        if n is None:
            n = len(buf) - off
        try:
            if _MICROPYTHON:
                return self._writer.write(buf, off, n) or 0
            return self._writer.write(memoryview(buf)[off : off + n]) or 0
        except OSError:  # a peer that has gone (EPIPE, EIO)
            return 0

    def fileno(self):
        """The descriptor read from (for select.poll)."""
        return self._reader.fileno()

    def close(self):
        """Stop using the stream; what open_tty opened is closed, what was given is not."""
        if not _MICROPYTHON:
            self._reader.close()  # (the wrappers only: they do not close the descriptors)
            self._writer.close()
        if isinstance(self._owned, int):
            os.close(self._owned)
        elif self._owned is not None:
            self._owned.close()


def _unix_address(path):
    if not _MICROPYTHON:
        return path
    # The unix port takes a struct sockaddr_un as bytes: AF_UNIX (1, 16 bits in the host's
    # order, little-endian on x86 and ARM), then the path.
    return b"\x01\x00" + path.encode() + b"\x00"


def connect_unix(path):
    """A stream socket connected to the Unix socket at `path` (a serial line a QEMU guest or
    socat offers), on either interpreter."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(_unix_address(path))
    except OSError:
        sock.close()
        raise
    return sock


def socket_pair():
    """Two connected stream sockets: a serial line between two stacks on one host."""
    if not _MICROPYTHON:
        return socket.socketpair()
    # The unix port has no socketpair(): a Unix socket listens on a path only until the other
    # end is connected.
    raw = os.urandom(4)
    path = "/tmp/mctp-serial-%02x%02x%02x%02x.sock" % (raw[0], raw[1], raw[2], raw[3])
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listening.bind(_unix_address(path))
        listening.listen(1)
        one = connect_unix(path)
        other = listening.accept()[0]
    finally:
        listening.close()
        os.remove(path)
    return one, other
