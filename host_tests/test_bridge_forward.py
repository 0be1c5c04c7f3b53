# Forwarding in the core (mctp/core/core.py with mctp/bridge/forward.py's Forwarder): a bridge between two simulated I2C
# buses, a bus owner on one and three endpoints on the other, routes set by hand. Messages
# cross it as packets, unreassembled; what it must not forward is dropped and counted per
# reason; a flood from either side leaves the other side's requests and the bridge's own
# endpoint answered.

import gc

from endpoints import Drain, Endpoint, FakeClock, RawPeer, assert_nothing_held, frame_writes
from endpoints import pattern
from testing import IS_MICROPYTHON, heap_locked

from mctp.control.responder import ControlResponder
from mctp.bridge import FORWARD_BURST, FORWARD_DROPS, Forwarder
from mctp.config import Config
from mctp.core.core import DROPS
from mctp.core.packet import build_packets
from mctp.host.i2c_sim import SimBus
from mctp.i2c import I2CLink

OWNER, BRIDGE, FIRST = 8, 20, 30  # EIDs: the bus owner, the bridge, the first endpoint
# Every receive gives up after this long (a fake clock: 1 ms a wait), so a message that does
# not come fails its test rather than hanging it.
WAIT_MS = 100
GET_EID = b"\x80\x02"  # a Get Endpoint ID request after its type byte (Rq, IID 0)


def small():
    """Tables for five stacks in one Cortex-M0's 256 KiB (the emulated boards run this file
    too): two messages held at a time, a few handles."""
    return Config(reassembly_slots=2, listeners=2, requests=4, pending_receives=2, flows=8)


def bridged(owner_mtu=64, bridge_rx_mtu=None, clock=None, down_controller=None, endpoints=3):
    """The bus owner (EID 8, 0x10) on bus `up`; the bridge (EID 20, 0x20 on both buses);
    `endpoints` endpoints (EIDs 30.. at 0x30..) on bus `down`. Each stack polls the others while it
    waits. `down_controller(bus)` makes the bridge's controller on `down`."""
    clock = clock or FakeClock(1000)
    up, down = SimBus(), SimBus()
    owner = Endpoint(up, _link(up, 0x10, owner_mtu), 0x10, OWNER, clock, small())
    bridge = Endpoint(up, _link(up, 0x20, 64, bridge_rx_mtu), 0x20, BRIDGE, clock, small())
    Forwarder(bridge.core)
    controller = down_controller(down) if down_controller else down.controller()
    bridge.down = bridge.core.add_link(I2CLink(controller, down.target(0x20), 0x20))
    bridge.down_controller = controller
    bridge.down_bus = down
    ControlResponder(bridge.core, uuid=bytes(16), endpoint_type=1)
    eps = [
        Endpoint(down, _link(down, 0x30 + i), 0x30 + i, FIRST + i, clock, small())
        for i in range(endpoints)
    ]
    owner.core.add_route(BRIDGE, FIRST + 2, owner.link, 0x20)
    bridge.core.add_route(OWNER, OWNER, bridge.link, 0x10)
    for ep in eps:
        bridge.core.add_route(ep.core.eid, ep.core.eid, bridge.down, ep.phys)
        ep.core.add_route(OWNER, OWNER, ep.link, 0x20)
        ep.core.add_route(BRIDGE, BRIDGE, ep.link, 0x20)
    stacks = [owner, bridge] + eps  # noqa: RUF005 (MicroPython has no *x here)
    for stack in stacks:
        stack.others.extend(other.server.poll for other in stacks if other is not stack)
    return owner, bridge, eps


def _link(bus, addr, mtu=64, rx_mtu=None):
    return I2CLink(bus.controller(), bus.target(addr), addr, mtu, rx_mtu=rx_mtu)


def drops(core):
    counts = core.counters.as_dict()
    return {name: counts[name] for name in DROPS + FORWARD_DROPS if counts.get(name)}


def settle(stacks, rounds=4):
    for _ in range(rounds):
        for stack in stacks:
            stack.server.poll()


def test_an_endpoint_drops_a_packet_for_another_eid():
    # On two buses, with a route to EID 30 over the second, but no Forwarder.
    up, down = SimBus(), SimBus()
    endpoint = Endpoint(up, _link(up, 0x21), 0x21, 21, FakeClock(1000), small())
    endpoint.core.add_route(OWNER, OWNER, endpoint.link, 0x10)
    endpoint.core.add_route(FIRST, FIRST, endpoint.core.add_link(_link(down, 0x21)), 0x30)
    down.target(0x30)
    RawPeer(up, 0x10).send(0x21, build_packets(OWNER, FIRST, 0x08, 1, b"hello")[0])
    endpoint.server.poll()
    assert drops(endpoint.core) == {"not_for_us": 1}
    assert down.frames == 0
    # (and its counters have no room for a bridge's)
    assert "fwd_packets" not in endpoint.core.counters.as_dict()


