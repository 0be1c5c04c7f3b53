# The serial deframer's byte loop in Thumb machine code, for the viper deframe on Thumb boards
# (mctp.serial.deframer imports it under try/except: elsewhere the viper plain_run runs): the
# packet's plain bytes copied into the frame with the FCS-16 over each, about 24 Cortex-M0
# instructions a byte where the viper loop takes about 100. Only Thumb-1 instructions (a
# Cortex-M0 has no more); no constant loaded from beside the code ([armv6m-literal]).
# plain_run_py is its twin (test_viper_twins).

# ruff: noqa: F821
# (F821: the inline assembler's instruction and register names)

import micropython


@micropython.asm_thumb
def plain_span(r0, r1, r2, r3):
    # mctp.serial.deframer.plain_run_py's: r0 the frame's address, r1 i, r2 the received
    # bytes' address, r3 k | pos << 7 | crc << 14. Returns copied | crc << 7.
    add(r2, r2, r1)  # r2: &src[i]
    lsl(r4, r3, 18)
    lsr(r4, r4, 25)
    add(r0, r0, r4)  # r0: &frame[pos]
    lsl(r1, r3, 25)
    lsr(r1, r1, 25)  # r1: k
    lsr(r3, r3, 14)  # r3: the FCS
    mov(r5, 0)  # r5: bytes copied
    mov(r7, 0xFF)
    label(loop)
    cmp(r5, r1)
    bge(done)
    ldrb(r4, [r2, 0])
    cmp(r4, 0x7D)
    beq(done)
    cmp(r4, 0x7E)
    beq(done)
    strb(r4, [r0, 0])
    eor(r4, r3)  # the FCS over it (mctp.fcs's shifts): x = (b ^ crc) & 0xFF;
    and_(r4, r7)  # x = (x ^ (x << 4)) & 0xFF; crc = (x << 8 | crc >> 8) ^ (x >> 4) ^ (x << 3)
    lsl(r6, r4, 4)
    eor(r4, r6)
    and_(r4, r7)
    lsr(r3, r3, 8)
    lsl(r6, r4, 8)
    orr(r3, r6)
    lsr(r6, r4, 4)
    eor(r3, r6)
    lsl(r6, r4, 3)
    eor(r3, r6)
    add(r0, 1)
    add(r2, 1)
    add(r5, 1)
    b(loop)
    label(done)
    lsl(r0, r3, 7)
    orr(r0, r5)
