# The instruction bench, run on the emulated Cortex-M0 by tools/ci/baremetal.py (`make bench-m0`),
# frozen into the image. QEMU runs with -icount shift=0, so a guest instruction is a nanosecond
# of virtual time and time.ticks_us() counts instructions at a fixed rate; calibrate() measures
# that rate with a loop of known length, so no factor is assumed. Each figure is printed as
# `name: value unit`.

import gc

import micropython
from machine import mem32
from time import ticks_diff, ticks_us

import bench
import firmware.endpoint  # noqa: F401 (imported before m0_stack_ram_bytes measures the heap)
from endpoints import Drain, FakeClock, firmware_app, frame_writes
from mctp.bufcopy import copy_into
from mctp.i2c import IRQ_END_WRITE, IRQ_WRITE_REQ, MEM_SIZE
from mctp.host.i2c_sim import SimBus
from mctp.core.packet import build_packets
from mctp.constants import MAX_PAYLOAD_SIZE
from mctp.i2c.pec import pec_span

_SPIN = 1_000_000  # iterations of the calibration loop: two instructions each


@micropython.asm_thumb
def _spin(r0):
    # subs + bne: two instructions per iteration.
    label(loop)  # noqa: F821 (the inline assembler's names)
    sub(r0, 1)  # noqa: F821
    bne(loop)  # noqa: F821


def calibrate():
    """Instructions per ticks_us() tick."""
    _spin(1000)
    start = ticks_us()
    _spin(_SPIN)
    return 2 * _SPIN / ticks_diff(ticks_us(), start)


def _pecs_with(pec_span):
    @micropython.viper
    def ten_pecs(frame):
        # The PEC of a 72-byte frame as the packet paths compute it: pec_span called from
        # viper code through a closure's cell (check_frame, the I2C link's transmit), ten times
        # in one call. The closure's call, which those pay once a frame, is in their figures.
        i = 0
        while i < 10:
            pec_span(frame, 0, 72 << 8)
            i += 1

    return ten_pecs


_ten_pecs = _pecs_with(pec_span)


def pec_72_bytes(per_tick):
    frame = bytearray(range(72))

    def run():
        _ten_pecs(frame)

    return instructions(run, 20, per_tick) / 10


def instructions(run, repeats, per_tick):
    """Instructions per call of run(), after one warm-up call."""
    run()
    gc.collect()
    start = ticks_us()
    i = 0
    while i < repeats:
        run()
        i += 1
    return ticks_diff(ticks_us(), start) * per_tick / repeats


def rx_packet(per_tick, mem=True):
    # The 16 frames of a 1 KiB message, each through the IRQ handler against a stand-in
    # target whose calls are C calls as a board's are: in memory mode (as a board), the frame
    # written into the target's memory by one C call, then the handler at END_WRITE (the copy
    # out, the frame check); in FIFO mode, the handler at each 16-byte FIFO load and at
    # END_WRITE. Then poll and the core, into the reassembly slot. Nothing is taken off
    # (docs/baremetal.md).
    return instructions(bench.i2c_rx_run(mem), 20, per_tick) / 16


def serial_rx_packet(per_tick):
    # The 16 frames of a 1 KiB message through poll: the UART reads (128 bytes at a time, from
    # a stand-in whose any() and readinto() are C calls as a board's are), the deframer and
    # the core. Nothing is taken off.
    return instructions(bench.serial_rx_run(), 20, per_tick) / 16


# The C stack.

_PAINT = 0x2A5A5A5A
_GUARD = 512  # bytes below the painter's own frame left alone
_DEPTH = 12 * 1024  # how far below the top of the stack to paint


def _stack_top():
    return mem32[0]  # the vector table's first word: the initial stack pointer


def paint():
    top = _stack_top()
    addr = (top - micropython.stack_use() - _GUARD) & ~3
    low = top - _DEPTH
    while addr >= low:
        mem32[addr] = _PAINT
        addr -= 4


