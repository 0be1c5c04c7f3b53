"""Fuzzing of the IPC stream (mctp.ipc) into tools/run_endpoint.py --ipc unix:PATH, for
tools/fuzz.py --mode ipc (CPython drives it; the endpoint runs under each interpreter).

Each batch opens a few connections and writes hostile bytes into them: garbage (with magic
bytes in it), frames of random wire requests (valid ones that make handles and leave receives
pending, refused ones, damaged ones), frames damaged after sealing (a bit flipped, cut short, a
length changed behind a good header check, a header check or an FCS broken), lengths beyond
the limit, cancels and frames of other kinds, requests while an answer is owed, and
connections closed in the middle of a frame (a new one then takes its place: on a slow
machine the endpoint may refuse it, at its limit while it still reads what closed ones sent;
that is counted as `refused_while_draining` and the batch goes on). The answers are read and their handles used by
later requests (so a stream uses its own handles, and those of others, which the server must
refuse). After each batch every connection closes, and the endpoint must have released what
they held, answer its bus owner, serve a well-behaved IPC client that stayed connected all
along (a 1023-byte request from the bus to its listener, and the answer back), keep its
tables and its heap at their baseline, and have counted what it dropped (`ipc` on its
console).

Then, after each batch's bytes, one abuse of the service itself, in turn (ABUSES; more may be
added): a flood of connections past its limit (--ipc-max-clients: each refused, closed at
once, counted), its descriptors exhausted (the endpoint runs with a low RLIMIT_NOFILE, lowered
for the scenario to what it has open: accept() fails, counted, and the listener rests), and a
client that sends requests and never reads the answers (dropped after --ipc-stall-ms,
counted), and clients that grab every handle they can (each refused by its own quota, while a
new client still gets a listener and a request channel). The endpoint's CPU while the abuse goes on must stay near its idle figure. After
each batch, beside the checks above, its descriptors (/proc/PID/fd) are back at their baseline
and its idle CPU is low (`idle_cpu`, in percent of one CPU).

The seed decides every byte written but the handle values taken from the answers (the
endpoint's epoch is random, and which answers are in when a request is made is a matter of
timing): the random numbers drawn never depend on the answers, so a batch that failed is
written again, the same but for those values, by the same seed.

(Over ~450 lines: the batch items and the connections that write them share the seeded
source and the handles seen; the abuses are apart, in fuzz_abuses.py.)
"""

import resource
import socket
import time

from fuzz_rig import (
    ENDPOINT_EID,
    Rng,
    UdpRig,
    random_request,
)

from fuzz_abuses import (
    ABUSES,
    IDLE_CPU_PERCENT,
    MAX_CLIENTS,
    STALL_MS,
    cpu_percent,
    until,
)

from mctp import MctpError, Stack, wire
from mctp.host.ipc_sockets import connect_unix
from mctp.ipc import StreamClient
from mctp.ipc.framing import (
    HEADER_SIZE,
    KIND_CANCEL,
    KIND_DETAIL,
    KIND_REQUEST,
    KIND_RESPONSE,
    MAX_FRAME,
    MAX_MESSAGE,
    Deframer,
    encode_frame,
    seal,
)

from mctp.fcs import FCS_INIT, fcs16

IPC_TYPE = 0x05  # the health check's message type, on the well-behaved client's listener
FORGED_HANDLE = 0x00000F01  # a handle no server makes (its epoch, bits 12 and up, is 0)
CLOSE = "close"  # a batch item: its connection closes (after what was written so far)
BUSY = "busy"  # a batch item: a receive left waiting, and requests behind it (IpcSource.busy)
SEND_TIMEOUT_S = 2.0  # a stream the endpoint stops reading for this long is a failure
# How far the endpoint's heap may move between batches (MicroPython, bytes). Connections come
# and go, each with 6.4 KB of buffers (its socket's read-ahead, its deframer, its answer): one
# kept by mistake shows at once, while what the conservative collector happens to keep of the
# last ones moves the figure by up to 2 KB (measured: -500 to +2144 over 24 batches).
HEAP_SLACK = 4096
# Descriptors the endpoint may open beyond those it has when it starts: its connections and
# one more (what a refused connection takes for a moment).
SPARE_DESCRIPTORS = MAX_CLIENTS + 1
# What the endpoint has open once it runs: standard streams, its UDP and listening sockets,
# and on CPython its event loop's epoll and self-pipe (at most 9, measured), with room.
STARTS_WITH = 10


