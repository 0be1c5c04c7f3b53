# A bridge's downstream bus owner (DSP0236 8.18 and 8.17.6): once the bridge's own bus owner
# has allocated it an EID pool (Allocate Endpoint IDs, taken by its BridgeResponder), it sets up
# the endpoints on the downstream link with EIDs from that pool, as BusOwner does (Get EID, Set
# EID, a route, message types, VDM, UUID). An endpoint whose EID lies in the pool keeps it;
# every other gets a free pool EID. The addresses it tries are the ones configured, and with
# `scan` every 7-bit address but the link's own.
#
# Then it polls, as Linux mctpd polls a bridge's pool: every `poll_ms` each endpoint set up is
# asked Get Endpoint ID (`poll_tries` tries of `timeout_ms`); one that does not answer, or
# answers with another EID, is forgotten and its route removed, and its address is tried again
# with the others where nobody answered, so that an endpoint that appears later is set up.
# A new pool (Force Allocation) starts it all again.
#
# Nothing here waits: poll() does one step of the work and returns (a request's try is sent,
# or its answer taken, or its timeout noticed), so a board's loop calls it beside server.poll():
#
#     pool = PoolOwner(core, stack, responder, link, addrs=(0x1D, 0x1E, 0x1F))
#     while True:
#         server.poll()
#         pool.poll()
#
# `stack` is a Stack over a DirectClient of the same core's server. Not a packet path: it
# allocates, as BusOwner does.

from .._compat import const, ticks_diff
from ..constants import EID_NULL, MSG_TYPE_CONTROL
from ..counters import Counters
from ..errors import MctpError, ResponseCode
from .bus_owner import BusOwner
from .messages import ControlError
from .requester import ControlRequester, Finished, advance

_COUNTERS = (
    "set_up",  # endpoints set up (given a pool EID, or keeping theirs)
    "failed",  # set-ups that failed (nobody at the address, or a mandatory step refused)
    "vanished",  # endpoints that stopped answering the poll: their route removed
    "polls",  # Get Endpoint ID polls sent
    "pools",  # pools taken (each starts the set-up again)
    "errors",  # a fault inside a step (counted; the step's work is dropped)
)

# The 7-bit addresses a scan tries: mctp.i2c.smbus.ADDR_MIN..ADDR_MAX, 0x08..0x77 (I2C reserves
# the others). [const-copy]: this part (mctp-bus-owner) does not require the I2C binding's.
_ADDR_MIN = const(0x08)
_ADDR_MAX = const(0x77)


class PolledRequester(ControlRequester):
    """A ControlRequester that never waits: start(steps) begins a request's (or a set-up's)
    steps, and each step() sends the next try, takes its answer once it has come, or gives
    the try up after `timeout_ms`. `stack` is a Stack over a DirectClient."""

    def __init__(self, stack, timeout_ms=250, tries=4):
        super().__init__(stack, timeout_ms, tries)
        self.server = stack.client.server
        self._steps = None
        self._channel = None
        self._sent_at = 0

    @property
    def busy(self):
        return self._steps is not None

    def start(self, steps):
        """Begin `steps`; they run through step() until they finish (or raise from it)."""
        self.cancel()
        self._steps = steps
        self._next(None)

    def step(self):
        """One step of the steps started: what a step raises comes out of here."""
        channel = self._channel
        if channel is None:
            return
        if self.server.queued(channel.handle.value):
            try:
                reply = self._received(channel)
            except MctpError as error:
                reply = error
            self._close()
            self._next(reply)
        elif ticks_diff(self.server.core.clock(), self._sent_at) >= self.timeout_ms:
            self._close()
            self._next(MctpError(ResponseCode.TIMED_OUT, 0, "%d ms" % self.timeout_ms))

    def cancel(self):
        """Give up the steps started (their clean-up runs: a route they added goes)."""
        self._close()
        steps = self._steps
        self._steps = None
        if steps is not None:
            steps.close()

    def _next(self, reply):
        try:
            step = advance(self._steps, reply)
        except BaseException:
            self._steps = None
            raise
        if isinstance(step, Finished):
            self._steps = None
            return
        try:
            self._channel = self.stack.req(step[0], 0)
            self._channel.send(MSG_TYPE_CONTROL, step[1])
        except MctpError as error:  # no route, no handle, the link refused it
            self._close()
            self._next(error)
            return
        self._sent_at = self.server.core.clock()

    def _close(self):
        if self._channel is not None:
            self._channel.close()
            self._channel = None


