# FCS-16, the CRC of RFC 1662 (the reflected polynomial 0x8408), without its final complement:
# the check of the serial binding's frames (DSP0253) and of the IPC stream's (mctp.ipc). Each
# caller starts from FCS_INIT (0xFFFF). "123456789" gives 0x6F91.

from ._compat import const

FCS_INIT = const(0xFFFF)


def fcs_byte(crc, b):
    """The FCS-16 `crc` continued over the byte `b` (RFC 1662's table, computed instead of
    looked up: the same 16 bits in a few shifts)."""
    x = (b ^ crc) & 0xFF
    x = (x ^ (x << 4)) & 0xFF
    return ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)


def fcs16(buf, off, n, crc):
    """The FCS-16 `crc` continued over buf[off:off + n]."""
    end = off + n
    while off < end:
        # fcs_byte, inline: a call per byte would double the time this takes.
        x = (buf[off] ^ crc) & 0xFF
        x = (x ^ (x << 4)) & 0xFF
        crc = ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)
        off += 1
    return crc
