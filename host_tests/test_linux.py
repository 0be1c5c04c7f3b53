# mctp.linux without a kernel that has MCTP: the byte layout of struct sockaddr_mctp and of
# the rtnetlink address messages (checked against include/uapi/linux/mctp.h, rtnetlink.h and
# what net/mctp/device.c sends), the parsing of the kernel's answers, and the errors the
# client gives before any socket is involved or when the kernel has no AF_MCTP. The client
# against a real kernel: test_linux_socket.py.

from testing import needs_socket, raises

from mctp import Handle, MctpError, ResponseCode


def linux():
    needs_socket()
    from mctp.linux import netlink, sockets  # noqa: PLC0415 (sockets: host ports only)

    return sockets, netlink


def test_sockaddr_mctp_is_the_kernels_struct_byte_for_byte():
    sockets, _ = linux()
    # family 45 (u16), pad, network (u32), EID, type byte, tag (TO = 0x08), pad: little-endian
    # on the x86_64 and ARM hosts this runs on.
    addr = sockets.sockaddr(1, 9, 0x7E, sockets.MCTP_TAG_OWNER)
    assert bytes(addr) == bytes((45, 0, 0, 0, 1, 0, 0, 0, 9, 0x7E, 0x08, 0))
    assert sockets.parse_sockaddr(addr) == (9, 0x7E, 0x08)


def test_parse_sockaddr_takes_an_mctp_address_and_refuses_others():
    sockets, _ = linux()
    raw = bytes((45, 0, 0, 0, 0, 0, 0, 0, 0x1D, 0x81, 0x0B, 0))
    assert sockets.parse_sockaddr(raw) == (0x1D, 0x81, 0x0B)
    assert sockets.parse_sockaddr(bytes((2, 0)) + raw[2:]) is None
    assert sockets.parse_sockaddr(raw[:8]) is None  # short


def test_rtnetlink_address_requests_byte_for_byte():
    _, netlink = linux()
    # RTM_NEWADDR, NLM_F_REQUEST|ACK|EXCL|CREATE, seq 7; ifaddrmsg AF_MCTP on interface 3;
    # IFA_LOCAL (length 5, type 2) = EID 0x20, padded to 4 bytes.
    new = netlink.address_request(netlink.RTM_NEWADDR, 7, 3, 0x20)
    assert bytes(new) == bytes((32, 0, 0, 0, 20, 0, 0x05, 0x06, 7, 0, 0, 0, 0, 0, 0, 0)) + bytes(
        (45, 0, 0, 0, 3, 0, 0, 0, 5, 0, 2, 0, 0x20, 0, 0, 0)
    )
    gone = netlink.address_request(netlink.RTM_DELADDR, 8, 3, 0x20)
    assert bytes(gone[4:8]) == bytes((21, 0, 0x05, 0x00))  # RTM_DELADDR, REQUEST|ACK
    dump = netlink.address_request(22, 9, 0)  # RTM_GETADDR, REQUEST|DUMP, every interface
    assert bytes(dump) == bytes((24, 0, 0, 0, 22, 0, 0x01, 0x03, 9, 0, 0, 0, 0, 0, 0, 0)) + bytes(
        (45, 0, 0, 0, 0, 0, 0, 0)
    )


def new_address(seq, index, eid, family=45):
    # One RTM_NEWADDR as mctp_fill_addrinfo() writes it: IFA_LOCAL and IFA_ADDRESS, both u8.
    header = bytes((40, 0, 0, 0, 20, 0, 2, 0, seq, 0, 0, 0, 0, 0, 0, 0))
    info = bytes((family, 0, 0, 0, index, 0, 0, 0))
    return header + info + bytes((5, 0, 2, 0, eid, 0, 0, 0, 5, 0, 1, 0, eid, 0, 0, 0))


def done(seq, kind=3, error=0):
    return bytes((20, 0, 0, 0, kind, 0, 0, 0, seq, 0, 0, 0, 0, 0, 0, 0)) + (
        error & 0xFFFFFFFF
    ).to_bytes(4, "little")


def test_parse_answer_reads_a_dump_across_datagrams():
    _, netlink = linux()
    found = []
    assert not netlink.parse_answer(new_address(5, 3, 8) + new_address(5, 3, 0x20), 5, found)
    assert not netlink.parse_answer(new_address(4, 2, 99), 5, found)  # another request's
    assert not netlink.parse_answer(new_address(5, 1, 9, family=2), 5, found)  # not MCTP
    assert netlink.parse_answer(new_address(5, 4, 12) + done(5), 5, found)
    assert found == [(3, 8), (3, 0x20), (4, 12)]


def test_parse_answer_raises_the_kernels_refusal():
    _, netlink = linux()
    assert netlink.parse_answer(done(6, kind=2, error=0), 6, [])  # the acknowledgement
    with raises(netlink.NetlinkError) as caught:
        netlink.parse_answer(done(6, kind=2, error=-1), 6, [])
    assert caught.value.errno == 1 and "EPERM" in str(caught.value)
    with raises(netlink.NetlinkError):
        netlink.parse_answer(bytes((200, 0, 0, 0)) + done(6)[4:], 6, [])  # longer than sent


def test_arguments_are_refused_before_the_kernel_is_asked():
    needs_socket()
    from mctp.linux import SocketClient  # noqa: PLC0415

    client = SocketClient()
    for call, args in (
        (client.req, (0xFF,)),
        (client.req, (3,)),
        (client.listener, (0x80,)),
        (client.set_eid, (7,)),
        (client.send, (None, 0x7E, 9, 8, False, b"\xff\xff")),  # a tag is 0..7
        (client.send, (None, 0x7E, None, 1, False, b"\xff\xff")),  # a response needs an EID
    ):
        with raises(MctpError) as caught:
            call(*args)
        assert caught.value.code == ResponseCode.BAD_ARGUMENT, (call, args, caught.value)
    with raises(MctpError) as caught:
        client.send(None, 0x7E, 9, 1, False, bytes(1024))
    assert caught.value.code == ResponseCode.NO_SPACE
    assert "1024 bytes" in str(caught.value)
    with raises(TypeError) as caught:
        client.recv(None, 10, bytearray(4))  # a handle is a Handle, as the other clients say
    assert str(caught.value) == "handle must be a Handle (from req() or listener()), got None"
    client.drop_handle(Handle(5))  # unknown: ignored, as the contract says
    assert client.handles_in_use() == 0


def test_a_kernel_without_mctp_is_a_clear_internal_error():
    sockets, _ = linux()
    from mctp.linux import SocketClient  # noqa: PLC0415

    try:
        sockets.open_socket().close()
        return  # this kernel has AF_MCTP: test_linux_socket.py covers it
    except OSError:
        pass
    client = SocketClient()
    with raises(MctpError) as caught:
        client.req(9)
    assert caught.value.code == ResponseCode.INTERNAL_ERROR
    assert str(caught.value) == "MCTP error: internal error: AF_MCTP socket: EAFNOSUPPORT"
    assert client.handles_in_use() == 0
