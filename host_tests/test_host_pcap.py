# Captures (mctp.host.pcap): what a firmware endpoint's links receive and send while a bus
# owner enumerates it and exchanges a 1 KiB echo, written as a pcap file (LINUX_SLL2, the
# format of the kernel's MCTP captures) and read back; the links' own paths back once the
# capture stops; run_endpoint.py --pcap and mctp_trace.py on a capture; tshark where it has
# the MCTP dissector.

import io
import sys

from endpoints import Endpoint, FakeClock, pattern
from testing import IS_MICROPYTHON, raises, skip

from firmware.endpoint import EndpointApp
from mctp.control.bus_owner import BusOwner
from mctp.host.i2c_sim import SimBus
from mctp.host.pcap import RECEIVED, SENT, PcapWriter, read_pcap
from mctp._compat import ticks_ms
from mctp.i2c import I2CLink

UUID = bytes(range(16))
START_NS = 1700000000123456789  # the injected clock's first reading


class StepClock:
    """Nanoseconds since the epoch, a millisecond more at each reading."""

    def __init__(self):
        self.now = START_NS

    def __call__(self):
        now = self.now
        self.now += 1000000
        return now


def _captured_session():
    # A firmware endpoint at 0x1D with a capture on; a bus owner at 0x10 enumerates it (EID
    # 10) and sends it a 1 KiB echo request (1023 bytes, the most a message carries). The
    # capture's bytes, the endpoint and its link.
    if IS_MICROPYTHON and sys.platform != "linux":
        skip("a capture's wrappers take more C stack than a Pico-sized board has (docs/host.md)")
    bus = SimBus()
    app = EndpointApp(bus.controller(), bus.target(0x1D), 0x1D, uuid=UUID)
    out = io.BytesIO()
    capture = PcapWriter(out, clock=StepClock())
    capture.attach(app.core)
    owner = Endpoint(bus, I2CLink(bus.controller(), bus.target(0x10), 0x10), 0x10, 8, FakeClock())
    owner.others.append(app.poll)
    peer = BusOwner(owner.core, owner.stack, owner.link).enumerate(0x1D)
    assert peer.eid == 10
    request = b"\xff\xff" + pattern(1021)
    with owner.stack.req(10, 100) as channel:
        channel.send(0x7E, request)
        assert channel.recv()[1] == request
    capture.detach()
    return out.getvalue(), app, capture


def _expected_headers():
    # Each packet's transport header, with its direction: the enumeration (Get EID, Set EID,
    # message types, vendor message support, UUID), each request answered at once, then the
    # echo's 16 packets in and 16 out (the type byte and 1023 bytes, 64 a packet), tag 5.
    enumeration = []
    # (Set Endpoint ID goes to EID 0, and is answered from the EID it sets.)
    for tag, dest, src in ((0, 0, 0), (1, 0, 10), (2, 10, 10), (3, 10, 10), (4, 10, 10)):
        enumeration.append((RECEIVED, "01%02x08%02x" % (dest, 0xC8 | tag)))
        enumeration.append((SENT, "0108%02x%02x" % (src, 0xC0 | tag)))
    seq = [0x10 * (i % 4) for i in range(16)]
    som_eom = [0x80] + [0] * 14 + [0x40]
    echo_in = [(RECEIVED, "010a08%02x" % (som_eom[i] | seq[i] | 0x0D)) for i in range(16)]
    echo_out = [(SENT, "01080a%02x" % (som_eom[i] | seq[i] | 0x05)) for i in range(16)]
    return enumeration + echo_in + echo_out


def test_a_capture_holds_every_packet_in_order_in_the_kernels_format():
    data, app, capture = _captured_session()
    # The global header: magic (microseconds), version 2.4, zone 0, accuracy 0, snaplen 65535,
    # link type 276 (LINUX_SLL2).
    assert data[:24] == bytes.fromhex("d4c3b2a1 0200 0400 00000000 00000000 ffff0000 14010000")
    # The first record: 1700000000 s 123456 us, 27 bytes; SLL2: protocol 0x00FA, interface 1,
    # ARPHRD_MCTP (290), received (0), a 1-byte address: 0x10; the Get Endpoint ID request.
    assert data[24:67] == bytes.fromhex(
        "00f15365 40e20100 1b000000 1b000000"
        "00fa 0000 00000001 0122 00 01 1000000000000000"
        "01 00 08 c8 00 80 02"
    )
    records = read_pcap(data)
    counters = app.core.counters
    assert capture.packets == len(records) == counters.rx_packets + counters.tx_packets
    assert [r.time for r in records[:2]] == [1700000000.123456, 1700000000.124456]
    assert {(r.interface, r.address) for r in records} == {(1, 0x10)}
    assert [(r.direction, r.packet[:4].hex()) for r in records] == _expected_headers()
    assert records[10].packet[4:7] == b"\x7e\xff\xff"  # the type byte, the vendor ID


def test_a_detached_capture_gives_the_links_their_own_paths_back():
    _, app, capture = _captured_session()
    link = app.link
    assert "poll" not in link.__dict__ and "transmit" not in link.__dict__
    assert link.poll.__func__ is I2CLink.poll if not IS_MICROPYTHON else True
    with raises(ValueError) as caught:
        capture.watch(app.core, link, 1)
        capture.watch(app.core, link, 2)
    assert str(caught.value) == "the link is watched already (interface 1)"
    capture.detach()


