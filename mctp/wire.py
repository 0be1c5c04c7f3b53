# The IPC wire codec between an MctpClient and the server, byte-compatible with openprot-mctp-api's
# `openprot_mctp_api::wire`.
#
# Request header (12 bytes):  op | flags | msg_type | eid | handle u32 LE | tag | 0 0 0
# Response header (12 bytes): code | flags | msg_type | eid | handle u32 LE | payload_len u16 LE |
#                             tag | 0
# A RECV request carries a u32 LE timeout after the header; a SEND request and a RECV response
# carry the MCTP payload.
#
# Two extensions, invisible to openprot-mctp-api's clients and servers (they send and ignore
# zeros): a RECV request may carry in its reserved bytes 9..10 (u16 LE) the largest payload the
# caller's buffer takes, as CAPACITY_GIVEN | capacity (so zeros still mean "any size", and a
# zero-byte buffer can be announced), and a NO_SPACE response to it carries in payload_len the
# size of the message that did not fit (no payload follows). The message stays queued, so the
# caller can retry with a larger buffer instead of losing it.
#
# Encoders write into the caller's buffer and return the length; decoders fill caller-owned
# header objects. On success neither allocates, so the server and DirectClient can run them with
# the heap locked.
#
# (Over ~450 lines: an encoder and a decoder for each operation of the contract's wire
# format, in one file to be read against openprot_mctp_api::wire side by side.)

from ._compat import const
from .bufcopy import copy_into
from .constants import MAX_PAYLOAD_SIZE
from .errors import ResponseCode
from .ops import (
    OP_GET_EID,
    OP_LISTENER,
    OP_RECV,
    OP_REQ,
    OP_SEND,
    OP_SET_EID,
    OP_UNBIND,
    check_int,
    check_opt_u8,
    check_u8,
    check_u32,
    payload_length,
)

WIRE_HEADER_SIZE = const(12)
RECV_TRAILER_SIZE = const(4)
MAX_REQUEST_SIZE = const(1035)  # WIRE_HEADER_SIZE + MAX_PAYLOAD_SIZE
MAX_RESPONSE_SIZE = const(1035)

# "No handle" in a SEND request: made once here, handed out by reference ([small-int]).
NO_HANDLE = 0xFFFFFFFF

# Request flags; bit 0 of a response's flags is the received message's IC bit.
FLAG_IC = const(0x01)
FLAG_HAS_HANDLE = const(0x02)
FLAG_HAS_EID = const(0x04)
FLAG_HAS_TAG = const(0x08)


class MctpOp:
    """The operations of the wire, under openprot-mctp-api's name (OP_* are the same numbers as
    constants, which MicroPython folds into the code that dispatches on them)."""

    SET_EID = OP_SET_EID
    GET_EID = OP_GET_EID
    LISTENER = OP_LISTENER
    REQ = OP_REQ
    RECV = OP_RECV
    SEND = OP_SEND
    UNBIND = OP_UNBIND


class flags:  # noqa: N801 (openprot-mctp-api's module name for these constants)
    """The request header's flags, under openprot-mctp-api's names (FLAG_* as constants)."""

    IC = FLAG_IC
    HAS_HANDLE = FLAG_HAS_HANDLE
    HAS_EID = FLAG_HAS_EID
    HAS_TAG = FLAG_HAS_TAG


# Bit 15 of a RECV request's capacity field: a capacity is given (bits 14..0).
CAPACITY_GIVEN = const(0x8000)


class WireError(ValueError):
    """An IPC message could not be encoded or decoded; `kind` says why, `detail` the number."""

    BUFFER_TOO_SMALL = 1  # detail: bytes needed
    PAYLOAD_TOO_LARGE = 2  # detail: payload length
    INVALID_OPCODE = 3  # detail: the op byte
    TRUNCATED = 4  # detail: bytes available

    def __init__(self, kind, detail):
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail

    def __str__(self):
        kind = self.kind
        if kind == WireError.BUFFER_TOO_SMALL:
            return "buffer too small: %d bytes needed" % self.detail
        if kind == WireError.PAYLOAD_TOO_LARGE:
            return "payload too large: %d bytes (max %d)" % (self.detail, MAX_PAYLOAD_SIZE)
        if kind == WireError.INVALID_OPCODE:
            return "unknown op 0x%02x" % self.detail
        return "truncated message: %d bytes" % self.detail


# The encoders are steps of small calls ([frame-limit]): encode_send has eight parameters, so
# a call with more than two arguments from there, or a local, would put its frame on the heap.


def _check_u16(value, what):
    check_int(value, what)
    if not 0 <= value <= 0xFFFF:
        raise ValueError("%s must be 0..65535, got %d" % (what, value))


