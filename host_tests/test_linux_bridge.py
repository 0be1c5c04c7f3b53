# The bridge against the Linux kernel's MCTP stack: the kernel (net/mctp and its mctp-serial
# line discipline, in the QEMU guest of tools/ci/linux_guest) is the bus owner of our bridge
# (tools/run_endpoint.py --bridge under the unix port), which is on the guest's serial port
# upstream and on the UDP I2C bus (tools/i2c_hub.py) downstream, with two firmware endpoints
# there. The guest's program, through AF_MCTP sockets and rtnetlink, does what a bus owner
# without mctpd does: Get and Set Endpoint ID to the bridge (at EID 0, by physical addressing,
# as mctpd does), Allocate Endpoint IDs for the pool the answer asks for, one route for the pool
# over the serial netdev, then Get Endpoint ID to each pool EID until the bridge has set its
# endpoint up. Then Get Endpoint ID and a 1 KiB echo to each endpoint behind the bridge, and
# one endpoint's 1 KiB request to the guest's listener, answered by the kernel. No drop
# anywhere: the guest's netdev counters, the bridge's and the endpoints' printed counters.
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
    from test_host_i2c_hub import HubProcess
    from test_linux_serial import guest_or_skip

GUEST_EID, BRIDGE_EID, POOL_FIRST, POOL_SIZE = 8, 10, 11, 3
BRIDGE_ADDR, DOWN = 0x20, (0x30, 0x31)
DOWN_EIDS = (POOL_FIRST, POOL_FIRST + 1)  # (the bridge gives its pool out in address order)
VENDOR = b"\xff\xff"  # the echo service's PCI vendor ID, first in each vendor message
# The guest's steps: the bridge set up as a bus owner does, then each endpoint behind it.
STEPS = (
    ["geteid@0", "seteid", "geteid", "allocate@%d" % POOL_FIRST]
    + ["wait@%d" % eid for eid in DOWN_EIDS]
    + ["geteid@%d" % eid for eid in DOWN_EIDS]
    + ["echo@%d" % eid for eid in DOWN_EIDS]
    + ["listen", "stats"]
)


def run_the_bridge_under_the_kernel(request):
    """The hub, two endpoints and the bridge as processes, the guest their bus owner; the
    guest's results, the answer the first endpoint got to `request` (sent to the guest once
    its listener is bound), and what the bridge and the endpoints printed when they stopped."""
    guest = guest_or_skip(GUEST_EID, BRIDGE_EID, ",".join(STEPS))
    hub, processes = None, []
    try:
        hub = HubProcess(micropython_command())
        bus = ["--i2c-udp", "0:%d" % hub.port, "--i2c-hub", "--i2c-addr"]
        # The first endpoint asks the guest, whose EID it was never given: EIDs without a
        # narrower route go to its bus owner, the bridge that set its EID.
        asking = ["--console"]
        for addr, more in zip(DOWN, (asking, [])):
            line = bus + [hex(addr)] + more  # noqa: RUF005 (a starred display: MicroPython)
            processes.append(EndpointProcess(micropython_command(), line))
        guest.wait_listening()
        bridge = ["--bridge", "--pool-size", str(POOL_SIZE), "--downstream"]
        bridge += [",".join(hex(addr) for addr in DOWN), "--serial", "unix:" + guest.serial_path]
        bridge += bus + [hex(BRIDGE_ADDR)]  # noqa: RUF005
        processes.append(EndpointProcess(micropython_command(), bridge))
        guest.wait_for("listen", "ready", timeout=60)
        answer = processes[0].ask("request %d 0x7e %s" % (GUEST_EID, request.hex()))
        results = guest.wait_done(60)
    finally:
        outputs = [process.stop_output() for process in processes]
        if hub is not None:
            hub.stop()
        guest.stop()
    return results, answer, outputs


# The counters that count work done; every other counter the processes print counts a drop, an
# error or a fault, and must be zero.
ACTIVITY = (
    "requests", "responses", "eid_changes", "pool_changes", "echoed", "set_up", "pools",
    "polls", "rx_frames", "tx_frames", "rx_packets", "rx_messages", "tx_packets",
    "tx_messages", "fwd_packets",
)  # fmt: skip


