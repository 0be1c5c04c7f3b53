# AsyncStack (mctp.aio.stack) on both interpreters: awaitable channels over stacks run by their
# StackTasks on a loopback bus whose links wake those tasks, as an I2C link's IRQ would; errors
# as in the blocking API, a closed channel ending the receive another task awaits, many tasks at
# once, a channel's receive that allocates nothing. The asyncio layer's other modules have their
# own files (test_aio_client.py, test_aio_task.py, ...), which use the Rig here.

import asyncio

from testing import IS_MICROPYTHON, heap_locked, raises

from mctp import MctpError, RecvMetadata, ResponseCode
from mctp.aio import AsyncStack, Flag, StackTask, ThreadSafeFlag
from mctp.config import Config
from mctp.core import Core
from mctp.host.loopback import LoopbackBus
from mctp.server import Server

ECHO = 0x7E


class Rig:
    """Stacks on one loopback bus, EID e at address e, each run by its own StackTask; the
    first stack talks to each of the others. The first has `config` and a link `depth` packets
    deep, the others `peer_config` and `peer_depth` (by default the same). The tasks wake on a
    `wake_type` flag: an asyncio.Event (Flag), since only tasks set it here, or the
    ThreadSafeFlag an I2C link's IRQ sets."""

    def __init__(
        self, eids, config=None, depth=32, peer_config=None, peer_depth=None, wake_type=Flag
    ):
        self.bus = LoopbackBus(mtu=64)
        self.stacks = {}
        self.servers = {}
        self.tasks = {}
        links = {}
        for eid in eids:
            first = eid == eids[0]
            core = Core((config if first else peer_config or config) or Config(), eid=eid)
            server = Server(core)
            task = StackTask(server, wake_type())
            deep = depth if first else peer_depth or depth
            links[eid] = core.add_link(self.bus.attach(eid, task.wake, deep))
            self.servers[eid] = server
            self.tasks[eid] = task
            self.stacks[eid] = AsyncStack(task)
        first = eids[0]
        for eid in eids[1:]:  # the first stack and each other one route each other's EID
            self.servers[first].core.add_route(eid, eid, links[first], eid)
            self.servers[eid].core.add_route(first, first, links[eid], first)
        self.running = []

    def start(self):
        self.running = [asyncio.create_task(t.run()) for t in self.tasks.values()]

    async def stop(self):
        for running in self.running:
            running.cancel()
        for running in self.running:
            try:
                await running
            except asyncio.CancelledError:
                pass

    def held(self):
        """Handles, pending receives and messages still held, over all stacks."""
        return sum(
            s.handles_in_use() + s.pending_in_use() + s.core.pool.in_use()
            for s in self.servers.values()
        )


def run(rig, scenario):
    """Run `scenario(rig)` with the rig's stack tasks, on a fresh event loop; its result."""

    async def main():
        rig.start()
        try:
            return await scenario(rig)
        finally:
            await rig.stop()

    try:
        return asyncio.run(main())
    finally:
        if IS_MICROPYTHON:
            # MicroPython keeps one loop across asyncio.run calls, and with it the last run's
            # tasks and all they reference (a board's heap holds one rig, not two).
            asyncio.new_event_loop()


def awaited_step(awaitable):
    """One step of `awaitable`, as `await` takes it: its result, or None when it would sleep."""
    try:
        awaitable.__next__()
        return None
    except StopIteration as done:
        return done.value


async def echo_server(listener, count):
    # Answers `count` echo requests on `listener` (made before the requests are sent, so
    # that they find it), with the allocation-free receive; then closes it.
    with listener:
        buf = bytearray(1024)
        meta = RecvMetadata()
        resp = listener.resp_channel()
        for _ in range(count):
            n = await listener.recv_into(buf, meta, resp)
            await resp.send(buf, False, n)


def test_a_request_and_its_answer_between_two_tasks():
    async def scenario(rig):
        server = asyncio.create_task(echo_server(rig.stacks[9].listener(ECHO), 2))
        async with rig.stacks[8].req(9, 1000) as ch:
            await ch.send(ECHO, b"\xff\xffhello")
            meta, payload = await ch.recv()
            assert (meta.remote_eid, meta.msg_type, bytes(payload)) == (9, ECHO, b"\xff\xffhello")
            big = bytes(range(256)) * 4
            await ch.send(ECHO, big[:1023])
            meta, payload = await ch.recv()
            assert payload == big[:1023]  # 16 packets each way
        await server
        return rig.held()

    assert run(Rig((8, 9)), scenario) == 0
    assert run(Rig((8, 9), wake_type=ThreadSafeFlag), scenario) == 0  # the IRQ-safe flag


def test_a_listener_and_its_response_channel_as_the_contract_has_them():
    async def scenario(rig):
        listener = rig.stacks[9].listener(1)

        async def requester():
            async with rig.stacks[8].req(9, 1000) as ch:
                await ch.send(1, b"\x80\x02\x02\x00")
                return await ch.recv()

        asked = asyncio.create_task(requester())
        meta, payload, resp = await listener.recv()
        assert (meta.remote_eid, bytes(payload), resp.remote_eid()) == (8, b"\x80\x02\x02\x00", 8)
        await resp.send(b"\x00\x02\x02\x00\x01")
        meta, payload = await asked
        listener.close()
        return bytes(payload), rig.held()

    assert run(Rig((8, 9)), scenario) == (b"\x00\x02\x02\x00\x01", 0)


