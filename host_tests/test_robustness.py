# Hostile and unlucky sequences of well-formed frames against the endpoint firmware and the
# stack: each test is one class of defect that once took the endpoint off the bus, locked it up,
# starved it or lost a message. After every step the stack's invariant holds (Server.check):
# each reassembly slot is free, assembling, or queued on exactly one handle.

from endpoints import (
    FakeClock,
    RawPeer,
    firmware_app,
    lone_server,
    pattern,
    Wire,
    inject,
)
from testing import needs_socket, raises

from mctp import MctpError, RecvMetadata, Stack
from mctp.config import Config
from mctp.server import DirectClient
from mctp.errors import ResponseCode
from mctp.host.i2c_sim import SimBus
from mctp.core.packet import build_packets
from mctp.core.reassembly import ASSEMBLING, FREE, OWNER_AT, STATE_AT
from mctp.wire import encode_get_eid

TO = 0x08
ECHO = 0x7E
VENDOR = b"\xff\xff"  # the firmware's default PCI vendor ID, first in every echo request
GET_EID = b"\x00\x80\x02"  # type 0, Rq, instance 0, Get Endpoint ID


def firmware_on_bus(**options):
    bus = SimBus()
    clock = FakeClock(1000)
    app = firmware_app(bus, clock, **options)
    return bus, clock, app


def poll(app):
    app.poll()
    assert app.server.check() == []


def test_two_requests_with_one_source_and_tag_are_both_answered():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    for text in (b"one", b"two"):
        peer.send_all(0x1D, build_packets(8, 9, TO | 3, ECHO, VENDOR + text))
    poll(app)  # both arrive before the firmware serves either
    answers = [m[4] for m in peer.messages()]
    assert answers == [VENDOR + b"one", VENDOR + b"two"]
    assert app.echo.counters.echoed == 2


def test_an_answer_nobody_acknowledges_is_counted_and_the_loop_goes_on():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    peer.send_all(0x1D, build_packets(8, 9, TO | 1, ECHO, VENDOR + b"hello"))
    bus.absent.append(0x10)  # the requester left the bus
    poll(app)
    assert app.echo.counters.answer_link_failed == 1
    assert app.link.counters.tx_failed == 1 and app.link.counters.tx_retries == 3
    bus.absent.remove(0x10)
    peer.send_all(0x1D, build_packets(8, 9, TO | 2, ECHO, VENDOR + b"again"))
    poll(app)
    assert [m[4] for m in peer.messages()] == [VENDOR + b"again"]


def test_datagrams_never_answered_do_not_take_the_route_of_an_echo():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    peer.send_all(0x1D, build_packets(8, 9, TO | 1, ECHO, VENDOR + b"wait for me"))
    for i in range(8):  # Get Endpoint ID datagrams (D=1) from 8 other endpoints
        other = RawPeer(bus, 0x30 + i)
        other.send(0x1D, build_packets(20 + i, 9, TO | 0, 0x00, b"\xc0\x02")[0])
    poll(app)
    assert [m[4] for m in peer.messages()] == [VENDOR + b"wait for me"]
    assert app.control.counters.datagrams == 8
    assert app.core.reply_routes.in_use() == 0


def test_a_first_packet_of_another_type_cannot_overfill_a_queue():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    # A PLDM message from (EID 8, tag 1) starts and stays unfinished ...
    peer.send(0x1D, build_packets(8, 9, TO | 1, 0x01, b"\x80\x00" + bytes(100))[0])
    # ... two echo requests fill the echo queue (its limit is 2) ...
    peer.send_all(0x1D, build_packets(8, 9, TO | 2, ECHO, VENDOR + b"a"))
    peer.send_all(0x1D, build_packets(8, 9, TO | 3, ECHO, VENDOR + b"b"))
    # ... and a new first packet from (8, 1) turns the PLDM slot into a third echo request.
    peer.send_all(0x1D, build_packets(8, 9, TO | 1, ECHO, VENDOR + b"c"))
    app.server.poll()  # the link stops when the echo queue is full ...
    app.server.poll()  # ... and goes on before the echo service has read
    poll(app)
    assert [m[4] for m in peer.messages()] == [VENDOR + b"a", VENDOR + b"b"]
    assert app.core.counters.som_restart == 1 and app.core.counters.queue_full == 1
    for _ in range(3):  # and the endpoint goes on serving
        peer.send_all(0x1D, build_packets(8, 9, TO | 4, ECHO, VENDOR + b"d"))
        poll(app)
    assert app.echo.counters.echoed == 5
    assert app.core.pool.in_use() == 0


