# The viper (machine code) buffer copy used on MicroPython, imported by mctp.bufcopy
# ([viper-twin]).

import micropython

_len = len  # [builtin-global]


@micropython.viper
def copy_into(dst, dst_off: int, src, src_off: int, n: int):
    # Bounds are checked here because viper pointers are not: a bad range must never write past
    # the end of a buffer.
    if dst_off < 0 or src_off < 0 or n < 0:
        raise ValueError("negative offset or length")
    if dst_off + n > int(_len(dst)) or src_off + n > int(_len(src)):
        raise ValueError("copy out of range")
    # A Cortex-M0 cannot load a word from an unaligned address: words only where both ends
    # share their alignment (a message delivered from its slot, say), bytes four to a round
    # otherwise (about 8 and 21 instructions a byte, against 28 for a plain byte loop).
    da = uint(ptr8(dst)) + uint(dst_off)
    sa = uint(ptr8(src)) + uint(src_off)
    d = ptr8(da)
    s = ptr8(sa)
    i = 0
    if (da ^ sa) & uint(3) == uint(0):
        while i < n and (da + uint(i)) & uint(3) != uint(0):
            d[i] = s[i]
            i += 1
        d32 = ptr32(da + uint(i))
        s32 = ptr32(sa + uint(i))
        words = (n - i) >> 2
        k = 0
        while k < words:
            d32[k] = s32[k]
            k += 1
        i += words << 2
    else:
        while i + 3 < n:
            d[i] = s[i]
            d[i + 1] = s[i + 1]
            d[i + 2] = s[i + 2]
            d[i + 3] = s[i + 3]
            i += 4
    while i < n:
        d[i] = s[i]
        i += 1
