# The viper transmit() used on MicroPython (see mctp.i2c.link, which imports it under
# try/except and says what it does): the frame sealed and written from one call, the write's
# view and length in locals, and the link's fields read once.

import micropython

from .._compat import const
from .smbus import seal_frame

# smbus.PACKET_AT and packet.DEST_EID_AT ([const-copy]).
_PACKET_AT = const(4)
_DEST_EID_AT = const(1)
_ONE = 1  # an object, for arithmetic on objects (a count may outgrow 32 bits)
_NONE = None  # an object, for `is` (viper's None is of its own type)


@micropython.viper
def transmit(link, length: int, phys) -> bool:
    frame = link.tx_buf
    addr = phys
    if phys is _NONE:
        f = ptr8(frame)
        addr = link.neighbours.lookup(f[_PACKET_AT + _DEST_EID_AT])
    counters = link.counters
    if int(addr) < 0:
        counters.no_neighbour = counters.no_neighbour + _ONE
        return False
    n = int(seal_frame(frame, addr, link.addr, length)) - 1
    view = link._views[length]
    i2c = link._i2c
    tries = 0
    while True:
        try:
            # writeto returns how many bytes the target acknowledged.
            if int(i2c.writeto(addr, view)) == n:
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
