# StreamClient: an MctpClient that speaks openprot-mctp-api's wire codec (mctp.wire) to a server in
# another process or on another machine, over any byte stream with the methods of
# machine.UART the serial binding uses: write(buf, off, n), any() and readinto(buf, n), none
# of which blocks (mctp.host.serial_stream.SerialStream over a pty, a tty or a socket;
# mctp.host.ipc_sockets.SocketStream over a socket, which also sees the peer close; a SerialPipe
# end in memory). Each request goes out in a frame (mctp.ipc.framing) with a sequence number, and
# the call blocks until the response with that number arrives: the server's errors are raised
# as MctpError with the same codes as DirectClient's (NO_SPACE on a receive carries `size`).
#
# Never a hang: every answer has a deadline, `timeout_ms` (default 2000) for an operation, and
# for a receive its own timeout plus that margin (a receive with timeout 0 waits forever, as the
# contract says, unless the stream reports it is closed). A stream that takes no bytes, a
# server that does not answer in time, a closed stream: INTERNAL_ERROR, with `detail` saying
# which. Garbage and damaged frames on the stream are dropped and counted (`deframer`), and a
# late answer to an abandoned request is told by its sequence number and dropped (`stale`).
# A receive the client stops waiting for (deadline, Ctrl-C, a fault in `idle`) is withdrawn
# at the server with a cancel frame. A failed request's response follows a detail frame with
# the server's words for the error: the MctpError raised carries them in `detail`, as
# DirectClient's does.
#
# Reconnecting: a server that restarted answers every handle made before with
# SERVER_RESTARTED. The handles are gone: the application closes its channels (closing a
# stale handle is a no-op) and opens them again (stack.req / stack.listener); the client
# itself goes on, over the same stream or over a new one given to attach(stream) when the
# old connection closed.

from .._compat import sleep_ms, ticks_diff, ticks_ms
from ..bufcopy import copy_into
from ..api import Call, CallClient, Handle
from ..constants import MAX_PAYLOAD_SIZE
from ..errors import MctpError, ResponseCode
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
    check_writable,
    payload_length,
    recv_metadata,
)
from ..wire import (
    MAX_REQUEST_SIZE,
    MAX_RESPONSE_SIZE,
    MctpResponseHeader,
    WIRE_HEADER_SIZE,
    decode_response_header,
    encode_get_eid,
    encode_listener,
    encode_recv,
    encode_req,
    encode_send,
    encode_set_eid,
    encode_unbind,
)
from .framing import (
    FRAME_OVERHEAD,
    HEADER_SIZE,
    KIND_CANCEL,
    KIND_DETAIL,
    KIND_REQUEST,
    KIND_RESPONSE,
    Deframer,
    decode_detail,
    seal,
)

TIMEOUT_MS = 2000  # the deadline of an answer; a receive's is its own timeout plus this
# Bytes read from the stream at a time: the largest answer's frame, so that one read and one
# feed take an answer that has come whole.
CHUNK = MAX_RESPONSE_SIZE + FRAME_OVERHEAD
# What an exchange waits for between its steps (StreamClient._progress).
WAIT_WRITE = 1  # the stream to take bytes
WAIT_READ = 2  # the answer

# The words of SERVER_RESTARTED from a service that sends no detail frames (an older one).
_RESTARTED = "the server restarted: its handles are gone; close the channels and open them again"


def _sleep_1ms():
    sleep_ms(1)


