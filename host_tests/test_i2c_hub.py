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
    with raises(ValueError):
        hello(0x78)