def start_unfinished(bus, clock, count):
    """`count` multi-packet messages from as many endpoints, alternately echo and PLDM
    requests, whose first packet is all that ever comes; 10 ms apart."""
    for i in range(count):
        msg_type = ECHO if i % 2 == 0 else 0x01
        RawPeer(bus, 0x30 + i).send(
            0x1D, build_packets(20 + i, 9, TO | 0, msg_type, VENDOR + bytes(200))[0]
        )
        clock.advance(10)


def test_unfinished_messages_cannot_keep_a_control_request_waiting():
    bus, clock, app = firmware_on_bus()
    start_unfinished(bus, clock, 4)
    owner = RawPeer(bus, 0x10)
    poll(app)
    assert app.core.pool.in_use() == 4
    owner.send(0x1D, build_packets(8, 9, TO | 5, 0x00, b"\x80\x02")[0])
    poll(app)  # answered in this poll, not after the 6 s reassembly timeout
    ((src, tag, to, msg_type, answer),) = owner.messages()
    assert (src, tag, to, msg_type, answer) == (9, 5, 0, 0, b"\x00\x02\x00\x09\x02\x00")
    assert app.core.pool.in_use() == 4  # control requests have a slot of their own


def test_a_new_request_evicts_its_listeners_oldest_unfinished_message():
    bus, clock, app = firmware_on_bus()
    start_unfinished(bus, clock, 4)  # the echo listener's quota (2) is full of unfinished ones
    peer = RawPeer(bus, 0x10)
    peer.send_all(0x1D, build_packets(8, 9, TO | 1, ECHO, VENDOR + b"now"))
    poll(app)
    assert [m[4] for m in peer.messages()] == [VENDOR + b"now"]
    assert app.core.counters.evicted == 1 and app.core.counters.queue_full == 0
    assert app.core.pool.in_use() == 3  # the newer echo and both PLDM messages


def test_a_new_request_evicts_the_oldest_unfinished_message_of_a_full_pool():
    server, clock = lone_server()
    stack = Stack(DirectClient(server))
    listeners = [stack.listener(t) for t in (1, 2, 3)]
    for i in range(4):  # types 1, 2, 1, 2: the pool of 4 is full, no quota is
        inject(server.core, 20 + i, 0x80 | TO, bytes((1 + i % 2,)) + bytes(64))
        clock.advance(10)
    inject(server.core, 30, 0xC0 | TO, b"\x03new")
    meta, payload, _resp = listeners[2].recv()
    assert (meta.remote_eid, bytes(payload)) == (30, b"new")
    assert server.core.counters.evicted == 1
    survivors = sorted(slot.src for slot in server.core.pool.slots if slot.meta[STATE_AT])
    assert survivors == [21, 22, 23]  # the oldest, from EID 20, made room
    assert server.check() == []


def test_recv_into_an_empty_buffer_keeps_the_message():
    server, _clock = lone_server()
    stack = Stack(DirectClient(server))
    listener = stack.listener(1)
    inject(server.core, 9, 0xC0 | TO | 2, b"\x01hello")
    meta = RecvMetadata()
    with raises(MctpError) as caught:
        listener.recv_into(bytearray(0), meta)
    assert caught.value.code == ResponseCode.NO_SPACE and caught.value.size == 5
    buf = bytearray(5)
    assert listener.recv_into(buf, meta) == 5 and buf == b"hello"
    assert server.check() == []


def test_an_empty_message_fits_an_empty_buffer():
    server, _clock = lone_server()
    listener = Stack(DirectClient(server)).listener(1)
    inject(server.core, 9, 0xC0 | TO | 2, b"\x01")
    assert listener.recv_into(bytearray(0), RecvMetadata()) == 0


