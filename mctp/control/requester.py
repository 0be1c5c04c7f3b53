# Control-protocol requests (DSP0236 message type 0) through the Stack facade, for the REPL and
# for bus-owner tools:
#
#     ctl = ControlRequester(stack)           # 250 ms x 4 tries, like Linux mctpd
#     ctl.get_eid(0)                          # the endpoint at the physical address routed as EID 0
#     ctl.set_eid(0, 10)                      # assign it EID 10
#     ctl.get_msg_types(10), ctl.get_uuid(10), ctl.get_version(10), ctl.get_vdm_support(10)
#     ctl.allocate_eids(10, 11, 3)            # a bridge's pool: EIDs 11..13
#     ctl.get_routing_table(10)               # its routes, every page
#
# Each request gets the next instance ID, a retry reuses it, and every answer is checked
# (Rq clear, instance ID, command, completion code, length) before it is decoded; a failure is
# a ControlError that says which. Not a packet path: it allocates.

from ..constants import EID_BROADCAST, EID_RESERVED_MAX, MSG_TYPE_CONTROL
from .bridging import (
    ALLOCATE_EIDS,
    ALLOCATE_ENDPOINT_IDS,
    ENTRY_HANDLE_LAST,
    ENTRY_PORT_MASK,
    ENTRY_STATIC,
    GET_ROUTING_TABLE_ENTRIES,
    ROUTING_INFORMATION_UPDATE,
)
from .messages import (
    DATAGRAM,
    GET_ENDPOINT_ID,
    GET_ENDPOINT_UUID,
    GET_MESSAGE_TYPE_SUPPORT,
    GET_VDM_SUPPORT,
    GET_VERSION_SUPPORT,
    IID_MASK,
    RQ,
    SET_EID,
    SET_ENDPOINT_ID,
    SUCCESS,
    VDM_IANA,
    VDM_LAST,
    VDM_PCI,
    VERSION_BASE,
    VERSION_TYPE_NOT_SUPPORTED,
    ControlError,
    format_uuid,
    parse_version_entry,
)
from ..api import RecvMetadata
from ..errors import MctpError, ResponseCode

# What another try may cure.
_RETRIED = (ResponseCode.TIMED_OUT, ResponseCode.INTERNAL_ERROR)


class EndpointId:
    """A Get Endpoint ID answer."""

    def __init__(self, eid, endpoint_type, eid_type, medium_specific):
        self.eid = eid
        self.endpoint_type = endpoint_type  # 0 simple endpoint, 1 bus owner or bridge
        self.eid_type = eid_type  # 0 dynamic, 1 static supported, 2 static current, 3 other
        self.medium_specific = medium_specific

    def __repr__(self):
        return "EndpointId(eid=%d, endpoint_type=%d, eid_type=%d)" % (
            self.eid,
            self.endpoint_type,
            self.eid_type,
        )


class EidAssignment:
    """A Set Endpoint ID answer: whether the EID was accepted, and the endpoint's EID now."""

    def __init__(self, accepted, eid, pool_status, pool_size):
        self.accepted = accepted
        self.eid = eid
        self.pool_status = pool_status
        self.pool_size = pool_size

    def __repr__(self):
        return "EidAssignment(accepted=%s, eid=%d, pool_size=%d)" % (
            self.accepted,
            self.eid,
            self.pool_size,
        )


class Allocation:
    """An Allocate Endpoint IDs answer: whether the allocation was accepted, and the pool the
    bridge uses now (first EID and size; 0 and 0 for none)."""

    def __init__(self, accepted, pool_size, first_eid):
        self.accepted = accepted
        self.pool_size = pool_size
        self.first_eid = first_eid

    def __repr__(self):
        return "Allocation(accepted=%s, first_eid=%d, pool_size=%d)" % (
            self.accepted,
            self.first_eid,
            self.pool_size,
        )


class RouteEntry:
    """One Get Routing Table Entries entry: EIDs first..first + count - 1, the entry type
    (mctp.control.bridging.ENTRY_*), configured (static) or learned, the port, the physical
    transport binding and medium (DSP0239 numbers) and the physical address bytes."""

    def __init__(self, data):
        self.count = data[0]
        self.first = data[1]
        self.entry_type = data[2] >> 6
        self.static = bool(data[2] & ENTRY_STATIC)
        self.port = data[2] & ENTRY_PORT_MASK
        self.binding_id = data[3]
        self.media_id = data[4]
        self.phys = bytes(data[6 : 6 + data[5]])

    def __repr__(self):
        return "RouteEntry(first=%d, count=%d, type=%d, port=%d, phys=%s)" % (
            self.first,
            self.count,
            self.entry_type,
            self.port,
            self.phys.hex(),
        )


