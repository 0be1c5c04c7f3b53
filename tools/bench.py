"""Benchmarks, one `name: value unit` line per figure.

    python3 tools/bench.py        # CPython
    micropython tools/bench.py    # the MicroPython unix port (or a board, with the package on it)

Figures:
  echo_1k_msgs_per_s       1024-byte request + 1024-byte response exchanges per second between
                           two stacks on the loopback bus at a 64-byte MTU (16 packets each way),
                           through the Stack facade, DirectClient, wire codec, server and core
  echo_64b_msgs_per_s      the same with 64-byte messages (one packet each way)
  packet_rx_us             one 64-byte packet into the core (header checks, reassembly copy)
  alloc_bytes_per_1k_echo  MicroPython: bytes allocated per 1 KiB echo after warm-up
                           (micropython.mem_total); CPython has no such counter
  stack_ram_bytes          heap taken by one default-configured stack: core, server and a
                           loopback link (MicroPython: gc.mem_alloc; CPython: tracemalloc)
"""

import gc
import sys

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
from mctp.core import Core  # noqa: E402
from mctp.direct import DirectClient  # noqa: E402
from mctp.loopback import LoopbackBus  # noqa: E402
from mctp.server import Server  # noqa: E402
from mctp.wire import MAX_PAYLOAD_SIZE  # noqa: E402


def endpoint(bus, phys, eid):
    core = Core(eid=eid)
    core.add_link(bus.attach(phys))
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


def packet_rx_us(repeats):
    core = Core(eid=8)
    link = core.add_link(LoopbackBus().attach(0x10))

    class Sink:
        def accept_request(self, msg_type):
            return 0

        def deliver(self, slot):
            core.release(slot)

    core.sink = Sink()
    first = bytearray(b"\x01\x08\x09\x88\x01" + bytes(63))  # SOM, 64 payload bytes
    middle = bytearray(b"\x01\x08\x09\x18" + bytes(64))
    core.receive(link, first, 0, 68, 0x11)
    seq = 1
    start = ticks_ms()
    i = 0
    while i < repeats:
        middle[3] = 0x08 | seq << 4
        core.receive(link, middle, 0, 68, 0x11)
        seq = (seq + 1) & 3
        if core.pool.in_use() == 0 or core.pool.slots[0].length > 900:
            core.release(core.pool.slots[0])
            core.receive(link, first, 0, 68, 0x11)
            seq = 1
        i += 1
    return ticks_diff(ticks_ms(), start) * 1000 / repeats


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
    print("echo_1k_msgs_per_s: %.0f msg/s" % rate(echo_1k.run, 2000))
    print("echo_64b_msgs_per_s: %.0f msg/s" % rate(Echo(63).run, 1000))
    print("packet_rx_us: %.1f us" % packet_rx_us(20000))
    if micropython is not None:
        print("alloc_bytes_per_1k_echo: %d bytes" % alloc_per_run(echo_1k.run, 20))
    print("stack_ram_bytes: %d bytes" % stack_ram_bytes())


main()
