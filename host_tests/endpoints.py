# Building blocks for tests that run whole stacks: an injectable clock and endpoints (core,
# server, DirectClient, Stack) attached to a loopback bus.

from mctp import Stack
from mctp._compat import ticks_add
from mctp.config import Config
from mctp.core import Core
from mctp.direct import DirectClient
from mctp.loopback import LoopbackBus
from mctp.server import Server


class FakeClock:
    """A ticks_ms stand-in that moves only when told to (call it to read it)."""

    def __init__(self, start=0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now = ticks_add(self.now, ms)


class Endpoint:
    """One stack on a bus: core, server, a DirectClient and the Stack facade over it."""

    def __init__(self, bus, phys, eid, clock, config=None, epoch=None):
        self.bus = bus
        self.phys = phys
        self.core = Core(config or Config(), eid, clock)
        self.link = self.core.add_link(bus.attach(phys))
        self.server = Server(self.core, epoch)
        self.others = []  # endpoints polled while this one waits
        self.client = DirectClient(self.server, idle=self.idle)
        self.stack = Stack(self.client)
        self.clock = clock

    def idle(self):
        # While this endpoint waits, the others on the bus run; time moves on by 1 ms, so
        # timeouts happen in a test without real waiting.
        for other in self.others:
            other.server.poll()
        if isinstance(self.clock, FakeClock):
            self.clock.advance(1)

    def route_to(self, other):
        self.core.add_route(other.core.eid, other.core.eid, self.link, other.phys)


def network(count=2, mtu=64, config=None, clock=None, depth=32):
    """`count` endpoints (EIDs 8, 9, ...; addresses 0x10, 0x11, ...) on one loopback bus, each
    routing to every other and polling the others while it waits."""
    bus = LoopbackBus(mtu, depth)
    clock = clock or FakeClock(1000)
    eps = [Endpoint(bus, 0x10 + i, 8 + i, clock, config) for i in range(count)]
    for ep in eps:
        for other in eps:
            if other is not ep:
                ep.route_to(other)
                ep.others.append(other)
    return eps


def pattern(length, seed=0):
    return bytes((i * 7 + seed) & 0xFF for i in range(length))
