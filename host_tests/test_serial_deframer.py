# The serial receive side (mctp.serial.deframer): every malformed-frame class counted and the
# receiver back in step after it, frames in any pieces, lost flags and frames, random bytes,
# hostile sequences of well-formed frames, and every drop with the heap locked.

from endpoints import Sink, assert_nothing_held, pattern, serial_pair
from test_serial_framing import reference_frame
from test_serial_link import clean_frame, drops, echo, feed, receiver, request
from testing import heap_locked

from mctp.core.packet import FLAG_TO, build_packets
from mctp.serial.framing import encode_frame
from mctp.constants import MAX_PAYLOAD_SIZE


def malformed_streams():
    """Each class of malformed bytes, as (counter, expected count, bytes), each followed in
    the test by a good frame."""
    good = clean_frame(1)
    packet = request(1)
    n = len(packet)
    flip = bytearray(good)
    flip[-2] ^= 0x01
    long_packet = request(2, pattern(72))  # N = 77, above the default 68
    return (
        ("bad_fcs", 1, bytes(flip)),
        ("bad_revision", 1, b"\x7e\x02" + good[2:]),
        ("bad_count", 1, reference_frame(packet[:-1], n - 1)[:-1] + packet[-1:] + b"\x7e"),
        ("truncated", 1, good[:7]),  # the next frame's flag arrives inside this one
        ("too_long", 1, reference_frame(long_packet)),
        ("too_short", 1, b"\x7e\x01\x04\x01\x08\x09\xc8\x11\x22\x7e"),
        ("bad_escape", 1, good[:5] + b"\x7d\x41" + good[6:]),
        ("noise", 3, good + b"\x55\xaa\x00"),  # the good frame delivered, then 3 bytes
    )


def test_every_malformed_class_is_counted_and_the_next_frame_arrives():
    for name, expected, data in malformed_streams():
        pipe, core, link, sink = receiver()
        feed(pipe, core, data + clean_frame(2))
        assert drops(link) == {name: expected}, (name, drops(link))
        assert sink.messages[-1] == (9, 2, b"hi"), name  # back in step at the next flag
        assert link.counters.irq_errors == 0 and core.counters.internal_error == 0


def test_a_byte_count_of_a_flag_is_a_cut_frame_and_that_flag_opens_the_next():
    pipe, core, link, sink = receiver()
    feed(pipe, core, b"\x7e\x01" + clean_frame(3))
    assert drops(link) == {"truncated": 1}
    assert len(sink.messages) == 1


def test_noise_before_the_first_flag_and_between_frames_is_counted_per_byte():
    pipe, core, link, sink = receiver()
    feed(pipe, core, b"\x00\xff" + clean_frame(1) + b"abc" + clean_frame(2))
    assert drops(link) == {"noise": 5}
    assert len(sink.messages) == 2


def test_shared_and_repeated_flags_between_frames():
    pipe, core, link, sink = receiver()
    one, two, three = clean_frame(1), clean_frame(2), clean_frame(3)
    feed(pipe, core, b"\x7e\x7e" + one + two[1:] + b"\x7e\x7e\x7e" + three)
    assert drops(link) == {}
    assert [m[1] for m in sink.messages] == [1, 2, 3]


def test_the_count_not_a_flag_ends_a_frame():
    # A packet of 0x7E bytes: every one escaped, so no 0x7E between the flags but the FCS's.
    packet = request(4, b"\x7e" * 60)
    frame = encode_frame(packet)
    assert frame[1:-3].count(b"\x7e") == 0 and len(frame) == 6 + 65 + 60
    pipe, core, _link, sink = receiver()
    for b in frame:  # one byte a poll
        feed(pipe, core, bytes((b,)))
    assert sink.messages == [(9, 4, packet[5:])]


def test_a_lost_closing_flag_is_found_by_the_next_frame():
    pipe, core, link, sink = receiver()
    feed(pipe, core, clean_frame(1)[:-1])
    assert sink.messages == []  # the closing flag is due
    feed(pipe, core, clean_frame(2))  # its opening flag closes the first
    assert [m[1] for m in sink.messages] == [1, 2] and drops(link) == {}