def test_a_receive_at_the_baseline_mtu_fits_a_link_with_a_larger_mtu():
    bus, _clock, app = firmware_on_bus(mtu=250)
    peer = RawPeer(bus, 0x10)
    request = VENDOR + pattern(1021)
    peer.send_all(0x1D, build_packets(8, 9, TO | 1, ECHO, request, mtu=64))  # 16 frames, no poll
    poll(app)
    assert app.link.counters.ring_full == 0
    assert [m[4] for m in peer.messages()] == [request]


def test_lost_frames_abort_the_message_instead_of_splicing_it():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    request = VENDOR + pattern(1021)
    packets = build_packets(8, 9, TO | 1, ECHO, request)
    for i, packet in enumerate(packets):
        peer.send(0x1D, packet, good_pec=not 4 <= i < 8)  # 4 middle frames lost: seq wraps
    poll(app)
    assert peer.messages() == []  # not a 12-packet message passed off as whole
    assert app.link.counters.bad_pec == 4
    assert app.core.counters.aborted == 1
    peer.send_all(0x1D, packets)
    poll(app)
    assert [m[4] for m in peer.messages()] == [request]


def test_a_second_request_on_a_connection_with_a_pending_receive_is_refused():
    server, _clock = lone_server()
    w = Wire(server)
    listener = w.listener(1)
    assert not w.recv(listener, 0)  # pending
    assert w.dispatch(encode_get_eid(w.buf))  # the same connection asks again: refused at once
    assert w.response().code == ResponseCode.ADDR_IN_USE
    inject(server.core, 9, 0xC0 | TO | 2, b"\x01late")
    server.poll()
    assert w.response().code == ResponseCode.SUCCESS and w.payload() == b"late"
    assert server.check() == []


def test_neighbours_are_learned_only_from_packets_the_stack_takes():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    peer.send(0x1D, bytes((1, 9, 5, 0xC8)) + b"\x7e\xff\xffx")  # reserved source EID 5
    peer.send(0x1D, bytes((1, 9, 0xFF, 0xC8)) + b"\x7e\xff\xffx")  # broadcast source
    peer.send(0x1D, bytes((1, 77, 30, 0xC8)) + b"\x7e\xff\xffx")  # for another EID
    poll(app)
    assert app.link.neighbours.entries() == []
    peer.send_all(0x1D, build_packets(8, 9, TO | 1, ECHO, VENDOR))
    poll(app)
    assert app.link.neighbours.entries() == [(8, 0x10, False)]


def test_table_exhaustion_recovers_and_the_invariant_holds_after_every_step():
    bus, clock, app = firmware_on_bus(config=Config(reply_routes=2))
    peers = [RawPeer(bus, 0x30 + i) for i in range(6)]
    for round_ in range(3):
        for i, peer in enumerate(peers):
            peer.send(0x1D, build_packets(20 + i, 9, TO | round_, 0x01, b"\xc0\x00\x02")[0])
            poll(app)
        clock.advance(7000)
        poll(app)
    assert app.core.pool.in_use() == 0 and app.core.reply_routes.in_use() == 0
    assert app.pldm.counters.datagrams == 18


def test_a_read_between_writes_leaves_the_next_frame_whole():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    # A controller reads a register the SMBus way (write 0x0F, repeated start, read 4 bytes):
    # rp2 and stm32 report END_WRITE at the repeated start, so the 1-byte write is too short.
    buf = bytearray(4)
    peer.i2c.readfrom_mem_into(0x1D, 0x0F, buf)
    assert buf == b"\xff\xff\xff\xff"
    peer.send_all(0x1D, build_packets(8, 9, TO | 1, ECHO, VENDOR + b"after a read"))
    poll(app)
    counters = app.link.counters
    assert (counters.too_short, counters.read_requests, counters.bad_count) == (1, 4, 0)
    assert [m[4] for m in peer.messages()] == [VENDOR + b"after a read"]


def test_a_write_whose_end_never_comes_is_dropped_at_the_next_read():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    first = build_packets(8, 9, TO | 1, ECHO, VENDOR + pattern(100))
    bus.lose_end_writes = 1  # the first frame's END_WRITE is lost ...
    peer.send(0x1D, first[0])
    peer.i2c.readfrom_into(0x1D, bytearray(1))  # ... and a read comes before the next write
    peer.send_all(0x1D, build_packets(8, 9, TO | 2, ECHO, VENDOR + b"whole"))
    poll(app)
    assert app.link.counters.interrupted == 1 and app.link.counters.bad_count == 0
    assert [m[4] for m in peer.messages()] == [VENDOR + b"whole"]


