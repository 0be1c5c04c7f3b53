# AsyncClient: DirectClient with an awaitable receive. Everything else a client does is answered
# at once (a send goes down to the links before it returns), so only the receive awaits: it
# registers the pending receive, wakes the stack task (the receive's deadline may be the
# nearest), and sleeps on its connection's flag, which the server sets when the answer is
# ready. A cancelled receive is withdrawn from the server.

from ..server.direct import DirectClient
from ..ops import recv_metadata
from .flag import Flag


class AsyncClient(DirectClient):
    """An in-process MctpClient for asyncio tasks, over `task`'s server (a StackTask). One
    receive waits at a time per client, and meanwhile the client takes no other call but
    drop_handle (which ends the receive when it is on that handle): AsyncStack gives each
    channel its own client, so any number of channels wait at once."""

    waits = False  # only its receive waits (AsyncStack's channels await nothing else)

    def __init__(self, task):
        super().__init__(task.server)
        self._task = task
        self._answered = Flag()  # set by the stack task's poll, a task like this one
        self._conn.wake = self._answered

    def channel_client(self):
        """The client a new channel uses: one of its own, a connection of the same server."""
        return AsyncClient(self._task)

    async def recv(self, handle, timeout_ms, buf, meta=None):
        meta = recv_metadata(meta)  # (None: the contract's three-argument form, which allocates)
        if not self._start_recv(handle, timeout_ms, buf, meta):
            self._answered.clear()
            self._task.wake.set()
            try:
                while not self._conn.ready:
                    await self._answered.wait()
            except BaseException:  # cancelled (or a timeout around it): withdraw it
                self.server.cancel(self._conn)
                self._call.buf = None
                self._conn.meta = None
                raise
        return self._received(meta)
