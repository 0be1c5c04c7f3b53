# A board's build of the firmware (firmware.board, with firmware.board_config's settings) under a
# stand-in `machine` module: the ports it refuses, a UUID from the board's unique ID, the
# watchdog of the board images, and a board on a UART alone.

from endpoints import Endpoint, FakeClock, pattern
from test_firmware_endpoint import BOARD_ID, FakeMachine, Pin, board_config_with, machine_module
from testing import raises

from mctp.control.bus_owner import BusOwner
from mctp.control import uuid_from_unique_id
from mctp.host.i2c_sim import SimBus


def test_the_firmware_refuses_micropython_without_i2c_target():
    import firmware.board  # noqa: PLC0415

    with machine_module(FakeMachine(SimBus(), target=False)):
        with raises(RuntimeError) as caught:
            firmware.board.build()
    # The unix port and CPython run these tests: both are hosts, pointed to the UDP bus.
    assert "has no machine.I2CTarget" in str(caught.value)
    assert "tools/run_endpoint.py --i2c-udp" in str(caught.value)


def test_a_board_takes_a_stable_uuid_from_its_unique_id():
    # Built twice, a board reports the same UUID, made from machine.unique_id() (RFC 9562
    # version 8, variant 10); another board's ID gives another UUID.
    import firmware.board  # noqa: PLC0415

    uuids = []
    for board_id in (BOARD_ID, BOARD_ID, bytes.fromhex("e660583883632b2d")):
        fake = FakeMachine(SimBus())
        fake.unique_id = lambda board_id=board_id: board_id
        with machine_module(fake):
            uuids.append(firmware.board.build().control.uuid)
    assert uuids[0] == uuids[1] == uuid_from_unique_id(BOARD_ID)
    assert uuids[2] != uuids[0]
    for uuid in uuids:
        assert (uuid[6] >> 4, uuid[8] >> 6) == (8, 0b10)


def test_the_board_images_start_a_watchdog_the_defaults_do_not():
    import firmware.board  # noqa: PLC0415
    from firmware import board_config  # noqa: PLC0415

    class BoardConfig:
        WATCHDOG_MS = 5000

    with machine_module(FakeMachine(SimBus())):
        assert firmware.board.watchdog(board_config) is None  # off by default (REPL use)
        dog = firmware.board.watchdog(BoardConfig)
        app = firmware.board.build()
    assert dog.timeout == 5000
    rounds = []
    app.run(lambda: rounds.append(1) or len(rounds) <= 3, idle_ms=0, watchdog=dog)
    assert dog.feeds == 3


def test_a_board_on_a_uart_alone_is_set_up_and_served_over_its_serial_line():
    # A board_config with SERIAL_UART and no I2C address: firmware.board builds a UART (read
    # from its IRQ_RXIDLE), no I2C, and a bus owner at the other end of the line sets the
    # endpoint up and has 1 KiB echoed, over DSP0253 frames.
    import firmware.board  # noqa: PLC0415
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415
    from mctp.serial import SerialLink  # noqa: PLC0415

    SerialBoard = board_config_with(I2C_ADDR=None, SERIAL_UART=1, SERIAL_TX=8, SERIAL_RX=9)
    pipe = SerialPipe()
    fake = FakeMachine(SimBus(), target=False)  # no I2C target driver: none needed
    fake.uart = pipe.a
    Pin.made = []
    with machine_module(fake):
        app = firmware.board.build(SerialBoard)
    assert fake.made == [("UART", 1, 115_200, 8, 9)]
    assert app.link is None and app.serial.irq and "serial" in app.counters()

    owner = Endpoint(None, SerialLink(pipe.b), None, 8, FakeClock(1000))
    owner.others.append(app.poll)
    peer = BusOwner(owner.core, owner.stack, owner.link).enumerate(0)  # no address: 0
    assert (peer.eid, peer.msg_types) == (10, [0, 1, 0x7E]) and app.core.eid == 10
    with owner.stack.req(10, 100) as channel:
        request = b"\xff\xff" + pattern(1000)
        channel.send(0x7E, request)
        assert channel.recv()[1] == request  # 16 frames each way
    counters = app.serial.counters
    assert counters.rx_frames == 5 + 16 and counters.tx_frames == 5 + 16
    assert app.faults == 0 and app.server.check() == []
