# The asyncio layer (mctp.aio) on both interpreters: awaitable channels over stacks run by their
# StackTasks on a loopback bus whose links wake those tasks, as an I2C link's IRQ would; errors
# and timeouts as in the blocking API, cancellation that leaves nothing held, many tasks at
# once, and a task that sleeps while there is nothing to do.

import asyncio

from testing import IS_MICROPYTHON, heap_locked, needs_socket, raises, skip

from mctp import MctpError, RecvMetadata, ResponseCode
from mctp.aio import AsyncStack, Flag, StackTask, ThreadSafeFlag
from mctp.config import Config
from mctp.control import ControlError
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


def control_rig(endpoint_eid=0):
    """Stacks 8 (the bus owner) and 20 (an endpoint whose EID is `endpoint_eid`, at address
    20, with a control responder); the owner's AsyncBusOwner."""
    from mctp.aio.control import AsyncBusOwner  # noqa: PLC0415
    from mctp.control.responder import ControlResponder  # noqa: PLC0415

    rig = Rig((8, 20))
    endpoint = rig.servers[20].core
    endpoint.eid = endpoint_eid
    rig.responder = ControlResponder(endpoint, bytes(range(16)))
    owner_core = rig.servers[8].core
    rig.owner = AsyncBusOwner(owner_core, rig.stacks[8], owner_core.links[0], timeout_ms=50)
    return rig


def test_the_bus_owner_and_the_control_requester_await_their_answers():
    async def scenario(rig):
        peer = await rig.owner.enumerate(20)  # Get EID, Set EID, Msg Types, UUID
        control = rig.owner.control
        # Requests from several tasks at once, each with its own channel.
        answers = await asyncio.gather(
            control.get_version(peer.eid),
            control.get_uuid_text(peer.eid),
            control.get_eid(peer.eid),
        )
        with raises(ControlError) as refused:
            await control.request(peer.eid, 0x7F)  # an unsupported command
        routed = rig.servers[8].core.routes.lookup(0) is None
        return peer, answers, refused.value.completion_code, routed, rig.held()

    peer, answers, refused, unrouted, held = run(control_rig(), scenario)
    assert (peer.eid, peer.addr, peer.assigned, peer.msg_types) == (10, 20, True, [0])
    assert peer.uuid == bytes(range(16))
    versions, uuid, info = answers
    assert versions == [(1, 3, 1, 0)] and uuid.startswith("00010203-0405-")
    assert info.eid == 10
    assert (refused, unrouted, held) == (0x05, True, 0)


def test_a_set_up_that_fails_or_is_cancelled_leaves_no_route():
    async def scenario(rig):
        rig.bus.tap = lambda src, dst, buf, length: dst != 20  # the endpoint hears nothing
        owner = rig.owner
        # Nobody answers: every try times out (2 x 50 ms), and the EID 0 route goes.
        owner.control.tries = 2
        with raises(ControlError) as failed:
            await owner.enumerate(20)
        after_failure = rig.servers[8].core.routes.lookup(0)
        # Cancelled while it waits for an answer.
        owner.control.timeout_ms = 10_000
        with raises(asyncio.TimeoutError):
            await asyncio.wait_for(owner.enumerate(20), 0.05)
        after_cancel = rig.servers[8].core.routes.lookup(0)
        return str(failed.value), after_failure, after_cancel, owner.peers, rig.held()

    failed, after_failure, after_cancel, peers, held = run(control_rig(), scenario)
    assert "no answer after 2 tries" in failed
    assert (after_failure, after_cancel, peers, held) == (None, None, {}, 0)


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


# The awaitable IPC client (mctp.aio.ipc): AsyncStack over AsyncStreamClients, served by stack
# 9's StreamService (run after each of its task's polls, each stream watched), over socket
# pairs.


