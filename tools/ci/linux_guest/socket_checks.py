# mctp.linux.SocketClient against the Linux kernel, run inside the guest by the MicroPython
# unix port (host_tests/test_linux_socket.py puts it in the initramfs as /app/socket_checks.py
# with the package). The host's endpoint (tools/run_endpoint.py, EID MCTP_PEER_EID, PLDM TID 7)
# is on the other end of the kernel's mctp-serial link. Each check prints one line,
# "MCTP-GUEST sc-NAME ok" or "MCTP-GUEST sc-NAME FAIL reason=...", and the script exits 1 when
# one failed. At "sc-listen ready" the host sends our listener a vendor request (type 0x7E).

import os
import sys

sys.path.insert(0, "/app")

from mctp import Handle, MctpError, RecvMetadata, ResponseCode, Stack  # noqa: E402
from mctp._compat import sleep_ms, ticks_diff, ticks_ms  # noqa: E402
from mctp.constants import MSG_TYPE_PLDM, MSG_TYPE_VENDOR_PCI  # noqa: E402
from mctp.linux import SocketClient  # noqa: E402

LOCAL = int(os.getenv("MCTP_LOCAL_EID") or 8)
PEER = int(os.getenv("MCTP_PEER_EID") or 9)
VENDOR = b"\xff\xff"  # the host endpoint's echo service
GET_TID = b"\x81\x00\x02"


def echo_request(length, seed):
    return VENDOR + bytes((i * 13 + seed) & 0xFF for i in range(length - 2))


def expect_error(code, call, *args):
    """The MctpError `call(*args)` raises, which must have `code`."""
    try:
        call(*args)
    except MctpError as e:
        if e.code != code:
            raise AssertionError("%s, wanted %s" % (e, ResponseCode.text(code))) from None
        return e
    raise AssertionError("no error, wanted %s" % ResponseCode.text(code))


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def check_eid(client):
    check(client.get_eid() == LOCAL, "get_eid() is %d, not %d" % (client.get_eid(), LOCAL))
    client.set_eid(0x20)
    check(client.get_eid() == 0x20, "after set_eid(0x20): %d" % client.get_eid())
    client.set_eid(LOCAL)
    check(client.get_eid() == LOCAL, "after set_eid back: %d" % client.get_eid())
    for eid in (0, 7, 255):
        expect_error(ResponseCode.BAD_ARGUMENT, client.set_eid, eid)


def check_get_tid(client):
    with Stack(client).req(PEER, 2000) as channel:
        channel.send(MSG_TYPE_PLDM, GET_TID)
        meta, answer = channel.recv()
    check(bytes(answer) == b"\x01\x00\x02\x00\x07", "GetTID answer %r" % bytes(answer))
    check(meta.msg_type == MSG_TYPE_PLDM and meta.remote_eid == PEER, repr(meta))


def check_echo(client):
    request = echo_request(1023, 5)  # 16 packets each way at the kernel's MTU
    with Stack(client).req(PEER, 2000) as channel:
        for _ in range(3):
            channel.send(MSG_TYPE_VENDOR_PCI, request)
            meta, answer = channel.recv(bytearray(1023))
            check(bytes(answer) == request, "echo of %d bytes came back changed" % len(request))
            check(meta.payload_size == 1023 and not meta.msg_ic, repr(meta))


def check_no_space(client):
    request = echo_request(200, 9)
    handle = client.req(PEER)
    try:
        client.send(handle, MSG_TYPE_VENDOR_PCI, None, None, False, request)
        small = bytearray(50)
        error = expect_error(ResponseCode.NO_SPACE, client.recv, handle, 2000, small)
        check(error.size == 200, "NO_SPACE size %d, not 200" % error.size)
        meta = client.recv(handle, 2000, bytearray(300), RecvMetadata())  # it stayed queued
        check(meta.payload_size == 200, "then %r" % meta)
        too_big = bytearray(1024)
        expect_error(
            ResponseCode.NO_SPACE,
            client.send,
            handle,
            MSG_TYPE_VENDOR_PCI,
            None,
            None,
            False,
            too_big,
        )
    finally:
        client.drop_handle(handle)


def check_timeout(client):
    # Nothing answers type 0x7F (vendor IANA) at the host's endpoint.
    with Stack(client).req(PEER, 300) as channel:
        channel.send(0x7F, b"\x00\x00\x00\x01\x02")
        start = ticks_ms()
        expect_error(ResponseCode.TIMED_OUT, channel.recv)
        waited = ticks_diff(ticks_ms(), start)
    check(280 <= waited < 2000, "timed out after %d ms, asked 300" % waited)