def test_a_lost_frame_aborts_the_message_it_was_part_of():
    # Packets 1..8 of a message, the fifth corrupted: the four packets lost in a row would pass
    # the 2-bit sequence check; the gap mark makes the core abort the message instead.
    packets = build_packets(9, 8, FLAG_TO | 5, 0x01, pattern(1000, 2))
    frames = [encode_frame(p) for p in packets]
    pipe, core, link, sink = receiver()
    stream = b"".join(frames[:4]) + b"\x7e\x01\x20\x00\x7e" + b"".join(frames[8:])
    feed(pipe, core, stream)
    assert sink.messages == []
    assert link.counters.truncated == 1 and core.counters.aborted == 1
    assert core.pool.in_use() == 0


def test_random_bytes_never_raise_and_two_flags_always_resynchronise():
    # Whatever state garbage leaves the receiver in (even inside an FCS, which takes any byte),
    # two flags and a frame get through: the worst case takes both flags as an FCS and the
    # frame's own opening flag as the closing one.
    pipe, core, link, sink = receiver()
    state = 17
    for round_ in range(40):
        garbage = bytearray()
        for _ in range(1 + round_ * 7 % 90):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            garbage.append((0x7E, 0x7D, 0x01, state >> 16 & 0xFF)[state >> 8 & 3])
        feed(pipe, core, bytes(garbage) + b"\x7e\x7e" + clean_frame(round_ & 7, b"ok"))
        assert sink.messages[-1] == (9, round_ & 7, b"ok"), round_
    assert link.counters.irq_errors == 0 and core.counters.internal_error == 0
    assert sum(drops(link).values()) > 40


def test_hostile_well_formed_frames_leave_the_stack_answering():
    # Valid frames with hostile packets: versions, destinations, sources, sequence gaps,
    # starts without ends, ends without starts, the largest counts, a flood of one tag.
    a, b = serial_pair()
    listener = a.stack.listener(1)
    hostile = []
    hostile.append(bytes((0x02, 8, 9, 0xC8, 1)))  # bad header version
    hostile.append(bytes((0x01, 0x33, 9, 0xC8, 1)))  # not for us
    hostile.append(bytes((0x01, 8, 0xFF, 0xC8, 1)))  # broadcast source
    hostile.append(bytes((0x01, 8, 9, 0x58)) + bytes(64))  # an end without a start
    for tag in range(8):
        hostile.append(bytes((0x01, 8, 9, 0x88 | tag, 1)) + bytes(63))  # starts, never ended
    hostile.append(bytes((0x01, 8, 9, 0x88, 1)) + bytes(63))
    hostile.append(bytes((0x01, 8, 9, 0x28)) + bytes(64))  # a sequence gap
    hostile.append(bytes((0x01, 8, 9, 0xC0, 1)))  # an unsolicited response
    hostile.append(bytes((0x01, 8, 9, 0xC8, 0x05)))  # a type nobody listens to
    for packet in hostile * 3:
        b.link.stream.write(encode_frame(packet))
        a.server.poll()
        assert a.server.check() == []
    counters = a.core.counters
    assert counters.bad_version == 3 and counters.not_for_us == 3 and counters.bad_src == 3
    assert counters.no_som >= 3 and counters.bad_seq >= 1 and counters.evicted >= 8
    assert counters.unsolicited == 3 and counters.no_listener == 3
    assert counters.internal_error == 0
    listener.close()
    echo(a, b, pattern(MAX_PAYLOAD_SIZE, 4))  # still answering
    a.clock.advance(6000)
    for ep in (a, b):
        ep.server.poll()
        assert_nothing_held(ep)
    assert drops(a.link) == {}


class CountingSink(Sink):
    def deliver(self, slot):  # (allocates nothing)
        self.delivered += 1
        self.core.release(slot)
        return True


def test_every_drop_with_the_heap_locked():
    streams = [data + clean_frame(2) for _, _, data in malformed_streams()]
    pipe, core, link, _ = receiver()
    sink = CountingSink(core)
    sink.delivered = 0
    for data in streams:  # warm up
        feed(pipe, core, data)
    link.counters.reset()
    with heap_locked():
        for data in streams:
            pipe.b.write(data)
            core.poll()
    assert drops(link) == {name: count for name, count, _ in malformed_streams()}
    assert sink.delivered == 2 * (len(streams) + 1)  # the good frames, and noise's own
    assert core.counters.internal_error == 0
