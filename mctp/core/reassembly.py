# A fixed pool of message buffers. A slot holds one message from its first packet until the
# receiver has taken it: reassembly and the receive queue share the same memory, so a message
# is copied once into its slot and once out to the caller.
#
# Every slot is always exactly one of: FREE, ASSEMBLING (packets still to come), or COMPLETE
# (queued for exactly one owner, or being answered by the control responder). Server.check()
# verifies this.
#
# One more slot, outside the pool, takes single-packet control requests, so a pool full of
# other messages never leaves the endpoint deaf to its bus owner (Get Endpoint ID and the
# like are answered at once and the slot is free again before the next packet).
#
# The receive path's per-packet work is one viper call for most packets (mctp.core.fastpath),
# so what it reads and writes lives in bytes, not in objects' fields, whose every read costs
# hundreds of instructions on a Cortex-M0: one bytearray, `meta`, has SLOT_META bytes per slot
# (the control slot last). A slot's state is only there (slot.meta[STATE_AT]); so are, while it
# assembles, the next sequence number, the packet size and the length so far, which start()
# writes and complete() turns into slot.length. The source, tag, TO and owner are written once,
# by start(), both there (for matching and counting) and as the slot's fields.

from .._compat import const, ticks_diff
from .packet import FLAG_TO, SEQ_MASK, SEQ_SHIFT, TAG_MASK

FREE = const(0)
ASSEMBLING = const(1)
COMPLETE = const(2)

# The payload bytes (after the type byte) of the largest single packet on any binding: SMBus
# carries at most 250 payload bytes per packet.
CONTROL_SLOT_SIZE = const(249)

# A slot's bytes in `meta`, from slot.index << SLOT_SHIFT.
SLOT_SHIFT = const(4)
SLOT_META = const(16)
STATE_AT = const(0)
SRC_AT = const(1)
TAG_AT = const(2)
TO_AT = const(3)  # FLAG_TO or 0
NEXT_SEQ_AT = const(4)
PACKET_LEN_AT = const(6)  # 2 bytes, little-endian: the payload of every packet but the last
LENGTH_AT = const(8)  # 2 bytes, little-endian: the message's bytes so far, after the type byte
OWNER_AT = const(10)  # 2 bytes, little-endian: slot.owner while the slot is not FREE
# The pool's own figures, written once into the first slot's spare bytes (a slot's bytes from
# 12 on are otherwise unused), for the fast path to read through its pointer: on a Cortex-M0 a
# len() costs it about 600 instructions, a byte read through a pointer about 20.
SLOTS_AT = const(12)  # 2 bytes, little-endian: the pool's slots (the control slot's not counted)
PAYLOAD_AT = const(14)  # 2 bytes, little-endian: max_payload, the size of each pool slot's buf
MAX_SLOTS = const(0xFFFF)
# And in the control slot's spare bytes, the core's: its EID (Core.set_eid keeps it there).
EID_AT = const(12)


class Slot:
    """One message's buffer, from its first packet until its receiver releases it: the
    payload in `buf` (after the type byte), its state and assembly progress in `meta` (this
    slot's SLOT_META bytes of the pool's bytearray), and who sent it and who takes it in the
    fields below."""

    def __init__(self, meta, index, max_payload):
        self.index = index
        self.meta = memoryview(meta)[index << SLOT_SHIFT : (index + 1) << SLOT_SHIFT]
        self.buf = bytearray(max_payload)  # the payload, after the type byte
        self.length = 0  # of a complete message (while assembling: in meta)
        self.src = 0  # source EID, tag and TO identify the message
        self.tag = 0
        self.to = 0
        self.owner = -1  # who receives it: an id chosen by the layer above the core
        self.msg_type = 0
        self.ic = False
        self.link = None  # where it came from
        self.phys = None
        self.started = 0  # ticks at the first packet
        self.reply = None  # a request's reply-route entry, and that entry's serial
        self.reply_serial = 0

    def assembled(self):
        """The payload bytes the message has so far, while it assembles."""
        return self.meta[LENGTH_AT] | self.meta[LENGTH_AT + 1] << 8

    def packet_len(self):
        """The payload of every packet but the last (its first's), while it assembles."""
        return self.meta[PACKET_LEN_AT] | self.meta[PACKET_LEN_AT + 1] << 8

    def advance(self, count):
        """A packet of `count` payload bytes, next in sequence, was appended to the buffer."""
        meta = self.meta
        count += meta[LENGTH_AT] | meta[LENGTH_AT + 1] << 8
        meta[LENGTH_AT] = count & 0xFF
        meta[LENGTH_AT + 1] = count >> 8
        meta[NEXT_SEQ_AT] = (meta[NEXT_SEQ_AT] + 1) & SEQ_MASK

    def __repr__(self):
        return "Slot(%d, state=%d, src=%d, tag=%d, to=%d, owner=%d, length=%d)" % (
            self.index,
            self.meta[STATE_AT],
            self.src,
            self.tag,
            self.to,
            self.owner,
            self.length,
        )


