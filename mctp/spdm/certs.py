# The SPDM certificate chain of slot 0 (DSP0274 1.2, "Certificate chain format"): Length (2 bytes,
# the whole structure), Reserved (2), the SHA-256 of the root certificate, then the DER
# certificates from the root to the device's leaf. GET_DIGESTS answers its SHA-256;
# GET_CERTIFICATE sends it in portions.

from hashlib import sha256

from .ecdsa import public_key
from .messages import HASH_SIZE

HEADER_SIZE = 4 + HASH_SIZE  # Length, Reserved, RootHash
MAX_CHAIN = 0xFFFF  # Length is 16 bits


def split_der(der):
    """The DER certificates of a concatenation (root first), each checked to be one whole
    SEQUENCE with a definite length; ValueError naming the one at fault."""
    certs = []
    at = 0
    while at < len(der):
        end = _sequence_end(der, at)
        if end is None or end > len(der):
            raise ValueError(
                "certificate %d (at byte %d of %d) is not a whole DER SEQUENCE"
                % (len(certs) + 1, at, len(der))
            )
        certs.append(der[at:end])
        at = end
    if not certs:
        raise ValueError("the certificate chain is empty (no DER certificate)")
    return certs


def _sequence_end(der, at):
    # Where the SEQUENCE (tag 0x30) starting at `at` ends, or None when it is not one.
    if len(der) - at < 2 or der[at] != 0x30:
        return None
    size = der[at + 1]
    if size < 0x80:
        return at + 2 + size
    count = size & 0x7F
    if count == 0 or count > 3 or len(der) - at < 2 + count:
        return None
    length = 0
    for i in range(count):
        length = length << 8 | der[at + 2 + i]
    return at + 2 + count + length


def cert_chain(der, private_key=None):
    """The SPDM CertChain structure of `der` (root, intermediates, leaf, concatenated). With
    `private_key` (32 bytes), checks that the leaf certificate carries its public key."""
    size = HEADER_SIZE + len(der)
    if size > MAX_CHAIN:
        raise ValueError("the certificate chain is %d bytes, at most %d" % (size, MAX_CHAIN))
    certs = split_der(der)
    if private_key is not None and public_key(private_key) not in certs[-1]:
        raise ValueError("the device key is not the key of the leaf certificate (the last one)")
    return bytes((size & 0xFF, size >> 8, 0, 0)) + sha256(certs[0]).digest() + bytes(der)
