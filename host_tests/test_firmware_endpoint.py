# The endpoint firmware (firmware.endpoint) as a board runs it: firmware.board.build() with a
# stand-in `machine` module whose I2C, I2CTarget and Pin sit on the simulated bus, then a bus
# owner on the same bus sets it up and uses its services, blocking and as asyncio tasks. Runs on
# both interpreters (the CI check that the firmware imports and starts under the unix port).
# The board's build and the echo service have their own files (test_firmware_board.py,
# test_firmware_echo.py), which use the stand-in machine here.

import sys

from endpoints import Endpoint, FakeClock, firmware_app, frame_writes, pattern
from testing import IS_MICROPYTHON, needs_socket, raises, skip

from mctp.control.bus_owner import BusOwner
from mctp.control import uuid_from_unique_id
from mctp.i2c import I2CLink
from mctp.host.i2c_sim import SimBus

BOARD_ID = bytes.fromhex("e660583883632b2c")


class Pin:
    OUT = 1
    made = []

    def __init__(self, name, mode=None):
        self.name = name
        self.mode = mode
        self.toggles = 0
        Pin.made.append(self)

    def toggle(self):
        self.toggles += 1


class FakeMachine:
    """What firmware.board uses of `machine`, on a SimBus (I2CTarget only when `target`)."""

    Pin = Pin

    def __init__(self, bus, target=True):
        self.bus = bus
        self.made = []
        if target:
            self.I2CTarget = self._target

    def I2C(self, bus_id, freq=400_000, sda=None, scl=None):
        self.made.append(("I2C", bus_id, freq, sda.name, scl.name))
        return self.bus.controller()

    def _target(self, bus_id, addr, mem=None, mem_addrsize=8, sda=None, scl=None):
        self.made.append(("I2CTarget", bus_id, addr, sda.name, scl.name))
        self.mem_addrsize = mem_addrsize
        return self.bus.target(addr, mem=mem)

    def UART(self, uart_id, baudrate=9600, rxbuf=256, timeout=0, tx=None, rx=None):
        self.made.append(("UART", uart_id, baudrate, tx.name, rx.name))
        return self.uart  # one end of a SerialPipe, set by the test

    def unique_id(self):
        return BOARD_ID

    class WDT:
        def __init__(self, timeout):
            self.timeout = timeout
            self.feeds = 0

        def feed(self):
            self.feeds += 1


def board_config_with(**changes):
    """A board configuration: the firmware's defaults (firmware/board_config.py) with
    `changes`."""
    from firmware import board_config  # noqa: PLC0415

    class Board:
        pass

    for name in dir(board_config):
        if name.isupper():
            setattr(Board, name, changes.get(name, getattr(board_config, name)))
    return Board


class machine_module:
    """`with machine_module(fake):` makes `import machine` give `fake`."""

    def __init__(self, fake):
        self.fake = fake

    def __enter__(self):
        self.saved = sys.modules.get("machine")
        sys.modules["machine"] = self.fake

    def __exit__(self, *exc):
        if self.saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = self.saved


def test_the_firmware_starts_and_serves_a_bus_owner():
    import firmware.board  # noqa: PLC0415
    from firmware import board_config  # noqa: PLC0415

    bus = SimBus()
    fake = FakeMachine(bus)
    Pin.made = []
    with machine_module(fake):
        app = firmware.board.build()
    assert fake.made == [("I2C", 0, 100_000, 4, 5), ("I2CTarget", 1, 0x1D, 6, 7)]
    # The target in memory mode, the link reading its frames from that memory.
    assert fake.mem_addrsize == 8 and bus.find(0x1D).mem is app.link._mem
    assert app.core.eid == 0  # no static EID configured: it waits for Set Endpoint ID
    assert app.control.uuid == uuid_from_unique_id(BOARD_ID)

    link = I2CLink(bus.controller(), bus.target(0x10), 0x10)
    owner = Endpoint(bus, link, 0x10, 8, FakeClock(1000))
    owner.others.append(app.poll)
    peer = BusOwner(owner.core, owner.stack, owner.link).enumerate(0x1D)
    assert (peer.eid, peer.msg_types, peer.uuid) == (10, [0, 1, 0x7E], app.control.uuid)
    assert peer.vdm[0].vendor_id == board_config.VENDOR_ID

    with owner.stack.req(10, 100) as channel:
        request = b"\xff\xff" + pattern(1000)
        channel.send(0x7E, request)
        assert channel.recv()[1] == request  # 16 packets each way
        channel.send(0x01, b"\x80\x00\x02")  # PLDM GetTID
        assert channel.recv()[1] == b"\x00\x00\x02\x00\x01"
    assert app.echo.counters.echoed == 1
    (led,) = [pin for pin in Pin.made if pin.name == "LED"]
    assert led.mode == Pin.OUT and led.toggles == 2  # once per message served
    assert app.link.counters.rx_frames == 16 + 1 + 5  # echo, PLDM, the five control requests


