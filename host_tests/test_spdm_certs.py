# The SPDM CertChain of slot 0 (mctp/spdm/certs.py): its structure byte for byte (Length,
# Reserved, the root's SHA-256, the DER chain), the certificates split at their DER lengths, and
# each bad input refused with what is wrong: not DER, truncated, empty, too long, a key that is
# not the leaf's.

import hashlib

from spdm_test_chain import CHAIN, KEY, ROOT
from testing import raises

from mctp.spdm.certs import MAX_CHAIN, cert_chain, split_der


def test_the_chain_structure_byte_for_byte():
    chain = cert_chain(CHAIN, KEY)
    assert len(chain) == 4 + 32 + len(CHAIN)
    assert chain[:4] == bytes(((len(chain)) & 0xFF, len(chain) >> 8, 0, 0))
    assert chain[4:36] == hashlib.sha256(ROOT).digest()
    assert chain[36:] == CHAIN
    assert cert_chain(CHAIN) == chain  # (the key is only checked)


def test_the_certificates_are_split_at_their_der_lengths():
    certs = split_der(CHAIN)
    assert len(certs) == 3 and certs[0] == ROOT and b"".join(certs) == CHAIN
    # A short-form length (under 128 bytes) and a two-byte one.
    assert split_der(b"\x30\x03\x02\x01\x05" + ROOT) == [b"\x30\x03\x02\x01\x05", ROOT]


def test_bad_chains_are_refused_with_what_is_wrong():
    with raises(ValueError) as caught:
        split_der(b"")
    assert str(caught.value) == "the certificate chain is empty (no DER certificate)"
    with raises(ValueError) as caught:
        split_der(ROOT + b"\x04\x02ab")  # an OCTET STRING, not a certificate
    assert str(caught.value) == "certificate 2 (at byte %d of %d) is not a whole DER SEQUENCE" % (
        len(ROOT),
        len(ROOT) + 4,
    )
    with raises(ValueError) as caught:
        split_der(ROOT[:-1])
    assert str(caught.value) == "certificate 1 (at byte 0 of %d) is not a whole DER SEQUENCE" % (
        len(ROOT) - 1
    )
    with raises(ValueError) as caught:
        split_der(b"\x30\x80" + bytes(10))  # an indefinite length: not DER
    assert "certificate 1 (at byte 0 of 12)" in str(caught.value)

    class Huge:  # (its length is all that is read: no 64 KiB on a small board)
        def __len__(self):
            return MAX_CHAIN - 35

    with raises(ValueError) as caught:
        cert_chain(Huge())
    assert str(caught.value) == "the certificate chain is %d bytes, at most %d" % (
        MAX_CHAIN + 1,
        MAX_CHAIN,
    )


def test_a_key_that_is_not_the_leafs_is_refused():
    with raises(ValueError) as caught:
        cert_chain(CHAIN, bytes(31) + b"\x02")
    assert str(caught.value) == (
        "the device key is not the key of the leaf certificate (the last one)"
    )
    with raises(ValueError) as caught:
        cert_chain(CHAIN, bytes(32))
    assert "private_key is 0" in str(caught.value)
