# The bridge's control responder (mctp.bridge.control.BridgeResponder) on the simulated I2C bus
# of test_control_responder.py's Rig: the pool it asks for in its Set Endpoint ID answer,
# Allocate Endpoint IDs, Routing Information Update and Get Routing Table Entries, byte for byte,
# with the heap locked.

from test_control_responder import OWNER, Rig, answer_locked
from testing import raises

from mctp.bridge.control import BridgeResponder
from mctp.config import Config


def bridge(pool_size=3, eid=0, **config):
    """A Rig whose endpoint is a bridge asking for `pool_size` EIDs."""
    return Rig(eid, Config(**config), BridgeResponder, pool_size=pool_size)


def owned_bridge(pool_size=3, **config):
    """A bridge whose EID (10) its bus owner at 0x10 has set."""
    rig = bridge(pool_size, **config)
    assert rig.ask(b"\x81\x01\x00\x0a")[1] == bytes((0x01, 0x01, 0x00, 0x01, 0x0A, pool_size))
    return rig


def test_a_bridge_asks_for_its_pool_in_its_set_eid_answer_byte_for_byte():
    rig = bridge(pool_size=3)
    rig.ask(b"\x80\x02")  # Get EID: a bus owner or bridge (0x10), no EID yet
    assert rig.frames[-1] == bytes.fromhex("20 0F 0C 3B 01 08 00 C0 00 00 02 00 00 10 00 55")
    rig.ask(b"\x81\x01\x00\x0a", tag=1)  # accepted, pool required (0x01), EID 10, pool of 3
    assert rig.frames[-1] == bytes.fromhex("20 0F 0C 3B 01 08 0A C1 00 01 01 00 01 0A 03 4D")
    assert rig.responder.endpoint_type == 1
    responder = rig.responder
    assert (responder.owner_link, responder.owner_phys, responder.owner_eid) == (
        rig.ep.link,
        OWNER,
        8,
    )


def test_a_pool_size_out_of_range_is_refused_by_name():
    rig = Rig(eid=9)
    for bad in (-1, 247, "3"):
        with raises(ValueError) as caught:
            BridgeResponder(rig.ep.core, bad, bytes(16))
        assert str(caught.value) == (
            "pool_size must be 0..246 (EIDs 8..254, less the bridge's own), got %r" % (bad,)
        )


def test_allocate_endpoint_ids_accepted_again_rejected_forced_and_asked():
    rig = owned_bridge(pool_size=3)
    assert rig.ask(b"\x81\x08\x00\x03\x0b")[1] == bytes.fromhex("01 08 00 00 03 0B")  # accepted
    assert (rig.responder.pool_first, rig.responder.pool_count) == (11, 3)
    assert rig.ask(b"\x82\x08\x00\x03\x0b")[1] == bytes.fromhex("02 08 00 00 03 0B")  # a retry
    assert rig.ask(b"\x83\x08\x00\x02\x20")[1] == bytes.fromhex("03 08 00 01 03 0B")  # rejected
    assert rig.ask(b"\x84\x08\x02\x00\x00")[1] == bytes.fromhex("04 08 00 00 03 0B")  # info
    assert rig.ask(b"\x85\x08\x01\x02\x20")[1] == bytes.fromhex("05 08 00 00 02 20")  # forced
    assert rig.ask(b"\x81\x01\x00\x0a")[1][3] == 0x02  # Set EID now says: pool received
    assert rig.ask(b"\x86\x08\x01\x00\x00")[1] == bytes.fromhex("06 08 00 00 00 00")  # taken back
    assert rig.ask(b"\x81\x01\x00\x0a")[1][3] == 0x01  # required again
    assert rig.responder.counters.pool_changes == 3
    assert rig.ep.core.eid == 10


