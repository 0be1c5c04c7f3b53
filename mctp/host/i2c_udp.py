# The I2C bus over UDP on loopback, in the format of pymctp's QEMU I2C exerciser: one datagram
# is one complete SMBus frame, destination address byte first and PEC last. Any tool that
# speaks it can talk to a stack on the host, with I2CLink unchanged on top.
#
#     target = UdpI2CTarget(0x1D, 0)     # frames for address 0x1D, on a free port: target.port
#     i2c = UdpI2C(peer_port)            # frames we send go to 127.0.0.1:peer_port
#     link = I2CLink(i2c, target, 0x1D)
#
# Under asyncio, mctp.aio.watch(target.sock, task.wake) wakes the stack task when a frame comes.
#
# The target models a bus whose targets stretch the clock: datagrams stay queued in the socket
# while the link's receive ring is full, so a burst from a fast peer is taken in as the link
# polls instead of being lost. A port already in use is refused (no SO_REUSEADDR), so two
# stacks never share one by accident.
#
# A host simulation: it allocates per datagram, unlike the binding itself.

import os
import socket

from ..bufcopy import copy_into
from .i2c_sim import TargetSim

_MAX_DATAGRAM = 300
_DYNAMIC_PORTS = 49152  # the IANA dynamic range, 49152..65535
_PORT_TRIES = 200


def udp_address(host, port):
    return socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]


def bind(sock, host, port):
    """Bind `sock` to `port` on `host` (0: a free port) and return the port bound. OSError
    (EADDRINUSE) when the port is taken."""
    if port or hasattr(sock, "getsockname"):
        sock.bind(udp_address(host, port))
        return port or sock.getsockname()[1]
    # MicroPython's sockets cannot say which port the system chose: try ports of the dynamic
    # range at random until a bind succeeds (the bind itself is the test that it is free).
    for _ in range(_PORT_TRIES):
        raw = os.urandom(2)
        candidate = _DYNAMIC_PORTS + (raw[0] << 8 | raw[1]) % (65536 - _DYNAMIC_PORTS)
        try:
            sock.bind(udp_address(host, candidate))
            return candidate
        except OSError:
            pass
    raise OSError("no free UDP port found")


def bound_socket(host, port):
    """A non-blocking UDP socket bound as bind() binds one, and the port bound. OSError
    (EADDRINUSE) when the port is taken; the socket is then closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        port = bind(sock, host, port)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock, port


class UdpI2C:
    """The controller side: writeto(addr, buf) sends [addr << 1] + buf as one datagram to
    `peer_port` (or, when that is None, to the port given to connect() later). `sock`: send
    from this socket (the target's) instead of one of our own, so that frames leave from the
    port where answers come in, as pymctp's exerciser sends: a hub (i2c_hub) learns that port
    from them."""

    def __init__(self, peer_port=None, host="127.0.0.1", sock=None):
        self._own_sock = sock is None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if sock is None else sock
        self._host = host
        self._peer = None
        if peer_port is not None:
            self.connect(peer_port)
        self._out = bytearray(_MAX_DATAGRAM)
        self.tap = None  # tap(frame) sees every frame sent, address byte first (for traces)

    def connect(self, peer_port):
        """Send to `peer_port` from now on (a peer whose port is known only once it runs)."""
        self._peer = udp_address(self._host, peer_port)

    def writeto(self, addr, buf, stop=True):
        length = len(buf)
        self._out[0] = addr << 1
        copy_into(self._out, 1, buf, 0, length)
        self._send(length + 1)
        return length

    def _send(self, length):
        frame = memoryview(self._out)[:length]
        self._sock.sendto(frame, self._peer)
        if self.tap is not None:
            self.tap(bytes(frame))

    def close(self):
        if self._own_sock:
            self._sock.close()


class UdpI2CTarget(TargetSim):
    """The target side: frames arriving on `port` (0: a free one, then read `.port`) for
    `addr` reach the IRQ handler, in the event order of machine.I2CTarget, when the link polls
    (service(room)): at most `room` frames each time, the rest wait in the socket. `mem`: a
    memory-mode target's memory, as machine.I2CTarget's (see TargetSim)."""

    def __init__(self, addr, port=0, host="127.0.0.1", fifo=16, mem=None):
        super().__init__(addr, fifo, mem)
        # (non-blocking: under asyncio, watch(target.sock, wake), mctp.aio)
        self.sock, self.port = bound_socket(host, port)
        self.ignored = 0  # datagrams addressed to someone else
        self.tap = None  # tap(frame) sees every frame for us, address byte first (for traces)

    def service(self, room):
        while room > 0:
            try:
                datagram = self.sock.recv(_MAX_DATAGRAM)
            except OSError:
                return  # nothing (more) waiting
            if not datagram or datagram[0] != self.addr << 1:
                self.ignored += 1
                continue
            if self.tap is not None:
                self.tap(datagram)
            self._written(memoryview(datagram)[1:], len(datagram) - 1)
            room -= 1

    def close(self):
        self.sock.close()
