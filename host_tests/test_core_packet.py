# The transport header (mctp.core.packet): the packets a sender builds for a message, and the
# one-line reading of a packet that traces and tools print.

from mctp.core.packet import BASELINE_MTU, FLAG_TO, build_packets, describe


def test_a_message_is_cut_at_the_mtu_with_som_eom_and_a_sequence_that_wraps():
    payload = bytes(range(200))
    packets = build_packets(9, 8, FLAG_TO | 3, 0x01, payload, mtu=40, first_seq=2)
    # the type byte and 200 payload bytes: 201 bytes in 40-byte pieces
    assert [len(p) - 4 for p in packets] == [40, 40, 40, 40, 40, 1]
    assert [p[3] for p in packets] == [0xAB, 0x3B, 0x0B, 0x1B, 0x2B, 0x7B]
    assert all(p[:3] == b"\x01\x08\x09" for p in packets)
    assert b"".join(p[4:] for p in packets) == b"\x01" + payload
    # one packet, both SOM and EOM, at the baseline MTU
    [single] = build_packets(9, 8, 0, 0x7E, bytes(BASELINE_MTU - 1))
    assert single[3] == 0xC0 and len(single) == 4 + BASELINE_MTU


def test_a_packet_is_read_in_one_line():
    [first, last] = build_packets(9, 8, FLAG_TO | 5, 0x80 | 0x7E, bytes(70))
    buf = b"\xee" + first + b"\xee"
    assert describe(buf, 1, len(first)) == (
        "ver 1 9->8 SOM seq 0 TO=1 tag 5, 64 payload bytes, type 0x7e IC"
    )
    assert describe(last, 0, len(last)) == "ver 1 9->8 EOM seq 1 TO=1 tag 5, 7 payload bytes"
    assert describe(b"\x01\x08", 0, 2) == "short packet (2 bytes)"
