# The receive fast path (mctp.core.fastpath) through the core: a long message's middle packets
# taken by it arrive whole and are counted as the full path counts them. Its viper twin is
# compared with the pure-Python version in test_viper_twins.py.

from test_core import inject, make_core


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


def test_a_first_packet_the_fast_path_takes_names_its_link_sender_and_time():
    # The fast path sets the slot up from what receive() was given, and only receive() gives
    # it: a first packet offered to receive_middle alone is left to the full path.
    core, sink, link, clock = make_core()
    clock.advance(20)
    inject(core, link, bytes((1, 8, 9, 0x88 | 3, 1)) + bytes(63), phys=0x33)
    slot = core.pool.find(9, 0x0B)
    assert (slot.link, slot.phys, slot.started, slot.owner) == (link, 0x33, 520, 101)
    assert core._rx_link is None
    first = bytearray(bytes((1, 8, 9, 0x88 | 4, 1)) + bytes(63))
    assert core.receive_middle(first, 0, len(first)) == 0
    assert core.pool.in_use() == 1 and core.counters.rx_packets == 1
    assert sink.messages == []


def test_the_fast_path_takes_packets_to_the_eid_set_last():
    # set_eid keeps the fast path's copy of the EID: a middle packet to the new EID is taken
    # there, one to the old is left to the full path (which drops it, not for us).
    core, _sink, link, _clock = make_core()
    core.set_eid(20)
    inject(core, link, bytes((1, 20, 9, 0x88 | 2, 1)) + bytes(63))
    middle = bytearray(bytes((1, 20, 9, 0x18 | 2)) + bytes(64))
    assert core.receive_middle(middle, 0, len(middle)) == 1
    middle[1] = 8
    middle[3] = 0x28 | 2
    assert core.receive_middle(middle, 0, len(middle)) == 0
    inject(core, link, bytes(middle))
    assert core.counters.not_for_us == 1 and core.counters.rx_packets == 3
