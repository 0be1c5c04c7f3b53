# The private copies of constants ([const-copy] in docs/architecture.md): a module on a packet
# path, or a viper module, keeps `_NAME = const(value)` for a constant another module defines,
# because MicroPython folds only a module's own consts. COPIES lists every copy with its source
# of truth; the tests read the copies from the sources (MicroPython drops a private const from
# its module, and CPython cannot import a viper module), check each against its source, and
# check that no private const named like a public one is missing from the table.

from testing import skip

import mctp

# (copying module, module defining the constants, the names it copies with a leading "_").
COPIES = (
    (
        "firmware.spdm",
        "mctp.spdm.messages",
        "VERSION_10 VERSION_12 GET_VERSION RESPOND_IF_READY ERROR UNSPECIFIED RESPONSE_NOT_READY",
    ),
    ("firmware.spdm", "mctp.spdm.responder", "PENDING"),
    ("mctp.core.core", "mctp.core.packet", "VERSION_AT DEST_EID_AT SRC_EID_AT FLAGS_AT"),
    ("mctp.server.audit", "mctp.server.server", "KIND_FREE KIND_LISTENER KIND_REQUEST"),
    ("mctp.server.server", "mctp.constants", "MSG_IC_BIT MSG_TYPE_MAX TAG_MAX"),
    ("mctp.server.server", "mctp.core.core", "SEND_OK SEND_NO_ROUTE"),
    ("mctp.server.server", "mctp.core.packet", "FLAG_TO"),
    ("mctp.server.server", "mctp.ops", "OP_SEND"),
    ("mctp.host._loopback_viper", "mctp.core.packet", "FLAGS_AT"),
    ("mctp.host._loopback_viper", "mctp.core.link", "RX_FULL"),
    ("mctp.control.pool", "mctp.i2c.smbus", "ADDR_MIN ADDR_MAX"),
    ("mctp.capture", "mctp.i2c.smbus", "RX_PACKET_AT RX_SOURCE_AT"),
    ("mctp.capture", "mctp.core.packet", "DEST_EID_AT"),
    ("mctp.i2c.link", "mctp.i2c.smbus", "PACKET_AT RX_PACKET_AT RX_SOURCE_AT RX_FRAMING"),
    ("mctp.i2c.link", "mctp.core.packet", "DEST_EID_AT SRC_EID_AT"),
    (
        "mctp.i2c._smbus_viper",
        "mctp.i2c.smbus",
        (
            "RX_COMMAND_AT RX_COUNT_AT RX_SOURCE_AT RX_PACKET_AT CMD_MCTP MIN_RX_FRAME TOO_SHORT"
            " BAD_COMMAND BAD_COUNT BAD_SRC_BIT BAD_PEC BAD_VERSION"
        ),
    ),
    ("mctp.i2c._smbus_viper", "mctp.core.packet", "VERSION_MASK HEADER_VERSION"),
    (
        "mctp.i2c._ring_viper",
        "mctp.i2c.ring",
        "IRQ_READS IRQ_WRITE_REQ IRQ_END_WRITE SCRATCH POS_BYTES OUTGROWN EVENT_PROBE EVENT_READ",
    ),
    (
        "mctp.i2c._ring_viper",
        "mctp.i2c.smbus",
        "TOO_LONG RING_FULL RX_PACKET_AT RX_SOURCE_AT RX_FRAMING",
    ),
    ("mctp.i2c._ring_viper", "mctp.core.packet", "FLAGS_AT SRC_EID_AT FLAG_SOM"),
    ("mctp.i2c._ring_viper", "mctp.core.fastpath", "LAST"),
    ("mctp.i2c._ring_viper", "mctp.core.link", "RX_TAKEN RX_FULL RING_END"),
    (
        "mctp.core._fastpath_viper",
        "mctp.core.packet",
        (
            "TRANSPORT_HEADER_SIZE VERSION_MASK HEADER_VERSION FLAG_SOM FLAG_EOM FLAG_TO TAG_MASK"
            " SEQ_SHIFT SEQ_MASK MAX_MTU"
        ),
    ),
    ("mctp.core._fastpath_viper", "mctp.core.fastpath", "MAX_TX_OFF"),
    (
        "mctp.i2c._link_viper",
        "mctp.i2c.smbus",
        "DEST_AT COUNT_AT PACKET_AT",
    ),
    ("mctp.i2c._link_viper", "mctp.core.packet", "DEST_EID_AT"),
    ("mctp.i2c._link_viper", "mctp.i2c.link", "TX_FRAME_SIZE"),
    (
        "mctp.core._fastpath_viper",
        "mctp.core.reassembly",
        (
            "FREE ASSEMBLING COMPLETE SLOT_SHIFT SLOT_META STATE_AT SRC_AT TAG_AT TO_AT"
            " NEXT_SEQ_AT PACKET_LEN_AT LENGTH_AT OWNER_AT SLOTS_AT PAYLOAD_AT CONTROL_SLOT_SIZE"
            " EID_AT"
        ),
    ),
    ("mctp.core._fastpath_viper", "mctp.constants", "MSG_TYPE_CONTROL"),
    ("mctp.core._fastpath_viper", "mctp.core.core", "CONTROL_OWNER"),
    ("mctp.core._fastpath_viper", "mctp.core.fastpath", "MIDDLE LAST"),
    ("mctp.core._fastpath_viper", "mctp.core.link", "RX_TAKEN RX_FULL"),
    ("mctp.core.fastpath", "mctp.constants", "MSG_TYPE_CONTROL"),
    ("mctp.control._answer_viper", "mctp.constants", "RQ DATAGRAM IID_MASK"),
    (
        "mctp.control._answer_viper",
        "mctp.control.messages",
        (
            "GET_ENDPOINT_ID GET_ENDPOINT_UUID SUCCESS EID_DYNAMIC EID_STATIC_SUPPORTED"
            " EID_STATIC_CURRENT EID_STATIC_OTHER"
        ),
    ),
    (
        "mctp.control._answer_viper",
        "mctp.core.packet",
        "HEADER_VERSION FLAG_SOM FLAG_EOM TRANSPORT_HEADER_SIZE MAX_MTU TAG_MASK",
    ),
    ("mctp.control._answer_viper", "mctp.constants", "MSG_TYPE_CONTROL"),
    ("mctp.control._answer_viper", "mctp.core.fastpath", "MAX_TX_OFF"),
    ("mctp.core.fastpath", "mctp.core.core", "CONTROL_OWNER"),
    (
        "mctp.serial._framing_viper",
        "mctp.serial.framing",
        "FLAG ESCAPE ESCAPED_BIT REVISION FCS_AFTER_REVISION FRAMING",
    ),
    ("mctp.serial._deliver_viper", "mctp.core.packet", "FLAGS_AT"),
    ("mctp.serial._deliver_viper", "mctp.core.link", "RX_FULL"),
    (
        "mctp.serial._deframer_viper",
        "mctp.serial.framing",
        "FLAG ESCAPE ESCAPED_BIT REVISION FCS_AFTER_REVISION MIN_COUNT",
    ),
    (
        "mctp.serial._deframer_viper",
        "mctp.serial.deframer",
        (
            "HUNT SKIP OPENED CLOSED COUNT DATA ESCAPED FCS_HIGH FCS_LOW CLOSING BAD_FCS BAD_REVISION"
            " BAD_COUNT TRUNCATED TOO_LONG TOO_SHORT BAD_ESCAPE NOISE RING_FULL STATE_AT POS_AT"
            " COUNT_AT CRC_AT GAP_AT W_AT R_AT SIZE_AT MAX_COUNT_AT WAKE_AT"
        ),
    ),
)