def test_allocations_that_are_refused():
    rig = owned_bridge(pool_size=3)
    rig.ep.core.add_route(0x20, 0x20, rig.ep.link, 0x12)
    for body in (
        b"\x80\x08\x00\x04\x0b",  # larger than the pool asked for
        b"\x80\x08\x00\x03\x09",  # overlaps our own EID (10)
        b"\x80\x08\x00\x03\x05",  # reserved EIDs
        b"\x80\x08\x00\x03\xfd",  # past 254
        b"\x80\x08\x00\x00\x0b",  # an empty pool, not forced
        b"\x80\x08\x03\x03\x0b",  # a reserved operation
        b"\x80\x08\x01\x03\x1f",  # EIDs 0x1F..0x21, and 0x20 is routed to the bus owner's bus
    ):
        assert rig.ask(body)[1] == b"\x00\x08\x02", body  # ERROR_INVALID_DATA
    for body in (b"\x80\x08\x00\x03", b"\x80\x08\x00\x03\x0b\x00"):
        assert rig.ask(body)[1] == b"\x00\x08\x03"  # ERROR_INVALID_LENGTH
    # Another bus owner, at 0x12: rejected, and told the pool in use (none).
    rig.bus.target(0x12)
    assert rig.ask(b"\x80\x08\x00\x03\x0b", from_addr=0x12)[1] == bytes.fromhex(
        "00 08 00 01 00 00"
    )
    assert (rig.responder.pool_first, rig.responder.pool_count) == (0, 0)
    assert rig.responder.counters.pool_changes == 0


def test_a_set_eid_into_the_bridges_own_pool_is_refused():
    # Linux's mctpd does this after it forgot the bridge (Remove, or a restart): it assigns
    # the bridge a static EID inside the pool it had given it. Taken, the bridge would answer
    # for an EID that an endpoint behind it has, and that endpoint would be out of reach.
    rig = owned_bridge(pool_size=3)
    assert rig.ask(b"\x81\x08\x00\x03\x0b")[1] == bytes.fromhex("01 08 00 00 03 0B")  # 11..13
    for body in (b"\x82\x01\x00\x0b", b"\x83\x01\x01\x0d"):  # set 11, force 13
        assert rig.ask(body)[1] == bytes((body[0] & 0x1F, 0x01, 0x02)), body  # INVALID_DATA
    assert rig.ep.core.eid == 10
    assert rig.responder.counters.eid_changes == 1
    # Just past the pool is no endpoint's: taken, the pool kept.
    assert rig.ask(b"\x84\x01\x00\x0e")[1] == bytes.fromhex("04 01 00 02 0E 03")
    assert (rig.ep.core.eid, rig.responder.pool_first, rig.responder.pool_count) == (14, 11, 3)
    # The pool taken back (force allocation of none), the EID is free to give.
    assert rig.ask(b"\x85\x08\x01\x00\x00")[1] == bytes.fromhex("05 08 00 00 00 00")
    assert rig.ask(b"\x86\x01\x00\x0b")[1] == bytes.fromhex("06 01 00 01 0B 03")


def test_a_bridge_whose_eid_nobody_set_takes_no_allocation():
    rig = bridge(pool_size=3, eid=12)  # an EID of its own: no bus owner known
    assert rig.ask(b"\x80\x08\x00\x03\x0b")[1] == bytes.fromhex("00 08 00 01 00 00")


def test_routing_information_update_from_the_bus_owner():
    rig = owned_bridge()
    # An endpoint (type 0) at 0x30 and a bridge's range without its own EID (type 3) at 0x32;
    # addresses as on the wire (bits 7:1).
    update = bytes.fromhex("81 09 02 00 01 20 60 C0 04 30 64")
    assert rig.ask(update)[1] == b"\x01\x09\x00"
    routes = rig.ep.core.routes
    one, many = routes.lookup(0x20), routes.lookup(0x33)
    # Learned (not configured), as the types the update gave.
    assert (one.first, one.last, one.phys, one.learned) == (0x20, 0x20, 0x30, 0)
    assert (many.first, many.last, many.phys, many.learned) == (0x30, 0x33, 0x32, 3)
    assert one.link is rig.ep.link and many.link is rig.ep.link
    assert rig.ask(b"\x82\x09\x00")[1] == b"\x02\x09\x00"  # no entries: nothing to do
    # An entry with our own EID (10) in it is ours, not a route.
    assert rig.ask(bytes.fromhex("83 09 01 40 03 09 20"))[1] == b"\x03\x09\x00"
    assert routes.lookup(10) is None
    assert rig.responder.counters.routes_learned == 2