def deepest():
    # The lowest word no longer painted, as bytes below the top of the stack.
    top = _stack_top()
    addr = top - _DEPTH
    while addr < top and mem32[addr] == _PAINT:
        addr += 4
    return top - addr


class _IrqAtEveryWrite:
    """The endpoint's controller: each write goes to the bus, and while it is on the wire a
    frame arrives at the endpoint's own target (in memory mode, as a board's), whose hard IRQ
    runs on top of the write at its END_WRITE: the handler's deepest path (the frame's copy,
    check and PEC). The frame is for another EID, so the stack drops it unanswered."""

    def __init__(self, bus, target, frame):
        self._bus = bus
        self._target = target
        self._frame = frame
        self.irqs = 0

    def writeto(self, addr, buf, stop=True):
        n = self._bus._write(addr, buf)
        target = self._target
        frame = self._frame  # the command code is the register: the rest lands there
        copy_into(target.mem, frame[0], frame, 1, len(frame) - 1)
        target.memaddr = frame[0]
        target._irq._flags = IRQ_END_WRITE
        target._handler(target)  # this Python frame stands for the C write and IRQ entry
        self.irqs += 1
        return n


ROUNDS = 4


class StackRig:
    """The endpoint firmware on the simulated bus, answering control, PLDM and 1 KiB echo
    requests, with a frame arriving during every write, for m0_c_stack_bytes. A board's
    main.py calls firmware.board.main(), which calls EndpointApp.run; the host drives this
    the same way, from the REPL's top level, with serve() for firmware.board.main():

        rig = StackRig(); rig.serve()    # once to warm up
        paint(); rig.serve_rounds(); depth = deepest(); rig.check()

    The state the stack is left in alternates from one round to the next (which handle queue
    position, which tag), and so does the deepest path: serve_rounds() serves four rounds.
    """

    def __init__(self, wake=None):
        bus = SimBus()
        target = bus.target(0x1D, mem=bytearray(MEM_SIZE))
        self.drain = Drain(bus.target(0x10))
        (stray,) = frame_writes(build_packets(0x33, 0x44, 8, 0x00, b"\x80\x02"), 0x12)
        self.controller = _IrqAtEveryWrite(bus, target, stray)
        self.app = firmware_app(
            bus,
            FakeClock(1000),
            i2c=self.controller,
            target=target,
            wake=wake,
            target_mem=target.mem,
        )
        requests = frame_writes(build_packets(8, 9, 8 | 1, 0x00, b"\x80\x02"))  # Get EID
        requests += frame_writes(build_packets(8, 9, 8 | 2, 0x01, b"\x80\x00\x02"))  # GetTID
        echo = b"\xff\xff" + bytes(MAX_PAYLOAD_SIZE - 2)
        requests += frame_writes(build_packets(8, 9, 8 | 3, 0x7E, echo))
        self.requests = requests
        self.i2c = bus.controller()
        self.target = target
        self.round = 0
        self.running = self._running  # bound once, before the painting

    def serve(self):
        self.app.run(self.running, 0)

    def serve_rounds(self):
        for _ in range(ROUNDS):
            self.round = 0
            self.app.run(self.running, 0)

    def _running(self):
        # Between two rounds of the loop the next request frame arrives, its IRQs firing
        # here: left for the link's poll to deliver, the simulated target's own frames
        # (which a board's I2CTarget does in C) would be the deepest the stack goes. The
        # answers are taken off the bus here too: a full queue at the bus owner's target is
        # delivered from inside the endpoint's write, which no board does.
        self.drain.take()
        if self.round < len(self.requests):
            self.i2c.writeto(0x1D, self.requests[self.round])
            self.target.service()
        self.round += 1
        return self.round <= len(self.requests) + 2

    def check(self):
        """Raise unless every request was answered and every write had its IRQ, twice."""
        self.drain.take()
        # Each round: the Get EID and GetTID answers (a frame each) and the echo's 16 frames.
        if self.app.faults or self.drain.frames != (1 + ROUNDS) * (1 + 1 + 16):
            self.app.show()
            raise AssertionError("the endpoint did not answer everything: C stack overflow?")
        assert self.controller.irqs == self.drain.frames


