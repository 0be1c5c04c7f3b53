# The viper transmit() and poll() used on MicroPython (see mctp.host.loopback, which imports it under
# try/except and says what it does).

import micropython

from .._compat import const
from ..bufcopy import copy_span

# packet's FLAGS_AT, FLAG_SOM and FLAG_EOM, link's RX_FULL ([const-copy]).
_FLAGS_AT = const(3)
_FLAG_SOM_EOM = const(0xC0)
_RX_FULL = const(2)

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


@micropython.viper
def poll(link, core):
    ring = link._ring
    depth = int(_len(ring))
    while int(link._count):
        i = int(link._head)
        head = i + 1
        if head == depth:
            head = 0
        link._head = head
        link._count = int(link._count) - 1  # (read again: a packet the core sends may come here)
        packet = ring[i]
        length = int(ptr8(link._lengths)[i])
        if not ptr8(packet)[_FLAGS_AT] & _FLAG_SOM_EOM:
            if core.receive_middle(packet, 0, length):
                continue
        if int(core.receive(link, packet, 0, length, link._sources[i])) == _RX_FULL:
            return  # the rest wait for the next poll
