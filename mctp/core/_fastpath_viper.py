# The viper append_middle(), first_packet(), control_request(), start_message(), owned(),
# hand_on(), release() and send_packets() used on MicroPython (see mctp.core.fastpath, which
# imports them under try/except and says what they do), and oldest_reply() (mctp.core.routes's,
# likewise).

import micropython

from .._compat import const, ticks_diff
from ..bufcopy import copy_span

# packet's and reassembly's constants, and fastpath's MAX_TX_OFF ([const-copy]).
_TRANSPORT_HEADER_SIZE = const(4)
_VERSION_MASK = const(0x0F)
_HEADER_VERSION = const(1)
_FLAG_SOM = const(0x80)
_FLAG_EOM = const(0x40)
_FLAG_TO = const(0x08)
_TAG_MASK = const(0x07)
_SEQ_SHIFT = const(4)
_SEQ_MASK = const(0x03)
_FREE = const(0)
_ASSEMBLING = const(1)
_COMPLETE = const(2)
_SLOT_SHIFT = const(4)
_SLOT_META = const(16)
_STATE_AT = const(0)
_SRC_AT = const(1)
_TAG_AT = const(2)
_TO_AT = const(3)
_NEXT_SEQ_AT = const(4)
_PACKET_LEN_AT = const(6)
_LENGTH_AT = const(8)
_OWNER_AT = const(10)
_SLOTS_AT = const(12)
_PAYLOAD_AT = const(14)
_EID_AT = const(12)
_CONTROL_SLOT_SIZE = const(249)
_TYPE_MASK = const(0x7F)
_MAX_MTU = const(250)
_MAX_TX_OFF = const(255)  # (copy_span's destination offset: below 65536)
_MSG_TYPE_CONTROL = const(0)
_CONTROL_OWNER = const(0x100)
# fastpath's answers; core.link's of core.receive.
_MIDDLE = const(1)
_LAST = const(2)
_RX_TAKEN = const(1)
_RX_FULL = const(2)
_len = len  # [builtin-global]
_ONE = 1  # an object, for arithmetic on objects
_NONE = None  # an object, to store and for `is` (viper's None is of its own type)
_SERIAL_BITS = const(30)  # routes' [small-int] serials


@micropython.viper
def append_middle(core, buf, off: int, length: int) -> int:
    # (Kept small, the control request apart: with it inline, an early return hard-faulted the
    # Cortex-M0 (Thumb-1 code, its long jumps through r1) in the conversion of the returned
    # int, mp_native_to_obj, where the Cortex-M3 ran it.)
    if length <= _TRANSPORT_HEADER_SIZE or off < 0 or off + length > int(_len(buf)):
        return 0
    p = ptr8(buf)
    dest = p[off + 1]
    src = p[off + 2]
    flags = p[off + 3]
    if p[off] & _VERSION_MASK != _HEADER_VERSION:
        return 0
    if src == 0xFF or (src >= 1 and src <= 7):
        return 0
    m = ptr8(core._meta)
    end = (m[_SLOTS_AT] | m[_SLOTS_AT + 1] << 8) << _SLOT_SHIFT  # (the control slot's follow)
    if dest != 0 and dest != m[end + _EID_AT] and (dest != 0xFF or not flags & _FLAG_SOM):
        return 0  # (broadcast: a control request only, and the full path's otherwise)
    if flags & _FLAG_SOM:
        # A control request's answer from here, not under first_packet: a viper frame less
        # under it ([c-stack]).
        if flags & _FLAG_TO and core.control:
            if p[off + _TRANSPORT_HEADER_SIZE] & _TYPE_MASK == _MSG_TYPE_CONTROL:
                return int(control_request(core, buf, off, length))
        return int(first_packet(core, buf, off, length))
    tag = flags & _TAG_MASK
    to = flags & _FLAG_TO
    at = 0
    while at < end:
        if m[at + _STATE_AT] == _ASSEMBLING and m[at + _SRC_AT] == src:
            if m[at + _TAG_AT] == tag and m[at + _TO_AT] == to:
                break
        at += _SLOT_META
    if at >= end:
        return 0
    count = length - _TRANSPORT_HEADER_SIZE
    have = m[at + _LENGTH_AT] | m[at + _LENGTH_AT + 1] << 8
    if m[at + _NEXT_SEQ_AT] != (flags >> _SEQ_SHIFT) & _SEQ_MASK:
        return 0
    packet_len = m[at + _PACKET_LEN_AT] | m[at + _PACKET_LEN_AT + 1] << 8
    if count > packet_len or (count != packet_len and not flags & _FLAG_EOM):
        return 0
    if have + count > (m[_PAYLOAD_AT] | m[_PAYLOAD_AT + 1] << 8):
        return 0
    copy_span(core._bufs[at >> _SLOT_SHIFT], buf, off + _TRANSPORT_HEADER_SIZE, count << 16 | have)
    have += count
    m[at + _LENGTH_AT] = have & 0xFF
    m[at + _LENGTH_AT + 1] = have >> 8
    m[at + _NEXT_SEQ_AT] = (m[at + _NEXT_SEQ_AT] + 1) & _SEQ_MASK
    counters = core.counters
    counters.rx_packets = counters.rx_packets + _ONE  # (objects: a count may outgrow 32 bits)
    if not flags & _FLAG_EOM:
        return _MIDDLE
    m[at + _STATE_AT] = _COMPLETE  # (as pool.complete)
    slot = core.pool.slots[at >> _SLOT_SHIFT]
    slot.length = have
    counters.rx_messages = counters.rx_messages + _ONE
    core._rx_done = slot
    return _LAST


