"""`make run`: the endpoint firmware on the MicroPython unix port, on the UDP I2C bus, set up and
used by a bus owner (our stack on CPython), with every frame on the bus printed as it passes.
Both run under asyncio, as a board does: the endpoint's tasks are its main.py's, and the bus
owner's requests are awaited (mctp.aio) while its stack task serves the bus.

    python3 tools/run_demo.py [--micropython PATH]

The bus owner (EID 8 at 0x10) enumerates the endpoint at 0x1D the way Linux mctpd does (Get
Endpoint ID, Set Endpoint ID, Get Message Type Support, Get VDM Support, Get Endpoint UUID),
exchanges a 1 KiB echo (16 packets each way) on the vendor-defined type and the PLDM base
commands, then stops the endpoint and prints its counters. Exit status 0 when every answer was
right. Both sides take free UDP ports, so any number of demos can run at once.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import asyncio  # noqa: E402

from mctp.aio import Flag, StackTask, watch  # noqa: E402
from mctp.aio.control import AsyncBusOwner  # noqa: E402
from mctp.aio.stack import AsyncStack  # noqa: E402
from mctp.constants import MSG_TYPE_PLDM, MSG_TYPE_VENDOR_PCI, RQ  # noqa: E402
from mctp.config import Config  # noqa: E402
from mctp.core import Core  # noqa: E402
from mctp.i2c import I2CLink  # noqa: E402
from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: E402
from mctp.server import Server  # noqa: E402
from endpoint_process import EndpointFailed, EndpointProcess  # noqa: E402
from cli import CommandLine  # noqa: E402
from firmware.pldm import COMMAND_NAMES as PLDM_COMMANDS  # noqa: E402
from firmware.pldm import (  # noqa: E402
    PLDM_TYPE_BASE,
    GET_PLDM_COMMANDS,
    GET_PLDM_TYPES,
    GET_PLDM_VERSION,
    GET_TID,
)
from mctp_trace import describe_frame  # noqa: E402

OWNER_ADDR, OWNER_EID, ENDPOINT_ADDR = 0x10, 8, 0x1D


class Demo:
    def __init__(self):
        self.target = UdpI2CTarget(OWNER_ADDR, 0)  # a free port; the endpoint's is known later
        self.i2c = UdpI2C()
        self.i2c.tap = self.target.tap = self._trace
        self.core = Core(Config(), OWNER_EID)
        self.link = self.core.add_link(I2CLink(self.i2c, self.target, OWNER_ADDR))
        self.task = StackTask(Server(self.core), Flag())
        self.stack = AsyncStack(self.task)
        self.owner = AsyncBusOwner(self.core, self.stack, self.link)
        self.failures = []

    def _trace(self, frame):
        print("    " + describe_frame(frame))

    def step(self, title):
        print("\n== " + title)

    def check(self, what, ok):
        print("   %s: %s" % ("ok" if ok else "FAILED", what))
        if not ok:
            self.failures.append(what)

    async def exchanges(self):
        """The bus owner's part, with its stack task and the task that wakes it for frames."""
        tasks = [
            asyncio.create_task(self.task.run()),
            asyncio.create_task(watch(self.target.sock, self.task.wake)),
        ]
        try:
            peer = await self.enumerate()
            await self.echo(peer)
            await self.pldm(peer)
        finally:
            for task in tasks:
                task.cancel()

    async def enumerate(self):
        self.step("Enumerate the endpoint at 0x%02x (as mctpd does)" % ENDPOINT_ADDR)
        peer = await self.owner.enumerate(ENDPOINT_ADDR)
        print("   " + repr(peer))
        self.check("EID assigned from the pool", peer.assigned and peer.eid == 10)
        self.check(
            "control, PLDM and vendor-defined types advertised",
            peer.msg_types == [0, MSG_TYPE_PLDM, MSG_TYPE_VENDOR_PCI],
        )
        self.check("a PCI vendor ID advertised for the echo", len(peer.vdm) == 1)
        return peer

    async def echo(self, peer):
        vendor = peer.vdm[0].vendor_id
        self.step("Echo 1 KiB on type 0x7E, vendor 0x%04x (16 packets each way)" % vendor)
        request = bytes((vendor >> 8, vendor & 0xFF)) + bytes(i * 7 & 0xFF for i in range(1021))
        async with self.stack.req(peer.eid, 1000) as channel:
            await channel.send(MSG_TYPE_VENDOR_PCI, request)
            meta, answer = await channel.recv()
        self.check(
            "1023 bytes echoed unchanged", answer == request and meta.remote_eid == peer.eid
        )

    async def pldm(self, peer):
        get_version = b"\x00\x00\x00\x00\x01\x00"  # handle 0, GetFirstPart, type 0 (base)
        answers = {}
        for iid, (command, data) in enumerate(
            ((GET_TID, b""), (GET_PLDM_TYPES, b""), (GET_PLDM_VERSION, get_version))
        ):
            name = PLDM_COMMANDS[command]
            answers[name] = await self._pldm(peer, iid, name, command, data)
        version = answers["GetPLDMVersion"][5:9]
        answers["GetPLDMCommands"] = await self._pldm(
            peer, 3, "GetPLDMCommands", GET_PLDM_COMMANDS, b"\x00" + version
        )
        self.check("terminus ID 1", answers["GetTID"] == b"\x01")
        self.check("PLDM type 0 (base) supported", answers["GetPLDMTypes"][0] & 1 == 1)
        commands = answers["GetPLDMCommands"]
        self.check(
            "GetTID, GetPLDMVersion, GetPLDMTypes and GetPLDMCommands listed",
            len(commands) == 32 and commands[0] & 0x3C == 0x3C,
        )

    async def _pldm(self, peer, iid, name, command, data):
        self.step("PLDM " + name)
        async with self.stack.req(peer.eid, 1000) as channel:
            await channel.send(MSG_TYPE_PLDM, bytes((RQ | iid, PLDM_TYPE_BASE, command)) + data)
            _meta, answer = await channel.recv()
        self.check("completion code SUCCESS", answer[:4] == bytes((iid, 0x00, command, 0x00)))
        return answer[4:]

    def close(self):
        self.i2c.close()
        self.target.close()


def start_endpoint(micropython, peer):
    options = ["--i2c-udp", "0:%d" % peer, "--i2c-addr", hex(ENDPOINT_ADDR)]
    try:
        endpoint = EndpointProcess(micropython, options)
    except EndpointFailed as error:
        raise SystemExit(str(error)) from None
    print("$ " + " ".join(endpoint.command))
    print("  " + endpoint.ready)
    return endpoint


def stop_endpoint(endpoint):
    endpoint.stop()
    print("\n== The endpoint's counters")
    for line in endpoint.output.splitlines():
        print("   " + line)


USAGE = "usage: run_demo.py [--micropython PATH]\n" + __doc__.split("\n\n", 1)[1]


def main(argv):
    options, _ = CommandLine(
        USAGE, valued={"--micropython": os.path.join(ROOT, ".venv", "bin", "micropython")}
    ).parse(argv)
    micropython = options["micropython"]
    demo = Demo()
    try:
        endpoint = start_endpoint(micropython, demo.target.port)
    except SystemExit:
        demo.close()
        raise
    demo.i2c.connect(endpoint.port)
    try:
        asyncio.run(demo.exchanges())
    finally:
        demo.close()
        stop_endpoint(endpoint)
    if demo.failures:
        print("\nFAILED: " + "; ".join(demo.failures))
        return 1
    print("\nAll exchanges answered correctly.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
