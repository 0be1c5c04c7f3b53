# The endpoint on a board: machine.I2C and machine.I2CTarget, and a machine.UART for a serial
# link, built from the board's configuration module, then the endpoint's tasks (asyncio). A
# frozen main.py calls main().
#
#     >>> import firmware.board
#     >>> app = firmware.board.build()     # at the REPL: poll by hand, read counters
#     >>> app.poll(); app.show()

import sys

from mctp.bufcopy import copy_into
from mctp.i2c import MEM_SIZE

from .endpoint import EndpointApp, missing_part


app = None  # the app main() serves, once it has started


def load_config():
    """The board's `board_config` module, or the firmware's defaults."""
    try:
        import board_config  # noqa: PLC0415 (a board's own, frozen or on its filesystem)
    except ImportError:
        from . import board_config  # noqa: PLC0415

    return board_config


def check_firmware(machine):
    if hasattr(machine, "I2CTarget"):
        return
    version = sys.implementation.version
    if sys.platform in ("linux", "darwin", "win32") or version >= (1, 26):
        # The unix port (or a board whose port has no I2C target driver).
        raise RuntimeError(
            "this port (%s) has no machine.I2CTarget, which the endpoint receives with; on a"
            " host, run it on the UDP I2C bus instead: micropython tools/run_endpoint.py"
            " --i2c-udp 0:PEER" % sys.platform
        )
    raise RuntimeError(
        "the MCTP endpoint needs MicroPython 1.26 or later (machine.I2CTarget); this is %d.%d.%d"
        % version[:3]
    )


def build(config=None, wake=None):
    import machine  # noqa: PLC0415 (boards only)

    c = config or load_config()
    i2c = target = mem = None
    if c.I2C_ADDR is not None:
        check_firmware(machine)
        i2c = machine.I2C(
            c.CONTROLLER_ID, freq=c.I2C_FREQ, **_pins(machine, c.CONTROLLER_SDA, c.CONTROLLER_SCL)
        )
        # In memory mode: the port collects each write in C, and the link's handler runs once
        # a frame instead of once a FIFO load (a byte, on rp2).
        mem = bytearray(MEM_SIZE)
        target = machine.I2CTarget(
            c.TARGET_ID,
            c.I2C_ADDR,
            mem=mem,
            mem_addrsize=8,
            **_pins(machine, c.TARGET_SDA, c.TARGET_SCL),
        )
    options = {
        "target_mem": mem,
        "uuid": c.UUID,
        "eid": c.EID,
        "mtu": c.MTU,
        "vendor_id": c.VENDOR_ID,
        "echo_command_set": c.ECHO_COMMAND_SET,
        "tid": c.PLDM_TID,
        "led": None if c.LED is None else machine.Pin(c.LED, machine.Pin.OUT),
        "wake": wake,
    }
    if getattr(c, "BRIDGE", False):  # (an older board_config has no bridge settings)
        app = _bridge(machine, c, i2c, target, options)
    else:
        app = EndpointApp(i2c, target, c.I2C_ADDR, serial=_uart(machine, c, "SERIAL"), **options)
    ipc = _uart(machine, c, "IPC")
    if ipc is not None:
        app.serve_ipc(ipc)
    spdm = getattr(c, "SPDM_FOLDER", None)  # (an older board_config has no SPDM setting)
    if spdm is not None:
        app.serve_spdm(spdm, c)
    if app.serial is not None and isinstance(app.serial.stream, UsbSerial):
        # Its writes go to the USB from the loop's top level, after every service's.
        app.services.append(app.serial.stream.flush)
    if getattr(c, "CAPTURE", 0):  # (an older board_config has no CAPTURE)
        try:
            from mctp.capture import Capture  # noqa: PLC0415 (most boards capture nothing)
        except ImportError as error:
            raise missing_part("CAPTURE", "mctp-capture", error) from None

        app.capture = Capture(c.CAPTURE).attach(app.core)
    return app


