# The README's examples that run on a host, run as written on both interpreters: each fenced
# Python block after a "run by host_tests/test_readme.py" marker is executed, and what it
# prints is checked against the comments on its print lines.

from testing import skip

MARKER = "<!-- run by host_tests/test_readme.py -->"


def _readme_blocks():
    path = (__file__.rpartition("/")[0] or ".") + "/../README.md"
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        skip("no README.md beside the tests (a board)")
    blocks = []
    for part in text.split(MARKER)[1:]:
        start = part.index("```python\n") + len("```python\n")
        blocks.append(part[start : part.index("```", start)])
    return blocks


def _run(block):
    printed = []

    def capture(*args):
        printed.append(" ".join(str(a) for a in args))

    exec(block, {"print": capture, "__name__": "readme"})
    return printed


def test_the_readme_examples_run_as_written():
    blocks = _readme_blocks()
    assert len(blocks) == 4
    endpoint, two_stacks, udp, control = blocks
    assert _run(endpoint)[0].startswith("short=0 ")  # the core's counters
    assert _run(two_stacks) == [str(b"\xff\xffhello")]
    (line,) = _run(udp)
    assert line.startswith("listening on UDP port ") and int(line.split()[-1]) > 0
    peer, base, pldm, counters = _run(control)
    assert peer.startswith("Peer(eid=10, addr=0x1d, msg_types=[0], vdm=[], uuid=")
    assert (base, pldm) == ("[(1, 3, 1, 0)]", "[(1, 2, 0, 0)]")
    assert counters.startswith("requests=6 responses=6 ")
