# The bus owner (mctp.control.bus_owner) on the simulated I2C bus: its mctpd-style set-up of an
# endpoint, byte for byte, the EIDs it keeps or replaces, and the route it undoes on failure.

from endpoints import Endpoint
from test_control_responder import EP, UUID, Rig
from testing import raises

from mctp.control.bus_owner import BusOwner
from mctp.control import ControlError, vdm_pci
from mctp.control.responder import ControlResponder
from mctp.i2c import I2CLink


# Checked against pymctp's dissection and the crc8 package (test_pymctp_control.py).
# The bus owner's set-up of an endpoint with a 0x7E listener and one PCI VDM entry.
BUS_OWNER_SEQUENCE = [
    "3A 0F 08 21 01 00 08 C8 00 80 02 56",  # Get EID to EID 0, tag 0, IID 0
    "20 0F 0C 3B 01 08 00 C0 00 00 02 00 00 00 00 02",  # EID 0, simple, dynamic
    "3A 0F 0A 21 01 00 08 C9 00 81 01 00 0A F8",  # Set EID 10
    "20 0F 0C 3B 01 08 0A C1 00 01 01 00 00 0A 00 2F",  # accepted, from EID 10
    "3A 0F 08 21 01 0A 08 CA 00 82 05 58",  # Get Message Type Support
    "20 0F 0C 3B 01 08 0A C2 00 02 05 00 02 00 7E C7",  # control and 0x7E
    "3A 0F 09 21 01 0A 08 CB 00 83 06 00 D1",  # Get VDM Support, selector 0
    "20 0F 0F 3B 01 08 0A C3 00 03 06 00 FF 00 1A B4 00 01 78",  # PCI 0x1AB4, set 1, last
    "3A 0F 08 21 01 0A 08 CC 00 84 03 40",  # Get Endpoint UUID
    "20 0F 19 3B 01 08 0A C4 00 04 03 00 " + UUID.hex() + " 49",
]


def test_bus_owner_sets_up_an_endpoint_mctpd_style_byte_for_byte():
    rig = Rig(vdm=(vdm_pci(0x1AB4, 0x0001),))
    vendor = rig.ep.stack.listener(0x7E)
    owner = BusOwner(rig.owner.core, rig.owner.stack, rig.owner.link)
    peer = owner.enumerate(EP)
    assert (peer.eid, peer.addr, peer.assigned) == (10, EP, True)
    assert peer.msg_types == [0, 0x7E] and peer.uuid == UUID
    assert (peer.vdm[0].vendor_id, peer.vdm[0].command_set) == (0x1AB4, 1)
    assert rig.owner.core.routes.lookup(10).phys == EP
    assert rig.owner.core.routes.lookup(0) is None  # the set-up route is gone
    vendor.close()
    assert [frame.hex() for frame in rig.frames] == [
        bytes.fromhex(frame).hex() for frame in BUS_OWNER_SEQUENCE
    ]


def test_bus_owner_keeps_a_usable_eid_and_replaces_a_taken_one():
    rig = Rig(eid=0x20)
    owner = BusOwner(rig.owner.core, rig.owner.stack, rig.owner.link)
    peer = owner.enumerate(EP)
    assert (peer.eid, peer.assigned) == (0x20, False)  # its own EID, no Set EID
    assert peer.vdm == []  # no 0x7E/0x7F: no VDM request
    # A second endpoint at 0x1E claims the same EID: it gets one from the pool.
    second = Endpoint(
        rig.bus,
        I2CLink(rig.bus.controller(), rig.bus.target(0x1E), 0x1E),
        0x1E,
        0x20,
        rig.owner.clock,
    )
    ControlResponder(second.core, bytes(16))
    rig.owner.others.append(second.server.poll)
    peer2 = owner.enumerate(0x1E)
    assert (peer2.eid, peer2.assigned) == (10, True)
    assert second.core.eid == 10
    assert sorted(owner.peers) == [10, 0x20]


def test_bus_owner_undoes_the_route_when_message_types_fail():
    rig = Rig(eid=0x20)
    owner = BusOwner(rig.owner.core, rig.owner.stack, rig.owner.link, tries=1)
    rig.responder.msg_types = None  # the endpoint faults on Get Message Type Support
    with raises(ControlError):
        owner.enumerate(EP)
    assert rig.owner.core.routes.lookup(0x20) is None
    assert owner.peers == {}
    assert rig.responder.counters.internal_error == 1
