# Allocation discipline on the packet paths, proven on the MicroPython unix port: the paths run
# with the heap locked (any allocation raises MemoryError), after one warm-up. On CPython the
# same tests check what the paths compute, and one more checks the frame sizes MicroPython
# reports, because a heap-allocated frame does not show under heap_lock (the VM then falls back
# to the C stack) yet costs an allocation on every call when the heap is unlocked.

import os
import sys

from endpoints import Drain, FakeClock, echo_into, firmware_app, frame_writes, network, pattern
from testing import IS_MICROPYTHON, heap_locked, skip

from mctp import RecvMetadata
from mctp.config import Config
from mctp.core import Core
from mctp.host.i2c_sim import SimBus
from mctp.host.loopback import LoopbackBus
from mctp.core.packet import build_packets
from mctp.constants import MAX_PAYLOAD_SIZE


def test_1k_echo_with_the_heap_locked():
    a, b = network(mtu=64)
    listener = a.stack.listener(1)
    req = b.stack.req(8)
    resp = listener.resp_channel()
    meta = RecvMetadata()
    buf = bytearray(MAX_PAYLOAD_SIZE)
    request = pattern(MAX_PAYLOAD_SIZE, 3)
    echo_into(req, listener, resp, meta, buf, request)  # warm up
    packets_before = a.core.counters.rx_packets + b.core.counters.rx_packets
    buf[:] = bytes(MAX_PAYLOAD_SIZE)
    with heap_locked():
        size = echo_into(req, listener, resp, meta, buf, request)
    assert size == MAX_PAYLOAD_SIZE
    assert bytes(buf) == request
    assert meta.remote_eid == 8
    assert a.core.counters.rx_packets + b.core.counters.rx_packets - packets_before == 32
    assert a.core.counters.internal_error == b.core.counters.internal_error == 0


def _inject_all(core, link, packets, buf):
    i = 0
    while i < len(packets):
        length = len(packets[i])
        buf[: len(packets[i])] = packets[i]
        core.receive(link, buf, 0, length, 0x1D)
        i += 1


class _Sink:
    def __init__(self, core):
        self.core = core
        self.delivered = 0
        core.sink = self

    def accept_request(self, msg_type):
        return 1 if msg_type == 1 else -1

    def deliver(self, slot):
        self.delivered += 1
        self.core.release(slot)
        return True


def test_every_drop_path_with_the_heap_locked():
    clock = FakeClock(0)
    core = Core(Config(), 8, clock)
    link = core.add_link(LoopbackBus().attach(0x10))
    sink = _Sink(core)
    packets = [
        b"\x01\x08",  # short
        b"\x02\x08\x09\xc8\x01",  # bad version
        b"\x01\x0a\x09\xc8\x01",  # not for us
        b"\x01\x08\x03\xc8\x01",  # reserved source
        b"\x01\x08\x09\xc8\x02",  # no listener
        b"\x01\x08\x09\xc0\x01",  # unsolicited response
        b"\x01\x08\x09\x58\x01",  # continuation without a start
        b"\x01\x08\x09\x88\x01" + bytes(63),  # a start ...
        b"\x01\x08\x09\x28" + bytes(64),  # ... then a sequence gap
        b"\x01\x08\x09\xc8\x01" + bytes(20),  # and one good message
    ]
    buf = bytearray(80)
    _inject_all(core, link, packets, buf)  # warm up
    core.counters.reset()
    with heap_locked():
        _inject_all(core, link, packets, buf)
        clock.advance(7000)
        core.poll()
    counters = core.counters
    assert (counters.short, counters.bad_version, counters.not_for_us, counters.bad_src) == (
        1,
        1,
        1,
        1,
    )
    assert (counters.no_listener, counters.unsolicited, counters.no_som, counters.bad_seq) == (
        1,
        1,
        1,
        1,
    )
    assert sink.delivered == 2
    assert counters.internal_error == 0
    assert core.pool.in_use() == 0


def test_timeouts_with_the_heap_locked():
    a, b = network()
    listener = a.stack.listener(1)
    req = b.stack.req(8, 50)
    meta = RecvMetadata()
    buf = bytearray(64)
    req.send(1, b"first")
    listener.recv_into(buf, meta)
    b.core.open_flow(8, owner=9)  # a flow that will expire
    with heap_locked():
        b.clock.advance(6000)
        b.server.poll()
    assert b.core.counters.tag_expired == 2


