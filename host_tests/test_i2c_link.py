# The SMBus/I2C link (mctp.i2c.link) on the simulated bus (same code as on a board):
# memory-mode targets, retries, faults, replies to EID 0, the UDP bus, and the packet path with
# the heap locked. The framing, the IRQ handler and the neighbour table have their own files
# (test_i2c_smbus.py, test_i2c_ring.py, test_i2c_neighbours.py), which use the helpers here.

import gc

import endpoints
from endpoints import FakeClock, assert_nothing_held, echo_into, i2c_network, pattern, udp_pair
from testing import IS_MICROPYTHON, heap_locked, needs_socket, raises, skip

from mctp import MctpError, RecvMetadata, ResponseCode
from mctp.config import Config
from mctp.core.core import SEND_LINK_FAILED, SEND_OK, Core
from mctp.i2c import MEM_SIZE, I2CLink
from mctp.host.i2c_sim import SimBus
from mctp.core.packet import FLAG_TO
from mctp.i2c.smbus import encode_frame
from mctp.constants import MAX_PAYLOAD_SIZE

GET_EID_REQUEST = "3A 0F 08 21 01 00 08 C8 00 80 02 56"
GET_EID_RESPONSE = "20 0F 0C 3B 01 08 00 C0 00 00 02 00 00 01 00 17"
SET_EID_REQUEST = "3A 0F 0A 21 01 00 08 C9 00 81 01 00 0A F8"
SET_EID_RESPONSE = "20 0F 0C 3B 01 08 0A C1 00 01 01 00 00 0A 00 2F"


class Sink(endpoints.Sink):
    """endpoints.Sink, keeping each message's type too: (source EID, tag, type, payload)."""

    def deliver(self, slot):
        self.messages.append((slot.src, slot.tag, slot.msg_type, bytes(slot.buf[: slot.length])))
        self.core.release(slot)
        return True


def bus_owner_and_endpoint(fifo=16, mem=False):
    """The bus owner (EID 8 at 0x10) as a bare core on the simulated bus (its target in
    memory mode when `mem`), and a second target at 0x1D whose received frames a test can read
    or feed (the endpoint side)."""
    bus = SimBus()
    clock = FakeClock(0)
    core = Core(Config(), 8, clock)
    memory = bytearray(MEM_SIZE) if mem else None
    target = bus.target(0x10, fifo, memory)
    link = core.add_link(I2CLink(bus.controller(), target, 0x10, mem=memory))
    sink = Sink(core)
    frames = []
    bus.tap = lambda addr, buf, length: frames.append(bytes((addr << 1,)) + bytes(buf[:length]))
    bus.target(0x1D)  # someone at 0x1D acknowledges
    return bus, core, link, sink, frames, clock


def deliver_frame(bus, frame_hex_or_bytes, to_addr=0x10):
    """Put a whole frame (address byte first) on the bus, as a controller at another address
    would write it, and fire the target's IRQs for it."""
    frame = frame_hex_or_bytes
    if isinstance(frame, str):
        frame = bytes.fromhex(frame)
    bus.controller().writeto(to_addr, frame[1:])
    bus.find(to_addr).service()


def good_pec(frame):
    from mctp.i2c.pec import pec  # noqa: PLC0415 (only this helper needs it)

    return pec(frame, 0, len(frame) - 1, 0)


def mem_pair():
    bus = SimBus()
    clock = FakeClock(0)
    cores = []
    for addr, eid in ((0x10, 8), (0x11, 9)):
        core = Core(Config(), eid, clock)
        mem = bytearray(MEM_SIZE)
        core.add_link(I2CLink(bus.controller(), bus.target(addr, mem=mem), addr, mem=mem))
        cores.append(core)
    return bus, cores


def test_memory_mode_target_receives_frames():
    _bus, (a, b) = mem_pair()
    sink = Sink(a)
    b.add_route(8, 8, b.links[0], 0x10)
    message = pattern(200)
    assert b.send(8, FLAG_TO | 2, 0x01, message, 0, 200) == SEND_OK
    a.poll()
    assert sink.messages == [(9, 2, 1, message)]
    assert a.links[0].counters.rx_frames == 4


def test_memory_mode_drops_a_bad_frame():
    bus, (a, _b) = mem_pair()
    sink = Sink(a)
    frame = bytearray(bytes.fromhex(GET_EID_REQUEST))
    frame[0] = 0x20
    frame[-1] ^= 0x55
    deliver_frame(bus, bytes(frame))
    a.poll()
    assert a.links[0].counters.bad_pec == 1
    assert sink.messages == []


