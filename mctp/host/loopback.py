# A simulated bus connecting several stacks in one process, for tests, benchmarks and host
# tools. Each attached link has a physical address; a packet sent to an address is queued in
# that link's receive ring (preallocated) and handed to its core on the next poll, so nothing
# is delivered re-entrantly from inside a send.

from ..bufcopy import copy_into
from ..core.link import RX_FULL, Link
from ..core.packet import BASELINE_MTU, FLAG_EOM, FLAG_SOM, FLAGS_AT, TRANSPORT_HEADER_SIZE


class LoopbackBus:
    def __init__(self, mtu=BASELINE_MTU, depth=32):
        self.mtu = mtu
        self.depth = depth  # packets each link can hold between polls
        self.links = []
        # tap(src_phys, dst_phys, buf, length) sees every packet before it is queued; it may
        # change the bytes in place, and returning False drops the packet. For tests.
        self.tap = None

    def attach(self, phys, wake=None, depth=None):
        """A link at `phys`; `wake`, when given, has its set() called whenever a packet is
        queued for it (the stack task's flag, as an I2C link's IRQ sets it); `depth`, the
        packets it holds between polls (default: the bus's)."""
        for link in self.links:
            if link.phys == phys:
                raise ValueError("physical address already on the bus")
        link = LoopbackLink(self, phys, wake, depth or self.depth)
        self.links.append(link)
        return link

    def find(self, phys):
        links = self.links
        i = 0
        while i < len(links):
            if links[i].phys == phys:
                return links[i]
            i += 1
        return None


# Send: transmit(link, length, phys), LoopbackLink.transmit, queues the `length`-byte packet in
# link.tx_buf at the receive ring of the link at `phys`: False (counted) when no link has that
# address or its ring is full, True otherwise (also when the bus's tap drops it: the sender
# cannot tell). The link remembers the link it sent to last (_peer, at _peer_phys), so the
# next packet to the same address is queued without looking the address up. The viper version
# queues such a packet in one call, without a tap; anything else goes the bytecode way
# (_transmit_looked_up). transmit_py is its twin ([viper-twin]).


#
# Receive: poll(link, core), LoopbackLink.poll, hands each queued packet to the core, oldest
# first: a middle packet (neither SOM nor EOM) to the core's fast path (core.receive_middle),
# as a board's I2C and serial links do, and any other, or one the fast path leaves, to
# core.receive; it stops after a packet that filled its owner's queue (RX_FULL), the rest
# waiting for the next poll. The viper version does it in one call; poll_py is its twin.


def transmit_py(link, length, phys):
    if link._peer is None or phys is not link._peer_phys or link.bus.tap is not None:
        return link._transmit_looked_up(length, phys)
    return link._peer._enqueue(link.tx_buf, length, link.phys)


def poll_py(link, core):
    while link._count:
        i = link._head
        link._head = (i + 1) % len(link._ring)
        link._count -= 1
        if not _middle(core, link._ring[i], link._lengths[i]):
            link._result = core.receive(link, link._ring[i], 0, link._lengths[i], link._sources[i])
            if link._result == RX_FULL:
                return  # the rest wait for the next poll


def _middle(core, packet, length):
    # True when the core's fast path took `packet` as a middle packet.
    if packet[FLAGS_AT] & (FLAG_SOM | FLAG_EOM):
        return False
    return core.receive_middle(packet, 0, length)


try:
    from ._loopback_viper import poll, transmit
except (ImportError, SyntaxError):
    poll = poll_py
    transmit = transmit_py


class LoopbackLink(Link):
    def __init__(self, bus, phys, wake=None, depth=None):
        depth = depth or bus.depth
        self.bus = bus
        self.phys = phys
        self.wake = wake
        self.mtu = bus.mtu
        self.tx_buf = bytearray(TRANSPORT_HEADER_SIZE + bus.mtu)
        self.tx_off = 0
        self._ring = [bytearray(TRANSPORT_HEADER_SIZE + bus.mtu) for _ in range(depth)]
        self._lengths = bytearray(depth)  # (a packet is at most 4 + 250 bytes)
        self._sources = [0] * depth
        self._head = 0
        self._count = 0
        self.overflows = 0  # packets refused because this link's ring was full
        self.unreachable = 0  # packets sent to an address nobody has
        self._peer = None  # the link sent to last, and its address (transmit's)
        self._peer_phys = None
        self._result = 0  # what the core said of the packet being handed over (poll_py's)

    # transmit(length, phys): the module's transmit, viper on MicroPython, as a method.
    transmit = transmit

    def _transmit_looked_up(self, length, phys):
        dest = self.bus.find(phys)
        if dest is None:
            self.unreachable += 1
            return False
        self._peer = dest
        self._peer_phys = phys
        tap = self.bus.tap
        if tap is not None and tap(self.phys, phys, self.tx_buf, length) is False:
            return True  # lost on the wire: the sender cannot tell
        return dest._enqueue(self.tx_buf, length, self.phys)

    def _enqueue(self, buf, length, src_phys):
        if self._count == len(self._ring):
            self.overflows += 1
            return False
        i = (self._head + self._count) % len(self._ring)
        copy_into(self._ring[i], 0, buf, 0, length)
        self._lengths[i] = length
        self._sources[i] = src_phys
        self._count += 1
        if self.wake is not None:
            self.wake.set()
        return True

    def pending(self):
        return self._count

    # poll(core): the module's poll, viper on MicroPython, as a method.
    poll = poll
