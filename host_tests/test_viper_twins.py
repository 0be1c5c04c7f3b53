# The viper functions and their pure-Python twins ([viper-twin] in docs/architecture.md): each
# module that has a viper version imports it under try/except and falls back to `<name>_py`.
# Each test checks the pure version on its inputs and edge cases, then the viper one on the
# same inputs for identical results. CPython has no viper emitter: the viper half is skipped
# there, with the reason, after the pure half has run (a function CPython runs in C of its own,
# CPYTHON_VERSIONS, is checked there in its place); MicroPython runs both.

from array import array

from endpoints import pattern
from test_constants import _source, package_modules
from endpoints import FakeClock
from test_core import RecordingLink, Sink, inject, make_core
from test_i2c_pec import bitwise_crc8
from test_serial_framing import reference_frame
from test_serial_link import drops, request
from testing import IS_MICROPYTHON, raises, skip

from mctp import bufcopy, fcs
from mctp._compat import ticks_add
from mctp.config import Config
from mctp.control import responder
from mctp.core import fastpath, routes, timers
from mctp.core.core import Core
from mctp.core.link import ControlHandler
from mctp.host import loopback
from mctp.host.i2c_sim import SimBus, TargetSim
from mctp.host.serial_pipe import SerialPipe
from mctp.i2c import I2CLink, pec, ring, smbus
from mctp.i2c import link as i2c_link
from mctp.serial import link as serial_link
from mctp.serial import SerialLink, deframer, framing

TWINS = (
    (bufcopy, "copy_into"),
    (pec, "pec"),
    (smbus, "check_frame"),
    (ring, "take"),
    (ring, "poll"),
    (ring, "from_memory"),
    (fastpath, "append_middle"),
    (fastpath, "send_packets"),
    (i2c_link, "transmit"),
    (serial_link, "transmit"),
    (fastpath, "control_request"),
    (responder, "quick_reply"),
    (responder, "quick_answer"),
    (loopback, "transmit"),
    (loopback, "poll"),
    (fastpath, "first_packet"),
    (fastpath, "start_message"),
    (fastpath, "owned"),
    (fastpath, "release"),
    (fastpath, "hand_on"),
    (routes, "oldest_reply"),
    (routes, "reply_for"),
    (timers, "until_expiry"),
    (framing, "frame_packet"),
    (deframer, "deframe"),
    (deframer, "deliver"),
    (deframer, "read"),
    (deframer, "plain_run"),
    (fcs, "fcs16"),
)
# The asm_thumb functions (Thumb boards only), each with the pure function whose results it gives.
ASM_TWINS = (
    (pec, "pec_span", "pec_span_py"),
    (bufcopy, "copy_span", "copy_span_py"),
    (bufcopy, "move_span", "move_span_py"),
    (framing, "frame_span", "frame_packet_py"),
    (deframer, "plain_span", "plain_run_py"),
)
# What CPython runs in place of a pure twin: a version of its own, through a C function.
CPYTHON_VERSIONS = {"fcs16": "fcs16_binascii"}


def _pure_then_viper(module, name, run):
    # run(version) checks one version and returns what it computed: the pure one first, then
    # the viper one, which must compute the same.
    pure = getattr(module, name + "_py")
    expected = run(pure)
    chosen = getattr(module, name)
    if chosen is pure:
        skip("no viper emitter here: %s_py checked alone" % name)
    assert run(chosen) == expected


def test_the_viper_twin_is_the_one_in_use_wherever_viper_exists():
    for module, name in TWINS:
        chosen = getattr(module, name)
        if IS_MICROPYTHON:
            assert chosen is not getattr(module, name + "_py"), name
        else:
            assert chosen is getattr(module, CPYTHON_VERSIONS.get(name, name + "_py")), name


def test_every_viper_function_has_its_twin_here():
    viper = set()
    asm = set()
    for module in package_modules():
        lines = _source(module).split("\n")
        for i, line in enumerate(lines[:-1]):
            # (a viper function may be a closure's: indented, as mctp.i2c._smbus_viper's)
            name = lines[i + 1].strip()[4:].partition("(")[0]
            if line.strip() == "@micropython.viper":
                viper.add(name)
            elif line.strip() == "@micropython.asm_thumb":
                asm.add(name)
    assert viper == {name for _, name in TWINS}
    assert asm == {name for _, name, _ in ASM_TWINS}


def _copy_every_alignment(copy_into):
    # Words where both ends share an alignment, bytes otherwise: every offset pair mod 4 and
    # lengths around a word.
    src = bytearray(80)
    for i in range(80):
        src[i] = (i * 7 + 3) & 0xFF
    for dst_off in range(4):
        for src_off in range(4):
            for n in (0, 1, 3, 4, 5, 8, 13, 64):
                dst = bytearray(80)
                copy_into(dst, dst_off, src, src_off, n)
                expected = bytearray(80)
                expected[dst_off : dst_off + n] = src[src_off : src_off + n]
                assert dst == expected, (dst_off, src_off, n)
    for bad in ((-1, 0, 1), (0, -1, 1), (0, 0, -1), (79, 0, 2), (0, 79, 2)):
        with raises(ValueError):
            copy_into(bytearray(80), bad[0], src, bad[1], bad[2])
    return True


def test_copy_into_copies_every_alignment_like_a_slice_and_checks_its_ranges():
    _pure_then_viper(bufcopy, "copy_into", _copy_every_alignment)


def test_copy_span_copies_every_alignment_and_length_like_copy_into():
    # Around the four-byte turns of the asm loop, at every alignment of either end.
    src = bytes((i * 11 + 5) & 0xFF for i in range(400))
    for dst_off in range(4):
        for src_off in (0, 1, 2, 3, 130):
            for n in (0, 1, 2, 3, 4, 5, 7, 8, 9, 63, 64, 250):
                dst = bytearray(260)
                bufcopy.copy_span(dst, src, src_off, n << 16 | dst_off)
                expected = bytearray(260)
                expected[dst_off : dst_off + n] = src[src_off : src_off + n]
                assert dst == expected, (dst_off, src_off, n)


def test_move_span_copies_like_copy_span_and_zeroes_what_it_copied():
    for move in (bufcopy.move_span_py, bufcopy.move_span):
        for dst_off in range(3):
            for src_off in (0, 1, 15, 130):
                for n in (0, 1, 2, 5, 71, 257):
                    src = bytearray((i * 11 + 5) & 0xFF for i in range(400))
                    dst = bytearray(260)
                    move(dst, src, src_off, n << 16 | dst_off)
                    expected_src = bytearray((i * 11 + 5) & 0xFF for i in range(400))
                    expected = bytearray(260)
                    expected[dst_off : dst_off + n] = expected_src[src_off : src_off + n]
                    expected_src[src_off : src_off + n] = bytes(n)
                    assert (dst, src) == (expected, expected_src), (dst_off, src_off, n)


def _pec_at_any_offset_and_start(pec_version):
    state = 99
    data = bytearray(300)
    for i in range(len(data)):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        data[i] = state >> 16 & 0xFF
    results = []
    for off, n, crc in ((0, 0, 0), (0, 1, 0), (3, 72, 0), (10, 254, 0x3A), (299, 1, 0xFF)):
        expected = bitwise_crc8(data[off : off + n], crc)
        assert pec_version(data, off, n, crc) == expected
        assert pec_version(memoryview(data), off, n, crc) == expected
        results.append(expected)
    assert pec_version(b"123456789", 0, 9, 0) == 0xF4
    for off, n in ((0, 10), (-1, 2), (5, -1), (8, 2)):
        with raises(ValueError):
            pec_version(b"123456789", off, n, 0)
    return results


def test_pec_agrees_with_the_definition_at_any_offset_and_start_and_checks_its_range():
    _pure_then_viper(pec, "pec", _pec_at_any_offset_and_start)


def test_pec_span_is_pec_without_its_range_check_with_every_table_entry_right():
    # Every byte alone from 0 (each table entry), and every length around the four-byte turns
    # of the asm loop at every alignment and start value; n and the start in one argument.
    data = bytes(range(256))
    for span in (pec.pec_span_py, pec.pec_span):
        for b in range(256):
            assert span(data, b, 1 << 8) == bitwise_crc8(data[b : b + 1], 0), b
        for off in range(4):
            for n in range(13):
                for crc in (0, 0x5A, 0xFF):
                    expected = pec.pec_py(data, off, n, crc)
                    assert span(data, off, n << 8 | crc) == expected, (off, n, crc)
        assert span(memoryview(data), 7, 72 << 8) == pec.pec_py(data, 7, 72, 0)


