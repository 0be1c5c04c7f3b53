# FCS-16, the CRC of RFC 1662 (the reflected polynomial 0x8408), without its final complement:
# the check of the serial binding's frames (DSP0253) and of the IPC stream's (mctp.ipc). Each
# caller starts from FCS_INIT (0xFFFF). "123456789" gives 0x6F91.
#
# fcs16 runs over a whole buffer: on MicroPython the viper loop (_fcs_viper), on CPython
# binascii.crc_hqx (the same CRC computed most significant bit first: over bytes whose bits are
# reversed, from and to a reversed register), elsewhere fcs16_py; each gives the same results
# ([viper-twin]). An IPC exchange of 1 KiB each way checks about 4 KiB.

from ._compat import const

FCS_INIT = const(0xFFFF)


def fcs_byte(crc, b):
    """The FCS-16 `crc` continued over the byte `b` (RFC 1662's table, computed instead of
    looked up: the same 16 bits in a few shifts)."""
    x = (b ^ crc) & 0xFF
    x = (x ^ (x << 4)) & 0xFF
    return ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)


def fcs16_py(buf, off, n, crc):
    """The FCS-16 `crc` continued over buf[off:off + n]."""
    _check_range(buf, off, n)
    end = off + n
    while off < end:
        # fcs_byte, inline: a call per byte would double the time this takes.
        x = (buf[off] ^ crc) & 0xFF
        x = (x ^ (x << 4)) & 0xFF
        crc = ((x << 8) | (crc >> 8)) ^ (x >> 4) ^ (x << 3)
        off += 1
    return crc


def _check_range(buf, off, n):
    if off < 0 or n < 0 or off + n > len(buf):
        raise ValueError("FCS range out of the buffer")


def _reversed_bits(b):
    r = 0
    for i in range(8):
        r = r << 1 | (b >> i & 1)
    return r


def fcs16_binascii(buf, off, n, crc):
    """fcs16 through CPython's binascii.crc_hqx (allocates: CPython only)."""
    if off < 0 or n < 0 or off + n > len(buf):  # (_check_range, inline: 4 calls a frame)
        raise ValueError("FCS range out of the buffer")
    if isinstance(buf, (bytes, bytearray)):
        buf = buf[off : off + n]
    else:  # (a memoryview, say: no translate of its own)
        buf = memoryview(buf)[off : off + n].tobytes()
    crc = crc_hqx(
        buf.translate(_REVERSED),
        _REVERSED[crc & 0xFF] << 8 | _REVERSED[crc >> 8],
    )
    return _REVERSED[crc & 0xFF] << 8 | _REVERSED[crc >> 8]


try:
    from ._fcs_viper import fcs16
except (ImportError, SyntaxError):
    try:
        from binascii import crc_hqx
    except ImportError:  # (MicroPython's binascii has no crc_hqx)
        fcs16 = fcs16_py
    else:
        _REVERSED = bytes(_reversed_bits(b) for b in range(256))  # (fcs16_binascii's)
        fcs16 = fcs16_binascii
