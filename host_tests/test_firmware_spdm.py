# The endpoint's SPDM service (firmware/spdm.py) over a whole stack (spdm_requester.py): a
# signature computed across polls, ResponseNotReady past half the CT time and RESPOND_IF_READY,
# control requests answered while a signature is under way (counted in polls, on the injected
# clock), the stack task woken for every step, message type 5 reported only with the service,
# missing or bad provisioned files said and answered with ERROR Unspecified, and
# tools/spdm_provision.py's chain taken (CPython).

import hashlib

from spdm_requester import (
    GET_CAPABILITIES,
    GET_VERSION,
    Board,
    Requester,
    Rig,
    assert_error,
    read,
    remove_folder,
    temporary_folder,
    verify,
    verify_chain,
    write,
)
from spdm_test_chain import CHAIN, KEY
from testing import IS_MICROPYTHON, raises, skip

from mctp import RecvMetadata
from mctp.constants import MSG_TYPE_CONTROL, MSG_TYPE_SPDM
from mctp.spdm import messages as m
from mctp.spdm.certs import cert_chain


def test_response_not_ready_then_respond_if_ready():
    # A CT time of 2^10 us: half of it (the service's deadline) is 0 ms, so the first poll
    # after CHALLENGE answers ResponseNotReady; the requester asks again with its token
    # until the signature, computed across the polls meanwhile, is done.
    rig = Rig(ct_exponent=10)
    requester = Requester(rig)
    capabilities = requester.connect()[1]
    assert capabilities[5] == 10
    request = bytes((0x12, m.CHALLENGE, 0, 0)) + bytes(range(32))
    answer = rig.ask(request)
    assert answer[:4] == bytes((0x12, m.ERROR, m.RESPONSE_NOT_READY, 0))
    assert answer[4] == 10 and answer[5] == m.CHALLENGE and answer[7] == 4
    assert_error(
        rig.ask(bytes((0x12, m.RESPOND_IF_READY, m.CHALLENGE, (answer[6] + 1) & 0xFF))),
        m.INVALID_REQUEST,
    )  # the wrong token
    tries = 0
    while answer[1] == m.ERROR:
        answer = rig.ask(bytes((0x12, m.RESPOND_IF_READY, m.CHALLENGE, answer[6])))
        tries += 1
        assert tries < 40
    transcript = hashlib.sha256(requester.vca + request + answer[:-64]).digest()
    verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript)
    assert rig.service.counters.not_ready >= 1
    # Another request while one is pending abandons it.
    rig.ask(request)
    assert rig.ask(bytes((0x12, m.GET_DIGESTS, 0, 0)))[1] == m.DIGESTS
    assert rig.service.counters.abandoned == 1
    assert rig.service.responder.signer is None


def test_control_requests_are_answered_while_a_signature_is_computed():
    # The service does one Signer step per poll: a Get Endpoint ID sent while the CHALLENGE's
    # signature is under way is answered within 2 polls of the stack, the signature still
    # unfinished; then the CHALLENGE_AUTH comes, and verifies.
    rig = Rig()
    requester = Requester(rig)
    requester.connect()
    request = bytes((0x12, m.CHALLENGE, 0, 0)) + bytes(range(32))
    rig.send(request)
    rig.poll()  # the request taken: a signature begins
    rig.poll()  # its first step
    signer = rig.service.responder.signer
    assert signer is not None and not signer.s
    control = rig.b.stack.req(8, 100)
    control.send(MSG_TYPE_CONTROL, b"\x80\x02", False)  # Get Endpoint ID
    before = rig.polls
    buf = bytearray(16)
    length = control.recv_into(buf, RecvMetadata())
    assert bytes(buf[:length])[:4] == b"\x00\x02\x00\x08"  # completion 0, EID 8
    assert rig.polls - before <= 2
    assert not signer.s  # still signing
    answer = rig.receive()
    verify(
        answer,
        m.CHALLENGE_AUTH_CONTEXT,
        hashlib.sha256(requester.vca + request + answer[:-64]).digest(),
    )
    control.close()


class _Flag:
    """The stack task's ThreadSafeFlag as the service uses it: set() counted."""

    def __init__(self):
        self.sets = 0

    def set(self):
        self.sets += 1


