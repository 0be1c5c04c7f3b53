# The SPDM responder (mctp.spdm.responder) as one of the endpoint's services, on MCTP message type
# 5 (DSP0275), with the certificate chain and device key that tools/spdm_provision.py writes into
# a folder (chain.der, device.key): /spdm on a board's filesystem (board_config.SPDM_FOLDER),
# run_endpoint.py --spdm OUTDIR on a host. Missing or bad files do not stop the endpoint: the
# service says why in `problem` (show() prints it) and answers every SPDM request with ERROR
# Unspecified.
#
# Never off the bus while signing: a signed answer is computed one ecdsa.Signer step per poll
# (at most about 2.4 million Cortex-M0 instructions, docs/spdm.md), and between steps the
# endpoint's loop goes on polling the stack, so control requests and the other services are
# answered as before. No other SPDM request is read while an answer is owed (SPDM is one
# request at a time). If the signature is not done within half the CT time the responder
# promises (CAPABILITIES' CTExponent), the request is answered ERROR ResponseNotReady and the
# steps go on; the requester's RESPOND_IF_READY then gets the signed answer once it is done.

from mctp import MctpError
from mctp._compat import const, ticks_add, ticks_diff, ticks_ms
from mctp.constants import MSG_TYPE_SPDM

from .service import Service

try:
    from mctp.spdm.certs import cert_chain
    from mctp.spdm.measurements import firmware_measurements
    from mctp.spdm.responder import CT_EXPONENT, Responder
except ImportError:  # an image without the mctp-spdm part: `problem` says so
    Responder = None
    CT_EXPONENT = 20

# What the service reads and writes itself, from mctp.spdm.messages and .responder
# ([const-copy]: those may be absent, above).
_PENDING = const(-1)
_VERSION_10 = const(0x10)
_VERSION_12 = const(0x12)
_GET_VERSION = const(0x84)
_RESPOND_IF_READY = const(0xFF)
_ERROR = const(0x7F)
_UNSPECIFIED = const(0x05)
_RESPONSE_NOT_READY = const(0x42)

CHAIN_FILE = "chain.der"  # root, intermediate(s), leaf: DER certificates, concatenated
KEY_FILE = "device.key"  # the leaf's private key: the 32-byte P-256 scalar, big endian

_COUNTERS = (
    "requests",  # SPDM requests taken
    "responses",  # answers sent (errors among them)
    "errors",  # answered with an ERROR other than ResponseNotReady
    "signatures",  # signed answers begun
    "not_ready",  # answered ResponseNotReady: the signature took longer than CT / 2
    "abandoned",  # a signature dropped: another request came instead of RESPOND_IF_READY
    "unprovisioned",  # answered Unspecified: no usable chain or key (see `problem`)
    "ic_set",  # the MCTP IC bit set, which SPDM over MCTP does not use: dropped
)


def _read(folder, name):
    path = folder.rstrip("/") + "/" + name
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        raise ValueError(
            "cannot read %s (%s): provision it with tools/spdm_provision.py" % (path, error)
        ) from None


def load(folder, config, ct_exponent=CT_EXPONENT):
    """A Responder with the chain and key in `folder` and the firmware's measurements of
    `config` (the board_config module); ValueError saying what is wrong."""
    if Responder is None:
        raise ValueError(
            "the SPDM responder needs the mctp-spdm part: freeze it (require() in the board's"
            " manifest.py) or mpremote mip install it"
        )
    key = _read(folder, KEY_FILE)
    if len(key) != 32:
        raise ValueError(
            "%s/%s is %d bytes, must be 32 (the raw P-256 private scalar, big endian)"
            % (folder, KEY_FILE, len(key))
        )
    chain = cert_chain(_read(folder, CHAIN_FILE), key)
    return Responder(chain, key, firmware_measurements(config), ct_exponent)


