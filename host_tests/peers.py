# Third-party and out-of-process peers for the interoperability tests (CPython only): our
# endpoint firmware running under the MicroPython unix port on the UDP I2C bus, pymctp's
# SimpleEndpointAM responder in a thread, and shims for two pymctp 0.4.0 bugs.

import os
import sys
import threading
import time
import uuid as uuid_module

from pymctp.automaton import SimpleEndpointAM
from pymctp.automaton.sessions import EndpointSession
from pymctp.layers.mctp import EndpointContext, MsgTypes, Smbus7bitAddress
from pymctp.layers.mctp.control import (
    GetMctpVersionSupportResponsePacket,
    GetMessageTypeSupportResponsePacket,
)
from pymctp_exerciser_qemu import QemuI2CNetDevSocket
from scapy.config import conf

conf.verb = 0  # scapy's "Begin emission ..." on every request

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
)
from endpoint_process import EndpointProcess, micropython_command  # noqa: E402

# pymctp 0.4.0 bug 1: pymctp/compliance/mctp_base.py reads `msg_types` and `version_count`,
# fields its layers call `msg_type_list` and `version_number_entry_count`.
if not hasattr(GetMessageTypeSupportResponsePacket, "msg_types"):
    GetMessageTypeSupportResponsePacket.msg_types = property(lambda p: p.msg_type_list)
if not hasattr(GetMctpVersionSupportResponsePacket, "version_count"):
    GetMctpVersionSupportResponsePacket.version_count = property(
        lambda p: p.version_number_entry_count
    )


class SmbusSession(EndpointSession):
    """pymctp 0.4.0 bug 2: EndpointSession sends on SMBus only when given the destination's
    physical address, which the compliance tests never pass; this one always has it."""

    def __init__(self, *args, dst_phy_addr=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_dst_phy_addr = dst_phy_addr

    def sndrcv_mctp_msg(self, pkt, dst_eid, *, dst_phy_addr=None, **kwargs):
        return super().sndrcv_mctp_msg(
            pkt, dst_eid, dst_phy_addr=dst_phy_addr or self.default_dst_phy_addr, **kwargs
        )


def exerciser_socket(out_port=None):
    """pymctp's QEMU I2C exerciser socket on a free port (`port(sock)` tells which), sending
    to `out_port` (or to the port set later as its `out_port`)."""
    sock = QemuI2CNetDevSocket(iface="127.0.0.1", in_port=0, dump_hex=False)
    sock.iface_out = "127.0.0.1"  # it sets these only when given an out_port
    sock.out_port = out_port
    return sock


def port(sock):
    """The port an exerciser socket listens on."""
    return sock.ins.getsockname()[1]


def pymctp_session(own_addr, own_eid, target_addr, sock):
    """A pymctp session at `own_addr` (EID `own_eid`) that talks to the target at
    `target_addr` over the UDP I2C bus through `sock`; close its `.socket` when done."""
    context = EndpointContext(
        physical_address=Smbus7bitAddress(own_addr),
        assigned_eid=own_eid,
        supported_msg_types=[MsgTypes.CTRL],
    )
    return SmbusSession(context=context, socket=sock, dst_phy_addr=Smbus7bitAddress(target_addr))


def micropython_endpoint(peer, addr=0x1D, eid=None):
    """tools/run_endpoint.py under the MicroPython unix port on the UDP I2C bus, listening on
    a free port (its `port`) and sending to `peer`: an EndpointProcess (a context manager;
    `ready` is its first line, `output` what it printed once stopped, its counters)."""
    options = ["--i2c-udp", "0:%d" % peer, "--i2c-addr", hex(addr)]
    if eid is not None:
        options += ["--eid", str(eid)]
    return EndpointProcess(micropython_command(), options)


class SimpleEndpoint:
    """pymctp's SimpleEndpointAM at 7-bit `addr` on the UDP I2C bus, in a thread: it listens on
    a free port (`port`) and sends every reply to `peer`. Use as a context manager.

    Its quirks (pymctp 0.4.0): it answers after a random 100-250 ms; it gives its reply the
    request's packet sequence number plus one; its version entries are byte-swapped; it answers
    command 0xFF with SUCCESS and stays silent on undefined ones."""

    def __init__(self, addr, peer, uuid, msg_types=(MsgTypes.CTRL,)):
        self.socket = exerciser_socket(peer)
        self.port = port(self.socket)
        context = EndpointContext(
            physical_address=Smbus7bitAddress(addr),
            endpoint_uuid=uuid_module.UUID(bytes=bytes(uuid)),
            supported_msg_types=list(msg_types),
        )
        # parse_options keeps the last AM's session in a class-level dict: start clean.
        SimpleEndpointAM.sniff_options.pop("session", None)
        self.am = SimpleEndpointAM(socket=self.socket, context=context, verbose=False)
        self.thread = threading.Thread(target=self.am, daemon=True)
        self.thread.start()  # am.bg() cannot work: it always passes a timeout to AsyncSniffer
        deadline = time.monotonic() + 5
        # A stop() before the sniff loop has set `continue_sniff` is lost: wait for it.
        while not getattr(self.am.sniffer, "continue_sniff", False):
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.socket.close()
                raise AssertionError("SimpleEndpointAM did not start")
            time.sleep(0.001)

    @property
    def context(self):
        return self.am.context

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.am.sniffer.running:
            self.am.sniffer.stop(join=False)
        self.thread.join(5)
        self.socket.close()
        assert not self.thread.is_alive(), "SimpleEndpointAM did not stop"
