# The viper drain() used on MicroPython (see mctp.serial.deframer, which imports it under
# try/except and says what it does).

import micropython

from .._compat import const

# packet's header fields ([const-copy]).
_FLAGS_AT = const(3)
_FLAG_SOM_EOM = const(0xC0)
_len = len  # [builtin-global]


@micropython.viper
def drain(link, core) -> int:
    # (_w read once: frames the IRQ queues meanwhile wait for the next call)
    r = int(link._r)
    w = int(link._w)
    ring = link._ring
    gaps = ptr8(link._gaps)
    lengths = ptr16(link._lengths)
    size = int(_len(ring))
    taken = 0
    while r != w:
        frame = ring[r]
        if ptr8(frame)[_FLAGS_AT] & _FLAG_SOM_EOM:
            break
        if gaps[r]:
            break
        if not core.receive_middle(frame, 0, lengths[r]):
            break
        r += 1
        if r == size:
            r = 0
        link._r = r  # at once: the deframer reads it to tell a full ring
        taken += 1
    return taken
