# The server: owns a stack core and serves MctpClients. It holds the listener and request
# handle tables, each handle's queue of complete messages, and the pending receives with their
# deadlines. It speaks only in Calls (mctp.api) and connections:
#
#     server = Server(core)
#     conn = server.connect(wire=False)   # one per client
#     if not server.serve(conn, call):    # call.op (mctp.ops' OP_*) and its arguments
#         ...                             # a receive is pending: keep calling server.poll()
#     # the answer is in conn's fields (code, value, size, meta) once conn.ready is True
#
# An in-process client (DirectClient) fills a Call and calls serve(); a client in another
# process speaks openprot-mctp-api's wire codec to mctp.ipc's StreamService, whose WireAdapter
# decodes each request into a Call and encodes the answer. Either way a received payload is copied
# once, from its reassembly slot into the caller's buffer (for a wire client, straight into
# the frame its answer goes out in), and its metadata once, into the connection's
# RecvMetadata.
#
# Where openprot-mctp-api's Rust server was wrong, this one differs (docs/contract.md): a
# receive buffer that is too small gets NO_SPACE with the size and the message stays queued; one
# payload limit; a pending receive that cannot be registered is an error; any number of pending
# receives (up to Config.pending_receives); timers run on every poll; dropping a request handle
# ends its flows; handles carry the server's epoch (SERVER_RESTARTED); responses are accepted
# only from the EID the request went to.
#
# One module of ~790 lines, not one per job (the records, the handle table, the pending
# receives, the dispatch), because each split costs the boards more than the M0 bench's 0.1%
# allows (measured 2026-12-07, tools/ci/baremetal.py bench, against this module whole): the
# records (Connection, _Handle, _Pending) in a module of their own, +220 bytes of frozen flash;
# the refusals' words, +160 bytes; the handle table as a base class, +124 bytes in this module
# and +220 bytes with 1% more instructions per 1 KiB echo in a module of its own.

from .._compat import const, ticks_diff, ticks_ms
from ..constants import (
    EID_BROADCAST,
    EID_RESERVED_MAX,
    MAX_PAYLOAD_SIZE,
    MSG_TYPE_CONTROL,
    is_valid_remote_eid,
)
from ..bufcopy import copy_into
from ..core.timers import entry_due, sooner
from ..errors import MctpError, ResponseCode
from ..api import RecvMetadata
from ..ops import (
    OP_GET_EID,
    OP_LISTENER,
    OP_RECV,
    OP_REQ,
    OP_SET_EID,
    OP_UNBIND,
)

try:
    from os import urandom
except ImportError:  # a port without a random source
    urandom = None

# What a handle is (_Handle.kind); mctp.server.audit keeps copies ([const-copy]).
KIND_FREE = const(0)
KIND_LISTENER = const(1)
KIND_REQUEST = const(2)
_GEN_MASK = const(0x0F)
_len = len  # [builtin-global]: every message's serve and answer call it

# constants' MSG_IC_BIT, MSG_TYPE_MAX and TAG_MAX, the core's SEND_OK and SEND_NO_ROUTE,
# packet's FLAG_TO, ops' OP_SEND and errors' ResponseCode.SUCCESS, which every message's
# serve reads ([const-copy]).
_MSG_IC_BIT = const(0x80)
_MSG_TYPE_MAX = const(0x7F)
_TAG_MAX = const(7)
_SEND_OK = const(0)
_SEND_NO_ROUTE = const(1)
_FLAG_TO = const(0x08)
_OP_SEND = const(5)
_SUCCESS = const(0)

