# The IPC wire codec: openprot-mctp-api's wire tests, its byte vectors, and the input
# checks and allocation discipline this project adds.
#
# (Over ~450 lines: one test per operation of the codec, both ways, beside the contract's
# byte vectors.)

from testing import heap_locked, raises

from mctp import ops, wire
from mctp.constants import MAX_PAYLOAD_SIZE
from mctp.errors import ResponseCode
from mctp.wire import WireError

H = wire.WIRE_HEADER_SIZE


def hexbytes(text):
    return bytes.fromhex(text)


def encoded(encoder, *args):
    buf = bytearray(wire.MAX_REQUEST_SIZE)
    n = encoder(buf, *args)
    return bytes(buf[:n])


def wire_error_kind(call):
    with raises(WireError) as caught:
        call()
    return caught.value.kind


# The byte vectors of openprot-mctp-api's wire tests, reproduced exactly.


def test_vector_recv_request():
    assert encoded(wire.encode_recv, 7, 5000) == hexbytes(
        "04 02 00 00 07 00 00 00 00 00 00 00 88 13 00 00"
    )


def test_vector_send_with_handle_eid_tag_ic():
    assert encoded(wire.encode_send, 5, 1, 8, 3, True, b"hello") == hexbytes(
        "05 0F 01 08 05 00 00 00 03 00 00 00 68 65 6C 6C 6F"
    )


def test_vector_send_without_handle_eid_tag():
    assert encoded(wire.encode_send, None, 1, None, None, False, b"data") == hexbytes(
        "05 00 01 00 FF FF FF FF 00 00 00 00 64 61 74 61"
    )


def test_vector_error_response_no_space():
    assert encoded(wire.encode_error_response, ResponseCode.NO_SPACE) == b"\x02" + bytes(11)


def test_vector_recv_response():
    assert encoded(wire.encode_recv_response, 1, False, 42, 5, b"echo data") == (
        hexbytes("00 00 01 2A 00 00 00 00 09 00 05 00") + b"echo data"
    )


# Header round trips.


def test_request_header_round_trip():
    buf = bytearray(32)
    n = wire.encode_send(buf, 0x1234, 1, 42, 7, True, b"")
    hdr = wire.decode_request_header(buf, n)
    assert hdr.op == ops.OP_SEND
    assert hdr.flags == wire.FLAG_IC | wire.FLAG_HAS_HANDLE | wire.FLAG_HAS_EID | wire.FLAG_HAS_TAG
    assert (hdr.msg_type, hdr.eid, hdr.handle, hdr.tag) == (1, 42, 0x1234, 7)
    assert hdr.ic() and hdr.has_handle() and hdr.has_eid() and hdr.has_tag()


def test_response_header_round_trip():
    buf = bytearray(64)
    n = wire.encode_recv_response(buf, 1, True, 8, 3, bytes(16))
    hdr = wire.decode_response_header(buf, n)
    assert hdr.is_success()
    assert hdr.msg_ic()
    assert (hdr.msg_type, hdr.eid, hdr.payload_len, hdr.tag, hdr.handle) == (1, 8, 16, 3, 0)


def test_decoders_refill_a_caller_owned_header():
    buf = bytearray(16)
    hdr = wire.MctpRequestHeader()
    wire.encode_req(buf, 9)
    assert wire.decode_request_header(buf, None, hdr) is hdr
    assert (hdr.op, hdr.eid) == (ops.OP_REQ, 9)
    wire.encode_listener(buf, 5)
    wire.decode_request_header(buf, None, hdr)
    assert (hdr.op, hdr.msg_type, hdr.eid) == (ops.OP_LISTENER, 5, 0)


def test_the_servers_unchecked_codec_steps_give_what_the_checked_ones_do():
    # A server checks a request with request_problem first and encodes received messages'
    # values it produced: the unchecked steps give the same header and bytes.
    buf = bytearray(32)
    n = wire.encode_send(buf, 0x1234, 1, 42, 7, True, b"")
    checked = wire.decode_request_header(buf, n)
    hdr = wire.decode_request_header_unchecked(buf, wire.MctpRequestHeader())
    fields = ("op", "flags", "msg_type", "eid", "handle", "tag")
    assert [getattr(hdr, f) for f in fields] == [getattr(checked, f) for f in fields]
    one = bytearray(b"\xaa" * 40)
    other = bytearray(b"\xaa" * 40)
    for ic in (True, False):
        assert wire.encode_recv_header(one, 1, ic, 8, 3, 16) == 28
        assert wire.encode_recv_header_unchecked(other, 1, ic, 8, 3, 16) == 28
        assert one == other


