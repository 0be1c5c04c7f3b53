"""Benchmarks, one `name: value unit` line per figure.

    python3 tools/bench.py        # CPython
    micropython tools/bench.py    # the MicroPython unix port (or a board, with the package on it)

Figures:
  echo_1k_msgs_per_s       1024-byte request + 1024-byte response exchanges per second between
                           two stacks on the loopback bus at a 64-byte MTU (16 packets each way),
                           through the Stack facade, DirectClient, server and core
  echo_64b_msgs_per_s      the same with 64-byte messages (one packet each way)
  ipc_echo_1k_msgs_per_s   the 1 KiB echo with the requester over mctp.ipc (StreamClient on a
                           UNIX socket to a StreamService), both ends in this process; it and
                           echo_1k_msgs_per_s are each the fastest of alternating batches
  ipc_over_echo_1k_ratio   the first over the second: what the IPC leaves of the in-process
                           rate (issue 28's bar: at least 0.5)
  packet_rx_us             one 64-byte packet into the core (header checks, reassembly copy)
  i2c_tx_packet_us         one 64-byte-payload packet out through the I2C binding: the core's
                           fragmenter, the SMBus frame and its PEC, the write (to a controller
                           that only acknowledges), per packet of a 16-packet message
  i2c_rx_packet_us         one 64-byte-payload frame in, as a board takes it: the frame written
                           into a memory-mode target's memory (one C call standing in for the
                           port's), the IRQ handler at END_WRITE (the frame copied out, its
                           PEC and checks, the ring), then the core (header checks, reassembly
                           copy), per packet; the handler called as the port calls it against
                           a stand-in target whose calls are C calls (nothing taken off)
  i2c_fifo_rx_packet_us    the same with the target in FIFO mode: the handler called for each
                           16-byte FIFO load, then at END_WRITE
  serial_tx_packet_us      one 64-byte-payload packet out through the serial binding: the core's
                           fragmenter, the frame (escaping, FCS) and the write (to a stream that
                           takes every byte), per packet of a 16-packet message
  serial_rx_packet_us      one 64-byte-payload frame in: poll's reads from the stream (128 bytes
                           at a time), the deframer (unescaping, count, FCS, the ring), then the
                           core, per packet; from a stand-in UART whose any() and readinto() are
                           C calls on MicroPython, as a board's are (nothing taken off)
  pec_72_bytes_us          the PEC of a 72-byte frame
  control_answer_us        a Get Endpoint ID request frame in and its answer out through the I2C
                           link: the IRQ handler (as for i2c_rx_packet_us), the core, the
                           control responder, the answer's frame and PEC
  vs_pymctp_frame_codec_ratio  CPython: our SMBus frame build + parse rate over pymctp's, same
                           frames (pymctp 0.4.0 installed in the dev environment)
  alloc_bytes_per_1k_echo  MicroPython: bytes allocated per 1 KiB echo after warm-up
                           (micropython.mem_total); CPython has no such counter
  async_echo_1k_msgs_per_s the 1 KiB echo through the asyncio layer (mctp.aio): each stack run
                           by its StackTask, a requester task and an echoing listener task
  alloc_bytes_per_async_1k_echo  MicroPython: bytes allocated per awaited 1 KiB echo, warm
  async_idle_polls_10s     how often an idle endpoint's StackTask polls in 10 seconds
  stack_ram_bytes          heap taken by one default-configured stack: core, server and a
                           loopback link (MicroPython: gc.mem_alloc; CPython: tracemalloc)
  bridge_forward_packet_us one 64-byte-payload frame forwarded by a bridge (mctp.bridge) from
                           one I2C link to another: the in-link's IRQ handler (as for
                           i2c_rx_packet_us), poll, the routes, the out-link's frame, PEC and
                           write; per frame of a 16-frame message (measured last: the bridge's
                           part is imported only then)
  bridge_echo_1k_msgs_per_s  the 1 KiB echo of echo_1k_msgs_per_s across a bridge: the requester
                           on one simulated I2C bus, the bridge (a Forwarder on a core with a
                           link on each bus), the echoing listener on the other bus; 16 frames
                           each way on each bus, each through its target's IRQ handler, PEC
                           and all (measured last, as the bridge's part)
  ecdsa_p256_sign_ms       one ECDSA P-256 signature of a SHA-256 digest (mctp.spdm.ecdsa.sign:
                           its RFC 6979 nonce, the comb, the inversions), RFC 6979's key
  spdm_challenge_ms        an SPDM CHALLENGE and its signed CHALLENGE_AUTH (summary hash of all
                           measurements) between two stacks on the loopback bus: the requester
                           of host_tests/spdm_requester.py, the endpoint's SPDM service
                           (firmware/spdm.py) signing a step a poll, after a connection
                           (VERSION, CAPABILITIES, ALGORITHMS, DIGESTS, CERTIFICATE) made once

(Over ~450 lines: one short function per figure, each beside its setup; the list above
says what each measures.)
"""

