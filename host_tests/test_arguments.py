# The API's refusals, on both interpreters: a receive buffer must take bytes and a payload must
# be bytes on every client (MicroPython would write into a bytes constant and send a str as
# UTF-8), and every refusal of the facade's, the channels' and the clients' public methods
# names its argument, the value and the limit, before anything is written or sent.

import asyncio

from endpoints import inject, lone_server, network
from testing import IS_MICROPYTHON, heap_locked, raises

from mctp import MctpError, RecvMetadata, ResponseCode, Stack
from mctp.aio import AsyncStack, StackTask
from mctp.api import Handle
from mctp.host.serial_pipe import SerialPipe
from mctp.ipc import StreamClient, StreamService
from mctp.linux import SocketClient
from mctp.server import DirectClient
from mctp.wire import check_payload, check_writable

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

    # The kernel's client refuses them before it looks at the handle or opens a socket.
    kernel = SocketClient()
    error = refused(lambda: kernel.recv(Handle(1), 0, b"ABCDEFGH"), TypeError)
    assert str(error) == WRITABLE + "bytes b'ABCDEFGH'"
    error = refused(lambda: kernel.send(None, 1, 9, 0, False, "text"), TypeError)
    assert str(error) == PAYLOAD + "str 'text'"
    kernel.close()


def test_the_buffer_checks_allocate_nothing_for_what_they_take():
    buf = bytearray(8)
    view = memoryview(buf)
    empty = memoryview(b"")  # nothing is ever written into it
    with heap_locked():
        check_writable(buf, "buf")
        check_writable(view, "buf")
        check_writable(empty, "buf")
        check_payload(b"x", "payload")
        check_payload(buf, "payload")
        check_payload(view, "payload")
    assert bytes(buf) == bytes(8)
