# The control responder (mctp.control.responder) on the simulated I2C bus: every command, every
# malformed request, the Rq/D/IID rules, EID 0 and physical addressing, with the heap locked.
# The requester, the bus owner and the encodings have their own files (test_control_requester.py,
# test_control_bus_owner.py, test_control_messages.py), which use the Rig here.
# A bridge's commands are its own responder's (mctp.bridge.control, test_bridge_control.py, with
# the Rig here): an endpoint answers them ERROR_UNSUPPORTED_CMD.

from endpoints import Endpoint, FakeClock
from testing import heap_locked, raises

from mctp import MctpError, ResponseCode
from mctp.control import uuid_from_unique_id, vdm_iana, vdm_pci, version_entry
from mctp.config import Config
from mctp.control.responder import ControlResponder
from mctp.i2c import I2CLink
from mctp.host.i2c_sim import SimBus
from mctp.i2c.smbus import encode_frame

UUID = bytes(range(0x10, 0x20))
OWNER, EP = 0x10, 0x1D  # 7-bit addresses


class Rig:
    """A bus owner (EID 8 at 0x10) and an endpoint with a control responder at 0x1D on one
    simulated bus (the endpoint's stack sized by `config`, its responder a `responder` made
    with `options`); every frame on the bus is recorded."""

    def __init__(self, eid=0, config=None, responder=ControlResponder, **options):
        self.bus = SimBus()
        clock = FakeClock(1000)
        bus = self.bus
        self.owner = Endpoint(
            bus, I2CLink(bus.controller(), bus.target(OWNER), OWNER), OWNER, 8, clock
        )
        link = I2CLink(bus.controller(), bus.target(EP), EP)
        self.ep = Endpoint(bus, link, EP, eid, clock, config)
        self.responder = responder(self.ep.core, uuid=options.pop("uuid", UUID), **options)
        self.owner.others.append(self.ep.server.poll)
        self.ep.others.append(self.owner.server.poll)
        self.frames = []
        bus.tap = self._tap
        self._frame = bytearray(300)

    def _tap(self, addr, buf, length):
        self.frames.append(bytes((addr << 1,)) + bytes(buf[:length]))

    def ask(self, body, dest=0, src=8, tag=0, flags=0xC8, type_byte=0x00, from_addr=OWNER):
        """Put one control request packet on the bus from `from_addr`; the endpoint's answer
        (its MCTP header and its message bytes after the type byte), or None."""
        packet = bytes((1, dest, src, flags | tag, type_byte)) + bytes(body)
        n = encode_frame(self._frame, EP, from_addr, packet)
        self.bus.controller().writeto(EP, self._frame[1:n])
        sent = len(self.frames)
        self.ep.server.poll()
        answers = self.frames[sent:]
        if not answers:
            return None
        assert len(answers) == 1
        frame = answers[0]
        assert frame[0] == from_addr << 1  # back to the requester's physical address
        assert frame[8] == 0x00  # a control message
        return frame[4:8], frame[9:-1]


def test_get_eid_before_and_after_set_eid():
    rig = Rig()
    hdr, body = rig.ask(b"\x80\x02")
    assert hdr == bytes((1, 8, 0, 0xC0))  # from EID 0, tag 0, TO=0
    assert body == bytes((0x00, 0x02, 0x00, 0x00, 0x00, 0x00))  # cc 0, EID 0, simple, dynamic
    hdr, body = rig.ask(b"\x81\x01\x00\x0a", tag=1)
    assert hdr == bytes((1, 8, 0x0A, 0xC1))  # the answer already comes from the new EID
    assert body == bytes((0x01, 0x01, 0x00, 0x00, 0x0A, 0x00))  # accepted, no pool, EID 10
    assert rig.ep.core.eid == 0x0A
    hdr, body = rig.ask(b"\x82\x02", dest=0x0A)
    assert hdr[2] == 0x0A and body == bytes((0x02, 0x02, 0x00, 0x0A, 0x00, 0x00))
    assert rig.responder.counters.eid_changes == 1


def test_golden_get_eid_and_set_eid_responses():
    rig = Rig(static_eid=0x0A)
    rig.ep.core.set_eid(0)  # has a static EID, none at present
    rig.ask(b"\x80\x02")
    assert rig.frames[-1] == bytes.fromhex("20 0F 0C 3B 01 08 00 C0 00 00 02 00 00 01 00 17")
    rig.ask(b"\x81\x01\x00\x0a", tag=1)
    assert rig.frames[-1] == bytes.fromhex("20 0F 0C 3B 01 08 0A C1 00 01 01 00 00 0A 00 2F")


