# Owned tags: one flow per request we sent and whose response we await (DSP0236 message tags).
#
# A (peer, tag) pair is never reused while its flow is live. Tags rotate so a late response to
# an expired request is unlikely to match the next request to that peer. Flows expire after
# the tag expiry time (6 s, like Linux, libmctp and mctp-estack), or end when their response
# completes, unless created persistent (for protocols that answer more than once).

from .._compat import ticks_diff
from ..constants import EID_NULL, TAG_MAX
from .timers import until_expiry


class Flow:
    def __init__(self):
        self.used = False
        self.peer = 0
        self.tag = 0
        self.owner = -1
        self.persistent = False
        self.started = 0


class FlowTable:
    """The owned tags of the requests in flight: `count` Flows, each a (peer, tag) pair and
    the owner its response goes to. open() hands out a tag no live flow to that peer holds,
    rotating; a flow ends when its response completes (unless persistent), when closed, or
    `expiry_ms` after it opened."""

    def __init__(self, count, expiry_ms):
        self.flows = [Flow() for _ in range(count)]
        self.expiry_ms = expiry_ms
        self._next_tag = 0

    def _tags_held(self, peer):
        # The tags the live flows to `peer` hold, as bits: one pass over the table (a `for`:
        # no len() and no index per entry), where a pass per tag tried took up to eight.
        held = 0
        for flow in self.flows:
            if flow.used and flow.peer == peer:
                held |= 1 << flow.tag
        return held

    def _unused(self):
        for flow in self.flows:
            if not flow.used:
                return flow
        return None

    def _next_free_tag(self, peer):
        # Rotate: start after the tag handed out last, so a tag is not reused at once.
        held = self._tags_held(peer)
        step = 0
        while step <= TAG_MAX:
            tag = (self._next_tag + step) & TAG_MAX
            if not held >> tag & 1:
                self._next_tag = (tag + 1) & TAG_MAX
                return tag
            step += 1
        return -1

    def open(self, peer, owner, persistent, now):
        """Allocate a tag for a request to `peer`; the Flow, or None when none is free."""
        flow = self._unused()
        if flow is None:
            return None
        tag = self._next_free_tag(peer)
        if tag < 0:
            return None
        flow.used = True
        flow.peer = peer
        flow.tag = tag
        flow.owner = owner
        flow.persistent = persistent
        flow.started = now
        return flow

    def match(self, peer, tag):
        """The live flow a response from `peer` with `tag` answers, or None. A request sent to
        EID 0 (an endpoint reached by its physical address) is answered from whatever EID the
        endpoint has, or is given by that very request (Set Endpoint ID)."""
        flow = self._find(peer, tag)
        if flow is None and peer != EID_NULL:
            flow = self._find(EID_NULL, tag)
        return flow

    def _find(self, peer, tag):
        for flow in self.flows:
            if flow.used and flow.peer == peer and flow.tag == tag:
                return flow
        return None

    def close(self, flow):
        flow.used = False
        flow.owner = -1

    def close_owner(self, owner):
        """End every flow of `owner` (its handle was dropped): late responses are then dropped."""
        for flow in self.flows:
            if flow.used and flow.owner == owner:
                self.close(flow)

    def expire(self, now):
        """End flows older than the expiry time; return how many."""
        count = 0
        for flow in self.flows:
            if flow.used and ticks_diff(now, flow.started) >= self.expiry_ms:
                self.close(flow)
                count += 1
        return count

    def until_expiry(self, now):
        """Milliseconds until the next flow expires (0: overdue), or -1 when none is open."""
        return until_expiry(self.flows, self.expiry_ms, now)

    def in_use(self):
        count = 0
        for flow in self.flows:
            if flow.used:
                count += 1
        return count
