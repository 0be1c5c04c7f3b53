# Waking the stack task for a stream that has no interrupt of its own: a host bus's socket, a
# pty, standard input, or a board's UART where the port can poll it. Readiness is asked of
# asyncio's own poller, so a task waiting here costs nothing until bytes come (readable) or
# until a stream that was full has room again (writable: a writer must wait on that, not on
# input it is not reading, or it would be woken again and again). The awaitable clients
# (mctp.aio.ipc, mctp.aio.linux) wait here too, each wait bounded (ready_ms).
#
#     asyncio.create_task(watch(target.sock, task.wake))   # the UDP I2C bus under asyncio

import asyncio

from .flag import run_others

try:
    from asyncio import core as _core  # MicroPython: its I/O queue, as its own streams use it
except ImportError:  # CPython: the same names, from a module MicroPython never loads
    from ._cpython import readable, writable
    from ._cpython import wait_for_ms as _wait_for_ms
else:
    # Generators, which MicroPython's asyncio runs as coroutines: what asyncio.Stream's own
    # reads and writes do (there is no public call that waits without reading or writing).

    def readable(stream):
        """Wait until `stream` has bytes to read (or is closed)."""
        yield _core._io_queue.queue_read(stream)

    def writable(stream):
        """Wait until `stream` takes bytes (or is closed)."""
        yield _core._io_queue.queue_write(stream)

    _wait_for_ms = asyncio.wait_for_ms


async def ready_ms(waiting, ms):
    """Await `waiting` (readable(stream) or writable(stream)) for at most `ms` (< 0: no limit);
    True when it came, False when the time ran out first."""
    if ms < 0:
        await waiting
        return True
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
