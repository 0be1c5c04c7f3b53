# DirectClient (mctp.server.direct), the in-process client: a receive into a buffer too small or
# one that shrinks while it waits, the contract's three-argument receive, a response code it
# does not know, and no wire codec loaded in a process that uses only it. Time is a FakeClock.

from endpoints import inject, lone_server, network
from test_server import SOM_EOM, TO, at_baseline
from testing import raises

from mctp import Handle, RecvMetadata, ops
from mctp.errors import MctpError, ResponseCode
from mctp.server import DirectClient
from mctp.server.server import Connection


def test_too_small_buffer_through_direct_client():
    a, b = network(2)
    listener = a.client.listener(1)
    b.client.send(b.client.req(8), 1, None, None, False, b"0123456789")
    a.server.poll()
    meta = RecvMetadata()
    with raises(MctpError) as caught:
        a.client.recv(listener, 100, bytearray(4), meta)
    assert caught.value.code == ResponseCode.NO_SPACE
    assert caught.value.size == 10
    buf = bytearray(caught.value.size)
    a.client.recv(listener, 100, buf, meta)
    assert meta.payload_size == 10
    assert bytes(buf) == b"0123456789"
    assert at_baseline(a.server)


def test_the_contracts_three_argument_recv_returns_new_metadata():
    # recv(handle, timeout, buf) as in openprot-mctp-api; passing a RecvMetadata allocates none.
    server, _clock = lone_server()
    client = DirectClient(server)
    handle = client.listener(1)
    inject(server.core, 9, 0xC0 | 0x08 | 2, b"\x01hi")
    buf = bytearray(8)
    meta = client.recv(handle, 0, buf)
    assert (meta.msg_type, meta.remote_eid, meta.msg_tag, meta.payload_size) == (1, 9, 2, 2)
    assert buf[:2] == b"hi"


def test_a_buffer_that_refuses_the_message_fails_its_receive_at_once_and_keeps_the_message():
    # The buffer passed the checks, then shrank while its receive waited (an idle hook, or
    # another task, cut it): the copy fails inside the server. The caller gets that error at
    # once, not a timeout later, and the message stays queued for the next receive.
    server, clock = lone_server()
    buf = bytearray(16)

    def idle():
        if len(buf) == 16:
            buf[4:] = b""
            inject(server.core, 9, SOM_EOM | TO | 1, b"\x01" + b"0123456789")
        clock.advance(10)

    client = DirectClient(server, idle=idle)
    listener = client.listener(1)
    started = clock()
    with raises(MctpError) as caught:
        client.recv(listener, 100, buf, RecvMetadata())
    assert (caught.value.code, clock() - started) == (ResponseCode.BAD_ARGUMENT, 10)
    assert caught.value.detail == (
        "the message could not be written into the receive buffer (it holds 4 bytes now, the"
        " message is 10); it stays queued"
    )
    assert server.core.counters.internal_error == 0 and server.queued(listener.value) == 1
    meta = client.recv(listener, 100, bytearray(16))
    assert meta.payload_size == 10
    client.drop_handle(listener)
    assert at_baseline(server) and server.check() == []


def test_the_in_process_server_loads_no_wire_codec():
    # A board whose services use the stack in process (Stack, DirectClient, Server) keeps the
    # IPC codec out of its RAM: the server speaks in Calls, and the wire adapter that decodes
    # requests into them lives in mctp.ipc. (Imported afresh, then the modules put back.)
    import sys  # noqa: PLC0415

    from testing import IS_MICROPYTHON, skip  # noqa: PLC0415

    if IS_MICROPYTHON and sys.platform != "linux":
        skip("imports the package a second time: the unix port's heap, not a board's")
    ours = [name for name in sys.modules if name == "mctp" or name.startswith("mctp.")]
    saved = {name: sys.modules.pop(name) for name in ours}
    try:
        from mctp import config, core, server  # noqa: PLC0415

        # (The Stack facade came with the package.)
        server.DirectClient(server.Server(core.Core(config.Config(), 8)))
        loaded = [name for name in sys.modules if name.startswith("mctp.")]
    finally:
        for name in [name for name in sys.modules if name == "mctp" or name.startswith("mctp.")]:
            del sys.modules[name]
        sys.modules.update(saved)
    assert "mctp.server.direct" in loaded and "mctp.stack" in loaded
    assert "mctp.wire" not in loaded and "mctp.ipc" not in loaded


# A response code DirectClient does not know.


class OddServer:
    """Answers every call with response code 9, which the contract does not define. A RECV
    is answered later, from poll(), the way a pending receive is."""

    def __init__(self):
        self.waiting = None

    def connect(self, wire=True):
        return Connection(wire)

    def explain(self, conn):
        return None

    def serve(self, conn, call):
        conn.ready = False
        if call.op == ops.OP_RECV:
            self.waiting = conn
            return False
        self._answer(conn)
        return True

    def send_refused(self, conn, call):
        # A send's first step (DirectClient sends in Server's three steps): answered here.
        return self.serve(conn, call)

    def poll(self):
        if self.waiting is not None:
            self._answer(self.waiting)
            self.waiting = None

    def _answer(self, conn):
        conn.code = 9
        conn.size = 0
        conn.ready = True


def _no_wait():
    pass


def test_direct_client_reports_an_unknown_response_code_as_internal_error():
    client = DirectClient(OddServer(), idle=_no_wait)
    calls = (
        client.get_eid,
        lambda: client.set_eid(9),
        lambda: client.req(9),
        lambda: client.listener(1),
        lambda: client.send(Handle(1), 1, None, None, False, b"x"),
        lambda: client.drop_handle(Handle(1)),
        lambda: client.recv(Handle(1), 100, bytearray(8), RecvMetadata()),
    )
    for call in calls:
        with raises(MctpError) as caught:
            call()
        assert caught.value.code == ResponseCode.INTERNAL_ERROR
        assert str(caught.value) == "MCTP error: internal error"
