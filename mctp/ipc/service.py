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

from ..errors import ResponseCode
from ..wire import MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE
from .framing import (
    FRAME_OVERHEAD,
    KIND_CANCEL,
    KIND_REQUEST,
    KIND_RESPONSE,
    Deframer,
    encode_detail,
    encode_frame,
)

CHUNK = 256  # bytes read from a stream at a time
FRAMES_PER_POLL = 4  # requests served per stream per poll, so none starves the others


class Peer:
    """One stream connection: its Connection, its deframer and its counters."""

    def __init__(self, stream, conn):
        self.stream = stream
        self.conn = conn
        self.deframer = Deframer(MAX_REQUEST_SIZE)
        self.out = bytearray(MAX_RESPONSE_SIZE + FRAME_OVERHEAD)
        self.out_off = 0  # the answer being written: out[out_off:out_len]
        self.out_len = 0
        self.chunk = bytearray(CHUNK)
        self.left_off = 0  # bytes read, not yet deframed: chunk[left_off:left_end]
        self.left_end = 0
        self.owed = False  # a request was taken and its answer not yet written
        self.seq = 0  # its sequence number
        # Counters.
        self.requests = 0
        self.busy = 0  # requests while an answer was owed (dropped)
        self.stray = 0  # frames that were not requests or cancels (dropped)
        self.cancels = 0
        self.details = 0  # detail frames written (the words of a failed request)
        self.faults = 0  # exceptions while serving (counted, never raised)

    def feed_left(self):
        # Bytes read and not yet deframed, into the deframer (up to a frame's end).
        left = self.left_off
        self.left_off = left + self.deframer.feed(self.chunk, left, self.left_end - left)

    def read(self):
        # What the stream has, into the chunk; how many bytes.
        avail = self.stream.any()
        if avail:
            self.left_off = 0
            self.left_end = self.stream.readinto(self.chunk, min(avail, CHUNK))
        return avail

    def bad_frames(self):
        """Frames dropped by the deframer (bad header, oversized, bad FCS) and stray ones."""
        return self.deframer.dropped() + self.stray


# What figures() adds up over the streams, from each Peer and its deframer.
PEER_FIGURES = ("requests", "busy", "stray", "cancels", "garbage", "bad_header", "oversized")
PEER_FIGURES += ("bad_fcs", "details")


def _add_counts(totals, peer):
    # Adds the peer's counts, in PEER_FIGURES's order, into the list `totals`.
    d = peer.deframer
    counts = (peer.requests, peer.busy, peer.stray, peer.cancels, d.garbage, d.bad_header)
    counts += (d.oversized, d.bad_fcs, peer.details)
    for i, value in enumerate(counts):
        totals[i] += value


class StreamService:
    def __init__(self, server):
        self.server = server
        self.peers = []
        self.faults = 0
        self.connections = 0  # streams served so far
        self._taken = 0  # requests taken by this poll
        self._gone = [0] * len(PEER_FIGURES)  # the counts of the streams no longer served

    def add(self, stream):
        """Serve `stream`: a new connection (its own handles); its Connection."""
        peer = Peer(stream, self.server.connect())
        self.peers.append(peer)
        self.connections += 1
        return peer.conn

    def figures(self):
        """(name, value) of what the service has counted over every stream it served, those
        gone included: connections, open (served now), then PEER_FIGURES (requests; requests
        dropped while an answer was owed, frames of another kind, cancels; the deframers'
        bytes of garbage, bad headers, oversized frames and bad FCSs; detail frames written),
        and faults."""
        totals = list(self._gone)
        for peer in self.peers:
            _add_counts(totals, peer)
        found = [("connections", self.connections), ("open", len(self.peers))]
        found.extend(zip(PEER_FIGURES, totals))
        found.append(("faults", self.faults))
        return found

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
        for peer in self.peers:
            peer.conn = server.connect()
            peer.owed = False
            peer.out_off = peer.out_len = 0

    def poll(self):
        """Serve every stream: input read and dispatched, answers written; how many requests
        it took. Never raises."""
        self._taken = 0
        i = 0
        while i < len(self.peers):
            peer = self.peers[i]
            self._guarded(peer)
            if getattr(peer.stream, "closed", False):
                self._drop(peer)  # the client has gone
                continue
            i += 1
        return self._taken

    def _guarded(self, peer):
        try:
            self._serve(peer)
        except Exception:
            peer.faults += 1
            self.faults += 1

    def _drop(self, peer):
        # Its connection goes, and the stream is closed.
        try:
            self.remove(peer.stream)
            peer.stream.close()
        except Exception:
            self.faults += 1
        if peer in self.peers:  # (remove failed: never serve it again)
            self.peers.remove(peer)

    def _serve(self, peer):
        if not self._flushed(peer):
            return
        if peer.owed and peer.conn.ready:
            self._respond(peer)
            if not self._flushed(peer):
                return
        served = 0
        while served < FRAMES_PER_POLL:
            if peer.deframer.ready:
                served += 1
                if not self._frame(peer, peer.deframer):
                    return
            elif peer.left_off < peer.left_end:
                peer.feed_left()
            elif not peer.read():
                return

    def _frame(self, peer, d):
        # The deframer's ready frame, served; False when an answer is still being written.
        kind = d.kind
        if kind == KIND_REQUEST:
            if peer.owed:
                peer.busy += 1
                d.release()
                return True
            peer.requests += 1
            self._taken += 1
            peer.owed = True
            peer.seq = d.seq
            done = self.server.dispatch(peer.conn, d.msg, d.length)
            d.release()
            if done:
                self._respond(peer)
                return self._flushed(peer)
            return True
        if kind == KIND_CANCEL:
            peer.cancels += 1
            if peer.owed and not peer.conn.ready:
                self.server.cancel(peer.conn)
                peer.owed = False
        else:
            peer.stray += 1
        d.release()
        return True

    def _respond(self, peer):
        conn = peer.conn
        peer.owed = False
        peer.out_off = 0
        if conn.code != ResponseCode.SUCCESS:
            self._respond_with_detail(peer)
            return
        peer.out_len = encode_frame(peer.out, KIND_RESPONSE, peer.seq, conn.resp, conn.resp_len)

    def _respond_with_detail(self, peer):
        # A failed request: the server's words for it (when it has some) in a detail frame,
        # then the response, both in `out` (an error response and the longest detail take 271
        # of its bytes). Allocates: an error path.
        text = self.server.explain(peer.conn)
        at = 0
        if text:
            at = encode_detail(peer.out, peer.seq, text)
            peer.details += 1
        peer.out_len = at + self._response_into(memoryview(peer.out)[at:], peer)

    @staticmethod
    def _response_into(out, peer):
        conn = peer.conn
        return encode_frame(out, KIND_RESPONSE, peer.seq, conn.resp, conn.resp_len)

    def _flushed(self, peer):
        # Write what the stream takes of the answer in flight; True when none is left.
        while peer.out_off < peer.out_len:
            took = peer.stream.write(peer.out, peer.out_off, peer.out_len - peer.out_off)
            if not took:
                return False
            peer.out_off += took
        return True
