# Interoperability of the SMBus/I2C binding with pymctp, code this project did not write:
# pymctp dissects the frames our transmit path puts on the bus (single and multi-packet), our
# receive path accepts the frames pymctp builds, and the two talk over the UDP I2C bus through
# pymctp's QEMU I2C exerciser socket. pymctp does not check the PEC, so these tests check it
# with the crc8 package (pymctp's own dependency), not with our code.
#
# pymctp needs CPython >= 3.11: the tests skip on MicroPython and fail on CPython without it.

import select
import time

from endpoints import Endpoint, FakeClock, i2c_network, pattern
from testing import IS_MICROPYTHON, raises, skip

from mctp import MctpError

from mctp.i2c import I2CLink
from mctp.constants import MAX_PAYLOAD_SIZE

if not IS_MICROPYTHON:
    import crc8
    from pymctp.layers.mctp import (
        Smbus7bitAddress,
        SmbusTransport,
        TransportHdr,
        TransportHdrPacket,
    )
    from pymctp.layers.mctp.control import ControlHdr, GetEndpointID, SetEndpointID
    from pymctp_exerciser_qemu import QemuI2CNetDevSocket
    from scapy.config import conf
    from scapy.packet import Raw

    conf.verb = 0

VENDOR_TYPE = 0x7E
US, PEER = 0x10, 0x11  # 7-bit addresses of endpoint A (EID 8) and B (EID 9)


def smbus_pec(frame):
    """CRC-8 (poly 0x07) of every byte before the PEC byte, by the crc8 package."""
    check = crc8.crc8()
    check.update(bytes(frame[:-1]))
    return check.digest()[0]


def dissect(frame):
    """pymctp's view of one frame, with our own checks of what pymctp does not check."""
    pkt = SmbusTransport(bytes(frame))
    assert pkt.command_code == 0x0F
    assert pkt.byte_count == len(frame) - 4
    assert pkt.src_addr & 1 == 1
    assert pkt.pec == frame[-1] == smbus_pec(frame)
    assert bytes(pkt) == bytes(frame)  # pymctp rebuilds the same bytes: nothing left unparsed
    return pkt


def reassemble(frames):
    """The message (type byte first) that pymctp's dissections of `frames` carry, checking the
    SOM/EOM flags, sequence numbers and tag across the packets."""
    message = b""
    first = dissect(frames[0]).load
    for index, frame in enumerate(frames):
        hdr = dissect(frame).load
        assert isinstance(hdr, TransportHdrPacket)
        assert hdr.version == 1
        assert (hdr.som, hdr.eom) == (index == 0, index == len(frames) - 1)
        assert hdr.pkt_seq == index % 4
        assert (hdr.src, hdr.dst, hdr.tag, hdr.to) == (first.src, first.dst, first.tag, first.to)
        message += bytes(hdr)[4:]
    return first, message


def pymctp_packets(dst7, src7, src_eid, dst_eid, tag, to, message, mtu):
    """`message` (type byte first) as pymctp-built frames of at most `mtu` payload bytes."""
    frames = []
    chunks = [message[i : i + mtu] for i in range(0, len(message), mtu)]
    for seq, chunk in enumerate(chunks):
        som, eom = seq == 0, seq == len(chunks) - 1
        hdr = TransportHdr(
            src=src_eid, dst=dst_eid, som=som, eom=eom, pkt_seq=seq % 4, to=to, tag=tag
        )
        if som:
            hdr.msg_type = chunk[0]  # on a SOM packet the type byte is a header field
            chunk = chunk[1:]
        load = hdr / Raw(chunk)
        frame = SmbusTransport(
            dst_addr=Smbus7bitAddress(dst7), src_addr=Smbus7bitAddress(src7), load=load
        )
        frames.append(bytes(frame))
    return frames