class IpcRig(Rig):
    """Rig((8, 9)), stack 9's server also served over sockets: connect() opens a connection
    (what AsyncStreamClient's `connect` calls); client(...) an AsyncStreamClient."""

    def __init__(self):
        from mctp.ipc import StreamService  # noqa: PLC0415

        super().__init__((8, 9))
        self.service = StreamService(self.servers[9])
        self.tasks[9].work = self.service.poll
        self.watchers = []
        self.sockets = []

    def connect(self):
        from mctp.aio import watch  # noqa: PLC0415
        from mctp.host.ipc_sockets import SocketStream  # noqa: PLC0415
        from mctp.host.serial_stream import socket_pair  # noqa: PLC0415

        ours, theirs = socket_pair()
        self.sockets += [ours, theirs]
        served = SocketStream(theirs)
        self.service.add(served)
        self.watchers.append(asyncio.create_task(watch(served.source, self.tasks[9].wake)))
        return SocketStream(ours)

    def client(self, per_channel=True, timeout_ms=2000):
        from mctp.aio.ipc import AsyncStreamClient  # noqa: PLC0415

        if per_channel:
            return AsyncStreamClient(connect=self.connect, timeout_ms=timeout_ms)
        return AsyncStreamClient(self.connect(), timeout_ms=timeout_ms)

    async def stop(self):
        for watcher in self.watchers:
            watcher.cancel()
        await Rig.stop(self)
        for sock in self.sockets:
            sock.close()

    async def served(self):
        """Let the service see what the clients closed: the streams it still serves."""
        for _ in range(5):
            await asyncio.sleep(0.01)
            self.tasks[9].wake.set()
        return len(self.service.peers)


def ipc_run(scenario):
    needs_socket()
    return run(IpcRig(), scenario)


def test_over_ipc_tasks_wait_on_their_channels_at_once_each_on_its_own_connection():
    async def scenario(rig):
        stack = AsyncStack(rig.client())
        answering = asyncio.create_task(echo_server(rig.stacks[8].listener(ECHO), 1))

        async def listen(msg_type):
            async with stack.listener(msg_type, 2000) as listener:
                meta, payload, resp = await listener.recv()
                await resp.send(payload + b"!")
                return meta.remote_eid, bytes(payload)

        async def ask(msg_type):
            await asyncio.sleep(0.02)  # the listeners are waiting by now
            async with rig.stacks[8].req(9, 2000) as ch:
                await ch.send(msg_type, b"to %d" % msg_type)
                return bytes((await ch.recv())[1])

        async def request():
            async with stack.req(8, 2000) as ch:
                await ch.send(ECHO, b"\xff\xff" + bytes(range(200)) * 5)
                return len((await ch.recv())[1])

        results = await asyncio.gather(
            listen(1), listen(2), listen(3), ask(1), ask(2), ask(3), request()
        )
        await answering
        eid = await stack.get_eid()
        stack.client.close()
        return results, eid, rig.held(), await rig.served(), rig.servers[9].check()

    results, eid, held, served, problems = ipc_run(scenario)
    listened, asked, requested = results[:3], results[3:6], results[6]
    assert listened == [(8, b"to 1"), (8, b"to 2"), (8, b"to 3")]
    assert (asked, requested) == ([b"to 1!", b"to 2!", b"to 3!"], 1002)
    assert (eid, held, served, problems) == (9, 0, 0, [])


def test_over_one_stream_calls_take_turns_and_a_second_receive_is_refused():
    async def scenario(rig):
        client = rig.client(per_channel=False)
        stack = AsyncStack(client)
        listener = stack.listener(1)
        waiting = asyncio.create_task(listener.recv())
        await asyncio.sleep(0.02)
        with raises(MctpError) as refused:
            await stack.get_eid()  # the listener's receive holds the stream
        async with rig.stacks[8].req(9, 1000) as ch:
            await ch.send(1, b"ping")
            _meta, payload, resp = await waiting
            await resp.send(b"pong")
            answer = bytes((await ch.recv())[1])
        # Calls from tasks at once, none a receive: each waits for the one in flight.
        eids = await asyncio.gather(*[stack.get_eid() for _ in range(4)])
        listener.close()  # without waiting: unbound before the next call
        eid = await stack.get_eid()
        held = rig.held()
        client.close()
        return refused.value, bytes(payload), answer, eids, eid, held, await rig.served()

    refused, payload, answer, eids, eid, held, served = ipc_run(scenario)
    assert refused.code == ResponseCode.ADDR_IN_USE
    assert "another task's receive is pending on this connection" in str(refused)
    assert (payload, answer, eids, eid, held, served) == (b"ping", b"pong", [9] * 4, 9, 0, 0)


