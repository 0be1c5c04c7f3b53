# A host's serial stream (mctp.host.serial_stream, with its read-ahead, mctp.host.read_ahead)
# under the serial link: 1 KiB echoes over a socket pair and a pty, with the unix port at the
# other end of a pty, and under asyncio.

from endpoints import assert_nothing_held, pattern, serial_pair
from test_serial_link import drops, echo
from testing import IS_MICROPYTHON, needs_socket, skip

from mctp.config import Config
from mctp.core import Core
from mctp.serial import SerialLink
from mctp.constants import MAX_PAYLOAD_SIZE


def test_1k_echo_over_a_socket_pair():
    needs_socket()
    from mctp.host.serial_stream import SerialStream, socket_pair  # noqa: PLC0415 (host)

    sockets = socket_pair()
    streams = (SerialStream(sockets[0]), SerialStream(sockets[1]))
    try:
        a, b = serial_pair(streams)
        for size in (1, 100, MAX_PAYLOAD_SIZE):
            echo(a, b, pattern(size, size))
        for ep in (a, b):
            assert drops(ep.link) == {}
            assert_nothing_held(ep)
    finally:
        for i in range(2):
            streams[i].close()
            sockets[i].close()


def test_1k_echo_over_a_pty():
    if IS_MICROPYTHON:
        skip("the unix port cannot create a pty (it opens one by path: SerialStream.open_tty)")
    import os  # noqa: PLC0415
    import tty  # noqa: PLC0415

    from mctp.host.serial_stream import SerialStream  # noqa: PLC0415 (host)

    master, slave = os.openpty()
    tty.setraw(slave)
    streams = (SerialStream(master), SerialStream.open_tty(os.ttyname(slave)))
    try:
        a, b = serial_pair(streams)
        echo(a, b, pattern(MAX_PAYLOAD_SIZE, 2))
        for ep in (a, b):
            assert drops(ep.link) == {}
    finally:
        for stream in streams:
            stream.close()
        os.close(master)
        os.close(slave)


# The unix port at the other end of a pty: it opens the slave end by path (it cannot create a
# pty), answers one request and exits.
_UNIX_PORT_ECHO = """
import sys
sys.path.insert(0, %r)
from mctp import Stack
from mctp.config import Config
from mctp.core import Core
from mctp.host.serial_stream import SerialStream
from mctp.serial import SerialLink
from mctp.server import DirectClient, Server

core = Core(Config(), eid=9)
core.add_route(8, 8, core.add_link(SerialLink(SerialStream.open_tty(%r))))
listener = Stack(DirectClient(Server(core))).listener(1, 20000)
print("ready")
meta, payload, resp = listener.recv()
resp.send(payload)
print("echoed", len(payload), core.links[0].counters.rx_frames)
"""


def test_1k_echo_with_the_unix_port_over_a_pty():
    if IS_MICROPYTHON:
        skip("CPython creates the pty and starts the unix port on it")
    import os  # noqa: PLC0415
    import select  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from mctp import Stack  # noqa: PLC0415
    from mctp.host.serial_stream import SerialStream  # noqa: PLC0415 (host)
    from mctp.server import DirectClient, Server  # noqa: PLC0415

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    micropython = os.path.join(os.path.dirname(sys.executable), "micropython")
    master, slave = os.openpty()
    script = _UNIX_PORT_ECHO % (root, os.ttyname(slave))
    child = subprocess.Popen(
        [micropython, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stream = SerialStream(master)
    try:
        # Its raw mode flushes what waits on the line: nothing is sent before it is ready.
        assert select.select([child.stdout], [], [], 20)[0], "the unix port did not start"
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        core = Core(Config(), 8)
        core.add_route(9, 9, core.add_link(SerialLink(stream)))
        with Stack(DirectClient(Server(core))).req(9, 10000) as req:
            req.send(1, pattern(MAX_PAYLOAD_SIZE, 6))
            assert req.recv()[1] == pattern(MAX_PAYLOAD_SIZE, 6)
        out, err = child.communicate(timeout=20)
        assert out == "echoed 1023 16\n", err
        assert drops(core.links[0]) == {}
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        stream.close()
        os.close(master)
        os.close(slave)


def test_1k_echoes_under_asyncio_over_a_socket_pair():
    # No IRQ on a host stream: mctp.aio.watch wakes each stack task when its socket is
    # readable, and the link sets the flag itself when a poll stops at its bound.
    needs_socket()
    import asyncio  # noqa: PLC0415

    from mctp.aio import AsyncStack, StackTask, watch  # noqa: PLC0415
    from mctp.host.serial_stream import SerialStream, socket_pair  # noqa: PLC0415 (host)
    from mctp.server import Server  # noqa: PLC0415

    sockets = socket_pair()
    tasks = []
    for eid, sock, peer in ((8, sockets[0], 9), (9, sockets[1], 8)):
        core = Core(Config(), eid)
        tasks.append(StackTask(Server(core)))
        link = SerialLink(SerialStream(sock), wake=tasks[-1].wake)
        core.add_route(peer, peer, core.add_link(link))
    stack_a, stack_b = AsyncStack(tasks[0]), AsyncStack(tasks[1])
    answers = []

    async def main():
        running = [asyncio.create_task(task.run()) for task in tasks]
        running += [asyncio.create_task(watch(sockets[i], tasks[i].wake)) for i in range(2)]
        listener = stack_b.listener(1)
        for i in range(3):
            async with stack_a.req(9, 2000) as ch:
                await ch.send(1, pattern(MAX_PAYLOAD_SIZE, i))
                _, payload, resp = await listener.recv()
                await resp.send(payload)
                answers.append((await ch.recv())[1] == pattern(MAX_PAYLOAD_SIZE, i))
        for task in running:
            task.cancel()

    try:
        asyncio.run(main())
        if IS_MICROPYTHON:
            asyncio.new_event_loop()  # (MicroPython's loop keeps the tasks until then)
    finally:
        for sock in sockets:
            sock.close()
    assert answers == [True, True, True]
