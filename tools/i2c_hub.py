# An I2C bus for several devices on the host (mctp.host.i2c_hub): `--help` prints USAGE.

import sys

_ROOT = __file__.rpartition("/")[0].rpartition("/")[0] or "."
sys.path.insert(0, _ROOT if _ROOT != "tools" else ".")

from mctp.host.i2c_hub import I2CHub  # noqa: E402

sys.path.insert(0, _ROOT + "/tools")
from cli import CommandLine, stop_on_sigterm  # noqa: E402

USAGE = """usage: i2c_hub.py [--port P] [--device ADDR=PORT ...]

An I2C bus with any number of devices on 127.0.0.1, in the UDP I2C bus's format (one
datagram per SMBus frame, the format of pymctp's QEMU I2C exerciser): each device sends its
frames to the hub's port, and the hub delivers each to the device at its destination
address. A frame to an address nobody holds is dropped and counted (the format has no NACK).

    micropython tools/i2c_hub.py --port 47300
    micropython tools/run_endpoint.py --i2c-udp 0:47300 --i2c-hub --i2c-addr 0x1D
    python3 tools/i2c_hub.py --port 0 --device 0x1D=47301 --device 0x1E=47302

Options:
  --port P            the UDP port the hub takes frames on (default 0: a free one, shown
                      in the ready line)
  --device ADDR=PORT  frames for 7-bit address ADDR go to UDP port PORT from the start
                      (repeatable). Without it the hub learns where a device is from the
                      frames it sends, or from its hello (run_endpoint.py --i2c-hub)

It prints one "ready" line when it listens, and its counters and the devices it knew when
it stops (Ctrl-C, SIGTERM under CPython).
"""

COMMAND_LINE = CommandLine(USAGE, valued={"--port": "0"}, repeated=("--device",))


def parse(argv):
    """(port, [(address, port), ...]) from the command line; a usage error (exit status 2)
    for a bad one."""
    cli = COMMAND_LINE
    options, _ = cli.parse(argv)
    port = cli.number("--port", options["port"], 0, 65535)
    devices = []
    for entry in options["device"]:
        addr, equals, device_port = entry.partition("=")
        if not equals:
            cli.fail("--device: give ADDR=PORT, not %r" % entry)
        devices.append(
            (
                cli.number("--device ADDR", addr, 0x08, 0x77),
                cli.number("--device PORT", device_port, 1, 65535),
            )
        )
    return port, devices


def report(hub):
    """The lines printed when the hub stops: its counters, the devices and where they were,
    and the addresses frames went to in vain."""
    lines = ["hub: " + " ".join("%s=%d" % pair for pair in hub.counts())]
    for addr in sorted(hub.devices):
        how = "static" if addr in hub.static else "learned"
        lines.append("device 0x%02x: %s, UDP %d" % (addr, how, hub.device_port(addr)))
    for addr in sorted(hub.absent):
        lines.append("absent 0x%02x: %d frames" % (addr, hub.absent[addr]))
    return lines


def main(argv):
    port, devices = parse(argv)
    try:
        hub = I2CHub(port, devices=devices)
    except OSError as error:
        print("i2c_hub.py: cannot listen on UDP port %d: %s" % (port, error), file=sys.stderr)
        return 1
    stop_on_sigterm()
    try:
        print("ready: I2C hub on UDP %d, %d static devices" % (hub.port, len(devices)))
        sys.stdout.flush()
        hub.run()
    except KeyboardInterrupt:
        pass
    finally:
        hub.close()
    for line in report(hub):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
