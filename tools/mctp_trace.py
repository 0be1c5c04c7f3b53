# Decodes SMBus/I2C MCTP frames, pcap captures of MCTP packets and a board's captures
# (mctp.capture); `--help` prints USAGE. describe_frame() is what `make run` prints for every
# frame on the bus. Allocates freely: a host tool, also usable from the MicroPython REPL.

import sys

sys.path.insert(0, __file__.rpartition("/")[0] + "/..")

from mctp.control import COMMAND_NAMES, COMPLETION_NAMES  # noqa: E402
from mctp.constants import (  # noqa: E402
    IID_MASK,
    MSG_TYPE_CONTROL,
    MSG_TYPE_MAX,
    MSG_TYPE_PLDM,
    MSG_TYPE_VENDOR_PCI,
)
from mctp.core.packet import FLAG_SOM, FLAGS_AT, TRANSPORT_HEADER_SIZE, describe  # noqa: E402
from mctp.i2c.smbus import decode_frame  # noqa: E402
from mctp.host.pcap import RECEIVED, SENT, PcapWriter, Record, read_dump, read_pcap  # noqa: E402

from firmware.pldm import COMMAND_NAMES as PLDM_BASE_COMMANDS  # noqa: E402
from firmware.pldm import PLDM_TYPE_BASE, PLDM_TYPE_MASK  # noqa: E402

sys.path.insert(0, __file__.rpartition("/")[0] or ".")
from cli import CommandLine  # noqa: E402

USAGE = """usage: mctp_trace.py [FRAME ...] | --pcap FILE | --capture FILE [--write-pcap OUT]

Print one line for each SMBus/I2C MCTP frame given in hex (address byte first, PEC last):
the addresses, PEC, transport header and the control, PLDM or vendor message. Each argument is
one frame (quote one written with spaces); with none, standard input gives one frame per line.

    python3 tools/mctp_trace.py 3a0f0821010008c800800256
    python3 tools/mctp_trace.py "3A 0F 08 21 01 00 08 C8 00 80 02 56" "20 0F 0C 3B ..."
    some-capture-tool | python3 tools/mctp_trace.py

Options:
  --pcap FILE  print one line for each MCTP packet of the pcap capture FILE instead
               (run_endpoint.py --pcap's, the kernel's tcpdump -i mctpX's: link type
               LINUX_SLL2 or LINUX_SLL; or MCTP, 291): its time from the first packet,
               link number, in or out, the peer's physical address (- on a serial
               line), then the packet as a frame's is shown
  --capture FILE  the same for a board's capture (mctp.capture: Capture.dump()'s text,
               Capture.save()'s file, or a console's output with the dump in it)
  --write-pcap OUT  with --capture: also write it to OUT as a pcap file (LINUX_SLL2, as
               run_endpoint.py --pcap writes), for Wireshark
"""

_SHOWN = 16  # message bytes shown before "..."


def describe_frame(frame):
    frame = bytes(frame)
    try:
        dest, src, packet = decode_frame(frame)
    except ValueError as error:
        return "%s (%d bytes: %s)" % (error, len(frame), _hex(frame))
    return "0x%02x -> 0x%02x  %s" % (src, dest, describe_packet(packet))


def describe_packet(packet):
    """An MCTP packet (transport header first): the header and the start of its message."""
    text = describe(packet, 0, len(packet))
    if len(packet) > TRANSPORT_HEADER_SIZE and packet[FLAGS_AT] & FLAG_SOM:
        type_byte = packet[TRANSPORT_HEADER_SIZE]
        text += "  " + describe_message(
            type_byte & MSG_TYPE_MAX, packet[TRANSPORT_HEADER_SIZE + 1 :]
        )
    return text


_DIRECTIONS = {RECEIVED: "in ", SENT: "out", None: "?  "}


def describe_capture(records):
    """One line for each Record of a capture (mctp.host.pcap.read_pcap)."""
    lines = []
    for record in records:
        address = "-" if record.address is None else "0x%02x" % record.address
        lines.append(
            "%.6f link %d %s %s  %s"
            % (
                record.time - records[0].time,
                record.interface,
                _DIRECTIONS[record.direction],
                address,
                describe_packet(record.packet),
            )
        )
    return lines


