# The IPC stream over sockets (mctp.host.ipc_sockets): socket pairs, a unix-socket listener
# serving connecting clients and taking over a dead server's socket, a server in another
# process and its restart, connections the listener cannot serve closed, a failing accept
# counted, a connect that gives up, and a listener asked with nobody waiting allocating nothing.

from endpoints import pattern
from test_ipc_service import Rig
from testing import heap_locked, needs_socket, raises

from mctp import Stack
from mctp.errors import MctpError, ResponseCode
from mctp.ipc import StreamClient, StreamService


def test_socket_pair_echo():
    needs_socket()
    from mctp.host.serial_stream import SerialStream, socket_pair  # noqa: PLC0415

    rig = Rig()
    one, other = socket_pair()
    try:
        rig.service.add(SerialStream(other))
        client = StreamClient(SerialStream(one), idle=rig.idle, clock=rig.clock)
        stack = Stack(client)
        payload = pattern(1023, 5)
        with rig.a.stack.listener(1, 1000) as listener:
            with stack.req(8, 1000) as ch:
                ch.send(1, payload)
                _meta, got, resp = listener.recv()
                resp.send(got)
                assert ch.recv()[1] == payload
    finally:
        one.close()
        other.close()


def test_socket_streams_see_a_client_go():
    needs_socket()
    from mctp.host.serial_stream import socket_pair  # noqa: PLC0415
    from mctp.host.ipc_sockets import SocketStream  # noqa: PLC0415

    rig = Rig()
    one, other = socket_pair()
    served = SocketStream(other)
    rig.service.add(served)
    client = StreamClient(SocketStream(one), idle=rig.idle, clock=rig.clock)
    client.req(8)
    client.listener(9)
    assert rig.b.server.handles_in_use() == 2
    # The client's process goes: its socket closes, the service sees the end of the stream.
    client.stream.close()
    for _ in range(3):
        rig.service.poll()
    assert rig.service.peers == []
    assert served.closed
    assert rig.b.server.handles_in_use() == 0
    # The client's calls on a closed stream fail at once.
    with raises(MctpError) as caught:
        client.get_eid()
    assert caught.value.code == ResponseCode.INTERNAL_ERROR
    assert "closed" in str(caught.value)


def test_unix_listener_serves_connecting_clients():
    needs_socket()
    import os  # noqa: PLC0415

    from mctp.host.ipc_sockets import Listener, connect_unix  # noqa: PLC0415

    rig = Rig()
    raw = os.urandom(4)
    path = "/tmp/mctp-ipc-%02x%02x%02x%02x.sock" % (raw[0], raw[1], raw[2], raw[3])
    listener = Listener.unix(path)
    try:

        def idle():
            listener.accept_into(rig.service)
            rig.idle()

        c1 = StreamClient(connect_unix(path), idle=idle, clock=rig.clock)
        c2 = StreamClient(connect_unix(path), idle=idle, clock=rig.clock)
        assert c1.get_eid() == 9 and c2.get_eid() == 9
        assert listener.accepted == 2 and len(rig.service.peers) == 2
        h = c1.req(8)
        with raises(MctpError) as caught:
            c2.drop_handle(h)
        assert caught.value.code == ResponseCode.BAD_ARGUMENT
        c1.stream.close()
        c2.stream.close()
        for _ in range(3):
            rig.service.poll()
        assert rig.service.peers == []
        assert rig.b.server.handles_in_use() == 0
    finally:
        listener.close()


def _unix_socket_path(what):
    import os  # noqa: PLC0415

    raw = os.urandom(4)
    return "/tmp/mctp-%s-%02x%02x%02x%02x.sock" % (what, raw[0], raw[1], raw[2], raw[3])


def test_a_listener_asked_while_nobody_connects_allocates_nothing():
    # A server's loop asks its listener on every turn: with nobody waiting the question
    # allocates nothing (the unix port's poll() made a list each time), and a client that
    # then connects is taken.
    needs_socket()
    from mctp.host.ipc_sockets import Listener, connect_unix  # noqa: PLC0415

    rig = Rig()
    path = _unix_socket_path("idle")
    listener = Listener.unix(path)
    try:
        listener.accept_into(rig.service)
        added = 0
        with heap_locked():
            for _ in range(10):
                added += listener.accept_into(rig.service)
        assert added == 0
        client = connect_unix(path)
        assert listener.accept_into(rig.service) == 1 and len(rig.service.peers) == 1
        client.close()
    finally:
        listener.close()


