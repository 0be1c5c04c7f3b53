# Captures of the packets a stack's links receive and send, as pcap files that Wireshark's MCTP
# dissector (Wireshark 4.2 and later) opens, and the readers mctp_trace uses: of pcap files, and
# of a board's own captures (mctp.capture), which it dumps as text. A host module: it
# allocates per packet, and only while a capture is on.
#
# The format is the one the Linux kernel's own MCTP captures have (tcpdump -i mctp0): link type
# LINUX_SLL2 (276), each record a 20-byte SLL2 header, protocol ETH_P_MCTP (0x00FA), then the
# MCTP packet as DSP0236 has it (the 4-byte transport header and its payload), with no binding
# framing. Wireshark hands protocol 0x00FA of an SLL or SLL2 capture to its MCTP dissector
# ("sll.ltype"), which reassembles messages and decodes control and PLDM. The SLL2 header
# keeps what a debugging user needs besides the packet: the interface index names the link
# (1 for core.links[0], ...), the packet type says received (PACKET_HOST, 0) or sent
# (PACKET_OUTGOING, 4), and the link-layer address is the peer's physical address on an
# SMBus/I2C link (one byte, the 7-bit address: whom a packet came from, or whom it was sent
# to; Wireshark labels it "Source" either way), none on a serial line.
#
# The other candidates: LINKTYPE_MCTP (291, the bare packet) is registered with tcpdump and
# written by DMTF's spdm_dump, but Wireshark has no dissector for it; LINKTYPE_I2C_LINUX (209)
# keeps the SMBus framing, but Wireshark's I2C dissector hands frames to IPMB or HDMI only.
#
# How packets are caught: watch() replaces a link's poll and transmit with the capture's own
# on the link object itself (its class stays as it is), so the packet paths of a link that no
# capture watches are exactly what they were, and unwatch() puts them back. The link's poll
# is given a stand-in for the core that records each packet and hands it on: received packets
# are recorded before the core sees them (an answer the core sends at once follows its
# request in the file), sent ones once the link took them (a refused one is counted by the
# link, not recorded).

import struct
import time

from ..capture import HEADER_LINE
from ..i2c.smbus import RX_PACKET_AT, RX_SOURCE_AT

LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_LINUX_SLL = 113
LINKTYPE_MCTP = 291
ETH_P_MCTP = 0x00FA
ARPHRD_MCTP = 290
RECEIVED = 0  # PACKET_HOST
SENT = 4  # PACKET_OUTGOING

MAGIC_US = 0xA1B2C3D4  # timestamps in microseconds (the one written)
MAGIC_NS = 0xA1B23C4D  # in nanoseconds (read too)
SNAPLEN = 65535
SLL2_SIZE = 20
SLL_SIZE = 16
_GLOBAL = "IHHiIII"  # magic, version 2.4, zone, accuracy, snaplen, link type
_RECORD = "IIII"  # seconds, fraction, bytes kept, bytes on the wire
_SLL2 = ">HHIHBBQ"  # protocol, reserved, ifindex, ARPHRD, packet type, address length, address


def _now_ns():
    return time.time_ns()


