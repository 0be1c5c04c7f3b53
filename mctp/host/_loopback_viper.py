# The viper transmit() used on MicroPython (see mctp.host.loopback, which imports it under
# try/except and says what it does).

import micropython

from ..bufcopy import copy_span

_len = len  # [builtin-global]
_ONE = 1  # an object, for arithmetic on objects
_NONE = None  # an object, for `is` (viper's None is of its own type)


@micropython.viper
def transmit(link, length: int, phys) -> bool:
    peer = link._peer
    if peer is _NONE or phys is not link._peer_phys or link.bus.tap is not _NONE:
        if link._transmit_looked_up(length, phys):
            return True
        return False
    ring = peer._ring
    count = int(peer._count)
    depth = int(_len(ring))
    if count == depth:
        peer.overflows = peer.overflows + _ONE
        return False
    at = int(peer._head) + count
    if at >= depth:
        at -= depth
    frame = ring[at]
    out = link.tx_buf
    if uint(length) > uint(int(_len(frame))) or length > int(_len(out)):
        raise ValueError("packet out of the link's buffers")
    copy_span(frame, out, 0, length << 16)
    lengths = ptr8(peer._lengths)
    lengths[at] = length
    peer._sources[at] = link.phys
    peer._count = count + 1
    wake = peer.wake
    if wake is not _NONE:
        wake.set()
    return True
