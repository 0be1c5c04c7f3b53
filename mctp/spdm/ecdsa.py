# ECDSA signing on NIST P-256 (secp256r1) with SHA-256, in pure Python for MicroPython's big ints
# and CPython alike (FIPS 186-5; SEC 1). The nonce is RFC 6979's deterministic one
# (HMAC-SHA-256 over the key and the digest), so no weak random source can leak the key.
# What this is not: constant-time (Python's big ints are not), nor key storage (see
# docs/spdm.md).
#
# k*G is a fixed-base comb (Lim-Lee, one table): the scalar's 256 bits are read as TEETH rows of
# SPACING bits, and each column of TEETH bits picks one of the 15 precomputed points
# _COMB[j] = sum of 2^(i*SPACING) * G over the bits i of j. A signature is then SPACING doublings
# and at most SPACING additions of an affine table point to a Jacobian accumulator (a = -3
# doubling, 3M + 5S; mixed addition, 8M + 3S), one inversion mod p for the affine x and one mod
# n for k: about 1,250 field multiplications. The table is literal (30 ints): frozen into a
# board's flash it takes no RAM (mpy-tool freezes big int constants as static objects);
# imported from a .mpy it takes about 1.5 KB of heap. test_spdm_ecdsa.py checks every entry
# against the third-party `cryptography` package.
#
# Signer computes one signature a bounded piece at a time (step()), so that an asyncio task or
# a poll loop keeps serving between pieces; sign() runs its steps to the end.

from hashlib import sha256

# The curve (FIPS 186-5 / SP 800-186, P-256): y^2 = x^3 - 3x + b over GF(P); G of order N.
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B

SIZE = 32  # bytes of a scalar, a coordinate, a SHA-256 digest
TEETH = 4  # rows of the comb: its table holds 2^TEETH - 1 points
SPACING = 64  # bits per row (256 / TEETH): the columns, each one doubling and one addition
COLUMNS_PER_STEP = 4  # columns one Signer.step() computes


def _scalar(private_key):
    """The private key's integer, checked: 32 bytes, big endian, 1..N-1."""
    if len(private_key) != SIZE:
        raise ValueError(
            "private_key is %d bytes, must be %d (a P-256 scalar, big endian)"
            % (len(private_key), SIZE)
        )
    d = int.from_bytes(private_key, "big")
    if d == 0:
        raise ValueError("private_key is 0, must be 1..n-1 (n: the P-256 group order)")
    if d >= N:
        raise ValueError("private_key is %#x, must be below n = %#x (the P-256 order)" % (d, N))
    return d


def _digest(digest):
    if len(digest) != SIZE:
        raise ValueError("digest is %d bytes, must be %d (SHA-256)" % (len(digest), SIZE))
    return int.from_bytes(digest, "big")


def _hmac(key, *parts):
    """HMAC-SHA-256 (RFC 2104) with a 32-byte key: MicroPython has no hmac module."""
    inner = sha256(bytes(b ^ 0x36 for b in key) + b"\x36" * SIZE)
    for part in parts:
        inner.update(part)
    outer = sha256(bytes(b ^ 0x5C for b in key) + b"\x5c" * SIZE)
    outer.update(inner.digest())
    return outer.digest()


def _nonces(private_key, digest):
    """RFC 6979 section 3.2's k for this key and digest (qlen = hlen = 256), then the next
    ones, should a k give r or s = 0 (3.2 h.3)."""
    h = (int.from_bytes(digest, "big") % N).to_bytes(SIZE, "big")  # bits2octets(h1)
    v = b"\x01" * SIZE
    k = _hmac(b"\x00" * SIZE, v, b"\x00", private_key, h)
    v = _hmac(k, v)
    k = _hmac(k, v, b"\x01", private_key, h)
    v = _hmac(k, v)
    while True:
        v = _hmac(k, v)
        candidate = int.from_bytes(v, "big")
        if 0 < candidate < N:
            yield candidate
        k = _hmac(k, v, b"\x00")
        v = _hmac(k, v)


def _inverse(a, m):
    """a^-1 mod m (a not a multiple of m, m prime), by the extended Euclidean algorithm."""
    t, new_t, r, new_r = 0, 1, m, a % m
    while new_r:
        q = r // new_r
        t, new_t = new_t, t - q * new_t
        r, new_r = new_r, r - q * new_r
    return t % m


