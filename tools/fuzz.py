# Seeded, bounded fuzzing; `--help` prints USAGE.
#
# (Over ~450 lines: the frame source, the rigs and the four in-process and UDP fuzzers share
# the seeded source and the figures; the IPC fuzzer is apart, in fuzz_ipc.py and fuzz_abuses.py.)

import gc
import sys

_ROOT = __file__.rpartition("/")[0].rpartition("/")[0] or "."
sys.path.insert(0, _ROOT if _ROOT != "tools" else ".")
sys.path.insert(0, (_ROOT if _ROOT != "tools" else ".") + "/tools")

from firmware.endpoint import EndpointApp  # noqa: E402
from mctp import ops, wire  # noqa: E402
from mctp._compat import IS_MICROPYTHON, ticks_add  # noqa: E402
from mctp.config import Config  # noqa: E402
from mctp.control import parse_version_entry  # noqa: E402
from mctp.host.i2c_sim import SimBus  # noqa: E402
from mctp.core.packet import build_packets, describe  # noqa: E402
from mctp.i2c.pec import pec  # noqa: E402
from mctp.i2c.smbus import check_frame, decode_frame, encode_frame  # noqa: E402
from run_endpoint import audit_figures, heap_in_use  # noqa: E402
from cli import CommandLine  # noqa: E402
from fuzz_rig import (  # noqa: E402
    ENDPOINT_ADDR,
    ENDPOINT_EID,
    OWNER_ADDR,
    TIMEOUT_MS,
    VENDOR,
    Owner,
    Rng,
    UdpRig,
    check_heap,
    random_request,
    table_problems,
)

USAGE = """usage: fuzz.py [--frames N] [--seed S] [--batch N] [--mode MODE] [--interpreter I]

Seeded, bounded fuzzing of the endpoint, the server's IPC dispatch and every decoder.

    python3 tools/fuzz.py [--frames N] [--seed S] [--batch N] [--mode MODE] [--interpreter I]
    micropython tools/fuzz.py --mode inproc [--frames N] [--seed S] [--batch N]

Modes (default: all that the interpreter running this can drive):
  udp      frames over the UDP I2C bus into tools/run_endpoint.py, started under each
           interpreter (--interpreter micropython, python or both; CPython only)
  inproc   frames into an endpoint in this process on the simulated I2C bus (with reads and
           lost END_WRITEs, which UDP cannot carry), random IPC requests into
           the server's wire adapter, and random bytes into every decoder (both interpreters)
  ipc      hostile bytes on the IPC stream (mctp.ipc) of tools/run_endpoint.py --ipc, over
           a few connections at once that come and go, and after each batch one abuse of the
           service in turn: a connection flood past its limit, its descriptors exhausted,
           a client that never reads (tools/fuzz_ipc.py; CPython only):
           --frames counts the items written

The frames: random bytes; bit flips, truncations and extensions of valid frames, with and
without a recomputed PEC; bad PEC and counts; SOM/EOM/sequence abuse; partial messages from
many EIDs and tags, interleaved; duplicated, reordered and dropped packets; and the classes of
defect found before (one source and tag twice, unanswered datagrams from many sources, a first
packet of another type restarting a message, unfinished messages filling the pool, back-to-back
1 KiB requests). After every batch the endpoint must be alive, answer Get Endpoint ID, echo
1 KiB whole, and have its heap (after a collection) and every table back at baseline with no
broken invariant; in-process, the invariants are checked after every frame too.

It prints one `name: value unit` line per figure, and exits 1 on any failure, naming the seed
and the batch that reproduce it (the same seed gives the same frames on both interpreters).
"""

TO = 0x08
READ = "read"  # a batch item: a controller reads from the endpoint (simulated bus only)
LOSE_END = "lose-end"  # a batch item: the next frame's END_WRITE is lost (simulated bus only)


