# mctp.ipc: the stream framing of the wire codec (golden bytes, resynchronisation, every bad
# frame counted), StreamClient over a byte stream (the Stack facade unchanged on top, the same
# errors as DirectClient, no hang on a dead stream) and StreamService serving several clients
# beside a server's links (own handles, another's handle refused, disconnect releases,
# a restarted server answers SERVER_RESTARTED). Time is a FakeClock moved by the clients' idle.

from endpoints import network, pattern
from testing import heap_locked, needs_socket, raises

from mctp import Stack
from mctp.errors import MctpError, ResponseCode
from mctp.host.serial_pipe import SerialPipe
from mctp.ipc import StreamClient, StreamService
from mctp.ipc.framing import (
    DETAIL_TEXT_MAX,
    FRAME_OVERHEAD,
    KIND_CANCEL,
    KIND_DETAIL,
    KIND_REQUEST,
    KIND_RESPONSE,
    MAX_FRAME,
    Deframer,
    decode_detail,
    encode_detail,
    encode_frame,
    fcs16,
    seal,
)
from mctp.server import DirectClient, Server
from mctp.ipc.service import CHUNK
from mctp.wire import MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE, encode_get_eid, encode_listener

GET_EID = bytes([1]) + bytes(11)
# A GET_EID request, sequence number 1, framed.
GOLDEN = bytes.fromhex("a5 4d 01 01 0c 00 e6 01 00 00 00 00 00 00 00 00 00 00 00 df 58")
# Its answer, EID 9.
GOLDEN_ANSWER = bytes.fromhex("a5 4d 02 01 0c 00 2b 00 00 00 09 00 00 00 00 00 00 00 00 2e 44")
# A detail frame for sequence number 1: version 1, then the words.
GOLDEN_DETAIL = bytes.fromhex(
    "a5 4d 04 01 13 00 e8 01 6e 6f 20 72 6f 75 74 65 20 74 6f 20 45 49 44 20 32 30 bd 7a"
)
# SET_EID 5, sequence number 1, and what the service answers: the detail, then the error
# response (BAD_ARGUMENT).
SET_EID_5 = bytes.fromhex("a5 4d 01 01 0c 00 e6 00 00 00 05 00 00 00 00 00 00 00 00 92 af")
SET_EID_5_ANSWER = bytes.fromhex(
    "a5 4d 04 01 3d 00 cb 01"
    "45 49 44 20 35 20 63 61 6e 6e 6f 74 20 62 65 20 74 68 69 73 20 65 6e 64 70 6f 69 6e 74 27"
    "73 3a 20 61 6e 20 65 6e 64 70 6f 69 6e 74 27 73 20 45 49 44 20 69 73 20 38 2e 2e 32 35 34"
    "06 f8"
    "a5 4d 02 01 0c 00 2b 05 00 00 00 00 00 00 00 00 00 00 00 3a f6"
)


def frame(kind, seq, msg):
    out = bytearray(len(msg) + FRAME_OVERHEAD)
    n = encode_frame(out, kind, seq, msg)
    return bytes(out[:n])


def feed_all(d, data):
    """Every frame `data` yields, as (kind, seq, message bytes)."""
    got = []
    off = 0
    while True:
        off += d.feed(data, off, len(data) - off)
        if not d.ready:
            return got
        got.append((d.kind, d.seq, bytes(d.msg[: d.length])))
        d.release()


# Framing.


def test_fcs_is_rfc1662_fcs16():
    # CRC-16/MCRF4XX (RFC 1662's FCS-16 without the final complement): check value 0x6F91.
    assert fcs16(b"123456789", 0, 9, 0xFFFF) == 0x6F91


def test_golden_frame():
    assert frame(KIND_REQUEST, 1, GET_EID) == GOLDEN
    out = bytearray(64)
    n = encode_get_eid(memoryview(out)[7:])
    assert bytes(out[: seal(out, KIND_REQUEST, 1, n)]) == GOLDEN
    d = Deframer()
    assert feed_all(d, GOLDEN) == [(KIND_REQUEST, 1, GET_EID)]
    assert d.frames == 1 and d.dropped() == 0 and d.garbage == 0
    assert frame(KIND_RESPONSE, 1, bytes([0, 0, 0, 9]) + bytes(8)) == GOLDEN_ANSWER