# The serve path: the endpoint's poll, the service base, the echo and the PLDM responder,
# every function but the constructors, the REPL's and the module-level builders that run once,
# and EndpointApp.run, whose frame (a try with an `as`) is allocated once per run().
SERVE_PATH = {
    ("firmware/endpoint.py", "poll"),
    ("firmware/service.py", "poll"),
    ("firmware/service.py", "_serve_next"),
    ("firmware/service.py", "_count_failure"),
    ("firmware/pldm.py", "serve"),
    ("firmware/pldm.py", "_build_answer"),
    ("firmware/pldm.py", "_count"),
    ("firmware/pldm.py", "_command"),
    ("firmware/pldm.py", "_set_tid"),
    ("firmware/pldm.py", "_get_version"),
    ("firmware/pldm.py", "_get_commands"),
    ("firmware/pldm.py", "_version_matches"),
    ("firmware/pldm.py", "_put"),
    ("firmware/echo.py", "serve"),
}


def test_no_serve_path_function_has_a_heap_frame():
    if IS_MICROPYTHON:
        skip("reads frame sizes by running the unix port from CPython")
    import os  # noqa: PLC0415

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(root, "tools", "ci"))
    try:
        import frames  # noqa: PLC0415 (tools/ci/ is on the path only here)
    finally:
        sys.path.pop(0)
    found = frames.frames(["firmware.endpoint"])
    sizes = {(path, name): (n_state, n_exc) for path, name, n_state, n_exc in found}
    assert SERVE_PATH <= set(sizes), sorted(sizes)
    assert [f for f in sorted(SERVE_PATH) if frames.on_heap(*sizes[f])] == []


def test_the_firmware_as_asyncio_tasks_answers_blinks_and_feeds_its_watchdog():
    # firmware.board's way: built with the IRQ's ThreadSafeFlag, then EndpointApp.main(): the
    # stack task sleeps until a frame is queued, polls, answers (a control request) and
    # serves (a PLDM request); the LED blinks from its own task, a user's task runs beside.
    import asyncio  # noqa: PLC0415

    import firmware.board  # noqa: PLC0415
    from mctp.aio import ThreadSafeFlag  # noqa: PLC0415
    from mctp.core.packet import build_packets  # noqa: PLC0415
    from mctp.i2c.smbus import decode_frame  # noqa: PLC0415

    bus = SimBus()
    Pin.made = []
    with machine_module(FakeMachine(bus)):
        app = firmware.board.build(wake=ThreadSafeFlag())
    app.core.set_eid(9)
    answers = []

    def tap(addr, buf, n):  # the frames to the requester, whole (the address byte first)
        if addr == 0x10:
            answers.append(decode_frame(bytes((addr << 1,)) + bytes(buf[:n])))

    bus.tap = tap
    bus.find(0x1D).wake = app.wake  # the simulated target's stand-in for its IRQ
    bus.target(0x10)  # the requester's target, which acknowledges the answers
    controller = bus.controller()
    dog = FakeMachine.WDT(5000)
    ticks = []

    async def user_task():
        while True:
            ticks.append(1)
            await asyncio.sleep(0.01)

    async def scenario():
        endpoint = asyncio.create_task(app.main(dog, blink_ms=20))
        mine = asyncio.create_task(user_task())
        await asyncio.sleep(0.05)
        polls_idle = app.link.counters.rx_frames
        for packet in (
            build_packets(8, 9, 0x08 | 1, 0x00, b"\x80\x02"),  # Get Endpoint ID
            build_packets(8, 9, 0x08 | 2, 0x01, b"\x80\x00\x02"),  # PLDM GetTID
        ):
            (frame,) = frame_writes(packet)
            controller.writeto(0x1D, frame)
            await asyncio.sleep(0.02)
        endpoint.cancel()
        mine.cancel()
        for task in (endpoint, mine):
            try:
                await task
            except asyncio.CancelledError:
                pass
        return polls_idle

    polls_idle = asyncio.run(scenario())
    if IS_MICROPYTHON:
        asyncio.new_event_loop()
    assert polls_idle == 0
    assert [(dest, src, packet[4], packet[5:]) for dest, src, packet in answers] == [
        (0x10, 0x1D, 0x00, b"\x00\x02\x00\x09\x00\x00"),  # EID 9, dynamic, simple endpoint
        (0x10, 0x1D, 0x01, b"\x00\x00\x02\x00\x01"),  # TID 1
    ]
    (led,) = [pin for pin in Pin.made if pin.name == "LED"]
    assert led.toggles >= 3 and dog.feeds >= 1 and len(ticks) >= 5
    assert app.faults == 0 and app.server.check() == []


