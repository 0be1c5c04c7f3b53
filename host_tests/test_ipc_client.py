# StreamClient (mctp.ipc.client) over a byte stream to a StreamService: the Stack facade
# unchanged on top, the same errors and words as DirectClient, no hang on a dead stream, stray
# frames dropped, a restarted server answered SERVER_RESTARTED and a new stream reattached. Time
# is a FakeClock moved by the clients' idle.

from endpoints import pattern
from test_ipc_framing import GET_EID, feed_all, frame
from test_ipc_service import Rig
from testing import raises

from mctp import Stack
from mctp.errors import MctpError, ResponseCode
from mctp.host.serial_pipe import SerialPipe
from mctp.ipc import StreamClient
from mctp.ipc.framing import KIND_CANCEL, KIND_DETAIL, KIND_REQUEST, KIND_RESPONSE, Deframer
from mctp.server import DirectClient, Server


def test_get_and_set_eid():
    rig = Rig()
    client, _ = rig.client()
    assert client.get_eid() == 9
    client.set_eid(20)
    assert client.get_eid() == 20 and rig.b.core.eid == 20
    with raises(MctpError) as caught:
        client.set_eid(5)
    assert caught.value.code == ResponseCode.BAD_ARGUMENT


def test_echo_1k_through_the_facade():
    rig = Rig()
    client, _ = rig.client()
    stack = Stack(client)
    payload = pattern(1023)
    with rig.a.stack.listener(1, 1000) as listener:
        with stack.req(8, 1000) as ch:
            ch.send(1, payload)
            meta, got, resp = listener.recv()
            assert meta.remote_eid == 9 and got == payload
            resp.send(got)
            meta, answer = ch.recv()
            assert answer == payload and meta.remote_eid == 8
    assert rig.b.server.handles_in_use() == 0


def test_listener_over_the_stream_answers():
    rig = Rig()
    client, _ = rig.client()
    stack = Stack(client)
    with stack.listener(5, 1000) as listener:
        with rig.a.stack.req(9, 1000) as ch:
            ch.send(5, b"ping")
            meta, got, resp = listener.recv()
            assert (meta.remote_eid, got) == (8, b"ping")
            resp.send(b"pong")
            assert ch.recv()[1] == b"pong"


def test_errors_are_those_of_direct_client():
    rig = Rig()
    client, _ = rig.client()
    stack = Stack(client)
    with stack.listener(1) as one:
        with raises(MctpError) as caught:
            stack.listener(1)
        assert caught.value.code == ResponseCode.ADDR_IN_USE
        with raises(MctpError) as caught:
            client.send(None, 1, 8, 0, False, bytes(1024))
        assert caught.value.code == ResponseCode.NO_SPACE
        # A receive times out at the server, after its own timeout.
        with raises(MctpError) as caught:
            client.recv(one.handle, 50, bytearray(10))
        assert caught.value.is_timeout()
        # A message larger than the buffer: NO_SPACE with its size, and it stays queued.
        with rig.a.stack.req(9, 1000) as ch:
            ch.send(1, pattern(300))
            with raises(MctpError) as caught:
                client.recv(one.handle, 1000, bytearray(10))
            assert caught.value.code == ResponseCode.NO_SPACE and caught.value.size == 300
            buf = bytearray(1023)
            meta = client.recv(one.handle, 1000, buf)
            assert bytes(buf[: meta.payload_size]) == pattern(300)


def test_dead_stream_is_an_error_not_a_hang():
    rig = Rig()
    pipe = SerialPipe()  # nobody serves the other end

    def idle():
        rig.clock.advance(1)

    client = StreamClient(pipe.a, timeout_ms=500, idle=idle, clock=rig.clock)
    start = rig.clock()
    with raises(MctpError) as caught:
        client.get_eid()
    assert caught.value.code == ResponseCode.INTERNAL_ERROR
    assert "500" in str(caught.value)
    assert rig.clock() - start == 500


