# A serial line in memory, for tests, benchmarks and simulations: SerialPipe joins two ends that
# have the methods of machine.UART that SerialLink uses (write(buf, off, n), any(),
# readinto(buf, n), irq(handler, trigger, hard)), so the link runs on them unchanged. What one
# end writes waits in the other's receive buffer, a preallocated ring of `capacity` bytes like a
# UART's rxbuf: bytes that do not fit are lost and counted (`overruns`).
#
# An end with an IRQ_RXIDLE handler has it called at the end of every write to it: the line
# goes idle after the bytes, which is when a UART raises IRQ_RXIDLE. The handler then runs
# inside the writer's write, as a board's IRQ runs on top of whatever its CPU was doing.
#
# Faults (SerialFaults, set as an end's `faults`) change what that end writes: a bit flipped,
# bytes lost (a flag, the end of a frame), noise after a frame. Without faults nothing allocates.

from .._compat import const
from ..bufcopy import copy_into

IRQ_RXIDLE = 0x40  # (rp2's value; SerialLink reads it from the end; not a const: see PipeEnd)
CAPACITY = const(4096)  # a 1 KiB message whatever its escaping (at most 16 x 142 bytes)


class SerialPipe:
    """Two ends, `a` and `b`, of one serial line."""

    def __init__(self, capacity=CAPACITY):
        self.a = PipeEnd(capacity)
        self.b = PipeEnd(capacity)
        self.a.peer = self.b
        self.b.peer = self.a


class PipeEnd:
    IRQ_RXIDLE = IRQ_RXIDLE

    def __init__(self, capacity=CAPACITY):
        self.peer = None
        self._buf = bytearray(capacity)
        self._head = 0  # the oldest byte waiting
        self._tail = 0  # where the next byte goes
        self._count = 0  # bytes waiting
        self._handler = None
        self.overruns = 0  # bytes lost because the receive buffer was full
        self.written = 0  # bytes this end wrote
        # For tests: a write takes at most `accept` bytes (0: all of them), as a non-blocking
        # stream that is nearly full would; `faults` changes what this end writes.
        self.accept = 0
        self.faults = None

    def irq(self, handler=None, trigger=0, hard=False):
        self._handler = handler if trigger & IRQ_RXIDLE else None

    def any(self):
        return self._count

    def readinto(self, buf, n=None):
        """Up to `n` (default: len(buf)) of the bytes waiting, into buf; how many."""
        if n is None or n > len(buf):
            n = len(buf)
        n = min(n, self._count)
        first = min(n, len(self._buf) - self._head)  # up to the end of the ring, then from 0
        copy_into(buf, 0, self._buf, self._head, first)
        copy_into(buf, first, self._buf, 0, n - first)
        self._head = (self._head + n) % len(self._buf)
        self._count -= n
        return n

    def write(self, buf, off=0, n=None):
        """buf[off:off + n] (default: to the end) to the other end; how many bytes were taken.
        (MicroPython's two-argument form, write(buf, n), is not supported.)"""
        if n is None:
            n = len(buf) - off
        if self.accept and n > self.accept:
            n = self.accept
        if self.faults is None:
            self.peer._receive(buf, off, n)
        else:
            self.faults.apply(self.peer, buf, off, n)
        self.written += n
        self.peer._line_idle()
        return n

    def _receive(self, buf, off, n):
        if n > len(self._buf) - self._count:
            self.overruns += n - (len(self._buf) - self._count)
            n = len(self._buf) - self._count
        first = self._put(buf, off, n)
        self._put(buf, off + first, n - first)  # what did not fit before the ring's end

    def _put(self, buf, off, n):
        # As much of buf[off:off + n] as fits before the ring's end; how much.
        n = min(n, len(self._buf) - self._tail)
        copy_into(self._buf, self._tail, buf, off, n)
        self._tail = (self._tail + n) % len(self._buf)
        self._count += n
        return n

    def _line_idle(self):
        if self._handler is not None and self._count:
            self._handler(self)


class SerialFaults:
    """Faults on what one end writes, each at one write (0 for the first): SerialLink writes a
    frame in one write whenever the stream takes it whole, as a pipe end does, so a write is a
    frame. Offsets below 0 count from the write's end (-1: its last byte, the closing flag)."""

    def __init__(self):
        self.writes = 0  # writes seen so far
        self._faults = []  # (write, kind, offset, argument)

    def flip(self, write, offset, mask=0x01):
        """The byte at `offset` with the bits of `mask` flipped."""
        self._faults.append((write, "flip", offset, mask))

    def lose(self, write, offset, count=1):
        """`count` bytes from `offset` on are lost (lose(w, 0): the opening flag)."""
        self._faults.append((write, "lose", offset, count))

    def cut(self, write, keep):
        """Only the first `keep` bytes arrive: the frame is cut short, closing flag and all."""
        self._faults.append((write, "lose", keep, 0xFFFF))

    def noise(self, write, data):
        """`data` arrives after the write's bytes (between two frames)."""
        self._faults.append((write, "noise", 0, bytes(data)))

    def apply(self, dest, buf, off, n):
        # buf[off:off + n], changed by the faults set for this write, to `dest`.
        data = bytearray(buf[off : off + n])
        for write, kind, offset, argument in self._faults:
            if write != self.writes:
                continue
            at = offset % n if offset < 0 else offset
            if kind == "flip" and at < len(data):
                data[at] ^= argument
            elif kind == "lose":
                data = data[:at] + data[at + argument :]
            elif kind == "noise":
                data += argument
        self.writes += 1
        dest._receive(data, 0, len(data))
