# What the asyncio layer needs of asyncio that the two interpreters spell differently: a flag an
# interrupt handler may set (MicroPython's asyncio.ThreadSafeFlag; on CPython, where the host
# buses set it from the event loop's own thread, an Event that clears when a waiter wakes), and
# a wait on it bounded in milliseconds.

import asyncio

try:
    from asyncio import ThreadSafeFlag
except ImportError:

    class ThreadSafeFlag:
        """MicroPython's asyncio.ThreadSafeFlag for CPython: set() wakes the task waiting in
        wait(), which clears the flag as it returns."""

        def __init__(self):
            self._event = asyncio.Event()

        def set(self):
            self._event.set()

        def clear(self):
            self._event.clear()

        async def wait(self):
            await self._event.wait()
            self._event.clear()


try:
    _wait_for_ms = asyncio.wait_for_ms  # MicroPython

    async def wait_ms(flag, ms):
        """Wait until `flag` is set or `ms` have passed; True when it was set."""
        try:
            await _wait_for_ms(flag.wait(), ms)
            return True
        except asyncio.TimeoutError:
            return False

except AttributeError:

    async def wait_ms(flag, ms):
        """Wait until `flag` is set or `ms` have passed; True when it was set."""
        try:
            await asyncio.wait_for(flag.wait(), ms / 1000)
            return True
        except asyncio.TimeoutError:
            return False