def _derived():
    # Copies of a value made of several constants: (copying module, private name, the value).
    from mctp.core import packet  # noqa: PLC0415
    from mctp.errors import ResponseCode  # noqa: PLC0415
    from mctp.i2c import ring  # noqa: PLC0415

    return (
        ("mctp.server.server", "_SUCCESS", ResponseCode.SUCCESS),
        ("mctp.server.direct", "_SUCCESS", ResponseCode.SUCCESS),
        ("mctp.host._loopback_viper", "_FLAG_SOM_EOM", packet.FLAG_SOM | packet.FLAG_EOM),
        ("mctp.serial._deliver_viper", "_FLAG_SOM_EOM", packet.FLAG_SOM | packet.FLAG_EOM),
        (
            "mctp.i2c.link",
            "_TRIGGERS",
            ring.IRQ_READ_REQ | ring.IRQ_WRITE_REQ | ring.IRQ_END_WRITE,
        ),
        ("mctp.i2c.link", "_MEM_TRIGGERS", ring.IRQ_END_WRITE | ring.IRQ_END_READ),
    )


# Private consts named like a public constant elsewhere that are not copies of it.
NOT_COPIES = {
    ("mctp.linux.sockets", "_EID"): "the EID field's index in a sockaddr_mctp",
    ("mctp.linux.netlink", "_HEADER_SIZE"): "struct nlmsghdr's size, not an IPC frame's",
    ("mctp.linux.netlink", "_ARPHRD_MCTP"): "Linux's if_arp.h value, which mctp.host.pcap also "
    "writes into captures: two parts that do not import each other",
    (
        "mctp.bridge.control",
        "_UNSPECIFIED",
    ): "a routing entry's medium speed unspecified, not SPDM's "
    "Unspecified error code (mctp.spdm.messages.UNSPECIFIED)",
}

