# Where the emulated Cortex-M0's instructions go: the unit costs of MicroPython's bytecode and
# viper on this core, and the parts of the bench's paths (tools/ci/qemu/bench_m0.py), each as a
# `name: value unit` line. It backs the breakdown in docs/performance.md and is the place to
# measure the next step. Run it on the board image (`make cost-m0`, or
# `python3 tools/ci/baremetal.py run MICROBIT tools/ci/qemu/cost_m0.py`). Each figure is the
# instructions of one run of a small function, less those of calling an empty one.

import io
from collections import deque
from time import ticks_diff, ticks_us

import micropython

import bench
from bench_m0 import calibrate, instructions
from mctp.bufcopy import copy_into
from mctp.core.packet import FLAG_SOM
from mctp.counters import Counters
from mctp.core.core import DROPS, EVENTS
from mctp.host.i2c_sim import SimBus
from mctp.i2c import MEM_SIZE, I2CLink
from mctp.i2c.ring import from_memory
from mctp.i2c.pec import pec_span
from mctp.i2c.smbus import check_frame, pec_init

_len = len


class _Object:
    # An object with as many fields as the stack's busiest ones (the core, a link).
    def __init__(self):
        for i in range(30):
            setattr(self, "field%d" % i, i)
        self.x = 1
        self.counters = Counters(DROPS + EVENTS)

    def method(self):
        pass


def _nothing():
    pass


@micropython.viper
def _viper_nothing():
    pass


def unit_costs(per_tick):
    obj = _Object()
    buf = bytearray(80)
    src = bytearray(1100)
    dst = bytearray(1100)
    base = instructions(_nothing, 200, per_tick)

    def figure(name, run, repeats=100):
        print("%s: %d instr" % (name, instructions(run, repeats, per_tick) - base))

    def call():
        _nothing()

    def call_method():
        obj.method()

    def call_viper():
        _viper_nothing()

    figure("m0_call_instr", call)
    figure("m0_method_call_instr", call_method)
    figure("m0_viper_call_instr", call_viper)

    def read_attribute():
        return obj.x

    def write_attribute():
        obj.x = 1

    def count():
        obj.counters.rx_packets += 1

    def read_global():
        return FLAG_SOM

    def call_len():
        return len(buf)

    def call_len_global():
        return _len(buf)

    def subscript():
        return buf[3]

    figure("m0_attribute_read_instr", read_attribute)
    figure("m0_attribute_write_instr", write_attribute)
    figure("m0_counter_increment_instr", count)
    figure("m0_global_read_instr", read_global)
    figure("m0_builtin_len_instr", call_len)
    figure("m0_len_from_globals_instr", call_len_global)
    figure("m0_bytearray_subscript_instr", subscript)

    def copy_none():
        copy_into(dst, 0, src, 0, 0)

    def copy_aligned():
        copy_into(dst, 0, src, 0, 1024)

    def copy_unaligned():
        copy_into(dst, 1, src, 2, 1024)

    figure("m0_copy_call_instr", copy_none)
    start = instructions(copy_none, 20, per_tick)
    aligned = (instructions(copy_aligned, 20, per_tick) - start) / 1024
    unaligned = (instructions(copy_unaligned, 20, per_tick) - start) / 1024
    print("m0_copy_aligned_per_byte_instr: %.1f instr" % aligned)
    print("m0_copy_unaligned_per_byte_instr: %.1f instr" % unaligned)


