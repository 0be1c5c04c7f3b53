# AsyncSocketClient: SocketClient (mctp.linux) for asyncio tasks. Everything it does but a
# receive is a system call answered at once (a socket opened, bound, sent from, closed); a
# receive waits for its handle's socket to have a message through asyncio's poller, with the
# blocking client's checks, deadline and errors. Each handle is a socket of its own, so any
# number of tasks wait on their channels at once through one client (AsyncStack(client) shares
# it between its channels); one receive at a time per handle, a second refused (ADDR_IN_USE).

from .._compat import ticks_ms
from ..ops import recv_metadata
from ..constants import MAX_PAYLOAD_SIZE
from ..errors import ResponseCode
from ..linux.client import SocketClient
from .watch import readable, ready_ms


class AsyncSocketClient(SocketClient):
    """SocketClient with an awaitable receive; the arguments are SocketClient's."""

    waits = False  # only its receive waits (AsyncStack's channels await nothing else)

    def channel_client(self):
        """The client a new channel uses: this one (each handle is a socket of its own)."""
        return self

    async def recv(self, handle, timeout_ms, buf, meta=None):
        slot = self._receiving(handle, timeout_ms, buf)
        if slot.receiving:
            self._fail(
                ResponseCode.ADDR_IN_USE,
                "another task's receive is pending on handle %d" % handle.value,
            )
        meta = recv_metadata(meta)  # (None: the contract's three-argument form)
        slot.receiving = True
        try:
            return await self._received(slot, timeout_ms, buf, meta)
        finally:
            slot.receiving = False

    async def _received(self, slot, timeout_ms, buf, meta):
        capacity = min(len(buf), MAX_PAYLOAD_SIZE)
        start = ticks_ms()
        while True:
            wait = self._wait_left(timeout_ms, start)
            if not await ready_ms(readable(slot.sock), wait):
                self._timed_out(timeout_ms)
            if self._take(slot, buf, capacity, meta):
                return meta
