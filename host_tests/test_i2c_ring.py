# The I2C target's IRQ handler (mctp.i2c.ring) on the simulated bus: a full receive ring drops
# and counts, a target that gives one byte per read (stm32) and a read from us are handled, and
# a fault in the handler is counted, never raised.

from endpoints import i2c_network, pattern
from test_i2c_link import GET_EID_REQUEST, bus_owner_and_endpoint, deliver_frame, good_pec

from mctp.i2c import MEM_SIZE
from mctp.i2c.smbus import DROP_NAMES


def test_full_ring_drops_and_counts():
    bus, core, link, sink, _, _ = bus_owner_and_endpoint()
    good = bytearray(bytes.fromhex(GET_EID_REQUEST))
    good[0] = 0x20
    good[-1] = good_pec(good)
    capacity = len(link._ring) - 1
    for _ in range(capacity + 3):
        deliver_frame(bus, bytes(good))
    assert link.pending() == capacity
    assert link.counters.ring_full == 3
    core.poll()
    assert len(sink.messages) == capacity  # every queued frame, none of the refused ones
    assert link.pending() == 0


def echoed(a, b, size):
    """What B's request of `size` bytes to A came back as, A echoing it."""
    listener = a.stack.listener(1)
    req = b.stack.req(8)
    req.send(1, pattern(size))
    _, payload, resp = listener.recv()
    resp.send(payload)
    return req.recv()[1]


def test_stm32_style_target_one_byte_per_read():
    a, b = i2c_network(fifo=1)
    assert echoed(a, b, 300) == pattern(300)


def test_a_read_from_us_is_answered_and_counted():
    bus, _core, link, _, _, _ = bus_owner_and_endpoint()
    target = bus.find(0x10)
    target._fire(target.IRQ_READ_REQ)
    assert link.counters.read_requests == 1
    assert link.counters.irq_errors == 0


def test_a_fault_in_the_irq_handler_is_counted_not_raised():
    bus, _core, link, _, _, _ = bus_owner_and_endpoint()
    link._frame = None  # make the handler fail
    good = bytes.fromhex(GET_EID_REQUEST)
    deliver_frame(bus, good)
    assert link.counters.irq_errors >= 1


# Memory mode (I2CLink(..., mem=...)): the port collects each write in `mem` and the handler
# runs once, at its end. The port cannot say how long the write was; these are the sequences
# where that could matter.


def get_eid_request():
    frame = bytearray(bytes.fromhex(GET_EID_REQUEST))
    frame[0] = 0x20
    frame[-1] = good_pec(frame)
    return bytes(frame)


def test_memory_mode_takes_a_frame_once_even_when_a_retry_of_it_is_cut_short():
    # A controller loses arbitration in the middle of its second try of a frame (a write cut
    # short): the memory still holds the first try's tail, which must not complete it.
    bus, core, link, sink, _, _ = bus_owner_and_endpoint(mem=True)
    frame = get_eid_request()
    deliver_frame(bus, frame)
    deliver_frame(bus, frame[:10])
    core.poll()
    assert len(sink.messages) == 1
    assert link.counters.bad_pec == 1
    assert link._mem == bytearray(MEM_SIZE)  # every byte read is zeroed: nothing for a reader


def test_memory_mode_counts_other_commands_too_long_frames_and_probes():
    bus, core, link, sink, _, _ = bus_owner_and_endpoint(mem=True)
    frame = get_eid_request()
    other = bytearray(frame)
    other[1] = 0x0E  # another SMBus command: lands at register 0x0E
    deliver_frame(bus, bytes(other))
    too_long = bytearray(frame[:3]) + bytes(100)
    too_long[2] = 99  # a count of 99: more than this link's 64-byte MTU takes
    deliver_frame(bus, bytes(too_long))
    deliver_frame(bus, frame[:1])  # the address byte alone: a bus scan
    deliver_frame(bus, frame[:2])  # the command code alone: no END_WRITE from the port
    deliver_frame(bus, frame)
    core.poll()
    assert len(sink.messages) == 1
    counts = link.counters
    assert (counts.bad_command, counts.too_long, counts.probes) == (1, 1, 1)
    assert counts.rx_frames == 1


def test_memory_mode_a_write_past_the_memory_wraps_and_is_dropped():
    bus, core, link, sink, _, _ = bus_owner_and_endpoint(mem=True)
    long_write = bytes((0x20, 0x0F, 0xFF)) + bytes(range(256)) * 2  # wraps past mem's end
    deliver_frame(bus, long_write)
    deliver_frame(bus, get_eid_request())
    core.poll()
    # What the count byte says after the wrap is whatever landed there: a drop of some kind.
    assert sum(getattr(link.counters, name) for name in DROP_NAMES) == 1
    assert len(sink.messages) == 1  # the next frame is whole


def test_memory_mode_reads_are_counted_and_left_to_the_port():
    bus, _core, link, _, _, _ = bus_owner_and_endpoint(mem=True)
    target = bus.find(0x10)
    target._read(2)
    assert link.counters.read_requests == 1
    assert link.counters.irq_errors == 0


def test_memory_mode_takes_a_soft_irq_where_the_port_has_no_hard_ones():
    from mctp.host.i2c_sim import SimBus  # noqa: PLC0415
    from mctp.i2c import MEM_SIZE, I2CLink  # noqa: PLC0415

    class SoftOnly:
        # esp32's I2CTarget: "hard IRQ unsupported".
        def __init__(self):
            self.hard = None

        def irq(self, handler=None, trigger=0, hard=False):
            if hard:
                raise ValueError("hard IRQ unsupported")
            self.hard = hard

    target = SoftOnly()
    I2CLink(SimBus().controller(), target, 0x10, mem=bytearray(MEM_SIZE))
    assert target.hard is False


def test_memory_mode_echo_matches_the_fifo_mode():
    for mem in (False, True):
        a, b = i2c_network(mem=mem)
        assert echoed(a, b, 1023) == pattern(1023)
        assert a.link.counters.rx_frames == 16  # 1023 + the type byte at 64 a packet
