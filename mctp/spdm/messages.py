# SPDM (DMTF DSP0274 1.2) message codes, error codes, field values and the small encoders the
# responder builds its answers with. Every SPDM message starts with SPDMVersion (0x12 for 1.2:
# major in the high nibble), RequestResponseCode, Param1 and Param2; multi-byte fields are little
# endian.

from mctp._compat import const

HEADER_SIZE = const(4)
VERSION_10 = const(0x10)  # GET_VERSION and VERSION always carry 1.0
VERSION_12 = const(0x12)  # the one version this responder negotiates

# Request codes (DSP0274 1.2, table "SPDM request codes").
GET_DIGESTS = const(0x81)
GET_CERTIFICATE = const(0x82)
CHALLENGE = const(0x83)
GET_VERSION = const(0x84)
GET_MEASUREMENTS = const(0xE0)
GET_CAPABILITIES = const(0xE1)
NEGOTIATE_ALGORITHMS = const(0xE3)
RESPOND_IF_READY = const(0xFF)

# Response codes.
DIGESTS = const(0x01)
CERTIFICATE = const(0x02)
CHALLENGE_AUTH = const(0x03)
VERSION = const(0x04)
MEASUREMENTS = const(0x60)
CAPABILITIES = const(0x61)
ALGORITHMS = const(0x63)
ERROR = const(0x7F)

# ERROR's Param1 (DSP0274 1.2, table "Error code and error data").
INVALID_REQUEST = const(0x01)
BUSY = const(0x03)
UNEXPECTED_REQUEST = const(0x04)
UNSPECIFIED = const(0x05)
UNSUPPORTED_REQUEST = const(0x07)
VERSION_MISMATCH = const(0x41)
RESPONSE_NOT_READY = const(0x42)
ERROR_NAMES = {
    INVALID_REQUEST: "InvalidRequest",
    BUSY: "Busy",
    UNEXPECTED_REQUEST: "UnexpectedRequest",
    UNSPECIFIED: "Unspecified",
    UNSUPPORTED_REQUEST: "UnsupportedRequest",
    VERSION_MISMATCH: "VersionMismatch",
    RESPONSE_NOT_READY: "ResponseNotReady",
}

# CAPABILITIES flags of a responder: CERT_CAP, CHAL_CAP, MEAS_CAP = 2 (measurements with
# signatures). Nothing else: no sessions, no mutual authentication, no chunking.
CERT_CAP = const(0x02)
CHAL_CAP = const(0x04)
MEAS_CAP_SIGNED = const(0x10)
RESPONDER_FLAGS = const(CERT_CAP | CHAL_CAP | MEAS_CAP_SIGNED)
MIN_DATA_TRANSFER_SIZE = const(42)  # DSP0274 1.2's MinDataTransferSize
GET_CAPABILITIES_SIZE = const(20)  # 1.2's request (and its answer)

# NEGOTIATE_ALGORITHMS / ALGORITHMS.
MEASUREMENT_SPEC_DMTF = const(0x01)
ASYM_ECDSA_P256 = const(0x10)  # BaseAsymAlgo bit 4: TPM_ALG_ECDSA_ECC_NIST_P256
HASH_SHA_256 = const(0x01)  # BaseHashAlgo bit 0: TPM_ALG_SHA_256
MEASUREMENT_HASH_SHA_256 = const(0x02)  # MeasurementHashAlgo bit 1: TPM_ALG_SHA_256
OPAQUE_FORMAT_0 = const(0x01)
OPAQUE_FORMAT_1 = const(0x02)
NEGOTIATE_FIXED_SIZE = const(32)  # the request up to its ExtAsym
ALGORITHMS_FIXED_SIZE = const(36)  # the answer up to its ExtAsymSel
NEGOTIATE_MAX_LENGTH = const(128)  # DSP0274 1.1 on: the longest request
ALG_TYPE_DHE = const(2)
ALG_TYPE_KEY_SCHEDULE = const(5)
MAX_EXT_ALGS = const(20)  # DSP0274 1.1 on: external algorithms of all kinds, at most

# GET_CERTIFICATE / CERTIFICATE: the answer's fixed part (header, PortionLength,
# RemainderLength).
CERTIFICATE_FIXED_SIZE = const(8)

# CHALLENGE: Param2 is the measurement summary hash type.
SUMMARY_NONE = const(0x00)
SUMMARY_TCB = const(0x01)
SUMMARY_ALL = const(0xFF)

# GET_MEASUREMENTS: Param1's attributes, Param2 the operation.
SIGNATURE_REQUESTED = const(0x01)
RAW_BIT_STREAM_REQUESTED = const(0x02)
MEASUREMENT_COUNT = const(0x00)
MEASUREMENT_ALL = const(0xFF)

NONCE_SIZE = const(32)
HASH_SIZE = const(32)
SIGNATURE_SIZE = const(64)  # ECDSA P-256: r || s

# What the responder signs (DSP0274 1.2, "Signature generation"): the combined SPDM prefix,
# "dmtf-spdm-v1.2.*" four times, then the context string right-aligned in 36 bytes of zeros,
# followed by the transcript's hash; ECDSA signs that message's SHA-256.
SIGNING_PREFIX = b"dmtf-spdm-v1.2.*" * 4
CHALLENGE_AUTH_CONTEXT = b"responder-challenge_auth signing"
MEASUREMENTS_CONTEXT = b"responder-measurements signing"
CONTEXT_SIZE = const(36)


def signing_context(context):
    """The 100 bytes put in front of a transcript hash before it is signed (SPDM 1.2)."""
    return SIGNING_PREFIX + bytes(CONTEXT_SIZE - len(context)) + context


def put16(buf, at, value):
    buf[at] = value & 0xFF
    buf[at + 1] = value >> 8 & 0xFF


def put24(buf, at, value):
    buf[at] = value & 0xFF
    buf[at + 1] = value >> 8 & 0xFF
    buf[at + 2] = value >> 16 & 0xFF


def put32(buf, at, value):
    put16(buf, at, value & 0xFFFF)
    put16(buf, at + 2, value >> 16)


def get16(buf, at):
    return buf[at] | buf[at + 1] << 8


def get32(buf, at):
    return get16(buf, at) | get16(buf, at + 2) << 16


def header(buf, version, code, param1=0, param2=0):
    buf[0] = version
    buf[1] = code
    buf[2] = param1
    buf[3] = param2
    return HEADER_SIZE


def error(buf, version, code, data=0):
    """An ERROR answer in buf with the error code and its data byte; its length."""
    return header(buf, version, ERROR, code, data)
