# A board's build of the firmware (firmware.board, with firmware.board_config's settings) under a
# stand-in `machine` module: the ports it refuses, a UUID from the board's unique ID, the
# watchdog of the board images, a board on a UART alone, and a board as a bridge with its upstream
# link on a UART or on the board's USB (stand-in usb.device modules).

import sys

from endpoints import Endpoint, FakeClock, pattern
from test_firmware_endpoint import BOARD_ID, FakeMachine, Pin, board_config_with, machine_module
from testing import heap_locked, raises

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


class FakeCdc:
    """What firmware.board uses of micropython-lib's CDCInterface, on one end of a SerialPipe:
    reads and writes of whole buffers (timeout 0: what there is), readiness through ioctl.
    A write and a read go as deep as micropython-lib's (usb-device-cdc 0.1, usb-device 0.2)
    before their C call, which the pipe's end stands for: CDCInterface.write, _wr_xfer,
    Interface.submit_xfer, _Device._submit_xfer; readinto, _readinto, _rd_xfer, then the
    same two. What a board's C stack pays under a write is what the emulated boards pay."""

    def __init__(self, end):
        self.end = end
        self.settings = None

    def init(self, **settings):
        self.settings = settings

    def ioctl(self, request, arg):
        return arg if request == 3 and arg == 1 and self.end.any() else 0

    def readinto(self, buf):
        return self._readinto(buf)

    def _readinto(self, buf):
        return self._rd_xfer(buf) or None

    def _rd_xfer(self, buf):
        return self.submit_xfer(self.end.readinto, buf)

    def write(self, buf):
        return self._wr_xfer(buf)

    def _wr_xfer(self, buf):
        return self.submit_xfer(self.end.write, buf)

    def submit_xfer(self, xfer, buf):
        return self._submit_xfer(xfer, buf)

    def _submit_xfer(self, xfer, buf):
        return xfer(buf)


class FakeUsb:
    """Stand-ins for the modules usb, usb.device and usb.device.cdc: a CDCInterface over
    `end`, and usb.device.get().init() recording what it was given."""

    def __init__(self, end):
        self.device = self  # (usb.device)
        self.cdc = self  # (usb.device.cdc)
        self.interfaces = None
        self.made = []

        def interface():
            cdc = FakeCdc(end)
            self.made.append(cdc)
            return cdc

        self.CDCInterface = interface

    def get(self):
        return self

    def init(self, *interfaces, builtin_driver=False):
        self.interfaces = (interfaces, builtin_driver)


class usb_modules:
    """`with usb_modules(fake):` makes `import usb.device` give `fake` (None: no such module)."""

    NAMES = ("usb", "usb.device", "usb.device.cdc")

    def __init__(self, fake):
        self.fake = fake

    def __enter__(self):
        self.saved = {name: sys.modules.get(name) for name in self.NAMES}
        for name in self.NAMES:
            if self.fake is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = self.fake

    def __exit__(self, *exc):
        for name, module in self.saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _set_up_bridge(app, end):
    # A bus owner at the other end of the upstream line sets the bridge's EID and reads the
    # pool it asks for.
    from mctp.control.requester import ControlRequester  # noqa: PLC0415
    from mctp.serial import SerialLink  # noqa: PLC0415

    owner = Endpoint(None, SerialLink(end), None, 8, FakeClock(1000))
    owner.others.append(app.poll)
    peer = BusOwner(owner.core, owner.stack, owner.link).enumerate(0)
    assignment = ControlRequester(owner.stack).set_eid(peer.eid, peer.eid)
    return peer, assignment


def test_a_bridge_board_on_a_uart_asks_its_bus_owner_for_a_pool():
    import firmware.board  # noqa: PLC0415
    from firmware.bridge import BridgeApp  # noqa: PLC0415
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415

    Bridge = board_config_with(
        BRIDGE=True, POOL_SIZE=5, SERIAL_UART=1, SERIAL_TX=8, SERIAL_RX=9, DOWNSTREAM=(0x30,)
    )
    pipe = SerialPipe()
    fake = FakeMachine(SimBus())
    fake.uart = pipe.a
    with machine_module(fake):
        app = firmware.board.build(Bridge)
    assert isinstance(app, BridgeApp) and app.serial.stream is pipe.a
    assert fake.made[2:] == [("UART", 1, 115_200, 8, 9)]  # after the I2C bus
    assert app.pool.candidates == [0x30]
    peer, assignment = _set_up_bridge(app, pipe.b)
    assert (peer.eid, peer.endpoint_type, assignment.pool_size) == (10, 1, 5)
    assert app.core.routes.lookup(8).link is app.serial  # the bus owner, routed upstream


def test_a_bridge_board_on_usb_takes_a_second_cdc_interface():
    import firmware.board  # noqa: PLC0415
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415

    Bridge = board_config_with(BRIDGE=True, UPSTREAM="usb", POOL_SIZE=3, CAPTURE=8)
    pipe = SerialPipe()
    usb = FakeUsb(pipe.a)
    with machine_module(FakeMachine(SimBus())), usb_modules(usb):
        app = firmware.board.build(Bridge)
    cdc = usb.made[0]
    assert usb.interfaces == ((cdc,), True)  # beside the built-in CDC, which keeps the REPL
    assert cdc.settings == {"timeout": 0, "txbuf": 2048, "rxbuf": 2048}
    assert app.serial.stream.source is cdc and not app.serial.irq  # polled, watched by asyncio
    assert len(app.pool.candidates) == 0x77 - 0x08  # no DOWNSTREAM: every address but its own
    peer, assignment = _set_up_bridge(app, pipe.b)
    assert (peer.eid, assignment.pool_size) == (10, 3)
    assert app.serial.counters.rx_frames == app.serial.counters.tx_frames > 0
    # The capture (CAPTURE = 8) holds the last requests and answers on the upstream link
    # (link 2, after the I2C bus; no address on a serial line): Set Endpoint ID last.
    records = app.capture.records()
    assert (
        app.capture.held == 8 and app.capture.overwritten == 2 * app.serial.counters.rx_frames - 8
    )
    assert [(r[1], r[2], r[3]) for r in records] == [(2, False, None), (2, True, None)] * 4
    request, answer = records[-2][5], records[-1][5]
    assert request[4] == 0x00 and request[5] & 0x80 and request[6] == 0x01  # Set Endpoint ID
    assert answer[4] == 0x00 and answer[6:8] == b"\x01\x00"  # its answer: SUCCESS


