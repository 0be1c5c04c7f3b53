# copy_into(dst, dst_off, src, src_off, n): copy n bytes between buffers, allocating nothing.
#
# Bytecode cannot copy part of a buffer without slicing the source, which allocates ([no-alloc]),
# so boards use a viper function; the pure-Python version gives the same results ([viper-twin]).
# copy_span(dst, src, src_off, n << 16 | dst_off) is the packet paths': asm_thumb on Thumb boards,
# where it takes 3 instructions a byte on a Cortex-M0 and the viper copy_into 21 unaligned.
# move_span, the same zeroing each source byte it copied, takes a memory-mode I2C target's
# frames out of its memory (mctp.i2c.ring.from_memory).


def copy_into_py(dst, dst_off, src, src_off, n):
    if dst_off < 0 or src_off < 0 or n < 0:
        raise ValueError("negative offset or length")
    if dst_off + n > len(dst) or src_off + n > len(src):
        raise ValueError("copy out of range")
    dst[dst_off : dst_off + n] = memoryview(src)[src_off : src_off + n]


def copy_span_py(dst, src, src_off, n_dst_off):
    # copy_into with the length and the destination offset in one argument, n << 16 | dst_off
    # (n below 16384, dst_off below 65536), as the asm_thumb version takes them; that one
    # checks no range: its callers have checked theirs (fastpath.send_packets).
    copy_into(dst, n_dst_off & 0xFFFF, src, src_off, n_dst_off >> 16)


def move_span_py(dst, src, src_off, n_dst_off):
    copy_span_py(dst, src, src_off, n_dst_off)
    end = src_off + (n_dst_off >> 16)
    while src_off < end:
        src[src_off] = 0
        src_off += 1


try:
    from ._copy_viper import copy_into
except (ImportError, SyntaxError):
    copy_into = copy_into_py

try:
    from ._copy_asm import copy_span, move_span
except (ImportError, SyntaxError):  # not a Thumb port: no inline assembler
    copy_span = copy_span_py
    move_span = move_span_py
