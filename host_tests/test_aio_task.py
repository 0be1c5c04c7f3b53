# The stack task (mctp.aio.task): it does not poll while there is no work, nothing is allocated
# from an IRQ to the task it wakes, and a fault in its work is counted and it goes on.

import asyncio

from test_aio_stack import ECHO, Rig, echo_server, run
from testing import heap_locked, raises

from mctp import MctpError, RecvMetadata
from mctp.aio import StackTask
from mctp.config import Config
from mctp.core import Core
from mctp.server import Server


def test_an_idle_stack_task_does_not_poll_until_there_is_work():
    async def scenario(rig):
        await asyncio.sleep(0.1)  # no traffic, no timers: each task polled once, then slept
        idle = [t.polls for t in rig.tasks.values()]
        async with rig.stacks[8].req(9, 200) as ch:
            await ch.send(ECHO, b"\xff\xff")  # a packet for 9: it wakes 9's task
            with raises(MctpError):
                await ch.recv()  # nobody listens: 8's task wakes for the deadline
        return idle, rig.tasks[9].polls > 1, rig.tasks[8].polls

    idle, woken, polls = run(Rig((8, 9)), scenario)
    assert idle == [1, 1] and woken and 2 <= polls <= 6


def test_from_the_irq_to_the_waiting_task_nothing_is_allocated():
    # The I2C target's IRQ queues each frame of a 1 KiB message and sets the stack task's
    # ThreadSafeFlag; the task's poll completes the message into the receive an async
    # listener has pending and sets its connection's flag. All of it with the heap locked
    # (the coroutines' own objects aside, which exist before and after).
    from endpoints import frame_writes  # noqa: PLC0415
    from mctp.aio.client import AsyncClient  # noqa: PLC0415
    from mctp.core.packet import build_packets  # noqa: PLC0415
    from mctp.host.i2c_sim import SimBus  # noqa: PLC0415
    from mctp.i2c import I2CLink  # noqa: PLC0415

    bus = SimBus()
    core = Core(Config(), eid=9)
    task = StackTask(Server(core))  # its wake: a ThreadSafeFlag, as a board's
    target = bus.target(0x1D)
    core.add_link(I2CLink(bus.controller(), target, 0x1D, wake=task.wake))
    client = AsyncClient(task)
    handle = client.listener(ECHO)
    buf = bytearray(1024)
    meta = RecvMetadata()
    assert not client._start_recv(handle, 0, buf, meta)  # pending, as an awaiting listener's
    message = b"\xff\xff" + bytes(range(200)) * 5
    controller = bus.controller()
    for frame in frame_writes(build_packets(8, 9, 0x08, ECHO, message)):
        controller.writeto(0x1D, frame)  # queued on the simulated bus
    with heap_locked():
        task.server.poll()  # the IRQs fire, the frames are taken, the receive answered
    assert client._conn.ready and client._received(meta) is meta
    assert (meta.payload_size, bytes(buf[: meta.payload_size])) == (len(message), message)
    client.drop_handle(handle)
    assert task.server.check() == [] and task.server.handles_in_use() == 0


def test_a_fault_in_the_stack_tasks_work_is_counted_and_the_task_goes_on():
    async def scenario(rig):
        task = rig.tasks[9]
        seen = []
        task.work = lambda: 1 / 0  # a service with a bug, run after every poll
        task.fault = seen.append
        server = asyncio.create_task(echo_server(rig.stacks[9].listener(ECHO), 1))
        async with rig.stacks[8].req(9, 1000) as ch:
            await ch.send(ECHO, b"\xff\xffstill here")
            _meta, payload = await ch.recv()  # answered all the same
        await server
        return bytes(payload), task.faults > 0, len(seen) == task.faults, rig.held()

    assert run(Rig((8, 9)), scenario) == (b"\xff\xffstill here", True, True, 0)


def test_the_stack_tasks_work_may_be_a_list_each_called_after_every_poll():
    # An endpoint's services: the list itself, so that one added while the task runs is
    # called too; a fault in one is counted as a function's is, and the task goes on.
    async def scenario(rig):
        task = rig.tasks[9]
        calls = []
        task.work = [lambda: calls.append("a")]
        task.fault = calls.append
        server = asyncio.create_task(echo_server(rig.stacks[9].listener(ECHO), 2))
        async with rig.stacks[8].req(9, 1000) as ch:
            await ch.send(ECHO, b"\xff\xffone")
            await ch.recv()
            task.work.append(lambda: 1 / 0)
            await ch.send(ECHO, b"\xff\xfftwo")
            _meta, payload = await ch.recv()
        await server
        faults = [c for c in calls if isinstance(c, ZeroDivisionError)]
        return bytes(payload), "a" in calls, len(faults) == task.faults > 0, rig.held()

    assert run(Rig((8, 9)), scenario) == (b"\xff\xfftwo", True, True, 0)
