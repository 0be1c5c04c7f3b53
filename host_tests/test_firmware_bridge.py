# The bridge application (firmware/bridge.py) in process, with an injected clock: an upstream bus
# owner on a serial line in memory sets the bridge's EID, reads the pool size it asks for and
# allocates the pool; the bridge gives it to three firmware endpoints on a SimBus; the owner then
# reaches each of them by EID through the bridge (Get EID, echoes of every size), while the
# endpoints ask the owner too; an endpoint that leaves the bus loses its route, and the owner's
# request to it is counted at the bridge as having no route.

import sys

from endpoints import Endpoint, FakeClock, pattern
from testing import IS_MICROPYTHON, raises, skip

from firmware.bridge import BridgeApp
from firmware.endpoint import EndpointApp
from mctp import MctpError
from mctp.control.bus_owner import BusOwner
from mctp.control.requester import ControlRequester
from mctp.host.i2c_sim import SimBus
from mctp.host.serial_pipe import SerialPipe
from mctp.serial import SerialLink

OWNER_EID, BRIDGE_EID, POOL_FIRST = 8, 10, 11
BRIDGE_ADDR = 0x20
DOWN = (0x30, 0x31, 0x32)
VENDOR = b"\xff\xff"  # the echo's PCI vendor ID (EndpointApp's default)
ASK_TYPE = 0x7E  # what the endpoints send the owner (which answers every request in kind)


class Net:
    """An owner (EID 8) at one end of a serial line, the bridge at the other, and three
    firmware endpoints (no EID) with the bridge on its I2C bus. run(ms) drives everything but
    the owner, which runs them while it waits."""

    def __init__(self, downstream=DOWN, **bridge_options):
        if IS_MICROPYTHON and sys.platform != "linux":
            skip("five firmware apps overfill an emulated Cortex-M0's heap (a board runs one)")
        self.clock = FakeClock(1000)
        pipe, self.bus = SerialPipe(), SimBus()
        self.bridge = BridgeApp(
            self.bus.controller(),
            self.bus.target(BRIDGE_ADDR),
            BRIDGE_ADDR,
            pipe.a,
            pool_size=3,
            downstream=downstream,
            uuid=bytes(16),
            clock=self.clock,
            **bridge_options,
        )
        self.eps = {}
        for addr in DOWN:
            ep = EndpointApp(
                self.bus.controller(), self.bus.target(addr), addr, uuid=bytes((addr,)) * 16,
                clock=self.clock,
            )  # fmt: skip
            self.eps[addr] = ep
        self.silent = set()  # addresses whose endpoint has stopped
        self.owner = Endpoint(None, SerialLink(pipe.b), None, OWNER_EID, self.clock)
        self.owner.others.append(self.step)
        self.ctl = ControlRequester(self.owner.stack)

    def step(self):
        self.bridge.poll()
        for addr, ep in self.eps.items():
            if addr not in self.silent:
                ep.poll()

    def run(self, ms):
        for _ in range(ms):
            self.step()
            self.owner.server.poll()
            self.clock.advance(1)

    def set_up(self):
        """The owner's part: the bridge's EID and pool, then the route for the pool through
        the bridge (what mctpd's gateway route does); the bridge then sets up the endpoints."""
        peer = BusOwner(self.owner.core, self.owner.stack, self.owner.link).enumerate(0)
        assert (peer.eid, peer.endpoint_type) == (BRIDGE_EID, 1)  # a bridge
        size = self.ctl.set_eid(BRIDGE_EID, BRIDGE_EID).pool_size
        allocation = self.ctl.allocate_eids(BRIDGE_EID, POOL_FIRST, size)
        assert (allocation.accepted, allocation.first_eid, allocation.pool_size) == (True, 11, 3)
        self.owner.core.add_route(POOL_FIRST, POOL_FIRST + size - 1, self.owner.link, 0)
        self.run(200)

    def echo(self, eid, payload):
        with self.owner.stack.req(eid, 500) as channel:
            channel.send(0x7E, payload)
            meta, answer = channel.recv()
        assert meta.remote_eid == eid
        return bytes(answer)


