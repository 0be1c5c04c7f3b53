# A slice of the fuzzer (tools/fuzz.py) in every test run, with a fixed seed, so a regression
# is found here; `make fuzz` runs 100,000 frames per interpreter. In process on both
# interpreters; over the UDP bus into run_endpoint.py under both (CPython drives that part).

import sys

from testing import IS_MICROPYTHON, skip

_TOOLS = (__file__.rpartition("/")[0] or ".") + "/../tools"
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)

import fuzz  # noqa: E402

SEED = 20261130
EXPECTED_CHECKSUM = 10432553  # of the first 300 items from seed 7


def test_frames_requests_and_decoders_in_process():
    assert fuzz.run("inproc", SEED, 3000, 250) == 0


def test_frames_over_udp_into_the_endpoint_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    assert fuzz.run("udp", SEED, 2000, 250, "both") == 0


def test_the_same_seed_gives_the_same_frames():
    first = fuzz.FrameSource(fuzz.Rng(7), with_bus_events=True).batch(300)
    again = fuzz.FrameSource(fuzz.Rng(7), with_bus_events=True).batch(300)
    other = fuzz.FrameSource(fuzz.Rng(8), with_bus_events=True).batch(300)
    assert first == again and first != other
    # A checksum of the stream, the same on CPython and MicroPython.
    total = 0
    for item in first:
        for byte in item if not isinstance(item, str) else item.encode():
            total = (total * 31 + byte) & 0xFFFFFF
    assert total == EXPECTED_CHECKSUM
