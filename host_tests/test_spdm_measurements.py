# The measurement blocks (mctp/spdm/measurements.py): the DMTF block format byte for byte, the
# firmware's version text, the SHA-256 over module files (a change in a file changes it; a
# package with no files hashes the image's build line instead), the configuration's digest, the
# blocks by index, raw or digest, and the measurement summary hashes.

import hashlib
import sys

from testing import IS_MICROPYTHON, raises, skip

from mctp.spdm import measurements
from mctp.spdm.measurements import Measurements, block, config_digest, firmware_version


class Config:
    I2C_ADDR = 0x1D
    EID = None
    VENDOR_ID = 0xFFFF
    lower_case = "not a setting"


def test_a_block_byte_for_byte():
    value = bytes(range(32))
    assert block(2, 0x01, value) == bytes((2, 1, 35, 0, 0x01, 32, 0)) + value
    assert block(1, 0x86, b"v1") == bytes((1, 1, 5, 0, 0x86, 2, 0)) + b"v1"


def test_the_firmware_version_names_the_interpreter():
    text = firmware_version()
    name = sys.implementation.name.encode()
    version = ".".join(str(n) for n in sys.implementation.version[:3]).encode()
    assert text.startswith(name + b" " + version), text


def test_the_configuration_digest_covers_the_upper_case_settings_only():
    expected = hashlib.sha256(b"EID=None\nI2C_ADDR=29\nVENDOR_ID=65535\n").digest()
    assert config_digest(Config) == expected
    Config.EID = 9
    try:
        assert config_digest(Config) != expected
    finally:
        Config.EID = None


def test_the_modules_digest_follows_the_files():
    import os  # noqa: PLC0415

    if IS_MICROPYTHON and not hasattr(os, "mkdir"):
        skip("needs a filesystem")
    root = "/tmp/mctp-spdm-measure-%d" % (hashlib.sha256(firmware_version()).digest()[0])
    package = root + "/spdm_measured"
    for path in (root, package, package + "/__pycache__"):
        try:
            os.mkdir(path)
        except OSError:
            skip("needs a filesystem")
    files = {"__init__.py": b"", "a.py": b"A = 1\n", "b.mpy": b"M\x06", "notes.txt": b"x"}
    for name, data in files.items():
        with open(package + "/" + name, "wb") as f:
            f.write(data)
    sys.path.insert(0, root)
    try:
        first = measurements.modules_digest(("spdm_measured",))
        expected = hashlib.sha256(
            b"spdm_measured/__init__.py\x00"
            + b"spdm_measured/a.py\x00A = 1\n"
            + b"spdm_measured/b.mpy\x00M\x06"
        ).digest()
        assert first == expected  # (.py and .mpy files only, by path; __pycache__ skipped)
        with open(package + "/a.py", "wb") as f:
            f.write(b"A = 2\n")
        assert measurements.modules_digest(("spdm_measured",)) != first
    finally:
        sys.path.pop(0)
        sys.modules.pop("spdm_measured", None)
        for name in files:
            os.remove(package + "/" + name)
        os.rmdir(package + "/__pycache__")
        os.rmdir(package)
        os.rmdir(root)


def test_a_package_without_files_hashes_the_image_build_line():
    # A frozen package (or any without a folder of files): its name and the firmware's
    # version line, which names the image that carries it.
    class Frozen:  # (MicroPython makes no module objects from Python: a stand-in)
        __file__ = ".frozen/spdm_frozen/__init__.py"

    sys.modules["spdm_frozen"] = Frozen
    try:
        digest = measurements.modules_digest(("spdm_frozen",))
    finally:
        del sys.modules["spdm_frozen"]
    assert digest == hashlib.sha256(b"frozen spdm_frozen " + firmware_version()).digest()


def test_blocks_by_index_raw_or_digest_and_the_summaries():
    one = hashlib.sha256(b"one").digest()
    two = hashlib.sha256(b"two").digest()
    found = Measurements(((2, 0x03, None, two), (1, 0x06, b"one", one)))
    assert found.count() == 2
    assert found.block(1, False) == block(1, 0x06, one)
    assert found.block(1, True) == block(1, 0x86, b"one")
    assert found.block(2, True) == block(2, 0x03, two)  # no raw value: the digest
    assert found.block(3, False) is None
    assert found.blocks(False) == block(1, 0x06, one) + block(2, 0x03, two)
    assert found.summary(False) == hashlib.sha256(found.blocks(False)).digest()
    assert found.summary(True) == hashlib.sha256(b"").digest()  # no firmware block
    firmware = Measurements(((1, 0x01, None, one), (2, 0x03, None, two)))
    assert firmware.summary(True) == hashlib.sha256(block(1, 0x01, one)).digest()
    with raises(ValueError) as caught:
        Measurements(((0, 0x01, None, one),))
    assert str(caught.value) == "a measurement index is 1..254 with a 32-byte digest"


def test_the_firmware_measurements():
    found = measurements.firmware_measurements(Config)
    assert [entry[:2] for entry in found.entries] == [(1, 0x06), (2, 0x01), (3, 0x03)]
    assert found.entries[0][2] == firmware_version()
    assert found.entries[2][3] == config_digest(Config)
