# Waking the stack task for a stream that has no interrupt of its own: a host bus's socket, a
# pty, standard input, or a board's UART where the port can poll it. Readiness is asked of
# asyncio's own poller, so a task waiting here costs nothing until bytes come (readable) or
# until a stream that was full has room again (writable: a writer must wait on that, not on
# input it is not reading, or it would be woken again and again).
#
#     asyncio.create_task(watch(target.sock, task.wake))   # the UDP I2C bus under asyncio

import asyncio

from .flag import run_others

try:
    from asyncio import core as _core  # MicroPython: its I/O queue, as its own streams use it

    def readable(stream):
        """Wait until `stream` has bytes to read (or is closed)."""
        # A generator, which MicroPython's asyncio runs as a coroutine: what asyncio.Stream's
        # own reads do (there is no public call that waits without reading).
        yield _core._io_queue.queue_read(stream)

    def writable(stream):
        """Wait until `stream` can take bytes (or is closed)."""
        yield _core._io_queue.queue_write(stream)

    _wait_for_ms = asyncio.wait_for_ms

except ImportError:

    async def readable(stream):
        """Wait until `stream` has bytes to read (or is closed)."""
        # By its descriptor, taken now: a socket closed while this waits has none (-1) when the
        # reader is removed, and the selector refuses it ("Invalid file descriptor").
        fd = stream if isinstance(stream, int) else stream.fileno()
        if fd < 0:
            return  # closed
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_reader(fd, _settle, ready)
        try:
            await ready
        finally:
            loop.remove_reader(fd)

    async def writable(stream):
        """Wait until `stream` can take bytes (or is closed)."""
        fd = stream if isinstance(stream, int) else stream.fileno()
        if fd < 0:
            return  # closed
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_writer(fd, _settle, ready)
        try:
            await ready
        finally:
            loop.remove_writer(fd)

    def _settle(future):
        # The reader's callback may run again before the waiting task does.
        if not future.done():
            future.set_result(None)

    def _wait_for_ms(waiting, ms):
        return asyncio.wait_for(waiting, ms / 1000)


async def within_ms(waiting, ms):
    """Await `waiting` (readable(stream), writable(stream)) for `ms` at most; True when it
    ended in time, False when the time ran out (the wait is then withdrawn)."""
    try:
        await _wait_for_ms(waiting, ms)
        return True
    except asyncio.TimeoutError:
        return False


async def watch(stream, wake):
    """Set `wake` (the stack task's flag) whenever `stream` has bytes to read, until
    cancelled. After each wake it lets the stack task run before it looks again: the task's
    poll takes what its link has room for, and what stays unread (a link that holds packets
    back until its owner reads) wakes it again on the next round."""
    while True:
        await readable(stream)
        wake.set()
        await run_others()
