# What a binding (I2C, serial, loopback) offers the stack core: one small interface, so the core
# knows no medium and a binding knows nothing above the core.


class Link:
    """A medium the core sends packets on and receives packets from.

    Send: the core writes a packet (4-byte header and payload) into `tx_buf` at `tx_off`, where
    the binding leaves room for its own framing, then calls `transmit(length, phys)`, which
    frames and sends it, and returns False (never raises) when the medium refused it;
    `describe_failure()` then says why in words.

    Receive: `poll(core)` hands every packet received since the last poll to
    `core.receive(link, buf, off, length, phys)`, where `phys` is the sender's physical address.
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
