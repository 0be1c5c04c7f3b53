# The viper frame_packet() used on MicroPython (see mctp.serial.framing, which imports it under
# try/except): the same bytes, with the FCS computed inline as the packet is escaped.

import micropython

from .._compat import const

# framing's bytes ([const-copy]).
_FLAG = const(0x7E)
_ESCAPE = const(0x7D)
_ESCAPED_BIT = const(0x20)
_REVISION = const(0x01)
_FCS_AFTER_REVISION = const(0x1E0E)
_FRAMING = const(6)
_len = len  # [builtin-global]


@micropython.viper
def frame_packet(out, packet, n: int) -> int:
    if n < 0 or n > 0xFF or n > int(_len(packet)) or 2 * n + _FRAMING > int(_len(out)):
        raise ValueError("packet out of the buffers")
    o = ptr8(out)
    p = ptr8(packet)
    o[0] = _FLAG
    o[1] = _REVISION
    o[2] = n
    x = (n ^ _FCS_AFTER_REVISION) & 0xFF  # the count
    x = (x ^ (x << 4)) & 0xFF
    crc = ((x << 8) | (_FCS_AFTER_REVISION >> 8)) ^ (x >> 4) ^ (x << 3)
    at = 3
    i = 0
    while i < n:
        b = p[i]
        x = (b ^ crc) & 0xFF
        x = (x ^ (x << 4)) & 0xFF
        crc = ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)
        if b == _FLAG or b == _ESCAPE:
            o[at] = _ESCAPE
            at += 1
            b ^= _ESCAPED_BIT
        o[at] = b
        at += 1
        i += 1
    o[at] = crc >> 8
    o[at + 1] = crc & 0xFF
    o[at + 2] = _FLAG
    return at + 3
