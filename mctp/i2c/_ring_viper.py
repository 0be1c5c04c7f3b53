# The viper take(), from_memory() and poll() used on MicroPython (see mctp.i2c.ring, which
# imports them under try/except and says what they do).

import micropython

from .._compat import const
from ..bufcopy import move_span
from .smbus import check_frame

# ring's IRQ flags, SCRATCH and events, smbus's codes and offsets, packet's ([const-copy]).
_IRQ_READS = const(20)  # READ_REQ, END_READ
_IRQ_WRITE_REQ = const(8)
_IRQ_END_WRITE = const(32)
_SCRATCH = const(16)
_POS_BYTES = const(2)
_OUTGROWN = const(0xFFFF)
_EVENT_PROBE = const(0x10)
_EVENT_READ = const(0x20)
_TOO_LONG = const(2)
_RING_FULL = const(8)
# smbus's receive offsets and packet's header fields.
_RX_PACKET_AT = const(3)
_RX_SOURCE_AT = const(2)
_RX_FRAMING = const(4)
_FLAGS_AT = const(3)
_SRC_EID_AT = const(2)
_FLAG_SOM = const(0x80)
# core.fastpath's answers of core.receive_middle; core.link's of core.receive, and its ring's
# end mark.
_LAST = const(2)
_RX_TAKEN = const(1)
_RX_FULL = const(2)
_RING_END = const(0xFF)
_len = len  # [builtin-global]
_ZERO = 0  # objects, for arithmetic on objects
_ONE = 1


@micropython.viper
def take(link, target):
    # The handler itself: the try here, not in a bytecode frame under each FIFO load.
    try:
        flags = int(target.irq().flags())
        if flags & _IRQ_WRITE_REQ:
            scratch = link._scratch
            count = int(target.readinto(scratch))
            if count > _SCRATCH:  # noqa: PLR1730 (min() would be a builtin call)
                count = _SCRATCH  # a pointer past the scratch buffer must never be read
            frame = link._frame
            d = ptr8(frame)
            end = int(_len(frame)) - _POS_BYTES  # the position's bytes
            pos = d[end] | d[end + 1] << 8
            if pos == _OUTGROWN or pos + count > end:
                pos = _OUTGROWN
            else:
                s = ptr8(scratch)
                i = 0
                while i < count:
                    d[pos + i] = s[i]
                    i += 1
                pos += count
            d[end] = pos & 0xFF
            d[end + 1] = pos >> 8
        event = 0
        if flags & _IRQ_END_WRITE:
            # The frame's end, inline: this is the IRQ's deepest path.
            frame = link._frame
            d = ptr8(frame)
            end = int(_len(frame)) - _POS_BYTES
            mem = link._mem
            if mem:  # (None or a bytearray: viper has no `is not None` on objects)
                n = int(from_memory(mem, target.memaddr, frame, end))
                if n < 0:
                    n = _OUTGROWN
            else:
                n = d[end] | d[end + 1] << 8
                d[end] = 0
                d[end + 1] = 0
            event = _TOO_LONG
            if n == 0:
                event = _EVENT_PROBE
            elif n != _OUTGROWN:
                event = int(check_frame(frame, n, link._pec_init))
            ring = link._ring
            at = int(link._w)
            w = at + 1
            if w == int(_len(ring)):
                w = 0
            if event == 0 and w == int(link._r):
                event = _RING_FULL
            if event == 0:
                lengths = ptr16(link._lengths)
                lengths[at] = n
                gap = int(link._gap)
                ptr8(link._gaps)[at] = gap
                if gap:
                    link._gap = 0
                link._w = w
                link._frame = ring[w]
                wake = link._wake
                if wake:  # (None or an object with set(): viper has no `is not None` on objects)
                    wake.set()
        if flags & _IRQ_READS:
            event |= _EVENT_READ
        if event:
            link._event = event
            link._irq_event(target)
    except Exception:
        link._irq_error()


@micropython.viper
def from_memory(mem, at: int, frame, end: int) -> int:
    m = ptr8(mem)
    n = m[at] + 3  # command, count, counted bytes, PEC
    if n == 3 or n > end:
        m[at] = 0
        if n == 3:
            return 0
        return -1
    ptr8(frame)[0] = at
    first = int(_len(mem)) - at  # what comes before the memory's end, where the port wraps
    if first >= n - 1:
        first = n - 1
    else:
        move_span(frame, mem, 0, (n - 1 - first) << 16 | 1 + first)
    move_span(frame, mem, at, first << 16 | 1)
    return n


@micropython.viper
def poll(link, core):
    ring = link._ring
    service = link._service
    if service:
        size = int(_len(ring))
        waiting = int(link._w) - int(link._r)
        if waiting < 0:
            waiting += size
        service(size - 1 - waiting)
    r = int(link._r)
    if r == int(link._w):
        return
    gaps = ptr8(link._gaps)
    lengths = ptr16(link._lengths)
    taken = _ZERO  # (an object: a count may outgrow 32 bits)
    while r != int(link._w):  # (a frame queued while this runs is taken too)
        frame = ring[r]
        f = ptr8(frame)
        result = 0
        if not gaps[r] and not f[_RX_PACKET_AT + _FLAGS_AT] & _FLAG_SOM:
            result = int(core.receive_middle(frame, _RX_PACKET_AT, lengths[r] - _RX_FRAMING))
            if result == _LAST:
                result = int(core.hand_on())  # (RX_TAKEN or RX_FULL)
            elif result:  # (MIDDLE)
                result = _RX_TAKEN
        if not result:
            if gaps[r]:
                core.abort_link(link)  # frames were lost just before this one
            length = lengths[r] - _RX_FRAMING
            result = int(core.receive(link, frame, _RX_PACKET_AT, length, f[_RX_SOURCE_AT] >> 1))
        taken = taken + _ONE
        sender = f[_RX_PACKET_AT + _SRC_EID_AT] | f[_RX_SOURCE_AT] << 8
        if result and sender != int(link._last_from):
            link._learn(frame)
        r += 1
        if gaps[r] == _RING_END:
            r = 0
        link._r = r  # at once: the IRQ reads it to tell a full ring
        if result == _RX_FULL:
            break
    counters = link.counters
    counters.rx_frames = counters.rx_frames + taken
