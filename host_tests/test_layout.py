# Where a test lives (docs/testing.md): a module's tests are in the file named after it, so that
# a reader finds them from the module's name. mctp/x/y.py is tested in host_tests/test_x_y.py,
# mctp/y.py in test_y.py, a package's module of the package's own name (mctp/core/core.py) in
# test_core.py, firmware/y.py in test_firmware_y.py; a leading underscore is dropped
# (mctp/_compat.py: test_compat.py). A module tested elsewhere is in EQUIVALENTS, with the file
# that tests it and why.

from test_constants import _ROOT, package_modules
from testing import skip

# Modules with no test file of their own by design: {module: (the file that tests it, why)}.
EQUIVALENTS = {
    "mctp.aio._cpython": (
        "test_aio_flag.py",
        "the asyncio layer's CPython forms, which CPython runs every asyncio test through",
    ),
    "mctp.aio.awaited": (
        "test_aio_ipc.py",
        "AsyncStack's channels over an awaitable client, used there over AsyncStreamClient",
    ),
    "firmware.usb_serial": (
        "test_firmware_board.py",
        "a bridge board's USB upstream, built and served there as firmware.board builds it",
    ),
    "mctp.spdm.messages": (
        "test_spdm_responder.py",
        "SPDM's codes and field encoders: byte for byte in the responder's answers there",
    ),
    "mctp.bufcopy": (
        "test_viper_twins.py",
        "copy_into is a viper twin: both versions are checked against slices there",
    ),
    "mctp.aio._task_flag": (
        "test_aio_flag.py",
        "MicroPython's Flag: mctp.aio.flag's Flag there, tested as such",
    ),
    "mctp.aio.linux": (
        "test_one_application.py",
        "needs the kernel's MCTP sockets: examples/tid_echo.py --asyncio in a QEMU guest",
    ),
    "mctp.linux.client": (
        "test_linux.py",
        "mctp.linux without a kernel in one file; against the kernel: test_linux_socket.py",
    ),
    "mctp.linux.netlink": ("test_linux.py", "the rtnetlink messages byte for byte, as the client"),
    "mctp.linux.sockets": ("test_linux.py", "struct sockaddr_mctp byte for byte, as the client"),
    "mctp.control.bridging": (
        "test_bridge_control.py",
        "the bridge commands' codes, byte for byte in the bridge's answers (and requests)",
    ),
    "mctp.host.i2c_sim": (
        "test_i2c_link.py",
        "the simulated I2C bus the I2C tests run on (and test_control_*.py, test_firmware_*.py)",
    ),
    "mctp.host.i2c_udp": (
        "test_i2c_link.py",
        "the I2C bus over UDP, tested with a 1 KiB echo across it (test_udp_bus_1kecho_into)",
    ),
    "mctp.host.loopback": (
        "test_integration.py",
        "the in-memory bus most tests run on (endpoints.network)",
    ),
    "mctp.host.read_ahead": (
        "test_host_serial_stream.py",
        "the read-ahead of the host's streams, under the echoes over a pty and a socket pair",
    ),
    "mctp.host.serial_pipe": (
        "test_serial_link.py",
        "the in-memory serial line (with faults) the serial tests run on",
    ),
    "firmware.board_config": (
        "test_firmware_board.py",
        "settings only, read by firmware.board's build",
    ),
    "firmware.service": (
        "test_firmware_echo.py",
        "the services' base class, tested through its services (and test_firmware_pldm.py)",
    ),
}


def expected_test(module):
    """The test file named after `module` (dotted), by the rule above."""
    parts = module.split(".")
    name = parts[-1].lstrip("_")
    if parts[0] == "firmware":
        return "test_firmware_" + name + ".py"
    words = parts[1:-1]
    if not words or words[-1] != name:
        words.append(name)
    return "test_" + "_".join(words) + ".py"


def modules_to_test():
    """Every module of mctp/ and firmware/ that needs tests: not a package's __init__, a viper
    or asm_thumb twin (test_viper_twins.py) or the PEC table (test_i2c_pec.py)."""
    found = []
    for module in package_modules():
        name = module.rpartition(".")[2]
        if name == "__init__" or name == "_pec_table":
            continue
        if name.startswith("_") and name.endswith(("_viper", "_asm")):
            continue
        found.append(module)
    return found


def _test_files():
    import os  # noqa: PLC0415 (a board may have no os, and has no sources to list)

    try:
        names = os.listdir(_ROOT + "/host_tests")
    except OSError:
        skip("no test sources to list (a board's modules are frozen)")
    return [n for n in names if n.startswith("test_")]


def test_the_rule_names_the_test_file_of_each_kind_of_module():
    assert expected_test("mctp.core.reassembly") == "test_core_reassembly.py"
    assert expected_test("mctp.core.core") == "test_core.py"
    assert expected_test("mctp.stack") == "test_stack.py"
    assert expected_test("mctp._compat") == "test_compat.py"
    assert expected_test("mctp.aio._task_flag") == "test_aio_task_flag.py"
    assert expected_test("firmware.pldm") == "test_firmware_pldm.py"


def test_every_module_has_its_test_file_or_a_documented_equivalent():
    files = _test_files()
    missing = []
    for module in modules_to_test():
        if expected_test(module) not in files and module not in EQUIVALENTS:
            missing.append((module, expected_test(module)))
    assert missing == []


def test_every_equivalent_names_a_module_without_its_own_file_and_a_file_that_exists():
    files = _test_files()
    modules = modules_to_test()
    for module, (test_file, why) in EQUIVALENTS.items():
        assert module in modules, module
        assert expected_test(module) not in files, (module, "has its own file now")
        assert test_file in files and why, (module, test_file)
