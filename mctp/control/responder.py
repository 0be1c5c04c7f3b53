# The endpoint's control-protocol responder (DSP0236 message type 0), inside the stack: the core
# hands it every complete control request, and it answers at once from the receive path, so an
# answer leaves within the same poll (well inside the 100 ms DSP0236 allows), and a Set Endpoint
# ID response leaves from the new EID before anything else happens. The answer goes back on the
# link and to the physical address the request came from, so it needs no route and takes no
# reply-route entry (a requester without an EID is answered too).
#
# Answered: Set Endpoint ID (all four operations), Get Endpoint ID, Get Endpoint UUID, Get MCTP
# Version Support, Get Message Type Support, Get Vendor Defined Message Support; every other
# command gets ERROR_UNSUPPORTED_CMD. Datagrams (D=1) are never answered. A request with the
# IC bit, without a command byte, or with Rq=0 is dropped and counted. It keeps no state per
# request, so a retry with the same instance ID is answered again. A bridge's commands (its EID
# pool, its routing table) are its own responder's, mctp.bridge.control.BridgeResponder.
#
# Nothing here allocates per request: the response is built in a buffer made at construction.
# The requests a bus owner repeats (Get Endpoint ID, Get Endpoint UUID) are answered from their
# packet, before any slot is taken, by quick_reply(responder, buf, off, length)
# (ControlResponder.quick_reply, link.ControlHandler's), viper code on boards ([viper-twin]),
# which the core's fast path calls with a single-packet control request it would put into the
# free control slot (header checked; SOM, EOM and TO set; core._rx_link and _rx_phys the link
# and address it came from). For such a request, well formed (Rq set, D and IC clear, no data),
# it writes the answer's packet (one packet, as _build_answer and Core.respond would make it)
# straight into the link's transmit buffer, calls the link's transmit, counts as handle() and
# Core.respond count, and returns True. It returns False, having changed nothing, for any other
# request, for an answer that needs more than one packet or a link send_packets refuses, and
# while a capture (mctp.capture) has taken the core's send over: the request then goes into the
# control slot and handle() answers it. It never raises: a fault in the link's transmit is
# counted as the core's internal_error, as under handle(), and the request is taken.

from .._compat import const, unique_id
from ..bufcopy import copy_into
from ..constants import EID_BROADCAST, EID_NULL, EID_RESERVED_MAX, MSG_TYPE_CONTROL, MSG_TYPE_MAX
from .messages import (
    BASE_VERSION,
    DATAGRAM,
    EID_DYNAMIC,
    EID_STATIC_CURRENT,
    EID_STATIC_OTHER,
    EID_STATIC_SUPPORTED,
    ENDPOINT_BUS_OWNER,
    ENDPOINT_SIMPLE,
    ERROR_INVALID_DATA,
    ERROR_INVALID_LENGTH,
    ERROR_UNSUPPORTED_CMD,
    FORCE_EID,
    GET_ENDPOINT_ID,
    GET_ENDPOINT_UUID,
    GET_MESSAGE_TYPE_SUPPORT,
    GET_VDM_SUPPORT,
    GET_VERSION_SUPPORT,
    IID_MASK,
    REQUEST_LENGTHS,
    RESET_EID,
    RQ,
    SET_EID,
    SET_ENDPOINT_ID,
    SUCCESS,
    VDM_LAST,
    VERSION_BASE,
    VERSION_TYPE_NOT_SUPPORTED,
    uuid_from_unique_id,
)
from ..core.fastpath import MAX_TX_OFF
from ..core.packet import (
    DEST_EID_AT,
    FLAG_EOM,
    FLAG_SOM,
    FLAGS_AT,
    HEADER_VERSION,
    MAX_MTU,
    SRC_EID_AT,
    TAG_MASK,
    TRANSPORT_HEADER_SIZE,
    VERSION_AT,
)
from ..counters import Counters

