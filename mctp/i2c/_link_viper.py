# The viper transmit() used on MicroPython (see mctp.i2c.link, which imports it under
# try/except and says what it does): the frame sealed (smbus.seal_frame inline) and written
# from one call, the write's view and length in locals, and the link's fields read once.
# What writeto sends, frame[1:end + 1], is the link's one view of tx_buf[1:] (link._tx_view),
# whose length this sets in place for each frame, at link._tx_view_len_at (see I2CLink).

import micropython

from .._compat import const
from .pec import pec_span

# smbus's offsets, and packet.DEST_EID_AT ([const-copy]).
_DEST_AT = const(0)
_COUNT_AT = const(2)
_PACKET_AT = const(4)
_DEST_EID_AT = const(1)
# mctp.i2c.link's TX_FRAME_SIZE: tx_buf's length, whatever the MTU.
_TX_FRAME_SIZE = const(259)
_ONE = 1  # an object, for arithmetic on objects (a count may outgrow 32 bits)
_NONE = None  # an object, for `is` (viper's None is of its own type)


@micropython.viper
def transmit(link, length: int, phys) -> bool:
    frame = link.tx_buf
    addr = phys
    if phys is _NONE:
        addr = link.neighbours.lookup(ptr8(frame)[_PACKET_AT + _DEST_EID_AT])
    counters = link.counters
    if int(addr) < 0:
        counters.no_neighbour = counters.no_neighbour + _ONE
        return False
    # smbus.seal_frame inline (a call less): its checks, its fields, the PEC. The command code
    # and our source address byte are the link's own, written into tx_buf once at its
    # construction.
    dest = int(addr)
    end = _PACKET_AT + length  # where the PEC goes
    if length < 0 or end >= _TX_FRAME_SIZE:
        raise ValueError("packet out of the frame")
    if uint(dest) > uint(0x7F):
        raise ValueError("not a 7-bit address")
    f = ptr8(frame)
    f[_DEST_AT] = dest << 1
    f[_COUNT_AT] = length + 1
    # pec_span from the module's globals: a closure's cell, as check_frame has, would save
    # this look-up's 150 instructions, but the closure's call would add 104 bytes to the
    # deepest C stack, this path's ([c-stack]).
    f[end] = int(pec_span(frame, 0, end << 8))
    view = link._tx_view
    ptr32(link._tx_view_len_at)[0] = end  # (at most its length when made: within tx_buf)
    i2c = link._i2c
    tries = 0
    while True:
        try:
            # writeto returns how many bytes the target acknowledged: all it sends, the
            # frame less its address byte, is `end` bytes.
            if int(i2c.writeto(addr, view)) == end:
                break
        except OSError:
            pass
        tries += 1
        if tries > int(link.retries):
            link._dest = addr
            counters.tx_failed = counters.tx_failed + _ONE
            return False
        counters.tx_retries = counters.tx_retries + _ONE
    counters.tx_frames = counters.tx_frames + _ONE
    return True