def test_unix_listener_takes_over_a_dead_servers_socket_but_never_a_live_one_or_a_file():
    needs_socket()
    import os  # noqa: PLC0415

    from mctp.host.ipc_sockets import Listener, connect_unix  # noqa: PLC0415

    path = _unix_socket_path("stale")
    dead = Listener.unix(path)
    dead.sock.close()  # as a killed server: its socket file stays behind
    assert os.stat(path)
    live = Listener.unix(path)  # the file of nobody is removed and the path bound again
    try:
        with raises(OSError):
            Listener.unix(path)  # a live server's: refused, and it keeps its path
        connect_unix(path).close()  # the path is still the live server's
    finally:
        live.close()
    with open(path, "w") as f:
        f.write("not a socket")
    try:
        with raises(OSError):
            Listener.unix(path)
        with open(path) as f:
            assert f.read() == "not a socket"
    finally:
        os.remove(path)


# A real second process: the stack (two endpoints on a loopback bus, EID 8 an echo service,
# EID 9 served over a UNIX socket) runs under the MicroPython unix port (CPython when there is
# none); this process is its client. CPython only (subprocess).

_CHILD = """
import sys
sys.path.insert(0, %(root)r)
sys.path.insert(0, %(root)r + "/host_tests")
from endpoints import network
from mctp._compat import sleep_ms, ticks_ms
from mctp.api import RecvMetadata
from mctp.ipc import StreamService
from mctp.host.ipc_sockets import Listener
from mctp.server import Server
a, b = network(2, clock=ticks_ms)
b.server = Server(b.core, %(epoch)d)
service = StreamService(b.server)
listener = Listener.unix(%(path)r)
echo = a.stack.listener(1)
resp = echo.resp_channel()
meta = RecvMetadata()
buf = bytearray(1023)
print("ready", b.server.epoch)
while True:
    a.server.poll()
    b.server.poll()
    listener.accept_into(service)
    service.poll()
    if a.server.queued(echo.handle.value):
        resp.send(buf, False, echo.recv_into(buf, meta, resp))
    sleep_ms(1)
"""