def test_a_usb_upstream_sends_from_the_loop_and_its_writes_allocate_nothing():
    # Writes under the stack's poll only copy into the queue (heap locked); the loop's flush
    # hands them to the CDC interface, as much as it takes; a write that finds the queue full
    # flushes it first, and takes what then fits.
    from firmware.usb_serial import UsbSerial  # noqa: PLC0415
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415

    pipe = SerialPipe()
    usb = UsbSerial(FakeCdc(pipe.a), queue=100)
    frame = bytes(range(60))
    with heap_locked():
        assert usb.write(frame, 10, 40) == 40
    assert (usb.waiting(), pipe.b.any()) == (40, 0)
    pipe.a.accept = 30  # the CDC's buffer takes 30 bytes, then the rest
    assert usb.flush() == 0 and (usb.waiting(), pipe.b.any()) == (10, 30)
    usb.flush()
    assert (usb.waiting(), pipe.b.any()) == (0, 40)
    pipe.a.accept = 0
    assert usb.write(frame) == 60 and usb.write(frame) == 60  # the first 60 flushed for it
    assert (usb.waiting(), pipe.b.any()) == (60, 100)
    pipe.a.accept = 1
    # 1 byte went: the queue's room is after what it holds until the CDC has taken it all
    assert usb.write(frame) == 40 and usb.waiting() == 99
    received = bytearray(200)
    assert pipe.b.readinto(received) == 101
    assert received[:101] == frame[10:50] + frame + frame[:1]


def test_a_bridge_board_says_what_its_settings_lack():
    import firmware.board  # noqa: PLC0415

    cases = (
        (
            {"UPSTREAM": "usb"},
            RuntimeError,
            (
                "UPSTREAM = 'usb' needs micropython-lib's usb-device-cdc (mpremote mip install"
                " usb-device-cdc) on a port with machine.USBDevice (rp2); or set UPSTREAM ="
                " 'uart'"
            ),
        ),
        ({"UPSTREAM": "spi"}, ValueError, "UPSTREAM must be 'uart' or 'usb', not 'spi'"),
        ({}, ValueError, "BRIDGE with UPSTREAM = 'uart' needs SERIAL_UART (its UART)"),
        (
            {"I2C_ADDR": None, "SERIAL_UART": 1},
            ValueError,
            "BRIDGE = True needs the downstream I2C bus: set I2C_ADDR",
        ),
    )
    for changes, kind, message in cases:
        fake = FakeMachine(SimBus())
        fake.uart = None
        with machine_module(fake), usb_modules(None):
            with raises(kind) as caught:
                firmware.board.build(board_config_with(BRIDGE=True, **changes))
        assert str(caught.value) == message


class _without_module:
    """`with _without_module("mctp.serial"):` makes `from mctp.serial import x` raise
    ImportError, as on a board whose image lacks that part."""

    class _Missing:
        pass

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        __import__(self.name)
        self.saved = sys.modules[self.name]
        sys.modules[self.name] = self._Missing()

    def __exit__(self, *exc):
        sys.modules[self.name] = self.saved


def test_a_board_says_which_part_a_setting_needs_when_its_image_lacks_it():
    # A board image may leave out what its board_config does not turn on (the endpoint part
    # carries none of it): a setting that needs a missing part stops the start-up with the
    # part's name and how to add it.
    import firmware.board  # noqa: PLC0415
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415

    cases = (
        ("mctp.serial", {"SERIAL_UART": 1}, "a serial link (SERIAL_UART)", "mctp-serial"),
        ("mctp.ipc", {"IPC_UART": 1}, "the IPC stream (IPC_UART)", "mctp-ipc"),
        ("mctp.capture", {"CAPTURE": 8}, "CAPTURE", "mctp-capture"),
        (
            "firmware.bridge",
            {"BRIDGE": True, "SERIAL_UART": 1},
            "BRIDGE = True",
            "mctp-bridge-app",
        ),
        ("firmware.spdm", {"SPDM_FOLDER": "/spdm"}, "SPDM_FOLDER", "mctp-spdm-app"),
    )
    uart = {"SERIAL_TX": 8, "SERIAL_RX": 9, "IPC_TX": 0, "IPC_RX": 1}
    for module, changes, what, part in cases:
        fake = FakeMachine(SimBus())
        fake.uart = SerialPipe().a
        with machine_module(fake), _without_module(module):
            with raises(RuntimeError) as caught:
                firmware.board.build(board_config_with(**uart, **changes))
        message = str(caught.value)
        assert message.startswith("%s needs the %s part (" % (what, part)), message
        assert message.endswith(
            "): freeze it (require() in the board's manifest.py) or mpremote mip install"
            " ./%s.json" % part
        ), message
