# The wire adapter (mctp.ipc.adapter) as a client sees it: wire requests in, wire responses out.
# openprot-mctp-api's ten dispatch tests (tests/dispatch.rs), then the argument checks of SEND and
# RECV. Time is a FakeClock moved by the test.

from endpoints import Wire, assert_nothing_held, lone_server, network

from mctp import ops, wire
from mctp.errors import ResponseCode

H = wire.WIRE_HEADER_SIZE
SOM_EOM = 0xC0  # transport header flags: a single-packet message
TO = 0x08  # tag owner: a request


def error_response(code):
    return bytes([code]) + bytes(H - 1)


# openprot-mctp-api's ten dispatch tests.


def test_set_eid_and_get_eid_over_the_wire():
    server, _ = lone_server(eid=0)
    w = Wire(server)
    w.buf[:H] = bytes.fromhex("00 00 00 2A 00 00 00 00 00 00 00 00")
    assert w.dispatch(H)
    assert w.raw() == bytes(H)  # success: an all-zero header
    w.buf[:H] = bytes(H)
    w.buf[0] = ops.OP_GET_EID
    assert w.dispatch(H)
    assert w.raw() == bytes.fromhex("00 00 00 2A 00 00 00 00 00 00 00 00")


def test_echo_round_trip_over_the_wire():
    a, b = network(2)
    wa = Wire(a.server)
    wb = Wire(b.server)
    listener = wa.listener(1)
    handle = wb.req(8)
    payload = b"dispatch echo!"
    assert wb.send(handle, 1, None, None, payload) == ResponseCode.SUCCESS
    tag = wb.response().tag
    a.server.poll()
    # A receives the request...
    assert wa.recv(listener, 0)
    hdr = wa.response()
    assert hdr.code == ResponseCode.SUCCESS
    assert (hdr.msg_type, hdr.eid, hdr.tag, hdr.handle) == (1, 9, tag, 0)
    assert wa.payload() == payload
    # ...and echoes it: no handle, the requester's EID and tag.
    assert wa.send(None, hdr.msg_type, hdr.eid, hdr.tag, payload) == ResponseCode.SUCCESS
    assert wa.response().tag == tag
    b.server.poll()
    assert wb.recv(handle, 0)
    hdr = wb.response()
    assert hdr.code == ResponseCode.SUCCESS
    assert (hdr.msg_type, hdr.eid, hdr.tag) == (1, 8, tag)
    assert wb.payload() == payload
    for ep in (a, b):
        assert_nothing_held(ep)


def test_two_byte_request_is_bad_argument():
    server, _ = lone_server()
    w = Wire(server)
    assert w.dispatch(2)
    assert w.raw() == error_response(ResponseCode.BAD_ARGUMENT)
    # Eleven bytes are still one short of a header.
    assert w.dispatch(11)
    assert w.raw() == error_response(ResponseCode.BAD_ARGUMENT)


def test_unknown_op_is_bad_argument():
    server, _ = lone_server()
    w = Wire(server)
    for op in (0xFF, ops.OP_UNBIND + 1):
        w.buf[:H] = bytes(H)
        w.buf[0] = op
        assert w.dispatch(H)
        assert w.raw() == error_response(ResponseCode.BAD_ARGUMENT)
    assert server.handles_in_use() == 0


def test_recv_with_nothing_waiting_is_pending_then_timed_out():
    server, clock = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    assert not w.recv(listener, 500)
    assert not w.conn.ready
    assert server.pending_in_use() == 1
    clock.advance(499)
    server.poll()
    assert not w.conn.ready
    clock.advance(1)
    server.poll()
    assert w.response().code == ResponseCode.TIMED_OUT
    assert server.pending_in_use() == 0


def test_unbind_valid_handle():
    server, _ = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    assert w.ok(wire.encode_unbind(w.buf, listener))
    assert w.raw() == bytes(H)
    assert server.handles_in_use() == 0


def test_a_handle_is_its_connections_alone():
    # Another client's handle, forged or seen, is refused as a stale one is: it cannot
    # receive on it, send with it or drop it; the owner goes on as before.
    server, _ = lone_server()
    owner, other = Wire(server), Wire(server)
    listener, request = owner.listener(1), owner.req(9)
    assert other.recv(listener, 0) and other.response().code == ResponseCode.BAD_ARGUMENT
    assert other.send(request, 1, None, None, b"\x01") == ResponseCode.BAD_ARGUMENT
    assert other.code(wire.encode_unbind(other.buf, listener)) == ResponseCode.BAD_ARGUMENT
    assert server.explain(other.conn) == "handle 0x%x belongs to another connection" % listener
    assert server.handles_in_use() == 2 and server.pending_in_use() == 0
    assert not owner.recv(listener, 0)  # its own: pending
    owner_after = Wire(server)
    assert owner_after.code(wire.encode_unbind(owner_after.buf, listener)) == (
        ResponseCode.BAD_ARGUMENT
    )


def test_a_client_that_disconnects_leaves_nothing_held():
    # Its handles are released (a request handle's tag ends, a listener's queued messages
    # go) and its pending receive is withdrawn; another client's handles stay.
    server, _ = lone_server()
    gone, staying = Wire(server), Wire(server)
    listener = gone.listener(1)
    gone.req(9)
    kept = staying.listener(2)
    assert not gone.recv(listener, 0)
    server.disconnect(gone.conn)
    assert server.pending_in_use() == 0 and server.handles_in_use() == 1
    assert server.check() == []
    assert not staying.recv(kept, 0)  # the other client's listener still works
    server.disconnect(staying.conn)
    assert server.handles_in_use() == 0 and server.pending_in_use() == 0