@micropython.viper
def first_packet(core, buf, off: int, length: int) -> int:
    p = ptr8(buf)
    src = p[off + 2]
    flags = p[off + 3]
    msg_type = p[off + _TRANSPORT_HEADER_SIZE] & _TYPE_MASK
    if flags & _FLAG_TO and msg_type == _MSG_TYPE_CONTROL and core.control:
        return int(control_request(core, buf, off, length))
    if p[off + 1] == 0xFF or not core._rx_link:
        return 0
    if flags & _FLAG_TO:
        owner = int(core.sink.accept_request(msg_type))
    else:
        flow = core.flows.match(src, flags & _TAG_MASK)
        if not flow:
            return 0
        owner = int(flow.owner)
    if owner < 0:
        return 0
    # One pass over the pool: no message to restart, the owner's count, a free slot.
    tag = flags & _TAG_MASK
    to = flags & _FLAG_TO
    m = ptr8(core._meta)
    end = (m[_SLOTS_AT] | m[_SLOTS_AT + 1] << 8) << _SLOT_SHIFT
    held = 0
    free = -1
    at = 0
    while at < end:
        state = m[at + _STATE_AT]
        if state == _FREE:
            if free < 0:
                free = at
        elif (m[at + _OWNER_AT] | m[at + _OWNER_AT + 1] << 8) == owner:
            held += 1
        if state == _ASSEMBLING and m[at + _SRC_AT] == src:
            if m[at + _TAG_AT] == tag and m[at + _TO_AT] == to:
                return 0  # it restarts a message: som_restart is the full path's
        at += _SLOT_META
    if free < 0 or held >= int(core.config.queue_limit):
        return 0
    if length - _TRANSPORT_HEADER_SIZE - 1 > (m[_PAYLOAD_AT] | m[_PAYLOAD_AT + 1] << 8):
        return 0
    m[free + _OWNER_AT] = owner & 0xFF  # (a free slot's: start_message's to read)
    m[free + _OWNER_AT + 1] = owner >> 8
    return int(start_message(core, buf, off, free << 16 | length))


@micropython.viper
def start_message(core, buf, off: int, at_length: int) -> int:
    at = at_length >> 16
    count = (at_length & 0xFFFF) - _TRANSPORT_HEADER_SIZE - 1  # after the type byte
    p = ptr8(buf)
    src = p[off + 2]
    flags = p[off + 3]
    type_byte = p[off + _TRANSPORT_HEADER_SIZE]
    m = ptr8(core._meta)
    pool = core.pool
    if at < (m[_SLOTS_AT] | m[_SLOTS_AT + 1] << 8) << _SLOT_SHIFT:
        slot = pool.slots[at >> _SLOT_SHIFT]
    else:
        slot = pool.control_slot
    copy_span(slot.buf, buf, off + _TRANSPORT_HEADER_SIZE + 1, count << 16)
    m[at + _STATE_AT] = _ASSEMBLING
    m[at + _SRC_AT] = src
    m[at + _TAG_AT] = flags & _TAG_MASK
    m[at + _TO_AT] = flags & _FLAG_TO
    m[at + _NEXT_SEQ_AT] = ((flags >> _SEQ_SHIFT) + 1) & _SEQ_MASK
    m[at + _PACKET_LEN_AT] = (count + 1) & 0xFF
    m[at + _PACKET_LEN_AT + 1] = (count + 1) >> 8
    m[at + _LENGTH_AT] = count & 0xFF
    m[at + _LENGTH_AT + 1] = count >> 8
    slot.owner = m[at + _OWNER_AT] | m[at + _OWNER_AT + 1] << 8
    slot.src = src
    slot.tag = flags & _TAG_MASK
    slot.to = flags & _FLAG_TO
    slot.msg_type = type_byte & _TYPE_MASK
    slot.ic = type_byte > _TYPE_MASK
    slot.link = core._rx_link
    slot.phys = core._rx_phys
    slot.started = core.clock()
    counters = core.counters
    counters.rx_packets = counters.rx_packets + _ONE
    if not flags & _FLAG_EOM:
        return _MIDDLE
    m[at + _STATE_AT] = _COMPLETE
    slot.length = count
    counters.rx_messages = counters.rx_messages + _ONE
    core._rx_done = slot
    return _LAST