def _fcs_at_any_offset_and_start(fcs16):
    # Against fcs_byte a byte at a time: every offset, lengths up to a 1 KiB message's frame,
    # starts across the 16 bits; and the ranges refused.
    data = pattern(1100, 7)
    results = []
    for off in range(4):
        for n in (0, 1, 2, 5, 63, 64, 1035):
            for start in (0, 1, 0x1E0E, 0x8000, 0xFFFF):
                crc = start
                for b in data[off : off + n]:
                    crc = fcs.fcs_byte(crc, b)
                got = fcs16(data, off, n, start)
                assert got == crc, (off, n, start)
                results.append(got)
    assert fcs16(memoryview(data)[3:12], 0, 9, fcs.FCS_INIT) == fcs16(data, 3, 9, fcs.FCS_INIT)
    for off, n in ((0, 1101), (-1, 2), (5, -1), (1099, 2)):
        with raises(ValueError):
            fcs16(data, off, n, fcs.FCS_INIT)
    return results


def test_fcs16_agrees_with_a_byte_at_a_time_at_any_offset_and_start_and_checks_its_range():
    _pure_then_viper(fcs, "fcs16", _fcs_at_any_offset_and_start)


def _sealed_frames(seal):
    frames = []
    for length in (1, 5, 68, 254):
        packet = (bytes((1, 9, 8, 0xC8)) + bytes(range(max(length - 4, 0))))[:length]
        frame = bytearray(260)
        frame[4 : 4 + length] = packet
        frames.append((seal(frame, 0x1D, 0x10, length), bytes(frame)))
    with raises(ValueError):
        seal(bytearray(72), 0x1D, 0x10, 68)  # no room for the PEC
    with raises(ValueError):
        seal(bytearray(80), 0x80, 0x10, 4)
    return frames


def test_seal_frame_frames_every_length_and_refuses_what_does_not_fit():
    _sealed_frames(smbus.seal_frame)  # (for tools and transmit's twin: no viper twin)


def _frame_verdicts(check):
    init = smbus.pec_init(0x1D)
    verdicts = []
    for n, frame in _sealed_frames(smbus.seal_frame):
        verdicts.append(check(frame[1:], n - 1, init))
    frame = bytearray(20)
    n = smbus.seal_frame(frame, 0x1D, 0x10, 6)
    for bad in range(1, n - 1):  # every byte flipped in turn: a verdict, never 0
        rx = bytearray(frame[1:n])
        rx[bad - 1] ^= 0x01
        verdicts.append(check(rx, n - 1, init))
    assert verdicts[:4] == [smbus.TOO_SHORT, 0, 0, 0] and 0 not in verdicts[4:]
    return verdicts


def test_check_frame_passes_good_frames_and_names_each_damaged_one():
    _pure_then_viper(smbus, "check_frame", _frame_verdicts)


def _ring_take(take):
    # The same IRQs into a link: good frames, a bad PEC, a frame too long, a probe, a read, and
    # a full ring.
    frames = []
    for seq in range(4):
        frame = bytearray(80)
        n = smbus.encode_frame(frame, 0x10, 0x11, bytes((1, 8, 9, 0xC8 | seq << 4)) + bytes(60))
        frames.append(bytes(frame[1:n]))
    bad = bytearray(frames[0])
    bad[-1] ^= 1
    long_frame = frames[0] + bytes(20)
    target = TargetSim(0x10)
    link = I2CLink(SimBus().controller(), target, 0x10, ring=3)
    target.irq(
        lambda t: take(link, t), ring.IRQ_WRITE_REQ | ring.IRQ_END_WRITE | ring.IRQ_READ_REQ
    )
    target._written(frames[0], len(frames[0]))
    target._written(bad, len(bad))
    target._written(long_frame, len(long_frame))
    target._written(b"", 0)  # a probe
    target._read(1)
    target._written(frames[1], len(frames[1]))
    target._written(frames[2], len(frames[2]))  # the ring (3: two frames) is full
    counters = link.counters.as_dict()
    assert link.pending() == 2 and link._gaps[1] == 1
    assert {k: v for k, v in counters.items() if v} == {
        "bad_pec": 1,
        "too_long": 1,
        "ring_full": 1,
        "probes": 1,
        "read_requests": 1,
    }
    return counters, bytes(link._ring[0]), bytes(link._ring[1]), list(link._lengths)


def test_the_ring_take_queues_good_frames_and_counts_every_other_write():
    _pure_then_viper(ring, "take", _ring_take)


def _ring_take_memory(take):
    # The same writes into a memory-mode target: good frames, a bad PEC, a frame too long, a
    # probe, a read, another command, a write cut short, and a full ring.
    frames = []
    for seq in range(4):
        frame = bytearray(80)
        n = smbus.encode_frame(frame, 0x10, 0x11, bytes((1, 8, 9, 0xC8 | seq << 4)) + bytes(60))
        frames.append(bytes(frame[1:n]))
    bad = bytearray(frames[0])
    bad[-1] ^= 1
    too_long = bytearray(frames[0] + bytes(20))
    too_long[1] += 20
    other = b"\x0e" + frames[0][1:]
    mem = bytearray(i2c_link.MEM_SIZE)
    target = TargetSim(0x10, mem=mem)
    link = I2CLink(SimBus().controller(), target, 0x10, ring=3, mem=mem)
    target.irq(lambda t: take(link, t), ring.IRQ_END_WRITE | ring.IRQ_END_READ)
    for write in (frames[0], bad, too_long, b"", other, frames[1][:20], frames[1], frames[2]):
        target._written(write, len(write))
    target._read(1)
    counters = link.counters.as_dict()
    assert link.pending() == 2 and link._gaps[1] == 1
    assert {k: v for k, v in counters.items() if v} == {
        "bad_pec": 2,
        "too_long": 1,
        "bad_command": 1,
        "ring_full": 1,
        "probes": 1,
        "read_requests": 1,
    }
    assert mem == bytearray(len(mem))
    return counters, bytes(link._ring[0]), bytes(link._ring[1]), list(link._lengths)


def test_the_ring_take_queues_a_memory_mode_targets_good_frames_and_counts_every_other():
    _pure_then_viper(ring, "take", _ring_take_memory)


def _from_memory(from_memory):
    # Frames at every register near the memory's end (wrapping), every count around the
    # frame's room, and a zero count: the frame, its length, and the memory zeroed after.
    results = []
    for at in (0, 15, 250, 255):  # (an 8-bit register)
        for count in (0, 1, 60, 63, 64, 255):
            mem = bytearray(pattern(272, at + count))
            mem[at] = count
            frame = bytearray(70)
            n = from_memory(mem, at, frame, 66)
            results.append((n, bytes(frame), bytes(mem)))
    assert [r[0] for r in results[:6]] == [0, 4, 63, 66, -1, -1]
    assert results[7][1][:4] == bytes((15, 1)) + pattern(272, 16)[16:18]
    return results


def test_from_memory_copies_a_frame_wrapping_at_the_memorys_end_and_zeroes_what_it_read():
    _pure_then_viper(ring, "from_memory", _from_memory)


class _FailingTarget(TargetSim):
    # A target whose next FIFO read fails, as a driver fault would (the bytes stay in it).
    fail = 0

    def readinto(self, buf):
        if self.fail:
            self.fail = 0
            raise OSError(5)
        return super().readinto(buf)


def _ring_take_guarded(take):
    # The handler: a probe is counted, a fault inside is counted without leaving the
    # handler, and a frame's bytes and end queue it.
    frame = bytearray(80)
    n = smbus.encode_frame(frame, 0x10, 0x11, bytes((1, 8, 9, 0xC8)) + bytes(60))
    target = _FailingTarget(0x10)
    link = I2CLink(SimBus().controller(), target, 0x10, ring=3)
    target.irq(lambda t: take(link, t), ring.IRQ_WRITE_REQ | ring.IRQ_END_WRITE, hard=True)
    target._written(b"", 0)  # a probe
    target.fail = 1
    target._written(frame[1:n], n - 1)
    counters = {k: v for k, v in link.counters.as_dict().items() if v}
    assert counters == {"probes": 1, "irq_errors": 1}, counters
    assert link.pending() == 1 and bytes(link._ring[0][: n - 1]) == frame[1:n]
    return counters, bytes(link._ring[0])


