# AsyncClient (mctp.aio.client), the awaitable in-process client under AsyncStack: a receive
# that times out or is cancelled is withdrawn from the server, and a cancelled task releases its
# channel.

import asyncio

from test_aio_stack import ECHO, Rig, run
from testing import raises

from mctp import MctpError, ResponseCode


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
