# Flag (mctp.aio.flag; on MicroPython mctp.aio._task_flag's): it wakes its waiter, times out
# and survives its waiter's cancellation.

import asyncio

from testing import IS_MICROPYTHON

from mctp.aio import Flag


def test_a_flag_wakes_its_waiter_times_out_and_survives_cancellation():
    # mctp.aio.Flag (on MicroPython one of our own, on the scheduler's task queue): a wait
    # for ever and a timed one, each woken by another task, timed out, and cancelled; a flag
    # whose waiter was cancelled works on, and a set() after it disturbs nothing.
    from mctp._compat import ticks_diff, ticks_ms  # noqa: PLC0415
    from mctp.aio.flag import wait_ms  # noqa: PLC0415

    async def set_soon(flag):
        await asyncio.sleep(0.01)
        flag.set()

    async def cancelled(waiting):
        task = asyncio.create_task(waiting)
        await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    async def scenario():
        flag = Flag()
        results = []
        setter = asyncio.create_task(set_soon(flag))
        results.append(await flag.wait() in (True, None))  # woken (CPython's returns None)
        await setter
        setter = asyncio.create_task(set_soon(flag))
        results.append(await wait_ms(flag, 1000))  # woken before its deadline
        await setter
        started = ticks_ms()
        results.append(await wait_ms(flag, 30))  # False: nobody sets it
        waited = ticks_diff(ticks_ms(), started)
        results.append(await cancelled(flag.wait()))
        results.append(await cancelled(wait_ms(flag, 1000)))
        flag.set()  # no waiter now: it stays set for the next wait
        results.append(await wait_ms(flag, 1000))
        await asyncio.sleep(0.01)  # the scheduler runs on, undisturbed
        return results, waited

    results, waited = asyncio.run(scenario())
    if IS_MICROPYTHON:
        asyncio.new_event_loop()
    assert results == [True, True, False, True, True, True]
    assert 30 <= waited < 500
