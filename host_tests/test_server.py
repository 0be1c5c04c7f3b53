# The server, driven through the wire codec: openprot-mctp-api's twelve server tests (server.rs),
# then where this server differs from the crate's (docs/contract.md): handle tables, receive
# buffers, pending receives, flows and tags, restarts, IPC client quotas. Time is a FakeClock
# moved by the test; nothing sleeps. Over 450 lines: they are all mctp/server/server.py's (the
# in-process client's and the audit's are in test_server_direct.py and test_server_audit.py).

from endpoints import Wire, inject, lone_server, network
from testing import raises

from mctp import Stack, wire
from mctp.config import Config
from mctp.errors import MctpError, ResponseCode
from mctp.server import DirectClient, Server

H = wire.WIRE_HEADER_SIZE
SOM_EOM = 0xC0  # transport header flags: a single-packet message
SOM = 0x80
EOM = 0x40
TO = 0x08  # tag owner: a request


def unlimited(**limits):
    """A Config whose IPC client quotas are out of the way: one wire client may take every
    handle (openprot-mctp-api's tests of the tables' sizes)."""
    quotas = {"client_listeners": 256, "client_requests": 256, "client_queued": 256}
    quotas.update(reserved_listeners=0, reserved_requests=0)
    quotas.update(limits)
    return Config(**quotas)


def at_baseline(server):
    core = server.core
    return server.pending_in_use() == 0 and core.pool.in_use() == 0 and core.flows.in_use() == 0


# openprot-mctp-api's twelve server tests.


def test_initial_eid():
    server, _ = lone_server(eid=8)
    w = Wire(server)
    hdr = w.ok(wire.encode_get_eid(w.buf))
    assert hdr.eid == 8


def test_set_eid_then_get_eid():
    server, _ = lone_server(eid=0)
    w = Wire(server)
    assert w.ok(wire.encode_get_eid(w.buf)).eid == 0
    w.ok(wire.encode_set_eid(w.buf, 42))
    assert w.ok(wire.encode_get_eid(w.buf)).eid == 42
    assert server.core.eid == 42


def test_request_handle_allocate_and_unbind():
    server, _ = lone_server()
    w = Wire(server)
    handle = w.req(42)
    assert handle >> 12 == server.epoch
    assert 8 <= handle & 0xFF < 16  # request slots follow the 8 listener slots
    assert server.handles_in_use() == 1
    w.unbind(handle)
    assert server.handles_in_use() == 0
    # The released handle is gone: a receive on it is refused at once.
    assert w.recv(handle, 100)
    assert w.response().code == ResponseCode.BAD_ARGUMENT


def test_listener_handle_allocate_and_unbind():
    server, _ = lone_server()
    w = Wire(server)
    handle = w.listener(1)
    assert handle >> 12 == server.epoch
    assert handle & 0xFF < 8
    assert server.handles_in_use() == 1
    w.unbind(handle)
    assert server.handles_in_use() == 0
    # The type is free again.
    w.listener(1)
    assert server.handles_in_use() == 1


def test_duplicate_listener_is_addr_in_use():
    server, _ = lone_server()
    w = Wire(server)
    w.listener(1)
    assert w.code(wire.encode_listener(w.buf, 1)) == ResponseCode.ADDR_IN_USE
    assert w.response().handle == 0
    assert server.handles_in_use() == 1


def test_listeners_of_different_types_get_different_handles():
    server, _ = lone_server()
    w = Wire(server)
    h1 = w.listener(1)
    h2 = w.listener(2)
    assert h1 != h2
    assert server.handles_in_use() == 2


def test_recv_before_any_inbound_is_pending():
    server, _ = lone_server()
    w = Wire(server)
    handle = w.listener(1)
    assert not w.recv(handle, 500)
    assert not w.conn.ready
    assert server.pending_in_use() == 1
    server.poll()
    assert not w.conn.ready
    assert server.core.pool.in_use() == 0