def test_over_ipc_a_cancelled_receive_is_withdrawn_at_the_server():
    async def scenario(rig):
        client = rig.client(per_channel=False)
        stack = AsyncStack(client)
        listener = stack.listener(ECHO)
        with raises(asyncio.TimeoutError):
            await asyncio.wait_for(listener.recv(), 0.05)
        eid = await stack.get_eid()  # the connection is free again, the cancel taken before
        pending = rig.servers[9].pending_in_use()
        cancels = rig.service.peers[0].cancels
        await listener.aclose()
        held = rig.held()
        client.close()
        return eid, pending, cancels, held

    assert ipc_run(scenario) == (9, 0, 1, 0)


def test_over_ipc_deadlines_and_a_server_gone_end_a_wait_with_their_errors():
    needs_socket()
    from mctp.aio.ipc import AsyncStreamClient  # noqa: PLC0415
    from mctp.host.ipc_sockets import SocketStream  # noqa: PLC0415
    from mctp.host.serial_stream import socket_pair  # noqa: PLC0415

    async def scenario(rig):
        errors = []
        # A receive's own timeout, at the server.
        stack = AsyncStack(rig.client())
        async with stack.listener(ECHO, 30) as listener:
            with raises(MctpError) as caught:
                await listener.recv()
            errors.append(caught.value.code)
        # A server that never answers: the client's deadline.
        ours, theirs = socket_pair()
        mute = AsyncStreamClient(SocketStream(ours), timeout_ms=40)
        with raises(MctpError) as caught:
            await mute.get_eid()
        errors.append(str(caught.value))
        # The server goes while a receive waits for ever: the wait ends.
        waiting = asyncio.create_task(mute.recv(Handle(1), 0, bytearray(8)))
        await asyncio.sleep(0.02)
        theirs.close()
        with raises(MctpError) as caught:
            await waiting
        errors.append(str(caught.value))
        ours.close()
        return errors, rig.held()

    from mctp.api import Handle  # noqa: PLC0415

    errors, held = ipc_run(scenario)
    assert errors[0] == ResponseCode.TIMED_OUT
    assert "no answer from the server within 40 ms" in errors[1]
    assert "the stream is closed" in errors[2]
    assert held == 0


def test_over_ipc_a_receive_refuses_what_is_not_a_recvmetadata_before_it_asks():
    # As the blocking StreamClient does: a TypeError naming `meta`, and nothing written to the
    # stream (a mute peer: a request sent would wait for its answer instead).
    needs_socket()
    from mctp.aio.ipc import AsyncStreamClient  # noqa: PLC0415
    from mctp.api import Handle  # noqa: PLC0415
    from mctp.host.ipc_sockets import SocketStream  # noqa: PLC0415
    from mctp.host.serial_stream import socket_pair  # noqa: PLC0415

    ours, theirs = socket_pair()
    client = AsyncStreamClient(SocketStream(ours), timeout_ms=40)
    with raises(TypeError) as caught:
        asyncio.run(client.recv(Handle(1), 1, bytearray(8), "meta"))
    assert str(caught.value) == "meta must be a RecvMetadata, got str 'meta'"
    theirs.setblocking(False)
    with raises(OSError):
        theirs.recv(1)  # nothing was sent
    ours.close()
    theirs.close()


def test_over_ipc_a_restarted_server_answers_server_restarted_and_channels_reopen():
    async def scenario(rig):
        stack = AsyncStack(rig.client(per_channel=False))
        answering = asyncio.create_task(echo_server(rig.stacks[8].listener(ECHO), 1))
        old = stack.req(8, 1000)
        await old.send(ECHO, b"\xff\xffbefore")
        await old.recv()
        old_server = rig.servers[9]
        new = Server(old_server.core, old_server.epoch % 0xFFFF + 1)
        rig.servers[9] = rig.tasks[9].server = new
        rig.service.restart(new)
        with raises(MctpError) as caught:
            await old.send(ECHO, b"\xff\xffafter")
        await old.aclose()  # a stale handle: released already
        async with stack.req(8, 1000) as ch:
            answering = asyncio.create_task(echo_server(rig.stacks[8].listener(ECHO), 1))
            await ch.send(ECHO, b"\xff\xffagain")
            payload = bytes((await ch.recv())[1])
        await answering
        stack.client.close()
        return caught.value.code, "restarted" in str(caught.value), payload, rig.held()

    assert ipc_run(scenario) == (ResponseCode.SERVER_RESTARTED, True, b"\xff\xffagain", 0)