@micropython.viper
def owned(meta, owner: int) -> int:
    m = ptr8(meta)
    end = (m[_SLOTS_AT] | m[_SLOTS_AT + 1] << 8) << _SLOT_SHIFT  # (the control slot's follow)
    count = 0
    at = 0
    while at < end:
        if m[at + _STATE_AT] != _FREE:
            if (m[at + _OWNER_AT] | m[at + _OWNER_AT + 1] << 8) == owner:
                count += 1
        at += _SLOT_META
    return count


@micropython.viper
def hand_on(core) -> int:
    # Core._complete's, inline (a frame less under the answer or the delivery).
    done = core._rx_done
    result = _RX_TAKEN
    try:
        owner = int(done.owner)  # (the sink may take the message at once and free the slot)
        if owner == _CONTROL_OWNER:
            core.control.handle(done)
        else:
            if done.to:
                if core.reply_routes.remember(done, core.clock()):
                    counters = core.counters
                    counters.reply_evicted = counters.reply_evicted + _ONE
            else:
                flows = core.flows
                flow = flows.match(done.src, done.tag)
                if flow is not _NONE and not flow.persistent:
                    flows.close(flow)
            if not core.sink.deliver(done):
                core._discard(done)
                counters = core.counters
                counters.queue_full = counters.queue_full + _ONE
            elif int(owned(core._meta, owner)) >= int(core.config.queue_limit):
                result = _RX_FULL
    except Exception:
        core._fault()
    core._rx_done = _NONE
    return result


@micropython.viper
def release(core, slot):
    route = slot.reply
    if route is not _NONE:
        routes = core.reply_routes
        if ptr32(routes.serials)[int(route.index)] == int(slot.reply_serial):
            taken = int(routes._serial) + 1  # the serial after the newest, modulo 2**30
            if taken >> _SERIAL_BITS:
                taken = 0
            routes._serial = taken
            route.taken = taken
    ptr8(core._meta)[int(slot.index) << _SLOT_SHIFT] = _FREE  # (as pool.release)
    slot.owner = -1
    slot.link = _NONE
    slot.phys = _NONE
    slot.reply = _NONE


@micropython.viper
def oldest_reply(serials, newest: int) -> int:
    s = ptr32(serials)
    count = int(_len(serials))
    oldest = 0
    oldest_age = -1
    # 2**30, made at run time: as a constant it would be a word beside the code, which a
    # frozen Cortex-M0 image misreads ([armv6m-literal]).
    span = 1
    span <<= _SERIAL_BITS
    i = 0
    while i < count:
        serial = s[i]
        if serial >> _SERIAL_BITS:  # -1, free (a 64-bit port's ptr32 reads it unsigned)
            return i
        age = newest - serial  # modulo 2**30
        if age < 0:
            age += span
        if age > oldest_age:
            oldest = i
            oldest_age = age
        i += 1
    return oldest


