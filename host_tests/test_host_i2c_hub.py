# The host's I2C hub (mctp.host.i2c_hub, tools/i2c_hub.py): a bus owner and three firmware
# endpoints on one UDP I2C bus, frames to absent addresses and hostile datagrams counted, and
# the hub and endpoints as processes (with a pymctp responder among them, on CPython).

from endpoints import Endpoint, FakeClock, pattern
from testing import IS_MICROPYTHON, needs_socket, raises, skip

from mctp.constants import MAX_PAYLOAD_SIZE
from mctp.control.bus_owner import BusOwner
from mctp.control.messages import ControlError
from mctp.i2c import I2CLink
from mctp.i2c.smbus import encode_frame

if not IS_MICROPYTHON:
    import os
    import select
    import signal
    import subprocess
    import sys

    from peers import SimpleEndpoint

    TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
    HUB_TOOL = os.path.join(TOOLS, "i2c_hub.py")
    sys.path.insert(0, TOOLS)
    from endpoint_process import EndpointFailed, EndpointProcess, micropython_command

OWNER = 0x10
DEVICES = (0x1D, 0x1E, 0x1F)
ABSENT = 0x30
ECHO = b"\xff\xff" + pattern(MAX_PAYLOAD_SIZE - 2, 5)  # 1 KiB with the type byte: 16 packets


def join(hub, addr, announce=True):
    """A controller and target at 7-bit `addr` on `hub`, sending from the target's port;
    announced to the hub unless told not to."""
    from mctp.host.i2c_hub import hello  # noqa: PLC0415 (imports socket)
    from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415

    target = UdpI2CTarget(addr, 0)
    i2c = UdpI2C(hub.port, sock=target.sock)
    if announce:
        i2c.writeto(addr, hello(addr))
    return i2c, target


class Rig:
    """A hub, three firmware endpoints waiting for Set EID at DEVICES and a bus owner (EID 8
    at OWNER) on it, all in this process on one fake clock: the owner's waits run the hub and
    the endpoints."""

    def __init__(self, tries=4):
        needs_socket()
        from firmware.endpoint import EndpointApp  # noqa: PLC0415
        from mctp.host.i2c_hub import I2CHub  # noqa: PLC0415

        self.hub = I2CHub(0)
        self.closing = [self.hub]
        clock = FakeClock(1000)
        self.apps = []
        for index, addr in enumerate(DEVICES):
            i2c, target = join(self.hub, addr)
            self.closing.append(target)
            uuid = bytes((index + 1,)) * 16
            self.apps.append(EndpointApp(i2c, target, addr, uuid=uuid, clock=clock))
        i2c, target = join(self.hub, OWNER)
        self.closing.append(target)
        self.owner = Endpoint(None, I2CLink(i2c, target, OWNER), OWNER, 8, clock)
        self.owner.others.append(self.hub.service)
        for app in self.apps:
            self.owner.others.append(app.poll)
        self.bus_owner = BusOwner(self.owner.core, self.owner.stack, self.owner.link, tries=tries)

    def close(self):
        for closing in self.closing:
            closing.close()


def test_a_bus_owner_enumerates_three_endpoints_on_one_hub_and_echoes_1_kib_with_each():
    rig = Rig()
    try:
        hub = rig.hub
        hub.service()  # the four hellos
        assert (hub.announced, sorted(hub.devices)) == (4, [OWNER, 0x1D, 0x1E, 0x1F])
        peers = [rig.bus_owner.enumerate(addr) for addr in DEVICES]
        assert [(p.eid, p.addr, p.assigned) for p in peers] == [
            (10, 0x1D, True),
            (11, 0x1E, True),
            (12, 0x1F, True),
        ]
        for peer, app in zip(peers, rig.apps):
            assert peer.uuid == app.control.uuid
            assert rig.bus_owner.control.get_eid(peer.eid).eid == peer.eid
            with rig.owner.stack.req(peer.eid, 500) as channel:
                channel.send(0x7E, ECHO)
                assert channel.recv()[1] == ECHO
            assert app.echo.counters.echoed == 1
        for app in rig.apps:
            counters = app.link.counters
            assert counters.rx_frames == 16 + 6  # the echo, Get EID x2, Set EID, types, VDM, UUID
            assert counters.bad_pec == counters.too_short == counters.ring_full == 0
            assert app.link._target.ignored == 0  # the hub sent each only its own frames
        assert (hub.no_such_device, hub.malformed, hub.too_long, hub.send_failed) == (0, 0, 0, 0)
        assert hub.delivered == 2 * 3 * (16 + 6)
    finally:
        rig.close()


def test_frames_to_an_absent_address_are_dropped_and_counted_by_the_hub():
    rig = Rig(tries=2)
    try:
        with raises(ControlError) as caught:
            rig.bus_owner.enumerate(ABSENT)
        assert str(caught.value).startswith("Get Endpoint ID: no answer after 2 tries")
        assert (rig.hub.no_such_device, rig.hub.absent) == (2, {ABSENT: 2})  # one per try
        assert rig.hub.delivered == 0
    finally:
        rig.close()