def _bridge(machine, c, i2c, target, options):
    # The bridge: its upstream link (UPSTREAM: the serial link's UART, or the board's USB),
    # the I2C bus downstream.
    if i2c is None:
        raise ValueError("BRIDGE = True needs the downstream I2C bus: set I2C_ADDR")
    if c.UPSTREAM == "uart":
        upstream = _uart(machine, c, "SERIAL")
        if upstream is None:
            raise ValueError("BRIDGE with UPSTREAM = 'uart' needs SERIAL_UART (its UART)")
    elif c.UPSTREAM == "usb":
        upstream = usb_serial()
    else:
        raise ValueError("UPSTREAM must be 'uart' or 'usb', not %r" % (c.UPSTREAM,))
    try:
        from .bridge import BridgeApp  # noqa: PLC0415 (an endpoint's image has no bridge)
    except ImportError as error:
        raise missing_part("BRIDGE = True", "mctp-bridge-app", error) from None
    return BridgeApp(i2c, target, c.I2C_ADDR, upstream, c.POOL_SIZE, c.DOWNSTREAM, **options)


def usb_serial():
    """A second USB CDC interface (the REPL keeps the first) as the bridge's upstream serial
    line: micropython-lib's usb-device-cdc on machine.USBDevice (RP2040, RP2350)."""
    try:
        import usb.device  # noqa: PLC0415 (micropython-lib's usb-device)
        from usb.device.cdc import CDCInterface  # noqa: PLC0415
    except ImportError:
        raise RuntimeError(
            "UPSTREAM = 'usb' needs micropython-lib's usb-device-cdc (mpremote mip install"
            " usb-device-cdc) on a port with machine.USBDevice (rp2); or set UPSTREAM = 'uart'"
        ) from None
    cdc = CDCInterface()
    # A 1 KiB message's frames, escaping and all, wait in its receive buffer (as a UART's);
    # timeout 0: reads and writes take what there is and return.
    cdc.init(timeout=0, txbuf=2048, rxbuf=2048)
    usb.device.get().init(cdc, builtin_driver=True)
    return UsbSerial(cdc)


class UsbSerial:
    """What SerialLink uses of machine.UART, over a CDCInterface made with timeout 0: it has
    no any() and reads and writes whole buffers, so each read here makes a memoryview of the
    part asked for (as CDCInterface makes its own).

    Writes wait in `queue` bytes of our own until flush(), which the bridge's loop calls after
    its services (firmware.board adds it to them): micropython-lib's CDCInterface.write is
    Python, four calls deep before its C, and a control answer or a forwarded packet is sent
    from inside the stack's poll, where those frames on top of the answer's own took a Pico's
    8 KiB C stack to its end ([c-stack], docs/bridge.md). write() only copies, and allocates
    nothing; a write that finds the queue full flushes it from where it is."""

    POLL = 3  # MP_STREAM_POLL and MP_STREAM_POLL_RD, from py/stream.h: readable?
    POLL_RD = 1
    PACKET = 64  # bytes of a USB full-speed bulk packet: what any() says when it has some
    QUEUE = 2048  # a 1 KiB message's 16 frames (about 1,200 bytes) and the answers of a round

    def __init__(self, cdc, queue=QUEUE):
        self.source = cdc  # what asyncio's poller watches for bytes (main())
        self.cdc = cdc
        self.queue = bytearray(queue)
        self._queued = 0  # bytes written to the queue
        self._flushed = 0  # of those, bytes the CDC interface took

    def any(self):
        # Some bytes or none (the CDC does not say how many): readinto takes what there is.
        return self.PACKET if self.cdc.ioctl(self.POLL, self.POLL_RD) else 0

    def readinto(self, buf, n=None):
        if n is None or n >= len(buf):
            return self.cdc.readinto(buf)
        return self.cdc.readinto(memoryview(buf)[:n])

    def write(self, buf, off=0, n=None):
        """buf[off:off + n] (default: to the end) into the queue; how many bytes it took."""
        if n is None:
            n = len(buf) - off
        if n > len(self.queue) - self._queued:
            self.flush()
            n = min(n, len(self.queue) - self._queued)
        copy_into(self.queue, self._queued, buf, off, n)
        self._queued += n
        return n

    def waiting(self):
        """Bytes written and not yet taken by the CDC interface."""
        return self._queued - self._flushed

    def flush(self):
        """Hand what waits in the queue to the CDC interface, as much as it takes; 0 (a
        service's count of messages served)."""
        if self._queued == self._flushed:
            return 0
        view = memoryview(self.queue)[self._flushed : self._queued]
        self._flushed += self.cdc.write(view) or 0
        if self._flushed == self._queued:
            self._queued = self._flushed = 0
        return 0


