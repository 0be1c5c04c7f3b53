# The SPDM 1.2 responder (mctp/spdm/responder.py) behind the endpoint's service (firmware/spdm.py)
# over a whole stack on the loopback bus: a requester written here runs the attestation flow
# (VERSION, CAPABILITIES, ALGORITHMS, DIGESTS, CERTIFICATE in portions, CHALLENGE, MEASUREMENTS
# count, one, all signed) keeping its own transcripts as DSP0274 1.2 defines them; on CPython
# the third-party `cryptography` package verifies the chain and every signature against them,
# and pymctp's SPDM layers dissect every answer. Then the ERROR of each bad request, requests out
# of order that leave the transcripts intact, ResponseNotReady and RESPOND_IF_READY, control
# requests answered while a signature is computed, missing or bad provisioning, and a fuzz slice.
# The test key and chain are host_tests/spdm_test_chain.py's (a test key, public); the tests of
# the provisioned files write them into a temporary folder (skipped without a filesystem).

import hashlib

from endpoints import network
from spdm_test_chain import CHAIN, KEY, ROOT
from testing import IS_MICROPYTHON, skip

from firmware.spdm import SpdmService
from mctp import RecvMetadata
from mctp.constants import MSG_TYPE_CONTROL, MSG_TYPE_SPDM
from mctp.control.responder import ControlResponder
from mctp.spdm import messages as m
from mctp.spdm.certs import cert_chain, split_der
from mctp.spdm.measurements import firmware_measurements
from mctp.spdm.responder import Responder

GET_VERSION = bytes((0x10, 0x84, 0, 0))
# GET_CAPABILITIES 1.2: CTExponent 0, CERT_CAP | CHAL_CAP, DataTransferSize and MaxSPDMmsgSize
# 0x1200 (libspdm's requester's).
GET_CAPABILITIES = bytes.fromhex("12e10000 00000000 06000000 00120000 00120000")
# NEGOTIATE_ALGORITHMS 1.2 as spdm_requester_emu sends it for the minimal flow: DMTF measurement
# specification, opaque format 1, ECDSA P-256, SHA-256, and the four algorithm tables.
NEGOTIATE = (
    bytes.fromhex("12e30400 3000 01 02 10000000 01000000")
    + bytes(12)
    + bytes(4)
    + bytes.fromhex("02201000 03200200 04201000 05200100")
)


class Board:
    """A stand-in board_config for the configuration measurement."""

    I2C_ADDR = 0x1D
    EID = 9


def read(folder, name):
    with open(folder + "/" + name, "rb") as f:
        return f.read()


def write(folder, name, data):
    with open(folder + "/" + name, "wb") as f:
        f.write(data)


def temporary_folder():
    """A new empty folder (skip where there is no filesystem: the emulated boards)."""
    import os  # noqa: PLC0415

    if not IS_MICROPYTHON:
        import tempfile  # noqa: PLC0415

        return tempfile.mkdtemp(prefix="mctp-spdm-")
    raw = os.urandom(4) if hasattr(os, "urandom") else b"\x00\x00\x00\x00"
    folder = "/tmp/mctp-spdm-%02x%02x%02x%02x" % (raw[0], raw[1], raw[2], raw[3])
    try:
        os.mkdir(folder)
    except (OSError, AttributeError):
        skip("needs a filesystem")
    return folder


def remove_folder(folder):
    import os  # noqa: PLC0415

    for name in os.listdir(folder):
        os.remove(folder + "/" + name)
    os.rmdir(folder)


def fixed_responder(ct_exponent=20):
    """A Responder with the test chain and key (no files)."""
    return Responder(cert_chain(CHAIN), KEY, firmware_measurements(Board), ct_exponent)


class Rig:
    """Endpoint A (EID 8) with the SPDM service (and a control responder); endpoint B (EID 9)
    asks it. While B waits it runs this rig's poll: A takes in its packets, then the service
    does its part (one signature step at most)."""

    def __init__(self, folder=None, ct_exponent=20):
        self.a, self.b = network()
        self.control = ControlResponder(self.a.core, bytes(range(16)))
        self.service = SpdmService(
            self.a.stack,
            self.a.server,
            folder,
            config=Board,
            clock=self.a.clock,
            responder=None if folder else fixed_responder(ct_exponent),
            ct_exponent=ct_exponent,
        )
        self.b.others = [self.poll]
        self.req = self.b.stack.req(8, 5000)
        self.buf = bytearray(1100)
        self.meta = RecvMetadata()
        self.polls = 0

    def poll(self):
        self.polls += 1
        self.a.server.poll()
        self.service.poll()

    def send(self, message, msg_type=MSG_TYPE_SPDM):
        self.req.send(msg_type, bytes(message), False)

    def receive(self):
        length = self.req.recv_into(self.buf, self.meta)
        assert self.meta.remote_eid == 8 and not self.meta.msg_ic
        return bytes(self.buf[:length])

    def ask(self, message):
        self.send(message)
        return self.receive()


