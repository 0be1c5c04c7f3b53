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
    ring = link._ring
    size = int(_len(ring))
    r = int(link._r)
    taken = 0
    while r != int(link._w):
        frame = ring[r]
        if ptr8(frame)[_FLAGS_AT] & _FLAG_SOM_EOM:
            break
        if ptr8(link._gaps)[r]:
            break
        if not core.receive_middle(frame, 0, int(ptr16(link._lengths)[r])):
            break
        r += 1
        if r == size:
            r = 0
        link._r = r  # at once: the deframer reads it to tell a full ring
        taken += 1
    return taken
