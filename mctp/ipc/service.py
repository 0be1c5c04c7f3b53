# StreamService: the server's side of mctp.ipc. It serves any number of stream connections
# (StreamClients in other processes or on a host across a UART) beside the server's links:
#
#     service = StreamService(server)
#     service.add(stream)            # a Connection of its own (server.connect())
#     while True:
#         server.poll()              # the links, the timers, pending receives completed
#         service.poll()             # requests read, dispatched, answers written
#
# Each stream has its own Connection, so its own handles: a handle belongs to the connection
# that made it, and another client's use or drop of it is BAD_ARGUMENT (the server's rule).
# A stream that closes (one whose `closed` attribute becomes true, mctp.host.ipc_sockets'), or
# remove(stream), disconnects it: its handles are released and its pending receive withdrawn.
#
# Per stream: one request at a time (a client waits for each answer); an answer that cannot be
# written whole at once is finished over the next polls, and the stream's input waits
# meanwhile. A request that arrives while an answer is owed is dropped (`busy`), a cancel frame
# withdraws the pending receive, frames of other kinds are dropped (`stray`), and the
# deframer counts garbage and bad frames. poll() never raises: a fault is counted (`faults`).
#
# A failed request's response follows a detail frame with the server's words for the error
# (Server.explain: "no route to EID 20"), so that a StreamClient raises the MctpError a
# DirectClient would (`details` counts them).
#
# Limits, so that no client can exhaust or stall the service: at most `max_clients` streams
# (Config.ipc_clients by default; a stream over it is closed at once, `refused`), and a stream
# that takes none of an answer for `stall_ms` (a client that never reads) is dropped as if it
# had closed (`stalled`).

from .._compat import ticks_diff
from ..errors import ResponseCode
from ..wire import MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE
from .adapter import WireAdapter
from .framing import (
    FRAME_OVERHEAD,
    HEADER_SIZE,
    KIND_CANCEL,
    KIND_REQUEST,
    KIND_RESPONSE,
    Deframer,
    encode_detail,
    seal,
)

CHUNK = 256  # bytes read from a stream at a time
# Frames served per stream per poll, so none starves the others. A request ends its stream's
# turn: its client sends the next only once it has the answer (a cancel or a stray frame may
# follow; they wait for the next poll), so the stream is not read again for nothing.
FRAMES_PER_POLL = 4
STALL_MS = 5000  # an answer a stream takes nothing of for this long: the stream is dropped


class Peer:
    """One stream connection: its Connection, its deframer and its counters."""

    def __init__(self, stream, conn):
        self.stream = stream
        self.conn = conn
        self.deframer = Deframer(MAX_REQUEST_SIZE)
        # The answer's frame: its wire response is encoded in place, after the frame header
        # (`resp`), and a received payload lands there too, so an answer is never copied.
        self.out = bytearray(MAX_RESPONSE_SIZE + FRAME_OVERHEAD)
        self.resp = memoryview(self.out)[HEADER_SIZE:]
        self.out_off = 0  # the answer being written: out[out_off:out_len]
        self.out_len = 0
        self.chunk = bytearray(CHUNK)
        self.unread_off = 0  # bytes read, not yet deframed: chunk[unread_off:unread_end]
        self.unread_end = 0
        self.answer_owed = False  # a request was taken and its answer not yet written
        self.seq = 0  # its sequence number
        self.moved = 0  # when the answer in flight was framed or the stream last took some
        # Counters.
        self.requests = 0
        self.busy = 0  # requests while an answer was owed (dropped)
        self.stray = 0  # frames that were not requests or cancels (dropped)
        self.cancels = 0
        self.details = 0  # detail frames written (the words of a failed request)
        self.faults = 0  # exceptions while serving (counted, never raised)

    def feed_left(self):
        # Bytes read and not yet deframed, into the deframer (up to a frame's end).
        left = self.unread_off
        self.unread_off = left + self.deframer.feed(self.chunk, left, self.unread_end - left)

    def read(self):
        # What the stream has, straight into the deframer when it holds nothing (a request
        # that came whole is copied once), else into the chunk; how many bytes.
        avail = self.stream.any()
        if avail:
            if self.deframer.n:
                self.unread_off = 0
                self.unread_end = self.stream.readinto(self.chunk, min(avail, CHUNK))
            else:
                self.deframer.read(self.stream, avail)
        return avail

    def bad_frames(self):
        """Frames dropped by the deframer (bad header, oversized, bad FCS) and stray ones."""
        return self.deframer.dropped() + self.stray


# What counts() adds up over the streams, from each Peer and its deframer.
PEER_COUNTS = ("requests", "busy", "stray", "cancels", "garbage", "bad_header", "oversized")
PEER_COUNTS += ("bad_fcs", "details")