# Every request encoder.


def test_encode_set_eid():
    assert encoded(wire.encode_set_eid, 0x2A) == hexbytes("00 00 00 2A 00 00 00 00 00 00 00 00")


def test_encode_get_eid():
    assert encoded(wire.encode_get_eid) == hexbytes("01 00 00 00 00 00 00 00 00 00 00 00")


def test_encode_listener():
    assert encoded(wire.encode_listener, 0x05) == hexbytes("02 00 05 00 00 00 00 00 00 00 00 00")


def test_encode_req():
    assert encoded(wire.encode_req, 0x09) == hexbytes("03 00 00 09 00 00 00 00 00 00 00 00")


def test_encode_recv_round_trip():
    buf = bytearray(32)
    n = wire.encode_recv(buf, 7, 5000)
    assert n == H + wire.RECV_TRAILER_SIZE
    hdr = wire.decode_request_header(buf, n)
    assert (hdr.op, hdr.handle) == (ops.OP_RECV, 7)
    assert hdr.has_handle()
    assert wire.decode_recv_timeout(buf, n) == 5000


def test_encode_send_round_trip():
    buf = bytearray(64)
    n = wire.encode_send(buf, 5, 1, 8, 3, True, b"hello")
    hdr = wire.decode_request_header(buf, n)
    assert (hdr.op, hdr.msg_type, hdr.eid, hdr.handle, hdr.tag) == (ops.OP_SEND, 1, 8, 5, 3)
    assert bytes(wire.get_request_payload(buf, n)) == b"hello"


def test_encode_send_absent_fields_decode_as_no_handle():
    buf = bytearray(64)
    n = wire.encode_send(buf, None, 1, None, None, False, b"x")
    hdr = wire.decode_request_header(buf, n)
    assert hdr.handle == wire.NO_HANDLE
    assert not (hdr.has_handle() or hdr.has_eid() or hdr.has_tag() or hdr.ic())


def test_encode_unbind():
    assert encoded(wire.encode_unbind, 0x01020304) == hexbytes(
        "06 02 00 00 04 03 02 01 00 00 00 00"
    )


def test_encode_large_u32_fields():
    # The top bits of a u32 survive (handles carry the server epoch in their high bits).
    buf = bytearray(16)
    n = wire.encode_recv(buf, 0xFEDCBA98, 0xFFFFFFFF)
    assert bytes(buf[:n]) == hexbytes("04 02 00 00 98 BA DC FE 00 00 00 00 FF FF FF FF")
    assert wire.decode_request_header(buf, n).handle == 0xFEDCBA98
    assert wire.decode_recv_timeout(buf, n) == 0xFFFFFFFF


# Every response encoder.


def test_encode_success_response():
    assert encoded(wire.encode_success_response) == bytes(12)


def test_encode_get_eid_response():
    buf = bytearray(12)
    wire.encode_get_eid_response(buf, 8)
    assert bytes(buf) == hexbytes("00 00 00 08 00 00 00 00 00 00 00 00")
    assert wire.decode_response_header(buf).eid == 8


def test_encode_handle_response():
    buf = bytearray(12)
    wire.encode_handle_response(buf, 9)
    assert bytes(buf) == hexbytes("00 00 00 00 09 00 00 00 00 00 00 00")
    assert wire.decode_response_header(buf).handle == 9


def test_encode_send_response():
    buf = bytearray(12)
    wire.encode_send_response(buf, 6)
    assert bytes(buf) == hexbytes("00 00 00 00 00 00 00 00 00 00 06 00")
    assert wire.decode_response_header(buf).tag == 6


