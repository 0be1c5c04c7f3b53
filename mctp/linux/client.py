# SocketClient: an MctpClient over the Linux kernel's MCTP stack (AF_MCTP sockets), so an
# application written against the Stack facade runs on a Linux host whose MCTP links (serial,
# I2C, USB, ...) the kernel drives, on CPython or the MicroPython unix port.
#
# Each handle is a socket. A request handle is an unbound socket: a request leaves with
# MCTP_TAG_OWNER, the kernel picks the tag and delivers the response to that socket alone, so
# send() returns None for a request (the tag is the kernel's; the response's RecvMetadata says
# which it was). A listener is a socket bound to its message type on any local EID; a response
# leaves from one shared unbound socket, with the request's tag and TO clear.
#
# The errors are the other clients': BAD_ARGUMENT for a stale or forged handle, a reserved EID
# or no route; ADDR_IN_USE for a message type another socket has bound (in any process);
# NO_SPACE for a payload over the limit, no free tag, no free handle (max_handles) or a buffer
# too small (with `size`; the message stays queued); TIMED_OUT; INTERNAL_ERROR, with the
# kernel's errno in `detail`, for the rest. A message larger than the contract's limit cannot
# be delivered whole: it is dropped and counted (`dropped`), as the in-process stack does.

from .._compat import ticks_diff, ticks_ms
from ..api import Handle, MctpClient
from ..bufcopy import copy_into
from ..constants import MAX_PAYLOAD_SIZE, MSG_IC_BIT, MSG_TYPE_MAX, TAG_MAX, is_valid_remote_eid
from ..errors import MctpError, ResponseCode
from ..ops import (
    check_handle,
    check_opt_u8,
    check_payload,
    check_u8,
    check_u32,
    check_writable,
    payload_length,
    recv_metadata,
)
from .netlink import NetlinkError, Rtnetlink, error_name, interface_index, mctp_interfaces
from .sockets import (
    MCTP_ADDR_ANY,
    MCTP_NET_ANY,
    MCTP_TAG_MASK,
    MCTP_TAG_OWNER,
    bind,
    open_socket,
    parse_sockaddr,
    poller_for,
    recvfrom,
    sendto,
    sockaddr,
)

_EADDRINUSE = 98
_EHOSTUNREACH = 113
_ENETUNREACH = 101
_EAGAIN = 11
_EBUSY = 16
_MSG_PEEK = 2
MAX_HANDLES = 16

_REQUEST = 0
_LISTENER = 1


class _Slot:
    # What a handle names: its socket, and for a request handle the EID it is bound to.

    def __init__(self, kind, sock, eid):
        self.kind = kind
        self.sock = sock
        self.poller = poller_for(sock)
        self.eid = eid
        self.awaiting = False  # a request went and its response has not been received
        self.receiving = False  # a task's receive waits on it (mctp.aio.linux)

    def close(self):
        self.sock.close()