def test_the_ring_take_counts_a_fault_inside_the_handler_and_goes_on():
    _pure_then_viper(ring, "take", _ring_take_guarded)


def _ring_frames(count, tag=0):
    # A message of `count` packets from EID 9 at 0x11 to EID 8 at 0x10, as the target's frames.
    out = []
    for seq in range(count):
        som_eom = (0x80 if seq == 0 else 0) | (0x40 if seq == count - 1 else 0)
        body = (b"\x01" + bytes(range(63))) if seq == 0 else bytes(range(64))
        frame = bytearray(80)
        flags = som_eom | (seq & 3) << 4 | 8 | tag
        n = smbus.encode_frame(frame, 0x10, 0x11, bytes((1, 8, 9, flags)) + body)
        out.append(bytes(frame[1:n]))
    return out


def _ring_poll(poll):
    # A 5-packet message from EID 9 at 0x11: every frame to the core (the middle ones by its
    # fast path), the sender learned; a middle packet after a lost frame: the link's messages
    # aborted first; single-packet messages to a reader that does not read: poll stops at the
    # one that fills its queue (RX_FULL), the rest wait.
    frames = _ring_frames
    core, sink, _link, _clock = make_core()
    target = TargetSim(0x10)
    link = core.add_link(I2CLink(SimBus().controller(), target, 0x10))
    message = frames(5)
    for frame in message:
        target._written(frame, len(frame))
    poll(link, core)
    assert link.counters.rx_frames == 5 and link._r == link._w == 5
    assert core.counters.rx_packets == 5
    assert sink.messages[0][5] == bytes(range(63)) + bytes(range(64)) * 4
    assert link.neighbours.lookup(9) == 0x11
    for frame in message[:2]:
        target._written(frame, len(frame))
    poll(link, core)  # a message being assembled
    target._written(message[2], len(message[2]))
    link._gaps[link._r] = 1  # lost frames before it
    poll(link, core)
    assert core.counters.aborted == 1 and core.counters.no_som == 1
    sink.deliver = lambda slot: True  # a reader that does not read
    for tag in range(4):
        (single,) = frames(1, tag)
        target._written(single, len(single))
    poll(link, core)
    assert len(sink.messages) == 1 and core.pool.in_use() == 2 and link.pending() == 2
    assert link.counters.rx_frames == 10
    return link.counters.as_dict(), core.counters.as_dict(), link._r


def test_the_ring_poll_hands_every_frame_to_the_core_and_stops_at_a_full_queue():
    _pure_then_viper(ring, "poll", _ring_poll)


def _ring_poll_last_fills(poll):
    # Three-packet messages to a reader that holds one and does not read: the last packet of
    # the first, taken by the fast path and handed on (core.hand_on), fills the queue, and
    # poll stops there; the next message's frames wait.
    core, sink, _link, _clock = make_core(queue_limit=1)
    sink.deliver = lambda slot: True
    target = TargetSim(0x10)
    link = core.add_link(I2CLink(SimBus().controller(), target, 0x10))
    for frame in _ring_frames(3, 1) + _ring_frames(3, 2):
        target._written(frame, len(frame))
    poll(link, core)
    assert link.counters.rx_frames == 3 and link.pending() == 3 and link._r == 3
    assert core.counters.rx_messages == 1 and core.pool.in_use() == 1
    assert core._rx_done is None and core.reply_routes.in_use() == 1
    return link.counters.as_dict(), core.counters.as_dict()


def test_the_ring_poll_stops_at_a_last_packet_that_fills_a_queue():
    _pure_then_viper(ring, "poll", _ring_poll_last_fills)


def _fastpath_cases():
    # (packet, what append_middle does with it) after a first packet of 8 bytes of payload,
    # type byte included, from EID 9 with tag 1 and TO, into core 8.
    def header(dest=8, src=9, flags=0x19, version=1):
        return bytes((version, dest, src, flags))

    middle = bytes(range(8))
    return [
        (header() + middle, fastpath.MIDDLE),  # seq 1, same size: taken
        (header(flags=0x29) + middle, fastpath.MIDDLE),  # seq 2
        (header(flags=0x29) + middle, 0),  # seq 2 again: out of sequence
        (header(flags=0x39) + middle[:7], 0),  # a middle packet of another size
        (header(flags=0xB9) + middle, 0),  # SOM: the full path's
        (header(flags=0x3A) + middle, 0),  # another tag
        (header(flags=0x31) + middle, 0),  # TO clear
        (header(dest=7) + middle, 0),  # not for us
        (header(dest=0, flags=0x39) + middle, fastpath.MIDDLE),  # EID 0: ours too
        (header(src=10, flags=0x09) + middle, 0),  # no message from EID 10
        (header(src=3) + middle, 0),  # a reserved source
        (header(version=2, flags=0x09) + middle, 0),
        (header(flags=0x09)[:4], 0),  # no payload
        (header(flags=0x49) + middle + b"\x08", 0),  # EOM, larger than the first: bad length
        (header(flags=0x49) + middle[:5], fastpath.LAST),  # EOM, no larger: the last packet
    ]


def _append_middle(append_middle):
    core, _sink, link, _clock = make_core()
    inject(core, link, bytes((1, 8, 9, 0x88 | 1, 1)) + bytes(7))  # SOM, seq 0
    slot = core.pool.find(9, 0x09)
    taken = []
    for packet, expected in _fastpath_cases():
        buf = bytearray(b"\xee\xee" + packet)
        taken.append(append_middle(core, buf, 2, len(packet)))
        assert taken[-1] == expected, packet
    assert slot.assembled() == 7 + 3 * 8 + 5 and slot.meta[4] == 1  # next seq 0 + 1
    assert core._rx_done is slot  # the message the last packet completed, for receive()
    assert bytes(slot.buf[: slot.assembled()]) == bytes(7) + bytes(range(8)) * 3 + bytes(range(5))
    # Each packet taken is counted, as receive() counts it, and the message the last one
    # completed; nothing else is.
    assert core.counters.rx_packets == 1 + len([t for t in taken if t])
    assert core.counters.total() == core.counters.rx_packets + core.counters.rx_messages
    assert core.counters.rx_messages == 1 and slot.meta[0] == 2 and slot.length == 7 + 3 * 8 + 5
    # A packet past the end of its buffer, or an offset before it, is never read.
    assert not append_middle(core, bytearray(8), 4, 5)
    assert not append_middle(core, bytearray(8), -1, 5)
    return taken, bytes(slot.buf), bytes(core.pool.meta)


def test_the_fast_path_takes_every_packet_that_continues_a_message_and_nothing_else():
    _pure_then_viper(fastpath, "append_middle", _append_middle)


def _control_requests(append_middle):
    # Single-packet control requests into core 8's control slot (a responder attached), and
    # every first packet the full path keeps: (packet, what append_middle returns) in turn.
    core, _sink, link, _clock = make_core()
    core.control = ControlHandler()  # (it answers none from the packet)
    slot = core.pool.control_slot

    def header(dest=8, flags=0xCA, src=9):  # SOM, EOM, TO, tag 2
        return bytes((1, dest, src, flags))

    get_eid = b"\x00\x80\x02"
    cases = [
        (header() + get_eid, fastpath.LAST),  # taken: the slot stays taken
        (header(flags=0xDB) + get_eid, 0),  # the control slot is taken
        (header(flags=0x8A) + get_eid, 0),  # SOM without EOM: the full path's
        (header(flags=0xC2) + get_eid, 0),  # TO clear: a response
        (header() + b"\x80\x80\x02", 0),  # IC set (the responder's to drop)
        (header() + b"\x01\x80\x02", 0),  # another type
        (header(dest=7) + get_eid, 0),  # not for us
        (header(src=3) + get_eid, 0),  # a reserved source
        (header() + b"\x00" + bytes(250), 0),  # larger than the control slot
    ]
    taken = []
    fields = []
    for packet, expected in cases:
        if packet == cases[2][0]:
            core.pool.release(slot)  # free again from here on
        buf = bytearray(b"\xee" + packet)
        taken.append(append_middle(core, buf, 1, len(packet)))
        assert taken[-1] == expected, packet
        if expected:
            assert core._rx_done is slot
            assert bytes(slot.buf[: slot.assembled()]) == b"\x80\x02"
            fields.append((slot.src, slot.tag, slot.to, slot.owner, slot.ic, bytes(slot.meta)))
            core._rx_done = None
    # (The slot's last bytes: the core's EID, 8, where the fast path reads it: EID_AT.)
    assert fields == [
        (9, 2, 8, 0x100, False, bytes((2, 9, 2, 8, 1, 0, 3, 0, 2, 0, 0, 1, 8)) + bytes(3))
    ]
    for dest in (0, 0xFF):  # EID 0 and broadcast: ours too
        assert append_middle(core, bytearray(header(dest=dest) + get_eid), 0, 7) == fastpath.LAST
        core.pool.release(slot)
        core._rx_done = None
    # A request that restarts a message being assembled from its source, tag and TO: the
    # full path's (som_restart); and none without a responder.
    inject(core, link, header(flags=0x8A) + b"\x00\x80")
    assert append_middle(core, bytearray(header() + get_eid), 0, 7) == 0
    core.release_all()
    core.control = None
    assert append_middle(core, bytearray(header() + get_eid), 0, 7) == 0
    assert core.counters.rx_packets == 4  # the three taken and the injected one
    return taken, fields, bytes(core.pool.meta)