def test_error_response_decodes_to_its_code():
    buf = bytearray(16)
    n = wire.encode_error_response(buf, ResponseCode.NO_SPACE)
    assert n == H
    hdr = wire.decode_response_header(buf, n)
    assert not hdr.is_success()
    assert hdr.response_code() == ResponseCode.NO_SPACE


def test_every_error_code_round_trips():
    buf = bytearray(12)
    for code in range(7):
        wire.encode_error_response(buf, code)
        assert wire.decode_response_header(buf).response_code() == code


def test_unknown_response_code_decodes_as_internal_error():
    buf = bytearray(12)
    buf[0] = 0x42
    hdr = wire.decode_response_header(buf)
    assert hdr.code == 0x42
    assert hdr.response_code() == ResponseCode.INTERNAL_ERROR


def test_error_response_with_unknown_code_is_refused():
    with raises(ValueError):
        wire.encode_error_response(bytearray(12), 7)


def test_recv_response_with_payload():
    buf = bytearray(64)
    n = wire.encode_recv_response(buf, 1, False, 42, 5, b"echo data")
    hdr = wire.decode_response_header(buf, n)
    assert hdr.is_success()
    assert (hdr.msg_type, hdr.eid, hdr.tag, hdr.payload_len) == (1, 42, 5, 9)
    assert bytes(wire.get_response_payload(buf, hdr, n)) == b"echo data"
    assert wire.response_payload_len(hdr, n) == 9


def test_max_payload_round_trips():
    payload = bytes(i & 0xFF for i in range(MAX_PAYLOAD_SIZE))
    req = bytearray(wire.MAX_REQUEST_SIZE)
    n = wire.encode_send(req, 1, 1, None, None, False, payload)
    assert n == wire.MAX_REQUEST_SIZE
    assert bytes(wire.get_request_payload(req, n)) == payload
    resp = bytearray(wire.MAX_RESPONSE_SIZE)
    n = wire.encode_recv_response(resp, 1, False, 9, 0, payload)
    assert n == wire.MAX_RESPONSE_SIZE
    hdr = wire.decode_response_header(resp, n)
    assert bytes(wire.get_response_payload(resp, hdr, n)) == payload


# Limits and errors.


def test_send_payload_too_large():
    oversized = bytes(MAX_PAYLOAD_SIZE + 1)
    buf = bytearray(2048)
    kind = wire_error_kind(lambda: wire.encode_send(buf, None, 1, None, None, False, oversized))
    assert kind == WireError.PAYLOAD_TOO_LARGE


def test_recv_response_payload_too_large():
    oversized = bytes(MAX_PAYLOAD_SIZE + 1)
    buf = bytearray(2048)
    kind = wire_error_kind(lambda: wire.encode_recv_response(buf, 1, False, 8, 0, oversized))
    assert kind == WireError.PAYLOAD_TOO_LARGE


def test_buffer_too_small_for_each_encoder():
    small = bytearray(H - 1)
    calls = (
        lambda: wire.encode_set_eid(small, 8),
        lambda: wire.encode_get_eid(small),
        lambda: wire.encode_listener(small, 1),
        lambda: wire.encode_req(small, 8),
        lambda: wire.encode_unbind(small, 1),
        lambda: wire.encode_success_response(small),
        lambda: wire.encode_error_response(small, ResponseCode.NO_SPACE),
        lambda: wire.encode_get_eid_response(small, 8),
        lambda: wire.encode_handle_response(small, 1),
        lambda: wire.encode_send_response(small, 1),
    )
    for call in calls:
        with raises(WireError) as caught:
            call()
        assert caught.value.kind == WireError.BUFFER_TOO_SMALL
        assert caught.value.detail == H
    # The recv trailer and payloads need room too, not just the header.
    header_only = bytearray(H)
    for call, need in (
        (lambda: wire.encode_recv(header_only, 1, 0), H + 4),
        (lambda: wire.encode_send(header_only, 1, 1, None, None, False, b"ab"), H + 2),
        (lambda: wire.encode_recv_response(header_only, 1, False, 8, 0, b"abc"), H + 3),
    ):
        with raises(WireError) as caught:
            call()
        assert (caught.value.kind, caught.value.detail) == (WireError.BUFFER_TOO_SMALL, need)


