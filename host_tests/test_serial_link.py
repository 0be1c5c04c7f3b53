# The serial link (mctp.serial.link, DSP0253) on a line: the IRQ mode and its ring, faults on
# the line (a message arrives whole or is reported lost), two stacks over an in-memory line, MTU
# settings, flow control, partial writes, the packet paths with the heap locked, and
# docs/serial.md's examples. The framing, the receive side and the host's streams have their own
# files (test_serial_framing.py, test_serial_deframer.py, test_host_serial_stream.py), which use
# the helpers here.

from endpoints import FakeClock, Sink, assert_nothing_held, echo_into, pattern, serial_pair
from testing import IS_MICROPYTHON, heap_locked, needs_socket, raises, skip

from mctp import MctpError, RecvMetadata, ResponseCode
from mctp.config import Config
from mctp.core import Core
from mctp.core.core import SEND_LINK_FAILED
from mctp.core.packet import FLAG_TO
from mctp.host.serial_pipe import SerialFaults, SerialPipe
from mctp.serial import DROP_NAMES, SerialLink
from mctp.serial.framing import encode_frame
from mctp.constants import MAX_PAYLOAD_SIZE


def receiver(eid=8, **options):
    """A bare core with a SerialLink on end `a` of a pipe; the test writes to end `b`."""
    pipe = SerialPipe()
    core = Core(Config(), eid, FakeClock(0))
    link = core.add_link(SerialLink(pipe.a, **options))
    return pipe, core, link, Sink(core)


def feed(pipe, core, data):
    pipe.b.write(data)
    core.poll()


def take(end):
    """Every byte waiting at `end`."""
    buf = bytearray(end.any())
    end.readinto(buf)
    return bytes(buf)


def request(tag, text=b"hi", src=9, dest=8):
    """A single-packet request of type 1 from `src` to `dest`."""
    return bytes((0x01, dest, src, 0xC8 | tag, 0x01)) + text


def clean_frame(tag, text=b"hi"):
    """The frame of request(tag, text), checked to have no flag or escape byte after its count
    (so cutting or corrupting it cannot put a flag anywhere unintended)."""
    frame = encode_frame(request(tag, text))
    assert 0x7E not in frame[1:-1] and 0x7D not in frame[3:-1], frame
    return frame


def echo(a, b, payload):
    listener = a.stack.listener(1, 2000)
    with b.stack.req(8, 2000) as req:
        req.send(1, payload)
        _, got, resp = listener.recv()
        assert got == payload
        resp.send(got)
        assert req.recv()[1] == payload
    listener.close()


def drops(link):
    return {
        name: getattr(link.counters, name) for name in DROP_NAMES if getattr(link.counters, name)
    }


def test_a_full_ring_in_irq_mode_drops_and_counts_and_marks_the_gap():
    pipe, core, link, sink = receiver(ring=4, irq=True)
    frames = b"".join(clean_frame(i) for i in range(6))
    pipe.b.write(frames)  # the IRQ takes it all; the ring holds three
    assert link.pending() == 3 and link.counters.ring_full == 3
    core.poll()
    assert [m[1] for m in sink.messages] == [0, 1, 2]
    feed(pipe, core, clean_frame(6))
    assert link._gaps[3] == 1  # the packet after the drops carried the mark
    assert len(sink.messages) == 4


def test_poll_reads_only_what_the_ring_has_room_for():
    # Without an IRQ nothing is dropped for want of room: the bytes wait in the stream. And a
    # poll reads a ring's worth at most, so a peer that never stops cannot keep it there.
    class Wake:
        times = 0

        def set(self):
            self.times += 1

    wake = Wake()
    pipe, core, link, sink = receiver(ring=2, wake=wake)
    pipe.b.write(b"".join(clean_frame(i & 7) for i in range(40)))
    core.poll()
    assert 0 < len(sink.messages) < 40
    assert wake.times > len(sink.messages)  # a packet queued, and the bound: come back
    polls = 1
    while pipe.a.any():
        core.poll()
        polls += 1
    assert len(sink.messages) == 40 and drops(link) == {} and polls > 10


