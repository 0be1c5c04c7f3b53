# The awaitable IPC client (mctp.aio.ipc): AsyncStack over AsyncStreamClients, served by stack
# 9's StreamService (run after each of its task's polls, each stream watched), over socket
# pairs.

import asyncio

from test_aio_stack import ECHO, Rig, echo_server, run
from testing import needs_socket, raises

from mctp import MctpError, ResponseCode
from mctp.aio import AsyncStack
from mctp.server import Server


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