_ROOT = getattr(mctp, "__file__", "").rpartition("/")[0].rpartition("/")[0] or "."


def _source(module):
    # The text of a module of the package; a board's frozen modules have none to read.
    try:
        with open(_ROOT + "/" + module.replace(".", "/") + ".py") as f:
            return f.read()
    except OSError:
        skip("no package sources beside the tests (a board's modules are frozen)")


def _private_consts(text):
    # {name: the text of its value} for each `_NAME = const(value)` at the top of a module.
    found = {}
    for line in text.split("\n"):
        name, sep, rest = line.partition(" = const(")
        if sep and name.startswith("_") and " " not in name:
            found[name] = rest.partition("#")[0].strip()[:-1]
    return found


def _public_names(text):
    # The names a module defines at its top level in capitals, `NAME = ...`.
    names = set()
    for line in text.split("\n"):
        name, sep, _ = line.partition(" = ")
        if sep and name[:1].isupper() and name.upper() == name and " " not in name:
            names.add(name)
    return names


def _import(module):
    return __import__(module, None, None, ["_"])


def package_modules():
    # Every module of mctp/ and firmware/, dotted (skips where there are no sources).
    _source("mctp.constants")
    return _modules(_ROOT + "/mctp", "mctp") + _modules(_ROOT + "/firmware", "firmware")


def _modules(folder, prefix):
    import os  # noqa: PLC0415 (a board may have no os, and has no sources to list)

    found = []
    for name in sorted(os.listdir(folder)):
        path = folder + "/" + name
        if name.endswith(".py"):
            found.append(prefix + "." + name[:-3])
        elif not name.startswith((".", "_")) and os.stat(path)[0] & 0x4000:
            found += _modules(path, prefix + "." + name)
    return found


def _table():
    # (copying module, private name, the value it must have), one row per copy.
    rows = []
    for copier, source, names in COPIES:
        truth = _import(source)
        for name in names.split():
            rows.append((copier, "_" + name, getattr(truth, name)))
    return rows + list(_derived())


def test_every_private_copy_equals_its_source_of_truth():
    copied = {}
    for copier, name, value in _table():
        if copier not in copied:
            copied[copier] = _private_consts(_source(copier))
        assert name in copied[copier], (copier, name)
        assert eval(copied[copier][name]) == value, (copier, name, value)  # noqa: S307


def test_no_private_copy_of_a_public_constant_is_missing_from_the_table():
    modules = package_modules()
    public = set()
    for module in modules:
        public |= _public_names(_source(module))
    checked = {(copier, name) for copier, name, _ in _table()}
    unchecked = []
    for module in modules:
        for name in _private_consts(_source(module)):
            if name[1:] in public and (module, name) not in checked:
                if (module, name) not in NOT_COPIES:
                    unchecked.append((module, name))
    assert unchecked == []
    assert len(modules) > 60 and ("mctp.i2c.link", "_PACKET_AT") in checked