def test_the_owner_reaches_three_endpoints_behind_the_bridge_and_they_reach_it():
    net = Net()
    net.set_up()
    eids = {addr: ep.core.eid for addr, ep in net.eps.items()}
    assert eids == {0x30: 11, 0x31: 12, 0x32: 13}
    assert net.bridge.bridge_lines() == [
        "pool EIDs 11..13 (asked for 3)",
        "bus owner EID 8, upstream",
        "downstream EID 11 at 0x30, route to I2C 0x30",
        "downstream EID 12 at 0x31, route to I2C 0x31",
        "downstream EID 13 at 0x32, route to I2C 0x32",
    ]
    listener = net.owner.stack.listener(ASK_TYPE)
    for addr, eid in eids.items():
        assert net.ctl.get_eid(eid).eid == eid
        for size in (2, 3, 1023):  # the echo's vendor ID and nothing, 1 byte, the most
            payload = VENDOR + pattern(size - 2)
            assert net.echo(eid, payload) == payload
        # The endpoint asks the owner (0, 1 and 1023 bytes), each request sent before the
        # owner's echo to it, which crosses it on the way: the tags keep them apart.
        ep = net.eps[addr]
        for size in (0, 1, 1023):
            asked = bytes((eid,)) * size
            with ep.stack.req(OWNER_EID, 0) as channel:
                channel.send(ASK_TYPE, asked)
                payload = VENDOR + pattern(100 + size)[:100]
                assert net.echo(eid, payload) == payload
                meta, request, resp = listener.recv()
                assert (meta.remote_eid, bytes(request)) == (eid, asked)
                resp.send(_inverted(request))
                _wait(net, ep, channel)
                assert bytes(channel.recv()[1]) == _inverted(asked)
    listener.close()
    counters = net.bridge.core.counters
    # Per endpoint, both ways: Get EID; 1, 1 and 16 packets (64 bytes each) of the owner's
    # echoes and of the endpoint's requests; the 2 of each echo that crossed a request.
    each_way = 1 + (1 + 1 + 16) + (1 + 1 + 16) + 3 * 2
    assert counters.fwd_packets == 3 * 2 * each_way
    for name in ("fwd_no_route", "fwd_same_link", "fwd_too_large", "fwd_link_failed"):
        assert getattr(counters, name) == 0, name
    assert counters.fwd_spoofed == 0 and net.bridge.faults == 0
    assert net.bridge.pool.counters.errors == 0 and net.bridge.server.check() == []


def _inverted(data):
    return bytes(byte ^ 0xFF for byte in data)


def _wait(net, ep, channel):
    for _ in range(50):
        if ep.server.queued(channel.handle.value):
            return
        net.run(1)
    raise AssertionError("no answer from the owner")


def test_a_vanished_endpoint_loses_its_route_and_requests_to_it_have_none():
    net = Net()
    net.set_up()
    net.silent.add(0x31)  # EID 12 leaves the bus
    net.run(2500 + 3 * 4 * 250 + 50)  # the next poll, its tries
    assert net.bridge.pool.counters.vanished == 1
    assert net.bridge.core.routes.lookup(12) is None
    assert "downstream EID 12 at 0x31, route to I2C 0x31" not in net.bridge.bridge_lines()
    with raises(MctpError):
        net.echo(12, VENDOR)
    assert net.bridge.core.counters.fwd_no_route == 1
    assert net.echo(13, VENDOR + b"x") == VENDOR + b"x"  # the others still answer


def test_without_addresses_the_bridge_scans_its_bus():
    net = Net(downstream=None)
    net.set_up()
    net.run(500)
    assert sorted(net.bridge.pool.peers) == [11, 12, 13]
    assert net.echo(12, VENDOR + b"scan") == VENDOR + b"scan"


def test_a_bridge_needs_both_links_and_a_pool():
    bus = SimBus()
    with raises(ValueError) as caught:
        BridgeApp(bus.controller(), bus.target(0x20), 0x20, None, uuid=bytes(16))
    assert str(caught.value) == (
        "a bridge needs its downstream I2C bus (i2c, target, addr) and its upstream serial"
        " line (serial)"
    )
    for size in (0, 247, "8"):
        with raises(ValueError) as caught:
            BridgeApp(
                bus.controller(), bus.target(0x21), 0x21, SerialPipe().a, pool_size=size,
                uuid=bytes(16),
            )  # fmt: skip
        assert str(caught.value) == "a bridge's pool_size must be 1..246 EIDs, got %r" % (size,)


