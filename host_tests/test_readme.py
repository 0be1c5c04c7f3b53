# The examples of the README and the guides in docs/ that run on a host, run as written on both
# interpreters: each fenced Python block after a "run by host_tests/test_readme.py" marker is
# executed, and what it prints is checked against the comments on its print lines.

from testing import IS_MICROPYTHON, needs_socket, skip

MARKER = "<!-- run by host_tests/test_readme.py"
ROOT = (__file__.rpartition("/")[0] or ".") + "/.."  # (a board has no docs: the tests skip)


def _read(path):
    """The text of `path` (from the repository's root)."""
    try:
        with open(ROOT + "/" + path) as f:
            return f.read()
    except OSError:
        skip("no %s beside the tests (a board)" % path)


def _blocks(path, language="python"):
    """The marked blocks of `language` in `path`, in order."""
    fence = "```" + language + "\n"
    blocks = []
    for part in _read(path).split(MARKER)[1:]:
        start = part.index("```")
        if part.startswith(fence, start):
            start += len(fence)
            blocks.append(part[start : part.index("```", start)])
    return blocks


def _run(block, names=None):
    """Run `block` in `names` (a fresh namespace, or one shared with the blocks it continues);
    the lines it printed."""
    printed = []

    def capture(*args):
        printed.append(" ".join(str(a) for a in args))

    names = {"__name__": "readme"} if names is None else names
    names["print"] = capture
    exec(block, names)
    return printed


def test_the_readme_and_guide_examples_run_as_written():
    two_stacks, aio = _blocks("README.md")
    endpoint, api = _blocks("docs/api.md")
    i2c, udp = _blocks("docs/on-a-board.md")
    (control,) = _blocks("docs/control.md")
    assert _run(endpoint)[0].startswith("short=0 ")  # the core's counters
    names = {"__name__": "readme"}
    assert _run(two_stacks, names) == [str(b"\xff\xffhello")]
    tid = str(b"\x00\x02\x02\x00\x01")
    assert _run(api, names) == ["9 " + tid, "True"]
    assert _run(aio) == [str(b"\xff\xffhello")]
    if IS_MICROPYTHON:
        import asyncio  # noqa: PLC0415

        asyncio.new_event_loop()  # (MicroPython's loop keeps the example's tasks until then)
    assert "rx_frames=0 " in i2c_on_a_stand_in_board(i2c)[0]
    (line,) = _run(udp)
    assert line.startswith("listening on UDP port ") and int(line.split()[-1]) > 0
    peer, base, pldm, counters = _run(control)
    assert peer.startswith("Peer(eid=10, addr=0x1d, msg_types=[0], vdm=[], uuid=")
    assert (base, pldm) == ("[(1, 3, 1, 0)]", "[(1, 2, 0, 0)]")
    assert counters.startswith("requests=6 responses=6 ")


def i2c_on_a_stand_in_board(block):
    """What the board block prints, run with a stand-in `machine` on a simulated bus."""
    from mctp.host.i2c_sim import SimBus  # noqa: PLC0415
    from test_firmware_endpoint import FakeMachine, machine_module  # noqa: PLC0415

    with machine_module(FakeMachine(SimBus())):
        return _run(block)


def test_the_guides_shell_recipes_run_as_written():
    """The run_endpoint lines start, print their ready line and stop cleanly on SIGINT; the
    make lines name targets the Makefile has."""
    if IS_MICROPYTHON:
        skip("starts processes (CPython drives them)")
    needs_socket()
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    sys.path.insert(0, ROOT + "/tools")
    try:
        from endpoint_process import EndpointProcess  # noqa: PLC0415
    finally:
        sys.path.pop(0)

    (run_endpoint,) = _blocks("docs/host.md", "sh")
    (tests,) = _blocks("docs/testing.md", "sh")
    for line in run_endpoint.splitlines():
        words = line.partition("#")[0].split()
        assert words[1] == "tools/run_endpoint.py"
        with EndpointProcess(ROOT + "/" + words[0], words[2:]) as endpoint:
            assert endpoint.port > 0
        assert endpoint.process.returncode == 0, endpoint.output
        assert "rx_frames=" in endpoint.output
    for line in tests.splitlines():
        command, _, comment = line.partition("#")
        make = command.split()
        assert make[0] == "make"
        # The make targets exist (make test runs them all: this test is part of it).
        dry_run = ["make", "-n", "-C", ROOT] + make[1:]  # noqa: RUF005 (MicroPython compiles it)
        done = subprocess.run(dry_run, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr
        if comment.strip().startswith("or: .venv/bin/"):  # and the one-module forms run
            alternative = comment.strip()[len("or: ") :].split()
            if "baremetal.py" not in alternative[1]:  # (its images are built by make test)
                done = subprocess.run(
                    alternative, cwd=ROOT, capture_output=True, text=True, check=False
                )
                assert done.returncode == 0, done.stdout + done.stderr
                assert " passed" in done.stdout


def _links(text):
    """The targets of the text's Markdown links, `[words](target)`."""
    targets = []
    for part in text.split("](")[1:]:
        targets.append(part[: part.index(")")])
    return targets


def test_every_link_between_the_docs_resolves():
    _read("README.md")  # (skips on a board)
    import os  # noqa: PLC0415 (a board's port may have none)

    paths = ["README.md", "firmware/README.md", "boards/README.md"]
    paths.extend("docs/" + name for name in os.listdir(ROOT + "/docs") if name.endswith(".md"))
    unresolved = []
    for path in paths:
        folder = path.rpartition("/")[0]
        for target in _links(_read(path)):
            file = target.partition("#")[0]
            if not file or "://" in file:
                continue  # an anchor in the same file, or a web page
            try:
                os.stat(ROOT + "/" + (folder + "/" if folder else "") + file)
            except OSError:
                unresolved.append(path + ": " + target)
    assert unresolved == [], unresolved