class IpcSource:
    """Batch items for connection numbers 0..connections-1: (number, bytes) or (number,
    CLOSE). `handles`: handle values seen in answers, which requests may use, after one
    forged value (never empty, so that drawing from it draws the same numbers)."""

    def __init__(self, rng, connections):
        self.rng = rng
        self.connections = connections
        self.handles = [FORGED_HANDLE]
        self.request = bytearray(MAX_MESSAGE + 32)
        self.frame = bytearray(MAX_FRAME + 64)
        self.kinds = (
            self.garbage,
            self.request_frame,
            self.request_frame,
            self.request_frame,
            self.damaged,
            self.damaged,
            self.oversized,
            self.other_kind,
            self.burst,
            self.cut_and_closed,
            self.busy,
        )

    def batch(self, size):
        """At least `size` items."""
        count = 0
        while count < size:
            items = self.rng.pick(self.kinds)(self.rng.below(self.connections))
            count += len(items)
            yield from items

    def _request(self):
        # A frame of a random wire request (random_request's: valid or not), as bytes.
        n = random_request(self.rng, self.request, self.handles)
        if HEADER_SIZE + n + 2 > len(self.frame):
            n = len(self.frame) - HEADER_SIZE - 2
        return bytes(
            self.frame[
                : encode_frame(self.frame, KIND_REQUEST, self.rng.below(256), self.request, n)
            ]
        )

    def garbage(self, conn):
        rng = self.rng
        data = bytearray(rng.bytes(rng.pick((1, 2, 7, 9, 64, 300, 1 + rng.below(2000)))))
        for _ in range(rng.below(4)):  # a magic, or half of one, here and there
            at = rng.below(len(data))
            data[at] = 0xA5
            if at + 1 < len(data) and rng.chance(70):
                data[at + 1] = 0x4D
        return [(conn, bytes(data))]

    def request_frame(self, conn):
        return [(conn, self._request())]

    def damaged(self, conn):
        rng = self.rng
        frame = bytearray(self._request())
        how = rng.below(5)
        if how == 0:
            at = rng.below(len(frame))
            frame[at] ^= 1 << rng.below(8)
        elif how == 1:
            frame = frame[: rng.below(len(frame))]
        elif how == 2:  # another length, its header check made right: the FCS must catch it
            length = rng.below(MAX_MESSAGE + 1)
            frame[4] = length & 0xFF
            frame[5] = length >> 8
            frame[6] = fcs16(frame, 2, 4, FCS_INIT) & 0xFF
        elif how == 3:
            frame[6] ^= 1 + rng.below(255)
        else:
            frame[-1] ^= 1 + rng.below(255)
        return [(conn, bytes(frame))]

    def oversized(self, conn):
        # A good header for a message beyond the limit, then as many bytes as it claims (or
        # fewer): dropped at the header, the bytes after it taken for garbage.
        rng = self.rng
        length = rng.pick((MAX_MESSAGE + 1, 0x7FFF, 0xFFFF, MAX_MESSAGE + 1 + rng.below(500)))
        header = bytearray((0xA5, 0x4D, KIND_REQUEST, rng.below(256), length & 0xFF))
        header.append(length >> 8)
        header.append(fcs16(header, 2, 4, FCS_INIT) & 0xFF)
        return [(conn, bytes(header) + rng.bytes(rng.below(min(length, 3000))))]

    def other_kind(self, conn):
        # A cancel (with or without a receive to withdraw), a response, or an unknown kind,
        # each with a good FCS.
        rng = self.rng
        kind = rng.pick((KIND_CANCEL, KIND_CANCEL, KIND_RESPONSE, 0, 4 + rng.below(252)))
        n = rng.pick((0, 0, 12, rng.below(40)))
        self.frame[HEADER_SIZE : HEADER_SIZE + n] = rng.bytes(n)
        return [(conn, bytes(self.frame[: seal(self.frame, kind, rng.below(256), n)]))]

    def burst(self, conn):
        # Requests back to back, the next before the last's answer (dropped as busy), often
        # receives that wait, then a cancel.
        items = []
        for _ in range(2 + self.rng.below(5)):
            if self.rng.chance(50):
                n = wire.encode_recv(self.request, self.rng.pick(self.handles), 200)
                n = encode_frame(self.frame, KIND_REQUEST, self.rng.below(256), self.request, n)
                items.append((conn, bytes(self.frame[:n])))
            else:
                items.append((conn, self._request()))
        if self.rng.chance(50):
            n = seal(self.frame, KIND_CANCEL, 0, 0)
            items.append((conn, bytes(self.frame[:n])))
        return items

    def busy(self, conn):
        # Connection.busy: a listener made, a receive on it left waiting, and requests sent
        # while its answer is owed (dropped, and counted as busy), sometimes a cancel after.
        return [(conn, BUSY)]

    def busy_frames(self, handle):
        """The frames Connection.busy sends once its listener is `handle`."""
        rng = self.rng
        n = wire.encode_recv(self.request, handle, 100 + rng.below(200))
        frames = [bytes(self.frame[: encode_frame(self.frame, KIND_REQUEST, 1, self.request, n)])]
        for _ in range(1 + rng.below(4)):
            frames.append(self._request())
        if rng.chance(50):
            frames.append(bytes(self.frame[: seal(self.frame, KIND_CANCEL, 1, 0)]))
        return frames

    def listener_frame(self):
        """A request for a listener on a message type nobody else takes."""
        n = wire.encode_listener(self.request, 0x40 + self.rng.below(0x3E))
        return bytes(self.frame[: encode_frame(self.frame, KIND_REQUEST, 0, self.request, n)])

    def cut_and_closed(self, conn):
        # A request whose frame stops part way, and the connection goes: whatever it held
        # (handles, a pending receive, half a frame) must go with it.
        frame = self._request()
        return [(conn, frame[: self.rng.below(len(frame))]), (conn, CLOSE)]


