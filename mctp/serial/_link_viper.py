# The viper transmit() used on MicroPython (see mctp.serial.link, which imports it under
# try/except and says what it does): the frame made by frame_span and its first write from one
# call; only a write the stream cuts short goes on in Python.

import micropython

from .framing import frame_span

_ONE = 1  # an object, for arithmetic on objects (a count may outgrow 32 bits)
_NONE = None  # an object, for `is` (viper's None is of its own type)
_len = len  # [builtin-global]


@micropython.viper
def transmit(link, length: int, phys) -> bool:
    packet = link.tx_buf
    if uint(length) > uint(int(_len(packet))):
        raise ValueError("packet out of the link's buffer")
    out = link._out
    total = int(frame_span(out, packet, length))
    sent = 0
    try:
        n = link.stream.write(out, 0, total)
        if n is not _NONE:  # (None: a non-blocking stream that is full)
            sent = int(n)
    except OSError:  # stm32 raises one when the UART's own timeout ends a write
        pass
    if sent == total:
        counters = link.counters
        counters.tx_frames = counters.tx_frames + _ONE
        return True
    link._out_len = total
    link._out_sent = sent
    return bool(link._write_rest())