def _uart(machine, c, use):
    # The UART of the serial link (use "SERIAL") or of the IPC stream ("IPC"), or None: its
    # settings are USE_UART, USE_BAUD, USE_TX and USE_RX (an older board_config has none).
    uart_id = getattr(c, use + "_UART", None)
    if uart_id is None:
        return None
    pins = {}
    tx = getattr(c, use + "_TX")
    if tx is not None:
        pins = {"tx": machine.Pin(tx), "rx": machine.Pin(getattr(c, use + "_RX"))}
    # A receive buffer for a whole 1 KiB message (in baseline frames, escaping and all; or in
    # one IPC frame) while the stack is busy elsewhere.
    baud = getattr(c, use + "_BAUD")
    return machine.UART(uart_id, baudrate=baud, rxbuf=2048, timeout=0, **pins)


def _pins(machine, sda, scl):
    # Pins to pass, or none where the port fixes them for the peripheral (stm32: the board's
    # MICROPY_HW_I2Cn_SDA/SCL).
    if sda is None:
        return {}
    return {"sda": machine.Pin(sda), "scl": machine.Pin(scl)}


def watchdog(config):
    """A machine.WDT with the configured timeout, or None when there is to be none. Once
    started it cannot be stopped: main() starts it, the REPL recipes do not."""
    timeout = getattr(config, "WATCHDOG_MS", None)  # an older board_config may not say
    if not timeout:
        return None
    import machine  # noqa: PLC0415 (boards only)

    return machine.WDT(timeout=timeout)


def main():
    """The endpoint as an asyncio program (EndpointApp.main): a stack task woken by the I2C
    target's IRQ, the LED blinking from its own task, the watchdog fed from another."""
    import asyncio  # noqa: PLC0415

    from mctp.aio import ThreadSafeFlag  # noqa: PLC0415

    global app  # noqa: PLW0603 (for the REPL after Ctrl-C: firmware.board.app.capture.dump())

    config = load_config()
    app = build(config, ThreadSafeFlag())
    dog = watchdog(config)
    where = []
    if app.link is not None:
        where.append("I2C address 0x%02x" % app.link.addr)
    if app.serial is not None and getattr(config, "BRIDGE", False):
        where.append("upstream %s" % config.UPSTREAM)
    elif app.serial is not None:
        where.append("UART %s" % config.SERIAL_UART)
    ipc = ""
    if app.ipc is not None:
        ipc = ", stack served on UART %s" % config.IPC_UART
    what = "endpoint"
    if getattr(config, "BRIDGE", False):
        what = "bridge (a pool of %d EIDs)" % config.POOL_SIZE
    print(
        "MCTP %s at %s, EID %d%s%s"
        % (what, " and ".join(where), app.core.eid, ipc, ", watchdog on" if dog else "")
    )
    # A UART without IRQ_RXIDLE, and the IPC stream's, wake the stack task through asyncio's
    # poller.
    polled = []
    if app.serial is not None and not app.serial.irq:
        polled.append(getattr(app.serial.stream, "source", app.serial.stream))
    if app.ipc is not None:
        polled.append(app.ipc.peers[0].stream)
    asyncio.run(app.main(dog, watch=polled))
