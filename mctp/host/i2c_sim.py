# An in-memory I2C bus for host tests and benchmarks: SimI2C and SimI2CTarget have the method
# names and the IRQ event order of machine.I2C and machine.I2CTarget, so I2CLink runs on them
# unchanged. A write to an address fires that target's IRQ handler with ADDR_MATCH_WRITE, then
# WRITE_REQ until the bytes are read, then END_WRITE.
#
# A read (readfrom_into), or a write then a read with a repeated start between them
# (readfrom_mem_into), fires what rp2 and stm32 fire: ADDR_MATCH_WRITE, WRITE_REQ..., END_WRITE
# (at the repeated start), ADDR_MATCH_READ, READ_REQ per byte, END_READ (at the stop).
#
# On hardware each device has its own CPU: a write's IRQs run on the target's device, not
# inside the controller's call. Here both share one CPU and one C stack, so a write is queued
# at its target (in order, with the reads) and its IRQs fire when the target's link polls
# (service()), just before the link reads its receive ring. The ring then holds what it would
# hold had the IRQs fired at once, since only poll() empties it; and one stack's receive never
# runs inside another's send, which would need a C stack no microcontroller has. A queue that
# fills up is delivered at once, as the hardware would.
#
# Faults for tests: addresses that do not answer (NACK: OSError ENODEV), lost arbitration
# (OSError EIO), corrupted bytes, truncated frames, and writes whose END_WRITE never comes.
# Without faults nothing allocates.

from .._compat import const
from ..bufcopy import copy_into
from ..i2c.ring import (
    IRQ_ADDR_MATCH_READ,
    IRQ_ADDR_MATCH_WRITE,
    IRQ_END_READ,
    IRQ_END_WRITE,
    IRQ_READ_REQ,
    IRQ_WRITE_REQ,
)

ENODEV = 19
EIO = 5

# What a target's queue holds, each as a 3-byte record (kind, length low, length high),
# followed for a write by the bytes written.
_WRITE = const(1)
_WRITE_NO_END = const(2)  # a write whose END_WRITE is lost (a fault)
_READ = const(3)
_RECORD = const(3)
QUEUE_BYTES = const(2048)  # per target: a 1 KiB message at any MTU
_MAX_WRITE = const(300)  # longer writes (hostile ones) are delivered at once


class _Irq:
    # What I2CTarget.irq() returns: flags() tells which events the handler runs for.
    def __init__(self):
        self._flags = 0

    def flags(self):
        return self._flags


class TargetSim:
    """The part of machine.I2CTarget that MCTP uses, fed by a simulated bus."""

    IRQ_ADDR_MATCH_READ = IRQ_ADDR_MATCH_READ
    IRQ_ADDR_MATCH_WRITE = IRQ_ADDR_MATCH_WRITE
    IRQ_READ_REQ = IRQ_READ_REQ
    IRQ_WRITE_REQ = IRQ_WRITE_REQ
    IRQ_END_READ = IRQ_END_READ
    IRQ_END_WRITE = IRQ_END_WRITE

    def __init__(self, addr, fifo=16, mem=None):
        self.addr = addr
        self.fifo = fifo  # bytes one readinto may return: 16 like rp2, 1 like stm32
        self.mem = mem  # memory mode: writes land in mem at the register address
        self.memaddr = 0  # memory mode: the register address of the last write
        self._irq = _Irq()
        self._handler = None
        self._trigger = 0
        self._data = None
        self._length = 0
        self._pos = 0

    def irq(self, handler=None, trigger=IRQ_END_READ | IRQ_END_WRITE, hard=False):
        if handler is not None:
            self._handler = handler
            self._trigger = trigger
        return self._irq

    def readinto(self, buf):
        count = self._length - self._pos
        count = min(count, len(buf))
        count = min(count, self.fifo)
        copy_into(buf, 0, self._data, self._pos, count)
        self._pos += count
        return count

    def write(self, buf):
        return len(buf)  # a controller reading from us gets these bytes; MCTP never reads

    def deinit(self):
        self._handler = None

    def _fire(self, event):
        if self._handler is not None and self._trigger & event:
            self._irq._flags = event
            self._handler(self)

    def _written(self, data, length, end=True):
        # A controller wrote data[:length] (the bytes after the address byte) to us; `end`
        # False loses the END_WRITE (a fault).
        if self.mem is not None:
            self._written_to_mem(data, length, end)
            return
        self._data = data
        self._length = length
        self._pos = 0
        self._fire(IRQ_ADDR_MATCH_WRITE)
        rounds = 0
        while self._pos < length and rounds <= length:
            self._fire(IRQ_WRITE_REQ)
            rounds += 1
        if end:
            self._fire(IRQ_END_WRITE)
        self._data = None

    def _read(self, length):
        # A controller reads `length` bytes from us.
        self._fire(IRQ_ADDR_MATCH_READ)
        for _ in range(length):
            self._fire(IRQ_READ_REQ)
        self._fire(IRQ_END_READ)

    def _written_to_mem(self, data, length, end):
        # As MicroPython's extmod/machine_i2c_target.c with mem_addrsize=8: the first byte is
        # the register address (modulo the memory's size), the rest is stored from there on,
        # wrapping at the memory's end; END_WRITE comes after a write with bytes after the
        # register, or with none at all (an address-only write, as stm32 reports it), not after
        # the register alone.
        if length:
            at = data[0] % len(self.mem)
            self.memaddr = at
            if length == 1:
                return
            for i in range(1, length):
                self.mem[at] = data[i]
                at = (at + 1) % len(self.mem)
        if end:
            self._fire(IRQ_END_WRITE)


