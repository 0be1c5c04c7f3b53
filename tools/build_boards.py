"""Build the firmware images of boards/ from a MicroPython checkout, check what each froze, and
print their sizes, so that the figures in boards/README.md are refreshed in one step.

    python3 tools/build_boards.py MICROPYTHON_DIR [--board B ...] [--route R ...] [--jobs N]

For each board it builds, in MICROPYTHON_DIR/ports/<port>/, the stock board (build-<BOARD>:
the baseline the endpoint's cost is measured against) and the endpoint image by each route
of boards/README.md: `board-dir` (BOARD_DIR=boards/<BOARD>, build-MCTP_<BOARD>) and
`frozen-manifest` (the stock board with FROZEN_MANIFEST=boards/<BOARD>/manifest.py,
build-MCTP_<BOARD>-FM). Each endpoint image must freeze exactly the modules of the
board parts (mctp-endpoint and those its board_config.py may turn on), board_config.py and
main.py, and nothing of mctp/host/; an rp2 BOARD_DIR
image's filesystem must be the size its mpconfigboard.cmake sets. Then one "name: value unit" line per
figure.

Run by hand, on a machine set up as boards/README.md says: CI does not run it, because it
cannot fetch the ports' submodules. Exit status 0 when every image built and passed its checks,
1 when one did not, 2 for a bad command line or a missing prerequisite.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

from board_parts import BOARD_MODULES, BOARD_REQUIRES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS_DIR = os.path.join(ROOT, "boards")

# Each board's port, in the order they are built.
BOARDS = {"RPI_PICO": "rp2", "RPI_PICO2": "rp2", "NUCLEO_F429ZI": "stm32"}
ROUTES = ("board-dir", "frozen-manifest")
# What each port's build of these boards reads from lib/ (a git checkout's submodules; an
# empty directory is a submodule not checked out).
SUBMODULES = {
    "rp2": ("lib/pico-sdk", "lib/tinyusb", "lib/mbedtls", "lib/micropython-lib"),
    "stm32": (
        "lib/stm32lib",
        "lib/tinyusb",
        "lib/mbedtls",
        "lib/lwip",
        "lib/libhydrogen",
        "lib/micropython-lib",
    ),
}
TOOLS = {
    "rp2": ("make", "cmake", "arm-none-eabi-gcc", "arm-none-eabi-g++"),
    "stm32": ("make", "arm-none-eabi-gcc"),
}
# Where `cmake --install` of picotool puts the package the pico-sdk looks for.
PICOTOOL_CONFIG = ("/usr/local/lib/cmake/picotool", "/usr/lib/cmake/picotool")
# Linker symbols: the C stack and the GC heap of each port's image.
STACK_SYMBOLS = {"rp2": ("__StackBottom", "__StackTop"), "stm32": ("_sstack", "_estack")}
HEAP_SYMBOLS = {"rp2": ("__GcHeapStart", "__GcHeapEnd"), "stm32": ("_heap_start", "_heap_end")}
# Files of a MicroPython checkout this tool relies on: the build rules, and the manifest reader.
CHECKOUT_FILES = ("py/mkrules.mk", "tools/manifestfile.py")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="build_boards.py",
        description="Build the boards/ images from a MicroPython checkout, check what they"
        " froze and print their sizes.",
    )
    parser.add_argument("micropython_dir", metavar="MICROPYTHON_DIR")
    parser.add_argument(
        "--board",
        action="append",
        choices=tuple(BOARDS),
        help="a board to build (repeat for more; default: all)",
    )
    parser.add_argument(
        "--route",
        action="append",
        choices=ROUTES,
        help="how to build the endpoint image (repeat for both; default: both)",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="make -j (default: the CPU count)"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs: %d is not 1 or more" % args.jobs)
    mpy = os.path.abspath(args.micropython_dir)
    if not os.path.isdir(mpy):
        parser.error("MICROPYTHON_DIR %s: no such directory" % args.micropython_dir)
    for marker in CHECKOUT_FILES:
        if not os.path.isfile(os.path.join(mpy, marker)):
            parser.error(
                "MICROPYTHON_DIR %s: not a MicroPython checkout (no %s)"
                % (args.micropython_dir, marker)
            )
    args.micropython_dir = mpy
    args.board = [b for b in BOARDS if b in (args.board or BOARDS)]
    args.route = [r for r in ROUTES if r in (args.route or ROUTES)]
    return args


def missing_prerequisites(mpy, ports, environ):
    """What the builds of `ports` need and this machine or checkout lacks, one line each."""
    problems = []
    for port in ports:
        for sub in SUBMODULES[port]:
            path = os.path.join(mpy, sub)
            if not os.path.isdir(path) or not os.listdir(path):
                problems.append(
                    "%s (for %s) is missing or empty: in %s run"
                    " `make -C ports/%s BOARD_DIR=... submodules`" % (sub, port, mpy, port)
                )
    for tool in sorted({t for port in ports for t in TOOLS[port]}):
        if shutil.which(tool) is None:
            problems.append("%s is not on PATH (boards/README.md lists the packages)" % tool)
    if "rp2" in ports and shutil.which("arm-none-eabi-g++") and not _has_cstdlib():
        problems.append(
            "arm-none-eabi-g++ has no <cstdlib> (the rp2 port compiles C++):"
            " install libstdc++-arm-none-eabi-newlib"
        )
    if "rp2" in ports and _picotool_config(environ) is None:
        problems.append(
            "no picotool 2.x for the pico-sdk (it would clone one from GitHub): install it"
            " (boards/README.md), or set picotool_DIR to the directory holding"
            " picotoolConfig.cmake, or PICOTOOL_FETCH_FROM_GIT_PATH to one with picotool/ in it"
        )
    return problems


def _has_cstdlib():
    probe = subprocess.run(
        ["arm-none-eabi-g++", "-x", "c++", "-fsyntax-only", "-"],
        input="#include <cstdlib>\n",
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0


def _picotool_config(environ):
    """The directory with picotoolConfig.cmake the pico-sdk's build will use, or None."""
    candidates = []
    if environ.get("picotool_DIR"):
        candidates.append(environ["picotool_DIR"])
    if environ.get("PICOTOOL_FETCH_FROM_GIT_PATH"):
        candidates.append(os.path.join(environ["PICOTOOL_FETCH_FROM_GIT_PATH"], "picotool"))
    candidates.extend(PICOTOOL_CONFIG)
    for path in candidates:
        if os.path.isfile(os.path.join(path, "picotoolConfig.cmake")):
            return path
    return None


