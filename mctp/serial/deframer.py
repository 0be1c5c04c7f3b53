# The receive side of the serial binding: deframe(link, buf, n) runs the bytes buf[:n], as they
# came off the line, through a byte-level state machine whose state lives in the link (so a
# frame may arrive in any number of pieces), unescapes each packet straight into the link's
# receive ring (link._ring[W_AT], the position it writes), checks it at its closing flag and
# queues it: its length and gap mark at that position, link._w moved on, and link._wake.set()
# when there is a wake. It returns how many frames it queued. `link` is a SerialLink: the
# ring's fields are laid out as mctp.core.link.RingLink states (the deframer keeps its gap mark
# and its place in the ring in its own state, link._rx: see new_state below, and leaves
# RingLink's _gap and _frame alone).
#
# Every byte that is not part of a good frame is a counted drop (link._drop(reason), which also
# sets the gap mark: the next frame queued tells poll that packets may have been lost before it):
#   bad_fcs       the FCS does not match
#   bad_revision  the byte after an opening flag is neither a flag nor revision 0x01
#   bad_count     the byte after the FCS, where the count puts the closing flag, is not a flag
#   truncated     a flag inside the packet: the frame was cut short (or its count too large)
#   too_long      a count above what the link takes (its rx_mtu + 4)
#   too_short     a count below a transport header and one payload byte
#   bad_escape    0x7D followed by anything but 0x5E or 0x5D
#   noise         a byte outside any frame (counted per byte)
#   ring_full     a good frame with no room left in the ring
# After a drop the rest of the frame is skipped up to the next flag, which may open the next
# frame (a flag inside the packet is one), so the receiver is back in step at the next 0x7E.
# The FCS is not escaped and may hold 0x7E, so the two bytes after the packet are taken
# whatever they are and only the byte after them must be a flag. A closing flag may double as
# the next frame's opening flag (HDLC allows one flag between frames; Linux and libmctp send
# two), and any number of flags may come between frames.
#
# The link's reads: read(link, most) takes up to `most` (at most CHUNK) of the bytes the stream
# holds (link._any(), link._readinto(), its bound methods) into link._chunk and through
# link._deframe; it returns how many.
#
# The link's poll: deliver(link, core) hands the packets at the ring's read end to the core, in
# order: a middle packet of a message (neither SOM nor EOM) that follows no drop to
# core.receive_middle (the core's fast path), any other, or one the fast path refuses, to
# core.receive (after core.abort_link when bytes were lost before it). It moves link._r on
# after each and returns how many it handed over, or, when it stopped because the core
# answered RX_FULL, -1 minus that (the rest wait in the ring for the next poll).
#
# Boards use the viper deframe, read and deliver; the pure-Python ones give the same results
# ([viper-twin]). The viper deframe hands a packet's plain bytes to plain_span (Thumb boards) or
# plain_run in one call; plain_run_py is their twin.

from array import array

from .._compat import const
from ..core.link import RX_FULL, RX_TAKEN
from ..core.packet import FLAG_EOM, FLAG_SOM, FLAGS_AT
from .framing import ESCAPE, ESCAPED_BIT, FCS_AFTER_REVISION, FLAG, MIN_COUNT, REVISION
from .framing import fcs16, fcs_byte

# Why bytes were dropped: a link counts each under this name (DROP_NAMES[reason - 1]).
DROP_NAMES = (
    "bad_fcs",
    "bad_revision",
    "bad_count",
    "truncated",
    "too_long",
    "too_short",
    "bad_escape",
    "noise",
    "ring_full",
)
BAD_FCS = const(1)
BAD_REVISION = const(2)
BAD_COUNT = const(3)
TRUNCATED = const(4)
TOO_LONG = const(5)
TOO_SHORT = const(6)
BAD_ESCAPE = const(7)
NOISE = const(8)
RING_FULL = const(9)

# The states (at STATE_AT).
HUNT = const(0)  # outside any frame: a byte that is not a flag is noise
SKIP = const(1)  # the rest of a dropped frame, up to the next flag
OPENED = const(2)  # after a flag: more flags, or the revision of a frame
CLOSED = const(3)  # after a frame's closing flag: a flag, the revision of a frame, or noise
COUNT = const(4)  # the byte count
DATA = const(5)  # the packet's bytes: POS_AT of COUNT_AT so far
ESCAPED = const(6)  # after a 0x7D inside the packet
FCS_HIGH = const(7)
FCS_LOW = const(8)
CLOSING = const(9)  # the closing flag is due