class ReassemblyPool:
    """`count` slots of `max_payload` bytes each, plus the control slot (single-packet
    control requests only, so a full pool never leaves the endpoint deaf to its bus owner).
    find() returns the slot assembling a message, alloc() a free one; the slots' states and
    what the fast path reads live in the one bytearray `meta` (see the top of this module)."""

    def __init__(self, count, max_payload):
        if count > MAX_SLOTS:
            raise ValueError("reassembly_slots must be at most %d, got %d" % (MAX_SLOTS, count))
        self.meta = bytearray((count + 1) << SLOT_SHIFT)
        self.meta[SLOTS_AT] = count & 0xFF
        self.meta[SLOTS_AT + 1] = count >> 8
        self.meta[PAYLOAD_AT] = max_payload & 0xFF
        self.meta[PAYLOAD_AT + 1] = max_payload >> 8
        self.meta_end = count << SLOT_SHIFT  # the pool's bytes end; the control slot's follow
        self.slots = [Slot(self.meta, i, max_payload) for i in range(count)]
        self.control_slot = Slot(self.meta, count, min(max_payload, CONTROL_SLOT_SIZE))
        # For the fast path, by index, the control slot's last.
        self.bufs = [slot.buf for slot in self.slots] + [self.control_slot.buf]
        self.max_payload = max_payload

    def find(self, src, flags):
        """The slot assembling the message from `src` whose packet header has `flags` (its
        tag and TO), or None."""
        meta = self.meta
        end = self.meta_end  # (the control slot takes single packets only)
        at = 0
        while at < end:
            if (
                meta[at + STATE_AT] == ASSEMBLING
                and meta[at + SRC_AT] == src
                and meta[at + TAG_AT] == flags & TAG_MASK
                and meta[at + TO_AT] == flags & FLAG_TO
            ):
                return self.slots[at >> SLOT_SHIFT]
            at += SLOT_META
        return None

    def alloc(self):
        meta = self.meta
        end = self.meta_end
        at = 0
        while at < end:
            if meta[at + STATE_AT] == FREE:
                return self.slots[at >> SLOT_SHIFT]
            at += SLOT_META
        return None

    def owned(self, owner):
        """How many slots (assembling or complete) hold messages for `owner`."""
        return owned_py(self.meta, owner)

    def oldest_assembling(self, owner):
        """The unfinished message that started first: of `owner`, or of anyone when `owner`
        is negative; None when there is none."""
        oldest = None
        for slot in self.slots:
            if slot.meta[STATE_AT] == ASSEMBLING and (owner < 0 or slot.owner == owner):
                if oldest is None or ticks_diff(slot.started, oldest.started) < 0:
                    oldest = slot
        return oldest

    def start(self, slot, src, flags, count):
        """`slot` assembles the message for slot.owner (set first) whose first packet (header
        `flags`) came from `src` with `count` payload bytes after the type byte."""
        slot.src = src
        slot.tag = flags & TAG_MASK
        slot.to = flags & FLAG_TO
        meta = slot.meta
        meta[STATE_AT] = ASSEMBLING
        meta[SRC_AT] = src
        meta[TAG_AT] = flags & TAG_MASK
        meta[TO_AT] = flags & FLAG_TO
        meta[NEXT_SEQ_AT] = (((flags >> SEQ_SHIFT) & SEQ_MASK) + 1) & SEQ_MASK
        meta[PACKET_LEN_AT] = (count + 1) & 0xFF  # the first packet's payload, type byte in
        meta[PACKET_LEN_AT + 1] = (count + 1) >> 8
        meta[LENGTH_AT] = count & 0xFF
        meta[LENGTH_AT + 1] = count >> 8
        meta[OWNER_AT] = slot.owner & 0xFF
        meta[OWNER_AT + 1] = (slot.owner >> 8) & 0xFF

    def complete(self, slot):
        """The message in `slot` has all its packets."""
        slot.meta[STATE_AT] = COMPLETE
        slot.length = slot.assembled()

    def release(self, slot):
        slot.meta[STATE_AT] = FREE
        slot.owner = -1
        slot.link = None
        slot.phys = None
        slot.reply = None

    def in_use(self):
        count = 0
        for slot in self.slots:
            if slot.meta[STATE_AT] != FREE:
                count += 1
        return count


def owned_py(meta, owner):
    """How many of the pool's slots (not the control slot, whose bytes end `meta`) hold
    messages for `owner` (0..0x100) by their bytes in `meta`: the receive path's count, one
    viper call on boards (mctp.core.fastpath imports the twin)."""
    count = 0
    at = 0
    end = (meta[SLOTS_AT] | meta[SLOTS_AT + 1] << 8) << SLOT_SHIFT
    while at < end:
        if (
            meta[at + STATE_AT] != FREE
            and meta[at + OWNER_AT] | meta[at + OWNER_AT + 1] << 8 == owner
        ):
            count += 1
        at += SLOT_META
    return count