def test_the_fast_path_takes_a_single_packet_control_request_into_the_free_control_slot():
    _pure_then_viper(fastpath, "append_middle", _control_requests)


def _control_request_alone(control_request):
    # control_request as append_middle calls it, the header checked: a Get Endpoint ID into
    # the free control slot, and nothing while the slot is taken, for a response, or with IC.
    core, _sink, _link, _clock = make_core()
    core.control = ControlHandler()  # (it answers none from the packet)
    slot = core.pool.control_slot
    taken = []
    for flags, type_byte in ((0xC9, 0x00), (0xC9, 0x00), (0xC1, 0x00), (0xC9, 0x80)):
        packet = bytearray(bytes((1, 8, 9, flags, type_byte)) + b"\x80\x02")
        taken.append(control_request(core, packet, 0, len(packet)))
    assert taken == [fastpath.LAST, 0, 0, 0] and core._rx_done is slot
    assert (slot.src, slot.tag, slot.to, slot.owner, slot.assembled()) == (9, 1, 8, 0x100, 2)
    return taken, bytes(core.pool.meta), bytes(slot.buf[:2]), core.counters.rx_packets


def test_the_control_request_path_fills_the_control_slot_alone():
    _pure_then_viper(fastpath, "control_request", _control_request_alone)


def _first_packets(first_packet):
    # First packets (header checked, as append_middle calls it) from the link Core.receive
    # names, into core 8 with 4 slots of 64 bytes, type 1 listened for (owner 101), two
    # messages an owner: (packet, what first_packet returns) in turn, then the slots' fields.
    core, _sink, link, clock = make_core(max_payload=64)
    core._rx_link = link
    core._rx_phys = 0x1D
    flow = core.open_flow(9, 7)

    def header(flags, dest=8):
        return bytes((1, dest, 9, flags))

    cases = [
        (header(0x99) + b"\x01" + bytes(range(8)), fastpath.MIDDLE),  # SOM, TO, tag 1, seq 1
        (header(0x89) + b"\x01abc", 0),  # the same source, tag and TO: a restart
        (header(0x8A) + b"\x01" + bytes(64), fastpath.MIDDLE),  # as large as a slot
        (header(0x8B) + b"\x01x", 0),  # owner 101 holds its two messages
        (header(0x8C) + b"\x02x", 0),  # type 2: no listener
        (header(0x8D, dest=0xFF) + b"\x01x", 0),  # broadcast: only control messages
        (header(0xC0 | (flow.tag ^ 1)) + b"\x05x", 0),  # a response to no flow
        (header(0xC0 | flow.tag) + b"\x05" + bytes(65), 0),  # larger than a slot
        (header(0xC0 | flow.tag) + b"\x85ok", fastpath.LAST),  # to flow's owner 7, IC set
        (header(0xCD, dest=0) + b"\x05x", 0),  # type 5: no listener
    ]
    taken = []
    for packet, expected in cases:
        clock.advance(1)
        buf = bytearray(b"\xee" + packet)
        taken.append(first_packet(core, buf, 1, len(packet)))
        assert taken[-1] == expected, packet
    done = core._rx_done
    assert done is core.pool.slots[2] and done.assembled() == 2 and done.buf[:2] == b"ok"
    # The pool full, and with no link named (receive_middle called outside receive): nothing.
    core.sink.types = (1, 5)
    full = header(0xCE, dest=0) + b"\x05x"
    core._rx_link = None
    assert first_packet(core, bytearray(full), 0, len(full)) == 0
    core._rx_link = link
    assert first_packet(core, bytearray(full), 0, len(full)) == fastpath.LAST
    assert first_packet(core, bytearray(full[:3] + b"\xcf" + full[4:]), 0, len(full)) == 0
    fields = [
        (s.src, s.tag, s.to, s.owner, s.msg_type, s.ic, s.link is link, s.phys, s.started)
        for s in core.pool.slots
    ]
    assert fields == [
        (9, 1, 8, 101, 1, False, True, 0x1D, 501),
        (9, 2, 8, 101, 1, False, True, 0x1D, 503),
        (9, flow.tag, 0, 7, 5, True, True, 0x1D, 509),
        (9, 6, 8, 105, 5, False, True, 0x1D, 510),
    ]
    assert core.counters.rx_packets == 4 and core.counters.rx_messages == 2
    assert core.counters.total() == 6
    assert [s.meta[0] for s in core.pool.slots] == [1, 1, 2, 2]  # assembling, complete
    assert bytes(core.pool.slots[0].buf[:8]) == bytes(range(8))
    return taken, fields, bytes(core.pool.meta)


def test_the_fast_path_starts_a_message_the_full_path_would_admit_and_nothing_else():
    _pure_then_viper(fastpath, "first_packet", _first_packets)


def _message_started(start_message):
    # start_message alone, as first_packet calls it: the owner's bytes already in the slot.
    core, _sink, link, _clock = make_core()
    core._rx_link = link
    core._rx_phys = 0x20
    core._meta[16 + 10] = 0x00  # slot 1's owner: 0x100
    core._meta[16 + 11] = 0x01
    packet = bytearray(bytes((1, 8, 9, 0xAB, 0x81)) + bytes(range(40)))  # SOM, seq 2, TO, tag 3
    assert start_message(core, packet, 0, 16 << 16 | len(packet)) == fastpath.MIDDLE
    slot = core.pool.slots[1]
    assert (slot.src, slot.tag, slot.to, slot.owner, slot.msg_type, slot.ic) == (
        9,
        3,
        8,
        0x100,
        1,
        True,
    )
    assert slot.assembled() == 40 and slot.packet_len() == 41 and slot.meta[4] == 3
    assert bytes(slot.buf[:40]) == bytes(range(40)) and core._rx_done is None
    return bytes(core.pool.meta), bytes(slot.buf[:40]), core.counters.rx_packets


def test_the_first_packet_sets_its_slot_up_as_the_full_path_does():
    _pure_then_viper(fastpath, "start_message", _message_started)


def _owned_counts(owned):
    # Slots (not the control slot) by state and owner: only those not FREE count.
    meta = bytearray(5 * 16)
    meta[12] = 4  # the pool's slots (reassembly.SLOTS_AT): the control slot's bytes follow
    for i, (state, owner) in enumerate(((1, 7), (2, 7), (0, 7), (2, 0x100), (1, 7))):
        meta[i * 16] = state
        meta[i * 16 + 10] = owner & 0xFF
        meta[i * 16 + 11] = owner >> 8
    counts = [owned(meta, owner) for owner in (7, 0x100, 0, 8)]
    assert counts == [2, 1, 0, 0]  # the last slot's bytes are the control slot's
    return counts


def test_an_owner_s_messages_are_counted_from_the_pool_s_bytes():
    _pure_then_viper(fastpath, "owned", _owned_counts)


