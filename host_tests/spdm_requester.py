# The SPDM tests' requester and rig (test_spdm_responder.py, test_firmware_spdm.py): endpoint A
# with the SPDM service (firmware/spdm.py) and a control responder, endpoint B asking it over a
# whole stack on the loopback bus; a requester that keeps its own transcripts as DSP0274 1.2
# defines them; and, on CPython, the third-party checks: `cryptography` verifies the chain and
# the signatures, pymctp's SPDM layers dissect the answers. The test key and chain are
# spdm_test_chain.py's (a test key, public).

import hashlib

from endpoints import network
from spdm_test_chain import CHAIN, KEY
from testing import IS_MICROPYTHON, skip

from firmware.spdm import SpdmService
from mctp import RecvMetadata
from mctp.constants import MSG_TYPE_SPDM
from mctp.control.responder import ControlResponder
from mctp.spdm import messages as m
from mctp.spdm.certs import cert_chain, split_der
from mctp.spdm.measurements import firmware_measurements
from mctp.spdm.responder import Responder

GET_VERSION = bytes((0x10, 0x84, 0, 0))
# GET_CAPABILITIES 1.2: CTExponent 0, CERT_CAP | CHAL_CAP, DataTransferSize and MaxSPDMmsgSize
# 0x1200 (libspdm's requester's).
GET_CAPABILITIES = bytes.fromhex("12e10000 00000000 06000000 00120000 00120000")
GET_CAPABILITIES_11 = bytes.fromhex("11e10000 00000000 06000000")  # 1.1: 12 bytes
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
    does its part (one signature step at most). `wake`: the service's flag for the stack task
    (one with set())."""

    def __init__(self, folder=None, ct_exponent=20, wake=None):
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
            wake=wake,
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
    then the MEASUREMENTS exchanges since the last signed one); with `version` 0x11, SPDM
    1.1's, whose L1 has no VCA."""

    def __init__(self, rig, version=m.VERSION_12):
        self.rig = rig
        self.version = version
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
        get_capabilities = GET_CAPABILITIES
        negotiate = NEGOTIATE
        if self.version == m.VERSION_11:
            get_capabilities = GET_CAPABILITIES_11
            negotiate = b"\x11" + NEGOTIATE[1:7] + b"\x00" + NEGOTIATE[8:]  # (no opaque format)
        capabilities = self.ask(get_capabilities)
        algorithms = self.ask(negotiate)
        self.vca += get_capabilities + capabilities + negotiate + algorithms
        self.b = self.l1 = b""
        return versions, capabilities, algorithms

    def digests(self):
        request = bytes((self.version, m.GET_DIGESTS, 0, 0))
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
            request = bytes((self.version, m.GET_CERTIFICATE, 0, 0))
            request += len(chain).to_bytes(2, "little")
            request += (0x11F8).to_bytes(2, "little")
            answer = self.ask(request)
            assert answer[:4] == bytes((self.version, m.CERTIFICATE, 0, 0)), answer[:8]
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
        request = bytes((self.version, m.CHALLENGE, 0, summary)) + bytes(range(32))
        answer = self.ask(request)
        transcript = hashlib.sha256(self.vca + self.b + request + answer[:-64]).digest()
        self.b = self.l1 = b""
        return answer, transcript

    def measurements(self, operation, signed=False, raw=False):
        """MEASUREMENTS and, when signed, the hash of L1 its signature covers."""
        attributes = (m.SIGNATURE_REQUESTED if signed else 0) | (
            m.RAW_BIT_STREAM_REQUESTED if raw else 0
        )
        request = bytes((self.version, m.GET_MEASUREMENTS, attributes, operation))
        if signed:
            request += bytes(range(100, 132)) + b"\x00"
        answer = self.ask(request)
        self.b = b""
        if not signed:
            self.l1 += request + answer
            return answer, None
        vca = self.vca if self.version == m.VERSION_12 else b""
        transcript = hashlib.sha256(vca + self.l1 + request + answer[:-64]).digest()
        self.l1 = b""
        return answer, transcript


def verify(answer, context, transcript, chain_der=None):
    """Verify the signature at the end of `answer` with the leaf's key, by `cryptography`
    (CPython only): SPDM 1.2's over the signing context and `transcript` (the transcript's
    hash), SPDM 1.1's over `transcript` itself, as the digest ECDSA signs."""
    if IS_MICROPYTHON:
        return
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.utils import (  # noqa: PLC0415
        Prehashed,
        encode_dss_signature,
    )

    leaf = x509.load_der_x509_certificate(split_der(chain_der or CHAIN)[-1])
    signature = encode_dss_signature(
        int.from_bytes(answer[-64:-32], "big"), int.from_bytes(answer[-32:], "big")
    )
    if answer[0] == m.VERSION_11:
        leaf.public_key().verify(signature, transcript, ec.ECDSA(Prehashed(hashes.SHA256())))
        return
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
        if answer[1] == m.CAPABILITIES and answer[0] == m.VERSION_12:
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
