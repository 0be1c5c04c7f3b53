# An echo service on the PCI vendor-defined message type (0x7E, DSP0236 13.1): a request whose
# first two bytes are our PCI vendor ID (big-endian) is answered with the same bytes; one for
# another vendor is dropped and counted. Served without allocation (firmware/service.py).

from mctp.constants import MSG_TYPE_VENDOR_PCI

from .service import Service


class VendorEcho(Service):
    def __init__(self, stack, server, vendor_id, buf=None):
        if not 0 <= vendor_id <= 0xFFFF:
            raise ValueError("a PCI vendor ID is 16 bits")
        super().__init__(
            stack, server, MSG_TYPE_VENDOR_PCI, ("echoed", "other_vendor", "too_short"), buf
        )
        self.vendor_id = vendor_id
        self._hi = vendor_id >> 8
        self._lo = vendor_id & 0xFF

    def serve(self, length):
        buf = self.buf
        if length < 2:
            self.counters.too_short += 1
        elif buf[0] != self._hi or buf[1] != self._lo:
            self.counters.other_vendor += 1
        else:
            # self.answer(buf, False, length), from this frame ([c-stack]; Service).
            self._resp._stage(buf, False, length)
            self._client.send_call(self._resp._call)
            self._resp._call.buf = None
            self.counters.echoed += 1
