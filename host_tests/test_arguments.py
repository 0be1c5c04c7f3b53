# The API's refusals, on both interpreters: a receive buffer must take bytes and a payload must
# be bytes on every client (MicroPython would write into a bytes constant and send a str as
# UTF-8), and every refusal of the facade's, the channels' and the clients' public methods
# names its argument, the value and the limit, before anything is written or sent.

import asyncio

from endpoints import inject, lone_server, network
from testing import IS_MICROPYTHON, needs_socket, raises

from mctp import MctpError, RecvMetadata, Stack
from mctp.aio import AsyncStack, StackTask
from mctp.api import Handle
from mctp.host.serial_pipe import SerialPipe
from mctp.ipc import StreamClient, StreamService
from mctp.server import DirectClient

TO = 0x08
WRITABLE = "buf must be a bytearray or a writable memoryview (received bytes go there), got "
PAYLOAD = "payload must be bytes, a bytearray or a memoryview, got "


class StreamRig:
    """A StreamClient served by a StreamService of `server` over a pipe in memory."""

    def __init__(self, server):
        self.server = server
        self.service = StreamService(server)
        pipe = SerialPipe()
        self.service.add(pipe.b)
        self.client = StreamClient(pipe.a, idle=self.idle)

    def idle(self):
        self.service.poll()
        self.server.poll()


def refused(call, exc_type):
    """What `call()` raised: an `exc_type`, or the test fails."""
    with raises(exc_type) as caught:
        call()
    return caught.value


def words(call, exc_type=MctpError):
    """The words of the refusal `call()` raised: an MctpError's detail, another's text."""
    error = refused(call, exc_type)
    return error.detail if exc_type is MctpError else str(error)


def run_async(coroutine):
    try:
        return asyncio.run(coroutine)
    finally:
        if IS_MICROPYTHON:
            asyncio.new_event_loop()  # (MicroPython keeps one loop across asyncio.run calls)


def check_buffers(client, server, listener):
    # A message waits for `listener`: a receive into bytes or a read-only view is refused,
    # writes nothing and leaves it queued; a str payload is refused and nothing is sent.
    constant = b"ABCDEFGH"
    meta = RecvMetadata()
    error = refused(lambda: client.recv(listener, 100, constant, meta), TypeError)
    assert str(error) == WRITABLE + "bytes b'ABCDEFGH'"
    assert constant == b"ABCDEFGH" and bytes(b"ABCDEFGH") == constant
    view = memoryview(b"abcdefgh")
    error = refused(lambda: client.recv(listener, 100, view, meta), TypeError)
    assert str(error) == WRITABLE + "a read-only memoryview"
    assert bytes(view) == b"abcdefgh" and server.queued(listener.value) == 1
    sent = server.core.counters.tx_messages
    request = client.req(9)
    error = refused(lambda: client.send(request, 1, None, None, False, "text"), TypeError)
    assert str(error) == PAYLOAD + "str 'text'"
    assert server.core.counters.tx_messages == sent
    # What a receive takes: a bytearray, or a writable view of one.
    into = bytearray(16)
    client.recv(listener, 100, memoryview(into)[2:], meta)
    assert bytes(into[2:7]) == b"hello" and meta.payload_size == 5
    client.drop_handle(request)
    client.drop_handle(listener)
    assert server.check() == [] and server.handles_in_use() == 0


def test_a_receive_buffer_must_take_bytes_and_a_payload_be_bytes_on_every_client():
    a, _b = network(2)
    listener = a.client.listener(1)
    inject(a.core, 9, 0xC0 | TO, b"\x01hello")
    check_buffers(a.client, a.server, listener)

    rig = StreamRig(a.server)
    listener = rig.client.listener(1)
    inject(a.core, 9, 0xC0 | TO, b"\x01hello")
    check_buffers(rig.client, a.server, listener)

    task = StackTask(a.server)
    stack = AsyncStack(task)
    with stack.listener(1) as async_listener:
        inject(a.core, 9, 0xC0 | TO, b"\x01hello")
        meta = RecvMetadata()
        error = refused(lambda: run_async(async_listener.recv_into(b"ABCDEFGH", meta)), TypeError)
        assert str(error) == WRITABLE + "bytes b'ABCDEFGH'"
        assert run_async(async_listener.recv_into(bytearray(8), meta)) == 5
    with stack.req(9) as channel:
        error = refused(lambda: channel.send(1, "text"), TypeError)
        assert str(error) == PAYLOAD + "str 'text'"


def test_the_kernels_client_refuses_them_too():
    # Before it looks at the handle or opens a socket.
    needs_socket()
    from mctp.linux import SocketClient  # noqa: PLC0415 (imports socket: hosts only)

    kernel = SocketClient()
    error = refused(lambda: kernel.recv(Handle(1), 0, b"ABCDEFGH"), TypeError)
    assert str(error) == WRITABLE + "bytes b'ABCDEFGH'"
    error = refused(lambda: kernel.send(None, 1, 9, 0, False, "text"), TypeError)
    assert str(error) == PAYLOAD + "str 'text'"
    kernel.close()


