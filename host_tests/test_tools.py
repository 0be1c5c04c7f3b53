# The command lines of the host tools (tools/cli.py): --help, frames from standard input, and
# one usage error with exit status 2 for anything wrong, never a traceback. Starting processes
# needs CPython; the tools themselves run under the interpreter named.

from testing import IS_MICROPYTHON, skip

if not IS_MICROPYTHON:
    import os
    import subprocess
    import sys

    TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
    MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")

GET_EID = "3A 0F 08 21 01 00 08 C8 00 80 02 56"


def _cpython_only():
    if IS_MICROPYTHON:
        skip("starts processes")


def _run(interpreter, tool, *args, stdin=""):
    return subprocess.run(
        [interpreter, os.path.join(TOOLS, tool)] + list(args),  # noqa: RUF005 (MicroPython)
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_mctp_trace_reads_arguments_or_standard_input_on_both_interpreters():
    _cpython_only()
    for interpreter in (sys.executable, MICROPYTHON):
        by_argument = _run(interpreter, "mctp_trace.py", GET_EID)
        by_stdin = _run(interpreter, "mctp_trace.py", stdin=GET_EID.replace(" ", "") + "\n\n")
        assert by_argument.returncode == 0 and by_stdin.returncode == 0, by_argument.stderr
        assert "control Get Endpoint ID request iid 0" in by_argument.stdout
        assert by_stdin.stdout == by_argument.stdout


def test_bad_command_lines_are_one_usage_error_with_status_2():
    cases = (
        ("mctp_trace.py", ("zz",), "error: not a frame in hex: 'zz'"),
        ("mctp_trace.py", ("--colour",), "error: unknown option --colour"),
        ("mctp_trace.py", ("--write-pcap", "out.pcap"), "error: --write-pcap goes with --capture"),
        ("fuzz.py", ("--mode", "x"), "error: --mode: udp, inproc, ipc or all, not 'x'"),
        ("fuzz.py", ("--frames", "-3"), "error: --frames: -3 is not within 1.."),
        ("run_demo.py", ("--bogus",), "error: unknown option --bogus"),
        ("spdm_provision.py", (), "error: give one OUTDIR (the folder to write into), not 0"),
        ("spdm_provision.py", ("a", "--days", "0"), "error: --days: 0 is not within 1..36500"),
    )
    _cpython_only()
    for tool, args, error in cases:
        result = _run(sys.executable, tool, *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (tool, args, result.stderr)
        assert lines[0].startswith("usage: " + tool), lines
        assert lines[1].startswith(error) and len(lines) == 2, lines


def test_help_works_for_every_tool_that_runs_on_micropython():
    _cpython_only()
    for tool in ("run_endpoint.py", "fuzz.py", "mctp_trace.py", "i2c_hub.py"):
        result = _run(MICROPYTHON, tool, "--help")
        assert result.returncode == 0 and result.stdout.startswith("usage: " + tool), result


def test_make_run_sets_up_and_uses_the_firmware_endpoint():
    # The README's first command, `make run`: tools/run_demo.py with the unix port.
    _cpython_only()
    result = _run(sys.executable, "run_demo.py", "--micropython", MICROPYTHON)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert result.stdout.rstrip().endswith("All exchanges answered correctly.")
    assert "Set Endpoint ID request" in result.stdout  # every frame on the bus is shown
