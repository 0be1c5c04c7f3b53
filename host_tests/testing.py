# What the tests need beyond `assert`, for pytest on CPython and for mprun.py on MicroPython.

import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"

try:
    import pytest

    skip = pytest.skip
    SkipTest = pytest.skip.Exception
except ImportError:

    class SkipTest(Exception):
        pass

    def skip(reason):
        raise SkipTest(reason)


def needs_socket():
    """Skip the calling test on a port without sockets (bare metal): it needs the host."""
    try:
        import socket  # noqa: F401, PLC0415
    except ImportError:
        skip("no socket module on this port")


class raises:
    """`with raises(MctpError) as caught:` ... then inspect `caught.value`."""

    def __init__(self, exc_type):
        self.exc_type = exc_type
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError("expected " + repr(self.exc_type) + ", nothing was raised")
        if not issubclass(exc_type, self.exc_type):
            return False
        self.value = exc
        return True


if IS_MICROPYTHON:
    from micropython import heap_lock, heap_unlock
else:
    # CPython has no heap lock: a heap_locked block runs normally there, so the same test
    # still checks what it computes.
    def heap_lock():
        pass

    def heap_unlock():
        pass


class heap_locked:
    """Run a block with MicroPython's heap locked: any allocation in it raises MemoryError.

    Keep asserts after the block: a failing assert allocates.
    """

    def __enter__(self):
        heap_lock()
        return self

    def __exit__(self, exc_type, exc, tb):
        heap_unlock()
        return False