def _answered(request):
    # What a service writes, in one poll, for the framed `request`: (its bytes, the rig, the
    # pipe whose end `b` it serves).
    rig = Rig()
    pipe = SerialPipe()
    rig.service.add(pipe.b)
    pipe.a.write(request, 0, len(request))
    rig.service.poll()
    out = bytearray(256)
    n = pipe.a.readinto(out, 256)
    return bytes(out[:n]), rig, pipe


def test_golden_exchange_on_the_stream():
    # What the service writes for the golden request, byte for byte.
    assert _answered(GOLDEN)[0] == GOLDEN_ANSWER


def test_round_trips_whole_and_byte_by_byte():
    msgs = [b"", b"\xa5\x4d", pattern(1035), pattern(100, 3)]
    data = b""
    for i in range(len(msgs)):
        data += frame(KIND_RESPONSE, 250 + i, msgs[i])
    expected = [(KIND_RESPONSE, (250 + i) & 0xFF, msgs[i]) for i in range(len(msgs))]
    assert feed_all(Deframer(), data) == expected
    d = Deframer()
    got = []
    for i in range(len(data)):
        got += feed_all(d, data[i : i + 1])
    assert got == expected
    assert d.dropped() == 0 and d.garbage == 0


def test_garbage_between_frames_is_counted_and_skipped():
    one = frame(KIND_REQUEST, 1, b"one")
    two = frame(KIND_REQUEST, 2, b"two")
    noise = b"\x00\xff\xa5\xa5\x4d\x12garbage\xa5"
    d = Deframer()
    got = feed_all(d, noise + one + noise + two + noise)
    assert [m for _, _, m in got] == [b"one", b"two"]
    assert d.garbage > 0
    assert d.frames == 2


def test_flipped_bit_in_body_is_bad_fcs():
    bad = bytearray(frame(KIND_REQUEST, 1, pattern(40)))
    bad[20] ^= 0x10
    d = Deframer()
    got = feed_all(d, bytes(bad) + frame(KIND_REQUEST, 2, b"next"))
    assert got == [(KIND_REQUEST, 2, b"next")]
    assert d.bad_fcs == 1


def test_flipped_bit_in_length_is_bad_header():
    bad = bytearray(frame(KIND_REQUEST, 1, pattern(40)))
    bad[5] ^= 0x01  # the length's high byte: 296 bytes, were it believed
    d = Deframer()
    got = feed_all(d, bytes(bad) + frame(KIND_REQUEST, 2, b"next"))
    assert got == [(KIND_REQUEST, 2, b"next")]
    assert d.bad_header == 1


def test_truncated_frame_then_a_good_one():
    cut = frame(KIND_REQUEST, 1, pattern(200))[:60]
    good = frame(KIND_REQUEST, 2, pattern(30, 1))
    d = Deframer()
    # The good frames are first taken as the cut one's body (209 bytes): nothing comes out
    # until that is whole, then its FCS fails and the receiver finds the good frames in the
    # bytes it held, and goes on with the rest.
    assert feed_all(d, cut + good * 3) == []
    got = feed_all(d, good * 2)
    assert got == [(KIND_REQUEST, 2, pattern(30, 1))] * 5
    assert d.bad_fcs == 1


def test_oversized_length_is_refused():
    big = bytearray(MAX_FRAME + 20)
    n = seal(big, KIND_REQUEST, 1, MAX_REQUEST_SIZE + 1)  # a good header, a length too large
    d = Deframer(MAX_REQUEST_SIZE)
    got = feed_all(d, bytes(big[:n]) + frame(KIND_REQUEST, 2, b"ok"))
    assert got == [(KIND_REQUEST, 2, b"ok")]
    assert d.oversized == 1


# Clients and the service, in memory.


class Rig:
    """Endpoints a (EID 8, DirectClient) and b (EID 9) on a loopback bus; b's server also serves
    stream clients through a StreamService over SerialPipes."""

    def __init__(self):
        self.a, self.b = network(2)
        self.clock = self.a.clock
        self.service = StreamService(self.b.server)
        # a's waits run the service too (its requests may be answered by a stream client).
        self.a.others.append(self.poll_service)
        self.streams = []

    def poll_service(self):
        self.service.poll()

    def idle(self):
        # What runs while a stream client waits: the service, both servers, 1 ms of time.
        self.service.poll()
        self.b.server.poll()
        self.a.server.poll()
        self.clock.advance(1)

    def client(self):
        pipe = SerialPipe()
        self.service.add(pipe.b)
        self.streams.append(pipe.b)
        return StreamClient(pipe.a, idle=self.idle, clock=self.clock), pipe


