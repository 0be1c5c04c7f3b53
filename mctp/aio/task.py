# The stack task: polls a server's stack (its links, timers and control answers) when there is
# work, and sleeps otherwise. Work is a link's `wake` flag set (an I2C link's IRQ when it has
# queued a frame, a host bus when it has queued a packet), an async channel's receive with a
# timeout starting (its deadline may be the nearest), or the nearest timer falling due
# (Server.until_timer): never a fixed tick, so an idle endpoint does nothing between its timers.

from .flag import ThreadSafeFlag, run_others, wait_ms


class StackTask:
    """`server`'s stack, run from `await task.run()`. `wake` is the flag to give the links:
    I2CLink(..., wake=task.wake), LoopbackBus.attach(phys, wake). It is a ThreadSafeFlag by
    default, which an IRQ may set; where only tasks set it (a host bus), a Flag (mctp.aio)
    wakes the task sooner on MicroPython's unix port and allocates nothing."""

    def __init__(self, server, wake=None, work=None, fault=None):
        self.server = server
        self.wake = ThreadSafeFlag() if wake is None else wake
        # Called after each poll (an endpoint's services, which serve what it delivered): a
        # function, or a list of them called in turn from the task's own frame (a frame less
        # under each; the list as it is at each poll), and `fault` with what one raised, which
        # does not stop the task.
        self.work = work
        self.fault = fault
        self.polls = 0  # how often it has run the stack (an idle endpoint's stays still)
        self.faults = 0

    async def run(self):
        server = self.server
        while True:
            wait = 1  # (should what follows fail: poll again soon)
            try:
                # Server.poll's two steps, from this frame: a frame less under every answer
                # the poll sends ([c-stack]); a fault in them is counted as the work's are.
                server.core.poll()
                server.expire_receives()
                self.polls += 1
                work = self.work
                if type(work) is list:
                    for step in work:  # (a coroutine's frame is on the heap: no C stack)
                        step()
                elif work is not None:
                    work()
                wait = server.until_timer()
            except Exception as error:  # a fault here must not stop the stack
                self.faults += 1
                if self.fault is not None:
                    self.fault(error)
            if wait < 0:
                await self.wake.wait()
            elif wait:
                await wait_ms(self.wake, wait)
            else:
                await run_others()  # a timer is due: poll again, letting others run first
            self.wake.clear()  # (a woken flag clears itself; an asyncio.Event given as wake not)
