# The asm_thumb frame_span used on Thumb boards (see mctp.serial.framing, which imports it under
# try/except): frame_packet's bytes, the packet escaped and its FCS-16 computed in one pass at
# about 25 instructions a byte on a Cortex-M0 (the viper frame_packet takes about 170).

# ruff: noqa: F821
# (F821: the inline assembler's instruction and register names)

import micropython


@micropython.asm_thumb
def frame_span(r0, r1, r2):
    # frame_packet(out, packet, n) without its range check, for callers that have checked it:
    # r0 out's address, r1 packet's, r2 n. Returns the frame's length.
    mov(r3, r0)  # r3: the frame's start
    add(r2, r1, r2)  # r2: the packet's end
    mov(r4, 0x7E)  # the opening flag, the revision, the count
    strb(r4, [r0, 0])
    mov(r4, 1)
    strb(r4, [r0, 1])
    sub(r4, r2, r1)
    strb(r4, [r0, 2])
    add(r0, 3)
    mov(r5, 0x1E)  # r5: the FCS, from its value after the revision (0x1E0E), over the count
    lsl(r5, r5, 8)
    add(r5, 0x0E)
    mov(r6, r4)  # the FCS over one byte (r4): x = (b ^ crc) & 0xFF; x ^= (x << 4) & 0xFF;
    eor(r6, r5)  # crc = (x << 8 | crc >> 8) ^ (x >> 4) ^ (x << 3)
    lsl(r6, r6, 24)
    lsr(r6, r6, 24)
    lsl(r7, r6, 4)
    eor(r6, r7)
    lsl(r6, r6, 24)
    lsr(r6, r6, 24)
    lsr(r5, r5, 8)
    lsl(r7, r6, 8)
    orr(r5, r7)
    lsr(r7, r6, 4)
    eor(r5, r7)
    lsl(r7, r6, 3)
    eor(r5, r7)
    b(check)
    label(loop)
    ldrb(r4, [r1, 0])
    mov(r6, r4)  # the FCS over it, as above
    eor(r6, r5)
    lsl(r6, r6, 24)
    lsr(r6, r6, 24)
    lsl(r7, r6, 4)
    eor(r6, r7)
    lsl(r6, r6, 24)
    lsr(r6, r6, 24)
    lsr(r5, r5, 8)
    lsl(r7, r6, 8)
    orr(r5, r7)
    lsr(r7, r6, 4)
    eor(r5, r7)
    lsl(r7, r6, 3)
    eor(r5, r7)
    cmp(r4, 0x7E)  # a flag or an escape goes as 0x7D and the byte ^ 0x20
    beq(escape)
    cmp(r4, 0x7D)
    beq(escape)
    label(store)
    strb(r4, [r0, 0])
    add(r0, 1)
    add(r1, 1)
    label(check)
    cmp(r1, r2)
    bcc(loop)
    b(close)
    label(escape)
    mov(r7, 0x7D)
    strb(r7, [r0, 0])
    add(r0, 1)
    mov(r7, 0x20)
    eor(r4, r7)
    b(store)
    label(close)
    lsr(r4, r5, 8)  # the FCS, most significant byte first, and the closing flag
    strb(r4, [r0, 0])
    strb(r5, [r0, 1])
    mov(r4, 0x7E)
    strb(r4, [r0, 2])
    add(r0, 3)
    sub(r0, r0, r3)
