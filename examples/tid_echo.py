# One application, three transports: openprot-mctp-api's promise that code written against the
# Stack facade runs unchanged whatever MctpClient is under it. The application (run()) asks a peer
# for its PLDM terminus ID (GetTID, DSP0240) and answers vendor-echo requests (message type
# 0x7E: the response is the request); only make_client() knows which client it runs on:
#
#   direct unix:PATH EID   an in-process stack (DirectClient) with EID on a serial line, here
#                          the Unix socket at PATH (a tty path works too)
#   ipc unix:PATH          the stack of another process (mctp.ipc.StreamClient), e.g.
#                          tools/run_endpoint.py --ipc unix:PATH
#   socket                 the Linux kernel's MCTP stack (mctp.linux.SocketClient, AF_MCTP)
#
#     python3 examples/tid_echo.py [--peer 9] [--echoes 3] [--prefix TEXT] [--asyncio] MODE [ARGS]
#     micropython examples/tid_echo.py ...
#
# With --asyncio the same application runs as asyncio tasks (run_async, over mctp.aio's
# AsyncStack), its client made by make_async_client, again with one line per transport: a
# StackTask for the in-process stack, mctp.aio.ipc's AsyncStreamClient (a connection per
# channel), mctp.aio.linux's AsyncSocketClient.
#
# It prints "tid-echo ready" once its listener is open (the peer's echo requests may come
# from then on), then one line per result, and exits 0 when all went well, 1 otherwise.

import sys

sys.path.insert(0, __file__.rpartition("/")[0].rpartition("/")[0] or ".")  # the clone

from mctp import MctpError, Stack  # noqa: E402
from mctp.constants import MSG_TYPE_PLDM, MSG_TYPE_VENDOR_PCI, RQ  # noqa: E402

PLDM_BASE = 0x00  # PLDM type 0: messaging control and discovery
GET_TID = 0x02
TIMEOUT_MS = 5000


def get_tid(stack, eid, instance=1):
    """The PLDM terminus ID of `eid` (GetTID); MctpError, or ValueError for a bad answer."""
    with stack.req(eid, TIMEOUT_MS) as channel:
        channel.send(MSG_TYPE_PLDM, get_tid_request(instance))
        meta, answer = channel.recv()
    return tid_of(meta, answer, instance)


def run(stack, peer_eid, echoes, say):
    """The application: GetTID to `peer_eid`, then answer `echoes` vendor-echo requests.
    `say(line)` reports each step. True when all went well."""
    with stack.listener(MSG_TYPE_VENDOR_PCI, TIMEOUT_MS * 4) as listener:
        say("ready")
        tid = get_tid(stack, peer_eid)
        say("tid %d eid %d" % (tid, peer_eid))
        for number in range(1, echoes + 1):
            meta, request, response = listener.recv()
            response.send(request)
            say(echoed(number, meta, request))
    return True


# The same application for asyncio tasks, over an AsyncStack (mctp.aio): each step awaited.


async def get_tid_async(stack, eid, instance=1):
    async with stack.req(eid, TIMEOUT_MS) as channel:
        await channel.send(MSG_TYPE_PLDM, get_tid_request(instance))
        meta, answer = await channel.recv()
    return tid_of(meta, answer, instance)


async def run_async(stack, peer_eid, echoes, say):
    async with stack.listener(MSG_TYPE_VENDOR_PCI, TIMEOUT_MS * 4) as listener:
        say("ready")
        tid = await get_tid_async(stack, peer_eid)
        say("tid %d eid %d" % (tid, peer_eid))
        for number in range(1, echoes + 1):
            meta, request, response = await listener.recv()
            await response.send(request)
            say(echoed(number, meta, request))
    return True


def get_tid_request(instance):
    return bytes((RQ | instance, PLDM_BASE, GET_TID))


def tid_of(meta, answer, instance):
    """The TID a GetTID response carries; ValueError for a bad one."""
    if meta.msg_type != MSG_TYPE_PLDM or len(answer) < 5:
        raise ValueError("not a GetTID response: %r" % bytes(answer))
    if answer[0] != instance or answer[1] != PLDM_BASE or answer[2] != GET_TID:
        raise ValueError("a response to another request: %r" % bytes(answer))
    if answer[3]:
        raise ValueError("GetTID completion code %d" % answer[3])
    return answer[4]


def echoed(number, meta, request):
    return "echo %d bytes %d eid %d ic %d" % (number, len(request), meta.remote_eid, meta.msg_ic)


