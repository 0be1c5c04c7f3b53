# The server: owns a stack core and serves MctpClients through the wire codec. It holds the
# listener and request handle tables, each handle's queue of complete messages, and the pending
# receives with their deadlines.
#
#     server = Server(core)
#     conn = server.connect()             # one per client
#     if not server.dispatch(conn, req, n):
#         ...                             # a receive is pending: keep calling server.poll()
#     # conn.resp[:conn.resp_len] is the wire response once conn.ready is True
#
# Where the seed's Rust server was wrong, this one differs (see seed-api.md): a receive buffer
# that is too small gets NO_SPACE with the size and the message stays queued; one payload
# limit; a pending receive that cannot be registered is an error; any number of pending
# receives (up to Config.pending_receives); timers run on every poll; dropping a request handle
# ends its flows; handles carry the server's epoch (SERVER_RESTARTED); responses are accepted
# only from the EID the request went to.

from ._compat import const, ticks_diff, ticks_ms
from .constants import (
    EID_BROADCAST,
    EID_RESERVED_MAX,
    MAX_PAYLOAD_SIZE,
    MSG_IC_BIT,
    MSG_TYPE_CONTROL,
    MSG_TYPE_MAX,
    TAG_MAX,
    is_valid_remote_eid,
)
from .core import SEND_NO_ROUTE, SEND_OK
from .errors import ResponseCode
from .packet import FLAG_TO
from .wire import (
    FLAG_HAS_EID,
    FLAG_HAS_TAG,
    FLAG_IC,
    HEADER_SIZE,
    MAX_RESPONSE_SIZE,
    OP_GET_EID,
    OP_LISTENER,
    OP_RECV,
    OP_REQ,
    OP_SEND,
    OP_SET_EID,
    OP_UNBIND,
    RequestHeader,
    decode_recv_capacity,
    decode_recv_timeout,
    decode_request_header,
    encode_error_response,
    encode_get_eid_response,
    encode_handle_response,
    encode_recv_response,
    encode_send_response,
    encode_success_response,
    recv_trailer_ok,
    request_problem,
)

try:
    from os import urandom
except ImportError:  # a port without a random source
    urandom = None

_FREE = const(0)
_LISTENER = const(1)
_REQUEST = const(2)
_GEN_MASK = const(0x0F)


class Connection:
    """One client's side of the server: where its responses are written."""

    def __init__(self):
        self.resp = bytearray(MAX_RESPONSE_SIZE)
        self.resp_len = 0
        self.ready = False


class _Handle:
    def __init__(self, index, queue_limit):
        self.index = index
        self.kind = _FREE
        self.gen = 0  # bumped on every allocation, so a stale handle value is refused
        self.msg_type = 0  # a listener's type
        self.eid = 0  # a request handle's remote EID
        self.persistent = False  # a request handle's tags survive their first response
        self.queue = [None] * queue_limit  # complete messages (reassembly slots), oldest first
        self.head = 0
        self.count = 0
        self.pending = None


class _Pending:
    def __init__(self):
        self.handle = None  # a _Handle while in use
        self.conn = None
        self.started = 0
        self.timeout_ms = 0  # 0: wait forever
        self.capacity = 0


