# The SPDM responder (DMTF DSP0274 1.2, and 1.1): the connection's state machine, its transcripts
# and its answers, transport-free: respond() takes one request and leaves the answer in `out`.
#
# Answered: GET_VERSION (1.1 and 1.2; GET_CAPABILITIES's version picks one), GET_CAPABILITIES (CERT_CAP, CHAL_CAP, MEAS_CAP with
# signatures), NEGOTIATE_ALGORITHMS (ECDSA P-256, SHA-256, the DMTF measurement specification
# with SHA-256), GET_DIGESTS and GET_CERTIFICATE (slot 0), CHALLENGE, GET_MEASUREMENTS and
# RESPOND_IF_READY; anything else gets ERROR UnsupportedRequest, a request out of its order
# UnexpectedRequest, a request of another version VersionMismatch, a malformed or truncated one
# or one asking for what is not there InvalidRequest (libspdm's responder's choices).
#
# Transcripts, bounded (DSP0274 1.2 "Transcript and transcript hash calculation rules"):
#   VCA: GET_VERSION .. ALGORITHMS, kept as bytes (at most VCA_MAX = 256: every request has a
#        bounded length, NEGOTIATE_ALGORITHMS at most 128 bytes);
#   M1:  VCA, then GET_DIGESTS / DIGESTS, GET_CERTIFICATE / CERTIFICATE, CHALLENGE and
#        CHALLENGE_AUTH less its signature: a running SHA-256, started from VCA at its first
#        message, finished when CHALLENGE_AUTH is signed;
#   L1:  VCA (SPDM 1.2; not in 1.1), then the GET_MEASUREMENTS / MEASUREMENTS since the last
#        signed one: another running SHA-256.
# GET_VERSION resets them all; a GET_MEASUREMENTS resets M1 and any other request resets L1
# (as libspdm does on both sides); a request that gets an ERROR changes none of them. RAM: the
# VCA buffer (256 bytes), two hash objects (about 100 bytes each on MicroPython), the answer
# buffer (1023 bytes) and, while one is computed, a signature's state (ecdsa.Signer: a few
# hundred bytes of big ints).
#
# A signed answer (CHALLENGE_AUTH, a signed MEASUREMENTS) is not computed here at once:
# respond() returns PENDING with the answer less its signature in `out` and a Signer in
# `signer`, which the caller steps (firmware/spdm.py does, one step per poll, so the endpoint
# stays on the bus), then finish() appends the signature. Should the caller answer
# ResponseNotReady meanwhile (not_ready()), the requester's RESPOND_IF_READY gets the signed
# answer once it is done, or ResponseNotReady again.

from hashlib import sha256

from mctp._compat import const

from . import messages as m
from .ecdsa import Signer

PENDING = const(-1)  # respond()'s answer when a signature is still to be computed
MAX_MESSAGE = const(1023)  # an MCTP message of the stack, after its type byte
VCA_MAX = const(256)
CT_EXPONENT = const(20)  # 2^20 us (1.05 s): the signing time promised (firmware/spdm.py)
RDTM = const(4)  # ResponseNotReady's multiplier: the requester may ask again until 4 x RDT

# Connection states.
NOT_STARTED = const(0)
AFTER_VERSION = const(1)
AFTER_CAPABILITIES = const(2)
NEGOTIATED = const(3)


# The platform's random source, found once: a failed import each answer cost a port without
# os.urandom (the emulated boards') 230,000 Cortex-M0 instructions a nonce.
try:
    from os import urandom as _urandom
except ImportError:
    _urandom = None
    from random import getrandbits


def random_nonce():
    """32 bytes from the platform's random source (os.urandom, or random on a port without
    it): a nonce must not repeat, it need not be secret."""
    if _urandom is not None:
        return _urandom(m.NONCE_SIZE)
    return bytes(getrandbits(8) for _ in range(m.NONCE_SIZE))


