# The viper check_frame() used on MicroPython (see mctp.i2c.smbus, which imports it under
# try/except): the same work, in the same order, the PEC by pec_span (asm_thumb on Thumb
# boards, 5 instructions a byte where a viper loop takes about 70).

import micropython

from .._compat import const
from .pec import pec_span

# smbus's offsets, codes and limits, and packet's version fields ([const-copy]).
_RX_COMMAND_AT = const(0)
_RX_COUNT_AT = const(1)
_RX_SOURCE_AT = const(2)
_RX_PACKET_AT = const(3)
_CMD_MCTP = const(0x0F)
_MIN_RX_FRAME = const(9)
_TOO_SHORT = const(1)
_BAD_COMMAND = const(3)
_BAD_COUNT = const(4)
_BAD_SRC_BIT = const(5)
_BAD_PEC = const(6)
_BAD_VERSION = const(7)
_VERSION_MASK = const(0x0F)
_HEADER_VERSION = const(1)


def _checking_with(pec_span, _len):
    # check_frame reaches pec_span and len through this closure's cells, a load each, where a
    # global's look-up from viper code is a dict look-up (the name's hash, a software division
    # on the Cortex-M0), about 150 instructions each. The closure's call costs its caller next
    # to nothing: it passes its cells and the three arguments on in one array, on the C stack
    # up to five words (so two cells at most), from the heap beyond.
    @micropython.viper
    def check_frame(frame, n: int, init: int) -> int:
        if n < _MIN_RX_FRAME:
            return _TOO_SHORT
        if n > int(_len(frame)):
            raise ValueError("frame length out of the buffer")
        f = ptr8(frame)
        if f[_RX_COMMAND_AT] != _CMD_MCTP:
            return _BAD_COMMAND
        if f[_RX_COUNT_AT] != n - 3:  # the count covers the source and packet, not the PEC
            return _BAD_COUNT
        if not f[_RX_SOURCE_AT] & 1:
            return _BAD_SRC_BIT
        if int(pec_span(frame, 0, (n - 1) << 8 | init)) != f[n - 1]:
            return _BAD_PEC
        if f[_RX_PACKET_AT] & _VERSION_MASK != _HEADER_VERSION:
            return _BAD_VERSION
        return 0

    return check_frame


check_frame = _checking_with(pec_span, len)
