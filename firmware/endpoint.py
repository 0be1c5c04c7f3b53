# The endpoint application: a stack with an I2C link, a serial link or both, its server, the
# control responder, and two services: an echo on the PCI vendor-defined type (0x7E) and a PLDM
# base responder (type 0x01). The same code runs on a board (machine.I2C + machine.I2CTarget,
# machine.UART: firmware/board.py) and on the host (the UDP I2C bus, a pty or a socket:
# tools/run_endpoint.py).

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
# time. An endpoint routes to its bus owner and a few peers, and answers a few requests at a
# time: 4 routes and 4 reply routes (about 600 bytes fewer than Config's 8 and 8). On a
# Cortex-M0 this halves the endpoint's heap (docs/performance.md). Pass config=Config(...) for
# more.
# An IPC client gets one listener (Config.client_listeners): the services keep 2 of the 4
# (reserved_listeners), so that each of two clients finds one of the other 2.
ENDPOINT_LIMITS = {
    "listeners": 4,
    "requests": 4,
    "pending_receives": 4,
    "flows": 8,
    "routes": 4,
    "reply_routes": 4,
    "client_listeners": 1,
}


def missing_part(what, part, error):
    """The error for `what` a board_config turns on when its `part` (of parts/) is not
    installed, `error` the ImportError that says which module is missing."""
    return RuntimeError(
        "%s needs the %s part (%s): freeze it (require() in the board's manifest.py) or"
        " mpremote mip install ./%s.json" % (what, part, error, part)
    )