def _buffers(*objects):
    # The bytearrays the objects' attributes hold, and their sizes.
    found = []
    for obj in objects:
        for value in obj.__dict__.values():
            if isinstance(value, bytearray):
                found.append(len(value))
    return sorted(found)


def test_a_connection_holds_its_frames_and_no_response_buffer():
    # RAM per IPC client: the answer is encoded (and a received payload lands) in the frame it
    # goes out in, so a connection holds its answer frame, its deframer's frame and its read
    # chunk, and its Connection no response buffer of its own (1,035 bytes each before).
    rig = Rig()
    client, pipe = rig.client()
    peer = rig.service.peer(pipe.b)
    frame = MAX_RESPONSE_SIZE + FRAME_OVERHEAD
    assert _buffers(peer, peer.conn, peer.deframer) == sorted((CHUNK, frame, frame))
    # A failed request's words still go before its response, in the same frame buffer (a
    # received payload's way is test_echo_1k_through_the_facade's).
    with raises(MctpError) as caught:
        client.req(7)
    assert caught.value.code == ResponseCode.BAD_ARGUMENT
    assert caught.value.detail == "EID 7 is reserved (1..7) or broadcast (255)"


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


def test_two_clients_own_handles_and_cannot_use_each_others():
    rig = Rig()
    c1, _ = rig.client()
    c2, _ = rig.client()
    baseline = rig.b.server.handles_in_use()
    h1 = c1.req(8)
    h2 = c2.req(8)
    l2 = c2.listener(7)
    assert h1 != h2
    assert rig.b.server.handles_in_use() == baseline + 3
    # c1 may neither use nor drop c2's handles.
    with raises(MctpError) as caught:
        c1.recv(l2, 10, bytearray(10))
    assert caught.value.code == ResponseCode.BAD_ARGUMENT
    with raises(MctpError) as caught:
        c1.send(h2, 1, None, None, False, b"x")
    assert caught.value.code == ResponseCode.BAD_ARGUMENT
    with raises(MctpError) as caught:
        c1.drop_handle(h2)
    assert caught.value.code == ResponseCode.BAD_ARGUMENT
    assert rig.b.server.handles_in_use() == baseline + 3
    # Each uses its own.
    assert c1.send(h1, 1, None, None, False, b"one") in range(8)
    assert c2.send(h2, 1, None, None, False, b"two") in range(8)
    c1.drop_handle(h1)
    c2.drop_handle(h2)
    c2.drop_handle(l2)
    assert rig.b.server.handles_in_use() == baseline


def test_disconnect_releases_handles_and_pending_receive():
    rig = Rig()
    keeper, _ = rig.client()
    gone, _ = rig.client()
    baseline = rig.b.server.handles_in_use()
    kept = keeper.listener(3)
    gone.req(8)
    gone.listener(4)
    listener = gone.listener(5)
    # A receive left pending at the server: the client stops waiting (its idle faults).
    calls = [0]

    def faulty_idle():
        rig.idle()
        calls[0] += 1
        if calls[0] == 5:
            raise KeyboardInterrupt

    gone._idle = faulty_idle
    try:
        gone.recv(listener, 0, bytearray(10))
    except KeyboardInterrupt:
        pass
    assert rig.b.server.handles_in_use() == baseline + 4
    rig.service.remove(rig.streams[1])
    assert rig.b.server.handles_in_use() == baseline + 1
    assert rig.b.server.pending_in_use() == 0
    assert rig.b.server.check() == []
    keeper.drop_handle(kept)
    assert rig.b.server.handles_in_use() == baseline


def test_abandoned_receive_is_withdrawn():
    rig = Rig()
    client, _ = rig.client()
    listener = client.listener(5)
    client.timeout_ms = 100

    def no_service():
        rig.clock.advance(1)

    # Nothing serves the stream for a while: the client gives up at the receive's timeout
    # plus its margin and sends a cancel after the request.
    client._idle = no_service
    start = rig.clock()
    with raises(MctpError) as caught:
        client.recv(listener, 50, bytearray(10))
    assert caught.value.code == ResponseCode.INTERNAL_ERROR
    assert rig.clock() - start == 150
    # Served again: the receive is taken and withdrawn, the connection free for the next call.
    client._idle = rig.idle
    assert client.get_eid() == 9
    assert rig.b.server.pending_in_use() == 0
    assert rig.service.peers[0].cancels == 1


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


