# ECDSA P-256 signing (mctp.spdm.ecdsa): RFC 6979's vectors byte for byte, signatures that the
# third-party `cryptography` package verifies (CPython only), the comb's table against it, bad
# keys and digests, and the stepped Signer: the same signature, a bounded piece per step.

import hashlib

from mctp.spdm import ecdsa
from testing import IS_MICROPYTHON, raises, skip

# RFC 6979 A.2.5: the P-256 key, its public key, and for SHA-256 the k, r and s of the messages
# "sample" and "test".
RFC_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC_UX = 0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
RFC_UY = 0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299
RFC_SIGNATURES = (
    (
        b"sample",
        0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60,
        0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
        0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8,
    ),
    (
        b"test",
        0xD16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0,
        0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
        0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083,
    ),
)


def key_bytes(value):
    return value.to_bytes(32, "big")


def digest(message):
    return hashlib.sha256(message).digest()


def cryptography_ec():
    if IS_MICROPYTHON:
        skip("the third-party verifier (cryptography) runs on CPython only")
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    return ec


def test_rfc6979_public_key():
    public = ecdsa.public_key(key_bytes(RFC_KEY))
    assert public == b"\x04" + key_bytes(RFC_UX) + key_bytes(RFC_UY)


def test_rfc6979_nonces_and_signatures_byte_exact():
    key = key_bytes(RFC_KEY)
    for message, k, r, s in RFC_SIGNATURES:
        assert next(ecdsa._nonces(key, digest(message))) == k
        assert ecdsa.sign(key, digest(message)) == (r, s)
        signer = ecdsa.Signer(key, digest(message))
        while not signer.step():
            pass
        assert signer.raw() == key_bytes(r) + key_bytes(s)
        assert ecdsa.raw(r, s) == signer.raw()


def test_hmac_sha256_is_rfc2104s():
    # The HMAC here takes 32-byte keys (RFC 6979's K): check it against RFC 2104's definition
    # written out, and on CPython against its hmac module.
    key = bytes(range(32))
    message = b"what do ya want for nothing?"
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key + bytes(32)) + message).digest()
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key + bytes(32)) + inner).digest()
    assert ecdsa._hmac(key, message[:5], message[5:]) == outer
    if not IS_MICROPYTHON:
        import hmac  # noqa: PLC0415 (CPython's own, as a second opinion)

        assert outer == hmac.new(key, message, "sha256").digest()


def test_signatures_verify_with_cryptography_for_random_keys_and_digests():
    ec = cryptography_ec()
    import os  # noqa: PLC0415

    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.utils import (  # noqa: PLC0415
        Prehashed,
        encode_dss_signature,
    )
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        Encoding,
        PublicFormat,
    )

    for _ in range(40):
        private = ec.generate_private_key(ec.SECP256R1())
        key = key_bytes(private.private_numbers().private_value)
        public = private.public_key()
        uncompressed = public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        assert ecdsa.public_key(key) == uncompressed
        hashed = os.urandom(32)
        r, s = ecdsa.sign(key, hashed)
        der = ecdsa.der(r, s)
        assert der == encode_dss_signature(r, s)
        # verify() raises InvalidSignature on a bad one
        public.verify(der, hashed, ec.ECDSA(Prehashed(hashes.SHA256())))


def test_the_comb_table_is_cryptographys_multiples_of_g():
    ec = cryptography_ec()
    table = ecdsa._COMB
    assert len(table) == 2 * (2**ecdsa.TEETH - 1)
    assert ecdsa.TEETH * ecdsa.SPACING == 256
    for j in range(1, 2**ecdsa.TEETH):
        scalar = sum(1 << (i * ecdsa.SPACING) for i in range(ecdsa.TEETH) if j >> i & 1)
        numbers = ec.derive_private_key(scalar % ecdsa.N, ec.SECP256R1()).public_key()
        numbers = numbers.public_numbers()
        assert (table[2 * j - 2], table[2 * j - 1]) == (numbers.x, numbers.y), j


def test_small_and_extreme_keys_give_the_right_public_keys():
    # 1*G is G; (n-1)*G is -G; a key with every comb column set (all 1 bits below n) also
    # goes through the additions that meet the same x (2^64 * G + ... sums).
    gx, gy = ecdsa._COMB[0], ecdsa._COMB[1]
    assert ecdsa.public_key(key_bytes(1)) == b"\x04" + key_bytes(gx) + key_bytes(gy)
    assert ecdsa.public_key(key_bytes(ecdsa.N - 1)) == (
        b"\x04" + key_bytes(gx) + key_bytes(ecdsa.P - gy)
    )
    two = ecdsa.public_key(key_bytes(2))
    x, y = int.from_bytes(two[1:33], "big"), int.from_bytes(two[33:], "big")
    assert (y * y - (x * x * x - 3 * x + ecdsa.B)) % ecdsa.P == 0  # on the curve
    assert x != gx


def test_a_point_added_to_itself_or_its_negation():
    # The comb's mixed addition meets the same x only by chance: check both cases directly.
    gx, gy = ecdsa._COMB[0], ecdsa._COMB[1]
    doubled = ecdsa._affine(ecdsa._add(gx, gy, 1, gx, gy))
    assert doubled == ecdsa._affine(ecdsa._double(gx, gy, 1))
    assert ecdsa._add(gx, gy, 1, gx, ecdsa.P - gy)[2] == 0  # G + (-G): infinity
    assert ecdsa._add(0, 1, 0, gx, gy) == (gx, gy, 1)  # infinity + G


