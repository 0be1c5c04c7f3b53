# AsyncStack's channels over a client whose calls wait (AsyncStack.req() and .listener() make
# these there). Part mctp-ipc, with the one such client, mctp.aio.ipc's AsyncStreamClient: an
# endpoint over its stack task never imports this.

from ..errors import MctpError
from ..stack import _Channel
from .stack import AsyncListener, AsyncReqChannel, AsyncRespChannel

# Every call to the server is awaited: a channel's handle is opened when the channel is entered (`async with`) or first used, and
# released, awaited, when `async with` leaves it (close() releases it without waiting: see the
# client's drop_handle).


class _Awaited:
    _unopened = None  # what the handle is to be opened for (an EID, a message type) until it is

    @property
    def closed(self):
        return self._handle is None and self._unopened is None

    async def _opened(self):
        what = self._unopened
        if what is not None:
            self._unopened = None
            self._opening(await self._open(what))

    def _opening(self, handle):
        self._handle = handle

    def close(self):
        self._unopened = None
        _Channel.close(self)  # (MicroPython's super() does not follow a mixin's MRO)

    async def __aenter__(self):
        await self._opened()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.aclose()

    async def aclose(self):
        """close(), awaited: the handle is released at the server before this returns."""
        handle = self._handle
        self._unopened = self._handle = None
        if handle is not None:
            try:
                await self._client.drop(handle)
            except MctpError:  # (another task's receive holds the stream; the stream closed)
                self._client.drop_handle(handle)  # released with the connection, or later


class AwaitedReqChannel(_Awaited, AsyncReqChannel):
    def _open(self, eid):
        return self._client.req(eid)

    def _opening(self, handle):
        self._handle = self._call.handle = handle

    async def send(self, msg_type, buf, ic=False, length=None):
        await self._opened()
        self._stage(msg_type, buf, ic, length)
        self._sent(await self._client.send_call(self._call))

    async def recv_into(self, buf, meta):
        await self._opened()
        return await AsyncReqChannel.recv_into(self, buf, meta)


class AwaitedListener(_Awaited, AsyncListener):
    def _open(self, msg_type):
        return self._client.listener(msg_type)

    async def recv_into(self, buf, meta, resp=None):
        await self._opened()
        return await AsyncListener.recv_into(self, buf, meta, resp)


class AwaitedRespChannel(AsyncRespChannel):
    async def send(self, buf, ic=False, length=None):
        self._stage(buf, ic, length)
        await self._client.send_call(self._call)
        self._call.buf = None


AwaitedListener.resp_type = AwaitedRespChannel