def test_socket_pair_echo():
    needs_socket()
    from mctp.host.serial_stream import SerialStream, socket_pair  # noqa: PLC0415

    rig = Rig()
    one, other = socket_pair()
    try:
        rig.service.add(SerialStream(other))
        client = StreamClient(SerialStream(one), idle=rig.idle, clock=rig.clock)
        stack = Stack(client)
        payload = pattern(1023, 5)
        with rig.a.stack.listener(1, 1000) as listener:
            with stack.req(8, 1000) as ch:
                ch.send(1, payload)
                _meta, got, resp = listener.recv()
                resp.send(got)
                assert ch.recv()[1] == payload
    finally:
        one.close()
        other.close()


def test_socket_streams_see_a_client_go():
    needs_socket()
    from mctp.host.serial_stream import socket_pair  # noqa: PLC0415
    from mctp.host.ipc_sockets import SocketStream  # noqa: PLC0415

    rig = Rig()
    one, other = socket_pair()
    served = SocketStream(other)
    rig.service.add(served)
    client = StreamClient(SocketStream(one), idle=rig.idle, clock=rig.clock)
    client.req(8)
    client.listener(9)
    assert rig.b.server.handles_in_use() == 2
    # The client's process goes: its socket closes, the service sees the end of the stream.
    client.stream.close()
    for _ in range(3):
        rig.service.poll()
    assert rig.service.peers == []
    assert served.closed
    assert rig.b.server.handles_in_use() == 0
    # The client's calls on a closed stream fail at once.
    with raises(MctpError) as caught:
        client.get_eid()
    assert caught.value.code == ResponseCode.INTERNAL_ERROR
    assert "closed" in str(caught.value)


def test_unix_listener_serves_connecting_clients():
    needs_socket()
    import os  # noqa: PLC0415

    from mctp.host.ipc_sockets import Listener, connect_unix  # noqa: PLC0415

    rig = Rig()
    raw = os.urandom(4)
    path = "/tmp/mctp-ipc-%02x%02x%02x%02x.sock" % (raw[0], raw[1], raw[2], raw[3])
    listener = Listener.unix(path)
    try:

        def idle():
            listener.accept_into(rig.service)
            rig.idle()

        c1 = StreamClient(connect_unix(path), idle=idle, clock=rig.clock)
        c2 = StreamClient(connect_unix(path), idle=idle, clock=rig.clock)
        assert c1.get_eid() == 9 and c2.get_eid() == 9
        assert listener.accepted == 2 and len(rig.service.peers) == 2
        h = c1.req(8)
        with raises(MctpError) as caught:
            c2.drop_handle(h)
        assert caught.value.code == ResponseCode.BAD_ARGUMENT
        c1.stream.close()
        c2.stream.close()
        for _ in range(3):
            rig.service.poll()
        assert rig.service.peers == []
        assert rig.b.server.handles_in_use() == 0
    finally:
        listener.close()


def _unix_socket_path(what):
    import os  # noqa: PLC0415

    raw = os.urandom(4)
    return "/tmp/mctp-%s-%02x%02x%02x%02x.sock" % (what, raw[0], raw[1], raw[2], raw[3])


def test_unix_listener_takes_over_a_dead_servers_socket_but_never_a_live_one_or_a_file():
    needs_socket()
    import os  # noqa: PLC0415

    from mctp.host.ipc_sockets import Listener, connect_unix  # noqa: PLC0415

    path = _unix_socket_path("stale")
    dead = Listener.unix(path)
    dead.sock.close()  # as a killed server: its socket file stays behind
    assert os.stat(path)
    live = Listener.unix(path)  # the file of nobody is removed and the path bound again
    try:
        with raises(OSError):
            Listener.unix(path)  # a live server's: refused, and it keeps its path
        connect_unix(path).close()  # the path is still the live server's
    finally:
        live.close()
    with open(path, "w") as f:
        f.write("not a socket")
    try:
        with raises(OSError):
            Listener.unix(path)
        with open(path) as f:
            assert f.read() == "not a socket"
    finally:
        os.remove(path)


# A real second process: the stack (two endpoints on a loopback bus, EID 8 an echo service,
# EID 9 served over a UNIX socket) runs under the MicroPython unix port (CPython when there is
# none); this process is its client. CPython only (subprocess).

