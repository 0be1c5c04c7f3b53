# The packet paths' fast paths: the per-packet work of receiving and of sending, each one call
# into viper code on boards, with a pure-Python version that gives the same results
# ([viper-twin]).
#
# Receive: a packet that continues a message (every packet of a long message but its first),
# and the first packet of a message, each taken with one call. append_middle(core, buf, off,
# length), Core.receive_middle, checks the packet buf[off:off + length] as Core.receive would
# (header version, a valid source, our EID or EID 0 as destination, or broadcast for a control
# request). A packet that continues a message must find the slot assembling it in the pool's
# `meta` bytes, in sequence and of its size (that of the first packet; a last packet, EOM set,
# no larger): its payload is appended and the slot moves on. A first packet goes to
# first_packet(core, buf, off, length): a whole control request (SOM, EOM, TO, type 0 without
# IC), with a responder attached, to control_request(), which, when the control slot is free
# and the request restarts no message, offers it to the responder's quick_reply first
# (link.ControlHandler: a request answered from its packet is taken, counted in rx_packets
# and rx_messages, and MIDDLE returned, no slot used), else puts it into the control slot when
# that has room; any other first packet, to the unicast
# destination, that restarts no message, whose owner (the sink's listener for a request, the
# flow's owner for a response) holds fewer than Config.queue_limit slots, into a free slot of
# the pool with room for it. Either way start_message(core, buf, off, at_length) sets the slot
# up as Core._fill does, the link and physical address being core._rx_link and _rx_phys
# (Core.receive sets them before it calls; with _rx_link None, only a control request is
# taken, without them). Each returns MIDDLE for a
# packet it took that leaves nothing for Core.receive to hand on (its message unfinished, or a
# control request answered), LAST for one that completed it (a last
# packet, a single-packet message: the slot is then COMPLETE, counted in rx_messages, and
# core._rx_done, which Core.receive hands on), and 0 for anything else (a drop of any kind, an
# eviction, a restart), having changed nothing: Core.receive's full path decides and counts,
# so every rule stays in one place there and this is only a shortcut past it. A packet taken
# is counted in rx_packets. owned(meta, owner) counts the pool's slots that hold messages for
# `owner`.
#
# The viper version scans the pool's `meta` bytes: a packet then costs about one call and
# three attribute reads instead of some fifty attribute reads and eight calls.
#
# Hand-over: hand_on(core), Core.hand_on, hands on the message in core._rx_done, which the
# fast path just completed, as Core._complete does for the full path's (the reply route or the
# flow, the sink's delivery, RX_FULL when the owner's queue is full; a control request to the
# responder), with its own try ([try-apart]: a fault counted by Core._fault); RX_TAKEN or
# RX_FULL. In viper it is one call under the answer or the delivery, where the bytecode made
# two frames.
#
# Release: release(core, slot), Core.release, frees the slot whose message the sink has taken:
# the request's reply-route entry, if it still is that request's, marked taken (the serial
# after the newest), then the slot as ReassemblyPool.release leaves it. In viper it is one call
# from the reader, where the bytecode made four.
#
# Send: fill_packet(core, flags, room) writes the next packet of the message Core.send or
# Core.respond is sending (core._tx_*) into its link's transmit buffer at tx_off: the header
# with `flags` (SOM, EOM) and the sequence number, the type byte in the first packet, and up to
# `room` payload bytes; it moves core._tx_off and _tx_left on and returns the packet's length.
# It is send_packets_py's step (the viper send_packets fills inline), in bytecode only: it runs
# only under a capture, which takes it over to record each packet.
#
# send_packets(core), Core.send's and Core.respond's, sends the whole message: each packet
# filled as fill_packet does, then handed to the link's transmit(length, phys), until the last
# or until the link refuses one. It returns the packets sent, or ~sent (-1 - sent) when the
# link refused the next. Before the first packet it checks the message's range in its buffer,
# the link's tx_off (at most MAX_TX_OFF) and mtu (1..250) and that a packet fits the link's
# buffer (ValueError). The viper version reads the core's and the link's fields once a message
# and fills each packet inline (copy_span, asm_thumb on Thumb boards, copies the payload): a
# packet then costs the copy of its payload and the link's transmit. send_packets_py fills
# through core._fill_packet (mctp.capture puts send_packets_py in the core's place while it
# records, and its own step in _fill_packet's).