# Frame sizes (CPython runs the MicroPython unix port to read them).

# Functions allowed a heap frame, none on a packet path: constructors (run once), comprehensions
# (they allocate their result anyway, which the heap_lock tests catch on a packet path), and
# these set-up, REPL and tool functions.
ALLOWED_NAMES = ("__init__", "<listcomp>", "<genexpr>")
ALLOWED = {
    ("mctp/core/packet.py", "describe"),  # traces and tools
    ("mctp/i2c/link.py", "_attach"),  # I2CLink's constructor's (a target's IRQ, once)
    ("mctp/i2c/link.py", "_length_word_at"),  # I2CLink's constructor's (its view's, once)
    ("mctp/server/server.py", "open_handles"),  # show() and the REPL
    ("mctp/core/packet.py", "build_packets"),  # tools and tests
    ("mctp/serial/framing.py", "decode_frame"),  # tools and tests
    ("mctp/host/serial_pipe.py", "apply"),  # fault injection, which allocates anyway
    ("mctp/core/routes.py", "add"),  # configuration
    # A bridge taking a route from its bus owner's Routing Information Update (through add,
    # whose frame is on the heap anyway; a full table raises there).
    ("mctp/bridge/control.py", "_learn_route"),
    ("mctp/_compat.py", "format_exception"),  # a fault's traceback, once
    # A capture read out at the REPL or by a tool, after the packets.
    ("mctp/capture.py", "records"),
    ("mctp/capture.py", "dump"),
    # (a client's disconnect, which a board's UART has none of, and the REPL's counters)
    ("mctp/ipc/service.py", "_add_counts"),
    ("mctp/host/ipc_sockets.py", "_clear_stale"),  # a listener's set-up
    # A listener's set-up, a connect, and a connection accepted (accept() raises when nobody
    # waits, and the raise allocates its OSError whatever the frame).
    ("mctp/host/ipc_sockets.py", "unix"),
    ("mctp/host/ipc_sockets.py", "tcp"),
    ("mctp/host/ipc_sockets.py", "_connected"),
    ("mctp/host/ipc_sockets.py", "_connect_once"),
    ("mctp/host/ipc_sockets.py", "_accept"),
    ("mctp/host/ipc_sockets.py", "_admit"),
    # Coroutines, allocated at each call whatever their size.
    ("mctp/aio/watch.py", "readable"),
    ("mctp/aio/watch.py", "writable"),
}
# Modules that run no packet path: control requests from the REPL and bus-owner set-up (a
# bridge's downstream one too, mctp/control/pool.py: its steps run beside the poll loop).
# mctp/server/audit.py checks invariants for tests and the REPL; mctp/host/i2c_udp.py and
# i2c_hub.py are host simulations that allocate per datagram anyway, mctp/host/serial_stream.py a
# host stream that allocates per read and write on CPython, and mctp/host/pcap.py writes a
# capture, allocating per packet while one is on (a link no capture watches keeps its own
# paths). The asyncio layer's stack task and its channels' other calls (entering, closing,
# those over an awaitable client) are coroutines, whose state MicroPython keeps in a generator
# allocated at each call
# (the stack task's once) whatever its size; the packet path under them is the blocking API's,
# checked here, and test_aio_task runs the IRQ-to-task path with the heap locked; the awaitable
# clients (mctp/aio/ipc.py, linux.py) are coroutines over the blocking clients' steps;
# mctp/aio/_cpython.py is the asyncio layer's CPython forms, which MicroPython never runs.
# mctp/linux is a client of the Linux kernel's stack, where every receive allocates the bytes and the address
# recvfrom() returns (MicroPython's socket has no recvfrom_into), and no packet passes.
# mctp/spdm/ecdsa.py signs, off any packet path: every big-int operation there allocates its
# result anyway; the rest of mctp/spdm answers attestation requests (hashes, certificate
# portions, signatures), a few per connection, never a packet.
ALLOWED_MODULES = (
    "mctp/control/requester.py",
    "mctp/control/bus_owner.py",
    "mctp/control/pool.py",
    "mctp/aio/control.py",
    "mctp/server/audit.py",
    "mctp/host/i2c_udp.py",
    "mctp/host/i2c_hub.py",
    "mctp/host/serial_stream.py",
    "mctp/host/pcap.py",
    "mctp/aio/stack.py",
    "mctp/aio/task.py",
    "mctp/aio/ipc.py",
    "mctp/aio/linux.py",
    "mctp/aio/_cpython.py",
    "mctp/linux/client.py",
    "mctp/linux/netlink.py",
    "mctp/linux/sockets.py",
    "mctp/spdm/ecdsa.py",
    "mctp/spdm/certs.py",
    "mctp/spdm/measurements.py",
    "mctp/spdm/messages.py",
    "mctp/spdm/responder.py",
)


