# DMTF's spdm_requester_emu (spdm-emu) attests an endpoint of this stack: `--help` prints USAGE.
#
# The requester speaks spdm-emu's "socket platform" protocol, not MCTP: it connects over TCP and
# sends each message behind a 12-byte header (command, transport type, payload size: big-endian
# u32s), one message and one answer at a time. This tool is the server it connects to. It
# answers the protocol's own commands itself, and carries each NORMAL message (an MCTP message
# from its type byte on) as an MCTP request of type 5 to the endpoint through this stack, and
# the endpoint's answer back. It runs under CPython and the MicroPython unix port.

import sys

_ROOT = __file__.rpartition("/")[0].rpartition("/")[0] or "."
sys.path.insert(0, _ROOT if _ROOT != "tools" else ".")

import socket  # noqa: E402

from mctp import MctpError, Stack  # noqa: E402
from mctp._compat import sleep_ms, ticks_diff, ticks_ms  # noqa: E402
from mctp.constants import MAX_PAYLOAD_SIZE, MSG_TYPE_SPDM  # noqa: E402
from mctp.spdm import messages as spdm  # noqa: E402

sys.path.insert(0, _ROOT + "/tools")
from cli import CommandLine  # noqa: E402

USAGE = """usage: spdm_emu_adapter.py (--i2c-udp LISTEN:PEER | --ipc unix:PATH) (--eid N | --enumerate)
                           [--port P] [--timeout MS] [--i2c-addr ADDR] [--endpoint-addr ADDR]
                           [--own-eid N]

The server DMTF's spdm_requester_emu connects to (spdm-emu's socket platform protocol, its
--trans MCTP): each SPDM message it sends goes to the endpoint as an MCTP request of type 5
through this stack, and the endpoint's answer goes back to it.

    python3 tools/run_endpoint.py --i2c-udp 47301:47302 --eid 9 --spdm OUTDIR
    python3 tools/spdm_emu_adapter.py --i2c-udp 47302:47301 --eid 9
    spdm_requester_emu --trans MCTP --ver 1.2 ...     (from its trust directory)

Options:
  --port P               the TCP port on 127.0.0.1 the requester connects to (default 2323,
                         the requester's; 0: a free one, shown in the ready line)
  --i2c-udp LISTEN:PEER  on the UDP I2C bus, as run_endpoint.py's: frames arrive on UDP port
                         LISTEN (0: a free one) and go to 127.0.0.1:PEER (the endpoint's port,
                         or an i2c_hub.py's). The adapter is a bus owner at --i2c-addr with
                         EID --own-eid, and the endpoint is at --endpoint-addr
  --i2c-addr ADDR        the adapter's own 7-bit address (default 0x10)
  --endpoint-addr ADDR   the endpoint's 7-bit address (default 0x1D)
  --own-eid N            the adapter's EID on the bus (default 8)
  --enumerate            set the endpoint up first, as a bus owner does (Get Endpoint ID, Set
                         Endpoint ID from EID 10 on, ...), and ask it at the EID it then has
  --ipc unix:PATH        through a running stack's IPC service (run_endpoint.py --ipc, or
                         tcp:PORT): the requests leave from that stack, which must have a
                         route to --eid
  --eid N                the endpoint's EID (8..254)
  --timeout MS           how long to wait for each answer (default 10000): leave room for a
                         slow board's signatures; the requester itself waits for ever

It prints one "ready" line when it listens, a line for each message carried, and a line when
a connection ends. It serves one requester at a time: TEST (the requester's hello) is answered
"Server Hello!", SHUTDOWN is answered and stops the adapter, CONTINUE is answered and ends the
connection (the adapter waits for the next one), and any other command (the OOB_* ones, which
have no MCTP form) is answered UNKNOWN and ends the connection, as spdm_responder_emu does.
What is wrong is one line on stderr: a header with a payload over 4736 bytes or a transport
other than MCTP (1) drops the connection; a message that is not SPDM (type byte 0x05), longer
than the stack carries, or that the endpoint does not answer in time, is answered with an
empty NORMAL message, so that the requester fails that exchange and ends its flow.
"""

COMMAND_LINE = CommandLine(
    USAGE,
    valued={
        "--port": "2323",
        "--i2c-udp": None,
        "--i2c-addr": "0x10",
        "--endpoint-addr": "0x1D",
        "--own-eid": "8",
        "--ipc": None,
        "--eid": None,
        "--timeout": "10000",
    },
    flags=("--enumerate",),
)