class Responder:
    """An SPDM 1.2 (and 1.1) responder with the SPDM CertChain `chain` in slot 0
    (mctp.spdm.certs), the 32-byte private key of its leaf, and `measurements`
    (mctp.spdm.measurements). respond() answers one request: the answer's length in `out`, or
    PENDING; `version` is the connection's."""

    def __init__(self, chain, private_key, measurements, ct_exponent=CT_EXPONENT, nonce=None):
        if not 0 <= ct_exponent <= 31:
            raise ValueError("ct_exponent is %r, must be 0..31 (2^n us)" % (ct_exponent,))
        self.chain = chain
        self.chain_digest = sha256(chain).digest()
        self._key = private_key
        self.measurements = measurements
        self.ct_exponent = ct_exponent
        self._nonce = nonce or random_nonce
        self.rsp = bytearray(MAX_MESSAGE)
        self._short = bytearray(8)  # ERROR answers: a pending answer in rsp stays intact
        self.out = self.rsp
        self._vca = bytearray(VCA_MAX)
        self.signer = None  # the signature being computed for the answer in rsp
        self._pending_code = 0  # the request it answers
        self._pending_len = 0  # the answer's length less its signature
        self._not_ready = False  # ResponseNotReady sent for it
        self._token = 0
        self._reset()

    def _reset(self):
        self.state = NOT_STARTED
        self.version = m.VERSION_12  # the connection's, once GET_CAPABILITIES chose it
        self._vca_len = 0
        self._m1 = None
        self._l1 = None
        self._peer_size = MAX_MESSAGE
        self._measuring = False  # the DMTF measurement specification negotiated
        self.signer = None
        self._not_ready = False

    # -- the entry points ------------------------------------------------------------------

    def respond(self, req, length):
        """Answer the request req[:length]: the answer's length (in `out`), or PENDING."""
        self.out = self.rsp
        if length < m.HEADER_SIZE:
            return self._error(m.INVALID_REQUEST)
        code = req[1]
        if code == m.RESPOND_IF_READY:
            return self._respond_if_ready(req)
        self.signer = None  # another request: a signature still owed is abandoned
        self._not_ready = False
        if code == m.GET_VERSION:
            return self._get_version(req)
        problem = self._order_problem(req[0])
        if problem:
            return self._error(problem)
        if code == m.GET_CAPABILITIES:
            return self._get_capabilities(req, length)
        if code == m.NEGOTIATE_ALGORITHMS:
            return self._negotiate(req, length)
        if code not in (m.GET_DIGESTS, m.GET_CERTIFICATE, m.CHALLENGE, m.GET_MEASUREMENTS):
            return self._error(m.UNSUPPORTED_REQUEST, code)
        if self.state != NEGOTIATED:
            return self._error(m.UNEXPECTED_REQUEST)
        if code == m.GET_DIGESTS:
            return self._get_digests(req)
        if code == m.GET_CERTIFICATE:
            return self._get_certificate(req, length)
        if code == m.CHALLENGE:
            return self._challenge(req, length)
        return self._get_measurements(req, length)

    def _order_problem(self, version):
        # The error of a request (other than GET_VERSION) in this state and of this version,
        # or 0. Before GET_CAPABILITIES chose the connection's version, either one is taken.
        if self.state == NOT_STARTED:
            return m.UNEXPECTED_REQUEST
        if self.state == AFTER_VERSION:
            if version != m.VERSION_11 and version != m.VERSION_12:
                return m.VERSION_MISMATCH
        elif version != self.version:
            return m.VERSION_MISMATCH
        return 0

    def finish(self):
        """The pending answer with its signature (the Signer is done); its length."""
        at = self._pending_len
        self.rsp[at : at + m.SIGNATURE_SIZE] = self.signer.raw()
        self.signer = None
        self._not_ready = False
        self.out = self.rsp
        return at + m.SIGNATURE_SIZE

    def not_ready(self):
        """ERROR ResponseNotReady for the pending answer (its extended data: RDTExponent,
        the request code, a token, RDTM); its length."""
        self._token = (self._token + 1) & 0xFF
        self._not_ready = True
        out = self._short
        m.error(out, self.version, m.RESPONSE_NOT_READY)
        out[4] = self.ct_exponent
        out[5] = self._pending_code
        out[6] = self._token
        out[7] = RDTM
        self.out = out
        return 8

    # -- the requests ------------------------------------------------------------------------

    def _error(self, code, data=0, version=0):
        self.out = self._short
        return m.error(self._short, version or self.version, code, data)

    def _respond_if_ready(self, req):
        if req[0] != self.version:
            return self._error(m.VERSION_MISMATCH)
        if self.signer is None or not self._not_ready:
            return self._error(m.UNEXPECTED_REQUEST)
        if req[2] != self._pending_code or req[3] != self._token:
            return self._error(m.INVALID_REQUEST)
        if self.signer.s:
            return self.finish()
        return self.not_ready()

    def _vca_add(self, data):
        self._vca[self._vca_len : self._vca_len + len(data)] = data
        self._vca_len += len(data)

    def _get_version(self, req):
        if req[0] != m.VERSION_10:
            return self._error(m.VERSION_MISMATCH, 0, m.VERSION_10)
        self._reset()
        rsp = self.rsp
        m.header(rsp, m.VERSION_10, m.VERSION)
        rsp[4] = 0  # reserved
        rsp[5] = 2  # VersionNumberEntryCount
        m.put16(rsp, 6, 0x1100)  # 1.1, update 0, alpha 0
        m.put16(rsp, 8, 0x1200)  # 1.2
        self._vca_add(req[: m.HEADER_SIZE])
        self._vca_add(rsp[:10])
        self.state = AFTER_VERSION
        return 10

    def _get_capabilities(self, req, length):
        if self.state != AFTER_VERSION:
            return self._error(m.UNEXPECTED_REQUEST)
        version = req[0]
        size = m.GET_CAPABILITIES_SIZE if version == m.VERSION_12 else m.GET_CAPABILITIES_SIZE_11
        if length < size or req[5] > 31:
            return self._error(m.INVALID_REQUEST, 0, version)
        transfer = MAX_MESSAGE
        if version == m.VERSION_12:
            transfer = m.get32(req, 12)
            if transfer < m.MIN_DATA_TRANSFER_SIZE or m.get32(req, 16) < transfer:
                return self._error(m.INVALID_REQUEST, 0, version)
        self.version = version
        self._peer_size = min(transfer, MAX_MESSAGE)
        rsp = self.rsp
        rsp[:size] = bytes(size)
        m.header(rsp, version, m.CAPABILITIES)
        rsp[5] = self.ct_exponent
        m.put32(rsp, 8, m.RESPONDER_FLAGS)
        if version == m.VERSION_12:
            m.put32(rsp, 12, MAX_MESSAGE)  # DataTransferSize
            m.put32(rsp, 16, MAX_MESSAGE)  # MaxSPDMmsgSize: no chunking
        self._vca_add(req[:size])
        self._vca_add(rsp[:size])
        self.state = AFTER_CAPABILITIES
        return size

    def _negotiate(self, req, length):
        if self.state != AFTER_CAPABILITIES:
            return self._error(m.UNEXPECTED_REQUEST)
        size = self._negotiate_size(req, length)
        opaque = req[7] & 0x0F if self.version == m.VERSION_12 else 0  # (1.1: reserved)
        if size < 0 or opaque > m.OPAQUE_FORMAT_1:
            return self._error(m.INVALID_REQUEST)
        spec = req[6]
        if not m.get32(req, 8) & m.ASYM_ECDSA_P256 or not m.get32(req, 12) & m.HASH_SHA_256:
            return self._error(m.INVALID_REQUEST)  # no algorithm in common
        if spec and not spec & m.MEASUREMENT_SPEC_DMTF:
            return self._error(m.INVALID_REQUEST)
        tables = req[2]
        answer = m.ALGORITHMS_FIXED_SIZE + 4 * tables
        rsp = self.rsp
        rsp[:answer] = bytes(answer)
        m.header(rsp, self.version, m.ALGORITHMS, tables)
        m.put16(rsp, 4, answer)
        self._measuring = spec != 0
        if self._measuring:
            rsp[6] = m.MEASUREMENT_SPEC_DMTF
            m.put32(rsp, 8, m.MEASUREMENT_HASH_SHA_256)
        rsp[7] = (
            m.OPAQUE_FORMAT_1
            if opaque & m.OPAQUE_FORMAT_1
            else (m.OPAQUE_FORMAT_0 if opaque & m.OPAQUE_FORMAT_0 else 0)
        )
        m.put32(rsp, 12, m.ASYM_ECDSA_P256)
        m.put32(rsp, 16, m.HASH_SHA_256)
        # Each table the requester sent comes back with nothing selected: no key exchange.
        at = m.NEGOTIATE_FIXED_SIZE + 4 * (req[28] + req[29])
        out = m.ALGORITHMS_FIXED_SIZE
        for _ in range(tables):
            rsp[out] = req[at]
            rsp[out + 1] = 0x20
            at += 4 + 4 * (req[at + 1] & 0x0F)
            out += 4
        if self._vca_len + size + answer > VCA_MAX:
            return self._error(m.INVALID_REQUEST)
        self._vca_add(req[:size])
        self._vca_add(rsp[:answer])
        self.state = NEGOTIATED
        return answer

    def _negotiate_size(self, req, length):
        # The request's Length when its structure holds together, or -1 (libspdm's checks).
        if length < m.NEGOTIATE_FIXED_SIZE:
            return -1
        size = m.get16(req, 4)
        if size > length or size > m.NEGOTIATE_MAX_LENGTH or size < m.NEGOTIATE_FIXED_SIZE:
            return -1
        externals = req[28] + req[29]
        at = m.NEGOTIATE_FIXED_SIZE + 4 * externals
        previous = 0
        for _ in range(req[2]):
            if at + 4 > size:
                return -1
            kind = req[at]
            if kind < m.ALG_TYPE_DHE or kind > m.ALG_TYPE_KEY_SCHEDULE or kind <= previous:
                return -1
            if req[at + 1] >> 4 != 2 or not m.get16(req, at + 2):
                return -1
            previous = kind
            externals += req[at + 1] & 0x0F
            at += 4 + 4 * (req[at + 1] & 0x0F)
        if at != size or externals > m.MAX_EXT_ALGS:
            return -1
        return size

    def _started(self, running, vca=True):
        # A running transcript hash, started (from VCA, or empty) when there is none.
        if running is None:
            running = sha256(bytes(self._vca[: self._vca_len]) if vca else b"")
        return running

    def _add_m1(self, req, size, answer):
        self._l1 = None
        self._m1 = self._started(self._m1)
        self._m1.update(bytes(req[:size]))
        self._m1.update(bytes(self.rsp[:answer]))

    def _get_digests(self, req):
        rsp = self.rsp
        m.header(rsp, self.version, m.DIGESTS, 0, 0x01)  # slot 0 only
        rsp[4 : 4 + m.HASH_SIZE] = self.chain_digest
        answer = 4 + m.HASH_SIZE
        self._add_m1(req, m.HEADER_SIZE, answer)
        return answer

    def _get_certificate(self, req, length):
        if length < 8 or req[2] & 0x0F:
            return self._error(m.INVALID_REQUEST)
        chain = self.chain
        offset = m.get16(req, 4)
        if offset >= len(chain):
            return self._error(m.INVALID_REQUEST)
        portion = min(
            m.get16(req, 6), self._peer_size - m.CERTIFICATE_FIXED_SIZE, len(chain) - offset
        )
        rsp = self.rsp
        m.header(rsp, self.version, m.CERTIFICATE, 0)
        m.put16(rsp, 4, portion)
        m.put16(rsp, 6, len(chain) - offset - portion)
        rsp[8 : 8 + portion] = chain[offset : offset + portion]
        answer = m.CERTIFICATE_FIXED_SIZE + portion
        self._add_m1(req, 8, answer)
        return answer

    def _challenge(self, req, length):
        size = m.HEADER_SIZE + m.NONCE_SIZE
        summary = req[3]
        if length < size or req[2] != 0:
            return self._error(m.INVALID_REQUEST)
        if summary not in (m.SUMMARY_NONE, m.SUMMARY_TCB, m.SUMMARY_ALL):
            return self._error(m.INVALID_REQUEST)
        rsp = self.rsp
        m.header(rsp, self.version, m.CHALLENGE_AUTH, 0, 0x01)  # slot 0; its mask
        at = 4
        rsp[at : at + m.HASH_SIZE] = self.chain_digest
        at += m.HASH_SIZE
        rsp[at : at + m.NONCE_SIZE] = self._nonce()
        at += m.NONCE_SIZE
        if summary != m.SUMMARY_NONE:
            rsp[at : at + m.HASH_SIZE] = self.measurements.summary(summary == m.SUMMARY_TCB)
            at += m.HASH_SIZE
        m.put16(rsp, at, 0)  # OpaqueDataLength
        at += 2
        self._add_m1(req, size, at)
        transcript = self._m1.digest()
        self._m1 = None  # M1 starts again after CHALLENGE_AUTH
        return self._sign(m.CHALLENGE, at, m.CHALLENGE_AUTH_CONTEXT, transcript)

    def _get_measurements(self, req, length):
        if not self._measuring:
            return self._error(m.UNEXPECTED_REQUEST)  # no measurement specification agreed
        signed = req[2] & m.SIGNATURE_REQUESTED
        size = m.HEADER_SIZE + m.NONCE_SIZE + 1 if signed else m.HEADER_SIZE
        if length < size or (signed and req[size - 1] & 0x0F):
            return self._error(m.INVALID_REQUEST)
        operation = req[3]
        count = 0
        record = b""
        if operation == m.MEASUREMENT_COUNT:
            count = self.measurements.count()
        elif operation == m.MEASUREMENT_ALL:
            record = self.measurements.blocks(req[2] & m.RAW_BIT_STREAM_REQUESTED)
        else:
            record = self.measurements.block(operation, req[2] & m.RAW_BIT_STREAM_REQUESTED)
            if record is None:
                return self._error(m.INVALID_REQUEST)  # no such index
        answer = 8 + len(record) + m.NONCE_SIZE + 2
        if answer + (m.SIGNATURE_SIZE if signed else 0) > self._peer_size:
            return self._error(m.RESPONSE_TOO_LARGE)
        rsp = self.rsp
        m.header(rsp, self.version, m.MEASUREMENTS, count, 0)  # slot 0; no change detection
        blocks = 0
        if operation == m.MEASUREMENT_ALL:
            blocks = self.measurements.count()
        elif operation != m.MEASUREMENT_COUNT:
            blocks = 1
        rsp[4] = blocks
        m.put24(rsp, 5, len(record))
        rsp[8 : 8 + len(record)] = record
        at = 8 + len(record)
        rsp[at : at + m.NONCE_SIZE] = self._nonce()
        m.put16(rsp, at + m.NONCE_SIZE, 0)  # OpaqueDataLength
        self._m1 = None  # a GET_MEASUREMENTS ends M1 (no CHALLENGE came)
        self._l1 = self._started(self._l1, self.version == m.VERSION_12)
        self._l1.update(bytes(req[:size]))
        self._l1.update(bytes(rsp[:answer]))
        if not signed:
            return answer
        transcript = self._l1.digest()
        self._l1 = None  # L1 starts again after a signed MEASUREMENTS
        return self._sign(m.GET_MEASUREMENTS, answer, m.MEASUREMENTS_CONTEXT, transcript)

    def _sign(self, code, answer, context, transcript):
        if self.version == m.VERSION_12:
            transcript = sha256(m.signing_context(context) + transcript).digest()
        self.signer = Signer(self._key, transcript)
        self._pending_code = code
        self._pending_len = answer
        self._not_ready = False
        return PENDING
