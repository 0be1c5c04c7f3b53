# A capture a board can take: the packets a stack's links receive and send, kept as records in
# one preallocated bytearray (a ring), and written out later as lines of text, at the REPL or
# into a file on the board's flash, which tools/mctp_trace.py --capture reads (through
# mctp.host.pcap.read_dump) and turns into a pcap file with --write-pcap.
#
# mctp.host.pcap wraps each link's poll and transmit, which puts two frames of C stack under
# every answer: more than a Pico's 8 KiB has room for under a control answer. This adds no
# depth to the packet paths ([c-stack]): it takes over three steps of the core that return
# before the packet goes further, on the core object itself (its class stays as it is), each
# recording the packet and handing it on:
#   core.receive_middle(buf, off, length)  every packet received meets it first: Core.receive
#                                          calls it, and the I2C link's drain for middle packets
#   core._fill_packet(flags, room)         builds each packet the core sends, in the link's
#                                          transmit buffer, before the link's transmit()
#                                          (send_packets_py in place of the core's own
#                                          send_packets, which fills packets inline)
#   core.forwarder._route(core)            at a bridge, picks a forwarded packet's out-link
# A packet is recorded as the core hands it to its link, so one the link then refuses is in
# the capture too (and counted by the link). Nothing is allocated per packet ([no-alloc]);
# detach() gives the core its own steps back.
#
# A record: ticks_ms (4 bytes, little-endian), the link's number (1 for core.links[0], ...)
# with 0x80 when sent, the peer's 7-bit address (0xFF on a serial line), the packet's length
# (at most 255), the bytes kept (at most `snap`), then those bytes, transport header first.
# When the ring is full the oldest record goes (counted in `overwritten`): a capture holds the
# newest `packets` packets.

from ._compat import const
from .bufcopy import copy_into
from .core.fastpath import send_packets_py

# mctp.i2c.smbus's RX_PACKET_AT and RX_SOURCE_AT, and mctp.core.packet's DEST_EID_AT
# ([const-copy]): a received I2C packet's source address byte sits before it in its frame.
_RX_PACKET_AT = const(3)
_RX_SOURCE_AT = const(2)
_DEST_EID_AT = const(1)

_HEADER = const(8)  # bytes of a record before the packet
_SENT_BIT = const(0x80)
_NO_ADDRESS = const(0xFF)
_TICKS_MASK = const(0x3FFFFFFF)  # [small-int]
SNAP = 68  # a baseline packet whole: 4-byte header and 64 bytes of payload
SNAP_MAX = 255
HEADER_LINE = "mctp capture:"  # the first line of a dump; mctp.host.pcap.read_dump looks for it


