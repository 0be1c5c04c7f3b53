# The serial binding (DSP0253) over a byte stream: machine.UART on a board, or anything with its
# methods (mctp.host.serial_stream over a pty, a tty or a socket; mctp.host.serial_pipe in
# memory). Point to point: there is no physical address, so `phys` is ignored on send and
# given to the core as 0 on receive.
#
# Send: the core writes the packet into tx_buf; transmit() frames it into a second buffer
#   (flags, escaping, FCS: framing.frame_packet) and writes that with stream.write(buf, off, n),
#   again from where it stopped while a non-blocking stream takes only part of it, for up to
#   write_timeout_ms.
# Receive: bytes go through the deframer (deframer.deframe) into a preallocated ring of packet
#   buffers (core.link.RingLink), read either by a UART IRQ (irq=True: IRQ_RXIDLE, every byte the UART holds) or by
#   poll() (only as many as the ring has room for: the rest wait in the stream). poll() hands
#   the ring's packets to the core.
#
# Nothing here allocates per packet or per byte, and no exception leaves the IRQ handler
# (MicroPython disables a handler for good after one).

from .._compat import const, ticks_diff, ticks_ms
from ..core.link import RingLink
from ..core.packet import BASELINE_MTU, TRANSPORT_HEADER_SIZE
from ..counters import Counters
from .deframer import DROP_NAMES, GAP_AT, SKIP, STATE_AT, deframe, deliver, new_state, read
from .framing import MAX_MTU, MAX_RX_MTU, frame_packet, frame_size

# Packets the receive ring holds by default: a 1024-byte message in 64-byte packets, and four
# more (as the I2C binding's).
DEFAULT_RING = const(20)
# Bytes one read takes from the stream.
CHUNK = const(128)
# The fewest bytes a frame takes on the line: its closing flag doubling as the next one's
# opening flag, revision, count, a 5-byte packet, FCS. Poll reads no more than this many bytes
# per free ring slot, so it never drops a frame for want of room.
_MIN_FRAME_BYTES = const(10)

_EVENTS = (
    "rx_frames",  # packets handed to the core
    "tx_frames",
    "tx_partial_writes",  # the stream took part of a frame (a full non-blocking stream)
    "tx_failed",  # a frame not written whole within write_timeout_ms
    "irq_errors",  # a fault inside the IRQ handler (the bytes it had read are lost)
)


# Send: transmit(link, length, phys) frames the `length`-byte packet at link.tx_buf (phys: a
# serial line has one peer) into link._out and writes it; what the stream does not take at once
# goes in link._write_rest, for as long as write_timeout_ms allows. True when the whole frame
# went (counted in tx_frames). The viper version frames with frame_span and makes the first
# write from the same call; transmit_py is its twin ([viper-twin]).


def transmit_py(link, length, phys):
    link._out_len = frame_packet(link._out, link.tx_buf, length)
    link._out_sent = 0
    link._write_once()
    if link._out_sent == link._out_len:
        link.counters.tx_frames += 1
        return True
    return link._write_rest()


try:
    from ._link_viper import transmit
except (ImportError, SyntaxError):
    transmit = transmit_py


