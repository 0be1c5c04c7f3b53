# A fixed pool of message buffers. A slot holds one message from its first packet until the
# receiver has taken it: reassembly and the receive queue share the same memory, so a message
# is copied once into its slot and once out to the caller.

from ._compat import const

FREE = const(0)
ASSEMBLING = const(1)
COMPLETE = const(2)


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


class ReassemblyPool:
    def __init__(self, count, max_payload):
        self.slots = [Slot(i, max_payload) for i in range(count)]
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

    def release(self, slot):
        slot.state = FREE
        slot.owner = -1
        slot.link = None
        slot.phys = None

    def in_use(self):
        count = 0
        for slot in self.slots:
            if slot.state != FREE:
                count += 1
        return count
