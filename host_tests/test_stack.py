# The Stack facade: openprot-mctp-api's facade tests (stack.rs) over an in-memory client, plus
# handle release, the allocation-free receive forms and the checks the Rust facade lacked.

from fake_client import FakeClient
from testing import heap_locked, raises

from mctp import MctpError, RecvMetadata, ResponseCode, Stack
from mctp.api import MctpListener, MctpReqChannel, MctpRespChannel

PING = (1, False, 3, 42, b"hello")  # msg_type, ic, tag, remote EID, payload


def stack_with(*inbound, **kwargs):
    client = FakeClient(**kwargs)
    client.inbound.extend(inbound)
    return Stack(client), client


def error_code(call):
    with raises(MctpError) as caught:
        call()
    return caught.value.code


# openprot-mctp-api's eleven facade tests.


def test_get_set_eid():
    stack, _ = stack_with()
    assert stack.get_eid() == 8
    stack.set_eid(20)
    assert stack.get_eid() == 20


def test_set_eid_error_propagates():
    stack, client = stack_with()
    client.force_error = ResponseCode.INTERNAL_ERROR
    assert error_code(lambda: stack.set_eid(9)) == ResponseCode.INTERNAL_ERROR


def test_req_channel_send_then_recv():
    stack, client = stack_with(PING)
    ch = stack.req(42, 0)
    assert ch.remote_eid() == 42
    ch.send(1, b"ping")
    assert client.sent == [(1, 1, None, None, False, b"ping")]
    buf = bytearray(32)
    meta, payload = ch.recv(buf)
    assert meta.remote_eid == 42
    assert payload == b"hello"


def test_req_channel_recv_before_send_is_bad_argument():
    stack, _ = stack_with(PING)
    ch = stack.req(42, 0)
    assert error_code(lambda: ch.recv(bytearray(32))) == ResponseCode.BAD_ARGUMENT


def test_req_channel_double_send_is_bad_argument():
    stack, client = stack_with()
    ch = stack.req(42, 0)
    ch.send(1, b"first")
    assert error_code(lambda: ch.send(1, b"second")) == ResponseCode.BAD_ARGUMENT
    assert len(client.sent) == 1


def test_req_channel_close_releases_handle():
    stack, client = stack_with()
    ch = stack.req(10, 0)
    ch.close()
    assert client.drop_count == 1
    assert not client.live


def test_req_error_propagates():
    stack, client = stack_with()
    client.force_error = ResponseCode.NO_SPACE
    assert error_code(lambda: stack.req(10, 0)) == ResponseCode.NO_SPACE


def test_listener_recv_gives_payload_and_response_channel():
    stack, _ = stack_with(PING)
    listener = stack.listener(1, 0)
    meta, payload, resp = listener.recv(bytearray(32))
    assert meta.msg_type == 1
    assert meta.remote_eid == 42
    assert payload == b"hello"
    assert resp.remote_eid() == 42


def test_response_channel_send():
    stack, client = stack_with(PING)
    listener = stack.listener(1, 0)
    _, _, resp = listener.recv(bytearray(32))
    resp.send(b"pong")
    # A response: no handle, to the requester's EID, same type and tag.
    assert client.sent == [(None, 1, 42, 3, False, b"pong")]


def test_listener_error_propagates():
    stack, client = stack_with()
    client.force_error = ResponseCode.TIMED_OUT
    assert error_code(lambda: stack.listener(1, 0)) == ResponseCode.TIMED_OUT


def test_listener_close_releases_handle():
    stack, client = stack_with()
    listener = stack.listener(1, 0)
    listener.close()
    assert client.drop_count == 1
    assert not client.live


# Handle release.


def test_channels_release_their_handle_as_context_managers():
    stack, client = stack_with()
    with stack.req(9, 100) as ch:
        assert not ch.closed
    assert ch.closed
    with stack.listener(1) as listener:
        pass
    assert listener.closed
    assert client.drop_count == 2
    assert not client.live


def test_context_manager_releases_the_handle_when_the_body_raises():
    stack, client = stack_with()
    with raises(RuntimeError):
        with stack.req(9) as ch:
            raise RuntimeError("application failure")
    assert ch.closed
    assert not client.live


def test_double_close_is_harmless():
    stack, client = stack_with()
    ch = stack.req(9)
    ch.close()
    ch.close()
    with stack.listener(1) as listener:
        listener.close()
    assert client.drop_count == 2


def test_a_closed_channel_refuses_use():
    stack, client = stack_with(PING)
    ch = stack.req(42)
    ch.close()
    assert error_code(lambda: ch.send(1, b"x")) == ResponseCode.BAD_ARGUMENT
    listener = stack.listener(1)
    listener.close()
    assert error_code(lambda: listener.recv(bytearray(8))) == ResponseCode.BAD_ARGUMENT
    assert client.sent == []
    assert client.inbound == [PING]


def test_channels_implement_the_contract_interfaces():
    stack, _ = stack_with(PING)
    listener = stack.listener(1)
    _, _, resp = listener.recv()
    assert isinstance(stack.req(9), MctpReqChannel)
    assert isinstance(listener, MctpListener)
    assert isinstance(resp, MctpRespChannel)


# Timeouts.


def test_timeouts_reach_the_client_and_can_be_changed():
    stack, client = stack_with(PING, PING)
    listener = stack.listener(1, 250)
    handle = client.next_handle - 1
    listener.recv(bytearray(8))
    assert (client.last_recv_handle, client.last_recv_timeout) == (handle, 250)
    listener.set_timeout(0)
    listener.recv(bytearray(8))
    assert (client.last_recv_handle, client.last_recv_timeout) == (handle, 0)


