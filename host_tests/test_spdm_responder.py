# The SPDM 1.2 responder (mctp/spdm/responder.py, and the codes of mctp/spdm/messages.py byte for
# byte in its answers) behind the endpoint's service over a whole stack (spdm_requester.py): the
# attestation flow (VERSION, CAPABILITIES, ALGORITHMS, DIGESTS, CERTIFICATE in portions,
# CHALLENGE, MEASUREMENTS count, one, all signed) with the requester's own transcripts, the chain
# and every signature verified by `cryptography` and every answer dissected by pymctp (CPython);
# the ERROR of each bad request; requests out of order that leave the transcripts intact; a fuzz
# slice.

import hashlib

from spdm_requester import (
    GET_CAPABILITIES,
    GET_VERSION,
    NEGOTIATE,
    Requester,
    Rig,
    assert_error,
    dissect,
    verify,
    verify_chain,
)
from spdm_test_chain import CHAIN, ROOT
from testing import IS_MICROPYTHON

from mctp.spdm import messages as m
from mctp.spdm.certs import cert_chain, split_der


def test_the_whole_flow_signed_and_verified():
    rig = Rig()
    requester = Requester(rig)
    versions, capabilities, algorithms = requester.connect()
    assert versions == bytes.fromhex("10040000 0001 0012")  # 1.2 only
    assert capabilities == bytes.fromhex("12610000 00140000 16000000 ff030000 ff030000")
    assert algorithms[:4] == bytes((0x12, m.ALGORITHMS, 4, 0)) and len(algorithms) == 52
    assert algorithms[4:20] == bytes.fromhex("3400 01 02 02000000 10000000 01000000")
    assert algorithms[36:] == bytes.fromhex("02200000 03200000 04200000 05200000")

    chain_der = CHAIN
    chain = cert_chain(chain_der)
    digests = requester.digests()
    assert digests == bytes((0x12, m.DIGESTS, 0, 1)) + hashlib.sha256(chain).digest()
    got, portions = requester.certificate()
    assert got == chain and portions == [1015, len(chain) - 1015]
    assert int.from_bytes(got[:2], "little") == len(got)
    assert got[4:36] == hashlib.sha256(split_der(chain_der)[0]).digest()
    verify_chain(got[36:], ROOT)

    answer, transcript = requester.challenge()
    assert len(answer) == 4 + 32 + 32 + 32 + 2 + 64
    assert answer[:4] == bytes((0x12, m.CHALLENGE_AUTH, 0, 1))
    assert answer[4:36] == hashlib.sha256(chain).digest()
    assert answer[68:100] == rig.service.responder.measurements.summary(False)
    verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript)

    count, _ = requester.measurements(m.MEASUREMENT_COUNT)
    assert count[:8] == bytes((0x12, m.MEASUREMENTS, 3, 0, 0, 0, 0, 0))
    one, _ = requester.measurements(1, raw=True)
    assert one[4] == 1 and one[8] == 1 and one[9] == m.MEASUREMENT_SPEC_DMTF
    assert one[12] == 0x86  # a raw bit stream: the firmware's version, as text
    assert one[15 : 15 + one[13]].startswith(b"micropython" if IS_MICROPYTHON else b"cpython")
    answer, transcript = requester.measurements(m.MEASUREMENT_ALL, signed=True)
    record = int.from_bytes(answer[5:8], "little")
    assert answer[4] == 3 and len(answer) == 8 + record + 32 + 2 + 64
    assert [answer[8], answer[8 + 39], answer[8 + 78]] == [1, 2, 3]  # three digest blocks
    verify(answer, m.MEASUREMENTS_CONTEXT, transcript)

    # The flow again, as libspdm's requester goes on: DIGESTS, CERTIFICATE, a challenge.
    requester.digests()
    requester.certificate()
    answer, transcript = requester.challenge(m.SUMMARY_NONE)
    assert len(answer) == 4 + 32 + 32 + 2 + 64
    verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript)
    dissect(requester.answers)
    counters = rig.service.counters
    assert (counters.signatures, counters.not_ready, counters.errors) == (3, 0, 0)
    assert counters.responses == counters.requests == len(requester.answers)


