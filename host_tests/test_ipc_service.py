# StreamService (mctp.ipc.service) serving several stream clients beside a server's links: each
# connection's frames and buffers, its own handles (another's refused), a disconnect or an
# abandoned receive releasing what it held, a fuzzed stream, the limits (clients, a stalled
# reader) and nothing allocated per request. Time is a FakeClock moved by the clients' idle.
# The framing, the client and the sockets have their own files (test_ipc_framing.py,
# test_ipc_client.py, test_host_ipc_sockets.py), which use the Rig here.

from endpoints import network
from test_ipc_framing import GOLDEN, GOLDEN_ANSWER, frame
from testing import heap_locked, raises

from mctp.errors import MctpError, ResponseCode
from mctp.host.serial_pipe import SerialPipe
from mctp.ipc import StreamClient, StreamService
from mctp.ipc.framing import FRAME_OVERHEAD, KIND_REQUEST, KIND_RESPONSE, Deframer
from mctp.ipc.service import CHUNK
from mctp.wire import MAX_RESPONSE_SIZE, encode_listener


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