def _picotool_binary(environ):
    """The picotool the pico-sdk's build uses (its package's, or a flat install's), else the
    one on PATH."""
    config = _picotool_config(environ)
    if config is not None:
        for path in (
            os.path.join(config, "..", "..", "..", "bin", "picotool"),
            os.path.join(config, "picotool"),
        ):
            if os.access(path, os.X_OK) and os.path.isfile(path):
                return os.path.normpath(path)
    return shutil.which("picotool")


def build_dir(board, route):
    return {
        None: "build-%s" % board,
        "board-dir": "build-MCTP_%s" % board,
        "frozen-manifest": "build-MCTP_%s-FM" % board,
    }[route]


def make_command(board, route, jobs):
    """The make command line (run in ports/<port>/) of the stock board (route None) or of the
    endpoint image by `route`."""
    board_path = os.path.join(BOARDS_DIR, board)
    if route == "board-dir":
        target = ["BOARD_DIR=" + board_path]
    else:
        target = ["BOARD=" + board]
        if route == "frozen-manifest":
            target.append("FROZEN_MANIFEST=" + os.path.join(board_path, "manifest.py"))
    return ["make", *target, "BUILD=" + build_dir(board, route), "-j%d" % jobs]


def frozen_names(frozen_content):
    """The module names a build froze, from its frozen_content.c."""
    with open(frozen_content) as f:
        text = f.read()
    found = re.search(r"mp_frozen_names\[\]\s*=\s*\{(.*?)\};", text, re.S)
    if found is None:
        return []
    joined = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', found.group(1)))
    return [name for name in joined.split("\\0") if name]