def test_the_stack_task_is_woken_for_every_step_of_a_signature():
    # Under asyncio the stack task sleeps until its flag is set (or its next timer): each poll
    # that leaves a signature with steps to go sets it, the one that takes the request too, so
    # that the steps run back to back without waiting for a frame or a timer.
    flag = _Flag()
    rig = Rig(wake=flag)
    Requester(rig).connect()
    rig.send(bytes((0x12, m.CHALLENGE, 0, 0)) + bytes(range(32)))
    began = False
    polls = 0
    while True:
        flag.sets = 0
        rig.poll()
        polls += 1
        signer = rig.service.responder.signer
        if signer is None and began:
            break  # answered: finish() dropped the Signer
        began = began or signer is not None
        assert flag.sets, "poll %d left a signature's steps to go and the task asleep" % polls
        assert polls < 40
    assert rig.receive()[1] == m.CHALLENGE_AUTH
    assert not flag.sets  # (done: the task may sleep)


def test_the_endpoint_reports_type_5_only_with_spdm_on():
    from endpoints import FakeClock, firmware_app  # noqa: PLC0415

    from mctp.host.i2c_sim import SimBus  # noqa: PLC0415

    app = firmware_app(SimBus(), FakeClock())
    assert not app.control._supported(MSG_TYPE_SPDM)
    assert app.spdm is None and "spdm" not in app.counters()
    service = app.serve_spdm("/nowhere", Board)  # (on, if only to answer ERRORs)
    assert app.control._supported(MSG_TYPE_SPDM)
    assert app.spdm is service and app.counters()["spdm"] is service.counters
    assert service.poll in app.services
    assert service.problem.startswith("SPDM answers ERROR Unspecified: cannot read /nowhere/")
    app.remove_service(service)
    assert not app.control._supported(MSG_TYPE_SPDM)


def test_missing_or_bad_files_answer_unspecified_and_say_why():
    folder = temporary_folder()
    try:
        rig = Rig(folder=folder)
        problem = rig.service.problem
        assert problem.startswith(
            "SPDM answers ERROR Unspecified: cannot read %s/device.key" % folder
        ), problem
        assert problem.endswith("provision it with tools/spdm_provision.py"), problem
        assert_error(rig.ask(GET_VERSION), m.UNSPECIFIED, 0, m.VERSION_10)
        assert_error(rig.ask(GET_CAPABILITIES), m.UNSPECIFIED)
        assert rig.service.counters.unprovisioned == 2
        write(folder, "device.key", bytes(31))
        write(folder, "chain.der", CHAIN)
        problem = Rig(folder=folder).service.problem
        assert problem.endswith(
            "device.key is 31 bytes, must be 32 (the raw P-256 private scalar, big endian)"
        ), problem
        write(folder, "device.key", bytes(31) + b"\x01")  # a valid scalar, not the leaf's
        problem = Rig(folder=folder).service.problem
        assert problem.endswith(
            "the device key is not the key of the leaf certificate (the last one)"
        ), problem
        write(folder, "device.key", KEY)
        write(folder, "chain.der", CHAIN[:-5])  # a truncated leaf
        problem = Rig(folder=folder).service.problem
        assert problem.endswith(
            "certificate 3 (at byte 847 of 1331) is not a whole DER SEQUENCE"
        ), problem
        write(folder, "chain.der", CHAIN)
        rig = Rig(folder=folder)
        assert rig.service.problem is None
        assert rig.service.responder.chain == cert_chain(CHAIN)
        assert rig.ask(GET_VERSION)[1] == m.VERSION
    finally:
        remove_folder(folder)


def test_provisioning_makes_a_chain_libspdm_takes():
    if IS_MICROPYTHON:
        skip("tools/spdm_provision.py needs cryptography (CPython)")
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(os.path.dirname(here), "tools"))
    try:
        import spdm_provision  # noqa: PLC0415
    finally:
        sys.path.pop(0)
    with tempfile.TemporaryDirectory() as folder:
        paths = spdm_provision.write(folder, "test")
        assert [os.path.basename(p) for p in paths] == ["root.der", "chain.der", "device.key"]
        assert os.stat(paths[2]).st_mode & 0o777 == 0o600
        assert os.stat(paths[1]).st_mode & 0o777 == 0o644
        key = read(folder, "device.key")
        with raises(SystemExit) as caught:  # an identity there already: refused
            spdm_provision.main([folder])
        assert caught.value.code == 2 and read(folder, "device.key") == key
        assert spdm_provision.main([folder, "--force", "--days", "1"]) == 0
        assert read(folder, "device.key") != key
        verify_chain(read(folder, "chain.der"), read(folder, "root.der"))
        rig = Rig(folder=folder)
        requester = Requester(rig)
        requester.connect()
        requester.digests()
        requester.certificate()
        answer, transcript = requester.challenge()
        verify(answer, m.CHALLENGE_AUTH_CONTEXT, transcript, read(folder, "chain.der"))
        assert rig.service.problem is None