# The deframer's own state, in link._rx (an array("H"), made by new_state: one attribute read
# a call, the rest through a pointer in the viper deframe).
STATE_AT = const(0)  # where in a frame it is (the states above)
POS_AT = const(1)  # how much of the packet is written
COUNT_AT = const(2)  # the packet's byte count
CRC_AT = const(3)  # the FCS so far over the packet (the viper deframe's)
GAP_AT = const(4)  # 1 when bytes were dropped since the last frame queued (RingLink's _gap)
W_AT = const(5)  # the deframer's copy of link._w (it alone moves _w)
R_AT = const(6)  # link._r as last read: _r only moves on towards _w, so the ring cannot be full
# while the next _w differs from it, and _r is read again only when it does not
SIZE_AT = const(7)  # len(link._ring)
MAX_COUNT_AT = const(8)  # the largest count taken (the link's rx_mtu + 4)
WAKE_AT = const(9)  # 1 when link._wake is set (so a link without one never reads it)
_FIELDS = const(10)


def new_state(size, max_count, wake):
    """The deframer's state for a link whose ring has `size` frames of `max_count` packet
    bytes and FCS each, and `wake` (None or not): in HUNT, nothing written, at ring position
    0."""
    state = array("H", bytes(2 * _FIELDS))
    state[SIZE_AT] = size
    state[MAX_COUNT_AT] = max_count
    state[WAKE_AT] = wake is not None
    return state


def deframe_py(link, buf, n):
    queued = 0
    i = 0
    while i < n:
        if link._rx[STATE_AT] == DATA:
            i = _data(link, buf, i, n)
            if i == n or link._rx[STATE_AT] != DATA:
                continue
        queued += _byte(link, link._rx, buf[i])  # (in DATA: the flag or escape _data stopped at)
        i += 1
    return queued


def _data(link, buf, i, n):
    # The packet's plain bytes, as many as come in a row; a flag or an escape is left for
    # _byte. Returns where it stopped.
    st = link._rx
    frame = link._ring[st[W_AT]]
    pos = st[POS_AT]
    while i < n and pos < st[COUNT_AT]:
        b = buf[i]
        if b == FLAG or b == ESCAPE:
            break
        frame[pos] = b
        pos += 1
        i += 1
    st[POS_AT] = pos
    if pos == st[COUNT_AT]:
        st[STATE_AT] = FCS_HIGH
    return i


def _byte(link, st, b):
    # One byte in any state, but a plain packet byte; 1 when it ended a frame that was queued.
    state = st[STATE_AT]
    if state == FCS_HIGH:
        link._ring[st[W_AT]][st[COUNT_AT]] = b
        st[STATE_AT] = FCS_LOW
    elif state == FCS_LOW:
        link._ring[st[W_AT]][st[COUNT_AT] + 1] = b
        st[STATE_AT] = CLOSING
    elif state == CLOSING:
        if b == FLAG:
            st[STATE_AT] = CLOSED
            return _close(link, st)
        _drop(link, st, BAD_COUNT, SKIP)
    elif b == FLAG:
        if COUNT <= state <= ESCAPED:
            _drop(link, st, TRUNCATED, OPENED)  # and this flag opens the next frame
        else:
            st[STATE_AT] = OPENED
    elif state == DATA:  # (an escape: _data takes the other bytes)
        st[STATE_AT] = ESCAPED
    elif state == ESCAPED:
        if b == FLAG ^ ESCAPED_BIT or b == ESCAPE ^ ESCAPED_BIT:
            _unescaped(link._ring[st[W_AT]], st, b ^ ESCAPED_BIT)
        else:
            _drop(link, st, BAD_ESCAPE, SKIP)
    elif state == COUNT:
        _count(link, st, b)
    elif b == REVISION and (state == OPENED or state == CLOSED):
        st[STATE_AT] = COUNT
    elif state == OPENED:
        _drop(link, st, BAD_REVISION, SKIP)
    elif state != SKIP:  # HUNT or CLOSED
        _drop(link, st, NOISE, HUNT)
    return 0