def nonzero_drops(output, allowed=()):
    """The "line name=N" words of a process's output whose N is not 0, but for the
    ACTIVITY counters and the `allowed` ones."""
    found = []
    for line in output.splitlines():
        words = line.split()
        for word in words[1:]:
            name, equals, value = word.partition("=")
            if equals and value != "0" and name not in ACTIVITY and name not in allowed:
                found.append("%s %s" % (words[0], word))
    return found


def counter(output, line, name):
    """Counter `name` of the output's line that starts with `line` (its first word)."""
    for words in (text.split() for text in output.splitlines()):
        if words and words[0] == line:
            return int(next(word for word in words if word.startswith(name + "=")).split("=")[1])
    raise AssertionError("no %r line in %s" % (line, output))


def test_the_kernel_is_the_bus_owner_of_our_bridge_and_reaches_two_endpoints_behind_it():
    if IS_MICROPYTHON:
        skip("starts QEMU")
    request = VENDOR + bytes((i * 7 + 3) & 0xFF for i in range(1021))  # 16 packets
    results, answer, outputs = run_the_bridge_under_the_kernel(request)
    assert results.ok, results.console
    # Get Endpoint ID at EID 0 (physical addressing, as mctpd asks a new device first): no
    # EID yet, a bridge (0x10: "bus owner or bridge", dynamic EID). Set Endpoint ID: accepted,
    # EID 10, "requires EID pool allocation" (status 0x01), a pool of 3. Get Endpoint ID at
    # EID 10, by the route. Allocate Endpoint IDs: accepted, 3 from 11.
    assert results["geteid@0"].data() == bytes((0x00, 0x02, 0x00, 0x00, 0x10, 0x00))
    assert results["seteid"].data() == bytes((0x00, 0x01, 0x00, 0x01, BRIDGE_EID, POOL_SIZE))
    assert results["seteid"].fields["from"] == str(BRIDGE_EID)
    assert results["geteid"].data() == bytes((0x00, 0x02, 0x00, BRIDGE_EID, 0x10, 0x00))
    allocated = bytes((0x00, 0x08, 0x00, 0x00, POOL_SIZE, POOL_FIRST))
    assert results["allocate@%d" % POOL_FIRST].data() == allocated
    for eid in DOWN_EIDS:
        # Each endpoint's own answer, through the bridge: its pool EID, a dynamic one.
        assert results["geteid@%d" % eid].data() == bytes((0x00, 0x02, 0x00, eid, 0x00, 0x00))
        assert results["echo@%d" % eid].fields["len"] == "1023"  # checked by the guest
    # The first endpoint's request, as the kernel reassembled it, and the kernel's answer.
    listened = results["listen"]
    assert (listened.data(), listened.fields["from"]) == (request, str(DOWN_EIDS[0]))
    assert answer == "answer 126 " + request.hex()
    stats = results.last("stats", ("info",)).fields
    assert (stats["rx_crc_errors"], stats["rx_dropped"], stats["rx_errors"]) == ("0", "0", "0")
    assert stats["tx_dropped"] == "0"
    for output in outputs[:2]:
        assert nonzero_drops(output) == [], output
        assert "echoed=1" in output and "faults 0" in output, output
    bridge = outputs[2]
    # fwd_no_route: the guest's Get EIDs that came before the bridge had set an endpoint up,
    # each of them one of the guest's unanswered tries (none, most runs).
    unanswered = sum(int(results["wait@%d" % eid].fields["tries"]) - 1 for eid in DOWN_EIDS)
    assert nonzero_drops(bridge, ("fwd_no_route",)) == [], bridge
    assert counter(bridge, "core", "fwd_no_route") <= unanswered, bridge
    # Through the bridge, each way: to each endpoint, the wait's Get EID, the Get EID and the
    # 1 KiB echo (16 packets); the first endpoint's request and the guest's answer (16 each);
    # and an unanswered try that the bridge forwarded, and its late answer.
    forwarded = 2 * 2 * (1 + 1 + 16) + 2 * 16
    assert forwarded <= counter(bridge, "core", "fwd_packets") <= forwarded + 2 * unanswered
    # Every frame either side sent on the serial line, the other side took.
    sent, taken = int(stats["tx_packets"]), int(stats["rx_packets"])
    assert (sent, taken) == (
        counter(bridge, "serial", "rx_frames"),
        counter(bridge, "serial", "tx_frames"),
    )
    assert "faults 0" in bridge and "pool set_up=2 failed=0" in bridge, bridge