def test_every_refusal_of_the_facade_and_its_channels_names_argument_value_and_limit():
    a, _b = network(2)
    stack = Stack(a.client)
    value = "eid must be an int, got str 'a'"
    assert words(lambda: stack.set_eid("a"), TypeError) == value
    assert words(lambda: stack.set_eid(300), ValueError) == "eid must be 0..255, got 300"
    assert words(lambda: stack.set_eid(5)) == (
        "EID 5 cannot be this endpoint's: an endpoint's EID is 8..254"
    )
    timeout = "timeout_ms (0: wait forever) must be "
    assert words(lambda: stack.req(9, None), TypeError) == timeout + "an int, got None"
    assert words(lambda: stack.req(9, 1.5), TypeError) == timeout + "an int, got 1.5"
    assert words(lambda: stack.listener(1, -1), ValueError) == (
        timeout + "0..4294967295 (a u32), got -1"
    )
    assert words(lambda: stack.req("a"), TypeError) == value
    assert words(lambda: stack.req(3)) == "EID 3 is reserved (1..7) or broadcast (255)"
    assert words(lambda: stack.listener(200)) == "message type 200 is more than 7 bits (0..127)"
    assert words(lambda: stack.listener(-1), ValueError) == "msg_type must be 0..255, got -1"

    channel = stack.req(9, 100)
    assert words(lambda: channel.set_timeout(None), TypeError) == timeout + "an int, got None"
    assert words(channel.recv) == (
        "no request in flight on this channel: send one before receiving"
    )
    assert words(lambda: channel.send(1, bytes(2000))) == (
        "a payload of 2000 bytes is more than the contract's limit of 1023"
    )
    assert words(lambda: channel.send(1, b"x", length=5), ValueError) == (
        "length must be 0..1 (the payload's size), got 5"
    )
    assert words(lambda: channel.send(1, b"x", length="1"), TypeError) == (
        "length must be an int, got str '1'"
    )
    assert words(lambda: channel.send(200, b"x")) == (
        "message type 200 is more than 7 bits (0..127)"
    )
    channel.send(1, b"x")
    assert words(lambda: channel.send(1, b"y")) == (
        "a request is in flight on this channel: receive its response first (one request at"
        " a time; a receive that fails gives it up)"
    )
    channel.close()
    assert words(lambda: channel.send(1, b"x")) == "the channel is closed"
    assert words(channel.recv) == "the channel is closed"

    listener = stack.listener(1)
    buf = bytearray(8)
    assert words(lambda: listener.recv_into(buf, None), TypeError) == (
        "meta must be a RecvMetadata, got None"
    )
    assert words(lambda: listener.recv_into(buf, RecvMetadata(), "resp"), TypeError) == (
        "resp must be a response channel (listener.resp_channel()) or None, got str"
    )
    resp = listener.resp_channel()
    resp.bind(RecvMetadata(1, False, 8, 42, 0))
    assert words(lambda: resp.send(b"x")) == (
        "a response goes to a requester's EID (0 or 8..254) with its tag (0..7), got EID 42"
        " and tag 8: bind the channel to a request (listener.recv_into(buf, meta, resp))"
    )
    listener.close()
    assert words(listener.recv) == "the channel is closed"
    assert a.server.check() == [] and a.server.handles_in_use() == 0


def test_every_refusal_of_a_client_names_argument_value_and_limit():
    server, _clock = lone_server(eid=8)
    server.core.config.max_payload = server.max_payload = 64  # a stack with a lower limit
    stream = StreamRig(server).client
    for client in (DirectClient(server), stream):
        handle = client.req(9)
        listener = client.listener(1)
        assert words(lambda: client.recv(5, 0, bytearray(8)), TypeError) == (
            "handle must be a Handle (from req() or listener()), got 5"
        )
        assert words(lambda: client.drop_handle(None), TypeError) == (
            "handle must be a Handle (from req() or listener()), got None"
        )
        assert words(lambda: client.recv(listener, 0, bytearray(8), "meta"), TypeError) == (
            "meta must be a RecvMetadata, got str 'meta'"
        )
        assert words(lambda: client.recv(listener, -1, bytearray(8)), ValueError) == (
            "timeout_ms must be 0..4294967295 (a u32), got -1"
        )
        assert words(lambda: client.send(handle, 1, None, 256, False, b"x"), ValueError) == (
            "tag must be 0..255, got 256"
        )
        assert words(lambda: client.send(None, 1, None, None, False, bytes(1024))) == (
            "a payload of 1024 bytes is more than the contract's limit of 1023"
        )
        assert refused(lambda: client.send(handle, 1, None, None, False, bytes(65)), MctpError)
        client.drop_handle(handle)
        client.drop_handle(listener)
    # The server's own refusals, in words, to an in-process client.
    client = DirectClient(server)
    handle, listener = client.req(9), client.listener(1)
    refusals = (
        (handle, 1, None, None, bytes(65)),
        (listener, 1, None, None, b"x"),
        (handle, 1, 10, None, b"x"),
        (None, 1, None, 3, b"x"),
        (None, 1, 9, 8, b"x"),
    )
    found = [words(lambda: client.send(h, t, e, g, False, p)) for h, t, e, g, p in refusals]
    client.drop_handle(handle)
    found.append(words(lambda: client.send(handle, 1, None, None, False, b"x")))
    assert found == [
        "a payload of 65 bytes is more than the stack's limit of 64 (Config.max_payload)",
        "handle 0x%x is a listener: a response goes with handle None, the EID and the tag"
        % listener.value,
        (
            "a request handle sends to its own EID (9) with a tag the stack picks: pass eid"
            " None (or its EID) and tag None, got eid 10 and tag None"
        ),
        "a response needs an EID (0 or 8..254) and a tag (0..7), got eid None and tag 3",
        "a response needs an EID (0 or 8..254) and a tag (0..7), got eid 9 and tag 8",
        "handle 0x%x is stale (released, or reused since)" % handle.value,
    ]
    client.drop_handle(listener)
    assert server.check() == [] and server.handles_in_use() == 0
