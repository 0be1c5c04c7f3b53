# tools/spdm_emu_adapter.py: a requester written here speaks spdm-emu's socket platform protocol
# (the bytes of its headers exact, as spdm_requester_emu sends them) through the adapter to an
# endpoint with the SPDM responder: on the UDP I2C bus (an i2c_hub.py, run_endpoint.py --spdm
# with a folder of tools/spdm_provision.py, the adapter setting it up with --enumerate), and
# through a stack's IPC service. Each bad input is one line on stderr and the adapter serves
# the next connection. Starting processes needs CPython; the adapter runs under both
# interpreters.

import sys

from testing import IS_MICROPYTHON, needs_socket, skip

_TOOLS = (__file__.rpartition("/")[0] or ".") + "/../tools"

if not IS_MICROPYTHON:
    import os
    import select
    import socket
    import subprocess
    import tempfile

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    TOOLS = os.path.join(ROOT, "tools")
    MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
    sys.path.insert(0, TOOLS)
    from endpoint_process import EndpointProcess

NORMAL, TEST, SHUTDOWN, CONTINUE, UNKNOWN = 0x0001, 0xDEAD, 0xFFFE, 0xFFFD, 0xFFFF
OOB_ENCAP_KEY_UPDATE = 0x8001
GET_VERSION = bytes.fromhex("05 10 84 00 00")  # the type byte, then SPDM 1.0 GET_VERSION
# VERSION 1.0 with two entries, 1.1 and 1.2: the responder's answer, behind the type byte.
VERSION = bytes.fromhex("05 10 04 00 00 00 02 00 11 00 12")
EMPTY_NORMAL = bytes.fromhex("00 00 00 01 00 00 00 01 00 00 00 00")


def _cpython_only():
    if IS_MICROPYTHON:
        skip("starts processes")


def header(command, size, transport=1):
    return command.to_bytes(4, "big") + transport.to_bytes(4, "big") + size.to_bytes(4, "big")