_MAX_VERSIONS = const(8)  # version entries per message type
_RSP_SIZE = const(3 + 1 + 128)  # the longest answer: every message type
_ANY_FIRST = const(8)  # the unicast EIDs, which the route to the bus owner covers
_ANY_LAST = const(254)
_REQUEST_LENGTH = const(7)  # quick_reply's requests: header, type, Rq and the IID, command

# The counters every responder keeps (a bridge's, mctp.bridge.control, adds its own).
COUNTERS = (
    "requests",  # complete control requests taken
    "responses",  # answers sent
    "datagrams",  # D=1 requests: never answered
    "unsupported",  # answered ERROR_UNSUPPORTED_CMD
    "errors",  # answered with another error completion code
    "dropped",  # IC set, no command byte, or Rq=0: not answered
    "send_failed",  # an answer the core could not send
    "eid_changes",  # Set Endpoint ID changed our EID
    "no_owner_route",  # the routing table had no room for the route to the bus owner
    "internal_error",  # a fault while answering (the request is dropped)
)


def quick_reply_py(responder, buf, off, length):
    n = quick_answer_py(responder, buf, off, length)
    if not n:
        return False
    responder.counters.requests += 1  # (before the send, as handle() counts it)
    sent = _quick_sent(responder.core, n)
    if sent is not None:
        _quick_counted(responder, sent)
    return True


def quick_answer_py(responder, buf, off, length):
    # quick_reply's first step, a call that returns first (under the send, the viper version's
    # frame is small: [c-stack]): the answer in the link's tx_buf, and its length after the
    # type byte; or 0, nothing written, for a request quick_reply does not answer.
    n = _quick_length(buf, off, length)
    if not n or not _one_packet(responder.core, n):
        return 0
    _quick_header(responder.core, buf, off)
    _quick_data(responder, n)
    return n


def _quick_length(buf, off, length):
    # The length of the answer after its type byte, for a request quick_reply answers; or 0.
    off += TRANSPORT_HEADER_SIZE  # the message: type, Rq and the IID, the command
    if length != _REQUEST_LENGTH or buf[off] != MSG_TYPE_CONTROL:
        return 0
    if buf[off + 1] & (RQ | DATAGRAM) != RQ:
        return 0
    if buf[off + 2] == GET_ENDPOINT_ID:
        return 6
    return 19 if buf[off + 2] == GET_ENDPOINT_UUID else 0


def _one_packet(core, n):
    # The answer fits one packet of a link send_packets takes, and no capture records.
    link = core._rx_link
    return (
        link is not None
        and "_send_packets" not in core.__dict__
        and 0 <= link.tx_off <= MAX_TX_OFF
        and n < link.mtu <= MAX_MTU
        and link.tx_off + TRANSPORT_HEADER_SIZE + link.mtu <= len(link.tx_buf)
    )


def _quick_header(core, buf, off):
    # The answer's packet as Core.respond sends it (sequence 0, TO clear, back to the
    # request's source with its tag) in the link's tx_buf, up to its completion code.
    out = core._rx_link.tx_buf
    o = core._rx_link.tx_off
    out[o + VERSION_AT] = HEADER_VERSION
    out[o + DEST_EID_AT] = buf[off + SRC_EID_AT]
    out[o + SRC_EID_AT] = core.eid
    out[o + FLAGS_AT] = FLAG_SOM | FLAG_EOM | buf[off + FLAGS_AT] & TAG_MASK
    o += TRANSPORT_HEADER_SIZE
    off += TRANSPORT_HEADER_SIZE
    out[o] = MSG_TYPE_CONTROL
    out[o + 1] = buf[off + 1] & IID_MASK
    out[o + 2] = buf[off + 2]
    out[o + 3] = SUCCESS


def _quick_data(responder, n):
    # The answer's data after its completion code.
    out = responder.core._rx_link.tx_buf
    o = responder.core._rx_link.tx_off + TRANSPORT_HEADER_SIZE + 4
    if n == 6:
        out[o] = responder.core.eid
        out[o + 1] = responder.endpoint_type << 4 | responder._eid_type()
        out[o + 2] = 0  # medium-specific
    else:
        copy_into(out, o, responder.uuid, 0, 16)


