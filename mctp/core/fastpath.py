# The packet paths' fast paths: the per-packet work of receiving and of sending, each one call
# into viper code on boards, with a pure-Python version that gives the same results
# ([viper-twin]).
#
# Receive: a packet that continues a message (neither its first packet nor a single-packet
# message), which is every packet of a long message but its first, taken with one call.
# append_middle(core, buf, off, length), Core.receive_middle, checks the packet
# buf[off:off + length] as Core.receive would (header version, our EID or EID 0 as
# destination, a valid source, SOM clear), finds the slot assembling its message in the pool's
# `meta` bytes, checks its sequence number and its size (that of the first packet; a last
# packet, EOM set, no larger), appends its payload and moves the slot on. It returns MIDDLE
# for a middle packet it took, LAST for a last packet it took (core._rx_done is then its
# slot, which holds the whole message, and Core.receive completes it and hands it on), and 0
# for anything else (a first packet, a drop of any kind), having changed nothing: Core.receive's
# full path decides and counts, so every rule stays in one place there and this is only a
# shortcut past it. A packet taken is counted in rx_packets.
#
# The viper version scans the pool's `meta` bytes: a packet then costs about one call and
# three attribute reads instead of some fifty attribute reads and eight calls.
#
# Send: fill_packet(core, flags, room) writes the next packet of the message Core.send or
# Core.respond is sending (core._tx_*) into its link's transmit buffer at tx_off: the header
# with `flags` (SOM, EOM) and the sequence number, the type byte in the first packet, and up to
# `room` payload bytes; it moves core._tx_off and _tx_left on and returns the packet's length.

from .._compat import const
from ..bufcopy import copy_into
from .reassembly import NEXT_SEQ_AT
from .packet import (
    DEST_EID_AT,
    FLAGS_AT,
    SRC_EID_AT,
    VERSION_AT,
    FLAG_EOM,
    FLAG_SOM,
    FLAG_TO,
    HEADER_VERSION,
    SEQ_MASK,
    SEQ_SHIFT,
    TAG_MASK,
    TRANSPORT_HEADER_SIZE,
    VERSION_MASK,
)

# What append_middle returns for a packet it took.
MIDDLE = const(1)
LAST = const(2)  # a message's last packet: core._rx_done is the slot it completed


def append_middle_py(core, buf, off, length):
    if not _continues(core, buf, off, length):
        return 0
    slot = core.pool.find(buf[off + 2], buf[off + 3])
    if slot is None or not _append(slot, buf, off, length - TRANSPORT_HEADER_SIZE):
        return 0
    core.counters.rx_packets += 1
    if buf[off + 3] & FLAG_EOM:
        core._rx_done = slot
        return LAST
    return MIDDLE


def _continues(core, buf, off, length):
    if length <= TRANSPORT_HEADER_SIZE or off < 0 or off + length > len(buf):
        return False
    dest = buf[off + 1]
    src = buf[off + 2]
    return not (
        buf[off] & VERSION_MASK != HEADER_VERSION
        or buf[off + 3] & FLAG_SOM
        or src == 0xFF
        or 1 <= src <= 7
        or (dest != 0 and dest != core.eid)
    )


def _append(slot, buf, off, count):
    packet_len = slot.packet_len()
    if (
        slot.meta[NEXT_SEQ_AT] != (buf[off + 3] >> SEQ_SHIFT) & SEQ_MASK
        or count > packet_len
        or (count != packet_len and not buf[off + 3] & FLAG_EOM)
        or slot.assembled() + count > len(slot.buf)
    ):
        return False
    copy_into(slot.buf, slot.assembled(), buf, off + TRANSPORT_HEADER_SIZE, count)
    slot.advance(count)
    return True


def fill_packet_py(core, flags, room):
    out = core._tx_link.tx_buf
    o = core._tx_link.tx_off
    out[o + VERSION_AT] = HEADER_VERSION
    out[o + DEST_EID_AT] = core._tx_dest
    out[o + SRC_EID_AT] = core.eid
    out[o + FLAGS_AT] = flags | core._tx_seq << SEQ_SHIFT | core._tx_flags
    if flags & FLAG_SOM:
        out[o + TRANSPORT_HEADER_SIZE] = core._tx_type
        return _chunk(core, out, o + TRANSPORT_HEADER_SIZE + 1, room) - o
    return _chunk(core, out, o + TRANSPORT_HEADER_SIZE, room) - o


def _chunk(core, out, o, room):
    # The next payload bytes at out[o:]; where they end.
    count = core._tx_left if core._tx_left < room else room
    copy_into(out, o, core._tx_buf, core._tx_off, count)
    core._tx_off += count
    core._tx_left -= count
    return o + count


try:
    from ._fastpath_viper import append_middle, fill_packet
except (ImportError, SyntaxError):
    append_middle = append_middle_py
    fill_packet = fill_packet_py