class PcapWriter:
    """Writes a pcap capture (link type LINUX_SLL2) to `file`, anything with write(bytes): a
    file opened "wb", a socket's makefile, io.BytesIO. `clock` gives the time in nanoseconds
    since the epoch (default time.time_ns). attach(core) records everything the core's links
    receive and send; record() is the hook for a packet caught elsewhere."""

    def __init__(self, file, clock=_now_ns):
        self.file = file
        self.clock = clock
        self.packets = 0
        self._taps = []
        self._flush = getattr(file, "flush", None)
        file.write(struct.pack("<" + _GLOBAL, MAGIC_US, 2, 4, 0, 0, SNAPLEN, LINKTYPE_LINUX_SLL2))

    def record(self, direction, interface, buf, off, length, address=None):
        """One packet, buf[off:off + length] (transport header first): RECEIVED or SENT, on
        interface number `interface` (1..), from or to the physical `address` (0..127), or
        None on a link without addresses."""
        if direction not in (RECEIVED, SENT):
            raise ValueError("direction must be RECEIVED (0) or SENT (4), not %r" % direction)
        if not 0 <= off <= off + length <= len(buf):
            raise ValueError(
                "the packet at %d, %d bytes, is outside the %d-byte buffer"
                % (off, length, len(buf))
            )
        now = self.clock()
        size = SLL2_SIZE + length
        sll2 = struct.pack(
            _SLL2,
            ETH_P_MCTP,
            0,
            interface,
            ARPHRD_MCTP,
            direction,
            0 if address is None else 1,
            0 if address is None else address << 56,
        )
        head = struct.pack("<" + _RECORD, now // 1000000000, now // 1000 % 1000000, size, size)
        self.file.write(head + sll2 + bytes(buf[off : off + length]))
        if self._flush is not None:
            # Each packet on disk as it comes: the file is a whole capture at any moment,
            # and a process ended at once (the unix port on SIGTERM) loses nothing.
            self._flush()
        self.packets += 1

    def attach(self, core):
        """Record every packet `core`'s links receive and send, from now until detach(): the
        link core.links[i] as interface i + 1."""
        for i, link in enumerate(core.links):
            self.watch(core, link, i + 1)

    def watch(self, core, link, interface):
        """Record what `link` hands to `core` and what it sends, as interface `interface`."""
        for tap in self._taps:
            if tap.link is link:
                raise ValueError("the link is watched already (interface %d)" % tap.interface)
        tap = _Tap(self, core, link, interface)
        link.poll = tap.poll
        link.transmit = tap.transmit
        self._taps.append(tap)

    def detach(self):
        """Stop recording: every watched link's own poll and transmit back."""
        for tap in self._taps:
            del tap.link.poll
            del tap.link.transmit
        self._taps = []

    def close(self):
        """detach(), then flush and close the file."""
        self.detach()
        self.file.close()


class _Tap:
    # One watched link: its own poll and transmit, and what its poll sees as the core.

    def __init__(self, capture, core, link, interface):
        self.capture = capture
        self.core = core
        self.link = link
        self.interface = interface
        # A peer's address is a physical one on an SMBus/I2C link; a serial line has none.
        self.addressed = hasattr(link, "neighbours")
        self._poll = link.poll
        self._transmit = link.transmit

    def poll(self, core):
        self._poll(self)

    def transmit(self, length, phys):
        if not self._transmit(length, phys):
            return False
        link = self.link
        address = None
        if self.addressed:
            address = phys
            if address is None:  # (the link looked its neighbour up, as here)
                address = link.neighbours.lookup(link.tx_buf[link.tx_off + 1])
        self.capture.record(SENT, self.interface, link.tx_buf, link.tx_off, length, address)
        return True

    # What the link's poll calls on the core.

    def receive(self, link, buf, off, length, phys):
        address = phys if self.addressed else None
        self.capture.record(RECEIVED, self.interface, buf, off, length, address)
        return self.core.receive(link, buf, off, length, phys)

    def receive_middle(self, buf, off, length):
        # The core's fast path for packets that continue a message: one it leaves comes back
        # through receive(), so only one it took is recorded here (the message a last packet
        # completed is handed on after, by hand_on(), so the order holds).
        taken = self.core.receive_middle(buf, off, length)
        if not taken:
            return 0
        address = None
        if self.addressed:  # (the source address byte just before the packet: mctp.i2c.smbus)
            address = buf[off - RX_PACKET_AT + RX_SOURCE_AT] >> 1
        self.capture.record(RECEIVED, self.interface, buf, off, length, address)
        return taken

    def hand_on(self):
        return self.core.hand_on()

    def abort_link(self, link):
        self.core.abort_link(link)


class Record:
    """One packet of a capture: `time` (seconds since the epoch, a float), `interface` (the
    link's number, 1..; 0 when the link type has none), `direction` (RECEIVED, SENT, or None
    when unknown), `address` (the peer's physical address, or None) and `packet` (bytes,
    transport header first)."""

    def __init__(self, time, interface, direction, address, packet):
        self.time = time
        self.interface = interface
        self.direction = direction
        self.address = address
        self.packet = packet


def read_pcap(data):
    """The Records of a pcap capture of MCTP packets (`data`: the file's bytes): link type
    LINUX_SLL2 or LINUX_SLL with protocol ETH_P_MCTP (other protocols are skipped), or MCTP
    (291). ValueError, saying what and where, for anything else."""
    if len(data) < 24:
        raise ValueError("not a pcap file: %d bytes, shorter than its 24-byte header" % len(data))
    order = "<"
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic not in (MAGIC_US, MAGIC_NS):
        order = ">"
        magic = struct.unpack_from(">I", data, 0)[0]
    if magic not in (MAGIC_US, MAGIC_NS):
        raise ValueError("not a pcap file: magic 0x%08x" % struct.unpack_from("<I", data, 0)[0])
    linktype = struct.unpack_from(order + _GLOBAL, data, 0)[6] & 0xFFFF
    if linktype not in (LINKTYPE_LINUX_SLL2, LINKTYPE_LINUX_SLL, LINKTYPE_MCTP):
        raise ValueError(
            "link type %d is not one with MCTP packets (LINUX_SLL2 276, LINUX_SLL 113, MCTP 291)"
            % linktype
        )
    unit = 1e-6 if magic == MAGIC_US else 1e-9
    records = []
    at = 24
    while at < len(data):
        if at + 16 > len(data):
            raise ValueError("the record at byte %d is cut short in its header" % at)
        seconds, fraction, kept, _ = struct.unpack_from(order + _RECORD, data, at)
        at += 16
        if at + kept > len(data):
            raise ValueError("the record at byte %d is cut short: %d bytes kept" % (at - 16, kept))
        record = _record(data[at : at + kept], linktype, seconds + fraction * unit)
        if record is not None:
            records.append(record)
        at += kept
    return records


def _record(frame, linktype, when):
    # A Record of one pcap record's bytes, or None when it holds another protocol.
    if linktype == LINKTYPE_MCTP:
        return Record(when, 0, None, None, bytes(frame))
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < SLL2_SIZE:
            return None
        protocol, _, interface, _, kind, length = struct.unpack_from(">HHIHBB", frame, 0)
        address_at, packet_at = 12, SLL2_SIZE
    else:
        if len(frame) < SLL_SIZE:
            return None
        kind, _, length = struct.unpack_from(">HHH", frame, 0)
        protocol = struct.unpack_from(">H", frame, 14)[0]
        interface, address_at, packet_at = 0, 6, SLL_SIZE
    if protocol != ETH_P_MCTP:
        return None
    address = frame[address_at] if length == 1 else None
    direction = kind if kind in (RECEIVED, SENT) else None
    return Record(when, interface, direction, address, bytes(frame[packet_at:]))


def read_dump(text):
    """The records of a board's capture (mctp.capture.Capture.dump()) in `text` (a console's output, say: lines before its
    header line are skipped, and its records end at a blank line or a REPL prompt), as (ms,
    link, sent, address or None, length, packet bytes). ValueError, naming the line, for any
    other line, or when fewer records follow than the header says."""
    lines = text.splitlines()
    start = 0
    while start < len(lines) and not lines[start].startswith(HEADER_LINE):
        start += 1
    if start == len(lines):
        raise ValueError("no capture: no line starts with %r" % HEADER_LINE)
    held = int(lines[start][len(HEADER_LINE) :].split()[0])
    records = []
    for number in range(start + 2, len(lines) + 1):
        line = lines[number - 1].strip()
        if not line or line.startswith(">>>"):
            break
        records.append(_parse_record(line, number))
    if len(records) != held:
        raise ValueError(
            "the capture at line %d says %d packets, and %d follow"
            % (start + 1, held, len(records))
        )
    return records


def _parse_record(line, number):
    fields = line.split()
    try:
        if len(fields) not in (5, 6) or fields[2] not in ("in", "out"):
            raise ValueError
        address = None if fields[3] == "-" else int(fields[3], 16)
        packet = bytes.fromhex(fields[5]) if len(fields) == 6 else b""
        return (
            int(fields[0]),
            int(fields[1]),
            fields[2] == "out",
            address,
            int(fields[4]),
            packet,
        )
    except ValueError:
        raise ValueError(
            "line %d is not a capture record (MS LINK in|out ADDRESS|- LENGTH HEX): %r"
            % (number, line)
        ) from None