def test_inbound_then_recv_delivers_type_eid_size_and_bytes():
    a, b = network(2)
    wa = Wire(a.server)
    listener = wa.listener(1)
    tag = b.client.send(b.client.req(8), 1, None, None, False, b"hello")
    a.server.poll()
    assert wa.recv(listener, 100)
    hdr = wa.response()
    assert hdr.code == ResponseCode.SUCCESS
    assert hdr.msg_type == 1
    assert not hdr.msg_ic()
    assert hdr.eid == 9
    assert hdr.tag == tag
    assert hdr.payload_len == 5
    assert wa.payload() == b"hello"
    assert at_baseline(a.server)


def test_message_of_another_type_is_not_delivered():
    a, b = network(2)
    wa = Wire(a.server)
    listener = wa.listener(1)
    b.client.send(b.client.req(8), 2, None, None, False, b"wrong type")
    a.server.poll()
    assert a.core.counters.no_listener == 1
    assert not wa.recv(listener, 100)
    assert a.core.pool.in_use() == 0


def test_oversized_send_is_no_space():
    a, _ = network(2)
    w = Wire(a.server)
    handle = w.req(9)
    # The encoder refuses 1024 bytes, so put 1023 there and count one byte more.
    n = wire.encode_send(w.buf, handle, 1, None, None, False, bytes(1023))
    w.buf[n] = 0
    assert w.code(n + 1) == ResponseCode.NO_SPACE
    assert a.core.counters.tx_messages == 0
    assert a.core.flows.in_use() == 0  # no tag was taken
    # 1023 is the limit and still goes.
    assert w.code(n) == ResponseCode.SUCCESS
    assert a.core.counters.tx_messages == 1


def test_pending_recv_times_out_exactly_at_the_deadline():
    server, clock = lone_server()
    w = Wire(server)
    handle = w.listener(1)
    assert not w.recv(handle, 100)
    clock.advance(50)
    server.poll()
    assert not w.conn.ready
    clock.advance(49)  # t + 99
    server.poll()
    assert not w.conn.ready
    clock.advance(1)  # t + 100: the deadline is inclusive
    server.poll()
    assert w.conn.ready
    hdr = w.response()
    assert hdr.code == ResponseCode.TIMED_OUT
    assert w.resp_len() == H
    assert server.pending_in_use() == 0


def test_pending_recv_fulfilled_before_the_deadline():
    a, b = network(2)
    wa = Wire(a.server)
    listener = wa.listener(1)
    assert not wa.recv(listener, 1000)
    b.client.send(b.client.req(8), 1, None, None, False, b"data")
    a.clock.advance(50)
    a.server.poll()
    assert wa.conn.ready
    hdr = wa.response()
    assert hdr.code == ResponseCode.SUCCESS
    assert (hdr.msg_type, hdr.eid) == (1, 9)
    assert wa.payload() == b"data"
    # Fulfilled means finished: the deadline passing later changes nothing.
    a.clock.advance(2000)
    a.server.poll()
    assert wa.response().code == ResponseCode.SUCCESS
    assert at_baseline(a.server)


# Gaps: handle tables and EIDs.


def test_set_eid_refuses_reserved_and_broadcast_eids():
    server, _ = lone_server(eid=20)
    w = Wire(server)
    for eid in (0, 1, 2, 3, 4, 5, 6, 7, 255):
        assert w.code(wire.encode_set_eid(w.buf, eid)) == ResponseCode.BAD_ARGUMENT, eid
        assert server.core.eid == 20
    for eid in (8, 254):
        assert w.code(wire.encode_set_eid(w.buf, eid)) == ResponseCode.SUCCESS
        assert w.ok(wire.encode_get_eid(w.buf)).eid == eid