def _hand_ons(hand_on):
    # Single-packet messages the fast path completes, each handed on: a request to a reader
    # (its reply route kept), one to a reader that keeps it (RX_FULL at its queue limit), one
    # the sink refuses (counted, discarded, its route forgotten), one whose delivery raises
    # (counted), a response (its flow closed), a control request (to the responder).
    core, sink, link, _clock = make_core(queue_limit=1)
    answered = []

    class Control(ControlHandler):
        def handle(self, slot):
            answered.append(slot.buf[0])
            core.release(slot)

    def deliver_and_raise(slot):
        raise ValueError("a reader's fault")

    def message(flags, body):
        core._rx_link = link
        core._rx_phys = 0x1D
        packet = bytearray(bytes((1, 8, 9, 0xC0 | flags)) + body)
        assert core.receive_middle(packet, 0, len(packet)) == fastpath.LAST
        core._rx_link = None
        return hand_on(core)

    results = [message(0x08 | 1, b"\x01a")]
    keep = sink.deliver
    sink.deliver = lambda slot: True
    results.append(message(0x08 | 2, b"\x01b"))
    core.release(core.pool.slots[0])
    sink.deliver = lambda slot: False
    results.append(message(0x08 | 3, b"\x01c"))
    sink.deliver = deliver_and_raise
    results.append(message(0x08 | 4, b"\x01d"))
    core.release(core.pool.slots[0])
    sink.deliver = keep
    flow = core.open_flow(9, 101)
    results.append(message(flow.tag, b"\x01e"))
    core.control = Control()
    results.append(message(0x08 | 5, b"\x00\x02"))
    assert results == [1, 2, 1, 1, 1, 1] and answered == [2]
    assert [m[5] for m in sink.messages] == [b"a", b"e"]
    counts = {k: v for k, v in core.counters.as_dict().items() if v}
    assert counts == {
        "queue_full": 1,
        "internal_error": 1,
        "rx_packets": 6,
        "rx_messages": 6,
    }
    assert core.pool.in_use() == 0 and core.flows.in_use() == 0 and core._rx_done is None
    # Routes kept: the first request's (taken), the second's (taken when released), the
    # fourth's (its reader raised before taking it); the third's was forgotten.
    assert core.reply_routes.in_use() == 3
    return results, counts, list(core.reply_routes.serials)


def test_a_message_the_fast_path_completed_is_handed_on_as_the_full_path_does():
    _pure_then_viper(fastpath, "hand_on", _hand_ons)


def _releases(release):
    # Requests the sink keeps (two reply-route entries for three requests: the third's takes
    # the first's), then each released: an entry still its request's is marked taken with the
    # serial after the newest; one reused since is left alone; every slot is free again.
    core, sink, link, _clock = make_core(reply_routes=2, queue_limit=3)
    sink.deliver = lambda slot: True
    for tag in (1, 2, 3):
        inject(core, link, bytes((1, 8, 9, 0xC8 | tag, 1)) + bytes(4))
    slots = [next(s for s in core.pool.slots if s.tag == tag) for tag in (1, 2, 3)]
    found = []
    for slot in slots:
        route = slot.reply
        release(core, slot)
        found.append((route.index, route.taken, core.reply_routes._serial))
        assert slot.meta[0] == 0 and slot.owner == -1 and slot.link is None
        assert slot.reply is None and slot.phys is None
    assert found == [(0, -1, 3), (1, 4, 4), (0, 5, 5)]
    assert core.pool.in_use() == 0
    return found


def test_a_released_request_s_reply_entry_is_marked_taken_if_still_its_own():
    _pure_then_viper(fastpath, "release", _releases)


def _oldest_replies(oldest_reply):
    # The first free entry (-1), else the one furthest behind the newest serial, across the
    # serials' wrap at 2**30.
    cases = [
        ([-1, -1], 5, 0),
        ([3, -1, 4], 5, 1),
        ([3, 1, 2], 5, 1),
        ([7, 9, 8], 9, 0),
        ([0x3FFFFFFE, 1, 0x3FFFFFFF], 1, 0),  # 2**30 - 2 is the oldest, past the wrap
        ([5], 5, 0),
        ([0x3FFFFFF0, -1], 5, 1),  # a free entry, after one older than it would seem to be
    ]
    found = []
    for serials, newest, expected in cases:
        found.append(oldest_reply(array("i", serials), newest))
        assert found[-1] == expected, serials
    return found


def test_a_new_reply_route_takes_a_free_entry_else_the_oldest():
    _pure_then_viper(routes, "oldest_reply", _oldest_replies)


class _FaultyLink(RecordingLink):
    def transmit(self, length, phys):
        raise RuntimeError("a fault in the link")


class _Entry:
    def __init__(self, used, started):
        self.used = used
        self.started = started


def _expiries(until_expiry):
    # The wait until the first entry in use is 100 ms old, at ticks 1000: none in use, one
    # young, one overdue, the soonest of several, and across the ticks' wrap.
    cases = [
        ([], -1),
        ([_Entry(False, 990)], -1),
        ([_Entry(False, 999), _Entry(True, 950)], 50),
        ([_Entry(True, 800)], 0),  # overdue
        ([_Entry(True, 960), _Entry(True, 930), _Entry(False, 901), _Entry(True, 990)], 30),
        ([_Entry(True, 900)], 0),  # due now
    ]
    waits = [until_expiry(entries, 100, 1000) for entries, _ in cases]
    assert waits == [expected for _, expected in cases]
    # Started just before the ticks wrapped (ticks_ms() wraps at 2**30 on MicroPython).
    wrapped = ticks_add(0, -20)
    waits.append(until_expiry([_Entry(True, wrapped)], 100, 10))
    assert waits[-1] == 70
    return waits


def test_a_tables_next_expiry_is_its_oldest_entry_in_use():
    _pure_then_viper(timers, "until_expiry", _expiries)


def _replies_for(reply_for):
    # The entry an answer to EID 9, tag 1 takes: of the entries in use with that EID and tag,
    # the one taken last, else the newest never taken, across the serials' wrap at 2**30.
    wrap = 0x3FFFFFFF
    cases = [
        ([], 10, -1),
        ([(9, 1, 3, -1)], 10, 0),
        ([(9, 2, 3, -1), (8, 1, 4, -1), (9, 1, -1, -1)], 10, -1),  # tag, EID, not in use
        ([(9, 1, 3, -1), (9, 1, 5, -1), (9, 1, 4, -1)], 10, 1),  # the newest
        ([(9, 1, 3, 7), (9, 1, 5, -1), (9, 1, 4, 6)], 10, 0),  # taken last
        ([(9, 1, 3, -1), (9, 1, 5, 6), (9, 1, 4, -1)], 10, 1),  # taken beats never taken
        ([(9, 1, wrap - 1, wrap), (9, 1, 1, 2)], 3, 1),  # taken 2 is newer than 2**30 - 1
        ([(9, 1, 1, 2), (9, 1, wrap - 1, wrap)], 3, 0),
        ([(9, 1, wrap - 1, -1), (9, 1, 1, -1)], 3, 1),  # 1 is newer than 2**30 - 2
        ([(9, 1, 1, -1), (9, 1, wrap - 1, -1)], 3, 0),
    ]
    found = []
    for entries, newest, expected in cases:
        table = routes.ReplyRoutes(4, 1000)
        for i, (eid, tag, serial, taken) in enumerate(entries):
            route = table.routes[i]
            route.eid, route.tag, route.taken, route.used = eid, tag, taken, serial >= 0
            table.serials[i] = serial
        found.append(reply_for(table.routes, table.serials, newest, 9 << 8 | 1))
        assert found[-1] == expected, entries
    return found


def test_an_answer_takes_the_reply_route_of_the_request_taken_last_else_the_newest():
    _pure_then_viper(routes, "reply_for", _replies_for)


def _answered(quick_reply, asked, eid=30, endpoint_type=0, static=0, link=None, ic=False):
    # A single-packet control request from EID 9 (tag 3) into core `eid` through
    # Core.receive, whose fast path offers it to quick_reply (the version under test;
    # _declined: none answers it so) before the control slot and the full path; what happened:
    # what quick_reply returned, the packets the link saw, the counters, the control slot's
    # state after.
    core, _sink, _link, _clock = make_core(eid=eid)
    uuid = bytes(range(16, 32))
    control = responder.ControlResponder(core, uuid, static_eid=static or None)
    core.eid, control.endpoint_type = eid, endpoint_type
    link = link or RecordingLink()
    answered = []

    def offered(buf, off, length):
        answered.append(quick_reply(control, buf, off, length))
        return answered[-1]

    control.quick_reply = offered
    inject(core, link, bytes((1, eid, 9, 0xCB, 0x80 if ic else 0)) + asked)
    slot = core.pool.control_slot
    return (
        answered,
        link.sent,
        control.counters.as_dict(),
        core.counters.as_dict(),
        core.tx_failed_link is link,
        (slot.meta[0], slot.owner, slot.link, slot.phys, slot.reply),
    )


