# The PLDM base responder (firmware/pldm.py) over a whole stack on the loopback bus: every
# command byte for byte, SetTID then GetTID, every error completion code, the messages that are
# dropped (datagram, Rq=0, header version, short, IC set) and their counters, a batch served
# with the heap locked, the version encoding and its CRC-32 against zlib and pymctp (CPython),
# and the frame sizes of the serve path on the MicroPython unix port.

from endpoints import network
from testing import IS_MICROPYTHON, heap_locked, raises, skip

from firmware.pldm import BASE_VERSION, PldmResponder, crc32, ver32, version_data
from mctp import MctpError, RecvMetadata
from mctp.bufcopy import copy_into
from mctp.config import Config
from mctp.constants import MSG_TYPE_PLDM
from mctp.core.packet import FLAG_TO

# The answer of GetPLDMVersion for the base type: NextDataTransferHandle 0, StartAndEnd, 1.1.0
# as libpldm sends it (the uint32 0xF1F1F000, little-endian), then the CRC-32 of those four
# bytes, 0x539DBEBA (the value libpldm's src/control.c carries), little-endian.
VERSION_ANSWER = bytes.fromhex("00000000 05 00F0F1F1 BABE9D53")
COMMANDS_ANSWER = b"\x3e" + bytes(31)  # commands 1..5 of type 0
TYPES_ANSWER = b"\x01" + bytes(7)  # type 0 only
GET_VERSION = bytes.fromhex("80 00 03 00000000 01 00")  # GetFirstPart, PLDM type 0
GET_COMMANDS = bytes.fromhex("80 00 05 00 00F0F1F1")  # PLDM type 0, version 1.1.0


class Rig:
    """Endpoint A (EID 8) with a PLDM responder; endpoint B (EID 9) asks it through a request
    channel. While B waits for an answer it runs its `others`: this rig's poll, so A takes in
    its packets and then serves PLDM."""

    def __init__(self, tid=1, config=None):
        self.a, self.b = network(config=config)
        self.responder = PldmResponder(self.a.stack, self.a.server, tid)
        self.b.others = [self.poll]
        self.req = self.b.stack.req(8, 20)  # 20 ms on the fake clock: no answer comes
        self.buf = bytearray(64)
        self.meta = RecvMetadata()

    def poll(self):
        self.a.server.poll()
        self.responder.poll()

    def ask(self, message, ic=False):
        """Send one PLDM message to A; its answer (the bytes after the type byte), or None
        when no answer came."""
        self.req.send(MSG_TYPE_PLDM, bytes(message), ic)
        try:
            length = self.req.recv_into(self.buf, self.meta)
        except MctpError as error:
            assert error.is_timeout()
            return None
        assert self.meta.msg_type == MSG_TYPE_PLDM and not self.meta.msg_ic
        assert self.meta.remote_eid == 8
        return bytes(self.buf[:length])

    def count(self, name):
        return getattr(self.responder.counters, name)


def test_get_tid():
    rig = Rig(tid=0x2A)
    assert rig.ask(b"\x80\x00\x02") == b"\x00\x00\x02\x00\x2a"
    assert rig.ask(b"\x9f\x00\x02") == b"\x1f\x00\x02\x00\x2a"  # the instance ID comes back
    assert rig.ask(b"\xa5\x00\x02") == b"\x05\x00\x02\x00\x2a"  # reserved bit 5: ignored
    assert (rig.count("requests"), rig.count("responses"), rig.count("errors")) == (3, 3, 0)


def test_set_tid_then_get_tid():
    rig = Rig()
    assert rig.ask(b"\x80\x00\x02") == b"\x00\x00\x02\x00\x01"
    assert rig.ask(b"\x81\x00\x01\x07") == b"\x01\x00\x01\x00"  # completion code only
    assert rig.responder.tid == 7
    assert rig.ask(b"\x82\x00\x02") == b"\x02\x00\x02\x00\x07"
    assert rig.ask(b"\x83\x00\x01\xfe") == b"\x03\x00\x01\x00"
    assert rig.ask(b"\x84\x00\x02") == b"\x04\x00\x02\x00\xfe"
    assert rig.count("tid_set") == 2