def _add_counts(totals, peer):
    # Adds the peer's counts, in PEER_COUNTS's order, into the list `totals`.
    d = peer.deframer
    counts = (peer.requests, peer.busy, peer.stray, peer.cancels, d.garbage, d.bad_header)
    counts += (d.oversized, d.bad_fcs, peer.details)
    for i, value in enumerate(counts):
        totals[i] += value


def _positive(name, value):
    if not isinstance(value, int) or value < 1:
        raise ValueError("%s must be an int of at least 1, not %r" % (name, value))
    return value


class StreamService:
    """Serves streams to `server`: at most `max_clients` at once (None: the server's
    Config.ipc_clients), each dropped when it takes nothing of an answer for `stall_ms`
    (timed by the server's core clock)."""

    def __init__(self, server, max_clients=None, stall_ms=STALL_MS):
        if max_clients is None:
            max_clients = server.core.config.ipc_clients
        self.max_clients = _positive("max_clients", max_clients)
        self.stall_ms = _positive("stall_ms", stall_ms)
        self.server = server
        self.adapter = WireAdapter(server)  # wire requests in, wire responses out
        self.peers = []
        self.faults = 0
        self.connections = 0  # streams served so far
        self.refused = 0  # streams closed at once: max_clients were served already
        # Counted by the stream's source (mctp.host.ipc_sockets.Listener), shown here with the
        # rest: accept() failing (no free descriptor, ...), and a connection accepted but not
        # served (no memory for its buffers), closed at once.
        self.accept_errors = 0
        self.failed = 0
        self.stalled = 0  # streams dropped because they took nothing of an answer for stall_ms
        self._taken = 0  # requests taken by this poll
        self._call = None  # the request _request took, for the server (the adapter's Call)
        self._done = False  # the server's answer to it: given at once
        self._frames_left = 0  # frames the stream being served may still have served this poll
        self._gone = [0] * len(PEER_COUNTS)  # the counts of the streams no longer served

    def full(self):
        """True when max_clients streams are served: add() would refuse another."""
        return len(self.peers) >= self.max_clients

    def refuse(self, stream):
        """Close `stream` (anything with close(): a stream, an accepted socket) unserved, and
        count it as `refused`."""
        self.refused += 1
        stream.close()

    def add(self, stream):
        """Serve `stream`: a new connection (its own handles); its Connection. When
        max_clients streams are served already, the stream is refused (closed, counted) and
        the answer is None."""
        if self.full():
            self.refuse(stream)
            return None
        peer = Peer(stream, None)  # (its buffers first: the server keeps a connection made)
        peer.conn = self.server.connect()
        self.peers.append(peer)
        self.connections += 1
        return peer.conn

    def counts(self):
        """(name, value) of what the service has counted over every stream it served, those
        gone included: connections, open (served now), refused, failed, accept_errors,
        stalled (see __init__), then PEER_COUNTS (requests; requests dropped while an answer
        was owed, frames of another kind, cancels; the deframers' bytes of garbage, bad
        headers, oversized frames and bad FCSs; detail frames written), and faults."""
        totals = list(self._gone)
        for peer in self.peers:
            _add_counts(totals, peer)
        found = [("connections", self.connections), ("open", len(self.peers))]
        found.append(("refused", self.refused))
        found.append(("failed", self.failed))
        found.append(("accept_errors", self.accept_errors))
        found.append(("stalled", self.stalled))
        found.extend(zip(PEER_COUNTS, totals))
        found.append(("faults", self.faults))
        return found

    def write_wait_ms(self, peer):
        """None when `peer` has no answer in flight (its input is read: wait until it has
        bytes); else how long its stream has left to take some of the answer before it is
        dropped as stalled (wait until it can take bytes, for that long at most)."""
        if peer.out_off >= peer.out_len:
            return None
        return max(0, self.stall_ms - ticks_diff(self.server.core.clock(), peer.moved))

    def peer(self, stream):
        """The Peer serving `stream` (its counters), or None."""
        for peer in self.peers:
            if peer.stream is stream:
                return peer
        return None

    def remove(self, stream):
        """Stop serving `stream`: its handles are released, its pending receive withdrawn."""
        peer = self.peer(stream)
        if peer is not None:
            self.peers.remove(peer)
            _add_counts(self._gone, peer)
            self.server.disconnect(peer.conn)

    def restart(self, server):
        """Serve the same streams from `server` (a new server over the same core, whose epoch
        makes every old handle SERVER_RESTARTED): each stream gets a new Connection."""
        self.server = server
        self.adapter = WireAdapter(server)
        for peer in self.peers:
            peer.conn = server.connect()
            peer.answer_owed = False
            peer.out_off = peer.out_len = 0

    def poll(self):
        """Serve every stream: input read and dispatched, answers written; how many requests
        it took. Never raises."""
        self._taken = 0
        i = 0
        while i < len(self.peers):
            peer = self.peers[i]
            self._guarded(peer)
            if getattr(peer.stream, "closed", False) or (
                peer.out_off < peer.out_len and self._stalled(peer)  # (an answer in flight)
            ):
                self._drop(peer)  # the client has gone, or stopped reading
                continue
            i += 1
        return self._taken

    def _stalled(self, peer):
        if self.write_wait_ms(peer) != 0:  # (None: no answer in flight)
            return False
        self.stalled += 1
        return True

    def _drop(self, peer):
        # Its connection goes, and the stream is closed.
        try:
            self.remove(peer.stream)
            peer.stream.close()
        except Exception:
            self.faults += 1
        if peer in self.peers:  # (remove failed: never serve it again)
            self.peers.remove(peer)

    def _guarded(self, peer):
        # The peer served, a fault in it counted: the try and the serving in one frame, a
        # frame less under every answer ([c-stack]), which fits [frame-limit] with the frames
        # left to serve in an attribute.
        try:
            if peer.out_off < peer.out_len and not self._write_answer(peer):
                return
            if peer.answer_owed and peer.conn.ready:
                self._respond(peer)
                if not self._write_answer(peer):
                    return
            self._frames_left = FRAMES_PER_POLL
            while self._frames_left:
                if peer.deframer.ready:
                    self._frames_left -= 1
                    if self._request(peer, peer.deframer):
                        # The server called from this frame, not under a frame of its own
                        # ([c-stack]): its Call from _request, its answer to _served.
                        self._done = self.server.serve(peer.conn, self._call)
                        self._served(peer)
                        return
                elif peer.unread_off < peer.unread_end:
                    peer.feed_left()
                elif not peer.read():
                    return
        except Exception:
            peer.faults += 1
            self.faults += 1

    def _request(self, peer, d):
        # The deframer's ready frame: True for a request to serve (taken, its Call in
        # self._call, the frame kept until _served); anything else dealt with here (a cancel,
        # a request while an answer is owed, a stray frame), released, and False.
        kind = d.kind
        if kind == KIND_REQUEST:
            if peer.answer_owed:
                peer.busy += 1
                d.release()
                return False
            peer.requests += 1
            self._taken += 1
            peer.answer_owed = True
            peer.seq = d.seq
            # The adapter's dispatch in its two steps, the server's in _guarded ([c-stack]).
            self._call = self.adapter.call_of(d.msg, d.length, peer.resp)
            return True
        if kind == KIND_CANCEL:
            peer.cancels += 1
            if peer.answer_owed and not peer.conn.ready:
                self.server.cancel(peer.conn)
                peer.answer_owed = False
        else:
            peer.stray += 1
        d.release()
        return False

    def _served(self, peer):
        # After the server took the request: its frame released; the answer, when the server
        # gave it at once, encoded and written (the stream's turn ends either way).
        peer.deframer.release()
        if self._done:
            self._respond(peer)
            self._write_answer(peer)

    def _respond(self, peer):
        # The answer, encoded and framed where it is (a received payload is in place).
        peer.answer_owed = False
        peer.out_off = 0
        peer.moved = self.server.core.clock()
        if peer.conn.code != ResponseCode.SUCCESS:
            self._respond_with_detail(peer)
            return
        n = self.adapter.encode(peer.conn, peer.resp)
        peer.out_len = seal(peer.out, KIND_RESPONSE, peer.seq, n)

    def _respond_with_detail(self, peer):
        # A failed request: the server's words for it (when it has some) in a detail frame,
        # then the response (no payload), both in `out` (an error response and the longest
        # detail take 271 of its bytes). Allocates: an error path.
        text = self.server.explain(peer.conn)
        at = 0
        if text:
            at = encode_detail(peer.out, peer.seq, text)
            peer.details += 1
        peer.out_len = at + self._response_into(memoryview(peer.out)[at:], peer)

    def _response_into(self, frame, peer):
        # The (error) response, framed at the start of `frame`; the frame's length.
        n = self.adapter.encode(peer.conn, frame[HEADER_SIZE:])
        return seal(frame, KIND_RESPONSE, peer.seq, n)

    def _write_answer(self, peer):
        # Write what the stream takes of the answer in flight; True when none is left.
        while peer.out_off < peer.out_len:
            took = peer.stream.write(peer.out, peer.out_off, peer.out_len - peer.out_off)
            if not took:
                return False
            peer.out_off += took
            if peer.out_off < peer.out_len:  # (the stall is timed from the last bytes taken)
                peer.moved = self.server.core.clock()
        return True
