# The server's operations and the argument checks every client makes before it calls one: the
# vocabulary that the in-process client (mctp.server.direct), the server, the wire codec
# (mctp.wire) and the clients over streams and Linux share, without the codec itself.
#
# OP_* are openprot-mctp-api's wire op numbers (mctp.wire.MctpOp): a Call (mctp.api) carries one in
# `op`, whether it came off the wire or from a DirectClient.

from ._compat import const
from .api import Handle, RecvMetadata

OP_SET_EID = const(0)
OP_GET_EID = const(1)
OP_LISTENER = const(2)
OP_REQ = const(3)
OP_RECV = const(4)
OP_SEND = const(5)
OP_UNBIND = const(6)
# Not an operation: a wire request the codec could not decode, which the server answers
# BAD_ARGUMENT ("malformed request"). Above every op a request may carry.
OP_MALFORMED = const(0xFF)

# The builtins the checks use, found in this module's globals ([builtin-global]: every call
# makes these checks, and a builtin looked up through the globals costs a Cortex-M0 about
# 1,000 instructions more).
_isinstance = isinstance
_int = int
_len = len
_PAYLOAD_TYPES = (bytes, bytearray, memoryview)


def check_int(value, what):
    # Before a comparison: `0 <= "a"` or `None >> 32` would raise an error that names no
    # argument (and a float would slip through a range check into a bytearray).
    if not _isinstance(value, _int):
        raise TypeError("%s must be an int, got %s" % (what, _described(value)))


def _described(value):
    # A value for an error message: small ones as they are, others by their type.
    if isinstance(value, (int, float)) or value is None:
        return repr(value)
    if isinstance(value, (str, bytes)) and len(value) <= 16:
        return "%s %r" % (type(value).__name__, value)
    return "a " + type(value).__name__


def check_u8(value, what):
    # MicroPython would silently store value & 0xFF into a bytearray; refuse instead.
    if not (_isinstance(value, _int) and 0 <= value <= 0xFF):
        _refuse_u8(value, what)


def _refuse_u8(value, what):
    check_int(value, what)
    raise ValueError("%s must be 0..255, got %d" % (what, value))


def check_opt_u8(value, what):
    if value is not None:
        check_u8(value, what)


def check_u32(value, what):
    if not (_isinstance(value, _int) and 0 <= value and not value >> 32):
        _refuse_u32(value, what)


def _refuse_u32(value, what):
    check_int(value, what)
    raise ValueError("%s must be 0..4294967295 (a u32), got %d" % (what, value))


def check_payload(buf, what):
    """TypeError unless `buf` is bytes, a bytearray or a memoryview: MicroPython would send a
    str as its UTF-8 bytes where CPython refuses it."""
    if not _isinstance(buf, _PAYLOAD_TYPES):
        raise TypeError(
            "%s must be bytes, a bytearray or a memoryview, got %s" % (what, _described(buf))
        )


def check_writable(buf, what):
    """TypeError unless `buf` takes bytes: a bytearray or a writable memoryview. MicroPython
    writes into bytes and read-only views as into a bytearray (a bytes constant would then
    read differently everywhere it is used), so both interpreters refuse them before anything
    is written. An empty view is taken as it is: nothing is ever written into it."""
    if _isinstance(buf, bytearray):
        return
    if _isinstance(buf, memoryview):
        if _writable(buf):
            return
        got = "a read-only memoryview"
    else:
        got = _described(buf)
    raise TypeError(
        "%s must be a bytearray or a writable memoryview (received bytes go there), got %s"
        % (what, got)
    )


def _writable(view):
    # Storing a byte back in place: a read-only view refuses it with TypeError on both
    # interpreters (MicroPython's has no `readonly`), and nothing changes in a writable one.
    if len(view):
        try:
            view[0] = view[0]
        except TypeError:
            return False
    return True


def check_handle(handle):
    """TypeError unless `handle` is a Handle (what req() and listener() return)."""
    if not _isinstance(handle, Handle):
        raise TypeError(
            "handle must be a Handle (from req() or listener()), got %s" % _described(handle)
        )


def recv_metadata(meta):
    """The RecvMetadata a receive fills: `meta`, or a new one when it is None (openprot-mctp-api's
    three-argument recv, which allocates); TypeError for anything else."""
    if meta is None:
        return RecvMetadata()
    check_meta(meta)
    return meta


def check_meta(meta):
    """TypeError unless `meta` is a RecvMetadata."""
    if not _isinstance(meta, RecvMetadata):
        raise TypeError("meta must be a RecvMetadata, got %s" % _described(meta))


def payload_length(payload, length):
    # The payload is `payload`, or its first `length` bytes.
    if length is None:
        return _len(payload)
    if not (_isinstance(length, _int) and 0 <= length <= _len(payload)):
        _refuse_length(payload, length)
    return length


def _refuse_length(payload, length):
    check_int(length, "length")
    raise ValueError("length must be 0..%d (the payload's size), got %d" % (len(payload), length))
