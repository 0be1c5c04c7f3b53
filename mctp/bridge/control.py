# A bridge's control responder (DSP0236 8.18 and clause 9): the endpoint's ControlResponder,
# and besides it Allocate Endpoint IDs, Routing Information Update and Get Routing Table
# Entries. Its Set Endpoint ID answers ask for its EID pool, its Get Endpoint ID answers say
# "bus owner or bridge", and it takes its EID, its pool and its routes only from its bus owner:
# the link and address the Set Endpoint ID that gave it its EID came from. Here, in part
# mctp-bridge beside the forwarding, so that an endpoint's image holds nothing of it: an
# endpoint's ControlResponder answers these commands ERROR_UNSUPPORTED_CMD.
#
# Nothing here allocates per request but Routing Information Update, which takes each route
# through RouteTable.add (configuration: its frame is on the heap, and a full table raises).
# The base class's steps are called by name, not through super(): a method that uses super()
# is a closure in MicroPython, and calling it allocates.

from .._compat import const
from ..constants import EID_BROADCAST, EID_NULL, EID_RESERVED_MAX
from ..control.bridging import (
    ALLOCATE_EIDS,
    ALLOCATE_ENDPOINT_IDS,
    ALLOCATION_ACCEPTED,
    ALLOCATION_REJECTED,
    BRIDGE_REQUEST_LENGTHS,
    ENTRY_ENDPOINT,
    ENTRY_HANDLE_LAST,
    ENTRY_PORT_MASK,
    ENTRY_RANGE,
    ENTRY_STATIC,
    FORCE_ALLOCATION,
    GET_ALLOCATION_INFO,
    GET_ROUTING_TABLE_ENTRIES,
    POOL_NONE,
    POOL_RECEIVED,
    POOL_REQUIRED,
    ROUTING_INFORMATION_UPDATE,
)
from ..control.messages import (
    EID_ACCEPTED,
    EID_REJECTED,
    ENDPOINT_BUS_OWNER,
    ERROR,
    ERROR_INVALID_DATA,
    ERROR_INVALID_LENGTH,
    FORCE_EID,
    SET_EID,
    SUCCESS,
)
from ..control.responder import COUNTERS, ControlResponder
from ..counters import Counters
from ..i2c.link import I2CLink
from ..serial.link import SerialLink

# Get Routing Table Entries answers in one baseline packet: 64 bytes with the type byte.
_ROUTES_END = const(63)
# What an entry says of its link's medium (DSP0239 numbers), found from the link's class: the
# core's links carry nothing for a bridge, so that an endpoint's are as before. SMBus/I2C
# (DSP0237) at 100 kHz, its 7-bit address in bits 7:1 as on the wire; serial (DSP0253), point
# to point, no address; any other link vendor defined, its address one byte as the core has it.
_SMBUS = const(0x01)
_SMBUS_100K = const(0x01)
_SERIAL = const(0x05)
_VENDOR = const(0xFF)
_UNSPECIFIED = const(0x00)
# The most a pool can hold: EIDs 8..254, less the bridge's own.
POOL_SIZE_MAX = const(246)

BRIDGE_COUNTERS = (
    "pool_changes",  # Allocate Endpoint IDs gave us another EID pool (or took it)
    "routes_learned",  # routes taken from a Routing Information Update
)


