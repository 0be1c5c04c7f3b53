# What the host streams (serial_stream's ptys and ttys, ipc_sockets' sockets) share: bytes are
# read ahead into a buffer of the stream's own, as a UART's driver fills its rxbuf, so that
# any() says exactly how many bytes readinto() can take at once. A subclass reads in _fill().

from ..bufcopy import copy_into


class ReadAhead:
    closed = False  # (a stream that sees its peer go sets it: then nothing more is read)

    def __init__(self, size):
        self._buf = bytearray(size)
        self._head = 0  # the bytes not yet taken: _buf[_head:_tail]
        self._tail = 0

    def _fill(self):
        """Read what the stream has into _buf, without blocking; how many bytes."""
        raise NotImplementedError

    def any(self):
        """How many bytes readinto() can take now (0: none arrived)."""
        if self._head == self._tail and not self.closed:
            self._head = 0
            self._tail = self._fill()
        return self._tail - self._head

    def readinto(self, buf, n=None):
        """Up to `n` (default: len(buf)) of the bytes waiting, into buf; how many."""
        if self._head == self._tail:
            self.any()
        if n is None or n > len(buf):
            n = len(buf)
        n = min(n, self._tail - self._head)
        copy_into(buf, 0, self._buf, self._head, n)
        self._head += n
        return n
