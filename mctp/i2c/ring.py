# The receive ring's per-frame work at both of its ends, each one call. `link` is an I2CLink:
# the ring's fields (_ring, _lengths, _gaps, _gap, _w, _r, _frame, _wake) are laid out as
# mctp.core.link.RingLink states, but for _pos: the frame being written keeps its own position
# (position(), below); the IRQ's own (_scratch, _event, _pec_init) and poll's (_last_from) are
# declared in I2CLink.__init__.
#
# The I2C target's hard IRQ, for every FIFO load and every frame's end: take(link, target) is
# the handler itself, bound to the link (I2CLink._irq). It reads the IRQ's events and
#   - on WRITE_REQ appends the bytes the target's FIFO holds (target.readinto(link._scratch), at
#     most SCRATCH of them) to link._frame at its position, which moves on; the position
#     becomes -1 once the frame has outgrown link._frame (the FIFO is still drained, so the
#     target does not stall, and -1 stays -1 until the frame's end);
#   - on END_WRITE checks the frame (smbus.check_frame) and, when it is good and the ring has
#     room, queues it (a memory-mode target's frame is first copied out of link._mem, see
#     from_memory): its length and gap mark at ring position link._w, which moves on, and
#     link._frame becomes the next ring frame; link._wake.set() when there is a wake.
# What is left for Python, it puts in link._event and calls link._irq_event(target): count a
# drop (the reason, 1..15), count a probe (EVENT_PROBE: an address-only write) or a read
# (EVENT_READ: READ_REQ, answered there, or a memory-mode target's END_READ, answered by the
# port from its memory). An exception inside is counted by link._irq_error() instead of leaving the
# handler (MicroPython disables a hard IRQ handler for good after one).
#
# One call per IRQ, which takes the link rather than its fields: an IRQ comes every few bytes
# ([viper-twin], [c-stack]); as viper code, with its try inside, it puts no bytecode frame
# under each FIFO load.
#
# The link's poll, I2CLink.poll: poll(link, core) hands the frames at the ring's read end to
# the core in order, each as its own: a packet that continues a message (no SOM) after no lost
# frame to core.receive_middle (the core's fast path), and when that completed the message,
# core.hand_on() to hand it on; any other frame, or one the fast path leaves, to core.receive
# (after core.abort_link(link) when frames were lost just before it: the unfinished messages
# it might continue have lost packets). It learns the sender of
# each packet the core took, moves link._r on, counts the frames in rx_frames and stops at
# RX_FULL (the rest wait for the next poll). A simulated target without interrupts
# (link._service) is serviced first, with room for as many frames as the ring has free. As
# viper code, the whole hand-over is one call: no bytecode per frame.
#
# Boards use the viper versions; the pure-Python ones give the same results ([viper-twin]).

from .._compat import const
from ..bufcopy import copy_into, move_span
from ..core.fastpath import LAST
from ..core.link import RX_FULL, RX_TAKEN
from ..core.packet import FLAG_SOM, FLAGS_AT, SRC_EID_AT
from .smbus import RING_FULL, RX_FRAMING, RX_PACKET_AT, RX_SOURCE_AT, TOO_LONG, check_frame

# machine.I2CTarget's IRQ flags.
IRQ_ADDR_MATCH_READ = const(1)
IRQ_ADDR_MATCH_WRITE = const(2)
IRQ_READ_REQ = const(4)
IRQ_WRITE_REQ = const(8)
IRQ_END_READ = const(16)
IRQ_END_WRITE = const(32)
IRQ_READS = const(IRQ_READ_REQ | IRQ_END_READ)

SCRATCH = const(16)  # bytes one readinto takes: the depth of the rp2's and stm32's FIFOs, or more

# Where the frame being written stands is kept in its own last POS_BYTES bytes (little-endian;
# OUTGROWN once the frame has outgrown its buffer), not in a field of the link: the IRQ reads
# and writes it through a pointer, with no attribute look-up per FIFO load. I2CLink makes each
# ring frame POS_BYTES longer for it; a frame queued has 0 there again.
POS_BYTES = const(2)
OUTGROWN = const(0xFFFF)

# link._event: a drop reason in the low four bits, and these.
EVENT_REASON = const(0x0F)
EVENT_PROBE = const(0x10)
EVENT_READ = const(0x20)


def take_py(link, target):
    try:
        if _events(link, target):
            link._irq_event(target)
    except Exception:
        link._irq_error()


def _events(link, target):
    flags = target.irq().flags()
    if flags & IRQ_WRITE_REQ:
        _append(link, target)
    event = _end_write(link, target) if flags & IRQ_END_WRITE else 0
    if flags & IRQ_READS:
        event |= EVENT_READ
    link._event = event
    return event


def position(frame):
    """How much of `frame`, the ring frame being written, is written; -1 once the frame has
    outgrown it."""
    end = len(frame) - POS_BYTES
    pos = frame[end] | frame[end + 1] << 8
    return -1 if pos == OUTGROWN else pos


