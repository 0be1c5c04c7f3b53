# The parts as a user installs them: `mpremote mip install` of a part's .json into the
# MicroPython unix port, reached through a pty as mpremote reaches a board's USB serial port
# (socat joins the two ends), then the part imported there. CPython drives it; socat comes from
# Debian (.ci/run installs it).

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    import json
    import os
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
        self.socat = subprocess.Popen(
            [
                "socat",
                "PTY,link=%s,raw,echo=0" % self.path,
                "EXEC:%s -i,pty,raw,echo=0" % micropython,
            ],
            cwd=self.folder,
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
