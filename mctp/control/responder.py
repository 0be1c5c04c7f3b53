# The endpoint's control-protocol responder (DSP0236 message type 0), inside the stack: the core
# hands it every complete control request, and it answers at once from the receive path, so an
# answer leaves within the same poll (well inside the 100 ms DSP0236 allows), and a Set Endpoint
# ID response leaves from the new EID before anything else happens. The answer goes back on the
# link and to the physical address the request came from, so it needs no route and takes no
# reply-route entry (a requester without an EID is answered too).
#
# Answered: Set Endpoint ID (all four operations), Get Endpoint ID, Get Endpoint UUID, Get MCTP
# Version Support, Get Message Type Support, Get Vendor Defined Message Support; and, by a
# bridge (Config.pool_size > 0), Allocate Endpoint IDs, Routing Information Update and Get
# Routing Table Entries; every other command gets ERROR_UNSUPPORTED_CMD. Datagrams (D=1) are never answered. A request with the
# IC bit, without a command byte, or with Rq=0 is dropped and counted. It keeps no state per
# request, so a retry with the same instance ID is answered again.
#
# Nothing here allocates per request: the response is built in a buffer made at construction.
#
# (Over ~450 lines: every command's answer beside the others, built in the one answer buffer
# by small steps that share the request in attributes ([frame-limit]); apart, each would
# reach back into the responder's state.)

from .._compat import const, unique_id
from ..bufcopy import copy_into
from ..constants import EID_BROADCAST, EID_NULL, EID_RESERVED_MAX, MSG_TYPE_CONTROL, MSG_TYPE_MAX
from .messages import (
    ALLOCATE_EIDS,
    ALLOCATE_ENDPOINT_IDS,
    ALLOCATION_ACCEPTED,
    ALLOCATION_REJECTED,
    BASE_VERSION,
    DATAGRAM,
    EID_ACCEPTED,
    EID_DYNAMIC,
    EID_REJECTED,
    EID_STATIC_CURRENT,
    EID_STATIC_OTHER,
    EID_STATIC_SUPPORTED,
    ENDPOINT_BUS_OWNER,
    ENDPOINT_SIMPLE,
    ENTRY_HANDLE_LAST,
    ENTRY_PORT_MASK,
    ENTRY_STATIC,
    ERROR,
    ERROR_INVALID_DATA,
    ERROR_INVALID_LENGTH,
    ERROR_UNSUPPORTED_CMD,
    FORCE_ALLOCATION,
    FORCE_EID,
    GET_ALLOCATION_INFO,
    GET_ENDPOINT_ID,
    GET_ENDPOINT_UUID,
    GET_MESSAGE_TYPE_SUPPORT,
    GET_ROUTING_TABLE_ENTRIES,
    GET_VDM_SUPPORT,
    GET_VERSION_SUPPORT,
    IID_MASK,
    POOL_NONE,
    POOL_RECEIVED,
    POOL_REQUIRED,
    REQUEST_LENGTHS,
    RESET_EID,
    ROUTING_INFORMATION_UPDATE,
    RQ,
    SET_EID,
    SET_ENDPOINT_ID,
    SUCCESS,
    VDM_LAST,
    VERSION_BASE,
    VERSION_TYPE_NOT_SUPPORTED,
    uuid_from_unique_id,
)
from ..counters import Counters

_MAX_VERSIONS = const(8)  # version entries per message type
_RSP_SIZE = const(3 + 1 + 128)  # the longest answer: every message type
# Get Routing Table Entries answers in one baseline packet: 64 bytes with the type byte.
_ROUTES_END = const(63)
_SMBUS = const(0x01)  # the SMBus binding, whose addresses go as on the wire (bits 7:1)

_COUNTERS = (
    "requests",  # complete control requests taken
    "responses",  # answers sent
    "datagrams",  # D=1 requests: never answered
    "unsupported",  # answered ERROR_UNSUPPORTED_CMD
    "errors",  # answered with another error completion code
    "dropped",  # IC set, no command byte, or Rq=0: not answered
    "send_failed",  # an answer the core could not send
    "eid_changes",  # Set Endpoint ID changed our EID
    "pool_changes",  # Allocate Endpoint IDs gave us another EID pool (or took it)
    "routes_learned",  # routes taken from a Routing Information Update
    "internal_error",  # a fault while answering (the request is dropped)
)


