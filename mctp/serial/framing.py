# Serial framing of MCTP packets (DSP0253), one frame per packet:
#
#   0x7E             opening flag
#   0x01             revision
#   N                byte count: the packet's length before escaping, its 4-byte header included
#   packet           N bytes, with 0x7E sent as 7D 5E and 0x7D as 7D 5D
#   FCS high, low    FCS-16 over revision, count and the packet as it was before escaping
#   0x7E             closing flag
#
# FCS-16 is the CRC of RFC 1662 (the reflected polynomial 0x8408, initial value 0xFFFF) WITHOUT
# its final complement, sent most significant byte first. Only the packet is escaped: revision,
# count and FCS go as they are (Linux, libmctp and mctp-rs agree), so the FCS may hold a 0x7E
# and a receiver ends a frame by its count, not at the next 0x7E (mctp.serial.deframer).
#
# frame_packet() frames one packet for sending; nothing here allocates but the helpers for tools
# and tests at the end. Boards use the viper frame_packet; the pure-Python one gives the same
# bytes ([viper-twin]).

from .._compat import const
from ..core.packet import BASELINE_MTU, TRANSPORT_HEADER_SIZE
from ..fcs import FCS_INIT, fcs16, fcs_byte  # noqa: F401 (FCS_INIT, fcs16: exported)

FLAG = const(0x7E)
ESCAPE = const(0x7D)
ESCAPED_BIT = const(0x20)  # 7D 5E is 0x5E ^ 0x20 = 0x7E, 7D 5D is 0x7D
REVISION = const(0x01)
# The bytes of a frame that are not the packet: flag, revision, count, FCS (2), flag.
FRAMING = const(6)

# The payload MTU: 64 bytes (N = 68, the baseline) is what Linux's mctp-serial sends (its MTU is
# fixed at 68) and the most libmctp accepts (it drops N > 68), so we send no more. We accept up
# to N = 74, as Linux does (MTU + 6), for peers configured a little above the baseline.
MAX_MTU = BASELINE_MTU
MAX_RX_MTU = const(70)
MIN_COUNT = TRANSPORT_HEADER_SIZE + 1  # a header and at least one payload byte


def frame_size(mtu):
    """The largest frame a packet with `mtu` payload bytes takes, every byte escaped."""
    return 2 * (TRANSPORT_HEADER_SIZE + mtu) + FRAMING


# Where a frame's FCS starts from: the revision is always 1, so only the count varies.
FCS_AFTER_REVISION = const(0x1E0E)  # fcs_byte(FCS_INIT, REVISION); test_serial_framing checks it


def frame_packet_py(out, packet, n):
    """Frame packet[:n] into `out` (room for frame_size() of its payload); the frame's length."""
    if n < 0 or n > 0xFF or n > len(packet) or 2 * n + FRAMING > len(out):
        raise ValueError("packet out of the buffers")
    out[0] = FLAG
    out[1] = REVISION
    out[2] = n
    at = _escape(out, packet, n)
    crc = fcs_byte(FCS_AFTER_REVISION, n)
    crc = fcs16(packet, 0, n, crc)
    out[at] = crc >> 8
    out[at + 1] = crc & 0xFF
    out[at + 2] = FLAG
    return at + 3


def _escape(out, packet, n):
    # packet[:n] into out from 3 on, escaped; where it ends.
    at = 3
    i = 0
    while i < n:
        b = packet[i]
        if b == FLAG or b == ESCAPE:
            out[at] = ESCAPE
            at += 1
            b ^= ESCAPED_BIT
        out[at] = b
        at += 1
        i += 1
    return at


try:
    # One call per packet with the FCS inline: a send frames every packet it writes.
    from ._framing_viper import frame_packet
except (ImportError, SyntaxError):
    frame_packet = frame_packet_py

try:
    # frame_packet without its range check, for callers that have checked it (the link's
    # transmit): asm_thumb on Thumb boards, about 25 instructions a byte on a Cortex-M0.
    from ._framing_asm import frame_span
except (ImportError, SyntaxError):  # not a Thumb port: no inline assembler
    frame_span = frame_packet


# For tools and tests (they allocate).


def encode_frame(packet):
    """The frame for `packet` (bytes)."""
    out = bytearray(2 * len(packet) + FRAMING)
    return bytes(out[: frame_packet(out, packet, len(packet))])


def decode_frame(frame):
    """The packet (bytes) of one whole frame, flags included. ValueError with the reason when
    it is not a valid frame."""
    if len(frame) < FRAMING or frame[0] != FLAG or frame[-1] != FLAG:
        raise ValueError("not a frame: flags missing")
    if frame[1] != REVISION:
        raise ValueError("bad revision 0x%02x" % frame[1])
    packet = bytearray()
    i = 3
    while i < len(frame) - 3:
        b = frame[i]
        if b == FLAG:
            raise ValueError("flag inside the packet at %d" % i)
        if b == ESCAPE:
            i += 1
            if frame[i] not in (FLAG ^ ESCAPED_BIT, ESCAPE ^ ESCAPED_BIT):
                raise ValueError("bad escape at %d" % i)
            b = frame[i] ^ ESCAPED_BIT
        packet.append(b)
        i += 1
    if i != len(frame) - 3 or len(packet) != frame[2]:
        raise ValueError("count %d, packet %d bytes" % (frame[2], len(packet)))
    crc = fcs16(packet, 0, len(packet), fcs_byte(FCS_AFTER_REVISION, frame[2]))
    if crc != frame[-3] << 8 | frame[-2]:
        raise ValueError("bad FCS")
    return bytes(packet)
