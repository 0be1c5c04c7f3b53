# What a user does with mpremote, against the MicroPython unix port reached through a pty as
# mpremote reaches a board's USB serial port (socat joins the two ends): `mpremote mip install`
# of a part's .json, then the part imported there; and the REPL guide's recipe, line for line,
# on a stand-in machine module whose I2C is the UDP bus. CPython drives it; socat comes from
# Debian (.ci/run installs it).

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    import json
    import os
    import shlex
    import shutil
    import subprocess
    import sys
    import tempfile
    import time

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class UnixPortOnPty:
    """The MicroPython unix port's REPL on a pty at `self.path`, in a fresh folder."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="mctp-mip-")
        self.path = os.path.join(self.folder, "pty")
        micropython = os.path.join(os.path.dirname(sys.executable), "micropython")
        # HOME is the folder too: mip's default target, $HOME/.micropython/lib, is then in it.
        self.socat = subprocess.Popen(
            [
                "socat",
                "PTY,link=%s,raw,echo=0" % self.path,
                "EXEC:%s -i,pty,raw,echo=0" % micropython,
            ],
            cwd=self.folder,
            env=dict(os.environ, HOME=self.folder),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path):
            if time.monotonic() > deadline:
                raise RuntimeError("socat made no pty")
            time.sleep(0.05)

    def mpremote(self, *args):
        # resume: no soft reset, which ends the unix port rather than restarting it.
        mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
        return subprocess.run(
            # (No * in a list display: MicroPython compiles this module too.)
            [mpremote, "connect", self.path, "resume"] + list(args),  # noqa: RUF005
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def close(self):
        self.socat.terminate()
        self.socat.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def needs_socat():
    if IS_MICROPYTHON:
        skip("drives mpremote and socat from CPython")
    if shutil.which("socat") is None:
        # CI installs it (.ci/run): there, its absence is a failure, not a reason to skip.
        assert not os.environ.get("CI"), "socat is not installed"
        skip("socat is not installed (Debian: apt-get install socat)")


def test_mip_installs_exactly_what_the_endpoint_part_lists_and_it_imports():
    needs_socat()
    with open(os.path.join(ROOT, "mctp-endpoint.json")) as f:
        listed = sorted(target for target, _ in json.load(f)["urls"])
    assert "firmware/endpoint.py" in listed
    assert not [t for t in listed if t.startswith("mctp/host/")]  # no host bus on a board
    port = UnixPortOnPty()
    try:
        lib = os.path.join(port.folder, "lib")
        result = port.mpremote("mip", "install", "--target", lib, ROOT + "/mctp-endpoint.json")
        assert result.returncode == 0, result.stdout + result.stderr
        installed = sorted(
            os.path.relpath(os.path.join(dirpath, name), lib)
            for dirpath, _, names in os.walk(lib)
            for name in names
        )
        assert installed == listed
        code = "import sys; sys.path.insert(0, %r); import firmware.endpoint, mctp; print('ok')"
        result = port.mpremote("exec", code % lib)
        assert result.stdout.strip() == "ok", result.stdout + result.stderr
    finally:
        port.close()


def _mip_commands(path):
    # The commands of the marked block for stock firmware in the file at `path`.
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    block = text.split("<!-- run by host_tests/test_mip.py -->")[1]
    block = block[block.index("```sh\n") + len("```sh\n") : block.index("```", 10)]
    return [line.partition("#")[0].strip() for line in block.strip().splitlines()]


def test_the_readme_mip_recipe_runs_as_written_up_to_the_missing_i2c_target():
    # The three commands for stock firmware (the README's and the board guide's, the same),
    # each through mpremote to the unix port: the part installs where mip puts libraries, the
    # board configuration is copied, and the firmware starts and stops where a board would
    # begin: the unix port has no I2CTarget.
    needs_socat()
    commands = _mip_commands("README.md")
    assert _mip_commands("docs/on-a-board.md") == commands
    assert [c.split()[:2] for c in commands] == [
        ["mpremote", "mip"],
        ["mpremote", "cp"],
        ["mpremote", "exec"],
    ]
    port = UnixPortOnPty()
    try:
        results = []
        for command in commands:
            args = shlex.split(command)[1:]  # mpremote's own arguments
            results.append(subprocess_in_root(port, args))
        installed, copied, started = results
        assert installed.returncode == 0, installed.stdout + installed.stderr
        lib = os.path.join(port.folder, ".micropython", "lib")
        assert os.path.exists(os.path.join(lib, "firmware", "board.py"))
        assert copied.returncode == 0 and os.path.exists(
            os.path.join(port.folder, "board_config.py")
        )
        out = started.stdout + started.stderr
        assert "has no machine.I2CTarget" in out, out
    finally:
        port.close()


def subprocess_in_root(port, args):
    # mpremote with the README's relative paths, as a user runs it from a checkout.
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return port.mpremote(*args)
    finally:
        os.chdir(cwd)


# A machine module for the unix port, as the REPL recipe's board would have it: the I2C
# controller and target on the UDP I2C bus (the controller connected to the peer later).
STAND_IN_MACHINE = """
import sys
sys.path.insert(0, %r)
from mctp.host.i2c_udp import UdpI2C, UdpI2CTarget