def test_a_service_that_fails_is_counted_and_the_loop_goes_on():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("a bug in a service")

    app.services.append(broken)
    peer.send_all(0x1D, build_packets(8, 9, TO | 1, ECHO, VENDOR + b"one"))
    app.run(lambda: len(calls) < 3, idle_ms=0)  # three polls, each with the fault
    assert app.faults == 3 and "a bug in a service" in app.first_fault
    assert [m[4] for m in peer.messages()] == [VENDOR + b"one"]
    app.services.remove(broken)
    peer.send_all(0x1D, build_packets(8, 9, TO | 2, ECHO, VENDOR + b"two"))
    poll(app)
    assert [m[4] for m in peer.messages()][-1] == VENDOR + b"two"


def test_errors_say_what_happened():
    server, _clock = lone_server()
    stack = Stack(DirectClient(server))
    with stack.req(9, 100) as channel:
        with raises(MctpError) as caught:
            channel.send(1, b"x")
    assert caught.value.code == ResponseCode.BAD_ARGUMENT
    assert str(caught.value) == "MCTP error: bad argument: no route to EID 9"
    channels = [stack.req(20 + i) for i in range(8)]
    with raises(MctpError) as caught:
        stack.req(30)
    assert str(caught.value).startswith(
        "MCTP error: no space: no free request handle (8 in use: a channel not closed?"
    )
    for channel in channels:
        channel.close()
    listener = stack.listener(1)
    with raises(MctpError) as caught:
        stack.listener(1)
    assert caught.value.detail == "message type 1 already has a listener"
    listener.close()


def test_a_control_request_without_a_route_fails_at_once():
    from mctp.control import ControlError  # noqa: PLC0415
    from mctp.control.requester import ControlRequester  # noqa: PLC0415

    server, clock = lone_server()
    ctl = ControlRequester(Stack(DirectClient(server)))
    started = clock()
    with raises(ControlError) as caught:
        ctl.get_eid(9)
    assert str(caught.value) == "Get Endpoint ID: MCTP error: bad argument: no route to EID 9"
    assert clock() == started and server.core.counters.no_route == 1  # one try, no wait


def test_a_send_nobody_acknowledges_says_so():
    _bus, _clock, app = firmware_on_bus()
    app.core.add_route(8, 8, app.link, 0x10)  # nobody at 0x10
    with app.stack.req(8, 100) as channel:
        with raises(MctpError) as caught:
            channel.send(1, b"x")
    error = caught.value
    assert error.code == ResponseCode.INTERNAL_ERROR
    assert error.detail == "I2C address 0x10 did not acknowledge after 4 tries"


def test_an_interrupted_wait_withdraws_its_receive():
    server, _clock = lone_server()
    stop = []

    def idle():
        stop.append(1)
        raise KeyboardInterrupt  # Ctrl-C at the REPL during a blocking receive

    stack = Stack(DirectClient(server, idle=idle))
    listener = stack.listener(1)
    with raises(KeyboardInterrupt):
        listener.recv()
    assert server.pending_in_use() == 0 and server.check() == []
    inject(server.core, 9, 0xC0 | TO | 2, b"\x01later")
    _meta, payload, _resp = listener.recv()  # the client works on
    assert bytes(payload) == b"later"


def test_a_duplicate_request_beyond_the_reply_routes_is_answered_by_the_routing_table():
    bus, _clock, app = firmware_on_bus(config=Config(reply_routes=1))
    peer = RawPeer(bus, 0x10)
    for text in (b"one", b"two"):  # the second request's route replaces the first's
        peer.send_all(0x1D, build_packets(8, 9, TO | 3, ECHO, VENDOR + text))
    poll(app)
    assert app.core.counters.reply_evicted == 1
    assert [m[4] for m in peer.messages()] == [VENDOR + b"one"]  # then EID 8 has no route
    assert app.echo.counters.answer_no_route == 1
    app.core.add_route(8, 8, app.link, 0x10)
    for text in (b"three", b"four"):
        peer.send_all(0x1D, build_packets(8, 9, TO | 3, ECHO, VENDOR + text))
    poll(app)
    assert [m[4] for m in peer.messages()][-2:] == [VENDOR + b"three", VENDOR + b"four"]