class AsyncStackRig(StackRig):
    """StackRig's rounds served as a board's main.py serves them now, by the asyncio tasks of
    EndpointApp.main(): the stack task wakes on the IRQ's ThreadSafeFlag, polls and answers,
    under asyncio's scheduler; for m0_async_c_stack_bytes."""

    def __init__(self):
        import asyncio  # noqa: PLC0415

        super().__init__(asyncio.ThreadSafeFlag())

    def serve(self):
        import asyncio  # noqa: PLC0415

        asyncio.run(self._serve())
        asyncio.new_event_loop()  # (the run's tasks go)

    def serve_rounds(self):
        for _ in range(ROUNDS):
            self.round = 0
            self.serve()

    async def _serve(self):
        import asyncio  # noqa: PLC0415

        endpoint = asyncio.create_task(self.app.main())
        while self.running():  # a frame arrives, its IRQ sets the flag: the stack task runs
            await asyncio.sleep_ms(1)
        endpoint.cancel()


IPC_TYPE = 0x05  # the application's message type in IpcStackRig


class IpcStackRig(AsyncStackRig):
    """A board that serves its stack on a UART (EndpointApp.serve_ipc), under the asyncio
    tasks of its main.py, for m0_ipc_c_stack_bytes. Each round an application at the line's
    other end makes a listener; its receive waits at the board while a 1 KiB request comes in
    over I2C (a frame arriving during every write) and is answered when the last packet is in
    (the deepest path: the pending receive fulfilled, its answer encoded and framed from
    under the stack's poll); the application's 1 KiB response goes out over I2C; the listener
    is dropped. The line's bytes wake the stack task as a UART's watcher would."""

    def __init__(self):
        from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415
        from mctp.ipc.framing import MAX_FRAME, Deframer  # noqa: PLC0415

        super().__init__()
        line = SerialPipe()
        self.app.serve_ipc(line.a)
        self.host = line.b
        self.msg = bytearray(MAX_FRAME)
        self.frame = bytearray(MAX_FRAME)
        self.chunk = bytearray(256)
        self.deframer = Deframer()
        self.payload = bytes(MAX_PAYLOAD_SIZE)  # the request's, and the response's
        self.requests = frame_writes(build_packets(8, 9, 8 | 4, IPC_TYPE, self.payload))
        self.answers = 0
        self.state = 0
        self.handle = 0

    def serve(self):
        self.state = 0
        super().serve()

    def _ask(self, n):
        # The application's request self.msg[:n], onto the line, and the stack task woken.
        from mctp.ipc.framing import KIND_REQUEST, encode_frame  # noqa: PLC0415

        k = encode_frame(self.frame, KIND_REQUEST, self.state, self.msg, n)
        self.host.write(self.frame, 0, k)
        self.app.wake.set()

    def _answered(self):
        # True once the answer to the last request is in: its header in self.hdr.
        from mctp import wire  # noqa: PLC0415

        d = self.deframer
        n = self.host.readinto(self.chunk, len(self.chunk))
        off = 0
        while off < n and not d.ready:
            off += d.feed(self.chunk, off, n - off)
        if not d.ready:
            return False
        assert off == n  # nothing after the answer
        self.hdr = wire.decode_response_header(d.msg, d.length)
        d.release()
        self.answers += 1
        return True

    def _running(self):
        from mctp import wire  # noqa: PLC0415

        self.drain.take()
        state = self.state
        if state == 0:
            self._ask(wire.encode_listener(self.msg, IPC_TYPE))
        elif state == 1:
            if not self._answered():
                return True
            self.handle = self.hdr.handle
            self._ask(wire.encode_recv(self.msg, self.handle, 0, MAX_PAYLOAD_SIZE))
            self.round = 0
        elif state == 2:
            if self.round < len(self.requests):
                self.i2c.writeto(0x1D, self.requests[self.round])
                self.target.service()
                self.round += 1
                return True
        elif state == 3:
            if not self._answered():
                return True
            tag = self.hdr.tag
            self._ask(wire.encode_send(self.msg, None, IPC_TYPE, 8, tag, False, self.payload))
        elif state == 4:
            if not self._answered():
                return True
            self._ask(wire.encode_unbind(self.msg, self.handle))
        elif not self._answered():
            return True
        else:
            return False
        self.state = state + 1
        return True

    def check(self):
        """Raise unless every round was answered whole: four answers on the line, the 16
        frames of the response on the bus."""
        self.drain.take()
        ipc = dict(self.app.ipc.counts())
        rounds = 1 + ROUNDS
        if self.app.faults or ipc["faults"] or self.answers != 4 * rounds:
            self.app.show()
            raise AssertionError("the board did not answer everything: C stack overflow?")
        assert self.drain.frames == 16 * rounds == self.controller.irqs


