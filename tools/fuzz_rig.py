# What the fuzzers share (tools/fuzz.py, and tools/fuzz_ipc.py for its --mode ipc): the
# endpoint's and the bus owner's addresses, the seeded random numbers, random IPC requests, the
# bus owner that checks the endpoint's health, the checks of its tables and heap against their
# baselines, and the rig that runs tools/run_endpoint.py in a child process.

from mctp import Stack, wire
from mctp.config import Config
from mctp.control import ControlError
from mctp.control.requester import ControlRequester
from mctp.core import Core
from mctp.errors import MctpError
from mctp.i2c import I2CLink
from mctp.server import DirectClient, Server

OWNER_ADDR, OWNER_EID = 0x10, 8
ENDPOINT_ADDR, ENDPOINT_EID = 0x1D, 9
VENDOR = b"\xff\xff"  # the endpoint's echo vendor ID (its default)
# Short timeouts in the endpoint under test, so that what a batch leaves unfinished has expired
# by the time the tables are checked.
TIMEOUT_MS = 100
QUIET_S = 0.1  # over UDP, the endpoint has taken in a batch once it is this long quiet


class Rng:
    """xorshift32: the same numbers from a seed on every interpreter, all small ints."""

    def __init__(self, seed):
        self.state = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def below(self, n):
        return self.next() % n if n > 0 else 0

    def chance(self, percent):
        return self.below(100) < percent

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def bytes(self, n):
        return bytes(self.next() & 0xFF for _ in range(n))


# How far the heap may move between batches on MicroPython (bytes): what the fuzzer itself
# keeps (the last error, its own figures) comes and goes by a block or two; a leak of even one
# object per message grows without end and shows within a few batches.
HEAP_SLACK = 512


def check_heap(figures, baseline, now, enforced, slack=HEAP_SLACK):
    """The heap baseline for the next batch, or None when `now` is beyond it by more than
    `slack` (MicroPython's gc.mem_alloc; CPython's allocated blocks are only reported, its
    caches grow slowly)."""
    if baseline < 0:
        return now
    figures.high("heap_delta", now - baseline, "bytes" if enforced else "blocks")
    if enforced and now - baseline > slack:
        return None
    return baseline


class Owner:
    """The bus owner that checks the endpoint's health, on either bus: our stack at 0x10
    (EID 8), with routes for EID 0 (the endpoint at its address) and EID 9."""

    def __init__(self, i2c, target, clock, idle=None):
        self.core = Core(Config(), OWNER_EID, clock)
        self.link = self.core.add_link(I2CLink(i2c, target, OWNER_ADDR))
        self.core.add_route(0, 0, self.link, ENDPOINT_ADDR)
        self.core.add_route(ENDPOINT_EID, ENDPOINT_EID, self.link, ENDPOINT_ADDR)
        self.server = Server(self.core)
        self.stack = Stack(DirectClient(self.server, idle=idle))
        self.control = ControlRequester(self.stack)

    def check_health(self, rng):
        """None when the endpoint answered right, else what went wrong: Get Endpoint ID at
        EID 0 (a fuzzed Set Endpoint ID may have changed its EID), back to EID 9, and a 1 KiB
        echo. (One method, the try included: its waits run the endpoint on top of them, and
        the emulated Cortex-M0 has a Pico's 8 KiB of C stack.)"""
        try:
            if self.control.get_eid(0).eid != ENDPOINT_EID:
                self.control.set_eid(0, ENDPOINT_EID)
            request = VENDOR + rng.bytes(1021)
            with self.stack.req(ENDPOINT_EID, 2000) as channel:
                channel.send(0x7E, request)
                meta, echoed = channel.recv()
        except (ControlError, MctpError) as error:
            return "no answer: %s" % error
        if bytes(echoed) != request or meta.remote_eid != ENDPOINT_EID:
            return "the 1 KiB echo came back changed"
        return None


def table_problems(figures, baseline):
    """Which of the endpoint's figures (a dict) differ from their baseline."""
    problems = []
    for name in ("slots", "flows", "reply_routes", "pending", "handles", "ring", "faults"):
        if figures[name] != baseline[name]:
            problems.append("%s=%d (baseline %d)" % (name, figures[name], baseline[name]))
    if figures["problems"]:
        problems.append("%d broken invariants" % figures["problems"])
    return problems


