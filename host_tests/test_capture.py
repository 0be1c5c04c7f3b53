# mctp.capture: a board's capture of the packets its links receive and send, in a preallocated
# ring of records, dumped as text and read back by tools/mctp_trace.py --capture.

import io

from endpoints import i2c_network, pattern, serial_pair
from testing import IS_MICROPYTHON, heap_locked, raises, skip

from mctp.capture import Capture
from mctp.control.responder import ControlResponder
from mctp.core.packet import FLAG_TO
from mctp.host.pcap import read_dump

VENDOR = 0x7E


def _answering(endpoint):
    # The endpoint with a control responder, which answers from under its poll.
    endpoint.control = ControlResponder(endpoint.core, bytes(16))
    return endpoint


def _in_order(capture):
    return [(link, sent, address, length, packet) for _, link, sent, address, length, packet
            in capture.records()]  # fmt: skip


def test_a_capture_records_each_packet_once_allocating_nothing():
    # On the I2C bus: a control request and a 1 KiB message in (the message's middle packets
    # through the core's fast path, offered by the link's drain), the control answer out; the
    # receiving side's poll runs with the heap locked. Each packet is recorded once, as sent.
    a, b = i2c_network(2)
    _answering(b)
    sent = Capture(40).attach(a.core)
    got = Capture(40).attach(b.core)
    listener = b.stack.listener(VENDOR)
    request = bytes([0x80, 0x02])  # control: Get Endpoint ID
    assert a.core.send(9, FLAG_TO | 1, 0x00, request, 0, 2) == 0
    message = b"\xff\xff" + pattern(1000)
    assert a.core.send(9, FLAG_TO | 2, VENDOR, message, 0, len(message)) == 0
    with heap_locked():
        b.server.poll()
    assert b.core.counters.rx_messages == 2 and b.control.counters.responses == 1
    assert sent.held == 17 and got.held == 18 and got.overwritten == 0
    records = _in_order(got)
    # The answer follows its request: it was sent from under the poll that took the request.
    link, out, address, length, answer = records.pop(1)
    assert (link, out, address, length) == (1, True, 0x10, 11)
    assert answer[:4] == bytes([1, 8, 9, 0xC0 | 1]) and answer[4:8] == b"\x00\x00\x02\x00"
    assert records == [(1, False, 0x10, n, p) for (_, _, _, n, p) in _in_order(sent)]
    assert [r[3] for r in records[1:]] == [68] * 15 + [4 + 1003 - 15 * 64]
    b.server.poll()  # (nothing more: the fast path's declined packets were not recorded twice)
    assert got.held == 18
    listener.close()


def test_a_bridge_capture_records_a_forwarded_packet_in_on_one_link_and_out_on_the_other():
    # The bus owner (0x10, upstream: link 1) asks the endpoint behind the bridge (EID 30 at
    # 0x30, downstream: link 2) for its EID: the request in from 0x10 and out to 0x30, the
    # answer in from 0x30 and out to 0x10, each the same packet on both sides.
    from test_bridge_forward import GET_EID, bridged  # noqa: PLC0415

    owner, bridge, (device,) = bridged(endpoints=1)
    _answering(device)
    capture = Capture(8).attach(bridge.core)
    owner.core.send(30, FLAG_TO | 1, 0x00, GET_EID, 0, len(GET_EID))
    for stack in (bridge, device, bridge):
        stack.server.poll()
    assert bridge.core.counters.fwd_packets == 2 and device.control.counters.responses == 1
    records = _in_order(capture)
    assert [r[:3] for r in records] == [
        (1, False, 0x10),
        (2, True, 0x30),
        (2, False, 0x30),
        (1, True, 0x10),
    ]
    assert records[0][4] == records[1][4] and records[2][4] == records[3][4]
    assert records[0][4][:4] == bytes([1, 30, 8, 0xC8 | 1])  # the request, SOM EOM TO tag 1
    capture.detach()
    assert "_route" not in bridge.core.forwarder.__dict__


def test_a_full_capture_keeps_the_newest_packets_and_counts_those_it_overwrote():
    a, b = serial_pair()
    capture = Capture(3, snap=6).attach(b.core)
    for i in range(5):
        a.core.send(9, FLAG_TO | 1, VENDOR, bytes([i] * 20), 0, 20)
        b.server.poll()
    assert (capture.held, capture.overwritten) == (3, 2)
    # The newest three, each kept to 6 bytes of its 25 (header, type, payload); no address
    # on a serial line.
    assert [(r[1], r[2], r[3], r[4], r[5][4:]) for r in capture.records()] == [
        (1, False, None, 25, bytes([VENDOR, i])) for i in (2, 3, 4)
    ]
    capture.clear()
    assert capture.records() == [] and capture.overwritten == 0


