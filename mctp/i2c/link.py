# The SMBus/I2C binding (DSP0237) over MicroPython's machine.I2C (controller, to send) and
# machine.I2CTarget (target, to receive; firmware 1.26 or later). Every endpoint is both: wire
# a controller and a target peripheral to the same bus (rp2: I2C(0) + I2CTarget(1); stm32:
# I2C1 + I2C2).
#
# Send: the core writes the packet into tx_buf[4:], transmit() adds addresses, command, count
#   and PEC around it and writes frame[1:] with I2C.writeto (the controller sends the address
#   byte itself), retrying a bounded number of times on NACK or lost arbitration (OSError).
#   A message's packets go out one after another from one call, so they are never interleaved
#   with another message to the same peer.
# Receive: a hard IRQ handler moves bytes into a preallocated ring of frame buffers
#   (core.link.RingLink) and, at the end of each write, checks the frame (count, command,
#   source bit, PEC, header version) and queues it or counts why not. poll() hands queued
#   packets to the core outside the IRQ. With a memory-mode target (`mem`), the port collects
#   each write in C and the handler runs once a frame, at its end, instead of once per FIFO
#   load (rp2's target interrupts per byte): what a board uses.
#
# Nothing here allocates per packet, and no exception leaves the IRQ handler (MicroPython
# disables a handler for good after one).

import sys
from struct import calcsize

from .._compat import const
from ..counters import Counters
from ..core.link import RX_FULL, RingLink
from .ring import (
    EVENT_PROBE,
    EVENT_READ,
    EVENT_REASON,
    POS_BYTES,
    SCRATCH,
    poll,
    position,
    set_position,
    take,
)
from .neighbours import Neighbours
from ..core.packet import BASELINE_MTU, MAX_MTU, TRANSPORT_HEADER_SIZE
from .smbus import (
    DROP_NAMES,
    RING_FULL,
    TOO_LONG,
    check_address,
    check_frame,
    pec_init,
    seal_frame,
)

# A frame's bytes, its end, and reads (ring's IRQ flags, [const-copy]). The write position is
# reset at each frame's end rather than at its address match: one handler call less a frame.
_TRIGGERS = const(4 | 8 | 32)
# A memory-mode target's: a frame's end and a read's (the port answers reads from mem).
_MEM_TRIGGERS = const(48)  # END_WRITE, END_READ

# smbus.PACKET_AT, RX_PACKET_AT, RX_SOURCE_AT and RX_FRAMING, and packet.DEST_EID_AT and
# SRC_EID_AT ([const-copy]).
_PACKET_AT = const(4)
_RX_PACKET_AT = const(3)
_RX_SOURCE_AT = const(2)
_RX_FRAMING = const(4)
_DEST_EID_AT = const(1)
_SRC_EID_AT = const(2)

# A memory-mode target's memory: the command code (0x0F) is the register address, the byte
# count, source address, packet and PEC follow it, up to 15 + 1 + 255 + 1 bytes.
MEM_SIZE = const(272)

# The transmit buffer's length: a frame at the largest MTU, whatever the link's, so that the viper
# transmit checks a packet against a constant (a len() call costs 360 instructions a packet on a
# Cortex-M0).
# The address byte, command, count and source (_PACKET_AT), the packet (TRANSPORT_HEADER_SIZE and
# MAX_MTU) and the PEC.
TX_FRAME_SIZE = const(259)

# Frames the receive ring holds by default: a 1024-byte message in 64-byte packets, and four
# more frames.
DEFAULT_RING = const(20)

_EVENTS = (
    "rx_frames",
    "tx_frames",
    "tx_retries",  # a write failed (NACK, lost arbitration, bus error) and was tried again
    "tx_failed",  # a frame was given up after every retry
    "no_neighbour",  # no address known for the destination EID
    "read_requests",  # a controller tried to read from us (MCTP only writes)
    "irq_errors",  # a fault inside the IRQ handler (the frame in progress is dropped)
    "interrupted",  # a write cut short by a read (repeated start): its bytes are dropped
    "probes",  # address-only writes (bus scans): not frames, not counted as drops
)


# Send: transmit(link, length, phys), I2CLink.transmit, frames the `length`-byte packet at
# link.tx_buf[4:] for address `phys` (None: the destination EID's neighbour) and writes it,
# tried again on a NACK or lost arbitration (OSError) up to link.retries times; True when the
# target took it, False when no address is known or every try failed (each counted). The viper
# version does it in one call; transmit_py, its twin ([viper-twin]), in three.


def transmit_py(link, length, phys):
    return _sealed(link, length, phys) and _write(link)


def _write(link):
    # The write, tried again on a NACK or lost arbitration ([try-apart]: two locals).
    tries = 0
    while True:
        try:
            # writeto returns how many bytes the target acknowledged.
            if link._i2c.writeto(link._dest, link._view) == link._view_len:
                break
        except OSError:
            pass
        tries += 1
        if tries > link.retries:
            link.counters.tx_failed += 1
            return False
        link.counters.tx_retries += 1
    link.counters.tx_frames += 1
    return True