def random_request(rng, buf, handles):
    """A request in buf, valid or not; its length."""
    kind = rng.below(10)
    handle = rng.pick(handles) if handles and rng.chance(70) else rng.next()
    if kind == 0:
        data = rng.bytes(rng.below(40))
        buf[: len(data)] = data
        return len(data)
    if kind == 1:
        n = wire.encode_send(buf, handle, rng.below(128), None, None, rng.chance(10), b"x" * 5)
    elif kind == 2:
        n = wire.encode_send(buf, None, rng.below(128), rng.below(256), rng.below(8), False, b"a")
    elif kind == 3:
        n = wire.encode_recv(buf, handle, rng.pick((0, 1, 50)), rng.pick((None, 0, 4, 1023)))
    elif kind == 4:
        n = wire.encode_listener(buf, rng.below(128))
    elif kind == 5:
        n = wire.encode_req(buf, rng.below(256))
    elif kind == 6:
        n = wire.encode_unbind(buf, handle)
    elif kind == 7:
        n = wire.encode_get_eid(buf)
    elif kind == 8:
        n = wire.encode_set_eid(buf, rng.below(256))
    else:  # up to the limit, and sometimes beyond it (the encoder refuses that: add by hand)
        n = wire.encode_send(buf, handle, 1, None, None, False, rng.bytes(rng.below(1024)))
        n += rng.below(20) if rng.chance(30) else 0
    for _ in range(rng.below(3)):  # and a few bytes changed
        buf[rng.below(wire.WIRE_HEADER_SIZE)] = rng.below(256)
    return n if rng.chance(90) else rng.below(n + 1)


class UdpRig:
    """tools/run_endpoint.py under `interpreter` in a child process, on the UDP I2C bus with
    short timeouts and its console (and `extra` options), and the bus owner that checks its
    health (our stack, in this process). EndpointFailed when it does not start. `preexec_fn`
    runs in the child before the interpreter (a resource limit set there)."""

    def __init__(self, interpreter, extra=(), preexec_fn=None):
        from endpoint_process import EndpointProcess  # noqa: PLC0415

        from mctp._compat import ticks_ms  # noqa: PLC0415
        from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415

        self.target = UdpI2CTarget(OWNER_ADDR, 0)
        self.i2c = UdpI2C()
        self.owner = Owner(self.i2c, self.target, ticks_ms)
        options = ["--i2c-udp", "0:%d" % self.target.port, "--eid", str(ENDPOINT_EID)]
        options.append("--console")
        for setting in ("reassembly_timeout_ms", "tag_expiry_ms"):
            options.extend(("--config", "%s=%d" % (setting, TIMEOUT_MS)))
        options.extend(extra)
        try:
            self.endpoint = EndpointProcess(interpreter, options, preexec_fn=preexec_fn)
        except Exception:
            self.target.close()
            self.i2c.close()
            raise
        self.i2c.connect(self.endpoint.port)
        self.address = ("127.0.0.1", self.endpoint.port)

    def audit(self, command="audit"):
        """The figures of the console's `audit` (or `ipc`) line, as a dict."""
        line = self.endpoint.ask(command)
        return {k: int(v) for k, v in (pair.split("=") for pair in line.split()[1:])}

    def drain(self):
        """Until the endpoint has been quiet for a while: it has taken in all it was sent and
        the owner has taken in (and dropped) its answers."""
        import time  # noqa: PLC0415

        link = self.owner.link
        quiet_since = time.monotonic()
        seen = link.counters.rx_frames
        while time.monotonic() - quiet_since < QUIET_S:
            time.sleep(0.005)
            self.owner.core.poll()
            if link.counters.rx_frames != seen:
                seen = link.counters.rx_frames
                quiet_since = time.monotonic()

    def settle(self):
        """Let everything a batch left unfinished expire."""
        import time  # noqa: PLC0415

        time.sleep(3 * TIMEOUT_MS / 1000)
        self.drain()

    def start(self, rng, more_health=None):
        """Before fuzzing: (what went wrong or None, the audit's figures to come back to): the
        endpoint healthy (and `more_health(rng)` None), then its leftovers expired."""
        problem = self.owner.check_health(rng)
        if not problem and more_health is not None:
            problem = more_health(rng)
        self.settle()
        return problem, self.audit()

    def check(self, rng, figures, baseline, heap, enforced, more_health=None, slack=HEAP_SLACK):
        """After a batch: (what went wrong or None, the heap baseline for the next): the
        endpoint alive, healthy (and `more_health(rng)` None), its tables back at `baseline`
        and its heap (enforced on MicroPython) within `slack` bytes of its own."""
        self.drain()
        if not self.endpoint.alive():
            return "the endpoint died: " + self.endpoint.stop_output()[-2000:], heap
        problem, now = self.start(rng, more_health)
        problem = problem or "; ".join(table_problems(now, baseline))
        heap = check_heap(figures, heap, now["heap"], enforced, slack)
        if heap is None:
            problem = problem or "the heap grew"
        return problem or None, heap

    def close(self):
        self.endpoint.stop()
        self.target.close()
        self.i2c.close()