def test_routing_information_updates_that_are_refused():
    rig = owned_bridge(routes=3)
    rig.bus.target(0x12)
    entry = bytes.fromhex("00 01 20 60")
    assert rig.ask(b"\x80\x09\x01" + entry, from_addr=0x12)[1] == b"\x00\x09\x01"  # not our owner
    assert rig.ask(b"\x80\x09\x02" + entry)[1] == b"\x00\x09\x03"  # two announced, one there
    assert rig.ask(b"\x80\x09\x01" + entry + b"\x00")[1] == b"\x00\x09\x03"
    assert rig.ask(b"\x80\x09")[1] == b"\x00\x09\x03"  # no count
    for bad in ("00 00 20 60", "00 01 05 60", "00 02 FE 60"):  # no EIDs, reserved, past 254
        assert rig.ask(b"\x80\x09\x02" + entry + bytes.fromhex(bad))[1] == b"\x00\x09\x02"
    assert rig.ep.core.routes.lookup(0x20) is None  # nothing taken from a refused update
    # A table with room for three: the fourth entry is refused (ERROR), the three taken.
    four = b"".join(bytes((0, 1, eid, 0x60)) for eid in (0x20, 0x21, 0x22, 0x23))
    assert rig.ask(b"\x80\x09\x04" + four)[1] == b"\x00\x09\x01"
    assert rig.ep.core.routes.lookup(0x22) is not None and rig.ep.core.routes.lookup(0x23) is None


def test_get_routing_table_entries_byte_for_byte():
    rig = owned_bridge()
    core = rig.ep.core
    assert rig.ask(b"\x80\x0a\x00")[1] == bytes.fromhex("00 0A 00 FF 00")  # none yet
    core.add_route(8, 8, rig.ep.link, OWNER)  # configured: static
    core.routes.add(0x20, 0x20, rig.ep.link, 0x30).learned = 0  # learned: one endpoint
    core.routes.add(0x30, 0x33, rig.ep.link, 0x32).learned = 1  # a bridge and its range
    core.add_route(0, 0, rig.ep.link, 0x31)  # an endpoint being set up: not an entry
    core.add_route(0x40, 0x40, rig.ep.link)  # no address: the link resolves it
    assert rig.ask(b"\x80\x0a\x00")[1] == bytes.fromhex(
        "00 0A 00 FF 04"
        "01 08 20 01 01 01 20"  # EID 8, endpoint, static, port 0, SMBus, 100 kHz, at 0x10
        "01 20 00 01 01 01 60"  # EID 0x20, endpoint, learned, at 0x30
        "04 30 40 01 01 01 64"  # EIDs 0x30..0x33, a bridge and its range, at 0x32
        "01 40 20 01 01 00"  # EID 0x40, no address
    )


def test_get_routing_table_entries_pages_through_a_large_table():
    rig = owned_bridge(routes=12)
    for i in range(11):
        rig.ep.core.routes.add(0x20 + i, 0x20 + i, rig.ep.link, 0x30 + i).learned = 0
    first = rig.ask(b"\x80\x0a\x00")[1]
    assert first[3:5] == bytes((8, 8))  # 8 entries of 7 bytes fill a baseline packet
    assert len(first) + 1 == 62
    rest = rig.ask(b"\x81\x0a\x08")[1]
    assert rest[3:5] == bytes((0xFF, 3))
    assert [rest[5 + 7 * i + 1] for i in range(3)] == [0x28, 0x29, 0x2A]
    assert rig.ask(b"\x82\x0a\x0c")[1] == b"\x02\x0a\x02"  # past the table
    assert rig.ask(b"\x83\x0a")[1] == b"\x03\x0a\x03"
    assert rig.ask(b"\x83\x0a\x00\x00")[1] == b"\x03\x0a\x03"


def test_the_bridge_commands_with_the_heap_locked():
    rig = owned_bridge()
    rig.ep.core.routes.add(0x20, 0x20, rig.ep.link, 0x30).learned = 0
    requests = (
        b"\x80\x08\x00\x03\x0b",
        b"\x80\x08\x00\x02\x20",
        b"\x80\x08\x02\x00\x00",
        b"\x80\x09\x01\x00\x01\x21\x62",
        b"\x80\x09\x01\x00\x00\x21\x62",
        b"\x80\x0a\x00",
        b"\x80\x01\x00\x0a",
        b"\x80\x01\x00\x0c",  # into the pool (11..13): refused
    )
    answer_locked(rig, requests, dest=10)
    counters = rig.responder.counters
    assert (counters.responses, counters.errors, counters.internal_error) == (1 + 16, 4, 0)
    assert rig.ep.core.routes.lookup(0x21) is not None
