# The viper deliver() used on MicroPython (see mctp.serial.deframer, which imports it under
# try/except and says what it does).

import micropython

from .._compat import const

# packet's header fields and the core's answer ([const-copy]).
_FLAGS_AT = const(3)
_FLAG_SOM_EOM = const(0xC0)
_RX_FULL = const(2)
_len = len  # [builtin-global]


@micropython.viper
def deliver(link, core) -> int:
    # (_w read once: frames the IRQ queues meanwhile wait for the next poll)
    ring = link._ring
    size = int(_len(ring))
    gaps = ptr8(link._gaps)
    lengths = ptr16(link._lengths)
    r = int(link._r)
    w = int(link._w)
    taken = 0
    while r != w:
        frame = ring[r]
        fast = False
        if gaps[r] == 0 and (ptr8(frame)[_FLAGS_AT] & _FLAG_SOM_EOM) == 0:
            if core.receive_middle(frame, 0, lengths[r]):
                fast = True
        full = False
        if not fast:
            if gaps[r]:
                core.abort_link(link)  # bytes were lost just before this packet
            if int(core.receive(link, frame, 0, lengths[r], 0)) == _RX_FULL:
                full = True
        r += 1
        if r == size:
            r = 0
        link._r = r  # at once: the deframer reads it to tell a full ring
        taken += 1
        if full:
            return -1 - taken
    return taken