def test_set_tid_refuses_the_reserved_tids():
    rig = Rig(tid=9)
    assert rig.ask(b"\x80\x00\x01\x00") == b"\x00\x00\x01\x02"  # ERROR_INVALID_DATA
    assert rig.ask(b"\x81\x00\x01\xff") == b"\x01\x00\x01\x02"
    assert rig.responder.tid == 9
    assert (rig.count("tid_set"), rig.count("errors")) == (0, 2)


def test_get_pldm_version():
    rig = Rig()
    assert rig.ask(GET_VERSION) == b"\x00\x00\x03\x00" + VERSION_ANSWER
    # The handle of a GetFirstPart is ignored.
    assert (
        rig.ask(bytes.fromhex("87 00 03 78563412 01 00")) == b"\x07\x00\x03\x00" + VERSION_ANSWER
    )


def test_get_pldm_version_errors():
    rig = Rig()
    # GetNextPart: the answer came in one part (next handle 0), so no handle is valid.
    assert rig.ask(bytes.fromhex("80 00 03 00000000 00 00")) == b"\x00\x00\x03\x80"
    assert rig.ask(bytes.fromhex("80 00 03 01000000 00 00")) == b"\x00\x00\x03\x80"
    for flag in (0x02, 0x05, 0xFF):  # neither GetNextPart nor GetFirstPart
        message = bytes.fromhex("80 00 03 00000000") + bytes((flag, 0))
        assert rig.ask(message) == b"\x00\x00\x03\x81"
    for pldm_type in (0x01, 0x02, 0x05, 0x3F, 0xFF):  # types we do not implement
        message = bytes.fromhex("80 00 03 00000000 01") + bytes((pldm_type,))
        assert rig.ask(message) == b"\x00\x00\x03\x83"
    assert (rig.count("errors"), rig.count("responses")) == (10, 10)


def test_get_pldm_types():
    rig = Rig()
    assert rig.ask(b"\x85\x00\x04") == b"\x05\x00\x04\x00" + TYPES_ANSWER


def test_get_pldm_commands():
    rig = Rig()
    assert rig.ask(GET_COMMANDS) == b"\x00\x00\x05\x00" + COMMANDS_ANSWER


def test_get_pldm_commands_errors():
    rig = Rig()
    for pldm_type in (0x02, 0x3F):
        message = bytes((0x80, 0x00, 0x05, pldm_type)) + BASE_VERSION
        assert rig.ask(message) == b"\x00\x00\x05\x83"  # INVALID_PLDM_TYPE_IN_REQUEST_DATA
    for version in ("F1F1F000", "FFFFFFFF", "00F0F0F1", "00F0F2F1", "01F0F1F1", "00000000"):
        # Byte-swapped 1.1.0 (major first), "any", 1.0.0, 1.2.0, 1.1.0 alpha 1, nothing.
        message = bytes.fromhex("80 00 05 00" + version)
        assert rig.ask(message) == b"\x00\x00\x05\x84"  # INVALID_PLDM_VERSION_IN_REQUEST_DATA
    assert rig.count("errors") == 8


def test_unknown_commands_are_unsupported():
    rig = Rig()
    for command in (0x00, 0x06, 0x07, 0x09, 0x3F, 0x80, 0xFF):
        assert rig.ask(bytes((0x80, 0x00, command))) == bytes((0x00, 0x00, command, 0x05))
    assert rig.ask(b"\x80\x00\x06\x01\x02\x03") == b"\x00\x00\x06\x05"  # whatever its length
    assert (rig.count("unsupported"), rig.count("errors")) == (8, 0)


def test_other_pldm_types_get_invalid_pldm_type():
    rig = Rig()
    for type_byte in (0x01, 0x02, 0x05, 0x3F):
        message = bytes((0x83, type_byte, 0x02))  # a GetTID-looking request for that type
        assert rig.ask(message) == bytes((0x03, type_byte, 0x02, 0x20))
    assert rig.ask(b"\x83\x02\x11\x00\x00") == b"\x03\x02\x11\x20"
    assert (rig.count("other_type"), rig.count("unsupported")) == (5, 0)


