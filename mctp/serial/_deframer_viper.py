# The viper deframe() used on MicroPython (see mctp.serial.deframer, which imports it under
# try/except and says what it does): the same state machine, with the state in native ints for
# the whole call and the FCS check and the queueing inline. (Its drain is _drain_viper's.)

import micropython

from .._compat import const

# framing's bytes and deframer's states and reasons ([const-copy]).
_FLAG = const(0x7E)
_ESCAPE = const(0x7D)
_ESCAPED_BIT = const(0x20)
_REVISION = const(0x01)
_FCS_AFTER_REVISION = const(0x1E0E)
_MIN_COUNT = const(5)
_HUNT = const(0)
_SKIP = const(1)
_OPENED = const(2)
_CLOSED = const(3)
_COUNT = const(4)
_DATA = const(5)
_ESCAPED = const(6)
_FCS_HIGH = const(7)
_FCS_LOW = const(8)
_CLOSING = const(9)
_BAD_FCS = const(1)
_BAD_REVISION = const(2)
_BAD_COUNT = const(3)
_TRUNCATED = const(4)
_TOO_LONG = const(5)
_TOO_SHORT = const(6)
_BAD_ESCAPE = const(7)
_NOISE = const(8)
_RING_FULL = const(9)
_len = len  # [builtin-global]


@micropython.viper
def deframe(link, buf, n: int) -> int:
    if n < 0 or n > int(_len(buf)):
        raise ValueError("byte count out of the buffer")
    src = ptr8(buf)
    state = int(link._state)
    pos = int(link._pos)
    count = int(link._count)
    f = ptr8(link._frame)
    queued = 0
    i = 0
    while i < n:
        b = src[i]
        i += 1
        if state == _DATA:
            if b == _FLAG:
                state = _OPENED  # and this flag opens the next frame
                link._drop(_TRUNCATED)
            elif b == _ESCAPE:
                state = _ESCAPED
            else:
                f[pos] = b
                pos += 1
                if pos == count:
                    state = _FCS_HIGH
        elif state == _FCS_HIGH:
            f[count] = b
            state = _FCS_LOW
        elif state == _FCS_LOW:
            f[count + 1] = b
            state = _CLOSING
        elif state == _CLOSING:
            if b != _FLAG:
                state = _SKIP
                link._drop(_BAD_COUNT)
                continue
            state = _CLOSED
            crc = _FCS_AFTER_REVISION
            j = -1  # the count first, then the packet
            while j < count:
                x = (count if j < 0 else f[j]) ^ crc
                x = (x ^ (x << 4)) & 0xFF
                crc = ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)
                j += 1
            if crc != (f[count] << 8 | f[count + 1]):
                link._drop(_BAD_FCS)
                continue
            ring = link._ring
            at = int(link._w)
            w = at + 1
            if w == int(_len(ring)):
                w = 0
            if w == int(link._r):
                link._drop(_RING_FULL)
                continue
            ptr16(link._lengths)[at] = count
            ptr8(link._gaps)[at] = int(link._gap)
            link._gap = 0
            link._w = w  # at once: poll reads it
            frame = ring[w]
            link._frame = frame
            f = ptr8(frame)
            queued += 1
            wake = link._wake
            if wake:  # (None or an object with set(): viper has no `is not None` on objects)
                wake.set()
        elif b == _FLAG:
            if state >= _COUNT and state <= _ESCAPED:
                link._drop(_TRUNCATED)
            state = _OPENED
        elif state == _ESCAPED:
            if b == _FLAG ^ _ESCAPED_BIT or b == _ESCAPE ^ _ESCAPED_BIT:
                f[pos] = b ^ _ESCAPED_BIT
                pos += 1
                state = _FCS_HIGH if pos == count else _DATA
            else:
                state = _SKIP
                link._drop(_BAD_ESCAPE)
        elif state == _COUNT:
            if b < _MIN_COUNT:
                state = _SKIP
                link._drop(_TOO_SHORT)
            elif b > int(link._max_count):
                state = _SKIP
                link._drop(_TOO_LONG)
            else:
                count = b
                pos = 0
                state = _DATA
        elif b == _REVISION and (state == _OPENED or state == _CLOSED):
            state = _COUNT
        elif state == _OPENED:
            state = _SKIP
            link._drop(_BAD_REVISION)
        elif state != _SKIP:  # HUNT or CLOSED
            state = _HUNT
            link._drop(_NOISE)
    link._state = state
    link._pos = pos
    link._count = count
    return queued