def test_lost_arbitration_is_retried():
    bus, core, link, _, frames, _ = bus_owner_and_endpoint()
    core.add_route(9, 9, link, 0x1D)
    bus.arbitration_losses = 2
    assert core.send(9, FLAG_TO, 1, b"x", 0, 1) == SEND_OK
    assert (link.counters.tx_retries, link.counters.tx_frames, len(frames)) == (2, 1, 1)


def test_an_absent_address_fails_the_send_after_the_retries():
    bus, core, link, _, frames, _ = bus_owner_and_endpoint()
    core.add_route(9, 9, link, 0x1D)
    bus.absent.append(0x1D)
    assert core.send(9, FLAG_TO, 1, bytes(200), 0, 200) == SEND_LINK_FAILED
    assert (link.counters.tx_retries, link.counters.tx_failed) == (3, 1)
    assert frames == []


def test_send_failure_reaches_the_application():
    _a, b = i2c_network()
    req = b.stack.req(8)
    b.bus.absent.append(0x10)
    with raises(MctpError) as caught:
        req.send(1, b"anyone there?")
    assert caught.value.code == ResponseCode.INTERNAL_ERROR
    assert b.core.flows.in_use() == 0


def test_a_corrupted_or_truncated_packet_loses_the_message_never_corrupts_it():
    a, b = i2c_network()
    listener = a.stack.listener(1, 100)
    req = b.stack.req(8, 100)
    for fault in ("corrupt", "truncate"):
        if fault == "corrupt":
            b.bus.corrupt_frames = 1
            b.bus.corrupt_at = 20
        else:
            b.bus.truncate_frames = 1
            b.bus.truncate_to = 40  # inside the packet: the byte count no longer matches
        req.send(1, pattern(MAX_PAYLOAD_SIZE, 7))
        with raises(MctpError) as caught:
            listener.recv()
        assert caught.value.is_timeout()  # the message is reported lost
        with raises(MctpError):
            req.recv()
    assert a.link.counters.bad_pec == 1
    assert a.link.counters.bad_count == 1
    # The incomplete reassemblies expire; the stacks then work as before.
    a.clock.advance(6000)
    a.server.poll()
    assert a.core.pool.in_use() == 0
    req.send(1, pattern(MAX_PAYLOAD_SIZE, 8))
    _, payload, _resp = listener.recv()
    assert payload == pattern(MAX_PAYLOAD_SIZE, 8)


def test_echo_under_random_faults_is_whole_or_reported_lost():
    a, b = i2c_network()
    listener = a.stack.listener(1, 200)
    state = 7
    whole = lost = 0
    for round_ in range(40):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        fault = state % 5
        if fault == 1:
            b.bus.corrupt_frames = 1
            b.bus.corrupt_at = 3 + state % 60
        elif fault == 2:
            b.bus.truncate_frames = 1
            b.bus.truncate_to = state % 40
        elif fault == 3:
            b.bus.arbitration_losses = state % 5  # 4 losses exhaust the 3 retries
        request = pattern(1 + state % MAX_PAYLOAD_SIZE, round_)
        with b.stack.req(8, 200) as req:
            try:
                req.send(1, request)
                _, payload, resp = listener.recv()
                assert payload == request  # never a corrupted message
                resp.send(payload)
                assert req.recv()[1] == request
                whole += 1
            except MctpError as error:
                assert error.code in (ResponseCode.TIMED_OUT, ResponseCode.INTERNAL_ERROR)
                lost += 1
        a.clock.advance(6000)
        a.server.poll()
        b.server.poll()
    assert whole > 10 and lost > 5
    for ep in (a, b):
        assert_nothing_held(ep)


def test_a_requester_without_an_eid_is_answered_at_its_address():
    a, _b = i2c_network()
    listener = a.stack.listener(1)
    # A requester at 0x30 with EID 0 (no route to EID 0 exists anywhere).
    frame = bytearray(64)
    n = encode_frame(frame, 0x10, 0x30, bytes.fromhex("01 08 00 CA 01") + b"hi")
    replies = []
    a.bus.target(0x30)
    deliver_frame(a.bus, bytes(frame[:n]))
    a.bus.tap = lambda addr, buf, length: replies.append((addr, bytes(buf[:length])))
    meta, payload, resp = listener.recv()
    assert (meta.remote_eid, payload) == (0, b"hi")
    resp.send(b"hello, whoever you are")
    assert replies[0][0] == 0x30
    assert replies[0][1][3:7] == bytes.fromhex("01 00 08 C2")  # to EID 0, tag 2, TO=0