def test_a_dump_reads_back_as_the_records_it_holds():
    a, b = i2c_network(2)
    _answering(b)
    capture = Capture(8).attach(b.core)
    a.core.send(9, FLAG_TO | 1, 0x00, b"\x80\x02", 0, 2)
    b.clock.advance(250)
    b.server.poll()
    out = io.StringIO()
    capture.dump(out)
    text = out.getvalue()
    assert text.splitlines() == [
        "mctp capture: 2 packets, 0 overwritten, 68 bytes kept of each",
        "1250 1 in 0x10 7 010908c9008002",
        "1250 1 out 0x10 11 010809c100000200090000",  # Get EID: EID 9, simple endpoint
    ]
    # A console's output around it: what comes before the header and after a prompt is not
    # the capture's.
    console = "boot\n>>> app.capture.dump()\n" + text + ">>> \n"
    assert read_dump(console) == capture.records()


HEADER_1 = "mctp capture: 1 packets, 0 overwritten, 68 bytes kept of each\n"
HEADER_2 = "mctp capture: 2 packets, 0 overwritten, 68 bytes kept of each\n"


def test_bad_settings_and_bad_dumps_are_refused_saying_what_is_wrong():
    cases = (
        (lambda: Capture(0), "a capture's packets must be an int of 1 or more, got 0"),
        (
            lambda: Capture(4, snap=256),
            "a capture's snap must be 1..255 bytes of each packet, got 256",
        ),
        (lambda: read_dump("nothing\n"), "no capture: no line starts with 'mctp capture:'"),
        (
            lambda: read_dump(HEADER_2 + "5 1 in - 7 010908c9008002\n"),
            "the capture at line 1 says 2 packets, and 1 follow",
        ),
        (
            lambda: read_dump(HEADER_1 + "5 1 sideways - 7 0109\n"),
            (
                "line 2 is not a capture record (MS LINK in|out ADDRESS|- LENGTH HEX):"
                " '5 1 sideways - 7 0109'"
            ),
        ),
    )
    for make, message in cases:
        with raises(ValueError) as caught:
            make()
        assert str(caught.value) == message
    a, _ = serial_pair()
    capture = Capture(4).attach(a.core)
    with raises(ValueError) as caught:
        Capture(4).attach(a.core)
    assert (
        str(caught.value) == "the core's receive_middle is taken over already (another capture?)"
    )
    with raises(ValueError) as caught:
        capture.attach(a.core)
    assert str(caught.value) == "the capture is attached to a core already: detach() it first"


def test_a_detached_capture_gives_the_core_its_own_steps_back():
    a, b = serial_pair()
    _answering(b)
    capture = Capture(4).attach(b.core)
    capture.detach()
    assert "receive_middle" not in b.core.__dict__ and "_fill_packet" not in b.core.__dict__
    a.core.send(9, FLAG_TO | 1, 0x00, b"\x80\x02", 0, 2)
    b.server.poll()
    assert b.control.counters.responses == 1 and capture.held == 0


def test_mctp_trace_reads_a_dump_and_writes_it_as_a_pcap_file_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from test_tools import MICROPYTHON, _run  # noqa: PLC0415

    from mctp.host.pcap import RECEIVED, SENT, read_pcap  # noqa: PLC0415

    a, b = i2c_network(2)
    _answering(b)
    capture = Capture(8).attach(b.core)
    a.core.send(9, FLAG_TO | 1, 0x00, b"\x80\x02", 0, 2)
    b.server.poll()
    outputs = []
    with tempfile.TemporaryDirectory() as folder:
        dump = os.path.join(folder, "capture.txt")
        capture.save(dump)
        pcap = os.path.join(folder, "capture.pcap")
        for interpreter in (sys.executable, MICROPYTHON):
            done = _run(interpreter, "mctp_trace.py", "--capture", dump, "--write-pcap", pcap)
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout)
            with open(pcap, "rb") as file:
                records = read_pcap(file.read())
            assert [(r.interface, r.direction, r.address) for r in records] == [
                (1, RECEIVED, 0x10),
                (1, SENT, 0x10),
            ]
            assert [r.packet for r in records] == [r[5] for r in capture.records()]
    assert outputs[0] == outputs[1]
    request, answer = outputs[0].splitlines()
    assert request == (
        "0.000000 link 1 in  0x10  ver 1 8->9 SOM EOM seq 0 TO=1 tag 1, 3 payload bytes, "
        "type 0x00  control Get Endpoint ID request iid 0"
    )
    assert answer == (
        "0.000000 link 1 out 0x10  ver 1 9->8 SOM EOM seq 0 TO=0 tag 1, 7 payload bytes, "
        "type 0x00  control Get Endpoint ID response iid 0 SUCCESS 09 00 00"
    )
