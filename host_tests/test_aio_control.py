# The control requester and the bus owner for asyncio tasks (mctp.aio.control): they await
# their answers, and a set-up that fails or is cancelled leaves no route.

import asyncio

from test_aio_stack import Rig, run
from testing import raises

from mctp.control import ControlError


def control_rig(endpoint_eid=0):
    """Stacks 8 (the bus owner) and 20 (an endpoint whose EID is `endpoint_eid`, at address
    20, with a control responder); the owner's AsyncBusOwner."""
    from mctp.aio.control import AsyncBusOwner  # noqa: PLC0415
    from mctp.control.responder import ControlResponder  # noqa: PLC0415

    rig = Rig((8, 20))
    endpoint = rig.servers[20].core
    endpoint.eid = endpoint_eid
    rig.responder = ControlResponder(endpoint, bytes(range(16)))
    owner_core = rig.servers[8].core
    rig.owner = AsyncBusOwner(owner_core, rig.stacks[8], owner_core.links[0], timeout_ms=50)
    return rig


def test_the_bus_owner_and_the_control_requester_await_their_answers():
    async def scenario(rig):
        peer = await rig.owner.enumerate(20)  # Get EID, Set EID, Msg Types, UUID
        control = rig.owner.control
        # Requests from several tasks at once, each with its own channel.
        answers = await asyncio.gather(
            control.get_version(peer.eid),
            control.get_uuid_text(peer.eid),
            control.get_eid(peer.eid),
        )
        with raises(ControlError) as refused:
            await control.request(peer.eid, 0x7F)  # an unsupported command
        routed = rig.servers[8].core.routes.lookup(0) is None
        return peer, answers, refused.value.completion_code, routed, rig.held()

    peer, answers, refused, unrouted, held = run(control_rig(), scenario)
    assert (peer.eid, peer.addr, peer.assigned, peer.msg_types) == (10, 20, True, [0])
    assert peer.uuid == bytes(range(16))
    versions, uuid, info = answers
    assert versions == [(1, 3, 1, 0)] and uuid.startswith("00010203-0405-")
    assert info.eid == 10
    assert (refused, unrouted, held) == (0x05, True, 0)


def test_a_set_up_that_fails_or_is_cancelled_leaves_no_route():
    async def scenario(rig):
        rig.bus.tap = lambda src, dst, buf, length: dst != 20  # the endpoint hears nothing
        owner = rig.owner
        # Nobody answers: every try times out (2 x 50 ms), and the EID 0 route goes.
        owner.control.tries = 2
        with raises(ControlError) as failed:
            await owner.enumerate(20)
        after_failure = rig.servers[8].core.routes.lookup(0)
        # Cancelled while it waits for an answer.
        owner.control.timeout_ms = 10_000
        with raises(asyncio.TimeoutError):
            await asyncio.wait_for(owner.enumerate(20), 0.05)
        after_cancel = rig.servers[8].core.routes.lookup(0)
        return str(failed.value), after_failure, after_cancel, owner.peers, rig.held()

    failed, after_failure, after_cancel, peers, held = run(control_rig(), scenario)
    assert "no answer after 2 tries" in failed
    assert (after_failure, after_cancel, peers, held) == (None, None, {}, 0)
