# The deframer's two byte loops in Thumb machine code, for the viper deframe on an ARM board
# (mctp.serial._deframer_viper imports them under try/except: elsewhere it runs its own viper
# loops). A byte costs viper code about 200 Cortex-M0 instructions in the state machine and 90
# in the FCS; these loops take 12 and 16. Only Thumb-1 instructions (a Cortex-M0 has no more).
# Both trust their ranges: their one caller checked them. The pure-Python
# deframe is their twin (test_viper_twins runs it against the deframe using them on the boards).

import micropython


@micropython.asm_thumb
def plain_run(r0, r1, r2, r3):
    # Copies bytes from the buffer r2, at r3 >> 16, to the buffer r0, at r1, until a flag (0x7E)
    # or an escape (0x7D), at most r3 & 0xFFFF of them; how many it copied.
    add(r0, r0, r1)
    lsr(r4, r3, 16)
    add(r2, r2, r4)
    lsl(r3, r3, 16)
    lsr(r3, r3, 16)
    mov(r1, 0)
    label(loop)
    cmp(r1, r3)
    bge(done)
    ldrb(r4, [r2, 0])
    cmp(r4, 0x7E)
    beq(done)
    cmp(r4, 0x7D)
    beq(done)
    strb(r4, [r0, 0])
    add(r0, 1)
    add(r2, 1)
    add(r1, 1)
    b(loop)
    label(done)
    mov(r0, r1)


@micropython.asm_thumb
def fcs_run(r0, r1, r2):
    # The FCS-16 r2 continued over the first r1 bytes of the buffer r0 (mctp.fcs's shifts).
    mov(r5, 0xFF)
    cmp(r1, 0)
    beq(done)
    label(loop)
    ldrb(r3, [r0, 0])
    add(r0, 1)
    eor(r3, r2)
    and_(r3, r5)  # x = (b ^ crc) & 0xFF
    lsl(r4, r3, 4)
    eor(r3, r4)
    and_(r3, r5)  # x = (x ^ (x << 4)) & 0xFF
    lsr(r2, r2, 8)
    lsl(r4, r3, 8)
    eor(r2, r4)  # (x << 8) | (crc >> 8): no bit in common
    lsr(r4, r3, 4)
    eor(r2, r4)
    lsl(r4, r3, 3)
    eor(r2, r4)
    sub(r1, 1)
    bne(loop)
    label(done)
    mov(r0, r2)
