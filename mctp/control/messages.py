# The MCTP control protocol (DSP0236 message type 0): command and completion codes, the
# control header, and the encodings that responder and requester share. Numbers only: nothing
# here does I/O.
#
# After the type byte: byte 0 = Rq (bit 7) | D (bit 6) | instance ID (bits 4:0), byte 1 = the
# command; a response adds byte 2 = the completion code, then the command's data.

from .._compat import const
from ..constants import DATAGRAM, IID_MASK, RQ  # noqa: F401 (the control header's, exported)

# Commands.
SET_ENDPOINT_ID = const(0x01)
GET_ENDPOINT_ID = const(0x02)
GET_ENDPOINT_UUID = const(0x03)
GET_VERSION_SUPPORT = const(0x04)
GET_MESSAGE_TYPE_SUPPORT = const(0x05)
GET_VDM_SUPPORT = const(0x06)

# Completion codes.
SUCCESS = const(0x00)
ERROR = const(0x01)
ERROR_INVALID_DATA = const(0x02)
ERROR_INVALID_LENGTH = const(0x03)
ERROR_NOT_READY = const(0x04)
ERROR_UNSUPPORTED_CMD = const(0x05)
VERSION_TYPE_NOT_SUPPORTED = const(0x80)  # Get MCTP Version Support, for an unknown type

# Set Endpoint ID operations (request byte 2, bits 1:0).
SET_EID = const(0)
FORCE_EID = const(1)
RESET_EID = const(2)  # back to the static EID
SET_DISCOVERED = const(3)
# Set Endpoint ID response byte 3: assignment status (bits 5:4) and pool status (bits 1:0).
EID_ACCEPTED = const(0x00)
EID_REJECTED = const(0x10)

# Get Endpoint ID response byte 4: endpoint type (bits 5:4) and EID type (bits 1:0).
ENDPOINT_SIMPLE = const(0)
ENDPOINT_BUS_OWNER = const(1)  # a bus owner or a bridge
EID_DYNAMIC = const(0)
EID_STATIC_SUPPORTED = const(1)  # has a static EID, none set at present
EID_STATIC_CURRENT = const(2)  # the present EID is the static one
EID_STATIC_OTHER = const(3)  # has a static EID, the present one differs

# Get MCTP Version Support: the type that stands for the base specification.
VERSION_BASE = const(0xFF)
# Get VDM Support: the selector in a response that says "no more".
VDM_LAST = const(0xFF)
VDM_PCI = const(0x00)  # PCI vendor ID (2 bytes) + command set (2)
VDM_IANA = const(0x01)  # IANA enterprise number (4 bytes) + command set (2)

# Request payload lengths (after the type byte), for a request's length check.
REQUEST_LENGTHS = {
    SET_ENDPOINT_ID: 4,
    GET_ENDPOINT_ID: 2,
    GET_ENDPOINT_UUID: 2,
    GET_VERSION_SUPPORT: 3,
    GET_MESSAGE_TYPE_SUPPORT: 2,
    GET_VDM_SUPPORT: 3,
}

COMMAND_NAMES = {
    SET_ENDPOINT_ID: "Set Endpoint ID",
    GET_ENDPOINT_ID: "Get Endpoint ID",
    GET_ENDPOINT_UUID: "Get Endpoint UUID",
    GET_VERSION_SUPPORT: "Get MCTP Version Support",
    GET_MESSAGE_TYPE_SUPPORT: "Get Message Type Support",
    GET_VDM_SUPPORT: "Get Vendor Defined Message Support",
}

COMPLETION_NAMES = {
    SUCCESS: "SUCCESS",
    ERROR: "ERROR",
    ERROR_INVALID_DATA: "ERROR_INVALID_DATA",
    ERROR_INVALID_LENGTH: "ERROR_INVALID_LENGTH",
    ERROR_NOT_READY: "ERROR_NOT_READY",
    ERROR_UNSUPPORTED_CMD: "ERROR_UNSUPPORTED_CMD",
}


def version_entry(major, minor, update=None, alpha=0):
    """One version entry as sent on the wire: BCD digits with an F upper nibble, so 1.3.1 is
    F1 F3 F1 00; an update of None is FF (no update number)."""
    return bytes(
        (
            0xF0 | major,
            0xF0 | minor,
            0xFF if update is None else 0xF0 | update,
            alpha,
        )
    )


def parse_version_entry(entry):
    """(major, minor, update or None, alpha) of a 4-byte entry; a nibble pair that is not
    F + digit, or an entry of another length, raises ValueError."""
    if len(entry) != 4:
        raise ValueError("a version entry is 4 bytes, not %d" % len(entry))
    digits = []
    for byte in entry[:3]:
        if byte == 0xFF and len(digits) == 2:
            digits.append(None)
        elif byte >> 4 == 0xF and byte & 0xF <= 9:
            digits.append(byte & 0xF)
        else:
            raise ValueError("not a version entry: " + bytes(entry).hex())
    return digits[0], digits[1], digits[2], entry[3]


BASE_VERSION = version_entry(1, 3, 1)  # DSP0236 1.3.1, for the base spec and the control type


def vdm_pci(vendor_id, command_set):
    """A Get VDM Support entry for a PCI vendor ID."""
    return bytes((VDM_PCI, vendor_id >> 8, vendor_id & 0xFF, command_set >> 8, command_set & 0xFF))


def vdm_iana(enterprise, command_set):
    """A Get VDM Support entry for an IANA enterprise number."""
    return bytes(
        (
            VDM_IANA,
            enterprise >> 24 & 0xFF,
            enterprise >> 16 & 0xFF,
            enterprise >> 8 & 0xFF,
            enterprise & 0xFF,
            command_set >> 8,
            command_set & 0xFF,
        )
    )


def uuid_from_unique_id(unique_id):
    """A stable 16-byte UUID (RFC 9562 version 8) made from a board's unique ID
    (machine.unique_id(): 8 bytes on rp2, 12 on stm32). The ID fills the last of the 14 bytes
    that are not version or variant, led by as much of "MCTP" and zeros as there is room for."""
    if not 1 <= len(unique_id) <= 14:
        raise ValueError("a unique ID of 1..14 bytes")
    fill = (b"MCTP" + bytes(10))[: 14 - len(unique_id)] + bytes(unique_id)
    uuid = bytearray(16)
    uuid[0:6] = fill[0:6]
    uuid[6] = 0x80  # version 8: custom
    uuid[7] = fill[6]
    uuid[8] = 0x80  # variant 10xx
    uuid[9:16] = fill[7:14]
    return bytes(uuid)


def format_uuid(uuid):
    text = bytes(uuid).hex()
    return "-".join((text[:8], text[8:12], text[12:16], text[16:20], text[20:]))


class ControlError(Exception):
    """A control request failed: no valid answer (`completion_code` None) or an error
    completion code. `command` is the command code; the text says what went wrong."""

    def __init__(self, command, text, completion_code=None):
        name = COMMAND_NAMES.get(command, "command 0x%02x" % command)
        if completion_code is not None:
            code = COMPLETION_NAMES.get(completion_code, "0x%02x" % completion_code)
            text = "%s (completion code %s)" % (text, code)
        super().__init__(name + ": " + text)
        self.command = command
        self.completion_code = completion_code