def test_each_bad_request_gets_its_error():
    rig = Rig()
    # Before GET_VERSION, nothing but GET_VERSION.
    assert_error(rig.ask(GET_CAPABILITIES), m.UNEXPECTED_REQUEST)
    assert_error(rig.ask(bytes((0x12, m.GET_DIGESTS, 0, 0))), m.UNEXPECTED_REQUEST)
    assert_error(rig.ask(bytes((0x12, 0x84, 0, 0))), m.VERSION_MISMATCH, 0, m.VERSION_10)
    assert_error(rig.ask(b"\x10\x84"), m.INVALID_REQUEST)  # shorter than a header
    assert rig.ask(GET_VERSION)[1] == m.VERSION
    assert_error(rig.ask(NEGOTIATE), m.UNEXPECTED_REQUEST)  # capabilities first
    assert_error(rig.ask(GET_CAPABILITIES[:12]), m.INVALID_REQUEST)  # a 1.1-sized request
    assert_error(rig.ask(b"\x11" + GET_CAPABILITIES[1:]), m.VERSION_MISMATCH)
    small = bytearray(GET_CAPABILITIES)
    small[12:16] = (41).to_bytes(4, "little")  # DataTransferSize below 42
    assert_error(rig.ask(small), m.INVALID_REQUEST)
    assert rig.ask(GET_CAPABILITIES)[1] == m.CAPABILITIES
    assert_error(rig.ask(GET_CAPABILITIES), m.UNEXPECTED_REQUEST)  # once per connection
    no_p256 = bytearray(NEGOTIATE)
    no_p256[8] = 0x80  # P-384 only
    assert_error(rig.ask(no_p256), m.INVALID_REQUEST)
    no_sha256 = bytearray(NEGOTIATE)
    no_sha256[12] = 0x02  # SHA-384 only
    assert_error(rig.ask(no_sha256), m.INVALID_REQUEST)
    assert_error(rig.ask(NEGOTIATE[:40]), m.INVALID_REQUEST)  # Length says 48
    unordered = bytearray(NEGOTIATE)
    unordered[32], unordered[36] = 3, 2  # the tables' types must increase
    assert_error(rig.ask(unordered), m.INVALID_REQUEST)
    assert rig.ask(NEGOTIATE)[1] == m.ALGORITHMS
    # Negotiated: the requests of the flow, malformed.
    assert_error(rig.ask(bytes((0x12, 0xE4, 0, 0))), m.UNSUPPORTED_REQUEST, 0xE4)  # KEY_EXCHANGE
    assert_error(rig.ask(bytes((0x13, m.GET_DIGESTS, 0, 0))), m.VERSION_MISMATCH)
    certificate = bytes((0x12, m.GET_CERTIFICATE, 0, 0, 0, 0, 0x10, 0))
    assert_error(rig.ask(certificate[:6]), m.INVALID_REQUEST)  # truncated
    assert_error(rig.ask(b"\x12\x82\x01\x00" + certificate[4:]), m.INVALID_REQUEST)  # slot 1
    assert_error(rig.ask(certificate[:4] + b"\xff\x0f" + certificate[6:]), m.INVALID_REQUEST)
    challenge = bytes((0x12, m.CHALLENGE, 0, 0)) + bytes(32)
    assert_error(rig.ask(challenge[:35]), m.INVALID_REQUEST)
    assert_error(rig.ask(b"\x12\x83\x00\x02" + challenge[4:]), m.INVALID_REQUEST)  # summary 2
    assert_error(rig.ask(b"\x12\x83\xff\x00" + challenge[4:]), m.INVALID_REQUEST)  # no raw key
    assert_error(rig.ask(bytes((0x12, m.GET_MEASUREMENTS, 0, 9))), m.INVALID_REQUEST)
    signed = bytes((0x12, m.GET_MEASUREMENTS, 1, 0xFF)) + bytes(33)
    assert_error(rig.ask(signed[:36]), m.INVALID_REQUEST)  # no SlotIDParam
    assert_error(rig.ask(signed[:36] + b"\x02"), m.INVALID_REQUEST)  # slot 2
    assert_error(rig.ask(bytes((0x12, m.RESPOND_IF_READY, 0x83, 1))), m.UNEXPECTED_REQUEST)
    assert (rig.service.counters.requests, rig.service.counters.errors) == (28, 25)


def test_requests_out_of_order_leave_the_transcripts_intact():
    # Errors between the messages of the transcripts: the signatures still verify against
    # the requester's transcripts, which hold only the answered requests.
    rig = Rig()
    requester = Requester(rig)
    requester.connect()
    requester.digests()
    assert_error(rig.ask(GET_CAPABILITIES), m.UNEXPECTED_REQUEST)
    assert_error(rig.ask(bytes((0x12, m.GET_CERTIFICATE, 3, 0, 0, 0, 1, 0))), m.INVALID_REQUEST)
    requester.certificate()
    assert_error(rig.ask(bytes((0x12, 0xE4, 0, 0))), m.UNSUPPORTED_REQUEST, 0xE4)
    answer, transcript = requester.challenge(m.SUMMARY_TCB)
    verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript)
    requester.measurements(2)
    assert_error(rig.ask(bytes((0x12, m.GET_MEASUREMENTS, 0, 7))), m.INVALID_REQUEST)
    answer, transcript = requester.measurements(3, signed=True)
    verify(answer, m.MEASUREMENTS_CONTEXT, transcript)
    # GET_VERSION starts the connection again: new transcripts.
    requester.connect()
    answer, transcript = requester.challenge()
    verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript)


def test_a_fuzz_slice_never_stops_the_endpoint():
    # Random requests (codes of the flow and others, random lengths and bytes) at every state
    # of the connection: each gets one answer, an ERROR with a code of the spec's or an answer
    # of the request's own code; the endpoint answers the real flow afterwards.
    import random  # noqa: PLC0415

    random.seed(27)
    rig = Rig()
    requester = Requester(rig)
    codes = (0x81, 0x82, 0x83, 0x84, 0xE0, 0xE1, 0xE3, 0xFF, 0xE4, 0x01, 0x7F, 0x00)
    errors = set(m.ERROR_NAMES) | {0x0D}
    answers = {0x81: 0x01, 0x82: 0x02, 0x83: 0x03, 0x84: 0x04, 0xE0: 0x60, 0xE1: 0x61, 0xE3: 0x63}
    for round_ in range(60):
        if round_ % 20 == 0:
            requester.connect()
        length = random.getrandbits(6)
        message = bytearray(random.getrandbits(8) for _ in range(length))
        if length > 1:
            message[1] = codes[random.getrandbits(8) % len(codes)]
            message[0] = (0x12, 0x10, 0x11)[random.getrandbits(8) % 3]
        message[2:4] = bytes(min(2, max(0, length - 2)))  # slot 0, no signature: fast
        answer = rig.ask(message)
        if answer[1] == m.ERROR:
            assert answer[2] in errors, (bytes(message), answer)
        else:
            assert answer[1] == answers[message[1]], (bytes(message), answer)
    requester.connect()
    answer, transcript = requester.challenge()
    verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript)
    assert rig.a.core.counters.tag_expired == 0