def _sealed(link, length, phys):
    # The frame around the packet, for address `phys` (None: the destination EID's
    # neighbour); False when no address is known (counted).
    addr = phys
    if addr is None:
        addr = link.neighbours.lookup(link.tx_buf[_PACKET_AT + _DEST_EID_AT])
    if addr < 0:
        link.counters.no_neighbour += 1
        return False
    link._view_len = seal_frame(link.tx_buf, addr, link.addr, length) - 1
    link._dest = addr
    # What it writes (_view), and what a write that reached the target returns (_view_len):
    # one of the views by packet length I2CLink makes where this transmit is the one in use
    # (made here where it is not: its twin test on MicroPython).
    if getattr(link, "_views", None) is None:
        link._views = _length_views(link.tx_buf)
    link._view = link._views[length]
    return True


def _length_views(frame):
    # What writeto sends of `frame` for each packet length: frame[1:5 + length].
    whole = memoryview(frame)
    return [whole[1 : 5 + n] for n in range(TRANSPORT_HEADER_SIZE + MAX_MTU + 1)]


def _length_word_at(view):
    # The address of `view`'s length in its own object, for the viper transmit, after making
    # sure the word there is that length on this MicroPython (uctypes reads it: nothing is
    # written anywhere before the layout is known).
    at = id(view) + 2 * calcsize("P")
    try:
        from uctypes import bytes_at  # noqa: PLC0415 (MicroPython's; the viper transmit's only)
    except ImportError:
        raise RuntimeError("I2CLink's transmit needs MicroPython's uctypes module") from None
    if int.from_bytes(bytes_at(at, calcsize("P")), sys.byteorder) != len(view):
        raise RuntimeError(
            "this MicroPython's memoryview is not laid out as I2CLink's transmit expects"
            " (its length in the object's third word)"
        )
    return at


try:
    from ._link_viper import transmit
except (ImportError, SyntaxError):
    transmit = transmit_py


