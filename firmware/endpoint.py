# The endpoint application: a stack with one I2C link, its server and the control responder,
# polled in a loop. The same code runs on a board (machine.I2C + machine.I2CTarget) and on the
# host (the UDP I2C bus, tools/run_endpoint.py).

from mctp import Stack
from mctp._compat import sleep_ms, ticks_ms
from mctp.config import Config
from mctp.control_responder import ControlResponder
from mctp.core import Core
from mctp.direct import DirectClient
from mctp.i2c import I2CLink
from mctp.server import Server


class EndpointApp:
    """An MCTP endpoint at 7-bit address `addr` on the bus of `i2c` and `target`.

    `eid` is a static EID (None: wait for the bus owner's Set Endpoint ID); `uuid` 16 bytes.
    """

    def __init__(self, i2c, target, addr, uuid, eid=None, mtu=64, config=None, clock=ticks_ms):
        self.core = Core(config or Config(), 0, clock)
        self.link = self.core.add_link(I2CLink(i2c, target, addr, mtu))
        self.server = Server(self.core)
        self.control = ControlResponder(self.core, uuid, static_eid=eid)
        self.stack = Stack(DirectClient(self.server))

    def poll(self):
        self.server.poll()

    def run(self, running=lambda: True, idle_ms=1):
        """Poll until running() says False."""
        while running():
            self.poll()
            sleep_ms(idle_ms)

    def counters(self):
        """Every counter of the stack, by layer, for the REPL and for traces."""
        return {
            "core": self.core.counters,
            "link": self.link.counters,
            "control": self.control.counters,
        }