class SpdmService(Service):
    """Answers SPDM requests that reach `stack` through `server` with the chain and key in
    `folder` (or with `responder`, built elsewhere), measuring `config` (the board_config
    module; None: the board's). `clock` (ms ticks) times ResponseNotReady; `wake`, the stack
    task's flag, is set while a signature is being computed, so that the task comes back."""

    def __init__(
        self,
        stack,
        server,
        folder=None,
        config=None,
        clock=ticks_ms,
        wake=None,
        buf=None,
        responder=None,
        ct_exponent=CT_EXPONENT,
    ):
        super().__init__(stack, server, MSG_TYPE_SPDM, _COUNTERS, buf)
        self.problem = None  # why SPDM is off, as text
        self.responder = responder
        if responder is None:
            if config is None:
                from .board import load_config  # noqa: PLC0415

                config = load_config()
            try:
                self.responder = load(folder or "/spdm", config, ct_exponent)
            except ValueError as error:
                self.problem = "SPDM answers ERROR Unspecified: %s" % error
        self._clock = clock
        self._wake = wake
        self._owed = False  # a signed answer is owed to the request of the response channel
        self._deadline = 0
        self._short = bytearray(4)  # ERROR Unspecified
        if self.responder is not None:
            # Half the promised CT time: the step under way and the answer fit in the rest.
            self._wait_ms = (1 << self.responder.ct_exponent) // 2000

    def poll(self):
        """One step of a signature being computed, the answer it owes once done (or
        ResponseNotReady once late), then the requests waiting while none is owed; how many
        things were done."""
        done = 0
        signer = self.responder.signer if self.responder is not None else None
        if signer is not None and not signer.s:
            signer.step()
            done = 1
        if self._owed:
            # The answer sent from here, not from under _settle: the signed answer's send is
            # then a frame shallower than a served one's (poll, _serve_next, serve), the
            # deepest ([c-stack]).
            length = self._settle(signer)
            if length:
                self._send(length)
        while not self._owed and self.server.queued(self.listener.handle.value):
            self._serve_next()
            done += 1
        if self._wake is not None and self._steps_left():
            # The asyncio stack task sleeps until its flag is set: it comes back for the next
            # step, the first one too (set once the request is taken), not at its next timer.
            self._wake.set()
        return done

    def _steps_left(self):
        signer = self.responder.signer if self.responder is not None else None
        return signer is not None and not signer.s

    def _settle(self, signer):
        # The length of the answer owed once it is due (signed, or ResponseNotReady once
        # late), in the responder's `out`; 0 while it is not.
        if signer.s:
            self._owed = False
            return self.responder.finish()
        if ticks_diff(self._clock(), self._deadline) >= 0:
            self._owed = False
            self.counters.not_ready += 1
            return self.responder.not_ready()
        return 0

    def _send(self, length):
        try:
            self.answer(self.responder.out, False, length)
            self.counters.responses += 1
        except MctpError:
            self._count_failure(self._client.last_error.code)

    def serve(self, length):
        buf = self.buf
        counters = self.counters
        if self.meta.msg_ic:
            counters.ic_set += 1
            return
        counters.requests += 1
        responder = self.responder
        if responder is None:
            counters.unprovisioned += 1
            short = self._short
            short[0] = _VERSION_10 if length > 1 and buf[1] == _GET_VERSION else _VERSION_12
            short[1] = _ERROR
            short[2] = _UNSPECIFIED
            self.answer(short, False, 4)
            counters.responses += 1
            return
        if responder.signer is not None and (length < 2 or buf[1] != _RESPOND_IF_READY):
            counters.abandoned += 1
        n = responder.respond(buf, length)
        if n == _PENDING:
            counters.signatures += 1
            self._owed = True
            self._deadline = ticks_add(self._clock(), self._wait_ms)
            return
        out = responder.out
        if out[1] == _ERROR and out[2] != _RESPONSE_NOT_READY:
            counters.errors += 1
        self.answer(out, False, n)
        counters.responses += 1
