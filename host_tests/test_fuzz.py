# A slice of the fuzzer (tools/fuzz.py) in every test run, with a fixed seed, so a regression
# is found here; `make fuzz` runs 100,000 frames per interpreter. In process on both
# interpreters; over the UDP bus and over the IPC stream into run_endpoint.py under both
# (CPython drives those parts), the IPC run with one abuse of the service after each batch (a
# connection flood, its descriptors exhausted, a client that never reads).

import sys

from testing import IS_MICROPYTHON, skip

_TOOLS = (__file__.rpartition("/")[0] or ".") + "/../tools"
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)

import fuzz  # noqa: E402

SEED = 20261130
EXPECTED_CHECKSUM = 10432553  # of the first 300 items from seed 7


def test_frames_requests_and_decoders_in_process():
    # Each job called from here, not through fuzz.run: its health checks run the endpoint on
    # top of the bus owner's waits, and the emulated Cortex-M0 has a Pico's 8 KiB of C stack.
    here = "micropython" if IS_MICROPYTHON else "python"
    for name, job, args in (
        ("inproc", fuzz.fuzz_inprocess, (SEED, 3000, 250)),
        ("dispatch", fuzz.fuzz_dispatch, (SEED, 750)),
        ("decoders", fuzz.fuzz_decoders, (SEED, 750)),
    ):
        figures = fuzz.Figures("fuzz_%s_%s" % (here, name))
        job(*args, figures)
        figures.report()
        assert figures.failures == []


def test_frames_over_udp_into_the_endpoint_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    assert fuzz.run("udp", SEED, 2000, 250, "both") == 0


def test_the_ipc_stream_of_the_endpoint_on_both_interpreters():
    if IS_MICROPYTHON:
        skip("starts processes")
    assert fuzz.run("ipc", SEED, 1000, 250, "both") == 0


def _checksum(seed):
    # Of the first 300 items from `seed`, the same on CPython and MicroPython. One batch at a
    # time: three would not fit a 140 KB heap.
    total = 0
    for item in fuzz.FrameSource(fuzz.Rng(seed), with_bus_events=True).batch(300):
        for byte in item if not isinstance(item, str) else item.encode():
            total = (total * 31 + byte) & 0xFFFFFF
    return total


def test_the_same_seed_gives_the_same_frames():
    assert _checksum(7) == EXPECTED_CHECKSUM
    assert _checksum(7) == EXPECTED_CHECKSUM  # nothing but the seed decides
    assert _checksum(8) != EXPECTED_CHECKSUM