def test_negative_or_oversized_timeout_is_refused():
    stack, client = stack_with()
    for bad in (-1, 1 << 32):
        with raises(ValueError):
            stack.req(9, bad)
        with raises(ValueError):
            stack.listener(1, bad)
    assert not client.live
    listener = stack.listener(1)
    with raises(ValueError):
        listener.set_timeout(-5)


def test_recv_may_be_retried_after_a_timeout():
    stack, client = stack_with()
    ch = stack.req(42, 50)
    ch.send(1, b"ping")
    with raises(MctpError) as caught:
        ch.recv(bytearray(32))
    assert caught.value.is_timeout()
    client.inbound.append(PING)
    _, payload = ch.recv(bytearray(32))
    assert payload == b"hello"
    # The exchange is complete: the channel takes the next request.
    ch.send(1, b"again")
    assert len(client.sent) == 2


def test_a_send_after_a_failed_recv_abandons_the_old_request():
    stack, client = stack_with(send_tag=3)
    ch = stack.req(42, 50)
    ch.send(1, b"lost")
    with raises(MctpError):
        ch.recv(bytearray(32))
    ch.send(1, b"retry")  # allowed: the first request was given up
    assert error_code(lambda: ch.send(1, b"third")) == ResponseCode.BAD_ARGUMENT
    client.inbound.append(PING)
    assert ch.recv()[1] == b"hello"
    assert [s[5] for s in client.sent] == [b"lost", b"retry"]


# Receive forms.


def test_recv_without_a_buffer_returns_bytes():
    stack, _ = stack_with(PING)
    meta, payload, _ = stack.listener(1).recv()
    assert payload == b"hello"
    assert isinstance(payload, bytes)
    assert meta.payload_size == 5


def test_recv_with_a_buffer_returns_a_view_of_it():
    stack, _ = stack_with(PING)
    buf = bytearray(16)
    _, payload, _ = stack.listener(1).recv(buf)
    assert len(payload) == 5
    buf[0] = ord("j")
    assert bytes(payload) == b"jello"


def test_too_small_buffer_reports_the_size_and_keeps_the_message():
    stack, client = stack_with(PING)
    listener = stack.listener(1)
    with raises(MctpError) as caught:
        listener.recv(bytearray(2))
    assert caught.value.code == ResponseCode.NO_SPACE
    assert caught.value.size == 5
    _, payload, _ = listener.recv(bytearray(caught.value.size))
    assert payload == b"hello"
    assert client.inbound == []


def test_recv_into_reuses_metadata_and_response_channel():
    stack, client = stack_with(PING, (1, True, 6, 77, b"second"))
    listener = stack.listener(1)
    meta = RecvMetadata()
    resp = listener.resp_channel()
    buf = bytearray(64)
    assert listener.recv_into(buf, meta, resp) == 5
    assert meta == RecvMetadata(1, False, 3, 42, 5)
    assert (resp.remote_eid(), resp.msg_type, resp.tag) == (42, 1, 3)
    resp.send(b"r1")
    assert listener.recv_into(buf, meta, resp) == 6
    assert meta == RecvMetadata(1, True, 6, 77, 6)
    assert bytes(buf[:6]) == b"second"
    resp.send(b"r2")
    assert client.sent == [(None, 1, 42, 3, False, b"r1"), (None, 1, 77, 6, False, b"r2")]


def test_req_recv_into_allocates_nothing():
    stack, client = stack_with(send_tag=3)
    ch = stack.req(42, 10)
    meta = RecvMetadata()
    buf = bytearray(64)
    request = b"ping"
    sizes = [0, 0]
    # Warm up once, then run a whole exchange with the heap locked. FakeClient allocates when
    # it records the send, so the locked part is the facade's own receive path.
    for i in range(2):
        ch.send(1, request)
        client.inbound.append(PING)
        if i:
            with heap_locked():
                sizes[i] = ch.recv_into(buf, meta)
        else:
            sizes[i] = ch.recv_into(buf, meta)
    assert sizes == [5, 5]
    assert meta == RecvMetadata(1, False, 3, 42, 5)


# Checks the Rust facade lacked (defect 8 of openprot-mctp-api).


def test_response_from_another_eid_is_refused():
    stack, _ = stack_with((1, False, 3, 99, b"spoof"))
    ch = stack.req(42)
    ch.send(1, b"ping")
    assert error_code(lambda: ch.recv(bytearray(32))) == ResponseCode.INTERNAL_ERROR


def test_response_with_another_tag_is_refused():
    stack, _ = stack_with((1, False, 5, 42, b"stale"), send_tag=3)
    ch = stack.req(42)
    ch.send(1, b"ping")
    assert error_code(lambda: ch.recv(bytearray(32))) == ResponseCode.INTERNAL_ERROR


def test_response_channel_refuses_an_invalid_tag_or_eid():
    stack, client = stack_with()
    resp = stack.listener(1).resp_channel()
    resp.bind(RecvMetadata(1, False, 8, 42, 0))
    assert error_code(lambda: resp.send(b"x")) == ResponseCode.BAD_ARGUMENT
    for eid in (1, 7, 255):
        resp.bind(RecvMetadata(1, False, 3, eid, 0))
        assert error_code(lambda: resp.send(b"x")) == ResponseCode.BAD_ARGUMENT
    assert client.sent == []
    resp.bind(RecvMetadata(1, False, 3, 0, 0))  # a requester without an EID yet
    resp.send(b"ok")
    assert client.sent == [(None, 1, 0, 3, False, b"ok")]