import gc
import io
import sys
from collections import deque

try:
    import micropython
except ImportError:
    micropython = None
try:
    import tracemalloc
except ImportError:  # MicroPython
    tracemalloc = None

sys.path.insert(0, __file__.rpartition("/")[0] + "/..")

from mctp import RecvMetadata, Stack  # noqa: E402
from mctp._compat import ticks_diff, ticks_ms  # noqa: E402
from mctp.control.responder import ControlResponder  # noqa: E402
from mctp.core import Core  # noqa: E402
from mctp.server import DirectClient  # noqa: E402
from mctp.i2c import IRQ_END_WRITE, IRQ_WRITE_REQ, MEM_SIZE, I2CLink  # noqa: E402
from mctp.i2c.ring import SCRATCH  # noqa: E402
from mctp.host.i2c_sim import SimBus, TargetSim  # noqa: E402
from mctp.i2c.pec import pec  # noqa: E402
from mctp.i2c.smbus import check_frame, encode_frame, pec_init  # noqa: E402
from mctp.host.loopback import LoopbackBus  # noqa: E402
from mctp.bufcopy import copy_into  # noqa: E402
from mctp.server import Server  # noqa: E402
from mctp.constants import MAX_PAYLOAD_SIZE  # noqa: E402


def endpoint(bus, phys, eid, wake=None):
    core = Core(eid=eid)
    core.add_link(bus.attach(phys, wake))
    return core, Server(core)


def pair(mtu=64):
    bus = LoopbackBus(mtu)
    core_a, server_a = endpoint(bus, 0x10, 8)
    core_b, server_b = endpoint(bus, 0x11, 9)
    core_a.add_route(9, 9, core_a.links[0], 0x11)
    core_b.add_route(8, 8, core_b.links[0], 0x10)
    # Each side's waits run the other side, as two tasks would.
    stack_a = Stack(DirectClient(server_a, idle=server_b.poll))
    stack_b = Stack(DirectClient(server_b, idle=server_a.poll))
    return stack_a, stack_b, core_a


