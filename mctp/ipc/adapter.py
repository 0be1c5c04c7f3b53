# The wire adapter: a server's side of openprot-mctp-api's wire codec (mctp.wire). It decodes a
# wire request into a Call (mctp.api) for Server.serve, and encodes the answer the server leaves in
# the connection's fields (code, value, size, and a received message's RecvMetadata) as the
# wire response. The server itself speaks only in Calls and connections; its wire clients are
# StreamService's streams (mctp.ipc.service) and the tests and fuzzer that speak the codec.
#
#     adapter = WireAdapter(server)
#     conn = server.connect()                        # a wire connection (an IPC client's)
#     if adapter.dispatch(conn, req, n, resp):       # answered now, or...
#         length = adapter.encode(conn, resp)        # resp[:length] is the wire response
#     ...                                            # ...a receive waits: once conn.ready
#                                                    # (after server.poll()), encode() it
#
# A received payload is copied once, from its reassembly slot straight into `resp` after the
# response header, where encode() leaves it: `resp` may be a view into the frame the answer is
# sent in (StreamService's), so the answer is framed in place.

from ..api import Call, Handle
from ..errors import ResponseCode
from ..ops import OP_GET_EID, OP_LISTENER, OP_MALFORMED, OP_RECV, OP_REQ, OP_SEND
from ..wire import (
    FLAG_HAS_EID,
    FLAG_HAS_HANDLE,
    FLAG_HAS_TAG,
    FLAG_IC,
    WIRE_HEADER_SIZE,
    MctpRequestHeader,
    decode_recv_capacity,
    decode_recv_timeout,
    encode_error_response,
    encode_get_eid_response,
    encode_handle_response,
    encode_send_response,
    encode_success_response,
    encode_recv_header_unchecked,
    recv_trailer_ok,
    decode_request_header_unchecked,
    request_problem,
)


class WireAdapter:
    """Serves wire requests to `server` (any number of wire connections, one request at a time
    each): one Call, header and Handle, reused for every request."""

    def __init__(self, server):
        self.server = server
        self._hdr = MctpRequestHeader()  # a wire request, decoded
        self._call = Call()  # and as a call
        self._handle = Handle(0)  # its handle, when it has one

    def dispatch(self, conn, req, length, resp):
        """Serve the wire request req[:length] from `conn` (server.connect()): True when it is
        answered (encode() writes the response), False when a receive is now pending (it
        completes during a later server.poll(); conn.ready says when). A received payload goes
        to resp[WIRE_HEADER_SIZE:], which must hold the largest payload the server takes."""
        self.call_of(req, length, resp)
        return self.server.serve(conn, self._call)

    def call_of(self, req, length, resp):
        """dispatch()'s first step, for a caller that serves the call from its own frame
        (StreamService: a frame less under every send): the wire request req[:length] as the
        adapter's Call, which server.serve(conn, call) then serves."""
        if request_problem(req, length) or (req[0] == OP_RECV and not recv_trailer_ok(length)):
            self._call.op = OP_MALFORMED  # (serve answers BAD_ARGUMENT, or busy if it is)
        else:
            self._decode(req, length, resp)
        return self._call

    def _decode(self, req, length, resp):
        # The wire request, as the adapter's Call.
        hdr = decode_request_header_unchecked(req, self._hdr)  # (dispatch checked it)
        call = self._call
        call.op = hdr.op
        call.msg_type = hdr.msg_type
        # (The flags read here, not through hdr.ic() and the has_ methods: a call each.)
        call.ic = bool(hdr.flags & FLAG_IC)
        # REQ and SET_EID carry their EID without the flag; a send's is optional.
        call.eid = hdr.eid if hdr.flags & FLAG_HAS_EID or call.op != OP_SEND else None
        call.tag = hdr.tag if hdr.flags & FLAG_HAS_TAG else None
        call.handle = None
        if hdr.flags & FLAG_HAS_HANDLE:
            call.handle = self._handle
            call.handle.value = hdr.handle
        if call.op == OP_SEND:
            call.buf = req
            call.off = WIRE_HEADER_SIZE
            call.length = length - WIRE_HEADER_SIZE
        elif call.op == OP_RECV:
            call.timeout_ms = decode_recv_timeout(req, length)
            call.capacity = decode_recv_capacity(req, length)
            call.buf = resp  # the payload lands after the response header
            call.off = WIRE_HEADER_SIZE

    @staticmethod
    def encode(conn, resp):
        """The wire response to `conn`'s answered request, into `resp` (a received payload is
        in place after the header already); its length."""
        op = conn.op
        if conn.code != ResponseCode.SUCCESS:
            return encode_error_response(resp, conn.code, conn.size)
        if op == OP_LISTENER or op == OP_REQ:
            return encode_handle_response(resp, conn.value)
        if op == OP_SEND:
            return encode_send_response(resp, conn.value)
        if op == OP_GET_EID:
            return encode_get_eid_response(resp, conn.value)
        if op == OP_RECV:
            return _encode_recv(resp, conn.meta)
        return encode_success_response(resp)


def _encode_recv(resp, meta):
    # (Apart from encode: six arguments from its frame, [frame-limit]. The server filled meta
    # from a packet it took: its fields are bytes.)
    return encode_recv_header_unchecked(
        resp, meta.msg_type, meta.msg_ic, meta.remote_eid, meta.msg_tag, meta.payload_size
    )