def make_client(mode, args, peer_eid):
    """The MctpClient for `mode` (see the top of this file): the one line that differs."""
    if mode == "direct":
        from mctp.server import DirectClient  # noqa: PLC0415

        return DirectClient(direct_server(args[0], int(args[1]), peer_eid))
    if mode == "ipc":
        from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415
        from mctp.ipc import StreamClient  # noqa: PLC0415

        return StreamClient(connect_unix(_unix_path(args[0])))
    if mode == "socket":
        from mctp.linux import SocketClient  # noqa: PLC0415

        return SocketClient()
    raise ValueError("mode must be direct, ipc or socket")


def make_async_client(mode, args, peer_eid):
    """What AsyncStack takes for `mode`: the one line that differs, in the asyncio form."""
    if mode == "direct":
        from mctp.aio import Flag, StackTask  # noqa: PLC0415

        wake = Flag()  # the stack task's, which its serial line sets (run_tasks)
        return StackTask(direct_server(args[0], int(args[1]), peer_eid, wake), wake)
    if mode == "ipc":
        from mctp.aio.ipc import AsyncStreamClient  # noqa: PLC0415
        from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415

        path = _unix_path(args[0])
        return AsyncStreamClient(connect=lambda: connect_unix(path))  # a connection a channel
    if mode == "socket":
        from mctp.aio.linux import AsyncSocketClient  # noqa: PLC0415

        return AsyncSocketClient()
    raise ValueError("mode must be direct, ipc or socket")


def direct_server(where, eid, peer_eid, wake=None):
    """A stack of our own in this process, EID `eid` on the serial line at `where`, with
    `peer_eid` at its other end: its Server. `wake`: the flag of the stack task that runs it
    (asyncio), which the link sets when a poll leaves bytes for the next."""
    from mctp.core import Core  # noqa: PLC0415
    from mctp.host.serial_stream import SerialStream, connect_unix  # noqa: PLC0415
    from mctp.serial import SerialLink  # noqa: PLC0415
    from mctp.server import Server  # noqa: PLC0415

    if where.startswith("unix:"):
        stream = SerialStream(connect_unix(_unix_path(where)))
    else:
        stream = SerialStream.open_tty(where)
    core = Core(eid=eid)
    core.add_route(peer_eid, peer_eid, core.add_link(SerialLink(stream, wake=wake)))
    return Server(core)


async def run_tasks(source, application):
    """Await `application` (a coroutine over AsyncStack(source)); a StackTask is run beside
    it, woken when its serial line has bytes (a host stream has no interrupt)."""
    import asyncio  # noqa: PLC0415

    from mctp.aio import StackTask, watch  # noqa: PLC0415

    running = []
    if isinstance(source, StackTask):
        line = source.server.core.links[0].stream
        running.append(asyncio.create_task(source.run()))
        running.append(asyncio.create_task(watch(line.source, source.wake)))
    try:
        return await application
    finally:
        for task in running:
            task.cancel()


def _unix_path(where):
    if not where.startswith("unix:"):
        raise ValueError("give unix:PATH, not %r" % where)
    return where[5:]


def main(argv):
    peer, echoes, prefix, awaitable = 9, 3, "", False
    while argv and argv[0].startswith("--"):
        option = argv[0]
        if option == "--asyncio":
            awaitable = True
            argv = argv[1:]
            continue
        value = argv[1]
        argv = argv[2:]
        if option == "--peer":
            peer = int(value)
        elif option == "--echoes":
            echoes = int(value)
        elif option == "--prefix":
            prefix = value
        else:
            raise SystemExit("unknown option " + option)
    if not argv:
        raise SystemExit(
            "usage: tid_echo.py [--peer EID] [--echoes N] [--asyncio] direct|ipc|socket ..."
        )

    def say(line):
        print(prefix + "tid-echo " + line)

    try:
        if awaitable:
            import asyncio  # noqa: PLC0415

            from mctp.aio import AsyncStack  # noqa: PLC0415

            source = make_async_client(argv[0], argv[1:], peer)
            stack = AsyncStack(source)
            ok = asyncio.run(run_tasks(source, run_async(stack, peer, echoes, say)))
        else:
            ok = run(Stack(make_client(argv[0], argv[1:], peer)), peer, echoes, say)
    except (MctpError, ValueError, OSError) as e:
        say("FAIL reason=%r" % str(e))
        ok = False
    say("done")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
