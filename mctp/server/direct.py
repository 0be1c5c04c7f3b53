# DirectClient: an MctpClient for a server in the same process (single-image firmware, tests,
# host tools). Every call is encoded with the wire codec and served by Server.dispatch, exactly
# as a client in another task or process would be, so the codec is exercised end to end.
#
# A receive that must wait drives the stack itself: it polls the server (which polls the links)
# and calls `idle()` between polls until the message or the deadline arrives. Pass an idle
# function to do other work meanwhile, for example to run other stacks in the same process.

from .._compat import sleep_ms
from ..api import Handle, MctpClient, RecvMetadata
from ..bufcopy import copy_into
from ..errors import MctpError, ResponseCode
from ..wire import (
    WIRE_HEADER_SIZE,
    MAX_PAYLOAD_SIZE,
    MAX_REQUEST_SIZE,
    MctpResponseHeader,
    decode_response_header,
    encode_get_eid,
    encode_listener,
    encode_recv,
    encode_req,
    encode_send,
    encode_set_eid,
    encode_unbind,
    response_payload_len,
)


def _sleep_1ms():
    sleep_ms(1)


class DirectClient(MctpClient):
    def __init__(self, server, idle=None):
        self.server = server
        self._conn = server.connect()
        self._req = bytearray(MAX_REQUEST_SIZE)
        self._hdr = MctpResponseHeader()
        self._idle = _sleep_1ms if idle is None else idle
        self._waiting = False  # inside _wait: the idle hook runs
        # The MctpError the last failed call raised: for callers that catch it without
        # binding it (`except MctpError as e` costs a heap frame per call on MicroPython).
        self.last_error = None
        self._out_handle = None  # the arguments of the call being encoded
        self._out_type = 0
        self._out_eid = None
        self._out_tag = None
        self._out_ic = False
        self._out_buf = None
        self._out_len = None

    def _call(self, length):
        # Serve the request in self._req; wait for its response; raise its error.
        if not self._dispatch(length):
            self._wait()
        return self._result()

    def _dispatch(self, length):
        # Serve the request in self._req: True when its response is ready.
        if self._waiting:
            self._refuse_reentry()
        return self.server.dispatch(self._conn, self._req, length)

    def _result(self):
        # The response header of the call just served; MctpError when it failed.
        hdr = decode_response_header(self._conn.resp, self._conn.resp_len, self._hdr)
        if hdr.code != ResponseCode.SUCCESS:
            self._raise(hdr)
        return hdr

    def _raise(self, hdr):
        detail = self.server.explain(self._conn)
        self.last_error = MctpError(ResponseCode.from_wire(hdr.code), hdr.payload_len, detail)
        raise self.last_error

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

    @staticmethod
    def _refuse_reentry():
        # A call from this client's own idle hook would land in the connection whose receive
        # is pending, and the wait would take its answer for the receive's.
        raise MctpError(
            ResponseCode.ADDR_IN_USE,
            0,
            "this client is waiting for a receive; use another client from its idle hook",
        )

    def req(self, eid):
        return Handle(self._call(encode_req(self._req, eid)).handle)

    def listener(self, msg_type):
        return Handle(self._call(encode_listener(self._req, msg_type)).handle)

    def get_eid(self):
        return self._call(encode_get_eid(self._req)).eid

    def set_eid(self, eid):
        self._call(encode_set_eid(self._req, eid))

    def recv(self, handle, timeout_ms, buf, meta=None):
        if meta is None:
            meta = RecvMetadata()  # the seed's three-argument form (allocates)
        self._out_len = len(buf)
        # _call's steps, taken here: the wait runs the whole stack (and, in tests, the other
        # stacks), so it starts one frame higher on the C stack.
        if not self._dispatch(self._encode_recv(handle, timeout_ms)):
            self._wait()
        self._result()
        return self._fill(meta, self._copy_payload(buf))

    def _encode_recv(self, handle, timeout_ms):
        capacity = self._out_len if self._out_len < MAX_PAYLOAD_SIZE else MAX_PAYLOAD_SIZE
        return encode_recv(self._req, handle.value, timeout_ms, capacity)

    def _copy_payload(self, buf):
        size = response_payload_len(self._hdr, self._conn.resp_len)
        copy_into(buf, 0, self._conn.resp, WIRE_HEADER_SIZE, size)
        return size

    def _fill(self, meta, size):
        hdr = self._hdr
        return meta.set(hdr.msg_type, hdr.msg_ic(), hdr.tag, hdr.eid, size)

    def send(self, handle, msg_type, eid, tag, integrity_check, buf, length=None):
        if (len(buf) if length is None else length) > MAX_PAYLOAD_SIZE:
            raise MctpError(ResponseCode.NO_SPACE)  # the contract's code for the one limit
        # Staged in attributes: with eight parameters here, the eight-argument encode call
        # must be made from a frame with a single local to stay off MicroPython's heap.
        self._out_handle = None if handle is None else handle.value
        self._out_type = msg_type
        self._out_eid = eid
        self._out_tag = tag
        self._out_ic = integrity_check
        self._out_buf = buf
        self._out_len = length
        return self._send_staged().tag

    def _send_staged(self):
        length = encode_send(
            self._req,
            self._out_handle,
            self._out_type,
            self._out_eid,
            self._out_tag,
            self._out_ic,
            self._out_buf,
            self._out_len,
        )
        self._out_buf = None
        # _call's work, done here: a send is answered at once, and calling the server from
        # this frame saves one frame of C stack on the path of every answer a service sends.
        if self._waiting:
            self._refuse_reentry()
        self.server.dispatch(self._conn, self._req, length)
        return self._result()

    def drop_handle(self, handle):
        self._call(encode_unbind(self._req, handle.value))