class TestPymctpFrames:
    def setup_method(self, _method):
        if IS_MICROPYTHON:
            skip("pymctp runs on CPython only")
        self.a, self.b = i2c_network()
        self.frames = []
        self.a.bus.tap = self._tap

    def _tap(self, addr, buf, length):
        self.frames.append(bytes((addr << 1,)) + bytes(buf[:length]))

    def test_golden_control_frames_built_by_pymctp_equal_ours(self):
        bo, ep = Smbus7bitAddress(0x10), Smbus7bitAddress(0x1D)
        get_eid = SmbusTransport(
            dst_addr=ep,
            src_addr=bo,
            load=TransportHdr(src=8, dst=0, to=1, tag=0)
            / ControlHdr(rq=True, cmd_code=2, instance_id=0)
            / GetEndpointID(),
        )
        set_eid = SmbusTransport(
            dst_addr=ep,
            src_addr=bo,
            load=TransportHdr(src=8, dst=0, to=1, tag=1)
            / ControlHdr(rq=True, cmd_code=1, instance_id=1)
            / SetEndpointID(op=0, eid=0x0A),
        )
        assert bytes(get_eid) == bytes.fromhex("3A 0F 08 21 01 00 08 C8 00 80 02 56")
        assert bytes(set_eid) == bytes.fromhex("3A 0F 0A 21 01 00 08 C9 00 81 01 00 0A F8")

    def test_pymctp_dissects_a_single_packet_message(self):
        req = self.b.stack.req(8)
        self.a.stack.listener(VENDOR_TYPE)
        req.send(VENDOR_TYPE, b"\x80\x86hello")
        assert len(self.frames) == 1
        pkt = dissect(self.frames[0])
        assert pkt.dst_addr == US << 1 and pkt.src_addr == PEER << 1 | 1
        hdr = pkt.load
        assert (hdr.src, hdr.dst, hdr.som, hdr.eom, hdr.to) == (9, 8, 1, 1, 1)
        assert hdr.msg_type == VENDOR_TYPE and hdr.ic == 0
        assert bytes(hdr)[5:] == b"\x80\x86hello"

    def test_pymctp_dissects_a_1024_byte_message_at_both_mtus(self):
        for mtu in (64, 250):
            a, b = i2c_network(mtu=mtu)
            self.frames = []
            a.bus.tap = self._tap
            a.stack.listener(VENDOR_TYPE)
            message = pattern(MAX_PAYLOAD_SIZE, mtu)
            b.stack.req(8).send(VENDOR_TYPE, message)
            assert len(self.frames) == -(-(MAX_PAYLOAD_SIZE + 1) // mtu)
            first, carried = reassemble(self.frames)
            assert first.msg_type == VENDOR_TYPE
            assert carried == bytes((VENDOR_TYPE,)) + message
            # Address, command, count, source, MCTP header (4), payload, PEC.
            assert max(len(f) for f in self.frames) == 4 + 4 + mtu + 1

    def test_frames_built_by_pymctp_are_received_whole(self):
        listener = self.a.stack.listener(VENDOR_TYPE)
        message = bytes((VENDOR_TYPE,)) + pattern(300, 3)
        for frame in pymctp_packets(US, PEER, 9, 8, 5, 1, message, 64):
            self.a.bus.controller().writeto(US, frame[1:])
        meta, payload, _ = listener.recv()
        assert payload == message[1:]
        assert (meta.remote_eid, meta.msg_type, meta.msg_tag) == (9, VENDOR_TYPE, 5)
        assert self.a.link.counters.rx_frames == 5

    def test_a_pymctp_frame_with_a_wrong_pec_is_dropped_and_counted(self):
        listener = self.a.stack.listener(VENDOR_TYPE, 50)
        frame = bytearray(pymctp_packets(US, PEER, 9, 8, 0, 1, b"\x7e\x01\x02", 64)[0])
        good = frame[-1]
        frame[-1] ^= 0x5A
        self.a.bus.controller().writeto(US, frame[1:])
        with raises(MctpError) as caught:
            listener.recv()
        assert caught.value.is_timeout()
        assert self.a.link.counters.bad_pec == 1
        frame[-1] = good
        self.a.bus.controller().writeto(US, frame[1:])
        assert listener.recv()[1] == b"\x01\x02"


class TestPymctpOverUdp:
    """Our endpoint (EID 8 at 0x1D) on the UDP I2C bus; pymctp's exerciser socket is the peer
    at 0x10 with EID 9."""

    def setup_method(self, _method):
        if IS_MICROPYTHON:
            skip("pymctp runs on CPython only")
        from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415 (imports socket)

        target = UdpI2CTarget(0x1D, 0)  # both sides on free ports
        self.qs = QemuI2CNetDevSocket(
            iface="127.0.0.1",
            in_port=0,
            out_port=target.port,
            iface_out="127.0.0.1",
            dump_hex=False,
        )
        link = I2CLink(UdpI2C(self.qs.ins.getsockname()[1]), target, 0x1D)
        self.ep = Endpoint(None, link, 0x1D, 8, FakeClock(1000))
        self.ep.core.add_route(9, 9, self.ep.link, 0x10)

    def teardown_method(self, _method):
        if IS_MICROPYTHON:
            return
        self.qs.close()
        self.ep.link._i2c.close()
        self.ep.link._target.close()

    def receive_frames(self, count, timeout_s=2.0):
        """`count` datagrams from our endpoint, as pymctp's socket receives them."""
        frames = []
        deadline = time.monotonic() + timeout_s
        while len(frames) < count:
            left = deadline - time.monotonic()
            assert left > 0, "only %d of %d frames arrived" % (len(frames), count)
            if select.select([self.qs.ins], [], [], left)[0]:
                frames.append(bytes(self.qs.recv()))
        return frames

    def test_a_multi_packet_echo_with_pymctp(self):
        listener = self.ep.stack.listener(VENDOR_TYPE, 2000)
        message = bytes((VENDOR_TYPE,)) + pattern(MAX_PAYLOAD_SIZE, 9)  # 1024 bytes: 16 packets
        for frame in pymctp_packets(0x1D, 0x10, 9, 8, 2, 1, message, 64):
            assert self.qs.send(SmbusTransport(frame)) == len(frame)
        _meta, payload, resp = listener.recv()
        assert payload == message[1:]
        resp.send(payload)
        frames = self.receive_frames(16)
        first, echoed = reassemble(frames)
        assert (first.src, first.dst, first.tag, first.to) == (8, 9, 2, 0)
        assert dissect(frames[0]).dst_addr == 0x10 << 1
        assert echoed == message

    def test_a_request_from_our_stack_answered_by_pymctp(self):
        req = self.ep.stack.req(9, 2000)
        req.send(VENDOR_TYPE, b"\x80\x86ping")
        (frame,) = self.receive_frames(1)
        hdr = dissect(frame).load
        assert (hdr.src, hdr.dst, hdr.to) == (8, 9, 1)
        answer = bytes((VENDOR_TYPE,)) + b"\x80\x86pong"
        for reply in pymctp_packets(0x1D, 0x10, 9, 8, hdr.tag, 0, answer, 64):
            self.qs.send(SmbusTransport(reply))
        meta, payload = req.recv()
        assert payload == b"\x80\x86pong"
        assert meta.remote_eid == 9