# Where fuzzed frames come from. Mostly not the bus owner's address: the endpoint's answers to
# them would otherwise pass for answers to the health checks' requests (MCTP matches a response
# by EID and tag only, and a request to EID 0 by tag alone), which says nothing about the
# endpoint. Sometimes the owner's, so our own stack takes in unexpected answers too.
SOURCE_ADDRS = (0x11, 0x11, 0x11, 0x12, 0x10)


def frame_of(packet, src_addr=0x11, dest_addr=ENDPOINT_ADDR):
    buf = bytearray(len(packet) + 5)
    n = encode_frame(buf, dest_addr, src_addr, packet)
    return bytes(buf[:n])


def reseal(frame):
    """The frame with its count and PEC made right again, so a mutation reaches the stack."""
    frame = bytearray(frame)
    if len(frame) >= 4:
        frame[2] = (len(frame) - 4) & 0xFF
        frame[-1] = pec(frame, 0, len(frame) - 1, 0)
    return bytes(frame)


class FrameSource:
    """Batches of hostile, unlucky and well-formed frames for the endpoint at 0x1D (EID 9)."""

    def __init__(self, rng, with_bus_events=False):
        self.rng = rng
        self.with_bus_events = with_bus_events
        self.kinds = (
            self.random_bytes,
            self.mutated,
            self.mutated,
            self.message,
            self.message,
            self.abused,
            self.interleaved,
            self.replayed,
            self.duplicate_tag,
            self.datagrams,
            self.restart_other_type,
            self.unfinished,
            self.back_to_back,
        )

    def batch(self, size):
        """At least `size` items (a kind's frames are never split), made as they are taken: a
        whole batch at once would not fit a microcontroller's heap. The stream depends on the
        seed alone, as long as the taker draws nothing from the same Rng meanwhile."""
        count = 0
        while count < size:
            if IS_MICROPYTHON:
                # The frames of one kind live while they are taken: made right after a
                # collection they lie together, not scattered among the garbage of the last
                # ones, which on a 140 KB heap leaves no kilobyte in one piece.
                gc.collect()
            frames = self.rng.pick(self.kinds)()
            count += len(frames)
            yield from frames
            frames = None  # garbage before the next kind is made
            if self.with_bus_events and self.rng.chance(3):
                count += 1
                yield self.rng.pick((READ, LOSE_END))

    # What a message looks like.

    def eid(self):
        return self.rng.pick((0, 8, 9, 20, 21, 22, 23, 30, 77, 254, self.rng.below(256)))

    def payload(self, type_byte):
        rng = self.rng
        msg_type = type_byte & 0x7F
        if msg_type == 0:  # a control request (or not quite)
            flags = rng.pick((0x80, 0x80, 0xC0, 0x00, rng.below(256)))
            return bytes((flags | rng.below(32), rng.below(8) or rng.below(256))) + rng.bytes(
                rng.below(6)
            )
        if msg_type == 1:  # PLDM
            head = bytes(
                (rng.pick((0x80, 0xC0, 0x00)) | rng.below(32), rng.below(4), rng.below(8))
            )
            return head + rng.bytes(rng.below(12))
        if msg_type == 0x7E:
            vendor = VENDOR if rng.chance(80) else rng.bytes(2)
            return vendor + rng.bytes(rng.pick((0, 1, 10, 62, 63, 200, 1021, rng.below(1022))))
        return rng.bytes(rng.below(300))

    def packets(self, src=None, tag_flags=None, type_byte=None, mtu=None, payload=None):
        rng = self.rng
        src = self.eid() if src is None else src
        if tag_flags is None:
            tag_flags = (TO if rng.chance(80) else 0) | rng.below(8)
        if type_byte is None:
            type_byte = rng.pick((0, 0, 1, 1, 0x7E, 0x7E, 0x7F, rng.below(256)))
        if mtu is None:
            mtu = rng.pick((64, 64, 64, 32, 16, 1, 1 + rng.below(64), 250))
        if payload is None:
            payload = self.payload(type_byte)
        dest = rng.pick((ENDPOINT_EID, ENDPOINT_EID, 0, 0xFF, self.eid()))
        return build_packets(src, dest, tag_flags, type_byte, payload, mtu, rng.below(4))

    # The kinds of batch item.

    def random_bytes(self):
        n = self.rng.pick((0, 1, 2, 5, 9, 20, 72, 73, 74, 258, self.rng.below(300)))
        return [bytes((ENDPOINT_ADDR << 1,)) + self.rng.bytes(n)]

    def mutated(self):
        rng = self.rng
        frame = bytearray(frame_of(rng.pick(self.packets()), rng.pick(SOURCE_ADDRS)))
        how = rng.below(6)
        if how == 0:
            at = rng.below(len(frame))
            frame[at] ^= 1 << rng.below(8)
        elif how == 1:
            frame = frame[: rng.below(len(frame))]
        elif how == 2:
            frame += rng.bytes(1 + rng.below(20))
        elif how == 3:
            frame[2] = rng.below(256)  # the byte count
        elif how == 4:
            frame[-1] ^= 1 + rng.below(255)  # the PEC
        else:
            frame[3] = rng.below(256)  # the source address byte
        if how in (0, 1, 2, 5) and rng.chance(70):
            frame = reseal(frame)
        return [bytes(frame)]

    def message(self):
        src_addr = self.rng.pick(SOURCE_ADDRS)
        return [frame_of(p, src_addr) for p in self.packets()]

    def abused(self):
        # SOM, EOM and sequence numbers at random.
        frames = []
        for packet in self.packets(mtu=self.rng.pick((16, 32, 64))):
            packet = bytearray(packet)
            packet[3] = (packet[3] & 0x0F) | (self.rng.below(16) << 4)
            frames.append(frame_of(packet))
        return frames

    def interleaved(self):
        rng = self.rng
        messages = [self.packets(mtu=rng.pick((8, 16, 64))) for _ in range(2 + rng.below(5))]
        for packets in messages:
            if rng.chance(40):
                del packets[rng.below(len(packets)) :]  # left unfinished
        frames = []
        while any(messages):
            packets = rng.pick([m for m in messages if m])
            frames.append(frame_of(packets.pop(0)))
        return frames

    def replayed(self):
        rng = self.rng
        packets = self.packets(type_byte=0x7E, mtu=rng.pick((16, 32, 64)))
        out = []
        for packet in packets:
            if rng.chance(8):
                continue  # dropped
            out.append(packet)
            if rng.chance(8):
                out.append(packet)  # duplicated
        for _ in range(rng.below(3)):  # neighbours swapped
            if len(out) > 1:
                i = rng.below(len(out) - 1)
                out[i], out[i + 1] = out[i + 1], out[i]
        return [frame_of(p) for p in out]

    def duplicate_tag(self):
        tag = TO | self.rng.below(8)
        src = self.eid()
        return [frame_of(p) for _ in range(2) for p in self.packets(src, tag, 0x7E)]

    def datagrams(self):
        frames = []
        for i in range(2 + self.rng.below(10)):
            (packet,) = build_packets(20 + i, ENDPOINT_EID, TO | i & 7, 0, b"\xc0\x02")
            frames.append(frame_of(packet, 0x30 + i))
        return frames

    def restart_other_type(self):
        tag = TO | self.rng.below(8)
        first = self.packets(30, tag, 0x01, 16, b"\x80\x00" + bytes(100))[0]
        return [frame_of(first)] + [frame_of(p) for p in self.packets(30, tag, 0x7E, 64)]

    def unfinished(self):
        frames = []
        for i in range(4 + self.rng.below(3)):
            msg_type = self.rng.pick((0x01, 0x7E, 0x00))
            packet = self.packets(40 + i, TO | i & 7, msg_type, 16, VENDOR + bytes(100))[0]
            frames.append(frame_of(packet, 0x40 + i))
        return frames

    def back_to_back(self):
        frames = []
        for tag in range(2 + self.rng.below(7)):
            payload = VENDOR + self.rng.bytes(1021)
            frames.extend(frame_of(p) for p in build_packets(8, 9, TO | tag, 0x7E, payload))
        return frames


