# The stack core on its own: every receive check and drop counter, reassembly, tags, routes and
# fragmentation, with raw packets injected and an injected clock.

from endpoints import FakeClock
from testing import IS_MICROPYTHON, raises, skip

from mctp.config import Config
from mctp.core.core import DROPS, SEND_LINK_FAILED, SEND_NO_ROUTE, SEND_OK, Core
from mctp.core.link import Link
from mctp.core.routes import RouteTable

SOM = 0x80
EOM = 0x40
TO = 0x08


class Sink:
    """Stands in for the server: listens for the given types, keeps what is delivered."""

    def __init__(self, core, types=(1,)):
        self.core = core
        self.types = types
        self.messages = []
        core.sink = self

    def accept_request(self, msg_type):
        return 100 + msg_type if msg_type in self.types else -1

    def deliver(self, slot):
        self.messages.append(
            (
                slot.owner,
                slot.src,
                slot.tag,
                slot.msg_type,
                slot.ic,
                bytes(slot.buf[: slot.length]),
            )
        )
        self.core.release(slot)
        return True


class RecordingLink(Link):
    def __init__(self, mtu=64, refuse_after=None):
        self.mtu = mtu
        self.tx_off = 3  # room for a binding's own framing bytes
        self.tx_buf = bytearray(3 + 4 + mtu)
        self.sent = []
        self.refuse_after = refuse_after

    def transmit(self, length, phys):
        if self.refuse_after is not None and len(self.sent) >= self.refuse_after:
            return False
        self.sent.append((phys, bytes(self.tx_buf[self.tx_off : self.tx_off + length])))
        return True

    def poll(self, core):
        pass


def make_core(eid=8, clock=None, **config):
    clock = clock or FakeClock(500)
    core = Core(Config(**config), eid, clock)
    link = core.add_link(RecordingLink())
    return core, Sink(core), link, clock


def packet(flags, payload, dest=8, src=9, version=0x01):
    return bytes((version, dest, src, flags)) + payload


def inject(core, link, data, phys=0x1D):
    # At an offset inside a larger buffer, as a binding would hand it over.
    buf = bytearray(b"\xee\xee") + data + b"\xee"
    core.receive(link, buf, 2, len(data), phys)


def drops(core):
    return {name: getattr(core.counters, name) for name in DROPS if getattr(core.counters, name)}


def test_single_packet_request_is_delivered():
    core, sink, link, _ = make_core()
    inject(core, link, packet(SOM | EOM | TO | 5, b"\x01hello"))
    assert sink.messages == [(101, 9, 5, 1, False, b"hello")]
    assert core.pool.in_use() == 0
    assert drops(core) == {}


def test_header_version_reserved_nibble_is_ignored():
    core, sink, link, _ = make_core()
    inject(core, link, packet(SOM | EOM | TO, b"\x01x", version=0xF1))
    assert len(sink.messages) == 1


def test_every_malformed_header_is_dropped_and_counted():
    core, sink, link, _ = make_core()
    inject(core, link, b"\x01\x08\x09")  # shorter than a header
    inject(core, link, packet(SOM | EOM | TO, b""))  # a header and nothing else
    inject(core, link, packet(SOM | EOM | TO, b"\x01x", version=0x02))
    inject(core, link, packet(SOM | EOM | TO, b"\x01x", dest=10))
    for src in (1, 7, 0xFF):
        inject(core, link, packet(SOM | EOM | TO, b"\x01x", src=src))
    inject(core, link, packet(SOM | EOM | TO, b"\x01x", dest=0xFF))  # broadcast, not control
    inject(core, link, packet(SOM | EOM | TO, b"\x02x"))  # nobody listens for type 2
    inject(core, link, packet(SOM | EOM | 3, b"\x01x"))  # a response to nothing we sent
    assert sink.messages == []
    assert drops(core) == {
        "short": 2,
        "bad_version": 1,
        "not_for_us": 2,
        "bad_src": 3,
        "no_listener": 1,
        "unsolicited": 1,
    }
    assert core.counters.rx_packets == 10
    assert core.pool.in_use() == 0


def test_destination_eid_0_and_source_eid_0_are_accepted():
    core, sink, link, _ = make_core()
    inject(core, link, packet(SOM | EOM | TO, b"\x01to null", dest=0))
    inject(core, link, packet(SOM | EOM | TO, b"\x01from null", src=0))
    assert [m[5] for m in sink.messages] == [b"to null", b"from null"]


