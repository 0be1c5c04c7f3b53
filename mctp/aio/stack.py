# The Stack facade for asyncio tasks, name for name with the blocking one (mctp.stack):
#
#     async with stack.req(9, 1000) as ch:        # TIMED_OUT after 1000 ms
#         await ch.send(MSG_TYPE_PLDM, request)
#         meta, payload = await ch.recv()
#     meta, payload, resp = await listener.recv()
#     await resp.send(answer)
#     n = await listener.recv_into(buf, meta, resp)   # allocation-free, as the blocking form
#
# Over a StackTask each channel has a client of its own, so any number of tasks wait on their
# channels at once; over an awaitable client (AsyncStack(client)), as that client allows (see
# mctp.aio.ipc and mctp.aio.linux). The checks are the blocking channels', which these extend.
# asyncio.wait_for around a receive works too: cancelled, the receive is withdrawn, and a
# channel left by a cancelled task in `async with` releases its handle.

from ..api import RecvMetadata
from ..errors import MctpError
from ..ops import check_meta
from ..stack import (
    Stack,
    StackListener,
    StackReqChannel,
    StackRespChannel,
    _check_listener_recv,
    _check_timeout,
    _received,
    _recv_buffer,
)
from .client import AsyncClient
from .task import StackTask


class AsyncStack(Stack):
    """The facade over `source`: a StackTask (which must be running), whose server each
    channel reaches through a client of its own, or an awaitable client (mctp.aio.ipc's
    AsyncStreamClient, mctp.aio.linux's AsyncSocketClient)."""

    def __init__(self, source):
        self.task = source if isinstance(source, StackTask) else None
        super().__init__(AsyncClient(source) if self.task is not None else source)

    def _channel_client(self):
        return self.client.channel_client()

    async def get_eid(self):
        eid = self.client.get_eid()
        return (await eid) if self.client.waits else eid

    async def set_eid(self, eid):
        done = self.client.set_eid(eid)
        if self.client.waits:
            await done

    def req(self, eid, timeout_ms=0):
        if not self.client.waits:
            return Stack.req(self, eid, timeout_ms)
        from .awaited import AwaitedReqChannel  # noqa: PLC0415 (mctp-ipc's: only its client waits)

        _check_timeout(timeout_ms)  # (the EID is checked when the channel opens)
        channel = AwaitedReqChannel(self._channel_client(), None, eid, timeout_ms)
        channel._unopened = eid
        return channel

    def listener(self, msg_type, timeout_ms=0):
        if not self.client.waits:
            return Stack.listener(self, msg_type, timeout_ms)
        from .awaited import AwaitedListener  # noqa: PLC0415

        _check_timeout(timeout_ms)
        channel = AwaitedListener(self._channel_client(), None, timeout_ms)
        channel._unopened = msg_type
        return channel


class _AsyncWith:
    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        self.close()


class _Sent:
    # What a send returns here: an awaitable that is complete already, since a send has left
    # when it returns. One for all sends, returned by the blocking channels' own send, so that
    # `await ch.send(...)` makes no coroutine and no wrapper's frame ([no-alloc],
    # [frame-limit]: a send's five arguments passed on).
    def __init__(self):
        self._done = StopIteration()

    def __iter__(self):
        return self

    __await__ = __iter__

    def __next__(self):
        self._done.__traceback__ = None
        raise self._done


_SENT = _Sent()


class _Received:
    # A channel's receive as an awaitable, the channel's own (made at its first receive), not
    # a coroutine per receive ([no-alloc]): the client's receive awaited step by step (the
    # client's own awaitable, or a coroutine of an awaitable client), then the channel's
    # result, the payload's size, returned in a StopIteration made again only for another size.

    def __init__(self, channel):
        self._channel = channel
        self._receive = None  # the client's receive, being awaited
        self._meta = None
        self._resp = None
        self._size = -1
        self._done = None

    def awaiting(self, receive, meta, resp):
        self._receive = receive
        self._meta = meta
        self._resp = resp
        return self

    def __iter__(self):
        return self

    __await__ = __iter__

    def __next__(self):
        return self.send(None)

    def send(self, value):
        try:
            return self._receive.send(value)
        except StopIteration:
            pass
        return self._finish()

    def throw(self, error, *_old_form):
        try:
            return self._receive.throw(error)
        except StopIteration:
            pass
        return self._finish()

    def close(self):
        self._receive.close()

    def _finish(self):
        self._receive = None
        size = self._channel._answered(self._meta, self._resp)
        if size != self._size:
            self._size = size
            self._done = StopIteration(size)
        done = self._done
        done.__traceback__ = None
        raise done


def _received_by(channel):
    # The channel's _Received, made at its first receive.
    received = channel._received
    if received is None:
        received = channel._received = _Received(channel)
    return received


class AsyncReqChannel(_AsyncWith, StackReqChannel):
    _send_returns = _SENT  # await ch.send(msg_type, payload): the request has left
    _received = None  # its _Received, from its first receive

    def recv_into(self, buf, meta):
        check_meta(meta)
        receive = self._client.recv(self._awaited(), self._timeout_ms, buf, meta)
        return _received_by(self).awaiting(receive, meta, None)

    def _answered(self, meta, _resp):
        return self._response(meta)

    async def recv(self, buf=None):
        meta = RecvMetadata()
        into = _recv_buffer(buf)
        return meta, _received(into, await self.recv_into(into, meta), buf)


class AsyncListener(_AsyncWith, StackListener):
    _received = None  # its _Received, from its first receive

    def recv_into(self, buf, meta, resp=None):
        _check_listener_recv(meta, resp)
        receive = self._client.recv(self._live_handle(), self._timeout_ms, buf, meta)
        return _received_by(self).awaiting(receive, meta, resp)

    def _answered(self, meta, resp):
        if resp is not None:
            resp.bind(meta)
        return meta.payload_size

    async def recv(self, buf=None):
        meta = RecvMetadata()
        into = _recv_buffer(buf)
        payload = _received(into, await self.recv_into(into, meta), buf)
        return meta, payload, self._resp_for(meta)


class AsyncRespChannel(StackRespChannel):
    _send_returns = _SENT  # await resp.send(payload): the response has left


AsyncListener.resp_type = AsyncRespChannel
AsyncStack.req_type = AsyncReqChannel
AsyncStack.listener_type = AsyncListener
