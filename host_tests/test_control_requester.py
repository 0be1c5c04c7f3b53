# The control requester (mctp.control.requester) against our responder on the simulated I2C
# bus: every command, IID tracking, answer checks, timeouts and retries with an injected clock.
# The bridge commands (Allocate Endpoint IDs, Get Routing Table Entries, Routing Information
# Update) against answers written by hand, each request byte for byte.

from test_control_responder import EP, UUID, Rig
from testing import raises

from mctp import MctpError
from mctp.control import ControlError, vdm_pci, version_entry
from mctp.control.bridging import FORCE_ALLOCATION
from mctp.control.requester import ControlRequester


def requester_rig(**options):
    rig = Rig(**options)
    rig.owner.core.add_route(0, 0, rig.owner.link, EP)
    return rig, ControlRequester(rig.owner.stack)


def test_requester_commands_against_our_responder():
    rig, ctl = requester_rig(versions={1: version_entry(1, 2, 0)}, vdm=(vdm_pci(0x8086, 7),))
    info = ctl.get_eid(0)
    assert (info.eid, info.endpoint_type, info.eid_type) == (0, 0, 0)
    assignment = ctl.set_eid(0, 0x0A)
    assert assignment.accepted and assignment.eid == 0x0A and assignment.pool_size == 0
    rig.owner.core.add_route(0x0A, 0x0A, rig.owner.link, EP)
    assert ctl.get_uuid(0x0A) == UUID
    assert ctl.get_version(0x0A) == [(1, 3, 1, 0)]
    assert ctl.get_version(0x0A, 1) == [(1, 2, 0, 0)]
    assert ctl.get_version(0x0A, 0x7E) is None
    assert ctl.get_msg_types(0x0A) == [0]
    (entry,) = ctl.get_vdm_support(0x0A)
    assert (entry.id_format, entry.vendor_id, entry.command_set) == (0, 0x8086, 7)
    with raises(ValueError):
        ctl.set_eid(0x0A, 0xFF)
    # Instance IDs count up per request, and each request took a fresh tag.
    iids = [frame[9] & 0x1F for frame in rig.frames if frame[0] == EP << 1]
    assert iids == list(range(len(iids)))


def test_requester_times_out_after_its_tries():
    rig, ctl = requester_rig()
    rig.bus.absent = [EP]  # nobody acknowledges at 0x1D
    started = rig.owner.clock()
    with raises(ControlError) as caught:
        ctl.get_eid(0)
    assert "no answer after 4 tries" in str(caught.value)
    assert caught.value.completion_code is None
    assert rig.owner.link.counters.tx_failed == 4
    rig.bus.absent = []
    assert rig.owner.clock() - started < 20  # send failures are not waited for
    # A silent endpoint: 4 tries of 250 ms each.
    rig.owner.others = []  # the endpoint never runs: its answers never come
    started = rig.owner.clock()
    with raises(ControlError):
        ctl.get_eid(0)
    assert 1000 <= rig.owner.clock() - started <= 1010


def test_a_lost_answer_is_retried_with_the_same_iid():
    rig, ctl = requester_rig(eid=9)
    rig.bus.corrupt_frames = 1  # the first request arrives with a bad PEC
    rig.bus.corrupt_at = 6
    assert ctl.get_eid(0).eid == 9
    assert rig.ep.link.counters.bad_pec == 1
    assert rig.owner.link.counters.tx_frames == 2
    (retry,) = [frame for frame in rig.frames if frame[0] == EP << 1]  # the tap sees good ones
    assert retry[9] == 0x80  # the same instance ID, 0
    assert retry[7] & 7 == 1  # with a new tag


class Scripted:
    """A responder on message type 0 that answers with given bytes (no control responder)."""

    def __init__(self, answer):
        self.answer = answer

    def install(self, rig):
        rig.ep.core.control = None
        self.listener = rig.ep.stack.listener(0, 1)
        rig.owner.others = [self.poll]
        self.rig = rig

    def poll(self):
        self.rig.ep.server.poll()
        try:
            _meta, request, resp = self.listener.recv()
        except MctpError:
            return
        resp.send(self.answer(request))