def _drop(link, st, reason, state):
    st[STATE_AT] = state
    link._drop(reason)


def _count(link, st, n):
    if n < MIN_COUNT:
        _drop(link, st, TOO_SHORT, SKIP)
    elif n > st[MAX_COUNT_AT]:
        _drop(link, st, TOO_LONG, SKIP)
    else:
        st[COUNT_AT] = n
        st[POS_AT] = 0
        st[STATE_AT] = DATA


def _unescaped(frame, st, b):
    frame[st[POS_AT]] = b
    st[POS_AT] += 1
    st[STATE_AT] = FCS_HIGH if st[POS_AT] == st[COUNT_AT] else DATA


def _close(link, st):
    # The closing flag came where the count put it: check the FCS, then queue the frame.
    count = st[COUNT_AT]
    frame = link._ring[st[W_AT]]
    if fcs16(frame, 0, count, fcs_byte(FCS_AFTER_REVISION, count)) != (
        frame[count] << 8 | frame[count + 1]
    ):
        link._drop(BAD_FCS)
        return 0
    if not _queue(link, st, count):
        link._drop(RING_FULL)
        return 0
    return 1


def _queue(link, st, count):
    # The frame at W into the ring (its length and gap mark), W moved on; False when the ring
    # is full. (The viper deframe has it inline.)
    at = st[W_AT]
    w = at + 1
    if w == st[SIZE_AT]:
        w = 0
    if w == st[R_AT]:
        st[R_AT] = link._r
        if w == st[R_AT]:
            return False
    link._lengths[at] = count
    link._gaps[at] = st[GAP_AT]
    st[GAP_AT] = 0
    st[W_AT] = w
    link._w = w
    if st[WAKE_AT]:
        link._wake.set()
    return True


def plain_run_py(frame, i, buf, packed):
    """The viper deframe's byte loop: copies buf[i:] into frame[pos:] up to a flag or an escape,
    at most k bytes, and continues the FCS crc over each; `packed` is k | pos << 7 | crc << 14
    (k, pos < 128: one small int on every port). Returns how many it copied | the FCS << 7."""
    end = i + (packed & 0x7F)
    pos = packed >> 7 & 0x7F
    crc = packed >> 14
    packed = i  # ([frame-limit]: where it started)
    while i < end and buf[i] != FLAG and buf[i] != ESCAPE:
        frame[pos] = buf[i]
        crc = fcs_byte(crc, buf[i])
        pos += 1
        i += 1
    return (i - packed) | crc << 7


def read_py(link, most):
    n = link._any()
    if not n:
        return 0
    n = link._readinto(link._chunk, n if n < most else most) or 0
    link._deframe(link._chunk, n)
    return n


def deliver_py(link, core):
    taken = 0
    while link._r != link._w:
        taken += 1
        if _hand_over(link, core, link._r) == RX_FULL:
            return -1 - taken
    return taken


def _hand_over(link, core, r):
    # The packet at ring position r to the core, and link._r moved on; what the core said
    # (RX_TAKEN for the fast path's).
    if not (link._ring[r][FLAGS_AT] & (FLAG_SOM | FLAG_EOM) or link._gaps[r]) and (
        core.receive_middle(link._ring[r], 0, link._lengths[r])
    ):
        link._r = 0 if r + 1 == len(link._ring) else r + 1
        return RX_TAKEN
    if link._gaps[r]:
        core.abort_link(link)  # bytes were lost just before this packet
    result = core.receive(link, link._ring[r], 0, link._lengths[r], 0)
    link._r = 0 if r + 1 == len(link._ring) else r + 1
    return result


try:
    from ._deframer_viper import deframe, plain_run, read
    from ._deliver_viper import deliver
except (ImportError, SyntaxError):
    deframe = deframe_py
    deliver = deliver_py
    read = read_py
    plain_run = plain_run_py

try:
    # plain_run in Thumb machine code (about 24 Cortex-M0 instructions a byte; viper's 100).
    from ._deframer_asm import plain_span
except (ImportError, SyntaxError):  # not a Thumb port: no inline assembler
    plain_span = plain_run