def set_position(frame, pos):
    end = len(frame) - POS_BYTES
    pos &= OUTGROWN  # (-1: OUTGROWN)
    frame[end] = pos & 0xFF
    frame[end + 1] = pos >> 8


def _append(link, target):
    count = min(target.readinto(link._scratch), SCRATCH)
    pos = position(link._frame)
    if pos < 0 or pos + count > len(link._frame) - POS_BYTES:
        set_position(link._frame, -1)
    else:
        copy_into(link._frame, pos, link._scratch, 0, count)
        set_position(link._frame, pos + count)


def _end_write(link, target):
    if link._mem is None:
        n = position(link._frame)
        set_position(link._frame, 0)
    else:
        n = from_memory(link._mem, target.memaddr, link._frame, len(link._frame) - POS_BYTES)
    if not n:
        return EVENT_PROBE
    reason = TOO_LONG if n < 0 else check_frame(link._frame, n, link._pec_init)
    if reason:
        return reason
    return 0 if link._queue(n) else RING_FULL


# A memory-mode target (I2CTarget(..., mem=link._mem, mem_addrsize=8), mctp.i2c.I2CMemLink)
# collects a write in C: the command code is the register address, the bytes after it land in
# mem from there on (wrapping at its end), and END_WRITE comes once the write has ended, with
# target.memaddr the register. The port cannot say how many bytes came, so the frame is read
# from its byte count, and every byte read is zeroed: a write cut short then leaves zeros where
# its last bytes should be, which the PEC check refuses, rather than the bytes of an earlier
# frame (a controller retrying a frame it lost arbitration on would otherwise have it taken
# twice). A zero count is what a write with nothing after the command leaves: a probe, not a
# frame. A frame too long for the ring is dropped with its count zeroed.


def from_memory_py(mem, at, frame, end):
    """Move the frame written at register `at` of `mem` into `frame` as the FIFO mode has it
    (the command code first), zeroing what it read; its length, 0 for none (a probe), or -1
    when it would not fit in frame[:end] (its count zeroed)."""
    n = mem[at] + 3  # command, count, counted bytes, PEC
    if n == 3 or n > end:
        mem[at] = 0
        return 0 if n == 3 else -1
    frame[0] = at
    first = len(mem) - at  # what comes before the memory's end, where the port wraps
    if first >= n - 1:
        first = n - 1
    else:
        end = (n - 1 - first) << 16 | 1 + first  # (a local: a small frame, [frame-limit])
        move_span(frame, mem, 0, end)
    end = first << 16 | 1
    move_span(frame, mem, at, end)
    return n


def poll_py(link, core):
    if link._service is not None:
        link._service(len(link._ring) - 1 - link.pending())
    while link._r != link._w:
        # Packets that continue a message straight into the core's fast path, as many as come
        # in a row.
        link.counters.rx_frames += _drain(link, core)
        if link._r == link._w or link._result == RX_FULL:
            return
        frame = link._ring[link._r]
        link.counters.rx_frames += 1
        if link._gaps[link._r]:
            core.abort_link(link)  # frames were lost just before this one
        # In an attribute, not a local ([frame-limit]).
        link._result = core.receive(
            link,
            frame,
            RX_PACKET_AT,
            link._lengths[link._r] - RX_FRAMING,
            frame[RX_SOURCE_AT] >> 1,
        )
        if link._result:
            link._learn(frame)
        link._r = (link._r + 1) % len(link._ring)
        if link._result == RX_FULL:
            return


def _drain(link, core):
    # The packets at the ring's read end that continue a message, into the core's fast path
    # until one fills a queue (link._result RX_FULL); how many.
    taken = 0
    link._result = RX_TAKEN
    while link._r != link._w and link._result != RX_FULL and _middle(link, core):
        taken += 1
    return taken


def _middle(link, core):
    # True when the core took the frame at link._r as a packet that continues a message
    # (link._r moved on); link._result what the core said of it.
    frame = link._ring[link._r]
    if frame[RX_PACKET_AT + FLAGS_AT] & FLAG_SOM or link._gaps[link._r]:
        return False
    link._result = core.receive_middle(frame, RX_PACKET_AT, link._lengths[link._r] - RX_FRAMING)
    if not link._result:
        return False
    link._result = core.hand_on() if link._result == LAST else RX_TAKEN
    r = link._r
    if frame[RX_PACKET_AT + SRC_EID_AT] | frame[RX_SOURCE_AT] << 8 != link._last_from:
        link._learn(frame)
    r += 1
    link._r = 0 if r == len(link._ring) else r
    return True


try:
    from ._ring_viper import from_memory, poll, take
except (ImportError, SyntaxError):
    from_memory = from_memory_py
    poll = poll_py
    take = take_py
