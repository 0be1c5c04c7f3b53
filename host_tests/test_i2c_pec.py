# The SMBus PEC: the check value, the table against the polynomial, and no allocation (the
# viper version against the pure-Python one: test_viper_twins.py).

from testing import heap_locked

from mctp.i2c._pec_table import TABLE
from mctp.i2c.pec import pec, pec_py


def bitwise_crc8(data, crc=0):
    # The definition: CRC-8, polynomial x^8 + x^2 + x + 1, MSB first, init 0, no final xor.
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def test_check_value():
    assert pec(b"123456789", 0, 9, 0) == 0xF4
    assert pec_py(b"123456789", 0, 9, 0) == 0xF4


def test_table_matches_the_polynomial():
    assert len(TABLE) == 256
    for i in range(256):
        assert TABLE[i] == bitwise_crc8(bytes((i,)))


def test_continuing_over_the_address_byte():
    frame = bytes.fromhex("3A 0F 08 21 01 00 08 C8 00 80 02")
    assert pec(frame, 1, len(frame) - 1, TABLE[0x3A]) == 0x56 == pec(frame, 0, len(frame), 0)


def test_pec_allocates_nothing():
    frame = bytearray(range(72))
    results = [0]
    results[0] = pec(frame, 0, 72, 0)
    with heap_locked():
        results[0] = pec(frame, 0, 72, 0)
    assert results[0] == bitwise_crc8(frame)
