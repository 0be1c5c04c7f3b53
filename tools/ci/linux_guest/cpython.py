"""Puts the host's CPython into the Linux guest (run.py), so that our package's CPython path
(mctp.linux, which reaches libc through ctypes) runs against the kernel's AF_MCTP sockets as
its MicroPython path does:

    files = guest_files(package_root, {"app/checks.py": checks})
    files.update(cpython_files())  # the interpreter, its libraries, the stdlib it needs
    files["app/run*"] = cpython_run_script("/app/checks.py")
    with Guest(run="app", files=files) as guest: ...

Each file goes to its absolute path on the host (the guest has no /usr, /lib or /lib64 of
its own), a symbolic link's target stored under the link's name:

- the interpreter, the dynamic loader, and every shared library ldd names for the
  interpreter and the extension modules used (libc, libm, libz, libexpat; libffi for
  _ctypes), which the loader finds in its built-in search path (/lib/x86_64-linux-gnu on
  Debian), the guest having no /etc/ld.so.cache;
- the standard library modules the interpreter itself imports for a representative run,
  found by running it (-I -S, in the guest's environment: no locale) over PROBE, which
  imports sys, os, errno, socket, select, struct, ctypes and time, our package and
  mctp.linux, builds and parses MCTP addresses, makes a SocketClient (which fails on a host
  without AF_MCTP), makes libc's sendto fail, and formats an exception's traceback as
  mctp._compat does: every module then in sys.modules whose code is a file of the standard
  library is taken (traceback's imports among them, for a check that fails). The modules
  start-up needs most are frozen into the binary (abc, codecs, io, os, stat, posixpath):
  of them only os.py is copied, the landmark by which the interpreter finds its prefix;
- of encodings/ (2.5 MB, 120 codecs), the package, its aliases and what start-up or a C
  locale may pick: utf_8, ascii, latin_1.

For Debian 12's python3.11: 83 files, 11.8 MB (the interpreter 6.8 MB, the loader and libraries
3.4 MB, the standard library 1.5 MB in 64 files, our package's .pyc 0.1 MB), where
/usr/lib/python3.11 alone is 54 MB; the initrd grows from 3.5 MB to 15.4 MB. Each module comes
with its .pyc, compiled by the interpreter itself as a checked hash-based .pyc (PEP 552): the
initramfs dates every file 1970, which makes a timestamp-based .pyc stale, and compiling under
QEMU's emulation costs a quarter of a second for our package alone. The package's own modules
that the run imports get one too, under `package_dir` (where guest_files() puts the package),
checked against their source like the rest.

cpython_run_script() runs the interpreter with -S (no site module, no site-packages: nothing
of ours is there) and -u (each line reaches the console as it is printed, a "ready" line
among them); its prefix is the default, /usr, found by os.py. It sets PYTHONHASHSEED=0 (the
guest's environment has no other PYTHON* variable): with a random seed the interpreter's
start waits until the kernel has gathered entropy, which a guest without a hardware RNG does
by timer jitter, slowly under emulation (the wait measured 1.4 to 2.5 s). hash_seed=None:
isolated (-I), and that wait.

    python3 tools/ci/linux_guest/cpython.py [--python /usr/bin/python3.11]   # files, sizes
"""

import argparse
import base64
import json
import os
import subprocess
import sys

try:
    from . import build as guest_build
except ImportError:  # run as a script: this folder is on sys.path
    import build as guest_build

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))  # the clone: mctp/
DEFAULT_PYTHON = "/usr/bin/python3.11"
PROBE_FLAGS = ("-I", "-S")
# The environment /init gives the guest's programs (no locale), for the probe.
GUEST_ENVIRONMENT = {"HOME": "/", "TERM": "linux"}
# What start-up may need beyond what the probe shows: the codecs of a C locale.
STARTUP_MODULES = ("encodings", "encodings.aliases", "encodings.utf_8", "encodings.ascii")
STARTUP_MODULES += ("encodings.latin_1",)
LANDMARK = "os.py"  # in the standard library's folder: how the interpreter finds its prefix

Unavailable = guest_build.Unavailable

# Run by the interpreter being copied: argv[1] the package root, argv[2] more modules to
# import (separated by spaces). Prints JSON: the standard library's folder, and for each
# module the run imported (the probe's own imports after it do not count) its file and, for
# a source file, its .pyc's path and bytes (base64). The run's errors are expected: the host
# has no AF_MCTP.
PROBE = r"""
import sys, os, errno, socket, select, struct, ctypes, time
sys.path.insert(0, sys.argv[1])
import mctp, mctp.linux
from mctp import MctpError, Stack
from mctp._compat import format_exception
from mctp.linux import SocketClient, sockets
sockets.parse_sockaddr((sockets.AF_MCTP, sockets.sockaddr(0, 8, 0x7E, 8)[2:]))
try:
    with SocketClient() as client:
        Stack(client)
except (OSError, MctpError) as e:
    format_exception(e)
closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
closed.close()
try:
    sockets.sendto(closed, b"", sockets.sockaddr(0, 8, 0x7E, 8))  # EBADF, from libc
except OSError as e:
    format_exception(e)
for name in sys.argv[2].split():
    __import__(name)
loaded = [getattr(module, "__spec__", None) for module in list(sys.modules.values())]
import base64, importlib.util, json, marshal
header = importlib.util.MAGIC_NUMBER + (3).to_bytes(4, "little")  # hash-based, checked
found = {}
for spec in loaded:
    origin = getattr(spec, "origin", None)
    if not origin or not os.path.isfile(origin) or origin in found:
        continue
    pyc = None
    if origin.endswith(".py"):
        with open(origin, "rb") as f:
            source = f.read()
        code = compile(source, origin, "exec", dont_inherit=True)
        pyc = header + importlib.util.source_hash(source) + marshal.dumps(code)
        pyc = [importlib.util.cache_from_source(origin), base64.b64encode(pyc).decode()]
    found[origin] = pyc
print(json.dumps({"stdlib": sys._stdlib_dir, "files": found}))
"""


