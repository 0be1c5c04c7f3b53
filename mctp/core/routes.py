# The routing table: which link, and which physical address on it, reaches a destination EID.
# An entry covers a range of EIDs (first..last), like a Linux MCTP route; phys None lets the
# link resolve the address itself (its neighbour table).
#
# Reply routes remember where each recent request came from, so the response goes back the
# same way: the only way to reach a requester that has no EID yet (EID 0, physical
# addressing), and the right way to answer any requester.

from array import array

from .._compat import const, ticks_diff
from .timers import until_expiry


class Route:
    def __init__(self):
        self.used = False
        self.first = 0
        self.last = 0
        self.link = None
        self.phys = None
        # None for a configured route; the entry type (DSP0236's 0..3) of a learned one, set by
        # whoever learned it (mctp.control.bus_owner, mctp.bridge.control), which a bridge's Get
        # Routing Table Entries reports. One attribute: a sixth fits the attribute table the
        # first five leave room in, a seventh would grow every route by 16 bytes on a board.
        self.learned = None


class RouteTable:
    def __init__(self, count):
        self.routes = [Route() for _ in range(count)]

    def add(self, first, last, link, phys=None):
        """Route EIDs first..last to `phys` on `link` (in place of a route for the same range),
        as a configured route; the route, for a caller that learned it to say so (learned)."""
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
        free.learned = None
        return free

    def room_for(self, first, last):
        """Whether add(first, last, ...) finds an entry: the same range's, or a free one."""
        for route in self.routes:
            if not route.used or (route.first == first and route.last == last):
                return True
        return False

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
    def __init__(self, index):
        self.index = index  # in ReplyRoutes.routes and .serials (its serial, arrival order)
        self.used = False
        self.eid = 0  # the requester's EID and the request's tag
        self.tag = 0
        self.link = None
        self.phys = None
        self.started = 0  # ticks when the request arrived
        self.taken = -1  # when the application took the request (a serial), or -1


_SERIAL_MASK = const(0x3FFFFFFF)  # [small-int]
_SERIAL_HALF = const(0x20000000)


class ReplyRoutes:
    """Where each request that waits for its answer came from: (requester EID, tag) ->
    (link, phys).

    One entry per request. Two requests with the same EID and tag (a retry, a requester that
    gave up on the first, or two requesters without an EID) each have their own: an answer
    takes the entry of the request the application took last, which is the one it answers
    when it answers as it reads, else the newest. An entry goes when its request is answered,
    when the message is discarded unread, or after `expiry_ms` (the requester has given up by
    then). When every entry is in use, the oldest makes room (the core counts it), and its
    answer goes by the routing table instead.
    """

    def __init__(self, count, expiry_ms):
        self.routes = [ReplyRoute(i) for i in range(count)]
        # Each entry's serial while it is used, -1 while it is not: what remember() scans for
        # a free or the oldest entry, one viper call on boards (oldest_reply).
        self.serials = array("i", [-1] * count)
        self.expiry_ms = expiry_ms
        self._serial = 0
        self._found = None  # what take() has found so far

    def _age(self, serial):
        return (self._serial - serial) & _SERIAL_MASK

    def _next_serial(self):
        self._serial = (self._serial + 1) & _SERIAL_MASK
        return self._serial

    def remember(self, slot, now):
        """Note where the request in `slot` came from (its src, tag, link and phys), and name
        the entry in the slot (slot.reply, and its serial in slot.reply_serial: the entry may
        be reused once it is gone). True when a live entry made room for it."""
        # The serial inline, not through _next_serial(): this runs for every request.
        serial = (self._serial + 1) & _SERIAL_MASK
        route = self.routes[oldest_reply(self.serials, serial)]
        self._serial = serial
        self.serials[route.index] = serial
        slot.reply = route
        slot.reply_serial = serial
        route.eid = slot.src
        route.tag = slot.tag
        route.link = slot.link
        route.phys = slot.phys
        route.started = now
        route.taken = -1
        if route.used:
            return True
        route.used = True
        return False

    def _drop(self, route):
        route.used = False
        route.link = None
        self.serials[route.index] = -1

    def mark_taken(self, route, serial):
        """The application took the request of entry `route` (if it is still the entry of
        `serial`)."""
        if self.serials[route.index] == serial:
            route.taken = self._next_serial()

    def forget(self, route, serial):
        """The request of entry `route` (if it is still the entry of `serial`) was discarded
        unread: it will not be answered."""
        if self.serials[route.index] == serial:
            self._drop(route)

    def take(self, eid, tag):
        """The route an answer to (eid, tag) goes back by, forgotten now; or None. The caller
        reads its link and phys at once."""
        self._found = None
        routes = self.routes
        i = 0
        while i < len(routes):
            if routes[i].used and routes[i].eid == eid and routes[i].tag == tag:
                self._consider(routes[i])
            i += 1
        route = self._found
        if route is not None:
            route.used = False  # (its link kept for the caller)
            self.serials[route.index] = -1
            self._found = None
        return route

    def _consider(self, route):
        # Taken last beats taken earlier beats never taken; among those never taken, newest.
        found = self._found
        if found is None:
            self._found = route
        elif route.taken >= 0:
            if found.taken < 0 or self._age(route.taken) < self._age(found.taken):
                self._found = route
        elif found.taken < 0 and self._age(self.serials[route.index]) < self._age(
            self.serials[found.index]
        ):
            self._found = route

    def expire(self, now):
        """Forget entries older than the expiry time; how many."""
        count = 0
        for route in self.routes:
            if route.used and ticks_diff(now, route.started) >= self.expiry_ms:
                self._drop(route)
                count += 1
        return count

    def until_expiry(self, now):
        """Milliseconds until the next entry expires (0: overdue), or -1 when none is held."""
        return until_expiry(self.routes, self.expiry_ms, now)

    def clear(self):
        for route in self.routes:
            self._drop(route)

    def in_use(self):
        count = 0
        for route in self.routes:
            if route.used:
                count += 1
        return count


def oldest_reply_py(serials, newest):
    """The index of the first free entry of `serials` (-1), else of the oldest: the one
    furthest behind `newest`, a serial newer than every entry's."""
    oldest = 0
    oldest_age = -1
    i = 0
    while i < len(serials):
        if serials[i] < 0:
            return i
        if (newest - serials[i]) & _SERIAL_MASK > oldest_age:
            oldest = i
            oldest_age = (newest - serials[i]) & _SERIAL_MASK
        i += 1
    return oldest


try:
    from ._fastpath_viper import oldest_reply
except (ImportError, SyntaxError):
    oldest_reply = oldest_reply_py
