# What the responder measures (DMTF measurement blocks, DSP0274 1.2 "Measurement block format"),
# taken once at start:
#   1  the firmware's version and build (MicroPython's sys.implementation and os.uname(); on
#      CPython the same), as text: DMTFSpecMeasurementValueType 0x06, mutable firmware version
#   2  a SHA-256 over the `mctp` and `firmware` packages' module files (.py and .mpy, by path,
#      sorted): type 0x01, mutable firmware. Frozen into the firmware image, a package has no
#      files: then its name and the image's build line (os.uname().version, which names the
#      firmware's commit and date) are hashed, the image standing for the modules in it.
#   3  a SHA-256 over the board configuration (the board_config module's UPPER_CASE settings,
#      NAME=repr(value) a line each, sorted): type 0x03, firmware configuration
# A block's value is the SHA-256 digest, or with RawBitStreamRequested the raw text where there
# is one (block 1).

import os
import sys
from hashlib import sha256

from .messages import HASH_SIZE, MEASUREMENT_SPEC_DMTF

TYPE_MUTABLE_FIRMWARE = 0x01
TYPE_FIRMWARE_CONFIG = 0x03
TYPE_FIRMWARE_VERSION = 0x06
RAW = 0x80  # DMTFSpecMeasurementValueType bit 7: the value is a raw bit stream
PACKAGES = ("mctp", "firmware")
_CHUNK = 256


def block(index, value_type, value):
    """One measurement block in the DMTF format: Index, MeasurementSpecification, size, then
    DMTFSpecMeasurementValueType, its size and the value."""
    size = 3 + len(value)
    return (
        bytes((index, MEASUREMENT_SPEC_DMTF, size & 0xFF, size >> 8, value_type))
        + bytes((len(value) & 0xFF, len(value) >> 8))
        + value
    )


def firmware_version():
    """The interpreter and its build, as text."""
    impl = sys.implementation
    parts = [impl.name, ".".join(str(n) for n in impl.version[:3])]
    build = getattr(impl, "_build", None)
    if build:
        parts.append(build)
    uname = getattr(os, "uname", None)
    if uname is not None:
        u = uname()
        parts.extend((u.sysname, u.release, u.version, u.machine))
    return " ".join(parts).encode()


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except (OSError, AttributeError):  # (a port without a filesystem has no os.stat)
        return False


def _hash_tree(digest, root, prefix, buf):
    for name in sorted(os.listdir(root)):
        path = root + "/" + name
        if _is_dir(path):
            if name != "__pycache__":
                _hash_tree(digest, path, prefix + name + "/", buf)
        elif name.endswith(".py") or name.endswith(".mpy"):
            digest.update((prefix + name).encode() + b"\x00")
            with open(path, "rb") as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    digest.update(buf[:n] if n < _CHUNK else buf)


def modules_digest(packages=PACKAGES):
    """SHA-256 over the packages' module files, or for a frozen one, its name and the
    firmware image's build line (see above)."""
    digest = sha256()
    buf = bytearray(_CHUNK)
    for name in packages:
        module = __import__(name)
        where = getattr(module, "__file__", "") or ""
        root = where.rpartition("/")[0]
        if root and _is_dir(root):
            _hash_tree(digest, root, name + "/", buf)
        else:
            digest.update(b"frozen " + name.encode() + b" " + firmware_version())
    return digest.digest()


def config_digest(config):
    """SHA-256 over a configuration module's UPPER_CASE settings."""
    lines = sorted(
        "%s=%r\n" % (name, getattr(config, name)) for name in dir(config) if name.isupper()
    )
    return sha256("".join(lines).encode()).digest()


class Measurements:
    """The measurement blocks a responder reports: `entries` are (index, type, raw value or
    None, digest) by index; blocks() gives each block's bytes, raw where asked and there is
    one."""

    def __init__(self, entries):
        self.entries = sorted(entries)
        for index, _, _, digest in self.entries:
            if not 0 < index < 0xFF or len(digest) != HASH_SIZE:
                raise ValueError("a measurement index is 1..254 with a 32-byte digest")

    def count(self):
        return len(self.entries)

    def block(self, index, raw):
        """The block of `index` (bytes), or None when there is none."""
        for at, value_type, value, digest in self.entries:
            if at == index:
                if raw and value is not None:
                    return block(at, value_type | RAW, value)
                return block(at, value_type, digest)
        return None

    def blocks(self, raw):
        return b"".join(self.block(entry[0], raw) for entry in self.entries)

    def summary(self, tcb_only):
        """The measurement summary hash of CHALLENGE_AUTH: the SHA-256 of all the blocks
        (digest form), or with `tcb_only` of the firmware ones (types 0x00 and 0x01, the code
        that runs)."""
        digest = sha256()
        for index, value_type, _, _ in self.entries:
            if not tcb_only or value_type <= TYPE_MUTABLE_FIRMWARE:
                digest.update(self.block(index, False))
        return digest.digest()


def firmware_measurements(config):
    """The three blocks above for this interpreter, these packages and `config`."""
    version = firmware_version()
    return Measurements(
        (
            (1, TYPE_FIRMWARE_VERSION, version, sha256(version).digest()),
            (2, TYPE_MUTABLE_FIRMWARE, None, modules_digest()),
            (3, TYPE_FIRMWARE_CONFIG, None, config_digest(config)),
        )
    )