class Pin:
    OUT = 1

    def __init__(self, name, mode=None):
        self.name = name

    def toggle(self):
        pass


class StandIn:
    Pin = Pin

    def I2C(self, bus_id, freq=400_000, sda=None, scl=None):
        self.i2c = UdpI2C()
        return self.i2c

    def I2CTarget(self, bus_id, addr, mem=None, mem_addrsize=8, sda=None, scl=None):
        self.target = UdpI2CTarget(addr, 0, mem=mem)
        return self.target

    def unique_id(self):
        return bytes(range(8))


stand_in = StandIn()
sys.modules["machine"] = stand_in
"""


def _repl_recipe():
    # The REPL guide's recipe as code, split after the endpoint is built.
    with open(os.path.join(ROOT, "docs", "repl.md")) as f:
        text = f.read()
    block = text.split("<!-- run by host_tests/test_mip.py")[1].split("```python\n")[1]
    block = block.split("```")[0]
    lines = [line[4:] for line in block.splitlines() if line[:4] in (">>> ", "... ")]
    built = next(i for i, line in enumerate(lines) if "firmware.board.build()" in line) + 1
    return "\n".join(lines[:built]), "\n".join(lines[built:])


def test_the_repl_guide_recipe_in_a_real_mpremote_session():
    # The endpoint at 0x1D is built by firmware.board.build() on a stand-in machine module on
    # the UDP bus, and asks another endpoint (the firmware, EID 0x20 at 0x30, in its own
    # process) through the recipe's requests.
    needs_socat()
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        from endpoint_process import EndpointProcess  # noqa: PLC0415
    finally:
        sys.path.pop(0)
    build, rest = _repl_recipe()
    port = UnixPortOnPty()
    peer = None
    try:
        result = port.mpremote("exec", STAND_IN_MACHINE % ROOT + build)
        assert result.returncode == 0, result.stdout + result.stderr
        ours = int(port.mpremote("exec", "print(stand_in.target.port)").stdout)
        micropython = os.path.join(os.path.dirname(sys.executable), "micropython")
        options = ["--i2c-udp", "0:%d" % ours, "--i2c-addr", "0x30", "--eid", "0x20"]
        peer = EndpointProcess(micropython, options)
        port.mpremote("exec", "stand_in.i2c.connect(%d)" % peer.port)
        result = port.mpremote("exec", rest)
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert "EID 0" in out and "faults 0" in out  # app.show()
        assert "handle 0x" in out  # the services' listeners, among the open handles
        # The peer's GetTID answer: Rq clear, type 0, GetTID, SUCCESS, TID 1.
        assert "b'\\x00\\x00\\x02\\x00\\x01'" in out, out
    finally:
        if peer is not None:
            peer.stop()
        port.close()