from .._compat import const
from ..bufcopy import copy_into
from .link import RX_TAKEN
from .reassembly import FREE, NEXT_SEQ_AT, OWNER_AT, SLOT_META, SLOT_SHIFT, STATE_AT, owned_py
from .packet import (
    MAX_MTU,
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

# constants.MSG_TYPE_CONTROL and core.CONTROL_OWNER ([const-copy]: the core imports this).
_MSG_TYPE_CONTROL = const(0)
_CONTROL_OWNER = const(0x100)

# What append_middle returns for a packet it took.
MIDDLE = const(1)
LAST = const(2)  # a message's last packet: core._rx_done is the slot it completed


def append_middle_py(core, buf, off, length):
    if not _valid(core, buf, off, length):
        return 0
    if buf[off + 3] & FLAG_SOM:
        return first_packet_py(core, buf, off, length)
    slot = _continued(core, buf, off, length)
    if slot is None:
        return 0
    core.counters.rx_packets += 1
    if not buf[off + 3] & FLAG_EOM:
        return MIDDLE
    completed(core, slot)
    return LAST


def _valid(core, buf, off, length):
    # The header's checks: a broadcast only for a first packet (the control request's).
    if length <= TRANSPORT_HEADER_SIZE or off < 0 or off + length > len(buf):
        return False
    dest = buf[off + 1]
    src = buf[off + 2]
    return not (
        buf[off] & VERSION_MASK != HEADER_VERSION
        or src == 0xFF
        or 1 <= src <= 7
        or (dest != 0 and dest != core.eid and (dest != 0xFF or not buf[off + 3] & FLAG_SOM))
    )


def first_packet_py(core, buf, off, length):
    if buf[off + 3] & FLAG_TO and not buf[off + 4] & 0x7F and core.control is not None:
        return control_request_py(core, buf, off, length)
    if buf[off + 1] == 0xFF or core._rx_link is None:
        return 0
    at = _slot_for(core, _first_owner(core, buf, off), length)
    if at < 0:
        return 0
    return start_message_py(core, buf, off, at << 16 | length)


def _first_owner(core, buf, off):
    # Who takes the message, as Core._owner says (without counting), or -1: for nobody, and
    # for a packet that restarts a message.
    if core.pool.find(buf[off + 2], buf[off + 3]) is not None:
        return -1
    if buf[off + 3] & FLAG_TO:
        return core.sink.accept_request(buf[off + TRANSPORT_HEADER_SIZE] & 0x7F)
    flow = core.flows.match(buf[off + 2], buf[off + 3] & TAG_MASK)
    return -1 if flow is None else flow.owner


def _slot_for(core, owner, length):
    # The meta offset of a free slot with room for a first packet of `length` bytes, its
    # owner's bytes written there for start_message; -1 for no owner, an owner that holds its
    # quota, no free slot or no room.
    if owner < 0 or owned_py(core._meta, owner) >= core.config.queue_limit:
        return -1
    slot = core.pool.alloc()
    if slot is None or length - TRANSPORT_HEADER_SIZE - 1 > len(slot.buf):
        return -1
    core._meta[(slot.index << SLOT_SHIFT) + OWNER_AT] = owner & 0xFF
    core._meta[(slot.index << SLOT_SHIFT) + OWNER_AT + 1] = owner >> 8
    return slot.index << SLOT_SHIFT


def start_message_py(core, buf, off, at_length):
    # The first packet into the free slot at meta offset at_length >> 16 (the packet's length
    # in its low 16 bits), for the owner _slot_for wrote into the slot's bytes.
    slot = core.pool.control_slot
    if at_length >> 16 < core.pool.meta_end:
        slot = core.pool.slots[at_length >> 16 >> SLOT_SHIFT]
    slot.owner = slot.meta[OWNER_AT] | slot.meta[OWNER_AT + 1] << 8
    _message_fields(core, slot, buf[off + TRANSPORT_HEADER_SIZE])
    at_length = (at_length & 0xFFFF) - TRANSPORT_HEADER_SIZE - 1  # the payload's count
    off += FLAGS_AT  # (the header's fields from here: a shallower stack, [frame-limit])
    core.pool.start(slot, buf[off - FLAGS_AT + SRC_EID_AT], buf[off], at_length)
    copy_into(slot.buf, 0, buf, off + TRANSPORT_HEADER_SIZE + 1 - FLAGS_AT, at_length)
    core.counters.rx_packets += 1
    if not buf[off] & FLAG_EOM:
        return MIDDLE
    completed(core, slot)
    return LAST


def _message_fields(core, slot, type_byte):
    slot.msg_type = type_byte & 0x7F
    slot.ic = type_byte > 0x7F
    slot.link = core._rx_link
    slot.phys = core._rx_phys
    slot.started = core.clock()


def control_request_py(core, buf, off, length):
    if not _fits_control_slot(core, buf, off, length):
        return 0
    if core.control.quick_reply(buf, off, length):
        core.counters.rx_packets += 1
        core.counters.rx_messages += 1
        return MIDDLE
    at = len(core._meta) - SLOT_META  # the control slot's bytes
    core._meta[at + OWNER_AT] = _CONTROL_OWNER & 0xFF
    core._meta[at + OWNER_AT + 1] = _CONTROL_OWNER >> 8
    return start_message_py(core, buf, off, at << 16 | length)


def _fits_control_slot(core, buf, off, length):
    slot = core.pool.control_slot
    return not (
        buf[off + 3] & (FLAG_EOM | FLAG_TO) != FLAG_EOM | FLAG_TO
        or buf[off + TRANSPORT_HEADER_SIZE] != _MSG_TYPE_CONTROL
        or core.control is None
        or slot.meta[STATE_AT] != FREE
        or core.pool.find(buf[off + 2], buf[off + 3]) is not None  # (a som_restart)
        or length - TRANSPORT_HEADER_SIZE - 1 > len(slot.buf)
    )


def completed(core, slot):
    """The packet just taken completed the message in `slot`: complete, counted, and
    core._rx_done (the full path's, Core._fill and _append, as the fast path's)."""
    core.pool.complete(slot)
    core.counters.rx_messages += 1
    core._rx_done = slot


def _continued(core, buf, off, length):
    # The slot assembling the message the packet continues, the packet appended; or None.
    slot = core.pool.find(buf[off + 2], buf[off + 3])
    if slot is None or not _append(slot, buf, off, length):
        return None
    return slot


def _append(slot, buf, off, length):
    count = length - TRANSPORT_HEADER_SIZE
    if (
        slot.meta[NEXT_SEQ_AT] != (buf[off + 3] >> SEQ_SHIFT) & SEQ_MASK
        or count > slot.packet_len()
        or (count != slot.packet_len() and not buf[off + 3] & FLAG_EOM)
        or slot.assembled() + count > len(slot.buf)
    ):
        return False
    copy_into(slot.buf, slot.assembled(), buf, off + TRANSPORT_HEADER_SIZE, count)
    slot.advance(count)
    return True


def hand_on_py(core):
    core._rx_result = RX_TAKEN
    try:
        done = core._rx_done  # (a local: measured 16 bytes less C stack under an answer)
        if core._complete(done):
            # A control request, answered now, from the slot's own link and address: no reply
            # route.
            core.control.handle(done)
    except Exception:
        core._fault()
    core._rx_done = None
    return core._rx_result


def release_py(core, slot):
    if slot.reply is not None:
        core.reply_routes.mark_taken(slot.reply, slot.reply_serial)
    core.pool.release(slot)


def fill_packet(core, flags, room):
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


# The largest link.tx_off send_packets takes: a binding's framing before a packet is a few bytes.
MAX_TX_OFF = const(255)


def send_packets_py(core):
    _check_message(core)
    link = core._tx_link
    core._tx_seq = 0
    flags = FLAG_SOM
    room = link.mtu - 1
    sent = 0
    while link.transmit(
        core._fill_packet(flags | FLAG_EOM if core._tx_left <= room else flags, room),
        core._tx_phys,
    ):
        sent += 1
        if not core._tx_left:
            return sent
        flags = 0
        room = link.mtu
        core._tx_seq = (core._tx_seq + 1) & SEQ_MASK
    return ~sent


def _check_message(core):
    link = core._tx_link
    if not (0 <= link.tx_off <= MAX_TX_OFF and 1 <= link.mtu <= MAX_MTU):
        raise ValueError("link's tx_off beyond 255 or mtu out of 1..250")
    if (
        link.tx_off < 0
        or link.tx_off + TRANSPORT_HEADER_SIZE + link.mtu > len(link.tx_buf)
        or core._tx_off < 0
        or core._tx_left < 0
        or core._tx_off + core._tx_left > len(core._tx_buf)
    ):
        raise ValueError("message out of its buffer or packet out of the link's")


try:
    from ._fastpath_viper import (
        append_middle,
        control_request,
        first_packet,
        hand_on,
        owned,
        release,
        send_packets,
        start_message,
    )
except (ImportError, SyntaxError):
    append_middle = append_middle_py
    control_request = control_request_py
    first_packet = first_packet_py
    hand_on = hand_on_py
    owned = owned_py
    release = release_py
    send_packets = send_packets_py
    start_message = start_message_py