def test_ninth_listener_is_no_space():
    server, _ = lone_server(config=unlimited())
    w = Wire(server)
    handles = [w.listener(t) for t in range(8)]
    assert len(set(handles)) == 8
    assert w.code(wire.encode_listener(w.buf, 8)) == ResponseCode.NO_SPACE
    assert server.handles_in_use() == 8
    w.unbind(handles[3])
    assert w.listener(8) & 0xFF == handles[3] & 0xFF  # the freed slot serves again
    assert server.handles_in_use() == 8


def test_ninth_request_handle_is_no_space():
    server, _ = lone_server(config=unlimited())
    w = Wire(server)
    handles = [w.req(9) for _ in range(8)]
    assert len(set(handles)) == 8
    assert w.code(wire.encode_req(w.buf, 10)) == ResponseCode.NO_SPACE
    assert server.handles_in_use() == 8
    w.unbind(handles[0])
    w.req(10)
    assert server.handles_in_use() == 8


# Gaps: receive buffers and pending receives.


def test_too_small_buffer_is_no_space_with_the_size_and_keeps_the_message():
    server, _ = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    inject(server.core, 9, SOM_EOM | TO | 2, b"\x01" + b"0123456789")
    # A receive that finds the message waiting.
    assert w.recv(listener, 100, capacity=4)
    hdr = w.response()
    assert hdr.code == ResponseCode.NO_SPACE
    assert hdr.payload_len == 10
    assert w.resp_len() == H  # the size, but no payload
    assert server.core.pool.in_use() == 1  # still queued
    assert w.recv(listener, 100, capacity=10)
    assert w.response().code == ResponseCode.SUCCESS
    assert w.payload() == b"0123456789"
    assert at_baseline(server)
    # A receive already waiting when the message comes.
    assert not w.recv(listener, 100, capacity=3)
    inject(server.core, 9, SOM_EOM | TO | 3, b"\x01" + b"abcdef")
    assert w.conn.ready
    hdr = w.response()
    assert (hdr.code, hdr.payload_len) == (ResponseCode.NO_SPACE, 6)
    assert w.recv(listener, 100)  # no capacity given: up to the maximum
    assert w.payload() == b"abcdef"
    assert at_baseline(server)


def test_outstanding_receives_table_full_is_no_space():
    server, clock = lone_server(config=Config(pending_receives=2))
    clients = [Wire(server) for _ in range(3)]
    handles = [clients[i].listener(i + 1) for i in range(3)]
    assert not clients[0].recv(handles[0], 100)
    assert not clients[1].recv(handles[1], 200)
    assert clients[2].recv(handles[2], 100)
    assert clients[2].response().code == ResponseCode.NO_SPACE
    assert server.pending_in_use() == 2
    # The first times out; its entry serves the third.
    clock.advance(100)
    server.poll()
    assert clients[0].response().code == ResponseCode.TIMED_OUT
    assert not clients[1].conn.ready
    assert not clients[2].recv(handles[2], 100)
    assert server.pending_in_use() == 2


def test_a_receive_on_another_connections_handle_is_refused_and_the_owners_goes_on():
    server, _ = lone_server()
    first = Wire(server)
    second = Wire(server)
    listener = first.listener(1)
    assert not first.recv(listener, 1000)
    assert second.recv(listener, 1000)
    assert second.response().code == ResponseCode.BAD_ARGUMENT  # not its handle
    assert server.pending_in_use() == 1
    # The first receive still waits, and gets the message.
    assert not first.conn.ready
    inject(server.core, 9, SOM_EOM | TO, b"\x01" + b"mine")
    assert first.conn.ready
    assert first.payload() == b"mine"
    assert second.response().code == ResponseCode.BAD_ARGUMENT
    assert at_baseline(server)


def test_recv_without_trailer_waits_forever():
    server, clock = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    wire.encode_recv(w.buf, listener, 100)
    assert not w.dispatch(H)  # the 12-byte header only: no timeout given
    for _ in range(20):
        clock.advance(60000)
        server.poll()
        assert not w.conn.ready
    assert server.pending_in_use() == 1
    inject(server.core, 9, SOM_EOM | TO, b"\x01" + b"at last")
    assert w.conn.ready
    assert w.payload() == b"at last"
    assert at_baseline(server)


