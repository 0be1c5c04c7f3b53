# The asm_thumb PEC used on Thumb boards (see mctp.i2c.pec, which imports this under try/except
# before the viper one): the same table loop at about 5 instructions a byte on a Cortex-M0,
# where the viper loop takes 24, four bytes a turn. Each argument costs its callers (viper
# code: the frame check, the I2C link's transmit) a conversion in the call, so the length and
# the start value share one, n << 8 | crc, as copy_span's length and offset do
# (mctp._copy_asm). The table sits in the code itself and the bl over it leaves its address in
# lr (test_viper_twins checks every entry).

# ruff: noqa: F821
# (F821: the inline assembler's instruction and register names)

import micropython

_len = len  # [builtin-global]


# fmt: off
@micropython.asm_thumb
def pec_span(r0, r1, r2):
    # pec(buf, off, n, crc) without the range check, for callers that have checked it: r0 the
    # buffer's address, r1 off, r2 n << 8 | crc (crc the CRC so far, n below 2 ** 22).
    add(r0, r0, r1)  # r0: the start
    lsl(r3, r2, 24)
    lsr(r3, r3, 24)  # r3: the CRC
    lsr(r2, r2, 8)
    add(r1, r0, r2)  # r1: the end
    bl(code)
    data(4, 0x090e0700, 0x15121b1c, 0x31363f38, 0x2d2a2324, 0x797e7770, 0x65626b6c, 0x41464f48, 0x5d5a5354)
    data(4, 0xe9eee7e0, 0xf5f2fbfc, 0xd1d6dfd8, 0xcdcac3c4, 0x999e9790, 0x85828b8c, 0xa1a6afa8, 0xbdbab3b4)
    data(4, 0xcec9c0c7, 0xd2d5dcdb, 0xf6f1f8ff, 0xeaede4e3, 0xbeb9b0b7, 0xa2a5acab, 0x8681888f, 0x9a9d9493)
    data(4, 0x2e292027, 0x32353c3b, 0x1611181f, 0x0a0d0403, 0x5e595057, 0x42454c4b, 0x6661686f, 0x7a7d7473)
    data(4, 0x80878e89, 0x9c9b9295, 0xb8bfb6b1, 0xa4a3aaad, 0xf0f7fef9, 0xecebe2e5, 0xc8cfc6c1, 0xd4d3dadd)
    data(4, 0x60676e69, 0x7c7b7275, 0x585f5651, 0x44434a4d, 0x10171e19, 0x0c0b0205, 0x282f2621, 0x34333a3d)
    data(4, 0x4740494e, 0x5b5c5552, 0x7f787176, 0x63646d6a, 0x3730393e, 0x2b2c2522, 0x0f080106, 0x13141d1a)
    data(4, 0xa7a0a9ae, 0xbbbcb5b2, 0x9f989196, 0x83848d8a, 0xd7d0d9de, 0xcbccc5c2, 0xefe8e1e6, 0xf3f4fdfa)
    label(code)
    mov(r4, lr)  # the table's address + 1 (the Thumb bit)
    sub(r4, 1)
    mov(r5, r1)
    sub(r5, 3)  # r5: the last start of four whole bytes
    b(check4)
    label(loop4)
    ldrb(r2, [r0, 0])
    eor(r3, r2)
    add(r3, r3, r4)
    ldrb(r3, [r3, 0])
    ldrb(r2, [r0, 1])
    eor(r3, r2)
    add(r3, r3, r4)
    ldrb(r3, [r3, 0])
    ldrb(r2, [r0, 2])
    eor(r3, r2)
    add(r3, r3, r4)
    ldrb(r3, [r3, 0])
    ldrb(r2, [r0, 3])
    eor(r3, r2)
    add(r3, r3, r4)
    ldrb(r3, [r3, 0])
    add(r0, 4)
    label(check4)
    cmp(r0, r5)
    bcc(loop4)
    b(check1)
    label(loop1)
    ldrb(r2, [r0, 0])
    eor(r3, r2)
    add(r3, r3, r4)
    ldrb(r3, [r3, 0])
    add(r0, 1)
    label(check1)
    cmp(r0, r1)
    bcc(loop1)
    mov(r0, r3)
# fmt: on


@micropython.viper
def pec(buf, off: int, n: int, crc: int) -> int:
    if off < 0 or n < 0 or off + n > int(_len(buf)):
        raise ValueError("PEC range out of the buffer")
    return int(pec_span(buf, off, n << 8 | crc))
