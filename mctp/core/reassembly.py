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

from .._compat import const, ticks_diff

FREE = const(0)
ASSEMBLING = const(1)
COMPLETE = const(2)

# The payload bytes (after the type byte) of the largest single packet on any binding: SMBus
# carries at most 250 payload bytes per packet.
CONTROL_SLOT_SIZE = const(249)


class Slot:
    def __init__(self, index, max_payload):
        self.index = index
        self.buf = bytearray(max_payload)  # the payload, after the type byte
        self.state = FREE
        self.length = 0
        self.src = 0  # source EID, tag and TO identify the message
        self.tag = 0
        self.to = 0
        self.owner = -1  # who receives it: an id chosen by the layer above the core
        self.msg_type = 0
        self.ic = False
        self.link = None  # where it came from
        self.phys = None
        self.next_seq = 0
        self.packet_len = 0  # payload size of every packet but the last
        self.started = 0  # ticks at the first packet
        self.reply = None  # a request's reply-route entry, and that entry's serial
        self.reply_serial = 0


class ReassemblyPool:
    def __init__(self, count, max_payload):
        self.slots = [Slot(i, max_payload) for i in range(count)]
        self.control_slot = Slot(count, min(max_payload, CONTROL_SLOT_SIZE))
        self.max_payload = max_payload

    def find(self, src, tag, to):
        """The slot assembling the message (src, tag, TO), or None."""
        for slot in self.slots:
            if slot.state == ASSEMBLING and slot.src == src and slot.tag == tag and slot.to == to:
                return slot
        return None

    def alloc(self):
        for slot in self.slots:
            if slot.state == FREE:
                return slot
        return None

    def owned(self, owner):
        """How many slots (assembling or complete) hold messages for `owner`."""
        count = 0
        for slot in self.slots:
            if slot.state != FREE and slot.owner == owner:
                count += 1
        return count

    def oldest_assembling(self, owner):
        """The unfinished message that started first: of `owner`, or of anyone when `owner`
        is negative; None when there is none."""
        oldest = None
        slots = self.slots
        i = 0
        while i < len(slots):
            if slots[i].state == ASSEMBLING and (owner < 0 or slots[i].owner == owner):
                if oldest is None or ticks_diff(slots[i].started, oldest.started) < 0:
                    oldest = slots[i]
            i += 1
        return oldest

    def release(self, slot):
        slot.state = FREE
        slot.owner = -1
        slot.link = None
        slot.phys = None
        slot.reply = None

    def in_use(self):
        count = 0
        for slot in self.slots:
            if slot.state != FREE:
                count += 1
        return count
