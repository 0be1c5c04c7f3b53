# The I2C target's IRQ handler (mctp.i2c.ring) on the simulated bus: a full receive ring drops
# and counts, a target that gives one byte per read (stm32) and a read from us are handled, and
# a fault in the handler is counted, never raised.

from endpoints import i2c_network, pattern
from test_i2c_link import GET_EID_REQUEST, bus_owner_and_endpoint, deliver_frame, good_pec


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


def test_stm32_style_target_one_byte_per_read():
    a, b = i2c_network(fifo=1)
    listener = a.stack.listener(1)
    req = b.stack.req(8)
    req.send(1, pattern(300))
    _, payload, resp = listener.recv()
    resp.send(payload)
    assert req.recv()[1] == pattern(300)


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
