# The serial framing (mctp.serial.framing, DSP0253): golden frames byte for byte (checked
# against a reference framer written here from the specification, not with our codec), frames
# with escapes in the packet and flag bytes in the FCS, random packets against the reference,
# and pymctp's reading of our frames.

from endpoints import FakeClock, pattern
from test_serial_link import drops, feed, receiver, request, take
from testing import IS_MICROPYTHON, skip

from mctp.config import Config
from mctp.control.responder import ControlResponder
from mctp.core import Core
from mctp.core.core import SEND_OK
from mctp.core.packet import FLAG_TO, build_packets
from mctp.host.serial_pipe import SerialPipe
from mctp.serial import SerialLink, framing
from mctp.serial.framing import FCS_AFTER_REVISION, FCS_INIT, decode_frame, encode_frame


GET_EID_REQUEST = "7E 01 07 01 00 08 C8 00 80 02 2B C1 7E"
GET_EID_RESPONSE = "7E 01 0B 01 08 00 C0 00 00 02 00 00 01 00 25 40 7E"
ESCAPED_REQUEST = "7E 01 07 01 7D 5E 7D 5D C8 00 80 02 E4 C5 7E"


# A framer written from DSP0253's text, independent of mctp.serial.framing.


def reference_fcs(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc  # no final complement (RFC 1662 complements; DSP0253 does not)


def reference_frame(packet, count=None):
    count = len(packet) if count is None else count
    body = bytearray()
    for b in packet:
        if b in (0x7E, 0x7D):
            body += bytes((0x7D, b ^ 0x20))
        else:
            body.append(b)
    fcs = reference_fcs(bytes((0x01, count)) + bytes(packet))
    return b"\x7e\x01" + bytes((count,)) + bytes(body) + bytes((fcs >> 8, fcs & 0xFF, 0x7E))


def hex_bytes(text):
    return bytes.fromhex(text.replace(" ", ""))


def test_fcs_check_value_and_constants():
    assert framing.fcs16(b"123456789", 0, 9, FCS_INIT) == 0x6F91
    assert reference_fcs(b"123456789") == 0x6F91
    assert framing.fcs_byte(FCS_INIT, framing.REVISION) == FCS_AFTER_REVISION
    data = pattern(300, 5)
    assert framing.fcs16(data, 0, 300, FCS_INIT) == reference_fcs(data)
    assert framing.frame_size(64) == 142  # 68 bytes, every one escaped, and six of framing


def test_golden_frames_encode_and_decode():
    for text in (GET_EID_REQUEST, GET_EID_RESPONSE, ESCAPED_REQUEST):
        frame = hex_bytes(text)
        packet = decode_frame(frame)
        assert encode_frame(packet) == frame == reference_frame(packet)


def test_golden_get_eid_request_from_the_transmit_path():
    pipe = SerialPipe()
    core = Core(Config(), 8, FakeClock(0))
    link = core.add_link(SerialLink(pipe.a))
    core.add_route(0, 0, link)  # the endpoint has no EID yet
    core.open_flow(0, owner=1)  # tag 0
    assert core.send(0, FLAG_TO | 0, 0x00, b"\x80\x02", 0, 2) == SEND_OK
    assert take(pipe.b) == hex_bytes(GET_EID_REQUEST)


def test_golden_escaping_from_the_transmit_path():
    # EIDs 0x7E and 0x7D: the header's own bytes are escaped.
    pipe = SerialPipe()
    core = Core(Config(), 0x7D, FakeClock(0))
    core.add_route(0x7E, 0x7E, core.add_link(SerialLink(pipe.a)))
    core.open_flow(0x7E, owner=1)
    assert core.send(0x7E, FLAG_TO | 0, 0x00, b"\x80\x02", 0, 2) == SEND_OK
    assert take(pipe.b) == hex_bytes(ESCAPED_REQUEST)


def test_golden_get_eid_is_answered_with_the_golden_response():
    # An endpoint with a static EID and none at present, as in the I2C golden test.
    pipe, core, link, _ = receiver(eid=0)
    ControlResponder(core, bytes(16), static_eid=0x0A)
    core.set_eid(0)
    feed(pipe, core, hex_bytes(GET_EID_REQUEST))
    assert take(pipe.b) == hex_bytes(GET_EID_RESPONSE)
    assert link.counters.rx_frames == 1 and link.counters.tx_frames == 1


def test_golden_escaped_request_is_received():
    pipe, core, link, _ = receiver(eid=0x7E)
    responder = ControlResponder(core, bytes(16))
    feed(pipe, core, hex_bytes(ESCAPED_REQUEST))
    assert responder.counters.responses == 1
    answer = decode_frame(take(pipe.b))
    assert answer[:4] == bytes((0x01, 0x7D, 0x7E, 0xC0))  # to 0x7D, from 0x7E, tag 0
    assert drops(link) == {}


def _fcs_bytes(packet):
    crc = reference_fcs(bytes((0x01, len(packet))) + packet)
    return crc >> 8, crc & 0xFF


def test_flags_and_escapes_in_the_packet_and_in_the_fcs():
    # Packets whose payload holds 0x7E and 0x7D, found so that the FCS holds 0x7E or 0x7D in
    # its high and its low byte: the FCS goes unescaped, and the receiver, counting, takes it.
    wanted = {(0, 0x7E), (1, 0x7E), (0, 0x7D), (1, 0x7D)}
    found = {}
    k = 0
    while wanted - set(found) and k < 1 << 16:
        packet = request(k & 7, b"\x7e\x7d" + bytes((k & 0xFF, k >> 8)))
        high_low = _fcs_bytes(packet)
        for which in (0, 1):
            if (which, high_low[which]) in wanted and (which, high_low[which]) not in found:
                found[(which, high_low[which])] = packet
        k += 1
    assert set(found) == wanted
    pipe, core, link, sink = receiver()
    for key in sorted(found):
        packet = found[key]
        frame = encode_frame(packet)
        assert frame == reference_frame(packet)
        assert frame[-3 + key[0]] == key[1]  # in the FCS, raw
        assert frame.count(b"\x7d\x5e") == 1 + (packet[3] == 0x7E)
        feed(pipe, core, frame)
    assert [m[2] for m in sink.messages] == [found[key][5:] for key in sorted(found)]
    assert drops(link) == {}


def test_random_packets_against_the_reference_and_back():
    state = 11
    pipe, core, link, sink = receiver()
    sent = []
    frames = []
    for i in range(60):
        body = bytearray()
        for _ in range(1 + i % 63):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            body.append((0x7E, 0x7D, state >> 16 & 0xFF)[state % 3])
        packet = request(i & 7, bytes(body))
        frame = encode_frame(packet)
        assert frame == reference_frame(packet)
        assert decode_frame(frame) == packet
        sent.append(bytes(body))
        frames.append(frame)
    # The frames back to back, written in pieces of 1 to 37 bytes that fall anywhere, a poll
    # after each (taken frame by frame: the whole stream in one buffer is more than a board's
    # heap has in one piece by now).
    piece = 0
    for frame in frames:
        at = 0
        while at < len(frame):
            if not piece:
                state = (state * 1103515245 + 12345) & 0x7FFFFFFF
                piece = 1 + state % 37
            n = min(piece, len(frame) - at)
            pipe.b.write(frame[at : at + n])
            at += n
            piece -= n
            if not piece:
                core.poll()
    core.poll()
    assert [m[2] for m in sink.messages] == sent
    assert drops(link) == {} and link.counters.rx_frames == 60


def test_pymctp_dissects_our_frames_and_builds_frames_we_take():
    if IS_MICROPYTHON:
        skip("pymctp is CPython-only")
    from pymctp.layers.mctp import TransportHdrPacket  # noqa: PLC0415
    from pymctp.layers.mctp.transport import UartTransportPacket  # noqa: PLC0415

    # pymctp's UartTransport does not escape: frames without 0x7E or 0x7D in the packet only.
    message = bytes(b & 0x6F for b in pattern(200, 1))
    packets = build_packets(9, 8, FLAG_TO | 2, 0x01, message)
    pipe, core, _link, sink = receiver()
    for packet in packets:
        assert 0x7E not in packet and 0x7D not in packet
        ours = encode_frame(packet)
        theirs = UartTransportPacket(ours)
        assert theirs.protocol_rev == 1 and theirs.byte_count == len(packet)
        assert bytes(theirs.load) == packet
        built = bytes(UartTransportPacket(byte_count=len(packet), load=TransportHdrPacket(packet)))
        assert built == ours  # the same FCS, by crcmod's CRC-16/MCRF4XX
        feed(pipe, core, built)
    assert sink.messages == [(9, 2, message)]