# spdm-emu's socket platform (spdm_emu_common/command.h): commands and transport types.
NORMAL = 0x0001
OOB_ENCAP_KEY_UPDATE = 0x8001
OOB_ENCAP_ENDPOINT_INFO = 0x8002
CONTINUE = 0xFFFD
SHUTDOWN = 0xFFFE
TEST = 0xDEAD
UNKNOWN = 0xFFFF
TRANSPORT_MCTP = 0x01
HEADER_SIZE = 12
# The largest payload spdm-emu's programs take (LIBSPDM_MAX_SENDER_RECEIVER_BUFFER_SIZE): a
# header announcing more is not of this protocol, or not of a requester we could serve.
MAX_PAYLOAD = 0x1200 + 128
SERVER_HELLO = b"Server Hello!\x00"
ACCEPT_RETRY_MS = 100

COMMAND_NAMES = {
    NORMAL: "NORMAL",
    OOB_ENCAP_KEY_UPDATE: "OOB_ENCAP_KEY_UPDATE",
    OOB_ENCAP_ENDPOINT_INFO: "OOB_ENCAP_ENDPOINT_INFO",
    CONTINUE: "CONTINUE",
    SHUTDOWN: "SHUTDOWN",
    TEST: "TEST",
}

SPDM_NAMES = {
    spdm.GET_DIGESTS: "GET_DIGESTS",
    spdm.GET_CERTIFICATE: "GET_CERTIFICATE",
    spdm.CHALLENGE: "CHALLENGE",
    spdm.GET_VERSION: "GET_VERSION",
    spdm.GET_MEASUREMENTS: "GET_MEASUREMENTS",
    spdm.GET_CAPABILITIES: "GET_CAPABILITIES",
    spdm.NEGOTIATE_ALGORITHMS: "NEGOTIATE_ALGORITHMS",
    spdm.RESPOND_IF_READY: "RESPOND_IF_READY",
    spdm.DIGESTS: "DIGESTS",
    spdm.CERTIFICATE: "CERTIFICATE",
    spdm.CHALLENGE_AUTH: "CHALLENGE_AUTH",
    spdm.VERSION: "VERSION",
    spdm.MEASUREMENTS: "MEASUREMENTS",
    spdm.CAPABILITIES: "CAPABILITIES",
    spdm.ALGORITHMS: "ALGORITHMS",
    spdm.ERROR: "ERROR",
}


def parse(argv):
    """The settings from the command line; a usage error (exit status 2) for a bad one."""
    cli = COMMAND_LINE
    options, _ = cli.parse(argv)
    if (options["i2c_udp"] is None) == (options["ipc"] is None):
        cli.fail("give one of --i2c-udp LISTEN:PEER and --ipc unix:PATH")
    if options["enumerate"] == (options["eid"] is not None):
        cli.fail("give one of --eid N and --enumerate")
    if options["enumerate"] and options["ipc"] is not None:
        cli.fail("--enumerate sets the endpoint up on the I2C bus: give --i2c-udp, or --eid")
    settings = {
        "port": cli.number("--port", options["port"], 0, 65535),
        "addr": cli.number("--i2c-addr", options["i2c_addr"], 0x08, 0x77),
        "endpoint_addr": cli.number("--endpoint-addr", options["endpoint_addr"], 0x08, 0x77),
        "own_eid": cli.number("--own-eid", options["own_eid"], 8, 254),
        "eid": None if options["eid"] is None else cli.number("--eid", options["eid"], 8, 254),
        "timeout": cli.number("--timeout", options["timeout"], 1, 1 << 30),
        "enumerate": options["enumerate"],
        "listen": None,
        "peer": None,
        "ipc": options["ipc"],
    }
    if options["i2c_udp"] is not None:
        settings["listen"], settings["peer"] = cli.udp_ports(options["i2c_udp"])
    elif not options["ipc"].startswith(("unix:", "tcp:")):
        cli.fail("--ipc: give unix:PATH or tcp:PORT, not %r" % options["ipc"])
    if settings["addr"] == settings["endpoint_addr"]:
        cli.fail("--i2c-addr and --endpoint-addr are both 0x%02x" % settings["addr"])
    if settings["ipc"] is None and settings["eid"] == settings["own_eid"]:
        cli.fail("--eid and --own-eid are both %d" % settings["eid"])
    return settings


def warn(text):
    print("spdm_emu_adapter.py: " + text, file=sys.stderr)


def say(text):
    print(text)
    sys.stdout.flush()