def test_broadcast_control_request_is_accepted():
    core, sink, link, _ = make_core()
    sink.types = (0,)
    inject(core, link, packet(SOM | EOM | TO, b"\x00\x80\x02", dest=0xFF))
    assert sink.messages == [(100, 9, 0, 0, False, b"\x80\x02")]


def test_unassigned_endpoint_takes_only_eid_0_and_broadcast():
    core, sink, link, _ = make_core(eid=0)
    inject(core, link, packet(SOM | EOM | TO, b"\x01x", dest=8))
    inject(core, link, packet(SOM | EOM | TO, b"\x01x", dest=0))
    assert len(sink.messages) == 1
    assert drops(core) == {"not_for_us": 1}


def multi(flags_seq, chunks, tag=2, src=9):
    # Packets with the given (SOM/EOM flags, seq) and payload chunks; the first starts with type 1.
    return [
        packet(f | seq << 4 | TO | tag, (b"\x01" if f & SOM else b"") + chunk, src=src)
        for (f, seq), chunk in zip(flags_seq, chunks)
    ]


def test_reassembly_of_three_packets():
    core, sink, link, _ = make_core()
    for p in multi([(SOM, 0), (0, 1), (EOM, 2)], [b"a" * 63, b"b" * 64, b"c" * 10]):
        inject(core, link, p)
    assert sink.messages == [(101, 9, 2, 1, False, b"a" * 63 + b"b" * 64 + b"c" * 10)]


def test_sequence_wraps_after_three():
    core, sink, link, _ = make_core()
    seqs = [(SOM, 2), (0, 3), (0, 0), (EOM, 1)]  # a message may start at any sequence number
    for p in multi(seqs, [b"x" * 63, b"y" * 64, b"z" * 64, b"!"]):
        inject(core, link, p)
    assert len(sink.messages[0][5]) == 63 + 64 + 64 + 1


def test_bad_sequence_number_drops_the_message():
    core, sink, link, _ = make_core()
    for p in multi([(SOM, 0), (0, 2), (EOM, 3)], [b"a" * 63, b"b" * 64, b"c"]):
        inject(core, link, p)
    assert sink.messages == []
    assert drops(core) == {"bad_seq": 1, "no_som": 1}
    assert core.pool.in_use() == 0


def test_middle_packet_of_another_size_drops_the_message():
    core, _sink, link, _ = make_core()
    for p in multi([(SOM, 0), (0, 1)], [b"a" * 63, b"b" * 32]):
        inject(core, link, p)
    assert drops(core) == {"bad_length": 1}
    assert core.pool.in_use() == 0


def test_last_packet_larger_than_the_first_is_refused():
    core, _sink, link, _ = make_core()
    for p in multi([(SOM, 0), (EOM, 1)], [b"a" * 31, b"b" * 40]):
        inject(core, link, p)
    assert drops(core) == {"bad_length": 1}


def test_message_over_the_size_limit_is_dropped():
    core, _sink, link, _ = make_core(max_payload=100)
    for p in multi([(SOM, 0), (EOM, 1)], [b"a" * 63, b"b" * 40]):
        inject(core, link, p)
    assert drops(core) == {"too_large": 1}
    assert core.pool.in_use() == 0


def test_continuation_without_a_start_is_dropped():
    core, _sink, link, _ = make_core()
    inject(core, link, multi([(0, 1)], [b"orphan"])[0])
    assert drops(core) == {"no_som": 1}


def test_duplicate_som_restarts_the_message():
    core, sink, link, _ = make_core()
    first = multi([(SOM, 0)], [b"old" * 21])[0]
    rest = multi([(SOM, 1), (EOM, 2)], [b"n" * 63, b"ew"])
    inject(core, link, first)
    for p in rest:
        inject(core, link, p)
    assert sink.messages[0][5] == b"n" * 63 + b"ew"
    assert core.counters.som_restart == 1


def test_reassembly_times_out_after_6_seconds():
    core, sink, link, clock = make_core()
    inject(core, link, multi([(SOM, 0)], [b"a" * 63])[0])
    clock.advance(5999)
    core.poll()
    assert core.pool.in_use() == 1
    clock.advance(1)
    core.poll()
    assert core.pool.in_use() == 0
    assert drops(core) == {"reassembly_timeout": 1}
    inject(core, link, multi([(EOM, 1)], [b"late"])[0])
    assert sink.messages == []


def test_interleaved_messages_from_two_sources():
    core, sink, link, _ = make_core()
    a = multi([(SOM, 0), (EOM, 1)], [b"A" * 63, b"a"], src=9)
    b = multi([(SOM, 0), (EOM, 1)], [b"B" * 63, b"b"], src=10)
    for p in (a[0], b[0], a[1], b[1]):
        inject(core, link, p)
    assert [(m[1], m[5]) for m in sink.messages] == [(9, b"A" * 63 + b"a"), (10, b"B" * 63 + b"b")]


