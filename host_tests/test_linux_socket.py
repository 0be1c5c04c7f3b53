# mctp.linux.SocketClient against the Linux kernel's MCTP stack: the MicroPython unix port in
# the QEMU guest of tools/ci/linux_guest runs tools/ci/linux_guest/socket_checks.py, which
# drives the client through AF_MCTP sockets and rtnetlink (EIDs, a GetTID, 1 KiB echoes,
# NO_SPACE with the size and the message kept, TIMED_OUT, an abandoned request's late response,
# stale and forged handles, no route, a message type bound twice, the handle limit, a listener
# that answers), with the kernel's mctp-serial link to our endpoint firmware on the host
# (tools/run_endpoint.py, EID 9, PLDM TID 7). Each check's line is asserted here.
#
# The checks run twice: under the static MicroPython and under the host's CPython copied into the
# guest (tools/ci/linux_guest/cpython.py), whose path reaches libc through ctypes for the AF_MCTP
# addresses its socket module refuses.
#
# CPython only (it starts QEMU). Without the built guest (make linux-guest) or the MicroPython
# tree for the guest's static binary it skips, and with CI set that fails the run instead.

import os
import sys

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [os.path.join(ROOT, "tools"), os.path.join(ROOT, "tools", "ci")]
    from endpoint_process import EndpointProcess, micropython_command
    from linux_guest.cpython import cpython_files, cpython_run_script
    from linux_guest.run import Guest, Unavailable, guest_files

GUEST_EID, HOST_EID = 8, 9
CHECKS = ("eid", "get-tid", "echo", "no-space", "timeout", "abandoned", "arguments")
CHECKS += ("handle-limit", "listen", "baseline")


def run_checks(files):
    """The guest's results, and the answer our endpoint got from the guest's listener."""
    try:
        guest = Guest(local_eid=GUEST_EID, peer_eid=HOST_EID, run="app", files=files)
        guest.start()
    except Unavailable as why:
        if os.environ.get("CI"):
            raise AssertionError("the Linux guest is needed in CI: %s" % why) from None
        skip(str(why))
    request = b"\xff\xff" + bytes(range(200))
    try:
        guest.wait_listening()
        options = ["--serial", "unix:" + guest.serial_path, "--eid", str(HOST_EID)]
        options.extend(("--serial-peer", str(GUEST_EID), "--tid", "7", "--console"))
        with EndpointProcess(micropython_command(), options, start_timeout=30) as endpoint:
            guest.wait_for("sc-listen", "ready", timeout=120)
            answer = endpoint.ask("request %d 0x7e %s" % (GUEST_EID, request.hex()))
            results = guest.wait_done(60)
    finally:
        guest.stop()
    return results, answer, request


def checks_files(interpreter):
    """The guest's files that run socket_checks.py with `interpreter`: "micropython" or
    "cpython"."""
    with open(os.path.join(ROOT, "tools", "ci", "linux_guest", "socket_checks.py"), "rb") as f:
        checks = f.read()
    try:
        files = guest_files(ROOT, {"app/socket_checks.py": checks})
        if interpreter == "cpython":
            files.update(cpython_files())
            files["app/run*"] = cpython_run_script("/app/socket_checks.py")
        else:
            files["app/run*"] = b"#!/bin/sh\nexec /bin/micropython /app/socket_checks.py\n"
    except Unavailable as why:
        if os.environ.get("CI"):
            raise AssertionError(
                "the guest's %s is needed in CI: %s" % (interpreter, why)
            ) from None
        skip(str(why))
    return files


def check_the_contract(interpreter):
    if IS_MICROPYTHON:
        skip("starts QEMU: CPython only")
    results, answer, request = run_checks(checks_files(interpreter))
    for name in CHECKS:
        event = results.last("sc-" + name)
        assert event is not None and event.ok, (name, results.console)
    # Our endpoint's request, as the kernel reassembled it for the client's listener, and the
    # client's answer, as our endpoint reassembled it.
    assert results.last("sc-listen", ("info",)).data() == request
    assert answer == "answer 126 " + request.hex()
    assert results["app"].ok and results.ok, results.console


def test_the_socket_client_keeps_the_contract_on_the_kernels_stack_under_micropython():
    check_the_contract("micropython")


def test_the_socket_client_keeps_the_contract_on_the_kernels_stack_under_cpython():
    check_the_contract("cpython")