def _quick_answers(quick_answer):
    # quick_reply's first step: the answer's length and packet in the link's tx_buf for a
    # request it answers (each Get Endpoint ID kind, UUID), 0 and nothing written otherwise.
    results = []
    for asked, static, eid in (
        (b"\x85\x02", 20, 0),
        (b"\x86\x02", 20, 20),
        (b"\x87\x02", 20, 30),
        (b"\x9f\x02", 0, 30),
        (b"\x81\x03", 0, 30),
        (b"\x81\x04", 0, 30),
        (b"\x01\x02", 0, 30),
        (b"\x81", 0, 30),
    ):
        seen = []

        def built(control, buf, off, length, seen=seen):
            link = control.core._rx_link
            before = bytes(link.tx_buf)
            n = quick_answer(control, buf, off, length)
            seen.append((n, bytes(link.tx_buf[link.tx_off : link.tx_off + 5 + n]) if n else None))
            assert n or bytes(link.tx_buf) == before
            return False  # (the full path answers)

        _answered(built, asked, eid, 0, static)
        results.append(seen)
    assert [r[0][0] for r in results] == [6, 6, 6, 6, 19, 0, 0, 0]
    return results


def test_quick_answer_builds_the_packet_quick_reply_sends():
    _pure_then_viper(responder, "quick_answer", _quick_answers)


def _declined(control, buf, off, length):
    return False


def _quick_replies(quick_reply):
    # Get Endpoint ID (each EID type, a bridge's endpoint type) and UUID answered and sent as
    # the full path answers and sends them, no slot taken; every other request, an answer of
    # two packets, a link send_packets refuses and a capture left to the full path.
    results = []
    for eid, endpoint_type, static, asked in (
        (0, 0, 20, b"\x85\x02"),  # static EID supported, none set
        (20, 0, 20, b"\x86\x02"),  # the static EID
        (30, 1, 20, b"\x87\x02"),  # another, a bridge
        (30, 0, 0, b"\x9f\x02"),  # dynamic
        (30, 0, 0, b"\x81\x03"),  # Get Endpoint UUID
    ):
        result = _answered(quick_reply, asked, eid, endpoint_type, static)
        full = _answered(_declined, asked, eid, endpoint_type, static)
        assert result[0] == [True] and result[1:] == full[1:], asked
        results.append(result)
    assert [packet for _, ((_, packet),), *_ in results] == [
        bytes((1, 9, 0, 0xC3, 0)) + b"\x05\x02\x00\x00\x01\x00",
        bytes((1, 9, 20, 0xC3, 0)) + b"\x06\x02\x00\x14\x02\x00",
        bytes((1, 9, 30, 0xC3, 0)) + b"\x07\x02\x00\x1e\x13\x00",
        bytes((1, 9, 30, 0xC3, 0)) + b"\x1f\x02\x00\x1e\x00\x00",
        bytes((1, 9, 30, 0xC3, 0)) + b"\x01\x03\x00" + bytes(range(16, 32)),
    ]
    assert [r[1][0][0] for r in results] == [0x1D] * 5  # back to the request's address
    for asked in (b"\x81\x04", b"\x81\x02\x00", b"\x01\x02", b"\xc1\x02", b"\x81"):
        results.append(_answered(quick_reply, asked))  # another command, Rq clear, ...
        assert results[-1][0] == [False] and results[-1][1:] == _answered(_declined, asked)[1:]
    results.append(_answered(quick_reply, b"\x81\x02", ic=True))  # never offered: dropped
    assert results[-1][0] == [] and results[-1][2]["dropped"] == 1
    # The link refuses the answer, or fails: counted as Core.respond and the full path count
    # them, the control slot free.
    for link in (RecordingLink(refuse_after=0), _FaultyLink()):
        results.append(_answered(quick_reply, b"\x81\x02", link=link))
        full = _answered(_declined, b"\x81\x02", link=type(link)(refuse_after=0))
        assert results[-1][0] == [True] and results[-1][1:] == full[1:]
        assert results[-1][5] == (0, -1, None, None, None)
    assert results[-2][2]["send_failed"] == results[-2][3]["tx_failed"] == 1
    assert results[-1][3]["internal_error"] == results[-1][2]["requests"] == 1
    # An answer one byte short of the MTU goes in one packet; longer, in two (the full path).
    results.append(_answered(quick_reply, b"\x81\x02", link=RecordingLink(mtu=7)))
    assert results[-1][0] == [True]
    results.append(_answered(quick_reply, b"\x81\x02", link=RecordingLink(mtu=6)))
    assert results[-1][0] == [False] and len(results[-1][1]) == 2
    # A link send_packets refuses (ValueError), without a link, and while a capture records
    # the core's sends: nothing done.
    core, _sink, _link, _clock = make_core()
    control = responder.ControlResponder(core, bytes(16))
    request = bytearray(bytes((1, 8, 9, 0xCB, 0)) + b"\x81\x02")
    short = RecordingLink()
    short.tx_buf = bytearray(len(short.tx_buf) - 1)
    core._rx_link = short
    results.append(quick_reply(control, request, 0, 7))
    core._rx_link = None
    results.append(quick_reply(control, request, 0, 7))
    core._rx_link = RecordingLink()
    core._send_packets = fastpath.send_packets_py  # (as mctp.capture does)
    results.append(quick_reply(control, request, 0, 7))
    assert results[-3:] == [False] * 3 and control.counters.total() == core.counters.total() == 0
    assert core._rx_link.sent == short.sent == []
    return results


def test_the_quick_replies_are_the_full_paths_answers_sent():
    _pure_then_viper(responder, "quick_reply", _quick_replies)


class _Wakes:
    def __init__(self):
        self.count = 0

    def set(self):
        self.count += 1


def _loopback_sends(transmit):
    # Packets from one link to others on a loopback bus (mtu 16: 20-byte buffers, rings of
    # two): a first packet to an address, the next to the same (the link remembered), a full
    # ring, another address, nobody's, a packet longer than the buffers, one the tap drops.
    bus = loopback.LoopbackBus(16, depth=2)
    a, b = bus.attach(0x10), bus.attach(0x11)
    c = bus.attach(0x12, _Wakes())
    sent = []
    for phys, n in ((0x11, 5), (0x11, 20), (0x11, 6), (0x12, 7), (0x12, 21), (0x13, 5), (0x12, 8)):
        for i in range(min(n, 20)):
            a.tx_buf[i] = (i * 13 + n + phys) & 0xFF
        if n > 20:
            with raises(ValueError):
                transmit(a, n, phys)
        else:
            sent.append(transmit(a, n, phys))
    bus.tap = _drop_all
    sent.append(transmit(a, 5, 0x12))
    assert sent == [True, True, False, True, False, True, True]
    assert (b.overflows, a.unreachable, c.wake.count, c.pending()) == (1, 1, 2, 2)
    rings = []
    for link in (b, c):
        rings.append([bytes(link._ring[i][: link._lengths[i]]) for i in range(2)])
        rings.append((list(link._sources), link._count, link._head))
    return sent, rings


def _drop_all(src, dest, buf, length):
    return False


def test_a_loopback_link_queues_each_packet_at_the_link_of_its_address():
    _pure_then_viper(loopback, "transmit", _loopback_sends)


class _HoldingSink(Sink):
    # Keeps every message it is handed (its slot stays taken): its owner's queue fills.
    def deliver(self, slot):
        self.messages.append((slot.owner, slot.tag, bytes(slot.buf[: slot.length])))
        return True


def _loopback_polls(poll):
    # Packets queued at a loopback link for core 8 (one complete message an owner): a
    # three-packet request (its middle packet through the fast path), a middle packet of no
    # message, then a single-packet request of the same owner, which waits: the message before
    # filled the owner's queue (RX_FULL). What each poll left, and what the core did.
    bus = loopback.LoopbackBus(8, depth=8)
    a, b = bus.attach(0x10), bus.attach(0x11)
    core = Core(Config(queue_limit=1), 8, FakeClock(500))
    core.add_link(b)
    sink = _HoldingSink(core)
    for flags, payload in (
        (0x89, b"\x01" + bytes(range(7))),  # SOM, TO, tag 1
        (0x1B, bytes(8)),  # a middle packet of tag 3: no message (no_som)
        (0x19, bytes(range(8, 16))),  # the middle packet, sequence 1
        (0x69, b"\xaa\xbb"),  # EOM, sequence 2
        (0xCA, b"\x01\xcc"),  # SOM, EOM, TO, tag 2
    ):
        packet = bytes((1, 8, 9, flags)) + payload
        a.tx_buf[: len(packet)] = packet
        assert loopback.transmit(a, len(packet), 0x11)
    polls = []
    for _ in range(2):
        poll(b, core)
        polls.append((b._count, b._head, list(sink.messages), core.counters.as_dict()))
    assert polls[0][:3] == (1, 4, [(101, 1, bytes(range(7)) + bytes(range(8, 16)) + b"\xaa\xbb")])
    assert polls[0][3]["no_som"] == 1 and polls[0][3]["rx_packets"] == 4
    assert polls[1][:2] == (0, 5) and polls[1][3]["queue_full"] == 1
    return polls


