"""The abuses of the IPC service itself that tools/fuzz_ipc.py runs after each batch, in
turn (ABUSES): a flood of connections past --ipc-max-clients, its descriptors exhausted, a
client that never reads, clients that grab every handle. Each takes (rig, figures, path) and
gives None or the problem; meanwhile the endpoint's CPU must stay near its idle figure."""

import errno
import resource
import socket
import time

from mctp import MctpError, Stack, wire
from mctp.host.ipc_sockets import connect_unix
from mctp.ipc import StreamClient
from mctp.ipc.framing import KIND_REQUEST, encode_frame

MAX_CLIENTS = 8  # --ipc-max-clients: the fuzzing connections and the good client, with room
STALL_MS = 500  # --ipc-stall-ms: a client that never reads is dropped after this
IDLE_CPU_PERCENT = 10  # an idle endpoint (or one under an abuse) may use this much of a CPU
CPU_SAMPLE_S = 0.25


def cpu_percent(endpoint):
    """The share of one CPU the endpoint uses over CPU_SAMPLE_S, in percent."""
    cpu, wall = endpoint.cpu_seconds(), time.monotonic()
    time.sleep(CPU_SAMPLE_S)
    return 100 * (endpoint.cpu_seconds() - cpu) / (time.monotonic() - wall)


def until(condition, seconds=3.0):
    # True once `condition()` is, False when `seconds` pass first.
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _fresh_client_served(path):
    # A client that connects now is served within its deadline: None, or why not.
    try:
        client = StreamClient(connect_unix(path))
    except OSError as error:
        return "a new client cannot connect: %s" % error
    try:
        Stack(client).get_eid()
    except MctpError as error:
        return "a new client is not served: %s" % error
    finally:
        client.stream.close()
    return None


def _busy_while(rig, figures, what):
    # None when the endpoint's CPU stays low while `what` goes on, else what it used.
    percent = cpu_percent(rig.endpoint)
    figures.high(what + "_cpu", int(percent), "%")
    if percent > IDLE_CPU_PERCENT:
        return "%s: the endpoint used %d%% of a CPU" % (what, percent)
    return None


def flood(rig, figures, path):
    """Connections past the limit, all at once: those beyond it are refused (their streams
    end at once), counted; a new client is served once they have gone."""
    refused = rig.audit("ipc")["refused"]
    streams = []
    try:
        for _ in range(2 * MAX_CLIENTS):
            streams.append(connect_unix(path))
        if not until(lambda: sum(s.any() == 0 and s.closed for s in streams) >= MAX_CLIENTS):
            return "connections past the limit were not closed at once"
        problem = _busy_while(rig, figures, "flood")
    finally:
        for stream in streams:
            stream.close()
    now = rig.audit("ipc")["refused"]
    figures.add("flood_refused", now - refused, "")
    if now - refused < MAX_CLIENTS:
        return problem or "%d refused of %d past the limit" % (now - refused, MAX_CLIENTS)
    return problem or _fresh_client_served(path)


def exhausted(rig, figures, path):
    """The service full of idle connections, then the endpoint's descriptor limit lowered to
    what it has open: accept() fails, counted, the listener rests (CPU low) and clients past
    the backlog give up at their deadline; with the limit back and the connections gone, a
    new client is served. (The limit is lowered no further than that: the unix port's
    asyncio poller keeps an entry for every stream it has ever watched at once, and poll()
    refuses more entries than RLIMIT_NOFILE allows, EINVAL.)"""
    pid = rig.endpoint.process.pid
    errors = rig.audit("ipc")["accept_errors"]
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    streams = []
    problem = None
    try:
        for _ in range(MAX_CLIENTS - 1):  # (the good client has the last place)
            streams.append(connect_unix(path))
        if not until(lambda: rig.audit("ipc")["open"] == MAX_CLIENTS):
            return "the idle connections were not all served"
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (rig.endpoint.descriptors(), limits[1]))
        try:
            for _ in range(MAX_CLIENTS):  # (past the backlog's 4)
                streams.append(connect_unix(path, timeout_ms=200))
            problem = "the backlog never filled"
        except OSError as error:
            if error.errno != errno.ETIMEDOUT:
                problem = "a connect failed: %s" % error
        if not until(lambda: rig.audit("ipc")["accept_errors"] > errors):
            problem = problem or "no accept error counted"
        problem = problem or _busy_while(rig, figures, "exhausted")
    finally:
        for stream in streams:
            stream.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
    figures.add("accept_errors", rig.audit("ipc")["accept_errors"] - errors, "")
    return problem or _fresh_client_served(path)


def never_reads(rig, figures, path):
    """A client that sends requests and reads none of the answers: once its socket is full
    the endpoint waits (CPU low) and drops it after STALL_MS, counted."""
    stalled = rig.audit("ipc")["stalled"]
    request = bytearray(64)
    frame = bytearray(64)
    n = encode_frame(frame, KIND_REQUEST, 1, request, wire.encode_get_eid(request))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        sock.settimeout(0.2)
        try:
            while True:  # until the endpoint stops reading it
                sock.sendall(bytes(frame[:n]) * 50)
        except socket.timeout:
            pass
        problem = _busy_while(rig, figures, "never_reads")
        if not until(lambda: rig.audit("ipc")["stalled"] > stalled, 3 * STALL_MS / 1000):
            problem = problem or "a client that never reads was not dropped"
    finally:
        sock.close()
    figures.add("stalled", rig.audit("ipc")["stalled"] - stalled, "")
    return problem or _fresh_client_served(path)


GREEDY_CLIENTS = 2  # connections grabbing all they can (with room for the good and a new one)
QUOTA_WORDS = "IPC client quota"  # how a refusal by a client's own quota begins


def _grab(client, what, first_type):
    # Every handle of `what` ("listener", on types from `first_type` up, or "req" to EID 20)
    # the client gets: (handles, the refusal that ended it).
    handles = []
    while len(handles) < 16:
        try:
            if what == "listener":
                handles.append(client.listener(first_type + len(handles)))
            else:
                handles.append(client.req(20))
        except MctpError as error:
            return handles, error
    return handles, None


def grabs_quota(rig, figures, path):
    """Clients that take every handle they can: each is refused by its own quota (NO_SPACE, the
    words naming it), and meanwhile a new client still opens a listener and a request
    channel; once they have gone, their handles are free again."""
    greedy = []
    problem = None
    try:
        for _ in range(GREEDY_CLIENTS):
            greedy.append(StreamClient(connect_unix(path)))
        for i, client in enumerate(greedy):
            for what in ("listener", "req"):
                handles, refusal = _grab(client, what, 0x40 + 16 * i)
                figures.high("quota_" + what, len(handles), "")
                if refusal is None or not (refusal.detail or "").startswith(QUOTA_WORDS):
                    problem = problem or "a %s grab ended with %r" % (what, refusal)
        problem = problem or _fresh_client_gets_handles(path)
    finally:
        for client in greedy:
            client.stream.close()
    return problem or _fresh_client_served(path)


def _fresh_client_gets_handles(path):
    # A client that connects now gets a listener and a request channel: None, or why not.
    client = StreamClient(connect_unix(path))
    stack = Stack(client)
    try:
        with stack.listener(0x7F):
            with stack.req(20):
                return None
    except MctpError as error:
        return "a new client got no handle beside greedy ones: %s" % error
    finally:
        client.stream.close()


# After each batch's bytes, one of these in turn: (rig, figures, path) -> None or a problem.
ABUSES = (flood, exhausted, never_reads, grabs_quota)
