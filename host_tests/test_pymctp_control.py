# The control protocol against code this project did not write, over the UDP I2C bus: pymctp's
# compliance suite "mctp-base" against our endpoint firmware running under the MicroPython unix
# port; our bus owner enumerating that endpoint and pymctp's SimpleEndpointAM; pymctp's reading
# of the mctpd-style set-up sequence our bus owner puts on the bus.
#
# pymctp needs CPython >= 3.11: the tests skip on MicroPython and fail on CPython without it.

from endpoints import Endpoint
from testing import IS_MICROPYTHON, skip

from mctp.control.bus_owner import BusOwner
from mctp.i2c import I2CLink

if not IS_MICROPYTHON:
    import crc8
    from peers import (
        SimpleEndpoint,
        exerciser_socket,
        micropython_endpoint,
        port,
        pymctp_session,
    )
    from pymctp.compliance import ComplianceResult, ComplianceTestSuite, get_tests_for_suite
    from pymctp.layers.mctp import SmbusTransport
    from pymctp.layers.mctp.control import ControlHdrPacket
    from test_control_bus_owner import BUS_OWNER_SEQUENCE
    from test_control_responder import UUID

    from mctp._compat import ticks_ms

OWNER, EP = 0x10, 0x1D


def cpython_only():
    if IS_MICROPYTHON:
        skip("pymctp runs on CPython only")


def udp_bus_owner():
    """Our bus owner (EID 8 at 0x10) on the UDP I2C bus, on a free port, on the real clock;
    connect() its controller to the peer's port once the peer runs."""
    from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415 (imports socket)

    link = I2CLink(UdpI2C(), UdpI2CTarget(OWNER, 0), OWNER)
    owner = Endpoint(None, link, OWNER, 8, ticks_ms)
    return owner, BusOwner(owner.core, owner.stack, owner.link)


def close(owner):
    owner.link._i2c.close()
    owner.link._target.close()


def test_pymctp_base_compliance_passes_against_our_micropython_endpoint():
    cpython_only()
    sock = exerciser_socket()
    try:
        with micropython_endpoint(port(sock), EP, eid=9) as endpoint:
            sock.out_port = endpoint.port
            suite = ComplianceTestSuite(pymctp_session(OWNER, 8, EP, sock), 9, timeout_s=2)
            suite.add_tests(get_tests_for_suite("mctp-base"))
            results = suite.run_all()
    finally:
        sock.close()
    report = suite.report()
    assert len(results) == 6, report
    assert [r.result for r in results] == [ComplianceResult.PASS] * 6, report
    assert "requests=6 responses=6" in endpoint.output  # and nothing dropped or failed
    assert "unsupported=1" in endpoint.output  # pymctp's command 0xFF


def test_our_bus_owner_enumerates_our_micropython_endpoint():
    cpython_only()
    owner, bus_owner = udp_bus_owner()
    try:
        with micropython_endpoint(owner.link._target.port, EP) as endpoint:
            owner.link._i2c.connect(endpoint.port)
            peer = bus_owner.enumerate(EP)
            assert (peer.eid, peer.assigned, peer.msg_types) == (10, True, [0, 1, 0x7E])
            assert peer.vdm[0].vendor_id == 0xFFFF  # the echo service's
            assert bus_owner.control.get_version(10) == [(1, 3, 1, 0)]
            assert bus_owner.control.get_eid(10).eid == 10
    finally:
        close(owner)
    uuid_text = endpoint.ready.split("UUID ")[1].split(",")[0]
    assert bus_owner.control is not None and peer.uuid.hex() == uuid_text.replace("-", "")
    assert "eid_changes=1" in endpoint.output


def test_our_bus_owner_enumerates_pymctp_simple_endpoint():
    cpython_only()
    uuid = bytes(range(0xA0, 0xB0))
    owner, bus_owner = udp_bus_owner()
    try:
        with SimpleEndpoint(EP, owner.link._target.port, uuid, msg_types=(0, 1)) as simple:
            owner.link._i2c.connect(simple.port)
            # It answers after up to 250 ms: a try that times out is retried (same IID), and
            # the late answer to it, under the abandoned tag, is dropped.
            peer = bus_owner.enumerate(EP)
    finally:
        close(owner)
    assert (peer.eid, peer.assigned, peer.msg_types, peer.uuid) == (
        10,
        True,
        [0, 1],
        uuid,
    )
    assert simple.context.assigned_eid == 10
    assert owner.core.routes.lookup(10).phys == EP


def test_pymctp_reads_the_bus_owner_sequence():
    cpython_only()
    decoded = []
    for text in BUS_OWNER_SEQUENCE:
        frame = bytes.fromhex(text)
        pkt = SmbusTransport(frame)
        check = crc8.crc8()
        check.update(frame[:-1])
        assert pkt.pec == check.digest()[0] and bytes(pkt) == frame
        control = pkt.load[ControlHdrPacket]
        decoded.append(
            (pkt.load.src, pkt.load.dst, control.rq, control.instance_id, control.cmd_code)
        )
    assert decoded == [
        (8, 0, 1, 0, 2),
        (0, 8, 0, 0, 2),
        (8, 0, 1, 1, 1),
        (10, 8, 0, 1, 1),
        (8, 10, 1, 2, 5),
        (10, 8, 0, 2, 5),
        (8, 10, 1, 3, 6),
        (10, 8, 0, 3, 6),
        (8, 10, 1, 4, 3),
        (10, 8, 0, 4, 3),
    ]
    uuid_answer = SmbusTransport(bytes.fromhex(BUS_OWNER_SEQUENCE[-1]))
    assert bytes(uuid_answer.load)[8:24] == UUID