class PoolOwner(BusOwner):
    """The bus owner of `link` (a bridge's downstream link) with the EID pool that
    `responder` (the bridge's mctp.bridge.BridgeResponder) was allocated. `addrs` are the endpoints'
    addresses; `scan` adds every other 7-bit address. poll() does the work, a step at a time."""

    requester_type = PolledRequester

    def __init__(
        self,
        core,
        stack,
        responder,
        link,
        addrs=(),
        scan=False,
        poll_ms=2500,
        poll_tries=3,
        timeout_ms=250,
        tries=4,
    ):
        super().__init__(core, stack, link, timeout_ms=timeout_ms, tries=tries)
        if poll_ms < 1 or poll_tries < 1:
            raise ValueError("poll_ms and poll_tries must be at least 1")
        self.responder = responder
        self.candidates = list(addrs)
        if scan:
            own = getattr(link, "addr", None)
            for addr in range(_ADDR_MIN, _ADDR_MAX + 1):
                if addr != own and addr not in self.candidates:
                    self.candidates.append(addr)
        self.poll_ms = poll_ms
        self.poll_tries = poll_tries
        self.set_up_tries = tries
        self.absent = []  # the candidates with no endpoint set up
        self.counters = Counters(_COUNTERS)
        self.last_error = None  # the fault last counted in errors
        self._pool = (EID_NULL, 0)  # the pool set up for: first EID and size
        self._todo = []  # the jobs waiting: steps each
        self._swept_at = 0

    def poll(self):
        """One step of the work. Never raises: a fault is counted (errors) and its job
        dropped."""
        try:
            self._poll()
        except Exception as error:
            self.counters.errors += 1
            self.last_error = error  # what the count cannot say
            self.control.cancel()

    def _poll(self):
        responder = self.responder
        if (responder.pool_first, responder.pool_count) != self._pool:
            self._take_pool(responder.pool_first, responder.pool_count)
        if not self._pool[1]:
            return
        if self.control.busy:
            self.control.step()
            return
        if not self._todo:
            now = self.core.clock()
            if ticks_diff(now, self._swept_at) < self.poll_ms:
                return
            self._swept_at = now
            self._sweep()
        job = self._todo.pop(0)
        self.control.tries = job[0]
        self.control.start(job[1])

    def _take_pool(self, first, count):
        # A new pool (or none): what was set up from the old one goes.
        self.control.cancel()
        self._todo = []
        for eid in self.peers:
            self.core.routes.remove(eid)
        self.peers = {}
        self._pool = (first, count)
        self.absent = list(self.candidates)
        if count:
            self.first_eid = first
            self.last_eid = first + count - 1
            self.counters.pools += 1
            self._swept_at = self.core.clock()
            self._sweep()

    def _sweep(self):
        # Poll every endpoint set up, then try every address where nobody was.
        for peer in self.peers.values():
            self._todo.append((self.poll_tries, self._check(peer)))
        for addr in self.absent:
            self._todo.append((self.set_up_tries, self._set_up(addr)))

    def _set_up(self, addr):
        try:
            yield from self.enumerate_steps(addr)
        except ControlError:
            self.counters.failed += 1
            return
        self.absent.remove(addr)
        self.counters.set_up += 1

    def _check(self, peer):
        self.counters.polls += 1
        try:
            info = yield from self.control.get_eid_steps(peer.eid)
            if info.eid == peer.eid:
                return
        except ControlError:
            pass
        # Gone, or reset, or another device in its place: set up again when it answers.
        if self.peers.get(peer.eid) is peer:
            del self.peers[peer.eid]
            self.core.routes.remove(peer.eid)
            self.absent.append(peer.addr)
            self.counters.vanished += 1

    def _usable(self, eid, addr):
        # A pool's endpoint keeps its EID only when it lies in the pool (DSP0236 8.18).
        return self.first_eid <= eid <= self.last_eid and super()._usable(eid, addr)
