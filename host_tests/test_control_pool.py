# A bridge's EID pool end to end, on two simulated I2C buses with an injected clock: the upstream
# bus owner sets the bridge's EID and reads the pool size it asks for, allocates the pool
# (again, differently, forced), reads its routing table and sends it routes; the bridge, as the
# downstream bus owner (PoolOwner), gives the pool's EIDs to the endpoints on its other bus
# (one keeps its static EID, inside the pool), installs their routes, notices one that stops
# answering or leaves the bus, and sets up one that appears later. No packet crosses the
# bridge here: forwarding is the core's; this is the control side.

import sys

import gc

from endpoints import Endpoint, FakeClock
from testing import IS_MICROPYTHON, raises, skip

from mctp.config import Config
from mctp.control import ControlError
from mctp.control.bridging import FORCE_ALLOCATION
from mctp.control.pool import PoolOwner
from mctp.control.requester import ControlRequester
from mctp.control.responder import ControlResponder
from mctp.bridge.control import BridgeResponder
from mctp.host.i2c_sim import SimBus
from mctp.i2c import I2CLink

OWNER, BRIDGE_UP, BRIDGE_DOWN = 0x10, 0x1D, 0x20
DOWN = (0x30, 0x31, 0x32)
LATER = 0x33  # configured, and nobody there at first
CONFIGURED = (0x30, 0x31, 0x32, LATER)


# Tables for six stacks in one Cortex-M0's 256 KiB (the emulated boards run this file too).
SMALL = {"reassembly_slots": 2, "listeners": 2, "requests": 4, "pending_receives": 2, "flows": 4}


def _endpoint(bus, addr, eid, clock, config=None):
    config = config or Config(**SMALL)
    return Endpoint(
        bus, I2CLink(bus.controller(), bus.target(addr), addr), addr, eid, clock, config
    )


class Net:
    """A bus owner (EID 8 at 0x10) and a bridge (at 0x1D) on the upstream bus; the bridge (at
    0x20) and three endpoints at 0x30..0x32 on the downstream bus, with the static EIDs
    `statics` (None: none). run() drives every stack and the bridge's PoolOwner."""

    def __init__(self, statics=(None, 13, 40), pool_size=3, config=None, **pool_options):
        gc.collect()  # (six stacks fill most of an emulated Cortex-M0's heap: start from a clean one)
        self.clock = FakeClock(1000)
        self.up, self.down = SimBus(), SimBus()
        self.owner = _endpoint(self.up, OWNER, 8, self.clock)
        config = config or Config(**SMALL)
        self.bridge = _endpoint(self.up, BRIDGE_UP, 0, self.clock, config)
        link = I2CLink(self.down.controller(), self.down.target(BRIDGE_DOWN), BRIDGE_DOWN)
        self.down_link = self.bridge.core.add_link(link)
        self.responder = BridgeResponder(self.bridge.core, pool_size, bytes(range(16)))
        self.eps = {}
        for addr, static in zip(DOWN, statics):
            self.add(addr, static)
        self.owner.others.append(self.bridge.server.poll)
        self.ctl = ControlRequester(self.owner.stack)
        pool_options.setdefault("addrs", CONFIGURED)
        self.pool = PoolOwner(
            self.bridge.core, self.bridge.stack, self.responder, self.down_link, **pool_options
        )
        self.silent = set()  # addresses whose endpoint no longer runs

    def add(self, addr, static=None):
        ep = _endpoint(self.down, addr, static or 0, self.clock)
        ControlResponder(ep.core, bytes((addr,)) * 16, static_eid=static)
        self.eps[addr] = ep
        return ep

    def run(self, ms):
        for _ in range(ms):
            for addr, ep in self.eps.items():
                if addr not in self.silent:
                    ep.server.poll()
            self.bridge.server.poll()
            self.pool.poll()
            self.clock.advance(1)

    def set_up_bridge(self):
        """The upstream bus owner's part: the bridge's EID (10), then its pool (11..13)."""
        self.owner.core.add_route(0, 0, self.owner.link, BRIDGE_UP)
        assignment = self.ctl.set_eid(0, 10)
        self.owner.core.routes.remove(0)
        self.owner.core.add_route(10, 10, self.owner.link, BRIDGE_UP)
        allocation = self.ctl.allocate_eids(10, 11, assignment.pool_size)
        return assignment, allocation

    def eids(self):
        return {addr: ep.core.eid for addr, ep in self.eps.items()}

    def routed(self):
        """The bridge's routes on its downstream link: EID -> address."""
        return {
            route.first: route.phys
            for route in self.bridge.core.routes.routes
            if route.used and route.link is self.down_link
        }