class SocketClient(MctpClient):
    """An MctpClient over the kernel's AF_MCTP sockets.

    interface: the MCTP network device whose EID get_eid() reports and set_eid() sets (default:
    the only one there is); net: the MCTP network (default: the kernel's default one);
    max_handles: request and listener handles open at once. Close it (or use `with`) to close
    its sockets."""

    def __init__(self, interface=None, net=MCTP_NET_ANY, max_handles=MAX_HANDLES):
        self.interface = interface
        self.net = net
        self.max_handles = max_handles
        self._slots = {}
        self._next_handle = 1
        self._responder = None  # the socket responses leave from, opened with the first
        self._netlink = Rtnetlink()
        self.dropped = 0  # messages too large for any receive, or not MCTP
        self.last_error = None  # the MctpError the last failed call raised

    def close(self):
        for slot in self._slots.values():
            slot.close()
        self._slots.clear()
        if self._responder is not None:
            self._responder.close()
            self._responder = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fail(self, code, detail=None, size=0):
        self.last_error = MctpError(code, size, detail)
        raise self.last_error

    def _os_fail(self, error, what):
        # An OSError from the kernel carries its errno; one the interpreter raised itself (a
        # refused argument, say) only its text.
        number = error.args[0] if error.args else 0
        reason = error_name(number) if isinstance(number, int) else error
        self._fail(ResponseCode.INTERNAL_ERROR, "%s: %s" % (what, reason))

    # Handles.

    def req(self, eid):
        check_u8(eid, "eid")
        if not is_valid_remote_eid(eid):
            self._fail(ResponseCode.BAD_ARGUMENT, "EID %d is reserved or broadcast" % eid)
        self._check_room()
        return self._add(_Slot(_REQUEST, self._open(), eid))

    def listener(self, msg_type):
        check_u8(msg_type, "msg_type")
        if msg_type > MSG_TYPE_MAX:
            self._fail(ResponseCode.BAD_ARGUMENT, "message type %d is more than 7 bits" % msg_type)
        self._check_room()
        sock = self._open()
        try:
            bind(sock, sockaddr(self.net, MCTP_ADDR_ANY, msg_type, 0))
        except OSError as e:
            sock.close()
            if e.args and e.args[0] == _EADDRINUSE:
                self._fail(
                    ResponseCode.ADDR_IN_USE, "message type %d already has a listener" % msg_type
                )
            self._os_fail(e, "bind")
        return self._add(_Slot(_LISTENER, sock, None))

    def _check_room(self):
        if len(self._slots) >= self.max_handles:
            self._fail(
                ResponseCode.NO_SPACE,
                "no free handle (%d in use: a channel not closed?)" % len(self._slots),
            )

    def _open(self):
        try:
            return open_socket()
        except OSError as e:
            self._os_fail(e, "AF_MCTP socket")

    def _add(self, slot):
        value = self._next_handle
        # Handles are not reused until the u32 wraps, so a stale one is told from a live one.
        self._next_handle = value + 1 if value < 0xFFFFFFFF else 1
        self._slots[value] = slot
        return Handle(value)

    def _slot(self, handle):
        check_handle(handle)
        slot = self._slots.get(handle.value)
        if slot is None:
            self._fail(
                ResponseCode.BAD_ARGUMENT,
                "handle %r is not open (released, or never this client's)" % handle,
            )
        return slot

    def drop_handle(self, handle):
        check_handle(handle)
        slot = self._slots.pop(handle.value, None)
        if slot is not None:
            slot.close()

    def handles_in_use(self):
        return len(self._slots)

    # Receiving.

    def recv(self, handle, timeout_ms, buf, meta=None):
        slot = self._receiving(handle, timeout_ms, buf)
        meta = recv_metadata(meta)  # (None: the contract's three-argument form)
        capacity = min(len(buf), MAX_PAYLOAD_SIZE)
        start = ticks_ms()
        while True:
            wait = self._wait_left(timeout_ms, start)
            if not slot.poller.poll(wait) and wait >= 0:
                self._timed_out(timeout_ms)
            if self._take(slot, buf, capacity, meta):
                return meta

    # What the blocking and the awaitable receive (mctp.aio.linux) share: only the wait for
    # the socket to have a message is theirs.

    def _receiving(self, handle, timeout_ms, buf):
        # A receive's arguments checked (nothing is written into a buffer that refuses it); the
        # handle's socket slot.
        check_u32(timeout_ms, "timeout_ms")
        check_writable(buf, "buf")
        return self._slot(handle)

    def _wait_left(self, timeout_ms, start):
        # How long a receive may wait now, in ms (-1: for ever); TIMED_OUT once none is left.
        if not timeout_ms:
            return -1
        wait = timeout_ms - ticks_diff(ticks_ms(), start)
        if wait <= 0:
            self._timed_out(timeout_ms)
        return wait

    def _timed_out(self, timeout_ms):
        self._fail(ResponseCode.TIMED_OUT, "no message within %d ms" % timeout_ms)

    def _take(self, slot, buf, capacity, meta):
        # The message waiting on slot's socket into buf, and True; False when it was dropped.
        # It is peeked at first: one too large for buf stays queued (NO_SPACE with its size).
        try:
            data, addr = recvfrom(slot.sock, MAX_PAYLOAD_SIZE + 1, _MSG_PEEK)
        except OSError as e:
            self._os_fail(e, "recvfrom")
        source = parse_sockaddr(addr)
        size = len(data)
        if source is None or size > MAX_PAYLOAD_SIZE:
            self.dropped += 1
            slot.sock.recv(1)
            return False
        if size > capacity:
            self._fail(
                ResponseCode.NO_SPACE,
                "the message needs a buffer of %d bytes; it stays queued" % size,
                size,
            )
        slot.sock.recv(1)  # the datagram peeked at goes (a datagram is read whole or not)
        copy_into(buf, 0, data, 0, size)
        slot.awaiting = False
        type_byte = source[1]
        meta.set(
            type_byte & MSG_TYPE_MAX,
            bool(type_byte & MSG_IC_BIT),
            source[2] & MCTP_TAG_MASK,
            source[0],
            size,
        )
        return True

    # Sending.

    def send(self, handle, msg_type, eid, tag, integrity_check, buf, length=None):
        check_payload(buf, "payload")
        check_u8(msg_type, "msg_type")
        check_opt_u8(eid, "eid")
        check_opt_u8(tag, "tag")
        if msg_type > MSG_TYPE_MAX:
            self._fail(ResponseCode.BAD_ARGUMENT, "message type %d is more than 7 bits" % msg_type)
        size = payload_length(buf, length)
        if size > MAX_PAYLOAD_SIZE:
            self._fail(
                ResponseCode.NO_SPACE,
                "a payload of %d bytes is more than the contract's limit of %d"
                % (size, MAX_PAYLOAD_SIZE),
            )
        type_byte = msg_type | MSG_IC_BIT if integrity_check else msg_type
        payload = buf if size == len(buf) else memoryview(buf)[:size]
        if handle is None:
            if eid is None or tag is None or tag > TAG_MAX or not is_valid_remote_eid(eid):
                self._fail(ResponseCode.BAD_ARGUMENT, "a response needs an EID and a tag (0..7)")
            self._sendto(self._response_socket(), payload, eid, type_byte, tag)
            return tag
        slot = self._slot(handle)
        if slot.kind != _REQUEST or tag is not None or (eid is not None and eid != slot.eid):
            self._fail(
                ResponseCode.BAD_ARGUMENT,
                "a request handle sends to its own EID with a tag the kernel picks",
            )
        if slot.awaiting:
            self._abandon(slot)
        self._sendto(slot.sock, payload, slot.eid, type_byte, MCTP_TAG_OWNER)
        slot.awaiting = True
        return None  # the kernel's tag: the response's metadata tells it

    def _abandon(self, slot):
        # The last request was not answered (its receive failed or was never made). Its tag is
        # the old socket's until it expires: a new socket lets a late response to it find no
        # one, instead of passing for the new request's.
        sock = self._open()
        slot.close()
        slot.sock = sock
        slot.poller = poller_for(sock)

    def _response_socket(self):
        if self._responder is None:
            self._responder = self._open()
        return self._responder

    def _sendto(self, sock, payload, eid, type_byte, tag):
        try:
            sendto(sock, payload, sockaddr(self.net, eid, type_byte, tag))
        except OSError as e:
            number = e.args[0] if e.args else 0
            if number in (_EHOSTUNREACH, _ENETUNREACH):
                self._fail(ResponseCode.BAD_ARGUMENT, "no route to EID %d" % eid)
            if number in (_EAGAIN, _EBUSY):
                self._fail(
                    ResponseCode.NO_SPACE,
                    "no free tag for EID %d (every tag to it awaits an answer)" % eid,
                )
            self._os_fail(e, "sendto EID %d" % eid)

    # The local EID, which the kernel keeps per network device.

    def get_eid(self):
        """The first EID of the interface (0 when it has none)."""
        try:
            found = self._netlink.addresses(self._index())
        except (NetlinkError, OSError) as e:
            self._os_fail(e, "netlink")
        return found[0][1] if found else 0

    def set_eid(self, eid):
        """Make `eid` the interface's only EID (needs CAP_NET_ADMIN)."""
        check_u8(eid, "eid")
        if not (eid and is_valid_remote_eid(eid)):
            self._fail(ResponseCode.BAD_ARGUMENT, "EID %d is reserved or broadcast" % eid)
        index = self._index()
        try:
            old = self._netlink.addresses(index)
            if (index, eid) not in old:
                self._netlink.add_address(index, eid)
            for address in old:
                if address[1] != eid:
                    self._netlink.remove_address(index, address[1])
        except (NetlinkError, OSError) as e:
            self._os_fail(e, "netlink")

    def _index(self):
        # The interface's index: the one named, or the only MCTP device.
        name = self.interface
        if name is None:
            names = mctp_interfaces()
            if len(names) != 1:
                self._fail(
                    ResponseCode.INTERNAL_ERROR,
                    "%d MCTP interfaces (%s): SocketClient(interface=...) says which"
                    % (len(names), ", ".join(names)),
                )
            name = names[0]
        index = interface_index(name)
        if index is None:
            self._fail(ResponseCode.INTERNAL_ERROR, "no network interface %r" % name)
        return index
