# The endpoint firmware on the host: `--help` prints USAGE.
#
# (Over ~450 lines: one command's options, console and loop, read top to bottom; the
# endpoint itself is firmware/endpoint.py.)

import gc
import os
import sys
from errno import EPERM

_ROOT = __file__.rpartition("/")[0].rpartition("/")[0] or "."
sys.path.insert(0, _ROOT if _ROOT != "tools" else ".")

from firmware.endpoint import ENDPOINT_LIMITS, EndpointApp  # noqa: E402
from mctp.config import Config  # noqa: E402
from mctp.control import format_uuid  # noqa: E402

sys.path.insert(0, _ROOT + "/tools")
from cli import CommandLine, stop_on_sigterm  # noqa: E402

USAGE = """usage: run_endpoint.py [--i2c-udp LISTEN:PEER] [--serial PATH] [options]

Run the endpoint firmware on the host: on the UDP I2C bus (one datagram per SMBus frame on
127.0.0.1, the format of pymctp's QEMU I2C exerciser), on a serial line (DSP0253 over a tty,
a pty or a Unix socket), or on both at once.

    micropython tools/run_endpoint.py --i2c-udp 47220:47221 --i2c-addr 0x1D [--eid 9]
    micropython tools/run_endpoint.py --serial /dev/pts/3 --eid 9
    micropython tools/run_endpoint.py --bridge --serial /dev/pts/3 --i2c-udp 0:HUB --i2c-hub
    python3 tools/run_endpoint.py ...

Options:
  --i2c-udp LISTEN:PEER  receive frames on UDP port LISTEN (0: a free port, shown in the
                         ready line), send them to 127.0.0.1:PEER
  --i2c-addr ADDR        our 7-bit I2C address (default 0x1D)
  --i2c-hub              PEER is an I2C hub (tools/i2c_hub.py): announce our address to it
                         at start, so that frames for us reach us before we send any
  --serial PATH          a serial link on the tty or pty at PATH, or on the Unix socket at
                         unix:PATH (a QEMU guest's serial port, socat's)
  --serial-peer EID      route EID over the serial link (for requests from the console)
  --bridge               be a bridge (firmware/bridge.py, docs/bridge.md): the bus owner on
                         the serial line (--serial) sets our EID and allocates our EID pool;
                         we give it to the endpoints on the UDP I2C bus (--i2c-udp, a hub's:
                         --i2c-hub) and forward their packets both ways
  --pool-size N          the EIDs the bridge asks its bus owner for (default 8)
  --downstream ADDR[,ADDR...]
                         the 7-bit addresses of the endpoints behind the bridge (default: it
                         scans every address)
  --ipc unix:PATH|tcp:PORT|serial:PATH
                         serve the endpoint's stack to applications in other processes
                         (mctp.ipc: StreamClient) on a Unix socket or a TCP port on 127.0.0.1,
                         each connection with its own handles, released when it closes; or
                         to one application on a tty or pty (a board's UART, as a host rig
                         drives it). tcp:0 takes a free port, shown in the ready line. It
                         serves the stack of this endpoint: give --i2c-udp or --serial too
  --ipc-max-clients N    connections served at once (default: the Config's ipc_clients, 4);
                         one more is closed at once, and counted as refused
  --ipc-stall-ms MS      a client that takes none of an answer for MS ms (it stopped
                         reading) is dropped, and counted as stalled (default 5000)
  --eid N                a static EID (default: none, wait for the bus owner's Set EID)
  --uuid HEX             the endpoint UUID, 32 hex digits (default: a random one, RFC 9562
                         version 4, new each run; a board's comes from machine.unique_id())
  --mtu N                payload bytes per packet we send (default 64; serial: at most 64)
  --vendor-id ID         the PCI vendor ID of the echo service on type 0x7E (default 0xFFFF)
  --tid N                the PLDM terminus ID (default 1)
  --services LIST        the endpoint's own services: echo,pldm (the default), any of echo,
                         pldm and spdm, or none (a stack for --ipc applications, whose
                         listeners may then take message types 0x7E, 0x01 and 0x05)
  --spdm OUTDIR          answer SPDM (message type 5; docs/spdm.md) with the certificate
                         chain and device key that tools/spdm_provision.py wrote in OUTDIR
                         (chain.der, device.key); spdm joins the default services. Missing
                         or bad files: said at start and in the counters, and SPDM answered
                         with ERROR
  --board-limits         size the stack's tables as a board's (firmware.endpoint's
                         ENDPOINT_LIMITS: 4 listeners, 4 request handles, 4 pending receives,
                         8 tags, 4 routes, 4 reply routes) instead of with Config's defaults
                         for hosts (8, 8, 16, 16, 8, 8),
                         so that what is tried here is what a board does
  --config NAME=VALUE    a stack limit (mctp.config.Config) over those, e.g.
                         tag_expiry_ms=100; repeatable
  --console              take commands on stdin (a pipe, a tty or a file), one per line, each
                         answered as it comes; the end of stdin (/dev/null's at once) stops
                         the endpoint as "quit" does: "show" prints the counters,
                         "audit" one line of figures (heap, tables, faults, broken
                         invariants) for test harnesses, "ipc" the IPC service's counters
                         (connections, requests, bad frames, ...), "request EID TYPE HEX"
                         sends a request and prints "answer TYPE HEX" (or "error: ..."),
                         "quit" stops
  --pcap FILE            write every packet the endpoint's links receive and send to FILE,
                         as it comes, in the pcap format of the kernel's MCTP captures
                         (Wireshark opens it; tools/mctp_trace.py --pcap FILE prints it):
                         link 1 is the I2C bus, or the serial line when it is the only one
  --blocking             run the blocking loop (EndpointApp.run, as at the REPL) instead of
                         the asyncio tasks of a board's main.py (EndpointApp.main)

It prints one "ready" line when it listens (with its UUID and the limits in force), and its
counters when it stops (Ctrl-C, SIGTERM, "quit", the end of the console's stdin). A UDP port
already in use is refused.
"""

