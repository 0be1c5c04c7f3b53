# AsyncClient: DirectClient with an awaitable receive. Everything else a client does is answered
# at once (a send goes down to the links before it returns), so only the receive awaits: it
# registers the pending receive, wakes the stack task when the receive has a deadline (which
# may be the nearest; a receive without one leaves the task asleep, as it adds no timer), and
# sleeps on its connection's flag, which the server sets when the answer is ready. A cancelled
# receive is withdrawn from the server.
#
# The awaitable is made once per client (_Receive), not a coroutine per receive: on
# MicroPython a coroutine is a heap object of about 170 bytes (the unix port's), made on every
# await ([no-alloc]). Its steps sleep on the flag through the flag's sleep() (what a step
# yields on either interpreter), and it returns the receive's `meta` in a StopIteration made
# again only when a receive brings another `meta`.

from ..server.direct import DirectClient
from ..ops import recv_metadata
from .flag import Flag


class _Receive:
    # AsyncClient.recv's awaitable: each step puts the task to sleep on the client's flag
    # until the answer is in, then returns `meta` (or raises the answer's error).

    def __init__(self, client):
        self._client = client
        self._meta = None  # what the receive fills in, and the StopIteration that returns it
        self._done = None

    def returning(self, meta):
        if meta is not self._meta:
            self._meta = meta
            self._done = StopIteration(meta)
        return self

    def __iter__(self):
        return self

    __await__ = __iter__

    def __next__(self):
        client = self._client
        while not client._conn.ready:
            step = client._answered.sleep()
            if step is not False:
                return step  # asleep until the server sets the flag
        client._received(self._meta)  # (raises the answer's error)
        done = self._done
        done.__traceback__ = None
        raise done

    def send(self, _value):
        return self.__next__()

    def throw(self, error, *_old_form):
        # Cancelled (or a timeout around it): the wait ends, the receive is withdrawn.
        self._client._give_up()
        raise error

    def close(self):
        # The awaiting coroutine was closed: the receive is withdrawn as when cancelled.
        self._client._give_up()


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
        self._receive = _Receive(self)

    def channel_client(self):
        """The client a new channel uses: one of its own, a connection of the same server."""
        return AsyncClient(self._task)

    def recv(self, handle, timeout_ms, buf, meta=None):
        """Await the receive: `meta` (None: a new RecvMetadata, which allocates) once the
        server has filled it, or the answer's error raised."""
        meta = recv_metadata(meta)
        if not self._start_recv(handle, timeout_ms, buf, meta):
            self._answered.clear()
            if timeout_ms:
                self._task.wake.set()  # its deadline may be the nearest timer now
        return self._receive.returning(meta)

    def _give_up(self):
        self._answered.abandon()
        self.server.cancel(self._conn)
        self._call.buf = None
        self._conn.meta = None