def test_buffer_too_small_leaves_the_buffer_untouched():
    buf = bytearray(b"\xaa" * 13)
    with raises(WireError):
        wire.encode_send(buf, 1, 1, None, None, False, b"ab")
    assert buf == bytearray(b"\xaa" * 13)


def test_truncated_request_header():
    for length in (0, 2, H - 1):
        kind = wire_error_kind(lambda: wire.decode_request_header(bytes(length)))
        assert kind == WireError.TRUNCATED
    # The valid length may be smaller than the buffer holding the message.
    kind = wire_error_kind(lambda: wire.decode_request_header(bytearray(64), 11))
    assert kind == WireError.TRUNCATED


def test_truncated_response_header():
    for length in (0, 1, H - 1):
        kind = wire_error_kind(lambda: wire.decode_response_header(bytes(length)))
        assert kind == WireError.TRUNCATED


def test_request_payload_empty_and_non_empty():
    buf = bytearray(64)
    n = wire.encode_get_eid(buf)
    assert len(wire.get_request_payload(buf, n)) == 0
    assert wire.request_payload_len(buf, n) == 0
    n = wire.encode_send(buf, 1, 1, None, None, False, b"abc")
    assert bytes(wire.get_request_payload(buf, n)) == b"abc"
    assert wire.request_payload_len(buf, n) == 3


def test_request_payload_over_the_limit_is_refused():
    buf = bytearray(H + MAX_PAYLOAD_SIZE + 1)
    buf[0] = ops.OP_SEND
    kind = wire_error_kind(lambda: wire.request_payload_len(buf))
    assert kind == WireError.PAYLOAD_TOO_LARGE


def test_response_payload_truncated():
    buf = bytearray(64)
    n = wire.encode_recv_response(buf, 1, False, 42, 5, b"echo data")
    hdr = wire.decode_response_header(buf, n)
    kind = wire_error_kind(lambda: wire.get_response_payload(buf, hdr, n - 1))
    assert kind == WireError.TRUNCATED
    kind = wire_error_kind(lambda: wire.get_response_payload(bytes(buf[: n - 1]), hdr))
    assert kind == WireError.TRUNCATED


def test_response_payload_length_over_the_limit_is_refused():
    buf = bytearray(2048)
    buf[8] = 0x00
    buf[9] = 0x04  # payload_len 1024
    hdr = wire.decode_response_header(buf)
    kind = wire_error_kind(lambda: wire.get_response_payload(buf, hdr))
    assert kind == WireError.PAYLOAD_TOO_LARGE


def test_unknown_op():
    for op in (7, 0x80, 0xFF):
        buf = bytearray(H)
        buf[0] = op
        with raises(WireError) as caught:
            wire.decode_request_header(buf)
        assert (caught.value.kind, caught.value.detail) == (WireError.INVALID_OPCODE, op)


def test_recv_without_trailer_means_forever():
    buf = bytearray(16)
    wire.encode_recv(buf, 7, 5000)
    assert wire.decode_recv_timeout(buf, H) == 0


def test_recv_with_a_partial_trailer_is_truncated():
    buf = bytearray(16)
    wire.encode_recv(buf, 7, 5000)
    for length in (H + 1, H + 3):
        kind = wire_error_kind(lambda: wire.decode_recv_timeout(buf, length))
        assert kind == WireError.TRUNCATED


def test_field_values_outside_their_width_are_refused():
    buf = bytearray(64)
    for call in (
        lambda: wire.encode_set_eid(buf, 256),
        lambda: wire.encode_req(buf, -1),
        lambda: wire.encode_listener(buf, 300),
        lambda: wire.encode_send(buf, 1, 256, None, None, False, b""),
        lambda: wire.encode_send(buf, 1, 1, 256, None, False, b""),
        lambda: wire.encode_send(buf, 1, 1, None, 256, False, b""),
        lambda: wire.encode_send(buf, 1 << 32, 1, None, None, False, b""),
        lambda: wire.encode_recv(buf, -1, 0),
        lambda: wire.encode_recv(buf, 1, 1 << 32),
        lambda: wire.encode_unbind(buf, 1 << 32),
        lambda: wire.encode_recv_response(buf, 1, False, 8, 8 << 5, b""),
        lambda: wire.encode_get_eid_response(buf, 256),
        lambda: wire.encode_handle_response(buf, -1),
        lambda: wire.encode_send_response(buf, 256),
    ):
        with raises(ValueError):
            call()


