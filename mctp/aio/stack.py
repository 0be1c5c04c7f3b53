# The Stack facade for asyncio tasks, name for name with the blocking one (mctp.stack):
#
#     async with stack.req(9, 1000) as ch:        # TIMED_OUT after 1000 ms, as in the seed
#         await ch.send(MSG_TYPE_PLDM, request)
#         meta, payload = await ch.recv()
#     meta, payload, resp = await listener.recv()
#     await resp.send(answer)
#     n = await listener.recv_into(buf, meta, resp)   # allocation-free, as the blocking form
#
# Each channel has a client of its own, so any number of tasks wait on their channels at once;
# the checks are the blocking channels', which these extend. asyncio.wait_for around a receive
# works too: cancelled, the receive is withdrawn, and a channel left by a cancelled task in
# `async with` releases its handle.

from ..api import RecvMetadata
from ..wire import check_meta
from ..stack import (
    Stack,
    StackListener,
    StackReqChannel,
    StackRespChannel,
    _check_listener_recv,
    _received,
    _recv_buffer,
)
from .client import AsyncClient


class AsyncStack(Stack):
    """The facade over `task`'s server (a StackTask, which must be running)."""

    def __init__(self, task):
        super().__init__(AsyncClient(task))  # for the EID; each channel has its own
        self.task = task

    def _channel_client(self):
        return AsyncClient(self.task)


class _AsyncWith:
    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        self.close()


class _Sent:
    # What a send returns here: an awaitable that is complete already, since a send has left
    # when it returns. One for all sends, returned by the blocking channels' own send, so that
    # `await ch.send(...)` makes no coroutine and no frame on the heap (a send's five
    # arguments passed on would put a wrapper's frame there, on MicroPython).
    def __init__(self):
        self._done = StopIteration()

    def __iter__(self):
        return self

    __await__ = __iter__

    def __next__(self):
        self._done.__traceback__ = None
        raise self._done


class AsyncReqChannel(_AsyncWith, StackReqChannel):
    sent = _Sent()  # await ch.send(msg_type, payload): the request has left

    async def recv_into(self, buf, meta):
        check_meta(meta)
        await self._client.recv(self._awaited(), self._timeout_ms, buf, meta)
        return self._response(meta)

    async def recv(self, buf=None):
        meta = RecvMetadata()
        into = _recv_buffer(buf)
        return meta, _received(into, await self.recv_into(into, meta), buf)


class AsyncListener(_AsyncWith, StackListener):
    async def recv_into(self, buf, meta, resp=None):
        _check_listener_recv(meta, resp)
        await self._client.recv(self._live_handle(), self._timeout_ms, buf, meta)
        if resp is not None:
            resp.bind(meta)
        return meta.payload_size

    async def recv(self, buf=None):
        meta = RecvMetadata()
        into = _recv_buffer(buf)
        payload = _received(into, await self.recv_into(into, meta), buf)
        return meta, payload, self._resp_for(meta)


class AsyncRespChannel(StackRespChannel):
    sent = AsyncReqChannel.sent  # await resp.send(payload): the response has left


AsyncListener.resp_type = AsyncRespChannel
AsyncStack.req_type = AsyncReqChannel
AsyncStack.listener_type = AsyncListener