def test_reply_routes_of_unanswered_requests_expire():
    bus, clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    app.echo.vendor_id = 0x1234  # takes requests, answers none: other vendor
    app.echo._hi, app.echo._lo = 0x12, 0x34
    for tag in range(4):
        peer.send_all(0x1D, build_packets(8, 9, TO | tag, ECHO, VENDOR + b"x"))
        poll(app)
    assert app.core.reply_routes.in_use() == 4
    clock.advance(6000)
    poll(app)
    assert app.core.reply_routes.in_use() == 0 and app.core.counters.reply_expired == 4


def test_eight_back_to_back_1k_requests_over_udp_are_all_answered():
    needs_socket()
    from firmware.endpoint import EndpointApp  # noqa: PLC0415
    from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget  # noqa: PLC0415

    app_target = UdpI2CTarget(0x1D, 0)
    peer_target = UdpI2CTarget(0x10, 0)
    peer = RawPeer(None, 0x10, UdpI2C(app_target.port), peer_target)
    app_i2c = UdpI2C(peer_target.port)
    app = EndpointApp(app_i2c, app_target, 0x1D, uuid=bytes(16), eid=9, clock=FakeClock(1000))
    try:
        requests = [VENDOR + pattern(1021, tag) for tag in range(8)]
        for tag, request in enumerate(requests):  # 128 frames, as libmctp sends them
            peer.send_all(0x1D, build_packets(8, 9, TO | tag, ECHO, request))
        for _ in range(40):
            poll(app)
        peer.take()
    finally:
        for sock in (app_target, peer_target, app_i2c, peer.i2c):
            sock.close()
    assert [m[4] for m in peer.messages()] == requests
    assert app.link.counters.ring_full == 0 and app.core.counters.queue_full == 0


def test_the_audit_names_what_is_out_of_place():
    server, _clock = lone_server()
    stack = Stack(DirectClient(server))
    listener = stack.listener(1)
    assert server.check() == []
    pool = server.core.pool
    slot = pool.alloc()  # a complete message nobody queued: leaked
    slot.owner = 0
    pool.start(slot, 9, TO, 1)
    pool.complete(slot)
    assert server.check() == ["slot 0 is complete but queued on no handle"]
    slot.meta[STATE_AT] = ASSEMBLING  # assembling for the listener: fine
    assert server.check() == []
    slot.tag = 3  # a field out of step with the bytes the fast path matches
    assert server.check() == ["slot 0's source, tag, TO or owner differ from its meta bytes"]
    slot.tag = 0
    slot.meta[OWNER_AT] = 1  # (the bytes the receive path counts an owner's messages by)
    assert server.check() == ["slot 0's source, tag, TO or owner differ from its meta bytes"]
    slot.meta[OWNER_AT] = 0
    listener.close()  # which frees the slot with the listener
    assert slot.meta[STATE_AT] == FREE and server.check() == []
    slot.meta[STATE_AT], slot.owner = ASSEMBLING, 0  # had it not, it would assemble for nobody
    assert server.check() == ["slot 0 assembles for an owner that is gone"]
    pool.release(slot)
    server.core.flows.open(9, 5, False, 0)  # a tag whose owner is no request handle
    assert server.check() == ["the flow of tag 0 to EID 9 has no owner"]


def test_a_bus_scan_in_the_middle_of_a_message_loses_nothing():
    bus, _clock, app = firmware_on_bus()
    peer = RawPeer(bus, 0x10)
    request = VENDOR + pattern(300)
    packets = build_packets(8, 9, TO | 1, ECHO, request)
    peer.send(0x1D, packets[0])
    peer.i2c.writeto(0x1D, b"")  # i2cdetect's probe: an address-only write
    peer.i2c.readfrom_into(0x1D, bytearray(1))  # or a one-byte read
    peer.send_all(0x1D, packets[1:])
    poll(app)
    assert [m[4] for m in peer.messages()] == [request]
    counters = app.link.counters
    assert (counters.probes, counters.read_requests, counters.too_short) == (1, 1, 0)
    assert app.core.counters.aborted == 0
