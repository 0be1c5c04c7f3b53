# tools/build_boards.py, without building anything (CI has no MicroPython checkout): its command
# line, the messages for a missing MicroPython directory, submodule or tool, and how it reads
# what a build froze. CPython only: the tool starts make and reads files through subprocess.

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    SCRIPT = os.path.join(ROOT, "tools", "build_boards.py")
    sys.path.insert(0, os.path.join(ROOT, "tools"))


def _cpython_only():
    if IS_MICROPYTHON:
        skip("starts processes")


def _run(*args, path=None):
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, SCRIPT] + list(args),  # noqa: RUF005 (MicroPython)
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def _fake_checkout():
    """A folder that passes for a MicroPython checkout with no submodule checked out."""
    mpy = tempfile.mkdtemp(prefix="mctp-micropython-")
    for name in ("py/mkrules.mk", "tools/manifestfile.py"):
        os.makedirs(os.path.join(mpy, os.path.dirname(name)))
        open(os.path.join(mpy, name), "w").close()
    return mpy


def _usage_error(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert lines[0].startswith("usage: build_boards.py"), lines
    return lines[-1]


def test_a_missing_micropython_dir_is_a_usage_error_naming_it():
    _cpython_only()
    missing = os.path.join(tempfile.gettempdir(), "mctp-no-such-micropython-%d" % os.getpid())
    line = _usage_error(_run(missing))
    assert line == "build_boards.py: error: MICROPYTHON_DIR %s: no such directory" % missing


def test_a_dir_that_is_not_a_micropython_checkout_is_a_usage_error():
    _cpython_only()
    empty = tempfile.mkdtemp(prefix="mctp-not-micropython-")
    try:
        line = _usage_error(_run(empty))
    finally:
        os.rmdir(empty)
    assert line == (
        "build_boards.py: error: MICROPYTHON_DIR %s: not a MicroPython checkout"
        " (no py/mkrules.mk)" % empty
    )


def test_bad_options_are_usage_errors():
    _cpython_only()
    assert "argument --board: invalid choice: 'RPI_PICO3'" in _usage_error(
        _run(ROOT, "--board", "RPI_PICO3")
    )
    assert "argument --route: invalid choice: 'stock'" in _usage_error(
        _run(ROOT, "--route", "stock")
    )
    assert "--jobs: 0 is not 1 or more" in _usage_error(_run(ROOT, "--jobs", "0"))
    assert "the following arguments are required: MICROPYTHON_DIR" in _usage_error(_run())


def test_missing_submodules_and_tools_are_each_named_before_anything_is_built():
    _cpython_only()
    mpy = _fake_checkout()
    no_tools = tempfile.mkdtemp(prefix="mctp-empty-path-")
    try:
        os.makedirs(os.path.join(mpy, "lib", "stm32lib"))  # a submodule not checked out
        result = _run(mpy, "--board", "NUCLEO_F429ZI", path=no_tools)
    finally:
        shutil.rmtree(mpy)
        os.rmdir(no_tools)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and result.stdout == "", result.stderr
    hint = "`make -C ports/stm32 BOARD_DIR=... submodules`"
    assert lines[0] == "error: lib/stm32lib (for stm32) is missing or empty: in %s run %s" % (
        mpy,
        hint,
    )
    assert len([line for line in lines if "is missing or empty" in line]) == 6, lines
    assert "error: make is not on PATH (boards/README.md lists the packages)" in lines
    assert "error: arm-none-eabi-gcc is not on PATH (boards/README.md lists the packages)" in lines


def test_defaults_are_every_board_by_both_routes_in_order():
    _cpython_only()
    import build_boards  # noqa: PLC0415

    mpy = _fake_checkout()
    try:
        args = build_boards.parse_args([mpy, "--jobs", "3"])
        picked = build_boards.parse_args([mpy, "--board", "NUCLEO_F429ZI", "--board", "RPI_PICO"])
    finally:
        shutil.rmtree(mpy)
    assert args.micropython_dir == mpy and args.jobs == 3
    assert args.board == ["RPI_PICO", "RPI_PICO2", "NUCLEO_F429ZI"]
    assert args.route == ["board-dir", "frozen-manifest"]
    assert picked.board == ["RPI_PICO", "NUCLEO_F429ZI"]
    board = os.path.join(ROOT, "boards", "RPI_PICO")
    assert build_boards.make_command("RPI_PICO", "board-dir", 3) == [
        "make",
        "BOARD_DIR=" + board,
        "BUILD=build-MCTP_RPI_PICO",
        "-j3",
    ]
    assert build_boards.make_command("RPI_PICO", "frozen-manifest", 3) == [
        "make",
        "BOARD=RPI_PICO",
        "FROZEN_MANIFEST=" + os.path.join(board, "manifest.py"),
        "BUILD=build-MCTP_RPI_PICO-FM",
        "-j3",
    ]
    assert build_boards.make_command("RPI_PICO", None, 3) == [
        "make",
        "BOARD=RPI_PICO",
        "BUILD=build-RPI_PICO",
        "-j3",
    ]


def test_frozen_names_are_read_from_frozen_content_and_checked():
    _cpython_only()
    import build_boards  # noqa: PLC0415

    content = tempfile.NamedTemporaryFile("w", suffix=".c", delete=False)
    with content:
        content.write(
            'const char mp_frozen_str_names[] = {\n"\\0"};\n'
            "const char mp_frozen_names[] = {\n"
            "#ifdef MP_FROZEN_STR_NAMES\nMP_FROZEN_STR_NAMES\n#endif\n"
            '"asyncio/core.py\\0"\n"mctp/core.py\\0"\n"mctp/host/udp.py\\0"\n'
            '"main.py\\0"\n"\\0"};\n'
        )
    try:
        names = build_boards.frozen_names(content.name)
    finally:
        os.remove(content.name)
    assert names == ["asyncio/core.py", "mctp/core.py", "mctp/host/udp.py", "main.py"]
    expected = {"mctp/core.py", "firmware/board.py", "main.py"}
    assert build_boards.frozen_problems(names, expected) == [
        "firmware/board.py is not frozen",
        "mctp/host/udp.py is frozen: a host bus",
    ]


def test_an_rp2_image_whose_filesystem_is_not_the_cmake_size_is_a_problem():
    _cpython_only()
    import build_boards  # noqa: PLC0415

    declared = {}
    real = build_boards.rp2_storage
    build_boards.rp2_storage = lambda uf2: declared.get("storage")
    try:
        declared["storage"] = (655360, 1441792)  # mpconfigboard.h and .cmake agree: 1408 KiB
        agree = build_boards.storage_problems("RPI_PICO", "build")
        declared["storage"] = (1048576, 1048576)  # the image's filesystem from another value
        differ = build_boards.storage_problems("RPI_PICO", "build")
        declared["storage"] = None
        unread = build_boards.storage_problems("RPI_PICO", "build")
    finally:
        build_boards.rp2_storage = real
    assert agree == []
    mismatch = (
        "board-dir: the image's filesystem is 1048576 bytes, mpconfigboard.cmake says 1441792:"
        " make mpconfigboard.h and mpconfigboard.cmake agree"
    )
    assert differ == [mismatch]
    assert unread == ["board-dir: picotool finds no MicroPython filesystem in firmware.uf2"]