class Figures:
    """What a run counts, printed as `name: value unit` lines."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.values = {}
        self.units = {}
        self.failures = []

    def add(self, name, value, unit):
        self.values[name] = self.values.get(name, 0) + value
        self.units[name] = unit

    def high(self, name, value, unit):
        self.values[name] = max(self.values.get(name, value), value)
        self.units[name] = unit

    def fail(self, seed, batch, what):
        self.failures.append("seed %d batch %d: %s" % (seed, batch, what))
        print("FAIL %s seed %d batch %d: %s" % (self.prefix, seed, batch, what))

    def report(self):
        for name in self.values:
            print("%s_%s: %d %s" % (self.prefix, name, self.values[name], self.units[name]))
        print("%s_failures: %d" % (self.prefix, len(self.failures)))


def app_figures(app):
    return dict(audit_figures(app))


# In process: the endpoint on the simulated bus, with a fake clock.


class Clock:
    def __init__(self):
        self.now = 1000

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now = ticks_add(self.now, ms)


class SimRig:
    """The endpoint firmware and a bus owner (our stack, for the health checks) on SimBus."""

    def __init__(self):
        self.bus = SimBus()
        self.clock = Clock()
        config = Config(reassembly_timeout_ms=TIMEOUT_MS, tag_expiry_ms=TIMEOUT_MS)
        self.app = EndpointApp(
            self.bus.controller(),
            self.bus.target(ENDPOINT_ADDR),
            ENDPOINT_ADDR,
            uuid=bytes(16),
            eid=ENDPOINT_EID,
            config=config,
            clock=self.clock,
        )
        self.owner = Owner(
            self.bus.controller(), self.bus.target(OWNER_ADDR), self.clock, self._idle
        )
        self.i2c = self.bus.controller()
        self.read_buf = bytearray(2)

    def _idle(self):
        self.app.poll()
        self.clock.advance(1)

    def deliver(self, item):
        if isinstance(item, str):
            if item == READ:
                self.i2c.readfrom_into(ENDPOINT_ADDR, self.read_buf)
            else:
                self.bus.lose_end_writes = 1
        elif len(item) > 1:
            try:
                self.i2c.writeto(item[0] >> 1, memoryview(item)[1:])
            except OSError:
                pass  # no target at that address

    def drain(self):
        """Let the endpoint take in and answer all it has, and the owner take in (and drop)
        the answers, with no time passing: what a batch left unfinished is still there."""
        while self.app.poll() or self.app.pending():
            pass
        self.owner.server.poll()

    def settle(self):
        """Let everything a batch left unfinished expire."""
        for _ in range(3):
            self.clock.advance(TIMEOUT_MS + 1)
            self.app.poll()
            self.owner.server.poll()


def fuzz_inprocess(seed, frames, batch_size, figures):
    rng = Rng(seed)
    rig = SimRig()
    source = FrameSource(rng, with_bus_events=True)
    problem = rig.owner.check_health(rng)
    if problem:
        figures.fail(seed, 0, "before fuzzing: " + problem)
        return
    rig.settle()
    baseline = app_figures(rig.app)
    heap = -1  # measured after the first batch, which warms everything up
    sent = 0
    batch = 0
    while sent < frames:
        batch += 1
        for item in source.batch(batch_size):
            rig.deliver(item)
            rig.app.poll()
            broken = rig.app.server.check()
            if broken:
                figures.fail(seed, batch, "invariant: " + broken[0])
                return
            sent += 1
        figures.add("batches", 1, "")
        rig.drain()
        problem = rig.owner.check_health(rng)
        rig.settle()
        problem = problem or "; ".join(table_problems(app_figures(rig.app), baseline))
        if problem:
            figures.fail(seed, batch, problem)
            return
        heap = check_heap(figures, heap, heap_in_use(), IS_MICROPYTHON)
        if heap is None:
            figures.fail(seed, batch, "the heap grew")
            return
    figures.add("frames", sent, "")
    counters = rig.app.core.counters
    figures.add("messages_taken", counters.rx_messages, "")
    figures.add("internal_errors", counters.internal_error + rig.app.link.counters.irq_errors, "")


# In process: random IPC requests into the server's wire adapter (mctp.ipc.adapter), random bytes into every decoder.

_DECODER_ERRORS = (wire.WireError, ValueError)


def fuzz_dispatch(seed, requests, figures):
    from mctp.ipc.adapter import WireAdapter  # noqa: PLC0415 (only this fuzzer speaks the wire)

    rng = Rng(seed)
    rig = SimRig()
    server = rig.app.server
    own = {h.value for h in (rig.app.echo.listener.handle, rig.app.pldm.listener.handle)}
    baseline = app_figures(rig.app)
    adapter = WireAdapter(server)
    conn = server.connect()
    buf = bytearray(wire.MAX_REQUEST_SIZE + 20)
    resp = bytearray(wire.MAX_RESPONSE_SIZE)
    handles = []
    for done in range(requests):
        n = random_request(rng, buf, handles)
        if buf[0] == ops.OP_UNBIND and wire.decode_request_header(buf).handle in own:
            continue  # the firmware's own listeners are not the fuzzer's to release
        try:
            ready = adapter.dispatch(conn, buf, n, resp)
            if ready:
                adapter.encode(conn, resp)
        except Exception as error:
            figures.fail(seed, done, "dispatch raised %r" % error)
            return
        if ready and resp[0] == 0 and buf[0] in (ops.OP_LISTENER, ops.OP_REQ):
            handles.append(wire.decode_response_header(resp).handle)
        if not ready and rng.chance(50):
            server.cancel(conn)
        rig.clock.advance(rng.below(60))
        server.poll()
        broken = server.check()
        if broken:
            figures.fail(seed, done, "invariant after dispatch: " + broken[0])
            return
    server.cancel(conn)
    for value in handles:
        adapter.dispatch(conn, buf, wire.encode_unbind(buf, value), resp)
    rig.settle()
    problems = table_problems(app_figures(rig.app), baseline)
    if problems:
        figures.fail(seed, requests, "after dispatch: " + "; ".join(problems))
    figures.add("requests", requests, "")


def fuzz_decoders(seed, inputs, figures):
    rng = Rng(seed)
    decoders = (
        lambda b: wire.decode_request_header(b, len(b)),
        lambda b: wire.decode_response_header(b, len(b)),
        lambda b: wire.response_payload_len(wire.decode_response_header(b, len(b)), len(b)),
        lambda b: wire.decode_recv_timeout(b, len(b)),
        lambda b: wire.decode_recv_capacity(b, len(b)),
        lambda b: wire.request_problem(b, len(b)),
        lambda b: check_frame(b, len(b), rng.below(256)),
        decode_frame,
        lambda b: describe(b, 0, len(b)),
        lambda b: parse_version_entry(b[:4]),
    )
    for done in range(inputs):
        data = bytearray(rng.bytes(rng.pick((0, 1, 4, 11, 12, 13, 16, 20, rng.below(80)))))
        for decoder in decoders:
            try:
                decoder(data)
            except _DECODER_ERRORS:
                pass
            except Exception as error:
                figures.fail(seed, done, "a decoder raised %r on %s" % (error, bytes(data)))
                return
    figures.add("inputs", inputs * len(decoders), "")


# Over UDP: tools/run_endpoint.py in a child process (CPython drives it).


def fuzz_udp(name, interpreter, seed, frames, batch_size, figures):
    import socket  # noqa: PLC0415
    import time  # noqa: PLC0415

    from endpoint_process import EndpointFailed  # noqa: PLC0415

    rng = Rng(seed)
    source = FrameSource(rng)
    try:
        rig = UdpRig(interpreter)
    except EndpointFailed as error:
        figures.fail(seed, 0, str(error))
        return
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        problem, baseline = rig.start(rng)
        heap = -1
        sent = 0
        batch = 0
        while not problem and sent < frames:
            batch += 1
            for i, frame in enumerate(source.batch(batch_size)):
                raw.sendto(frame, rig.address)
                sent += 1
                if i % 32 == 31:
                    time.sleep(0.001)  # let the endpoint keep up: a burst beyond the socket
                    rig.owner.core.poll()  # buffer would only be lost, not fuzzed
            figures.add("batches", 1, "")
            problem, heap = rig.check(rng, figures, baseline, heap, name == "micropython")
        figures.add("frames", sent, "")
        if problem:
            figures.fail(seed, batch, problem)
    except EndpointFailed as error:
        figures.fail(seed, 0, str(error))
    finally:
        raw.close()
        rig.close()


def interpreters(name):
    """(name, command) of the interpreters to run the endpoint under: micropython, python or
    both."""
    from endpoint_process import micropython_command  # noqa: PLC0415

    found = {"micropython": micropython_command(), "python": sys.executable}
    names = ("micropython", "python") if name == "both" else (name,)
    return [(n, found[n]) for n in names]


def run(mode, seed, frames, batch_size, interpreter="both"):
    """Fuzz and report; the number of failures."""
    here = "micropython" if IS_MICROPYTHON else "python"
    failures = 0
    if mode in ("inproc", "all"):
        for prefix, job, args in (
            ("fuzz_%s_inproc" % here, fuzz_inprocess, (seed, frames, batch_size)),
            ("fuzz_%s_dispatch" % here, fuzz_dispatch, (seed, frames // 4)),
            ("fuzz_%s_decoders" % here, fuzz_decoders, (seed, frames // 4)),
        ):
            figures = Figures(prefix)
            job(*args, figures)
            figures.report()
            failures += len(figures.failures)
    if mode in ("udp", "all") and not IS_MICROPYTHON:
        for name, command in interpreters(interpreter):
            figures = Figures("fuzz_%s_udp" % name)
            fuzz_udp(name, command, seed, frames, batch_size, figures)
            figures.report()
            failures += len(figures.failures)
    if mode in ("ipc", "all") and not IS_MICROPYTHON:
        import tempfile  # noqa: PLC0415

        from fuzz_ipc import fuzz_ipc  # noqa: PLC0415 (CPython only: resource, socket)

        for name, command in interpreters(interpreter):
            figures = Figures("fuzz_%s_ipc" % name)
            with tempfile.TemporaryDirectory(prefix="mctp-fuzz-") as folder:
                fuzz_ipc(name, command, seed, frames, batch_size, figures, folder)
            figures.report()
            failures += len(figures.failures)
    return failures


def main(argv):
    cli = CommandLine(
        USAGE,
        valued={
            "--frames": "5000",
            "--seed": "1",
            "--batch": "250",
            "--mode": "all",
            "--interpreter": "both",
        },
    )
    options, _ = cli.parse(argv)
    if options["mode"] not in ("udp", "inproc", "ipc", "all"):
        cli.fail("--mode: udp, inproc, ipc or all, not %r" % options["mode"])
    if options["interpreter"] not in ("micropython", "python", "both"):
        cli.fail("--interpreter: micropython, python or both, not %r" % options["interpreter"])
    failures = run(
        options["mode"],
        cli.number("--seed", options["seed"], 0, (1 << 30) - 1),
        cli.number("--frames", options["frames"], 1, 1 << 30),
        cli.number("--batch", options["batch"], 1, 1 << 20),
        options["interpreter"],
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
