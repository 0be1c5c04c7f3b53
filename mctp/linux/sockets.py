# AF_MCTP sockets and struct sockaddr_mctp (include/uapi/linux/mctp.h), for both interpreters.
#
# MicroPython's unix port takes integer families and raw socket addresses (bytes) as they are.
# CPython's socket module knows no AF_MCTP: it opens the socket and polls it, but refuses such an
# address for bind() and sendto() and cannot return one from recvfrom() ("getsockaddrlen: bad
# family"), so those three go through libc with ctypes.

import select
import socket
import struct

from .._compat import const

AF_MCTP = const(45)
MCTP_NET_ANY = const(0)
MCTP_ADDR_ANY = const(0xFF)  # bind: requests to any of our EIDs
MCTP_TAG_MASK = const(0x07)
MCTP_TAG_OWNER = const(0x08)  # send: a request, its tag allocated (and owned) by the kernel

# struct sockaddr_mctp: family, pad, network, EID, type byte, tag, pad; 12 bytes, every field at
# its natural alignment, in the host's byte order.
_SOCKADDR = "@HHIBBBB"
SOCKADDR_SIZE = const(12)
_EID = const(8)
_TYPE = const(9)
_TAG = const(10)


def sockaddr(net, eid, type_byte, tag):
    """A struct sockaddr_mctp, as bytes."""
    return struct.pack(_SOCKADDR, AF_MCTP, 0, net, eid, type_byte, tag, 0)


def parse_sockaddr(addr):
    """(EID, type byte, tag with the TO bit) of an address recvfrom() returned, or None when it
    is not an MCTP address (a malformed answer)."""
    if len(addr) < SOCKADDR_SIZE or struct.unpack_from("@H", addr, 0)[0] != AF_MCTP:
        return None
    return addr[_EID], addr[_TYPE], addr[_TAG]


def open_socket():
    """A new AF_MCTP datagram socket (OSError EAFNOSUPPORT on a kernel without MCTP)."""
    return socket.socket(AF_MCTP, socket.SOCK_DGRAM, 0)


def poller_for(sock):
    """A select.poll that tells when `sock` has a message."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return poller


try:
    import ctypes
except ImportError:  # MicroPython: its socket takes raw addresses

    def bind(sock, addr):
        sock.bind(addr)

    def sendto(sock, data, addr):
        sock.sendto(data, addr)

    def recvfrom(sock, size, flags):
        """(message, its struct sockaddr_mctp as bytes)."""
        return sock.recvfrom(size, flags)

else:
    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.sendto.restype = ctypes.c_ssize_t
    _libc.recvfrom.restype = ctypes.c_ssize_t

    def _checked(result):
        if result < 0:
            number = ctypes.get_errno()
            raise OSError(number, _strerror(number))

    def _strerror(number):
        import os  # noqa: PLC0415 (CPython only)

        return os.strerror(number)

    def bind(sock, addr):
        _checked(_libc.bind(sock.fileno(), addr, len(addr)))

    def sendto(sock, data, addr):
        data = bytes(data)
        _checked(_libc.sendto(sock.fileno(), data, len(data), 0, addr, len(addr)))

    def recvfrom(sock, size, flags):
        """(message, its struct sockaddr_mctp as bytes)."""
        data = ctypes.create_string_buffer(size)
        addr = ctypes.create_string_buffer(SOCKADDR_SIZE)
        addr_len = ctypes.c_uint32(SOCKADDR_SIZE)
        got = _libc.recvfrom(sock.fileno(), data, size, flags, addr, ctypes.byref(addr_len))
        _checked(got)
        return data.raw[:got], addr.raw[: min(addr_len.value, SOCKADDR_SIZE)]
