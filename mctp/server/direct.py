# DirectClient: an MctpClient for a server in the same process (single-image firmware, tests,
# host tools). It skips the wire codec: each call fills a Call (mctp.api) and the server serves
# it (Server.serve), the same operations a wire request reaches through mctp.ipc's
# WireAdapter; the answer comes back in the connection's fields, and a received message is
# copied once, from its reassembly slot into the caller's buffer, its metadata once, into the
# caller's RecvMetadata. The codec stays for clients elsewhere (and its own tests and the
# fuzzer exercise it).
#
# A receive that must wait drives the stack itself: it polls the server (which polls the links)
# and calls `idle()` between polls until the message or the deadline arrives. Pass an idle
# function to do other work meanwhile, for example to run other stacks in the same process.

from .._compat import const, sleep_ms
from ..api import Call, CallClient, Handle
from ..errors import MctpError, ResponseCode
from ..constants import MAX_PAYLOAD_SIZE
from ..ops import (
    OP_GET_EID,
    OP_LISTENER,
    OP_RECV,
    OP_REQ,
    OP_SEND,
    OP_SET_EID,
    OP_UNBIND,
    check_handle,
    check_opt_u8,
    check_payload,
    check_u8,
    check_u32,
    check_writable,
    payload_length,
    recv_metadata,
)

_SUCCESS = const(0)  # errors.ResponseCode.SUCCESS, read at every call's answer ([const-copy])
_len = len  # [builtin-global]: every receive calls it


def _sleep_1ms():
    sleep_ms(1)


class DirectClient(CallClient):
    def __init__(self, server, idle=None):
        self._call = Call()  # the calls made here (send()'s too); the channels bring their own
        super().__init__(self._call)
        self.server = server
        self._conn = server.connect(wire=False)
        self._idle = _sleep_1ms if idle is None else idle
        self._waiting = False  # inside _wait: the idle hook runs
        # The MctpError the last failed call raised, for callers that catch it unbound
        # ([try-apart]).
        self.last_error = None

    def _serve(self, op, call):
        # Serve `call` as `op`; wait while a receive is pending; raise its error.
        self._check_free()
        call.op = op
        if not self.server.serve(self._conn, call):
            self._wait()
        return self._answer()

    def _answer(self):
        # The answer to the call just served: its value, or its error raised.
        conn = self._conn
        if conn.code != _SUCCESS:
            detail = self.server.explain(conn)
            self.last_error = MctpError(ResponseCode.from_wire(conn.code), conn.size, detail)
            raise self.last_error
        return conn.value

    def _wait(self):
        # A receive is pending: poll until it is answered. Whatever ends the wait early
        # (Ctrl-C at the REPL, a fault in the idle hook) withdraws it, so the connection is
        # not left busy for good.
        self._waiting = True
        try:
            while True:
                self.server.poll()
                if self._conn.ready:
                    break
                self._idle()
        except BaseException:
            self._waiting = False
            self.server.cancel(self._conn)
            raise
        self._waiting = False

    def _check_free(self):
        # A call while this client's receive waits would land in the connection whose answer
        # is the receive's, and the receive would take the call's answer for its own.
        if self._waiting:  # a call from this client's own idle hook
            raise MctpError(
                ResponseCode.ADDR_IN_USE,
                0,
                "this client is waiting for a receive; use another client from its idle hook",
            )
        if self._conn.pending is not None:  # another task's receive (mctp.aio)
            raise MctpError(
                ResponseCode.ADDR_IN_USE,
                0,
                "a receive already waits on this channel (in another task): one receive at a"
                " time per channel, and nothing else on it meanwhile but close(); any number"
                " of channels wait at once",
            )

    def req(self, eid):
        check_u8(eid, "eid")
        self._call.eid = eid
        return Handle(self._serve(OP_REQ, self._call))

    def listener(self, msg_type):
        check_u8(msg_type, "msg_type")
        self._call.msg_type = msg_type
        return Handle(self._serve(OP_LISTENER, self._call))

    def get_eid(self):
        return self._serve(OP_GET_EID, self._call)

    def set_eid(self, eid):
        check_u8(eid, "eid")
        self._call.eid = eid
        self._serve(OP_SET_EID, self._call)

    def recv(self, handle, timeout_ms, buf, meta=None):
        meta = recv_metadata(meta)  # (None: the contract's three-argument form, which allocates)
        # The server and the wait, which runs the whole stack, are called from here: a frame
        # less under a receive that a queued message answers at once ([c-stack]).
        self._stage_recv(handle, timeout_ms, buf, meta)
        if not self.server.serve(self._conn, self._call):
            self._wait()
        return self._received(meta)

    def _start_recv(self, handle, timeout_ms, buf, meta):
        # The receive, served: True when it is answered, False when it waits (pending) (the
        # awaited receive's, mctp.aio.client).
        self._stage_recv(handle, timeout_ms, buf, meta)
        return self.server.serve(self._conn, self._call)

    def _stage_recv(self, handle, timeout_ms, buf, meta):
        # The receive's checks, and its Call filled. The server describes the message in
        # `meta`, the connection's until the answer.
        check_handle(handle)
        check_u32(timeout_ms, "timeout_ms")
        check_writable(buf, "buf")
        self._check_free()
        call = self._call
        call.op = OP_RECV
        call.handle = handle
        call.timeout_ms = timeout_ms
        call.buf = buf
        call.off = 0
        call.capacity = _len(buf)
        self._conn.meta = meta

    def _received(self, meta):
        # The answer to the receive: `meta` (the server filled it), or its error raised.
        self._call.buf = None
        self._conn.meta = None
        self._answer()
        return meta

    def send_call(self, call):
        check_payload(call.buf, "payload")
        if payload_length(call.buf, call.length) > MAX_PAYLOAD_SIZE:
            self._too_large(payload_length(call.buf, call.length))
        if call.handle is not None:
            check_handle(call.handle)
        check_u8(call.msg_type, "msg_type")
        check_opt_u8(call.eid, "eid")
        check_opt_u8(call.tag, "tag")
        call.off = 0
        # _serve's work, done here, and Server.serve's for a send: the core is called from
        # this frame, a frame less under every answer and request sent ([c-stack]).
        self._check_free()
        call.op = OP_SEND
        if not self.server.send_refused(self._conn, call):
            self.server._status = self.server.core.send(
                self.server._dest,
                self.server._tag_flags,
                self.server._type_byte,
                call.buf,
                call.off,
                call.length,
            )
            self.server.sent(self._conn, call)
        return self._answer()

    @staticmethod
    def _too_large(size):
        # The contract's code for the one payload limit (the server's may be lower: it says so).
        raise MctpError(
            ResponseCode.NO_SPACE,
            0,
            "a payload of %d bytes is more than the contract's limit of %d"
            % (size, MAX_PAYLOAD_SIZE),
        )

    def drop_handle(self, handle):
        check_handle(handle)
        if self._conn.pending is not None:
            # A receive of this client waits (in another task, mctp.aio's channels; or this
            # is its idle hook): the handle goes beside it, and a receive on it ends with its
            # error ("the channel was closed ... while this receive waited").
            self.server.release_beside(self._conn, handle.value)
            return
        self._call.handle = handle
        self._serve(OP_UNBIND, self._call)