class I2CLink(RingLink):
    """An MCTP link over an I2C bus.

    `i2c` sends (machine.I2C or anything with its writeto); `target` receives (machine.I2CTarget
    or a host simulation of it); `addr` is our 7-bit address. `mtu` is the payload per packet
    we send (64, the baseline, unless every peer takes more; at most 250); `rx_mtu` the largest
    we accept (default: the same). `ring` frames can wait between two polls: an I2C target
    cannot refuse a frame for want of room, and a peer sends a whole message in one burst at
    the MTU of its choice, which DSP0237 lets be the baseline whatever ours is, so the default
    holds a largest message (1024 bytes) in baseline packets plus four frames (20). `wake`,
    when given, has its set() called from the IRQ when a frame is queued (an
    asyncio.ThreadSafeFlag, say).

    `mem`: a bytearray of at least MEM_SIZE bytes when `target` was made in memory mode with
    it (I2CTarget(id, addr, mem=mem, mem_addrsize=8)): the port then collects each write in
    C and the link's handler runs once a frame, from a hard IRQ where the port has them (rp2,
    stm32; esp32's are soft, and a frame that follows another before the handler ran
    overwrites it). Without it, the handler runs for every FIFO load of the target.
    """

    def __init__(
        self,
        i2c,
        target,
        addr,
        mtu=BASELINE_MTU,
        rx_mtu=None,
        ring=None,
        retries=3,
        wake=None,
        mem=None,
    ):
        check_address(addr)
        if mem is not None and len(mem) < MEM_SIZE:
            raise ValueError("mem must hold at least %d bytes, not %d" % (MEM_SIZE, len(mem)))
        if not 1 <= mtu <= MAX_MTU:
            raise ValueError("mtu must be 1..250")
        rx_mtu = mtu if rx_mtu is None else rx_mtu
        if ring is None:
            ring = DEFAULT_RING
        if not 1 <= rx_mtu <= MAX_MTU or ring < 2:
            raise ValueError("rx_mtu must be 1..250 and ring at least 2")
        self.addr = addr
        self.mtu = mtu
        self.retries = retries
        self.neighbours = Neighbours(8)
        self.counters = Counters(DROP_NAMES + _EVENTS)
        self._i2c = i2c
        self._target = target
        # Send: the whole frame, byte 0 (the destination address) included. I2C.writeto sends
        # a whole buffer, so a send needs a view of frame[1:] as long as the frame, without
        # making one. The viper transmit has one view (_tx_view) whose length it sets in place
        # for each frame: the third word of MicroPython's memoryview object (mp_obj_array_t:
        # its type, its type code and offset, its length, its items), at _tx_view_len_at. A
        # view per packet length took 1.6 KB of a board's heap (69 of them); the pure-Python
        # transmit, which cannot shorten a view, has those (CPython, ports without viper).
        self.tx_buf = bytearray(TX_FRAME_SIZE)
        seal_frame(self.tx_buf, 0, addr, 0)  # the command code and our source address, for good
        self.tx_off = _PACKET_AT
        self._tx_view = memoryview(self.tx_buf)[1:]
        if transmit is transmit_py:
            self._views = _length_views(self.tx_buf)
        else:
            self._tx_view_len_at = _length_word_at(self._tx_view)
        self._dest = 0  # the address written last (transmit_py), or given up (the viper one)
        # Receive: what the receive functions of mctp.i2c.ring (and their viper twins) read
        # besides the ring.
        self._event = 0  # what the IRQ left for Python (ring.take)
        self._result = 0  # what the core said of the packet being handed over
        self._scratch = bytearray(SCRATCH)  # what one read of the target's FIFO takes
        self._answer_to_read = b"\xff"  # what a read of the target is answered with
        self._pec_init = pec_init(addr)  # the PEC of our own address byte (check_frame)
        self._mem = mem  # a memory-mode target's memory (ring.from_memory), or None
        # The EID and address byte learned last, as src | address << 8 (ring.poll, _learn).
        self._last_from = 0
        # Receive: frames as the target sees them (command code first, no address byte), in the
        # ring (RingLink), each with room for its write position after it (ring.position; -1
        # once a frame outgrew its buffer: dropped at its end).
        super().__init__(ring, _RX_FRAMING + TRANSPORT_HEADER_SIZE + rx_mtu + POS_BYTES, wake)
        # Simulated targets without interrupts are serviced from poll(), with room for as many
        # frames as the ring has free, so that the rest wait on the simulated bus.
        self._service = getattr(target, "service", None)
        self._irq_handler = self._irq  # bind once: a bound method allocates
        self._attach(target)

    def _attach(self, target):
        if self._mem is None:
            target.irq(self._irq_handler, _TRIGGERS, hard=True)
            return
        try:
            target.irq(self._irq_handler, _MEM_TRIGGERS, hard=True)
        except ValueError:  # "hard IRQ unsupported" (esp32)
            target.irq(self._irq_handler, _MEM_TRIGGERS, hard=False)

    # Send.

    # transmit(length, phys): the module's transmit, viper on MicroPython, as a method.
    transmit = transmit

    def describe_failure(self):
        # A NACK and lost arbitration both raise OSError, with port-specific codes (rp2 EIO,
        # stm32 ENODEV); on a shared bus the first is by far the likelier.
        return "I2C address 0x%02x did not acknowledge after %d tries" % (
            self._dest,
            self.retries + 1,
        )

    # Receive: the IRQ side.

    # The ring's fast paths (mctp.i2c.ring), as methods. On top of whatever the stack is doing
    # ([c-stack]): a frame's bytes, its check and queueing are the handler's one call; what it
    # leaves (a count, a read) is rare, and _irq_event's.
    _irq = take  # (target): the IRQ handler, its try inside

    def _drop(self, reason):
        self._gap = 1
        self.counters.bump(DROP_NAMES[reason - 1])

    def _irq_error(self):
        # Apart from _irq: the count's two words of stack ([frame-limit]).
        self.counters.irq_errors += 1

    def _irq_event(self, target):
        # What ring.take left: a dropped frame or a probe to count, a read to answer.
        event = self._event
        if event & EVENT_REASON:
            self._drop(event & EVENT_REASON)
        elif event & EVENT_PROBE:
            # An address-only write (an SMBus quick command, a bus scan): no frame, and
            # nothing lost, so no gap.
            self.counters.probes += 1
        if event & EVENT_READ:
            self._read_request(target)

    def _read_request(self, target):
        # MCTP only writes. A read ends any write in progress: rp2 and stm32 report END_WRITE
        # at the repeated start before it, but should that ever be missed, the write's bytes
        # must not be glued to the next frame. (A memory-mode target has answered the read
        # itself, from mem: zeros, as a frame's bytes are zeroed once read.)
        self.counters.read_requests += 1
        if self._mem is not None:
            return
        if position(self._frame):
            set_position(self._frame, 0)
            self.counters.interrupted += 1
            self._gap = 1
        target.write(self._answer_to_read)

    # Receive: the stack side.

    poll = poll  # (core): the ring's frames to the core (mctp.i2c.ring)

    def _learn(self, frame):
        # The stack took the packet, so its source EID is real and was sent from this address
        # (EID 0 says nothing). Most packets come from the sender of the packet before: skip
        # the table then.
        src = frame[_RX_PACKET_AT + _SRC_EID_AT]
        if src and src | frame[_RX_SOURCE_AT] << 8 != self._last_from:
            self._last_from = src | frame[_RX_SOURCE_AT] << 8
            self.neighbours.learn(src, frame[_RX_SOURCE_AT] >> 1)
