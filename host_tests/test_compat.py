# The differences _compat covers: the ticks functions must wrap like MicroPython's, at 2**30 on
# boards (and on CPython, so wrap bugs show on the host) and at 2**62 on the 64-bit unix port.
# (The byte copy, copy_into, is tested with its viper twin in test_viper_twins.py.)

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
