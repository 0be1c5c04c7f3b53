# SMBus PEC (DSP0237): CRC-8, polynomial 0x07, initial value 0, not reflected, no final xor,
# over every byte of the frame from the destination address on. "123456789" -> 0xF4.
#
# pec(buf, off, n, crc) continues the CRC `crc` over buf[off:off + n] and allocates nothing.
# Boards use the viper version (about 16x fewer instructions than this table loop on a
# Cortex-M0); elsewhere pec_py, which gives the same results ([viper-twin]).

from ._pec_table import TABLE


def pec_py(buf, off, n, crc):
    if off < 0 or n < 0 or off + n > len(buf):
        raise ValueError("PEC range out of the buffer")
    table = TABLE
    end = off + n
    while off < end:
        crc = table[crc ^ buf[off]]
        off += 1
    return crc


try:
    from ._pec_viper import pec
except (ImportError, SyntaxError):
    pec = pec_py
