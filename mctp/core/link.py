# What a binding (I2C, serial, loopback) offers the stack core: one small interface, so the core
# knows no medium and a binding knows nothing above the core.

from .._compat import const

# What core.receive() tells a link about a packet.
RX_DROPPED = const(0)  # dropped (and counted by the core)
RX_TAKEN = const(1)  # taken into a message
RX_FULL = const(2)  # taken, and the message it completed filled its owner's queue


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