def async_echo_instructions(per_tick):
    # The 1 KiB echo through the asyncio layer, per exchange, five to an asyncio.run. Its two
    # stacks go when this returns (the heap then measures an endpoint alone).
    echo = bench.AsyncEcho(MAX_PAYLOAD_SIZE)

    def five_echoes():
        echo.run(5)

    return instructions(five_echoes, 3, per_tick) / 5


def ecdsa_largest_step(per_tick, signatures):
    """The instructions of the largest Signer.step() over `signatures` signatures, the heap
    collected whenever it fills during one, as on a board."""
    from mctp.spdm.ecdsa import Signer  # noqa: PLC0415 (SPDM's part: measured last)

    largest = 0
    for _ in range(signatures):
        signer = Signer(bench.ECDSA_KEY, bench.ECDSA_DIGEST)
        done = False
        while not done:
            start = ticks_us()
            done = signer.step()
            largest = max(largest, ticks_diff(ticks_us(), start))
    return largest * per_tick


def stack_ram_bytes():
    """The heap a default endpoint (EndpointApp: core, server, I2C link, control, echo and
    PLDM) takes, not counting its simulated bus."""
    bus = SimBus()
    controller = bus.controller()
    target = bus.target(0x1D)
    gc.collect()
    before = gc.mem_alloc()
    # The target's memory is the board's (firmware.board makes it), the target the port's.
    mem = bytearray(MEM_SIZE)
    target.mem = mem
    app = firmware_app(bus, FakeClock(1000), i2c=controller, target=target, target_mem=mem)
    gc.collect()
    used = gc.mem_alloc() - before
    del app
    return used


def main():
    per_tick = calibrate()
    print("m0_instructions_per_tick: %.1f instr" % per_tick)
    print("m0_i2c_rx_packet_instr: %d instr" % rx_packet(per_tick))
    print("m0_i2c_fifo_rx_packet_instr: %d instr" % rx_packet(per_tick, False))
    print(
        "m0_i2c_tx_packet_instr: %d instr" % (instructions(bench.i2c_tx_run(), 20, per_tick) / 16)
    )
    run, answered = bench.control_answer_run()
    print("m0_control_answer_instr: %d instr" % instructions(run, 20, per_tick))
    assert answered() == 21
    echo = bench.Echo(MAX_PAYLOAD_SIZE)
    print("m0_echo_1k_instr: %d instr" % instructions(echo.run, 5, per_tick))
    del echo  # (its two stacks: the asyncio echo's two need the room on a 256 KiB heap)
    gc.collect()
    print("m0_async_echo_1k_instr: %d instr" % async_echo_instructions(per_tick))
    print("m0_pec_72_bytes_instr: %d instr" % pec_72_bytes(per_tick))
    pec_call = instructions(bench.pec_72_run(), 200, per_tick)
    print("m0_pec_72_bytes_from_bytecode_instr: %d instr" % pec_call)
    # (after the echoes: the serial binding's modules are imported only now, so the heap the
    # echoes had is what it was before there was a serial binding)
    print("m0_serial_rx_packet_instr: %d instr" % serial_rx_packet(per_tick))
    tx = instructions(bench.serial_tx_run(), 20, per_tick) / 16
    print("m0_serial_tx_packet_instr: %d instr" % tx)
    print("m0_stack_ram_bytes: %d bytes" % stack_ram_bytes())
    # Last, so that every figure above has the heap of an endpoint, which has no bridge part.
    forward = instructions(bench.bridge_forward_run(), 20, per_tick) / 16
    print("m0_bridge_forward_packet_instr: %d instr" % forward)
    # After the bridge: SPDM's part is an option of an endpoint, as the bridge's is.
    sign = instructions(bench.ecdsa_sign_run(), 3, per_tick)
    print("m0_ecdsa_p256_sign_instr: %d instr" % sign)
    print("m0_ecdsa_p256_step_instr: %d instr" % ecdsa_largest_step(per_tick, 5))
    print("m0_capture_i2c_rx_packet_instr: %d instr" % captured_rx_packet(per_tick))