def _check_handle(handle):
    if handle is not None:
        check_u32(handle, "handle")


def _check_payload(length):
    if length > MAX_PAYLOAD_SIZE:
        raise WireError(WireError.PAYLOAD_TOO_LARGE, length)


def _put_u32(buf, offset, value):
    if value is NO_HANDLE:
        buf[offset] = buf[offset + 1] = buf[offset + 2] = buf[offset + 3] = 0xFF
        return
    buf[offset] = value & 0xFF
    buf[offset + 1] = (value >> 8) & 0xFF
    buf[offset + 2] = (value >> 16) & 0xFF
    buf[offset + 3] = value >> 24


def _get_u32(buf, offset):
    b3 = buf[offset + 3]
    if b3 == 0xFF and buf[offset + 2] == 0xFF and buf[offset + 1] == 0xFF and buf[offset] == 0xFF:
        # The preallocated object ([small-int]).
        return NO_HANDLE
    return buf[offset] | buf[offset + 1] << 8 | buf[offset + 2] << 16 | b3 << 24


def _start(buf, need, first):
    # Check the room for the whole message, then write byte 0 and zero the rest of the header.
    if len(buf) < need:
        raise WireError(WireError.BUFFER_TOO_SMALL, need)
    buf[0] = first
    # (One statement, not a loop: bytes 1..11.)
    buf[1] = buf[2] = buf[3] = buf[4] = buf[5] = buf[6] = buf[7] = buf[8] = buf[9] = 0
    buf[10] = buf[11] = 0


def _start_payload(buf, length):
    # The header of a message carrying `length` payload bytes; the length is kept in bytes
    # 8..9 (a response's payload_len) until _put_payload has copied the payload.
    _check_payload(length)
    _start(buf, WIRE_HEADER_SIZE + length, 0)
    buf[8] = length & 0xFF
    buf[9] = length >> 8


def _put_payload(buf, payload):
    length = buf[8] | buf[9] << 8
    copy_into(buf, WIRE_HEADER_SIZE, payload, 0, length)
    return WIRE_HEADER_SIZE + length


def _put_handle(buf, handle):
    _put_u32(buf, 4, NO_HANDLE if handle is None else handle)


# Requests (client side)


def encode_set_eid(buf, eid):
    check_u8(eid, "eid")
    _start(buf, WIRE_HEADER_SIZE, OP_SET_EID)
    buf[3] = eid
    return WIRE_HEADER_SIZE


def encode_get_eid(buf):
    _start(buf, WIRE_HEADER_SIZE, OP_GET_EID)
    return WIRE_HEADER_SIZE


def encode_listener(buf, msg_type):
    check_u8(msg_type, "msg_type")
    _start(buf, WIRE_HEADER_SIZE, OP_LISTENER)
    buf[2] = msg_type
    return WIRE_HEADER_SIZE


def encode_req(buf, eid):
    check_u8(eid, "eid")
    _start(buf, WIRE_HEADER_SIZE, OP_REQ)
    buf[3] = eid
    return WIRE_HEADER_SIZE


def encode_recv(buf, handle, timeout_ms, capacity=None):
    """A RECV request; `capacity` (None: not given) is the largest payload the caller takes,
    0..32767."""
    check_u32(handle, "handle")
    check_u32(timeout_ms, "timeout_ms")
    field = 0
    if capacity is not None:
        if not 0 <= capacity < CAPACITY_GIVEN:
            raise ValueError("capacity must be 0..32767")
        field = CAPACITY_GIVEN | capacity
    _start(buf, WIRE_HEADER_SIZE + RECV_TRAILER_SIZE, OP_RECV)
    buf[1] = FLAG_HAS_HANDLE
    _put_u32(buf, 4, handle)
    buf[9] = field & 0xFF
    buf[10] = field >> 8
    _put_u32(buf, WIRE_HEADER_SIZE, timeout_ms)
    return WIRE_HEADER_SIZE + RECV_TRAILER_SIZE


def encode_send(buf, handle, msg_type, eid, tag, ic, payload, length=None):
    """A SEND request; `handle`, `eid` and `tag` may each be None (absent). The payload is
    `payload`, or its first `length` bytes."""
    check_u8(msg_type, "msg_type")
    _check_handle(handle)
    check_opt_u8(eid, "eid")
    check_opt_u8(tag, "tag")
    length = payload_length(payload, length)
    _start_payload(buf, length)
    buf[0] = OP_SEND
    buf[1] = (
        (FLAG_IC if ic else 0)
        | (0 if handle is None else FLAG_HAS_HANDLE)
        | (0 if eid is None else FLAG_HAS_EID)
        | (0 if tag is None else FLAG_HAS_TAG)
    )
    buf[2] = msg_type
    if eid is not None:
        buf[3] = eid
    length = _put_payload(buf, payload)
    # Bytes 8..11 are the tag and reserved zeros in a request; the handle comes last because
    # NO_HANDLE marks an absent one.
    buf[8] = 0 if tag is None else tag
    buf[9] = 0
    _put_handle(buf, handle)
    return length


