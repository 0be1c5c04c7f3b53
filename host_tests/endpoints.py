# Building blocks for tests that run whole stacks: an injectable clock and endpoints (core,
# server, DirectClient, Stack) attached to a loopback bus.

from mctp import Stack, wire
from mctp._compat import ticks_add
from mctp.config import Config
from mctp.core import Core
from mctp.server import DirectClient
from mctp.i2c import IRQ_END_WRITE, IRQ_WRITE_REQ, MEM_SIZE, I2CLink
from mctp.host.i2c_sim import SimBus
from mctp.host.loopback import LoopbackBus
from mctp.errors import ResponseCode
from mctp.server import Server
from mctp.i2c.smbus import decode_frame, encode_frame


class FakeClock:
    """A ticks_ms stand-in that moves only when told to (call it to read it)."""

    def __init__(self, start=0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now = ticks_add(self.now, ms)


class Endpoint:
    """One stack on a bus: core, server, a DirectClient and the Stack facade over it. `link` is
    this endpoint's link to the bus, where its physical address is `phys`."""

    def __init__(self, bus, link, phys, eid, clock, config=None, epoch=None):
        self.bus = bus
        self.phys = phys
        self.core = Core(config or Config(), eid, clock)
        self.link = self.core.add_link(link)
        self.server = Server(self.core, epoch)
        # What runs while this endpoint waits: the other endpoints' server.poll (or anything
        # that runs one, such as EndpointApp.poll). Called from here directly, with no frame
        # in between: another stack's whole answer runs on top of this one's wait.
        self.others = []
        self.client = DirectClient(self.server, idle=self.idle)
        self.stack = Stack(self.client)
        self.clock = clock

    def idle(self):
        # While this endpoint waits, the others on the bus run; time moves on by 1 ms, so
        # timeouts happen in a test without real waiting.
        for poll in self.others:
            poll()
        if isinstance(self.clock, FakeClock):
            self.clock.advance(1)

    def route_to(self, other):
        self.core.add_route(other.core.eid, other.core.eid, self.link, other.phys)


def network(count=2, mtu=64, config=None, clock=None, depth=32):
    """`count` endpoints (EIDs 8, 9, ...; addresses 0x10, 0x11, ...) on one loopback bus, each
    routing to every other and polling the others while it waits."""
    bus = LoopbackBus(mtu, depth)
    clock = clock or FakeClock(1000)
    eps = [
        Endpoint(bus, bus.attach(0x10 + i), 0x10 + i, 8 + i, clock, config) for i in range(count)
    ]
    return _connect(eps)


def i2c_network(count=2, mtu=64, config=None, clock=None, fifo=16, ring=None, mem=False):
    """Like network(), on the simulated I2C bus: an I2CLink (controller and target) each,
    the targets in memory mode (as on a board) when `mem`."""
    bus = SimBus()
    clock = clock or FakeClock(1000)
    eps = []
    for i in range(count):
        addr = 0x10 + i
        memory = bytearray(MEM_SIZE) if mem else None
        target = bus.target(addr, fifo, memory)
        link = I2CLink(bus.controller(), target, addr, mtu, ring=ring, mem=memory)
        eps.append(Endpoint(bus, link, addr, 8 + i, clock, config))
    return _connect(eps)


def udp_pair(mtu=64, config=None, clock=None):
    """Two endpoints (EID 8 at 0x10, EID 9 at 0x11) on the UDP I2C bus, each on a free port."""
    from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415 (imports socket)

    clock = clock or FakeClock(1000)
    targets = (UdpI2CTarget(0x10, 0), UdpI2CTarget(0x11, 0))
    links = (
        I2CLink(UdpI2C(targets[1].port), targets[0], 0x10, mtu),
        I2CLink(UdpI2C(targets[0].port), targets[1], 0x11, mtu),
    )
    eps = [Endpoint(None, links[i], 0x10 + i, 8 + i, clock, config) for i in range(2)]
    return _connect(eps)


def serial_pair(streams=None, mtu=64, config=None, clock=None, **options):
    """Two endpoints (EID 8 and 9) joined by a serial line: the two ends of a SerialPipe, or
    the two `streams` given (a socket pair's, a pty's); `options` go to both SerialLinks."""
    from mctp.host.serial_pipe import SerialPipe  # noqa: PLC0415 (the serial tests' only)
    from mctp.serial import SerialLink  # noqa: PLC0415

    if streams is None:
        pipe = SerialPipe()
        streams = (pipe.a, pipe.b)
    clock = clock or FakeClock(1000)
    eps = [
        Endpoint(None, SerialLink(streams[i], mtu, **options), None, 8 + i, clock, config)
        for i in range(2)
    ]
    return _connect(eps)


def _connect(eps):
    for ep in eps:
        for other in eps:
            if other is not ep:
                ep.route_to(other)
                ep.others.append(other.server.poll)
    return eps


def echo_into(req, listener, resp, meta, buf, request):
    """One echo with reused objects, allocation-free: the request out, reassembled into the
    listener's buffer, the response back into the same buffer; the response's length."""
    req.send(1, request)
    listener.recv_into(buf, meta, resp)
    resp.send(buf, False, meta.payload_size)
    return req.recv_into(buf, meta)


def assert_nothing_held(ep):
    """No reassembly slot, flow or pending receive left in use at endpoint `ep`."""
    assert ep.core.pool.in_use() == 0
    assert ep.core.flows.in_use() == 0
    assert ep.server.pending_in_use() == 0


def pattern(length, seed=0):
    return bytes((i * 7 + seed) & 0xFF for i in range(length))


class Wire:
    """A client of `server` speaking the wire codec through a WireAdapter: one connection, one
    request buffer (one byte larger than any valid request, so oversized ones can be built),
    one response buffer."""

    def __init__(self, server):
        # (Imported here: mctp.ipc is loaded only by the tests that speak the wire, which
        # leaves the other tests on a Cortex-M0 board its RAM.)
        from mctp.ipc.adapter import WireAdapter  # noqa: PLC0415

        self.server = server
        self.adapter = WireAdapter(server)
        self.conn = server.connect()
        self.buf = bytearray(wire.MAX_REQUEST_SIZE + 1)
        self.resp = bytearray(wire.MAX_RESPONSE_SIZE)

    def dispatch(self, length):
        """Serve buf[:length]: True when the response is ready, False when a recv waits."""
        return self.adapter.dispatch(self.conn, self.buf, length, self.resp)

    def call(self, length):
        assert self.dispatch(length)
        return self.response()

    def resp_len(self):
        """The length of the wire response to the answered request (encoded in resp)."""
        assert self.conn.ready
        return self.adapter.encode(self.conn, self.resp)

    def response(self):
        return wire.decode_response_header(self.resp, self.resp_len())

    def raw(self):
        return bytes(self.resp[: self.resp_len()])

    def code(self, length):
        return self.call(length).code

    def payload(self):
        n = self.resp_len()
        hdr = wire.decode_response_header(self.resp, n)
        return bytes(wire.get_response_payload(self.resp, hdr, n))

    def ok(self, length):
        hdr = self.call(length)
        assert hdr.code == ResponseCode.SUCCESS, hdr.code
        return hdr

    def listener(self, msg_type):
        return self.ok(wire.encode_listener(self.buf, msg_type)).handle

    def req(self, eid):
        return self.ok(wire.encode_req(self.buf, eid)).handle

    def send(self, handle, msg_type, eid, tag, payload):
        """A SEND request; its response code (the tag is in response().tag)."""
        return self.code(wire.encode_send(self.buf, handle, msg_type, eid, tag, False, payload))

    def request(self, handle, msg_type, payload):
        """Send a request through request handle `handle`; the tag the stack gave it."""
        n = wire.encode_send(self.buf, handle, msg_type, None, None, False, payload)
        return self.ok(n).tag

    def respond(self, eid, tag, msg_type, payload):
        self.ok(wire.encode_send(self.buf, None, msg_type, eid, tag, False, payload))

    def recv(self, handle, timeout_ms=0, capacity=None):
        return self.dispatch(wire.encode_recv(self.buf, handle, timeout_ms, capacity))

    def unbind(self, handle):
        self.ok(wire.encode_unbind(self.buf, handle))


def lone_server(eid=8, config=None, epoch=None):
    """A server over a core with no link: packets come in through inject()."""
    clock = FakeClock(1000)
    core = Core(config or Config(), eid, clock)
    return Server(core, epoch), clock


def inject(core, src, flags, body):
    """Hand `core` one packet from EID `src`: header flags, then the body (a SOM packet's body
    starts with the type byte)."""
    pkt = bytes([0x01, core.eid, src, flags]) + body
    core.receive(None, pkt, 0, len(pkt), 0x20)


class RawPeer:
    """A hand-driven peer at `addr` on the simulated I2C bus (or, with `i2c` and `target`
    given, on any bus): it sends packets built by the test (any EID, tag, flags; a bad PEC on
    request) and keeps every packet written to it."""

    def __init__(self, bus, addr, i2c=None, target=None):
        self.addr = addr
        self.i2c = i2c or bus.controller()
        self.target = target or bus.target(addr)
        self.packets = []  # (source address, packet bytes)
        self._frame = bytearray()
        self._scratch = bytearray(16)
        self._out = bytearray(300)
        self.target.irq(self._irq, IRQ_WRITE_REQ | IRQ_END_WRITE, hard=True)

    def take(self):
        """Take in the frames waiting (a target that needs servicing: the UDP bus)."""
        self.target.service(1000)

    def _irq(self, target):
        flags = target.irq().flags()
        if flags & IRQ_WRITE_REQ:
            n = target.readinto(self._scratch)
            self._frame.extend(self._scratch[:n])
        if flags & IRQ_END_WRITE:
            frame = bytes((self.addr << 1,)) + bytes(self._frame)
            self._frame = bytearray()
            _dest, src, packet = decode_frame(frame)
            self.packets.append((src, packet))

    def send(self, dest_addr, packet, good_pec=True):
        """One frame carrying `packet` to `dest_addr`; True when every byte was acknowledged."""
        n = encode_frame(self._out, dest_addr, self.addr, packet)
        if not good_pec:
            self._out[n - 1] ^= 0xFF
        try:
            return self.i2c.writeto(dest_addr, memoryview(self._out)[1:n]) == n - 1
        except OSError:
            return False

    def send_all(self, dest_addr, packets):
        for packet in packets:
            self.send(dest_addr, packet)

    def messages(self):
        """The messages received so far: (source EID, tag, TO, type byte, payload bytes)."""
        self.take()
        found = []
        parts = {}
        for _addr, packet in self.packets:
            key = (packet[2], packet[3] & 0x0F)
            if packet[3] & 0x80:
                parts[key] = bytearray(packet[4:])
            elif key in parts:
                parts[key].extend(packet[4:])
            if packet[3] & 0x40 and key in parts:
                body = parts.pop(key)
                found.append((packet[2], packet[3] & 7, packet[3] & 8, body[0], bytes(body[1:])))
        return found


def frame_writes(packets, src_addr=0x10, dest_addr=0x1D, bad_pec_at=-1):
    """The frames carrying `packets` from `src_addr` to `dest_addr`, as views of what writeto
    sends (the address byte left out), made ahead of a heap-locked or measured run; the
    packet at index `bad_pec_at` gets a bad PEC."""
    writes = []
    for i, packet in enumerate(packets):
        buf = bytearray(len(packet) + 5)
        n = encode_frame(buf, dest_addr, src_addr, packet)
        if i == bad_pec_at:
            buf[n - 1] ^= 0xFF
        writes.append(memoryview(buf)[1:n])
    return writes


class Drain:
    """Takes whatever is written to `target` into one scratch buffer and counts the frames:
    an endpoint's answers land here without allocating. take() fires the target's IRQs for
    what waits on the simulated bus."""

    def __init__(self, target):
        self.frames = 0
        self.target = target
        self._scratch = bytearray(16)
        self._handler = self._irq  # bind once
        target.irq(self._handler, IRQ_WRITE_REQ | IRQ_END_WRITE, hard=True)

    def take(self):
        self.target.service()

    def _irq(self, target):
        if target.irq().flags() & IRQ_WRITE_REQ:
            target.readinto(self._scratch)
        else:
            self.frames += 1


def firmware_app(bus, clock, eid=9, addr=0x1D, i2c=None, target=None, **options):
    """The endpoint firmware (EndpointApp) on the simulated bus, with a fixed UUID; `i2c` and
    `target` replace the bus's controller and target at `addr`."""
    from firmware.endpoint import EndpointApp  # noqa: PLC0415 (the firmware is not the package)

    return EndpointApp(
        i2c or bus.controller(),
        target or bus.target(addr),
        addr,
        uuid=bytes(range(16)),
        eid=eid,
        clock=clock,
        **options,
    )


class Sink:
    """The layer above a bare core, for tests of the core and the bindings: takes requests
    of the message `types` given, and keeps each message delivered as (source EID, tag,
    payload), releasing its slot."""

    def __init__(self, core, types=(0, 1)):
        self.core = core
        self.types = types
        self.messages = []
        core.sink = self

    def accept_request(self, msg_type):
        return msg_type if msg_type in self.types else -1

    def deliver(self, slot):
        self.messages.append((slot.src, slot.tag, bytes(slot.buf[: slot.length])))
        self.core.release(slot)
        return True
