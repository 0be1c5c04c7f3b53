# One application, three transports: the seed's promise that code written against the Stack
# facade runs unchanged whatever MctpClient is under it. The application (run()) asks a peer
# for its PLDM terminus ID (GetTID, DSP0240) and answers vendor-echo requests (message type
# 0x7E: the response is the request); only make_client() knows which client it runs on:
#
#   direct unix:PATH EID   an in-process stack (DirectClient) with EID on a serial line, here
#                          the Unix socket at PATH (a tty path works too)
#   ipc unix:PATH          the stack of another process (mctp.ipc.StreamClient), e.g.
#                          tools/run_endpoint.py --ipc unix:PATH
#   socket                 the Linux kernel's MCTP stack (mctp.linux.SocketClient, AF_MCTP)
#
#     python3 examples/tid_echo.py [--peer 9] [--echoes 3] [--prefix TEXT] MODE [ARGS]
#     micropython examples/tid_echo.py ...
#
# It prints "tid-echo ready" once its listener is open (the peer's echo requests may come
# from then on), then one line per result, and exits 0 when all went well, 1 otherwise.

import sys

sys.path.insert(0, __file__.rpartition("/")[0].rpartition("/")[0] or ".")  # the clone

from mctp import MctpError, Stack  # noqa: E402
from mctp.constants import MSG_TYPE_PLDM, MSG_TYPE_VENDOR_PCI, RQ  # noqa: E402

PLDM_BASE = 0x00  # PLDM type 0: messaging control and discovery
GET_TID = 0x02
TIMEOUT_MS = 5000


def get_tid(stack, eid, instance=1):
    """The PLDM terminus ID of `eid` (GetTID); MctpError, or ValueError for a bad answer."""
    with stack.req(eid, TIMEOUT_MS) as channel:
        channel.send(MSG_TYPE_PLDM, bytes((RQ | instance, PLDM_BASE, GET_TID)))
        meta, answer = channel.recv()
    if meta.msg_type != MSG_TYPE_PLDM or len(answer) < 5:
        raise ValueError("not a GetTID response: %r" % bytes(answer))
    if answer[0] != instance or answer[1] != PLDM_BASE or answer[2] != GET_TID:
        raise ValueError("a response to another request: %r" % bytes(answer))
    if answer[3]:
        raise ValueError("GetTID completion code %d" % answer[3])
    return answer[4]


def run(stack, peer_eid, echoes, say):
    """The application: GetTID to `peer_eid`, then answer `echoes` vendor-echo requests.
    `say(line)` reports each step. True when all went well."""
    with stack.listener(MSG_TYPE_VENDOR_PCI, TIMEOUT_MS * 4) as listener:
        say("ready")
        tid = get_tid(stack, peer_eid)
        say("tid %d eid %d" % (tid, peer_eid))
        for number in range(1, echoes + 1):
            meta, request, response = listener.recv()
            response.send(request)
            say(
                "echo %d bytes %d eid %d ic %d"
                % (number, len(request), meta.remote_eid, meta.msg_ic)
            )
    return True


def make_client(mode, args, peer_eid):
    """The MctpClient for `mode` (see the top of this file): the one line that differs."""
    if mode == "direct":
        return direct_client(args[0], int(args[1]), peer_eid)
    if mode == "ipc":
        from mctp.host.ipc_sockets import connect_unix  # noqa: PLC0415
        from mctp.ipc import StreamClient  # noqa: PLC0415

        return StreamClient(connect_unix(_unix_path(args[0])))
    if mode == "socket":
        from mctp.linux import SocketClient  # noqa: PLC0415

        return SocketClient()
    raise ValueError("mode must be direct, ipc or socket")


def direct_client(where, eid, peer_eid):
    """A stack of our own in this process, EID `eid` on the serial line at `where`, with
    `peer_eid` at its other end."""
    from mctp.core import Core  # noqa: PLC0415
    from mctp.host.serial_stream import SerialStream, connect_unix  # noqa: PLC0415
    from mctp.serial import SerialLink  # noqa: PLC0415
    from mctp.server import DirectClient, Server  # noqa: PLC0415

    if where.startswith("unix:"):
        stream = SerialStream(connect_unix(_unix_path(where)))
    else:
        stream = SerialStream.open_tty(where)
    core = Core(eid=eid)
    core.add_route(peer_eid, peer_eid, core.add_link(SerialLink(stream)))
    return DirectClient(Server(core))


def _unix_path(where):
    if not where.startswith("unix:"):
        raise ValueError("give unix:PATH, not %r" % where)
    return where[5:]


def main(argv):
    peer, echoes, prefix = 9, 3, ""
    while argv and argv[0].startswith("--"):
        option, value = argv[0], argv[1]
        argv = argv[2:]
        if option == "--peer":
            peer = int(value)
        elif option == "--echoes":
            echoes = int(value)
        elif option == "--prefix":
            prefix = value
        else:
            raise SystemExit("unknown option " + option)
    if not argv:
        raise SystemExit("usage: tid_echo.py [--peer EID] [--echoes N] direct|ipc|socket ...")

    def say(line):
        print(prefix + "tid-echo " + line)

    try:
        ok = run(Stack(make_client(argv[0], argv[1:], peer)), peer, echoes, say)
    except (MctpError, ValueError, OSError) as e:
        say("FAIL reason=%r" % str(e))
        ok = False
    say("done")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
