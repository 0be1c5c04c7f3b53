# The control requester and the bus owner for asyncio tasks, over an AsyncStack:
#
#     ctl = AsyncControlRequester(stack)
#     info = await ctl.get_eid(9)
#     owner = AsyncBusOwner(core, stack, link)
#     peer = await owner.enumerate(0x1D)
#
# Every request and set-up is the blocking classes' steps (mctp.control.requester), so the
# checks, retries and the bus owner's order are written once; only the driver differs: its
# tries await their channels, and a cancelled set-up undoes its routes as a failed one does.

from ..constants import MSG_TYPE_CONTROL
from ..control.bus_owner import BusOwner
from ..control.requester import ControlRequester, Finished, advance
from ..errors import MctpError


class AsyncControlRequester(ControlRequester):
    """ControlRequester over `stack`, an AsyncStack: each method returns an awaitable."""

    async def run(self, steps):
        step = advance(steps, None)
        while not isinstance(step, Finished):
            step = advance(steps, await self._try(steps, step[0], step[1]))
        return step.value

    async def _try(self, steps, eid, message):
        try:
            async with self.stack.req(eid, self.timeout_ms) as channel:
                await channel.send(MSG_TYPE_CONTROL, message)
                return await channel.recv()
        except MctpError as error:
            return error
        except BaseException:  # cancelled: the steps undo what they did (a route)
            steps.close()
            raise


class AsyncBusOwner(BusOwner):
    """BusOwner over an AsyncStack: `await owner.enumerate(addr)`."""

    requester_type = AsyncControlRequester