# Why a request failed, kept per connection (conn.why, a name of this table; conn.why_value the
# number or words it takes) so that a client can say it in words (Server.explain): DirectClient
# in process; over IPC the wire response carries only the code, and StreamService sends the
# words before it in a detail frame (mctp.ipc.framing). "link_failed" has no words here: the
# link that refused the packets describes its failure.
_WORDS = {
    "no_route": "no route to EID %d",
    "no_request_handle": (
        "no free request handle (%d in use: a channel not closed? On MicroPython nothing"
        " closes one for you: use `with` or close(); Server.open_handles() lists them)"
    ),
    "no_listener_handle": (
        "no free listener handle (%d in use: a listener not closed? On MicroPython"
        " nothing closes one for you: use `with` or close(); Server.open_handles() lists"
        " them)"
    ),
    "no_tag": (
        "no free tag for EID %d (every tag to it awaits an answer, or the flow table is full)"
    ),
    "listener_taken": "message type %d already has a listener",
    "control_taken": "message type 0 (control) is answered by the stack",
    "connection_busy": (
        "a receive is already pending on this connection (one receive at a time per"
        " connection: a client that waits on more opens one for each)"
    ),
    "no_pending": "no free pending-receive slot (%d in use: Config.pending_receives)",
    "too_large": (
        "a payload of %d bytes is more than the stack's limit of %d (Config.max_payload)"
    ),
    "stale": "handle 0x%x is stale (released, or reused since)",
    "restarted": "handle 0x%x is from before the server restarted",
    "bad_eid": "EID %s is reserved (1..7) or broadcast (255)",
    "timed_out": "no message within %d ms",
    "too_small": "the message needs a buffer of %d bytes; it stays queued",
    "released": "the channel was closed (its handle released) while this receive waited",
    "not_request": "handle %r is not a live request handle",
    "bad_request": (
        "a request handle sends to its own EID (%d) with a tag the stack picks: pass eid"
        " None (or its EID) and tag None, got eid %s and tag %s"
    ),
    "bad_response": (
        "a response needs an EID (0 or 8..254) and a tag (0..7), got eid %s and tag %s"
    ),
    "bad_type": "message type %d is more than 7 bits (0..127)",
    "malformed": "malformed request",
    "not_yours": "handle 0x%x belongs to another connection",
    "client_listeners": (
        "IPC client quota: at most %d listener handles per client (Config.client_listeners)"
    ),
    "client_requests": (
        "IPC client quota: at most %d request handles per client (Config.client_requests)"
    ),
    "clients_listeners": (
        "IPC client quota: IPC clients together hold at most %d listener handles"
        " (Config.listeners less Config.reserved_listeners, kept for this process)"
    ),
    "clients_requests": (
        "IPC client quota: IPC clients together hold at most %d request handles"
        " (Config.requests less Config.reserved_requests, kept for this process)"
    ),
    "undeliverable": (
        "the message could not be written into the receive buffer (%s); it stays queued"
    ),
    "listener_sends": (
        "handle 0x%x is a listener: a response goes with handle None, the EID and the tag"
    ),
    "bad_own_eid": "EID %s cannot be this endpoint's: an endpoint's EID is 8..254",
}


class Connection:
    """One client's side of the server: the answer to its last request, in fields. A wire
    connection (wire=True) is an IPC client's, held to its quotas (Config.client_*), whose
    answers mctp.ipc's WireAdapter encodes; an in-process one is the owner's."""

    def __init__(self, wire=True):
        self.wire = wire
        self.ready = False
        self.pending = None  # the Pending receive this connection waits for
        self.why = None  # why its last request failed: a name in WORDS (Server.explain)
        self.why_value = 0
        self.op = 0  # the request being answered
        self.code = ResponseCode.SUCCESS
        self.value = 0  # what a success answers: a handle value, a tag, the EID
        self.size = 0  # NO_SPACE: the size needed; a received message: its payload size
        # A received message's type, IC bit, tag, source EID and size: a wire connection's
        # own, or the one an in-process client's receive brings (DirectClient sets it).
        self.meta = RecvMetadata() if wire else None
        # When given: an object with set(), called when an answer is ready (an async
        # client's flag, set from the stack task's poll when a pending receive completes).
        self.wake = None


