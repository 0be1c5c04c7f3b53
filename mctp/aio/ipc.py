# AsyncStreamClient: StreamClient (mctp.ipc) for asyncio tasks. Its encoding, framing,
# deadlines and answers are StreamClient's: it runs the same exchange steps, and only waits
# differently, on the stream's readiness through asyncio's poller (no polling loop): for the
# answer, and for room when the stream takes no more of a request. Every call that goes to the
# server is awaited (`await client.get_eid()`, as AsyncStack's channels do for theirs).
#
# The wire carries one request at a time per connection, and a handle belongs to the connection
# that made it. So:
#   - with `connect` (a function that opens a new stream, e.g. lambda: connect_unix(path)),
#     each channel AsyncStack makes gets a connection of its own (channel_client()), opened when
#     the channel first goes to the server and closed when the channel closes (the server then
#     releases what it held): any number of tasks wait on their channels at once, as over
#     AsyncStack(task);
#   - over one stream (a board's UART, where there is no second connection), every channel
#     shares the client and its calls take turns: a call made while another task's call is in
#     flight waits for it (its own deadline runs from its start), but a call made while another
#     task's receive is pending is refused at once (ADDR_IN_USE, saying so), since that receive
#     may wait as long as its timeout, for ever with 0. One task at a time, or timed receives.

import asyncio

from ..errors import MctpError, ResponseCode
from ..ipc.client import TIMEOUT_MS, WAIT_WRITE, StreamClient
from ..ops import (
    OP_GET_EID,
    OP_LISTENER,
    OP_RECV,
    OP_REQ,
    OP_SEND,
    OP_SET_EID,
    OP_UNBIND,
    recv_metadata,
)
from ..wire import encode_get_eid, encode_unbind
from .watch import readable, ready_ms, writable

_SHARED = (
    "another task's receive is pending on this connection (one call at a time per stream): "
    "give AsyncStreamClient a connect function for a connection per channel"
)


class AsyncStreamClient(StreamClient):
    """An awaitable MctpClient over `stream` (a SocketStream, a SerialStream: what asyncio's
    poller can watch, its `source` or itself), or over the streams `connect()` opens: one per
    channel, and this client's own (for get_eid and set_eid) opened at its first call.
    `timeout_ms` and `clock` as StreamClient's; close() closes its stream."""

    waits = True  # every call is awaited (AsyncStack opens and closes channels accordingly)

    def __init__(self, stream=None, timeout_ms=TIMEOUT_MS, clock=None, connect=None):
        if stream is None and connect is None:
            raise ValueError("AsyncStreamClient needs a stream or a connect function")
        super().__init__(stream, timeout_ms, clock=clock)
        self._connect = connect
        self._own = False  # a channel's own connection (channel_client())
        self._turn = asyncio.Event()  # set when an exchange ends, for the calls waiting on it
        self._drops = []  # handles closed without waiting, unbound before the next call
        self.closed = False

    def channel_client(self):
        """The client a new channel uses: one with a connection of its own when this client
        connects (`connect`), else this one."""
        if self._connect is None:
            return self
        client = AsyncStreamClient(None, self.timeout_ms, self._clock, self._connect)
        client._own = True
        return client

    def close(self):
        """Close the stream: the server releases this connection's handles and receive."""
        self.closed = True
        if self.stream is not None:
            self.stream.close()

    async def _exchange(self, n, op, extra_ms):
        # StreamClient._call, awaited: the n-byte request at self._req, its answer in self._hdr.
        # Called on this client's turn (_my_turn), the request encoded after it: the encoding
        # buffer is the connection's.
        self._begin(n, op, extra_ms)
        try:
            while True:
                waiting = self._progress()
                if not waiting:
                    break
                ready = writable if waiting == WAIT_WRITE else readable
                stream = self.stream
                await ready_ms(ready(getattr(stream, "source", stream)), self._wait_ms(waiting))
        except BaseException:  # a deadline, a closed stream, a cancelled task
            self._abandon()
            self._turn.set()
            raise
        self._waiting = False
        self._turn.set()
        self._answer()

    async def _my_turn(self):
        # Wait until no other task's call is in flight on this connection (refused while a
        # receive is); the handles closed meanwhile are unbound first. Returns when the call
        # may go, with nothing in flight (the exchange starts before any other task runs).
        while True:
            while self._waiting:
                if self._op == OP_RECV:
                    self._fail(ResponseCode.ADDR_IN_USE, _SHARED)
                self._turn.clear()
                await self._turn.wait()
            if self.stream is None:
                if self.closed:
                    self._fail(ResponseCode.BAD_ARGUMENT, "this channel's connection is closed")
                self.stream = self._connect()
            if not self._drops:
                return
            try:
                await self._unbind(self._drops.pop())
            except MctpError:
                pass  # (a stale handle, a closed stream: the connection's end releases it)

    # MctpClient, awaited: StreamClient's methods, their exchange awaited.

    async def req(self, eid):
        await self._my_turn()
        await self._exchange(self._encode_req(eid), OP_REQ, 0)
        return self._handle()

    async def listener(self, msg_type):
        await self._my_turn()
        await self._exchange(self._encode_listener(msg_type), OP_LISTENER, 0)
        return self._handle()

    async def get_eid(self):
        await self._my_turn()
        await self._exchange(encode_get_eid(self._req), OP_GET_EID, 0)
        self.deframer.release()
        return self._hdr.eid

    async def set_eid(self, eid):
        await self._my_turn()
        await self._exchange(self._encode_set_eid(eid), OP_SET_EID, 0)
        self.deframer.release()

    async def recv(self, handle, timeout_ms, buf, meta=None):
        meta = recv_metadata(meta)  # (None: the contract's three-argument form, which allocates)
        await self._my_turn()
        n = self._recv_request(handle, timeout_ms, buf)
        await self._exchange(n, OP_RECV, timeout_ms if timeout_ms else -1)
        return self._received(buf, meta)

    async def send_call(self, call):
        await self._my_turn()
        await self._exchange(self._encode_send(call), OP_SEND, 0)
        self.deframer.release()
        return self._hdr.tag

    async def drop(self, handle):
        """Release `handle` at the server, awaited; a channel's own connection then closes."""
        try:
            await self._my_turn()
            await self._unbind(handle)
        finally:
            if self._own:
                self.close()

    async def _unbind(self, handle):
        await self._exchange(encode_unbind(self._req, handle.value), OP_UNBIND, 0)
        self.deframer.release()

    def drop_handle(self, handle):
        """Release `handle` without waiting (a channel's close()): a channel's own connection
        closes, and the server releases the handle with it; on a shared stream the handle is
        unbound before the next call."""
        if self._own:
            self.close()
        else:
            self._drops.append(handle)
