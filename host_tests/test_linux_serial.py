# The serial binding against the Linux kernel's MCTP stack: the kernel's mctp-serial line
# discipline and net/mctp in a small x86_64 guest under QEMU (tools/ci/linux_guest), its second
# serial port a Unix socket on which our endpoint firmware runs (tools/run_endpoint.py
# --serial), under CPython and under the MicroPython unix port. The guest's own program asks
# our endpoint for its EID (control) and a 1 KiB vendor echo through AF_MCTP sockets, then
# listens; our endpoint sends its listener a 1 KiB request, which the kernel reassembles from
# our packets and answers in packets of its own (its serial MTU is 68). What the guest saw is
# checked here, from its console lines.
#
# CPython only (it starts QEMU). Without QEMU or a built guest (make linux-guest) it skips,
# and with CI set that fails the run instead.

import os
import sys

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
    sys.path[:0] = [TOOLS, os.path.join(TOOLS, "ci")]
    from endpoint_process import EndpointProcess, micropython_command
    from linux_guest.run import Guest, Unavailable

GUEST_EID, OUR_EID = 8, 9
VENDOR = b"\xff\xff"  # the echo service's PCI vendor ID, first in each vendor message


def guest_or_skip(local_eid=GUEST_EID, peer_eid=OUR_EID, run="geteid,echo,listen,stats"):
    """The guest started (Guest's arguments), or the test skipped when it is not there (and
    failed instead in CI)."""
    guest = Guest(local_eid=local_eid, peer_eid=peer_eid, run=run)
    try:
        guest.start()
    except Unavailable as why:
        if os.environ.get("CI"):
            raise AssertionError("the Linux guest is needed in CI: %s" % why) from None
        skip(str(why))
    return guest


def exchanges_with_the_kernel(interpreter, options=()):
    """Our endpoint under `interpreter` on the guest's serial line (with `options` more): the
    guest's results, the answer our endpoint got to its request, and what the endpoint
    printed when it stopped."""
    request = VENDOR + bytes((i * 7 + 3) & 0xFF for i in range(1021))  # 16 packets of ours
    guest = guest_or_skip()
    try:
        guest.wait_listening()
        line = ["--serial", "unix:" + guest.serial_path, "--eid", str(OUR_EID)]
        line.extend(options)  # (a starred display does not compile on MicroPython)
        line += ["--serial-peer", str(GUEST_EID), "--console"]
        with EndpointProcess(interpreter, line) as endpoint:
            guest.wait_for("listen", "ready", timeout=60)
            answer = endpoint.ask("request %d 0x7e %s" % (GUEST_EID, request.hex()))
            results = guest.wait_done(60)
    finally:
        guest.stop()
    return results, answer, request, endpoint.output


def check(results, answer, request, output):
    assert results.ok, results.console
    # The kernel's Get Endpoint ID, answered by our control responder: EID 9, static, simple.
    assert results["geteid"].data() == bytes((0x00, 0x02, 0x00, OUR_EID, 0x02, 0x00))
    assert results["echo"].fields["len"] == "1023"  # 1 KiB each way, checked by the guest
    # Our request, as the kernel reassembled it, and its answer as we reassembled it.
    assert results["listen"].data() == request
    assert answer == "answer 126 " + request.hex()
    assert "bad_fcs=0" in output and "truncated=0" in output and "noise=0" in output
    stats = results.last("stats", ("info",)).fields
    assert stats["rx_crc_errors"] == "0" and stats["rx_dropped"] == "0"


def test_the_kernel_and_our_cpython_endpoint_exchange_both_ways():
    if IS_MICROPYTHON:
        skip("starts QEMU")
    check(*exchanges_with_the_kernel(sys.executable))


def test_the_kernel_and_our_micropython_endpoint_exchange_both_ways_beside_an_i2c_link():
    # The endpoint on two links at once, as a board with SERIAL_UART and an I2C address: the
    # serial one to the kernel, an I2C one on the UDP bus (to a port nobody answers from).
    if IS_MICROPYTHON:
        skip("starts QEMU")
    import socket  # noqa: PLC0415

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        i2c = ["--i2c-udp", "0:%d" % silent.getsockname()[1]]
        results, answer, request, output = exchanges_with_the_kernel(micropython_command(), i2c)
    check(results, answer, request, output)
    assert "link too_short=0" in output and "rx_frames=0" in output  # the I2C link, idle