class ControlResponder:
    """Answers control requests for `core`.

    `uuid` is 16 bytes; None makes one from the board's unique ID (machine.unique_id()).
    `static_eid` is the endpoint's static EID, if it has one (Set EID "reset" goes back to it).
    `versions` maps other message types to their version entries (4 bytes each, see
    mctp.control.version_entry); the base spec (0xFF) and control (0x00) answer 1.3.1.
    `vdm` lists Get VDM Support entries (mctp.control.vdm_pci / vdm_iana). Message types with
    a listener, plus `msg_types`, are reported by Get Message Type Support.

    With `core.config.pool_size` above 0 it answers as a bridge: its Set Endpoint ID answers
    ask for a pool of that many EIDs, its Get Endpoint ID answers say "bus owner or bridge",
    and it takes Allocate Endpoint IDs and Routing Information Update from the bus owner that
    set its EID (the link and address that Set Endpoint ID came from). The pool allocated is
    `pool_first` and `pool_count` (0: none yet); `counters.pool_changes` counts its changes.
    """

    def __init__(
        self,
        core,
        uuid=None,
        static_eid=None,
        endpoint_type=ENDPOINT_SIMPLE,
        versions=None,
        vdm=(),
        msg_types=(),
    ):
        if uuid is None:
            board_id = unique_id()
            if board_id is None:
                raise ValueError("no uuid given, and this port has no machine.unique_id()")
            uuid = uuid_from_unique_id(board_id)
        if len(uuid) != 16:
            raise ValueError("uuid must be 16 bytes")
        if static_eid is not None and not EID_RESERVED_MAX < static_eid < EID_BROADCAST:
            raise ValueError("static EID must be 8..254")
        if endpoint_type not in (ENDPOINT_SIMPLE, ENDPOINT_BUS_OWNER):
            raise ValueError("endpoint type must be 0 (simple) or 1 (bus owner or bridge)")
        self.core = core
        self.uuid = bytes(uuid)
        self.static_eid = static_eid or EID_NULL
        self.pool_size = core.config.pool_size  # the pool asked for: 0 for an endpoint
        self.endpoint_type = ENDPOINT_BUS_OWNER if self.pool_size else endpoint_type
        self.pool_first = EID_NULL  # the pool allocated: first EID and size
        self.pool_count = 0
        self.owner_link = None  # where the bus owner's Set Endpoint ID came from
        self.owner_phys = None
        self.owner_eid = EID_NULL  # the EID it sent that Set Endpoint ID from
        self.versions = {VERSION_BASE: BASE_VERSION, MSG_TYPE_CONTROL: BASE_VERSION}
        for msg_type, entries in (versions or {}).items():
            if not 0 < msg_type <= MSG_TYPE_MAX or not entries or len(entries) % 4:
                raise ValueError("versions: a message type 1..127 to 4-byte entries")
            if len(entries) > 4 * _MAX_VERSIONS:
                raise ValueError("at most %d versions per message type" % _MAX_VERSIONS)
            self.versions[msg_type] = bytes(entries)
        for entry in vdm:
            if len(entry) not in (5, 7):
                raise ValueError("a VDM entry is 5 (PCI) or 7 (IANA) bytes")
        if len(vdm) >= VDM_LAST:
            raise ValueError("too many VDM entries")
        self.vdm = tuple(bytes(entry) for entry in vdm)
        self.msg_types = bytearray(MSG_TYPE_MAX + 1)  # 1 where a type is always reported
        for msg_type in msg_types:
            self.msg_types[msg_type & MSG_TYPE_MAX] = 1
        self.discovered = False
        self.counters = Counters(_COUNTERS)
        self._rsp = bytearray(_RSP_SIZE)
        self._len = 0  # of the answer in _rsp
        self._slot = None  # the request being answered
        if not core.eid and self.static_eid:
            core.set_eid(self.static_eid)
        core.control = self

    def handle(self, slot):
        """Answer the complete control request in `slot`, then free the slot. Never raises."""
        self._slot = slot
        self._len = 0
        self.counters.requests += 1
        self._guarded()
        if self._len:
            # Sent from here, once built ([c-stack]); the core catches its faults.
            self._count_sent(self.core.respond(slot, MSG_TYPE_CONTROL, self._rsp, self._len))
        self._slot = None
        self.core.release(slot)

    def _guarded(self):
        try:
            self._build_answer()
        except Exception:
            self._len = 0
            self.counters.internal_error += 1

    def _build_answer(self):
        # The answer in _rsp[:_len], or _len 0 for none.
        slot = self._slot
        if slot.ic or slot.length < 2 or not slot.buf[0] & RQ:
            self.counters.dropped += 1
            return
        if slot.buf[0] & DATAGRAM:
            self.counters.datagrams += 1
            return
        rsp = self._rsp
        rsp[0] = slot.buf[0] & IID_MASK  # Rq and D clear, the request's instance ID
        rsp[1] = slot.buf[1]
        self._len = 3  # the completion code only, unless a command succeeds and adds its data
        code = self._command(slot.buf[1])
        rsp[2] = code
        if code == ERROR_UNSUPPORTED_CMD:
            self.counters.unsupported += 1
        elif code != SUCCESS:
            self.counters.errors += 1

    def _count_sent(self, status):
        if status:
            self.counters.send_failed += 1
        else:
            self.counters.responses += 1

    def _command(self, command):
        expected = REQUEST_LENGTHS.get(command, -1)
        if expected < 0 or (command >= ALLOCATE_ENDPOINT_IDS and not self.pool_size):
            return ERROR_UNSUPPORTED_CMD  # (the bridge's commands, to an endpoint)
        if command == ROUTING_INFORMATION_UPDATE:
            return self._update_routes()  # (of any length: it checks its own)
        if self._slot.length != expected:
            return ERROR_INVALID_LENGTH
        if command >= ALLOCATE_ENDPOINT_IDS:
            return self._bridge_command(command)
        if command == SET_ENDPOINT_ID:
            return self._set_eid(self._slot.buf[2] & 3, self._slot.buf[3])
        if command == GET_ENDPOINT_ID:
            return self._get_eid()
        if command == GET_ENDPOINT_UUID:
            return self._put(self.uuid)
        if command == GET_VERSION_SUPPORT:
            return self._get_version(self._slot.buf[2])
        if command == GET_MESSAGE_TYPE_SUPPORT:
            return self._get_msg_types()
        return self._get_vdm(self._slot.buf[2])  # GET_VDM_SUPPORT, the last with a length

    def _set_eid(self, operation, eid):
        if self.pool_size and self._from_downstream():
            # A bridge's EID is its bus owner's to set, not an endpoint's on a link it owns.
            return self._eid_set(EID_REJECTED, self.core.eid)
        if operation == SET_EID or operation == FORCE_EID:
            if not EID_RESERVED_MAX < eid < EID_BROADCAST:
                return ERROR_INVALID_DATA
        elif operation == RESET_EID:
            if not self.static_eid:
                return ERROR_INVALID_DATA
            eid = self.static_eid
        else:  # SET_DISCOVERED
            self.discovered = True
            eid = self.core.eid
        if eid != self.core.eid:
            self.core.set_eid(eid)  # before the answer, which leaves from the new EID
            self.counters.eid_changes += 1
        if operation == SET_EID or operation == FORCE_EID:
            self.owner_link = self._slot.link  # our bus owner, from now on
            self.owner_phys = self._slot.phys
            self.owner_eid = self._slot.src
        return self._eid_set(EID_ACCEPTED, eid)

    def _eid_set(self, status, eid):
        rsp = self._rsp
        rsp[3] = status | self._pool_status()
        rsp[4] = eid
        rsp[5] = self.pool_size
        self._len = 6
        return SUCCESS

    def _pool_status(self):
        if not self.pool_size:
            return POOL_NONE
        return POOL_RECEIVED if self.pool_count else POOL_REQUIRED

    # The bridge's commands.

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

    def _bridge_command(self, command):
        if command == GET_ROUTING_TABLE_ENTRIES:
            return self._get_routes(self._slot.buf[2])
        return self._allocate(self._slot.buf[2] & 3, self._slot.buf[3], self._slot.buf[4])

    def _allocate(self, operation, count, first):
        # Allocate Endpoint IDs: the answer says the pool in use after it, accepted or not.
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

    def _get_routes(self, handle):
        # Get Routing Table Entries: from entry `handle` (an index in the table) on, as many
        # as fit one baseline packet; the next handle, or 0xFF after the last. EID 0 routes
        # (an endpoint being set up, reached by its address) are not entries.
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
        return 0 if route.phys is None else route.link.phys_size

    def _put_route(self, route):
        rsp = self._rsp
        at = self._len
        rsp[at] = route.last - route.first + 1
        rsp[at + 1] = route.first
        rsp[at + 2] = route.entry_type << 6 | self._port(route.link)
        if not route.dynamic:
            rsp[at + 2] |= ENTRY_STATIC
        rsp[at + 3] = route.link.binding_id
        rsp[at + 4] = route.link.media_id
        rsp[at + 5] = self._phys_size(route)
        self._len = at + 6 + rsp[at + 5]
        if rsp[at + 5]:
            rsp[at + 6] = route.phys << 1 if route.link.binding_id == _SMBUS else route.phys

    def _port(self, link):
        # The link's index among the core's: the entry's port number.
        links = self.core.links
        i = 0
        while i < len(links) and links[i] is not link:
            i += 1
        return i & ENTRY_PORT_MASK

    def _update_routes(self):
        # Routing Information Update, from our bus owner: a count, then entries of type,
        # EID count, first EID and an address of the size the link's addresses take. Every
        # entry is checked before any is taken; one that covers our own EID is left out.
        slot = self._slot
        if not self._from_owner():
            return ERROR
        size = 3 + slot.link.phys_size
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
        route = self.core.routes.entry_for(buf[at + 2], last)
        if route is None:
            return False
        route.used = True
        route.first = buf[at + 2]
        route.last = last
        route.link = self._slot.link
        route.phys = self._update_phys(at + 3)
        route.entry_type = buf[at] >> 6
        route.dynamic = True
        self.counters.routes_learned += 1
        return True

    def _update_phys(self, at):
        link = self._slot.link
        if not link.phys_size:
            return None
        if link.binding_id == _SMBUS:
            return self._slot.buf[at] >> 1
        return self._slot.buf[at]

    def _eid_type(self):
        if not self.static_eid:
            return EID_DYNAMIC
        if self.core.eid == self.static_eid:
            return EID_STATIC_CURRENT
        if self.core.eid == EID_NULL:
            return EID_STATIC_SUPPORTED
        return EID_STATIC_OTHER

    def _get_eid(self):
        rsp = self._rsp
        rsp[3] = self.core.eid
        rsp[4] = self.endpoint_type << 4 | self._eid_type()
        rsp[5] = 0  # medium-specific
        self._len = 6
        return SUCCESS

    def _put(self, data):
        # The answer's data after the completion code.
        copy_into(self._rsp, 3, data, 0, len(data))
        self._len = 3 + len(data)
        return SUCCESS

    def _get_version(self, msg_type):
        if msg_type not in self.versions:
            return VERSION_TYPE_NOT_SUPPORTED
        entries = self.versions[msg_type]
        self._rsp[3] = len(entries) >> 2
        copy_into(self._rsp, 4, entries, 0, len(entries))
        self._len = 4 + len(entries)
        return SUCCESS

    def _get_msg_types(self):
        rsp = self._rsp
        count = 1
        rsp[4] = MSG_TYPE_CONTROL
        msg_type = 1
        while msg_type <= MSG_TYPE_MAX:
            if self._supported(msg_type):
                rsp[4 + count] = msg_type
                count += 1
            msg_type += 1
        rsp[3] = count
        self._len = 4 + count
        return SUCCESS

    def _supported(self, msg_type):
        sink = self.core.sink
        if self.msg_types[msg_type]:
            return True
        return sink is not None and sink.accept_request(msg_type) >= 0

    def _get_vdm(self, selector):
        if selector >= len(self.vdm):
            return ERROR_INVALID_DATA
        self._rsp[3] = selector + 1 if selector + 1 < len(self.vdm) else VDM_LAST
        entry = self.vdm[selector]
        copy_into(self._rsp, 4, entry, 0, len(entry))
        self._len = 4 + len(entry)
        return SUCCESS