class EndpointApp:
    """An MCTP endpoint at 7-bit address `addr` on the bus of `i2c` and `target`, on the serial
    line `serial` (machine.UART, or a host stream from mctp.host.serial_stream), or on both:
    each link answers requests where they came from (`link` is the I2C one, `serial` the
    serial one, None where there is none).

    `eid` is a static EID (None: wait for the bus owner's Set Endpoint ID); `uuid` 16 bytes
    (None: made from machine.unique_id()); `mtu` the payload per packet we send (the serial
    link's at most 64, which is all Linux and libmctp take); a UART with IRQ_RXIDLE is read
    from that interrupt, other streams by polls; `led` anything with toggle(), or None; `wake`
    the flag the links set when a frame is queued (an asyncio.ThreadSafeFlag, which the I2C
    target's IRQ may set), which main() needs: run() (blocking, for the REPL) polls instead.
    `target_mem`: the memory `target` was made with in memory mode (I2CTarget(..., mem=...,
    mem_addrsize=8), as firmware.board makes it; see mctp.i2c.I2CLink), or None.

    `spdm`: the SPDM responder's service once serve_spdm() has been called (None before).

    `ipc`: the StreamService that serves the stack to an application elsewhere, once
    serve_ipc() has been called (None before).
    `capture`: the mctp.capture.Capture recording the links' packets, or None (set by
    firmware.board from board_config.CAPTURE, or by hand: Capture(32).attach(app.core)).
    """

    def __init__(  # noqa: PLR0913 (a setting each, as firmware.board passes them)
        self,
        i2c=None,
        target=None,
        addr=None,
        *,
        uuid=None,
        eid=None,
        mtu=64,
        vendor_id=0xFFFF,
        echo_command_set=1,
        tid=1,
        led=None,
        config=None,
        clock=ticks_ms,
        wake=None,
        serial=None,
        target_mem=None,
    ):
        self.core = Core(config or Config(**ENDPOINT_LIMITS), 0, clock)
        self.wake = wake
        self.link = None
        self.serial = None
        if i2c is not None:
            self.link = self.core.add_link(
                I2CLink(i2c, target, addr, mtu, wake=wake, mem=target_mem)
            )
        if serial is not None:
            try:
                from mctp.serial import MAX_MTU, SerialLink  # noqa: PLC0415 (I2C-only: none)
            except ImportError as error:
                raise missing_part("a serial link (SERIAL_UART)", "mctp-serial", error) from None

            irq = hasattr(serial, "irq") and hasattr(serial, "IRQ_RXIDLE")
            self.serial = self.core.add_link(
                SerialLink(serial, min(mtu, MAX_MTU), irq=irq, wake=wake)
            )
        if not self.core.links:
            raise ValueError("an endpoint needs an I2C bus (i2c, target, addr) or a serial line")
        self.server = Server(self.core)
        self.stack = Stack(DirectClient(self.server))
        # The services take turns from one loop, each done with a request when its serve
        # returns: they share one receive buffer.
        self.buf = bytearray(MAX_PAYLOAD_SIZE)
        self.echo = VendorEcho(self.stack, self.server, vendor_id, self.buf)
        self.pldm = PldmResponder(self.stack, self.server, tid, self.buf)
        self.control = self._responder(
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
        self.spdm = None
        self._clock = clock
        self.ipc = None
        self.capture = None  # an mctp.capture.Capture of the links' packets, when one is on
        self.task = None  # the stack task, while main() runs
        self.faults = 0  # exceptions that escaped a poll (run() caught them and went on)
        self.first_fault = None  # the first one's traceback, as text

    def _responder(self, core, *args, **kwargs):
        # The control responder, made with ControlResponder's arguments (a bridge makes its
        # own: firmware/bridge.py).
        return ControlResponder(core, *args, **kwargs)

    def serve_ipc(self, stream=None):
        """Serve the stack on `stream` (a machine.UART, or a host stream) to an application
        elsewhere, a host test rig say, through mctp.ipc (its StreamClient under the Stack
        facade): requests are read and answered after the services, each poll. Under main(),
        pass the stream in `watch`, so that its bytes wake the stack task. The StreamService
        doing it (`ipc`), to which more streams may be added (None: none yet)."""
        try:
            from mctp.ipc import StreamService  # noqa: PLC0415 (most boards serve no IPC)
        except ImportError as error:
            raise missing_part("the IPC stream (IPC_UART)", "mctp-ipc", error) from None

        if self.ipc is None:
            self.ipc = StreamService(self.server)
            # (Its poll never raises: what goes wrong is counted in its figures. The LED
            # blinks for the requests it takes as for the services' messages.)
            self.services.append(self.ipc.poll)
        if stream is not None:
            self.ipc.add(stream)
        return self.ipc

    def serve_spdm(self, folder, config=None):
        """Answer SPDM (message type 5, reported by Get Message Type Support from now on)
        with the certificate chain and device key in `folder` (tools/spdm_provision.py's
        chain.der and device.key), measuring the board configuration `config` (None: the
        board's): firmware/spdm.py, part mctp-spdm-app (with mctp-spdm). Missing or bad files
        are said in show(), and SPDM requests get ERROR answers. The SpdmService (`spdm`)."""
        try:
            from .spdm import SpdmService  # noqa: PLC0415 (a board without SPDM lacks the part)
        except ImportError as error:
            raise missing_part("SPDM_FOLDER", "mctp-spdm-app", error) from None

        if self.spdm is None:
            self.spdm = SpdmService(
                self.stack,
                self.server,
                folder,
                config,
                clock=self._clock,
                wake=self.wake,
                buf=self.buf,
            )
            self.services.append(self.spdm.poll)
        return self.spdm

    def remove_service(self, service):
        """Stop serving `service` (self.echo, self.pldm or self.spdm) and close its listener, so that its
        message type is free for an application (one over mctp.ipc, say)."""
        self.services.remove(service.poll)
        service.listener.close()

    def poll(self):
        """Take in what arrived, answer control requests, serve the services; how many
        service messages were served."""
        self.server.poll()
        return self._served(self.serve())

    def _served(self, served):
        # The LED toggles for each round that served something (blocking loop only: under
        # asyncio it blinks from its own task).
        if served and self.led is not None:
            self.led.toggle()
        return served

    def serve(self):
        """Serve what the stack has delivered to the services; how many messages."""
        served = 0
        for service in self.services:
            served += service()
        return served

    async def main(self, watchdog=None, blink_ms=500, watch=()):
        """The endpoint as asyncio tasks: the stack task, which sleeps until a link (the I2C
        target's IRQ, a UART's) or a timer wakes it and then polls the stack and serves the
        services; the LED blinking every `blink_ms` from a task of its own; the watchdog fed
        from another; and a task per stream in `watch` that wakes the stack task when the
        stream has bytes (a UART read by polls, a host bus's socket: mctp.aio.watch). Start
        your own tasks before awaiting this (firmware/README.md). Faults in a service are
        counted in `faults` as run() counts them, and the tasks go on. `task` is the stack
        task while this runs (AsyncStack(app.task) for awaitable requests of your own)."""
        import asyncio  # noqa: PLC0415 (the blocking endpoint does without it)

        from mctp.aio import StackTask  # noqa: PLC0415
        from mctp.aio import watch as watch_stream  # noqa: PLC0415

        if self.wake is None:
            raise ValueError("build the endpoint with wake=ThreadSafeFlag() for main()")
        # The services are the stack task's work, each called from its own frame; the stack
        # task is a task of its own (the first to run), not awaited inside this coroutine: two
        # frames less under every answer ([c-stack]).
        self.task = StackTask(self.server, self.wake, self.services, self._fault)
        tasks = [asyncio.create_task(self.task.run())]
        tasks.extend(asyncio.create_task(watch_stream(stream, self.wake)) for stream in watch)
        if self.led is not None:
            tasks.append(asyncio.create_task(_blink(self.led, blink_ms)))
        if watchdog is not None:
            tasks.append(asyncio.create_task(_feed(watchdog)))
        try:
            await tasks[0]
        finally:  # cancelled (or stopped with Ctrl-C): the stack task and helpers go with it
            for task in tasks:
                task.cancel()

    def run(self, running=None, idle_ms=1, watchdog=None):
        """Poll until running() says False (forever without it), feeding `watchdog` (a
        machine.WDT, say) every round. Nothing but KeyboardInterrupt ends the loop: a poll
        that raises is counted in `faults` (the first traceback kept for show()) and the loop
        goes on, so the endpoint stays on the bus."""
        while True:
            # The try is around the whole loop: its `as` puts this frame on the heap once per
            # run(), not per round ([frame-limit]); the loop is not apart ([c-stack]).
            try:
                while running is None or running():
                    if watchdog is not None:
                        watchdog.feed()
                    # poll()'s steps, the server's and serve()'s loop included, from here:
                    # frames less under every answer (this frame is on the heap: its loop
                    # costs no stack). A fault in them is counted below, as a service's.
                    self.core.poll()
                    self.server.expire_receives()
                    served = 0
                    for service in self.services:
                        served += service()
                    if not self._served(served):
                        sleep_ms(idle_ms)
                return
            except Exception as error:
                self._fault(error)

    def _fault(self, error):
        self.faults += 1
        if self.first_fault is None:
            self.first_fault = format_exception(error)

    def counters(self):
        """Every counter of the endpoint, by layer, for the REPL and for traces: `link` is
        the I2C link's, `serial` the serial link's."""
        counters = {"core": self.core.counters}
        if self.link is not None:
            counters["link"] = self.link.counters
        if self.serial is not None:
            counters["serial"] = self.serial.counters
        counters["control"] = self.control.counters
        counters["echo"] = self.echo.counters
        counters["pldm"] = self.pldm.counters
        if self.spdm is not None:
            counters["spdm"] = self.spdm.counters
        return counters

    def pending(self):
        """Packets the links hold for the next poll."""
        return sum(link.pending() for link in self.core.links)

    def show(self):
        """Print the EID, every counter and the open handles (for the mpremote REPL), and
        the first fault."""
        print("EID", self.core.eid)
        for layer, counters in self.counters().items():
            print(layer, counters)
        print("faults", self.faults)
        if self.ipc is not None:
            print("ipc", " ".join("%s=%d" % pair for pair in self.ipc.counts()))
        if self.capture is not None:
            held, overwritten = self.capture.held, self.capture.overwritten
            print("capture %d packets, %d overwritten: capture.dump()" % (held, overwritten))
        for line in self.server.open_handles():
            print(line)
        if self.spdm is not None and self.spdm.problem:
            print(self.spdm.problem)
        if self.first_fault:
            print(self.first_fault)


async def _blink(led, period_ms):
    # The LED, from its own task: a board's other work runs beside the endpoint.
    import asyncio  # noqa: PLC0415

    while True:
        led.toggle()
        await asyncio.sleep(period_ms / 1000)


async def _feed(watchdog):
    # The stack task sleeps while there is nothing to do, so the watchdog is fed from here;
    # a board's watchdog timeouts are seconds.
    import asyncio  # noqa: PLC0415

    while True:
        watchdog.feed()
        await asyncio.sleep(0.5)