def test_closing_a_channel_another_task_awaits_ends_that_receive_and_releases_the_handle():
    closed = "the channel was closed (its handle released) while this receive waited"

    async def until_waiting(server, count):
        # Lets the other tasks run until `count` receives wait at `server` (the server's
        # state is what is awaited: no event says it).
        while server.pending_in_use() < count:  # noqa: ASYNC110
            await asyncio.sleep(0)

    async def scenario(rig):
        server = rig.servers[9]
        listener = rig.stacks[9].listener(ECHO)
        waiting = asyncio.create_task(listener.recv())
        await until_waiting(server, 1)
        # One receive at a time per channel: a second is refused, and the first waits on.
        with raises(MctpError) as second:
            await listener.recv()
        await asyncio.sleep(0)
        busy = (second.value.code, second.value.detail, waiting.done())
        listener.close()  # raises nothing; the waiting receive ends with its error
        with raises(MctpError) as caught:
            await waiting
        ended = (caught.value.code, caught.value.detail)
        after_close = (server.handles_in_use(), server.pending_in_use(), server.check())
        rig.stacks[9].listener(ECHO).close()  # the type is free again

        # Leaving `async with` while another task awaits the channel's response.
        async with rig.stacks[8].req(9) as channel:
            await channel.send(ECHO, b"\xff\xff")  # nobody listens: no answer comes
            response = asyncio.create_task(channel.recv())
            await until_waiting(rig.servers[8], 1)
        with raises(MctpError) as left:
            await response
        return busy, ended, after_close, left.value.detail, rig.held(), rig.servers[8].check()

    busy, ended, after_close, left, held, audit = run(Rig((8, 9)), scenario)
    assert busy == (
        ResponseCode.ADDR_IN_USE,
        (
            "a receive already waits on this channel (in another task): one receive at a time"
            " per channel, and nothing else on it meanwhile but close(); any number of"
            " channels wait at once"
        ),
        False,
    )
    assert ended == (ResponseCode.BAD_ARGUMENT, closed)
    assert after_close == (0, 0, [])
    assert (left, held, audit) == (closed, 0, [])


def test_eight_requesters_and_two_listeners_at_once_each_get_their_own_answer():
    # On the stack at EID 8: eight tasks ask eight EIDs, while two listeners (types 1 and 2)
    # answer requests from two of those EIDs, all at once.
    peers = tuple(range(10, 18))

    async def requester(stack, eid, msg_type):
        async with stack.req(eid, 2000) as ch:
            await ch.send(msg_type, b"\xff\xff" + bytes((eid,)) * 100)
            # Into a buffer of the stacks' size: ten at once of the three-argument form's 1 KiB
            # each would take a board's heap.
            meta, payload = await ch.recv(bytearray(128))
            return meta.remote_eid, meta.msg_type, payload[2], len(payload)

    async def scenario(rig):
        listeners = [rig.stacks[e].listener(ECHO) for e in peers]
        listeners += [rig.stacks[8].listener(1), rig.stacks[8].listener(2)]
        servers = [asyncio.create_task(echo_server(listener, 1)) for listener in listeners]
        asked = [requester(rig.stacks[8], e, ECHO) for e in peers]
        asked += [requester(rig.stacks[10], 8, 1), requester(rig.stacks[11], 8, 2)]
        answers = await asyncio.gather(*asked)
        for server in servers:
            await server
        return answers, rig.held()

    # Nine stacks sized for short messages and what each does, so that they fit a board's
    # heap too: EID 8 holds eight requests and their answers, and two requests, at once, with
    # room on its link for all their packets; each peer answers one and asks one.
    asking = Config(max_payload=128, reassembly_slots=10, listeners=2, requests=8)
    asking.pending_receives = asking.flows = asking.routes = 10
    answering = Config(max_payload=128, reassembly_slots=2, listeners=1, requests=1)
    answering.pending_receives = 2
    answering.flows = answering.routes = answering.reply_routes = answering.queue_limit = 1
    rig = Rig((8,) + peers, asking, 20, answering, 4)  # noqa: RUF005 (MicroPython compiles it)
    answers, held = run(rig, scenario)
    assert answers == [(e, ECHO, e, 102) for e in peers] + [(8, 1, 8, 102), (8, 2, 8, 102)]
    assert held == 0


def test_a_receive_on_a_channel_allocates_nothing():
    # A channel's receive is the channel's own awaitable, not a coroutine per receive: with a
    # message waiting, the listener's recv_into (its step taken as `await` takes it) returns
    # the payload's size and binds the response channel, the second time with the heap locked
    # (the first with a given size makes what returns it); the answer goes back on it.
    async def scenario(rig):
        listener = rig.stacks[9].listener(ECHO)
        buf = bytearray(64)
        meta = RecvMetadata()
        resp = listener.resp_channel()
        results = []
        for text in (b"\xff\xffone", b"\xff\xfftwo"):
            async with rig.stacks[8].req(9, 1000) as ch:
                await ch.send(ECHO, text)
                while rig.servers[9].core.pool.in_use() == 0:  # noqa: ASYNC110 (no event)
                    await asyncio.sleep(0)  # the stack task delivers it
                if results:
                    with heap_locked():
                        n = awaited_step(listener.recv_into(buf, meta, resp))
                else:
                    n = awaited_step(listener.recv_into(buf, meta, resp))
                await resp.send(buf, False, n)
                results.append((n, bytes((await ch.recv())[1])))
        listener.close()
        return results, rig.held()

    results, held = run(Rig((8, 9)), scenario)
    assert results == [(5, b"\xff\xffone"), (5, b"\xff\xfftwo")] and held == 0
