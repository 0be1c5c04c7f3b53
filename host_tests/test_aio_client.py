# AsyncClient (mctp.aio.client), the awaitable in-process client under AsyncStack: a receive
# that times out or is cancelled is withdrawn from the server, a cancelled task releases its
# channel, and an awaited receive allocates nothing.

import asyncio

from test_aio_stack import ECHO, Rig, awaited_step, run
from testing import heap_locked, raises

from mctp import MctpError, RecvMetadata, ResponseCode


def test_a_receive_times_out_with_timed_out_and_the_stack_lets_it_go():
    async def scenario(rig):
        async with rig.stacks[8].req(9, 50) as ch:  # nobody listens at EID 9
            await ch.send(ECHO, b"\xff\xff")
            with raises(MctpError) as caught:
                await ch.recv()
            assert caught.value.code == ResponseCode.TIMED_OUT
        return rig.held()

    assert run(Rig((8, 9)), scenario) == 0


def test_a_cancelled_receive_is_withdrawn_and_a_cancelled_task_releases_its_channel():
    async def scenario(rig):
        listener = rig.stacks[9].listener(ECHO)
        with raises(asyncio.TimeoutError):
            await asyncio.wait_for(listener.recv(), 0.05)  # cancelled: withdrawn
        assert rig.servers[9].pending_in_use() == 0
        listener.close()

        async def waits_in_with():
            async with rig.stacks[8].req(9) as ch:  # no timeout of its own
                await ch.send(ECHO, b"\xff\xff")
                await ch.recv()

        task = asyncio.create_task(waits_in_with())
        await asyncio.sleep(0.02)
        assert rig.servers[8].handles_in_use() == 1 and rig.servers[8].pending_in_use() == 1
        task.cancel()
        with raises(asyncio.CancelledError):
            await task
        return rig.held(), rig.servers[8].check(), rig.servers[9].check()

    assert run(Rig((8, 9)), scenario) == (0, [], [])


def test_an_awaited_receive_allocates_nothing():
    # The receive's awaitable is the client's own, made once, not a coroutine per receive
    # (a heap object on MicroPython): with a message waiting, a receive awaited (its step
    # taken as `await` takes it) fills the caller's buffer and meta and returns that meta,
    # the second time with the heap locked (the first with a given meta makes what returns
    # it).
    async def scenario(rig):
        listener = rig.stacks[9].listener(ECHO)
        client = listener._client
        handle = listener._live_handle()
        buf = bytearray(64)
        meta = RecvMetadata()
        results = []
        for text in (b"\xff\xffone", b"\xff\xfftwo"):
            async with rig.stacks[8].req(9) as ch:
                await ch.send(ECHO, text)
                while rig.servers[9].core.pool.in_use() == 0:  # noqa: ASYNC110 (no event)
                    await asyncio.sleep(0)  # the stack task delivers it
                if results:
                    with heap_locked():
                        result = awaited_step(client.recv(handle, 0, buf, meta))
                else:
                    result = awaited_step(client.recv(handle, 0, buf, meta))
                results.append((result is meta, bytes(buf[: meta.payload_size])))
        listener.close()
        return results, rig.held()

    results, held = run(Rig((8, 9)), scenario)
    assert results == [(True, b"\xff\xffone"), (True, b"\xff\xfftwo")] and held == 0


def test_only_a_receive_with_a_deadline_wakes_the_stack_task():
    # A receive with a timeout wakes the stack task, whose nearest timer may be its deadline
    # now; one that waits for ever adds no timer, and the stack task sleeps on.
    async def scenario(rig):
        await asyncio.sleep(0.01)  # the stack tasks poll once and sleep: no timer is due
        task = rig.tasks[9]
        woken = []
        for timeout_ms in (0, 1000):
            listener = rig.stacks[9].listener(ECHO, timeout_ms)
            polls = task.polls
            waiting = asyncio.create_task(listener.recv())
            for _ in range(5):
                await asyncio.sleep(0)
            woken.append(task.polls - polls)
            waiting.cancel()
            try:
                await waiting
            except asyncio.CancelledError:
                pass
            listener.close()
        return woken, rig.held()

    assert run(Rig((8, 9)), scenario) == ([0, 1], 0)
