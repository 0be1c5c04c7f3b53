# tools/run_endpoint.py as a user starts it: under the MicroPython unix port and under CPython,
# with its options, a ready line, and a clean exit with its counters on SIGINT (and SIGTERM on
# CPython). Starting processes needs CPython's subprocess: skipped on MicroPython.

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    import os
    import select
    import signal
    import subprocess
    import sys

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


def run(interpreter, *options):
    command = [interpreter, os.path.join(ROOT, "tools", "run_endpoint.py")]
    command.extend(options)  # not [..., *options]: MicroPython must still compile this file
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def ready_line(process):
    assert select.select([process.stdout], [], [], 10)[0], "no ready line"
    return process.stdout.readline()


def stop(process, signum):
    process.send_signal(signum)
    process.wait(5)
    output = process.stdout.read()
    process.stdout.close()
    return process.returncode, output


def test_micropython_endpoint_starts_with_its_options_and_stops_on_sigint():
    if IS_MICROPYTHON:
        skip("starts processes")
    process = run(MICROPYTHON, "--i2c-udp", "47250:47251", "--i2c-addr", "0x20", "--eid", "12")
    line = ready_line(process)
    assert (
        line.startswith("ready: I2C address 0x20, EID 12, UUID ") and "UDP 47250 -> 47251" in line
    )
    code, output = stop(process, signal.SIGINT)
    assert code == 0, output
    assert "EID 12" in output and "control requests=0" in output and "Traceback" not in output


def test_cpython_endpoint_stops_cleanly_on_sigterm_and_takes_a_uuid():
    if IS_MICROPYTHON:
        skip("starts processes")
    uuid = "00112233-4455-6677-8899-aabbccddeeff"
    process = run(sys.executable, "--i2c-udp", "47252:47253", "--uuid", uuid, "--mtu", "250")
    assert "EID 0, UUID " + uuid in ready_line(process)
    code, output = stop(process, signal.SIGTERM)
    assert code == 0, output
    assert "link too_short=0" in output and "Traceback" not in output


def test_bad_options_are_refused_with_the_usage():
    if IS_MICROPYTHON:
        skip("starts processes")
    for options in ((), ("--i2c-udp", "1:2", "--colour", "red"), ("--i2c-udp",)):
        process = run(MICROPYTHON, *options)
        code = process.wait(10)
        output = process.stdout.read()
        process.stdout.close()
        assert code != 0 and "usage: run_endpoint.py" in output, output