def test_recv_with_timeout_zero_waits_forever():
    server, clock = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    assert not w.recv(listener, 0)
    clock.advance(1000000)
    server.poll()
    assert not w.conn.ready
    assert server.pending_in_use() == 1


def test_recv_with_a_truncated_trailer_is_bad_argument():
    server, _ = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    wire.encode_recv(w.buf, listener, 100)
    assert w.code(H + 2) == ResponseCode.BAD_ARGUMENT
    assert server.pending_in_use() == 0


# Gaps: flows, tags and late responses.


def test_response_after_unbind_is_dropped_and_reaches_no_later_handle():
    a, _ = network(2)
    w = Wire(a.server)
    old = w.req(9)
    tag = w.request(old, 1, b"ping")
    assert a.core.flows.in_use() == 1
    w.unbind(old)
    assert a.core.flows.in_use() == 0
    inject(a.core, 9, SOM_EOM | tag, b"\x01" + b"late")
    assert a.core.counters.unsolicited == 1
    assert a.core.pool.in_use() == 0
    new = w.req(9)
    assert new & 0xFF == old & 0xFF
    assert not w.recv(new, 100)
    a.clock.advance(100)
    a.server.poll()
    assert w.response().code == ResponseCode.TIMED_OUT
    assert at_baseline(a.server)


def test_response_split_by_an_unbind_is_dropped():
    a, _ = network(2)
    w = Wire(a.server)
    old = w.req(9)
    tag = w.request(old, 1, b"ping")
    # The first of two packets arrives, then the handle goes, then the last packet.
    inject(a.core, 9, SOM | tag, b"\x01" + b"x" * 63)
    assert a.core.pool.in_use() == 1
    w.unbind(old)
    assert a.core.pool.in_use() == 0
    new = w.req(9)
    assert not w.recv(new, 100)
    inject(a.core, 9, EOM | 1 << 4 | tag, b"tail")
    assert a.core.counters.no_som == 1
    assert not w.conn.ready
    assert a.core.pool.in_use() == 0
    assert a.core.flows.in_use() == 0


def test_stale_response_to_a_reallocated_handle_slot_is_not_delivered():
    a, b = network(2)
    wa = Wire(a.server)
    wb = Wire(b.server)
    listener = wb.listener(1)
    old = wa.req(9)
    old_tag = wa.request(old, 1, b"first")
    wa.unbind(old)
    new = wa.req(9)
    assert new & 0xFF == old & 0xFF  # the same slot, another generation
    assert new != old
    new_tag = wa.request(new, 1, b"second")
    assert new_tag != old_tag
    # B answers both requests, the old one first.
    b.server.poll()
    for expected in (b"first", b"second"):
        assert wb.recv(listener, 100)
        hdr = wb.response()
        assert wb.payload() == expected
        wb.respond(hdr.eid, hdr.tag, 1, b"re:" + expected)
    assert not wa.recv(new, 1000)
    a.server.poll()
    assert a.core.counters.unsolicited == 1
    assert wa.conn.ready
    hdr = wa.response()
    assert (hdr.code, hdr.tag, hdr.eid) == (ResponseCode.SUCCESS, new_tag, 9)
    assert wa.payload() == b"re:second"
    # The old handle value names nothing now.
    assert wa.recv(old, 100)
    assert wa.response().code == ResponseCode.BAD_ARGUMENT
    assert at_baseline(a.server)


def test_eight_outstanding_requests_to_one_peer_use_every_tag():
    a, _ = network(2, config=unlimited(requests=9))
    w = Wire(a.server)
    handles = [w.req(9) for _ in range(9)]
    tags = [w.request(handles[i], 1, b"q") for i in range(8)]
    assert sorted(tags) == list(range(8))
    n = wire.encode_send(w.buf, handles[8], 1, None, None, False, b"q")
    assert w.code(n) == ResponseCode.NO_SPACE
    assert a.core.flows.in_use() == 8
    assert a.core.counters.tx_messages == 8
    # Dropping one handle frees its tag for the ninth.
    w.unbind(handles[5])
    assert w.request(handles[8], 1, b"q") == tags[5]
    # Unanswered, the tags expire.
    a.clock.advance(a.core.config.tag_expiry_ms)
    a.server.poll()
    assert a.core.counters.tag_expired == 8
    assert a.core.flows.in_use() == 0