def _quick_sent(core, n):
    # The answer's packet to the link: what its transmit returned, or None for a fault there,
    # counted as the core counts one under handle() ([try-apart]).
    try:
        return core._rx_link.transmit(TRANSPORT_HEADER_SIZE + 1 + n, core._rx_phys)
    except Exception:
        core.counters.internal_error += 1
        return None


def _quick_counted(responder, sent):
    counters = responder.core.counters
    if sent:
        counters.tx_packets += 1
        counters.tx_messages += 1
        responder.counters.responses += 1
    else:
        counters.tx_failed += 1
        responder.core.tx_failed_link = responder.core._rx_link
        responder.counters.send_failed += 1


try:
    from ._answer_viper import quick_answer, quick_reply
except (ImportError, SyntaxError):
    quick_answer = quick_answer_py
    quick_reply = quick_reply_py


class ControlResponder:
    """Answers control requests for `core`.

    `uuid` is 16 bytes; None makes one from the board's unique ID (machine.unique_id()).
    `static_eid` is the endpoint's static EID, if it has one (Set EID "reset" goes back to it).
    `versions` maps other message types to their version entries (4 bytes each, see
    mctp.control.version_entry); the base spec (0xFF) and control (0x00) answer 1.3.1.
    `vdm` lists Get VDM Support entries (mctp.control.vdm_pci / vdm_iana). Message types with
    a listener, plus `msg_types`, are reported by Get Message Type Support.
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
        self.endpoint_type = endpoint_type
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
        self.owner_link = None  # where the bus owner's Set Endpoint ID came from
        self.owner_phys = None
        self.owner_eid = EID_NULL
        self.counters = Counters(COUNTERS)
        self._rsp = bytearray(_RSP_SIZE)
        self._len = 0  # of the answer in _rsp
        self._slot = None  # the request being answered
        if not core.eid and self.static_eid:
            core.set_eid(self.static_eid)
        core.control = self

    # quick_reply(buf, off, length): the module's quick_reply, viper on MicroPython, as a
    # method (link.ControlHandler's: the core's fast path offers it a control request first).
    quick_reply = quick_reply

    def handle(self, slot):
        """Answer the complete control request in `slot`, then free the slot. Never raises."""
        self._slot = slot
        self.counters.requests += 1
        self._len = 0
        self._guarded()
        if self._len:
            # Sent from here, once built ([c-stack]); the core catches its faults.
            if self.core.respond(slot, MSG_TYPE_CONTROL, self._rsp, self._len):
                self.counters.send_failed += 1
            else:
                self.counters.responses += 1
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

    def _command(self, command):
        expected = REQUEST_LENGTHS.get(command, -1)
        if expected < 0:
            return ERROR_UNSUPPORTED_CMD
        if self._slot.length != expected:
            return ERROR_INVALID_LENGTH
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
            self._take_owner()
        rsp = self._rsp
        rsp[3] = 0  # accepted; this endpoint uses no EID pool
        rsp[4] = eid
        rsp[5] = 0  # pool size
        self._len = 6
        return SUCCESS

    def _take_owner(self):
        # Our bus owner, from now on: the link, address and EID the Set Endpoint ID came from.
        slot = self._slot
        self.owner_link = slot.link
        self.owner_phys = slot.phys
        self.owner_eid = slot.src
        self._route_owner()

    def _route_owner(self):
        # Every EID without a narrower route goes to the bus owner (DSP0236: an endpoint
        # reaches the rest of the network through its bus owner, which bridges), so an endpoint
        # behind a bridge reaches a host it was never told of. A later Set EID moves it.
        routes = self.core.routes
        if routes.room_for(_ANY_FIRST, _ANY_LAST):
            routes.add(_ANY_FIRST, _ANY_LAST, self.owner_link, self.owner_phys)
        else:
            self.counters.no_owner_route += 1

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
