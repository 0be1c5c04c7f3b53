# The records the server keeps: a Connection per client, a Handle per listener or request
# channel (its kind, KIND_*, and its queue of complete messages), a Pending per receive that
# waits. mctp.server.audit reads them too.

from .._compat import const
from ..api import RecvMetadata
from ..errors import ResponseCode

KIND_FREE = const(0)
KIND_LISTENER = const(1)
KIND_REQUEST = const(2)


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


class Handle:
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


class Pending:
    def __init__(self):
        self.handle = None  # a Handle while in use
        self.conn = None
        self.started = 0
        self.timeout_ms = 0  # 0: wait forever
        self.capacity = 0
        self.buf = None  # where the message goes: buf[off:off + capacity]
        self.off = 0
