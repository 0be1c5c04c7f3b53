# Whole stacks over the loopback bus: openprot-mctp-api's integration and echo tests, done for real
# (the Rust test used MTU 255 and never fragmented; here a 64-byte MTU splits every large message).

from endpoints import FakeClock, assert_nothing_held, network, pattern
from testing import raises

from mctp import MctpError, RecvMetadata, ResponseCode
from mctp._compat import TICKS_MAX, ticks_diff
from mctp.core.core import SEND_OK
from mctp.core.packet import FLAG_TO
from mctp.constants import MAX_PAYLOAD_SIZE


def tap_packets(bus):
    seen = []

    def tap(src, dst, buf, length):
        seen.append((src, dst, bytes(buf[:length])))
        return True

    bus.tap = tap
    return seen


def test_multi_fragment_round_trip():
    a, b = network(mtu=64)
    seen = tap_packets(a.bus)
    listener = a.stack.listener(1)
    req = b.stack.req(8)
    payload = bytes(range(200))
    req.send(1, payload)
    # 201 message bytes at 64 per packet: 4 packets.
    assert [len(p) - 4 for _, _, p in seen] == [64, 64, 64, 9]
    meta, got, _ = listener.recv(bytearray(512))
    assert got == payload
    assert (meta.payload_size, meta.remote_eid) == (200, 9)


def test_fragments_carry_same_eids_tag_and_to_and_count_up():
    a, b = network(mtu=64)
    seen = tap_packets(a.bus)
    a.stack.listener(1)
    b.stack.req(8).send(1, bytes(300))
    flags = [p[3] for _, _, p in seen]
    assert [(f >> 4) & 3 for f in flags] == [0, 1, 2, 3, 0]
    assert flags[0] & 0xC0 == 0x80 and flags[-1] & 0xC0 == 0x40
    assert all(f & 0xC0 == 0 for f in flags[1:-1])
    assert len({(p[1], p[2], p[3] & 0x0F) for _, _, p in seen}) == 1
    assert all(p[0] == 0x01 and (src, dst) == (0x11, 0x10) for src, dst, p in seen)


def test_golden_packets_of_a_70_byte_pldm_message():
    # mctp-protocol.md: the message type 0x01 followed by 0x01..0x45, EID 8 to EID 9, tag 3.
    a, _b = network(mtu=64)
    seen = tap_packets(a.bus)
    message = bytes(range(1, 0x46))
    status = a.core.send(9, FLAG_TO | 3, 0x01, message, 0, len(message))
    assert status == SEND_OK
    assert seen[0][2] == bytes.fromhex("01 09 08 8B 01") + bytes(range(1, 64))
    assert seen[1][2] == bytes.fromhex("01 09 08 5B") + bytes(range(64, 0x46))


def test_message_sizes_at_packet_boundaries():
    for mtu in (64, 250):
        a, b = network(mtu=mtu)
        seen = tap_packets(a.bus)
        listener = a.stack.listener(1)
        req = b.stack.req(8)
        for size, packets in ((0, 1), (mtu - 1, 1), (mtu, 2), (2 * mtu - 1, 2), (2 * mtu, 3)):
            del seen[:]
            req.send(1, pattern(size, size))
            _meta, got, resp = listener.recv()
            assert len(seen) == packets
            assert got == pattern(size, size)
            resp.send(b"")
            req.recv()


def test_multiple_listeners_no_crosstalk():
    a, b = network()
    type1 = a.stack.listener(1, 10)
    type2 = a.stack.listener(2, 10)
    b.stack.req(8).send(2, b"for type 2")
    with raises(MctpError) as caught:
        type1.recv()
    assert caught.value.is_timeout()
    _, payload, _ = type2.recv()
    assert payload == b"for type 2"


def test_echo_via_listener_and_response_channel():
    a, b = network()
    listener = a.stack.listener(1)
    req = b.stack.req(8)
    req.send(1, b"echo via trait")
    meta, payload, resp = listener.recv(bytearray(255))
    assert payload == b"echo via trait"
    assert meta.remote_eid == 9
    resp.send(payload)
    meta, payload = req.recv(bytearray(255))
    assert bytes(payload) == b"echo via trait"
    assert (meta.remote_eid, meta.msg_type) == (8, 1)


def test_response_threads_eid_and_tag_through_the_raw_client():
    a, b = network()
    listener = a.client.listener(5)
    req = b.client.req(8)
    tag = b.client.send(req, 5, None, None, False, b"ping")
    buf = bytearray(255)
    meta = a.client.recv(listener, 0, buf, RecvMetadata())
    assert meta.msg_tag == tag
    a.client.send(None, meta.msg_type, meta.remote_eid, meta.msg_tag, False, b"pong")
    got = b.client.recv(req, 0, buf, RecvMetadata())
    assert bytes(buf[: got.payload_size]) == b"pong"
    assert (got.remote_eid, got.msg_type, got.msg_tag) == (8, 5, tag)


def test_request_channel_round_trip_and_reuse():
    a, b = network()
    listener = a.stack.listener(1)
    with b.stack.req(8, 100) as req:
        assert req.remote_eid() == 8
        for round_ in range(3):
            req.send(1, b"stack req %d" % round_)
            _, payload, resp = listener.recv()
            resp.send(payload + b"!")
            _, answer = req.recv()
            assert answer == b"stack req %d!" % round_