def test_wire_error_messages_are_readable():
    assert str(WireError(WireError.BUFFER_TOO_SMALL, 16)) == "buffer too small: 16 bytes needed"
    assert str(WireError(WireError.PAYLOAD_TOO_LARGE, 1024)) == (
        "payload too large: 1024 bytes (max 1023)"
    )
    assert str(WireError(WireError.INVALID_OPCODE, 0xFF)) == "unknown op 0xff"
    assert str(WireError(WireError.TRUNCATED, 2)) == "truncated message: 2 bytes"
    assert isinstance(WireError(WireError.TRUNCATED, 2), ValueError)


# Allocation discipline: the codec runs with the heap locked on MicroPython.


def _codec_round(req, resp, payload, rq, rs, results):
    # A plain function, not a closure: calling a closure over more than five variables
    # allocates on MicroPython.
    results[0] = wire.encode_send(req, 5, 1, 8, 3, True, payload)
    wire.decode_request_header(req, results[0], rq)
    results[1] = wire.request_payload_len(req, results[0])
    results[2] = wire.encode_send(req, None, 1, 9, 2, False, payload)
    wire.decode_request_header(req, results[2], rq)
    results[3] = rq.handle is wire.NO_HANDLE
    results[4] = wire.encode_recv(req, 7, 5000)
    results[5] = wire.decode_recv_timeout(req, results[4])
    results[6] = wire.encode_recv_response(resp, 1, False, 42, 5, payload)
    wire.decode_response_header(resp, results[6], rs)
    results[7] = wire.response_payload_len(rs, results[6])
    results[8] = wire.encode_error_response(resp, ResponseCode.TIMED_OUT)
    results[9] = wire.encode_handle_response(resp, 9)
    results[10] = wire.encode_unbind(req, 9)
    results[11] = wire.encode_set_eid(req, 8) + wire.encode_get_eid(req)


def test_encode_and_decode_allocate_nothing():
    req = bytearray(wire.MAX_REQUEST_SIZE)
    resp = bytearray(wire.MAX_RESPONSE_SIZE)
    payload = bytearray(b"\x01" * 64)
    rq = wire.MctpRequestHeader()
    rs = wire.MctpResponseHeader()
    results = [0] * 12
    _codec_round(req, resp, payload, rq, rs, results)  # warm up
    results[:] = [0] * 12
    with heap_locked():
        _codec_round(req, resp, payload, rq, rs, results)
    assert results == [76, 64, 76, True, 16, 5000, 76, 64, 12, 12, 12, 24]


def test_the_contracts_rust_names_are_there():
    # A user porting from openprot-mctp-api finds the Rust names (docs/contract.md).
    assert (wire.MctpOp.SET_EID, wire.MctpOp.GET_EID, wire.MctpOp.LISTENER) == (0, 1, 2)
    assert (wire.MctpOp.REQ, wire.MctpOp.RECV, wire.MctpOp.SEND, wire.MctpOp.UNBIND) == (
        3,
        4,
        5,
        6,
    )
    assert (wire.flags.IC, wire.flags.HAS_HANDLE, wire.flags.HAS_EID, wire.flags.HAS_TAG) == (
        1,
        2,
        4,
        8,
    )
    buf = bytearray(64)
    n = wire.encode_send(buf, 5, 1, 8, 3, True, b"hello")
    hdr = wire.decode_request_header(buf, n)
    assert isinstance(hdr, wire.MctpRequestHeader) and hdr.op == wire.MctpOp.SEND
    assert bytes(wire.get_request_payload(buf, n)) == b"hello"
    n = wire.encode_recv_response(buf, 1, False, 42, 5, b"echo data")
    rhdr = wire.decode_response_header(buf, n)
    assert isinstance(rhdr, wire.MctpResponseHeader)
    assert bytes(wire.get_response_payload(buf, rhdr, n)) == b"echo data"