def test_messages_of_0_to_1023_bytes_cross_the_bridge_both_ways_unreassembled():
    owner, bridge, eps = bridged(endpoints=2)  # (four stacks: room on a Cortex-M0's heap)
    far = eps[1]
    owner_listener = owner.stack.listener(1, WAIT_MS)
    far_listener = far.stack.listener(1, WAIT_MS)
    to_far = owner.stack.req(FIRST + 1, WAIT_MS)
    to_owner = far.stack.req(OWNER, WAIT_MS)
    packets = 0
    for size in (0, 1, 62, 63, 64, 127, 128, 500, 1023):
        for req, listener, server_eid in (
            (to_far, far_listener, OWNER),
            (to_owner, owner_listener, FIRST + 1),
        ):
            req.send(1, pattern(size, size))
            meta, got, resp = listener.recv()
            assert bytes(got) == pattern(size, size) and meta.remote_eid == server_eid
            resp.send(pattern(size, size + 1))
            _meta, back = req.recv()
            assert bytes(back) == pattern(size, size + 1)
            packets += 2 * (size // 64 + 1)  # (the type byte: 64 bytes make two packets)
    assert bridge.core.counters.fwd_packets == packets
    assert drops(bridge.core) == {}
    assert bridge.core.counters.rx_messages == 0  # forwarded as packets, never reassembled
    for stack in [owner, bridge] + eps:  # noqa: RUF005
        assert_nothing_held(stack)


def test_a_bridge_from_a_serial_line_to_an_i2c_bus_reframes_each_packet():
    # The bus owner on a DSP0253 serial line, the endpoint on the I2C bus: each packet leaves
    # in the other binding's framing, header and payload unchanged.
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415 (the serial tests' only)
    from mctp.serial import SerialLink  # noqa: PLC0415

    clock = FakeClock(1000)
    pipe, down = SerialPipe(), SimBus()
    owner = Endpoint(None, SerialLink(pipe.a), None, OWNER, clock, small())
    bridge = Endpoint(None, SerialLink(pipe.b), None, BRIDGE, clock, small())
    Forwarder(bridge.core)
    bridge.down = bridge.core.add_link(_link(down, 0x20))
    far = Endpoint(down, _link(down, 0x30), 0x30, FIRST, clock, small())
    owner.core.add_route(BRIDGE, FIRST, owner.link)
    bridge.core.add_route(OWNER, OWNER, bridge.link)
    bridge.core.add_route(FIRST, FIRST, bridge.down, 0x30)
    far.core.add_route(OWNER, OWNER, far.link, 0x20)
    for stack in (owner, bridge, far):
        stack.others.extend(o.server.poll for o in (owner, bridge, far) if o is not stack)
    seen = []
    down.tap = lambda addr, buf, length: seen.append(bytes(buf[3 : length - 1]))
    owner_listener = owner.stack.listener(1, WAIT_MS)
    far_listener = far.stack.listener(1, WAIT_MS)
    to_far = owner.stack.req(FIRST, WAIT_MS)
    to_owner = far.stack.req(OWNER, WAIT_MS)
    for size in (0, 200, 1023):
        to_far.send(1, pattern(size, 1))
        _meta, got, resp = far_listener.recv()
        assert bytes(got) == pattern(size, 1)
        resp.send(pattern(size, 2))
        assert bytes(to_far.recv()[1]) == pattern(size, 2)
        to_owner.send(1, pattern(size, 3))
        _meta, got, resp = owner_listener.recv()
        assert bytes(got) == pattern(size, 3)
        resp.send(b"")
        assert bytes(to_owner.recv()[1]) == b""
    # The first packet the bridge put on the I2C bus is the owner's as it sent it.
    assert seen[0][:5] == bytes((1, FIRST, OWNER, 0xC8, 1))
    assert drops(bridge.core) == {} and bridge.link.counters.tx_frames > 0
    for stack in (owner, bridge, far):
        assert_nothing_held(stack)


def test_requests_from_both_sides_at_once_keep_their_tags_apart():
    owner, bridge, eps = bridged()
    owner_listener = owner.stack.listener(1, WAIT_MS)
    listeners = [ep.stack.listener(1, WAIT_MS) for ep in eps]
    to_eps = [owner.stack.req(ep.core.eid, WAIT_MS) for ep in eps]
    to_owner = [ep.stack.req(OWNER, WAIT_MS) for ep in eps]
    # Every request out before any is read: three from each side (the endpoints' tags to the
    # owner are their own, and may be equal), each answered with what it asked.
    for i in range(3):
        to_eps[i].send(1, _text("down", i))
        to_owner[i].send(1, _text("up", i))
    seen = []
    for _ in range(3):
        meta, got, resp = owner_listener.recv()
        seen.append((meta.remote_eid, bytes(got)))
        resp.send(b"answer to " + bytes(got))
    assert sorted(seen) == [(FIRST + i, _text("up", i)) for i in range(3)]
    for i in range(3):
        _meta, got, resp = listeners[i].recv()
        assert bytes(got) == _text("down", i)
        resp.send(b"answer to " + bytes(got))
    for i in range(3):
        assert bytes(to_owner[i].recv()[1]) == b"answer to " + _text("up", i)
        assert bytes(to_eps[i].recv()[1]) == b"answer to " + _text("down", i)
    assert drops(bridge.core) == {}
    assert bridge.core.counters.fwd_packets == 12
    for stack in [owner, bridge] + eps:  # noqa: RUF005
        assert_nothing_held(stack)


def _text(word, i):
    return ("%s %d" % (word, i)).encode()


def test_a_packet_larger_than_the_out_links_mtu_is_dropped_and_counted():
    # The owner sends 250-byte packets, which the bridge takes in (rx_mtu 250) but the down
    # link (MTU 64) cannot carry: the first is dropped, and the endpoint drops the rest,
    # which start nothing.
    # (One endpoint: with its larger buffers, five stacks overfill a Cortex-M0's heap.)
    owner, bridge, eps = bridged(owner_mtu=250, bridge_rx_mtu=250, endpoints=1)
    message = bytes(300)
    listener = eps[0].stack.listener(1, WAIT_MS)
    owner.stack.req(FIRST).send(1, message)
    settle([bridge] + eps)  # noqa: RUF005
    assert drops(bridge.core) == {"fwd_too_large": 1}
    assert bridge.core.counters.fwd_packets == 1  # the 51-byte last packet fits
    assert drops(eps[0].core) == {"no_som": 1}
    # A message that fits every packet crosses.
    owner.stack.req(FIRST).send(1, bytes(60))
    assert bytes(listener.recv()[1]) == bytes(60)


def test_no_route_and_a_route_back_out_the_link_it_came_from_are_dropped_and_counted():
    owner, bridge, eps = bridged()
    owner.core.add_route(40, 41, owner.link, 0x20)
    bridge.core.add_route(41, 41, bridge.link, 0x11)  # behind the owner's own bus
    owner.stack.req(40).send(1, b"nobody")
    owner.stack.req(41).send(1, b"back")
    settle([bridge] + eps)  # noqa: RUF005
    assert drops(bridge.core) == {"fwd_no_route": 1, "fwd_same_link": 1}
    assert bridge.core.counters.fwd_packets == 0
    assert bridge.core.counters.tx_packets == 0


def test_a_refused_forward_is_counted_and_the_next_one_goes():
    owner, bridge, eps = bridged()
    bridge.down_bus.absent.append(0x30)  # the endpoint NACKs every try
    owner.stack.req(FIRST).send(1, b"lost")
    settle([bridge])
    assert drops(bridge.core) == {"fwd_link_failed": 1}
    assert bridge.down.counters.tx_failed == 1
    bridge.down_bus.absent.remove(0x30)
    listener = eps[0].stack.listener(1, WAIT_MS)
    owner.stack.req(FIRST).send(1, b"found")
    assert bytes(listener.recv()[1]) == b"found"


def test_spoofed_source_eids_from_the_downstream_bus_are_dropped_and_counted():
    owner, bridge, eps = bridged()
    owner_listener = owner.stack.listener(1, WAIT_MS)
    intruder = RawPeer(bridge.down_bus, 0x35)
    for src in (OWNER, FIRST + 1, 0, 40):
        # the owner's own EID, an endpoint's EID from another address, EID 0, an unrouted EID
        intruder.send(0x20, build_packets(src, OWNER, 0x08, 1, b"forged")[0])
    intruder.send(0x20, b"\x01\x08\x03\xc8\x01reserved")  # a reserved source EID
    settle([bridge, owner])
    assert drops(bridge.core) == {"fwd_spoofed": 4, "bad_src": 1}
    assert owner.core.counters.rx_packets == 0
    # The real endpoint, from its own address, still gets through.
    eps[1].stack.req(OWNER).send(1, b"real")
    meta, got, _resp = owner_listener.recv()
    assert (meta.remote_eid, bytes(got)) == (FIRST + 1, b"real")


def _bridge(bus_a, bus_b, eid, addr, clock):
    bridge = Endpoint(bus_a, _link(bus_a, addr), addr, eid, clock, small())
    Forwarder(bridge.core)
    bridge.second = bridge.core.add_link(_link(bus_b, addr))
    return bridge


def test_a_forwarding_loop_between_two_bridges_is_stopped_and_counted():
    # MCTP has no hop count: what stops a loop is the routing (a tree of buses, DSP0236), and
    # here the two rules of each bridge: never back out the link a packet came in on, and a
    # source routed over the link it came from.
    clock = FakeClock(1000)
    up, shared, other = SimBus(), SimBus(), SimBus()
    owner = Endpoint(up, _link(up, 0x10), 0x10, OWNER, clock, small())
    a = _bridge(up, shared, 20, 0x20, clock)
    b = _bridge(shared, other, 21, 0x21, clock)
    a.second_b = a.core.add_link(_link(other, 0x20))
    owner.core.add_route(50, 51, owner.link, 0x20)
    a.core.add_route(OWNER, OWNER, a.link, 0x10)
    b.core.add_route(OWNER, OWNER, b.link, 0x20)
    # EID 50: each bridge sends it to the other over the bus they share.
    a.core.add_route(50, 50, a.second, 0x21)
    b.core.add_route(50, 50, b.link, 0x20)
    # EID 51: a to b over `shared`, b back to a over `other`.
    a.core.add_route(51, 51, a.second, 0x21)
    b.core.add_route(51, 51, b.second, 0x20)
    owner.stack.req(50).send(1, b"round")
    owner.stack.req(51).send(1, b"and round")
    settle([a, b], rounds=8)
    assert a.core.counters.fwd_packets == 2 and b.core.counters.fwd_packets == 1
    assert drops(b.core) == {"fwd_same_link": 1}
    assert drops(a.core) == {"fwd_spoofed": 1}  # 51 came back over `other`, not from the owner
    for bridge in (a, b):
        assert bridge.link.pending() == bridge.second.pending() == 0
        assert_nothing_held(bridge)


def _get_eid_answers(peer):
    return [m for m in peer.messages() if m[3] == 0 and m[4][:2] == b"\x00\x02"]


def test_a_flood_from_either_side_leaves_control_requests_and_the_bridge_endpoint_answered():
    _flood(flood_down=True)
    gc.collect()  # (the first network's five stacks, before the second's on a Cortex-M0)
    _flood(flood_down=False)


def _flood(flood_down):
    owner, bridge, _eps = bridged(endpoints=1)  # (the far side's one endpoint: EID FIRST)
    up_bus, down_bus = owner.bus, bridge.down_bus
    # The flooding side: 40 single-packet messages, two rings' worth, all for the far side.
    flooder = RawPeer(up_bus if flood_down else down_bus, 0x40)
    asker = RawPeer(down_bus if flood_down else up_bus, 0x41)
    src, dest = (OWNER, FIRST) if flood_down else (FIRST, OWNER)
    if flood_down:
        bridge.core.add_route(OWNER, OWNER, bridge.link, 0x40)
    else:
        bridge.core.add_route(FIRST, FIRST, bridge.down, 0x40)
    bridge.core.add_route(60, 60, bridge.down if flood_down else bridge.link, 0x41)
    listener = bridge.stack.listener(2, WAIT_MS)
    for i in range(40):
        flooder.send(0x20, build_packets(src, dest, 0x08, 1, _text("flood", i))[0])
    asker.send(0x20, build_packets(60, BRIDGE, 0x08, 0, GET_EID)[0])
    asker.send(0x20, build_packets(60, BRIDGE, 0x08, 2, b"to the bridge")[0])
    flooded = bridge.link if flood_down else bridge.down
    asked = bridge.down if flood_down else bridge.link
    before = flooded.counters.rx_frames
    bridge.server.poll()
    # One poll: the flooded link forwards FORWARD_BURST packets and stops (its ring took
    # 19 of the 40, the rest were dropped there), and the other link's frames are taken:
    # the control request is answered and the bridge's own listener has its message in
    # that same poll.
    assert flooded.counters.rx_frames - before == FORWARD_BURST
    assert flooded.counters.ring_full == 40 - (len(flooded._ring) - 1)
    assert asked.counters.rx_frames == 2
    assert len(_get_eid_answers(asker)) == 1
    assert bytes(listener.recv()[1]) == b"to the bridge"
    assert bridge.core.counters.fwd_packets == FORWARD_BURST
    bridge.server.poll()  # the rest of the ring
    assert bridge.core.counters.fwd_packets == len(flooded._ring) - 1
    assert flooded.pending() == 0


class _FloodDuringWrites:
    """The bridge's controller on the down bus, where each write brings one more frame into
    the bridge's up ring while it is busy, as a board's IRQ would: a flood that arrives as
    fast as it is forwarded, `left` frames of it."""

    def __init__(self, bus):
        self.bus = bus
        self.left = 100
        self.up = None  # (the bridge's up target, a controller on that bus, the frame)

    def writeto(self, addr, buf, stop=True):
        n = self.bus._write(addr, buf)
        if self.left and self.up is not None:
            self.left -= 1
            target, controller, frame = self.up
            controller.writeto(0x20, frame)
            target.service()  # its IRQs now, during the bridge's poll
        return n


def test_a_flood_arriving_while_the_bridge_forwards_stops_its_links_poll():
    owner, bridge, _eps = bridged(down_controller=_FloodDuringWrites)
    flood = bridge.down_controller
    bridge.core.add_route(OWNER, OWNER, bridge.link, 0x40)
    bridge.core.add_route(60, 60, bridge.down, 0x41)
    frame = frame_writes([build_packets(OWNER, FIRST, 0x08, 1, b"flood")[0]], 0x40, 0x20)[0]
    up_controller = owner.bus.controller()
    flood.up = (owner.bus.find(0x20), up_controller, frame)
    asker = RawPeer(bridge.down_bus, 0x41)
    asker.send(0x20, build_packets(60, BRIDGE, 0x08, 0, GET_EID)[0])
    up_controller.writeto(0x20, frame)
    bridge.server.poll()
    # The up link stopped after FORWARD_BURST packets though its ring never emptied, and the
    # down link's control request was answered in the same poll.
    assert bridge.core.counters.fwd_packets == FORWARD_BURST
    assert bridge.link.pending() > 0 and flood.left > 0
    assert len(_get_eid_answers(asker)) == 1
    assert drops(bridge.core) == {}


def test_forwarding_allocates_nothing():
    # Frames from the owner's side for the endpoint at 0x30, forwarded with the heap locked:
    # a single-packet message, and a 1 KiB one (first, middle and last packets).
    owner, bridge, _eps = bridged()
    drain = Drain(bridge.down_bus.find(0x30))  # in place of the endpoint there
    packets = build_packets(OWNER, FIRST, 0x08, 1, b"x") + build_packets(
        OWNER, FIRST, 0x09, 1, bytes(1023)
    )
    writes = frame_writes(packets, 0x10, 0x20)
    controller = owner.bus.controller()

    def forward_all():
        i = 0
        while i < len(writes):
            controller.writeto(0x20, writes[i])
            i += 1
        bridge.core.poll()  # (16 forwarded: FORWARD_BURST)
        bridge.core.poll()
        drain.take()

    forward_all()  # warm up
    before = bridge.core.counters.fwd_packets
    with heap_locked():
        forward_all()
    assert bridge.core.counters.fwd_packets - before == 17
    assert drain.frames == 34
    assert drops(bridge.core) == {}


def test_forwarding_nests_no_deeper_than_a_control_answer():
    # The C stack at the out-link's transmit: forwarding a packet against answering a control
    # request by the responder's full path (Core.respond: Get Message Type Support; Get
    # Endpoint ID's quick_reply nests a frame less), both from one poll of the bridge (the unix
    # port's stack_use; on CPython the Python frames).
    owner, bridge, _eps = bridged()
    depth = {}
    transmit = bridge.down.transmit
    transmit_up = bridge.link.transmit

    def measure(name, send):
        def wrapped(length, phys):
            depth[name] = _stack_now()
            return send(length, phys)

        return wrapped

    bridge.down.transmit = measure("forward", transmit)
    bridge.link.transmit = measure("control", transmit_up)
    owner.stack.req(FIRST).send(1, b"x")
    bridge.core.poll()
    peer = RawPeer(owner.bus, 0x11)
    bridge.core.add_route(9, 9, bridge.link, 0x11)
    peer.send(0x20, build_packets(9, BRIDGE, 0x08, 0, b"\x80\x05")[0])
    bridge.core.poll()
    assert bridge.core.control.counters.responses == 1
    assert depth["forward"] <= depth["control"], depth


def _stack_now():
    if IS_MICROPYTHON:
        import micropython  # noqa: PLC0415

        return micropython.stack_use()
    import sys  # noqa: PLC0415

    frame = sys._getframe()
    count = 0
    while frame is not None:
        count += 1
        frame = frame.f_back
    return count
