# copy_into(dst, dst_off, src, src_off, n): copy n bytes between buffers, allocating nothing.
#
# Bytecode cannot copy part of a buffer without slicing the source, which allocates ([no-alloc]),
# so boards use a viper function; the pure-Python version gives the same results ([viper-twin]).


def copy_into_py(dst, dst_off, src, src_off, n):
    if dst_off < 0 or src_off < 0 or n < 0:
        raise ValueError("negative offset or length")
    if dst_off + n > len(dst) or src_off + n > len(src):
        raise ValueError("copy out of range")
    dst[dst_off : dst_off + n] = memoryview(src)[src_off : src_off + n]


try:
    from ._copy_viper import copy_into
except (ImportError, SyntaxError):
    copy_into = copy_into_py