def expected_modules(mpy):
    """The targets the board parts freeze, read by MicroPython's own manifestfile."""
    sys.path.insert(0, os.path.join(mpy, "tools"))
    try:
        import manifestfile  # noqa: PLC0415 (it comes from MICROPYTHON_DIR)
    finally:
        sys.path.pop(0)
    manifest = manifestfile.ManifestFile(
        manifestfile.MODE_FREEZE,
        {"MPY_DIR": mpy, "MPY_LIB_DIR": os.path.join(mpy, "lib", "micropython-lib")},
    )
    # Required as the boards' manifests require them (each part's metadata its own).
    manifest.execute(
        'add_library("mctp-parts", %r)\n' % os.path.join(ROOT, "parts") + BOARD_REQUIRES
    )
    return {f.target_path for f in manifest.files()} | set(BOARD_MODULES)


def frozen_problems(names, expected):
    """What is wrong with the frozen `names` of an endpoint image: ours missing, ours extra
    (anything under mctp/ or firmware/ the part does not list), or a host bus."""
    ours = {n for n in names if n in expected or n.split("/")[0] in ("mctp", "firmware")}
    problems = ["%s is not frozen" % n for n in sorted(expected - ours)]
    for name in sorted(ours - expected):
        what = "a host bus" if name.startswith("mctp/host/") else "in no board part"
        problems.append("%s is frozen: %s" % (name, what))
    return problems


def symbols(elf):
    """The ELF's symbols, name to address."""
    out = subprocess.run(
        ["arm-none-eabi-nm", elf], capture_output=True, text=True, check=True
    ).stdout
    table = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3:
            table[fields[2]] = int(fields[0], 16)
    return table


def section_sizes(elf):
    """text, data and bss of the ELF, as arm-none-eabi-size counts them."""
    out = subprocess.run(
        ["arm-none-eabi-size", elf], capture_output=True, text=True, check=True
    ).stdout
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    return text, data, bss


def stack_margin(mpy, port):
    with open(os.path.join(mpy, "ports", port, "mpconfigport.h")) as f:
        found = re.search(r"#define MICROPY_STACK_CHECK_MARGIN\s+\(?(\d+)", f.read())
    return int(found.group(1)) if found else 0


def rp2_storage(uf2):
    """(start, size) of the filesystem the rp2 image declares, from `picotool info -a`."""
    picotool = _picotool_binary(os.environ)
    if picotool is None:
        return None
    out = subprocess.run(
        [picotool, "info", "-a", uf2], capture_output=True, text=True, check=False
    ).stdout
    found = re.search(r"embedded drive:\s*0x([0-9a-f]+)-0x([0-9a-f]+).*MicroPython", out, re.I)
    if found is None:
        return None
    start, end = int(found.group(1), 16), int(found.group(2), 16)
    return start - 0x10000000, end - start


def stm32_text_region(mpy, board):
    """The size of FLASH_TEXT, where firmware1.bin goes, in the board's first linker script."""
    with open(os.path.join(BOARDS_DIR, board, "mpconfigboard.mk")) as f:
        script = re.search(r"^LD_FILES\s*=\s*(\S+)", f.read(), re.M).group(1)
    with open(os.path.join(mpy, "ports", "stm32", script)) as f:
        found = re.search(r"FLASH_TEXT\s*\(rx\)\s*:.*LENGTH\s*=\s*(\d+)K", f.read())
    return int(found.group(1)) * 1024


