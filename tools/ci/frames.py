"""Which functions get a heap-allocated frame on MicroPython.

    python tools/ci/frames.py [module ...]     # default: every module of the mctp package

The VM keeps a bytecode function's state on the C stack when N_STATE + 3 * N_EXC_STACK <= 11
words (VM_MAX_STATE_ON_STACK in py/objfun.c; measured on the unix port with mem_total), and
allocates it on the heap on every call otherwise. N_STATE counts arguments, locals and the
deepest value stack; a `for` loop takes 4 slots, a `try` 3 more. Packet-path functions must
stay within the limit, or a message costs garbage even though heap_lock tests pass (under the
lock the VM falls back to the C stack).

The numbers come from the MicroPython unix port itself (`micropython -v -v` prints them for
every function it compiles).
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK_WORDS = 11
EXC_WORDS = 3
_BLOCK = re.compile(r"^File (.+), code block '([^']+)'")
_STATE = re.compile(r"^\(N_STATE (\d+)\)")
_EXC = re.compile(r"^\(N_EXC_STACK (\d+)\)")

# The unix port is found as the user tools find it (tools/endpoint_process.py).
sys.path.insert(0, os.path.join(ROOT, "tools"))
from endpoint_process import micropython_command  # noqa: E402


def package_modules():
    """Every module of the mctp package, its subpackages' included (not the __init__ files,
    which only import)."""
    names = []
    for dirpath, dirnames, files in os.walk(os.path.join(ROOT, "mctp")):
        dirnames.sort()
        package = os.path.relpath(dirpath, ROOT).replace(os.sep, ".")
        for name in sorted(files):
            if name.endswith(".py") and name != "__init__.py":
                names.append(package + "." + name[:-3])
    return names


def frames(modules):
    """(file, name, n_state, n_exc) for every function the modules (of mctp/ or firmware/)
    define."""
    code = "import sys\nsys.path.insert(0, %r)\n" % ROOT
    code += "".join("import %s\n" % m for m in modules)
    result = subprocess.run(
        [micropython_command(), "-v", "-v", "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        # The interpreter's own complaint (a module MicroPython cannot import) is the last line.
        raise RuntimeError("micropython could not import the modules: " + result.stdout[-300:])
    out = result.stdout
    found = []
    current = None
    for line in out.splitlines():
        match = _BLOCK.match(line)
        if match:
            if current:
                found.append(tuple(current))
            path = (
                os.path.relpath(match.group(1), ROOT)
                if match.group(1)[0] == "/"
                else match.group(1)
            )
            current = [path.replace("\\", "/"), match.group(2), 0, 0]
            continue
        if current is None:
            continue
        match = _STATE.match(line)
        if match:
            current[2] = int(match.group(1))
        match = _EXC.match(line)
        if match:
            current[3] = int(match.group(1))
    if current:
        found.append(tuple(current))
    ours = ("mctp/", "firmware/")
    return [f for f in found if f[0].startswith(ours) and f[1] != "<module>"]


def on_heap(n_state, n_exc):
    return n_state + EXC_WORDS * n_exc > STACK_WORDS


def main(argv):
    heap = 0
    for path, name, n_state, n_exc in frames(argv or package_modules()):
        flag = on_heap(n_state, n_exc)
        heap += flag
        print(
            "%-22s %-28s state %2d exc %d %s"
            % (path, name, n_state, n_exc, "HEAP" if flag else "")
        )
    print("functions with heap frames: %d" % heap)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
