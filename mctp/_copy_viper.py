# The viper (machine code) byte copy used on MicroPython boards and the unix port. Imported by
# mctp.bufcopy under try/except: CPython, and MicroPython builds without the viper emitter, use
# the pure-Python copy there, which gives the same bytes.

import micropython

# len, found in this module's globals: the builtin itself is looked up in the globals first and
# then in the builtins, about 800 Cortex-M0 instructions more per call.
_len = len


@micropython.viper
def copy_into(dst, dst_off: int, src, src_off: int, n: int):
    # Bounds are checked here because viper pointers are not: a bad range must never write past
    # the end of a buffer.
    if dst_off < 0 or src_off < 0 or n < 0:
        raise ValueError("negative offset or length")
    if dst_off + n > int(_len(dst)) or src_off + n > int(_len(src)):
        raise ValueError("copy out of range")
    d = ptr8(dst)
    s = ptr8(src)
    end = dst_off + n
    while dst_off < end:
        d[dst_off] = s[src_off]
        dst_off += 1
        src_off += 1