_CHILD = """
import sys
sys.path.insert(0, %(root)r)
sys.path.insert(0, %(root)r + "/host_tests")
from endpoints import network
from mctp._compat import sleep_ms, ticks_ms
from mctp.api import RecvMetadata
from mctp.ipc import StreamService
from mctp.host.ipc_sockets import Listener
from mctp.server import Server
a, b = network(2, clock=ticks_ms)
b.server = Server(b.core, %(epoch)d)
service = StreamService(b.server)
listener = Listener.unix(%(path)r)
echo = a.stack.listener(1)
resp = echo.resp_channel()
meta = RecvMetadata()
buf = bytearray(1023)
print("ready", b.server.epoch)
while True:
    a.server.poll()
    b.server.poll()
    listener.accept_into(service)
    service.poll()
    if a.server.queued(echo.handle.value):
        resp.send(buf, False, echo.recv_into(buf, meta, resp))
    sleep_ms(1)
"""


class _Child:
    def __init__(self, path, epoch):
        import os  # noqa: PLC0415
        import subprocess  # noqa: PLC0415
        import sys  # noqa: PLC0415

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        mp = os.path.join(root, ".venv", "bin", "micropython")
        interpreter = mp if os.path.exists(mp) else sys.executable
        code = _CHILD % {"root": root, "path": path, "epoch": epoch}
        self.process = subprocess.Popen(
            [interpreter, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        import select  # noqa: PLC0415

        if not select.select([self.process.stdout], [], [], 20)[0]:
            self.stop()
            raise AssertionError("the server process did not start")
        line = self.process.stdout.readline()
        assert line.startswith("ready"), line + self.process.stdout.read()

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def _connect(path):
    import time  # noqa: PLC0415

    from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415

    return StreamClient(connect_unix(path), idle=lambda: time.sleep(0.001))


def test_server_in_another_process_and_its_restart():
    from testing import IS_MICROPYTHON, skip  # noqa: PLC0415

    if IS_MICROPYTHON:
        skip("starts a process: CPython only")
    needs_socket()
    import os  # noqa: PLC0415
    import time  # noqa: PLC0415

    path = "/tmp/mctp-ipc-%d.sock" % os.getpid()
    child = _Child(path, 100)
    try:
        c1 = _connect(path)
        c2 = _connect(path)
        stack = Stack(c1)
        payload = pattern(1023, 9)
        with stack.req(8, 2000) as ch:
            ch.send(1, payload)
            assert ch.recv()[1] == payload
        # Own handles: c2 can neither drop nor use c1's.
        held = c1.listener(7)
        with raises(MctpError) as caught:
            c2.drop_handle(held)
        assert caught.value.code == ResponseCode.BAD_ARGUMENT
        with raises(MctpError) as caught:
            c2.listener(7)
        assert caught.value.code == ResponseCode.ADDR_IN_USE
        # c1 goes: its listener is released, so c2 may take the type.
        c1.stream.close()
        deadline = time.time() + 5
        while True:
            try:
                c2.drop_handle(c2.listener(7))
                break
            except MctpError as e:
                assert e.code == ResponseCode.ADDR_IN_USE
                assert time.time() < deadline
                time.sleep(0.01)
        # The server process restarts: the old handle is SERVER_RESTARTED over the new
        # connection; the channel is opened again and works.
        ch = Stack(c2).req(8, 2000)
        child.stop()
        child = _Child(path, 200)
        c2.attach(_connect(path).stream)
        with raises(MctpError) as caught:
            ch.send(1, b"old")
        assert caught.value.code == ResponseCode.SERVER_RESTARTED
        ch.close()
        with Stack(c2).req(8, 2000) as ch:
            ch.send(1, b"new")
            assert ch.recv()[1] == b"new"
    finally:
        child.stop()
        try:
            os.remove(path)
        except OSError:
            pass


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


def test_a_fuzzed_stream_never_stops_the_service_and_leaves_nothing_held():
    # Seeded (the same bytes on both interpreters): random bytes, valid frames of random wire
    # requests (any op, any fields: handles made, receives left pending, refusals), and such
    # frames damaged (a bit flipped, cut short, a length changed), on one stream, while a good
    # client on another keeps being answered; once the fuzzing stream goes, every handle and
    # receive it held is released and the server's invariants hold.
    rig = Rig()
    good, _ = rig.client()
    baseline = rig.b.server.handles_in_use()
    pipe = SerialPipe()
    rig.service.add(pipe.b)
    state = [20261201]

    def rand(n):
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return (state[0] >> 8) % n

    for round_ in range(400):
        kind = rand(4)
        if kind == 0:
            data = bytes(rand(256) for _ in range(1 + rand(60)))
        else:
            body = bytearray(rand(256) for _ in range(12 + rand(30)))
            body[0] = rand(9)  # an op, or not quite
            data = bytearray(frame(KIND_REQUEST, rand(256), bytes(body)))
            if kind == 2:
                data[rand(len(data))] ^= 1 << rand(8)
            elif kind == 3:
                data = data[: rand(len(data))]
        pipe.a.write(data, 0, len(data))
        rig.service.poll()
        rig.b.server.poll()
        pipe.a.readinto(bytearray(4096), 4096)  # the answers: nobody reads them
        if round_ % 50 == 49:  # the other stream is served throughout (a SET_EID fuzzed in
            assert good.get_eid() == rig.b.core.eid  # moves the EID: any client may)
    peer = rig.service.peer(pipe.b)
    assert peer.requests > 50 and peer.bad_frames() > 50
    rig.service.remove(pipe.b)
    # The service's totals keep what the stream's counters said once it has gone.
    totals = dict(rig.service.counts())
    assert totals["connections"] == 2 and totals["open"] == 1
    assert totals["requests"] >= peer.requests  # (and the good client's)
    dropped = totals["bad_header"] + totals["oversized"] + totals["bad_fcs"] + totals["stray"]
    assert dropped == peer.bad_frames() and totals["garbage"] == peer.deframer.garbage
    assert rig.b.server.handles_in_use() == baseline
    assert rig.b.server.pending_in_use() == 0 and rig.b.server.check() == []
    assert good.get_eid() == rig.b.core.eid and rig.service.faults == 0


def test_the_service_and_the_deframer_allocate_nothing_per_request():
    # A request frame read from a stream, dispatched and its answer framed and written, and a
    # stream of frames deframed, with MicroPython's heap locked (after one of each to warm up).
    rig = Rig()
    pipe = SerialPipe()
    rig.service.add(pipe.b)
    answer = bytearray(64)
    got = [0, 0]
    for locked in (False, True):
        with heap_locked() if locked else Unlocked():
            pipe.a.write(GOLDEN, 0, len(GOLDEN))
            rig.service.poll()
            got[locked] = pipe.a.readinto(answer, 64)
    assert got == [len(GOLDEN_ANSWER), len(GOLDEN_ANSWER)]
    assert bytes(answer[: got[1]]) == GOLDEN_ANSWER
    d = Deframer()
    stream = GOLDEN + b"\x00\xa5" + GOLDEN
    frames = [0]
    for locked in (False, True):
        with heap_locked() if locked else Unlocked():
            off = 0
            while off < len(stream):
                off += d.feed(stream, off, len(stream) - off)
                if d.ready:
                    frames[0] += 1
                    d.release()
    assert frames == [4] and d.garbage == 4


class Unlocked:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# The words of an error over the stream: a detail frame before a failed request's response.


def test_golden_detail_frame():
    out = bytearray(64)
    n = encode_detail(out, 1, "no route to EID 20")
    assert bytes(out[:n]) == GOLDEN_DETAIL
    d = Deframer()
    [(kind, seq, msg)] = feed_all(d, GOLDEN_DETAIL)
    assert (kind, seq) == (KIND_DETAIL, 1)
    assert decode_detail(msg, len(msg)) == "no route to EID 20"


def test_golden_failed_exchange_on_the_stream():
    answer, rig, pipe = _answered(SET_EID_5)
    assert answer == SET_EID_5_ANSWER
    assert rig.service.peer(pipe.b).details == 1
    # A request that succeeds has no detail.
    pipe.a.write(GOLDEN, 0, len(GOLDEN))
    rig.service.poll()
    out = bytearray(128)
    n = pipe.a.readinto(out, 128)
    assert bytes(out[:n]) == GOLDEN_ANSWER
    assert ("details", 1) in rig.service.counts()


def test_a_long_detail_is_cut_at_a_character_boundary():
    out = bytearray(DETAIL_TEXT_MAX + 20)
    for text, kept in (
        ("x" + "\u00e9" * 200, "x" + "\u00e9" * 119),  # 2-byte characters: 239 bytes kept
        ("\u20ac" * 100, "\u20ac" * 80),  # 3-byte characters: 240 bytes kept
        ("a" * 300, "a" * DETAIL_TEXT_MAX),
    ):
        n = encode_detail(out, 7, text)
        [(_kind, _seq, msg)] = feed_all(Deframer(), bytes(out[:n]))
        assert decode_detail(msg, len(msg)) == kept


def test_a_detail_of_an_unknown_version_or_not_utf8_has_no_words():
    assert decode_detail(b"\x02no route", 9) is None
    assert decode_detail(b"\x01ab\xff\xfecd", 7) is None
    assert decode_detail(b"", 0) is None
    assert decode_detail(b"\x01", 1) == ""


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


def test_a_service_without_detail_frames_leaves_the_code_and_its_own_restart_words():
    # What an older service writes: error responses alone.
    pipe = SerialPipe()
    client = StreamClient(pipe.a, idle=lambda: None)
    for seq, code in ((1, ResponseCode.BAD_ARGUMENT), (2, ResponseCode.SERVER_RESTARTED)):
        answer = frame(KIND_RESPONSE, seq, bytes([code]) + bytes(11))
        pipe.b.write(answer, 0, len(answer))
    with raises(MctpError) as caught:
        client.get_eid()
    assert (caught.value.code, caught.value.detail) == (ResponseCode.BAD_ARGUMENT, None)
    with raises(MctpError) as caught:
        client.get_eid()
    assert caught.value.code == ResponseCode.SERVER_RESTARTED
    assert caught.value.detail.startswith("the server restarted: its handles are gone")


# Limits: no client exhausts or stalls the service.


class Reluctant:
    """A served stream whose client reads its answers only while `budget` lasts (bytes the
    stream takes), over a pipe end for its input; close() is recorded."""

    def __init__(self, end):
        self.end = end
        self.budget = 1 << 20
        self.closed = False

    def any(self):
        return self.end.any()

    def readinto(self, buf, n=None):
        return self.end.readinto(buf, n)

    def write(self, buf, off=0, n=None):
        n = min(len(buf) - off if n is None else n, self.budget)
        self.budget -= n
        return self.end.write(buf, off, n) if n else 0

    def close(self):
        self.closed = True


def test_streams_beyond_max_clients_are_refused_and_closed():
    rig = Rig()
    assert rig.service.max_clients == 4  # the Config's ipc_clients
    rig.service = service = StreamService(rig.b.server, max_clients=2)
    streams = [Reluctant(SerialPipe().b) for _ in range(4)]
    assert service.add(streams[0]) is not None and service.add(streams[1]) is not None
    assert service.full()
    assert service.add(streams[2]) is None
    assert streams[2].closed and not streams[0].closed and not streams[1].closed
    counts = dict(service.counts())
    assert (counts["open"], counts["connections"], counts["refused"]) == (2, 2, 1)
    service.remove(streams[0])  # one goes: the next is served
    assert service.add(streams[3]) is not None and len(service.peers) == 2


def test_a_service_refuses_limits_that_are_not_positive_ints():
    server = Rig().b.server
    for kwargs, words in (
        ({"max_clients": 0}, "max_clients must be an int of at least 1, not 0"),
        ({"stall_ms": -5}, "stall_ms must be an int of at least 1, not -5"),
        ({"stall_ms": "5"}, "stall_ms must be an int of at least 1, not '5'"),
    ):
        with raises(ValueError) as caught:
            StreamService(server, **kwargs)
        assert str(caught.value) == words


def test_a_client_that_stops_reading_is_dropped_after_stall_ms():
    rig = Rig()
    rig.service = service = StreamService(rig.b.server, stall_ms=500)
    baseline = rig.b.server.handles_in_use()
    pipe = SerialPipe()
    stream = Reluctant(pipe.b)
    service.add(stream)
    peer = service.peer(stream)
    request = bytearray(64)
    listener = frame(KIND_REQUEST, 1, bytes(request[: encode_listener(request, 0x05)]))
    pipe.a.write(listener, 0, len(listener))
    service.poll()  # answered: a handle held
    assert rig.b.server.handles_in_use() == baseline + 1 and service.write_wait_ms(peer) is None
    # The client stops reading: its answer waits, its next requests stay unread.
    stream.budget = 0
    for _ in range(2):
        pipe.a.write(GOLDEN, 0, len(GOLDEN))
    service.poll()
    assert peer.requests == 2 and service.write_wait_ms(peer) == 500
    rig.clock.advance(499)
    service.poll()
    assert service.peers == [peer] and service.write_wait_ms(peer) == 1
    # Some bytes taken: the stall time starts again.
    stream.budget = 5
    service.poll()
    assert service.write_wait_ms(peer) == 500 and peer.out_off == 5
    rig.clock.advance(500)
    service.poll()
    assert service.peers == [] and stream.closed
    counts = dict(service.counts())
    assert counts["stalled"] == 1 and counts["requests"] == 2 and counts["faults"] == 0
    assert rig.b.server.handles_in_use() == baseline and rig.b.server.check() == []


def _descriptors():
    import os  # noqa: PLC0415

    return len(os.listdir("/proc/self/fd"))


class _NoMemory(StreamService):
    def add(self, stream):
        raise MemoryError


def test_the_listener_closes_every_connection_it_does_not_serve():
    # Over the limit: refused; no memory for its buffers: failed. Either way the accepted
    # socket is closed at once (its client sees the end of the stream) and no descriptor is
    # left open once the clients have gone.
    needs_socket()
    from mctp.host.ipc_sockets import Listener, connect_unix  # noqa: PLC0415

    rig = Rig()
    service = StreamService(rig.b.server, max_clients=1)
    path = _unix_socket_path("limit")
    listener = Listener.unix(path)
    try:
        baseline = _descriptors()
        served, refused = connect_unix(path), connect_unix(path)
        assert listener.accept_into(service) == 1 and listener.accepted == 1
        assert refused.any() == 0 and refused.closed and not served.closed
        assert service.refused == 1
        failing = _NoMemory(rig.b.server)
        unserved = connect_unix(path)
        assert listener.accept_into(failing) == 0
        assert unserved.any() == 0 and unserved.closed and failing.failed == 1
        for stream in (served, refused, unserved):
            stream.close()
        service.poll()  # sees the served client go
        assert service.peers == [] and _descriptors() == baseline
    finally:
        listener.close()


class _Exhausted:
    """A listening socket whose accept() fails as at the descriptor limit (EMFILE), or finds
    nobody waiting (EAGAIN) once `waiting` is False."""

    def __init__(self):
        self.accepts = 0
        self.waiting = True

    def setblocking(self, flag):
        pass

    def accept(self):
        import errno  # noqa: PLC0415

        self.accepts += 1
        raise OSError(errno.EMFILE if self.waiting else errno.EAGAIN, "accept")


def test_a_failing_accept_is_counted_and_the_listener_rests():
    needs_socket()
    from mctp.host.ipc_sockets import BACKOFF_MS, Listener  # noqa: PLC0415

    rig = Rig()
    sock = _Exhausted()
    listener = Listener(sock, clock=rig.clock)
    assert listener.accept_into(rig.service) == 0
    assert rig.service.accept_errors == 1 and listener.paused_ms() == BACKOFF_MS
    for _ in range(3):  # resting: accept() is not even tried
        assert listener.accept_into(rig.service) == 0
    assert sock.accepts == 1
    rig.clock.advance(BACKOFF_MS - 1)
    assert listener.paused_ms() == 1
    rig.clock.advance(1)
    assert listener.paused_ms() == 0
    listener.accept_into(rig.service)
    assert sock.accepts == 2 and rig.service.accept_errors == 2
    # Nobody waiting is no error: no count, no rest.
    rig.clock.advance(BACKOFF_MS)
    sock.waiting = False
    listener.accept_into(rig.service)
    listener.accept_into(rig.service)
    assert sock.accepts == 4 and rig.service.accept_errors == 2 and listener.paused_ms() == 0
    assert dict(rig.service.counts())["accept_errors"] == 2


def test_a_connect_gives_up_when_the_server_accepts_nobody():
    # A listening socket that never accepts: once its backlog is full, a connect waits its
    # timeout_ms and says so (ETIMEDOUT), for a UNIX socket and for TCP.
    needs_socket()
    import errno  # noqa: PLC0415

    from mctp.host.ipc_sockets import Listener, connect_tcp, connect_unix  # noqa: PLC0415

    path = _unix_socket_path("backlog")
    for listener, connect, where in (
        (Listener.unix(path, backlog=1), lambda: connect_unix(path, timeout_ms=50), "unix:"),
        (Listener.tcp(0, backlog=1), None, "tcp:127.0.0.1:"),
    ):
        if connect is None:
            port = listener.port

            def connect():
                return connect_tcp(port, timeout_ms=50)

        held = []
        try:
            with raises(OSError) as caught:
                for _ in range(10):
                    held.append(connect())
            assert caught.value.errno == errno.ETIMEDOUT
            message = str(caught.value)
            assert where in message and "within 50 ms" in message, message
            assert "the server accepts none" in message
        finally:
            for stream in held:
                stream.close()
            listener.close()
    with raises(ValueError) as caught:
        connect_unix(path, timeout_ms=0)
    assert str(caught.value) == "timeout_ms must be an int of at least 1, not 0"