def test_garbage_and_stray_frames_around_answers():
    rig = Rig()
    client, pipe = rig.client()
    # Garbage towards the service and towards the client, then a stray response frame with
    # the wrong sequence number: all dropped, the next call still answered.
    pipe.a.write(b"\x00\xa5\x4dnoise", 0, 8)
    pipe.b.write(b"\xa5\x4d\x02\x07junk", 0, 8)
    stray = frame(KIND_RESPONSE, 77, bytes(12))
    pipe.b.write(stray, 0, len(stray))
    cancel = frame(KIND_CANCEL, 3, b"")
    pipe.a.write(cancel, 0, len(cancel))
    assert client.get_eid() == 9
    assert client.stale == 1
    assert client.deframer.garbage > 0
    peer = rig.service.peer(pipe.b)
    assert peer.deframer.garbage > 0 and peer.cancels == 1
    # A damaged request is dropped at the service, counted; the next is answered.
    before = peer.bad_frames()
    bad = bytearray(frame(KIND_REQUEST, 200, GET_EID))
    bad[10] ^= 1
    pipe.a.write(bad, 0, len(bad))
    assert client.get_eid() == 9
    assert peer.bad_frames() == before + 1
    assert peer.requests == 2


def test_server_restart_answers_server_restarted_and_clients_reopen():
    rig = Rig()
    client, _ = rig.client()
    stack = Stack(client)
    old_epoch = rig.b.server.epoch
    ch = stack.req(8, 1000)
    listener = stack.listener(1, 1000)
    # The server restarts over the same core (a new epoch); the service serves the same
    # streams from it.
    new = Server(rig.b.core, old_epoch % 0xFFFF + 1)
    rig.b.server = new
    rig.a.others[0] = new.poll
    rig.service.restart(new)
    with raises(MctpError) as caught:
        ch.send(1, b"hello")
    assert caught.value.code == ResponseCode.SERVER_RESTARTED
    assert "restarted" in str(caught.value)
    with raises(MctpError) as caught:
        listener.recv()
    assert caught.value.code == ResponseCode.SERVER_RESTARTED
    # Closing the stale channels is a no-op; new ones work.
    ch.close()
    listener.close()
    assert new.handles_in_use() == 0
    with rig.a.stack.listener(1, 1000) as remote:
        with stack.req(8, 1000) as ch:
            ch.send(1, b"again")
            _meta, got, resp = remote.recv()
            resp.send(got)
            assert ch.recv()[1] == b"again"


def test_reconnect_over_a_new_stream():
    rig = Rig()
    client, pipe = rig.client()
    handle = client.req(8)
    # The old connection goes (its stream closed): its handle is released.
    rig.service.remove(pipe.b)
    assert rig.b.server.handles_in_use() == 0
    fresh = SerialPipe()
    rig.service.add(fresh.b)
    client.attach(fresh.a)
    with raises(MctpError) as caught:
        client.send(handle, 1, None, None, False, b"x")
    assert caught.value.code == ResponseCode.BAD_ARGUMENT  # stale: released at disconnect
    assert client.get_eid() == 9


def test_malformed_answer_is_internal_error():
    rig = Rig()
    pipe = SerialPipe()

    def idle():
        # A "server" that answers every request with a 3-byte message.
        d = Deframer()
        buf = bytearray(64)
        n = pipe.b.readinto(buf, 64)
        if n:
            feed_all(d, bytes(buf[:n]))
            answer = frame(KIND_RESPONSE, 1, b"abc")
            pipe.b.write(answer, 0, len(answer))
        rig.clock.advance(1)

    client = StreamClient(pipe.a, idle=idle, clock=rig.clock)
    with raises(MctpError) as caught:
        client.get_eid()
    assert caught.value.code == ResponseCode.INTERNAL_ERROR
    assert "malformed" in str(caught.value)


def _failure(call):
    try:
        call()
    except MctpError as error:
        return error
    raise AssertionError("no MctpError raised")


# Each makes one error with `client`, a client of endpoint b (EID 9) in `rig`; the error and
# the words the server has for it.


def _no_route(rig, client):
    with Stack(client).req(20, 1000) as ch:
        return _failure(lambda: ch.send(1, b"x")), "no route to EID 20"


def _stale_handle(rig, client):
    handle = client.req(8)
    client.drop_handle(handle)
    error = _failure(lambda: client.send(handle, 1, None, None, False, b"x"))
    return error, "handle 0x%x is stale (released, or reused since)" % handle.value


def _listener_taken(rig, client):
    with rig.b.stack.listener(3):  # the endpoint's own
        return _failure(lambda: client.listener(3)), "message type 3 already has a listener"


def _too_small(rig, client):
    listener = client.listener(1)
    with rig.a.stack.req(9, 1000) as ch:
        ch.send(1, pattern(300))
        error = _failure(lambda: client.recv(listener, 1000, bytearray(10)))
        buf = bytearray(300)  # still queued
        assert bytes(buf[: client.recv(listener, 1000, buf).payload_size]) == pattern(300)
    client.drop_handle(listener)
    return error, "the message needs a buffer of 300 bytes; it stays queued"