def captured_rx_packet(per_tick):
    # m0_i2c_rx_packet_instr's 16 frames with a capture on (mctp.capture): each packet
    # recorded as the core meets it.
    from mctp.capture import Capture  # noqa: PLC0415 (measured last, as the bridge)

    core, target, link, frames = bench.i2c_rx_setup()
    capture = Capture(32).attach(core)
    run = bench.irq_frames_run(bench.link_handler(target), frames, link.poll, core, target.mem)
    run()
    if link.counters.rx_frames != 16 or capture.held != 16 or core.pool.in_use():
        raise AssertionError("the capture did not record every frame once")
    return instructions(run, 20, per_tick) / 16


BRIDGE_EID = 9
OWNER_EID = 8  # the bus owner, upstream
DEVICE_EID = 20  # an endpoint behind the bridge, at I2C address 0x30


class BridgeStackRig(AsyncStackRig):
    """A board's bridge (firmware.board.build with BRIDGE = True and UPSTREAM = "usb") under
    the asyncio tasks of its main.py, its upstream the stand-in CDC interface of
    test_firmware_board (as deep as micropython-lib's) on a serial line whose other end is the
    bus owner's, for m0_bridge_*_c_stack_bytes. `path` is what each round carries:

    - "control": the bus owner's Get Endpoint ID request, answered over the USB upstream;
    - "forward": a 1 KiB message from the bus owner to the endpoint behind the bridge (each
      packet forwarded onto the I2C bus, a frame arriving during every write) and one from
      that endpoint to the bus owner (each packet forwarded up through the CDC interface).

    The bus owner set the bridge's EID (so its route upstream) before the rounds; the
    endpoint behind it is routed by hand (its pool's enumeration is not what is measured).
    `capture`: the board's CAPTURE setting (mctp.capture: the packets recorded as they go)."""

    def __init__(self, path, capture=0):
        import asyncio  # noqa: PLC0415

        from test_firmware_board import FakeUsb, usb_modules  # noqa: PLC0415
        from test_firmware_endpoint import (  # noqa: PLC0415
            FakeMachine,
            board_config_with,
            machine_module,
        )

        import firmware.board  # noqa: PLC0415
        from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415
        from mctp.serial.framing import frame_packet, frame_size  # noqa: PLC0415

        bus = SimBus()
        target = bus.target(0x1D)
        self.drain = Drain(bus.target(0x30))
        (stray,) = frame_writes(build_packets(0x33, 0x44, 8, 0x00, b"\x80\x02"), 0x12)
        self.controller = _IrqAtEveryWrite(bus, target, stray)
        rig = self

        class Machine(FakeMachine):
            def I2C(self, bus_id, freq=400_000, sda=None, scl=None):
                return rig.controller

            def _target(self, bus_id, addr, mem=None, mem_addrsize=8, sda=None, scl=None):
                target.mem = mem
                return target

        line = SerialPipe()
        Bridge = board_config_with(
            BRIDGE=True, UPSTREAM="usb", POOL_SIZE=3, DOWNSTREAM=(0x30,), LED=None, CAPTURE=capture
        )
        with machine_module(Machine(bus)), usb_modules(FakeUsb(line.a)):
            self.app = firmware.board.build(Bridge, asyncio.ThreadSafeFlag())
        self.app.core.add_route(DEVICE_EID, DEVICE_EID, self.app.link, 0x30)
        self.owner = line.b
        self.i2c = bus.controller()
        self.target = target
        self.path = path

        def serial_frames(packets):
            frames = []
            for packet in packets:
                frame = bytearray(frame_size(len(packet)))
                frames.append(memoryview(frame)[: frame_packet(frame, packet, len(packet))])
            return frames

        set_eid = build_packets(OWNER_EID, 0, 8 | 1, 0x00, b"\x81\x01\x00" + bytes([BRIDGE_EID]))
        self.up = serial_frames(set_eid)  # written once, before the rounds
        if path == "control":
            get_eid = build_packets(OWNER_EID, BRIDGE_EID, 8 | 2, 0x00, b"\x80\x02")
            self.up += serial_frames(get_eid)
            self.down = []
        else:
            message = b"\xff\xff" + bytes(MAX_PAYLOAD_SIZE - 2)
            self.up += serial_frames(build_packets(OWNER_EID, DEVICE_EID, 8 | 3, 0x7E, message))
            self.down = frame_writes(
                build_packets(DEVICE_EID, OWNER_EID, 3, 0x7E, message), 0x30, 0x1D
            )
        self.scratch = bytearray(256)
        self.round = 0
        self.rounds = 0
        self.running = self._running

    def serve(self):
        super().serve()
        self.up = self.up[self.rounds == 1 :]  # the Set Endpoint ID, in the first round only

    def _running(self):
        # The bus owner's frames for this round, one a turn, then the device's; what the
        # bridge sent up is taken off the line.
        self.drain.take()
        while self.owner.any():
            self.owner.readinto(self.scratch)
        i = self.round
        if i == 1 and self.rounds == 0 and not self.app.control.counters.responses:
            return True  # (the Set Endpoint ID answered, so the route up set, before the rest)
        if i < len(self.up):
            self.owner.write(self.up[i])
            self.app.wake.set()
        elif i - len(self.up) < len(self.down):
            self.i2c.writeto(0x1D, self.down[i - len(self.up)])
            self.target.service()
        self.round += 1
        if self.round <= len(self.up) + len(self.down) + 2:
            return True
        self.rounds += 1
        return False

    def check(self):
        """Raise unless every round was answered or forwarded whole."""
        self.drain.take()
        counters = self.app.core.counters
        control = self.app.control.counters
        rounds = self.rounds
        if self.path == "control":
            ok = control.responses == rounds + 1  # and the Set Endpoint ID's
        else:
            ok = counters.fwd_packets == 32 * rounds and self.drain.frames == 16 * rounds
        if not ok or self.app.faults or control.internal_error or counters.internal_error:
            self.app.show()
            raise AssertionError("the bridge did not answer or forward everything: C stack?")