def test_1k_messages_at_mtu_64_and_250():
    for mtu, packets in ((64, 16), (250, 5)):
        a, b = i2c_network(mtu=mtu)
        listener = a.stack.listener(1)
        req = b.stack.req(8)
        req.send(1, pattern(MAX_PAYLOAD_SIZE, mtu))
        _, payload, resp = listener.recv()
        resp.send(payload)
        assert req.recv()[1] == pattern(MAX_PAYLOAD_SIZE, mtu)
        assert a.link.counters.rx_frames == packets
        assert b.link.counters.rx_frames == packets
        a = b = None  # two networks at once would not fit a 140 KB heap


def test_udp_bus_1kecho_into():
    needs_socket()
    a, b = udp_pair()
    try:
        listener = a.stack.listener(1, 2000)
        req = b.stack.req(8, 2000)
        for mtu_payload in (1, 100, MAX_PAYLOAD_SIZE):
            req.send(1, pattern(mtu_payload, 1))
            _, payload, resp = listener.recv()
            resp.send(payload)
            assert req.recv()[1] == pattern(mtu_payload, 1)
    finally:
        for ep in (a, b):
            ep.link._i2c.close()
            ep.link._target.close()


def test_invalid_link_settings_are_refused():
    bus = SimBus()
    for addr, mtu in ((0x07, 64), (0x78, 64), (0x10, 0), (0x10, 251)):
        with raises(ValueError):
            I2CLink(bus.controller(), bus.target(0x10), addr, mtu)
    with raises(ValueError) as caught:
        I2CLink(bus.controller(), bus.target(0x10), 0x10, mem=bytearray(100))
    assert str(caught.value) == "mem must hold at least 272 bytes, not 100"


def test_i2c_packet_path_with_the_heap_locked():
    for fifo, mem in ((16, False), (1, False), (16, True)):
        a, b = i2c_network(fifo=fifo, mem=mem)
        listener = a.stack.listener(1)
        req = b.stack.req(8)
        resp = listener.resp_channel()
        meta = RecvMetadata()
        buf = bytearray(MAX_PAYLOAD_SIZE)
        request = pattern(MAX_PAYLOAD_SIZE, 5)
        echo_into(req, listener, resp, meta, buf, request)  # warm up
        with heap_locked():
            size = echo_into(req, listener, resp, meta, buf, request)
        assert size == MAX_PAYLOAD_SIZE and bytes(buf) == request
        for ep in (a, b):
            assert ep.link.counters.irq_errors == 0
            assert ep.core.counters.internal_error == 0


class _RecordingI2C:
    """A controller that acknowledges every byte and keeps what each write sent (its length
    while the heap is locked, its bytes after)."""

    def __init__(self):
        self.lengths = []
        self.last = None

    def writeto(self, addr, buf, stop=True):
        self.lengths.append(len(buf))
        self.last = buf
        return len(buf)


def test_every_packet_length_is_written_whole_without_allocating():
    # writeto takes a whole buffer: each frame goes out as frame[1:] at its own length, from
    # 1 payload byte to the MTU, back and forth, and no send allocates.
    i2c = _RecordingI2C()
    link = I2CLink(i2c, SimBus().target(0x10), 0x10)
    i2c.lengths = [0] * 140  # (room, so that appending allocates nothing)
    del i2c.lengths[:]
    lengths = list(range(5, 69)) + list(range(68, 4, -1))
    with heap_locked():
        for n in lengths:
            link.transmit(n, 0x11)
    assert i2c.lengths == [n + 4 for n in lengths]
    packet = bytes((1, 9, 8, 0xC8)) + bytes(range(64))
    for n in (68, 5):
        link.tx_buf[4 : 4 + n] = packet[:n]
        assert link.transmit(n, 0x11)
        frame = bytearray(80)
        assert bytes(i2c.last) == frame[1 : encode_frame(frame, 0x11, 0x10, packet[:n])]
    assert link.counters.tx_frames == len(lengths) + 2


def test_a_larger_mtu_costs_its_buffers_not_a_view_per_packet_length():
    # A board's heap: the link's buffers grow with the MTU (the transmit buffer and each ring
    # frame), and nothing else does.
    if not IS_MICROPYTHON:
        skip("MicroPython's heap (CPython has no gc.mem_alloc)")
    taken = []
    for mtu in (8, 250):
        gc.collect()
        before = gc.mem_alloc()
        link = I2CLink(_RecordingI2C(), SimBus().target(0x10), 0x10, mtu, ring=2)
        gc.collect()
        taken.append(gc.mem_alloc() - before)
        del link
    grown = 3 * (250 - 8)  # the transmit buffer and the ring's two frames
    assert taken[1] - taken[0] <= grown + 64, (taken, grown)