class SerialLink(RingLink):
    """An MCTP link over a serial byte stream (DSP0253).

    `stream` has machine.UART's write(buf, off, n), any() and readinto(buf, n): a UART on a
    board (non-blocking reads need no setting: the link reads only what any() says is there),
    or a host stream from mctp.host. `mtu` is the payload per packet we send (1..64: 64, the
    baseline, is the most Linux sends and libmctp takes); `rx_mtu` the largest we accept
    (default: the same; 1..70, Linux's own limit). `ring` packets can wait between two polls
    (default: a 1 KiB message in baseline packets and four more). With `irq`, the UART's
    IRQ_RXIDLE handler (hard) reads what arrived; without, poll() does. `wake`, when given,
    has its set() called whenever a packet is queued (an asyncio.ThreadSafeFlag, say).
    """

    def __init__(
        self,
        stream,
        mtu=BASELINE_MTU,
        rx_mtu=None,
        ring=None,
        irq=False,
        wake=None,
        write_timeout_ms=100,
    ):
        rx_mtu = mtu if rx_mtu is None else rx_mtu
        if ring is None:
            ring = DEFAULT_RING
        if not 1 <= mtu <= MAX_MTU or not 1 <= rx_mtu <= MAX_RX_MTU or not 2 <= ring <= 0xFFFF:
            raise ValueError("mtu must be 1..64, rx_mtu 1..70 and ring 2..65535")
        self.mtu = mtu
        self.counters = Counters(DROP_NAMES + _EVENTS)
        self.stream = stream  # (for asyncio's poller where there is no IRQ: mctp.aio.watch)
        self.irq = irq
        # Send: the packet, and its frame.
        self.tx_buf = bytearray(TRANSPORT_HEADER_SIZE + mtu)
        self.tx_off = 0
        self._out = bytearray(frame_size(mtu))
        self._out_len = 0  # the frame being written, and how much of it the stream took
        self._out_sent = 0
        self.write_timeout_ms = write_timeout_ms
        # Receive: unescaped packets, each followed by its FCS, in the ring (RingLink), and the
        # deframer's state (mctp.serial.deframer.new_state).
        max_count = TRANSPORT_HEADER_SIZE + rx_mtu
        super().__init__(ring, max_count + 2, wake)
        self._rx = new_state(ring, max_count, wake)
        self._chunk = bytearray(CHUNK)  # what one read of the stream takes
        # The stream's reading methods, bound once (each read then looks up neither the stream
        # nor its method).
        self._any = stream.any
        self._readinto = stream.readinto
        self._poll_bytes = min(CHUNK, (ring - 1) * _MIN_FRAME_BYTES)  # what one poll read takes
        if irq:
            self._irq_handler = self._irq  # bind once: a bound method allocates
            stream.irq(self._irq_handler, stream.IRQ_RXIDLE, hard=True)

    # Send.

    # transmit(length, phys): the module's transmit, viper on MicroPython, as a method.
    transmit = transmit

    def _write_once(self):
        # What is left of the frame, as far as the stream takes it ([try-apart]: one local).
        try:
            n = self.stream.write(self._out, self._out_sent, self._out_len - self._out_sent)
        except OSError:  # stm32 raises one when the UART's own timeout ends a write
            n = 0
        if n:  # (None: a non-blocking stream that is full)
            self._out_sent += n

    def _write_rest(self):
        # The stream took part of the frame, or none of it: the rest, for as long as
        # write_timeout_ms allows. Giving up leaves a cut frame on the line, which the peer
        # drops (counted) when the next frame's flag arrives.
        self.counters.tx_partial_writes += 1
        start = ticks_ms()
        while ticks_diff(ticks_ms(), start) < self.write_timeout_ms:
            self._write_once()
            if self._out_sent == self._out_len:
                self.counters.tx_frames += 1
                return True
        self.counters.tx_failed += 1
        return False

    def describe_failure(self):
        return "the serial stream took %d of a frame's %d bytes in %d ms" % (
            self._out_sent,
            self._out_len,
            self.write_timeout_ms,
        )

    # Receive: the byte side.

    # mctp.serial.deframer's, as methods.
    _deframe = deframe  # (buf, n): bytes into the ring
    _read = read  # (most): the stream's bytes, up to `most`, through _deframe; how many
    _deliver = deliver  # (core): the ring's packets into the core

    def _drop(self, reason):
        self._rx[GAP_AT] = 1
        self.counters.bump(DROP_NAMES[reason - 1])

    def _irq(self, stream):
        # A hard IRQ lands on top of whatever the stack is doing: everything the UART holds is
        # read now (the ring may then overflow, counted, like a UART's own buffer would).
        try:
            while self._read(CHUNK):
                pass
        except Exception:
            self._irq_error()

    def _irq_error(self):
        # Apart from _irq ([frame-limit]). The frame in progress is lost: skip to the next
        # flag, and mark the gap.
        self._rx[STATE_AT] = SKIP
        self._rx[GAP_AT] = 1
        self.counters.irq_errors += 1

    # Receive: the stack side.

    def poll(self, core):
        # Packets in the ring first; then, without an IRQ, more bytes while the ring is
        # empty, at most as many as can complete the frames it has room for, and at most a
        # ring's worth of reads: a peer that never stops sending must not keep poll here.
        # The packets handed over are counted once, at the end.
        reads = len(self._ring)
        taken = 0
        while True:
            got = self._deliver(core)
            if got < 0:  # the core said RX_FULL: the rest wait for the next poll
                taken -= got + 1
                break
            taken += got
            if self.irq or not reads:
                if not reads and self._wake is not None:
                    # Bytes may still wait, where no poller can see them (a host stream's own
                    # buffer): the stack task comes back for them.
                    self._wake.set()
                break
            if not self._read(self._poll_bytes):
                break
            reads -= 1
        if taken:
            self.counters.rx_frames += taken