# SPDM: a board's endpoint answering a requester's connection (firmware/spdm.py, mctp.spdm).


def spdm_connection(chain_size):
    """The requests of a connection as DMTF's requester runs it (docs/spdm.md), each with the
    answer's code: VERSION, CAPABILITIES and ALGORITHMS (SPDM 1.2), the digests, the
    certificate chain of `chain_size` bytes in 1015-byte portions, CHALLENGE (the summary of
    all measurements) and a signed GET_MEASUREMENTS of all blocks."""
    from spdm_requester import GET_CAPABILITIES, GET_VERSION, NEGOTIATE  # noqa: PLC0415

    from mctp.spdm import messages as m  # noqa: PLC0415 (SPDM's part: measured last)

    version = m.VERSION_12
    connection = [
        (GET_VERSION, m.VERSION),
        (GET_CAPABILITIES, m.CAPABILITIES),
        (NEGOTIATE, m.ALGORITHMS),
        (bytes((version, m.GET_DIGESTS, 0, 0)), m.DIGESTS),
    ]
    offset = 0
    while offset < chain_size:  # (libspdm asks 0x11F8 bytes: it gets 1023 less the header)
        request = bytes((version, m.GET_CERTIFICATE, 0, 0, offset & 0xFF, offset >> 8, 0xF8, 0x11))
        connection.append((request, m.CERTIFICATE))
        offset += 1023 - m.CERTIFICATE_FIXED_SIZE
    challenge = bytes((version, m.CHALLENGE, 0, m.SUMMARY_ALL)) + bytes(range(32))
    connection.append((challenge, m.CHALLENGE_AUTH))
    measure = bytes((version, m.GET_MEASUREMENTS, m.SIGNATURE_REQUESTED, m.MEASUREMENT_ALL))
    connection.append((measure + bytes(range(100, 132)) + b"\x00", m.MEASUREMENTS))
    return connection


