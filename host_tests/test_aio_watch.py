# Waking the stack task for a stream (mctp.aio.watch): a watched socket sets its flag, and it
# may close under its watcher.

import asyncio

from testing import IS_MICROPYTHON, skip

from mctp.aio import Flag


def test_a_watched_socket_wakes_its_flag_and_may_close_under_its_watcher():
    # mctp.aio.watch: bytes on the socket set the stack task's flag; the socket then closes
    # while its watcher waits (an IPC client gone, its stream closed by the service), and
    # cancelling the watcher, or a watcher started on it afterwards, raises nothing.
    if IS_MICROPYTHON:
        skip("socket.socketpair: CPython's")
    import socket  # noqa: PLC0415

    from mctp.aio import watch  # noqa: PLC0415

    async def scenario():
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        flag = Flag()
        watcher = asyncio.create_task(watch(ours, flag))
        await asyncio.sleep(0.01)
        theirs.send(b"x")
        woken = await asyncio.wait_for(flag.wait(), 1) in (True, None)
        ours.close()
        theirs.close()
        await asyncio.sleep(0.01)
        watcher.cancel()
        try:
            await watcher
        except asyncio.CancelledError:
            pass
        late = asyncio.create_task(watch(ours, flag))  # on a closed socket
        await asyncio.sleep(0.01)
        late.cancel()
        try:
            await late
        except asyncio.CancelledError:
            pass
        return woken

    assert asyncio.run(scenario())