def assert_error(answer, code, data=0, version=m.VERSION_12):
    assert answer == bytes((version, m.ERROR, code, data)), (answer, code)


class Requester:
    """Runs the flow and keeps the transcripts DSP0274 1.2 defines: VCA, then M1 (VCA, DIGESTS
    and CERTIFICATE exchanges, CHALLENGE and CHALLENGE_AUTH less its signature) and L1 (VCA,
    then the MEASUREMENTS exchanges since the last signed one)."""

    def __init__(self, rig):
        self.rig = rig
        self.vca = b""
        self.b = b""
        self.l1 = b""
        self.answers = []  # every answer, for pymctp

    def ask(self, request):
        answer = self.rig.ask(request)
        self.answers.append(answer)
        return answer

    def connect(self):
        versions = self.ask(GET_VERSION)
        self.vca = GET_VERSION + versions
        capabilities = self.ask(GET_CAPABILITIES)
        algorithms = self.ask(NEGOTIATE)
        self.vca += GET_CAPABILITIES + capabilities + NEGOTIATE + algorithms
        self.b = self.l1 = b""
        return versions, capabilities, algorithms

    def digests(self):
        request = bytes((0x12, m.GET_DIGESTS, 0, 0))
        answer = self.ask(request)
        self.b += request + answer
        self.l1 = b""
        return answer

    def certificate(self):
        """The SPDM CertChain of slot 0, a portion at a time (asking for 0x11F8 bytes each
        time as libspdm does); and the portions' lengths."""
        chain = b""
        portions = []
        while True:
            request = bytes((0x12, m.GET_CERTIFICATE, 0, 0)) + len(chain).to_bytes(2, "little")
            request += (0x11F8).to_bytes(2, "little")
            answer = self.ask(request)
            assert answer[:4] == bytes((0x12, m.CERTIFICATE, 0, 0)), answer[:8]
            portion = int.from_bytes(answer[4:6], "little")
            remainder = int.from_bytes(answer[6:8], "little")
            assert len(answer) == 8 + portion
            self.b += request + answer
            self.l1 = b""
            chain += answer[8:]
            portions.append(portion)
            if not remainder:
                return chain, portions

    def challenge(self, summary=m.SUMMARY_ALL):
        """CHALLENGE_AUTH and the hash of M1 its signature covers."""
        request = bytes((0x12, m.CHALLENGE, 0, summary)) + bytes(range(32))
        answer = self.ask(request)
        transcript = hashlib.sha256(self.vca + self.b + request + answer[:-64]).digest()
        self.b = self.l1 = b""
        return answer, transcript

    def measurements(self, operation, signed=False, raw=False):
        """MEASUREMENTS and, when signed, the hash of L1 its signature covers."""
        attributes = (m.SIGNATURE_REQUESTED if signed else 0) | (
            m.RAW_BIT_STREAM_REQUESTED if raw else 0
        )
        request = bytes((0x12, m.GET_MEASUREMENTS, attributes, operation))
        if signed:
            request += bytes(range(100, 132)) + b"\x00"
        answer = self.ask(request)
        self.b = b""
        if not signed:
            self.l1 += request + answer
            return answer, None
        transcript = hashlib.sha256(self.vca + self.l1 + request + answer[:-64]).digest()
        self.l1 = b""
        return answer, transcript


def verify(answer, context, transcript, chain_der=None):
    """Verify the signature at the end of `answer` over the 1.2 signing context and
    `transcript` with the leaf's key, by `cryptography` (CPython only)."""
    if IS_MICROPYTHON:
        return
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.utils import (  # noqa: PLC0415
        encode_dss_signature,
    )

    leaf = x509.load_der_x509_certificate(split_der(chain_der or CHAIN)[-1])
    signature = encode_dss_signature(
        int.from_bytes(answer[-64:-32], "big"), int.from_bytes(answer[-32:], "big")
    )
    message = m.SIGNING_PREFIX + bytes(36 - len(context)) + context + transcript
    leaf.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))