class _Child:
    def __init__(self, path, epoch):
        import os  # noqa: PLC0415
        import subprocess  # noqa: PLC0415
        import sys  # noqa: PLC0415

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        mp = os.path.join(root, ".venv", "bin", "micropython")
        interpreter = mp if os.path.exists(mp) else sys.executable
        code = _CHILD % {"root": root, "path": path, "epoch": epoch}
        self.process = subprocess.Popen(
            [interpreter, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        import select  # noqa: PLC0415

        if not select.select([self.process.stdout], [], [], 20)[0]:
            self.stop()
            raise AssertionError("the server process did not start")
        line = self.process.stdout.readline()
        assert line.startswith("ready"), line + self.process.stdout.read()

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def _connect(path):
    import time  # noqa: PLC0415

    from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415

    return StreamClient(connect_unix(path), idle=lambda: time.sleep(0.001))


def test_server_in_another_process_and_its_restart():
    from testing import IS_MICROPYTHON, skip  # noqa: PLC0415

    if IS_MICROPYTHON:
        skip("starts a process: CPython only")
    needs_socket()
    import os  # noqa: PLC0415
    import time  # noqa: PLC0415

    path = "/tmp/mctp-ipc-%d.sock" % os.getpid()
    child = _Child(path, 100)
    try:
        c1 = _connect(path)
        c2 = _connect(path)
        stack = Stack(c1)
        payload = pattern(1023, 9)
        with stack.req(8, 2000) as ch:
            ch.send(1, payload)
            assert ch.recv()[1] == payload
        # Own handles: c2 can neither drop nor use c1's.
        held = c1.listener(7)
        with raises(MctpError) as caught:
            c2.drop_handle(held)
        assert caught.value.code == ResponseCode.BAD_ARGUMENT
        with raises(MctpError) as caught:
            c2.listener(7)
        assert caught.value.code == ResponseCode.ADDR_IN_USE
        # c1 goes: its listener is released, so c2 may take the type.
        c1.stream.close()
        deadline = time.time() + 5
        while True:
            try:
                c2.drop_handle(c2.listener(7))
                break
            except MctpError as e:
                assert e.code == ResponseCode.ADDR_IN_USE
                assert time.time() < deadline
                time.sleep(0.01)
        # The server process restarts: the old handle is SERVER_RESTARTED over the new
        # connection; the channel is opened again and works.
        ch = Stack(c2).req(8, 2000)
        child.stop()
        child = _Child(path, 200)
        c2.attach(_connect(path).stream)
        with raises(MctpError) as caught:
            ch.send(1, b"old")
        assert caught.value.code == ResponseCode.SERVER_RESTARTED
        ch.close()
        with Stack(c2).req(8, 2000) as ch:
            ch.send(1, b"new")
            assert ch.recv()[1] == b"new"
    finally:
        child.stop()
        try:
            os.remove(path)
        except OSError:
            pass


def _descriptors():
    import os  # noqa: PLC0415

    return len(os.listdir("/proc/self/fd"))


class _NoMemory(StreamService):
    def add(self, stream):
        raise MemoryError


def test_the_listener_closes_every_connection_it_does_not_serve():
    # Over the limit: refused; no memory for its buffers: failed. Either way the accepted
    # socket is closed at once (its client sees the end of the stream) and no descriptor is
    # left open once the clients have gone.
    needs_socket()
    from mctp.host.ipc_sockets import Listener, connect_unix  # noqa: PLC0415

    rig = Rig()
    service = StreamService(rig.b.server, max_clients=1)
    path = _unix_socket_path("limit")
    listener = Listener.unix(path)
    try:
        baseline = _descriptors()
        served, refused = connect_unix(path), connect_unix(path)
        assert listener.accept_into(service) == 1 and listener.accepted == 1
        assert refused.any() == 0 and refused.closed and not served.closed
        assert service.refused == 1
        failing = _NoMemory(rig.b.server)
        unserved = connect_unix(path)
        assert listener.accept_into(failing) == 0
        assert unserved.any() == 0 and unserved.closed and failing.failed == 1
        for stream in (served, refused, unserved):
            stream.close()
        service.poll()  # sees the served client go
        assert service.peers == [] and _descriptors() == baseline
    finally:
        listener.close()


class _Exhausted:
    """A listening socket whose accept() fails as at the descriptor limit (EMFILE), or finds
    nobody waiting (EAGAIN) once `waiting` is False."""

    def __init__(self):
        self.accepts = 0
        self.waiting = True

    def setblocking(self, flag):
        pass

    def accept(self):
        import errno  # noqa: PLC0415

        self.accepts += 1
        raise OSError(errno.EMFILE if self.waiting else errno.EAGAIN, "accept")


def test_a_failing_accept_is_counted_and_the_listener_rests():
    needs_socket()
    from mctp.host.ipc_sockets import BACKOFF_MS, Listener  # noqa: PLC0415

    rig = Rig()
    sock = _Exhausted()
    listener = Listener(sock, clock=rig.clock)
    assert listener.accept_into(rig.service) == 0
    assert rig.service.accept_errors == 1 and listener.paused_ms() == BACKOFF_MS
    for _ in range(3):  # resting: accept() is not even tried
        assert listener.accept_into(rig.service) == 0
    assert sock.accepts == 1
    rig.clock.advance(BACKOFF_MS - 1)
    assert listener.paused_ms() == 1
    rig.clock.advance(1)
    assert listener.paused_ms() == 0
    listener.accept_into(rig.service)
    assert sock.accepts == 2 and rig.service.accept_errors == 2
    # Nobody waiting is no error: no count, no rest.
    rig.clock.advance(BACKOFF_MS)
    sock.waiting = False
    listener.accept_into(rig.service)
    listener.accept_into(rig.service)
    assert sock.accepts == 4 and rig.service.accept_errors == 2 and listener.paused_ms() == 0
    assert dict(rig.service.counts())["accept_errors"] == 2


def test_a_connect_gives_up_when_the_server_accepts_nobody():
    # A listening socket that never accepts: once its backlog is full, a connect waits its
    # timeout_ms and says so (ETIMEDOUT), for a UNIX socket and for TCP.
    needs_socket()
    import errno  # noqa: PLC0415

    from mctp.host.ipc_sockets import Listener, connect_tcp, connect_unix  # noqa: PLC0415

    path = _unix_socket_path("backlog")
    for listener, connect, where in (
        (Listener.unix(path, backlog=1), lambda: connect_unix(path, timeout_ms=50), "unix:"),
        (Listener.tcp(0, backlog=1), None, "tcp:127.0.0.1:"),
    ):
        if connect is None:
            port = listener.port

            def connect():
                return connect_tcp(port, timeout_ms=50)

        held = []
        try:
            with raises(OSError) as caught:
                for _ in range(10):
                    held.append(connect())
            assert caught.value.errno == errno.ETIMEDOUT
            message = str(caught.value)
            assert where in message and "within 50 ms" in message, message
            assert "the server accepts none" in message
        finally:
            for stream in held:
                stream.close()
            listener.close()
    with raises(ValueError) as caught:
        connect_unix(path, timeout_ms=0)
    assert str(caught.value) == "timeout_ms must be an int of at least 1, not 0"
