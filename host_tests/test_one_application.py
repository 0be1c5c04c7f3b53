# openprot-mctp-api's promise, as one test: one application (examples/tid_echo.py: a PLDM GetTID
# requester and a vendor-echo responder, written once against the Stack facade) runs unchanged
# over the three MctpClients and gives the same results:
#
#   direct  its own stack in its process (DirectClient), on a serial line;
#   ipc     the stack of another process (tools/run_endpoint.py --ipc, mctp.ipc.StreamClient)
#           which is on the serial line;
#   socket  the Linux kernel's stack (mctp.linux.SocketClient over AF_MCTP), in the QEMU guest
#           of tools/ci/linux_guest, by the MicroPython unix port or CPython there, the kernel's
#           mctp-serial on the line.
#
# At the other end of the line, the same peer each time: our endpoint firmware
# (tools/run_endpoint.py, EID 9, PLDM TID 7) with its console, which sends the application's
# listener the echo requests and checks the answers.
#
# CPython only (it starts processes and QEMU). The socket form needs the built guest (make
# linux-guest) and the MicroPython tree for its static binary; without them it skips, and with
# CI set it fails.

import os
import sys

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    import select
    import shutil
    import socket
    import subprocess
    import tempfile
    import threading

    import pytest

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [os.path.join(ROOT, "tools"), os.path.join(ROOT, "tools", "ci")]
    from endpoint_process import EndpointProcess, micropython_command
    from linux_guest.cpython import cpython_files, cpython_run_script
    from linux_guest.run import Guest, Unavailable, guest_files

    APP = os.path.join(ROOT, "examples", "tid_echo.py")
    INTERPRETERS = {"cpython": sys.executable, "micropython": micropython_command()}
else:
    pytest = None

APP_EID, PEER_EID, PEER_TID = 8, 9, 7
# The peer's echo requests: the vendor ID its echo service and ours share, then a pattern; a
# single packet, a few, and the largest payload (1023 bytes, 16 packets).
REQUESTS = [b"\xff\xff" + bytes((i * 7 + n) & 0xFF for i in range(n)) for n in (3, 150, 1021)]
EXPECTED = (
    ["tid-echo ready", "tid-echo tid %d eid %d" % (PEER_TID, PEER_EID)]
    + [
        "tid-echo echo %d bytes %d eid %d ic 0" % (i + 1, len(r), PEER_EID)
        for i, r in enumerate(REQUESTS)
    ]
    + ["tid-echo done"]
)


def peer_options(line):
    """The peer endpoint's command line, on the serial line `line` (a Unix socket's path)."""
    options = ["--serial", "unix:" + line, "--console", "--eid", str(PEER_EID)]
    options.extend(("--serial-peer", str(APP_EID), "--tid", str(PEER_TID)))
    return options


class NullModem:
    """A serial line between two processes: a Unix socket that takes two connections and
    passes each one's bytes to the other (what QEMU's chardev is to the guest)."""

    def __init__(self, path):
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(2)
        self.ends = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while len(self.ends) < 2:
                self.ends.append(self.listener.accept()[0])
            while True:
                for ready in select.select(self.ends, [], [])[0]:
                    data = ready.recv(4096)
                    if not data:
                        return
                    other = self.ends[1] if ready is self.ends[0] else self.ends[0]
                    other.sendall(data)
        except OSError:
            return  # closed

    def close(self):
        self.listener.close()
        for sock in self.ends:
            sock.close()


def peer_sends_requests(peer, app_lines):
    """Wait for the application's ready line, then send it each request through the peer's
    console and check its answer."""
    assert next(app_lines).endswith("tid-echo ready")
    for request in REQUESTS:
        answer = peer.ask("request %d 0x7e %s" % (APP_EID, request.hex()), timeout=20)
        assert answer == "answer 126 " + request.hex()


def lines_of(process):
    for line in iter(process.stdout.readline, ""):
        yield line.rstrip("\n")