def verify_chain(der, root):
    """Each certificate signed by the one before it, the first self-signed and `root`."""
    if IS_MICROPYTHON:
        return
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    certs = [x509.load_der_x509_certificate(c) for c in split_der(der)]
    assert split_der(der)[0] == root
    issuer = certs[0]
    for cert in certs:
        issuer.public_key().verify(
            cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
        )
        issuer = cert
    leaf = certs[-1]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [oid.dotted_string for oid in eku] == ["1.3.6.1.4.1.412.274.3"]


def dissect(answers):
    """pymctp's SPDM layers read every answer as the message it is (CPython only)."""
    if IS_MICROPYTHON:
        return
    from pymctp.layers.mctp.spdm.spdm import SpdmHdrPacket  # noqa: PLC0415

    names = {
        m.VERSION: "VersionPacket",
        m.CAPABILITIES: "CapabilitiesPacket",
        m.ALGORITHMS: "AlgorithmsPacket",
        m.DIGESTS: "DigestsPacket",
        m.CERTIFICATE: "CertificatePacket",
        m.CHALLENGE_AUTH: "ChallengeAuthPacket",
        m.MEASUREMENTS: "MeasurementsPacket",
    }
    for answer in answers:
        packet = SpdmHdrPacket(answer)
        assert packet.request_response_code == answer[1]
        assert type(packet.payload).__name__ == names[answer[1]], packet.show(dump=True)
        if answer[1] == m.CERTIFICATE:
            assert packet.payload.portion_length == len(answer) - 8
        if answer[1] == m.CAPABILITIES:
            assert packet.payload.data_transfer_size == 1023
        if answer[1] == m.ALGORITHMS:
            assert packet.payload.base_asym_sel == m.ASYM_ECDSA_P256
            assert packet.payload.measurement_hash_algo == m.MEASUREMENT_HASH_SHA_256
        if answer[1] == m.MEASUREMENTS:
            assert packet.payload.number_of_blocks == answer[4]
            # pymctp reads MeasurementRecordLength as a big-endian ThreeBytesField, where
            # DSP0274 has it little endian (as every SPDM field): its bytes, read back.
            length = packet.payload.measurement_record_length.to_bytes(3, "big")
            assert length == answer[5:8]


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


def test_response_not_ready_then_respond_if_ready():
    # A CT time of 2^10 us: half of it (the service's deadline) is 0 ms, so the first poll
    # after CHALLENGE answers ResponseNotReady; the requester asks again with its token
    # until the signature, computed across the polls meanwhile, is done.
    rig = Rig(ct_exponent=10)
    requester = Requester(rig)
    capabilities = requester.connect()[1]
    assert capabilities[5] == 10
    request = bytes((0x12, m.CHALLENGE, 0, 0)) + bytes(range(32))
    answer = rig.ask(request)
    assert answer[:4] == bytes((0x12, m.ERROR, m.RESPONSE_NOT_READY, 0))
    assert answer[4] == 10 and answer[5] == m.CHALLENGE and answer[7] == 4
    assert_error(
        rig.ask(bytes((0x12, m.RESPOND_IF_READY, m.CHALLENGE, (answer[6] + 1) & 0xFF))),
        m.INVALID_REQUEST,
    )  # the wrong token
    tries = 0
    while answer[1] == m.ERROR:
        answer = rig.ask(bytes((0x12, m.RESPOND_IF_READY, m.CHALLENGE, answer[6])))
        tries += 1
        assert tries < 40
    transcript = hashlib.sha256(requester.vca + request + answer[:-64]).digest()
    verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript)
    assert rig.service.counters.not_ready >= 1
    # Another request while one is pending abandons it.
    rig.ask(request)
    assert rig.ask(bytes((0x12, m.GET_DIGESTS, 0, 0)))[1] == m.DIGESTS
    assert rig.service.counters.abandoned == 1
    assert rig.service.responder.signer is None


