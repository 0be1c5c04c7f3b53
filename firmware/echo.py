# An echo service on the PCI vendor-defined message type (0x7E, DSP0236 13.1): a request whose
# first two bytes are our PCI vendor ID (big-endian) is answered with the same bytes; one for
# another vendor is dropped and counted. Served without allocation: one buffer, one metadata
# object and one response channel, reused.

from mctp import RecvMetadata
from mctp.constants import MAX_PAYLOAD_SIZE, MSG_TYPE_VENDOR_PCI
from mctp.counters import Counters


class VendorEcho:
    def __init__(self, stack, server, vendor_id):
        if not 0 <= vendor_id <= 0xFFFF:
            raise ValueError("a PCI vendor ID is 16 bits")
        self.vendor_id = vendor_id
        self.server = server
        self.listener = stack.listener(MSG_TYPE_VENDOR_PCI)
        self.counters = Counters(("echoed", "other_vendor", "too_short"))
        self._buf = bytearray(MAX_PAYLOAD_SIZE)
        self._meta = RecvMetadata()
        self._resp = self.listener.resp_channel()
        self._hi = vendor_id >> 8
        self._lo = vendor_id & 0xFF

    def poll(self):
        """Serve the requests waiting; how many."""
        served = 0
        while self.server.queued(self.listener.handle.value):
            self._serve(self.listener.recv_into(self._buf, self._meta, self._resp))
            served += 1
        return served

    def _serve(self, length):
        buf = self._buf
        if length < 2:
            self.counters.too_short += 1
        elif buf[0] != self._hi or buf[1] != self._lo:
            self.counters.other_vendor += 1
        else:
            self._resp.send(buf, False, length)
            self.counters.echoed += 1