COMMAND_LINE = CommandLine(
    USAGE,
    valued={
        "--i2c-udp": None,
        "--i2c-addr": "0x1D",
        "--serial": None,
        "--serial-peer": None,
        "--ipc": None,
        "--ipc-max-clients": None,
        "--ipc-stall-ms": None,
        "--eid": None,
        "--uuid": None,
        "--mtu": "64",
        "--vendor-id": "0xFFFF",
        "--tid": "1",
        "--services": "echo,pldm",
        "--pcap": None,
        "--pool-size": "8",
        "--downstream": None,
        "--spdm": None,
    },
    flags=("--console", "--blocking", "--board-limits", "--i2c-hub", "--bridge"),
    repeated=("--config",),
)


def parse(argv):
    """The settings from the command line; a usage error (exit status 2) for a bad one."""
    cli = COMMAND_LINE
    options, _ = cli.parse(argv)
    if options["i2c_udp"] is None and options["serial"] is None:
        if options["ipc"] is not None:
            cli.fail(
                "--ipc serves the stack of an endpoint, which needs a link: give --i2c-udp "
                "LISTEN:PEER or --serial PATH too"
            )
        cli.fail("give --i2c-udp LISTEN:PEER, --serial PATH or both")
    settings = {
        "listen": None,
        "peer": None,
        "addr": cli.number("--i2c-addr", options["i2c_addr"], 0x08, 0x77),
        "serial": options["serial"],
        "serial_peer": None,
        "eid": None,
        "mtu": cli.number("--mtu", options["mtu"], 1, 250),
        "vendor_id": cli.number("--vendor-id", options["vendor_id"], 0, 0xFFFF),
        "tid": cli.number("--tid", options["tid"], 1, 254),
        "uuid": None,
        "console": options["console"],
        "blocking": options["blocking"],
        "board_limits": options["board_limits"],
        "config": _config(cli, options["config"], options["board_limits"]),
    }
    if options["i2c_udp"] is not None:
        settings["listen"], settings["peer"] = cli.udp_ports(options["i2c_udp"])
    elif options["i2c_hub"]:
        cli.fail("--i2c-hub: give --i2c-udp LISTEN:HUBPORT too")
    settings["hub"] = options["i2c_hub"]
    settings["ipc"] = options["ipc"]
    settings["pcap"] = options["pcap"]
    if options["ipc"] is not None and not options["ipc"].startswith(("unix:", "tcp:", "serial:")):
        cli.fail("--ipc: give unix:PATH, tcp:PORT or serial:PATH, not %r" % options["ipc"])
    clients = options["ipc_max_clients"]
    settings["ipc_max_clients"] = (
        settings["config"].ipc_clients
        if clients is None
        else cli.number("--ipc-max-clients", clients, 1, 1 << 16)
    )
    stall = options["ipc_stall_ms"]  # (None: the StreamService's default)
    settings["ipc_stall_ms"] = (
        None if stall is None else cli.number("--ipc-stall-ms", stall, 1, 1 << 30)
    )
    if options["serial_peer"] is not None:
        if options["serial"] is None:
            cli.fail("--serial-peer routes over the serial link: give --serial PATH too")
        settings["serial_peer"] = cli.number("--serial-peer", options["serial_peer"], 8, 254)
    settings["services"] = [] if options["services"] == "none" else options["services"].split(",")
    for name in settings["services"]:
        if name not in ("echo", "pldm", "spdm"):
            cli.fail(
                "--services: give some of echo, pldm and spdm (echo,pldm,spdm), or none,"
                " not %r" % name
            )
    settings["spdm"] = _spdm(cli, options, settings["services"])
    if options["eid"] is not None:
        settings["eid"] = cli.number("--eid", options["eid"], 8, 254)
    if options["uuid"] is not None:
        settings["uuid"] = _uuid(cli, options["uuid"])
    settings["bridge"] = _bridge(cli, options, settings["config"])
    return settings


