# The viper check_frame() and seal_frame() used on MicroPython (see mctp.i2c.smbus, which
# imports them under try/except): the same work, in the same order. check_frame computes the PEC
# inline (the frame check is the IRQ's deepest point, [c-stack]); seal_frame calls pec_span,
# the asm_thumb loop on Thumb boards (5 instructions a byte on a Cortex-M0, against 24 here).

import micropython

from .._compat import const
from ._pec_table import TABLE
from .pec import pec_span

# smbus's offsets, codes and limits, and packet's version fields ([const-copy]).
_DEST_AT = const(0)
_COMMAND_AT = const(1)
_COUNT_AT = const(2)
_SOURCE_AT = const(3)
_PACKET_AT = const(4)
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
_len = len  # [builtin-global]


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
    table = ptr8(TABLE)
    crc = init
    i = 0
    end = n - 1
    while i < end:
        crc = table[crc ^ f[i]]
        i += 1
    if crc != f[end]:
        return _BAD_PEC
    if f[_RX_PACKET_AT] & _VERSION_MASK != _HEADER_VERSION:
        return _BAD_VERSION
    return 0


@micropython.viper
def seal_frame(frame, dest: int, src: int, length: int) -> int:
    end = _PACKET_AT + length  # where the PEC goes
    if length < 0 or end >= int(_len(frame)):
        raise ValueError("packet out of the frame")
    if uint(dest) > uint(0x7F) or uint(src) > uint(0x7F):
        raise ValueError("not a 7-bit address")
    f = ptr8(frame)
    f[_DEST_AT] = dest << 1
    f[_COMMAND_AT] = _CMD_MCTP
    f[_COUNT_AT] = length + 1
    f[_SOURCE_AT] = src << 1 | 1
    f[end] = int(pec_span(frame, 0, end, 0))
    return end + 1