def test_second_response_with_the_same_tag_is_unsolicited():
    a, _ = network(2)
    w = Wire(a.server)
    handle = w.req(9)
    tag = w.request(handle, 1, b"ping")
    inject(a.core, 9, SOM_EOM | tag, b"\x01" + b"one")
    inject(a.core, 9, SOM_EOM | tag, b"\x01" + b"two")
    assert a.core.counters.unsolicited == 1
    assert a.core.flows.in_use() == 0
    assert w.recv(handle, 100)
    assert w.payload() == b"one"
    assert not w.recv(handle, 100)
    assert a.core.pool.in_use() == 0


def test_response_from_another_eid_is_unsolicited():
    a = network(3)[0]
    w = Wire(a.server)
    handle = w.req(9)
    tag = w.request(handle, 1, b"ping")
    inject(a.core, 10, SOM_EOM | tag, b"\x01" + b"spoof")
    assert a.core.counters.unsolicited == 1
    assert not w.recv(handle, 100)
    inject(a.core, 9, SOM_EOM | tag, b"\x01" + b"real")
    assert w.payload() == b"real"
    assert at_baseline(a.server)


def test_keep_tags_lets_one_request_take_two_responses():
    a, _ = network(2)
    w = Wire(a.server)
    handle = w.req(9)
    a.server.keep_tags(handle)
    tag = w.request(handle, 1, b"ping")
    inject(a.core, 9, SOM_EOM | tag, b"\x01" + b"one")
    inject(a.core, 9, SOM_EOM | tag, b"\x01" + b"two")
    assert a.core.counters.unsolicited == 0
    assert w.recv(handle, 100)
    assert (w.response().tag, w.payload()) == (tag, b"one")
    assert w.recv(handle, 100)
    assert (w.response().tag, w.payload()) == (tag, b"two")
    assert a.core.flows.in_use() == 1
    # The tag lives until it expires; then a further response is unsolicited.
    a.clock.advance(a.core.config.tag_expiry_ms)
    a.server.poll()
    assert a.core.flows.in_use() == 0
    inject(a.core, 9, SOM_EOM | tag, b"\x01" + b"three")
    assert a.core.counters.unsolicited == 1
    assert at_baseline(a.server)


def test_keep_tags_needs_a_live_request_handle():
    server, _ = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    with raises(ValueError):
        server.keep_tags(listener)
    handle = w.req(9)
    w.unbind(handle)
    with raises(ValueError):
        server.keep_tags(handle)


# Gaps: server restarts.


def test_handle_from_before_a_restart_is_server_restarted():
    server, _ = lone_server(epoch=1)
    old = Wire(server)
    listener = old.listener(1)
    request = old.req(9)
    restarted = Server(server.core, 2)
    w = Wire(restarted)
    assert w.recv(listener, 100)
    assert w.response().code == ResponseCode.SERVER_RESTARTED
    n = wire.encode_send(w.buf, request, 1, None, None, False, b"x")
    assert w.code(n) == ResponseCode.SERVER_RESTARTED
    # Unbinding it is a harmless no-op; the new server hands out handles of its own epoch.
    w.unbind(listener)
    assert w.listener(1) >> 12 == 2
    assert restarted.pending_in_use() == 0