def serve_spdm(app):
    """app.serve_spdm(folder)'s service (firmware/endpoint.py) with the tests' chain and key
    (spdm_requester.fixed_responder) in place of the folder's files: the emulated boards have
    no filesystem."""
    from spdm_requester import fixed_responder  # noqa: PLC0415

    from firmware.spdm import SpdmService  # noqa: PLC0415

    app.spdm = SpdmService(
        app.stack,
        app.server,
        clock=app._clock,
        wake=app.wake,
        buf=app.buf,
        responder=fixed_responder(),
    )
    app.services.append(app.spdm.poll)
    return app.spdm


class _Answers(Drain):
    """The requester's target: a Drain that also counts the endpoint's answers as messages,
    each message's SPDM code checked against `codes` (the connection's, in order, again and
    again)."""

    def __init__(self, target, codes):
        self.codes = codes
        self.count = 0  # messages (their last packets)
        self.wrong = 0  # messages not SPDM, or not the answer expected
        self._head = bytearray(16)  # a frame's first bytes: to its SPDM request code
        self._rest = bytearray(16)
        self._start = True
        super().__init__(target)

    def _irq(self, target):
        if target.irq().flags() & IRQ_WRITE_REQ:
            target.readinto(self._head if self._start else self._rest)
            self._start = False
            return
        self._start = True
        self.frames += 1
        # (command code, byte count, source, then the MCTP header: flags at 6, the type at 7,
        # the SPDM version and code at 8 and 9)
        head = self._head
        if head[6] & 0x80:  # SOM
            if head[7] != 0x05 or head[9] != self.codes[self.count % len(self.codes)]:
                self.wrong += 1
        if head[6] & 0x40:  # EOM
            self.count += 1


SPDM_PATIENCE = 200  # loop rounds a connection may take (its two signatures: 19 polls each)


class SpdmStackRig(StackRig):
    """A board's endpoint answering SPDM (EndpointApp with the service firmware.board adds
    for SPDM_FOLDER, serve_spdm() here) on the simulated bus, a frame arriving during every
    write, for m0_spdm_c_stack_bytes. Each round a requester at 0x10 runs a connection
    (spdm_connection: each request sent once the answer before it is in), the two
    signatures computed a step a poll of the endpoint's loop."""

    def __init__(self, wake=None):
        super().__init__(wake)
        spdm = serve_spdm(self.app)
        connection = spdm_connection(len(spdm.responder.chain))
        self.requests = [
            frame_writes(build_packets(8, 9, 8 | i % 8, 0x05, request))[0]
            for i, (request, _) in enumerate(connection)
        ]
        self.signed = sum(1 for request, _ in connection if request[1] in (0x83, 0xE0))
        self.answers = _Answers(self.drain.target, bytes(code for _, code in connection))
        self.sent = 0
        self.before = 0

    def _running(self):
        answers = self.answers
        answers.take()
        if not self.round:
            self.sent = 0
            self.before = answers.count
        self.round += 1
        if answers.count - self.before < self.sent:  # an answer owed (a signature's steps)
            return self.round < SPDM_PATIENCE
        if self.sent == len(self.requests):
            return False
        self.i2c.writeto(0x1D, self.requests[self.sent])
        self.target.service()
        self.sent += 1
        return True

    def check(self):
        """Raise unless every connection was answered whole, as expected, and every write had
        its IRQ."""
        answers = self.answers
        answers.take()
        counters = self.app.spdm.counters
        rounds = 1 + ROUNDS
        ok = answers.count == len(self.requests) * rounds and not answers.wrong
        if (
            not ok
            or self.app.faults
            or counters.errors
            or counters.signatures != self.signed * rounds
        ):
            self.app.show()
            raise AssertionError("the endpoint did not answer every SPDM request: C stack?")
        assert self.controller.irqs == answers.frames