def test_no_packet_path_function_has_a_heap_frame():
    if IS_MICROPYTHON:
        skip("reads frame sizes by running the unix port from CPython")
    ci_tools = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "ci"
    )
    sys.path.insert(0, ci_tools)
    try:
        import frames  # noqa: PLC0415 (tools/ci/ is on the path only here)
    finally:
        sys.path.remove(ci_tools)
    found = frames.frames(frames.package_modules())
    assert len(found) > 100  # the unix port reported the package's functions
    on_heap = {
        (path, name)
        for path, name, n_state, n_exc in found
        if frames.on_heap(n_state, n_exc)
        and name not in ALLOWED_NAMES
        and path not in ALLOWED_MODULES
    }
    assert on_heap - ALLOWED == set()


def _hostile_sequence(i2c, app, drain, clock, frames, read_buf):
    for frame in frames:
        if frame is None:  # a bus scan: an address-only write, then a one-byte read
            i2c.writeto(0x1D, b"")
            i2c.readfrom_into(0x1D, read_buf)
        else:
            i2c.writeto(0x1D, frame)
        app.poll()
        drain.take()
    clock.advance(7000)  # what was left unfinished, and unanswered routes, expire
    app.poll()
    drain.take()


def test_the_defences_allocate_nothing():
    # Eviction, the control slot, aborts after a lost frame, duplicate (source, tag) answers,
    # reply-route expiry, probes and interrupted writes, with the heap locked.
    bus = SimBus()
    clock = FakeClock(1000)
    app = firmware_app(bus, clock)
    drain = Drain(bus.target(0x10))
    echo = b"\xff\xff" + pattern(300)
    packets = []
    for i in range(4):  # unfinished messages fill the pool
        packets.append(build_packets(20 + i, 9, 8, 0x7E if i % 2 else 0x01, echo)[0])
    packets += build_packets(8, 9, 8 | 5, 0x00, b"\x80\x02")  # Get EID: the control slot
    packets += build_packets(8, 9, 8 | 1, 0x7E, echo)  # evicts the oldest
    frames = frame_writes(packets)
    frames += frame_writes(build_packets(8, 9, 8 | 2, 0x7E, echo, mtu=32), bad_pec_at=3)  # aborted
    frames.append(None)  # a bus scan
    for _ in range(2):  # one (source, tag) twice
        frames += frame_writes(build_packets(8, 9, 8 | 3, 0x7E, echo))
    frames += frame_writes(build_packets(8, 9, 8 | 4, 0x7E, b"\x12\x34"))  # never answered
    read_buf = bytearray(1)
    i2c = bus.controller()
    _hostile_sequence(i2c, app, drain, clock, frames, read_buf)  # warm up
    for counters in app.counters().values():
        counters.reset()
    before = drain.frames
    with heap_locked():
        _hostile_sequence(i2c, app, drain, clock, frames, read_buf)
    core = app.core.counters
    assert core.internal_error == 0 and app.link.counters.irq_errors == 0 and app.faults == 0
    # The fourth unfinished message is evicted; the lost frame aborts the other three and the
    # message it was part of; the request never answered has its route expire.
    assert (core.evicted, core.aborted, core.reply_expired) == (1, 4, 1)
    link = app.link.counters
    assert (link.bad_pec, link.probes, link.read_requests) == (1, 1, 1)
    assert app.control.counters.responses == 1
    assert (app.echo.counters.echoed, app.echo.counters.other_vendor) == (3, 1)
    assert drain.frames - before == 1 + 3 * 5  # Get EID, three 5-packet echoes
    assert app.server.check() == []
