# The viper quick_reply() used on MicroPython (see mctp.control.responder, which imports it
# under try/except and says what it does).

import micropython

from .._compat import const
from ..core.fastpath import send_packets

# constants' RQ, DATAGRAM and IID_MASK, messages' commands, SUCCESS and EID types, packet's
# header fields and fastpath's MAX_TX_OFF ([const-copy]).
_RQ = const(0x80)
_DATAGRAM = const(0x40)
_IID_MASK = const(0x1F)
_GET_ENDPOINT_ID = const(0x02)
_GET_ENDPOINT_UUID = const(0x03)
_SUCCESS = const(0x00)
_EID_DYNAMIC = const(0)
_EID_STATIC_SUPPORTED = const(1)
_EID_STATIC_CURRENT = const(2)
_EID_STATIC_OTHER = const(3)
_HEADER_VERSION = const(1)
_FLAG_SOM = const(0x80)
_FLAG_EOM = const(0x40)
_TRANSPORT_HEADER_SIZE = const(4)
_MSG_TYPE_CONTROL = const(0)
_MAX_MTU = const(250)
_MAX_TX_OFF = const(255)
_TAG_MASK = const(0x07)
_REQUEST_LENGTH = const(7)  # the header, the type byte, Rq and the IID, the command
_len = len  # [builtin-global]
_ONE = 1  # an object, for arithmetic on objects (a count may outgrow 32 bits)
_NONE = None  # an object, for `is` (viper's None is of its own type)
_SEND_PACKETS = send_packets  # the core's own: a capture puts its recording one in its place


@micropython.viper
def quick_reply(responder, buf, off: int, length: int) -> bool:
    # The answer built by a call that returns first, then sent from this small frame: the
    # send's depth is this frame's, not the builder's many locals' ([c-stack]).
    n = int(quick_answer(responder, buf, off, length))
    if not n:
        return False
    core = responder.core
    link = core._rx_link
    counters = responder.counters
    counters.requests = counters.requests + _ONE
    try:
        if link.transmit(_TRANSPORT_HEADER_SIZE + 1 + n, core._rx_phys):
            n = 0  # sent
    except Exception:
        # A fault in the link: counted as the core counts one under handle().
        core = core.counters
        core.internal_error = core.internal_error + _ONE
        return True
    if n:  # not sent
        core.tx_failed_link = link
    # (The core's counters in `core`, the link's name for nothing: fewer locals, [c-stack].)
    core = core.counters
    if n:
        core.tx_failed = core.tx_failed + _ONE
        counters.send_failed = counters.send_failed + _ONE
    else:
        core.tx_packets = core.tx_packets + _ONE
        core.tx_messages = core.tx_messages + _ONE
        counters.responses = counters.responses + _ONE
    return True


@micropython.viper
def quick_answer(responder, buf, off: int, length: int) -> int:
    # The answer to a request quick_reply takes, in its link's tx_buf: its length after the
    # type byte, or 0 (not one quick_reply answers: the full path's). responder's
    # quick_answer_py is its twin.
    if length != _REQUEST_LENGTH:
        return 0
    p = ptr8(buf)
    r = off + _TRANSPORT_HEADER_SIZE  # the message: its type byte, Rq and the IID, the command
    if p[r] != _MSG_TYPE_CONTROL or p[r + 1] & (_RQ | _DATAGRAM) != _RQ:
        return 0
    command = p[r + 2]
    n = 19  # the answer after the type byte: Get Endpoint UUID's
    if command == _GET_ENDPOINT_ID:
        n = 6
    elif command != _GET_ENDPOINT_UUID:
        return 0
    core = responder.core
    link = core._rx_link
    if link is _NONE or core._send_packets is not _SEND_PACKETS:
        return 0
    out = link.tx_buf
    o = int(link.tx_off)
    mtu = int(link.mtu)
    # What send_packets refuses, and an answer of more than one packet: the full path's.
    if uint(o) > uint(_MAX_TX_OFF) or uint(mtu - 1) >= uint(_MAX_MTU) or n >= mtu:
        return 0
    if o + _TRANSPORT_HEADER_SIZE + mtu > int(_len(out)):
        return 0
    iid = p[r + 1] & _IID_MASK  # (the request's fields read before out is written)
    src = p[off + 2]
    tag = p[off + 3] & _TAG_MASK
    eid = int(core.eid)
    d = ptr8(out)
    d[o] = _HEADER_VERSION
    d[o + 1] = src
    d[o + 2] = eid
    d[o + 3] = _FLAG_SOM | _FLAG_EOM | tag  # sequence 0, TO clear
    r = o + _TRANSPORT_HEADER_SIZE
    d[r] = _MSG_TYPE_CONTROL
    d[r + 1] = iid
    d[r + 2] = command
    d[r + 3] = _SUCCESS
    if n == 6:
        static = int(responder.static_eid)
        kind = _EID_DYNAMIC
        if static and eid == static:
            kind = _EID_STATIC_CURRENT
        elif static and eid == 0:
            kind = _EID_STATIC_SUPPORTED
        elif static:
            kind = _EID_STATIC_OTHER
        d[r + 4] = eid
        d[r + 5] = int(responder.endpoint_type) << 4 | kind
        d[r + 6] = 0  # medium-specific
    else:
        u = ptr8(responder.uuid)  # (16 bytes: the constructor checks)
        i = 0
        while i < 16:
            d[r + 4 + i] = u[i]
            i += 1
    return n
