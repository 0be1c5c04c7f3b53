# The routing table: which link, and which physical address on it, reaches a destination EID.
# An entry covers a range of EIDs (first..last), like a Linux MCTP route; phys None lets the
# link resolve the address itself (its neighbour table).
#
# Reply routes remember where each recent request came from, so the response goes back the
# same way: the only way to reach a requester that has no EID yet (EID 0, physical
# addressing), and the right way to answer any requester.

from ._compat import const, ticks_diff


class Route:
    def __init__(self):
        self.used = False
        self.first = 0
        self.last = 0
        self.link = None
        self.phys = None


class RouteTable:
    def __init__(self, count):
        self.routes = [Route() for _ in range(count)]

    def add(self, first, last, link, phys=None):
        if not 0 <= first <= last <= 0xFE:
            raise ValueError("route EIDs must satisfy 0 <= first <= last <= 254")
        free = None
        for route in self.routes:
            if route.used and route.first == first and route.last == last:
                free = route  # replace the route for the same range
                break
            if free is None and not route.used:
                free = route
        if free is None:
            raise ValueError("routing table full")
        free.used = True
        free.first = first
        free.last = last
        free.link = link
        free.phys = phys

    def remove(self, first, last=None):
        if last is None:
            last = first
        for route in self.routes:
            if route.used and route.first == first and route.last == last:
                route.used = False
                route.link = None
                return True
        return False

    def lookup(self, eid):
        """The narrowest route covering `eid`, or None."""
        best = None
        for route in self.routes:
            if route.used and route.first <= eid <= route.last:
                if best is None or route.last - route.first < best.last - best.first:
                    best = route
        return best


class ReplyRoute:
    def __init__(self):
        self.used = False
        self.eid = 0  # the requester's EID and the request's tag
        self.tag = 0
        self.link = None
        self.phys = None
        self.since = 0  # ticks when the request arrived
        self.serial = 0  # arrival order


_SERIAL_MASK = const(0x3FFFFFFF)  # a small int on every port


class ReplyRoutes:
    """Where each request that waits for its answer came from: (requester EID, tag) ->
    (link, phys).

    One entry per request, so two requests with the same EID and tag (a retry, or two
    requesters without an EID) are answered in the order they came, each the way it came. An
    entry goes when its request is answered, when the message is discarded unread, or after
    `expiry_ms` (the requester has given up by then). When every entry is taken, the oldest
    is replaced (the core counts it), and its answer goes by the routing table instead.
    """

    def __init__(self, count, expiry_ms):
        self.routes = [ReplyRoute() for _ in range(count)]
        self.expiry_ms = expiry_ms
        self._serial = 0
        self._found = None  # what _find has found so far

    def _age(self, route):
        return (self._serial - route.serial) & _SERIAL_MASK

    def remember(self, eid, tag, link, phys, now):
        """Note where request (eid, tag) came from; True when a live entry had to make room."""
        route = self._free_or_oldest()
        evicted = route.used
        self._serial = (self._serial + 1) & _SERIAL_MASK
        route.used = True
        route.eid = eid
        route.tag = tag
        route.link = link
        route.phys = phys
        route.since = now
        route.serial = self._serial
        return evicted

    def _free_or_oldest(self):
        routes = self.routes
        oldest = routes[0]
        i = 0
        while i < len(routes):
            if not routes[i].used:
                return routes[i]
            if self._age(routes[i]) > self._age(oldest):
                oldest = routes[i]
            i += 1
        return oldest

    def take(self, eid, tag):
        """The route of the oldest request (eid, tag) still waiting, forgotten now that it is
        answered; or None. The caller reads its link and phys at once."""
        route = self._find(eid, tag, True)
        if route is not None:
            route.used = False
        return route

    def _find(self, eid, tag, oldest):
        # The oldest (or the newest) entry for (eid, tag), or None.
        self._found = None
        routes = self.routes
        i = 0
        while i < len(routes):
            if routes[i].used and routes[i].eid == eid and routes[i].tag == tag:
                self._pick(routes[i], oldest)
            i += 1
        return self._found

    def _pick(self, route, oldest):
        found = self._found
        if found is None or (self._age(route) > self._age(found)) == oldest:
            self._found = route

    def forget(self, eid, tag):
        """A request (eid, tag) was discarded unanswered: drop the newest entry for it."""
        route = self._find(eid, tag, False)
        if route is not None:
            route.used = False
            route.link = None

    def expire(self, now):
        """Forget entries older than the expiry time; how many."""
        count = 0
        for route in self.routes:
            if route.used and ticks_diff(now, route.since) >= self.expiry_ms:
                route.used = False
                route.link = None
                count += 1
        return count

    def clear(self):
        for route in self.routes:
            route.used = False
            route.link = None

    def in_use(self):
        count = 0
        for route in self.routes:
            if route.used:
                count += 1
        return count