def describe_message(msg_type, body):
    """The start of a message: its type byte's type and the bytes after the type byte."""
    if msg_type == MSG_TYPE_CONTROL and len(body) >= 2:
        return "control " + _header(body, COMMAND_NAMES, COMPLETION_NAMES)
    if msg_type == MSG_TYPE_PLDM and len(body) >= 3:
        if body[1] & PLDM_TYPE_MASK != PLDM_TYPE_BASE:
            return "PLDM type %d command 0x%02x" % (body[1] & PLDM_TYPE_MASK, body[2])
        return "PLDM base " + _header(body[0:1] + body[2:], PLDM_BASE_COMMANDS, {0: "SUCCESS"})
    if msg_type == MSG_TYPE_VENDOR_PCI and len(body) >= 2:
        return "vendor PCI 0x%04x: %s" % (body[0] << 8 | body[1], _hex(body[2:]))
    return "type 0x%02x: %s" % (msg_type, _hex(body))


def board_records(parsed):
    """The Records (mctp.host.pcap's) of a board's capture, from mctp.capture.read_dump: the
    time in seconds of the board's ms ticks, the packet as far as the capture kept it."""
    return [
        Record(ms / 1000, link, SENT if sent else RECEIVED, address, packet)
        for ms, link, sent, address, _, packet in parsed
    ]


def write_pcap(records, path):
    """Records as a pcap file at `path` (each packet as far as it was kept)."""
    with open(path, "wb") as file:
        when = [0]
        writer = PcapWriter(file, clock=lambda: when[0])
        for record in records:
            when[0] = round(record.time * 1000) * 1000000
            packet = record.packet
            writer.record(
                record.direction, record.interface, packet, 0, len(packet), record.address
            )


def _header(body, commands, codes):
    # body: [Rq/D/IID, command, (completion code,) data...]
    command = commands.get(body[1], "command 0x%02x" % body[1])
    iid = body[0] & IID_MASK
    if body[0] & 0x80:
        kind = "datagram" if body[0] & 0x40 else "request"
        return ("%s %s iid %d %s" % (command, kind, iid, _hex(body[2:]))).rstrip()
    if len(body) < 3:
        return "%s response iid %d without a completion code" % (command, iid)
    code = codes.get(body[2], "0x%02x" % body[2])
    return ("%s response iid %d %s %s" % (command, iid, code, _hex(body[3:]))).rstrip()


def _hex(data):
    shown = " ".join("%02x" % b for b in data[:_SHOWN])
    return shown + (" ... (%d bytes)" % len(data) if len(data) > _SHOWN else "")


def main(argv):
    cli = CommandLine(
        USAGE, valued={"--pcap": None, "--capture": None, "--write-pcap": None}, positional=True
    )
    options, frames = cli.parse(argv)
    if options["write_pcap"] is not None and options["capture"] is None:
        cli.fail("--write-pcap goes with --capture")
    for option in ("pcap", "capture"):
        if options[option] is not None and frames:
            cli.fail("give frames or --%s FILE, not both" % option)
    if options["pcap"] is not None and options["capture"] is not None:
        cli.fail("give --pcap or --capture, not both")
    if options["pcap"] is not None:
        try:
            with open(options["pcap"], "rb") as file:
                records = read_pcap(file.read())
        except (OSError, ValueError) as error:
            cli.fail("--pcap %s: %s" % (options["pcap"], error))
        for line in describe_capture(records):
            print(line)
        return
    if options["capture"] is not None:
        try:
            with open(options["capture"]) as file:
                records = board_records(read_dump(file.read()))
            if options["write_pcap"] is not None:
                write_pcap(records, options["write_pcap"])
        except (OSError, ValueError) as error:
            cli.fail("--capture %s: %s" % (options["capture"], error))
        for line in describe_capture(records):
            print(line)
        return
    if not frames:
        frames = [line for line in sys.stdin.read().splitlines() if line.strip()]
    for text in frames:
        try:
            frame = bytes.fromhex(text.replace(" ", ""))
        except ValueError:
            cli.fail("not a frame in hex: %r" % text)
        print(describe_frame(frame))


if __name__ == "__main__":
    main(sys.argv[1:])