def _spdm(cli, options, services):
    # The folder of the SPDM responder's files, or None for no SPDM: --spdm turns it on, and
    # adds spdm to the default services; an explicit --services list must then name it.
    folder = options["spdm"]
    if folder is None:
        if "spdm" in services:
            cli.fail("--services spdm: give --spdm OUTDIR too (tools/spdm_provision.py OUTDIR)")
        return None
    if options["services"] == COMMAND_LINE.valued["--services"]:
        services.append("spdm")
    elif "spdm" not in services:
        cli.fail("--spdm: add spdm to --services, or leave --services out")
    return folder


def _bridge(cli, options, config):
    # --bridge's settings, (pool size, downstream addresses or None to scan), or None; the
    # stack's Config asks for the pool, with a route for each EID of it.
    if not options["bridge"]:
        if options["downstream"] is not None:
            cli.fail("--downstream lists a bridge's endpoints: give --bridge too")
        return None
    if options["serial"] is None or options["i2c_udp"] is None:
        cli.fail("--bridge: give --serial PATH (up) and --i2c-udp LISTEN:PEER (down)")
    from mctp.bridge.control import POOL_SIZE_MAX  # noqa: PLC0415 (bridges only)

    size = cli.number("--pool-size", options["pool_size"], 1, POOL_SIZE_MAX)
    config.routes = max(config.routes, size + 2)
    downstream = None
    if options["downstream"] is not None:
        downstream = tuple(
            cli.number("--downstream", addr, 0x08, 0x77)
            for addr in options["downstream"].split(",")
        )
    return size, downstream


def _uuid(cli, text):
    try:
        uuid = bytes.fromhex(text.replace("-", ""))
    except ValueError:
        uuid = b""
    if len(uuid) != 16:
        cli.fail("--uuid: %r is not 32 hex digits" % text)
    return uuid


def _config(cli, settings, board_limits):
    # Config's defaults (a host's), or with --board-limits a board's, with --config's settings
    # over them.
    values = dict(ENDPOINT_LIMITS) if board_limits else {}
    for setting in settings:
        name, equals, value = setting.partition("=")
        if not equals:
            cli.fail("--config: give NAME=VALUE, not %r" % setting)
        values[name] = cli.number("--config " + name, value, 1, 1 << 30)
    try:
        return Config(**values)
    except (TypeError, ValueError) as error:
        cli.fail("--config: " + str(error))


def limits_text(config, board_limits):
    """What the ready line says of the stack's tables."""
    return "%s limits (%d listeners, %d requests, %d pending receives, %d tags)" % (
        "board" if board_limits else "host",
        config.listeners,
        config.requests,
        config.pending_receives,
        config.flows,
    )


def default_uuid():
    """The UUID an endpoint takes without --uuid: a random one (RFC 9562 version 4), new each
    run. A host has no unique ID of its own (a board's UUID comes from machine.unique_id()),
    and one made from the names of its links is the same for two endpoints on sockets named
    alike, which a bus owner keying endpoints by UUID (Linux mctpd) takes for one."""
    uuid = bytearray(os.urandom(16))
    uuid[6] = uuid[6] & 0x0F | 0x40  # version 4: random
    uuid[8] = uuid[8] & 0x3F | 0x80  # variant 10xx
    return bytes(uuid)