class Requester:
    """One connection to the adapter, as spdm_requester_emu makes it."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)

    def send(self, command, payload=b"", transport=1):
        self.sock.sendall(header(command, len(payload), transport) + payload)

    def answer(self):
        """The whole answer, its header included."""
        data = self._exactly(12)
        return data + self._exactly(int.from_bytes(data[8:12], "big"))

    def ask(self, command, payload=b""):
        self.send(command, payload)
        return self.answer()

    def closed_by_adapter(self):
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:  # closed with bytes of ours unread
            return True

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            more = self.sock.recv(n - len(data))
            assert more, "the adapter closed the connection after %r" % data
            data += more
        return data

    def close(self):
        self.sock.close()


class Child:
    """A tool in a child process that prints a ready line first."""

    def __init__(self, command):
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if not select.select([self.process.stdout], [], [], 20)[0]:
            self.stop()
            raise AssertionError("no ready line from %s" % command)
        self.ready = ""
        while not self.ready.startswith("ready:"):  # (the lines before it: a set-up's)
            self.ready = self.process.stdout.readline()
            assert self.ready, self.process.stderr.read()

    def port(self, prefix):
        return int(self.ready.split(prefix, 1)[1].split()[0].rstrip(",()"))

    def wait(self):
        """Its exit status, standard output and standard error, once it has ended."""
        out, err = self.process.communicate(timeout=20)
        return self.process.returncode, out, err

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def adapter(interpreter, *options):
    command = [interpreter, os.path.join(TOOLS, "spdm_emu_adapter.py"), "--port", "0"]
    child = Child(command + list(options))  # noqa: RUF005 (MicroPython)
    child.tcp = child.port("TCP 127.0.0.1:")
    return child


class Bus:
    """An i2c_hub.py and an endpoint on it answering SPDM with a provisioned folder, waiting
    for a bus owner to set its EID."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="mctp-adapter-")
        provision = subprocess.run(
            [sys.executable, os.path.join(TOOLS, "spdm_provision.py"), self.folder],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert provision.returncode == 0, provision.stderr
        self.hub = Child([sys.executable, os.path.join(TOOLS, "i2c_hub.py"), "--port", "0"])
        self.hub_port = self.hub.port("on UDP ")
        options = ["--i2c-udp", "0:%d" % self.hub_port, "--i2c-hub", "--spdm", self.folder]
        self.endpoint = EndpointProcess(sys.executable, options)

    def close(self):
        self.endpoint.stop()
        self.hub.stop()
        for name in os.listdir(self.folder):
            os.remove(os.path.join(self.folder, name))
        os.rmdir(self.folder)


class Connection:
    """An accepted connection in memory: the requester's bytes, and what the adapter sent."""

    def __init__(self, incoming):
        self.incoming = incoming
        self.sent = []
        self.options = []  # (level, option, value) as set, in order
        self.reads = 0

    def setsockopt(self, level, option, value):
        self.options.append((level, option, value))

    def recv(self, n):
        chunk = self.incoming[:n]
        self.incoming = self.incoming[n:]
        self.reads += 1 if chunk else 0
        return chunk

    def sendall(self, data):
        self.sent.append(bytes(data))

    def close(self):
        self.incoming = None


class Listening:
    """A listening socket in memory: accept() raises or returns each of `accepted` in turn."""

    def __init__(self, accepted):
        self.accepted = accepted

    def accept(self):
        item = self.accepted.pop(0)
        if isinstance(item, OSError):
            raise item
        return item, ("127.0.0.1", 1)


def test_the_adapter_answers_each_command_through_a_stack_in_process():
    # The adapter's protocol on both interpreters: an in-process endpoint with the SPDM
    # service (spdm_requester.Rig: EID 8, asked from EID 9's stack), one connection's bytes.
    needs_socket()
    if _TOOLS not in sys.path:
        sys.path.insert(0, _TOOLS)
    from spdm_emu_adapter import Adapter  # noqa: PLC0415 (tools/ is on the path only here)
    from spdm_requester import Rig  # noqa: PLC0415

    rig = Rig()
    adapter = Adapter(None, rig.b.stack, 8, 5000)
    conn = Connection(
        header(TEST, 14)
        + b"Client Hello!\x00"
        + header(NORMAL, 5)
        + GET_VERSION
        + header(NORMAL, 2)
        + b"\x06\x00"
        + header(SHUTDOWN, 0)
    )
    adapter.connection(conn)
    assert conn.sent == [
        header(TEST, 14) + b"Server Hello!\x00",
        header(NORMAL, len(VERSION)) + VERSION,
        EMPTY_NORMAL,
        header(SHUTDOWN, 0),
    ]
    assert adapter.stopped and (adapter.messages, adapter.answered) == (2, 1)
    # TCP_NODELAY (one write per message), and on Linux an immediate ACK after every read: the
    # requester's pieces of a message (it writes without TCP_NODELAY) then wait for no delayed
    # ACK, about 40 ms an exchange otherwise.
    assert conn.options[0] == (6, 1, 1)
    if sys.platform == "linux":
        assert conn.options[1:] == [(6, 12, 1)] * conn.reads and conn.reads == 7
    conn = Connection(header(CONTINUE, 0) + header(NORMAL, 5) + GET_VERSION)
    adapter.connection(conn)  # CONTINUE ends the connection: the rest is not read
    assert conn.sent == [header(CONTINUE, 0)] and not adapter.stopped
    conn = Connection(header(NORMAL, 4737))
    adapter.connection(conn)
    assert conn.sent == []


def test_a_failed_accept_is_waited_out_and_the_next_connection_served():
    needs_socket()
    if _TOOLS not in sys.path:
        sys.path.insert(0, _TOOLS)
    from spdm_emu_adapter import Adapter  # noqa: PLC0415 (tools/ is on the path only here)

    conn = Connection(header(TEST, 14) + b"Client Hello!\x00" + header(SHUTDOWN, 0))
    listening = Listening([OSError(24), conn])  # EMFILE: no descriptor for the connection
    Adapter(listening, None, 8, 5000).serve()  # returns once SHUTDOWN came
    assert conn.sent == [header(TEST, 14) + b"Server Hello!\x00", header(SHUTDOWN, 0)]
    assert listening.accepted == [] and conn.incoming is None  # served, then closed


def test_a_requester_gets_the_endpoints_spdm_answers_and_every_bad_input_one_line():
    _cpython_only()
    bus = Bus()
    try:
        for interpreter in (sys.executable, MICROPYTHON):
            _serve_a_requester(interpreter, bus.hub_port)
    finally:
        bus.close()


def _serve_a_requester(interpreter, hub_port):
    tool = adapter(interpreter, "--i2c-udp", "0:%d" % hub_port, "--enumerate")
    try:
        assert "EID 10 over I2C 0x10 -> 0x1d" in tool.ready, tool.ready
        first = Requester(tool.tcp)
        hello = first.ask(TEST, b"Client Hello!\x00")
        assert hello == bytes.fromhex("0000dead 00000001 0000000e") + b"Server Hello!\x00"
        assert first.ask(NORMAL, GET_VERSION) == header(NORMAL, len(VERSION)) + VERSION
        assert first.ask(NORMAL, bytes.fromhex("06 00 00 00 00")) == EMPTY_NORMAL
        assert first.ask(NORMAL) == EMPTY_NORMAL
        assert first.ask(NORMAL, b"\x05" + bytes(1024)) == EMPTY_NORMAL
        assert first.ask(OOB_ENCAP_KEY_UPDATE, bytes(4)) == header(UNKNOWN, 0)
        assert first.closed_by_adapter()
        first.close()
        for bad in (header(NORMAL, 4737), header(NORMAL, 5, transport=2) + GET_VERSION):
            requester = Requester(tool.tcp)
            requester.sock.sendall(bad)
            assert requester.closed_by_adapter()  # no answer: the connection is dropped
            requester.close()
        requester = Requester(tool.tcp)
        requester.sock.sendall(header(NORMAL, 5)[:7])  # gone in the middle of a header
        requester.close()
        requester = Requester(tool.tcp)
        assert requester.ask(CONTINUE) == header(CONTINUE, 0)
        assert requester.closed_by_adapter()
        requester.close()
        last = Requester(tool.tcp)
        assert last.ask(NORMAL, GET_VERSION) == header(NORMAL, len(VERSION)) + VERSION
        assert last.ask(SHUTDOWN) == header(SHUTDOWN, 0)
        assert last.closed_by_adapter()
        last.close()
        status, out, err = tool.wait()
    finally:
        tool.stop()
    assert status == 0, err
    assert err.splitlines() == [
        "spdm_emu_adapter.py: " + line
        for line in (
            "message 2 is not SPDM over MCTP (type byte 0x05): type byte 0x06; answered empty",
            "message 3 is not SPDM over MCTP (type byte 0x05): empty; answered empty",
            (
                "message 4 has 1024 bytes after its type byte, more than the stack's 1023 (one"
                " MCTP message); answered empty"
            ),
            "command OOB_ENCAP_KEY_UPDATE answered UNKNOWN: it has no MCTP form",
            "connection dropped: NORMAL with a payload of 4737 bytes, more than the protocol's 4736",
            (
                "connection dropped: NORMAL with transport type 2, not MCTP (1): run the"
                " requester with --trans MCTP"
            ),
            "connection dropped: the requester closed the connection",
        )
    ], err
    assert out.splitlines()[:2] == [
        "  -> SPDM GET_VERSION v1.0 p1=00 p2=00 (4 bytes)",
        "  <- SPDM VERSION v1.0 p1=00 p2=00 (10 bytes)",
    ], out
    assert out.splitlines()[-1].startswith("connection ended after "), out
    assert out.splitlines()[-1].endswith(" ms: messages=1 answered=1"), out


def test_an_endpoint_that_does_not_answer_in_time_is_an_empty_answer_and_one_line():
    _cpython_only()
    bus = Bus()
    # EID 77 routed to the endpoint at 0x1D, which is not EID 77: its packets go unanswered.
    tool = adapter(
        sys.executable, "--i2c-udp", "0:%d" % bus.hub_port, "--eid", "77", "--timeout", "300"
    )
    try:
        requester = Requester(tool.tcp)
        assert requester.ask(NORMAL, GET_VERSION) == EMPTY_NORMAL
        assert requester.ask(SHUTDOWN) == header(SHUTDOWN, 0)
        requester.close()
        status, _, err = tool.wait()
        absent = subprocess.run(
            [
                sys.executable,
                os.path.join(TOOLS, "spdm_emu_adapter.py"),
                "--port",
                "0",
                "--i2c-udp",
                "0:%d" % bus.hub_port,
                "--enumerate",
                "--endpoint-addr",
                "0x1E",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        tool.stop()
        bus.close()
    assert absent.returncode == 1 and absent.stdout == "", absent
    assert (
        absent.stderr.startswith("spdm_emu_adapter.py: cannot set up the endpoint at 0x1e: ")
        and len(absent.stderr.splitlines()) == 1
    ), absent.stderr
    assert status == 0, err
    assert err == (
        "spdm_emu_adapter.py: message 1 to EID 77: MCTP error: timed out: no message within"
        " 300 ms; answered empty\n"
    ), err


# The stack served over IPC: endpoint A (EID 8) with the SPDM service, endpoint B (EID 9) whose
# server the adapter reaches on a Unix socket (spdm_requester.py's rig, in a child process).
_IPC_STACK = """
import sys
sys.path[:0] = [%(root)r, %(root)r + "/host_tests"]
from spdm_requester import Rig
from mctp._compat import sleep_ms
from mctp.host.ipc_sockets import Listener
from mctp.ipc import StreamService
rig = Rig()
service = StreamService(rig.b.server)
listener = Listener.unix(%(path)r)
print("ready: IPC unix:%(path)s")
sys.stdout.flush()
while True:
    rig.poll()
    rig.b.server.poll()
    listener.accept_into(service)
    service.poll()
    sleep_ms(1)
"""


def test_the_adapter_reaches_the_endpoint_through_a_stacks_ipc_service():
    _cpython_only()
    path = tempfile.mktemp(prefix="mctp-adapter-", suffix=".sock")
    stack = Child([sys.executable, "-c", _IPC_STACK % {"root": ROOT, "path": path}])
    try:
        tool = adapter(sys.executable, "--ipc", "unix:" + path, "--eid", "8")
        try:
            assert "EID 8 over IPC unix:" in tool.ready, tool.ready
            requester = Requester(tool.tcp)
            assert requester.ask(NORMAL, GET_VERSION) == header(NORMAL, len(VERSION)) + VERSION
            assert requester.ask(SHUTDOWN) == header(SHUTDOWN, 0)
            requester.close()
            status, _, err = tool.wait()
        finally:
            tool.stop()
    finally:
        stack.stop()
        if os.path.exists(path):
            os.remove(path)
    assert status == 0 and err == "", err


def test_bad_command_lines_are_one_usage_error_and_a_missing_stack_one_line():
    _cpython_only()
    cases = (
        ((), "error: give one of --i2c-udp LISTEN:PEER and --ipc unix:PATH"),
        (("--i2c-udp", "0:1"), "error: give one of --eid N and --enumerate"),
        (("--ipc", "unix:x", "--enumerate"), "error: --enumerate sets the endpoint up on the"),
        (("--ipc", "x", "--eid", "9"), "error: --ipc: give unix:PATH or tcp:PORT, not 'x'"),
        (("--i2c-udp", "0:1", "--eid", "8"), "error: --eid and --own-eid are both 8"),
        (("--i2c-udp", "0:1", "--eid", "9", "--timeout", "0"), "error: --timeout: 0 is not"),
    )
    tool = os.path.join(TOOLS, "spdm_emu_adapter.py")
    for interpreter in (sys.executable, MICROPYTHON):
        for args, error in cases:
            result = subprocess.run(
                [interpreter, tool] + list(args),  # noqa: RUF005 (MicroPython)
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 2, (args, result.stderr)
            assert lines[0].startswith("usage: spdm_emu_adapter.py"), lines
            assert lines[1].startswith(error) and len(lines) == 2, lines
        helped = subprocess.run(
            [interpreter, tool, "--help"], capture_output=True, text=True, timeout=30, check=False
        )
        assert helped.returncode == 0 and helped.stdout.startswith("usage: spdm_emu_adapter.py")
        missing = tempfile.mktemp(prefix="mctp-adapter-", suffix=".sock")
        result = subprocess.run(
            [interpreter, tool, "--port", "0", "--ipc", "unix:" + missing, "--eid", "9"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("spdm_emu_adapter.py: cannot open unix:%s: " % missing), (
            result.stderr
        )
        assert len(result.stderr.splitlines()) == 1, result.stderr
