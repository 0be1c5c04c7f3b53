# The reassembly pool (mctp.core.reassembly) through the core: packets in sequence make a
# message, a bad sequence, size or start drops it, an unfinished one times out, and a full pool
# keeps complete messages and makes room from unfinished ones. Raw packets, an injected clock.

from test_core import EOM, SOM, TO, drops, inject, make_core, packet
from testing import raises

from mctp.config import Config
from mctp.core.core import Core


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


def test_a_pool_of_more_slots_than_its_bytes_can_count_is_refused():
    # The pool's slot count sits in two bytes of `meta`, where the fast path reads it.
    with raises(ValueError) as refused:
        Core(Config(reassembly_slots=0x10000, max_payload=1))
    assert str(refused.value) == "reassembly_slots must be at most 65535, got 65536"