def test_an_async_bus_owner_sets_up_the_async_firmware_over_the_udp_bus():
    # What `make run` shows, in one process: the endpoint firmware as asyncio tasks on the UDP
    # I2C bus, and a bus owner whose requests are awaited; each side's stack task is woken by
    # a watcher on its socket (a board's I2C target IRQ does that).
    needs_socket()
    import asyncio  # noqa: PLC0415

    from firmware.endpoint import EndpointApp  # noqa: PLC0415
    from mctp.aio import Flag, StackTask, watch  # noqa: PLC0415
    from mctp.aio.control import AsyncBusOwner  # noqa: PLC0415
    from mctp.aio.stack import AsyncStack  # noqa: PLC0415
    from mctp.config import Config  # noqa: PLC0415
    from mctp.core import Core  # noqa: PLC0415
    from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415
    from mctp.server import Server  # noqa: PLC0415

    owner_target = UdpI2CTarget(0x10)
    endpoint_target = UdpI2CTarget(0x1D)
    owner_i2c = UdpI2C(endpoint_target.port)
    endpoint_i2c = UdpI2C(owner_target.port)
    app = EndpointApp(endpoint_i2c, endpoint_target, 0x1D, uuid=bytes(16), wake=Flag())
    core = Core(Config(), 8)
    link = core.add_link(I2CLink(owner_i2c, owner_target, 0x10))
    task = StackTask(Server(core), Flag())
    stack = AsyncStack(task)

    async def scenario():
        tasks = [
            asyncio.create_task(app.main()),
            asyncio.create_task(watch(endpoint_target.sock, app.wake)),
            asyncio.create_task(task.run()),
            asyncio.create_task(watch(owner_target.sock, task.wake)),
        ]
        try:
            peer = await AsyncBusOwner(core, stack, link).enumerate(0x1D)
            async with stack.req(peer.eid, 1000) as channel:
                request = b"\xff\xff" + pattern(1000)
                await channel.send(0x7E, request)
                _meta, answer = await channel.recv()  # 16 packets each way
            return peer, answer == request
        finally:
            for running in tasks:
                running.cancel()

    try:
        peer, echoed = asyncio.run(scenario())
    finally:
        for closing in (owner_target, endpoint_target, owner_i2c, endpoint_i2c):
            closing.close()
        if IS_MICROPYTHON:
            asyncio.new_event_loop()
    assert (peer.eid, peer.assigned, peer.msg_types) == (10, True, [0, 1, 0x7E])
    assert echoed and app.core.eid == 10 and app.faults == 0
    assert app.server.check() == [] and app.core.pool.in_use() == 0


class LineApplication:
    """A host application's end of a board's IPC UART, frame by frame (mctp.ipc framing,
    mctp.wire messages): a request written, then `loop` (the board's and the bus owner's
    polls) run from here, at the top, as a board runs its loop, until the answer is whole.
    (StreamClient would run them under its own wait, deeper than a board ever goes: on the
    emulated Cortex-M0's 8 KiB of C stack, too deep.)"""

    def __init__(self, end, loop):
        from mctp.ipc.framing import MAX_FRAME, Deframer  # noqa: PLC0415

        self.end = end
        self.loop = loop
        self.msg = bytearray(MAX_FRAME)  # the request being made
        self.frame = bytearray(MAX_FRAME)
        self.chunk = bytearray(256)
        self.deframer = Deframer()
        self.seq = 0
        self.detail = None  # the words of the last error answered

    def ask(self, n, rounds=100):
        """Send self.msg[:n]; (its answer's header, payload) or None after `rounds` loops."""
        from mctp.ipc.framing import KIND_REQUEST, encode_frame  # noqa: PLC0415

        self.seq += 1
        k = encode_frame(self.frame, KIND_REQUEST, self.seq, self.msg, n)
        assert self.end.write(self.frame, 0, k) == k
        return self.answer(rounds)

    def answer(self, rounds=100):
        from mctp import wire  # noqa: PLC0415
        from mctp.ipc.framing import KIND_DETAIL, decode_detail  # noqa: PLC0415

        d = self.deframer
        for _ in range(rounds):
            self.loop()
            n = self.end.readinto(self.chunk, len(self.chunk))
            off = 0
            while off < n:
                off += d.feed(self.chunk, off, n - off)
                if d.ready and d.kind == KIND_DETAIL:  # an error's words, before its answer
                    assert d.seq == self.seq
                    self.detail = decode_detail(d.msg, d.length)
                    d.release()
                elif d.ready:
                    assert off == n and d.seq == self.seq  # one answer, to this request
                    hdr = wire.decode_response_header(d.msg, d.length)
                    payload = bytes(wire.get_response_payload(d.msg, hdr, d.length))
                    d.release()
                    return hdr, payload
        return None


