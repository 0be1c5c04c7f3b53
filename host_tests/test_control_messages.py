# The control protocol's encodings (mctp.control.messages): a UUID made from a board's unique
# ID (RFC 9562 version 8) and the version entries.

from testing import IS_MICROPYTHON, raises

from mctp.control import format_uuid, parse_version_entry, uuid_from_unique_id, version_entry


def test_uuid_from_a_unique_id():
    rp2 = uuid_from_unique_id(bytes.fromhex("e660583883632b2c"))
    assert rp2 == bytes.fromhex("4d4354500000 80 e6 80 60583883632b2c".replace(" ", ""))
    stm32 = uuid_from_unique_id(bytes(range(1, 13)))
    assert stm32 == bytes.fromhex("4d43010203048005800607 08090a0b0c".replace(" ", ""))
    assert format_uuid(rp2) == "4d435450-0000-80e6-8060-583883632b2c"
    with raises(ValueError):
        uuid_from_unique_id(bytes(15))


def test_version_entries():
    assert version_entry(1, 3, 1) == bytes.fromhex("F1 F3 F1 00")
    assert version_entry(1, 0) == bytes.fromhex("F1 F0 FF 00")
    assert parse_version_entry(bytes.fromhex("F1 F3 F1 00")) == (1, 3, 1, 0)
    assert parse_version_entry(bytes.fromhex("F1 F0 FF 00")) == (1, 0, None, 0)
    with raises(ValueError):
        parse_version_entry(bytes.fromhex("00 F1 F3 F1"))  # pymctp's byte-swapped entry


def test_a_uuid_from_a_unique_id_has_the_version_8_and_variant_bits_and_keeps_every_id_byte():
    # RFC 9562 (which obsoletes RFC 4122): version 8 (custom) in the high four bits of byte 6,
    # variant 10 in the high two of byte 8; IDs of any length 1..14 give distinct UUIDs.
    seen = set()
    for length in range(1, 15):
        for last in (0x00, 0xFF):
            uuid = uuid_from_unique_id(bytes(range(1, length)) + bytes((last,)))
            assert len(uuid) == 16 and (uuid[6] >> 4, uuid[8] >> 6) == (8, 0b10), uuid.hex()
            seen.add(uuid)
    assert len(seen) == 28
    if not IS_MICROPYTHON:
        import uuid as uuid_module  # noqa: PLC0415

        parsed = uuid_module.UUID(bytes=uuid_from_unique_id(bytes.fromhex("e660583883632b2c")))
        assert (parsed.version, parsed.variant) == (8, uuid_module.RFC_4122)
