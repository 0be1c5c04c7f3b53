# The bridge application: the endpoint (firmware/endpoint.py: its control responder, echo and
# PLDM still answering at its own EID) with an upstream serial line (DSP0253: a UART, a board's
# USB, or a host's pty or socket) towards its bus owner, a downstream I2C bus, a Forwarder
# (mctp.bridge) that carries the packets for other EIDs across, and a PoolOwner
# (mctp.control.pool) that gives the EID pool the bus owner allocated to the endpoints on the
# I2C bus and polls them. The same code runs on a board (firmware/board.py, BRIDGE = True) and
# on the host (tools/run_endpoint.py --bridge).

from mctp.bridge import BridgeResponder, Forwarder
from mctp.bridge.control import POOL_SIZE_MAX
from mctp.config import Config
from mctp.constants import EID_BROADCAST, EID_NULL, EID_RESERVED_MAX
from mctp.control.pool import PoolOwner

from .endpoint import ENDPOINT_LIMITS, EndpointApp

# How often, under main(), the stack task is woken for the PoolOwner's timers (a request's
# timeout, the next poll of the pool's endpoints), which are none of the stack's own.
TICK_MS = 20


def bridge_config(pool_size):
    """A board's limits (ENDPOINT_LIMITS) for a bridge with a pool of `pool_size` EIDs: a route
    for each of them and for the bus owner."""
    limits = dict(ENDPOINT_LIMITS)
    limits["routes"] = max(Config.routes, pool_size + 2)
    return Config(**limits)


class BridgeApp(EndpointApp):
    """An MCTP bridge between the serial line `serial` (upstream: its bus owner sets its EID and
    allocates its pool there) and the I2C bus of `i2c` and `target` at 7-bit address `addr`
    (downstream: it is the bus owner there). `pool_size` is the pool it asks for (1..246);
    `downstream` the addresses of the endpoints on the I2C bus, or None to scan every address.
    The other arguments are EndpointApp's; `config` defaults to bridge_config(pool_size). `pool`
    is the PoolOwner, `forwarder` the Forwarder, `control` the BridgeResponder."""

    def __init__(self, i2c, target, addr, serial, pool_size=8, downstream=None, **options):
        if i2c is None or serial is None:
            raise ValueError(
                "a bridge needs its downstream I2C bus (i2c, target, addr) and its upstream"
                " serial line (serial)"
            )
        if not isinstance(pool_size, int) or not 1 <= pool_size <= POOL_SIZE_MAX:
            raise ValueError(
                "a bridge's pool_size must be 1..%d EIDs, got %r" % (POOL_SIZE_MAX, pool_size)
            )
        config = options.pop("config", None) or bridge_config(pool_size)
        self.pool_size = pool_size
        super().__init__(i2c, target, addr, serial=serial, config=config, **options)
        self.forwarder = Forwarder(self.core)
        self.pool = PoolOwner(
            self.core,
            self.stack,
            self.control,
            self.link,
            addrs=downstream or (),
            scan=downstream is None,
        )
        self._owner_routed = EID_NULL  # the bus owner's EID we route upstream
        self.services.append(self._serve_bridge)

    def _responder(self, core, *args, **kwargs):
        return BridgeResponder(core, self.pool_size, *args, **kwargs)

    def _serve_bridge(self):
        # After the stack's poll: the route back to the bus owner, then one step of the
        # downstream bus owner's work. (Neither raises: a route that cannot be added is
        # counted in the pool's errors.)
        try:
            self._route_owner()
        except Exception:
            self.pool.counters.errors += 1
        self.pool.poll()
        return 0  # (messages served: the LED blinks for the endpoint's own)

    def _route_owner(self):
        # The bus owner's EID, from the Set Endpoint ID that set ours, routed over the link it
        # came in on: its requests to the endpoints behind us are forwarded only from there,
        # and their answers (and the endpoints' own requests to it) go back that way.
        control = self.control
        eid = control.owner_eid
        if eid == self._owner_routed:
            return
        if self._owner_routed != EID_NULL:
            self.core.routes.remove(self._owner_routed)
        self._owner_routed = EID_NULL
        if EID_RESERVED_MAX < eid < EID_BROADCAST:
            self.core.add_route(eid, eid, control.owner_link, control.owner_phys)
            self._owner_routed = eid

    async def main(self, watchdog=None, blink_ms=500, watch=()):
        """EndpointApp.main, with a task that wakes the stack task every TICK_MS for the
        PoolOwner's timers."""
        import asyncio  # noqa: PLC0415

        ticker = None
        if self.wake is not None:
            ticker = asyncio.create_task(_tick(self.wake))
        try:
            await super().main(watchdog, blink_ms, watch)
        finally:
            if ticker is not None:
                ticker.cancel()

    def counters(self):
        counters = super().counters()
        counters["pool"] = self.pool.counters
        return counters

    def show(self):
        """EndpointApp.show, then the pool and the endpoints behind the bridge with their
        routes."""
        super().show()
        for line in self.bridge_lines():
            print(line)

    def bridge_lines(self):
        """The pool, the bus owner's route and the endpoints downstream, as lines of text."""
        control = self.control
        if control.pool_count:
            first = control.pool_first
            pool = "EIDs %d..%d" % (first, first + control.pool_count - 1)
        else:
            pool = "none yet"
        lines = ["pool %s (asked for %d)" % (pool, control.pool_size)]
        if self._owner_routed != EID_NULL:
            lines.append("bus owner EID %d, upstream" % self._owner_routed)
        for eid in sorted(self.pool.peers):
            route = self.core.routes.lookup(eid)
            where = "no route" if route is None else "route to I2C 0x%02x" % route.phys
            lines.append(
                "downstream EID %d at 0x%02x, %s" % (eid, self.pool.peers[eid].addr, where)
            )
        if self.pool.absent and len(self.pool.absent) <= 8:
            lines.append("nobody at " + " ".join("0x%02x" % a for a in self.pool.absent))
        elif self.pool.absent:
            lines.append("nobody at %d addresses" % len(self.pool.absent))
        return lines


async def _tick(wake):
    import asyncio  # noqa: PLC0415

    while True:
        await asyncio.sleep(TICK_MS / 1000)
        wake.set()
