# A PLDM base responder (DMTF DSP0240, PLDM type 0 "Messaging Control and Discovery"), carried
# over MCTP message type 0x01 (DSP0241). It answers SetTID, GetTID, GetPLDMVersion, GetPLDMTypes
# and GetPLDMCommands for the one PLDM type this endpoint implements, the base type, at version
# 1.1.0. Any other base command gets ERROR_UNSUPPORTED_PLDM_CMD, a request for another PLDM type
# ERROR_INVALID_PLDM_TYPE, a request of the wrong length ERROR_INVALID_LENGTH.
#
# Only requests (Rq=1, D=0) are answered. A datagram (Rq=1, D=1) asks for no answer and gets
# none; a message with Rq=0, a header version other than 0, fewer than the 3 header bytes, or
# the MCTP IC bit set (PLDM over MCTP carries no message integrity check) is dropped. Every
# outcome has a counter. No state is kept per request, so a retry with the same instance ID is
# answered again.
#
# Every answer that does not depend on the request (the version data with its CRC-32, the type
# and command bitfields) is built at construction; serving a request allocates nothing: one
# receive buffer, one response buffer, one metadata object and one response channel, reused
# (firmware/service.py), and an answer the stack cannot send is counted, not raised.
# The serve path is small methods that keep their state in attributes ([frame-limit]).
#
# Message layout (after the MCTP type byte): byte 0 = Rq (bit 7) | D (bit 6) | instance ID
# (bits 4:0); byte 1 = header version (bits 7:6) | PLDM type (bits 5:0); byte 2 = the command.
# A response has Rq and D clear, bytes 1 and 2 copied, byte 3 = the completion code, then data.

from mctp._compat import const
from mctp.bufcopy import copy_into
from mctp.constants import DATAGRAM, IID_MASK, MSG_TYPE_PLDM, RQ
from mctp.control import version_entry

from .service import Service

# PLDM header, byte 1 (byte 0 is Rq, D and the instance ID: mctp.constants).
HEADER_VERSION_MASK = const(0xC0)
PLDM_TYPE_MASK = const(0x3F)
PLDM_HEADER_SIZE = const(3)

PLDM_TYPE_BASE = const(0x00)

# Base commands (DSP0240 table "PLDM Messaging Control and Discovery command codes").
SET_TID = const(0x01)
GET_TID = const(0x02)
GET_PLDM_VERSION = const(0x03)
GET_PLDM_TYPES = const(0x04)
GET_PLDM_COMMANDS = const(0x05)
COMMAND_NAMES = {
    SET_TID: "SetTID",
    GET_TID: "GetTID",
    GET_PLDM_VERSION: "GetPLDMVersion",
    GET_PLDM_TYPES: "GetPLDMTypes",
    GET_PLDM_COMMANDS: "GetPLDMCommands",
}

# Generic completion codes (DSP0240 "PLDM_BASE_CODES"; libpldm enum pldm_completion_codes).
SUCCESS = const(0x00)
ERROR = const(0x01)
ERROR_INVALID_DATA = const(0x02)
ERROR_INVALID_LENGTH = const(0x03)
ERROR_NOT_READY = const(0x04)
ERROR_UNSUPPORTED_PLDM_CMD = const(0x05)
ERROR_INVALID_PLDM_TYPE = const(0x20)  # the PLDM type in the header is not supported
# Completion codes of the base commands themselves (DSP0240 1.1.0; libpldm's control.h
# pldm_control_completion_codes, skiboot's responder and the Rust `pldm` crate agree). The type
# or version named in the request data is reported with 0x83/0x84, not with the generic 0x20,
# which is about the header's type (openbmc's pldmd answers 0x20 there; libpldm's own
# responder, control.c, answers 0x83).
INVALID_DATA_TRANSFER_HANDLE = const(0x80)
INVALID_TRANSFER_OPERATION_FLAG = const(0x81)
INVALID_PLDM_TYPE_IN_REQUEST_DATA = const(0x83)
INVALID_PLDM_VERSION_IN_REQUEST_DATA = const(0x84)

# GetPLDMVersion: TransferOperationFlag in the request, TransferFlag in the response.
GET_NEXT_PART = const(0x00)
GET_FIRST_PART = const(0x01)
START_AND_END = const(0x05)

TID_UNASSIGNED = const(0x00)
TID_RESERVED = const(0xFF)

