# The core's interfaces. Below it, what a binding (I2C, serial, loopback) offers: one small
# interface, so the core knows no medium and a binding knows nothing above the core, and the
# receive ring the I2C and serial bindings share. Above it, what the core calls up into: the
# sink (the server) and the control handler (the control responder).

from array import array

from .._compat import const

# What core.receive() tells a link about a packet.
RX_DROPPED = const(0)  # dropped (and counted by the core)
RX_TAKEN = const(1)  # taken into a message
RX_FULL = const(2)  # taken, and the message it completed filled its owner's queue

RING_END = const(0xFF)  # RingLink._gaps's mark after its last position


class Link:
    """A medium the core sends packets on and receives packets from.

    Send: the core writes a packet (4-byte header and payload) into `tx_buf` at `tx_off`, where
    the binding leaves room for its own framing, then calls `transmit(length, phys)`, which
    frames and sends it, and returns False (never raises) when the medium refused it;
    `describe_failure()` then says why in words.

    Receive: `poll(core)` hands the packets received since the last poll to
    `core.receive(link, buf, off, length, phys)`, where `phys` is the sender's physical
    address, until one completes a message that fills its owner's queue (RX_FULL): the rest
    wait for the next poll, after the application has read, instead of being refused for
    want of room (flow control, for a binding that can hold packets back).
    """

    mtu = 64  # payload bytes per packet (the transport header comes on top)
    tx_buf = None
    tx_off = 0

    def transmit(self, length, phys):
        raise NotImplementedError

    def describe_failure(self):
        """Why the last transmit failed, in words (for error messages; it may allocate)."""
        return "the link refused the packet"

    def poll(self, core):
        raise NotImplementedError


class RingLink(Link):
    """A Link whose received frames wait in a ring of preallocated buffers until poll().

    The receiving side (an IRQ handler or the byte reader) writes one frame at a time into
    `_frame` and queues it; poll() hands the queued frames to the core in order. The two sides
    share these fields, which the bindings' receive functions and their viper twins
    (mctp.i2c.ring, mctp.serial.deframer) read and write by name:

      _ring     `size` bytearrays of `frame_size` bytes, one frame each
      _lengths  array("H") of `size`: the length of the frame queued at each position
      _gaps     bytearray of `size` + 1: 1 at a position whose frame came after a drop, 0
                at any other; RING_END after the last, where a reader's position wraps (a
                byte read through a pointer, where len(_ring) costs viper code a call)
      _gap      1 when a frame was dropped since the last one queued
      _w        the position being written; moved on by the receiving side only
      _r        the next position to hand over; moved on by poll only
      _frame    _ring[_w], the frame being written
      _pos      how much of it is written (each binding says what else it means)
      _wake     None, or an object whose set() is called when a frame is queued

    One position always stays empty, so `_w == _r` means empty and `_w + 1 == _r` (modulo
    `size`) full: each index has one writer, and neither side needs a lock. The hand-over:
    poll gives the frame at `_r` to `core.receive` (after `core.abort_link(self)` when its gap
    mark is set: the unfinished messages it might continue have lost packets), moves `_r` on,
    and stops at RX_FULL. Each binding writes that loop itself, with where the packet sits in
    its frames and whose address it is as constants: on a Cortex-M0 an attribute read per
    packet costs about 1% of the receive path and a call level 240 bytes of C stack.
    """

    def __init__(self, size, frame_size, wake):
        self._wake = wake
        self._ring = [bytearray(frame_size) for _ in range(size)]
        self._lengths = array("H", bytes(2 * size))
        self._gaps = bytearray(size + 1)
        self._gaps[size] = RING_END
        self._gap = 0
        self._w = 0
        self._r = 0
        self._frame = self._ring[0]
        self._pos = 0

    def pending(self):
        """Frames waiting in the ring."""
        return (self._w - self._r) % len(self._ring)

    def _queue(self, length):
        # The frame just written (`length` bytes) into the ring; False when the ring is full.
        # (The pure-Python receive functions' queueing; the viper twins have it inline.)
        w = self._w + 1
        if w == len(self._ring):
            w = 0
        if w == self._r:
            return False
        self._lengths[self._w] = length
        self._gaps[self._w] = self._gap
        self._gap = 0
        self._w = w
        self._frame = self._ring[w]
        if self._wake is not None:
            self._wake.set()
        return True


class Sink:
    """What the core hands complete messages to: the layer above (mctp.server.Server), set
    as `core.sink`. Both calls come from inside `core.receive`, so neither may raise or block.
    """

    def accept_request(self, msg_type):
        """The owner (0..255) that takes requests (TO=1) of `msg_type`, or -1: nobody listens
        (the core counts `no_listener` and drops the packet)."""
        raise NotImplementedError

    def deliver(self, slot):
        """Take the complete message in `slot` for `slot.owner`; False when that owner is gone
        or its queue is full (the core discards it, counted `queue_full`). Whoever reads it
        calls `core.release(slot)`."""
        raise NotImplementedError


class ControlHandler:
    """What answers control requests (message type 0): mctp.control.ControlResponder, set as
    `core.control`. With one, the core routes every control request to it instead of the
    sink."""

    def handle(self, slot):
        """Answer the complete request in `slot` (with `core.respond`, back the way it came),
        then `core.release(slot)`. Never raises."""
        raise NotImplementedError

    def quick_reply(self, buf, off, length):
        """Offered first a single-packet control request the core's fast path would put into
        the free control slot (buf[off:off + length], its header checked; core._rx_link and
        _rx_phys say where it came from): True when it answered it from the packet, the
        request then taken and counted, no slot used; False to have it in the slot, for
        handle(). Never raises."""
        return False