# A longer line is taken in parts (each an unknown command): stdin cannot fill the heap.
LINE_LIMIT = 4096


class Console:
    """Commands on stdin, one per line: the blocking loop checks for one between polls without
    blocking (select.poll), asyncio awaits them in a task of their own. Stdin is read a byte at
    a time while it has bytes, up to the end of a line (a partial line waits in a buffer of the
    console's own), so that what follows a line stays where the poll sees it: lines that arrive
    in one write are each answered at once. A stdin asyncio cannot watch on CPython (a regular
    file, /dev/null: the selector refuses them) is always readable and is read as it comes. At
    the end of stdin (a closed pipe, the end of a file, /dev/null) the console stops the
    endpoint as "quit" does."""

    def __init__(self, app):
        self.app = app
        self._poller = None
        # The raw file under stdin (CPython's buffered one would read ahead of the poll; the
        # unix port's reads the descriptor as it is).
        self._stdin = getattr(sys.stdin.buffer, "raw", sys.stdin.buffer)
        self._byte = bytearray(1)
        self._partial = bytearray()  # the start of a line whose end has not come yet
        self._watchable = True  # False: asyncio refused to watch stdin (CPython)

    def _has_input(self):
        # Bytes or the end of stdin to read, now.
        if self._poller is None:
            import select  # noqa: PLC0415

            self._poller = select.poll()
            self._poller.register(sys.stdin, select.POLLIN)
        return bool(self._poller.poll(0))

    def _line(self):
        """The next line, if stdin has the rest of one now ("" at its end, after any last
        line without a newline); None while it has not."""
        while self._has_input():
            if not self._stdin.readinto(self._byte):
                line = bytes(self._partial)  # ("" when nothing is left)
                self._partial = bytearray()
                return _text(line)
            self._partial.append(self._byte[0])
            if self._byte[0] == 0x0A or len(self._partial) == LINE_LIMIT:
                line = bytes(self._partial)
                self._partial = bytearray()
                return _text(line)
        return None

    def running(self):
        """For EndpointApp.run: False once asked to stop."""
        line = self._line()
        if line is None:
            return True
        request = _request(line)
        if request is None:
            return self.command(line)
        _say(_asked(self.app.stack, request))
        return True

    async def serve(self):
        """Under asyncio: answer commands until asked to stop (requests awaited)."""
        from mctp.aio import AsyncStack  # noqa: PLC0415

        while True:
            await self._readable()
            line = self._line()
            if line is None:
                continue
            request = _request(line)
            if request is None:
                if not self.command(line):
                    return
            else:
                _say(await _asked_async(AsyncStack(self.app.task), request))

    async def _readable(self):
        import asyncio  # noqa: PLC0415

        from mctp.aio import readable  # noqa: PLC0415

        if self._watchable:
            try:
                await readable(sys.stdin)
                return
            except OSError as error:  # CPython's epoll refuses a regular file, /dev/null
                if error.errno != EPERM:
                    raise
                self._watchable = False
        await asyncio.sleep(0)  # (always readable: the stack task's turn between lines)

    def command(self, line):
        """Carry out one line; False when it asks to stop (or stdin is closed)."""
        command = line.strip()
        if not line or command == "quit":
            return False
        if command == "show":
            self.app.show()
        elif command == "audit":
            print(audit_line(self.app))
        elif command == "ipc" and self.app.ipc is not None:
            print("ipc: " + " ".join("%s=%d" % pair for pair in self.app.ipc.counts()))
        elif command:
            print("unknown command: %s (show, audit, ipc, request, quit)" % command)
        sys.stdout.flush()
        return True


def _say(line):
    # A line out at once: CPython buffers a pipe's output until it exits (unless run with -u).
    print(line)
    sys.stdout.flush()


REQUEST_TIMEOUT_MS = 5000


def _text(line):
    # A line read as text; one that is not UTF-8 as the repr of its bytes (no command).
    try:
        return line.decode()
    except UnicodeError:
        return repr(line) + "\n"


def _request(line):
    # "request EID TYPE HEX" as (eid, msg_type, payload, None), one that does not parse as
    # (None, None, None, why), anything else None.
    words = line.split()
    if not words or words[0] != "request":
        return None
    try:
        eid, msg_type = int(words[1], 0), int(words[2], 0)
        payload = bytes.fromhex(words[3] if len(words) > 3 else "")
    except (IndexError, ValueError):
        return None, None, None, "give request EID TYPE HEX"
    return eid, msg_type, payload, None