def test_complete_messages_refuse_new_ones_unfinished_ones_make_room():
    core, sink, link, clock = make_core(reassembly_slots=2, queue_limit=1)
    sink.types = (1, 2, 3)
    sink.deliver = lambda slot: True  # complete messages stay queued, unread
    for msg_type, src in ((1, 9), (2, 10)):  # one complete message for types 1 and 2
        inject(core, link, packet(SOM | EOM | TO, bytes((msg_type,)) + b"x", src=src))
    inject(core, link, packet(SOM | EOM | TO, b"\x01y", src=11))  # type 1 holds its one
    inject(core, link, packet(SOM | EOM | TO, b"\x03z", src=12))  # no slot is free
    assert drops(core) == {"queue_full": 1, "no_slot": 1}
    core.release_all()
    for msg_type, src in ((1, 9), (2, 10), (1, 11), (3, 12)):  # only first packets
        inject(core, link, packet(SOM | TO, bytes((msg_type,)) + b"x" * 63, src=src))
        clock.advance(1)
    # Type 1's second message takes the place of its first; type 3 that of the oldest.
    assert core.counters.evicted == 2
    assert sorted((s.src, s.msg_type) for s in core.pool.slots) == [(11, 1), (12, 3)]


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


def test_fragmentation_writes_into_the_link_buffer_at_its_offset():
    core, _, link, _ = make_core()
    core.add_route(9, 9, link, 0x1D)
    message = bytes(range(100))
    assert core.send(9, TO | 5, 0x81, message, 0, 100) == SEND_OK
    assert [phys for phys, _ in link.sent] == [0x1D, 0x1D]
    assert link.sent[0][1] == bytes((1, 9, 8, 0x80 | TO | 5, 0x81)) + message[:63]
    assert link.sent[1][1] == bytes((1, 9, 8, 0x50 | TO | 5)) + message[63:]


def test_send_from_an_offset_of_a_larger_buffer():
    core, _, link, _ = make_core()
    core.add_route(9, 9, link)
    buf = b"junk" + b"payload" + b"junk"
    core.send(9, 1, 2, buf, 4, 7)
    assert link.sent[0][1] == bytes((1, 9, 8, 0xC1, 2)) + b"payload"


def test_send_without_a_route_or_with_a_failing_link():
    core, _, link, _ = make_core()
    assert core.send(20, 0, 1, b"x", 0, 1) == SEND_NO_ROUTE
    assert core.counters.no_route == 1
    core.add_route(9, 9, link)
    link.refuse_after = 1
    assert core.send(9, 0, 1, bytes(200), 0, 200) == SEND_LINK_FAILED
    assert len(link.sent) == 1  # the rest of the message was abandoned
    assert (core.counters.tx_failed, core.counters.tx_packets) == (1, 1)


def test_a_fault_in_the_layer_above_is_counted_not_raised():
    core, sink, link, _ = make_core()

    def broken(slot):
        raise RuntimeError("bug above the core")

    sink.deliver = broken
    inject(core, link, packet(SOM | EOM | TO, b"\x01x"))
    assert core.counters.internal_error == 1


def test_random_packets_never_raise_or_leak_slots():
    core, sink, link, clock = make_core()
    core.add_route(9, 9, link)
    sink.types = (0, 1, 2)
    state = 12345
    for _ in range(3000):
        length = state % 70
        data = bytearray(length)
        for i in range(length):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            data[i] = state >> 16 & 0xFF
        if length > 3:
            data[0] = 1  # mostly valid headers, so the deeper checks are reached
            data[1] = 8
        inject(core, link, bytes(data), phys=state & 0x7F)
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
    assert core.counters.internal_error == 0
    clock.advance(6000)
    core.poll()
    assert core.pool.in_use() == 0


def test_core_refuses_an_invalid_own_eid():
    for eid in (1, 7, 255):
        with raises(ValueError):
            Core(eid=eid)


def test_routes_pick_the_narrowest_range_and_replace_the_same_range():
    table = RouteTable(3)
    table.add(8, 200, "wide", 1)
    table.add(20, 30, "narrow", 2)
    assert table.lookup(25).link == "narrow"
    assert table.lookup(31).link == "wide"
    assert table.lookup(201) is None
    table.add(20, 30, "replaced", 3)
    assert table.lookup(25).phys == 3
    table.add(40, 40, "third")
    with raises(ValueError):
        table.add(50, 50, "fourth")
    assert table.remove(20, 30)
    assert not table.remove(20, 30)
    assert table.lookup(25).link == "wide"
    with raises(ValueError):
        table.add(30, 20, "backwards")