def _server_restarted(rig, client):
    handle = client.req(8)
    new = Server(rig.b.core, rig.b.server.epoch % 0xFFFF + 1)
    rig.b.server = new
    rig.a.others[0] = new.poll
    rig.service.restart(new)
    # A client of the new server (over the stream: the same connection, served anew).
    again = DirectClient(new, idle=rig.idle) if isinstance(client, DirectClient) else client
    error = _failure(lambda: again.send(handle, 1, None, None, False, b"x"))
    return error, "handle 0x%x is from before the server restarted" % handle.value


def _said_the_same_both_ways(make_error, code, text, size):
    # The error `make_error` makes through a DirectClient and through a StreamClient: the same
    # code, size and words. (One rig at a time, one error per test: a board's heap holds no
    # more.)
    import gc  # noqa: PLC0415

    for over_stream in (False, True):
        rig = Rig()
        client = rig.client()[0] if over_stream else DirectClient(rig.b.server, idle=rig.idle)
        error, words = make_error(rig, client)
        assert (error.code, error.size, error.detail) == (code, size, words)
        assert str(error) == "MCTP error: " + text + ": " + words
        if over_stream:
            assert dict(rig.service.counts())["details"] == 1
            assert rig.b.server.handles_in_use() == 0
            assert rig.b.server.check() == []
        rig = client = error = None
        gc.collect()


def test_no_route_over_the_stream_says_what_direct_client_says():
    _said_the_same_both_ways(_no_route, ResponseCode.BAD_ARGUMENT, "bad argument", 0)


def test_a_stale_handle_over_the_stream_says_what_direct_client_says():
    _said_the_same_both_ways(_stale_handle, ResponseCode.BAD_ARGUMENT, "bad argument", 0)


def test_a_taken_type_over_the_stream_says_what_direct_client_says():
    _said_the_same_both_ways(_listener_taken, ResponseCode.ADDR_IN_USE, "address in use", 0)


def test_a_small_buffer_over_the_stream_says_what_direct_client_says():
    _said_the_same_both_ways(_too_small, ResponseCode.NO_SPACE, "no space", 300)


def test_a_restart_over_the_stream_says_what_direct_client_says():
    _said_the_same_both_ways(
        _server_restarted, ResponseCode.SERVER_RESTARTED, "server restarted", 0
    )


def test_the_client_keeps_only_the_detail_of_the_awaited_answer():
    rig = Rig()
    client, pipe = rig.client()
    assert client.get_eid() == 9
    seq = client._seq + 1  # the next request's
    # Before it, towards the client: a detail for another request, one of a version it does
    # not know, a frame of a kind it does not know, and a detail of its own sequence number
    # that a successful answer leaves unused.
    for stray in (
        frame(KIND_DETAIL, seq + 1, b"\x01not yours"),
        frame(KIND_DETAIL, seq, b"\x02new words"),
        frame(9, seq, b"a kind to come"),
        frame(KIND_DETAIL, seq, b"\x01forged"),
    ):
        pipe.b.write(stray, 0, len(stray))
    assert client.get_eid() == 9
    assert client.stale == 3
    with raises(MctpError) as caught:
        client.set_eid(5)
    assert caught.value.detail == "EID 5 cannot be this endpoint's: an endpoint's EID is 8..254"


class _ClientWithoutDetails(StreamClient):
    """A StreamClient from before detail frames: every frame but the awaited response is
    dropped as stale, as that client did."""

    def _aside(self, d):
        self.stale += 1
        d.release()


def test_a_client_without_detail_frames_gets_its_answers_and_codes():
    rig = Rig()
    pipe = SerialPipe()
    rig.service.add(pipe.b)
    client = _ClientWithoutDetails(pipe.a, idle=rig.idle, clock=rig.clock)
    with raises(MctpError) as caught:
        client.set_eid(5)
    assert (caught.value.code, caught.value.detail) == (ResponseCode.BAD_ARGUMENT, None)
    assert client.stale == 1
    held = client.listener(3)
    with raises(MctpError) as caught:
        client.listener(3)
    assert caught.value.code == ResponseCode.ADDR_IN_USE
    assert client.stale == 2
    client.drop_handle(held)
    assert client.get_eid() == 9
    assert rig.service.peer(pipe.b).details == 2
    assert rig.b.server.handles_in_use() == 0
