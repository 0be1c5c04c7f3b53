# Numbers fixed by DSP0236 and by the openprot-mctp-api contract. Nothing here allocates or imports
# anything but `const`.

from ._compat import const

# Message types (DSP0239). The low 7 bits of the first message byte; bit 7 is the IC flag.
MSG_TYPE_CONTROL = const(0x00)
MSG_TYPE_PLDM = const(0x01)
MSG_TYPE_NCSI = const(0x02)
MSG_TYPE_ETHERNET = const(0x03)
MSG_TYPE_NVME_MI = const(0x04)
MSG_TYPE_SPDM = const(0x05)
MSG_TYPE_SECURED_SPDM = const(0x06)
MSG_TYPE_CXL_FM_API = const(0x07)
MSG_TYPE_CXL_CCI = const(0x08)
MSG_TYPE_VENDOR_PCI = const(0x7E)
MSG_TYPE_VENDOR_IANA = const(0x7F)
MSG_TYPE_MAX = const(0x7F)

# Byte 0 of a control message (DSP0236) and of a PLDM message (DSP0240) alike: Rq (a request),
# D (a datagram: no answer wanted) and the instance ID that pairs an answer with its request.
RQ = const(0x80)
DATAGRAM = const(0x40)
IID_MASK = const(0x1F)
MSG_IC_BIT = const(0x80)

# Endpoint IDs.
EID_NULL = const(0x00)  # no EID assigned yet; also "the endpoint at this physical address"
EID_RESERVED_MIN = const(0x01)
EID_RESERVED_MAX = const(0x07)
EID_UNICAST_MIN = const(0x08)
EID_UNICAST_MAX = const(0xFE)
EID_BROADCAST = const(0xFF)

# Message tags are 3 bits; the tag-owner (TO) bit is carried separately.
TAG_MAX = const(7)

# The largest payload a handle can send or receive: the message bytes after the type byte, so a
# whole MCTP message is at most 1024 bytes. One limit, enforced by the wire codec, the server and
# the stack alike.
MAX_PAYLOAD_SIZE = const(1023)


def is_unicast_eid(eid):
    return EID_UNICAST_MIN <= eid <= EID_UNICAST_MAX


def is_valid_remote_eid(eid):
    # A peer we talk to is either a unicast endpoint or, before it has an EID, EID 0 reached by
    # its physical address.
    return eid == EID_NULL or EID_UNICAST_MIN <= eid <= EID_UNICAST_MAX
