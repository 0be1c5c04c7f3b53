# A bus owner's endpoint set-up, the way Linux mctpd does it (mctpd's setup_added_peer): for an
# endpoint at a physical address on one of our links,
#
#   1. Get Endpoint ID, sent to EID 0 routed to that address;
#   2. Set Endpoint ID from our pool when it has no EID (0) or one that is taken, then use the
#      EID it reports back (as mctpd does, even when it says "rejected");
#   3. a route to the EID at that address;
#   4. Get Message Type Support (mandatory: a failure undoes the route);
#   5. Get Vendor Defined Message Support when 0x7E or 0x7F is listed, selector by selector;
#   6. Get Endpoint UUID (optional: a failure leaves uuid None).
#
#     owner = BusOwner(core, stack, link)
#     peer = owner.enumerate(0x1D)   # -> Peer(eid=10, addr=0x1d, msg_types=..., uuid=...)

from ..constants import EID_NULL, MSG_TYPE_VENDOR_IANA, MSG_TYPE_VENDOR_PCI, is_unicast_eid
from .bridging import ENTRY_ENDPOINT
from .messages import SET_ENDPOINT_ID, ControlError, format_uuid
from .requester import ControlRequester


class Peer:
    """An endpoint the bus owner has set up."""

    def __init__(self, addr, eid):
        self.addr = addr
        self.eid = eid
        self.endpoint_type = 0
        self.eid_type = 0
        self.assigned = False  # we gave it its EID (Set Endpoint ID)
        self.msg_types = []  # type numbers
        self.vdm = []
        self.uuid = None

    def __repr__(self):
        return "Peer(eid=%d, addr=0x%02x, msg_types=%s, vdm=%r, uuid=%s)" % (
            self.eid,
            self.addr,
            self.msg_types,
            self.vdm,
            format_uuid(self.uuid) if self.uuid else None,
        )


class BusOwner:
    """Sets up endpoints on `link` of `core`, giving EIDs from first_eid..last_eid; requests
    go through `stack` (a Stack over the same core) with `timeout_ms` x `tries`."""

    requester_type = ControlRequester  # (AsyncBusOwner's awaits)

    def __init__(self, core, stack, link, first_eid=10, last_eid=254, timeout_ms=250, tries=4):
        if not is_unicast_eid(first_eid) or not first_eid <= last_eid <= 254:
            raise ValueError("the EID pool must lie within 8..254")
        self.core = core
        self.link = link
        self.control = self.requester_type(stack, timeout_ms, tries)
        self.first_eid = first_eid
        self.last_eid = last_eid
        self.peers = {}  # EID -> Peer

    def enumerate(self, addr):
        """Set up the endpoint at physical address `addr`; its Peer. Raises ControlError when
        a mandatory step fails (nothing is left routed then). With an AsyncControlRequester
        (AsyncBusOwner), an awaitable."""
        return self.control.run(self.enumerate_steps(addr))

    def enumerate_steps(self, addr):
        peer = yield from self._assign(addr)
        self.core.routes.add(peer.eid, peer.eid, self.link, addr).learned = ENTRY_ENDPOINT
        try:
            yield from self._describe(peer)
        except BaseException:  # a step failed, or the set-up was cancelled
            self.core.routes.remove(peer.eid)
            raise
        self.peers[peer.eid] = peer
        return peer

    def _assign(self, addr):
        # EID 0 stands for "the endpoint at addr" while it is asked for its EID and given one.
        control = self.control
        self.core.add_route(EID_NULL, EID_NULL, self.link, addr)
        try:
            info = yield from control.get_eid_steps(EID_NULL)
            peer = Peer(addr, info.eid)
            peer.endpoint_type = info.endpoint_type
            peer.eid_type = info.eid_type
            if not self._usable(info.eid, addr):
                assignment = yield from control.set_eid_steps(EID_NULL, self._free_eid())
                peer.eid = assignment.eid
                peer.assigned = True
                if not self._usable(peer.eid, addr):
                    raise ControlError(SET_ENDPOINT_ID, "endpoint reports EID %d" % peer.eid)
            return peer
        finally:
            self.core.routes.remove(EID_NULL)

    def _usable(self, eid, addr):
        if not is_unicast_eid(eid) or eid == self.core.eid:
            return False
        known = self.peers.get(eid)
        return known is None or known.addr == addr

    def _free_eid(self):
        for eid in range(self.first_eid, self.last_eid + 1):
            if eid not in self.peers and eid != self.core.eid:
                return eid
        raise ControlError(
            SET_ENDPOINT_ID, "EID pool %d..%d exhausted" % (self.first_eid, self.last_eid)
        )

    def _describe(self, peer):
        control = self.control
        peer.msg_types = yield from control.get_msg_types_steps(peer.eid)
        if MSG_TYPE_VENDOR_PCI in peer.msg_types or MSG_TYPE_VENDOR_IANA in peer.msg_types:
            peer.vdm = yield from control.get_vdm_support_steps(peer.eid)
        try:
            peer.uuid = yield from control.get_uuid_steps(peer.eid)
        except ControlError:
            peer.uuid = None  # optional, as in mctpd