class SimI2CTarget(TargetSim):
    """A target on a SimBus: what controllers do to it waits in a queue of `queue` bytes until
    service() fires the IRQs for it (I2CLink.poll calls it), all of it whatever `room`."""

    def __init__(self, bus, addr, fifo=16, mem=None, queue=QUEUE_BYTES):
        super().__init__(addr, fifo, mem)
        # Records one after another from the start; service() delivers them all and starts
        # the queue again from the start.
        self._queue = bytearray(queue)
        self._head = 0  # the next record to deliver
        self._tail = 0  # where the next record goes
        # When given, set() whenever something is queued: a board's IRQ runs at once and sets
        # its link's wake flag; here the IRQs wait for the link's poll, so the stack task
        # that polls it is told directly (mctp.aio).
        self.wake = None
        self._frame = bytearray(_MAX_WRITE)
        bus.targets.append(self)

    def service(self, room=0):
        # `room` is for targets that hold frames back while the ring is full (UdpI2CTarget);
        # a hardware target does not wait, so neither does this one.
        queue = self._queue
        while self._head < self._tail:
            kind = queue[self._head]
            length = queue[self._head + 1] | queue[self._head + 2] << 8
            self._head += _RECORD
            if kind == _READ:
                self._read(length)
            else:
                copy_into(self._frame, 0, queue, self._head, length)
                self._head += length
                self._written(self._frame, length, kind == _WRITE)
        self._head = self._tail = 0

    def _enqueue(self, kind, data, length):
        if self._tail + _RECORD + length > len(self._queue):
            self.service()  # full: the IRQs fire now, as they would have on hardware
        if kind == _READ:
            self._put_record(kind, length)
        elif length > len(self._frame):
            self._written(data, length, kind == _WRITE)  # longer than any frame: at once
        else:
            self._put_record(kind, length)
            copy_into(self._queue, self._tail, data, 0, length)
            self._tail += length
        if self.wake is not None:
            self.wake.set()

    def _put_record(self, kind, length):
        queue = self._queue
        queue[self._tail] = kind
        queue[self._tail + 1] = length & 0xFF
        queue[self._tail + 2] = length >> 8
        self._tail += _RECORD


class SimI2C:
    """The controller side: writeto(addr, buf) like machine.I2C."""

    def __init__(self, bus):
        self.bus = bus
        # The bus's own method: machine.I2C.writeto is C, no frame more here ([c-stack]).
        self.writeto = bus._write

    def readfrom_into(self, addr, buf, stop=True):
        self.bus._target_at(addr)._enqueue(_READ, None, len(buf))
        for i in range(len(buf)):
            buf[i] = 0xFF  # what an MCTP target answers a read with

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        # Write the register address, repeated start, read.
        self.bus._write(addr, bytes((memaddr,)))
        self.readfrom_into(addr, buf)


class SimBus:
    def __init__(self):
        self.targets = []
        self.absent = []  # addresses that NACK as if nobody were there
        self.arbitration_losses = 0  # the next writes that lose arbitration
        self.corrupt_frames = 0  # the next frames get byte `corrupt_at` xor 0x01
        self.corrupt_at = 5
        self.truncate_frames = 0  # the next frames stop after `truncate_to` bytes
        self.truncate_to = 6
        self.lose_end_writes = 0  # the next frames' END_WRITE never reaches the target
        self.frames = 0  # frames delivered
        # tap(addr, buf, length) sees every frame delivered (for tests; it may allocate)
        self.tap = None
        self._scratch = bytearray(300)

    def controller(self):
        return SimI2C(self)

    def target(self, addr, fifo=16, mem=None):
        return SimI2CTarget(self, addr, fifo, mem)

    def find(self, addr):
        targets = self.targets
        i = 0
        while i < len(targets):
            if targets[i].addr == addr:
                return targets[i]
            i += 1
        return None

    def _target_at(self, addr):
        if self.arbitration_losses:
            self.arbitration_losses -= 1
            raise OSError(EIO)
        target = self.find(addr)
        if target is None or addr in self.absent:
            raise OSError(ENODEV)
        return target

    def _write(self, addr, buf, stop=True):
        target = self._target_at(addr)
        length = len(buf)
        if self.corrupt_frames or self.truncate_frames or self.lose_end_writes:
            return self._write_faulty(target, buf, length)
        self.frames += 1
        if self.tap is not None:
            self.tap(addr, buf, length)
        target._enqueue(_WRITE, buf, length)
        return length

    def _write_faulty(self, target, buf, length):
        data = self._scratch
        copy_into(data, 0, buf, 0, length)
        if self.corrupt_frames:
            self.corrupt_frames -= 1
            if self.corrupt_at < length:
                data[self.corrupt_at] ^= 0x01
        elif self.truncate_frames:
            self.truncate_frames -= 1
            length = min(length, self.truncate_to)
        self.frames += 1
        target._enqueue(_WRITE if self._end_write() else _WRITE_NO_END, data, length)
        return len(buf)  # the sender cannot tell: every byte it sent was acknowledged

    def _end_write(self):
        # Whether this frame's END_WRITE reaches the target.
        if self.lose_end_writes:
            self.lose_end_writes -= 1
            return False
        return True
