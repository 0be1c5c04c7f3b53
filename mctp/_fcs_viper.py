# The viper FCS-16 used on MicroPython, imported by mctp.fcs ([viper-twin]): the same shifts as
# fcs_byte, over the buffer in one machine-code loop.

import micropython

_len = len  # [builtin-global]


@micropython.viper
def fcs16(buf, off: int, n: int, crc: int) -> int:
    # Bounds are checked here because viper pointers are not.
    if off < 0 or n < 0 or off + n > int(_len(buf)):
        raise ValueError("FCS range out of the buffer")
    p = ptr8(buf)
    end = off + n
    while off < end:
        x = (p[off] ^ crc) & 0xFF
        x = (x ^ (x << 4)) & 0xFF
        crc = ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)
        off += 1
    return crc