def _asked(stack, request):
    # The answer line for a request, through the blocking facade.
    from mctp import MctpError  # noqa: PLC0415

    eid, msg_type, payload, problem = request
    if problem:
        return "error: " + problem
    try:
        with stack.req(eid, REQUEST_TIMEOUT_MS) as channel:
            channel.send(msg_type, payload)
            meta, answer = channel.recv()
    except (MctpError, ValueError) as error:
        return "error: %s" % error
    return "answer %d %s" % (meta.msg_type, bytes(answer).hex())


async def _asked_async(stack, request):
    # The same through the asyncio facade, while the stack task runs the stack.
    from mctp import MctpError  # noqa: PLC0415

    eid, msg_type, payload, problem = request
    if problem:
        return "error: " + problem
    try:
        async with stack.req(eid, REQUEST_TIMEOUT_MS) as channel:
            await channel.send(msg_type, payload)
            meta, answer = await channel.recv()
    except (MctpError, ValueError) as error:
        return "error: %s" % error
    return "answer %d %s" % (meta.msg_type, bytes(answer).hex())


def heap_in_use():
    """Bytes of heap in use after a collection (MicroPython), or blocks (CPython)."""
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        return gc.mem_alloc()
    return sys.getallocatedblocks()


def audit_figures(app):
    """(name, value) of what should be back at its baseline whenever the endpoint is idle:
    the heap, the tables in use, faults and broken invariants."""
    core = app.core
    return (
        ("heap", heap_in_use()),
        ("slots", core.pool.in_use()),
        ("flows", core.flows.in_use()),
        ("reply_routes", core.reply_routes.in_use()),
        ("pending", app.server.pending_in_use()),
        ("handles", app.server.handles_in_use()),
        ("ring", app.pending()),
        ("faults", app.faults),
        ("problems", len(app.server.check())),
    )


def audit_line(app):
    return "audit: " + " ".join("%s=%d" % pair for pair in audit_figures(app))


def open_bus(s):
    """The controller and the target on the UDP bus, or SystemExit when the port is taken.
    Frames leave from the target's port, where a hub (--i2c-hub) delivers ours. The target is
    in memory mode, as firmware.board makes a board's (its memory: target.mem)."""
    from mctp.host.i2c_hub import hello  # noqa: PLC0415 (imports socket)
    from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415
    from mctp.i2c import MEM_SIZE  # noqa: PLC0415

    try:
        target = UdpI2CTarget(s["addr"], s["listen"], mem=bytearray(MEM_SIZE))
    except OSError as error:
        if not s["listen"]:
            raise SystemExit("run_endpoint.py: no free UDP port: %s" % error) from None
        raise SystemExit("run_endpoint.py: UDP port %d is already in use" % s["listen"]) from None
    i2c = UdpI2C(s["peer"], sock=target.sock)
    if s["hub"]:
        i2c.writeto(s["addr"], hello(s["addr"]))
    return i2c, target


def open_serial(path):
    """The serial line at `path` (unix:PATH: a Unix socket) as a stream; SystemExit when it
    cannot be opened."""
    from mctp.host.serial_stream import SerialStream, connect_unix  # noqa: PLC0415 (host)

    try:
        if path.startswith("unix:"):
            stream = SerialStream(connect_unix(path[5:]))
        else:
            stream = SerialStream.open_tty(path)
    except OSError as error:
        raise SystemExit("run_endpoint.py: cannot open the serial line %s: %s" % (path, error))
    return stream


def open_capture(path, app):
    """A capture of the endpoint's links' packets in the file at `path` (mctp.host.pcap);
    SystemExit when it cannot be written."""
    from mctp.host.pcap import PcapWriter  # noqa: PLC0415 (only with --pcap)

    try:
        capture = PcapWriter(open(path, "wb"))  # noqa: SIM115 (closed with the links)
    except OSError as error:
        raise SystemExit("run_endpoint.py: cannot write the capture %s: %s" % (path, error))
    capture.attach(app.core)
    return capture