def figures(mpy, board, port, routes):
    """The (name, value, unit) figures of one board's builds."""
    port_dir = os.path.join(mpy, "ports", port)
    stock_elf = os.path.join(port_dir, build_dir(board, None), "firmware.elf")
    stock_text, stock_data, stock_bss = section_sizes(stock_elf)
    out = [("%s.stock.flash" % board, stock_text + stock_data, "bytes")]
    for route in routes:
        build = os.path.join(port_dir, build_dir(board, route))
        elf = os.path.join(build, "firmware.elf")
        text, data, bss = section_sizes(elf)
        name = "%s.%s" % (board, route)
        out.append((name + ".flash", text + data, "bytes"))
        out.append((name + ".endpoint_flash", text + data - stock_text - stock_data, "bytes"))
        out.append((name + ".endpoint_static_ram", data + bss - stock_data - stock_bss, "bytes"))
        if port == "rp2":
            storage = rp2_storage(os.path.join(build, "firmware.uf2"))
            if storage is not None:
                out.append((name + ".filesystem", storage[1], "bytes"))
                out.append((name + ".firmware_partition", storage[0], "bytes"))
                out.append((name + ".firmware_partition_free", storage[0] - text - data, "bytes"))
        if port == "stm32":
            partition = stm32_text_region(mpy, board)
            used = os.path.getsize(os.path.join(build, "firmware1.bin"))
            out.append((name + ".firmware_partition", partition, "bytes"))
            out.append((name + ".firmware_partition_free", partition - used, "bytes"))
        table = symbols(elf)
        low, high = STACK_SYMBOLS[port]
        stack = table[high] - table[low]
        out.append((name + ".c_stack", stack, "bytes"))
        out.append((name + ".c_stack_usable", stack - stack_margin(mpy, port), "bytes"))
        low, high = HEAP_SYMBOLS[port]
        out.append((name + ".gc_heap", table[high] - table[low], "bytes"))
    return out


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mpy = args.micropython_dir
    ports = sorted({BOARDS[b] for b in args.board})
    problems = missing_prerequisites(mpy, ports, os.environ)
    for problem in problems:
        print("error: " + problem, file=sys.stderr)
    if problems:
        return 2
    expected = expected_modules(mpy)
    if subprocess.run(["make", "-C", os.path.join(mpy, "mpy-cross")], check=False).returncode:
        print("error: mpy-cross did not build", file=sys.stderr)
        return 1
    failed = []
    report = []
    for board in args.board:
        problems = build_board(mpy, board, args.route, args.jobs, expected)
        failed.extend("%s: %s" % (board, p) for p in problems)
        if not problems or not problems[0].endswith("did not build"):
            report.extend(figures(mpy, board, BOARDS[board], args.route))
            report.append(("%s.endpoint_modules" % board, len(expected), "modules"))
    for name, value, unit in report:
        print("%s: %d %s" % (name, value, unit))
    for problem in failed:
        print("error: " + problem, file=sys.stderr)
    return 1 if failed else 0


def build_board(mpy, board, routes, jobs, expected):
    """Build the stock board and the endpoint image by each route; the problems, the first
    one a build that failed (the builds after it are not run)."""
    port_dir = os.path.join(mpy, "ports", BOARDS[board])
    problems = []
    for route in (None, *routes):
        command = make_command(board, route, jobs)
        print("+ (cd %s && %s)" % (port_dir, " ".join(command)), flush=True)
        if subprocess.run(command, cwd=port_dir, check=False).returncode:
            return ["%s did not build" % build_dir(board, route)]
        if route is not None:
            content = os.path.join(port_dir, build_dir(board, route), "frozen_content.c")
            for problem in frozen_problems(frozen_names(content), expected):
                problems.append("%s: %s" % (route, problem))
            if BOARDS[board] == "rp2" and route == "board-dir":
                problems.extend(
                    storage_problems(board, os.path.join(port_dir, build_dir(board, route)))
                )
    return problems


def storage_problems(board, build):
    """The filesystem size is set twice in an rp2 board (mpconfigboard.h for v1.28.0 and
    earlier, mpconfigboard.cmake after it): the image's must be the cmake one."""
    with open(os.path.join(BOARDS_DIR, board, "mpconfigboard.cmake")) as f:
        found = re.search(r"set\(MICROPY_HW_FLASH_STORAGE_BYTES (\d+)\)", f.read())
    storage = rp2_storage(os.path.join(build, "firmware.uf2"))
    if storage is None:
        return ["board-dir: picotool finds no MicroPython filesystem in firmware.uf2"]
    if found is None or int(found.group(1)) != storage[1]:
        return [
            "board-dir: the image's filesystem is %d bytes, mpconfigboard.cmake says %s: make"
            " mpconfigboard.h and mpconfigboard.cmake agree"
            % (storage[1], found.group(1) if found else "nothing")
        ]
    return []


if __name__ == "__main__":
    sys.exit(main())
