# The application contract: the types and the four interfaces of openprot-mctp-api.
#
# Applications code against MctpListener, MctpReqChannel and MctpRespChannel; a Stack (see
# stack.py) hands those out on top of any MctpClient. The MctpClient can be the in-process server
# or a client that speaks the wire codec to a server elsewhere: application code does not change.


class Handle:
    """An opaque u32 naming a listener or request slot in the server."""

    def __init__(self, value):
        if not isinstance(value, int) or value < 0 or value >> 32:
            raise ValueError("handle must be a u32")
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Handle) and other.value == self.value

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return "Handle(" + str(self.value) + ")"


class RecvMetadata:
    """What a receive tells about the message it delivered.

    Create one and pass it to every `recv_into`: it is refilled in place, so receiving allocates
    nothing.
    """

    __hash__ = None  # mutable, so not hashable

    def __init__(self, msg_type=0, msg_ic=False, msg_tag=0, remote_eid=0, payload_size=0):
        self.msg_type = msg_type  # 7-bit MCTP message type
        self.msg_ic = msg_ic  # the IC bit of the message type byte
        self.msg_tag = msg_tag  # 3-bit tag; the TO bit is not reported
        self.remote_eid = remote_eid  # the peer's EID (0 for a peer without one)
        self.payload_size = payload_size  # message bytes after the type byte

    def set(self, msg_type, msg_ic, msg_tag, remote_eid, payload_size):
        self.msg_type = msg_type
        self.msg_ic = msg_ic
        self.msg_tag = msg_tag
        self.remote_eid = remote_eid
        self.payload_size = payload_size
        return self

    def __eq__(self, other):
        return (
            isinstance(other, RecvMetadata)
            and self.msg_type == other.msg_type
            and self.msg_ic == other.msg_ic
            and self.msg_tag == other.msg_tag
            and self.remote_eid == other.remote_eid
            and self.payload_size == other.payload_size
        )

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return (
            "RecvMetadata(msg_type=%d, msg_ic=%s, msg_tag=%d, remote_eid=%d, payload_size=%d)"
            % (
                self.msg_type,
                self.msg_ic,
                self.msg_tag,
                self.remote_eid,
                self.payload_size,
            )
        )


class Call:
    """The arguments of one call, in fields: how they travel inside this package.

    MicroPython gives a bytecode function its frame from the heap when its parameters, locals
    and deepest stack together exceed 11 words (tools/ci/frames.py lists the functions), and the
    contract's send has seven arguments: calling it costs nine words of stack, so a caller with
    more than two locals would allocate on every message. So each channel and client keeps one
    Call, fills its fields, and passes the Call: the Stack facade to its client (send_call, below),
    an in-process client or the IPC's wire adapter to the server (Server.serve). A method with
    openprot-mctp-api's parameters copies them into its Call and goes on with that; nothing else in
    the package stages arguments.
    """

    def __init__(self):
        self.op = 0  # the server operation (mctp.ops' OP_*), set by the client
        self.handle = None  # a Handle, or None (absent)
        self.msg_type = 0  # without the IC bit
        self.eid = None  # None: absent
        self.tag = None  # None: absent
        self.ic = False
        self.buf = None  # send: the payload is buf[off:off + length]; recv: it goes there
        self.off = 0
        self.length = None  # send: None for all of buf from off
        self.timeout_ms = 0  # recv: 0 waits forever
        self.capacity = -1  # recv: the largest payload buf takes (-1: any)


class MctpClient:
    """A connection to an MCTP server. Every method raises MctpError on failure."""

    def req(self, eid):
        """Allocate a request handle bound to remote `eid`. NO_SPACE when all are in use."""
        raise NotImplementedError

    def listener(self, msg_type):
        """Register for requests of `msg_type`. ADDR_IN_USE if the type is taken; NO_SPACE."""
        raise NotImplementedError

    def get_eid(self):
        """The local endpoint ID (0 while none is assigned)."""
        raise NotImplementedError

    def set_eid(self, eid):
        """Set the local endpoint ID. BAD_ARGUMENT for 0..7 and 255."""
        raise NotImplementedError

    def recv(self, handle, timeout_ms, buf, meta=None):
        """Receive the next message for `handle` into `buf`, filling and returning `meta` (a
        new RecvMetadata when none is given, as openprot-mctp-api's recv(handle, timeout, buf)
        does; pass one to allocate nothing).

        `timeout_ms` 0 waits forever; otherwise TIMED_OUT once `timeout_ms` have passed. A
        message larger than `buf` raises NO_SPACE with `size` set and stays queued.
        """
        raise NotImplementedError

    def send(self, handle, msg_type, eid, tag, integrity_check, buf, length=None):
        """Send `buf` (or its first `length` bytes) as a message and return its tag (None for a
        request whose tag the OS allocates unseen: mctp.linux's; its response tells the tag).

        With a request handle (eid and tag None) this sends a request with a tag the stack
        allocates. With handle None, `eid` and `tag` it sends the response to that request.
        NO_SPACE when the payload is larger than the stack's limit.
        """
        raise NotImplementedError

    def drop_handle(self, handle):
        """Release `handle`. Unknown or already released handles are ignored."""
        raise NotImplementedError

    def send_call(self, call):
        """send() with its arguments in a Call (handle, msg_type, eid, tag, ic, buf, length):
        how the Stack facade sends (see Call). A client may serve it without unpacking."""
        return self.send(
            call.handle, call.msg_type, call.eid, call.tag, call.ic, call.buf, call.length
        )


class CallClient(MctpClient):
    """An MctpClient that serves send_call() itself (DirectClient, mctp.ipc.StreamClient): the
    contract's seven-argument send() fills the client's Call for sends and hands it on."""

    def __init__(self, call=None):
        self._send_args = Call() if call is None else call  # (a client's own Call may serve)

    def send(self, handle, msg_type, eid, tag, integrity_check, buf, length=None):
        # (No local: [frame-limit].)
        self._send_args.handle = handle
        self._send_args.msg_type = msg_type
        self._send_args.eid = eid
        self._send_args.tag = tag
        self._send_args.ic = integrity_check
        self._send_args.buf = buf
        self._send_args.length = length
        return self.send_call(self._send_args)


class MctpListener:
    """Receives requests of one message type. Close it (or use `with`) to release it."""

    def recv(self, buf=None):
        """Wait for a request: returns (RecvMetadata, payload, MctpRespChannel)."""
        raise NotImplementedError

    def recv_into(self, buf, meta, resp=None):
        """Allocation-free receive: fills `meta`, rebinds `resp` if given, returns the size."""
        raise NotImplementedError

    def set_timeout(self, timeout_ms):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError


class MctpReqChannel:
    """Sends requests to one remote EID (remote_eid()) and receives the responses."""

    def remote_eid(self):
        """The EID the requests go to."""
        raise NotImplementedError

    def send(self, msg_type, buf, ic=False, length=None):
        raise NotImplementedError

    def recv(self, buf=None):
        """Wait for the response to the request sent: returns (RecvMetadata, payload)."""
        raise NotImplementedError

    def recv_into(self, buf, meta):
        """Allocation-free receive: fills `meta` and returns the payload size."""
        raise NotImplementedError

    def close(self):
        raise NotImplementedError


class MctpRespChannel:
    """Answers one received request (from remote_eid()): same type, same tag, TO=0."""

    def remote_eid(self):
        """The EID the answer goes to: the requester's."""
        raise NotImplementedError

    def send(self, buf, ic=False, length=None):
        raise NotImplementedError
