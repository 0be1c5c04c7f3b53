# The endpoint application: a stack with one I2C link, its server, the control responder, and
# two services: an echo on the PCI vendor-defined type (0x7E) and a PLDM base responder (type
# 0x01). The same code runs on a board (machine.I2C + machine.I2CTarget, firmware/board.py) and
# on the host (the UDP I2C bus, tools/run_endpoint.py).

from mctp import Stack
from mctp._compat import format_exception, sleep_ms, ticks_ms
from mctp.config import Config
from mctp.constants import MAX_PAYLOAD_SIZE
from mctp.control import vdm_pci, version_entry
from mctp.control.responder import ControlResponder
from mctp.core import Core
from mctp.server import DirectClient
from mctp.i2c import I2CLink
from mctp.server import Server

from .echo import VendorEcho
from .pldm import PldmResponder

# Get MCTP Version Support for PLDM answers the PLDM-over-MCTP binding's version (DSP0241 1.0.0).
PLDM_OVER_MCTP_VERSION = version_entry(1, 0, 0)

# The stack's limits for an endpoint, where Config's defaults are for hosts and bus owners.
# Every handle, pending receive and tag is an object of a few hundred bytes, allocated up
# front: the two services take two listeners of the four, a service's requests (none by
# default) their request handles and tags, and one DirectClient waits for one receive at a
# time. On a Cortex-M0 this halves the endpoint's heap (docs/performance.md). Pass
# config=Config(...) for more.
ENDPOINT_LIMITS = {"listeners": 4, "requests": 4, "pending_receives": 4, "flows": 8}


class EndpointApp:
    """An MCTP endpoint at 7-bit address `addr` on the bus of `i2c` and `target`.

    `eid` is a static EID (None: wait for the bus owner's Set Endpoint ID); `uuid` 16 bytes
    (None: made from machine.unique_id()); `led` anything with toggle(), or None.
    """

    def __init__(
        self,
        i2c,
        target,
        addr,
        uuid=None,
        eid=None,
        mtu=64,
        vendor_id=0xFFFF,
        echo_command_set=1,
        tid=1,
        led=None,
        config=None,
        clock=ticks_ms,
    ):
        self.core = Core(config or Config(**ENDPOINT_LIMITS), 0, clock)
        self.link = self.core.add_link(I2CLink(i2c, target, addr, mtu))
        self.server = Server(self.core)
        self.stack = Stack(DirectClient(self.server))
        # The services take turns from one loop, each done with a request when its serve
        # returns: they share one receive buffer.
        self.buf = bytearray(MAX_PAYLOAD_SIZE)
        self.echo = VendorEcho(self.stack, self.server, vendor_id, self.buf)
        self.pldm = PldmResponder(self.stack, self.server, tid, self.buf)
        self.control = ControlResponder(
            self.core,
            uuid,
            static_eid=eid,
            versions={0x01: PLDM_OVER_MCTP_VERSION},
            vdm=(vdm_pci(vendor_id, echo_command_set),),
        )
        self.led = led
        # What each poll serves after the stack: anything with poll() returning how many
        # messages it served. Add your own.
        self.services = [self.echo.poll, self.pldm.poll]
        self.faults = 0  # exceptions that escaped a poll (run() caught them and went on)
        self.first_fault = None  # the first one's traceback, as text

    def poll(self):
        """Take in what arrived, answer control requests, serve the services; how many
        service messages were served."""
        self.server.poll()
        served = 0
        for service in self.services:
            served += service()
        if served and self.led is not None:
            self.led.toggle()
        return served

    def run(self, running=None, idle_ms=1, watchdog=None):
        """Poll until running() says False (forever without it), feeding `watchdog` (a
        machine.WDT, say) every round. Nothing but KeyboardInterrupt ends the loop: a poll
        that raises is counted in `faults` (the first traceback kept for show()) and the loop
        goes on, so the endpoint stays on the bus."""
        while True:
            # The try is around the whole loop, not each round: with a try and an `as`, this
            # frame is on MicroPython's heap, allocated once per run() (tools/frames.py). The
            # loop is here, not in a method of its own: every frame under it is C stack, and
            # the deepest answer's path starts from here.
            try:
                while running is None or running():
                    if watchdog is not None:
                        watchdog.feed()
                    if not self.poll():
                        sleep_ms(idle_ms)
                return
            except Exception as error:
                self._fault(error)

    def _fault(self, error):
        self.faults += 1
        if self.first_fault is None:
            self.first_fault = format_exception(error)

    def counters(self):
        """Every counter of the endpoint, by layer, for the REPL and for traces."""
        return {
            "core": self.core.counters,
            "link": self.link.counters,
            "control": self.control.counters,
            "echo": self.echo.counters,
            "pldm": self.pldm.counters,
        }

    def show(self):
        """Print the EID, every counter and the open handles (for the mpremote REPL), and
        the first fault."""
        print("EID", self.core.eid)
        for layer, counters in self.counters().items():
            print(layer, counters)
        print("faults", self.faults)
        for line in self.server.open_handles():
            print(line)
        if self.first_fault:
            print(self.first_fault)
