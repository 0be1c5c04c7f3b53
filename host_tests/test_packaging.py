# The board check of tools/ci/check_package.py (make check-boards) catches what must never reach a
# board: a host bus, a module that imports socket, a manifest that freezes something else
# through FROZEN_MANIFEST on a stock board. Each is planted in a board of its own in a temporary
# folder. CPython only (MicroPython's manifestfile comes from micropython-stubber).

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(ROOT, "tools", "ci"))


def _board_problems(extra_manifest_lines, extra_files=(), thumb=True):
    """The check's problems for a copy of RPI_PICO whose manifest has the extra lines (its
    parts found by absolute path, which both routes resolve alike), and requires the I2C part
    as a Thumb port's unless `thumb` is False."""
    import check_package  # noqa: PLC0415

    boards = tempfile.mkdtemp(prefix="mctp-boards-")
    try:
        board = os.path.join(boards, "RPI_PICO")
        shutil.copytree(os.path.join(ROOT, "boards", "RPI_PICO"), board)
        lines = [
            'include("$(PORT_DIR)/boards/manifest.py")',
            'add_library("mctp-parts", %r)' % os.path.join(ROOT, "parts"),
            'require("mctp-i2c", library="mctp-parts", thumb=True)',
            'require("mctp-endpoint", library="mctp-parts")',
            'require("mctp-serial", library="mctp-parts")',
            'require("mctp-ipc", library="mctp-parts")',
            'require("mctp-capture", library="mctp-parts")',
            'require("mctp-audit", library="mctp-parts")',
            'require("mctp-bridge-app", library="mctp-parts")',
            'module("board_config.py")',
            'module("main.py")',
        ]
        if not thumb:
            lines.remove('require("mctp-i2c", library="mctp-parts", thumb=True)')
        with open(os.path.join(board, "manifest.py"), "w") as f:
            f.write("\n".join(lines + list(extra_manifest_lines)) + "\n")
        for name, text in extra_files:
            with open(os.path.join(board, name), "w") as f:
                f.write(text)
        saved = check_package.BOARDS_DIR
        check_package.BOARDS_DIR = boards
        stub_root = tempfile.mkdtemp(prefix="mctp-stub-")
        out = tempfile.mkdtemp(prefix="mctp-out-")
        try:
            check_package.make_stub_tree(stub_root)
            problems, _ = check_package.check_board(
                "RPI_PICO", "rp2", ("armv6m",), stub_root, check_package.mpy_cross_command(), out
            )
        finally:
            check_package.BOARDS_DIR = saved
            shutil.rmtree(stub_root, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
        return problems
    finally:
        shutil.rmtree(boards, ignore_errors=True)


def _cpython_only():
    if IS_MICROPYTHON:
        skip("runs MicroPython's manifestfile and mpy-cross from CPython")


def test_the_board_as_it_is_passes():
    _cpython_only()
    assert _board_problems(()) == []


def test_a_board_that_freezes_a_host_bus_is_refused():
    _cpython_only()
    problems = _board_problems(['package("mctp/host", base_path=%r)' % ROOT])
    assert "manifest.py freezes mctp/host/i2c_udp.py, a host bus" in problems


def test_a_board_freezes_the_asm_thumb_pec_without_the_viper_one_it_shadows():
    # Every board is on a Thumb port, where mctp.i2c.pec takes the asm_thumb PEC: the viper
    # one would be flash that never runs (m0_frozen_flash_bytes).
    _cpython_only()
    import check_package  # noqa: PLC0415

    frozen = {f.target_path for f in check_package.board_part_files()}
    assert "mctp/i2c/_pec_asm.py" in frozen and "mctp/i2c/_pec_viper.py" not in frozen
    assert "mctp/i2c/_pec_viper.py" in shipped("mctp-i2c")  # (other ports', the unix port's)
    problems = _board_problems((), thumb=False)
    assert "manifest.py freezes mctp/i2c/_pec_viper.py, which is not expected" in problems


def test_a_board_freezes_the_parts_without_line_numbers():
    # opt=3, as MicroPython freezes its own asyncio: about 5.6 KB less of an endpoint's image.
    _cpython_only()
    import check_package  # noqa: PLC0415

    files = check_package.board_part_files()
    assert files and [f.target_path for f in files if f.opt != 3] == []


def test_a_frozen_module_that_imports_socket_is_refused():
    _cpython_only()
    problems = _board_problems(
        ['module("helper.py")'], [("helper.py", "def peer():\n    import socket\n")]
    )
    assert "helper.py imports socket, which a board does not have" in problems


def test_a_manifest_that_only_works_from_its_board_dir_is_refused():
    _cpython_only()
    problems = _board_problems(['module("main.py", base_path="$(BOARD_DIR)")'])
    assert any("through FROZEN_MANIFEST on a stock board" in p for p in problems), problems


def shipped(part):
    """The files the part's .json (what mip installs) lists."""
    import json  # noqa: PLC0415

    with open(os.path.join(ROOT, part + ".json")) as f:
        return [target for target, _ in json.load(f)["urls"]]


def test_the_ipc_codec_ships_with_the_ipc_part_and_the_core_does_not_import_it():
    if IS_MICROPYTHON:
        skip("reads the parts' .json files and sources with CPython")
    import re  # noqa: PLC0415

    core = shipped("mctp-core")
    assert "mctp/wire.py" not in core and "mctp/wire.py" in shipped("mctp-ipc")
    for path in core:
        with open(os.path.join(ROOT, path)) as f:
            assert not re.search(r"^\s*from [.\w]*\bwire import", f.read(), re.M), path


def test_the_bridge_ships_with_the_bridge_part_and_an_endpoint_carries_none_of_it():
    if IS_MICROPYTHON:
        skip("reads the parts' .json files and sources with CPython")
    import re  # noqa: PLC0415

    endpoint = shipped("mctp-endpoint")
    bridge = shipped("mctp-bridge")
    for path in ("mctp/bridge/forward.py", "mctp/bridge/control.py", "mctp/control/bridging.py"):
        assert path in bridge and path not in endpoint, path
    # Nor a bridge command's code, its pool or its routing table entry's medium: the
    # firmware's bridge mode (firmware/bridge.py, which only BRIDGE = True imports) is the
    # mctp-bridge-app part's.
    bridge_only = re.compile(
        r"ALLOCATE_ENDPOINT_IDS|GET_ROUTING_TABLE_ENTRIES|pool_size|binding_id"
    )
    assert "firmware/bridge.py" not in endpoint and "firmware/bridge.py" in shipped(
        "mctp-bridge-app"
    )
    for path in endpoint:
        with open(os.path.join(ROOT, path)) as f:
            assert not bridge_only.search(f.read()), path


def test_the_endpoint_part_carries_only_an_i2c_endpoint_and_the_boards_the_rest():
    # What a board_config.py may turn on is in parts of its own (m0_frozen_flash_bytes measures
    # the endpoint's alone); the board images freeze them beside it.
    _cpython_only()
    import check_package  # noqa: PLC0415

    endpoint = shipped("mctp-endpoint")
    for part, sample in (
        ("mctp-serial", "mctp/serial/link.py"),
        ("mctp-ipc", "mctp/ipc/service.py"),
        ("mctp-capture", "mctp/capture.py"),
        ("mctp-audit", "mctp/server/audit.py"),
        ("mctp-bridge-app", "firmware/bridge.py"),
        # Nor what only they use: the FCS-16 of the serial and IPC frames, and the asyncio
        # channels over IPC's awaitable client.
        ("mctp-serial", "mctp/fcs.py"),
        ("mctp-ipc", "mctp/fcs.py"),
        ("mctp-ipc", "mctp/aio/awaited.py"),
        ("mctp-bridge-app", "firmware/usb_serial.py"),
    ):
        assert sample in shipped(part) and sample not in endpoint, sample
        assert part in check_package.BOARD_PARTS, part
    # SPDM's service and its signing: a part a board installs when it answers SPDM (the board
    # images leave it out).
    assert "firmware/spdm.py" in shipped("mctp-spdm-app") and "firmware/spdm.py" not in endpoint
    assert "mctp/spdm/ecdsa.py" in shipped("mctp-spdm-app")


def test_the_asyncio_layers_cpython_forms_are_in_no_part():
    # MicroPython never imports them: a board neither installs (mip) nor freezes them.
    _cpython_only()
    import check_package  # noqa: PLC0415

    for name, _, _ in check_package.installables():
        part = "package" if name == "mctp" else name
        assert "mctp/aio/_cpython.py" not in shipped(part), part


def _armv6m_literals(source, find="armv6m_literals"):
    # What check_package finds in `source`'s code compiled for ARMv6-M ([armv6m-literal]).
    import check_package  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as out:
        path = os.path.join(out, "m.py")
        with open(path, "w") as f:
            f.write(source)
        subprocess.run(
            [check_package.mpy_cross_command(), "-march=armv6m", "-o", path + ".mpy", path],
            check=True,
        )
        with open(path + ".mpy", "rb") as f:
            return getattr(check_package, find)(f.read())


def test_a_32_bit_constant_in_armv6m_native_code_is_found_and_a_signature_is_not():
    _cpython_only()
    viper = "import micropython\n@micropython.viper\ndef f(x: int) -> int:\n    return x%s\n"
    assert _armv6m_literals(viper % "") == []  # only its argument-count check's signature
    assert _armv6m_literals(viper % " + 0x12345") == [0x12345]
    assert _armv6m_literals(viper % " & 0xFF00") == []  # made without a load: no such constant


def test_a_jump_beyond_2_kb_in_armv6m_native_code_is_found():
    # (the cause of the HardFaults that came and went with the image's layout on the emulated
    # Cortex-M0: the serial deframer's and the fast path's large viper functions)
    _cpython_only()
    body = "        x = (x ^ (x << 4)) & 0xFF\n"
    viper = "import micropython\n@micropython.viper\ndef f(x: int) -> int:\n    if x:\n%s    return x\n"
    assert _armv6m_literals(viper % (body * 20), "armv6m_long_jumps") == []
    jumps = _armv6m_literals(viper % (body * 300), "armv6m_long_jumps")
    assert len(jumps) == 1 and jumps[0] > 2048, jumps
