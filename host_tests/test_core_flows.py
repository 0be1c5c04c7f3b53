# The flow table (mctp.core.flows) through the core: a response is taken only from the EID
# and tag of its request, tags rotate, run out per peer and expire after 6 seconds, and an
# owner's release ends its flows. Raw packets, an injected clock.

from test_core import EOM, SOM, TO, drops, inject, make_core, packet

from mctp.core.core import SEND_OK


def test_response_accepted_only_from_the_requested_eid_with_its_tag():
    core, sink, link, _ = make_core()
    core.add_route(9, 10, link, 0x1D)
    flow = core.open_flow(9, owner=7)
    assert core.send(9, TO | flow.tag, 1, b"ping", 0, 4) == SEND_OK
    inject(core, link, packet(SOM | EOM | flow.tag, b"\x01spoof", src=10))
    inject(core, link, packet(SOM | EOM | ((flow.tag + 1) & 7), b"\x01wrong tag"))
    inject(core, link, packet(SOM | EOM | flow.tag, b"\x01pong"))
    inject(core, link, packet(SOM | EOM | flow.tag, b"\x01again"))  # the flow has ended
    assert sink.messages == [(7, 9, flow.tag, 1, False, b"pong")]
    assert drops(core) == {"unsolicited": 3}
    assert core.flows.in_use() == 0


def test_persistent_flow_survives_its_first_response():
    core, sink, link, _ = make_core()
    flow = core.open_flow(9, owner=7, persistent=True)
    for text in (b"\x01more processing", b"\x01final"):
        inject(core, link, packet(SOM | EOM | flow.tag, text))
    assert len(sink.messages) == 2
    assert core.flows.in_use() == 1


def test_tags_expire_after_6_seconds_and_late_responses_are_dropped():
    core, _sink, link, clock = make_core()
    flow = core.open_flow(9, owner=7)
    tag = flow.tag
    clock.advance(5999)
    core.poll()
    assert core.flows.in_use() == 1
    clock.advance(1)
    core.poll()
    assert core.flows.in_use() == 0
    assert core.counters.tag_expired == 1
    inject(core, link, packet(SOM | EOM | tag, b"\x01late"))
    assert drops(core) == {"unsolicited": 1}


def test_tags_rotate_and_run_out_per_peer():
    core, _, _, _ = make_core(flows=16)
    tags = [core.open_flow(9, owner=1).tag for _ in range(8)]
    assert sorted(tags) == list(range(8))
    assert core.open_flow(9, owner=1) is None  # all 8 tags to EID 9 are outstanding
    assert core.open_flow(10, owner=1) is not None  # another peer has its own tags
    core.flows.close(core.flows.match(9, 3))
    assert core.open_flow(9, owner=1).tag == 3


def test_tag_rotation_avoids_immediate_reuse():
    core, _, _, _ = make_core()
    first = core.open_flow(9, owner=1)
    first_tag = first.tag
    core.flows.close(first)
    assert core.open_flow(9, owner=1).tag != first_tag


def test_flow_table_full():
    core, _, _, _ = make_core(flows=2)
    assert core.open_flow(9, owner=1) and core.open_flow(10, owner=1)
    assert core.open_flow(11, owner=1) is None


def test_release_owner_ends_flows_and_frees_messages():
    core, sink, link, _ = make_core()
    sink.deliver = lambda slot: True  # keep complete messages queued
    flow = core.open_flow(9, owner=101)
    inject(core, link, packet(SOM | EOM | TO, b"\x01queued"))
    inject(core, link, packet(SOM | TO | 4, b"\x01" + b"p" * 63))
    assert core.pool.in_use() == 2
    core.release_owner(101)
    assert core.pool.in_use() == 0
    assert core.flows.match(9, flow.tag) is None