class Server:
    def __init__(self, core, epoch=None):
        config = core.config
        self.core = core
        core.release_all()  # what a previous server left (tags, messages) belongs to nobody now
        core.sink = self
        if epoch is None:
            epoch = _random_epoch()
        if not 1 <= epoch <= 0xFFFF:
            raise ValueError("epoch must be 1..65535")
        self.epoch = epoch
        self.max_payload = min(config.max_payload, MAX_PAYLOAD_SIZE)
        self.handles = [
            _Handle(i, config.queue_limit) for i in range(config.listeners + config.requests)
        ]
        self._first_request = config.listeners
        self.pending = [_Pending() for _ in range(config.pending_receives)]
        self._hdr = RequestHeader()
        self._error = ResponseCode.SUCCESS
        self._out_dest = 0  # the message being sent (staged: see _core_send)
        self._out_flags = 0
        self._out_type = 0
        self._out_buf = None
        self._out_len = 0

    def connect(self):
        return Connection()

    # Time.

    def poll(self):
        """Run the stack: take in received packets, then expire receives, tags, reassemblies."""
        self.core.poll()
        now = self.core.clock()
        pending = self.pending
        i = 0
        while i < len(pending):
            p = pending[i]
            if (
                p.handle is not None
                and p.timeout_ms
                and ticks_diff(now, p.started) >= p.timeout_ms
            ):
                self._finish(p, ResponseCode.TIMED_OUT, 0)
            i += 1

    # The core's sink.

    def accept_request(self, msg_type):
        handles = self.handles
        i = 0
        while i < self._first_request:
            if handles[i].kind == _LISTENER and handles[i].msg_type == msg_type:
                return i
            i += 1
        return -1

    def deliver(self, slot):
        h = self.handles[slot.owner]
        h.queue[(h.head + h.count) % len(h.queue)] = slot
        h.count += 1
        if h.pending is not None:
            self._fulfil(h.pending)

    # Dispatch.

    def dispatch(self, conn, req, length):
        """Serve one wire request from `conn`. True when conn.resp holds the response; False
        when a receive is now pending (it completes during a later poll)."""
        conn.ready = False
        if request_problem(req, length):
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        op = decode_request_header(req, length, self._hdr).op
        if op == OP_SEND:
            return self._send(conn, req, length)
        if op == OP_RECV:
            return self._recv(conn, req, length)
        if op == OP_GET_EID:
            conn.resp_len = encode_get_eid_response(conn.resp, self.core.eid)
            conn.ready = True
            return True
        if op == OP_SET_EID:
            return self._set_eid(conn)
        if op == OP_LISTENER:
            return self._listener(conn)
        if op == OP_REQ:
            return self._req(conn)
        return self._unbind(conn)  # OP_UNBIND: the decoder refused every other op

    def _answer(self, conn, code):
        if code == ResponseCode.SUCCESS:
            conn.resp_len = encode_success_response(conn.resp)
        else:
            conn.resp_len = encode_error_response(conn.resp, code)
        conn.ready = True
        return True

    def _set_eid(self, conn):
        eid = self._hdr.eid
        if eid <= EID_RESERVED_MAX or eid == EID_BROADCAST:
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        self.core.set_eid(eid)
        return self._answer(conn, ResponseCode.SUCCESS)

    def _listener(self, conn):
        msg_type = self._hdr.msg_type
        if msg_type > MSG_TYPE_MAX:
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        if self.accept_request(msg_type) >= 0 or (
            msg_type == MSG_TYPE_CONTROL and self.core.control is not None
        ):
            # Taken by another listener, or control requests, which the stack answers.
            return self._answer(conn, ResponseCode.ADDR_IN_USE)
        h = self._alloc(0, self._first_request, _LISTENER)
        if h is None:
            return self._answer(conn, ResponseCode.NO_SPACE)
        h.msg_type = msg_type
        return self._handle_answer(conn, h)

    def _req(self, conn):
        eid = self._hdr.eid
        if not is_valid_remote_eid(eid):
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        h = self._alloc(self._first_request, len(self.handles), _REQUEST)
        if h is None:
            return self._answer(conn, ResponseCode.NO_SPACE)
        h.eid = eid
        return self._handle_answer(conn, h)

    def _alloc(self, first, end, kind):
        handles = self.handles
        i = first
        while i < end:
            h = handles[i]
            if h.kind == _FREE:
                h.kind = kind
                h.gen = (h.gen + 1) & _GEN_MASK
                h.persistent = False
                return h
            i += 1
        return None

    def _handle_answer(self, conn, h):
        conn.resp_len = encode_handle_response(conn.resp, self.handle_value(h))
        conn.ready = True
        return True

    def handle_value(self, h):
        return self.epoch << 12 | h.gen << 8 | h.index

    def _lookup(self, value):
        # The live _Handle named by `value`, or None with self._error saying why.
        if value >> 12 != self.epoch:
            self._error = ResponseCode.SERVER_RESTARTED
            return None
        index = value & 0xFF
        if index < len(self.handles):
            h = self.handles[index]
            if h.kind != _FREE and h.gen == (value >> 8) & _GEN_MASK:
                return h
        self._error = ResponseCode.BAD_ARGUMENT
        return None

    def _unbind(self, conn):
        if self._hdr.has_handle():
            h = self._lookup(self._hdr.handle)
            if h is not None:
                self.release(h)
        # Releasing an unknown or stale handle is a no-op, like the seed's.
        return self._answer(conn, ResponseCode.SUCCESS)

    def release(self, h):
        """Free a handle: its flows end, its queued messages go, its pending receive fails."""
        if h.pending is not None:
            self._finish(h.pending, ResponseCode.BAD_ARGUMENT, 0)
        self.core.release_owner(h.index)
        h.count = 0
        h.kind = _FREE

    def queued(self, handle_value):
        """How many complete messages wait for the handle (0 for a stale one): a firmware
        loop can serve a listener only when it has something, without a blocking receive."""
        h = self._lookup(handle_value)
        return 0 if h is None else h.count

    def keep_tags(self, handle_value, persistent=True):
        """Let the requests of a request handle keep their tag after the first response, for
        protocols that answer more than once (the tag then lives until it expires)."""
        h = self._lookup(handle_value)
        if h is None or h.kind != _REQUEST:
            raise ValueError("not a live request handle")
        h.persistent = persistent

    # RECV

    def _recv(self, conn, req, length):
        if not self._hdr.has_handle() or not recv_trailer_ok(length):
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        h = self._lookup(self._hdr.handle)
        if h is None:
            return self._answer(conn, self._error)
        if h.pending is not None:
            return self._answer(conn, ResponseCode.ADDR_IN_USE)
        p = self._free_pending()
        if p is None:
            return self._answer(conn, ResponseCode.NO_SPACE)
        p.timeout_ms = decode_recv_timeout(req, length)
        p.capacity = self._capacity(decode_recv_capacity(req, length))
        return self._wait(p, h, conn)

    def _capacity(self, announced):
        # A client that announces no capacity takes any message up to the limit.
        if not announced or announced > self.max_payload:
            return self.max_payload
        return announced

    def _wait(self, p, h, conn):
        p.handle = h
        p.conn = conn
        p.started = self.core.clock()
        h.pending = p
        if h.count:
            self._fulfil(p)
        return conn.ready

    def _free_pending(self):
        pending = self.pending
        i = 0
        while i < len(pending):
            if pending[i].handle is None:
                return pending[i]
            i += 1
        return None

    def _fulfil(self, p):
        # Answer pending receive `p` with its handle's oldest message.
        h = p.handle
        slot = h.queue[h.head]
        if slot.length > p.capacity:
            # Too large for the caller's buffer: say how large, and keep the message.
            self._finish(p, ResponseCode.NO_SPACE, slot.length)
            return
        self._encode_message(p.conn, slot)
        h.queue[h.head] = None
        h.head = (h.head + 1) % len(h.queue)
        h.count -= 1
        self.core.release(slot)
        p.conn.ready = True
        self._close_pending(p)

    def _encode_message(self, conn, slot):
        conn.resp_len = encode_recv_response(
            conn.resp, slot.msg_type, slot.ic, slot.src, slot.tag, slot.buf, slot.length
        )

    def _finish(self, p, code, size):
        conn = p.conn
        conn.resp_len = encode_error_response(conn.resp, code, size)
        self._close_pending(p)
        conn.ready = True

    def _close_pending(self, p):
        p.handle.pending = None
        p.handle = None
        p.conn = None

    # SEND

    def _send(self, conn, req, length):
        hdr = self._hdr
        if hdr.msg_type > MSG_TYPE_MAX:
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        if length - HEADER_SIZE > self.max_payload:
            return self._answer(conn, ResponseCode.NO_SPACE)
        self._out_buf = req
        self._out_len = length - HEADER_SIZE
        self._out_type = _type_byte(hdr)
        if hdr.has_handle():
            return self._send_request(conn)
        return self._send_response(conn)

    def _send_request(self, conn):
        hdr = self._hdr
        h = self._lookup(hdr.handle)
        if h is None:
            return self._answer(conn, self._error)
        if h.kind != _REQUEST or hdr.has_tag() or (hdr.has_eid() and hdr.eid != h.eid):
            # The stack owns request tags, and a request handle is bound to its EID.
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        if not h.persistent and h.pending is None:
            self._abandon(h)
        flow = self.core.open_flow(h.eid, h.index, h.persistent)
        if flow is None:
            return self._answer(conn, ResponseCode.NO_SPACE)
        self._out_dest = h.eid
        self._out_flags = FLAG_TO | flow.tag
        status = self._core_send()
        if status != SEND_OK:
            self.core.flows.close(flow)
            return self._answer(conn, _send_error(status))
        return self._tag_answer(conn, flow.tag)

    def _abandon(self, h):
        # A new request abandons the handle's earlier one (its receive failed or was never
        # made): the old tag ends and an answer already queued goes, so a late response is
        # dropped as unsolicited instead of passing for the new request's.
        self.core.release_owner(h.index)
        h.count = 0

    def _send_response(self, conn):
        hdr = self._hdr
        if hdr.flags & (FLAG_HAS_EID | FLAG_HAS_TAG) != FLAG_HAS_EID | FLAG_HAS_TAG:
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        if hdr.tag > TAG_MAX or not is_valid_remote_eid(hdr.eid):
            return self._answer(conn, ResponseCode.BAD_ARGUMENT)
        self._out_dest = hdr.eid
        self._out_flags = hdr.tag
        status = self._core_send()
        if status != SEND_OK:
            return self._answer(conn, _send_error(status))
        return self._tag_answer(conn, hdr.tag)

    def _core_send(self):
        # The message staged in _out_*: the payload follows the wire header in the request.
        status = self.core.send(
            self._out_dest,
            self._out_flags,
            self._out_type,
            self._out_buf,
            HEADER_SIZE,
            self._out_len,
        )
        self._out_buf = None
        return status

    def _tag_answer(self, conn, tag):
        conn.resp_len = encode_send_response(conn.resp, tag)
        conn.ready = True
        return True

    # For the REPL and tests.

    def handles_in_use(self):
        count = 0
        for h in self.handles:
            if h.kind != _FREE:
                count += 1
        return count

    def pending_in_use(self):
        count = 0
        for p in self.pending:
            if p.handle is not None:
                count += 1
        return count


def _type_byte(hdr):
    return hdr.msg_type | MSG_IC_BIT if hdr.flags & FLAG_IC else hdr.msg_type


def _send_error(status):
    # No route is the caller's mistake; a link that refused the packets is not.
    if status == SEND_NO_ROUTE:
        return ResponseCode.BAD_ARGUMENT
    return ResponseCode.INTERNAL_ERROR


def _random_epoch():
    # Tells this server's handles from those of a previous run; any value but a repeat works.
    if urandom is None:
        return ticks_ms() % 0xFFFF + 1
    raw = urandom(2)
    return (raw[0] << 8 | raw[1]) % 0xFFFF + 1