def test_config_refuses_unknown_and_bad_settings():
    with raises(TypeError):
        Config(reassembly_slot=4)
    with raises(ValueError):
        Config(max_payload=1024)
    with raises(ValueError):
        Config(listeners=0)
    assert Config(flows=4).flows == 4
    assert Config().flows == 16


def test_a_message_through_the_fast_path_is_delivered_whole_and_counted_as_before():
    core, sink, link, _clock = make_core()
    payload = bytes(range(200))
    first, rest = payload[:63], payload[63:]
    inject(core, link, bytes((1, 8, 9, 0x88 | 2, 1)) + first)
    seq = 1
    while rest:
        chunk, rest = rest[:64], rest[64:]
        eom = 0x40 if not rest else 0
        inject(core, link, bytes((1, 8, 9, eom | seq << 4 | 0x08 | 2)) + chunk)
        seq = (seq + 1) & 3
    assert sink.messages == [(101, 9, 2, 1, False, payload)]
    assert core.counters.rx_packets == 4 and core.counters.rx_messages == 1
    assert core.counters.total() == 5 and core.pool.in_use() == 0


def test_the_i2c_and_serial_links_share_one_receive_ring():
    # One class owns the ring's fields, pending() and the queueing: each binding's ring keeps
    # one position empty, and a drop marks the next frame queued.
    from mctp.core.link import RingLink  # noqa: PLC0415
    from mctp.host.i2c_sim import SimBus, TargetSim  # noqa: PLC0415
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415
    from mctp.i2c import I2CLink  # noqa: PLC0415
    from mctp.serial import SerialLink  # noqa: PLC0415

    i2c = I2CLink(SimBus().controller(), TargetSim(0x10), 0x10, ring=3)
    serial = SerialLink(SerialPipe().a, ring=3)
    for link in (i2c, serial):
        assert isinstance(link, RingLink)
        for name in ("pending", "_queue"):
            assert getattr(type(link), name) is getattr(RingLink, name)
        assert link._queue(7) and link._queue(9) and not link._queue(11)
        assert link.pending() == 2 and list(link._lengths) == [7, 9, 0]
        link._r = 1
        link._drop(1)
        assert link._queue(11) and link._gaps[2] == 1 and link.counters.total() == 1


def test_the_server_and_the_control_responder_offer_the_core_its_upcalls():
    # The core calls up through link.Sink and link.ControlHandler: what attaches itself as
    # core.sink or core.control has every method they declare.
    from mctp.control.responder import ControlResponder  # noqa: PLC0415
    from mctp.core.link import ControlHandler, Sink  # noqa: PLC0415
    from mctp.server import Server  # noqa: PLC0415

    core = Core(Config(), 8)
    server = Server(core)
    responder = ControlResponder(core, bytes(16))
    assert core.sink is server and core.control is responder
    for obj, interface in ((server, Sink), (responder, ControlHandler)):
        for name in dir(interface):
            if not name.startswith("_"):
                assert callable(getattr(obj, name)), (obj, name)
    assert sorted(n for n in dir(Sink) if not n.startswith("_")) == ["accept_request", "deliver"]
    with raises(NotImplementedError):
        ControlHandler().handle(None)


def test_until_timer_says_when_the_next_timer_is_due():
    from mctp.core.timers import sooner  # noqa: PLC0415

    assert (sooner(-1, -1), sooner(-1, 5), sooner(5, -1), sooner(7, 5), sooner(3, -2)) == (
        -1,
        5,
        5,
        5,
        3,
    )
    assert sooner(4, -3) == 4 and sooner(-1, -0) == 0
    clock = FakeClock(1000)
    core, _sink, link, _clock = make_core(clock=clock)
    assert core.until_timer(clock()) == -1  # nothing waits
    inject(core, link, packet(0x88 | 1, b"\x01" + bytes(10)))  # a message under way
    clock.advance(1000)
    assert core.until_timer(clock()) == 5000  # its reassembly times out after 6 s
    core.open_flow(9, owner=3)  # a tag expires 6 s after it was opened
    clock.advance(500)
    assert core.until_timer(clock()) == 4500
    clock.advance(5000)
    assert core.until_timer(clock()) == 0  # overdue: poll now
    core.poll()
    assert core.until_timer(clock()) == 500  # the tag's
    clock.advance(500)
    core.poll()
    assert core.until_timer(clock()) == -1
