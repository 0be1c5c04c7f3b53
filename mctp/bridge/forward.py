# Forwarding (DSP0236 clause 9): a packet for an EID that is not the core's goes out over the
# link its route names as it came: no reassembly, the transport header and payload unchanged,
# copied into the out-link's transmit buffer and framed by that link (SMBus addresses and PEC,
# or DSP0253 framing). Core._receive calls Forwarder.forward where an endpoint counts
# `not_for_us`, with the packet staged in the core's _rx_* attributes.
#
# Nothing here allocates per packet ([no-alloc]), and forward() calls the out-link's transmit
# from its own frame: forwarding nests no deeper than a control answer ([c-stack]).

from .._compat import const
from ..bufcopy import copy_into
from ..constants import EID_NULL
from ..core.core import DROPS, EVENTS
from ..core.link import RX_FULL, RX_TAKEN
from ..core.packet import TRANSPORT_HEADER_SIZE
from ..counters import Counters

# Why a packet for another EID was not forwarded, each a counter in core.counters.
FORWARD_DROPS = (
    "fwd_no_route",  # no route covers its destination EID
    "fwd_same_link",  # its route leads back over the link it came in on
    "fwd_too_large",  # its payload exceeds the out-link's MTU
    "fwd_link_failed",  # the out-link refused it (a NACK, a full stream, no address)
    "fwd_spoofed",  # its source EID is not routed over the link (and address) it came from
)
FORWARD_EVENTS = ("fwd_packets",)  # packets forwarded

# Every this many packets forwarded, the link they came in on is told to poll no further this
# time (RX_FULL, as a full queue does): a flood that arrives as fast as it is forwarded (an
# IRQ queues frames while the link's poll runs) cannot keep that poll going, and the other
# links and the services get their turn. The rest wait in the link's ring.
FORWARD_BURST = const(16)


class Forwarder:
    """Makes `core` an MCTP bridge between its links: attaches itself as `core.forwarder` and
    adds its counters to `core.counters`. Without one, a core is an endpoint and drops a
    packet for another EID (`not_for_us`)."""

    def __init__(self, core):
        # The core's counters, and these: counts so far carried over. (Here, not in the core,
        # so that an endpoint's image and RAM hold nothing of a bridge's.)
        counters = Counters(DROPS + EVENTS + FORWARD_DROPS + FORWARD_EVENTS)
        for name in DROPS + EVENTS:
            setattr(counters, name, getattr(core.counters, name))
        core.counters = counters
        core.forwarder = self
        self._burst = 0  # packets forwarded since a link was last told to stop

    def forward(self, core):
        """Forward the packet `core` is receiving, or drop it (counted)."""
        route = self._route(core)
        if route is None:
            return
        link = route.link
        copy_into(link.tx_buf, link.tx_off, core._rx_buf, core._rx_off, core._rx_len)
        if link.transmit(core._rx_len, route.phys):
            self._sent(core)
        else:
            core.counters.fwd_link_failed += 1

    def _sent(self, core):
        # Counted, and what the in-link is told: taken (its sender is who it says, so the link
        # may learn its address), or, every FORWARD_BURST packets, to stop for this poll.
        core.counters.fwd_packets += 1
        self._burst += 1
        if self._burst < FORWARD_BURST:
            core._rx_result = RX_TAKEN
        else:
            self._burst = 0
            core._rx_result = RX_FULL

    def _route(self, core):
        # The route out, or None (counted). The source must be routed back over the link, and
        # to the address, it came from: a device cannot speak for an EID elsewhere, and a
        # packet that comes round a loop of routes arrives over the wrong link. EID 0 has no
        # route across a bridge (the core has dropped reserved and broadcast sources).
        src = core._rx_src
        if src == EID_NULL or not self._came_by(core, core.routes.lookup(src)):
            core.counters.fwd_spoofed += 1
            return None
        route = core.routes.lookup(core._rx_dest)
        if route is None:
            core.counters.fwd_no_route += 1
        elif route.link is core._rx_link:
            core.counters.fwd_same_link += 1  # never back out the way it came
        elif core._rx_len - TRANSPORT_HEADER_SIZE > route.link.mtu:
            core.counters.fwd_too_large += 1
        else:
            return route
        return None

    def _came_by(self, core, route):
        # Whether the packet being received came over `route`'s link (and from its address,
        # when the route names one).
        return (
            route is not None
            and route.link is core._rx_link
            and (route.phys is None or route.phys == core._rx_phys)
        )
