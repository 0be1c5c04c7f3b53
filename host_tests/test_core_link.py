# The core's interfaces (mctp.core.link): the receive ring the I2C and serial links share, and
# the upcalls (Sink, ControlHandler) the server and the control responder offer the core.

from testing import raises

from mctp.config import Config
from mctp.core.core import Core


def test_the_i2c_and_serial_links_share_one_receive_ring():
    # One class owns the ring's fields and pending(); the I2C link queues with its _queue, the
    # serial deframer with its own (its gap mark and ring position in its state): each
    # binding's ring keeps one position empty, and a drop marks the next frame queued.
    from mctp.core.link import RingLink  # noqa: PLC0415
    from mctp.host.i2c_sim import SimBus, TargetSim  # noqa: PLC0415
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415
    from mctp.i2c import I2CLink  # noqa: PLC0415
    from mctp.serial import SerialLink  # noqa: PLC0415
    from mctp.serial.deframer import _queue  # noqa: PLC0415

    i2c = I2CLink(SimBus().controller(), TargetSim(0x10), 0x10, ring=3)
    serial = SerialLink(SerialPipe().a, ring=3)
    for link, queue in ((i2c, i2c._queue), (serial, lambda n: _queue(serial, serial._rx, n))):
        assert isinstance(link, RingLink)
        assert type(link).pending is RingLink.pending
        assert queue(7) and queue(9) and not queue(11)
        assert link.pending() == 2 and list(link._lengths) == [7, 9, 0]
        link._r = 1
        link._drop(1)
        assert queue(11) and link._gaps[2] == 1 and link.counters.total() == 1
    assert type(i2c)._queue is RingLink._queue


def test_the_server_and_the_control_responder_offer_the_core_its_upcalls():
    # The core calls up through link.Sink and link.ControlHandler: what attaches itself as
    # core.sink or core.control has every method they declare.
    from mctp.control.responder import ControlResponder  # noqa: PLC0415
    from mctp.core.link import ControlHandler, Sink  # noqa: PLC0415
    from mctp.server import Server  # noqa: PLC0415

    core = Core(Config(), 8)
    server = Server(core)
    responder = ControlResponder(core, bytes(16))
    assert core.sink is server and core.control is responder
    for obj, interface in ((server, Sink), (responder, ControlHandler)):
        for name in dir(interface):
            if not name.startswith("_"):
                assert callable(getattr(obj, name)), (obj, name)
    assert sorted(n for n in dir(Sink) if not n.startswith("_")) == ["accept_request", "deliver"]
    with raises(NotImplementedError):
        ControlHandler().handle(None)