# Request data length of each command, indexed by the command code.
_REQUEST_LENGTHS = b"\x00\x01\x00\x06\x00\x05"
_RSP_SIZE = const(PLDM_HEADER_SIZE + 1 + 32)  # the longest answer: GetPLDMCommands

_COUNTERS = (
    "requests",  # well-formed requests taken (answered, or dropped as a datagram)
    "responses",  # answers sent, whatever their completion code
    "tid_set",  # SetTID accepted
    "errors",  # answered with an error completion code other than the two below
    "unsupported",  # answered ERROR_UNSUPPORTED_PLDM_CMD
    "other_type",  # answered ERROR_INVALID_PLDM_TYPE: a PLDM type other than base
    "datagrams",  # Rq=1, D=1: never answered
    "not_request",  # Rq=0 (a response, or the reserved Rq=0 D=1): dropped
    "bad_header_version",  # header version not 0: dropped
    "too_short",  # fewer than 3 bytes: dropped
    "ic_set",  # the MCTP IC bit set, which PLDM over MCTP does not use: dropped
)


def crc32(data, crc=0):
    """The CRC-32 of zlib and IEEE 802.3 (reflected 0x04C11DB7), as libpldm's crc32(): for the
    version data of GetPLDMVersion. Bitwise, because MicroPython may lack binascii.crc32; it
    runs once, at construction."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def ver32(major, minor, update=None, alpha=0):
    """A PLDM ver32 as it goes on the wire.

    A ver32 is a 32-bit number with major in the top byte, then minor, update and alpha, each
    encoded as in DSP0236 (F + BCD digit; an update of 0xFF means none), and PLDM sends
    numbers little-endian: so alpha goes first and 1.1.0 is 00 F0 F1 F1. That is what libpldm
    does (its ver32_t is {alpha, update, minor, major}; its base responder, src/control.c,
    stores 1.1.0 as the uint32 0xF1F1F000 with the CRC 0x539DBEBA), and how the Rust `pldm`
    crate (to_le_bytes of 0xF1F1F000) and pymctp (Version as a little-endian int) read it.
    openbmc's pldmd and skiboot initialise ver32_t as {0xF1, 0xF0, 0xF0, 0x00}, which puts the
    bytes in DSP0236 order (F1 F0 F0 00, major first); we follow libpldm's responder.
    """
    entry = version_entry(major, minor, update, alpha)  # F1 F1 F0 00: major first
    return bytes((entry[3], entry[2], entry[1], entry[0]))


BASE_VERSION = ver32(1, 1, 0)  # DSP0240 1.1.0

COMMANDS = (SET_TID, GET_TID, GET_PLDM_VERSION, GET_PLDM_TYPES, GET_PLDM_COMMANDS)


def bitfield(numbers, size):
    """`size` bytes with bit n % 8 of byte n // 8 set for each n in `numbers` (the bitfield8[]
    arrays of GetPLDMTypes and GetPLDMCommands)."""
    field = bytearray(size)
    for n in numbers:
        field[n >> 3] |= 1 << (n & 7)
    return bytes(field)


def version_data(versions):
    """GetPLDMVersion's version data: the ver32 entries, then the CRC-32 of those bytes,
    little-endian."""
    crc = crc32(versions)
    return bytes(versions) + bytes((crc & 0xFF, crc >> 8 & 0xFF, crc >> 16 & 0xFF, crc >> 24))


class PldmResponder(Service):
    """Answers PLDM base requests that reach `stack` through `server`, as terminus `tid`."""

    def __init__(self, stack, server, tid=1, buf=None):
        if not TID_UNASSIGNED < tid < TID_RESERVED:
            raise ValueError("a TID is 1..254")
        super().__init__(stack, server, MSG_TYPE_PLDM, _COUNTERS, buf)
        self.tid = tid
        self._rsp = bytearray(_RSP_SIZE)
        self._len = 0  # of the request in buf
        self._rsp_len = 0  # of the answer in _rsp
        self._version = BASE_VERSION
        # GetPLDMVersion's answer data: NextDataTransferHandle 0 and StartAndEnd (all of it in
        # one part), then the version data with its CRC.
        self._version_answer = b"\x00\x00\x00\x00" + bytes((START_AND_END,))
        self._version_answer += version_data(BASE_VERSION)
        self._types = bitfield((PLDM_TYPE_BASE,), 8)
        self._commands = bitfield(COMMANDS, 32)

    def serve(self, length):
        self._len = length
        buf = self.buf
        counters = self.counters
        if self.meta.msg_ic:
            counters.ic_set += 1
        elif self._len < PLDM_HEADER_SIZE:
            counters.too_short += 1
        elif not buf[0] & RQ:
            counters.not_request += 1
        elif buf[1] & HEADER_VERSION_MASK:
            counters.bad_header_version += 1
        elif buf[0] & DATAGRAM:
            counters.requests += 1
            counters.datagrams += 1
        else:
            counters.requests += 1
            # Built by a call that returns first, then sent from here ([c-stack]).
            self._build_answer()
            # self.answer(...), from this frame ([c-stack]; Service).
            self._resp._stage(self._rsp, False, self._rsp_len)
            self._client.send_call(self._resp._call)
            self._resp._call.buf = None
            counters.responses += 1

    def _build_answer(self):
        buf = self.buf
        rsp = self._rsp
        rsp[0] = buf[0] & IID_MASK  # Rq and D clear, the request's instance ID
        rsp[1] = buf[1]
        rsp[2] = buf[2]
        self._rsp_len = PLDM_HEADER_SIZE + 1
        if buf[1] & PLDM_TYPE_MASK != PLDM_TYPE_BASE:
            rsp[3] = ERROR_INVALID_PLDM_TYPE
            self.counters.other_type += 1
        else:
            rsp[3] = self._command(buf[2])
            self._count(rsp[3])
        if rsp[3] != SUCCESS:
            self._rsp_len = (
                PLDM_HEADER_SIZE + 1
            )  # an error answer carries the completion code only

    def _count(self, code):
        if code == ERROR_UNSUPPORTED_PLDM_CMD:
            self.counters.unsupported += 1
        elif code != SUCCESS:
            self.counters.errors += 1

    def _command(self, command):
        if command == 0 or command > GET_PLDM_COMMANDS:
            return ERROR_UNSUPPORTED_PLDM_CMD
        if self._len - PLDM_HEADER_SIZE != _REQUEST_LENGTHS[command]:
            return ERROR_INVALID_LENGTH
        if command == SET_TID:
            return self._set_tid(self.buf[3])
        if command == GET_TID:
            self._rsp[4] = self.tid
            self._rsp_len = PLDM_HEADER_SIZE + 2
            return SUCCESS
        if command == GET_PLDM_VERSION:
            return self._get_version()
        if command == GET_PLDM_TYPES:
            return self._put(self._types)
        return self._get_commands()  # GET_PLDM_COMMANDS, the last one

    def _set_tid(self, tid):
        if tid == TID_UNASSIGNED or tid == TID_RESERVED:
            return ERROR_INVALID_DATA
        self.tid = tid
        self.counters.tid_set += 1
        return SUCCESS

    def _get_version(self):
        # Request data: DataTransferHandle (uint32, bytes 3..6), TransferOperationFlag (7),
        # PLDMType (8). The whole answer goes in one part, so GetFirstPart (whose handle the
        # responder ignores) is the only valid request; a GetNextPart names a handle we never
        # gave out (ours is 0 with StartAndEnd: nothing follows).
        buf = self.buf
        if buf[7] == GET_NEXT_PART:
            return INVALID_DATA_TRANSFER_HANDLE
        if buf[7] != GET_FIRST_PART:
            return INVALID_TRANSFER_OPERATION_FLAG
        if buf[8] != PLDM_TYPE_BASE:
            return INVALID_PLDM_TYPE_IN_REQUEST_DATA
        return self._put(self._version_answer)

    def _get_commands(self):
        # Request data: PLDMType (byte 3), Version (ver32, bytes 4..7), which must be one that
        # GetPLDMVersion reports for that type.
        if self.buf[3] != PLDM_TYPE_BASE:
            return INVALID_PLDM_TYPE_IN_REQUEST_DATA
        if not self._version_matches():
            return INVALID_PLDM_VERSION_IN_REQUEST_DATA
        return self._put(self._commands)

    def _version_matches(self):
        buf = self.buf
        version = self._version
        return (
            buf[4] == version[0]
            and buf[5] == version[1]
            and buf[6] == version[2]
            and buf[7] == version[3]
        )

    def _put(self, data):
        # The answer's data, after the completion code.
        copy_into(self._rsp, PLDM_HEADER_SIZE + 1, data, 0, len(data))
        self._rsp_len = PLDM_HEADER_SIZE + 1 + len(data)
        return SUCCESS