def test_wrong_request_lengths():
    rig = Rig()
    wrong = (
        b"\x80\x00\x01",  # SetTID without its TID
        b"\x80\x00\x01\x05\x00",
        b"\x80\x00\x02\x00",  # GetTID takes no data
        b"\x80\x00\x03\x00\x00\x00\x00\x01",  # GetPLDMVersion: 5 bytes
        b"\x80\x00\x03\x00\x00\x00\x00\x01\x00\x00",  # 7 bytes
        b"\x80\x00\x04\x00",  # GetPLDMTypes takes no data
        b"\x80\x00\x05\x00\x00\xf0\xf1",  # GetPLDMCommands: 4 bytes
        b"\x80\x00\x05\x00\x00\xf0\xf1\xf1\x00",  # 6 bytes
    )
    for message in wrong:
        assert rig.ask(message) == bytes((0x00, 0x00, message[2], 0x03)), message
    assert rig.responder.tid == 1
    assert rig.count("errors") == len(wrong)


def test_datagrams_are_not_answered():
    rig = Rig()
    assert rig.ask(b"\xc0\x00\x02") is None  # GetTID as a datagram
    assert rig.ask(b"\xc1\x00\x01\x33") is None  # nor acted on: no base command is a notice
    assert rig.responder.tid == 1
    assert (rig.count("requests"), rig.count("datagrams"), rig.count("responses")) == (2, 2, 0)
    assert rig.ask(b"\x82\x00\x02") == b"\x02\x00\x02\x00\x01"  # still answering


def test_malformed_messages_are_dropped_and_counted():
    rig = Rig()
    dropped = (
        (b"\x00\x00\x02\x00\x01", "not_request"),  # a response (Rq=0)
        (b"\x40\x00\x02", "not_request"),  # Rq=0 with D=1: reserved
        (b"\x80\x40\x02", "bad_header_version"),  # header version 1
        (b"\x80\xc0\x02", "bad_header_version"),  # header version 3
        (b"", "too_short"),
        (b"\x80", "too_short"),
        (b"\x80\x00", "too_short"),
    )
    for message, reason in dropped:
        before = rig.count(reason)
        assert rig.ask(message) is None, message
        assert rig.count(reason) == before + 1, reason
    assert rig.ask(b"\x80\x00\x02", ic=True) is None  # PLDM over MCTP uses no IC
    assert rig.count("ic_set") == 1
    assert (rig.count("requests"), rig.count("responses")) == (0, 0)
    assert rig.ask(b"\x80\x00\x02") == b"\x00\x00\x02\x00\x01"


def test_poll_serves_what_is_queued_and_returns_at_once():
    rig = Rig()
    assert rig.responder.poll() == 0  # nothing waiting: no blocking receive
    tag = 0
    while tag < 2:  # the listener's queue holds two (Config.queue_limit)
        rig.b.core.send(8, FLAG_TO | tag, MSG_TYPE_PLDM, b"\x80\x00\x02", 0, 3)
        tag += 1
    rig.a.server.poll()
    assert rig.responder.poll() == 2
    assert rig.responder.poll() == 0
    assert rig.count("responses") == 2


def test_the_tid_is_checked():
    a, _b = network()
    for tid in (0, 0xFF, 0x100, -1):
        with raises(ValueError):
            PldmResponder(a.stack, a.server, tid)
    assert PldmResponder(a.stack, a.server, 0xFE).tid == 0xFE


class Recorder:
    """A bus tap that copies the packets A sends into buffers made beforehand, so it can watch
    the bus while the heap is locked."""

    def __init__(self, count, size=72):
        self.frames = [bytearray(size) for _ in range(count)]
        self.lengths = [0] * count
        self.n = 0

    def __call__(self, src, dst, buf, length):
        if src != 0x10:
            return True  # B's requests go through
        copy_into(self.frames[self.n], 0, buf, 0, length)
        self.lengths[self.n] = length
        self.n += 1
        return False  # A's answers stop here: B has nothing to queue

    def answers(self):
        # After the MCTP header (4 bytes) and the type byte.
        return [bytes(self.frames[i][5 : self.lengths[i]]) for i in range(self.n)]