def test_eid_types_and_endpoint_type():
    rig = Rig(eid=0x0A, static_eid=0x0A, endpoint_type=1)
    assert rig.ask(b"\x80\x02")[1][3:5] == bytes((0x0A, 0x12))  # bus owner, static = present
    rig.ask(b"\x80\x01\x00\x20")
    assert rig.ask(b"\x80\x02")[1][3:5] == bytes((0x20, 0x13))  # static differs from present
    assert rig.ask(b"\x80\x01\x02\x00")[1] == bytes((0, 1, 0, 0, 0x0A, 0))  # reset to static
    assert rig.ep.core.eid == 0x0A


def test_set_eid_operations_and_invalid_eids():
    rig = Rig(eid=9)
    for eid in (0, 1, 7, 0xFF):
        for op in (0, 1):
            assert rig.ask(bytes((0x80, 0x01, op, eid)))[1] == b"\x00\x01\x02"  # INVALID_DATA
    assert rig.ep.core.eid == 9
    assert rig.ask(b"\x80\x01\x01\x30")[1] == bytes((0, 1, 0, 0, 0x30, 0))  # force
    assert rig.ask(b"\x80\x01\x02\x00")[1] == b"\x00\x01\x02"  # reset: no static EID
    assert rig.ask(b"\x80\x01\x03\x00")[1] == bytes((0, 1, 0, 0, 0x30, 0))  # discovered
    assert rig.responder.discovered
    assert rig.ask(b"\x80\x01\xfc\x31")[1] == bytes((0, 1, 0, 0, 0x31, 0))  # reserved bits


def test_uuid_version_and_message_types():
    rig = Rig(eid=9, versions={1: version_entry(1, 2, 0) + version_entry(1, 1, 0)})
    assert rig.ask(b"\x83\x03")[1] == b"\x03\x03\x00" + UUID
    assert rig.ask(b"\x84\x04\xff")[1] == bytes.fromhex("04 04 00 01 F1 F3 F1 00")
    assert rig.ask(b"\x84\x04\x00")[1] == bytes.fromhex("04 04 00 01 F1 F3 F1 00")
    assert rig.ask(b"\x84\x04\x01")[1] == bytes.fromhex("04 04 00 02 F1 F2 F0 00 F1 F1 F0 00")
    assert rig.ask(b"\x84\x04\x05")[1] == b"\x04\x04\x80"  # a type we do not support
    assert rig.ask(b"\x85\x05")[1] == b"\x05\x05\x00\x01\x00"  # control only
    listeners = [rig.ep.stack.listener(0x05), rig.ep.stack.listener(0x01)]
    assert rig.ask(b"\x85\x05")[1] == b"\x05\x05\x00\x03\x00\x01\x05"
    listeners[0].close()
    assert rig.ask(b"\x85\x05")[1] == b"\x05\x05\x00\x02\x00\x01"


def test_vendor_defined_message_support():
    rig = Rig(eid=9, vdm=(vdm_pci(0x1234, 0x0001), vdm_iana(0x0000ABCD, 0x0203)))
    assert rig.ask(b"\x86\x06\x00")[1] == bytes.fromhex("06 06 00 01 00 12 34 00 01")
    assert rig.ask(b"\x86\x06\x01")[1] == bytes.fromhex("06 06 00 FF 01 00 00 AB CD 02 03")
    assert rig.ask(b"\x86\x06\x02")[1] == b"\x06\x06\x02"  # no such selector: INVALID_DATA
    assert Rig(eid=9).ask(b"\x86\x06\x00")[1] == b"\x06\x06\x02"  # none configured


def test_unsupported_commands():
    rig = Rig(eid=9)
    for command in (0x00, 0x07, 0x08, 0x0B, 0x14, 0x15, 0xF0, 0xFF):
        assert rig.ask(bytes((0x85, command)))[1] == bytes((0x05, command, 0x05))
    assert rig.responder.counters.unsupported == 8


def test_wrong_lengths_get_invalid_length():
    rig = Rig(eid=9)
    for body in (
        b"\x80\x01\x00",
        b"\x80\x01\x00\x0a\x00",
        b"\x80\x02\x00",
        b"\x80\x03\x00",
        b"\x80\x04",
        b"\x80\x04\xff\x00",
        b"\x80\x05\x00",
        b"\x80\x06",
    ):
        assert rig.ask(body)[1] == bytes((0x00, body[1], 0x03)), body
    assert rig.ep.core.eid == 9


