# The viper deframe() used on MicroPython (see mctp.serial.deframer, which imports it under
# try/except and says what it does): the same state machine, with the state in native ints for
# the whole call (read from and written back to link._rx through a pointer), the FCS computed
# as the packet is written and the queueing inline; a packet's plain bytes go in one call of
# plain_span (Thumb machine code) or, without it, of plain_run. And the viper read(), the
# stream's bytes into it. (The deliver is _deliver_viper's.)

import micropython

from .._compat import const
from ..fcs import fcs_byte as _fcs_byte

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
_STATE_AT = const(0)
_POS_AT = const(1)
_COUNT_AT = const(2)
_CRC_AT = const(3)
_GAP_AT = const(4)
_W_AT = const(5)
_R_AT = const(6)
_SIZE_AT = const(7)
_MAX_COUNT_AT = const(8)
_WAKE_AT = const(9)
_len = len  # [builtin-global]
_NONE = None  # an object, for `is` (viper's None is of its own type)


@micropython.viper
def plain_run(frame, i: int, buf, packed: int) -> int:
    # mctp.serial.deframer.plain_run_py's, where there is no Thumb inline assembler (the
    # deframe's caller checked the ranges).
    k = packed & 0x7F
    pos = (packed >> 7) & 0x7F
    crc = packed >> 14
    f = ptr8(frame)
    src = ptr8(buf)
    end = i + k
    start = i
    while i < end:
        b = src[i]
        if b >= _ESCAPE and b <= _FLAG:
            break
        f[pos] = b
        x = (b ^ crc) & 0xFF
        x = (x ^ (x << 4)) & 0xFF
        crc = ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)
        pos += 1
        i += 1
    return (i - start) | crc << 7


try:
    from ._deframer_asm import plain_span as _run
except (ImportError, SyntaxError):  # (no Thumb inline assembler)
    _run = plain_run


@micropython.viper
def deframe(link, buf, n: int) -> int:
    if n < 0 or n > int(_len(buf)):
        raise ValueError("byte count out of the buffer")
    src = ptr8(buf)
    st = ptr16(link._rx)
    state = st[_STATE_AT]
    pos = st[_POS_AT]
    count = st[_COUNT_AT]
    crc = st[_CRC_AT]
    ring = link._ring
    frame = ring[st[_W_AT]]  # (plain_run takes the buffer object)
    f = ptr8(frame)
    queued = 0
    reason = 0  # a drop's, counted at the end of the round (one call site: [armv6m-literal])
    i = 0
    while i < n:
        if state == _DATA:
            # The packet's plain bytes in one call, up to a flag or an escape.
            k = count - pos
            if k > n - i:
                k = n - i
            k = int(_run(frame, i, buf, k | pos << 7 | crc << 14))
            crc = k >> 7
            k &= 0x7F
            pos += k
            i += k
            if pos == count:
                state = _FCS_HIGH
            if i == n:
                break
        b = src[i]
        i += 1
        if state == _DATA or state == _ESCAPED:
            if b == _FLAG:
                state = _OPENED  # and this flag opens the next frame
                reason = _TRUNCATED
            elif state == _DATA:  # (an escape: plain_run stops only there, or at a flag)
                state = _ESCAPED
            elif state == _ESCAPED and b != _FLAG ^ _ESCAPED_BIT and b != _ESCAPE ^ _ESCAPED_BIT:
                state = _SKIP
                reason = _BAD_ESCAPE
            else:  # an escaped byte (plain ones went through plain_run): rare, so a call
                b ^= _ESCAPED_BIT
                f[pos] = b
                crc = int(_fcs_byte(crc, b))
                pos += 1
                state = _FCS_HIGH if pos == count else _DATA
        elif state == _FCS_HIGH:
            f[count] = b
            state = _FCS_LOW
        elif state == _FCS_LOW:
            f[count + 1] = b
            state = _CLOSING
        elif state == _CLOSING:
            state = _CLOSED
            if b != _FLAG:
                state = _SKIP
                reason = _BAD_COUNT
            elif crc != (f[count] << 8 | f[count + 1]):
                reason = _BAD_FCS
            else:
                at = st[_W_AT]
                w = at + 1
                if w == st[_SIZE_AT]:
                    w = 0
                if w == st[_R_AT]:  # (deframer.R_AT says why _r is read only then)
                    st[_R_AT] = int(link._r)
                if w == st[_R_AT]:
                    reason = _RING_FULL
                else:
                    ptr16(link._lengths)[at] = count
                    ptr8(link._gaps)[at] = st[_GAP_AT]
                    st[_GAP_AT] = 0
                    st[_W_AT] = w
                    link._w = w  # at once: poll reads it
                    frame = ring[w]
                    f = ptr8(frame)
                    queued += 1
                    if st[_WAKE_AT]:
                        wake = link._wake
                        wake.set()
        elif b == _FLAG:
            if state == _COUNT:
                reason = _TRUNCATED
            state = _OPENED
        elif state == _COUNT:
            if b < _MIN_COUNT:
                state = _SKIP
                reason = _TOO_SHORT
            elif b > st[_MAX_COUNT_AT]:
                state = _SKIP
                reason = _TOO_LONG
            else:
                count = b
                pos = 0
                state = _DATA
                x = (b ^ _FCS_AFTER_REVISION) & 0xFF  # the FCS over the count
                x = (x ^ (x << 4)) & 0xFF
                crc = ((x << 8) | (_FCS_AFTER_REVISION >> 8)) ^ (x >> 4) ^ (x << 3)
        elif b == _REVISION and (state == _OPENED or state == _CLOSED):
            state = _COUNT
        elif state == _OPENED:
            state = _SKIP
            reason = _BAD_REVISION
        elif state != _SKIP:  # HUNT or CLOSED
            state = _HUNT
            reason = _NOISE
        if reason:
            link._drop(reason)
            reason = 0
    st[_STATE_AT] = state
    st[_POS_AT] = pos
    st[_COUNT_AT] = count
    st[_CRC_AT] = crc
    return queued


@micropython.viper
def read(link, most: int) -> int:
    n = int(link._any())
    if n == 0:
        return 0
    if n > most:
        n = most
    chunk = link._chunk
    got = link._readinto(chunk, n)
    if got is _NONE:  # (a non-blocking stream with nothing after all)
        return 0
    n = int(got)
    deframe(link, chunk, n)  # (link._deframe's: this module's, found in its globals)
    return n
