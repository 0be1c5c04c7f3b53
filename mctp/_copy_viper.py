# The viper (machine code) byte copy used on MicroPython boards and the unix port. Imported by
# mctp.bufcopy under try/except: CPython, and MicroPython builds without the viper emitter, use
# the pure-Python copy there, which gives the same bytes.

import micropython


@micropython.viper
def copy_into(dst, dst_off: int, src, src_off: int, n: int):
    # Bounds are checked here because viper pointers are not: a bad range must never write past
    # the end of a buffer.
    if dst_off < 0 or src_off < 0 or n < 0:
        raise ValueError("negative offset or length")
    if dst_off + n > int(len(dst)) or src_off + n > int(len(src)):
        raise ValueError("copy out of range")
    d = ptr8(dst)
    s = ptr8(src)
    i = 0
    while i < n:
        d[dst_off + i] = s[src_off + i]
        i += 1
