# EID <-> physical address on one link, for media with addresses (SMBus/I2C). Entries are
# configured (static, never replaced) or learned from received packets (replaced oldest
# first when the table is full). Fixed size, allocation-free lookups.


class Neighbours:
    def __init__(self, count):
        self._eid = bytearray(count)
        self._addr = bytearray(count)
        self._state = bytearray(count)  # 0 free, 1 learned, 2 static
        self._next = 0  # the learned entry replaced next

    def _find(self, eid):
        i = 0
        while i < len(self._eid):
            if self._state[i] and self._eid[i] == eid:
                return i
            i += 1
        return -1

    def _take(self, eid):
        # The entry for `eid`: its own, a free one, or the next learned one to replace.
        i = self._find(eid)
        if i >= 0:
            return i
        i = 0
        while i < len(self._eid):
            if not self._state[i]:
                return i
            i += 1
        count = len(self._eid)
        i = 0
        while i < count:
            j = (self._next + i) % count
            if self._state[j] == 1:
                self._next = (j + 1) % count
                return j
            i += 1
        return -1

    def set(self, eid, addr):
        """Configure `eid` at `addr` for good (learning never changes it)."""
        i = self._take(eid)
        if i < 0:
            raise ValueError("neighbour table full of static entries")
        self._eid[i] = eid
        self._addr[i] = addr
        self._state[i] = 2

    def learn(self, eid, addr):
        """`eid` was seen sending from `addr`."""
        i = self._take(eid)
        if i >= 0 and self._state[i] != 2:
            self._eid[i] = eid
            self._addr[i] = addr
            self._state[i] = 1

    def lookup(self, eid):
        """The address of `eid`, or -1."""
        i = self._find(eid)
        return self._addr[i] if i >= 0 else -1

    def forget(self, eid):
        i = self._find(eid)
        if i >= 0:
            self._state[i] = 0

    def entries(self):
        """(eid, addr, static) for every entry, for the REPL."""
        return [
            (self._eid[i], self._addr[i], self._state[i] == 2)
            for i in range(len(self._eid))
            if self._state[i]
        ]
