# A scripted in-memory MctpClient for facade tests, like openprot-mctp-api's MockClient but able to
# queue several messages and to record what was sent. It implements the MctpClient contract the way
# the server will: NO_SPACE keeps a message that does not fit, TIMED_OUT when nothing waits.

from mctp.api import Handle, MctpClient, RecvMetadata
from mctp.errors import MctpError, ResponseCode


class FakeClient(MctpClient):
    def __init__(self, eid=8, send_tag=3):
        self.eid = eid
        self.send_tag = send_tag
        self.force_error = None  # a ResponseCode every operation raises
        self.next_handle = 1
        self.live = set()  # handle values not yet dropped
        self.drop_count = 0
        self.inbound = []  # (msg_type, ic, tag, remote_eid, payload) for the next recv calls
        self.sent = []  # (handle, msg_type, eid, tag, ic, bytes) per send
        self.last_recv_handle = None  # what the last recv was called with (kept in plain
        self.last_recv_timeout = None  # attributes so a receive allocates nothing)

    def _check(self):
        if self.force_error is not None:
            raise MctpError(self.force_error)

    def _new_handle(self):
        self._check()
        value = self.next_handle
        self.next_handle += 1
        self.live.add(value)
        return Handle(value)

    def req(self, eid):
        return self._new_handle()

    def listener(self, msg_type):
        return self._new_handle()

    def get_eid(self):
        return self.eid

    def set_eid(self, eid):
        self._check()
        self.eid = eid

    def recv(self, handle, timeout_ms, buf, meta=None):
        self._check()
        self.last_recv_handle = handle.value
        self.last_recv_timeout = timeout_ms
        if not self.inbound:
            raise MctpError(ResponseCode.TIMED_OUT)
        msg_type, ic, tag, remote_eid, payload = self.inbound[0]
        if len(payload) > len(buf):
            raise MctpError(ResponseCode.NO_SPACE, len(payload))
        self.inbound.pop(0)
        buf[: len(payload)] = payload
        return (meta or RecvMetadata()).set(msg_type, ic, tag, remote_eid, len(payload))

    def send(self, handle, msg_type, eid, tag, integrity_check, buf, length=None):
        self._check()
        data = bytes(buf) if length is None else bytes(buf[:length])
        handle_value = None if handle is None else handle.value
        self.sent.append((handle_value, msg_type, eid, tag, integrity_check, data))
        return self.send_tag if tag is None else tag

    def drop_handle(self, handle):
        self.drop_count += 1
        self.live.discard(handle.value)
