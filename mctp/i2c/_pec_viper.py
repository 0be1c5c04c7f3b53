# The viper PEC used on MicroPython (see mctp.i2c.pec, which imports this under try/except).

import micropython

from ._pec_table import TABLE

_len = len  # [builtin-global]


@micropython.viper
def pec(buf, off: int, n: int, crc: int) -> int:
    if off < 0 or n < 0 or off + n > int(_len(buf)):
        raise ValueError("PEC range out of the buffer")
    table = ptr8(TABLE)
    data = ptr8(buf)
    end = off + n
    while off < end:
        crc = table[crc ^ data[off]]
        off += 1
    return crc