class Connection:
    """One fuzzing connection: a raw socket to the endpoint, and the answers read from it."""

    def __init__(self, path, handles):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.deframer = Deframer(MAX_MESSAGE)
        self.handles = handles
        self.answers = 0
        self.handle = None  # the handle in the last answer
        self.buf = bytearray(8192)
        self.why = None  # why the last write stopped: the error, or that it timed out

    def write(self, data):
        """Send `data` whole, reading the answers meanwhile; False when the endpoint stopped
        reading (or went)."""
        view = memoryview(data)
        deadline = time.monotonic() + SEND_TIMEOUT_S
        while view:
            self.read_answers()
            try:
                self.sock.settimeout(0.05)
                sent = self.sock.send(view)
            except socket.timeout:
                sent = 0
            except OSError as error:
                self.why = "%s: %s" % (type(error).__name__, error)
                return False
            view = view[sent:]
            if not sent and time.monotonic() > deadline:
                self.why = "nothing taken for %.1f s" % SEND_TIMEOUT_S
                return False
        return True

    def read_answers(self):
        # What the endpoint answered: its handles go to the pool requests draw on.
        while True:
            try:
                self.sock.settimeout(0)
                n = self.sock.recv_into(self.buf)
            except (BlockingIOError, socket.timeout):
                return
            except OSError:
                return
            if not n:
                return
            off = 0
            while off < n:
                off += self.deframer.feed(self.buf, off, n - off)
                if self.deframer.ready:
                    self._answer(self.deframer)
                    self.deframer.release()

    def _answer(self, d):
        if d.kind == KIND_DETAIL:
            return  # the words of the error whose response follows
        self.answers += 1
        self.handle = None
        if d.kind != KIND_RESPONSE or d.length < wire.WIRE_HEADER_SIZE:
            return
        hdr = wire.decode_response_header(d.msg, d.length)
        if hdr.code == 0 and hdr.handle:  # (only a LISTENER's or REQ's answer has one)
            self.handle = hdr.handle
            if len(self.handles) < 64:
                self.handles.append(hdr.handle)

    def answered(self, timeout_s=1.0):
        """Wait for the next answer; the handle it carries (None: none, or no answer)."""
        seen = self.answers
        deadline = time.monotonic() + timeout_s
        while self.answers == seen and time.monotonic() < deadline:
            time.sleep(0.002)
            self.read_answers()
        return self.handle if self.answers != seen else None

    def busy(self, source):
        """IpcSource.busy's item; False when the endpoint stopped reading."""
        self.read_answers()  # (what earlier items were answered, before waiting on ours)
        if not self.write(source.listener_frame()):
            return False
        # Refused (or its answer is behind a receive still owed): the frames go all the same,
        # with a forged handle.
        handle = self.answered()
        frames = source.busy_frames(FORGED_HANDLE if handle is None else handle)
        return all(self.write(frame) for frame in frames)

    def close(self):
        self.sock.close()


