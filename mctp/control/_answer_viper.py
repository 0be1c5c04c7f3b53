# The viper quick_answer() used on MicroPython (see mctp.control.responder, which imports it
# under try/except and says what it does).

import micropython

from .._compat import const

# constants' RQ, DATAGRAM and IID_MASK, and messages' commands, SUCCESS and EID types
# ([const-copy]).
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


@micropython.viper
def quick_answer(responder, slot) -> int:
    if slot.ic or int(slot.length) != 2:
        return 0
    q = ptr8(slot.buf)
    if q[0] & (_RQ | _DATAGRAM) != _RQ:
        return 0
    command = q[1]
    r = ptr8(responder._rsp)
    n = 0
    if command == _GET_ENDPOINT_ID:
        eid = int(responder.core.eid)
        static = int(responder.static_eid)
        kind = _EID_DYNAMIC
        if static and eid == static:
            kind = _EID_STATIC_CURRENT
        elif static and eid == 0:
            kind = _EID_STATIC_SUPPORTED
        elif static:
            kind = _EID_STATIC_OTHER
        r[3] = eid
        r[4] = int(responder.endpoint_type) << 4 | kind
        r[5] = 0  # medium-specific
        n = 6
    elif command == _GET_ENDPOINT_UUID:
        u = ptr8(responder.uuid)  # (16 bytes: the constructor checks)
        i = 0
        while i < 16:
            r[3 + i] = u[i]
            i += 1
        n = 19
    else:
        return 0
    r[0] = q[0] & _IID_MASK
    r[1] = command
    r[2] = _SUCCESS
    return n