def test_bad_keys_and_digests_are_refused_by_name():
    good = digest(b"sample")
    with raises(ValueError) as caught:
        ecdsa.sign(bytes(32), good)
    assert str(caught.value) == "private_key is 0, must be 1..n-1 (n: the P-256 group order)"
    for too_large in (ecdsa.N, 2**256 - 1):
        with raises(ValueError) as caught:
            ecdsa.Signer(key_bytes(too_large), good)
        assert str(caught.value) == (
            "private_key is %#x, must be below n = %#x (the P-256 order)" % (too_large, ecdsa.N)
        )
    with raises(ValueError) as caught:
        ecdsa.public_key(bytes(31) + b"\x01" + b"\x00")
    assert str(caught.value) == "private_key is 33 bytes, must be 32 (a P-256 scalar, big endian)"
    for wrong in (b"", good[:20], good + b"\x00", hashlib.sha256(b"x").digest() * 2):
        with raises(ValueError) as caught:
            ecdsa.sign(key_bytes(RFC_KEY), wrong)
        assert str(caught.value) == "digest is %d bytes, must be 32 (SHA-256)" % len(wrong)


def test_der_encoding_keeps_integers_positive_and_minimal():
    assert ecdsa.der(1, 0x80) == bytes((0x30, 7, 2, 1, 1, 2, 2, 0, 0x80))
    high = ecdsa.N - 1  # top bit set: a 0 byte in front, 33 bytes
    encoded = ecdsa.der(high, 0x7F)
    assert encoded[:4] == bytes((0x30, 35 + 3, 2, 33)) and encoded[4] == 0
    assert encoded[4 + 33 :] == bytes((2, 1, 0x7F))
    assert ecdsa.raw(1, 2) == bytes(31) + b"\x01" + bytes(31) + b"\x02"


class CountingWork:
    """Counts the comb's doublings and additions and the inversions while installed in place
    of the module's own functions."""

    NAMES = ("_double", "_add", "_inverse")

    def __init__(self):
        self.counts = {}
        self.saved = {}

    def install(self):
        for name in self.NAMES:
            original = getattr(ecdsa, name)
            self.saved[name] = original
            setattr(ecdsa, name, self._counting(name, original))

    def _counting(self, name, original):
        def counted(*args):
            self.counts[name] = self.counts.get(name, 0) + 1
            return original(*args)

        return counted

    def remove(self):
        for name, original in self.saved.items():
            setattr(ecdsa, name, original)

    def take(self):
        counts, self.counts = self.counts, {}
        return counts


def test_stepped_signing_is_sign_with_bounded_work_per_step():
    key = key_bytes(RFC_KEY)
    hashed = digest(b"stepped")
    expected = ecdsa.sign(key, hashed)
    work = CountingWork()
    work.install()
    try:
        signer = ecdsa.Signer(key, hashed)
        per_step = []
        done = False
        while not done:
            done = signer.step()
            per_step.append(work.take())
    finally:
        work.remove()
    assert (signer.r, signer.s) == expected
    columns = ecdsa.SPACING // ecdsa.COLUMNS_PER_STEP
    # the nonce, the comb's columns, the affine x (r), s
    assert len(per_step) == 1 + columns + 2
    assert per_step[0] == {}
    for counts in per_step[1 : 1 + columns]:
        assert counts["_double"] == ecdsa.COLUMNS_PER_STEP
        assert counts.get("_add", 0) <= ecdsa.COLUMNS_PER_STEP
        assert "_inverse" not in counts
    assert per_step[-2] == {"_inverse": 1} and per_step[-1] == {"_inverse": 1}
    # done stays done, and says so without more work
    assert signer.step() is True and (signer.r, signer.s) == expected


def test_a_nonce_that_gives_s_zero_takes_the_next_one():
    # RFC 6979 3.2 h.3: a k that makes r or s zero is skipped. Make s zero by choosing the
    # digest for the first k: s = k^-1 (z + r d) = 0 when z = -r d mod n.
    # Drive a signer whose nonce source gives "sample"'s k (whose r is known) and then another.
    key = key_bytes(RFC_KEY)
    _, k1, r1, _ = RFC_SIGNATURES[0]
    z = -r1 * RFC_KEY % ecdsa.N
    signer = ecdsa.Signer(key, z.to_bytes(32, "big"))
    k2 = 0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD61
    signer._nonces = iter((k1, k2))
    steps = 0
    while not signer.step():
        steps += 1
    columns = ecdsa.SPACING // ecdsa.COLUMNS_PER_STEP
    assert steps == 2 * (1 + columns + 2) - 1  # the whole comb twice
    r2 = ecdsa._affine(ecdsa._comb((0, 1, 0), ecdsa._columns(k2), 0, ecdsa.SPACING))[0]
    assert signer.r == r2 % ecdsa.N
    assert signer.s == ecdsa._inverse(k2, ecdsa.N) * (z + signer.r * RFC_KEY) % ecdsa.N