def encode_unbind(buf, handle):
    check_u32(handle, "handle")
    _start(buf, WIRE_HEADER_SIZE, OP_UNBIND)
    buf[1] = FLAG_HAS_HANDLE
    _put_u32(buf, 4, handle)
    return WIRE_HEADER_SIZE


# Responses (server side)


def encode_success_response(buf):
    _start(buf, WIRE_HEADER_SIZE, ResponseCode.SUCCESS)
    return WIRE_HEADER_SIZE


def encode_error_response(buf, code, size=0):
    """An error response; `size` is the message size that did not fit (NO_SPACE on RECV)."""
    if ResponseCode.from_u8(code) is None:
        raise ValueError("unknown response code " + str(code))
    _check_u16(size, "size")
    _start(buf, WIRE_HEADER_SIZE, code)
    buf[8] = size & 0xFF
    buf[9] = size >> 8
    return WIRE_HEADER_SIZE


def encode_get_eid_response(buf, eid):
    check_u8(eid, "eid")
    _start(buf, WIRE_HEADER_SIZE, ResponseCode.SUCCESS)
    buf[3] = eid
    return WIRE_HEADER_SIZE


def encode_handle_response(buf, handle):
    check_u32(handle, "handle")
    _start(buf, WIRE_HEADER_SIZE, ResponseCode.SUCCESS)
    _put_u32(buf, 4, handle)
    return WIRE_HEADER_SIZE


def encode_send_response(buf, tag):
    check_u8(tag, "tag")
    _start(buf, WIRE_HEADER_SIZE, ResponseCode.SUCCESS)
    buf[10] = tag
    return WIRE_HEADER_SIZE


def encode_recv_response(buf, msg_type, ic, eid, tag, payload, length=None):
    """A RECV response carrying `payload`, or its first `length` bytes."""
    length = payload_length(payload, length)
    _check_recv(msg_type, eid, tag)
    _start_payload(buf, length)
    _put_recv_type(buf, msg_type, ic)
    _put_recv_peer(buf, eid, tag)
    return _put_payload(buf, payload)


def encode_recv_header(buf, msg_type, ic, eid, tag, length):
    """The header of a RECV response whose `length` payload bytes are already in place after
    it (a server that received straight into its response buffer); the response's length."""
    _check_recv(msg_type, eid, tag)
    _start_payload(buf, length)
    _put_recv_type(buf, msg_type, ic)
    _put_recv_peer(buf, eid, tag)
    return WIRE_HEADER_SIZE + length


def encode_recv_header_unchecked(buf, msg_type, ic, eid, tag, length):
    """encode_recv_header for values the server produced (a received message's type, EID and
    tag are bytes already): the same header, without checking them again."""
    _start_payload(buf, length)
    buf[1] = FLAG_IC if ic else 0
    buf[2] = msg_type
    buf[3] = eid
    buf[10] = tag
    return WIRE_HEADER_SIZE + length


def _check_recv(msg_type, eid, tag):
    check_u8(msg_type, "msg_type")
    check_u8(eid, "eid")
    check_u8(tag, "tag")


def _put_recv_type(buf, msg_type, ic):
    buf[1] = FLAG_IC if ic else 0
    buf[2] = msg_type


def _put_recv_peer(buf, eid, tag):
    buf[3] = eid
    buf[10] = tag


# Decoders. `length` is the number of valid bytes in `buf` (default: all of it), so one
# preallocated buffer serves messages of any size.


class MctpRequestHeader:
    def __init__(self):
        self.op = 0
        self.flags = 0
        self.msg_type = 0
        self.eid = 0
        self.handle = 0
        self.tag = 0

    def has_handle(self):
        return bool(self.flags & FLAG_HAS_HANDLE)

    def has_eid(self):
        return bool(self.flags & FLAG_HAS_EID)

    def has_tag(self):
        return bool(self.flags & FLAG_HAS_TAG)

    def ic(self):
        return bool(self.flags & FLAG_IC)


