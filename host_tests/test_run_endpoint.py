# tools/run_endpoint.py as a user starts it: under the MicroPython unix port and under CPython,
# with its options, a ready line, and a clean exit with its counters on SIGINT (and SIGTERM on
# CPython). Starting processes needs CPython's subprocess: skipped on MicroPython.

from testing import IS_MICROPYTHON, raises, skip

if not IS_MICROPYTHON:
    import os
    import signal
    import sys

    sys.path.insert(
        0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
    )
    from endpoint_process import EndpointFailed, EndpointProcess, micropython_command


def test_micropython_endpoint_starts_with_its_options_and_stops_on_sigint():
    if IS_MICROPYTHON:
        skip("starts processes")
    options = ["--i2c-udp", "47250:47251", "--i2c-addr", "0x20", "--eid", "12"]
    endpoint = EndpointProcess(micropython_command(), options)
    line = endpoint.ready
    assert (
        line.startswith("ready: I2C address 0x20, EID 12, UUID ") and "UDP 47250 -> 47251" in line
    )
    assert endpoint.stop(signal.SIGINT) == 0, endpoint.output
    output = endpoint.output
    assert "EID 12" in output and "control requests=0" in output and "Traceback" not in output


def test_cpython_endpoint_stops_cleanly_on_sigterm_and_takes_a_uuid():
    if IS_MICROPYTHON:
        skip("starts processes")
    uuid = "00112233-4455-6677-8899-aabbccddeeff"
    options = ["--i2c-udp", "47252:47253", "--uuid", uuid, "--mtu", "250"]
    endpoint = EndpointProcess(sys.executable, options)
    assert "EID 0, UUID " + uuid in endpoint.ready
    assert endpoint.stop(signal.SIGTERM) == 0, endpoint.output
    output = endpoint.output
    assert "link too_short=0" in output and "Traceback" not in output


def test_bad_options_are_refused_with_the_usage():
    if IS_MICROPYTHON:
        skip("starts processes")
    for options in ((), ("--i2c-udp", "1:2", "--colour", "red"), ("--i2c-udp",)):
        with raises(EndpointFailed) as caught:
            EndpointProcess(micropython_command(), options)
        failure = caught.value
        assert failure.returncode != 0 and "usage: run_endpoint.py" in failure.output, failure