class GoodClient:
    """The well-behaved application: a StreamClient connected all along, whose listener
    takes a request the bus owner sends and answers it (its waits run the owner's stack)."""

    def __init__(self, path, owner):
        self.owner = owner
        self.stack = Stack(StreamClient(connect_unix(path), idle=self._idle))

    def _idle(self):
        self.owner.server.poll()
        time.sleep(0.0005)

    def check_health(self, rng):
        """None when a 1023-byte request from the bus reached the listener and its answer came
        back whole, else what went wrong."""
        request = rng.bytes(1023)
        try:
            if self.stack.get_eid() != ENDPOINT_EID:
                return "the IPC client reads EID %d" % self.stack.get_eid()
            with self.stack.listener(IPC_TYPE, 2000) as listener:
                with self.owner.stack.req(ENDPOINT_EID, 2000) as channel:
                    channel.send(IPC_TYPE, request)
                    _, payload, resp = listener.recv()
                    resp.send(payload)
                    _, echoed = channel.recv()
        except MctpError as error:
            return "no answer over IPC: %s" % error
        if bytes(payload) != request or bytes(echoed) != request:
            return "the 1023 bytes over IPC came back changed"
        return None


def _idle_problems(rig, figures, descriptors):
    # After a batch: the endpoint's descriptors at their baseline, its idle CPU low.
    if not until(lambda: rig.endpoint.descriptors() == descriptors):
        return "%d descriptors open (baseline %d)" % (rig.endpoint.descriptors(), descriptors)
    percent = cpu_percent(rig.endpoint)
    figures.high("idle_cpu", int(percent), "%")
    if percent > IDLE_CPU_PERCENT:
        return "the idle endpoint used %d%% of a CPU" % percent
    return None


def _few_descriptors():
    # In the endpoint's process before it starts: room for what it opens as it starts and
    # SPARE_DESCRIPTORS more.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (STARTS_WITH + SPARE_DESCRIPTORS, hard))


