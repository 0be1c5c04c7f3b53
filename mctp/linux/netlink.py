# The kernel's MCTP addresses over rtnetlink (what the `mctp` tool and mctpd use): list the
# local EIDs of each MCTP network device, add one, remove one. Messages are packed by hand,
# so the same code runs on CPython and on the MicroPython unix port, which has a netlink
# socket (an integer family) but no netlink module.

import errno as _errno
import os
import socket
import struct

from .._compat import const
from .sockets import AF_MCTP

_AF_NETLINK = const(16)
_SOCK_RAW = const(3)
_NETLINK_ROUTE = const(0)
_NLMSG_ERROR = const(2)
_NLMSG_DONE = const(3)
RTM_NEWADDR = const(20)
RTM_DELADDR = const(21)
_RTM_GETADDR = const(22)
_NLM_F_REQUEST = const(0x001)
_NLM_F_ACK = const(0x004)
_NLM_F_DUMP = const(0x300)
_NLM_F_EXCL = const(0x200)
_NLM_F_CREATE = const(0x400)
_IFA_LOCAL = const(2)
_HEADER = "@IHHII"  # struct nlmsghdr: length, type, flags, sequence, port
_HEADER_SIZE = const(16)
_IFADDRMSG = "@BBBBI"  # family, prefix length, flags, scope, interface index
_IFADDRMSG_SIZE = const(8)
_ARPHRD_MCTP = const(290)  # /sys/class/net/<name>/type of an MCTP device
_SYS_NET = "/sys/class/net/"


class NetlinkError(Exception):
    """The kernel refused a request: `errno` (positive) says why."""

    def __init__(self, errno, what):
        super().__init__(errno, what)
        self.errno = errno
        self.what = what

    def __str__(self):
        return "%s: %s" % (self.what, error_name(self.errno))


# What the kernel's MCTP and netlink code may answer that MicroPython's errno module does not
# name (Linux's numbers on x86 and ARM).
_MORE_NAMES = {16: "EBUSY", 71: "EPROTO", 90: "EMSGSIZE", 97: "EAFNOSUPPORT", 99: "EADDRNOTAVAIL"}
_MORE_NAMES[101] = "ENETUNREACH"


def error_name(number):
    """EPERM for 1, and so on."""
    return _errno.errorcode.get(number) or _MORE_NAMES.get(number) or "errno %d" % number


def address_request(msg_type, seq, index, eid=None):
    """An RTM_NEWADDR or RTM_DELADDR for `eid` on interface `index` (with an
    acknowledgement), or with msg_type RTM_GETADDR (eid None) the dump of the MCTP addresses of
    `index` (0: of every interface)."""
    if eid is None:
        flags = _NLM_F_REQUEST | _NLM_F_DUMP
        length = _HEADER_SIZE + _IFADDRMSG_SIZE
    else:
        flags = _NLM_F_REQUEST | _NLM_F_ACK
        if msg_type == RTM_NEWADDR:
            flags |= _NLM_F_CREATE | _NLM_F_EXCL
        length = _HEADER_SIZE + _IFADDRMSG_SIZE + 8  # IFA_LOCAL: a u8, its attribute padded
    msg = bytearray(length)
    struct.pack_into(_HEADER, msg, 0, length, msg_type, flags, seq, 0)
    struct.pack_into(_IFADDRMSG, msg, _HEADER_SIZE, AF_MCTP, 0, 0, 0, index)
    if eid is not None:
        struct.pack_into("@HHB", msg, _HEADER_SIZE + _IFADDRMSG_SIZE, 5, _IFA_LOCAL, eid)
    return msg


def parse_answer(data, seq, found):
    """Read one datagram of the kernel's answer to request `seq`: each address (interface
    index, EID) a dump reports goes into `found`. True when the answer is complete; raises
    NetlinkError (errno) when the kernel refused the request."""
    off = 0
    while off + _HEADER_SIZE <= len(data):
        length, msg_type, _flags, msg_seq, _port = struct.unpack_from(_HEADER, data, off)
        if length < _HEADER_SIZE or off + length > len(data):
            raise NetlinkError(71, "malformed netlink answer")  # EPROTO
        if msg_seq == seq:
            if msg_type == _NLMSG_DONE:
                return True
            if msg_type == _NLMSG_ERROR:
                error = struct.unpack_from("@i", data, off + _HEADER_SIZE)[0]
                if error:
                    raise NetlinkError(-error, "netlink")
                return True  # the acknowledgement
            if msg_type == RTM_NEWADDR:
                _read_address(data, off, length, found)
        off += (length + 3) & ~3
    return False


def _read_address(data, off, length, found):
    family, _prefix, _flags, _scope, index = struct.unpack_from(
        _IFADDRMSG, data, off + _HEADER_SIZE
    )
    if family != AF_MCTP:
        return
    at = off + _HEADER_SIZE + _IFADDRMSG_SIZE
    end = off + length
    while at + 4 <= end:
        attr_len, attr_type = struct.unpack_from("@HH", data, at)
        if attr_len < 4:
            return
        if attr_type == _IFA_LOCAL and attr_len >= 5:
            found.append((index, data[at + 4]))
        at += (attr_len + 3) & ~3


class Rtnetlink:
    """Requests to the kernel's routing netlink, one at a time."""

    def __init__(self):
        self._seq = 0

    def addresses(self, index=0):
        """[(interface index, EID)] of the MCTP addresses on `index` (0: every interface)."""
        found = []
        self._request(address_request(_RTM_GETADDR, self._next_seq(), index), found)
        return found

    def add_address(self, index, eid):
        self._request(address_request(RTM_NEWADDR, self._next_seq(), index, eid), None)

    def remove_address(self, index, eid):
        self._request(address_request(RTM_DELADDR, self._next_seq(), index, eid), None)

    def _next_seq(self):
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def _request(self, msg, found):
        sock = socket.socket(_AF_NETLINK, _SOCK_RAW, _NETLINK_ROUTE)
        try:
            sock.send(msg)  # an unconnected netlink socket sends to the kernel
            seq = struct.unpack_from(_HEADER, msg, 0)[3]
            while not parse_answer(sock.recv(8192), seq, [] if found is None else found):
                pass
        finally:
            sock.close()


def interface_index(name):
    """The index of network interface `name`, or None when there is none."""
    try:
        with open(_SYS_NET + name + "/ifindex") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def mctp_interfaces():
    """The names of the MCTP network devices (sorted), from sysfs."""
    names = []
    try:
        listing = os.listdir(_SYS_NET)
    except OSError:
        return names
    for name in listing:
        try:
            with open(_SYS_NET + name + "/type") as f:
                if int(f.read()) == _ARPHRD_MCTP:
                    names.append(name)
        except (OSError, ValueError):
            continue
    names.sort()
    return names
