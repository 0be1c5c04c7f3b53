# The endpoint on a board: machine.I2C and machine.I2CTarget, and a machine.UART for a serial
# link, built from the board's configuration module, then the endpoint's tasks (asyncio). A
# frozen main.py calls main().
#
#     >>> import firmware.board
#     >>> app = firmware.board.build()     # at the REPL: poll by hand, read counters
#     >>> app.poll(); app.show()

import sys

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
    if getattr(c, "BRIDGE", False) and c.UPSTREAM == "usb":
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
    elif c.UPSTREAM != "usb":
        raise ValueError("UPSTREAM must be 'uart' or 'usb', not %r" % (c.UPSTREAM,))
    try:
        from .bridge import BridgeApp  # noqa: PLC0415 (an endpoint's image has no bridge)
        from .usb_serial import usb_serial  # noqa: PLC0415 (the bridge's part's too)
    except ImportError as error:
        raise missing_part("BRIDGE = True", "mctp-bridge-app", error) from None
    if c.UPSTREAM == "usb":
        upstream = usb_serial()
    return BridgeApp(i2c, target, c.I2C_ADDR, upstream, c.POOL_SIZE, c.DOWNSTREAM, **options)


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