def test_requests_that_are_not_answered():
    rig = Rig(eid=9)
    assert rig.ask(b"\xc0\x02") is None  # a datagram
    assert rig.ask(b"\x00\x02\x00") is None  # Rq clear: not a request
    assert rig.ask(b"\x80") is None  # no command
    assert rig.ask(b"\x80\x02", type_byte=0x80) is None  # IC set on a control message
    assert rig.ask(b"\x80\x02", flags=0xC0) is None  # TO=0: a response nobody asked for
    counters = rig.responder.counters
    assert (counters.datagrams, counters.dropped, counters.responses) == (1, 3, 0)
    assert rig.ep.core.counters.unsolicited == 1
    assert rig.ep.core.pool.in_use() == 0


def test_a_retry_with_the_same_iid_is_answered_again():
    rig = Rig()
    first = rig.ask(b"\x87\x01\x00\x0a", tag=3)
    again = rig.ask(b"\x87\x01\x00\x0a", tag=3)  # its answer was lost: the same request again
    assert first == again == (bytes((1, 8, 0x0A, 0xC3)), bytes((0x07, 1, 0, 0, 0x0A, 0)))


def test_physical_addressing_and_requesters_without_an_eid():
    rig = Rig(eid=9)
    rig.bus.target(0x12)
    # A requester at 0x12 with no EID yet asks EID 0: the answer goes to 0x12, to EID 0.
    hdr, body = rig.ask(b"\x80\x02", src=0, from_addr=0x12)
    assert hdr == bytes((1, 0, 9, 0xC0)) and body[3] == 9
    # Our own EID and broadcast reach the responder too.
    assert rig.ask(b"\x80\x02", dest=9)[1][3] == 9
    assert rig.ask(b"\x80\x02", dest=0xFF)[1][3] == 9


def test_answers_leave_within_the_same_poll():
    rig = Rig(eid=9)
    before = rig.owner.clock()
    assert rig.ask(b"\x80\x02") is not None  # one ep.server.poll(), no time passed
    assert rig.owner.clock() == before


def test_an_application_cannot_listen_for_control_requests():
    rig = Rig(eid=9)
    with raises(MctpError) as caught:
        rig.ep.stack.listener(0)
    assert caught.value.code == ResponseCode.ADDR_IN_USE
    assert rig.ep.server.handles_in_use() == 0
    rig.ep.stack.listener(0x7E)  # other types are the application's


def test_responder_with_the_heap_locked():
    rig = Rig(eid=9, vdm=(vdm_pci(0x1234, 1),))
    requests = (b"\x80\x02", b"\x80\x01\x00\x0b", b"\x80\x03", b"\x80\x04\xff", b"\x80\x05")
    requests += (b"\x80\x06\x00", b"\x80\x07", b"\x80\x02\x00", b"\xc0\x02")
    answer_locked(rig, requests)
    assert rig.responder.counters.responses == 16
    assert rig.responder.counters.internal_error == 0


def answer_locked(rig, requests, dest=0):
    """Have `rig`'s endpoint answer each request (the bytes after the type byte, to `dest`)
    twice: once to warm up, once with the heap locked; the answers are dropped."""
    frames = []
    for body in requests:
        packet = bytes((1, dest, 8, 0xC8, 0)) + body
        frame = bytearray(40)
        n = encode_frame(frame, EP, OWNER, packet)
        frames.append(memoryview(frame)[1:n])
    rig.bus.tap = None
    controller = rig.bus.controller()
    ep_server = rig.ep.server
    owner_link = rig.owner.link
    for _ in range(2):  # warm up, then with the heap locked
        with heap_locked():
            for frame in frames:
                controller.writeto(EP, frame)
                ep_server.poll()
                owner_link._r = owner_link._w  # drop the answer at the owner


def test_the_uuid_defaults_to_one_made_from_the_board_id():
    import mctp.control.responder as module  # noqa: PLC0415 (its machine.unique_id stand-in)

    saved = module.unique_id
    try:
        module.unique_id = lambda: bytes.fromhex("e660583883632b2c")
        rig = Rig(eid=9, uuid=None)
        assert rig.responder.uuid == uuid_from_unique_id(bytes.fromhex("e660583883632b2c"))
        module.unique_id = lambda: None  # a port without machine.unique_id()
        with raises(ValueError):
            ControlResponder(rig.ep.core)
    finally:
        module.unique_id = saved


def test_an_endpoint_answers_none_of_the_bridge_commands():
    rig = Rig(eid=9)
    for body in (b"\x81\x08\x00\x03\x0b", b"\x82\x09\x00", b"\x83\x0a\x00"):
        assert rig.ask(body)[1] == bytes((body[0] & 0x1F, body[1], 0x05))
    assert rig.ask(b"\x84\x01\x00\x0a")[1] == bytes((0x04, 0x01, 0x00, 0x00, 0x0A, 0x00))