def test_both_sides_on_facades_with_the_ic_bit():
    a, b = network()
    listener = a.stack.listener(0x05)
    req = b.stack.req(8)
    req.send(0x05, b"spdm", ic=True)
    meta, payload, resp = listener.recv()
    assert meta.msg_ic and meta.msg_type == 0x05
    resp.send(payload, ic=True)
    meta, answer = req.recv()
    assert answer == b"spdm" and meta.msg_ic


def test_max_payload_round_trip_with_tag_equality():
    a, b = network(mtu=64)
    seen = tap_packets(a.bus)
    listener = a.stack.listener(1)
    req = b.stack.req(8)
    request = pattern(MAX_PAYLOAD_SIZE, 1)
    req.send(1, request)
    meta, payload, resp = listener.recv(bytearray(MAX_PAYLOAD_SIZE))
    assert bytes(payload) == request
    resp.send(pattern(MAX_PAYLOAD_SIZE, 2))
    answer_meta, answer = req.recv(bytearray(MAX_PAYLOAD_SIZE))
    assert bytes(answer) == pattern(MAX_PAYLOAD_SIZE, 2)
    assert answer_meta.msg_tag == meta.msg_tag
    # 1024-byte messages at a 64-byte MTU: 16 packets each way.
    assert [dst for _, dst, _ in seen].count(0x10) == 16
    assert [dst for _, dst, _ in seen].count(0x11) == 16


def test_payload_over_the_limit_is_refused_everywhere():
    _a, b = network()
    req = b.stack.req(8)
    with raises(MctpError) as caught:
        req.send(1, bytes(MAX_PAYLOAD_SIZE + 1))
    assert caught.value.code == ResponseCode.NO_SPACE
    b.core.config.max_payload = 100  # a smaller stack limit is enforced by the server
    b.server.max_payload = 100
    with raises(MctpError) as caught:
        req.send(1, bytes(101))
    assert caught.value.code == ResponseCode.NO_SPACE
    assert b.core.counters.tx_packets == 0


def test_drop_mid_flight_discards_the_late_response():
    a, b = network()
    listener = a.stack.listener(1)
    req = b.stack.req(8)
    req.send(1, b"slow request")
    _, _, resp = listener.recv()
    req.close()  # the requester gives up before the answer arrives
    fresh = b.stack.req(8, 20)
    resp.send(b"late answer")
    fresh.send(1, b"new request")
    b.server.poll()
    assert b.core.counters.unsolicited == 1
    assert b.core.pool.in_use() == 0
    _, payload, resp2 = listener.recv()
    assert payload == b"new request"
    resp2.send(b"right answer")
    _, answer = fresh.recv()
    assert answer == b"right answer"


def test_resources_return_to_baseline():
    a, b = network()
    for _ in range(3):
        with a.stack.listener(1) as listener, b.stack.req(8) as req:
            req.send(1, pattern(500))
            _, payload, resp = listener.recv()
            resp.send(payload)
            req.recv()
    for ep in (a, b):
        assert ep.server.handles_in_use() == 0
        assert_nothing_held(ep)
        assert ep.link.pending() == 0


def test_three_stacks_on_one_bus():
    a, b, c = network(3)
    listener = a.stack.listener(1)
    from_b = b.stack.req(8)
    from_c = c.stack.req(8)
    from_b.send(1, b"from b")
    from_c.send(1, b"from c")
    for _ in range(2):
        meta, payload, resp = listener.recv()
        resp.send(payload + b" back to %d" % meta.remote_eid)
    assert from_b.recv()[1] == b"from b back to 9"
    assert from_c.recv()[1] == b"from c back to 10"


def test_timeouts_across_the_tick_wraparound():
    # The clock starts 50 ms before the ticks wrap (2**30 on boards and on CPython's shim).
    clock = FakeClock(TICKS_MAX - 49)
    a, b = network(clock=clock)
    req = b.stack.req(8, 100)
    listener = a.stack.listener(1)  # holds the request unread
    req.send(1, bytes(100))
    flow_tag = b.core.flows.flows[0].tag
    start = clock.now
    with raises(MctpError) as caught:
        req.recv()
    assert caught.value.is_timeout()
    assert ticks_diff(clock.now, start) == 100  # the wrap did not cut the wait short
    assert clock.now < start  # the clock did wrap
    # Tag expiry and reassembly timeout across the wrap: a first packet that never completes.
    a.core.receive(a.link, bytes((1, 8, 9, 0x88 | flow_tag, 1)) + bytes(63), 0, 68, 0x11)
    assert a.core.pool.in_use() == 2  # the unread request, and the first packet
    clock.advance(5899)  # the request's tag is now 5999 ms old, the packet 5899 ms
    a.server.poll()
    b.server.poll()
    assert b.core.flows.in_use() == 1
    clock.advance(1)
    b.server.poll()
    assert b.core.flows.in_use() == 0 and b.core.counters.tag_expired == 1
    clock.advance(99)
    a.server.poll()
    assert a.core.pool.in_use() == 2
    clock.advance(1)
    a.server.poll()
    assert a.core.pool.in_use() == 1 and a.core.counters.reassembly_timeout == 1
    listener.close()
    assert a.core.pool.in_use() == 0