def test_run_endpoint_as_a_bridge_under_the_unix_port_with_two_endpoints_behind_a_hub():
    # As a user runs it: a hub, two endpoints under the unix port joining it, the bridge
    # under the unix port between the hub and a serial line (a Unix socket, as a QEMU guest's
    # serial port is), and a bus owner here at the line's other end that sets the bridge up,
    # allocates its pool and then reaches each endpoint through it (Get EID, 1 KiB echoes).
    if IS_MICROPYTHON:
        skip("starts processes")
    import os  # noqa: PLC0415
    import socket  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from test_host_i2c_hub import HubProcess  # noqa: PLC0415

    from mctp._compat import ticks_ms  # noqa: PLC0415
    from mctp.host.serial_stream import SerialStream  # noqa: PLC0415

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tools"))
    from endpoint_process import EndpointProcess, micropython_command  # noqa: PLC0415

    folder = tempfile.mkdtemp(prefix="mctp-bridge-")
    path = os.path.join(folder, "serial.sock")
    line = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    line.bind(path)
    line.listen(1)
    hub = HubProcess(micropython_command())
    processes, outputs, stream = [], [], None
    try:
        for addr in ("0x30", "0x31"):
            down = ["--i2c-udp", "0:%d" % hub.port, "--i2c-hub", "--i2c-addr", addr]
            processes.append(EndpointProcess(micropython_command(), down))
        up = ["--serial", "unix:" + path]
        down = ["--i2c-udp", "0:%d" % hub.port, "--i2c-hub", "--i2c-addr", "0x20"]
        bridge_options = ["--bridge", "--pool-size", "3", "--downstream", "0x30,0x31"]
        bridge = EndpointProcess(micropython_command(), bridge_options + up + down)
        processes.append(bridge)
        assert ", bridge, pool of 3, downstream 0x30,0x31" in bridge.ready, bridge.ready
        accepted, _ = line.accept()
        stream = SerialStream(accepted)
        owner = Endpoint(None, SerialLink(stream), None, OWNER_EID, ticks_ms)
        peer = BusOwner(owner.core, owner.stack, owner.link).enumerate(0)
        ctl = ControlRequester(owner.stack, 500)
        size = ctl.set_eid(peer.eid, peer.eid).pool_size
        assert (peer.eid, peer.endpoint_type, size) == (BRIDGE_EID, 1, 3)
        assert ctl.allocate_eids(BRIDGE_EID, POOL_FIRST, size).accepted
        owner.core.add_route(POOL_FIRST, POOL_FIRST + size - 1, owner.link, 0)
        waiting = ControlRequester(owner.stack, 250, 40)  # while the bridge sets them up
        for eid in (11, 12):
            assert waiting.get_eid(eid).eid == eid
            echo = VENDOR + pattern(1021)  # 1 KiB with the type byte: 16 packets each way
            with owner.stack.req(eid, 2000) as channel:
                channel.send(0x7E, echo)
                assert bytes(channel.recv()[1]) == echo
    finally:
        outputs = [process.stop_output() for process in processes]
        hub.stop()
        if stream is not None:
            stream.close()
        line.close()
        os.unlink(path)
        os.rmdir(folder)
    for output in outputs[:2]:
        assert "echoed=1" in output and "bad_pec=0" in output, output
    report = outputs[2]
    for text in (
        "pool EIDs 11..13 (asked for 3)",
        "bus owner EID 8, upstream",
        "downstream EID 11 at 0x30, route to I2C 0x30",
        "downstream EID 12 at 0x31, route to I2C 0x31",
        # (fwd_no_route: the owner's Get EIDs that came before the endpoint was set up)
        "fwd_same_link=0 fwd_too_large=0 fwd_link_failed=0 fwd_spoofed=0",
        "fwd_packets=%d" % (2 * 2 * (1 + 16)),  # Get EID and the echo, each way, twice
        "bad_fcs=0",
        "faults 0",
    ):
        assert text in report, report