def test_the_hub_counts_hostile_datagrams_and_goes_on_delivering():
    needs_socket()
    from mctp.host.i2c_udp import udp_address  # noqa: PLC0415 (imports socket)

    rig = Rig()
    try:
        hub = rig.hub
        i2c, target = join(hub, 0x40, announce=False)
        rig.closing.append(target)
        to_hub = udp_address("127.0.0.1", hub.port)
        # Empty, 1 byte, no source address byte, a read (bit 0 of the address byte), 300 bytes.
        for hostile in (b"", b"\x3a", b"\x3a\x0f\x01", b"\x3b\x0f\x01\x81\x00", bytes(300)):
            target.sock.sendto(hostile, to_hub)
        frame = bytearray(20)
        length = encode_frame(frame, 0x1D, 0x40, b"\x01\x00\x08\xc8\x00\x80\x02")
        frame[length - 1] ^= 0x55  # a wrong PEC: delivered, for the target to check
        i2c.writeto(0x1D, frame[1:length])
        hub.service()
        assert (hub.announced, hub.malformed, hub.too_long, hub.delivered) == (4, 4, 1, 1)
        assert 0x40 not in hub.devices  # nothing learned from a frame that is not right
        rig.apps[0].poll()
        assert rig.apps[0].link.counters.bad_pec == 1
        peer = rig.bus_owner.enumerate(0x1D)
        with rig.owner.stack.req(peer.eid, 500) as channel:
            channel.send(0x7E, ECHO)
            assert channel.recv()[1] == ECHO
    finally:
        rig.close()


def received(target):
    """The datagrams waiting at `target`'s socket."""
    datagrams = []
    while True:
        try:
            datagrams.append(target.sock.recv(300))
        except OSError:
            return datagrams


def test_static_devices_stay_and_learned_ones_follow_the_latest_port():
    needs_socket()
    from mctp.host.i2c_hub import I2CHub, hello  # noqa: PLC0415

    hub = I2CHub(0)
    _, first_target = join(hub, 0x20)
    _, again_target = join(hub, 0x20)  # the same device restarted on another port
    spoof, spoof_target = join(hub, 0x1D)
    try:
        hub.service()
        hub.add_device(0x1D, first_target.port)  # static from now on
        spoof.writeto(0x1D, hello(0x1D))  # not followed: 0x1D is static
        spoof.writeto(0x20, b"\x0f\x02\x3b\x01")  # bytes, not a well-formed frame
        spoof.writeto(0x1D, b"\x0f\x02\x3b\x02")
        hub.service()
        assert received(again_target) == [b"\x40\x0f\x02\x3b\x01"]  # 0x20: the latest port
        assert received(first_target) == [b"\x3a\x0f\x02\x3b\x02"]  # 0x1D: the static one
        assert received(spoof_target) == []
        assert (hub.announced, hub.delivered, sorted(hub.static)) == (4, 2, [0x1D])
        assert hub.device_port(0x20) == again_target.port
        assert hub.device_port(0x1D) == first_target.port
        assert hub.device_port(0x21) is None
    finally:
        for closing in (hub, first_target, again_target, spoof_target):
            closing.close()


def test_bad_device_entries_are_refused_with_the_value_and_the_limit():
    needs_socket()
    from mctp.host.i2c_hub import I2CHub, hello  # noqa: PLC0415

    for devices, words in (
        (((0x07, 1000),), "device address 0x07 is not within 0x08..0x77"),
        (((0x78, 1000),), "device address 0x78 is not within 0x08..0x77"),
        (((0x1D, 0),), "device port 0 is not within 1..65535"),
        (((0x1D, 65536),), "device port 65536 is not within 1..65535"),
    ):
        with raises(ValueError) as caught:
            I2CHub(0, devices=devices)
        assert str(caught.value) == words
    with raises(ValueError) as caught:
        hello(0x78)
    assert str(caught.value) == "device address 0x78 is not within 0x08..0x77"
    with raises(ValueError) as caught:
        I2CHub(65536)
    assert str(caught.value) == "hub port 65536 is not within 0..65535"


