"""The package, the firmware and the tests on emulated bare metal: MicroPython's qemu port on a
Cortex-M0 (QEMU's micro:bit machine, RAM grown to an RP2040's 256 KiB) and a Cortex-M3 (ARM's
MPS2 AN385), under QEMU with `-icount shift=0`, so one guest instruction is one nanosecond of
virtual time and the bench's figures repeat to within 0.1%.

    python tools/ci/baremetal.py build [BOARD ...]        build the images (both by default)
    python tools/ci/baremetal.py test [-k TEXT] [-v] [BOARD ...] [test_module ...]
    python tools/ci/baremetal.py bench                    the Cortex-M0 instruction bench
    python tools/ci/baremetal.py run BOARD SCRIPT         a script on the board (like mpremote run)

MicroPython comes from --micropython-dir (or $MICROPY_DIR; default ../shared/micropython): a
tree with mpy-cross and ports/qemu. It is copied to a cache outside the clone
($MCTP_BAREMETAL_CACHE, or ~/.cache/mctp-baremetal), one copy per content of that tree and of
the build flags below, so the C sources compile once and later builds only refreeze the
project's Python. The toolchain is Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and
qemu-system-arm. Without them, or without the tree, `test` and `bench` say why and exit 0, or
1 when $CI is set: CI must never pass by skipping the boards.

(Over ~450 lines: the build, the test run and the bench share the cached tree, the boards
and the QEMU guest; the bench's own scripts are in qemu/.)
"""

import argparse
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

from filelock import locked

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MANIFEST = os.path.join(HERE, "qemu", "manifest.py")
ENDPOINT_MANIFEST = os.path.join(HERE, "qemu", "endpoint_manifest.py")
BASELINE = os.path.join(HERE, "qemu", "bench_baseline.txt")
TOLERANCE = 0.03  # figures repeat to within 0.1% and move <0.05% with unrelated code
OUT_DIR = os.path.join(ROOT, "build", "baremetal")
DEBIAN_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"

# An RP2040 build of MicroPython has an 8 KiB C stack (PICO_STACK_SIZE 0x2000) of which the
# stack check keeps 256 bytes in reserve (MICROPY_STACK_CHECK_MARGIN in ports/rp2): the same
# here, so a test that would overflow a Pico fails on the emulated boards too.
C_STACK_BYTES = 8192
C_STACK_MARGIN = 256
_STACK_LINE = "mp_cstack_init_with_sp_here(10240);"

# Each nested import keeps a path buffer of MICROPY_ALLOC_PATH_MAX bytes on the C stack: 512 by
# default (the qemu port), 128 in the rp2 and stm32 ports. As there, so imports cost what they
# cost on a Pico.
ALLOC_PATH_MAX = 128

COMMON_CFLAGS = "-DMICROPY_STACK_CHECK_MARGIN=%d -DMICROPY_ALLOC_PATH_MAX=%d" % (
    C_STACK_MARGIN,
    ALLOC_PATH_MAX,
)


class Board:
    def __init__(self, name, title, machine, cflags="", march=None, qemu_args=()):
        self.name = name
        self.title = title  # as the closing line names it
        self.machine = machine
        self.cflags = (COMMON_CFLAGS + " " + cflags).strip()
        self.march = march
        self.qemu_args = qemu_args

    def qemu_command(self, image):
        return [
            "qemu-system-arm",
            "-machine",
            self.machine,
            *self.qemu_args,
            *("-nographic", "-monitor", "null", "-semihosting", "-icount", "shift=0"),
            *("-kernel", image),
        ]

    def make_args(self):
        args = ["BOARD=" + self.name, "CFLAGS_EXTRA=" + self.cflags]
        if self.march:
            args.append("MPY_CROSS_FLAGS=-march=" + self.march)
        return args