class BridgeResponder(ControlResponder):
    """Answers control requests for `core` as a bridge that asks its bus owner for a pool of
    `pool_size` EIDs (0..246; 0 asks for none) for the endpoints on its other links
    (mctp.control.pool.PoolOwner gives them out). The other arguments are ControlResponder's;
    the endpoint type is always "bus owner or bridge".

    The bus owner is the link, address and EID (`owner_link`, `owner_phys`, `owner_eid`)
    the last Set Endpoint ID (set or force) came from; only it allocates the pool and sends
    routes, and a Set Endpoint ID from another link is rejected. The pool allocated is
    `pool_first` and `pool_count` (0: none yet); a Set Endpoint ID (set or force) to one of
    its EIDs gets ERROR_INVALID_DATA. The counters add `pool_changes` and `routes_learned`.
    """

    def __init__(
        self, core, pool_size, uuid=None, static_eid=None, versions=None, vdm=(), msg_types=()
    ):
        if not isinstance(pool_size, int) or not 0 <= pool_size <= POOL_SIZE_MAX:
            raise ValueError(
                "pool_size must be 0..%d (EIDs 8..254, less the bridge's own), got %r"
                % (POOL_SIZE_MAX, pool_size)
            )
        super().__init__(core, uuid, static_eid, ENDPOINT_BUS_OWNER, versions, vdm, msg_types)
        self.pool_size = pool_size
        self.pool_first = EID_NULL  # the pool allocated: first EID and size
        self.pool_count = 0
        self.counters = Counters(COUNTERS + BRIDGE_COUNTERS)

    def _command(self, command):
        expected = BRIDGE_REQUEST_LENGTHS.get(command, -1)
        if expected < 0:
            return ControlResponder._command(self, command)
        if command == ROUTING_INFORMATION_UPDATE:
            return self._update_routes()  # (of any length: it checks its own)
        if self._slot.length != expected:
            return ERROR_INVALID_LENGTH
        if command == GET_ROUTING_TABLE_ENTRIES:
            return self._get_routes(self._slot.buf[2])
        return self._allocate(self._slot.buf[2] & 3, self._slot.buf[3], self._slot.buf[4])

    def _set_eid(self, operation, eid):
        if self._from_downstream():
            # A bridge's EID is its bus owner's to set, not an endpoint's on a link it owns.
            return self._eid_set(EID_REJECTED, self.core.eid)
        if (operation == SET_EID or operation == FORCE_EID) and self._in_pool(eid):
            # That EID is an endpoint's behind us: as ours, it would shadow that endpoint.
            return ERROR_INVALID_DATA
        code = ControlResponder._set_eid(self, operation, eid)
        if code != SUCCESS:
            return code
        return self._eid_set(EID_ACCEPTED, self.core.eid)

    def _route_owner(self):
        # A bridge routes no EID range to its bus owner: a packet for a pool EID with no
        # endpoint is dropped here (fwd_no_route), not sent back up. Its bus owner's own EID
        # is routed upstream by the firmware (firmware.bridge), from its loop.
        return

    def _eid_set(self, status, eid):
        # The Set Endpoint ID answer, with the pool asked for and its status.
        rsp = self._rsp
        rsp[3] = status | self._pool_status()
        rsp[4] = eid
        rsp[5] = self.pool_size
        self._len = 6
        return SUCCESS

    def _in_pool(self, eid):
        return self.pool_count and self.pool_first <= eid < self.pool_first + self.pool_count

    def _pool_status(self):
        if not self.pool_size:
            return POOL_NONE
        return POOL_RECEIVED if self.pool_count else POOL_REQUIRED

    def _from_downstream(self):
        # From a link other than our bus owner's, once we have one.
        return self.owner_link is not None and self._slot.link is not self.owner_link

    def _from_owner(self):
        slot = self._slot
        return (
            self.owner_link is not None
            and slot.link is self.owner_link
            and slot.phys == self.owner_phys
        )

    # Allocate Endpoint IDs.

    def _allocate(self, operation, count, first):
        # The answer says the pool in use after it, accepted or not.
        if operation == GET_ALLOCATION_INFO:
            return self._allocation(ALLOCATION_ACCEPTED)
        if operation != ALLOCATE_EIDS and operation != FORCE_ALLOCATION:
            return ERROR_INVALID_DATA
        if not self._from_owner():
            return self._allocation(ALLOCATION_REJECTED)  # only our bus owner allocates
        if operation == ALLOCATE_EIDS and self.pool_count:
            # Allocated already: the same pool again (a retry) is accepted, another refused.
            same = first == self.pool_first and count == self.pool_count
            return self._allocation(ALLOCATION_ACCEPTED if same else ALLOCATION_REJECTED)
        if count == 0 and operation == FORCE_ALLOCATION:
            first = EID_NULL  # the pool taken back
        elif not self._pool_fits(count, first):
            return ERROR_INVALID_DATA
        if first != self.pool_first or count != self.pool_count:
            self.pool_first = first
            self.pool_count = count
            self.counters.pool_changes += 1
        return self._allocation(ALLOCATION_ACCEPTED)

    def _pool_fits(self, count, first):
        # At most the size asked for, unicast EIDs only, neither our own EID nor one routed
        # towards the bus owner among them.
        last = first + count - 1
        if not 0 < count <= self.pool_size or first <= EID_RESERVED_MAX or last >= EID_BROADCAST:
            return False
        return not first <= self.core.eid <= last and not self._routed_upstream(first, last)

    def _routed_upstream(self, first, last):
        routes = self.core.routes.routes
        i = 0
        while i < len(routes):
            route = routes[i]
            if route.used and route.link is self.owner_link and route.first <= last:
                if route.last >= first and route.first != EID_NULL:
                    return True
            i += 1
        return False

    def _allocation(self, status):
        rsp = self._rsp
        rsp[3] = status
        rsp[4] = self.pool_count
        rsp[5] = self.pool_first
        self._len = 6
        return SUCCESS

    # Get Routing Table Entries.

    def _get_routes(self, handle):
        # From entry `handle` (an index in the table) on, as many as fit one baseline packet;
        # the next handle, or 0xFF after the last. EID 0 routes (an endpoint being set up,
        # reached by its address) are not entries.
        routes = self.core.routes.routes
        if handle >= len(routes):
            return ERROR_INVALID_DATA
        self._len = 5
        count = 0
        while handle < len(routes):
            if routes[handle].used and routes[handle].first != EID_NULL:
                if self._len + 6 + self._phys_size(routes[handle]) > _ROUTES_END:
                    break
                self._put_route(routes[handle])
                count += 1
            handle += 1
        self._rsp[3] = handle if handle < len(routes) else ENTRY_HANDLE_LAST
        self._rsp[4] = count
        return SUCCESS

    def _phys_size(self, route):
        # A route without an address (the link resolves it) reports none.
        return 0 if route.phys is None else _addr_size(route.link)

    def _put_route(self, route):
        rsp = self._rsp
        at = self._len
        rsp[at] = route.last - route.first + 1
        rsp[at + 1] = route.first
        rsp[at + 2] = self._entry_type(route) | self._port(route.link)
        rsp[at + 3] = _binding(route.link)
        rsp[at + 4] = _SMBUS_100K if rsp[at + 3] == _SMBUS else _UNSPECIFIED
        rsp[at + 5] = self._phys_size(route)
        self._len = at + 6 + rsp[at + 5]
        if rsp[at + 5]:
            rsp[at + 6] = route.phys << 1 if rsp[at + 3] == _SMBUS else route.phys

    def _entry_type(self, route):
        # The entry's type byte less its port: a learned route's type as it was learned; a
        # configured one is static, one endpoint or a range.
        if route.learned is not None:
            return route.learned << 6
        return (ENTRY_ENDPOINT if route.first == route.last else ENTRY_RANGE) << 6 | ENTRY_STATIC

    def _port(self, link):
        # The link's index among the core's: the entry's port number.
        links = self.core.links
        i = 0
        while i < len(links) and links[i] is not link:
            i += 1
        return i & ENTRY_PORT_MASK

    # Routing Information Update.

    def _update_routes(self):
        # From our bus owner: a count, then entries of type, EID count, first EID and an
        # address of the size the link's addresses take. Every entry is checked before any is
        # taken; one that covers our own EID is left out.
        slot = self._slot
        if not self._from_owner():
            return ERROR
        size = 3 + _addr_size(slot.link)
        if slot.length < 3 or slot.length != 3 + slot.buf[2] * size:
            return ERROR_INVALID_LENGTH
        at = 3
        while at < slot.length:
            if not self._update_valid(slot.buf[at + 1], slot.buf[at + 2]):
                return ERROR_INVALID_DATA
            at += size
        code = SUCCESS
        at = 3
        while at < slot.length:
            if not self._learn_route(at):
                code = ERROR  # the table is full: the entries before this one were taken
            at += size
        return code

    def _update_valid(self, count, first):
        return count > 0 and first > EID_RESERVED_MAX and first + count - 1 < EID_BROADCAST

    def _learn_route(self, at):
        # One update entry at buf[at]: False when the routing table has no room for it.
        buf = self._slot.buf
        last = buf[at + 2] + buf[at + 1] - 1
        if buf[at + 2] <= self.core.eid <= last:
            return True  # our own EID is ours, not a route
        try:
            route = self.core.routes.add(buf[at + 2], last, self._slot.link, self._update_phys(at))
        except ValueError:
            return False
        route.learned = buf[at] >> 6
        self.counters.routes_learned += 1
        return True

    def _update_phys(self, at):
        # The entry's address (after its type, count and first EID), as the core keeps it.
        binding = _binding(self._slot.link)
        if binding == _SERIAL:
            return None
        if binding == _SMBUS:
            return self._slot.buf[at + 3] >> 1
        return self._slot.buf[at + 3]


def _binding(link):
    if isinstance(link, I2CLink):
        return _SMBUS
    if isinstance(link, SerialLink):
        return _SERIAL
    return _VENDOR


def _addr_size(link):
    # The bytes a physical address on `link` takes in a routing table entry.
    return 0 if isinstance(link, SerialLink) else 1