def test_unbind_unknown_handle_is_a_no_op_success():
    server, _ = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    gen = (listener >> 8) & 0x0F
    stale = server.epoch << 12 | ((gen + 1) & 0x0F) << 8 | (listener & 0xFF)  # next generation
    for unknown in (0xDEADBEEF, stale, server.epoch << 12 | 0xFF):
        w.ok(wire.encode_unbind(w.buf, unknown))
        assert w.raw() == bytes(H)
    # None of them released the live listener.
    assert server.handles_in_use() == 1
    assert w.code(wire.encode_listener(w.buf, 1)) == ResponseCode.ADDR_IN_USE


def test_pending_recv_delivered_after_inbound():
    a, b = network(2)
    wa = Wire(a.server)
    listener = wa.listener(7)
    assert not wa.recv(listener, 1000)
    b.client.send(b.client.req(8), 7, None, None, False, b"hello pending")
    a.server.poll()
    assert wa.conn.ready
    hdr = wa.response()
    assert hdr.code == ResponseCode.SUCCESS
    assert (hdr.msg_type, hdr.eid) == (7, 9)
    assert wa.payload() == b"hello pending"
    assert a.server.pending_in_use() == 0
    assert a.core.pool.in_use() == 0


def test_pending_recv_timed_out():
    server, clock = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    assert not w.recv(listener, 100)
    clock.advance(200)
    server.poll()
    assert w.raw() == error_response(ResponseCode.TIMED_OUT)
    assert server.pending_in_use() == 0


def test_recv_immediate_when_a_message_waits():
    a, b = network(2)
    wa = Wire(a.server)
    listener = wa.listener(3)
    b.client.send(b.client.req(8), 3, None, None, False, b"early")
    a.server.poll()
    assert wa.recv(listener, 1000)  # answered at once, nothing registered
    assert a.server.pending_in_use() == 0
    hdr = wa.response()
    assert hdr.code == ResponseCode.SUCCESS
    assert (hdr.msg_type, hdr.eid) == (3, 9)
    assert wa.payload() == b"early"
    assert a.core.pool.in_use() == 0


# Gaps: argument checks of SEND and RECV.


def test_request_send_with_an_explicit_tag_is_bad_argument():
    a, _ = network(2)
    w = Wire(a.server)
    handle = w.req(9)
    for tag in (0, 3):
        assert w.send(handle, 1, None, tag, b"x") == ResponseCode.BAD_ARGUMENT
    assert a.core.flows.in_use() == 0
    assert a.core.counters.tx_messages == 0
    # Without the tag the same request goes.
    assert w.send(handle, 1, None, None, b"x") == ResponseCode.SUCCESS


def test_request_send_to_another_eid_than_the_handles_is_bad_argument():
    a = network(3)[0]
    w = Wire(a.server)
    handle = w.req(9)
    assert w.send(handle, 1, 10, None, b"x") == ResponseCode.BAD_ARGUMENT
    assert a.core.counters.tx_messages == 0
    assert w.send(handle, 1, 9, None, b"x") == ResponseCode.SUCCESS


def test_response_send_without_eid_or_tag_is_bad_argument():
    a, _ = network(2)
    w = Wire(a.server)
    assert w.send(None, 1, None, 3, b"r") == ResponseCode.BAD_ARGUMENT
    assert w.raw() == error_response(ResponseCode.BAD_ARGUMENT)
    assert w.send(None, 1, 9, None, b"r") == ResponseCode.BAD_ARGUMENT
    assert w.send(None, 1, None, None, b"r") == ResponseCode.BAD_ARGUMENT
    assert w.send(None, 1, 9, 8, b"r") == ResponseCode.BAD_ARGUMENT  # not a 3-bit tag
    assert a.core.counters.tx_messages == 0
    assert w.send(None, 1, 9, 3, b"r") == ResponseCode.SUCCESS
    assert w.response().tag == 3


def test_request_send_through_a_listener_handle_is_bad_argument():
    a, _ = network(2)
    w = Wire(a.server)
    listener = w.listener(1)
    assert w.send(listener, 1, None, None, b"x") == ResponseCode.BAD_ARGUMENT
    assert w.send(listener, 1, 9, None, b"x") == ResponseCode.BAD_ARGUMENT
    assert a.core.flows.in_use() == 0
    assert a.core.counters.tx_messages == 0


def test_send_through_a_released_handle_is_bad_argument():
    a, _ = network(2)
    w = Wire(a.server)
    handle = w.req(9)
    w.ok(wire.encode_unbind(w.buf, handle))
    assert w.send(handle, 1, None, None, b"x") == ResponseCode.BAD_ARGUMENT
    assert a.core.counters.tx_messages == 0


def test_recv_without_a_handle_is_bad_argument():
    server, _ = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    n = wire.encode_recv(w.buf, listener, 100)
    w.buf[1] = 0  # no HAS_HANDLE flag
    assert w.code(n) == ResponseCode.BAD_ARGUMENT
    assert server.pending_in_use() == 0