BOARDS = {
    # The stock MICROBIT build has no native emitter and compiles frozen code for armv7m,
    # whose viper code hard-faults a Cortex-M0: enable Thumb-1 native code and armv6m, as on
    # an RP2040. The bench runs here, so no map lookup cache either: its hits depend on heap
    # addresses and qstr numbers, and with it one more frozen module anywhere moved the
    # figures by up to 6% (docs/baremetal.md).
    "MICROBIT": Board(
        "MICROBIT",
        "MICROBIT (Cortex-M0)",
        "microbit",
        "-DMICROPY_EMIT_THUMB=1 -DMICROPY_EMIT_INLINE_THUMB=1 -DMICROPY_EMIT_THUMB_ARMV7M=0"
        " -DMICROPY_OPT_MAP_LOOKUP_CACHE=0",
        "armv6m",
        ("-global", "nrf51-soc.flash-size=1048576", "-global", "nrf51-soc.sram-size=262144"),
    ),
    "MPS2_AN385": Board("MPS2_AN385", "MPS2_AN385 (Cortex-M3)", "mps2-an385"),
}


class Unavailable(Exception):
    """What bare metal needs is not on this machine."""


def _echo(output):
    sys.stdout.write(output.decode(errors="replace"))
    sys.stdout.flush()


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# Building.


def micropython_dir(given):
    path = os.path.abspath(
        given or os.environ.get("MICROPY_DIR") or os.path.join(ROOT, "..", "shared", "micropython")
    )
    for part in ("mpy-cross", "ports/qemu/Makefile", "py/mkrules.mk"):
        if not os.path.exists(os.path.join(path, part)):
            raise Unavailable(
                "no MicroPython tree with mpy-cross and ports/qemu at %s (set MICROPY_DIR)" % path
            )
    return path


def check_toolchain():
    missing = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
    if missing:
        raise Unavailable(
            "%s not found (Debian: apt-get install %s)" % (" and ".join(missing), DEBIAN_PACKAGES)
        )