class IpcService:
    """The endpoint's stack served to applications in other processes (mctp.ipc), through
    EndpointApp.serve_ipc as a board serves its IPC UART: on a serial line, one application;
    on a socket, each connection accepted (`poll`, one of the endpoint's services after the
    StreamService's), up to `max_clients` at once, a client that takes nothing of an answer
    for `stall_ms` dropped. Under asyncio each stream gets a task that wakes the stack task
    when it has bytes, or, while an answer waits for room in it, when it has room (or the
    stall time is up); the listening socket's task rests while the listener does (accept()
    failed: no free descriptor). `source`: the line to watch, for a serial line (None for a
    socket: its tasks start at the first poll). `where`: unix:PATH, tcp:PORT (the port
    bound) or serial:PATH."""

    def __init__(self, where, app, wake, max_clients, stall_ms):
        from mctp.host.ipc_sockets import Listener  # noqa: PLC0415 (hosts: sockets)

        self.wake = wake
        self._watchers = {}  # stream -> its watching task (asyncio)
        self.listener = None
        self.source = None
        self.where = where
        kind, _, rest = where.partition(":")
        if kind == "serial":
            line = open_serial(rest)
            self.service = app.serve_ipc(line)
            self._limit(max_clients, stall_ms)
            self.source = line.source
            return
        try:
            self.listener = Listener.unix(rest) if kind == "unix" else Listener.tcp(int(rest))
        except (OSError, ValueError) as error:
            raise SystemExit("run_endpoint.py: cannot listen on %s: %s" % (where, error))
        self.where = self.listener.address()
        self.service = app.serve_ipc()
        self._limit(max_clients, stall_ms)
        app.services.append(self.poll)

    def _limit(self, max_clients, stall_ms):
        self.service.max_clients = max_clients
        if stall_ms is not None:
            self.service.stall_ms = stall_ms

    def poll(self):
        # New connections, served from the next round on; the watchers follow the streams the
        # service's poll (just before this) closed or keeps.
        self.listener.accept_into(self.service)
        if self.wake is not None:
            self._watch_streams()
        return 0  # (not messages served: the LED blinks for the endpoint's own)

    def _watch_streams(self):
        import asyncio  # noqa: PLC0415

        if not self._watchers:  # (the first poll: the listening socket's own task)
            self._watchers[self.listener] = asyncio.create_task(self._watch_listener())
        live = [peer.stream for peer in self.service.peers]
        # The watchers of closed streams go first: a new connection may have the descriptor
        # number of one that closed, and a cancelled watcher removes its reader by that number.
        for stream in list(self._watchers):
            if stream is not self.listener and stream not in live:
                self._watchers.pop(stream).cancel()
        for peer in self.service.peers:
            if peer.stream not in self._watchers:
                task = asyncio.create_task(self._watch(peer.stream.source))
                self._watchers[peer.stream] = task

    async def _watch_listener(self):
        import asyncio  # noqa: PLC0415

        from mctp.aio import readable  # noqa: PLC0415
        from mctp.aio.flag import run_others  # noqa: PLC0415

        while True:
            resting = self.listener.paused_ms()
            if resting:  # (its backlog stays readable: watching it now would spin)
                await asyncio.sleep(resting / 1000)
            await readable(self.listener.sock)
            self.wake.set()
            await run_others()

    async def _watch(self, source):
        # (It keeps the socket, not its stream or Peer: on the unix port what a cancelled
        # task's frame held may stay on the heap for a while, buffers included.)
        from mctp.aio import readable, ready_ms, writable  # noqa: PLC0415
        from mctp.aio.flag import run_others  # noqa: PLC0415

        while True:
            left = self._write_wait_ms(source)
            if left is None:
                await readable(source)
            elif left:  # an answer waits for room; the input is not read meanwhile
                await ready_ms(writable(source), left)
            self.wake.set()  # (the stall time up: the service's poll drops the stream)
            await run_others()

    def _write_wait_ms(self, source):
        # StreamService.write_wait_ms of the stream on `source` (None once it has gone).
        for peer in self.service.peers:
            if peer.stream.source is source:
                return self.service.write_wait_ms(peer)
        return None

    def close(self):
        # (The watcher tasks end with the event loop, which has ended by now.)
        for peer in self.service.peers:
            peer.stream.close()
        if self.listener is not None:
            self.listener.close()