def used_routes(core):
    return [(r.first, r.last, r.phys) for r in core.routes.routes if r.used]


def test_the_bus_owner_that_sets_the_eid_is_the_route_for_every_other_eid():
    rig = Rig()
    assert used_routes(rig.ep.core) == []
    rig.ask(b"\x80\x01\x00\x0a")  # Set EID 10 from EID 8 at 0x10
    r = rig.responder
    assert (r.owner_link, r.owner_phys, r.owner_eid) == (rig.ep.link, OWNER, 8)
    assert used_routes(rig.ep.core) == [(8, 254, OWNER)]
    # A request to an EID it was never told of goes to the bus owner's address.
    sent = len(rig.frames)
    rig.ep.stack.req(100).send(0x7E, b"\xff\xffhello")
    assert rig.frames[sent][0] == OWNER << 1 and rig.frames[sent][5] == 100  # to EID 100
    # A narrower route still wins.
    rig.bus.target(0x40)
    rig.ep.core.add_route(100, 100, rig.ep.link, 0x40)
    sent = len(rig.frames)
    rig.ep.stack.req(100).send(0x7E, b"\xff\xffhello")
    assert rig.frames[sent][0] == 0x40 << 1
    # Get EID, Set EID "discovered" and a refused Set EID leave it; the next set or force
    # (from another bus owner, here EID 9 at 0x12) moves it, in the same entry.
    rig.bus.target(0x12)
    rig.ask(b"\x80\x02", from_addr=0x12, src=9)
    rig.ask(b"\x80\x01\x03\x00", from_addr=0x12, src=9)
    rig.ask(b"\x80\x01\x00\x00", from_addr=0x12, src=9)  # EID 0: INVALID_DATA
    assert used_routes(rig.ep.core) == [(8, 254, OWNER), (100, 100, 0x40)]
    rig.ask(b"\x80\x01\x01\x0b", from_addr=0x12, src=9)  # force EID 11
    assert used_routes(rig.ep.core) == [(8, 254, 0x12), (100, 100, 0x40)]
    assert (r.owner_phys, r.owner_eid) == (0x12, 9)
    assert r.counters.no_owner_route == 0


def test_a_full_routing_table_counts_the_route_to_the_bus_owner_and_takes_the_eid():
    rig = Rig(config=Config(routes=2))
    rig.ep.core.add_route(20, 20, rig.ep.link, 0x20)
    rig.ep.core.add_route(21, 21, rig.ep.link, 0x21)
    assert rig.ask(b"\x80\x01\x00\x0a")[1] == bytes((0, 1, 0, 0, 0x0A, 0))  # taken
    assert rig.ep.core.eid == 0x0A
    assert rig.responder.counters.no_owner_route == 1
    assert used_routes(rig.ep.core) == [(20, 20, 0x20), (21, 21, 0x21)]
    assert rig.responder.counters.internal_error == 0


def _without_fast_control_path(core):
    # The core as it was without the fast path's control requests: a first packet is the
    # full path's.
    middle = core.receive_middle

    def receive_middle(buf, off, length):
        return 0 if buf[off + 3] & 0x80 else middle(buf, off, length)

    core.receive_middle = receive_middle


def test_the_fast_path_answers_every_control_request_as_the_full_path_does():
    requests = [
        (b"\x80\x02", {}),  # Get EID
        (b"\x81\x03", {"tag": 1}),  # Get UUID
        (b"\x82\x02", {"dest": 0xFF}),  # broadcast
        (b"\x83\x01\x00\x0a", {}),  # Set EID
        (b"\x84\x04\xff", {"dest": 0x0A}),  # Get Version
        (b"\x85\x05", {"dest": 0x0A}),  # Get Message Types
        (b"\x86\x02", {"type_byte": 0x80}),  # IC: dropped
        (b"\xc7\x02", {}),  # a datagram
        (b"\x88\x02\x00", {}),  # a length of another command
        (b"\x89\x02", {"flags": 0x88}),  # SOM without EOM: waits for the rest
        (b"\x8a\x02", {"flags": 0xC0}),  # TO clear: a response nobody asked for
    ]
    transcripts = []
    for fast in (True, False):
        rig = Rig()
        if not fast:
            _without_fast_control_path(rig.ep.core)
        answers = [rig.ask(body, **options) for body, options in requests]
        transcripts.append(
            (
                answers,
                rig.frames,
                rig.ep.core.counters.as_dict(),
                rig.responder.counters.as_dict(),
                rig.ep.core.pool.in_use(),
            )
        )
    assert transcripts[0] == transcripts[1]
    counted = transcripts[0][3]
    assert counted["responses"] == 7 and counted["dropped"] == counted["datagrams"] == 1
