# tools/run_endpoint.py as a user starts it: under the MicroPython unix port and under CPython,
# with its options, a ready line, and a clean exit with its counters on SIGINT (and SIGTERM on
# CPython). Starting processes needs CPython's subprocess: skipped on MicroPython. Ports are
# free ones (port 0), so two runs of the suite on one machine do not collide.
#
# (Over ~450 lines: each option of one command, as a user runs it.)

from testing import IS_MICROPYTHON, raises, skip

if not IS_MICROPYTHON:
    import os
    import select
    import signal
    import socket
    import subprocess
    import sys

    TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
    sys.path.insert(0, TOOLS)
    from endpoint_process import EndpointFailed, EndpointProcess, micropython_command


class Peer:
    """A UDP socket on a free port, standing for the endpoint's peer."""

    def __enter__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        return self

    def __exit__(self, *exc):
        self.sock.close()


def test_micropython_endpoint_starts_with_its_options_and_stops_on_sigint():
    if IS_MICROPYTHON:
        skip("starts processes")
    with Peer() as peer:
        options = ["--i2c-udp", "0:%d" % peer.port, "--i2c-addr", "0x20", "--eid", "12"]
        endpoint = EndpointProcess(micropython_command(), options)
    line = endpoint.ready
    assert line.startswith("ready: I2C address 0x20, EID 12, UUID ")
    assert "UDP %d -> %d" % (endpoint.port, peer.port) in line and endpoint.port
    assert endpoint.stop(signal.SIGINT) == 0, endpoint.output
    output = endpoint.output
    assert "EID 12" in output and "control requests=0" in output and "Traceback" not in output


def test_cpython_endpoint_stops_cleanly_on_sigterm_and_takes_a_uuid():
    if IS_MICROPYTHON:
        skip("starts processes")
    uuid = "00112233-4455-6677-8899-aabbccddeeff"
    with Peer() as peer:
        options = ["--i2c-udp", "0:%d" % peer.port, "--uuid", uuid, "--mtu", "250"]
        endpoint = EndpointProcess(sys.executable, options)
    assert "EID 0, UUID " + uuid in endpoint.ready
    assert endpoint.stop(signal.SIGTERM) == 0, endpoint.output
    output = endpoint.output
    assert "link too_short=0" in output and "Traceback" not in output


def _uuid_in(ready):
    # The UUID a ready line states, as 16 bytes.
    return bytes.fromhex(ready.split(", UUID ")[1].split(",")[0].replace("-", ""))


def test_endpoints_on_sockets_named_alike_take_different_random_uuids():
    # Without --uuid an endpoint takes a random UUID (RFC 9562 version 4, variant 10), new
    # each run: two endpoints on serial sockets whose paths end alike (the UUID was made from
    # the last 13 characters of the path) no longer report the same one to a bus owner.
    if IS_MICROPYTHON:
        skip("starts processes")
    import tempfile  # noqa: PLC0415
    import uuid as uuid_module  # noqa: PLC0415

    for interpreter in (micropython_command(), sys.executable):
        uuids = []
        with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
            for folder in (one, two, two):  # (the last: the same path again, a new run)
                path = os.path.join(folder, "endpoint-serial.sock")
                line = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    line.bind(path)
                    line.listen(1)
                    with EndpointProcess(interpreter, ["--serial", "unix:" + path]) as endpoint:
                        uuids.append(_uuid_in(endpoint.ready))
                finally:
                    line.close()
                    os.remove(path)
        assert len(set(uuids)) == 3, uuids
        for uuid in uuids:
            assert (uuid[6] >> 4, uuid[8] >> 6) == (4, 0b10), uuid.hex()
            parsed = uuid_module.UUID(bytes=uuid)
            assert (parsed.version, parsed.variant) == (4, uuid_module.RFC_4122)