def fuzz_ipc(name, interpreter, seed, items, batch_size, figures, folder):
    """Fuzz `run_endpoint.py --ipc unix:FOLDER/stack.sock` under `interpreter` with `items`
    batch items; failures into `figures`."""
    from endpoint_process import EndpointFailed  # noqa: PLC0415

    rng = Rng(seed)
    source = IpcSource(rng, 3)
    path = folder + "/stack.sock"
    options = ("--ipc", "unix:" + path, "--ipc-max-clients", str(MAX_CLIENTS))
    options += ("--ipc-stall-ms", str(STALL_MS))
    try:
        rig = UdpRig(interpreter, options, preexec_fn=_few_descriptors)
    except EndpointFailed as error:
        figures.fail(seed, 0, str(error))
        return
    connections = []
    try:
        good = GoodClient(path, rig.owner)
        problem, baseline = rig.start(rng, good.check_health)
        descriptors = rig.endpoint.descriptors()
        heap = -1
        written = 0
        batch = 0
        while not problem and written < items:
            batch += 1
            refused = [rig.audit("ipc")["refused"]]  # (what _why_stopped has explained)
            connections = [Connection(path, source.handles) for _ in range(3)]
            for conn, item in source.batch(batch_size):
                written += 1
                if item == CLOSE:
                    connections[conn].close()
                    connections[conn] = Connection(path, source.handles)
                    figures.add("disconnects", 1, "")
                    continue
                if item == BUSY:
                    going = connections[conn].busy(source)
                else:
                    going = connections[conn].write(item)
                    figures.add("bytes", len(item), "bytes")
                if not going:
                    problem = _why_stopped(rig, connections[conn], refused)
                    if problem:
                        break
                    # Refused: a new connection comes while the endpoint still drains closed
                    # ones (a slow machine), as a real client may be; the batch goes on.
                    figures.add("refused_while_draining", 1, "")
                    connections[conn] = Connection(path, source.handles)
            time.sleep(0.05)  # the last answers
            for connection in connections:
                connection.read_answers()
                figures.add("answers", connection.answers, "")
                connection.close()
            connections = []
            source.handles[:] = [FORGED_HANDLE]
            figures.add("batches", 1, "")
            problem = problem or _released(rig, baseline)
            problem = problem or ABUSES[(batch - 1) % len(ABUSES)](rig, figures, path)
            if not problem:
                enforced = name == "micropython"
                problem, heap = rig.check(
                    rng, figures, baseline, heap, enforced, good.check_health, HEAP_SLACK
                )
                problem = problem or _idle_problems(rig, figures, descriptors)
        figures.add("items", written, "")
        if rig.endpoint.alive():
            counted = rig.audit("ipc")
            for key in ("requests", "cancels", "busy", "stray", "bad_header", "oversized"):
                figures.add(key, counted[key], "")
            for key in ("refused", "failed"):
                figures.add(key, counted[key], "")
            figures.add("bad_fcs", counted["bad_fcs"], "")
            figures.add("garbage", counted["garbage"], "bytes")
            figures.add("connections", counted["connections"], "")
            if counted["faults"]:
                problem = problem or "%d faults in the IPC service" % counted["faults"]
        if problem:
            figures.fail(seed, batch, problem)
    except (EndpointFailed, OSError) as error:
        figures.fail(seed, 0, "%s: %s" % (type(error).__name__, error))
    finally:
        for connection in connections:
            connection.close()
        rig.close()


def _why_stopped(rig, connection, refused):
    # A write on `connection` failed: None when the endpoint refused it at its limit
    # (--ipc-max-clients: connections closed by their clients count until the endpoint has
    # read what they sent) and has a place again within 3 s; else what went wrong.
    # `refused`: [how many of the endpoint's refusals are explained], kept up to date (two
    # connections may be refused before the first failure is looked into).
    counts = rig.audit("ipc")
    if connection.answers or counts["refused"] <= refused[0]:
        return "the endpoint stopped reading a stream (%s; its ipc counters %s)" % (
            connection.why,
            counts,
        )
    refused[0] += 1
    connection.close()
    if not until(lambda: rig.audit("ipc")["open"] < MAX_CLIENTS):
        return "refused at its limit, the endpoint kept %d connections" % MAX_CLIENTS
    return None


def _released(rig, baseline):
    # Once its streams have gone the endpoint releases what they held: None, or what it
    # still holds after 3 s.
    deadline = time.monotonic() + 3
    while True:
        now = rig.audit()
        held = [k for k in ("handles", "pending") if now[k] != baseline[k]]
        if not held:
            return None
        if time.monotonic() > deadline:
            return "after its streams went: " + ", ".join(
                "%s=%d (baseline %d)" % (k, now[k], baseline[k]) for k in held
            )
        time.sleep(0.02)
