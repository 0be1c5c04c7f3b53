# The requester's bridge commands against answers written by hand: Allocate Endpoint IDs, Get
# Routing Table Entries (every page, and answers whose entries and length disagree) and Routing
# Information Update, each request byte for byte.

from test_control import Scripted, requester_rig
from testing import raises

from mctp.control import FORCE_ALLOCATION, ControlError


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
