# What the endpoint's services share: a listener served without blocking and without allocation
# (one buffer, one metadata object and one response channel, reused), and answers whose failure
# is counted by reason, never raised. A requester that left the bus, or sent two requests with
# one tag, must not take the endpoint's loop down with it.

from mctp import MctpError, RecvMetadata
from mctp.constants import MAX_PAYLOAD_SIZE
from mctp.counters import Counters
from mctp.errors import ResponseCode

# Why a message was not served to the end; each is a counter of every service.
FAILURES = (
    "answer_no_route",  # no way back to the requester (no reply route, no route to its EID)
    "answer_link_failed",  # the link gave up (a NACK or lost arbitration on every try)
    "answer_failed",  # any other refusal by the stack, receive included
)


class Service:
    """Serves the requests of `msg_type` that reach `stack` (over a DirectClient) through
    `server`: a subclass implements serve(length), with the request in self.buf[:length] and
    its metadata in self.meta, and answers with self.answer(buf, False, length): the response
    channel's send(buf, ic, length). (Echo and PLDM send theirs from serve()'s own frame, a
    frame less under it ([c-stack]): self._resp._stage(buf, False, length), a call that
    returns first, then self._client.send_call(self._resp._call), as the channel's send does.)
    A failed answer raises MctpError, which poll() counts."""

    def __init__(self, stack, server, msg_type, counter_names, buf=None):
        self.server = server
        self._client = stack.client
        self.listener = stack.listener(msg_type)
        self.counters = Counters(counter_names + FAILURES)
        # The receive buffer (MAX_PAYLOAD_SIZE bytes): services served from one loop may share
        # one, since each is done with its request when serve() returns.
        self.buf = bytearray(MAX_PAYLOAD_SIZE) if buf is None else buf
        self.meta = RecvMetadata()
        self._resp = self.listener.resp_channel()
        # The channel's own send, bound once, called from the serving frame ([c-stack]).
        self.answer = self._resp.send

    def poll(self):
        """Serve every request waiting, without blocking; how many."""
        # _serve_next's try, here: a frame less under every answer ([c-stack]). It fits the
        # frame ([frame-limit]: 8 words and the try's 3) with the count in an attribute.
        self._poll_served = 0
        while self.server.queued(self.listener.handle.value):
            try:
                self.serve(self.listener.recv_into(self.buf, self.meta, self._resp))
            except MctpError:
                self._count_failure(self._client.last_error.code)
            self._poll_served += 1
        return self._poll_served

    def _serve_next(self):
        # The next request served, for a poll of a subclass's own (SpdmService's). The only
        # try on its serve path, unbound: the client keeps the error ([try-apart]).
        try:
            self.serve(self.listener.recv_into(self.buf, self.meta, self._resp))
        except MctpError:
            self._count_failure(self._client.last_error.code)

    def _count_failure(self, code):
        if code == ResponseCode.BAD_ARGUMENT:
            self.counters.answer_no_route += 1
        elif code == ResponseCode.INTERNAL_ERROR:
            self.counters.answer_link_failed += 1
        else:
            self.counters.answer_failed += 1

    def serve(self, length):
        raise NotImplementedError