class Capture:
    """A capture of the newest `packets` packets a core's links receive and send, each kept up
    to `snap` bytes (1..255); it takes packets * (8 + snap) bytes, once. `clock` gives the
    records' times in ms (default: the core's clock)."""

    def __init__(self, packets, snap=SNAP, clock=None):
        if not isinstance(packets, int) or packets < 1:
            raise ValueError(
                "a capture's packets must be an int of 1 or more, got %r" % (packets,)
            )
        if not isinstance(snap, int) or not 1 <= snap <= SNAP_MAX:
            raise ValueError(
                "a capture's snap must be 1..%d bytes of each packet, got %r" % (SNAP_MAX, snap)
            )
        self.packets = packets
        self.snap = snap
        self._size = _HEADER + snap
        self._ring = bytearray(packets * self._size)
        self._next = 0  # the slot written next
        self.held = 0  # records in the ring
        self.overwritten = 0  # records that made room for newer ones
        self._clock = clock
        self._core = None
        self._forwarder = None
        self._links = ()
        self._rings = ()  # per link: its receive ring (core.link.RingLink), or None
        self._addressed = ()  # per link: 1 when its peers have addresses (I2C)
        self._offered = None  # a received packet the fast path declined, and when
        self._offered_at = 0
        self._kept = 0  # bytes of the packet being recorded that its record keeps

    def attach(self, core):
        """Record every packet `core`'s links receive and send (a bridge's forwarded ones
        too: make its Forwarder first), the link core.links[i] as link i + 1 (a packet
        received on a link without a receive ring, a host's loopback, as link 0), until
        detach(). Returns the capture."""
        if self._core is not None:
            raise ValueError("the capture is attached to a core already: detach() it first")
        for name in ("receive_middle", "_fill_packet", "_send_packets"):
            if name in core.__dict__:
                raise ValueError("the core's %s is taken over already (another capture?)" % name)
        self._core = core
        if self._clock is None:
            self._clock = core.clock
        self._links = tuple(core.links)
        self._rings = tuple(getattr(link, "_ring", None) for link in core.links)
        self._addressed = bytes(1 if hasattr(link, "neighbours") else 0 for link in core.links)
        # The core's own steps, bound once ([no-alloc]), then ours in their place.
        self._middle = core.receive_middle
        self._fill = core._fill_packet
        core.receive_middle = self._received
        core._fill_packet = self._filled
        core._send_packets = send_packets_py  # (a function, not bound: the core passes itself)
        self._forwarder = getattr(core, "forwarder", None)  # (a bridge's: mctp.bridge)
        if self._forwarder is not None:
            self._route = self._forwarder._route
            self._forwarder._route = self._routed
        return self

    def detach(self):
        """Give the core its own steps back; the records stay."""
        core = self._core
        if core is None:
            return
        del core.receive_middle
        del core._fill_packet
        del core._send_packets
        if self._forwarder is not None:
            del self._forwarder._route
        self._core = self._forwarder = None

    def clear(self):
        """Forget every record (and the count of those overwritten)."""
        self._next = self.held = self.overwritten = 0

    # The core's steps, recording.

    # Each records by calling _put from its own frame, and _put's steps return before the
    # next: a record goes no deeper than the link's own transmit() and write() ([c-stack]).

    def _received(self, buf, off, length):
        # Every packet received, once: the I2C link's drain offers a packet the fast path
        # declines to core.receive at once, which offers it here again before counting it
        # in rx_packets; a later packet in the same buffer comes after that count.
        if buf is not self._offered or self._core.counters.rx_packets != self._offered_at:
            self._put(self._source(buf, off), buf, off, length)
        taken = self._middle(buf, off, length)
        if taken:
            self._offered = None
            return taken
        self._offered = buf
        self._offered_at = self._core.counters.rx_packets
        return 0

    def _filled(self, flags, room):
        length = self._fill(flags, room)
        link = self._core._tx_link
        self._put(self._sent_to(link, self._core._tx_phys), link.tx_buf, link.tx_off, length)
        return length

    def _routed(self, core):
        route = self._route(core)
        if route is not None:
            head = self._sent_to(route.link, route.phys)
            self._put(head, core._rx_buf, core._rx_off, core._rx_len)
        return route

    def _source(self, buf, off):
        # A received packet's record header: the link's number and the sender's address (an
        # I2C frame's source byte, before the packet).
        i = self._link_of(buf)
        if i and self._addressed[i - 1]:
            return i | (buf[off - _RX_PACKET_AT + _RX_SOURCE_AT] >> 1) << 8
        return i | _NO_ADDRESS << 8

    def _sent_to(self, link, phys):
        # A sent packet's record header: the link's number, sent, and the peer's address.
        return self._index(link) | _SENT_BIT | self._address(link, phys) << 8

    def _link_of(self, buf):
        # The number of the ring link whose next packet is `buf` (0: none of them).
        i = 0
        while i < len(self._rings):
            if self._rings[i] is not None and self._rings[i][self._links[i]._r] is buf:
                return i + 1
            i += 1
        return 0

    def _index(self, link):
        i = 0
        while i < len(self._links):
            if self._links[i] is link:
                return i + 1
            i += 1
        return 0

    def _address(self, link, phys):
        # The peer's address for a packet sent on `link` to `phys` (None: the neighbour of
        # its destination EID, as the I2C link looks it up).
        if not hasattr(link, "neighbours"):
            return _NO_ADDRESS
        if phys is None:
            phys = link.neighbours.lookup(link.tx_buf[link.tx_off + _DEST_EID_AT])
        return phys if 0 <= phys < _NO_ADDRESS else _NO_ADDRESS

    def _put(self, head, buf, off, length):
        # One record: its header, then as much of the packet as a slot keeps.
        at = self._start(head, length)
        self._stamp(at)
        self._copy(at, buf, off)

    def _start(self, head, length):
        at = self._next * self._size
        ring = self._ring
        ring[at + 4] = head & 0xFF
        ring[at + 5] = head >> 8
        ring[at + 6] = length if length < 0xFF else 0xFF
        self._kept = length if length < self.snap else self.snap
        ring[at + 7] = self._kept
        self._next = (self._next + 1) % self.packets
        if self.held < self.packets:
            self.held += 1
        else:
            self.overwritten = (self.overwritten + 1) & _TICKS_MASK
        return at

    def _stamp(self, at):
        t = self._clock() & _TICKS_MASK
        ring = self._ring
        ring[at] = t & 0xFF
        ring[at + 1] = (t >> 8) & 0xFF
        ring[at + 2] = (t >> 16) & 0xFF
        ring[at + 3] = t >> 24

    def _copy(self, at, buf, off):
        if off < 0 or off + self._kept > len(buf):  # (a bad length: never raise here)
            self._kept = self._ring[at + 7] = 0
        copy_into(self._ring, at + _HEADER, buf, off, self._kept)

    # Reading it.

    def records(self):
        """The records, oldest first, as (ms, link, sent, address or None, length, bytes
        kept)."""
        out = []
        first = (self._next - self.held) % self.packets
        for k in range(self.held):
            at = ((first + k) % self.packets) * self._size
            r = self._ring
            ms = r[at] | r[at + 1] << 8 | r[at + 2] << 16 | r[at + 3] << 24
            address = None if r[at + 5] == _NO_ADDRESS else r[at + 5]
            packet = bytes(r[at + _HEADER : at + _HEADER + r[at + 7]])
            out.append(
                (ms, r[at + 4] & 0x7F, bool(r[at + 4] & _SENT_BIT), address, r[at + 6], packet)
            )
        return out

    def dump(self, file=None):
        """Write the capture as text to `file` (anything with write(str); default: the
        console), one line per packet, oldest first, after a line that says what it holds:
        `MS LINK in|out ADDRESS|- LENGTH HEX`. tools/mctp_trace.py --capture reads it."""
        if file is None:
            import sys  # noqa: PLC0415

            file = sys.stdout
        file.write(
            "%s %d packets, %d overwritten, %d bytes kept of each\n"
            % (HEADER_LINE, self.held, self.overwritten, self.snap)
        )
        for ms, link, sent, address, length, packet in self.records():
            file.write(
                "%d %d %s %s %d %s\n"
                % (
                    ms,
                    link,
                    "out" if sent else "in",
                    "-" if address is None else "0x%02x" % address,
                    length,
                    packet.hex(),
                )
            )

    def save(self, path):
        """dump() into the file at `path` (on a board, its flash: `mpremote cp :PATH .`)."""
        with open(path, "w") as file:
            self.dump(file)