class Bus:
    """The adapter's stack as a bus owner on the UDP I2C bus; `where` says how it is joined."""

    def __init__(self, s):
        from mctp.core import Core  # noqa: PLC0415
        from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415
        from mctp.i2c import I2CLink  # noqa: PLC0415
        from mctp.server import DirectClient, Server  # noqa: PLC0415

        self.target = UdpI2CTarget(s["addr"], s["listen"])
        self.i2c = UdpI2C(s["peer"], sock=self.target.sock)  # frames leave from LISTEN
        self.core = Core(eid=s["own_eid"])
        self.link = self.core.add_link(I2CLink(self.i2c, self.target, s["addr"]))
        self.stack = Stack(DirectClient(Server(self.core)))
        self.where = "I2C 0x%02x -> 0x%02x, UDP %d -> %d" % (
            s["addr"],
            s["endpoint_addr"],
            self.target.port,
            s["peer"],
        )

    def route(self, eid, addr):
        self.core.add_route(eid, eid, self.link, addr)

    def enumerate(self, addr):
        """The EID the endpoint at `addr` has once set up (mctp.control's BusOwner)."""
        from mctp.control.bus_owner import BusOwner  # noqa: PLC0415

        peer = BusOwner(self.core, self.stack, self.link).enumerate(addr)
        say("enumerated: %r" % (peer,))
        return peer.eid

    def close(self):
        self.target.close()


class Ipc:
    """The stack of a running endpoint, reached through its IPC service (mctp.ipc)."""

    def __init__(self, where, timeout_ms):
        from mctp.host.ipc_sockets import connect_tcp, connect_unix  # noqa: PLC0415
        from mctp.ipc import StreamClient  # noqa: PLC0415

        kind, _, rest = where.partition(":")
        self.stream = connect_unix(rest) if kind == "unix" else connect_tcp(int(rest))
        self.stack = Stack(StreamClient(self.stream, timeout_ms))
        self.where = "IPC " + where

    def close(self):
        self.stream.close()


def describe(message):
    """An SPDM message (from SPDMVersion on) in a few words, for the log."""
    if len(message) < spdm.HEADER_SIZE:
        return "%d bytes: %s" % (len(message), bytes(message).hex())
    code = message[1]
    name = SPDM_NAMES.get(code, "code 0x%02x" % code)
    if code == spdm.ERROR:
        name += " " + spdm.ERROR_NAMES.get(message[2], "0x%02x" % message[2])
    return "SPDM %s v%d.%d p1=%02x p2=%02x (%d bytes)" % (
        name,
        message[0] >> 4,
        message[0] & 0xF,
        message[2],
        message[3],
        len(message),
    )


class Dropped(Exception):
    """The connection cannot go on: the message says why."""


# Linux's TCP_QUICKACK, by number where the unix port's socket module has no name for it. The
# requester writes each message in 3 or 4 pieces without TCP_NODELAY: Nagle's algorithm holds
# back its later pieces until the first is acknowledged, and a delayed ACK would make every
# exchange wait about 40 ms. The kernel clears the option by itself, so it is set after each read.
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12 if sys.platform == "linux" else None)
IPPROTO_TCP = getattr(socket, "IPPROTO_TCP", 6)


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        more = conn.recv(n - len(data))
        if not more:
            raise Dropped("the requester closed the connection")
        if TCP_QUICKACK is not None:
            conn.setsockopt(IPPROTO_TCP, TCP_QUICKACK, 1)
        data += more
    return data


def send_message(conn, command, payload=b""):
    # One write per message: with TCP_NODELAY the requester has it at once.
    header = command.to_bytes(4, "big") + TRANSPORT_MCTP.to_bytes(4, "big")
    conn.sendall(header + len(payload).to_bytes(4, "big") + payload)