class VendorSupport:
    """One Get VDM Support entry: a PCI vendor ID or an IANA enterprise number, and the
    vendor's command set."""

    def __init__(self, id_format, vendor_id, command_set):
        self.id_format = id_format  # control.VDM_PCI or control.VDM_IANA
        self.vendor_id = vendor_id
        self.command_set = command_set

    def __repr__(self):
        kind = "pci" if self.id_format == VDM_PCI else "iana"
        return "VendorSupport(%s=0x%x, command_set=0x%04x)" % (
            kind,
            self.vendor_id,
            self.command_set,
        )


# The largest control answer taken: Get Message Type Support listing every type (the IID, the
# command, the completion code, a count and 255 types); the others are shorter.
ANSWER_MAX = 259


class ControlRequester:
    """Control requests over `stack`; `timeout_ms` per try, `tries` tries per request.

    Each request is written once, as steps: a generator that yields each try, (EID, message),
    and is sent the answer, (meta, payload), or has the try's MctpError thrown into it. The
    driver (run) does the tries: this class's blocks on a Stack's channels, the asyncio
    form's (mctp.aio.AsyncControlRequester) awaits an AsyncStack's, so every method below
    returns an awaitable there. A try has its own channel, so an abandoned try's tag is not
    the next one's."""

    def __init__(self, stack, timeout_ms=250, tries=4):
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self.stack = stack
        self.timeout_ms = timeout_ms
        self.tries = tries
        self._iid = 0
        # Each answer is received here and copied out at its size: a poll loop that asks
        # again and again (a bridge's PoolOwner) would otherwise leave 1 KiB of garbage a
        # request, which a board's heap does not have to spare.
        self._answer = bytearray(ANSWER_MAX)
        self._meta = RecvMetadata()
        # Answers to an earlier request (another instance ID) that came under the current
        # request's tag, discarded.
        self.stale_answers = 0

    # The driver: one request's tries, or a whole set-up's (BusOwner), over the stack.

    def run(self, steps):
        """Drive `steps` (a *_steps method's, or a generator made of them) to their result."""
        step = advance(steps, None)
        while not isinstance(step, Finished):
            step = advance(steps, self._try(steps, step[0], step[1]))
        return step.value

    def _try(self, steps, eid, message):
        # One try: the answer as (meta, payload), or the MctpError that ended it.
        try:
            with self.stack.req(eid, self.timeout_ms) as channel:
                channel.send(MSG_TYPE_CONTROL, message)
                return self._received(channel)
        except MctpError as error:
            return error
        except BaseException:  # interrupted: the steps undo what they did (a route)
            steps.close()
            raise

    def _received(self, channel):
        # The answer on `channel`, (meta, payload); an answer over ANSWER_MAX is refused as
        # NO_SPACE (MctpError), as any other failed try.
        n = channel.recv_into(self._answer, self._meta)
        return self._meta, bytes(memoryview(self._answer)[:n])

    # What users call.

    def request(self, eid, command, data=b""):
        """Send one control request to `eid`; the answer's bytes after the completion code.
        Raises ControlError when no valid answer comes or its completion code is not SUCCESS."""
        return self.run(self.request_steps(eid, command, data))

    def get_eid(self, eid):
        return self.run(self.get_eid_steps(eid))

    def set_eid(self, eid, new_eid, operation=SET_EID):
        """Set Endpoint ID: give the endpoint reached as `eid` the EID `new_eid`."""
        return self.run(self.set_eid_steps(eid, new_eid, operation))

    def get_uuid(self, eid):
        return self.run(self.get_uuid_steps(eid))

    def get_uuid_text(self, eid):
        return self.run(self.get_uuid_text_steps(eid))

    def get_version(self, eid, msg_type=VERSION_BASE):
        """The versions supported for `msg_type` (0xFF: the base specification) as (major,
        minor, update or None, alpha) tuples; None when the endpoint does not support it."""
        return self.run(self.get_version_steps(eid, msg_type))

    def get_msg_types(self, eid):
        """The message types the endpoint supports, as a list of numbers (0 for control,
        0x01 for PLDM, ...)."""
        return self.run(self.get_msg_types_steps(eid))

    def get_vdm_support(self, eid):
        """Every Get VDM Support entry, selector 0 onwards until the endpoint says 0xFF."""
        return self.run(self.get_vdm_support_steps(eid))

    def allocate_eids(self, eid, first_eid, pool_size, operation=ALLOCATE_EIDS):
        """Allocate Endpoint IDs: give the bridge `eid` the pool first_eid.. of `pool_size`
        EIDs; its Allocation."""
        return self.run(self.allocate_eids_steps(eid, first_eid, pool_size, operation))

    def get_routing_table(self, eid):
        """Every Get Routing Table Entries entry of `eid`, handle 0 onwards until 0xFF."""
        return self.run(self.get_routing_table_steps(eid))

    def routing_info_update(self, eid, entries):
        """Routing Information Update: `entries` as (entry type, first EID, EID count,
        physical address bytes) each."""
        return self.run(self.routing_info_update_steps(eid, entries))

    # The steps, for composing (BusOwner's set-up is steps made of these).

    def request_steps(self, eid, command, data=b""):
        iid = self._iid
        self._iid = (iid + 1) & IID_MASK
        message = bytes((RQ | iid, command)) + bytes(data)
        # Up to `tries` sends of the same message (same instance ID). Only a lost answer or a
        # link that gave up is worth another try: anything else (no route to the EID, no free
        # handle or tag) fails the same way again, so it is reported at once.
        last = None
        for _ in range(self.tries):
            try:
                meta, answer = yield eid, message
            except MctpError as error:
                if error.code not in _RETRIED:
                    raise ControlError(command, str(error)) from None
                last = error
                continue
            if meta.msg_type != MSG_TYPE_CONTROL or meta.msg_ic:
                raise ControlError(command, "answer is not a control message")
            if answer and not answer[0] & RQ and answer[0] & IID_MASK != iid:
                # A late answer to an earlier request, under a tag used again: not ours.
                # Its arrival ended the tag's flow, so ours could no longer come under it:
                # the next try asks again (same instance ID, a new tag).
                self.stale_answers += 1
                continue
            return _checked(command, answer)
        raise ControlError(command, "no answer after %d tries (%s)" % (self.tries, last))

    def get_eid_steps(self, eid):
        data = yield from self.request_steps(eid, GET_ENDPOINT_ID)
        _check_length(GET_ENDPOINT_ID, data, 3)
        return EndpointId(data[0], data[1] >> 4 & 3, data[1] & 3, data[2])

    def set_eid_steps(self, eid, new_eid, operation=SET_EID):
        if not EID_RESERVED_MAX < new_eid < EID_BROADCAST:
            raise ValueError("an EID to assign is 8..254")
        data = yield from self.request_steps(eid, SET_ENDPOINT_ID, bytes((operation & 3, new_eid)))
        _check_length(SET_ENDPOINT_ID, data, 3)
        return EidAssignment(not data[0] & 0x30, data[1], data[0] & 3, data[2])

    def allocate_eids_steps(self, eid, first_eid, pool_size, operation=ALLOCATE_EIDS):
        request = bytes((operation & 3, pool_size, first_eid))
        data = yield from self.request_steps(eid, ALLOCATE_ENDPOINT_IDS, request)
        _check_length(ALLOCATE_ENDPOINT_IDS, data, 3)
        return Allocation(not data[0] & 3, data[1], data[2])

    def get_routing_table_steps(self, eid):
        entries = []
        handle = 0
        while True:
            data = yield from self.request_steps(eid, GET_ROUTING_TABLE_ENTRIES, bytes((handle,)))
            entries += _route_entries(data)
            if data[0] == ENTRY_HANDLE_LAST:
                return entries
            if data[0] <= handle:
                raise ControlError(GET_ROUTING_TABLE_ENTRIES, "next handle does not move on")
            handle = data[0]

    def routing_info_update_steps(self, eid, entries):
        request = bytearray((len(entries),))
        for entry_type, first, count, phys in entries:
            request += bytes((entry_type << 6, count, first)) + bytes(phys)
        yield from self.request_steps(eid, ROUTING_INFORMATION_UPDATE, request)

    def get_uuid_steps(self, eid):
        data = yield from self.request_steps(eid, GET_ENDPOINT_UUID)
        _check_length(GET_ENDPOINT_UUID, data, 16)
        return bytes(data)

    def get_uuid_text_steps(self, eid):
        return format_uuid((yield from self.get_uuid_steps(eid)))

    def get_version_steps(self, eid, msg_type=VERSION_BASE):
        try:
            data = yield from self.request_steps(eid, GET_VERSION_SUPPORT, bytes((msg_type,)))
        except ControlError as error:
            if error.completion_code == VERSION_TYPE_NOT_SUPPORTED:
                return None
            raise
        if not data or len(data) != 1 + 4 * data[0]:
            raise ControlError(GET_VERSION_SUPPORT, "entry count and length disagree")
        try:
            return [parse_version_entry(data[i : i + 4]) for i in range(1, len(data), 4)]
        except ValueError as error:
            raise ControlError(GET_VERSION_SUPPORT, str(error)) from None

    def get_msg_types_steps(self, eid):
        data = yield from self.request_steps(eid, GET_MESSAGE_TYPE_SUPPORT)
        if not data or len(data) != 1 + data[0]:
            raise ControlError(GET_MESSAGE_TYPE_SUPPORT, "type count and length disagree")
        return list(data[1:])

    def get_vdm_support_steps(self, eid):
        entries = []
        selector = 0
        while True:
            data = yield from self.request_steps(eid, GET_VDM_SUPPORT, bytes((selector,)))
            entries.append(_vendor_entry(data))
            if data[0] == VDM_LAST:
                return entries
            if data[0] <= selector:
                raise ControlError(GET_VDM_SUPPORT, "next selector does not move on")
            selector = data[0]