class MctpResponseHeader:
    def __init__(self):
        self.code = 0
        self.flags = 0
        self.msg_type = 0
        self.eid = 0
        self.handle = 0
        self.payload_len = 0
        self.tag = 0

    def msg_ic(self):
        return bool(self.flags & FLAG_IC)

    def is_success(self):
        return self.code == ResponseCode.SUCCESS

    def response_code(self):
        """The code as a ResponseCode; an unknown value reads as INTERNAL_ERROR."""
        return ResponseCode.from_wire(self.code)


def _header_length(buf, length):
    if length is None:
        length = len(buf)
    if length < WIRE_HEADER_SIZE:
        raise WireError(WireError.TRUNCATED, length)
    return length


def request_problem(buf, length):
    """0 when the `length` bytes of `buf` start a request this codec decodes, else the
    WireError kind (TRUNCATED, INVALID_OPCODE): a check that raises nothing, for servers."""
    if length < WIRE_HEADER_SIZE:
        return WireError.TRUNCATED
    if buf[0] > OP_UNBIND:
        return WireError.INVALID_OPCODE
    return 0


def decode_request_header(buf, length=None, hdr=None):
    """Fill `hdr` (a new MctpRequestHeader if None) from a request and return it.

    TRUNCATED for fewer than 12 bytes, INVALID_OPCODE for an op this codec does not know.
    """
    if length is None:
        length = len(buf)
    problem = request_problem(buf, length)
    if problem:
        raise WireError(problem, length if problem == WireError.TRUNCATED else buf[0])
    if hdr is None:
        hdr = MctpRequestHeader()
    return decode_request_header_unchecked(buf, hdr)


def decode_request_header_unchecked(buf, hdr):
    """decode_request_header into `hdr` for a request request_problem() passed (a server that
    checked it first): the same fields, without checking again."""
    hdr.op = buf[0]
    hdr.flags = buf[1]
    hdr.msg_type = buf[2]
    hdr.eid = buf[3]
    hdr.handle = _get_u32(buf, 4)
    hdr.tag = buf[8]
    return hdr


def request_payload_len(buf, length=None):
    """The payload length of a SEND request; PAYLOAD_TOO_LARGE over MAX_PAYLOAD_SIZE."""
    payload_len = _header_length(buf, length) - WIRE_HEADER_SIZE
    _check_payload(payload_len)
    return payload_len


def get_request_payload(buf, length=None):
    """A view of a SEND request's payload (empty when there is none)."""
    payload_len = request_payload_len(buf, length)
    return memoryview(buf)[WIRE_HEADER_SIZE : WIRE_HEADER_SIZE + payload_len]


def recv_trailer_ok(length):
    """Whether a RECV request of `length` bytes has a whole timeout trailer or none at all."""
    return length == WIRE_HEADER_SIZE or length >= WIRE_HEADER_SIZE + RECV_TRAILER_SIZE


def decode_recv_timeout(buf, length=None):
    """The timeout of a RECV request; a request without the trailer means 0 (wait forever)."""
    length = _header_length(buf, length)
    if not recv_trailer_ok(length):
        raise WireError(WireError.TRUNCATED, length)
    if length == WIRE_HEADER_SIZE:
        return 0
    return _get_u32(buf, WIRE_HEADER_SIZE)


def decode_recv_capacity(buf, length=None):
    """The payload capacity a RECV request announces; -1 when it gives none."""
    _header_length(buf, length)
    field = buf[9] | buf[10] << 8
    if field & CAPACITY_GIVEN:
        return field & ~CAPACITY_GIVEN
    return -1


def decode_response_header(buf, length=None, hdr=None):
    """Fill `hdr` (a new MctpResponseHeader if None) from a response and return it."""
    if length is None or length < WIRE_HEADER_SIZE:  # (_header_length's check, inline)
        _header_length(buf, length)
    if hdr is None:
        hdr = MctpResponseHeader()
    hdr.code = buf[0]
    hdr.flags = buf[1]
    hdr.msg_type = buf[2]
    hdr.eid = buf[3]
    hdr.handle = _get_u32(buf, 4)
    hdr.payload_len = buf[8] | buf[9] << 8
    hdr.tag = buf[10]
    return hdr


def response_payload_len(hdr, length):
    """Check that the `length` bytes received hold all of `hdr`'s payload; return its length."""
    payload_len = hdr.payload_len
    _check_payload(payload_len)
    if length < WIRE_HEADER_SIZE + payload_len:
        raise WireError(WireError.TRUNCATED, length)
    return payload_len


def get_response_payload(buf, hdr, length=None):
    """A view of a response's payload, checked against the bytes received."""
    if length is None:
        length = len(buf)
    payload_len = response_payload_len(hdr, length)
    return memoryview(buf)[WIRE_HEADER_SIZE : WIRE_HEADER_SIZE + payload_len]
