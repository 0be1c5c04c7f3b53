# The few differences between MicroPython and CPython, in one place.
#
# Every other module imports `const` and the ticks functions from here, so the same files run
# unchanged on a board and on a laptop.

try:
    from micropython import const

    IS_MICROPYTHON = True
except ImportError:

    def const(value):
        return value

    IS_MICROPYTHON = False

try:
    from time import sleep_ms, ticks_add, ticks_diff, ticks_ms

    # The period is 2**30 on 32-bit boards and 2**62 on the 64-bit unix port.
    TICKS_MAX = ticks_add(0, -1)
except ImportError:
    import time as _time

    # MicroPython's ticks wrap at 2**30 on boards; wrapping the same way on CPython makes a
    # wraparound bug show up on the host too.
    TICKS_MAX = const((1 << 30) - 1)
    _TICKS_HALF = const(1 << 29)

    def ticks_ms():
        return int(_time.monotonic() * 1000) & TICKS_MAX

    def sleep_ms(ms):
        _time.sleep(ms / 1000)

    def ticks_add(ticks, delta):
        return (ticks + delta) & TICKS_MAX

    def ticks_diff(end, start):
        return ((end - start + _TICKS_HALF) & TICKS_MAX) - _TICKS_HALF


def unique_id():
    """The board's unique ID (machine.unique_id()), or None where there is none (CPython, the
    unix port)."""
    try:
        import machine  # noqa: PLC0415 (only boards have it)

        return machine.unique_id()
    except (ImportError, AttributeError):
        return None


def format_exception(error):
    """An exception's traceback as text, as both interpreters print it."""
    try:
        from io import StringIO  # noqa: PLC0415
        from sys import print_exception  # noqa: PLC0415 (MicroPython)

        out = StringIO()
        print_exception(error, out)
        return out.getvalue()
    except ImportError:
        import traceback  # noqa: PLC0415 (CPython)

        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