class Adapter:
    """Serves requesters on the listening socket `server`, carrying their messages to `eid`
    through `stack`."""

    def __init__(self, server, stack, eid, timeout_ms):
        self.server = server
        self.stack = stack
        self.eid = eid
        self.timeout_ms = timeout_ms
        self.messages = 0  # NORMAL messages taken, this connection
        self.answered = 0  # of them, answered by the endpoint
        self.stopped = False  # a SHUTDOWN came

    def serve(self):
        while not self.stopped:
            try:
                conn, _ = self.server.accept()
            except OSError as error:  # (no free descriptor, ...): it may pass; try again soon
                warn("cannot accept a connection: %s" % error)
                sleep_ms(ACCEPT_RETRY_MS)
                continue
            try:
                self.connection(conn)
            finally:
                conn.close()

    def connection(self, conn):
        # TCP_NODELAY by number where the unix port's socket module has no name for it.
        conn.setsockopt(IPPROTO_TCP, getattr(socket, "TCP_NODELAY", 1), 1)
        self.messages = self.answered = 0
        start = ticks_ms()
        how = "ended"
        try:
            while self.command(conn):
                pass
        except (Dropped, OSError) as error:  # (OSError: the requester reset the connection)
            how = "dropped"
            warn("connection dropped: %s" % error)
        say(
            "connection %s after %d ms: messages=%d answered=%d"
            % (how, ticks_diff(ticks_ms(), start), self.messages, self.answered)
        )

    def command(self, conn):
        """Read one command and answer it; False when the connection is to end."""
        header = read_exactly(conn, HEADER_SIZE)
        command = int.from_bytes(header[0:4], "big")
        transport = int.from_bytes(header[4:8], "big")
        size = int.from_bytes(header[8:12], "big")
        name = COMMAND_NAMES.get(command, "0x%04x" % command)
        if size > MAX_PAYLOAD:
            raise Dropped(
                "%s with a payload of %d bytes, more than the protocol's %d"
                % (name, size, MAX_PAYLOAD)
            )
        payload = read_exactly(conn, size)  # (all of it: then the close is an orderly one)
        if transport != TRANSPORT_MCTP:
            raise Dropped(
                "%s with transport type %d, not MCTP (1): run the requester with --trans MCTP"
                % (name, transport)
            )
        if command == NORMAL:
            send_message(conn, NORMAL, self.carry(payload))
            return True
        if command == TEST:
            send_message(conn, TEST, SERVER_HELLO)
            return True
        if command in (SHUTDOWN, CONTINUE):
            send_message(conn, command)
            self.stopped = command == SHUTDOWN
            return False
        warn("command %s answered UNKNOWN: it has no MCTP form" % name)
        send_message(conn, UNKNOWN)
        return False

    def carry(self, message):
        """The endpoint's answer to `message` (an MCTP message from its type byte), or b""
        (which fails the requester's exchange) when there is none to give."""
        self.messages += 1
        if not message or message[0] != MSG_TYPE_SPDM:
            warn(
                "message %d is not SPDM over MCTP (type byte 0x05): %s; answered empty"
                % (self.messages, "empty" if not message else "type byte 0x%02x" % message[0])
            )
            return b""
        if len(message) - 1 > MAX_PAYLOAD_SIZE:
            warn(
                "message %d has %d bytes after its type byte, more than the stack's %d"
                " (one MCTP message); answered empty"
                % (self.messages, len(message) - 1, MAX_PAYLOAD_SIZE)
            )
            return b""
        request = message[1:]
        say("  -> " + describe(request))
        try:
            with self.stack.req(self.eid, self.timeout_ms) as channel:
                channel.send(MSG_TYPE_SPDM, request)
                meta, answer = channel.recv()
        except (MctpError, OSError) as error:
            warn("message %d to EID %d: %s; answered empty" % (self.messages, self.eid, error))
            return b""
        say("  <- " + describe(answer))
        self.answered += 1
        return bytes((meta.msg_type | (0x80 if meta.msg_ic else 0),)) + bytes(answer)


def listen(port):
    """A TCP socket listening on 127.0.0.1:`port` and the port (0: a free one)."""
    from mctp.host.i2c_udp import bind  # noqa: PLC0415 (finds a free port on both)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        port = bind(server, "127.0.0.1", port)
        server.listen(1)
    except OSError:
        server.close()
        raise
    return server, port


def open_path(s):
    """The stack that reaches the endpoint, and the endpoint's EID; SystemExit (a line on
    stderr, status 1) when it cannot be had."""
    try:
        path = Bus(s) if s["ipc"] is None else Ipc(s["ipc"], s["timeout"])
    except OSError as error:
        where = "UDP port %d" % s["listen"] if s["ipc"] is None else s["ipc"]
        raise SystemExit("spdm_emu_adapter.py: cannot open %s: %s" % (where, error)) from None
    if not s["enumerate"]:
        if s["ipc"] is None:
            path.route(s["eid"], s["endpoint_addr"])
        return path, s["eid"]
    from mctp.control.messages import ControlError  # noqa: PLC0415

    try:
        return path, path.enumerate(s["endpoint_addr"])
    except (ControlError, MctpError) as error:
        path.close()
        raise SystemExit(
            "spdm_emu_adapter.py: cannot set up the endpoint at 0x%02x: %s"
            % (s["endpoint_addr"], error)
        ) from None


def main(argv):
    s = parse(argv)
    try:
        server, port = listen(s["port"])
    except OSError as error:
        warn("cannot listen on TCP port %d: %s" % (s["port"], error))
        return 1
    try:
        path, eid = open_path(s)
    except KeyboardInterrupt:  # (Ctrl-C while the endpoint is set up)
        server.close()
        return 0
    except SystemExit:
        server.close()
        raise
    say(
        "ready: TCP 127.0.0.1:%d (spdm_requester_emu --trans MCTP --port %d), EID %d over %s,"
        " timeout %d ms" % (port, port, eid, path.where, s["timeout"])
    )
    try:
        Adapter(server, path.stack, eid, s["timeout"]).serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        path.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
