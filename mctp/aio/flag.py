# What the asyncio layer needs of asyncio that the two interpreters spell differently:
#   - ThreadSafeFlag, a flag an interrupt handler may set: MicroPython's (the I2C target's IRQ
#     sets the stack task's); on CPython, where the host buses set it from the event loop's own
#     thread, a flag bound to no loop that clears when its waiter wakes;
#   - Flag, for one task to wake another: on MicroPython an allocation-free flag with a timed
#     wait (mctp.aio._task_flag; a ThreadSafeFlag wakes through the I/O poller, about a
#     millisecond a wake on the unix port), on CPython the same as its ThreadSafeFlag;
#   - wait_ms, a wait on a flag bounded in milliseconds;
#   - run_others, a pause that lets every ready task run first.

import asyncio

try:
    from asyncio import ThreadSafeFlag  # MicroPython

    from ._task_flag import Flag
except ImportError:

    class ThreadSafeFlag:
        """MicroPython's asyncio.ThreadSafeFlag for CPython: set() wakes the task waiting in
        wait(), which clears the flag as it returns. Bound to no event loop (each wait uses
        the running one), so one flag serves successive asyncio.run calls."""

        def __init__(self):
            self._set = False
            self._waiter = None

        def set(self):
            self._set = True
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)

        def clear(self):
            self._set = False

        async def wait(self):
            if not self._set:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            self._set = False

        def sleep(self):
            """As MicroPython's Flag's (mctp.aio._task_flag): a step of a hand-made awaitable
            that waits for ever: False when the flag is set (it is clear now), else the future
            the step yields to the task, done when set() is called."""
            self._waiter = None
            if self._set:
                self._set = False
                return False
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            waiter._asyncio_future_blocking = True  # (what a future's own await sets)
            return waiter

        def abandon(self):
            """The awaitable given up (cancelled) while its task slept in sleep()."""
            self._waiter = None

    Flag = ThreadSafeFlag

try:
    _wait_for_ms = asyncio.wait_for_ms  # MicroPython
    _sleep_ms = asyncio.sleep_ms

    def wait_ms(flag, ms):
        """Await until `flag` is set or `ms` have passed; True when it was set."""
        if type(flag) is Flag:
            return flag.wait_ms(ms)  # allocates nothing
        return _wait_for(flag, ms)

    async def _wait_for(flag, ms):
        try:
            await _wait_for_ms(flag.wait(), ms)
            return True
        except asyncio.TimeoutError:
            return False

    def run_others():
        """Await this to let every task that is ready run first."""
        return _sleep_ms(0)  # (asyncio.sleep(0) makes a float)

except AttributeError:

    async def wait_ms(flag, ms):
        """Await until `flag` is set or `ms` have passed; True when it was set."""
        try:
            await asyncio.wait_for(flag.wait(), ms / 1000)
            return True
        except asyncio.TimeoutError:
            return False

    def run_others():
        """Await this to let every task that is ready run first."""
        return asyncio.sleep(0)