def test_a_loopback_link_hands_its_packets_to_the_core_middle_ones_to_its_fast_path():
    _pure_then_viper(loopback, "poll", _loopback_polls)


def _fill_packets(fill_packet):
    message = bytes(range(150))
    core, _sink, link, _clock = make_core()
    core._tx_link, core._tx_dest, core._tx_flags, core._tx_type = link, 9, 0x0B, 0x81
    core._tx_buf, core._tx_off, core._tx_left, core._tx_seq = message, 0, 150, 0
    packets = []
    flags, room = 0x80, 63
    while core._tx_left:
        n = fill_packet(core, flags, room)
        packets.append(bytes(link.tx_buf[link.tx_off : link.tx_off + n]))
        flags, room, core._tx_seq = 0, 64, (core._tx_seq + 1) & 3
    assert [len(p) for p in packets] == [68, 68, 27]
    assert packets[0][:5] == bytes((1, 9, 8, 0x8B, 0x81))
    assert packets[1][:4] == bytes((1, 9, 8, 0x1B)) and packets[2][3] == 0x2B
    assert b"".join(p[4:] for p in packets)[1:] == message
    core._tx_left = 80  # more than the buffer holds from _tx_off 150
    with raises(ValueError):
        fill_packet(core, 0, 64)
    return packets


def test_fill_packet_writes_each_packet_of_a_message():
    _fill_packets(fastpath.fill_packet)  # (send_packets_py's, under a capture: no viper twin)


def _send_message(send_packets, length, refuse_after=None, mtu=64, off=5):
    # What send_packets sends of buf[off:off + length] (each packet as the link saw it, with
    # its phys) and what it returns.
    message = bytes((i * 7 + 1) & 0xFF for i in range(off + length + 3))
    core, _sink, _link, _clock = make_core()
    link = RecordingLink(mtu, refuse_after)
    core._tx_link, core._tx_phys, core._tx_dest, core._tx_flags = link, 0x1D, 9, 0x0B
    core._tx_type, core._tx_buf, core._tx_off, core._tx_left = 0x81, message, off, length
    return send_packets(core), link.sent


def _messages_sent(send_packets):
    results = []
    for length in (0, 1, 63, 64, 127, 128, 150, 1023):
        sent, packets = _send_message(send_packets, length)
        assert sent == len(packets) == 1 + length // 64, length  # 63 bytes, then 64 a packet
        flags = [p[3] for _, p in packets]
        assert flags[0] & 0x80 and not any(f & 0x80 for f in flags[1:])
        assert flags[-1] & 0x40 and not any(f & 0x40 for f in flags[:-1])
        assert [f & 0x3F for f in flags] == [(i & 3) << 4 | 0x0B for i in range(sent)]
        assert all(p[:3] == bytes((1, 9, 8)) and phys == 0x1D for phys, p in packets)
        expected = bytes((0x81,)) + bytes((i * 7 + 1) & 0xFF for i in range(5, 5 + length))
        assert b"".join(p[4:] for _, p in packets) == expected
        results.append(packets)
    # The link refuses the third packet: two sent, ~2 returned; a one-packet message refused.
    sent, packets = _send_message(send_packets, 200, refuse_after=2)
    assert (sent, len(packets)) == (~2, 2)
    assert _send_message(send_packets, 0, refuse_after=0) == (-1, [])
    results.append(_send_message(send_packets, 40, mtu=16))
    # A message out of its buffer, or a link whose buffer is short of its MTU: nothing sent.
    for off, length in ((-1, 10), (0, -1), (95, 6)):
        core, link = _core_sending(bytes(100), off, length)
        with raises(ValueError):
            send_packets(core)
        assert link.sent == []
    core, link = _core_sending(bytes(100), 0, 10)
    link.tx_buf = bytearray(len(link.tx_buf) - 1)
    with raises(ValueError):
        send_packets(core)
    assert link.sent == []
    return results


def _core_sending(message, off, length):
    core, _sink, link, _clock = make_core()
    core._tx_link, core._tx_buf, core._tx_off, core._tx_left = link, message, off, length
    return core, link


def test_send_packets_sends_each_packet_of_a_message_and_stops_at_a_refusal():
    _pure_then_viper(fastpath, "send_packets", _messages_sent)


def _framed(frame_packet):
    state = 5
    frames = []
    for n in (5, 6, 20, 68, 0xFF):
        packet = bytearray(n)
        for i in range(n):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            packet[i] = (0x7E, 0x7D, state >> 16 & 0xFF)[state % 3]
        out = bytearray(2 * n + 6)
        frames.append(bytes(out[: frame_packet(out, packet, n)]))
        assert frames[-1] == reference_frame(packet)
    with raises(ValueError):
        frame_packet(bytearray(20), bytes(10), 10)  # no room for every byte escaped
    return frames


def test_the_serial_framer_gives_the_reference_bytes():
    _pure_then_viper(framing, "frame_packet", _framed)


def test_frame_span_is_frame_packet_without_its_range_check():
    # Packets of flags, escapes and other bytes, the empty one and the longest included.
    state = 5
    for n in (0, 1, 5, 6, 20, 68, 0xFF):
        packet = bytearray(n)
        for i in range(n):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            packet[i] = (0x7E, 0x7D, state >> 16 & 0xFF)[state % 3]
        out = bytearray(2 * n + 6)
        assert bytes(out[: framing.frame_span(out, packet, n)]) == reference_frame(packet), n


class _ScriptedStream:
    # A UART whose writes take, in turn, what `answers` says: None for the whole rest, a
    # count, OSError, or "full" (a full non-blocking stream: None); nothing to read.
    def __init__(self, answers):
        self.answers = list(answers)
        self.written = bytearray()

    def any(self):
        return 0

    def readinto(self, buf, n):
        return 0

    def write(self, buf, off=0, n=None):
        answer = self.answers.pop(0) if self.answers else 0
        if answer is OSError:
            raise OSError(116)
        if answer == "full":
            return None
        n = len(buf) - off if n is None else n
        n = n if answer is None else min(n, answer)
        self.written += buf[off : off + n]
        return n


def _serial_frames_written(transmit):
    results = []
    packet = bytes((1, 9, 8, 0xC8)) + bytes((0x7E, 0x7D)) + bytes(range(20))
    cases = (
        ([None], True),  # the whole frame at once
        ([10, None], True),  # part, then the rest (written by _write_rest)
        ([OSError, None], True),
        (["full", 5, None], True),
        ([OSError] + [0] * 1000, False),  # nothing more taken within write_timeout_ms (0)
    )
    for answers, expected in cases:
        stream = _ScriptedStream(answers)
        link = SerialLink(stream, write_timeout_ms=0 if not expected else 100)
        link.tx_buf[: len(packet)] = packet
        assert transmit(link, len(packet), None) is expected
        if expected:
            assert bytes(stream.written) == reference_frame(packet)
        counts = {k: v for k, v in link.counters.as_dict().items() if v}
        results.append((bytes(stream.written), counts))
    assert results[0][1] == {"tx_frames": 1}
    assert results[1][1] == {"tx_frames": 1, "tx_partial_writes": 1}
    assert results[4][1] == {"tx_partial_writes": 1, "tx_failed": 1}
    with raises(ValueError):
        transmit(SerialLink(_ScriptedStream([])), 69, None)  # beyond the 68-byte packet buffer
    return results


def test_serial_transmit_frames_writes_and_finishes_a_cut_write():
    _pure_then_viper(serial_link, "transmit", _serial_frames_written)