def run_on_the_host(mode, interpreter, form=()):
    """The application's lines and exit status, run with `interpreter` over `mode` (direct
    or ipc) against the peer on a null modem; `form`: ("--asyncio",) for its asyncio form."""
    folder = tempfile.mkdtemp(prefix="mctp-one-app-")
    line = os.path.join(folder, "line.sock")
    modem = NullModem(line)
    local = app = None
    try:
        with EndpointProcess(micropython_command(), peer_options(line)) as peer:
            if mode == "direct":
                args = ["direct", "unix:" + line, str(APP_EID)]
            else:
                ipc = os.path.join(folder, "ipc.sock")
                local_options = ["--serial", "unix:" + line, "--eid", str(APP_EID)]
                local_options.extend(("--services", "none", "--serial-peer", str(PEER_EID)))
                local_options.extend(("--ipc", "unix:" + ipc))
                local = EndpointProcess(sys.executable, local_options)
                args = ["ipc", "unix:" + ipc]
            command = [INTERPRETERS[interpreter], APP, "--peer", str(PEER_EID), "--echoes", "3"]
            command.extend(form)
            command.extend(args)
            app = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            lines = lines_of(app)
            peer_sends_requests(peer, lines)
            seen = ["tid-echo ready"]
            seen.extend(lines)
            status = app.wait(20)
        return seen, status
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait()
        if local is not None:
            local.stop()
        modem.close()
        shutil.rmtree(folder, ignore_errors=True)


def run_in_the_guest(interpreter, form=()):
    """The application's lines and exit status, run by `interpreter` ("micropython" or
    "cpython") in the Linux guest over the kernel's AF_MCTP sockets; `form` as for
    run_on_the_host."""
    arguments = '/app/tid_echo.py --prefix "MCTP-GUEST " %s socket' % " ".join(form)
    with open(APP, "rb") as f:
        app = f.read()
    try:
        files = guest_files(ROOT, {"app/tid_echo.py": app})
        if interpreter == "cpython":
            files.update(cpython_files(modules=("asyncio",) if form else ()))
            files["app/run*"] = cpython_run_script(arguments)
        else:
            files["app/run*"] = ("#!/bin/sh\nexec /bin/micropython %s\n" % arguments).encode()
        guest = Guest(local_eid=APP_EID, peer_eid=PEER_EID, run="app", files=files)
        guest.start()
    except Unavailable as why:
        if os.environ.get("CI"):
            raise AssertionError("the Linux guest is needed in CI: %s" % why) from None
        skip(str(why))
    try:
        guest.wait_listening()
        options = peer_options(guest.serial_path)
        with EndpointProcess(micropython_command(), options, start_timeout=30) as peer:
            events = (
                event.line for event in iter(lambda: guest.wait_for("tid-echo", timeout=60), None)
            )
            peer_sends_requests(peer, events)
            results = guest.wait_done(60)
    finally:
        guest.stop()
    lines = [
        event.line[len("MCTP-GUEST ") :] for event in results.events if event.name == "tid-echo"
    ]
    app = results.last("app")
    return lines, 0 if app is not None and app.ok else 1


# Each test runs the application's blocking form and its asyncio form (--asyncio, over
# mctp.aio's AsyncStack), which must print the same.
FORMS = {"blocking": (), "asyncio": ("--asyncio",)}

if pytest is not None:

    @pytest.mark.parametrize("form", list(FORMS))
    @pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
    @pytest.mark.parametrize("mode", ["direct", "ipc"])
    def test_the_application_over_a_stack_of_its_own_or_another_process(mode, interpreter, form):
        lines, status = run_on_the_host(mode, interpreter, FORMS[form])
        assert lines == EXPECTED, "\n".join(lines)
        assert status == 0


def check_in_the_guest(interpreter, form):
    if IS_MICROPYTHON:
        skip("starts QEMU: CPython only")
    lines, status = run_in_the_guest(interpreter, FORMS[form])
    assert lines == EXPECTED, "\n".join(lines)
    assert status == 0


def test_the_application_over_the_linux_kernels_stack_under_micropython():
    check_in_the_guest("micropython", "blocking")


def test_the_application_over_the_linux_kernels_stack_under_cpython():
    check_in_the_guest("cpython", "blocking")


def test_the_asyncio_application_over_the_linux_kernels_stack_under_micropython():
    check_in_the_guest("micropython", "asyncio")


def test_the_asyncio_application_over_the_linux_kernels_stack_under_cpython():
    check_in_the_guest("cpython", "asyncio")
