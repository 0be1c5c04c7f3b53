# The facade applications use: Stack wraps any MctpClient and hands out typed channels.
#
#     stack = Stack(client)
#     with stack.req(9, 1000) as ch:            # request channel to EID 9, 1 s receive timeout
#         ch.send(MSG_TYPE_PLDM, b"\x80\x00\x02")
#         meta, payload = ch.recv()             # REPL form: allocates, returns bytes
#
#     meta = RecvMetadata()                     # firmware form: reuse one buffer and one meta
#     buf = bytearray(MAX_PAYLOAD_SIZE)
#     n = ch.recv_into(buf, meta)               # nothing allocated here
#
# Request and listener channels own a server handle and release it on close(), at the end of a
# `with` block, or (best effort, CPython only) when garbage collected.

from ._compat import const
from .api import Call, MctpListener, MctpReqChannel, MctpRespChannel, RecvMetadata
from .constants import MAX_PAYLOAD_SIZE, TAG_MAX, is_valid_remote_eid
from .errors import MctpError, ResponseCode
from .ops import check_meta, check_u32


# The tag of a request in flight whose tag its client cannot know before the response.
_TAG_UNKNOWN = const(-1)


def _check_timeout(timeout_ms):
    # 0 waits forever; None is not a timeout here (the contract's receive takes a u32).
    check_u32(timeout_ms, "timeout_ms (0: wait forever)")


def _refuse(detail):
    # A call the channel's state does not allow: the contract's BAD_ARGUMENT, with its words.
    raise MctpError(ResponseCode.BAD_ARGUMENT, 0, detail)


# The REPL form of recv, shared by both channel kinds: into the caller's buffer (a view of it
# comes back), or into a new one (bytes come back). The receive is called from recv itself,
# not from a helper ([c-stack]).


def _recv_buffer(buf):
    return bytearray(MAX_PAYLOAD_SIZE) if buf is None else buf


def _received(into, size, buf):
    return bytes(into[:size]) if buf is None else memoryview(buf)[:size]


class Stack:
    """The application's facade over any MctpClient (in process, over IPC, over Linux):
    req() and listener() hand out channels that own a handle each and release it on
    close(); get_eid() and set_eid() pass through to the client."""

    def __init__(self, client):
        self.client = client

    def get_eid(self):
        return self.client.get_eid()

    def set_eid(self, eid):
        self.client.set_eid(eid)

    def req(self, eid, timeout_ms=0):
        """A request channel to `eid`; its receives time out after `timeout_ms` (0: never)."""
        _check_timeout(timeout_ms)
        client = self._channel_client()
        return self.req_type(client, client.req(eid), eid, timeout_ms)

    def listener(self, msg_type, timeout_ms=0):
        """A listener for requests of `msg_type`; receives time out after `timeout_ms`."""
        _check_timeout(timeout_ms)
        client = self._channel_client()
        return self.listener_type(client, client.listener(msg_type), timeout_ms)

    def _channel_client(self):
        # The client a new channel uses: this stack's (mctp.aio gives each its own).
        return self.client


class _Channel:
    # What request channels and listeners share: a handle, a timeout, and its release.

    def __init__(self, client, handle, timeout_ms):
        self._client = client
        self._handle = handle
        self._timeout_ms = timeout_ms

    def set_timeout(self, timeout_ms):
        _check_timeout(timeout_ms)
        self._timeout_ms = timeout_ms

    @property
    def closed(self):
        return self._handle is None

    @property
    def handle(self):
        """The channel's Handle (None once closed)."""
        return self._handle

    def _live_handle(self):
        handle = self._handle
        if handle is None:
            _refuse("the channel is closed")
        return handle

    def close(self):
        handle = self._handle
        if handle is not None:
            self._handle = None
            self._client.drop_handle(handle)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()

    def __del__(self):
        # Best effort only: MicroPython does not finalise user objects, and CPython may run
        # this during interpreter shutdown when the client is already gone.
        try:
            self.close()
        except Exception:
            pass