def test_requester_checks_every_answer():
    cases = (
        (lambda r: b"\x00\x02", "too short"),
        (lambda r: bytes((0x80 | r[0], 2, 0, 9, 0, 0)), "Rq or D bit"),
        (lambda r: bytes(((r[0] + 1) & 0x1F, 2, 0, 9, 0, 0)), "no answer after 4 tries"),
        (lambda r: bytes((r[0] & 0x1F, 3, 0, 9, 0, 0)), "command 0x03"),
        (lambda r: bytes((r[0] & 0x1F, 2, 0x01)), "completion code ERROR"),
        (lambda r: bytes((r[0] & 0x1F, 2, 0, 9, 0)), "2 bytes, expected 3"),
    )
    for answer, text in cases:
        rig, ctl = requester_rig(eid=9)
        Scripted(answer).install(rig)
        with raises(ControlError) as caught:
            ctl.get_eid(0)
        assert text in str(caught.value), (text, str(caught.value))
        assert "Get Endpoint ID" in str(caught.value)
        assert rig.owner.server.handles_in_use() == 0


def test_a_stale_answer_is_discarded_and_counted_and_the_request_asked_again():
    answers = []

    def stale_then_right(request):
        # The first answer is for another instance ID (a late answer to an earlier request).
        iid = request[0] & 0x1F
        answers.append(iid)
        wrong = (iid + 1) & 0x1F if len(answers) == 1 else iid
        return bytes((wrong, 2, 0, 9, 0, 0))

    rig, ctl = requester_rig(eid=9)
    Scripted(stale_then_right).install(rig)
    assert ctl.get_eid(0).eid == 9
    assert ctl.stale_answers == 1 and answers == [0, 0]  # asked again, same instance ID
    assert rig.owner.server.handles_in_use() == 0


def scripted(answers):
    """A requester whose peer answers each request with the next of `answers` (the bytes
    after the completion code), keeping the requests it was sent."""
    rig, ctl = requester_rig(eid=9)
    requests = []

    def answer(request):
        requests.append(bytes(request))
        return bytes((request[0] & 0x1F, request[1], 0)) + answers[len(requests) - 1]

    Scripted(answer).install(rig)
    return ctl, requests


def test_allocate_eids_request_and_answer():
    ctl, requests = scripted([b"\x00\x03\x0b", b"\x01\x02\x20"])
    allocation = ctl.allocate_eids(0, 11, 3)
    assert (allocation.accepted, allocation.first_eid, allocation.pool_size) == (True, 11, 3)
    assert not ctl.allocate_eids(0, 11, 3, FORCE_ALLOCATION).accepted
    assert requests == [b"\x80\x08\x00\x03\x0b", b"\x81\x08\x01\x03\x0b"]


def test_get_routing_table_reads_every_page():
    page1 = bytes.fromhex("02 01 01 0B 01 01 01 01 60")
    page2 = bytes.fromhex("FF 01 04 30 40 05 00 00")
    ctl, requests = scripted([page1, page2])
    entries = ctl.get_routing_table(0)
    assert [(e.first, e.count, e.entry_type, e.static) for e in entries] == [
        (11, 1, 0, False),
        (0x30, 4, 1, False),
    ]
    assert (entries[1].binding_id, entries[1].phys) == (0x05, b"")
    assert requests == [b"\x80\x0a\x00", b"\x81\x0a\x02"]


def test_get_routing_table_answers_that_are_refused():
    for answer, text in (
        (b"\xff", "answer data is 1 bytes"),
        (bytes.fromhex("FF 02 01 0B 01 01 01 01 60"), "entry count and length disagree"),
        (bytes.fromhex("FF 01 01 0B 01 01 01 02 60"), "entry count and length disagree"),
        (bytes.fromhex("FF 00 00"), "entry count and length disagree"),
        (bytes.fromhex("00 00"), "next handle does not move on"),
    ):
        ctl, _requests = scripted([answer])
        with raises(ControlError) as caught:
            ctl.get_routing_table(0)
        assert str(caught.value) == "Get Routing Table Entries: " + text


def test_routing_info_update_request():
    ctl, requests = scripted([b""])
    ctl.routing_info_update(0, [(0, 0x20, 1, b"\x60"), (3, 0x30, 4, b"\x64")])
    assert requests == [bytes.fromhex("80 09 02 00 01 20 60 C0 04 30 64")]