def main(argv):
    s = parse(argv)
    i2c = target = serial = None
    if s["listen"] is not None:
        i2c, target = open_bus(s)
    if s["serial"] is not None:
        serial = open_serial(s["serial"])
    uuid = s["uuid"] or default_uuid()
    wake = None
    if not s["blocking"]:
        from mctp.aio import Flag  # noqa: PLC0415 (the blocking loop does without asyncio)

        wake = Flag()  # set by a task (a stream's watcher), not an IRQ: see mctp.aio.flag
    make = EndpointApp
    options = {}
    if s["bridge"] is not None:
        from firmware.bridge import BridgeApp  # noqa: PLC0415 (bridges only)

        make = BridgeApp
        options = {"pool_size": s["bridge"][0], "downstream": s["bridge"][1]}
    app = make(
        i2c,
        target,
        s["addr"] if i2c else None,
        uuid=uuid,
        eid=s["eid"],
        mtu=s["mtu"],
        vendor_id=s["vendor_id"],
        tid=s["tid"],
        config=s["config"],
        wake=wake,
        serial=serial,
        target_mem=target.mem if target else None,
        **options,
    )
    for name in ("echo", "pldm"):
        if name not in s["services"]:
            app.remove_service(getattr(app, name))
    if s["spdm"] is not None:
        app.serve_spdm(s["spdm"])
    if s["serial_peer"] is not None:
        app.core.add_route(s["serial_peer"], s["serial_peer"], app.serial, 0)
    capture = None if s["pcap"] is None else open_capture(s["pcap"], app)
    ipc = None
    if s["ipc"] is not None:
        ipc = IpcService(s["ipc"], app, wake, s["ipc_max_clients"], s["ipc_stall_ms"])
    stop_on_sigterm()
    console = Console(app) if s["console"] else None
    where = []
    if i2c is not None:
        where.append("I2C address 0x%02x" % s["addr"])
    if serial is not None:
        where.append("serial %s" % s["serial"])
    if ipc is not None:
        where.append("IPC %s" % ipc.where)
    if capture is not None:
        where.append("capture %s" % s["pcap"])
    if app.spdm is not None:
        where.append(app.spdm.problem or "SPDM from " + s["spdm"])
    ready = "ready: %s, EID %d, UUID %s" % (", ".join(where), app.core.eid, format_uuid(uuid))
    if s["bridge"] is not None:
        size, downstream = s["bridge"]
        ready += ", bridge, pool of %d, downstream %s" % (
            size,
            "scanned" if downstream is None else ",".join("0x%02x" % a for a in downstream),
        )
    if i2c is not None:
        ready += ", UDP %d -> %d" % (target.port, s["peer"])
    ready += ", " + limits_text(s["config"], s["board_limits"])
    ready += ", blocking loop" if s["blocking"] else ", asyncio tasks"
    try:
        # The ready line inside the try (a Ctrl-C sent as soon as it is read stops us
        # cleanly), and under asyncio once SIGTERM is the event loop's to handle.
        if s["blocking"]:
            _say(ready)
            app.run(console.running if console else None)
        else:
            # What wakes the stack task: each stream's watcher (a board's IRQs do that).
            streams = [stream.source for stream in (serial,) if stream is not None]
            if target is not None:
                streams.append(target.sock)
            if ipc is not None and ipc.source is not None:
                streams.append(ipc.source)  # (a socket's connections: IpcService's tasks)
            serve(app, streams, console, ready)
    except KeyboardInterrupt:
        pass
    finally:
        for closing in (target, i2c, serial, ipc, capture):
            if closing is not None:
                closing.close()
    app.show()  # (the IPC service's figures among them)
    return 0


def serve(app, streams, console, ready):
    """The endpoint's asyncio tasks, as a board's main.py runs them, each of `streams` woken
    for by a task of its own (a board's IRQs do that); until the console says quit, or
    forever. `ready` is printed once they run."""
    import asyncio  # noqa: PLC0415

    async def tasks():
        _cancel_on_sigterm(asyncio)
        endpoint = asyncio.create_task(app.main(watch=streams))
        _say(ready)
        try:
            if console is None:
                await endpoint
            else:
                await asyncio.sleep(0)  # (the endpoint's stack task first: app.task)
                await console.serve()
        finally:
            endpoint.cancel()

    try:
        asyncio.run(tasks())
    except asyncio.CancelledError:
        pass  # SIGTERM (CPython): stopped as a quit stops it


def _cancel_on_sigterm(asyncio):
    # Under asyncio on CPython, SIGTERM cancels the tasks through the event loop, where the
    # KeyboardInterrupt that cli.stop_on_sigterm raises could land inside the loop's own
    # clean-up and leave it unclosed.
    try:
        import signal  # noqa: PLC0415
    except ImportError:
        return
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