def test_a_board_serves_its_stack_on_a_uart_to_an_application_on_a_host():
    # A board_config with IPC_UART: firmware.board builds that UART and serves the stack on it
    # (mctp.ipc) beside its I2C target. At the other end of the line an application reads the
    # EID, listens for a type of its own, receives the requests a bus owner sends the board
    # over I2C (1 and 1,000 bytes) and answers them; the board's own handle is refused it;
    # line noise is counted; nothing stays held once it lets go.
    import firmware.board  # noqa: PLC0415
    from mctp import ResponseCode, wire  # noqa: PLC0415
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415

    IpcBoard = board_config_with(EID=9, IPC_UART=0, IPC_BAUD=921_600, IPC_TX=0, IPC_RX=1)
    pipe = SerialPipe()
    bus = SimBus()
    fake = FakeMachine(bus)
    fake.uart = pipe.a
    with machine_module(fake):
        app = firmware.board.build(IpcBoard)
    assert ("UART", 0, 921_600, 0, 1) in fake.made and app.ipc is not None
    baseline = app.server.handles_in_use()
    owner = Endpoint(bus, I2CLink(bus.controller(), bus.target(0x10), 0x10), 0x10, 8, FakeClock())
    owner.core.add_route(9, 9, owner.link, 0x1D)

    def loop():  # one round of the board's loop, and of the bus owner's
        app.poll()
        owner.server.poll()

    host = LineApplication(pipe.b, loop)
    pipe.b.write(b"\x00garbage\xa5", 0, 9)  # line noise before the application starts
    hdr, _ = host.ask(wire.encode_get_eid(host.msg))
    assert (hdr.code, hdr.eid) == (0, 9)
    hdr, _ = host.ask(wire.encode_listener(host.msg, 0x05))
    assert hdr.code == 0
    listener = hdr.handle
    for size in (1, 1000):
        request = pattern(size)
        # Its receive waits at the board until the bus owner's request has come in whole.
        assert host.ask(wire.encode_recv(host.msg, listener, 1000, 1023), rounds=3) is None
        with owner.stack.req(9, 1000) as channel:
            channel.send(0x05, request)
            hdr, payload = host.answer()
            assert (hdr.code, hdr.msg_type, hdr.eid, payload) == (0, 0x05, 8, request)
            answer = bytes(reversed(request))
            n = wire.encode_send(host.msg, None, 0x05, 8, hdr.tag, False, answer)
            assert host.ask(n)[0].code == 0
            for _ in range(20):
                loop()
            assert channel.recv()[1] == answer
    boards = app.echo.listener.handle.value
    hdr, _ = host.ask(wire.encode_unbind(host.msg, boards))
    assert hdr.code == ResponseCode.BAD_ARGUMENT  # the board's own
    assert host.detail == "handle 0x%x belongs to another connection" % boards
    assert host.ask(wire.encode_unbind(host.msg, listener))[0].code == 0
    counts = dict(app.ipc.counts())
    assert counts["garbage"] == 9 and counts["requests"] == 8 and counts["faults"] == 0
    assert app.server.handles_in_use() == baseline
    assert app.faults == 0 and app.server.check() == []


def test_an_endpoint_has_four_routes_and_four_reply_routes():
    # A board's tables (ENDPOINT_LIMITS): an endpoint reaches its bus owner and a few peers,
    # and answers a few requests at a time; a route past the four is refused, by name.
    app = firmware_app(SimBus(), FakeClock(1000))
    assert len(app.core.reply_routes.routes) == 4
    for eid in range(20, 24):
        app.core.add_route(eid, eid, app.link, 0x30)
    with raises(ValueError) as caught:
        app.core.add_route(30, 30, app.link, 0x31)
    assert str(caught.value) == "routing table full"
