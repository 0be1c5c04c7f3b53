"""Builds the Linux guest that proves our serial binding (DSP0253) against the kernel's: a small
x86_64 kernel with MCTP and its serial transport, and an initramfs with busybox-static, /init
and mctp_guest (a static C program that drives AF_MCTP sockets), for tools/ci/linux_guest/run.py;
and a static MicroPython unix binary (ensure_micropython) that runs our package in the guest.

    python3 tools/ci/linux_guest/build.py [--cache DIR] [--source TARBALL] [--jobs N] [--rebuild]

Built once and kept outside the clone, in $MCTP_LINUX_CACHE or
${XDG_CACHE_HOME:-~/.cache}/mctp-linux-guest, under a key that hashes kernel.config (the
options turned on over tinyconfig), the linux-source version, mctp_guest.c and init.sh: a
change to any of them builds afresh, anything else finds the cached copy. Each build happens
in a temporary folder of the cache and is renamed into place when complete, so an interrupted
build never leaves a half-built entry behind. Needs Debian's linux-source-6.12, flex, bison,
bc, libelf-dev, xz-utils, gcc, libc6-dev, make and busybox-static (and qemu-system-x86 to
run it).

(Over ~450 lines: the kernel, the initramfs and the static MicroPython share the cache,
its key and its lock, and are built in one go.)
"""

import argparse
import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/ci/
from filelock import locked  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL_FRAGMENT = os.path.join(HERE, "kernel.config")
GUEST_SOURCE = os.path.join(HERE, "mctp_guest.c")
INIT_SCRIPT = os.path.join(HERE, "init.sh")

SOURCE_PACKAGE = "linux-source-6.12"
DEFAULT_SOURCE = "/usr/src/%s.tar.xz" % SOURCE_PACKAGE
BUSYBOX = "/bin/busybox"
# Every package a build needs, in the order of the apt-get line printed when some are missing.
BUILD_PACKAGES = (SOURCE_PACKAGE, "flex", "bison", "bc", "libelf-dev", "xz-utils", "gcc")
BUILD_PACKAGES += ("libc6-dev", "make", "busybox-static")
RUN_PACKAGES = ("qemu-system-x86",)
# Whatever the fragment says, a kernel without these is not worth booting.
REQUIRED_OPTIONS = ("CONFIG_MCTP", "CONFIG_MCTP_SERIAL")
# Bump when the recipe below changes in a way that changes what it builds.
RECIPE = "1: tinyconfig + kernel.config, bzImage; initramfs newc gzip"

# What the cache entry holds, once complete.
KERNEL_NAME = "bzImage"
INITRAMFS_NAME = "initramfs.cpio.gz"
INFO_NAME = "build-info.json"


class Unavailable(Exception):
    """A package or file the build needs is not there; the message says which to install."""


class BuildFailed(Exception):
    """A step of the build failed; the message says which, and where its log is."""


class Artifacts:
    """A complete cache entry: the kernel, the initramfs and what they were built from."""

    def __init__(self, directory):
        self.directory = directory
        self.kernel = os.path.join(directory, KERNEL_NAME)
        self.initramfs = os.path.join(directory, INITRAMFS_NAME)
        with open(os.path.join(directory, INFO_NAME)) as f:
            self.info = json.load(f)

    def __repr__(self):
        return "Artifacts(%r)" % self.directory


def log(message):
    print("linux guest: " + message, file=sys.stderr, flush=True)


