# The routing table: which link, and which physical address on it, reaches a destination EID.
# An entry covers a range of EIDs (first..last), like a Linux MCTP route; phys None lets the
# link resolve the address itself (its neighbour table).
#
# Reply routes remember where each recent request came from, so the response goes back the
# same way: the only way to reach a requester that has no EID yet (EID 0, physical
# addressing), and the right way to answer any requester.


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


class ReplyRoutes:
    """(requester EID, tag) -> (link, phys) of recent requests; the oldest is replaced."""

    def __init__(self, count):
        self.routes = [Route() for _ in range(count)]
        self._next = 0

    def remember(self, eid, tag, link, phys):
        routes = self.routes
        i = 0
        while i < len(routes):
            if routes[i].used and routes[i].first == eid and routes[i].last == tag:
                break  # a newer request with the same tag replaces the old one
            i += 1
        if i == len(routes):
            i = self._next
            self._next = (i + 1) % len(routes)
        route = routes[i]
        route.used = True
        route.first = eid  # first/last hold the EID and tag here
        route.last = tag
        route.link = link
        route.phys = phys

    def take(self, eid, tag):
        """The route the request (eid, tag) came by, forgotten once answered; or None."""
        routes = self.routes
        i = 0
        while i < len(routes):
            route = routes[i]
            if route.used and route.first == eid and route.last == tag:
                route.used = False
                return route
            i += 1
        return None