def test_a_fault_in_the_irq_handler_is_counted_not_raised():
    pipe, _core, link, _sink = receiver(irq=True)
    link._chunk = None  # make the handler fail
    pipe.b.write(clean_frame(1))
    assert link.counters.irq_errors == 1


def _losses(ep):
    counters = ep.core.counters
    return sum(drops(ep.link).values()) + counters.aborted + counters.reassembly_timeout


def test_faults_on_the_line_lose_a_message_never_corrupt_or_repeat_it():
    # 1 KiB requests and their echoes (16 frames each way), each round with at most one fault
    # on one frame of one direction: a flipped bit or a frame cut short always loses the
    # message (reported: the receive times out); a lost byte loses it unless the byte was a
    # flag (the next frame's flag stands in for it); noise between two of its frames loses it
    # (the receiver cannot tell noise from a damaged frame). A round without a fault always
    # gets its echo: the line is back in step.
    faults = SerialFaults(), SerialFaults()
    pipe = SerialPipe()
    pipe.b.faults, pipe.a.faults = faults  # requests from b, echoes from a
    a, b = serial_pair((pipe.a, pipe.b))
    listener = a.stack.listener(1, 200)
    state = 3
    outcomes = {}
    seen = []
    counted = _losses(a) + _losses(b)
    for round_ in range(48):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        line = faults[state >> 8 & 1]
        at = line.writes + (state >> 12) % 16
        kind = ("none", "flip", "lose", "cut", "noise", "none")[round_ % 6]
        offset = state >> 4 & 0x7F
        if kind == "flip":
            line.flip(at, offset % 60, 1 << (state >> 20 & 7))
        elif kind == "lose":
            line.lose(at, (0, -1, offset % 60)[round_ // 6 % 3])  # opening flag, closing, other
        elif kind == "cut":
            line.cut(at, offset % 70)
        elif kind == "noise":
            line.noise(at, bytes((offset, 0x7E, offset ^ 0x55)))
        payload = pattern(MAX_PAYLOAD_SIZE, round_)
        with b.stack.req(8, 200) as req:
            try:
                req.send(1, payload)
                _, got, resp = listener.recv()
                assert got[0] not in seen  # never delivered twice (its first byte: its round)
                seen.append(got[0])
                assert got == payload  # never corrupted
                resp.send(got)
                assert req.recv()[1] == payload
                outcome = "whole"
            except MctpError as error:
                assert error.code == ResponseCode.TIMED_OUT
                outcome = "lost"
        outcomes.setdefault(kind, []).append(outcome)
        a.clock.advance(6000)  # what is unfinished expires
        a.server.poll()
        b.server.poll()
    assert set(outcomes["none"]) == {"whole"}
    assert set(outcomes["flip"]) == set(outcomes["cut"]) == {"lost"}
    assert "whole" in outcomes["lose"] and "lost" in outcomes["lose"]
    assert "lost" in outcomes["noise"]
    listener.close()
    echo(a, b, pattern(MAX_PAYLOAD_SIZE, 99))  # (its flags end what a fault left unfinished)
    lost = sum(outcome == "lost" for kind in outcomes for outcome in outcomes[kind])
    assert _losses(a) + _losses(b) - counted >= lost  # every loss counted: by a link, or by a
    for ep in (a, b):  # core when it gave up
        assert ep.link.counters.irq_errors == 0 and ep.core.counters.internal_error == 0
        assert_nothing_held(ep)


# Two stacks.


def test_1k_echo_over_an_in_memory_line_polled_and_by_irq():
    for irq in (False, True):
        a, b = serial_pair(irq=irq)
        echo(a, b, pattern(MAX_PAYLOAD_SIZE, 1))
        for ep in (a, b):
            assert ep.link.counters.rx_frames == 16 and ep.link.counters.tx_frames == 16
            assert drops(ep.link) == {}
            assert_nothing_held(ep)


def test_1k_echo_under_asyncio_woken_by_the_irq():
    # Each stack run by its StackTask, which sleeps until its link's IRQ handler queues a
    # packet and sets the task's flag (the `wake` given to the link).
    import asyncio  # noqa: PLC0415

    from mctp.aio import AsyncStack, StackTask  # noqa: PLC0415
    from mctp.server import Server  # noqa: PLC0415

    pipe = SerialPipe()
    tasks = []
    for eid, end, peer in ((8, pipe.a, 9), (9, pipe.b, 8)):
        core = Core(Config(), eid)
        tasks.append(StackTask(Server(core)))
        core.add_route(peer, peer, core.add_link(SerialLink(end, irq=True, wake=tasks[-1].wake)))
    stack_a, stack_b = AsyncStack(tasks[0]), AsyncStack(tasks[1])
    answers = []

    async def main():
        running = [asyncio.create_task(task.run()) for task in tasks]
        listener = stack_b.listener(1)
        async with stack_a.req(9, 2000) as ch:
            await ch.send(1, pattern(MAX_PAYLOAD_SIZE, 8))
            _, payload, resp = await listener.recv()
            await resp.send(payload)
            answers.append((await ch.recv())[1])
        for task in running:
            task.cancel()

    asyncio.run(main())
    if IS_MICROPYTHON:
        asyncio.new_event_loop()  # (MicroPython's loop keeps the tasks until then)
    assert answers == [pattern(MAX_PAYLOAD_SIZE, 8)]
    assert tasks[0].polls < 40 and tasks[1].polls < 40  # woken by packets, not spinning


def test_mtu_settings():
    for mtu, rx_mtu in ((0, None), (65, None), (64, 71), (64, 0)):
        with raises(ValueError):
            SerialLink(SerialPipe().a, mtu, rx_mtu)
    with raises(ValueError):
        SerialLink(SerialPipe().a, ring=1)
    for mtu, packets in ((16, 64), (64, 16)):
        a, b = serial_pair(mtu=mtu)
        echo(a, b, pattern(MAX_PAYLOAD_SIZE, mtu))
        assert a.link.counters.rx_frames == b.link.counters.rx_frames == packets
        a = b = None  # two stacks at a time: a board's heap
    # A receiver at rx_mtu 32 drops a baseline packet; at 70 it takes N = 74, as Linux does.
    # (request()'s payload is its type byte and its text.)
    pipe, core, link, sink = receiver(rx_mtu=32)
    feed(pipe, core, encode_frame(request(1, bytes(32))) + encode_frame(request(2, bytes(31))))
    assert drops(link) == {"too_long": 1} and [m[1] for m in sink.messages] == [2]
    pipe, core, link, sink = receiver(rx_mtu=70)
    feed(pipe, core, encode_frame(request(1, bytes(69))) + encode_frame(request(2, bytes(70))))
    assert drops(link) == {"too_long": 1} and [m[1] for m in sink.messages] == [1]


def test_a_full_queue_holds_packets_back_instead_of_dropping_them():
    config = Config(queue_limit=1)
    a, b = serial_pair(config=config)
    listener = a.stack.listener(1, 2000)
    first, second = pattern(300, 1), pattern(300, 2)
    for payload in (first, second):
        b.stack.req(8).send(1, payload)
    a.server.poll()
    assert a.server.queued(listener.handle.value) == 1  # the second waits in the ring
    assert listener.recv()[1] == first
    assert listener.recv()[1] == second
    assert a.core.counters.queue_full == 0 and drops(a.link) == {}


def test_partial_writes_are_finished_and_a_stalled_line_fails_the_send():
    pipe = SerialPipe()
    a, b = serial_pair((pipe.a, pipe.b))
    pipe.b.accept = 7  # a stream that takes 7 bytes a write
    echo(a, b, pattern(500, 3))
    assert b.link.counters.tx_partial_writes == 8 and b.link.counters.tx_frames == 8

    class Stalled:
        def write(self, buf, off, n):
            return None  # a full non-blocking stream

    pipe, core, link, _ = receiver(write_timeout_ms=5)
    link.stream = Stalled()
    core.add_route(9, 9, link)
    assert core.send(9, FLAG_TO, 1, b"hello", 0, 5) == SEND_LINK_FAILED
    assert link.counters.tx_failed == 1
    assert link.describe_failure() == "the serial stream took 0 of a frame's 16 bytes in 5 ms"


def test_a_raising_stream_fails_the_send_without_raising():
    class Raising:
        def write(self, buf, off, n):
            raise OSError(110)  # stm32, when the UART's own timeout ends a write

    _pipe, core, link, _ = receiver(write_timeout_ms=2)
    link.stream = Raising()
    core.add_route(9, 9, link)
    assert core.send(9, FLAG_TO, 1, b"x", 0, 1) == SEND_LINK_FAILED


def test_send_failure_reaches_the_application():
    pipe = SerialPipe()
    _a, b = serial_pair((pipe.a, pipe.b), write_timeout_ms=2)

    class Stalled:
        def write(self, buf, off, n):
            return 0

    b.link.stream = Stalled()
    with raises(MctpError) as caught:
        b.stack.req(8).send(1, b"anyone there?")
    assert caught.value.code == ResponseCode.INTERNAL_ERROR
    assert b.core.flows.in_use() == 0


# Allocation.


def test_serial_packet_paths_with_the_heap_locked():
    for irq in (False, True):
        a, b = serial_pair(irq=irq)
        listener = a.stack.listener(1)
        req = b.stack.req(8)
        resp = listener.resp_channel()
        meta = RecvMetadata()
        buf = bytearray(MAX_PAYLOAD_SIZE)
        message = pattern(MAX_PAYLOAD_SIZE, 0x7E)  # escapes in every packet
        echo_into(req, listener, resp, meta, buf, message)  # warm up
        with heap_locked():
            size = echo_into(req, listener, resp, meta, buf, message)
        assert size == MAX_PAYLOAD_SIZE and bytes(buf) == message
        for ep in (a, b):
            assert ep.link.counters.irq_errors == 0 and drops(ep.link) == {}
            assert ep.core.counters.internal_error == 0
        a = b = None


# docs/serial.md's examples, run as written.

DOCS_MARKER = "<!-- run by host_tests/test_serial_link.py"


def _doc_blocks():
    try:
        with open((__file__.rpartition("/")[0] or ".") + "/../docs/serial.md") as f:
            text = f.read()
    except OSError:
        skip("no docs/serial.md beside the tests (a board)")
    blocks = []
    for part in text.split(DOCS_MARKER)[1:]:
        start = part.index("```python\n") + len("```python\n")
        blocks.append(part[start : part.index("```", start)])
    return blocks


class _StandInMachine:
    """`machine` for the board example: its UART is one end of a SerialPipe."""

    def __init__(self):
        self.pipe = SerialPipe()

    def Pin(self, number):
        return number

    def UART(self, uart_id, baudrate, tx=None, rx=None, rxbuf=256, timeout=0):
        return self.pipe.a


def test_the_docs_examples_run_as_written():
    import sys  # noqa: PLC0415

    from test_readme import _run  # noqa: PLC0415

    board, host = _doc_blocks()
    saved = sys.modules.get("machine")
    sys.modules["machine"] = _StandInMachine()
    try:
        (counters,) = _run(board)
    finally:
        if saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved
    assert counters.startswith("bad_fcs=0 ") and "rx_frames=0 " in counters
    needs_socket()
    assert _run(host) == [str(b"\xff\xffover a serial line")]