def stand_in_costs(per_tick):
    """What the receive figures' stand-ins cost a call, beside C calls of the shapes a board's
    are (docs/baremetal.md): I2CTarget.irq() parses its keyword arguments (as list.sort does),
    the IRQ object's flags() and UART.any() are C methods of no argument that answer a small
    int (as BytesIO.tell), the FIFO's and the UART's readinto are C stream reads."""
    base = instructions(_nothing, 200, per_tick)
    queue = deque((), 110)  # noqa: RUF037 (MicroPython's deque: maxlen by position only)
    write = bench._IrqStandIn(8)
    target = bench._TargetStandIn(queue, bytes(16 * 110), None)
    uart = bench._UartStandIn(bytes(128 * 110), 128)
    scratch = bytearray(16)
    chunk = bytearray(128)
    empty = []
    stream = io.BytesIO(bytes(128 * 110))

    def figure(name, run, repeats=100):
        print("%s: %d instr" % (name, instructions(run, repeats, per_tick) - base))

    def c_kw_method():
        empty.sort()

    def c_method():
        stream.tell()

    def c_readinto_16():
        stream.readinto(scratch)

    def c_readinto_128():
        stream.readinto(chunk, 128)

    figure("m0_c_kw_method_instr", c_kw_method)
    figure("m0_c_method_instr", c_method)
    stream.seek(0)
    figure("m0_c_readinto_16_instr", c_readinto_16)
    stream.seek(0)
    figure("m0_c_readinto_128_instr", c_readinto_128)

    def irq_flags():
        target.irq().flags()

    def fifo_readinto():
        target.readinto(scratch)

    def rewind():
        target.rewind(0)

    def uart_any():
        uart.any()

    def uart_readinto():
        uart.readinto(chunk, 128)

    queue.extend((write,) * 101)
    figure("m0_standin_irq_flags_instr", irq_flags)
    figure("m0_standin_readinto_16_instr", fifo_readinto)
    figure("m0_standin_rewind_instr", rewind)
    uart.waiting.extend(range(101))
    figure("m0_standin_uart_any_instr", uart_any)
    figure("m0_standin_uart_readinto_128_instr", uart_readinto)

    # The driver's own share of a frame: a 72-byte frame's six events and its poll, with C
    # identity calls for the handler and the poll (the rewind, the loop, the queue's refill,
    # seven calls' bytecode and their C).
    frame = bytes(72)
    run = bench.irq_frames_run(micropython.const, [frame], micropython.const, None)
    figure("m0_rx_fifo_driver_per_frame_instr", run)
    # The same in memory mode: the frame's one C write into the memory, one event.
    run = bench.irq_frames_run(
        micropython.const, [frame], micropython.const, None, bytearray(MEM_SIZE)
    )
    figure("m0_rx_driver_per_frame_instr", run)


def path_costs(per_tick):
    base = instructions(_nothing, 200, per_tick)
    # Receive: the IRQ's share of one frame (its six events through the handler, as
    # bench.i2c_rx_run makes them, the frame then dropped before poll), then poll's per frame
    # kind.
    core, target, link, frames = bench.i2c_rx_setup()
    middle = frames[1]
    handler = bench.link_handler(target)

    def drop(core):
        link._r = link._w

    irq_only = bench.irq_frames_run(handler, [middle], drop, core, target.mem)
    print("m0_rx_irq_per_frame_instr: %d instr" % instructions(irq_only, 50, per_tick))

    mem = bytearray(MEM_SIZE)
    copied = bytearray(80)

    def copy_out():
        mem[15] = 68  # (zeroed by each copy)
        from_memory(mem, 15, copied, 78)

    print("m0_rx_from_memory_instr: %d instr" % (instructions(copy_out, 100, per_tick) - base))

    frame = bytearray(middle)
    init = pec_init(0x10)

    def check():
        check_frame(frame, len(middle), init)

    print("m0_rx_frame_check_instr: %d instr" % (instructions(check, 100, per_tick) - base))

    # poll, per frame kind: the 16 frames of a message, each polled alone, 10 times over.
    arrive = [
        bench.irq_frames_run(handler, [frame], micropython.const, core, target.mem)
        for frame in frames
    ]
    polls = [0] * 16
    for _ in range(10):
        for i in range(16):
            arrive[i]()
            start = ticks_us()
            link.poll(core)
            polls[i] += ticks_diff(ticks_us(), start)
    first, last = polls[0] * per_tick / 10, polls[15] * per_tick / 10
    middle_polls = sum(polls[1:15]) * per_tick / 140
    print("m0_rx_poll_first_packet_instr: %d instr" % first)
    print("m0_rx_poll_middle_packet_instr: %d instr" % middle_polls)
    print("m0_rx_poll_last_packet_instr: %d instr" % last)

    # Send: the I2C link's transmit of a 68-byte packet (its frame sealed, the PEC, the bench's
    # acknowledging controller's writeto, a counter), that stand-in's writeto alone, and the PEC
    # loop the seal calls (72 bytes).
    link = I2CLink(bench._AckingI2C(), SimBus().target(0x10), 0x10)
    link.transmit(68, 0x11)
    view = link._tx_view  # (as that transmit left it: the 72 bytes it wrote)

    def transmit():
        link.transmit(68, 0x11)

    def writeto():
        link._i2c.writeto(0x11, view)

    def pec_loop():
        pec_span(link.tx_buf, 0, 72 << 8)

    print("m0_tx_i2c_transmit_instr: %d instr" % (instructions(transmit, 100, per_tick) - base))
    print("m0_tx_standin_writeto_instr: %d instr" % (instructions(writeto, 100, per_tick) - base))
    print("m0_tx_pec_span_72_instr: %d instr" % (instructions(pec_loop, 100, per_tick) - base))


def main():
    per_tick = calibrate()
    unit_costs(per_tick)
    stand_in_costs(per_tick)
    path_costs(per_tick)


main()
