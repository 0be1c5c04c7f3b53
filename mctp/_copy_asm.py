# The asm_thumb copy_span used on Thumb boards (see mctp.bufcopy, which imports it under
# try/except): a byte copy at 3 instructions a byte on a Cortex-M0, four bytes a turn (the viper
# byte loops it replaces in the send path and the receive fast path took 36 to 40). An
# asm_thumb function has four arguments, so the length and the destination offset share the
# last.

# ruff: noqa: F821
# (F821: the inline assembler's instruction and register names)

import micropython


@micropython.asm_thumb
def copy_span(r0, r1, r2, r3):
    # r0 dst's address, r1 src's, r2 src_off, r3 n << 16 | dst_off; no range check.
    lsl(r4, r3, 16)
    lsr(r4, r4, 16)
    add(r0, r0, r4)  # r0: where the bytes go
    add(r1, r1, r2)  # r1: where they come from
    lsr(r3, r3, 16)
    add(r2, r0, r3)  # r2: the end
    sub(r5, r2, 3)  # r5: the last start of four whole bytes
    b(check4)
    label(loop4)
    ldrb(r4, [r1, 0])
    strb(r4, [r0, 0])
    ldrb(r4, [r1, 1])
    strb(r4, [r0, 1])
    ldrb(r4, [r1, 2])
    strb(r4, [r0, 2])
    ldrb(r4, [r1, 3])
    strb(r4, [r0, 3])
    add(r0, 4)
    add(r1, 4)
    label(check4)
    cmp(r0, r5)
    bcc(loop4)
    b(check1)
    label(loop1)
    ldrb(r4, [r1, 0])
    strb(r4, [r0, 0])
    add(r0, 1)
    add(r1, 1)
    label(check1)
    cmp(r0, r2)
    bcc(loop1)


@micropython.asm_thumb
def move_span(r0, r1, r2, r3):
    # copy_span's, each byte zeroed in src once copied (a memory-mode I2C target's frame
    # taken out of its memory): 7 instructions a byte.
    lsl(r4, r3, 16)
    lsr(r4, r4, 16)
    add(r0, r0, r4)  # r0: where the bytes go
    add(r1, r1, r2)  # r1: where they come from
    lsr(r3, r3, 16)
    add(r2, r0, r3)  # r2: the end
    mov(r3, 0)
    b(check)
    label(loop)
    ldrb(r4, [r1, 0])
    strb(r4, [r0, 0])
    strb(r3, [r1, 0])
    add(r0, 1)
    add(r1, 1)
    label(check)
    cmp(r0, r2)
    bcc(loop)