class _Handle:
    def __init__(self, index, queue_limit):
        self.index = index
        self.kind = KIND_FREE
        self.gen = 0  # bumped on every allocation, so a stale handle value is refused
        self.owner = None  # the Connection that made it: only it may use or drop it
        self.msg_type = 0  # a listener's type
        self.eid = 0  # a request handle's remote EID
        self.persistent = False  # a request handle's tags survive their first response
        self.queue = [None] * queue_limit  # complete messages (reassembly slots), oldest first
        self.head = 0
        self.count = 0
        self.pending = None


class _Pending:
    def __init__(self):
        self.handle = None  # a Handle while in use
        self.conn = None
        self.started = 0
        self.timeout_ms = 0  # 0: wait forever
        self.capacity = 0
        self.buf = None  # where the message goes: buf[off:off + capacity]
        self.off = 0


class Server:
    """The endpoint's server, above a Core: it owns the handles (listeners and request
    channels) and their queues of complete messages, the pending receives and the
    connections of its clients, and serves each client's Call (serve) the way the
    openprot-mctp-api contract says, with the differences at the top of this module. It is
    the core's sink. `epoch` (1..65535, random by default) is carried in every handle value,
    so a handle from an earlier server is refused with SERVER_RESTARTED."""

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
        # The IPC client quotas, by handle kind (KIND_LISTENER, KIND_REQUEST): what one
        # client may hold, and what all of them together may (all but this process's reserve).
        self._own_quota = (0, config.client_listeners, config.client_requests)
        self._shared_quota = (
            0,
            max(config.listeners - config.reserved_listeners, 0),
            max(config.requests - config.reserved_requests, 0),
        )
        self.pending = [_Pending() for _ in range(config.pending_receives)]
        # The pending receives that have a timeout: poll() and until_timer() look through the
        # table only while there are some (an idle poll of 16 entries took 35,000 Cortex-M0
        # instructions).
        self._timed = 0
        # A send on its way down to the core (serve fills them from the Call).
        self._type_byte = 0  # msg_type with the IC bit
        self._dest = 0  # the EID the message goes to
        self._tag_flags = 0  # TO and the tag
        self._status = 0  # what the core said of the send (mctp.core.core's SEND_*)
        self._error = ResponseCode.SUCCESS  # why the last _lookup failed
        self._why = None
        self._why_value = 0

    def connect(self, wire=True):
        """A connection for one client: a wire client's (mctp.ipc's WireAdapter), held to the IPC
        client quotas (Config.client_listeners, client_requests, client_queued, and the handles
        reserved for this process), or with wire=False an in-process client's (serve), which
        needs no response buffer and is the owner's: no quota but the tables' sizes."""
        return Connection(wire)

    # Time.

    def poll(self):
        """Run the stack: take in received packets, then expire receives, tags, reassemblies.
        Never raises (a fault is counted in core.counters.internal_error). A loop that polls
        from its own frame calls its two steps, core.poll() and expire_receives(), itself: a
        frame less under every answer the poll sends (EndpointApp.run, StackTask.run)."""
        try:
            self.core.poll()
            self.expire_receives()
        except Exception:
            self.core.counters.internal_error += 1

    def until_timer(self):
        """Milliseconds until poll() next has a timer to run (0: one is due; -1: none): a
        pending receive's timeout or one of the core's."""
        now = self.core.clock()
        wait = self.core.until_timer(now)
        pending = self.pending
        i = 0
        while self._timed and i < _len(pending):
            if pending[i].handle is not None and pending[i].timeout_ms:
                wait = sooner(wait, entry_due(pending[i], pending[i].timeout_ms, now))
            i += 1
        return wait

    def expire_receives(self):
        """End the pending receives whose timeout has passed (TIMED_OUT)."""
        if not self._timed:
            return
        now = self.core.clock()
        pending = self.pending
        i = 0
        while i < _len(pending):
            p = pending[i]
            if (
                p.handle is not None
                and p.timeout_ms
                and ticks_diff(now, p.started) >= p.timeout_ms
            ):
                p.conn.why = "timed_out"
                p.conn.why_value = p.timeout_ms
                self._finish(p, ResponseCode.TIMED_OUT, 0)
            i += 1

    # The core's sink.

    def accept_request(self, msg_type):
        handles = self.handles
        i = 0
        while i < self._first_request:
            if handles[i].kind == KIND_LISTENER and handles[i].msg_type == msg_type:
                return i
            i += 1
        return -1

    def deliver(self, slot):
        """Queue a complete message for its owner; False (the core drops it) when the owner
        is gone or already holds as many messages as its queue takes."""
        if slot.owner >= _len(self.handles):
            return False
        h = self.handles[slot.owner]
        if h.kind == KIND_FREE or h.count >= _len(h.queue) or self._client_full(h.owner):
            return False
        h.queue[(h.head + h.count) % _len(h.queue)] = slot
        h.count += 1
        if h.pending is not None:
            self._fulfil(h.pending)
        return True

    def _client_full(self, conn):
        # Whether an IPC client already has Config.client_queued messages waiting, over all
        # of its handles (so that one that does not read cannot hold every reassembly slot).
        return conn.wire and self.queued_for(conn) >= self.core.config.client_queued

    def queued_for(self, conn):
        """Complete messages waiting for `conn`, over all of its handles."""
        handles = self.handles
        count = 0
        i = 0
        while i < _len(handles):
            if handles[i].owner is conn:
                count += handles[i].count
            i += 1
        return count

    # Serving.

    def serve(self, conn, call):
        """Serve `call` (mctp.api.Call: call.op and its arguments) from `conn`: True when the
        answer is in conn's fields; False when a receive is now pending (it completes during a
        later poll). A send's payload is call.buf[call.off:call.off + call.length]; a
        receive's goes to call.buf from call.off, call.capacity bytes at most."""
        if call.op == _OP_SEND:
            # The checks return first; the send goes down from this frame ([c-stack]).
            if self.send_refused(conn, call):
                return True
            self._status = self.core.send(
                self._dest, self._tag_flags, self._type_byte, call.buf, call.off, call.length
            )
            return self.sent(conn, call)
        if self._busy(conn, call):
            return True
        return self._serve_other(conn, call)

    def _busy(self, conn, call):
        # Every call's start: True when refused, conn busy with a pending receive.
        conn.ready = False
        conn.why = None
        if conn.pending is not None:
            # Its receive's answer will land in conn: nothing else may go on meanwhile (and
            # conn.op stays the receive's, for that answer).
            return self._refuse(conn, ResponseCode.ADDR_IN_USE, "connection_busy")
        conn.op = call.op
        return False

    # A send in three steps, for a caller that sends from its own frame (DirectClient: a
    # frame less under every answer, [c-stack]): send_refused(conn, call), and unless it
    # refused, self._status = self.core.send(self._dest, self._tag_flags, self._type_byte,
    # call.buf, call.off, call.length), then sent(conn, call). serve() for conn.op == OP_SEND
    # is those steps.

    def send_refused(self, conn, call):
        """True when the send `call` is refused (the answer is in conn); else what core.send
        takes is set: _dest, _tag_flags and _type_byte, and a request's tag is open."""
        if self._busy(conn, call) or self._stage_send(conn, call):
            return True
        if call.handle is not None:
            return self._open_request_tag(conn, call)
        if self._bad_response(call):
            self._why_value = (call.eid, call.tag)
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "bad_response")
        self._dest = call.eid
        self._tag_flags = call.tag
        return False

    def sent(self, conn, call):
        """The answer to a send core.send took or refused (its status in _status)."""
        if self._status != _SEND_OK and call.handle is not None:
            self.core.close_flow(self._dest, self._tag_flags & _TAG_MAX)  # (the request's tag)
        return self._sent(conn)

    def _serve_other(self, conn, call):
        op = call.op
        if op == OP_RECV:
            return self._recv(conn, call)
        if op == OP_GET_EID:
            conn.value = self.core.eid
            return self._answer(conn, _SUCCESS)
        if op == OP_SET_EID:
            return self._set_eid(conn, call.eid)
        if op == OP_LISTENER:
            return self._listener(conn, call.msg_type)
        if op == OP_REQ:
            return self._req(conn, call.eid)
        if op == OP_UNBIND:
            return self._unbind(conn, call.handle)
        return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "malformed")

    def _refuse(self, conn, code, why):
        # An error answer; `why` (and self._why_value, staged by the caller where the words
        # need a number) for explain().
        conn.why = why
        conn.why_value = self._why_value
        conn.size = 0
        return self._answer(conn, code)

    def explain(self, conn):
        """Why the last request on `conn` failed, in words, or None (allocates: error path)."""
        why = conn.why
        if why == "link_failed":
            return conn.why_value.describe_failure()
        if why is None:
            return None
        text = _WORDS[why]
        return text % conn.why_value if "%" in text else text

    def _answer(self, conn, code):
        conn.code = code
        conn.ready = True
        if conn.wake is not None:
            conn.wake.set()
        return True

    def _set_eid(self, conn, eid):
        if eid is None or eid <= EID_RESERVED_MAX or eid == EID_BROADCAST:
            self._why_value = eid
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "bad_own_eid")
        self.core.set_eid(eid)
        return self._answer(conn, _SUCCESS)

    def _listener(self, conn, msg_type):
        if msg_type > _MSG_TYPE_MAX:
            self._why_value = msg_type
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "bad_type")
        if self.accept_request(msg_type) >= 0:
            self._why_value = msg_type
            return self._refuse(conn, ResponseCode.ADDR_IN_USE, "listener_taken")
        if msg_type == MSG_TYPE_CONTROL and self.core.control is not None:
            return self._refuse(conn, ResponseCode.ADDR_IN_USE, "control_taken")
        if conn.wire and self._over_quota(conn, KIND_LISTENER):
            return self._refuse(conn, ResponseCode.NO_SPACE, self._why)
        h = self._alloc(0, self._first_request, KIND_LISTENER)
        if h is None:
            self._why_value = self._first_request  # in use
            return self._refuse(conn, ResponseCode.NO_SPACE, "no_listener_handle")
        h.msg_type = msg_type
        return self._handle_answer(conn, h)

    def _req(self, conn, eid):
        if eid is None or not is_valid_remote_eid(eid):
            self._why_value = eid
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "bad_eid")
        if conn.wire and self._over_quota(conn, KIND_REQUEST):
            return self._refuse(conn, ResponseCode.NO_SPACE, self._why)
        h = self._alloc(self._first_request, _len(self.handles), KIND_REQUEST)
        if h is None:
            self._why_value = _len(self.handles) - self._first_request  # in use
            return self._refuse(conn, ResponseCode.NO_SPACE, "no_request_handle")
        h.eid = eid
        return self._handle_answer(conn, h)

    def _over_quota(self, conn, kind):
        # Whether IPC client `conn` may take no other handle of `kind`: it holds its own quota,
        # or the IPC clients together hold every handle this process does not keep back
        # (self._why and _why_value say which).
        if self.held(kind, conn) >= self._own_quota[kind]:
            self._why_value = self._own_quota[kind]
            self._why = "client_listeners" if kind == KIND_LISTENER else "client_requests"
            return True
        if self.held(kind, None) >= self._shared_quota[kind]:
            self._why_value = self._shared_quota[kind]
            self._why = "clients_listeners" if kind == KIND_LISTENER else "clients_requests"
            return True
        return False

    def held(self, kind, conn):
        """How many handles of `kind` (KIND_LISTENER, KIND_REQUEST) `conn` holds, or with conn
        None all IPC clients (wire connections) together."""
        handles = self.handles
        count = 0
        i = 0
        while i < _len(handles):
            owner = handles[i].owner
            if handles[i].kind == kind and (owner is conn or (conn is None and owner.wire)):
                count += 1
            i += 1
        return count

    def _alloc(self, first, end, kind):
        handles = self.handles
        i = first
        while i < end:
            h = handles[i]
            if h.kind == KIND_FREE:
                h.kind = kind
                h.gen = (h.gen + 1) & _GEN_MASK
                h.persistent = False
                return h
            i += 1
        return None

    def _handle_answer(self, conn, h):
        h.owner = conn
        conn.value = self.handle_value(h)
        return self._answer(conn, _SUCCESS)

    def handle_value(self, h):
        return self.epoch << 12 | h.gen << 8 | h.index

    def _lookup(self, value):
        # The live Handle named by `value`, or None with self._error and _why saying why.
        self._why_value = value
        if value >> 12 != self.epoch:
            self._error = ResponseCode.SERVER_RESTARTED
            self._why = "restarted"
            return None
        index = value & 0xFF
        if index < _len(self.handles):
            h = self.handles[index]
            if h.kind != KIND_FREE and h.gen == (value >> 8) & _GEN_MASK:
                return h
        self._error = ResponseCode.BAD_ARGUMENT
        self._why = "stale"
        return None

    def _owned(self, conn, value):
        # The live Handle named by `value` when `conn` made it; else None, with self._error
        # and _why saying why (another connection's handle is refused as a forged one is).
        h = self._lookup(value)
        if h is not None and h.owner is not conn:
            self._error = ResponseCode.BAD_ARGUMENT
            self._why = "not_yours"
            return None
        return h

    def _refuse_handle(self, conn):
        # The _lookup that just failed (it staged _why_value), as the answer.
        return self._refuse(conn, self._error, self._why)

    def _unbind(self, conn, handle):
        if handle is not None:
            h = self._owned(conn, handle.value)
            if h is not None:
                self.release(h)
            elif self._why == "not_yours":
                return self._refuse_handle(conn)
        # Releasing an unknown or stale handle is a no-op, like openprot-mctp-api's.
        return self._answer(conn, _SUCCESS)

    def release(self, h):
        """Free a handle: its flows end, its queued messages go, its pending receive fails."""
        if h.pending is not None:
            h.pending.conn.why = "released"
            self._finish(h.pending, ResponseCode.BAD_ARGUMENT, 0)
        self.core.release_owner(h.index)
        h.count = 0
        h.kind = KIND_FREE
        h.owner = None

    def release_beside(self, conn, value):
        """Release `conn`'s handle `value` while a receive of conn's waits (an asyncio task
        closing a channel another task awaits): conn's answer is that receive's, so this
        one has none. A receive waiting on the handle ends with BAD_ARGUMENT ("the channel
        was closed ... while this receive waited"); a stale handle is a no-op, as in UNBIND;
        another connection's is refused (MctpError)."""
        h = self._owned(conn, value)
        if h is not None:
            self.release(h)
        elif self._why == "not_yours":
            raise MctpError(ResponseCode.BAD_ARGUMENT, 0, _WORDS["not_yours"] % value)

    def disconnect(self, conn):
        """`conn`'s client has gone: its handles are released (their flows end, their
        queued messages go) and its pending receive is withdrawn."""
        self.cancel(conn)
        for h in self.handles:
            if h.owner is conn and h.kind != KIND_FREE:
                self.release(h)

    def queued(self, handle_value):
        """How many complete messages wait for the handle (0 for a stale one): a firmware
        loop can serve a listener only when it has something, without a blocking receive."""
        h = self._lookup(handle_value)
        return 0 if h is None else h.count

    def keep_tags(self, handle_value, persistent=True):
        """Let the requests of a request handle keep their tag after the first response, for
        protocols that answer more than once (the tag then lives until it expires)."""
        h = self._lookup(handle_value)
        if h is None or h.kind != KIND_REQUEST:
            raise ValueError(_WORDS["not_request"] % handle_value)
        h.persistent = persistent

    # RECV

    def _recv(self, conn, call):
        if call.handle is None:
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "malformed")
        h = self._owned(conn, call.handle.value)
        if h is None:
            return self._refuse_handle(conn)
        # (A handle's pending receive is its owner's, whose connection is busy until it ends:
        # serve() has refused this already, so a handle never has two.)
        p = self._free_pending()
        if p is None:
            self._why_value = _len(self.pending)  # in use
            return self._refuse(conn, ResponseCode.NO_SPACE, "no_pending")
        p.timeout_ms = call.timeout_ms
        p.capacity = self._capacity(call.capacity)
        p.buf = call.buf
        p.off = call.off
        return self._wait(p, h, conn)

    def _capacity(self, announced):
        # A client that announces no capacity (-1) takes any message up to the limit.
        if announced < 0 or announced > self.max_payload:
            return self.max_payload
        return announced

    def _wait(self, p, h, conn):
        p.handle = h
        p.conn = conn
        p.started = self.core.clock()
        h.pending = p
        conn.pending = p
        if p.timeout_ms:
            self._timed += 1
        if h.count:
            self._fulfil(p)
        return conn.ready

    def _free_pending(self):
        pending = self.pending
        i = 0
        while i < _len(pending):
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
            p.conn.why = "too_small"
            p.conn.why_value = slot.length
            self._finish(p, ResponseCode.NO_SPACE, slot.length)
            return
        if not _copied(p, slot):
            # The caller's buffer refused the bytes: its receive fails, and says so (not a
            # fault of the stack's, nor a timeout later), and the message stays queued.
            p.conn.why = "undeliverable"
            p.conn.why_value = _refusal(p, slot)
            self._finish(p, ResponseCode.BAD_ARGUMENT, 0)
            return
        self._describe(p.conn, slot)
        h.queue[h.head] = None
        h.head = (h.head + 1) % _len(h.queue)
        h.count -= 1
        self.core.release(slot)
        self._finish(p, _SUCCESS, slot.length)

    def _describe(self, conn, slot):
        # The received message's metadata, for the answer: written once, into the
        # connection's RecvMetadata (an in-process client's own, or a wire connection's).
        conn.meta.set(slot.msg_type, slot.ic, slot.tag, slot.src, slot.length)

    def _finish(self, p, code, size):
        conn = p.conn
        conn.size = size
        self._close_pending(p)
        self._answer(conn, code)

    def cancel(self, conn):
        """Withdraw the receive `conn` waits for, if any (its client stopped waiting); a
        message that arrives later stays queued for the next receive."""
        if conn.pending is not None:
            self._close_pending(conn.pending)

    def _close_pending(self, p):
        if p.timeout_ms:
            self._timed -= 1
        p.conn.pending = None
        p.handle.pending = None
        p.handle = None
        p.conn = None
        p.buf = None

    # SEND

    def _stage_send(self, conn, call):
        # True when the send is refused (the answer is ready); else the send's type byte and
        # the call's length are set for the core.
        if call.msg_type > _MSG_TYPE_MAX:
            self._why_value = call.msg_type
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "bad_type")
        if call.length is None:
            call.length = _len(call.buf) - call.off
        if call.length > self.max_payload:
            self._why_value = (call.length, self.max_payload)
            return self._refuse(conn, ResponseCode.NO_SPACE, "too_large")
        self._type_byte = call.msg_type | _MSG_IC_BIT if call.ic else call.msg_type
        return False

    def _open_request_tag(self, conn, call):
        # True when the request is refused (the answer is ready); else a tag is open for it
        # and the send's destination and tag are set.
        h = self._owned(conn, call.handle.value)
        if h is None:
            return self._refuse_handle(conn)
        if h.kind != KIND_REQUEST:
            self._why_value = call.handle.value
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "listener_sends")
        if call.tag is not None or (call.eid is not None and call.eid != h.eid):
            # The stack owns request tags, and a request handle is bound to its EID.
            self._why_value = (h.eid, call.eid, call.tag)
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "bad_request")
        if not h.persistent and h.pending is None:
            self._abandon(h)
        flow = self.core.open_flow(h.eid, h.index, h.persistent)
        if flow is None:
            self._why_value = h.eid
            return self._refuse(conn, ResponseCode.NO_SPACE, "no_tag")
        self._dest = h.eid
        self._tag_flags = _FLAG_TO | flow.tag
        return False

    def _abandon(self, h):
        # A new request abandons the handle's earlier one (its receive failed or was never
        # made): the old tag ends and an answer already queued goes, so a late response is
        # dropped as unsolicited instead of passing for the new request's.
        self.core.release_owner(h.index)
        h.count = 0

    def _bad_response(self, call):
        if call.eid is None or call.tag is None:
            return True
        return call.tag > _TAG_MAX or not is_valid_remote_eid(call.eid)

    def _sent(self, conn):
        # The answer to a send the core took (its tag) or refused. No route is the caller's
        # mistake (BAD_ARGUMENT); a link that refused the packets is not (INTERNAL_ERROR).
        if self._status == _SEND_OK:
            conn.value = self._tag_flags & _TAG_MAX
            return self._answer(conn, _SUCCESS)
        if self._status == _SEND_NO_ROUTE:
            self._why_value = self._dest
            return self._refuse(conn, ResponseCode.BAD_ARGUMENT, "no_route")
        self._why_value = self.core.tx_failed_link
        return self._refuse(conn, ResponseCode.INTERNAL_ERROR, "link_failed")

    # For the REPL and tests.

    def handles_in_use(self):
        count = 0
        for h in self.handles:
            if h.kind != KIND_FREE:
                count += 1
        return count

    def open_handles(self):
        """One line per handle in use: what it is and what it holds (for show() and the
        REPL)."""
        lines = []
        for h in self.handles:
            if h.kind == KIND_FREE:
                continue
            what = (
                "listener for type %d" % h.msg_type
                if h.kind == KIND_LISTENER
                else "request channel to EID %d" % h.eid
            )
            waiting = ", a receive waiting" if h.pending is not None else ""
            lines.append(
                "handle 0x%x: %s, %d queued%s" % (self.handle_value(h), what, h.count, waiting)
            )
        return lines

    def pending_in_use(self):
        count = 0
        for p in self.pending:
            if p.handle is not None:
                count += 1
        return count

    def check(self):
        """What is wrong with the state of the server and its core, as sentences; [] when
        all is well (mctp.server.audit says what is checked, part mctp-audit). For tests, the
        fuzzer and the REPL."""
        try:
            from .audit import problems  # noqa: PLC0415 (only diagnostics need it)
        except ImportError:
            raise RuntimeError(
                "Server.check() needs the mctp-audit part (mctp/server/audit.py): freeze it"
                " (require() in the board's manifest.py) or mpremote mip install ./mctp-audit.json"
            ) from None
        return problems(self)


def _copied(p, slot):
    # The message in `slot` into pending receive `p`'s buffer; False when the buffer refused
    # it (one that shrank while the receive waited, say). Apart from _fulfil ([try-apart]).
    try:
        copy_into(p.buf, p.off, slot.buf, 0, slot.length)
    except Exception:
        return False
    return True


def _refusal(p, slot):
    # Why _copied failed, in words (an error path: it may allocate).
    if _room(p) < slot.length:
        return "it holds %d bytes now, the message is %d" % (_room(p), slot.length)
    return "a buffer of type %s refused them" % type(p.buf).__name__


def _room(p):
    # The bytes pending receive `p`'s buffer holds after its offset (0 for one whose size
    # cannot be read any more: a released memoryview).
    try:
        return _len(p.buf) - p.off
    except Exception:
        return 0


def _random_epoch():
    # Tells this server's handles from those of a previous run; any value but a repeat works.
    if urandom is None:
        return ticks_ms() % 0xFFFF + 1
    raw = urandom(2)
    return (raw[0] << 8 | raw[1]) % 0xFFFF + 1