def test_control_requests_are_answered_while_a_signature_is_computed():
    # The service does one Signer step per poll: a Get Endpoint ID sent while the CHALLENGE's
    # signature is under way is answered within 2 polls of the stack, the signature still
    # unfinished; then the CHALLENGE_AUTH comes, and verifies.
    rig = Rig()
    requester = Requester(rig)
    requester.connect()
    request = bytes((0x12, m.CHALLENGE, 0, 0)) + bytes(range(32))
    rig.send(request)
    rig.poll()  # the request taken: a signature begins
    rig.poll()  # its first step
    signer = rig.service.responder.signer
    assert signer is not None and not signer.s
    control = rig.b.stack.req(8, 100)
    control.send(MSG_TYPE_CONTROL, b"\x80\x02", False)  # Get Endpoint ID
    before = rig.polls
    buf = bytearray(16)
    length = control.recv_into(buf, RecvMetadata())
    assert bytes(buf[:length])[:4] == b"\x00\x02\x00\x08"  # completion 0, EID 8
    assert rig.polls - before <= 2
    assert not signer.s  # still signing
    answer = rig.receive()
    verify(
        answer,
        m.CHALLENGE_AUTH_CONTEXT,
        hashlib.sha256(requester.vca + request + answer[:-64]).digest(),
    )
    control.close()


def test_the_endpoint_reports_type_5_only_with_spdm_on():
    from endpoints import FakeClock, firmware_app  # noqa: PLC0415

    from mctp.host.i2c_sim import SimBus  # noqa: PLC0415

    app = firmware_app(SimBus(), FakeClock())
    assert not app.control._supported(MSG_TYPE_SPDM)
    assert app.spdm is None and "spdm" not in app.counters()
    service = app.serve_spdm("/nowhere", Board)  # (on, if only to answer ERRORs)
    assert app.control._supported(MSG_TYPE_SPDM)
    assert app.spdm is service and app.counters()["spdm"] is service.counters
    assert service.poll in app.services
    assert service.problem.startswith("SPDM answers ERROR Unspecified: cannot read /nowhere/")
    app.remove_service(service)
    assert not app.control._supported(MSG_TYPE_SPDM)


def test_missing_or_bad_files_answer_unspecified_and_say_why():
    folder = temporary_folder()
    try:
        rig = Rig(folder=folder)
        problem = rig.service.problem
        assert problem.startswith(
            "SPDM answers ERROR Unspecified: cannot read %s/device.key" % folder
        ), problem
        assert problem.endswith("provision it with tools/spdm_provision.py"), problem
        assert_error(rig.ask(GET_VERSION), m.UNSPECIFIED, 0, m.VERSION_10)
        assert_error(rig.ask(GET_CAPABILITIES), m.UNSPECIFIED)
        assert rig.service.counters.unprovisioned == 2
        write(folder, "device.key", bytes(31))
        write(folder, "chain.der", CHAIN)
        problem = Rig(folder=folder).service.problem
        assert problem.endswith(
            "device.key is 31 bytes, must be 32 (the raw P-256 private scalar, big endian)"
        ), problem
        write(folder, "device.key", bytes(31) + b"\x01")  # a valid scalar, not the leaf's
        problem = Rig(folder=folder).service.problem
        assert problem.endswith(
            "the device key is not the key of the leaf certificate (the last one)"
        ), problem
        write(folder, "device.key", KEY)
        write(folder, "chain.der", CHAIN[:-5])  # a truncated leaf
        problem = Rig(folder=folder).service.problem
        assert problem.endswith(
            "certificate 3 (at byte 847 of 1331) is not a whole DER SEQUENCE"
        ), problem
        write(folder, "chain.der", CHAIN)
        rig = Rig(folder=folder)
        assert rig.service.problem is None
        assert rig.service.responder.chain == cert_chain(CHAIN)
        assert rig.ask(GET_VERSION)[1] == m.VERSION
    finally:
        remove_folder(folder)


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


def test_provisioning_makes_a_chain_libspdm_takes():
    if IS_MICROPYTHON:
        skip("tools/spdm_provision.py needs cryptography (CPython)")
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(os.path.dirname(here), "tools"))
    try:
        import spdm_provision  # noqa: PLC0415
    finally:
        sys.path.pop(0)
    with tempfile.TemporaryDirectory() as folder:
        paths = spdm_provision.write(folder, "test")
        assert [os.path.basename(p) for p in paths] == ["root.der", "chain.der", "device.key"]
        assert os.stat(paths[2]).st_mode & 0o777 == 0o600
        verify_chain(read(folder, "chain.der"), read(folder, "root.der"))
        rig = Rig(folder=folder)
        requester = Requester(rig)
        requester.connect()
        requester.digests()
        requester.certificate()
        answer, transcript = requester.challenge()
        verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript, read(folder, "chain.der"))
        assert rig.service.problem is None
