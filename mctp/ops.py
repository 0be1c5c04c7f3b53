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


def check_int(value, what):
    # Before a comparison: `0 <= "a"` or `None >> 32` would raise an error that names no
    # argument (and a float would slip through a range check into a bytearray).
    if not isinstance(value, int):
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
    check_int(value, what)
    if not 0 <= value <= 0xFF:
        raise ValueError("%s must be 0..255, got %d" % (what, value))


def check_opt_u8(value, what):
    if value is not None:
        check_u8(value, what)


def check_u32(value, what):
    check_int(value, what)
    if value < 0 or value >> 32:
        raise ValueError("%s must be 0..4294967295 (a u32), got %d" % (what, value))


def check_payload(buf, what):
    """TypeError unless `buf` is bytes, a bytearray or a memoryview: MicroPython would send a
    str as its UTF-8 bytes where CPython refuses it."""
    if not (isinstance(buf, bytes) or isinstance(buf, bytearray) or isinstance(buf, memoryview)):
        raise TypeError(
            "%s must be bytes, a bytearray or a memoryview, got %s" % (what, _described(buf))
        )


def check_writable(buf, what):
    """TypeError unless `buf` takes bytes: a bytearray or a writable memoryview. MicroPython
    writes into bytes and read-only views as into a bytearray (a bytes constant would then
    read differently everywhere it is used), so both interpreters refuse them before anything
    is written. An empty view is taken as it is: nothing is ever written into it."""
    if isinstance(buf, bytearray):
        return
    if isinstance(buf, memoryview):
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
    if not isinstance(handle, Handle):
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
    if not isinstance(meta, RecvMetadata):
        raise TypeError("meta must be a RecvMetadata, got %s" % _described(meta))


def payload_length(payload, length):
    # The payload is `payload`, or its first `length` bytes.
    if length is None:
        return len(payload)
    check_int(length, "length")
    if not 0 <= length <= len(payload):
        raise ValueError(
            "length must be 0..%d (the payload's size), got %d" % (len(payload), length)
        )
    return length