class StreamClient(CallClient):
    """An MctpClient over `stream`. `idle()` runs while an answer is awaited (default: sleep
    1 ms); `clock` gives milliseconds (default ticks_ms)."""

    def __init__(self, stream, timeout_ms=TIMEOUT_MS, idle=None, clock=None):
        super().__init__()
        self.stream = stream
        self.timeout_ms = timeout_ms
        self._idle = _sleep_1ms if idle is None else idle
        self._clock = ticks_ms if clock is None else clock
        self._out = bytearray(MAX_REQUEST_SIZE + FRAME_OVERHEAD)
        self._req = memoryview(self._out)[HEADER_SIZE:]  # the wire request is encoded here
        self._cancel = bytearray(FRAME_OVERHEAD)
        self._chunk = bytearray(CHUNK)
        self._unread_off = 0  # bytes read and not yet deframed: _chunk[_unread_off:_unread_end]
        self._unread_end = 0
        self.deframer = Deframer(MAX_RESPONSE_SIZE)
        self._hdr = MctpResponseHeader()
        self._out_len = 0  # the request frame's length
        self._out_off = 0  # how much of it the stream has taken
        self._start = 0  # when the exchange started
        self._limit = -1  # its deadline after _start, ms (-1: none)
        self._op = 0
        self._capacity = 0
        self._seq = 0
        self._waiting = False
        self._detail = None  # the server's words for the awaited answer's error
        # Frames dropped: neither the awaited answer nor its detail (a late answer, a frame
        # of a kind or a detail version this client does not know).
        self.stale = 0
        self.last_error = None  # the MctpError the last failed call raised

    def attach(self, stream):
        """Go on over a new stream (the old connection closed; the server may have restarted,
        see the module's comment)."""
        self.stream = stream
        self.deframer.reset()
        self._unread_off = self._unread_end = 0

    # The exchange. Its state is in attributes, and the work in small steps ([frame-limit]).

    def _call(self, n, op, extra_ms):
        # Send the n-byte request encoded at self._req and wait for its answer, at most
        # extra_ms + timeout_ms (extra_ms < 0: no deadline); the answer is in self._hdr, and
        # in the deframer until released.
        self._begin(n, op, extra_ms)
        self._wait()
        self._answer()

    def _wait(self):
        try:
            while self._progress():
                self._idle()
        except BaseException:
            self._abandon()
            raise
        self._waiting = False

    # What the blocking and the awaitable client (mctp.aio.ipc) share: the exchange in steps
    # that never wait (_begin, then _progress until the answer is in), and what ends it early
    # (_abandon); only the waiting between two steps is theirs.

    def _begin(self, n, op, extra_ms):
        # The exchange of the n-byte request at self._req starts: framed, its deadline set.
        if self._waiting:
            self._fail(ResponseCode.ADDR_IN_USE, "this client is waiting for an answer")
        self._seq = (self._seq + 1) & 0xFF
        self._out_len = seal(self._out, KIND_REQUEST, self._seq, n)
        self._out_off = 0
        self._limit = -1 if extra_ms < 0 else extra_ms + self.timeout_ms
        self._op = op
        self._detail = None
        self._waiting = True
        self._start = self._clock()

    def _progress(self):
        # As far as the exchange goes without waiting: 0 once the answer is in the deframer;
        # WAIT_WRITE when the stream takes no more of the request now, WAIT_READ when the
        # answer has not come. A closed stream, or a deadline passed, raises.
        if not self._written():
            return WAIT_WRITE
        if self._answered():
            return 0
        self._check_stream()
        if self._limit >= 0 and ticks_diff(self._clock(), self._start) >= self._limit:
            self._fail(
                ResponseCode.INTERNAL_ERROR,
                "no answer from the server within %d ms" % self._limit,
            )
        return WAIT_READ

    def _written(self):
        # The request written as far as the stream takes it; True once all of it has gone.
        while self._out_off < self._out_len:
            took = self.stream.write(self._out, self._out_off, self._out_len - self._out_off)
            if not took:
                self._check_stream()
                if ticks_diff(self._clock(), self._start) >= self.timeout_ms:
                    self._fail(ResponseCode.INTERNAL_ERROR, "the stream takes no bytes")
                return False
            self._out_off += took
        return True

    def _abandon(self):
        # The exchange ends without its answer (a deadline, Ctrl-C, a fault in `idle`, a
        # cancelled task): a receive is withdrawn at the server.
        self._waiting = False
        if self._op == OP_RECV:
            self._send_cancel()

    def _wait_ms(self, waiting):
        # How long the exchange may wait now for `waiting` (WAIT_WRITE or WAIT_READ) before
        # its deadline, in ms; -1: no deadline.
        limit = self.timeout_ms if waiting == WAIT_WRITE else self._limit
        if limit < 0:
            return -1
        return max(0, limit - ticks_diff(self._clock(), self._start))

    def _check_stream(self):
        if getattr(self.stream, "closed", False):
            self._fail(ResponseCode.INTERNAL_ERROR, "the stream is closed")

    def _answered(self):
        # Read what has come until the response with our sequence number is ready in the
        # deframer (True), or nothing more has (False). Bytes read past a frame wait in the
        # chunk (_unread_off.._unread_end) for the next frame.
        d = self.deframer
        while True:
            if d.ready:
                if d.kind == KIND_RESPONSE and d.seq == self._seq:
                    return True
                self._aside(d)
            elif self._unread_off < self._unread_end:
                self._feed_left()
            elif not self._read():
                return False

    def _aside(self, d):
        # A frame before the awaited answer: the words of its error kept, or a frame dropped.
        detail = None
        if d.kind == KIND_DETAIL and d.seq == self._seq:
            detail = decode_detail(d.msg, d.length)  # (allocates: an error's words)
        if detail is None:
            self.stale += 1
        else:
            self._detail = detail
        d.release()

    def _feed_left(self):
        left = self._unread_off
        self._unread_off = left + self.deframer.feed(self._chunk, left, self._unread_end - left)

    def _read(self):
        # What the stream has, straight into the deframer when it holds nothing (an answer
        # that came whole is copied once), else into the chunk; how many bytes.
        avail = self.stream.any()
        if avail:
            if self.deframer.n:
                self._unread_off = 0
                self._unread_end = self.stream.readinto(self._chunk, min(avail, CHUNK))
            else:
                self.deframer.read(self.stream, avail)
        return avail

    def _send_cancel(self):
        self._seq = (self._seq + 1) & 0xFF
        n = seal(self._cancel, KIND_CANCEL, self._seq, 0)
        try:
            self.stream.write(self._cancel, 0, n)
        except Exception:
            pass

    def _answer(self):
        # The response in the deframer: its header, or its error raised.
        d = self.deframer
        if d.length < WIRE_HEADER_SIZE:
            d.release()
            self._fail(ResponseCode.INTERNAL_ERROR, "malformed answer")
        hdr = decode_response_header(d.msg, d.length, self._hdr)
        if hdr.code != ResponseCode.SUCCESS:
            code = ResponseCode.from_wire(hdr.code)
            size = hdr.payload_len if code == ResponseCode.NO_SPACE else 0
            d.release()
            self._fail(code, self._words(code), size)

    def _words(self, code):
        # The detail of the awaited answer's error.
        if self._detail is None and code == ResponseCode.SERVER_RESTARTED:
            return _RESTARTED
        return self._detail

    def _fail(self, code, detail=None, size=0):
        self.last_error = MctpError(code, size, detail)
        raise self.last_error

    # MctpClient. Each method checks and encodes its request (the _encode_ helpers, which
    # the awaitable client shares), runs the exchange, and reads the answer.

    def req(self, eid):
        self._call(self._encode_req(eid), OP_REQ, 0)
        return self._handle()

    def _encode_req(self, eid):
        check_u8(eid, "eid")
        return encode_req(self._req, eid)

    def listener(self, msg_type):
        self._call(self._encode_listener(msg_type), OP_LISTENER, 0)
        return self._handle()

    def _encode_listener(self, msg_type):
        check_u8(msg_type, "msg_type")
        return encode_listener(self._req, msg_type)

    def _handle(self):
        self.deframer.release()
        return Handle(self._hdr.handle)

    def get_eid(self):
        self._call(encode_get_eid(self._req), OP_GET_EID, 0)
        self.deframer.release()
        return self._hdr.eid

    def set_eid(self, eid):
        self._call(self._encode_set_eid(eid), OP_SET_EID, 0)
        self.deframer.release()

    def _encode_set_eid(self, eid):
        check_u8(eid, "eid")
        return encode_set_eid(self._req, eid)

    def recv(self, handle, timeout_ms, buf, meta=None):
        meta = recv_metadata(meta)  # (None: the contract's three-argument form, which allocates)
        n = self._recv_request(handle, timeout_ms, buf)
        self._call(n, OP_RECV, timeout_ms if timeout_ms else -1)
        return self._received(buf, meta)

    def _recv_request(self, handle, timeout_ms, buf):
        check_handle(handle)
        check_writable(buf, "buf")  # (encode_recv checks timeout_ms)
        self._capacity = min(len(buf), MAX_PAYLOAD_SIZE)
        return encode_recv(self._req, handle.value, timeout_ms, self._capacity)

    def _received(self, buf, meta):
        # The receive's answer: the payload into buf, meta filled.
        size = self._payload_into(buf)
        return meta.set(self._hdr.msg_type, self._hdr.msg_ic(), self._hdr.tag, self._hdr.eid, size)

    def _payload_into(self, buf):
        d = self.deframer
        size = self._hdr.payload_len
        if size > len(buf) or WIRE_HEADER_SIZE + size > d.length:
            d.release()
            self._fail(ResponseCode.INTERNAL_ERROR, "malformed receive answer")
        copy_into(buf, 0, d.buf, HEADER_SIZE + WIRE_HEADER_SIZE, size)
        d.release()
        return size

    def send_call(self, call):
        self._call(self._encode_send(call), OP_SEND, 0)
        self.deframer.release()
        return self._hdr.tag

    def _encode_send(self, call):
        check_payload(call.buf, "payload")
        if payload_length(call.buf, call.length) > MAX_PAYLOAD_SIZE:
            self._fail(
                ResponseCode.NO_SPACE,
                "a payload of %d bytes is more than the contract's limit of %d"
                % (payload_length(call.buf, call.length), MAX_PAYLOAD_SIZE),
            )
        if call.handle is not None:
            check_handle(call.handle)
        # (encode_send checks msg_type, eid and tag, with the same words)
        return encode_send(
            self._req,
            None if call.handle is None else call.handle.value,
            call.msg_type,
            call.eid,
            call.tag,
            call.ic,
            call.buf,
            call.length,
        )

    def drop_handle(self, handle):
        check_handle(handle)
        self._call(encode_unbind(self._req, handle.value), OP_UNBIND, 0)
        self.deframer.release()