BAD_COMMAND_LINES = (
    ((), "give --i2c-udp LISTEN:PEER, --serial PATH or both"),
    (("--i2c-udp", "0:1", "--serial-peer", "8"), "--serial-peer routes over the serial link"),
    (("--i2c-udp", "1:2", "--colour", "red"), "unknown option --colour"),
    (("--i2c-udp",), "--i2c-udp needs a value"),
    (("--i2c-udp", "5000"), "--i2c-udp: give LISTEN:PEER"),
    (("--i2c-udp", "0:1", "--eid", "300"), "--eid: 300 is not within 8..254"),
    (("--i2c-udp", "0:1", "--i2c-addr", "0x80"), "--i2c-addr: 0x80 is not within 8..119"),
    (("--i2c-udp", "0:1", "--mtu", "big"), "--mtu: 'big' is not a number"),
    (("--i2c-udp", "0:1", "--uuid", "abc"), "--uuid: 'abc' is not 32 hex digits"),
    (("--i2c-udp", "0:1", "--config", "flows"), "--config: give NAME=VALUE"),
    (("--i2c-udp", "0:1", "--config", "colour=3"), "--config: unknown config setting: colour"),
    (
        ("--ipc", "unix:/tmp/stack.sock"),
        (
            "--ipc serves the stack of an endpoint, which needs a link: give --i2c-udp "
            "LISTEN:PEER or --serial PATH too"
        ),
    ),
    (("--i2c-udp", "0:1", "--ipc-max-clients", "0"), "--ipc-max-clients: 0 is not within 1.."),
    (("--i2c-udp", "0:1", "--ipc-stall-ms", "soon"), "--ipc-stall-ms: 'soon' is not a number"),
    (
        ("--i2c-udp", "0:1", "--bridge"),
        "--bridge: give --serial PATH (up) and --i2c-udp LISTEN:PEER (down)",
    ),
    (
        ("--i2c-udp", "0:1", "--downstream", "0x30"),
        "--downstream lists a bridge's endpoints: give --bridge too",
    ),
    (
        ("--i2c-udp", "0:1", "--serial", "x", "--bridge", "--pool-size", "247"),
        "--pool-size: 247 is not within 1..246",
    ),
    (
        ("--i2c-udp", "0:1", "--serial", "x", "--bridge", "--downstream", "0x30,0x7f"),
        "--downstream: 0x7f is not within 8..119",
    ),
    (
        ("--i2c-udp", "0:1", "--services", "echo,ftp"),
        "--services: give some of echo, pldm and spdm (echo,pldm,spdm), or none, not 'ftp'",
    ),
    (
        ("--i2c-udp", "0:1", "--services", "spdm"),
        "--services spdm: give --spdm OUTDIR too (tools/spdm_provision.py OUTDIR)",
    ),
    (
        ("--i2c-udp", "0:1", "--services", "echo", "--spdm", "x"),
        "--spdm: add spdm to --services, or leave --services out",
    ),
)


def test_bad_options_are_one_usage_error_with_status_2_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    for interpreter in (micropython_command(), sys.executable):
        for options, error in BAD_COMMAND_LINES:
            with raises(EndpointFailed) as caught:
                EndpointProcess(interpreter, options)
            failure = caught.value
            lines = failure.output.strip().splitlines()
            assert failure.returncode == 2, failure
            assert lines[0].startswith("usage: run_endpoint.py"), failure
            assert lines[1].startswith("error: " + error), failure
            assert len(lines) == 2, failure  # no traceback


