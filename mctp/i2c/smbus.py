# SMBus/I2C framing of MCTP packets (DSP0237): every transfer is an SMBus block write.
#
#   byte 0   destination address  addr7 << 1 (write)
#   byte 1   command code         0x0F (MCTP)
#   byte 2   byte count           bytes after this field, PEC excluded: 1 + packet length
#   byte 3   source address       addr7 << 1 | 1 (bit 0 set: MCTP, not IPMB)
#   4..      the MCTP packet (transport header and payload)
#   last     PEC over every byte before it, byte 0 included
#
# A target does not receive byte 0 from its hardware: its frames start at the command code,
# and the PEC check starts from the CRC of its own address byte (pec_init).
# Nothing here allocates; a bad frame is a reason code, never an exception.

from .._compat import const
from ..core.packet import HEADER_VERSION, VERSION_MASK
from .pec import TABLE, pec

# Where each field is: in a whole frame (as sent: the destination address first) and in a frame
# as a target receives it (from the command code on, one byte less).
DEST_AT = const(0)
COMMAND_AT = const(1)
COUNT_AT = const(2)
SOURCE_AT = const(3)
PACKET_AT = const(4)
RX_COMMAND_AT = const(COMMAND_AT - 1)
RX_COUNT_AT = const(COUNT_AT - 1)
RX_SOURCE_AT = const(SOURCE_AT - 1)
RX_PACKET_AT = const(PACKET_AT - 1)
# The bytes of a received frame that are not the packet: command, count, source and PEC.
RX_FRAMING = const(4)

CMD_MCTP = const(0x0F)
MAX_PACKET = const(254)  # the byte count is one byte and counts the source address too
MIN_RX_FRAME = const(9)  # command, count, source, 4-byte header, 1 payload byte, PEC
ADDR_MIN = const(0x08)  # 7-bit addresses 0x00..0x07 and 0x78..0x7F are reserved
ADDR_MAX = const(0x77)

# Why a received frame was dropped; a link counts each under this name.
DROP_NAMES = (
    "too_short",
    "too_long",
    "bad_command",
    "bad_count",
    "bad_src_bit",
    "bad_pec",
    "bad_version",
    "ring_full",
    "not_addressed",
)
TOO_SHORT = const(1)
TOO_LONG = const(2)
BAD_COMMAND = const(3)
BAD_COUNT = const(4)
BAD_SRC_BIT = const(5)
BAD_PEC = const(6)
BAD_VERSION = const(7)
RING_FULL = const(8)
NOT_ADDRESSED = const(9)


def check_address(addr):
    if not ADDR_MIN <= addr <= ADDR_MAX:
        raise ValueError("7-bit I2C address must be 0x08..0x77")


def pec_init(own_addr):
    """The PEC of the address byte a target never sees: the start value of its frame checks."""
    return TABLE[own_addr << 1]


def check_frame_py(frame, n, init):
    """0 when frame[:n] (command code to PEC, as a target receives it) is a valid MCTP frame,
    else the reason (TOO_SHORT, BAD_COMMAND, BAD_COUNT, BAD_SRC_BIT, BAD_PEC, BAD_VERSION)."""
    if n < MIN_RX_FRAME:
        return TOO_SHORT
    if n > len(frame):
        raise ValueError("frame length out of the buffer")
    if frame[RX_COMMAND_AT] != CMD_MCTP:
        return BAD_COMMAND
    if frame[RX_COUNT_AT] != n - 3:  # the count covers the source and packet, not the PEC
        return BAD_COUNT
    if not frame[RX_SOURCE_AT] & 1:
        return BAD_SRC_BIT
    if pec(frame, 0, n - 1, init) != frame[n - 1]:
        return BAD_PEC
    if frame[RX_PACKET_AT] & VERSION_MASK != HEADER_VERSION:
        return BAD_VERSION
    return 0


def seal_frame(frame, dest, src, length):
    """Complete the frame around the `length`-byte packet at frame[PACKET_AT:]: address bytes,
    command, count and PEC. Returns the frame's length, byte 0 included."""
    if length < 0 or PACKET_AT + length >= len(frame):
        raise ValueError("packet out of the frame")
    if not (0 <= dest <= 0x7F and 0 <= src <= 0x7F):
        raise ValueError("not a 7-bit address")
    frame[DEST_AT] = dest << 1
    frame[COMMAND_AT] = CMD_MCTP
    frame[COUNT_AT] = length + 1
    frame[SOURCE_AT] = src << 1 | 1
    frame[PACKET_AT + length] = pec(frame, 0, PACKET_AT + length, 0)
    return PACKET_AT + length + 1


try:
    # [viper-twin], the PEC loop inline: the frame check is the IRQ's deepest point ([c-stack]).
    # (The send path seals in its own viper call, mctp.i2c.link.transmit: seal_frame is for
    # tools and transmit's twin, the PEC its only loop.)
    from ._smbus_viper import check_frame
except (ImportError, SyntaxError):
    check_frame = check_frame_py


def encode_frame(buf, dest, src, packet):
    """A whole frame for `packet` into buf (tools and tests); returns its length."""
    length = len(packet)
    if length > MAX_PACKET:
        raise ValueError("packet longer than 254 bytes")
    buf[PACKET_AT : PACKET_AT + length] = packet
    return seal_frame(buf, dest, src, length)


def decode_frame(frame):
    """(destination, source, packet bytes) of a whole frame, byte 0 included (tools and tests).
    ValueError with the reason when it is not a valid MCTP frame."""
    if len(frame) < 1:
        raise ValueError("empty frame")
    reason = check_frame(frame[1:], len(frame) - 1, TABLE[frame[0]])
    if reason:
        raise ValueError("bad frame: " + DROP_NAMES[reason - 1])
    return frame[DEST_AT] >> 1, frame[SOURCE_AT] >> 1, bytes(frame[PACKET_AT:-1])