def probe(python=DEFAULT_PYTHON, modules=(), package_root=PACKAGE_ROOT):
    """What `python` imports for PROBE's run: {"stdlib": its folder, "files": {file: None or
    [its .pyc's path, the .pyc in base64]}}."""
    if not os.path.exists(python):
        raise Unavailable("no %s on this host" % python)
    command = [python, *PROBE_FLAGS, "-c", PROBE, package_root, " ".join(modules)]
    done = subprocess.run(
        command, check=False, capture_output=True, env=GUEST_ENVIRONMENT, cwd="/"
    )
    if done.returncode:
        raise RuntimeError("%s failed the probe:\n%s" % (python, done.stderr.decode()))
    return json.loads(done.stdout)


def shared_libraries(path):
    """The shared libraries `path` loads, the dynamic loader among them, each at the path
    the loader finds it (ldd's answer); [] for a static binary."""
    try:
        done = subprocess.run(["ldd", path], check=False, capture_output=True, text=True)
    except FileNotFoundError:
        raise Unavailable("ldd is missing: apt-get install libc-bin") from None
    if done.returncode:
        if "not a dynamic executable" in done.stdout + done.stderr:
            return []
        raise RuntimeError("ldd %s failed: %s" % (path, done.stderr.strip()))
    found = []
    for line in done.stdout.splitlines():
        words = line.split()
        if "=>" in words:  # libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)
            target = words[words.index("=>") + 1]
            if not target.startswith("/"):
                raise Unavailable("%s needs %s, which is not found" % (path, words[0]))
            found.append(target)
        elif words and words[0].startswith("/"):  # the loader; linux-vdso is the kernel's
            found.append(words[0])
    return found


def cpython_files(python=DEFAULT_PYTHON, modules=(), package_root=PACKAGE_ROOT, package_dir="app"):
    """{guest path: bytes} that run `python` in the guest (see the module's docstring): the
    interpreter, its loader and libraries, the standard library it needs, and .pyc files for
    the modules of `package_root` it imports, as guest_files() puts them in `package_dir`
    (None: none). `modules`: more modules a script imports. Unavailable when `python` or
    ldd is missing."""
    found = probe(python, (*STARTUP_MODULES, *modules), package_root)
    stdlib = os.path.realpath(found["stdlib"]) + os.sep
    package = os.path.realpath(package_root) + os.sep
    files = {}
    binaries = [python]
    landmark = os.path.join(found["stdlib"], LANDMARK)
    for path, pyc in sorted({landmark: None, **found["files"]}.items()):
        real = os.path.realpath(path)
        if real.startswith(stdlib):
            _add(files, path)
            if pyc is not None:
                files[pyc[0].lstrip("/")] = base64.b64decode(pyc[1])
            elif not path.endswith(".py"):
                binaries.append(path)
        elif real.startswith(package) and pyc is not None and package_dir is not None:
            # guest_files() copies the source; the .pyc goes beside it.
            relative = os.path.relpath(os.path.realpath(pyc[0]), package)
            files[os.path.join(package_dir, relative)] = base64.b64decode(pyc[1])
    for binary in binaries:
        for library in shared_libraries(binary):
            _add(files, library)
    _add(files, python)
    return files


def _add(files, path):
    # The real file's content under the path the loader (or the interpreter) looks for;
    # executable when the real file is.
    real = os.path.realpath(path)
    with open(real, "rb") as f:
        data = f.read()
    name = path.lstrip("/")
    files.pop(name, None)
    files.pop(name + "*", None)
    files[name + ("*" if os.stat(real).st_mode & 0o111 else "")] = data


def cpython_run_script(script, python=DEFAULT_PYTHON, hash_seed=0):
    """The bytes of an /app/run that runs `script` (the guest's path of a script, and its
    arguments as the shell reads them) with `python`
    (as cpython_files() copied it), its output unbuffered; `hash_seed`: PYTHONHASHSEED, or
    None for an isolated interpreter (-I) with a random seed, which waits for the kernel's
    entropy."""
    if hash_seed is None:
        lines = ["exec %s -I -S -u %s" % (python, script)]
    else:
        lines = ["export PYTHONHASHSEED=%d" % hash_seed]
        lines.append("exec %s -S -u %s" % (python, script))
    return ("#!/bin/sh\n" + "\n".join(lines) + "\n").encode()


def main(argv=None):
    parser = argparse.ArgumentParser(description="List the files cpython_files() makes.")
    parser.add_argument("--python", default=DEFAULT_PYTHON)
    parser.add_argument("--module", action="append", default=[], help="one more module")
    args = parser.parse_args(argv)
    try:
        files = cpython_files(args.python, args.module)
    except Unavailable as e:
        print("cpython: %s" % e, file=sys.stderr)
        return 1
    for name in sorted(files):
        print("%9d  /%s" % (len(files[name]), name))
    print("%d files, %d bytes" % (len(files), sum(len(data) for data in files.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