def test_the_bus_owner_sets_up_the_bridge_and_allocates_its_pool():
    net = Net()
    assignment, allocation = net.set_up_bridge()
    assert (assignment.accepted, assignment.eid) == (True, 10)
    assert (assignment.pool_status, assignment.pool_size) == (1, 3)  # a pool of 3 required
    assert (allocation.accepted, allocation.first_eid, allocation.pool_size) == (True, 11, 3)
    again = net.ctl.allocate_eids(10, 11, 3)  # the same pool: a retry, accepted
    assert (again.accepted, again.first_eid, again.pool_size) == (True, 11, 3)
    other = net.ctl.allocate_eids(10, 20, 3)  # another: rejected, the pool in use reported
    assert (other.accepted, other.first_eid, other.pool_size) == (False, 11, 3)
    with raises(ControlError) as caught:
        net.ctl.allocate_eids(10, 20, 4, FORCE_ALLOCATION)  # more than the bridge asked for
    assert str(caught.value) == (
        "Allocate Endpoint IDs: refused (completion code ERROR_INVALID_DATA)"
    )
    assert net.ctl.set_eid(10, 10).pool_status == 2  # the pool received
    if not IS_MICROPYTHON:  # pymctp (scapy) reads the answers the same way
        from pymctp.layers.mctp.control.allocate_eids import (  # noqa: PLC0415
            AllocateEndpointIDsResponsePacket,
        )
        from pymctp.layers.mctp.control.set_eid import (  # noqa: PLC0415
            SetEndpointIDResponsePacket,
        )

        info = AllocateEndpointIDsResponsePacket(net.ctl.request(10, 0x08, b"\x02\x00\x00"))
        assert (info.status, info.eid_pool_size, info.first_eid) == (0, 3, 11)
        set_eid = SetEndpointIDResponsePacket(net.ctl.request(10, 0x01, b"\x00\x0a"))
        assert (set_eid.eid_assignment_status, set_eid.eid_allocation_status) == (0, 2)
        assert (set_eid.eid_setting, set_eid.eid_pool_size) == (10, 3)


def test_the_bridge_sets_up_the_downstream_endpoints_from_its_pool():
    net = Net()
    net.set_up_bridge()
    net.run(100)
    # 0x30 had no EID: the pool's first; 0x31 keeps its static 13 (in the pool); 0x32's
    # static 40 lies outside the pool: the next free one.
    assert net.eids() == {0x30: 11, 0x31: 13, 0x32: 12}
    assert net.routed() == {11: 0x30, 13: 0x31, 12: 0x32}
    assert sorted(net.pool.peers) == [11, 12, 13]
    assert net.pool.absent == [LATER]
    counters = net.pool.counters
    assert (counters.set_up, counters.failed, counters.pools, counters.errors) == (3, 1, 1, 0), (
        net.pool.last_error
    )


def test_get_routing_table_entries_from_the_upstream_bus_owner_byte_for_byte():
    net = Net()
    net.set_up_bridge()
    net.run(100)
    # Handle 0: the last page (FF), three entries: one EID each, endpoints (type 0), learned,
    # port 1 (the downstream link), SMBus (01) at 100 kHz (01), a 1-byte address (bits 7:1).
    data = net.ctl.request(10, 0x0A, b"\x00")
    assert data == bytes.fromhex(
        "FF 03  01 0B 01 01 01 01 60  01 0D 01 01 01 01 62  01 0C 01 01 01 01 64"
    )
    entries = net.ctl.get_routing_table(10)
    assert [(e.first, e.count, e.entry_type, e.static, e.port) for e in entries] == [
        (11, 1, 0, False, 1),
        (13, 1, 0, False, 1),
        (12, 1, 0, False, 1),
    ]
    assert [e.phys for e in entries] == [b"\x60", b"\x62", b"\x64"]
    if not IS_MICROPYTHON:  # pymctp (scapy) reads the same answer
        from pymctp.layers.mctp.control.get_routing_table_entries import (  # noqa: PLC0415
            GetRoutingTableEntriesResponsePacket,
        )

        answer = GetRoutingTableEntriesResponsePacket(data)
        assert (answer.next_entry_handle, answer.entry_count) == (0xFF, 3)
        first = answer.entries[0]
        assert (first.starting_eid, first.eid_range, first.entry_type) == (11, 1, 0)
        assert (first.static_eid, first.port_number, first.phy_address) == (0, 1, [0x60])


