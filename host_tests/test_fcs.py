# FCS-16 (mctp.fcs), the check of the serial binding's frames and of the IPC stream's.

from mctp.fcs import FCS_INIT, fcs16, fcs_byte


def test_fcs_is_rfc1662_fcs16():
    # CRC-16/MCRF4XX (RFC 1662's FCS-16 without the final complement): check value 0x6F91.
    assert fcs16(b"123456789", 0, 9, 0xFFFF) == 0x6F91


def test_a_byte_at_a_time_gives_what_a_buffer_gives_and_crcs_continue():
    data = b"123456789"
    crc = FCS_INIT
    for b in data:
        crc = fcs_byte(crc, b)
    assert crc == fcs16(data, 0, 9, FCS_INIT) == 0x6F91
    # over part of a buffer, and continued from where a first part left it
    buf = b"xx" + data + b"yy"
    assert fcs16(buf, 2, 9, FCS_INIT) == 0x6F91
    assert fcs16(buf, 6, 5, fcs16(buf, 2, 4, FCS_INIT)) == 0x6F91
    assert fcs16(buf, 0, 0, 0x1234) == 0x1234