def _double(x, y, z):
    """2(x, y, z) in Jacobian coordinates (dbl-2001-b, a = -3); z = 0 (infinity) stays 0."""
    delta = z * z % P
    gamma = y * y % P
    beta = x * gamma % P
    alpha = 3 * (x - delta) * (x + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    return x3, (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P, 2 * y * z % P


def _add(x1, y1, z1, x2, y2):
    """(x1, y1, z1) + (x2, y2, 1) in Jacobian coordinates (the mixed addition, 8M + 3S)."""
    if not z1:
        return x2, y2, 1
    zz = z1 * z1 % P
    h = (x2 * zz - x1) % P
    r = (y2 * zz % P * z1 - y1) % P
    if not h:  # the same x: the same point, or its negation
        return _double(x2, y2, 1) if not r else (0, 1, 0)
    hh = h * h % P
    hhh = h * hh % P
    v = x1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - y1 * hhh) % P, z1 * h % P


def _columns(k):
    """The comb's table index for each column of k, the top column first."""
    scalar = k.to_bytes(SIZE, "big")
    found = bytearray(SPACING)
    column = SPACING - 1
    while column >= 0:
        index = 0
        tooth = TEETH - 1
        while tooth >= 0:
            bit = tooth * SPACING + column
            index = index << 1 | scalar[SIZE - 1 - (bit >> 3)] >> (bit & 7) & 1
            tooth -= 1
        found[SPACING - 1 - column] = index
        column -= 1
    return found


def _comb(point, columns, start, stop):
    """The accumulator (x, y, z) after the columns start..stop-1 (of _columns' order)."""
    x, y, z = point
    table = _COMB
    while start < stop:
        x, y, z = _double(x, y, z)
        index = columns[start]
        if index:
            x, y, z = _add(x, y, z, table[2 * index - 2], table[2 * index - 1])
        start += 1
    return x, y, z


def _affine(point):
    """(x, y) of a Jacobian point; never infinity here: 0 < k < N and N is G's prime order."""
    x, y, z = point
    zinv = _inverse(z, P)
    zinv2 = zinv * zinv % P
    return x * zinv2 % P, y * zinv2 % P * zinv % P


def public_key(private_key):
    """The public key of a 32-byte private key: 65 bytes, 0x04 || x || y (SEC 1 uncompressed).
    It costs about as much as a signature."""
    d = _scalar(private_key)
    x, y = _affine(_comb((0, 1, 0), _columns(d), 0, SPACING))
    return b"\x04" + x.to_bytes(SIZE, "big") + y.to_bytes(SIZE, "big")


class Signer:
    """One ECDSA P-256 signature of a SHA-256 digest, computed a bounded piece at a time:
    call step() until it answers True, then read r and s (ints), or raw() / der().

    The first step derives the nonce (RFC 6979: about a dozen HMAC-SHA-256s); each of the next
    SPACING / COLUMNS_PER_STEP steps does COLUMNS_PER_STEP of the comb's columns; the last one
    converts to affine x (an inversion mod p) and computes s (an inversion mod n). On the
    emulated Cortex-M0 (MicroPython's qemu port, no map lookup cache) the largest step takes
    about 2.4 million instructions and the whole signature about 18 million (docs/spdm.md has
    the measured figures: `m0_ecdsa_p256_sign_instr`, `m0_ecdsa_p256_step_instr`). Should a
    nonce give r or s = 0 (probability about 2^-256), the next one is derived and the comb
    runs again, as RFC 6979 3.2 h.3 says."""

    def __init__(self, private_key, digest):
        self._d = _scalar(private_key)
        self._z = _digest(digest)
        self._nonces = _nonces(private_key, digest)
        self._k = 0  # no nonce yet
        self._columns = None
        self._column = 0
        self._point = None
        self._r = 0
        self.r = self.s = 0  # 0 until done: a signature has neither

    def step(self):
        """Do the next piece of the signature; True once r and s are known."""
        if self.s:
            return True
        if not self._k:
            self._k = next(self._nonces)
            self._columns = _columns(self._k)
            self._column = 0
            self._point = (0, 1, 0)
        elif self._column < SPACING:
            stop = min(self._column + COLUMNS_PER_STEP, SPACING)
            self._point = _comb(self._point, self._columns, self._column, stop)
            self._column = stop
        elif self._column == SPACING:
            self._r = _affine(self._point)[0] % N
            self._point = None
            self._column += 1
        else:
            s = _inverse(self._k, N) * (self._z + self._r * self._d) % N
            self._k = 0  # should r or s be 0, the next nonce at the next step
            if self._r and s:
                self.r, self.s = self._r, s
                self._d = self._z = 0
                self._columns = None
                return True
        return False

    def raw(self):
        """r || s, 32 bytes each, big endian: the form SPDM (DSP0274) carries."""
        return raw(self.r, self.s)

    def der(self):
        """The DER ECDSA-Sig-Value (SEQUENCE of INTEGER r, INTEGER s): X.509's and TLS's."""
        return der(self.r, self.s)


def sign(private_key, digest):
    """(r, s) of the ECDSA P-256 signature of a 32-byte SHA-256 digest with a 32-byte private
    key, its nonce by RFC 6979: Signer's steps, run to the end."""
    signer = Signer(private_key, digest)
    while not signer.step():
        pass
    return signer.r, signer.s


def raw(r, s):
    """r || s, 32 bytes each, big endian (SPDM's form of an ECDSA signature)."""
    return r.to_bytes(SIZE, "big") + s.to_bytes(SIZE, "big")


def _der_integer(value):
    body = value.to_bytes(SIZE, "big").lstrip(b"\x00")
    if not body or body[0] & 0x80:
        body = b"\x00" + body
    return bytes((0x02, len(body))) + body


def der(r, s):
    """The DER encoding of (r, s) as an ECDSA-Sig-Value (RFC 5480): at most 72 bytes."""
    body = _der_integer(r) + _der_integer(s)
    return bytes((0x30, len(body))) + body


# _COMB[2j - 2], _COMB[2j - 1]: x and y of sum(2^(i * SPACING) * G for the bits i of j), j in
# 1..15; _COMB[0:2] is G itself.
_COMB = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    0x0FA822BC2811AAA58492592E326E25DE29493BAAAD651F7E90E75CB48E14DB63,
    0xBFF44AE8F5DBA80D6F4AD4BCB3DF188B34B1A65050FE82F5E41124545F462EE7,
    0x300A4BBC89D6726FB257C0DE95E02789E96C98FD0D35F1FA93391CE2097992AF,
    0x72AAC7E0D09B46447F1DDB25FF1E3C6F5BB1EEADA9D806A5AA54A291C08127A0,
    0x447D739BEEDB5E67FB982FD588C6766EFC35FF7DC297EAC357C84FC9D789BD85,
    0x2D4825AB834131EEE12E9D953A4AAFF73D349B95A7FAE5000C7E33C972E25B32,
    0xEF9519328A9C72FFDDC6068BB91DFC60EF7FBD2B1A0A11B713949C932A1D367F,
    0x611E9FC37DBB2C9BC1EE9807022C219C23183B0895CA1740196035A77376D8A8,
    0x550663797B51F5D87DEA6482E11238BF2936DF5EC6C9BC36CAE2B1920B57F4BC,
    0x157164848AECB8510AFA40018D9D50E59FB3D576DBDEFBE144FFE216348A964C,
    0xEB5D7745B21141EAA2E8F483F43E43917CCD84E70D715F26E48ECAFFFC5CDE01,
    0xEAFD72EBDBECC17B0990E6A158006CEE85F22CFE2844B645CAC917E2731A3479,
    0xA6D39677A78492762736FF8344315FC596439591A3C6B94A6CF20FFB313728BE,
    0x674F84749B0B881666B8BABD2D27ECDF824A920C2284059BF2BAB833C357F5F4,
    0x4E769E7672C9DDAD31855F7DB8C7FEDB74E02F080203A56B2DF48C04677C8A3E,
    0x42B99082DE8306631EC0057206947281FB9AE16F3B9122A5A4C36165B824BBB0,
    0x78878EF61C6CE04D7FDC1CA008A1C478D1F89E799C0CE1316EF95150DDA868B9,
    0xB6CB3F5D7B72C321DE53142C12309DEF6ACE570EBDE08D4F9C62B9121FE0D976,
    0x0C88BC4D716B1287595C5220812FFCAE5B82DD5BD54FB4967F991ED2C31A3573,
    0xDD5DDEA3F3901DC618D1B5B39C04E6AA7C8181F4DF2564F33A57BF635F48ACA8,
    0x68F344AF6B317466EFE0A423083E49F343A0A28C42BA792FE96A79FB3E72AD0C,
    0x31B9C405F8540A20604ED93C24D67FF3668BFC2271F5C626CDFE17DB3FB24D4A,
    0x4052BF4B6F461DB9663C62C3EDBAD7A00D1A10144EC39C28D36B4789A2582E7F,
    0xFECF4D5190B0FC61862BE6BD71D70CC8E724F33999BFCC5B235A27C3188D25EB,
    0x1EDDBAE2C802E41A123202A8F62BFF7AAFDF5CC08526A7A474346C10A1D4CFAC,
    0x43104D86560EBCFC0C45F45273DB33A036E06B7E4C7019178FA0AF2DD603F844,
    0xB48E26B484F7A21C0A4A46FB6AAF363A66B0DE3225C4744B9615B5110D1D78E5,
    0xFAC015404D4D3DAB64131BCDFED6F668C004E4048B7B0F9806EBB0F621A01B2D,
)
