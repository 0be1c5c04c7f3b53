# The vendor-defined echo service (firmware.echo) of the firmware as a board builds it: a 1 KiB
# echo with the heap locked, other vendors' and short requests dropped and counted.

from endpoints import Endpoint, FakeClock, pattern
from test_firmware_endpoint import FakeMachine, machine_module
from testing import heap_locked, raises

from mctp import MctpError, RecvMetadata

from mctp.i2c import I2CLink
from mctp.host.i2c_sim import SimBus


def firmware_at_eid_9():
    """The firmware, built as a board builds it, with EID 9, and a bus owner (EID 8 at 0x10)
    that routes to it and runs its loop while waiting."""
    import firmware.board  # noqa: PLC0415

    bus = SimBus()
    with machine_module(FakeMachine(bus)):
        app = firmware.board.build()
    app.core.set_eid(9)
    owner = Endpoint(bus, I2CLink(bus.controller(), bus.target(0x10), 0x10), 0x10, 8, FakeClock())
    owner.core.add_route(9, 9, owner.link, 0x1D)
    owner.others.append(app.poll)
    return app, owner


def test_the_echo_service_with_the_heap_locked():
    app, owner = firmware_at_eid_9()
    request = b"\xff\xff" + pattern(1000)
    buf = bytearray(1023)
    meta = RecvMetadata()
    channel = owner.stack.req(9, 100)
    for _ in range(2):  # warm up, then with the heap locked
        with heap_locked():
            channel.send(0x7E, request)
            n = channel.recv_into(buf, meta)
    assert n == len(request) and bytes(buf[:n]) == request
    assert app.echo.counters.echoed == 2


def test_the_echo_drops_other_vendors_and_short_requests():
    app, owner = firmware_at_eid_9()
    with owner.stack.req(9, 20) as channel:
        for request in (b"\x12\x34hello", b"\xff"):
            channel.send(0x7E, request)
            with raises(MctpError) as caught:
                channel.recv()
            assert caught.value.is_timeout()  # not answered
    counters = app.echo.counters
    assert (counters.other_vendor, counters.too_short, counters.echoed) == (1, 1, 0)
    assert app.core.pool.in_use() == 0