def test_bad_records_and_files_are_refused_with_what_and_where():
    capture = PcapWriter(io.BytesIO(), clock=StepClock())
    with raises(ValueError) as caught:
        capture.record(1, 1, b"\x01\x00\x08\xc8\x00", 0, 5)
    assert str(caught.value) == "direction must be RECEIVED (0) or SENT (4), not 1"
    with raises(ValueError) as caught:
        capture.record(SENT, 1, bytearray(8), 4, 5)
    assert str(caught.value) == "the packet at 4, 5 bytes, is outside the 8-byte buffer"
    cases = (
        (b"\xd4\xc3\xb2", "not a pcap file: 3 bytes, shorter than its 24-byte header"),
        (bytes(24), "not a pcap file: magic 0x00000000"),
        (
            bytes.fromhex("d4c3b2a1 0200 0400") + bytes(12) + b"\x01\x00\x00\x00",
            "link type 1 is not one with MCTP packets (LINUX_SLL2 276, LINUX_SLL 113, MCTP 291)",
        ),
    )
    for data, words in cases:
        with raises(ValueError) as caught:
            read_pcap(data)
        assert str(caught.value) == words
    out = io.BytesIO()
    PcapWriter(out, clock=StepClock()).record(SENT, 2, b"\x01\x09\x08\xc0\x00", 0, 5)
    data = out.getvalue()
    with raises(ValueError) as caught:
        read_pcap(data[:-1])
    assert str(caught.value) == "the record at byte 24 is cut short: 25 bytes kept"
    (record,) = read_pcap(data)  # a serial line's: no address
    assert (record.interface, record.direction, record.address) == (2, SENT, None)
    assert record.packet == b"\x01\x09\x08\xc0\x00"


def test_mctp_trace_decodes_a_capture_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    tools = _tools()
    micropython = os.path.join(os.path.dirname(sys.executable), "micropython")
    data, _, _ = _captured_session()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "capture.pcap")
        with open(path, "wb") as file:
            file.write(data)
        outputs = []
        for interpreter in (sys.executable, micropython):
            done = subprocess.run(
                [interpreter, os.path.join(tools, "mctp_trace.py"), "--pcap", path],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    assert len(lines) == 42
    assert lines[0] == (
        "0.000000 link 1 in  0x10  ver 1 8->0 SOM EOM seq 0 TO=1 tag 0, 3 payload bytes, "
        "type 0x00  control Get Endpoint ID request iid 0"
    )
    assert lines[1].startswith("0.001000 link 1 out 0x10  ver 1 0->8 SOM EOM seq 0 TO=0 tag 0")


def _enumerated_over_udp(interpreter, path):
    # run_endpoint.py under `interpreter` with --pcap `path` on the UDP bus; a bus owner here
    # enumerates it and exchanges a 1 KiB echo; the endpoint stopped (SIGINT). Its output.
    import signal  # noqa: PLC0415

    from endpoint_process import EndpointProcess  # noqa: PLC0415

    from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415

    target = UdpI2CTarget(0x10, 0)
    i2c = UdpI2C()
    options = ["--i2c-udp", "0:%d" % target.port, "--uuid", UUID.hex(), "--pcap", path]
    endpoint = EndpointProcess(interpreter, options)
    try:
        assert ", capture %s, " % path in endpoint.ready
        i2c.connect(endpoint.port)
        owner = Endpoint(None, I2CLink(i2c, target, 0x10), 0x10, 8, ticks_ms)
        assert BusOwner(owner.core, owner.stack, owner.link).enumerate(0x1D).eid == 10
        request = b"\xff\xff" + pattern(1021)
        with owner.stack.req(10, 2000) as channel:
            channel.send(0x7E, request)
            assert channel.recv()[1] == request
    finally:
        assert endpoint.stop(signal.SIGINT) == 0, endpoint.output
        i2c.close()
        target.close()
    return endpoint.output


def test_run_endpoint_captures_its_links_traffic_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    sys.path.insert(0, _tools())
    from endpoint_process import micropython_command  # noqa: PLC0415

    for interpreter in (sys.executable, micropython_command()):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "capture.pcap")
            output = _enumerated_over_udp(interpreter, path)
            with open(path, "rb") as file:
                records = read_pcap(file.read())
        assert "Traceback" not in output
        headers = [(r.direction, r.packet[:4].hex()) for r in records]
        assert headers == _expected_headers(), interpreter
        assert {(r.interface, r.address) for r in records} == {(1, 0x10)}
        times = [r.time for r in records]
        assert times == sorted(times)


def _tools():
    import os  # noqa: PLC0415

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")


def test_tshark_dissects_a_capture_as_mctp():
    if IS_MICROPYTHON:
        skip("starts processes")
    import os  # noqa: PLC0415
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    tshark = shutil.which("tshark")
    if tshark is None:
        skip("no tshark here (Wireshark 4.2 or later dissects MCTP; CI does without)")
    fields = subprocess.run(
        [tshark, "-G", "fields"], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    if "\tmctp.src\t" not in fields:
        skip("this tshark has no MCTP dissector (Wireshark 4.2 and later have one)")
    data, _, _ = _captured_session()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "capture.pcap")
        with open(path, "wb") as file:
            file.write(data)
        fields = ("sll.ifindex", "sll.pkttype", "mctp.src", "mctp.dst")
        command = [tshark, "-r", path, "-T", "fields"]
        for field in fields:
            command += ["-e", field]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    wanted = []
    for direction, header in _expected_headers():
        kind = "4" if direction == SENT else "0"
        wanted.append(["1", kind, str(int(header[4:6], 16)), str(int(header[2:4], 16))])
    assert rows == wanted
