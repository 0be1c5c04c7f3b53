# The SMBus/I2C framing (mctp.i2c.smbus) on the simulated bus: golden frames from the real
# transmit path and received, and each class of malformed frame dropped with its own counter.

from test_i2c_link import (
    GET_EID_REQUEST,
    GET_EID_RESPONSE,
    SET_EID_REQUEST,
    SET_EID_RESPONSE,
    bus_owner_and_endpoint,
    deliver_frame,
    good_pec,
)

from mctp.core.core import SEND_OK
from mctp.core.packet import FLAG_TO


def test_golden_get_eid_request_from_the_transmit_path():
    _bus, core, link, _, frames, _ = bus_owner_and_endpoint()
    core.add_route(0, 0, link, 0x1D)  # the endpoint has no EID yet: reach it by its address
    core.open_flow(0, owner=1)  # tag 0
    assert core.send(0, FLAG_TO | 0, 0x00, b"\x80\x02", 0, 2) == SEND_OK
    assert frames == [bytes.fromhex(GET_EID_REQUEST)]


def test_golden_set_eid_request_from_the_transmit_path():
    _bus, core, link, _, frames, _ = bus_owner_and_endpoint()
    core.add_route(0, 0, link, 0x1D)
    assert core.send(0, FLAG_TO | 1, 0x00, b"\x81\x01\x00\x0a", 0, 4) == SEND_OK
    assert frames == [bytes.fromhex(SET_EID_REQUEST)]


def test_golden_70_byte_pldm_message():
    _bus, core, link, _, frames, _ = bus_owner_and_endpoint()
    core.add_route(9, 9, link, 0x1D)
    message = bytes(range(1, 0x46))
    assert core.send(9, FLAG_TO | 3, 0x01, message, 0, len(message)) == SEND_OK
    assert frames[0] == bytes.fromhex("3A 0F 45 21 01 09 08 8B 01") + bytes(range(1, 64)) + b"\x4d"
    assert frames[1] == bytes.fromhex("3A 0F 0B 21 01 09 08 5B") + bytes(range(64, 70)) + b"\x01"


def test_golden_responses_are_received():
    # The endpoint's Get EID response (from EID 0) and its Set EID response (from the new EID)
    # reach the bus owner's flows.
    bus, core, link, sink, _, _ = bus_owner_and_endpoint()
    core.open_flow(0, owner=0)  # Get EID went to EID 0 with tag 0
    deliver_frame(bus, GET_EID_RESPONSE)
    core.open_flow(10, owner=0)
    core.flows.flows[1].tag = 1  # Set EID went with tag 1 and is answered by EID 10
    deliver_frame(bus, SET_EID_RESPONSE)
    core.poll()
    assert sink.messages == [
        (0, 0, 0, bytes.fromhex("00 02 00 00 01 00")),
        (10, 1, 0, bytes.fromhex("01 01 00 00 0a 00")),
    ]
    assert link.counters.rx_frames == 2
    assert link.neighbours.lookup(10) == 0x1D  # learned; EID 0 taught nothing


def malformed_frames():
    good = bytearray(bytes.fromhex(GET_EID_REQUEST.replace("3A", "20", 1)))  # to 0x10
    good[-1] = 0
    good[-1] = good_pec(good)

    def variant(index, value):
        frame = bytearray(good)
        frame[index] = value
        frame[-1] = good_pec(frame)
        return bytes(frame)

    return {
        "too_short": bytes(good[:5]) + bytes((good_pec(good[:5]),)),
        "too_long": good[:3] + bytes(200),
        "bad_command": variant(1, 0x0E),
        "bad_count": variant(2, 0x09),
        "bad_src_bit": variant(3, 0x20),
        "bad_pec": bytes(good[:-1]) + bytes((good[-1] ^ 0xFF,)),
        "bad_version": variant(4, 0x02),
    }


def test_every_malformed_frame_class_is_dropped_and_counted():
    bus, core, link, sink, _, _ = bus_owner_and_endpoint()
    cases = malformed_frames()
    for name in cases:
        deliver_frame(bus, cases[name])
        core.poll()
        assert getattr(link.counters, name) == 1, name
    assert sink.messages == []
    assert link.counters.rx_frames == 0
    assert link.counters.irq_errors == 0
    # The link still works afterwards.
    good = bytearray(bytes.fromhex(GET_EID_REQUEST))
    good[0] = 0x20
    good[-1] = good_pec(good)
    deliver_frame(bus, bytes(good))
    core.poll()
    assert len(sink.messages) == 1