def test_routing_information_update_from_the_upstream_bus_owner():
    net = Net()
    net.set_up_bridge()
    net.ctl.routing_info_update(10, [(0, 0x50, 1, bytes((OWNER << 1,)))])
    route = net.bridge.core.routes.lookup(0x50)
    assert (route.link, route.phys, route.learned) == (net.bridge.link, OWNER, 0)  # an endpoint
    # From anyone else (an endpoint downstream, at 0x30): refused.
    ep = net.eps[0x30]
    ep.core.add_route(0, 0, ep.link, BRIDGE_DOWN)
    ep.others.append(net.bridge.server.poll)
    with raises(ControlError) as caught:
        ControlRequester(ep.stack).routing_info_update(0, [(0, 0x60, 1, b"\x62")])
    assert caught.value.completion_code == 0x01
    assert net.bridge.core.routes.lookup(0x60) is None
    # Nor can it take the bridge's EID, and with it the bus owner's place.
    assignment = ControlRequester(ep.stack).set_eid(0, 0x60)
    assert (assignment.accepted, assignment.eid, assignment.pool_status) == (False, 10, 2)
    assert (net.bridge.core.eid, net.responder.owner_link) == (10, net.bridge.link)


def test_a_silent_endpoint_is_forgotten_and_one_that_appears_is_set_up():
    if IS_MICROPYTHON and sys.platform != "linux":
        skip("six stacks overfill an emulated Cortex-M0's heap (a board runs one: the bridge's)")
    net = Net(poll_ms=2500, poll_tries=3, timeout_ms=250)
    net.set_up_bridge()
    net.run(100)
    net.silent.add(0x32)  # it stops answering
    net.run(2500 + 3 * 250 + 10)
    assert net.routed() == {11: 0x30, 13: 0x31}
    assert net.pool.counters.vanished == 1
    assert sorted(net.pool.absent) == [0x32, LATER]
    net.add(LATER)  # a new endpoint, without an EID: EID 12 is free again
    net.run(2500 + 4 * 250 + 100)
    assert net.routed() == {11: 0x30, 13: 0x31, 12: LATER}
    assert net.eps[LATER].core.eid == 12
    assert net.pool.absent == [0x32]
    # The others were polled at each sweep (at 2.6 s and 5.1 s) and are still there.
    assert net.pool.counters.polls == 3 + 2


def test_an_endpoint_that_leaves_the_bus_is_forgotten_at_the_next_poll():
    net = Net(poll_ms=1000)
    net.set_up_bridge()
    net.run(100)
    net.down.targets.remove(net.eps[0x30].link._target)  # gone: its address NACKs
    net.run(1000 + 10)
    assert net.routed() == {13: 0x31, 12: 0x32}
    assert net.pool.counters.vanished == 1


def test_a_new_pool_sets_the_endpoints_up_again():
    net = Net()
    net.set_up_bridge()
    net.run(100)
    forced = net.ctl.allocate_eids(10, 20, 3, FORCE_ALLOCATION)
    assert (forced.accepted, forced.first_eid, forced.pool_size) == (True, 20, 3)
    net.run(100)
    assert net.eids() == {0x30: 20, 0x31: 21, 0x32: 22}  # 13 lies outside the new pool
    assert net.routed() == {20: 0x30, 21: 0x31, 22: 0x32}
    assert net.pool.counters.pools == 2


def test_a_scan_finds_the_endpoints_and_nothing_before_a_pool():
    if IS_MICROPYTHON and sys.platform != "linux":
        skip("five stacks and a scan's requests overfill an emulated Cortex-M0's heap")
    net = Net(addrs=(), scan=True)
    net.run(50)
    assert net.routed() == {} and net.pool.counters.set_up == 0  # no pool yet
    net.set_up_bridge()
    net.run(300)
    assert net.eids() == {0x30: 11, 0x31: 13, 0x32: 12}
    assert len(net.pool.absent) == 0x77 - 0x08 + 1 - 1 - 3  # all but its own and the three


def test_poll_never_raises_and_counts_a_fault():
    net = Net(config=Config(routes=2, **SMALL))  # room for two endpoints' routes
    net.set_up_bridge()
    net.run(100)
    assert net.routed() == {11: 0x30, 13: 0x31}
    assert net.pool.counters.errors == 2  # routing table full, at 0x32 and 0x33
    assert not net.pool.control.busy
    assert net.bridge.server.handles_in_use() == 0