@micropython.viper
def control_request(core, buf, off: int, length: int) -> int:
    # (Few locals: its frame is under every quick answer, [c-stack].)
    p = ptr8(buf)
    flags = p[off + 3]
    if flags & (_FLAG_EOM | _FLAG_TO) != _FLAG_EOM | _FLAG_TO:
        return 0
    if p[off + _TRANSPORT_HEADER_SIZE] != _MSG_TYPE_CONTROL or not core.control:
        return 0
    m = ptr8(core._meta)
    end = (m[_SLOTS_AT] | m[_SLOTS_AT + 1] << 8) << _SLOT_SHIFT  # the control slot's bytes
    if m[end + _STATE_AT] != _FREE:
        return 0
    at = 0
    while at < end:
        if m[at + _STATE_AT] == _ASSEMBLING and m[at + _SRC_AT] == p[off + 2]:
            if m[at + _TAG_AT] == flags & _TAG_MASK and m[at + _TO_AT] == _FLAG_TO:
                return 0  # it restarts a message: som_restart is the full path's
        at += _SLOT_META
    # (Offered before the slot's size is checked: what it answers is 7 bytes long.)
    if core.control.quick_reply(buf, off, length):
        counters = core.counters
        counters.rx_packets = counters.rx_packets + _ONE
        counters.rx_messages = counters.rx_messages + _ONE
        return _MIDDLE
    at = m[_PAYLOAD_AT] | m[_PAYLOAD_AT + 1] << 8  # the room: the payload's limit
    if at > _CONTROL_SLOT_SIZE:  # noqa: PLR1730 (min() would be a builtin call)
        at = _CONTROL_SLOT_SIZE
    if length - _TRANSPORT_HEADER_SIZE - 1 > at:
        return 0  # larger than the control slot
    m[end + _OWNER_AT] = _CONTROL_OWNER & 0xFF
    m[end + _OWNER_AT + 1] = _CONTROL_OWNER >> 8
    return int(start_message(core, buf, off, end << 16 | length))


@micropython.viper
def send_packets(core) -> int:
    link = core._tx_link
    out = link.tx_buf
    o = int(link.tx_off)
    mtu = int(link.mtu)
    src = core._tx_buf
    at = int(core._tx_off)
    left = int(core._tx_left)
    if uint(o) > uint(_MAX_TX_OFF) or uint(mtu - 1) >= uint(_MAX_MTU):
        raise ValueError("link's tx_off beyond 255 or mtu out of 1..250")
    if o + _TRANSPORT_HEADER_SIZE + mtu > int(_len(out)):
        raise ValueError("message out of its buffer or packet out of the link's")
    if at < 0 or left < 0 or at + left > int(_len(src)):
        raise ValueError("message out of its buffer or packet out of the link's")
    phys = core._tx_phys
    dest = int(core._tx_dest)
    eid = int(core.eid)
    tag = int(core._tx_flags)
    d = ptr8(out)
    flags = _FLAG_SOM
    room = mtu - 1
    body = o + _TRANSPORT_HEADER_SIZE + 1
    d[o + _TRANSPORT_HEADER_SIZE] = int(core._tx_type)
    sent = 0
    while True:
        count = left if left < room else room
        left -= count
        if left == 0:
            flags |= _FLAG_EOM
        d[o] = _HEADER_VERSION
        d[o + 1] = dest
        d[o + 2] = eid
        d[o + 3] = flags | (sent & _SEQ_MASK) << _SEQ_SHIFT | tag
        copy_span(out, src, at, count << 16 | body)
        at += count
        body += count
        if not link.transmit(body - o, phys):
            return -1 - sent
        sent += 1
        if left == 0:
            return sent
        flags = 0
        room = mtu
        body = o + _TRANSPORT_HEADER_SIZE


# (mctp.core.routes's, as oldest_reply.)
@micropython.viper
def reply_for(routes, serials, newest: int, eid_tag: int) -> int:
    s = ptr32(serials)
    count = int(_len(serials))
    eid = eid_tag >> 8
    tag = eid_tag & 0xFF
    found = -1
    found_taken = -1
    i = 0
    while i < count:
        if not s[i] >> 31:  # an entry in use (not -1: ptr32's loads are unsigned)
            route = routes[i]
            if int(route.eid) == eid and int(route.tag) == tag:
                taken = int(route.taken)
                # Ages behind `newest` compared as 30-bit values shifted to the top of a uint
                # ([small-int] serials; no 0x3FFFFFFF mask: [armv6m-literal]).
                better = found < 0
                if not better and taken >= 0:
                    better = found_taken < 0 or uint((newest - taken) << 2) < uint(
                        (newest - found_taken) << 2
                    )
                elif not better and found_taken < 0:
                    better = uint((newest - int(s[i])) << 2) < uint((newest - int(s[found])) << 2)
                if better:
                    found = i
                    found_taken = taken
        i += 1
    return found


# (mctp.core.timers's.)
@micropython.viper
def until_expiry(entries, expiry_ms: int, now) -> int:
    count = int(_len(entries))
    soonest = -1
    i = 0
    while i < count:
        entry = entries[i]
        if entry.used:
            wait = expiry_ms - int(ticks_diff(now, entry.started))
            if wait < 0:
                wait = 0
            if soonest < 0 or wait < soonest:
                soonest = wait
        i += 1
    return soonest