class StackReqChannel(_Channel, MctpReqChannel):
    """One request in flight at a time to remote_eid()."""

    # What send() returns: nothing here; mctp.aio's channels, whose receives are awaited, set
    # an awaitable that is complete already (`await ch.send(...)`). A class attribute, not
    # one per channel: it costs the boards no __init__ of their own.
    _send_returns = None

    def __init__(self, client, handle, remote_eid, timeout_ms):
        super().__init__(client, handle, timeout_ms)
        self.eid = remote_eid
        self._sent_tag = None
        self._waited = False  # a receive for the request in flight was tried and failed
        self._call = Call()  # the arguments of each send (see mctp.api.Call)
        self._call.handle = handle

    def remote_eid(self):
        return self.eid

    def send(self, msg_type, buf, ic=False, length=None):
        """Send a request: `buf`, or its first `length` bytes.

        One request is in flight at a time: a second send before its response is BAD_ARGUMENT,
        unless a receive for it has failed (timed out), which abandons it.
        """
        self._stage(msg_type, buf, ic, length)
        self._sent(self._client.send_call(self._call))
        return self._send_returns

    def _stage(self, msg_type, buf, ic, length):
        # Before a send (this one's, and mctp.aio's awaited one's): the checks, the Call filled.
        self._live_handle()
        if self._sent_tag is not None and not self._waited:
            _refuse(
                "a request is in flight on this channel: receive its response first (one"
                " request at a time; a receive that fails gives it up)"
            )
        self._waited = False
        self._sent_tag = None  # stays None if this send fails: nothing is in flight then
        call = self._call
        call.msg_type = msg_type
        call.ic = ic
        call.buf = buf
        call.length = length

    def _sent(self, tag):
        # After it: the request is in flight. A client whose tags the OS owns (mctp.linux)
        # does not know the tag yet (None).
        self._sent_tag = _TAG_UNKNOWN if tag is None else tag
        self._call.buf = None

    def recv_into(self, buf, meta):
        check_meta(meta)  # (a client would make one for None, and the caller never see it)
        self._client.recv(self._awaited(), self._timeout_ms, buf, meta)
        return self._response(meta)

    def _awaited(self):
        # Before a receive: the handle, when a request is in flight.
        handle = self._live_handle()
        if self._sent_tag is None:
            _refuse("no request in flight on this channel: send one before receiving")
        self._waited = True  # stays set if the receive raises
        return handle

    def _response(self, meta):
        # After it: the response's size, once it is known to answer the request.
        tag = self._sent_tag
        if (tag != _TAG_UNKNOWN and meta.msg_tag != tag) or (
            self.eid and meta.remote_eid != self.eid
        ):
            # A response must come from the EID asked (any, when we asked EID 0: the endpoint
            # at a physical address), with the tag of our request; anything else is a client
            # fault, not a message for us.
            raise MctpError(
                ResponseCode.INTERNAL_ERROR,
                0,
                "the client returned a message from EID %d with tag %d for the request to EID"
                " %d with tag %s" % (meta.remote_eid, meta.msg_tag, self.eid, tag),
            )
        self._sent_tag = None
        self._waited = False
        return meta.payload_size

    def recv(self, buf=None):
        meta = RecvMetadata()
        into = _recv_buffer(buf)
        return meta, _received(into, self.recv_into(into, meta), buf)


def _check_listener_recv(meta, resp):
    # Before the receive: after it, a wrong `resp` would fail with the request taken, and a
    # client makes a RecvMetadata for None that the caller would never see.
    check_meta(meta)
    if resp is not None and not isinstance(resp, StackRespChannel):
        raise TypeError(
            "resp must be a response channel (listener.resp_channel()) or None, got "
            + type(resp).__name__
        )


class StackListener(_Channel, MctpListener):
    def recv_into(self, buf, meta, resp=None):
        _check_listener_recv(meta, resp)
        self._client.recv(self._live_handle(), self._timeout_ms, buf, meta)
        if resp is not None:
            resp.bind(meta)
        return meta.payload_size

    def recv(self, buf=None):
        meta = RecvMetadata()
        into = _recv_buffer(buf)
        payload = _received(into, self.recv_into(into, meta), buf)
        return meta, payload, self._resp_for(meta)

    def _resp_for(self, meta):
        return self.resp_type(self._client, meta.remote_eid, meta.msg_type, meta.msg_tag)

    def resp_channel(self):
        """An unbound response channel to pass to recv_into again and again."""
        return self.resp_type(self._client, 0, 0, 0)


class StackRespChannel(MctpRespChannel):
    """Answers one request: to remote_eid(), same message type, same tag, TO=0."""

    _send_returns = None  # what send() returns (see StackReqChannel)

    def __init__(self, client, remote_eid, msg_type, tag):
        self._client = client
        self.eid = remote_eid
        self.msg_type = msg_type
        self.tag = tag
        self._call = Call()  # the arguments of each send (see mctp.api.Call)

    def remote_eid(self):
        return self.eid

    def _refuse_unbound(self):
        _refuse(
            "a response goes to a requester's EID (0 or 8..254) with its tag (0..7), got EID"
            " %d and tag %d: bind the channel to a request (listener.recv_into(buf, meta,"
            " resp))" % (self.eid, self.tag)
        )

    def bind(self, meta):
        self.eid = meta.remote_eid
        self.msg_type = meta.msg_type
        self.tag = meta.msg_tag

    def send(self, buf, ic=False, length=None):
        """Send the response: `buf`, or its first `length` bytes."""
        self._stage(buf, ic, length)
        self._client.send_call(self._call)
        self._call.buf = None
        return self._send_returns

    def _stage(self, buf, ic, length):
        # Before a send (this one's, and mctp.aio's awaited one's): the checks, the Call filled.
        if not 0 <= self.tag <= TAG_MAX or not is_valid_remote_eid(self.eid):
            self._refuse_unbound()
        call = self._call
        call.msg_type = self.msg_type
        call.eid = self.eid
        call.tag = self.tag
        call.ic = ic
        call.buf = buf
        call.length = length


# What the facade hands out (mctp.aio's facade, the awaitable forms).
Stack.req_type = StackReqChannel
Stack.listener_type = StackListener
StackListener.resp_type = StackRespChannel