# The steps' protocol, shared by the drivers that run them: ControlRequester.run (blocking),
# mctp.aio's AsyncControlRequester (awaiting each try) and mctp.control.pool's PolledRequester
# (one step per poll). A step is (eid, request message); its reply is the answer or an MctpError.


class Finished:
    """What advance() returns when the steps are done: their result, as `value`."""

    def __init__(self, value):
        self.value = value


def advance(steps, reply):
    """The steps' next step, given the last one's reply (an MctpError is thrown into them), or
    Finished with their result."""
    try:
        if isinstance(reply, MctpError):
            return steps.throw(reply)
        return steps.send(reply)
    except StopIteration as done:
        return Finished(done.value)


def _checked(command, answer):
    # The data of a control answer that is ours, after the checks every command shares.
    if len(answer) < 3:
        raise ControlError(command, "answer of %d bytes, too short" % len(answer))
    if answer[0] & (RQ | DATAGRAM):
        raise ControlError(command, "answer has the Rq or D bit set")
    if answer[1] != command:
        raise ControlError(command, "answer is for command 0x%02x" % answer[1])
    if answer[2] != SUCCESS:
        raise ControlError(command, "refused", answer[2])
    return answer[3:]


def _check_length(command, data, expected):
    if len(data) != expected:
        raise ControlError(command, "answer data is %d bytes, expected %d" % (len(data), expected))


def _route_entries(data):
    # A Get Routing Table Entries answer's entries, each checked against the length left.
    if len(data) < 2:
        raise ControlError(GET_ROUTING_TABLE_ENTRIES, "answer data is %d bytes" % len(data))
    entries = []
    at = 2
    for _ in range(data[1]):
        if at + 6 > len(data) or at + 6 + data[at + 5] > len(data):
            raise ControlError(GET_ROUTING_TABLE_ENTRIES, "entry count and length disagree")
        entries.append(RouteEntry(data[at : at + 6 + data[at + 5]]))
        at += 6 + data[at + 5]
    if at != len(data):
        raise ControlError(GET_ROUTING_TABLE_ENTRIES, "entry count and length disagree")
    return entries


def _vendor_entry(data):
    if len(data) == 6 and data[1] == VDM_PCI:
        return VendorSupport(VDM_PCI, data[2] << 8 | data[3], data[4] << 8 | data[5])
    if len(data) == 8 and data[1] == VDM_IANA:
        enterprise = data[2] << 24 | data[3] << 16 | data[4] << 8 | data[5]
        return VendorSupport(VDM_IANA, enterprise, data[6] << 8 | data[7])
    raise ControlError(GET_VDM_SUPPORT, "vendor entry of unknown format or length")