def cache_root(cache=None):
    """--cache, else $MCTP_LINUX_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/mctp-linux-guest."""
    if cache:
        return os.path.abspath(cache)
    if os.environ.get("MCTP_LINUX_CACHE"):
        return os.path.abspath(os.environ["MCTP_LINUX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "mctp-linux-guest")


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def source_version(source):
    """The linux-source package's version when `source` is its tarball, else the tarball's
    SHA-256 (a tree from elsewhere is keyed by its content)."""
    if os.path.realpath(source) == os.path.realpath(DEFAULT_SOURCE) and shutil.which("dpkg-query"):
        result = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", SOURCE_PACKAGE],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0 and result.stdout.strip():
            return "%s %s" % (SOURCE_PACKAGE, result.stdout.strip())
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256 " + digest.hexdigest()


class Inputs:
    """What a build is made from, read once: the key names these bytes, and the build uses
    them, not the files, which may change while it runs."""

    def __init__(self, source=DEFAULT_SOURCE):
        self.source = source
        self.source_version = source_version(source)
        self.fragment = _read(KERNEL_FRAGMENT)
        self.guest_source = _read(GUEST_SOURCE)
        self.init_script = _read(INIT_SCRIPT)

    def kernel_key(self):
        """What the kernel alone depends on: an entry made for another guest program lends
        its bzImage to a new entry with the same kernel key."""
        return _digest(RECIPE.encode(), self.source_version.encode(), self.fragment)

    def key(self):
        return _digest(self.kernel_key().encode(), self.guest_source, self.init_script)


def _digest(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()[:16]


def find_built(cache=None, source=DEFAULT_SOURCE, inputs=None):
    """The cached guest for the current inputs, or None when it has not been built."""
    if inputs is None:
        if not os.path.exists(source):
            return None
        inputs = Inputs(source)
    directory = os.path.join(cache_root(cache), inputs.key())
    if os.path.exists(os.path.join(directory, INFO_NAME)):
        return Artifacts(directory)
    return None


def missing_build_packages(source=DEFAULT_SOURCE):
    """(what is missing, where to get it) for each thing the build lacks."""
    missing = []
    if not os.path.exists(source):
        if source == DEFAULT_SOURCE:
            missing.append((source, "from Debian package " + SOURCE_PACKAGE))
        else:
            missing.append((source, "the kernel source tarball given by --source"))
    for command, package in (
        ("flex", "flex"),
        ("bison", "bison"),
        ("bc", "bc"),
        ("xz", "xz-utils"),
        ("gcc", "gcc"),
        ("make", "make"),
        ("perl", "perl"),
    ):
        if not shutil.which(command):
            missing.append((command, "from Debian package " + package))
    # objtool, which an x86_64 build runs on every object, reads ELF with libelf.
    if not os.path.exists("/usr/include/libelf.h") and not os.path.exists("/usr/include/gelf.h"):
        missing.append(("libelf.h", "from Debian package libelf-dev"))
    if shutil.which("gcc"):
        libc = subprocess.run(
            ["gcc", "-print-file-name=libc.a"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not os.path.isabs(libc):  # gcc prints the bare name when it finds no such file
            missing.append(("libc.a (for a static mctp_guest)", "from Debian package libc6-dev"))
    if not os.path.exists(BUSYBOX):
        missing.append((BUSYBOX, "from Debian package busybox-static"))
    elif not _is_static(BUSYBOX):
        missing.append(
            (BUSYBOX + " is dynamic", "a static one from Debian package busybox-static")
        )
    return missing


def _is_static(path):
    # A dynamically linked ELF has a PT_INTERP program header naming its loader.
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit ELF only
            return False
        phoff = int.from_bytes(header[32:40], "little")
        phentsize = int.from_bytes(header[54:56], "little")
        phnum = int.from_bytes(header[56:58], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    pt_interp = 3
    return all(
        int.from_bytes(table[i * phentsize : i * phentsize + 4], "little") != pt_interp
        for i in range(phnum)
    )


def check_packages(missing, packages):
    if missing:
        lines = ["  %s: %s" % (what, where) for what, where in missing]
        raise Unavailable(
            "the Linux guest needs what is missing here:\n%s\nDebian has all it needs:\n"
            "  apt-get install %s" % ("\n".join(lines), " ".join(packages))
        )


def ensure_built(cache=None, source=DEFAULT_SOURCE, jobs=None, rebuild=False):
    """The cached guest for the current inputs, built first when missing (or when `rebuild`)."""
    root = cache_root(cache)
    if not rebuild:
        found = find_built(cache, source)
        if found:
            return found
    check_packages(missing_build_packages(source), BUILD_PACKAGES + RUN_PACKAGES)
    with locked(os.path.join(root, "lock")):
        inputs = Inputs(source)
        # Another process may have built it while this one waited for the lock.
        found = find_built(cache, inputs=inputs)
        if found and not rebuild:
            return found
        _remove_stale_builds(root)
        started = time.monotonic()
        work = tempfile.mkdtemp(prefix="building-", dir=root)
        try:
            out = os.path.join(work, "out")
            os.mkdir(out)
            jobs = jobs or len(os.sched_getaffinity(0))
            info = _build(work, out, root, inputs, jobs, reuse_kernel=not rebuild)
            info["build_seconds"] = round(time.monotonic() - started, 1)
            with open(os.path.join(out, INFO_NAME), "w") as f:
                json.dump(info, f, indent=2, sort_keys=True)
                f.write("\n")
            final = os.path.join(root, info["key"])
            if os.path.exists(final):  # --rebuild: the old entry goes only once the new is whole
                os.rename(final, os.path.join(work, "replaced"))
            os.rename(out, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log("built in %.0f s: %s" % (time.monotonic() - started, final))
        return Artifacts(final)


def _remove_stale_builds(root):
    # Under the lock no build runs, so a building-* folder is what a killed build left.
    for name in os.listdir(root):
        if name.startswith("building-"):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def _build(work, out, root, inputs, jobs, reuse_kernel=True):
    info = {
        "key": inputs.key(),
        "kernel_key": inputs.kernel_key(),
        "source": inputs.source,
        "source_version": inputs.source_version,
        "recipe": RECIPE,
    }
    reused = reuse_kernel and _reusable_kernel(root, info["kernel_key"])
    if reused:
        log("kernel: reusing %s (same config and source)" % reused)
        shutil.copyfile(os.path.join(reused, KERNEL_NAME), os.path.join(out, KERNEL_NAME))
        shutil.copyfile(os.path.join(reused, "config"), os.path.join(out, "config"))
        info["kernel_seconds"] = 0
    else:
        started = time.monotonic()
        _build_kernel(work, out, inputs, jobs)
        info["kernel_seconds"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    info["busybox"] = _build_initramfs(work, out, inputs)
    info["initramfs_seconds"] = round(time.monotonic() - started, 1)
    info["kernel_bytes"] = os.path.getsize(os.path.join(out, KERNEL_NAME))
    info["initramfs_bytes"] = os.path.getsize(os.path.join(out, INITRAMFS_NAME))
    return info


def _reusable_kernel(root, wanted):
    for name in sorted(os.listdir(root)):
        try:
            with open(os.path.join(root, name, INFO_NAME)) as f:
                if json.load(f).get("kernel_key") == wanted:
                    return os.path.join(root, name)
        except (OSError, ValueError):
            continue
    return None


def _run(step, cmd, cwd, logfile, env=None):
    started = time.monotonic()
    with open(logfile, "a") as f:
        f.write("\n$ %s\n" % " ".join(cmd))
        f.flush()
        result = subprocess.run(
            cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env, check=False
        )
    if result.returncode:
        kept = os.path.join(os.path.dirname(os.path.dirname(logfile)), "failed-build.log")
        shutil.copyfile(logfile, kept)
        with open(logfile) as f:
            tail = "".join(f.readlines()[-25:])
        raise BuildFailed(
            "%s failed (exit %d); the last lines of %s:\n%s"
            % (step, result.returncode, kept, tail)
        )
    log("%s: %.0f s" % (step, time.monotonic() - started))


def parse_config(text, name=KERNEL_FRAGMENT):
    """A config fragment or a whole .config: {"CONFIG_X": "y" | "n" | value}, "n" for
    "# CONFIG_X is not set"."""
    options = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("# CONFIG_") and line.endswith(" is not set"):
            options[line[2:].split()[0]] = "n"
        elif line.startswith("CONFIG_") and "=" in line:
            key, value = line.split("=", 1)
            options[key] = value
        elif line and not line.startswith("#"):
            raise BuildFailed("%s:%d: not a config line: %s" % (name, number, line))
    return options


def _build_kernel(work, out, inputs, jobs):
    tree = os.path.join(work, "linux")
    os.mkdir(tree)
    logfile = os.path.join(work, "build.log")
    source = inputs.source
    log("kernel: building from %s with %d jobs (4 to 9 minutes on 2 cores)" % (source, jobs))
    _run("extract", ["tar", "-xf", source, "-C", tree, "--strip-components=1"], work, logfile)
    # The same inputs give the same image, whoever builds it and whenever.
    env = dict(os.environ, KBUILD_BUILD_USER="mctp", KBUILD_BUILD_HOST="linux-guest")
    env["KBUILD_BUILD_TIMESTAMP"] = "1970-01-01"
    make = ["make", "ARCH=x86_64"]
    _run("tinyconfig", [*make, "tinyconfig"], tree, logfile, env)
    wanted = parse_config(inputs.fragment.decode())
    args = []
    for name in (*wanted, *REQUIRED_OPTIONS):
        value = wanted.get(name, "y")
        option = name[len("CONFIG_") :]
        if value == "y":
            args += ["--enable", option]
        elif value == "n":
            args += ["--disable", option]
        else:
            args += ["--set-val", option, value]
    _run("scripts/config", ["scripts/config", *args], tree, logfile)
    _run("olddefconfig", [*make, "olddefconfig"], tree, logfile, env)
    with open(os.path.join(tree, ".config")) as f:
        config = parse_config(f.read(), ".config")
    lost = [
        "%s=%s (after olddefconfig: %s)" % (name, value, config.get(name, "absent"))
        for name, value in sorted({**dict.fromkeys(REQUIRED_OPTIONS, "y"), **wanted}.items())
        if config.get(name, "n") != value
    ]
    if lost:
        raise BuildFailed(
            "olddefconfig dropped what kernel.config asks for (a dependency is off; "
            "add it to tools/ci/linux_guest/kernel.config):\n  " + "\n  ".join(lost)
        )
    _run("make bzImage", [*make, "-j%d" % jobs, "bzImage"], tree, logfile, env)
    shutil.copyfile(os.path.join(tree, "arch/x86/boot/bzImage"), os.path.join(out, KERNEL_NAME))
    shutil.copyfile(os.path.join(tree, ".config"), os.path.join(out, "config"))
    shutil.rmtree(tree)  # 1.5 GB of sources and objects: only the image is kept


def _build_initramfs(work, out, inputs):
    """/init, busybox and mctp_guest, as a gzipped newc cpio; busybox's first line, for the record.
    The archive is written here rather than by cpio(1): every file is owned by root and dated
    1970 without root or fakeroot, and /dev/console needs no mknod."""
    guest = os.path.join(work, "mctp_guest")
    with open(guest + ".c", "wb") as f:
        f.write(inputs.guest_source)
    _run(
        "gcc mctp_guest",
        ["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", guest, guest + ".c"],
        work,
        os.path.join(work, "build.log"),
    )
    busybox = subprocess.run([BUSYBOX], capture_output=True, text=True, check=False).stdout
    directory = stat.S_IFDIR | 0o755
    entries = [(name, directory, b"") for name in ("bin", "dev", "proc", "sys", "tmp", "root")]
    entries += [
        # The kernel opens /dev/console for /init's stdin, stdout and stderr before /init runs.
        ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)),
        ("bin/busybox", stat.S_IFREG | 0o755, _read(BUSYBOX)),
        ("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
        ("init", stat.S_IFREG | 0o755, inputs.init_script),
        ("mctp_guest", stat.S_IFREG | 0o755, _read(guest)),
    ]
    with open(os.path.join(out, INITRAMFS_NAME), "wb") as f:
        f.write(gzip.compress(newc_archive(entries), mtime=0))
    return busybox.splitlines()[0] if busybox else "?"


# The static MicroPython unix binary the guest runs our package with (tools/ci/linux_guest/run.py
# puts it in the initramfs beside the package, so a change to either needs no guest rebuild).
# Bump when the recipe changes what it builds.
MICROPYTHON_RECIPE = (
    "1: unix VARIANT=standard MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 "
    "MICROPY_SSL_AXTLS=0 LDFLAGS_EXTRA=-static"
)
MICROPYTHON_NAME = "micropython"


def default_micropython_dir():
    """$MICROPY_DIR, else ../shared/micropython beside the clone (where the build steps look)."""
    if os.environ.get("MICROPY_DIR"):
        return os.path.abspath(os.environ["MICROPY_DIR"])
    clone = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
    return os.path.join(os.path.dirname(clone), "shared", "micropython")


def ensure_micropython(source=None, cache=None):
    """The path of a static MicroPython unix binary built from the tree `source` (default
    default_micropython_dir()), built once into the cache (about 30 s); Unavailable when the
    tree or gcc's static libc is missing."""
    source = source or default_micropython_dir()
    if not os.path.exists(os.path.join(source, "ports", "unix", "Makefile")):
        raise Unavailable(
            "no MicroPython tree with ports/unix at %s (set MICROPY_DIR to a MicroPython "
            "checkout)" % source
        )
    sys.path.insert(0, os.path.dirname(HERE))  # tools/ci/, for baremetal's tree digest
    from baremetal import tree_digest  # noqa: PLC0415

    key = _digest(MICROPYTHON_RECIPE.encode(), tree_digest(source).encode())
    root = cache_root(cache)
    binary = os.path.join(root, "micropython-" + key, MICROPYTHON_NAME)
    if os.path.exists(binary):
        return binary
    check_packages(
        [m for m in missing_build_packages(DEFAULT_SOURCE) if "libc" in m[0]],
        ("gcc", "libc6-dev", "make"),
    )
    os.makedirs(root, exist_ok=True)
    with locked(os.path.join(root, "lock")):
        if os.path.exists(binary):
            return binary
        started = time.monotonic()
        work = tempfile.mkdtemp(prefix="building-", dir=root)
        try:
            tree = os.path.join(work, "micropython")
            shutil.copytree(source, tree, ignore=shutil.ignore_patterns("build", "build-*"))
            logfile = os.path.join(work, "build.log")
            log("micropython: building a static unix binary from %s" % source)
            _run("mpy-cross", ["make", "-C", "mpy-cross", "-j2"], tree, logfile)
            unix = ["make", "-C", "ports/unix", "-j2", *MICROPYTHON_RECIPE.split()[2:]]
            _run("micropython unix", unix, tree, logfile)
            built = os.path.join(tree, "ports", "unix", "build-standard", MICROPYTHON_NAME)
            if not _is_static(built):
                raise BuildFailed("%s is not a static binary" % built)
            os.mkdir(os.path.join(work, "out"))
            shutil.copyfile(built, os.path.join(work, "out", MICROPYTHON_NAME))
            os.chmod(os.path.join(work, "out", MICROPYTHON_NAME), 0o755)
            os.rename(os.path.join(work, "out"), os.path.dirname(binary))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log("micropython: built in %.0f s: %s" % (time.monotonic() - started, binary))
    return binary


def newc_archive(entries):
    """A cpio archive in the "newc" format the kernel unpacks (Documentation/driver-api/
    early-userspace/buffer-format.rst): (name, mode, data[, (rdev major, minor)]) each."""
    parts = []
    for number, entry in enumerate([*entries, ("TRAILER!!!", 0, b"")], 1):
        name, mode, data = entry[:3]
        rdev = entry[3] if len(entry) > 3 else (0, 0)
        encoded = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = (number, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        parts += [header, encoded, _pad(len(header) + len(encoded)), data, _pad(len(data))]
    return b"".join(parts)


def _pad(length):
    return b"\0" * (-length % 4)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Build (once; then cached) the Linux guest for the serial binding's tests."
    )
    parser.add_argument(
        "--cache",
        help="cache folder (default: $MCTP_LINUX_CACHE or "
        "${XDG_CACHE_HOME:-~/.cache}/mctp-linux-guest)",
    )
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="kernel source tarball")
    parser.add_argument("--jobs", type=int, help="make -j (default: the CPUs this may use)")
    parser.add_argument("--rebuild", action="store_true", help="build all, even when cached")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        artifacts = ensure_built(args.cache, args.source, args.jobs, args.rebuild)
    except (Unavailable, BuildFailed) as e:
        print("linux guest: error: %s" % e, file=sys.stderr)
        return 1
    try:
        micropython = ensure_micropython(cache=args.cache)
    except (Unavailable, BuildFailed) as e:
        # Only the tests that run our package in the guest need it: they say so themselves.
        print("linux guest: no static MicroPython for the guest: %s" % e, file=sys.stderr)
        micropython = None
    info = artifacts.info
    print(
        "linux guest: %s (built in %.0f s; this run took %.1f s)"
        % (artifacts.directory, info["build_seconds"], time.monotonic() - started)
    )
    print("  kernel    %s (%d bytes)" % (artifacts.kernel, info["kernel_bytes"]))
    print("  initramfs %s (%d bytes)" % (artifacts.initramfs, info["initramfs_bytes"]))
    if micropython:
        print("  micropython %s (%d bytes)" % (micropython, os.path.getsize(micropython)))
    if not shutil.which("qemu-system-x86_64"):
        print("linux guest: to run it: apt-get install %s" % " ".join(RUN_PACKAGES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