def test_restart_does_not_hand_old_responses_to_new_handles():
    a, _ = network(2)
    old = Wire(a.server)
    handle = old.req(9)
    tag = old.request(handle, 1, b"ping")
    restarted = Server(a.core, a.server.epoch % 0xFFFF + 1)
    w = Wire(restarted)
    new = w.req(9)
    assert new & 0xFF == handle & 0xFF
    assert not w.recv(new, 100)
    # The answer to the old server's request must not reach the new server's handle.
    inject(a.core, 9, SOM_EOM | tag, b"\x01" + b"for the old server")
    assert not w.conn.ready
    assert a.core.pool.in_use() == 0


def test_restart_does_not_leave_old_messages_in_the_way():
    server, _ = lone_server(epoch=1)
    old = Wire(server)
    old.listener(1)
    inject(server.core, 9, SOM_EOM | TO | 1, b"\x01" + b"old one")
    inject(server.core, 9, SOM_EOM | TO | 2, b"\x01" + b"old two")
    restarted = Server(server.core, 2)
    w = Wire(restarted)
    listener = w.listener(1)
    assert not w.recv(listener, 100)
    # The new server's listener takes new messages; the old server's do not block it.
    inject(server.core, 9, SOM_EOM | TO | 3, b"\x01" + b"new")
    assert server.core.counters.queue_full == 0
    assert w.conn.ready
    assert w.payload() == b"new"
    assert server.core.pool.in_use() == 0


def test_a_full_handle_table_names_the_likely_cause_and_lists_the_open_handles():
    # On MicroPython no finaliser closes a channel that was neither closed nor used in `with`.
    server, _clock = lone_server(config=Config(requests=2))
    stack = Stack(DirectClient(server))
    kept = [stack.req(9), stack.req(10)]
    with raises(MctpError) as caught:
        stack.req(11)
    assert caught.value.code == ResponseCode.NO_SPACE
    assert "no free request handle (2 in use: a channel not closed?" in str(caught.value)
    lines = server.open_handles()
    assert len(lines) == 2 and "request channel to EID 9, 0 queued" in lines[0]
    assert "request channel to EID 10" in lines[1]
    kept[0].close()
    with stack.req(11):
        assert len(server.open_handles()) == 2
    kept[1].close()
    assert server.open_handles() == []


def test_one_ipc_client_cannot_take_every_handle_and_the_owner_keeps_its_reserve():
    server, _ = lone_server()  # Config's defaults: 8 listeners, 8 request handles
    greedy = Wire(server)
    taken = [greedy.listener(1), greedy.listener(2), greedy.req(9), greedy.req(10)]
    assert greedy.code(wire.encode_listener(greedy.buf, 3)) == ResponseCode.NO_SPACE
    assert server.explain(greedy.conn) == (
        "IPC client quota: at most 2 listener handles per client (Config.client_listeners)"
    )
    assert greedy.code(wire.encode_req(greedy.buf, 11)) == ResponseCode.NO_SPACE
    assert server.explain(greedy.conn) == (
        "IPC client quota: at most 2 request handles per client (Config.client_requests)"
    )
    # A second client still opens its listener and its request channel.
    second = Wire(server)
    second.listener(3)
    second.req(9)
    # More clients take what IPC clients share: all but the 2 listeners and the request
    # handle kept back for this process.
    third, fourth = Wire(server), Wire(server)
    for client, count in ((third, 2), (fourth, 2)):
        for _ in range(count):
            client.req(9)
    third.listener(4)
    third.listener(5)
    fourth.listener(6)
    assert fourth.code(wire.encode_listener(fourth.buf, 7)) == ResponseCode.NO_SPACE
    assert server.explain(fourth.conn) == (
        "IPC client quota: IPC clients together hold at most 6 listener handles"
        " (Config.listeners less Config.reserved_listeners, kept for this process)"
    )
    fifth = Wire(server)
    assert fifth.code(wire.encode_req(fifth.buf, 9)) == ResponseCode.NO_SPACE
    assert server.explain(fifth.conn).startswith(
        "IPC client quota: IPC clients together hold at most 7 request handles"
    )
    assert server.handles_in_use() == 6 + 7
    # The owner (in process) still has its reserve, and no quota of its own.
    owner = Stack(DirectClient(server))
    kept = [owner.listener(8), owner.listener(9), owner.req(9)]
    assert server.handles_in_use() == 16 and server.check() == []
    # A handle a client gives back serves it again.
    greedy.unbind(taken[0])
    greedy.listener(3 + 7)
    for channel in kept:
        channel.close()
    assert server.check() == []