BATCHES = (
    (
        (b"\x80\x00\x02", b"\x00\x00\x02\x00\x01"),
        (b"\x81\x00\x01\x05", b"\x01\x00\x01\x00"),
        (b"\x82\x00\x02", b"\x02\x00\x02\x00\x05"),
        (GET_VERSION, b"\x00\x00\x03\x00" + VERSION_ANSWER),
        (b"\x83\x00\x04", b"\x03\x00\x04\x00" + TYPES_ANSWER),
        (GET_COMMANDS, b"\x00\x00\x05\x00" + COMMANDS_ANSWER),
        (b"\x84\x00\x06", b"\x04\x00\x06\x05"),
        (b"\xc5\x00\x02", None),  # datagram
    ),
    (
        (b"\x80\x02\x02", b"\x00\x02\x02\x20"),  # PLDM type 2
        (b"\x81\x00\x02\x00", b"\x01\x00\x02\x03"),  # wrong length
        (b"\x82\x00\x01\xff", b"\x02\x00\x01\x02"),  # reserved TID
        (bytes.fromhex("83 00 03 00000000 00 00"), b"\x03\x00\x03\x80"),
        (bytes.fromhex("84 00 03 00000000 07 00"), b"\x04\x00\x03\x81"),
        (bytes.fromhex("85 00 05 00 F1F1F000"), b"\x05\x00\x05\x84"),
        (b"\x00\x00\x02\x00\x01", None),  # Rq=0
        (b"\x80\x00", None),  # short
    ),
)


def send_batch(rig, batch):
    tag = 0
    while tag < len(batch):
        message = batch[tag][0]
        rig.b.core.send(8, FLAG_TO | tag, MSG_TYPE_PLDM, message, 0, len(message))
        tag += 1


def serve_locked(rig):
    with heap_locked():
        rig.a.server.poll()
        served = rig.responder.poll()
    return served


def test_a_batch_is_served_with_the_heap_locked():
    config = Config(reassembly_slots=8, queue_limit=8)
    rig = Rig(config=config)
    for batch in BATCHES:
        expected = [answer for _, answer in batch if answer is not None]
        for _ in range(2):  # warm up, then the same again
            recorder = Recorder(len(batch))
            rig.a.bus.tap = recorder
            send_batch(rig, batch)
            assert serve_locked(rig) == len(batch)
            assert recorder.answers() == expected
            rig.responder.tid = 1
    assert rig.count("answer_no_route") == rig.count("answer_link_failed") == 0
    assert rig.a.core.counters.internal_error == 0
    assert rig.count("responses") == 2 * 13


def test_crc32_is_zlib_crc32():
    assert crc32(b"") == 0
    assert crc32(b"123456789") == 0xCBF43926  # the CRC-32 check value
    assert crc32(BASE_VERSION) == 0x539DBEBA  # libpldm's CRC of 1.1.0
    assert crc32(b"6789", crc32(b"12345")) == 0xCBF43926  # it continues a running CRC
    if not IS_MICROPYTHON:
        import zlib  # noqa: PLC0415 (CPython only)

        for data in (b"", BASE_VERSION, bytes(range(256)), b"\xff" * 37, ver32(1, 0, 0)):
            assert crc32(data) == zlib.crc32(data)


def test_version_encoding():
    assert BASE_VERSION == ver32(1, 1, 0) == bytes.fromhex("00 F0 F1 F1")
    assert int.from_bytes(BASE_VERSION, "little") == 0xF1F1F000  # libpldm's uint32
    assert ver32(1, 2, None, 0x41) == bytes.fromhex("41 FF F2 F1")  # no update, alpha "A"
    assert version_data(BASE_VERSION) == bytes.fromhex("00F0F1F1 BABE9D53")
    two = ver32(1, 1, 0) + ver32(1, 0, 0)
    assert version_data(two)[8:] == crc32(two).to_bytes(4, "little")


def test_pymctp_builds_and_reads_what_we_do():
    if IS_MICROPYTHON:
        skip("pymctp runs on CPython only")
    from pymctp.layers.mctp.pldm import (  # noqa: PLC0415 (CPython only)
        GetPLDMCommandsPacket,
        PldmHdrPacket,
    )

    rig = Rig()
    request = PldmHdrPacket(rq=1, instance_id=3, pldm_type=0, cmd_code=5) / GetPLDMCommandsPacket(
        PLDMType=0, Version=0xF1F1F000
    )
    answer = PldmHdrPacket(rig.ask(bytes(request)))
    assert (answer.rq, answer.instance_id, answer.cmd_code, answer.completion_code) == (0, 3, 5, 0)
    assert answer[GetPLDMCommandsPacket].cmds == list(COMMANDS_ANSWER)
    answer = PldmHdrPacket(rig.ask(GET_VERSION))
    assert (answer.NextDataTransferHandle, answer.TransferFlag) == (0, 5)
