# The asyncio layer's CPython forms of what MicroPython's asyncio has (mctp.aio.flag and
# mctp.aio.watch import them there). In no part: MicroPython never imports this, so a board
# neither installs nor freezes it; pip installs it with the package.

import asyncio


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


def readable(stream):
    """Wait until `stream` has bytes to read (or is closed)."""
    return _ready(stream, False)


def writable(stream):
    """Wait until `stream` takes bytes (or is closed)."""
    return _ready(stream, True)


async def _ready(stream, write):
    # By its descriptor, taken now: a socket closed while this waits has none (-1) when the
    # reader is removed, and the selector refuses it ("Invalid file descriptor").
    fd = stream if isinstance(stream, int) else stream.fileno()
    if fd < 0:
        return  # closed
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    if write:
        loop.add_writer(fd, _settle, ready)
    else:
        loop.add_reader(fd, _settle, ready)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _settle(future):
    # The reader's callback may run again before the waiting task does.
    if not future.done():
        future.set_result(None)


def wait_for_ms(awaitable, ms):
    """asyncio.wait_for with the timeout in milliseconds, as MicroPython's."""
    return asyncio.wait_for(awaitable, ms / 1000)
