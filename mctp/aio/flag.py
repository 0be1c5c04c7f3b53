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
except ImportError:  # CPython: the same names, from a module MicroPython never loads
    from ._cpython import Flag, ThreadSafeFlag, run_others, wait_ms  # noqa: F401
else:
    from ._task_flag import Flag

    _wait_for_ms = asyncio.wait_for_ms
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
