# SMBus PEC (DSP0237): CRC-8, polynomial 0x07, initial value 0, not reflected, no final xor,
# over every byte of the frame from the destination address on. "123456789" -> 0xF4.
#
# pec(buf, off, n, crc) continues the CRC `crc` over buf[off:off + n] and allocates nothing.
# Thumb boards use the asm_thumb version (about 5 instructions a byte on a Cortex-M0), other
# MicroPython ports the viper one (24), CPython pec_py; all give the same results
# ([viper-twin]). pec_span(buf, off, n_crc) is pec without the range check, for callers that
# have checked it, with n and crc in one argument, n << 8 | crc (a call's argument less for
# the asm_thumb version's viper callers).

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


def pec_span_py(buf, off, n_crc):
    return pec(buf, off, n_crc >> 8, n_crc & 0xFF)


try:
    from ._pec_asm import pec, pec_span
except (ImportError, SyntaxError):  # not a Thumb port: no inline assembler
    try:
        from ._pec_viper import pec
    except (ImportError, SyntaxError):
        pec = pec_py
    pec_span = pec_span_py