def _line_noise(seed, length):
    # Good frames, and good frames damaged in every way, with noise and flags between them.
    out = bytearray()
    state = seed
    while len(out) < length:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        frame = bytearray(
            framing.encode_frame(request(state & 7, pattern(state % 80, state & 0x7F)))
        )
        damage = state >> 8 & 7
        where = (state >> 12) % len(frame)
        if damage == 1:
            frame[where] ^= 1 << (state >> 20 & 7)
        elif damage == 2:
            frame = frame[:where] + frame[where + 1 :]
        elif damage == 3:
            frame = frame[:where]
        elif damage == 4:
            frame = frame[:where] + b"\x7d" + frame[where:]
        elif damage == 5:
            frame += bytes((state & 0xFF, 0x7E))
        out += frame
    return out


def _deframed(deframe):
    # Damaged line noise in pieces of every size, the ring emptied now and then so that it
    # also fills up: what each call queued, the counts, and the link's state after it.
    results = []
    queued = dropped = full = 0
    for seed in range(6):
        stream = _line_noise(seed, 3000)
        link = SerialLink(SerialPipe().a, rx_mtu=64, ring=3)
        at = 0
        step = 1
        calls = 0
        while at < len(stream):
            step = step * 7 % 61 + 1
            chunk = stream[at : at + step]
            got = deframe(link, chunk, len(chunk))
            results.append(got)
            queued += got
            calls += 1
            if calls % 3 == 0:
                link._r = link._w
            at += step
        dropped += sum(drops(link).values())
        full += link.counters.ring_full
        results.append(link.counters.as_dict())
        results.append((list(link._ring), list(link._lengths), list(link._gaps)))
        state = list(link._rx)
        del state[deframer.CRC_AT]  # (the viper deframe's alone)
        state.append(link._w)
        state.append(link._r)
        results.append(state)
    assert queued > 100 and dropped > 100 and full > 5, (queued, dropped, full)
    return results


def test_the_serial_deframer_queues_good_frames_and_counts_every_damaged_one():
    _pure_then_viper(deframer, "deframe", _deframed)


def _plain_runs(plain_run):
    # Runs of plain bytes, flags and escapes, from every start, at every frame position and
    # limit, from two FCS values: what each copied, the FCS and the frame.
    state = 9
    buf = bytearray(90)
    for j in range(90):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        special = state >> 12 & 0xF  # one byte in eight a flag or an escape
        buf[j] = 0x7E if special == 0 else 0x7D if special == 1 else state >> 16 & 0xFF
    results = []
    stopped = 0
    for i in (0, 1, 13, 40, 89):
        for pos in (0, 3, 60):
            for k in (0, 1, 7, 74 - pos):
                for crc in (0x1E0E, 0xFFFF):
                    frame = bytearray(76)
                    k = min(k, 90 - i)
                    got = plain_run(frame, i, buf, k | pos << 7 | crc << 14)
                    stopped += (got & 0x7F) < k  # at a flag or an escape
                    results.append((got, bytes(frame)))
    assert stopped > 20 and max(got & 0x7F for got, _ in results) > 7, results
    return results


def test_the_deframers_plain_run_copies_up_to_a_flag_or_escape_with_the_fcs():
    _pure_then_viper(deframer, "plain_run", _plain_runs)


def test_plain_span_is_plain_run():
    assert _plain_runs(deframer.plain_span) == _plain_runs(deframer.plain_run_py)


class _ScriptedI2C:
    # A controller whose writes answer in turn from `answers`: a count of acknowledged bytes,
    # or OSError (a NACK); each write's address and bytes are kept.
    def __init__(self, answers):
        self.answers = list(answers)
        self.writes = []

    def writeto(self, addr, buf, stop=True):
        self.writes.append((addr, bytes(buf)))
        answer = self.answers.pop(0)
        if answer is OSError:
            raise OSError(5)
        return len(buf) if answer is None else answer


def _frames_written(transmit):
    results = []
    # (phys, writeto's answers: None acknowledges the whole frame) -> what transmit returns
    cases = (
        (0x11, [None], True),
        (None, [None], True),  # EID 9's neighbour, learned: 0x22
        (0x11, [OSError, 3, None], True),  # a NACK, a short write, then the frame
        (0x11, [OSError, OSError, OSError], False),  # every try of three fails
    )
    for phys, answers, expected in cases:
        i2c = _ScriptedI2C(answers)
        link = I2CLink(i2c, SimBus().target(0x10), 0x10, retries=2)
        link.neighbours.learn(9, 0x22)
        packet = bytes((1, 9, 8, 0xC8)) + bytes(range(30))
        link.tx_buf[4 : 4 + len(packet)] = packet
        assert transmit(link, len(packet), phys) is expected
        frame = smbus.encode_frame(bytearray(80), 0x22 if phys is None else phys, 0x10, packet)
        assert all(
            w == (0x22 if phys is None else phys, bytes(link.tx_buf[1:frame])) for w in i2c.writes
        )
        counts = link.counters.as_dict()
        results.append((i2c.writes, {k: v for k, v in counts.items() if v}))
    assert results[2][1] == {"tx_frames": 1, "tx_retries": 2}
    assert results[3][1] == {"tx_failed": 1, "tx_retries": 2}
    assert "0x11 did not acknowledge after 3 tries" in link.describe_failure()
    # No address known for EID 9: nothing written, counted.
    i2c = _ScriptedI2C([])
    link = I2CLink(i2c, SimBus().target(0x10), 0x10)
    link.tx_buf[4:8] = bytes((1, 9, 8, 0xC8))
    assert transmit(link, 5, None) is False
    assert (i2c.writes, link.counters.no_neighbour) == ([], 1)
    return results


def test_i2c_transmit_seals_writes_and_retries_each_frame():
    _pure_then_viper(i2c_link, "transmit", _frames_written)


def _serial_reads(read):
    # Frames waiting in a stream, read `most` bytes at a time: what each read took, what the
    # deframer queued, and a stream that has nothing (0) or says it has and gives None.
    results = []
    pipe = SerialPipe()
    link = SerialLink(pipe.a, ring=8)
    line = b"".join(framing.encode_frame(request(seq, bytes(20))) for seq in range(3))
    pipe.b.write(line, 0, len(line))
    for most in (1, 7, 40, 128, 128):
        results.append((read(link, most), link._w))
    assert sum(r[0] for r in results) == len(line) and link._w == 3

    class Liar:  # any() says there are bytes, readinto() finds none
        def any(self):
            return 5

        def readinto(self, buf, n):
            return None

    liar = SerialLink(Liar())
    results.append((read(liar, 128), liar._w, read(link, 128)))
    return results


def test_the_serial_read_takes_at_most_what_it_is_told_through_the_deframer():
    _pure_then_viper(deframer, "read", _serial_reads)


def _serial_deliver(deliver):
    # A 5-packet message from EID 9 over a serial line: the three middle packets go through the
    # core's fast path, the first and last through its full path, in order; a middle packet
    # after a gap through the full path too (which aborts what it continues); and the
    # hand-over stops where the core says RX_FULL.
    line = bytearray()
    for seq in range(5):
        som_eom = (0x80 if seq == 0 else 0) | (0x40 if seq == 4 else 0)
        body = (b"\x01" + bytes(range(63))) if seq == 0 else bytes(range(64))
        line += framing.encode_frame(bytes((1, 8, 9, som_eom | (seq & 3) << 4 | 8)) + body)
    core, sink, _link, _clock = make_core()
    link = core.add_link(SerialLink(SerialPipe().a))
    core.add_route(9, 9, link)
    link._deliver = lambda core: deliver(link, core)
    link._deframe(line, len(line))
    full_path = []  # the flags of the packets given to core.receive
    receive = core.receive
    core.receive = lambda *args: full_path.append(args[1][3] & 0xF0) or receive(*args)
    assert deliver(link, core) == 5 and link._r == link._w == 5
    assert full_path == [0x80, 0x40]
    assert core.counters.rx_packets == 5
    assert sink.messages[0][5] == bytes(range(63)) + bytes(range(64)) * 4
    link._deframe(line[74:148], 74)
    link._gaps[link._r] = 1
    assert deliver(link, core) == 1 and full_path == [0x80, 0x40, 0x10]
    # The core full after the first packet: the rest wait.
    link._deframe(line, len(line))
    core.receive = lambda *args: 2  # RX_FULL
    assert deliver(link, core) == -2 and link._w - link._r == 4  # (-1 - 1: RX_FULL)
    return link.counters.as_dict(), core.counters.as_dict(), link._r


def test_the_serial_deliver_hands_the_packets_to_the_core_middle_ones_by_its_fast_path():
    _pure_then_viper(deframer, "deliver", _serial_deliver)
