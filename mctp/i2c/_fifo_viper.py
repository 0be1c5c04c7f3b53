# The viper take() used on MicroPython (see mctp.i2c.fifo, which imports this under try/except).

import micropython

from .._compat import const

# fifo.IRQ_WRITE_REQ, IRQ_END_WRITE | IRQ_READ_REQ and SCRATCH (test_i2c checks them).
_IRQ_WRITE_REQ = const(8)
_IRQ_LEFT = const(32 | 4)
_SCRATCH = const(16)
_len = len  # a global: cheaper to find than the builtin (see mctp._copy_viper)


@micropython.viper
def take(link, target) -> int:
    flags = int(target.irq().flags())
    if flags & _IRQ_WRITE_REQ:
        scratch = link._scratch
        count = int(target.readinto(scratch))
        if count > _SCRATCH:  # noqa: PLR1730 (min() would be a builtin call)
            count = _SCRATCH  # a pointer past the scratch buffer must never be read
        frame = link._frame
        pos = int(link._pos)
        if pos < 0 or pos + count > int(_len(frame)):
            link._pos = -1
        else:
            d = ptr8(frame)
            s = ptr8(scratch)
            i = 0
            while i < count:
                d[pos + i] = s[i]
                i += 1
            link._pos = pos + count
    return flags & _IRQ_LEFT
