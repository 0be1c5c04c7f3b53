# A bridge's upstream serial line over the board's USB (UPSTREAM = "usb" in board_config.py): a
# second USB CDC interface (the REPL keeps the first), with what SerialLink uses of a UART. Part
# of mctp-bridge-app, as only a bridge takes it.

from mctp.bufcopy import copy_into


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