def test_help_prints_the_usage_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    tool = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
    for interpreter in (micropython_command(), sys.executable):
        result = subprocess.run(
            [interpreter, os.path.join(tool, "run_endpoint.py"), "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: run_endpoint.py [--i2c-udp LISTEN:PEER] [--serial")
        assert "--console" in result.stdout


def test_a_port_in_use_is_refused_with_one_line():
    if IS_MICROPYTHON:
        skip("starts processes")
    with Peer() as taken:
        for interpreter in (micropython_command(), sys.executable):
            with raises(EndpointFailed) as caught:
                EndpointProcess(interpreter, ["--i2c-udp", "%d:9" % taken.port])
            failure = caught.value
            assert failure.returncode == 1
            lines = failure.output.strip().splitlines()
            assert lines == ["run_endpoint.py: UDP port %d is already in use" % taken.port]


def test_the_console_answers_audit_and_quit():
    if IS_MICROPYTHON:
        skip("starts processes")
    with Peer() as peer:
        endpoint = EndpointProcess(
            micropython_command(), ["--i2c-udp", "0:%d" % peer.port, "--console"]
        )
        try:
            line = endpoint.ask("audit")
            assert line.startswith("audit: heap=") and "slots=0" in line and "problems=0" in line
            endpoint.process.stdin.write("quit\n")
            endpoint.process.stdin.flush()
            assert endpoint.process.wait(5) == 0
        finally:
            endpoint.stop()
    assert "EID 0" in endpoint.output


# Each interpreter in each loop: the asyncio tasks (the default) and the blocking loop, as the
# ready line names it.
CONSOLE_RUNS = (([], "asyncio tasks"), (["--blocking"], "blocking loop"))


def _console_endpoint(interpreter, mode, peer, stdin):
    # run_endpoint --console with `stdin` (a file, DEVNULL, PIPE), its output unbuffered only
    # where it flushes it itself (no PYTHONUNBUFFERED, as a user's shell runs it).
    command = [interpreter, os.path.join(TOOLS, "run_endpoint.py")]
    command += ["--i2c-udp", "0:%d" % peer.port, "--console"] + mode  # noqa: RUF005
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    return subprocess.Popen(
        command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def _line_within(stream, seconds):
    # The next line `stream` gives within `seconds`, or None. Read a byte at a time from its
    # descriptor: a buffered readline would take the next line too, where select cannot see it.
    line = b""
    while not line.endswith(b"\n"):
        if not select.select([stream], [], [], seconds)[0]:
            return None
        byte = os.read(stream.fileno(), 1)
        if not byte:
            return None
        line += byte
    return line.decode().rstrip("\n")


def test_the_console_takes_commands_from_a_file_to_its_end_on_both_interpreters():
    # Stdin from a file (CPython's asyncio cannot watch one: it was a PermissionError
    # traceback and exit status 1): every line is carried out, the last one without its
    # newline too, and the end of the file stops the endpoint as "quit" does.
    if IS_MICROPYTHON:
        skip("starts processes")
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryFile("w+") as commands:
        commands.write("audit\nbogus\naudit")
        for lines in _consoles_run_to_the_end(commands):
            assert lines[0].startswith("audit: heap=") and "problems=0" in lines[0], lines
            assert lines[1] == "unknown command: bogus (show, audit, ipc, request, quit)"
            assert lines[2].startswith("audit: heap=") and lines[3] == "EID 0", lines
            assert "faults 0" in lines, lines


def test_the_console_stops_cleanly_at_once_on_dev_null_on_both_interpreters():
    # Stdin from /dev/null (the end at once; CPython's asyncio cannot watch it either): the
    # endpoint starts, stops as "quit" does, exit status 0, its counters and no traceback.
    if IS_MICROPYTHON:
        skip("starts processes")
    for lines in _consoles_run_to_the_end(subprocess.DEVNULL):
        assert lines[0] == "EID 0" and "faults 0" in lines, lines


def _consoles_run_to_the_end(stdin):
    # run_endpoint --console with `stdin` (a file, rewound for each, or DEVNULL) under each
    # interpreter in each loop, until it stops by itself: exit status 0, its ready line and
    # no traceback; the lines it printed after the ready line, one run at a time.
    with Peer() as peer:
        for interpreter in (micropython_command(), sys.executable):
            for mode, loop in CONSOLE_RUNS:
                if stdin is not subprocess.DEVNULL:
                    stdin.seek(0)
                endpoint = _console_endpoint(interpreter, mode, peer, stdin)
                output = endpoint.communicate(timeout=30)[0]
                lines = output.splitlines()
                assert endpoint.returncode == 0, (interpreter, loop, output)
                assert lines[0].startswith("ready: ") and loop in lines[0], output
                assert "Traceback" not in output, output
                yield lines[1:]


def test_the_console_answers_each_of_two_commands_that_come_in_one_write():
    # Both lines of one write are answered without waiting for more input (CPython's buffered
    # readline kept the second where the poll did not see it, in both loops), and the
    # answers reach the pipe at once; closing stdin then stops the endpoint.
    if IS_MICROPYTHON:
        skip("starts processes")
    with Peer() as peer:
        for interpreter in (micropython_command(), sys.executable):
            for mode, loop in CONSOLE_RUNS:
                endpoint = _console_endpoint(interpreter, mode, peer, subprocess.PIPE)
                try:
                    ready = _line_within(endpoint.stdout, 10)
                    assert ready.startswith("ready: ") and loop in ready, ready
                    os.write(endpoint.stdin.fileno(), b"audit\nbogus\n")  # (one write)
                    first = _line_within(endpoint.stdout, 10)
                    second = _line_within(endpoint.stdout, 10)
                    assert first is not None and first.startswith("audit: heap="), first
                    assert second == "unknown command: bogus (show, audit, ipc, request, quit)"
                    endpoint.stdin.close()
                    assert endpoint.wait(10) == 0, (interpreter, loop)
                finally:
                    if endpoint.poll() is None:
                        endpoint.kill()
                        endpoint.wait()
                    endpoint.stdout.close()


def test_a_serial_line_that_cannot_be_opened_is_said_so_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    for interpreter in (micropython_command(), sys.executable):
        with raises(EndpointFailed) as caught:
            EndpointProcess(interpreter, ["--serial", "/nonexistent/tty"])
        assert caught.value.returncode == 1
        assert caught.value.output.startswith(
            "run_endpoint.py: cannot open the serial line /nonexistent/tty: "
        )


def test_the_endpoint_serves_applications_in_other_processes_each_with_its_own_handles():
    # run_endpoint --ipc: two applications here (CPython, mctp.ipc.StreamClient under the
    # Stack facade) use the stack of the endpoint there (each interpreter in turn, under
    # asyncio and blocking): each has its own handles, cannot drop the other's, and what one
    # held is released when it goes.
    if IS_MICROPYTHON:
        skip("starts processes")
    import tempfile  # noqa: PLC0415

    from mctp import MctpError, ResponseCode, Stack  # noqa: PLC0415
    from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415
    from mctp.ipc import StreamClient  # noqa: PLC0415

    def handles_in_use(endpoint):
        line = endpoint.ask("audit")
        return int(line.split("handles=")[1].split()[0])

    for interpreter, mode in (
        (micropython_command(), []),
        (sys.executable, []),
        (micropython_command(), ["--blocking"]),
    ):
        with tempfile.TemporaryDirectory() as folder, Peer() as peer:
            path = os.path.join(folder, "stack.sock")
            options = ["--i2c-udp", "0:%d" % peer.port, "--eid", "9", "--ipc", "unix:" + path]
            options.append("--console")
            options.extend(mode)  # (a starred display does not compile on MicroPython)
            with EndpointProcess(interpreter, options) as endpoint:
                assert "IPC unix:" + path in endpoint.ready
                baseline = handles_in_use(endpoint)  # the firmware's own two listeners
                first = StreamClient(connect_unix(path))
                second = StreamClient(connect_unix(path))
                assert Stack(first).get_eid() == 9 and Stack(second).get_eid() == 9
                mine = Stack(first).listener(0x05)
                theirs = Stack(second).req(8)
                with raises(MctpError) as caught:
                    second.drop_handle(mine._handle)
                assert caught.value.code == ResponseCode.BAD_ARGUMENT
                assert handles_in_use(endpoint) == baseline + 2
                first.stream.close()  # the first application goes: its listener with it
                for _ in range(100):
                    if handles_in_use(endpoint) == baseline + 1:
                        break
                assert handles_in_use(endpoint) == baseline + 1
                theirs.close()
                assert handles_in_use(endpoint) == baseline
                second.stream.close()
            assert "faults 0" in endpoint.output and "Traceback" not in endpoint.output


def test_board_limits_size_the_stack_as_a_boards():
    # run_endpoint --board-limits sizes the stack as a board's (firmware.endpoint's
    # ENDPOINT_LIMITS), says so in its ready line, and holds an IPC client to a board's quota
    # (one listener: two of the four are the firmware's services', and two are kept back for
    # the board's own use); --config goes over those limits. Without the option, a host's
    # (Config's defaults) give a client two. In process, the firmware (no IPC quota) takes
    # the two listeners its services leave on a board.
    if IS_MICROPYTHON:
        skip("starts processes")
    import tempfile  # noqa: PLC0415

    from firmware.endpoint import EndpointApp  # noqa: PLC0415
    from mctp import MctpError, ResponseCode, Stack  # noqa: PLC0415
    from mctp.host.i2c_sim import SimBus  # noqa: PLC0415
    from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415
    from mctp.ipc import StreamClient  # noqa: PLC0415

    def listeners_taken(stack, wanted):
        # How many of `wanted` listeners `stack` gets, and the first refusal's code and words.
        taken = []
        try:
            for msg_type in range(0x05, 0x05 + wanted):
                taken.append(stack.listener(msg_type))
        except MctpError as error:
            return len(taken), error.code, error.detail
        finally:
            for listener in taken:
                listener.close()
        return len(taken), None, None

    bus = SimBus()
    board = EndpointApp(bus.controller(), bus.target(0x1D), 0x1D, uuid=bytes(16))
    taken, code, _ = listeners_taken(board.stack, 3)
    assert (taken, code) == (2, ResponseCode.NO_SPACE)

    board_limits = "board limits (4 listeners, 4 requests, 4 pending receives, 8 tags)"
    per_client = "IPC client quota: at most %d listener handles per client"
    runs = (
        (micropython_command(), ["--board-limits"], board_limits, 1),
        (sys.executable, ["--board-limits"], board_limits, 1),
        (
            sys.executable,
            ["--board-limits", "--config", "listeners=5", "--config", "client_listeners=3"],
            "board limits (5 listeners, 4 requests, 4 pending receives, 8 tags)",
            3,
        ),
        (
            micropython_command(),
            [],
            "host limits (8 listeners, 8 requests, 16 pending receives, 16 tags)",
            2,
        ),
    )
    for interpreter, limits, ready, room in runs:
        with tempfile.TemporaryDirectory() as folder, Peer() as peer:
            path = os.path.join(folder, "stack.sock")
            options = ["--i2c-udp", "0:%d" % peer.port, "--ipc", "unix:" + path]
            options += limits
            with EndpointProcess(interpreter, options) as endpoint:
                assert ready in endpoint.ready, endpoint.ready
                client = StreamClient(connect_unix(path))
                try:
                    taken, code, words = listeners_taken(Stack(client), room + 1)
                finally:
                    client.stream.close()
            assert (taken, code) == (room, ResponseCode.NO_SPACE), (interpreter, limits, taken)
            assert words.startswith(per_client % room), words


def test_the_endpoint_serves_one_application_over_a_serial_line():
    # run_endpoint --ipc serial:PATH, as a board would expose its stack on a UART to a host
    # rig: here a pty, the endpoint under the unix port on its slave end, the application
    # (CPython, Stack over StreamClient) on its master end.
    if IS_MICROPYTHON:
        skip("starts processes")
    import pty  # noqa: PLC0415

    from mctp import Stack  # noqa: PLC0415
    from mctp.host.serial_stream import SerialStream  # noqa: PLC0415
    from mctp.ipc import StreamClient  # noqa: PLC0415

    master, slave = pty.openpty()
    try:
        with Peer() as peer:
            options = ["--i2c-udp", "0:%d" % peer.port, "--eid", "11"]
            options += ["--ipc", "serial:" + os.ttyname(slave)]
            with EndpointProcess(micropython_command(), options) as endpoint:
                stack = Stack(StreamClient(SerialStream(master)))
                assert stack.get_eid() == 11
                with stack.listener(0x05):
                    pass  # a handle made and released over the line
                assert stack.get_eid() == 11
        assert "IPC serial:" in endpoint.ready and "faults 0" in endpoint.output
    finally:
        os.close(master)
        os.close(slave)


CLIENT_WAITING = """
import sys
sys.path.insert(0, %(root)r)
from mctp import Stack
from mctp.host.ipc_sockets import connect_unix
from mctp.ipc import StreamClient

stack = Stack(StreamClient(connect_unix(%(path)r)))
listener = stack.listener(0x05)
print("waiting", flush=True)
listener.recv()  # nothing comes: killed here, its receive pending at the endpoint
"""


def test_a_client_killed_in_the_middle_of_a_receive_leaves_nothing_held():
    if IS_MICROPYTHON:
        skip("starts processes")
    import tempfile  # noqa: PLC0415

    def audit(endpoint, name):
        return int(endpoint.ask("audit").split(name + "=")[1].split()[0])

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as folder, Peer() as peer:
        path = os.path.join(folder, "stack.sock")
        options = ["--i2c-udp", "0:%d" % peer.port, "--eid", "9", "--ipc", "unix:" + path]
        options.append("--console")
        with EndpointProcess(micropython_command(), options) as endpoint:
            handles = audit(endpoint, "handles")
            script = CLIENT_WAITING % {"root": root, "path": path}
            client = subprocess.Popen(
                [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
            )
            try:
                assert client.stdout.readline() == "waiting\n"
                for _ in range(100):  # its receive reaches the endpoint
                    if audit(endpoint, "pending") == 1:
                        break
                assert audit(endpoint, "pending") == 1
                assert audit(endpoint, "handles") == handles + 1
            finally:
                client.kill()
                client.wait()
            for _ in range(100):  # the endpoint sees the socket close
                if audit(endpoint, "handles") == handles:
                    break
            assert audit(endpoint, "handles") == handles and audit(endpoint, "pending") == 0
            assert audit(endpoint, "problems") == 0 and audit(endpoint, "faults") == 0


def test_a_killed_endpoint_restarts_on_its_socket_and_its_clients_carry_on():
    # The endpoint is killed (SIGKILL: no clean-up, its socket file stays) and started again on
    # the same path: the file is taken over, a second endpoint on a live path is refused, and the
    # application reconnects: its old handle is SERVER_RESTARTED, a new one works, and nothing
    # is left held.
    if IS_MICROPYTHON:
        skip("starts processes")
    import tempfile  # noqa: PLC0415

    from mctp import MctpError, ResponseCode, Stack  # noqa: PLC0415
    from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415
    from mctp.ipc import StreamClient  # noqa: PLC0415

    def handles_in_use(endpoint):
        return int(endpoint.ask("audit").split("handles=")[1].split()[0])

    for interpreter in (micropython_command(), sys.executable):
        with tempfile.TemporaryDirectory() as folder, Peer() as peer:
            path = os.path.join(folder, "stack.sock")
            options = ["--i2c-udp", "0:%d" % peer.port, "--eid", "9", "--ipc", "unix:" + path]
            options.append("--console")
            first = EndpointProcess(interpreter, options)
            client = StreamClient(connect_unix(path))
            stack = Stack(client)
            listener = stack.listener(0x05, timeout_ms=10)
            first.process.kill()
            first.stop()
            assert os.path.exists(path)  # a killed server's socket file
            with raises(MctpError) as caught:
                stack.get_eid()
            assert caught.value.code == ResponseCode.INTERNAL_ERROR
            with EndpointProcess(interpreter, options) as second:
                baseline = handles_in_use(second)
                with raises(EndpointFailed) as refused:
                    EndpointProcess(interpreter, options)
                assert "cannot listen on unix:" + path in refused.value.output
                client.attach(connect_unix(path))
                assert stack.get_eid() == 9
                with raises(MctpError) as caught:
                    listener.recv()
                assert caught.value.code == ResponseCode.SERVER_RESTARTED
                listener.close()
                with stack.listener(0x05):
                    assert handles_in_use(second) == baseline + 1
                assert handles_in_use(second) == baseline
                client.stream.close()
            assert "faults 0" in second.output and "Traceback" not in second.output


# The IPC service's limits, in a process as a user runs it: no client exhausts or stalls it.


def _ipc_figure(endpoint, name):
    return int(endpoint.ask("ipc").split(" %s=" % name)[1].split()[0])


def _audit_figure(endpoint, name):
    return int(endpoint.ask("audit").split(name + "=")[1].split()[0])


def _until(condition, seconds=5.0):
    import time  # noqa: PLC0415

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within %s s" % seconds
        time.sleep(0.01)


def _served_within_its_deadline(path):
    from mctp import Stack  # noqa: PLC0415
    from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415
    from mctp.ipc import StreamClient  # noqa: PLC0415

    client = StreamClient(connect_unix(path))
    try:
        assert Stack(client).get_eid() == 9
    finally:
        client.stream.close()


# What a waiting endpoint may use of a CPU beyond what it uses idle (which is about nothing
# under asyncio, and its 1 ms polls with --blocking): a loop that spins takes all of it.
MORE_THAN_IDLE = 0.1


def _cpu_share(endpoint, seconds=0.7):
    # The share of one CPU the endpoint used over `seconds` of wall time.
    import time  # noqa: PLC0415

    cpu, wall = endpoint.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (endpoint.cpu_seconds() - cpu) / (time.monotonic() - wall)


def _ipc_endpoint(interpreter, folder, peer, *more, preexec_fn=None):
    path = os.path.join(folder, "stack.sock")
    options = ["--i2c-udp", "0:%d" % peer.port, "--eid", "9", "--ipc", "unix:" + path]
    options.append("--console")
    options.extend(more)
    return path, EndpointProcess(interpreter, options, preexec_fn=preexec_fn)


def test_connections_beyond_the_limit_are_refused_and_leave_no_descriptor():
    # Idle connections past --ipc-max-clients are accepted and closed at once (each client
    # sees its stream end), counted; once the idle ones go, a client is served, and the
    # endpoint's descriptors and heap are back where they were.
    if IS_MICROPYTHON:
        skip("starts processes")
    import tempfile  # noqa: PLC0415

    from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder, Peer() as peer:
        path, endpoint = _ipc_endpoint(
            micropython_command(), folder, peer, "--ipc-max-clients", "3"
        )
        with endpoint:
            descriptors = endpoint.descriptors()
            _audit_figure(endpoint, "heap")  # (the first audit imports mctp.server.audit: 4 KB)
            heap = _audit_figure(endpoint, "heap")
            idle = [connect_unix(path) for _ in range(3)]
            _until(lambda: _ipc_figure(endpoint, "open") == 3)
            extra = [connect_unix(path) for _ in range(10)]
            for stream in extra:
                _until(lambda stream=stream: stream.any() == 0 and stream.closed)
            assert _ipc_figure(endpoint, "refused") == 10
            assert endpoint.descriptors() == descriptors + 3
            for stream in idle + extra:
                stream.close()
            _until(lambda: _ipc_figure(endpoint, "open") == 0)
            _served_within_its_deadline(path)
            _until(lambda: _ipc_figure(endpoint, "open") == 0)
            assert endpoint.descriptors() == descriptors
            assert _audit_figure(endpoint, "heap") < heap + 4096
            assert _ipc_figure(endpoint, "faults") == 0


def test_at_the_descriptor_limit_the_endpoint_counts_rests_and_recovers():
    # The endpoint's process may open 10 descriptors (6 in use when it starts): connections
    # past that make accept() fail (EMFILE). It counts the errors and rests instead of trying
    # again at once (an idle endpoint's CPU stays low, under asyncio and --blocking alike);
    # clients past its backlog give up at their deadline; once descriptors are free again it
    # serves.
    if IS_MICROPYTHON:
        skip("starts processes")
    import errno  # noqa: PLC0415
    import resource  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415

    def few_descriptors():
        resource.setrlimit(resource.RLIMIT_NOFILE, (10, 10))

    for mode in ([], ["--blocking"]):
        with tempfile.TemporaryDirectory() as folder, Peer() as peer:
            path, endpoint = _ipc_endpoint(
                micropython_command(),
                folder,
                peer,
                "--ipc-max-clients",
                "20",
                *mode,
                preexec_fn=few_descriptors,
            )
            with endpoint:
                descriptors = endpoint.descriptors()
                idle = _cpu_share(endpoint)
                clients = []
                with raises(OSError) as caught:
                    for _ in range(20):
                        clients.append(connect_unix(path, timeout_ms=300))
                assert caught.value.errno == errno.ETIMEDOUT  # the backlog full
                _until(lambda: _ipc_figure(endpoint, "accept_errors") > 0)
                share = _cpu_share(endpoint)
                assert share < idle + MORE_THAN_IDLE, (share, idle)
                for stream in clients:
                    stream.close()
                _served_within_its_deadline(path)
                _until(lambda: _ipc_figure(endpoint, "open") == 0)
                assert endpoint.descriptors() == descriptors
                assert _ipc_figure(endpoint, "faults") == 0


GET_EID_FRAME = bytes.fromhex("a54d01010c00e6010000000000000000000000df58")


def test_a_client_that_never_reads_its_answers_leaves_the_endpoint_idle_and_is_dropped():
    # A client sends requests and reads none of the answers: once its socket is full, the
    # endpoint waits for room in it (no CPU), and after --ipc-stall-ms drops it (counted).
    if IS_MICROPYTHON:
        skip("starts processes")
    import tempfile  # noqa: PLC0415

    for interpreter in (micropython_command(), sys.executable):
        with tempfile.TemporaryDirectory() as folder, Peer() as peer:
            path, endpoint = _ipc_endpoint(interpreter, folder, peer, "--ipc-stall-ms", "2500")
            with endpoint:
                descriptors = endpoint.descriptors()
                idle = _cpu_share(endpoint)
                client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                client.connect(path)
                client.settimeout(0.5)
                try:
                    while True:  # until the endpoint stops reading it
                        client.sendall(GET_EID_FRAME * 50)
                except socket.timeout:
                    pass
                assert _ipc_figure(endpoint, "stalled") == 0
                share = _cpu_share(endpoint)
                assert share < idle + MORE_THAN_IDLE, (share, idle)
                _until(lambda: _ipc_figure(endpoint, "stalled") == 1)
                client.close()
                assert _ipc_figure(endpoint, "open") == 0
                _served_within_its_deadline(path)
                _until(lambda: _ipc_figure(endpoint, "open") == 0)
                assert endpoint.descriptors() == descriptors
                assert _ipc_figure(endpoint, "faults") == 0


def test_ipc_on_tcp_port_0_says_the_port_it_took():
    if IS_MICROPYTHON:
        skip("starts processes")
    from mctp import Stack  # noqa: PLC0415
    from mctp.host.ipc_sockets import connect_tcp  # noqa: PLC0415
    from mctp.ipc import StreamClient  # noqa: PLC0415

    for interpreter in (micropython_command(), sys.executable):
        with Peer() as peer:
            options = ["--i2c-udp", "0:%d" % peer.port, "--eid", "9", "--ipc", "tcp:0"]
            with EndpointProcess(interpreter, options) as endpoint:
                port = endpoint.ipc_port
                assert port and "IPC tcp:%d," % port in endpoint.ready
                assert endpoint.ipc == "tcp:%d" % port
                client = StreamClient(connect_tcp(port))
                assert Stack(client).get_eid() == 9
                client.stream.close()