def tree_digest(path):
    # The content of every file, by path: a changed, added or removed source gives a new key.
    digest = hashlib.sha256()
    for dirpath, dirnames, names in os.walk(path):
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if not d.startswith("build")]
        for name in sorted(names):
            full = os.path.join(dirpath, name)
            digest.update(os.path.relpath(full, path).encode() + b"\0")
            if os.path.isfile(full):
                with open(full, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()


def toolchain_version():
    out = subprocess.run(
        ["arm-none-eabi-gcc", "--version"], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()[0]


# Changes to the port's sources, each (file, text, replacement, why), made in the cached copy.
PATCHES = (
    (
        "ports/qemu/mpconfigport.h",
        "#define MICROPY_PY_ASYNCIO          (0)",
        "#define MICROPY_PY_ASYNCIO          (1)",
        "the asyncio layer's tests run on the boards, as rp2 and stm32 have asyncio",
    ),
)


def cache_root():
    base = os.environ.get("MCTP_BAREMETAL_CACHE")
    if not base:
        base = os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mctp-baremetal"
        )
    return base


def prepared_tree(source):
    """The cached, writable copy of `source` for the current flags, created when missing."""
    key = hashlib.sha256()
    key.update(tree_digest(source).encode())
    key.update(toolchain_version().encode())
    key.update(("%d %d %s %r" % (C_STACK_BYTES, C_STACK_MARGIN, _STACK_LINE, PATCHES)).encode())
    for board in sorted(BOARDS):
        key.update(" ".join(BOARDS[board].make_args()).encode())
    tree = os.path.join(cache_root(), key.hexdigest()[:16], "micropython")
    if os.path.exists(os.path.join(tree, ".prepared")):
        return tree
    log("bare metal: copying %s to %s" % (source, tree))
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("build", "build-*"))
    for dirpath, _, names in os.walk(tree):  # the source may be read-only
        os.chmod(dirpath, 0o755)
        for name in names:
            full = os.path.join(dirpath, name)
            os.chmod(full, os.stat(full).st_mode | 0o200)
    main_c = os.path.join(tree, "ports", "qemu", "main.c")
    with open(main_c) as f:
        text = f.read()
    if _STACK_LINE not in text:
        raise Unavailable("ports/qemu/main.c no longer sets its C stack with " + _STACK_LINE)
    with open(main_c, "w") as f:
        f.write(text.replace(_STACK_LINE, "mp_cstack_init_with_sp_here(%d);" % C_STACK_BYTES))
    for name, text_before, text_after, why in PATCHES:
        path = os.path.join(tree, name)
        with open(path) as f:
            text = f.read()
        if text_before not in text:
            raise Unavailable("%s no longer has %r (needed: %s)" % (name, text_before, why))
        with open(path, "w") as f:
            f.write(text.replace(text_before, text_after))
    result = subprocess.run(
        ["make", "-C", os.path.join(tree, "mpy-cross"), "-j2", "-s"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("bare metal: building mpy-cross in %s failed" % tree)
    with open(os.path.join(tree, ".prepared"), "w") as f:
        f.write("ok\n")
    return tree


def _make(tree, board, manifest, variant=""):
    # One image in the cached tree; its path. Each variant has its own build folder, so
    # switching between them recompiles only the frozen code.
    build_dir = "build-" + board.name + variant
    # MicroPython's makemanifest recompiles a frozen module only when its source is newer than
    # the .mpy it made last: with one cache for every checkout, a module another checkout
    # edited later would stay frozen in this one's image. The .mpy files are made afresh
    # (a few seconds); the C objects stay.
    shutil.rmtree(os.path.join(tree, "ports", "qemu", build_dir, "frozen_mpy"), True)
    cmd = ["make", "-C", os.path.join(tree, "ports", "qemu"), "-j2", "-s"]
    cmd += [*board.make_args(), "BUILD=" + build_dir, "FROZEN_MANIFEST=" + manifest]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("bare metal: building %s%s failed" % (board.name, variant))
    return os.path.join(tree, "ports", "qemu", build_dir, "firmware.elf")


def build(boards, source):
    """Build each board's image with the project's manifest; the images' paths, by board."""
    check_toolchain()
    os.makedirs(OUT_DIR, exist_ok=True)
    images = {}
    with locked(os.path.join(cache_root(), "lock")):
        tree = prepared_tree(source)
        for board in boards:
            started = time.monotonic()
            image = os.path.join(OUT_DIR, board.name + ".elf")
            shutil.copyfile(_make(tree, board, MANIFEST), image)
            log("bare metal: %s built in %.0f s" % (board.name, time.monotonic() - started))
            images[board.name] = image
    return images


def frozen_flash_bytes(board, source):
    """Flash taken by the frozen package and firmware: the image with them (and nothing else
    frozen) less the image with nothing frozen."""
    with locked(os.path.join(cache_root(), "lock")):
        tree = prepared_tree(source)
        sizes = [
            _flash_bytes(_make(tree, board, manifest, variant))
            for manifest, variant in ((ENDPOINT_MANIFEST, "-endpoint"), ("", "-bare"))
        ]
    return sizes[0] - sizes[1]


def _flash_bytes(elf):
    # text and data (data's initial values are in flash too), as arm-none-eabi-size reports.
    out = subprocess.run(
        ["arm-none-eabi-size", elf], capture_output=True, text=True, check=True
    ).stdout
    text, data = out.splitlines()[1].split()[:2]
    return int(text) + int(data)


# Running.


class GuestFailed(Exception):
    """The guest crashed, hung or stopped answering."""


# What the qemu port prints on a hard fault, before it spins forever.
_FAULT = b" exception caught:"


class Guest:
    """One board image running under QEMU, driven through its raw REPL on stdin/stdout."""

    def __init__(self, board, image):
        self.board = board
        self.proc = subprocess.Popen(
            board.qemu_command(image),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._buf = b""

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _write(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise GuestFailed("QEMU exited (status %s)" % self.proc.poll()) from None

    def read_until(self, marker, timeout, echo=None):
        """Everything up to and including `marker`; GuestFailed when QEMU ends or `timeout`
        seconds pass first. `echo(bytes)` sees the output as it comes."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            if _FAULT in self._buf:
                time.sleep(0.2)  # the registers follow
                raise GuestFailed("the guest crashed: %r" % (self._buf + self._drain())[-800:])
            at = self._buf.find(marker)
            if at >= 0:
                end = at + len(marker)
                found, self._buf = self._buf[:end], self._buf[end:]
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestFailed("no answer within %d s (hung?)" % timeout)
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise GuestFailed(
                    "QEMU exited (status %s): %r" % (self.proc.wait(), self._buf[-500:])
                )
            if echo is not None:
                echo(chunk)
            self._buf += chunk

    def _drain(self):
        fd = self.proc.stdout.fileno()
        if select.select([fd], [], [], 0)[0]:
            return os.read(fd, 65536)
        return b""

    def enter_raw_repl(self, timeout=60):
        self.read_until(b">>> ", timeout)
        self._write(b"\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", timeout)

    def soft_reset(self, timeout=60):
        self._write(b"\x04")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", timeout)

    def execute(self, code, timeout, echo=None):
        """Run `code` in the raw REPL: (its output, the traceback text or '')."""
        self._write(code.encode() + b"\x04")
        ok = self.read_until(b"OK", timeout)
        if not ok.endswith(b"OK"):
            raise GuestFailed("the raw REPL refused the code: %r" % ok)
        out = self.read_until(b"\x04", timeout, echo)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        return out.decode(errors="replace"), err.decode(errors="replace")


def test_modules():
    names = os.listdir(os.path.join(ROOT, "host_tests"))
    return sorted(n[:-3] for n in names if n.startswith("test_") and n.endswith(".py"))


_RESULT = re.compile(r"^(\S+): (\d+) passed, (\d+) failed, (\d+) skipped", re.M)


def run_tests(board, image, modules, keyword, timeout, verbose):
    """Each module in a fresh interpreter (a soft reset between modules), all of them within
    `timeout` seconds; the counts. A module that hangs or crashes the guest fails, and the
    guest is started again for the next one."""
    passed = failed = skipped = 0
    failures = []
    guest = Guest(board, image)
    started = time.monotonic()
    deadline = started + timeout
    try:
        guest.enter_raw_repl()
        for name in modules:
            code = "import runner\nrunner.main([%r], %r, %r, %r)" % (name, keyword, name, verbose)
            echo = _echo if verbose else None
            try:
                out, err = guest.execute(code, max(1, deadline - time.monotonic()), echo)
            except GuestFailed as e:
                failed += 1
                failures.append("%s: %s" % (name, e))
                print("FAIL %s %s: %s" % (board.name, name, e), flush=True)
                guest.close()
                guest = Guest(board, image)
                guest.enter_raw_repl()
                continue
            found = _RESULT.findall(out)
            if err or len(found) != 1:
                failed += 1
                failures.append(name)
                print(out + err, flush=True)
                print("FAIL %s %s: no result line" % (board.name, name), flush=True)
            else:
                _, p, f, s = found[0]
                passed += int(p)
                failed += int(f)
                skipped += int(s)
                if int(f):
                    failures.append(name)
                    print(out, flush=True)
            guest.soft_reset()
    except GuestFailed as e:
        failed += 1
        failures.append("%s: %s" % (board.name, e))
    finally:
        guest.close()
    for failure in failures:
        print("FAILED %s %s" % (board.name, failure), flush=True)
    log("bare metal: %s ran in %.0f s" % (board.name, time.monotonic() - started))
    return passed, failed, skipped


def run_script(board, image, path):
    """Run the script at `path` on the board and print what it prints; 1 on a traceback."""
    with open(path) as f:
        code = f.read()
    guest = Guest(board, image)
    try:
        guest.enter_raw_repl()
        _out, err = guest.execute(code, 600, _echo)
    except GuestFailed as e:
        print("bare metal: %s: %s" % (board.name, e))
        return 1
    finally:
        guest.close()
    sys.stdout.write(err)
    return 1 if err else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("build", "test", "bench", "run"))
    parser.add_argument("names", nargs="*", help="boards; test modules (test); a script (run)")
    parser.add_argument("-k", dest="keyword", help="run only tests whose id contains this")
    parser.add_argument("--micropython-dir", help="MicroPython tree (default: $MICROPY_DIR)")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds a board's test run may take"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the guest's output")
    parser.add_argument("--check", action="store_true", help="bench: compare with the baseline")
    parser.add_argument("--update", action="store_true", help="bench: write the baseline")
    args = parser.parse_args(argv)

    boards = [BOARDS[n] for n in args.names if n in BOARDS]
    modules = [n.rpartition("/")[2].replace(".py", "") for n in args.names if n not in BOARDS]
    script = None
    if args.command == "run":
        if len(boards) != 1 or len(modules) != 1:
            parser.error("run takes one board and one script")
        script = args.names[-1]
        modules = []
    if args.command == "bench":
        boards = [BOARDS["MICROBIT"]]
    boards = boards or list(BOARDS.values())
    unknown = [m for m in modules if m not in test_modules()]
    if unknown:
        parser.error("no such board or test module: " + " ".join(unknown))
    try:
        source = micropython_dir(args.micropython_dir)
        images = build(boards, source)
    except Unavailable as e:
        print("bare metal: not run: %s" % e, flush=True)
        return 1 if os.environ.get("CI") else 0
    if args.command == "build":
        for name, image in images.items():
            print(image)
        return 0
    if args.command == "run":
        return run_script(boards[0], images[boards[0].name], script)
    if args.command == "bench":
        return bench(images["MICROBIT"], source, args.check, args.update)
    status = 0
    lines = []
    for board in boards:
        passed, failed, skipped = run_tests(
            board,
            images[board.name],
            modules or test_modules(),
            args.keyword,
            args.timeout,
            args.verbose,
        )
        lines.append(
            "%s: %d passed, %d failed, %d skipped" % (board.title, passed, failed, skipped)
        )
        if failed or not passed:
            status = 1
    for line in lines:
        print(line)
    return status


_FIGURE = re.compile(r"^(m0_\w+): (\d+(?:\.\d+)?) (\w+)$", re.M)


# m0_c_stack_bytes: in a fresh interpreter, the endpoint's loop started from the REPL's top
# level as main.py starts it, over a stack painted beforehand (bench_m0.StackRig).
_C_STACK_RUN = """\
from bench_m0 import StackRig, paint, deepest
rig = StackRig()
rig.serve()
paint()
rig.serve_rounds()
depth = deepest()
rig.check()
print("m0_c_stack_bytes: %d bytes" % depth)
"""
# m0_async_c_stack_bytes: the same, served by the asyncio tasks of a board's main.py.
_ASYNC_C_STACK_RUN = _C_STACK_RUN.replace("StackRig", "AsyncStackRig").replace(
    "m0_c_stack", "m0_async_c_stack"
)
# m0_ipc_c_stack_bytes: a board serving its stack on a UART to an application (mctp.ipc),
# under the same tasks, the application's receive answered from under the stack's poll.
_IPC_C_STACK_RUN = _C_STACK_RUN.replace("StackRig", "IpcStackRig").replace(
    "m0_c_stack", "m0_ipc_c_stack"
)

# m0_bridge_control_c_stack_bytes, m0_bridge_forward_c_stack_bytes: a bridge board on its USB
# upstream (the stand-in CDC interface, as deep as micropython-lib's) under the same tasks,
# answering the bus owner's control requests, or forwarding 1 KiB both ways;
# m0_bridge_capture_c_stack_bytes: answering them with a capture on (CAPTURE = 32).
_BRIDGE_C_STACK_RUNS = tuple(
    _C_STACK_RUN.replace("StackRig()", "BridgeStackRig(%s)" % arguments)
    .replace("import StackRig", "import BridgeStackRig")
    .replace("m0_c_stack", "m0_bridge_%s_c_stack" % name)
    for name, arguments in (
        ("control", "'control'"),
        ("forward", "'forward'"),
        ("capture", "'control', 32"),
    )
)


# m0_spdm_c_stack_bytes, m0_spdm_async_c_stack_bytes: an endpoint answering SPDM (its service
# as SPDM_FOLDER adds it, the tests' chain and key), a requester running a connection each
# round (two signatures a step a poll), under the blocking loop and under the asyncio tasks.
_SPDM_C_STACK_RUNS = (
    _C_STACK_RUN.replace("StackRig", "SpdmStackRig").replace("m0_c_stack", "m0_spdm_c_stack"),
    _C_STACK_RUN.replace("StackRig", "AsyncSpdmStackRig").replace(
        "m0_c_stack", "m0_spdm_async_c_stack"
    ),
)


def run_bench(board, image, source):
    """The figures, as {name: (value, unit)}, in the order printed."""
    figures = {}
    guest = Guest(board, image)
    try:
        guest.enter_raw_repl()
        out, err = guest.execute("import bench_m0\nbench_m0.main()", 1800)
        if not err:
            guest.soft_reset()
            runs = (_C_STACK_RUN, _ASYNC_C_STACK_RUN, _IPC_C_STACK_RUN, *_BRIDGE_C_STACK_RUNS)
            for run in runs + _SPDM_C_STACK_RUNS + ("import bench_m0\nbench_m0.spdm_main()",):
                more, err = guest.execute(run, 600)
                out += more
                if err:
                    break
                guest.soft_reset()
    finally:
        guest.close()
    if err:
        raise GuestFailed("the bench failed:\n" + out + err)
    for name, value, unit in _FIGURE.findall(out.replace("\r", "")):
        figures[name] = (float(value), unit)
    figures["m0_frozen_flash_bytes"] = (frozen_flash_bytes(board, source), "bytes")
    return figures


def read_baseline():
    baseline = {}
    with open(BASELINE) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, value, _unit = line.replace(":", " ").split()
                baseline[name] = float(value)
    return baseline


def write_baseline(figures):
    with open(BASELINE, "w") as f:
        f.write(
            "# The Cortex-M0 bench's figures (tools/ci/baremetal.py bench --update writes this).\n"
            "# CI fails when a figure grows by more than %d%% or shrinks by more than that\n"
            "# without this file being updated.\n" % round(TOLERANCE * 100)
        )
        for name, (value, unit) in figures.items():
            if name in CHECKED:
                f.write("%s: %d %s\n" % (name, value, unit))


# What the baseline holds (printed, not checked: the calibration, the largest ECDSA signing
# step, which is as large as the garbage collection that falls into it, and the SPDM
# certificate portion's answer, part of m0_spdm_connection_instr).
CHECKED = (
    "m0_i2c_rx_packet_instr",
    "m0_i2c_fifo_rx_packet_instr",
    "m0_i2c_tx_packet_instr",
    "m0_serial_rx_packet_instr",
    "m0_serial_tx_packet_instr",
    "m0_control_answer_instr",
    "m0_echo_1k_instr",
    "m0_async_echo_1k_instr",
    "m0_pec_72_bytes_instr",
    "m0_bridge_forward_packet_instr",
    "m0_ecdsa_p256_sign_instr",
    "m0_c_stack_bytes",
    "m0_async_c_stack_bytes",
    "m0_ipc_c_stack_bytes",
    "m0_bridge_control_c_stack_bytes",
    "m0_bridge_forward_c_stack_bytes",
    "m0_bridge_capture_c_stack_bytes",
    "m0_capture_i2c_rx_packet_instr",
    "m0_spdm_connection_instr",
    "m0_spdm_challenge_instr",
    "m0_spdm_c_stack_bytes",
    "m0_spdm_async_c_stack_bytes",
    "m0_stack_ram_bytes",
    "m0_frozen_flash_bytes",
)


def compare(figures, baseline):
    """What is wrong with `figures` against the baseline, as sentences."""
    problems = []
    for name in CHECKED:
        if name not in figures:
            problems.append("%s: not measured" % name)
            continue
        value = figures[name][0]
        base = baseline.get(name)
        if base is None:
            problems.append("%s: not in %s (--update)" % (name, BASELINE))
        elif value > base * (1 + TOLERANCE):
            problems.append(
                "%s grew from %d to %d (+%.1f%%)" % (name, base, value, _pct(value, base))
            )
        elif value < base * (1 - TOLERANCE):
            problems.append(
                "%s improved from %d to %d (%.1f%%): update the baseline (--update)"
                % (name, base, value, _pct(value, base))
            )
    return problems


def _pct(value, base):
    return (value - base) * 100 / base


def bench(image, source, check, update):
    board = BOARDS["MICROBIT"]
    started = time.monotonic()
    try:
        figures = run_bench(board, image, source)
    except GuestFailed as e:
        print("bare metal: bench: %s" % e)
        return 1
    for name, (value, unit) in figures.items():
        print("%s: %s %s" % (name, ("%.1f" if value % 1 else "%d") % value, unit))
    log("bare metal: bench ran in %.0f s" % (time.monotonic() - started))
    if update:
        write_baseline(figures)
        log("bare metal: baseline written to " + os.path.relpath(BASELINE, ROOT))
        return 0
    if check:
        problems = compare(figures, read_baseline())
        for problem in problems:
            print("bench-m0: " + problem)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