class HubProcess:
    """tools/i2c_hub.py under `interpreter` on a free port (its `port`), until stop(), which
    returns what it printed when it stopped."""

    def __init__(self, interpreter, options=()):
        self.process = subprocess.Popen(
            [interpreter, HUB_TOOL, "--port", "0"] + list(options),  # noqa: RUF005 (MicroPython)
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if not select.select([self.process.stdout], [], [], 10)[0]:
            self.stop()
            raise AssertionError("the hub did not start")
        self.ready = self.process.stdout.readline()
        assert self.ready.startswith("ready: I2C hub on UDP "), self.ready + self.stop()
        self.port = int(self.ready.split()[5].rstrip(","))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        output = self.process.stdout.read()
        self.process.stdout.close()
        return output


def cpython_only():
    if IS_MICROPYTHON:
        skip("starts processes, and pymctp runs on CPython only")


def test_three_micropython_endpoints_and_pymctp_on_a_hub_process_under_both_interpreters():
    # The hub as a user starts it, three endpoints under the unix port joining it with
    # --i2c-hub, pymctp's responder at 0x1C given to it as a static device, and our bus owner
    # (in this process, on the real clock) enumerating all four and echoing 1 KiB with ours.
    cpython_only()
    from mctp._compat import ticks_ms  # noqa: PLC0415
    from mctp.host.i2c_hub import hello  # noqa: PLC0415
    from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415

    for interpreter in (micropython_command(), sys.executable):
        uuid = bytes(range(0xA0, 0xB0))
        with SimpleEndpoint(0x1C, None, uuid, msg_types=(0, 1)) as simple:
            hub = HubProcess(interpreter, ["--device", "0x1C=%d" % simple.port])
            simple.socket.out_port = hub.port
            target = UdpI2CTarget(OWNER, 0)
            i2c = UdpI2C(hub.port, sock=target.sock)
            i2c.writeto(OWNER, hello(OWNER))
            endpoints = []
            try:
                for addr in DEVICES:
                    options = [
                        "--i2c-udp",
                        "0:%d" % hub.port,
                        "--i2c-hub",
                        "--i2c-addr",
                        hex(addr),
                    ]
                    endpoints.append(EndpointProcess(micropython_command(), options))
                owner = Endpoint(None, I2CLink(i2c, target, OWNER), OWNER, 8, ticks_ms)
                bus_owner = BusOwner(owner.core, owner.stack, owner.link)
                peers = [bus_owner.enumerate(addr) for addr in DEVICES]
                assert [peer.eid for peer in peers] == [10, 11, 12]
                for peer in peers:
                    assert bus_owner.control.get_eid(peer.eid).eid == peer.eid
                    with owner.stack.req(peer.eid, 2000) as channel:
                        channel.send(0x7E, ECHO)
                        assert channel.recv()[1] == ECHO
                pymctp_peer = bus_owner.enumerate(0x1C)  # it answers after 100-250 ms
                assert (pymctp_peer.eid, pymctp_peer.uuid) == (13, uuid)
                with raises(ControlError):
                    BusOwner(owner.core, owner.stack, owner.link, 20, 20, 50, 1).enumerate(ABSENT)
            finally:
                outputs = [endpoint.stop_output() for endpoint in endpoints]
                report = hub.stop()
                target.close()
        for output in outputs:
            assert "echoed=1" in output and "bad_pec=0" in output, output
        counters = dict(word.split("=") for word in report.splitlines()[0].split()[1:])
        assert report.startswith("hub: "), report
        assert counters["announced"] == "4", report  # the owner and the three endpoints
        assert counters["no_such_device"] == "1", report  # the one Get EID to ABSENT
        assert counters["malformed"] == counters["too_long"] == counters["send_failed"] == "0"
        assert "device 0x1c: static, UDP %d\n" % simple.port in report, report
        assert "device 0x1d: learned, UDP %d\n" % endpoints[0].port in report, report
        assert "absent 0x30: 1 frames" in report, report


def test_the_hub_tool_takes_its_options_on_both_interpreters():
    cpython_only()
    for interpreter in (micropython_command(), sys.executable):
        for options, error in (
            (["--device", "0x1D"], "--device: give ADDR=PORT, not '0x1D'"),
            (["--device", "0x78=5"], "--device ADDR: 0x78 is not within 8..119"),
            (["--device", "0x1D=0"], "--device PORT: 0 is not within 1..65535"),
            (["--port", "x"], "--port: 'x' is not a number"),
        ):
            done = subprocess.run(
                [interpreter, HUB_TOOL] + options,  # noqa: RUF005 (MicroPython compiles it)
                check=False,
                capture_output=True,
                text=True,
                timeout=10,
            )
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 2 and len(lines) == 2, done
            assert lines[0].startswith("usage: i2c_hub.py") and lines[1] == "error: " + error
        hub = HubProcess(interpreter)
        try:
            taken = subprocess.run(
                [interpreter, HUB_TOOL, "--port", str(hub.port)],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        finally:
            report = hub.stop()
        assert report.startswith("hub: delivered=0 announced=0 no_such_device=0"), report
        assert taken.returncode == 1, taken
        assert taken.stderr.startswith("i2c_hub.py: cannot listen on UDP port %d: " % hub.port)
    with raises(EndpointFailed) as caught:
        EndpointProcess(sys.executable, ["--serial", "/dev/null", "--i2c-hub"])
    assert "error: --i2c-hub: give --i2c-udp LISTEN:HUBPORT too" in caught.value.output