class AsyncSpdmStackRig(SpdmStackRig):
    """SpdmStackRig's rounds served by the asyncio tasks of EndpointApp.main(), as a board's
    main.py serves them (AsyncStackRig's), for m0_spdm_async_c_stack_bytes: the service sets
    the stack task's flag while a signature runs."""

    def __init__(self):
        import asyncio  # noqa: PLC0415

        super().__init__(asyncio.ThreadSafeFlag())

    serve = AsyncStackRig.serve
    serve_rounds = AsyncStackRig.serve_rounds
    _serve = AsyncStackRig._serve


def spdm_answers(per_tick, connections=3):
    """The instructions a board spends on each answer of spdm_connection, averaged over
    `connections` connections after one to warm up: each request frame received as
    m0_control_answer_instr's (the IRQ handler against a stand-in target, as the port's C
    calls it), then the endpoint's poll (the stack, the SPDM service: the responder, its
    transcripts and hashes), the answer through the I2C link to a controller that only
    acknowledges. A signed answer's Signer steps run untimed between the poll that takes the
    request and the one that sends the answer (they are m0_ecdsa_p256_sign_instr), so are the
    polls that would run them one by one, and a collection before each timed part."""
    from mctp.host.i2c_sim import TargetSim  # noqa: PLC0415

    mem = bytearray(MEM_SIZE)
    target = TargetSim(0x1D, mem=mem)
    app = firmware_app(
        SimBus(), FakeClock(1000), i2c=bench._AckingI2C(), target=target, target_mem=mem
    )
    spdm = serve_spdm(app)
    responder = spdm.responder
    connection = spdm_connection(len(responder.chain))
    handler = bench.link_handler(target)

    def poll(_core):
        app.poll()

    runs = []
    for i, (request, _) in enumerate(connection):
        (frame,) = frame_writes(build_packets(8, 9, 8 | i % 8, 0x05, request))
        runs.append(bench.irq_frames_run(handler, [bytes(frame)], poll, app.core, mem))
    totals = [0] * len(connection)
    for round_ in range(1 + connections):
        for i, (_, code) in enumerate(connection):
            responses = spdm.counters.responses
            gc.collect()
            bytearray(
                16
            )  # (the first allocation after a collection looks for room from the start)
            start = ticks_us()
            runs[i]()
            ticks = ticks_diff(ticks_us(), start)
            signer = responder.signer
            if signer is not None:
                while not signer.step():
                    pass
                gc.collect()
                bytearray(16)
                start = ticks_us()
                app.poll()
                ticks += ticks_diff(ticks_us(), start)
            if spdm.counters.responses != responses + 1 or responder.out[1] != code:
                raise AssertionError("SPDM request %d answered %r" % (i, responder.out[:4]))
            if round_:
                totals[i] += ticks
    return [total * per_tick / connections for total in totals]


def spdm_main():
    """The SPDM answers' figures, run by baremetal.py in a fresh interpreter: the answers
    allocate (hashes, certificate portions, the signature's set-up), and what an allocation
    costs depends on the heap it finds (how far gc_alloc looks for room), which here is the
    SPDM answers' own and not what the figures before them left."""
    per_tick = calibrate()
    answers = spdm_answers(per_tick)  # (in spdm_connection's order)
    print("m0_spdm_connection_instr: %d instr" % sum(answers))
    print("m0_spdm_certificate_instr: %d instr" % answers[4])
    print("m0_spdm_challenge_instr: %d instr" % answers[-2])
