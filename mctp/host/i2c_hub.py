# An I2C bus with any number of devices on the host, in the format of the UDP I2C bus
# (i2c_udp: one datagram is one complete SMBus frame, destination address byte first, PEC
# last): every device sends its frames to the hub's port, and the hub delivers each to the
# device at the frame's destination address. pymctp's exerciser socket, libmctp's UDP harness
# and run_endpoint.py join it as they join a peer, with the hub's port as their peer port.
#
#     hub = I2CHub(0)                       # on a free port: hub.port
#     hub.add_device(0x1D, 47301)           # optional: a device known before it sends
#     hub.service()                         # delivers what is waiting (or hub.run())
#
# Where a device is. The hub learns it from each well-formed frame the device sends (command
# 0x0F, byte count matching the length, PEC right): the source address byte names the device,
# the datagram's source port is where its frames go, as a device sends from the port it
# receives on (pymctp's exerciser does; UdpI2C given its target's socket does). A device that
# has sent nothing yet (an endpoint waiting for Set EID) is unknown: it announces itself with
# HELLO, a frame to its own address that carries no packet (byte count 1: the source address
# only), which the hub takes in and does not deliver; or it is given to the hub beforehand
# (add_device, `--device ADDR=PORT`). Such a static entry is never changed by learning; a
# learned one follows the device's latest port (a device restarted on another).
#
# NACK. On a real bus a write to an address nobody holds is not acknowledged and the
# controller's writeto raises ENODEV. This format has no acknowledgement: the sender's
# writeto returns once the datagram is sent, before the hub has seen it, so no later datagram
# could be matched to the write it refuses, and one sent back would reach the sender's target
# socket as noise (counted as ignored by UdpI2CTarget, a truncated frame by others). So the
# hub drops such a frame and counts it (no_such_device, and per address in `absent`); the
# sender learns of it as it would of a device that vanished: its request times out.
#
# No general call: MCTP over SMBus does not use it (DSP0237 carries broadcast EIDs to one
# address at a time), so a frame to address 0x00 is like one to any address nobody holds.
#
# A datagram the hub cannot route is dropped and counted: one longer than the longest frame
# (too_long), one without a source address byte or with the destination's read bit set
# (malformed: the format carries writes only). Everything else is delivered as it came,
# wrong PEC or byte count included, for the target to check and count, as on a real bus.
# Nothing raises out of service() or run(). A host simulation: it allocates per datagram.

from ..i2c.pec import pec
from ..i2c.smbus import ADDR_MAX, ADDR_MIN, CMD_MCTP, COUNT_AT, SOURCE_AT, seal_frame
from .i2c_udp import bound_socket, udp_address

MAX_FRAME = 259  # address, command, count, source, a 254-byte packet, PEC
_HELLO_LENGTH = 5  # address, command, count 1, source, PEC

COUNTER_NAMES = (
    "delivered",
    "announced",
    "no_such_device",
    "malformed",
    "too_long",
    "send_failed",
)


def _check_device(addr):
    if not ADDR_MIN <= addr <= ADDR_MAX:
        raise ValueError("device address 0x%02x is not within 0x08..0x77" % addr)


def hello(addr):
    """The bytes after the address byte of the frame by which the device at 7-bit `addr`
    announces itself: UdpI2C.writeto(addr, hello(addr)) sends it."""
    _check_device(addr)
    frame = bytearray(_HELLO_LENGTH)
    seal_frame(frame, addr, addr, 0)  # (a frame with no packet: the source, then the PEC)
    return bytes(frame[1:])


def _source(frame, length):
    # The sender's 7-bit address when the frame is a well-formed SMBus block write from a
    # device address (what the hub learns from), else None.
    if length < _HELLO_LENGTH or frame[1] != CMD_MCTP or frame[COUNT_AT] != length - 4:
        return None
    source = frame[SOURCE_AT]
    if not source & 1 or not ADDR_MIN <= source >> 1 <= ADDR_MAX:
        return None
    if pec(frame, 0, length - 1, 0) != frame[length - 1]:
        return None
    return source >> 1


class I2CHub:
    """The hub on UDP `port` of `host` (0: a free one, then read `.port`); `devices`:
    (address, port) pairs known from the start."""

    def __init__(self, port=0, host="127.0.0.1", devices=()):
        if not 0 <= port <= 65535:
            raise ValueError("hub port %d is not within 0..65535" % port)
        self._host = host
        self.devices = {}  # 7-bit address -> the UDP address its frames go to
        self.static = set()  # addresses given, not learned
        self.absent = {}  # 7-bit address -> frames to it that nobody took
        for name in COUNTER_NAMES:
            setattr(self, name, 0)
        for addr, device_port in devices:
            self.add_device(addr, device_port)
        self.sock, self.port = bound_socket(host, port)

    def add_device(self, addr, port):
        """Deliver frames for 7-bit `addr` to UDP `port` from now on, whatever it sends."""
        _check_device(addr)
        if not 1 <= port <= 65535:
            raise ValueError("device port %d is not within 1..65535" % port)
        self.devices[addr] = udp_address(self._host, port)
        self.static.add(addr)

    def device_port(self, addr):
        """The UDP port where frames for 7-bit `addr` go (None: no such device)."""
        where = self.devices.get(addr)
        if where is None:
            return None
        if isinstance(where, tuple):
            return where[1]
        return where[2] << 8 | where[3]  # MicroPython: a struct sockaddr_in, port big-endian

    def counts(self):
        """(name, value) of each counter."""
        return tuple((name, getattr(self, name)) for name in COUNTER_NAMES)

    def service(self, budget=64):
        """Deliver up to `budget` datagrams waiting (the rest wait for the next call); how
        many were taken."""
        taken = 0
        while taken < budget:
            try:
                datagram, sender = self.sock.recvfrom(MAX_FRAME + 1)
            except OSError:
                break  # nothing (more) waiting
            taken += 1
            self._route(datagram, sender)
        return taken

    def run(self, running=None):
        """Deliver datagrams as they come until `running()` is False (checked at least every
        100 ms) or a KeyboardInterrupt."""
        import select  # noqa: PLC0415

        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        while running is None or running():
            if poller.poll(100):
                self.service()

    def _route(self, datagram, sender):
        length = len(datagram)
        if length > MAX_FRAME:
            self.too_long += 1
            return
        if length <= SOURCE_AT or datagram[0] & 1:
            self.malformed += 1
            return
        dest = datagram[0] >> 1
        source = _source(datagram, length)
        if source is not None and source not in self.static:
            self.devices[source] = sender
        if source == dest and length == _HELLO_LENGTH:
            self.announced += 1
            return
        where = self.devices.get(dest)
        if where is None:
            self.no_such_device += 1
            self.absent[dest] = self.absent.get(dest, 0) + 1
            return
        try:
            self.sock.sendto(datagram, where)
        except OSError:
            self.send_failed += 1
            return
        self.delivered += 1

    def close(self):
        self.sock.close()
