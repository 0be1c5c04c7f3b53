# The differences _compat covers, and the byte copy: the ticks functions must wrap like
# MicroPython's, at 2**30 on boards (and on CPython, so wrap bugs show on the host) and at 2**62
# on the 64-bit unix port; copy_into must copy like a slice at every alignment.

from testing import IS_MICROPYTHON, raises

from mctp._compat import TICKS_MAX, const, ticks_add, ticks_diff, ticks_ms


def test_const_is_identity():
    assert const(42) == 42


def test_tick_period_matches_the_interpreter():
    if IS_MICROPYTHON:
        assert TICKS_MAX in ((1 << 30) - 1, (1 << 62) - 1)
    else:
        assert TICKS_MAX == (1 << 30) - 1


def test_ticks_ms_stays_in_the_tick_range():
    assert 0 <= ticks_ms() <= TICKS_MAX


def test_ticks_add_wraps():
    assert ticks_add(TICKS_MAX, 1) == 0
    assert ticks_add(5, -10) == TICKS_MAX - 4
    assert ticks_add(100, 0) == 100


def test_ticks_diff_across_the_wrap():
    start = TICKS_MAX - 49
    end = ticks_add(start, 100)
    assert end == 50
    assert ticks_diff(end, start) == 100
    assert ticks_diff(start, end) == -100
    assert ticks_diff(7, 7) == 0


def test_copy_into_copies_every_alignment_like_a_slice_and_checks_its_ranges():
    # Words where both ends share an alignment, bytes otherwise: every offset pair mod 4 and
    # lengths around a word, on both versions where the viper one exists.
    from mctp import bufcopy  # noqa: PLC0415

    src = bytearray(80)
    for i in range(80):
        src[i] = (i * 7 + 3) & 0xFF
    versions = [bufcopy.copy_into_py]
    if bufcopy.copy_into is not bufcopy.copy_into_py:
        versions.append(bufcopy.copy_into)
    for copy_into in versions:
        for dst_off in range(4):
            for src_off in range(4):
                for n in (0, 1, 3, 4, 5, 8, 13, 64):
                    dst = bytearray(80)
                    copy_into(dst, dst_off, src, src_off, n)
                    expected = bytearray(80)
                    expected[dst_off : dst_off + n] = src[src_off : src_off + n]
                    assert dst == expected, (dst_off, src_off, n)
        for bad in ((-1, 0, 1), (0, -1, 1), (0, 0, -1), (79, 0, 2), (0, 79, 2)):
            with raises(ValueError):
                copy_into(bytearray(80), bad[0], src, bad[1], bad[2])
