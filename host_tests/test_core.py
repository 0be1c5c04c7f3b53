# The stack core (mctp.core.core) on its own: every receive check and drop counter and
# fragmentation, with raw packets injected and an injected clock. Its parts have their own files
# (test_core_reassembly.py, test_core_flows.py, ...), which use the helpers here.

from endpoints import FakeClock
from testing import raises

from mctp.config import Config
from mctp.core.core import DROPS, SEND_LINK_FAILED, SEND_NO_ROUTE, SEND_OK, Core
from mctp.core.link import Link

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


def test_a_fault_while_a_control_request_is_answered_frees_its_slot():
    # The link raising while it sends a control answer (a board out of C stack, a driver's
    # bug) loses that answer, counted; the control slot goes back, so later control requests
    # are answered rather than dropped for ever as queue_full.
    from mctp.control.responder import ControlResponder  # noqa: PLC0415

    core, _, link, _ = make_core()
    ControlResponder(core, uuid=bytes(16))
    transmit = link.transmit

    def broken(length, phys):
        raise RuntimeError("no C stack left")

    get_eid = packet(SOM | EOM | TO, b"\x00\x80\x02")
    link.transmit = broken
    for _ in range(core.config.queue_limit + 2):
        inject(core, link, get_eid)
    assert core.counters.internal_error == core.config.queue_limit + 2
    assert core.pool.in_use() == 0 and core.pool.control_slot.meta[0] == 0
    link.transmit = transmit
    inject(core, link, get_eid)
    assert link.sent == [(0x1D, bytes.fromhex("010908c0 00 0002 00 08 0000"))]  # EID 8
    assert "queue_full" not in drops(core)


def test_poll_runs_the_timers_once_a_clock_tick_and_misses_none():
    # Every timer is a millisecond or more and starts at the tick it is set: a second poll in
    # the same tick has nothing to expire, so it does not look (an idle look is the largest
    # part of a poll on a board). A tag due at a tick still expires at that tick's first poll.
    core, _sink, _link, clock = make_core()
    looks = []
    expire = core.expire

    def counted(now):
        looks.append(now)
        expire(now)

    core.expire = counted
    flow = core.open_flow(9, 101)
    core.poll()
    core.poll()  # the same tick
    assert looks == [500] and flow.used
    clock.advance(5999)
    core.poll()
    assert flow.used and core.counters.tag_expired == 0
    clock.advance(1)  # 6000 ms after it opened
    core.poll()
    core.poll()
    assert looks == [500, 6499, 6500] and not flow.used and core.counters.tag_expired == 1