class Echo:
    def __init__(self, size, mtu=64):
        stack_a, stack_b, self.core = pair(mtu)
        self.listener = stack_a.listener(1)
        self.req = stack_b.req(8)
        self.resp = self.listener.resp_channel()
        self.meta = RecvMetadata()
        self.buf = bytearray(size)
        self.request = bytes(range(256)) * (size // 256) + bytes(size % 256)

    def run(self):
        self.req.send(1, self.request)
        self.listener.recv_into(self.buf, self.meta, self.resp)
        self.resp.send(self.buf, False, self.meta.payload_size)
        self.req.recv_into(self.buf, self.meta)


class IpcEcho:
    """Echo's exchange with the requester an application of another process would be: its
    Stack over mctp.ipc's StreamClient on a UNIX socket, to a StreamService in front of its
    stack's server. Both ends run in this process (each side's waits run the other, as Echo's
    do), so the figure is the IPC's cost (framing, the socket both ways, the wire codec) on
    top of Echo's exchange."""

    def __init__(self, size):
        import os  # noqa: PLC0415 (hosts only, as the sockets)

        from mctp.host.ipc_sockets import Listener, connect_unix  # noqa: PLC0415
        from mctp.ipc import StreamClient, StreamService  # noqa: PLC0415

        bus = LoopbackBus(64)
        core_a, server_a = endpoint(bus, 0x10, 8)
        core_b, self.server_b = endpoint(bus, 0x11, 9)
        core_a.add_route(9, 9, core_a.links[0], 0x11)
        core_b.add_route(8, 8, core_b.links[0], 0x10)
        self.server_a = server_a
        raw = os.urandom(4)
        self.path = "/tmp/mctp-bench-%02x%02x%02x%02x.sock" % (raw[0], raw[1], raw[2], raw[3])
        self.socket = Listener.unix(self.path)
        self.service = StreamService(self.server_b)
        self.listener = Stack(DirectClient(server_a, idle=self._run_b)).listener(1)
        self.client = StreamClient(connect_unix(self.path), idle=self._run_b)
        self.req = Stack(self.client).req(8)
        self.resp = self.listener.resp_channel()
        self.meta = RecvMetadata()
        self.buf = bytearray(size)
        self.request = bytes(range(256)) * (size // 256) + bytes(size % 256)

    def _run_b(self):
        # The other side: the service in front of stack B (new connections, requests,
        # answers), B's stack, and A's.
        self.socket.accept_into(self.service)
        self.service.poll()
        self.server_b.poll()
        self.service.poll()
        self.server_a.poll()

    run = Echo.run

    def close(self):
        self.client.stream.close()
        self.socket.close()


class AsyncEcho:
    """Echo's exchange through the asyncio layer: two stacks, each run by its StackTask, on a
    loopback bus that wakes them; a requester task and an echoing listener task. run(count)
    makes `count` exchanges in one asyncio.run; with `allocated`, the bytes MicroPython
    allocated during them, after one exchange to warm up, are kept in self.allocated."""

    def __init__(self, size):
        from mctp.aio import AsyncStack, Flag, StackTask  # noqa: PLC0415 (async figures only)

        bus = LoopbackBus(64)
        self.tasks = []
        stacks = []
        for phys, eid, peer in ((0x10, 8, 9), (0x11, 9, 8)):
            task = StackTask(None, Flag())  # set by tasks only (a host bus): no IRQ here
            core, task.server = endpoint(bus, phys, eid, task.wake)
            core.add_route(peer, peer, core.links[0], 0x21 - phys)
            self.tasks.append(task)
            stacks.append(AsyncStack(task))
        self.listener = stacks[0].listener(1)
        self.req = stacks[1].req(8)
        self.resp = self.listener.resp_channel()
        self.meta = RecvMetadata()
        self.buf = bytearray(size)
        self.answer = bytearray(size)
        self.request = bytes(range(256)) * (size // 256) + bytes(size % 256)
        self.allocated = 0

    def run(self, count, allocated=False):
        import asyncio  # noqa: PLC0415

        asyncio.run(self._exchanges(count, allocated))
        if micropython is not None:
            asyncio.new_event_loop()  # MicroPython's loop keeps the run's tasks until then

    async def _exchanges(self, count, allocated):
        import asyncio  # noqa: PLC0415

        running = [asyncio.create_task(task.run()) for task in self.tasks]
        serving = asyncio.create_task(self._serve(count + allocated))
        before = 0
        # The exchanges in this coroutine's own loop: a coroutine of the bench's per exchange
        # would be an allocation of the bench's (about 96 bytes on the unix port), not the
        # stack's.
        for i in range(count + allocated):
            if allocated and i == 1:  # (after one exchange to warm up)
                before = micropython.mem_total()
            await self.req.send(1, self.request)
            await self.req.recv_into(self.answer, self.meta)
        if allocated:
            self.allocated = micropython.mem_total() - before
        await serving
        for task in running:
            task.cancel()

    async def _serve(self, count):
        for _ in range(count):
            n = await self.listener.recv_into(self.buf, self.meta, self.resp)
            await self.resp.send(self.buf, False, n)


def rate(run, seconds_ms):
    run()
    count = 0
    start = ticks_ms()
    while ticks_diff(ticks_ms(), start) < seconds_ms:
        run()
        count += 1
    return count * 1000 / ticks_diff(ticks_ms(), start)


def alloc_per_run(run, runs):
    run()
    gc.collect()
    before = micropython.mem_total()
    i = 0
    while i < runs:
        run()
        i += 1
    return (micropython.mem_total() - before) // runs


def best_of_alternating(runs, batch, rounds):
    """The rate (calls a second) of each of `runs`, each its fastest of `rounds` batches of
    `batch` calls, the runs' batches alternating: on a shared machine, where other work slows
    one stretch of time and not the next, two rates taken so compare steadily where two taken
    one after the other do not."""
    best = [0] * len(runs)
    for run in runs:
        run()
    for _ in range(rounds):
        for k in range(len(runs)):
            start = ticks_ms()
            i = 0
            while i < batch:
                runs[k]()
                i += 1
            took = max(ticks_diff(ticks_ms(), start), 1)
            if not best[k] or took < best[k]:
                best[k] = took
    return [batch * 1000 / took for took in best]


def per_packet_us(run, packets, repeats):
    run()
    start = ticks_ms()
    i = 0
    while i < repeats:
        run()
        i += 1
    return ticks_diff(ticks_ms(), start) * 1000 / (repeats * packets)


# Each *_run() below builds its subject and returns what one measured call does, so that this
# bench times it in microseconds and the Cortex-M0 bench (tools/ci/qemu/bench_m0.py) in
# instructions.


class _Sink:
    def __init__(self, core):
        self.core = core
        core.sink = self

    def accept_request(self, msg_type):
        return 0

    def deliver(self, slot):
        self.core.release(slot)
        return True


def packet_rx_run():
    """One 64-byte packet into the core: a middle packet of a message, restarted when full."""
    core = Core(eid=8)
    link = core.add_link(LoopbackBus().attach(0x10))
    _Sink(core)
    first = bytearray(b"\x01\x08\x09\x88\x01" + bytes(63))  # SOM, 64 payload bytes
    middle = bytearray(b"\x01\x08\x09\x18" + bytes(64))
    core.receive(link, first, 0, 68, 0x11)
    seq = [1]

    def run():
        middle[3] = 0x08 | seq[0] << 4
        core.receive(link, middle, 0, 68, 0x11)
        seq[0] = (seq[0] + 1) & 3
        if core.pool.in_use() == 0 or core.pool.slots[0].length > 900:
            core.release(core.pool.slots[0])
            core.receive(link, first, 0, 68, 0x11)
            seq[0] = 1

    return run


class _AckingI2C:
    # A controller whose every write is acknowledged, so only our side of a send is timed.
    def writeto(self, addr, buf, stop=True):
        return len(buf)


def i2c_tx_run():
    """A 1024-byte message out through the I2C binding: 16 packets of 64."""
    core = Core(eid=8)
    bus = SimBus()
    link = core.add_link(I2CLink(_AckingI2C(), bus.target(0x10), 0x10))
    core.add_route(9, 9, link, 0x11)
    message = bytes(1023)

    def run():
        core.send(9, 0x08, 1, message, 0, 1023)

    return run


# The receive figures count what a board pays, with no simulation to take off: the link's
# handler is called once per event, as the port's C code calls it, against a stand-in for the
# target whose irq(), flags() and readinto() are C calls (a deque's popleft, a BytesIO's tell and
# readinto), as machine.I2CTarget's are; then the link polls. docs/baremetal.md says how these
# calls' costs compare with the port's.


class _IrqStandIn:
    """What I2CTarget.irq() gives the handler for one kind of event: flags() is a C call with
    no arguments that answers that event's flags (a BytesIO's tell(), the stream kept there)."""

    def __init__(self, flags):
        self._at = io.BytesIO(bytes(flags))
        self._at.seek(flags)
        self.flags = self._at.tell


class _TargetStandIn:
    """machine.I2CTarget with one frame written to it, as the link's IRQ handler uses it:
    irq() gives the IRQ object of the event being dispatched (the next in the driver's queue).
    In FIFO mode (`mem` None), readinto(buf) gives the FIFO's bytes, at most len(buf) at a time,
    as the rp2's 16-byte FIFO does, and rewind(0) puts the frame back in the FIFO; `events`,
    the port's dispatches for the frame, are a WRITE_REQ per FIFO load, then END_WRITE. In
    memory mode, rewind(0) and fill(view) are what the port's C does with the write (the bytes
    after the command code into `view`, mem at the register), `memaddr` the register, and
    the one event is END_WRITE. `next`: the next frame's stand-in, or None."""

    def __init__(self, queue, frame, mem):
        self.irq = queue.popleft
        self.view = None
        if mem is None:
            fifo = io.BytesIO(frame)
            self.readinto = fifo.readinto
            self.events = (len(frame) + SCRATCH - 1) // SCRATCH + 1
        else:
            fifo = io.BytesIO(frame[1:])
            self.memaddr = frame[0]
            self.view = memoryview(mem)[frame[0] : frame[0] + len(frame) - 1]
            self.fill = fifo.readinto
            self.events = 1
        self.rewind = fifo.seek
        self.next = None


def link_handler(target):
    """The IRQ handler a link gave `target` (a TargetSim) for the events it reads frames by."""
    if target.mem is not None:
        if not target._trigger & IRQ_END_WRITE:
            raise ValueError("the link's handler must take END_WRITE")
    elif target._trigger & (IRQ_WRITE_REQ | IRQ_END_WRITE) != IRQ_WRITE_REQ | IRQ_END_WRITE:
        raise ValueError("the link's handler must take WRITE_REQ and END_WRITE")
    return target._handler


def irq_frames_run(handler, frames, poll, core, mem=None):
    """A run() that puts each of `frames` (the bytes after the address byte) through
    `handler` (link_handler's), one call per event as the port's C code makes them, each
    frame from a stand-in target (a memory-mode one writing into `mem` when given), then calls
    poll(core) (the link's poll)."""
    write = _IrqStandIn(IRQ_WRITE_REQ)
    end = _IrqStandIn(IRQ_END_WRITE)
    count = len(frames) if mem else sum((len(f) + SCRATCH - 1) // SCRATCH + 1 for f in frames)
    queue = deque((), count)  # noqa: RUF037 (MicroPython's deque: maxlen by position only)
    sequence = []
    first = last = None
    for frame in frames:
        stand_in = _TargetStandIn(queue, frame, mem)
        sequence += [write] * (stand_in.events - 1) + [end]
        if last is None:
            first = stand_in
        else:
            last.next = stand_in
        last = stand_in
    # The queue, its events and the first frame as one name, and the frames as a chain: run's
    # frame, the names it closes over included, stays within MicroPython's 11 words off the
    # heap (tools/ci/frames.py).
    setup = (queue, tuple(sequence), first)

    def run():
        setup[0].extend(setup[1])
        stand_in = setup[2]
        while stand_in is not None:
            stand_in.rewind(0)
            if stand_in.view:
                stand_in.fill(stand_in.view)
            i = stand_in.events
            while i:
                handler(stand_in)
                i -= 1
            poll(core)
            stand_in = stand_in.next

    return run


def i2c_rx_setup(dest=8, mem=True):
    """An endpoint at 0x10 (its core, the TargetSim its link's handler was given, the link)
    and the 16 frames of a 1024-byte message from EID 9 (0x11) to EID `dest` (its own), as
    its target receives them (no address byte). The target is in memory mode (its memory:
    target.mem), as a board's, unless `mem` is False."""
    core = Core(eid=8)
    memory = bytearray(MEM_SIZE) if mem else None
    target = TargetSim(0x10, mem=memory)
    link = core.add_link(I2CLink(SimBus().controller(), target, 0x10, mem=memory))
    _Sink(core)
    frames = []
    for seq in range(16):
        flags = 0x08 | (seq & 3) << 4 | (0x80 if seq == 0 else 0) | (0x40 if seq == 15 else 0)
        body = (b"\x01" + bytes(63)) if seq == 0 else bytes(64)
        frame = bytearray(80)
        n = encode_frame(frame, 0x10, 0x11, bytes((1, dest, 9, flags)) + body)
        frames.append(bytes(frame[1:n]))
    return core, target, link, frames


def i2c_rx_run(mem=True):
    """The 16 frames of a 1024-byte message in, each through the IRQ handler, then poll; the
    target in memory mode unless `mem` is False."""
    core, target, link, frames = i2c_rx_setup(mem=mem)
    run = irq_frames_run(link_handler(target), frames, link.poll, core, target.mem)
    run()
    if link.counters.rx_frames != 16 or core.pool.in_use() or link.pending():
        raise AssertionError("the stand-in's frames did not all arrive")
    return run


def bridge_forward_run():
    """The 16 frames of a 1024-byte message from EID 9 (0x11) to EID 30 through a bridge at
    0x10: each through the in-link's IRQ handler, then poll, the forwarding and the out-link's
    send (every write acknowledged)."""
    from mctp.bridge import Forwarder  # noqa: PLC0415 (a bridge's part: measured last)

    core, target, link, frames = i2c_rx_setup(dest=30)
    Forwarder(core)
    out = core.add_link(I2CLink(_AckingI2C(), SimBus().target(0x10), 0x10))
    core.add_route(9, 9, link, 0x11)
    core.add_route(30, 30, out, 0x30)
    run = irq_frames_run(link_handler(target), frames, link.poll, core, target.mem)
    run()
    if core.counters.fwd_packets != 16 or link.pending() or out.counters.tx_frames != 16:
        raise AssertionError("the bridge did not forward every frame")
    return run


class BridgeEcho:
    """Echo's exchange with a bridge between the two stacks: the requester (EID 9) at 0x11 on
    one SimBus, the listener (EID 8) at 0x10 on another, the bridge (EID 20) at 0x20 on both.
    Every stack polls the other two while it waits, as tasks on one machine would."""

    def __init__(self, size):
        from mctp.bridge import Forwarder  # noqa: PLC0415 (a bridge's part: measured last)

        up, down = SimBus(), SimBus()
        bridge = Core(eid=20)
        Forwarder(bridge)
        bridge_up = bridge.add_link(I2CLink(up.controller(), up.target(0x20), 0x20))
        bridge_down = bridge.add_link(I2CLink(down.controller(), down.target(0x20), 0x20))
        bridge.add_route(9, 9, bridge_up, 0x11)
        bridge.add_route(8, 8, bridge_down, 0x10)
        server_a = self._end(down, 0x10, 8, 9)
        server_b = self._end(up, 0x11, 9, 8)
        server_bridge = Server(bridge)
        self.bridge = bridge

        def idle_a():
            server_bridge.poll()
            server_b.poll()

        def idle_b():
            server_bridge.poll()
            server_a.poll()

        self.listener = Stack(DirectClient(server_a, idle=idle_a)).listener(1)
        self.req = Stack(DirectClient(server_b, idle=idle_b)).req(8)
        self.resp = self.listener.resp_channel()
        self.meta = RecvMetadata()
        self.buf = bytearray(size)
        self.request = bytes(range(256)) * (size // 256) + bytes(size % 256)

    def _end(self, bus, addr, eid, peer):
        # The server of a stack at `addr` on `bus`, its route to `peer` through the bridge.
        core = Core(eid=eid)
        link = core.add_link(I2CLink(bus.controller(), bus.target(addr), addr))
        core.add_route(peer, peer, link, 0x20)
        return Server(core)

    run = Echo.run


class _AcceptingUart:
    # A line that takes every byte at once, so only our side of a send is timed (and brings
    # nothing to read).
    def write(self, buf, off, n):
        return n

    def any(self):
        return 0

    def readinto(self, buf, n):
        return 0


# The serial binding is imported by the functions that measure it: the Cortex-M0 bench (a 140 KB
# heap) runs its echoes before it, in the heap they had before there was a serial binding.


def serial_tx_run():
    """A 1024-byte message out through the serial binding: 16 packets of 64."""
    from mctp.serial import SerialLink  # noqa: PLC0415

    core = Core(eid=8)
    link = core.add_link(SerialLink(_AcceptingUart()))
    core.add_route(9, 9, link)
    message = bytes(1023)

    def run():
        core.send(9, 0x08, 1, message, 0, 1023)

    return run


class _UartStandIn:
    """machine.UART's reading side with `data` waiting, as SerialLink.poll reads it `most`
    bytes at a time: any() and readinto(buf, n) are C calls, as on a board (a deque's popleft
    that gives what the UART would answer, in turn; a BytesIO's readinto). rewind() puts the
    bytes and the answers back."""

    def __init__(self, data, most):
        self._bytes = io.BytesIO(data)
        answers = []
        waiting = len(data)
        while waiting:
            answers.append(waiting)
            waiting -= min(waiting, most)
        answers.append(0)
        self.answers = tuple(answers)
        self.waiting = deque((), len(answers))  # noqa: RUF037 (as in irq_frames_run)
        self.any = self.waiting.popleft
        self.seek = self._bytes.seek
        # CPython's BytesIO.readinto takes no count: there, a Python call does it.
        self.readinto = self._bytes.readinto if micropython else self._readinto_count

    def _readinto_count(self, buf, n):
        return self._bytes.readinto(memoryview(buf)[:n])


def serial_rx_run():
    """The 16 frames of a 1024-byte message from EID 9 in through one poll: reads, deframer,
    core. They wait in the UART as 74 bytes each (no byte to escape)."""
    from mctp.serial import CHUNK, SerialLink  # noqa: PLC0415
    from mctp.serial.framing import encode_frame  # noqa: PLC0415

    data = bytearray(16 * 74)
    for seq in range(16):
        flags = 0x08 | (seq & 3) << 4 | (0x80 if seq == 0 else 0) | (0x40 if seq == 15 else 0)
        body = (b"\x01" + bytes(63)) if seq == 0 else bytes(64)
        data[seq * 74 : seq * 74 + 74] = encode_frame(bytes((1, 8, 9, flags)) + body)
    core = Core(eid=8)
    uart = _UartStandIn(data, CHUNK)
    link = core.add_link(SerialLink(uart))
    _Sink(core)
    seek = uart.seek
    waiting = uart.waiting
    answers = uart.answers

    def run():
        seek(0)
        waiting.extend(answers)
        link.poll(core)

    run()
    if link.counters.rx_frames != 16 or len(waiting) or core.pool.in_use():
        raise AssertionError("the stand-in's frames did not all arrive")
    return run


def control_answer_run():
    """A Get Endpoint ID request frame into an endpoint at 0x1D, through its IRQ handler as
    i2c_rx_run's frames, answered through the I2C link to a controller that only acknowledges:
    receive, responder, transmit with PEC. With it, answered(): how many requests the
    responder answered."""
    core = Core(eid=9)
    mem = bytearray(MEM_SIZE)
    target = TargetSim(0x1D, mem=mem)
    link = core.add_link(I2CLink(_AckingI2C(), target, 0x1D, mem=mem))
    Server(core)
    responder = ControlResponder(core, bytes(16))
    request = bytearray(16)
    n = encode_frame(request, 0x1D, 0x10, b"\x01\x00\x08\xc8\x00\x80\x02")
    run = irq_frames_run(link_handler(target), [bytes(request[1:n])], link.poll, core, mem)

    def answered():
        return responder.counters.responses

    return run, answered


# RFC 6979 A.2.5's P-256 key and the digest of its message "sample".
ECDSA_KEY = bytes.fromhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
ECDSA_DIGEST = bytes.fromhex("AF2BDBE1AA9B6EC1E2ADE1D694F41FC71A831D0268E9891562113D8A62ADD1BF")


def ecdsa_sign_run():
    # (imported here: SPDM's part is not an endpoint's, and the figures before this one are
    # measured without it)
    from mctp.spdm.ecdsa import sign  # noqa: PLC0415

    def run():
        sign(ECDSA_KEY, ECDSA_DIGEST)

    return run


def spdm_challenge_run():
    # (host_tests/spdm_requester.py's rig and requester: the test chain and key, no files)
    sys.path.insert(0, __file__.rpartition("/")[0] + "/../host_tests")
    from spdm_requester import Requester, Rig  # noqa: PLC0415

    requester = Requester(Rig())
    requester.connect()
    requester.digests()
    requester.certificate()

    def run():
        answer = requester.challenge()[0]
        requester.answers.clear()
        if answer[1] != 0x03:  # CHALLENGE_AUTH
            raise AssertionError("CHALLENGE was answered %r" % answer[:4])

    return run


def pec_72_run():
    frame = bytearray(range(72))

    def run():
        pec(frame, 0, 72, 0)

    return run


def vs_pymctp_frame_codec_ratio(repeats):
    # Build then parse the same 64-byte-payload frame: ours, then pymctp's (CPython only).
    from pymctp.layers.mctp import (  # noqa: PLC0415 (a CPython-only dev dependency)
        Smbus7bitAddress,
        SmbusTransport,
        TransportHdrPacket,
    )

    packet = bytes((1, 9, 8, 0x88, 1)) + bytes(63)
    buf = bytearray(80)
    init = pec_init(0x1D)

    def ours():
        n = encode_frame(buf, 0x1D, 0x10, packet)
        received = buf[1:n]
        assert check_frame(received, n - 1, init) == 0
        return received[5], received[6] >> 7, bytes(received[8 : n - 2])

    def theirs():
        frame = bytes(
            SmbusTransport(
                dst_addr=Smbus7bitAddress(0x1D),
                src_addr=Smbus7bitAddress(0x10),
                load=TransportHdrPacket(packet),
            )
        )
        parsed = SmbusTransport(frame)
        return parsed.load.src, parsed.load.som, bytes(parsed.load)[5:]

    assert ours()[2] == theirs()[2]
    return rate(theirs, 500) and rate(ours, 500) / rate(theirs, 500)


def stack_ram_bytes():
    if micropython is not None:
        gc.collect()
        before = gc.mem_alloc()
        kept = endpoint(LoopbackBus(), 0x10, 8)
        gc.collect()
        used = gc.mem_alloc() - before
    else:
        tracemalloc.start()
        kept = endpoint(LoopbackBus(), 0x10, 8)
        used = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    del kept
    return used


def main():
    echo_1k = Echo(MAX_PAYLOAD_SIZE)
    ipc_echo = IpcEcho(MAX_PAYLOAD_SIZE)
    in_process, over_ipc = best_of_alternating((echo_1k.run, ipc_echo.run), 300, 8)
    ipc_echo.close()
    print("echo_1k_msgs_per_s: %.0f msg/s" % in_process)
    print("echo_64b_msgs_per_s: %.0f msg/s" % rate(Echo(63).run, 1000))
    print("ipc_echo_1k_msgs_per_s: %.0f msg/s" % over_ipc)
    print("ipc_over_echo_1k_ratio: %.2f ratio" % (over_ipc / in_process))
    print("packet_rx_us: %.1f us" % per_packet_us(packet_rx_run(), 1, 20000))
    print("i2c_tx_packet_us: %.1f us" % per_packet_us(i2c_tx_run(), 16, 1000))
    print("i2c_rx_packet_us: %.1f us" % per_packet_us(i2c_rx_run(), 16, 1000))
    print("i2c_fifo_rx_packet_us: %.1f us" % per_packet_us(i2c_rx_run(False), 16, 1000))
    print("serial_tx_packet_us: %.1f us" % per_packet_us(serial_tx_run(), 16, 1000))
    print("serial_rx_packet_us: %.1f us" % per_packet_us(serial_rx_run(), 16, 1000))
    print("pec_72_bytes_us: %.2f us" % per_packet_us(pec_72_run(), 1, 20000))
    run, answered = control_answer_run()
    print("control_answer_us: %.1f us" % per_packet_us(run, 1, 5000))
    assert answered() == 5001  # every request was answered
    if micropython is None:
        print("vs_pymctp_frame_codec_ratio: %.0f x" % vs_pymctp_frame_codec_ratio(500))
    if micropython is not None:
        print("alloc_bytes_per_1k_echo: %d bytes" % alloc_per_run(echo_1k.run, 20))
    async_echo = AsyncEcho(MAX_PAYLOAD_SIZE)
    async_echo.run(10)
    start = ticks_ms()
    async_echo.run(500)
    print("async_echo_1k_msgs_per_s: %.0f msg/s" % (500 * 1000 / ticks_diff(ticks_ms(), start)))
    if micropython is not None:
        async_echo.run(20, allocated=True)
        print("alloc_bytes_per_async_1k_echo: %d bytes" % (async_echo.allocated // 20))
    print("async_idle_polls_10s: %d polls" % idle_polls(10_000))
    print("stack_ram_bytes: %d bytes" % stack_ram_bytes())
    print("bridge_forward_packet_us: %.1f us" % per_packet_us(bridge_forward_run(), 16, 1000))
    bridge_echo = BridgeEcho(MAX_PAYLOAD_SIZE)
    print("bridge_echo_1k_msgs_per_s: %.0f msg/s" % rate(bridge_echo.run, 2000))
    if bridge_echo.bridge.counters.fwd_packets == 0:
        raise AssertionError("the echoes did not cross the bridge")
    print("ecdsa_p256_sign_ms: %.2f ms" % (per_packet_us(ecdsa_sign_run(), 1, 100) / 1000))
    print("spdm_challenge_ms: %.2f ms" % (per_packet_us(spdm_challenge_run(), 1, 100) / 1000))


def idle_polls(ms):
    """How often an endpoint's StackTask polls its stack over `ms` with nothing to do."""
    import asyncio  # noqa: PLC0415

    from mctp.aio import StackTask  # noqa: PLC0415

    task = StackTask(endpoint(LoopbackBus(64), 0x10, 8)[1])

    async def idle():
        running = asyncio.create_task(task.run())
        await asyncio.sleep(ms / 1000)
        running.cancel()

    asyncio.run(idle())
    return task.polls


if __name__ == "__main__":
    main()