def test_on_a_boards_tables_two_ipc_clients_still_find_their_handles():
    from firmware.endpoint import ENDPOINT_LIMITS  # noqa: PLC0415

    server, _ = lone_server(config=Config(**ENDPOINT_LIMITS))  # 4 listeners, 4 request handles
    owner = DirectClient(server)
    services = [owner.listener(1), owner.listener(0x7E)]  # the firmware's two
    greedy, second = Wire(server), Wire(server)
    greedy.listener(2)
    greedy.req(9)
    greedy.req(9)
    assert greedy.code(wire.encode_listener(greedy.buf, 3)) == ResponseCode.NO_SPACE
    assert greedy.code(wire.encode_req(greedy.buf, 9)) == ResponseCode.NO_SPACE
    second.listener(3)
    second.req(9)
    services.append(owner.req(9))  # the owner's reserved request handle (its console's)
    assert server.handles_in_use() == 8 and server.check() == []
    for handle in services:
        owner.drop_handle(handle)


def test_one_ipc_client_cannot_keep_every_message_waiting():
    server, _ = lone_server(config=Config(reassembly_slots=6))
    slow = Wire(server)
    one, two = slow.listener(1), slow.listener(2)
    owner = DirectClient(server)
    mine = owner.listener(3)
    inject(server.core, 9, SOM_EOM | TO | 1, b"\x01" + b"first")
    inject(server.core, 9, SOM_EOM | TO | 2, b"\x02" + b"second")
    # Two messages wait for the client, one per listener: a third is one too many.
    inject(server.core, 9, SOM_EOM | TO | 3, b"\x01" + b"third")
    assert server.core.counters.queue_full == 1
    assert (server.queued(one), server.queued(two), server.queued_for(slow.conn)) == (1, 1, 2)
    # The owner's messages are not the client's: its listener takes its queue's two.
    for tag in (4, 5):
        inject(server.core, 9, SOM_EOM | TO | tag, b"\x03" + b"owner's")
    assert server.queued(mine.value) == 2 and server.core.counters.queue_full == 1
    # Once the client reads one, the next is taken again.
    assert slow.recv(one, 100) and slow.payload() == b"first"
    inject(server.core, 9, SOM_EOM | TO | 6, b"\x01" + b"fourth")
    assert server.queued(one) == 1 and server.core.counters.queue_full == 1
    assert server.check() == []


def test_the_server_counts_the_receives_it_must_time_out():
    # poll() looks through the pending receives for deadlines only while some have a timeout:
    # the count follows each receive that waits, times out, is fulfilled or waits forever (the
    # audit checks it against the table).
    a, b = network(2)
    clients = [Wire(a.server) for _ in range(3)]
    handles = [clients[i].listener(i + 1) for i in range(3)]
    assert not clients[0].recv(handles[0], 100)
    assert not clients[1].recv(handles[1], 1000)
    assert not clients[2].recv(handles[2], 0)  # waits forever
    assert a.server._timed == 2 and a.server.check() == []
    a.clock.advance(100)
    a.server.poll()
    assert clients[0].response().code == ResponseCode.TIMED_OUT
    assert a.server._timed == 1 and a.server.check() == []
    b.client.send(b.client.req(8), 2, None, None, False, b"data")
    a.server.poll()
    assert clients[1].response().code == ResponseCode.SUCCESS
    assert a.server._timed == 0 and a.server.check() == []
    a.clock.advance(5000)
    a.server.poll()  # nothing to look through: the one left waits forever
    assert not clients[2].conn.ready and a.server.pending_in_use() == 1
