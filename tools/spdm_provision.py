# Provisioning for the SPDM responder: `--help` prints USAGE. Needs `cryptography` (PyPI): runs
# on CPython, on the machine that provisions, never on a board.

import os
import sys

USAGE = """usage: spdm_provision.py OUTDIR [--name NAME] [--days N]

Make a device key and an ECDSA P-256 / SHA-256 certificate chain for the endpoint's SPDM
responder (firmware/spdm.py), shaped as libspdm's sample chains: a self-signed root CA, an
intermediate CA, and the device's leaf (basicConstraints CA:false, keyUsage digitalSignature,
the SPDM responder-authentication EKU 1.3.6.1.4.1.412.274.3, and the SPDM extension
1.3.6.1.4.1.412.274.6 naming the hardware-identity OID 1.3.6.1.4.1.412.274.2). It writes:

  OUTDIR/root.der     the root certificate (DER): what a verifier trusts
  OUTDIR/chain.der    root, intermediate and leaf certificates (DER), concatenated: what the
                      responder serves in slot 0
  OUTDIR/device.key   the leaf's private key: its 32-byte P-256 scalar, big endian

and no other key: the CA keys are dropped, so this chain cannot sign another device. Turn the
responder on with them:

  python3 tools/run_endpoint.py --i2c-udp 47301:47302 --eid 9 --spdm OUTDIR
  mpremote mkdir :/spdm + cp OUTDIR/chain.der :/spdm/chain.der \\
      + cp OUTDIR/device.key :/spdm/device.key      (then SPDM_FOLDER = "/spdm" in board_config)

A board's flash can be read by whoever holds the board: this is a development and test
identity, not a production root of trust (docs/spdm.md).

Options:
  --name NAME   the subject names' common prefix (default "MCTP endpoint")
  --days N      validity from now, in days (default 3650)
"""

ROOT_FILE = "root.der"
CHAIN_FILE = "chain.der"
KEY_FILE = "device.key"
SPDM_RESPONDER_AUTH = "1.3.6.1.4.1.412.274.3"
SPDM_EXTENSION = "1.3.6.1.4.1.412.274.6"
# The SPDM extension's value: SEQUENCE { SEQUENCE { OID 1.3.6.1.4.1.412.274.2 } }, the
# hardware-identity OID (the device certificate model), as libspdm's sample leaf has it.
HARDWARE_IDENTITY = bytes.fromhex("300e300c060a2b06010401831c821202")


def _fail(message):
    sys.stderr.write("spdm_provision.py: %s\n" % message)
    sys.exit(2)


def make_chain(name="MCTP endpoint", days=3650):
    """(root DER, chain DER, the leaf's 32-byte private scalar)."""
    import datetime as dt  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    names = [
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "%s %s" % (name, role))])
        for role in ("root CA", "intermediate CA", "SPDM responder")
    ]

    def usage(ca):
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=not ca,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    certs = []
    for i in range(3):
        issuer = max(i - 1, 0)
        ca = i < 2
        builder = (
            x509.CertificateBuilder()
            .subject_name(names[i])
            .issuer_name(names[issuer])
            .public_key(keys[i].public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage(ca), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(keys[i].public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(keys[issuer].public_key()),
                critical=False,
            )
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([x509.ObjectIdentifier(SPDM_RESPONDER_AUTH)]),
                critical=True,
            ).add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier(SPDM_EXTENSION), HARDWARE_IDENTITY
                ),
                critical=False,
            )
        cert = builder.sign(keys[issuer], hashes.SHA256())
        certs.append(cert.public_bytes(serialization.Encoding.DER))
    scalar = keys[2].private_numbers().private_value.to_bytes(32, "big")
    return certs[0], b"".join(certs), scalar


def write(outdir, name="MCTP endpoint", days=3650):
    """Make the chain and key and write them into `outdir` (made if need be); the paths."""
    root, chain, key = make_chain(name, days)
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for filename, data in ((ROOT_FILE, root), (CHAIN_FILE, chain), (KEY_FILE, key)):
        path = os.path.join(outdir, filename)
        # The key readable by its owner only; the certificates by anyone.
        mode = 0o600 if filename == KEY_FILE else 0o644
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        paths.append(path)
    return paths


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    outdir = None
    name = "MCTP endpoint"
    days = 3650
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--name", "--days"):
            if i + 1 == len(argv):
                _fail("%s needs a value" % arg)
            if arg == "--name":
                name = argv[i + 1]
            else:
                try:
                    days = int(argv[i + 1])
                except ValueError:
                    days = 0
                if not 1 <= days <= 36500:
                    _fail("--days: give 1..36500, not %r" % argv[i + 1])
            i += 2
        elif arg.startswith("-") or outdir is not None:
            _fail("unexpected argument %r (--help for usage)" % arg)
        else:
            outdir = arg
            i += 1
    if outdir is None:
        _fail("give OUTDIR (--help for usage)")
    try:
        import cryptography  # noqa: F401, PLC0415
    except ImportError:
        _fail("needs the cryptography package: pip install cryptography")
    for path in write(outdir, name, days):
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
