# The viper feed() used on MicroPython (see mctp.ipc.framing, which imports it under try/except
# and makes it Deframer.feed): the same steps as feed_py, with the good cases of Deframer._settle
# inline (a header's magic, its check and length; a whole frame's FCS) and everything else
# (garbage to skip, a bad header, an oversized or bad frame) left to _settle itself, which then
# does what it does for feed_py.

import micropython

from .._compat import const

# framing's bytes and sizes, and fcs's start ([const-copy]).
_MAGIC0 = const(0xA5)
_MAGIC1 = const(0x4D)
_HEADER_SIZE = const(7)
_FCS_SIZE = const(2)
_FRAME_OVERHEAD = const(9)
_FCS_INIT = const(0xFFFF)
_len = len  # [builtin-global]


@micropython.viper
def feed(d, src, off: int, count: int) -> int:
    if off < 0 or count < 0 or off + count > int(_len(src)):
        raise ValueError("bytes out of the buffer")
    if d.ready:
        return 0
    s = ptr8(src)
    buf = ptr8(d.buf)
    max_size = int(d.max_size)
    if max_size > int(_len(d.buf)) - _FRAME_OVERHEAD:  # (never past the buffer's end)
        max_size = int(_len(d.buf)) - _FRAME_OVERHEAD
    n = int(d.n)
    need = int(d.need)
    at = off
    end = off + count
    while at < end:
        if need:  # the body, as much of it as has come
            k = need - n
            if k > end - at:
                k = end - at
            i = 0
            while i < k:
                buf[n + i] = s[at + i]
                i += 1
            n += k
            at += k
            if n < need:
                break
            check = need - _FCS_SIZE  # the whole frame: its FCS
        else:  # a header byte
            b = s[at]
            at += 1
            if n == 0 and b != _MAGIC0:
                d.garbage = int(d.garbage) + 1
                continue
            buf[n] = b
            n += 1
            if n == 2 and b != _MAGIC1:
                check = -1  # not a frame
            elif n == _HEADER_SIZE:
                check = 6  # the header's check, over bytes 2..5
            else:
                continue
        if check > 0:
            crc = _FCS_INIT
            j = 2
            while j < check:
                x = (buf[j] ^ crc) & 0xFF
                x = (x ^ (x << 4)) & 0xFF
                crc = ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)
                j += 1
            if not need:
                length = buf[4] | buf[5] << 8
                if crc & 0xFF == buf[6] and length <= max_size:
                    need = length + _FRAME_OVERHEAD
                    continue
            elif crc == buf[check] | buf[check + 1] << 8:
                d.n = n
                d.need = need
                d.kind = buf[2]
                d.seq = buf[3]
                d.length = check - _HEADER_SIZE
                d.frames = int(d.frames) + 1
                d.ready = True
                return at - off
        # Anything else is _settle's: it counts and skips, and may find a frame in what is left.
        d.n = n
        d.need = need
        d._settle()
        n = int(d.n)
        need = int(d.need)
        if d.ready:
            break
    d.n = n
    d.need = need
    return at - off
