# The MCTP transport header (DSP0236): 4 bytes before every packet's payload.
#
#   byte 0  header version (low nibble; 1), reserved high nibble
#   byte 1  destination EID
#   byte 2  source EID
#   byte 3  SOM(7) EOM(6) packet sequence(5:4) TO(3) message tag(2:0)
#
# The first payload byte of a SOM packet is the message type, bit 7 the IC flag.

from .._compat import const

TRANSPORT_HEADER_SIZE = const(4)
# Where each field of the transport header is, from the packet's first byte.
VERSION_AT = const(0)
DEST_EID_AT = const(1)
SRC_EID_AT = const(2)
FLAGS_AT = const(3)
HEADER_VERSION = const(0x01)
VERSION_MASK = const(0x0F)

FLAG_SOM = const(0x80)
FLAG_EOM = const(0x40)
SEQ_SHIFT = const(4)
SEQ_MASK = const(0x03)
FLAG_TO = const(0x08)
TAG_MASK = const(0x07)

# The baseline transmission unit: 64 payload bytes per packet (68-byte packets). Larger units
# only where a link is configured for them; SMBus/I2C allows up to 250.
BASELINE_MTU = const(64)
MAX_MTU = const(250)


def describe(buf, off, n):
    """A one-line reading of a packet, for traces and tools (allocates; not for packet paths)."""
    if n < TRANSPORT_HEADER_SIZE:
        return "short packet (%d bytes)" % n
    flags = buf[off + 3]
    text = "ver %d %d->%d %s%sseq %d %s tag %d, %d payload bytes" % (
        buf[off] & VERSION_MASK,
        buf[off + 2],
        buf[off + 1],
        "SOM " if flags & FLAG_SOM else "",
        "EOM " if flags & FLAG_EOM else "",
        (flags >> SEQ_SHIFT) & SEQ_MASK,
        "TO=1" if flags & FLAG_TO else "TO=0",
        flags & TAG_MASK,
        n - TRANSPORT_HEADER_SIZE,
    )
    if flags & FLAG_SOM and n > TRANSPORT_HEADER_SIZE:
        type_byte = buf[off + TRANSPORT_HEADER_SIZE]
        text += ", type 0x%02x%s" % (type_byte & 0x7F, " IC" if type_byte & 0x80 else "")
    return text


def build_packets(src, dest, tag_flags, type_byte, payload, mtu=BASELINE_MTU, first_seq=0):
    """The packets (bytes) of one message as a sender builds them, for tools and tests (the
    stack builds its own in place, allocation-free). `tag_flags` is TO | tag; the first
    packet's payload starts with `type_byte` (the type with the IC bit)."""
    body = bytes((type_byte,)) + bytes(payload)
    packets = []
    seq = first_seq & SEQ_MASK
    at = 0
    while True:
        flags = (FLAG_SOM if at == 0 else 0) | seq << SEQ_SHIFT | tag_flags
        chunk = body[at : at + mtu]
        at += mtu
        if at >= len(body):
            flags |= FLAG_EOM
        packets.append(bytes((HEADER_VERSION, dest, src, flags)) + chunk)
        if flags & FLAG_EOM:
            return packets
        seq = (seq + 1) & SEQ_MASK