def check_abandoned_request(client):
    # A request whose response was never received is abandoned by the next one: the late
    # response must not pass for the new request's.
    first, second = echo_request(40, 1), echo_request(40, 2)
    handle = client.req(PEER)
    try:
        client.send(handle, MSG_TYPE_VENDOR_PCI, None, None, False, first)
        sleep_ms(300)  # its response is back and waiting
        client.send(handle, MSG_TYPE_VENDOR_PCI, None, None, False, second)
        buf = bytearray(64)
        meta = client.recv(handle, 2000, buf, RecvMetadata())
        check(bytes(buf[: meta.payload_size]) == second, "got the first request's response")
        expect_error(ResponseCode.TIMED_OUT, client.recv, handle, 200, buf)
    finally:
        client.drop_handle(handle)


def check_arguments(client):
    handle = client.req(PEER)
    client.drop_handle(handle)
    client.drop_handle(handle)  # a released handle: ignored
    buf = bytearray(8)
    expect_error(ResponseCode.BAD_ARGUMENT, client.recv, handle, 100, buf)
    expect_error(ResponseCode.BAD_ARGUMENT, client.recv, Handle(0xABCDE), 100, buf)
    expect_error(ResponseCode.BAD_ARGUMENT, client.send, handle, 0x7E, None, None, False, buf)
    expect_error(ResponseCode.BAD_ARGUMENT, client.send, None, 0x7E, None, 3, False, buf)
    expect_error(ResponseCode.BAD_ARGUMENT, client.send, None, 0x7E, PEER, 8, False, buf)
    expect_error(ResponseCode.BAD_ARGUMENT, client.req, 0xFF)
    expect_error(ResponseCode.BAD_ARGUMENT, client.listener, 0x80)
    unrouted = client.req(0x30)
    try:
        error = expect_error(
            ResponseCode.BAD_ARGUMENT, client.send, unrouted, 1, None, None, False, GET_TID
        )
        check("no route" in str(error), str(error))
    finally:
        client.drop_handle(unrouted)
    listener = client.listener(0x7E)
    try:
        expect_error(ResponseCode.ADDR_IN_USE, client.listener, 0x7E)
        with SocketClient() as other:  # another client (process) alike: the kernel's binds
            expect_error(ResponseCode.ADDR_IN_USE, other.listener, 0x7E)
    finally:
        client.drop_handle(listener)


def check_handle_limit(client):
    with SocketClient(max_handles=3) as small:
        handles = [small.req(PEER) for _ in range(3)]
        expect_error(ResponseCode.NO_SPACE, small.req, PEER)
        for handle in handles:
            small.drop_handle(handle)
        check(small.handles_in_use() == 0, "handles left")
        small.drop_handle(small.listener(0x7E))


def check_listen(client):
    with Stack(client).listener(MSG_TYPE_VENDOR_PCI, 30000) as listener:
        report("sc-listen", "ready")
        meta, request, response = listener.recv(bytearray(1023))
        response.send(request)
    check(meta.remote_eid == PEER and meta.msg_type == MSG_TYPE_VENDOR_PCI, repr(meta))
    report("sc-listen", "info", "data=%s tag=%d" % (bytes(request).hex(), meta.msg_tag))


def report(name, status, text=""):
    print("MCTP-GUEST %s %s%s" % (name, status, " " + text if text else ""))


def main():
    client = SocketClient()
    failed = 0
    for name, run in (
        ("eid", check_eid),
        ("get-tid", check_get_tid),
        ("echo", check_echo),
        ("no-space", check_no_space),
        ("timeout", check_timeout),
        ("abandoned", check_abandoned_request),
        ("arguments", check_arguments),
        ("handle-limit", check_handle_limit),
        ("listen", check_listen),
    ):
        try:
            run(client)
            report("sc-" + name, "ok")
        except Exception as e:  # one failed check must not hide the others
            failed += 1
            report("sc-" + name, "FAIL", "reason=%r" % ("%s: %s" % (type(e).__name__, e)))
    left = client.handles_in_use()
    client.close()
    report(
        "sc-baseline",
        "ok" if left == 0 and client.dropped == 0 else "FAIL",
        "handles=%d dropped=%d" % (left, client.dropped),
    )
    return 1 if failed or left or client.dropped else 0


sys.exit(main())
